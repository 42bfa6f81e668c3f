//! A message seen by a watch, whatever broker it came from: where it came from (an AMQP
//! exchange, a NATS subject or stream, a Kafka topic), its key (routing key, subject,
//! partition/offset), the transport's own fields (AMQP properties; later NATS reply-to and
//! stream sequence, Kafka timestamp…) and headers as ordered named values, and the body.
//!
//! The store, the filter, the viewer and JSON Lines export/import work from this one type; each
//! transport gives its JSON shape (`watch --json`) and its columns ([`Columns`]).

use serde::{Deserialize, Serialize};

use super::amqp::Properties;
use super::exchange::Transport;
use super::payload::Body;

/// An ordered map of named JSON values (serde_json keeps insertion order here).
pub type Named = serde_json::Map<String, serde_json::Value>;

/// A message seen by a watch.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchedMessage {
    pub transport: Transport,
    /// Receive time, milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    /// Where it came from: the exchange (AMQP).
    pub source: String,
    /// Its key: the routing key (AMQP).
    pub key: String,
    /// Delivered before (AMQP redelivered flag).
    pub redelivered: bool,
    /// The transport's own fields, in order (AMQP: the properties that are set).
    pub fields: Named,
    /// The message's headers, in order.
    pub headers: Named,
    pub body: Body,
}

/// The columns a transport adds to the message table, and what its source and key are called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    pub source: &'static str,
    pub key: &'static str,
    /// `(heading, field name)`.
    pub fields: &'static [(&'static str, &'static str)],
}

impl WatchedMessage {
    /// An AMQP delivery.
    pub fn amqp(
        exchange: impl Into<String>,
        routing_key: impl Into<String>,
        redelivered: bool,
        properties: &Properties,
        headers: Named,
        body: Vec<u8>,
    ) -> Self {
        Self {
            transport: Transport::Amqp,
            received_at_ms: super::recorder::unix_ms(),
            source: exchange.into(),
            key: routing_key.into(),
            redelivered,
            fields: property_fields(properties),
            headers,
            body: Body::new(body),
        }
    }

    pub fn size_bytes(&self) -> u64 {
        self.body.bytes.len() as u64
    }

    /// A field as text (`message_id`, `content_type`…).
    pub fn field(&self, name: &str) -> Option<String> {
        self.fields.get(name).map(text_of)
    }

    /// The AMQP properties (for republishing); unset ones are `None`.
    pub fn properties(&self) -> Properties {
        serde_json::from_value(serde_json::Value::Object(self.fields.clone())).unwrap_or_default()
    }

    /// The table columns of `transport`.
    pub fn columns(transport: Transport) -> Columns {
        match transport {
            Transport::Amqp | Transport::Http | Transport::Grpc => Columns {
                source: "exchange",
                key: "routing key",
                fields: &[
                    ("message id", "message_id"),
                    ("correlation id", "correlation_id"),
                    ("content type", "content_type"),
                ],
            },
        }
    }

    /// The `watch --json` shape of its transport.
    pub fn to_json(&self) -> serde_json::Value {
        let shape = AmqpJson {
            transport: Some(self.transport),
            received_at_ms: self.received_at_ms,
            exchange: self.source.clone(),
            routing_key: self.key.clone(),
            redelivered: self.redelivered,
            properties: self.properties(),
            headers: serde_json::Value::Object(self.headers.clone()),
            body: self.body.clone(),
            size_bytes: self.size_bytes(),
        };
        serde_json::to_value(shape).unwrap_or_default()
    }

    /// Reads a `watch --json` line of any transport (files without `transport` are AMQP's, as
    /// every export before there were other transports).
    pub fn from_json(line: &str) -> Result<Self, serde_json::Error> {
        let shape: AmqpJson = serde_json::from_str(line)?;
        Ok(Self {
            transport: shape.transport.unwrap_or(Transport::Amqp),
            received_at_ms: shape.received_at_ms,
            source: shape.exchange,
            key: shape.routing_key,
            redelivered: shape.redelivered,
            fields: property_fields(&shape.properties),
            headers: match shape.headers {
                serde_json::Value::Object(map) => map,
                _ => Named::new(),
            },
            body: shape.body,
        })
    }
}

impl Serialize for WatchedMessage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// AMQP properties as named fields: the set ones, in their order.
fn property_fields(properties: &Properties) -> Named {
    match serde_json::to_value(properties) {
        Ok(serde_json::Value::Object(map)) => {
            map.into_iter().filter(|(_, v)| !v.is_null()).collect()
        }
        _ => Named::new(),
    }
}

/// A JSON value as a table cell: strings without quotes.
pub fn text_of(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The AMQP message shape of `watch --json` (and of every JSONL export so far).
#[derive(Serialize, Deserialize)]
struct AmqpJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transport: Option<Transport>,
    received_at_ms: u64,
    exchange: String,
    routing_key: String,
    redelivered: bool,
    properties: Properties,
    headers: serde_json::Value,
    #[serde(flatten)]
    body: Body,
    size_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_amqp_message_keeps_its_json_shape_and_reads_old_files() {
        let properties = Properties {
            content_type: Some("application/json".into()),
            message_id: Some("m-1".into()),
            timestamp: Some(7),
            ..Properties::default()
        };
        let mut headers = Named::new();
        headers.insert("x-source".into(), "demo".into());
        let m = WatchedMessage::amqp(
            "orders",
            "order.created",
            true,
            &properties,
            headers,
            br#"{"a":1}"#.to_vec(),
        );
        assert_eq!(m.field("message_id").as_deref(), Some("m-1"));
        assert_eq!(m.field("timestamp").as_deref(), Some("7"));
        assert_eq!(m.properties(), properties);
        let json = serde_json::to_string(&m).unwrap();
        for key in [
            r#""transport":"amqp""#,
            r#""exchange":"orders""#,
            r#""routing_key":"order.created""#,
            r#""redelivered":true"#,
            r#""message_id":"m-1""#,
            r#""x-source":"demo""#,
            r#""size_bytes":7"#,
        ] {
            assert!(json.contains(key), "{key} in {json}");
        }
        assert_eq!(WatchedMessage::from_json(&json).unwrap(), m);
        // A line exported before messages had a transport.
        let old = r#"{"received_at_ms":1,"exchange":"orders","routing_key":"k","redelivered":false,"properties":{"content_type":"text/plain","content_encoding":null,"message_id":null,"correlation_id":null,"timestamp":null},"headers":{},"body":"hi","size_bytes":2}"#;
        let read = WatchedMessage::from_json(old).unwrap();
        assert_eq!(read.transport, Transport::Amqp);
        assert_eq!(read.field("content_type").as_deref(), Some("text/plain"));
        assert_eq!(read.fields.len(), 1);
        assert_eq!(read.body.bytes, b"hi");
    }
}
