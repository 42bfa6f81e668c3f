//! The app's background side: runs requests and the demo services on the tokio runtime, and
//! reports back through a bounded event channel, requesting a repaint after each event.
//! The UI only sends [`Command`]s (never blocking) and drains [`Event`]s once per frame.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use demo_services::demo::BrokerProbe;
use demo_services::supervisor::{ServiceId, ServiceStatus, Supervisor};
use demo_services::{ConsumerState, DemoConfig};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::engine::WatchRequest;
use crate::engine::amqp::{Watch, WatchSource, WatchedMessage};
use crate::engine::collection::{Collection, SecretStore};
use crate::engine::history::HistoryEntry;
use crate::engine::http::{self, HttpRequest};
use crate::engine::recorder::unix_ms;
use crate::engine::store::Prepared;
use crate::engine::timeline::{Clock, Phase};
use crate::engine::watch::WatchEvent;
use crate::engine::{Exchange, ExchangeError, Header, Message, RequestSpec, Transport};

use super::files::{CollectionOp, Files, OpDone, OpError};

mod error;
pub use error::{BackendError, Starting};

/// UI -> backend.
#[derive(Debug, Clone)]
pub enum Command {
    Send {
        id: u64,
        spec: Box<RequestSpec>,
        /// The trace context put in the request's headers, when it was.
        trace: Option<crate::engine::trace::TraceContext>,
    },
    /// `POST` an order to the Order Service, then wait for its event on the app's tap.
    PlaceOrder {
        id: u64,
        request: Box<HttpRequest>,
        trace: Option<crate::engine::trace::TraceContext>,
    },
    Cancel {
        id: u64,
    },
    StopService(ServiceId),
    StartService(ServiceId),
    /// Start a private RabbitMQ node (free ports, data in the data directory) and move the
    /// demo's RabbitMQ side to it.
    StartRabbit,
    /// Start a private nats-server (free port, JetStream in the data directory) and move the
    /// demo's NATS side to it.
    StartNats,
    /// List a NATS server's streams and their consumers.
    NatsStreams {
        url: String,
    },
    /// Get, put or list the history of a key-value entry.
    NatsKv {
        ask: super::streams_view::KvAsk,
    },
    /// A Kafka browser request: topics, groups or a page of a partition.
    Kafka {
        ask: super::kafka_view::KafkaAction,
    },
    /// How the Order Service checks users: gRPC, HTTP or not at all (checked when consumed).
    SetUserCheck(demo_services::UserCheck),
    SetKnobs {
        service: ServiceId,
        latency_ms: u64,
        failure_rate: f64,
    },
    StartWatch {
        id: u64,
        spec: Box<WatchRequest>,
        /// How many messages the tab stored (a consume acks only those).
        delivered: crate::engine::watch::Delivered,
    },
    StopWatch {
        id: u64,
    },
    /// Publish many (AMQP, NATS or Kafka), reporting progress.
    PublishMany {
        id: u64,
        job: Box<crate::engine::PublishManyJob>,
    },
    Load {
        id: u64,
        spec: Box<crate::engine::load::LoadSpec>,
    },
    /// Start a streaming gRPC call whose request messages come one by one (`StreamSend`).
    OpenStream {
        id: u64,
        request: Box<crate::engine::grpc::GrpcRequest>,
    },
    /// Send one request message (JSON) on open stream `id`.
    StreamSend {
        id: u64,
        json: String,
    },
    /// No more request messages on stream `id`.
    HalfClose {
        id: u64,
    },
    /// Load descriptors for `addr` (used by later gRPC sends to that address).
    Discover {
        addr: String,
        source: crate::engine::descriptors::DescriptorSource,
        tls: crate::engine::net::TlsOptions,
    },
    /// Ask the user for a file (rfd); answered by [`Event::PickedPath`].
    PickPath {
        purpose: PathPurpose,
    },
    /// Write messages as JSON Lines, atomically.
    Export {
        path: PathBuf,
        messages: Vec<WatchedMessage>,
    },
    /// Read a `watch --json` file into a new viewer tab.
    Import {
        path: PathBuf,
    },
    /// Change or (re)load the collection at `root`; answered by [`Event::Collection`].
    Collection {
        root: PathBuf,
        op: Box<CollectionOp>,
    },
    /// Run every request of the collection at `root`; answered by [`Event::RunResult`]s and
    /// [`Event::Done`].
    RunCollection {
        id: u64,
        root: PathBuf,
        options: Box<crate::engine::collection::run::RunOptions>,
    },
    /// List the collections in the data directory, writing the sample there first on the
    /// first launch; answered by [`Event::CollectionsFound`].
    FindCollections {
        install_sample: bool,
    },
    /// Keep a sent exchange in the persisted history.
    RecordHistory(Box<HistoryEntry>),
    /// Keep the spans that arrived for a history entry's trace with it.
    RecordSpans {
        trace_id: String,
        spans: Vec<crate::engine::trace::TimelineSpan>,
    },
    ClearHistory,
    Shutdown,
}

/// Why a file is being picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathPurpose {
    /// Where to export viewer messages.
    Export,
    /// A `watch --json` file to open in the viewer.
    Import,
    /// A collection folder to open.
    CollectionFolder,
    /// A Postman collection to import.
    Postman,
}

/// Whether the broker answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerState {
    Unknown,
    Up,
    Down(BackendError),
}

/// Backend -> UI.
#[derive(Debug, Clone)]
pub enum Event {
    /// The OTLP receiver is up (or could not start).
    Traces(Result<TracesUp, BackendError>),
    DemoStarted {
        config: Box<DemoConfig>,
        notes: Vec<String>,
    },
    DemoFailed(BackendError),
    /// The depth of a demo queue (polled twice a second while the demo runs), or why not.
    QueueDepth {
        queue: String,
        result: Result<crate::engine::amqp::probe::QueueDepth, BackendError>,
    },
    /// How many orders wait for the User Service's JetStream consumer (`consumer`, polled twice
    /// a second while the demo runs; less often while the server is down), or why not.
    NatsPending {
        consumer: String,
        result: Result<crate::engine::nats::streams::ConsumerSummary, BackendError>,
    },
    /// The lag of the User Service's Kafka group (`group`) on the orders topic (polled every
    /// second while the demo runs; less often while the broker is down), or why not.
    KafkaLag {
        group: String,
        result: Result<crate::engine::kafka::admin::GroupLag, BackendError>,
    },
    /// A private RabbitMQ node listens at `url` (the demo moved to it).
    RabbitStarted {
        url: String,
    },
    Services(Vec<ServiceStatus>),
    ServiceError(BackendError),
    Broker(BrokerState),
    /// Whether the NATS server answers; `url` is the one watched.
    Nats {
        url: String,
        state: BrokerState,
    },
    /// The streams of the NATS server at `url`, or why they could not be listed.
    NatsStreams {
        url: String,
        result: Result<Vec<crate::engine::nats::streams::StreamSummary>, BackendError>,
    },
    /// A key-value answer (`what` was asked).
    NatsKv {
        what: String,
        result: Result<Vec<crate::engine::nats::streams::KvEntry>, BackendError>,
    },
    /// Kafka topics at `url`, or why they could not be listed.
    KafkaTopics {
        url: String,
        result: Result<Vec<crate::engine::kafka::admin::TopicInfo>, BackendError>,
    },
    /// Kafka consumer groups at `url`.
    KafkaGroups {
        url: String,
        result: Result<Vec<crate::engine::kafka::admin::GroupInfo>, BackendError>,
    },
    /// A page of a partition.
    KafkaPage {
        ask: super::kafka_view::BrowseAsk,
        result: Result<crate::engine::kafka::watch::Page, BackendError>,
    },
    /// A private nats-server runs at `url` (stopped with the app).
    NatsStarted {
        url: String,
    },
    Consumer(Option<ConsumerState>),
    /// The User Service's consumer of the Kafka orders topic (group `user-service`).
    KafkaConsumer(Option<ConsumerState>),
    /// The User Service's durable pull consumer of the NATS orders stream (`user-service`).
    NatsConsumer(Option<ConsumerState>),
    /// Whether the Kafka broker answers (`url` is the one watched).
    Kafka {
        url: String,
        state: BrokerState,
    },
    /// Results of request `id` (several for a multi-message publish or an order + its delivery).
    Exchanges {
        id: u64,
        exchanges: Vec<Exchange>,
    },
    /// Request `id` is over (finished or cancelled).
    Done {
        id: u64,
        cancelled: bool,
    },
    /// Progress of publish-many `id` (the last one has `done`).
    PublishProgress {
        id: u64,
        progress: crate::engine::publish_many::Progress,
    },
    PublishFailed {
        id: u64,
        error: BackendError,
    },
    LoadProgress {
        id: u64,
        progress: crate::engine::load::LoadProgress,
    },
    Discovered {
        addr: String,
        result: Result<Vec<crate::engine::descriptors::MethodInfo>, BackendError>,
    },
    LoadDone {
        id: u64,
        result: Result<Box<crate::engine::load::LoadReport>, BackendError>,
    },
    /// Messages for watch `id`, ready to store.
    WatchMessages {
        id: u64,
        batch: Prepared,
    },
    /// A message was sent on open stream `id`, or could not be (invalid JSON…).
    StreamSent {
        id: u64,
        result: Result<(), BackendError>,
    },
    /// A message of gRPC call `id`'s response stream, as it arrived.
    StreamMessage {
        id: u64,
        message: crate::engine::grpc::Received,
    },
    /// Something happened to watch `id`.
    Watch {
        id: u64,
        event: WatchEvent,
    },
    /// `None`: cancelled, or no file dialog on this system (type a path instead).
    PickedPath {
        purpose: PathPurpose,
        path: Option<PathBuf>,
    },
    Exported {
        path: PathBuf,
        result: Result<usize, BackendError>,
    },
    Imported {
        path: PathBuf,
        result: Result<Vec<WatchedMessage>, BackendError>,
    },
    /// An operation on the collection at `root` ended; the collection as now on disk and the
    /// secrets to resolve its variables come with it.
    Collection {
        root: PathBuf,
        op: Box<CollectionOp>,
        result: Result<OpDone, OpError>,
        collection: Result<Box<Collection>, BackendError>,
        secrets: Box<SecretStore>,
    },
    /// An import into the collection at `root` has written `written` of `total` requests.
    ImportProgress {
        root: PathBuf,
        written: usize,
        total: usize,
    },
    CollectionsFound(Result<Vec<PathBuf>, BackendError>),
    /// One request of collection run `id` is done (or the run could not start: `Err`).
    RunResult {
        id: u64,
        result: Result<Box<crate::engine::collection::run::RunResult>, BackendError>,
    },
    /// The persisted history, oldest first, and anything worth saying about it.
    HistoryLoaded {
        entries: Vec<HistoryEntry>,
        note: Option<String>,
    },
}

/// What the UI holds: a command sender and an event receiver, both bounded.
pub struct BackendHandle {
    commands: mpsc::Sender<Command>,
    pub events: mpsc::Receiver<Event>,
    /// The file side, shared so that the app can keep its editors' credentials in the secret
    /// store when it saves its state (under the same lock as every other secret write).
    pub files: SharedFiles,
}

/// [`Files`] behind the lock every user of the secret store takes.
pub type SharedFiles = Arc<std::sync::Mutex<Files>>;

impl BackendHandle {
    /// Queues a command without blocking; returns false if the backend is gone or saturated.
    pub fn send(&self, command: Command) -> bool {
        self.commands.try_send(command).is_ok()
    }
}

/// Options for the backend.
#[derive(Debug, Clone)]
pub struct BackendOptions {
    /// Start the demo services in-process with this configuration.
    pub demo: Option<DemoConfig>,
    /// Broker to watch for status (and the tap for "Place order").
    pub amqp_url: String,
    /// NATS server to watch for status.
    pub nats_url: String,
    /// Kafka broker to watch for status.
    pub kafka_url: String,
    /// Where history, secrets and new collections are kept.
    pub data_dir: PathBuf,
    /// Where the OTLP receiver listens: OTLP/HTTP and OTLP/gRPC (a free port when one is
    /// taken); `None`: no receiver.
    pub otlp_addr: Option<(std::net::SocketAddr, std::net::SocketAddr)>,
}

/// The running OTLP receiver, as the app shows it and reads its spans.
#[derive(Clone)]
pub struct TracesUp {
    /// What to set `OTEL_EXPORTER_OTLP_ENDPOINT` to (OTLP/HTTP).
    pub endpoint: String,
    /// The OTLP/gRPC endpoint, when it is served.
    pub grpc_endpoint: Option<String>,
    /// Why a default port was not used, when one was not.
    pub fallback: Option<String>,
    pub store: Arc<crate::engine::trace::SpanStore>,
}

impl std::fmt::Debug for TracesUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracesUp")
            .field("endpoint", &self.endpoint)
            .field("fallback", &self.fallback)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Outbox {
    events: mpsc::Sender<Event>,
    repaint: Arc<dyn Fn() + Send + Sync>,
}

impl Outbox {
    /// A bounded sender whose items reach the UI as `event(item)`, and the task forwarding them
    /// (it ends when the sender is dropped).
    fn forwarder<T: Send + 'static>(
        &self,
        capacity: usize,
        event: impl Fn(T) -> Event + Send + 'static,
    ) -> (mpsc::Sender<T>, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel(capacity);
        let outbox = self.clone();
        let task = tokio::spawn(async move {
            while let Some(item) = rx.recv().await {
                outbox.send(event(item)).await;
            }
        });
        (tx, task)
    }

    /// Request `id` is over.
    async fn done(&self, id: u64) {
        self.send(Event::Done {
            id,
            cancelled: false,
        })
        .await;
    }

    async fn send(&self, event: Event) {
        if self.events.send(event).await.is_ok() {
            (self.repaint)();
        }
    }

    /// From a blocking thread, for events that may be dropped when the UI is behind
    /// (progress: the next one says more).
    fn offer(&self, event: Event) {
        if self.events.try_send(event).is_ok() {
            (self.repaint)();
        }
    }
}

/// Starts the backend on `runtime`. `repaint` is called after every event.
pub fn spawn(
    runtime: &tokio::runtime::Handle,
    options: BackendOptions,
    repaint: Arc<dyn Fn() + Send + Sync>,
) -> BackendHandle {
    let (commands, command_rx) = mpsc::channel(64);
    let (event_tx, events) = mpsc::channel(256);
    let outbox = Outbox {
        events: event_tx,
        repaint,
    };
    let files = Arc::new(std::sync::Mutex::new(Files::new(&options.data_dir)));
    runtime.spawn(run(options, command_rx, outbox, files.clone()));
    BackendHandle {
        commands,
        events,
        files,
    }
}

mod browse;
mod requests;
mod services;
mod stored;
mod watches;

use services::{forward_consumer, watch_broker, watch_kafka, watch_nats};
use stored::spawn_history;

async fn run(
    options: BackendOptions,
    mut commands: mpsc::Receiver<Command>,
    outbox: Outbox,
    files: SharedFiles,
) {
    let mut backend = Backend::start(options, outbox, files).await;
    while let Some(command) = commands.recv().await {
        backend.running.retain(|_, task| !task.is_finished());
        let running = &backend.running;
        backend
            .stream_cancels
            .retain(|id, _| running.contains_key(id));
        match command {
            Command::Send { id, spec, trace } => backend.send(id, spec, trace).await,
            Command::PlaceOrder { id, request, trace } => {
                backend.place_order(id, request, trace).await
            }
            Command::Cancel { id } => backend.cancel(id).await,
            Command::StopService(service) => backend.stop_service(service).await,
            Command::StartService(service) => backend.start_service(service).await,
            Command::NatsStreams { url } => backend.nats_streams(url).await,
            Command::Kafka { ask } => backend.kafka(ask).await,
            Command::NatsKv { ask } => backend.nats_kv(ask).await,
            Command::StartNats => backend.start_nats().await,
            Command::SetKnobs {
                service,
                latency_ms,
                failure_rate,
            } => backend.set_knobs(service, latency_ms, failure_rate).await,
            Command::StartWatch {
                id,
                spec,
                delivered,
            } => backend.start_watch(id, spec, delivered).await,
            Command::PublishMany { id, job } => backend.publish_many(id, job).await,
            Command::Load { id, spec } => backend.load(id, spec).await,
            Command::OpenStream { id, request } => backend.open_stream(id, request).await,
            Command::StreamSend { id, json } => backend.stream_send(id, json).await,
            Command::HalfClose { id } => backend.half_close(id).await,
            Command::Discover { addr, source, tls } => backend.discover(addr, source, tls).await,
            Command::StopWatch { id } => backend.stop_watch(id).await,
            Command::PickPath { purpose } => backend.pick_path(purpose).await,
            Command::Export { path, messages } => backend.export(path, messages).await,
            Command::Import { path } => backend.import(path).await,
            Command::Collection { root, op } => backend.collection(root, op).await,
            Command::RunCollection { id, root, options } => {
                backend.run_collection(id, root, options).await
            }
            Command::FindCollections { install_sample } => {
                backend.find_collections(install_sample).await
            }
            Command::RecordHistory(entry) => backend.record_history(entry).await,
            Command::RecordSpans { trace_id, spans } => backend.record_spans(trace_id, spans),
            Command::ClearHistory => backend.clear_history().await,
            Command::SetUserCheck(check) => backend.set_user_check(check).await,
            Command::StartRabbit => backend.start_rabbit().await,
            Command::Shutdown => break,
        }
    }
    backend.shutdown().await;
}

/// Descriptors discovered per gRPC address.
type Pools = Arc<std::sync::Mutex<HashMap<String, prost_reflect::DescriptorPool>>>;

/// The descriptors for a gRPC address: discovered ones, else the bundled proto.
fn pool_for(
    pools: &Pools,
    addr: &str,
    builtin: &Option<prost_reflect::DescriptorPool>,
) -> Option<prost_reflect::DescriptorPool> {
    let known = pools
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(addr.trim())
        .cloned();
    known.or_else(|| builtin.clone())
}

/// The backend's state between commands; one handler per command, grouped by concern in the
/// submodules.
struct Backend {
    options: BackendOptions,
    outbox: Outbox,
    files: SharedFiles,
    /// The OTLP receiver the services export spans to (dropping it stops it).
    _receiver: Option<crate::engine::trace::receiver::Receiver>,
    spans_task: Option<JoinHandle<()>>,
    supervisor: Option<Supervisor>,
    /// Deliveries seen by the app's tap (for "Place order").
    deliveries: broadcast::Sender<(Instant, WatchedMessage)>,
    broker_task: JoinHandle<()>,
    nats_task: JoinHandle<()>,
    kafka_task: JoinHandle<()>,
    private_nats: Option<demo_services::nats_server::PrivateNats>,
    private_rabbit: Option<demo_services::rabbitmq_server::PrivateRabbit>,
    tap_task: Option<JoinHandle<()>>,
    /// Polls the depth of the User Service's queue.
    queue_task: Option<JoinHandle<()>>,
    /// Polls the pending orders of the User Service's JetStream consumer.
    nats_pending_task: Option<JoinHandle<()>>,
    /// Polls the lag of the User Service's Kafka group.
    kafka_lag_task: Option<JoinHandle<()>>,
    consumer_task: Option<JoinHandle<()>>,
    history: Option<std::sync::mpsc::SyncSender<stored::HistoryOp>>,
    /// The bundled proto's descriptors.
    pool: Option<prost_reflect::DescriptorPool>,
    /// Descriptors discovered per gRPC address; sends to other addresses use the bundled proto.
    pools: Pools,
    running: HashMap<u64, JoinHandle<()>>,
    watches: HashMap<u64, CancellationToken>,
    stream_cancels: HashMap<u64, CancellationToken>,
    open_streams: HashMap<
        u64,
        (
            mpsc::Sender<prost_reflect::DynamicMessage>,
            prost_reflect::MethodDescriptor,
        ),
    >,
}

impl Backend {
    /// Starts the demo (if asked) and the status watchers.
    async fn start(options: BackendOptions, outbox: Outbox, files: SharedFiles) -> Self {
        let mut supervisor = None;
        let (deliveries, _) = broadcast::channel::<(Instant, WatchedMessage)>(1024);
        // The OTLP receiver first: the demo services export their spans to it.
        let receiver = match options.otlp_addr {
            Some((addr, grpc)) => match crate::engine::trace::receiver::Receiver::start(addr).await
            {
                Ok(mut r) => {
                    if let Err(e) = r.serve_grpc(grpc).await {
                        tracing::warn!(%e, "no OTLP/gRPC receiver on {grpc}");
                    }
                    Some(r)
                }
                Err(e) => {
                    outbox
                        .send(Event::Traces(Err(BackendError::start(
                            Starting::Traces,
                            format!("the OTLP receiver could not listen on {addr}: {e}"),
                        ))))
                        .await;
                    None
                }
            },
            None => None,
        };
        let spans_task = receiver.as_ref().map(|r| {
            let store = r.store();
            let outbox = outbox.clone();
            tokio::spawn(async move {
                loop {
                    store.changed().await;
                    (outbox.repaint)();
                }
            })
        });
        if let Some(r) = &receiver {
            outbox
                .send(Event::Traces(Ok(TracesUp {
                    endpoint: r.endpoint(),
                    grpc_endpoint: r.grpc_endpoint(),
                    fallback: [r.fallback(), r.grpc_fallback()]
                        .into_iter()
                        .flatten()
                        .map(str::to_string)
                        .reduce(|a, b| format!("{a}; {b}")),
                    store: r.store(),
                })))
                .await;
        }
        let mut demo = options.demo.clone();
        if let (Some(config), Some(r)) = (&mut demo, &receiver)
            && config.otlp_endpoint.is_none()
        {
            config.otlp_endpoint = Some(r.endpoint());
        }
        if let Some(config) = demo {
            match Supervisor::start(config, true).await {
                Ok(s) => {
                    let config = s.config().clone();
                    outbox
                        .send(Event::DemoStarted {
                            config: Box::new(config),
                            notes: s.notes.clone(),
                        })
                        .await;
                    let broker = match &s.broker {
                        BrokerProbe::Reachable => BrokerState::Up,
                        BrokerProbe::Unreachable(why) => {
                            BrokerState::Down(BackendError::Exchange(ExchangeError {
                                kind: crate::engine::ErrorKind::ConnectionRefused,
                                phase: None,
                                message: why.clone(),
                            }))
                        }
                    };
                    outbox.send(Event::Broker(broker)).await;
                    outbox.send(Event::Services(s.status())).await;
                    supervisor = Some(s);
                }
                Err(err) => {
                    outbox
                        .send(Event::DemoFailed(BackendError::start(
                            Starting::Demo,
                            err.to_string(),
                        )))
                        .await
                }
            }
        }
        let broker_task = tokio::spawn(watch_broker(options.amqp_url.clone(), outbox.clone()));
        let nats_task = tokio::spawn(watch_nats(options.nats_url.clone(), outbox.clone()));
        let kafka_task = tokio::spawn(watch_kafka(options.kafka_url.clone(), outbox.clone()));
        let consumer_task = forward_consumer(supervisor.as_ref(), &outbox);
        let (tap_task, queue_task) = supervisor
            .as_ref()
            .map(|s| {
                services::amqp_watchers(
                    &options.amqp_url,
                    &s.config().topology,
                    &deliveries,
                    &outbox,
                )
            })
            .unzip();
        let nats_pending_task = supervisor
            .as_ref()
            .and_then(|s| services::nats_pending_watcher(s.config(), &outbox));
        let kafka_lag_task = supervisor
            .as_ref()
            .and_then(|s| services::kafka_lag_watcher(s.config(), &outbox));
        let history = spawn_history(&options.data_dir, outbox.clone());

        Backend {
            options,
            outbox,
            files,
            _receiver: receiver,
            spans_task,
            supervisor,
            deliveries,
            broker_task,
            nats_task,
            kafka_task,
            private_nats: None,
            private_rabbit: None,
            tap_task,
            queue_task,
            nats_pending_task,
            kafka_lag_task,
            consumer_task,
            history,
            pool: crate::engine::grpc::builtin_pool().ok(),
            pools: Pools::default(),
            running: HashMap::new(),
            watches: HashMap::new(),
            stream_cancels: HashMap::new(),
            open_streams: HashMap::new(),
        }
    }
    async fn shutdown(self) {
        let Backend {
            watches,
            running,
            broker_task,
            nats_task,
            kafka_task,
            private_nats,
            private_rabbit,
            tap_task,
            queue_task,
            nats_pending_task,
            kafka_lag_task,
            consumer_task,
            supervisor,
            spans_task,
            ..
        } = self;
        if let Some(task) = spans_task {
            task.abort();
        }
        for cancel in watches.into_values() {
            cancel.cancel();
        }
        for task in running.into_values() {
            task.abort();
        }
        broker_task.abort();
        nats_task.abort();
        if let Some(server) = private_nats {
            server.stop().await;
        }
        if let Some(task) = tap_task {
            task.abort();
        }
        for task in [queue_task, nats_pending_task, kafka_lag_task]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
        if let Some(task) = consumer_task {
            task.abort();
        }
        if let Some(s) = supervisor {
            s.shutdown().await;
        }
        if let Some(node) = private_rabbit {
            node.stop().await;
        }
        kafka_task.abort();
    }
}
