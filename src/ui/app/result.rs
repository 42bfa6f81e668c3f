//! The result side: the selected exchange (waterfall, payloads side by side), pinned comparisons and load reports.

use super::*;

impl SwitchboardApp {
    pub(super) fn result_ui(&mut self, ui: &mut egui::Ui) {
        if self.history_view.compare && self.history_view.pinned.len() >= 2 {
            let mut cached = self.history_view.compare_diffs.take();
            let pinned: Vec<&Exchange> = self
                .history_view
                .pinned
                .iter()
                .filter_map(|seq| self.entry(*seq))
                .map(|e| &e.exchange)
                .collect();
            if pinned.len() >= 2 {
                if cached.as_ref().map(|(k, _)| k) != Some(&self.history_view.pinned) {
                    cached = Some((
                        self.history_view.pinned.clone(),
                        crate::engine::compare::differences(&pinned),
                    ));
                }
                let diffs = cached.as_ref().map_or(&[][..], |(_, d)| d);
                compare_ui(ui, &pinned, diffs);
            }
            self.history_view.compare_diffs = cached;
            return;
        }
        // Drawn from a borrow (an exchange can hold a 100,000-message stream): the pin toggle
        // is applied afterwards.
        let mut toggle_pin = None;
        let mut reopen = None;
        let Some(entry) = self.selected_entry() else {
            ui.add_space(20.0);
            ui.label(RichText::new("Send a request to see where its time goes.").weak());
            return;
        };
        let e = &entry.exchange;
        ui.horizontal_wrapped(|ui| {
            let color = if e.ok {
                Color32::from_rgb(0x5c, 0xb8, 0x5c)
            } else if was_cancelled(e) {
                ui.visuals().weak_text_color()
            } else {
                ui.visuals().error_fg_color
            };
            ui.label(
                RichText::new(e.outcome_label())
                    .color(color)
                    .strong()
                    .size(16.0),
            );
            ui.label(RichText::new(format!("{} {}", e.transport.label(), e.target)).monospace());
            ui.label(format!("total {}", format_us(e.total_us)));
            ui.label(
                RichText::new(format!(
                    "{} · received {} B",
                    e.sent_text(),
                    e.response.as_ref().map_or(0, |r| r.size_bytes)
                ))
                .weak(),
            );
            let pinned = self.history_view.pinned.contains(&entry.seq);
            if ui.selectable_label(pinned, "Pin").clicked() {
                toggle_pin = Some(entry.seq);
            }
            let copy_in_clear = self.settings.credentials.copy_in_clear;
            if ui
                .small_button("Copy as JSON")
                .on_hover_text(if copy_in_clear {
                    "Credentials are copied as sent (Settings)"
                } else {
                    "Credentials are masked (Settings can include them)"
                })
                .clicked()
            {
                ui.ctx().copy_text(if copy_in_clear {
                    e.to_json_line()
                } else {
                    e.redacted().to_json_line()
                });
            }
            if entry.request.is_some()
                && ui
                    .small_button("Open in editor")
                    .on_hover_text("Put the request that produced this exchange back in its editor")
                    .clicked()
            {
                reopen = entry.request.clone();
            }
        });
        ui.add_space(4.0);
        waterfall_ui(ui, &[("", e)]);
        ui.separator();
        ui.columns(2, |cols| {
            message_ui(
                &mut cols[0],
                "request",
                "Request",
                e.transport,
                Some(&e.request),
            );
            message_ui(
                &mut cols[1],
                "response",
                "Response",
                e.transport,
                e.response.as_ref(),
            );
        });
        if let Some(seq) = toggle_pin {
            self.toggle_pin(seq);
        }
        if let Some(request) = reopen {
            // A snapshot from the history, not the saved file: the editor is detached.
            self.collections
                .active
                .remove(&EditorKind::of(&request.spec));
            self.settings.apply_saved(&request);
            if crate::engine::credentials::is_redacted(&request) {
                self.outcomes.insert(
                    self.settings.editors.transport,
                    EditorOutcome::Failed(
                        "the history kept this request with its credentials masked (••••): type them again before sending".to_string(),
                    ),
                );
            }
        }
    }
}

/// Two exchanges: a summary table, their timelines on one axis, their payloads side by side.
/// Most exchanges compared at once (one order through RabbitMQ, NATS JetStream and Kafka).
pub(super) const MAX_PINS: usize = 3;

pub(super) fn compare_ui(
    ui: &mut egui::Ui,
    exchanges: &[&Exchange],
    diffs: &[crate::engine::compare::Difference],
) {
    const NAMES: [&str; MAX_PINS] = ["A", "B", "C"];
    let named: Vec<(&str, &Exchange)> = NAMES
        .iter()
        .copied()
        .zip(exchanges.iter().copied())
        .collect();
    ui.heading("Compare");
    // Long targets make the table wider than a narrow pane: it scrolls sideways, not clipped.
    egui::ScrollArea::horizontal()
        .id_salt("compare-summary-scroll")
        .show(ui, |ui| summary_grid(ui, &named));
    ui.add_space(6.0);
    differences_ui(ui, &named, diffs);
    ui.add_space(6.0);
    waterfall_ui(ui, &named);
    ui.separator();
    // Side by side when each payload gets room to be read; else one after another.
    let side_by_side = ui.available_width() / named.len() as f32 >= COMPARE_COLUMN_MIN;
    for (side, title) in [("response", "Response"), ("request", "Request")] {
        if side_by_side {
            ui.columns(named.len(), |cols| {
                for (col, (name, e)) in cols.iter_mut().zip(&named) {
                    message_ui(
                        col,
                        &format!("{name}-{side}"),
                        &format!("{name} · {title}"),
                        e.transport,
                        side_of(e, side == "request"),
                    );
                }
            });
        } else {
            for (name, e) in &named {
                message_ui(
                    ui,
                    &format!("{name}-{side}"),
                    &format!("{name} · {title}"),
                    e.transport,
                    side_of(e, side == "request"),
                );
                ui.add_space(4.0);
            }
        }
    }
}

/// The request, or the response if any, of `e`.
fn side_of(e: &Exchange, request: bool) -> Option<&crate::engine::Message> {
    if request {
        Some(&e.request)
    } else {
        e.response.as_ref()
    }
}

/// Whether the compare tables put each exchange's value on a line of its own (`A  value`)
/// instead of a column each: when the columns would be too narrow to read.
fn compare_stacked(ui: &egui::Ui, exchanges: usize) -> bool {
    ui.available_width() < 200.0 * (exchanges + 1) as f32
}

/// One cell holding every exchange's value, a line each, named A, B, C.
fn cells_stacked(
    ui: &mut egui::Ui,
    named: &[(&str, &Exchange)],
    values: impl Iterator<Item = Option<RichText>>,
) {
    ui.vertical(|ui| {
        for ((name, _), value) in named.iter().zip(values) {
            ui.horizontal(|ui| {
                ui.label(RichText::new(*name).strong());
                ui.add(
                    egui::Label::new(value.unwrap_or_else(|| RichText::new("(none)").weak()))
                        .wrap(),
                );
            });
        }
    });
}

/// The narrowest column a compared payload is shown side by side in.
const COMPARE_COLUMN_MIN: f32 = 260.0;

/// The compare table: target, status, total and sizes, one column per exchange.
fn summary_grid(ui: &mut egui::Ui, named: &[(&str, &Exchange)]) {
    let stacked = compare_stacked(ui, named.len());
    egui::Grid::new("compare-summary")
        .striped(true)
        .num_columns(if stacked { 2 } else { named.len() + 1 })
        .show(ui, |ui| {
            if !stacked {
                ui.label("");
                for (name, _) in named {
                    ui.label(RichText::new(*name).strong());
                }
                ui.end_row();
            }
            type Cell = Box<dyn Fn(&Exchange) -> String>;
            let rows: [(&str, Cell); 5] = [
                (
                    "target",
                    Box::new(|e: &Exchange| format!("{} {}", e.transport.label(), e.target)),
                ),
                ("status", Box::new(|e: &Exchange| e.status_text())),
                ("total", Box::new(|e: &Exchange| format_us(e.total_us))),
                (
                    "request body",
                    Box::new(|e: &Exchange| format!("{} B", e.request.size_bytes)),
                ),
                (
                    "response body",
                    Box::new(|e: &Exchange| {
                        format!("{} B", e.response.as_ref().map_or(0, |r| r.size_bytes))
                    }),
                ),
            ];
            let differ = ui.visuals().warn_fg_color;
            for (row, value) in rows {
                ui.label(RichText::new(row).weak());
                let values: Vec<String> = named.iter().map(|(_, e)| value(e)).collect();
                // A summary value that is not the same everywhere is highlighted (totals
                // always differ: not those).
                let same = row == "total" || values.windows(2).all(|w| w[0] == w[1]);
                let text = |v: &str| {
                    if same {
                        RichText::new(v)
                    } else {
                        RichText::new(v).color(differ).strong()
                    }
                };
                if stacked {
                    cells_stacked(ui, named, values.iter().map(|v| Some(text(v))));
                } else {
                    for v in &values {
                        ui.label(text(v));
                    }
                }
                ui.end_row();
            }
        });
}

/// The list of what differs between the compared exchanges, each value highlighted.
pub(super) fn differences_ui(
    ui: &mut egui::Ui,
    named: &[(&str, &Exchange)],
    diffs: &[crate::engine::compare::Difference],
) {
    const SHOWN: usize = 40;
    let title = match diffs.len() {
        0 => "No differences in status, headers, bodies or phases".to_string(),
        1 => "1 difference".to_string(),
        n => format!("{n} differences"),
    };
    egui::CollapsingHeader::new(RichText::new(title).strong())
        .id_salt("compare-differences")
        .default_open(true)
        .show(ui, |ui| {
            egui::ScrollArea::both()
                .id_salt("compare-differences-list")
                .max_height(220.0)
                .show(ui, |ui| {
                    // Side by side only when every column fits its longest value (cut at 60
                    // characters): long ids pushed column B out of sight.
                    let char_width = ui.fonts_mut(|f| {
                        f.glyph_width(&egui::TextStyle::Monospace.resolve(ui.style()), '0')
                    });
                    let longest = |texts: &mut dyn Iterator<Item = &String>| {
                        texts.map(|t| t.chars().count().min(60)).max().unwrap_or(0) as f32
                    };
                    let shown = diffs.iter().take(SHOWN);
                    let value_chars =
                        longest(&mut shown.clone().flat_map(|d| d.values.iter().flatten()));
                    let what_chars = longest(&mut shown.map(|d| &d.what));
                    let needed = (what_chars + 2.0) * char_width
                        + named.len() as f32 * ((value_chars + 2.0) * char_width);
                    let stacked = compare_stacked(ui, named.len()) || ui.available_width() < needed;
                    egui::Grid::new("compare-differences-grid")
                        .striped(true)
                        .num_columns(if stacked { 2 } else { named.len() + 1 })
                        .show(ui, |ui| {
                            if !stacked {
                                ui.label("");
                                for (name, _) in named {
                                    ui.label(RichText::new(*name).strong());
                                }
                                ui.end_row();
                            }
                            let differ = ui.visuals().warn_fg_color;
                            for d in diffs.iter().take(SHOWN) {
                                ui.label(RichText::new(&d.what).monospace());
                                let cells = d.values.iter().map(|v| {
                                    v.as_ref().map(|v| {
                                        RichText::new(truncate(v, 60)).monospace().color(differ)
                                    })
                                });
                                if stacked {
                                    cells_stacked(ui, named, cells);
                                } else {
                                    for cell in cells {
                                        ui.label(
                                            cell.unwrap_or_else(|| RichText::new("(none)").weak()),
                                        );
                                    }
                                }
                                ui.end_row();
                            }
                        });
                    if diffs.len() > SHOWN {
                        ui.label(
                            RichText::new(format!("… and {} more", diffs.len() - SHOWN)).weak(),
                        );
                    }
                });
        });
}

/// Progress while a load runs; then throughput, errors, percentiles and the latency histogram.
pub(super) fn load_result_ui(
    ui: &mut egui::Ui,
    load: &LoadRun,
    form: &crate::ui::settings::LoadForm,
    running: bool,
) {
    match &load.result {
        None => {
            let p = load.progress;
            let fraction = if form.duration_secs > 0.0 {
                (p.elapsed.as_secs_f64() / form.duration_secs) as f32
            } else {
                p.done as f32 / form.requests.max(1) as f32
            };
            let text = format!(
                "{} done, {} failed, {:.1} s{}",
                p.done,
                p.failed,
                p.elapsed.as_secs_f64(),
                if running { "" } else { " (stopped)" }
            );
            ui.add(
                egui::ProgressBar::new(fraction.clamp(0.0, 1.0))
                    .text(text)
                    .desired_width(ui.available_width().min(600.0)),
            );
        }
        Some(Err(message)) => {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("load failed: {message}"),
            );
        }
        Some(Ok(r)) => {
            ui.label(
                RichText::new(format!(
                    "{} requests in {:.2} s: {:.1} req/s, {} ok, {} failed",
                    r.requests,
                    r.elapsed.as_secs_f64(),
                    r.throughput(),
                    r.ok,
                    r.requests - r.ok
                ))
                .strong(),
            );
            for (kind, n) in &r.errors {
                let text = match r.examples.get(kind) {
                    Some(example) => format!("{n} × {kind}: {example}"),
                    None => format!("{n} × {kind}"),
                };
                ui.colored_label(ui.visuals().error_fg_color, text);
            }
            if r.requests == 0 {
                return;
            }
            ui.horizontal_wrapped(|ui| {
                for (name, us) in [
                    ("p50", r.percentile_us(50.0)),
                    ("p90", r.percentile_us(90.0)),
                    ("p99", r.percentile_us(99.0)),
                    ("p99.9", r.percentile_us(99.9)),
                    ("max", r.latency_us.max()),
                ] {
                    ui.label(format!("{name} {}", format_us(us)));
                    ui.separator();
                }
            });
            let buckets = r.buckets();
            let labels: Vec<String> = buckets
                .iter()
                .map(|(end, _)| format!("< {}", format_us(*end)))
                .collect();
            let bars: Vec<egui_plot::Bar> = buckets
                .iter()
                .enumerate()
                .map(|(i, (_, count))| {
                    egui_plot::Bar::new(i as f64, *count as f64)
                        .width(0.85)
                        .name(&labels[i])
                        .fill(crate::ui::timeline_view::phase_color(
                            crate::engine::http::phases::FIRST_BYTE,
                        ))
                })
                .collect();
            egui_plot::Plot::new(("latency-histogram", load.id))
                .height(160.0)
                .allow_zoom(false)
                .allow_drag(false)
                .allow_scroll(false)
                .x_axis_formatter(move |mark, _range| {
                    let i = mark.value.round();
                    if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                        labels.get(i as usize).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .y_axis_label("requests")
                .show(ui, |plot| {
                    plot.bar_chart(egui_plot::BarChart::new("latency", bars))
                });
        }
    }
}
