//! HTTP exchanges over hyper, phase by phase: DNS, connect, TLS, request sent, first byte, body.
//!
//! reqwest does not expose these instants, so the engine opens the connection itself
//! ([`crate::net`]), wraps it in [`TimedIo`] and drives hyper's connection API.

pub mod multipart;

use base64::Engine as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::exchange::{ErrorKind, Exchange, ExchangeError, Header, Message, Transport};
use crate::net;
use crate::payload::Body;
use crate::recorder::{Outcome, Recorder};
use crate::timed_io::{IoMarks, TimedIo};

/// How much of a body streamed from a file the exchange keeps to show.
pub const SHOWN_FILE_BYTES: usize = 64 * 1024;

/// A request body: in memory, or streamed from a file.
type ReqBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// Default cap on the response body kept in memory (the rest is counted, not stored).
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// An HTTP request to send.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
    /// Streams the body from this file (a regular file, read as it is sent) instead of `body`:
    /// large uploads cost no memory. The exchange keeps its first [`SHOWN_FILE_BYTES`].
    pub body_file: Option<std::path::PathBuf>,
    /// A `multipart/form-data` body: when not empty, it replaces `body` and its
    /// `Content-Type` (with a new boundary) is set when the request is sent.
    pub form: Vec<self::multipart::FormPart>,
    pub timeout: Duration,
    pub max_body_bytes: usize,
    /// Extra CA, client certificate (https only).
    pub tls: crate::net::TlsOptions,
}

impl HttpRequest {
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: "GET".to_string(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            body_file: None,
            form: Vec::new(),
            timeout: Duration::from_secs(30),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            tls: Default::default(),
        }
    }
}

/// Parses `Name: value` into a header.
pub fn parse_header_line(line: &str) -> Result<Header, ExchangeError> {
    let (name, value) = line.split_once(':').ok_or_else(|| {
        ExchangeError::invalid_input(format!("header {line:?} is not of the form 'Name: value'"))
    })?;
    let name = name.trim();
    if name.is_empty() {
        return Err(ExchangeError::invalid_input(format!(
            "header {line:?} has no name"
        )));
    }
    Ok(Header::new(name, value.trim()))
}

/// Checks a request as [`send`] does before connecting (method, URL, header names and values):
/// `Ok` when it would be sent.
pub fn check_request(req: &HttpRequest) -> Result<(), ExchangeError> {
    prepare(req).map(|_| ())
}

struct Prepared {
    /// The URL as addressed (with its credentials, masked where shown).
    target: String,
    tls_options: net::TlsOptions,
    method: http::Method,
    url: url::Url,
    host: String,
    port: u16,
    tls: bool,
    headers: http::HeaderMap,
}

fn prepare(req: &HttpRequest) -> Result<Prepared, ExchangeError> {
    let method = http::Method::from_bytes(req.method.trim().to_ascii_uppercase().as_bytes())
        .map_err(|_| {
            ExchangeError::invalid_input(format!("unknown HTTP method {:?}", req.method))
        })?;
    let url = url::Url::parse(req.url.trim()).map_err(|e| {
        ExchangeError::invalid_input(format!(
            "malformed URL {:?}: {e} (expected e.g. http://127.0.0.1:8081/user/1)",
            req.url
        ))
    })?;
    let tls = match url.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return Err(ExchangeError::invalid_input(format!(
                "unsupported URL scheme {other:?}: use http:// or https://"
            )));
        }
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ExchangeError::invalid_input(format!("URL {:?} has no host", req.url)))?
        .to_string();
    let port = url
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    let mut headers = http::HeaderMap::new();
    for header in &req.headers {
        let name = http::HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| {
            ExchangeError::invalid_input(format!("invalid header name {:?}", header.name))
        })?;
        let value = http::HeaderValue::from_str(&header.value).map_err(|_| {
            ExchangeError::invalid_input(format!(
                "invalid value for header {}: {:?}",
                header.name, header.value
            ))
        })?;
        headers.append(name, value);
    }
    // `http://user:password@host/` sends Basic credentials, as curl does — unless an
    // Authorization header was given, which wins (also as curl does). The URL goes without them.
    let target = url.to_string();
    let mut url = url;
    if !url.username().is_empty() || url.password().is_some() {
        if !headers.contains_key(http::header::AUTHORIZATION) {
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let pair = format!(
                "{}:{}",
                decode(url.username()),
                decode(url.password().unwrap_or_default())
            );
            let value = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            );
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(http::header::AUTHORIZATION, value);
            }
        }
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    Ok(Prepared {
        target,
        tls_options: req.tls.clone(),
        method,
        url,
        host,
        port,
        tls,
        headers,
    })
}

fn headers_list(map: &http::HeaderMap) -> Vec<Header> {
    map.iter()
        .map(|(k, v)| Header::new(k.as_str(), String::from_utf8_lossy(v.as_bytes())))
        .collect()
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<ReqBody>),
    H2(hyper::client::conn::http2::SendRequest<ReqBody>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Self::H1(s) => s.is_closed(),
            Self::H2(s) => s.is_closed(),
        }
    }
}

/// An open connection kept for reuse.
struct Pooled {
    sender: Sender,
    marks: Arc<IoMarks>,
    http2: bool,
}

type PoolKey = (bool, String, u16);

/// A client that keeps connections alive between requests (keep-alive), like browsers and
/// Postman do: a reused connection's timeline has no DNS, connect or TLS phase, and its
/// `request sent` phase says "reused connection". Cloning shares the pool.
#[derive(Clone, Default)]
pub struct HttpClient {
    pool: Arc<std::sync::Mutex<std::collections::HashMap<PoolKey, Vec<Pooled>>>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    fn take(&self, key: &PoolKey) -> Option<Pooled> {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        let idle = pool.get_mut(key)?;
        while let Some(conn) = idle.pop() {
            if !conn.sender.is_closed() {
                // An HTTP/2 connection can carry many requests at once: keep sharing it.
                if let Sender::H2(h2) = &conn.sender {
                    idle.push(Pooled {
                        sender: Sender::H2(h2.clone()),
                        marks: conn.marks.clone(),
                        http2: true,
                    });
                }
                return Some(conn);
            }
        }
        None
    }

    fn put(&self, key: PoolKey, conn: Pooled) {
        if conn.http2 {
            return; // the pool kept a clone
        }
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        let idle = pool.entry(key).or_default();
        if idle.len() < 64 {
            idle.push(conn);
        }
    }

    /// Sends `req`, reusing an idle connection to the same origin when there is one.
    pub async fn send(&self, req: &HttpRequest) -> Exchange {
        send_with(req, Some(self)).await
    }
}

/// The request with its form encoded as the body, and that body's `Content-Type` in place of
/// any given one (a `multipart/form-data` without the boundary would not parse).
fn with_form_body(req: &HttpRequest, encoded: self::multipart::Encoded) -> HttpRequest {
    let mut headers: Vec<Header> = req
        .headers
        .iter()
        .filter(|h| !h.name.trim().eq_ignore_ascii_case("content-type"))
        .cloned()
        .collect();
    headers.push(Header::new("Content-Type", encoded.content_type));
    HttpRequest {
        headers,
        body: encoded.body,
        form: Vec::new(),
        ..req.clone()
    }
}

/// The first [`SHOWN_FILE_BYTES`] of a body file, and its length; only regular files. Read
/// with tokio's file API: the send runs on the async runtime.
async fn file_head(path: &std::path::Path) -> std::io::Result<(Vec<u8>, u64)> {
    use tokio::io::AsyncReadExt;
    let meta = tokio::fs::metadata(path).await?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut head = Vec::new();
    tokio::fs::File::open(path)
        .await?
        .take(SHOWN_FILE_BYTES as u64)
        .read_to_end(&mut head)
        .await?;
    Ok((head, meta.len()))
}

/// Sends one HTTP request on a fresh connection and records its timeline.
pub async fn send(req: &HttpRequest) -> Exchange {
    send_with(req, None).await
}

async fn send_with(req: &HttpRequest, client: Option<&HttpClient>) -> Exchange {
    let mut rec = Recorder::new(req.timeout);
    let with_form;
    let req = if req.form.is_empty() {
        req
    } else {
        match self::multipart::encode(&req.form).await {
            Ok(encoded) => {
                with_form = with_form_body(req, encoded);
                &with_form
            }
            Err(error) => {
                let request_msg = Message {
                    line: format!("{} {}", req.method.trim(), req.url.trim()),
                    headers: req.headers.clone(),
                    ..Message::default()
                };
                return rec.finish(
                    Transport::Http,
                    req.url.clone(),
                    request_msg,
                    Outcome::Failed {
                        error,
                        response: None,
                    },
                );
            }
        }
    };
    let mut request_msg = Message {
        line: format!(
            "{} {}",
            req.method.trim().to_ascii_uppercase(),
            req.url.trim()
        ),
        headers: req.headers.clone(),
        body: Body::new(req.body.clone()),
        size_bytes: req.body.len() as u64,
        ..Message::default()
    };
    if let Some(path) = &req.body_file {
        match file_head(path).await {
            Ok((head, len)) => {
                request_msg.body = Body {
                    truncated: len > head.len() as u64,
                    bytes: head,
                };
                request_msg.size_bytes = len;
            }
            Err(e) => {
                return rec.finish(
                    Transport::Http,
                    req.url.clone(),
                    request_msg,
                    Outcome::Failed {
                        error: ExchangeError::invalid_input(format!(
                            "cannot read the body file {}: {e}",
                            path.display()
                        )),
                        response: None,
                    },
                );
            }
        }
    }
    let prepared = match prepare(req) {
        Ok(p) => p,
        Err(error) => {
            return rec.finish(
                Transport::Http,
                req.url.clone(),
                request_msg,
                Outcome::Failed {
                    error,
                    response: None,
                },
            );
        }
    };
    let target = prepared.target.clone();
    let outcome = run(&mut rec, req, prepared, &mut request_msg, client).await;
    rec.finish(Transport::Http, target, request_msg, outcome)
}

async fn run(
    rec: &mut Recorder,
    req: &HttpRequest,
    p: Prepared,
    request_msg: &mut Message,
    client: Option<&HttpClient>,
) -> Outcome {
    match exchange(rec, req, p, request_msg, client).await {
        Ok(outcome) => outcome,
        Err((error, response)) => Outcome::Failed { error, response },
    }
}

async fn exchange(
    rec: &mut Recorder,
    req: &HttpRequest,
    p: Prepared,
    request_msg: &mut Message,
    client: Option<&HttpClient>,
) -> Result<Outcome, (ExchangeError, Option<Message>)> {
    let key: PoolKey = (p.tls, p.host.clone(), p.port);
    let (mut sender, marks, use_h2, reused) = match client.and_then(|c| c.take(&key)) {
        Some(conn) => (conn.sender, conn.marks, conn.http2, true),
        None => {
            let (sender, marks, use_h2) = open_connection(rec, &p).await?;
            (sender, marks, use_h2, false)
        }
    };
    let outcome = send_on(
        rec,
        req,
        &p,
        request_msg,
        &mut sender,
        &marks,
        use_h2,
        reused,
    )
    .await;
    if let (Some(client), Ok(Outcome::Answered { .. })) = (client, &outcome) {
        client.put(
            key,
            Pooled {
                sender,
                marks,
                http2: use_h2,
            },
        );
    }
    outcome
}

type Failure = (ExchangeError, Option<Message>);

async fn open_connection(
    rec: &mut Recorder,
    p: &Prepared,
) -> Result<(Sender, Arc<IoMarks>, bool), Failure> {
    let alpn: &[&[u8]] = &[b"h2", b"http/1.1"];
    let opened = net::open(rec, &p.host, p.port, p.tls.then_some(alpn), &p.tls_options)
        .await
        .map_err(|e| (e, None))?;
    let use_h2 = opened.alpn.as_deref() == Some(b"h2");
    let plain = matches!(opened.stream, tokio_util::either::Either::Left(_));
    let marks = Arc::new(
        if use_h2 {
            IoMarks::http2()
        } else {
            IoMarks::default()
        }
        .with_kernel(opened.kernel, plain),
    );
    let io = TokioIo::new(TimedIo::new(opened.stream, marks.clone()));
    let handshake_start = Instant::now();
    marks.handshake_started();
    let protocol_error =
        |e: hyper::Error| (ErrorKind::Protocol, format!("HTTP handshake failed: {e}"));
    let sender = if use_h2 {
        let (sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| {
                let (kind, message) = protocol_error(e);
                (
                    rec.fail(
                        crate::net::phases::HTTP2_HANDSHAKE,
                        handshake_start,
                        kind,
                        message,
                    ),
                    None,
                )
            })?;
        rec.http2_opened(marks.clone());
        tokio::spawn(conn);
        Sender::H2(sender)
    } else {
        let (sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| {
                let (kind, message) = protocol_error(e);
                (
                    rec.fail(crate::net::phases::CONNECT, handshake_start, kind, message),
                    None,
                )
            })?;
        tokio::spawn(conn);
        Sender::H1(sender)
    };
    Ok((sender, marks, use_h2))
}

#[allow(clippy::too_many_arguments)]
async fn send_on(
    rec: &mut Recorder,
    req: &HttpRequest,
    p: &Prepared,
    request_msg: &mut Message,
    sender: &mut Sender,
    marks: &IoMarks,
    use_h2: bool,
    reused: bool,
) -> Result<Outcome, Failure> {
    // Build the request as it goes on the wire.
    let path = match p.url.query() {
        Some(q) => format!("{}?{q}", p.url.path()),
        None => p.url.path().to_string(),
    };
    let uri_text = if use_h2 {
        p.url.to_string()
    } else {
        path.clone()
    };
    let mut builder = http::Request::builder()
        .method(p.method.clone())
        .uri(uri_text.as_str());
    let host_header = match p.url.port() {
        Some(port) => format!("{}:{port}", p.host),
        None => p.host.clone(),
    };
    let mut headers = p.headers.clone();
    if !use_h2
        && !headers.contains_key(http::header::HOST)
        && let Ok(v) = http::HeaderValue::from_str(&host_header)
    {
        headers.insert(http::header::HOST, v);
    }
    if !headers.contains_key(http::header::USER_AGENT) {
        headers.insert(
            http::header::USER_AGENT,
            http::HeaderValue::from_static(concat!("switchboard/", env!("CARGO_PKG_VERSION"))),
        );
    }
    let (body, body_len) = match &req.body_file {
        Some(path) => {
            let file = tokio::fs::File::open(path).await.map_err(|e| {
                (
                    ExchangeError::invalid_input(format!(
                        "cannot read the body file {}: {e}",
                        path.display()
                    )),
                    None,
                )
            })?;
            let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
            let stream = futures_util::TryStreamExt::map_ok(
                tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024),
                hyper::body::Frame::data,
            );
            (http_body_util::StreamBody::new(stream).boxed(), len)
        }
        None => (
            Full::new(Bytes::from(req.body.clone()))
                .map_err(|never| match never {})
                .boxed(),
            req.body.len() as u64,
        ),
    };
    if body_len > 0 && !headers.contains_key(http::header::CONTENT_LENGTH) {
        headers.insert(http::header::CONTENT_LENGTH, body_len.into());
    }
    if let Some(h) = builder.headers_mut() {
        *h = headers.clone();
    }
    request_msg.headers = headers_list(&headers);
    let version = if use_h2 { "HTTP/2" } else { "HTTP/1.1" };
    request_msg.line = format!("{} {} {version}", p.method, path);
    let request = builder.body(body).map_err(|e| {
        (
            ExchangeError::invalid_input(format!("cannot build request: {e}")),
            None,
        )
    })?;

    marks.arm();
    let request_start = Instant::now();
    let sent = async {
        match sender {
            Sender::H1(s) => {
                s.ready().await?;
                s.send_request(request).await
            }
            Sender::H2(s) => {
                s.ready().await?;
                s.send_request(request).await
            }
        }
    };
    let result = rec.within(sent).await;
    let headers_at = Instant::now();
    let m = marks.snapshot();
    // Bytes came back that are not an HTTP response head: the peer is not an HTTP server, and
    // that is found in the first byte, not in a body.
    // A peer that speaks first (NATS's INFO, an SMTP banner) makes hyper give up with "channel
    // closed": its first bytes tell what it is.
    let head = marks.first_bytes();
    let foreign = !use_h2 && !head.is_empty() && !head.starts_with(b"HTTP/");
    let not_http = matches!(&result, Ok(Err(e)) if e.is_parse() || e.is_parse_status() || foreign);
    let failed_phase = if not_http {
        crate::http::phases::FIRST_BYTE
    } else if m.first_read.is_some() {
        crate::http::phases::BODY
    } else if m.last_write.is_some() {
        crate::http::phases::FIRST_BYTE
    } else {
        crate::net::phases::REQUEST_SENT
    };
    // Record what happened on the wire so far: the kernel's instants where it gave them.
    let sent = m.sent();
    let answered = m.answered();
    if let Some((last_write, source)) = sent {
        rec.push(
            crate::net::phases::REQUEST_SENT,
            m.first_write.unwrap_or(request_start).min(last_write),
            last_write,
            Some(if reused {
                format!("reused connection, {} bytes", m.bytes_written)
            } else {
                format!("{} bytes", m.bytes_written)
            }),
        );
        rec.source(source);
        if let Some((first_read, source)) = answered
            && !not_http
        {
            rec.push(
                crate::http::phases::FIRST_BYTE,
                last_write,
                first_read,
                None,
            );
            rec.source(source);
        }
    }
    let fail_start = if not_http {
        sent.map_or(request_start, |s| s.0)
    } else {
        answered.or(sent).map_or(request_start, |s| s.0)
    };
    let response = match result {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            let message = if not_http && foreign {
                let shown: String = String::from_utf8_lossy(&head[..head.len().min(24)])
                    .chars()
                    .map(|c| if c.is_control() { '.' } else { c })
                    .collect();
                format!(
                    "the peer is not an HTTP server: it answered {shown:?}… (an HTTP/1.x response starts \"HTTP/1.1 …\")"
                )
            } else if not_http {
                format!(
                    "the peer is not an HTTP server: what it answered is not an HTTP/1.x response ({e})"
                )
            } else if e.is_incomplete_message() || e.is_closed() {
                format!("the server closed the connection before answering: {e}")
            } else {
                format!("HTTP error: {e}")
            };
            return Err((
                rec.fail(failed_phase, fail_start, ErrorKind::Protocol, message),
                None,
            ));
        }
        Err(_) => {
            let message = rec.timeout_message();
            return Err((
                rec.fail(failed_phase, fail_start, ErrorKind::Timeout, message),
                None,
            ));
        }
    };
    let (parts, mut incoming) = response.into_parts();
    let first_byte_at = marks.snapshot().answered().map_or(headers_at, |a| a.0);
    let status_line = format!(
        "{} {}",
        parts.status.as_u16(),
        parts.status.canonical_reason().unwrap_or("")
    )
    .trim_end()
    .to_string();
    let mut response_msg = Message {
        line: format!("{version} {status_line}"),
        headers: headers_list(&parts.headers),
        ..Message::default()
    };

    // Body: keep up to max_body_bytes, count the rest.
    let mut bytes = Vec::new();
    let mut size = 0u64;
    let mut truncated = false;
    let read_body = async {
        while let Some(frame) = incoming.frame().await {
            let frame = frame?;
            if let Ok(data) = frame.into_data() {
                size += data.len() as u64;
                let room = req.max_body_bytes.saturating_sub(bytes.len());
                if data.len() > room {
                    truncated = true;
                }
                bytes.extend_from_slice(&data[..data.len().min(room)]);
            }
        }
        Ok::<_, hyper::Error>(())
    };
    let body_result = rec.within(read_body).await;
    let body_end = Instant::now();
    response_msg.body = Body { bytes, truncated };
    response_msg.size_bytes = size;
    match body_result {
        Ok(Ok(())) => {
            rec.push(
                crate::http::phases::BODY,
                first_byte_at,
                body_end,
                Some(format!("{size} bytes")),
            );
            Ok(Outcome::Answered {
                ok: parts.status.as_u16() < 400,
                status: status_line,
                response: response_msg,
            })
        }
        Ok(Err(e)) => Err((
            rec.fail(
                crate::http::phases::BODY,
                first_byte_at,
                ErrorKind::Protocol,
                format!("the body broke off after {size} bytes: {e}"),
            ),
            Some(response_msg),
        )),
        Err(_) => {
            let message = rec.timeout_message();
            Err((
                rec.fail(
                    crate::http::phases::BODY,
                    first_byte_at,
                    ErrorKind::Timeout,
                    message,
                ),
                Some(response_msg),
            ))
        }
    }
}

/// HTTP's phases (besides the connection's, in [`crate::net::phases`]).
pub mod phases {
    use crate::timeline::{PhaseClass, PhaseKind};

    /// Waiting: from the request sent to the first byte of the response.
    pub const FIRST_BYTE: PhaseKind = PhaseKind::new("first_byte", "first byte", PhaseClass::Wait);
    /// Reading the response body.
    pub const BODY: PhaseKind = PhaseKind::new("body", "body", PhaseClass::Receive);

    pub const ALL: &[PhaseKind] = &[FIRST_BYTE, BODY];
}
