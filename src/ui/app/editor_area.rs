//! The editor side: the current transport's editor, its load and publish-many forms, and the Settings window.

use super::*;
use crate::ui::request_editor::EditorAction;

impl SwitchboardApp {
    pub(super) fn editor_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            for tab in TransportTab::ALL {
                let selected = self.settings.editors.transport == tab;
                if ui
                    .selectable_label(selected, RichText::new(tab.label()).strong())
                    .clicked()
                {
                    self.show_editor(tab);
                }
            }
        });
        ui.separator();
        let tab = self.settings.editors.transport;
        let editor = crate::ui::request_editor::of(tab);
        editor.ui(ui, &mut self.settings);
        if tab == TransportTab::Grpc {
            // The method browser: what the app discovered for the editor's address.
            self.grpc_browser_ui(ui);
        }
        let shortcut = std::mem::take(&mut self.send_shortcut);
        ui.horizontal_wrapped(|ui| {
            let busy = self.in_flight.get(&tab).cloned();
            let send = ui
                .add_enabled(
                    busy.is_none(),
                    egui::Button::new(RichText::new(editor.send_label(&self.settings)).strong()),
                )
                .on_hover_text("Ctrl+Enter");
            if send.clicked() || (shortcut && busy.is_none()) {
                self.send_current(tab);
            }
            let mut action = None;
            for button in editor.buttons(&self.settings) {
                if ui
                    .add_enabled(busy.is_none(), egui::Button::new(button.label))
                    .on_hover_text(button.hover)
                    .clicked()
                {
                    action = Some(button.action);
                }
            }
            match action {
                Some(EditorAction::PlaceOrder) => self.place_order(),
                Some(EditorAction::PublishMany) => self.publish_many(tab),
                None => {}
            }
            let mut traceparent = self.settings.editors.traceparent(tab);
            if ui
                .checkbox(&mut traceparent, "traceparent")
                .on_hover_text(
                    "Send a W3C traceparent with this editor's requests (a new trace each time, \
                     unless the headers set one): the services' spans then show under the \
                     timeline. Each editor and tab has its own tick.",
                )
                .changed()
            {
                self.settings.editors.set_traceparent(tab, traceparent);
            }
            if let Some(flight) = busy {
                ui.spinner();
                ui.label(format!("{:.1} s", flight.started.elapsed().as_secs_f64()));
                if ui.button("Cancel").clicked() {
                    self.cancel(tab);
                }
                // The elapsed time ticks while waiting.
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_millis(100));
            }
            if let Some(EditorOutcome::Sent(summary) | EditorOutcome::Cancelled(summary)) =
                self.outcomes.get(&tab)
            {
                ui.label(RichText::new(summary).weak());
            }
        });
        // Errors get their own (wrapping) line right under the buttons that caused them.
        if let Some(EditorOutcome::Failed(message)) = self.outcomes.get(&tab) {
            // Wrapped at what is visible: a wide table below (the gRPC methods) widens the
            // editor's area past the panel, and the line would run under the divider.
            let visible = (ui.clip_rect().right() - ui.cursor().left()).max(120.0);
            ui.scope(|ui| {
                ui.set_max_width(visible);
                ui.add(
                    egui::Label::new(RichText::new(message).color(ui.visuals().error_fg_color))
                        .wrap(),
                );
            });
        }
        if tab == self.many_of.0 {
            self.many_ui(ui);
        }
        if tab == TransportTab::Grpc {
            self.interactive_stream_ui(ui);
            self.stream_ui(ui);
        }
        self.load_ui(ui, tab);
    }

    pub(super) fn load_ui(&mut self, ui: &mut egui::Ui, tab: TransportTab) {
        let busy = self.is_busy(tab);
        let mut run = false;
        egui::CollapsingHeader::new("Load test")
            .id_salt("load")
            .default_open(false)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    let form = &mut self.settings.load;
                    let l = ui.label("Requests");
                    ui.add_enabled(
                        form.duration_secs <= 0.0,
                        egui::DragValue::new(&mut form.requests)
                            .range(1..=100_000_000)
                            .speed(10),
                    )
                    .labelled_by(l.id);
                    let l = ui.label("or for");
                    ui.add(
                        egui::DragValue::new(&mut form.duration_secs)
                            .range(0.0..=3600.0)
                            .speed(0.5)
                            .suffix(" s"),
                    )
                    .labelled_by(l.id)
                    .on_hover_text("0 s: stop after the number of requests");
                    let l = ui.label("Concurrency");
                    ui.add(egui::DragValue::new(&mut form.concurrency).range(1..=1000))
                        .labelled_by(l.id);
                    run = ui
                        .add_enabled(!busy, egui::Button::new(RichText::new("Run load").strong()))
                        .on_hover_text(
                            "Send the request above many times on kept-alive connections",
                        )
                        .clicked();
                });
                if let Some(load) = self.load.as_ref().filter(|l| l.tab == tab) {
                    load_result_ui(
                        ui,
                        load,
                        &self.settings.load,
                        self.in_flight.get(&tab).is_some_and(|f| f.id == load.id),
                    );
                }
            });
        if run {
            self.run_load(tab);
        }
    }

    pub(super) fn many_ui(&self, ui: &mut egui::Ui) {
        let Some((id, state)) = &self.many else {
            return;
        };
        let (tab, total) = self.many_of;
        let running = self.in_flight.get(&tab).is_some_and(|f| f.id == *id);
        match state {
            Ok(p) => {
                let fraction = p.confirmed as f32 / total as f32;
                let text = format!(
                    "{} published, {} confirmed, {} failed in {:.2} s ({:.0} msg/s){}",
                    p.published,
                    p.confirmed,
                    p.failed,
                    p.elapsed.as_secs_f64(),
                    p.rate(),
                    if p.done {
                        ""
                    } else if running {
                        " …"
                    } else {
                        " (stopped)"
                    }
                );
                ui.add(
                    egui::ProgressBar::new(fraction)
                        .text(text)
                        .desired_width(ui.available_width().min(600.0)),
                );
            }
            Err(message) => {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("publish many failed: {message}"),
                );
            }
        }
    }

    /// The Settings window: what is kept of credentials, and where.
    pub(super) fn settings_window_ui(&mut self, ctx: &egui::Context) {
        let mut open = true;
        let data_dir = self.data_dir.display().to_string();
        let c = &mut self.settings.credentials;
        egui::Window::new("Settings")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .default_width(520.0)
            .show(ctx, |ui| {
                ui.heading("Credentials at rest");
                ui.label(
                    "Authorization, Proxy-Authorization, Cookie, API-key and token headers \
                     (gRPC metadata too) and passwords in URLs.",
                );
                ui.add_space(6.0);
                ui.label(RichText::new("Typed into the editors, when the app closes").strong());
                ui.radio_value(
                    &mut c.editors,
                    EditorCredentials::SecretStore,
                    "Keep them in the secret store (secrets.json, owner-only)",
                )
                .on_hover_text(
                    "settings.json holds a {{reference}}; the editor gets the value back at the next launch",
                );
                ui.radio_value(
                    &mut c.editors,
                    EditorCredentials::Forget,
                    "Forget them (type them again after a restart)",
                );
                ui.add_space(6.0);
                ui.label(RichText::new("History and copies").strong());
                ui.checkbox(
                    &mut c.history_in_clear,
                    "Keep credentials in clear in the history file",
                )
                .on_hover_text(
                    "Off: history.jsonl gets them masked (Bearer •••• (redacted), user:••••@host); this session still shows them as sent",
                );
                ui.checkbox(&mut c.copy_in_clear, "Copy as JSON includes credentials")
                    .on_hover_text("Off: the copied exchange has them masked");
                ui.add_space(6.0);
                ui.label(
                    RichText::new(format!(
                        "Kept in {data_dir} (owner-only): settings.json, app.ron (window), history.jsonl, secrets.json"
                    ))
                    .small()
                    .weak(),
                );
            });
        // Esc closes it, like the dialogs (unless a dialog or popup on top takes the key).
        if self.collections.dialog.is_none()
            && !ctx.any_popup_open()
            && ctx.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Escape))
        {
            open = false;
        }
        if !open {
            self.show_settings = false;
        }
    }
}
