//! gRPC calls through the engine against the demo User Service, plus its reflection and health.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{assert_timeline_sane, phase_names, start_demo};
use switchboard::engine::grpc::{self, GrpcRequest};
use switchboard::engine::{BodyView, ErrorKind};

fn request(addr: std::net::SocketAddr, json: &str) -> GrpcRequest {
    GrpcRequest {
        addr: addr.to_string(),
        method: grpc::DEFAULT_METHOD.to_string(),
        metadata: vec![switchboard::engine::Header::new("x-request-id", "t-1")],
        json: json.to_string(),
        timeout: Duration::from_secs(10),
        tls: Default::default(),
    }
}

#[tokio::test]
async fn lookup_found_has_grpc_phases_and_proto3_json() {
    // The system's receive stamping goes on a little after the first socket asks (see
    // kernel_time): on, before the exchange whose sources are checked below.
    #[cfg(target_os = "linux")]
    assert!(switchboard::engine::kernel_time::keep_receive_stamps_on(
        std::time::Duration::from_secs(5)
    ));
    let demo = start_demo().await;
    let pool = grpc::builtin_pool().unwrap();
    let exchange = grpc::call(&request(demo.user.grpc_addr, r#"{"user_id":"1"}"#), &pool).await;
    assert!(exchange.ok, "{exchange:?}");
    assert_eq!(exchange.status.as_deref(), Some("OK"));
    assert_eq!(
        phase_names(&exchange),
        [
            "connect",
            "HTTP/2 handshake",
            "request sent",
            "response headers",
            "message",
            "trailers"
        ]
    );
    assert_timeline_sane(&exchange);
    // The handshake is timed from the frames: the server's SETTINGS and its ACK of ours were
    // seen by the time the answer came; the request counts its own frames, not those.
    let phase = |name: &str| {
        exchange
            .timeline
            .iter()
            .find(|p| p.phase.name() == name)
            .unwrap()
    };
    let handshake = phase("http2_handshake").detail.clone().unwrap();
    assert!(
        handshake.contains("server SETTINGS +") && handshake.contains("ours acknowledged +"),
        "{handshake}"
    );
    // On Linux the wire's instants are the kernel's: the handshake's round trip, the arrival of
    // the server's SETTINGS / ACK, the last request frame's transmit timestamp, the answer's
    // receive timestamp.
    #[cfg(target_os = "linux")]
    for name in [
        "connect",
        "http2_handshake",
        "request_sent",
        "response_headers",
    ] {
        use switchboard::engine::kernel_time::Source;
        assert_eq!(
            phase(name).source,
            Some(Source::Kernel),
            "{name}: {exchange:?}"
        );
    }
    let sent = phase("request_sent").detail.clone().unwrap();
    let bytes: u64 = sent.split(' ').next().unwrap().parse().unwrap();
    // HEADERS (9 + ~100 of HPACK) and one DATA frame (9 + 5 + the 3-byte message): not the
    // 55 bytes of SETTINGS, SETTINGS ACK and WINDOW_UPDATE more (163–177 before).
    assert!((9 + 9 + 5 + 3..=140).contains(&bytes), "{sent}");
    let response = exchange.response.as_ref().unwrap();
    let BodyView::Json(body) = response.body.view() else {
        panic!()
    };
    assert_eq!(body["id"], "1");
    assert_eq!(body["name"], "John Doe");
    assert_eq!(body["email"], "john@example.com");
    assert_eq!(body["orderCount"], 0, "defaults are shown");
    assert!(response.size_bytes > 0);
    assert!(
        response
            .trailers
            .iter()
            .any(|h| h.name == "grpc-status" && h.value == "0")
    );
    assert!(
        response
            .headers
            .iter()
            .any(|h| h.name == "content-type" && h.value.starts_with("application/grpc"))
    );
    // "userId" and "user_id" are both accepted (proto3 JSON).
    let camel = grpc::call(&request(demo.user.grpc_addr, r#"{"userId":"2"}"#), &pool).await;
    assert!(camel.ok);
    demo.stop().await;
}

#[tokio::test]
async fn not_found_and_malformed_ids_are_status_codes() {
    let demo = start_demo().await;
    let pool = grpc::builtin_pool().unwrap();
    let not_found = grpc::call(&request(demo.user.grpc_addr, r#"{"user_id":"99"}"#), &pool).await;
    assert!(!not_found.ok);
    assert!(not_found.error.is_none());
    assert_eq!(not_found.status.as_deref(), Some("NOT_FOUND"));
    let trailers = &not_found.response.as_ref().unwrap().trailers;
    assert!(
        trailers
            .iter()
            .any(|h| h.name == "grpc-message" && h.value.contains("user 99 not found")),
        "{trailers:?}"
    );

    let malformed = grpc::call(&request(demo.user.grpc_addr, r#"{"user_id":"x"}"#), &pool).await;
    assert_eq!(malformed.status.as_deref(), Some("INVALID_ARGUMENT"));
    demo.stop().await;
}

#[tokio::test]
async fn bad_input_unknown_method_and_closed_port_give_clear_errors() {
    let pool = grpc::builtin_pool().unwrap();
    let addr: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
    for (json, needle) in [
        ("{not json", "invalid request JSON"),
        (r#"{"user_id": 5}"#, "expected a string"),
        (r#"{"nope": "1"}"#, "nope"),
    ] {
        let exchange = grpc::call(&request(addr, json), &pool).await;
        let error = exchange.error.unwrap();
        assert_eq!(error.kind, ErrorKind::InvalidInput);
        assert!(error.message.contains(needle), "{}", error.message);
    }
    let unknown = GrpcRequest {
        method: "user.UserService/Nope".to_string(),
        ..request(addr, "{}")
    };
    let error = grpc::call(&unknown, &pool).await.error.unwrap();
    assert!(
        error.message.contains("unknown method \"Nope\""),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("user.UserService/GetUserInfo"),
        "lists known methods"
    );

    // Port 1 on loopback refuses.
    let refused = grpc::call(&request(addr, r#"{"user_id":"1"}"#), &pool).await;
    let error = refused.error.unwrap();
    assert_eq!(error.kind, ErrorKind::ConnectionRefused);
    assert_eq!(error.phase, Some(switchboard::engine::net::phases::CONNECT));
}

#[tokio::test]
async fn a_failing_service_answers_unavailable_and_a_slow_one_hits_the_deadline() {
    let demo = start_demo().await;
    let pool = grpc::builtin_pool().unwrap();
    demo.user.knobs.set_failure_rate(1.0);
    let failing = grpc::call(&request(demo.user.grpc_addr, r#"{"user_id":"1"}"#), &pool).await;
    assert_eq!(failing.status.as_deref(), Some("UNAVAILABLE"));
    demo.user.knobs.set_failure_rate(0.0);
    demo.user.knobs.set_latency_ms(2_000);
    let impatient = GrpcRequest {
        timeout: Duration::from_millis(200),
        ..request(demo.user.grpc_addr, r#"{"user_id":"1"}"#)
    };
    let slow = grpc::call(&impatient, &pool).await;
    assert!(!slow.ok);
    // Either the client deadline or the server's grpc-timeout fires (tonic servers answer
    // CANCELLED "Timeout expired"); both end in the response headers phase.
    let failed = slow.timeline.last().unwrap();
    assert_eq!(
        failed.phase,
        switchboard::engine::grpc::phases::RESPONSE_HEADERS,
        "{:?}",
        slow.timeline
    );
    assert!(
        matches!(
            slow.status.as_deref(),
            Some("DEADLINE_EXCEEDED" | "CANCELLED")
        ) || slow
            .error
            .as_ref()
            .is_some_and(|e| e.kind == ErrorKind::Timeout),
        "{slow:?}"
    );
    demo.stop().await;
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_and_health_are_served() {
    use tonic_reflection::pb::{v1, v1alpha};
    let demo = start_demo().await;
    let url = format!("http://{}", demo.user.grpc_addr);
    let channel = tonic::transport::Endpoint::from_shared(url)
        .unwrap()
        .connect()
        .await
        .unwrap();

    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let req = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream_once(req))
        .await
        .unwrap()
        .into_inner();
    let reply = stream.message().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        reply.message_response
    else {
        panic!("{reply:?}")
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"user.UserService"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");

    let mut alpha = v1alpha::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let req = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "user.UserService".to_string(),
            ),
        ),
    };
    let mut stream = alpha
        .server_reflection_info(tokio_stream_once(req))
        .await
        .unwrap()
        .into_inner();
    let reply = stream.message().await.unwrap().unwrap();
    assert!(matches!(
        reply.message_response,
        Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(_))
    ));

    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "user.UserService".to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    demo.stop().await;
}

fn tokio_stream_once<T: Send + 'static>(
    item: T,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::iter([item])
}

#[tokio::test]
async fn a_client_reuses_its_channel() {
    let demo = start_demo().await;
    let pool = grpc::builtin_pool().unwrap();
    let client = grpc::GrpcClient::default();
    let req = request(demo.user.grpc_addr, r#"{"user_id":"3"}"#);
    let first = client.call(&req, &pool).await;
    let second = client.call(&req, &pool).await;
    assert_eq!(phase_names(&first)[0], "connect");
    assert_eq!(
        phase_names(&second),
        ["request sent", "response headers", "message", "trailers"]
    );
    let sent = second
        .timeline
        .iter()
        .find(|p| p.phase.name() == "request_sent")
        .unwrap();
    assert!(
        sent.detail
            .as_deref()
            .unwrap()
            .starts_with("reused channel")
    );
    assert_eq!(second.status.as_deref(), Some("OK"));
    assert_timeline_sane(&second);
    demo.stop().await;
}

#[tokio::test]
async fn rich_error_details_are_decoded() {
    let demo = start_demo().await;
    let pool = grpc::builtin_pool().unwrap();
    let e = grpc::call(&request(demo.user.grpc_addr, r#"{"user_id":"abc"}"#), &pool).await;
    assert_eq!(e.status.as_deref(), Some("INVALID_ARGUMENT"));
    let trailers = &e.response.as_ref().unwrap().trailers;
    let detail = trailers
        .iter()
        .find(|h| h.name == "error-detail")
        .unwrap_or_else(|| panic!("{trailers:?}"));
    assert!(
        detail.value.contains("BadRequest") && detail.value.contains("user_id"),
        "{detail:?}"
    );
    demo.stop().await;
}

/// Stopping the User Service while a client keeps a stream open does not wait for the client:
/// it used to wait for good, and the app's worker with it (every later command hung).
#[tokio::test]
async fn stopping_the_user_service_does_not_wait_for_an_open_stream() {
    use demo_services::proto::UserRequest;
    use demo_services::proto::user_service_client::UserServiceClient;
    let demo = start_demo().await;
    let addr = demo.user.grpc_addr;
    let mut client = UserServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    // A request stream that never ends: the server's response stream stays open.
    use futures_util::StreamExt;
    let requests = futures_util::stream::iter([UserRequest {
        user_id: "1".into(),
    }])
    .chain(futures_util::stream::pending());
    let mut replies = client.lookup_stream(requests).await.unwrap().into_inner();
    assert_eq!(replies.message().await.unwrap().unwrap().id, "1");
    let started = std::time::Instant::now();
    tokio::time::timeout(std::time::Duration::from_secs(10), demo.user.stop())
        .await
        .expect("the stop waited for the open stream");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // The port is free again: the service can start there anew.
    tokio::net::TcpListener::bind(addr).await.unwrap();
}
