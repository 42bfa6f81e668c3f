//! Traces: how fast the OTLP receiver takes spans in, against a bare server doing the least
//! the same job needs (read the body, decode the protobuf, answer).

use super::*;

use switchboard::engine::trace::otlp::tonic::collector::trace::v1::ExportTraceServiceRequest;
use switchboard::engine::trace::otlp::tonic::resource::v1::Resource;
use switchboard::engine::trace::otlp::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

/// Spans per export request (the SDK's batch exporter sends up to 512).
const SPANS_PER_EXPORT: usize = 100;
/// Exporters posting at once.
const EXPORTERS: usize = 4;

/// `otlp_ingest_spans_per_s`: spans/s the receiver stores, posted as OTLP/HTTP protobuf by 4
/// concurrent exporters on kept-alive connections, against an axum server that only decodes.
pub(super) fn traces_figures(quick: bool, runs: usize) -> Vec<Figure> {
    let runtime = bench_runtime();
    let exports_per_exporter = if quick { 100 } else { 300 };
    // Distinct traces, as services would send them.
    let bodies: Vec<Vec<u8>> = (0..64u64).map(export_body).collect();
    let mut ours = Vec::new();
    let mut bare = Vec::new();
    for _ in 0..runs {
        runtime.block_on(async {
            // Interleaved, so that drift on a noisy machine hits both alike.
            let receiver = switchboard::engine::trace::receiver::Receiver::start(
                "127.0.0.1:0".parse().unwrap(),
            )
            .await
            .unwrap();
            let url = format!("{}/v1/traces", receiver.endpoint());
            ours.push(post_all(&url, &bodies, exports_per_exporter).await);
            let stored = receiver.store().counts();
            assert!(stored.accepted > 0 && stored.malformed == 0, "{stored:?}");
            let url = bare_server().await;
            bare.push(post_all(&url, &bodies, exports_per_exporter).await);
        });
    }
    vec![Figure {
        name: "otlp_ingest_spans_per_s",
        unit: "spans/s",
        samples: ours,
        baseline: Some(bare),
    }]
}

/// An export request of `SPANS_PER_EXPORT` spans in trace number `n`.
fn export_body(n: u64) -> Vec<u8> {
    let trace_id: Vec<u8> = (n + 1).to_be_bytes().repeat(2);
    let spans = (0..SPANS_PER_EXPORT as u64)
        .map(|i| Span {
            trace_id: trace_id.clone(),
            span_id: (i + 1).to_be_bytes().to_vec(),
            parent_span_id: if i == 0 {
                Vec::new()
            } else {
                1u64.to_be_bytes().to_vec()
            },
            name: format!("GET /user/{i}"),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000,
            end_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000 + 500,
            ..Default::default()
        })
        .collect();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    prost::Message::encode_to_vec(&request)
}

/// Posts `per_exporter` export requests from each of `EXPORTERS` tasks; spans/s.
async fn post_all(url: &str, bodies: &[Vec<u8>], per_exporter: usize) -> f64 {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for e in 0..EXPORTERS {
        let client = client.clone();
        let url = url.to_string();
        let bodies: Vec<Vec<u8>> = bodies.to_vec();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_exporter {
                let body = bodies[(e * per_exporter + i) % bodies.len()].clone();
                let answer = client
                    .post(&url)
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert!(answer.status().is_success(), "{}", answer.status());
                let _ = answer.bytes().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let spans = (EXPORTERS * per_exporter * SPANS_PER_EXPORT) as f64;
    spans / started.elapsed().as_secs_f64()
}

/// The baseline: an axum server that reads and decodes each export and answers, keeping
/// nothing. Its URL.
async fn bare_server() -> String {
    use axum::routing::post;
    async fn export(body: axum::body::Bytes) -> Vec<u8> {
        let request: ExportTraceServiceRequest = prost::Message::decode(body).unwrap();
        std::hint::black_box(request.resource_spans.len());
        Vec::new()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/v1/traces", post(export));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/v1/traces")
}
