//! The built-in OTLP receiver: export requests as protobuf and JSON land under their trace,
//! malformed ones are refused and counted, a taken port falls back to a free one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use switchboard::engine::trace::otlp::tonic::collector::trace::v1::ExportTraceServiceRequest;
use switchboard::engine::trace::otlp::tonic::common::v1::{AnyValue, KeyValue, any_value};
use switchboard::engine::trace::otlp::tonic::resource::v1::Resource;
use switchboard::engine::trace::otlp::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span::SpanKind, status::StatusCode,
};
use switchboard::engine::trace::receiver::Receiver;
use switchboard::engine::trace::{TimelineSpan, TraceContext};

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// An export request from `service` holding a server span (child of `ctx`'s span) and a client
/// span under it.
fn export(service: &str, ctx: &TraceContext) -> ExportTraceServiceRequest {
    let base = 1_700_000_000_000_000_000u64;
    let server = Span {
        trace_id: unhex(&ctx.trace_id),
        span_id: unhex("00000000000000a1"),
        parent_span_id: unhex(&ctx.span_id),
        name: "GET /user/{id}".into(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: base,
        end_time_unix_nano: base + 900_000,
        attributes: vec![kv("http.route", "/user/{id}")],
        status: Some(Status {
            code: StatusCode::Ok as i32,
            message: String::new(),
        }),
        ..Default::default()
    };
    let client = Span {
        span_id: unhex("00000000000000b2"),
        parent_span_id: unhex("00000000000000a1"),
        name: "lookup".into(),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: base + 100_000,
        end_time_unix_nano: base + 600_000,
        status: Some(Status {
            code: StatusCode::Error as i32,
            message: "not found".into(),
        }),
        ..server.clone()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![server, client],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn post(endpoint: &str, content_type: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let response = reqwest::Client::new()
        .post(format!("{endpoint}/v1/traces"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn protobuf_and_json_exports_land_under_their_trace_with_parents_and_services() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let store = receiver.store();
    let ctx = TraceContext::new_random();
    let body = prost::Message::encode_to_vec(&export("user-service", &ctx));
    let (status, _) = post(&receiver.endpoint(), "application/x-protobuf", body).await;
    assert_eq!(status, 200);
    let spans = store.spans(&ctx.trace_id);
    assert_eq!(spans.len(), 2, "{spans:?}");
    let server = spans.iter().find(|s| s.kind == "server").unwrap();
    assert_eq!(server.service, "user-service");
    assert_eq!(server.parent_span_id.as_deref(), Some(ctx.span_id.as_str()));
    assert_eq!(server.status, "ok");
    assert_eq!(
        server.attributes,
        vec![("http.route".to_string(), serde_json::json!("/user/{id}"))]
    );
    let client = spans.iter().find(|s| s.kind == "client").unwrap();
    assert_eq!(client.parent_span_id.as_deref(), Some("00000000000000a1"));
    assert_eq!(client.status, "error: not found");

    // OTLP JSON: ids as hex strings, times as decimal strings.
    let other = TraceContext::new_random();
    let json = serde_json::json!({ "resourceSpans": [{
        "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "order-service" } }] },
        "scopeSpans": [{ "spans": [{
            "traceId": other.trace_id, "spanId": "00000000000000c3", "parentSpanId": other.span_id,
            "name": "POST /orders", "kind": 2,
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000002000000"
        }]}]
    }]});
    let (status, body) = post(
        &receiver.endpoint(),
        "application/json",
        json.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let spans = store.spans(&other.trace_id);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].service, "order-service");
    assert_eq!(spans[0].kind, "server");
    // Placed on an exchange that started 1 ms before the span: +1000 µs, 2 ms long.
    let placed = TimelineSpan::place(&spans[0], 1_699_999_999_999_000);
    assert_eq!((placed.start_us, placed.end_us), (1_000, 3_000));
    assert_eq!(store.counts().accepted, 3);
}

#[tokio::test]
async fn malformed_exports_are_refused_counted_and_the_receiver_keeps_working() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let endpoint = receiver.endpoint();
    let (status, _) = post(&endpoint, "application/x-protobuf", vec![0xff; 64]).await;
    assert_eq!(status, 400);
    let (status, body) = post(
        &endpoint,
        "application/json",
        b"{\"resourceSpans\": 7}".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("not an OTLP JSON export request"),
        "{body}"
    );
    let get = reqwest::get(format!("{endpoint}/v1/traces")).await.unwrap();
    assert_eq!(get.status().as_u16(), 405);
    assert_eq!(receiver.store().counts().malformed, 2);
    let ctx = TraceContext::new_random();
    let body = prost::Message::encode_to_vec(&export("user-service", &ctx));
    let (status, _) = post(&endpoint, "application/x-protobuf", body).await;
    assert_eq!(status, 200);
    assert_eq!(receiver.store().spans(&ctx.trace_id).len(), 2);
}

#[tokio::test]
async fn a_taken_port_falls_back_to_a_free_one_and_says_so() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let receiver = Receiver::start(addr).await.unwrap();
    assert_ne!(receiver.addr(), addr);
    assert!(receiver.fallback().unwrap().contains(&addr.to_string()));
    let free = Receiver::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    assert!(free.fallback().is_none());
}

#[tokio::test]
async fn settle_waits_for_spans_to_stop_arriving_and_no_longer() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let store = receiver.store();
    let ctx = TraceContext::new_random();
    let endpoint = receiver.endpoint();
    let sender = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            for service in ["a", "b"] {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                let body = prost::Message::encode_to_vec(&export(service, &ctx));
                post(&endpoint, "application/x-protobuf", body).await;
            }
        })
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let spans = store
        .settle(
            &ctx.trace_id,
            std::time::Duration::from_millis(400),
            deadline,
        )
        .await;
    assert_eq!(
        spans.len(),
        4,
        "both exports, 100 ms apart, were waited for"
    );
    assert!(
        tokio::time::Instant::now() < deadline,
        "returned once quiet"
    );
    sender.await.unwrap();
    // Nothing comes for an unknown trace: the wait ends at the deadline with nothing.
    let soon = tokio::time::Instant::now() + std::time::Duration::from_millis(200);
    assert!(
        store
            .settle("0123", std::time::Duration::from_millis(50), soon)
            .await
            .is_empty()
    );
}
