//! A viewer tab's message table (virtualized, sortable, live tail) and the detail pane of the selected message.

use super::*;

/// A column's starting width.
fn column_width(key: SortKey) -> f32 {
    match key {
        SortKey::Time => 96.0,
        SortKey::Source => 110.0,
        SortKey::Size => 70.0,
        SortKey::Redelivered => 80.0,
        SortKey::Key | SortKey::Field(_) => 130.0,
    }
}

/// The message table's columns' starting widths: every column of `transport`, then the body.
pub(super) fn column_widths(transport: Transport) -> Vec<f32> {
    let mut widths: Vec<f32> = columns(transport)
        .into_iter()
        .map(|(key, _)| column_width(key))
        .collect();
    widths.push(160.0);
    widths
}

/// The width the message table needs to show every column at its starting width.
pub(super) fn table_width(transport: Transport, spacing: f32) -> f32 {
    let widths = column_widths(transport);
    widths.iter().sum::<f32>() + spacing * widths.len() as f32 + 16.0
}

pub(super) fn table_ui(ui: &mut egui::Ui, tab: &mut ViewerTab, height: f32) {
    let mut clicked_header = None;
    let mut clicked_row = None;
    let rows = tab.view.len();
    let newest_first = tab.newest_first;
    let mut builder = TableBuilder::new(ui)
        .id_salt(("messages", tab.id, newest_first))
        .striped(true)
        .resizable(true)
        .sense(egui::Sense::click())
        .stick_to_bottom(tab.live_tail && !newest_first)
        .min_scrolled_height(height)
        .max_scroll_height(height);
    let table_columns: Vec<(SortKey, &'static str)> = columns(tab.transport)
        .into_iter()
        .filter(|(key, _)| !tab.hidden.contains(key))
        .collect();
    for (key, _) in &table_columns {
        let w = column_width(*key);
        builder = builder.column(if *key == SortKey::Time {
            Column::exact(w)
        } else {
            Column::initial(w).clip(true)
        });
    }
    // The body's first characters: what most users scan a queue for.
    builder = builder.column(Column::remainder().at_least(160.0).clip(true));
    if tab.scroll_to_end && rows > 0 {
        builder = if newest_first {
            builder.scroll_to_row(0, Some(egui::Align::TOP))
        } else {
            builder.scroll_to_row(rows - 1, Some(egui::Align::BOTTOM))
        };
        tab.scroll_to_end = false;
    }
    let output = builder
        .header(20.0, |mut header| {
            for &(key, name) in &table_columns {
                header.col(|ui| {
                    let arrow = match tab.sort {
                        Some((k, true)) if k == key => " ^",
                        Some((k, false)) if k == key => " v",
                        _ => "",
                    };
                    if ui
                        .button(RichText::new(format!("{name}{arrow}")).strong())
                        .on_hover_text("Sort")
                        .clicked()
                    {
                        clicked_header = Some(key);
                    }
                });
            }
            header.col(|ui| {
                ui.label(RichText::new("body").strong());
            });
        })
        .body(|body| {
            body.rows(18.0, rows, |mut row| {
                let index = if newest_first {
                    rows - 1 - row.index()
                } else {
                    row.index()
                };
                let Some(seq) = tab.view.get(index) else {
                    return;
                };
                row.set_selected(tab.selected == Some(seq));
                match tab.store.get(seq) {
                    Some(Entry::Message(m)) => {
                        let fields = m.fields();
                        let cells = table_columns
                            .iter()
                            .map(|(key, _)| cell_text(&m, *key, &fields));
                        for cell in cells.chain(std::iter::once(body_preview(m.body))) {
                            row.col(|ui| {
                                ui.add(
                                    egui::Label::new(RichText::new(cell).monospace().size(12.0))
                                        .selectable(false)
                                        .truncate(),
                                );
                            });
                        }
                    }
                    Some(Entry::Gap(g)) => {
                        row.col(|ui| {
                            ui.add(
                                egui::Label::new(
                                    RichText::new(format_time(g.at_ms)).monospace().size(12.0),
                                )
                                .selectable(false),
                            );
                            // The note spans the row: paint it past this cell's clip.
                            let cell = ui.max_rect();
                            let clip = egui::Rect::from_x_y_ranges(
                                cell.left()..=f32::INFINITY,
                                ui.clip_rect().y_range(),
                            );
                            let painter =
                                ui.ctx().layer_painter(ui.layer_id()).with_clip_rect(clip);
                            painter.text(
                                egui::pos2(cell.right() + 8.0, cell.center().y),
                                egui::Align2::LEFT_CENTER,
                                format!("-- gap -- {}", g.reason),
                                egui::FontId::proportional(12.0),
                                ui.visuals().warn_fg_color,
                            );
                        });
                        for _ in 0..table_columns.len() {
                            row.col(|_| {});
                        }
                    }
                    None => {}
                }
                if row.response().clicked() {
                    clicked_row = Some(seq);
                }
            });
        });
    // The user scrolled up (the offset went back; stick-to-bottom and jumps only move it
    // forward): pause the live tail, and count what arrives meanwhile.
    // Newest first: the live end is the top, so scrolling down is what pauses it.
    let offset = output.state.clamped_offset().y;
    let left_the_live_end = if newest_first {
        offset > 1.0 && offset > tab.last_offset
    } else {
        offset + 1.0 < tab.last_offset
    };
    if tab.live_tail && left_the_live_end {
        tab.live_tail = false;
        tab.new_since_pause = 0;
    }
    tab.last_offset = offset;
    if let Some(seq) = clicked_row {
        tab.selected = Some(seq);
    }
    if let Some(key) = clicked_header {
        tab.sort = match tab.sort {
            Some((k, true)) if k == key => Some((key, false)),
            Some((k, false)) if k == key && key == SortKey::Time => None,
            _ => Some((key, true)),
        };
        if tab.sort == Some((SortKey::Time, true)) {
            tab.sort = None;
        }
        tab.view.list().sort_unstable();
        tab.sort_dirty = tab.sort.is_some();
    }
}

/// A one-line preview of a body: its first characters with line breaks and control
/// characters shown as spaces, or what it is when it is not text.
pub fn body_preview(body: &[u8]) -> String {
    const CHARS: usize = 160;
    if body.is_empty() {
        return "(empty)".to_string();
    }
    let head = &body[..body.len().min(CHARS * 4)];
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // A multi-byte character cut at the end of the head is still text.
        Err(e) if e.valid_up_to() + 4 > head.len() && e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return format!("(binary, {})", format_bytes(body.len() as u64)),
    };
    let mut out = String::with_capacity(CHARS);
    let mut last_space = false;
    for c in text.chars().take(CHARS) {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
    }
    out
}

/// What *Copy as JSON* copies: the message's `watch --json` line, with its credentials
/// masked unless `in_clear`.
pub fn copy_json(m: &StoredMessage, in_clear: bool) -> String {
    use crate::engine::credentials::Redact;
    let mut message = m.to_watched();
    if !in_clear {
        message.redact();
    }
    serde_json::to_string(&message).unwrap_or_default()
}

pub(super) fn detail_ui(ui: &mut egui::Ui, m: &StoredMessage, copy_in_clear: bool) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("#{}", m.seq)).strong());
        ui.label(
            RichText::new(format!(
                "{} -> {}",
                match (m.source.is_empty(), m.transport) {
                    (false, _) => m.source,
                    (true, Transport::Amqp) => "(default)",
                    (true, _) => "(core)",
                },
                m.key
            ))
            .monospace(),
        );
        ui.label(format!("received {}", format_time(m.received_at_ms)));
        if m.redelivered {
            ui.colored_label(ui.visuals().warn_fg_color, "redelivered");
        }
        ui.label(RichText::new(format!("{} B", m.body.len())).weak());
        if ui.small_button("Copy as JSON").clicked() {
            ui.ctx().copy_text(copy_json(m, copy_in_clear));
        }
    });
    ui.columns(2, |cols| {
        let named = |map: Named| -> Vec<Header> {
            map.iter()
                .map(|(k, v)| Header::new(k.clone(), text_of(v)))
                .collect()
        };
        let fields_heading = match m.transport {
            Transport::Amqp | Transport::Http | Transport::Grpc => "Properties",
            Transport::Nats => "Subject, reply and stream",
            Transport::Kafka => "Partition, offset and timestamp",
        };
        headers_ui(&mut cols[0], fields_heading, &named(m.fields()));
        let headers = named(m.headers());
        headers_ui(&mut cols[1], "Headers", &headers);
    });
    body_ui(ui, &m.body(), m.body.len() as u64);
}
