//! Load mode against the demo services and the broker: counts, errors by kind, histogram, CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{amqp_url, start_demo};
use switchboard::engine::RequestSpec;
use switchboard::engine::amqp::PublishRequest;
use switchboard::engine::grpc::{self, GrpcRequest};
use switchboard::engine::http::HttpRequest;
use switchboard::engine::load::{LoadLimit, LoadSpec, run_load};
use tokio_util::sync::CancellationToken;

async fn load(
    request: RequestSpec,
    limit: LoadLimit,
    concurrency: usize,
) -> switchboard::engine::load::LoadReport {
    let pool = grpc::builtin_pool().unwrap();
    let spec = LoadSpec {
        request,
        limit,
        concurrency,
        traceparent: true,
    };
    run_load(&spec, &pool, None, CancellationToken::new())
        .await
        .unwrap()
}

#[tokio::test]
async fn http_and_grpc_loads_count_every_request_and_sort_errors_by_kind() {
    let demo = start_demo().await;
    let http = RequestSpec::Http(HttpRequest::get(format!(
        "http://{}/user/1",
        demo.user.http_addr
    )));
    let report = load(http.clone(), LoadLimit::Requests(300), 6).await;
    assert_eq!((report.requests, report.ok), (300, 300));
    assert!(report.errors.is_empty());
    assert_eq!(report.latency_us.len(), 300);
    assert!(report.percentile_us(50.0) <= report.percentile_us(99.0));
    assert_eq!(report.buckets().iter().map(|(_, n)| n).sum::<u64>(), 300);

    demo.user.knobs.set_failure_rate(1.0);
    let failing = load(http, LoadLimit::Requests(50), 5).await;
    assert_eq!(failing.ok, 0);
    assert_eq!(failing.errors.get("503 Service Unavailable"), Some(&50));
    demo.user.knobs.set_failure_rate(0.0);

    let grpc = RequestSpec::Grpc(GrpcRequest {
        addr: demo.user.grpc_addr.to_string(),
        method: grpc::DEFAULT_METHOD.to_string(),
        metadata: Vec::new(),
        json: r#"{"user_id":"99"}"#.to_string(),
        timeout: Duration::from_secs(10),
        tls: Default::default(),
    });
    let not_found = load(grpc, LoadLimit::Duration(Duration::from_millis(300)), 4).await;
    assert!(not_found.requests > 0);
    assert_eq!(not_found.errors.get("NOT_FOUND"), Some(&not_found.requests));
    demo.stop().await;
}

#[tokio::test]
async fn amqp_load_awaits_each_confirm_and_a_closed_port_is_an_error_kind() {
    let demo = start_demo().await;
    let mut publish = PublishRequest::new(
        amqp_url(),
        &demo.config.topology.exchange,
        "order.load",
        "{}",
    );
    publish.mandatory = false;
    let report = load(
        RequestSpec::Amqp(Box::new(publish)),
        LoadLimit::Requests(200),
        4,
    )
    .await;
    assert_eq!((report.requests, report.ok), (200, 200));

    let refused = load(
        RequestSpec::Http(HttpRequest::get("http://127.0.0.1:1/")),
        LoadLimit::Requests(10),
        2,
    )
    .await;
    assert_eq!(refused.errors.get("connection_refused"), Some(&10));
    // What failed is said once per kind, with the address.
    let example = &refused.examples["connection_refused"];
    assert!(example.contains("127.0.0.1:1"), "{example}");
    assert_eq!(refused.examples.len(), 1);
    demo.stop().await;
}

#[tokio::test]
async fn the_cli_prints_a_json_summary_and_fails_when_requests_fail() {
    let demo = start_demo().await;
    let url = format!("http://{}/user/2", demo.user.http_addr);
    let bin = env!("CARGO_BIN_EXE_switchboard");
    let out = tokio::process::Command::new(bin)
        .args(["load", "http", &url, "-n", "100", "-c", "4", "--json"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["requests"], 100);
    assert_eq!(summary["ok"], 100);
    for key in ["p50", "p90", "p99", "p99_9", "max"] {
        assert!(
            summary["latency_us"][key].as_u64().unwrap() > 0,
            "{key}: {summary}"
        );
    }
    let text = tokio::process::Command::new(bin)
        .args([
            "load",
            "http",
            &format!("http://{}/user/99", demo.user.http_addr),
            "-n",
            "20",
        ])
        .output()
        .await
        .unwrap();
    assert!(!text.status.success(), "404s are failures");
    let stdout = String::from_utf8(text.stdout).unwrap();
    assert!(
        stdout.contains("20  404 Not Found") && stdout.contains("p99"),
        "{stdout}"
    );
    demo.stop().await;
}
