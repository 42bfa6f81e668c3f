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

/// Forwards the User Service consumers' state changes (its `order_queue` consumer and its
/// Kafka group member) as events.
pub(super) fn forward_consumer(
    supervisor: Option<&Supervisor>,
    outbox: &Outbox,
) -> Option<JoinHandle<()>> {
    let user = supervisor?.user()?;
    let (mut amqp, mut kafka) = (user.consumer_updates(), user.kafka_consumer_updates());
    let outbox = outbox.clone();
    Some(tokio::spawn(async move {
        let (mut amqp_open, mut kafka_open) = (true, true);
        loop {
            if amqp_open {
                let state = amqp.borrow_and_update().clone();
                outbox.send(Event::Consumer(Some(state))).await;
            }
            if kafka_open {
                let state = kafka.borrow_and_update().clone();
                outbox.send(Event::KafkaConsumer(Some(state))).await;
            }
            tokio::select! {
                changed = amqp.changed(), if amqp_open => amqp_open = changed.is_ok(),
                changed = kafka.changed(), if kafka_open => kafka_open = changed.is_ok(),
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
    let uri: lapin::uri::AMQPUri = url.parse().ok()?;
    Some(format!("{}:{}", uri.authority.host, uri.authority.port))
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

/// Reports the depth of `queue` twice a second (only when it changes, or every 5 s, so a
/// steady queue costs the UI nothing).
pub(super) async fn watch_queue(amqp_url: String, queue: String, outbox: Outbox) {
    let mut probe = crate::engine::amqp::probe::QueueProbe::new(&amqp_url);
    let mut last = None;
    let mut unchanged = 0u32;
    loop {
        let result = probe.depth(&queue, Duration::from_secs(2)).await;
        unchanged += 1;
        if last.as_ref() != Some(&result) || unchanged >= 10 {
            unchanged = 0;
            last = Some(result.clone());
            outbox
                .send(Event::QueueDepth {
                    queue: queue.clone(),
                    result: result.map_err(BackendError::from),
                })
                .await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
