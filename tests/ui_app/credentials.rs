//! Credentials: what the app writes where, and what comes back at launch.

use super::*;

/// What eframe's file storage holds, written to the state file location when flushed (as eframe
/// does when the window closes).
pub(super) struct StateFile {
    path: std::path::PathBuf,
    kv: std::collections::BTreeMap<String, String>,
}

impl eframe::Storage for StateFile {
    fn get_string(&self, key: &str) -> Option<String> {
        self.kv.get(key).cloned()
    }

    fn set_string(&mut self, key: &str, value: String) {
        self.kv.insert(key.to_string(), value);
    }

    fn remove_string(&mut self, key: &str) {
        self.kv.remove(key);
    }

    fn flush(&mut self) {
        // eframe truncates and rewrites the file it was given, keeping its mode.
        std::fs::write(&self.path, format!("{:?}", self.kv)).unwrap();
    }
}

/// Every file under `dir`, recursively.
pub(super) fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[cfg(unix)]
pub(super) fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A `{{switchboard_editor_…}}` reference typed into an editor, or planted in settings.json
/// while the app is closed, stays text: only the fields the app itself moved out are filled
/// back, so no secret ends up in a field the detector does not flag (and from there in clear in
/// settings.json and the history).
#[test]
pub(super) fn only_the_references_the_app_made_are_filled_back_at_launch() {
    use switchboard::engine::fields::SavedHeader as KeyValue;
    let data = temp_data_dir();
    let window = switchboard::ui::state::window_state_path(&data, None);
    let mut storage = StateFile {
        path: window,
        kv: Default::default(),
    };
    let typed = "{{switchboard_editor_grpc_authorization}}";
    let planted = "{{switchboard_editor_amqp_password}}";
    {
        let app = start_app_in(data.clone());
        let mut app = app;
        let s = &mut app.harness.state_mut().settings;
        s.editors.grpc.metadata = vec![switchboard::engine::fields::SavedHeader::new(
            "authorization",
            "Bearer grpc-5ecret",
        )];
        s.editors.amqp.url = "amqp://guest:amqp-5ecret@127.0.0.1:5672/%2f".into();
        s.editors.http.headers = vec![KeyValue::new("X-Leak", typed)];
        app.close(&mut storage);
    }
    // Planted while the app is closed.
    let path = data.join("settings.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    json["amqp"]["headers"].as_array_mut().unwrap().push(
        serde_json::to_value(switchboard::engine::fields::SavedHeader::new(
            "X-Debug", planted,
        ))
        .unwrap(),
    );
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    {
        let app = start_app_in(data.clone());
        let s = &app.harness.state().settings;
        assert_eq!(s.editors.http.headers[0].value, typed);
        assert_eq!(s.editors.amqp.headers.last().unwrap().value, planted);
        // What the app moved out itself comes back.
        assert_eq!(s.editors.grpc.metadata[0].value, "Bearer grpc-5ecret");
        assert!(
            s.editors.amqp.url.contains("guest:amqp-5ecret@"),
            "{}",
            s.editors.amqp.url
        );
        app.close(&mut storage);
    }
    let settings = std::fs::read_to_string(&path).unwrap();
    assert!(!settings.contains("5ecret"), "{settings}");
    assert!(settings.contains(typed) && settings.contains(planted));
    let _ = std::fs::remove_dir_all(&data);
}

#[cfg(unix)]
#[test]
pub(super) fn credentials_sent_from_every_editor_stay_out_of_every_file_but_the_secret_store() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let data = temp_data_dir();
    // Where `ui::run` points eframe's persistence (kittest has no window to persist).
    let window = switchboard::ui::state::window_state_path(&data, None);
    let mut storage = StateFile {
        path: window.clone(),
        kv: Default::default(),
    };
    // Bearer tokens, basic credentials (their base64 and the password inside), URL passwords.
    let secrets = [
        "http-bearer-5ecret",
        "http-basic-5ecret",
        &b64("alice:http-basic-5ecret"),
        "http-url-5ecret",
        "grpc-bearer-5ecret",
        "grpc-basic-5ecret",
        &b64("carol:grpc-basic-5ecret"),
        "grpc-url-5ecret",
        "amqp-bearer-5ecret",
        "amqp-basic-5ecret",
        &b64("dave:amqp-basic-5ecret"),
        "amqp-url-5ecret",
    ]
    .map(str::to_string);
    {
        let mut app = start_app_in(data.clone());
        let config = app.harness.state().demo_config().unwrap().clone();
        {
            let s = &mut app.harness.state_mut().settings;
            s.editors.http.url = format!(
                "http://bob:http-url-5ecret@{}/user/1",
                config.user_http_addr
            );
            s.editors.http.headers = vec![
                switchboard::engine::fields::SavedHeader::new(
                    "Authorization",
                    "Bearer http-bearer-5ecret",
                ),
                switchboard::engine::fields::SavedHeader::new(
                    "Proxy-Authorization",
                    format!("Basic {}", b64("alice:http-basic-5ecret")),
                ),
            ];
            s.editors.grpc.addr = format!("http://carol:grpc-url-5ecret@{}", config.user_grpc_addr);
            s.editors.grpc.metadata = vec![
                switchboard::engine::fields::SavedHeader::new(
                    "authorization",
                    "Bearer grpc-bearer-5ecret",
                ),
                switchboard::engine::fields::SavedHeader::new(
                    "proxy-authorization",
                    format!("Basic {}", b64("carol:grpc-basic-5ecret")),
                ),
            ];
            // The broker refuses this password: the failed publish is recorded all the same.
            s.editors.amqp.url = "amqp://guest:amqp-url-5ecret@127.0.0.1:5672/%2f".to_string();
            s.editors.amqp.headers = vec![
                switchboard::engine::fields::SavedHeader::new(
                    "authorization",
                    "Bearer amqp-bearer-5ecret",
                ),
                switchboard::engine::fields::SavedHeader::new(
                    "proxy-authorization",
                    format!("Basic {}", b64("dave:amqp-basic-5ecret")),
                ),
            ];
        }
        app.click("HTTP");
        app.send_and_wait("Send");
        // The exchange shown in the app keeps what was sent.
        let shown = app
            .harness
            .state()
            .selected_entry()
            .unwrap()
            .exchange
            .clone();
        assert_eq!(shown.status.as_deref(), Some("200 OK"));
        assert!(
            shown
                .request
                .headers
                .iter()
                .any(|h| h.value == "Bearer http-bearer-5ecret")
        );
        app.click("gRPC");
        app.send_and_wait("Send");
        assert_eq!(
            app.harness
                .state()
                .selected_entry()
                .unwrap()
                .exchange
                .status
                .as_deref(),
            Some("OK")
        );
        app.click("AMQP");
        app.send_and_wait("Publish");
        let history = data.join("history.jsonl");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&history).map_or(0, |t| t.lines().count()) < 3 {
            assert!(Instant::now() < deadline, "history never written");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The Settings window says what is kept where.
        app.click("Settings");
        app.assert_shown("Keep them in the secret store");
        app.assert_shown("Keep credentials in clear in the history file");
        app.close(&mut storage);
    }
    let store = std::fs::read_to_string(data.join("secrets.json")).unwrap();
    for file in files_under(&data) {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        if file.file_name().is_some_and(|n| n == "secrets.json") {
            continue;
        }
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{secret} in {}:\n{text}",
                file.display()
            );
        }
    }
    // The editors' credentials went to the secret store, whole.
    for kept in [
        "Bearer http-bearer-5ecret",
        "http-url-5ecret",
        "Bearer grpc-bearer-5ecret",
        "grpc-url-5ecret",
        "amqp-url-5ecret",
    ] {
        assert!(store.contains(kept), "{kept} not in the store: {store}");
    }
    // The history says what was masked.
    let history = std::fs::read_to_string(data.join("history.jsonl")).unwrap();
    assert!(history.contains("Bearer •••• (redacted)"), "{history}");
    assert!(history.contains("bob:••••@"), "{history}");
    // Owner-only: the data directory, and every file holding request data.
    assert_eq!(mode(&data), 0o700);
    for name in ["settings.json", "history.jsonl", "secrets.json", "app.ron"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    assert_eq!(window, data.join("app.ron"));

    // Restarted, the editors have their credentials back (from the secret store); the history
    // has them masked.
    let mut app = start_app_in(data.clone());
    app.wait_until("the history to load", |a| {
        a.history_view().history.len() == 3
    });
    let s = &app.harness.state().settings;
    assert!(
        s.editors.http.url.contains("bob:http-url-5ecret@"),
        "{}",
        s.editors.http.url
    );
    assert_eq!(s.editors.http.headers[0].value, "Bearer http-bearer-5ecret");
    assert_eq!(
        s.editors.grpc.metadata[1].value,
        format!("Basic {}", b64("carol:grpc-basic-5ecret"))
    );
    assert!(
        s.editors.grpc.addr.contains("carol:grpc-url-5ecret@"),
        "{}",
        s.editors.grpc.addr
    );
    assert_eq!(
        s.editors.amqp.url,
        "amqp://guest:amqp-url-5ecret@127.0.0.1:5672/%2f"
    );
    assert_eq!(s.editors.amqp.headers[0].value, "Bearer amqp-bearer-5ecret");
    let first = app.harness.state().history_view().history[0].clone();
    assert_eq!(
        first.exchange.request.headers[0].value,
        "Bearer •••• (redacted)"
    );
    // Opened in the editor, a masked request says so.
    app.harness.state_mut().select_entry(first.seq);
    app.harness.step();
    app.click("Open in editor");
    app.assert_shown("credentials masked");

    // Told to forget them, the app keeps no editor credential at all.
    app.click("Settings");
    app.click("Forget them (type them again after a restart)");
    app.harness.state_mut().settings.editors.http.headers[0].value =
        "Bearer http-bearer-5ecret".into();
    app.close(&mut storage);
    let store = std::fs::read_to_string(data.join("secrets.json")).unwrap();
    assert!(!store.contains("5ecret"), "{store}");
    let settings = std::fs::read_to_string(data.join("settings.json")).unwrap();
    assert!(!settings.contains("5ecret"), "{settings}");
    let _ = std::fs::remove_dir_all(&data);
}
