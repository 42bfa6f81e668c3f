//! All demo services together: what `switchboard demo` runs and what the app starts in-process.

use std::net::SocketAddr;
use std::time::Duration;

use crate::StartError;
use crate::broker::{DEFAULT_AMQP_URL, Topology};
use crate::order_service::{self, OrderServiceConfig, OrderServiceHandle, UserCheck};
use crate::user_service::{self, UserServiceConfig, UserServiceHandle};

/// Addresses and broker of the whole demo.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    pub user_http_addr: SocketAddr,
    pub user_grpc_addr: SocketAddr,
    pub order_http_addr: SocketAddr,
    pub amqp_url: String,
    pub topology: Topology,
    /// The NATS side (`user.get`, stream `ORDERS`); `None` turns it off.
    pub nats: Option<crate::nats_flow::NatsNames>,
    /// The Kafka side (topic `orders`, group `user-service`); `None` turns it off.
    pub kafka: Option<crate::kafka_flow::KafkaNames>,
    pub user_check: UserCheck,
    /// Where the services send their spans (OTLP/HTTP, e.g. `http://127.0.0.1:4318`, the app's
    /// receiver); `None`: not traced.
    pub otlp_endpoint: Option<String>,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            user_http_addr: SocketAddr::from(([127, 0, 0, 1], 8081)),
            user_grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            order_http_addr: SocketAddr::from(([127, 0, 0, 1], 8082)),
            amqp_url: DEFAULT_AMQP_URL.to_string(),
            topology: Topology::default(),
            nats: Some(crate::nats_flow::NatsNames::default()),
            kafka: Some(crate::kafka_flow::KafkaNames::default()),
            user_check: UserCheck::Grpc,
            otlp_endpoint: None,
        }
    }
}

impl DemoConfig {
    /// Every service on an ephemeral loopback port (for tests).
    pub fn ephemeral() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            user_http_addr: any,
            user_grpc_addr: any,
            order_http_addr: any,
            // Tests that want NATS name their own subjects and stream.
            nats: None,
            kafka: None,
            ..Self::default()
        }
    }
}

/// Whether the broker answered when the demo started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerProbe {
    Reachable,
    Unreachable(String),
}

/// The running demo.
#[derive(Debug)]
pub struct DemoServices {
    pub user: UserServiceHandle,
    pub order: OrderServiceHandle,
    pub broker: BrokerProbe,
    /// Whether the NATS server answered (`None`: NATS is off).
    pub nats: Option<BrokerProbe>,
    /// Whether the Kafka broker answered (or was started); `None`: Kafka is off.
    pub kafka: Option<crate::kafka_flow::KafkaSetup>,
    pub config: DemoConfig,
}

/// Checks that the broker accepts a connection (within 3 s) and declares the demo's topology,
/// so that exchanges and queues exist as soon as the demo is up.
pub async fn probe_broker(url: &str, topology: &Topology) -> BrokerProbe {
    let props = lapin::ConnectionProperties::default().with_connection_name("demo setup".into());
    let setup = async {
        let conn = switchboard_engine::amqp::connect_kept(url, props).await?;
        let declared = async {
            let channel = conn.create_channel().await?;
            topology.declare(&channel).await
        }
        .await;
        let _ = conn.close(200, "setup done".into()).await;
        declared
    };
    match tokio::time::timeout(Duration::from_secs(5), setup).await {
        Ok(Ok(())) => BrokerProbe::Reachable,
        Ok(Err(err)) => BrokerProbe::Unreachable(err.to_string()),
        Err(_) => BrokerProbe::Unreachable("timed out".to_string()),
    }
}

impl DemoServices {
    /// Starts the User Service and the Order Service. If the broker is unreachable the HTTP and
    /// gRPC parts still run; the consumer keeps retrying and orders are refused until it is up.
    pub async fn start(mut config: DemoConfig) -> Result<Self, StartError> {
        let broker = probe_broker(&config.amqp_url, &config.topology).await;
        let nats = probe_nats(&config).await;
        let kafka = setup_kafka(&config).await;
        let user = user_service::start(user_config(&config, (0, 0.0))).await?;
        // The Order Service calls the User Service where it actually listens.
        config.user_http_addr = user.http_addr;
        config.user_grpc_addr = user.grpc_addr;
        let order = order_service::start(order_config(&config, (0, 0.0))).await;
        let order = match order {
            Ok(order) => order,
            Err(err) => {
                user.stop().await;
                return Err(err);
            }
        };
        config.order_http_addr = order.http_addr;
        Ok(Self {
            user,
            order,
            broker,
            nats,
            kafka,
            config,
        })
    }

    /// Human-readable lines saying where each service listens.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![
            format!(
                "User Service   HTTP  http://{}/user/{{id}}   (users 1..{})",
                self.user.http_addr,
                crate::users::SEEDED_USERS
            ),
            format!(
                "User Service   gRPC  {}  user.UserService/GetUserInfo (+ reflection, health)",
                self.user.grpc_addr
            ),
            format!(
                "Order Service  HTTP  POST http://{}/orders   (checks users over {})",
                self.order.http_addr,
                self.order.user_check()
            ),
        ];
        match &self.broker {
            BrokerProbe::Reachable => lines.push(format!(
                "Broker         AMQP  {}  exchange '{}' (topic) -> queue '{}' ({}), dead letters -> '{}'",
                redact_url(&self.config.amqp_url),
                self.config.topology.exchange,
                self.config.topology.queue,
                self.config.topology.binding,
                self.config.topology.dead_letter_queue,
            )),
            BrokerProbe::Unreachable(why) => lines.push(format!(
                "Broker         AMQP  {} is unreachable ({why}): the order flow is off. Start RabbitMQ \
                 (`rabbitmq-server -detached`, or `apt-get install rabbitmq-server`); the services \
                 retry and pick it up.",
                redact_url(&self.config.amqp_url)
            )),
        }
        if let (Some(probe), Some(names)) = (&self.nats, &self.config.nats) {
            lines.push(nats_line(probe, names));
        }
        if let (Some(setup), Some(names)) = (&self.kafka, &self.config.kafka) {
            lines.push(kafka_line(setup, names));
        }
        lines.push(match &self.config.otlp_endpoint {
            Some(endpoint) => format!(
                "Traces         OTLP/HTTP spans of order-service and user-service go to {endpoint}"
            ),
            None => "Traces         off (--otlp-endpoint URL or OTEL_EXPORTER_OTLP_ENDPOINT sends the services' spans there)".to_string(),
        });
        lines
    }

    pub async fn stop(self) {
        self.order.stop().await;
        self.user.stop().await;
    }
}

/// Probes the NATS server of `config` (and creates the order stream), if NATS is on.
pub async fn probe_nats(config: &DemoConfig) -> Option<BrokerProbe> {
    let names = config.nats.as_ref()?;
    Some(match crate::nats_flow::probe(names).await {
        Ok(()) => BrokerProbe::Reachable,
        Err(why) => BrokerProbe::Unreachable(why),
    })
}

/// Sets the Kafka side of `config` up (starting the embedded broker when needed), if Kafka is on.
pub async fn setup_kafka(config: &DemoConfig) -> Option<crate::kafka_flow::KafkaSetup> {
    let names = config.kafka.as_ref()?;
    Some(crate::kafka_flow::setup(names).await)
}

/// The services line of the Kafka side.
pub fn kafka_line(
    setup: &crate::kafka_flow::KafkaSetup,
    names: &crate::kafka_flow::KafkaNames,
) -> String {
    match &setup.probe {
        BrokerProbe::Reachable => format!(
            "Kafka          {}{}  topic '{}' ({} partitions, key = user id) -> group '{}'",
            names.url,
            if setup.embedded() {
                " (embedded broker, starts on first use)"
            } else {
                ""
            },
            names.topic,
            names.partitions,
            names.group,
        ),
        BrokerProbe::Unreachable(why) => format!(
            "Kafka          {} is unreachable ({why}): the orders topic is off; HTTP, gRPC, \
             RabbitMQ and NATS keep working.",
            names.url
        ),
    }
}

/// The services line of the NATS side.
pub fn nats_line(probe: &BrokerProbe, names: &crate::nats_flow::NatsNames) -> String {
    match probe {
        BrokerProbe::Reachable => format!(
            "NATS           {}  request/reply '{}', JetStream stream '{}' ({}) <- '{}'",
            redact_url(&names.url),
            names.user_subject,
            names.stream,
            names.stream_subjects(),
            names.orders_subject,
        ),
        BrokerProbe::Unreachable(why) => format!(
            "NATS           {} is unreachable ({why}): user.get and the ORDERS stream are off; \
             HTTP, gRPC and RabbitMQ keep working. Start it (`nats-server -js`); the services \
             reconnect.",
            redact_url(&names.url)
        ),
    }
}

/// Hides the password of an AMQP URL: `amqp://guest:***@host`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_string(),
    }
}

/// Runs the demo in the foreground until Ctrl-C, printing where each service listens (the
/// `demo-services` binary; `switchboard demo` has its own, with SIGTERM too). A stdout that
/// cannot be written stops the demo with that error, never a panic.
pub async fn run_foreground(config: DemoConfig) -> anyhow::Result<()> {
    use std::io::Write as _;
    let demo = DemoServices::start(config).await?;
    let banner = (|| {
        let mut out = std::io::stdout().lock();
        for line in demo.describe() {
            writeln!(out, "{line}")?;
        }
        writeln!(out, "Press Ctrl-C to stop.")
    })();
    if let Err(err) = banner {
        demo.stop().await;
        return Err(err.into());
    }
    tokio::signal::ctrl_c().await?;
    let _ = writeln!(std::io::stdout(), "Stopping...");
    demo.stop().await;
    Ok(())
}

/// The User Service's configuration within the demo, with `(latency_ms, failure_rate)`.
pub(crate) fn user_config(config: &DemoConfig, knobs: (u64, f64)) -> UserServiceConfig {
    UserServiceConfig {
        http_addr: config.user_http_addr,
        grpc_addr: config.user_grpc_addr,
        amqp_url: Some(config.amqp_url.clone()),
        topology: config.topology.clone(),
        nats: config.nats.clone(),
        kafka: config.kafka.clone(),
        tallies: Default::default(),
        latency_ms: knobs.0,
        failure_rate: knobs.1,
        otlp_endpoint: config.otlp_endpoint.clone(),
    }
}

/// The Order Service's configuration within the demo, calling the User Service at the
/// addresses in `config`.
pub(crate) fn order_config(config: &DemoConfig, knobs: (u64, f64)) -> OrderServiceConfig {
    OrderServiceConfig {
        http_addr: config.order_http_addr,
        user_http_url: format!("http://{}", config.user_http_addr),
        user_grpc_url: format!("http://{}", config.user_grpc_addr),
        user_check: config.user_check,
        amqp_url: Some(config.amqp_url.clone()),
        topology: config.topology.clone(),
        nats: config.nats.clone(),
        kafka: config.kafka.clone(),
        latency_ms: knobs.0,
        failure_rate: knobs.1,
        otlp_endpoint: config.otlp_endpoint.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact_url("amqp://127.0.0.1"), "amqp://127.0.0.1");
    }
}
