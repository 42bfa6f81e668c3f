//! The history panel: the searchable list of past exchanges.

use super::*;

/// The history panel's state: the entries, which is selected, the pinned ones and whether they
/// are compared, and the search over them.
#[derive(Debug)]
pub struct HistoryView {
    pub history: Vec<Entry>,
    pub selected: Option<u64>,
    pub pinned: Vec<u64>,
    pub compare: bool,
    /// What differs between the pinned exchanges, worked out once per set of pins.
    pub(crate) compare_diffs: Option<(Vec<u64>, Vec<crate::engine::compare::Difference>)>,
    /// Ctrl+F was pressed: the history search takes the focus when it is next drawn.
    pub(crate) focus_history_search: bool,
    /// Filter of the history list.
    pub history_query: String,
    /// Something to say about the persisted history (unreadable lines…).
    pub history_note: Option<String>,
    /// The entries the search matches, for (query, length, last seq).
    pub(crate) history_matches: Option<((String, usize, u64), std::collections::HashSet<u64>)>,
}

impl SwitchboardApp {
    /// Places the spans that arrived since the last frame on the timelines of the recent
    /// exchanges that started their trace (a consumer's span may come seconds later).
    pub(super) fn refresh_spans(&mut self) {
        /// Only the latest exchanges: older ones have had their spans long ago.
        const RECENT: usize = 200;
        let Some(Ok(up)) = &self.traces else {
            return;
        };
        let accepted = up.store.counts().accepted;
        if accepted == self.spans_seen {
            return;
        }
        self.spans_seen = accepted;
        let store = up.store.clone();
        let mut placed = Vec::new();
        for entry in self.history_view.history.iter_mut().rev().take(RECENT) {
            let e = &mut entry.exchange;
            if let Some(trace_id) = e.trace.as_ref().map(|t| t.trace_id.clone()) {
                let spans = store.spans(&trace_id);
                // Only when more came: after a restart the store is empty, and the spans kept
                // in the history must not be wiped by it.
                if spans.len() > e.spans.len() {
                    let before: std::collections::HashSet<String> =
                        e.spans.iter().map(|s| s.span_id.clone()).collect();
                    e.place_spans(&spans);
                    // The history file gets only the new ones (it adds them to the entry's).
                    let added: Vec<_> = e
                        .spans
                        .iter()
                        .filter(|s| !before.contains(&s.span_id))
                        .cloned()
                        .collect();
                    if !added.is_empty() {
                        placed.push((trace_id, added));
                    }
                }
            }
        }
        // The history file keeps them with their exchange.
        for (trace_id, spans) in placed {
            self.command(Command::RecordSpans { trace_id, spans });
        }
    }

    pub(super) fn history_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("History");
            ui.label(RichText::new(format!("{}", self.history_view.history.len())).weak());
            if !self.history_view.history.is_empty() && ui.small_button("Clear…").clicked() {
                self.collections.dialog = Some(Dialog::ClearHistory);
            }
        });
        ui.horizontal(|ui| {
            let l = ui.label("Search");
            let search = ui
                .add(
                    egui::TextEdit::singleline(&mut self.history_view.history_query)
                        .hint_text("URL, status, body… (Ctrl+F)")
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(l.id);
            if std::mem::take(&mut self.history_view.focus_history_search) {
                search.request_focus();
            }
        });
        if let Some(note) = &self.history_view.history_note {
            ui.label(
                RichText::new(note)
                    .small()
                    .color(ui.visuals().warn_fg_color),
            );
        }
        let pins = self.history_view.pinned.len();
        ui.horizontal(|ui| {
            ui.add_enabled_ui(pins >= 2, |ui| {
                ui.toggle_value(&mut self.history_view.compare, "Compare pinned").on_hover_text(
                    "Pin two or three exchanges to compare their timelines and payloads on one axis",
                );
            });
            ui.label(
                RichText::new(format!("{pins}/{MAX_PINS} pinned"))
                    .small()
                    .weak(),
            );
        });
        ui.separator();
        let mut toggle = None;
        let mut select = None;
        let query = self.history_view.history_query.trim().to_lowercase();
        // The search runs when the query or the history changes, not every frame.
        let key = (
            query.clone(),
            self.history_view.history.len(),
            self.history_view.history.last().map_or(0, |e| e.seq),
        );
        if self.history_view.history_matches.as_ref().map(|(k, _)| k) != Some(&key) {
            let seqs = self
                .history_view
                .history
                .iter()
                .filter(|e| {
                    crate::engine::history::matches(&e.exchange, e.request.as_ref(), &query)
                })
                .map(|e| e.seq)
                .collect::<std::collections::HashSet<u64>>();
            self.history_view.history_matches = Some((key, seqs));
        }
        let shown = self.history_view.history_matches.as_ref().map(|(_, s)| s);
        let now_ms = crate::engine::recorder::unix_ms();
        // Only the rows in view are laid out (a thousand entries laid out every frame cost
        // ≈ 10 KB each in egui's caches and the time to build them). An entry is its row and
        // its target's line below it.
        let listed: Vec<usize> = (0..self.history_view.history.len())
            .rev()
            .filter(|i| {
                self.history_view
                    .history
                    .get(*i)
                    .is_some_and(|e| shown.is_none_or(|s| s.contains(&e.seq)))
            })
            .collect();
        let entry_height = ui.spacing().interact_size.y
            + ui.spacing().item_spacing.y
            + ui.text_style_height(&egui::TextStyle::Small);
        egui::ScrollArea::vertical()
            .id_salt("history-list")
            .auto_shrink([false, false])
            .show_rows(ui, entry_height, listed.len(), |ui, rows| {
                for entry in listed[rows]
                    .iter()
                    .filter_map(|i| self.history_view.history.get(*i))
                {
                    let e = &entry.exchange;
                    let selected = self.history_view.selected == Some(entry.seq);
                    let pinned = self.history_view.pinned.contains(&entry.seq);
                    ui.horizontal(|ui| {
                        if ui
                            .selectable_label(pinned, "pin")
                            .on_hover_text("Pin for compare (two pinned exchanges can be compared)")
                            .clicked()
                        {
                            toggle = Some(entry.seq);
                        }
                        let status = e.outcome_label();
                        // Red on the selection's blue is unreadable: a selected row is plain.
                        let color = if selected {
                            ui.visuals().strong_text_color()
                        } else if was_cancelled(e) {
                            // The user's cancel: neutral and grey, as in the timeline.
                            ui.visuals().weak_text_color()
                        } else if e.ok {
                            ui.visuals().text_color()
                        } else {
                            ui.visuals().error_fg_color
                        };
                        let text = RichText::new(format!(
                            "{} {} {} · {}",
                            e.transport.label(),
                            history_verb(e),
                            status,
                            format_us(e.total_us)
                        ))
                        .color(color);
                        ui.label(
                            RichText::new(history_time(e.started_at_ms, now_ms))
                                .monospace()
                                .small()
                                .weak(),
                        )
                        .on_hover_text("when it was sent (UTC)");
                        // Truncated to the panel: a long row must not widen the panel.
                        let response = ui
                            .add(egui::Button::selectable(selected, text).truncate())
                            .on_hover_text(&e.target);
                        if response.clicked() {
                            select = Some(entry.seq);
                        }
                    });
                    ui.add(egui::Label::new(RichText::new(&e.target).small().weak()).truncate());
                }
            });
        if let Some(seq) = toggle {
            self.toggle_pin(seq);
        }
        if let Some(seq) = select {
            self.select_entry(seq);
        }
    }

    /// Shows history entry `seq` (clicking its row): it leaves a comparison.
    pub fn select_entry(&mut self, seq: u64) {
        self.history_view.selected = Some(seq);
        self.history_view.compare = false;
    }
}

/// What a history row says was done: the HTTP method, the gRPC method's name, or the
/// broker operation (publish, request, produce…).
pub(super) fn history_verb(e: &crate::engine::Exchange) -> String {
    match e.transport {
        crate::engine::Transport::Grpc => {
            e.target.rsplit('/').next().unwrap_or_default().to_string()
        }
        _ => e
            .request
            .line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

/// `13:02:07` today, `12-04 13:02:07` on another day (UTC, as the viewer's times).
pub(super) fn history_time(at_ms: u64, now_ms: u64) -> String {
    const DAY_MS: u64 = 86_400_000;
    let mut time = crate::ui::viewer::format_time(at_ms);
    time.truncate(8);
    if at_ms / DAY_MS == now_ms / DAY_MS {
        return time;
    }
    match time::OffsetDateTime::from_unix_timestamp((at_ms / 1000) as i64) {
        Ok(d) => format!("{:02}-{:02} {time}", u8::from(d.month()), d.day()),
        Err(_) => time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_rows_show_the_time_and_the_day_when_it_is_not_today() {
        // 2026-12-04 13:02:07.5 UTC, and a moment the next day.
        let at = 1_796_389_327_500;
        assert_eq!(history_time(at, at + 1_000), "13:02:07");
        assert_eq!(history_time(at, at + 86_400_000), "12-04 13:02:07");
    }
}
