//! The Switchboard window: services strip, transport editors, history, and the selected
//! exchange (timeline waterfall + request/response side by side) or two compared.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use demo_services::ConsumerState;
use demo_services::supervisor::{ServiceId, ServiceStatus};
use egui::{Color32, RichText};

use super::backend::PathPurpose;
use super::backend::{
    self, BackendError, BackendHandle, BackendOptions, BrokerState, Command, Event, Starting,
};
use super::editors;
use super::payload_view::message_ui;
use super::settings::{EditorCredentials, MainView, Settings, TransportTab};
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

use super::settings::EditorKind;
use collections::{CollectionsState, Dialog};

mod actions;
pub mod collections;
mod editor_area;
mod events;
mod frame;
mod grpc_view;
mod history;
mod observe;
pub mod request_tabs;
mod result;
mod script;
mod services;

pub(crate) use super::payload_view::truncate;
pub use grpc_view::GrpcView;
pub use history::HistoryView;
use result::{MAX_PINS, load_result_ui};
pub use script::{Script, ScriptRun};
pub use services::ServicesStrip;

/// The narrowest Requests view that shows editor and result side by side (narrower: stacked).
const SIDE_BY_SIDE_MIN_WIDTH: f32 = 820.0;

/// The narrowest the result pane gets beside the editor.
const RESULT_MIN_WIDTH: f32 = 420.0;

/// The accessible name of the handle between the editor and its result.
pub const SPLIT_LABEL: &str = "Move the editor/result split";

/// The narrowest and widest the editor may be in a split of `available` points: each side
/// keeps room to be useful (the result's timeline durations and headers need about 420 points).
fn split_bounds(available: f32) -> (f32, f32) {
    let max = (available - 10.0 - RESULT_MIN_WIDTH).max(300.0);
    (300.0_f32.min(max), max)
}

/// The lowest and highest the editor may be above its result when stacked, in `available`
/// points of height: the result keeps room for its waterfall and the start of both payloads.
fn stacked_bounds(available: f32) -> (f32, f32) {
    let max = (available - 10.0 - 220.0).max(120.0);
    (120.0_f32.min(max), max)
}

/// Most exchanges kept in this session's history.
pub const HISTORY_LIMIT: usize = 1000;

/// How far back the queue sparkline goes.
const QUEUE_WINDOW_SECS: f64 = 60.0;

/// How the app is started.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub backend: BackendOptions,
    /// A scripted action for screenshots and smoke tests.
    pub script: Option<Script>,
}

/// A load run from the editor.
#[derive(Debug, Clone)]
pub struct LoadRun {
    pub id: u64,
    pub tab: TransportTab,
    pub progress: crate::engine::load::LoadProgress,
    pub result: Option<Result<Box<crate::engine::load::LoadReport>, BackendError>>,
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
    Failed(BackendError),
}

pub struct SwitchboardApp {
    pub settings: Settings,
    backend: BackendHandle,
    /// The history panel: the entries, the selection, pins and compare, the search.
    history_view: HistoryView,
    next_id: u64,
    next_seq: u64,
    pub(crate) in_flight: HashMap<TransportTab, InFlight>,
    /// The request tab and editor each running request came from.
    request_origin: HashMap<u64, (u64, TransportTab)>,
    /// The request tabs (the current one's state is in the editors above).
    request_tabs: request_tabs::RequestTabs,
    /// Ctrl+Enter this frame (taken before any widget is drawn, so it never also presses the
    /// focused button).
    send_shortcut: bool,
    /// Each editor's last result (a history sequence number): switching editors shows it.
    pub(crate) last_by_tab: HashMap<TransportTab, u64>,
    outcomes: HashMap<TransportTab, EditorOutcome>,
    /// The services strip: the demo, the brokers and the consumers as last reported.
    strip: ServicesStrip,
    /// Bench and screenshot scripting (--script, SWITCHBOARD_BENCH): see app/script.rs.
    script_run: ScriptRun,
    applied_theme: Option<bool>,
    /// The demo as actually bound (its ports may differ from the defaults).
    demo_config: Option<demo_services::DemoConfig>,
    viewer: Viewer,
    /// The running or last load run.
    load: Option<LoadRun>,
    /// The gRPC editor's method browser and open streams.
    grpc_view: GrpcView,
    /// The running or last publish-many: its request id and progress, or why it failed.
    many: Option<(
        u64,
        Result<crate::engine::publish_many::Progress, BackendError>,
    )>,
    /// The editor and the total of the running (or last) publish many.
    many_of: (TransportTab, u64),
    /// Capacity of each new viewer tab's store.
    store_capacity: usize,
    collections: CollectionsState,
    /// The editor request behind each request id (for the history).
    request_sources: HashMap<u64, SavedRequest>,
    /// The OTLP receiver the services send spans to (or why it is not running).
    traces: Option<Result<super::backend::TracesUp, BackendError>>,
    /// How many spans the receiver had taken when the exchanges' spans were last placed.
    spans_seen: u64,
    /// Where the state, history and secrets are kept.
    data_dir: std::path::PathBuf,
    /// The Settings window is open.
    show_settings: bool,
    /// The settings were read with values lost (a damaged file): saving keeps every credential
    /// the secret store held, so that the copy put aside (`settings.json.bak`) still finds
    /// them.
    settings_salvaged: bool,
    /// Gives the allocator's freed memory back once the app goes quiet after a burst.
    trimmer: super::trim::Trimmer,
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
        let (loaded, settings_problem) = super::state::load_settings(&data_dir);
        let mut settings: Settings = loaded
            .or_else(|| {
                cc.storage
                    .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            })
            .unwrap_or_default();
        // egui's small text is 9 points: too small to read the strip's counters and the
        // history's times on a laptop screen. 10.5 keeps them secondary but legible.
        cc.egui_ctx.all_styles_mut(|style| {
            if let Some(small) = style.text_styles.get_mut(&egui::TextStyle::Small) {
                small.size = small.size.max(10.5);
            }
        });
        let ctx = cc.egui_ctx.clone();
        let repaint: Arc<dyn Fn() + Send + Sync> = Arc::new(move || ctx.request_repaint());
        let demo = if options.backend.demo.is_some() {
            DemoState::Starting
        } else {
            DemoState::Off
        };
        let mut collections = CollectionsState::new(&options.backend.data_dir);
        let backend = backend::spawn(runtime, options.backend, repaint);
        let secrets = backend
            .files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .editor_secrets();
        settings.restore_credentials(&secrets);
        for tab in &mut settings.tabs {
            tab.restore_credentials(&secrets);
            tab.scratch = std::mem::take(&mut tab.scratch)
                .into_iter()
                .map(|kept| {
                    let (kind, request) = kept.restore(&secrets);
                    super::settings::SavedScratch {
                        kind,
                        request,
                        editor_secrets: Vec::new(),
                    }
                })
                .collect();
        }
        for kept in std::mem::take(&mut settings.scratch) {
            let (kind, request) = kept.restore(&secrets);
            collections.scratch.insert(kind, request);
        }
        let request_tabs = request_tabs::RequestTabs::restore(
            std::mem::take(&mut settings.tabs),
            settings.tab_index,
        );
        let mut app = Self {
            script_run: ScriptRun {
                script: options.script,
                script_frames: None,
                report_first_frame: std::env::var_os("SWITCHBOARD_BENCH").is_some(),
            },
            grpc_view: GrpcView {
                grpc_methods: None,
                stream_view: None,
                open_stream: None,
                discovering: false,
            },
            history_view: HistoryView {
                history: Vec::new(),
                selected: None,
                pinned: Vec::new(),
                compare_diffs: None,
                compare: false,
                focus_history_search: false,
                history_query: String::new(),
                history_note: None,
                history_matches: None,
            },
            settings,
            backend,
            next_id: 1,
            next_seq: 1,
            in_flight: HashMap::new(),
            request_origin: HashMap::new(),
            request_tabs,
            outcomes: HashMap::new(),
            strip: ServicesStrip {
                demo,
                services: Vec::new(),
                knob_edits: HashMap::new(),
                broker: BrokerState::Unknown,
                nats: (String::new(), BrokerState::Unknown),
                nats_starting: None,
                rabbit_starting: None,
                consumer: None,
                queue_depth: None,
                queue_samples: Default::default(),
                nats_consumer: None,
                nats_pending: None,
                nats_samples: Default::default(),
                kafka_lag: None,
                kafka_samples: Default::default(),
                epoch: Instant::now(),
                kafka: (String::new(), BrokerState::Unknown),
                kafka_consumer: None,
                service_error: None,
            },
            applied_theme: None,
            send_shortcut: false,
            last_by_tab: HashMap::new(),
            demo_config: None,
            viewer: Viewer::default(),
            many: None,
            many_of: (TransportTab::Amqp, 1),
            load: None,
            store_capacity: DEFAULT_CAPACITY,
            collections,
            request_sources: HashMap::new(),
            data_dir,
            show_settings: false,
            settings_salvaged: settings_problem.is_some(),
            trimmer: super::trim::Trimmer::start(),
            traces: None,
            spans_seen: 0,
        };
        app.open_collections_at_start();
        if let Some(problem) = settings_problem {
            // Shown where it cannot be missed: the side panel opens for it.
            app.settings.side_panel = true;
            app.collections.notice = Some(Err(problem));
        }
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
            self.history_view.history.push(Entry {
                seq,
                request_id: id,
                exchange,
                request: request.clone(),
            });
            seqs.push(seq);
        }
        // Their spans may have reached the store before them (the services export as they
        // finish, the exchange comes through the backend's queue): look again next frame even
        // if no new span comes.
        self.spans_seen = u64::MAX;
        if self.history_view.history.len() > HISTORY_LIMIT {
            let excess = self.history_view.history.len() - HISTORY_LIMIT;
            let gone: Vec<u64> = self
                .history_view
                .history
                .drain(..excess)
                .map(|e| e.seq)
                .collect();
            self.history_view.pinned.retain(|p| !gone.contains(p));
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
        self.history_view.history.clear();
        self.history_view.selected = None;
        self.history_view.pinned.clear();
        self.history_view.compare = false;
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
        let seq = self.history_view.selected?;
        self.history_view.history.iter().find(|e| e.seq == seq)
    }

    fn entry(&self, seq: u64) -> Option<&Entry> {
        self.history_view.history.iter().find(|e| e.seq == seq)
    }

    fn command(&mut self, command: Command) {
        let start = match &command {
            Command::StartRabbit => Some(Starting::RabbitNode),
            Command::StartNats => Some(Starting::NatsServer),
            _ => None,
        };
        if !self.backend.send(command) {
            self.strip.service_error = Some(BackendError::Busy);
            // Nothing is starting: the Start button is usable again.
            match start {
                Some(Starting::RabbitNode) => self.strip.rabbit_starting = None,
                Some(Starting::NatsServer) => self.strip.nats_starting = None,
                _ => {}
            }
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
        // Unsaved requests kept aside by request editors (a watch's is not kept).
        let mut scratch: Vec<_> = self
            .collections
            .scratch
            .iter()
            .filter(|(kind, _)| kind.tab().is_some())
            .collect();
        scratch.sort_by_key(|(kind, _)| kind.label());
        let mut forgetting = settings.clone();
        forgetting.forget_credentials();
        for tab in &mut forgetting.tabs {
            tab.forget_credentials();
        }
        forgetting.scratch = scratch
            .iter()
            .enumerate()
            .map(|(n, (kind, request))| {
                let none = Default::default();
                super::settings::SavedScratch::keep(
                    **kind,
                    request,
                    &format!("scratch{}", n + 1),
                    &none,
                    EditorCredentials::Forget,
                )
                .0
            })
            .collect();
        for tab in &mut forgetting.tabs {
            for kept in &mut tab.scratch {
                let none = Default::default();
                *kept = super::settings::SavedScratch::keep(
                    kept.kind,
                    &kept.request,
                    "",
                    &none,
                    EditorCredentials::Forget,
                )
                .0;
            }
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
                for (n, (kind, request)) in scratch.iter().enumerate() {
                    let (kept, taken) = super::settings::SavedScratch::keep(
                        **kind,
                        request,
                        &format!("scratch{}", n + 1),
                        &known,
                        EditorCredentials::SecretStore,
                    );
                    secrets.extend(taken);
                    keeping.scratch.push(kept);
                }
                for (n, tab) in keeping.tabs.iter_mut().enumerate() {
                    for (k, kept) in tab.scratch.iter_mut().enumerate() {
                        let (moved, taken) = super::settings::SavedScratch::keep(
                            kept.kind,
                            &kept.request,
                            &format!("tab{}_scratch{}", n + 1, k + 1),
                            &known,
                            EditorCredentials::SecretStore,
                        );
                        secrets.extend(taken);
                        *kept = moved;
                    }
                }
                if self.settings_salvaged {
                    let mut all = known;
                    all.extend(secrets);
                    secrets = all;
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
                // The engine's message says how to start it already (" — start RabbitMQ…").
                _ if error.message.contains(" — start ") => "",
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

/// The keyboard shortcuts, as the *Keys* menu lists them.
const KEYS: &[(&str, &str)] = &[
    ("Ctrl+Enter", "send the request"),
    ("Ctrl+S", "save it to its collection"),
    ("Ctrl+T", "new request tab"),
    ("Ctrl+W", "close the tab"),
    ("Ctrl+Tab / Ctrl+Shift+Tab", "next / previous tab"),
    ("Ctrl+1 … Ctrl+5", "HTTP, gRPC, AMQP, NATS, Kafka editor"),
    ("Ctrl+F", "search the history (Messages: the tab's filter)"),
    ("Ctrl+L", "the editor's URL or address"),
    ("Esc", "close a dialog, else cancel the running request"),
];
