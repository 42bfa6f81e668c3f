//! The CLI's NATS side: `send nats`, `publish nats://…`, `watch nats://…`, `load nats`,
//! `nats streams` and `nats kv`.

use std::process::ExitCode;

use crate::engine::collection::saved::SavedHeader;
use crate::engine::nats::streams;
use crate::engine::nats::watch::{NatsWatch, NatsWatchMode};
use crate::engine::nats::{NatsOp, NatsRequest};

use super::args::{self, ModeArg};
use super::out::outln;

/// Whether a URL names a NATS server (the scheme picks the transport of `publish`/`watch`).
pub fn is_nats_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("nats://") || lower.starts_with("tls://")
}

fn header_rows(lines: &[String]) -> anyhow::Result<Vec<SavedHeader>> {
    Ok(super::parse_headers(lines)?
        .into_iter()
        .map(|h| SavedHeader::new(h.name, h.value))
        .collect())
}

fn with_body(mut req: NatsRequest, body: Option<&str>) -> anyhow::Result<NatsRequest> {
    if let Some(spec) = body {
        req.set_body(super::read_body(spec)?);
    }
    Ok(req)
}

/// `send nats` / `load nats`.
pub fn request(a: &args::NatsSendArgs) -> anyhow::Result<NatsRequest> {
    let mut req = NatsRequest::request(&a.url, &a.subject, "");
    req.op = if a.publish {
        NatsOp::Publish
    } else {
        NatsOp::Request
    };
    req.jetstream = a.jetstream;
    req.headers = header_rows(&a.headers)?;
    req.timeout_ms = Some(a.timeout.as_millis() as u64);
    with_body(req, a.body.as_deref())
}

/// `publish nats://… --subject S`.
pub fn publish(a: &args::PublishArgs) -> anyhow::Result<NatsRequest> {
    if a.topic.is_some() {
        anyhow::bail!("--topic is for Kafka (a kafka:// URL); a NATS publish takes --subject");
    }
    if a.exchange.is_some() || a.routing_key.is_some() {
        anyhow::bail!("a NATS publish takes --subject, not --exchange/--routing-key");
    }
    let Some(subject) = &a.subject else {
        anyhow::bail!("a NATS publish needs --subject SUBJECT");
    };
    let mut req = NatsRequest::publish(&a.url, subject, "");
    req.jetstream = a.jetstream;
    req.msg_id = a.msg_id.clone().unwrap_or_default();
    req.reply_to = a.reply_to.clone().unwrap_or_default();
    req.count = a.count.max(1);
    req.timeout_ms = Some(a.timeout.as_millis() as u64);
    for h in &a.headers {
        let (k, v) = h
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("header {h:?} is not of the form key=value"))?;
        req.headers.push(SavedHeader::new(k.trim(), v.trim()));
    }
    if a.props.any() {
        anyhow::bail!(
            "--content-type, --message-id, --correlation-id, --type, --app-id, --user-id, --expiration, --priority and --persistent are AMQP properties; for NATS pass headers (--header Content-Type=application/json) and --msg-id with --jetstream"
        );
    }
    with_body(req, Some(&a.body))
}

/// `watch nats://…`.
pub fn watch(a: &args::WatchArgs) -> anyhow::Result<NatsWatch> {
    if a.queue.is_some() || a.exchange.is_some() {
        anyhow::bail!(
            "a NATS watch takes --subject (with --queue-group) or --stream, not --queue/--exchange"
        );
    }
    if a.topic.is_some() || a.group.is_some() || a.partition.is_some() {
        anyhow::bail!("--topic, --partition and --group are for Kafka (a kafka:// URL)");
    }
    if a.from.is_some() && a.stream.is_none() {
        anyhow::bail!("--from needs --stream: a subject tap sees what is published from now on");
    }
    let mut w = match (&a.stream, &a.subject, a.mode) {
        (Some(stream), _, mode) => {
            let mode = match mode {
                None | Some(ModeArg::Tap) => NatsWatchMode::StreamTap,
                Some(ModeArg::Consume) => NatsWatchMode::Consume,
                Some(ModeArg::Peek) => NatsWatchMode::Peek,
            };
            let mut w = NatsWatch::stream(&a.url, mode, stream);
            w.subject = a.subject.clone().unwrap_or_default();
            w.from = a.from.clone().unwrap_or_default();
            w.durable = a.durable.clone().unwrap_or_default();
            if mode == NatsWatchMode::Peek {
                w.peek_limit = Some(u32::try_from(a.count.unwrap_or(100)).unwrap_or(u32::MAX));
            }
            w
        }
        (None, Some(subject), None | Some(ModeArg::Tap)) => {
            let mut w = NatsWatch::subject(&a.url, subject);
            if let Some(group) = &a.queue_group {
                w.mode = NatsWatchMode::QueueGroup;
                w.queue_group = group.clone();
            }
            w
        }
        (None, Some(_), Some(_)) => anyhow::bail!(
            "--mode consume and peek read a JetStream stream: give --stream NAME (a subject is tapped, or joined with --queue-group)"
        ),
        (None, None, _) => anyhow::bail!("give --subject SUBJECT or --stream NAME"),
    };
    w.check()?;
    w.limit = a.count;
    Ok(w)
}

/// `nats streams` and `nats kv`.
pub async fn command(c: args::NatsCommand) -> anyhow::Result<ExitCode> {
    match c {
        args::NatsCommand::Streams { url, json, timeout } => {
            let list = streams::list(&url, timeout).await?;
            if json {
                for s in &list {
                    outln!("{}", serde_json::to_string(s)?)?;
                }
            } else if list.is_empty() {
                outln!("no streams")?;
            } else {
                for s in &list {
                    outln!(
                        "{}{}  subjects {}  {} messages, {} bytes, seq {}..{}",
                        s.name,
                        s.kv_bucket
                            .as_ref()
                            .map(|b| format!(" (key-value bucket {b})"))
                            .unwrap_or_default(),
                        s.subjects.join(", "),
                        s.messages,
                        s.bytes,
                        s.first_seq,
                        s.last_seq
                    )?;
                    for c in &s.consumers {
                        outln!(
                            "  {} {}: {} pending, {} ack pending, {} redelivered, delivered up to seq {}",
                            if c.durable { "durable" } else { "ephemeral" },
                            c.name,
                            c.num_pending,
                            c.num_ack_pending,
                            c.num_redelivered,
                            c.delivered_stream_seq
                        )?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        args::NatsCommand::Kv {
            op,
            url,
            bucket,
            key,
            value,
            json,
            timeout,
        } => {
            let print = |e: &streams::KvEntry| {
                if json {
                    outln!("{}", serde_json::to_string(e).unwrap_or_default())
                } else {
                    let value = match (&e.value, &e.value_base64) {
                        (Some(text), _) => text.clone(),
                        (None, Some(b64)) => format!("(binary, base64) {b64}"),
                        (None, None) => String::new(),
                    };
                    outln!("{} rev {} {}: {value}", e.key, e.revision, e.operation)
                }
            };
            match op {
                args::KvOp::Get => match streams::kv_get(&url, &bucket, &key, timeout).await? {
                    Some(e) => print(&e)?,
                    None => anyhow::bail!("key {key:?} is not in bucket {bucket:?}"),
                },
                args::KvOp::Put => {
                    let Some(value) = value else {
                        anyhow::bail!("kv put needs a VALUE (TEXT, @FILE or @-)");
                    };
                    let bytes = super::read_body(&value)?;
                    let revision = streams::kv_put(&url, &bucket, &key, bytes, timeout).await?;
                    if json {
                        outln!(
                            "{}",
                            serde_json::json!({ "key": key, "revision": revision })
                        )?;
                    } else {
                        outln!("{key} rev {revision}")?;
                    }
                }
                args::KvOp::History => {
                    let history = streams::kv_history(&url, &bucket, &key, timeout).await?;
                    if history.is_empty() {
                        anyhow::bail!("key {key:?} has no history in bucket {bucket:?}");
                    }
                    for e in &history {
                        print(e)?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
