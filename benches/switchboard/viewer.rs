//! The app and its viewer: window frames while messages stream in, bytes per message, ingest against a bare consumer.

use super::*;

pub(super) fn app_harness(runtime: &tokio::runtime::Runtime) -> AppHarness {
    use switchboard::ui::backend::BackendOptions;
    use switchboard::ui::{AppOptions, SwitchboardApp};
    let options = AppOptions {
        backend: BackendOptions {
            demo: None,
            amqp_url: AMQP_URL.to_string(),
            nats_url: NATS_URL.to_string(),
            kafka_url: switchboard::engine::kafka::DEFAULT_KAFKA_URL.to_string(),
            data_dir: std::env::temp_dir().join(format!("sb-bench-{}", std::process::id())),
            otlp_addr: None,
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
pub(super) fn viewer_consume(
    runtime: &tokio::runtime::Runtime,
    queue: &str,
    n: u64,
) -> (f64, Vec<f64>) {
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
            .viewer()
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

pub(super) struct FrameFigures {
    frames_ms: Vec<f64>,
    rss_mb: f64,
    bytes_per_message: f64,
}

/// Frame times with 1,000,000 messages stored and live tail on, 100 arriving per frame.
pub(super) fn viewer_frames(runtime: &tokio::runtime::Runtime, frames: usize) -> FrameFigures {
    const STORED: usize = 1_000_000;
    let mut harness = app_harness(runtime);
    harness.step();
    let rss_before = self_rss_mb();
    // Fill in chunks, as a live watch would, so no 1M-message transient inflates the RSS.
    harness.state_mut().set_store_capacity(STORED);
    harness.state_mut().open_imported("bench", Vec::new());
    let id = harness.state().viewer().active.expect("a tab");
    for chunk in 0..STORED / 10_000 {
        let batch: Vec<_> = (chunk * 10_000..(chunk + 1) * 10_000)
            .map(order_message)
            .collect();
        harness.state_mut().ingest(id, batch);
    }
    harness.run_steps(3);
    let rss = self_rss_mb();
    let mut frames_ms = Vec::with_capacity(frames);
    let mut next = STORED;
    for _ in 0..frames {
        let batch: Vec<_> = (next..next + 100).map(order_message).collect();
        next += 100;
        let start = Instant::now();
        harness.state_mut().ingest(id, batch);
        harness.step();
        frames_ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let tab = harness.state().viewer().tabs.iter().find(|t| t.id == id);
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

/// Frame times of the gRPC editor showing a 100,000-message response stream: its live list and
/// the exchange (one phase per message, a 5 MB JSON body) selected.
pub(super) fn stream_frames(runtime: &tokio::runtime::Runtime, frames: usize) -> Vec<f64> {
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
            source: None,
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
        trace: None,
        spans: Vec::new(),
    };
    {
        // The call's messages and then its exchange, as the backend reports them.
        use switchboard::ui::backend::Event;
        let app = harness.state_mut();
        app.settings.editors.transport = switchboard::ui::settings::TransportTab::Grpc;
        for message in received {
            app.apply(Event::StreamMessage { id: 1, message });
        }
        app.apply(Event::Exchanges {
            id: 1,
            exchanges: vec![exchange],
        });
        assert!(app.selected_entry().is_some());
        assert_eq!(
            app.grpc_view().stream_view.as_ref().map(|s| s.1.len()),
            Some(N as usize)
        );
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

pub(super) fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    s[((s.len() - 1) as f64 * p).round() as usize]
}

pub(super) fn viewer_figures(quick: bool, runs: usize) -> Vec<Figure> {
    let runtime = bench_runtime();
    let n: u64 = if quick { 20_000 } else { 100_000 };
    let queue = format!("sbbench-{}", std::process::id());
    let setup = runtime.block_on(declare_queue(&queue));
    let (mut bare, mut viewer, mut ingest_frames) = (Vec::new(), Vec::new(), Vec::new());
    let ingest = wanted("amqp_watch_ingest_rate") || wanted("viewer_frame_p99_ms_ingest");
    for _ in 0..if ingest { runs.min(3) } else { 0 } {
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
    let frames = if wanted("viewer_frame_p") || wanted("viewer_rss") || wanted("viewer_bytes") {
        viewer_frames(&runtime, if quick { 60 } else { 300 })
    } else {
        FrameFigures {
            frames_ms: Vec::new(),
            rss_mb: f64::NAN,
            bytes_per_message: f64::NAN,
        }
    };
    let stream = if wanted("grpc_stream_frame") {
        stream_frames(&runtime, if quick { 30 } else { 120 })
    } else {
        Vec::new()
    };
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
