//! Where gRPC message types come from: the server itself (reflection, `grpc.reflection.v1` with
//! a fallback to `v1alpha`), `.proto` files compiled at run time (protox, with import paths and
//! the Google well-known types), or a compiled descriptor set (`.protoset`).

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use prost::Message as _;
use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};
use prost_types::FileDescriptorProto;
use tokio::sync::mpsc;
pub(crate) use tokio_stream_shim::ReceiverStream;

use crate::exchange::{ErrorKind, ExchangeError};
use crate::grpc::{open_channel, parse_addr};
use crate::net::TlsOptions;
use crate::recorder::Recorder;

/// What the CLI says to do when a server has no reflection (the app says it its own way).
pub const NO_REFLECTION_HINT: &str = "pass --proto FILE [-I DIR] or --protoset FILE";

/// A bounded channel as a stream (the request side of the reflection call).
mod tokio_stream_shim {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub struct ReceiverStream<T>(pub tokio::sync::mpsc::Receiver<T>);

    impl<T> futures_util::Stream for ReceiverStream<T> {
        type Item = T;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            self.0.poll_recv(cx)
        }
    }
}

/// Which reflection protocol answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReflectionVersion {
    V1,
    V1Alpha,
}

/// Descriptors found by reflection.
#[derive(Debug, Clone)]
pub struct Reflected {
    pub pool: DescriptorPool,
    /// Exactly the services `ListServices` named (sorted), reflection included; the pool may
    /// hold more (other services of the same files), which the server does not serve.
    pub services: Vec<String>,
    pub version: ReflectionVersion,
}

fn reflection_error(message: impl Into<String>) -> ExchangeError {
    ExchangeError {
        kind: ErrorKind::Refused,
        phase: None,
        message: message.into(),
    }
}

macro_rules! reflect_with {
    ($module:path, $channel:expr, $deadline:expr) => {{
        use pb::server_reflection_request::MessageRequest;
        use pb::server_reflection_response::MessageResponse;
        use $module as pb;
        let mut client = pb::server_reflection_client::ServerReflectionClient::new($channel);
        let (tx, rx) = mpsc::channel::<pb::ServerReflectionRequest>(16);
        let ask = |request: MessageRequest| pb::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        };
        let _ = tx
            .send(ask(MessageRequest::ListServices(String::new())))
            .await;
        let outcome: Result<(Vec<String>, Vec<FileDescriptorProto>, Vec<String>), tonic::Status> =
            tokio::time::timeout_at($deadline, async {
                let mut responses = client
                    .server_reflection_info(ReceiverStream(rx))
                    .await?
                    .into_inner();
                let mut services = Vec::new();
                let mut refused = Vec::new();
                let mut files: Vec<FileDescriptorProto> = Vec::new();
                let mut known: HashSet<String> = HashSet::new();
                let mut asked: BTreeSet<String> = BTreeSet::new();
                let mut outstanding = 1usize;
                while outstanding > 0 {
                    let Some(reply) = responses.message().await? else {
                        break;
                    };
                    outstanding -= 1;
                    match reply.message_response {
                        Some(MessageResponse::ListServicesResponse(list)) => {
                            for service in list.service {
                                services.push(service.name.clone());
                                // Listed, but not asked about: some servers (tonic's) end
                                // the stream when asked to describe reflection itself, and
                                // calling it needs no descriptors from them.
                                if service.name.starts_with("grpc.reflection.") {
                                    continue;
                                }
                                outstanding += 1;
                                let _ = tx
                                    .send(ask(MessageRequest::FileContainingSymbol(service.name)))
                                    .await;
                            }
                        }
                        Some(MessageResponse::FileDescriptorResponse(found)) => {
                            for bytes in found.file_descriptor_proto {
                                let file =
                                    FileDescriptorProto::decode(bytes.as_slice()).map_err(|e| {
                                        tonic::Status::internal(format!(
                                            "the server sent a bad descriptor: {e}"
                                        ))
                                    })?;
                                let name = file.name.clone().unwrap_or_default();
                                if known.insert(name) {
                                    for dep in &file.dependency {
                                        if !known.contains(dep) && asked.insert(dep.clone()) {
                                            outstanding += 1;
                                            let _ = tx
                                                .send(ask(MessageRequest::FileByFilename(
                                                    dep.clone(),
                                                )))
                                                .await;
                                        }
                                    }
                                    files.push(file);
                                }
                            }
                        }
                        // One symbol or file the server cannot describe: the rest still is.
                        Some(MessageResponse::ErrorResponse(e)) => {
                            refused.push(format!(
                                "{} ({:?})",
                                e.error_message,
                                tonic::Code::from_i32(e.error_code)
                            ));
                        }
                        _ => {}
                    }
                }
                Ok((services, files, refused))
            })
            .await
            .unwrap_or_else(|_| {
                Err(tonic::Status::deadline_exceeded(
                    "the reflection service did not answer in time",
                ))
            });
        outcome
    }};
}

/// Asks the server at `addr` for its services and their descriptors, trying reflection v1 and
/// then v1alpha.
pub async fn reflect(addr: &str, timeout: Duration) -> Result<Reflected, ExchangeError> {
    reflect_with_tls(addr, timeout, &TlsOptions::default()).await
}

/// [`reflect`] with a custom CA or a client certificate.
pub async fn reflect_with_tls(
    addr: &str,
    timeout: Duration,
    tls: &TlsOptions,
) -> Result<Reflected, ExchangeError> {
    let parsed = parse_addr(addr)?;
    let mut rec = Recorder::new(timeout);
    let (channel, marks) = open_channel(&mut rec, &parsed, tls)
        .await
        .map_err(|(e, _)| e)?;
    let mut version = ReflectionVersion::V1;
    let mut result = reflect_with!(tonic_reflection::pb::v1, channel.clone(), rec.deadline);
    if matches!(&result, Err(status) if status.code() == tonic::Code::Unimplemented) {
        version = ReflectionVersion::V1Alpha;
        result = reflect_with!(tonic_reflection::pb::v1alpha, channel, rec.deadline);
    }
    let (mut services, files, refused) = match result {
        Ok(found) => found,
        Err(status) if status.code() == tonic::Code::Unimplemented => {
            return Err(reflection_error(format!(
                "{addr} does not offer gRPC server reflection (v1 or v1alpha): {NO_REFLECTION_HINT}"
            )));
        }
        Err(status) if crate::grpc::is_transport_failure(&status) => {
            return Err(reflection_error(format!(
                "reflection on {addr} failed: {}",
                crate::grpc::transport_failure_message(&status, &marks.first_bytes())
            )));
        }
        Err(status) => {
            return Err(reflection_error(format!(
                "reflection on {addr} failed: {} ({:?})",
                status.message(),
                status.code()
            )));
        }
    };
    let mut pool = DescriptorPool::new();
    pool.add_file_descriptor_protos(files).map_err(|e| {
        let refused = if refused.is_empty() {
            String::new()
        } else {
            format!(" (it could not describe: {})", refused.join("; "))
        };
        reflection_error(format!(
            "the descriptors {addr} sent do not fit together: {e}{refused}"
        ))
    })?;
    services.sort();
    Ok(Reflected {
        pool,
        services,
        version,
    })
}

/// Compiles `.proto` files (imports resolved from `includes`, else from each file's folder; the
/// Google well-known types are built in). Errors name the file and line.
pub fn compile_protos(
    files: &[PathBuf],
    includes: &[PathBuf],
) -> Result<DescriptorPool, ExchangeError> {
    let mut includes: Vec<PathBuf> = includes.to_vec();
    let mut relative = Vec::new();
    for file in files {
        let found = includes
            .iter()
            .find_map(|dir| file.strip_prefix(dir).ok().map(Path::to_path_buf));
        match found {
            Some(rel) => relative.push(rel),
            None if file.is_relative() && includes.iter().any(|dir| dir.join(file).exists()) => {
                relative.push(file.clone())
            }
            None => {
                let dir = file
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .to_path_buf();
                relative.push(PathBuf::from(file.file_name().unwrap_or_default()));
                if !includes.contains(&dir) {
                    includes.push(dir);
                }
            }
        }
    }
    let fds = protox::compile(&relative, &includes).map_err(|e| {
        ExchangeError::invalid_input(format!(
            "cannot compile the .proto files: {}",
            protox_error(&e)
        ))
    })?;
    DescriptorPool::from_file_descriptor_set(fds)
        .map_err(|e| ExchangeError::invalid_input(format!("bad descriptors: {e}")))
}

/// `file:line:column: message` for a protox error when it has a location.
fn protox_error(e: &protox::Error) -> String {
    use miette::Diagnostic;
    let located = (|| {
        let label = e.labels()?.next()?;
        let source = e.source_code()?;
        let contents = source.read_span(label.inner(), 0, 0).ok()?;
        let file = e
            .file()
            .map(str::to_string)
            .or_else(|| contents.name().map(str::to_string))?;
        Some(format!(
            "{file}:{}:{}: {e}",
            contents.line() + 1,
            contents.column() + 1
        ))
    })();
    located.unwrap_or_else(|| match e.file() {
        Some(file) => format!("{file}: {e}"),
        None => e.to_string(),
    })
}

/// Reads a compiled descriptor set (`protoc --descriptor_set_out`, `buf build -o`).
pub fn load_protoset(path: &Path) -> Result<DescriptorPool, ExchangeError> {
    let bytes = std::fs::read(path).map_err(|e| {
        ExchangeError::invalid_input(format!("cannot read {}: {e}", path.display()))
    })?;
    DescriptorPool::decode(bytes.as_slice()).map_err(|e| {
        ExchangeError::invalid_input(format!("{} is not a descriptor set: {e}", path.display()))
    })
}

/// A JSON request template for a message: every field, nested messages, enums by name, one
/// element in lists and maps; recursion stops after a few levels. Of each `oneof` only the
/// first member is filled (the proto3 JSON mapping refuses two): [`template_hints`] names the
/// others.
pub fn json_template(message: &MessageDescriptor) -> serde_json::Value {
    template(message, 0, "", &mut Vec::new())
}

/// One line per `oneof` the template fills with its first member, naming the others:
/// `oneof choice: also text, number` (nested: `oneof inner.choice: …`), to show beside the
/// template (as `// …` comment lines above it in the CLI), never inside it.
pub fn template_hints(message: &MessageDescriptor) -> Vec<String> {
    let mut hints = Vec::new();
    template(message, 0, "", &mut hints);
    hints
}

/// The template as the CLI prints it: a `// oneof …` line per hint above the pretty JSON.
pub fn template_text(message: &MessageDescriptor) -> String {
    let mut out = String::new();
    for hint in template_hints(message) {
        out.push_str("// ");
        out.push_str(&hint);
        out.push('\n');
    }
    out.push_str(&serde_json::to_string_pretty(&json_template(message)).unwrap_or_default());
    out
}

fn template(
    message: &MessageDescriptor,
    depth: usize,
    path: &str,
    hints: &mut Vec<String>,
) -> serde_json::Value {
    use serde_json::{Value, json};
    match message.full_name() {
        "google.protobuf.Timestamp" => return json!("1970-01-01T00:00:00Z"),
        "google.protobuf.Duration" => return json!("0s"),
        "google.protobuf.Struct" => return json!({}),
        "google.protobuf.Value" => return Value::Null,
        "google.protobuf.ListValue" => return json!([]),
        "google.protobuf.Empty" => return json!({}),
        "google.protobuf.FieldMask" => return json!(""),
        "google.protobuf.Any" => return json!({"@type": ""}),
        name if name.starts_with("google.protobuf.") && name.ends_with("Value") => {
            return match message.get_field_by_name("value").map(|f| f.kind()) {
                Some(kind) => scalar(&kind, depth, path, hints),
                None => Value::Null,
            };
        }
        _ => {}
    }
    let mut out = serde_json::Map::new();
    if depth > 3 {
        return Value::Object(out);
    }
    for oneof in message.oneofs().filter(|o| !o.is_synthetic()) {
        let others: Vec<String> = oneof
            .fields()
            .skip(1)
            .map(|f| f.json_name().to_string())
            .collect();
        if !others.is_empty() {
            hints.push(format!(
                "oneof {path}{}: also {}",
                oneof.name(),
                others.join(", ")
            ));
        }
    }
    for field in message.fields() {
        if let Some(oneof) = field.containing_oneof()
            && !oneof.is_synthetic()
            && oneof.fields().next().is_some_and(|first| first != field)
        {
            continue;
        }
        let inner = format!("{path}{}.", field.json_name());
        let value = if field.is_map() {
            let entry = match field.kind() {
                Kind::Message(m) => m,
                _ => continue,
            };
            // JSON map keys are strings; numbers and booleans written as such.
            let key = match entry.map_entry_key_field().kind() {
                Kind::String => "key",
                Kind::Bool => "false",
                _ => "0",
            };
            let value = entry.map_entry_value_field();
            json!({ key: scalar(&value.kind(), depth + 1, &inner, hints) })
        } else if field.is_list() {
            Value::Array(vec![scalar(&field.kind(), depth + 1, &inner, hints)])
        } else {
            scalar(&field.kind(), depth + 1, &inner, hints)
        };
        out.insert(field.json_name().to_string(), value);
    }
    Value::Object(out)
}

fn scalar(kind: &Kind, depth: usize, path: &str, hints: &mut Vec<String>) -> serde_json::Value {
    use serde_json::json;
    match kind {
        Kind::Double | Kind::Float => json!(0.0),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => json!(0),
        // 64-bit integers are strings in proto3 JSON.
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => json!("0"),
        Kind::Bool => json!(false),
        Kind::String => json!(""),
        Kind::Bytes => json!(""),
        Kind::Enum(e) => json!(
            e.values()
                .next()
                .map(|v| v.name().to_string())
                .unwrap_or_default()
        ),
        Kind::Message(m) => template(m, depth, path, hints),
    }
}

/// `grpcurl describe`-like text for a service, method, message or enum. The definition is
/// valid `.proto` (types fully qualified, maps as `map<K, V>`, oneofs, `optional`, nested
/// types, `stream`); the lines around it are `//` comments, except the JSON template that
/// follows a `// template:` line.
pub fn describe(pool: &DescriptorPool, symbol: &str) -> Result<String, ExchangeError> {
    let symbol = symbol.trim().trim_start_matches('.');
    if let Some(service) = pool.get_service_by_name(symbol) {
        let mut out = format!("// {} is a service:\n", service.full_name());
        service_proto(&service, &mut out);
        return Ok(out);
    }
    if let Some((service, name)) = symbol.rsplit_once(['/', '.'])
        && let Some(method) = pool
            .get_service_by_name(service)
            .and_then(|s| s.methods().find(|m| m.name() == name))
    {
        return Ok(format!(
            "// {symbol} is a method:\n{};\n\n// request template:\n{}\n",
            method_line(&method),
            template_text(&method.input())
        ));
    }
    if let Some(message) = pool.get_message_by_name(symbol) {
        let mut out = format!("// {} is a message:\n", message.full_name());
        message_proto(&message, 0, &mut out);
        out.push_str("\n// template:\n");
        out.push_str(&template_text(&message));
        out.push('\n');
        return Ok(out);
    }
    if let Some(e) = pool.get_enum_by_name(symbol) {
        let mut out = format!("// {} is an enum:\n", e.full_name());
        enum_proto(&e, 0, &mut out);
        return Ok(out);
    }
    Err(ExchangeError::invalid_input(format!(
        "symbol {symbol:?} not found (services: {})",
        services(pool).join(", ")
    )))
}

/// A service as `.proto` text.
fn service_proto(service: &prost_reflect::ServiceDescriptor, out: &mut String) {
    out.push_str(&format!("service {} {{\n", service.name()));
    for m in service.methods() {
        out.push_str(&format!("  {};\n", method_line(&m)));
    }
    out.push_str("}\n");
}

/// A message as `.proto` text, with its nested messages (not map entries) and enums.
fn message_proto(message: &MessageDescriptor, level: usize, out: &mut String) {
    let pad = "  ".repeat(level);
    out.push_str(&format!("{pad}message {} {{\n", message.name()));
    for child in message.child_messages().filter(|m| !m.is_map_entry()) {
        message_proto(&child, level + 1, out);
    }
    for child in message.child_enums() {
        enum_proto(&child, level + 1, out);
    }
    let proto2 = message.parent_file().syntax() == prost_reflect::Syntax::Proto2;
    let mut written_oneofs = Vec::new();
    for field in message.fields() {
        match field.containing_oneof() {
            Some(oneof) if !oneof.is_synthetic() => {
                if written_oneofs.contains(&oneof) {
                    continue;
                }
                out.push_str(&format!("{pad}  oneof {} {{\n", oneof.name()));
                for member in oneof.fields() {
                    out.push_str(&format!("{pad}    {};\n", field_line(&member, "")));
                }
                out.push_str(&format!("{pad}  }}\n"));
                written_oneofs.push(oneof);
            }
            synthetic => {
                let label = if field.is_map() {
                    ""
                } else if field.is_list() {
                    "repeated "
                } else if synthetic.is_some() {
                    "optional "
                } else if proto2 && field.cardinality() == prost_reflect::Cardinality::Required {
                    "required "
                } else if proto2 {
                    "optional "
                } else {
                    ""
                };
                out.push_str(&format!("{pad}  {};\n", field_line(&field, label)));
            }
        }
    }
    out.push_str(&format!("{pad}}}\n"));
}

/// `label type name = number` (maps as `map<K, V>`).
fn field_line(field: &prost_reflect::FieldDescriptor, label: &str) -> String {
    let kind = match field.kind() {
        Kind::Message(entry) if field.is_map() => format!(
            "map<{}, {}>",
            kind_name(&entry.map_entry_key_field().kind()),
            kind_name(&entry.map_entry_value_field().kind())
        ),
        other => kind_name(&other),
    };
    format!("{label}{kind} {} = {}", field.name(), field.number())
}

/// An enum as `.proto` text (`allow_alias` when two names share a number).
fn enum_proto(e: &prost_reflect::EnumDescriptor, level: usize, out: &mut String) {
    let pad = "  ".repeat(level);
    out.push_str(&format!("{pad}enum {} {{\n", e.name()));
    let mut numbers = HashSet::new();
    if !e.values().all(|v| numbers.insert(v.number())) {
        out.push_str(&format!("{pad}  option allow_alias = true;\n"));
    }
    for v in e.values() {
        out.push_str(&format!("{pad}  {} = {};\n", v.name(), v.number()));
    }
    out.push_str(&format!("{pad}}}\n"));
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => format!(".{}", m.full_name()),
        Kind::Enum(e) => format!(".{}", e.full_name()),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

fn method_line(m: &prost_reflect::MethodDescriptor) -> String {
    format!(
        "rpc {} ( {}.{} ) returns ( {}.{} )",
        m.name(),
        if m.is_client_streaming() {
            "stream "
        } else {
            ""
        },
        m.input().full_name(),
        if m.is_server_streaming() {
            "stream "
        } else {
            ""
        },
        m.output().full_name()
    )
}

/// The services in a pool, sorted.
pub fn services(pool: &DescriptorPool) -> Vec<String> {
    let mut names: Vec<String> = pool.services().map(|s| s.full_name().to_string()).collect();
    names.sort();
    names
}

/// Where to get descriptors from, as the app's gRPC editor offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DescriptorSource {
    /// Ask the server (reflection v1, then v1alpha).
    Reflection,
    /// Compile these `.proto` files with these import paths.
    Protos {
        files: Vec<PathBuf>,
        includes: Vec<PathBuf>,
    },
    /// A compiled descriptor set.
    Protoset(PathBuf),
    /// The bundled `proto/user.proto`.
    Builtin,
}

/// A method as the method browser lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodInfo {
    /// `package.Service/Method`.
    pub path: String,
    /// `unary`, `server stream`, `client stream` or `bidi stream`.
    pub kind: &'static str,
    pub input: String,
    pub output: String,
    /// A pretty JSON template of the input message.
    pub template: String,
    /// What the template leaves out ([`template_hints`]: the other members of each oneof).
    pub hints: Vec<String>,
}

/// Loads descriptors from `source` (reflection asks the server at `addr`).
pub async fn load(
    source: &DescriptorSource,
    addr: &str,
    timeout: Duration,
    tls: &TlsOptions,
) -> Result<DescriptorPool, ExchangeError> {
    match source {
        DescriptorSource::Reflection => Ok(reflect_with_tls(addr, timeout, tls).await?.pool),
        DescriptorSource::Protoset(path) => load_protoset(path),
        DescriptorSource::Protos { files, includes } => {
            if files.is_empty() {
                return Err(ExchangeError::invalid_input(
                    "give at least one .proto file",
                ));
            }
            compile_protos(files, includes)
        }
        DescriptorSource::Builtin => crate::grpc::builtin_pool(),
    }
}

/// [`load`] for a call of `method`: when the server offers no reflection (or it fails) and
/// the method is one of the bundled `user.proto`'s, the bundled descriptors serve it — so the
/// demo's methods work against servers without reflection. Other failures are returned.
pub async fn load_for_method(
    source: &DescriptorSource,
    addr: &str,
    method: Option<&str>,
    timeout: Duration,
    tls: &TlsOptions,
) -> Result<DescriptorPool, ExchangeError> {
    Ok(load_for_method_noting(source, addr, method, timeout, tls)
        .await?
        .0)
}

/// [`load_for_method`], also returning the reflection failure the bundled descriptors stood in
/// for (so a timeline can say reflection failed and why).
pub async fn load_for_method_noting(
    source: &DescriptorSource,
    addr: &str,
    method: Option<&str>,
    timeout: Duration,
    tls: &TlsOptions,
) -> Result<(DescriptorPool, Option<ExchangeError>), ExchangeError> {
    match load(source, addr, timeout, tls).await {
        Ok(pool) => Ok((pool, None)),
        Err(error) if *source == DescriptorSource::Reflection => {
            let builtin = crate::grpc::builtin_pool()?;
            match method {
                Some(m) if crate::grpc::find_method(&builtin, m).is_ok() => {
                    Ok((builtin, Some(error)))
                }
                _ => Err(error),
            }
        }
        Err(error) => Err(error),
    }
}

/// Every method of every service in the pool, sorted, with its kind and a request template.
pub fn methods(pool: &DescriptorPool) -> Vec<MethodInfo> {
    let mut out: Vec<MethodInfo> = pool
        .services()
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .map(|m| MethodInfo {
            path: format!("{}/{}", m.parent_service().full_name(), m.name()),
            kind: match (m.is_client_streaming(), m.is_server_streaming()) {
                (false, false) => "unary",
                (false, true) => "server stream",
                (true, false) => "client stream",
                (true, true) => "bidi stream",
            },
            input: m.input().full_name().to_string(),
            output: m.output().full_name().to_string(),
            template: serde_json::to_string_pretty(&json_template(&m.input())).unwrap_or_default(),
            hints: template_hints(&m.input()),
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}
