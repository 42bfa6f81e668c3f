//! The collection dialogs (save as, rename, move, delete, discard, conflicts, close a tab, clear the history): one window at a time, Esc closes it; each dialog is a method returning whether it stays open (import, open folder, new collection and environments are in `collection_dialogs.rs`).

use super::*;

impl SwitchboardApp {
    /// Whichever dialog is open.
    pub(crate) fn collection_dialog_ui(&mut self, ctx: &egui::Context) {
        let Some(mut dialog) = self.collections.dialog.take() else {
            return;
        };
        let mut keep = true;
        // Read before `should_close`, which consumes the key when this modal is on top.
        let escape = ctx.input(|i| i.key_pressed(egui::Key::Escape));
        let modal = egui::Modal::new(egui::Id::unique("collection-dialog")).show(ctx, |ui| {
            ui.set_width(480.0);
            keep = self.dialog_body(ui, &mut dialog);
        });
        // Escape closes; a click outside does not (the click that opened a dialog would).
        if escape && modal.should_close() {
            keep = false;
        }
        // The body may have opened another dialog (a conflict, discard…).
        if keep && self.collections.dialog.is_none() {
            self.collections.dialog = Some(dialog);
        }
    }

    /// Draws a dialog; false when it is done.
    pub(super) fn dialog_body(&mut self, ui: &mut egui::Ui, dialog: &mut Dialog) -> bool {
        match dialog {
            Dialog::SaveAs {
                kind,
                name,
                root,
                folder,
            } => self.save_as_dialog(ui, kind, name, root, folder),
            Dialog::Rename { kind, name } => self.rename_dialog(ui, kind, name),
            Dialog::Move { kind, folder } => self.move_dialog(ui, kind, folder),
            Dialog::Delete { kind } => self.delete_dialog(ui, kind),
            Dialog::Discard { root, rel } => self.discard_dialog(ui, root, rel),
            Dialog::CloseTab { index } => self.close_tab_dialog(ui, index),
            Dialog::Conflict { root, op, message } => self.conflict_dialog(ui, root, op, message),
            Dialog::Import { kind, text, root } => self.import_dialog(ui, kind, text, root),
            Dialog::OpenFolder { path } => self.open_folder_dialog(ui, path),
            Dialog::NewCollection { name } => self.new_collection_dialog(ui, name),
            Dialog::Environment {
                root,
                name,
                variables,
                expected,
                new,
            } => self.environment_dialog(ui, root, name, variables, expected, new),
            Dialog::ClearHistory => self.clear_history_dialog(ui),
        }
    }

    /// The folders of the collection at `root`.
    fn folders_of(&self, root: &Option<PathBuf>) -> Vec<String> {
        root.as_ref()
            .and_then(|r| self.collections.collection(r))
            .map(|c| c.folders.clone())
            .unwrap_or_default()
    }

    /// The SaveAs dialog; false when it is done.
    fn save_as_dialog(
        &mut self,
        ui: &mut egui::Ui,
        kind: &mut EditorKind,
        name: &mut String,
        root: &mut Option<PathBuf>,
        folder: &mut String,
    ) -> bool {
        ui.heading(format!("Save {} request", kind.label()));
        let l = ui.label("Request name");
        ui.text_edit_singleline(name).labelled_by(l.id);
        collection_picker(ui, &self.collections, root);
        folder_picker(ui, &self.folders_of(root), folder);
        let mut done = false;
        ui.horizontal(|ui| {
            let ok = !name.trim().is_empty() && root.is_some();
            if ui.add_enabled(ok, egui::Button::new("Save")).clicked()
                && let Some(root) = root.clone()
            {
                let base = self
                    .collections
                    .active
                    .get(kind)
                    .map(|a| a.baseline.clone());
                let request = self.settings.to_saved(*kind, name.trim(), base.as_ref());
                self.collection_op(
                    root,
                    CollectionOp::SaveNew {
                        folder: folder.clone(),
                        request: Box::new(request),
                    },
                );
            }
            if ui.button("Cancel").clicked() {
                done = true;
            }
        });
        if self.collections.opened.is_empty() {
            ui.label(RichText::new("No collection is open: open or create one first.").weak());
        }
        !done
    }

    /// The Rename dialog; false when it is done.
    fn rename_dialog(
        &mut self,
        ui: &mut egui::Ui,
        kind: &mut EditorKind,
        name: &mut String,
    ) -> bool {
        ui.heading("Rename request");
        let l = ui.label("New name");
        ui.text_edit_singleline(name).labelled_by(l.id);
        let mut done = false;
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!name.trim().is_empty(), egui::Button::new("Rename"))
                .clicked()
                && let Some(a) = self.collections.active.get(kind).cloned()
            {
                self.collection_op(
                    a.root,
                    CollectionOp::Rename {
                        rel: a.rel,
                        name: name.trim().to_string(),
                        expected: a.raw,
                    },
                );
            }
            if ui.button("Cancel").clicked() {
                done = true;
            }
        });
        !done
    }

    /// The Move dialog; false when it is done.
    fn move_dialog(
        &mut self,
        ui: &mut egui::Ui,
        kind: &mut EditorKind,
        folder: &mut String,
    ) -> bool {
        ui.heading("Move request");
        let root = self.collections.active.get(kind).map(|a| a.root.clone());
        folder_picker(ui, &self.folders_of(&root), folder);
        let mut done = false;
        ui.horizontal(|ui| {
            if ui.button("Move").clicked()
                && let Some(a) = self.collections.active.get(kind).cloned()
            {
                self.collection_op(
                    a.root,
                    CollectionOp::Move {
                        rel: a.rel,
                        folder: folder.clone(),
                        expected: a.raw,
                    },
                );
            }
            if ui.button("Cancel").clicked() {
                done = true;
            }
        });
        !done
    }

    /// The Delete dialog; false when it is done.
    fn delete_dialog(&mut self, ui: &mut egui::Ui, kind: &mut EditorKind) -> bool {
        let Some(a) = self.collections.active.get(kind).cloned() else {
            return false;
        };
        ui.heading("Delete request");
        ui.label(format!(
            "Delete “{}”? This removes {} from disk (the editor keeps its content).",
            a.baseline.name,
            a.root.join(&a.rel).display()
        ));
        let mut done = false;
        ui.horizontal(|ui| {
            if ui.button("Delete").clicked() {
                self.collection_op(
                    a.root.clone(),
                    CollectionOp::Delete {
                        rel: a.rel.clone(),
                        expected: a.raw.clone(),
                    },
                );
                done = true;
            }
            if ui.button("Cancel").clicked() {
                done = true;
            }
        });
        !done
    }

    /// The Discard dialog; false when it is done.
    fn discard_dialog(&mut self, ui: &mut egui::Ui, root: &Path, rel: &str) -> bool {
        ui.heading("Unsaved changes");
        ui.label("The watch form has unsaved changes. Open the other watch and discard them?");
        let mut done = false;
        ui.horizontal(|ui| {
            if ui.button("Discard and open").clicked() {
                let (root, rel) = (root.to_path_buf(), rel.to_string());
                self.force_open(&root, &rel);
                done = true;
            }
            if ui.button("Cancel").clicked() {
                done = true;
            }
        });
        !done
    }

    /// The CloseTab dialog; false when it is done.
    fn close_tab_dialog(&mut self, ui: &mut egui::Ui, index: &mut usize) -> bool {
        ui.heading("Unsaved changes");
        ui.label("This tab's request has changes that are not saved. Close it anyway?");
        let mut done = false;
        let index = *index;
        ui.horizontal(|ui| {
            if ui.button("Close without saving").clicked() {
                self.close_tab(index, true);
                done = true;
            }
            if ui.button("Cancel").clicked() {
                done = true;
            }
        });
        !done
    }

    /// The Conflict dialog; false when it is done.
    fn conflict_dialog(
        &mut self,
        ui: &mut egui::Ui,
        root: &Path,
        op: &mut Box<CollectionOp>,
        message: &mut String,
    ) -> bool {
        ui.heading("Changed on disk");
        ui.label(format!(
            "{message}: another program or Switchboard window changed it."
        ));
        let mut done = false;
        ui.horizontal(|ui| {
            if let CollectionOp::Save { rel, request, .. } = op.as_ref() {
                if ui
                    .button("Overwrite")
                    .on_hover_text("Replace what is on disk with the editor")
                    .clicked()
                {
                    self.collection_op(
                        root.to_path_buf(),
                        CollectionOp::Save {
                            rel: rel.to_string(),
                            request: request.clone(),
                            expected: Expected::Any,
                        },
                    );
                    done = true;
                }
                if ui
                    .button("Reload from disk")
                    .on_hover_text("Discard the editor's changes and show the file")
                    .clicked()
                {
                    self.collections.pending_open = Some((root.to_path_buf(), rel.to_string()));
                    self.collection_op(root.to_path_buf(), CollectionOp::Open);
                    done = true;
                }
            } else if ui.button("Reload from disk").clicked() {
                self.collection_op(root.to_path_buf(), CollectionOp::Open);
                done = true;
            }
            if ui.button("Cancel").clicked() {
                done = true;
            }
        });
        !done
    }

    /// The ClearHistory dialog; false when it is done.
    fn clear_history_dialog(&mut self, ui: &mut egui::Ui) -> bool {
        ui.heading("Clear history");
        ui.label(format!(
            "Forget all {} exchanges, on disk too?",
            self.history_view.history.len()
        ));
        let mut done = false;
        ui.horizontal(|ui| {
            if ui.button("Clear history").clicked() {
                self.clear_history();
                done = true;
            }
            if ui.button("Cancel").clicked() {
                done = true;
            }
        });
        !done
    }
}

/// A name for a new request: `GET /user/1`, `user.UserService/GetUserInfo`…
pub(super) fn default_name(app: &SwitchboardApp, kind: EditorKind) -> String {
    let s = &app.settings;
    match kind {
        EditorKind::Http => {
            let path = s
                .editors
                .http
                .url
                .split_once("://")
                .map_or(s.editors.http.url.as_str(), |(_, r)| r);
            let path = path.find('/').map_or("/", |i| &path[i..]);
            format!("{} {path}", s.editors.http.method)
        }
        EditorKind::Grpc => s
            .editors
            .grpc
            .method
            .rsplit('/')
            .next()
            .unwrap_or("call")
            .to_string(),
        EditorKind::Amqp => format!("Publish {}", s.editors.amqp.routing_key),
        EditorKind::Nats => format!("{} {}", s.editors.nats.op.label(), s.editors.nats.subject),
        EditorKind::Kafka => format!("Produce {}", s.editors.kafka.topic),
        EditorKind::Watch if s.watch_form.broker == crate::ui::viewer::WatchBroker::Nats => {
            format!("Watch {}", s.watch_form.nats.describe())
        }
        EditorKind::Watch if s.watch_form.broker == crate::ui::viewer::WatchBroker::Kafka => {
            format!("Watch {}", s.watch_form.kafka.describe())
        }
        EditorKind::Watch => format!("Watch {}", s.watch_form.exchange),
    }
}

pub(super) fn collection_picker(
    ui: &mut egui::Ui,
    state: &CollectionsState,
    root: &mut Option<PathBuf>,
) {
    ui.horizontal(|ui| {
        let l = ui.label("Collection");
        let name = |r: &Path| {
            state
                .collection(r)
                .map_or_else(|| root_key(r), Collection::name)
        };
        egui::ComboBox::from_id_salt("dialog-collection")
            .selected_text(
                root.as_deref()
                    .map(name)
                    .unwrap_or_else(|| "(choose)".to_string()),
            )
            .show_ui(ui, |ui| {
                for o in &state.opened {
                    if o.collection.as_ref().is_some_and(|c| c.is_ok()) {
                        ui.selectable_value(root, Some(o.root.clone()), name(&o.root));
                    }
                }
            })
            .response
            .labelled_by(l.id);
    });
}

pub(super) fn folder_picker(ui: &mut egui::Ui, folders: &[String], folder: &mut String) {
    ui.horizontal(|ui| {
        let l = ui.label("Folder");
        ui.add(
            egui::TextEdit::singleline(folder)
                .hint_text("(top level)")
                .desired_width(220.0),
        )
        .labelled_by(l.id)
        .on_hover_text("A sub-folder of the collection; a new one is created");
        let choices = folders.iter().map(|f| (f.as_str(), f.as_str()));
        crate::ui::editors::choices_menu(
            ui,
            "dialog-folder",
            "existing…",
            folder,
            std::iter::once(("(top level)", "")).chain(choices),
        );
    });
}
