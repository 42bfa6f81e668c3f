//! The built-in OTLP/HTTP receiver: `POST /v1/traces` with an `ExportTraceServiceRequest`, as
//! protobuf (`application/x-protobuf`) or OTLP JSON (`application/json`), on loopback. Spans go
//! to a [`SpanStore`]; a payload that cannot be read gets an OTLP error answer (400 with a
//! `google.rpc.Status`-shaped body) and is counted, never a crash.

use super::{Span, SpanStore};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, Response, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use std::net::SocketAddr;
use std::sync::Arc;

/// OTLP/HTTP's standard address.
pub const DEFAULT_OTLP_HTTP_ADDR: &str = "127.0.0.1:4318";

/// Largest export request read (bigger ones are refused with 413).
pub const MAX_EXPORT_BYTES: usize = 16 << 20;

/// Spans kept in all, across traces.
pub const MAX_SPANS: usize = 200_000;

/// About how much memory the kept spans may take, across traces (see
/// [`super::store::span_bytes`]): past it the oldest traces are dropped, and counted.
pub const MAX_STORE_BYTES: usize = 128 << 20;

/// The longest text kept of a span's attribute value, name, service name or status message
/// (bytes): longer ones are cut and end with `…(N bytes)`, N their whole length.
pub const MAX_TEXT_BYTES: usize = 4 << 10;

/// The longest attribute key kept (cut like [`MAX_TEXT_BYTES`]).
pub const MAX_KEY_BYTES: usize = 256;

/// Attributes kept per span (in the order sent); how many more there were (and how many the
/// exporter itself dropped) is the attribute [`DROPPED_ATTRIBUTES`].
pub const MAX_ATTRIBUTES: usize = 64;

/// The attribute that says how many of a span's attributes were not kept.
pub const DROPPED_ATTRIBUTES: &str = "switchboard.dropped_attributes";

/// A running receiver; stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    store: Arc<SpanStore>,
    /// Why the preferred address was not used, when it was not.
    fallback: Option<String>,
    task: tokio::task::JoinHandle<()>,
    /// OTLP/gRPC, when started: its address, why not the preferred one, its server.
    grpc: Option<(SocketAddr, Option<String>, tokio::task::JoinHandle<()>)>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
        if let Some((_, _, task)) = &self.grpc {
            task.abort();
        }
    }
}

/// The default OTLP/gRPC address.
pub const DEFAULT_OTLP_GRPC_ADDR: &str = "127.0.0.1:4317";

/// Binds `preferred`, or a free port of its host when it is taken (and why).
async fn bind_or_free(
    preferred: SocketAddr,
) -> std::io::Result<(tokio::net::TcpListener, Option<String>)> {
    match tokio::net::TcpListener::bind(preferred).await {
        Ok(l) => Ok((l, None)),
        Err(e) => {
            let l = tokio::net::TcpListener::bind(SocketAddr::new(preferred.ip(), 0)).await?;
            Ok((l, Some(format!("{preferred} is not free ({e})"))))
        }
    }
}

/// OTLP/gRPC `TraceService/Export` into the same store as OTLP/HTTP. Served by hand rather
/// than by the generated server, whose codec answers a request it cannot decode with INTERNAL:
/// here it is INVALID_ARGUMENT (what OTLP asks for a malformed export), and counted.
#[derive(Clone)]
struct GrpcTraces(Arc<SpanStore>);

/// The one method served.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

impl tonic::server::NamedService for GrpcTraces {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl tower::Service<http::Request<tonic::body::Body>> for GrpcTraces {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let store = self.0.clone();
        Box::pin(async move {
            if req.uri().path() != EXPORT_PATH {
                return Ok(tonic::Status::unimplemented(
                    "only opentelemetry.proto.collector.trace.v1.TraceService/Export is served here",
                )
                .into_http());
            }
            let mut grpc = tonic::server::Grpc::new(ExportCodec)
                .apply_max_message_size_config(Some(MAX_EXPORT_BYTES), None);
            Ok(grpc.unary(Export(store), req).await)
        })
    }
}

/// One export: its spans stored, or the reason it could not be read counted and answered.
struct Export(Arc<SpanStore>);

impl tonic::server::UnaryService<Result<ExportTraceServiceRequest, String>> for Export {
    type Response = ExportTraceServiceResponse;
    type Future =
        std::future::Ready<Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status>>;

    fn call(
        &mut self,
        request: tonic::Request<Result<ExportTraceServiceRequest, String>>,
    ) -> Self::Future {
        std::future::ready(match request.into_inner() {
            Ok(export) => {
                self.0.insert(spans_of(export));
                Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
            }
            Err(message) => {
                self.0.count_malformed();
                Err(tonic::Status::invalid_argument(message))
            }
        })
    }
}

/// Protobuf both ways; a request that does not decode reaches [`Export`] as its error.
struct ExportCodec;

impl tonic::codec::Codec for ExportCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = Result<ExportTraceServiceRequest, String>;
    type Encoder = ExportCodec;
    type Decoder = ExportCodec;

    fn encoder(&mut self) -> Self::Encoder {
        ExportCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        ExportCodec
    }
}

impl tonic::codec::Encoder for ExportCodec {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Self::Item,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Self::Error> {
        prost::Message::encode(&item, dst).map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl tonic::codec::Decoder for ExportCodec {
    type Item = Result<ExportTraceServiceRequest, String>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Self::Item>, Self::Error> {
        let decoded = <ExportTraceServiceRequest as prost::Message>::decode(&mut *src);
        // What a failed decode left is this message's too, not the start of another one.
        bytes::Buf::advance(src, bytes::Buf::remaining(src));
        Ok(Some(decoded.map_err(|e| {
            format!("not an OTLP protobuf export request: {e}")
        })))
    }
}

impl Receiver {
    /// Listens on `preferred`; when it is taken, on a free port of the same host (see
    /// [`Receiver::fallback`]).
    pub async fn start(preferred: SocketAddr) -> std::io::Result<Self> {
        let (listener, fallback) = bind_or_free(preferred).await?;
        let addr = listener.local_addr()?;
        let store = Arc::new(SpanStore::new(MAX_SPANS, MAX_STORE_BYTES));
        let task = tokio::spawn(serve(listener, store.clone()));
        Ok(Self {
            addr,
            store,
            fallback,
            task,
            grpc: None,
        })
    }

    /// Also takes OTLP/gRPC exports (`TraceService/Export`) on `preferred`, or on a free port
    /// of its host when it is taken (see [`Receiver::grpc_fallback`]).
    pub async fn serve_grpc(&mut self, preferred: SocketAddr) -> std::io::Result<SocketAddr> {
        let (listener, fallback) = bind_or_free(preferred).await?;
        let addr = listener.local_addr()?;
        let service = GrpcTraces(self.store.clone());
        let task = tokio::spawn(async move {
            // It serves until aborted; a failed accept loop just ends it (HTTP still works).
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await;
        });
        if let Some((_, _, old)) = self.grpc.replace((addr, fallback, task)) {
            old.abort();
        }
        Ok(addr)
    }

    /// The OTLP/gRPC endpoint, when it is served.
    pub fn grpc_endpoint(&self) -> Option<String> {
        self.grpc
            .as_ref()
            .map(|(addr, _, _)| format!("http://{addr}"))
    }

    /// Why the preferred OTLP/gRPC address was not used, when it was not.
    pub fn grpc_fallback(&self) -> Option<&str> {
        self.grpc.as_ref().and_then(|(_, why, _)| why.as_deref())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What to set `OTEL_EXPORTER_OTLP_ENDPOINT` to.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn store(&self) -> Arc<SpanStore> {
        self.store.clone()
    }

    /// Why the preferred address was not used (it was taken), when it was not.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }
}

async fn serve(listener: tokio::net::TcpListener, store: Arc<SpanStore>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let store = store.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let store = store.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(req, &store).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(req: Request<hyper::body::Incoming>, store: &SpanStore) -> Response<Full<Bytes>> {
    if req.uri().path() != "/v1/traces" {
        return answer(
            StatusCode::NOT_FOUND,
            false,
            error_body(false, "only /v1/traces is served here"),
        );
    }
    if req.method() != hyper::Method::POST {
        return answer(
            StatusCode::METHOD_NOT_ALLOWED,
            false,
            error_body(false, "POST an export request"),
        );
    }
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let content_type = header(hyper::header::CONTENT_TYPE).unwrap_or_default();
    let json = content_type.starts_with("application/json");
    // No type: protobuf, as OTLP's default; anything else is not an export request.
    if !json
        && !content_type.is_empty()
        && !content_type.starts_with("application/x-protobuf")
        && !content_type.starts_with("application/protobuf")
    {
        store.count_malformed();
        return answer(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            false,
            error_body(
                false,
                &format!(
                    "{content_type} is not OTLP: send application/x-protobuf or application/json"
                ),
            ),
        );
    }
    let gzip = match header(hyper::header::CONTENT_ENCODING).as_deref() {
        None | Some("identity") => false,
        Some("gzip") => true,
        Some(other) => {
            store.count_malformed();
            return answer(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json,
                error_body(
                    json,
                    &format!("content encoding {other} is not supported (gzip is)"),
                ),
            );
        }
    };
    let body = match Limited::new(req.into_body(), MAX_EXPORT_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            store.count_malformed();
            return answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                json,
                error_body(json, &format!("the export request could not be read: {e}")),
            );
        }
    };
    let body = if gzip {
        match gunzip(&body) {
            Ok(b) => Bytes::from(b),
            Err(message) => {
                store.count_malformed();
                return answer(StatusCode::BAD_REQUEST, json, error_body(json, &message));
            }
        }
    } else {
        body
    };
    match decode(&body, json) {
        Ok(request) => {
            store.insert(spans_of(request));
            let ok = ExportTraceServiceResponse::default();
            let body = if json {
                Bytes::from_static(b"{}")
            } else {
                Bytes::from(prost::Message::encode_to_vec(&ok))
            };
            answer(StatusCode::OK, json, body)
        }
        Err(message) => {
            store.count_malformed();
            answer(StatusCode::BAD_REQUEST, json, error_body(json, &message))
        }
    }
}

/// A gzip body, at most [`MAX_EXPORT_BYTES`] once inflated (a small bomb must not fill memory).
fn gunzip(body: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_EXPORT_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the gzip body could not be inflated: {e}"))?;
    if out.len() > MAX_EXPORT_BYTES {
        return Err(format!(
            "the inflated export request is over {} MiB",
            MAX_EXPORT_BYTES >> 20
        ));
    }
    Ok(out)
}

/// An export request from its protobuf or OTLP JSON encoding. In JSON, as in protobuf, an
/// absent `resourceSpans` is an empty export (`{}` is valid).
pub fn decode(body: &[u8], json: bool) -> Result<ExportTraceServiceRequest, String> {
    if json {
        serde_json::from_slice(body).or_else(|e| {
            // The generated type insists on the field: an object without it is read again
            // with an empty list (only then, so the usual export is parsed once).
            match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(serde_json::Value::Object(mut object))
                    if !object.contains_key("resourceSpans") =>
                {
                    object.insert("resourceSpans".into(), serde_json::Value::Array(vec![]));
                    serde_json::from_value(object.into())
                }
                _ => Err(e),
            }
            .map_err(|e| format!("not an OTLP JSON export request: {e}"))
        })
    } else {
        prost::Message::decode(body)
            .map_err(|e| format!("not an OTLP protobuf export request: {e}"))
    }
}

fn answer(status: StatusCode, json: bool, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let content_type = if json {
        "application/json"
    } else {
        "application/x-protobuf"
    };
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

/// A `google.rpc.Status` with code 3 (INVALID_ARGUMENT) and `message`, as OTLP/HTTP answers
/// failures: encoded by hand (two fields) rather than pulling in the googleapis types.
fn error_body(json: bool, message: &str) -> Bytes {
    if json {
        return Bytes::from(serde_json::json!({ "code": 3, "message": message }).to_string());
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Status {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    Bytes::from(prost::Message::encode_to_vec(&Status {
        code: 3,
        message: message.to_string(),
    }))
}

/// The spans of an export request, each with its resource's `service.name`. What one span
/// holds is bounded: texts at [`MAX_TEXT_BYTES`] (keys at [`MAX_KEY_BYTES`]), at most
/// [`MAX_ATTRIBUTES`] attributes, ids at 32 bytes — so a span never costs megabytes here, in
/// an exchange or in the history.
pub fn spans_of(request: ExportTraceServiceRequest) -> Vec<Span> {
    use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode as Code};
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref())
            .map(value_text)
            .unwrap_or_else(|| "unknown_service".to_string());
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                let kind = match SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified) {
                    SpanKind::Server => "server",
                    SpanKind::Client => "client",
                    SpanKind::Producer => "producer",
                    SpanKind::Consumer => "consumer",
                    SpanKind::Internal | SpanKind::Unspecified => "internal",
                };
                let status = match span.status {
                    Some(s) if s.code == Code::Error as i32 && !s.message.is_empty() => {
                        format!("error: {}", capped(&s.message, MAX_TEXT_BYTES))
                    }
                    Some(s) if s.code == Code::Error as i32 => "error".to_string(),
                    Some(s) if s.code == Code::Ok as i32 => "ok".to_string(),
                    _ => "unset".to_string(),
                };
                let dropped = span.attributes.len().saturating_sub(MAX_ATTRIBUTES) as u64
                    + u64::from(span.dropped_attributes_count);
                let mut attributes: Vec<(String, serde_json::Value)> = span
                    .attributes
                    .iter()
                    .take(MAX_ATTRIBUTES)
                    .map(attribute)
                    .collect();
                if dropped > 0 {
                    attributes.push((DROPPED_ATTRIBUTES.to_string(), dropped.into()));
                }
                out.push(Span {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: (!span.parent_span_id.is_empty())
                        .then(|| hex(&span.parent_span_id)),
                    service: service.clone(),
                    name: capped(&span.name, MAX_TEXT_BYTES),
                    kind: kind.to_string(),
                    start_unix_ns: span.start_time_unix_nano,
                    end_unix_ns: span.end_time_unix_nano.max(span.start_time_unix_nano),
                    status,
                    attributes,
                });
            }
        }
    }
    out
}

/// `text`, or its first `max` bytes (at a character boundary) and `…(N bytes)` when longer:
/// a new string, so a long one's allocation is not kept.
pub fn capped(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…({} bytes)", &text[..end], text.len())
}

/// Lowercase hex, without an allocation per byte (ids are most of a span's decoding cost); at
/// most 32 bytes (a valid trace id is 16, a span id 8).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let bytes = &bytes[..bytes.len().min(32)];
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn attribute(kv: &KeyValue) -> (String, serde_json::Value) {
    let value = kv
        .value
        .as_ref()
        .map_or(serde_json::Value::Null, value_json);
    (capped(&kv.key, MAX_KEY_BYTES), value)
}

fn value_text(v: &AnyValue) -> String {
    match value_json(v) {
        serde_json::Value::String(s) => s,
        other => capped(&other.to_string(), MAX_TEXT_BYTES),
    }
}

/// An attribute value as JSON, bounded: a string is cut at [`MAX_TEXT_BYTES`]; an array or a
/// map whose JSON is longer becomes its JSON text, cut the same way.
fn value_json(v: &AnyValue) -> serde_json::Value {
    use any_value::Value;
    let nested = |value: serde_json::Value| {
        let text = value.to_string();
        if text.len() > MAX_TEXT_BYTES {
            capped(&text, MAX_TEXT_BYTES).into()
        } else {
            value
        }
    };
    match &v.value {
        None => serde_json::Value::Null,
        Some(Value::StringValue(s)) => capped(s, MAX_TEXT_BYTES).into(),
        Some(Value::BoolValue(b)) => (*b).into(),
        Some(Value::IntValue(i)) => (*i).into(),
        Some(Value::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Some(Value::ArrayValue(a)) => nested(a.values.iter().map(value_json).collect()),
        Some(Value::KvlistValue(l)) => nested(
            l.values
                .iter()
                .map(attribute)
                .collect::<serde_json::Map<_, _>>()
                .into(),
        ),
        Some(Value::BytesValue(b)) => {
            use base64::Engine as _;
            let shown = &b[..b.len().min(MAX_TEXT_BYTES)];
            let text = base64::engine::general_purpose::STANDARD.encode(shown);
            if shown.len() < b.len() {
                format!("{text}…({} bytes)", b.len()).into()
            } else {
                text.into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn gzip_exports_are_inflated_and_a_bomb_is_refused() {
        let request = ExportTraceServiceRequest::default();
        let plain = prost::Message::encode_to_vec(&request);
        let inflated = gunzip(&gzip(&plain)).unwrap();
        assert_eq!(decode(&inflated, false).unwrap(), request);
        // 20 MiB of zeros compress to a few KiB: refused once past the limit.
        let bomb = gzip(&vec![0u8; 20 << 20]);
        assert!(bomb.len() < 100_000);
        assert!(gunzip(&bomb).unwrap_err().contains("over 16 MiB"));
        assert!(gunzip(b"not gzip").is_err());
    }

    #[test]
    fn what_one_span_holds_is_capped_with_a_visible_marker() {
        use opentelemetry_proto::tonic::resource::v1::Resource;
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};
        let text = |s: String| AnyValue {
            value: Some(any_value::Value::StringValue(s)),
        };
        let kv = |k: &str, v: AnyValue| KeyValue {
            key: k.into(),
            value: Some(v),
        };
        let huge = "é".repeat(1 << 19); // 1 MiB of two-byte characters
        let mut attributes = vec![
            kv("big", text(huge.clone())),
            kv(
                "list",
                AnyValue {
                    value: Some(any_value::Value::ArrayValue(
                        opentelemetry_proto::tonic::common::v1::ArrayValue {
                            values: vec![text("z".repeat(3_000)); 100],
                        },
                    )),
                },
            ),
            kv(&"k".repeat(1_000), text("v".into())),
        ];
        attributes.extend((0..200).map(|i| kv(&format!("a{i}"), text("x".into()))));
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", text(huge.clone()))],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![opentelemetry_proto::tonic::trace::v1::Span {
                        trace_id: vec![1; 1 << 20],
                        span_id: vec![2; 8],
                        name: huge.clone(),
                        attributes,
                        dropped_attributes_count: 5,
                        status: Some(Status {
                            code: 2,
                            message: huge.clone(),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let spans = spans_of(request);
        let s = &spans[0];
        let marker = format!("…({} bytes)", huge.len());
        for (what, text) in [("service", &s.service), ("name", &s.name)] {
            assert!(text.ends_with(&marker), "{what}");
            assert!(text.len() <= MAX_TEXT_BYTES + marker.len(), "{what}");
        }
        assert!(s.status.starts_with("error: éé") && s.status.ends_with(&marker));
        assert_eq!(s.trace_id.len(), 64);
        let value = |k: &str| {
            s.attributes
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v)
        };
        let big = value("big").and_then(|v| v.as_str()).unwrap();
        assert!(big.ends_with(&marker) && big.len() < MAX_TEXT_BYTES + 32);
        let list = value("list").and_then(|v| v.as_str()).unwrap();
        assert!(
            list.starts_with("[\"zzz") && list.ends_with(" bytes)"),
            "{list:.40}"
        );
        assert!(s.attributes[2].0.ends_with("…(1000 bytes)"));
        // 64 kept, then the count of the 139 not kept plus the exporter's own 5.
        assert_eq!(s.attributes.len(), MAX_ATTRIBUTES + 1);
        assert_eq!(
            s.attributes[MAX_ATTRIBUTES],
            (DROPPED_ATTRIBUTES.to_string(), serde_json::json!(139 + 5))
        );
        let cost = super::super::store::span_bytes(s);
        assert!(cost < 64 << 10, "one span costs {cost} bytes");
        assert_eq!(capped("abc", 3), "abc");
        assert_eq!(capped("aé", 2), "a…(3 bytes)");
    }
}
