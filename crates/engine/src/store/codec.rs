//! The store's compact form of a message's strings, fields and headers: JSON values written as
//! a tag byte and their bytes (short strings inline, repeated strings as an id into a shared
//! dictionary, integers as varints). A demo order event's five AMQP properties and one header
//! take ≈ 85 bytes here against ≈ 185 as JSON text, and writing them is a copy, not a
//! serialiser. JSON is rendered only when a message is shown, exported or searched.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{LazyLock, Mutex, RwLock};

use super::super::watched::{Fields, Named};

// Tags. 0x00..=0x7f: a string of that many bytes follows.
const LONG_STRING: u8 = 0x80;
const DICT_STRING: u8 = 0x81;
const UNSIGNED: u8 = 0x82;
const NEGATIVE: u8 = 0x83;
const FLOAT: u8 = 0x84;
const TRUE: u8 = 0x85;
const FALSE: u8 = 0x86;
const NULL: u8 = 0x87;
const JSON_TEXT: u8 = 0x88;

/// Strings longer than this are never put in the dictionary.
const DICT_MAX_LEN: usize = 64;
/// Entries the dictionary takes at most (≤ 4 MiB of text); later strings stay inline.
const DICT_CAP: usize = 1 << 16;

/// Strings seen repeated by any store's writer (exchange and queue names, subjects, field
/// names, `application/json`…), shared by every store of the process and never freed: its size
/// is capped, so what it keeps is bounded.
struct Dictionary {
    ids: Mutex<HashMap<&'static str, u32>>,
    strings: RwLock<Vec<&'static str>>,
}

static DICTIONARY: LazyLock<Dictionary> = LazyLock::new(|| Dictionary {
    ids: Mutex::new(HashMap::new()),
    strings: RwLock::new(Vec::new()),
});

/// The id of `s` and the dictionary's copy of it, added if there is room.
fn intern(s: &str) -> Option<(u32, &'static str)> {
    let mut ids = DICTIONARY.ids.lock().ok()?;
    if let Some((kept, id)) = ids.get_key_value(s) {
        return Some((*id, *kept));
    }
    if ids.len() >= DICT_CAP {
        return None;
    }
    // Leaked on purpose: entries live as long as the process, and there are at most DICT_CAP
    // of at most DICT_MAX_LEN bytes.
    let kept: &'static str = Box::leak(Box::from(s));
    let mut strings = DICTIONARY.strings.write().ok()?;
    let id = u32::try_from(strings.len()).ok()?;
    strings.push(kept);
    ids.insert(kept, id);
    Some((id, kept))
}

fn dictionary_string(id: u32) -> &'static str {
    DICTIONARY
        .strings
        .read()
        .ok()
        .and_then(|s| s.get(id as usize).copied())
        .unwrap_or("")
}

/// Writes messages' compact form. A string goes into the dictionary when the writer sees it in
/// the same place as in the message before (the second order event's exchange, content type
/// and header names), so values that differ every time (ids) never fill it.
#[derive(Debug, Default)]
pub struct Writer {
    /// What was written at each place of the previous message.
    previous: Vec<Previous>,
    place: usize,
}

/// A place's string in the previous message: its hash, and once it is in the dictionary, the
/// dictionary's copy and id — the next message's same string is then one comparison, no hash
/// and no lock.
#[derive(Debug, Default, Clone, Copy)]
struct Previous {
    hash: u64,
    interned: Option<(&'static str, u32)>,
}

impl Writer {
    /// Starts a message: places are counted from here.
    pub fn begin(&mut self) {
        self.place = 0;
    }

    pub fn string(&mut self, out: &mut Vec<u8>, s: &str) {
        let place = self.place;
        self.place += 1;
        if s.len() <= DICT_MAX_LEN && !s.is_empty() {
            if self.previous.len() <= place {
                self.previous.resize(place + 1, Previous::default());
            }
            let previous = &mut self.previous[place];
            let known = match previous.interned {
                Some((kept, id)) if kept == s => Some(id),
                _ => {
                    // One seeded hasher for every writer: a string hashes the same every time.
                    let hash = FIXED.hash_one(s);
                    let repeated = std::mem::replace(&mut previous.hash, hash) == hash;
                    previous.interned =
                        if repeated { intern(s) } else { None }.map(|(id, kept)| (kept, id));
                    previous.interned.map(|(_, id)| id)
                }
            };
            if let Some(id) = known {
                out.push(DICT_STRING);
                varint(out, u64::from(id));
                return;
            }
        }
        if s.len() < usize::from(LONG_STRING) {
            out.push(s.len() as u8);
        } else {
            out.push(LONG_STRING);
            varint(out, s.len() as u64);
        }
        out.extend_from_slice(s.as_bytes());
    }

    pub fn unsigned(&mut self, out: &mut Vec<u8>, n: u64) {
        out.push(UNSIGNED);
        varint(out, n);
    }

    pub fn value(&mut self, out: &mut Vec<u8>, value: &serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(s) => self.string(out, s),
            Value::Bool(true) => out.push(TRUE),
            Value::Bool(false) => out.push(FALSE),
            Value::Null => out.push(NULL),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    self.unsigned(out, u);
                } else if let Some(i) = n.as_i64() {
                    // Negative: -(i + 1) fits a u64.
                    out.push(NEGATIVE);
                    varint(out, !(i as u64));
                } else {
                    out.push(FLOAT);
                    out.extend_from_slice(&n.as_f64().unwrap_or_default().to_le_bytes());
                }
            }
            Value::Array(_) | Value::Object(_) => {
                let text = value.to_string();
                out.push(JSON_TEXT);
                varint(out, text.len() as u64);
                out.extend_from_slice(text.as_bytes());
            }
        }
    }

    pub fn map(&mut self, out: &mut Vec<u8>, map: &Named) {
        varint(out, map.len() as u64);
        for (name, value) in map {
            self.string(out, name);
            self.value(out, value);
        }
    }

    /// A message's fields, written as the named values [`Fields::to_named`] gives, without
    /// building them.
    pub fn fields(&mut self, out: &mut Vec<u8>, fields: &Fields) {
        let (reply_to, stream) = match fields {
            Fields::Named(named) => return self.map(out, named),
            Fields::Nats { reply_to, stream } => (reply_to, stream),
        };
        let count = usize::from(reply_to.is_some())
            + stream.as_ref().map_or(0, |p| {
                3 + usize::from(p.consumer_seq > 0) + usize::from(p.delivered > 0)
            });
        varint(out, count as u64);
        if let Some(reply_to) = reply_to {
            self.string(out, "reply_to");
            self.string(out, reply_to);
        }
        if let Some(p) = stream {
            self.string(out, "stream");
            self.string(out, &p.stream);
            self.string(out, "stream_seq");
            self.unsigned(out, p.stream_seq);
            if p.consumer_seq > 0 {
                self.string(out, "consumer_seq");
                self.unsigned(out, p.consumer_seq);
            }
            self.string(out, "timestamp_ms");
            self.unsigned(out, p.timestamp_ms);
            if p.delivered > 0 {
                self.string(out, "delivered");
                self.unsigned(out, p.delivered);
            }
        }
    }
}

/// The hasher every writer uses (`RandomState` is seeded per instance).
static FIXED: LazyLock<std::collections::hash_map::RandomState> =
    LazyLock::new(std::collections::hash_map::RandomState::new);

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads what a [`Writer`] wrote. Malformed input (it never is: the store wrote it) reads as
/// empty values rather than panicking.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

/// One value as read: strings borrowed from the record or the dictionary.
pub enum Item<'a> {
    Str(&'a str),
    Unsigned(u64),
    Negative(i64),
    Float(f64),
    Bool(bool),
    Null,
    Json(&'a str),
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// What is not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(*first)
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.bytes.len());
        let (taken, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        taken
    }

    fn text(&mut self, n: usize) -> &'a str {
        std::str::from_utf8(self.take(n)).unwrap_or("")
    }

    pub fn varint(&mut self) -> u64 {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(b) = self.byte() else { break };
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                break;
            }
        }
        n
    }

    pub fn item(&mut self) -> Item<'a> {
        let Some(tag) = self.byte() else {
            return Item::Null;
        };
        match tag {
            0..LONG_STRING => Item::Str(self.text(usize::from(tag))),
            LONG_STRING => {
                let n = self.varint() as usize;
                Item::Str(self.text(n))
            }
            DICT_STRING => Item::Str(dictionary_string(self.varint() as u32)),
            UNSIGNED => Item::Unsigned(self.varint()),
            NEGATIVE => Item::Negative(!self.varint() as i64),
            FLOAT => {
                let mut b = [0u8; 8];
                let t = self.take(8);
                b[..t.len()].copy_from_slice(t);
                Item::Float(f64::from_le_bytes(b))
            }
            TRUE => Item::Bool(true),
            FALSE => Item::Bool(false),
            JSON_TEXT => {
                let n = self.varint() as usize;
                Item::Json(self.text(n))
            }
            _ => Item::Null,
        }
    }

    pub fn str(&mut self) -> &'a str {
        match self.item() {
            Item::Str(s) => s,
            _ => "",
        }
    }

    pub fn map(&mut self) -> Named {
        let n = self.varint();
        let mut out = Named::new();
        for _ in 0..n {
            let name = self.str().to_string();
            let value = self.item().to_value();
            out.insert(name, value);
        }
        out
    }

    /// Skips a map, calling `each` with every name and value.
    pub fn each(&mut self, mut each: impl FnMut(&'a str, Item<'a>)) {
        let n = self.varint();
        for _ in 0..n {
            let name = self.str();
            let value = self.item();
            each(name, value);
        }
    }
}

impl Item<'_> {
    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Item::Str(s) => Value::String((*s).to_string()),
            Item::Unsigned(n) => (*n).into(),
            Item::Negative(n) => (*n).into(),
            Item::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Item::Bool(b) => Value::Bool(*b),
            Item::Null => Value::Null,
            Item::Json(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        }
    }

    /// Whether the value's text (as a table shows it) contains `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        match self {
            Item::Str(s) | Item::Json(s) => s.contains(needle),
            Item::Unsigned(n) => n.to_string().contains(needle),
            Item::Negative(n) => n.to_string().contains(needle),
            Item::Float(_) | Item::Bool(_) | Item::Null => {
                self.to_value().to_string().contains(needle)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_repeats_go_to_the_dictionary() {
        let mut map = Named::new();
        map.insert("content_type".into(), "application/json".into());
        map.insert("n".into(), 300.into());
        map.insert("neg".into(), (-5).into());
        map.insert("f".into(), 2.5.into());
        map.insert("t".into(), true.into());
        map.insert("z".into(), serde_json::Value::Null);
        map.insert("arr".into(), serde_json::json!([1, {"a": "b"}]));
        map.insert("long".into(), "x".repeat(300).into());
        map.insert("ü".into(), "ünïcode".into());
        let mut w = Writer::default();
        let mut first = Vec::new();
        w.begin();
        w.map(&mut first, &map);
        let mut second = Vec::new();
        w.begin();
        w.map(&mut second, &map);
        assert!(second.len() < first.len(), "repeated strings are ids");
        for bytes in [&first, &second] {
            let mut r = Reader::new(bytes);
            let read = r.map();
            assert_eq!(read, map);
            assert_eq!(
                read.keys().collect::<Vec<_>>(),
                map.keys().collect::<Vec<_>>()
            );
            assert!(r.rest().is_empty());
        }
        // Truncated input reads as empty values, without panicking.
        for cut in 0..second.len() {
            let _ = Reader::new(&second[..cut]).map();
        }
    }
}
