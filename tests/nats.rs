//! NATS against the real nats-server (JetStream on): request/reply, publishes, every watch mode,
//! the demo's `user.get` and `ORDERS` flow, bad input, and a watch surviving a server restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use switchboard::engine::fields::SavedHeader;
use switchboard::engine::nats::watch::{NatsWatch, NatsWatchMode};
use switchboard::engine::nats::{self, NatsRequest};
use switchboard::engine::watch::WatchEvent;
use switchboard::engine::{ErrorKind, Transport, WatchRequest};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use common::{
    assert_timeline_sane, delete_stream, nats_url, phase_names, start_demo_with_nats, tag,
};

const SECS: Duration = Duration::from_secs(10);

async fn client() -> async_nats::Client {
    async_nats::connect(nats_url())
        .await
        .expect("nats-server on 4222 (nats-server -js)")
}

/// A stream of its own on `<tag>.>`.
async fn make_stream(tag: &str) -> (String, String) {
    let name = format!("SBTEST_{tag}");
    let subjects = format!("sbtest_{tag}.>");
    let js = async_nats::jetstream::new(client().await);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![subjects],
        allow_direct: true,
        ..Default::default()
    })
    .await
    .unwrap();
    (name, format!("sbtest_{tag}.created"))
}

/// Starts a watch; returns its event receiver and its cancel token.
fn start(watch: NatsWatch) -> (mpsc::Receiver<WatchEvent>, CancellationToken) {
    let (tx, rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    tokio::spawn(WatchRequest::Nats(watch).run(tx, cancel.clone(), None));
    (rx, cancel)
}

async fn connected(rx: &mut mpsc::Receiver<WatchEvent>) {
    match tokio::time::timeout(SECS, rx.recv()).await.unwrap() {
        Some(WatchEvent::Connected { .. }) => {}
        other => panic!("expected Connected, got {other:?}"),
    }
}

/// Collects `n` messages (other events are skipped).
async fn messages(
    rx: &mut mpsc::Receiver<WatchEvent>,
    n: usize,
) -> Vec<switchboard::engine::watch::WatchedMessage> {
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(SECS, rx.recv()).await {
            Ok(Some(WatchEvent::Messages(batch))) => out.extend(batch),
            Ok(Some(WatchEvent::Failed(e))) => panic!("watch failed: {e}"),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => panic!("only {} of {n} messages arrived", out.len()),
        }
    }
    out
}

#[tokio::test]
async fn a_user_lookup_over_nats_has_a_timeline_and_the_same_json_as_http() {
    let (demo, names) = start_demo_with_nats().await;
    let req = NatsRequest::request(nats_url(), &names.user_subject, r#"{"user_id": "1"}"#);
    let e = nats::execute(&req, SECS).await.remove(0);
    assert!(e.ok, "{:?}", e.error);
    assert_eq!(e.transport, Transport::Nats);
    assert_eq!(phase_names(&e), ["connect", "request", "reply"]);
    assert_timeline_sane(&e);
    let reply: serde_json::Value =
        serde_json::from_slice(&e.response.as_ref().unwrap().body.bytes).unwrap();
    let http: serde_json::Value = reqwest::get(format!("http://{}/user/1", demo.user.http_addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply, http);
    assert_eq!(reply["name"], "John Doe");

    // Unknown and malformed ids: an error JSON with the service error code.
    for (body, code) in [
        (r#"{"user_id": "999"}"#, "404"),
        (r#"{"user_id": "x y"}"#, "400"),
        ("not json", "400"),
    ] {
        let req = NatsRequest::request(nats_url(), &names.user_subject, body);
        let e = nats::execute(&req, SECS).await.remove(0);
        assert!(!e.ok);
        assert!(e.error.is_none(), "a reply came: {:?}", e.error);
        assert!(
            e.status
                .as_deref()
                .unwrap()
                .starts_with(&format!("service error {code}")),
            "{:?}",
            e.status
        );
        let headers = &e.response.as_ref().unwrap().headers;
        assert!(
            headers
                .iter()
                .any(|h| h.name == "Nats-Service-Error-Code" && h.value == code),
            "{headers:?}"
        );
    }
    demo.stop().await;
    delete_stream(&names.stream).await;
}

#[tokio::test]
async fn no_responders_and_a_silent_responder_are_told_apart() {
    let subject = format!("sbtest.{}.nobody", tag());
    let e = nats::execute(&NatsRequest::request(nats_url(), &subject, "{}"), SECS)
        .await
        .remove(0);
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["error"]["kind"], "no_responders");
    let error = e.error.unwrap();
    assert_eq!(error.kind, ErrorKind::NoResponders);
    assert_eq!(error.phase.unwrap().name(), "reply");
    assert!(error.message.contains("no responders"), "{}", error.message);
    assert!(
        e.total_us < 2_000_000,
        "no responders is immediate, not a timeout"
    );

    // Someone listens but never answers: a timeout, in the reply phase.
    let c = client().await;
    let silent = format!("sbtest.{}.silent", tag());
    let _sub = c.subscribe(silent.clone()).await.unwrap();
    c.flush().await.unwrap();
    let mut req = NatsRequest::request(nats_url(), &silent, "{}");
    req.timeout_ms = Some(300);
    let e = nats::execute(&req, SECS).await.remove(0);
    let error = e.error.unwrap();
    assert_eq!(error.kind, ErrorKind::Timeout);
    assert_eq!(error.phase.unwrap().name(), "reply");
}

#[tokio::test]
async fn bad_input_fails_in_its_phase_without_a_panic() {
    for subject in ["has space", "a..b", "orders.>", ""] {
        let e = nats::execute(&NatsRequest::publish(nats_url(), subject, "x"), SECS)
            .await
            .remove(0);
        let error = e.error.unwrap();
        assert_eq!(error.kind, ErrorKind::InvalidInput, "{subject:?}");
        assert!(
            e.timeline.is_empty(),
            "nothing was attempted for {subject:?}"
        );
    }
    // Over the server's max_payload (1 MiB by default).
    let big = "x".repeat(2 * 1024 * 1024);
    let e = nats::execute(&NatsRequest::publish(nats_url(), "sbtest.big", &big), SECS)
        .await
        .remove(0);
    let error = e.error.unwrap();
    assert_eq!(error.kind, ErrorKind::InvalidInput);
    assert_eq!(error.phase.unwrap().name(), "publish");
    assert!(error.message.contains("max_payload"), "{}", error.message);
    // Nothing listens on port 1.
    let e = nats::execute(
        &NatsRequest::request("nats://127.0.0.1:1", "user.get", "{}"),
        SECS,
    )
    .await
    .remove(0);
    let error = e.error.unwrap();
    assert_eq!(
        error.kind,
        ErrorKind::ConnectionRefused,
        "{}",
        error.message
    );
    assert_eq!(error.phase.unwrap().name(), "connect");
    // Not a URL.
    let e = nats::execute(
        &NatsRequest::request("http://127.0.0.1:4222", "user.get", "{}"),
        SECS,
    )
    .await
    .remove(0);
    assert_eq!(e.error.unwrap().kind, ErrorKind::InvalidInput);
    // A stream that does not exist is an error of the watch.
    let (mut rx, _cancel) = start(NatsWatch::stream(
        nats_url(),
        NatsWatchMode::StreamTap,
        format!("NOPE_{}", tag()),
    ));
    match tokio::time::timeout(SECS, rx.recv()).await.unwrap() {
        Some(WatchEvent::Failed(e)) => {
            assert!(e.message.contains("does not exist"), "{}", e.message)
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_subject_tap_sees_core_publishes_with_headers_and_reply_to() {
    let t = tag();
    let (mut rx, cancel) = start(NatsWatch::subject(nats_url(), format!("sbtest.{t}.>")));
    connected(&mut rx).await;
    let mut req = NatsRequest::publish(nats_url(), format!("sbtest.{t}.a"), r#"{"n":1}"#);
    req.headers.push(SavedHeader::new("X-Trace", "abc"));
    req.reply_to = format!("sbtest.{t}.replies");
    req.count = 3;
    let exchanges = nats::execute(&req, SECS).await;
    assert_eq!(exchanges.len(), 3);
    assert!(exchanges.iter().all(|e| e.ok));
    assert_eq!(phase_names(&exchanges[0]), ["connect", "publish"]);
    assert_eq!(phase_names(&exchanges[1]), ["publish"]);
    let got = messages(&mut rx, 3).await;
    assert_eq!(got.len(), 3);
    let m = &got[0];
    assert_eq!(m.transport, Transport::Nats);
    assert_eq!(&*m.key, format!("sbtest.{t}.a"));
    assert_eq!(m.headers["X-Trace"], "abc");
    assert_eq!(
        m.field("reply_to").as_deref(),
        Some(format!("sbtest.{t}.replies").as_str())
    );
    let json = serde_json::to_value(m).unwrap();
    for key in [
        "transport",
        "subject",
        "reply_to",
        "headers",
        "body",
        "size_bytes",
        "received_at_ms",
    ] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }
    cancel.cancel();
}

#[tokio::test]
async fn jetstream_publish_is_acked_and_deduplicated_by_msg_id() {
    let t = tag();
    let (stream, subject) = make_stream(&t).await;
    let mut req = NatsRequest::publish(nats_url(), &subject, "order");
    req.jetstream = true;
    req.msg_id = format!("order-{t}");
    let first = nats::execute(&req, SECS).await.remove(0);
    assert!(first.ok, "{:?}", first.error);
    assert_eq!(phase_names(&first), ["connect", "publish", "ack"]);
    assert_timeline_sane(&first);
    assert_eq!(first.status.as_deref(), Some("ack seq 1"));
    let again = nats::execute(&req, SECS).await.remove(0);
    assert!(again.ok);
    assert_eq!(again.status.as_deref(), Some("ack seq 1 (duplicate)"));
    assert!(
        again
            .response
            .unwrap()
            .headers
            .iter()
            .any(|h| h.name == "duplicate" && h.value == "true")
    );
    // No stream captures the subject: refused, in the ack phase.
    let mut req = NatsRequest::publish(nats_url(), format!("sbtest_nostream_{t}.x"), "x");
    req.jetstream = true;
    let e = nats::execute(&req, SECS).await.remove(0);
    let error = e.error.unwrap();
    assert_eq!(error.kind, ErrorKind::Refused, "{}", error.message);
    assert!(
        error.message.contains("no JetStream stream"),
        "{}",
        error.message
    );
    delete_stream(&stream).await;
}

#[tokio::test]
async fn a_stream_tap_leaves_durable_consumers_alone_and_consume_takes() {
    let t = tag();
    let (stream, subject) = make_stream(&t).await;
    let c = client().await;
    let js = async_nats::jetstream::new(c.clone());
    for i in 0..5 {
        js.publish(subject.clone(), format!("m{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let s = js.get_stream(&stream).await.unwrap();
    let durable: async_nats::jetstream::consumer::PullConsumer = s
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("other".into()),
            ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let pending = |mut d: async_nats::jetstream::consumer::PullConsumer| async move {
        let info = d.info().await.unwrap();
        (info.num_pending, info.delivered.stream_sequence)
    };
    assert_eq!(pending(durable.clone()).await, (5, 0));

    // Tap from all, then from seq:4.
    let (mut rx, cancel) = start(NatsWatch::stream(
        nats_url(),
        NatsWatchMode::StreamTap,
        &stream,
    ));
    connected(&mut rx).await;
    let got = messages(&mut rx, 5).await;
    assert_eq!(
        got.iter().map(|m| m.body.bytes.clone()).collect::<Vec<_>>(),
        (0..5)
            .map(|i| format!("m{i}").into_bytes())
            .collect::<Vec<_>>()
    );
    assert_eq!(got[0].field("stream").as_deref(), Some(stream.as_str()));
    assert_eq!(got[4].field("stream_seq").as_deref(), Some("5"));
    let json = serde_json::to_value(&got[0]).unwrap();
    for key in [
        "stream",
        "stream_seq",
        "consumer_seq",
        "timestamp_ms",
        "redelivered",
    ] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }
    cancel.cancel();
    let mut from = NatsWatch::stream(nats_url(), NatsWatchMode::StreamTap, &stream);
    from.from = "seq:4".into();
    let (mut rx, cancel) = start(from);
    connected(&mut rx).await;
    assert_eq!(
        messages(&mut rx, 2).await[0].field("stream_seq").as_deref(),
        Some("4")
    );
    cancel.cancel();
    // The durable consumer did not move.
    assert_eq!(pending(durable.clone()).await, (5, 0));

    // Peek reads by sequence and creates nothing.
    let mut peek = NatsWatch::stream(nats_url(), NatsWatchMode::Peek, &stream);
    peek.from = "seq:2".into();
    peek.peek_limit = Some(2);
    let (mut rx, _c) = start(peek);
    connected(&mut rx).await;
    let got = messages(&mut rx, 2).await;
    assert_eq!(got[0].body.bytes, b"m1");
    assert_eq!(got[1].body.bytes, b"m2");
    match tokio::time::timeout(SECS, rx.recv()).await.unwrap() {
        Some(WatchEvent::PeekDone { count: 2 }) => {}
        other => panic!("expected PeekDone, got {other:?}"),
    }

    // Consume as the durable "other": it takes (and acks) what it receives.
    let mut consume = NatsWatch::stream(nats_url(), NatsWatchMode::Consume, &stream);
    consume.durable = "other".into();
    consume.limit = Some(3);
    let (mut rx, _c) = start(consume);
    connected(&mut rx).await;
    assert_eq!(messages(&mut rx, 3).await.len(), 3);
    common::eventually(
        10,
        "the durable consumer to move past 3 acked messages",
        || {
            let d = durable.clone();
            async move {
                let mut d = d;
                let info = d.info().await.unwrap();
                (info.num_pending == 2
                    && info.num_ack_pending == 0
                    && info.delivered.stream_sequence == 3)
                    .then_some(())
            }
        },
    )
    .await;
    delete_stream(&stream).await;
}

#[tokio::test]
async fn a_stream_tap_reads_a_recreated_stream_from_its_start_and_removes_its_consumer() {
    let t = tag();
    let (stream, subject) = make_stream(&t).await;
    let js = async_nats::jetstream::new(client().await);
    let publish = |body: String| {
        let (js, subject) = (js.clone(), subject.clone());
        async move {
            js.publish(subject, body.into())
                .await
                .unwrap()
                .await
                .unwrap()
        }
    };
    for i in 0..5 {
        publish(format!("old{i}")).await;
    }
    let (mut rx, cancel) = start(NatsWatch::stream(
        nats_url(),
        NatsWatchMode::StreamTap,
        &stream,
    ));
    connected(&mut rx).await;
    assert_eq!(messages(&mut rx, 5).await.len(), 5);
    // The same name made again: its sequences start over at 1.
    js.delete_stream(&stream).await.unwrap();
    let (again, _) = make_stream(&t).await;
    assert_eq!(again, stream);
    for i in 0..3 {
        publish(format!("new{i}")).await;
    }
    let mut notice = None;
    let mut got = Vec::new();
    while got.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(WatchEvent::Messages(batch))) => got.extend(batch),
            Ok(Some(WatchEvent::Notice(n))) => notice = Some(n),
            Ok(Some(_)) => {}
            other => panic!("the new stream's messages did not come: {other:?} ({got:?})"),
        }
    }
    let seqs: Vec<_> = got.iter().map(|m| m.stream_seq()).collect();
    assert_eq!(seqs, [Some(1), Some(2), Some(3)]);
    assert_eq!(got[0].body.bytes, b"new0");
    let notice = notice.expect("the tap says the stream was made again");
    assert!(notice.contains("created again"), "{notice}");
    // Stopped, the tap removes its consumer at once (not after 30 s of inactivity).
    let mut s = js.get_stream(&stream).await.unwrap();
    assert_eq!(s.info().await.unwrap().state.consumer_count, 1);
    cancel.cancel();
    drop(rx);
    let mut left = usize::MAX;
    for _ in 0..50 {
        left = s.info().await.unwrap().state.consumer_count;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "the tap's consumer is deleted when it stops");
    js.delete_stream(&stream).await.unwrap();
}

#[tokio::test]
async fn a_stream_tap_hands_large_messages_on_in_small_batches() {
    let t = tag();
    let (stream, subject) = make_stream(&t).await;
    let js = async_nats::jetstream::new(client().await);
    let body = vec![b'x'; 300 << 10];
    for _ in 0..12 {
        js.publish(subject.clone(), body.clone().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let (mut rx, cancel) = start(NatsWatch::stream(
        nats_url(),
        NatsWatchMode::StreamTap,
        &stream,
    ));
    connected(&mut rx).await;
    let mut sizes = Vec::new();
    while sizes.iter().sum::<usize>() < 12 {
        match tokio::time::timeout(SECS, rx.recv()).await.unwrap() {
            Some(WatchEvent::Messages(batch)) => {
                assert!(batch.iter().all(|m| m.body.bytes.len() == 300 << 10));
                sizes.push(batch.len());
            }
            Some(WatchEvent::Failed(e)) => panic!("{e}"),
            _ => {}
        }
    }
    cancel.cancel();
    // 1 MiB of bodies fills a batch: never more than 4 of 300 KB (512 is the count limit).
    assert!(sizes.iter().all(|n| *n <= 4), "{sizes:?}");
    js.delete_stream(&stream).await.unwrap();
}

#[tokio::test]
async fn a_queue_group_member_takes_messages_from_the_others() {
    let t = tag();
    let subject = format!("sbtest.{t}.work");
    let c = client().await;
    let mut other = c
        .queue_subscribe(subject.clone(), "workers".into())
        .await
        .unwrap();
    c.flush().await.unwrap();
    let mut w = NatsWatch::subject(nats_url(), &subject);
    w.mode = NatsWatchMode::QueueGroup;
    w.queue_group = "workers".into();
    let (mut rx, cancel) = start(w);
    connected(&mut rx).await;
    let mut req = NatsRequest::publish(nats_url(), &subject, "job");
    req.count = 200;
    assert!(nats::execute(&req, SECS).await.iter().all(|e| e.ok));
    let mut ours = 0;
    while let Ok(Some(WatchEvent::Messages(b))) =
        tokio::time::timeout(Duration::from_millis(500), rx.recv()).await
    {
        ours += b.len();
    }
    let mut theirs = 0;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), other.next()).await {
        theirs += 1;
    }
    assert_eq!(ours + theirs, 200, "each message went to one member");
    assert!(
        ours > 0 && theirs > 0 && theirs < 200,
        "ours {ours}, theirs {theirs}"
    );
    cancel.cancel();
}

#[tokio::test]
async fn an_order_lands_in_the_stream_with_its_id_and_correlation() {
    let (demo, names) = start_demo_with_nats().await;
    let response: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{}/orders", demo.order.http_addr))
        .header("x-correlation-id", "corr-42")
        .json(&serde_json::json!({"user_id": "2", "amount": 3.5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let order_id = response["order_id"].as_str().unwrap().to_string();
    assert_eq!(
        response["published_nats"]["stream"],
        names.stream.as_str(),
        "{response}"
    );
    let mut peek = NatsWatch::stream(nats_url(), NatsWatchMode::Peek, &names.stream);
    peek.peek_limit = Some(10);
    let (mut rx, _c) = start(peek);
    connected(&mut rx).await;
    let got = messages(&mut rx, 1).await;
    let m = &got[0];
    assert_eq!(&*m.key, names.orders_subject);
    assert_eq!(m.headers["Nats-Msg-Id"], order_id.as_str());
    assert_eq!(m.headers["X-Correlation-Id"], "corr-42");
    let event: serde_json::Value = serde_json::from_slice(&m.body.bytes).unwrap();
    assert_eq!(event["user_id"], "2");
    demo.stop().await;
    delete_stream(&names.stream).await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private nats-server, killed when dropped (also when a test fails midway).
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_server(port: u16, dir: &std::path::Path) -> Server {
    Server(
        std::process::Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server on PATH (scripts/test installs it)"),
    )
}

async fn wait_listening(port: u16) {
    common::eventually(10, "nats-server to listen", || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
}

#[tokio::test]
async fn a_watch_survives_a_server_restart_and_marks_the_gap() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("sbtest-nats-{}", tag()));
    let server = spawn_server(port, &dir);
    wait_listening(port).await;
    let url = format!("nats://127.0.0.1:{port}");
    // A stream (on disk: it outlives the restart) with a stream tap, beside a subject tap.
    let js = async_nats::jetstream::new(async_nats::connect(&url).await.unwrap());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "RESTART".into(),
        subjects: vec!["kept.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    drop(js);
    let (mut stream_rx, stream_cancel) =
        start(NatsWatch::stream(&url, NatsWatchMode::StreamTap, "RESTART"));
    connected(&mut stream_rx).await;
    let (mut rx, cancel) = start(NatsWatch::subject(&url, "restart.>"));
    connected(&mut rx).await;
    assert!(nats::execute(&NatsRequest::publish(&url, "restart.before", "1"), SECS).await[0].ok);
    assert_eq!(&*messages(&mut rx, 1).await[0].key, "restart.before");
    let mut kept = NatsRequest::publish(&url, "kept.one", "1");
    kept.jetstream = true;
    assert!(nats::execute(&kept, SECS).await[0].ok);
    assert_eq!(
        messages(&mut stream_rx, 1).await[0]
            .field("stream_seq")
            .as_deref(),
        Some("1")
    );

    drop(server);
    let lost = tokio::time::timeout(SECS, async {
        loop {
            if let Some(WatchEvent::Lost { .. }) = rx.recv().await {
                return;
            }
        }
    })
    .await;
    assert!(lost.is_ok(), "the watch reports the lost connection");
    let _server = spawn_server(port, &dir);
    wait_listening(port).await;
    let back = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Some(WatchEvent::Connected {
                reconnected: true, ..
            }) = rx.recv().await
            {
                return;
            }
        }
    })
    .await;
    assert!(back.is_ok(), "the watch reconnects");
    // The subscription is renewed: a message published now arrives.
    common::eventually(10, "a message after the restart", || {
        let url = url.clone();
        async move {
            nats::execute(&NatsRequest::publish(&url, "restart.after", "2"), SECS).await[0]
                .ok
                .then_some(())
        }
    })
    .await;
    assert_eq!(&*messages(&mut rx, 1).await[0].key, "restart.after");
    // The stream tap goes on after the last message it saw: the next one, not the first again.
    let mut kept = NatsRequest::publish(&url, "kept.two", "2");
    kept.jetstream = true;
    common::eventually(10, "a stream publish after the restart", || {
        let kept = kept.clone();
        async move { nats::execute(&kept, SECS).await[0].ok.then_some(()) }
    })
    .await;
    let got = tokio::time::timeout(Duration::from_secs(30), messages(&mut stream_rx, 1))
        .await
        .expect("the stream tap resumes after the restart");
    assert_eq!(&*got[0].key, "kept.two");
    assert_eq!(got[0].field("stream_seq").as_deref(), Some("2"));
    stream_cancel.cancel();
    cancel.cancel();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_mode_runs_requests_and_jetstream_publishes_on_kept_connections() {
    use switchboard::engine::RequestSpec;
    use switchboard::engine::load::{LoadLimit, LoadSpec, run_load};
    let (demo, names) = start_demo_with_nats().await;
    let pool = switchboard::engine::grpc::builtin_pool().unwrap();
    let req = NatsRequest::request(nats_url(), &names.user_subject, r#"{"user_id":"2"}"#);
    let spec = LoadSpec {
        request: RequestSpec::Nats(Box::new(req)),
        limit: LoadLimit::Requests(300),
        concurrency: 4,
        traceparent: true,
    };
    let report = run_load(&spec, &pool, None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        (report.requests, report.ok),
        (300, 300),
        "{:?}",
        report.errors
    );
    // Unknown users are counted as failures by kind, not lost.
    let bad = NatsRequest::request(nats_url(), &names.user_subject, r#"{"user_id":"999"}"#);
    let spec = LoadSpec {
        request: RequestSpec::Nats(Box::new(bad)),
        limit: LoadLimit::Requests(50),
        concurrency: 2,
        traceparent: true,
    };
    let report = run_load(&spec, &pool, None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!((report.requests, report.ok), (50, 0));
    let mut publish = NatsRequest::publish(nats_url(), &names.orders_subject, "{}");
    publish.jetstream = true;
    let spec = LoadSpec {
        request: RequestSpec::Nats(Box::new(publish)),
        limit: LoadLimit::Requests(200),
        concurrency: 4,
        traceparent: true,
    };
    let report = run_load(&spec, &pool, None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.ok, 200, "{:?}", report.errors);
    demo.stop().await;
    delete_stream(&names.stream).await;
}

#[tokio::test]
async fn publish_many_numbers_a_jetstream_series_and_counts_its_acks() {
    use switchboard::engine::nats::publish_many::{NatsPublishMany, publish_many};
    let t = tag();
    let (stream, subject) = make_stream(&t).await;
    let mut request = NatsRequest::publish(nats_url(), &subject, r#"{"n":{n}}"#);
    request.jetstream = true;
    request.msg_id = format!("order-{t}-{{n}}");
    let job = NatsPublishMany {
        request,
        count: 50,
        rate_per_sec: 0.0,
        numbered: true,
    };
    let (tx, mut progress) = mpsc::channel(64);
    let done = publish_many(&job, Some(tx), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!((done.published, done.confirmed, done.failed), (50, 50, 0));
    assert!(done.done);
    let mut last = None;
    while let Ok(p) = progress.try_recv() {
        last = Some(p);
    }
    assert!(last.is_some_and(|p| p.done && p.confirmed == 50));
    // Numbered bodies and ids: the same series again is all duplicates, nothing stored twice.
    let again = publish_many(&job, None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(again.confirmed, 50);
    let mut peek = NatsWatch::stream(nats_url(), NatsWatchMode::Peek, &stream);
    peek.peek_limit = Some(100);
    let (mut rx, _c) = start(peek);
    connected(&mut rx).await;
    let got = messages(&mut rx, 50).await;
    assert_eq!(got.len(), 50);
    assert_eq!(got[49].body.bytes, br#"{"n":50}"#);
    assert_eq!(
        got[0].headers["Nats-Msg-Id"],
        format!("order-{t}-1").as_str()
    );
    match tokio::time::timeout(SECS, rx.recv()).await.unwrap() {
        Some(WatchEvent::PeekDone { count: 50 }) => {}
        other => panic!("50 messages in the stream, got {other:?}"),
    }
    // Core: flushed, seen by a tap.
    let (mut tap, cancel) = start(NatsWatch::subject(nats_url(), format!("sbtest.{t}.many")));
    connected(&mut tap).await;
    let core = NatsPublishMany {
        request: NatsRequest::publish(nats_url(), format!("sbtest.{t}.many"), "x"),
        count: 200,
        rate_per_sec: 0.0,
        numbered: false,
    };
    let done = publish_many(&core, None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.confirmed, 200);
    assert_eq!(messages(&mut tap, 200).await.len(), 200);
    cancel.cancel();
    delete_stream(&stream).await;
}

#[tokio::test]
async fn a_server_without_jetstream_is_named_as_such() {
    let port = free_port();
    let _server = Server(
        std::process::Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server on PATH"),
    );
    wait_listening(port).await;
    let url = format!("nats://127.0.0.1:{port}");
    let mut req = NatsRequest::publish(&url, "a.b", "x");
    req.jetstream = true;
    let e = nats::execute(&req, SECS).await.remove(0);
    assert!(
        e.error
            .unwrap()
            .message
            .contains("JetStream is not enabled")
    );
    let listed = switchboard::engine::nats::streams::list(&url, SECS).await;
    assert!(
        listed
            .unwrap_err()
            .message
            .contains("JetStream is not enabled")
    );
    let (mut rx, _c) = start(NatsWatch::stream(&url, NatsWatchMode::StreamTap, "ORDERS"));
    match tokio::time::timeout(SECS, rx.recv()).await.unwrap() {
        Some(WatchEvent::Failed(e)) => {
            assert!(e.message.contains("JetStream is not enabled"), "{e}")
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    // Core NATS works there.
    assert!(nats::execute(&NatsRequest::publish(&url, "a.b", "x"), SECS).await[0].ok);
}

/// POSTs an order to the demo's Order Service; its status.
async fn post_order(addr: std::net::SocketAddr, user_id: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("http://{addr}/orders"))
        .json(&serde_json::json!({"user_id": user_id, "amount": 2.5}))
        .send()
        .await
        .unwrap()
        .status()
}

/// The User Service's durable pull consumer `user-service` of the order stream: it takes each
/// order (and terminates the one for an unknown user); stopped with the User Service, orders
/// wait as its pending messages; started again, they drain and the counts go on from where
/// they were (the RabbitMQ consumer's too).
#[tokio::test]
async fn the_user_service_consumes_the_order_stream_and_orders_wait_while_it_is_stopped() {
    use demo_services::ConsumerState;
    use demo_services::supervisor::{ServiceId, Supervisor};
    use switchboard::engine::nats::streams::ConsumerProbe;
    let names = demo_services::NatsNames::unique(&nats_url(), &tag());
    let config = demo_services::DemoConfig {
        amqp_url: common::amqp_url(),
        topology: common::unique_topology(),
        nats: Some(names.clone()),
        user_check: demo_services::UserCheck::None,
        ..demo_services::DemoConfig::ephemeral()
    };
    let mut demo = Supervisor::start(config, false).await.expect("demo");
    let order_addr = demo.config().order_http_addr;
    let nats_state = |demo: &Supervisor| demo.user().map(|u| u.nats_consumer_state());
    let amqp_state = |demo: &Supervisor| demo.user().map(|u| u.consumer_state());
    let counts = |state: Option<ConsumerState>| match state {
        Some(ConsumerState::Consuming {
            consumed,
            dead_lettered,
            ..
        }) => Some((consumed, dead_lettered)),
        _ => None,
    };
    common::eventually(20, "the NATS consumer to consume", || {
        let state = nats_state(&demo);
        async move { counts(state) }
    })
    .await;
    common::eventually(20, "the RabbitMQ consumer to consume", || {
        let state = amqp_state(&demo);
        async move { counts(state) }
    })
    .await;
    assert_eq!(post_order(order_addr, "1").await, 201);
    common::eventually(20, "the first order consumed from the stream", || {
        let state = nats_state(&demo);
        async move { (counts(state) == Some((1, 0))).then_some(()) }
    })
    .await;

    let mut probe = ConsumerProbe::new(&names.url);
    let pending = probe
        .pending(&names.stream, "user-service", SECS)
        .await
        .expect("the User Service made its durable consumer");
    assert!(pending.durable, "{pending:?}");
    assert_eq!(pending.num_pending + pending.num_ack_pending, 0);

    demo.stop_service(ServiceId::User).await;
    for user in ["2", "3", "99"] {
        assert_eq!(post_order(order_addr, user).await, 201, "user check none");
    }
    let waiting = common::eventually(10, "3 orders pending for the stopped consumer", || {
        let (url, stream) = (names.url.clone(), names.stream.clone());
        async move {
            let mut probe = ConsumerProbe::new(&url);
            let c = probe.pending(&stream, "user-service", SECS).await.ok()?;
            (c.num_pending == 3).then_some(c)
        }
    })
    .await;
    assert_eq!(waiting.num_ack_pending, 0, "{waiting:?}");

    demo.start_service(ServiceId::User).await.unwrap();
    common::eventually(20, "the pending orders to drain", || {
        let (url, stream) = (names.url.clone(), names.stream.clone());
        async move {
            let mut probe = ConsumerProbe::new(&url);
            let c = probe.pending(&stream, "user-service", SECS).await.ok()?;
            (c.num_pending + c.num_ack_pending == 0).then_some(())
        }
    })
    .await;
    // 1 before the stop + the 2 known users' orders; user 99's is terminated.
    common::eventually(20, "the NATS consumer's counts to go on", || {
        let state = nats_state(&demo);
        async move { (counts(state) == Some((3, 1))).then_some(()) }
    })
    .await;
    match nats_state(&demo) {
        Some(ConsumerState::Consuming {
            last_reject: Some(reason),
            ..
        }) => assert!(reason.contains("\"99\""), "{reason}"),
        other => panic!("{other:?}"),
    }
    // The RabbitMQ consumer's counts are kept across the restart as well.
    common::eventually(20, "the RabbitMQ consumer's counts to go on", || {
        let state = amqp_state(&demo);
        async move { (counts(state) == Some((3, 1))).then_some(()) }
    })
    .await;
    demo.shutdown().await;
    delete_stream(&names.stream).await;
}

/// An order's stream message carries the producer's context: the User Service's consumer
/// takes it with a consumer span under the Order Service's producer span, in the request's trace.
#[tokio::test]
async fn an_orders_stream_message_carries_its_trace_to_the_user_services_consumer() {
    let names = demo_services::NatsNames::unique(&nats_url(), &tag());
    let (demo, producer, consumer) = common::order_hop_spans(
        |endpoint| demo_services::DemoConfig {
            amqp_url: common::amqp_url(),
            topology: common::unique_topology(),
            nats: Some(names.clone()),
            otlp_endpoint: Some(endpoint),
            ..demo_services::DemoConfig::ephemeral()
        },
        "4",
        "nats",
    )
    .await;
    assert_eq!(producer.name, format!("{} publish", names.orders_subject));
    assert_eq!(consumer.name, format!("{} process", names.orders_subject));
    assert!(
        consumer
            .attributes
            .iter()
            .any(|(k, v)| k == "messaging.consumer.group.name" && v == "user-service"),
        "{consumer:?}"
    );
    demo.stop().await;
    delete_stream(&names.stream).await;
}

/// The `traceparent` values of the next `n` messages on `sub`.
async fn traceparents(sub: &mut async_nats::Subscriber, n: usize) -> Vec<Vec<String>> {
    let mut values = Vec::new();
    for _ in 0..n {
        let msg = tokio::time::timeout(SECS, sub.next())
            .await
            .expect("every published message arrives")
            .unwrap();
        let all: Vec<String> = msg
            .headers
            .iter()
            .flat_map(|h| h.get_all("traceparent"))
            .map(|v| v.as_str().to_string())
            .collect();
        values.push(all);
    }
    values
}

/// Load mode's core publishes each carry a new `traceparent` (a new trace per message), none
/// when switched off, and one the request sets is sent as given on every message.
#[tokio::test]
async fn load_mode_puts_a_new_traceparent_on_every_message_unless_switched_off() {
    use switchboard::engine::RequestSpec;
    use switchboard::engine::load::{LoadLimit, LoadSpec, run_load};
    use switchboard::engine::trace::TraceContext;
    let pool = switchboard::engine::grpc::builtin_pool().unwrap();
    let watcher = client().await;
    let subject = format!("sbtest_{}.load_trace", tag());
    let mut sub = watcher.subscribe(subject.clone()).await.unwrap();
    watcher.flush().await.unwrap();
    let load = |request: NatsRequest, traceparent: bool| LoadSpec {
        request: RequestSpec::Nats(Box::new(request)),
        limit: LoadLimit::Requests(40),
        concurrency: 4,
        traceparent,
    };

    let spec = load(NatsRequest::publish(nats_url(), &subject, "x"), true);
    let report = run_load(&spec, &pool, None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.ok, 40, "{:?}", report.errors);
    let values = traceparents(&mut sub, 40).await;
    let mut traces = std::collections::HashSet::new();
    for v in &values {
        assert_eq!(v.len(), 1, "one traceparent per message: {values:?}");
        let context = TraceContext::parse(&v[0]).expect("a valid traceparent");
        traces.insert(context.trace_id);
    }
    assert_eq!(traces.len(), 40, "a new trace per message: {values:?}");

    let spec = load(NatsRequest::publish(nats_url(), &subject, "x"), false);
    let report = run_load(&spec, &pool, None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.ok, 40, "{:?}", report.errors);
    let values = traceparents(&mut sub, 40).await;
    assert!(values.iter().all(Vec::is_empty), "none: {values:?}");

    let given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let mut mine = NatsRequest::publish(nats_url(), &subject, "x");
    mine.headers.push(SavedHeader {
        name: "traceparent".into(),
        value: given.into(),
        enabled: true,
    });
    let report = run_load(&load(mine, true), &pool, None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.ok, 40, "{:?}", report.errors);
    let values = traceparents(&mut sub, 40).await;
    assert!(
        values.iter().all(|v| v == &[given]),
        "the given one, as given: {values:?}"
    );
}

/// A private nats-server an earlier run of the app left running (the app was killed with
/// SIGKILL) on the JetStream directory is stopped by the next Start, which then runs its own
/// there; a stop forgets the pid.
#[tokio::test]
async fn start_stops_a_private_server_an_earlier_run_left_on_its_directory() {
    let dir = std::env::temp_dir().join(format!("sb-nats-stale-{}", tag()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let mut left = spawn_server(port, &dir);
    wait_listening(port).await;
    // What the killed app's Start recorded.
    std::fs::write(dir.join("switchboard.pid"), format!("{}\n", left.0.id())).unwrap();
    let server = demo_services::nats_server::PrivateNats::start(&dir)
        .await
        .expect("a private nats-server starts");
    assert!(
        left.0.try_wait().unwrap().is_some(),
        "the server left running was stopped"
    );
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "nothing listens where the old one did"
    );
    let recorded = std::fs::read_to_string(dir.join("switchboard.pid")).unwrap();
    assert_ne!(recorded.trim(), left.0.id().to_string());
    let js = async_nats::jetstream::new(async_nats::connect(server.url.as_str()).await.unwrap());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "STALE_CHECK".into(),
        subjects: vec!["stale_check.>".into()],
        ..Default::default()
    })
    .await
    .expect("the new server owns the JetStream directory");
    server.stop().await;
    assert!(
        !dir.join("switchboard.pid").exists(),
        "a stop forgets the pid"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs a watch handing its messages over in `form`; returns its event receiver.
fn start_as(
    watch: NatsWatch,
    form: switchboard::engine::watched::Form,
    cancel: &CancellationToken,
) -> mpsc::Receiver<WatchEvent> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(WatchRequest::Nats(watch).run_as(tx, cancel.clone(), None, form));
    rx
}

/// Stores what `rx` brings until `n` messages are in; returns the store and how many batches
/// came in the stored form.
async fn store_all(
    rx: &mut mpsc::Receiver<WatchEvent>,
    n: u64,
) -> (switchboard::engine::store::MessageStore, usize) {
    let mut store = switchboard::engine::store::MessageStore::with_capacity(10_000);
    let mut stored_batches = 0;
    while store.received < n {
        match tokio::time::timeout(SECS, rx.recv()).await {
            Ok(Some(WatchEvent::Messages(batch))) => batch.into_iter().for_each(|m| store.push(m)),
            Ok(Some(WatchEvent::Stored(batch))) => {
                stored_batches += 1;
                store.push_prepared(&batch);
            }
            Ok(Some(WatchEvent::Failed(e))) => panic!("watch failed: {e}"),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => panic!("only {} of {n} messages arrived", store.received),
        }
    }
    (store, stored_batches)
}

/// Every stored message back as a watched one, its receive time left out.
fn contents(store: &switchboard::engine::store::MessageStore) -> Vec<serde_json::Value> {
    store
        .iter()
        .map(|e| match e {
            switchboard::engine::store::Entry::Message(m) => {
                let mut json = serde_json::to_value(m.to_watched()).unwrap();
                json.as_object_mut().unwrap().remove("received_at_ms");
                json
            }
            switchboard::engine::store::Entry::Gap(g) => panic!("a gap: {}", g.reason),
        })
        .collect()
}

/// The viewer runs its NATS taps in the stored form (each message converted once, straight
/// from the client's): a subject tap and a stream tap store exactly what the watched form
/// stores — subject, reply-to, headers, body, stream position — and the form is really used.
#[tokio::test]
async fn the_viewers_stored_form_keeps_what_the_watched_form_does() {
    use switchboard::engine::watched::Form;
    let t = tag();
    let (stream, subject) = make_stream(&t).await;
    let cancel = CancellationToken::new();
    // The subject itself: JetStream acks the core publishes that carry a reply subject on it.
    let tap = || NatsWatch::subject(nats_url(), subject.clone());
    let mut core_watched = start_as(tap(), Form::Watched, &cancel);
    let mut core_stored = start_as(tap(), Form::Stored, &cancel);
    connected(&mut core_watched).await;
    connected(&mut core_stored).await;
    let c = client().await;
    let js = async_nats::jetstream::new(c.clone());
    let n = 600u64;
    let mut acks = Vec::new();
    for i in 0..n {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("X-N", i.to_string().as_str());
        if i % 2 == 0 {
            headers.append("X-N", "again");
        }
        let body = format!(r#"{{"n":{i},"text":"ünïcode"}}"#);
        if i % 3 == 0 {
            // Core, with a reply subject (the stream keeps it too).
            c.publish_with_reply_and_headers(
                subject.clone(),
                // Outside the stream's subjects: JetStream's acks to it are not stored.
                format!("sbtest.{t}.replies.{i}"),
                headers,
                body.into(),
            )
            .await
            .unwrap();
        } else {
            acks.push(
                js.publish_with_headers(subject.clone(), headers, body.into())
                    .await
                    .unwrap(),
            );
        }
    }
    c.flush().await.unwrap();
    for a in acks {
        a.await.unwrap();
    }
    let (a, _) = store_all(&mut core_watched, n).await;
    let (b, stored) = store_all(&mut core_stored, n).await;
    assert!(stored > 0, "the subject tap sent no stored batch");
    let core = contents(&a);
    assert_eq!(core.len(), n as usize);
    assert_eq!(core, contents(&b));
    assert_eq!(core[3]["reply_to"], format!("sbtest.{t}.replies.3"));
    assert_eq!(core[0]["headers"]["X-N"], serde_json::json!(["0", "again"]));

    let on_stream = || NatsWatch::stream(nats_url(), NatsWatchMode::StreamTap, &stream);
    let mut tap_watched = start_as(on_stream(), Form::Watched, &cancel);
    let mut tap_stored = start_as(on_stream(), Form::Stored, &cancel);
    let (a, _) = store_all(&mut tap_watched, n).await;
    let (b, stored) = store_all(&mut tap_stored, n).await;
    assert!(stored > 0, "the stream tap sent no stored batch");
    let taps = contents(&a);
    assert_eq!(taps, contents(&b));
    assert_eq!(taps[599]["stream_seq"], 600);
    assert_eq!(taps[599]["stream"], stream.as_str());
    assert_eq!(taps[599]["body"]["text"], "ünïcode", "{}", taps[599]);
    cancel.cancel();
    delete_stream(&stream).await;
}
