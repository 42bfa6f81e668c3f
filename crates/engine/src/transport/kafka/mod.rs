//! Kafka on its own timed connections (`kafka-protocol`'s codec over tokio, see [`wire`]): a
//! produce with every phase measured — `connect` (TCP + ApiVersions), `metadata` (the
//! partition's leader), `produce` (the request written and flushed) and `ack` (the broker's
//! response, per the acks asked) — plus topic taps, group consumes and browsing ([`watch`]),
//! and topics and consumer groups with their lag ([`admin`]).
//!
//! [`KafkaRequest`] is at once the saved form, the editor's model and what the CLI builds.

pub mod admin;
pub mod cluster;
pub mod group;
pub mod publish_many;
pub mod watch;
pub mod wire;

pub use cluster::{Cluster, DEFAULT_KAFKA_URL, parse_url};
/// The Kafka codec the engine speaks (for tests and tools that talk to a broker directly).
pub use kafka_protocol as protocol;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as Codec, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use serde::{Deserialize, Serialize};

use crate::exchange::{ErrorKind, Exchange, ExchangeError, Header, Message, Transport};
use crate::fields::{SavedBody, SavedHeader, is_one, one, sent};
use crate::payload::Body;
use crate::recorder::{Outcome, Recorder, unix_ms};
use cluster::TopicMeta;
use wire::{OpenTimes, error_name};

mod produce;

pub use produce::Producer;
use produce::*;

/// The producer's `max.request.size` default: a bigger message is refused before sending (the
/// broker's `max.message.bytes` defaults to about the same).
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Which acknowledgement a produce waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Acks {
    /// `acks=0`: nothing; the message is written and the exchange ends.
    #[serde(rename = "0")]
    None,
    /// `acks=1`: the leader wrote it.
    #[serde(rename = "1")]
    Leader,
    /// `acks=all`: every in-sync replica has it.
    #[default]
    #[serde(rename = "all")]
    All,
}

impl Acks {
    pub const ALL: [Acks; 3] = [Self::None, Self::Leader, Self::All];

    pub fn label(self) -> &'static str {
        match self {
            Self::None => "0",
            Self::Leader => "1",
            Self::All => "all",
        }
    }

    fn wire(self) -> i16 {
        match self {
            Self::None => 0,
            Self::Leader => 1,
            Self::All => -1,
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "0" | "none" => Ok(Self::None),
            "1" | "leader" => Ok(Self::Leader),
            "all" | "-1" => Ok(Self::All),
            other => Err(format!("unknown acks {other:?}: 0, 1 or all")),
        }
    }
}

/// A record batch's compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    pub const ALL: [Compression; 5] = [Self::None, Self::Gzip, Self::Snappy, Self::Lz4, Self::Zstd];

    pub fn label(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.label() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("unknown compression {s:?}: none, gzip, snappy, lz4 or zstd"))
    }

    fn codec(self) -> Codec {
        match self {
            Self::None => Codec::None,
            Self::Gzip => Codec::Gzip,
            Self::Snappy => Codec::Snappy,
            Self::Lz4 => Codec::Lz4,
            Self::Zstd => Codec::Zstd,
        }
    }
}

/// A produce: the saved form, the editor's model and what the CLI builds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KafkaRequest {
    pub url: String,
    pub topic: String,
    /// The partition; `None`: by the key's hash (murmur2, as Java clients), else round robin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// The record's key: `None` sends a null key (round-robin partitioning), `Some("")` an
    /// empty one (hashed like any other key, as Java clients do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<SavedHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<SavedBody>,
    /// A binary value (not UTF-8), base64, sent instead of `body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    #[serde(default)]
    pub acks: Acks,
    #[serde(default, skip_serializing_if = "is_none")]
    pub compression: Compression,
    /// How many copies (at least 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

fn is_none(c: &Compression) -> bool {
    *c == Compression::None
}

impl KafkaRequest {
    pub fn produce(
        url: impl Into<String>,
        topic: impl Into<String>,
        key: &str,
        body: &str,
    ) -> Self {
        Self {
            url: url.into(),
            topic: topic.into(),
            partition: None,
            key: (!key.is_empty()).then(|| key.to_string()),
            headers: Vec::new(),
            body: SavedBody::from_text(body),
            body_base64: None,
            acks: Acks::All,
            compression: Compression::None,
            count: 1,
            timeout_ms: None,
        }
    }

    /// The value sent: the binary one when there is one, else the text.
    pub fn body_bytes(&self) -> Result<Vec<u8>, ExchangeError> {
        crate::fields::body_or_base64(&self.body, &self.body_base64)
    }

    /// Sets the value from bytes: text when UTF-8, else base64.
    pub fn set_body(&mut self, bytes: Vec<u8>) {
        (self.body, self.body_base64) = crate::fields::text_or_base64(bytes);
    }

    pub fn timeout(&self, default: Duration) -> Duration {
        self.timeout_ms
            .filter(|ms| *ms > 0)
            .map_or(default, Duration::from_millis)
    }

    pub fn trimmed(&self) -> Self {
        let mut out = self.clone();
        out.url = out.url.trim().to_string();
        out.topic = out.topic.trim().to_string();
        out.count = out.count.max(1);
        out
    }

    fn target(&self) -> String {
        match self.partition {
            Some(p) => format!("{}[{p}] @ {}", self.topic, self.url),
            None => format!("{} @ {}", self.topic, self.url),
        }
    }

    fn line(&self) -> String {
        let mut line = format!("PRODUCE {}", self.topic);
        if let Some(p) = self.partition {
            line.push_str(&format!(" partition {p}"));
        }
        match self.key.as_deref() {
            Some("") => line.push_str(" key \"\""),
            Some(key) => line.push_str(&format!(" key {key}")),
            None => {}
        }
        line.push_str(&format!(" acks={}", self.acks.label()));
        if self.compression != Compression::None {
            line.push_str(&format!(" {}", self.compression.label()));
        }
        line
    }
}

/// Checks a topic name as Kafka does: 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn check_topic(topic: &str) -> Result<(), ExchangeError> {
    let bad = |why: &str| {
        Err(ExchangeError::invalid_input(format!(
            "invalid topic {topic:?}: {why}"
        )))
    };
    if topic.is_empty() {
        return bad("it is empty");
    }
    if topic == "." || topic == ".." {
        return bad("`.` and `..` are not topic names");
    }
    if topic.len() > 249 {
        return bad("longer than 249 characters");
    }
    if let Some(c) = topic
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return bad(&format!(
            "{c:?} is not allowed (only letters, digits, `.`, `_`, `-`)"
        ));
    }
    Ok(())
}

/// Kafka's murmur2 (the Java client's default partitioner hashes keys with it).
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        if rest.len() >= 3 {
            h ^= u32::from(rest[2]) << 16;
        }
        if rest.len() >= 2 {
            h ^= u32::from(rest[1]) << 8;
        }
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition of `key` among `partitions` (the Java client's default partitioner).
pub fn partition_for_key(key: &[u8], partitions: usize) -> i32 {
    ((murmur2(key) & 0x7fff_ffff) as usize % partitions.max(1)) as i32
}

fn header_value(h: &Header) -> Option<Bytes> {
    Some(Bytes::from(h.value.clone().into_bytes()))
}

/// Checks what can be checked before connecting: the topic, partition, headers and size.
fn check(req: &KafkaRequest, body: &[u8]) -> Result<Vec<Header>, ExchangeError> {
    check_topic(&req.topic)?;
    if let Some(p) = req.partition
        && p < 0
    {
        return Err(ExchangeError::invalid_input(format!(
            "invalid partition {p}: partitions count from 0"
        )));
    }
    let headers = sent(&req.headers);
    for (i, h) in headers.iter().enumerate() {
        if headers[..i].iter().any(|o| o.name == h.name) {
            // kafka-protocol's record keeps one value per header name.
            return Err(ExchangeError::invalid_input(format!(
                "header {:?} is given twice: this client sends one value per header name",
                h.name
            )));
        }
    }
    // What the record batch adds: its 61-byte header, the record's own framing (attributes,
    // deltas, lengths: at most 21 bytes of varints) and each header's two length varints.
    let framing = 61 + 21 + 10 * headers.len();
    let size = body.len()
        + req.key.as_ref().map_or(0, String::len)
        + headers
            .iter()
            .map(|h| h.name.len() + h.value.len())
            .sum::<usize>()
        + framing;
    if size > MAX_MESSAGE_BYTES {
        return Err(ExchangeError::invalid_input(format!(
            "the record batch is {size} bytes (value, key, headers and {framing} bytes of batch framing) but the producer's max.request.size is {MAX_MESSAGE_BYTES} bytes (the broker's max.message.bytes defaults to about the same)"
        )));
    }
    Ok(headers)
}

/// The headers and value of a request, checked: what [`Producer::produce`] takes.
pub fn prepare(req: &KafkaRequest) -> Result<(Vec<Header>, Vec<u8>), ExchangeError> {
    let body = req.body_bytes()?;
    let headers = check(req, &body)?;
    Ok((headers, body))
}

fn request_message(req: &KafkaRequest, headers: &[Header], body: &[u8]) -> Message {
    let mut shown = Vec::new();
    if let Some(key) = &req.key {
        shown.push(Header::new("message-key", key.clone()));
    }
    shown.extend(headers.iter().cloned());
    Message {
        line: req.line(),
        headers: shown,
        body: Body::new(body.to_vec()),
        size_bytes: body.len() as u64,
        ..Message::default()
    }
}

/// The `connect` phase's detail.
fn connect_detail(addr: &str, t: &OpenTimes) -> String {
    format!(
        "{addr} — TCP {} + ApiVersions {} ({} APIs)",
        crate::timeline::format_us(t.tcp.as_micros() as u64),
        crate::timeline::format_us(t.api_versions.as_micros() as u64),
        t.apis
    )
}

/// Runs a produce; `count` copies yield one exchange each (the first carries `connect` and
/// `metadata`).
pub async fn execute(req: &KafkaRequest, default_timeout: Duration) -> Vec<Exchange> {
    let req = req.trimmed();
    let timeout = req.timeout(default_timeout);
    let mut rec = Recorder::new(timeout);
    let failed = |rec: Recorder, headers: &[Header], body: &[u8], error| {
        rec.finish(
            Transport::Kafka,
            req.target(),
            request_message(&req, headers, body),
            Outcome::Failed {
                error,
                response: None,
            },
        )
    };
    let body = match req.body_bytes() {
        Ok(b) => b,
        Err(e) => return vec![failed(rec, &[], &[], e)],
    };
    let mut headers = match check(&req, &body) {
        Ok(h) => h,
        Err(e) => return vec![failed(rec, &[], &body, e)],
    };
    let mut producer = match Producer::connect(&mut rec, &req.url).await {
        Ok(p) => p,
        Err(e) => return vec![failed(rec, &headers, &body, e)],
    };
    let mut out = Vec::new();
    for i in 0..req.count {
        if i > 0 {
            // Each copy in a trace of its own.
            rec.trace_copy(&mut headers);
        }
        let exchange = producer.produce(rec, &req, &headers, &body).await;
        let stop = exchange
            .error
            .as_ref()
            .is_some_and(|e| e.kind != ErrorKind::Refused);
        out.push(exchange);
        if stop {
            break;
        }
        rec = Recorder::new(timeout);
    }
    out
}

/// Kafka's phases (besides `connect`, in [`crate::net::phases`]).
pub mod phases {
    use crate::timeline::{PhaseClass, PhaseKind};

    /// Metadata: the topic's partitions and their leaders.
    pub const METADATA: PhaseKind = PhaseKind::new("metadata", "metadata", PhaseClass::Wait);
    /// The produce request written and flushed.
    pub const PRODUCE: PhaseKind = PhaseKind::new("produce", "produce", PhaseClass::Send);
    /// The broker's produce response (per acks). Shares its name with JetStream's ack.
    pub const ACK: PhaseKind = crate::nats::phases::ACK;
    /// A watch's offsets looked up (ListOffsets) or its group joined.
    pub const OFFSETS: PhaseKind = PhaseKind::new("offsets", "offsets", PhaseClass::Wait);

    pub const ALL: &[PhaseKind] = &[METADATA, PRODUCE, OFFSETS];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hash_like_the_java_client() {
        // Kafka's UtilsTest.testMurmur2.
        for (key, hash) in [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            ("abc", 479_470_107),
        ] {
            assert_eq!(murmur2(key.as_bytes()), hash, "{key}");
        }
        assert!((0..3).contains(&partition_for_key(b"1", 3)));
    }

    #[test]
    fn topics_are_checked_like_kafka() {
        assert!(check_topic("orders").is_ok());
        assert!(check_topic("a.b_c-1").is_ok());
        for bad in ["", ".", "..", "has space", "a/b", &"x".repeat(250)] {
            assert_eq!(
                check_topic(bad).unwrap_err().kind,
                ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_produce_keeps_its_saved_shape() {
        let mut req = KafkaRequest::produce(DEFAULT_KAFKA_URL, "orders", "1", "{\n  \"a\": 1\n}");
        req.acks = Acks::Leader;
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json["acks"], "1");
        assert_eq!(json["body"]["a"], 1);
        assert!(json.get("compression").is_none());
        let back: KafkaRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back, req);
        assert_eq!(Acks::parse("ALL"), Ok(Acks::All));
        assert!(Acks::parse("2").is_err());
        assert_eq!(Compression::parse("zstd"), Ok(Compression::Zstd));
    }
}
