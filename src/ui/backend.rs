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
use crate::engine::{Exchange, Header, Message, RequestSpec, Transport};

use super::files::{CollectionOp, Files, OpDone, OpError};

/// UI -> backend.
#[derive(Debug, Clone)]
pub enum Command {
    Send {
        id: u64,
        spec: Box<RequestSpec>,
    },
    /// `POST` an order to the Order Service, then wait for its event on the app's tap.
    PlaceOrder {
        id: u64,
        request: Box<HttpRequest>,
    },
    Cancel {
        id: u64,
    },
    StopService(ServiceId),
    StartService(ServiceId),
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
    Down(String),
}

/// Backend -> UI.
#[derive(Debug, Clone)]
pub enum Event {
    DemoStarted {
        config: Box<DemoConfig>,
        notes: Vec<String>,
    },
    DemoFailed(String),
    Services(Vec<ServiceStatus>),
    ServiceError(String),
    Broker(BrokerState),
    /// Whether the NATS server answers; `url` is the one watched.
    Nats {
        url: String,
        state: BrokerState,
    },
    /// The streams of the NATS server at `url`, or why they could not be listed.
    NatsStreams {
        url: String,
        result: Result<Vec<crate::engine::nats::streams::StreamSummary>, String>,
    },
    /// A key-value answer (`what` was asked).
    NatsKv {
        what: String,
        result: Result<Vec<crate::engine::nats::streams::KvEntry>, String>,
    },
    /// Kafka topics at `url`, or why they could not be listed.
    KafkaTopics {
        url: String,
        result: Result<Vec<crate::engine::kafka::admin::TopicInfo>, String>,
    },
    /// Kafka consumer groups at `url`.
    KafkaGroups {
        url: String,
        result: Result<Vec<crate::engine::kafka::admin::GroupInfo>, String>,
    },
    /// A page of a partition.
    KafkaPage {
        ask: super::kafka_view::BrowseAsk,
        result: Result<crate::engine::kafka::watch::Page, String>,
    },
    /// A private nats-server runs at `url` (stopped with the app).
    NatsStarted {
        url: String,
    },
    Consumer(Option<ConsumerState>),
    /// The User Service's consumer of the Kafka orders topic (group `user-service`).
    KafkaConsumer(Option<ConsumerState>),
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
        message: String,
    },
    LoadProgress {
        id: u64,
        progress: crate::engine::load::LoadProgress,
    },
    Discovered {
        addr: String,
        result: Result<Vec<crate::engine::descriptors::MethodInfo>, String>,
    },
    LoadDone {
        id: u64,
        result: Result<Box<crate::engine::load::LoadReport>, String>,
    },
    /// Messages for watch `id`, ready to store.
    WatchMessages {
        id: u64,
        batch: Vec<Prepared>,
    },
    /// A message was sent on open stream `id`, or could not be (invalid JSON…).
    StreamSent {
        id: u64,
        result: Result<(), String>,
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
        result: Result<usize, String>,
    },
    Imported {
        path: PathBuf,
        result: Result<Vec<WatchedMessage>, String>,
    },
    /// An operation on the collection at `root` ended; the collection as now on disk and the
    /// secrets to resolve its variables come with it.
    Collection {
        root: PathBuf,
        op: Box<CollectionOp>,
        result: Result<OpDone, OpError>,
        collection: Result<Box<Collection>, String>,
        secrets: Box<SecretStore>,
    },
    /// An import into the collection at `root` has written `written` of `total` requests.
    ImportProgress {
        root: PathBuf,
        written: usize,
        total: usize,
    },
    CollectionsFound(Result<Vec<PathBuf>, String>),
    /// One request of collection run `id` is done (or the run could not start: `Err`).
    RunResult {
        id: u64,
        result: Result<Box<crate::engine::collection::run::RunResult>, String>,
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

async fn run(
    options: BackendOptions,
    mut commands: mpsc::Receiver<Command>,
    outbox: Outbox,
    files: SharedFiles,
) {
    let mut supervisor = None;
    let (deliveries, _) = broadcast::channel::<(Instant, WatchedMessage)>(1024);
    let mut tap_exchange = None;
    if let Some(config) = options.demo.clone() {
        match Supervisor::start(config, true).await {
            Ok(s) => {
                let config = s.config().clone();
                tap_exchange = Some(config.topology.exchange.clone());
                outbox
                    .send(Event::DemoStarted {
                        config: Box::new(config),
                        notes: s.notes.clone(),
                    })
                    .await;
                let broker = match &s.broker {
                    BrokerProbe::Reachable => BrokerState::Up,
                    BrokerProbe::Unreachable(why) => BrokerState::Down(why.clone()),
                };
                outbox.send(Event::Broker(broker)).await;
                outbox.send(Event::Services(s.status())).await;
                supervisor = Some(s);
            }
            Err(err) => outbox.send(Event::DemoFailed(err.to_string())).await,
        }
    }
    let broker_task = tokio::spawn(watch_broker(options.amqp_url.clone(), outbox.clone()));
    let mut nats_task = tokio::spawn(watch_nats(options.nats_url.clone(), outbox.clone()));
    let kafka_task = tokio::spawn(watch_kafka(options.kafka_url.clone(), outbox.clone()));
    let mut private_nats: Option<demo_services::nats_server::PrivateNats> = None;
    let tap_task = tap_exchange.map(|exchange| {
        tokio::spawn(keep_tap(
            options.amqp_url.clone(),
            exchange,
            deliveries.clone(),
        ))
    });
    let mut consumer_task = forward_consumer(supervisor.as_ref(), &outbox);
    let history = spawn_history(&options.data_dir, outbox.clone());

    let pool = crate::engine::grpc::builtin_pool().ok();
    // Descriptors discovered per gRPC address; sends to other addresses use the bundled proto.
    let pools: Arc<std::sync::Mutex<HashMap<String, prost_reflect::DescriptorPool>>> =
        Arc::default();
    let pool_for = |addr: &str, builtin: &Option<prost_reflect::DescriptorPool>| {
        let known = pools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(addr.trim())
            .cloned();
        known.or_else(|| builtin.clone())
    };
    let mut running: HashMap<u64, JoinHandle<()>> = HashMap::new();
    let mut watches: HashMap<u64, CancellationToken> = HashMap::new();
    let mut stream_cancels: HashMap<u64, CancellationToken> = HashMap::new();
    let mut open_streams: HashMap<
        u64,
        (
            mpsc::Sender<prost_reflect::DynamicMessage>,
            prost_reflect::MethodDescriptor,
        ),
    > = HashMap::new();
    while let Some(command) = commands.recv().await {
        running.retain(|_, task| !task.is_finished());
        stream_cancels.retain(|id, _| running.contains_key(id));
        match command {
            Command::Send { id, spec } => {
                let outbox = outbox.clone();
                let pool = match spec.as_ref() {
                    RequestSpec::Grpc(g) => pool_for(&g.addr, &pool),
                    _ => pool.clone(),
                };
                // gRPC calls report streamed messages as they arrive and stop gracefully.
                let cancel = CancellationToken::new();
                if matches!(spec.as_ref(), RequestSpec::Grpc(_)) {
                    stream_cancels.insert(id, cancel.clone());
                }
                running.insert(
                    id,
                    tokio::spawn(async move {
                        let exchanges = match (&pool, spec.as_ref()) {
                            (Some(pool), RequestSpec::Grpc(req)) => {
                                let (tx, forward) = outbox.forwarder(64, move |message| {
                                    Event::StreamMessage { id, message }
                                });
                                let e = crate::engine::grpc::call_streaming_until(
                                    req,
                                    pool,
                                    None,
                                    None,
                                    Some(tx),
                                    cancel,
                                )
                                .await;
                                let _ = forward.await;
                                vec![e]
                            }
                            (Some(pool), _) => spec.execute(pool).await,
                            (None, _) => Vec::new(),
                        };
                        outbox.send(Event::Exchanges { id, exchanges }).await;
                        outbox.done(id).await;
                    }),
                );
            }
            Command::PlaceOrder { id, request } => {
                let outbox = outbox.clone();
                let deliveries = deliveries.subscribe();
                running.insert(
                    id,
                    tokio::spawn(async move {
                        place_order(id, request, deliveries, &outbox).await;
                        outbox.done(id).await;
                    }),
                );
            }
            Command::Cancel { id } => {
                open_streams.remove(&id);
                if let Some(cancel) = stream_cancels.remove(&id) {
                    // The call ends itself and reports what it got.
                    cancel.cancel();
                } else if let Some(task) = running.remove(&id) {
                    task.abort();
                    outbox
                        .send(Event::Done {
                            id,
                            cancelled: true,
                        })
                        .await;
                }
            }
            Command::StopService(service) => {
                if let Some(s) = supervisor.as_mut() {
                    s.stop_service(service).await;
                    outbox.send(Event::Services(s.status())).await;
                    if service == ServiceId::User {
                        outbox.send(Event::Consumer(None)).await;
                    }
                }
            }
            Command::StartService(service) => {
                if let Some(s) = supervisor.as_mut() {
                    if let Err(err) = s.start_service(service).await {
                        outbox
                            .send(Event::ServiceError(format!(
                                "cannot start the {}: {err}",
                                service.name()
                            )))
                            .await;
                    }
                    outbox.send(Event::Services(s.status())).await;
                    if service == ServiceId::User {
                        if let Some(task) = consumer_task.take() {
                            task.abort();
                        }
                        consumer_task = forward_consumer(Some(s), &outbox);
                    }
                }
            }
            Command::NatsStreams { url } => {
                let outbox = outbox.clone();
                tokio::spawn(async move {
                    let result = crate::engine::nats::streams::list(&url, Duration::from_secs(10))
                        .await
                        .map_err(|e| e.to_string());
                    outbox.send(Event::NatsStreams { url, result }).await;
                });
            }
            Command::Kafka { ask } => {
                let outbox = outbox.clone();
                tokio::spawn(async move {
                    use super::kafka_view::KafkaAction;
                    use crate::engine::kafka::{admin, watch};
                    let event = match ask {
                        KafkaAction::Topics(url) => Event::KafkaTopics {
                            result: admin::topics(&url).await.map_err(|e| e.message),
                            url,
                        },
                        KafkaAction::Groups(url) => Event::KafkaGroups {
                            result: admin::groups(&url).await.map_err(|e| e.message),
                            url,
                        },
                        KafkaAction::Browse(ask) => Event::KafkaPage {
                            result: watch::browse(
                                &ask.url,
                                &ask.topic,
                                ask.partition,
                                ask.offset,
                                ask.max,
                            )
                            .await
                            .map_err(|e| e.message),
                            ask,
                        },
                    };
                    outbox.send(event).await;
                });
            }
            Command::NatsKv { ask } => {
                let outbox = outbox.clone();
                tokio::spawn(async move {
                    use crate::engine::nats::streams;
                    let t = Duration::from_secs(10);
                    let (url, bucket, key) = (&ask.url, &ask.bucket, &ask.key);
                    let result = match (&ask.put, ask.history) {
                        (Some(value), _) => {
                            match streams::kv_put(url, bucket, key, value.clone().into_bytes(), t)
                                .await
                            {
                                Ok(_) => streams::kv_get(url, bucket, key, t)
                                    .await
                                    .map(|e| e.into_iter().collect()),
                                Err(e) => Err(e),
                            }
                        }
                        (None, true) => streams::kv_history(url, bucket, key, t).await,
                        (None, false) => streams::kv_get(url, bucket, key, t)
                            .await
                            .map(|e| e.into_iter().collect()),
                    };
                    let what = ask.describe();
                    outbox
                        .send(Event::NatsKv {
                            what,
                            result: result.map_err(|e| e.message),
                        })
                        .await;
                });
            }
            Command::StartNats => {
                if private_nats.is_some() {
                    continue;
                }
                let dir = options.data_dir.join("nats-server");
                match demo_services::nats_server::PrivateNats::start(&dir).await {
                    Ok(server) => {
                        let url = server.url.clone();
                        private_nats = Some(server);
                        nats_task.abort();
                        kafka_task.abort();
                        nats_task = tokio::spawn(watch_nats(url.clone(), outbox.clone()));
                        if let Some(s) = supervisor.as_mut() {
                            if let Err(err) = s.move_nats(&url).await {
                                outbox
                                    .send(Event::ServiceError(format!(
                                        "the demo cannot move to the new NATS server: {err}"
                                    )))
                                    .await;
                            }
                            outbox.send(Event::Services(s.status())).await;
                        }
                        outbox.send(Event::NatsStarted { url }).await;
                    }
                    Err(err) => {
                        outbox
                            .send(Event::ServiceError(format!(
                                "cannot start a NATS server: {err}"
                            )))
                            .await;
                    }
                }
            }
            Command::SetKnobs {
                service,
                latency_ms,
                failure_rate,
            } => {
                if let Some(s) = supervisor.as_mut() {
                    s.set_knobs(service, latency_ms, failure_rate);
                    outbox.send(Event::Services(s.status())).await;
                }
            }
            Command::StartWatch {
                id,
                spec,
                delivered,
            } => {
                let cancel = CancellationToken::new();
                watches.insert(id, cancel.clone());
                let (tx, mut rx) = mpsc::channel(16);
                tokio::spawn(spec.run(tx, cancel, Some(delivered)));
                let outbox = outbox.clone();
                tokio::spawn(async move {
                    // Messages are converted to their stored form here, off the UI thread.
                    let mut interner = crate::engine::store::Interner::default();
                    while let Some(event) = rx.recv().await {
                        let (event, after) = match event {
                            WatchEvent::Messages(first) => {
                                // Batches that queued up meanwhile go to the UI as one event:
                                // a fast broker must not be limited by events per frame. Each
                                // is converted as it is taken (no copying of whole batches).
                                let queued = first.len() * (1 + rx.len());
                                let mut batch: Vec<Prepared> =
                                    Vec::with_capacity(queued.min(COALESCE + 512));
                                batch.extend(
                                    first.into_iter().map(|m| Prepared::new(m, &mut interner)),
                                );
                                let mut after = None;
                                while batch.len() < COALESCE {
                                    match rx.try_recv() {
                                        Ok(WatchEvent::Messages(more)) => batch.extend(
                                            more.into_iter()
                                                .map(|m| Prepared::new(m, &mut interner)),
                                        ),
                                        Ok(other) => {
                                            after = Some(Event::Watch { id, event: other });
                                            break;
                                        }
                                        Err(_) => break,
                                    }
                                }
                                (Event::WatchMessages { id, batch }, after)
                            }
                            event => (Event::Watch { id, event }, None),
                        };
                        outbox.send(event).await;
                        if let Some(after) = after {
                            outbox.send(after).await;
                        }
                    }
                });
            }
            Command::PublishMany { id, job } => {
                let outbox = outbox.clone();
                running.insert(
                    id,
                    tokio::spawn(async move {
                        let (tx, forward) = outbox
                            .forwarder(8, move |progress| Event::PublishProgress { id, progress });
                        let result = job.run(Some(tx), CancellationToken::new()).await;
                        let _ = forward.await;
                        if let Err(e) = result {
                            outbox
                                .send(Event::PublishFailed {
                                    id,
                                    message: e.to_string(),
                                })
                                .await;
                        }
                        outbox.done(id).await;
                    }),
                );
            }
            Command::Load { id, spec } => {
                let outbox = outbox.clone();
                let pool = match &spec.request {
                    RequestSpec::Grpc(g) => pool_for(&g.addr, &pool),
                    _ => pool.clone(),
                };
                running.insert(
                    id,
                    tokio::spawn(async move {
                        let Some(pool) = pool else { return };
                        let (tx, forward) = outbox
                            .forwarder(8, move |progress| Event::LoadProgress { id, progress });
                        let result = crate::engine::load::run_load(
                            &spec,
                            &pool,
                            Some(tx),
                            CancellationToken::new(),
                        )
                        .await;
                        forward.abort();
                        let result = result.map(Box::new).map_err(|e| e.to_string());
                        outbox.send(Event::LoadDone { id, result }).await;
                        outbox.done(id).await;
                    }),
                );
            }
            Command::OpenStream { id, request } => {
                let Some(pool) = pool_for(&request.addr, &pool) else {
                    continue;
                };
                let method = match crate::engine::grpc::find_method(&pool, &request.method) {
                    Ok(m) => m,
                    Err(e) => {
                        outbox
                            .send(Event::StreamSent {
                                id,
                                result: Err(e.message),
                            })
                            .await;
                        outbox.done(id).await;
                        continue;
                    }
                };
                let (tx, rx) = mpsc::channel(64);
                open_streams.insert(id, (tx, method));
                let cancel = CancellationToken::new();
                stream_cancels.insert(id, cancel.clone());
                let outbox = outbox.clone();
                running.insert(
                    id,
                    tokio::spawn(async move {
                        let (seen_tx, forward) = outbox
                            .forwarder(64, move |message| Event::StreamMessage { id, message });
                        let e = crate::engine::grpc::call_streaming_until(
                            &request,
                            &pool,
                            None,
                            Some(rx),
                            Some(seen_tx),
                            cancel,
                        )
                        .await;
                        let _ = forward.await;
                        outbox
                            .send(Event::Exchanges {
                                id,
                                exchanges: vec![e],
                            })
                            .await;
                        outbox.done(id).await;
                    }),
                );
            }
            Command::StreamSend { id, json } => {
                let result = match open_streams.get(&id) {
                    None => Err("the stream is closed".to_string()),
                    Some((tx, method)) => match crate::engine::grpc::json_to_message(method, &json)
                    {
                        Ok(message) => tx
                            .send(message)
                            .await
                            .map_err(|_| "the call has ended".to_string()),
                        Err(e) => Err(e.message),
                    },
                };
                outbox.send(Event::StreamSent { id, result }).await;
            }
            Command::HalfClose { id } => {
                open_streams.remove(&id);
            }
            Command::Discover { addr, source, tls } => {
                let (outbox, pools) = (outbox.clone(), pools.clone());
                tokio::spawn(async move {
                    let loaded = crate::engine::descriptors::load(
                        &source,
                        &addr,
                        Duration::from_secs(10),
                        &tls,
                    )
                    .await;
                    let result = match loaded {
                        Ok(found) => {
                            let methods = crate::engine::descriptors::methods(&found);
                            pools
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .insert(addr.trim().to_string(), found);
                            Ok(methods)
                        }
                        Err(e) => Err(e.message),
                    };
                    outbox.send(Event::Discovered { addr, result }).await;
                });
            }
            Command::StopWatch { id } => {
                if let Some(cancel) = watches.remove(&id) {
                    cancel.cancel();
                }
            }
            Command::PickPath { purpose } => {
                let outbox = outbox.clone();
                tokio::spawn(async move {
                    let dialog = rfd::AsyncFileDialog::new();
                    let messages = || {
                        dialog
                            .clone()
                            .add_filter("JSON Lines", &["jsonl", "json", "txt"])
                    };
                    let picked = match purpose {
                        PathPurpose::Export => {
                            messages().set_file_name("messages.jsonl").save_file().await
                        }
                        PathPurpose::Import => messages().pick_file().await,
                        PathPurpose::CollectionFolder => {
                            dialog
                                .set_title("Open a collection folder")
                                .pick_folder()
                                .await
                        }
                        PathPurpose::Postman => {
                            dialog
                                .set_title("Import a Postman collection (v2.1)")
                                .add_filter("Postman collection", &["json"])
                                .pick_file()
                                .await
                        }
                    };
                    let path = picked.map(|f| f.path().to_path_buf());
                    outbox.send(Event::PickedPath { purpose, path }).await;
                });
            }
            Command::Export { path, messages } => {
                let outbox = outbox.clone();
                tokio::spawn(async move {
                    let target = path.clone();
                    let result = tokio::task::spawn_blocking(move || export(&target, &messages))
                        .await
                        .unwrap_or_else(|e| Err(e.to_string()));
                    outbox.send(Event::Exported { path, result }).await;
                });
            }
            Command::Import { path } => {
                let outbox = outbox.clone();
                tokio::spawn(async move {
                    let source = path.clone();
                    let result = tokio::task::spawn_blocking(move || {
                        let file = std::fs::File::open(&source)
                            .map_err(|e| format!("cannot open {}: {e}", source.display()))?;
                        crate::engine::store::import_jsonl(std::io::BufReader::new(file))
                    })
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
                    outbox.send(Event::Imported { path, result }).await;
                });
            }
            Command::Collection { root, op } => {
                let outbox = outbox.clone();
                let files = files.clone();
                tokio::spawn(async move {
                    let progress_outbox = outbox.clone();
                    let event = tokio::task::spawn_blocking(move || {
                        let mut files = files.lock().unwrap_or_else(|p| p.into_inner());
                        // An import says how far it got, at most ~20 times a second.
                        let mut last: Option<std::time::Instant> = None;
                        let mut progress = |written: usize, total: usize| {
                            let due = last.is_none_or(|at| at.elapsed().as_millis() >= 50);
                            if due || written == total {
                                last = Some(std::time::Instant::now());
                                progress_outbox.offer(Event::ImportProgress {
                                    root: root.clone(),
                                    written,
                                    total,
                                });
                            }
                        };
                        let result = files.apply_counted(&root, &op, &mut progress);
                        let collection = files.load(&root).map(Box::new);
                        Event::Collection {
                            root,
                            op,
                            result,
                            collection,
                            secrets: Box::new(files.secrets()),
                        }
                    })
                    .await;
                    if let Ok(event) = event {
                        outbox.send(event).await;
                    }
                });
            }
            Command::RunCollection { id, root, options } => {
                let outbox = outbox.clone();
                let files = files.clone();
                running.insert(
                    id,
                    tokio::spawn(async move {
                        let loaded = tokio::task::spawn_blocking(move || {
                            let files = files.lock().unwrap_or_else(|p| p.into_inner());
                            files.load(&root).map(|c| (c, files.secrets()))
                        })
                        .await
                        .unwrap_or_else(|e| Err(e.to_string()));
                        match loaded {
                            Err(e) => outbox.send(Event::RunResult { id, result: Err(e) }).await,
                            Ok((collection, secrets)) => {
                                let (tx, forward) =
                                    outbox.forwarder(collection.items.len() + 1, move |r| {
                                        Event::RunResult {
                                            id,
                                            result: Ok(Box::new(r)),
                                        }
                                    });
                                let result = crate::engine::collection::run::run(
                                    &collection,
                                    &secrets,
                                    &options,
                                    |r| {
                                        let _ = tx.try_send(r.clone());
                                    },
                                )
                                .await;
                                drop(tx);
                                let _ = forward.await;
                                if let Err(e) = result {
                                    outbox
                                        .send(Event::RunResult {
                                            id,
                                            result: Err(e.to_string()),
                                        })
                                        .await;
                                }
                            }
                        }
                        outbox.done(id).await;
                    }),
                );
            }
            Command::FindCollections { install_sample } => {
                let outbox = outbox.clone();
                let files = files.clone();
                tokio::spawn(async move {
                    let result = tokio::task::spawn_blocking(move || {
                        files
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .startup(install_sample)
                    })
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
                    outbox.send(Event::CollectionsFound(result)).await;
                });
            }
            Command::RecordHistory(entry) => {
                if let Some(tx) = &history {
                    // Dropped rather than blocking when the writer is far behind.
                    let _ = tx.try_send(HistoryOp::Push(entry));
                }
            }
            Command::ClearHistory => {
                if let Some(tx) = &history {
                    let _ = tx.try_send(HistoryOp::Clear);
                }
            }
            Command::Shutdown => break,
        }
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
    if let Some(task) = consumer_task {
        task.abort();
    }
    if let Some(s) = supervisor {
        s.shutdown().await;
    }
}

/// Forwards the User Service consumers' state changes (its `order_queue` consumer and its
/// Kafka group member) as events.
fn forward_consumer(supervisor: Option<&Supervisor>, outbox: &Outbox) -> Option<JoinHandle<()>> {
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
async fn watch_kafka(url: String, outbox: Outbox) {
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
async fn watch_broker(amqp_url: String, outbox: Outbox) {
    let Some(addr) = broker_addr(&amqp_url) else {
        outbox
            .send(Event::Broker(BrokerState::Down(format!(
                "cannot read the broker address of {}",
                crate::engine::amqp::redact_url(&amqp_url)
            ))))
            .await;
        return;
    };
    let mut last = BrokerState::Unknown;
    loop {
        let state = match tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect(&addr),
        )
        .await
        {
            Ok(Ok(_)) => BrokerState::Up,
            Ok(Err(e)) => BrokerState::Down(format!("{addr}: {e}")),
            Err(_) => BrokerState::Down(format!("{addr}: no answer")),
        };
        if state != last {
            outbox.send(Event::Broker(state.clone())).await;
            last = state;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

/// Checks every few seconds whether the NATS server's port answers; reports changes.
async fn watch_nats(url: String, outbox: Outbox) {
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
async fn watch_port(addr: String, outbox: Outbox, event: impl Fn(BrokerState) -> Event) {
    let mut last = BrokerState::Unknown;
    loop {
        let state = match tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect(&addr),
        )
        .await
        {
            Ok(Ok(_)) => BrokerState::Up,
            Ok(Err(e)) => BrokerState::Down(format!("{addr}: {e}")),
            Err(_) => BrokerState::Down(format!("{addr}: no answer")),
        };
        if state != last {
            outbox.send(event(state.clone())).await;
            last = state;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

/// Most watched messages merged into one event for the UI: its buffer (≈ 90 bytes a message)
/// stays under glibc's 128 KiB mmap threshold, so batches reuse heap memory instead of mapping
/// and zeroing fresh pages each time.
const COALESCE: usize = 1024;

fn broker_addr(url: &str) -> Option<String> {
    let uri: lapin::uri::AMQPUri = url.parse().ok()?;
    Some(format!("{}:{}", uri.authority.host, uri.authority.port))
}

/// Keeps a tap on the demo's exchange, reconnecting with backoff, and broadcasts deliveries.
async fn keep_tap(
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

/// Posts the order, then waits for the event with the order's id on the tap and reports it as
/// an AMQP delivery exchange timed from the moment the order was sent.
async fn place_order(
    id: u64,
    request: Box<HttpRequest>,
    mut deliveries: broadcast::Receiver<(Instant, WatchedMessage)>,
    outbox: &Outbox,
) {
    let clock = Clock::start();
    let started_at_ms = unix_ms();
    let order = http::send(&request).await;
    let order_id = order
        .response
        .as_ref()
        .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.body.bytes).ok())
        .and_then(|v| {
            v.get("order_id")
                .and_then(|o| o.as_str())
                .map(str::to_string)
        });
    let ok = order.ok;
    outbox
        .send(Event::Exchanges {
            id,
            exchanges: vec![order],
        })
        .await;
    let (Some(order_id), true) = (order_id, ok) else {
        return;
    };
    let wait = async {
        loop {
            match deliveries.recv().await {
                Ok((at, message))
                    if message.field("message_id").as_deref() == Some(order_id.as_str()) =>
                {
                    return Some((at, message));
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    };
    let delivered = tokio::time::timeout(request.timeout, wait)
        .await
        .ok()
        .flatten();
    let target = format!("tap {} -> order {order_id}", request.url);
    let delivery = match delivered {
        Some((at, message)) => {
            delivery_exchange(&clock, started_at_ms, at, target, &request.body, message)
        }
        None => Exchange {
            transport: Transport::Amqp,
            target,
            started_at_ms,
            ok: false,
            status: None,
            error: Some(crate::engine::ExchangeError {
                kind: crate::engine::ErrorKind::Timeout,
                phase: Some(crate::engine::amqp::phases::DELIVERY),
                message:
                    "the order's event did not reach the app's tap in time — is the broker up?"
                        .to_string(),
            }),
            total_us: clock.now_us(),
            timeline: vec![Phase {
                phase: crate::engine::amqp::phases::DELIVERY,
                start_us: 0,
                end_us: clock.now_us(),
                detail: None,
                failed: true,
            }],
            request: Message::default(),
            response: None,
        },
    };
    outbox
        .send(Event::Exchanges {
            id,
            exchanges: vec![delivery],
        })
        .await;
}

fn delivery_exchange(
    clock: &Clock,
    started_at_ms: u64,
    at: Instant,
    target: String,
    order_body: &[u8],
    message: WatchedMessage,
) -> Exchange {
    let end_us = clock.offset_us(at);
    let headers: Vec<Header> = message
        .fields
        .to_named()
        .iter()
        .chain(message.headers.iter())
        .map(|(k, v)| Header::new(k.clone(), crate::engine::watched::text_of(v)))
        .collect();
    Exchange {
        transport: Transport::Amqp,
        target,
        started_at_ms,
        ok: true,
        status: Some("delivered".to_string()),
        error: None,
        total_us: end_us,
        timeline: vec![Phase {
            phase: crate::engine::amqp::phases::DELIVERY,
            start_us: 0,
            end_us,
            detail: Some("order sent -> event delivered on the tap".to_string()),
            failed: false,
        }],
        request: Message {
            line: "POST /orders (the order that caused it)".to_string(),
            body: crate::engine::Body::new(order_body.to_vec()),
            size_bytes: order_body.len() as u64,
            ..Message::default()
        },
        response: Some(Message {
            line: format!(
                "basic.deliver exchange={:?} routing_key={:?}{}",
                message.source,
                message.key,
                if message.redelivered {
                    " redelivered"
                } else {
                    ""
                }
            ),
            headers,
            size_bytes: message.size_bytes(),
            body: message.body,
            ..Message::default()
        }),
    }
}

/// Writes JSON Lines atomically: a temporary file next to the target, fsync, rename.
fn export(path: &std::path::Path, messages: &[WatchedMessage]) -> Result<usize, String> {
    let mut out = Vec::new();
    crate::engine::store::export_jsonl(messages, &mut out).map_err(|e| e.to_string())?;
    crate::engine::fsutil::write_atomic(path, &out)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(messages.len())
}

enum HistoryOp {
    Push(Box<HistoryEntry>),
    Clear,
}

/// The history writer: a thread that owns the history file, loads it first (reporting the
/// entries to the UI), then appends what it is sent, in order.
fn spawn_history(
    data_dir: &std::path::Path,
    outbox: Outbox,
) -> Option<std::sync::mpsc::SyncSender<HistoryOp>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<HistoryOp>(1024);
    let data_dir = data_dir.to_path_buf();
    let spawned = std::thread::Builder::new()
        .name("switchboard-history".into())
        .spawn(move || {
            let (mut history, entries, note) = super::files::open_history(&data_dir);
            if outbox
                .events
                .blocking_send(Event::HistoryLoaded { entries, note })
                .is_ok()
            {
                (outbox.repaint)();
            }
            while let Ok(op) = rx.recv() {
                let Some(h) = history.as_mut() else {
                    continue;
                };
                let result = match op {
                    HistoryOp::Push(entry) => h.push(*entry),
                    HistoryOp::Clear => h.clear(),
                };
                if let Err(e) = result {
                    tracing::warn!("history: {e}");
                }
            }
        });
    spawned.ok().map(|_| tx)
}
