//! HTTP, gRPC and AMQP from their editors: timelines, payloads, errors inline, cancel, compare.

use super::*;

#[test]
pub(super) fn http_lookup_shows_its_timeline_and_both_payloads() {
    let mut app = start_app();
    app.click("HTTP");
    app.send_and_wait("Send");
    let entry = app
        .harness
        .state()
        .selected_entry()
        .unwrap()
        .exchange
        .clone();
    assert_eq!(entry.transport, Transport::Http);
    assert_eq!(entry.status.as_deref(), Some("200 OK"));
    for phase in [
        "phase connect",
        "phase request sent",
        "phase first byte",
        "phase body",
    ] {
        app.assert_shown(phase);
    }
    app.assert_shown("Request");
    app.assert_shown("Response");
    app.assert_shown("GET /user/1 HTTP/1.1");
    app.assert_shown("HTTP/1.1 200 OK");
    app.assert_shown("Body · JSON");
    assert!(
        matches!(app.harness.state().outcome(TransportTab::Http), Some(EditorOutcome::Sent(s)) if s.starts_with("200 OK"))
    );
    // The history row says what was sent and when.
    app.assert_shown("HTTP GET 200 OK");
    let mut time = switchboard::ui::viewer::format_time(entry.started_at_ms);
    time.truncate(8);
    app.assert_shown(&time);
}

/// Regression (hostile run): the traceparent tick was one setting for every editor and tab.
/// Each editor has its own: unticked for HTTP, gRPC still carries one, and so does a new tab.
#[test]
pub(super) fn each_editor_has_its_own_traceparent_tick() {
    let mut app = start_app();
    let carries = |app: &mut TestApp| {
        let e = &app.harness.state().selected_entry().unwrap().exchange;
        let header = e.request.headers.iter().any(|h| h.name == "traceparent");
        assert_eq!(header, e.trace.is_some(), "{e:?}");
        header
    };
    app.click("HTTP");
    app.click("traceparent");
    app.send_and_wait("Send");
    assert!(!carries(&mut app), "unticked: no traceparent");
    app.click("gRPC");
    app.send_and_wait("Send");
    assert!(carries(&mut app), "gRPC's own tick is still on");
    app.click("HTTP");
    app.send_and_wait("Send");
    assert!(!carries(&mut app), "HTTP's stays off");
    app.click("traceparent");
    app.send_and_wait("Send");
    assert!(carries(&mut app), "ticked again");
}

#[test]
pub(super) fn grpc_lookup_shows_grpc_phases_and_trailers() {
    let mut app = start_app();
    app.click("gRPC");
    app.send_and_wait("Send");
    let e = app
        .harness
        .state()
        .selected_entry()
        .unwrap()
        .exchange
        .clone();
    assert_eq!(e.transport, Transport::Grpc);
    assert_eq!(e.status.as_deref(), Some("OK"));
    for phase in [
        "phase connect",
        "phase request sent",
        "phase response headers",
        "phase message",
        "phase trailers",
    ] {
        app.assert_shown(phase);
    }
    app.assert_shown("grpc-status 0 OK");
    app.assert_shown("Trailers (1)");
}

#[test]
pub(super) fn amqp_publish_and_place_order_show_confirm_and_delivery() {
    let mut app = start_app();
    app.click("AMQP");
    app.send_and_wait("Publish");
    let e = app
        .harness
        .state()
        .selected_entry()
        .unwrap()
        .exchange
        .clone();
    assert_eq!(e.status.as_deref(), Some("ack"), "{:?}", e.error);
    for phase in [
        "phase connect",
        "phase channel open",
        "phase publish",
        "phase broker confirm",
    ] {
        app.assert_shown(phase);
    }

    let before = app.harness.state().history_view().history.len();
    app.click("Place order");
    app.wait_until("the order and its delivery", |a| {
        a.history_view().history.len() >= before + 2 && !a.is_busy(TransportTab::Amqp)
    });
    let history = &app.harness.state().history_view().history;
    let order = &history[history.len() - 2].exchange;
    let delivery = &history[history.len() - 1].exchange;
    assert_eq!(order.status.as_deref(), Some("201 Created"));
    assert_eq!(
        delivery.status.as_deref(),
        Some("delivered"),
        "{:?}",
        delivery.error
    );
    let order_id =
        serde_json::from_slice::<serde_json::Value>(&order.response.as_ref().unwrap().body.bytes)
            .unwrap()["order_id"]
            .as_str()
            .unwrap()
            .to_string();
    let response = delivery.response.as_ref().unwrap();
    assert!(
        response
            .headers
            .iter()
            .any(|h| h.name == "message_id" && h.value == order_id)
    );
    app.assert_shown("phase delivery");
    app.assert_shown("basic.deliver");

    // The order carried a traceparent: the demo services' spans come back to the app's
    // receiver and show under the order's timeline, the consumer's included.
    assert!(
        order
            .request
            .headers
            .iter()
            .any(|h| h.name == "traceparent"),
        "{:?}",
        order.request.headers
    );
    let order_seq = history[history.len() - 2].seq;
    // What Place order shows (the event's delivery) has them, on its own clock…
    app.wait_until("the spans under Place order's result", |a| {
        a.selected_entry()
            .is_some_and(|e| e.exchange.spans.iter().any(|s| s.kind == "consumer"))
    });
    app.assert_shown("span order-service POST /orders");
    app.assert_shown("span user-service");
    app.assert_shown("Inside the services");
    // …and so does the order's own exchange in the history.
    app.harness.state_mut().select_entry(order_seq);
    app.wait_until("the order's spans", |a| {
        a.selected_entry()
            .is_some_and(|e| e.exchange.spans.iter().any(|s| s.kind == "consumer"))
    });
    app.assert_shown("span order-service POST /orders");
    app.assert_shown("span user-service user.UserService/GetUserInfo");
    app.assert_shown("span user-service");
    app.assert_shown("Inside the services");
}

#[test]
pub(super) fn a_stopped_service_shows_its_error_where_the_user_sent() {
    let mut app = start_app();
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
    app.click("HTTP");
    app.send_and_wait("Send");
    let e = app
        .harness
        .state()
        .selected_entry()
        .unwrap()
        .exchange
        .clone();
    assert!(e.error.is_some());
    app.assert_shown("connection refused");
    app.assert_shown("start it in the services strip above");
    app.assert_shown("phase connect");

    // Start it again: the same address answers.
    app.click("Start");
    app.wait_until("the User Service to run and consume again", |a| {
        a.strip().services.iter().all(|s| s.running)
            && matches!(
                a.strip().consumer,
                Some(demo_services::ConsumerState::Consuming { .. })
            )
    });
    app.send_and_wait("Send");
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
}

#[test]
pub(super) fn bad_input_and_cancel_are_reported_inline() {
    let mut app = start_app();
    app.click("HTTP");
    app.harness.state_mut().settings.editors.http.url = "http//no-scheme".to_string();
    app.send_and_wait("Send");
    app.assert_shown("malformed URL");
    app.assert_shown("fix the field and send again");

    app.harness.state_mut().settings.editors.http = switchboard::ui::http_editor::default_request();
    let config_url = format!(
        "http://{}/user/1",
        app.harness.state().strip().services[0]
            .addrs
            .split(' ')
            .nth(1)
            .unwrap()
    );
    app.harness.state_mut().settings.editors.http.url = config_url;
    app.harness
        .state_mut()
        .set_knobs(ServiceId::User, 30_000, 0.0);
    app.wait_until("the latency knob", |a| {
        a.strip()
            .services
            .iter()
            .any(|s| s.id == ServiceId::User && s.latency_ms == 30_000)
    });
    app.click("Send");
    app.wait_until("the request to be in flight", |a| {
        a.is_busy(TransportTab::Http)
    });
    let before = app.harness.state().history_view().history.len();
    app.click("Cancel");
    app.wait_until("the cancel", |a| !a.is_busy(TransportTab::Http));
    assert!(
        matches!(
            app.harness.state().outcome(TransportTab::Http),
            Some(EditorOutcome::Cancelled(s)) if s.starts_with("cancelled after")
        ),
        "{:?}",
        app.harness.state().outcome(TransportTab::Http)
    );
    // The cancelled exchange is kept: in History, and in the result with what came before the
    // cancel (the connection, the request) and the phase it stopped in.
    assert_eq!(app.harness.state().history_view().history.len(), before + 1);
    let e = app
        .harness
        .state()
        .selected_entry()
        .unwrap()
        .exchange
        .clone();
    assert_eq!(
        e.error.as_ref().map(|e| e.kind),
        Some(switchboard::engine::ErrorKind::Cancelled)
    );
    app.assert_shown("phase connect");
    app.assert_shown("phase request sent");
    app.assert_shown("cancelled by the user");
    app.harness.state_mut().set_knobs(ServiceId::User, 0, 0.0);
}

#[test]
pub(super) fn compare_shows_two_pinned_exchanges_on_one_axis() {
    let mut app = start_app();
    app.click("HTTP");
    app.send_and_wait("Send");
    app.click("gRPC");
    app.send_and_wait("Send");
    for pin in app.harness.get_all_by_label("pin").collect::<Vec<_>>() {
        pin.click();
    }
    app.harness.step();
    assert_eq!(app.harness.state().history_view().pinned.len(), 2);
    app.click("Compare pinned");
    assert!(app.harness.state().history_view().compare);
    app.assert_shown("Compare");
    app.assert_shown("A · Response");
    app.assert_shown("B · Response");
    // Both timelines: HTTP's first byte and gRPC's trailers on the same axis.
    app.assert_shown("phase first byte");
    app.assert_shown("phase trailers");
    // What differs is listed and highlighted: the status words and content types differ, the
    // user both return does not.
    app.assert_shown("differences");
    app.assert_shown("response header content-type");
    app.assert_shown("application/grpc");
    let state = app.harness.state();
    let pinned: Vec<&switchboard::engine::Exchange> = state
        .history_view()
        .pinned
        .iter()
        .map(|seq| {
            &state
                .history_view()
                .history
                .iter()
                .find(|e| e.seq == *seq)
                .unwrap()
                .exchange
        })
        .collect();
    let diffs = switchboard::engine::compare::differences(&pinned);
    assert!(diffs.iter().any(|d| d.what == "status"), "{diffs:?}");
    for same in [
        "response body $.id",
        "response body $.name",
        "response body $.email",
    ] {
        assert!(
            !diffs.iter().any(|d| d.what == same),
            "the same user: {diffs:?}"
        );
    }
    // gRPC's JSON names fields in lowerCamelCase: that is a difference.
    assert!(
        diffs.iter().any(|d| d.what == "response body $.orderCount"),
        "{diffs:?}"
    );
}

/// Spans of a trace no request here started are not attached to any exchange: the top bar's
/// *Traces* menu lists them as other traces.
#[test]
pub(super) fn spans_of_unknown_traces_are_listed_apart() {
    let mut app = start_app();
    app.wait_until("the OTLP receiver", |a| matches!(a.traces(), Some(Ok(_))));
    let endpoint = match &app.harness.state().traces() {
        Some(Ok(up)) => up.endpoint.clone(),
        _ => unreachable!(),
    };
    let export = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"billing"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"charge card","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000"}]}]}]}"#;
    let addr = endpoint.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    use std::io::{Read, Write};
    write!(
        stream,
        "POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{export}",
        export.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    app.wait_until(
        "the span",
        |a| matches!(&a.traces(), Some(Ok(up)) if up.store.counts().accepted == 1),
    );
    app.harness
        .get_by_label_contains("Traces: ")
        .click_accesskit();
    app.harness.step();
    app.harness.step();
    app.assert_shown("Other traces");
    app.assert_shown("5b8efff798038103d269b633813fc60c · 1 span · billing");
    assert!(
        app.harness
            .state()
            .history_view()
            .history
            .iter()
            .all(|e| e.exchange.spans.is_empty())
    );
}
