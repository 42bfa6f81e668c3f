//! (Over 800 lines only with its unit tests: 670 lines of code, then the tests.)
//!
//! A message seen by a watch, whatever broker it came from: where it came from (an AMQP
//! exchange, a NATS subject or stream, a Kafka topic), its key (routing key, subject,
//! partition/offset), the transport's own fields (AMQP properties; later NATS reply-to and
//! stream sequence, Kafka timestamp…) and headers as ordered named values, and the body.
//!
//! The store, the filter, the viewer and JSON Lines export/import work from this one type; each
//! transport gives its JSON shape (`watch --json`) and its columns ([`Columns`]).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::amqp::Properties;
use super::exchange::{ExchangeError, Transport};
use super::payload::Body;

/// An ordered map of named JSON values (serde_json keeps insertion order here).
pub type Named = serde_json::Map<String, serde_json::Value>;

/// A message seen by a watch.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchedMessage {
    pub transport: Transport,
    /// Receive time, milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    /// Where it came from: the exchange (AMQP), the stream (NATS), the topic (Kafka). Shared:
    /// a watch's messages mostly repeat it.
    pub source: Arc<str>,
    /// Its key: the routing key (AMQP), the subject (NATS), the record key (Kafka). Shared.
    pub key: Arc<str>,
    /// Delivered before (AMQP redelivered flag).
    pub redelivered: bool,
    /// The transport's own fields, in order (AMQP: the properties that are set).
    pub fields: Fields,
    /// The message's headers, in order.
    pub headers: Named,
    pub body: Body,
}

/// The columns a transport adds to the message table, and what its source and key are called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    pub source: &'static str,
    pub key: &'static str,
    /// `(heading, field name)`.
    pub fields: &'static [(&'static str, &'static str)],
}

impl WatchedMessage {
    /// An AMQP delivery.
    pub fn amqp(
        exchange: impl Into<Arc<str>>,
        routing_key: impl Into<Arc<str>>,
        redelivered: bool,
        properties: &Properties,
        headers: Named,
        body: Vec<u8>,
    ) -> Self {
        Self {
            transport: Transport::Amqp,
            received_at_ms: super::recorder::unix_ms(),
            source: exchange.into(),
            key: routing_key.into(),
            redelivered,
            fields: Fields::Named(property_fields(properties)),
            headers,
            body: Body::new(body),
        }
    }

    /// A NATS message: core (`stream` is `None`) or from a JetStream stream.
    pub fn nats(
        subject: impl Into<Arc<str>>,
        reply_to: Option<String>,
        headers: Named,
        body: Vec<u8>,
        stream: Option<StreamPosition>,
    ) -> Self {
        let (source, redelivered) = match &stream {
            Some(p) => (p.stream.clone(), p.redelivered()),
            None => (Arc::from(""), false),
        };
        let fields = Fields::nats(reply_to, stream);
        Self {
            transport: Transport::Nats,
            received_at_ms: super::recorder::unix_ms(),
            source,
            key: subject.into(),
            redelivered,
            fields,
            headers,
            body: Body::new(body),
        }
    }

    /// A JetStream message's sequence in its stream (`None` for core NATS and other brokers).
    pub fn stream_seq(&self) -> Option<u64> {
        match &self.fields {
            Fields::Nats { stream, .. } => stream.as_ref().map(|p| p.stream_seq),
            Fields::Named(named) => named.get("stream_seq").and_then(serde_json::Value::as_u64),
        }
    }

    /// A Kafka record: `key` is `None` when the record has none; a key that is not UTF-8 is
    /// kept as `key_base64`.
    pub fn kafka(
        position: KafkaPosition,
        key: Option<&[u8]>,
        headers: Named,
        body: Vec<u8>,
    ) -> Self {
        use base64::Engine as _;
        let mut fields = Named::new();
        fields.insert("partition".into(), position.partition.into());
        fields.insert("offset".into(), position.offset.into());
        fields.insert("timestamp_ms".into(), position.timestamp_ms.into());
        fields.insert(
            "timestamp_type".into(),
            if position.log_append_time {
                "log_append"
            } else {
                "create"
            }
            .into(),
        );
        let key = match key {
            None => {
                fields.insert("key".into(), serde_json::Value::Null);
                String::new()
            }
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => text.to_string(),
                Err(_) => {
                    fields.insert(
                        "key_base64".into(),
                        base64::engine::general_purpose::STANDARD
                            .encode(bytes)
                            .into(),
                    );
                    String::new()
                }
            },
        };
        Self {
            transport: Transport::Kafka,
            received_at_ms: super::recorder::unix_ms(),
            source: position.topic.into(),
            key: key.into(),
            redelivered: false,
            fields: Fields::Named(fields),
            headers,
            body: Body::new(body),
        }
    }

    /// A Kafka record's offset.
    pub fn kafka_offset(&self) -> Option<i64> {
        self.fields.get("offset").and_then(|v| v.as_i64())
    }

    /// A Kafka record's partition.
    pub fn kafka_partition(&self) -> Option<i32> {
        self.fields
            .get("partition")
            .and_then(|v| v.as_i64())
            .and_then(|p| i32::try_from(p).ok())
    }

    pub fn size_bytes(&self) -> u64 {
        self.body.bytes.len() as u64
    }

    /// A field as text (`message_id`, `content_type`…).
    pub fn field(&self, name: &str) -> Option<String> {
        self.fields.get(name).map(|v| text_of(&v))
    }

    /// The AMQP properties (for republishing); unset ones are `None`.
    pub fn properties(&self) -> Properties {
        match &self.fields {
            Fields::Named(named) => {
                serde_json::from_value(serde_json::Value::Object(named.clone())).unwrap_or_default()
            }
            Fields::Nats { .. } => Properties::default(),
        }
    }

    /// The table columns of `transport`.
    pub fn columns(transport: Transport) -> Columns {
        match transport {
            Transport::Nats => Columns {
                source: "stream",
                key: "subject",
                fields: &[
                    ("reply to", "reply_to"),
                    ("stream seq", "stream_seq"),
                    ("delivered", "delivered"),
                ],
            },
            Transport::Kafka => Columns {
                source: "topic",
                key: "key",
                fields: &[
                    ("partition", "partition"),
                    ("offset", "offset"),
                    ("timestamp", "timestamp_ms"),
                ],
            },
            Transport::Amqp | Transport::Http | Transport::Grpc => Columns {
                source: "exchange",
                key: "routing key",
                fields: &[
                    ("message id", "message_id"),
                    ("correlation id", "correlation_id"),
                    ("content type", "content_type"),
                ],
            },
        }
    }

    /// The `watch --json` shape of its transport.
    pub fn to_json(&self) -> serde_json::Value {
        match self.transport {
            Transport::Nats => return self.nats_json(),
            Transport::Kafka => return self.kafka_json(),
            _ => {}
        }
        let shape = AmqpJson {
            transport: Some(self.transport),
            received_at_ms: self.received_at_ms,
            exchange: self.source.to_string(),
            routing_key: self.key.to_string(),
            redelivered: self.redelivered,
            properties: self.properties(),
            headers: serde_json::Value::Object(self.headers.clone()),
            body: self.body.clone(),
            size_bytes: self.size_bytes(),
        };
        serde_json::to_value(shape).unwrap_or_default()
    }

    /// Reads a `watch --json` line of any transport (files without `transport` are AMQP's, as
    /// every export before there were other transports).
    pub fn from_json(line: &str) -> Result<Self, serde_json::Error> {
        let value: serde_json::Value = serde_json::from_str(line)?;
        match value.get("transport").and_then(|t| t.as_str()) {
            Some("nats") => return Self::from_nats_json(value),
            Some("kafka") => return Self::from_kafka_json(value),
            _ => {}
        }
        let shape: AmqpJson = serde_json::from_value(value)?;
        Ok(Self {
            transport: shape.transport.unwrap_or(Transport::Amqp),
            received_at_ms: shape.received_at_ms,
            source: shape.exchange.into(),
            key: shape.routing_key.into(),
            redelivered: shape.redelivered,
            fields: Fields::Named(property_fields(&shape.properties)),
            headers: match shape.headers {
                serde_json::Value::Object(map) => map,
                _ => Named::new(),
            },
            body: shape.body,
        })
    }
}

impl WatchedMessage {
    /// NATS's `watch --json` shape: `subject`, `reply_to`, `headers`, the body, and for stream
    /// messages `stream`, `stream_seq`, `consumer_seq`, `timestamp_ms`, `redelivered`.
    fn nats_json(&self) -> serde_json::Value {
        let mut out = Named::new();
        out.insert("transport".into(), "nats".into());
        out.insert("received_at_ms".into(), self.received_at_ms.into());
        out.insert("subject".into(), self.key.as_ref().into());
        out.insert(
            "reply_to".into(),
            self.fields
                .get("reply_to")
                .unwrap_or(serde_json::Value::Null),
        );
        out.insert(
            "headers".into(),
            serde_json::Value::Object(self.headers.clone()),
        );
        if let Ok(serde_json::Value::Object(body)) = serde_json::to_value(&self.body) {
            out.extend(body);
        }
        out.insert("size_bytes".into(), self.size_bytes().into());
        if self.fields.contains_key("stream") {
            for name in [
                "stream",
                "stream_seq",
                "consumer_seq",
                "timestamp_ms",
                "delivered",
            ] {
                if let Some(v) = self.fields.get(name) {
                    out.insert(name.into(), v);
                }
            }
            out.insert("redelivered".into(), self.redelivered.into());
        }
        serde_json::Value::Object(out)
    }

    fn from_nats_json(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        let body: Body = serde_json::from_value(value.clone())?;
        let serde_json::Value::Object(map) = value else {
            return Err(serde::de::Error::custom("a NATS message is a JSON object"));
        };
        let text = |k: &str| map.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let num = |k: &str| map.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        let stream = text("stream").map(|stream| StreamPosition {
            stream: stream.into(),
            stream_seq: num("stream_seq"),
            consumer_seq: num("consumer_seq"),
            timestamp_ms: num("timestamp_ms"),
            delivered: num("delivered"),
        });
        let headers = match map.get("headers") {
            Some(serde_json::Value::Object(h)) => h.clone(),
            _ => Named::new(),
        };
        let mut m = Self::nats(
            text("subject").unwrap_or_default(),
            text("reply_to"),
            headers,
            body.bytes.clone(),
            stream,
        );
        m.body = body;
        m.received_at_ms = num("received_at_ms");
        if let Some(r) = map.get("redelivered").and_then(|v| v.as_bool()) {
            m.redelivered = r;
        }
        Ok(m)
    }
}

impl WatchedMessage {
    /// Kafka's `watch --json` shape: `topic`, `partition`, `offset`, `timestamp_ms`,
    /// `timestamp_type`, `key` (text, or null with `key_base64`), `headers`, the value.
    fn kafka_json(&self) -> serde_json::Value {
        let mut out = Named::new();
        out.insert("transport".into(), "kafka".into());
        out.insert("received_at_ms".into(), self.received_at_ms.into());
        out.insert("topic".into(), self.source.as_ref().into());
        for name in ["partition", "offset", "timestamp_ms", "timestamp_type"] {
            if let Some(v) = self.fields.get(name) {
                out.insert(name.into(), v);
            }
        }
        match self.fields.get("key_base64") {
            Some(b64) => {
                out.insert("key".into(), serde_json::Value::Null);
                out.insert("key_base64".into(), b64);
            }
            None if self.fields.contains_key("key") => {
                out.insert("key".into(), serde_json::Value::Null);
            }
            None => {
                out.insert("key".into(), self.key.as_ref().into());
            }
        }
        out.insert(
            "headers".into(),
            serde_json::Value::Object(self.headers.clone()),
        );
        if let Ok(serde_json::Value::Object(body)) = serde_json::to_value(&self.body) {
            out.extend(body);
        }
        out.insert("size_bytes".into(), self.size_bytes().into());
        serde_json::Value::Object(out)
    }

    fn from_kafka_json(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        use base64::Engine as _;
        let body: Body = serde_json::from_value(value.clone())?;
        let serde_json::Value::Object(map) = value else {
            return Err(serde::de::Error::custom("a Kafka message is a JSON object"));
        };
        let int = |k: &str| map.get(k).and_then(serde_json::Value::as_i64).unwrap_or(0);
        let key: Option<Vec<u8>> = match (map.get("key"), map.get("key_base64")) {
            (_, Some(serde_json::Value::String(b64))) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(serde::de::Error::custom)?,
            ),
            (Some(serde_json::Value::String(k)), _) => Some(k.clone().into_bytes()),
            _ => None,
        };
        let headers = match map.get("headers") {
            Some(serde_json::Value::Object(h)) => h.clone(),
            _ => Named::new(),
        };
        let mut m = Self::kafka(
            KafkaPosition {
                topic: map
                    .get("topic")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
                partition: i32::try_from(int("partition")).unwrap_or(0),
                offset: int("offset"),
                timestamp_ms: int("timestamp_ms"),
                log_append_time: map.get("timestamp_type").and_then(|v| v.as_str())
                    == Some("log_append"),
            },
            key.as_deref(),
            headers,
            Vec::new(),
        );
        m.body = body;
        m.received_at_ms = u64::try_from(int("received_at_ms")).unwrap_or(0);
        Ok(m)
    }
}

/// Where a Kafka record sits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KafkaPosition {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// The record's timestamp, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The timestamp is when the broker appended it (else when the producer created it).
    pub log_append_time: bool,
}

/// Where a JetStream message sits in its stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamPosition {
    /// Shared between the messages of one watch.
    pub stream: Arc<str>,
    pub stream_seq: u64,
    /// 0 when not read through a consumer (a peek).
    pub consumer_seq: u64,
    /// When the stream stored it, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Delivery attempts (0 when not read through a consumer).
    pub delivered: u64,
}

impl StreamPosition {
    /// Delivered before (by a consumer that redelivers).
    pub fn redelivered(&self) -> bool {
        self.delivered > 1
    }
}

impl Serialize for WatchedMessage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// A message's own fields (AMQP properties, Kafka partition and offset, NATS reply-to and stream
/// position). NATS's are kept typed: a stream tap takes hundreds of thousands of messages a
/// second, and a map of named values costs a dozen allocations per message; they become named
/// values only when shown or stored ([`Fields::get`], [`Fields::to_named`], [`Fields::write_json`]).
#[derive(Debug, Clone)]
pub enum Fields {
    /// Named values, in order.
    Named(Named),
    /// A NATS message's: its reply subject, and where it sits when it came from a stream.
    Nats {
        reply_to: Option<String>,
        stream: Option<StreamPosition>,
    },
}

impl Fields {
    /// A NATS message's fields: an empty reply subject is none.
    pub fn nats(reply_to: Option<String>, stream: Option<StreamPosition>) -> Self {
        Self::Nats {
            reply_to: reply_to.filter(|r| !r.is_empty()),
            stream,
        }
    }
}

/// Equal when they name the same values, however kept (a NATS message read back from the store
/// or a file has named fields).
impl PartialEq for Fields {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Named(a), Self::Named(b)) => a == b,
            _ => self.to_named() == other.to_named(),
        }
    }
}

impl Default for Fields {
    fn default() -> Self {
        Self::Named(Named::new())
    }
}

impl From<Named> for Fields {
    fn from(named: Named) -> Self {
        Self::Named(named)
    }
}

impl Fields {
    /// The field called `name`.
    pub fn get(&self, name: &str) -> Option<serde_json::Value> {
        match self {
            Self::Named(named) => named.get(name).cloned(),
            Self::Nats { reply_to, stream } => match (name, stream) {
                ("reply_to", _) => reply_to.clone().map(Into::into),
                ("stream", Some(p)) => Some(p.stream.as_ref().into()),
                ("stream_seq", Some(p)) => Some(p.stream_seq.into()),
                ("consumer_seq", Some(p)) if p.consumer_seq > 0 => Some(p.consumer_seq.into()),
                ("timestamp_ms", Some(p)) => Some(p.timestamp_ms.into()),
                ("delivered", Some(p)) if p.delivered > 0 => Some(p.delivered.into()),
                _ => None,
            },
        }
    }

    pub fn contains_key(&self, name: &str) -> bool {
        match self {
            Self::Named(named) => named.contains_key(name),
            Self::Nats { .. } => self.get(name).is_some(),
        }
    }

    /// The fields as named values, in order (NATS: `reply_to`, `stream`, `stream_seq`,
    /// `consumer_seq`, `timestamp_ms`, `delivered` — those that are set).
    pub fn to_named(&self) -> Named {
        match self {
            Self::Named(named) => named.clone(),
            Self::Nats { .. } => NATS_FIELDS
                .iter()
                .filter_map(|name| Some(((*name).to_string(), self.get(name)?)))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Self::Named(named) => named.is_empty(),
            Self::Nats { reply_to, stream } => reply_to.is_none() && stream.is_none(),
        }
    }

    /// Appends the fields as a compact JSON object — the same text `to_named` serialises to,
    /// without building it.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let (reply_to, stream) = match self {
            Self::Named(named) => {
                let _ = serde_json::to_writer(&mut *out, named);
                return;
            }
            Self::Nats { reply_to, stream } => (reply_to, stream),
        };
        out.push(b'{');
        let mut first = true;
        let mut key = |out: &mut Vec<u8>, name: &str| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
        };
        if let Some(reply_to) = reply_to {
            key(out, "reply_to");
            let _ = serde_json::to_writer(&mut *out, reply_to);
        }
        if let Some(p) = stream {
            key(out, "stream");
            let _ = serde_json::to_writer(&mut *out, p.stream.as_ref());
            let mut number = |out: &mut Vec<u8>, name: &str, n: u64| {
                key(out, name);
                // serde_json writes integers with itoa: no formatting machinery per message.
                let _ = serde_json::to_writer(&mut *out, &n);
            };
            number(out, "stream_seq", p.stream_seq);
            if p.consumer_seq > 0 {
                number(out, "consumer_seq", p.consumer_seq);
            }
            number(out, "timestamp_ms", p.timestamp_ms);
            if p.delivered > 0 {
                number(out, "delivered", p.delivered);
            }
        }
        out.push(b'}');
    }
}

/// A NATS message's fields, in their order.
const NATS_FIELDS: &[&str] = &[
    "reply_to",
    "stream",
    "stream_seq",
    "consumer_seq",
    "timestamp_ms",
    "delivered",
];

/// AMQP properties as named fields: the set ones, in their order — what `Properties`
/// serialises to, nulls left out. Built one field at a time: a watch does this for every
/// message, and `serde_json::to_value` made a named value of every property, unset ones too.
fn property_fields(p: &Properties) -> Named {
    fn text(out: &mut Named, name: &str, value: &Option<String>) {
        if let Some(v) = value {
            out.insert(name.to_string(), v.as_str().into());
        }
    }
    fn number(out: &mut Named, name: &str, value: Option<u64>) {
        if let Some(v) = value {
            out.insert(name.to_string(), v.into());
        }
    }
    let mut out = Named::new();
    text(&mut out, "content_type", &p.content_type);
    text(&mut out, "content_encoding", &p.content_encoding);
    text(&mut out, "message_id", &p.message_id);
    text(&mut out, "correlation_id", &p.correlation_id);
    number(&mut out, "timestamp", p.timestamp);
    number(&mut out, "delivery_mode", p.delivery_mode.map(u64::from));
    number(&mut out, "priority", p.priority.map(u64::from));
    text(&mut out, "type", &p.kind);
    text(&mut out, "app_id", &p.app_id);
    text(&mut out, "user_id", &p.user_id);
    text(&mut out, "reply_to", &p.reply_to);
    text(&mut out, "expiration", &p.expiration);
    out
}

/// A JSON value as a table cell: strings without quotes.
pub fn text_of(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The AMQP message shape of `watch --json` (and of every JSONL export so far).
#[derive(Serialize, Deserialize)]
struct AmqpJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transport: Option<Transport>,
    received_at_ms: u64,
    exchange: String,
    routing_key: String,
    redelivered: bool,
    properties: Properties,
    headers: serde_json::Value,
    #[serde(flatten)]
    body: Body,
    size_bytes: u64,
}

/// What a running watch reports.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// Watching (again, after a gap when `reconnected`). `queue` is the queue consumed.
    Connected {
        queue: String,
        reconnected: bool,
    },
    Messages(Vec<WatchedMessage>),
    /// Messages already in the store's form, for a watch run by [`Form::Stored`] (the viewer's:
    /// a fast tap converts each message once, straight from the client's).
    Stored(crate::store::Prepared),
    /// The connection was lost: a gap begins; the next attempt is in `retry_in`.
    Lost {
        reason: String,
        retry_in: Duration,
    },
    /// Something the user must know about between messages, not a lost connection: a Kafka
    /// log that came back shorter than where the watch stopped, read again from its start.
    Notice(String),
    /// A peek finished (its messages came before).
    PeekDone {
        count: usize,
    },
    /// The watch cannot go on (missing queue or exchange, refused credentials…).
    Failed(ExchangeError),
}

/// How a watch hands its messages over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Form {
    /// As [`WatchEvent::Messages`] (the CLI, tests, the demo).
    #[default]
    Watched,
    /// Where the watch can, as [`WatchEvent::Stored`] (others still send `Messages`).
    Stored,
}

/// A receive time in milliseconds read once per [`Clock::EVERY`] messages of a batch: a fast
/// tap takes a few hundred messages from its buffer in well under a millisecond
/// (`clock_gettime` was 3% of the worker threads' samples in the NATS tap bench, tokio's own
/// reads included).
#[derive(Debug, Default)]
pub struct Clock {
    at_ms: u64,
    left: u32,
}

impl Clock {
    const EVERY: u32 = 32;

    /// Reads the clock again at the next [`Clock::now_ms`] (call it after waiting).
    pub fn stale(&mut self) {
        self.left = 0;
    }

    pub fn now_ms(&mut self) -> u64 {
        if self.left == 0 {
            self.at_ms = super::recorder::unix_ms();
            self.left = Self::EVERY;
        }
        self.left -= 1;
        self.at_ms
    }
}

/// Most messages in one [`WatchEvent::Messages`].
pub const BATCH: usize = 512;

/// `messages` cut into [`WatchEvent::Messages`]-sized batches, moved (not copied).
pub fn batches(messages: Vec<WatchedMessage>) -> impl Iterator<Item = Vec<WatchedMessage>> {
    let mut rest = messages.into_iter();
    std::iter::from_fn(move || {
        let chunk: Vec<WatchedMessage> = rest.by_ref().take(BATCH).collect();
        (!chunk.is_empty()).then_some(chunk)
    })
}
/// How many messages the watch's user has received so far (printed, or stored in the viewer),
/// counted from the start of the watch. A consume acknowledges only those: the rest go back to
/// the queue when the watch ends.
pub type Delivered = tokio::sync::watch::Receiver<u64>;

/// A counter for a confirmed watch (`amqp::watch::run_confirmed`): the user side sends its running count of messages received.
pub fn delivery_counter() -> (tokio::sync::watch::Sender<u64>, Delivered) {
    tokio::sync::watch::channel(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_fields_are_what_properties_serialise_to_without_nulls() {
        let serde_shape = |p: &Properties| -> Named {
            match serde_json::to_value(p).unwrap() {
                serde_json::Value::Object(map) => {
                    map.into_iter().filter(|(_, v)| !v.is_null()).collect()
                }
                _ => Named::new(),
            }
        };
        let all = Properties {
            content_type: Some("application/json".into()),
            content_encoding: Some("gzip".into()),
            message_id: Some("m1".into()),
            correlation_id: Some("c1".into()),
            timestamp: Some(1_795_000_000),
            delivery_mode: Some(2),
            priority: Some(5),
            kind: Some("order".into()),
            app_id: Some("shop".into()),
            user_id: Some("guest".into()),
            reply_to: Some("replies".into()),
            expiration: Some("60000".into()),
        };
        let some = Properties {
            message_id: Some("m2".into()),
            delivery_mode: Some(1),
            ..Properties::default()
        };
        for p in [all, some, Properties::default()] {
            let fields = property_fields(&p);
            let expected = serde_shape(&p);
            assert_eq!(fields, expected);
            assert_eq!(
                fields.keys().collect::<Vec<_>>(),
                expected.keys().collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn a_nats_message_has_its_own_json_shape_and_reads_back() {
        let mut headers = Named::new();
        headers.insert("Nats-Msg-Id".into(), "o-1".into());
        let core = WatchedMessage::nats(
            "orders.created",
            Some("_INBOX.x".into()),
            headers.clone(),
            b"hi".to_vec(),
            None,
        );
        let json = serde_json::to_value(&core).unwrap();
        assert_eq!(json["transport"], "nats");
        assert_eq!(json["subject"], "orders.created");
        assert_eq!(json["reply_to"], "_INBOX.x");
        assert_eq!(json["headers"]["Nats-Msg-Id"], "o-1");
        assert_eq!(json["body"], "hi");
        assert_eq!(json["size_bytes"], 2);
        assert!(json.get("stream").is_none());
        assert_eq!(WatchedMessage::from_json(&json.to_string()).unwrap(), core);

        let stored = WatchedMessage::nats(
            "orders.created",
            None,
            Named::new(),
            vec![0xff, 0],
            Some(StreamPosition {
                stream: "ORDERS".into(),
                stream_seq: 7,
                consumer_seq: 3,
                timestamp_ms: 1_700_000_000_000,
                delivered: 2,
            }),
        );
        let json = serde_json::to_value(&stored).unwrap();
        assert_eq!(json["stream"], "ORDERS");
        assert_eq!(json["stream_seq"], 7);
        assert_eq!(json["consumer_seq"], 3);
        assert_eq!(json["timestamp_ms"], 1_700_000_000_000u64);
        assert_eq!(json["redelivered"], true);
        assert_eq!(json["reply_to"], serde_json::Value::Null);
        assert!(json.get("body_base64").is_some());
        let back = WatchedMessage::from_json(&json.to_string()).unwrap();
        assert_eq!(back, stored);
        assert_eq!(&*back.source, "ORDERS");
        assert_eq!(back.field("stream_seq").as_deref(), Some("7"));
    }

    #[test]
    fn a_kafka_message_has_its_own_json_shape_and_reads_back() {
        let mut headers = Named::new();
        headers.insert("correlation_id".into(), "c-1".into());
        let position = KafkaPosition {
            topic: "orders".into(),
            partition: 2,
            offset: 41,
            timestamp_ms: 1_700_000_000_000,
            log_append_time: false,
        };
        let m = WatchedMessage::kafka(
            position.clone(),
            Some(b"1"),
            headers,
            br#"{"a":1}"#.to_vec(),
        );
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["transport"], "kafka");
        assert_eq!(json["topic"], "orders");
        assert_eq!(json["partition"], 2);
        assert_eq!(json["offset"], 41);
        assert_eq!(json["timestamp_ms"], 1_700_000_000_000i64);
        assert_eq!(json["key"], "1");
        assert_eq!(json["headers"]["correlation_id"], "c-1");
        assert_eq!(json["size_bytes"], 7);
        assert_eq!(WatchedMessage::from_json(&json.to_string()).unwrap(), m);
        assert_eq!(m.kafka_offset(), Some(41));
        assert_eq!(m.kafka_partition(), Some(2));

        let binary =
            WatchedMessage::kafka(position.clone(), Some(&[0xff, 0]), Named::new(), vec![1]);
        let json = serde_json::to_value(&binary).unwrap();
        assert_eq!(json["key"], serde_json::Value::Null);
        assert_eq!(json["key_base64"], "/wA=");
        assert_eq!(
            WatchedMessage::from_json(&json.to_string()).unwrap(),
            binary
        );
        let keyless = WatchedMessage::kafka(position, None, Named::new(), vec![]);
        let json = serde_json::to_value(&keyless).unwrap();
        assert_eq!(json["key"], serde_json::Value::Null);
        assert!(json.get("key_base64").is_none());
        assert_eq!(
            WatchedMessage::from_json(&json.to_string()).unwrap(),
            keyless
        );
    }

    #[test]
    fn an_amqp_message_keeps_its_json_shape_and_reads_old_files() {
        let properties = Properties {
            content_type: Some("application/json".into()),
            message_id: Some("m-1".into()),
            timestamp: Some(7),
            ..Properties::default()
        };
        let mut headers = Named::new();
        headers.insert("x-source".into(), "demo".into());
        let m = WatchedMessage::amqp(
            "orders",
            "order.created",
            true,
            &properties,
            headers,
            br#"{"a":1}"#.to_vec(),
        );
        assert_eq!(m.field("message_id").as_deref(), Some("m-1"));
        assert_eq!(m.field("timestamp").as_deref(), Some("7"));
        assert_eq!(m.properties(), properties);
        let json = serde_json::to_string(&m).unwrap();
        for key in [
            r#""transport":"amqp""#,
            r#""exchange":"orders""#,
            r#""routing_key":"order.created""#,
            r#""redelivered":true"#,
            r#""message_id":"m-1""#,
            r#""x-source":"demo""#,
            r#""size_bytes":7"#,
        ] {
            assert!(json.contains(key), "{key} in {json}");
        }
        assert_eq!(WatchedMessage::from_json(&json).unwrap(), m);
        // A line exported before messages had a transport.
        let old = r#"{"received_at_ms":1,"exchange":"orders","routing_key":"k","redelivered":false,"properties":{"content_type":"text/plain","content_encoding":null,"message_id":null,"correlation_id":null,"timestamp":null},"headers":{},"body":"hi","size_bytes":2}"#;
        let read = WatchedMessage::from_json(old).unwrap();
        assert_eq!(read.transport, Transport::Amqp);
        assert_eq!(read.field("content_type").as_deref(), Some("text/plain"));
        assert_eq!(read.fields.to_named().len(), 1);
        assert_eq!(read.body.bytes, b"hi");
    }

    #[test]
    fn typed_nats_fields_write_what_their_named_form_serialises_to() {
        for (reply_to, stream) in [
            (None, None),
            (Some("_INBOX.\"q\"".to_string()), None),
            (
                None,
                Some(StreamPosition {
                    stream: "ORDERS \\ é".into(),
                    stream_seq: 7,
                    consumer_seq: 0,
                    timestamp_ms: 1_700_000_000_000,
                    delivered: 0,
                }),
            ),
            (
                Some("r".to_string()),
                Some(StreamPosition {
                    stream: "S".into(),
                    stream_seq: u64::MAX,
                    consumer_seq: 3,
                    timestamp_ms: 0,
                    delivered: 2,
                }),
            ),
        ] {
            let fields = Fields::Nats { reply_to, stream };
            let mut written = Vec::new();
            fields.write_json(&mut written);
            let named = fields.to_named();
            assert_eq!(
                String::from_utf8(written).unwrap(),
                serde_json::to_string(&named).unwrap()
            );
            assert_eq!(fields.is_empty(), named.is_empty());
            assert_eq!(fields, Fields::Named(named.clone()));
            for (name, value) in &named {
                assert_eq!(fields.get(name).as_ref(), Some(value));
            }
        }
    }
}
