//! The bounded message store behind each watch: a ring buffer of compact messages and gap
//! markers, with a filter, and JSON Lines export/import in the `watch --json` shape.
//!
//! Memory: each stored message costs `size_of::<Entry>()` (80 bytes) plus its body, plus its
//! properties and headers as compact JSON (typically 100–300 bytes), plus two small allocations'
//! overhead; exchange and routing-key strings are shared between messages. A small demo order
//! event (≈200 B body) therefore takes ≈ 500 B: 1,000,000 of them ≈ 0.5 GB.
//! `scripts/bench` measures the real figure.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Write};
use std::sync::Arc;

use super::amqp::Properties;
use super::payload::Body;
use super::watch::WatchedMessage;

/// Default capacity of a store.
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// A message as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub seq: u64,
    pub received_at_ms: u64,
    pub exchange: Arc<str>,
    pub routing_key: Arc<str>,
    pub redelivered: bool,
    /// `{"p": properties, "h": headers}` as compact JSON.
    meta: Box<str>,
    pub body: Box<[u8]>,
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Meta {
    #[serde(default)]
    p: Properties,
    #[serde(default)]
    h: serde_json::Value,
}

impl StoredMessage {
    fn meta(&self) -> Meta {
        serde_json::from_str(&self.meta).unwrap_or_default()
    }

    pub fn properties(&self) -> Properties {
        self.meta().p
    }

    pub fn headers(&self) -> serde_json::Value {
        match self.meta().h {
            serde_json::Value::Null => serde_json::Value::Object(serde_json::Map::new()),
            h => h,
        }
    }

    /// Properties and headers as compact JSON (what the filter searches besides the body).
    pub fn meta_json(&self) -> &str {
        &self.meta
    }

    pub fn body(&self) -> Body {
        Body::new(self.body.to_vec())
    }

    /// Back to the `watch --json` shape.
    pub fn to_watched(&self) -> WatchedMessage {
        let meta = self.meta();
        WatchedMessage {
            received_at_ms: self.received_at_ms,
            exchange: self.exchange.to_string(),
            routing_key: self.routing_key.to_string(),
            redelivered: self.redelivered,
            properties: meta.p,
            headers: match meta.h {
                serde_json::Value::Null => serde_json::Value::Object(serde_json::Map::new()),
                h => h,
            },
            size_bytes: self.body.len() as u64,
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
    interned: HashMap<Box<str>, Arc<str>>,
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
            interned: HashMap::new(),
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

    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.interned.get(s) {
            return a.clone();
        }
        if self.interned.len() > 10_000 {
            self.interned.clear();
        }
        let a: Arc<str> = Arc::from(s);
        self.interned.insert(s.into(), a.clone());
        a
    }

    fn push_entry(&mut self, entry: Entry) {
        if self.entries.len() >= self.capacity {
            self.entries.pop_front();
            self.evicted += 1;
        }
        self.entries.push_back(entry);
        self.next_seq += 1;
    }

    pub fn push(&mut self, message: WatchedMessage) {
        let meta = Meta {
            p: message.properties,
            h: message.headers,
        };
        let meta = serde_json::to_string(&meta)
            .unwrap_or_default()
            .into_boxed_str();
        let stored = StoredMessage {
            seq: self.next_seq,
            received_at_ms: message.received_at_ms,
            exchange: self.intern(&message.exchange),
            routing_key: self.intern(&message.routing_key),
            redelivered: message.redelivered,
            meta,
            body: message.body.bytes.into_boxed_slice(),
        };
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
/// case-sensitive substring searched in the body, the routing key, the exchange, properties and
/// headers.
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
            || m.routing_key.contains(&self.text)
            || m.exchange.contains(&self.text)
            || m.meta.contains(&self.text)
    }
}

/// Writes messages as JSON Lines (the `watch --json` shape).
pub fn export_jsonl<'a>(
    messages: impl IntoIterator<Item = &'a StoredMessage>,
    out: &mut impl Write,
) -> std::io::Result<usize> {
    let mut count = 0;
    for m in messages {
        serde_json::to_writer(&mut *out, &m.to_watched())?;
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
        let message: WatchedMessage = serde_json::from_str(&line)
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
        WatchedMessage {
            received_at_ms: 1,
            exchange: "orders".to_string(),
            routing_key: routing_key.to_string(),
            redelivered: false,
            properties: Properties {
                message_id: Some("m-1".to_string()),
                ..Properties::default()
            },
            headers: serde_json::Value::Object(headers),
            size_bytes: body.len() as u64,
            body: Body::new(body.to_vec()),
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
        assert_eq!(export_jsonl(stored, &mut out).unwrap(), 5);
        let imported = import_jsonl(std::io::Cursor::new(out)).unwrap();
        assert_eq!(imported, originals);
        assert!(
            import_jsonl(std::io::Cursor::new(b"{}\n".to_vec()))
                .unwrap_err()
                .starts_with("line 1")
        );
    }
}
