//! OpenTelemetry traces of the demo services, exported over OTLP/HTTP (protobuf) to the app's
//! receiver or to `OTEL_EXPORTER_OTLP_ENDPOINT`.
//!
//! Each service of each demo has its own tracer provider (service name, endpoint), not the
//! process-wide `tracing` subscriber that `tracing-opentelemetry` would need: the app and the
//! tests run several demos in one process, each exporting to its own receiver. The W3C trace
//! context travels in HTTP headers, gRPC metadata and message headers (AMQP, NATS, Kafka).

use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider,
};

/// The demo's two service names, as they appear on a trace.
pub const ORDER_SERVICE: &str = "order-service";
pub const USER_SERVICE: &str = "user-service";

/// How soon a finished span is sent: short, so a trace shows up while the user looks at it.
const EXPORT_DELAY: Duration = Duration::from_millis(100);

/// How many finished spans wait for export at most (the SDK allocates its whole queue up front:
/// its default of 2,048 costs ~0.8 MB per service; a demo exchange makes a handful of spans and
/// the queue is emptied every [`EXPORT_DELAY`]).
const MAX_QUEUED_SPANS: usize = 256;

/// One service's tracer, exporting to one OTLP endpoint.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Telemetry {
    /// A tracer for `service` exporting to `endpoint` (`http://127.0.0.1:4318`; `/v1/traces`
    /// is added). Spans are batched and sent from a thread of their own; the HTTP request itself
    /// runs on the caller's tokio runtime.
    pub fn start(service: &'static str, endpoint: &str) -> Result<Self, String> {
        use opentelemetry_otlp::{WithExportConfig, WithHttpConfig as _};
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        let client = RuntimeClient {
            client: reqwest::Client::new(),
            runtime: tokio::runtime::Handle::try_current()
                .map_err(|_| "no async runtime to export spans from".to_string())?,
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(url)
            .with_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| format!("OTLP exporter: {e}"))?;
        let processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_scheduled_delay(EXPORT_DELAY)
                    .with_max_queue_size(MAX_QUEUED_SPANS)
                    .build(),
            )
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name(service)
                    .build(),
            )
            .build();
        let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "switchboard-demo");
        Ok(Self { provider, tracer })
    }

    /// Starts a span under `parent` (its trace and span, when it has one); returns the context
    /// that holds it, to pass on and to [`end`].
    pub fn start_span(
        &self,
        name: impl Into<std::borrow::Cow<'static, str>>,
        kind: SpanKind,
        parent: &Context,
        attributes: Vec<KeyValue>,
    ) -> Context {
        let span = self
            .tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, parent);
        parent.with_span(span)
    }

    /// Sends what is buffered and stops: waits (at most 3 s) for the last batch to be exported,
    /// so that the spans of what was done just before a stop (Ctrl-C right after a lookup) are
    /// not lost. The SDK's shutdown blocks, so it runs on a blocking thread while the exporter's
    /// request goes on on this runtime.
    pub async fn shutdown(&self) {
        let provider = self.provider.clone();
        let flushed = tokio::task::spawn_blocking(move || {
            provider.shutdown_with_timeout(Duration::from_secs(2))
        });
        match tokio::time::timeout(Duration::from_secs(3), flushed).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => tracing::warn!(%err, "the OTLP exporter was not flushed"),
            Ok(Err(err)) => tracing::warn!(%err, "the OTLP exporter was not flushed"),
            Err(_) => tracing::warn!("the OTLP exporter was not flushed within 3 s"),
        }
    }
}

/// The last handle of a provider shuts it down, flushing what is buffered; the batch thread's
/// export then runs on the demo's runtime. Dropped on a runtime worker (a service's task ending),
/// that flush would wait, up to the SDK's 5 s, for a worker to run the export — the very worker
/// that waits, and the other too when both services stop at once. A thread of its own does it.
impl Drop for Telemetry {
    fn drop(&mut self) {
        let provider = self.provider.clone();
        let _ = std::thread::Builder::new()
            .name("otel-shutdown".into())
            .spawn(move || {
                // Already shut down by `shutdown`: an error that says so, nothing to do.
                let _ = provider.shutdown();
            });
    }
}

/// The exporter's HTTP client: the demo's own async client, always run on the demo's runtime,
/// whichever thread polls the export. The SDK's default blocking client would bring a runtime and
/// a root certificate store of its own per service, megabytes for a loopback POST.
#[derive(Debug, Clone)]
struct RuntimeClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[tonic::async_trait]
impl opentelemetry_http::HttpClient for RuntimeClient {
    async fn send_bytes(
        &self,
        request: http::Request<axum::body::Bytes>,
    ) -> Result<http::Response<axum::body::Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        let (parts, body) = request.into_parts();
        let sent = self.runtime.spawn(async move {
            let response = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, bytes))
        });
        let (status, headers, bytes) = sent.await??;
        let mut answer = http::Response::builder().status(status).body(bytes)?;
        *answer.headers_mut() = headers;
        Ok(answer)
    }
}

/// A span of an optional tracer: nothing when tracing is off.
pub fn start_span(
    telemetry: Option<&Telemetry>,
    name: impl Into<std::borrow::Cow<'static, str>>,
    kind: SpanKind,
    parent: &Context,
    attributes: Vec<KeyValue>,
) -> Context {
    match telemetry {
        Some(t) => t.start_span(name, kind, parent, attributes),
        None => parent.clone(),
    }
}

/// Ends the span `cx` holds, with an error status when `error` says what failed.
pub fn end(cx: &Context, error: Option<String>) {
    let span = cx.span();
    if let Some(message) = error {
        span.set_status(Status::error(message));
    }
    span.end();
}

/// Ends the server span of an HTTP call with its status code (an error when it is a 5xx).
pub fn end_http(cx: &Context, status: http::StatusCode) {
    set_attribute(
        cx,
        KeyValue::new("http.response.status_code", i64::from(status.as_u16())),
    );
    end(
        cx,
        status
            .is_server_error()
            .then(|| format!("answered {status}")),
    );
}

/// Adds an attribute to the span `cx` holds.
pub fn set_attribute(cx: &Context, attribute: KeyValue) {
    cx.span().set_attribute(attribute);
}

/// The context a `traceparent` in these name/value pairs gives (an empty one without).
pub fn extract<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Context {
    struct Pairs(Vec<(String, String)>);
    impl Extractor for Pairs {
        fn get(&self, key: &str) -> Option<&str> {
            self.0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.iter().map(|(k, _)| k.as_str()).collect()
        }
    }
    let pairs = Pairs(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    TraceContextPropagator::new().extract(&pairs)
}

/// The context of an HTTP request's headers.
pub fn extract_http(headers: &http::HeaderMap) -> Context {
    extract(
        headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))),
    )
}

/// The headers (`traceparent`, `tracestate`) that carry `cx` to the next service: empty when
/// `cx` holds no span.
pub fn inject(cx: &Context) -> Vec<(String, String)> {
    struct Out(Vec<(String, String)>);
    impl Injector for Out {
        fn set(&mut self, key: &str, value: String) {
            self.0.push((key.to_string(), value));
        }
    }
    let mut out = Out(Vec::new());
    if cx.has_active_span() {
        TraceContextPropagator::new().inject_context(cx, &mut out);
    }
    out.0
}

pub use opentelemetry::trace::SpanKind as Kind;
pub use opentelemetry::{Context as TraceContext, KeyValue as Attribute};

#[cfg(test)]
mod tests {
    use super::*;

    /// The services hold their tracers in tasks. When they stop, the task that drops the last
    /// handle runs the provider's shutdown on a runtime worker: it must not wait for a task of
    /// that runtime (the SDK's async-runtime processor did, with no timeout: with both workers
    /// waiting, nothing ran the tasks they waited for, and the runtime never shut down — a CI
    /// run hung at the end of a UI test).
    #[test]
    fn services_that_stop_and_drop_their_tracers_let_the_runtime_shut_down() {
        for round in 0..5 {
            let (done, finished) = std::sync::mpsc::sync_channel(1);
            let runs = std::thread::Builder::new().name(format!("round-{round}"));
            runs.spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let mut stops = Vec::new();
                    for service in [USER_SERVICE, ORDER_SERVICE] {
                        // Nothing listens on the discard port: exports fail at once.
                        let telemetry = Telemetry::start(service, "http://127.0.0.1:9").unwrap();
                        let cx = telemetry.start_span(
                            "GET /user/{id}",
                            SpanKind::Server,
                            &Context::new(),
                            Vec::new(),
                        );
                        end(&cx, None);
                        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                        tokio::spawn(async move {
                            let _ = stopped.await;
                            drop(telemetry);
                        });
                        stops.push(stop);
                    }
                    drop(stops);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                });
                drop(runtime);
                let _ = done.send(());
            })
            .unwrap();
            assert!(
                finished.recv_timeout(Duration::from_secs(30)).is_ok(),
                "round {round}: the runtime did not shut down within 30 s"
            );
        }
    }
}
