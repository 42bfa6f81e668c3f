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
use crate::fields::{SavedBody, SavedHeader, body_text, is_one, one, sent};
use crate::payload::Body;
use crate::recorder::{Outcome, Recorder, unix_ms};
use cluster::TopicMeta;
use wire::{OpenTimes, error_name};

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
        use base64::Engine as _;
        match &self.body_base64 {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| {
                    ExchangeError::invalid_input(format!("body_base64 is not base64: {e}"))
                }),
            None => Ok(body_text(&self.body).into_bytes()),
        }
    }

    /// Sets the value from bytes: text when UTF-8, else base64.
    pub fn set_body(&mut self, bytes: Vec<u8>) {
        use base64::Engine as _;
        match String::from_utf8(bytes) {
            Ok(text) => {
                self.body = SavedBody::from_text(&text);
                self.body_base64 = None;
            }
            Err(e) => {
                self.body = None;
                self.body_base64 =
                    Some(base64::engine::general_purpose::STANDARD.encode(e.into_bytes()));
            }
        }
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

/// A kept connection to a cluster with its topics' metadata: a produce on it starts at
/// `produce` (load, benchmarks, the demo's producer); [`execute`] opens one per request.
pub struct Producer {
    cluster: Cluster,
    topics: std::collections::HashMap<String, TopicMeta>,
    round_robin: usize,
}

impl Producer {
    /// Connects (recording `connect` in `rec`).
    pub async fn connect(rec: &mut Recorder, url: &str) -> Result<Self, ExchangeError> {
        let addrs = parse_url(url)?;
        let shown = addrs.join(",");
        let (cluster, times) = rec
            .step(
                crate::net::phases::CONNECT,
                Cluster::connect(url, "switchboard"),
                |(e, addr)| e.classify(&addr),
            )
            .await?;
        rec.detail(connect_detail(cluster.bootstrap_addr(), &times));
        let _ = shown;
        Ok(Self {
            cluster,
            topics: std::collections::HashMap::new(),
            round_robin: 0,
        })
    }

    /// Connects with its own timeout (no timeline kept).
    pub async fn open(url: &str, timeout: Duration) -> Result<Self, ExchangeError> {
        let mut rec = Recorder::new(timeout);
        Self::connect(&mut rec, url).await
    }

    /// The topic's metadata, asked (and timed as `metadata`) on first use.
    async fn topic(&mut self, rec: &mut Recorder, topic: &str) -> Result<TopicMeta, ExchangeError> {
        if let Some(meta) = self.topics.get(topic) {
            return Ok(meta.clone());
        }
        let start = Instant::now();
        let fetched = tokio::time::timeout_at(rec.deadline, self.cluster.topic(topic)).await;
        let meta = match fetched {
            Ok(Ok(meta)) => meta,
            Ok(Err(e)) => return Err(rec.fail(phases::METADATA, start, e.kind, e.message)),
            Err(_) => {
                let message = rec.timeout_message();
                return Err(rec.fail(phases::METADATA, start, ErrorKind::Timeout, message));
            }
        };
        rec.push(
            phases::METADATA,
            start,
            Instant::now(),
            Some(format!(
                "{topic}: {} partition{}, {} broker{}",
                meta.partitions.len(),
                if meta.partitions.len() == 1 { "" } else { "s" },
                self.cluster.brokers.len(),
                if self.cluster.brokers.len() == 1 {
                    ""
                } else {
                    "s"
                },
            )),
        );
        self.topics.insert(topic.to_string(), meta.clone());
        Ok(meta)
    }

    /// Produces one record of `req`, recording `metadata` (first time for the topic), a
    /// `connect` to the leader when it is another broker, `produce` and `ack`.
    pub async fn produce(
        &mut self,
        mut rec: Recorder,
        req: &KafkaRequest,
        headers: &[Header],
        body: &[u8],
    ) -> Exchange {
        let outcome = self.produce_outcome(&mut rec, req, headers, body).await;
        rec.finish(
            Transport::Kafka,
            req.target(),
            request_message(req, headers, body),
            outcome,
        )
    }

    async fn produce_outcome(
        &mut self,
        rec: &mut Recorder,
        req: &KafkaRequest,
        headers: &[Header],
        body: &[u8],
    ) -> Outcome {
        let fail = |error| Outcome::Failed {
            error,
            response: None,
        };
        let meta = match self.topic(rec, &req.topic).await {
            Ok(meta) => meta,
            Err(e) => return fail(e),
        };
        let partition = match req.partition {
            Some(p) if meta.partitions.iter().any(|m| m.id == p) => p,
            Some(p) => {
                return fail(ExchangeError {
                    kind: ErrorKind::InvalidInput,
                    phase: None,
                    message: format!(
                        "partition {p} is out of range: topic {:?} has partitions 0..{}",
                        req.topic,
                        meta.partitions.len().saturating_sub(1)
                    ),
                });
            }
            None if let Some(key) = &req.key => {
                partition_for_key(key.as_bytes(), meta.partitions.len())
            }
            None => {
                self.round_robin = self.round_robin.wrapping_add(1);
                (self.round_robin % meta.partitions.len().max(1)) as i32
            }
        };
        let leader = meta
            .partitions
            .iter()
            .find(|p| p.id == partition)
            .map_or(-1, |p| p.leader);
        let created_ms = unix_ms() as i64;
        let batch = match encode_batch(req, headers, body, created_ms) {
            Ok(b) => b,
            Err(e) => return fail(ExchangeError::invalid_input(e)),
        };
        // What goes on the wire: the record batch, compressed when asked.
        let batch_bytes = batch.len();
        let produce = produce_request(req, partition, batch, rec.timeout);

        // The leader's connection (a `connect` phase when it is not open yet).
        let start = Instant::now();
        let needs_open = !self.cluster.is_open(leader);
        let opened = tokio::time::timeout_at(rec.deadline, self.cluster.conn_for(leader)).await;
        let conn = match opened {
            Ok(Ok((conn, times))) => {
                if let (true, Some(t)) = (needs_open, times) {
                    let addr = conn.addr.clone();
                    rec.push(
                        crate::net::phases::CONNECT,
                        start,
                        Instant::now(),
                        Some(format!("leader {leader}: {}", connect_detail(&addr, &t))),
                    );
                }
                conn
            }
            Ok(Err(e)) => {
                let (kind, message) = e.classify(&format!("leader {leader}"));
                return fail(rec.fail(crate::net::phases::CONNECT, start, kind, message));
            }
            Err(_) => {
                let message = rec.timeout_message();
                return fail(rec.fail(
                    crate::net::phases::CONNECT,
                    start,
                    ErrorKind::Timeout,
                    message,
                ));
            }
        };
        let addr = conn.addr.clone();

        // produce: the request written and flushed.
        let start = Instant::now();
        let sent = tokio::time::timeout_at(rec.deadline, conn.send(&produce)).await;
        let (id, version) = match sent {
            Ok(Ok(sent)) => sent,
            Ok(Err(e)) => {
                let (kind, message) = e.classify(&addr);
                self.cluster.drop_conn(leader);
                return fail(rec.fail(phases::PRODUCE, start, kind, message));
            }
            Err(_) => {
                let message = rec.timeout_message();
                self.cluster.drop_conn(leader);
                return fail(rec.fail(phases::PRODUCE, start, ErrorKind::Timeout, message));
            }
        };
        rec.push(
            phases::PRODUCE,
            start,
            Instant::now(),
            Some(match req.compression {
                Compression::None => format!(
                    "partition {partition}, {} B value in a {batch_bytes} B record batch",
                    body.len()
                ),
                c => format!(
                    "partition {partition}, {} B value in a {batch_bytes} B record batch ({}: {:.0}% of the uncompressed)",
                    body.len(),
                    c.label(),
                    100.0 * batch_bytes as f64 / uncompressed_batch(req, headers, body).max(1) as f64
                ),
            }),
        );
        if req.acks == Acks::None {
            return Outcome::Answered {
                ok: true,
                status: "sent (acks=0)".to_string(),
                response: Message {
                    line: format!(
                        "sent to partition {partition} (acks=0: the broker answers nothing)"
                    ),
                    headers: vec![Header::new("partition", partition.to_string())],
                    ..Message::default()
                },
            };
        }
        // ack: the broker's response.
        let start = Instant::now();
        let answered = tokio::time::timeout_at(rec.deadline, async {
            conn.wait_readable().await?;
            conn.recv::<ProduceRequest>(id, version).await
        })
        .await;
        let response = match answered {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                let (kind, message) = e.classify(&addr);
                self.cluster.drop_conn(leader);
                return fail(rec.fail(phases::ACK, start, kind, message));
            }
            Err(_) => {
                let message = rec.timeout_message();
                self.cluster.drop_conn(leader);
                return fail(rec.fail(phases::ACK, start, ErrorKind::Timeout, message));
            }
        };
        let Some(part) = response
            .responses
            .iter()
            .flat_map(|t| t.partition_responses.iter())
            .find(|p| p.index == partition)
        else {
            return fail(rec.fail(
                phases::ACK,
                start,
                ErrorKind::Protocol,
                format!("the broker's produce response holds no partition {partition}"),
            ));
        };
        if part.error_code != 0 {
            let why = part
                .error_message
                .as_ref()
                .map(|m| format!(": {}", m.as_str()))
                .unwrap_or_default();
            let kind = if part.error_code == 10 {
                ErrorKind::InvalidInput
            } else {
                ErrorKind::Refused
            };
            if matches!(part.error_code, 3 | 6) {
                // Unknown partition or leader moved: ask again next time.
                self.topics.remove(&req.topic);
            }
            return fail(rec.fail(
                phases::ACK,
                start,
                kind,
                format!(
                    "the broker refused the record: {}{why}",
                    error_name(part.error_code)
                ),
            ));
        }
        let timestamp = if part.log_append_time_ms >= 0 {
            (part.log_append_time_ms, "log append")
        } else {
            (created_ms, "create")
        };
        rec.push(
            phases::ACK,
            start,
            Instant::now(),
            Some(format!(
                "acks={}: partition {partition} offset {}",
                req.acks.label(),
                part.base_offset
            )),
        );
        Outcome::Answered {
            ok: true,
            status: format!("ack p{partition} @{}", part.base_offset),
            response: Message {
                line: format!("ack partition {partition} offset {}", part.base_offset),
                headers: vec![
                    Header::new("partition", partition.to_string()),
                    Header::new("offset", part.base_offset.to_string()),
                    Header::new("timestamp_ms", timestamp.0.to_string()),
                    Header::new("timestamp_type", timestamp.1),
                ],
                ..Message::default()
            },
        }
    }
}

/// A produce request of one batch to `partition`.
fn produce_request(
    req: &KafkaRequest,
    partition: i32,
    batch: Bytes,
    timeout: Duration,
) -> ProduceRequest {
    let mut produce = ProduceRequest::default();
    produce.acks = req.acks.wire();
    produce.timeout_ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    let mut pdata = PartitionProduceData::default();
    pdata.index = partition;
    pdata.records = Some(batch);
    let mut tdata = TopicProduceData::default();
    tdata.name = TopicName(StrBytes::from_string(req.topic.clone()));
    tdata.partition_data = vec![pdata];
    produce.topic_data = vec![tdata];
    produce
}

/// The size the record batch would have without compression (for the produce phase's detail).
fn uncompressed_batch(req: &KafkaRequest, headers: &[Header], body: &[u8]) -> usize {
    let plain = KafkaRequest {
        compression: Compression::None,
        ..req.clone()
    };
    encode_batch(&plain, headers, body, 0).map_or(0, |b| b.len())
}

/// One record in a batch (v2), compressed as asked.
fn encode_batch(
    req: &KafkaRequest,
    headers: &[Header],
    body: &[u8],
    created_ms: i64,
) -> Result<Bytes, String> {
    let mut record_headers = IndexMap::new();
    for h in headers {
        record_headers.insert(StrBytes::from_string(h.name.clone()), header_value(h));
    }
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: created_ms,
        key: req
            .key
            .as_ref()
            .map(|k| Bytes::from(k.clone().into_bytes())),
        value: Some(Bytes::from(body.to_vec())),
        headers: record_headers,
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        [&record],
        &RecordEncodeOptions {
            version: 2,
            compression: req.compression.codec(),
        },
    )
    .map_err(|e| {
        format!(
            "cannot encode the record ({}): {e}",
            req.compression.label()
        )
    })?;
    Ok(buf.freeze())
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
    let headers = match check(&req, &body) {
        Ok(h) => h,
        Err(e) => return vec![failed(rec, &[], &body, e)],
    };
    let mut producer = match Producer::connect(&mut rec, &req.url).await {
        Ok(p) => p,
        Err(e) => return vec![failed(rec, &headers, &body, e)],
    };
    let mut out = Vec::new();
    for _ in 0..req.count {
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
