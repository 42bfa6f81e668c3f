//! One side of an exchange: status line, headers (and trailers), body as pretty JSON (a
//! collapsible tree when large), text, or hex; sizes; copy buttons.

use egui::RichText;

use crate::engine::payload::hex_dump;
use crate::engine::{BodyView, Header, Message};

/// Bodies longer than this many pretty-printed lines are shown as a collapsible tree.
const TREE_THRESHOLD_LINES: usize = 60;
/// Bodies larger than this are shown as their start only.
const LARGE_BODY_BYTES: usize = 64 * 1024;
/// At most this much of a binary body is hex-dumped on screen.
const HEX_LIMIT_BYTES: usize = 64 * 1024;

pub fn message_ui(
    ui: &mut egui::Ui,
    id: &str,
    title: &str,
    transport: crate::engine::Transport,
    message: Option<&Message>,
) {
    ui.push_id(id, |ui| {
        ui.horizontal(|ui| {
            ui.heading(title);
            if let Some(m) = message {
                ui.label(RichText::new(format!("{} B body", m.size_bytes)).weak());
            }
        });
        let Some(message) = message else {
            ui.label(RichText::new("(no response)").weak());
            return;
        };
        if !message.line.is_empty() {
            // Wraps inside its column (an AMQP publish line is long) instead of running into
            // the other side.
            ui.horizontal_wrapped(|ui| {
                ui.add(egui::Label::new(RichText::new(&message.line).monospace().strong()).wrap());
                if ui
                    .small_button("Copy")
                    .on_hover_text("Copy the status line")
                    .clicked()
                {
                    ui.ctx().copy_text(message.line.clone());
                }
            });
        }
        // An AMQP message's list holds its properties first, then its headers.
        let headers_title = match transport {
            crate::engine::Transport::Amqp => "Properties and headers",
            _ => "Headers",
        };
        headers_ui(ui, headers_title, &message.headers);
        if !message.trailers.is_empty() {
            headers_ui(ui, "Trailers", &message.trailers);
        }
        body_ui(ui, &message.body, message.size_bytes);
    });
}

pub fn headers_ui(ui: &mut egui::Ui, title: &str, headers: &[Header]) {
    egui::CollapsingHeader::new(format!("{title} ({})", headers.len()))
        .default_open(headers.len() <= 8)
        .show(ui, |ui| {
            // Long values wrap within the column instead of running past its edge.
            let width = ui.available_width();
            egui::Grid::new(title)
                .num_columns(2)
                .striped(true)
                .max_col_width((width * 0.62).max(80.0))
                .show(ui, |ui| {
                    for h in headers {
                        ui.label(RichText::new(&h.name).monospace().weak());
                        let value = match readable_timestamp(&h.name, &h.value) {
                            Some(when) => format!("{} ({when})", h.value),
                            None => h.value.clone(),
                        };
                        ui.add(egui::Label::new(RichText::new(value).monospace()).wrap());
                        ui.end_row();
                    }
                });
            if !headers.is_empty() && ui.small_button("Copy headers").clicked() {
                let text: Vec<String> = headers
                    .iter()
                    .map(|h| format!("{}: {}", h.name, h.value))
                    .collect();
                ui.ctx().copy_text(text.join("\n"));
            }
        });
}

/// An AMQP `timestamp` property (seconds since the epoch) as a UTC date and time.
fn readable_timestamp(name: &str, value: &str) -> Option<String> {
    if name != "timestamp" {
        return None;
    }
    let secs: i64 = value.parse().ok()?;
    let t = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
    Some(format!(
        "{} {:02}:{:02}:{:02} UTC",
        t.date(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// A body: its kind, a copy button, and pretty JSON / a JSON tree / text / a hex dump.
pub fn body_ui(ui: &mut egui::Ui, body: &crate::engine::Body, size_bytes: u64) {
    if body.bytes.len() > LARGE_BODY_BYTES {
        // Parsing and laying out megabytes every frame would stall the window: show the start.
        ui.horizontal(|ui| {
            ui.label(
                RichText::new(format!(
                    "Body · {} bytes, the first {} KiB shown",
                    body.bytes.len(),
                    LARGE_BODY_BYTES / 1024
                ))
                .strong(),
            );
            if ui.small_button("Copy body").clicked() {
                ui.ctx()
                    .copy_text(String::from_utf8_lossy(&body.bytes).into_owned());
            }
        });
        let head = &body.bytes[..LARGE_BODY_BYTES];
        match std::str::from_utf8(head) {
            Ok(text) => code_ui(ui, text),
            Err(e) if e.valid_up_to() > head.len() - 4 => {
                code_ui(ui, &String::from_utf8_lossy(&head[..e.valid_up_to()]))
            }
            Err(_) => code_ui(ui, &hex_dump(&head[..head.len().min(HEX_LIMIT_BYTES)])),
        }
        return;
    }
    let view = body.view();
    let kind = match &view {
        BodyView::Empty => "empty",
        BodyView::Json(_) => "JSON",
        BodyView::Text(_) => "text",
        BodyView::Binary => "binary",
    };
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("Body · {kind}")).strong());
        if body.truncated {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("truncated: {} of {size_bytes} B kept", body.bytes.len()),
            );
        }
        if !body.is_empty() && ui.small_button("Copy body").clicked() {
            ui.ctx().copy_text(body.display_text());
        }
    });
    match view {
        BodyView::Empty => {
            ui.label(RichText::new("(no body)").weak());
        }
        BodyView::Json(value) => {
            let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
            if pretty.lines().count() > TREE_THRESHOLD_LINES {
                json_tree_ui(ui, "$", &value, true);
            } else {
                code_ui(ui, &pretty);
            }
        }
        BodyView::Text(text) => code_ui(ui, &text),
        BodyView::Binary => {
            let bytes = &body.bytes;
            let shown = &bytes[..bytes.len().min(HEX_LIMIT_BYTES)];
            code_ui(ui, &hex_dump(shown));
            if bytes.len() > shown.len() {
                ui.label(
                    RichText::new(format!(
                        "… {} more bytes (copy to get them all)",
                        bytes.len() - shown.len()
                    ))
                    .weak(),
                );
            }
        }
    }
}

fn code_ui(ui: &mut egui::Ui, text: &str) {
    let mut text = text;
    ui.add(
        egui::TextEdit::multiline(&mut text)
            .code_editor()
            .desired_width(f32::INFINITY)
            .desired_rows(1),
    );
}

/// A JSON value as nested collapsing headers.
fn json_tree_ui(ui: &mut egui::Ui, key: &str, value: &serde_json::Value, open: bool) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            egui::CollapsingHeader::new(format!("{key} {{{}}}", map.len()))
                .id_salt(ui.next_auto_id())
                .default_open(open)
                .show(ui, |ui| {
                    for (k, v) in map {
                        json_tree_ui(ui, k, v, false);
                    }
                });
        }
        Value::Array(items) => {
            egui::CollapsingHeader::new(format!("{key} [{}]", items.len()))
                .id_salt(ui.next_auto_id())
                .default_open(open)
                .show(ui, |ui| {
                    for (i, v) in items.iter().enumerate() {
                        json_tree_ui(ui, &i.to_string(), v, false);
                    }
                });
        }
        leaf => {
            ui.label(RichText::new(format!("{key}: {leaf}")).monospace());
        }
    }
}

/// `text` cut to `max_chars` characters, an ellipsis marking the cut.
pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        let mut out: String = text.chars().take(max_chars - 1).collect();
        out.push('…');
        out
    }
}
