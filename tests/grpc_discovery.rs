//! gRPC discovery: reflection v1 and v1alpha (with fallback), a server that is not the
//! project's own and is known by reflection only, a server without reflection, and .proto files
//! with imports loaded from disk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::start_demo;
use switchboard::engine::descriptors::{self, ReflectionVersion};
use switchboard::engine::grpc::{self, GrpcRequest};
use switchboard::engine::{BodyView, ErrorKind};

const SECS: Duration = Duration::from_secs(10);

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/protos")
}

/// A gRPC server with only the standard health service, and reflection v1alpha when asked.
async fn health_server(
    with_reflection: bool,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("shop.OrderDesk", tonic_health::ServingStatus::NotServing)
        .await;
    let incoming = tokio_stream_incoming(listener);
    let mut router = tonic::transport::Server::builder().add_service(health);
    if with_reflection {
        let alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .unwrap();
        router = router.add_service(alpha);
    }
    let task = tokio::spawn(async move {
        let _ = router.serve_with_incoming(incoming).await;
    });
    (addr, task)
}

fn tokio_stream_incoming(
    listener: tokio::net::TcpListener,
) -> impl futures_util::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures_util::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(s, _)| s);
        Some((accepted, listener))
    })
}

fn call(addr: impl ToString, method: &str, json: &str) -> GrpcRequest {
    GrpcRequest {
        addr: addr.to_string(),
        method: method.to_string(),
        metadata: vec![],
        json: json.to_string(),
        timeout: SECS,
    }
}

#[tokio::test]
async fn reflection_v1_discovers_the_demo_and_calls_by_it() {
    let demo = start_demo().await;
    let found = descriptors::reflect(&demo.user.grpc_addr.to_string(), SECS)
        .await
        .unwrap();
    assert_eq!(found.version, ReflectionVersion::V1);
    assert_eq!(
        found.services,
        ["grpc.health.v1.Health", "user.UserService"]
    );
    let e = grpc::call(
        &call(
            demo.user.grpc_addr,
            "grpc.health.v1.Health/Check",
            r#"{"service":"user.UserService"}"#,
        ),
        &found.pool,
    )
    .await;
    let BodyView::Json(body) = e.response.unwrap().body.view() else {
        panic!()
    };
    assert_eq!(body["status"], "SERVING");
    let user = grpc::call(
        &call(
            demo.user.grpc_addr,
            "user.UserService/GetUserInfo",
            r#"{"user_id":"4"}"#,
        ),
        &found.pool,
    )
    .await;
    assert_eq!(user.status.as_deref(), Some("OK"));
    demo.stop().await;
}

#[tokio::test]
async fn a_foreign_server_with_v1alpha_only_is_discovered_by_fallback() {
    let (addr, task) = health_server(true).await;
    let found = descriptors::reflect(&addr.to_string(), SECS).await.unwrap();
    assert_eq!(found.version, ReflectionVersion::V1Alpha);
    assert_eq!(found.services, ["grpc.health.v1.Health"]);
    let e = grpc::call(
        &call(
            addr,
            "grpc.health.v1.Health/Check",
            r#"{"service":"shop.OrderDesk"}"#,
        ),
        &found.pool,
    )
    .await;
    assert!(e.ok, "{:?}", e.error);
    let BodyView::Json(body) = e.response.unwrap().body.view() else {
        panic!()
    };
    assert_eq!(body["status"], "NOT_SERVING");
    // Unknown service in the health check: the server answers NOT_FOUND.
    let e = grpc::call(
        &call(addr, "grpc.health.v1.Health/Check", r#"{"service":"nope"}"#),
        &found.pool,
    )
    .await;
    assert_eq!(e.status.as_deref(), Some("NOT_FOUND"));
    task.abort();
}

#[tokio::test]
async fn no_reflection_and_closed_ports_are_clear_errors() {
    let (addr, task) = health_server(false).await;
    let error = descriptors::reflect(&addr.to_string(), SECS)
        .await
        .unwrap_err();
    assert!(
        error
            .message
            .contains("does not offer gRPC server reflection"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("--proto"),
        "says what to do: {}",
        error.message
    );
    task.abort();
    let error = descriptors::reflect("127.0.0.1:1", SECS).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn protos_with_imports_load_from_disk_and_templates_cover_every_field() {
    let root = fixtures();
    let pool = descriptors::compile_protos(
        &[root.join("shop/order.proto")],
        std::slice::from_ref(&root),
    )
    .unwrap();
    assert_eq!(descriptors::services(&pool), ["shop.OrderDesk"]);
    let text = descriptors::describe(&pool, "shop.OrderDesk").unwrap();
    assert!(
        text.contains("rpc Follow ( .shop.Placed ) returns ( stream .shop.OrderEvent )"),
        "{text}"
    );
    let place = pool.get_message_by_name("shop.PlaceOrder").unwrap();
    let template = descriptors::json_template(&place);
    assert_eq!(
        template,
        serde_json::json!({
            "userId": "",
            "lines": [{ "sku": "", "quantity": 0, "price": { "currency": "CURRENCY_UNSPECIFIED", "cents": "0" } }],
            "labels": { "key": "" },
            "wantedBy": "1970-01-01T00:00:00Z",
        })
    );
    // The template is valid input for the method.
    let method = grpc::find_method(&pool, "shop.OrderDesk/Place").unwrap();
    grpc::json_to_message(&method, &template.to_string()).unwrap();

    // The project's own proto, by path alone (its folder becomes the import path).
    let user = descriptors::compile_protos(
        &[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("proto/user.proto")],
        &[],
    )
    .unwrap();
    assert!(grpc::find_method(&user, grpc::DEFAULT_METHOD).is_ok());
}

#[tokio::test]
async fn a_broken_proto_names_its_file_and_line() {
    let root = fixtures();
    let error = descriptors::compile_protos(&[root.join("broken.proto")], &[root]).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidInput);
    assert!(error.message.contains("broken.proto"), "{}", error.message);
    assert!(
        error.message.contains(":7:") || error.message.contains("line 7"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn the_cli_lists_describes_and_sends_by_reflection_or_proto() {
    let demo = start_demo().await;
    let bin = env!("CARGO_BIN_EXE_switchboard");
    let addr = demo.user.grpc_addr.to_string();
    let run = |args: Vec<String>| async move {
        tokio::process::Command::new(bin)
            .args(&args)
            .output()
            .await
            .unwrap()
    };
    let out = run(vec!["grpc".into(), "list".into(), addr.clone()]).await;
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "grpc.health.v1.Health\nuser.UserService\n"
    );
    let out = run(vec![
        "grpc".into(),
        "describe".into(),
        addr.clone(),
        "user.UserInfo".into(),
    ])
    .await;
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("uint32 order_count = 4;"), "{text}");
    let out = run(vec![
        "send".into(),
        "grpc".into(),
        addr.clone(),
        "grpc.health.v1.Health/Check".into(),
        "--json".into(),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["response"]["body"]["status"], "SERVING");
    let proto = format!("{}/proto/user.proto", env!("CARGO_MANIFEST_DIR"));
    let out = run(vec![
        "send".into(),
        "grpc".into(),
        addr.clone(),
        "--proto".into(),
        proto,
        "-d".into(),
        r#"{"userId":"5"}"#.into(),
        "--json".into(),
    ])
    .await;
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["response"]["body"]["name"], "Alan Turing");
    let out = run(vec![
        "grpc".into(),
        "describe".into(),
        addr,
        "no.Such".into(),
    ])
    .await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: symbol \"no.Such\" not found")
    );
    demo.stop().await;
}
