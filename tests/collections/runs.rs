//! Running collections: unresolved variables, the sample collection against the demo, imports run against the demo.

use super::*;

#[test]
pub(super) fn unresolved_variables_are_named_before_anything_is_sent() {
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
pub(super) fn demo_vars(demo: &demo_services::DemoServices) -> Vec<String> {
    vec![
        format!("base_url=http://{}", demo.config.user_http_addr),
        format!("grpc_addr={}", demo.config.user_grpc_addr),
        format!("order_url=http://{}", demo.config.order_http_addr),
        format!("amqp_url={}", common::amqp_url()),
        format!("orders_exchange={}", demo.config.topology.exchange),
    ]
}

pub(super) fn with_vars(mut args: Vec<String>, vars: &[String]) -> Vec<String> {
    for v in vars {
        args.push("--var".into());
        args.push(v.clone());
    }
    args
}

pub(super) async fn run_cli(sandbox_data: PathBuf, args: Vec<String>) -> Output {
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
pub(super) async fn the_sample_collection_passes_and_fails_when_a_service_stops() {
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
pub(super) async fn postman_curl_and_grpcurl_imports_run_against_the_demo() {
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
