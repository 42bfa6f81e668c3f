//! The filter typed above a viewer's message list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::engine::amqp::Properties;
use switchboard::engine::store::{Filter, MessageStore};
use switchboard::engine::watch::WatchedMessage;

fn message(body: &[u8], header: Option<(&str, serde_json::Value)>) -> WatchedMessage {
    let mut headers = serde_json::Map::new();
    if let Some((k, v)) = header {
        headers.insert(k.to_string(), v);
    }
    let properties = Properties {
        content_type: Some("application/json".to_string()),
        ..Properties::default()
    };
    WatchedMessage {
        received_at_ms: 1,
        ..WatchedMessage::amqp(
            "orders",
            "order.created",
            false,
            &properties,
            headers,
            body.to_vec(),
        )
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let filter = Filter::parse(text);
    let _ = filter.is_empty();
    let mut st = MessageStore::with_capacity(8);
    st.push(message(br#"{"id": 1, "total": 9.5}"#, None));
    st.push(message(b"\xff\x00binary", Some(("kind", "order".into()))));
    st.push(message(text.as_bytes(), Some(("n", serde_json::json!(3)))));
    st.push_gap(2, "connection lost");
    st.push(message(
        b"",
        Some(("nested", serde_json::json!({"a": [1, null]}))),
    ));
    let _ = st.matching_from(0, &filter);
});
