//! Settings files written by earlier versions, brought to today's shape before they are read,
//! and read field by field when a field still does not fit (so one bad field never costs the
//! others).

use serde_json::{Map, Value};

use super::Settings;

/// Reads a settings file: migrated from older shapes, then as a whole, or else field by field
/// (the fields that do not fit get their defaults). Returns the settings and the names of the
/// fields that were dropped.
pub fn read(mut value: Value) -> (Settings, Vec<String>) {
    migrate(&mut value);
    if let Ok(settings) = serde_json::from_value(value.clone()) {
        return (settings, Vec::new());
    }
    let Value::Object(fields) = value else {
        return (
            Settings::default(),
            vec!["(the file is not a JSON object)".into()],
        );
    };
    let mut kept = match serde_json::to_value(Settings::default()) {
        Ok(Value::Object(defaults)) => defaults,
        _ => Map::new(),
    };
    let mut dropped = Vec::new();
    for (name, field) in fields {
        let mut trial = kept.clone();
        trial.insert(name.clone(), field.clone());
        if serde_json::from_value::<Settings>(Value::Object(trial)).is_ok() {
            kept.insert(name, field);
        } else {
            dropped.push(name);
        }
    }
    let settings = serde_json::from_value(Value::Object(kept)).unwrap_or_default();
    (settings, dropped)
}

/// Rewrites older shapes in place:
/// - the AMQP editor had a struct of its own (headers as `key`/`value`, the body as text,
///   properties under `more`, the order form and *Publish many* inside it); it is now the
///   engine's saved publish, with `order` and `amqp_many` beside it (also in each request tab).
pub fn migrate(value: &mut Value) {
    let Some(root) = value.as_object_mut() else {
        return;
    };
    if let Some((order, many)) = root.get_mut("amqp").and_then(legacy_amqp) {
        root.entry("order").or_insert(order);
        if let Some(many) = many {
            root.entry("amqp_many").or_insert(many);
        }
    }
    if let Some(Value::Array(tabs)) = root.get_mut("tabs") {
        for tab in tabs.iter_mut().filter_map(Value::as_object_mut) {
            if let Some((order, _)) = tab.get_mut("amqp").and_then(legacy_amqp) {
                tab.entry("order").or_insert(order);
            }
        }
    }
}

/// An AMQP editor of the old shape, rewritten as a saved publish; returns its order form and
/// its *Publish many* form (when it had one). `None`: not the old shape.
fn legacy_amqp(amqp: &mut Value) -> Option<(Value, Option<Value>)> {
    let e = amqp.as_object_mut()?;
    if !["order_url", "order_body", "many_count", "more"]
        .iter()
        .any(|k| e.contains_key(*k))
    {
        return None;
    }
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
    if let Some(Value::Array(rows)) = e.get_mut("headers") {
        for row in rows.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(key) = row.remove("key") {
                row.entry("name").or_insert(key);
            }
        }
    }
    match e.remove("body") {
        Some(Value::String(text)) => {
            if let Some(Ok(body)) =
                crate::engine::fields::SavedBody::from_text(&text).map(serde_json::to_value)
            {
                e.insert("body".into(), body);
            }
        }
        Some(other) => {
            e.insert("body".into(), other);
        }
        None => {}
    }
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
            "amqp": legacy_editor(),
            "tabs": [{"transport": "Amqp", "amqp": legacy_editor()}],
        });
        let (s, dropped) = read(file);
        assert!(dropped.is_empty(), "{dropped:?}");
        assert_eq!(s.timeout_secs, 4.0);
        for (a, order) in [(&s.amqp, &s.order), (&s.tabs[0].amqp, &s.tabs[0].order)] {
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
        assert_eq!(s.amqp_many.count, 40);
        assert_eq!(s.amqp_many.rate, 5.0);
        assert!(!s.amqp_many.numbered);
        assert_eq!(s.transport, super::super::TransportTab::Http);
        assert_eq!(s.tabs[0].transport, super::super::TransportTab::Amqp);
    }

    #[test]
    fn a_field_that_does_not_fit_costs_only_itself() {
        let file = serde_json::json!({
            "timeout_secs": 4.0,
            "dark_mode": false,
            "amqp": {"url": 7},
            "layout": "Sideways",
        });
        let (s, mut dropped) = read(file);
        dropped.sort();
        assert_eq!(dropped, ["amqp", "layout"]);
        assert_eq!(s.timeout_secs, 4.0);
        assert!(!s.dark_mode);
        assert_eq!(s.amqp, Settings::default().amqp);
        // Today's shape is read as it is.
        let now = serde_json::to_value(&s).unwrap();
        assert_eq!(read(now), (s, Vec::new()));
    }
}
