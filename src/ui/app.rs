//! The Switchboard window: services strip, transport editors, history, and the selected
//! exchange (timeline waterfall + request/response side by side) or two compared.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use demo_services::ConsumerState;
use demo_services::supervisor::{ServiceId, ServiceStatus};
use egui::{Color32, RichText};

use super::backend::PathPurpose;
use super::backend::{self, BackendHandle, BackendOptions, BrokerState, Command, Event};
use super::editors;
use super::payload_view::message_ui;
use super::settings::{EditorCredentials, KeyValue, MainView, Settings, TransportTab};
use super::timeline_view::{format_us, waterfall_ui};
use super::viewer::{TabStatus, Viewer, ViewerAction, ViewerTab, viewer_ui};
use crate::engine::WatchRequest;
use crate::engine::collection::SavedRequest;
use crate::engine::collection::saved::Runnable;
use crate::engine::credentials::Redact;
use crate::engine::history::HistoryEntry;
use crate::engine::http::HttpRequest;
use crate::engine::store::DEFAULT_CAPACITY;
use crate::engine::watch::WatchedMessage;
use crate::engine::{ErrorKind, Exchange, Header, RequestSpec};

use super::collections::{CollectionsState, Dialog};
use super::settings::EditorKind;

/// The narrowest Requests view that shows editor and result side by side (narrower: stacked).
const SIDE_BY_SIDE_MIN_WIDTH: f32 = 820.0;

/// Most exchanges kept in this session's history.
pub const HISTORY_LIMIT: usize = 1000;

/// How the app is started.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub backend: BackendOptions,
    /// A scripted action for screenshots and smoke tests.
    pub script: Option<Script>,
}

/// Scripted actions (`--script`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Once the demo is up: an HTTP lookup and a gRPC lookup; show the HTTP one; print
    /// `script: done` on stdout once it is on screen.
    Lookup,
    /// Print `script: done` once the demo is up (an idle window, for memory figures).
    Idle,
    /// 1,000 HTTP lookups one after another into the history, then `script: done`.
    Lookups1000,
}

/// A load run from the editor.
#[derive(Debug, Clone)]
pub struct LoadRun {
    pub id: u64,
    pub tab: TransportTab,
    pub progress: crate::engine::load::LoadProgress,
    pub result: Option<Result<Box<crate::engine::load::LoadReport>, String>>,
}

/// One exchange in the history.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: u64,
    pub request_id: u64,
    pub exchange: Exchange,
    /// The editor's request that produced it (variables unresolved), to open it again.
    pub request: Option<SavedRequest>,
}

/// What the last send from an editor came to.
#[derive(Debug, Clone, PartialEq)]
pub enum EditorOutcome {
    Sent(String),
    Failed(String),
    /// The user cancelled: neutral, not a failure (what arrived before is kept).
    Cancelled(String),
}

#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub(crate) id: u64,
    started: Instant,
}

/// Status of the in-process demo.
#[derive(Debug, Clone, PartialEq)]
pub enum DemoState {
    Off,
    Starting,
    Up { notes: Vec<String> },
    Failed(String),
}

pub struct SwitchboardApp {
    pub settings: Settings,
    backend: BackendHandle,
    pub history: Vec<Entry>,
    pub selected: Option<u64>,
    pub pinned: Vec<u64>,
    pub compare: bool,
    /// What differs between the pinned exchanges, worked out once per set of pins.
    compare_diffs: Option<(Vec<u64>, Vec<crate::engine::compare::Difference>)>,
    next_id: u64,
    next_seq: u64,
    pub(crate) in_flight: HashMap<TransportTab, InFlight>,
    /// The request tab and editor each running request came from.
    request_origin: HashMap<u64, (u64, TransportTab)>,
    /// The request tabs (the current one's state is in the editors above).
    pub request_tabs: super::request_tabs::RequestTabs,
    /// Ctrl+Enter this frame (taken before any widget is drawn, so it never also presses the
    /// focused button).
    send_shortcut: bool,
    /// Ctrl+F was pressed: the history search takes the focus when it is next drawn.
    focus_history_search: bool,
    /// Each editor's last result (a history sequence number): switching editors shows it.
    pub(crate) last_by_tab: HashMap<TransportTab, u64>,
    pub outcomes: HashMap<TransportTab, EditorOutcome>,
    pub demo: DemoState,
    pub services: Vec<ServiceStatus>,
    knob_edits: HashMap<ServiceId, (u64, f64)>,
    pub broker: BrokerState,
    /// The NATS server watched (its URL) and whether it answers.
    pub nats: (String, BrokerState),
    /// A private nats-server is being started (or runs) for the app: the URL it replaces.
    nats_starting: Option<String>,
    pub consumer: Option<ConsumerState>,
    /// The Kafka broker watched (its URL) and whether it answers.
    pub kafka: (String, BrokerState),
    /// The User Service's Kafka group member.
    pub kafka_consumer: Option<ConsumerState>,
    service_error: Option<String>,
    script: Option<Script>,
    script_frames: Option<u32>,
    applied_theme: Option<bool>,
    /// The demo as actually bound (its ports may differ from the defaults).
    demo_config: Option<demo_services::DemoConfig>,
    /// `SWITCHBOARD_BENCH` set: print `bench: first frame` on the first frame (scripts/bench).
    report_first_frame: bool,
    pub viewer: Viewer,
    /// The running or last load run.
    pub load: Option<LoadRun>,
    /// Methods found for a gRPC address (by the editor's descriptor source), or why not.
    pub grpc_methods: Option<(
        String,
        Result<Vec<crate::engine::descriptors::MethodInfo>, String>,
    )>,
    /// An open interactive stream: its request id and how many messages were sent on it.
    pub open_stream: Option<(u64, usize)>,
    /// Messages of the running or last gRPC response stream, live.
    pub stream_view: Option<(u64, Vec<crate::engine::grpc::Received>)>,
    pub discovering: bool,
    /// The running or last publish-many: its request id and progress, or why it failed.
    pub many: Option<(u64, Result<crate::engine::publish_many::Progress, String>)>,
    /// The editor and the total of the running (or last) publish many.
    many_of: (TransportTab, u64),
    /// Capacity of each new viewer tab's store.
    pub store_capacity: usize,
    pub collections: CollectionsState,
    /// The editor request behind each request id (for the history).
    request_sources: HashMap<u64, SavedRequest>,
    /// Filter of the history list.
    pub history_query: String,
    /// Something to say about the persisted history (unreadable lines…).
    pub history_note: Option<String>,
    /// The entries the search matches, for (query, length, last seq).
    history_matches: Option<((String, usize, u64), std::collections::HashSet<u64>)>,
    /// Where the state, history and secrets are kept.
    data_dir: std::path::PathBuf,
    /// The Settings window is open.
    pub show_settings: bool,
}

impl SwitchboardApp {
    /// Builds the app, starting its backend on `runtime`.
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        runtime: &tokio::runtime::Handle,
        options: AppOptions,
    ) -> Self {
        let data_dir = options.backend.data_dir.clone();
        if let Err(e) = super::state::prepare_data_dir(&data_dir) {
            tracing::warn!("data directory {}: {e}", data_dir.display());
        }
        // Older versions kept the settings in eframe's file: read once, then moved out.
        let mut settings: Settings = super::state::load_settings(&data_dir)
            .or_else(|| {
                cc.storage
                    .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            })
            .unwrap_or_default();
        let ctx = cc.egui_ctx.clone();
        let repaint: Arc<dyn Fn() + Send + Sync> = Arc::new(move || ctx.request_repaint());
        let demo = if options.backend.demo.is_some() {
            DemoState::Starting
        } else {
            DemoState::Off
        };
        let collections = CollectionsState::new(&options.backend.data_dir);
        let backend = backend::spawn(runtime, options.backend, repaint);
        let secrets = backend
            .files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .editor_secrets();
        settings.restore_credentials(&secrets);
        for tab in &mut settings.tabs {
            tab.restore_credentials(&secrets);
        }
        let request_tabs = super::request_tabs::RequestTabs::restore(
            std::mem::take(&mut settings.tabs),
            settings.tab_index,
        );
        let mut app = Self {
            settings,
            backend,
            history: Vec::new(),
            selected: None,
            pinned: Vec::new(),
            compare_diffs: None,
            compare: false,
            next_id: 1,
            next_seq: 1,
            in_flight: HashMap::new(),
            request_origin: HashMap::new(),
            request_tabs,
            outcomes: HashMap::new(),
            demo,
            services: Vec::new(),
            knob_edits: HashMap::new(),
            broker: BrokerState::Unknown,
            nats: (String::new(), BrokerState::Unknown),
            nats_starting: None,
            consumer: None,
            kafka: (String::new(), BrokerState::Unknown),
            kafka_consumer: None,
            service_error: None,
            script: options.script,
            script_frames: None,
            applied_theme: None,
            send_shortcut: false,
            focus_history_search: false,
            last_by_tab: HashMap::new(),
            demo_config: None,
            report_first_frame: std::env::var_os("SWITCHBOARD_BENCH").is_some(),
            viewer: Viewer::default(),
            many: None,
            many_of: (TransportTab::Amqp, 1),
            load: None,
            grpc_methods: None,
            stream_view: None,
            open_stream: None,
            discovering: false,
            store_capacity: DEFAULT_CAPACITY,
            collections,
            request_sources: HashMap::new(),
            history_query: String::new(),
            history_note: None,
            history_matches: None,
            data_dir,
            show_settings: false,
        };
        app.open_collections_at_start();
        app
    }

    /// A fresh request id.
    pub(crate) fn next_request_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Adds exchanges to the history (and the persisted one); returns their sequence numbers.
    fn record(
        &mut self,
        id: u64,
        exchanges: Vec<Exchange>,
        request: Option<SavedRequest>,
    ) -> Vec<u64> {
        let mut seqs = Vec::new();
        for exchange in exchanges {
            let seq = self.next_seq;
            self.next_seq += 1;
            // The history file gets the credentials masked (unless asked otherwise); this
            // session keeps them, so that the exchange and *Open in editor* stay whole.
            let mut kept = HistoryEntry {
                exchange: exchange.clone(),
                request: request.clone(),
            };
            if !self.settings.credentials.history_in_clear {
                kept.redact();
            }
            self.command(Command::RecordHistory(Box::new(kept)));
            self.history.push(Entry {
                seq,
                request_id: id,
                exchange,
                request: request.clone(),
            });
            seqs.push(seq);
        }
        if self.history.len() > HISTORY_LIMIT {
            let excess = self.history.len() - HISTORY_LIMIT;
            let gone: Vec<u64> = self.history.drain(..excess).map(|e| e.seq).collect();
            self.pinned.retain(|p| !gone.contains(p));
        }
        seqs
    }

    /// Sends a command to the backend (the UI never blocks on it).
    pub(crate) fn backend_command(&mut self, command: Command) {
        self.command(command);
    }

    /// The demo as actually bound, once it is up.
    pub fn demo_config(&self) -> Option<&demo_services::DemoConfig> {
        self.demo_config.as_ref()
    }

    /// Forgets the history, on disk too.
    pub fn clear_history(&mut self) {
        self.history.clear();
        self.selected = None;
        self.pinned.clear();
        self.compare = false;
        self.command(Command::ClearHistory);
    }

    /// What the editor of `tab` describes, with its variables filled in; the unresolved ones
    /// (or invalid input) are reported under the editor and nothing is sent.
    pub fn resolved_request(&mut self, tab: TransportTab) -> Option<RequestSpec> {
        let kind = EditorKind::from(tab);
        let saved = self.editor_request(kind);
        let vars = self.vars_for(kind);
        let root = self
            .collections
            .scope_root(kind)
            .unwrap_or_else(|| std::path::PathBuf::from("."));
        match saved.resolve(&vars, &root, self.settings.timeout()) {
            Ok(Runnable::Request(spec)) => Some(spec),
            Ok(Runnable::Watch(_)) => None,
            Err(e) => {
                self.outcomes.insert(
                    tab,
                    EditorOutcome::Failed(format!("not sent: {}", e.message)),
                );
                None
            }
        }
    }

    /// True while a request from `tab` is running.
    pub fn is_busy(&self, tab: TransportTab) -> bool {
        self.in_flight.contains_key(&tab)
    }

    pub fn selected_entry(&self) -> Option<&Entry> {
        let seq = self.selected?;
        self.history.iter().find(|e| e.seq == seq)
    }

    fn entry(&self, seq: u64) -> Option<&Entry> {
        self.history.iter().find(|e| e.seq == seq)
    }

    /// Sends what `tab`'s editor describes.
    pub fn send_current(&mut self, tab: TransportTab) {
        let Some(spec) = self.resolved_request(tab) else {
            return;
        };
        let id = self.next_id;
        if self.backend.send(Command::Send {
            id,
            spec: Box::new(spec),
        }) {
            self.request_sources
                .insert(id, self.editor_request(EditorKind::from(tab)));
            self.start(tab, id);
        } else {
            self.outcomes.insert(
                tab,
                EditorOutcome::Failed(
                    "the background worker is busy or gone; try again".to_string(),
                ),
            );
        }
    }

    /// Produces the Kafka editor's record many times (copies, rate and numbering from its
    /// *Produce many* section).
    pub fn kafka_publish_many(&mut self) {
        let Some(crate::engine::RequestSpec::Kafka(request)) =
            self.resolved_request(TransportTab::Kafka)
        else {
            return;
        };
        let m = &self.settings.kafka_many;
        let job = crate::engine::kafka::publish_many::KafkaPublishMany {
            request: *request,
            count: m.count.max(1),
            rate_per_sec: m.rate.max(0.0),
            numbered: m.numbered,
        };
        self.start_many(
            TransportTab::Kafka,
            crate::engine::PublishManyJob::Kafka(job),
        );
    }

    /// Publishes the NATS editor's message many times (copies, rate and numbering from its
    /// *Publish many* section).
    pub fn nats_publish_many(&mut self) {
        let Some(crate::engine::RequestSpec::Nats(request)) =
            self.resolved_request(TransportTab::Nats)
        else {
            return;
        };
        let m = &self.settings.nats_many;
        let job = crate::engine::nats::publish_many::NatsPublishMany {
            request: *request,
            count: m.count.max(1),
            rate_per_sec: m.rate.max(0.0),
            numbered: m.numbered,
        };
        self.start_many(TransportTab::Nats, crate::engine::PublishManyJob::Nats(job));
    }

    /// Publishes the AMQP editor's message many times (copies, rate and numbering from the editor).
    pub fn publish_many(&mut self) {
        let Some(crate::engine::RequestSpec::Amqp(request)) =
            self.resolved_request(TransportTab::Amqp)
        else {
            return;
        };
        let a = &self.settings.amqp;
        let job = crate::engine::publish_many::PublishMany {
            request: *request,
            count: a.many_count.max(1),
            rate_per_sec: a.many_rate.max(0.0),
            numbered: a.many_numbered,
        };
        self.start_many(TransportTab::Amqp, crate::engine::PublishManyJob::Amqp(job));
    }

    /// Hands a publish-many job of `tab`'s editor to the backend and tracks its progress.
    fn start_many(&mut self, tab: TransportTab, job: crate::engine::PublishManyJob) {
        let total = job.count();
        let id = self.next_id;
        if self.backend.send(Command::PublishMany {
            id,
            job: Box::new(job),
        }) {
            self.start(tab, id);
            self.many = Some((id, Ok(Default::default())));
            self.many_of = (tab, total);
        }
    }

    /// Loads the gRPC editor's descriptors (reflection, .proto files or built-in) for its address.
    pub fn discover(&mut self) {
        let g = &self.settings.grpc;
        let command = Command::Discover {
            addr: g.addr.trim().to_string(),
            source: g.descriptor_source(),
            tls: g.tls(),
        };
        if self.backend.send(command) {
            self.discovering = true;
        }
    }

    /// The call type of the gRPC editor's method, when the method browser knows it.
    pub fn grpc_method_kind(&self) -> Option<&'static str> {
        let (_, Ok(methods)) = self.grpc_methods.as_ref()? else {
            return None;
        };
        methods
            .iter()
            .find(|m| m.path == self.settings.grpc.method.trim())
            .map(|m| m.kind)
    }

    /// Opens a stream to send request messages one by one.
    pub fn open_stream(&mut self) {
        let Some(crate::engine::RequestSpec::Grpc(request)) =
            self.resolved_request(TransportTab::Grpc)
        else {
            return;
        };
        let id = self.next_id;
        if self.backend.send(Command::OpenStream {
            id,
            request: Box::new(request),
        }) {
            self.start(TransportTab::Grpc, id);
            self.open_stream = Some((id, 0));
            self.stream_view = Some((id, Vec::new()));
        }
    }

    fn interactive_stream_ui(&mut self, ui: &mut egui::Ui) {
        let streaming_in = matches!(
            self.grpc_method_kind(),
            Some("client stream" | "bidi stream")
        );
        let open = self.open_stream.filter(|(id, _)| {
            self.in_flight
                .get(&TransportTab::Grpc)
                .is_some_and(|f| f.id == *id)
        });
        if !streaming_in && open.is_none() {
            return;
        }
        ui.horizontal_wrapped(|ui| match open {
            None => {
                if ui
                    .button("Open stream")
                    .on_hover_text(
                        "Start the call, then send the editor's JSON as messages one by one",
                    )
                    .clicked()
                {
                    self.open_stream();
                }
            }
            Some((id, sent)) => {
                ui.label(RichText::new(format!("Stream open: {sent} sent")).strong());
                if ui
                    .button("Send message")
                    .on_hover_text("Send the request JSON above as the next message")
                    .clicked()
                {
                    let json = self.settings.grpc.json.clone();
                    self.command(Command::StreamSend { id, json });
                }
                if ui
                    .button("Half-close")
                    .on_hover_text("No more messages: the server answers or ends its stream")
                    .clicked()
                {
                    self.command(Command::HalfClose { id });
                }
            }
        });
    }

    /// The messages of a gRPC response stream as they arrive (virtualized: fine with 100,000).
    fn stream_ui(&self, ui: &mut egui::Ui) {
        let Some((id, messages)) = &self.stream_view else {
            return;
        };
        let live = self
            .in_flight
            .get(&TransportTab::Grpc)
            .is_some_and(|f| f.id == *id);
        ui.label(
            RichText::new(format!(
                "Response stream: {} messages{}",
                messages.len(),
                if live {
                    " (live — Cancel stops it and keeps them)"
                } else {
                    ""
                }
            ))
            .strong(),
        );
        let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 2.0;
        egui::ScrollArea::vertical()
            .id_salt("stream-messages")
            .max_height(180.0)
            .auto_shrink([false, true])
            .stick_to_bottom(true)
            .show_rows(ui, row_height, messages.len(), |ui, rows| {
                for i in rows {
                    let m = &messages[i];
                    ui.add(
                        egui::Label::new(
                            RichText::new(format!(
                                "#{:<5} {:>11} {:>6} B  {}",
                                i + 1,
                                format_us(m.at_us),
                                m.size_bytes,
                                m.json
                            ))
                            .monospace()
                            .size(12.0),
                        )
                        .truncate(),
                    );
                }
            });
    }

    fn grpc_browser_ui(&mut self, ui: &mut egui::Ui) {
        use super::settings::GrpcSource;
        ui.horizontal_wrapped(|ui| {
            ui.label("Types from");
            let g = &mut self.settings.grpc;
            ui.selectable_value(&mut g.source, GrpcSource::Reflection, "server reflection");
            ui.selectable_value(&mut g.source, GrpcSource::ProtoFiles, ".proto files");
            ui.selectable_value(&mut g.source, GrpcSource::Protoset, "protoset");
            ui.selectable_value(&mut g.source, GrpcSource::Builtin, "built-in user.proto");
            if ui
                .add_enabled(!self.discovering, egui::Button::new("Discover methods"))
                .clicked()
            {
                self.discover();
            }
            if self.discovering {
                ui.spinner();
            }
        });
        if self.settings.grpc.source == GrpcSource::ProtoFiles {
            ui.horizontal_wrapped(|ui| {
                let g = &mut self.settings.grpc;
                let l = ui.label("Files");
                ui.add(
                    egui::TextEdit::singleline(&mut g.proto_files)
                        .hint_text("api/shop.proto other.proto")
                        .desired_width(320.0),
                )
                .labelled_by(l.id);
                let l = ui.label("Import paths");
                ui.add(
                    egui::TextEdit::singleline(&mut g.import_paths)
                        .hint_text("api third_party")
                        .desired_width(220.0),
                )
                .labelled_by(l.id);
            });
        }
        if self.settings.grpc.source == GrpcSource::Protoset {
            ui.horizontal_wrapped(|ui| {
                let l = ui.label("Protoset");
                ui.add(
                    egui::TextEdit::singleline(&mut self.settings.grpc.protoset)
                        .hint_text("api.protoset")
                        .desired_width(320.0),
                )
                .labelled_by(l.id);
            });
        }
        let g = &mut self.settings.grpc;
        editors::tls_ui(
            ui,
            "grpc-tls",
            "TLS (https:// addresses)",
            [&mut g.ca_file, &mut g.cert_file, &mut g.key_file],
        );
        let mut chosen = None;
        match &self.grpc_methods {
            Some((addr, Ok(methods))) => {
                egui::CollapsingHeader::new(format!("Methods of {addr} ({})", methods.len()))
                    .id_salt("grpc-methods")
                    .default_open(true)
                    .show(ui, |ui| {
                        egui::Grid::new("grpc-methods-grid")
                            .striped(true)
                            .num_columns(3)
                            .show(ui, |ui| {
                                for m in methods {
                                    let selected = self.settings.grpc.method == m.path;
                                    if ui
                                        .selectable_label(
                                            selected,
                                            RichText::new(&m.path).monospace(),
                                        )
                                        .on_hover_text("Use it, with a request template")
                                        .clicked()
                                    {
                                        chosen = Some(m.clone());
                                    }
                                    ui.label(RichText::new(m.kind).weak());
                                    // The template fills one member per oneof; the
                                    // others are named here, outside the JSON.
                                    let mut types = format!("{} -> {}", m.input, m.output);
                                    for hint in &m.hints {
                                        types.push_str(" · ");
                                        types.push_str(hint);
                                    }
                                    ui.label(RichText::new(types).small().weak());
                                    ui.end_row();
                                }
                            });
                    });
            }
            Some((_, Err(message))) => {
                ui.colored_label(ui.visuals().error_fg_color, message);
            }
            None => {}
        }
        if let Some(m) = chosen {
            self.settings.grpc.method = m.path;
            self.settings.grpc.json = m.template;
        }
    }

    /// Runs the current editor's request as a load test (count, duration and concurrency from
    /// the load form).
    pub fn run_load(&mut self, tab: TransportTab) {
        use crate::engine::load::{LoadLimit, LoadSpec};
        let form = &self.settings.load;
        let limit = if form.duration_secs > 0.0 {
            LoadLimit::Duration(std::time::Duration::from_secs_f64(
                form.duration_secs.min(crate::cli::MAX_SECS),
            ))
        } else {
            LoadLimit::Requests(form.requests.max(1))
        };
        let Some(request) = self.resolved_request(tab) else {
            return;
        };
        let form = &self.settings.load;
        let spec = LoadSpec {
            request,
            limit,
            concurrency: form.concurrency.max(1),
        };
        let id = self.next_id;
        if self.backend.send(Command::Load {
            id,
            spec: Box::new(spec),
        }) {
            self.start(tab, id);
            self.load = Some(LoadRun {
                id,
                tab,
                progress: Default::default(),
                result: None,
            });
        }
    }

    /// Places an order through the Order Service and follows its event.
    pub fn place_order(&mut self) {
        let a = &self.settings.amqp;
        let request = HttpRequest {
            method: "POST".to_string(),
            headers: vec![Header::new("Content-Type", "application/json")],
            body: a.order_body.clone().into_bytes(),
            timeout: self.settings.timeout(),
            ..HttpRequest::get(a.order_url.clone())
        };
        let id = self.next_id;
        if self.backend.send(Command::PlaceOrder {
            id,
            request: Box::new(request),
        }) {
            self.start(TransportTab::Amqp, id);
        }
    }

    fn start(&mut self, tab: TransportTab, id: u64) {
        self.next_id += 1;
        self.in_flight.insert(
            tab,
            InFlight {
                id,
                started: Instant::now(),
            },
        );
        self.request_origin
            .insert(id, (self.request_tabs.current_id(), tab));
        self.outcomes.remove(&tab);
        // The result pane follows what the user just did: not a comparison, not an earlier
        // call's stream.
        self.compare = false;
        if tab == TransportTab::Grpc {
            self.stream_view = None;
        }
    }

    /// Switches the editor, and the result pane to that editor's own last result.
    pub fn show_editor(&mut self, tab: TransportTab) {
        if self.settings.transport != tab {
            self.settings.transport = tab;
            self.compare = false;
            self.selected = self.last_by_tab.get(&tab).copied();
        }
    }

    pub fn cancel(&mut self, tab: TransportTab) {
        if let Some(flight) = self.in_flight.get(&tab) {
            self.backend.send(Command::Cancel { id: flight.id });
        }
    }

    /// Sets a demo service's added latency and failure rate.
    pub fn set_knobs(&mut self, service: ServiceId, latency_ms: u64, failure_rate: f64) {
        self.knob_edits.insert(service, (latency_ms, failure_rate));
        self.command(Command::SetKnobs {
            service,
            latency_ms,
            failure_rate,
        });
    }

    fn command(&mut self, command: Command) {
        if !self.backend.send(command) {
            self.service_error = Some("the background worker is busy; try again".to_string());
        }
    }

    /// Applies every pending backend event (called once per frame).
    pub fn drain_events(&mut self) {
        while let Ok(event) = self.backend.events.try_recv() {
            self.apply(event);
        }
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::DemoStarted { config, notes } => {
                self.settings
                    .retarget_demo(&demo_services::DemoConfig::default(), &config);
                self.request_tabs.edit_parked(|s| {
                    s.retarget_demo(&demo_services::DemoConfig::default(), &config)
                });
                self.demo = DemoState::Up { notes };
                if self.script == Some(Script::Lookup) {
                    self.settings.http = Default::default();
                    self.settings.grpc = Default::default();
                    self.settings
                        .retarget_demo(&demo_services::DemoConfig::default(), &config);
                    self.send_current(TransportTab::Grpc);
                    self.send_current(TransportTab::Http);
                    self.settings.transport = TransportTab::Http;
                }
                match self.script {
                    Some(Script::Idle) => {
                        self.script_frames.get_or_insert(0);
                    }
                    Some(Script::Lookups1000) => {
                        self.settings.http = Default::default();
                        self.settings
                            .retarget_demo(&demo_services::DemoConfig::default(), &config);
                        self.send_current(TransportTab::Http);
                    }
                    _ => {}
                }
                self.demo_config = Some(*config);
            }
            Event::DemoFailed(message) => self.demo = DemoState::Failed(message),
            Event::Services(services) => {
                for s in &services {
                    self.knob_edits.insert(s.id, (s.latency_ms, s.failure_rate));
                }
                self.services = services;
            }
            Event::ServiceError(message) => {
                if message.contains("NATS server") {
                    self.nats_starting = None;
                }
                self.service_error = Some(message);
            }
            Event::Broker(state) => self.broker = state,
            Event::Nats { url, state } => self.nats = (url, state),
            Event::NatsKv { what, result } => self.viewer.streams.kv_result = Some((what, result)),
            Event::KafkaTopics { url, result } => {
                self.viewer.kafka.loading = false;
                self.viewer.kafka.topics = Some((url, result));
            }
            Event::KafkaGroups { url, result } => {
                self.viewer.kafka.loading = false;
                self.viewer.kafka.groups = Some((url, result));
            }
            Event::KafkaPage { ask, result } => {
                self.viewer.kafka.loading = false;
                self.viewer.kafka.page = Some((ask, result));
            }
            Event::NatsStreams { url, result } => {
                self.viewer.streams.loading = false;
                self.viewer.streams.listed = Some((url, result));
            }
            Event::NatsStarted { url } => {
                // Editors that pointed at the server that was not there now use this one.
                let old = self.nats_starting.clone().unwrap_or_default();
                for field in [
                    &mut self.settings.nats.url,
                    &mut self.settings.watch_form.nats.url,
                ] {
                    if *field == old || *field == crate::engine::nats::DEFAULT_NATS_URL {
                        *field = url.clone();
                    }
                }
                self.nats = (url, BrokerState::Up);
            }
            Event::Consumer(state) => self.consumer = state,
            Event::KafkaConsumer(state) => self.kafka_consumer = state,
            Event::Kafka { url, state } => self.kafka = (url, state),
            Event::Exchanges { id, exchanges } => {
                let origin = self.request_origin.get(&id).copied();
                let outcome = exchanges.last().map(outcome_of);
                let request = self.request_sources.get(&id).cloned();
                let seq = self.record(id, exchanges, request).last().copied();
                match origin {
                    // From a tab that is not shown: its result waits in that tab.
                    Some((tab_id, tab)) if tab_id != self.request_tabs.current_id() => {
                        if let (Some(parked), Some(outcome)) =
                            (self.request_tabs.parked(tab_id), outcome)
                        {
                            parked.result(tab, outcome, seq);
                        }
                    }
                    _ => {
                        if let (Some((_, tab)), Some(outcome)) = (origin, outcome) {
                            self.outcomes.insert(tab, outcome);
                        }
                        if let Some(seq) = seq {
                            self.selected = Some(seq);
                            if let Some((_, tab)) = origin {
                                self.last_by_tab.insert(tab, seq);
                            }
                        }
                    }
                }
                if self.script == Some(Script::Lookups1000) {
                    if self.history.len() >= 1000 {
                        self.script_frames.get_or_insert(0);
                    } else {
                        self.send_current(TransportTab::Http);
                    }
                }
                if self.script == Some(Script::Lookup) {
                    let transports: Vec<_> =
                        self.history.iter().map(|e| e.exchange.transport).collect();
                    if transports.contains(&crate::engine::Transport::Http)
                        && transports.contains(&crate::engine::Transport::Grpc)
                    {
                        self.selected = self
                            .history
                            .iter()
                            .find(|e| e.exchange.transport == crate::engine::Transport::Http)
                            .map(|e| e.seq);
                        self.script_frames.get_or_insert(0);
                    }
                }
            }
            Event::PublishProgress { id, progress } => {
                if self.many.as_ref().is_some_and(|(m, _)| *m == id) {
                    self.many = Some((id, Ok(progress)));
                }
            }
            Event::StreamSent { id, result } => match result {
                Ok(()) => {
                    if let Some((_, sent)) =
                        self.open_stream.as_mut().filter(|(open, _)| *open == id)
                    {
                        *sent += 1;
                    }
                }
                Err(e) => {
                    self.outcomes.insert(
                        TransportTab::Grpc,
                        EditorOutcome::Failed(format!("message not sent: {e}")),
                    );
                }
            },
            Event::StreamMessage { id, message } => match &mut self.stream_view {
                Some((current, messages)) if *current == id => messages.push(message),
                _ => self.stream_view = Some((id, vec![message])),
            },
            Event::Discovered { addr, result } => {
                self.discovering = false;
                self.grpc_methods = Some((addr, result));
            }
            Event::LoadProgress { id, progress } => {
                if let Some(run) = self.load.as_mut().filter(|r| r.id == id) {
                    run.progress = progress;
                }
            }
            Event::LoadDone { id, result } => {
                if let Some(run) = self.load.as_mut().filter(|r| r.id == id) {
                    run.result = Some(result);
                }
            }
            Event::PublishFailed { id, message } => {
                if self.many.as_ref().is_some_and(|(m, _)| *m == id) {
                    self.many = Some((id, Err(message)));
                }
            }
            Event::WatchMessages { id, batch } => {
                if let Some(tab) = self.viewer.tab_mut(id) {
                    tab.ingest_prepared(batch);
                }
            }
            Event::Watch { id, event } => {
                if let Some(tab) = self.viewer.tab_mut(id) {
                    tab.apply(event);
                }
            }
            Event::PickedPath {
                purpose: purpose @ (PathPurpose::CollectionFolder | PathPurpose::Postman),
                path,
            } => self.picked_for_collections(purpose, path),
            Event::PickedPath { purpose, path } => {
                match path {
                    Some(path) => {
                        self.viewer.path_text = path.display().to_string();
                        if purpose == PathPurpose::Import {
                            self.command(Command::Import { path });
                        }
                    }
                    None => {
                        self.viewer.notice = Some(Err("no file chosen (or no file dialog on this system): type a path in File".to_string()));
                    }
                }
            }
            Event::Exported { path, result } => {
                self.viewer.notice = Some(match result {
                    Ok(n) => Ok(format!(
                        "exported {n} message{} to {}",
                        if n == 1 { "" } else { "s" },
                        path.display()
                    )),
                    Err(e) => Err(format!("export failed: {e}")),
                });
            }
            Event::Imported { path, result } => match result {
                Ok(messages) => {
                    let n = messages.len();
                    self.open_imported(&path.display().to_string(), messages);
                    self.viewer.notice =
                        Some(Ok(format!("imported {n} messages from {}", path.display())));
                }
                Err(e) => self.viewer.notice = Some(Err(format!("import failed: {e}"))),
            },
            Event::Collection {
                root,
                op,
                result,
                collection,
                secrets,
            } => self.collection_done(root, *op, result, collection.map(|c| *c), *secrets),
            Event::ImportProgress { written, total, .. } => {
                if self.collections.importing.is_some() {
                    self.collections.importing = Some((written, total));
                }
            }
            Event::CollectionsFound(result) => {
                self.settings.collections_initialized = true;
                match result {
                    Ok(roots) => {
                        for root in roots {
                            if !self.settings.closed_collections.contains(&root)
                                && !self.collections.opened.iter().any(|o| o.root == root)
                            {
                                self.open_collection(root);
                            }
                        }
                    }
                    Err(e) => {
                        self.collections.notice = Some(Err(format!(
                            "cannot list the collections in the data directory: {e}"
                        )))
                    }
                }
            }
            Event::HistoryLoaded { entries, note } => {
                // Persisted entries go before this session's.
                let mut loaded: Vec<Entry> = entries
                    .into_iter()
                    .map(|h| Entry {
                        seq: 0,
                        request_id: 0,
                        exchange: h.exchange,
                        request: h.request,
                    })
                    .collect();
                loaded.append(&mut self.history);
                for entry in &mut loaded {
                    if entry.seq == 0 {
                        entry.seq = self.next_seq;
                        self.next_seq += 1;
                    }
                }
                let excess = loaded.len().saturating_sub(HISTORY_LIMIT);
                loaded.drain(..excess);
                self.history = loaded;
                self.history_note = note;
            }
            Event::RunResult { id, result } => {
                let Some(root) = self
                    .collections
                    .runs
                    .iter()
                    .find(|(_, r)| r.id == id)
                    .map(|(root, _)| root.clone())
                else {
                    return;
                };
                match result {
                    Ok(mut r) => {
                        let request = self
                            .collections
                            .collection(&root)
                            .and_then(|c| c.item(&r.file))
                            .and_then(|i| i.file.ok().cloned());
                        let exchanges = std::mem::take(&mut r.exchanges);
                        let seqs = self.record(id, exchanges, request);
                        if let Some(&seq) = seqs.last() {
                            self.selected = Some(seq);
                        }
                        if let Some(run) = self.collections.runs.get_mut(&root) {
                            run.results.push((*r, seqs));
                        }
                    }
                    Err(e) => {
                        self.collections.notice = Some(Err(format!("run failed: {e}")));
                    }
                }
            }
            Event::Done { id, cancelled } => {
                for run in self.collections.runs.values_mut().filter(|r| r.id == id) {
                    run.done = true;
                    if cancelled {
                        self.collections.notice = Some(Err("run stopped".to_string()));
                    }
                }
                self.request_sources.remove(&id);
                if let Some((tab_id, tab)) = self.request_origin.remove(&id) {
                    let outcome =
                        cancelled.then(|| EditorOutcome::Cancelled("cancelled".to_string()));
                    if tab_id == self.request_tabs.current_id() {
                        self.in_flight.retain(|_, f| f.id != id);
                        if let Some(outcome) = outcome {
                            self.outcomes.insert(tab, outcome);
                        }
                    } else if let Some(parked) = self.request_tabs.parked(tab_id) {
                        parked.finished(id, tab, outcome);
                    }
                }
            }
        }
    }

    /// Starts a watch in a new viewer tab.
    pub fn start_watch(&mut self, spec: WatchRequest) {
        // A form that cannot work says so here, not in a dead tab.
        if let WatchRequest::Nats(w) = &spec
            && let Err(e) = w.check()
        {
            self.viewer.notice = Some(Err(format!("not started: {}", e.message)));
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut tab = ViewerTab::new(id, spec.describe(), Some(spec.clone()), self.store_capacity);
        let delivered = tab.delivery_counter();
        // Peeking the same queue again refreshes its finished tab instead of adding another.
        let reuse = spec.is_peek().then(|| {
            self.viewer
                .tabs
                .iter()
                .position(|t| t.spec.as_ref() == Some(&spec) && !t.is_live())
        });
        if self.backend.send(Command::StartWatch {
            id,
            spec: Box::new(spec),
            delivered,
        }) {
            match reuse.flatten() {
                Some(i) => self.viewer.tabs[i] = tab,
                None => self.viewer.tabs.push(tab),
            }
            self.viewer.active = Some(id);
        } else {
            self.viewer.notice = Some(Err("the background worker is busy; try again".to_string()));
        }
    }

    /// Opens messages (from a `watch --json` file) in a new, non-live tab.
    pub fn open_imported(&mut self, name: &str, messages: Vec<WatchedMessage>) {
        let id = self.next_id;
        self.next_id += 1;
        let title = std::path::Path::new(name)
            .file_name()
            .map_or(name.to_string(), |f| f.to_string_lossy().into_owned());
        let mut tab = ViewerTab::new(id, title, None, self.store_capacity.max(messages.len()));
        tab.ingest(messages);
        tab.status = TabStatus::Imported(name.to_string());
        self.viewer.tabs.push(tab);
        self.viewer.active = Some(id);
        self.settings.view = MainView::Messages;
    }

    /// Opens a message in the AMQP editor to edit and publish again.
    pub fn republish(&mut self, m: &WatchedMessage) {
        if m.transport == crate::engine::Transport::Kafka {
            // Into the Kafka editor: the same topic, key, headers and value (the partition
            // follows from the key again).
            let k = &mut self.settings.kafka;
            k.topic = m.source.to_string();
            // A null key stays null; an empty one stays empty.
            k.key = (!m.fields.get("key").is_some_and(|v| v.is_null())).then(|| m.key.to_string());
            k.partition = None;
            k.headers = m
                .headers
                .iter()
                .map(|(name, v)| {
                    crate::engine::fields::SavedHeader::new(
                        name.clone(),
                        crate::engine::watched::text_of(v),
                    )
                })
                .collect();
            k.set_body(m.body.bytes.clone());
            self.settings.transport = TransportTab::Kafka;
            self.settings.view = MainView::Requests;
            return;
        }
        if m.transport == crate::engine::Transport::Nats {
            // Into the NATS editor: a publish on the same subject with the same headers.
            let n = &mut self.settings.nats;
            n.op = crate::engine::nats::NatsOp::Publish;
            n.subject = m.key.to_string();
            n.jetstream = !m.source.is_empty();
            n.msg_id = String::new();
            n.reply_to = String::new();
            n.headers = m
                .headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("Nats-Msg-Id"))
                .map(|(k, v)| {
                    crate::engine::fields::SavedHeader::new(
                        k.clone(),
                        crate::engine::watched::text_of(v),
                    )
                })
                .collect();
            n.set_body(m.body.bytes.clone());
            if !n.jetstream {
                n.reply_to = m.field("reply_to").unwrap_or_default();
            }
            self.settings.transport = TransportTab::Nats;
            self.settings.view = MainView::Requests;
            return;
        }
        let a = &mut self.settings.amqp;
        let p = m.properties();
        a.exchange = m.source.to_string();
        a.routing_key = m.key.to_string();
        a.content_type = p.content_type.unwrap_or_default();
        a.message_id = p.message_id.unwrap_or_default();
        a.correlation_id = p.correlation_id.unwrap_or_default();
        a.persistent = p.delivery_mode == Some(2);
        a.more = crate::engine::collection::saved::MoreProps {
            kind: p.kind.unwrap_or_default(),
            reply_to: p.reply_to.unwrap_or_default(),
            expiration: p.expiration.unwrap_or_default(),
            priority: p.priority,
            app_id: p.app_id.unwrap_or_default(),
            user_id: p.user_id.unwrap_or_default(),
        };
        a.headers = m
            .headers
            .iter()
            .map(|(k, v)| KeyValue::new(k, &crate::engine::watched::text_of(v)))
            .collect();
        a.body = String::from_utf8_lossy(&m.body.bytes).into_owned();
        self.settings.transport = TransportTab::Amqp;
        self.settings.view = MainView::Requests;
        if std::str::from_utf8(&m.body.bytes).is_err() {
            self.outcomes.insert(TransportTab::Amqp, EditorOutcome::Failed("the message body is binary: the editor shows it as text with replacement characters".to_string()));
        }
    }

    fn viewer_action(&mut self, action: ViewerAction) {
        match action {
            ViewerAction::Start => {
                // The form is resolved like a saved watch: its {{variables}} filled in.
                let vars = self.vars_for(EditorKind::Watch);
                let root = self
                    .collections
                    .scope_root(EditorKind::Watch)
                    .unwrap_or_else(|| std::path::PathBuf::from("."));
                match self.editor_request(EditorKind::Watch).resolve(
                    &vars,
                    &root,
                    self.settings.timeout(),
                ) {
                    Ok(Runnable::Watch(spec)) => {
                        if let WatchRequest::Amqp(w) = &spec {
                            let f = &mut self.settings.watch_form;
                            super::viewer::WatchForm::remember(&mut f.known_exchanges, &w.exchange);
                            super::viewer::WatchForm::remember(&mut f.known_queues, &w.queue);
                        }
                        self.start_watch(spec)
                    }
                    Ok(Runnable::Request(_)) => {}
                    Err(e) => {
                        self.viewer.notice = Some(Err(format!("not started: {}", e.message)));
                    }
                }
            }
            ViewerAction::SaveWatch => self.save_active(EditorKind::Watch),
            ViewerAction::Stop(id) => {
                self.command(Command::StopWatch { id });
                if let Some(tab) = self.viewer.tab_mut(id) {
                    tab.status = TabStatus::Stopped;
                }
            }
            ViewerAction::Close(id) => {
                self.command(Command::StopWatch { id });
                self.viewer.tabs.retain(|t| t.id != id);
                if self.viewer.active == Some(id) {
                    self.viewer.active = self.viewer.tabs.last().map(|t| t.id);
                }
            }
            ViewerAction::PickPath(purpose) => self.command(Command::PickPath { purpose }),
            ViewerAction::Export(path, messages) => {
                self.command(Command::Export { path, messages })
            }
            ViewerAction::Import(path) => self.command(Command::Import { path }),
            ViewerAction::Republish(m) => self.republish(&m),
            ViewerAction::Streams(super::streams_view::StreamsAction::List(url)) => {
                self.command(Command::NatsStreams { url })
            }
            ViewerAction::Streams(super::streams_view::StreamsAction::Kv(ask)) => {
                self.command(Command::NatsKv { ask })
            }
            ViewerAction::Kafka(ask) => self.command(Command::Kafka { ask }),
        }
    }

    /// Pins or unpins an exchange for comparison (at most two; the oldest pin goes).
    pub fn toggle_pin(&mut self, seq: u64) {
        if let Some(i) = self.pinned.iter().position(|p| *p == seq) {
            self.pinned.remove(i);
        } else {
            self.pinned.push(seq);
            if self.pinned.len() > MAX_PINS {
                self.pinned.remove(0);
            }
        }
        if self.pinned.len() < 2 {
            self.compare = false;
        }
    }

    fn top_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("Switchboard").heading().strong());
            ui.separator();
            ui.selectable_value(
                &mut self.settings.view,
                MainView::Requests,
                RichText::new("Requests").strong(),
            );
            let live = self.viewer.tabs.iter().filter(|t| t.is_live()).count();
            let messages = if live > 0 {
                format!("Messages ({live} live)")
            } else {
                "Messages".to_string()
            };
            ui.selectable_value(
                &mut self.settings.view,
                MainView::Messages,
                RichText::new(messages).strong(),
            );
            ui.separator();
            let (label, hint) = if self.settings.side_panel {
                (
                    "Hide panel",
                    "Hide the collections and history panel (more room for the editor and result)",
                )
            } else {
                ("Show panel", "Show the collections and history panel")
            };
            if ui.button(label).on_hover_text(hint).clicked() {
                self.settings.side_panel = !self.settings.side_panel;
            }
            if self.settings.view == MainView::Requests {
                let side = self.settings.layout == super::settings::RequestLayout::SideBySide;
                let (label, hint) = if side {
                    ("Stack", "Put the result below the editor")
                } else {
                    ("Side by side", "Put the result beside the editor")
                };
                if ui.button(label).on_hover_text(hint).clicked() {
                    self.settings.layout = if side {
                        super::settings::RequestLayout::Stacked
                    } else {
                        super::settings::RequestLayout::SideBySide
                    };
                }
            }
            ui.separator();
            ui.label("Timeout");
            ui.add(
                egui::DragValue::new(&mut self.settings.timeout_secs)
                    .range(0.1..=600.0)
                    .speed(0.5)
                    .suffix(" s"),
            )
            .on_hover_text("Every request gives up after this long");
            ui.separator();
            let theme = if self.settings.dark_mode {
                "Light theme"
            } else {
                "Dark theme"
            };
            if ui.button(theme).clicked() {
                self.settings.dark_mode = !self.settings.dark_mode;
            }
            if ui
                .selectable_label(self.show_settings, "Settings")
                .on_hover_text("What is kept of credentials, and where")
                .clicked()
            {
                self.show_settings = !self.show_settings;
            }
            ui.menu_button("Keys", |ui| {
                egui::Grid::new("keys").num_columns(2).show(ui, |ui| {
                    for (keys, what) in KEYS {
                        ui.label(RichText::new(*keys).monospace());
                        ui.label(*what);
                        ui.end_row();
                    }
                });
            });
        });
        self.services_ui(ui);
    }

    fn services_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            // A chip keeps its text on one line; one that does not fit goes to the next row
            // (a group takes whatever width is left, so it is moved before it is drawn).
            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
            let next_row_unless = |ui: &mut egui::Ui, width: f32| {
                if ui.available_size_before_wrap().x < width {
                    ui.end_row();
                }
            };
            match &self.demo {
                DemoState::Off => {
                    ui.label(RichText::new("Demo services off (--no-demo)").weak());
                }
                DemoState::Starting => {
                    ui.spinner();
                    ui.label("Starting the demo services…");
                }
                DemoState::Failed(message) => {
                    ui.colored_label(ui.visuals().error_fg_color, format!("Demo services failed to start: {message}"));
                }
                DemoState::Up { .. } => {}
            }
            let services = self.services.clone();
            for service in &services {
                next_row_unless(ui, 460.0);
                ui.group(|ui| {
                    status_dot(ui, if service.running { Health::Up } else { Health::Down });
                    ui.label(RichText::new(service.id.name()).strong());
                    ui.label(RichText::new(&service.addrs).small().weak());
                    if service.running {
                        if ui.small_button("Stop").on_hover_text("Stop it and watch callers fail").clicked() {
                            self.command(Command::StopService(service.id));
                        }
                    } else if ui.small_button("Start").clicked() {
                        self.command(Command::StartService(service.id));
                    }
                    let (mut latency_ms, mut failure_rate) = self.knob_edits.get(&service.id).copied().unwrap_or_default();
                    let mut percent = failure_rate * 100.0;
                    let a = ui
                        .add(egui::DragValue::new(&mut latency_ms).range(0..=60_000).speed(5).prefix("+").suffix(" ms"))
                        .on_hover_text("Added latency");
                    let b = ui
                        .add(egui::DragValue::new(&mut percent).range(0.0..=100.0).speed(1).suffix("% fail"))
                        .on_hover_text("Failure rate (503 / UNAVAILABLE)");
                    failure_rate = percent / 100.0;
                    if a.changed() || b.changed() {
                        self.set_knobs(service.id, latency_ms, failure_rate);
                    }
                });
            }
            next_row_unless(ui, 420.0);
            ui.group(|ui| {
                let (health, text) = match &self.broker {
                    BrokerState::Unknown => (Health::Starting, "checking…".to_string()),
                    BrokerState::Up => (Health::Up, "up".to_string()),
                    BrokerState::Down(why) => (Health::Down, format!("down ({why}) — start it: rabbitmq-server -detached")),
                };
                status_dot(ui, health);
                ui.label(RichText::new("RabbitMQ").strong());
                ui.label(RichText::new(text).small());
                if let Some(consumer) = &self.consumer {
                    let text = match consumer {
                        ConsumerState::Disabled => "consumer off".to_string(),
                        ConsumerState::Connecting => "consumer connecting…".to_string(),
                        ConsumerState::Consuming { consumed, dead_lettered, last_reject } => {
                            match last_reject {
                                Some(reason) => format!("order_queue consumer: {consumed} consumed, {dead_lettered} dead-lettered (last: {reason})"),
                                None => format!("order_queue consumer: {consumed} consumed, {dead_lettered} dead-lettered"),
                            }
                        }
                        ConsumerState::Down(why) => format!("consumer down: {why}"),
                    };
                    ui.label(RichText::new(text).small().weak());
                }
            });
            next_row_unless(ui, 200.0);
            ui.group(|ui| {
                let (url, state) = &self.nats;
                let (health, text) = match state {
                    BrokerState::Unknown => (Health::Starting, "checking…".to_string()),
                    BrokerState::Up => (Health::Up, "up".to_string()),
                    BrokerState::Down(_) => (Health::Down, "down".to_string()),
                };
                let detail = match state {
                    BrokerState::Down(why) => format!("{url}: {why}"),
                    _ => url.clone(),
                };
                status_dot(ui, health);
                ui.label(RichText::new("NATS server").strong()).on_hover_text(&detail);
                ui.label(RichText::new(text).small()).on_hover_text(&detail);
                if matches!(state, BrokerState::Down(_)) {
                    if demo_services::nats_server::PrivateNats::available() {
                        if ui
                            .add_enabled(self.nats_starting.is_none(), egui::Button::new("Start"))
                            .on_hover_text("Start a private nats-server (free port, JetStream, stored in the data directory) that stops with the app")
                            .clicked()
                        {
                            self.nats_starting = Some(url.clone());
                            self.command(Command::StartNats);
                        }
                    } else {
                        ui.label(RichText::new("install nats-server (apt-get install nats-server)").small().weak());
                    }
                }
            });
            next_row_unless(ui, 360.0);
            ui.group(|ui| {
                let (url, state) = &self.kafka;
                let (health, text) = match state {
                    BrokerState::Unknown => (Health::Starting, "checking…".to_string()),
                    BrokerState::Up => (Health::Up, "up".to_string()),
                    BrokerState::Down(_) => (Health::Down, "down".to_string()),
                };
                let detail = match state {
                    BrokerState::Down(why) => format!("{url}: {why}"),
                    _ => url.clone(),
                };
                status_dot(ui, health);
                ui.label(RichText::new("Kafka broker").strong()).on_hover_text(&detail);
                ui.label(RichText::new(text).small()).on_hover_text(&detail);
                ui.label(RichText::new(url.trim_start_matches("kafka://")).small().weak());
                if let Some(consumer) = &self.kafka_consumer {
                    let text = match consumer {
                        ConsumerState::Disabled => "group user-service off".to_string(),
                        ConsumerState::Connecting => "group user-service joining…".to_string(),
                        ConsumerState::Consuming { consumed, .. } => {
                            format!("group user-service: {consumed} consumed")
                        }
                        ConsumerState::Down(why) => format!("group user-service down: {why}"),
                    };
                    ui.label(RichText::new(text).small().weak());
                }
            });
            if let DemoState::Up { notes } = &self.demo {
                for note in notes {
                    ui.colored_label(ui.visuals().warn_fg_color, note);
                }
            }
            if let Some(error) = self.service_error.clone() {
                ui.colored_label(ui.visuals().error_fg_color, error);
                if ui.small_button("dismiss").clicked() {
                    self.service_error = None;
                }
            }
        });
    }

    fn history_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("History");
            ui.label(RichText::new(format!("{}", self.history.len())).weak());
            if !self.history.is_empty() && ui.small_button("Clear…").clicked() {
                self.collections.dialog = Some(Dialog::ClearHistory);
            }
        });
        ui.horizontal(|ui| {
            let l = ui.label("Search");
            let search = ui
                .add(
                    egui::TextEdit::singleline(&mut self.history_query)
                        .hint_text("URL, status, body… (Ctrl+F)")
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(l.id);
            if std::mem::take(&mut self.focus_history_search) {
                search.request_focus();
            }
        });
        if let Some(note) = &self.history_note {
            ui.label(
                RichText::new(note)
                    .small()
                    .color(ui.visuals().warn_fg_color),
            );
        }
        let pins = self.pinned.len();
        ui.horizontal(|ui| {
            ui.add_enabled_ui(pins >= 2, |ui| {
                ui.toggle_value(&mut self.compare, "Compare pinned").on_hover_text(
                    "Pin two or three exchanges to compare their timelines and payloads on one axis",
                );
            });
            ui.label(
                RichText::new(format!("{pins}/{MAX_PINS} pinned"))
                    .small()
                    .weak(),
            );
        });
        ui.separator();
        let mut toggle = None;
        let mut select = None;
        let query = self.history_query.trim().to_lowercase();
        // The search runs when the query or the history changes, not every frame.
        let key = (
            query.clone(),
            self.history.len(),
            self.history.last().map_or(0, |e| e.seq),
        );
        if self.history_matches.as_ref().map(|(k, _)| k) != Some(&key) {
            let seqs = self
                .history
                .iter()
                .filter(|e| {
                    crate::engine::history::matches(&e.exchange, e.request.as_ref(), &query)
                })
                .map(|e| e.seq)
                .collect::<std::collections::HashSet<u64>>();
            self.history_matches = Some((key, seqs));
        }
        let shown = self.history_matches.as_ref().map(|(_, s)| s);
        let now_ms = crate::engine::recorder::unix_ms();
        egui::ScrollArea::vertical()
            .id_salt("history-list")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for entry in self
                    .history
                    .iter()
                    .rev()
                    .filter(|e| shown.is_none_or(|s| s.contains(&e.seq)))
                {
                    let e = &entry.exchange;
                    let selected = self.selected == Some(entry.seq);
                    let pinned = self.pinned.contains(&entry.seq);
                    ui.horizontal(|ui| {
                        if ui
                            .selectable_label(pinned, "pin")
                            .on_hover_text("Pin for compare (two pinned exchanges can be compared)")
                            .clicked()
                        {
                            toggle = Some(entry.seq);
                        }
                        let status = e
                            .status
                            .clone()
                            .unwrap_or_else(|| status_word(e).to_string());
                        let color = if e.ok || was_cancelled(e) {
                            ui.visuals().text_color()
                        } else {
                            ui.visuals().error_fg_color
                        };
                        let text = RichText::new(format!(
                            "{} {} {} · {}",
                            e.transport.label(),
                            history_verb(e),
                            status,
                            format_us(e.total_us)
                        ))
                        .color(color);
                        ui.label(
                            RichText::new(history_time(e.started_at_ms, now_ms))
                                .monospace()
                                .small()
                                .weak(),
                        )
                        .on_hover_text("when it was sent (UTC)");
                        let response = ui.selectable_label(selected, text).on_hover_text(&e.target);
                        if response.clicked() {
                            select = Some(entry.seq);
                        }
                    });
                    ui.label(RichText::new(truncate(&e.target, 44)).small().weak());
                }
            });
        if let Some(seq) = toggle {
            self.toggle_pin(seq);
        }
        if let Some(seq) = select {
            self.selected = Some(seq);
            self.compare = false;
        }
    }

    fn editor_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            for tab in TransportTab::ALL {
                let selected = self.settings.transport == tab;
                if ui
                    .selectable_label(selected, RichText::new(tab.label()).strong())
                    .clicked()
                {
                    self.show_editor(tab);
                }
            }
        });
        ui.separator();
        let tab = self.settings.transport;
        match tab {
            TransportTab::Http => editors::http_ui(ui, &mut self.settings.http),
            TransportTab::Grpc => {
                editors::grpc_ui(ui, &mut self.settings.grpc);
                self.grpc_browser_ui(ui);
            }
            TransportTab::Amqp => editors::amqp_ui(ui, &mut self.settings.amqp),
            TransportTab::Nats => super::nats_editor::nats_ui(
                ui,
                &mut self.settings.nats,
                &mut self.settings.nats_many,
            ),
            TransportTab::Kafka => super::kafka_editor::kafka_ui(
                ui,
                &mut self.settings.kafka,
                &mut self.settings.kafka_many,
            ),
        }
        let shortcut = std::mem::take(&mut self.send_shortcut);
        ui.horizontal_wrapped(|ui| {
            let busy = self.in_flight.get(&tab).cloned();
            let publishes = tab == TransportTab::Amqp
                || tab == TransportTab::Kafka
                || (tab == TransportTab::Nats
                    && self.settings.nats.op == crate::engine::nats::NatsOp::Publish);
            let send_label = if publishes { "Publish" } else { "Send" };
            let send = ui
                .add_enabled(busy.is_none(), egui::Button::new(RichText::new(send_label).strong()))
                .on_hover_text("Ctrl+Enter");
            if send.clicked() || (shortcut && busy.is_none()) {
                self.send_current(tab);
            }
            if tab == TransportTab::Amqp
                && ui
                    .add_enabled(busy.is_none(), egui::Button::new("Place order"))
                    .on_hover_text("POST the order to the Order Service: see its synchronous user check and the queue message it publishes")
                    .clicked()
            {
                self.place_order();
            }
            if tab == TransportTab::Amqp
                && ui
                    .add_enabled(busy.is_none(), egui::Button::new(format!("Publish {}", self.settings.amqp.many_count)))
                    .on_hover_text("Publish many copies (see Publish many above) with pipelined confirms")
                    .clicked()
            {
                self.publish_many();
            }
            if tab == TransportTab::Nats
                && self.settings.nats.op == crate::engine::nats::NatsOp::Publish
                && ui
                    .add_enabled(busy.is_none(), egui::Button::new(format!("Publish {}", self.settings.nats_many.count)))
                    .on_hover_text("Publish many (see Publish many above): JetStream with up to 1000 acks in flight, core flushed as it goes")
                    .clicked()
            {
                self.nats_publish_many();
            }
            if tab == TransportTab::Kafka
                && ui
                    .add_enabled(busy.is_none(), egui::Button::new(format!("Produce {}", self.settings.kafka_many.count)))
                    .on_hover_text("Produce many (see Produce many above): up to 1000 produce requests in flight on each leader's connection")
                    .clicked()
            {
                self.kafka_publish_many();
            }
            if let Some(flight) = busy {
                ui.spinner();
                ui.label(format!("{:.1} s", flight.started.elapsed().as_secs_f64()));
                if ui.button("Cancel").clicked() {
                    self.cancel(tab);
                }
                // The elapsed time ticks while waiting.
                ui.ctx().request_repaint_after(std::time::Duration::from_millis(100));
            }
            if let Some(EditorOutcome::Sent(summary) | EditorOutcome::Cancelled(summary)) =
                self.outcomes.get(&tab)
            {
                ui.label(RichText::new(summary).weak());
            }
        });
        // Errors get their own (wrapping) line right under the buttons that caused them.
        if let Some(EditorOutcome::Failed(message)) = self.outcomes.get(&tab) {
            ui.colored_label(ui.visuals().error_fg_color, message);
        }
        if tab == self.many_of.0 {
            self.many_ui(ui);
        }
        if tab == TransportTab::Grpc {
            self.interactive_stream_ui(ui);
            self.stream_ui(ui);
        }
        self.load_ui(ui, tab);
    }

    fn load_ui(&mut self, ui: &mut egui::Ui, tab: TransportTab) {
        let busy = self.is_busy(tab);
        let mut run = false;
        egui::CollapsingHeader::new("Load test")
            .id_salt("load")
            .default_open(false)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    let form = &mut self.settings.load;
                    let l = ui.label("Requests");
                    ui.add_enabled(
                        form.duration_secs <= 0.0,
                        egui::DragValue::new(&mut form.requests)
                            .range(1..=100_000_000)
                            .speed(10),
                    )
                    .labelled_by(l.id);
                    let l = ui.label("or for");
                    ui.add(
                        egui::DragValue::new(&mut form.duration_secs)
                            .range(0.0..=3600.0)
                            .speed(0.5)
                            .suffix(" s"),
                    )
                    .labelled_by(l.id)
                    .on_hover_text("0 s: stop after the number of requests");
                    let l = ui.label("Concurrency");
                    ui.add(egui::DragValue::new(&mut form.concurrency).range(1..=1000))
                        .labelled_by(l.id);
                    run = ui
                        .add_enabled(!busy, egui::Button::new(RichText::new("Run load").strong()))
                        .on_hover_text(
                            "Send the request above many times on kept-alive connections",
                        )
                        .clicked();
                });
                if let Some(load) = self.load.as_ref().filter(|l| l.tab == tab) {
                    load_result_ui(
                        ui,
                        load,
                        &self.settings.load,
                        self.in_flight.get(&tab).is_some_and(|f| f.id == load.id),
                    );
                }
            });
        if run {
            self.run_load(tab);
        }
    }

    fn many_ui(&self, ui: &mut egui::Ui) {
        let Some((id, state)) = &self.many else {
            return;
        };
        let (tab, total) = self.many_of;
        let running = self.in_flight.get(&tab).is_some_and(|f| f.id == *id);
        match state {
            Ok(p) => {
                let fraction = p.confirmed as f32 / total as f32;
                let text = format!(
                    "{} published, {} confirmed, {} failed in {:.2} s ({:.0} msg/s){}",
                    p.published,
                    p.confirmed,
                    p.failed,
                    p.elapsed.as_secs_f64(),
                    p.rate(),
                    if p.done {
                        ""
                    } else if running {
                        " …"
                    } else {
                        " (stopped)"
                    }
                );
                ui.add(
                    egui::ProgressBar::new(fraction)
                        .text(text)
                        .desired_width(ui.available_width().min(600.0)),
                );
            }
            Err(message) => {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("publish many failed: {message}"),
                );
            }
        }
    }

    fn result_ui(&mut self, ui: &mut egui::Ui) {
        if self.compare && self.pinned.len() >= 2 {
            let mut cached = self.compare_diffs.take();
            let pinned: Vec<&Exchange> = self
                .pinned
                .iter()
                .filter_map(|seq| self.entry(*seq))
                .map(|e| &e.exchange)
                .collect();
            if pinned.len() >= 2 {
                if cached.as_ref().map(|(k, _)| k) != Some(&self.pinned) {
                    cached = Some((
                        self.pinned.clone(),
                        crate::engine::compare::differences(&pinned),
                    ));
                }
                let diffs = cached.as_ref().map_or(&[][..], |(_, d)| d);
                compare_ui(ui, &pinned, diffs);
            }
            self.compare_diffs = cached;
            return;
        }
        // Drawn from a borrow (an exchange can hold a 100,000-message stream): the pin toggle
        // is applied afterwards.
        let mut toggle_pin = None;
        let mut reopen = None;
        let Some(entry) = self.selected_entry() else {
            ui.add_space(20.0);
            ui.label(RichText::new("Send a request to see where its time goes.").weak());
            return;
        };
        let e = &entry.exchange;
        ui.horizontal_wrapped(|ui| {
            let color = if e.ok {
                Color32::from_rgb(0x5c, 0xb8, 0x5c)
            } else if was_cancelled(e) {
                ui.visuals().weak_text_color()
            } else {
                ui.visuals().error_fg_color
            };
            ui.label(
                RichText::new(
                    e.status
                        .clone()
                        .unwrap_or_else(|| status_word(e).to_string()),
                )
                .color(color)
                .strong()
                .size(16.0),
            );
            ui.label(RichText::new(format!("{} {}", e.transport.label(), e.target)).monospace());
            ui.label(format!("total {}", format_us(e.total_us)));
            ui.label(
                RichText::new(format!(
                    "sent {} B · received {} B",
                    e.request.size_bytes,
                    e.response.as_ref().map_or(0, |r| r.size_bytes)
                ))
                .weak(),
            );
            let pinned = self.pinned.contains(&entry.seq);
            if ui.selectable_label(pinned, "Pin").clicked() {
                toggle_pin = Some(entry.seq);
            }
            let copy_in_clear = self.settings.credentials.copy_in_clear;
            if ui
                .small_button("Copy as JSON")
                .on_hover_text(if copy_in_clear {
                    "Credentials are copied as sent (Settings)"
                } else {
                    "Credentials are masked (Settings can include them)"
                })
                .clicked()
            {
                ui.ctx().copy_text(if copy_in_clear {
                    e.to_json_line()
                } else {
                    e.redacted().to_json_line()
                });
            }
            if entry.request.is_some()
                && ui
                    .small_button("Open in editor")
                    .on_hover_text("Put the request that produced this exchange back in its editor")
                    .clicked()
            {
                reopen = entry.request.clone();
            }
        });
        ui.add_space(4.0);
        waterfall_ui(ui, &[("", e)]);
        ui.separator();
        ui.columns(2, |cols| {
            message_ui(
                &mut cols[0],
                "request",
                "Request",
                e.transport,
                Some(&e.request),
            );
            message_ui(
                &mut cols[1],
                "response",
                "Response",
                e.transport,
                e.response.as_ref(),
            );
        });
        if let Some(seq) = toggle_pin {
            self.toggle_pin(seq);
        }
        if let Some(request) = reopen {
            // A snapshot from the history, not the saved file: the editor is detached.
            self.collections
                .active
                .remove(&EditorKind::of(&request.spec));
            self.settings.apply_saved(&request);
            if crate::engine::credentials::is_redacted(&request) {
                self.outcomes.insert(
                    self.settings.transport,
                    EditorOutcome::Failed(
                        "the history kept this request with its credentials masked (••••): type them again before sending".to_string(),
                    ),
                );
            }
        }
    }

    /// The Settings window: what is kept of credentials, and where.
    fn settings_window_ui(&mut self, ctx: &egui::Context) {
        let mut open = true;
        let data_dir = self.data_dir.display().to_string();
        let c = &mut self.settings.credentials;
        egui::Window::new("Settings")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .default_width(520.0)
            .show(ctx, |ui| {
                ui.heading("Credentials at rest");
                ui.label(
                    "Authorization, Proxy-Authorization, Cookie, API-key and token headers \
                     (gRPC metadata too) and passwords in URLs.",
                );
                ui.add_space(6.0);
                ui.label(RichText::new("Typed into the editors, when the app closes").strong());
                ui.radio_value(
                    &mut c.editors,
                    EditorCredentials::SecretStore,
                    "Keep them in the secret store (secrets.json, owner-only)",
                )
                .on_hover_text(
                    "settings.json holds a {{reference}}; the editor gets the value back at the next launch",
                );
                ui.radio_value(
                    &mut c.editors,
                    EditorCredentials::Forget,
                    "Forget them (type them again after a restart)",
                );
                ui.add_space(6.0);
                ui.label(RichText::new("History and copies").strong());
                ui.checkbox(
                    &mut c.history_in_clear,
                    "Keep credentials in clear in the history file",
                )
                .on_hover_text(
                    "Off: history.jsonl gets them masked (Bearer •••• (redacted), user:••••@host); this session still shows them as sent",
                );
                ui.checkbox(&mut c.copy_in_clear, "Copy as JSON includes credentials")
                    .on_hover_text("Off: the copied exchange has them masked");
                ui.add_space(6.0);
                ui.label(
                    RichText::new(format!(
                        "Kept in {data_dir} (owner-only): settings.json, app.ron (window), history.jsonl, secrets.json"
                    ))
                    .small()
                    .weak(),
                );
            });
        if !open {
            self.show_settings = false;
        }
    }

    /// Writes the settings file (owner-only) with the editors' credentials moved to the
    /// secret store, or dropped, as the user chose.
    pub fn save_state(&mut self) {
        // Editors pointing at this run's demo are saved pointing at the default demo, so that
        // the next launch (which may get other ports) retargets them again.
        let mut settings = self.settings.clone();
        settings.open_requests = self.open_requests();
        (settings.tabs, settings.tab_index) = self.request_tabs.to_saved(self.demo_config.as_ref());
        if let Some(config) = &self.demo_config {
            settings.retarget_demo(config, &demo_services::DemoConfig::default());
        }
        let mut forgetting = settings.clone();
        forgetting.forget_credentials();
        for tab in &mut forgetting.tabs {
            tab.forget_credentials();
        }
        let mut keeping = settings;
        let mut files = self.backend.files.lock().unwrap_or_else(|p| p.into_inner());
        let secrets = match keeping.credentials.editors {
            EditorCredentials::SecretStore => {
                // The current tab's and every other tab's, each under references of its own.
                let known = files.editor_secrets();
                let mut secrets = keeping.take_credentials(&known);
                for (n, tab) in keeping.tabs.iter_mut().enumerate() {
                    secrets.extend(tab.take_credentials(n + 1, &known));
                }
                secrets
            }
            EditorCredentials::Forget => Default::default(),
        };
        let stored = files.set_editor_secrets(secrets);
        drop(files);
        let settings = match (keeping.credentials.editors, stored) {
            (EditorCredentials::SecretStore, Ok(())) => keeping,
            (_, Err(e)) => {
                tracing::warn!("{e}");
                forgetting
            }
            (EditorCredentials::Forget, Ok(())) => forgetting,
        };
        if let Err(e) = super::state::save_settings(&self.data_dir, &settings) {
            tracing::warn!(
                "cannot save the settings in {}: {e}",
                self.data_dir.display()
            );
        }
    }

    /// Draws one frame (everything but event draining).
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        // Keyboard shortcuts are taken before any widget sees the key: a focused button must
        // not also be pressed by Ctrl+Enter.
        self.send_shortcut = ui.input_mut(|i| {
            i.consume_shortcut(&egui::KeyboardShortcut::new(
                egui::Modifiers::COMMAND,
                egui::Key::Enter,
            ))
        });
        if self.settings.view == MainView::Requests {
            self.request_tab_keys(ui);
            if ui.input_mut(|i| {
                i.consume_shortcut(&egui::KeyboardShortcut::new(
                    egui::Modifiers::COMMAND,
                    egui::Key::F,
                ))
            }) {
                // Search the history: the side panel opens if it was hidden.
                self.settings.side_panel = true;
                self.focus_history_search = true;
            }
        }
        if self.applied_theme != Some(self.settings.dark_mode) {
            ui.ctx().set_theme(if self.settings.dark_mode {
                egui::Theme::Dark
            } else {
                egui::Theme::Light
            });
            self.applied_theme = Some(self.settings.dark_mode);
        }
        egui::Panel::top("top").show(ui, |ui| self.top_ui(ui));
        // Dragged closed or hidden with *Hide panel*; *Show panel* brings it back.
        let mut side_panel = self.settings.side_panel;
        egui::Panel::left("history")
            .resizable(true)
            .default_size(300.0)
            .min_size(200.0)
            .show_collapsible(ui, &mut side_panel, |ui| {
                let height = ui.available_height();
                egui::ScrollArea::vertical()
                    .id_salt("collections-tree")
                    .max_height(height * 0.5)
                    .auto_shrink([false, true])
                    .show(ui, |ui| self.collections_panel_ui(ui));
                ui.separator();
                self.history_ui(ui);
            });
        self.settings.side_panel = side_panel;
        egui::CentralPanel::default_margins().show(ui, |ui| match self.settings.view {
            MainView::Requests => {
                self.request_tabs_ui(ui);
                self.request_bar_ui(ui);
                ui.separator();
                // Side by side needs room for both: a narrow window stacks them.
                let side_by_side = self.settings.layout
                    == super::settings::RequestLayout::SideBySide
                    && ui.available_width() >= SIDE_BY_SIDE_MIN_WIDTH;
                match side_by_side {
                    true => {
                        // The editor and its result visible together, each scrolling on its
                        // own; the split is dragged (egui keeps its width).
                        // A split of our own width (kept in the settings): egui's resizable
                        // panel grows to fit content that fills it, frame after frame.
                        let available = ui.available_width();
                        let max = (available - 260.0).max(300.0);
                        let width = if self.settings.editor_width > 0.0 {
                            self.settings.editor_width
                        } else {
                            available * 0.5
                        }
                        .clamp(300.0_f32.min(max), max);
                        egui::Panel::left("editor-pane")
                            .exact_size(width)
                            .frame(egui::Frame::NONE.inner_margin(egui::Margin {
                                right: 6,
                                ..Default::default()
                            }))
                            .show(ui, |ui| {
                                egui::ScrollArea::vertical()
                                    .id_salt("editor-scroll")
                                    .auto_shrink([false, false])
                                    .show(ui, |ui| self.editor_ui(ui));
                            });
                        // The handle between the two: drag it to move the split.
                        let handle = {
                            let r = ui.available_rect_before_wrap();
                            egui::Rect::from_min_max(r.min, egui::pos2(r.min.x + 10.0, r.max.y))
                        };
                        let drag = ui
                            .interact(
                                handle,
                                egui::Id::unique("editor-split"),
                                egui::Sense::drag(),
                            )
                            .on_hover_cursor(egui::CursorIcon::ResizeHorizontal);
                        if drag.dragged() {
                            self.settings.editor_width =
                                (width + drag.drag_delta().x).clamp(300.0_f32.min(max), max);
                        }
                        let stroke = if drag.hovered() || drag.dragged() {
                            ui.visuals().widgets.active.bg_stroke
                        } else {
                            ui.visuals().widgets.noninteractive.bg_stroke
                        };
                        ui.painter()
                            .vline(handle.center().x, handle.y_range(), stroke);
                        ui.add_space(10.0);
                        egui::CentralPanel::no_frame().show(ui, |ui| {
                            egui::ScrollArea::vertical()
                                .id_salt("result-scroll")
                                .auto_shrink([false, false])
                                .show(ui, |ui| self.result_ui(ui));
                        });
                    }
                    false => {
                        egui::ScrollArea::vertical()
                            .auto_shrink([false, false])
                            .show(ui, |ui| {
                                self.editor_ui(ui);
                                ui.separator();
                                self.result_ui(ui);
                            });
                    }
                }
            }
            MainView::Messages => {
                if self.collections.active.contains_key(&EditorKind::Watch) {
                    self.request_bar_ui(ui);
                    ui.separator();
                }
                self.viewer.copy_in_clear = self.settings.credentials.copy_in_clear;
                let actions = viewer_ui(
                    ui,
                    &mut self.viewer,
                    &mut self.settings.watch_form,
                    &mut self.settings.amqp.url,
                );
                for action in actions {
                    self.viewer_action(action);
                }
            }
        });
        self.collection_dialog_ui(&ui.ctx().clone());
        if self.show_settings {
            self.settings_window_ui(&ui.ctx().clone());
        }
        if self.report_first_frame {
            self.report_first_frame = false;
            println!("bench: first frame");
        }
        if let Some(frames) = self.script_frames.as_mut() {
            *frames += 1;
            if *frames == 3 {
                println!("script: done");
            }
            if *frames <= 3 {
                ui.ctx().request_repaint();
            }
        }
    }
}

impl eframe::App for SwitchboardApp {
    fn logic(&mut self, _ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain_events();
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.save_state();
        // Older versions kept the settings (credentials included) in eframe's file.
        if storage.get_string(eframe::APP_KEY).is_some() {
            storage.remove_string(eframe::APP_KEY);
        }
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.backend.send(Command::Shutdown);
    }
}

/// True when the user cancelled the exchange (neutral, not a failure).
fn was_cancelled(e: &Exchange) -> bool {
    e.error
        .as_ref()
        .is_some_and(|error| error.kind == ErrorKind::Cancelled)
}

/// What an exchange without a status is called.
fn status_word(e: &Exchange) -> &'static str {
    if was_cancelled(e) {
        "cancelled"
    } else if e.error.is_some() {
        "failed"
    } else {
        "no answer"
    }
}

fn outcome_of(e: &Exchange) -> EditorOutcome {
    match &e.error {
        None => EditorOutcome::Sent(format!(
            "{} in {}",
            e.status.clone().unwrap_or_default(),
            format_us(e.total_us)
        )),
        Some(error) if error.kind == ErrorKind::Cancelled => EditorOutcome::Cancelled(format!(
            "cancelled after {} (what arrived is kept)",
            format_us(e.total_us)
        )),
        Some(error) => {
            let hint = match error.kind {
                ErrorKind::ConnectionRefused => {
                    " (start it in the services strip above, or check the address)"
                }
                ErrorKind::Timeout => {
                    " — raise the timeout at the top, or check the service's added latency"
                }
                ErrorKind::InvalidInput => " — fix the field and send again",
                ErrorKind::Auth => " — check the user and password in the broker URL",
                _ => "",
            };
            EditorOutcome::Failed(format!("{error}{hint}"))
        }
    }
}

#[derive(Clone, Copy)]
enum Health {
    Up,
    Down,
    Starting,
}

fn status_dot(ui: &mut egui::Ui, health: Health) {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
    let (color, text) = match health {
        Health::Up => (Color32::from_rgb(0x4c, 0xc3, 0x5c), "up"),
        Health::Down => (Color32::from_rgb(0xe0, 0x4f, 0x4f), "down"),
        Health::Starting => (Color32::from_rgb(0xe0, 0xb0, 0x3c), "starting"),
    };
    ui.painter().circle_filled(rect.center(), 5.0, color);
    response.on_hover_text(text);
}

pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        let mut out: String = text.chars().take(max_chars - 1).collect();
        out.push('…');
        out
    }
}

/// Two exchanges: a summary table, their timelines on one axis, their payloads side by side.
/// Most exchanges compared at once (one order through RabbitMQ, NATS JetStream and Kafka).
const MAX_PINS: usize = 3;

fn compare_ui(
    ui: &mut egui::Ui,
    exchanges: &[&Exchange],
    diffs: &[crate::engine::compare::Difference],
) {
    const NAMES: [&str; MAX_PINS] = ["A", "B", "C"];
    let named: Vec<(&str, &Exchange)> = NAMES
        .iter()
        .copied()
        .zip(exchanges.iter().copied())
        .collect();
    ui.heading("Compare");
    egui::Grid::new("compare-summary")
        .striped(true)
        .num_columns(named.len() + 1)
        .show(ui, |ui| {
            ui.label("");
            for (name, _) in &named {
                ui.label(RichText::new(*name).strong());
            }
            ui.end_row();
            type Cell = Box<dyn Fn(&Exchange) -> String>;
            let rows: [(&str, Cell); 5] = [
                (
                    "target",
                    Box::new(|e: &Exchange| format!("{} {}", e.transport.label(), e.target)),
                ),
                (
                    "status",
                    Box::new(|e: &Exchange| {
                        e.status.clone().unwrap_or_else(|| "no answer".to_string())
                    }),
                ),
                ("total", Box::new(|e: &Exchange| format_us(e.total_us))),
                (
                    "request body",
                    Box::new(|e: &Exchange| format!("{} B", e.request.size_bytes)),
                ),
                (
                    "response body",
                    Box::new(|e: &Exchange| {
                        format!("{} B", e.response.as_ref().map_or(0, |r| r.size_bytes))
                    }),
                ),
            ];
            let differ = ui.visuals().warn_fg_color;
            for (row, value) in rows {
                ui.label(RichText::new(row).weak());
                let values: Vec<String> = named.iter().map(|(_, e)| value(e)).collect();
                // A summary value that is not the same everywhere is highlighted (totals
                // always differ: not those).
                let same = row == "total" || values.windows(2).all(|w| w[0] == w[1]);
                for v in values {
                    if same {
                        ui.label(v);
                    } else {
                        ui.label(RichText::new(v).color(differ).strong());
                    }
                }
                ui.end_row();
            }
        });
    ui.add_space(6.0);
    differences_ui(ui, &named, diffs);
    ui.add_space(6.0);
    waterfall_ui(ui, &named);
    ui.separator();
    for (side, title) in [("response", "Response"), ("request", "Request")] {
        ui.columns(named.len(), |cols| {
            for (col, (name, e)) in cols.iter_mut().zip(&named) {
                let message = if side == "request" {
                    Some(&e.request)
                } else {
                    e.response.as_ref()
                };
                message_ui(
                    col,
                    &format!("{name}-{side}"),
                    &format!("{name} · {title}"),
                    e.transport,
                    message,
                );
            }
        });
    }
}

/// The list of what differs between the compared exchanges, each value highlighted.
fn differences_ui(
    ui: &mut egui::Ui,
    named: &[(&str, &Exchange)],
    diffs: &[crate::engine::compare::Difference],
) {
    const SHOWN: usize = 40;
    let title = match diffs.len() {
        0 => "No differences in status, headers, bodies or phases".to_string(),
        1 => "1 difference".to_string(),
        n => format!("{n} differences"),
    };
    egui::CollapsingHeader::new(RichText::new(title).strong())
        .id_salt("compare-differences")
        .default_open(true)
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("compare-differences-list")
                .max_height(220.0)
                .show(ui, |ui| {
                    egui::Grid::new("compare-differences-grid")
                        .striped(true)
                        .num_columns(named.len() + 1)
                        .show(ui, |ui| {
                            ui.label("");
                            for (name, _) in named {
                                ui.label(RichText::new(*name).strong());
                            }
                            ui.end_row();
                            let differ = ui.visuals().warn_fg_color;
                            for d in diffs.iter().take(SHOWN) {
                                ui.label(RichText::new(&d.what).monospace());
                                for v in &d.values {
                                    match v {
                                        Some(v) => ui.label(
                                            RichText::new(truncate(v, 60))
                                                .monospace()
                                                .color(differ),
                                        ),
                                        None => ui.label(RichText::new("(none)").weak()),
                                    };
                                }
                                ui.end_row();
                            }
                        });
                    if diffs.len() > SHOWN {
                        ui.label(
                            RichText::new(format!("… and {} more", diffs.len() - SHOWN)).weak(),
                        );
                    }
                });
        });
}

/// Progress while a load runs; then throughput, errors, percentiles and the latency histogram.
fn load_result_ui(
    ui: &mut egui::Ui,
    load: &LoadRun,
    form: &super::settings::LoadForm,
    running: bool,
) {
    match &load.result {
        None => {
            let p = load.progress;
            let fraction = if form.duration_secs > 0.0 {
                (p.elapsed.as_secs_f64() / form.duration_secs) as f32
            } else {
                p.done as f32 / form.requests.max(1) as f32
            };
            let text = format!(
                "{} done, {} failed, {:.1} s{}",
                p.done,
                p.failed,
                p.elapsed.as_secs_f64(),
                if running { "" } else { " (stopped)" }
            );
            ui.add(
                egui::ProgressBar::new(fraction.clamp(0.0, 1.0))
                    .text(text)
                    .desired_width(ui.available_width().min(600.0)),
            );
        }
        Some(Err(message)) => {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("load failed: {message}"),
            );
        }
        Some(Ok(r)) => {
            ui.label(
                RichText::new(format!(
                    "{} requests in {:.2} s: {:.1} req/s, {} ok, {} failed",
                    r.requests,
                    r.elapsed.as_secs_f64(),
                    r.throughput(),
                    r.ok,
                    r.requests - r.ok
                ))
                .strong(),
            );
            for (kind, n) in &r.errors {
                ui.colored_label(ui.visuals().error_fg_color, format!("{n} × {kind}"));
            }
            if r.requests == 0 {
                return;
            }
            ui.horizontal_wrapped(|ui| {
                for (name, us) in [
                    ("p50", r.percentile_us(50.0)),
                    ("p90", r.percentile_us(90.0)),
                    ("p99", r.percentile_us(99.0)),
                    ("p99.9", r.percentile_us(99.9)),
                    ("max", r.latency_us.max()),
                ] {
                    ui.label(format!("{name} {}", format_us(us)));
                    ui.separator();
                }
            });
            let buckets = r.buckets();
            let labels: Vec<String> = buckets
                .iter()
                .map(|(end, _)| format!("< {}", format_us(*end)))
                .collect();
            let bars: Vec<egui_plot::Bar> = buckets
                .iter()
                .enumerate()
                .map(|(i, (_, count))| {
                    egui_plot::Bar::new(i as f64, *count as f64)
                        .width(0.85)
                        .name(&labels[i])
                        .fill(super::timeline_view::phase_color(
                            crate::engine::http::phases::FIRST_BYTE,
                        ))
                })
                .collect();
            egui_plot::Plot::new(("latency-histogram", load.id))
                .height(160.0)
                .allow_zoom(false)
                .allow_drag(false)
                .allow_scroll(false)
                .x_axis_formatter(move |mark, _range| {
                    let i = mark.value.round();
                    if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                        labels.get(i as usize).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .y_axis_label("requests")
                .show(ui, |plot| {
                    plot.bar_chart(egui_plot::BarChart::new("latency", bars))
                });
        }
    }
}

/// What a history row says was done: the HTTP method, the gRPC method's name, or the
/// broker operation (publish, request, produce…).
fn history_verb(e: &crate::engine::Exchange) -> String {
    match e.transport {
        crate::engine::Transport::Grpc => {
            e.target.rsplit('/').next().unwrap_or_default().to_string()
        }
        _ => e
            .request
            .line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

/// `13:02:07` today, `12-04 13:02:07` on another day (UTC, as the viewer's times).
fn history_time(at_ms: u64, now_ms: u64) -> String {
    const DAY_MS: u64 = 86_400_000;
    let mut time = super::viewer::format_time(at_ms);
    time.truncate(8);
    if at_ms / DAY_MS == now_ms / DAY_MS {
        return time;
    }
    match time::OffsetDateTime::from_unix_timestamp((at_ms / 1000) as i64) {
        Ok(d) => format!("{:02}-{:02} {time}", u8::from(d.month()), d.day()),
        Err(_) => time,
    }
}

/// The keyboard shortcuts, as the *Keys* menu lists them.
const KEYS: &[(&str, &str)] = &[
    ("Ctrl+Enter", "send the request"),
    ("Ctrl+S", "save it to its collection"),
    ("Ctrl+T", "new request tab"),
    ("Ctrl+W", "close the tab"),
    ("Ctrl+Tab / Ctrl+Shift+Tab", "next / previous tab"),
    ("Ctrl+1 … Ctrl+5", "HTTP, gRPC, AMQP, NATS, Kafka editor"),
    ("Ctrl+F", "search the history"),
    ("Esc", "close a dialog"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_rows_show_the_time_and_the_day_when_it_is_not_today() {
        // 2026-12-04 13:02:07.5 UTC, and a moment the next day.
        let at = 1_796_389_327_500;
        assert_eq!(history_time(at, at + 1_000), "13:02:07");
        assert_eq!(history_time(at, at + 86_400_000), "12-04 13:02:07");
    }
}
