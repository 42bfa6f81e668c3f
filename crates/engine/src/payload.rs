//! Payloads: body bytes and how to show them (JSON, text or binary).

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// A body as bytes. In JSON it is embedded as JSON when it parses as a JSON object, array,
/// number, boolean or null; as a string when it is UTF-8 text; else as base64 under
/// `body_base64`. An empty body is `"body": null`. When an embedded JSON body would not
/// re-serialize to the very same bytes (whitespace, number formatting), the exact text is kept
/// under `body_raw` too, so that exports re-import byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "BodyRepr", into = "BodyRepr")]
pub struct Body {
    pub bytes: Vec<u8>,
    /// True when the body was larger than the capture limit and only its start is kept.
    pub truncated: bool,
}

/// How a body is best shown.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyView {
    Empty,
    Json(serde_json::Value),
    Text(String),
    Binary,
}

impl Body {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: bytes.into(),
            truncated: false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn view(&self) -> BodyView {
        if self.bytes.is_empty() {
            return BodyView::Empty;
        }
        let Ok(text) = std::str::from_utf8(&self.bytes) else {
            return BodyView::Binary;
        };
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::String(_)) | Err(_) => BodyView::Text(text.to_string()),
            Ok(value) => BodyView::Json(value),
        }
    }

    /// [`Body::display_text`] of at most the first [`PREVIEW_BYTES`] (binary: [`PREVIEW_BINARY_BYTES`]),
    /// and how many bytes were left out: what a terminal can show of a huge body.
    pub fn preview_text(&self) -> (String, usize) {
        if self.bytes.len() <= PREVIEW_BYTES {
            let text = self.display_text();
            if !matches!(self.view(), BodyView::Binary) || self.bytes.len() <= PREVIEW_BINARY_BYTES
            {
                return (text, 0);
            }
        }
        let head = &self.bytes[..self.bytes.len().min(PREVIEW_BYTES)];
        let text = match std::str::from_utf8(head) {
            Ok(text) => text.to_string(),
            // Cut inside a character: keep the valid start.
            Err(e) if e.valid_up_to() + 4 >= head.len() && e.valid_up_to() > 0 => {
                String::from_utf8_lossy(&head[..e.valid_up_to()]).into_owned()
            }
            Err(_) => {
                let head = &self.bytes[..self.bytes.len().min(PREVIEW_BINARY_BYTES)];
                return (hex_dump(head), self.bytes.len() - head.len());
            }
        };
        let omitted = self.bytes.len() - text.len();
        (text, omitted)
    }

    /// Pretty JSON, the text itself, or a hex dump for binary bodies.
    pub fn display_text(&self) -> String {
        match self.view() {
            BodyView::Empty => String::new(),
            BodyView::Json(value) => serde_json::to_string_pretty(&value).unwrap_or_default(),
            BodyView::Text(text) => text,
            BodyView::Binary => hex_dump(&self.bytes),
        }
    }
}

/// The most of a text body a terminal preview shows.
pub const PREVIEW_BYTES: usize = 64 * 1024;
/// The most of a binary body a terminal preview shows (as a hex dump, ~4.5× as long).
pub const PREVIEW_BINARY_BYTES: usize = 4 * 1024;

/// A classic hex dump: offset, 16 bytes in hex, the printable ASCII.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 4 + 16);
    for (row, chunk) in bytes.chunks(16).enumerate() {
        out.push_str(&format!("{:08x}  ", row * 16));
        for i in 0..16 {
            match chunk.get(i) {
                Some(b) => out.push_str(&format!("{b:02x} ")),
                None => out.push_str("   "),
            }
            if i == 7 {
                out.push(' ');
            }
        }
        out.push(' ');
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        out.push('\n');
    }
    out
}

#[derive(Serialize, Deserialize)]
struct BodyRepr {
    #[serde(default)]
    body: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_raw: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    body_truncated: bool,
}

impl From<Body> for BodyRepr {
    fn from(body: Body) -> Self {
        let mut raw = None;
        let (value, base64) = match body.view() {
            BodyView::Empty => (None, None),
            BodyView::Json(value) => {
                if serde_json::to_vec(&value).ok().as_deref() != Some(body.bytes.as_slice()) {
                    raw = Some(String::from_utf8_lossy(&body.bytes).into_owned());
                }
                (Some(value), None)
            }
            BodyView::Text(text) => (Some(serde_json::Value::String(text)), None),
            BodyView::Binary => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(&body.bytes)),
            ),
        };
        Self {
            body: value,
            body_base64: base64,
            body_raw: raw,
            body_truncated: body.truncated,
        }
    }
}

impl From<BodyRepr> for Body {
    fn from(repr: BodyRepr) -> Self {
        let bytes = match (repr.body_base64, repr.body) {
            _ if repr.body_raw.is_some() => repr.body_raw.unwrap_or_default().into_bytes(),
            (Some(b64), _) => base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .unwrap_or_default(),
            (None, None | Some(serde_json::Value::Null)) => Vec::new(),
            (None, Some(serde_json::Value::String(text))) => text.into_bytes(),
            (None, Some(value)) => serde_json::to_vec(&value).unwrap_or_default(),
        };
        Self {
            bytes,
            truncated: repr.body_truncated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(body: &Body) -> (serde_json::Value, Body) {
        let json = serde_json::to_value(body).unwrap();
        let back: Body = serde_json::from_value(json.clone()).unwrap();
        (json, back)
    }

    #[test]
    fn json_text_and_binary_bodies_serialize_as_documented() {
        let (json, back) = round_trip(&Body::new(br#"{"id":"1"}"#.to_vec()));
        assert_eq!(json, serde_json::json!({"body": {"id": "1"}}));
        assert_eq!(back.bytes, br#"{"id":"1"}"#);

        let (json, back) = round_trip(&Body::new(b"Order data for user 1".to_vec()));
        assert_eq!(json, serde_json::json!({"body": "Order data for user 1"}));
        assert_eq!(back.bytes, b"Order data for user 1");

        // A JSON string literal stays text, quotes included.
        let (json, back) = round_trip(&Body::new(br#""quoted""#.to_vec()));
        assert_eq!(json, serde_json::json!({"body": "\"quoted\""}));
        assert_eq!(back.bytes, br#""quoted""#);

        let binary = Body::new(vec![0xff, 0x00, 0xfe]);
        let (json, back) = round_trip(&binary);
        assert_eq!(
            json,
            serde_json::json!({"body": null, "body_base64": "/wD+"})
        );
        assert_eq!(back, binary);

        // Pretty or reordered JSON is embedded and kept exactly.
        let pretty = Body::new(b"{\n  \"b\": 1,\n  \"a\": 2.50\n}".to_vec());
        let (json, back) = round_trip(&pretty);
        assert_eq!(json["body"]["a"], 2.5);
        assert!(json["body_raw"].is_string());
        assert_eq!(back, pretty);
        let compact = Body::new(br#"{"b":1,"a":[true,null]}"#.to_vec());
        let (json, back) = round_trip(&compact);
        assert!(
            json.get("body_raw").is_none(),
            "compact JSON needs no raw copy: {json}"
        );
        assert_eq!(back, compact);

        let (json, back) = round_trip(&Body::default());
        assert_eq!(json, serde_json::json!({"body": null}));
        assert!(back.is_empty());
    }

    #[test]
    fn previews_of_huge_bodies_are_bounded() {
        let (text, omitted) = Body::new(vec![b'a'; 10]).preview_text();
        assert_eq!((text.as_str(), omitted), ("aaaaaaaaaa", 0));
        let big = Body::new(vec![b'x'; 10 * PREVIEW_BYTES]);
        let (text, omitted) = big.preview_text();
        assert_eq!(text.len(), PREVIEW_BYTES);
        assert_eq!(omitted, 9 * PREVIEW_BYTES);
        let binary = Body::new(vec![0xffu8; 32 * 1024 * 1024]);
        let (text, omitted) = binary.preview_text();
        assert!(text.len() < 5 * PREVIEW_BINARY_BYTES, "{}", text.len());
        assert_eq!(omitted, 32 * 1024 * 1024 - PREVIEW_BINARY_BYTES);
        let small_binary = Body::new(vec![0xffu8; 100]);
        assert_eq!(small_binary.preview_text().1, 0);
        // A multi-byte character cut at the limit.
        let mut cut = vec![b'a'; PREVIEW_BYTES - 1];
        cut.extend("é".repeat(10).as_bytes());
        let (text, omitted) = Body::new(cut).preview_text();
        assert_eq!(text.len(), PREVIEW_BYTES - 1);
        assert_eq!(omitted, 20);
    }

    #[test]
    fn hex_dump_shows_offsets_and_ascii() {
        let dump = hex_dump(b"ABC\x00");
        assert!(dump.starts_with("00000000  41 42 43 00"), "{dump}");
        assert!(dump.trim_end().ends_with("ABC."), "{dump}");
    }
}
