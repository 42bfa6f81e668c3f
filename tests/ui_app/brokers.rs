//! NATS and Kafka in the app (a private nats-server, the streams browser, topics and groups) and AMQP properties in the viewer.

use super::*;

/// The app with the demo's NATS side on unique subjects and a stream of its own.
pub(super) fn start_app_with_nats() -> (TestApp, demo_services::NatsNames) {
    let names = demo_services::NatsNames::unique(&common::nats_url(), &common::tag());
    let mut app = launch(
        test_runtime(),
        app_options(DemoConfig {
            nats: Some(names.clone()),
            ..demo_config()
        }),
    );
    app.wait_until("the demo services to start", |a| {
        matches!(a.strip().demo, DemoState::Up { .. }) && !a.strip().services.is_empty()
    });
    (app, names)
}

#[test]
pub(super) fn a_nats_lookup_is_compared_with_http_on_one_axis_and_a_nats_tap_receives() {
    let (mut app, names) = start_app_with_nats();
    app.wait_until("the NATS status", |a| {
        matches!(a.strip().nats.1, switchboard::ui::backend::BrokerState::Up)
    });
    app.assert_shown("NATS server");
    app.click("NATS");
    assert_eq!(
        app.harness.state().settings.editors.nats.subject,
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
    app.harness.get_by_label("NATS").click_accesskit();
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
            a.viewer().tabs.last().map(|t| &t.status),
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
        a.viewer()
            .tabs
            .last()
            .is_some_and(|t| t.store.received == 3)
    });
    app.assert_shown("received 3");
    app.assert_shown("subject");

    // Publish many from the NATS editor: a numbered JetStream series with its progress.
    {
        let s = &mut app.harness.state_mut().settings;
        s.editors.nats.op = switchboard::engine::nats::NatsOp::Publish;
        s.editors.nats.subject = names.orders_subject.clone();
        s.editors.nats.jetstream = true;
        s.editors.nats_many.count = 20;
    }
    app.click("Requests");
    app.click("NATS");
    app.click("Publish 20");
    app.wait_until(
        "the series to be acked",
        |a| matches!(a.many(), Some((_, Ok(p))) if p.done && p.confirmed == 20),
    );
    app.assert_shown("20 published, 20 confirmed, 0 failed");
    app._runtime.block_on(common::delete_stream(&names.stream));
}

#[test]
pub(super) fn start_runs_a_private_nats_server_and_the_demo_and_editors_move_to_it() {
    // Nothing listens on the configured NATS port.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead_url = format!("nats://127.0.0.1:{dead}");
    let names = demo_services::NatsNames::unique(&dead_url, &common::tag());
    let mut options = app_options(DemoConfig {
        nats: Some(names.clone()),
        ..demo_config()
    });
    options.backend.nats_url = dead_url.clone();
    let mut app = launch(test_runtime(), options);
    app.wait_until("the NATS server to be reported down", |a| {
        matches!(a.strip().demo, DemoState::Up { .. })
            && matches!(
                a.strip().nats.1,
                switchboard::ui::backend::BrokerState::Down(_)
            )
    });
    app.click("Start");
    // A server to start and both services to restart on their addresses: slower on a busy machine.
    app.wait_secs(60, "the private NATS server and the editors on it", |a| {
        a.strip().nats.0 != dead_url
            && matches!(a.strip().nats.1, switchboard::ui::backend::BrokerState::Up)
            && a.settings.editors.nats.url != dead_url
    });
    let url = app.harness.state().strip().nats.0.clone();
    assert_eq!(
        app.harness.state().settings.editors.nats.url,
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
pub(super) fn the_streams_browser_lists_streams_and_reads_and_writes_a_key_value_bucket() {
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
    app.harness.get_by_label("NATS").click_accesskit();
    app.harness.run_steps(2);
    app.click("Streams");
    app.click("List streams");
    app.wait_until("the streams", |a| {
        matches!(&a.viewer().streams.listed, Some((_, Ok(_))))
    });
    app.assert_shown(&names.stream);
    app.assert_shown(&format!("key-value bucket {bucket}"));
    app.click(&format!("key-value bucket {bucket}"));
    assert_eq!(app.harness.state().viewer().streams.kv_bucket, bucket);
    app.replace_text("Key", "feature.x");
    for (revision, value) in [(1, "on"), (2, "off")] {
        app.replace_text("Value", value);
        app.click("Put");
        app.wait_until("the put", |a| {
            matches!(&a.viewer().streams.kv_result, Some((_, Ok(e))) if e.iter().any(|e| e.revision == revision))
        });
    }
    app.assert_shown("rev 2 put: off");
    app.click("Key history");
    app.wait_until("the history", |a| {
        matches!(&a.viewer().streams.kv_result, Some((what, Ok(e))) if what.starts_with("history") && e.len() == 2)
    });
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
pub(super) fn start_app_with_kafka() -> (
    TestApp,
    demo_services::kafka_broker::EmbeddedKafka,
    demo_services::NatsNames,
) {
    let names = demo_services::NatsNames::unique(&common::nats_url(), &common::tag());
    let runtime = test_runtime();
    let broker = runtime
        .block_on(demo_services::kafka_broker::EmbeddedKafka::start_free())
        .unwrap();
    let mut options = app_options(DemoConfig {
        kafka: Some(demo_services::KafkaNames::at(&broker.url())),
        nats: Some(names.clone()),
        ..demo_config()
    });
    options.backend.kafka_url = broker.url();
    let mut app = launch(runtime, options);
    app.wait_until("the demo services to start", |a| {
        matches!(a.strip().demo, DemoState::Up { .. }) && !a.strip().services.is_empty()
    });
    (app, broker, names)
}

#[cfg(feature = "kafka-broker")]
#[test]
pub(super) fn a_kafka_produce_shows_its_phases_a_tap_receives_and_topics_and_groups_list() {
    let (mut app, broker, names) = start_app_with_kafka();
    app.wait_until("the Kafka status and the user service's group", |a| {
        matches!(a.strip().kafka.1, switchboard::ui::backend::BrokerState::Up)
            && matches!(
                a.strip().kafka_consumer,
                Some(demo_services::ConsumerState::Consuming { .. })
            )
    });
    app.assert_shown("Kafka broker");
    app.click("Kafka");
    assert_eq!(
        app.harness.state().settings.editors.kafka.url,
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
            a.strip().kafka_consumer,
            Some(demo_services::ConsumerState::Consuming { consumed: 1, .. })
        )
    });
    app.assert_shown("group user-service: 1 consumed");
    // Produce many: a series of 20 with its progress.
    app.harness.state_mut().settings.editors.kafka_many.count = 20;
    app.harness.step();
    app.harness.step();
    app.click("Produce 20");
    app.wait_until(
        "the series to be acked",
        |a| matches!(a.many(), Some((_, Ok(p))) if p.done && p.confirmed == 20),
    );
    app.assert_shown("20 published, 20 confirmed, 0 failed");

    // The same order through RabbitMQ and NATS JetStream, the three on one axis.
    app.click("AMQP");
    app.send_and_wait("Publish");
    {
        let n = &mut app.harness.state_mut().settings.editors.nats;
        n.op = switchboard::engine::nats::NatsOp::Publish;
        n.subject = names.orders_subject.clone();
        n.jetstream = true;
    }
    app.click("NATS");
    app.send_and_wait("Publish");
    let transports: Vec<Transport> = app
        .harness
        .state()
        .history_view()
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
            .history_view()
            .history
            .iter()
            .map(|e| e.exchange.error.clone())
            .collect::<Vec<_>>()
    );
    for pin in app.harness.get_all_by_label("pin").collect::<Vec<_>>() {
        pin.click();
    }
    app.harness.step();
    assert_eq!(app.harness.state().history_view().pinned.len(), 3);
    app.click("Compare pinned");
    app.assert_shown("C · Response");
    app.assert_shown("phase produce");
    app.assert_shown("phase broker confirm");
    app.click("Compare pinned");

    // A tap from the earliest offset in the viewer.
    app.click("Messages");
    app.harness.get_by_label("Kafka").click_accesskit();
    app.harness.step();
    app.harness.step();
    app.harness.state_mut().settings.watch_form.kafka.from = "earliest".into();
    app.click("Start watch");
    app.wait_until("the 21 records", |a| {
        a.viewer()
            .tabs
            .last()
            .is_some_and(|t| t.store.received == 21)
    });
    app.assert_shown("partition");
    app.assert_shown("offset");

    // Topics and groups.
    app.click("Topics, groups and browse");
    app.click("List topics");
    app.wait_until(
        "the topics",
        |a| matches!(&a.viewer().kafka.topics, Some((_, Ok(t))) if !t.is_empty()),
    );
    app.assert_shown("orders");
    app.click("List groups");
    app.wait_until("the groups", |a| {
        matches!(&a.viewer().kafka.groups, Some((_, Ok(g))) if g.iter().any(|g| g.group == "user-service"))
    });
    app.assert_shown("user-service");

    // Browse the key's partition; a record's row opens its headers and value.
    let partition = switchboard::engine::kafka::partition_for_key(b"1", 3);
    // The watch form has a "partition" too: the browser's is drawn last.
    app.harness
        .get_all_by_label("partition")
        .last()
        .unwrap()
        .focus();
    app.harness.step();
    app.harness
        .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    app.harness.step();
    app.harness
        .get_all_by_label("partition")
        .last()
        .unwrap()
        .type_text(&partition.to_string());
    app.harness.step();
    app.harness.key_press(egui::Key::Enter);
    app.harness.step();
    assert_eq!(app.harness.state().viewer().kafka.partition, partition);
    app.click("Read");
    app.wait_until(
        "a page of records",
        |a| matches!(&a.viewer().kafka.page, Some((_, Ok(p))) if !p.messages.is_empty()),
    );
    let first = match &app.harness.state().viewer().kafka.page {
        Some((_, Ok(p))) => p.messages[0].kafka_offset(),
        _ => None,
    };
    // The record's row: its offset is a button (other "0"s are values and counts).
    app.harness
        .get_all_by_label(&first.unwrap().to_string())
        .find(|n| n.accesskit_node().role() == egui::accesskit::Role::Button)
        .expect("the record's row")
        .click_accesskit();
    app.harness.run_steps(2);
    app.assert_shown("Partition, offset and timestamp");
    app.assert_shown(&format!("orders[{partition}] offset {}", first.unwrap()));
    app._runtime.block_on(common::delete_stream(&names.stream));
    drop(broker);
}

/// #19.9: every AMQP property set in the editor reaches a tap, the table previews each body,
/// the watch form has the broker URL and a picker of known queues, and peeking the same queue
/// again refreshes its tab instead of adding one.
#[test]
pub(super) fn amqp_properties_reach_the_tap_bodies_are_previewed_and_a_peek_reuses_its_tab() {
    let mut app = start_app();
    app.click("Messages");
    app.assert_shown("Broker URL");
    app.click("Start watch");
    app.wait_until("the tap to be bound", |a| {
        matches!(
            a.viewer().tabs.first().map(|t| &t.status),
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
        let a = &mut app.harness.state_mut().settings.editors.amqp;
        a.more = switchboard::engine::collection::saved::MoreProps {
            kind: "OrderCreated".into(),
            reply_to: "replies".into(),
            expiration: "60000".into(),
            priority: Some(7),
            app_id: "switchboard-ui".into(),
            user_id: user.clone(),
        };
        a.body = switchboard::engine::fields::SavedBody::from_text(
            "{\n  \"preview\": \"first line\",\n  \"n\": 1\n}",
        );
    }
    app.harness.step();
    app.send_and_wait("Publish");
    app.wait_until("the message on the tap", |a| {
        a.viewer().tabs[0].store.received >= 1
    });
    let m = match app.harness.state().viewer().tabs[0].store.iter().next() {
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
    app.harness
        .state_mut()
        .settings
        .editors
        .amqp
        .more
        .expiration = "soon".into();
    app.harness.step();
    app.assert_shown("expiration is a whole number of milliseconds");
    app.send_and_wait("Publish");
    let last = app
        .harness
        .state()
        .history_view()
        .history
        .last()
        .unwrap()
        .exchange
        .clone();
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
                a.viewer().tabs.last().map(|t| &t.status),
                Some(TabStatus::PeekDone(_))
            )
        });
    }
    assert_eq!(
        app.harness.state().viewer().tabs.len(),
        2,
        "the tap and one peek"
    );
}

/// No broker where the app looks: *Start RabbitMQ* runs a private node (free ports, data in
/// the data directory); the demo and the AMQP editor move to it and an order goes through.
#[test]
pub(super) fn start_runs_a_private_rabbitmq_node_and_the_demo_moves_to_it() {
    if !demo_services::rabbitmq_server::PrivateRabbit::available() {
        panic!("rabbitmq-server must be installed for this test (scripts/test installs it)");
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = format!("amqp://guest:guest@127.0.0.1:{closed}/%2f");
    let mut app = start_app_at(temp_data_dir(), &nowhere);
    app.wait_until("the broker to be reported down", |a| {
        matches!(
            a.strip().broker,
            switchboard::ui::backend::BrokerState::Down(_)
        )
    });
    app.click("Start RabbitMQ");
    app.wait_secs(90, "the private node to answer", |a| {
        matches!(a.strip().broker, switchboard::ui::backend::BrokerState::Up)
            && a.settings.editors.amqp.url != nowhere
            && matches!(&a.strip().queue_depth, Some((_, Ok(d))) if d.consumers == 1)
    });
    let url = app.harness.state().settings.editors.amqp.url.clone();
    assert!(url.starts_with("amqp://guest:guest@127.0.0.1:"), "{url}");
    // The demo publishes there: an order is consumed from the node's order_queue.
    app.click("AMQP");
    let before = app.harness.state().history_view().history.len();
    app.click("Place order");
    app.wait_secs(30, "the order and its delivery", |a| {
        a.history_view().history.len() >= before + 2 && !a.is_busy(TransportTab::Amqp)
    });
    let history = &app.harness.state().history_view().history;
    let order = &history[history.len() - 2].exchange;
    assert_eq!(order.status.as_deref(), Some("201 Created"));
    let delivery = &history[history.len() - 1].exchange;
    assert!(
        delivery.ok,
        "the delivery reached the app's tap: {:?} {:?}",
        delivery.status, delivery.error
    );
}
