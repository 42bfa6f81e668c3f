//! What the app remembers between launches: the editors' contents, the chosen transport, the
//! request timeout and the theme. One serde struct, `#[serde(default)]` so older files load.

use serde::{Deserialize, Serialize};

use crate::engine::collection::saved::{SavedAmqp, SavedGrpc, SavedHttp, SavedTls, SavedWatch};
use crate::engine::collection::{SavedBody, SavedHeader, SavedRequest, SavedSpec};

/// The transport picker's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum TransportTab {
    #[default]
    Http,
    Grpc,
    Amqp,
}

impl TransportTab {
    pub const ALL: [TransportTab; 3] = [Self::Http, Self::Grpc, Self::Amqp];

    pub fn label(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Grpc => "gRPC",
            Self::Amqp => "AMQP",
        }
    }
}

/// One row of a headers / metadata table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyValue {
    pub enabled: bool,
    pub key: String,
    pub value: String,
}

impl Default for KeyValue {
    fn default() -> Self {
        Self {
            enabled: true,
            key: String::new(),
            value: String::new(),
        }
    }
}

impl KeyValue {
    pub fn new(key: &str, value: &str) -> Self {
        Self {
            enabled: true,
            key: key.to_string(),
            value: value.to_string(),
        }
    }
}

pub const HTTP_METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpEditor {
    pub method: String,
    pub url: String,
    pub headers: Vec<KeyValue>,
    pub body: String,
    /// TLS for `https://` URLs: extra CA, client certificate and key (PEM paths).
    pub ca_file: String,
    pub cert_file: String,
    pub key_file: String,
}

impl Default for HttpEditor {
    fn default() -> Self {
        Self {
            method: "GET".to_string(),
            url: "http://127.0.0.1:8081/user/1".to_string(),
            headers: vec![KeyValue::new("Accept", "application/json")],
            body: String::new(),
            ca_file: String::new(),
            cert_file: String::new(),
            key_file: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GrpcEditor {
    pub addr: String,
    pub method: String,
    pub metadata: Vec<KeyValue>,
    pub json: String,
    /// Where the method browser gets message types.
    pub source: GrpcSource,
    /// `.proto` files and import paths (space separated) for [`GrpcSource::ProtoFiles`].
    pub proto_files: String,
    pub import_paths: String,
    pub protoset: String,
    /// TLS for `https://` addresses: extra CA, client certificate and key (PEM paths).
    pub ca_file: String,
    pub cert_file: String,
    pub key_file: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GrpcSource {
    #[default]
    Reflection,
    ProtoFiles,
    Protoset,
    Builtin,
}

impl GrpcEditor {
    pub fn descriptor_source(&self) -> crate::engine::descriptors::DescriptorSource {
        use crate::engine::descriptors::DescriptorSource;
        let paths = |s: &str| {
            s.split_whitespace()
                .map(std::path::PathBuf::from)
                .collect::<Vec<_>>()
        };
        match self.source {
            GrpcSource::Reflection => DescriptorSource::Reflection,
            GrpcSource::Builtin => DescriptorSource::Builtin,
            GrpcSource::ProtoFiles => DescriptorSource::Protos {
                files: paths(&self.proto_files),
                includes: paths(&self.import_paths),
            },
            GrpcSource::Protoset => DescriptorSource::Protoset(self.protoset.trim().into()),
        }
    }

    pub fn tls(&self) -> crate::engine::net::TlsOptions {
        let path = |s: &str| (!s.trim().is_empty()).then(|| std::path::PathBuf::from(s.trim()));
        crate::engine::net::TlsOptions {
            ca_file: path(&self.ca_file),
            cert_file: path(&self.cert_file),
            key_file: path(&self.key_file),
        }
    }
}

impl Default for GrpcEditor {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:50051".to_string(),
            method: crate::engine::grpc::DEFAULT_METHOD.to_string(),
            metadata: vec![KeyValue::new("x-request-id", "switchboard-1")],
            json: "{\n  \"user_id\": \"1\"\n}".to_string(),
            source: GrpcSource::Reflection,
            proto_files: String::new(),
            import_paths: String::new(),
            protoset: String::new(),
            ca_file: String::new(),
            cert_file: String::new(),
            key_file: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AmqpEditor {
    pub url: String,
    pub exchange: String,
    pub routing_key: String,
    pub content_type: String,
    pub message_id: String,
    pub correlation_id: String,
    pub persistent: bool,
    pub headers: Vec<KeyValue>,
    pub body: String,
    /// "Place order" goes through the Order Service.
    pub order_url: String,
    pub order_body: String,
    /// Publish many: how many, how fast (msg/s, 0 = as fast as confirms allow), numbered.
    pub many_count: u64,
    pub many_rate: f64,
    pub many_numbered: bool,
}

impl Default for AmqpEditor {
    fn default() -> Self {
        Self {
            url: crate::engine::amqp::DEFAULT_AMQP_URL.to_string(),
            exchange: "orders".to_string(),
            routing_key: "order.created".to_string(),
            content_type: "application/json".to_string(),
            message_id: String::new(),
            correlation_id: String::new(),
            persistent: true,
            headers: vec![KeyValue::new("x-source", "switchboard")],
            body: "{\n  \"event\": \"OrderCreated\",\n  \"order_id\": \"manual-1\",\n  \"user_id\": \"1\",\n  \"items\": [{\"sku\": \"book\", \"quantity\": 1}],\n  \"created_at_ms\": 0\n}".to_string(),
            order_url: "http://127.0.0.1:8082/orders".to_string(),
            order_body: "{\"user_id\": \"1\", \"items\": [{\"sku\": \"book\", \"quantity\": 1}]}".to_string(),
            many_count: 1000,
            many_rate: 0.0,
            many_numbered: true,
        }
    }
}

/// Which editor a saved request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EditorKind {
    Http,
    Grpc,
    Amqp,
    Watch,
}

impl EditorKind {
    pub fn of(spec: &SavedSpec) -> Self {
        match spec {
            SavedSpec::Http(_) => Self::Http,
            SavedSpec::Grpc(_) => Self::Grpc,
            SavedSpec::Amqp(_) => Self::Amqp,
            SavedSpec::Watch(_) => Self::Watch,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Grpc => "gRPC",
            Self::Amqp => "AMQP",
            Self::Watch => "watch",
        }
    }
}

impl From<TransportTab> for EditorKind {
    fn from(tab: TransportTab) -> Self {
        match tab {
            TransportTab::Http => Self::Http,
            TransportTab::Grpc => Self::Grpc,
            TransportTab::Amqp => Self::Amqp,
        }
    }
}

fn saved_rows(rows: &[KeyValue]) -> Vec<SavedHeader> {
    rows.iter()
        .filter(|r| !(r.key.is_empty() && r.value.is_empty()))
        .map(|r| SavedHeader {
            name: r.key.clone(),
            value: r.value.clone(),
            enabled: r.enabled,
        })
        .collect()
}

fn editor_rows(rows: &[SavedHeader]) -> Vec<KeyValue> {
    rows.iter()
        .map(|r| KeyValue {
            enabled: r.enabled,
            key: r.name.clone(),
            value: r.value.clone(),
        })
        .collect()
}

fn text_of(body: &Option<SavedBody>) -> String {
    body.as_ref().map(SavedBody::to_text).unwrap_or_default()
}

/// Which half of the app is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MainView {
    #[default]
    Requests,
    Messages,
}

/// Everything persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub view: MainView,
    pub watch_form: super::viewer::WatchForm,
    pub transport: TransportTab,
    pub http: HttpEditor,
    pub grpc: GrpcEditor,
    pub amqp: AmqpEditor,
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
            transport: TransportTab::Http,
            http: HttpEditor::default(),
            grpc: GrpcEditor::default(),
            amqp: AmqpEditor::default(),
            timeout_secs: 10.0,
            dark_mode: true,
            load: LoadForm::default(),
            collection_roots: Vec::new(),
            collections_initialized: false,
            closed_collections: Vec::new(),
            open_requests: Vec::new(),
            environments: Default::default(),
        }
    }
}

impl Settings {
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout_secs.clamp(0.1, 3600.0))
    }

    /// The request an editor describes, as it would be saved. Fields the editor does not show
    /// (expectations, notes, per-request timeouts, TLS files of HTTP requests, publish count…) are
    /// kept from `base` when it is of the same kind.
    pub fn to_saved(
        &self,
        kind: EditorKind,
        name: &str,
        base: Option<&SavedRequest>,
    ) -> SavedRequest {
        let spec = match kind {
            EditorKind::Http => {
                let e = &self.http;
                let mut h = SavedHttp {
                    method: e.method.clone(),
                    url: e.url.clone(),
                    headers: saved_rows(&e.headers),
                    body: SavedBody::from_text(&e.body),
                    timeout_ms: None,
                    tls: SavedTls {
                        ca_file: e.ca_file.trim().to_string(),
                        cert_file: e.cert_file.trim().to_string(),
                        key_file: e.key_file.trim().to_string(),
                    },
                };
                if let Some(SavedSpec::Http(b)) = base.map(|b| &b.spec) {
                    h.timeout_ms = b.timeout_ms;
                }
                SavedSpec::Http(h)
            }
            EditorKind::Grpc => {
                let e = &self.grpc;
                let words = |s: &str| s.split_whitespace().map(str::to_string).collect();
                let mut g = SavedGrpc {
                    addr: e.addr.clone(),
                    method: e.method.clone(),
                    metadata: saved_rows(&e.metadata),
                    message: SavedBody::from_text(&e.json),
                    timeout_ms: None,
                    protos: if e.source == GrpcSource::ProtoFiles {
                        words(&e.proto_files)
                    } else {
                        Vec::new()
                    },
                    import_paths: if e.source == GrpcSource::ProtoFiles {
                        words(&e.import_paths)
                    } else {
                        Vec::new()
                    },
                    protoset: if e.source == GrpcSource::Protoset {
                        e.protoset.trim().to_string()
                    } else {
                        String::new()
                    },
                    tls: SavedTls {
                        ca_file: e.ca_file.trim().to_string(),
                        cert_file: e.cert_file.trim().to_string(),
                        key_file: e.key_file.trim().to_string(),
                    },
                };
                if let Some(SavedSpec::Grpc(b)) = base.map(|b| &b.spec) {
                    g.timeout_ms = b.timeout_ms;
                }
                SavedSpec::Grpc(g)
            }
            EditorKind::Amqp => {
                let e = &self.amqp;
                let mut a = SavedAmqp {
                    url: e.url.clone(),
                    exchange: e.exchange.clone(),
                    routing_key: e.routing_key.clone(),
                    content_type: e.content_type.clone(),
                    message_id: e.message_id.clone(),
                    correlation_id: e.correlation_id.clone(),
                    persistent: e.persistent,
                    headers: saved_rows(&e.headers),
                    body: SavedBody::from_text(&e.body),
                    mandatory: true,
                    count: 1,
                    timeout_ms: None,
                };
                if let Some(SavedSpec::Amqp(b)) = base.map(|b| &b.spec) {
                    a.mandatory = b.mandatory;
                    a.count = b.count;
                    a.timeout_ms = b.timeout_ms;
                }
                SavedSpec::Amqp(a)
            }
            EditorKind::Watch => {
                let w = &self.watch_form;
                let tap = w.mode == crate::engine::watch::WatchMode::Tap;
                SavedSpec::Watch(SavedWatch {
                    url: self.amqp.url.clone(),
                    mode: w.mode,
                    exchange: if tap {
                        w.exchange.clone()
                    } else {
                        String::new()
                    },
                    binding: if tap {
                        w.binding.clone()
                    } else {
                        String::new()
                    },
                    queue: if tap { String::new() } else { w.queue.clone() },
                    peek_limit: (w.mode == crate::engine::watch::WatchMode::Peek)
                        .then_some(w.peek_limit),
                })
            }
        };
        let mut saved = SavedRequest::new(name, spec);
        if let Some(base) = base {
            saved.expect = base.expect.clone();
            saved.notes = base.notes.clone();
        }
        saved
    }

    /// Puts a saved request into its editor and shows that editor.
    pub fn apply_saved(&mut self, saved: &SavedRequest) {
        match &saved.spec {
            SavedSpec::Http(h) => {
                self.http = HttpEditor {
                    method: h.method.clone(),
                    url: h.url.clone(),
                    headers: editor_rows(&h.headers),
                    body: text_of(&h.body),
                    ca_file: h.tls.ca_file.clone(),
                    cert_file: h.tls.cert_file.clone(),
                    key_file: h.tls.key_file.clone(),
                };
                self.transport = TransportTab::Http;
                self.view = MainView::Requests;
            }
            SavedSpec::Grpc(g) => {
                let e = &mut self.grpc;
                e.addr = g.addr.clone();
                e.method = g.method.clone();
                e.metadata = editor_rows(&g.metadata);
                e.json = text_of(&g.message);
                if !g.protos.is_empty() {
                    e.source = GrpcSource::ProtoFiles;
                    e.proto_files = g.protos.join(" ");
                    e.import_paths = g.import_paths.join(" ");
                } else if !g.protoset.is_empty() {
                    e.source = GrpcSource::Protoset;
                    e.protoset = g.protoset.clone();
                } else if e.source != GrpcSource::Builtin {
                    e.source = GrpcSource::Reflection;
                }
                e.ca_file = g.tls.ca_file.clone();
                e.cert_file = g.tls.cert_file.clone();
                e.key_file = g.tls.key_file.clone();
                self.transport = TransportTab::Grpc;
                self.view = MainView::Requests;
            }
            SavedSpec::Amqp(a) => {
                let e = &mut self.amqp;
                e.url = a.url.clone();
                e.exchange = a.exchange.clone();
                e.routing_key = a.routing_key.clone();
                e.content_type = a.content_type.clone();
                e.message_id = a.message_id.clone();
                e.correlation_id = a.correlation_id.clone();
                e.persistent = a.persistent;
                e.headers = editor_rows(&a.headers);
                e.body = text_of(&a.body);
                self.transport = TransportTab::Amqp;
                self.view = MainView::Requests;
            }
            SavedSpec::Watch(w) => {
                self.amqp.url = w.url.clone();
                let f = &mut self.watch_form;
                f.mode = w.mode;
                if !w.exchange.is_empty() {
                    f.exchange = w.exchange.clone();
                }
                if !w.binding.is_empty() {
                    f.binding = w.binding.clone();
                }
                if !w.queue.is_empty() {
                    f.queue = w.queue.clone();
                }
                if let Some(limit) = w.peek_limit {
                    f.peek_limit = limit;
                }
                self.view = MainView::Messages;
            }
        }
    }

    /// The editor shown now.
    pub fn current_kind(&self) -> EditorKind {
        match self.view {
            MainView::Messages => EditorKind::Watch,
            MainView::Requests => self.transport.into(),
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
        swap(&mut self.http.url, from.user_http_addr, to.user_http_addr);
        swap(&mut self.grpc.addr, from.user_grpc_addr, to.user_grpc_addr);
        swap(
            &mut self.amqp.order_url,
            from.order_http_addr,
            to.order_http_addr,
        );
        if self.amqp.exchange == from.topology.exchange {
            self.amqp.exchange = to.topology.exchange.clone();
        }
        if self.watch_form.exchange == from.topology.exchange {
            self.watch_form.exchange = to.topology.exchange.clone();
        }
        if self.watch_form.queue == from.topology.dead_letter_queue {
            self.watch_form.queue = to.topology.dead_letter_queue.clone();
        }
        if self.amqp.url == from.amqp_url {
            self.amqp.url = to.amqp_url.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(settings.http.url, "http://127.0.0.1:40001/user/1");
        assert_eq!(settings.grpc.addr, "127.0.0.1:40002");
        assert_eq!(settings.amqp.order_url, "http://127.0.0.1:40003/orders");
        assert_eq!(settings.amqp.exchange, "orders-x");
        settings.retarget_demo(&bound, &defaults);
        assert_eq!(settings, Settings::default());
    }

    #[test]
    fn every_editor_round_trips_through_a_saved_request() {
        let mut settings = Settings::default();
        settings.http.method = "POST".into();
        settings.http.ca_file = "certs/ca.pem".into();
        settings.http.body = "{\n  \"a\": 1\n}".into();
        settings.http.headers.push(KeyValue {
            enabled: false,
            ..KeyValue::new("X-Off", "1")
        });
        settings.grpc.source = GrpcSource::ProtoFiles;
        settings.grpc.proto_files = "a.proto b.proto".into();
        settings.grpc.import_paths = "inc".into();
        settings.watch_form.mode = crate::engine::watch::WatchMode::Peek;
        settings.watch_form.peek_limit = 7;
        settings.amqp.routing_key = "order.cancelled".into();
        settings.amqp.persistent = false;
        settings.amqp.body = "not json".into();
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
}
