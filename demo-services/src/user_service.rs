//! The User Service: HTTP `GET /user/{id}`, gRPC `user.UserService/GetUserInfo` (with reflection
//! and health), and a consumer of `order_queue` whose answers reflect the orders it has seen.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::StreamExt;
use lapin::ConnectionProperties;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::FieldTable;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::broker::{DEFAULT_AMQP_URL, OrderCreated, Topology};
use crate::knobs::{Knobs, Verdict};
use crate::proto::user_service_server::{UserService, UserServiceServer};
use crate::proto::{OrderEvent, UserCount, UserInfo, UserRequest};
use crate::telemetry::{self, Attribute, Kind, Telemetry};
use crate::users::{LookupError, UserStore};
use crate::{StartError, bind_loopback};

/// Where and how the User Service runs.
#[derive(Debug, Clone)]
pub struct UserServiceConfig {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    /// Broker to consume orders from; `None` disables the consumer.
    pub amqp_url: Option<String>,
    pub topology: Topology,
    /// NATS server and names for `user.get`; `None` disables the NATS side.
    pub nats: Option<crate::nats_flow::NatsNames>,
    /// Kafka broker, topic and group to consume order events as; `None` disables it.
    pub kafka: Option<crate::kafka_flow::KafkaNames>,
    /// What its consumers counted so far: the supervisor passes the same tallies to each start,
    /// so the counts go on across restarts of the service.
    pub tallies: ConsumerTallies,
    pub latency_ms: u64,
    pub failure_rate: f64,
    /// Where its spans go (OTLP/HTTP); `None`: not traced.
    pub otlp_endpoint: Option<String>,
}

impl Default for UserServiceConfig {
    fn default() -> Self {
        Self {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8081)),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            amqp_url: Some(DEFAULT_AMQP_URL.to_string()),
            topology: Topology::default(),
            nats: None,
            kafka: None,
            tallies: ConsumerTallies::default(),
            latency_ms: 0,
            failure_rate: 0.0,
            otlp_endpoint: None,
        }
    }
}

impl UserServiceConfig {
    /// Both listeners on an ephemeral loopback port (for tests).
    pub fn ephemeral() -> Self {
        Self {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Self::default()
        }
    }
}

/// State of one of the User Service's consumers (`order_queue`, the Kafka group, the JetStream
/// consumer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerState {
    /// No broker configured.
    Disabled,
    Connecting,
    /// Consuming; counts of messages handled so far.
    Consuming {
        consumed: u64,
        dead_lettered: u64,
        /// Why the last message was dead-lettered (also in its `x-reject-reason` header).
        last_reject: Option<String>,
    },
    /// The broker is unreachable or the channel failed; retrying with backoff.
    Down(String),
    /// Not started yet, for the reason given (Kafka's embedded broker starts on first use).
    Waiting(String),
}

/// A consumer's counts, shared by its runs: they survive its reconnections and, kept by the
/// supervisor, restarts of the User Service (the strip's counts then go on where they were).
#[derive(Debug, Clone, Default)]
pub struct ConsumerTally(Arc<std::sync::Mutex<Tally>>);

#[derive(Debug, Default)]
struct Tally {
    consumed: u64,
    dead_lettered: u64,
    last_reject: Option<String>,
}

impl ConsumerTally {
    fn with(&self, change: impl FnOnce(&mut Tally)) -> ConsumerState {
        let mut tally = self.0.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut tally);
        ConsumerState::Consuming {
            consumed: tally.consumed,
            dead_lettered: tally.dead_lettered,
            last_reject: tally.last_reject.clone(),
        }
    }

    /// The counts as a `Consuming` state.
    pub fn state(&self) -> ConsumerState {
        self.with(|_| {})
    }

    /// Counts `n` messages consumed; the new state.
    pub fn consumed(&self, n: u64) -> ConsumerState {
        self.with(|t| t.consumed += n)
    }

    /// Counts one message dead-lettered for `reason`; the new state.
    pub fn dead_lettered(&self, reason: String) -> ConsumerState {
        self.with(|t| {
            t.dead_lettered += 1;
            t.last_reject = Some(reason);
        })
    }
}

/// The tallies of the User Service's three consumers (RabbitMQ, Kafka, NATS).
#[derive(Debug, Clone, Default)]
pub struct ConsumerTallies {
    pub amqp: ConsumerTally,
    pub kafka: ConsumerTally,
    pub nats: ConsumerTally,
}

/// A running User Service. Dropping it without [`UserServiceHandle::stop`] stops it too, but
/// without waiting.
#[derive(Debug)]
pub struct UserServiceHandle {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub knobs: Arc<Knobs>,
    pub store: Arc<UserStore>,
    consumer: watch::Receiver<ConsumerState>,
    kafka_consumer: watch::Receiver<ConsumerState>,
    nats_consumer: watch::Receiver<ConsumerState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    telemetry: Option<Arc<Telemetry>>,
}

impl UserServiceHandle {
    pub fn consumer_state(&self) -> ConsumerState {
        self.consumer.borrow().clone()
    }

    /// The state of the consumer of the Kafka orders topic (group `user-service`).
    pub fn kafka_consumer_state(&self) -> ConsumerState {
        self.kafka_consumer.borrow().clone()
    }

    /// A receiver that sees every state change of the Kafka consumer.
    pub fn kafka_consumer_updates(&self) -> watch::Receiver<ConsumerState> {
        self.kafka_consumer.clone()
    }

    /// The state of the durable pull consumer of the NATS orders stream (`user-service`).
    pub fn nats_consumer_state(&self) -> ConsumerState {
        self.nats_consumer.borrow().clone()
    }

    /// A receiver that sees every state change of the NATS consumer.
    pub fn nats_consumer_updates(&self) -> watch::Receiver<ConsumerState> {
        self.nats_consumer.clone()
    }

    /// A receiver that sees every consumer state change.
    pub fn consumer_updates(&self) -> watch::Receiver<ConsumerState> {
        self.consumer.clone()
    }

    /// Stops every listener and the consumer, and waits until they are gone.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        join_or_abort(self.tasks.drain(..)).await;
        if let Some(t) = &self.telemetry {
            t.shutdown().await;
        }
    }
}

impl Drop for UserServiceHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// How long a stop waits for what is still open (a client's open gRPC stream, a slow request)
/// to end on its own before cutting it.
pub(crate) const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits for a stopping service's tasks, at most [`STOP_GRACE`] in all; the ones still running
/// then (a server draining a stream its client keeps open) are aborted, so a stop never hangs.
pub(crate) async fn join_or_abort(tasks: impl IntoIterator<Item = JoinHandle<()>>) {
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    for mut task in tasks {
        if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// Resolves when `shutdown` becomes true (or its sender is gone).
pub(crate) async fn stopped(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

#[derive(Clone)]
struct Shared {
    store: Arc<UserStore>,
    knobs: Arc<Knobs>,
    telemetry: Option<Arc<Telemetry>>,
}

/// Starts the User Service.
pub async fn start(config: UserServiceConfig) -> Result<UserServiceHandle, StartError> {
    let http_listener = bind_loopback(config.http_addr).await?;
    let grpc_listener = bind_loopback(config.grpc_addr).await?;
    let http_addr = local_addr(&http_listener, config.http_addr)?;
    let grpc_addr = local_addr(&grpc_listener, config.grpc_addr)?;
    let telemetry = config.otlp_endpoint.as_deref().and_then(|endpoint| {
        Telemetry::start(telemetry::USER_SERVICE, endpoint)
            .map_err(|err| tracing::warn!(%err, "the User Service is not traced"))
            .ok()
            .map(Arc::new)
    });
    let shared = Shared {
        store: Arc::new(UserStore::default()),
        knobs: Arc::new(Knobs::new(config.latency_ms, config.failure_rate)),
        telemetry: telemetry.clone(),
    };
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = Vec::new();

    let app = Router::new()
        .route("/user/{id}", get(get_user))
        .route("/health", get(|| async { "ok" }))
        .with_state(shared.clone());
    let rx = shutdown_rx.clone();
    tasks.push(tokio::spawn(async move {
        let served = axum::serve(http_listener, app)
            .with_graceful_shutdown(stopped(rx))
            .await;
        if let Err(err) = served {
            tracing::error!(%err, "user service HTTP server failed");
        }
    }));

    let grpc = grpc_router(shared.clone()).await?;
    let rx = shutdown_rx.clone();
    tasks.push(tokio::spawn(async move {
        // Like tonic's own listener: no Nagle delay on small replies.
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(grpc_listener).map(|conn| {
            conn.inspect(|stream| {
                let _ = stream.set_nodelay(true);
            })
        });
        if let Err(err) = grpc
            .serve_with_incoming_shutdown(incoming, stopped(rx))
            .await
        {
            tracing::error!(%err, "user service gRPC server failed");
        }
    }));

    let (consumer_tx, consumer) = watch::channel(ConsumerState::Disabled);
    if let Some(url) = config.amqp_url.clone() {
        let _ = consumer_tx.send(ConsumerState::Connecting);
        let rx = shutdown_rx.clone();
        let topology = config.topology.clone();
        tasks.push(tokio::spawn(consume_loop(
            url,
            topology,
            shared.clone(),
            (config.tallies.amqp.clone(), consumer_tx),
            rx,
        )));
    }
    let (kafka_tx, kafka_consumer) = watch::channel(ConsumerState::Disabled);
    if let Some(names) = config.kafka.clone() {
        tasks.push(tokio::spawn(crate::kafka_flow::consume_orders(
            names,
            (config.tallies.kafka.clone(), kafka_tx),
            shared.telemetry.clone(),
            shutdown_rx.clone(),
        )));
    }
    let (nats_tx, nats_consumer) = watch::channel(ConsumerState::Disabled);
    if let Some(names) = config.nats.clone() {
        let _ = nats_tx.send(ConsumerState::Connecting);
        tasks.push(tokio::spawn(crate::nats_flow::consume_orders(
            names.clone(),
            shared.store.clone(),
            (config.tallies.nats.clone(), nats_tx),
            shared.telemetry.clone(),
            shutdown_rx.clone(),
        )));
    }
    if let Some(names) = config.nats.clone() {
        match crate::nats_flow::subscribe_lookups(&names).await {
            Ok((client, sub)) => tasks.push(tokio::spawn(crate::nats_flow::serve_user_lookups(
                client,
                sub,
                shared.store.clone(),
                shared.knobs.clone(),
                shared.telemetry.clone(),
                shutdown_rx.clone(),
            ))),
            Err(err) => tracing::warn!(%err, "the User Service does not answer over NATS"),
        }
    }
    tracing::info!(%http_addr, %grpc_addr, "user service started");
    Ok(UserServiceHandle {
        http_addr,
        grpc_addr,
        knobs: shared.knobs,
        store: shared.store,
        consumer,
        kafka_consumer,
        nats_consumer,
        shutdown,
        tasks,
        telemetry,
    })
}

pub(crate) fn local_addr(
    listener: &tokio::net::TcpListener,
    requested: SocketAddr,
) -> Result<SocketAddr, StartError> {
    listener.local_addr().map_err(|io| StartError::Bind {
        addr: requested,
        io,
    })
}

fn json_error(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

async fn get_user(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let cx = telemetry::start_span(
        shared.telemetry.as_deref(),
        "GET /user/{id}",
        Kind::Server,
        &telemetry::extract_http(&headers),
        vec![
            Attribute::new("http.request.method", "GET"),
            Attribute::new("http.route", "/user/{id}"),
            Attribute::new("user.id", id.clone()),
        ],
    );
    let response = lookup(&shared, id).await;
    telemetry::end_http(&cx, response.status());
    response
}

async fn lookup(shared: &Shared, id: String) -> Response {
    if shared.knobs.apply().await == Verdict::InjectedFailure {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "injected failure (failure rate {:.0}%)",
                shared.knobs.failure_rate() * 100.0
            ),
        );
    }
    match shared.store.get(&id) {
        Ok(user) => Json(user).into_response(),
        Err(err @ LookupError::Malformed(_)) => {
            json_error(StatusCode::BAD_REQUEST, err.to_string())
        }
        Err(err @ LookupError::NotFound(_)) => json_error(StatusCode::NOT_FOUND, err.to_string()),
    }
}

struct UserGrpc(Shared);

type GrpcStream<T> =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<T, tonic::Status>> + Send>>;

fn user_info(user: crate::users::User) -> UserInfo {
    UserInfo {
        id: user.id,
        name: user.name,
        email: user.email,
        order_count: user.order_count,
    }
}

#[tonic::async_trait]
impl UserService for UserGrpc {
    type WatchOrdersStream = GrpcStream<OrderEvent>;
    type LookupStreamStream = GrpcStream<UserInfo>;

    async fn watch_orders(
        &self,
        request: tonic::Request<UserRequest>,
    ) -> Result<tonic::Response<Self::WatchOrdersStream>, tonic::Status> {
        let shared = &self.0;
        if shared.knobs.apply().await == Verdict::InjectedFailure {
            return Err(tonic::Status::unavailable("injected failure"));
        }
        let user_id = request.into_inner().user_id;
        let live = shared.store.subscribe_orders();
        let user = match shared.store.get(&user_id) {
            Ok(user) => user,
            Err(err @ LookupError::Malformed(_)) => {
                return Err(tonic::Status::invalid_argument(err.to_string()));
            }
            Err(err @ LookupError::NotFound(_)) => {
                return Err(tonic::Status::not_found(err.to_string()));
            }
        };
        let seen: Vec<Result<OrderEvent, tonic::Status>> = user
            .recent_orders
            .iter()
            .map(|order_id| {
                Ok(OrderEvent {
                    order_id: order_id.clone(),
                    user_id: user.id.clone(),
                    kind: "seen".to_string(),
                })
            })
            .collect();
        let wanted = user.id.clone();
        let live = tokio_stream::wrappers::BroadcastStream::new(live).filter_map(move |seen| {
            let wanted = wanted.clone();
            async move {
                match seen {
                    Ok((user_id, order_id)) if user_id == wanted => Some(Ok(OrderEvent {
                        order_id,
                        user_id,
                        kind: "consumed".to_string(),
                    })),
                    _ => None,
                }
            }
        });
        Ok(tonic::Response::new(Box::pin(
            futures_util::stream::iter(seen).chain(live),
        )))
    }

    async fn count_users(
        &self,
        request: tonic::Request<tonic::Streaming<UserRequest>>,
    ) -> Result<tonic::Response<UserCount>, tonic::Status> {
        let mut requests = request.into_inner();
        let mut count = UserCount::default();
        while let Some(req) = requests.message().await? {
            match self.0.store.get(&req.user_id) {
                Ok(user) => {
                    count.found += 1;
                    count.names.push(user.name);
                }
                Err(_) => count.missing += 1,
            }
        }
        Ok(tonic::Response::new(count))
    }

    async fn lookup_stream(
        &self,
        request: tonic::Request<tonic::Streaming<UserRequest>>,
    ) -> Result<tonic::Response<Self::LookupStreamStream>, tonic::Status> {
        let store = self.0.store.clone();
        let requests = request.into_inner();
        let answers = requests.map(move |req| {
            let req = req?;
            match store.get(&req.user_id) {
                Ok(user) => Ok(user_info(user)),
                Err(_) => Ok(UserInfo {
                    id: req.user_id,
                    ..UserInfo::default()
                }),
            }
        });
        Ok(tonic::Response::new(Box::pin(answers)))
    }

    async fn get_user_info(
        &self,
        request: tonic::Request<UserRequest>,
    ) -> Result<tonic::Response<UserInfo>, tonic::Status> {
        let shared = &self.0;
        let parent =
            telemetry::extract(request.metadata().iter().filter_map(|entry| match entry {
                tonic::metadata::KeyAndValueRef::Ascii(k, v) => {
                    Some((k.as_str(), v.to_str().ok()?))
                }
                tonic::metadata::KeyAndValueRef::Binary(..) => None,
            }));
        let cx = telemetry::start_span(
            shared.telemetry.as_deref(),
            "user.UserService/GetUserInfo",
            Kind::Server,
            &parent,
            vec![
                Attribute::new("rpc.system", "grpc"),
                Attribute::new("user.id", request.get_ref().user_id.clone()),
            ],
        );
        let answer = self.get_user_info_untraced(request).await;
        telemetry::end(
            &cx,
            answer
                .as_ref()
                .err()
                .filter(|s| {
                    !matches!(
                        s.code(),
                        tonic::Code::NotFound | tonic::Code::InvalidArgument
                    )
                })
                .map(|s| format!("{:?}: {}", s.code(), s.message())),
        );
        answer
    }
}

impl UserGrpc {
    async fn get_user_info_untraced(
        &self,
        request: tonic::Request<UserRequest>,
    ) -> Result<tonic::Response<UserInfo>, tonic::Status> {
        let shared = &self.0;
        if shared.knobs.apply().await == Verdict::InjectedFailure {
            return Err(tonic::Status::unavailable(format!(
                "injected failure (failure rate {:.0}%)",
                shared.knobs.failure_rate() * 100.0
            )));
        }
        match shared.store.get(&request.get_ref().user_id) {
            Ok(user) => Ok(tonic::Response::new(user_info(user))),
            Err(err @ LookupError::Malformed(_)) => Err(
                <tonic::Status as tonic_types::StatusExt>::with_error_details(
                    tonic::Code::InvalidArgument,
                    err.to_string(),
                    tonic_types::ErrorDetails::with_bad_request_violation(
                        "user_id",
                        "must be a positive decimal number, e.g. \"1\"",
                    ),
                ),
            ),
            Err(err @ LookupError::NotFound(_)) => Err(tonic::Status::not_found(err.to_string())),
        }
    }
}

async fn grpc_router(shared: Shared) -> Result<tonic::transport::server::Router, StartError> {
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let v1 = reflection()
        .build_v1()
        .map_err(|e| StartError::Reflection(e.to_string()))?;
    let v1alpha = reflection()
        .build_v1alpha()
        .map_err(|e| StartError::Reflection(e.to_string()))?;
    let (health_reporter, health) = tonic_health::server::health_reporter();
    // The overall status ("") starts as SERVING; mark our service too.
    health_reporter
        .set_serving::<UserServiceServer<UserGrpc>>()
        .await;
    Ok(tonic::transport::Server::builder()
        .add_service(UserServiceServer::new(UserGrpc(shared)))
        .add_service(health)
        .add_service(v1)
        .add_service(v1alpha))
}

async fn consume_loop(
    url: String,
    topology: Topology,
    shared: Shared,
    (tally, state): (ConsumerTally, watch::Sender<ConsumerState>),
    shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(250);
    loop {
        let _ = state.send(ConsumerState::Connecting);
        let run = consume_once(&url, &topology, &shared, (&tally, &state), shutdown.clone());
        match run.await {
            Ok(()) => return,
            Err(err) => {
                tracing::warn!(%err, "order consumer down; retrying in {backoff:?}");
                let _ = state.send(ConsumerState::Down(err));
            }
        }
        tokio::select! {
            _ = stopped(shutdown.clone()) => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Consumes until shutdown (`Ok`) or until the broker fails (`Err` with the reason).
async fn consume_once(
    url: &str,
    topology: &Topology,
    shared: &Shared,
    (tally, state): (&ConsumerTally, &watch::Sender<ConsumerState>),
    shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let props = ConnectionProperties::default().with_connection_name("demo user-service".into());
    let conn = tokio::time::timeout(
        Duration::from_secs(10),
        switchboard_engine::amqp::connect_kept(url, props),
    )
    .await
    .map_err(|_| "timed out connecting to the broker".to_string())?
    .map_err(|e| format!("cannot connect to the broker: {e}"))?;
    let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
    topology
        .declare(&channel)
        .await
        .map_err(|e| format!("cannot declare the order topology: {e}"))?;
    channel
        .basic_qos(64, BasicQosOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let mut consumer = channel
        .basic_consume(
            topology.queue.as_str().into(),
            "user-service".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
    let _ = state.send(tally.state());
    let stop = stopped(shutdown);
    tokio::pin!(stop);
    loop {
        let delivery = tokio::select! {
            _ = &mut stop => {
                let _ = conn.close(200, "user service stopping".into()).await;
                return Ok(());
            }
            delivery = consumer.next() => delivery,
        };
        let delivery = match delivery {
            Some(Ok(delivery)) => delivery,
            Some(Err(err)) => return Err(format!("consumer failed: {err}")),
            None => return Err("the broker closed the consumer".to_string()),
        };
        // The consumer span, under the producer's context the message carries.
        let cx = telemetry::start_span(
            shared.telemetry.as_deref(),
            format!("{} process", topology.queue),
            Kind::Consumer,
            &amqp_trace_context(&delivery.properties),
            vec![
                Attribute::new("messaging.system", "rabbitmq"),
                Attribute::new("messaging.destination.name", topology.queue.clone()),
                Attribute::new("messaging.operation.type", "process"),
            ],
        );
        let store = &shared.store;
        let mut rejected = None;
        match parse_order(&delivery.data) {
            Ok(order) => {
                if store.record_order(&order.user_id, &order.order_id) {
                    delivery
                        .ack(BasicAckOptions::default())
                        .await
                        .map_err(|e| e.to_string())?;
                    let _ = state.send(tally.consumed(1));
                } else {
                    // The asynchronous user check (the Order Service took the order without
                    // asking): an order for an unknown user goes to the dead-letter queue.
                    let reason = format!(
                        "no user {:?} (checked when the order was consumed)",
                        order.user_id
                    );
                    tracing::warn!(user_id = %order.user_id, "order for an unknown user");
                    dead_letter(&channel, topology, &delivery, &reason).await?;
                    rejected = Some(reason);
                }
            }
            Err(reason) => {
                tracing::warn!(
                    %reason,
                    routing_key = %delivery.routing_key,
                    "rejecting an unreadable order message to the dead-letter queue"
                );
                dead_letter(&channel, topology, &delivery, &reason).await?;
                rejected = Some(reason);
            }
        }
        telemetry::end(
            &cx,
            rejected
                .as_ref()
                .map(|reason| format!("dead-lettered: {reason}")),
        );
        if let Some(reason) = rejected {
            let _ = state.send(tally.dead_lettered(reason));
        }
    }
}

/// The trace context an AMQP message carries in its headers (`traceparent`, `tracestate`).
fn amqp_trace_context(properties: &lapin::BasicProperties) -> telemetry::TraceContext {
    let pairs: Vec<(String, String)> = properties
        .headers()
        .as_ref()
        .map(|table| {
            table
                .inner()
                .iter()
                .filter_map(|(k, v)| match v {
                    lapin::types::AMQPValue::LongString(s) => {
                        Some((k.as_str().to_string(), s.to_string()))
                    }
                    lapin::types::AMQPValue::ShortString(s) => {
                        Some((k.as_str().to_string(), s.as_str().to_string()))
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    telemetry::extract(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Moves an unreadable message to the dead-letter exchange with the reason in its
/// `x-reject-reason` header (a plain reject could not say why), then acks the original. Should
/// the republish fail, the message is rejected to the dead-letter exchange as before.
async fn dead_letter(
    channel: &lapin::Channel,
    topology: &Topology,
    delivery: &lapin::message::Delivery,
    reason: &str,
) -> Result<(), String> {
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    headers.insert(
        "x-reject-reason".into(),
        lapin::types::AMQPValue::LongString(reason.into()),
    );
    let properties = delivery.properties.clone().with_headers(headers);
    let republished = async {
        channel
            .basic_publish(
                topology.dead_letter_exchange.as_str().into(),
                delivery.routing_key.clone(),
                lapin::options::BasicPublishOptions::default(),
                &delivery.data,
                properties,
            )
            .await?
            .await
    }
    .await;
    let settled = match republished {
        Ok(_) => delivery.ack(BasicAckOptions::default()).await,
        Err(_) => delivery.reject(BasicRejectOptions { requeue: false }).await,
    };
    settled.map(|_| ()).map_err(|e| e.to_string())
}

pub(crate) fn parse_order(body: &[u8]) -> Result<OrderCreated, String> {
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8".to_string())?;
    serde_json::from_str(text).map_err(|e| format!("not an OrderCreated JSON event: {e}"))
}
