//! What the app remembers between launches: the editors' contents, the chosen transport, the
//! request timeout and the theme. One serde struct, `#[serde(default)]` so older files load.

use serde::{Deserialize, Serialize};

use crate::engine::amqp::{Properties, PublishRequest};
use crate::engine::grpc::GrpcRequest;
use crate::engine::http::{DEFAULT_MAX_BODY_BYTES, HttpRequest};
use crate::engine::{Header, RequestSpec};

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

fn headers(rows: &[KeyValue]) -> Vec<Header> {
    rows.iter()
        .filter(|r| r.enabled && !r.key.trim().is_empty())
        .map(|r| Header::new(r.key.trim(), r.value.trim()))
        .collect()
}

pub const HTTP_METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpEditor {
    pub method: String,
    pub url: String,
    pub headers: Vec<KeyValue>,
    pub body: String,
}

impl Default for HttpEditor {
    fn default() -> Self {
        Self {
            method: "GET".to_string(),
            url: "http://127.0.0.1:8081/user/1".to_string(),
            headers: vec![KeyValue::new("Accept", "application/json")],
            body: String::new(),
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
        }
    }
}

fn none_if_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

impl Settings {
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout_secs.clamp(0.1, 3600.0))
    }

    /// The request the current editor describes.
    pub fn request(&self, tab: TransportTab) -> RequestSpec {
        let timeout = self.timeout();
        match tab {
            TransportTab::Http => RequestSpec::Http(HttpRequest {
                method: self.http.method.clone(),
                url: self.http.url.clone(),
                headers: headers(&self.http.headers),
                body: self.http.body.clone().into_bytes(),
                timeout,
                max_body_bytes: DEFAULT_MAX_BODY_BYTES,
                tls: Default::default(),
            }),
            TransportTab::Grpc => RequestSpec::Grpc(GrpcRequest {
                addr: self.grpc.addr.clone(),
                method: self.grpc.method.clone(),
                metadata: headers(&self.grpc.metadata),
                json: self.grpc.json.clone(),
                timeout,
                tls: self.grpc.tls(),
            }),
            TransportTab::Amqp => {
                let a = &self.amqp;
                RequestSpec::Amqp(Box::new(PublishRequest {
                    properties: Properties {
                        content_type: none_if_empty(&a.content_type),
                        message_id: none_if_empty(&a.message_id),
                        correlation_id: none_if_empty(&a.correlation_id),
                        timestamp: Some(crate::engine::recorder::unix_ms() / 1000),
                        delivery_mode: a.persistent.then_some(2),
                        ..Properties::default()
                    },
                    headers: headers(&a.headers),
                    timeout,
                    ..PublishRequest::new(
                        a.url.clone(),
                        a.exchange.clone(),
                        a.routing_key.clone(),
                        a.body.clone().into_bytes(),
                    )
                }))
            }
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
}
