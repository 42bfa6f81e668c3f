//! The real app driven through egui_kittest: in-process demo services on port 0, the real
//! broker, clicks by accessible label, and a deadline on every wait.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use demo_services::DemoConfig;
use demo_services::supervisor::ServiceId;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use switchboard::engine::Transport;
use switchboard::ui::app::{DemoState, EditorOutcome};
use switchboard::ui::backend::BackendOptions;
use switchboard::ui::settings::{EditorKind, TransportTab};
use switchboard::ui::viewer::TabStatus;
use switchboard::ui::{AppOptions, SwitchboardApp};

struct TestApp {
    harness: Harness<'static, SwitchboardApp>,
    _runtime: tokio::runtime::Runtime,
}

/// A fresh data directory (history, secrets, the sample collection) for one app.
fn temp_data_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sb-ui-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn start_app() -> TestApp {
    start_app_in(temp_data_dir())
}

fn start_app_in(data_dir: std::path::PathBuf) -> TestApp {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = DemoConfig {
        amqp_url: common::amqp_url(),
        topology: common::unique_topology(),
        ..DemoConfig::ephemeral()
    };
    let options = AppOptions {
        backend: BackendOptions {
            demo: Some(config),
            amqp_url: common::amqp_url(),
            nats_url: common::nats_url(),
            kafka_url: switchboard::engine::kafka::DEFAULT_KAFKA_URL.to_string(),
            data_dir: data_dir.clone(),
        },
        script: None,
    };
    let handle = runtime.handle().clone();
    let harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |cc| SwitchboardApp::new(cc, &handle, options));
    let mut app = TestApp {
        harness,
        _runtime: runtime,
    };
    app.wait_until(
        "the demo services to start and the sample collection to load",
        |a| {
            matches!(a.demo, DemoState::Up { .. })
                && !a.services.is_empty()
                && a.collections.opened.iter().all(|o| o.collection.is_some())
                && !a.collections.opened.is_empty()
        },
    );
    app
}

impl TestApp {
    /// Steps frames until `done` holds, failing after 20 s.
    fn wait_until(&mut self, what: &str, done: impl Fn(&SwitchboardApp) -> bool) {
        self.wait_secs(20, what, done);
    }

    /// Steps frames until `done` holds, failing after `secs` seconds.
    fn wait_secs(&mut self, secs: u64, what: &str, done: impl Fn(&SwitchboardApp) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            self.harness.step();
            if done(self.harness.state()) {
                self.harness.step();
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn click(&mut self, label: &str) {
        self.harness.get_by_label(label).click();
        self.harness.step();
        // Popups and dialogs lay themselves out in the frame after they open.
        self.harness.step();
    }

    fn send_and_wait(&mut self, button: &str) {
        let before = self.harness.state().history.len();
        self.click(button);
        self.wait_until("the exchange", |a| {
            a.history.len() > before && !a.is_busy(a.settings.transport)
        });
    }

    /// Asserts a widget whose label or value (text fields) contains `label` is on screen; on
    /// failure, lists the texts that are.
    fn assert_shown(&self, label: &str) {
        let found = egui_kittest::kittest::by()
            .include_labels()
            .predicate(move |n| {
                n.label().is_some_and(|t| t.contains(label))
                    || n.value().is_some_and(|v| v.contains(label))
            });
        if self.harness.query_all(found).next().is_some() {
            return;
        }
        let shown: Vec<String> = self
            .harness
            .query_all(
                egui_kittest::kittest::by()
                    .include_labels()
                    .predicate(|n| n.label().is_some() || n.value().is_some()),
            )
            .filter_map(|n| {
                let node = n.accesskit_node();
                node.label().or(node.value()).map(|t| t.to_string())
            })
            .collect();
        panic!("{label:?} is not on screen; shown: {shown:#?}");
    }
}

#[test]
fn http_lookup_shows_its_timeline_and_both_payloads() {
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
        matches!(app.harness.state().outcomes.get(&TransportTab::Http), Some(EditorOutcome::Sent(s)) if s.starts_with("200 OK"))
    );
    // The history row says what was sent and when.
    app.assert_shown("HTTP GET 200 OK");
    let mut time = switchboard::ui::viewer::format_time(entry.started_at_ms);
    time.truncate(8);
    app.assert_shown(&time);
}

#[test]
fn grpc_lookup_shows_grpc_phases_and_trailers() {
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
fn amqp_publish_and_place_order_show_confirm_and_delivery() {
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

    let before = app.harness.state().history.len();
    app.click("Place order");
    app.wait_until("the order and its delivery", |a| {
        a.history.len() >= before + 2 && !a.is_busy(TransportTab::Amqp)
    });
    let history = &app.harness.state().history;
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
}

#[test]
fn a_stopped_service_shows_its_error_where_the_user_sent() {
    let mut app = start_app();
    app.harness.get_all_by_label("Stop").next().unwrap().click();
    app.wait_until("the User Service to stop", |a| {
        a.services
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
    app.wait_until("the User Service to run", |a| {
        a.services.iter().all(|s| s.running)
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
fn bad_input_and_cancel_are_reported_inline() {
    let mut app = start_app();
    app.click("HTTP");
    app.harness.state_mut().settings.http.url = "http//no-scheme".to_string();
    app.send_and_wait("Send");
    app.assert_shown("malformed URL");
    app.assert_shown("fix the field and send again");

    app.harness.state_mut().settings.http = Default::default();
    let config_url = format!(
        "http://{}/user/1",
        app.harness.state().services[0]
            .addrs
            .split(' ')
            .nth(1)
            .unwrap()
    );
    app.harness.state_mut().settings.http.url = config_url;
    app.harness
        .state_mut()
        .set_knobs(ServiceId::User, 30_000, 0.0);
    app.wait_until("the latency knob", |a| {
        a.services
            .iter()
            .any(|s| s.id == ServiceId::User && s.latency_ms == 30_000)
    });
    app.click("Send");
    app.wait_until("the request to be in flight", |a| {
        a.is_busy(TransportTab::Http)
    });
    app.click("Cancel");
    app.wait_until("the cancel", |a| !a.is_busy(TransportTab::Http));
    assert_eq!(
        app.harness.state().outcomes.get(&TransportTab::Http),
        Some(&EditorOutcome::Cancelled("cancelled".to_string()))
    );
    app.assert_shown("cancelled");
}

#[test]
fn compare_shows_two_pinned_exchanges_on_one_axis() {
    let mut app = start_app();
    app.click("HTTP");
    app.send_and_wait("Send");
    app.click("gRPC");
    app.send_and_wait("Send");
    for pin in app.harness.get_all_by_label("pin").collect::<Vec<_>>() {
        pin.click();
    }
    app.harness.step();
    assert_eq!(app.harness.state().pinned.len(), 2);
    app.click("Compare pinned");
    assert!(app.harness.state().compare);
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
        .pinned
        .iter()
        .map(|seq| {
            &state
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

fn imported_messages(n: usize) -> Vec<switchboard::engine::watch::WatchedMessage> {
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
fn the_viewer_filters_without_dropping_and_shows_the_selected_message() {
    let mut app = start_app();
    app.harness
        .state_mut()
        .open_imported("fixture.jsonl", imported_messages(30));
    app.harness.step();
    app.assert_shown("30 shown");
    let tab_id = app.harness.state().viewer.active.unwrap();

    app.harness.get_by_label("Filter").click();
    app.harness.step();
    app.harness
        .get_by_label("Filter")
        .type_text("order.cancelled");
    app.harness.step();
    app.assert_shown("15 shown");
    let tab = app
        .harness
        .state()
        .viewer
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
    app.assert_shown("5 shown");
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
    assert_eq!(settings.transport, TransportTab::Amqp);
    assert_eq!(settings.amqp.routing_key, "order.cancelled");
    assert_eq!(settings.amqp.message_id, "msg-3");
    assert!(settings.amqp.body.contains("\"o-3\""));
}

/// What the last frames put on the clipboard.
fn copied(app: &TestApp) -> Option<String> {
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
fn copy_as_json_of_a_message_masks_its_credentials_unless_kept() {
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
fn live_tail_pauses_counts_new_messages_and_jumps_back() {
    let mut app = start_app();
    app.harness
        .state_mut()
        .open_imported("tail.jsonl", imported_messages(200));
    app.harness.step();
    let id = app.harness.state().viewer.active.unwrap();
    assert!(app.harness.state().viewer.tabs[0].live_tail);
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
        !app.harness.state().viewer.tabs[0].live_tail,
        "scrolling up pauses the live tail"
    );
    let more = imported_messages(7);
    app.harness
        .state_mut()
        .viewer
        .tab_mut(id)
        .unwrap()
        .ingest(more);
    app.harness.step();
    app.assert_shown("7 new — jump to newest");
    app.click("7 new — jump to newest");
    app.harness.step();
    let tab = &app.harness.state().viewer.tabs[0];
    assert!(tab.live_tail);
    assert_eq!(tab.new_since_pause, 0);
    assert_eq!(tab.view.len(), 207);
}

#[test]
fn a_live_tap_in_the_viewer_receives_published_messages() {
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
            a.viewer.tabs.first().map(|t| &t.status),
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
    app.wait_until("three messages", |a| a.viewer.tabs[0].store.received == 3);
    app.assert_shown("received 3");
}

#[test]
fn publish_many_shows_progress_and_the_result() {
    let mut app = start_app();
    app.click("AMQP");
    app.harness.state_mut().settings.amqp.many_count = 40;
    app.harness.step();
    app.click("Publish 40");
    app.wait_until("publish many to finish", |a| {
        matches!(&a.many, Some((_, Ok(p))) if p.done) && !a.is_busy(TransportTab::Amqp)
    });
    app.assert_shown("40 published, 40 confirmed, 0 failed");
}

/// #19.4: with *Numbered*, each message of the series carries its number as its message id
/// (none was set in the editor), seen by a tap in the viewer.
#[test]
fn publish_many_numbered_numbers_the_message_ids() {
    let mut app = start_app();
    app.click("Messages");
    app.click("Start watch");
    app.wait_until("the tap to be bound", |a| {
        matches!(
            a.viewer.tabs.first().map(|t| &t.status),
            Some(TabStatus::Watching { .. })
        )
    });
    app.click("Requests");
    app.click("AMQP");
    {
        let amqp = &mut app.harness.state_mut().settings.amqp;
        amqp.many_count = 5;
        amqp.many_numbered = true;
        amqp.message_id.clear();
    }
    app.harness.step();
    app.click("Publish 5");
    app.wait_until("the five on the tap", |a| {
        a.viewer.tabs[0].store.received >= 5 && !a.is_busy(TransportTab::Amqp)
    });
    let ids: Vec<String> = app.harness.state().viewer.tabs[0]
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
fn binary_bodies_show_as_hex_in_the_viewer() {
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

#[test]
fn a_load_run_shows_throughput_and_percentiles() {
    let mut app = start_app();
    app.click("HTTP");
    app.click("Load test");
    app.harness.state_mut().settings.load.requests = 120;
    app.harness.state_mut().settings.load.concurrency = 4;
    app.harness.step();
    app.click("Run load");
    app.wait_until("the load run", |a| {
        a.load.as_ref().is_some_and(|l| l.result.is_some()) && !a.is_busy(TransportTab::Http)
    });
    app.assert_shown("120 requests in");
    app.assert_shown("120 ok, 0 failed");
    app.assert_shown("p99");
}

#[test]
fn the_grpc_method_browser_discovers_by_reflection_and_fills_a_template() {
    let mut app = start_app();
    app.click("gRPC");
    app.click("Discover methods");
    app.wait_until(
        "the methods",
        |a| matches!(&a.grpc_methods, Some((_, Ok(m))) if m.len() == 6),
    );
    app.assert_shown("Methods of");
    app.assert_shown("client stream");
    app.click("user.UserService/CountUsers");
    let g = app.harness.state().settings.grpc.clone();
    assert_eq!(g.method, "user.UserService/CountUsers");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&g.json).unwrap(),
        serde_json::json!({"userId": ""})
    );

    // A client stream from the editor: two messages, one summary back.
    app.harness.state_mut().settings.grpc.json = r#"{"userId":"1"} {"userId":"3"}"#.to_string();
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
fn a_live_server_stream_shows_messages_as_they_arrive_and_stops_on_cancel() {
    let mut app = start_app();
    app.click("gRPC");
    {
        let g = &mut app.harness.state_mut().settings.grpc;
        g.method = "user.UserService/WatchOrders".to_string();
        g.json = r#"{"userId":"3"}"#.to_string();
    }
    app.harness.state_mut().settings.timeout_secs = 60.0;
    app.harness.step();
    app.click("Send");
    app.wait_until("the stream to open", |a| a.is_busy(TransportTab::Grpc));
    // An order placed now is consumed by the User Service and streamed to us.
    let order_url = app.harness.state().settings.amqp.order_url.clone();
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
        a.stream_view.as_ref().is_some_and(|(_, m)| m.len() == 1)
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
            app.harness.state().outcomes.get(&TransportTab::Grpc),
            Some(EditorOutcome::Cancelled(_))
        ),
        "{:?}",
        app.harness.state().outcomes.get(&TransportTab::Grpc)
    );
    app.assert_shown("cancelled");
    assert!(
        app.harness.query_by_label_contains("gRPC failed").is_none(),
        "the history calls the cancelled call a failure"
    );
}

#[test]
fn a_bidi_stream_sends_messages_one_by_one_and_half_closes() {
    let mut app = start_app();
    app.click("gRPC");
    app.click("Discover methods");
    app.wait_until("the methods", |a| {
        matches!(&a.grpc_methods, Some((_, Ok(_))))
    });
    app.click("user.UserService/LookupStream");
    app.click("Open stream");
    app.wait_until("the stream to open", |a| {
        a.open_stream.is_some() && a.is_busy(TransportTab::Grpc)
    });
    for (i, id) in ["1", "4"].iter().enumerate() {
        app.harness.state_mut().settings.grpc.json = format!(r#"{{"userId":"{id}"}}"#);
        app.harness.step();
        app.click("Send message");
        app.wait_until("the answer", |a| {
            a.stream_view
                .as_ref()
                .is_some_and(|(_, m)| m.len() == i + 1)
        });
    }
    app.assert_shown("Stream open: 2 sent");
    app.assert_shown("Grace Hopper");
    // Invalid JSON is refused where the user acted, and the stream stays open.
    app.harness.state_mut().settings.grpc.json = "{oops".to_string();
    app.harness.step();
    app.click("Send message");
    app.wait_until("the refusal", |a| {
        matches!(
            a.outcomes.get(&TransportTab::Grpc),
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

impl TestApp {
    /// Replaces a text field's content (select all, then type).
    fn replace_text(&mut self, label: &str, text: &str) {
        self.harness.get_by_label(label).click();
        self.harness.step();
        self.harness
            .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        self.harness.step();
        self.harness.get_by_label(label).type_text(text);
        self.harness.step();
    }

    /// Types at the end of a text field.
    /// Types `text` at the end of the field labelled `label`.
    fn type_into(&mut self, label: &str, text: &str) {
        self.harness.get_by_label(label).click();
        self.harness.step();
        // The click may land inside the text: append, as a user would, from its end.
        self.harness.key_press(egui::Key::End);
        self.harness.step();
        self.harness.get_by_label(label).type_text(text);
        self.harness.step();
        // The bar above the editor is drawn before the editor: it shows the edit next frame.
        self.harness.step();
    }

    fn demo_collection(&self) -> std::path::PathBuf {
        self.harness.state().collections.opened[0].root.clone()
    }

    fn active_rel(&self, kind: EditorKind) -> Option<String> {
        self.harness
            .state()
            .collections
            .active
            .get(&kind)
            .map(|a| a.rel.clone())
    }

    /// Waits until the editor of `kind` holds the saved request at `rel`.
    fn wait_for_rel(&mut self, kind: EditorKind, rel: &str) {
        self.wait_until(&format!("the {kind:?} editor to hold {rel}"), |a| {
            a.collections
                .active
                .get(&kind)
                .is_some_and(|x| x.rel == rel)
        });
    }

    fn assert_not_shown(&self, label: &str) {
        let found = egui_kittest::kittest::by()
            .include_labels()
            .predicate(move |n| n.label().is_some_and(|t| t.contains(label)));
        assert!(
            self.harness.query_all(found).next().is_none(),
            "{label:?} is still on screen"
        );
    }
}

fn saved_file(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn save_writes_the_editor_to_a_file_marks_unsaved_changes_and_asks_on_conflict() {
    let mut app = start_app();
    let root = app.demo_collection();
    app.click("HTTP");
    app.click("Save to collection…");
    app.replace_text("Request name", "My lookup");
    app.click("Save");
    app.wait_until("the request to be saved", |a| {
        a.collections.active.contains_key(&EditorKind::Http)
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
            a.collections.dialog,
            Some(switchboard::ui::collections::Dialog::Conflict { .. })
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
fn rename_renames_the_request_and_its_file() {
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
        a.collections.opened[0]
            .collection
            .as_ref()
            .and_then(|c| c.as_ref().ok())
            .is_some_and(|c| c.items.iter().any(|i| i.name() == "First user"))
    });
    app.assert_shown("First user");
    app.assert_not_shown("User 1 is John Doe");
}

#[test]
fn the_environment_switcher_changes_what_is_sent_and_unresolved_variables_block_sending() {
    use egui::accesskit::Role;
    let mut app = start_app();
    let root = app.demo_collection();
    app.click("Get user (HTTP)");
    assert_eq!(
        app.harness.state().settings.http.url,
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
    let before = app.harness.state().history.len();
    app.click("Send");
    app.harness.step();
    assert_eq!(app.harness.state().history.len(), before);
    match app.harness.state().outcomes.get(&TransportTab::Http) {
        Some(EditorOutcome::Failed(m)) => assert!(m.contains("{{api_token}}"), "{m}"),
        other => panic!("expected the unresolved variable to be reported: {other:?}"),
    }
}

#[test]
fn history_survives_a_restart_and_reopens_its_request() {
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
    app.wait_until("the history to load", |a| a.history.len() == 1);
    let entry = app.harness.state().history[0].clone();
    assert!(entry.exchange.target.ends_with("/user/1"));
    assert_eq!(entry.request.as_ref().unwrap().name, "User 1 is John Doe");
    // Searchable…
    app.type_into("Search", "no such thing");
    app.assert_not_shown("HTTP GET 200 OK");
    app.replace_text("Search", "user/1");
    app.assert_shown("HTTP GET 200 OK");
    // …and re-openable: the request goes back into the editor.
    app.harness.state_mut().settings.http.url = "http://elsewhere/".into();
    app.harness.state_mut().selected = Some(entry.seq);
    app.harness.step();
    app.click("Open in editor");
    assert_eq!(app.harness.state().settings.http.url, "{{base_url}}/user/1");
}

#[test]
fn move_and_delete_act_on_the_files_and_delete_asks_first() {
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
        !a.collections.active.contains_key(&EditorKind::Grpc)
    });
    assert!(!moved.exists());
    // The editor keeps what it held, now as an unsaved request.
    assert_eq!(
        app.harness.state().settings.grpc.method,
        "user.UserService/GetUserInfo"
    );
    app.assert_shown("Unsaved gRPC request");
}

#[test]
fn a_saved_watch_opens_in_the_viewer_and_starts_with_its_variables() {
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
        a.viewer
            .tabs
            .last()
            .is_some_and(|t| matches!(t.status, TabStatus::Watching { .. }))
    });
    let tab = app.harness.state().viewer.tabs.last().unwrap();
    assert_eq!(tab.title, format!("tap {exchange} order.#"));
}

#[test]
fn collections_in_the_data_directory_open_at_start_and_broken_files_are_shown_as_such() {
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
        a.collections.opened.len() == 2
            && a.collections.opened.iter().all(|o| o.collection.is_some())
    });
    app.assert_shown("Team APIs");
    app.assert_shown("Demo: User Service and Order Service");
    // Fold the sample away so the team's collection is in view.
    app.click("Demo: User Service and Order Service");
    app.assert_shown("(broken) broken.json");
    app.click("(broken) broken.json");
    match &app.harness.state().collections.notice {
        Some(Err(m)) => assert!(m.contains("cannot be opened"), "{m}"),
        other => panic!("expected an error notice, got {other:?}"),
    }
    assert_eq!(std::fs::read(team.join("broken.json")).unwrap(), broken);
}

#[test]
fn a_pasted_curl_command_is_imported_opened_and_its_token_kept_out_of_the_folder() {
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
        a.collections.active.contains_key(&EditorKind::Http)
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
fn the_http_editor_has_tls_files_and_uses_them() {
    let mut app = start_app();
    // A real listener (plain HTTP): the connection opens, then TLS needs the CA file.
    let addr = app.harness.state().demo_config().unwrap().user_http_addr;
    app.harness.state_mut().settings.http.url = format!("https://{addr}/user/1");
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
fn run_all_checks_the_sample_collection_and_reports_failures_when_a_service_stops() {
    let mut app = start_app();
    let root = app.demo_collection();
    let done = |a: &SwitchboardApp| a.collections.runs.values().next().is_some_and(|r| r.done);
    app.click("Run all");
    app.wait_until("the run", done);
    app.assert_shown("6 passed, 0 failed, 1 skipped");
    let run = &app.harness.state().collections.runs[&root];
    assert_eq!(run.results.len(), 7);
    // Each exchange went to the history, linked to its saved request.
    let history = &app.harness.state().history;
    assert_eq!(history.len(), 6);
    assert!(history.iter().all(|e| e.request.is_some()));

    // The services strip's first Stop is the User Service's.
    app.harness.get_all_by_label("Stop").next().unwrap().click();
    app.wait_until("the User Service to stop", |a| {
        a.services
            .iter()
            .any(|s| s.id == ServiceId::User && !s.running)
    });
    app.click("Run all");
    app.wait_until("the second run", done);
    let run = &app.harness.state().collections.runs[&root];
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
fn a_postman_file_is_imported_from_the_app() {
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
        |a| matches!(&a.collections.notice, Some(Ok(m)) if m.starts_with("imported")),
    );
    match &app.harness.state().collections.notice {
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
fn a_two_thousand_request_postman_import_shows_progress_while_the_window_stays_live() {
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
        seen.borrow_mut().push(a.collections.importing);
        matches!(&a.collections.notice, Some(Ok(m)) if m.starts_with("imported"))
    });
    let _ = std::fs::remove_file(&file);
    match &app.harness.state().collections.notice {
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
    assert_eq!(app.harness.state().collections.importing, None);
}

#[test]
fn reload_picks_up_changes_made_outside_and_follows_them_in_a_clean_editor() {
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
        a.settings.http.url == "{{base_url}}/user/2"
    });
    app.assert_shown("Pulled from git");
    app.assert_shown("User 2 is Jane Roe");
    assert!(!app.harness.state().is_dirty(EditorKind::Http));
}

// ---------------------------------------------------------------------------------------------
// Credentials at rest

/// What eframe's file storage holds, written to the state file location when flushed (as eframe
/// does when the window closes).
struct StateFile {
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

impl TestApp {
    /// Closes the app as eframe does: `save` into the state storage, flush, `on_exit`.
    fn close(mut self, storage: &mut StateFile) {
        eframe::App::save(self.harness.state_mut(), storage);
        eframe::Storage::flush(storage);
        eframe::App::on_exit(self.harness.state_mut(), None);
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
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
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A `{{switchboard_editor_…}}` reference typed into an editor, or planted in settings.json
/// while the app is closed, stays text: only the fields the app itself moved out are filled
/// back, so no secret ends up in a field the detector does not flag (and from there in clear in
/// settings.json and the history).
#[test]
fn only_the_references_the_app_made_are_filled_back_at_launch() {
    use switchboard::ui::settings::KeyValue;
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
        s.grpc.metadata = vec![KeyValue::new("authorization", "Bearer grpc-5ecret")];
        s.amqp.url = "amqp://guest:amqp-5ecret@127.0.0.1:5672/%2f".into();
        s.http.headers = vec![KeyValue::new("X-Leak", typed)];
        app.close(&mut storage);
    }
    // Planted while the app is closed.
    let path = data.join("settings.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    json["amqp"]["headers"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::to_value(KeyValue::new("X-Debug", planted)).unwrap());
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    {
        let app = start_app_in(data.clone());
        let s = &app.harness.state().settings;
        assert_eq!(s.http.headers[0].value, typed);
        assert_eq!(s.amqp.headers.last().unwrap().value, planted);
        // What the app moved out itself comes back.
        assert_eq!(s.grpc.metadata[0].value, "Bearer grpc-5ecret");
        assert!(s.amqp.url.contains("guest:amqp-5ecret@"), "{}", s.amqp.url);
        app.close(&mut storage);
    }
    let settings = std::fs::read_to_string(&path).unwrap();
    assert!(!settings.contains("5ecret"), "{settings}");
    assert!(settings.contains(typed) && settings.contains(planted));
    let _ = std::fs::remove_dir_all(&data);
}

#[cfg(unix)]
#[test]
fn credentials_sent_from_every_editor_stay_out_of_every_file_but_the_secret_store() {
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
            s.http.url = format!(
                "http://bob:http-url-5ecret@{}/user/1",
                config.user_http_addr
            );
            s.http.headers = vec![
                switchboard::ui::settings::KeyValue::new(
                    "Authorization",
                    "Bearer http-bearer-5ecret",
                ),
                switchboard::ui::settings::KeyValue::new(
                    "Proxy-Authorization",
                    &format!("Basic {}", b64("alice:http-basic-5ecret")),
                ),
            ];
            s.grpc.addr = format!("http://carol:grpc-url-5ecret@{}", config.user_grpc_addr);
            s.grpc.metadata = vec![
                switchboard::ui::settings::KeyValue::new(
                    "authorization",
                    "Bearer grpc-bearer-5ecret",
                ),
                switchboard::ui::settings::KeyValue::new(
                    "proxy-authorization",
                    &format!("Basic {}", b64("carol:grpc-basic-5ecret")),
                ),
            ];
            // The broker refuses this password: the failed publish is recorded all the same.
            s.amqp.url = "amqp://guest:amqp-url-5ecret@127.0.0.1:5672/%2f".to_string();
            s.amqp.headers = vec![
                switchboard::ui::settings::KeyValue::new(
                    "authorization",
                    "Bearer amqp-bearer-5ecret",
                ),
                switchboard::ui::settings::KeyValue::new(
                    "proxy-authorization",
                    &format!("Basic {}", b64("dave:amqp-basic-5ecret")),
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
    app.wait_until("the history to load", |a| a.history.len() == 3);
    let s = &app.harness.state().settings;
    assert!(
        s.http.url.contains("bob:http-url-5ecret@"),
        "{}",
        s.http.url
    );
    assert_eq!(s.http.headers[0].value, "Bearer http-bearer-5ecret");
    assert_eq!(
        s.grpc.metadata[1].value,
        format!("Basic {}", b64("carol:grpc-basic-5ecret"))
    );
    assert!(
        s.grpc.addr.contains("carol:grpc-url-5ecret@"),
        "{}",
        s.grpc.addr
    );
    assert_eq!(
        s.amqp.url,
        "amqp://guest:amqp-url-5ecret@127.0.0.1:5672/%2f"
    );
    assert_eq!(s.amqp.headers[0].value, "Bearer amqp-bearer-5ecret");
    let first = app.harness.state().history[0].clone();
    assert_eq!(
        first.exchange.request.headers[0].value,
        "Bearer •••• (redacted)"
    );
    // Opened in the editor, a masked request says so.
    app.harness.state_mut().selected = Some(first.seq);
    app.harness.step();
    app.click("Open in editor");
    app.assert_shown("credentials masked");

    // Told to forget them, the app keeps no editor credential at all.
    app.click("Settings");
    app.click("Forget them (type them again after a restart)");
    app.harness.state_mut().settings.http.headers[0].value = "Bearer http-bearer-5ecret".into();
    app.close(&mut storage);
    let store = std::fs::read_to_string(data.join("secrets.json")).unwrap();
    assert!(!store.contains("5ecret"), "{store}");
    let settings = std::fs::read_to_string(data.join("settings.json")).unwrap();
    assert!(!settings.contains("5ecret"), "{settings}");
    let _ = std::fs::remove_dir_all(&data);
}

/// #19.1: Ctrl+Enter sends the request and never also presses the focused button.
#[test]
fn ctrl_enter_sends_without_pressing_the_focused_button() {
    let mut app = start_app();
    app.click("HTTP");
    let config_url = format!(
        "http://{}/user/1",
        app.harness.state().demo_config().unwrap().user_http_addr
    );
    app.harness.state_mut().settings.http.url = config_url;
    app.harness.step();
    let headers_before = app.harness.state().settings.http.headers.len();
    let history_before = app.harness.state().history.len();
    app.harness.get_by_label("Remove").focus();
    app.harness.step();
    app.harness
        .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    app.wait_until("the request to be answered", |a| {
        a.history.len() > history_before
    });
    assert_eq!(
        app.harness.state().settings.http.headers.len(),
        headers_before,
        "the focused Remove button was pressed too"
    );
}

/// #19.3: the result pane follows what the user did: each editor shows its own last result,
/// a send leaves Compare, a unary call does not show an earlier stream.
#[test]
fn the_result_pane_follows_the_editor_and_the_last_send() {
    let mut app = start_app();
    app.click("HTTP");
    app.send_and_wait("Send");
    let http_seq = app.harness.state().selected.unwrap();
    app.click("gRPC");
    assert_eq!(
        app.harness.state().selected,
        None,
        "the gRPC editor has no result yet: the HTTP exchange must not stay on screen"
    );
    app.send_and_wait("Send");
    let grpc_seq = app.harness.state().selected.unwrap();
    assert_ne!(grpc_seq, http_seq);
    app.click("HTTP");
    assert_eq!(app.harness.state().selected, Some(http_seq));
    app.click("gRPC");
    assert_eq!(app.harness.state().selected, Some(grpc_seq));
    // A send leaves the comparison for its own result.
    app.harness.state_mut().compare = true;
    app.harness.state_mut().stream_view = Some((0, Vec::new()));
    app.harness.step();
    app.send_and_wait("Send");
    let state = app.harness.state();
    assert!(!state.compare, "the pane stayed on Compare after Send");
    assert!(
        state.stream_view.is_none(),
        "a unary call shows an earlier stream"
    );
    assert_ne!(state.selected, Some(grpc_seq));
    // A newly opened saved request does not show the previous request's "200 OK in 3 ms".
    app.click("HTTP");
    assert!(
        app.harness
            .state()
            .outcomes
            .contains_key(&TransportTab::Http)
    );
    app.click("Get user (HTTP)");
    app.harness.step();
    assert_eq!(app.harness.state().outcomes.get(&TransportTab::Http), None);
}

/// #19.2: unsaved scratch work is kept when a saved request is opened over it, and comes back.
#[test]
fn scratch_work_is_kept_when_a_saved_request_is_opened() {
    let mut app = start_app();
    app.click("HTTP");
    {
        let http = &mut app.harness.state_mut().settings.http;
        http.method = "PUT".to_string();
        http.body = "{\"scratch\": true}".to_string();
        http.headers.push(switchboard::ui::settings::KeyValue::new(
            "Authorization",
            "Bearer scratch-token",
        ));
    }
    app.harness.step();
    let scratch = app.harness.state().settings.http.clone();
    app.click("Get user (HTTP)");
    app.harness.step();
    assert_ne!(app.harness.state().settings.http, scratch);
    app.click("Back to the unsaved request");
    app.harness.step();
    let back = &app.harness.state().settings.http;
    assert_eq!(back.method, "PUT");
    assert_eq!(back.body, scratch.body);
    assert_eq!(back.headers, scratch.headers);
    app.assert_shown("Unsaved HTTP request");
}

/// #19.8: the safety nets around bodies: a JSON body without Content-Type is offered one; an
/// AMQP body that is not the JSON its content type claims is warned about; an AMQP message's
/// properties are not called headers.
#[test]
fn bodies_get_their_safety_nets() {
    let mut app = start_app();
    app.click("HTTP");
    {
        let http = &mut app.harness.state_mut().settings.http;
        http.method = "POST".to_string();
        http.headers.clear();
        http.body = "{\"user_id\": \"1\"}".to_string();
    }
    app.harness.step();
    app.assert_shown("The body is JSON but no Content-Type is set.");
    app.click("Set Content-Type: application/json");
    app.harness.step();
    assert!(
        app.harness
            .state()
            .settings
            .http
            .headers
            .iter()
            .any(|h| h.key == "Content-Type" && h.value == "application/json")
    );
    assert!(
        app.harness
            .query_by_label_contains("no Content-Type is set")
            .is_none()
    );

    app.click("AMQP");
    app.harness.state_mut().settings.amqp.body = "{not json".to_string();
    app.harness.step();
    app.assert_shown("the body is not valid JSON");

    app.harness.state_mut().settings.amqp.body = "{\"ok\": true}".to_string();
    app.harness.step();
    app.send_and_wait("Publish");
    app.assert_shown("Properties and headers");
}

/// #19.10: a new header row takes the cursor: typing goes into its name.
#[test]
fn a_new_header_row_takes_the_cursor() {
    let mut app = start_app();
    app.click("HTTP");
    let rows = app.harness.state().settings.http.headers.len();
    app.click("+ Add header");
    app.harness.run_steps(2);
    // No click into the new row: what is typed goes where the cursor is.
    app.harness.event(egui::Event::Text("x-trace".to_string()));
    app.harness.run_steps(2);
    let headers = &app.harness.state().settings.http.headers;
    assert_eq!(headers.len(), rows + 1);
    assert_eq!(headers[rows].key, "x-trace");
}

/// #19.7: an import error shows in the import dialog, where the user acted, not behind it.
#[test]
fn an_import_error_shows_in_the_import_dialog() {
    let mut app = start_app();
    app.demo_collection();
    app.click("Import…");
    app.type_into("Command line", "curl --no-such-option http://127.0.0.1:1/");
    app.click("Import");
    app.wait_until("the failed import", |a| {
        a.collections.importing.is_none() && matches!(a.collections.notice, Some(Err(_)))
    });
    let message = match &app.harness.state().collections.notice {
        Some(Err(m)) => m.clone(),
        other => panic!("{other:?}"),
    };
    assert!(message.contains("--no-such-option"), "{message}");
    // The dialog is still open, and the error is in it (below its heading, right of the side
    // panel), not only in the side panel behind it.
    assert!(app.harness.state().collections.dialog.is_some());
    let heading = app.harness.get_by_label("Import requests").rect();
    let in_dialog = app
        .harness
        .query_all_by_label_contains("unsupported curl option")
        .filter(|n| n.rect().top() > heading.top() && n.rect().left() >= heading.left() - 20.0)
        .count();
    assert_eq!(in_dialog, 1, "the error is not shown in the dialog");
}

/// The app with the demo's NATS side on unique subjects and a stream of its own.
fn start_app_with_nats() -> (TestApp, demo_services::NatsNames) {
    let names = demo_services::NatsNames::unique(&common::nats_url(), &common::tag());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = DemoConfig {
        amqp_url: common::amqp_url(),
        topology: common::unique_topology(),
        nats: Some(names.clone()),
        ..DemoConfig::ephemeral()
    };
    let options = AppOptions {
        backend: BackendOptions {
            demo: Some(config),
            amqp_url: common::amqp_url(),
            nats_url: common::nats_url(),
            kafka_url: switchboard::engine::kafka::DEFAULT_KAFKA_URL.to_string(),
            data_dir: temp_data_dir(),
        },
        script: None,
    };
    let handle = runtime.handle().clone();
    let harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |cc| SwitchboardApp::new(cc, &handle, options));
    let mut app = TestApp {
        harness,
        _runtime: runtime,
    };
    app.wait_until("the demo services to start", |a| {
        matches!(a.demo, DemoState::Up { .. }) && !a.services.is_empty()
    });
    (app, names)
}

#[test]
fn a_nats_lookup_is_compared_with_http_on_one_axis_and_a_nats_tap_receives() {
    let (mut app, names) = start_app_with_nats();
    app.wait_until("the NATS status", |a| {
        matches!(a.nats.1, switchboard::ui::backend::BrokerState::Up)
    });
    app.assert_shown("NATS server");
    app.click("NATS");
    assert_eq!(
        app.harness.state().settings.nats.subject,
        names.user_subject,
        "the editor follows the demo's subject"
    );
    app.send_and_wait("Send");
    let e = app
        .harness
        .state()
        .selected_entry()
        .unwrap()
        .exchange
        .clone();
    assert_eq!(e.transport, Transport::Nats);
    assert!(e.ok, "{:?}", e.error);
    assert_eq!(e.status.as_deref(), Some("reply"));
    for phase in ["phase connect", "phase request", "phase reply"] {
        app.assert_shown(phase);
    }
    app.assert_shown("John Doe");
    // The same user over HTTP, then both on one axis.
    app.click("HTTP");
    app.send_and_wait("Send");
    for pin in app.harness.get_all_by_label("pin").collect::<Vec<_>>() {
        pin.click();
    }
    app.harness.step();
    app.click("Compare pinned");
    app.assert_shown("phase reply");
    app.assert_shown("phase first byte");

    // A subject tap in the viewer.
    app.click("Messages");
    app.harness.get_by_label("NATS").click();
    app.harness.step();
    app.harness.step();
    let subject = app.harness.state().settings.watch_form.nats.subject.clone();
    assert_eq!(
        subject,
        names.stream_subjects(),
        "the watch form follows the demo's subjects"
    );
    app.click("Start watch");
    app.wait_until("the subscription", |a| {
        matches!(
            a.viewer.tabs.last().map(|t| &t.status),
            Some(TabStatus::Watching { .. })
        )
    });
    app._runtime.block_on(async {
        let req = switchboard::engine::nats::NatsRequest {
            count: 3,
            ..switchboard::engine::nats::NatsRequest::publish(
                common::nats_url(),
                &names.orders_subject,
                "{\"n\":1}",
            )
        };
        assert!(
            switchboard::engine::nats::execute(&req, Duration::from_secs(10))
                .await
                .iter()
                .all(|e| e.ok)
        );
    });
    app.wait_until("three messages", |a| {
        a.viewer.tabs.last().is_some_and(|t| t.store.received == 3)
    });
    app.assert_shown("received 3");
    app.assert_shown("subject");

    // Publish many from the NATS editor: a numbered JetStream series with its progress.
    {
        let s = &mut app.harness.state_mut().settings;
        s.nats.op = switchboard::engine::nats::NatsOp::Publish;
        s.nats.subject = names.orders_subject.clone();
        s.nats.jetstream = true;
        s.nats_many.count = 20;
    }
    app.click("Requests");
    app.click("NATS");
    app.click("Publish 20");
    app.wait_until(
        "the series to be acked",
        |a| matches!(&a.many, Some((_, Ok(p))) if p.done && p.confirmed == 20),
    );
    app.assert_shown("20 published, 20 confirmed, 0 failed");
    app._runtime.block_on(common::delete_stream(&names.stream));
}

#[test]
fn start_runs_a_private_nats_server_and_the_demo_and_editors_move_to_it() {
    // Nothing listens on the configured NATS port.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead_url = format!("nats://127.0.0.1:{dead}");
    let names = demo_services::NatsNames::unique(&dead_url, &common::tag());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = DemoConfig {
        amqp_url: common::amqp_url(),
        topology: common::unique_topology(),
        nats: Some(names.clone()),
        ..DemoConfig::ephemeral()
    };
    let options = AppOptions {
        backend: BackendOptions {
            demo: Some(config),
            amqp_url: common::amqp_url(),
            nats_url: dead_url.clone(),
            kafka_url: switchboard::engine::kafka::DEFAULT_KAFKA_URL.to_string(),
            data_dir: temp_data_dir(),
        },
        script: None,
    };
    let handle = runtime.handle().clone();
    let harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |cc| SwitchboardApp::new(cc, &handle, options));
    let mut app = TestApp {
        harness,
        _runtime: runtime,
    };
    app.wait_until("the NATS server to be reported down", |a| {
        matches!(a.demo, DemoState::Up { .. })
            && matches!(a.nats.1, switchboard::ui::backend::BrokerState::Down(_))
    });
    app.click("Start");
    // A server to start and both services to restart on their addresses: slower on a busy machine.
    app.wait_secs(60, "the private NATS server and the editors on it", |a| {
        a.nats.0 != dead_url
            && matches!(a.nats.1, switchboard::ui::backend::BrokerState::Up)
            && a.settings.nats.url != dead_url
    });
    let url = app.harness.state().nats.0.clone();
    assert_eq!(
        app.harness.state().settings.nats.url,
        url,
        "the editor follows"
    );
    // The demo answers there, and HTTP still works after the services moved.
    app.click("NATS");
    app.send_and_wait("Send");
    let e = app
        .harness
        .state()
        .selected_entry()
        .unwrap()
        .exchange
        .clone();
    assert!(e.ok, "{:?}", e.error);
    assert_eq!(e.transport, Transport::Nats);
    app.click("HTTP");
    app.send_and_wait("Send");
    let e = app
        .harness
        .state()
        .selected_entry()
        .unwrap()
        .exchange
        .clone();
    assert_eq!(e.status.as_deref(), Some("200 OK"), "{:?}", e.error);
}

#[test]
fn the_streams_browser_lists_streams_and_reads_and_writes_a_key_value_bucket() {
    let (mut app, names) = start_app_with_nats();
    let bucket = format!("SBKV_{}", common::tag());
    app._runtime.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(common::nats_url()).await.unwrap());
        // A bucket as the KV layer lays it out (async-nats 0.51's create_key_value sends fields
        // nats-server 2.9 does not know).
        js.create_stream(async_nats::jetstream::stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 5,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: async_nats::jetstream::stream::DiscardPolicy::New,
            ..Default::default()
        })
        .await
        .unwrap();
    });
    app.click("Messages");
    app.harness.get_by_label("NATS").click();
    app.harness.run_steps(2);
    app.click("Streams");
    app.click("List streams");
    app.wait_until("the streams", |a| {
        matches!(&a.viewer.streams.listed, Some((_, Ok(_))))
    });
    app.assert_shown(&names.stream);
    app.assert_shown(&format!("key-value bucket {bucket}"));
    app.click(&format!("key-value bucket {bucket}"));
    assert_eq!(app.harness.state().viewer.streams.kv_bucket, bucket);
    for value in ["on", "off"] {
        {
            let b = &mut app.harness.state_mut().viewer.streams;
            b.kv_key = "feature.x".into();
            b.kv_value = value.into();
            b.kv_result = None;
        }
        app.click("Put");
        app.wait_until("the put", |a| a.viewer.streams.kv_result.is_some());
    }
    app.assert_shown("rev 2 put: off");
    app.harness.state_mut().viewer.streams.kv_result = None;
    app.click("Key history");
    app.wait_until("the history", |a| a.viewer.streams.kv_result.is_some());
    app.assert_shown("rev 1 put: on");
    app.assert_shown("rev 2 put: off");
    app._runtime.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(common::nats_url()).await.unwrap());
        let _ = js.delete_stream(format!("KV_{bucket}")).await;
    });
    app._runtime.block_on(common::delete_stream(&names.stream));
}

/// The app with its demo's Kafka side on an embedded broker of the test's own.
#[cfg(feature = "kafka-broker")]
fn start_app_with_kafka() -> (
    TestApp,
    demo_services::kafka_broker::EmbeddedKafka,
    demo_services::NatsNames,
) {
    let names = demo_services::NatsNames::unique(&common::nats_url(), &common::tag());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let broker = runtime
        .block_on(demo_services::kafka_broker::EmbeddedKafka::start_free())
        .unwrap();
    let config = DemoConfig {
        amqp_url: common::amqp_url(),
        topology: common::unique_topology(),
        kafka: Some(demo_services::KafkaNames::at(&broker.url())),
        nats: Some(names.clone()),
        ..DemoConfig::ephemeral()
    };
    let options = AppOptions {
        backend: BackendOptions {
            demo: Some(config),
            amqp_url: common::amqp_url(),
            nats_url: common::nats_url(),
            kafka_url: broker.url(),
            data_dir: temp_data_dir(),
        },
        script: None,
    };
    let handle = runtime.handle().clone();
    let harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |cc| SwitchboardApp::new(cc, &handle, options));
    let mut app = TestApp {
        harness,
        _runtime: runtime,
    };
    app.wait_until("the demo services to start", |a| {
        matches!(a.demo, DemoState::Up { .. }) && !a.services.is_empty()
    });
    (app, broker, names)
}

#[cfg(feature = "kafka-broker")]
#[test]
fn a_kafka_produce_shows_its_phases_a_tap_receives_and_topics_and_groups_list() {
    let (mut app, broker, names) = start_app_with_kafka();
    app.wait_until("the Kafka status and the user service's group", |a| {
        matches!(a.kafka.1, switchboard::ui::backend::BrokerState::Up)
            && matches!(
                a.kafka_consumer,
                Some(demo_services::ConsumerState::Consuming { .. })
            )
    });
    app.assert_shown("Kafka broker");
    app.click("Kafka");
    assert_eq!(
        app.harness.state().settings.kafka.url,
        broker.url(),
        "the editor follows the demo's broker"
    );
    app.send_and_wait("Publish");
    let e = app
        .harness
        .state()
        .selected_entry()
        .unwrap()
        .exchange
        .clone();
    assert_eq!(e.transport, Transport::Kafka);
    assert!(e.ok, "{:?}", e.error);
    for phase in [
        "phase connect",
        "phase metadata",
        "phase produce",
        "phase ack",
    ] {
        app.assert_shown(phase);
    }
    app.wait_until("the user service to consume it", |a| {
        matches!(
            a.kafka_consumer,
            Some(demo_services::ConsumerState::Consuming { consumed: 1, .. })
        )
    });
    app.assert_shown("group user-service: 1 consumed");
    // Produce many: a series of 20 with its progress.
    app.harness.state_mut().settings.kafka_many.count = 20;
    app.harness.step();
    app.harness.step();
    app.click("Produce 20");
    app.wait_until(
        "the series to be acked",
        |a| matches!(&a.many, Some((_, Ok(p))) if p.done && p.confirmed == 20),
    );
    app.assert_shown("20 published, 20 confirmed, 0 failed");

    // The same order through RabbitMQ and NATS JetStream, the three on one axis.
    app.click("AMQP");
    app.send_and_wait("Publish");
    {
        let n = &mut app.harness.state_mut().settings.nats;
        n.op = switchboard::engine::nats::NatsOp::Publish;
        n.subject = names.orders_subject.clone();
        n.jetstream = true;
    }
    app.click("NATS");
    app.send_and_wait("Publish");
    let transports: Vec<Transport> = app
        .harness
        .state()
        .history
        .iter()
        .map(|e| e.exchange.transport)
        .collect();
    assert_eq!(
        transports,
        [Transport::Kafka, Transport::Amqp, Transport::Nats],
        "{:?}",
        app.harness
            .state()
            .history
            .iter()
            .map(|e| e.exchange.error.clone())
            .collect::<Vec<_>>()
    );
    for pin in app.harness.get_all_by_label("pin").collect::<Vec<_>>() {
        pin.click();
    }
    app.harness.step();
    assert_eq!(app.harness.state().pinned.len(), 3);
    app.click("Compare pinned");
    app.assert_shown("C · Response");
    app.assert_shown("phase produce");
    app.assert_shown("phase broker confirm");
    app.click("Compare pinned");

    // A tap from the earliest offset in the viewer.
    app.click("Messages");
    app.harness.get_by_label("Kafka").click();
    app.harness.step();
    app.harness.step();
    app.harness.state_mut().settings.watch_form.kafka.from = "earliest".into();
    app.click("Start watch");
    app.wait_until("the 21 records", |a| {
        a.viewer.tabs.last().is_some_and(|t| t.store.received == 21)
    });
    app.assert_shown("partition");
    app.assert_shown("offset");

    // Topics and groups.
    app.click("Topics, groups and browse");
    app.click("List topics");
    app.wait_until(
        "the topics",
        |a| matches!(&a.viewer.kafka.topics, Some((_, Ok(t))) if !t.is_empty()),
    );
    app.assert_shown("orders");
    app.click("List groups");
    app.wait_until("the groups", |a| {
        matches!(&a.viewer.kafka.groups, Some((_, Ok(g))) if g.iter().any(|g| g.group == "user-service"))
    });
    app.assert_shown("user-service");

    // Browse the key's partition; a record's row opens its headers and value.
    let partition = switchboard::engine::kafka::partition_for_key(b"1", 3);
    app.harness.state_mut().viewer.kafka.partition = partition;
    app.click("Read");
    app.wait_until(
        "a page of records",
        |a| matches!(&a.viewer.kafka.page, Some((_, Ok(p))) if !p.messages.is_empty()),
    );
    let first = match &app.harness.state().viewer.kafka.page {
        Some((_, Ok(p))) => p.messages[0].kafka_offset(),
        _ => None,
    };
    app.harness.state_mut().viewer.kafka.selected = first;
    app.harness.step();
    app.harness.step();
    app.assert_shown("Partition, offset and timestamp");
    app.assert_shown(&format!("orders[{partition}] offset {}", first.unwrap()));
    app._runtime.block_on(common::delete_stream(&names.stream));
    drop(broker);
}

/// #19.9: every AMQP property set in the editor reaches a tap, the table previews each body,
/// the watch form has the broker URL and a picker of known queues, and peeking the same queue
/// again refreshes its tab instead of adding one.
#[test]
fn amqp_properties_reach_the_tap_bodies_are_previewed_and_a_peek_reuses_its_tab() {
    let mut app = start_app();
    app.click("Messages");
    app.assert_shown("Broker URL");
    app.click("Start watch");
    app.wait_until("the tap to be bound", |a| {
        matches!(
            a.viewer.tabs.first().map(|t| &t.status),
            Some(TabStatus::Watching { .. })
        )
    });
    let user = reqwest::Url::parse(&common::amqp_url())
        .unwrap()
        .username()
        .to_string();
    app.click("Requests");
    app.click("AMQP");
    {
        let a = &mut app.harness.state_mut().settings.amqp;
        a.more = switchboard::engine::collection::saved::MoreProps {
            kind: "OrderCreated".into(),
            reply_to: "replies".into(),
            expiration: "60000".into(),
            priority: Some(7),
            app_id: "switchboard-ui".into(),
            user_id: user.clone(),
        };
        a.body = "{\n  \"preview\": \"first line\",\n  \"n\": 1\n}".into();
    }
    app.harness.step();
    app.send_and_wait("Publish");
    app.wait_until("the message on the tap", |a| {
        a.viewer.tabs[0].store.received >= 1
    });
    let m = match app.harness.state().viewer.tabs[0].store.iter().next() {
        Some(switchboard::engine::store::Entry::Message(m)) => m.to_watched(),
        other => panic!("{other:?}"),
    };
    assert_eq!(m.field("type").as_deref(), Some("OrderCreated"));
    assert_eq!(m.field("reply_to").as_deref(), Some("replies"));
    assert_eq!(m.field("expiration").as_deref(), Some("60000"));
    assert_eq!(m.field("priority").as_deref(), Some("7"));
    assert_eq!(m.field("app_id").as_deref(), Some("switchboard-ui"));
    assert_eq!(m.field("user_id"), Some(user));
    app.click("Messages (1 live)");
    app.assert_shown(r#"{ "preview": "first line", "n": 1 }"#);

    // A malformed expiration is refused before anything is sent.
    app.click("Requests");
    app.harness.state_mut().settings.amqp.more.expiration = "soon".into();
    app.harness.step();
    app.assert_shown("expiration is a whole number of milliseconds");
    app.send_and_wait("Publish");
    let last = app.harness.state().history.last().unwrap().exchange.clone();
    assert!(!last.ok, "{last:?}");
    assert!(
        last.error.as_ref().unwrap().message.contains("expiration"),
        "{:?}",
        last.error
    );

    // Peek the dead-letter queue twice: one tab.
    app.click("Messages (1 live)");
    {
        let f = &mut app.harness.state_mut().settings.watch_form;
        f.mode = switchboard::engine::watch::WatchMode::Peek;
        assert!(f.known_queues.contains(&f.queue), "{:?}", f.known_queues);
    }
    app.harness.step();
    for _ in 0..2 {
        app.click("Start watch");
        app.wait_until("the peek to finish", |a| {
            matches!(
                a.viewer.tabs.last().map(|t| &t.status),
                Some(TabStatus::PeekDone(_))
            )
        });
    }
    assert_eq!(
        app.harness.state().viewer.tabs.len(),
        2,
        "the tap and one peek"
    );
}

/// #19.9: request tabs — a new tab starts fresh and keeps the other's work; a saved request
/// with unsaved changes stays in its tab when another opens; an open request is shown where
/// it is; a result arrives in the tab that sent it; closing unsaved work asks first.
#[test]
fn request_tabs_keep_their_own_work_and_results() {
    let mut app = start_app();
    app.click("HTTP");
    app.harness.state_mut().settings.http.body = "first tab's body".to_string();
    app.harness.step();
    app.click("+ New tab");
    assert_eq!(app.harness.state().request_tabs.tabs.len(), 2);
    assert_eq!(app.harness.state().request_tabs.current, 1);
    assert_ne!(app.harness.state().settings.http.body, "first tab's body");
    assert!(app.harness.state().selected.is_none());

    // A slow lookup sent here, then the first tab shown: the result lands in this tab.
    app.harness.state_mut().set_knobs(ServiceId::User, 400, 0.0);
    app.wait_until("the latency knob", |a| {
        a.services
            .iter()
            .any(|s| s.id == ServiceId::User && s.latency_ms == 400)
    });
    let before = app.harness.state().history.len();
    app.click("Send");
    assert!(app.harness.state().is_busy(TransportTab::Http));
    app.harness.state_mut().switch_tab(0);
    app.harness.step();
    assert_eq!(app.harness.state().settings.http.body, "first tab's body");
    assert!(!app.harness.state().is_busy(TransportTab::Http));
    app.wait_until("the lookup", |a| a.history.len() > before);
    assert!(
        !app.harness
            .state()
            .outcomes
            .contains_key(&TransportTab::Http),
        "the other tab's result showed in this one"
    );
    let seq = app.harness.state().history.last().map(|e| e.seq);
    app.harness.state_mut().switch_tab(1);
    app.harness.step();
    assert!(
        app.harness
            .state()
            .outcomes
            .contains_key(&TransportTab::Http),
        "the result did not reach the tab that sent it"
    );
    assert_eq!(app.harness.state().selected, seq);
    app.harness.state_mut().set_knobs(ServiceId::User, 0, 0.0);

    // A saved request edited in this tab stays here when another opens: in a new tab.
    app.click("Get user (HTTP)");
    app.harness.state_mut().settings.http.body = "edited, not saved".to_string();
    app.harness.step();
    app.click("User 1 is John Doe");
    let state = app.harness.state();
    assert_eq!(state.request_tabs.tabs.len(), 3);
    assert_eq!(state.request_tabs.current, 2);
    assert!(state.collections.dialog.is_none());
    // Opening it again shows the tab that holds it, edits and all.
    app.click("Get user (HTTP)");
    assert_eq!(app.harness.state().request_tabs.current, 1);
    assert_eq!(app.harness.state().settings.http.body, "edited, not saved");
    app.assert_shown("GET Get user (HTTP) *");

    // Closing it asks; Cancel keeps it, the other button closes it.
    app.harness.state_mut().close_tab(1, false);
    app.harness.step();
    app.harness.step();
    app.click("Cancel");
    assert_eq!(app.harness.state().request_tabs.tabs.len(), 3);
    app.harness.state_mut().close_tab(1, false);
    app.harness.step();
    app.harness.step();
    app.click("Close without saving");
    let state = app.harness.state();
    assert_eq!(state.request_tabs.tabs.len(), 2);
    assert_ne!(state.settings.http.body, "edited, not saved");
    // A tab whose unsaved request holds edits asks too; one as a new tab has it does not.
    app.harness.state_mut().close_tab(0, false);
    app.harness.step();
    app.harness.step();
    app.click("Close without saving");
    assert_eq!(app.harness.state().request_tabs.tabs.len(), 1);
    assert_eq!(app.harness.state().request_tabs.current, 0);
    app.assert_shown("+ New tab");
    app.click("+ New tab");
    app.harness.state_mut().close_tab(1, false);
    app.harness.step();
    assert!(app.harness.state().collections.dialog.is_none());
    assert_eq!(app.harness.state().request_tabs.tabs.len(), 1);
}

/// Request tabs outlive a restart: their editors, the saved requests they hold, which one was
/// shown, and their credentials — in the secret store, not in the settings file.
#[test]
fn request_tabs_survive_a_restart_with_their_credentials_in_the_secret_store() {
    let data = temp_data_dir();
    {
        let mut app = start_app_in(data.clone());
        app.click("HTTP");
        app.click("Get user (HTTP)");
        app.harness.state_mut().settings.http.body = "kept across restarts".to_string();
        app.harness.state_mut().settings.http.headers.push(
            switchboard::ui::settings::KeyValue::new("Authorization", "Bearer current-secret"),
        );
        app.harness.step();
        app.click("+ New tab");
        {
            let http = &mut app.harness.state_mut().settings.http;
            http.url = "http://127.0.0.1:9/other".to_string();
            http.headers.push(switchboard::ui::settings::KeyValue::new(
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
    assert_eq!(state.request_tabs.tabs.len(), 2);
    assert_eq!(state.request_tabs.current, 0);
    assert_eq!(state.settings.http.body, "kept across restarts");
    app.assert_shown("GET Get user (HTTP) *");
    app.harness.state_mut().switch_tab(1);
    app.harness.step();
    let http = &app.harness.state().settings.http;
    assert_eq!(http.url, "http://127.0.0.1:9/other");
    let auth = http.headers.iter().find(|h| h.key == "Authorization");
    assert_eq!(auth.map(|h| h.value.as_str()), Some("Bearer parked-secret"));
    // The first tab is still linked to its saved request, edits and credentials included.
    app.harness.state_mut().switch_tab(0);
    app.harness.step();
    assert!(
        app.harness
            .state()
            .settings
            .http
            .headers
            .iter()
            .any(|h| h.value == "Bearer current-secret")
    );
    app.assert_shown("GET Get user (HTTP) *");
    assert!(
        app.harness
            .state()
            .collections
            .active
            .contains_key(&switchboard::ui::settings::EditorKind::Http)
    );
}

/// #17.1: the editor and its result side by side (the default), or stacked; the side panel
/// hides and comes back; both choices are settings (kept across restarts).
#[test]
fn editor_and_result_sit_side_by_side_or_stacked_and_the_side_panel_hides() {
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

/// The app can be launched from a desktop menu: a desktop entry naming the binary and its icon,
/// the icon in every size a menu asks for, and the same icon on the window.
#[test]
fn a_desktop_entry_and_icon_ship_with_the_app() {
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
fn ctrl_digits_switch_the_transport_editor() {
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
        assert_eq!(app.harness.state().settings.transport, tab, "{digit:?}");
    }
}

/// Ctrl+F puts the cursor in the history search (opening the side panel if it was hidden).
#[test]
fn ctrl_f_searches_the_history() {
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
    assert_eq!(app.harness.state().history_query, "john");
}

/// The *Keys* menu lists the shortcuts.
#[test]
fn the_keys_menu_lists_the_shortcuts() {
    let mut app = start_app();
    app.click("Keys");
    app.harness.step();
    for shown in [
        "Ctrl+Enter",
        "send the request",
        "Ctrl+F",
        "search the history",
    ] {
        assert!(app.harness.query_by_label(shown).is_some(), "{shown}");
    }
}
