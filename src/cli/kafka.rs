//! The CLI's Kafka side: `publish kafka://…`, `watch kafka://…`, `kafka topics` and
//! `kafka groups`.

use std::process::ExitCode;

use crate::engine::collection::saved::SavedHeader;
use crate::engine::kafka::watch::KafkaWatch;
use crate::engine::kafka::{Acks, Compression, KafkaRequest, admin};

use super::args;
use super::out::outln;

/// Whether a URL names a Kafka broker (the scheme picks the transport of `publish`/`watch`).
pub fn is_kafka_url(url: &str) -> bool {
    url.trim().to_ascii_lowercase().starts_with("kafka://")
}

/// Refuses a URL whose scheme names no transport (`kafkas://`, `http://`), before the flags
/// are read as another transport's.
pub fn check_scheme(url: &str) -> anyhow::Result<()> {
    if let Some((scheme, _)) = url.trim().split_once("://")
        && !matches!(
            scheme.to_ascii_lowercase().as_str(),
            "amqp" | "amqps" | "nats" | "tls" | "kafka"
        )
    {
        anyhow::bail!(
            "unsupported scheme {scheme:?}: amqp:// (RabbitMQ), nats:// or tls:// (NATS), kafka:// (Kafka)"
        );
    }
    Ok(())
}

/// `publish kafka://… --topic T`.
pub fn publish(a: &args::PublishArgs) -> anyhow::Result<KafkaRequest> {
    if a.exchange.is_some() || a.routing_key.is_some() || a.subject.is_some() {
        anyhow::bail!(
            "a Kafka produce takes --topic (and --key), not --exchange/--routing-key/--subject"
        );
    }
    let Some(topic) = &a.topic else {
        anyhow::bail!("a Kafka produce needs --topic TOPIC");
    };
    if a.jetstream || a.msg_id.is_some() || a.reply_to.is_some() {
        anyhow::bail!(
            "--jetstream and --msg-id are NATS options, --reply-to is for NATS and AMQP; Kafka has no reply address (pass a header)"
        );
    }
    if a.props.any() || a.allow_unroutable {
        anyhow::bail!(
            "--content-type, --message-id, --correlation-id, --type, --app-id, --user-id, --expiration, --priority, --persistent and --allow-unroutable are AMQP options; for Kafka pass headers (--header correlation_id=…)"
        );
    }
    let mut req = KafkaRequest::produce(&a.url, topic, "", "");
    // `--key ""` sends an empty key; no --key, a null one.
    req.key = a.key.clone();
    req.partition = a.partition;
    req.acks = Acks::parse(&a.acks).map_err(anyhow::Error::msg)?;
    req.compression = Compression::parse(&a.compression).map_err(anyhow::Error::msg)?;
    req.count = a.count.max(1);
    req.timeout_ms = Some(a.timeout.as_millis() as u64);
    for h in &a.headers {
        let (k, v) = h
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("header {h:?} is not of the form key=value"))?;
        if k.trim().is_empty() {
            anyhow::bail!("header {h:?} has no name");
        }
        req.headers.push(SavedHeader::new(k.trim(), v.trim()));
    }
    req.set_body(super::read_body(&a.body)?);
    Ok(req)
}

/// `watch kafka://… --topic T`.
pub fn watch(a: &args::WatchArgs) -> anyhow::Result<KafkaWatch> {
    if a.queue.is_some() || a.exchange.is_some() || a.subject.is_some() || a.stream.is_some() {
        anyhow::bail!(
            "a Kafka watch takes --topic (with --group to consume as a group), not --queue/--exchange/--subject/--stream"
        );
    }
    if a.binding != "#" {
        anyhow::bail!(
            "--binding is for an AMQP tap; a Kafka watch reads --topic (all partitions, or --partition P)"
        );
    }
    if a.mode.is_some() || a.durable.is_some() || a.queue_group.is_some() {
        anyhow::bail!(
            "--mode, --durable and --queue-group are for AMQP and NATS: a Kafka watch taps --topic, or consumes it with --group G"
        );
    }
    let Some(topic) = &a.topic else {
        anyhow::bail!("a Kafka watch needs --topic TOPIC");
    };
    let mut w = KafkaWatch::tap(&a.url, topic);
    w.partition = a.partition;
    w.from = a.from.clone().unwrap_or_default();
    w.group = a.group.clone().unwrap_or_default();
    w.check()?;
    w.limit = a.count;
    Ok(w)
}

/// `kafka topics` and `kafka groups`.
pub async fn command(c: args::KafkaCommand, default_url: &str) -> anyhow::Result<ExitCode> {
    match c {
        args::KafkaCommand::Topics { url, json } => {
            let url = url.unwrap_or_else(|| default_url.to_string());
            let topics = admin::topics(&url).await?;
            if json {
                for t in &topics {
                    outln!("{}", serde_json::to_string(t)?)?;
                }
            } else if topics.is_empty() {
                outln!("no topics at {url}")?;
            } else {
                for t in &topics {
                    outln!(
                        "{}{}  {} partition{}, {} message{}",
                        t.topic,
                        if t.internal { " (internal)" } else { "" },
                        t.partitions.len(),
                        if t.partitions.len() == 1 { "" } else { "s" },
                        t.messages,
                        if t.messages == 1 { "" } else { "s" },
                    )?;
                    for p in &t.partitions {
                        outln!(
                            "  partition {:>3}  leader {:>3}  offsets {}..{}  {} message{}",
                            p.partition,
                            p.leader,
                            p.low,
                            p.high,
                            p.messages,
                            if p.messages == 1 { "" } else { "s" }
                        )?;
                    }
                }
            }
        }
        args::KafkaCommand::Groups { url, json } => {
            let url = url.unwrap_or_else(|| default_url.to_string());
            let groups = admin::groups(&url).await?;
            if json {
                for g in &groups {
                    outln!("{}", serde_json::to_string(g)?)?;
                }
            } else if groups.is_empty() {
                outln!("no consumer groups at {url}")?;
            } else {
                for g in &groups {
                    outln!(
                        "{}  {}  {} member{}  lag {}",
                        g.group,
                        if g.state.is_empty() { "-" } else { &g.state },
                        g.members.len(),
                        if g.members.len() == 1 { "" } else { "s" },
                        g.lag
                    )?;
                    for m in &g.members {
                        outln!("  member {m}")?;
                    }
                    for o in &g.offsets {
                        let committed = if o.committed < 0 {
                            "-".to_string()
                        } else {
                            o.committed.to_string()
                        };
                        outln!(
                            "  {}[{}]  committed {committed}  end {}  lag {}",
                            o.topic,
                            o.partition,
                            o.high,
                            o.lag
                        )?;
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
