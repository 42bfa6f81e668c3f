//! gRPC fidelity (issue 18): templates fill one member per oneof, `grpc list` by reflection
//! lists exactly what the server names, `describe` prints proto that compiles again, and an
//! `Any` of an unknown type does not hide the rest of a response. The server is a foreign one,
//! in process: `tests/fixtures/protos/fidelity/fidelity.proto` compiled at run time, answered
//! by a dynamic tonic service, with reflection v1 and v1alpha.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::path::PathBuf;
use std::task::{Context, Poll};
use std::time::Duration;

use prost_reflect::prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use switchboard::engine::codec::{Decoded, DynamicCodec};
use switchboard::engine::descriptors;
use switchboard::engine::grpc::{self, GrpcRequest};
use switchboard::engine::{BodyView, Header};
use tonic::codegen::{Body, BoxFuture, StdError, http};

const SECS: Duration = Duration::from_secs(10);

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/protos/fidelity")
}

fn pool() -> DescriptorPool {
    descriptors::compile_protos(&[fixture().join("fidelity.proto")], &[fixture()]).unwrap()
}

/// An `Any` with this type URL and payload.
fn any(pool: &DescriptorPool, type_url: &str, value: Vec<u8>) -> DynamicMessage {
    let mut any = DynamicMessage::new(pool.get_message_by_name("google.protobuf.Any").unwrap());
    any.set_field_by_name("type_url", Value::String(type_url.to_string()));
    any.set_field_by_name("value", Value::Bytes(value.into()));
    any
}

/// What `Echo` and each `Tail` message answer: the topic back, an `Any` of a type nobody
/// knows, and a list with one known and one unknown `Any`.
fn reply(pool: &DescriptorPool, topic: DynamicMessage) -> DynamicMessage {
    let mut owner = DynamicMessage::new(pool.get_message_by_name("fid.Topic.Owner").unwrap());
    owner.set_field_by_name("name", Value::String("ada".to_string()));
    let name = topic
        .get_field_by_name("name")
        .unwrap()
        .as_str()
        .unwrap_or("")
        .to_string();
    let mut reply = DynamicMessage::new(pool.get_message_by_name("fid.Reply").unwrap());
    reply.set_field_by_name("summary", Value::String(format!("got {name}")));
    reply.set_field_by_name(
        "detail",
        Value::Message(any(pool, "type.googleapis.com/hidden.Secret", vec![8, 42])),
    );
    reply.set_field_by_name(
        "extras",
        Value::List(vec![
            Value::Message(any(
                pool,
                "type.googleapis.com/fid.Topic.Owner",
                owner.encode_to_vec(),
            )),
            Value::Message(any(pool, "example.com/other.Thing", vec![1, 2, 3])),
        ]),
    );
    reply.set_field_by_name("topic", Value::Message(topic));
    reply
}

#[derive(Clone)]
struct Fidelity(DescriptorPool);

impl tonic::server::NamedService for Fidelity {
    const NAME: &'static str = "fid.Fidelity";
}

struct Echo(DescriptorPool);

impl tonic::server::UnaryService<Decoded> for Echo {
    type Response = DynamicMessage;
    type Future = BoxFuture<tonic::Response<DynamicMessage>, tonic::Status>;
    fn call(&mut self, request: tonic::Request<Decoded>) -> Self::Future {
        let answer = reply(&self.0, request.into_inner().message);
        Box::pin(async move { Ok(tonic::Response::new(answer)) })
    }
}

struct Tail(DescriptorPool);

type Replies =
    futures_util::stream::Iter<std::vec::IntoIter<Result<DynamicMessage, tonic::Status>>>;

impl tonic::server::ServerStreamingService<Decoded> for Tail {
    type Response = DynamicMessage;
    type ResponseStream = Replies;
    type Future = BoxFuture<tonic::Response<Replies>, tonic::Status>;
    fn call(&mut self, request: tonic::Request<Decoded>) -> Self::Future {
        let topic = request.into_inner().message;
        let answers = vec![Ok(reply(&self.0, topic.clone())), Ok(reply(&self.0, topic))];
        Box::pin(async move { Ok(tonic::Response::new(futures_util::stream::iter(answers))) })
    }
}

impl<B> tonic::codegen::Service<http::Request<B>> for Fidelity
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let pool = self.0.clone();
        Box::pin(async move {
            let topic = pool.get_message_by_name("fid.Topic").unwrap();
            let mut grpc = tonic::server::Grpc::new(DynamicCodec::new(topic));
            Ok(match req.uri().path() {
                "/fid.Fidelity/Echo" => grpc.unary(Echo(pool), req).await,
                "/fid.Fidelity/Tail" => grpc.server_streaming(Tail(pool), req).await,
                _ => tonic::Status::unimplemented("not served here").into_http(),
            })
        })
    }
}

/// Serves `fid.Fidelity` (not `fid.Unserved`) with reflection v1 and v1alpha on port 0.
async fn fidelity_server() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let pool = pool();
    let encoded: &'static [u8] = Box::leak(pool.encode_to_vec().into_boxed_slice());
    // Named as grpcio servers name them: what is served, reflection included.
    let v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(encoded)
        .with_service_name("fid.Fidelity")
        .with_service_name("grpc.reflection.v1.ServerReflection")
        .with_service_name("grpc.reflection.v1alpha.ServerReflection")
        .build_v1()
        .unwrap();
    let v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(encoded)
        .with_service_name("fid.Fidelity")
        .build_v1alpha()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = futures_util::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(s, _)| s);
        Some((accepted, listener))
    });
    let router = tonic::transport::Server::builder()
        .add_service(Fidelity(pool))
        .add_service(v1)
        .add_service(v1alpha);
    let task = tokio::spawn(async move {
        let _ = router.serve_with_incoming(incoming).await;
    });
    (addr, task)
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

async fn cli(args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test]
async fn list_by_reflection_is_exactly_what_the_server_names() {
    let (addr, task) = fidelity_server().await;
    let found = descriptors::reflect(&addr.to_string(), SECS).await.unwrap();
    let served = [
        "fid.Fidelity",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ];
    // Not fid.Unserved from the same file; the reflection services, though the v1 server
    // cannot describe v1alpha's.
    assert_eq!(found.services, served);
    assert!(found.pool.get_service_by_name("fid.Unserved").is_some());
    let (ok, stdout, stderr) = cli(&["grpc", "list", &addr.to_string()]).await;
    assert!(ok, "{stderr}");
    let listed: Vec<&str> = stdout.lines().collect();
    assert_eq!(listed, found.services, "{stdout}");
    assert!(!stdout.contains("fid.Unserved"), "{stdout}");
    // From the file itself, both services are there.
    let proto = fixture().join("fidelity.proto");
    let (ok, stdout, stderr) = cli(&[
        "grpc",
        "list",
        &addr.to_string(),
        "--proto",
        proto.to_str().unwrap(),
    ])
    .await;
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "fid.Fidelity\nfid.Unserved\n");
    task.abort();
}

#[tokio::test]
async fn templates_fill_one_oneof_member_and_send_as_they_are() {
    let (addr, task) = fidelity_server().await;
    let pool = pool();
    let topic = pool.get_message_by_name("fid.Topic").unwrap();
    let template = descriptors::json_template(&topic);
    assert!(template.get("url").is_some(), "{template}");
    assert!(template.get("owner").is_none() && template.get("id").is_none());
    assert_eq!(template["labels"], serde_json::json!({"key": ""}));
    assert_eq!(template["note"], "");
    assert_eq!(
        descriptors::template_hints(&topic),
        ["oneof target: also owner, id"]
    );
    // The method browser's template sends as it is.
    let method = descriptors::methods(&pool)
        .into_iter()
        .find(|m| m.path == "fid.Fidelity/Echo")
        .unwrap();
    assert_eq!(method.hints, ["oneof target: also owner, id"]);
    let e = grpc::call(&call(addr, "fid.Fidelity/Echo", &method.template), &pool).await;
    assert!(e.ok, "{:?}", e.error);
    // The CLI prints the hint as a comment line above the JSON, which parses alone.
    let (ok, stdout, stderr) =
        cli(&["grpc", "describe", &addr.to_string(), "fid.Fidelity/Echo"]).await;
    assert!(ok, "{stderr}");
    let (_, after) = stdout.split_once("// request template:\n").unwrap();
    let (hint, json) = after.split_once('\n').unwrap();
    assert_eq!(hint, "// oneof target: also owner, id");
    let parsed: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(parsed, template);
    let (ok, _, stderr) = cli(&[
        "send",
        "grpc",
        &addr.to_string(),
        "fid.Fidelity/Echo",
        "-d",
        json,
    ])
    .await;
    assert!(ok, "{stderr}");
    task.abort();
}

#[tokio::test]
async fn describe_prints_proto_that_compiles_back_to_the_same_descriptors() {
    let (addr, task) = fidelity_server().await;
    let pool = pool();
    let mut text = String::from(
        "syntax = \"proto3\";\npackage fid;\nimport \"google/protobuf/any.proto\";\nimport \"google/protobuf/timestamp.proto\";\n",
    );
    for symbol in ["fid.Fidelity", "fid.Topic", "fid.Reply"] {
        let (ok, stdout, stderr) = cli(&["grpc", "describe", &addr.to_string(), symbol]).await;
        assert!(ok, "{stderr}");
        let proto = stdout.split("\n// template:").next().unwrap();
        text.push_str(proto);
        text.push('\n');
    }
    assert!(text.contains("map<string, string> labels = 2;"), "{text}");
    assert!(
        text.contains("map<int32, .fid.Topic.Owner> owners = 8;"),
        "{text}"
    );
    assert!(text.contains("optional string note = 6;"), "{text}");
    assert!(
        text.contains("rpc Tail ( .fid.Topic ) returns ( stream .fid.Reply );"),
        "{text}"
    );
    let dir = std::env::temp_dir().join(format!("sb-describe-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("again.proto"), &text).unwrap();
    let again = descriptors::compile_protos(&[dir.join("again.proto")], std::slice::from_ref(&dir))
        .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    for name in ["fid.Topic", "fid.Reply"] {
        assert_eq!(
            again.get_message_by_name(name).unwrap().descriptor_proto(),
            pool.get_message_by_name(name).unwrap().descriptor_proto(),
            "{name}"
        );
    }
    assert_eq!(
        again
            .get_service_by_name("fid.Fidelity")
            .unwrap()
            .service_descriptor_proto(),
        pool.get_service_by_name("fid.Fidelity")
            .unwrap()
            .service_descriptor_proto()
    );
    // Enums alone too.
    let enum_text = descriptors::describe(&pool, "fid.Topic.Level").unwrap();
    assert!(
        enum_text.contains("enum Level {\n  LEVEL_UNSPECIFIED = 0;"),
        "{enum_text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    task.abort();
}

#[tokio::test]
async fn an_unknown_any_is_shown_as_its_url_and_bytes_and_the_rest_renders() {
    let (addr, task) = fidelity_server().await;
    let found = descriptors::reflect(&addr.to_string(), SECS).await.unwrap();
    let e = grpc::call(
        &call(
            addr,
            "fid.Fidelity/Echo",
            r#"{"name":"news","labels":{"a":"b"}}"#,
        ),
        &found.pool,
    )
    .await;
    assert!(e.ok, "{:?}", e.error);
    let response = e.response.unwrap();
    let BodyView::Json(body) = response.body.view() else {
        panic!("{:?}", response.body)
    };
    assert_eq!(body["summary"], "got news");
    assert_eq!(body["topic"]["labels"]["a"], "b");
    assert_eq!(
        body["detail"],
        serde_json::json!({"@type": "type.googleapis.com/hidden.Secret", "value": "CCo="})
    );
    assert_eq!(
        body["extras"][0]["@type"],
        "type.googleapis.com/fid.Topic.Owner"
    );
    assert_eq!(body["extras"][0]["name"], "ada");
    assert_eq!(body["extras"][1]["value"], "AQID");
    let notes: Vec<&Header> = response
        .trailers
        .iter()
        .filter(|h| h.name == grpc::NOTE_HEADER)
        .collect();
    assert_eq!(notes.len(), 2, "{:?}", response.trailers);
    assert!(notes[0].value.contains("hidden.Secret"), "{:?}", notes);
    // Streamed replies too.
    let e = grpc::call(
        &call(addr, "fid.Fidelity/Tail", r#"{"name":"tail"}"#),
        &found.pool,
    )
    .await;
    assert!(e.ok, "{:?}", e.error);
    let response = e.response.unwrap();
    let BodyView::Json(body) = response.body.view() else {
        panic!("{:?}", response.body)
    };
    assert_eq!(body[1]["detail"]["value"], "CCo=");
    assert!(
        response
            .trailers
            .iter()
            .any(|h| h.name == grpc::NOTE_HEADER)
    );
    task.abort();
}
