//! The demo services and the brokers: start/stop, knobs, a private nats-server, and the status watchers behind the services strip.

use super::*;

impl Backend {
    pub(super) async fn stop_service(&mut self, service: ServiceId) {
        let Self {
            outbox, supervisor, ..
        } = self;
        if let Some(s) = supervisor.as_mut() {
            s.stop_service(service).await;
            outbox.send(Event::Services(s.status())).await;
            if service == ServiceId::User {
                outbox.send(Event::Consumer(None)).await;
            }
        }
    }

    pub(super) async fn start_service(&mut self, service: ServiceId) {
        let Self {
            outbox,
            supervisor,
            consumer_task,
            ..
        } = self;
        if let Some(s) = supervisor.as_mut() {
            if let Err(err) = s.start_service(service).await {
                outbox
                    .send(Event::ServiceError(BackendError::start(
                        Starting::Service,
                        format!("cannot start the {}: {err}", service.name()),
                    )))
                    .await;
            }
            outbox.send(Event::Services(s.status())).await;
            if service == ServiceId::User {
                if let Some(task) = consumer_task.take() {
                    task.abort();
                }
                *consumer_task = forward_consumer(Some(s), outbox);
            }
        }
    }

    /// Starts a private RabbitMQ node and moves the status watcher, the app's tap, the queue
    /// depth and the demo's RabbitMQ side to it.
    pub(super) async fn start_rabbit(&mut self) {
        if self.private_rabbit.is_some() {
            return;
        }
        let dir = self.options.data_dir.join("rabbitmq");
        match demo_services::rabbitmq_server::PrivateRabbit::start(&dir).await {
            Ok(node) => {
                let url = node.url.clone();
                self.private_rabbit = Some(node);
                self.options.amqp_url = url.clone();
                self.broker_task.abort();
                self.broker_task = tokio::spawn(watch_broker(url.clone(), self.outbox.clone()));
                if let Some(s) = self.supervisor.as_mut() {
                    if let Err(err) = s.move_amqp(&url).await {
                        self.outbox
                            .send(Event::ServiceError(BackendError::start(
                                Starting::RabbitNode,
                                format!("the demo cannot move to the new RabbitMQ node: {err}"),
                            )))
                            .await;
                    }
                    self.outbox.send(Event::Services(s.status())).await;
                    for task in [self.tap_task.take(), self.queue_task.take()]
                        .into_iter()
                        .flatten()
                    {
                        task.abort();
                    }
                    let (tap, queue) =
                        amqp_watchers(&url, &s.config().topology, &self.deliveries, &self.outbox);
                    (self.tap_task, self.queue_task) = (Some(tap), Some(queue));
                    if let Some(task) = self.consumer_task.take() {
                        task.abort();
                    }
                    self.consumer_task = forward_consumer(Some(s), &self.outbox);
                }
                self.outbox.send(Event::RabbitStarted { url }).await;
            }
            Err(err) => {
                self.outbox
                    .send(Event::ServiceError(BackendError::start(
                        Starting::RabbitNode,
                        format!("cannot start a RabbitMQ node: {err}"),
                    )))
                    .await;
            }
        }
    }

    pub(super) async fn start_nats(&mut self) {
        let Self {
            options,
            outbox,
            supervisor,
            nats_task,
            private_nats,
            nats_pending_task,
            consumer_task,
            ..
        } = self;
        if private_nats.is_some() {
            return;
        }
        let dir = options.data_dir.join("nats-server");
        match demo_services::nats_server::PrivateNats::start(&dir).await {
            Ok(server) => {
                let url = server.url.clone();
                *private_nats = Some(server);
                nats_task.abort();
                *nats_task = tokio::spawn(watch_nats(url.clone(), outbox.clone()));
                if let Some(s) = supervisor.as_mut() {
                    if let Err(err) = s.move_nats(&url).await {
                        outbox
                            .send(Event::ServiceError(BackendError::start(
                                Starting::NatsServer,
                                format!("the demo cannot move to the new NATS server: {err}"),
                            )))
                            .await;
                    }
                    outbox.send(Event::Services(s.status())).await;
                    // The pending count and the consumers' states now come from the new server.
                    if let Some(task) = nats_pending_task.take() {
                        task.abort();
                    }
                    *nats_pending_task = nats_pending_watcher(s.config(), outbox);
                    if let Some(task) = consumer_task.take() {
                        task.abort();
                    }
                    *consumer_task = forward_consumer(Some(s), outbox);
                }
                outbox.send(Event::NatsStarted { url }).await;
            }
            Err(err) => {
                outbox
                    .send(Event::ServiceError(BackendError::start(
                        Starting::NatsServer,
                        format!("cannot start a NATS server: {err}"),
                    )))
                    .await;
            }
        }
    }

    pub(super) async fn set_user_check(&mut self, check: demo_services::UserCheck) {
        let Self {
            outbox, supervisor, ..
        } = self;
        if let Some(s) = supervisor.as_mut() {
            s.set_user_check(check);
            outbox.send(Event::Services(s.status())).await;
        }
    }

    pub(super) async fn set_knobs(
        &mut self,
        service: ServiceId,
        latency_ms: u64,
        failure_rate: f64,
    ) {
        let Self {
            outbox, supervisor, ..
        } = self;
        if let Some(s) = supervisor.as_mut() {
            s.set_knobs(service, latency_ms, failure_rate);
            outbox.send(Event::Services(s.status())).await;
        }
    }
}

/// Forwards the User Service consumers' state changes (its `order_queue` consumer, its Kafka
/// group member and its JetStream consumer) as events.
pub(super) fn forward_consumer(
    supervisor: Option<&Supervisor>,
    outbox: &Outbox,
) -> Option<JoinHandle<()>> {
    let user = supervisor?.user()?;
    let (mut amqp, mut kafka, mut nats) = (
        user.consumer_updates(),
        user.kafka_consumer_updates(),
        user.nats_consumer_updates(),
    );
    let outbox = outbox.clone();
    Some(tokio::spawn(async move {
        let (mut amqp_open, mut kafka_open, mut nats_open) = (true, true, true);
        loop {
            if amqp_open {
                let state = amqp.borrow_and_update().clone();
                outbox.send(Event::Consumer(Some(state))).await;
            }
            if kafka_open {
                let state = kafka.borrow_and_update().clone();
                outbox.send(Event::KafkaConsumer(Some(state))).await;
            }
            if nats_open {
                let state = nats.borrow_and_update().clone();
                outbox.send(Event::NatsConsumer(Some(state))).await;
            }
            tokio::select! {
                changed = amqp.changed(), if amqp_open => amqp_open = changed.is_ok(),
                changed = kafka.changed(), if kafka_open => kafka_open = changed.is_ok(),
                changed = nats.changed(), if nats_open => nats_open = changed.is_ok(),
                else => return,
            }
        }
    }))
}

/// Watches whether the Kafka broker at `url` answers (a TCP connect every 3 s).
pub(super) async fn watch_kafka(url: String, outbox: Outbox) {
    let addr = crate::engine::kafka::parse_url(&url)
        .ok()
        .and_then(|a| a.into_iter().next())
        .unwrap_or_else(|| "127.0.0.1:9092".to_string());
    watch_port(addr, outbox, move |state| Event::Kafka {
        url: url.clone(),
        state,
    })
    .await;
}

/// Checks every few seconds whether the broker's port answers; reports changes.
pub(super) async fn watch_broker(amqp_url: String, outbox: Outbox) {
    let Some(addr) = broker_addr(&amqp_url) else {
        outbox
            .send(Event::Broker(BrokerState::Down(BackendError::Invalid(
                format!(
                    "cannot read the broker address of {}",
                    crate::engine::amqp::redact_url(&amqp_url)
                ),
            ))))
            .await;
        return;
    };
    watch_port(addr, outbox, Event::Broker).await;
}

/// Checks every few seconds whether the NATS server's port answers; reports changes.
pub(super) async fn watch_nats(url: String, outbox: Outbox) {
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let addr = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:4222")
    };
    watch_port(addr, outbox, move |state| Event::Nats {
        url: url.clone(),
        state,
    })
    .await;
}

/// Tries a TCP connect to `addr` every 3 s; sends `event(state)` when the answer changes.
pub(super) async fn watch_port(addr: String, outbox: Outbox, event: impl Fn(BrokerState) -> Event) {
    let mut last = BrokerState::Unknown;
    loop {
        let state = match tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect(&addr),
        )
        .await
        {
            Ok(Ok(_)) => BrokerState::Up,
            Ok(Err(e)) => BrokerState::Down(BackendError::unreachable(Some(&e))),
            Err(_) => BrokerState::Down(BackendError::unreachable(None)),
        };
        if state != last {
            outbox.send(event(state.clone())).await;
            last = state;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

pub(super) fn broker_addr(url: &str) -> Option<String> {
    crate::engine::amqp::broker_addr(url)
}

/// Keeps a tap on the demo's exchange, reconnecting with backoff, and broadcasts deliveries.
pub(super) async fn keep_tap(
    url: String,
    exchange: String,
    deliveries: broadcast::Sender<(Instant, WatchedMessage)>,
) {
    let source = WatchSource::Tap {
        exchange,
        binding: "#".to_string(),
    };
    let mut backoff = Duration::from_millis(500);
    loop {
        if let Ok(mut watch) = Watch::open(&url, &source, Duration::from_secs(5)).await {
            backoff = Duration::from_millis(500);
            while let Some(Ok(message)) = watch.next().await {
                let _ = deliveries.send((Instant::now(), message));
            }
            watch.close().await;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// The demo's two watchers on the broker at `url`: the app's tap on the order exchange (for
/// *Place order*) and the depth of the User Service's queue.
pub(super) fn amqp_watchers(
    url: &str,
    topology: &demo_services::Topology,
    deliveries: &broadcast::Sender<(Instant, WatchedMessage)>,
    outbox: &Outbox,
) -> (JoinHandle<()>, JoinHandle<()>) {
    (
        tokio::spawn(keep_tap(
            url.to_string(),
            topology.exchange.clone(),
            deliveries.clone(),
        )),
        tokio::spawn(watch_queue(
            url.to_string(),
            topology.queue.clone(),
            outbox.clone(),
        )),
    )
}

/// The cadence of a poll of a broker for the strip: every `every` while it answers, reported
/// only when the answer changes (or every 5 s, so a steady value costs the UI nothing); while
/// it fails, asked again after 1 s, then 2, 4, 5 s (a broker that is down is not hammered).
struct Poll<T> {
    every: Duration,
    last: Option<Result<T, ExchangeError>>,
    last_sent: Instant,
    failing: Duration,
}

impl<T: PartialEq + Clone> Poll<T> {
    fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            last_sent: Instant::now(),
            failing: Duration::ZERO,
        }
    }

    /// Whether `result` is to be sent, and how long to wait before asking again.
    fn next(&mut self, result: &Result<T, ExchangeError>) -> (bool, Duration) {
        let send = self.last.as_ref() != Some(result)
            || self.last_sent.elapsed() >= Duration::from_secs(5);
        if send {
            self.last = Some(result.clone());
            self.last_sent = Instant::now();
        }
        self.failing = match result {
            Ok(_) => Duration::ZERO,
            Err(_) => (self.failing * 2).clamp(Duration::from_secs(1), Duration::from_secs(5)),
        };
        (send, self.every.max(self.failing))
    }
}

/// Reports the depth of `queue` twice a second (see [`Poll`]).
pub(super) async fn watch_queue(amqp_url: String, queue: String, outbox: Outbox) {
    let mut probe = crate::engine::amqp::probe::QueueProbe::new(&amqp_url);
    let mut poll = Poll::new(Duration::from_millis(500));
    loop {
        let result = probe.depth(&queue, Duration::from_secs(2)).await;
        let (send, wait) = poll.next(&result);
        if send {
            outbox
                .send(Event::QueueDepth {
                    queue: queue.clone(),
                    result: result.map_err(BackendError::from),
                })
                .await;
        }
        tokio::time::sleep(wait).await;
    }
}

/// Polls the User Service's JetStream consumer of the demo's order stream, if NATS is on.
pub(super) fn nats_pending_watcher(config: &DemoConfig, outbox: &Outbox) -> Option<JoinHandle<()>> {
    let names = config.nats.clone()?;
    Some(tokio::spawn(watch_nats_pending(names, outbox.clone())))
}

/// Reports the User Service's JetStream consumer (its pending and ack-pending orders) twice a
/// second (see [`Poll`]).
async fn watch_nats_pending(names: demo_services::NatsNames, outbox: Outbox) {
    let mut probe = crate::engine::nats::streams::ConsumerProbe::new(&names.url);
    let mut poll = Poll::new(Duration::from_millis(500));
    loop {
        let result = probe
            .pending(&names.stream, &names.consumer, Duration::from_secs(2))
            .await;
        let (send, wait) = poll.next(&result);
        if send {
            outbox
                .send(Event::NatsPending {
                    consumer: names.consumer.clone(),
                    result: result.map_err(BackendError::from),
                })
                .await;
        }
        tokio::time::sleep(wait).await;
    }
}

/// Polls the User Service's Kafka group on the orders topic, if Kafka is on.
pub(super) fn kafka_lag_watcher(config: &DemoConfig, outbox: &Outbox) -> Option<JoinHandle<()>> {
    let names = config.kafka.clone()?;
    Some(tokio::spawn(watch_kafka_lag(names, outbox.clone())))
}

/// Reports the lag of the User Service's Kafka group on the orders topic every second (see
/// [`Poll`]).
async fn watch_kafka_lag(names: demo_services::KafkaNames, outbox: Outbox) {
    // The demo's embedded broker starts on first use: polling it is not that use.
    let _ = demo_services::kafka_flow::broker_started(&names.url).await;
    let mut probe = crate::engine::kafka::admin::GroupLagProbe::new(&names.url);
    let mut poll = Poll::new(Duration::from_secs(1));
    loop {
        let result = probe
            .lag(&names.group, &names.topic, Duration::from_secs(3))
            .await;
        let (send, wait) = poll.next(&result);
        if send {
            outbox
                .send(Event::KafkaLag {
                    group: names.group.clone(),
                    result: result.map_err(BackendError::from),
                })
                .await;
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_reports_changes_and_backs_off_while_the_broker_is_down() {
        let down = || -> Result<u32, ExchangeError> {
            Err(ExchangeError {
                kind: crate::engine::ErrorKind::ConnectionRefused,
                phase: None,
                message: "refused".into(),
            })
        };
        let every = Duration::from_millis(500);
        let mut poll = Poll::new(every);
        assert_eq!(poll.next(&Ok(3)), (true, every), "the first answer is sent");
        assert_eq!(poll.next(&Ok(3)), (false, every), "an unchanged one is not");
        assert_eq!(poll.next(&Ok(4)), (true, every));
        let waits: Vec<(bool, u64)> = (0..5)
            .map(|_| {
                let (sent, wait) = poll.next(&down());
                (sent, wait.as_secs())
            })
            .collect();
        assert_eq!(
            waits,
            vec![(true, 1), (false, 2), (false, 4), (false, 5), (false, 5)],
            "down: reported once, asked less and less often"
        );
        assert_eq!(
            poll.next(&Ok(4)),
            (true, every),
            "back up: at its pace again"
        );
    }
}
