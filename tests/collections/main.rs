//! Collections on disk: round trips, corrupt and unknown-version files, crashes mid-save,
//! conflicts, secrets kept out of the folder, imports that run, and `switchboard run`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use switchboard::engine::collection::saved::{
    MoreProps, SavedAmqp, SavedGrpc, SavedHttp, SavedTls, SavedWatch,
};
use switchboard::engine::collection::{
    self, Collection, Environment, Expect, JsonExpect, Loaded, OnDisk, SavedBody, SavedHeader,
    SavedRequest, SavedSpec, SecretStore, Variable, import,
};
use switchboard::engine::fsutil::Staged;
use switchboard::engine::watch::WatchMode;

mod edge_cases;
mod files;
mod imports;
mod runs;

use common::echo::Echo;
use imports::multipart_parts;
use imports::{args, loaded_http, text};
use runs::run_cli;

/// A fresh folder for one test, with its own data directory (secrets, history).
struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("sb-coll-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("data")).unwrap();
        Self { dir }
    }

    fn collection(&self) -> PathBuf {
        let c = self.dir.join("collection");
        std::fs::create_dir_all(&c).unwrap();
        c
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn secrets(&self) -> SecretStore {
        SecretStore::load(&self.data().join("secrets.json")).unwrap()
    }

    /// Runs the binary with this sandbox's data directory.
    fn switchboard(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(args)
            .env("SWITCHBOARD_DATA_DIR", self.data())
            .output()
            .expect("run switchboard")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn assert_nowhere_in(dir: &Path, secret: &str) {
    for (path, bytes) in files(dir) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "{secret:?} written into {}",
            path.display()
        );
    }
}

fn one_of_each() -> Vec<SavedRequest> {
    let http = SavedRequest {
        expect: Expect {
            status: Some(200.into()),
            json: vec![JsonExpect {
                pointer: "/name".into(),
                equals: "John Doe".into(),
            }],
            max_total_ms: Some(500),
        },
        ..SavedRequest::new(
            "Get user",
            SavedSpec::Http(SavedHttp {
                method: "POST".into(),
                url: "{{base_url}}/user/{{user_id}}".into(),
                headers: vec![
                    SavedHeader::new("Accept", "application/json"),
                    SavedHeader {
                        enabled: false,
                        ..SavedHeader::new("X-Off", "1")
                    },
                ],
                body: SavedBody::from_text("{\n  \"a\": [\n    1,\n    2\n  ]\n}"),
                form: Vec::new(),
                timeout_ms: Some(1500),
                tls: SavedTls {
                    ca_file: "certs/ca.pem".into(),
                    ..Default::default()
                },
            }),
        )
    };
    let grpc = SavedRequest::new(
        "Get user info",
        SavedSpec::Grpc(SavedGrpc {
            addr: "{{grpc_addr}}".into(),
            method: "user.UserService/GetUserInfo".into(),
            metadata: vec![SavedHeader::new("x-request-id", "7")],
            message: SavedBody::from_text("{\"user_id\": \"1\"}"),
            timeout_ms: None,
            protos: vec!["proto/user.proto".into()],
            import_paths: vec!["proto".into()],
            protoset: String::new(),
            tls: SavedTls::default(),
        }),
    );
    let amqp = SavedRequest::new(
        "Publish",
        SavedSpec::Amqp(SavedAmqp {
            url: "{{amqp_url}}".into(),
            exchange: "orders".into(),
            routing_key: "order.created".into(),
            content_type: "application/json".into(),
            message_id: "m-1".into(),
            correlation_id: String::new(),
            persistent: true,
            more: MoreProps {
                kind: "OrderCreated".into(),
                priority: Some(5),
                expiration: "60000".into(),
                ..Default::default()
            },
            headers: vec![SavedHeader::new("x-source", "test")],
            body: SavedBody::from_text("binary-ish \u{1} text"),
            mandatory: false,
            count: 3,
            timeout_ms: Some(2000),
        }),
    );
    let watch = SavedRequest::new(
        "Watch dead letters",
        SavedSpec::Watch(SavedWatch {
            url: "{{amqp_url}}".into(),
            mode: WatchMode::Peek,
            exchange: String::new(),
            binding: String::new(),
            queue: "order_queue.dead".into(),
            peek_limit: Some(10),
        }),
    );
    vec![http, grpc, amqp, watch]
}
