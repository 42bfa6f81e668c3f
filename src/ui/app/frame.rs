//! The window's layout each frame: shortcuts, theme, top bar, side panel, editor and result (side by side or stacked), viewer, dialogs.

use super::*;

impl SwitchboardApp {
    /// Draws one frame (everything but event draining).
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        // Keyboard shortcuts are taken before any widget sees the key: a focused button must
        // not also be pressed by Ctrl+Enter.
        self.send_shortcut = ui.input_mut(|i| {
            i.consume_shortcut(&egui::KeyboardShortcut::new(
                egui::Modifiers::COMMAND,
                egui::Key::Enter,
            ))
        });
        if self.settings.view == MainView::Requests {
            self.request_tab_keys(ui);
            if ui.input_mut(|i| {
                i.consume_shortcut(&egui::KeyboardShortcut::new(
                    egui::Modifiers::COMMAND,
                    egui::Key::F,
                ))
            }) {
                // Search the history: the side panel opens if it was hidden.
                self.settings.side_panel = true;
                self.focus_history_search = true;
            }
            if ui.input_mut(|i| {
                i.consume_shortcut(&egui::KeyboardShortcut::new(
                    egui::Modifiers::COMMAND,
                    egui::Key::L,
                ))
            }) {
                editors::focus_address_next(ui.ctx());
            }
            // Esc cancels the running request, unless a dialog or popup takes it.
            let tab = self.settings.transport;
            if self.is_busy(tab)
                && self.collections.dialog.is_none()
                && !ui.ctx().any_popup_open()
                && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Escape))
            {
                self.cancel(tab);
            }
        } else if ui.input_mut(|i| {
            i.consume_shortcut(&egui::KeyboardShortcut::new(
                egui::Modifiers::COMMAND,
                egui::Key::F,
            ))
        }) {
            // In the Messages view, Ctrl+F goes to the open tab's filter.
            self.viewer.focus_filter = true;
        }
        if self.applied_theme != Some(self.settings.dark_mode) {
            ui.ctx().set_theme(if self.settings.dark_mode {
                egui::Theme::Dark
            } else {
                egui::Theme::Light
            });
            self.applied_theme = Some(self.settings.dark_mode);
        }
        egui::Panel::top("top").show(ui, |ui| self.top_ui(ui));
        // Dragged closed or hidden with *Hide panel*; *Show panel* brings it back.
        let mut side_panel = self.settings.side_panel;
        egui::Panel::left("history")
            .resizable(true)
            .default_size(300.0)
            .min_size(200.0)
            .show_collapsible(ui, &mut side_panel, |ui| {
                let height = ui.available_height();
                egui::ScrollArea::vertical()
                    .id_salt("collections-tree")
                    .max_height(height * 0.5)
                    .auto_shrink([false, true])
                    .show(ui, |ui| self.collections_panel_ui(ui));
                ui.separator();
                self.history_ui(ui);
            });
        self.settings.side_panel = side_panel;
        egui::CentralPanel::default_margins().show(ui, |ui| match self.settings.view {
            MainView::Requests => {
                self.request_tabs_ui(ui);
                self.request_bar_ui(ui);
                ui.separator();
                // Side by side needs room for both: a narrow window stacks them.
                let side_by_side = self.settings.layout
                    == crate::ui::settings::RequestLayout::SideBySide
                    && ui.available_width() >= SIDE_BY_SIDE_MIN_WIDTH;
                match side_by_side {
                    true => {
                        // The editor and its result visible together, each scrolling on its
                        // own; the split is dragged (egui keeps its width).
                        // A split of our own width (kept in the settings): egui's resizable
                        // panel grows to fit content that fills it, frame after frame.
                        let available = ui.available_width();
                        let max = (available - 260.0).max(300.0);
                        let width = if self.settings.editor_width > 0.0 {
                            self.settings.editor_width
                        } else {
                            available * 0.5
                        }
                        .clamp(300.0_f32.min(max), max);
                        egui::Panel::left("editor-pane")
                            .exact_size(width)
                            .frame(egui::Frame::NONE.inner_margin(egui::Margin {
                                right: 6,
                                ..Default::default()
                            }))
                            .show(ui, |ui| {
                                egui::ScrollArea::vertical()
                                    .id_salt("editor-scroll")
                                    .auto_shrink([false, false])
                                    .show(ui, |ui| self.editor_ui(ui));
                            });
                        // The handle between the two: drag it to move the split.
                        let handle = {
                            let r = ui.available_rect_before_wrap();
                            egui::Rect::from_min_max(r.min, egui::pos2(r.min.x + 10.0, r.max.y))
                        };
                        let drag = ui
                            .interact(
                                handle,
                                egui::Id::unique("editor-split"),
                                egui::Sense::drag(),
                            )
                            .on_hover_cursor(egui::CursorIcon::ResizeHorizontal);
                        if drag.dragged() {
                            self.settings.editor_width =
                                (width + drag.drag_delta().x).clamp(300.0_f32.min(max), max);
                        }
                        let stroke = if drag.hovered() || drag.dragged() {
                            ui.visuals().widgets.active.bg_stroke
                        } else {
                            ui.visuals().widgets.noninteractive.bg_stroke
                        };
                        ui.painter()
                            .vline(handle.center().x, handle.y_range(), stroke);
                        ui.add_space(10.0);
                        egui::CentralPanel::no_frame().show(ui, |ui| {
                            egui::ScrollArea::vertical()
                                .id_salt("result-scroll")
                                .auto_shrink([false, false])
                                .show(ui, |ui| self.result_ui(ui));
                        });
                    }
                    false => {
                        egui::ScrollArea::vertical()
                            .auto_shrink([false, false])
                            .show(ui, |ui| {
                                self.editor_ui(ui);
                                ui.separator();
                                self.result_ui(ui);
                            });
                    }
                }
            }
            MainView::Messages => {
                if self.collections.active.contains_key(&EditorKind::Watch) {
                    self.request_bar_ui(ui);
                    ui.separator();
                }
                self.viewer.copy_in_clear = self.settings.credentials.copy_in_clear;
                let actions = viewer_ui(
                    ui,
                    &mut self.viewer,
                    &mut self.settings.watch_form,
                    &mut self.settings.amqp.url,
                );
                for action in actions {
                    self.viewer_action(action);
                }
            }
        });
        self.collection_dialog_ui(&ui.ctx().clone());
        if self.show_settings {
            self.settings_window_ui(&ui.ctx().clone());
        }
        self.script_frame(ui);
    }
}
