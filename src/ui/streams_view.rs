//! The NATS streams browser (in *Messages*, broker NATS): the server's JetStream streams with
//! their subjects, counts and sequences, and each stream's consumers (pending, ack pending,
//! redelivered). *Tap* / *Peek* put a stream into the watch form.

use egui::RichText;

use crate::engine::nats::streams::{KvEntry, StreamSummary};
use crate::engine::nats::watch::{NatsWatch, NatsWatchMode};
use crate::ui::backend::BackendError;

/// What the browser shows.
#[derive(Debug, Default)]
pub struct StreamsBrowser {
    /// The last listing (or why it failed), and the server it came from.
    pub listed: Option<(String, Result<Vec<StreamSummary>, BackendError>)>,
    pub loading: bool,
    /// The key-value form: bucket, key, value to put.
    pub kv_bucket: String,
    pub kv_key: String,
    pub kv_value: String,
    /// The last key-value answer: what was asked, and the entries (or why not).
    pub kv_result: Option<(String, Result<Vec<KvEntry>, BackendError>)>,
}

/// What the browser asks the backend for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamsAction {
    List(String),
    Kv(KvAsk),
}

/// A key-value request from the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvAsk {
    pub url: String,
    pub bucket: String,
    pub key: String,
    /// `Some(value)`: put it; `None` with `history`: every revision; else: get.
    pub put: Option<String>,
    pub history: bool,
}

impl KvAsk {
    pub fn describe(&self) -> String {
        match (&self.put, self.history) {
            (Some(_), _) => format!("put {}/{}", self.bucket, self.key),
            (None, true) => format!("history of {}/{}", self.bucket, self.key),
            (None, false) => format!("get {}/{}", self.bucket, self.key),
        }
    }
}

/// Draws the browser; returns what to ask the server for (a listing, a key-value request).
pub fn streams_ui(
    ui: &mut egui::Ui,
    b: &mut StreamsBrowser,
    form: &mut NatsWatch,
) -> Option<StreamsAction> {
    let mut list = None;
    egui::CollapsingHeader::new("Streams")
        .id_salt("nats-streams")
        .default_open(false)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(!b.loading, egui::Button::new("List streams"))
                    .on_hover_text("Ask the server for its JetStream streams and their consumers")
                    .clicked()
                {
                    b.loading = true;
                    list = Some(StreamsAction::List(form.url.trim().to_string()));
                }
                if b.loading {
                    ui.spinner();
                }
                if let Some((url, _)) = &b.listed {
                    ui.label(RichText::new(format!("from {url}")).weak().small());
                }
            });
            match &b.listed {
                None => {}
                Some((_, Err(e))) => {
                    ui.colored_label(ui.visuals().error_fg_color, e.to_string());
                }
                Some((_, Ok(streams))) if streams.is_empty() => {
                    ui.label("No streams on this server.");
                }
                Some((_, Ok(streams))) => {
                    let mut picked = None;
                    egui::ScrollArea::vertical()
                        .id_salt("nats-streams-scroll")
                        .max_height(220.0)
                        .show(ui, |ui| {
                            for s in streams {
                                if stream_row(ui, s, form) {
                                    picked = s.kv_bucket.clone();
                                }
                            }
                        });
                    if let Some(bucket) = picked {
                        b.kv_bucket = bucket;
                    }
                }
            }
            if let Some(ask) = kv_ui(ui, b, &form.url) {
                list = Some(StreamsAction::Kv(ask));
            }
        });
    list
}

/// The key-value form: get, history and put of one key of a bucket.
fn kv_ui(ui: &mut egui::Ui, b: &mut StreamsBrowser, url: &str) -> Option<KvAsk> {
    let mut ask = None;
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Key-value").strong());
        for (label, value, hint, width) in [
            ("Bucket", &mut b.kv_bucket, "config", 110.0),
            ("Key", &mut b.kv_key, "feature.x", 120.0),
            ("Value", &mut b.kv_value, "(for put)", 140.0),
        ] {
            let l = ui.label(label);
            ui.add(
                egui::TextEdit::singleline(value)
                    .hint_text(hint)
                    .desired_width(width),
            )
            .labelled_by(l.id);
        }
        let ready = !b.kv_bucket.trim().is_empty() && !b.kv_key.trim().is_empty();
        let base = |put: Option<String>, history: bool| KvAsk {
            url: url.trim().to_string(),
            bucket: b.kv_bucket.trim().to_string(),
            key: b.kv_key.trim().to_string(),
            put,
            history,
        };
        if ui.add_enabled(ready, egui::Button::new("Get")).clicked() {
            ask = Some(base(None, false));
        }
        if ui
            .add_enabled(ready, egui::Button::new("Key history"))
            .clicked()
        {
            ask = Some(base(None, true));
        }
        if ui.add_enabled(ready, egui::Button::new("Put")).clicked() {
            ask = Some(base(Some(b.kv_value.clone()), false));
        }
    });
    match &b.kv_result {
        None => {}
        Some((what, Err(e))) => {
            ui.colored_label(ui.visuals().error_fg_color, format!("{what}: {e}"));
        }
        Some((what, Ok(entries))) if entries.is_empty() => {
            ui.label(format!("{what}: no such key"));
        }
        Some((what, Ok(entries))) => {
            ui.label(RichText::new(what).weak());
            for e in entries {
                let value = match (&e.value, &e.value_base64) {
                    (Some(text), _) => text.clone(),
                    (None, Some(b64)) => format!("(binary, base64) {b64}"),
                    (None, None) => String::new(),
                };
                ui.label(
                    RichText::new(format!("rev {} {}: {value}", e.revision, e.operation))
                        .monospace(),
                );
            }
        }
    }
    ask
}

/// One stream; true when its key-value bucket was picked for the key-value form.
fn stream_row(ui: &mut egui::Ui, s: &StreamSummary, form: &mut NatsWatch) -> bool {
    let mut picked = false;
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(&s.name).strong().monospace());
        if let Some(bucket) = &s.kv_bucket
            && ui
                .small_button(format!("key-value bucket {bucket}"))
                .on_hover_text(
                    "Use this bucket in the key-value form below; Tap watches its changes",
                )
                .clicked()
        {
            picked = true;
        }
        ui.label(RichText::new(s.subjects.join(", ")).monospace());
        ui.label(format!(
            "{} messages · {} B · seq {}..{}",
            s.messages, s.bytes, s.first_seq, s.last_seq
        ));
        if ui
            .small_button("Tap")
            .on_hover_text("Watch this stream from its first message (ordered consumer, no acks)")
            .clicked()
        {
            form.mode = NatsWatchMode::StreamTap;
            form.stream = s.name.clone();
            form.subject.clear();
            form.from = "all".to_string();
        }
        if ui
            .small_button("Peek")
            .on_hover_text("Read its first messages by sequence")
            .clicked()
        {
            form.mode = NatsWatchMode::Peek;
            form.stream = s.name.clone();
            form.subject.clear();
            form.from = format!("seq:{}", s.first_seq.max(1));
        }
    });
    for c in &s.consumers {
        ui.label(
            RichText::new(format!(
                "    {} {}: {} pending, {} ack pending, {} redelivered, delivered up to seq {}",
                if c.durable { "durable" } else { "ephemeral" },
                c.name,
                c.num_pending,
                c.num_ack_pending,
                c.num_redelivered,
                c.delivered_stream_seq
            ))
            .small(),
        );
    }
    ui.separator();
    picked
}
