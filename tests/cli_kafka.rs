//! `switchboard publish kafka://…`, `watch kafka://…`, `kafka topics` and `kafka groups`: JSON
//! shapes, exit codes and one-line errors, against an embedded broker of the test's own.
#![cfg(feature = "kafka-broker")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use demo_services::kafka_broker::EmbeddedKafka;
use switchboard::engine::kafka::admin;

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
async fn publish_watch_topics_and_groups_speak_json() {
    let b = EmbeddedKafka::start_free().await.unwrap();
    let url = b.url();
    assert!(admin::create_topic(&url, "orders", 3).await.unwrap());
    let out = run(args(&[
        "publish",
        &url,
        "--topic",
        "orders",
        "--key",
        "1",
        "--header",
        "k=v",
        "--body",
        r#"{"a":1}"#,
        "--acks",
        "1",
        "--json",
    ]))
    .await;
    assert!(out.status.success(), "{out:?}");
    let ex = &json_lines(&out)[0];
    assert_eq!(ex["transport"], "kafka");
    assert_eq!(ex["ok"], true);
    let phases: Vec<&str> = ex["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .filter(|p| *p != "client")
        .collect();
    assert_eq!(phases, ["connect", "metadata", "produce", "ack"]);

    let out = run(args(&[
        "watch",
        &url,
        "--topic",
        "orders",
        "--from",
        "earliest",
        "--count",
        "1",
        "--timeout",
        "20",
        "--json",
    ]))
    .await;
    assert!(out.status.success(), "{out:?}");
    let m = &json_lines(&out)[0];
    assert_eq!(m["transport"], "kafka");
    assert_eq!(m["topic"], "orders");
    assert_eq!(m["key"], "1");
    assert_eq!(m["offset"], 0);
    assert!(m["partition"].as_i64().unwrap() < 3);
    assert!(m["timestamp_ms"].as_i64().unwrap() > 0);
    assert_eq!(m["headers"]["k"], "v");
    assert_eq!(m["body"]["a"], 1);
    assert_eq!(m["size_bytes"], 7);
    assert!(m["received_at_ms"].as_u64().unwrap() > 0);

    // As text: the key labelled, the headers shown, a terminal escape in the body escaped.
    let out = run(args(&[
        "publish",
        &url,
        "--topic",
        "orders",
        "--key",
        "1",
        "--header",
        "k=v",
        "--body",
        "\u{1b}[2Jcleared?",
    ]))
    .await;
    assert!(out.status.success(), "{out:?}");
    let out = run(args(&[
        "watch",
        &url,
        "--topic",
        "orders",
        "--from",
        "earliest",
        "--count",
        "2",
        "--timeout",
        "20",
    ]))
    .await;
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.contains(" orders key=\"1\" "), "{text}");
    assert!(text.contains("\n  k: v\n"), "{text}");
    assert!(text.contains("\\u{1b}[2Jcleared?"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");

    // A group reads it and commits: lag 0 in `kafka groups`.
    let out = run(args(&[
        "watch",
        &url,
        "--topic",
        "orders",
        "--group",
        "cli",
        "--from",
        "earliest",
        "--count",
        "2",
        "--timeout",
        "30",
        "--json",
    ]))
    .await;
    assert!(out.status.success(), "{out:?}");
    let out = run(args(&["kafka", "groups", &url, "--json"])).await;
    assert!(out.status.success(), "{out:?}");
    let groups = json_lines(&out);
    let cli = groups
        .iter()
        .find(|g| g["group"] == "cli")
        .expect("group cli");
    assert_eq!(cli["lag"], 0);
    let offsets = cli["offsets"].as_array().unwrap();
    assert_eq!(
        offsets.len(),
        3,
        "every partition of a topic the group reads: {offsets:?}"
    );
    let read: Vec<&serde_json::Value> = offsets.iter().filter(|o| o["committed"] != -1).collect();
    assert_eq!(read.len(), 1, "{offsets:?}");
    assert_eq!(
        read[0]["committed"], 2,
        "both records have key 1: one partition"
    );

    let out = run(args(&["kafka", "topics", &url, "--json"])).await;
    assert!(out.status.success(), "{out:?}");
    let topics = json_lines(&out);
    assert_eq!(topics[0]["topic"], "orders");
    assert_eq!(topics[0]["messages"], 2);
    assert_eq!(topics[0]["partitions"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn bad_input_is_one_line_and_a_failure() {
    let b = EmbeddedKafka::start_free().await.unwrap();
    let url = b.url();
    assert!(admin::create_topic(&url, "t", 1).await.unwrap());
    for (argv, needle) in [
        (
            vec![
                "watch",
                url.as_str(),
                "--topic",
                "missing",
                "--timeout",
                "10",
            ],
            "does not exist",
        ),
        (
            vec!["watch", url.as_str(), "--topic", "t", "--from", "yesterday"],
            "invalid start",
        ),
        (
            vec![
                "publish",
                url.as_str(),
                "--topic",
                "t",
                "--acks",
                "2",
                "--body",
                "x",
            ],
            "unknown acks",
        ),
        (
            vec![
                "publish",
                url.as_str(),
                "--topic",
                "t",
                "--partition",
                "4",
                "--body",
                "x",
            ],
            "out of range",
        ),
        (
            vec!["publish", url.as_str(), "--routing-key", "x", "--body", "x"],
            "--topic",
        ),
        (
            vec![
                "publish",
                "kafka://127.0.0.1:1",
                "--topic",
                "t",
                "--body",
                "x",
            ],
            "unreachable",
        ),
        (
            vec!["kafka", "topics", "kafka://127.0.0.1:1"],
            "unreachable",
        ),
        (vec!["kafka", "topics", "kafka://"], "malformed Kafka URL"),
        (
            vec![
                "publish",
                "kafkas://127.0.0.1:1",
                "--topic",
                "t",
                "--body",
                "x",
            ],
            "unsupported scheme",
        ),
        (
            vec!["watch", "http://127.0.0.1:1", "--topic", "t"],
            "unsupported scheme",
        ),
        (
            vec!["kafka", "topics", "--kafka-url", "kafka://127.0.0.1:1"],
            "unreachable",
        ),
    ] {
        let out = run(args(&argv)).await;
        let line = one_line_error(&out);
        assert!(line.contains(needle), "{argv:?}: {line}");
    }
}

/// `--key ""` sends an empty key, no `--key` a null one: the watch tells them apart.
#[tokio::test]
async fn an_empty_key_is_not_a_null_key() {
    let b = EmbeddedKafka::start_free().await.unwrap();
    let url = b.url();
    assert!(admin::create_topic(&url, "keys", 1).await.unwrap());
    for key in [Some(""), None] {
        let mut a = args(&["publish", &url, "--topic", "keys", "--body", "x"]);
        if let Some(key) = key {
            a.extend(args(&["--key", key]));
        }
        let out = run(a).await;
        assert!(out.status.success(), "{out:?}");
    }
    let out = run(args(&[
        "watch",
        &url,
        "--topic",
        "keys",
        "--from",
        "earliest",
        "--count",
        "2",
        "--timeout",
        "20",
        "--json",
    ]))
    .await;
    assert!(out.status.success(), "{out:?}");
    let lines = json_lines(&out);
    assert_eq!(lines[0]["key"], "", "{lines:?}");
    assert!(lines[1]["key"].is_null(), "{lines:?}");
    // As text too.
    let out = run(args(&[
        "watch",
        &url,
        "--topic",
        "keys",
        "--from",
        "earliest",
        "--count",
        "2",
        "--timeout",
        "20",
    ]))
    .await;
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("key=\"\""), "{text}");
    assert!(text.contains("key=(null)"), "{text}");
}
