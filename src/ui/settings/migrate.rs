//! Settings files written by earlier versions, brought to today's shape before they are read,
//! and read field by field when a field still does not fit (so one bad field never costs the
//! others).

use serde_json::{Map, Value};

use super::Settings;

/// What reading a settings file took.
#[derive(Debug, Default, PartialEq)]
pub struct Read {
    /// The file was of an older shape and was rewritten to today's.
    pub migrated: bool,
    /// Where a value could not be read (`tabs[1].http.method`): it got its default, the
    /// values around it were kept.
    pub dropped: Vec<String>,
}

/// Reads a settings file: migrated from older shapes, then as a whole, or else piece by piece —
/// a value that does not fit gets its default and only it: the other fields of its object, the
/// other elements of its list (a request tab, a header row) are kept.
pub fn read(mut value: Value) -> (Settings, Read) {
    let before = value.clone();
    migrate(&mut value);
    let mut report = Read {
        migrated: value != before,
        dropped: Vec::new(),
    };
    if let Ok(settings) = serde_json::from_value::<Settings>(value.clone()) {
        return (settings.sanitized(), report);
    }
    let Value::Object(mut fields) = value else {
        report
            .dropped
            .push("the whole file (not a JSON object)".into());
        return (Settings::default(), report);
    };
    // Request tabs are salvaged each on its own (a tab is small; the whole file may hold
    // hundreds of them), then put back.
    let tabs = fields.remove("tabs");
    let settings_read = |v: &Value| serde_json::from_value::<Settings>(v.clone()).is_ok();
    let mut kept = serde_json::to_value(Settings::default()).unwrap_or(Value::Null);
    for (name, field) in fields {
        let fallback = kept.get(&name).cloned();
        salvage(
            &mut kept,
            &mut vec![Step::Key(name)],
            field,
            fallback,
            &mut report.dropped,
            &settings_read,
        );
    }
    match tabs {
        Some(Value::Array(tabs)) => {
            let tab_read =
                |v: &Value| serde_json::from_value::<super::TabEditors>(v.clone()).is_ok();
            let default_tab =
                serde_json::to_value(super::TabEditors::default()).unwrap_or_default();
            let mut kept_tabs = Vec::new();
            for (i, tab) in tabs.into_iter().enumerate() {
                let mut root = default_tab.clone();
                let mut dropped = Vec::new();
                match tab {
                    Value::Object(tab_fields) => {
                        for (name, field) in tab_fields {
                            let fallback = root.get(&name).cloned();
                            salvage(
                                &mut root,
                                &mut vec![Step::Key(name)],
                                field,
                                fallback,
                                &mut dropped,
                                &tab_read,
                            );
                        }
                    }
                    _ => dropped.push(String::new()),
                }
                report.dropped.extend(dropped.into_iter().map(|d| {
                    if d.is_empty() {
                        format!("tabs[{i}]")
                    } else {
                        format!("tabs[{i}].{d}")
                    }
                }));
                kept_tabs.push(root);
            }
            if let Value::Object(map) = &mut kept {
                map.insert("tabs".into(), Value::Array(kept_tabs));
            }
            if !settings_read(&kept)
                && let Value::Object(map) = &mut kept
            {
                map.remove("tabs");
                report.dropped.push("tabs".into());
            }
        }
        Some(other) => {
            let fallback = kept.get("tabs").cloned();
            salvage(
                &mut kept,
                &mut vec![Step::Key("tabs".into())],
                other,
                fallback,
                &mut report.dropped,
                &settings_read,
            );
        }
        None => {}
    }
    let settings: Settings = serde_json::from_value(kept).unwrap_or_default();
    (settings.sanitized(), report)
}

/// A place in the settings' JSON.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn path_text(path: &[Step]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Step::Key(k) if text.is_empty() => text.push_str(k),
            Step::Key(k) => {
                text.push('.');
                text.push_str(k);
            }
            Step::Index(i) => text.push_str(&format!("[{i}]")),
        }
    }
    text
}

/// The value at `path` (made when missing: an object key, or an array slot).
fn slot<'a>(root: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let mut at = root;
    for step in path {
        at = match (step, at) {
            (Step::Key(k), Value::Object(map)) => map.entry(k.clone()).or_insert(Value::Null),
            (Step::Index(i), Value::Array(list)) => list.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(at)
}

/// Sets (or, with `None`, removes) the value at `path`.
fn put(root: &mut Value, path: &[Step], value: Option<Value>) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    match (slot(root, parent), last, value) {
        (Some(Value::Object(map)), Step::Key(k), Some(v)) => {
            map.insert(k.clone(), v);
        }
        (Some(Value::Object(map)), Step::Key(k), None) => {
            map.remove(k);
        }
        (Some(Value::Array(list)), Step::Index(i), Some(v)) if *i < list.len() => list[*i] = v,
        _ => {}
    }
}

/// The default of an element of the list at `path`, where elements have one: a request tab,
/// a header or metadata row (kept in place, so that the rows after it keep their numbers: a
/// credential is filed under its row's number), a form part.
fn element_default(path: &[Step]) -> Option<Value> {
    match path.last() {
        Some(Step::Key(k)) if k == "tabs" && path.len() == 1 => {
            serde_json::to_value(super::TabEditors::default()).ok()
        }
        Some(Step::Key(k)) if k == "headers" || k == "metadata" => {
            Some(serde_json::json!({"name": "", "value": ""}))
        }
        Some(Step::Key(k)) if k == "form" => Some(serde_json::json!({"name": ""})),
        _ => None,
    }
}

/// Puts `value` at `path` in `root` if the settings still read so; otherwise keeps `fallback`
/// there and salvages what it can of `value`: an object field by field (on top of the
/// fallback), a list element by element (a bad element is dropped, or given its default and
/// salvaged in turn). What cannot be kept is named in `dropped`.
fn salvage(
    root: &mut Value,
    path: &mut Vec<Step>,
    value: Value,
    fallback: Option<Value>,
    dropped: &mut Vec<String>,
    reads: &dyn Fn(&Value) -> bool,
) {
    put(root, path, Some(value.clone()));
    if reads(root) {
        return;
    }
    // A list or object left out of the file when empty has no default there: it is empty.
    let fallback = match (&value, fallback) {
        (Value::Array(_), None) => Some(Value::Array(Vec::new())),
        (_, fallback) => fallback,
    };
    match (value, fallback) {
        (Value::Object(fields), Some(base @ Value::Object(_))) => {
            put(root, path, Some(base.clone()));
            for (k, v) in fields {
                let fallback = base.get(&k).cloned();
                path.push(Step::Key(k));
                salvage(root, path, v, fallback, dropped, reads);
                path.pop();
            }
        }
        (Value::Array(elements), Some(Value::Array(_))) => {
            put(root, path, Some(Value::Array(Vec::new())));
            let default = element_default(path);
            let mut index = 0;
            for element in elements {
                let Some(Value::Array(list)) = slot(root, path) else {
                    break;
                };
                list.push(element.clone());
                if reads(root) {
                    index += 1;
                    continue;
                }
                path.push(Step::Index(index));
                match &default {
                    Some(d) => {
                        put(root, path, Some(d.clone()));
                        salvage(root, path, element, Some(d.clone()), dropped, reads);
                        index += 1;
                    }
                    None => {
                        dropped.push(path_text(path));
                        if let Some(Value::Array(list)) = slot(root, &path[..path.len() - 1]) {
                            list.pop();
                        }
                    }
                }
                path.pop();
            }
        }
        (_, fallback) => {
            put(root, path, fallback);
            dropped.push(path_text(path));
        }
    }
}

/// Rewrites older shapes in place:
/// - the HTTP editor had a struct of its own (headers as `key`/`value`, the body as text, form
///   rows with an `is_file` flag, TLS files as fields, `body_mode` inside it); it is now the
///   engine's saved request, with `http_body_mode` beside it;
/// - the gRPC editor had a struct of its own (metadata as `key`/`value`, the message as `json`
///   text, files as space-separated text, TLS files as fields, the method browser's `source`
///   inside it); it is now the engine's saved call, with `grpc_source` beside it;
/// - the AMQP editor had a struct of its own (headers as `key`/`value`, the body as text,
///   properties under `more`, the order form and *Publish many* inside it); it is now the
///   engine's saved publish, with `order` and `amqp_many` beside it (also in each request tab).
pub fn migrate(value: &mut Value) {
    let Some(root) = value.as_object_mut() else {
        return;
    };
    if let Some(mode) = root.get_mut("http").and_then(legacy_http) {
        root.entry("http_body_mode").or_insert(mode);
    }
    if let Some(source) = root.get_mut("grpc").and_then(legacy_grpc) {
        root.entry("grpc_source").or_insert(source);
    }
    if let Some((order, many)) = root.get_mut("amqp").and_then(legacy_amqp) {
        root.entry("order").or_insert(order);
        if let Some(many) = many {
            root.entry("amqp_many").or_insert(many);
        }
    }
    // The previous release shared the NATS and Kafka *Publish many* forms between tabs: each
    // migrated tab starts with them.
    let shared: Vec<(&str, Value)> = ["nats_many", "kafka_many"]
        .into_iter()
        .filter_map(|k| Some((k, root.get(k)?.clone())))
        .collect();
    if let Some(Value::Array(tabs)) = root.get_mut("tabs") {
        for tab in tabs.iter_mut().filter_map(Value::as_object_mut) {
            if tab.get("amqp").is_some_and(is_legacy_amqp) {
                for (k, v) in &shared {
                    tab.entry(*k).or_insert_with(|| v.clone());
                }
            }
            if let Some(mode) = tab.get_mut("http").and_then(legacy_http) {
                tab.entry("http_body_mode").or_insert(mode);
            }
            if let Some(source) = tab.get_mut("grpc").and_then(legacy_grpc) {
                tab.entry("grpc_source").or_insert(source);
            }
            if let Some((order, many)) = tab.get_mut("amqp").and_then(legacy_amqp) {
                tab.entry("order").or_insert(order);
                if let Some(many) = many {
                    tab.entry("amqp_many").or_insert(many);
                }
            }
        }
    }
}

/// Header rows written as `key`/`value` (the editors' old rows) get today's `name`.
fn rename_row_keys(rows: Option<&mut Value>) {
    if let Some(Value::Array(rows)) = rows {
        for row in rows.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(key) = row.remove("key") {
                row.entry("name").or_insert(key);
            }
        }
    }
}

/// A text body of the old editors as the saved form writes it (absent when empty).
fn body_value(text: &str) -> Option<Value> {
    crate::engine::fields::SavedBody::from_text(text).and_then(|b| serde_json::to_value(b).ok())
}

/// The old editor's text at `key` rewritten in place as [`body_value`] has it.
fn text_body(e: &mut Map<String, Value>, key: &str) {
    if let Some(Value::String(text)) = e.get(key) {
        match body_value(text) {
            Some(body) => e.insert(key.into(), body),
            None => e.remove(key),
        };
    }
}

/// TLS files written as fields of the old editors, gathered as the saved form's `tls`.
fn gather_tls(e: &mut Map<String, Value>) {
    let mut tls = Map::new();
    for k in ["ca_file", "cert_file", "key_file"] {
        if let Some(v) = e.remove(k) {
            tls.insert(k.into(), v);
        }
    }
    e.entry("tls").or_insert(Value::Object(tls));
}

/// An HTTP editor of the old shape, rewritten as a saved request; returns its body mode.
/// `None`: not the old shape.
fn legacy_http(http: &mut Value) -> Option<Value> {
    let e = http.as_object_mut()?;
    if !["body_mode", "ca_file"].iter().any(|k| e.contains_key(*k)) {
        return None;
    }
    let mode = e.remove("body_mode");
    rename_row_keys(e.get_mut("headers"));
    text_body(e, "body");
    if let Some(Value::Array(rows)) = e.get_mut("form") {
        for row in rows.iter_mut().filter_map(Value::as_object_mut) {
            if row.remove("is_file") == Some(Value::Bool(true))
                && let Some(path) = row.remove("value")
            {
                row.insert("file".into(), path);
            }
        }
    }
    gather_tls(e);
    for (k, default) in [("method", "GET"), ("url", "")] {
        e.entry(k).or_insert_with(|| Value::String(default.into()));
    }
    Some(mode.unwrap_or_else(|| Value::String("Text".into())))
}

/// A gRPC editor of the old shape, rewritten as a saved call; returns the method browser's
/// source. `None`: not the old shape.
fn legacy_grpc(grpc: &mut Value) -> Option<Value> {
    let e = grpc.as_object_mut()?;
    if !["json", "proto_files", "source", "ca_file"]
        .iter()
        .any(|k| e.contains_key(*k))
    {
        return None;
    }
    let source = e.remove("source");
    rename_row_keys(e.get_mut("metadata"));
    if let Some(json) = e.remove("json") {
        e.insert("message".into(), json);
        text_body(e, "message");
    }
    for (old, new) in [("proto_files", "protos"), ("import_paths", "import_paths")] {
        if let Some(Value::String(text)) = e.remove(old) {
            let paths: Vec<Value> = text.split_whitespace().map(Value::from).collect();
            e.insert(new.into(), Value::Array(paths));
        }
    }
    gather_tls(e);
    for k in ["addr", "method"] {
        e.entry(k).or_insert_with(|| Value::String(String::new()));
    }
    Some(source.unwrap_or_else(|| Value::String("Reflection".into())))
}

/// Whether `amqp` is the previous release's AMQP editor.
fn is_legacy_amqp(amqp: &Value) -> bool {
    amqp.as_object().is_some_and(|e| {
        ["order_url", "order_body", "many_count", "more"]
            .iter()
            .any(|k| e.contains_key(*k))
    })
}

/// An AMQP editor of the old shape, rewritten as a saved publish; returns its order form and
/// its *Publish many* form (when it had one). `None`: not the old shape.
fn legacy_amqp(amqp: &mut Value) -> Option<(Value, Option<Value>)> {
    if !is_legacy_amqp(amqp) {
        return None;
    }
    let e = amqp.as_object_mut()?;
    let mut order = Map::new();
    for (old, new) in [("order_url", "url"), ("order_body", "body")] {
        if let Some(v) = e.remove(old) {
            order.insert(new.into(), v);
        }
    }
    let mut many = Map::new();
    for (old, new) in [
        ("many_count", "count"),
        ("many_rate", "rate"),
        ("many_numbered", "numbered"),
    ] {
        if let Some(v) = e.remove(old) {
            many.insert(new.into(), v);
        }
    }
    if let Some(Value::Object(more)) = e.remove("more") {
        for (k, v) in more {
            // `kind` was written as `type`; empty properties are left out, as the saved form does.
            let k = if k == "kind" { "type".to_string() } else { k };
            if !(v.is_null() || v.as_str() == Some("")) {
                e.entry(k).or_insert(v);
            }
        }
    }
    rename_row_keys(e.get_mut("headers"));
    text_body(e, "body");
    for (k, default) in [
        ("url", crate::engine::amqp::DEFAULT_AMQP_URL),
        ("exchange", ""),
        ("routing_key", ""),
    ] {
        e.entry(k).or_insert_with(|| Value::String(default.into()));
    }
    Some((
        Value::Object(order),
        (!many.is_empty()).then_some(Value::Object(many)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fields::{SavedBody, SavedHeader};

    /// The AMQP editor as the previous release wrote it (settings.json, also in a tab).
    fn legacy_editor() -> Value {
        serde_json::json!({
            "url": "amqp://guest@127.0.0.1:5672/%2f",
            "exchange": "orders",
            "routing_key": "order.cancelled",
            "content_type": "application/json",
            "message_id": "m-1",
            "correlation_id": "",
            "persistent": false,
            "more": {"type": "OrderCancelled", "expiration": "60000", "priority": 3},
            "headers": [{"enabled": false, "key": "x-source", "value": "switchboard"},
                        {"enabled": true, "key": "Authorization", "value": "{{switchboard_editor_amqp_authorization}}"}],
            "body": "{\"order_id\": \"o-3\"}",
            "order_url": "http://127.0.0.1:9999/orders",
            "order_body": "{\"user_id\": \"2\"}",
            "many_count": 40,
            "many_rate": 5.0,
            "many_numbered": false
        })
    }

    #[test]
    fn an_old_amqp_editor_keeps_every_field_in_the_new_shape() {
        let file = serde_json::json!({
            "timeout_secs": 4.0,
            "nats_many": {"count": 11},
            "amqp": legacy_editor(),
            "tabs": [{"transport": "Amqp", "amqp": legacy_editor()}],
        });
        let (s, report) = read(file);
        assert!(report.dropped.is_empty(), "{:?}", report.dropped);
        assert!(report.migrated);
        assert_eq!(s.timeout_secs, 4.0);
        for (a, order) in [
            (&s.editors.amqp, &s.editors.order),
            (&s.tabs[0].editors.amqp, &s.tabs[0].editors.order),
        ] {
            assert_eq!(a.url, "amqp://guest@127.0.0.1:5672/%2f");
            assert_eq!(a.routing_key, "order.cancelled");
            assert_eq!(a.message_id, "m-1");
            assert!(!a.persistent);
            assert_eq!(a.more.kind, "OrderCancelled");
            assert_eq!(a.more.expiration, "60000");
            assert_eq!(a.more.priority, Some(3));
            assert_eq!(
                a.headers,
                vec![
                    SavedHeader {
                        enabled: false,
                        ..SavedHeader::new("x-source", "switchboard")
                    },
                    SavedHeader::new("Authorization", "{{switchboard_editor_amqp_authorization}}"),
                ]
            );
            assert_eq!(a.body, SavedBody::from_text("{\"order_id\": \"o-3\"}"));
            assert_eq!(order.url, "http://127.0.0.1:9999/orders");
            assert_eq!(order.body, "{\"user_id\": \"2\"}");
        }
        assert_eq!(s.editors.amqp_many.count, 40);
        assert_eq!(
            s.tabs[0].editors.amqp_many, s.editors.amqp_many,
            "a tab keeps its own"
        );
        assert_eq!(s.editors.amqp_many.rate, 5.0);
        assert!(!s.editors.amqp_many.numbered);
        assert_eq!(s.editors.transport, super::super::TransportTab::Http);
        assert_eq!(
            s.tabs[0].editors.transport,
            super::super::TransportTab::Amqp
        );
    }

    #[test]
    fn an_old_http_editor_keeps_every_field_in_the_new_shape() {
        let legacy = serde_json::json!({
            "method": "POST",
            "url": "https://127.0.0.1:8081/upload",
            "headers": [{"enabled": true, "key": "Accept", "value": "application/json"},
                        {"enabled": false, "key": "X-Off", "value": "1"}],
            "body": "kept while the form is chosen",
            "body_mode": "Form",
            "form": [{"enabled": true, "name": "note", "value": "hi", "is_file": false,
                      "content_type": "", "filename": ""},
                     {"enabled": true, "name": "doc", "value": "docs/a.pdf", "is_file": true,
                      "content_type": "application/pdf", "filename": "a.pdf"}],
            "ca_file": "certs/ca.pem",
            "cert_file": "",
            "key_file": ""
        });
        let file = serde_json::json!({
            "http": legacy.clone(),
            "tabs": [{"transport": "Http", "http": legacy}],
        });
        let (s, report) = read(file);
        assert!(report.dropped.is_empty(), "{:?}", report.dropped);
        assert!(report.migrated);
        for (h, mode) in [
            (&s.editors.http, s.editors.http_body_mode),
            (&s.tabs[0].editors.http, s.tabs[0].editors.http_body_mode),
        ] {
            assert_eq!(h.method, "POST");
            assert_eq!(h.url, "https://127.0.0.1:8081/upload");
            assert_eq!(h.headers[0], SavedHeader::new("Accept", "application/json"));
            assert!(!h.headers[1].enabled);
            assert_eq!(
                h.body.as_ref().map(SavedBody::to_text).as_deref(),
                Some("kept while the form is chosen")
            );
            assert_eq!(h.form[0].value, "hi");
            assert_eq!(h.form[0].file, "");
            assert_eq!(h.form[1].file, "docs/a.pdf");
            assert_eq!(h.form[1].value, "");
            assert_eq!(h.form[1].content_type, "application/pdf");
            assert_eq!(h.form[1].filename, "a.pdf");
            assert_eq!(h.tls.ca_file, "certs/ca.pem");
            assert_eq!(mode, super::super::BodyMode::Form);
        }
    }

    #[test]
    fn an_old_grpc_editor_keeps_every_field_in_the_new_shape() {
        let legacy = serde_json::json!({
            "addr": "https://127.0.0.1:50051",
            "method": "shop.Orders/Get",
            "metadata": [{"enabled": true, "key": "x-request-id", "value": "r-1"}],
            "json": "{\"userId\":\"1\"} {\"userId\":\"3\"}",
            "source": "ProtoFiles",
            "proto_files": "api/shop.proto  other.proto",
            "import_paths": "api",
            "protoset": "",
            "ca_file": "ca.pem",
            "cert_file": "",
            "key_file": ""
        });
        let file = serde_json::json!({
            "grpc": legacy.clone(),
            "tabs": [{"transport": "Grpc", "grpc": legacy}],
        });
        let (s, report) = read(file);
        assert!(report.dropped.is_empty(), "{:?}", report.dropped);
        assert!(report.migrated);
        for (g, source) in [
            (&s.editors.grpc, s.editors.grpc_source),
            (&s.tabs[0].editors.grpc, s.tabs[0].editors.grpc_source),
        ] {
            assert_eq!(g.addr, "https://127.0.0.1:50051");
            assert_eq!(g.method, "shop.Orders/Get");
            assert_eq!(g.metadata, vec![SavedHeader::new("x-request-id", "r-1")]);
            assert_eq!(
                g.message.as_ref().map(SavedBody::to_text).as_deref(),
                Some("{\"userId\":\"1\"} {\"userId\":\"3\"}")
            );
            assert_eq!(g.protos, ["api/shop.proto", "other.proto"]);
            assert_eq!(g.import_paths, ["api"]);
            assert_eq!(g.tls.ca_file, "ca.pem");
            assert_eq!(source, super::super::GrpcSource::ProtoFiles);
        }
    }

    #[test]
    fn a_field_that_does_not_fit_costs_only_itself() {
        let mut tab = serde_json::to_value(super::super::TabEditors::default()).unwrap();
        tab["http"]["url"] = "http://kept/".into();
        tab["http"]["method"] = 123.into();
        tab["http"]["headers"] = serde_json::json!([
            {"name": "Authorization", "value": "{{switchboard_editor_http_authorization_tab1}}"},
            {"name": 5, "value": "bad row"},
            {"name": "X-Kept", "value": "1"},
            {"name": "Cookie", "value": "c", "enabled": "yes"}
        ]);
        let file = serde_json::json!({
            "timeout_secs": 4.0,
            "dark_mode": false,
            "amqp": {"url": 7},
            "layout": "Sideways",
            "tabs": [tab, "not a tab", {"transport": "Grpc"}],
        });
        let (s, report) = read(file);
        let mut dropped = report.dropped.clone();
        dropped.sort();
        assert_eq!(
            dropped,
            [
                "amqp.url",
                "layout",
                "tabs[0].http.headers[1].name",
                "tabs[0].http.headers[3].enabled",
                "tabs[0].http.method",
                "tabs[1]"
            ]
        );
        assert!(!report.migrated);
        assert_eq!(s.timeout_secs, 4.0);
        assert!(!s.dark_mode);
        assert_eq!(s.editors.amqp, Settings::default().editors.amqp);
        // The tab keeps everything but its bad method and header row; the others are kept.
        assert_eq!(s.tabs.len(), 3);
        assert_eq!(s.tabs[0].editors.http.url, "http://kept/");
        assert_eq!(s.tabs[0].editors.http.method, "GET");
        // The bad row stays in its place (credentials are filed under row numbers), without
        // the bad name.
        let rows: Vec<_> = s.tabs[0]
            .editors
            .http
            .headers
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_str()))
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "Authorization",
                    "{{switchboard_editor_http_authorization_tab1}}"
                ),
                ("", "bad row"),
                ("X-Kept", "1"),
                ("Cookie", "c")
            ]
        );
        assert_eq!(s.tabs[1], super::super::TabEditors::default());
        assert_eq!(
            s.tabs[2].editors.transport,
            super::super::TransportTab::Grpc
        );
        // Today's shape is read as it is.
        let now = serde_json::to_value(&s).unwrap();
        assert_eq!(read(now), (s, Read::default()));
    }

    #[test]
    fn what_is_not_an_object_reads_as_defaults() {
        for file in [serde_json::json!([1, 2]), serde_json::json!(null)] {
            let (s, report) = read(file);
            assert_eq!(s, Settings::default());
            assert_eq!(report.dropped, ["the whole file (not a JSON object)"]);
        }
    }
}
