//! The message viewer: import, filter, copy, live tail, a live tap, publish many, binary bodies.

use super::*;

pub(super) fn imported_messages(n: usize) -> Vec<switchboard::engine::watch::WatchedMessage> {
    use switchboard::engine::amqp::Properties;
    (0..n)
        .map(|i| {
            let properties = Properties {
                message_id: Some(format!("msg-{i}")),
                content_type: Some("application/json".to_string()),
                ..Properties::default()
            };
            let mut headers = serde_json::Map::new();
            headers.insert("x-shard".into(), if i % 3 == 0 { "a" } else { "b" }.into());
            switchboard::engine::watch::WatchedMessage {
                received_at_ms: 1_795_000_000_000 + i as u64,
                ..switchboard::engine::watch::WatchedMessage::amqp(
                    "orders",
                    if i % 2 == 0 {
                        "order.created"
                    } else {
                        "order.cancelled"
                    },
                    false,
                    &properties,
                    headers,
                    format!(r#"{{"order_id":"o-{i}","user_id":"{}"}}"#, i % 5 + 1).into_bytes(),
                )
            }
        })
        .collect()
}

#[test]
pub(super) fn the_viewer_filters_without_dropping_and_shows_the_selected_message() {
    let mut app = start_app();
    app.harness
        .state_mut()
        .open_imported("fixture.jsonl", imported_messages(30));
    app.harness.step();
    app.wait_shown("30 shown");
    let tab_id = app.harness.state().viewer().active.unwrap();

    app.harness.get_by_label("Filter").click();
    app.harness.step();
    app.harness
        .get_by_label("Filter")
        .type_text("order.cancelled");
    app.harness.step();
    app.wait_shown("15 shown");
    let tab = app
        .harness
        .state()
        .viewer()
        .tabs
        .iter()
        .find(|t| t.id == tab_id)
        .unwrap();
    assert_eq!(
        tab.store.len(),
        30,
        "the filter narrows the table, the store keeps everything"
    );

    app.harness.get_by_label("Filter").type_text(" x-shard=a");
    app.harness.step();
    // Odd indices divisible by 3: 3, 9, 15, 21, 27.
    app.wait_shown("5 shown");
    // The narrowed table settles (its scroll offset follows the shorter list) before a click.
    app.harness.run_steps(3);

    // Click the first row's message id: the detail pane shows its properties and body.
    app.harness.get_by_label("msg-3").click();
    app.harness.step();
    app.harness.step();
    app.assert_shown("#3");
    app.assert_shown("Properties (2)");
    app.assert_shown("Body · JSON");

    // Republish opens it in the AMQP editor.
    app.click("Republish…");
    let settings = &app.harness.state().settings;
    assert_eq!(settings.editors.transport, TransportTab::Amqp);
    assert_eq!(settings.editors.amqp.routing_key, "order.cancelled");
    assert_eq!(settings.editors.amqp.message_id, "msg-3");
    assert!(
        settings
            .editors
            .amqp
            .body
            .as_ref()
            .is_some_and(|b| b.to_text().contains("\"o-3\""))
    );
}

/// What the last frames put on the clipboard.
pub(super) fn copied(app: &TestApp) -> Option<String> {
    app.harness
        .output()
        .platform_output
        .commands
        .iter()
        .rev()
        .find_map(|c| match c {
            egui::OutputCommand::CopyText(text) => Some(text.clone()),
            _ => None,
        })
}

#[test]
pub(super) fn copy_as_json_of_a_message_masks_its_credentials_unless_kept() {
    let mut app = start_app();
    let mut messages = imported_messages(1);
    messages[0]
        .headers
        .insert("authorization".into(), "Bearer msg-5ecret".into());
    messages[0]
        .headers
        .insert("x-api-key".into(), "key-5ecret".into());
    app.harness
        .state_mut()
        .open_imported("creds.jsonl", messages);
    app.harness.step();
    app.harness.get_by_label("msg-0").click();
    app.harness.run_steps(2);
    app.harness.get_by_label("Copy as JSON").click();
    app.harness.step();
    let text = copied(&app).expect("copied");
    assert!(!text.contains("5ecret"), "{text}");
    assert!(text.contains("Bearer •••• (redacted)"), "{text}");
    // The body and the other headers are as received.
    assert!(text.contains("\"x-shard\":\"a\""), "{text}");
    assert!(text.contains("\"o-0\""), "{text}");
    app.harness.state_mut().settings.credentials.copy_in_clear = true;
    app.harness.step();
    app.harness.get_by_label("Copy as JSON").click();
    app.harness.step();
    let text = copied(&app).expect("copied");
    assert!(text.contains("Bearer msg-5ecret"), "{text}");
}

#[test]
pub(super) fn live_tail_pauses_counts_new_messages_and_jumps_back() {
    let mut app = start_app();
    app.harness
        .state_mut()
        .open_imported("tail.jsonl", imported_messages(200));
    app.harness.step();
    let id = app.harness.state().viewer().active.unwrap();
    assert!(app.harness.state().viewer().tabs[0].live_tail);
    // The user scrolls up over the table: the tail pauses.
    app.harness.run_steps(3);
    app.harness.get_by_label("msg-199").hover();
    app.harness.step();
    app.harness.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, 400.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: egui::Modifiers::NONE,
    });
    for _ in 0..10 {
        app.harness.step();
    }
    assert!(
        !app.harness.state().viewer().tabs[0].live_tail,
        "scrolling up pauses the live tail"
    );
    let more = imported_messages(7);
    app.harness.state_mut().ingest(id, more);
    app.harness.step();
    app.assert_shown("7 new — jump to newest");
    app.click("7 new — jump to newest");
    app.harness.step();
    let tab = &app.harness.state().viewer().tabs[0];
    assert!(tab.live_tail);
    assert_eq!(tab.new_since_pause, 0);
    assert_eq!(tab.view.len(), 207);
}

#[test]
pub(super) fn a_live_tap_in_the_viewer_receives_published_messages() {
    let mut app = start_app();
    let exchange = app.harness.state().settings.watch_form.exchange.clone();
    assert!(
        exchange.starts_with("sbtest-"),
        "the form follows the demo's exchange: {exchange}"
    );
    app.click("Messages");
    app.click("Start watch");
    app.wait_until("the tap to be bound", |a| {
        matches!(
            a.viewer().tabs.first().map(|t| &t.status),
            Some(TabStatus::Watching { .. })
        )
    });
    let url = common::amqp_url();
    app._runtime.block_on(async {
        for i in 0..3 {
            let r = switchboard::engine::amqp::PublishRequest::new(
                &url,
                &exchange,
                "order.created",
                format!("{{\"n\":{i}}}"),
            );
            assert!(switchboard::engine::amqp::publish(&r).await[0].ok);
        }
    });
    app.wait_until("three messages", |a| a.viewer().tabs[0].store.received == 3);
    app.assert_shown("received 3");
}

#[test]
pub(super) fn publish_many_shows_progress_and_the_result() {
    let mut app = start_app();
    app.click("AMQP");
    app.harness.state_mut().settings.editors.amqp_many.count = 40;
    app.harness.step();
    app.click("Publish 40");
    app.wait_until("publish many to finish", |a| {
        matches!(a.many(), Some((_, Ok(p))) if p.done) && !a.is_busy(TransportTab::Amqp)
    });
    app.assert_shown("40 published, 40 confirmed, 0 failed");
}

/// #19.4: with *Numbered*, each message of the series carries its number as its message id
/// (none was set in the editor), seen by a tap in the viewer.
#[test]
pub(super) fn publish_many_numbered_numbers_the_message_ids() {
    let mut app = start_app();
    app.click("Messages");
    app.click("Start watch");
    app.wait_until("the tap to be bound", |a| {
        matches!(
            a.viewer().tabs.first().map(|t| &t.status),
            Some(TabStatus::Watching { .. })
        )
    });
    app.click("Requests");
    app.click("AMQP");
    {
        let settings = &mut app.harness.state_mut().settings;
        settings.editors.amqp_many.count = 5;
        settings.editors.amqp_many.numbered = true;
        settings.editors.amqp.message_id.clear();
    }
    app.harness.step();
    app.click("Publish 5");
    app.wait_until("the five on the tap", |a| {
        a.viewer().tabs[0].store.received >= 5 && !a.is_busy(TransportTab::Amqp)
    });
    let ids: Vec<String> = app.harness.state().viewer().tabs[0]
        .store
        .iter()
        .filter_map(|e| match e {
            switchboard::engine::store::Entry::Message(m) => m.to_watched().field("message_id"),
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    app.assert_shown("5 published, 5 confirmed, 0 failed");
}

#[test]
pub(super) fn binary_bodies_show_as_hex_in_the_viewer() {
    let mut app = start_app();
    let mut messages = imported_messages(1);
    messages[0].body = switchboard::engine::Body::new(vec![0xff, 0x00, 0xfe, b'A']);
    app.harness
        .state_mut()
        .open_imported("binary.jsonl", messages);
    app.harness.run_steps(2);
    app.harness.get_by_label("msg-0").click();
    app.harness.run_steps(2);
    app.assert_shown("Body · binary");
    app.assert_shown("00000000  ff 00 fe 41");
}

/// *Newest first* turns the list over; *Columns* hides one (and shows it again).
#[test]
pub(super) fn newest_first_and_hidden_columns() {
    let mut app = start_app();
    app.harness
        .state_mut()
        .open_imported("fixture.jsonl", imported_messages(5));
    app.harness.step();
    let y = |app: &TestApp, label: &str| app.harness.get_by_label(label).rect().center().y;
    assert!(
        y(&app, "msg-0") < y(&app, "msg-4"),
        "oldest first by default"
    );
    app.click("Newest first");
    // The table is laid out anew over a frame or two (more on a busy machine).
    let deadline = Instant::now() + Duration::from_secs(5);
    while y(&app, "msg-4") >= y(&app, "msg-0") && Instant::now() < deadline {
        app.harness.step();
    }
    assert!(y(&app, "msg-4") < y(&app, "msg-0"), "newest at the top");

    app.click("Columns");
    app.harness
        .get_by_role_and_label(egui::accesskit::Role::CheckBox, "message id")
        .click();
    app.harness.step();
    app.harness.key_press(egui::Key::Escape);
    app.harness.step();
    app.harness.step();
    app.assert_not_shown("msg-3");
    app.click("Columns");
    app.harness
        .get_by_role_and_label(egui::accesskit::Role::CheckBox, "message id")
        .click();
    app.harness.step();
    app.harness.key_press(egui::Key::Escape);
    app.harness.step();
    app.harness.step();
    app.assert_shown("msg-3");
}
