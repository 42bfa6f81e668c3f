//! `scripts/bench`: figures with baselines measured in the same run, reported as medians with
//! min/max over several runs, and as ratios to the baseline (machines here are noisy).
//!
//! Figures so far:
//! - `app_first_frame_ms`: process start → first frame of Switchboard, against an empty eframe
//!   window built with the same renderer and features (`empty-window`).
//! - `app_rss_after_lookup_mb`: resident memory of Switchboard after its first lookup (HTTP and
//!   gRPC against the in-process demo), against the empty window's after its first frame.
//!
//! - `amqp_watch_ingest_rate`: messages/s a viewer tab ingests into its store, consuming a
//!   pre-filled queue with the UI drawing 60 frames a second (headless egui_kittest harness), against a
//!   bare lapin consumer (qos 1000, one multiple-ack per batch) draining the same queue.
//! - `viewer_frame_p50_ms_1m`, `viewer_frame_p99_ms_1m`: frame time of the app showing a viewer
//!   tab with 1,000,000 messages stored and live tail on, while 100 more arrive per frame.
//! - `grpc_stream_frame_p99_ms_100k`: frame time of the gRPC editor with a 100,000-message
//!   response stream listed and its exchange selected.
//! - `viewer_frame_p99_ms_ingest`: p99 UI time per frame while the viewer ingests at full speed.
//! - `http_rtt_p50/p99`, `grpc_rtt_p50/p99`: a lookup through the engine (kept-alive connection,
//!   timeline captured) against bare reqwest / a bare tonic client on one connection, in µs.
//! - `http_load_rate`, `grpc_load_rate`: load mode (16 concurrent) against a bare 16-task loop.
//! - `amqp_publish_confirm_rate`: publish-many (1000 confirms in flight) against bare lapin.
//! - `amqp_publish_many_rate_app`, `amqp_publish_count_rate_cli`: the same series through the
//!   app's *Publish many* (its backend, the UI drawing 60 frames a second) and through
//!   `switchboard publish --count N`, each against bare lapin in the same run.
//! - `app_rss_idle_mb`, `app_rss_1000_exchanges_mb`: the app with its demo services idle, and
//!   after 1,000 lookups in its history, against the empty window.
//! - `viewer_rss_1m_mb`, `viewer_bytes_per_message`: resident memory with those 1,000,000
//!   messages stored, and the growth per message over the empty app.
//!
//! - `nats_request_p50`: a `user.get` request/reply through the engine (one kept connection,
//!   timeline captured: subscribe inbox, publish, flush, reply) against a bare async-nats
//!   `client.request` loop on one connection, in µs.
//! - `nats_tap_ingest_rate`: messages/s a viewer tab ingests from a stream tap of a pre-filled
//!   stream with the UI drawing 60 frames a second, against a bare async-nats ordered consumer
//!   (what a bare client taps a stream with) reading the same stream.
//! - `nats_tap_ingest_rate_vs_pull`: the same viewer runs against a bare pull consumer with
//!   the tap's own settings and 2000-message window (the tap's client cost alone).
//!
//! - `kafka_produce_ack_p50`: a produce (acks=all) through the engine on a kept connection
//!   (timeline captured: produce, ack) against a bare kafka-protocol produce loop on one
//!   connection, in µs — both against the embedded broker (tansu, memory storage).
//! - `kafka_tap_ingest_rate`: messages/s a viewer tab ingests from a Kafka tap of a pre-filled
//!   topic with the UI drawing 60 frames a second, against a bare kafka-protocol fetch loop
//!   decoding the same records.
//!
//! - `otlp_ingest_spans_per_s`: spans/s the OTLP/HTTP receiver stores, posted as protobuf
//!   export requests of 100 spans by 4 concurrent exporters on kept-alive connections, against
//!   a bare axum server that only decodes them.
//!
//! Needs a display (scripts/bench starts Xvfb), RabbitMQ on 127.0.0.1:5672 and NATS (JetStream)
//! on 127.0.0.1:4222. Flags: `--quick` (fewer runs), `--json` (one
//! JSON object per figure: name, value, unit, baseline, ratio, min, max, runs). A group name
//! (`app`, `viewer`, `net`, `nats`, `kafka`, `traces`) runs only that group; `--only NAME[,NAME…]`
//! then measures only the figures whose names start with one of them (and skips the work of the
//! others where it can): `scripts/bench --quick nats --only nats_tap`. `--grpc-calls engine|bare
//! N` makes only N gRPC lookups (engine or bare tonic), for a profiler: see `net::grpc_calls`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod kafka;
mod nats;
mod net;
mod traces;
mod viewer;

use kafka::*;
use nats::*;
use net::*;
use traces::*;
use viewer::*;

struct Figure {
    name: &'static str,
    unit: &'static str,
    samples: Vec<f64>,
    baseline: Option<Vec<f64>>,
}

fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn min(s: &[f64]) -> f64 {
    s.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(s: &[f64]) -> f64 {
    s.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

struct WindowRun {
    first_frame_ms: f64,
    rss_mb: f64,
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Starts `bin`, times its first frame, waits for `ready_line`, reads its RSS, kills it.
fn run_window(bin: &str, args: &[&str], ready_line: &str) -> WindowRun {
    let data_home = std::env::temp_dir().join(format!("switchboard-bench-{}", std::process::id()));
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .env("SWITCHBOARD_BENCH", "1")
        .env("XDG_DATA_HOME", &data_home)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::sync_channel(64);
    std::thread::Builder::new()
        .name("bench-stdout".into())
        .spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send((line, Instant::now())).is_err() {
                    return;
                }
            }
        })
        .unwrap();
    let deadline = start + Duration::from_secs(60);
    let mut first_frame_ms = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (line, at) = rx.recv_timeout(left).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("{bin} did not print {ready_line:?} within 60 s (is DISPLAY set?)")
        });
        if line == "bench: first frame" {
            first_frame_ms = Some(at.duration_since(start).as_secs_f64() * 1000.0);
        }
        if line == ready_line && first_frame_ms.is_some() {
            break;
        }
    }
    // Resident memory keeps growing for a moment after the first frames (GL buffers, font
    // atlas): read it after the same settling time for every window, baseline included.
    std::thread::sleep(Duration::from_millis(1500));
    let rss = rss_mb(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data_home);
    WindowRun {
        first_frame_ms: first_frame_ms.unwrap_or(f64::NAN),
        rss_mb: rss,
    }
}

const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

fn self_rss_mb() -> f64 {
    rss_mb(std::process::id())
}

/// A demo-like order event of ≈170 bytes, numbered.
fn order_message(i: usize) -> switchboard::engine::watch::WatchedMessage {
    use switchboard::engine::amqp::Properties;
    let properties = Properties {
        content_type: Some("application/json".to_string()),
        message_id: Some(format!("{i:08x}-4f0c-4b7e-9d2a-{i:012x}")),
        correlation_id: Some(format!("corr-{i}")),
        timestamp: Some(1_795_000_000),
        delivery_mode: Some(2),
        ..Properties::default()
    };
    let mut headers = serde_json::Map::new();
    headers.insert("x-source".into(), "order-service".into());
    switchboard::engine::watch::WatchedMessage {
        received_at_ms: 1_795_000_000_000 + i as u64,
        ..switchboard::engine::watch::WatchedMessage::amqp(
            "orders",
            "order.created",
            false,
            &properties,
            headers,
            format!(
                r#"{{"event":"OrderCreated","order_id":"{i:08x}-4f0c-4b7e-9d2a","user_id":"{}","items":[{{"sku":"book","quantity":1}}],"created_at_ms":1795000000000}}"#,
                i % 5 + 1
            )
            .into_bytes(),
        )
    }
}

async fn fill_queue(queue: &str, n: u64) {
    use switchboard::engine::amqp::PublishRequest;
    use switchboard::engine::publish_many::{PublishMany, publish_many};
    let body = order_message(0).body.bytes;
    let request = PublishRequest::new(AMQP_URL, "", queue, body);
    let job = PublishMany {
        request,
        count: n,
        rate_per_sec: 0.0,
        numbered: false,
    };
    let done = publish_many(&job, None, tokio_util::sync::CancellationToken::new())
        .await
        .expect("fill the bench queue");
    assert_eq!(done.confirmed, n);
}

async fn declare_queue(queue: &str) -> lapin::Connection {
    let conn = lapin::Connection::connect(AMQP_URL, lapin::ConnectionProperties::default())
        .await
        .expect("broker");
    let channel = conn.create_channel().await.unwrap();
    let mut args = lapin::types::FieldTable::default();
    args.insert(
        "x-expires".into(),
        lapin::types::AMQPValue::LongUInt(120_000),
    );
    channel
        .queue_declare(
            queue.into(),
            lapin::options::QueueDeclareOptions::default(),
            args,
        )
        .await
        .unwrap();
    conn
}

/// A bare lapin consumer draining `n` messages: messages per second.
async fn bare_consume(queue: &str, n: u64) -> f64 {
    use futures_util::StreamExt;
    let conn = lapin::Connection::connect(AMQP_URL, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    channel
        .basic_qos(1000, lapin::options::BasicQosOptions::default())
        .await
        .unwrap();
    let mut consumer = channel
        .basic_consume(
            queue.into(),
            "bench".into(),
            lapin::options::BasicConsumeOptions::default(),
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    let start = Instant::now();
    let mut got = 0;
    while got < n {
        let d = consumer.next().await.unwrap().unwrap();
        got += 1;
        if got % 100 == 0 || got == n {
            channel
                .basic_ack(
                    d.delivery_tag,
                    lapin::options::BasicAckOptions { multiple: true },
                )
                .await
                .unwrap();
        }
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let _ = conn.close(200, "bye".into()).await;
    rate
}

/// The runtime every group measures on: two workers, like the machines it runs on.
fn bench_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

type AppHarness = egui_kittest::Harness<'static, switchboard::ui::SwitchboardApp>;

/// The name prefixes `--only` asked for (none: every figure).
static ONLY: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Whether figure `name` is to be measured (`--only`).
fn wanted(name: &str) -> bool {
    ONLY.get()
        .is_none_or(|only| only.is_empty() || only.iter().any(|p| name.starts_with(p.as_str())))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let quick = args.iter().any(|a| a == "--quick");
    let _ = ONLY.set(
        args.iter()
            .skip_while(|a| *a != "--only")
            .nth(1)
            .map(|list| list.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
    );
    if let Some(i) = args.iter().position(|a| a == "--grpc-calls") {
        let engine = args.get(i + 1).is_some_and(|s| s == "engine");
        let n = args.get(i + 2).and_then(|s| s.parse().ok()).unwrap_or(1000);
        grpc_calls(engine, n);
        return;
    }
    // `scripts/bench viewer` or `scripts/bench app` runs one group.
    let only = |group: &str| {
        !args.iter().any(|a| {
            a == "app"
                || a == "viewer"
                || a == "net"
                || a == "nats"
                || a == "kafka"
                || a == "traces"
        }) || args.iter().any(|a| a == group)
    };
    let runs = if quick { 3 } else { 7 };
    if only("app") && std::env::var_os("DISPLAY").is_none() {
        eprintln!("bench: no DISPLAY; run it through scripts/bench (which starts Xvfb)");
        std::process::exit(2);
    }
    let app = env!("CARGO_BIN_EXE_switchboard");
    let empty = env!("CARGO_BIN_EXE_empty-window");

    let mut app_runs = Vec::new();
    let mut empty_runs = Vec::new();
    let mut idle_runs = Vec::new();
    let mut thousand_runs = Vec::new();
    let app_runs_wanted = if only("app") { runs } else { 0 };
    for i in 0..app_runs_wanted {
        // Interleave so that drift on a noisy machine hits both alike.
        empty_runs.push(run_window(empty, &[], "bench: first frame"));
        app_runs.push(run_window(app, &["--script", "lookup"], "script: done"));
        idle_runs.push(run_window(app, &["--script", "idle"], "script: done"));
        if i < 3 {
            thousand_runs.push(run_window(
                app,
                &["--script", "lookups1000"],
                "script: done",
            ));
        }
    }
    let mut figures = Vec::new();
    if only("net") {
        figures.extend(net_figures(quick, if quick { 4 } else { 6 }));
    }
    if only("app") {
        figures.push(Figure {
            name: "app_rss_idle_mb",
            unit: "MB",
            samples: idle_runs.iter().map(|r| r.rss_mb).collect(),
            baseline: Some(empty_runs.iter().map(|r| r.rss_mb).collect()),
        });
        figures.push(Figure {
            name: "app_rss_1000_exchanges_mb",
            unit: "MB",
            samples: thousand_runs.iter().map(|r| r.rss_mb).collect(),
            baseline: Some(empty_runs.iter().map(|r| r.rss_mb).collect()),
        });
        figures.push(Figure {
            name: "app_first_frame_ms",
            unit: "ms",
            samples: app_runs.iter().map(|r| r.first_frame_ms).collect(),
            baseline: Some(empty_runs.iter().map(|r| r.first_frame_ms).collect()),
        });
        figures.push(Figure {
            name: "app_rss_after_lookup_mb",
            unit: "MB",
            samples: app_runs.iter().map(|r| r.rss_mb).collect(),
            baseline: Some(empty_runs.iter().map(|r| r.rss_mb).collect()),
        });
    }
    if only("viewer") {
        figures.extend(viewer_figures(quick, runs));
    }
    if only("nats") {
        figures.extend(nats_figures(quick, if quick { 3 } else { 5 }));
    }
    if only("kafka") {
        figures.extend(kafka_figures(quick, if quick { 3 } else { 5 }));
    }
    if only("traces") {
        figures.extend(traces_figures(quick, if quick { 3 } else { 5 }));
    }
    figures.retain(|f| wanted(f.name));
    report(&figures, json);
}

fn report(figures: &[Figure], json: bool) {
    if !json {
        println!(
            "{:<28} {:>10} {:>10} {:>7}   {:>19}   runs",
            "figure", "median", "baseline", "ratio", "min..max"
        );
    }
    for f in figures {
        let value = median(&f.samples);
        let baseline = f.baseline.as_deref().map(median);
        let ratio = baseline.map(|b| value / b);
        if json {
            let mut obj = serde_json::json!({
                "name": f.name, "value": round(value), "unit": f.unit,
                "min": round(min(&f.samples)), "max": round(max(&f.samples)), "runs": f.samples.len(),
            });
            if let (Some(b), Some(r)) = (baseline, ratio) {
                obj["baseline"] = serde_json::json!(round(b));
                obj["ratio"] = serde_json::json!(round(r));
            }
            println!("{obj}");
        } else {
            println!(
                "{:<28} {:>7.1} {:<2} {:>10} {:>7}   {:>8.1}..{:<8.1}   {}",
                f.name,
                value,
                f.unit,
                baseline.map_or("-".to_string(), |b| format!("{b:.1}")),
                ratio.map_or("-".to_string(), |r| format!("{r:.2}")),
                min(&f.samples),
                max(&f.samples),
                f.samples.len()
            );
        }
    }
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
