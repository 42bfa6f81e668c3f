//! (Over 800 lines only with its unit tests: 630 lines of code, then the tests.)
//!
//! The saved request file: what a request looks like on disk, and how it becomes something the
//! engine runs once its `{{variables}}` are filled in.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::FORMAT_VERSION;
use super::expect::Expect;
use super::vars::Vars;
use crate::amqp::{Properties, PublishRequest};
use crate::credentials::{is_sensitive, is_sensitive_name, take_url_password, url_password};
use crate::descriptors::DescriptorSource;
pub use crate::fields::{SavedBody, SavedHeader};
use crate::fields::{body_text, is_one, is_true, one, sent, yes};
use crate::grpc::GrpcRequest;
use crate::http::{DEFAULT_MAX_BODY_BYTES, HttpRequest};
use crate::kafka::KafkaRequest;
use crate::kafka::watch::KafkaWatch;
use crate::multipart::FormPart;
use crate::nats::NatsRequest;
use crate::nats::watch::NatsWatch;
use crate::net::TlsOptions;
use crate::watch::{WatchMode, WatchSpec};
use crate::{ExchangeError, Header, RequestSpec, WatchRequest};

/// One saved request file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedRequest {
    pub version: u32,
    pub name: String,
    /// What the user should know about this request that its fields do not say (e.g. a
    /// Postman script that was not imported).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(flatten)]
    pub spec: SavedSpec,
    #[serde(default, skip_serializing_if = "Expect::is_empty")]
    pub expect: Expect,
}

/// What kind of request, and its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SavedSpec {
    Http(SavedHttp),
    Grpc(SavedGrpc),
    Amqp(SavedAmqp),
    Watch(SavedWatch),
    Nats(NatsRequest),
    #[serde(rename = "nats-watch")]
    NatsWatch(NatsWatch),
    Kafka(KafkaRequest),
    #[serde(rename = "kafka-watch")]
    KafkaWatch(KafkaWatch),
}

impl SavedSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http(_) => "HTTP",
            Self::Grpc(_) => "gRPC",
            Self::Amqp(_) => "AMQP",
            Self::Watch(_) => "watch",
            Self::Nats(_) => "NATS",
            Self::NatsWatch(_) => "NATS watch",
            Self::Kafka(_) => "Kafka",
            Self::KafkaWatch(_) => "Kafka watch",
        }
    }
}

/// Like [`sent`], for HTTP headers and gRPC metadata: an `Authorization: Basic user:password`
/// still in clear (a colon, which base64 never holds) is encoded now. That is how basic auth
/// made of variables (`{{client-id}}:{{client-secret}}`) is kept: filled first, then encoded.
fn sent_with_auth(rows: &[SavedHeader]) -> Vec<Header> {
    let mut headers = sent(rows);
    for h in &mut headers {
        if let Some(clear) = clear_basic_credentials(&h.name, &h.value) {
            h.value = basic_auth(clear);
        }
    }
    headers
}

/// The `user:password` of an `Authorization: Basic user:password` header not yet encoded.
pub fn clear_basic_credentials<'a>(name: &str, value: &'a str) -> Option<&'a str> {
    let name = name.trim();
    if !name.eq_ignore_ascii_case("authorization")
        && !name.eq_ignore_ascii_case("proxy-authorization")
    {
        return None;
    }
    let (scheme, credentials) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("basic") && credentials.contains(':'))
        .then_some(credentials.trim_start())
}

/// `Basic base64(user:password)`.
pub fn basic_auth(user_password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_password)
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters, as curl's
/// `--data-urlencode` does (`+` → `%2B`, space → `%20`).
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether the rows send a form body (`application/x-www-form-urlencoded`).
pub fn is_form(rows: &[SavedHeader]) -> bool {
    rows.iter().any(|h| {
        h.enabled
            && h.name.trim().eq_ignore_ascii_case("content-type")
            && h.value
                .trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
    })
}

/// TLS files, relative to the collection folder or absolute.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SavedTls {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca_file: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert_file: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_file: String,
}

impl SavedTls {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// The paths without the spaces around them, as saved.
    pub fn trimmed(&self) -> Self {
        Self {
            ca_file: self.ca_file.trim().to_string(),
            cert_file: self.cert_file.trim().to_string(),
            key_file: self.key_file.trim().to_string(),
        }
    }

    /// The TLS files, relative paths taken from `root`.
    pub fn options(&self, root: &Path) -> TlsOptions {
        let path = |s: &str| (!s.trim().is_empty()).then(|| root.join(s.trim()));
        TlsOptions {
            ca_file: path(&self.ca_file),
            cert_file: path(&self.cert_file),
            key_file: path(&self.key_file),
        }
    }
}

/// One part of a `multipart/form-data` body: text (`value`) or a file referenced by its path
/// (relative to the collection folder, or absolute), read when the request is sent — never
/// copied into the collection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SavedFormPart {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file: String,
    /// The part's `Content-Type` (files: guessed from the extension when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content_type: String,
    /// The file name sent (default: the file's own).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filename: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
}

impl SavedFormPart {
    pub fn text(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            enabled: true,
            ..Self::default()
        }
    }

    pub fn file(name: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            file: path.into(),
            enabled: true,
            ..Self::default()
        }
    }

    fn to_part(&self, root: &Path) -> FormPart {
        let given = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        FormPart {
            name: self.name.clone(),
            value: self.value.clone(),
            file: given(&self.file).map(|f| root.join(f)),
            filename: given(&self.filename),
            content_type: given(&self.content_type),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedHttp {
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<SavedHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<SavedBody>,
    /// A `multipart/form-data` body (curl `-F`, Postman form-data): when it has parts, they
    /// are sent instead of `body`, with a boundary made at send time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub form: Vec<SavedFormPart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "SavedTls::is_empty")]
    pub tls: SavedTls,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedGrpc {
    pub addr: String,
    pub method: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<SavedHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<SavedBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Where message types come from: reflection unless `.proto` files or a protoset are given
    /// (paths relative to the collection folder).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protos: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub import_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protoset: String,
    #[serde(default, skip_serializing_if = "SavedTls::is_empty")]
    pub tls: SavedTls,
}

impl SavedGrpc {
    pub fn descriptor_source(&self, root: &Path) -> DescriptorSource {
        if !self.protos.is_empty() {
            DescriptorSource::Protos {
                files: self.protos.iter().map(|p| root.join(p)).collect(),
                includes: self.import_paths.iter().map(|p| root.join(p)).collect(),
            }
        } else if !self.protoset.is_empty() {
            DescriptorSource::Protoset(root.join(&self.protoset))
        } else {
            DescriptorSource::Reflection
        }
    }
}

/// The AMQP properties beyond content type, ids and persistence; each is left out of the file
/// when unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoreProps {
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reply_to: String,
    /// The message's TTL in milliseconds, as AMQP sends it (text).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expiration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedAmqp {
    pub url: String,
    pub exchange: String,
    pub routing_key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub correlation_id: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub persistent: bool,
    #[serde(flatten)]
    pub more: MoreProps,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<SavedHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<SavedBody>,
    /// Ask the broker to return the message when no queue is bound (default true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub mandatory: bool,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedWatch {
    pub url: String,
    pub mode: WatchMode,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exchange: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub binding: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub queue: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peek_limit: Option<u32>,
}

/// What a saved request becomes once resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Runnable {
    Request(RequestSpec),
    Watch(WatchRequest),
}

/// The variable name for a secret of this request: `get_user_authorization`.
fn secret_name(request: &str, what: &str) -> String {
    let mut out = super::slug(request).replace('-', "_");
    out.push('_');
    out.push_str(&super::slug(what).replace('-', "_"));
    out
}

/// True when a credential holds literal text worth keeping out of the folder: not when it is
/// only `{{references}}`, an auth scheme and separators (`Bearer {{token}}`,
/// `Basic {{id}}:{{secret}}`).
fn holds_literal_secret(value: &str) -> bool {
    let mut literal = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        literal.push_str(&rest[..start]);
        literal.push(' ');
        rest = &rest[start + 4 + len..];
    }
    literal.push_str(rest);
    let mut words = literal.split([' ', ':', '\t']).filter(|w| !w.is_empty());
    let first = words.next();
    let scheme_only = first.is_some_and(|w| {
        ["bearer", "basic", "token", "digest", "apikey"]
            .iter()
            .any(|s| w.eq_ignore_ascii_case(s))
    }) && (words.next().is_none() && value.contains("{{"));
    first.is_some() && !scheme_only
}

impl SavedRequest {
    pub fn new(name: impl Into<String>, spec: SavedSpec) -> Self {
        Self {
            version: FORMAT_VERSION,
            name: name.into(),
            notes: Vec::new(),
            spec,
            expect: Expect::default(),
        }
    }

    /// Moves literal credentials out of the request, with variable names made from the
    /// request's name (see [`Self::extract_secrets_named`]).
    pub fn extract_secrets(&mut self) -> Vec<(String, String)> {
        let prefix = self.name.clone();
        self.extract_secrets_named(&prefix, &|_, _| false)
    }

    /// Moves literal credentials out of the request: sensitive header values and URL
    /// passwords become `{{prefix_header}}` references; returns (variable, value) pairs for
    /// the secret store. A value that is only references (and an auth scheme) is left alone.
    /// Names are unique within the request (`_2`, `_3`… for a second header of one name),
    /// and a name for which `taken(name, value)` says it already holds another value is not
    /// used either: a secret never replaces a different one.
    pub fn extract_secrets_named(
        &mut self,
        prefix: &str,
        taken: &dyn Fn(&str, &str) -> bool,
    ) -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = Vec::new();
        let unique = |base: String, value: &str, found: &[(String, String)]| -> String {
            let mut n = 1;
            loop {
                let name = if n == 1 {
                    base.clone()
                } else {
                    format!("{base}_{n}")
                };
                if !found.iter().any(|(f, _)| *f == name) && !taken(&name, value) {
                    return name;
                }
                n += 1;
            }
        };
        let headers = |rows: &mut Vec<SavedHeader>, found: &mut Vec<(String, String)>| {
            for row in rows.iter_mut() {
                if is_sensitive(&row.name, &row.value)
                    && !row.value.trim().is_empty()
                    && holds_literal_secret(&row.value)
                {
                    let var = unique(secret_name(prefix, &row.name), &row.value, found);
                    found.push((var.clone(), std::mem::take(&mut row.value)));
                    row.value = format!("{{{{{var}}}}}");
                }
            }
        };
        let url = |url: &mut String, what: &str, found: &mut Vec<(String, String)>| {
            if let Some((_, password, _)) = url_password(url) {
                let var = unique(secret_name(prefix, what), password, found);
                if let Some(p) = take_url_password(url, &var) {
                    found.push((var, p));
                }
            }
        };
        match &mut self.spec {
            SavedSpec::Http(h) => {
                headers(&mut h.headers, &mut found);
                url(&mut h.url, "password", &mut found);
                // Form text parts named like credentials (`client_secret`, `password`…).
                for part in h.form.iter_mut().filter(|p| p.file.is_empty()) {
                    if is_sensitive_name(&part.name)
                        && !part.value.trim().is_empty()
                        && holds_literal_secret(&part.value)
                    {
                        let var = unique(secret_name(prefix, &part.name), &part.value, &found);
                        found.push((var.clone(), std::mem::take(&mut part.value)));
                        part.value = format!("{{{{{var}}}}}");
                    }
                }
            }
            SavedSpec::Grpc(g) => headers(&mut g.metadata, &mut found),
            SavedSpec::Amqp(a) => {
                headers(&mut a.headers, &mut found);
                url(&mut a.url, "amqp password", &mut found);
            }
            SavedSpec::Watch(w) => url(&mut w.url, "amqp password", &mut found),
            SavedSpec::Nats(n) => {
                headers(&mut n.headers, &mut found);
                url(&mut n.url, "nats password", &mut found);
            }
            SavedSpec::NatsWatch(w) => url(&mut w.url, "nats password", &mut found),
            SavedSpec::Kafka(k) => headers(&mut k.headers, &mut found),
            SavedSpec::KafkaWatch(_) => {}
        }
        found
    }

    /// The spec with every `{{variable}}` filled in, or the names that have no value.
    /// In a form body (`application/x-www-form-urlencoded`), filled-in values are
    /// form-encoded (the text around them is sent as written), as Postman does.
    pub fn substituted(&self, vars: &Vars) -> Result<SavedSpec, Vec<String>> {
        let mut spec = self.spec.clone();
        let form_body = match &mut spec {
            SavedSpec::Http(h) if is_form(&h.headers) => h.body.take(),
            _ => None,
        };
        let mut value = serde_json::to_value(&spec).map_err(|e| vec![e.to_string()])?;
        let mut unresolved = Vec::new();
        fill(&mut value, vars, &mut unresolved);
        let form_body =
            form_body.map(|b| vars.substitute_with(&b.to_text(), &mut unresolved, &form_encode));
        if !unresolved.is_empty() {
            return Err(unresolved);
        }
        let mut spec: SavedSpec = serde_json::from_value(value).map_err(|e| vec![e.to_string()])?;
        if let (SavedSpec::Http(h), Some(text)) = (&mut spec, form_body) {
            h.body = SavedBody::from_text(&text);
        }
        Ok(spec)
    }

    /// The `{{names}}` this request uses that `vars` cannot fill.
    pub fn unresolved(&self, vars: &Vars) -> Vec<String> {
        self.substituted(vars).err().unwrap_or_default()
    }

    /// What to run: variables filled in, relative paths taken from `root`.
    pub fn resolve(
        &self,
        vars: &Vars,
        root: &Path,
        default_timeout: Duration,
    ) -> Result<Runnable, ExchangeError> {
        let spec = self.substituted(vars).map_err(|names| {
            ExchangeError::invalid_input(format!(
                "unresolved variable{} {}: set {} in the environment, or pass --var NAME=VALUE",
                if names.len() == 1 { "" } else { "s" },
                super::vars::braced(&names),
                if names.len() == 1 { "it" } else { "them" },
            ))
        })?;
        spec.to_runnable(root, default_timeout)
    }
}

impl SavedSpec {
    /// What the engine runs (variables must already be filled in).
    pub fn to_runnable(
        &self,
        root: &Path,
        default_timeout: Duration,
    ) -> Result<Runnable, ExchangeError> {
        // `timeout_ms: 0` (hand-written) means the default, never a zero timeout.
        let timeout = |ms: Option<u64>| {
            ms.filter(|ms| *ms > 0)
                .map_or(default_timeout, Duration::from_millis)
        };
        Ok(match self {
            Self::Http(h) => Runnable::Request(RequestSpec::Http(HttpRequest {
                method: h.method.trim().to_ascii_uppercase(),
                url: h.url.trim().to_string(),
                headers: sent_with_auth(&h.headers),
                body: body_text(&h.body).into_bytes(),
                body_file: None,
                form: h
                    .form
                    .iter()
                    .filter(|p| p.enabled)
                    .map(|p| p.to_part(root))
                    .collect(),
                timeout: timeout(h.timeout_ms),
                max_body_bytes: DEFAULT_MAX_BODY_BYTES,
                tls: h.tls.options(root),
            })),
            Self::Grpc(g) => Runnable::Request(RequestSpec::Grpc(GrpcRequest {
                addr: g.addr.trim().to_string(),
                method: g.method.trim().to_string(),
                metadata: sent_with_auth(&g.metadata),
                json: match &g.message {
                    Some(m) => m.to_text(),
                    None => "{}".to_string(),
                },
                timeout: timeout(g.timeout_ms),
                tls: g.tls.options(root),
            })),
            Self::Amqp(a) => {
                let none_if_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
                Runnable::Request(RequestSpec::Amqp(Box::new(PublishRequest {
                    properties: Properties {
                        content_type: none_if_empty(&a.content_type),
                        message_id: none_if_empty(&a.message_id),
                        correlation_id: none_if_empty(&a.correlation_id),
                        timestamp: Some(crate::recorder::unix_ms() / 1000),
                        delivery_mode: a.persistent.then_some(2),
                        priority: a.more.priority,
                        kind: none_if_empty(&a.more.kind),
                        app_id: none_if_empty(&a.more.app_id),
                        user_id: none_if_empty(&a.more.user_id),
                        reply_to: none_if_empty(&a.more.reply_to),
                        expiration: none_if_empty(&a.more.expiration),
                        ..Properties::default()
                    },
                    headers: sent(&a.headers),
                    mandatory: a.mandatory,
                    count: a.count.max(1),
                    timeout: timeout(a.timeout_ms),
                    ..PublishRequest::new(
                        a.url.trim(),
                        a.exchange.trim(),
                        a.routing_key.trim(),
                        body_text(&a.body).into_bytes(),
                    )
                })))
            }
            Self::Watch(w) => Runnable::Watch(WatchRequest::Amqp(WatchSpec {
                url: w.url.trim().to_string(),
                mode: w.mode,
                exchange: w.exchange.trim().to_string(),
                binding: if w.binding.trim().is_empty() {
                    "#".to_string()
                } else {
                    w.binding.trim().to_string()
                },
                queue: w.queue.trim().to_string(),
                peek_limit: w.peek_limit.unwrap_or(100).max(1),
                limit: None,
            })),
            Self::Nats(n) => {
                let mut n = n.trimmed();
                n.timeout_ms = Some(n.timeout(default_timeout).as_millis() as u64);
                Runnable::Request(RequestSpec::Nats(Box::new(n)))
            }
            Self::NatsWatch(w) => Runnable::Watch(WatchRequest::Nats(w.clone())),
            Self::Kafka(k) => {
                let mut k = k.trimmed();
                k.timeout_ms = Some(k.timeout(default_timeout).as_millis() as u64);
                Runnable::Request(RequestSpec::Kafka(Box::new(k)))
            }
            Self::KafkaWatch(w) => Runnable::Watch(WatchRequest::Kafka(w.clone())),
        })
    }
}

/// Substitutes variables in every string of a JSON value.
fn fill(value: &mut serde_json::Value, vars: &Vars, unresolved: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) if s.contains("{{") => {
            *s = vars.substitute(s, unresolved);
        }
        serde_json::Value::Array(items) => {
            for item in items {
                fill(item, vars, unresolved);
            }
        }
        serde_json::Value::Object(map) => {
            for (_, item) in map.iter_mut() {
                fill(item, vars, unresolved);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nats_request_is_saved_as_itself_with_variables_and_secrets_moved_out() {
        let text = r#"{
  "version": 1,
  "name": "Look up user",
  "kind": "nats",
  "url": "nats://app:s3cret@{{nats_host}}:4222",
  "subject": "{{user_subject}}",
  "headers": [{"name": "Authorization", "value": "Bearer tok"}],
  "body": {"user_id": "{{user_id}}"},
  "timeout_ms": 1500
}"#;
        let mut saved: SavedRequest = serde_json::from_str(text).unwrap();
        assert_eq!(saved.spec.kind(), "NATS");
        let secrets = saved.extract_secrets();
        assert_eq!(secrets.len(), 2, "{secrets:?}");
        let SavedSpec::Nats(n) = &saved.spec else {
            panic!("not NATS: {:?}", saved.spec)
        };
        assert!(
            !n.url.contains("s3cret") && n.url.contains("{{"),
            "{}",
            n.url
        );
        assert!(n.headers[0].value.starts_with("{{"), "{:?}", n.headers);
        let mut vars = Vars::new();
        for (name, value) in &secrets {
            vars.set(name, value);
        }
        vars.set("nats_host", "127.0.0.1");
        vars.set("user_subject", "user.get");
        vars.set("user_id", "3");
        let Runnable::Request(RequestSpec::Nats(req)) = saved
            .resolve(&vars, Path::new("."), Duration::from_secs(30))
            .unwrap()
        else {
            panic!("not a NATS request")
        };
        assert_eq!(req.url, "nats://app:s3cret@127.0.0.1:4222");
        assert_eq!(req.subject, "user.get");
        assert_eq!(req.headers[0].value, "Bearer tok");
        assert_eq!(req.body_bytes().unwrap(), b"{\n  \"user_id\": \"3\"\n}");
        assert_eq!(req.timeout_ms, Some(1500));
        // A NATS watch too.
        let watch: SavedRequest = serde_json::from_str(
            r#"{"version":1,"name":"w","kind":"nats-watch","url":"nats://127.0.0.1:4222","mode":"stream_tap","stream":"ORDERS","from":"seq:3"}"#,
        )
        .unwrap();
        let Runnable::Watch(WatchRequest::Nats(w)) = watch
            .resolve(&Vars::new(), Path::new("."), Duration::from_secs(30))
            .unwrap()
        else {
            panic!("not a NATS watch")
        };
        assert_eq!(w.describe(), "stream tap ORDERS from seq:3");
    }

    #[test]
    fn a_kafka_produce_and_watch_are_saved_and_filled_in() {
        let text = r#"{
  "version": 1,
  "name": "order",
  "kind": "kafka",
  "url": "kafka://{{host}}:9092",
  "topic": "orders",
  "key": "{{user_id}}",
  "acks": "1",
  "body": {"user_id": "{{user_id}}"}
}"#;
        let saved: SavedRequest = serde_json::from_str(text).unwrap();
        assert_eq!(saved.spec.kind(), "Kafka");
        let mut vars = Vars::new();
        vars.set("host", "127.0.0.1");
        vars.set("user_id", "4");
        let Runnable::Request(RequestSpec::Kafka(req)) = saved
            .resolve(&vars, Path::new("."), Duration::from_secs(30))
            .unwrap()
        else {
            panic!("not a Kafka produce")
        };
        assert_eq!(req.url, "kafka://127.0.0.1:9092");
        assert_eq!(req.key.as_deref(), Some("4"));
        assert_eq!(req.acks, crate::kafka::Acks::Leader);
        let watch: SavedRequest = serde_json::from_str(
            r#"{"version":1,"name":"w","kind":"kafka-watch","url":"kafka://127.0.0.1:9092","topic":"orders","from":"last:5"}"#,
        )
        .unwrap();
        let Runnable::Watch(WatchRequest::Kafka(w)) = watch
            .resolve(&Vars::new(), Path::new("."), Duration::from_secs(30))
            .unwrap()
        else {
            panic!("not a Kafka watch")
        };
        assert_eq!(w.describe(), "tap orders from last:5");
    }

    #[test]
    fn literal_credentials_are_told_from_references() {
        for literal in [
            "abc",
            "Bearer abc",
            "Basic dTpw",
            "Basic admin:{{pass}}",
            "Bearer",
        ] {
            assert!(holds_literal_secret(literal), "{literal}");
        }
        for reference in ["{{t}}", "Bearer {{token}}", "Basic {{id}}:{{secret}}", " "] {
            assert!(!holds_literal_secret(reference), "{reference}");
        }
    }

    #[test]
    fn secret_names_are_unique_per_header_and_never_take_another_value() {
        let mut r = SavedRequest::new(
            "Get",
            SavedSpec::Http(SavedHttp {
                method: "GET".into(),
                url: "http://u:pw@h/".into(),
                headers: vec![
                    SavedHeader::new("Authorization", "Bearer a"),
                    SavedHeader::new("authorization", "Bearer b"),
                    SavedHeader::new("X-Token", "{{t}}"),
                ],
                body: None,
                form: Vec::new(),
                timeout_ms: None,
                tls: SavedTls::default(),
            }),
        );
        let found = r.extract_secrets_named("dir/get", &|name, value| {
            name == "dir_get_authorization" && value != "Bearer a"
        });
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "dir_get_authorization",
                "dir_get_authorization_2",
                "dir_get_password"
            ]
        );
        let found = SavedRequest::new(
            "x",
            SavedSpec::Http(match &r.spec {
                SavedSpec::Http(h) => SavedHttp {
                    headers: vec![SavedHeader::new("Authorization", "Bearer c")],
                    ..h.clone()
                },
                _ => unreachable!(),
            }),
        )
        .extract_secrets_named("dir/get", &|name, value| {
            name == "dir_get_authorization" && value != "Bearer a"
        });
        assert_eq!(
            found[0].0, "dir_get_authorization_2",
            "a different value, another name"
        );
    }

    #[test]
    fn basic_auth_in_clear_and_form_bodies_are_encoded_when_sent() {
        let r = SavedRequest::new(
            "Form",
            SavedSpec::Http(SavedHttp {
                method: "POST".into(),
                url: "http://h/".into(),
                headers: vec![
                    SavedHeader::new("Authorization", "Basic {{id}}:{{secret}}"),
                    SavedHeader::new("Content-Type", "application/x-www-form-urlencoded"),
                ],
                body: SavedBody::from_text("To={{phone}}&x=%2B"),
                form: Vec::new(),
                timeout_ms: None,
                tls: SavedTls::default(),
            }),
        );
        let mut vars = Vars::default();
        vars.set("id", "u");
        assert_eq!(r.unresolved(&vars), ["secret", "phone"]);
        vars.set("secret", "p");
        vars.set("phone", "+1 5");
        let Runnable::Request(RequestSpec::Http(sent)) = r
            .resolve(&vars, Path::new("."), Duration::from_secs(1))
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(sent.headers[0].value, "Basic dTpw");
        assert_eq!(sent.body, b"To=%2B1%205&x=%2B");
    }

    #[test]
    fn bodies_keep_their_exact_text() {
        for text in [
            "{\n  \"user_id\": \"1\"\n}",
            "{\"user_id\": \"1\"}",
            "plain",
            "[1,2]",
        ] {
            let body = SavedBody::from_text(text).unwrap();
            let json = serde_json::to_string(&body).unwrap();
            let back: SavedBody = serde_json::from_str(&json).unwrap();
            assert_eq!(back.to_text(), text, "{json}");
        }
        assert!(matches!(
            SavedBody::from_text("{\n  \"a\": 1\n}"),
            Some(SavedBody::Json(_))
        ));
    }
}
