//! Watch modes against the real broker: a tap takes nothing away, peek leaves the queue as it
//! was, consume empties it, and a watch survives its connection being cut (through a proxy the
//! test controls, so other tests on the broker are untouched).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{amqp_url, eventually, start_demo, wait_consuming};
use demo_services::ConsumerState;
use switchboard::engine::BodyView;
use switchboard::engine::amqp::{self, PublishRequest};
use switchboard::engine::watch::{self, WatchEvent, WatchMode, WatchSpec, WatchedMessage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A TCP proxy to the broker whose live connections the test can cut.
struct Proxy {
    port: u16,
    live: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let live: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let tasks = live.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut upstream) = tokio::net::TcpStream::connect("127.0.0.1:5672").await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
                tasks.lock().unwrap().push(task);
            }
        });
        Self { port, live, accept }
    }

    fn url(&self) -> String {
        amqp_url().replace("127.0.0.1:5672", &format!("127.0.0.1:{}", self.port))
    }

    /// Drops every connection through the proxy, as a broker restart would.
    fn cut(&self) {
        for task in self.live.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

fn start(spec: WatchSpec) -> (mpsc::Receiver<WatchEvent>, CancellationToken) {
    let (tx, rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    tokio::spawn(watch::run(spec, tx, cancel.clone()));
    (rx, cancel)
}

async fn next_event(rx: &mut mpsc::Receiver<WatchEvent>) -> WatchEvent {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("an event within 20 s")
        .expect("watch alive")
}

/// Collects messages until `n` arrived (other events must not be failures).
async fn collect(rx: &mut mpsc::Receiver<WatchEvent>, n: usize) -> Vec<WatchedMessage> {
    let mut out = Vec::new();
    while out.len() < n {
        match next_event(rx).await {
            WatchEvent::Messages(batch) => out.extend(batch),
            WatchEvent::Failed(e) => panic!("watch failed: {e}"),
            _ => {}
        }
    }
    out
}

async fn publish(url: &str, exchange: &str, routing_key: &str, body: impl Into<Vec<u8>>) {
    let e = amqp::publish(&PublishRequest::new(url, exchange, routing_key, body)).await;
    assert!(e[0].ok, "{:?}", e[0].error);
}

async fn queue_depth(queue: &str) -> u32 {
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let options = lapin::options::QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let q = channel
        .queue_declare(queue.into(), options, lapin::types::FieldTable::default())
        .await
        .unwrap();
    let _ = conn.close(200, "bye".into()).await;
    q.message_count()
}

fn order_event(i: usize) -> Vec<u8> {
    format!(r#"{{"event":"OrderCreated","order_id":"o-{i}","user_id":"1","created_at_ms":0}}"#)
        .into_bytes()
}

#[tokio::test]
async fn a_tap_sees_every_message_and_the_queue_consumer_still_gets_all() {
    let demo = start_demo().await;
    wait_consuming(&demo).await;
    let topology = demo.config.topology.clone();
    let (mut rx, cancel) = start(WatchSpec::tap(amqp_url(), &topology.exchange, "#"));
    assert!(matches!(
        next_event(&mut rx).await,
        WatchEvent::Connected {
            reconnected: false,
            ..
        }
    ));
    for i in 0..50 {
        publish(
            &amqp_url(),
            &topology.exchange,
            "order.created",
            order_event(i),
        )
        .await;
    }
    publish(
        &amqp_url(),
        &topology.exchange,
        "order.binary",
        vec![0xff, 0x00, 0xc3],
    )
    .await;
    let seen = collect(&mut rx, 51).await;
    assert_eq!(seen.len(), 51);
    for (i, m) in seen.iter().take(50).enumerate() {
        let BodyView::Json(v) = m.body.view() else {
            panic!()
        };
        assert_eq!(v["order_id"], format!("o-{i}"), "in order, none missing");
    }
    assert_eq!(seen[50].body.view(), BodyView::Binary);
    // The User Service consumed all 50 orders (and dead-lettered the binary one).
    eventually(10, "the consumer to take all orders", || {
        let state = demo.user.consumer_state();
        async move {
            matches!(
                state,
                ConsumerState::Consuming {
                    consumed: 50,
                    dead_lettered: 1,
                    ..
                }
            )
            .then_some(())
        }
    })
    .await;
    cancel.cancel();
    demo.stop().await;
}

#[tokio::test]
async fn peek_leaves_the_queue_as_it_was_and_consume_empties_it() {
    let demo = start_demo().await;
    let topology = demo.config.topology.clone();
    let demo_services::DemoServices { user, order, .. } = demo;
    user.stop().await; // nobody consumes order_queue now
    for i in 0..5 {
        publish(
            &amqp_url(),
            &topology.exchange,
            "order.created",
            order_event(i),
        )
        .await;
    }
    eventually(10, "five messages in the queue", || async {
        (queue_depth(&topology.queue).await == 5).then_some(())
    })
    .await;

    let spec = WatchSpec {
        peek_limit: 3,
        ..WatchSpec::queue(amqp_url(), WatchMode::Peek, &topology.queue)
    };
    let (mut rx, _cancel) = start(spec);
    let peeked = collect(&mut rx, 3).await;
    assert!(matches!(
        next_event(&mut rx).await,
        WatchEvent::PeekDone { count: 3 }
    ));
    assert_eq!(peeked.len(), 3);
    assert!(peeked.iter().all(|m| !m.redelivered));
    assert_eq!(
        queue_depth(&topology.queue).await,
        5,
        "peek puts everything back"
    );

    // A second peek sees them again, now marked redelivered.
    let spec = WatchSpec {
        peek_limit: 10,
        ..WatchSpec::queue(amqp_url(), WatchMode::Peek, &topology.queue)
    };
    let (mut rx, _cancel) = start(spec);
    let again = collect(&mut rx, 5).await;
    assert!(again.iter().any(|m| m.redelivered));
    assert_eq!(queue_depth(&topology.queue).await, 5);

    let (mut rx, cancel) = start(WatchSpec::queue(
        amqp_url(),
        WatchMode::Consume,
        &topology.queue,
    ));
    let consumed = collect(&mut rx, 5).await;
    assert_eq!(consumed.len(), 5);
    cancel.cancel();
    eventually(10, "an empty queue", || async {
        (queue_depth(&topology.queue).await == 0).then_some(())
    })
    .await;
    order.stop().await;
}

#[tokio::test]
async fn a_tap_survives_a_cut_connection_and_gets_everything_after_the_reconnect() {
    let demo = start_demo().await;
    let topology = demo.config.topology.clone();
    let proxy = Proxy::start().await;
    let (mut rx, cancel) = start(WatchSpec::tap(proxy.url(), &topology.exchange, "#"));
    assert!(matches!(
        next_event(&mut rx).await,
        WatchEvent::Connected {
            reconnected: false,
            ..
        }
    ));
    for i in 0..3 {
        publish(
            &amqp_url(),
            &topology.exchange,
            "order.created",
            order_event(i),
        )
        .await;
    }
    assert_eq!(collect(&mut rx, 3).await.len(), 3);

    proxy.cut();
    let mut lost = false;
    loop {
        match next_event(&mut rx).await {
            WatchEvent::Lost { .. } => lost = true,
            WatchEvent::Connected {
                reconnected: true, ..
            } => break,
            WatchEvent::Failed(e) => panic!("the watch gave up: {e}"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(lost, "the gap is reported");
    for i in 10..15 {
        publish(
            &amqp_url(),
            &topology.exchange,
            "order.created",
            order_event(i),
        )
        .await;
    }
    let after = collect(&mut rx, 5).await;
    let ids: Vec<_> = after
        .iter()
        .map(|m| match m.body.view() {
            BodyView::Json(v) => v["order_id"].as_str().unwrap().to_string(),
            _ => panic!(),
        })
        .collect();
    assert_eq!(ids, ["o-10", "o-11", "o-12", "o-13", "o-14"]);
    cancel.cancel();
    demo.stop().await;
}

#[tokio::test]
async fn the_cli_watch_survives_a_cut_connection_and_counts_across_the_gap() {
    use std::io::BufRead;
    let demo = start_demo().await;
    let topology = demo.config.topology.clone();
    let proxy = Proxy::start().await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "watch",
            &proxy.url(),
            "--exchange",
            &topology.exchange,
            "--count",
            "4",
            "--timeout",
            "30",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Both outputs, line by line: stdout says when the watch has taken a message (so it is
    // connected before the cut — under load a cut during its first connection ended it).
    let reader = |out: Box<dyn std::io::Read + Send>, name: &str| {
        let (tx, rx) = mpsc::channel::<String>(64);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.blocking_send(line);
                }
            })
            .unwrap();
        rx
    };
    let mut lines = reader(Box::new(child.stderr.take().unwrap()), "cli-stderr");
    let mut printed_lines = reader(Box::new(child.stdout.take().unwrap()), "cli-stdout");
    let url = amqp_url();
    let mut printed: Vec<String> = Vec::new();
    for attempt in 0.. {
        assert!(attempt < 40, "the watch took nothing in 40 publishes");
        publish(
            &url,
            &topology.exchange,
            "order.created",
            order_event(attempt),
        )
        .await;
        if let Ok(Some(line)) =
            tokio::time::timeout(Duration::from_millis(500), printed_lines.recv()).await
        {
            printed.push(line);
            break;
        }
    }
    proxy.cut();
    let mut stderr_text = String::new();
    while !stderr_text.contains("reconnected") {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.recv())
            .await
            .expect("stderr within 20 s");
        let Some(line) = line else {
            panic!("the watch ended before it reconnected: {stderr_text}");
        };
        stderr_text.push_str(&line);
        stderr_text.push('\n');
    }
    assert!(stderr_text.contains("connection lost"), "{stderr_text}");
    // Messages that were on their way before the cut count too.
    while let Ok(line) = printed_lines.try_recv() {
        printed.push(line);
    }
    for i in 0..4usize.saturating_sub(printed.len()) {
        publish(
            &url,
            &topology.exchange,
            "order.created",
            order_event(100 + i),
        )
        .await;
    }
    while printed.len() < 4 {
        let line = tokio::time::timeout(Duration::from_secs(20), printed_lines.recv())
            .await
            .expect("stdout within 20 s")
            .expect("open");
        printed.push(line);
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{stderr_text}");
    let printed: Vec<serde_json::Value> = printed
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(printed.len(), 4, "counted across the gap");
    demo.stop().await;
}

#[tokio::test]
async fn publish_many_sends_a_numbered_series_with_confirms() {
    use switchboard::engine::publish_many::{PublishMany, publish_many};
    let demo = start_demo().await;
    let topology = demo.config.topology.clone();
    let demo_services::DemoServices { user, order, .. } = demo;
    user.stop().await;
    let mut request = PublishRequest::new(
        amqp_url(),
        &topology.exchange,
        "order.created",
        r#"{"n":{n}}"#,
    );
    request.properties.message_id = Some("m-{n}".to_string());
    let job = PublishMany {
        request,
        count: 300,
        rate_per_sec: 0.0,
        numbered: true,
    };
    let (tx, mut progress) = mpsc::channel(64);
    let done = publish_many(&job, Some(tx), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!((done.published, done.confirmed, done.failed), (300, 300, 0));
    assert!(done.done);
    let mut last = None;
    while let Ok(p) = progress.try_recv() {
        last = Some(p);
    }
    assert!(last.is_some_and(|p| p.done && p.confirmed == 300));

    let (mut rx, cancel) = start(WatchSpec::queue(
        amqp_url(),
        WatchMode::Consume,
        &topology.queue,
    ));
    let got = collect(&mut rx, 300).await;
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.body.bytes, format!(r#"{{"n":{}}}"#, i + 1).into_bytes());
        assert_eq!(m.field("message_id"), Some(format!("m-{}", i + 1)));
    }
    cancel.cancel();

    // Paced: 20 messages at 200 msg/s take at least the 95 ms the schedule asks for.
    let job = PublishMany {
        count: 20,
        rate_per_sec: 200.0,
        ..job
    };
    let paced = publish_many(&job, None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(paced.confirmed, 20);
    assert!(
        paced.elapsed >= Duration::from_millis(95),
        "{:?}",
        paced.elapsed
    );
    order.stop().await;
}

/// A queue of this test's own (gone a minute after the test), filled with `n` messages.
async fn filled_queue(n: usize) -> String {
    let name = format!("sbtest-{}-q", uuid::Uuid::new_v4().simple());
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let mut args = lapin::types::FieldTable::default();
    args.insert(
        "x-expires".into(),
        lapin::types::AMQPValue::LongUInt(60_000),
    );
    channel
        .queue_declare(name.as_str().into(), Default::default(), args)
        .await
        .unwrap();
    let _ = conn.close(200, "bye".into()).await;
    if n == 0 {
        return name;
    }
    let mut request = PublishRequest::new(amqp_url(), "", &name, order_event(0));
    request.count = n as u32;
    let published = amqp::publish(&request).await;
    assert!(published.iter().all(|e| e.ok), "{:?}", published[0].error);
    eventually(10, "the queue to fill", || async {
        (queue_depth(&name).await as usize == n).then_some(())
    })
    .await;
    name
}

/// Regression (#11.1): `watch --queue Q --count 5` printed 5 and emptied a queue of 100.
#[tokio::test]
async fn a_cli_consume_with_a_count_takes_only_what_it_prints() {
    let queue = filled_queue(100).await;
    let (url, name) = (amqp_url(), queue.clone());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args([
                "watch",
                &url,
                "--queue",
                &name,
                "--count",
                "5",
                "--timeout",
                "10",
                "--json",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8(output.stdout).unwrap().lines().count(), 5);
    eventually(10, "the 95 others back in the queue", || async {
        (queue_depth(&queue).await == 95).then_some(())
    })
    .await;
}

/// A consume whose user received only some of what was handed over acks only those; the rest,
/// and everything when the user side is gone, goes back to the queue.
#[tokio::test]
async fn a_consume_acks_only_what_reached_the_user() {
    let queue = filled_queue(50).await;
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let (delivered, counter) = watch::delivery_counter();
    let task = tokio::spawn(watch::run_confirmed(
        WatchSpec::queue(amqp_url(), WatchMode::Consume, &queue),
        tx,
        cancel.clone(),
        Some(counter),
    ));
    assert!(collect(&mut rx, 3).await.len() >= 3);
    // The user saw 3 of them, then stopped.
    delivered.send_replace(3);
    cancel.cancel();
    drop(rx);
    task.await.unwrap();
    eventually(10, "the 47 others back in the queue", || async {
        (queue_depth(&queue).await == 47).then_some(())
    })
    .await;

    // The viewer tab closed (its counter dropped) before storing anything: nothing is taken.
    let (tx, mut rx) = mpsc::channel(64);
    let (delivered, counter) = watch::delivery_counter();
    let task = tokio::spawn(watch::run_confirmed(
        WatchSpec::queue(amqp_url(), WatchMode::Consume, &queue),
        tx,
        CancellationToken::new(),
        Some(counter),
    ));
    collect(&mut rx, 1).await;
    drop(delivered);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the watch ends when its user is gone")
        .unwrap();
    eventually(10, "all 47 still in the queue", || async {
        (queue_depth(&queue).await == 47).then_some(())
    })
    .await;
}

async fn exchange_op(exchange: &str, declare: bool) {
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    if declare {
        channel
            .exchange_declare(
                exchange.into(),
                lapin::ExchangeKind::Topic,
                lapin::options::ExchangeDeclareOptions {
                    auto_delete: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .unwrap();
    } else {
        channel
            .exchange_delete(exchange.into(), Default::default())
            .await
            .unwrap();
    }
    let _ = conn.close(200, "bye".into()).await;
}

/// Regression (#11.6): a tap whose transient exchange is briefly missing after a broker restart
/// waits for it to come back instead of ending.
#[tokio::test]
async fn a_tap_waits_for_its_exchange_to_come_back_after_a_restart() {
    let exchange = format!("sbtest-{}-transient", uuid::Uuid::new_v4().simple());
    exchange_op(&exchange, true).await;
    let proxy = Proxy::start().await;
    let (mut rx, cancel) = start(WatchSpec::tap(proxy.url(), &exchange, "#"));
    assert!(matches!(
        next_event(&mut rx).await,
        WatchEvent::Connected {
            reconnected: false,
            ..
        }
    ));
    // "Restart": the transient exchange is gone and the connection drops.
    exchange_op(&exchange, false).await;
    proxy.cut();
    let waiting = loop {
        match next_event(&mut rx).await {
            WatchEvent::Lost { reason, .. } if reason.contains("waiting for it") => break reason,
            WatchEvent::Lost { .. } => {}
            WatchEvent::Failed(e) => panic!("the tap gave up: {e}"),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(waiting.contains(&exchange), "{waiting}");
    // Its owner declares it again.
    exchange_op(&exchange, true).await;
    loop {
        match next_event(&mut rx).await {
            WatchEvent::Connected {
                reconnected: true, ..
            } => break,
            WatchEvent::Lost { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    publish(&amqp_url(), &exchange, "order.created", order_event(7)).await;
    assert_eq!(collect(&mut rx, 1).await.len(), 1);
    cancel.cancel();
    exchange_op(&exchange, false).await;
}

/// The first start still fails at once on a missing exchange.
#[tokio::test]
async fn a_tap_on_a_missing_exchange_fails_at_the_first_start() {
    let (mut rx, _cancel) = start(WatchSpec::tap(amqp_url(), "sbtest-no-such-exchange", "#"));
    match next_event(&mut rx).await {
        WatchEvent::Failed(e) => assert!(e.message.contains("does not exist"), "{e}"),
        other => panic!("unexpected {other:?}"),
    }
}

/// Fault (#11): the connection cut in the middle of a publish-many. The confirmed count never
/// claims more than the broker holds, and a numbered series without a message id is numbered.
#[tokio::test]
async fn a_publish_many_cut_midway_never_overstates_what_the_broker_holds() {
    use switchboard::engine::publish_many::{PublishMany, publish_many};
    let queue = filled_queue(0).await;
    let proxy = Proxy::start().await;
    let job = PublishMany {
        // A short request timeout: how long a lost connection may stay unnoticed.
        request: PublishRequest {
            timeout: Duration::from_secs(5),
            ..PublishRequest::new(proxy.url(), "", &queue, r#"{"n":{n}}"#)
        },
        count: 200_000,
        rate_per_sec: 0.0,
        numbered: true,
    };
    let (tx, mut progress) = mpsc::channel(1024);
    let running =
        tokio::spawn(async move { publish_many(&job, Some(tx), CancellationToken::new()).await });
    let mut last = switchboard::engine::publish_many::Progress::default();
    while last.confirmed < 2000 {
        last = tokio::time::timeout(Duration::from_secs(20), progress.recv())
            .await
            .expect("progress within 20 s")
            .expect("publishing");
    }
    proxy.cut();
    let result = tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .expect("publish many ends after a cut (an error, never a hang)")
        .unwrap();
    while let Ok(p) = progress.try_recv() {
        last = p;
    }
    let confirmed = match result {
        Ok(done) => done.confirmed,
        Err(e) => {
            assert!(!e.message.is_empty());
            last.confirmed
        }
    };
    let held = queue_depth(&queue).await as u64;
    assert!(confirmed >= 2000);
    assert!(
        confirmed <= held,
        "{confirmed} reported confirmed, the broker holds {held}"
    );
    assert!(
        held <= last.published.max(confirmed) + 1000,
        "held {held}, published {}",
        last.published
    );

    // The first message is numbered 1, in its body and its message id.
    let (mut rx, cancel) = start(WatchSpec {
        peek_limit: 1,
        ..WatchSpec::queue(amqp_url(), WatchMode::Peek, &queue)
    });
    let first = collect(&mut rx, 1).await;
    cancel.cancel();
    assert_eq!(first[0].body.bytes, br#"{"n":1}"#);
    assert_eq!(first[0].field("message_id").as_deref(), Some("1"));
}

/// Regression (hostile run): Ctrl-C while nothing reads standard output (a pager, a full
/// pipe) still stops a consume promptly, and only what reached the output was taken.
#[tokio::test]
async fn ctrl_c_stops_a_consume_whose_output_is_blocked() {
    use std::io::Read;
    let queue = filled_queue(3000).await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["watch", &amqp_url(), "--queue", &queue, "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Nobody reads: the pipe fills up and the writes block.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut stdout = child.stdout.take().unwrap();
    let exited = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if child.try_wait().unwrap().is_some() {
                return Some(child);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    })
    .await
    .unwrap();
    assert!(exited.is_some(), "the watch ignored Ctrl-C");
    let mut printed = String::new();
    stdout.read_to_string(&mut printed).unwrap();
    let shown = printed.lines().filter(|l| l.ends_with('}')).count() as u32;
    assert!(
        shown < 3000,
        "everything was printed: the test did not block the output"
    );
    eventually(10, "what was not shown back in the queue", || async {
        let depth = queue_depth(&queue).await;
        (depth + shown >= 3000 && depth + shown <= 3001).then_some(())
    })
    .await;
}
