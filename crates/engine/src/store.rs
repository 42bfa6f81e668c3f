//! The bounded message store behind each watch: a ring buffer of compact messages and gap
//! markers, with a filter, and JSON Lines export/import in the `watch --json` shape.
//!
//! Memory: each stored message costs one `Entry` in the ring (≈ 96 bytes), its body, and its set
//! properties and headers as compact JSON (≈ 150–250 bytes for a demo order event), plus two
//! allocations' overhead; exchange and routing-key strings are shared between messages.
//! Measured by `scripts/bench`: 1,000,000 demo order events (≈ 165 B bodies) take ≈ 665 B each,
//! ≈ 0.7 GB resident in all — the default capacity (1,000,000) fits any desktop.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Write};
use std::sync::Arc;

use super::exchange::Transport;
use super::payload::Body;
use super::watched::{Fields, Named, WatchedMessage};

/// Default capacity of a store.
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// A message as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub seq: u64,
    pub received_at_ms: u64,
    pub transport: Transport,
    /// Where it came from (exchange, subject, topic), shared between messages.
    pub source: Arc<str>,
    /// Its key (routing key, subject, partition/offset), shared between messages.
    pub key: Arc<str>,
    pub redelivered: bool,
    /// `{"f": fields, "h": headers}` as compact JSON.
    meta: Box<str>,
    pub body: Box<[u8]>,
}

#[derive(serde::Deserialize, Default)]
struct Meta {
    #[serde(default)]
    f: Named,
    #[serde(default)]
    h: Named,
}

/// The stored form of fields and headers, `{"f": fields, "h": headers}` with empty ones left
/// out, written into `scratch` and copied out at its exact size (one allocation).
fn meta_json(fields: &Fields, headers: &Named, scratch: &mut Vec<u8>) -> Box<str> {
    scratch.clear();
    scratch.push(b'{');
    if !fields.is_empty() {
        scratch.extend_from_slice(b"\"f\":");
        fields.write_json(scratch);
    }
    if !headers.is_empty() {
        if scratch.len() > 1 {
            scratch.push(b',');
        }
        scratch.extend_from_slice(b"\"h\":");
        let _ = serde_json::to_writer(&mut *scratch, headers);
    }
    scratch.push(b'}');
    std::str::from_utf8(scratch)
        .map(Box::from)
        .unwrap_or_default()
}

/// Shares exchange and routing-key strings between messages, and keeps the buffer a message's
/// stored fields are written in.
#[derive(Debug, Default)]
pub struct Interner {
    strings: HashMap<Box<str>, Arc<str>>,
    /// The last two strings asked for (a message's source and key): most messages of a watch
    /// repeat them, and comparing is cheaper than hashing.
    recent: [Option<Arc<str>>; 2],
    scratch: Vec<u8>,
}

impl Interner {
    pub fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.recent.iter().flatten().find(|a| a.as_ref() == s) {
            return a.clone();
        }
        let a = self.lookup(s);
        self.recent.rotate_right(1);
        self.recent[0] = Some(a.clone());
        a
    }

    fn lookup(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.strings.get(s) {
            return a.clone();
        }
        if self.strings.len() > 10_000 {
            self.strings.clear();
        }
        let a: Arc<str> = Arc::from(s);
        self.strings.insert(s.into(), a.clone());
        a
    }
}

/// A message converted to its stored form, ready to push (the work can be done off the UI thread).
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared(StoredMessage);

impl Prepared {
    pub fn transport(&self) -> Transport {
        self.0.transport
    }

    pub fn new(message: WatchedMessage, interner: &mut Interner) -> Self {
        Self(StoredMessage {
            seq: 0,
            received_at_ms: message.received_at_ms,
            transport: message.transport,
            source: interner.get(&message.source),
            key: interner.get(&message.key),
            redelivered: message.redelivered,
            meta: meta_json(&message.fields, &message.headers, &mut interner.scratch),
            body: message.body.bytes.into_boxed_slice(),
        })
    }
}

impl StoredMessage {
    fn meta(&self) -> Meta {
        serde_json::from_str(&self.meta).unwrap_or_default()
    }

    /// The transport's fields (AMQP properties), in order.
    pub fn fields(&self) -> Named {
        self.meta().f
    }

    pub fn headers(&self) -> Named {
        self.meta().h
    }

    /// Fields and headers as compact JSON (what the filter searches besides the body).
    pub fn meta_json(&self) -> &str {
        &self.meta
    }

    pub fn body(&self) -> Body {
        Body::new(self.body.to_vec())
    }

    /// Back to a watched message.
    pub fn to_watched(&self) -> WatchedMessage {
        let meta = self.meta();
        WatchedMessage {
            transport: self.transport,
            received_at_ms: self.received_at_ms,
            source: self.source.clone(),
            key: self.key.clone(),
            redelivered: self.redelivered,
            fields: Fields::Named(meta.f),
            headers: meta.h,
            body: self.body(),
        }
    }
}

/// Where a watch lost its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub seq: u64,
    pub at_ms: u64,
    pub reason: String,
}

/// One row of a store.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Message(StoredMessage),
    Gap(Box<Gap>),
}

impl Entry {
    pub fn seq(&self) -> u64 {
        match self {
            Self::Message(m) => m.seq,
            Self::Gap(g) => g.seq,
        }
    }
}

/// A bounded store: the oldest entries are evicted (and counted) past `capacity`.
#[derive(Debug)]
pub struct MessageStore {
    entries: VecDeque<Entry>,
    capacity: usize,
    next_seq: u64,
    /// Messages received since the store was created (evicted ones included).
    pub received: u64,
    /// Body bytes received.
    pub received_bytes: u64,
    /// Entries dropped to stay within capacity.
    pub evicted: u64,
    interned: Interner,
}

impl Default for MessageStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl MessageStore {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
            next_seq: 0,
            received: 0,
            received_bytes: 0,
            evicted: 0,
            interned: Interner::default(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sequence number of the oldest entry still stored.
    pub fn first_seq(&self) -> u64 {
        self.entries.front().map_or(self.next_seq, Entry::seq)
    }

    /// Sequence number the next entry will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn get(&self, seq: u64) -> Option<&Entry> {
        let index = seq.checked_sub(self.first_seq())?;
        self.entries.get(usize::try_from(index).ok()?)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Entry> + ExactSizeIterator {
        self.entries.iter()
    }

    /// Entries from `seq` on (those still stored).
    pub fn iter_from(&self, seq: u64) -> impl Iterator<Item = &Entry> {
        let skip = seq.saturating_sub(self.first_seq()) as usize;
        self.entries.iter().skip(skip)
    }

    fn push_entry(&mut self, entry: Entry) {
        // The ring is reserved whole at the first message: address space only (pages are
        // touched as entries arrive), and a fast watch never waits for it to be copied as it
        // grows.
        if self.entries.capacity() == 0 {
            self.entries.reserve_exact(self.capacity);
        }
        if self.entries.len() >= self.capacity {
            self.entries.pop_front();
            self.evicted += 1;
        }
        self.entries.push_back(entry);
        self.next_seq += 1;
    }

    pub fn push(&mut self, message: WatchedMessage) {
        let prepared = Prepared::new(message, &mut self.interned);
        self.push_prepared(prepared);
    }

    pub fn push_prepared(&mut self, prepared: Prepared) {
        let mut stored = prepared.0;
        stored.seq = self.next_seq;
        self.received += 1;
        self.received_bytes += stored.body.len() as u64;
        self.push_entry(Entry::Message(stored));
    }

    /// Marks where the watch lost its connection.
    pub fn push_gap(&mut self, at_ms: u64, reason: impl Into<String>) {
        let gap = Gap {
            seq: self.next_seq,
            at_ms,
            reason: reason.into(),
        };
        self.push_entry(Entry::Gap(Box::new(gap)));
    }

    /// Messages (not gaps) from `seq` on that match `filter`, as sequence numbers.
    pub fn matching_from(&self, seq: u64, filter: &Filter) -> Vec<u64> {
        self.iter_from(seq)
            .filter(|e| match e {
                Entry::Message(m) => filter.matches(m),
                Entry::Gap(_) => filter.is_empty(),
            })
            .map(Entry::seq)
            .collect()
    }
}

/// A filter typed by the user: `key=value` words match a header exactly; the rest is a
/// case-sensitive substring searched in the body, the key (routing key…), the source
/// (exchange…), fields (properties…) and headers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    text: String,
    headers: Vec<(String, String)>,
}

impl Filter {
    pub fn parse(input: &str) -> Self {
        let mut text = Vec::new();
        let mut headers = Vec::new();
        for word in input.split_whitespace() {
            match word.split_once('=') {
                Some((k, v)) if !k.is_empty() => headers.push((k.to_string(), v.to_string())),
                _ => text.push(word),
            }
        }
        Self {
            text: text.join(" "),
            headers,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.headers.is_empty()
    }

    pub fn matches(&self, m: &StoredMessage) -> bool {
        if !self.headers.is_empty() {
            let headers = m.headers();
            let all = self.headers.iter().all(|(k, v)| match headers.get(k) {
                Some(serde_json::Value::String(s)) => s == v,
                Some(other) => v.as_str() == other.to_string().as_str(),
                None => false,
            });
            if !all {
                return false;
            }
        }
        if self.text.is_empty() {
            return true;
        }
        let needle = self.text.as_bytes();
        memchr::memmem::find(&m.body, needle).is_some()
            || m.key.contains(&self.text)
            || m.source.contains(&self.text)
            || m.meta.contains(&self.text)
    }
}

/// Writes messages as JSON Lines (the `watch --json` shape).
pub fn export_jsonl<M: std::borrow::Borrow<WatchedMessage>>(
    messages: impl IntoIterator<Item = M>,
    out: &mut impl Write,
) -> std::io::Result<usize> {
    let mut count = 0;
    for m in messages {
        serde_json::to_writer(&mut *out, m.borrow())?;
        out.write_all(b"\n")?;
        count += 1;
    }
    Ok(count)
}

/// Reads JSON Lines written by [`export_jsonl`] or `switchboard watch --json`. Blank lines are
/// skipped; a bad line is an error naming its number.
pub fn import_jsonl(input: impl BufRead) -> Result<Vec<WatchedMessage>, String> {
    let mut out = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(|e| format!("line {}: {e}", i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let message = WatchedMessage::from_json(&line)
            .map_err(|e| format!("line {}: not a watched message: {e}", i + 1))?;
        out.push(message);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &[u8], routing_key: &str, header: Option<(&str, &str)>) -> WatchedMessage {
        let mut headers = serde_json::Map::new();
        if let Some((k, v)) = header {
            headers.insert(k.to_string(), serde_json::Value::String(v.to_string()));
        }
        let properties = crate::amqp::Properties {
            message_id: Some("m-1".to_string()),
            ..Default::default()
        };
        WatchedMessage {
            received_at_ms: 1,
            ..WatchedMessage::amqp(
                "orders",
                routing_key,
                false,
                &properties,
                headers,
                body.to_vec(),
            )
        }
    }

    #[test]
    fn the_store_is_bounded_and_counts_evictions() {
        let mut store = MessageStore::with_capacity(3);
        for i in 0..5u8 {
            store.push(message(&[i], "k", None));
        }
        store.push_gap(9, "broker restarted");
        assert_eq!(store.len(), 3);
        assert_eq!(store.evicted, 3);
        assert_eq!(store.received, 5);
        assert_eq!(store.first_seq(), 3);
        assert!(matches!(store.get(5), Some(Entry::Gap(_))));
        let Some(Entry::Message(m)) = store.get(4) else {
            panic!()
        };
        assert_eq!(&*m.body, &[4]);
        assert!(store.get(2).is_none());
    }

    #[test]
    fn filters_match_body_routing_key_headers_and_key_value() {
        let mut store = MessageStore::default();
        store.push(message(
            br#"{"user_id":"1"}"#,
            "order.created",
            Some(("x-source", "order-service")),
        ));
        store.push(message(b"Order data for user 1", "legacy", None));
        store.push(message(
            &[0xff, 0x00],
            "order.binary",
            Some(("x-source", "cli")),
        ));
        let seqs = |f: &str| store.matching_from(0, &Filter::parse(f));
        assert_eq!(seqs(""), [0, 1, 2]);
        assert_eq!(seqs("user"), [0, 1]);
        assert_eq!(seqs("order."), [0, 2]);
        assert_eq!(seqs("x-source=cli"), [2]);
        assert_eq!(seqs("x-source=order-service user_id"), [0]);
        assert_eq!(seqs("m-1"), [0, 1, 2], "properties are searched");
        assert!(seqs("nothing-like-this").is_empty());
    }

    #[test]
    fn export_then_import_round_trips_exactly() {
        let mut store = MessageStore::default();
        let originals = vec![
            message(
                br#"{"b":1,"a":{"c":[1,2.5]}}"#,
                "order.created",
                Some(("x-source", "t")),
            ),
            message(b"{\n  \"pretty\": true\n}", "pretty", None),
            message("Order data for user 1 – ünïcode".as_bytes(), "text", None),
            message(&[0xff, 0xfe, 0x00, 0x80], "binary", None),
            message(b"", "empty", None),
            // A stream message's typed fields go into the store as named values.
            WatchedMessage {
                received_at_ms: 2,
                ..WatchedMessage::nats(
                    "orders.created",
                    Some("_INBOX.1".into()),
                    serde_json::Map::from_iter([("k".to_string(), "v".into())]),
                    b"{}".to_vec(),
                    Some(crate::watched::StreamPosition {
                        stream: "ORDERS".into(),
                        stream_seq: 9,
                        consumer_seq: 4,
                        timestamp_ms: 1_700_000_000_123,
                        delivered: 2,
                    }),
                )
            },
        ];
        for m in originals.clone() {
            store.push(m);
        }
        let stored: Vec<&StoredMessage> = store
            .iter()
            .filter_map(|e| match e {
                Entry::Message(m) => Some(m),
                Entry::Gap(_) => None,
            })
            .collect();
        let mut out = Vec::new();
        assert_eq!(
            export_jsonl(stored.iter().map(|m| m.to_watched()), &mut out).unwrap(),
            6
        );
        assert_eq!(stored[5].fields()["stream_seq"], 9);
        assert_eq!(stored[5].headers()["k"], "v");
        let imported = import_jsonl(std::io::Cursor::new(out)).unwrap();
        assert_eq!(imported, originals);
        assert!(
            import_jsonl(std::io::Cursor::new(b"{}\n".to_vec()))
                .unwrap_err()
                .starts_with("line 1")
        );
    }
}
