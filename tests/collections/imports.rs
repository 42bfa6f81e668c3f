//! Imports that must mean what curl, grpcurl and Postman mean, and exports that read back.

use super::*;

pub(super) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(super) fn loaded_http(root: &Path, rel: &str) -> SavedHttp {
    let loaded = Collection::load(root).unwrap();
    let item = loaded
        .item(rel)
        .unwrap_or_else(|| panic!("no {rel} in {:?}", loaded.items));
    match &item.file.ok().unwrap().spec {
        SavedSpec::Http(h) => h.clone(),
        other => panic!("{other:?}"),
    }
}

pub(super) fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn curl_sends_the_explicit_authorization_and_each_request_keeps_its_own_secret() {
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
pub(super) async fn curl_glued_options_and_url_encoded_data_are_sent_as_curl_sends_them() {
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
pub(super) async fn postman_v2_0_auth_parts_forms_json_scripts_and_secret_variables_import_and_run()
{
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
pub(super) fn a_postman_collection_that_imports_nothing_is_an_error() {
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
pub(super) async fn exported_curl_urls_are_encoded_as_switchboard_sends_them() {
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
pub(super) fn an_unreadable_folder_is_one_broken_entry_and_the_rest_still_runs() {
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
pub(super) fn a_two_thousand_request_postman_collection_imports_quickly() {
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
pub(super) fn multipart_parts(received: &common::echo::Received) -> Vec<(String, Vec<u8>)> {
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
