//! AMQP publishing and watching through the engine against the real broker, and the demo's
//! order flow (POST /orders → exchange → tap and order_queue's consumer).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{amqp_url, assert_timeline_sane, eventually, phase_names, start_demo, wait_consuming};
use demo_services::ConsumerState;
use switchboard::engine::amqp::{self, PublishRequest, Watch, WatchSource};
use switchboard::engine::{BodyView, ErrorKind};

const SECS: Duration = Duration::from_secs(10);

async fn next_message(watch: &mut Watch) -> amqp::WatchedMessage {
    tokio::time::timeout(SECS, watch.next())
        .await
        .expect("a message within 10 s")
        .expect("watch still open")
        .expect("no watch error")
}

#[tokio::test]
async fn an_order_reaches_a_tap_and_the_user_service_consumer() {
    let demo = start_demo().await;
    wait_consuming(&demo).await;
    let topology = demo.config.topology.clone();
    let tap = WatchSource::Tap {
        exchange: topology.exchange.clone(),
        binding: "#".to_string(),
    };
    let mut watch = Watch::open(&amqp_url(), &tap, SECS).await.unwrap();

    let response = reqwest::Client::new()
        .post(format!("http://{}/orders", demo.order.http_addr))
        .header("x-correlation-id", "corr-123")
        .body(r#"{"user_id": "2", "items": [{"sku": "book", "quantity": 2}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    let order_id = created["order_id"].as_str().unwrap().to_string();
    assert_eq!(created["user"]["name"], "Jane Roe");
    assert_eq!(created["checked_over"], "gRPC");

    let message = next_message(&mut watch).await;
    assert_eq!(&*message.source, topology.exchange);
    assert_eq!(&*message.key, "order.created");
    assert!(!message.redelivered);
    assert_eq!(
        message.properties().content_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(
        message.properties().message_id.as_deref(),
        Some(order_id.as_str())
    );
    assert_eq!(
        message.properties().correlation_id.as_deref(),
        Some("corr-123")
    );
    assert!(message.properties().timestamp.unwrap() > 1_700_000_000);
    let BodyView::Json(body) = message.body.view() else {
        panic!()
    };
    assert_eq!(body["event"], "OrderCreated");
    assert_eq!(body["user_id"], "2");

    // The tap took nothing away: the User Service consumed the order too.
    let user_url = format!("http://{}/user/2", demo.user.http_addr);
    eventually(10, "the user service to count the order", || {
        let url = user_url.clone();
        let order_id = order_id.clone();
        async move {
            let user: serde_json::Value = reqwest::get(&url).await.ok()?.json().await.ok()?;
            (user["order_count"] == 1 && user["recent_orders"][0] == order_id.as_str())
                .then_some(())
        }
    })
    .await;
    watch.close().await;
    demo.stop().await;
}

#[tokio::test]
async fn the_order_service_can_check_users_over_http_and_refuses_unknown_users() {
    let demo = start_demo().await;
    demo.order.set_user_check(demo_services::UserCheck::Http);
    let client = reqwest::Client::new();
    let url = format!("http://{}/orders", demo.order.http_addr);
    let ok = client
        .post(&url)
        .body(r#"{"user_id": 3, "amount": 9.5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    let created: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(created["checked_over"], "HTTP");
    assert_eq!(created["user"]["name"], "Ada Lovelace");

    let unknown = client
        .post(&url)
        .body(r#"{"user_id": "99", "amount": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let bad = client.post(&url).body("not json").send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let empty = client
        .post(&url)
        .body(r#"{"user_id": "1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);

    // With the User Service stopped, the synchronous check fails: 502, nothing published.
    demo.order.set_user_check(demo_services::UserCheck::Grpc);
    let demo_services::DemoServices { user, order, .. } = demo;
    user.stop().await;
    let down = client
        .post(&url)
        .body(r#"{"user_id": "1", "amount": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), 502);
    order.stop().await;
}

#[tokio::test]
async fn orders_wait_in_the_queue_while_the_consumer_is_down_and_unreadable_ones_are_dead_lettered()
{
    let demo = start_demo().await;
    wait_consuming(&demo).await;
    let topology = demo.config.topology.clone();
    let url = amqp_url();

    // Plain text, like older producers: rejected to the dead-letter queue, consumer keeps going.
    let mut plain = PublishRequest::new(
        &url,
        &topology.exchange,
        "order.created",
        "Order data for user 1",
    );
    plain.properties.content_type = Some("text/plain".to_string());
    let published = amqp::publish(&plain).await;
    assert!(published[0].ok, "{:?}", published[0].error);
    let binary = PublishRequest::new(
        &url,
        &topology.exchange,
        "order.created",
        vec![0xff, 0xfe, 0x00],
    );
    assert!(amqp::publish(&binary).await[0].ok);

    let mut dead = Watch::open(
        &url,
        &WatchSource::Queue(topology.dead_letter_queue.clone()),
        SECS,
    )
    .await
    .unwrap();
    let first = next_message(&mut dead).await;
    assert_eq!(first.body.bytes, b"Order data for user 1");
    // Why it was dead-lettered travels with it.
    let reason = first
        .headers
        .get("x-reject-reason")
        .and_then(|v| v.as_str());
    assert!(
        reason.is_some_and(|r| r.contains("not an OrderCreated JSON event")),
        "{:?}",
        first.headers
    );
    let second = next_message(&mut dead).await;
    assert_eq!(second.body.bytes, vec![0xff, 0xfe, 0x00]);
    assert_eq!(second.body.view(), BodyView::Binary);
    dead.close().await;
    let state = demo.user.consumer_state();
    assert!(
        matches!(
            state,
            ConsumerState::Consuming {
                dead_lettered: 2,
                ..
            }
        ),
        "{state:?}"
    );
    demo.stop().await;
}

#[tokio::test]
async fn publish_has_amqp_phases_and_a_watch_on_a_queue_consumes() {
    let demo = start_demo().await;
    let topology = demo.config.topology.clone();
    let url = amqp_url();
    // Stop the User Service so the order queue keeps what is published.
    let demo_services::DemoServices { user, order, .. } = demo;
    user.stop().await;

    let mut request = PublishRequest::new(&url, &topology.exchange, "order.created", r#"{"n":1}"#);
    request.count = 3;
    request.headers = vec![switchboard::engine::Header::new("x-test", "yes")];
    let exchanges = amqp::publish(&request).await;
    assert_eq!(exchanges.len(), 3);
    assert_eq!(
        phase_names(&exchanges[0]),
        [
            "connect",
            "AMQP handshake",
            "channel open",
            "publish",
            "broker confirm"
        ]
    );
    assert_eq!(phase_names(&exchanges[2]), ["publish", "broker confirm"]);
    for e in &exchanges {
        assert!(e.ok, "{:?}", e.error);
        assert_eq!(e.status.as_deref(), Some("ack"));
        assert_timeline_sane(e);
    }

    let mut watch = Watch::open(&url, &WatchSource::Queue(topology.queue.clone()), SECS)
        .await
        .unwrap();
    for _ in 0..3 {
        let m = next_message(&mut watch).await;
        assert_eq!(m.headers["x-test"], "yes");
        assert_eq!(&*m.key, "order.created");
    }
    watch.close().await;
    // Consumed (acked): a second watch finds the queue empty.
    let mut again = Watch::open(&url, &WatchSource::Queue(topology.queue.clone()), SECS)
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), again.next())
            .await
            .is_err()
    );
    again.close().await;
    order.stop().await;
}

#[tokio::test]
async fn broker_errors_land_in_the_right_phase() {
    let url = amqp_url();
    let bad_password = url.replacen("guest:guest", "guest:wrong-password", 1);
    let e = &amqp::publish(&PublishRequest::new(&bad_password, "amq.topic", "x", "x")).await[0];
    let error = e.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::Auth, "{error:?}");
    // TCP connected; the login is refused in the AMQP handshake.
    assert_eq!(error.phase, Some(amqp::phases::HANDSHAKE));
    assert_eq!(phase_names(e)[0], "connect");
    assert!(!e.timeline[0].failed, "{:?}", e.timeline);
    assert!(
        !error.message.contains("wrong-password"),
        "password leaked: {}",
        error.message
    );

    let e = &amqp::publish(&PublishRequest::new(
        "amqp://guest:guest@127.0.0.1:1/%2f",
        "amq.topic",
        "x",
        "x",
    ))
    .await[0];
    let error = e.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::ConnectionRefused);
    assert_eq!(error.phase, Some(switchboard::engine::net::phases::CONNECT));

    let e = &amqp::publish(&PublishRequest::new(
        &url,
        "amq.topic",
        "sbtest.nobody.listens",
        "x",
    ))
    .await[0];
    let error = e.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::Unroutable);
    assert_eq!(
        error.phase,
        Some(switchboard::engine::amqp::phases::CONFIRM)
    );

    let e = &amqp::publish(&PublishRequest::new(
        &url,
        "sbtest-no-such-exchange",
        "x",
        "x",
    ))
    .await[0];
    let error = e.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::Refused);
    assert!(error.message.contains("no exchange"), "{}", error.message);

    let e = &amqp::publish(&PublishRequest::new("amqp://[bad", "x", "x", "x")).await[0];
    assert_eq!(e.error.as_ref().unwrap().kind, ErrorKind::InvalidInput);

    let missing = Watch::open(
        &url,
        &WatchSource::Queue("sbtest-no-such-queue".to_string()),
        SECS,
    )
    .await;
    let error = missing.err().unwrap();
    assert!(
        error.message.contains("does not exist"),
        "{}",
        error.message
    );
    let missing = Watch::open(
        &url,
        &WatchSource::Tap {
            exchange: "sbtest-no-such-exchange".to_string(),
            binding: "#".to_string(),
        },
        SECS,
    )
    .await;
    assert!(missing.err().unwrap().message.contains("does not exist"));
}

/// The write-up's lesson: with no synchronous user check the Order Service keeps taking orders
/// while the User Service is down; they wait in its queue and drain when it is back (an unknown
/// user is found out by the consumer and dead-lettered).
#[tokio::test]
async fn with_no_user_check_orders_wait_in_the_queue_while_the_user_service_is_down_then_drain() {
    use demo_services::supervisor::{ServiceId, Supervisor};
    use demo_services::{DemoConfig, UserCheck};
    use switchboard::engine::amqp::probe::{QueueDepth, QueueProbe};

    let config = DemoConfig {
        amqp_url: amqp_url(),
        topology: common::unique_topology(),
        ..DemoConfig::ephemeral()
    };
    let queue = config.topology.queue.clone();
    let mut demo = Supervisor::start(config, false).await.unwrap();
    let mut updates = demo.user().unwrap().consumer_updates();
    tokio::time::timeout(
        Duration::from_secs(20),
        updates.wait_for(|s| matches!(s, ConsumerState::Consuming { .. })),
    )
    .await
    .unwrap()
    .unwrap();
    let depth = |want: QueueDepth| {
        let queue = queue.clone();
        move || {
            let queue = queue.clone();
            async move {
                let got = QueueProbe::new(&amqp_url())
                    .depth(&queue, Duration::from_secs(2))
                    .await
                    .ok()?;
                (got == want).then_some(())
            }
        }
    };
    eventually(
        10,
        "an empty queue with its consumer",
        depth(QueueDepth {
            ready: 0,
            consumers: 1,
        }),
    )
    .await;

    demo.set_user_check(UserCheck::None);
    let order_status = demo
        .status()
        .into_iter()
        .find(|s| s.id == ServiceId::Order)
        .unwrap();
    assert_eq!(order_status.user_check, Some(UserCheck::None));
    demo.stop_service(ServiceId::User).await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/orders", demo.config().order_http_addr);
    let post = |body: &'static str| client.post(&url).body(body).send();
    for _ in 0..3 {
        let accepted = post(r#"{"user_id": "1", "amount": 1}"#).await.unwrap();
        assert_eq!(accepted.status(), 201);
        let body: serde_json::Value = accepted.json().await.unwrap();
        assert_eq!(body["checked_over"], "none");
    }
    // Nobody asks about user 999 now: accepted too, found out later.
    assert_eq!(
        post(r#"{"user_id": "999", "amount": 1}"#)
            .await
            .unwrap()
            .status(),
        201
    );
    eventually(
        10,
        "4 orders waiting, no consumer",
        depth(QueueDepth {
            ready: 4,
            consumers: 0,
        }),
    )
    .await;

    // The synchronous check, for contrast: refused while the User Service is down.
    demo.set_user_check(UserCheck::Grpc);
    assert_eq!(
        post(r#"{"user_id": "1", "amount": 1}"#)
            .await
            .unwrap()
            .status(),
        502
    );
    demo.set_user_check(UserCheck::None);

    demo.start_service(ServiceId::User).await.unwrap();
    eventually(
        20,
        "the queue to drain",
        depth(QueueDepth {
            ready: 0,
            consumers: 1,
        }),
    )
    .await;
    let mut updates = demo.user().unwrap().consumer_updates();
    let state = tokio::time::timeout(
        Duration::from_secs(10),
        updates.wait_for(|s| {
            matches!(
                s,
                ConsumerState::Consuming {
                    consumed: 3,
                    dead_lettered: 1,
                    ..
                }
            )
        }),
    )
    .await
    .unwrap()
    .unwrap()
    .clone();
    let ConsumerState::Consuming { last_reject, .. } = state else {
        panic!()
    };
    assert!(last_reject.unwrap().contains("999"));

    // A queue that is not there is named as such.
    let missing = QueueProbe::new(&amqp_url())
        .depth("switchboard-no-such-queue", Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(missing.message.contains("does not exist"), "{missing}");
    assert_eq!(missing.kind, ErrorKind::Refused);
    demo.shutdown().await;
}

/// Connections that stay open (the demo's, the strip's queue-depth probe) ask for small frames:
/// lapin keeps 32 frames of buffer each way, 8 MiB per connection at RabbitMQ's 128 KiB. A URL
/// that sets `frame_max` keeps its own, and a big body still goes through (in several frames).
#[tokio::test]
async fn kept_connections_ask_for_small_frames_unless_the_url_says() {
    let props = || lapin::ConnectionProperties::default();
    let conn = amqp::connect_kept(&amqp_url(), props()).await.unwrap();
    assert_eq!(conn.configuration().frame_max(), amqp::KEPT_FRAME_MAX);
    let sep = if amqp_url().contains('?') { '&' } else { '?' };
    let own = amqp::connect_kept(&format!("{}{sep}frame_max=16384", amqp_url()), props())
        .await
        .unwrap();
    assert_eq!(own.configuration().frame_max(), 16384);
    let channel = conn.create_channel().await.unwrap();
    let queue = channel
        .queue_declare(
            "".into(),
            lapin::options::QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    let body = vec![7u8; 100_000];
    channel
        .basic_publish(
            "".into(),
            queue.name().as_str().into(),
            Default::default(),
            &body,
            Default::default(),
        )
        .await
        .unwrap();
    let got = tokio::time::timeout(SECS, async {
        loop {
            if let Some(m) = channel
                .basic_get(queue.name().as_str().into(), Default::default())
                .await
                .unwrap()
            {
                return m.delivery.data;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(got, body);
}

/// On Linux an AMQP publish's network edges are the kernel's instants, as HTTP's are: the TCP
/// handshake's round trip, the arrival of Connection.Open-Ok, Channel.Open-Ok / Select-Ok and
/// Basic.Ack, and the transmit stamp of the message's last frame; the wire's order holds
/// (handshake after TCP, confirm after publish) and the wake-ups are client time.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_publishs_phases_take_the_kernels_instants() {
    use switchboard::engine::kernel_time::{Source, keep_receive_stamps_on};
    assert!(keep_receive_stamps_on(Duration::from_secs(5)));
    let mut request = PublishRequest::new(amqp_url(), "amq.topic", "sbtest.kernel.nobody", "{}");
    request.mandatory = false;
    request.count = 2;
    let exchanges = amqp::publish(&request).await;
    for (i, exchange) in exchanges.iter().enumerate() {
        assert!(exchange.ok, "{exchange:?}");
        assert_timeline_sane(exchange);
        let phase = |name: &str| {
            exchange
                .timeline
                .iter()
                .find(|p| p.phase.name() == name)
                .unwrap_or_else(|| panic!("no {name} in {:?}", exchange.timeline))
        };
        let mut names = vec!["publish", "confirm"];
        if i == 0 {
            names = vec![
                "connect",
                "amqp_handshake",
                "channel_open",
                "publish",
                "confirm",
            ];
        }
        for name in &names {
            assert_eq!(
                phase(name).source,
                Some(Source::Kernel),
                "{name}: {exchange:?}"
            );
        }
        for pair in names.windows(2) {
            assert!(
                phase(pair[0]).end_us <= phase(pair[1]).start_us,
                "{} ends after {} starts: {:?}",
                pair[0],
                pair[1],
                exchange.timeline
            );
        }
        // The confirm is the broker's time: from the message on the wire to its answer.
        assert_eq!(phase("confirm").start_us, phase("publish").end_us);
    }
}

/// Regression (hostile run): lapin's URL parser put `localhost` in place of an IP address, so
/// `amqp://10.0.0.5` connected to this machine. The address in the URL is the one connected to
/// (127.0.0.2, where only a peer that speaks NATS listens), and a peer that is not a broker is
/// named by what it said, in the AMQP handshake.
#[tokio::test]
async fn an_ip_address_in_the_url_is_the_one_connected_to_and_a_foreign_peer_is_named() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.write_all(b"INFO {\"server_id\":\"x\"}\r\n").await;
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"-ERR 'Unknown Protocol Operation'\r\n").await;
        }
    });
    let url = format!("amqp://guest:s3cret@127.0.0.2:{port}/%2f");
    let mut request = PublishRequest::new(&url, "amq.topic", "x", "{}");
    request.timeout = Duration::from_secs(5);
    let e = &amqp::publish(&request).await[0];
    let error = e.error.as_ref().expect("no broker there");
    assert_eq!(
        e.timeline
            .iter()
            .find(|p| p.phase.name() == "connect")
            .and_then(|p| p.detail.clone()),
        Some(format!("127.0.0.2:{port}")),
        "{e:?}"
    );
    assert_eq!(error.phase, Some(amqp::phases::HANDSHAKE), "{error:?}");
    assert!(error.message.contains("NATS server"), "{error:?}");
    assert!(!error.message.contains("s3cret"), "{error:?}");

    let parsed = amqp::parse_uri("amqp://guest:guest@[::1]:5673/%2f").unwrap();
    assert_eq!(parsed.authority.host, "::1");
    assert_eq!(
        amqp::broker_addr("amqp://guest:guest@[::1]:5673/%2f").as_deref(),
        Some("[::1]:5673")
    );
    assert_eq!(
        amqp::parse_uri("amqp://h.example:5673/v")
            .unwrap()
            .authority
            .host,
        "h.example"
    );
}

/// Regression (hostile run): a host name is resolved in a `dns` phase of its own, and a name
/// that does not resolve is a DNS error there (it was "protocol" in `connect`); URLs the
/// general redaction rule cannot read still have their password masked.
#[tokio::test]
async fn host_names_resolve_in_a_dns_phase_and_odd_urls_keep_their_password() {
    let e = &amqp::publish(&PublishRequest::new(
        "amqp://guest:guest@no-such-host.invalid:5672/%2f",
        "amq.topic",
        "x",
        "{}",
    ))
    .await[0];
    let error = e.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::Dns, "{error:?}");
    assert_eq!(error.phase, Some(switchboard::engine::net::phases::DNS));

    let url = amqp_url().replacen("127.0.0.1", "localhost", 1);
    let mut request = PublishRequest::new(&url, "amq.topic", "sbtest.dns.nobody", "{}");
    request.mandatory = false;
    let e = &amqp::publish(&request).await[0];
    assert!(e.ok, "{e:?}");
    assert_eq!(phase_names(e)[..2], ["DNS", "connect"], "{e:?}");
    assert_timeline_sane(e);

    for url in [
        "amqp://gu est:s3cr3t PW@127.0.0.1:5672/%2f",
        "amqp:/guest:s3cr3tPW@127.0.0.1",
        "amqp:guest:s3cr3tPW@127.0.0.1",
    ] {
        assert!(!amqp::redact_url(url).contains("s3cr3t"), "{url}");
        let e = &amqp::publish(&PublishRequest::new(url, "amq.topic", "x", "{}")).await[0];
        let error = e.error.as_ref().unwrap();
        assert!(!error.message.contains("s3cr3t"), "{url}: {error:?}");
        if !url.contains(' ') {
            // One slash, or none: no host, not a vhost named after the credentials.
            assert_eq!(error.kind, ErrorKind::InvalidInput, "{url}: {error:?}");
        }
    }
}
