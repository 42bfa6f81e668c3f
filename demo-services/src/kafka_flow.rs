//! The demo's Kafka side: the Order Service produces each `OrderCreated` to topic `orders`
//! (3 partitions, created if missing; key = the user id, the correlation id in a header) and
//! the User Service consumes it as group `user-service`, with its own counters.
//!
//! When nothing listens on the demo's own loopback Kafka address, the demo holds it for an
//! embedded broker (feature `kafka`) that starts on first use: the first order, or the first
//! client that talks to it (see `kafka_broker`); a cluster the user points at is never started
//! or shadowed. Until then the User Service's consumer waits.
//! Kafka is optional: down, the demo says so and HTTP, gRPC, RabbitMQ and NATS keep working.

use std::time::Duration;

use switchboard_engine::kafka::watch::KafkaWatch;
use switchboard_engine::kafka::{KafkaRequest, Producer, admin};
use switchboard_engine::watched::WatchEvent;
use tokio::sync::{Mutex, watch};

use crate::user_service::{ConsumerState, ConsumerTally};

/// The Kafka broker the demo uses.
pub const DEFAULT_KAFKA_URL: &str = demo_contract::DEFAULT_KAFKA_URL;

/// Names of the demo's Kafka side (tests use a broker of their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaNames {
    pub url: String,
    pub topic: String,
    pub partitions: i32,
    pub group: String,
}

impl Default for KafkaNames {
    fn default() -> Self {
        Self {
            url: DEFAULT_KAFKA_URL.to_string(),
            topic: demo_contract::ORDERS_TOPIC.to_string(),
            partitions: demo_contract::ORDERS_TOPIC_PARTITIONS,
            group: demo_contract::USER_SERVICE_GROUP.to_string(),
        }
    }
}

impl KafkaNames {
    /// The default names on another broker.
    pub fn at(url: &str) -> Self {
        Self {
            url: url.to_string(),
            ..Self::default()
        }
    }
}

#[cfg(feature = "kafka")]
/// The loopback address of `url` when it names exactly one broker on this machine.
fn loopback_addr(url: &str) -> Option<std::net::SocketAddr> {
    let addrs = switchboard_engine::kafka::parse_url(url).ok()?;
    let [one] = addrs.as_slice() else {
        return None;
    };
    let addr: std::net::SocketAddr = one.replace("localhost", "127.0.0.1").parse().ok()?;
    addr.ip().is_loopback().then_some(addr)
}

/// What the demo found (or started) for Kafka.
#[derive(Debug)]
pub struct KafkaSetup {
    pub probe: crate::demo::BrokerProbe,
    /// The broker this process holds (started on first use), if it does.
    #[cfg(feature = "kafka")]
    pub embedded: Option<crate::kafka_broker::OnDemandKafka>,
}

impl KafkaSetup {
    pub fn embedded(&self) -> bool {
        #[cfg(feature = "kafka")]
        {
            self.embedded.is_some()
        }
        #[cfg(not(feature = "kafka"))]
        {
            false
        }
    }
}

/// Starts the embedded broker this process holds at `url` (if it does and it has not started)
/// and waits until it runs; `Ok` at once for any other broker.
pub async fn ring_broker(url: &str) -> Result<(), String> {
    #[cfg(feature = "kafka")]
    if let Some(addr) = loopback_addr(url) {
        return crate::kafka_broker::ring(addr).await;
    }
    let _ = url;
    Ok(())
}

/// Waits, without starting it, until the embedded broker this process holds at `url` runs; at
/// once for any other broker. `Err` when it failed or was stopped.
pub async fn broker_started(url: &str) -> Result<(), String> {
    #[cfg(feature = "kafka")]
    if let Some(addr) = loopback_addr(url) {
        return crate::kafka_broker::started(addr).await;
    }
    let _ = url;
    Ok(())
}

/// Whether this process holds an embedded broker at `url` that has not started yet.
pub fn broker_unstarted(url: &str) -> bool {
    #[cfg(feature = "kafka")]
    if let Some(addr) = loopback_addr(url) {
        return crate::kafka_broker::unstarted(addr);
    }
    let _ = url;
    false
}

/// Connects to the broker of `names` — holding the address for the embedded one (started on
/// first use) when nothing listens on a loopback address and the feature is on — and creates
/// the orders topic if missing (the embedded broker creates it when it starts).
pub async fn setup(names: &KafkaNames) -> KafkaSetup {
    let reachable = admin::connect(&names.url).await;
    if let Err(e) = reachable {
        #[cfg(feature = "kafka")]
        if e.kind == switchboard_engine::ErrorKind::ConnectionRefused
            && let Some(addr) = loopback_addr(&names.url)
        {
            return match crate::kafka_broker::OnDemandKafka::hold(
                addr,
                &names.topic,
                names.partitions,
            )
            .await
            {
                Ok(broker) => KafkaSetup {
                    probe: crate::demo::BrokerProbe::Reachable,
                    embedded: Some(broker),
                },
                Err(why) => KafkaSetup {
                    probe: crate::demo::BrokerProbe::Unreachable(why),
                    embedded: None,
                },
            };
        }
        return KafkaSetup {
            probe: crate::demo::BrokerProbe::Unreachable(e.message),
            #[cfg(feature = "kafka")]
            embedded: None,
        };
    }
    let probe = match admin::create_topic(&names.url, &names.topic, names.partitions).await {
        Ok(_) => crate::demo::BrokerProbe::Reachable,
        Err(e) => crate::demo::BrokerProbe::Unreachable(e.message),
    };
    KafkaSetup {
        probe,
        #[cfg(feature = "kafka")]
        embedded: None,
    }
}

/// The Order Service's producer: one kept connection, opened on first use and again after a
/// failure.
#[derive(Default)]
pub struct OrderProducer {
    producer: Mutex<Option<Producer>>,
}

impl std::fmt::Debug for OrderProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrderProducer")
    }
}

/// Where an order event landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Produced {
    pub partition: i32,
    pub offset: i64,
}

impl OrderProducer {
    /// Produces `payload` keyed by `user_id`, with the correlation and order ids in headers.
    pub async fn produce(
        &self,
        names: &KafkaNames,
        user_id: &str,
        order_id: &str,
        correlation_id: &str,
        payload: &[u8],
        trace_headers: &[(String, String)],
    ) -> Result<Produced, String> {
        let timeout = Duration::from_secs(5);
        let mut req = KafkaRequest::produce(&names.url, &names.topic, user_id, "");
        req.set_body(payload.to_vec());
        req.headers = vec![
            switchboard_engine::fields::SavedHeader::new("correlation_id", correlation_id),
            switchboard_engine::fields::SavedHeader::new("order_id", order_id),
        ];
        req.headers.extend(
            trace_headers
                .iter()
                .map(|(k, v)| switchboard_engine::fields::SavedHeader::new(k, v)),
        );
        let (headers, body) = switchboard_engine::kafka::prepare(&req).map_err(|e| e.message)?;
        ring_broker(&names.url).await?;
        let mut slot = self.producer.lock().await;
        if slot.is_none() {
            *slot = Some(
                Producer::open(&names.url, timeout)
                    .await
                    .map_err(|e| e.message)?,
            );
        }
        let Some(producer) = slot.as_mut() else {
            return Err("no producer".into());
        };
        let exchange = producer
            .produce(
                switchboard_engine::recorder::Recorder::new(timeout),
                &req,
                &headers,
                &body,
            )
            .await;
        if let Some(error) = exchange.error {
            *slot = None;
            return Err(error.message);
        }
        let header = |name: &str| {
            exchange
                .response
                .as_ref()
                .and_then(|r| r.headers.iter().find(|h| h.name == name))
                .and_then(|h| h.value.parse::<i64>().ok())
                .unwrap_or(-1)
        };
        Ok(Produced {
            partition: header("partition") as i32,
            offset: header("offset"),
        })
    }
}

/// The consumer span of one record: from when it was produced (its timestamp) to now, under
/// the producer's context in its headers.
fn consumed_span(
    telemetry: Option<&crate::telemetry::Telemetry>,
    names: &KafkaNames,
    message: &switchboard_engine::watched::WatchedMessage,
) {
    use crate::telemetry::{self, Attribute, Kind};
    let Some(telemetry) = telemetry else {
        return;
    };
    let pairs: Vec<(String, String)> = message
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), switchboard_engine::watched::text_of(v)))
        .collect();
    let parent = telemetry::extract(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let cx = telemetry.start_span(
        format!("{} process", names.topic),
        Kind::Consumer,
        &parent,
        vec![
            Attribute::new("messaging.system", "kafka"),
            Attribute::new("messaging.destination.name", names.topic.clone()),
            Attribute::new("messaging.consumer.group.name", names.group.clone()),
            Attribute::new("messaging.kafka.message.key", message.key.to_string()),
        ],
    );
    telemetry::end(&cx, None);
}

/// The User Service's consumer of the orders topic as group `names.group`: counts what it
/// reads (into `tally`, kept across restarts); the watch reconnects after a gap by itself, and
/// is started again (after 2 s) when it fails; stops at `shutdown`, committing what it read and
/// leaving the group.
pub async fn consume_orders(
    names: KafkaNames,
    (tally, state): (ConsumerTally, watch::Sender<ConsumerState>),
    telemetry: Option<std::sync::Arc<crate::telemetry::Telemetry>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut spec = KafkaWatch::tap(&names.url, &names.topic);
    spec.group = names.group.clone();
    spec.from = "earliest".into();
    // The embedded broker starts on first use: the consumer is not that use.
    if broker_unstarted(&names.url) {
        let _ = state.send(ConsumerState::Waiting(
            "waits for the embedded broker, which starts with the first order or the first client that talks to it".into(),
        ));
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = broker_started(&names.url) => {}
        }
    }
    let _ = state.send(ConsumerState::Connecting);
    loop {
        let cancel = tokio_util::sync::CancellationToken::new();
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let task = tokio::spawn(switchboard_engine::kafka::watch::run(
            spec.clone(),
            tx,
            cancel.clone(),
            None,
        ));
        let stop = loop {
            tokio::select! {
                _ = shutdown.changed() => break true,
                event = rx.recv() => match event {
                    None => break false,
                    Some(WatchEvent::Messages(batch)) => {
                        // A consumer span per record, under the producer's context it carries.
                        for message in &batch {
                            consumed_span(telemetry.as_deref(), &names, message);
                        }
                        let _ = state.send(tally.consumed(batch.len() as u64));
                    }
                    Some(WatchEvent::Connected { .. }) => {
                        let _ = state.send(tally.state());
                    }
                    Some(WatchEvent::Lost { reason, .. }) => {
                        let _ = state.send(ConsumerState::Down(reason));
                    }
                    Some(WatchEvent::Failed(e)) => {
                        let _ = state.send(ConsumerState::Down(e.message));
                        break false;
                    }
                    Some(WatchEvent::Notice(notice)) => tracing::info!("kafka consumer: {notice}"),
                    // Run in the watched form: no stored batches.
                    Some(WatchEvent::PeekDone { .. } | WatchEvent::Stored(_)) => {}
                }
            }
        };
        cancel.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
        if stop {
            return;
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}
