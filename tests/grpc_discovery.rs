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
        tls: Default::default(),
    }
}

#[tokio::test]
async fn reflection_v1_discovers_the_demo_and_calls_by_it() {
    let demo = start_demo().await;
    let found = descriptors::reflect(&demo.user.grpc_addr.to_string(), SECS)
        .await
        .unwrap();
    assert_eq!(found.version, ReflectionVersion::V1);
    // Exactly what ListServices names, reflection included (#18.9).
    assert_eq!(
        found.services,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "user.UserService"
        ]
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
    assert_eq!(
        found.services,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection"
        ]
    );
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
        "grpc.health.v1.Health\ngrpc.reflection.v1.ServerReflection\nuser.UserService\n"
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

#[tokio::test]
async fn all_four_call_types_work_against_the_demo_with_per_message_phases() {
    let demo = start_demo().await;
    let pool = grpc::builtin_pool().unwrap();
    let addr = demo.user.grpc_addr;

    // Client streaming, messages fed one by one; dropping the sender half-closes.
    let method = grpc::find_method(&pool, "user.UserService/CountUsers").unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let feeder = tokio::spawn(async move {
        for id in ["1", "2", "404"] {
            tx.send(grpc::json_to_message(&method, &format!(r#"{{"user_id":"{id}"}}"#)).unwrap())
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let e = grpc::call_streaming(
        &call(addr, "user.UserService/CountUsers", ""),
        &pool,
        None,
        Some(rx),
        None,
    )
    .await;
    feeder.await.unwrap();
    assert!(e.ok, "{:?}", e.error);
    let sent: Vec<_> = e
        .timeline
        .iter()
        .filter(|p| p.phase == switchboard::engine::grpc::phases::MESSAGE_SENT)
        .collect();
    assert_eq!(sent.len(), 3);
    assert!(
        sent[2].end_us - sent[0].end_us >= 30_000,
        "messages went out as they were fed: {sent:?}"
    );
    let BodyView::Json(body) = e.response.as_ref().unwrap().body.view() else {
        panic!()
    };
    assert_eq!(
        body,
        serde_json::json!({"found": 2, "missing": 1, "names": ["John Doe", "Jane Roe"]})
    );
    let BodyView::Json(request) = e.request.body.view() else {
        panic!()
    };
    assert_eq!(request.as_array().unwrap().len(), 3);

    // Bidirectional: every id answered, in order.
    let e = grpc::call(
        &call(
            addr,
            "user.UserService/LookupStream",
            r#"{"user_id":"3"} {"user_id":"9"} {"user_id":"5"}"#,
        ),
        &pool,
    )
    .await;
    assert!(e.ok, "{:?}", e.error);
    let BodyView::Json(answers) = e.response.as_ref().unwrap().body.view() else {
        panic!()
    };
    let names: Vec<_> = answers
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Ada Lovelace", "", "Alan Turing"]);
    assert_eq!(
        e.timeline
            .iter()
            .filter(|p| p.phase == switchboard::engine::grpc::phases::MESSAGE)
            .count(),
        3
    );

    // Server streaming: what was seen, then live orders as they are consumed.
    demo.user.store.record_order("2", "before-call");
    let (tx, mut live) = tokio::sync::mpsc::channel(8);
    let store = demo.user.store.clone();
    let watcher = tokio::spawn(async move {
        let first = live.recv().await.unwrap();
        store.record_order("2", "during-call");
        let second = live.recv().await.unwrap();
        (first, second)
    });
    let req = GrpcRequest {
        timeout: Duration::from_millis(800),
        ..call(addr, "user.UserService/WatchOrders", r#"{"user_id":"2"}"#)
    };
    let e = grpc::call_streaming(&req, &pool, None, None, Some(tx)).await;
    let (first, second) = watcher.await.unwrap();
    assert!(
        first.json.contains("before-call") && first.json.contains("seen"),
        "{first:?}"
    );
    assert!(
        second.json.contains("during-call") && second.json.contains("consumed"),
        "{second:?}"
    );
    assert!(second.at_us > first.at_us);
    // An endless stream ends at the deadline, in a message phase, keeping what arrived.
    let error = e.error.as_ref().unwrap();
    assert_eq!(
        (error.kind, error.phase),
        (
            ErrorKind::Timeout,
            Some(switchboard::engine::grpc::phases::MESSAGE)
        )
    );
    let BodyView::Json(events) = e.response.as_ref().unwrap().body.view() else {
        panic!()
    };
    assert_eq!(events.as_array().unwrap().len(), 2);
    demo.stop().await;
}

#[tokio::test]
async fn the_cli_streams_stdin_lines_to_a_client_stream() {
    use std::io::Write;
    let demo = start_demo().await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "send",
            "grpc",
            &demo.user.grpc_addr.to_string(),
            "user.UserService/CountUsers",
            "-d",
            "@-",
            "--json",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, r#"{{"user_id":"4"}}"#).unwrap();
    writeln!(stdin, r#"{{"user_id":"5"}}"#).unwrap();
    drop(stdin);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success());
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["response"]["body"]["found"], 2);
    assert_eq!(
        e["response"]["body"]["names"],
        serde_json::json!(["Grace Hopper", "Alan Turing"])
    );
    demo.stop().await;
}
