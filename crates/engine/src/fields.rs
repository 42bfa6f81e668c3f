//! The fields a request form is made of, shared by every transport's request type and the saved
//! file: header rows (a disabled row is kept but not sent) and a body as the user wrote it.

use serde::{Deserialize, Serialize};

use crate::exchange::Header;

/// A header or metadata row; a disabled row is kept but not sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedHeader {
    pub name: String,
    pub value: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
}

pub(crate) fn yes() -> bool {
    true
}

pub(crate) fn is_true(b: &bool) -> bool {
    *b
}

impl SavedHeader {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            enabled: true,
        }
    }

    /// A row with neither name nor value (an editor's new, untouched row): not saved.
    pub fn is_blank(&self) -> bool {
        self.name.is_empty() && self.value.is_empty()
    }
}

pub(crate) fn sent(rows: &[SavedHeader]) -> Vec<Header> {
    rows.iter()
        .filter(|r| r.enabled && !r.name.trim().is_empty())
        .map(|r| Header::new(r.name.trim(), r.value.trim()))
        .collect()
}

/// A body as written in the file: JSON embedded as JSON when the text is exactly its pretty
/// form (so diffs read well and the round trip is exact), any other text as a string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SavedBody {
    Text(String),
    Json(serde_json::Value),
}

impl SavedBody {
    pub fn from_text(text: &str) -> Option<Self> {
        if text.is_empty() {
            return None;
        }
        if let Ok(value @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) =
            serde_json::from_str::<serde_json::Value>(text)
            && serde_json::to_string_pretty(&value).is_ok_and(|pretty| pretty == text)
        {
            return Some(Self::Json(value));
        }
        Some(Self::Text(text.to_string()))
    }

    pub fn to_text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Json(value) => serde_json::to_string_pretty(value).unwrap_or_default(),
        }
    }
}

pub(crate) fn body_text(body: &Option<SavedBody>) -> String {
    body.as_ref().map(SavedBody::to_text).unwrap_or_default()
}

/// The bytes of a body kept as text (`body`) or, when binary, as base64 (`body_base64`): the
/// binary one when there is one.
pub(crate) fn body_or_base64(
    body: &Option<SavedBody>,
    body_base64: &Option<String>,
) -> Result<Vec<u8>, crate::exchange::ExchangeError> {
    use base64::Engine as _;
    match body_base64 {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| {
                crate::exchange::ExchangeError::invalid_input(format!(
                    "body_base64 is not base64: {e}"
                ))
            }),
        None => Ok(body_text(body).into_bytes()),
    }
}

/// Bytes as a body to keep: text when UTF-8 (`body`), else base64 (`body_base64`).
pub(crate) fn text_or_base64(bytes: Vec<u8>) -> (Option<SavedBody>, Option<String>) {
    use base64::Engine as _;
    match String::from_utf8(bytes) {
        Ok(text) => (SavedBody::from_text(&text), None),
        Err(e) => (
            None,
            Some(base64::engine::general_purpose::STANDARD.encode(e.into_bytes())),
        ),
    }
}

pub(crate) fn one() -> u32 {
    1
}

pub(crate) fn is_one(n: &u32) -> bool {
    *n == 1
}
