//! Editor behaviour: Ctrl+Enter, the result pane, scratch work, body safety nets, header rows, import errors.

use super::*;

/// #19.1: Ctrl+Enter sends the request and never also presses the focused button.
#[test]
pub(super) fn ctrl_enter_sends_without_pressing_the_focused_button() {
    let mut app = start_app();
    app.click("HTTP");
    let config_url = format!(
        "http://{}/user/1",
        app.harness.state().demo_config().unwrap().user_http_addr
    );
    app.harness.state_mut().settings.editors.http.url = config_url;
    app.harness.step();
    let headers_before = app.harness.state().settings.editors.http.headers.len();
    let history_before = app.harness.state().history_view().history.len();
    app.harness.get_by_label("Remove").focus();
    app.harness.step();
    app.harness
        .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    app.wait_until("the request to be answered", |a| {
        a.history_view().history.len() > history_before
    });
    assert_eq!(
        app.harness.state().settings.editors.http.headers.len(),
        headers_before,
        "the focused Remove button was pressed too"
    );
}

/// #19.3: the result pane follows what the user did: each editor shows its own last result,
/// a send leaves Compare, a unary call does not show an earlier stream.
#[test]
pub(super) fn the_result_pane_follows_the_editor_and_the_last_send() {
    let mut app = start_app();
    app.click("HTTP");
    app.send_and_wait("Send");
    let http_seq = app.harness.state().history_view().selected.unwrap();
    app.click("gRPC");
    assert_eq!(
        app.harness.state().history_view().selected,
        None,
        "the gRPC editor has no result yet: the HTTP exchange must not stay on screen"
    );
    app.send_and_wait("Send");
    let grpc_seq = app.harness.state().history_view().selected.unwrap();
    assert_ne!(grpc_seq, http_seq);
    app.click("HTTP");
    assert_eq!(app.harness.state().history_view().selected, Some(http_seq));
    app.click("gRPC");
    assert_eq!(app.harness.state().history_view().selected, Some(grpc_seq));
    // A send leaves the comparison for its own result.
    for pin in app.harness.get_all_by_label("pin").collect::<Vec<_>>() {
        pin.click();
    }
    app.harness.step();
    app.click("Compare pinned");
    assert!(app.harness.state().history_view().compare);
    // A stream message of an earlier call, as the backend reports one.
    app.harness
        .state_mut()
        .apply(switchboard::ui::backend::Event::StreamMessage {
            id: 0,
            message: switchboard::engine::grpc::Received {
                at_us: 1,
                size_bytes: 2,
                json: "{}".into(),
            },
        });
    app.harness.step();
    assert!(app.harness.state().grpc_view().stream_view.is_some());
    app.send_and_wait("Send");
    let state = app.harness.state();
    assert!(
        !state.history_view().compare,
        "the pane stayed on Compare after Send"
    );
    assert!(
        state.grpc_view().stream_view.is_none(),
        "a unary call shows an earlier stream"
    );
    assert_ne!(state.history_view().selected, Some(grpc_seq));
    // A newly opened saved request does not show the previous request's "200 OK in 3 ms".
    app.click("HTTP");
    assert!(app.harness.state().outcome(TransportTab::Http).is_some());
    app.click("Get user (HTTP)");
    app.harness.step();
    assert_eq!(app.harness.state().outcome(TransportTab::Http), None);
}

/// #19.2: unsaved scratch work is kept when a saved request is opened over it, and comes back.
#[test]
pub(super) fn scratch_work_is_kept_when_a_saved_request_is_opened() {
    let mut app = start_app();
    app.click("HTTP");
    {
        let http = &mut app.harness.state_mut().settings.editors.http;
        http.method = "PUT".to_string();
        http.body = switchboard::engine::fields::SavedBody::from_text("{\"scratch\": true}");
        http.headers
            .push(switchboard::engine::fields::SavedHeader::new(
                "Authorization",
                "Bearer scratch-token",
            ));
    }
    app.harness.step();
    let scratch = app.harness.state().settings.editors.http.clone();
    app.click("Get user (HTTP)");
    app.harness.step();
    assert_ne!(app.harness.state().settings.editors.http, scratch);
    // With changes to the opened request, going back would lose them: the button stays in its
    // place (the bar does not jump) but does nothing.
    let url = app.harness.state().settings.editors.http.url.clone();
    app.harness.state_mut().settings.editors.http.url = format!("{url}?changed");
    app.harness.run_steps(2);
    assert!(
        app.harness
            .get_by_label("Back to the unsaved request")
            .accesskit_node()
            .is_disabled()
    );
    app.click("Back to the unsaved request");
    assert_ne!(app.harness.state().settings.editors.http.method, "PUT");
    app.harness.state_mut().settings.editors.http.url = url;
    app.harness.run_steps(2);
    app.click("Back to the unsaved request");
    app.harness.step();
    let back = &app.harness.state().settings.editors.http;
    assert_eq!(back.method, "PUT");
    assert_eq!(back.body, scratch.body);
    assert_eq!(back.headers, scratch.headers);
    app.assert_shown("Unsaved HTTP request");
}

/// #19.8: the safety nets around bodies: a JSON body without Content-Type is offered one; an
/// AMQP body that is not the JSON its content type claims is warned about; an AMQP message's
/// properties are not called headers.
#[test]
pub(super) fn bodies_get_their_safety_nets() {
    let mut app = start_app();
    app.click("HTTP");
    {
        let http = &mut app.harness.state_mut().settings.editors.http;
        http.method = "POST".to_string();
        http.headers.clear();
        http.body = switchboard::engine::fields::SavedBody::from_text("{\"user_id\": \"1\"}");
    }
    app.harness.step();
    app.assert_shown("The body is JSON but no Content-Type is set.");
    app.click("Set Content-Type: application/json");
    app.harness.step();
    assert!(
        app.harness
            .state()
            .settings
            .editors
            .http
            .headers
            .iter()
            .any(|h| h.name == "Content-Type" && h.value == "application/json")
    );
    assert!(
        app.harness
            .query_by_label_contains("no Content-Type is set")
            .is_none()
    );

    app.click("AMQP");
    app.harness.state_mut().settings.editors.amqp.body =
        switchboard::engine::fields::SavedBody::from_text("{not json");
    app.harness.step();
    app.assert_shown("the body is not valid JSON");

    app.harness.state_mut().settings.editors.amqp.body =
        switchboard::engine::fields::SavedBody::from_text("{\"ok\": true}");
    app.harness.step();
    app.send_and_wait("Publish");
    app.assert_shown("Properties and headers");
}

/// #19.10: a new header row takes the cursor: typing goes into its name.
#[test]
pub(super) fn a_new_header_row_takes_the_cursor() {
    let mut app = start_app();
    app.click("HTTP");
    let rows = app.harness.state().settings.editors.http.headers.len();
    app.click("+ Add header");
    app.harness.run_steps(2);
    // No click into the new row: what is typed goes where the cursor is.
    app.harness.event(egui::Event::Text("x-trace".to_string()));
    app.harness.run_steps(2);
    let headers = &app.harness.state().settings.editors.http.headers;
    assert_eq!(headers.len(), rows + 1);
    assert_eq!(headers[rows].name, "x-trace");
}

/// #19.7: an import error shows in the import dialog, where the user acted, not behind it.
#[test]
pub(super) fn an_import_error_shows_in_the_import_dialog() {
    let mut app = start_app();
    app.demo_collection();
    app.click("Import…");
    app.type_into("Command line", "curl --no-such-option http://127.0.0.1:1/");
    app.click("Import");
    app.wait_until("the failed import", |a| {
        a.collections().importing.is_none() && matches!(a.collections().notice, Some(Err(_)))
    });
    let message = match &app.harness.state().collections().notice {
        Some(Err(m)) => m.clone(),
        other => panic!("{other:?}"),
    };
    assert!(message.contains("--no-such-option"), "{message}");
    // The dialog is still open, and the error is in it (below its heading, right of the side
    // panel), not only in the side panel behind it.
    assert!(app.harness.state().collections().dialog.is_some());
    let heading = app.harness.get_by_label("Import requests").rect();
    let in_dialog = app
        .harness
        .query_all_by_label_contains("unsupported curl option")
        .filter(|n| n.rect().top() > heading.top() && n.rect().left() >= heading.left() - 20.0)
        .count();
    assert_eq!(in_dialog, 1, "the error is not shown in the dialog");
}

/// Bodies are typed as text into the request they belong to, and a body changed elsewhere (a
/// saved request opened, a template filled) is what the field then shows.
#[test]
pub(super) fn typed_bodies_go_into_the_request_and_outside_changes_show() {
    use switchboard::engine::fields::SavedBody;
    let mut app = start_app();
    app.click("AMQP");
    app.replace_text("Body", "{\"typed\": 1}");
    assert_eq!(
        app.harness.state().settings.editors.amqp.body,
        SavedBody::from_text("{\"typed\": 1}")
    );
    // A pretty JSON body is kept as JSON in the saved form, and shown as typed.
    app.replace_text("Body", "{\n  \"a\": 1\n}");
    assert!(matches!(
        app.harness.state().settings.editors.amqp.body,
        Some(SavedBody::Json(_))
    ));
    app.assert_shown("\"a\": 1");
    app.harness.state_mut().settings.editors.amqp.body = SavedBody::from_text("set from outside");
    app.harness.run_steps(2);
    app.assert_shown("set from outside");
    app.click("gRPC");
    app.replace_text("Request (JSON)", "{\"userId\":\"2\"} {\"userId\":\"3\"}");
    assert_eq!(
        switchboard::ui::grpc_editor::message_text(&app.harness.state().settings.editors.grpc),
        "{\"userId\":\"2\"} {\"userId\":\"3\"}"
    );
    // Emptied: no message at all.
    app.harness.get_by_label("Request (JSON)").focus();
    app.harness.step();
    app.harness
        .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    app.harness.key_press(egui::Key::Delete);
    app.harness.run_steps(2);
    assert_eq!(app.harness.state().settings.editors.grpc.message, None);
}

/// Unsaved work kept aside when a saved request was opened over it outlives a restart, its
/// credentials in the secret store, not in the settings file.
#[test]
pub(super) fn scratch_work_kept_aside_survives_a_restart_with_its_credentials() {
    let data = temp_data_dir();
    {
        let mut app = start_app_in(data.clone());
        app.click("HTTP");
        {
            let http = &mut app.harness.state_mut().settings.editors.http;
            http.method = "PUT".to_string();
            http.headers
                .push(switchboard::engine::fields::SavedHeader::new(
                    "Authorization",
                    "Bearer scratch-5ecret",
                ));
        }
        app.harness.step();
        app.click("Get user (HTTP)");
        app.harness.step();
        app.harness.state_mut().save_state();
    }
    let settings = std::fs::read_to_string(data.join("settings.json")).unwrap();
    assert!(settings.contains("\"scratch\""), "{settings}");
    assert!(!settings.contains("scratch-5ecret"), "{settings}");
    let store = std::fs::read_to_string(data.join("secrets.json")).unwrap();
    assert!(store.contains("scratch-5ecret"));
    let mut app = start_app_in(data);
    app.click("HTTP");
    app.click("Back to the unsaved request");
    let http = &app.harness.state().settings.editors.http;
    assert_eq!(http.method, "PUT");
    assert!(
        http.headers
            .iter()
            .any(|h| h.value == "Bearer scratch-5ecret")
    );
}

/// …and so does a request tab's that is not shown at exit.
#[test]
pub(super) fn a_parked_tabs_work_kept_aside_survives_a_restart_with_its_credentials() {
    let data = temp_data_dir();
    {
        let mut app = start_app_in(data.clone());
        app.click("HTTP");
        {
            let http = &mut app.harness.state_mut().settings.editors.http;
            http.method = "PATCH".to_string();
            http.headers
                .push(switchboard::engine::fields::SavedHeader::new(
                    "Authorization",
                    "Bearer parked-scratch-5ecret",
                ));
        }
        app.harness.step();
        app.click("Get user (HTTP)");
        app.harness.step();
        app.click("+ New tab");
        app.harness.state_mut().save_state();
    }
    let settings = std::fs::read_to_string(data.join("settings.json")).unwrap();
    assert!(!settings.contains("parked-scratch-5ecret"), "{settings}");
    let store = std::fs::read_to_string(data.join("secrets.json")).unwrap();
    assert!(store.contains("parked-scratch-5ecret"));
    let mut app = start_app_in(data);
    app.harness.state_mut().switch_tab(0);
    app.harness.step();
    app.click("Back to the unsaved request");
    let http = &app.harness.state().settings.editors.http;
    assert_eq!(http.method, "PATCH");
    assert!(
        http.headers
            .iter()
            .any(|h| h.value == "Bearer parked-scratch-5ecret")
    );
}
