//! Shared helpers for integration tests: demo services on port 0 with a unique topology on the
//! real broker, and waiting for conditions with a deadline.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod echo;

use std::future::Future;
use std::time::Duration;

use demo_services::{DemoConfig, DemoServices, Topology};

/// The broker the tests use (`SWITCHBOARD_TEST_AMQP_URL` overrides).
pub fn amqp_url() -> String {
    std::env::var("SWITCHBOARD_TEST_AMQP_URL")
        .unwrap_or_else(|_| demo_services::broker::DEFAULT_AMQP_URL.to_string())
}

/// A topology with unique names that the broker deletes a minute after the test is gone.
pub fn unique_topology() -> Topology {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut topology = Topology::named(&format!("sbtest-{id}"), &format!("sbtest-{id}-orders"));
    topology.expires_ms = Some(60_000);
    topology
}

/// Starts every demo service on ephemeral ports with a unique topology.
pub async fn start_demo() -> DemoServices {
    let config = DemoConfig {
        amqp_url: amqp_url(),
        topology: unique_topology(),
        ..DemoConfig::ephemeral()
    };
    DemoServices::start(config)
        .await
        .expect("demo services start")
}

/// Waits until the User Service consumes from its queue.
pub async fn wait_consuming(demo: &DemoServices) {
    let mut updates = demo.user.consumer_updates();
    let consuming =
        updates.wait_for(|s| matches!(s, demo_services::ConsumerState::Consuming { .. }));
    tokio::time::timeout(Duration::from_secs(20), consuming)
        .await
        .expect("the user service starts consuming within 20 s")
        .expect("consumer state channel open");
}

/// Polls `check` until it returns `Some`, failing the test after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Phases of an exchange, by name, without the time in Switchboard between them (`client`,
/// there or not depending on how long the client took).
pub fn phase_names(exchange: &switchboard::engine::Exchange) -> Vec<&'static str> {
    exchange
        .timeline
        .iter()
        .filter(|p| p.phase.name() != "client")
        .map(|p| p.phase.label())
        .collect()
}

/// Asserts the timeline invariants: ordered, end ≥ start, every phase ends at or before
/// `total_us` (one clock, one zero), and no time unexplained: from 0 to the total, every gap
/// between phases is under 10 µs (the rest is shown as `client` time).
pub fn assert_timeline_sane(exchange: &switchboard::engine::Exchange) {
    let mut previous_start = 0;
    let mut covered = 0;
    for phase in &exchange.timeline {
        assert!(
            phase.start_us < covered + 10,
            "{} µs unexplained before {phase:?}: {:?}",
            phase.start_us - covered,
            exchange.timeline
        );
        covered = covered.max(phase.end_us);
        assert!(phase.end_us >= phase.start_us, "{phase:?}");
        // Every phase on the wire says whose instants it shows.
        assert_eq!(
            phase.source.is_some(),
            phase.phase.class() != switchboard::engine::timeline::PhaseClass::Client,
            "{phase:?}"
        );
        assert!(
            phase.end_us <= exchange.total_us,
            "{phase:?} ends after total {}",
            exchange.total_us
        );
        assert!(
            phase.start_us >= previous_start,
            "phases out of order: {:?}",
            exchange.timeline
        );
        previous_start = phase.start_us;
    }
    assert_eq!(covered, exchange.total_us, "{:?}", exchange.timeline);
}

/// The NATS server the tests use (`SWITCHBOARD_TEST_NATS_URL` overrides).
pub fn nats_url() -> String {
    std::env::var("SWITCHBOARD_TEST_NATS_URL")
        .unwrap_or_else(|_| switchboard::engine::nats::DEFAULT_NATS_URL.to_string())
}

/// A short unique tag for subjects and stream names.
pub fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Starts the demo with its NATS side on unique subjects and a unique stream (deleted by
/// [`delete_stream`]).
pub async fn start_demo_with_nats() -> (DemoServices, demo_services::NatsNames) {
    let names = demo_services::NatsNames::unique(&nats_url(), &tag());
    let config = DemoConfig {
        amqp_url: amqp_url(),
        topology: unique_topology(),
        nats: Some(names.clone()),
        ..DemoConfig::ephemeral()
    };
    let demo = DemoServices::start(config)
        .await
        .expect("demo services start");
    assert_eq!(
        demo.nats,
        Some(demo_services::demo::BrokerProbe::Reachable),
        "the NATS server at {} answers (start it: nats-server -js)",
        names.url
    );
    (demo, names)
}

/// Deletes a test's stream.
pub async fn delete_stream(name: &str) {
    let client = async_nats::connect(nats_url())
        .await
        .expect("nats connects");
    let js = async_nats::jetstream::new(client);
    let _ = js.delete_stream(name).await;
}

/// Places an order (user `user_id`) through a demo whose services export their spans to a
/// receiver of this call's own (`config` gets its endpoint), and waits for the producer and
/// consumer spans of `system` (`messaging.system`: kafka, nats…) in the order's trace. Gives
/// the demo (to stop) and the two spans.
#[allow(dead_code)]
pub async fn order_hop_spans(
    config: impl FnOnce(String) -> DemoConfig,
    user_id: &str,
    system: &str,
) -> (
    DemoServices,
    switchboard::engine::trace::Span,
    switchboard::engine::trace::Span,
) {
    use switchboard::engine::trace::Span;
    let receiver =
        switchboard::engine::trace::receiver::Receiver::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
    let demo = DemoServices::start(config(receiver.endpoint()))
        .await
        .expect("demo");
    let mut order =
        switchboard::engine::RequestSpec::Http(switchboard::engine::http::HttpRequest {
            method: "POST".into(),
            body: format!(r#"{{"user_id": "{user_id}", "amount": 1.5}}"#).into_bytes(),
            ..switchboard::engine::http::HttpRequest::get(format!(
                "http://{}/orders",
                demo.order.http_addr
            ))
        });
    let pool = switchboard::engine::grpc::builtin_pool().unwrap();
    let exchange = order.execute_traced(&pool).await.remove(0);
    assert_eq!(
        exchange.status.as_deref(),
        Some("201 Created"),
        "{exchange:?}"
    );
    let trace = exchange.trace.unwrap();
    let of_system = |s: &Span| {
        s.attributes
            .iter()
            .any(|(k, v)| k == "messaging.system" && v == system)
    };
    // Both exporters batch: the consumer's span may come before the producer's.
    let spans = eventually(20, "the producer's and consumer's spans", || {
        let store = receiver.store();
        let trace_id = trace.trace_id.clone();
        async move {
            let spans = store.spans(&trace_id);
            let both = ["producer", "consumer"]
                .iter()
                .all(|kind| spans.iter().any(|s| s.kind == *kind && of_system(s)));
            both.then_some(spans)
        }
    })
    .await;
    let find = |kind: &str| {
        spans
            .iter()
            .find(|s| s.kind == kind && of_system(s))
            .unwrap()
            .clone()
    };
    let (producer, consumer) = (find("producer"), find("consumer"));
    assert_eq!(
        consumer.parent_span_id.as_deref(),
        Some(producer.span_id.as_str())
    );
    assert_eq!(consumer.service, "user-service");
    (demo, producer, consumer)
}
