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

mod streaming;
mod unary;

pub use streaming::*;
pub use unary::*;

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

#[derive(Clone)]
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

/// [`parse_addr`], through `client`'s cache of the addresses it has read.
pub(crate) fn parse_addr_via(
    client: Option<&GrpcClient>,
    addr: &str,
) -> Result<Arc<Addr>, ExchangeError> {
    let Some(client) = client else {
        return parse_addr(addr).map(Arc::new);
    };
    let mut known = client.addrs.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(parsed) = known.get(addr) {
        return Ok(parsed.clone());
    }
    let parsed = Arc::new(parse_addr(addr)?);
    // A handful of addresses in practice; a client fed endless new ones forgets them.
    if known.len() >= 64 {
        known.clear();
    }
    known.insert(addr.to_string(), parsed.clone());
    Ok(parsed)
}

/// Metadata as it came on the wire (`-bin` values in their base64).
fn metadata_list(map: &tonic::metadata::MetadataMap) -> Vec<Header> {
    use tonic::metadata::KeyAndValueRef;
    map.iter()
        .map(|entry| match entry {
            KeyAndValueRef::Ascii(k, v) => (k.as_str(), v.as_encoded_bytes()),
            KeyAndValueRef::Binary(k, v) => (k.as_str(), v.as_encoded_bytes()),
        })
        .map(|(k, v)| {
            // Metadata values are ASCII but for a misbehaving peer: checked, not scanned for
            // replacement characters.
            let value = match std::str::from_utf8(v) {
                Ok(text) => text.to_owned(),
                Err(_) => String::from_utf8_lossy(v).into_owned(),
            };
            Header::new(k, value)
        })
        .collect()
}

// `call`, `call_with` and `call_streaming` hand back the future of the one below rather than
// wrapping it in an async fn of their own: each layer would move the call's (large) state once
// more on every call.

/// Makes one unary call on a fresh connection and records its timeline.
pub fn call<'a>(
    req: &'a GrpcRequest,
    pool: &'a DescriptorPool,
) -> impl Future<Output = Exchange> + 'a {
    call_with(req, pool, None)
}

fn call_with<'a>(
    req: &'a GrpcRequest,
    pool: &'a DescriptorPool,
    client: Option<&'a GrpcClient>,
) -> impl Future<Output = Exchange> + 'a {
    call_streaming(req, pool, client, None, None)
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
pub fn call_streaming<'a>(
    req: &'a GrpcRequest,
    pool: &'a DescriptorPool,
    client: Option<&'a GrpcClient>,
    input: Option<mpsc::Receiver<DynamicMessage>>,
    observer: Option<mpsc::Sender<Received>>,
) -> impl Future<Output = Exchange> + 'a {
    call_streaming_until(
        req,
        pool,
        client,
        input,
        observer,
        tokio_util::sync::CancellationToken::new(),
    )
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
    let target = [req.addr.trim(), " ", req.method.trim()].concat();
    let mut request_msg = Message {
        line: ["POST /", req.method.trim().trim_start_matches('/')].concat(),
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
            if let (Some(c), Ok(addr)) = (client, parse_addr_via(client, &req.addr)) {
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
            source: None,
        }],
        request: Message {
            line: format!("POST /{}", req.method.trim().trim_start_matches('/')),
            headers: req.metadata.clone(),
            body: Body::new(req.json.clone().into_bytes()),
            ..Message::default()
        },
        response: None,
        trace: None,
        spans: Vec::new(),
    }
}

/// Connects through our own connector, so DNS, TCP and TLS are timed, then sets up HTTP/2.
pub(crate) async fn open_channel(
    rec: &mut Recorder,
    addr: &Addr,
    tls: &net::TlsOptions,
) -> Result<OpenChannel, Failure> {
    let opened = net::open(
        rec,
        &addr.host,
        addr.port,
        addr.tls.then_some(&[b"h2".as_slice()][..]),
        tls,
    )
    .await
    .map_err(|e| (e, None))?;
    let plain = matches!(opened.stream, tokio_util::either::Either::Left(_));
    let marks = Arc::new(IoMarks::http2().with_kernel(opened.kernel, plain));
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
    let channel = match rec.within(endpoint.connect_with_connector(connector)).await {
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
    /// Addresses as given, read (a send repeats its address: reading it is a URL parse).
    addrs: Arc<Mutex<std::collections::HashMap<String, Arc<Addr>>>>,
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
    pub fn call<'a>(
        &'a self,
        req: &'a GrpcRequest,
        pool: &'a DescriptorPool,
    ) -> impl Future<Output = Exchange> + 'a {
        call_with(req, pool, Some(self))
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

    /// Addresses are read as the URL parser reads them, trimmed, with the default port.
    #[test]
    fn addresses_read_as_the_url_parser_reads_them() {
        for (addr, uri) in [
            ("127.0.0.1:50051", "http://127.0.0.1:50051"),
            (" http://127.0.0.1:50051/ ", "http://127.0.0.1:50051"),
            ("https://10.0.0.2:443", "https://10.0.0.2:443"),
            ("localhost:50051", "http://localhost:50051"),
            ("127.0.0.1", "http://127.0.0.1:80"),
            ("[::1]:50051", "http://[::1]:50051"),
        ] {
            let a = parse_addr(addr).unwrap();
            assert_eq!(a.uri, uri, "{addr}");
            let url = url::Url::parse(uri).unwrap();
            assert_eq!(a.host, url.host_str().unwrap(), "{addr}");
            assert_eq!(a.port, url.port_or_known_default().unwrap(), "{addr}");
        }
        assert!(parse_addr("127.0.0.1:99999").is_err());
        assert!(parse_addr("127.0.0.1:50051/user").is_err());
    }

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
