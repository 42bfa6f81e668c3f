//! NATS: request/reply against bare async-nats, and a stream tap's ingest rate against a bare ordered consumer.

use super::*;

pub(super) const NATS_URL: &str = switchboard::engine::nats::DEFAULT_NATS_URL;

/// NATS: request/reply through the engine against bare async-nats, and a viewer stream tap
/// against a bare ordered consumer.
pub(super) fn nats_figures(quick: bool, runs: usize) -> Vec<Figure> {
    use switchboard::engine::nats::{NatsClient, NatsRequest};
    let runtime = bench_runtime();
    let n = if quick { 300 } else { 3000 };
    // The same count in quick runs: with fewer the connection setup and 60 fps frames dominate
    // (at 100,000 the viewer's run lasted ≈ 0.3 s, of which ≈ 10–20 ms are its connection and
    // the frame it is seen in).
    let tap_n: u64 = 300_000;
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
    let (mut p50, mut base_p50, mut tap, mut tap_base, mut tap_pull) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        runtime.block_on(async {
            if wanted("nats_request_p50") {
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
            }
            if wanted("nats_tap_ingest_rate") {
                tap_base.push(bare_ordered(&stream, tap_n).await);
                tap_pull.push(bare_pull(&stream, tap_n).await);
            }
        });
        if wanted("nats_tap_ingest_rate") {
            tap.push(viewer_tap(&runtime, &stream, tap_n));
        }
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
            samples: tap.clone(),
            baseline: Some(tap_base),
        },
        Figure {
            name: "nats_tap_ingest_rate_vs_pull",
            unit: "msg/s",
            samples: tap,
            baseline: Some(tap_pull),
        },
    ]
}

/// A bare async-nats ordered consumer reading `n` messages of `stream`: messages per second,
/// from connecting (as the viewer's figure, and Kafka's bare fetch loop, count from before
/// their connection) to the last message.
pub(super) async fn bare_ordered(stream: &str, n: u64) -> f64 {
    let start = Instant::now();
    let client = async_nats::connect(NATS_URL).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let s = js.get_stream(stream).await.unwrap();
    let consumer = s
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let messages = consumer.messages().await.unwrap();
    read(messages, n, start).await
}

/// A bare async-nats pull consumer with the stream tap's settings (ephemeral, no acks) and
/// window (2000 messages in flight) reading `n` messages of `stream`: messages per second,
/// counted as `bare_ordered` does. The viewer's tap reads through such a consumer, so this is
/// the baseline that leaves the deeper window out of the ratio.
pub(super) async fn bare_pull(stream: &str, n: u64) -> f64 {
    use async_nats::jetstream::consumer::pull;
    let start = Instant::now();
    let client = async_nats::connect(NATS_URL).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let s = js.get_stream(stream).await.unwrap();
    let config: pull::Config = pull::OrderedConfig::default().into();
    let consumer = s.create_consumer(config).await.unwrap();
    let messages = consumer
        .stream()
        .max_messages_per_batch(2000)
        .messages()
        .await
        .unwrap();
    read(messages, n, start).await
}

/// Reads `n` messages of a consumer's stream: messages per second since `start`.
async fn read<T, E>(
    messages: impl futures_util::Stream<Item = Result<T, E>>,
    n: u64,
    start: Instant,
) -> f64 {
    use futures_util::StreamExt;
    let mut messages = std::pin::pin!(messages);
    let mut got = 0;
    while got < n {
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
pub(super) fn viewer_tap(runtime: &tokio::runtime::Runtime, stream: &str, n: u64) -> f64 {
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
pub(super) fn viewer_ingest(
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
    n as f64 / start.elapsed().as_secs_f64()
}
