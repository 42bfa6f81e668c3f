//! Messages as proto3 JSON, even when part of one cannot be: prost-reflect refuses a whole
//! message when an `Any` inside it names a type the descriptors do not know. Here the rest is
//! rendered as usual and each such `Any` becomes `{"@type": URL, "value": BASE64}`, with a note
//! saying so.

use base64::Engine as _;
use prost_reflect::{DynamicMessage, MapKey, ReflectMessage as _, SerializeOptions, Value};
use serde_json::{Map, Value as Json, json};

/// A message rendered as JSON text, with what could not be rendered as the mapping says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rendered {
    pub json: String,
    /// One line per part shown otherwise (an `Any` of a type not in the descriptors).
    pub notes: Vec<String>,
}

fn options() -> SerializeOptions {
    SerializeOptions::new().skip_default_fields(false)
}

/// Proto3 JSON keeping fields that have their default value; unknown `Any` types shown as
/// their type URL and base64 bytes (see [`Rendered::notes`]).
pub fn render(message: &DynamicMessage) -> Rendered {
    // Room for a small message's JSON from the start: grown from nothing, the text is copied
    // four or five times on the way (the body keeps the capacity it ends with either way).
    let mut out = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::new(&mut out);
    if message
        .serialize_with_options(&mut serializer, &options())
        .is_ok()
    {
        return Rendered {
            json: String::from_utf8(out).unwrap_or_default(),
            notes: Vec::new(),
        };
    }
    let mut notes = Vec::new();
    match to_value(message, &mut notes) {
        Ok(value) => Rendered {
            json: value.to_string(),
            notes,
        },
        Err(e) => Rendered {
            json: json!({ "error": format!("cannot render message: {e}") }).to_string(),
            notes,
        },
    }
}

fn plain(message: &DynamicMessage) -> Result<Json, String> {
    message
        .serialize_with_options(serde_json::value::Serializer, &options())
        .map_err(|e| e.to_string())
}

fn to_value(message: &DynamicMessage, notes: &mut Vec<String>) -> Result<Json, String> {
    let first_error = match plain(message) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let descriptor = message.descriptor();
    if descriptor.full_name() == "google.protobuf.Any" {
        return any_value(message, notes);
    }
    // The fields that cannot be rendered are taken out, the rest rendered as usual, and those
    // put back one by one, in place.
    let mut rest = message.clone();
    let mut unrenderable = Vec::new();
    for (field, value) in message.fields() {
        if !renders(value) {
            unrenderable.push(field.clone());
            rest.clear_field(&field);
        }
    }
    if unrenderable.is_empty() {
        return Err(first_error);
    }
    let Json::Object(mut map) = plain(&rest)? else {
        return Err(first_error);
    };
    for field in unrenderable {
        let value = value_json(&message.get_field(&field), notes)?;
        map.insert(field.json_name().to_string(), value);
    }
    Ok(Json::Object(map))
}

/// An `Any`: its payload rendered when its type is known, else its URL and base64 bytes.
fn any_value(message: &DynamicMessage, notes: &mut Vec<String>) -> Result<Json, String> {
    let raw: prost_types::Any = message.transcode_to().map_err(|e| e.to_string())?;
    let name = raw.type_url.rsplit('/').next().unwrap_or_default();
    let Some(inner) = message.descriptor().parent_pool().get_message_by_name(name) else {
        notes.push(format!(
            "google.protobuf.Any of unknown type {:?} ({} bytes): shown as its type URL and base64 value",
            raw.type_url,
            raw.value.len()
        ));
        return Ok(json!({
            "@type": raw.type_url,
            "value": base64::engine::general_purpose::STANDARD.encode(&raw.value),
        }));
    };
    let payload =
        DynamicMessage::decode(inner.clone(), raw.value.as_slice()).map_err(|e| e.to_string())?;
    let value = to_value(&payload, notes)?;
    Ok(match value {
        Json::Object(fields) if !inner.full_name().starts_with("google.protobuf.") => {
            let mut map = Map::new();
            map.insert("@type".to_string(), Json::String(raw.type_url));
            map.extend(fields);
            Json::Object(map)
        }
        other => json!({ "@type": raw.type_url, "value": other }),
    })
}

/// Whether a field value renders (only messages can fail).
fn renders(value: &Value) -> bool {
    match value {
        Value::Message(m) => plain(m).is_ok(),
        Value::List(items) => items.iter().all(renders),
        Value::Map(entries) => entries.values().all(renders),
        _ => true,
    }
}

fn value_json(value: &Value, notes: &mut Vec<String>) -> Result<Json, String> {
    Ok(match value {
        Value::Message(m) => to_value(m, notes)?,
        Value::List(items) => Json::Array(
            items
                .iter()
                .map(|item| value_json(item, notes))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(entries) => {
            let mut map = Map::new();
            for (key, item) in entries {
                map.insert(map_key(key), value_json(item, notes)?);
            }
            Json::Object(map)
        }
        Value::Bool(b) => json!(b),
        Value::I32(n) => json!(n),
        Value::U32(n) => json!(n),
        Value::I64(n) => json!(n.to_string()),
        Value::U64(n) => json!(n.to_string()),
        Value::F32(n) => json!(n),
        Value::F64(n) => json!(n),
        Value::String(s) => json!(s),
        Value::Bytes(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::EnumNumber(n) => json!(n),
    })
}

fn map_key(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}
