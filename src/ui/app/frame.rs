//! The window's layout each frame: shortcuts, theme, top bar, side panel, editor and result (side by side or stacked), viewer, dialogs.

use super::*;

impl SwitchboardApp {
    /// Draws one frame (everything but event draining).
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        self.refresh_spans();
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
                self.history_view.focus_history_search = true;
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
            let tab = self.settings.editors.transport;
            if self.is_busy(tab)
                && self.collections.dialog.is_none()
                && !self.show_settings
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
                self.split_ui(ui, side_by_side);
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
                    &mut self.settings.editors.amqp.url,
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

    /// The editor and its result side by side (or stacked, the editor above), each scrolling
    /// on its own, split by a handle the user drags (the editor's width, or height when
    /// stacked, is a setting kept across restarts). The rects are laid out here, not by panels:
    /// a panel measures its content and grows with it frame after frame, and a scroll area
    /// registered over the handle would take its drag.
    fn split_ui(&mut self, ui: &mut egui::Ui, side_by_side: bool) {
        const HANDLE: f32 = 10.0;
        let full = ui.available_rect_before_wrap();
        // Along the split's axis: x side by side, y stacked.
        let (start, length) = if side_by_side {
            (full.min.x, full.width())
        } else {
            (full.min.y, full.height())
        };
        let (min, max) = if side_by_side {
            split_bounds(length)
        } else {
            stacked_bounds(length)
        };
        let kept = if side_by_side {
            self.settings.editor_width
        } else {
            self.settings.editor_height
        };
        let size = if kept > 0.0 {
            kept
        } else if side_by_side {
            length * 0.5
        } else {
            // Stacked: the editor's usual rows, the rest for the waterfall and payloads.
            length * 0.36
        }
        .clamp(min, max);
        let cut = start + size;
        let (editor, handle, result) = if side_by_side {
            (
                egui::Rect::from_min_max(full.min, egui::pos2(cut, full.max.y)),
                egui::Rect::from_min_max(
                    egui::pos2(cut, full.min.y),
                    egui::pos2(cut + HANDLE, full.max.y),
                ),
                egui::Rect::from_min_max(egui::pos2(cut + HANDLE, full.min.y), full.max),
            )
        } else {
            (
                egui::Rect::from_min_max(full.min, egui::pos2(full.max.x, cut)),
                egui::Rect::from_min_max(
                    egui::pos2(full.min.x, cut),
                    egui::pos2(full.max.x, cut + HANDLE),
                ),
                egui::Rect::from_min_max(egui::pos2(full.min.x, cut + HANDLE), full.max),
            )
        };
        let mut editor_ui = ui.new_child(
            egui::UiBuilder::new()
                .id_salt("editor-pane")
                .max_rect(editor),
        );
        editor_ui.set_clip_rect(editor.intersect(ui.clip_rect()));
        egui::ScrollArea::vertical()
            .id_salt("editor-scroll")
            .auto_shrink([false, false])
            .show(&mut editor_ui, |ui| self.editor_ui(ui));
        let mut result_ui = ui.new_child(
            egui::UiBuilder::new()
                .id_salt("result-pane")
                .max_rect(result),
        );
        result_ui.set_clip_rect(result.intersect(ui.clip_rect()));
        egui::ScrollArea::vertical()
            .id_salt("result-scroll")
            .auto_shrink([false, false])
            .show(&mut result_ui, |ui| self.result_ui(ui));
        // Registered after both panes, so it is on top of anything they sense.
        let drag = ui
            .interact(
                handle,
                egui::Id::unique("editor-split"),
                egui::Sense::drag(),
            )
            .on_hover_cursor(if side_by_side {
                egui::CursorIcon::ResizeHorizontal
            } else {
                egui::CursorIcon::ResizeVertical
            });
        drag.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Splitter, true, SPLIT_LABEL));
        if drag.dragged()
            && let Some(pointer) = drag.interact_pointer_pos()
        {
            // Where the pointer is, not the sum of deltas: nothing drifts or lags.
            let at = if side_by_side { pointer.x } else { pointer.y };
            let size = (at - start - HANDLE / 2.0).clamp(min, max);
            if side_by_side {
                self.settings.editor_width = size;
            } else {
                self.settings.editor_height = size;
            }
        }
        let stroke = if drag.hovered() || drag.dragged() {
            ui.visuals().widgets.active.bg_stroke
        } else {
            ui.visuals().widgets.noninteractive.bg_stroke
        };
        if side_by_side {
            ui.painter()
                .vline(handle.center().x, handle.y_range(), stroke);
        } else {
            ui.painter()
                .hline(handle.x_range(), handle.center().y, stroke);
        }
        ui.allocate_rect(full, egui::Sense::hover());
    }
}
