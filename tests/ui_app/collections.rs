//! Collections from the app: save, rename, environments, history, move/delete, watches, imports, runs, reload.

use super::*;

pub(super) fn saved_file(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
pub(super) fn save_writes_the_editor_to_a_file_marks_unsaved_changes_and_asks_on_conflict() {
    let mut app = start_app();
    let root = app.demo_collection();
    app.click("HTTP");
    app.click("Save to collection…");
    app.replace_text("Request name", "My lookup");
    app.click("Save");
    app.wait_until("the request to be saved", |a| {
        a.collections().active.contains_key(&EditorKind::Http)
    });
    assert_eq!(
        app.active_rel(EditorKind::Http).as_deref(),
        Some("my-lookup.json")
    );
    let file = root.join("my-lookup.json");
    let saved = saved_file(&file);
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["name"], "My lookup");
    assert_eq!(saved["kind"], "http");
    assert_eq!(saved["headers"][0]["name"], "Accept");
    app.assert_shown("My lookup");
    app.assert_not_shown("* unsaved");

    // An edit marks the editor unsaved; Save writes it and clears the marker.
    app.type_into("URL", "?x=1");
    app.assert_shown("* unsaved");
    app.click("Save");
    app.wait_until("the edit to be saved", |a| !a.is_dirty(EditorKind::Http));
    assert!(
        saved_file(&file)["url"]
            .as_str()
            .unwrap()
            .ends_with("/user/1?x=1")
    );
    app.assert_not_shown("* unsaved");

    // Another program changes the file: saving over it asks first.
    let mut theirs = saved_file(&file);
    theirs["name"] = "Changed elsewhere".into();
    std::fs::write(&file, serde_json::to_vec_pretty(&theirs).unwrap()).unwrap();
    app.type_into("URL", "&y=2");
    app.click("Save");
    app.wait_until("the conflict dialog", |a| {
        matches!(
            a.collections().dialog,
            Some(switchboard::ui::app::collections::Dialog::Conflict { .. })
        )
    });
    app.assert_shown("Changed on disk");
    assert_eq!(
        saved_file(&file)["name"],
        "Changed elsewhere",
        "nothing clobbered yet"
    );
    app.click("Overwrite");
    app.wait_until("the overwrite", |a| !a.is_dirty(EditorKind::Http));
    let ours = saved_file(&file);
    assert_eq!(ours["name"], "My lookup");
    assert!(ours["url"].as_str().unwrap().ends_with("?x=1&y=2"));
}

#[test]
pub(super) fn rename_renames_the_request_and_its_file() {
    let mut app = start_app();
    let root = app.demo_collection();
    let old = root.join("01-user-service/03-john-doe.json");
    let before = saved_file(&old);
    app.click("User 1 is John Doe");
    assert_eq!(
        app.active_rel(EditorKind::Http).as_deref(),
        Some("01-user-service/03-john-doe.json")
    );
    app.click("Rename…");
    app.replace_text("New name", "First user");
    app.click("Rename");
    app.wait_for_rel(EditorKind::Http, "01-user-service/03-first-user.json");
    assert!(!old.exists(), "the old file is gone");
    let renamed = saved_file(&root.join("01-user-service/03-first-user.json"));
    assert_eq!(renamed["name"], "First user");
    // Everything else is kept, expectations included.
    assert_eq!(renamed["expect"], before["expect"]);
    assert_eq!(renamed["url"], before["url"]);
    app.wait_until("the tree to show the new name", |a| {
        a.collections().opened[0]
            .collection
            .as_ref()
            .and_then(|c| c.as_ref().ok())
            .is_some_and(|c| c.items.iter().any(|i| i.name() == "First user"))
    });
    app.assert_shown("First user");
    app.assert_not_shown("User 1 is John Doe");
}

#[test]
pub(super) fn the_environment_switcher_changes_what_is_sent_and_unresolved_variables_block_sending()
{
    use egui::accesskit::Role;
    let mut app = start_app();
    let root = app.demo_collection();
    app.click("Get user (HTTP)");
    assert_eq!(
        app.harness.state().settings.editors.http.url,
        "{{base_url}}/user/{{user_id}}"
    );
    // `local` is chosen by default: user 1 (base_url points at this test's demo).
    app.send_and_wait("Send");
    let target = |app: &TestApp| {
        app.harness
            .state()
            .selected_entry()
            .unwrap()
            .exchange
            .target
            .clone()
    };
    assert!(target(&app).ends_with("/user/1"), "{}", target(&app));
    assert_eq!(
        app.harness
            .state()
            .selected_entry()
            .unwrap()
            .exchange
            .status
            .as_deref(),
        Some("200 OK")
    );

    app.harness
        .get_by_role_and_label(Role::ComboBox, "Environment")
        .click();
    app.harness.step();
    app.harness.step();
    app.click("grace");
    assert_eq!(
        app.harness.state().environment_of(&root).as_deref(),
        Some("grace")
    );
    app.send_and_wait("Send");
    assert!(target(&app).ends_with("/user/4"), "{}", target(&app));
    app.assert_shown("Grace Hopper");

    // A variable nobody defines is flagged, and nothing is sent.
    app.type_into("URL", "?token={{api_token}}");
    app.assert_shown("Unresolved: {{api_token}}");
    let before = app.harness.state().history_view().history.len();
    app.click("Send");
    app.harness.step();
    assert_eq!(app.harness.state().history_view().history.len(), before);
    match app.harness.state().outcome(TransportTab::Http) {
        Some(EditorOutcome::Failed(m)) => assert!(m.contains("{{api_token}}"), "{m}"),
        other => panic!("expected the unresolved variable to be reported: {other:?}"),
    }
}

#[test]
pub(super) fn history_survives_a_restart_and_reopens_its_request() {
    let data = temp_data_dir();
    {
        let mut app = start_app_in(data.clone());
        app.click("User 1 is John Doe");
        app.send_and_wait("Send");
        // The writer thread appends it to the history file.
        let path = data.join("history.jsonl");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&path).map_or(0, |t| t.lines().count()) < 1 {
            assert!(Instant::now() < deadline, "history never written");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let mut app = start_app_in(data);
    app.wait_until("the history to load", |a| {
        a.history_view().history.len() == 1
    });
    let entry = app.harness.state().history_view().history[0].clone();
    assert!(entry.exchange.target.ends_with("/user/1"));
    assert_eq!(entry.request.as_ref().unwrap().name, "User 1 is John Doe");
    // Searchable…
    app.type_into("Search", "no such thing");
    app.assert_not_shown("HTTP GET 200 OK");
    app.replace_text("Search", "user/1");
    app.assert_shown("HTTP GET 200 OK");
    // …and re-openable: the request goes back into the editor.
    app.harness.state_mut().settings.editors.http.url = "http://elsewhere/".into();
    app.harness.state_mut().select_entry(entry.seq);
    app.harness.step();
    app.click("Open in editor");
    assert_eq!(
        app.harness.state().settings.editors.http.url,
        "{{base_url}}/user/1"
    );
}

#[test]
pub(super) fn move_and_delete_act_on_the_files_and_delete_asks_first() {
    let mut app = start_app();
    let root = app.demo_collection();
    app.click("Get user (gRPC)");
    assert_eq!(
        app.active_rel(EditorKind::Grpc).as_deref(),
        Some("01-user-service/02-get-user-grpc.json")
    );
    app.click("Move…");
    app.replace_text("Folder", "02-order-service");
    app.click("Move");
    app.wait_for_rel(EditorKind::Grpc, "02-order-service/02-get-user-grpc.json");
    assert!(!root.join("01-user-service/02-get-user-grpc.json").exists());
    let moved = root.join("02-order-service/02-get-user-grpc.json");
    assert!(moved.exists());

    app.click("Delete…");
    app.assert_shown("Delete “Get user (gRPC)”?");
    assert!(moved.exists(), "nothing deleted before confirming");
    app.click("Delete");
    app.wait_until("the delete", |a| {
        !a.collections().active.contains_key(&EditorKind::Grpc)
    });
    assert!(!moved.exists());
    // The editor keeps what it held, now as an unsaved request.
    assert_eq!(
        app.harness.state().settings.editors.grpc.method,
        "user.UserService/GetUserInfo"
    );
    app.assert_shown("Unsaved gRPC request");
}

#[test]
pub(super) fn a_saved_watch_opens_in_the_viewer_and_starts_with_its_variables() {
    let mut app = start_app();
    app.click("Tap order events");
    assert_eq!(
        app.harness.state().settings.view,
        switchboard::ui::settings::MainView::Messages
    );
    assert_eq!(
        app.harness.state().settings.watch_form.exchange,
        "{{orders_exchange}}"
    );
    app.click("Start watch");
    // {{orders_exchange}} became this test's exchange, {{amqp_url}} the broker.
    let exchange = app
        .harness
        .state()
        .demo_config()
        .unwrap()
        .topology
        .exchange
        .clone();
    app.wait_until("the tap to connect", |a| {
        a.viewer()
            .tabs
            .last()
            .is_some_and(|t| matches!(t.status, TabStatus::Watching { .. }))
    });
    let tab = app.harness.state().viewer().tabs.last().unwrap();
    assert_eq!(tab.title, format!("tap {exchange} order.#"));
}

#[test]
pub(super) fn collections_in_the_data_directory_open_at_start_and_broken_files_are_shown_as_such() {
    let data = temp_data_dir();
    let team = data.join("collections").join("team");
    std::fs::create_dir_all(&team).unwrap();
    std::fs::write(
        team.join("collection.json"),
        b"{\"version\": 1, \"name\": \"Team APIs\"}\n",
    )
    .unwrap();
    let broken = b"{\"version\": 1, \"name\": \"half".to_vec();
    std::fs::write(team.join("broken.json"), &broken).unwrap();
    let mut app = start_app_in(data);
    app.wait_until("both collections", |a| {
        a.collections().opened.len() == 2
            && a.collections()
                .opened
                .iter()
                .all(|o| o.collection.is_some())
    });
    app.assert_shown("Team APIs");
    app.assert_shown("Demo: User Service and Order Service");
    // Fold the sample away so the team's collection is in view.
    app.click("Demo: User Service and Order Service");
    app.assert_shown("(broken) broken.json");
    app.click("(broken) broken.json");
    match &app.harness.state().collections().notice {
        Some(Err(m)) => assert!(m.contains("cannot be opened"), "{m}"),
        other => panic!("expected an error notice, got {other:?}"),
    }
    assert_eq!(std::fs::read(team.join("broken.json")).unwrap(), broken);
}

#[test]
pub(super) fn a_pasted_curl_command_is_imported_opened_and_its_token_kept_out_of_the_folder() {
    let mut app = start_app();
    let root = app.demo_collection();
    let order = app.harness.state().demo_config().unwrap().order_http_addr;
    app.click("Import…");
    app.type_into(
        "Command line",
        &format!(
            "curl -X POST http://{order}/orders -H 'Authorization: Bearer ui-5ecret' -H 'Content-Type: application/json' -d '{{\"user_id\": \"2\", \"items\": [{{\"sku\": \"pen\", \"quantity\": 1}}]}}'"
        ),
    );
    app.click("Import");
    app.wait_until("the imported request to open", |a| {
        a.collections().active.contains_key(&EditorKind::Http)
    });
    assert_eq!(
        app.active_rel(EditorKind::Http).as_deref(),
        Some("post-orders.json")
    );
    let text = std::fs::read_to_string(root.join("post-orders.json")).unwrap();
    assert!(!text.contains("ui-5ecret"), "{text}");
    assert!(text.contains("{{post_orders_authorization}}"), "{text}");
    // Sent, the reference resolves from the secret store.
    app.send_and_wait("Send");
    let exchange = app
        .harness
        .state()
        .selected_entry()
        .unwrap()
        .exchange
        .clone();
    assert_eq!(exchange.status.as_deref(), Some("201 Created"));
    assert!(
        exchange
            .request
            .headers
            .iter()
            .any(|h| h.value == "Bearer ui-5ecret")
    );
}

#[test]
pub(super) fn the_http_editor_has_tls_files_and_uses_them() {
    let mut app = start_app();
    // A real listener (plain HTTP): the connection opens, then TLS needs the CA file.
    let addr = app.harness.state().demo_config().unwrap().user_http_addr;
    app.harness.state_mut().settings.editors.http.url = format!("https://{addr}/user/1");
    app.harness.step();
    app.click("TLS");
    app.type_into("CA certificate", "/nonexistent/private-ca.pem");
    match app.harness.state_mut().resolved_request(TransportTab::Http) {
        Some(switchboard::engine::RequestSpec::Http(h)) => assert_eq!(
            h.tls.ca_file.as_deref(),
            Some(std::path::Path::new("/nonexistent/private-ca.pem"))
        ),
        other => panic!("expected an HTTP request, got {other:?}"),
    }
    app.send_and_wait("Send");
    let exchange = app
        .harness
        .state()
        .selected_entry()
        .unwrap()
        .exchange
        .clone();
    let error = exchange.error.expect("an unreadable CA file is an error");
    assert!(error.message.contains("private-ca.pem"), "{error}");
}

#[test]
pub(super) fn run_all_checks_the_sample_collection_and_reports_failures_when_a_service_stops() {
    let mut app = start_app();
    let root = app.demo_collection();
    let done = |a: &SwitchboardApp| a.collections().runs.values().next().is_some_and(|r| r.done);
    app.click("Run all");
    app.wait_until("the run", done);
    app.assert_shown("6 passed, 0 failed, 1 skipped");
    let run = &app.harness.state().collections().runs[&root];
    assert_eq!(run.results.len(), 7);
    // Each exchange went to the history, linked to its saved request.
    let history = &app.harness.state().history_view().history;
    assert_eq!(history.len(), 6);
    assert!(history.iter().all(|e| e.request.is_some()));

    // The services strip's first Stop is the User Service's.
    app.harness
        .get_all_by_label("Stop")
        .next()
        .unwrap()
        .click_accesskit();
    app.wait_until("the User Service to stop", |a| {
        a.strip()
            .services
            .iter()
            .any(|s| s.id == ServiceId::User && !s.running)
    });
    app.click("Run all");
    app.wait_until("the second run", done);
    let run = &app.harness.state().collections().runs[&root];
    let failed: Vec<&str> = run
        .results
        .iter()
        .filter(|(r, _)| !r.passed)
        .map(|(r, _)| r.name.as_str())
        .collect();
    assert!(failed.contains(&"Get user (HTTP)"), "{failed:?}");
    assert!(failed.contains(&"Get user (gRPC)"), "{failed:?}");
    app.assert_shown("failed, 1 skipped");
    app.assert_shown("FAIL");
}

#[test]
pub(super) fn a_postman_file_is_imported_from_the_app() {
    let mut app = start_app();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/import/demo.postman_collection.json"
    );
    app.click("Import…");
    app.click("Postman v2.1 file");
    app.type_into("File", fixture);
    app.click("Import");
    app.wait_until(
        "the import",
        |a| matches!(&a.collections().notice, Some(Ok(m)) if m.starts_with("imported")),
    );
    match &app.harness.state().collections().notice {
        Some(Ok(m)) => {
            assert!(m.contains("imported 4 request(s)"), "{m}");
            // form-data is carried over now (#18.13).
            assert!(!m.contains("formdata"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    // Postman folders became sub-folders of the collection, in the tree.
    app.assert_shown("Get user 2");
    app.assert_shown("Create order");
    let root = app.demo_collection();
    assert!(root.join("users/get-user-2.json").exists());
}

#[test]
pub(super) fn a_two_thousand_request_postman_import_shows_progress_while_the_window_stays_live() {
    let mut app = start_app();
    let items: Vec<serde_json::Value> = (0..2000)
        .map(|i| {
            serde_json::json!({
                "name": format!("Request {i}"),
                "request": {"method": "GET", "url": format!("{{{{base_url}}}}/r/{i}")}
            })
        })
        .collect();
    let collection = serde_json::json!({
        "info": {"name": "Big", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "item": [{"name": "Big", "item": items}],
    });
    let file = std::env::temp_dir().join(format!("sb-big-{}.json", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, collection.to_string()).unwrap();
    app.click("Import…");
    app.click("Postman v2.1 file");
    app.type_into("File", file.to_str().unwrap());
    app.click("Import");
    // Every frame drawn while the backend writes is recorded: the UI thread is never blocked,
    // and the dialog's progress goes up to 2000.
    let seen = std::cell::RefCell::new(Vec::new());
    app.wait_until("the import", |a| {
        seen.borrow_mut().push(a.collections().importing);
        matches!(&a.collections().notice, Some(Ok(m)) if m.starts_with("imported"))
    });
    let _ = std::fs::remove_file(&file);
    match &app.harness.state().collections().notice {
        Some(Ok(m)) => assert!(m.contains("imported 2000 request(s)"), "{m}"),
        other => panic!("{other:?}"),
    }
    let seen = seen.into_inner();
    let during: Vec<(usize, usize)> = seen.iter().flatten().copied().collect();
    assert!(
        during.len() >= 2,
        "frames drawn during the import: {seen:?}"
    );
    assert!(
        during.iter().any(|&(_, total)| total == 2000),
        "progress reached the dialog: {during:?}"
    );
    assert!(during.windows(2).all(|w| w[0].0 <= w[1].0), "{during:?}");
    assert_eq!(app.harness.state().collections().importing, None);
}

#[test]
pub(super) fn reload_picks_up_changes_made_outside_and_follows_them_in_a_clean_editor() {
    let mut app = start_app();
    let root = app.demo_collection();
    app.click("User 1 is John Doe");
    let file = root.join("01-user-service/03-john-doe.json");
    let mut changed = saved_file(&file);
    changed["name"] = "User 2 is Jane Roe".into();
    changed["url"] = "{{base_url}}/user/2".into();
    std::fs::write(&file, serde_json::to_vec_pretty(&changed).unwrap()).unwrap();
    std::fs::write(
        root.join("01-user-service/05-pulled.json"),
        b"{\"version\": 1, \"name\": \"Pulled from git\", \"kind\": \"http\", \"method\": \"GET\", \"url\": \"{{base_url}}/user/3\"}\n",
    )
    .unwrap();
    app.click("Reload");
    app.wait_until("the reload", |a| {
        a.settings.editors.http.url == "{{base_url}}/user/2"
    });
    app.assert_shown("Pulled from git");
    app.assert_shown("User 2 is Jane Roe");
    assert!(!app.harness.state().is_dirty(EditorKind::Http));
}

/// A span that reaches the receiver before its exchange reaches the history (the services
/// export as they finish; the exchange comes through the backend's queue) is placed on it all
/// the same: the app does not wait for a further span to look again.
#[test]
pub(super) fn a_span_that_arrives_before_its_exchange_is_placed_on_it() {
    use switchboard::engine::trace::{ExchangeTrace, Span};
    use switchboard::engine::{Exchange, Message};
    let mut app = start_app();
    app.wait_until("the trace receiver", |a| matches!(a.traces(), Some(Ok(_))));
    let store = match app.harness.state().traces() {
        Some(Ok(up)) => up.store.clone(),
        _ => unreachable!(),
    };
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let started_unix_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    store.insert(vec![Span {
        trace_id: trace_id.into(),
        span_id: "b7ad6b7169203331".into(),
        parent_span_id: Some("00f067aa0ba902b7".into()),
        service: "user-service".into(),
        name: "GET /user/{id}".into(),
        kind: "server".into(),
        start_unix_ns: (started_unix_us + 100) * 1000,
        end_unix_ns: (started_unix_us + 400) * 1000,
        status: "ok".into(),
        attributes: vec![],
    }]);
    // Frames pass with the span in the store and no exchange of its trace yet.
    app.harness.run_steps(3);
    let exchange = Exchange {
        transport: Transport::Http,
        target: "GET http://127.0.0.1:1/user/1".into(),
        started_at_ms: started_unix_us / 1000,
        ok: true,
        status: Some("200 OK".into()),
        error: None,
        total_us: 500,
        timeline: vec![],
        request: Message::default(),
        response: Some(Message::default()),
        trace: Some(ExchangeTrace {
            trace_id: trace_id.into(),
            span_id: "00f067aa0ba902b7".into(),
            started_unix_us,
            spans_dropped: 0,
        }),
        spans: vec![],
    };
    app.harness
        .state_mut()
        .apply(switchboard::ui::backend::Event::Exchanges {
            id: 1_000_000,
            exchanges: vec![exchange],
        });
    app.wait_secs(5, "the span placed on its exchange", |a| {
        a.history_view()
            .history
            .last()
            .is_some_and(|e| e.exchange.spans.len() == 1)
    });
}

// ---------------------------------------------------------------------------------------------
// Credentials at rest

/// The spans of an exchange survive a restart, and spans arriving after it (of other traces)
/// do not wipe them.
#[test]
pub(super) fn spans_in_the_history_survive_a_restart_and_later_spans() {
    let data = temp_data_dir();
    {
        let mut app = start_app_in(data.clone());
        app.click("HTTP");
        app.send_and_wait("Send");
        app.wait_until("the lookup's span", |a| {
            a.selected_entry()
                .is_some_and(|e| !e.exchange.spans.is_empty())
        });
        // The writer appends the span record after the entry.
        let path = data.join("history.jsonl");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(&path).is_ok_and(|t| t.contains("\"spans_of\"")) {
            assert!(Instant::now() < deadline, "spans never written");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let mut app = start_app_in(data.clone());
    app.wait_until("the history to load", |a| {
        a.history_view().history.len() == 1
    });
    assert_eq!(
        app.harness.state().history_view().history[0]
            .exchange
            .spans
            .len(),
        1
    );
    // Another request's spans arrive: the loaded entry keeps its own.
    app.click("HTTP");
    app.send_and_wait("Send");
    app.wait_until("the second lookup's span", |a| {
        a.history_view()
            .history
            .last()
            .is_some_and(|e| !e.exchange.spans.is_empty())
    });
    app.harness.run_steps(3);
    assert_eq!(
        app.harness.state().history_view().history[0]
            .exchange
            .spans
            .len(),
        1,
        "the spans kept in the history were wiped"
    );
    let path = data.join("history.jsonl");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&path).map_or(0, |t| t.matches("\"spans_of\"").count()) < 2 {
        assert!(
            Instant::now() < deadline,
            "the second lookup's spans never written"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(app);
    let mut app = start_app_in(data);
    app.wait_until("the history to load", |a| {
        a.history_view().history.len() == 2
    });
    assert!(
        app.harness
            .state()
            .history_view()
            .history
            .iter()
            .all(|e| e.exchange.spans.len() == 1)
    );
}
