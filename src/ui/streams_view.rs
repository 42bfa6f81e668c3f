//! The NATS streams browser (in *Messages*, broker NATS): the server's JetStream streams with
//! their subjects, counts and sequences, and each stream's consumers (pending, ack pending,
//! redelivered). *Tap* / *Peek* put a stream into the watch form.

use egui::RichText;

use crate::engine::nats::streams::StreamSummary;
use crate::engine::nats::watch::{NatsWatch, NatsWatchMode};

/// What the browser shows.
#[derive(Debug, Default)]
pub struct StreamsBrowser {
    /// The last listing (or why it failed), and the server it came from.
    pub listed: Option<(String, Result<Vec<StreamSummary>, String>)>,
    pub loading: bool,
}

/// Draws the browser; returns the server URL to list when *List streams* is pressed.
pub fn streams_ui(
    ui: &mut egui::Ui,
    b: &mut StreamsBrowser,
    form: &mut NatsWatch,
) -> Option<String> {
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
                    list = Some(form.url.trim().to_string());
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
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
                Some((_, Ok(streams))) if streams.is_empty() => {
                    ui.label("No streams on this server.");
                }
                Some((_, Ok(streams))) => {
                    egui::ScrollArea::vertical()
                        .id_salt("nats-streams-scroll")
                        .max_height(220.0)
                        .show(ui, |ui| {
                            for s in streams {
                                stream_row(ui, s, form);
                            }
                        });
                }
            }
        });
    list
}

fn stream_row(ui: &mut egui::Ui, s: &StreamSummary, form: &mut NatsWatch) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(&s.name).strong().monospace());
        if let Some(bucket) = &s.kv_bucket {
            ui.label(RichText::new(format!("key-value bucket {bucket}")).weak());
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
}
