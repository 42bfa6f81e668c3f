//! (Over 800 lines only with its unit tests: 680 lines of code, then the tests.)
//! What the app remembers between launches: the editors' contents, the chosen transport, the
//! request timeout and the theme. One serde struct, `#[serde(default)]` so older files load.

use serde::{Deserialize, Serialize};

use crate::engine::collection::saved::{SavedAmqp, SavedGrpc, SavedHttp, SavedWatch};
use crate::engine::collection::{SavedRequest, SavedSpec};

mod credentials;
pub mod migrate;
mod saved;

/// The transport picker's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum TransportTab {
    #[default]
    Http,
    Grpc,
    Amqp,
    Nats,
    Kafka,
}

impl TransportTab {
    pub const ALL: [TransportTab; 5] =
        [Self::Http, Self::Grpc, Self::Amqp, Self::Nats, Self::Kafka];

    pub fn label(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Grpc => "gRPC",
            Self::Amqp => "AMQP",
            Self::Nats => "NATS",
            Self::Kafka => "Kafka",
        }
    }
}

pub const HTTP_METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// The HTTP editor's body modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BodyMode {
    #[default]
    Text,
    /// `multipart/form-data`: the request's form parts.
    Form,
}

/// Where the gRPC method browser gets message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GrpcSource {
    #[default]
    Reflection,
    ProtoFiles,
    Protoset,
    Builtin,
}

/// The AMQP editor's *Place order* section: the Order Service's URL and the order it is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderForm {
    pub url: String,
    pub body: String,
}

impl Default for OrderForm {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8082/orders".to_string(),
            body: "{\"user_id\": \"1\", \"items\": [{\"sku\": \"book\", \"quantity\": 1}]}"
                .to_string(),
        }
    }
}

/// Which editor a saved request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EditorKind {
    Http,
    Grpc,
    Amqp,
    Nats,
    Kafka,
    Watch,
}

impl EditorKind {
    pub fn of(spec: &SavedSpec) -> Self {
        match spec {
            SavedSpec::Http(_) => Self::Http,
            SavedSpec::Grpc(_) => Self::Grpc,
            SavedSpec::Amqp(_) => Self::Amqp,
            SavedSpec::Nats(_) => Self::Nats,
            SavedSpec::Kafka(_) => Self::Kafka,
            SavedSpec::Watch(_) | SavedSpec::NatsWatch(_) | SavedSpec::KafkaWatch(_) => Self::Watch,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Grpc => "gRPC",
            Self::Amqp => "AMQP",
            Self::Nats => "NATS",
            Self::Kafka => "Kafka",
            Self::Watch => "watch",
        }
    }

    /// The request editor this kind opens in (a watch opens in the viewer).
    pub fn tab(self) -> Option<TransportTab> {
        match self {
            Self::Http => Some(TransportTab::Http),
            Self::Grpc => Some(TransportTab::Grpc),
            Self::Amqp => Some(TransportTab::Amqp),
            Self::Nats => Some(TransportTab::Nats),
            Self::Kafka => Some(TransportTab::Kafka),
            Self::Watch => None,
        }
    }
}

impl From<TransportTab> for EditorKind {
    fn from(tab: TransportTab) -> Self {
        match tab {
            TransportTab::Http => Self::Http,
            TransportTab::Grpc => Self::Grpc,
            TransportTab::Amqp => Self::Amqp,
            TransportTab::Nats => Self::Nats,
            TransportTab::Kafka => Self::Kafka,
        }
    }
}

/// A *Publish many* form: how many, how fast (0 = as fast as the server takes them), numbered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ManyForm {
    pub count: u64,
    pub rate: f64,
    pub numbered: bool,
}

impl Default for ManyForm {
    fn default() -> Self {
        Self {
            count: 1000,
            rate: 0.0,
            numbered: true,
        }
    }
}

/// How the Requests view places the editor and its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RequestLayout {
    /// Editor left, result right, a draggable split between them, each scrolling on its own.
    #[default]
    SideBySide,
    /// Editor above the result, a draggable split between them, each scrolling on its own.
    Stacked,
}

/// Which half of the app is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MainView {
    #[default]
    Requests,
    Messages,
}

/// The request editors: every transport's request (the engine's own type), what each editor
/// keeps beside it, and which one is shown. The app's settings hold the current request tab's;
/// each other tab ([`TabEditors`]) holds its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Editors {
    pub transport: TransportTab,
    /// The HTTP editor: the engine's saved request itself.
    pub http: SavedHttp,
    /// Which of the HTTP editor's bodies is sent: the text or the multipart form.
    pub http_body_mode: BodyMode,
    /// The gRPC editor: the engine's saved call itself.
    pub grpc: SavedGrpc,
    /// Where the gRPC method browser gets message types.
    pub grpc_source: GrpcSource,
    /// The AMQP editor: the engine's saved publish itself.
    pub amqp: SavedAmqp,
    /// The AMQP editor's *Publish many* form.
    pub amqp_many: ManyForm,
    /// The AMQP editor's *Place order* form.
    pub order: OrderForm,
    /// The NATS editor: the engine's request type itself.
    pub nats: crate::engine::nats::NatsRequest,
    /// The NATS editor's *Publish many* form.
    pub nats_many: ManyForm,
    /// The Kafka editor: the engine's produce request itself.
    pub kafka: crate::engine::kafka::KafkaRequest,
    /// The Kafka editor's *Produce many* form.
    pub kafka_many: ManyForm,
    /// The editors whose requests go without a W3C `traceparent` (each editor has its own
    /// tick; the others still carry one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub traceparent_off: Vec<TransportTab>,
}

impl Editors {
    /// Whether `tab`'s requests carry a `traceparent`.
    pub fn traceparent(&self, tab: TransportTab) -> bool {
        !self.traceparent_off.contains(&tab)
    }

    pub fn set_traceparent(&mut self, tab: TransportTab, on: bool) {
        self.traceparent_off.retain(|t| *t != tab);
        if !on {
            self.traceparent_off.push(tab);
        }
    }
}

impl Default for Editors {
    fn default() -> Self {
        Self {
            transport: TransportTab::Http,
            http: super::http_editor::default_request(),
            http_body_mode: BodyMode::Text,
            grpc: super::grpc_editor::default_request(),
            grpc_source: GrpcSource::default(),
            amqp: super::amqp_editor::default_request(),
            amqp_many: ManyForm::default(),
            order: OrderForm::default(),
            nats: super::nats_editor::default_request(),
            nats_many: ManyForm::default(),
            kafka: super::kafka_editor::default_request(),
            kafka_many: ManyForm::default(),
            traceparent_off: Vec::new(),
        }
    }
}

/// Everything persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub view: MainView,
    pub watch_form: super::viewer::WatchForm,
    /// The request editors (the current tab's), flattened: the file keeps their fields at its
    /// top level.
    #[serde(flatten)]
    pub editors: Editors,
    pub timeout_secs: f64,
    pub dark_mode: bool,
    pub load: LoadForm,
    /// Collection folders open in the side panel.
    pub collection_roots: Vec<std::path::PathBuf>,
    /// True once the sample collection has been offered (so deleting it sticks).
    pub collections_initialized: bool,
    /// Collections the user closed (those in the data directory are opened otherwise).
    pub closed_collections: Vec<std::path::PathBuf>,
    /// The environment chosen per collection folder.
    pub environments: std::collections::BTreeMap<String, String>,
    /// Which saved request each editor held (reattached when its collection loads).
    pub open_requests: Vec<OpenRequest>,
    /// Editor and result side by side or stacked.
    pub layout: RequestLayout,
    /// The editor's width beside the result (0: half of the window, until dragged).
    pub editor_width: f32,
    /// The editor's height above the result when stacked (0: a default share, until dragged).
    pub editor_height: f32,
    /// The collections and history panel is shown.
    pub side_panel: bool,
    /// Read from files of earlier versions only, where one tick switched `traceparent` off
    /// for every editor: `false` is carried over to each editor's own tick when loaded.
    #[serde(skip_serializing)]
    pub trace_context: bool,
    /// The request tabs besides the current one (kept without their credentials).
    pub tabs: Vec<TabEditors>,
    /// The current tab's unsaved requests kept aside when saved ones were opened over them
    /// (*Back to the unsaved request*), their credentials in the secret store. Empty while the
    /// app runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scratch: Vec<SavedScratch>,
    /// Where the current tab sits among them.
    pub tab_index: usize,
    /// What is kept of credentials (Settings window).
    pub credentials: CredentialSettings,
    /// Which editor field got which `{{switchboard_editor_…}}` reference when the app saved
    /// its state: only these are filled back at the next launch (a reference typed by the user
    /// stays text). Empty while the app runs.
    pub editor_secrets: Vec<EditorSecret>,
}

/// One credential the app moved out of an editor field into the secret store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditorSecret {
    /// The field: `http.url`, `http.headers.2`, `grpc.metadata.0`, `amqp.order_url`…
    pub field: String,
    /// The secret store entry (`switchboard_editor_…`) the field refers to.
    pub reference: String,
}

/// What happens to credentials typed into the editors when the app saves its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EditorCredentials {
    /// Moved to the owner-only secret store; the state file holds a `{{reference}}` and the
    /// editor gets the value back at the next launch.
    #[default]
    SecretStore,
    /// Not kept: the next launch shows the header with an empty value, the URL without its
    /// password.
    Forget,
}

/// Where credentials may be kept (see the README, "Credentials at rest").
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CredentialSettings {
    pub editors: EditorCredentials,
    /// The history file keeps credentials as sent instead of masked.
    pub history_in_clear: bool,
    /// *Copy as JSON* copies credentials as sent instead of masked.
    pub copy_in_clear: bool,
}

/// The prefix of the `{{references}}` the state file holds instead of the editors' credentials.
pub const EDITOR_SECRET_PREFIX: &str = "switchboard_editor_";

/// A place in the editors that may hold a credential.
enum Slot<'a> {
    /// A header or metadata row: (its name, its value).
    Row(&'a str, &'a mut String),
    Url(&'a mut String),
}

/// An editor's link to its saved request file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRequest {
    pub kind: EditorKind,
    pub root: std::path::PathBuf,
    pub rel: String,
}

/// The load-mode form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadForm {
    pub requests: u64,
    /// Seconds; when above zero the run is time-bound instead of count-bound.
    pub duration_secs: f64,
    pub concurrency: usize,
}

impl Default for LoadForm {
    fn default() -> Self {
        Self {
            requests: 1000,
            duration_secs: 0.0,
            concurrency: 10,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            view: MainView::Requests,
            watch_form: Default::default(),
            editors: Editors::default(),
            timeout_secs: 10.0,
            dark_mode: true,
            load: LoadForm::default(),
            collection_roots: Vec::new(),
            collections_initialized: false,
            closed_collections: Vec::new(),
            open_requests: Vec::new(),
            environments: Default::default(),
            credentials: CredentialSettings::default(),
            editor_secrets: Vec::new(),
            tabs: Vec::new(),
            scratch: Vec::new(),
            tab_index: 0,
            layout: RequestLayout::SideBySide,
            editor_width: 0.0,
            editor_height: 0.0,
            side_panel: true,
            trace_context: true,
        }
    }
}

/// An unsaved request kept aside, as kept between launches (see [`Settings::scratch`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedScratch {
    pub kind: EditorKind,
    pub request: SavedRequest,
    /// Its credentials' references in the secret store (`…_scratchN`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub editor_secrets: Vec<EditorSecret>,
}

impl SavedScratch {
    /// `request` (an editor of `kind`'s) made ready for the file: its credentials moved out
    /// under references of its own (`…_{label}`, returned with their values), or dropped when
    /// credentials are not kept.
    pub fn keep(
        kind: EditorKind,
        request: &SavedRequest,
        label: &str,
        known: &std::collections::BTreeMap<String, String>,
        credentials: EditorCredentials,
    ) -> (Self, std::collections::BTreeMap<String, String>) {
        let mut settings = Settings::default();
        settings.apply_saved(request);
        let mut editors = TabEditors::take(&mut settings);
        let secrets = match credentials {
            EditorCredentials::SecretStore => editors.take_credentials_as(label, known),
            EditorCredentials::Forget => {
                editors.forget_credentials();
                Default::default()
            }
        };
        let editor_secrets = std::mem::take(&mut editors.editor_secrets);
        editors.put(&mut settings);
        let request = settings.to_saved(kind, &request.name, Some(request));
        (
            Self {
                kind,
                request,
                editor_secrets,
            },
            secrets,
        )
    }

    /// Back from the file: the request with its credentials filled in from `secrets`.
    pub fn restore(
        self,
        secrets: &std::collections::BTreeMap<String, String>,
    ) -> (EditorKind, SavedRequest) {
        let mut settings = Settings::default();
        settings.apply_saved(&self.request);
        let mut editors = TabEditors::take(&mut settings);
        editors.editor_secrets = self.editor_secrets;
        editors.restore_credentials(secrets);
        editors.put(&mut settings);
        let request = settings.to_saved(self.kind, &self.request.name, Some(&self.request));
        (self.kind, request)
    }
}

/// A request tab's editors: every transport's, which one is shown, and the saved requests
/// they hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TabEditors {
    #[serde(flatten)]
    pub editors: Editors,
    pub open_requests: Vec<OpenRequest>,
    /// Its unsaved requests kept aside (as [`Settings::scratch`] for the current tab).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scratch: Vec<SavedScratch>,
    /// Its credentials' references in the secret store (`…_tabN`), as
    /// [`Settings::editor_secrets`] for the current tab.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub editor_secrets: Vec<EditorSecret>,
}

impl Default for TabEditors {
    fn default() -> Self {
        Self::take(&mut Settings::default())
    }
}

impl TabEditors {
    /// Moves the editors out of `settings` (which keeps defaults).
    pub fn take(settings: &mut Settings) -> Self {
        let fresh = Settings::default();
        Self::replace(settings, &fresh)
    }

    /// Moves the editors out of `settings`, putting `fresh`'s in their place.
    pub fn replace(settings: &mut Settings, fresh: &Settings) -> Self {
        Self {
            editors: std::mem::replace(&mut settings.editors, fresh.editors.clone()),
            open_requests: Vec::new(),
            scratch: Vec::new(),
            editor_secrets: Vec::new(),
        }
    }

    /// Puts the editors into `settings`.
    pub fn put(self, settings: &mut Settings) {
        settings.editors = self.editors;
    }

    /// Runs `f` (retargeting, forgetting credentials…) on these editors as settings.
    pub fn edit(&mut self, f: impl FnOnce(&mut Settings)) {
        let mut settings = Settings::default();
        let links = std::mem::take(&mut self.open_requests);
        let secrets = std::mem::take(&mut self.editor_secrets);
        let scratch = std::mem::take(&mut self.scratch);
        std::mem::take(self).put(&mut settings);
        f(&mut settings);
        *self = Self::take(&mut settings);
        self.open_requests = links;
        self.editor_secrets = secrets;
        self.scratch = scratch;
    }

    /// Moves this tab's credentials out as [`Settings::take_credentials`] does, under
    /// references of its own (`…_tab{n}`, so tabs never share one); returns the values.
    pub fn take_credentials(
        &mut self,
        n: usize,
        known: &std::collections::BTreeMap<String, String>,
    ) -> std::collections::BTreeMap<String, String> {
        self.take_credentials_as(&format!("tab{n}"), known)
    }

    /// [`TabEditors::take_credentials`] under references ending in `_{label}`.
    pub fn take_credentials_as(
        &mut self,
        label: &str,
        known: &std::collections::BTreeMap<String, String>,
    ) -> std::collections::BTreeMap<String, String> {
        let mut secrets = std::collections::BTreeMap::new();
        let mut records = Vec::new();
        self.edit(|s| {
            let taken = s.take_credentials(known);
            for record in std::mem::take(&mut s.editor_secrets) {
                let renamed = format!("{}_{label}", record.reference);
                if let Some(text) = s.slot_text(&record.field) {
                    *text = text.replace(
                        &format!("{{{{{}}}}}", record.reference),
                        &format!("{{{{{renamed}}}}}"),
                    );
                }
                if let Some(value) = taken.get(&record.reference) {
                    secrets.insert(renamed.clone(), value.clone());
                }
                records.push(EditorSecret {
                    field: record.field,
                    reference: renamed,
                });
            }
        });
        self.editor_secrets = records;
        secrets
    }

    /// Fills this tab's credentials back from the secret store.
    pub fn restore_credentials(&mut self, secrets: &std::collections::BTreeMap<String, String>) {
        let records = std::mem::take(&mut self.editor_secrets);
        self.edit(|s| {
            s.editor_secrets = records;
            s.restore_credentials(secrets);
        });
    }

    /// Drops this tab's credentials (the user keeps none at rest).
    pub fn forget_credentials(&mut self) {
        self.editor_secrets.clear();
        self.edit(Settings::forget_credentials);
    }
}

impl Settings {
    /// Numbers that are not finite (a hand-edited `1e39` reads as infinity) become their
    /// defaults: they would be saved as `null`, which does not read back.
    pub fn sanitized(mut self) -> Self {
        fn finite(v: &mut f64, default: f64) {
            if !v.is_finite() {
                *v = default;
            }
        }
        let d = Settings::default();
        if !self.editor_height.is_finite() {
            self.editor_height = d.editor_height;
        }
        if !self.editor_width.is_finite() {
            self.editor_width = d.editor_width;
        }
        finite(&mut self.timeout_secs, d.timeout_secs);
        finite(&mut self.load.duration_secs, d.load.duration_secs);
        let tabs = self.tabs.iter_mut().map(|t| &mut t.editors);
        for e in std::iter::once(&mut self.editors).chain(tabs) {
            for many in [&mut e.amqp_many, &mut e.nats_many, &mut e.kafka_many] {
                finite(&mut many.rate, 0.0);
            }
        }
        self
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout_secs.clamp(0.1, 3600.0))
    }

    /// The editor shown now.
    pub fn current_kind(&self) -> EditorKind {
        match self.view {
            MainView::Messages => EditorKind::Watch,
            MainView::Requests => self.editors.transport.into(),
        }
    }

    /// Points editors that address the demo as configured in `from` to the demo in `to` (e.g.
    /// from the default ports to the ones actually bound, and back before saving).
    pub fn retarget_demo(
        &mut self,
        from: &demo_services::DemoConfig,
        to: &demo_services::DemoConfig,
    ) {
        let swap = |text: &mut String, from: std::net::SocketAddr, to: std::net::SocketAddr| {
            if from != to {
                *text = text.replace(&from.to_string(), &to.to_string());
            }
        };
        swap(
            &mut self.editors.http.url,
            from.user_http_addr,
            to.user_http_addr,
        );
        swap(
            &mut self.editors.grpc.addr,
            from.user_grpc_addr,
            to.user_grpc_addr,
        );
        swap(
            &mut self.editors.order.url,
            from.order_http_addr,
            to.order_http_addr,
        );
        if self.editors.amqp.exchange == from.topology.exchange {
            self.editors.amqp.exchange = to.topology.exchange.clone();
        }
        if self.watch_form.exchange == from.topology.exchange {
            self.watch_form.exchange = to.topology.exchange.clone();
        }
        {
            let f = &mut self.watch_form;
            let t = &to.topology;
            for q in [&t.dead_letter_queue, &t.queue] {
                super::viewer::WatchForm::remember(&mut f.known_queues, q);
            }
            for e in [&t.dead_letter_exchange, &t.exchange] {
                super::viewer::WatchForm::remember(&mut f.known_exchanges, e);
            }
        }
        if self.watch_form.queue == from.topology.dead_letter_queue {
            self.watch_form.queue = to.topology.dead_letter_queue.clone();
        }
        if self.editors.amqp.url == from.amqp_url {
            self.editors.amqp.url = to.amqp_url.clone();
        }
        if let (Some(from), Some(to)) = (&from.nats, &to.nats) {
            let swap = |text: &mut String, a: &str, b: &str| {
                if text == a {
                    *text = b.to_string();
                }
            };
            swap(&mut self.editors.nats.url, &from.url, &to.url);
            swap(
                &mut self.editors.nats.subject,
                &from.user_subject,
                &to.user_subject,
            );
            swap(
                &mut self.editors.nats.subject,
                &from.orders_subject,
                &to.orders_subject,
            );
            let w = &mut self.watch_form.nats;
            swap(&mut w.url, &from.url, &to.url);
            swap(
                &mut w.subject,
                &from.stream_subjects(),
                &to.stream_subjects(),
            );
            swap(&mut w.stream, &from.stream, &to.stream);
        }
        if let (Some(from), Some(to)) = (&from.kafka, &to.kafka) {
            let swap = |text: &mut String, a: &str, b: &str| {
                if text == a {
                    *text = b.to_string();
                }
            };
            swap(&mut self.editors.kafka.url, &from.url, &to.url);
            swap(&mut self.editors.kafka.topic, &from.topic, &to.topic);
            swap(&mut self.watch_form.kafka.url, &from.url, &to.url);
            swap(&mut self.watch_form.kafka.topic, &from.topic, &to.topic);
        }
    }
}

/// True when a row's value is a literal credential (what [`Settings::forget_credentials`]
/// drops).
fn take_named_secret_probe(key: &str, value: &str) -> bool {
    let mut copy = value.to_string();
    crate::engine::credentials::take_named_secret(key, &mut copy, "x").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::collection::saved::SavedFormPart;
    use crate::engine::fields::{SavedBody, SavedHeader};

    #[test]
    fn retargeting_there_and_back_restores_the_defaults() {
        let defaults = demo_services::DemoConfig::default();
        let bound = demo_services::DemoConfig {
            user_http_addr: "127.0.0.1:40001".parse().unwrap(),
            user_grpc_addr: "127.0.0.1:40002".parse().unwrap(),
            order_http_addr: "127.0.0.1:40003".parse().unwrap(),
            topology: demo_services::Topology::named("orders-x", "q-x"),
            ..Default::default()
        };
        let mut settings = Settings::default();
        settings.retarget_demo(&defaults, &bound);
        assert_eq!(settings.editors.http.url, "http://127.0.0.1:40001/user/1");
        assert_eq!(settings.editors.grpc.addr, "127.0.0.1:40002");
        assert_eq!(settings.editors.order.url, "http://127.0.0.1:40003/orders");
        assert_eq!(settings.editors.amqp.exchange, "orders-x");
        // The watch form's picker offers the demo's names.
        assert!(
            settings
                .watch_form
                .known_queues
                .contains(&"q-x".to_string())
        );
        assert!(
            settings
                .watch_form
                .known_exchanges
                .contains(&"orders-x".to_string())
        );
        settings.retarget_demo(&bound, &defaults);
        // What the picker learnt stays; the rest is back to the defaults.
        settings.watch_form.known_queues = Settings::default().watch_form.known_queues;
        settings.watch_form.known_exchanges = Settings::default().watch_form.known_exchanges;
        assert_eq!(settings, Settings::default());
    }

    #[test]
    fn every_editor_round_trips_through_a_saved_request() {
        let mut settings = Settings::default();
        settings.editors.http.method = "POST".into();
        settings.editors.http.tls.ca_file = "certs/ca.pem".into();
        settings.editors.http.body = SavedBody::from_text("{\n  \"a\": 1\n}");
        settings.editors.http.headers.push(SavedHeader {
            enabled: false,
            ..SavedHeader::new("X-Off", "1")
        });
        settings.editors.grpc_source = GrpcSource::ProtoFiles;
        settings.editors.grpc.protos = vec!["a.proto".into(), "b.proto".into()];
        settings.editors.grpc.import_paths = vec!["inc".into()];
        settings.watch_form.mode = crate::engine::watch::WatchMode::Peek;
        settings.watch_form.peek_limit = 7;
        settings.editors.amqp.routing_key = "order.cancelled".into();
        settings.editors.amqp.persistent = false;
        settings.editors.amqp.body = SavedBody::from_text("not json");
        for kind in [
            EditorKind::Http,
            EditorKind::Grpc,
            EditorKind::Amqp,
            EditorKind::Watch,
        ] {
            let saved = settings.to_saved(kind, "r", None);
            let mut other = Settings::default();
            other.apply_saved(&saved);
            assert_eq!(other.to_saved(kind, "r", None), saved, "{kind:?}");
            assert_eq!(other.current_kind(), kind);
        }
    }

    #[test]
    fn the_http_editor_form_mode_saves_parts_and_files_by_path() {
        let mut settings = Settings::default();
        settings.editors.http.method = "POST".into();
        settings.editors.http.body = SavedBody::from_text("kept while editing");
        settings.editors.http_body_mode = BodyMode::Form;
        settings.editors.http.form = vec![
            SavedFormPart::text("title", "Q3"),
            SavedFormPart {
                content_type: " text/csv".into(),
                ..SavedFormPart::file("report", "files/report.csv ")
            },
            SavedFormPart::text("", ""),
        ];
        let saved = settings.to_saved(EditorKind::Http, "r", None);
        let SavedSpec::Http(h) = &saved.spec else {
            panic!()
        };
        assert_eq!(h.body, None, "only the chosen body is saved");
        assert_eq!(
            h.form,
            [
                SavedFormPart::text("title", "Q3"),
                SavedFormPart {
                    content_type: "text/csv".into(),
                    ..SavedFormPart::file("report", "files/report.csv")
                },
            ]
        );
        let mut other = Settings::default();
        other.apply_saved(&saved);
        assert_eq!(other.editors.http_body_mode, BodyMode::Form);
        assert_eq!(other.to_saved(EditorKind::Http, "r", None), saved);
        settings.editors.http_body_mode = BodyMode::Text;
        let SavedSpec::Http(h) = settings.to_saved(EditorKind::Http, "r", None).spec else {
            panic!()
        };
        assert!(h.form.is_empty());
        assert_eq!(h.body, SavedBody::from_text("kept while editing"));
    }

    #[test]
    fn editor_credentials_move_out_and_come_back() {
        let mut settings = Settings::default();
        settings.editors.http.url = "http://bob:pw-http@127.0.0.1:8081/user/1".into();
        settings
            .editors
            .http
            .headers
            .push(SavedHeader::new("Authorization", "Bearer tok-1"));
        settings
            .editors
            .http
            .headers
            .push(SavedHeader::new("authorization", "Basic dTpw"));
        settings
            .editors
            .http
            .headers
            .push(SavedHeader::new("X-Api-Key", "{{api_key}}"));
        settings
            .editors
            .grpc
            .metadata
            .push(SavedHeader::new("authorization", "Bearer tok-2"));
        settings.editors.amqp.url = "amqp://guest:pw-amqp@127.0.0.1:5672/%2f".into();
        settings
            .editors
            .amqp
            .headers
            .push(SavedHeader::new("Cookie", "sid=c-3"));
        let original = settings.clone();
        let mut kept = settings.clone();
        let secrets = kept.take_credentials(&Default::default());
        let text = serde_json::to_string(&kept).unwrap();
        for secret in ["pw-http", "tok-1", "dTpw", "tok-2", "pw-amqp", "c-3"] {
            assert!(!text.contains(secret), "{secret} in {text}");
            assert!(secrets.values().any(|v| v.contains(secret)), "{secret}");
        }
        assert_eq!(secrets.len(), 6, "{secrets:?}");
        assert_eq!(kept.editors.http.headers[3].value, "{{api_key}}");
        kept.restore_credentials(&secrets);
        assert_eq!(kept, original);

        let mut forgot = settings;
        forgot.forget_credentials();
        assert_eq!(forgot.editors.http.url, "http://bob@127.0.0.1:8081/user/1");
        assert_eq!(forgot.editors.amqp.url, "amqp://guest@127.0.0.1:5672/%2f");
        assert_eq!(forgot.editors.http.headers[1].value, "");
        assert_eq!(forgot.editors.http.headers[3].value, "{{api_key}}");
        assert_eq!(forgot.editors.http.headers[0].value, "application/json");
    }

    #[test]
    fn only_recorded_fields_get_their_secret_back() {
        let mut settings = Settings::default();
        settings.editors.grpc.metadata = vec![SavedHeader::new("authorization", "Bearer tok-9")];
        settings.editors.http.headers = vec![SavedHeader::new(
            "X-Leak",
            "{{switchboard_editor_grpc_authorization}}",
        )];
        let mut kept = settings.clone();
        let secrets = kept.take_credentials(&Default::default());
        assert_eq!(
            kept.editor_secrets[0],
            EditorSecret {
                field: "grpc.metadata.0".into(),
                reference: "switchboard_editor_grpc_authorization".into(),
            }
        );
        assert!(
            kept.editor_secrets
                .iter()
                .all(|r| r.field != "http.headers.0")
        );
        // Through the file, with a reference planted in another field.
        let mut text: serde_json::Value = serde_json::to_value(&kept).unwrap();
        text["amqp"]["headers"] = serde_json::json!([{"name": "X-Debug", "value": "{{switchboard_editor_grpc_authorization}}"}]);
        let mut loaded: Settings = serde_json::from_value(text).unwrap();
        loaded.restore_credentials(&secrets);
        assert_eq!(loaded.editors.grpc.metadata[0].value, "Bearer tok-9");
        assert_eq!(
            loaded.editors.http.headers[0].value,
            "{{switchboard_editor_grpc_authorization}}"
        );
        assert_eq!(
            loaded.editors.amqp.headers[0].value,
            "{{switchboard_editor_grpc_authorization}}"
        );
        assert!(loaded.editor_secrets.is_empty());
        // A secret that was filled back and then moved under a name the detector does not
        // flag still leaves the file.
        loaded.editors.grpc.metadata[0].name = "x-renamed".into();
        let mut again = loaded.clone();
        let known = again.take_credentials(&secrets);
        let text = serde_json::to_string(&again).unwrap();
        assert!(!text.contains("tok-9"), "{text}");
        again.restore_credentials(&known);
        assert_eq!(again.editors.grpc.metadata[0].value, "Bearer tok-9");
    }
}
