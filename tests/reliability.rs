//! Regressions of the hostile-user report (issue #11): bad command-line values, peers that are
//! not what they are addressed as, silent peers and huge bodies. Each gets a one-line error and
//! a non-zero exit, never a panic or a hang.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn switchboard(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(&args)
            .output()
            .expect("run switchboard")
    })
    .await
    .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A TCP peer on port 0 that reads what comes, answers `reply` (if any) and closes — or, with
/// `reply == None`, accepts and never answers.
async fn peer(reply: Option<&'static [u8]>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            match reply {
                Some(reply) => {
                    tokio::spawn(async move {
                        let mut buf = [0u8; 4096];
                        let _ = socket.read(&mut buf).await;
                        let _ = socket.write_all(reply).await;
                        let _ = socket.shutdown().await;
                    });
                }
                None => held.push(socket),
            }
        }
    });
    port
}

/// A peer that speaks first, like a NATS server (`INFO {…}`), then waits and says nothing more.
async fn talker() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(b"INFO {\"server_id\":\"x\"}\r\n").await;
            held.push(socket);
        }
    });
    port
}

/// The phases of a `--json` exchange on stdout marked failed.
fn failed_phases(output: &Output) -> Vec<String> {
    let exchange: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&output.stdout).trim()).unwrap();
    exchange["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["failed"] == true)
        .map(|p| p["phase"].as_str().unwrap().to_string())
        .collect()
}

const HTTP1_400: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
const GARBAGE: &[u8] = b"garbage garbage garbage\r\n\r\nmore";

fn assert_one_line_failure(output: &Output, expected: &str) {
    assert!(!output.status.success(), "{output:?}");
    let err = stderr(output);
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{err}");
    assert!(last.contains(expected), "expected {expected:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// #11.4 and #11.8: durations and counts are checked where they are parsed.
#[tokio::test]
async fn bad_durations_and_zero_counts_are_refused_not_panicked_on() {
    let cases: &[&[&str]] = &[
        &["send", "http", "http://127.0.0.1:9/", "--timeout=-1"],
        &["send", "http", "http://127.0.0.1:9/", "--timeout", "nan"],
        &["send", "http", "http://127.0.0.1:9/", "--timeout", "1e300"],
        &["send", "http", "http://127.0.0.1:9/", "--timeout=inf"],
        &["send", "http", "http://127.0.0.1:9/", "--timeout", "0"],
        &["load", "http", "http://127.0.0.1:9/", "--duration", "inf"],
        &["load", "http", "http://127.0.0.1:9/", "--duration", "nan"],
        &[
            "watch",
            "amqp://127.0.0.1:9",
            "--queue",
            "q",
            "--timeout",
            "nan",
        ],
        &[
            "watch",
            "amqp://127.0.0.1:9",
            "--queue",
            "q",
            "--count",
            "0",
        ],
        &[
            "publish",
            "amqp://127.0.0.1:9",
            "--exchange",
            "",
            "--routing-key",
            "q",
            "--body",
            "b",
            "--count",
            "0",
        ],
        &["run", "/nonexistent", "--timeout", "-1"],
    ];
    for args in cases {
        let output = switchboard(args).await;
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let output = switchboard(&["load", "http", "http://127.0.0.1:9/", "--duration", "nan"]).await;
    assert!(!stderr(&output).contains("not both"), "{}", stderr(&output));
}

/// #11.5: reflection and the call share one deadline.
#[tokio::test]
async fn a_grpc_call_to_a_silent_server_takes_one_timeout_not_two() {
    let port = peer(None).await;
    let started = Instant::now();
    let output = switchboard(&[
        "send",
        "grpc",
        &format!("127.0.0.1:{port}"),
        "--timeout",
        "3",
    ])
    .await;
    let took = started.elapsed();
    assert_one_line_failure(&output, "timed out after 3.0 s");
    // Before: 6 s (3 for reflection, then 3 for the call).
    assert!(took < Duration::from_millis(5500), "took {took:?}");
}

/// #11.9: each error names what the peer is, in the phase where it was found.
#[tokio::test]
async fn errors_name_what_the_peer_is() {
    let http1 = peer(Some(HTTP1_400)).await;
    let garbage = peer(Some(GARBAGE)).await;

    let output = switchboard(&[
        "publish",
        &format!("amqp://guest:guest@127.0.0.1:{http1}/%2f"),
        "--exchange",
        "x",
        "--routing-key",
        "k",
        "--body",
        "b",
        "--timeout",
        "10",
    ])
    .await;
    assert_one_line_failure(&output, "is not an AMQP 0-9-1 broker");
    assert!(
        !stderr(&output).contains("ParserErrors"),
        "{}",
        stderr(&output)
    );

    let output = switchboard(&[
        "send",
        "grpc",
        &format!("127.0.0.1:{http1}"),
        "--timeout",
        "10",
    ])
    .await;
    assert_one_line_failure(&output, "not an HTTP/2 server");

    let output = switchboard(&[
        "send",
        "grpc",
        &format!("127.0.0.1:{garbage}"),
        "--timeout",
        "10",
    ])
    .await;
    assert_one_line_failure(&output, "not an HTTP/2 server");
    assert_eq!(
        stderr(&output).matches("connection already used").count(),
        0
    );

    let output = switchboard(&[
        "send",
        "http",
        &format!("http://127.0.0.1:{garbage}/"),
        "--json",
        "--timeout",
        "10",
    ])
    .await;
    assert_one_line_failure(&output, "not an HTTP server");
    let exchange: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&output.stdout).trim()).unwrap();
    assert_eq!(exchange["error"]["phase"], "first_byte", "{exchange}");
    let failed: Vec<_> = exchange["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["failed"] == true)
        .map(|p| p["phase"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failed, ["first_byte"], "{exchange}");

    // A peer that speaks first: named by what it said, not "the server closed the connection".
    let talker = talker().await;
    let output = switchboard(&[
        "send",
        "http",
        &format!("http://127.0.0.1:{talker}/"),
        "--json",
        "--timeout",
        "10",
    ])
    .await;
    assert_one_line_failure(&output, "not an HTTP server: it answered \"INFO {");
    assert_eq!(failed_phases(&output), ["first_byte"]);
    // gRPC to it: no HTTP/2 SETTINGS ever came, so the handshake is what failed.
    let output = switchboard(&[
        "send",
        "grpc",
        &format!("127.0.0.1:{talker}"),
        "--proto",
        "proto/user.proto",
        "--json",
        "--timeout",
        "3",
    ])
    .await;
    assert!(!output.status.success());
    assert_eq!(failed_phases(&output), ["http2_handshake"]);

    // Discovery that fails is still an exchange on stdout: its `discover` phase failed.
    let output = switchboard(&[
        "send",
        "grpc",
        &format!("127.0.0.1:{}", closed_port().await),
        "no.Such/Method",
        "--json",
        "--timeout",
        "10",
    ])
    .await;
    assert_one_line_failure(&output, "");
    assert_eq!(failed_phases(&output), ["discover"]);
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// #11.10: request bodies are capped with a clear error; huge response bodies print a bounded
/// preview in text mode.
#[tokio::test]
async fn huge_bodies_are_capped_and_previewed() {
    let started = Instant::now();
    let output = switchboard(&[
        "send",
        "http",
        "http://127.0.0.1:9/",
        "--body",
        "@/dev/zero",
    ])
    .await;
    assert_one_line_failure(&output, "not a regular file");
    assert!(started.elapsed() < Duration::from_secs(20));
    // Standard input is read, up to the limit.
    let output = tokio::task::spawn_blocking(|| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["send", "http", "http://127.0.0.1:9/", "--body", "@-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let chunk = vec![b'x'; 1024 * 1024];
        for _ in 0..70 {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
        }
        drop(stdin);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_one_line_failure(&output, "larger than the 64 MiB limit");

    // A server answering 8 MiB of binary.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let body = vec![0xffu8; 8 * 1024 * 1024];
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    let output = switchboard(&["send", "http", &format!("http://127.0.0.1:{port}/")]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        output.stdout.len() < 100_000,
        "printed {} bytes",
        output.stdout.len()
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("more bytes not shown"));
}

/// #11.10: a body file of any size is streamed as it is sent (it is never held in memory):
/// the server receives every byte, and the exchange keeps only its start to show.
#[tokio::test]
async fn a_large_body_file_is_streamed() {
    let dir = std::env::temp_dir().join(format!("sb-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.bin");
    let len: u64 = 80 * 1024 * 1024;
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(len).unwrap();
    drop(file);
    // A server that counts the body it receives and answers the count.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 1024 * 1024];
        let mut seen = Vec::new();
        let mut body = 0u64;
        let mut head_end = None;
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            match head_end {
                None => {
                    seen.extend_from_slice(&buf[..n]);
                    if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        body += (seen.len() - i - 4) as u64;
                        head_end = Some(i);
                    }
                }
                Some(_) => body += n as u64,
            }
            if head_end.is_some() && body >= 80 * 1024 * 1024 {
                break;
            }
        }
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.to_string().len()
        );
        socket.write_all(reply.as_bytes()).await.unwrap();
    });
    let url = format!("http://127.0.0.1:{port}/upload");
    let body = format!("@{}", path.display());
    let output = switchboard(&["send", "http", "PUT", &url, "--body", &body, "--json"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let exchange: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&output.stdout).trim()).unwrap();
    assert_eq!(
        exchange["response"]["body"],
        serde_json::json!(len),
        "{}",
        exchange["response"]
    );
    assert_eq!(exchange["request"]["size_bytes"], serde_json::json!(len));
    assert_eq!(
        exchange["request"]["body_truncated"],
        serde_json::json!(true)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
