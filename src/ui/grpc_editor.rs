//! The gRPC editor: address, method, metadata and the request message (JSON; several for a
//! client stream). Its model is the engine's [`SavedGrpc`] itself — what is saved, and what
//! runs once its `{{variables}}` are filled; where the method browser takes its types from is
//! the one choice beside it ([`GrpcSource`]).

use super::editors::{body_field, field_pair, key_value_ui};
use super::settings::GrpcSource;
use crate::engine::collection::saved::{SavedGrpc, SavedTls};
use crate::engine::descriptors::DescriptorSource;
use crate::engine::fields::{SavedBody, SavedHeader};

/// The editor's default: the demo's user lookup.
pub fn default_request() -> SavedGrpc {
    SavedGrpc {
        addr: "127.0.0.1:50051".to_string(),
        method: crate::engine::grpc::DEFAULT_METHOD.to_string(),
        metadata: vec![SavedHeader::new("x-request-id", "switchboard-1")],
        message: SavedBody::from_text("{\n  \"user_id\": \"1\"\n}"),
        timeout_ms: None,
        protos: Vec::new(),
        import_paths: Vec::new(),
        protoset: String::new(),
        tls: SavedTls::default(),
    }
}

/// The request message as the editor shows it.
pub fn message_text(g: &SavedGrpc) -> String {
    g.message
        .as_ref()
        .map(SavedBody::to_text)
        .unwrap_or_default()
}

/// Where the method browser gets message types: `source` with the editor's files (paths as
/// typed, relative to the working directory).
pub fn descriptor_source(g: &SavedGrpc, source: GrpcSource) -> DescriptorSource {
    let paths = |v: &[String]| v.iter().map(std::path::PathBuf::from).collect::<Vec<_>>();
    match source {
        GrpcSource::Reflection => DescriptorSource::Reflection,
        GrpcSource::Builtin => DescriptorSource::Builtin,
        GrpcSource::ProtoFiles => DescriptorSource::Protos {
            files: paths(&g.protos),
            includes: paths(&g.import_paths),
        },
        GrpcSource::Protoset => DescriptorSource::Protoset(g.protoset.trim().into()),
    }
}

/// The editor's TLS files (paths as typed).
pub fn tls(g: &SavedGrpc) -> crate::engine::net::TlsOptions {
    g.tls.options(std::path::Path::new(""))
}

/// The files of [`GrpcSource::ProtoFiles`] as they are saved: only for that source (the others
/// keep them in the editor while another source is chosen).
pub fn for_source(mut g: SavedGrpc, source: GrpcSource) -> SavedGrpc {
    if source != GrpcSource::ProtoFiles {
        g.protos.clear();
        g.import_paths.clear();
    }
    if source != GrpcSource::Protoset {
        g.protoset.clear();
    }
    g.protoset = g.protoset.trim().to_string();
    g
}

/// The source a saved request's files call for (built-in stays chosen when it has none).
pub fn source_of(g: &SavedGrpc, current: GrpcSource) -> GrpcSource {
    if !g.protos.is_empty() {
        GrpcSource::ProtoFiles
    } else if !g.protoset.is_empty() {
        GrpcSource::Protoset
    } else if current == GrpcSource::Builtin {
        GrpcSource::Builtin
    } else {
        GrpcSource::Reflection
    }
}

/// Draws address, method, metadata and the request message.
pub fn grpc_ui(ui: &mut egui::Ui, e: &mut SavedGrpc) {
    field_pair(
        ui,
        ("Address", &mut e.addr, "127.0.0.1:50051"),
        220.0,
        Some(("Method", &mut e.method, "package.Service/Method")),
    );
    key_value_ui(ui, "grpc-metadata", "Metadata", &mut e.metadata);
    body_field(ui, "Request (JSON)", &mut e.message, 3);
}

/// A single-line field for a space-separated list of paths. What is typed is kept as typed
/// (a trailing space while typing the next path) as long as it still reads as `paths`.
pub fn paths_field(
    ui: &mut egui::Ui,
    label: &str,
    hint: &str,
    width: f32,
    paths: &mut Vec<String>,
) {
    let l = ui.label(label);
    let id = ui.make_persistent_id(("paths", label));
    let split = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let mut text: String = ui
        .data(|d| d.get_temp::<String>(id))
        .filter(|t| split(t) == *paths)
        .unwrap_or_else(|| paths.join(" "));
    ui.add(
        egui::TextEdit::singleline(&mut text)
            .hint_text(hint)
            .desired_width(width),
    )
    .labelled_by(l.id);
    *paths = split(&text);
    ui.data_mut(|d| d.insert_temp(id, text));
}

/// The gRPC editor in the registry (its method browser, which needs what the app discovered,
/// is drawn by the app under it).
pub struct Editor;

impl super::request_editor::RequestEditor for Editor {
    fn tab(&self) -> super::settings::TransportTab {
        super::settings::TransportTab::Grpc
    }

    fn ui(&self, ui: &mut egui::Ui, s: &mut super::settings::Settings) {
        grpc_ui(ui, &mut s.editors.grpc);
    }

    fn to_saved(
        &self,
        s: &super::settings::Settings,
        base: Option<&crate::engine::collection::SavedSpec>,
    ) -> crate::engine::collection::SavedSpec {
        use crate::engine::collection::SavedSpec;
        let mut g = for_source(s.editors.grpc.clone(), s.editors.grpc_source);
        g.metadata.retain(|h| !h.is_blank());
        g.tls = g.tls.trimmed();
        g.timeout_ms = match base {
            Some(SavedSpec::Grpc(b)) => b.timeout_ms,
            _ => None,
        };
        SavedSpec::Grpc(g)
    }

    fn apply_saved(
        &self,
        s: &mut super::settings::Settings,
        spec: &crate::engine::collection::SavedSpec,
    ) -> bool {
        let crate::engine::collection::SavedSpec::Grpc(g) = spec else {
            return false;
        };
        s.editors.grpc_source = source_of(g, s.editors.grpc_source);
        s.editors.grpc = g.clone();
        true
    }
}
