//! The demo without a broker: HTTP and gRPC still run, the order flow says it is off.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use demo_services::demo::BrokerProbe;
use demo_services::{DemoConfig, DemoServices};

#[tokio::test]
async fn without_a_broker_lookups_work_and_orders_are_refused_with_a_hint() {
    let config = DemoConfig {
        // Nothing listens on port 1.
        amqp_url: "amqp://guest:guest@127.0.0.1:1/%2f".to_string(),
        ..DemoConfig::ephemeral()
    };
    let demo = DemoServices::start(config).await.unwrap();
    assert!(matches!(demo.broker, BrokerProbe::Unreachable(_)));
    let described = demo.describe().join("\n");
    assert!(described.contains("order flow is off"), "{described}");
    assert!(
        described.contains("rabbitmq-server -detached"),
        "{described}"
    );
    assert!(
        !described.contains("guest:guest"),
        "password shown: {described}"
    );

    let user: serde_json::Value = reqwest::get(format!("http://{}/user/1", demo.user.http_addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["name"], "John Doe");

    let order = reqwest::Client::new()
        .post(format!("http://{}/orders", demo.order.http_addr))
        .body(r#"{"user_id": "1", "amount": 3}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(order.status(), 503);
    let body: serde_json::Value = order.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("order flow is off"),
        "{body}"
    );
    demo.stop().await;
}

#[tokio::test]
async fn non_loopback_addresses_are_refused() {
    let config = demo_services::UserServiceConfig {
        http_addr: "0.0.0.0:0".parse().unwrap(),
        amqp_url: None,
        ..demo_services::UserServiceConfig::ephemeral()
    };
    let err = demo_services::user_service::start(config)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("loopback"), "{err}");
}
