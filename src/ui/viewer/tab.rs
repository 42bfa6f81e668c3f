//! One viewer tab: its status line and counters (rate with a sparkline), filter, columns and
//! export/import, then its table and the selected message's detail.

use super::*;

/// Draws `tab`: the toolbar, the table and the detail pane.
pub(super) fn tab_ui(
    ui: &mut egui::Ui,
    tab: &mut ViewerTab,
    path: &str,
    copy_in_clear: bool,
    focus_filter: bool,
    actions: &mut Vec<ViewerAction>,
) {
    ui.horizontal_wrapped(|ui| {
        let (text, error) = match &tab.status {
            TabStatus::Connecting => ("connecting…".to_string(), false),
            TabStatus::Watching { queue } if tab.transport == Transport::Amqp => {
                (format!("watching (queue {queue})"), false)
            }
            TabStatus::Watching { queue } => (format!("watching: {queue}"), false),
            TabStatus::PeekDone(n) if tab.transport != Transport::Amqp => (
                format!("peeked {n} (read by sequence, nothing acked)"),
                false,
            ),
            TabStatus::Reconnecting(why) => (format!("connection lost — {why}"), true),
            TabStatus::PeekDone(n) => (format!("peeked {n} and put them back"), false),
            TabStatus::Failed(why) => (format!("failed: {why}"), true),
            TabStatus::Stopped => ("stopped".to_string(), false),
            TabStatus::Imported(file) => (format!("imported from {file}"), false),
        };
        if error {
            ui.colored_label(ui.visuals().error_fg_color, text);
        } else {
            ui.label(RichText::new(text).strong());
        }
        ui.separator();
        ui.label(format!("received {}", tab.store.received));
        // Now, and the busiest second of the last minute (a burst is over in a second: "0 msg/s"
        // alone would hide it).
        // The rate now is measured over a moment and can be above every whole second's count
        // (40 messages in a tenth of a second read 400 msg/s): the peak is never below it.
        let now = tab.rate();
        let peak = tab
            .rate_history()
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .max(now.round() as u64);
        let rate = if peak > 0 {
            format!("{now:.0} msg/s (peak {peak}/s)")
        } else {
            format!("{now:.0} msg/s")
        };
        ui.label(rate).on_hover_text(
            "messages per second now; the peak is the busiest second of the last minute, or \
             the rate now when that is higher",
        );
        rate_sparkline(ui, tab);
        ui.label(format_bytes(tab.store.received_bytes));
        ui.label(format!(
            "stored {}/{}",
            tab.store.len(),
            tab.store.capacity()
        ));
        if tab.store.evicted > 0 {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("evicted {}", tab.store.evicted),
            );
        }
        ui.separator();
        if tab.is_live() && ui.button("Stop").clicked() {
            actions.push(ViewerAction::Stop(tab.id));
        }
        if ui.button("Close tab").clicked() {
            actions.push(ViewerAction::Close(tab.id));
        }
    });
    // Wraps on a narrow window: every action stays reachable.
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Filter");
        let mut text = tab.filter_text.clone();
        let hint = format!(
            "text in body, {}, headers; key=value matches a header",
            WatchedMessage::columns(tab.transport).key
        );
        let response = ui
            .add(
                egui::TextEdit::singleline(&mut text)
                    .hint_text(hint)
                    .desired_width(340.0),
            )
            .labelled_by(label.id);
        if focus_filter {
            response.request_focus();
        }
        if response.changed() {
            tab.set_filter(&text);
        }
        ui.label(RichText::new(format!("{} shown", tab.view.len())).weak());
        if ui.checkbox(&mut tab.live_tail, "Live tail").changed() && tab.live_tail {
            tab.jump_to_end();
        }
        if ui
            .checkbox(&mut tab.newest_first, "Newest first")
            .on_hover_text("Show the newest message at the top")
            .changed()
        {
            tab.last_offset = 0.0;
            tab.jump_to_end();
        }
        // Stays open while columns are toggled; a click outside closes it.
        egui::containers::menu::MenuButton::new("Columns")
            .config(
                egui::containers::menu::MenuConfig::new()
                    .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside),
            )
            .ui(ui, |ui| {
                for (key, name) in columns(tab.transport) {
                    let mut shown = !tab.hidden.contains(&key);
                    if ui.checkbox(&mut shown, name).changed() {
                        if shown {
                            tab.hidden.retain(|k| *k != key);
                        } else {
                            tab.hidden.push(key);
                        }
                    }
                }
            });
        if !tab.live_tail
            && tab.new_since_pause > 0
            && ui
                .button(format!("{} new — jump to newest", tab.new_since_pause))
                .clicked()
        {
            tab.jump_to_end();
        }
        let target = if path.is_empty() {
            None
        } else {
            Some(PathBuf::from(path))
        };
        let export_hint = "Write JSON Lines (the `watch --json` shape) to the file above";
        let no_file = "Type a file name in File above first (the export goes there)";
        if ui
            .add_enabled(
                target.is_some() && !tab.view.is_empty(),
                egui::Button::new("Export shown"),
            )
            .on_hover_text(export_hint)
            .on_disabled_hover_text(no_file)
            .clicked()
            && let Some(target) = target.clone()
        {
            actions.push(ViewerAction::Export(target, tab.visible_messages()));
        }
        let selected = tab
            .selected
            .and_then(|s| tab.message(s))
            .map(|m| m.to_watched());
        if ui
            .add_enabled(
                target.is_some() && selected.is_some(),
                egui::Button::new("Export selected"),
            )
            .on_hover_text(export_hint)
            .on_disabled_hover_text(if target.is_none() {
                no_file
            } else {
                "Select a message in the table first"
            })
            .clicked()
            && let (Some(target), Some(m)) = (target, selected.clone())
        {
            actions.push(ViewerAction::Export(target, vec![m]));
        }
        if ui
            .add_enabled(selected.is_some(), egui::Button::new("Republish…"))
            .on_hover_text("Open it in the AMQP editor")
            .clicked()
            && let Some(m) = selected
        {
            actions.push(ViewerAction::Republish(Box::new(m)));
        }
    });
    if tab.sort_dirty {
        tab.sort_view();
    }
    let table_height = (ui.available_height() * 0.55).max(120.0);
    // A bounded box, so the column lines stop where the table does; as wide as the columns
    // need, scrolled sideways when the window is narrower (the table's own scroll area only
    // scrolls up and down, and would clip the right-hand columns).
    let width = ui.available_width();
    let natural = table_width(tab.transport, ui.spacing().item_spacing.x);
    egui::ScrollArea::horizontal()
        .id_salt(("messages-wide", tab.id))
        .max_height(table_height + 36.0)
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.allocate_ui(egui::vec2(width.max(natural), table_height + 24.0), |ui| {
                ui.set_width(width.max(natural));
                table_ui(ui, tab, table_height)
            });
        });
    ui.separator();
    egui::ScrollArea::vertical()
        .id_salt("detail")
        .auto_shrink([false, false])
        .show(ui, |ui| match tab.selected.and_then(|s| tab.message(s)) {
            Some(m) => detail_ui(ui, &m, copy_in_clear),
            None => {
                ui.label(
                    RichText::new("Select a message to see its properties, headers and body.")
                        .weak(),
                );
            }
        });
}

/// The tab's messages per second over the last minute.
fn rate_sparkline(ui: &mut egui::Ui, tab: &ViewerTab) {
    let history = tab.rate_history();
    let n = history.len() as f64;
    let points: Vec<[f64; 2]> = history
        .iter()
        .enumerate()
        .map(|(i, v)| [i as f64 - n + 1.0, *v as f64])
        .collect();
    crate::ui::timeline_view::sparkline(
        ui,
        ("rate-sparkline", tab.id),
        [100.0, 18.0],
        RATE_WINDOW_SECS as f64 - 1.0,
        "msg/s",
        points,
    )
    .on_hover_text("Messages per second, last minute");
}
