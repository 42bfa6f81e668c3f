//! NATS through async-nats: request/reply (a synchronous call over the broker), core publish and
//! JetStream publish with its ack, each with a timeline; watches ([`watch`]) and the streams
//! browser ([`streams`]).
//!
//! [`NatsRequest`] is at once the saved form (with `{{variables}}`), the editor's model and what
//! the CLI builds.

mod exchange;
pub mod publish_many;
pub mod streams;
pub mod watch;

pub use exchange::NatsClient;
use exchange::{classify_publish, publish_one, request_on};

use std::time::Duration;

use async_nats::{Client, ConnectOptions, HeaderMap};
use serde::{Deserialize, Serialize};

use crate::exchange::{ErrorKind, Exchange, ExchangeError, Header, Message, Transport};
use crate::fields::{SavedBody, SavedHeader, is_one, one, sent};
use crate::payload::Body;
use crate::recorder::{Outcome, Recorder};

/// The demo's NATS server.
pub const DEFAULT_NATS_URL: &str = demo_contract::DEFAULT_NATS_URL;

/// What a NATS request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NatsOp {
    /// Publish with a reply inbox and wait for the first reply.
    #[default]
    Request,
    /// Publish (core, or JetStream with an ack when `jetstream`).
    Publish,
}

impl NatsOp {
    pub const ALL: [NatsOp; 2] = [Self::Request, Self::Publish];

    pub fn label(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Publish => "publish",
        }
    }
}

/// A NATS request or publish: the saved form, the editor's model and what the CLI builds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NatsRequest {
    pub url: String,
    #[serde(default)]
    pub op: NatsOp,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<SavedHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<SavedBody>,
    /// Publish: the reply subject to send with the message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reply_to: String,
    /// Publish: through JetStream, waiting for the stream's ack.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub jetstream: bool,
    /// JetStream publish: `Nats-Msg-Id`, for the stream's duplicate detection.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub msg_id: String,
    /// Publish: how many copies (at least 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// A binary body (not UTF-8: a file, a republished message), base64, sent instead of
    /// `body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

impl NatsRequest {
    /// A request/reply on `subject`.
    pub fn request(url: impl Into<String>, subject: impl Into<String>, body: &str) -> Self {
        Self {
            url: url.into(),
            op: NatsOp::Request,
            subject: subject.into(),
            headers: Vec::new(),
            body: SavedBody::from_text(body),
            reply_to: String::new(),
            jetstream: false,
            msg_id: String::new(),
            count: 1,
            timeout_ms: None,
            body_base64: None,
        }
    }

    /// A core publish on `subject`.
    pub fn publish(url: impl Into<String>, subject: impl Into<String>, body: &str) -> Self {
        Self {
            op: NatsOp::Publish,
            ..Self::request(url, subject, body)
        }
    }

    /// The body sent: the binary one when there is one, else the text.
    pub fn body_bytes(&self) -> Result<Vec<u8>, ExchangeError> {
        crate::fields::body_or_base64(&self.body, &self.body_base64)
    }

    /// Sets the body from bytes: text when UTF-8, else base64.
    pub fn set_body(&mut self, bytes: Vec<u8>) {
        (self.body, self.body_base64) = crate::fields::text_or_base64(bytes);
    }

    /// The headers sent (enabled rows with a name), plus `Nats-Msg-Id` for a JetStream publish.
    pub fn sent_headers(&self) -> Vec<Header> {
        let mut headers = sent(&self.headers);
        if self.op == NatsOp::Publish && self.jetstream && !self.msg_id.trim().is_empty() {
            headers.push(Header::new("Nats-Msg-Id", self.msg_id.trim()));
        }
        headers
    }

    /// The request timeout: its own, else `default` (`0` means the default).
    pub fn timeout(&self, default: Duration) -> Duration {
        self.timeout_ms
            .filter(|ms| *ms > 0)
            .map_or(default, Duration::from_millis)
    }

    /// The request with its text fields trimmed, as it is run.
    pub fn trimmed(&self) -> Self {
        let mut out = self.clone();
        out.url = out.url.trim().to_string();
        out.subject = out.subject.trim().to_string();
        out.reply_to = out.reply_to.trim().to_string();
        out.msg_id = out.msg_id.trim().to_string();
        out.count = out.count.max(1);
        out
    }

    /// `subject @ url`, credentials as given: output masks them (`Redact`) unless asked not to.
    fn target(&self) -> String {
        format!("{} @ {}", self.subject, self.url)
    }

    fn line(&self) -> String {
        match (self.op, self.jetstream) {
            (NatsOp::Request, _) => format!("REQUEST {}", self.subject),
            (NatsOp::Publish, true) => format!("PUB {} (JetStream)", self.subject),
            (NatsOp::Publish, false) if !self.reply_to.is_empty() => {
                format!("PUB {} reply-to {}", self.subject, self.reply_to)
            }
            (NatsOp::Publish, false) => format!("PUB {}", self.subject),
        }
    }
}

/// Hides the password or token of a URL: [`crate::credentials::redact_url`].
pub fn redact_url(url: &str) -> String {
    crate::credentials::redact_url(url)
}

/// Checks a subject: not empty, no whitespace, no empty tokens (`a..b`, a leading or trailing
/// dot); wildcards (`*` as a whole token, `>` as the last) only where `wildcards` allows.
pub fn check_subject(subject: &str, wildcards: bool) -> Result<(), ExchangeError> {
    let bad = |why: &str| {
        Err(ExchangeError::invalid_input(format!(
            "invalid subject {subject:?}: {why}"
        )))
    };
    if subject.is_empty() {
        return bad("it is empty");
    }
    if subject.chars().any(char::is_whitespace) {
        return bad("subjects cannot hold spaces or other whitespace");
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    for (i, token) in tokens.iter().enumerate() {
        if token.is_empty() {
            return bad("it has an empty token (two dots in a row, or a leading or trailing dot)");
        }
        let wild = *token == "*" || *token == ">";
        if !wild && (token.contains('*') || token.contains('>')) {
            return bad("`*` and `>` are wildcards only as a whole token");
        }
        if wild && !wildcards {
            return bad(
                "a message is published to one subject: wildcards (`*`, `>`) only subscribe",
            );
        }
        if *token == ">" && i + 1 != tokens.len() {
            return bad("`>` is only allowed as the last token");
        }
    }
    Ok(())
}

/// A NATS URL split into what async-nats takes: the address without credentials, and the
/// user/password or token that were in it.
struct Target {
    addr: String,
    auth: Option<(String, Option<String>)>,
}

fn parse_url(url: &str) -> Result<Target, ExchangeError> {
    let bad = |why: String| {
        ExchangeError::invalid_input(format!(
            "malformed NATS URL {}: {why} (expected nats://[user:password@]host:4222 or tls://…)",
            redact_url(url)
        ))
    };
    let with_scheme = if url.contains("://") {
        url.to_string()
    } else {
        format!("nats://{url}")
    };
    let mut parsed = url::Url::parse(&with_scheme).map_err(|e| bad(e.to_string()))?;
    if !matches!(parsed.scheme(), "nats" | "tls") {
        return Err(bad(format!("unknown scheme {:?}", parsed.scheme())));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host".into()));
    }
    let user = percent_decode(parsed.username());
    let password = parsed.password().map(percent_decode);
    let auth = (!user.is_empty()).then_some((user, password));
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    if parsed.port().is_none() {
        let _ = parsed.set_port(Some(4222));
    }
    let addr = format!(
        "{}://{}:{}",
        parsed.scheme(),
        parsed.host_str().unwrap_or_default(),
        parsed.port().unwrap_or(4222)
    );
    Ok(Target { addr, auth })
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Connection options shared by requests and watches. TLS (`tls://`) uses the engine's own
/// rustls configuration (the public roots; two crypto providers are linked, so none is
/// picked implicitly).
fn options(
    target: &Target,
    name: &str,
    timeout: Duration,
) -> Result<ConnectOptions, ExchangeError> {
    let mut opts = ConnectOptions::new()
        .name(name)
        .connection_timeout(timeout.max(Duration::from_millis(1)))
        .request_timeout(None);
    if target.addr.starts_with("tls://") {
        let config = crate::net::tls_config(&[], &crate::net::TlsOptions::default())?;
        opts = opts.tls_client_config((*config).clone()).require_tls(true);
    }
    match &target.auth {
        Some((user, Some(password))) => {
            opts = opts.user_and_password(user.clone(), password.clone());
        }
        Some((token, None)) => opts = opts.token(token.clone()),
        None => {}
    }
    Ok(opts)
}

/// Names a connection error for a user.
pub(crate) fn classify_connect(err: &async_nats::ConnectError, url: &str) -> (ErrorKind, String) {
    use async_nats::ConnectErrorKind as K;
    let shown = redact_url(url);
    match err.kind() {
        K::AuthorizationViolation | K::Authentication => (
            ErrorKind::Auth,
            format!(
                "the NATS server at {shown} refused the credentials (authorization violation): check the user and password or token in the URL"
            ),
        ),
        K::Dns => (ErrorKind::Dns, format!("cannot resolve {shown}: {err}")),
        K::TimedOut => (
            ErrorKind::Timeout,
            format!("connecting to {shown} timed out"),
        ),
        K::Tls => (ErrorKind::Tls, format!("TLS with {shown} failed: {err}")),
        K::ServerParse => (
            ErrorKind::InvalidInput,
            format!("malformed NATS URL {shown}: {err}"),
        ),
        K::Io | K::MaxReconnects => {
            let text = format!("{err:?}").to_ascii_lowercase();
            if text.contains("refused") {
                (
                    ErrorKind::ConnectionRefused,
                    format!(
                        "NATS server unreachable at {shown}: connection refused — start one (`nats-server -js`)"
                    ),
                )
            } else if text.contains("info") || text.contains("protocol") || text.contains("parse") {
                (
                    ErrorKind::Protocol,
                    format!("the peer at {shown} is not a NATS server: {err}"),
                )
            } else {
                (ErrorKind::Io, format!("cannot connect to {shown}: {err}"))
            }
        }
    }
}

/// Connects, recording `connect` (TCP, the server's INFO, our CONNECT and PING, its PONG; TLS
/// when `tls://`).
pub(crate) async fn connect(
    rec: &mut Recorder,
    url: &str,
    name: &str,
) -> Result<Client, ExchangeError> {
    let target = parse_url(url)?;
    let remaining = rec
        .deadline
        .saturating_duration_since(tokio::time::Instant::now());
    let opts = options(&target, name, remaining)?;
    let addr = target.addr.clone();
    let client = rec
        .step(crate::net::phases::CONNECT, opts.connect(addr), |e| {
            classify_connect(&e, url)
        })
        .await?;
    let info = client.server_info();
    rec.detail(format!(
        "{url} — nats-server {}{}, INFO + CONNECT + PING/PONG",
        info.version,
        if info.tls_required { ", TLS" } else { "" }
    ));
    Ok(client)
}

pub(crate) fn header_map(headers: &[Header]) -> Result<Option<HeaderMap>, ExchangeError> {
    if headers.is_empty() {
        return Ok(None);
    }
    let mut map = HeaderMap::new();
    for h in headers {
        let name: async_nats::HeaderName = h.name.parse().map_err(|e| {
            ExchangeError::invalid_input(format!("invalid header name {:?}: {e}", h.name))
        })?;
        if h.value.contains(['\r', '\n']) {
            return Err(ExchangeError::invalid_input(format!(
                "header {:?} holds a line break",
                h.name
            )));
        }
        map.append(name, h.value.as_str());
    }
    Ok(Some(map))
}

/// A NATS header map as ordered rows (sorted by name: NATS does not keep the order).
pub fn header_rows(map: Option<&HeaderMap>) -> Vec<Header> {
    let mut rows: Vec<Header> = map
        .into_iter()
        .flat_map(|m| m.iter())
        .flat_map(|(name, values)| {
            values
                .iter()
                .map(move |v| Header::new(name.to_string(), v.as_str()))
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// An error when the server runs without JetStream (its INFO says so).
pub(crate) fn require_jetstream(client: &Client) -> Result<(), ExchangeError> {
    if client.server_info().jetstream {
        return Ok(());
    }
    Err(ExchangeError {
        kind: ErrorKind::Refused,
        phase: None,
        message: "JetStream is not enabled on this NATS server (start nats-server with -js): streams, JetStream publishes and stream watches need it".to_string(),
    })
}

/// The server's `max_payload` (from its INFO; `server_info` clones, so kept clients read it once).
fn max_payload(client: &Client) -> usize {
    client.server_info().max_payload
}

fn check_payload(max: usize, headers: &[Header], body: usize) -> Result<(), String> {
    let header_bytes: usize = headers
        .iter()
        .map(|h| h.name.len() + h.value.len() + 4)
        .sum();
    let size = body + header_bytes;
    if max > 0 && size > max {
        return Err(format!(
            "the message is {size} bytes (body and headers) but the server's max_payload is {max} bytes"
        ));
    }
    Ok(())
}

/// Checks what can be checked before connecting.
fn check(req: &NatsRequest) -> Result<Vec<Header>, ExchangeError> {
    check_subject(&req.subject, false)?;
    if req.op == NatsOp::Publish && !req.reply_to.is_empty() {
        check_subject(&req.reply_to, false)?;
    }
    let headers = req.sent_headers();
    header_map(&headers)?;
    Ok(headers)
}

fn request_message(req: &NatsRequest, headers: &[Header], body: &[u8]) -> Message {
    Message {
        line: req.line(),
        headers: headers.to_vec(),
        body: Body::new(body.to_vec()),
        size_bytes: body.len() as u64,
        ..Message::default()
    }
}

/// Runs a request or publish; a publish of several copies yields one exchange per message (the
/// first carries `connect`).
pub async fn execute(req: &NatsRequest, default_timeout: Duration) -> Vec<Exchange> {
    let req = req.trimmed();
    let timeout = req.timeout(default_timeout);
    let mut rec = Recorder::new(timeout);
    let (body, headers) = match req.body_bytes().and_then(|b| Ok((b, check(&req)?))) {
        Ok(both) => both,
        Err(error) => return vec![failed(rec, &req, &[], &[], error)],
    };
    let client = match connect(&mut rec, &req.url, "switchboard").await {
        Ok(c) => c,
        Err(error) => return vec![failed(rec, &req, &headers, &body, error)],
    };
    let out = match req.op {
        NatsOp::Request => {
            let max = max_payload(&client);
            vec![request_on(rec, &client, max, None, &req, &headers, &body).await]
        }
        NatsOp::Publish => {
            let mut out = Vec::new();
            if req.jetstream
                && let Err(error) = require_jetstream(&client)
            {
                let _ = client.drain().await;
                return vec![failed(rec, &req, &headers, &body, error)];
            }
            let js = req
                .jetstream
                .then(|| async_nats::jetstream::new(client.clone()));
            let max = max_payload(&client);
            let mut headers = headers;
            for i in 0..req.count {
                if i > 0 {
                    // Each copy in a trace of its own.
                    rec.trace_copy(&mut headers);
                }
                let outcome =
                    publish_one(&mut rec, &client, max, js.as_ref(), &req, &headers, &body).await;
                let stop = matches!(&outcome, Outcome::Failed { error, .. } if error.kind != ErrorKind::Refused);
                out.push(rec.finish(
                    Transport::Nats,
                    req.target(),
                    request_message(&req, &headers, &body),
                    outcome,
                ));
                if stop {
                    break;
                }
                rec = Recorder::new(timeout);
            }
            out
        }
    };
    let _ = client.drain().await;
    out
}

fn failed(
    rec: Recorder,
    req: &NatsRequest,
    headers: &[Header],
    body: &[u8],
    error: ExchangeError,
) -> Exchange {
    rec.finish(
        Transport::Nats,
        req.target(),
        request_message(req, headers, body),
        Outcome::Failed {
            error,
            response: None,
        },
    )
}

/// NATS's phases (besides `connect`, in [`crate::net::phases`]).
pub mod phases {
    use crate::timeline::{PhaseClass, PhaseKind};

    /// Request/reply: the inbox subscribed, the request published and flushed.
    pub const REQUEST: PhaseKind = PhaseKind::new("request", "request", PhaseClass::Send);
    /// Request/reply: waiting for the first reply.
    pub const REPLY: PhaseKind = PhaseKind::new("reply", "reply", PhaseClass::Wait);
    /// A message written and flushed.
    pub const PUBLISH: PhaseKind = crate::amqp::phases::PUBLISH;
    /// The broker's ack of a publish (JetStream's, Kafka's produce response).
    pub const ACK: PhaseKind = PhaseKind::new("ack", "ack", PhaseClass::Wait);
    /// A watch's subscription or consumer created.
    pub const SUBSCRIBE: PhaseKind = PhaseKind::new("subscribe", "subscribe", PhaseClass::Send);

    pub const ALL: &[PhaseKind] = &[REQUEST, REPLY, ACK, SUBSCRIBE];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_checked_before_anything_is_sent() {
        assert!(check_subject("user.get", false).is_ok());
        assert!(check_subject("orders.>", true).is_ok());
        assert!(check_subject("a.*.c", true).is_ok());
        for (bad, wild) in [
            ("", true),
            ("has space", true),
            ("a..b", true),
            (".a", true),
            ("a.", true),
            ("orders.>", false),
            ("a.*", false),
            ("a.>.b", true),
            ("a.b*", true),
        ] {
            let err = check_subject(bad, wild).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidInput, "{bad:?}");
            assert!(err.message.contains("invalid subject"), "{}", err.message);
        }
    }

    #[test]
    fn urls_take_credentials_out_and_default_the_port() {
        let t = parse_url("nats://alice:s%40cret@127.0.0.1").unwrap();
        assert_eq!(t.addr, "nats://127.0.0.1:4222");
        assert_eq!(t.auth, Some(("alice".into(), Some("s@cret".into()))));
        let t = parse_url("tls://tok@example.com:4443").unwrap();
        assert_eq!(t.addr, "tls://example.com:4443");
        assert_eq!(t.auth, Some(("tok".into(), None)));
        assert_eq!(
            parse_url("127.0.0.1:4222").unwrap().addr,
            "nats://127.0.0.1:4222"
        );
        for bad in ["http://x:1", "nats://", "nats://[::1"] {
            assert_eq!(
                parse_url(bad).err().unwrap().kind,
                ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_request_keeps_its_saved_shape() {
        let mut req = NatsRequest::request(
            "nats://127.0.0.1:4222",
            "user.get",
            "{\n  \"user_id\": \"1\"\n}",
        );
        req.headers.push(SavedHeader::new("x-trace", "1"));
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json["op"], "request");
        assert_eq!(json["body"]["user_id"], "1");
        assert!(json.get("count").is_none());
        let back: NatsRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back, req);
    }
}
