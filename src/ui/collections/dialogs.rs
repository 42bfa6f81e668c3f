//! The collection dialogs (new, open, save as, rename, delete, import, conflicts…): one window at a time, Esc closes it.

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
        let folders = |app: &Self, root: &Option<PathBuf>| -> Vec<String> {
            root.as_ref()
                .and_then(|r| app.collections.collection(r))
                .map(|c| c.folders.clone())
                .unwrap_or_default()
        };
        match dialog {
            Dialog::SaveAs {
                kind,
                name,
                root,
                folder,
            } => {
                ui.heading(format!("Save {} request", kind.label()));
                let l = ui.label("Request name");
                ui.text_edit_singleline(name).labelled_by(l.id);
                collection_picker(ui, &self.collections, root);
                folder_picker(ui, &folders(self, root), folder);
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
                    ui.label(
                        RichText::new("No collection is open: open or create one first.").weak(),
                    );
                }
                !done
            }
            Dialog::Rename { kind, name } => {
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
            Dialog::Move { kind, folder } => {
                ui.heading("Move request");
                let root = self.collections.active.get(kind).map(|a| a.root.clone());
                folder_picker(ui, &folders(self, &root), folder);
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
            Dialog::Delete { kind } => {
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
            Dialog::Discard { root, rel } => {
                ui.heading("Unsaved changes");
                ui.label(
                    "The watch form has unsaved changes. Open the other watch and discard them?",
                );
                let mut done = false;
                ui.horizontal(|ui| {
                    if ui.button("Discard and open").clicked() {
                        let (root, rel) = (root.clone(), rel.clone());
                        self.force_open(&root, &rel);
                        done = true;
                    }
                    if ui.button("Cancel").clicked() {
                        done = true;
                    }
                });
                !done
            }
            Dialog::CloseTab { index } => {
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
            Dialog::Conflict { root, op, message } => {
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
                                root.clone(),
                                CollectionOp::Save {
                                    rel: rel.clone(),
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
                            self.collections.pending_open = Some((root.clone(), rel.clone()));
                            self.collection_op(root.clone(), CollectionOp::Open);
                            done = true;
                        }
                    } else if ui.button("Reload from disk").clicked() {
                        self.collection_op(root.clone(), CollectionOp::Open);
                        done = true;
                    }
                    if ui.button("Cancel").clicked() {
                        done = true;
                    }
                });
                !done
            }
            Dialog::Import { kind, text, root } => {
                ui.heading("Import requests");
                ui.horizontal(|ui| {
                    ui.selectable_value(kind, ImportKind::Curl, "curl");
                    ui.selectable_value(kind, ImportKind::Grpcurl, "grpcurl");
                    ui.selectable_value(kind, ImportKind::Postman, "Postman v2.1 file");
                });
                match kind {
                    ImportKind::Postman => {
                        ui.horizontal(|ui| {
                            let l = ui.label("File");
                            ui.add(egui::TextEdit::singleline(text).desired_width(300.0))
                                .labelled_by(l.id);
                            if ui.button("Browse…").clicked() {
                                self.backend_command(Command::PickPath {
                                    purpose: PathPurpose::Postman,
                                });
                            }
                        });
                    }
                    _ => {
                        let l = ui.label("Command line");
                        ui.add(
                            egui::TextEdit::multiline(text)
                                .code_editor()
                                .desired_rows(5)
                                .desired_width(f32::INFINITY)
                                .hint_text(if *kind == ImportKind::Curl {
                                    "curl -H 'Accept: application/json' http://127.0.0.1:8081/user/1"
                                } else {
                                    "grpcurl -plaintext -d '{\"user_id\": \"1\"}' 127.0.0.1:50051 user.UserService/GetUserInfo"
                                }),
                        )
                        .labelled_by(l.id);
                    }
                }
                collection_picker(ui, &self.collections, root);
                // What went wrong shows here, where the user acted (not behind the dialog).
                if let Some(Err(message)) = &self.collections.notice {
                    ui.colored_label(ui.visuals().error_fg_color, message);
                }
                let mut done = false;
                // The import runs on the backend; the window stays live and shows how far it
                // got.
                let importing = self.collections.importing;
                if let Some((written, total)) = importing {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        if total == 0 {
                            ui.label("Reading…");
                        } else {
                            ui.add(
                                egui::ProgressBar::new(written as f32 / total as f32)
                                    .desired_width(240.0)
                                    .text(format!("{written} of {total} requests written")),
                            );
                        }
                    });
                }
                ui.horizontal(|ui| {
                    let ok = !text.trim().is_empty() && root.is_some() && importing.is_none();
                    if ui.add_enabled(ok, egui::Button::new("Import")).clicked()
                        && let Some(root) = root.clone()
                    {
                        let source = match kind {
                            ImportKind::Curl => ImportSource::Curl(text.clone()),
                            ImportKind::Grpcurl => ImportSource::Grpcurl(text.clone()),
                            ImportKind::Postman => {
                                ImportSource::Postman(PathBuf::from(text.trim()))
                            }
                        };
                        self.collections.open_imported = *kind != ImportKind::Postman;
                        self.collections.importing = Some((0, 0));
                        self.collections.notice = None;
                        self.collection_op(
                            root,
                            CollectionOp::Import {
                                source,
                                folder: String::new(),
                            },
                        );
                    }
                    if ui.button("Cancel").clicked() {
                        done = true;
                    }
                });
                !done
            }
            Dialog::OpenFolder { path } => {
                ui.heading("Open a collection");
                ui.horizontal(|ui| {
                    let l = ui.label("Folder");
                    ui.add(egui::TextEdit::singleline(path).desired_width(300.0))
                        .labelled_by(l.id);
                    if ui.button("Browse…").clicked() {
                        self.backend_command(Command::PickPath {
                            purpose: PathPurpose::CollectionFolder,
                        });
                    }
                });
                let mut done = false;
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(!path.trim().is_empty(), egui::Button::new("Open"))
                        .clicked()
                    {
                        self.open_collection(PathBuf::from(path.trim()));
                        done = true;
                    }
                    if ui.button("Cancel").clicked() {
                        done = true;
                    }
                });
                !done
            }
            Dialog::NewCollection { name } => {
                ui.heading("New collection");
                let l = ui.label("Collection name");
                ui.text_edit_singleline(name).labelled_by(l.id);
                let root = self
                    .collections
                    .data_dir
                    .join("collections")
                    .join(crate::engine::collection::slug(name));
                ui.label(
                    RichText::new(format!("in {}", root.display()))
                        .small()
                        .weak(),
                );
                let mut done = false;
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(!name.trim().is_empty(), egui::Button::new("Create"))
                        .clicked()
                    {
                        self.collection_op(
                            root.clone(),
                            CollectionOp::Create {
                                name: name.trim().to_string(),
                            },
                        );
                        self.collections.current = Some(root.clone());
                        done = true;
                    }
                    if ui.button("Cancel").clicked() {
                        done = true;
                    }
                });
                !done
            }
            Dialog::Environment {
                root,
                name,
                variables,
                expected,
                new,
            } => {
                ui.heading(if *new {
                    "New environment".to_string()
                } else {
                    format!("Environment {name}")
                });
                if *new {
                    let l = ui.label("Environment name");
                    ui.text_edit_singleline(name).labelled_by(l.id);
                }
                ui.label(
                    RichText::new("Secret values are kept in the local secret store, never in the collection folder.")
                        .small()
                        .weak(),
                );
                let mut remove = None;
                egui::Grid::new("env-vars").num_columns(4).show(ui, |ui| {
                    ui.label(RichText::new("name").weak());
                    ui.label(RichText::new("value").weak());
                    ui.label(RichText::new("secret").weak());
                    ui.end_row();
                    for (i, v) in variables.iter_mut().enumerate() {
                        ui.add_sized(
                            [140.0, 20.0],
                            egui::TextEdit::singleline(&mut v.name).hint_text("name"),
                        );
                        ui.add_sized(
                            [220.0, 20.0],
                            egui::TextEdit::singleline(&mut v.value)
                                .password(v.secret)
                                .hint_text("value"),
                        );
                        ui.checkbox(&mut v.secret, "");
                        if ui.small_button("Remove").clicked() {
                            remove = Some(i);
                        }
                        ui.end_row();
                    }
                });
                if let Some(i) = remove {
                    variables.remove(i);
                }
                if ui.small_button("+ Add variable").clicked() {
                    variables.push(Variable::new("", ""));
                }
                let mut done = false;
                ui.horizontal(|ui| {
                    let valid = !name.trim().is_empty();
                    if ui
                        .add_enabled(valid, egui::Button::new("Save environment"))
                        .clicked()
                    {
                        self.collection_op(
                            root.clone(),
                            CollectionOp::SaveEnvironment {
                                name: name.trim().to_string(),
                                variables: variables.clone(),
                                expected: expected.clone(),
                            },
                        );
                    }
                    if ui.button("Cancel").clicked() {
                        done = true;
                    }
                });
                !done
            }
            Dialog::ClearHistory => {
                ui.heading("Clear history");
                ui.label(format!(
                    "Forget all {} exchanges, on disk too?",
                    self.history.len()
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
    }
}

/// A name for a new request: `GET /user/1`, `user.UserService/GetUserInfo`…
pub(super) fn default_name(app: &SwitchboardApp, kind: EditorKind) -> String {
    let s = &app.settings;
    match kind {
        EditorKind::Http => {
            let path = s
                .http
                .url
                .split_once("://")
                .map_or(s.http.url.as_str(), |(_, r)| r);
            let path = path.find('/').map_or("/", |i| &path[i..]);
            format!("{} {path}", s.http.method)
        }
        EditorKind::Grpc => s
            .grpc
            .method
            .rsplit('/')
            .next()
            .unwrap_or("call")
            .to_string(),
        EditorKind::Amqp => format!("Publish {}", s.amqp.routing_key),
        EditorKind::Nats => format!("{} {}", s.nats.op.label(), s.nats.subject),
        EditorKind::Kafka => format!("Produce {}", s.kafka.topic),
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
