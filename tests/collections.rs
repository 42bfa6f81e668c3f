//! Collections on disk: round trips, corrupt and unknown-version files, crashes mid-save,
//! conflicts, secrets kept out of the folder, imports that run, and `switchboard run`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

#[test]
fn every_request_kind_round_trips_through_its_file() {
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    let mut secrets = sandbox.secrets();
    let mut raws = Vec::new();
    for (i, request) in one_of_each().iter().enumerate() {
        let rel = collection::free_rel(&root, &format!("folder{i}"), &request.name);
        let (saved, bytes) =
            collection::save_request(&root, &rel, request, OnDisk::Nothing, &mut secrets).unwrap();
        assert_eq!(&saved, request, "nothing secret here, nothing changed");
        raws.push((rel, bytes));
    }
    let loaded = Collection::load(&root).unwrap();
    assert_eq!(loaded.items.len(), 4);
    for ((rel, bytes), request) in raws.iter().zip(one_of_each()) {
        let item = loaded.item(rel).unwrap();
        assert_eq!(item.file.ok(), Some(&request), "{rel}");
        assert_eq!(item.file.raw(), Some(bytes.as_slice()));
        // Saving again what was loaded writes the very same bytes (stable diffs).
        assert_eq!(collection::to_file_bytes(&request), *bytes);
    }
    let text = String::from_utf8(raws[0].1.clone()).unwrap();
    assert!(
        text.starts_with("{\n  \"version\": 1,\n  \"name\": \"Get user\",\n  \"kind\": \"http\""),
        "{text}"
    );
    assert!(text.ends_with("}\n"));
}

#[test]
fn corrupt_and_unknown_version_files_are_reported_and_left_intact() {
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    let torn = b"{\n  \"version\": 1,\n  \"name\": \"half a fi".to_vec();
    let future =
        b"{\"version\": 9, \"name\": \"from the future\", \"kind\": \"teleport\"}\n".to_vec();
    std::fs::write(root.join("torn.json"), &torn).unwrap();
    std::fs::write(root.join("future.json"), &future).unwrap();
    let loaded = Collection::load(&root).unwrap();
    let reason = |rel: &str| match &loaded.item(rel).unwrap().file {
        Loaded::Broken { reason } => reason.clone(),
        other => panic!("{rel} loaded: {other:?}"),
    };
    assert!(
        reason("torn.json").contains("not valid JSON"),
        "{}",
        reason("torn.json")
    );
    assert!(
        reason("future.json").contains("version 9"),
        "{}",
        reason("future.json")
    );
    // Saving over them is refused: the app only writes where it knows what is on disk.
    let mut secrets = sandbox.secrets();
    let request = one_of_each().remove(0);
    for rel in ["torn.json", "future.json"] {
        let err = collection::save_request(&root, rel, &request, OnDisk::Nothing, &mut secrets)
            .unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
    }
    // A run reports them as failures (and a corrupt secret store is a warning, not a stop).
    let secrets_file = sandbox.data().join("secrets.json");
    std::fs::write(&secrets_file, b"{ not json").unwrap();
    let out = sandbox.switchboard(&["run", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("cannot read torn.json"), "{stdout}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("warning: secrets not used"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Writing credentials with a corrupt store is refused, and the store is left as it was.
    let out = sandbox.switchboard(&[
        "import",
        "curl",
        "curl -u a:b http://127.0.0.1:1/x",
        root.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    assert_eq!(std::fs::read(&secrets_file).unwrap(), b"{ not json");
    assert_eq!(std::fs::read(root.join("torn.json")).unwrap(), torn);
    assert_eq!(std::fs::read(root.join("future.json")).unwrap(), future);
}

#[test]
fn a_crash_between_write_and_rename_keeps_the_old_content() {
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    let mut secrets = sandbox.secrets();
    let request = one_of_each().remove(1);
    let (_, old) =
        collection::save_request(&root, "call.json", &request, OnDisk::Nothing, &mut secrets)
            .unwrap();
    let mut changed = request.clone();
    changed.name = "Changed".into();
    // The new content is written and synced to the temporary file, then the process "dies"
    // before the rename.
    let staged = Staged::write(
        &root.join("call.json"),
        &collection::to_file_bytes(&changed),
        None,
    )
    .unwrap();
    std::mem::forget(staged);
    assert_eq!(std::fs::read(root.join("call.json")).unwrap(), old);
    let leftovers: Vec<_> = files(&root)
        .into_iter()
        .filter(|(p, _)| p.file_name().unwrap().to_string_lossy().contains(".tmp-"))
        .collect();
    assert_eq!(leftovers.len(), 1, "the crash leaves its temporary file");
    let loaded = Collection::load(&root).unwrap();
    assert_eq!(loaded.items.len(), 1, "the leftover is not a request");
    assert_eq!(loaded.items[0].file.ok(), Some(&request));
}

#[test]
fn a_file_changed_on_disk_is_not_clobbered() {
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    let mut secrets = sandbox.secrets();
    let request = one_of_each().remove(0);
    let (_, loaded_bytes) =
        collection::save_request(&root, "r.json", &request, OnDisk::Nothing, &mut secrets).unwrap();
    // Another instance saves its own edit.
    let mut theirs = request.clone();
    theirs.name = "Theirs".into();
    let (_, their_bytes) = collection::save_request(
        &root,
        "r.json",
        &theirs,
        OnDisk::Bytes(&loaded_bytes),
        &mut secrets,
    )
    .unwrap();
    // Ours, based on what we loaded, is refused…
    let mut ours = request.clone();
    ours.name = "Ours".into();
    let err = collection::save_request(
        &root,
        "r.json",
        &ours,
        OnDisk::Bytes(&loaded_bytes),
        &mut secrets,
    )
    .unwrap_err();
    assert!(
        matches!(err, collection::CollectionError::Conflict { .. }),
        "{err}"
    );
    assert_eq!(std::fs::read(root.join("r.json")).unwrap(), their_bytes);
    // …and so are a rename and a delete based on the stale content.
    assert!(collection::move_file(&root, "r.json", "s.json", &loaded_bytes).is_err());
    assert!(collection::delete_file(&root, "r.json", &loaded_bytes).is_err());
    assert!(root.join("r.json").exists());
    // Overwriting is an explicit choice.
    collection::save_request(&root, "r.json", &ours, OnDisk::Any, &mut secrets).unwrap();
    collection::move_file(
        &root,
        "r.json",
        "sub/s.json",
        &std::fs::read(root.join("r.json")).unwrap(),
    )
    .unwrap();
    let loaded = Collection::load(&root).unwrap();
    assert_eq!(loaded.folders, vec!["sub".to_string()]);
    assert_eq!(loaded.items[0].rel, "sub/s.json");
    assert_eq!(loaded.items[0].name(), "Ours");
}

#[test]
fn secrets_never_reach_the_collection_folder() {
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    let mut secrets = sandbox.secrets();
    let mut requests = one_of_each();
    if let SavedSpec::Http(h) = &mut requests[0].spec {
        h.headers
            .push(SavedHeader::new("Authorization", "Bearer h77p-5ecret"));
    }
    if let SavedSpec::Grpc(g) = &mut requests[1].spec {
        g.metadata
            .push(SavedHeader::new("x-api-key", "gRPC-5ecret"));
    }
    if let SavedSpec::Amqp(a) = &mut requests[2].spec {
        a.url = "amqp://app:amqp-5ecret@127.0.0.1:5672/%2f".into();
    }
    if let SavedSpec::Watch(w) = &mut requests[3].spec {
        w.url = "amqp://app:watch-5ecret@127.0.0.1:5672/%2f".into();
    }
    let mut saved = Vec::new();
    for request in &requests {
        let rel = collection::free_rel(&root, "", &request.name);
        let (written, _) =
            collection::save_request(&root, &rel, request, OnDisk::Nothing, &mut secrets).unwrap();
        saved.push(written);
    }
    collection::save_environment(
        &root,
        "staging",
        &[
            Variable::new("base_url", "http://127.0.0.1:1"),
            Variable {
                name: "db_password".into(),
                value: "env-5ecret".into(),
                secret: true,
            },
        ],
        OnDisk::Nothing,
        &mut secrets,
    )
    .unwrap();
    for secret in [
        "h77p-5ecret",
        "gRPC-5ecret",
        "amqp-5ecret",
        "watch-5ecret",
        "env-5ecret",
    ] {
        assert_nowhere_in(&root, secret);
    }
    // They are in the owner-only secret store, and resolve when running.
    let store_path = sandbox.data().join("secrets.json");
    let store_text = std::fs::read_to_string(&store_path).unwrap();
    assert!(store_text.contains("amqp-5ecret") && store_text.contains("env-5ecret"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&store_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let loaded = Collection::load(&root).unwrap();
    let vars = loaded
        .vars(Some("staging"), &SecretStore::load(&store_path).unwrap())
        .unwrap();
    assert_eq!(vars.get("db_password").as_deref(), Some("env-5ecret"));
    let SavedSpec::Amqp(amqp) = &saved[2].spec else {
        panic!()
    };
    assert_eq!(
        amqp.url,
        "amqp://app:{{publish_amqp_password}}@127.0.0.1:5672/%2f"
    );
    let mut vars = vars;
    vars.set("amqp_url", "unused");
    let resolved = saved[0].substituted(&{
        let mut v = vars.clone();
        v.set("base_url", "http://h");
        v.set("user_id", "1");
        v
    });
    let SavedSpec::Http(h) = resolved.unwrap() else {
        panic!()
    };
    assert!(h.headers.iter().any(|h| h.value == "Bearer h77p-5ecret"));
    // The environment file lists the secret by name only.
    let env: Environment =
        serde_json::from_slice(&std::fs::read(root.join("environments/staging.json")).unwrap())
            .unwrap();
    assert_eq!(env.variables[1], Variable::secret("db_password"));
}

#[test]
fn unresolved_variables_are_named_before_anything_is_sent() {
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    let mut secrets = sandbox.secrets();
    collection::save_request(
        &root,
        "r.json",
        &one_of_each().remove(0),
        OnDisk::Nothing,
        &mut secrets,
    )
    .unwrap();
    let out = sandbox.switchboard(&["run", root.to_str().unwrap(), "--var", "user_id=1"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("unresolved variable {{base_url}}"),
        "{stdout}"
    );
}

/// Collection variables pointing at the demo as bound for this test.
fn demo_vars(demo: &demo_services::DemoServices) -> Vec<String> {
    vec![
        format!("base_url=http://{}", demo.config.user_http_addr),
        format!("grpc_addr={}", demo.config.user_grpc_addr),
        format!("order_url=http://{}", demo.config.order_http_addr),
        format!("amqp_url={}", common::amqp_url()),
        format!("orders_exchange={}", demo.config.topology.exchange),
    ]
}

fn with_vars(mut args: Vec<String>, vars: &[String]) -> Vec<String> {
    for v in vars {
        args.push("--var".into());
        args.push(v.clone());
    }
    args
}

async fn run_cli(sandbox_data: PathBuf, args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(&args)
            .env("SWITCHBOARD_DATA_DIR", sandbox_data)
            .output()
            .expect("run switchboard")
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_collection_passes_and_fails_when_a_service_stops() {
    let sandbox = Sandbox::new();
    let demo = common::start_demo().await;
    let vars = demo_vars(&demo);
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/collections/demo");
    let args = with_vars(
        vec![
            "run".into(),
            sample.into(),
            "--env".into(),
            "local".into(),
            "--json".into(),
        ],
        &vars,
    );
    let out = run_cli(sandbox.data(), args.clone()).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Six requests and one watch definition (skipped).
    assert_eq!(lines.len(), 7, "{stdout}");
    let by_file = |file: &str| {
        lines
            .iter()
            .find(|l| l["file"] == file)
            .unwrap_or_else(|| panic!("no line for {file}: {stdout}"))
    };
    let john = by_file("01-user-service/03-john-doe.json");
    assert_eq!(john["passed"], true);
    assert_eq!(john["status"], "200 OK");
    assert!(john["timeline"].as_array().unwrap().len() >= 3);
    assert_eq!(john["request"]["line"], "GET /user/1 HTTP/1.1");
    assert_eq!(john["checks"][1]["what"], "/name equals \"John Doe\"");
    assert_eq!(
        by_file("01-user-service/04-unknown-user.json")["status"],
        "NOT_FOUND"
    );
    assert_eq!(
        by_file("02-order-service/02-publish-order-created.json")["status"],
        "ack"
    );
    assert!(by_file("02-order-service/03-tap-orders.json")["skipped"].is_string());
    assert!(stderr.contains("6 passed, 0 failed, 1 skipped"), "{stderr}");

    // With the other environment, user 4 is looked up.
    let grace = run_cli(
        sandbox.data(),
        with_vars(
            vec![
                "run".into(),
                sample.into(),
                "--env=grace".into(),
                "--json".into(),
                "01-user-service/01-get-user-http.json".into(),
            ],
            &vars,
        ),
    )
    .await;
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&grace.stdout).trim()).unwrap();
    assert_eq!(line["request"]["line"], "GET /user/4 HTTP/1.1");

    // Stop the User Service: lookups fail, the run exits 1 and says which.
    let demo_services::DemoServices { user, order, .. } = demo;
    user.stop().await;
    let out = run_cli(
        sandbox.data(),
        with_vars(
            vec!["run".into(), sample.into(), "01-user-service".into()],
            &vars,
        ),
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("✘ Get user (HTTP)"), "{stdout}");
    assert!(stdout.contains("connection refused"), "{stdout}");
    order.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postman_curl_and_grpcurl_imports_run_against_the_demo() {
    let sandbox = Sandbox::new();
    let demo = common::start_demo().await;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import");
    let root = sandbox.collection();
    let root_s = root.to_str().unwrap().to_string();

    // Postman: folders, variables, bearer auth (kept as a secret), a form-data body.
    let out = run_cli(
        sandbox.data(),
        vec![
            "import".into(),
            "postman".into(),
            fixtures
                .join("demo.postman_collection.json")
                .to_str()
                .unwrap()
                .into(),
            root_s.clone(),
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // form-data is carried over: the file by its path (#18.13).
    assert!(!stderr.contains("formdata"), "{stderr}");
    let receipt = loaded_http(&root, "orders/upload-receipt.json");
    assert_eq!(
        receipt.form,
        [collection::saved::SavedFormPart::file(
            "file",
            "receipt.pdf"
        )]
    );
    let loaded = Collection::load(&root).unwrap();
    let rels: Vec<&str> = loaded.items.iter().map(|i| i.rel.as_str()).collect();
    assert_eq!(
        rels,
        [
            "orders/create-order.json",
            "orders/upload-receipt.json",
            "users/get-user-2.json",
            "users/get-user-by-string-url.json"
        ]
    );
    assert_eq!(loaded.name(), "Demo services (Postman)");
    let SavedSpec::Http(get2) = &loaded
        .item("users/get-user-2.json")
        .unwrap()
        .file
        .ok()
        .unwrap()
        .spec
    else {
        panic!()
    };
    assert!(!get2.headers[1].enabled, "disabled headers stay disabled");
    assert_eq!(get2.headers[2].value, "{{users_get_user_2_authorization}}");

    // curl and grpcurl command lines, pointed at this test's demo.
    let curl = std::fs::read_to_string(fixtures.join("place-order.curl"))
        .unwrap()
        .replace("127.0.0.1:8082", &demo.config.order_http_addr.to_string());
    let grpcurl = std::fs::read_to_string(fixtures.join("get-user.grpcurl"))
        .unwrap()
        .replace("127.0.0.1:50051", &demo.config.user_grpc_addr.to_string());
    for (tool, line) in [("curl", curl), ("grpcurl", grpcurl)] {
        let out = run_cli(
            sandbox.data(),
            vec![
                "import".into(),
                tool.into(),
                line,
                root_s.clone(),
                "--folder".into(),
                "pasted".into(),
            ],
        )
        .await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for secret in ["tok-postman-5ecret", "curl-5ecret-token"] {
        assert_nowhere_in(&root, secret);
    }

    let vars = vec![
        format!("base_url=http://{}", demo.config.user_http_addr),
        format!("order_url=http://{}", demo.config.order_http_addr),
    ];
    let out = run_cli(
        sandbox.data(),
        with_vars(
            vec![
                "run".into(),
                root_s.clone(),
                "--json".into(),
                // To see that the token came back from the secret store as sent.
                "--show-credentials".into(),
                "users".into(),
                "orders/create-order.json".into(),
                "pasted".into(),
            ],
            &vars,
        ),
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    let statuses: Vec<&str> = lines
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["201 Created", "OK", "201 Created", "200 OK", "200 OK"],
        "{stdout}"
    );
    // The bearer token came back from the secret store.
    let get2 = lines
        .iter()
        .find(|l| l["file"] == "users/get-user-2.json")
        .unwrap();
    let auth = get2["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| {
            h["name"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("authorization")
        })
        .unwrap();
    assert_eq!(auth["value"], "Bearer tok-postman-5ecret");
    let grpc = lines.iter().find(|l| l["transport"] == "grpc").unwrap();
    assert_eq!(grpc["response"]["body"]["name"], "Grace Hopper");

    // Export gives back command lines that import to the same requests.
    let exported = run_cli(
        sandbox.data(),
        vec![
            "export".into(),
            "curl".into(),
            root.join("pasted/post-orders.json")
                .to_str()
                .unwrap()
                .into(),
        ],
    )
    .await;
    let line = String::from_utf8(exported.stdout).unwrap();
    assert!(
        line.starts_with("curl -X POST") || line.starts_with("curl \\"),
        "{line}"
    );
    let again = import::curl(&line).unwrap();
    let original = Collection::load(&root).unwrap();
    assert_eq!(
        &again.spec,
        &original
            .item("pasted/post-orders.json")
            .unwrap()
            .file
            .ok()
            .unwrap()
            .spec
    );
    let wrong = run_cli(
        sandbox.data(),
        vec![
            "export".into(),
            "grpcurl".into(),
            root.join("pasted/post-orders.json")
                .to_str()
                .unwrap()
                .into(),
        ],
    )
    .await;
    assert_eq!(wrong.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&wrong.stderr).lines().count(), 1);
    demo.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Import and run fidelity: what is imported is what the server receives.

use common::echo::Echo;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn loaded_http(root: &Path, rel: &str) -> SavedHttp {
    let loaded = Collection::load(root).unwrap();
    let item = loaded
        .item(rel)
        .unwrap_or_else(|| panic!("no {rel} in {:?}", loaded.items));
    match &item.file.ok().unwrap().spec {
        SavedSpec::Http(h) => h.clone(),
        other => panic!("{other:?}"),
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_sends_the_explicit_authorization_and_each_request_keeps_its_own_secret() {
    let sandbox = Sandbox::new();
    let echo = Echo::start().await;
    let root = sandbox.collection();
    let root_s = root.to_str().unwrap();
    let base = echo.base_url();
    for line in [
        format!("curl -H 'Authorization: Bearer SECRET123' -u user:PASS456 {base}/user/1"),
        // Same derived name, another credential: it must not replace the first one.
        format!("curl -H 'Authorization: Bearer OTHER789' {base}/user/1"),
    ] {
        let out = run_cli(sandbox.data(), args(&["import", "curl", &line, root_s])).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let first = loaded_http(&root, "get-user-1.json");
    let second = loaded_http(&root, "get-user-1-2.json");
    assert_eq!(first.headers.len(), 1, "{first:?}");
    assert_ne!(first.headers[0].value, second.headers[0].value);
    for secret in ["SECRET123", "PASS456", "OTHER789"] {
        assert_nowhere_in(&root, secret);
    }
    let out = run_cli(sandbox.data(), args(&["run", root_s])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let received = echo.received();
    assert_eq!(received.len(), 2, "{received:#?}");
    // In file order: get-user-1-2.json, then get-user-1.json.
    assert_eq!(received[0].all("authorization"), ["Bearer OTHER789"]);
    assert_eq!(received[1].all("authorization"), ["Bearer SECRET123"]);

    // A request saved twice with two credentials of one name gets two variables.
    let mut secrets = sandbox.secrets();
    let mut twice = import::curl(&format!("curl {base}/cookies")).unwrap();
    if let SavedSpec::Http(h) = &mut twice.spec {
        h.headers.push(SavedHeader::new("Cookie", "a=1"));
        h.headers.push(SavedHeader::new("Cookie", "b=2"));
    }
    let (saved, _) =
        collection::save_request(&root, "cookies.json", &twice, OnDisk::Nothing, &mut secrets)
            .unwrap();
    let SavedSpec::Http(h) = &saved.spec else {
        panic!()
    };
    assert_eq!(h.headers[0].value, "{{cookies_cookie}}");
    assert_eq!(h.headers[1].value, "{{cookies_cookie_2}}");
    let store = sandbox.secrets();
    let key = SecretStore::key(&root);
    assert_eq!(store.get(&key, "*", "cookies_cookie"), Some("a=1"));
    assert_eq!(store.get(&key, "*", "cookies_cookie_2"), Some("b=2"));
    assert_eq!(
        store.get(&key, "*", "get_user_1_authorization"),
        Some("Bearer SECRET123")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_glued_options_and_url_encoded_data_are_sent_as_curl_sends_them() {
    let sandbox = Sandbox::new();
    let echo = Echo::start().await;
    let root = sandbox.collection();
    let root_s = root.to_str().unwrap();
    let base = echo.base_url();
    for line in [
        format!("curl -XPOST '-HX-Glued: yes' -dkey=value {base}/glued"),
        format!("curl -sXPUT {base}/put"),
        format!(
            "curl {base}/sms --data-urlencode 'To=+15551234567' --data-urlencode 'Body=a&b c' -d 'raw=+kept'"
        ),
        format!("curl -XPOST {base}/sms-var --data-urlencode 'To={{{{phone}}}}'"),
    ] {
        let out = run_cli(sandbox.data(), args(&["import", "curl", &line, root_s])).await;
        assert_eq!(out.status.code(), Some(0), "{line}: {}", text(&out.stderr));
    }
    let out = run_cli(
        sandbox.data(),
        args(&["run", root_s, "--var", "phone=+1 555&x"]),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let glued = echo.one("/glued");
    assert!(glued.line.starts_with("POST "), "{glued:?}");
    assert_eq!(glued.all("x-glued"), ["yes"]);
    assert_eq!(glued.body_text(), "key=value");
    assert!(echo.one("/put").line.starts_with("PUT "));
    assert_eq!(
        echo.one("/sms").body_text(),
        "To=%2B15551234567&Body=a%26b%20c&raw=+kept"
    );
    // A value from a variable is encoded when it is filled in.
    assert_eq!(echo.one("/sms-var").body_text(), "To=%2B1%20555%26x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postman_v2_0_auth_parts_forms_json_scripts_and_secret_variables_import_and_run() {
    let sandbox = Sandbox::new();
    let echo = Echo::start().await;
    let root = sandbox.collection();
    let root_s = root.to_str().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import/fidelity-v2.0.postman_collection.json");
    let out = run_cli(
        sandbox.data(),
        args(&["import", "postman", fixture.to_str().unwrap(), root_s]),
    )
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // Scripts: one warning each, counted in the summary, noted in the requests.
    assert!(
        stderr.contains("the collection: pre-request script not imported"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\"Bearer from a variable\": test script not imported"),
        "{stderr}"
    );
    assert!(
        stderr.contains("imported 7 request(s)") && stderr.contains("2 Postman script(s)"),
        "{stderr}"
    );
    let loaded = Collection::load(&root).unwrap();
    let token_request = loaded.item("bearer-from-a-variable.json").unwrap();
    assert_eq!(token_request.file.ok().unwrap().notes.len(), 2);
    // Secret-looking collection variables went to the store, by name only in the folder.
    for secret in [
        "fid-client-5ecret",
        "fid-apikey-5ecret",
        "fid-bearer-5ecret",
        "fid-basic-5ecret",
    ] {
        assert_nowhere_in(&root, secret);
    }
    let settings = std::fs::read_to_string(root.join("collection.json")).unwrap();
    assert!(
        settings.contains("fid-client\""),
        "client-id is not secret: {settings}"
    );
    // Stored as Postman would send them.
    let parts = loaded_http(&root, "url-from-parts.json");
    assert_eq!(parts.url, "{{base_url}}/v20/parts/x?a=1&flag");
    let json = loaded_http(&root, "json-body.json");
    assert!(
        json.headers
            .contains(&SavedHeader::new("Content-Type", "application/json")),
        "{json:?}"
    );
    let basic_vars = loaded_http(&root, "basic-from-variables.json");
    assert_eq!(
        basic_vars.headers[0].value,
        "Basic {{client-id}}:{{client-secret}}"
    );

    // Without {{token}} and {{phone}}, the requests that use them are not sent.
    let base = format!("base_url={}", echo.base_url());
    let out = run_cli(sandbox.data(), args(&["run", root_s, "--var", &base])).await;
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("unresolved variable {{token}}"), "{stdout}");
    assert!(stdout.contains("unresolved variable {{phone}}"), "{stdout}");
    assert!(
        echo.received()
            .iter()
            .all(|r| !r.target().contains("token"))
    );

    let out = run_cli(
        sandbox.data(),
        args(&[
            "run",
            root_s,
            "--var",
            &base,
            "--var",
            "token=tok-from-var",
            "--var",
            "phone=+1 (555)",
        ]),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let latest = |path: &str| {
        echo.received()
            .into_iter()
            .rev()
            .find(|r| r.target().starts_with(path))
            .unwrap_or_else(|| panic!("nothing received at {path}"))
    };
    assert_eq!(
        latest("/v20/bearer").all("authorization"),
        ["Bearer fid-bearer-5ecret"]
    );
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert_eq!(
        latest("/v20/basic").all("authorization"),
        [format!("Basic {}", b64("alice:fid-basic-5ecret"))]
    );
    assert_eq!(
        latest("/v20/basic-vars").all("authorization"),
        [format!("Basic {}", b64("fid-client:fid-client-5ecret"))]
    );
    assert_eq!(
        latest("/v20/token").all("authorization"),
        ["Bearer tok-from-var"]
    );
    assert_eq!(latest("/v20/parts").target(), "/v20/parts/x?a=1&flag");
    let form = latest("/v20/form");
    assert_eq!(form.body_text(), "To=%2B1%20%28555%29&Body=a%2Bb%20%26%20c");
    assert_eq!(
        form.all("content-type"),
        ["application/x-www-form-urlencoded"]
    );
    let json = latest("/v20/json");
    assert_eq!(json.all("content-type"), ["application/json"]);
    assert_eq!(json.body_text(), "{\"a\": 1}");

    // Exported, the JSON request keeps its content type.
    let out = sandbox.switchboard(&[
        "export",
        "curl",
        root.join("json-body.json").to_str().unwrap(),
    ]);
    assert!(
        text(&out.stdout).contains("-H 'Content-Type: application/json'"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_postman_collection_that_imports_nothing_is_an_error() {
    let sandbox = Sandbox::new();
    let root = sandbox.dir.join("empty-import");
    let file = sandbox.dir.join("nothing.json");
    std::fs::write(
        &file,
        r#"{"info": {"name": "N", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
            "item": [{"name": "no url", "request": {"method": "GET", "url": {}}}]}"#,
    )
    .unwrap();
    let out = sandbox.switchboard(&[
        "import",
        "postman",
        file.to_str().unwrap(),
        root.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("nothing imported") && stderr.contains("no url: no URL"),
        "{stderr}"
    );
    assert!(!root.exists(), "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_curl_urls_are_encoded_as_switchboard_sends_them() {
    let sandbox = Sandbox::new();
    let echo = Echo::start().await;
    let root = sandbox.collection();
    let mut secrets = sandbox.secrets();
    let request = SavedRequest::new(
        "Filter",
        SavedSpec::Http(SavedHttp {
            method: "GET".into(),
            url: format!(
                "{}/odata/Customers?$filter=(address eq 'Main St')&$top=5",
                echo.base_url()
            ),
            headers: Vec::new(),
            body: None,
            form: Vec::new(),
            timeout_ms: None,
            tls: SavedTls::default(),
        }),
    );
    collection::save_request(
        &root,
        "filter.json",
        &request,
        OnDisk::Nothing,
        &mut secrets,
    )
    .unwrap();
    let out = run_cli(sandbox.data(), args(&["run", root.to_str().unwrap()])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let sent = echo.one("/odata/Customers").target().to_string();
    let exported =
        sandbox.switchboard(&["export", "curl", root.join("filter.json").to_str().unwrap()]);
    let line = text(&exported.stdout);
    let again = import::curl(&line).unwrap();
    let SavedSpec::Http(h) = &again.spec else {
        panic!()
    };
    assert!(!h.url.contains([' ', '\'']), "{line}");
    assert_eq!(h.url, format!("{}{sent}", echo.base_url()), "{line}");
    // Real curl accepts it, when there is one to ask.
    if let Ok(status) = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "--globoff", &h.url])
        .status()
    {
        assert!(status.success(), "curl refused {}", h.url);
        assert_eq!(echo.received().len(), 2);
    }
}

/// Runs the binary so that a folder without permissions cannot be read: directly when this
/// process is bound by permissions, else (root) as `nobody`.
#[cfg(unix)]
#[test]
fn an_unreadable_folder_is_one_broken_entry_and_the_rest_still_runs() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    // Everyone may read the sandbox (it is run as another user when we are root).
    for dir in [&sandbox.dir, &root, &sandbox.data()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::Builder::new()
        .name("one-reply".into())
        .spawn(move || {
            use std::io::{Read, Write};
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        })
        .unwrap();
    let mut secrets = sandbox.secrets();
    let request = import::curl(&format!("curl http://{addr}/after")).unwrap();
    collection::save_request(
        &root,
        "z-after.json",
        &request,
        OnDisk::Nothing,
        &mut secrets,
    )
    .unwrap();
    let locked = root.join("a-locked");
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::write(locked.join("hidden.json"), b"{}").unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let bypassed = std::fs::read_dir(&locked).is_ok();
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .args(["run", root.to_str().unwrap()])
        .env("SWITCHBOARD_DATA_DIR", sandbox.data());
    if bypassed {
        command.uid(65534).gid(65534);
    }
    let out = command.output().unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("cannot read a-locked: folder not readable: Permission denied"),
        "{stdout}\n{stderr}"
    );
    assert_eq!(
        stdout.matches("Permission denied").count(),
        1,
        "said once: {stdout}"
    );
    assert!(stdout.contains("✔ GET /after"), "{stdout}\n{stderr}");
    assert!(stderr.contains("1 passed, 1 failed"), "{stderr}");
    assert!(server.join().unwrap().starts_with("GET /after"));
}

/// A real-sized Postman collection (2,000 requests, each with a credential and a script)
/// imports in well under the 2 s budget: the secret store is written once, not per request,
/// and the files are synced after all are written. (Debug build on a shared machine: the
/// bound leaves room; the release CLI takes a fraction of it.)
#[test]
fn a_two_thousand_request_postman_collection_imports_quickly() {
    let sandbox = Sandbox::new();
    let root = sandbox.dir.join("big");
    let folders: Vec<serde_json::Value> = (0..20)
        .map(|f| {
            let items: Vec<serde_json::Value> = (0..100)
                .map(|i| {
                    serde_json::json!({
                        "name": format!("Request {i}"),
                        "event": [{"listen": "test", "script": {"exec": ["pm.test('ok')"]}}],
                        "request": {
                            "method": "POST",
                            "auth": {"type": "bearer", "bearer": [{"key": "token", "value": format!("tok-{f}-{i}")}]},
                            "header": [{"key": "X-Api-Key", "value": format!("key-{f}-{i}")}],
                            "body": {"mode": "raw", "raw": "{\"a\": 1}", "options": {"raw": {"language": "json"}}},
                            "url": {"host": ["{{base_url}}"], "path": ["f", f.to_string(), "r", i.to_string()]}
                        }
                    })
                })
                .collect();
            serde_json::json!({"name": format!("Folder {f}"), "item": items})
        })
        .collect();
    let collection = serde_json::json!({
        "info": {"name": "Big", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "item": folders,
    });
    let started = std::time::Instant::now();
    let imported = import::postman(&collection.to_string()).unwrap();
    let mut secrets = sandbox.secrets();
    let mut reports = Vec::new();
    let written = import::write_into_counted(&root, &imported, &mut secrets, &mut |n, total| {
        reports.push((n, total))
    })
    .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(written.len(), 2000);
    // What the app's import dialog shows: 0 of 2000, then each file as it is written.
    assert_eq!(reports.len(), 2001);
    assert!(reports.iter().all(|&(_, total)| total == 2000));
    assert!(reports.windows(2).all(|w| w[1].0 == w[0].0 + 1));
    assert_eq!(reports.last(), Some(&(2000, 2000)));
    assert_eq!(imported.scripts_dropped, 2000);
    assert!(
        elapsed < std::time::Duration::from_secs(4),
        "2,000 requests imported in {elapsed:?}"
    );
    eprintln!("2,000 requests imported in {elapsed:?}");
    let store = sandbox.secrets();
    let key = SecretStore::key(&root);
    assert_eq!(
        store.get(&key, "*", "folder_19_request_99_x_api_key"),
        Some("key-19-99")
    );
    assert_eq!(Collection::load(&root).unwrap().items.len(), 2000);
}

/// The parts of a multipart body: (part headers, part bytes), split at the boundary its
/// Content-Type names.
fn multipart_parts(received: &common::echo::Received) -> Vec<(String, Vec<u8>)> {
    let content_type = received.all("content-type").join("");
    let boundary = content_type
        .split_once("multipart/form-data; boundary=")
        .map(|(_, b)| b.to_string())
        .unwrap_or_else(|| panic!("not multipart: {content_type:?}"));
    let delimiter = format!("\r\n--{boundary}");
    // Prefixing CRLF makes every delimiter, the first one included, look alike.
    let mut body = b"\r\n".to_vec();
    body.extend_from_slice(&received.body);
    let mut parts = Vec::new();
    let mut rest: &[u8] = &body;
    loop {
        let at = rest
            .windows(delimiter.len())
            .position(|w| w == delimiter.as_bytes())
            .expect("a delimiter");
        if !parts.is_empty() || at > 0 {
            let chunk = &rest[..at];
            let split = chunk
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("part headers end");
            parts.push((
                String::from_utf8(chunk[..split].to_vec()).unwrap(),
                chunk[split + 4..].to_vec(),
            ));
        }
        rest = &rest[at + delimiter.len()..];
        if rest.starts_with(b"--") {
            assert_eq!(rest, b"--\r\n", "the close delimiter ends the body");
            return parts;
        }
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after a delimiter");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_forms_import_from_curl_and_postman_run_and_export_with_files_by_path() {
    let sandbox = Sandbox::new();
    let echo = Echo::start().await;
    let root = sandbox.collection();
    let root_s = root.to_str().unwrap();
    let base = echo.base_url();
    std::fs::create_dir_all(root.join("files")).unwrap();
    std::fs::write(root.join("files/report.csv"), "a,b\n1,2\n").unwrap();
    // Binary, with a CRLF and a would-be delimiter inside.
    let logo: Vec<u8> = [
        &[0x89, b'P', b'N', b'G', 0, b'\r', b'\n'][..],
        b"--x\r\n\xff",
    ]
    .concat();
    std::fs::write(root.join("files/logo.png"), &logo).unwrap();

    let line = format!(
        "curl -F title=Quarterly -F 'report=@files/report.csv;type=text/csv' -F 'logo=@files/logo.png;filename=brand.png' -F 'note={{{{note}}}}' --form-string 'at=@home' {base}/upload"
    );
    let out = run_cli(
        sandbox.data(),
        args(&["import", "curl", &line, root_s, "--name", "upload"]),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let postman = serde_json::json!({
        "info": {"name": "Forms", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "item": [{
            "name": "Postman form",
            "request": {
                "method": "POST",
                "url": {"raw": "{{base}}/postman-form"},
                "body": {"mode": "formdata", "formdata": [
                    {"key": "kind", "value": "report", "type": "text"},
                    {"key": "attachment", "type": "file", "src": "files/report.csv"},
                    {"key": "skip", "value": "me", "type": "text", "disabled": true}
                ]}
            }
        }]
    });
    let postman_file = sandbox.dir.join("forms.postman_collection.json");
    std::fs::write(&postman_file, postman.to_string()).unwrap();
    let out = run_cli(
        sandbox.data(),
        args(&["import", "postman", postman_file.to_str().unwrap(), root_s]),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Files are referenced by path, never copied in; the format stays version 1.
    let saved = std::fs::read_to_string(root.join("upload.json")).unwrap();
    assert!(saved.contains("\"file\": \"files/report.csv\""), "{saved}");
    assert!(!saved.contains("1,2"), "{saved}");
    assert!(saved.contains("\"version\": 1"), "{saved}");

    let out = run_cli(
        sandbox.data(),
        args(&[
            "run",
            root_s,
            "--var",
            "note=hello",
            "--var",
            &format!("base={base}"),
        ]),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    let upload = echo.one("/upload");
    assert!(upload.line.starts_with("POST "), "{upload:?}");
    let parts = multipart_parts(&upload);
    let headers: Vec<&str> = parts.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(
        headers,
        [
            "Content-Disposition: form-data; name=\"title\"",
            "Content-Disposition: form-data; name=\"report\"; filename=\"report.csv\"\r\nContent-Type: text/csv",
            "Content-Disposition: form-data; name=\"logo\"; filename=\"brand.png\"\r\nContent-Type: image/png",
            "Content-Disposition: form-data; name=\"note\"",
            "Content-Disposition: form-data; name=\"at\"",
        ]
    );
    let bodies: Vec<&[u8]> = parts.iter().map(|(_, b)| b.as_slice()).collect();
    assert_eq!(
        bodies,
        [&b"Quarterly"[..], b"a,b\n1,2\n", &logo, b"hello", b"@home"]
    );
    let from_postman = multipart_parts(&echo.one("/postman-form"));
    assert_eq!(from_postman.len(), 2, "{from_postman:?}");
    assert_eq!(
        from_postman[1].0,
        "Content-Disposition: form-data; name=\"attachment\"; filename=\"report.csv\"\r\nContent-Type: text/csv"
    );
    assert_eq!(from_postman[1].1, b"a,b\n1,2\n");

    // Export as curl -F, and back: the same form.
    let upload_file = root.join("upload.json");
    let out = run_cli(
        sandbox.data(),
        args(&["export", "curl", upload_file.to_str().unwrap()]),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let exported = text(&out.stdout);
    assert!(
        exported.contains("-F 'report=@files/report.csv;type=text/csv'"),
        "{exported}"
    );
    assert!(exported.contains("--form-string 'at=@home'"), "{exported}");
    let again = import::curl(&exported).unwrap();
    let SavedSpec::Http(again) = again.spec else {
        panic!()
    };
    assert_eq!(again.form, loaded_http(&root, "upload.json").form);

    // A missing file is an error that names it, and nothing is sent.
    std::fs::remove_file(root.join("files/logo.png")).unwrap();
    let out = run_cli(
        sandbox.data(),
        args(&[
            "run",
            root_s,
            "--var",
            "note=x",
            "--var",
            &format!("base={base}"),
        ]),
    )
    .await;
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("logo.png"),
        "{}",
        text(&out.stdout)
    );
    let uploads = echo
        .received()
        .iter()
        .filter(|r| r.target() == "/upload")
        .count();
    assert_eq!(uploads, 1, "the failed upload sent nothing");
}

/// The CLI tightens an existing data directory to 0700 when it writes the secret store.
#[cfg(unix)]
#[test]
fn the_cli_makes_the_data_directory_owner_only_when_it_writes_secrets() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    std::fs::set_permissions(sandbox.data(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = sandbox.switchboard(&[
        "import",
        "curl",
        "curl -H 'Authorization: Bearer cli-5ecret' http://127.0.0.1:1/x",
        root.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = std::fs::read_to_string(sandbox.data().join("secrets.json")).unwrap();
    assert!(store.contains("cli-5ecret"));
    let mode = std::fs::metadata(sandbox.data())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

/// Regression (hostile run): a symbolic link to a device or a FIFO in a collection (both can
/// arrive with a cloned repository) is a broken entry, not an endless read or a hang; the
/// rest of the folder loads and runs.
#[test]
fn devices_fifos_and_huge_files_in_a_collection_are_broken_entries() {
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    std::os::unix::fs::symlink("/dev/zero", root.join("04-zero.json")).unwrap();
    let fifo = root.join("03-fifo.json");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let huge = std::fs::File::create(root.join("05-huge.json")).unwrap();
    huge.set_len(collection::MAX_FILE_BYTES + 1).unwrap();
    drop(huge);
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let loader = root.clone();
    std::thread::Builder::new()
        .name("load".into())
        .spawn(move || {
            let _ = tx.send(Collection::load(&loader).map(|c| {
                c.items
                    .iter()
                    .map(|i| match &i.file {
                        Loaded::Broken { reason } => (i.rel.clone(), reason.clone()),
                        other => (i.rel.clone(), format!("loaded: {other:?}")),
                    })
                    .collect::<Vec<_>>()
            }));
        })
        .unwrap();
    let items = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the collection loads without hanging")
        .unwrap();
    let reason = |rel: &str| {
        items
            .iter()
            .find(|(r, _)| r == rel)
            .map(|(_, reason)| reason.clone())
            .unwrap_or_else(|| panic!("{rel} not listed: {items:?}"))
    };
    assert_eq!(reason("04-zero.json"), "not a regular file");
    assert_eq!(reason("03-fifo.json"), "not a regular file");
    assert!(reason("05-huge.json").contains("larger than"), "{items:?}");
}
