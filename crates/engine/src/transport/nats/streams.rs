//! The streams browser: JetStream streams (subjects, message and byte counts, first/last
//! sequence) with their consumers (pending, ack pending, redelivered), and key-value buckets
//! (get, put, history).

use std::time::Duration;

use async_nats::jetstream;
use futures_util::StreamExt;
use serde::Serialize;

use crate::exchange::{ErrorKind, ExchangeError};
use crate::recorder::Recorder;

/// A stream, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamSummary {
    pub name: String,
    pub subjects: Vec<String>,
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// A key-value bucket's stream (`KV_name`): its bucket name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_bucket: Option<String>,
    pub consumers: Vec<ConsumerSummary>,
}

/// A consumer of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsumerSummary {
    pub name: String,
    pub durable: bool,
    /// Messages not yet delivered to it.
    pub num_pending: u64,
    /// Delivered, not acked yet.
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    /// The last stream sequence delivered to it.
    pub delivered_stream_seq: u64,
}

fn refused(message: String) -> ExchangeError {
    ExchangeError {
        kind: ErrorKind::Refused,
        phase: None,
        message,
    }
}

fn js_error(e: impl std::fmt::Display) -> ExchangeError {
    let text = e.to_string();
    if text.to_ascii_lowercase().contains("no responders")
        || text.to_ascii_lowercase().contains("timed out")
    {
        refused("JetStream is not enabled on this server (start nats-server with -js)".into())
    } else {
        refused(format!("JetStream said: {text}"))
    }
}

async fn context(url: &str, timeout: Duration) -> Result<jetstream::Context, ExchangeError> {
    let mut rec = Recorder::new(timeout);
    let client = super::connect(&mut rec, url, "switchboard streams").await?;
    super::require_jetstream(&client)?;
    let mut js = jetstream::new(client);
    js.set_timeout(timeout);
    Ok(js)
}

/// Every stream with its consumers.
pub async fn list(url: &str, timeout: Duration) -> Result<Vec<StreamSummary>, ExchangeError> {
    let js = context(url, timeout).await?;
    let work = async {
        let mut out = Vec::new();
        let mut streams = js.streams();
        while let Some(info) = streams.next().await {
            let info = info.map_err(js_error)?;
            let name = info.config.name.clone();
            let mut summary = StreamSummary {
                kv_bucket: name.strip_prefix("KV_").map(str::to_string),
                name: name.clone(),
                subjects: info.config.subjects.clone(),
                messages: info.state.messages,
                bytes: info.state.bytes,
                first_seq: info.state.first_sequence,
                last_seq: info.state.last_sequence,
                consumers: Vec::new(),
            };
            let stream = js.get_stream_no_info(&name).await.map_err(js_error)?;
            let mut consumers = stream.consumers();
            while let Some(c) = consumers.next().await {
                let c = c.map_err(js_error)?;
                summary.consumers.push(ConsumerSummary {
                    durable: c.config.durable_name.is_some(),
                    name: c.name,
                    num_pending: c.num_pending,
                    num_ack_pending: c.num_ack_pending as u64,
                    num_redelivered: c.num_redelivered as u64,
                    delivered_stream_seq: c.delivered.stream_sequence,
                });
            }
            summary.consumers.sort_by(|a, b| a.name.cmp(&b.name));
            out.push(summary);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok::<_, ExchangeError>(out)
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| ExchangeError {
            kind: ErrorKind::Timeout,
            phase: None,
            message: format!("listing streams took over {:.1} s", timeout.as_secs_f64()),
        })?
}

/// A kept connection for asking how far one durable consumer is behind, cheap enough to poll
/// twice a second (the services strip's JetStream pending); reconnects on the next call after
/// a failure.
pub struct ConsumerProbe {
    url: String,
    js: Option<(async_nats::Client, jetstream::Context)>,
}

impl ConsumerProbe {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            js: None,
        }
    }

    /// The consumer `consumer` of `stream` as [`list`] shows it (its `num_pending`: not yet
    /// delivered; `num_ack_pending`: delivered, not acked), or why not (server down, no
    /// JetStream, no such stream or consumer: one line each).
    pub async fn pending(
        &mut self,
        stream: &str,
        consumer: &str,
        timeout: Duration,
    ) -> Result<ConsumerSummary, ExchangeError> {
        let asked = tokio::time::timeout(timeout, self.ask(stream, consumer, timeout)).await;
        let answer = asked.unwrap_or_else(|_| {
            Err(ExchangeError {
                kind: ErrorKind::Timeout,
                phase: None,
                message: format!("no answer within {} ms", timeout.as_millis()),
            })
        });
        if answer.as_ref().is_err_and(|e| e.kind == ErrorKind::Timeout) {
            // A server that does not answer: start over with a new connection next time (one
            // that went away is noticed by its state).
            self.js = None;
        }
        answer
    }

    async fn ask(
        &mut self,
        stream: &str,
        consumer: &str,
        timeout: Duration,
    ) -> Result<ConsumerSummary, ExchangeError> {
        let connected = self.js.as_ref().is_some_and(|(client, _)| {
            client.connection_state() == async_nats::connection::State::Connected
        });
        if !connected {
            let mut rec = Recorder::new(timeout);
            let client =
                super::connect(&mut rec, &self.url, "switchboard consumer pending").await?;
            super::require_jetstream(&client)?;
            let mut js = jetstream::new(client.clone());
            js.set_timeout(timeout);
            self.js = Some((client, js));
        }
        let Some((_, js)) = &self.js else {
            return Err(refused("not connected".into()));
        };
        let handle = js.get_stream_no_info(stream).await.map_err(js_error)?;
        let info = handle.consumer_info(consumer).await.map_err(|e| {
            let text = e.to_string().to_ascii_lowercase();
            if text.contains("stream not found") {
                refused(format!("no stream {stream:?}"))
            } else if text.contains("not found") {
                refused(format!("no consumer {consumer:?} on stream {stream:?}"))
            } else {
                js_error(e)
            }
        })?;
        Ok(ConsumerSummary {
            durable: info.config.durable_name.is_some(),
            name: info.name,
            num_pending: info.num_pending,
            num_ack_pending: info.num_ack_pending as u64,
            num_redelivered: info.num_redelivered as u64,
            delivered_stream_seq: info.delivered.stream_sequence,
        })
    }
}

/// One entry of a key-value bucket's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KvEntry {
    pub key: String,
    pub revision: u64,
    /// `put`, `delete` or `purge`.
    pub operation: String,
    /// The value as text (UTF-8); a binary value is in `value_base64` instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
    pub created_ms: u64,
}

fn kv_entry(e: &jetstream::kv::Entry) -> KvEntry {
    KvEntry {
        key: e.key.clone(),
        revision: e.revision,
        operation: match e.operation {
            jetstream::kv::Operation::Put => "put",
            jetstream::kv::Operation::Delete => "delete",
            jetstream::kv::Operation::Purge => "purge",
        }
        .to_string(),
        value: std::str::from_utf8(&e.value).ok().map(str::to_string),
        value_base64: std::str::from_utf8(&e.value).is_err().then(|| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(&e.value)
        }),
        created_ms: u64::try_from(e.created.unix_timestamp_nanos() / 1_000_000).unwrap_or(0),
    }
}

async fn bucket(
    url: &str,
    name: &str,
    timeout: Duration,
) -> Result<jetstream::kv::Store, ExchangeError> {
    let js = context(url, timeout).await?;
    js.get_key_value(name).await.map_err(|e| {
        refused(format!(
            "key-value bucket {name:?} cannot be opened (does it exist?): {e}"
        ))
    })
}

/// A key's current entry (`None`: no such key, or deleted).
pub async fn kv_get(
    url: &str,
    name: &str,
    key: &str,
    timeout: Duration,
) -> Result<Option<KvEntry>, ExchangeError> {
    let store = bucket(url, name, timeout).await?;
    let entry = store
        .entry(key)
        .await
        .map_err(|e| refused(format!("get {key:?}: {e}")))?;
    Ok(entry
        .filter(|e| e.operation == jetstream::kv::Operation::Put)
        .map(|e| kv_entry(&e)))
}

/// Puts a value; returns the new revision.
pub async fn kv_put(
    url: &str,
    name: &str,
    key: &str,
    value: Vec<u8>,
    timeout: Duration,
) -> Result<u64, ExchangeError> {
    let store = bucket(url, name, timeout).await?;
    store
        .put(key, value.into())
        .await
        .map_err(|e| refused(format!("put {key:?}: {e}")))
}

/// Every revision the bucket keeps of a key, oldest first.
pub async fn kv_history(
    url: &str,
    name: &str,
    key: &str,
    timeout: Duration,
) -> Result<Vec<KvEntry>, ExchangeError> {
    let store = bucket(url, name, timeout).await?;
    let mut history = store
        .history(key)
        .await
        .map_err(|e| refused(format!("history of {key:?}: {e}")))?;
    let mut out = Vec::new();
    while let Some(e) = history.next().await {
        let e = e.map_err(|e| refused(format!("history of {key:?}: {e}")))?;
        out.push(kv_entry(&e));
    }
    Ok(out)
}
