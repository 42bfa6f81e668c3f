//! The `switchboard` binary: `--json` output shapes, exit codes and one-line errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};

use common::{amqp_url, start_demo};

fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .expect("run switchboard")
}

/// Runs the binary off the async runtime's worker threads.
async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        switchboard(&args)
    })
    .await
    .unwrap()
}

fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn assert_exchange_shape(e: &serde_json::Value) {
    for key in [
        "transport",
        "ok",
        "status",
        "error",
        "total_us",
        "timeline",
        "request",
        "response",
    ] {
        assert!(e.get(key).is_some(), "missing {key}: {e}");
    }
    for phase in e["timeline"].as_array().unwrap() {
        assert!(
            phase["phase"].is_string() && phase["start_us"].is_u64() && phase["end_us"].is_u64(),
            "{phase}"
        );
    }
    for side in ["request", "response"] {
        assert!(e[side]["headers"].is_array(), "{side} headers: {e}");
        assert!(e[side].get("body").is_some(), "{side} body: {e}");
    }
}

#[tokio::test]
async fn send_http_and_grpc_print_exchanges_as_json() {
    let demo = start_demo().await;
    let url = format!("http://{}/user/1", demo.user.http_addr);
    let out = run(vec![
        "send".into(),
        "http".into(),
        url.clone(),
        "--json".into(),
        "-H".into(),
        "X-Trace: 7".into(),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    let e = &lines[0];
    assert_exchange_shape(e);
    assert_eq!(e["transport"], "http");
    assert_eq!(e["ok"], true);
    assert_eq!(e["status"], "200 OK");
    assert_eq!(
        e["response"]["body"]["name"], "John Doe",
        "JSON bodies are embedded as JSON"
    );
    assert!(
        e["request"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["name"] == "x-trace" && h["value"] == "7")
    );

    let grpc_addr = demo.user.grpc_addr.to_string();
    let out = run(vec![
        "send".into(),
        "grpc".into(),
        grpc_addr.clone(),
        "user.UserService/GetUserInfo".into(),
        "--data".into(),
        r#"{"user_id":"1"}"#.into(),
        "--json".into(),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = &json_lines(&out)[0];
    assert_exchange_shape(e);
    assert_eq!(e["transport"], "grpc");
    assert_eq!(e["status"], "OK");
    assert_eq!(e["response"]["body"]["email"], "john@example.com");
    assert_eq!(
        e["request"]["body"]["userId"], "1",
        "the request as sent, in proto3 JSON"
    );
    let phases: Vec<_> = e["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap().to_string())
        .filter(|p| p != "client")
        .collect();
    // Discovery by reflection (its own connection) comes first, on the same axis.
    assert_eq!(
        phases,
        [
            "discover",
            "connect",
            "http2_handshake",
            "request_sent",
            "response_headers",
            "message",
            "trailers"
        ]
    );

    // Not found: still a JSON exchange on stdout, non-zero exit.
    let out = run(vec![
        "send".into(),
        "grpc".into(),
        grpc_addr,
        "--data".into(),
        r#"{"user_id":"99"}"#.into(),
        "--json".into(),
    ])
    .await;
    assert!(!out.status.success());
    assert_eq!(json_lines(&out)[0]["status"], "NOT_FOUND");

    // Readable output shows the timeline.
    let out = run(vec!["send".into(), "http".into(), url]).await;
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("200 OK") && text.contains("first byte") && text.contains("John Doe"),
        "{text}"
    );
    demo.stop().await;
}

#[tokio::test]
async fn errors_are_one_line_on_stderr_with_a_non_zero_exit() {
    for args in [
        vec!["send", "http", "http//bad"],
        vec!["send", "http", "http://127.0.0.1:1/user/1"],
        vec!["send", "grpc", "127.0.0.1:1", "--data", "{oops"],
        vec![
            "publish",
            "amqp://guest:guest@127.0.0.1:1/%2f",
            "--exchange",
            "x",
            "--routing-key",
            "y",
            "--body",
            "z",
        ],
        vec![
            "watch",
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            "--queue",
            "sbtest-no-such-queue",
            "--count",
            "1",
            "--timeout",
            "2",
        ],
    ] {
        let out = switchboard(&args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let lines: Vec<_> = stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        assert_eq!(lines.len(), 1, "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn publish_and_watch_round_trip_as_json() {
    let demo = start_demo().await;
    let topology = demo.config.topology.clone();
    let url = amqp_url();
    let watch_with = |extra: Option<&str>| {
        let mut args = vec![
            "watch".to_string(),
            url.clone(),
            "--exchange".into(),
            topology.exchange.clone(),
            "--binding".into(),
            "order.*".into(),
            "--count".into(),
            "2".into(),
            "--timeout".into(),
            "20".into(),
            "--json".into(),
        ];
        args.extend(extra.map(String::from));
        tokio::spawn(run(args))
    };
    let watch = watch_with(None);
    let shown = watch_with(Some("--show-credentials"));
    // Publish until the tap is bound and has seen two (messages before the bind are not tapped).
    let mut published = 0;
    while !(watch.is_finished() && shown.is_finished()) && published < 200 {
        let out = run(vec![
            "publish".into(),
            url.clone(),
            "--exchange".into(),
            topology.exchange.clone(),
            "--routing-key".into(),
            "order.created".into(),
            "--body".into(),
            r#"{"n": 1}"#.into(),
            "--header".into(),
            "k=v".into(),
            "--header".into(),
            "authorization=Bearer watch-5ecret".into(),
            "--header".into(),
            "x-api-key=key-5ecret".into(),
            "--correlation-id".into(),
            "c-1".into(),
            "--type".into(),
            "OrderCreated".into(),
            "--reply-to".into(),
            "replies".into(),
            "--expiration".into(),
            "60000".into(),
            "--priority".into(),
            "3".into(),
            "--app-id".into(),
            "cli-test".into(),
            "--user-id".into(),
            // RabbitMQ checks user_id is the connection's user.
            reqwest::Url::parse(&url).unwrap().username().to_string(),
            "--json".into(),
        ])
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let e = &json_lines(&out)[0];
        assert_exchange_shape(e);
        assert_eq!(e["status"], "ack");
        published += 1;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let out = watch.await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let messages = json_lines(&out);
    assert_eq!(messages.len(), 2);
    for m in &messages {
        for key in [
            "exchange",
            "routing_key",
            "redelivered",
            "properties",
            "headers",
            "body",
        ] {
            assert!(m.get(key).is_some(), "missing {key}: {m}");
        }
        assert_eq!(m["exchange"], topology.exchange.as_str());
        assert_eq!(m["properties"]["correlation_id"], "c-1");
        assert_eq!(m["properties"]["type"], "OrderCreated");
        assert_eq!(m["properties"]["reply_to"], "replies");
        assert_eq!(m["properties"]["expiration"], "60000");
        assert_eq!(m["properties"]["priority"], 3);
        assert_eq!(m["properties"]["app_id"], "cli-test");
        assert_eq!(
            m["properties"]["user_id"],
            reqwest::Url::parse(&url).unwrap().username()
        );
        assert_eq!(m["properties"]["content_type"], "application/json");
        assert!(m["properties"].get("message_id").is_some());
        assert!(m["properties"]["timestamp"].is_u64());
        assert_eq!(m["headers"]["k"], "v");
        assert_eq!(m["body"]["n"], 1);
        // Message credentials are masked as publish masks them.
        assert_eq!(m["headers"]["authorization"], "Bearer •••• (redacted)");
        assert!(!m.to_string().contains("5ecret"), "{m}");
    }
    let out = shown.await.unwrap();
    assert!(out.status.success());
    let messages = json_lines(&out);
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[0]["headers"]["authorization"],
        "Bearer watch-5ecret"
    );
    assert_eq!(messages[0]["headers"]["x-api-key"], "key-5ecret");

    // A count not reached before the timeout is a failure.
    let out = run(vec![
        "watch".into(),
        url,
        "--exchange".into(),
        topology.exchange.clone(),
        "--binding".into(),
        "nothing.here".into(),
        "--count".into(),
        "1".into(),
        "--timeout".into(),
        "0.5".into(),
    ])
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("received 0 of 1"));
    demo.stop().await;
}

#[tokio::test]
async fn printed_exchanges_mask_credentials_unless_asked() {
    let demo = start_demo().await;
    let url = format!("http://bob:cli-url-5ecret@{}/user/1", demo.user.http_addr);
    let args = |extra: &[&str]| {
        let mut args: Vec<String> = ["send", "http", url.as_str(), "-H"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push("Authorization: Bearer cli-bearer-5ecret".into());
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    for extra in [&["--json"][..], &[][..]] {
        let out = run(args(extra)).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("5ecret"), "{text}");
    }
    let masked = json_lines(&run(args(&["--json"])).await);
    assert!(
        masked[0]["request"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["value"] == "Bearer •••• (redacted)"),
        "{}",
        masked[0]
    );
    let clear = run(args(&["--json", "--show-credentials"])).await;
    let text = String::from_utf8_lossy(&clear.stdout);
    assert!(
        text.contains("cli-bearer-5ecret") && text.contains("cli-url-5ecret"),
        "{text}"
    );
    demo.stop().await;
}

/// Options are listed where they mean something: the demo's broker URLs on the app and `demo`,
/// `--show-credentials` on the commands that print exchanges or messages — not everywhere.
#[tokio::test]
async fn each_command_lists_only_its_own_options() {
    let help = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        async move {
            let out = run(args).await;
            assert!(out.status.success(), "{out:?}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    for command in [
        &["watch", "--help"][..],
        &["send", "http", "--help"],
        &["run", "--help"],
    ] {
        let text = help(command).await;
        assert!(!text.contains("--no-demo"), "{command:?}: {text}");
        assert!(!text.contains("--amqp-url"), "{command:?}: {text}");
        assert!(text.contains("--show-credentials"), "{command:?}: {text}");
    }
    let demo = help(&["demo", "--help"]).await;
    assert!(
        demo.contains("--amqp-url") && demo.contains("--kafka-url"),
        "{demo}"
    );
    assert!(!demo.contains("--show-credentials"), "{demo}");
    let app = help(&["--help"]).await;
    assert!(
        app.contains("--no-demo") && app.contains("--nats-url"),
        "{app}"
    );
    // Given before a command, the app's options are refused, not silently ignored.
    for args in [
        &["--no-demo", "watch", "amqp://127.0.0.1:1/%2f", "q"][..],
        &[
            "--amqp-url",
            "amqp://x",
            "send",
            "http",
            "http://127.0.0.1:1/",
        ],
    ] {
        let out = run(args.iter().map(|s| s.to_string()).collect()).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot be used with"), "{args:?}: {err}");
    }
}

/// `send --trace`: the request carries a traceparent, the command receives the services'
/// spans and prints them with the exchange (`spans` in --json, a tree in text);
/// `--no-traceparent` sends none.
#[tokio::test]
async fn send_trace_prints_the_services_spans_and_no_traceparent_sends_none() {
    // A port for the command's receiver, told to the demo before the command runs.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = demo_services::DemoConfig {
        amqp_url: amqp_url(),
        topology: common::unique_topology(),
        otlp_endpoint: Some(format!("http://127.0.0.1:{port}")),
        ..demo_services::DemoConfig::ephemeral()
    };
    let demo = demo_services::DemoServices::start(config).await.unwrap();
    let url = format!("http://{}/user/1", demo.user.http_addr);
    let otlp = format!("127.0.0.1:{port}");
    let out = run(vec![
        "send".into(),
        "http".into(),
        url.clone(),
        "--trace".into(),
        "--otlp-addr".into(),
        otlp.clone(),
        "--json".into(),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = &json_lines(&out)[0];
    let sent = e["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "traceparent")
        .expect("a traceparent was sent")["value"]
        .as_str()
        .unwrap()
        .to_string();
    let trace = &e["trace"];
    assert!(sent.contains(trace["trace_id"].as_str().unwrap()), "{e}");
    let spans = e["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 1, "{e}");
    assert_eq!(spans[0]["service"], "user-service");
    assert_eq!(spans[0]["name"], "GET /user/{id}");
    assert_eq!(spans[0]["parent_span_id"], trace["span_id"]);

    let text = run(vec![
        "send".into(),
        "http".into(),
        url.clone(),
        "--trace".into(),
        "--otlp-addr".into(),
        otlp,
    ])
    .await;
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("inside the services (trace "), "{stdout}");
    assert!(
        stdout.contains("user-service  GET /user/{id} (server)"),
        "{stdout}"
    );

    let out = run(vec![
        "send".into(),
        "http".into(),
        url,
        "--no-traceparent".into(),
        "--json".into(),
    ])
    .await;
    let e = &json_lines(&out)[0];
    assert!(e.get("trace").is_none(), "{e}");
    assert!(
        !e["request"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["name"] == "traceparent")
    );
    demo.stop().await;
}

/// `switchboard traces`: the receiver alone prints each span as it arrives, and stops after
/// `--count`.
#[tokio::test]
async fn traces_prints_spans_as_they_arrive() {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (http, grpc) = (free(), free());
    let config = demo_services::DemoConfig {
        amqp_url: amqp_url(),
        topology: common::unique_topology(),
        otlp_endpoint: Some(format!("http://127.0.0.1:{http}")),
        ..demo_services::DemoConfig::ephemeral()
    };
    let demo = demo_services::DemoServices::start(config).await.unwrap();
    let follower = tokio::spawn(run(vec![
        "traces".into(),
        "--otlp-addr".into(),
        format!("127.0.0.1:{http}"),
        "--otlp-grpc-addr".into(),
        format!("127.0.0.1:{grpc}"),
        "--json".into(),
        "--count".into(),
        "1".into(),
        "--timeout".into(),
        "20".into(),
    ]));
    // Lookups until the follower has printed one (it may still be starting).
    let url = format!("http://{}/user/2", demo.user.http_addr);
    let client = reqwest::Client::new();
    while !follower.is_finished() {
        let _ = client.get(&url).send().await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let out = follower.await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spans = json_lines(&out);
    assert_eq!(spans.len(), 1, "--count 1");
    assert_eq!(spans[0]["service"], "user-service");
    assert_eq!(spans[0]["name"], "GET /user/{id}");
    assert_eq!(spans[0]["kind"], "server");
    demo.stop().await;
}

/// #21: `publish --count N` without --json pipelines its confirms and says how many the broker
/// confirmed; every copy is in the queue. A copy that reaches no queue is counted as failed.
#[tokio::test]
async fn publish_count_pipelines_and_summarises() {
    let queue = format!("sbtest-count-{}", common::tag());
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let declare = |passive| lapin::options::QueueDeclareOptions {
        passive,
        auto_delete: false,
        ..Default::default()
    };
    channel
        .queue_declare(
            queue.as_str().into(),
            declare(false),
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    let out = run(vec![
        "publish".into(),
        amqp_url(),
        "--exchange".into(),
        String::new(),
        "--routing-key".into(),
        queue.clone(),
        "--body".into(),
        r#"{"n": 1}"#.into(),
        "--count".into(),
        "2500".into(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("published 2500 of 2500 to (default) -> sbtest-count-")
            && stdout.contains(": 2500 confirmed, 0 failed, in "),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let depth = channel
        .queue_declare(
            queue.as_str().into(),
            declare(true),
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap()
        .message_count();
    assert_eq!(depth, 2500);

    // Unroutable copies: confirmed by the broker, but returned, so not delivered.
    let out = run(vec![
        "publish".into(),
        amqp_url(),
        "--exchange".into(),
        String::new(),
        "--routing-key".into(),
        format!("{queue}-nowhere"),
        "--body".into(),
        "x".into(),
        "--count".into(),
        "3".into(),
    ])
    .await;
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(": 0 confirmed, 3 failed, in "), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error: ")).count(),
        1,
        "{stderr}"
    );
    let _ = channel
        .queue_delete(queue.as_str().into(), Default::default())
        .await;
    let _ = conn.close(200, "bye".into()).await;
}

/// #16: `--trace-wait` takes a duration with a unit, a bare number being milliseconds (it took
/// seconds: `--trace-wait 300` waited five minutes for spans that never came).
#[tokio::test]
async fn trace_wait_is_milliseconds_when_bare() {
    let echo = common::echo::Echo::start().await;
    for wait in ["300", "300ms", "0.3s"] {
        let started = std::time::Instant::now();
        let out = run(vec![
            "send".into(),
            "http".into(),
            format!("{}/nothing-exports", echo.base_url()),
            "--trace".into(),
            "--otlp-addr".into(),
            "127.0.0.1:0".into(),
            "--trace-wait".into(),
            wait.into(),
        ])
        .await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("within 0.3 s"), "{wait}: {stderr}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{wait}: waited {:?}",
            started.elapsed()
        );
    }
    let out = run(vec![
        "send".into(),
        "http".into(),
        echo.base_url(),
        "--trace".into(),
        "--trace-wait".into(),
        "5 minutes".into(),
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("is not a duration"), "{stderr}");
}

/// #16: `switchboard traces` says on stderr when exports are refused (at most once a second)
/// and, when it ends, how many spans it received, dropped and how many exports it refused.
#[tokio::test]
async fn traces_reports_refused_exports_and_a_summary_at_the_end() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let follower = tokio::spawn(run(vec![
        "traces".into(),
        "--otlp-addr".into(),
        format!("127.0.0.1:{port}"),
        "--otlp-grpc-addr".into(),
        "127.0.0.1:0".into(),
        "--timeout".into(),
        "4".into(),
    ]));
    let client = reqwest::Client::new();
    let post = |body: &'static str| {
        client
            .post(format!("http://127.0.0.1:{port}/v1/traces"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Until the receiver listens: a malformed export, refused with 400.
    common::eventually(10, "the receiver answers", || async {
        post("{\"resourceSpans\": 7}")
            .await
            .ok()
            .filter(|r| r.status().as_u16() == 400)
    })
    .await;
    let ok = post(
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"x","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#,
    )
    .await
    .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let out = follower.await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "receiving spans: OTLP/HTTP http://127.0.0.1:{port}, OTLP/gRPC http://"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("export request refused as malformed"),
        "{stderr}"
    );
    let summary = stderr.lines().last().unwrap();
    assert!(
        summary.starts_with("1 spans printed; 1 received, 0 dropped"),
        "{summary}"
    );
    assert!(
        summary.ends_with("exports refused as malformed"),
        "{summary}"
    );
    assert!(!summary.contains(" 0 exports refused"), "{summary}");
}

/// Regression (hostile run): with its stdout not read (a full pipe, a paused pager),
/// `switchboard traces` held every export it received (1.7 GB) and Ctrl-C did not end it. Now
/// what cannot wait is counted as not printed, and Ctrl-C ends it at once.
#[tokio::test]
async fn traces_with_a_stuck_stdout_counts_what_it_could_not_print_and_stops_on_ctrl_c() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "traces",
            "--otlp-addr",
            &format!("127.0.0.1:{port}"),
            "--otlp-grpc-addr",
            "127.0.0.1:0",
        ])
        // Never read: it fills at 64 KiB.
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let attribute = "x".repeat(1024);
    let export = |n: usize| {
        let spans: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    r#"{{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"{:016x}","name":"x","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{{"key":"a","value":{{"stringValue":"{attribute}"}}}}]}}"#,
                    n * 1000 + i + 1
                )
            })
            .collect();
        format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
            spans.join(",")
        )
    };
    common::eventually(10, "the receiver answers", || async {
        client
            .post(format!("http://127.0.0.1:{port}/v1/traces"))
            .header("content-type", "application/json")
            .body(export(0))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success())
    })
    .await;
    for n in 1..120 {
        let r = client
            .post(format!("http://127.0.0.1:{port}/v1/traces"))
            .header("content-type", "application/json")
            .body(export(n))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{r:?}");
    }
    // The notes still come while stdout is stuck (once a second).
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let ended = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut stderr = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
                return Some((status, stderr));
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    let (status, stderr) = ended.expect("Ctrl-C ends it within 10 s although stdout is full");
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("were not printed"), "{stderr}");
    assert!(
        stderr.contains("spans not printed: they came faster"),
        "a note while stuck: {stderr}"
    );
    assert!(
        stderr.lines().last().unwrap().contains("12000 received"),
        "{stderr}"
    );
}

/// `load http` puts a new traceparent (a new trace) on each request, keeps one given with -H on
/// every request, and sends none with `--no-traceparent`; `load amqp --trace` is refused.
#[tokio::test]
async fn load_sends_a_new_traceparent_per_request_unless_told_not_to() {
    use switchboard::engine::trace::TraceContext;
    let echo = common::echo::Echo::start().await;
    let load = |path: &str, extra: &[&str]| {
        let mut args: Vec<String> = ["load", "http", "GET"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(format!("{}{path}", echo.base_url()));
        args.extend(["-n", "60", "-c", "4", "--json"].map(String::from));
        args.extend(extra.iter().map(|s| s.to_string()));
        run(args)
    };
    let sent = |path: &str| {
        echo.received()
            .into_iter()
            .filter(|r| r.target() == path)
            .map(|r| {
                r.all("traceparent")
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    let ok = |out: &Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(json_lines(out)[0]["ok"], 60);
    };

    ok(&load("/a", &[]).await);
    let a = sent("/a");
    assert_eq!(a.len(), 60);
    let mut traces = std::collections::HashSet::new();
    for values in &a {
        assert_eq!(values.len(), 1, "one traceparent per request: {a:?}");
        let context = TraceContext::parse(&values[0]).expect("a valid traceparent");
        traces.insert(context.trace_id);
    }
    assert_eq!(traces.len(), 60, "a new trace per request: {a:?}");

    ok(&load("/b", &["--no-traceparent"]).await);
    let b = sent("/b");
    assert_eq!(b.len(), 60);
    assert!(
        b.iter().all(Vec::is_empty),
        "--no-traceparent sends none: {b:?}"
    );

    let given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    ok(&load("/c", &["-H", &format!("traceparent: {given}")]).await);
    let c = sent("/c");
    assert_eq!(c.len(), 60);
    assert!(
        c.iter().all(|v| v == &[given]),
        "the given one, once each: {c:?}"
    );

    let out = run([
        "load",
        "amqp",
        "amqp://127.0.0.1:1",
        "--exchange",
        "x",
        "--routing-key",
        "k",
        "--body",
        "b",
        "--trace",
    ]
    .map(String::from)
    .to_vec())
    .await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("load does not collect spans"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// #16: `switchboard run DIR` puts a traceparent on every request it sends (a new trace each),
/// keeps one a request sets itself, and sends none with `--no-traceparent`.
#[tokio::test]
async fn run_sends_a_traceparent_per_request_unless_told_not_to() {
    use switchboard::engine::trace::TraceContext;
    let echo = common::echo::Echo::start().await;
    let dir = std::env::temp_dir().join(format!("sb-run-trace-{}", common::tag()));
    let dir_s = dir.to_str().unwrap().to_string();
    let given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    for (name, line) in [
        ("a", format!("curl {}/a", echo.base_url())),
        ("b", format!("curl {}/b", echo.base_url())),
        (
            "c",
            format!("curl -H 'traceparent: {given}' {}/c", echo.base_url()),
        ),
    ] {
        let out = run(vec![
            "import".into(),
            "curl".into(),
            line,
            dir_s.clone(),
            "--name".into(),
            name.into(),
        ])
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run(vec!["run".into(), dir_s.clone()]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent = |path: &str| {
        echo.received()
            .into_iter()
            .filter(|r| r.target() == path)
            .map(|r| {
                r.all("traceparent")
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    let (a, b) = (sent("/a"), sent("/b"));
    assert_eq!((a.len(), a[0].len(), b[0].len()), (1, 1, 1), "{a:?} {b:?}");
    let (ta, tb) = (
        TraceContext::parse(&a[0][0]).expect("a valid traceparent"),
        TraceContext::parse(&b[0][0]).expect("a valid traceparent"),
    );
    assert_ne!(ta.trace_id, tb.trace_id, "a new trace per request");
    assert_eq!(
        sent("/c"),
        vec![vec![given.to_string()]],
        "the given one, once"
    );

    let out = run(vec!["run".into(), dir_s, "--no-traceparent".into()]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = sent("/a");
    assert_eq!(a.len(), 2);
    assert!(a[1].is_empty(), "--no-traceparent sends none: {a:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Regression (hostile run): a refused login is headlined "failed" — the broker answered with
/// a refusal, so "no answer" misled — and "nothing sent" (not the body's size), with the
/// refusal on stderr and a non-zero exit; an answer (a 404 lookup) keeps its status and size.
#[tokio::test]
async fn a_refused_login_is_headlined_failed_not_no_answer() {
    let url = common::amqp_url().replacen("guest:guest@", "guest:not-the-password@", 1);
    assert_ne!(url, common::amqp_url(), "the test URL carries guest:guest");
    let out = run(vec![
        "publish".into(),
        url,
        "--exchange".into(),
        "amq.topic".into(),
        "--routing-key".into(),
        "sbtest.refused".into(),
        "--body".into(),
        "{}".into(),
    ])
    .await;
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let headline = stdout.lines().nth(1).unwrap_or_default();
    assert!(headline.starts_with("✘ failed"), "{stdout}");
    assert!(!stdout.contains("no answer"), "{stdout}");
    // The publish never left: nothing claims its 2 bytes were sent.
    assert!(headline.contains("nothing sent"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error:"), "{stderr}");

    let demo = start_demo().await;
    let out = run(vec![
        "send".into(),
        "http".into(),
        format!("http://{}/user/999", demo.user.http_addr),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let headline = stdout.lines().nth(1).unwrap_or_default();
    assert!(
        headline.contains("404") && headline.contains("sent "),
        "{stdout}"
    );
    demo.stop().await;
}

/// `switchboard … | head -1`, or a supervisor that closed stderr: the CLI neither panics (exit
/// 101) nor prints a stray error; the exit code is still the exchange's own.
#[tokio::test]
async fn a_closed_stdout_or_stderr_ends_the_command_quietly_with_its_own_exit_code() {
    fn closed() -> std::process::Stdio {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer.into()
    }
    let proto = concat!(env!("CARGO_MANIFEST_DIR"), "/proto/user.proto");
    let run = |args: &[&str], stdout_closed: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command.args(args);
        if stdout_closed {
            command
                .stdout(closed())
                .stderr(std::process::Stdio::piped());
        } else {
            command
                .stdout(std::process::Stdio::piped())
                .stderr(closed());
        }
        command.output().unwrap()
    };
    let describe = [
        "grpc",
        "describe",
        "127.0.0.1:1",
        "user.UserService",
        "--proto",
        proto,
    ];
    // Describing from a file prints on stdout only; its reader is gone.
    let out = run(&describe, true);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A refused request prints the exchange and a one-line error: with either side closed the
    // command still fails with 1, as the exchange did.
    let refused = ["send", "http", "http://127.0.0.1:1/user/1"];
    for stdout_closed in [true, false] {
        let out = run(&refused, stdout_closed);
        assert_eq!(
            out.status.code(),
            Some(1),
            "stdout closed {stdout_closed}: {out:?}"
        );
    }
    let out = run(&refused, true);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error: ")).count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let out = run(&refused, false);
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("127.0.0.1:1")
    );
    // `publish --count` whose messages are returned unroutable: its error line and exit 1 stay.
    let amqp = amqp_url();
    let unroutable = [
        "publish",
        amqp.as_str(),
        "--exchange",
        "amq.topic",
        "--routing-key",
        "sbtest.closed-stdout.nobody",
        "--body",
        "x",
        "--count",
        "3",
    ];
    let out = run(&unroutable, true);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("were not confirmed"), "{stderr}");
    // A load whose reader is gone stops at once instead of running its 60 s.
    let started = std::time::Instant::now();
    let out = run(
        &[
            "load",
            "http",
            "http://127.0.0.1:1/user/1",
            "--duration",
            "60",
        ],
        true,
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{out:?}"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// A gRPC server stream whose stdout reader is gone ends at once, quietly, even while no message
/// comes (user 2 has no orders), instead of running to its timeout.
#[tokio::test]
async fn a_grpc_stream_ends_when_its_reader_is_gone() {
    let demo = start_demo().await;
    let addr = demo.user.grpc_addr.to_string();
    let out = tokio::task::spawn_blocking(move || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let started = std::time::Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args([
                "send",
                "grpc",
                &addr,
                "user.UserService/WatchOrders",
                "-d",
                r#"{"user_id":"2"}"#,
                "--timeout",
                "60",
            ])
            .stdout(writer)
            .output()
            .unwrap();
        (out, started.elapsed())
    })
    .await
    .unwrap();
    let (out, took) = out;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    demo.stop().await;
}
