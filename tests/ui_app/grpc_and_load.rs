//! Load runs, the gRPC method browser, server and bidi streams.

use super::*;
use switchboard::engine::fields::SavedBody;

#[test]
pub(super) fn a_load_run_shows_throughput_and_percentiles() {
    let mut app = start_app();
    app.click("HTTP");
    app.click("Load test");
    app.harness.state_mut().settings.load.requests = 120;
    app.harness.state_mut().settings.load.concurrency = 4;
    app.harness.step();
    app.click("Run load");
    app.wait_until("the load run", |a| {
        a.load_run().is_some_and(|l| l.result.is_some()) && !a.is_busy(TransportTab::Http)
    });
    app.assert_shown("120 requests in");
    app.assert_shown("120 ok, 0 failed");
    app.assert_shown("p99");
}

#[test]
pub(super) fn the_grpc_method_browser_discovers_by_reflection_and_fills_a_template() {
    let mut app = start_app();
    app.click("gRPC");
    app.click("Discover methods");
    app.wait_until(
        "the methods",
        |a| matches!(&a.grpc_view().grpc_methods, Some((_, Ok(m))) if m.len() == 6),
    );
    app.assert_shown("Methods of");
    app.assert_shown("client stream");
    app.click("user.UserService/CountUsers");
    let g = app.harness.state().settings.editors.grpc.clone();
    assert_eq!(g.method, "user.UserService/CountUsers");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&switchboard::ui::grpc_editor::message_text(&g))
            .unwrap(),
        serde_json::json!({"userId": ""})
    );

    // A client stream from the editor: two messages, one summary back.
    app.harness.state_mut().settings.editors.grpc.message =
        SavedBody::from_text(r#"{"userId":"1"} {"userId":"3"}"#);
    app.harness.step();
    app.send_and_wait("Send");
    let e = app
        .harness
        .state()
        .selected_entry()
        .unwrap()
        .exchange
        .clone();
    assert_eq!(e.status.as_deref(), Some("OK"), "{:?}", e.error);
    app.assert_shown("phase message sent");
    app.assert_shown("Ada Lovelace");
}

#[test]
pub(super) fn a_live_server_stream_shows_messages_as_they_arrive_and_stops_on_cancel() {
    let mut app = start_app();
    app.click("gRPC");
    {
        let g = &mut app.harness.state_mut().settings.editors.grpc;
        g.method = "user.UserService/WatchOrders".to_string();
        g.message = SavedBody::from_text(r#"{"userId":"3"}"#);
    }
    app.harness.state_mut().settings.timeout_secs = 60.0;
    app.harness.step();
    app.click("Send");
    app.wait_until("the stream to open", |a| a.is_busy(TransportTab::Grpc));
    // An order placed now is consumed by the User Service and streamed to us.
    let order_url = app.harness.state().settings.editors.order.url.clone();
    app._runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(&order_url)
            .body(r#"{"user_id":"3","amount":2}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    });
    app.wait_until("the streamed order", |a| {
        a.grpc_view()
            .stream_view
            .as_ref()
            .is_some_and(|(_, m)| m.len() == 1)
    });
    app.assert_shown("Response stream: 1 messages (live");
    app.assert_shown("\"kind\":\"consumed\"");
    app.click("Cancel");
    app.wait_until("the stream to stop", |a| !a.is_busy(TransportTab::Grpc));
    let e = app
        .harness
        .state()
        .selected_entry()
        .unwrap()
        .exchange
        .clone();
    assert_eq!(
        e.error.as_ref().unwrap().kind,
        switchboard::engine::ErrorKind::Cancelled
    );
    let switchboard::engine::BodyView::Json(events) = e.response.as_ref().unwrap().body.view()
    else {
        panic!()
    };
    assert_eq!(events.as_array().unwrap().len(), 1, "what arrived is kept");
    // #19.5: a user's cancel is neutral, not a failure.
    assert!(
        matches!(
            app.harness.state().outcome(TransportTab::Grpc),
            Some(EditorOutcome::Cancelled(_))
        ),
        "{:?}",
        app.harness.state().outcome(TransportTab::Grpc)
    );
    app.assert_shown("cancelled");
    assert!(
        app.harness.query_by_label_contains("gRPC failed").is_none(),
        "the history calls the cancelled call a failure"
    );
}

#[test]
pub(super) fn a_bidi_stream_sends_messages_one_by_one_and_half_closes() {
    let mut app = start_app();
    app.click("gRPC");
    app.click("Discover methods");
    app.wait_until("the methods", |a| {
        matches!(&a.grpc_view().grpc_methods, Some((_, Ok(_))))
    });
    app.click("user.UserService/LookupStream");
    app.click("Open stream");
    app.wait_until("the stream to open", |a| {
        a.grpc_view().open_stream.is_some() && a.is_busy(TransportTab::Grpc)
    });
    for (i, id) in ["1", "4"].iter().enumerate() {
        app.harness.state_mut().settings.editors.grpc.message =
            SavedBody::from_text(&format!(r#"{{"userId":"{id}"}}"#));
        app.harness.step();
        app.click("Send message");
        app.wait_until("the answer", |a| {
            a.grpc_view()
                .stream_view
                .as_ref()
                .is_some_and(|(_, m)| m.len() == i + 1)
        });
    }
    app.assert_shown("Stream open: 2 sent");
    app.assert_shown("Grace Hopper");
    // Invalid JSON is refused where the user acted, and the stream stays open.
    app.harness.state_mut().settings.editors.grpc.message = SavedBody::from_text("{oops");
    app.harness.step();
    app.click("Send message");
    app.wait_until("the refusal", |a| {
        matches!(
            a.outcome(TransportTab::Grpc),
            Some(EditorOutcome::Failed(_))
        )
    });
    app.assert_shown("message not sent: invalid request JSON");
    app.click("Half-close");
    app.wait_until("the call to end", |a| !a.is_busy(TransportTab::Grpc));
    let e = app
        .harness
        .state()
        .selected_entry()
        .unwrap()
        .exchange
        .clone();
    assert_eq!(e.status.as_deref(), Some("OK"), "{:?}", e.error);
    let sent = e
        .timeline
        .iter()
        .filter(|p| p.phase == switchboard::engine::grpc::phases::MESSAGE_SENT)
        .count();
    assert_eq!(sent, 2);
}

// ---------------------------------------------------------------------------------------------
// Collections
