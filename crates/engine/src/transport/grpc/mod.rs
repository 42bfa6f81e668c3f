//! gRPC unary calls with a timeline: connect (and TLS), request sent, response headers, message,
//! trailers. Messages are encoded from JSON through a descriptor pool (proto3 JSON mapping).

pub mod codec;
pub mod descriptors;
pub mod proto_json;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use hyper_util::rt::TokioIo;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor};

use crate::codec::DynamicCodec;
use crate::exchange::{ErrorKind, Exchange, ExchangeError, Header, Message, Transport};
use crate::net;
use crate::payload::Body;
use crate::recorder::{Outcome, Recorder};
use crate::timed_io::{IoMarks, TimedIo};

/// The demo's method, the default of every gRPC editor.
pub const DEFAULT_METHOD: &str = demo_contract::GET_USER_METHOD;

/// A unary gRPC call to make.
#[derive(Debug, Clone, PartialEq)]
pub struct GrpcRequest {
    /// `host:port`, `http://host:port` or `https://host:port`.
    pub addr: String,
    /// `package.Service/Method`.
    pub method: String,
    pub metadata: Vec<Header>,
    /// The request message in proto3 JSON.
    pub json: String,
    pub timeout: Duration,
    /// Extra CA, client certificate (for `https://` addresses).
    pub tls: crate::net::TlsOptions,
}

/// The descriptors of the bundled `proto/user.proto` (plus nothing else yet).
pub fn builtin_pool() -> Result<DescriptorPool, ExchangeError> {
    DescriptorPool::decode(demo_contract::USER_PROTO_DESCRIPTOR_SET)
        .map_err(|e| ExchangeError::invalid_input(format!("bundled descriptors are corrupt: {e}")))
}

/// Finds `package.Service/Method` in `pool`.
pub fn find_method(pool: &DescriptorPool, method: &str) -> Result<MethodDescriptor, ExchangeError> {
    let known = || {
        pool.services()
            .flat_map(|s| {
                s.methods()
                    .map(|m| format!("{}/{}", s.full_name(), m.name()))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let trimmed = method.trim().trim_start_matches('/');
    let (service, name) = trimmed
        .rsplit_once('/')
        .or_else(|| trimmed.rsplit_once('.'))
        .ok_or_else(|| {
            ExchangeError::invalid_input(format!(
                "method {method:?} is not of the form package.Service/Method (known: {})",
                known()
            ))
        })?;
    let service_desc = pool.get_service_by_name(service).ok_or_else(|| {
        ExchangeError::invalid_input(format!(
            "unknown service {service:?} (known methods: {})",
            known()
        ))
    })?;
    service_desc
        .methods()
        .find(|m| m.name() == name)
        .ok_or_else(|| {
            ExchangeError::invalid_input(format!(
                "unknown method {name:?} in {service} (known methods: {})",
                known()
            ))
        })
}

/// Serializes a message in proto3 JSON, keeping fields that have their default value (an
/// `Any` of an unknown type as its URL and base64 bytes: [`self::proto_json::render`]).
pub fn message_to_json(message: &DynamicMessage) -> String {
    self::proto_json::render(message).json
}

/// The note header added to a response's trailers for each part shown otherwise than the
/// proto3 JSON mapping says (an `Any` of a type the descriptors do not know).
pub const NOTE_HEADER: &str = "x-switchboard-note";

/// Parses proto3 JSON into a message of the method's input type.
pub fn json_to_message(
    method: &MethodDescriptor,
    json: &str,
) -> Result<DynamicMessage, ExchangeError> {
    let input = method.input();
    let text = if json.trim().is_empty() { "{}" } else { json };
    let mut de = serde_json::Deserializer::from_str(text);
    let message = DynamicMessage::deserialize(input.clone(), &mut de)
        .and_then(|m| de.end().map(|()| m))
        .map_err(|e| {
            ExchangeError::invalid_input(format!(
                "invalid request JSON for {}: {e}",
                input.full_name()
            ))
        })?;
    Ok(message)
}

pub(crate) struct Addr {
    uri: String,
    host: String,
    port: u16,
    tls: bool,
}

/// Reads a gRPC address as [`call`] does (`host:port`, `http://host:port`, `https://host:port`)
/// and returns the URI it connects to.
pub fn check_addr(addr: &str) -> Result<String, ExchangeError> {
    parse_addr(addr).map(|a| a.uri)
}

pub(crate) fn parse_addr(addr: &str) -> Result<Addr, ExchangeError> {
    let addr = addr.trim();
    let (tls, rest) = if let Some(rest) = addr.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = addr.strip_prefix("http://") {
        (false, rest)
    } else if addr.contains("://") {
        return Err(ExchangeError::invalid_input(format!(
            "unsupported gRPC address {addr:?}: use host:port, http://host:port or https://host:port"
        )));
    } else {
        (false, addr)
    };
    let rest = rest.trim_end_matches('/');
    let url = url::Url::parse(&format!("{}://{rest}", if tls { "https" } else { "http" }))
        .map_err(|e| {
            ExchangeError::invalid_input(format!("malformed gRPC address {addr:?}: {e}"))
        })?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ExchangeError::invalid_input(format!("gRPC address {addr:?} has no host")))?
        .to_string();
    if url.path() != "/" && !url.path().is_empty() {
        return Err(ExchangeError::invalid_input(format!(
            "gRPC address {addr:?} must not have a path; put the method in the method field"
        )));
    }
    let port = url
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    Ok(Addr {
        uri: format!(
            "{}://{}:{port}",
            if tls { "https" } else { "http" },
            url.host_str().unwrap_or(&host)
        ),
        host,
        port,
        tls,
    })
}

fn metadata_list(map: &tonic::metadata::MetadataMap) -> Vec<Header> {
    map.clone()
        .into_headers()
        .iter()
        .map(|(k, v)| Header::new(k.as_str(), String::from_utf8_lossy(v.as_bytes())))
        .collect()
}

/// Makes one unary call on a fresh connection and records its timeline.
pub async fn call(req: &GrpcRequest, pool: &DescriptorPool) -> Exchange {
    call_with(req, pool, None).await
}

async fn call_with(
    req: &GrpcRequest,
    pool: &DescriptorPool,
    client: Option<&GrpcClient>,
) -> Exchange {
    call_streaming(req, pool, client, None, None).await
}

/// A message received on a stream, as it arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Microseconds from the start of the call.
    pub at_us: u64,
    pub size_bytes: u64,
    /// The message in proto3 JSON.
    pub json: String,
}

/// Makes a call of any kind. For streaming methods, request messages come from `input` (sent
/// as they arrive; the stream half-closes when the sender is dropped) or else from the JSON,
/// and each response message is also sent to `observer` as it arrives.
pub async fn call_streaming(
    req: &GrpcRequest,
    pool: &DescriptorPool,
    client: Option<&GrpcClient>,
    input: Option<mpsc::Receiver<DynamicMessage>>,
    observer: Option<mpsc::Sender<Received>>,
) -> Exchange {
    call_streaming_until(
        req,
        pool,
        client,
        input,
        observer,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
}

/// [`call_streaming`] that `cancel` ends gracefully: the exchange keeps what was sent and
/// received, and ends with a `cancelled` error in the phase that was running.
pub async fn call_streaming_until(
    req: &GrpcRequest,
    pool: &DescriptorPool,
    client: Option<&GrpcClient>,
    input: Option<mpsc::Receiver<DynamicMessage>>,
    observer: Option<mpsc::Sender<Received>>,
    cancel: tokio_util::sync::CancellationToken,
) -> Exchange {
    let mut rec = Recorder::new(req.timeout);
    let target = format!("{} {}", req.addr.trim(), req.method.trim());
    let mut request_msg = Message {
        line: format!("POST /{}", req.method.trim().trim_start_matches('/')),
        headers: req.metadata.clone(),
        body: Body::new(req.json.clone().into_bytes()),
        ..Message::default()
    };
    let outcome = match run(
        &mut rec,
        req,
        pool,
        &mut request_msg,
        client,
        input,
        observer,
        cancel,
    )
    .await
    {
        Ok(outcome) => outcome,
        Err((error, response)) => {
            // A channel that failed is not reused.
            if let (Some(c), Ok(addr)) = (client, parse_addr(&req.addr)) {
                c.forget(&addr.uri);
            }
            Outcome::Failed { error, response }
        }
    };
    rec.finish(Transport::Grpc, target, request_msg, outcome)
}

type Failure = (ExchangeError, Option<Message>);

/// The exchange of a call that never started because finding the method's types failed after
/// `took`: one failed `discover` phase holding `error`.
pub fn discovery_failed(
    req: &GrpcRequest,
    took: std::time::Duration,
    mut error: ExchangeError,
) -> Exchange {
    let took_us = took.as_micros() as u64;
    error.phase = Some(phases::DISCOVER);
    Exchange {
        transport: Transport::Grpc,
        target: format!("{} {}", req.addr.trim(), req.method.trim()),
        started_at_ms: crate::recorder::unix_ms().saturating_sub(took_us / 1000),
        ok: false,
        status: None,
        error: Some(error),
        total_us: took_us,
        timeline: vec![crate::timeline::Phase {
            phase: phases::DISCOVER,
            start_us: 0,
            end_us: took_us,
            detail: None,
            failed: true,
        }],
        request: Message {
            line: format!("POST /{}", req.method.trim().trim_start_matches('/')),
            headers: req.metadata.clone(),
            body: Body::new(req.json.clone().into_bytes()),
            ..Message::default()
        },
        response: None,
    }
}

/// Connects through our own connector, so DNS, TCP and TLS are timed, then sets up HTTP/2.
pub(crate) async fn open_channel(
    rec: &mut Recorder,
    addr: &Addr,
    tls: &net::TlsOptions,
) -> Result<OpenChannel, Failure> {
    let marks = Arc::new(IoMarks::http2());
    let opened = net::open(
        rec,
        &addr.host,
        addr.port,
        addr.tls.then_some(&[b"h2".as_slice()][..]),
        tls,
    )
    .await
    .map_err(|e| (e, None))?;
    let slot = Arc::new(Mutex::new(Some(TimedIo::new(opened.stream, marks.clone()))));
    let connector = tower::service_fn(move |_: http::Uri| {
        let io = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        async move {
            io.map(TokioIo::new).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotConnected, "connection already used")
            })
        }
    });
    let endpoint = tonic::transport::Endpoint::from_shared(addr.uri.clone()).map_err(|e| {
        (
            ExchangeError::invalid_input(format!("bad gRPC address: {e}")),
            None,
        )
    })?;
    let handshake_start = Instant::now();
    marks.handshake_started();
    let channel =
        match tokio::time::timeout_at(rec.deadline, endpoint.connect_with_connector(connector))
            .await
        {
            Ok(Ok(channel)) => channel,
            Ok(Err(e)) => {
                return Err((
                    rec.fail(
                        crate::net::phases::HTTP2_HANDSHAKE,
                        handshake_start,
                        ErrorKind::Protocol,
                        format!("HTTP/2 connection setup failed: {e}"),
                    ),
                    None,
                ));
            }
            Err(_) => {
                let message = rec.timeout_message();
                return Err((
                    rec.fail(
                        crate::net::phases::HTTP2_HANDSHAKE,
                        handshake_start,
                        ErrorKind::Timeout,
                        message,
                    ),
                    None,
                ));
            }
        };
    rec.http2_opened(marks.clone());
    Ok((channel, marks))
}

/// A connected channel and the marks of its connection.
type OpenChannel = (tonic::transport::Channel, Arc<IoMarks>);

/// A client that keeps one HTTP/2 channel per address and multiplexes calls on it: a reused
/// channel's timeline has no connect phase. Cloning shares the channels.
#[derive(Clone, Default)]
pub struct GrpcClient {
    channels: Arc<Mutex<std::collections::HashMap<String, OpenChannel>>>,
}

impl std::fmt::Debug for GrpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcClient").finish_non_exhaustive()
    }
}

impl GrpcClient {
    fn get(&self, uri: &str) -> Option<OpenChannel> {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(uri)
            .cloned()
    }

    fn put(&self, uri: &str, pair: OpenChannel) {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(uri.to_string(), pair);
    }

    fn forget(&self, uri: &str) {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uri);
    }

    /// Makes one unary call, reusing this address's channel when there is one.
    pub async fn call(&self, req: &GrpcRequest, pool: &DescriptorPool) -> Exchange {
        call_with(req, pool, Some(self)).await
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    rec: &mut Recorder,
    req: &GrpcRequest,
    pool: &DescriptorPool,
    request_msg: &mut Message,
    client: Option<&GrpcClient>,
    input: Option<mpsc::Receiver<DynamicMessage>>,
    observer: Option<mpsc::Sender<Received>>,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<Outcome, Failure> {
    let addr = parse_addr(&req.addr).map_err(|e| (e, None))?;
    let method = find_method(pool, &req.method).map_err(|e| (e, None))?;
    let streaming = method.is_client_streaming() || method.is_server_streaming();
    // Streaming calls take their request messages from `input` when given, else from the JSON
    // (one value for a single request; any number, one after another, for client streams).
    let mut messages = Vec::new();
    let mut message = None;
    if streaming {
        if input.is_none() {
            messages = json_to_messages(&method, &req.json).map_err(|e| (e, None))?;
        }
    } else {
        let m = json_to_message(&method, &req.json).map_err(|e| (e, None))?;
        request_msg.body = Body::new(message_to_json(&m).into_bytes());
        request_msg.size_bytes = m.encoded_len() as u64;
        message = Some(m);
    }
    let metadata = metadata_map(&req.metadata).map_err(|e| (e, None))?;

    let cached = client.and_then(|c| c.get(&addr.uri));
    let reused = cached.is_some();
    let (channel, marks) = match cached {
        Some(pair) => pair,
        None => {
            let pair = open_channel(rec, &addr, &req.tls).await?;
            if let Some(c) = client {
                c.put(&addr.uri, pair.clone());
            }
            pair
        }
    };

    let path = http::uri::PathAndQuery::from_maybe_shared(format!(
        "/{}/{}",
        method.parent_service().full_name(),
        method.name()
    ))
    .map_err(|e| {
        (
            ExchangeError::invalid_input(format!("bad method path: {e}")),
            None,
        )
    })?;
    let Some(message) = message else {
        let input = match input {
            Some(input) => Input::Channel(input),
            None => Input::Messages(messages),
        };
        return streaming_call(
            rec,
            &method,
            path,
            (channel, marks),
            metadata,
            input,
            observer,
            request_msg,
            cancel,
        )
        .await;
    };
    let mut grpc = tonic::client::Grpc::new(channel);
    let request = tonic::Request::from_parts(metadata, tonic::Extensions::default(), message);
    // The deadline is enforced here (timeout_at below), not sent as grpc-timeout: like
    // grpcurl without -max-time, the server is not asked to keep a timer per call.
    let codec = DynamicCodec::new(method.output());

    marks.arm();
    let request_start = Instant::now();
    let call = async {
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("channel not ready: {e}")))?;
        grpc.server_streaming(request, path, codec).await
    };
    let result = tokio::time::timeout_at(rec.deadline, call).await;
    let headers_at = Instant::now();
    let m = marks.snapshot();
    let sent_end = m.last_write.unwrap_or(request_start);
    if m.last_write.is_some() {
        // From the request's first frame written to its last (END_STREAM): its own frames,
        // not the connection's SETTINGS or WINDOW_UPDATEs.
        rec.push(
            crate::net::phases::REQUEST_SENT,
            m.first_write.unwrap_or(request_start),
            sent_end,
            Some(if reused {
                format!("reused channel, {} bytes of frames", m.bytes_written)
            } else {
                format!("{} bytes of frames", m.bytes_written)
            }),
        );
    }
    let mut response_msg = Message::default();
    let status_outcome = |status: &tonic::Status, mut response_msg: Message| {
        let code = format!("{:?}", status.code());
        response_msg.trailers = status_trailers(status);
        if !response_msg
            .trailers
            .iter()
            .any(|h| h.name == "grpc-status")
        {
            response_msg.trailers.push(Header::new(
                "grpc-status",
                (status.code() as i32).to_string(),
            ));
            if !status.message().is_empty() {
                response_msg
                    .trailers
                    .push(Header::new("grpc-message", status.message()));
            }
        }
        response_msg.line = format!(
            "grpc-status {} {}",
            status.code() as i32,
            code_name(status.code())
        );
        (code_name(status.code()).to_string(), code, response_msg)
    };
    let response = match result {
        Ok(Ok(response)) => response,
        Ok(Err(status)) => {
            // A trailers-only answer (e.g. NOT_FOUND) or a transport failure.
            if is_transport_failure(&status) {
                let (phase, start) = match handshake_failed(&marks) {
                    Some(started) => (crate::net::phases::HTTP2_HANDSHAKE, started),
                    None if m.last_write.is_some() => {
                        (crate::grpc::phases::RESPONSE_HEADERS, sent_end)
                    }
                    None => (crate::net::phases::REQUEST_SENT, sent_end),
                };
                return Err((
                    rec.fail(
                        phase,
                        start,
                        ErrorKind::Protocol,
                        transport_failure_message(&status, &marks.first_bytes()),
                    ),
                    None,
                ));
            }
            rec.push(
                crate::grpc::phases::RESPONSE_HEADERS,
                sent_end,
                headers_at,
                Some("trailers-only".to_string()),
            );
            let (name, _, msg) = status_outcome(&status, response_msg);
            return Ok(Outcome::Answered {
                ok: false,
                status: name,
                response: msg,
            });
        }
        Err(_) => {
            let message = rec.timeout_message();
            return Err((
                rec.fail(
                    crate::grpc::phases::RESPONSE_HEADERS,
                    sent_end,
                    ErrorKind::Timeout,
                    message,
                ),
                None,
            ));
        }
    };
    rec.push(
        crate::grpc::phases::RESPONSE_HEADERS,
        sent_end,
        headers_at,
        None,
    );
    let (headers, mut stream, _) = response.into_parts();
    response_msg.headers = metadata_list(&headers);

    let message = tokio::time::timeout_at(rec.deadline, stream.message()).await;
    let message_at = Instant::now();
    let mut notes = Vec::new();
    match message {
        Ok(Ok(Some(reply))) => {
            let size = reply.encoded_len() as u64;
            let rendered = self::proto_json::render(&reply);
            notes = rendered.notes;
            response_msg.body = Body::new(rendered.json.into_bytes());
            response_msg.size_bytes = size;
            rec.push(
                crate::grpc::phases::MESSAGE,
                headers_at,
                message_at,
                Some(format!("{size} bytes")),
            );
        }
        Ok(Ok(None)) => {}
        Ok(Err(status)) => {
            rec.push(crate::grpc::phases::TRAILERS, headers_at, message_at, None);
            let (name, _, msg) = status_outcome(&status, response_msg);
            return Ok(Outcome::Answered {
                ok: false,
                status: name,
                response: msg,
            });
        }
        Err(_) => {
            let message = rec.timeout_message();
            return Err((
                rec.fail(
                    crate::grpc::phases::MESSAGE,
                    headers_at,
                    ErrorKind::Timeout,
                    message,
                ),
                Some(response_msg),
            ));
        }
    }
    let trailers = tokio::time::timeout_at(rec.deadline, stream.trailers()).await;
    let trailers_at = Instant::now();
    match trailers {
        Ok(Ok(trailers)) => {
            rec.push(crate::grpc::phases::TRAILERS, message_at, trailers_at, None);
            let mut trailer_list = trailers.as_ref().map(metadata_list).unwrap_or_default();
            if !trailer_list.iter().any(|h| h.name == "grpc-status") {
                trailer_list.insert(0, Header::new("grpc-status", "0"));
            }
            trailer_list.extend(notes.into_iter().map(|n| Header::new(NOTE_HEADER, n)));
            response_msg.trailers = trailer_list;
            response_msg.line = "grpc-status 0 OK".to_string();
            Ok(Outcome::Answered {
                ok: true,
                status: "OK".to_string(),
                response: response_msg,
            })
        }
        Ok(Err(status)) => {
            rec.push(crate::grpc::phases::TRAILERS, message_at, trailers_at, None);
            let (name, _, msg) = status_outcome(&status, response_msg);
            Ok(Outcome::Answered {
                ok: false,
                status: name,
                response: msg,
            })
        }
        Err(_) => {
            let message = rec.timeout_message();
            Err((
                rec.fail(
                    crate::grpc::phases::TRAILERS,
                    message_at,
                    ErrorKind::Timeout,
                    message,
                ),
                Some(response_msg),
            ))
        }
    }
}

/// True when a status was made up by the client because the transport failed.
/// (A status decoded from the server's trailers has no source error; one tonic makes up for a
/// broken connection, a refused TLS client certificate… does.)
pub(crate) fn is_transport_failure(status: &tonic::Status) -> bool {
    use std::error::Error as _;
    status.source().is_some()
}

/// What went wrong on the connection, with the underlying causes; `head` is what the peer
/// sent first on the connection (an HTTP/2 server always starts with a SETTINGS frame).
/// When a call failed on a connection whose peer never sent HTTP/2 SETTINGS: the handshake is
/// what failed; its start.
fn handshake_failed(marks: &IoMarks) -> Option<Instant> {
    let h = marks.handshake();
    if h.server_settings.is_some() {
        return None;
    }
    h.started
}

pub(crate) fn transport_failure_message(status: &tonic::Status, head: &[u8]) -> String {
    use std::error::Error as _;
    let mut message = format!("the call failed: {}", status.message());
    let mut source = status.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // tonic and hyper repeat their causes in their own messages.
        if !message.contains(&text) {
            message.push_str(&format!(": {text}"));
        }
        source = cause.source();
    }
    let starts_with_settings = head.len() >= 9 && head[3] == 0x04 && head[5..9] == [0, 0, 0, 0];
    if !head.is_empty() && !starts_with_settings {
        let shown: String = String::from_utf8_lossy(&head[..head.len().min(24)])
            .chars()
            .map(|c| if c.is_control() { '.' } else { c })
            .collect();
        return format!(
            "the peer is not an HTTP/2 server: it answered {shown:?}… (an HTTP/1.x server answers \"HTTP/1.1 …\"; gRPC needs HTTP/2)"
        );
    }
    let closed = [
        "connection already used",
        "connection closed",
        "broken pipe",
        "connection reset",
    ]
    .iter()
    .any(|s| message.contains(s));
    if head.is_empty() && closed {
        // Our connector hands out its one connection once: being asked again, or the
        // connection closing before the peer said anything, means it never spoke HTTP/2.
        return "the peer is not an HTTP/2 server: it closed the connection without an HTTP/2 word (is it a gRPC server?)".to_string();
    }
    if message.contains("frame with invalid size") || message.contains("invalid HTTP/2 preface") {
        return format!(
            "the peer is not an HTTP/2 server: its answer is not HTTP/2 (an HTTP/1.x server answers like this; gRPC needs HTTP/2) — {message}"
        );
    }
    message
}

/// The canonical upper-case name of a gRPC status code.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// A unary call prepared once and made many times (load mode): the request is parsed and the
/// method looked up up front, and the reply is only checked for its status, not rendered.
#[derive(Debug, Clone)]
pub struct PreparedCall {
    addr: String,
    uri: String,
    path: http::uri::PathAndQuery,
    output: prost_reflect::MessageDescriptor,
    message: DynamicMessage,
    metadata: tonic::metadata::MetadataMap,
    timeout: Duration,
    tls: net::TlsOptions,
}

impl PreparedCall {
    pub fn new(req: &GrpcRequest, pool: &DescriptorPool) -> Result<Self, ExchangeError> {
        let addr = parse_addr(&req.addr)?;
        let method = find_method(pool, &req.method)?;
        if method.is_client_streaming() || method.is_server_streaming() {
            return Err(ExchangeError::invalid_input(format!(
                "{} is a streaming method; load mode calls unary methods only",
                method.full_name()
            )));
        }
        let message = json_to_message(&method, &req.json)?;
        let metadata = metadata_map(&req.metadata)?;
        let path = http::uri::PathAndQuery::from_maybe_shared(format!(
            "/{}/{}",
            method.parent_service().full_name(),
            method.name()
        ))
        .map_err(|e| ExchangeError::invalid_input(format!("bad method path: {e}")))?;
        Ok(Self {
            addr: req.addr.clone(),
            uri: addr.uri,
            path,
            output: method.output(),
            message,
            metadata,
            timeout: req.timeout,
            tls: req.tls.clone(),
        })
    }
}

impl GrpcClient {
    /// Makes a prepared call on this client's channel (connecting first if needed); returns the
    /// failure kind (`NOT_FOUND`, `connection_refused`…) or `None` for `OK`.
    pub async fn call_prepared(&self, call: &PreparedCall) -> Option<String> {
        let channel = match self.get(&call.uri) {
            Some((channel, _)) => channel,
            None => {
                let mut rec = Recorder::new(call.timeout);
                let addr = match parse_addr(&call.addr) {
                    Ok(a) => a,
                    Err(e) => return Some(e.kind.as_str().to_string()),
                };
                match open_channel(&mut rec, &addr, &call.tls).await {
                    Ok(pair) => {
                        self.put(&call.uri, pair.clone());
                        pair.0
                    }
                    Err((e, _)) => return Some(e.kind.as_str().to_string()),
                }
            }
        };
        let mut grpc = tonic::client::Grpc::new(channel);
        let request = tonic::Request::from_parts(
            call.metadata.clone(),
            tonic::Extensions::default(),
            call.message.clone(),
        );
        let result = async {
            grpc.ready()
                .await
                .map_err(|e| tonic::Status::unavailable(format!("channel not ready: {e}")))?;
            grpc.unary(
                request,
                call.path.clone(),
                DynamicCodec::new(call.output.clone()),
            )
            .await
        };
        match tokio::time::timeout(call.timeout, result).await {
            Ok(Ok(_)) => None,
            Ok(Err(status)) => {
                if is_transport_failure(&status) {
                    self.forget(&call.uri);
                }
                Some(code_name(status.code()).to_string())
            }
            Err(_) => Some("timeout".to_string()),
        }
    }
}

/// Parses one JSON value after another (a client stream's messages).
pub fn json_to_messages(
    method: &MethodDescriptor,
    json: &str,
) -> Result<Vec<DynamicMessage>, ExchangeError> {
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(json).into_iter::<serde_json::Value>();
    for (i, value) in stream.by_ref().enumerate() {
        let value = value.map_err(|e| {
            ExchangeError::invalid_input(format!("invalid request JSON (message {}): {e}", i + 1))
        })?;
        let message = json_to_message(method, &value.to_string()).map_err(|e| {
            ExchangeError::invalid_input(format!("message {}: {}", i + 1, e.message))
        })?;
        out.push(message);
    }
    if out.is_empty() && !method.is_client_streaming() {
        out.push(DynamicMessage::new(method.input()));
    }
    Ok(out)
}

/// Where a streaming call's request messages come from.
enum Input {
    Messages(Vec<DynamicMessage>),
    Channel(mpsc::Receiver<DynamicMessage>),
}

/// A call of a streaming method: every message sent and received gets its own phase.
#[allow(clippy::too_many_arguments)]
async fn streaming_call(
    rec: &mut Recorder,
    method: &MethodDescriptor,
    path: http::uri::PathAndQuery,
    (channel, marks): OpenChannel,
    metadata: tonic::metadata::MetadataMap,
    input: Input,
    observer: Option<mpsc::Sender<Received>>,
    request_msg: &mut Message,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<Outcome, Failure> {
    use futures_util::StreamExt;
    let sent: Arc<Mutex<Vec<(Instant, u64, String)>>> = Arc::default();
    let log = sent.clone();
    let record = move |m: DynamicMessage| {
        let entry = (Instant::now(), m.encoded_len() as u64, message_to_json(&m));
        log.lock().unwrap_or_else(|p| p.into_inner()).push(entry);
        m
    };
    let requests: std::pin::Pin<Box<dyn futures_util::Stream<Item = DynamicMessage> + Send>> =
        match input {
            Input::Messages(list) => Box::pin(futures_util::stream::iter(list).map(record)),
            Input::Channel(rx) => Box::pin(crate::descriptors::ReceiverStream(rx).map(record)),
        };
    let mut grpc = tonic::client::Grpc::new(channel);
    let request = tonic::Request::from_parts(metadata, tonic::Extensions::default(), requests);
    let start = Instant::now();
    let call = async {
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("channel not ready: {e}")))?;
        grpc.streaming(request, path, DynamicCodec::new(method.output()))
            .await
    };
    let result = tokio::time::timeout_at(rec.deadline, call).await;
    let headers_at = Instant::now();
    let mut response_msg = Message::default();
    let mut received: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut received_bytes = 0u64;
    let finish_request = |rec: &mut Recorder, request_msg: &mut Message| {
        let sent = sent.lock().unwrap_or_else(|p| p.into_inner());
        let mut previous = start;
        for (i, (at, size, _)) in sent.iter().enumerate() {
            rec.push(
                crate::grpc::phases::MESSAGE_SENT,
                previous.min(*at),
                *at,
                Some(format!("#{} {size} bytes", i + 1)),
            );
            previous = *at;
        }
        let jsons: Vec<&str> = sent.iter().map(|(_, _, j)| j.as_str()).collect();
        request_msg.body = Body::new(format!("[{}]", jsons.join(",")).into_bytes());
        request_msg.size_bytes = sent.iter().map(|(_, s, _)| s).sum();
    };
    let status_outcome = |status: &tonic::Status, mut msg: Message, received: &[String]| {
        msg.trailers = status_trailers(status);
        if !msg.trailers.iter().any(|h| h.name == "grpc-status") {
            msg.trailers.push(Header::new(
                "grpc-status",
                (status.code() as i32).to_string(),
            ));
            if !status.message().is_empty() {
                msg.trailers
                    .push(Header::new("grpc-message", status.message()));
            }
        }
        msg.line = format!(
            "grpc-status {} {}",
            status.code() as i32,
            code_name(status.code())
        );
        if !received.is_empty() {
            msg.body = Body::new(format!("[{}]", received.join(",")).into_bytes());
        }
        Outcome::Answered {
            ok: false,
            status: code_name(status.code()).to_string(),
            response: msg,
        }
    };
    let response = match result {
        Ok(Ok(response)) => response,
        Ok(Err(status)) => {
            finish_request(rec, request_msg);
            if is_transport_failure(&status) {
                let (phase, start) = match handshake_failed(&marks) {
                    Some(started) => (crate::net::phases::HTTP2_HANDSHAKE, started),
                    None => (crate::grpc::phases::RESPONSE_HEADERS, start),
                };
                return Err((
                    rec.fail(
                        phase,
                        start,
                        ErrorKind::Protocol,
                        transport_failure_message(&status, &marks.first_bytes()),
                    ),
                    None,
                ));
            }
            rec.push(
                crate::grpc::phases::RESPONSE_HEADERS,
                start,
                headers_at,
                Some("trailers-only".to_string()),
            );
            return Ok(status_outcome(&status, response_msg, &received));
        }
        Err(_) => {
            finish_request(rec, request_msg);
            let message = rec.timeout_message();
            return Err((
                rec.fail(
                    crate::grpc::phases::RESPONSE_HEADERS,
                    start,
                    ErrorKind::Timeout,
                    message,
                ),
                None,
            ));
        }
    };
    // Waiting for the answer starts once the last message before it was handed over (in a bidi
    // call messages can keep going out meanwhile: those phases overlap).
    let waiting_since = sent
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(at, _, _)| *at)
        .filter(|at| *at <= headers_at)
        .max()
        .unwrap_or(start);
    rec.push(
        crate::grpc::phases::RESPONSE_HEADERS,
        waiting_since,
        headers_at,
        None,
    );
    let (headers, mut stream, _) = response.into_parts();
    response_msg.headers = metadata_list(&headers);
    let mut previous = headers_at;
    loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => {
                finish_request(rec, request_msg);
                response_msg.size_bytes = received_bytes;
                response_msg.body = Body::new(format!("[{}]", received.join(",")).into_bytes());
                let error = rec.fail(
                    crate::grpc::phases::MESSAGE,
                    previous,
                    ErrorKind::Cancelled,
                    format!("stopped by the user after {} messages", received.len()),
                );
                return Err((error, Some(response_msg)));
            }
            next = tokio::time::timeout_at(rec.deadline, stream.message()) => next,
        };
        let at = Instant::now();
        match next {
            Ok(Ok(Some(reply))) => {
                let size = reply.encoded_len() as u64;
                let rendered = self::proto_json::render(&reply);
                notes.extend(rendered.notes);
                let json = rendered.json;
                rec.push(
                    crate::grpc::phases::MESSAGE,
                    previous,
                    at,
                    Some(format!("#{} {size} bytes", received.len() + 1)),
                );
                previous = at;
                received_bytes += size;
                if let Some(observer) = &observer {
                    let _ = observer
                        .send(Received {
                            at_us: rec.clock.offset_us(at),
                            size_bytes: size,
                            json: json.clone(),
                        })
                        .await;
                }
                received.push(json);
            }
            Ok(Ok(None)) => break,
            Ok(Err(status)) => {
                finish_request(rec, request_msg);
                rec.push(crate::grpc::phases::TRAILERS, previous, at, None);
                response_msg.size_bytes = received_bytes;
                return Ok(status_outcome(&status, response_msg, &received));
            }
            Err(_) => {
                finish_request(rec, request_msg);
                response_msg.size_bytes = received_bytes;
                response_msg.body = Body::new(format!("[{}]", received.join(",")).into_bytes());
                let message = rec.timeout_message();
                return Err((
                    rec.fail(
                        crate::grpc::phases::MESSAGE,
                        previous,
                        ErrorKind::Timeout,
                        message,
                    ),
                    Some(response_msg),
                ));
            }
        }
    }
    let trailers = tokio::time::timeout_at(rec.deadline, stream.trailers()).await;
    let at = Instant::now();
    finish_request(rec, request_msg);
    response_msg.size_bytes = received_bytes;
    let body = if method.is_server_streaming() {
        format!("[{}]", received.join(","))
    } else {
        received.first().cloned().unwrap_or_default()
    };
    response_msg.body = Body::new(body.into_bytes());
    match trailers {
        Ok(Ok(trailers)) => {
            rec.push(crate::grpc::phases::TRAILERS, previous, at, None);
            let mut list = trailers.as_ref().map(metadata_list).unwrap_or_default();
            if !list.iter().any(|h| h.name == "grpc-status") {
                list.insert(0, Header::new("grpc-status", "0"));
            }
            list.extend(notes.into_iter().map(|n| Header::new(NOTE_HEADER, n)));
            response_msg.trailers = list;
            response_msg.line = format!("grpc-status 0 OK · {} messages", received.len());
            Ok(Outcome::Answered {
                ok: true,
                status: "OK".to_string(),
                response: response_msg,
            })
        }
        Ok(Err(status)) => {
            rec.push(crate::grpc::phases::TRAILERS, previous, at, None);
            Ok(status_outcome(&status, response_msg, &received))
        }
        Err(_) => {
            let message = rec.timeout_message();
            Err((
                rec.fail(
                    crate::grpc::phases::TRAILERS,
                    previous,
                    ErrorKind::Timeout,
                    message,
                ),
                Some(response_msg),
            ))
        }
    }
}

/// Request metadata from name/value pairs (names lower-cased; ASCII values).
/// Metadata as given: `-bin` names carry base64 values (sent as the bytes they encode, like
/// grpcurl), the others ASCII text.
fn metadata_map(headers: &[Header]) -> Result<tonic::metadata::MetadataMap, ExchangeError> {
    use base64::Engine as _;
    let mut metadata = tonic::metadata::MetadataMap::new();
    for header in headers {
        let name = header.name.trim().to_ascii_lowercase();
        let bad_name =
            || ExchangeError::invalid_input(format!("invalid metadata name {:?}", header.name));
        let bad_value = |why: &str| {
            ExchangeError::invalid_input(format!(
                "invalid metadata value for {}: {:?}{why}",
                header.name, header.value
            ))
        };
        if name.ends_with("-bin") {
            let key = tonic::metadata::BinaryMetadataKey::from_bytes(name.as_bytes())
                .map_err(|_| bad_name())?;
            let value = header.value.trim();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(value))
                .map_err(|_| bad_value(" (a -bin value is base64)"))?;
            metadata.append_bin(key, tonic::metadata::MetadataValue::from_bytes(&bytes));
        } else {
            let key = tonic::metadata::AsciiMetadataKey::from_bytes(name.as_bytes())
                .map_err(|_| bad_name())?;
            let value = header.value.parse().map_err(|_| bad_value(""))?;
            metadata.append(key, value);
        }
    }
    Ok(metadata)
}

/// A status's trailers, plus its rich error details (`google.rpc.Status` in
/// `grpc-status-details-bin`: bad request violations, error info, retry info…) decoded, one
/// `error-detail` entry each.
fn status_trailers(status: &tonic::Status) -> Vec<Header> {
    use tonic_types::StatusExt;
    let mut trailers = metadata_list(status.metadata());
    for detail in status.get_error_details_vec() {
        trailers.push(Header::new("error-detail", format!("{detail:?}")));
    }
    trailers
}

/// gRPC's phases (besides the connection's, in [`crate::net::phases`]).
pub mod phases {
    use crate::timeline::{PhaseClass, PhaseKind};

    /// The response headers arrived.
    pub const RESPONSE_HEADERS: PhaseKind =
        PhaseKind::new("response_headers", "response headers", PhaseClass::Wait);
    /// A response message arrived.
    pub const MESSAGE: PhaseKind = PhaseKind::new("message", "message", PhaseClass::Receive);
    /// Streaming: a request message was handed to the connection.
    pub const MESSAGE_SENT: PhaseKind =
        PhaseKind::new("message_sent", "message sent", PhaseClass::Send);
    /// Trailers (the status) arrived.
    pub const TRAILERS: PhaseKind = PhaseKind::new("trailers", "trailers", PhaseClass::Receive);

    /// Finding the method's types before the call (server reflection on a connection of its
    /// own, or `.proto` files): Switchboard's work, before the exchange's own connection.
    pub const DISCOVER: PhaseKind = PhaseKind::new("discover", "discover", PhaseClass::Client);

    pub const ALL: &[PhaseKind] = &[RESPONSE_HEADERS, MESSAGE, MESSAGE_SENT, TRAILERS, DISCOVER];
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (hostile run): binary metadata (`-bin` names, base64 values) was refused.
    #[test]
    fn binary_metadata_is_sent_as_its_bytes() {
        let map = metadata_map(&[
            Header::new("x-a-bin", "aGVsbG8="),
            Header::new("X-Trace", "abc"),
        ])
        .unwrap();
        assert_eq!(
            map.get_bin("x-a-bin").unwrap().to_bytes().unwrap().as_ref(),
            b"hello"
        );
        assert_eq!(map.get("x-trace").unwrap(), "abc");
        let err = metadata_map(&[Header::new("x-a-bin", "not base64!")]).unwrap_err();
        assert!(err.message.contains("base64"), "{}", err.message);
        assert!(metadata_map(&[Header::new("bad name", "x")]).is_err());
    }
}
