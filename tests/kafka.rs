//! Kafka against a real Kafka-protocol broker (tansu, embedded, one per test on a free port):
//! produce with acks 0/1/all, headers and keys; a tap that leaves groups alone; a group consume
//! that commits; browse; topics and groups with lag; a watch surviving a broker restart; the
//! demo's `orders` flow; bad input.
#![cfg(feature = "kafka-broker")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use demo_services::kafka_broker::EmbeddedKafka;
use switchboard::engine::fields::SavedHeader;
use switchboard::engine::kafka::watch::{self as kwatch, KafkaWatch};
use switchboard::engine::kafka::{self, Acks, Compression, KafkaRequest, admin};
use switchboard::engine::watch::WatchEvent;
use switchboard::engine::watched::WatchedMessage;
use switchboard::engine::{ErrorKind, Transport, WatchRequest};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use common::{assert_timeline_sane, phase_names};

const SECS: Duration = Duration::from_secs(15);

async fn broker() -> EmbeddedKafka {
    EmbeddedKafka::start_free().await.expect("embedded broker")
}

async fn topic(url: &str, name: &str, partitions: i32) {
    assert!(admin::create_topic(url, name, partitions).await.unwrap());
}

async fn produce(url: &str, topic: &str, key: &str, body: &str) -> switchboard::engine::Exchange {
    let ex = kafka::execute(&KafkaRequest::produce(url, topic, key, body), SECS)
        .await
        .remove(0);
    assert!(ex.ok, "{ex:?}");
    ex
}

fn start(watch: KafkaWatch) -> (mpsc::Receiver<WatchEvent>, CancellationToken) {
    let (tx, rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    tokio::spawn(WatchRequest::Kafka(watch).run(tx, cancel.clone(), None));
    (rx, cancel)
}

/// Messages until `n` arrived (other events are skipped; a failure panics).
async fn messages(rx: &mut mpsc::Receiver<WatchEvent>, n: usize) -> Vec<WatchedMessage> {
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(SECS, rx.recv()).await {
            Ok(Some(WatchEvent::Messages(batch))) => out.extend(batch),
            Ok(Some(WatchEvent::Failed(e))) => panic!("watch failed: {e}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the watch ended after {} messages", out.len()),
            Err(_) => panic!("only {} of {n} messages in time", out.len()),
        }
    }
    out
}

fn header<'a>(ex: &'a switchboard::engine::Exchange, name: &str) -> &'a str {
    ex.response
        .as_ref()
        .and_then(|r| r.headers.iter().find(|h| h.name == name))
        .map(|h| h.value.as_str())
        .unwrap_or_else(|| panic!("no {name} in {ex:?}"))
}

#[tokio::test]
async fn produce_times_every_phase_for_each_acks_and_keeps_key_and_headers() {
    let b = broker().await;
    let url = b.url();
    topic(&url, "t", 3).await;
    for acks in Acks::ALL {
        let mut req = KafkaRequest::produce(&url, "t", "user-7", r#"{"n":1}"#);
        req.acks = acks;
        req.compression = Compression::Gzip;
        req.headers = vec![SavedHeader::new(
            "correlation_id",
            format!("c-{}", acks.label()),
        )];
        let ex = kafka::execute(&req, SECS).await.remove(0);
        assert!(ex.ok, "{ex:?}");
        assert_eq!(ex.transport, Transport::Kafka);
        assert_timeline_sane(&ex);
        if acks == Acks::None {
            assert_eq!(phase_names(&ex), ["connect", "metadata", "produce"]);
            assert_eq!(ex.status.as_deref(), Some("sent (acks=0)"));
        } else {
            assert_eq!(phase_names(&ex), ["connect", "metadata", "produce", "ack"]);
            assert!(header(&ex, "offset").parse::<i64>().unwrap() >= 0);
        }
        let expected = kafka::partition_for_key(b"user-7", 3).to_string();
        assert_eq!(header(&ex, "partition"), expected);
        // The produce phase tells the value's size from the compressed batch's.
        let detail = ex
            .timeline
            .iter()
            .find(|p| p.phase.name() == "produce")
            .and_then(|p| p.detail.clone())
            .unwrap_or_default();
        assert!(detail.contains("7 B value in a "), "{detail}");
        assert!(detail.contains("B record batch (gzip: "), "{detail}");
    }
    // All three are there, in order, with their key and headers, on the key's partition.
    let mut tap = KafkaWatch::tap(&url, "t");
    tap.from = "earliest".into();
    let (mut rx, cancel) = start(tap);
    let got = messages(&mut rx, 3).await;
    cancel.cancel();
    let p = kafka::partition_for_key(b"user-7", 3);
    for (m, acks) in got.iter().zip(Acks::ALL) {
        assert_eq!(m.transport, Transport::Kafka);
        assert_eq!(&*m.key, "user-7");
        assert_eq!(m.kafka_partition(), Some(p));
        assert_eq!(m.headers["correlation_id"], format!("c-{}", acks.label()));
        assert_eq!(m.body.bytes, br#"{"n":1}"#);
    }
    let offsets: Vec<i64> = got
        .iter()
        .filter_map(WatchedMessage::kafka_offset)
        .collect();
    assert_eq!(offsets, [0, 1, 2]);
    // A reused connection: later copies start at `produce`.
    let mut req = KafkaRequest::produce(&url, "t", "", "x");
    req.count = 3;
    let all = kafka::execute(&req, SECS).await;
    assert_eq!(all.len(), 3);
    assert_eq!(phase_names(&all[1]), ["produce", "ack"]);
    let parts: std::collections::HashSet<&str> =
        all.iter().map(|e| header(e, "partition")).collect();
    assert!(
        parts.len() > 1,
        "keyless records spread over partitions: {parts:?}"
    );
}

#[tokio::test]
async fn a_tap_never_joins_or_commits_and_a_group_consume_commits() {
    let b = broker().await;
    let url = b.url();
    topic(&url, "orders", 1).await;
    for i in 0..5 {
        produce(&url, "orders", &i.to_string(), &format!("m{i}")).await;
    }
    // The group reads two and commits them.
    let mut consume = KafkaWatch::tap(&url, "orders");
    consume.group = "billing".into();
    consume.from = "earliest".into();
    consume.limit = Some(2);
    let (mut rx, _cancel) = start(consume);
    let got = messages(&mut rx, 2).await;
    assert_eq!(got[0].body.bytes, b"m0");
    // The watch ends at its limit, committing on its way out.
    let committed = common::eventually(10, "the group's commit", || async {
        let offsets = admin::group_offsets(&url, "billing", "orders").await.ok()?;
        (offsets.get(&0) == Some(&2)).then_some(offsets)
    })
    .await;
    assert_eq!(committed[&0], 2);
    let groups = admin::groups(&url).await.unwrap();
    let billing = groups.iter().find(|g| g.group == "billing").unwrap();
    assert_eq!(billing.lag, 3);
    assert_eq!(billing.offsets[0].committed, 2);
    assert_eq!(billing.offsets[0].high, 5);

    // A tap reads everything and changes nothing.
    let before = admin::group_names(&url).await.unwrap();
    let mut tap = KafkaWatch::tap(&url, "orders");
    tap.from = "earliest".into();
    let (mut rx, cancel) = start(tap);
    assert_eq!(messages(&mut rx, 5).await.len(), 5);
    cancel.cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(admin::group_names(&url).await.unwrap(), before);
    assert_eq!(
        admin::group_offsets(&url, "billing", "orders")
            .await
            .unwrap()[&0],
        2
    );

    // The group goes on from its commit.
    let mut again = KafkaWatch::tap(&url, "orders");
    again.group = "billing".into();
    let (mut rx, cancel) = start(again);
    let rest = messages(&mut rx, 3).await;
    cancel.cancel();
    assert_eq!(rest[0].body.bytes, b"m2");
    assert_eq!(rest[0].kafka_offset(), Some(2));
}

#[tokio::test]
async fn starts_and_browse_read_by_offset() {
    let b = broker().await;
    let url = b.url();
    topic(&url, "log", 1).await;
    for i in 0..10 {
        produce(&url, "log", "", &format!("r{i}")).await;
    }
    for (from, first, n) in [
        ("offset:4", "r4", 6),
        ("last:3", "r7", 3),
        ("earliest", "r0", 10),
    ] {
        let mut tap = KafkaWatch::tap(&url, "log");
        tap.from = from.into();
        let (mut rx, cancel) = start(tap);
        let got = messages(&mut rx, n).await;
        cancel.cancel();
        assert_eq!(got[0].body.bytes, first.as_bytes(), "{from}");
    }
    // `latest` sees only what comes after it.
    let (mut rx, cancel) = start(KafkaWatch::tap(&url, "log"));
    match tokio::time::timeout(SECS, rx.recv()).await.unwrap() {
        Some(WatchEvent::Connected { .. }) => {}
        other => panic!("{other:?}"),
    }
    produce(&url, "log", "", "new").await;
    assert_eq!(messages(&mut rx, 1).await[0].body.bytes, b"new");
    cancel.cancel();

    let page = kwatch::browse(&url, "log", 0, 3, 4).await.unwrap();
    assert_eq!((page.low, page.high), (0, 11));
    let bodies: Vec<&[u8]> = page
        .messages
        .iter()
        .map(|m| m.body.bytes.as_slice())
        .collect();
    assert_eq!(bodies, [b"r3", b"r4", b"r5", b"r6"]);
    assert_eq!(page.next, 7);
    let last = kwatch::browse(&url, "log", 0, 9, 4).await.unwrap();
    assert_eq!(last.messages.len(), 2);
    assert_eq!(last.next, 11);
    let topics = admin::topics(&url).await.unwrap();
    let log = topics.iter().find(|t| t.topic == "log").unwrap();
    assert_eq!(log.messages, 11);
    assert_eq!(log.partitions[0].high, 11);
}

#[tokio::test]
async fn bad_input_fails_in_its_phase_with_a_clear_message() {
    let b = broker().await;
    let url = b.url();
    topic(&url, "small", 2).await;
    let fail = |ex: &switchboard::engine::Exchange| ex.error.clone().expect("an error");

    let ex = kafka::execute(&KafkaRequest::produce(&url, "nope", "", "x"), SECS)
        .await
        .remove(0);
    let e = fail(&ex);
    assert_eq!(e.kind, ErrorKind::Refused);
    assert!(e.message.contains("does not exist"), "{}", e.message);
    assert_eq!(e.phase.unwrap().name(), "metadata");
    // Never auto-created.
    assert!(
        admin::topics(&url)
            .await
            .unwrap()
            .iter()
            .all(|t| t.topic != "nope")
    );

    let mut req = KafkaRequest::produce(&url, "small", "", "x");
    req.partition = Some(5);
    let e = fail(&kafka::execute(&req, SECS).await.remove(0));
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(e.message.contains("out of range"), "{}", e.message);

    let big = "x".repeat(kafka::MAX_MESSAGE_BYTES + 1);
    let e = fail(
        &kafka::execute(&KafkaRequest::produce(&url, "small", "", &big), SECS)
            .await
            .remove(0),
    );
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(e.message.contains("max.request.size"), "{}", e.message);

    for bad in ["", "a b", ".."] {
        let e = fail(
            &kafka::execute(&KafkaRequest::produce(&url, bad, "", "x"), SECS)
                .await
                .remove(0),
        );
        assert_eq!(e.kind, ErrorKind::InvalidInput, "{bad:?}");
    }

    // Nothing listens: refused in `connect`.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let ex = kafka::execute(
        &KafkaRequest::produce(format!("kafka://{closed}"), "t", "", "x"),
        SECS,
    )
    .await
    .remove(0);
    let e = fail(&ex);
    assert_eq!(e.kind, ErrorKind::ConnectionRefused);
    assert_eq!(e.phase.unwrap().name(), "connect");

    // Watches: a missing topic and a bad partition end the watch with the reason.
    for (topic, partition, why) in [
        ("nope", None, "does not exist"),
        ("small", Some(9), "out of range"),
    ] {
        let mut w = KafkaWatch::tap(&url, topic);
        w.partition = partition;
        let (mut rx, _c) = start(w);
        match tokio::time::timeout(SECS, rx.recv()).await.unwrap() {
            Some(WatchEvent::Failed(e)) => assert!(e.message.contains(why), "{}", e.message),
            other => panic!("expected a failure, got {other:?}"),
        }
    }
    let mut w = KafkaWatch::tap(&url, "small");
    w.from = "offset:99".into();
    w.partition = Some(0);
    let (mut rx, _c) = start(w);
    match tokio::time::timeout(SECS, rx.recv()).await.unwrap() {
        Some(WatchEvent::Failed(e)) => assert!(e.message.contains("out of range"), "{}", e.message),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_tap_survives_a_broker_restart_with_a_gap() {
    let b = broker().await;
    let addr = b.addr;
    let url = b.url();
    topic(&url, "r", 1).await;
    produce(&url, "r", "", "before").await;
    let mut tap = KafkaWatch::tap(&url, "r");
    tap.from = "earliest".into();
    let (mut rx, cancel) = start(tap);
    assert_eq!(messages(&mut rx, 1).await[0].body.bytes, b"before");
    drop(b);
    // The same address again (memory storage: the topic is created anew).
    let b = common::eventually(10, "the broker to restart on its port", || async {
        EmbeddedKafka::start(addr).await.ok()
    })
    .await;
    let _ = admin::create_topic(&url, "r", 1).await.unwrap();
    // The tap resumes at offset 1, where it stopped.
    produce(&url, "r", "", "refill").await;
    produce(&url, "r", "", "after").await;
    let mut lost = false;
    let mut reconnected = false;
    let after = loop {
        match tokio::time::timeout(SECS, rx.recv()).await.unwrap() {
            Some(WatchEvent::Lost { .. }) => lost = true,
            Some(WatchEvent::Connected { reconnected: r, .. }) => reconnected |= r,
            Some(WatchEvent::Messages(batch)) => break batch,
            other => panic!("{other:?}"),
        }
    };
    cancel.cancel();
    assert!(lost && reconnected, "a gap then a reconnection");
    assert_eq!(after[0].body.bytes, b"after");
    drop(b);
}

/// A log that came back shorter than where the tap stopped is read again from its start —
/// and the tap says so (a notice, shown as a gap), not silently.
#[tokio::test]
async fn a_tap_says_when_a_shorter_log_is_read_again() {
    let b = broker().await;
    let addr = b.addr;
    let url = b.url();
    topic(&url, "short", 1).await;
    for body in ["one", "two", "three"] {
        produce(&url, "short", "", body).await;
    }
    let mut tap = KafkaWatch::tap(&url, "short");
    tap.from = "earliest".into();
    let (mut rx, cancel) = start(tap);
    assert_eq!(messages(&mut rx, 3).await.len(), 3);
    drop(b);
    let b = common::eventually(10, "the broker to restart on its port", || async {
        EmbeddedKafka::start(addr).await.ok()
    })
    .await;
    let _ = admin::create_topic(&url, "short", 1).await.unwrap();
    produce(&url, "short", "", "only").await;
    let mut notice = None;
    let after = loop {
        match tokio::time::timeout(SECS, rx.recv()).await.unwrap() {
            Some(WatchEvent::Lost { .. } | WatchEvent::Connected { .. }) => {}
            Some(WatchEvent::Notice(n)) => notice = Some(n),
            Some(WatchEvent::Messages(batch)) => break batch,
            other => panic!("{other:?}"),
        }
    };
    cancel.cancel();
    let notice = notice.expect("a notice before the messages read again");
    assert!(notice.contains("partition 0"), "{notice}");
    assert!(notice.contains("not the 3"), "{notice}");
    assert_eq!(after[0].body.bytes, b"only");
    drop(b);
}

#[tokio::test]
async fn the_demo_produces_orders_keyed_by_user_and_its_user_service_consumes_them() {
    let b = broker().await;
    let names = demo_services::KafkaNames::at(&b.url());
    let config = demo_services::DemoConfig {
        amqp_url: common::amqp_url(),
        topology: common::unique_topology(),
        kafka: Some(names.clone()),
        ..demo_services::DemoConfig::ephemeral()
    };
    let demo = demo_services::DemoServices::start(config)
        .await
        .expect("demo");
    assert!(
        !demo.kafka.as_ref().unwrap().embedded(),
        "a broker was there: none started"
    );
    common::wait_consuming(&demo).await;
    let topics = admin::topics(&names.url).await.unwrap();
    let orders = topics
        .iter()
        .find(|t| t.topic == "orders")
        .expect("orders created");
    assert_eq!(orders.partitions.len(), 3);

    let response = place_order(&demo, "2", Some("corr-kafka")).await;
    let published = &response["published_kafka"];
    assert_eq!(published["topic"], "orders", "{response}");
    assert_eq!(published["partition"], kafka::partition_for_key(b"2", 3));

    let mut tap = KafkaWatch::tap(&names.url, "orders");
    tap.from = "earliest".into();
    let (mut rx, cancel) = start(tap);
    let m = messages(&mut rx, 1).await.remove(0);
    cancel.cancel();
    assert_eq!(&*m.key, "2");
    assert_eq!(m.headers["correlation_id"], "corr-kafka");
    let event: serde_json::Value = serde_json::from_slice(&m.body.bytes).unwrap();
    assert_eq!(event["event"], "OrderCreated");

    // The User Service reads it as group user-service: its counter moves, the lag goes to 0.
    kafka_consumed(&demo).await;
    common::eventually(20, "group user-service caught up", || async {
        let groups = admin::groups(&names.url).await.ok()?;
        let g = groups.into_iter().find(|g| g.group == "user-service")?;
        (g.lag == 0 && !g.offsets.is_empty()).then_some(())
    })
    .await;
    demo.stop().await;
}

/// Waits (20 s at most) until the User Service's Kafka consumer has read an order.
async fn kafka_consumed(demo: &demo_services::DemoServices) {
    common::eventually(20, "the user service's Kafka consumer", || async {
        matches!(
            demo.user.kafka_consumer_state(),
            demo_services::ConsumerState::Consuming { consumed, .. } if consumed >= 1
        )
        .then_some(())
    })
    .await;
}

/// Places an order with the demo's Order Service: its JSON answer.
async fn place_order(
    demo: &demo_services::DemoServices,
    user_id: &str,
    correlation_id: Option<&str>,
) -> serde_json::Value {
    let mut post = reqwest::Client::new()
        .post(format!("http://{}/orders", demo.order.http_addr))
        .json(&serde_json::json!({"user_id": user_id, "amount": 3.5}));
    if let Some(id) = correlation_id {
        post = post.header("x-correlation-id", id);
    }
    post.send().await.unwrap().json().await.unwrap()
}

/// The demo on a loopback address where nothing listens, its embedded broker on first use.
async fn demo_on_demand() -> (demo_services::DemoServices, String) {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("kafka://{}", free.local_addr().unwrap());
    drop(free);
    let config = demo_services::DemoConfig {
        amqp_url: common::amqp_url(),
        topology: common::unique_topology(),
        kafka: Some(demo_services::KafkaNames::at(&url)),
        ..demo_services::DemoConfig::ephemeral()
    };
    let demo = demo_services::DemoServices::start(config)
        .await
        .expect("demo");
    (demo, url)
}

fn embedded_phase(demo: &demo_services::DemoServices) -> demo_services::kafka_broker::Phase {
    let setup = demo.kafka.as_ref().expect("Kafka on");
    setup
        .embedded
        .as_ref()
        .expect("an embedded broker held")
        .phase()
}

#[tokio::test]
async fn the_demos_embedded_broker_starts_when_a_client_first_talks_to_it_not_before() {
    use demo_services::kafka_broker::Phase;
    let (demo, url) = demo_on_demand().await;
    assert!(demo.kafka.as_ref().unwrap().embedded());
    assert_eq!(embedded_phase(&demo), Phase::Held);
    common::eventually(5, "the Kafka consumer waits for the broker", || async {
        matches!(
            demo.user.kafka_consumer_state(),
            demo_services::ConsumerState::Waiting(_)
        )
        .then_some(())
    })
    .await;
    // A port probe (connect, close, no byte) answers and starts nothing.
    let addr = url.trim_start_matches("kafka://").to_string();
    drop(
        tokio::net::TcpStream::connect(&addr)
            .await
            .expect("the address is held"),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(embedded_phase(&demo), Phase::Held);
    // The first clients that talk, all at once, are answered by the started broker with the
    // topic already there (none of them reaches it before the topic exists).
    let firsts = (0..6).map(|_| admin::topics(&url));
    for topics in futures_util::future::join_all(firsts).await {
        let topics = topics.expect("answered through the doorbell");
        let orders = topics.iter().find(|t| t.topic == "orders");
        assert_eq!(orders.map(|o| o.partitions.len()), Some(3), "{topics:?}");
    }
    assert_eq!(embedded_phase(&demo), Phase::Running);
    // Then the User Service's consumer joins.
    common::eventually(20, "the Kafka consumer leaves its wait", || async {
        (!matches!(
            demo.user.kafka_consumer_state(),
            demo_services::ConsumerState::Waiting(_)
        ))
        .then_some(())
    })
    .await;
    demo.stop().await;
}

#[tokio::test]
async fn the_embedded_broker_is_not_held_on_port_zero_or_a_non_loopback_address() {
    use demo_services::kafka_broker::OnDemandKafka;
    let zero = OnDemandKafka::hold("127.0.0.1:0".parse().unwrap(), "orders", 3).await;
    assert!(zero.unwrap_err().contains("port 0"));
    let outside = OnDemandKafka::hold("192.0.2.1:9092".parse().unwrap(), "orders", 3).await;
    assert!(outside.unwrap_err().contains("loopback"));
}

#[tokio::test]
async fn the_demos_first_order_starts_its_embedded_broker_and_is_consumed() {
    let (demo, url) = demo_on_demand().await;
    let response = place_order(&demo, "3", None).await;
    let published = &response["published_kafka"];
    assert_eq!(published["topic"], "orders", "{response}");
    assert_eq!(published["offset"], 0, "{response}");
    assert_eq!(
        embedded_phase(&demo),
        demo_services::kafka_broker::Phase::Running
    );
    kafka_consumed(&demo).await;
    let groups = admin::groups(&url).await.unwrap();
    assert!(
        groups.iter().any(|g| g.group == "user-service"),
        "{groups:?}"
    );
    demo.stop().await;
}

#[tokio::test]
async fn produce_many_pipelines_a_numbered_series_and_a_future_start_reads_nothing_old() {
    use switchboard::engine::kafka::publish_many::{KafkaPublishMany, publish_many};
    let b = broker().await;
    let url = b.url();
    topic(&url, "many", 2).await;
    let job = KafkaPublishMany {
        request: KafkaRequest::produce(&url, "many", "k{n}", r#"{"n":{n}}"#),
        count: 500,
        rate_per_sec: 0.0,
        numbered: true,
    };
    let done = publish_many(&job, None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!((done.published, done.confirmed, done.failed), (500, 500, 0));
    let topics = admin::topics(&url).await.unwrap();
    assert_eq!(topics[0].messages, 500);
    let mut tap = KafkaWatch::tap(&url, "many");
    tap.from = "earliest".into();
    tap.partition = Some(kafka::partition_for_key(b"k7", 2));
    let (mut rx, cancel) = start(tap);
    let got = messages(&mut rx, 500 / 4).await;
    cancel.cancel();
    assert!(
        got.iter()
            .any(|m| &*m.key == "k7" && m.body.bytes == br#"{"n":7}"#),
        "the numbered record 7 on its key's partition"
    );

    // A start still to come reads nothing already there.
    let mut future = KafkaWatch::tap(&url, "many");
    future.from = "time:2099-01-01T00:00:00Z".into();
    let (mut rx, cancel) = start(future);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        assert!(!matches!(event, WatchEvent::Messages(_)), "{event:?}");
    }
    cancel.cancel();

    // One value per header name: a repeated one is refused before sending.
    let mut req = KafkaRequest::produce(&url, "many", "", "x");
    req.headers = vec![SavedHeader::new("a", "1"), SavedHeader::new("a", "2")];
    let e = kafka::execute(&req, SECS).await.remove(0).error.unwrap();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
}

/// An order's Kafka record carries the producer's context: the User Service's group consumes
/// it with a consumer span under the Order Service's producer span, in the request's trace.
#[tokio::test]
async fn an_orders_record_carries_its_trace_to_the_consumer_group() {
    let b = broker().await;
    let names = demo_services::KafkaNames::at(&b.url());
    let (demo, producer, consumer) = common::order_hop_spans(
        |endpoint| demo_services::DemoConfig {
            amqp_url: common::amqp_url(),
            topology: common::unique_topology(),
            kafka: Some(names.clone()),
            otlp_endpoint: Some(endpoint),
            ..demo_services::DemoConfig::ephemeral()
        },
        "3",
        "kafka",
    )
    .await;
    assert_eq!(producer.name, "orders publish");
    assert_eq!(consumer.name, "orders process");
    demo.stop().await;
}

/// Load mode's produces each carry a new `traceparent` record header (the others kept, a
/// disabled row left out), and none when switched off.
#[tokio::test]
async fn load_mode_puts_a_new_traceparent_on_every_record_unless_switched_off() {
    use switchboard::engine::RequestSpec;
    use switchboard::engine::load::{LoadLimit, LoadSpec, run_load};
    use switchboard::engine::trace::TraceContext;
    let b = broker().await;
    let url = b.url();
    topic(&url, "traced", 1).await;
    let pool = switchboard::engine::grpc::builtin_pool().unwrap();
    let mut req = KafkaRequest::produce(&url, "traced", "k", "x");
    let mut off = SavedHeader::new("off", "not sent");
    off.enabled = false;
    req.headers = vec![off, SavedHeader::new("kept", "yes")];
    for traceparent in [true, false] {
        let spec = LoadSpec {
            request: RequestSpec::Kafka(Box::new(req.clone())),
            limit: LoadLimit::Requests(20),
            concurrency: 2,
            traceparent,
        };
        let report = run_load(&spec, &pool, None, CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(report.ok, 20, "{:?}", report.errors);
    }
    let page = kwatch::browse(&url, "traced", 0, 0, 40).await.unwrap();
    assert_eq!(page.messages.len(), 40);
    let mut traces = std::collections::HashSet::new();
    for (i, m) in page.messages.iter().enumerate() {
        assert_eq!(m.headers["kept"], "yes", "{m:?}");
        assert!(!m.headers.contains_key("off"), "{m:?}");
        let traceparent = m.headers.get("traceparent").and_then(|v| v.as_str());
        if i < 20 {
            let value = traceparent.unwrap_or_else(|| panic!("no traceparent: {m:?}"));
            let context = TraceContext::parse(value).expect("a valid traceparent");
            traces.insert(context.trace_id);
        } else {
            assert_eq!(traceparent, None, "switched off: {m:?}");
        }
    }
    assert_eq!(traces.len(), 20, "a new trace per record");
}
