//! The bounded message store behind each watch: a ring of compact message records and gap
//! markers, with a filter, and JSON Lines export/import in the `watch --json` shape.
//!
//! Memory: each stored entry is a 24-byte slot in the ring and a record in a byte log of
//! 1 MiB chunks: its source and key, its fields and headers in the compact form of
//! [`codec`] (repeated strings as dictionary ids), then its body — one copy, no allocation of
//! its own. The ring is first in, first out, so evicting the oldest entries frees whole chunks.
//! A demo order event (≈ 140 B body, five AMQP properties, one header) costs ≈ 110 bytes
//! besides its body (`scripts/bench`: `viewer_bytes_per_message`).

mod codec;

use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::sync::Arc;

use super::exchange::Transport;
use super::payload::Body;
use super::watched::{Fields, Named, WatchedMessage};

/// Default capacity of a store.
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// A stored message, read from its record (borrowed from the store).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage<'a> {
    pub seq: u64,
    pub received_at_ms: u64,
    pub transport: Transport,
    /// Where it came from (exchange, stream, topic).
    pub source: &'a str,
    /// Its key (routing key, subject, record key).
    pub key: &'a str,
    pub redelivered: bool,
    /// Only the start of a larger body was kept.
    pub truncated: bool,
    /// Fields and headers in the compact form.
    meta: &'a [u8],
    pub body: &'a [u8],
}

/// Writes a message's record: source, key, fields, headers, then the body.
#[derive(Debug, Default)]
pub struct Interner {
    writer: codec::Writer,
}

impl Interner {
    /// Appends the head of `message`'s record to `out`: source, key, fields and headers (its
    /// body follows).
    fn write_head(&mut self, message: &MessageRef<'_>, out: &mut Vec<u8>) {
        let w = &mut self.writer;
        w.begin();
        w.string(out, message.source);
        w.string(out, message.key);
        w.fields(out, message.fields);
        w.map(out, message.headers);
    }
}

/// A message's parts, borrowed: what a watch stores without building a [`WatchedMessage`]
/// first (a fast stream tap converts straight from the client's message).
#[derive(Debug, Clone, Copy)]
pub struct MessageRef<'a> {
    pub transport: Transport,
    pub received_at_ms: u64,
    pub source: &'a str,
    pub key: &'a str,
    pub redelivered: bool,
    pub fields: &'a Fields,
    pub headers: &'a Named,
    pub body: &'a [u8],
    pub truncated: bool,
}

impl<'a> MessageRef<'a> {
    pub fn of(message: &'a WatchedMessage) -> Self {
        Self {
            transport: message.transport,
            received_at_ms: message.received_at_ms,
            source: &message.source,
            key: &message.key,
            redelivered: message.redelivered,
            fields: &message.fields,
            headers: &message.headers,
            body: &message.body.bytes,
            truncated: message.body.truncated,
        }
    }
}

/// Messages converted to their stored form, ready to push: their records in one buffer (the
/// work is done off the UI thread, and a batch of any size is two allocations, freed by the
/// UI thread at once rather than two per message).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prepared {
    records: Vec<u8>,
    items: Vec<Item>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Item {
    received_at_ms: u64,
    transport: Transport,
    flags: u8,
    /// Length of the record's head (source, key, fields, headers); the body follows.
    head_len: u32,
    body_len: u32,
}

const REDELIVERED: u8 = 1;
const TRUNCATED: u8 = 2;
const GAP: u8 = 4;

impl Prepared {
    /// Room for `messages` messages of about `record_bytes` each.
    pub fn with_capacity(messages: usize, record_bytes: usize) -> Self {
        Self {
            records: Vec::with_capacity(messages.saturating_mul(record_bytes)),
            items: Vec::with_capacity(messages),
        }
    }

    /// The messages' transport (of the first one).
    pub fn transport(&self) -> Option<Transport> {
        self.items.first().map(|i| i.transport)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The average record of this batch, as the size to reserve per message in the next one
    /// (64 B to 4 KiB).
    pub fn average_record(&self) -> usize {
        (self.records.len() / self.items.len().max(1)).clamp(64, 4096)
    }

    /// Converts `message` and adds it.
    pub fn add(&mut self, message: WatchedMessage, interner: &mut Interner) {
        self.add_ref(MessageRef::of(&message), interner);
    }

    /// Converts a borrowed message and adds it.
    pub fn add_ref(&mut self, message: MessageRef<'_>, interner: &mut Interner) {
        let start = self.records.len();
        interner.write_head(&message, &mut self.records);
        let head_len = self.records.len() - start;
        self.records.extend_from_slice(message.body);
        let mut flags = 0;
        if message.redelivered {
            flags |= REDELIVERED;
        }
        if message.truncated {
            flags |= TRUNCATED;
        }
        self.items.push(Item {
            received_at_ms: message.received_at_ms,
            transport: message.transport,
            flags,
            head_len: u32::try_from(head_len).unwrap_or(u32::MAX),
            body_len: u32::try_from(message.body.len()).unwrap_or(u32::MAX),
        });
    }

    /// Moves `other`'s messages after these.
    pub fn append(&mut self, other: &mut Prepared) {
        self.records.append(&mut other.records);
        self.items.append(&mut other.items);
    }

    /// Each message: its item and its record (head, then body).
    fn records(&self) -> impl Iterator<Item = (&Item, &[u8])> {
        let mut at = 0usize;
        self.items.iter().map(move |item| {
            let len = item.head_len as usize + item.body_len as usize;
            let record = self.records.get(at..at + len).unwrap_or_default();
            at += len;
            (item, record)
        })
    }
}

impl<'a> StoredMessage<'a> {
    fn meta(&self) -> (Named, Named) {
        let mut r = codec::Reader::new(self.meta);
        let fields = r.map();
        (fields, r.map())
    }

    /// The transport's fields (AMQP properties), in order.
    pub fn fields(&self) -> Named {
        self.meta().0
    }

    pub fn headers(&self) -> Named {
        self.meta().1
    }

    /// Fields and headers as compact JSON, `{"f": fields, "h": headers}` with empty ones left
    /// out.
    pub fn meta_json(&self) -> String {
        let (fields, headers) = self.meta();
        let mut out = Named::new();
        if !fields.is_empty() {
            out.insert("f".into(), serde_json::Value::Object(fields));
        }
        if !headers.is_empty() {
            out.insert("h".into(), serde_json::Value::Object(headers));
        }
        serde_json::Value::Object(out).to_string()
    }

    pub fn body(&self) -> Body {
        Body {
            bytes: self.body.to_vec(),
            truncated: self.truncated,
        }
    }

    /// Back to a watched message.
    pub fn to_watched(&self) -> WatchedMessage {
        let (fields, headers) = self.meta();
        WatchedMessage {
            transport: self.transport,
            received_at_ms: self.received_at_ms,
            source: Arc::from(self.source),
            key: Arc::from(self.key),
            redelivered: self.redelivered,
            fields: Fields::Named(fields),
            headers,
            body: self.body(),
        }
    }

    /// Whether a name or value among its fields and headers contains `needle` (as the table
    /// and the JSON export write them).
    fn meta_contains(&self, needle: &str) -> bool {
        let mut r = codec::Reader::new(self.meta);
        let mut found = false;
        for _ in 0..2 {
            r.each(|name, value| {
                found = found || name.contains(needle) || value.contains(needle);
            });
        }
        found
    }
}

/// Where a watch lost its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap<'a> {
    pub seq: u64,
    pub at_ms: u64,
    pub reason: &'a str,
}

/// One row of a store.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    Message(StoredMessage<'a>),
    Gap(Gap<'a>),
}

impl Entry<'_> {
    pub fn seq(&self) -> u64 {
        match self {
            Self::Message(m) => m.seq,
            Self::Gap(g) => g.seq,
        }
    }
}

/// A stored entry: where its record is in the log and what fits beside it. 24 bytes.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The record's position in the log.
    at: u64,
    /// Received, milliseconds after the store's `base_ms` (see `received_ms`).
    received: u32,
    len: u32,
    /// Where the body starts in the record (fields and headers come before).
    body_at: u32,
    transport: Transport,
    flags: u8,
}

/// The log of records: chunks of 1 MiB (a larger record gets a chunk of its own) appended at
/// the end and dropped whole from the front once every record in them is evicted.
#[derive(Debug, Default)]
struct Log {
    chunks: VecDeque<(u64, Vec<u8>)>,
}

const CHUNK: usize = 1 << 20;

impl Log {
    fn end(&self) -> u64 {
        self.chunks
            .back()
            .map_or(0, |(start, data)| start + data.len() as u64)
    }

    fn append(&mut self, parts: &[&[u8]]) -> u64 {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let at = self.end();
        let room = self
            .chunks
            .back()
            .is_some_and(|(_, data)| data.capacity() - data.len() >= len);
        if !room {
            self.chunks
                .push_back((at, Vec::with_capacity(len.max(CHUNK))));
        }
        if let Some((_, data)) = self.chunks.back_mut() {
            for part in parts {
                data.extend_from_slice(part);
            }
        }
        at
    }

    fn get(&self, at: u64, len: u32) -> &[u8] {
        let i = self
            .chunks
            .partition_point(|(start, data)| start + data.len() as u64 <= at);
        let Some((start, data)) = self.chunks.get(i) else {
            return &[];
        };
        let from = usize::try_from(at - start).unwrap_or(usize::MAX);
        data.get(from..from.saturating_add(len as usize))
            .unwrap_or_default()
    }

    /// Drops the chunks that end at or before `at` (nothing stored before it is needed).
    fn release_before(&mut self, at: u64) {
        while self
            .chunks
            .front()
            .is_some_and(|(start, data)| start + data.len() as u64 <= at)
            && self.chunks.len() > 1
        {
            self.chunks.pop_front();
        }
    }
}

/// A bounded store: the oldest entries are evicted (and counted) past `capacity`.
#[derive(Debug)]
pub struct MessageStore {
    slots: VecDeque<Slot>,
    log: Log,
    /// Receive times are kept as milliseconds after this (the first entry's), in a `u32`:
    /// 49 days. One outside that range keeps its full time in its record.
    base_ms: Option<u64>,
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

/// A slot's `received` when the time is in the record instead (its first 8 bytes).
const TIME_IN_RECORD: u32 = u32::MAX;

impl Default for MessageStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl MessageStore {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            slots: VecDeque::new(),
            log: Log::default(),
            base_ms: None,
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
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Sequence number of the oldest entry still stored.
    pub fn first_seq(&self) -> u64 {
        self.next_seq - self.slots.len() as u64
    }

    /// Sequence number the next entry will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn entry(&self, seq: u64, slot: &Slot) -> Entry<'_> {
        let mut record = self.log.get(slot.at, slot.len);
        let received_at_ms = if slot.received == TIME_IN_RECORD {
            let (time, rest) = record.split_at(record.len().min(8));
            record = rest;
            let mut b = [0u8; 8];
            b[..time.len()].copy_from_slice(time);
            u64::from_le_bytes(b)
        } else {
            self.base_ms.unwrap_or_default() + u64::from(slot.received)
        };
        let body_at = (slot.body_at as usize).min(record.len());
        if slot.flags & GAP != 0 {
            return Entry::Gap(Gap {
                seq,
                at_ms: received_at_ms,
                reason: std::str::from_utf8(record).unwrap_or_default(),
            });
        }
        let (head, body) = record.split_at(body_at);
        let mut r = codec::Reader::new(head);
        let source = r.str();
        let key = r.str();
        Entry::Message(StoredMessage {
            seq,
            received_at_ms,
            transport: slot.transport,
            source,
            key,
            redelivered: slot.flags & REDELIVERED != 0,
            truncated: slot.flags & TRUNCATED != 0,
            meta: r.rest(),
            body,
        })
    }

    pub fn get(&self, seq: u64) -> Option<Entry<'_>> {
        let index = seq.checked_sub(self.first_seq())?;
        let slot = self.slots.get(usize::try_from(index).ok()?)?;
        Some(self.entry(seq, slot))
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Entry<'_>> + ExactSizeIterator {
        let first = self.first_seq();
        self.slots
            .iter()
            .enumerate()
            .map(move |(i, slot)| self.entry(first + i as u64, slot))
    }

    /// Entries from `seq` on (those still stored).
    pub fn iter_from(&self, seq: u64) -> impl Iterator<Item = Entry<'_>> {
        let skip = seq.saturating_sub(self.first_seq()) as usize;
        self.iter().skip(skip)
    }

    fn push_entry(
        &mut self,
        received_at_ms: u64,
        transport: Transport,
        flags: u8,
        parts: &[&[u8]],
        body_at: usize,
    ) {
        // The ring is reserved whole at the first entry: address space only (pages are
        // touched as entries arrive), and a fast watch never waits for it to be copied as it
        // grows.
        if self.slots.capacity() == 0 {
            self.slots.reserve_exact(self.capacity);
        }
        if self.slots.len() >= self.capacity {
            self.slots.pop_front();
            self.evicted += 1;
            if let Some(front) = self.slots.front() {
                self.log.release_before(front.at);
            }
        }
        let base = *self.base_ms.get_or_insert(received_at_ms);
        let received = received_at_ms
            .checked_sub(base)
            .and_then(|d| u32::try_from(d).ok())
            .filter(|d| *d != TIME_IN_RECORD);
        let time = received_at_ms.to_le_bytes();
        let (received, at, len, body_at) = match received {
            Some(received) => {
                let len: usize = parts.iter().map(|p| p.len()).sum();
                (received, self.log.append(parts), len, body_at)
            }
            None => {
                let mut with_time = vec![&time[..]];
                with_time.extend_from_slice(parts);
                let len: usize = with_time.iter().map(|p| p.len()).sum();
                (TIME_IN_RECORD, self.log.append(&with_time), len, body_at)
            }
        };
        self.slots.push_back(Slot {
            at,
            received,
            len: u32::try_from(len).unwrap_or(u32::MAX),
            body_at: u32::try_from(body_at).unwrap_or(u32::MAX),
            transport,
            flags,
        });
        self.next_seq += 1;
    }

    pub fn push(&mut self, message: WatchedMessage) {
        let mut one = Prepared::default();
        one.add(message, &mut self.interned);
        self.push_prepared(&one);
    }

    /// Stores messages converted by [`Prepared::add`] (with any interner).
    pub fn push_prepared(&mut self, batch: &Prepared) {
        for (item, record) in batch.records() {
            self.received += 1;
            self.received_bytes += u64::from(item.body_len);
            self.push_entry(
                item.received_at_ms,
                item.transport,
                item.flags,
                &[record],
                item.head_len as usize,
            );
        }
    }

    /// Marks where the watch lost its connection.
    pub fn push_gap(&mut self, at_ms: u64, reason: impl Into<String>) {
        let reason = reason.into();
        self.push_entry(at_ms, Transport::Amqp, GAP, &[reason.as_bytes()], 0);
    }

    /// Messages (not gaps) from `seq` on that match `filter`, as sequence numbers.
    pub fn matching_from(&self, seq: u64, filter: &Filter) -> Vec<u64> {
        self.iter_from(seq)
            .filter(|e| match e {
                Entry::Message(m) => filter.matches(m),
                Entry::Gap(_) => filter.is_empty(),
            })
            .map(|e| e.seq())
            .collect()
    }
}

/// A filter typed by the user: `key=value` words match a header exactly; the rest is a
/// case-sensitive substring searched in the body, the key (routing key…), the source
/// (exchange…), fields (properties…) and headers (their names and values).
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
        memchr::memmem::find(m.body, needle).is_some()
            || m.key.contains(&self.text)
            || m.source.contains(&self.text)
            || m.meta_contains(&self.text)
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

    /// Batches converted off the UI thread (by another interner, joined by `append`) store what
    /// pushing each message does: bodies, keys, headers, fields, flags, in order.
    #[test]
    fn prepared_batches_store_what_single_pushes_do() {
        let mut messages: Vec<WatchedMessage> = (0..5)
            .map(|i| {
                let body = format!("{{\"n\":{i}}}");
                message(body.as_bytes(), &format!("key.{}", i % 2), Some(("h", "v")))
            })
            .collect();
        messages[1].redelivered = true;
        messages[2].body.truncated = true;
        messages[3].body.bytes.clear();
        let mut one_by_one = MessageStore::with_capacity(100);
        for m in &messages {
            one_by_one.push(m.clone());
        }
        let mut interner = Interner::default();
        let mut first = Prepared::with_capacity(2, 16);
        let mut second = Prepared::default();
        for (i, m) in messages.iter().enumerate() {
            let batch = if i < 3 { &mut first } else { &mut second };
            batch.add(m.clone(), &mut interner);
        }
        first.append(&mut second);
        assert!(second.is_empty());
        assert_eq!(first.len(), 5);
        assert_eq!(first.transport(), Some(Transport::Amqp));
        let mut batched = MessageStore::with_capacity(100);
        batched.push_prepared(&first);
        let all = |s: &MessageStore| -> Vec<WatchedMessage> {
            s.iter()
                .map(|e| match e {
                    Entry::Message(m) => m.to_watched(),
                    Entry::Gap(g) => panic!("gap {}", g.reason),
                })
                .collect()
        };
        assert_eq!(all(&batched), all(&one_by_one));
        assert_eq!(batched.received_bytes, one_by_one.received_bytes);
        let stored = all(&batched);
        assert!(stored[1].redelivered && stored[2].body.truncated);
        assert_eq!(&*stored[4].key, "key.0");
        assert_eq!(stored[4].body.bytes, br#"{"n":4}"#);
    }

    /// The log drops whole chunks as the oldest entries go: a full store of a long-running
    /// watch holds about its capacity's worth of bytes, not everything it ever received.
    #[test]
    fn evicting_frees_the_logs_old_chunks_and_keeps_what_is_stored() {
        let mut store = MessageStore::with_capacity(1000);
        let body = vec![b'x'; 10_000];
        for i in 0..5000u32 {
            store.push(message(&[&body[..], &i.to_le_bytes()].concat(), "k", None));
        }
        assert_eq!(store.len(), 1000);
        let kept: usize = store.log.chunks.iter().map(|(_, d)| d.capacity()).sum();
        assert!(
            kept <= 1000 * 10_100 + 2 * CHUNK,
            "the log keeps {kept} bytes for 1000 entries of 10 KB"
        );
        for (i, e) in store.iter().enumerate() {
            let Entry::Message(m) = e else { panic!() };
            assert_eq!(m.seq, 4000 + i as u64);
            assert_eq!(&m.body[10_000..], &(4000 + i as u32).to_le_bytes());
            assert_eq!(m.key, "k");
            assert_eq!(m.fields()["message_id"], "m-1");
        }
    }

    /// Receive times far from the first one, a truncated body, a gap's reason and a record
    /// bigger than a chunk come back as they went in.
    #[test]
    fn odd_entries_come_back_as_they_went_in() {
        let mut store = MessageStore::default();
        let mut first = message(b"a", "k", Some(("h", "v")));
        first.received_at_ms = 1_795_000_000_000;
        let mut early = message(b"b", "k", None);
        early.received_at_ms = 5;
        let mut late = message(&vec![7u8; 3 * CHUNK], "big", None);
        late.received_at_ms = u64::MAX;
        late.body.truncated = true;
        for m in [first.clone(), early.clone(), late.clone()] {
            store.push(m);
        }
        store.push_gap(42, "broker restarted – ünïcode");
        let back: Vec<_> = store.iter().collect();
        let watched = |i: usize| match &back[i] {
            Entry::Message(m) => m.to_watched(),
            Entry::Gap(_) => panic!(),
        };
        assert_eq!(watched(0), first);
        assert_eq!(watched(1), early);
        assert_eq!(watched(2), late);
        assert_eq!(
            back[3],
            Entry::Gap(Gap {
                seq: 3,
                at_ms: 42,
                reason: "broker restarted – ünïcode"
            })
        );
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
        assert_eq!(m.body, &[4]);
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
        let stored: Vec<StoredMessage> = store
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
