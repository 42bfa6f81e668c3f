//! Request tabs, the side-by-side layout, the desktop entry and the keyboard shortcuts.

use super::*;

/// #19.9: request tabs — a new tab starts fresh and keeps the other's work; a saved request
/// with unsaved changes stays in its tab when another opens; an open request is shown where
/// it is; a result arrives in the tab that sent it; closing unsaved work asks first.
#[test]
pub(super) fn request_tabs_keep_their_own_work_and_results() {
    let mut app = start_app();
    app.click("HTTP");
    app.harness.state_mut().settings.editors.http.body =
        switchboard::engine::fields::SavedBody::from_text("first tab's body");
    app.harness.step();
    app.click("+ New tab");
    assert_eq!(app.harness.state().request_tabs().tabs.len(), 2);
    assert_eq!(app.harness.state().request_tabs().current, 1);
    assert_ne!(
        switchboard::ui::http_editor::body_text(&app.harness.state().settings.editors.http),
        "first tab's body"
    );
    assert!(app.harness.state().history_view().selected.is_none());

    // A slow lookup sent here, then the first tab shown: the result lands in this tab.
    app.harness.state_mut().set_knobs(ServiceId::User, 400, 0.0);
    app.wait_until("the latency knob", |a| {
        a.strip()
            .services
            .iter()
            .any(|s| s.id == ServiceId::User && s.latency_ms == 400)
    });
    let before = app.harness.state().history_view().history.len();
    app.click("Send");
    assert!(app.harness.state().is_busy(TransportTab::Http));
    app.harness.state_mut().switch_tab(0);
    app.harness.step();
    assert_eq!(
        switchboard::ui::http_editor::body_text(&app.harness.state().settings.editors.http),
        "first tab's body"
    );
    assert!(!app.harness.state().is_busy(TransportTab::Http));
    app.wait_until("the lookup", |a| a.history_view().history.len() > before);
    assert!(
        app.harness.state().outcome(TransportTab::Http).is_none(),
        "the other tab's result showed in this one"
    );
    let seq = app
        .harness
        .state()
        .history_view()
        .history
        .last()
        .map(|e| e.seq);
    app.harness.state_mut().switch_tab(1);
    app.harness.step();
    assert!(
        app.harness.state().outcome(TransportTab::Http).is_some(),
        "the result did not reach the tab that sent it"
    );
    assert_eq!(app.harness.state().history_view().selected, seq);
    app.harness.state_mut().set_knobs(ServiceId::User, 0, 0.0);

    // A saved request edited in this tab stays here when another opens: in a new tab.
    app.click("Get user (HTTP)");
    app.harness.state_mut().settings.editors.http.body =
        switchboard::engine::fields::SavedBody::from_text("edited, not saved");
    app.harness.step();
    app.click("User 1 is John Doe");
    let state = app.harness.state();
    assert_eq!(state.request_tabs().tabs.len(), 3);
    assert_eq!(state.request_tabs().current, 2);
    assert!(state.collections().dialog.is_none());
    // Opening it again shows the tab that holds it, edits and all.
    app.click("Get user (HTTP)");
    assert_eq!(app.harness.state().request_tabs().current, 1);
    assert_eq!(
        switchboard::ui::http_editor::body_text(&app.harness.state().settings.editors.http),
        "edited, not saved"
    );
    app.assert_shown("GET Get user (HTTP) *");

    // Closing it asks; Cancel keeps it, the other button closes it.
    app.harness.state_mut().close_tab(1, false);
    app.harness.step();
    app.harness.step();
    app.click("Cancel");
    assert_eq!(app.harness.state().request_tabs().tabs.len(), 3);
    app.harness.state_mut().close_tab(1, false);
    app.harness.step();
    app.harness.step();
    app.click("Close without saving");
    let state = app.harness.state();
    assert_eq!(state.request_tabs().tabs.len(), 2);
    assert_ne!(
        switchboard::ui::http_editor::body_text(&state.settings.editors.http),
        "edited, not saved"
    );
    // A tab whose unsaved request holds edits asks too; one as a new tab has it does not.
    app.harness.state_mut().close_tab(0, false);
    app.harness.step();
    app.harness.step();
    app.click("Close without saving");
    assert_eq!(app.harness.state().request_tabs().tabs.len(), 1);
    assert_eq!(app.harness.state().request_tabs().current, 0);
    app.assert_shown("+ New tab");
    app.click("+ New tab");
    app.harness.state_mut().close_tab(1, false);
    app.harness.step();
    assert!(app.harness.state().collections().dialog.is_none());
    assert_eq!(app.harness.state().request_tabs().tabs.len(), 1);
}

/// Request tabs outlive a restart: their editors, the saved requests they hold, which one was
/// shown, and their credentials — in the secret store, not in the settings file.
#[test]
pub(super) fn request_tabs_survive_a_restart_with_their_credentials_in_the_secret_store() {
    let data = temp_data_dir();
    {
        let mut app = start_app_in(data.clone());
        app.click("HTTP");
        app.click("Get user (HTTP)");
        app.harness.state_mut().settings.editors.http.body =
            switchboard::engine::fields::SavedBody::from_text("kept across restarts");
        app.harness.state_mut().settings.editors.http.headers.push(
            switchboard::engine::fields::SavedHeader::new("Authorization", "Bearer current-secret"),
        );
        app.harness.step();
        app.click("+ New tab");
        {
            let http = &mut app.harness.state_mut().settings.editors.http;
            http.url = "http://127.0.0.1:9/other".to_string();
            http.headers
                .push(switchboard::engine::fields::SavedHeader::new(
                    "Authorization",
                    "Bearer parked-secret",
                ));
        }
        app.harness.step();
        app.harness.state_mut().switch_tab(0);
        app.harness.step();
        app.harness.state_mut().save_state();
    }
    let settings = std::fs::read_to_string(data.join("settings.json")).unwrap();
    assert!(!settings.contains("parked-secret"), "{settings}");
    assert!(!settings.contains("current-secret"), "{settings}");
    let store = std::fs::read_to_string(data.join("secrets.json")).unwrap();
    assert!(store.contains("parked-secret") && store.contains("current-secret"));
    let mut app = start_app_in(data);
    let state = app.harness.state();
    assert_eq!(state.request_tabs().tabs.len(), 2);
    assert_eq!(state.request_tabs().current, 0);
    assert_eq!(
        switchboard::ui::http_editor::body_text(&state.settings.editors.http),
        "kept across restarts"
    );
    app.assert_shown("GET Get user (HTTP) *");
    app.harness.state_mut().switch_tab(1);
    app.harness.step();
    let http = &app.harness.state().settings.editors.http;
    assert_eq!(http.url, "http://127.0.0.1:9/other");
    let auth = http.headers.iter().find(|h| h.name == "Authorization");
    assert_eq!(auth.map(|h| h.value.as_str()), Some("Bearer parked-secret"));
    // The first tab is still linked to its saved request, edits and credentials included.
    app.harness.state_mut().switch_tab(0);
    app.harness.step();
    assert!(
        app.harness
            .state()
            .settings
            .editors
            .http
            .headers
            .iter()
            .any(|h| h.value == "Bearer current-secret")
    );
    app.assert_shown("GET Get user (HTTP) *");
    assert!(
        app.harness
            .state()
            .collections()
            .active
            .contains_key(&switchboard::ui::settings::EditorKind::Http)
    );
}

/// #17.1: the editor and its result side by side (the default), or stacked; the side panel
/// hides and comes back; both choices are settings (kept across restarts).
#[test]
pub(super) fn editor_and_result_sit_side_by_side_or_stacked_and_the_side_panel_hides() {
    use switchboard::ui::settings::RequestLayout;
    let mut app = start_app();
    assert_eq!(
        app.harness.state().settings.layout,
        RequestLayout::SideBySide
    );
    app.click("HTTP");
    app.send_and_wait("Send");
    // Side by side: the response sits right of the Send button.
    let send = app.harness.get_by_label("Send").rect();
    let response = app.harness.get_by_label("Response").rect();
    assert!(response.left() > send.right(), "{response:?} vs {send:?}");
    app.click("Stack");
    assert_eq!(app.harness.state().settings.layout, RequestLayout::Stacked);
    let send = app.harness.get_by_label("Send").rect();
    let response = app.harness.get_by_label("Response").rect();
    assert!(response.top() > send.bottom(), "{response:?} vs {send:?}");
    app.click("Side by side");
    assert_eq!(
        app.harness.state().settings.layout,
        RequestLayout::SideBySide
    );
    app.click("Hide panel");
    assert!(!app.harness.state().settings.side_panel);
    for _ in 0..30 {
        app.harness.step();
    }
    assert!(app.harness.query_by_label("Run all").is_none());
    app.click("Show panel");
    assert!(app.harness.state().settings.side_panel);
}

/// #17.1: the split between editor and result is dragged with the pointer, moves the result
/// with it, and keeps its place across a restart.
#[test]
pub(super) fn the_split_is_dragged_and_kept_across_a_restart() {
    let data = temp_data_dir();
    let moved_to;
    let handle_x;
    {
        let mut app = start_app_in(data.clone());
        app.click("HTTP");
        app.send_and_wait("Send");
        let handle = app
            .harness
            .get_by_label(switchboard::ui::app::SPLIT_LABEL)
            .rect();
        let response_before = app.harness.get_by_label("Response").rect();
        let from = handle.center();
        let to = from - egui::vec2(150.0, 0.0);
        drag(&mut app, from, to);
        let width = app.harness.state().settings.editor_width;
        assert!(width > 0.0, "the drag set a width");
        let handle_after = app
            .harness
            .get_by_label(switchboard::ui::app::SPLIT_LABEL)
            .rect();
        assert!(
            (handle_after.center().x - to.x).abs() < 2.0,
            "the handle follows the pointer: {handle_after:?} vs {to:?}"
        );
        let response_after = app.harness.get_by_label("Response").rect();
        assert!(
            // The result pane grows by 150 and the response is its right half.
            (response_before.left() - response_after.left() - 75.0).abs() < 4.0,
            "the result moves with the split: {response_before:?} -> {response_after:?}"
        );
        // A second drag the other way: the split does not drift or grow by itself.
        drag(&mut app, to, to + egui::vec2(60.0, 0.0));
        for _ in 0..20 {
            app.harness.step();
        }
        moved_to = app.harness.state().settings.editor_width;
        assert!(
            (moved_to - (width + 60.0)).abs() < 1.0,
            "{moved_to} vs {width}"
        );
        handle_x = app
            .harness
            .get_by_label(switchboard::ui::app::SPLIT_LABEL)
            .rect()
            .center()
            .x;
        app.harness.state_mut().save_state();
    }
    let mut app = start_app_in(data);
    assert_eq!(app.harness.state().settings.editor_width, moved_to);
    app.click("HTTP");
    let handle = app
        .harness
        .get_by_label(switchboard::ui::app::SPLIT_LABEL)
        .rect();
    assert!(
        (handle.center().x - handle_x).abs() < 1.0,
        "the split is where it was left: {handle:?} vs x = {handle_x}"
    );
}

/// #17.1, stacked: the editor above its result, split by a handle dragged up and down, each
/// scrolling on its own; the height is kept across a restart (hostile run: stacked was one
/// long scroll with no split).
#[test]
pub(super) fn the_stacked_split_is_dragged_and_kept_across_a_restart() {
    let data = temp_data_dir();
    let moved_to;
    {
        let mut app = start_app_in(data.clone());
        app.click("Stack");
        app.click("HTTP");
        app.send_and_wait("Send");
        let split = |app: &mut TestApp| {
            app.harness
                .get_by_label(switchboard::ui::app::SPLIT_LABEL)
                .rect()
        };
        let handle = split(&mut app);
        assert!(
            handle.width() > handle.height(),
            "a horizontal handle: {handle:?}"
        );
        let send = app.harness.get_by_label("Send").rect();
        let response_before = app.harness.get_by_label("Response").rect();
        assert!(send.bottom() <= handle.top() && handle.bottom() <= response_before.top());
        let from = handle.center();
        let to = from - egui::vec2(0.0, 40.0);
        drag(&mut app, from, to);
        let height = app.harness.state().settings.editor_height;
        assert!(height > 0.0, "the drag set a height");
        assert!(
            (split(&mut app).center().y - to.y).abs() < 2.0,
            "the handle follows the pointer"
        );
        let response_after = app.harness.get_by_label("Response").rect();
        assert!(
            (response_before.top() - response_after.top() - 40.0).abs() < 2.0,
            "the result moves up with the split: {response_before:?} -> {response_after:?}"
        );
        moved_to = height;
        app.harness.state_mut().save_state();
    }
    let app = start_app_in(data);
    assert_eq!(app.harness.state().settings.editor_height, moved_to);
    assert_eq!(
        app.harness.state().settings.layout,
        switchboard::ui::settings::RequestLayout::Stacked
    );
}

/// Presses the primary button at `from`, moves to `to` in steps, releases.
fn drag(app: &mut TestApp, from: egui::Pos2, to: egui::Pos2) {
    let events = &mut app.harness.input_mut().events;
    events.push(egui::Event::PointerMoved(from));
    app.harness.step();
    app.harness
        .input_mut()
        .events
        .push(egui::Event::PointerButton {
            pos: from,
            button: egui::PointerButton::Primary,
            pressed: true,
            modifiers: egui::Modifiers::NONE,
        });
    app.harness.step();
    for i in 1..=10 {
        let at = from + (to - from) * (i as f32 / 10.0);
        app.harness
            .input_mut()
            .events
            .push(egui::Event::PointerMoved(at));
        app.harness.step();
    }
    app.harness
        .input_mut()
        .events
        .push(egui::Event::PointerButton {
            pos: to,
            button: egui::PointerButton::Primary,
            pressed: false,
            modifiers: egui::Modifiers::NONE,
        });
    app.harness.step();
    app.harness.step();
}

/// The app can be launched from a desktop menu: a desktop entry naming the binary and its icon,
/// the icon in every size a menu asks for, and the same icon on the window.
#[test]
pub(super) fn a_desktop_entry_and_icon_ship_with_the_app() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let entry = std::fs::read_to_string(root.join("assets/switchboard.desktop")).unwrap();
    for line in [
        "[Desktop Entry]",
        "Type=Application",
        "Exec=switchboard",
        "Icon=switchboard",
    ] {
        assert!(entry.lines().any(|l| l == line), "{line} in {entry}");
    }
    assert!(entry.contains("Categories=Development;"), "{entry}");
    for size in [16u32, 32, 48, 64, 128, 256] {
        let path = root.join(format!("assets/icons/switchboard-{size}.png"));
        let icon = eframe::icon_data::from_png_bytes(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            (icon.width, icon.height),
            (size, size),
            "{}",
            path.display()
        );
    }
    assert!(root.join("assets/icons/switchboard.svg").exists());
    let window = switchboard::ui::window_icon().expect("the window icon decodes");
    assert_eq!((window.width, window.height), (64, 64));
}

/// Ctrl+1…5 open the HTTP, gRPC, AMQP, NATS and Kafka editors.
#[test]
pub(super) fn ctrl_digits_switch_the_transport_editor() {
    let mut app = start_app();
    app.click("HTTP");
    for (digit, tab) in [
        (egui::Key::Num2, TransportTab::Grpc),
        (egui::Key::Num4, TransportTab::Nats),
        (egui::Key::Num5, TransportTab::Kafka),
        (egui::Key::Num3, TransportTab::Amqp),
        (egui::Key::Num1, TransportTab::Http),
    ] {
        app.harness
            .key_press_modifiers(egui::Modifiers::COMMAND, digit);
        app.harness.step();
        assert_eq!(
            app.harness.state().settings.editors.transport,
            tab,
            "{digit:?}"
        );
    }
}

/// Ctrl+F puts the cursor in the history search (opening the side panel if it was hidden).
#[test]
pub(super) fn ctrl_f_searches_the_history() {
    let mut app = start_app();
    app.click("HTTP");
    app.harness.state_mut().settings.side_panel = false;
    app.harness.step();
    app.harness
        .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    app.harness.step();
    app.harness.step();
    assert!(app.harness.state().settings.side_panel);
    app.harness
        .input_mut()
        .events
        .push(egui::Event::Text("john".into()));
    app.harness.step();
    assert_eq!(app.harness.state().history_view().history_query, "john");
}

/// The *Keys* menu lists the shortcuts.
#[test]
pub(super) fn the_keys_menu_lists_the_shortcuts() {
    let mut app = start_app();
    app.click("Keys");
    app.harness.step();
    for shown in [
        "Ctrl+Enter",
        "send the request",
        "Ctrl+F",
        "search the history (Messages: the tab's filter)",
        "Ctrl+L",
        "the editor's URL or address",
    ] {
        assert!(app.harness.query_by_label(shown).is_some(), "{shown}");
    }
}

/// Ctrl+L puts the cursor in the editor's URL; Esc cancels a running request.
#[test]
pub(super) fn ctrl_l_goes_to_the_url_and_esc_cancels() {
    let mut app = start_app();
    app.click("HTTP");
    app.harness
        .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::L);
    app.harness.step();
    app.harness.step();
    app.harness
        .input_mut()
        .events
        .push(egui::Event::Text("X".into()));
    app.harness.step();
    // The whole URL was selected, as a browser's Ctrl+L does: typing replaces it.
    assert_eq!(
        app.harness.state().settings.editors.http.url,
        "X",
        "Ctrl+L should select the URL"
    );

    // A slow User Service: the request is still running when Esc is pressed.
    app.harness.state_mut().settings.editors.http = switchboard::ui::http_editor::default_request();
    let config = app.harness.state().demo_config().cloned().unwrap();
    app.harness
        .state_mut()
        .settings
        .retarget_demo(&demo_services::DemoConfig::default(), &config);
    app.harness
        .state_mut()
        .set_knobs(ServiceId::User, 5_000, 0.0);
    app.click("Send");
    app.wait_until("the request to run", |a| a.is_busy(TransportTab::Http));
    app.harness.key_press(egui::Key::Escape);
    app.wait_secs(4, "Esc to cancel it", |a| !a.is_busy(TransportTab::Http));
    assert!(matches!(
        app.harness.state().outcome(TransportTab::Http),
        Some(EditorOutcome::Cancelled(_))
    ));
}

/// The services strip's user-check switch: with *none*, orders are accepted while the User
/// Service is stopped and wait in order_queue (its depth is shown), then drain when it starts.
#[test]
pub(super) fn with_no_user_check_orders_wait_in_the_queue_shown_in_the_strip() {
    let mut app = start_app();
    app.wait_until(
        "the queue depth",
        |a| matches!(&a.strip().queue_depth, Some((_, Ok(d))) if d.consumers == 1),
    );
    app.assert_shown("0 waiting · 1 consumer");
    app.click("user check");
    app.click("none — accept, publish, let the consumer check (async)");
    app.wait_until("the switch to reach the Order Service", |a| {
        a.strip()
            .services
            .iter()
            .any(|s| s.user_check == Some(demo_services::UserCheck::None))
    });
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
    let order_addr = app.harness.state().demo_config().unwrap().order_http_addr;
    for _ in 0..2 {
        let answer = post_order(order_addr, r#"{"user_id": "2", "amount": 3}"#);
        assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    }
    app.wait_until(
        "2 orders waiting",
        |a| matches!(&a.strip().queue_depth, Some((_, Ok(d))) if d.ready == 2 && d.consumers == 0),
    );
    app.assert_shown("2 waiting · 0 consumers");
    app.click("Start");
    app.wait_until(
        "the queue to drain",
        |a| matches!(&a.strip().queue_depth, Some((_, Ok(d))) if d.ready == 0 && d.consumers == 1),
    );
}

/// The same lesson on the other brokers: with user check *none* and the User Service stopped,
/// orders wait as the JetStream consumer's pending messages and as the Kafka group's lag, both
/// shown in the strip, and both drain after Start.
#[cfg(feature = "kafka-broker")]
#[test]
pub(super) fn with_no_user_check_orders_wait_as_nats_pending_and_kafka_lag_shown_in_the_strip() {
    let (mut app, _broker, names) = super::brokers::start_app_with_kafka();
    let waiting = |a: &SwitchboardApp| {
        let pending = match &a.strip().nats_pending {
            Some((_, Ok(c))) => Some(c.num_pending + c.num_ack_pending),
            _ => None,
        };
        let lag = match &a.strip().kafka_lag {
            Some((_, Ok(l))) => Some(l.lag),
            _ => None,
        };
        (pending, lag)
    };
    app.wait_secs(
        40,
        "the NATS consumer and the Kafka group, nothing waiting",
        |a| waiting(a) == (Some(0), Some(0)),
    );
    app.assert_shown("0 pending");
    app.assert_shown("lag 0");
    app.click("user check");
    app.click("none — accept, publish, let the consumer check (async)");
    app.wait_until("the switch to reach the Order Service", |a| {
        a.strip()
            .services
            .iter()
            .any(|s| s.user_check == Some(demo_services::UserCheck::None))
    });
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
    let order_addr = app.harness.state().demo_config().unwrap().order_http_addr;
    for user in ["1", "2", "3"] {
        let answer = post_order(
            order_addr,
            &format!(r#"{{"user_id": "{user}", "amount": 3}}"#),
        );
        assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    }
    app.wait_until("3 orders pending on NATS and 3 records of Kafka lag", |a| {
        waiting(a) == (Some(3), Some(3))
    });
    app.assert_shown("3 pending");
    app.assert_shown("lag 3");
    app.click("Start");
    app.wait_secs(60, "both to drain", |a| waiting(a) == (Some(0), Some(0)));
    app.wait_until("the NATS consumer's count to go on", |a| {
        matches!(
            a.strip().nats_consumer,
            Some(demo_services::ConsumerState::Consuming { consumed: 3, .. })
        )
    });
    app.assert_shown("3 consumed · 0 pending");
    app.assert_shown("lag 0");
    app._runtime.block_on(common::delete_stream(&names.stream));
}

/// `POST /orders` from outside the app (another client of the Order Service); the answer's
/// status line and the rest.
fn post_order(addr: std::net::SocketAddr, body: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /orders HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// Esc closes the Settings window and a dialog (the Keys popup says so).
#[test]
pub(super) fn esc_closes_settings_and_dialogs() {
    let mut app = start_app();
    app.click("Settings");
    app.assert_shown("Credentials at rest");
    app.harness.key_press(egui::Key::Escape);
    app.harness.step();
    app.harness.step();
    assert!(
        !app.harness.state().settings_open(),
        "Esc left Settings open"
    );

    app.click("HTTP");
    app.send_and_wait("Send");
    app.click("Clear…");
    assert!(app.harness.state().collections().dialog.is_some());
    app.harness.key_press(egui::Key::Escape);
    app.harness.step();
    app.harness.step();
    assert!(
        app.harness.state().collections().dialog.is_none(),
        "Esc left the Clear history dialog open"
    );
    // Closing is not confirming: the history is still there.
    assert!(!app.harness.state().history_view().history.is_empty());
}

/// Cancel works the same for gRPC and for Place order: the exchange is kept, cancelled where
/// it stopped (the User Service made slow so both are still waiting).
#[test]
pub(super) fn grpc_calls_and_orders_cancel_and_are_kept() {
    let mut app = start_app();
    app.harness
        .state_mut()
        .set_knobs(ServiceId::User, 5_000, 0.0);
    app.wait_until("the latency knob", |a| {
        a.strip()
            .services
            .iter()
            .any(|s| s.id == ServiceId::User && s.latency_ms == 5_000)
    });
    for (tab, label, button) in [
        (TransportTab::Grpc, "gRPC", "Send"),
        (TransportTab::Amqp, "AMQP", "Place order"),
    ] {
        app.click(label);
        let before = app.harness.state().history_view().history.len();
        app.click(button);
        app.wait_until("the request to run", |a| a.is_busy(tab));
        std::thread::sleep(Duration::from_millis(300));
        app.harness.key_press(egui::Key::Escape);
        app.wait_secs(3, "Esc to cancel it", |a| !a.is_busy(tab));
        let history = &app.harness.state().history_view().history;
        assert_eq!(
            history.len(),
            before + 1,
            "{label}: the cancelled exchange is kept"
        );
        let e = &history[history.len() - 1].exchange;
        assert_eq!(
            e.error.as_ref().map(|e| e.kind),
            Some(switchboard::engine::ErrorKind::Cancelled),
            "{label}: {e:?}"
        );
        assert!(e.total_us < 3_000_000, "{label}: stopped, not waited out");
    }
    app.harness.state_mut().set_knobs(ServiceId::User, 0, 0.0);
}

/// A settings file with one bad value inside a request tab costs that value only: the tab,
/// its other fields and its credentials come back; the file and the secret store as they were
/// are copied aside first, and the side panel says so (opened for it).
#[test]
pub(super) fn a_bad_value_in_a_tab_costs_only_that_value_not_the_tab_or_its_secrets() {
    let data = temp_data_dir();
    {
        let mut app = start_app_in(data.clone());
        app.click("+ New tab");
        {
            let http = &mut app.harness.state_mut().settings.editors.http;
            http.url = "http://127.0.0.1:9/parked".to_string();
            http.headers
                .push(switchboard::engine::fields::SavedHeader::new(
                    "Authorization",
                    "Bearer parked-5ecret",
                ));
        }
        app.harness.step();
        app.harness.state_mut().switch_tab(0);
        app.harness.state_mut().settings.side_panel = false;
        app.harness.step();
        app.harness.state_mut().save_state();
    }
    let path = data.join("settings.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    json["tabs"][0]["http"]["method"] = serde_json::json!(123);
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    {
        let mut app = start_app_in(data.clone());
        app.assert_shown("tabs[0].http.method");
        assert!(app.harness.state().settings.side_panel);
        assert!(data.join("settings.json.bak").exists());
        let kept = std::fs::read_to_string(data.join("secrets.json.bak")).unwrap();
        assert!(kept.contains("parked-5ecret"));
        app.harness.state_mut().switch_tab(1);
        app.harness.step();
        let http = &app.harness.state().settings.editors.http;
        assert_eq!(http.url, "http://127.0.0.1:9/parked");
        assert_eq!(http.method, "GET");
        assert!(
            http.headers
                .iter()
                .any(|h| h.value == "Bearer parked-5ecret")
        );
        app.harness.state_mut().save_state();
    }
    let store = std::fs::read_to_string(data.join("secrets.json")).unwrap();
    assert!(
        store.contains("parked-5ecret"),
        "the tab's secret is still kept"
    );
}
