//! `multipart/form-data` request bodies (RFC 7578), as curl `-F` and Postman form-data send
//! them: text parts and file parts read at send time, a boundary made per request.
//!
//! Written here rather than taken from a crate: reqwest's `multipart::Form` only goes out
//! through reqwest's own client (we drive hyper ourselves and need the bytes, to show and time
//! them), `multer` only parses, and encoding is a few lines of framing.

use std::path::PathBuf;

use crate::exchange::ExchangeError;

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FormPart {
    pub name: String,
    /// The text of a text part (ignored when `file` is set).
    pub value: String,
    /// A file part: its contents are read when the request is sent.
    pub file: Option<PathBuf>,
    /// The file name sent (default: the file's own name).
    pub filename: Option<String>,
    /// The part's `Content-Type` (default for files: guessed from the extension, as curl does;
    /// none for text parts).
    pub content_type: Option<String>,
}

impl FormPart {
    pub fn text(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            ..Self::default()
        }
    }

    pub fn file(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            file: Some(path.into()),
            ..Self::default()
        }
    }
}

/// An encoded form: the `Content-Type` header value (with the boundary) and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A boundary unlikely to occur in any part: a fixed prefix and 128 random bits (the standard
/// library's per-process random hash keys, mixed with the time and a counter).
pub fn boundary() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut words = [0u64; 2];
    for (i, word) in words.iter_mut().enumerate() {
        let mut hasher = std::hash::RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u64(n);
        hasher.write_usize(i);
        *word = hasher.finish();
    }
    format!("----------switchboard{:016x}{:016x}", words[0], words[1])
}

/// Encodes the parts, reading file parts now.
pub async fn encode(parts: &[FormPart]) -> Result<Encoded, ExchangeError> {
    let mut contents = Vec::with_capacity(parts.len());
    for part in parts {
        contents.push(match &part.file {
            Some(path) => tokio::fs::read(path).await.map_err(|e| {
                ExchangeError::invalid_input(format!(
                    "form part {:?}: cannot read {}: {e}",
                    part.name,
                    path.display()
                ))
            })?,
            None => part.value.clone().into_bytes(),
        });
    }
    Ok(encode_with(parts, &contents, &boundary()))
}

/// The framing, given each part's bytes and the boundary.
pub fn encode_with(parts: &[FormPart], contents: &[Vec<u8>], boundary: &str) -> Encoded {
    let mut body = Vec::new();
    for (part, data) in parts.iter().zip(contents) {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!(
            "Content-Disposition: form-data; name=\"{}\"",
            escape(&part.name)
        );
        let content_type = match &part.file {
            Some(path) => {
                let filename = part.filename.clone().unwrap_or_else(|| {
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                });
                disposition.push_str(&format!("; filename=\"{}\"", escape(&filename)));
                Some(
                    part.content_type
                        .clone()
                        .unwrap_or_else(|| guess_type(&filename).to_string()),
                )
            }
            None => {
                if let Some(filename) = &part.filename {
                    disposition.push_str(&format!("; filename=\"{}\"", escape(filename)));
                }
                part.content_type.clone()
            }
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(t) = content_type.filter(|t| !t.trim().is_empty()) {
            body.extend_from_slice(format!("Content-Type: {}\r\n", t.trim()).as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Encoded {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        body,
    }
}

/// Names and file names in quotes, escaped as browsers and curl do (`"` `\r` `\n` as `%22`
/// `%0D` `%0A`).
fn escape(text: &str) -> String {
    text.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A file part's type from its extension, as curl guesses it (else `application/octet-stream`).
pub fn guess_type(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gif" => "image/gif",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_framed_as_rfc_7578_says() {
        let parts = [
            FormPart::text("title", "hello"),
            FormPart {
                content_type: Some("text/markdown".to_string()),
                ..FormPart::file("doc", "/x/notes \"v2\".md")
            },
            FormPart::file("pic", "/x/a.PNG"),
        ];
        let contents = [b"hello".to_vec(), b"# hi".to_vec(), vec![0, 1]];
        let e = encode_with(&parts, &contents, "B");
        assert_eq!(e.content_type, "multipart/form-data; boundary=B");
        let mut expected = b"--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n\
--B\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"notes %22v2%22.md\"\r\nContent-Type: text/markdown\r\n\r\n# hi\r\n\
--B\r\nContent-Disposition: form-data; name=\"pic\"; filename=\"a.PNG\"\r\nContent-Type: image/png\r\n\r\n"
            .to_vec();
        expected.extend_from_slice(&[0, 1]);
        expected.extend_from_slice(b"\r\n--B--\r\n");
        assert_eq!(e.body, expected);
        assert_ne!(boundary(), boundary());
    }
}
