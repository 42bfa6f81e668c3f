//! A viewer's "Import JSONL" (the `watch --json` shape), then what the viewer does with it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::engine::store::{self, Entry, Filter, MessageStore};
use switchboard::engine::watch::WatchedMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(messages) = store::import_jsonl(data) else {
        return;
    };
    let mut st = MessageStore::with_capacity(16);
    for m in &messages {
        // Exports re-import byte for byte.
        let line = serde_json::to_string(m).expect("a message serializes");
        let back = WatchedMessage::from_json(&line).expect("an export re-imports");
        assert_eq!(back.body.bytes, m.body.bytes, "{line}");
        let _ = m.body.preview_text();
        st.push(m.clone());
    }
    let stored: Vec<_> = st
        .iter()
        .filter_map(|e| match e {
            Entry::Message(m) => Some(m),
            Entry::Gap(_) => None,
        })
        .collect();
    let skipped = messages.len() - stored.len();
    for (m, original) in stored.iter().zip(&messages[skipped..]) {
        // The viewer shows what was imported.
        assert_eq!(m.to_watched().fields, original.fields);
        let _ = m.body().display_text();
    }
    let mut out = Vec::new();
    store::export_jsonl(stored.iter().map(|m| m.to_watched()), &mut out)
        .expect("export to memory");
    let filter = Filter::parse("a=b order");
    let _ = st.matching_from(0, &filter);
});
