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
            for (i, service) in ["a", "b"].into_iter().enumerate() {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                // Spans of their own (a span sent twice is kept once).
                let mut request = export(service, &ctx);
                for span in &mut request.resource_spans[0].scope_spans[0].spans {
                    span.span_id[0] = i as u8 + 1;
                }
                let body = prost::Message::encode_to_vec(&request);
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

#[test]
fn a_request_gets_a_new_traceparent_unless_it_carries_one() {
    use switchboard::engine::Header;
    use switchboard::engine::trace::inject;
    let mut headers = vec![Header::new("Accept", "application/json")];
    let made = inject(&mut headers).unwrap();
    assert_eq!(headers.len(), 2);
    assert_eq!(headers[1].name, "traceparent");
    assert_eq!(TraceContext::parse(&headers[1].value), Some(made.clone()));
    // Two requests, two traces.
    let mut again: Vec<Header> = vec![];
    assert_ne!(inject(&mut again).unwrap().trace_id, made.trace_id);

    // The user's own is kept as it is (any case of the name)…
    let mine = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let mut headers = vec![Header::new("TraceParent", mine)];
    let kept = inject(&mut headers).unwrap();
    assert_eq!(kept.trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(headers.len(), 1);
    assert_eq!(headers[0].value, mine);
    // …and so is an invalid one: sent as typed, with no trace to follow.
    let mut headers = vec![Header::new("traceparent", "00-zz-1-01")];
    assert_eq!(inject(&mut headers), None);
    assert_eq!(headers.len(), 1);
    assert_eq!(headers[0].value, "00-zz-1-01");
}

mod common;

/// One order through the instrumented demo: the Order Service's server span under ours, its
/// user check (client) with the User Service's server span under it, the publish (producer)
/// and the User Service's consumption of the event (consumer, under the producer) — all in the
/// exchange's trace, placed on its clock.
#[tokio::test]
async fn an_order_is_traced_through_both_services_and_the_broker() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let config = demo_services::DemoConfig {
        amqp_url: common::amqp_url(),
        topology: common::unique_topology(),
        otlp_endpoint: Some(receiver.endpoint()),
        ..demo_services::DemoConfig::ephemeral()
    };
    let demo = demo_services::DemoServices::start(config).await.unwrap();
    common::wait_consuming(&demo).await;
    let mut spec = switchboard::engine::RequestSpec::Http(switchboard::engine::http::HttpRequest {
        method: "POST".into(),
        headers: vec![switchboard::engine::Header::new(
            "Content-Type",
            "application/json",
        )],
        body: br#"{"user_id": "1", "items": [{"sku": "book", "quantity": 1}]}"#.to_vec(),
        ..switchboard::engine::http::HttpRequest::get(format!(
            "http://{}/orders",
            demo.order.http_addr
        ))
    });
    let pool = switchboard::engine::grpc::builtin_pool().unwrap();
    let exchange = spec.execute_traced(&pool).await.remove(0);
    assert_eq!(
        exchange.status.as_deref(),
        Some("201 Created"),
        "{exchange:?}"
    );
    let mut exchange = exchange;
    let trace = exchange
        .trace
        .clone()
        .expect("the exchange names its trace");
    // The traceparent went out with the request, and is shown in its headers.
    let sent = exchange
        .request
        .headers
        .iter()
        .find(|h| h.name == "traceparent")
        .expect("traceparent among the request's headers");
    let context = TraceContext::parse(&sent.value).unwrap();
    assert_eq!(context.trace_id, trace.trace_id);
    assert_eq!(context.span_id, trace.span_id);

    let store = receiver.store();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut spans = Vec::new();
    while tokio::time::Instant::now() < deadline {
        spans = store
            .settle(
                &trace.trace_id,
                std::time::Duration::from_millis(300),
                deadline,
            )
            .await;
        if spans.len() >= 5 {
            break;
        }
    }
    exchange.place_spans(&spans);
    let find = |service: &str, kind: &str| -> &TimelineSpan {
        exchange
            .spans
            .iter()
            .find(|s| s.service == service && s.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} span of {service} in {:#?}", exchange.spans))
    };
    let server = find("order-service", "server");
    assert_eq!(server.name, "POST /orders");
    assert_eq!(
        server.parent_span_id.as_deref(),
        Some(trace.span_id.as_str())
    );
    let check = find("order-service", "client");
    assert_eq!(
        check.parent_span_id.as_deref(),
        Some(server.span_id.as_str())
    );
    let user = find("user-service", "server");
    assert_eq!(user.name, "user.UserService/GetUserInfo");
    assert_eq!(user.parent_span_id.as_deref(), Some(check.span_id.as_str()));
    let producer = find("order-service", "producer");
    assert_eq!(
        producer.parent_span_id.as_deref(),
        Some(server.span_id.as_str())
    );
    let consumer = find("user-service", "consumer");
    assert_eq!(
        consumer.parent_span_id.as_deref(),
        Some(producer.span_id.as_str())
    );
    // On the exchange's clock (same machine): the server span lies within the exchange, give
    // or take the clocks' resolution, and the consumer starts after the publish began.
    let slack = 2_000;
    assert!(server.start_us >= -slack, "{server:?}");
    assert!(
        server.end_us <= exchange.total_us as i64 + slack,
        "{server:?} vs {}",
        exchange.total_us
    );
    assert!(
        consumer.start_us >= producer.start_us,
        "{consumer:?} {producer:?}"
    );
    assert!(check.start_us >= server.start_us && check.end_us <= server.end_us + slack);
    demo.stop().await;
}

/// Over NATS: a `user.get` request carries our context in its headers and the User Service's
/// server span comes back under it; an order's JetStream publish is a producer span.
#[tokio::test]
async fn a_nats_lookup_and_an_orders_jetstream_publish_are_traced() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let names = demo_services::NatsNames::unique(&common::nats_url(), &common::tag());
    let config = demo_services::DemoConfig {
        amqp_url: common::amqp_url(),
        topology: common::unique_topology(),
        nats: Some(names.clone()),
        otlp_endpoint: Some(receiver.endpoint()),
        ..demo_services::DemoConfig::ephemeral()
    };
    let demo = demo_services::DemoServices::start(config).await.unwrap();
    let pool = switchboard::engine::grpc::builtin_pool().unwrap();
    let mut lookup = switchboard::engine::RequestSpec::Nats(Box::new(
        switchboard::engine::nats::NatsRequest::request(
            &names.url,
            &names.user_subject,
            r#"{"user_id": "1"}"#,
        ),
    ));
    let exchange = lookup.execute_traced(&pool).await.remove(0);
    assert!(exchange.ok, "{exchange:?}");
    let trace = exchange.trace.clone().unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    let spans = receiver
        .store()
        .settle(
            &trace.trace_id,
            std::time::Duration::from_millis(300),
            deadline,
        )
        .await;
    let server = spans
        .iter()
        .find(|s| s.service == "user-service" && s.kind == "server")
        .unwrap_or_else(|| panic!("no server span for the lookup: {spans:#?}"));
    assert_eq!(server.name, names.user_subject);
    assert_eq!(
        server.parent_span_id.as_deref(),
        Some(trace.span_id.as_str())
    );

    let mut order =
        switchboard::engine::RequestSpec::Http(switchboard::engine::http::HttpRequest {
            method: "POST".into(),
            body: br#"{"user_id": "1", "amount": 9.5}"#.to_vec(),
            ..switchboard::engine::http::HttpRequest::get(format!(
                "http://{}/orders",
                demo.order.http_addr
            ))
        });
    let exchange = order.execute_traced(&pool).await.remove(0);
    assert_eq!(
        exchange.status.as_deref(),
        Some("201 Created"),
        "{exchange:?}"
    );
    let trace = exchange.trace.unwrap();
    let spans = receiver
        .store()
        .settle(
            &trace.trace_id,
            std::time::Duration::from_millis(300),
            deadline,
        )
        .await;
    let server = spans
        .iter()
        .find(|s| s.kind == "server" && s.service == "order-service")
        .unwrap_or_else(|| panic!("{spans:#?}"));
    let nats_publish = spans
        .iter()
        .find(|s| {
            s.kind == "producer"
                && s.attributes
                    .iter()
                    .any(|(k, v)| k == "messaging.system" && v == "nats")
        })
        .unwrap_or_else(|| panic!("no NATS producer span: {spans:#?}"));
    assert_eq!(
        nats_publish.name,
        format!("{} publish", names.orders_subject)
    );
    assert_eq!(
        nats_publish.parent_span_id.as_deref(),
        Some(server.span_id.as_str())
    );
    demo.stop().await;
    common::delete_stream(&names.stream).await;
}

/// OTLP/gRPC: `TraceService/Export` lands in the same store as OTLP/HTTP.
#[tokio::test]
async fn grpc_exports_land_in_the_same_store() {
    use switchboard::engine::trace::otlp::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    let mut receiver = Receiver::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = receiver
        .serve_grpc("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(receiver.grpc_endpoint(), Some(format!("http://{addr}")));
    let ctx = TraceContext::new_random();
    let mut client = TraceServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    client.export(export("grpc-exporter", &ctx)).await.unwrap();
    let spans = receiver.store().spans(&ctx.trace_id);
    assert_eq!(spans.len(), 2, "{spans:#?}");
    assert!(spans.iter().all(|s| s.service == "grpc-exporter"));
    // A taken gRPC port falls back too, and says so.
    let taken = receiver.serve_grpc(addr).await.unwrap();
    assert_ne!(taken, addr);
    assert!(receiver.grpc_fallback().unwrap().contains("not free"));
}

/// `--count N`: each copy starts a trace of its own, and its exchange names that one (copies
/// sharing one trace would show each other's spans).
#[tokio::test]
async fn each_copy_of_a_publish_has_its_own_trace() {
    let mut req = switchboard::engine::nats::NatsRequest::publish(
        common::nats_url(),
        format!("sbtest.{}.copies", common::tag()),
        "x",
    );
    req.count = 3;
    let mut spec = switchboard::engine::RequestSpec::Nats(Box::new(req));
    let pool = switchboard::engine::grpc::builtin_pool().unwrap();
    let exchanges = spec.execute_traced(&pool).await;
    assert_eq!(exchanges.len(), 3);
    let mut ids = std::collections::HashSet::new();
    for e in &exchanges {
        assert!(e.ok, "{e:?}");
        let trace = e.trace.as_ref().unwrap();
        let sent = e
            .request
            .headers
            .iter()
            .find(|h| h.name == "traceparent")
            .unwrap();
        assert_eq!(
            TraceContext::parse(&sent.value).unwrap().trace_id,
            trace.trace_id,
            "the exchange shows the traceparent it sent"
        );
        ids.insert(trace.trace_id.clone());
    }
    assert_eq!(ids.len(), 3, "three copies, three traces");
}

/// What is not an OTLP export is told so: another content type (415), a body that is not
/// gzip though it says so (400); counted as unreadable, the receiver goes on.
#[tokio::test]
async fn other_content_types_and_bad_gzip_are_refused_and_counted() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (status, _) = post(&receiver.endpoint(), "text/plain", b"hello".to_vec()).await;
    assert_eq!(status, 415);
    let response = reqwest::Client::new()
        .post(format!("{}/v1/traces", receiver.endpoint()))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(b"not gzip".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(receiver.store().counts().malformed, 2);
    let ctx = TraceContext::new_random();
    let body = prost::Message::encode_to_vec(&export("svc", &ctx));
    let (status, _) = post(&receiver.endpoint(), "application/x-protobuf", body).await;
    assert_eq!(status, 200);
}

/// #16: a flood of spans carrying 1 MiB attributes (the hostile repro: 30 exports of 14 spans)
/// is kept capped: every span is there, each value cut with its marker, and the store's
/// estimate stays at kilobytes a span, not the megabytes sent.
#[tokio::test]
async fn spans_with_huge_attributes_are_kept_capped_through_the_receiver() {
    use switchboard::engine::trace::receiver::MAX_TEXT_BYTES;
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let store = receiver.store();
    let huge = "x".repeat(1 << 20);
    let mut traces = Vec::new();
    for _ in 0..30 {
        let ctx = TraceContext::new_random();
        let mut request = export("flood", &ctx);
        let template = request.resource_spans[0].scope_spans[0].spans[0].clone();
        request.resource_spans[0].scope_spans[0].spans = (0..14u8)
            .map(|i| {
                let mut span = template.clone();
                span.span_id[7] = i;
                span.attributes.push(kv("payload", &huge));
                span
            })
            .collect();
        let (status, _) = post(
            &receiver.endpoint(),
            "application/x-protobuf",
            prost::Message::encode_to_vec(&request),
        )
        .await;
        assert_eq!(status, 200);
        traces.push(ctx.trace_id);
    }
    let marker = format!("…({} bytes)", huge.len());
    for trace in &traces {
        let spans = store.spans(trace);
        assert_eq!(spans.len(), 14);
        for span in spans {
            let (_, value) = span
                .attributes
                .iter()
                .find(|(k, _)| k == "payload")
                .unwrap();
            let value = value.as_str().unwrap();
            assert!(value.ends_with(&marker), "{}", &value[value.len() - 30..]);
            assert!(value.len() <= MAX_TEXT_BYTES + marker.len());
        }
    }
    assert_eq!(store.counts().accepted, 420);
    assert_eq!(store.counts().dropped, 0);
    // 420 MiB sent; what is kept is about 5 KiB a span.
    assert!(
        store.bytes() < 420 * (8 << 10),
        "{} bytes kept",
        store.bytes()
    );
}

/// Raw bytes as a gRPC message: what a broken exporter might send.
#[derive(Clone, Copy)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        let n = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, n).to_vec()))
    }
}

/// #16: a malformed OTLP/gRPC export is INVALID_ARGUMENT (3), not INTERNAL, and counted; the
/// receiver goes on taking exports, and an unknown method is UNIMPLEMENTED.
#[tokio::test]
async fn a_malformed_grpc_export_is_invalid_argument_and_counted() {
    let mut receiver = Receiver::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = receiver
        .serve_grpc("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    let status = grpc
        .unary(tonic::Request::new(vec![0xff; 64]), path, RawCodec)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .contains("not an OTLP protobuf export request")
    );
    assert_eq!(receiver.store().counts().malformed, 1);

    grpc.ready().await.unwrap();
    let other = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Other",
    );
    let status = grpc
        .unary(tonic::Request::new(vec![]), other, RawCodec)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented, "{status:?}");

    use switchboard::engine::trace::otlp::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    let ctx = TraceContext::new_random();
    TraceServiceClient::new(channel)
        .export(export("after", &ctx))
        .await
        .unwrap();
    assert_eq!(receiver.store().spans(&ctx.trace_id).len(), 2);
}

/// #16: OTLP/HTTP JSON `{}` is a valid empty export (an absent `resourceSpans` is an empty
/// list), not a 400; what is not an object still is.
#[tokio::test]
async fn an_empty_json_export_is_accepted() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    for empty in ["{}", "{\"resourceSpans\": []}", " { } "] {
        let (status, body) = post(
            &receiver.endpoint(),
            "application/json",
            empty.as_bytes().to_vec(),
        )
        .await;
        assert_eq!(status, 200, "{empty}: {}", String::from_utf8_lossy(&body));
    }
    for bad in ["[]", "{\"resourceSpans\": {}}", "7"] {
        let (status, _) = post(
            &receiver.endpoint(),
            "application/json",
            bad.as_bytes().to_vec(),
        )
        .await;
        assert_eq!(status, 400, "{bad}");
    }
    let counts = receiver.store().counts();
    assert_eq!((counts.accepted, counts.malformed), (0, 3));
}
