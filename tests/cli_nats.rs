//! `switchboard send nats`, `publish nats://…`, `watch nats://…` and `nats streams`: JSON shapes,
//! exit codes and one-line errors, against the real nats-server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};

use common::{delete_stream, nats_url, start_demo_with_nats, tag};

async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(&args)
            .output()
            .expect("run switchboard")
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn one_line_error(output: &Output) -> String {
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(lines.len(), 1, "one error line: {stderr}");
    lines[0].to_string()
}

#[tokio::test]
async fn send_nats_prints_the_exchange_and_fails_on_no_responders() {
    let (demo, names) = start_demo_with_nats().await;
    let url = nats_url();
    let out = run(args(&[
        "send",
        "nats",
        &url,
        &names.user_subject,
        "--body",
        r#"{"user_id":"3"}"#,
        "--json",
    ]))
    .await;
    assert!(out.status.success(), "{out:?}");
    let e = &json_lines(&out)[0];
    assert_eq!(e["transport"], "nats");
    assert_eq!(e["ok"], true);
    assert_eq!(e["status"], "reply");
    let phases: Vec<&str> = e["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .filter(|p| *p != "client")
        .collect();
    assert_eq!(phases, ["connect", "request", "reply"]);
    assert_eq!(e["response"]["body"]["name"], "Ada Lovelace");

    // Text output has the waterfall; an unknown subject is no_responders, exit 1.
    let out = run(args(&[
        "send",
        "nats",
        &url,
        &names.user_subject,
        "--body",
        r#"{"user_id":"1"}"#,
    ]))
    .await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("reply"));
    let nobody = format!("sbtest.{}.nobody", tag());
    let out = run(args(&["send", "nats", &url, &nobody, "--json"])).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&out)[0]["error"]["kind"], "no_responders");
    assert!(one_line_error(&out).contains("no responders"));
    demo.stop().await;
    delete_stream(&names.stream).await;
}

#[tokio::test]
async fn publish_and_watch_nats_share_one_shape_and_streams_are_listed() {
    let t = tag();
    let url = nats_url();
    let stream = format!("SBCLI_{t}");
    let client = async_nats::connect(&url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: stream.clone(),
        subjects: vec![format!("sbcli_{t}.>")],
        ..Default::default()
    })
    .await
    .unwrap();
    let subject = format!("sbcli_{t}.created");
    let out = run(args(&[
        "publish",
        &url,
        "--subject",
        &subject,
        "--body",
        "{\"a\":1}",
        "--jetstream",
        "--msg-id",
        "m-1",
        "--header",
        "X-Trace=7",
        "--json",
    ]))
    .await;
    assert!(out.status.success(), "{out:?}");
    let e = &json_lines(&out)[0];
    assert_eq!(e["status"], "ack seq 1");
    let out = run(args(&[
        "watch",
        &url,
        "--stream",
        &stream,
        "--count",
        "1",
        "--timeout",
        "10",
        "--json",
    ]))
    .await;
    assert!(out.status.success(), "{out:?}");
    let m = &json_lines(&out)[0];
    for key in [
        "transport",
        "subject",
        "reply_to",
        "headers",
        "body",
        "size_bytes",
        "received_at_ms",
        "stream",
        "stream_seq",
        "consumer_seq",
        "timestamp_ms",
        "redelivered",
    ] {
        assert!(m.get(key).is_some(), "{key} in {m}");
    }
    assert_eq!(m["transport"], "nats");
    assert_eq!(m["subject"], subject.as_str());
    assert_eq!(m["headers"]["Nats-Msg-Id"], "m-1");
    assert_eq!(m["headers"]["X-Trace"], "7");
    assert_eq!(m["body"]["a"], 1);
    // Peek reads by sequence.
    let out = run(args(&[
        "watch", &url, "--stream", &stream, "--mode", "peek", "--count", "5", "--json",
    ]))
    .await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(json_lines(&out).len(), 1);
    // The streams browser.
    let out = run(args(&["nats", "streams", &url, "--json"])).await;
    assert!(out.status.success(), "{out:?}");
    let listed = json_lines(&out);
    let ours = listed
        .iter()
        .find(|s| s["name"] == stream.as_str())
        .expect("our stream listed");
    assert_eq!(ours["messages"], 1);
    assert_eq!(ours["last_seq"], 1);
    let _ = js.delete_stream(&stream).await;
}

#[tokio::test]
async fn bad_nats_input_is_one_line_and_exit_one() {
    let url = nats_url();
    for (list, wanted) in [
        (
            vec![
                "publish",
                url.as_str(),
                "--subject",
                "has space",
                "--body",
                "x",
            ],
            "invalid subject",
        ),
        (
            vec![
                "publish",
                url.as_str(),
                "--subject",
                "orders.>",
                "--body",
                "x",
            ],
            "wildcards",
        ),
        (
            vec![
                "publish",
                url.as_str(),
                "--exchange",
                "x",
                "--routing-key",
                "k",
                "--body",
                "x",
            ],
            "--subject",
        ),
        (vec!["watch", url.as_str(), "--queue", "q"], "--subject"),
        (
            vec![
                "watch",
                url.as_str(),
                "--stream",
                "NOPE_NOT_THERE",
                "--timeout",
                "5",
            ],
            "does not exist",
        ),
        (
            vec!["watch", url.as_str(), "--subject", "a..b"],
            "invalid subject",
        ),
        (
            vec![
                "watch",
                url.as_str(),
                "--stream",
                "S",
                "--from",
                "yesterday",
            ],
            "seq:N",
        ),
        (
            vec!["send", "nats", "nats://127.0.0.1:1", "user.get"],
            "connection refused",
        ),
        (
            vec!["send", "nats", "http://127.0.0.1:4222", "user.get"],
            "malformed NATS URL",
        ),
        (
            vec![
                "publish",
                "amqp://guest:guest@127.0.0.1:5672/%2f",
                "--subject",
                "x",
                "--body",
                "b",
            ],
            "for NATS",
        ),
    ] {
        let out = run(args(&list)).await;
        assert_eq!(out.status.code(), Some(1), "{list:?}: {out:?}");
        let line = one_line_error(&out);
        assert!(line.contains(wanted), "{list:?}: {line}");
    }
}

/// `watch … | head -1` on a quiet subject: when the reader closes the pipe, the watch ends at
/// once (quietly, exit 0) — not at the next message, which may never come.
#[test]
fn a_watch_ends_when_its_reader_closes_the_pipe_though_nothing_arrives() {
    use std::io::Read;
    let subject = format!("quiet.{}", tag());
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["watch", &nats_url(), "--subject", &subject])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Watching (its banner on stderr), then the reader goes away without reading.
    let mut stderr = child.stderr.take().unwrap();
    let mut banner = [0u8; 9];
    stderr.read_exact(&mut banner).unwrap();
    assert_eq!(&banner, b"watching:");
    drop(child.stdout.take());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the watch kept running after its reader closed the pipe");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn a_stream_tap_stopped_by_sigterm_ends_cleanly_and_leaves_no_consumer() {
    use std::io::Read;
    let t = tag();
    let stream = format!("SBTERM_{t}");
    let js = async_nats::jetstream::new(async_nats::connect(nats_url()).await.unwrap());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: stream.clone(),
        subjects: vec![format!("sbterm_{t}.>")],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["watch", &nats_url(), "--stream", &stream])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The banner read, stderr is kept open (a closed one would make the CLI's last words fail).
    let mut stderr = child.stderr.take().unwrap();
    let (mut stderr, banner) = tokio::task::spawn_blocking(move || {
        let mut banner = [0u8; 9];
        stderr.read_exact(&mut banner).unwrap();
        (stderr, banner)
    })
    .await
    .unwrap();
    assert_eq!(&banner, b"watching:");
    let mut s = js.get_stream(&stream).await.unwrap();
    assert_eq!(s.info().await.unwrap().state.consumer_count, 1);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    let mut said = String::new();
    stderr.read_to_string(&mut said).unwrap();
    assert!(
        status.success(),
        "SIGTERM ends a watch as Ctrl-C does: {status:?} {said}"
    );
    // Its consumer is gone with it (not left for the server's 30 s inactivity).
    assert_eq!(s.info().await.unwrap().state.consumer_count, 0);
    delete_stream(&stream).await;
}
