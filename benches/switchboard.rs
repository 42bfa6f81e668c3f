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
//! - `app_rss_idle_mb`, `app_rss_1000_exchanges_mb`: the app with its demo services idle, and
//!   after 1,000 lookups in its history, against the empty window.
//! - `viewer_rss_1m_mb`, `viewer_bytes_per_message`: resident memory with those 1,000,000
//!   messages stored, and the growth per message over the empty app.
//!
//! - `nats_request_p50`: a `user.get` request/reply through the engine (one kept connection,
//!   timeline captured: subscribe inbox, publish, flush, reply) against a bare async-nats
//!   `client.request` loop on one connection, in µs.
//! - `nats_tap_ingest_rate`: messages/s a viewer tab ingests from a stream tap (ordered
//!   consumer) of a pre-filled stream with the UI drawing 60 frames a second, against a bare
//!   async-nats ordered consumer reading the same stream.
//!
//! - `kafka_produce_ack_p50`: a produce (acks=all) through the engine on a kept connection
//!   (timeline captured: produce, ack) against a bare kafka-protocol produce loop on one
//!   connection, in µs — both against the embedded broker (tansu, memory storage).
//! - `kafka_tap_ingest_rate`: messages/s a viewer tab ingests from a Kafka tap of a pre-filled
//!   topic with the UI drawing 60 frames a second, against a bare kafka-protocol fetch loop
//!   decoding the same records.
//!
//! Needs a display (scripts/bench starts Xvfb), RabbitMQ on 127.0.0.1:5672 and NATS (JetStream)
//! on 127.0.0.1:4222. Flags: `--quick` (fewer runs), `--json` (one
//! JSON object per figure: name, value, unit, baseline, ratio, min, max, runs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

type AppHarness = egui_kittest::Harness<'static, switchboard::ui::SwitchboardApp>;

fn app_harness(runtime: &tokio::runtime::Runtime) -> AppHarness {
    use switchboard::ui::backend::BackendOptions;
    use switchboard::ui::{AppOptions, SwitchboardApp};
    let options = AppOptions {
        backend: BackendOptions {
            demo: None,
            amqp_url: AMQP_URL.to_string(),
            nats_url: NATS_URL.to_string(),
            kafka_url: switchboard::engine::kafka::DEFAULT_KAFKA_URL.to_string(),
            data_dir: std::env::temp_dir().join(format!("sb-bench-{}", std::process::id())),
        },
        script: None,
    };
    let handle = runtime.handle().clone();
    egui_kittest::Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |cc| SwitchboardApp::new(cc, &handle, options))
}

/// The viewer consuming `n` messages with the UI drawing each frame: messages per second.
/// ... and the UI time of each frame meanwhile (ms).
fn viewer_consume(runtime: &tokio::runtime::Runtime, queue: &str, n: u64) -> (f64, Vec<f64>) {
    use switchboard::engine::watch::{WatchMode, WatchSpec};
    let mut harness = app_harness(runtime);
    harness.state_mut().settings.view = switchboard::ui::settings::MainView::Messages;
    harness.step();
    let start = Instant::now();
    harness
        .state_mut()
        .start_watch(switchboard::engine::WatchRequest::Amqp(WatchSpec::queue(
            AMQP_URL,
            WatchMode::Consume,
            queue,
        )));
    let deadline = start + Duration::from_secs(120);
    // Frames at 60 per second, like a real window with vsync (an unpaced loop would redraw
    // thousands of times a second and take the CPU from the connection).
    let frame = Duration::from_micros(16_667);
    let mut next_frame = Instant::now();
    let mut frames_ms = Vec::new();
    loop {
        let frame_start = Instant::now();
        harness.step();
        frames_ms.push(frame_start.elapsed().as_secs_f64() * 1000.0);
        next_frame += frame;
        std::thread::sleep(next_frame.saturating_duration_since(Instant::now()));
        let received = harness
            .state()
            .viewer
            .tabs
            .first()
            .map_or(0, |t| t.store.received);
        if received >= n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the viewer ingested only {received} of {n} in 120 s"
        );
    }
    (n as f64 / start.elapsed().as_secs_f64(), frames_ms)
}

struct FrameFigures {
    frames_ms: Vec<f64>,
    rss_mb: f64,
    bytes_per_message: f64,
}

/// Frame times with 1,000,000 messages stored and live tail on, 100 arriving per frame.
fn viewer_frames(runtime: &tokio::runtime::Runtime, frames: usize) -> FrameFigures {
    const STORED: usize = 1_000_000;
    let mut harness = app_harness(runtime);
    harness.step();
    let rss_before = self_rss_mb();
    // Fill in chunks, as a live watch would, so no 1M-message transient inflates the RSS.
    harness.state_mut().store_capacity = STORED;
    harness.state_mut().open_imported("bench", Vec::new());
    let id = harness.state().viewer.active.expect("a tab");
    for chunk in 0..STORED / 10_000 {
        let batch: Vec<_> = (chunk * 10_000..(chunk + 1) * 10_000)
            .map(order_message)
            .collect();
        if let Some(tab) = harness.state_mut().viewer.tab_mut(id) {
            tab.ingest(batch);
        }
    }
    harness.run_steps(3);
    let rss = self_rss_mb();
    let mut frames_ms = Vec::with_capacity(frames);
    let mut next = STORED;
    for _ in 0..frames {
        let batch: Vec<_> = (next..next + 100).map(order_message).collect();
        next += 100;
        let start = Instant::now();
        if let Some(tab) = harness.state_mut().viewer.tab_mut(id) {
            tab.ingest(batch);
        }
        harness.step();
        frames_ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let tab = harness.state().viewer.tabs.iter().find(|t| t.id == id);
    assert!(
        tab.is_some_and(|t| t.live_tail && t.store.len() == STORED),
        "live tail on, store full"
    );
    FrameFigures {
        frames_ms,
        rss_mb: rss,
        bytes_per_message: (rss - rss_before) * 1024.0 * 1024.0 / STORED as f64,
    }
}

/// Demo services on free ports with their own topology.
async fn bench_demo() -> demo_services::DemoServices {
    let mut topology = demo_services::Topology::named(
        &format!("sbbench-{}", std::process::id()),
        &format!("sbbench-{}-q", std::process::id()),
    );
    topology.expires_ms = Some(60_000);
    let config = demo_services::DemoConfig {
        topology,
        ..demo_services::DemoConfig::ephemeral()
    };
    demo_services::DemoServices::start(config)
        .await
        .expect("demo services")
}

/// A bare reqwest GET that reads the whole body; true on a 2xx.
async fn bare_get(client: &reqwest::Client, url: &str) -> bool {
    match client.get(url).send().await {
        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
        Err(_) => false,
    }
}

/// Round trips in µs of `n` sequential calls of `f`.
async fn round_trips<F, Fut>(n: usize, mut f: F) -> Vec<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        assert!(f().await, "a benchmark request failed");
        out.push(start.elapsed().as_secs_f64() * 1_000_000.0);
    }
    out
}

/// Requests per second of `concurrency` workers doing `n` requests in all with `f`.
async fn load_loop<F, Fut>(n: usize, concurrency: usize, f: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (f, next) = (f.clone(), next.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                assert!(f().await, "a load request failed");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    n as f64 / start.elapsed().as_secs_f64()
}

/// HTTP and gRPC round trips and load, and AMQP publish confirms: the engine against bare
/// reqwest / tonic / lapin in the same run.
fn net_figures(quick: bool, runs: usize) -> Vec<Figure> {
    use switchboard::engine::RequestSpec;
    use switchboard::engine::grpc::{GrpcClient, GrpcRequest};
    use switchboard::engine::http::{HttpClient, HttpRequest};
    use switchboard::engine::load::{LoadLimit, LoadSpec, run_load};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let n = if quick { 300 } else { 3000 };
    let load_n = if quick { 2000 } else { 20_000 };
    let confirms_n = if quick { 5_000 } else { 50_000 };
    runtime.block_on(async {
        let demo = bench_demo().await;
        let url = format!("http://{}/user/1", demo.user.http_addr);
        let grpc_url = format!("http://{}", demo.user.grpc_addr);
        let pool = switchboard::engine::grpc::builtin_pool().unwrap();
        let (mut http_p50, mut http_p99, mut http_base_p50, mut http_base_p99) =
            (vec![], vec![], vec![], vec![]);
        let (mut grpc_p50, mut grpc_p99, mut grpc_base_p50, mut grpc_base_p99) =
            (vec![], vec![], vec![], vec![]);
        let (mut http_load, mut http_load_base, mut grpc_load, mut grpc_load_base) =
            (vec![], vec![], vec![], vec![]);
        let (mut confirms, mut confirms_base) = (vec![], vec![]);
        for _ in 0..runs {
            // HTTP round trip on one kept-alive connection.
            let bare = reqwest::Client::new();
            let _ = bare.get(&url).send().await.unwrap().bytes().await;
            let b = round_trips(n, || {
                let (bare, url) = (bare.clone(), url.clone());
                async move { bare_get(&bare, &url).await }
            })
            .await;
            let client = HttpClient::default();
            let req = HttpRequest::get(&url);
            let _ = client.send(&req).await;
            let e = round_trips(n, || {
                let (client, req) = (client.clone(), req.clone());
                async move { client.send(&req).await.ok }
            })
            .await;
            http_p50.push(percentile(&e, 0.5));
            http_p99.push(percentile(&e, 0.99));
            http_base_p50.push(percentile(&b, 0.5));
            http_base_p99.push(percentile(&b, 0.99));

            // gRPC unary round trip on one channel.
            let channel = tonic::transport::Endpoint::from_shared(grpc_url.clone())
                .unwrap()
                .connect()
                .await
                .unwrap();
            let tonic_client =
                demo_services::proto::user_service_client::UserServiceClient::new(channel);
            let b = round_trips(n, || {
                let mut c = tonic_client.clone();
                async move {
                    c.get_user_info(demo_services::proto::UserRequest {
                        user_id: "1".into(),
                    })
                    .await
                    .is_ok()
                }
            })
            .await;
            let gclient = GrpcClient::default();
            let greq = GrpcRequest {
                addr: demo.user.grpc_addr.to_string(),
                method: switchboard::engine::grpc::DEFAULT_METHOD.to_string(),
                metadata: vec![],
                json: r#"{"user_id":"1"}"#.to_string(),
                timeout: Duration::from_secs(10),
                tls: Default::default(),
            };
            let _ = gclient.call(&greq, &pool).await;
            let e = round_trips(n, || {
                let (c, r, p) = (gclient.clone(), greq.clone(), pool.clone());
                async move { c.call(&r, &p).await.ok }
            })
            .await;
            grpc_p50.push(percentile(&e, 0.5));
            grpc_p99.push(percentile(&e, 0.99));
            grpc_base_p50.push(percentile(&b, 0.5));
            grpc_base_p99.push(percentile(&b, 0.99));

            // Load: 16 concurrent, engine load mode vs a bare loop.
            http_load_base.push(
                load_loop(load_n, 16, {
                    let (bare, url) = (bare.clone(), url.clone());
                    move || {
                        let (bare, url) = (bare.clone(), url.clone());
                        async move { bare_get(&bare, &url).await }
                    }
                })
                .await,
            );
            let spec = LoadSpec {
                request: RequestSpec::Http(req.clone()),
                limit: LoadLimit::Requests(load_n as u64),
                concurrency: 16,
            };
            let r = run_load(
                &spec,
                &pool,
                None,
                tokio_util::sync::CancellationToken::new(),
            )
            .await
            .unwrap();
            assert_eq!(r.ok, load_n as u64);
            http_load.push(r.throughput());
            grpc_load_base.push(
                load_loop(load_n, 16, {
                    let c = tonic_client.clone();
                    move || {
                        let mut c = c.clone();
                        async move {
                            c.get_user_info(demo_services::proto::UserRequest {
                                user_id: "1".into(),
                            })
                            .await
                            .is_ok()
                        }
                    }
                })
                .await,
            );
            let spec = LoadSpec {
                request: RequestSpec::Grpc(greq.clone()),
                limit: LoadLimit::Requests(load_n as u64),
                concurrency: 16,
            };
            let r = run_load(
                &spec,
                &pool,
                None,
                tokio_util::sync::CancellationToken::new(),
            )
            .await
            .unwrap();
            assert_eq!(r.ok, load_n as u64);
            grpc_load.push(r.throughput());

            // AMQP publish with confirms, 1000 in flight: engine vs bare lapin.
            confirms_base.push(bare_publish_confirms(confirms_n).await);
            confirms.push(engine_publish_confirms(confirms_n).await);
        }
        demo.stop().await;
        vec![
            Figure {
                name: "http_rtt_p50",
                unit: "us",
                samples: http_p50,
                baseline: Some(http_base_p50),
            },
            Figure {
                name: "http_rtt_p99",
                unit: "us",
                samples: http_p99,
                baseline: Some(http_base_p99),
            },
            Figure {
                name: "grpc_rtt_p50",
                unit: "us",
                samples: grpc_p50,
                baseline: Some(grpc_base_p50),
            },
            Figure {
                name: "grpc_rtt_p99",
                unit: "us",
                samples: grpc_p99,
                baseline: Some(grpc_base_p99),
            },
            Figure {
                name: "http_load_rate",
                unit: "req/s",
                samples: http_load,
                baseline: Some(http_load_base),
            },
            Figure {
                name: "grpc_load_rate",
                unit: "req/s",
                samples: grpc_load,
                baseline: Some(grpc_load_base),
            },
            Figure {
                name: "amqp_publish_confirm_rate",
                unit: "msg/s",
                samples: confirms,
                baseline: Some(confirms_base),
            },
        ]
    })
}

/// Bare lapin: publish `n` to a queue-less routing key with up to 1000 confirms in flight.
async fn bare_publish_confirms(n: u64) -> f64 {
    let conn = lapin::Connection::connect(AMQP_URL, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    channel
        .confirm_select(lapin::options::ConfirmSelectOptions::default())
        .await
        .unwrap();
    let start = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    for _ in 0..n {
        let c = channel
            .basic_publish(
                "amq.topic".into(),
                "sbbench.none".into(),
                lapin::options::BasicPublishOptions::default(),
                b"{}",
                lapin::BasicProperties::default(),
            )
            .await
            .unwrap();
        pending.push_back(c);
        if pending.len() >= 1000
            && let Some(c) = pending.pop_front()
        {
            c.await.unwrap();
        }
    }
    for c in pending {
        c.await.unwrap();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let _ = conn.close(200, "bye".into()).await;
    rate
}

async fn engine_publish_confirms(n: u64) -> f64 {
    use switchboard::engine::amqp::PublishRequest;
    use switchboard::engine::publish_many::{PublishMany, publish_many};
    let mut request = PublishRequest::new(AMQP_URL, "amq.topic", "sbbench.none", "{}");
    request.mandatory = false;
    let job = PublishMany {
        request,
        count: n,
        rate_per_sec: 0.0,
        numbered: false,
    };
    let done = publish_many(&job, None, tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.confirmed, n);
    n as f64 / done.elapsed.as_secs_f64()
}

/// Frame times of the gRPC editor showing a 100,000-message response stream: its live list and
/// the exchange (one phase per message, a 5 MB JSON body) selected.
fn stream_frames(runtime: &tokio::runtime::Runtime, frames: usize) -> Vec<f64> {
    use switchboard::engine::grpc::Received;
    use switchboard::engine::timeline::Phase;
    use switchboard::engine::{Body, Exchange, Message, Transport};
    const N: u64 = 100_000;
    let mut harness = app_harness(runtime);
    let json =
        r#"{"orderId":"95a1b355-0cbd-4ee2-a4d1-b9f6b78cd60c","userId":"2","kind":"consumed"}"#;
    let received: Vec<Received> = (0..N)
        .map(|i| Received {
            at_us: i * 10,
            size_bytes: 51,
            json: json.to_string(),
        })
        .collect();
    let timeline: Vec<Phase> = (0..N)
        .map(|i| Phase {
            phase: switchboard::engine::grpc::phases::MESSAGE,
            start_us: i * 10,
            end_us: i * 10 + 10,
            detail: Some(format!("#{} 51 bytes", i + 1)),
            failed: false,
        })
        .collect();
    let body = format!("[{}]", vec![json; N as usize].join(","));
    let exchange = Exchange {
        transport: Transport::Grpc,
        target: "127.0.0.1:50051 user.UserService/WatchOrders".to_string(),
        started_at_ms: 0,
        ok: true,
        status: Some("OK".to_string()),
        error: None,
        total_us: N * 10,
        timeline,
        request: Message::default(),
        response: Some(Message {
            body: Body::new(body.into_bytes()),
            size_bytes: N * 51,
            ..Message::default()
        }),
    };
    {
        let app = harness.state_mut();
        app.settings.transport = switchboard::ui::settings::TransportTab::Grpc;
        app.history.push(switchboard::ui::app::Entry {
            seq: 1,
            request_id: 1,
            exchange,
            request: None,
        });
        app.selected = Some(1);
        app.stream_view = Some((1, received));
    }
    harness.run_steps(3);
    (0..frames)
        .map(|_| {
            let start = Instant::now();
            harness.step();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect()
}

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    s[((s.len() - 1) as f64 * p).round() as usize]
}

fn viewer_figures(quick: bool, runs: usize) -> Vec<Figure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let n: u64 = if quick { 20_000 } else { 100_000 };
    let queue = format!("sbbench-{}", std::process::id());
    let setup = runtime.block_on(declare_queue(&queue));
    let (mut bare, mut viewer, mut ingest_frames) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs.min(3) {
        runtime.block_on(fill_queue(&queue, n));
        bare.push(runtime.block_on(bare_consume(&queue, n)));
        runtime.block_on(fill_queue(&queue, n));
        let (rate, frames) = viewer_consume(&runtime, &queue, n);
        viewer.push(rate);
        ingest_frames.push(percentile(&frames, 0.99));
    }
    runtime.block_on(async {
        if let Ok(channel) = setup.create_channel().await {
            let _ = channel
                .queue_delete(
                    queue.as_str().into(),
                    lapin::options::QueueDeleteOptions::default(),
                )
                .await;
        }
        let _ = setup.close(200, "bye".into()).await;
    });
    let frames = viewer_frames(&runtime, if quick { 60 } else { 300 });
    let stream = stream_frames(&runtime, if quick { 30 } else { 120 });
    vec![
        Figure {
            name: "amqp_watch_ingest_rate",
            unit: "msg/s",
            samples: viewer,
            baseline: Some(bare),
        },
        Figure {
            name: "grpc_stream_frame_p99_ms_100k",
            unit: "ms",
            samples: vec![percentile(&stream, 0.99)],
            baseline: None,
        },
        Figure {
            name: "viewer_frame_p99_ms_ingest",
            unit: "ms",
            samples: ingest_frames,
            baseline: None,
        },
        Figure {
            name: "viewer_frame_p50_ms_1m",
            unit: "ms",
            samples: vec![percentile(&frames.frames_ms, 0.5)],
            baseline: None,
        },
        Figure {
            name: "viewer_frame_p99_ms_1m",
            unit: "ms",
            samples: vec![percentile(&frames.frames_ms, 0.99)],
            baseline: None,
        },
        Figure {
            name: "viewer_rss_1m_mb",
            unit: "MB",
            samples: vec![frames.rss_mb],
            baseline: None,
        },
        Figure {
            name: "viewer_bytes_per_message",
            unit: "B",
            samples: vec![frames.bytes_per_message],
            baseline: None,
        },
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let quick = args.iter().any(|a| a == "--quick");
    // `scripts/bench viewer` or `scripts/bench app` runs one group.
    let only = |group: &str| {
        !args
            .iter()
            .any(|a| a == "app" || a == "viewer" || a == "net" || a == "nats" || a == "kafka")
            || args.iter().any(|a| a == group)
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
        figures.extend(net_figures(quick, if quick { 2 } else { 5 }));
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

const NATS_URL: &str = switchboard::engine::nats::DEFAULT_NATS_URL;

/// NATS: request/reply through the engine against bare async-nats, and a viewer stream tap
/// against a bare ordered consumer.
fn nats_figures(quick: bool, runs: usize) -> Vec<Figure> {
    use switchboard::engine::nats::{NatsClient, NatsRequest};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let n = if quick { 300 } else { 3000 };
    // The same count in quick runs: with fewer the connection setup and 60 fps frames dominate.
    let tap_n: u64 = 100_000;
    let tag = format!("{}", std::process::id());
    let names = demo_services::NatsNames::unique(NATS_URL, &format!("bench{tag}"));
    let (demo, stream) = runtime.block_on(async {
        let mut topology = demo_services::Topology::named(
            &format!("sbbench-nats-{tag}"),
            &format!("sbbench-nats-{tag}-q"),
        );
        topology.expires_ms = Some(60_000);
        let config = demo_services::DemoConfig {
            topology,
            nats: Some(names.clone()),
            ..demo_services::DemoConfig::ephemeral()
        };
        let demo = demo_services::DemoServices::start(config)
            .await
            .expect("demo services");
        // A stream of `tap_n` small order events for the tap figure.
        let client = async_nats::connect(NATS_URL)
            .await
            .expect("nats-server on 4222");
        let js = async_nats::jetstream::new(client);
        let stream = format!("SBBENCH_{tag}");
        let _ = js.delete_stream(&stream).await;
        js.create_stream(async_nats::jetstream::stream::Config {
            name: stream.clone(),
            subjects: vec![format!("sbbench_{tag}.>")],
            ..Default::default()
        })
        .await
        .unwrap();
        let body = serde_json::to_vec(
            &serde_json::json!({"event": "OrderCreated", "user_id": "1", "amount": 9.5}),
        )
        .unwrap();
        let mut acks = Vec::new();
        for _ in 0..tap_n {
            acks.push(
                js.publish(format!("sbbench_{tag}.created"), body.clone().into())
                    .await
                    .unwrap(),
            );
            if acks.len() >= 1000 {
                for a in acks.drain(..) {
                    a.await.unwrap();
                }
            }
        }
        for a in acks {
            a.await.unwrap();
        }
        (demo, stream)
    });
    let (mut p50, mut base_p50, mut tap, mut tap_base) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        runtime.block_on(async {
            let bare = async_nats::connect(NATS_URL).await.unwrap();
            let subject = names.user_subject.clone();
            let _ = bare
                .request(subject.clone(), r#"{"user_id":"1"}"#.into())
                .await;
            let b = round_trips(n, || {
                let (bare, subject) = (bare.clone(), subject.clone());
                async move {
                    bare.request(subject, r#"{"user_id":"1"}"#.into())
                        .await
                        .is_ok()
                }
            })
            .await;
            let client = NatsClient::connect(NATS_URL, Duration::from_secs(10))
                .await
                .unwrap();
            let req = NatsRequest::request(NATS_URL, &subject, r#"{"user_id":"1"}"#);
            let _ = client.execute(&req, Duration::from_secs(10)).await;
            let e = round_trips(n, || {
                let (client, req) = (client.clone(), req.clone());
                async move { client.execute(&req, Duration::from_secs(10)).await.ok }
            })
            .await;
            p50.push(percentile(&e, 0.5));
            base_p50.push(percentile(&b, 0.5));
            tap_base.push(bare_ordered(&stream, tap_n).await);
        });
        tap.push(viewer_tap(&runtime, &stream, tap_n));
    }
    runtime.block_on(async {
        demo.stop().await;
        if let Ok(client) = async_nats::connect(NATS_URL).await {
            let js = async_nats::jetstream::new(client);
            let _ = js.delete_stream(&stream).await;
            let _ = js.delete_stream(&names.stream).await;
        }
    });
    vec![
        Figure {
            name: "nats_request_p50",
            unit: "us",
            samples: p50,
            baseline: Some(base_p50),
        },
        Figure {
            name: "nats_tap_ingest_rate",
            unit: "msg/s",
            samples: tap,
            baseline: Some(tap_base),
        },
    ]
}

/// A bare async-nats ordered consumer reading `n` messages of `stream`: messages per second.
async fn bare_ordered(stream: &str, n: u64) -> f64 {
    let client = async_nats::connect(NATS_URL).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let start = Instant::now();
    let s = js.get_stream(stream).await.unwrap();
    let consumer = s
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut got = 0;
    while got < n {
        use futures_util::StreamExt;
        match messages.next().await {
            Some(Ok(_)) => got += 1,
            Some(Err(_)) => {}
            None => break,
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// The viewer tapping `stream` from the start with the UI drawing each frame: messages per
/// second until `n` are stored.
fn viewer_tap(runtime: &tokio::runtime::Runtime, stream: &str, n: u64) -> f64 {
    use switchboard::engine::nats::watch::{NatsWatch, NatsWatchMode};
    viewer_ingest(
        runtime,
        switchboard::engine::WatchRequest::Nats(NatsWatch::stream(
            NATS_URL,
            NatsWatchMode::StreamTap,
            stream,
        )),
        n,
    )
}

/// A viewer tab running `watch` with the UI drawing 60 frames a second: messages per second
/// until `n` are stored.
fn viewer_ingest(
    runtime: &tokio::runtime::Runtime,
    watch: switchboard::engine::WatchRequest,
    n: u64,
) -> f64 {
    let mut harness = app_harness(runtime);
    harness.state_mut().settings.view = switchboard::ui::settings::MainView::Messages;
    harness.step();
    let start = Instant::now();
    harness.state_mut().start_watch(watch);
    let deadline = start + Duration::from_secs(120);
    let frame = Duration::from_micros(16_667);
    let mut next_frame = Instant::now();
    loop {
        harness.step();
        next_frame += frame;
        std::thread::sleep(next_frame.saturating_duration_since(Instant::now()));
        let received = harness
            .state()
            .viewer
            .tabs
            .first()
            .map_or(0, |t| t.store.received);
        if received >= n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the viewer ingested only {received} of {n} in 120 s"
        );
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Kafka: a produce through the engine against a bare kafka-protocol loop, and a viewer tap
/// against a bare fetch loop — on an embedded broker of the bench's own.
fn kafka_figures(quick: bool, runs: usize) -> Vec<Figure> {
    use switchboard::engine::kafka::{KafkaRequest, Producer, admin};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let n = if quick { 300 } else { 3000 };
    // The same count in quick runs: with fewer the connection setup and 60 fps frames dominate.
    let tap_n: u64 = 100_000;
    let broker = runtime
        .block_on(demo_services::kafka_broker::EmbeddedKafka::start_free())
        .expect("embedded broker");
    let url = broker.url();
    let addr = broker.addr.to_string();
    runtime.block_on(async {
        admin::create_topic(&url, "p50", 1).await.unwrap();
        admin::create_topic(&url, "tap", 1).await.unwrap();
        fill(&addr, "tap", tap_n).await;
    });
    let (mut p50, mut base_p50, mut tap, mut tap_base) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        runtime.block_on(async {
            let body = br#"{"event":"OrderCreated","user_id":"1","amount":9.5}"#;
            let (mut conn, _) = switchboard::engine::kafka::wire::Conn::open(&addr, "bare")
                .await
                .unwrap();
            let _ = bare_produce(&mut conn, "p50", body).await;
            let mut b = Vec::with_capacity(n);
            for _ in 0..n {
                let start = Instant::now();
                assert!(bare_produce(&mut conn, "p50", body).await);
                b.push(start.elapsed().as_secs_f64() * 1_000_000.0);
            }
            let req = KafkaRequest::produce(&url, "p50", "1", std::str::from_utf8(body).unwrap());
            let (headers, value) = switchboard::engine::kafka::prepare(&req).unwrap();
            let mut producer = Producer::open(&url, Duration::from_secs(10)).await.unwrap();
            let rec = || switchboard::engine::recorder::Recorder::new(Duration::from_secs(10));
            let _ = producer.produce(rec(), &req, &headers, &value).await;
            let mut e = Vec::with_capacity(n);
            for _ in 0..n {
                let start = Instant::now();
                let ex = producer.produce(rec(), &req, &headers, &value).await;
                assert!(ex.ok, "{:?}", ex.error);
                e.push(start.elapsed().as_secs_f64() * 1_000_000.0);
            }
            p50.push(percentile(&e, 0.5));
            base_p50.push(percentile(&b, 0.5));
            tap_base.push(bare_fetch(&addr, "tap", tap_n).await);
        });
        tap.push(kafka_viewer_tap(&runtime, &url, "tap", tap_n));
    }
    drop(broker);
    vec![
        Figure {
            name: "kafka_produce_ack_p50",
            unit: "us",
            samples: p50,
            baseline: Some(base_p50),
        },
        Figure {
            name: "kafka_tap_ingest_rate",
            unit: "msg/s",
            samples: tap,
            baseline: Some(tap_base),
        },
    ]
}

/// One record batch of `body` (v2, no compression).
fn kafka_batch(body: &[u8]) -> bytes::Bytes {
    use switchboard::engine::kafka::protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 0,
        key: Some(bytes::Bytes::from_static(b"1")),
        value: Some(bytes::Bytes::copy_from_slice(body)),
        headers: Default::default(),
    };
    let mut buf = bytes::BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        [&record],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

fn produce_request(
    topic: &str,
    body: &[u8],
) -> switchboard::engine::kafka::protocol::messages::ProduceRequest {
    use switchboard::engine::kafka::protocol::messages::produce_request::{
        PartitionProduceData, TopicProduceData,
    };
    use switchboard::engine::kafka::protocol::messages::{ProduceRequest, TopicName};
    use switchboard::engine::kafka::protocol::protocol::StrBytes;
    let mut p = PartitionProduceData::default();
    p.index = 0;
    p.records = Some(kafka_batch(body));
    let mut t = TopicProduceData::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partition_data = vec![p];
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 10_000;
    req.topic_data = vec![t];
    req
}

/// A bare produce (acks=all) and its response on one connection.
async fn bare_produce(
    conn: &mut switchboard::engine::kafka::wire::Conn,
    topic: &str,
    body: &[u8],
) -> bool {
    let response = conn.call(&produce_request(topic, body)).await.unwrap();
    response
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter())
        .all(|p| p.error_code == 0)
}

/// Writes `n` small records to `topic` (partition 0), 1000 requests in flight.
async fn fill(addr: &str, topic: &str, n: u64) {
    use switchboard::engine::kafka::protocol::messages::ProduceRequest;
    let (mut conn, _) = switchboard::engine::kafka::wire::Conn::open(addr, "fill")
        .await
        .unwrap();
    let body = br#"{"event":"OrderCreated","user_id":"1","amount":9.5}"#;
    let mut left = n;
    while left > 0 {
        let chunk = left.min(1000);
        let mut sent = Vec::new();
        for _ in 0..chunk {
            sent.push(conn.send(&produce_request(topic, body)).await.unwrap());
        }
        for (id, version) in sent {
            conn.recv::<ProduceRequest>(id, version).await.unwrap();
        }
        left -= chunk;
    }
}

/// A bare fetch loop from offset 0 decoding `n` records of `topic`: records per second.
async fn bare_fetch(addr: &str, topic: &str, n: u64) -> f64 {
    use switchboard::engine::kafka::protocol::messages::fetch_request::{
        FetchPartition, FetchTopic,
    };
    use switchboard::engine::kafka::protocol::messages::{BrokerId, FetchRequest, TopicName};
    use switchboard::engine::kafka::protocol::protocol::StrBytes;
    use switchboard::engine::kafka::protocol::records::RecordBatchDecoder;
    let start = Instant::now();
    let (mut conn, _) = switchboard::engine::kafka::wire::Conn::open(addr, "bare")
        .await
        .unwrap();
    let mut offset = 0i64;
    let mut got = 0u64;
    while got < n {
        let mut fp = FetchPartition::default();
        fp.partition = 0;
        fp.fetch_offset = offset;
        fp.current_leader_epoch = -1;
        fp.last_fetched_epoch = -1;
        fp.log_start_offset = -1;
        fp.partition_max_bytes = 4 * 1024 * 1024;
        let mut t = FetchTopic::default();
        t.topic = TopicName(StrBytes::from_string(topic.to_string()));
        t.partitions = vec![fp];
        let mut req = FetchRequest::default();
        req.replica_id = BrokerId(-1);
        req.max_wait_ms = 100;
        req.min_bytes = 1;
        req.max_bytes = 16 * 1024 * 1024;
        req.session_epoch = -1;
        req.topics = vec![t];
        let response = conn.call(&req).await.unwrap();
        for part in response.responses.iter().flat_map(|t| t.partitions.iter()) {
            if let Some(mut records) = part.records.clone() {
                for set in RecordBatchDecoder::decode_all(&mut records).unwrap() {
                    let from = offset;
                    for r in set.records.iter().filter(|r| r.offset >= from) {
                        got += 1;
                        offset = r.offset + 1;
                    }
                }
            }
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// The viewer tapping `topic` from the earliest offset with the UI drawing each frame:
/// messages per second until `n` are stored.
fn kafka_viewer_tap(runtime: &tokio::runtime::Runtime, url: &str, topic: &str, n: u64) -> f64 {
    let mut watch = switchboard::engine::kafka::watch::KafkaWatch::tap(url, topic);
    watch.from = "earliest".into();
    viewer_ingest(runtime, switchboard::engine::WatchRequest::Kafka(watch), n)
}
