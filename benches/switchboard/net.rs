//! HTTP, gRPC and AMQP round trips and load, each against the bare client (reqwest, tonic, lapin) in the same run.

use super::*;

/// Demo services on free ports with their own topology.
pub(super) async fn bench_demo() -> demo_services::DemoServices {
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
pub(super) async fn bare_get(client: &reqwest::Client, url: &str) -> bool {
    match client.get(url).send().await {
        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
        Err(_) => false,
    }
}

/// Round trips in µs of `n` sequential calls of `f`.
pub(super) async fn round_trips<F, Fut>(n: usize, mut f: F) -> Vec<f64>
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

/// Round trips in µs of `n` sequential calls each of `bare` and `engine`, taken in blocks of 25
/// that alternate (and swap which goes first each block): a machine that gets busier or quieter
/// during the run hits both sides alike, so their ratio holds on a noisy machine.
pub(super) async fn paired_round_trips<B, BF, E, EF>(
    n: usize,
    mut bare: B,
    mut engine: E,
) -> (Vec<f64>, Vec<f64>)
where
    B: FnMut() -> BF,
    BF: std::future::Future<Output = bool>,
    E: FnMut() -> EF,
    EF: std::future::Future<Output = bool>,
{
    const BLOCK: usize = 25;
    let (mut b, mut e) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for block in 0..n.div_ceil(BLOCK) {
        let size = BLOCK.min(n - block * BLOCK);
        if block % 2 == 0 {
            b.extend(round_trips(size, &mut bare).await);
            e.extend(round_trips(size, &mut engine).await);
        } else {
            e.extend(round_trips(size, &mut engine).await);
            b.extend(round_trips(size, &mut bare).await);
        }
    }
    (b, e)
}

/// Requests per second of `concurrency` workers doing `n` requests in all with `f`.
pub(super) async fn load_loop<F, Fut>(n: usize, concurrency: usize, f: F) -> f64
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
pub(super) fn net_figures(quick: bool, runs: usize) -> Vec<Figure> {
    use switchboard::engine::RequestSpec;
    use switchboard::engine::grpc::GrpcClient;
    use switchboard::engine::http::{HttpClient, HttpRequest};
    use switchboard::engine::load::{LoadLimit, LoadSpec, run_load};
    let runtime = bench_runtime();
    let n = if quick { 300 } else { 3000 };
    let load_n = if quick { 2000 } else { 20_000 };
    let confirms_n = if quick { 5_000 } else { 50_000 };
    let mut figures = runtime.block_on(async {
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
        for run in 0..runs {
            // HTTP round trip on one kept-alive connection.
            let bare = reqwest::Client::new();
            let _ = bare.get(&url).send().await.unwrap().bytes().await;
            let client = HttpClient::default();
            let req = HttpRequest::get(&url);
            let _ = client.send(&req).await;
            let (b, e) = paired_round_trips(
                n,
                || {
                    let (bare, url) = (bare.clone(), url.clone());
                    async move { bare_get(&bare, &url).await }
                },
                || {
                    let (client, req) = (&client, &req);
                    async move { client.send(req).await.ok }
                },
            )
            .await;
            http_p50.push(percentile(&e, 0.5));
            http_p99.push(percentile(&e, 0.99));
            http_base_p50.push(percentile(&b, 0.5));
            http_base_p99.push(percentile(&b, 0.99));

            // gRPC unary round trip on one channel.
            let tonic_client = bare_grpc_client(&grpc_url).await;
            let gclient = GrpcClient::default();
            let greq = grpc_lookup(&demo);
            let _ = gclient.call(&greq, &pool).await;
            let (b, e) = paired_round_trips(
                n,
                || {
                    let mut c = tonic_client.clone();
                    async move {
                        c.get_user_info(demo_services::proto::UserRequest {
                            user_id: "1".into(),
                        })
                        .await
                        .is_ok()
                    }
                },
                // Borrowed, not cloned per call: a user's repeated call does not copy its
                // request (the harness's own work is not the engine's).
                || {
                    let (c, r, p) = (&gclient, &greq, &pool);
                    async move { c.call(r, p).await.ok }
                },
            )
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
                traceparent: true,
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
                traceparent: true,
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

            // AMQP publish with confirms, 1000 in flight: engine vs bare lapin, which goes
            // first alternating run by run.
            if run % 2 == 0 {
                confirms_base.push(bare_publish_confirms(confirms_n).await);
                confirms.push(engine_publish_confirms(confirms_n).await);
            } else {
                confirms.push(engine_publish_confirms(confirms_n).await);
                confirms_base.push(bare_publish_confirms(confirms_n).await);
            }
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
    });
    // The same series through the app (its backend, the UI drawing) and through the CLI, each
    // against bare lapin with pipelined confirms in the same run. The app publishes mandatory
    // (its editor has no switch for it), so all three go to a queue of their own.
    let queue = format!("sbbench-many-{}", std::process::id());
    let admin = runtime.block_on(async {
        let conn = lapin::Connection::connect(AMQP_URL, lapin::ConnectionProperties::default())
            .await
            .unwrap();
        let channel = conn.create_channel().await.unwrap();
        channel
            .queue_declare(
                queue.as_str().into(),
                lapin::options::QueueDeclareOptions::default(),
                lapin::types::FieldTable::default(),
            )
            .await
            .unwrap();
        (conn, channel)
    });
    let purge = || {
        runtime
            .block_on(
                admin
                    .1
                    .queue_purge(queue.as_str().into(), Default::default()),
            )
            .unwrap();
    };
    let (mut app, mut cli, mut base) = (vec![], vec![], vec![]);
    // The order alternates run by run (bare first, then bare last): a broker that slows down
    // or warms up over a run must not favour one side.
    for i in 0..runs {
        if i % 2 == 0 {
            base.push(runtime.block_on(bare_publish_to("", &queue, confirms_n)));
            purge();
        }
        app.push(app_publish_many(&runtime, &queue, confirms_n));
        purge();
        cli.push(cli_publish_count(&queue, confirms_n));
        purge();
        if i % 2 == 1 {
            base.push(runtime.block_on(bare_publish_to("", &queue, confirms_n)));
            purge();
        }
    }
    runtime.block_on(async {
        let _ = admin
            .1
            .queue_delete(queue.as_str().into(), Default::default())
            .await;
        let _ = admin.0.close(200, "bye".into()).await;
    });
    figures.push(Figure {
        name: "amqp_publish_many_rate_app",
        unit: "msg/s",
        samples: app,
        baseline: Some(base.clone()),
    });
    figures.push(Figure {
        name: "amqp_publish_count_rate_cli",
        unit: "msg/s",
        samples: cli,
        baseline: Some(base),
    });
    figures
}

/// The app's *Publish many* of the AMQP editor (through its backend, the UI drawing 60 frames a
/// second): messages confirmed per second, from the first publish to the last confirm, as the
/// app shows it.
pub(super) fn app_publish_many(runtime: &tokio::runtime::Runtime, queue: &str, n: u64) -> f64 {
    use switchboard::ui::settings::TransportTab;
    let mut harness = app_harness(runtime);
    {
        let app = harness.state_mut();
        app.settings.editors.transport = TransportTab::Amqp;
        let amqp = &mut app.settings.editors.amqp;
        amqp.url = AMQP_URL.to_string();
        amqp.exchange = String::new();
        amqp.routing_key = queue.to_string();
        amqp.body = switchboard::engine::collection::saved::SavedBody::from_text("{}");
        let many = &mut app.settings.editors.amqp_many;
        many.count = n;
        many.rate = 0.0;
        many.numbered = false;
    }
    harness.step();
    harness.state_mut().publish_many(TransportTab::Amqp);
    let deadline = Instant::now() + Duration::from_secs(120);
    let frame = Duration::from_micros(16_667);
    let mut next_frame = Instant::now();
    loop {
        harness.step();
        if let Some((_, result)) = harness.state().many() {
            let progress = result.as_ref().expect("publish many");
            if progress.done {
                assert_eq!(progress.confirmed, n, "{progress:?}");
                return progress.rate();
            }
        }
        assert!(
            Instant::now() < deadline,
            "publish many did not end in 120 s"
        );
        next_frame += frame;
        std::thread::sleep(next_frame.saturating_duration_since(Instant::now()));
    }
}

/// `switchboard publish --count n` (the release binary): the rate it reports, from the first
/// publish to the last confirm.
pub(super) fn cli_publish_count(queue: &str, n: u64) -> f64 {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "publish",
            AMQP_URL,
            "--exchange",
            "",
            "--routing-key",
            queue,
            "--body",
            "{}",
            "--count",
            &n.to_string(),
        ])
        .output()
        .expect("switchboard publish");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(&format!(": {n} confirmed, 0 failed")),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "… in 0.212 s (47170 msg/s)"
    text.rsplit_once('(')
        .and_then(|(_, rate)| rate.split_whitespace().next()?.parse().ok())
        .expect("a rate in the summary")
}

/// Bare lapin: publish `n` to a queue-less routing key with up to 1000 confirms in flight.
pub(super) async fn bare_publish_confirms(n: u64) -> f64 {
    bare_publish_to("amq.topic", "sbbench.none", n).await
}

/// Bare lapin: publish `n` to `exchange` with `routing_key`, up to 1000 confirms in flight.
pub(super) async fn bare_publish_to(exchange: &str, routing_key: &str, n: u64) -> f64 {
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
                exchange.into(),
                routing_key.into(),
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

pub(super) async fn engine_publish_confirms(n: u64) -> f64 {
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

/// The engine's request for user 1 from the bench demo's User Service.
fn grpc_lookup(demo: &demo_services::DemoServices) -> switchboard::engine::grpc::GrpcRequest {
    switchboard::engine::grpc::GrpcRequest {
        addr: demo.user.grpc_addr.to_string(),
        method: switchboard::engine::grpc::DEFAULT_METHOD.to_string(),
        metadata: vec![],
        json: r#"{"user_id":"1"}"#.to_string(),
        timeout: Duration::from_secs(10),
        tls: Default::default(),
    }
}

/// The baseline: a generated tonic client on one channel to `url`.
async fn bare_grpc_client(
    url: &str,
) -> demo_services::proto::user_service_client::UserServiceClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap();
    demo_services::proto::user_service_client::UserServiceClient::new(channel)
}

/// `--grpc-calls engine|bare N`: N sequential lookups on one gRPC channel and nothing else, for
/// a profiler. Under `valgrind --tool=callgrind` the difference between two values of N, per
/// call, is what one call costs (client and in-process server); engine minus bare is the
/// engine's own cost per call.
pub(super) fn grpc_calls(engine: bool, n: usize) {
    bench_runtime().block_on(async {
        let demo = bench_demo().await;
        let start = std::time::Instant::now();
        if engine {
            let pool = switchboard::engine::grpc::builtin_pool().unwrap();
            let client = switchboard::engine::grpc::GrpcClient::default();
            let req = grpc_lookup(&demo);
            for _ in 0..n {
                assert!(client.call(&req, &pool).await.ok);
            }
        } else {
            let client = bare_grpc_client(&format!("http://{}", demo.user.grpc_addr)).await;
            for _ in 0..n {
                let mut c = client.clone();
                let request = demo_services::proto::UserRequest {
                    user_id: "1".into(),
                };
                assert!(c.get_user_info(request).await.is_ok());
            }
        }
        eprintln!(
            "{} gRPC calls ({}) in {:?}",
            n,
            if engine { "engine" } else { "bare tonic" },
            start.elapsed()
        );
        demo.stop().await;
    });
}
