//! The dialogs that bring collections in and shape them: import (Postman, curl, OpenAPI…),
//! open a folder, new collection, and an environment's variables.

use super::dialogs::collection_picker;
use super::*;

impl SwitchboardApp {
    /// The Import dialog; false when it is done.
    pub(super) fn import_dialog(
        &mut self,
        ui: &mut egui::Ui,
        kind: &mut ImportKind,
        text: &mut String,
        root: &mut Option<PathBuf>,
    ) -> bool {
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
                    ImportKind::Postman => ImportSource::Postman(PathBuf::from(text.trim())),
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

    /// The OpenFolder dialog; false when it is done.
    pub(super) fn open_folder_dialog(&mut self, ui: &mut egui::Ui, path: &mut String) -> bool {
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

    /// The NewCollection dialog; false when it is done.
    pub(super) fn new_collection_dialog(&mut self, ui: &mut egui::Ui, name: &mut String) -> bool {
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

    /// The Environment dialog; false when it is done.
    pub(super) fn environment_dialog(
        &mut self,
        ui: &mut egui::Ui,
        root: &Path,
        name: &mut String,
        variables: &mut Vec<Variable>,
        expected: &mut Expected,
        new: &mut bool,
    ) -> bool {
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
            RichText::new(
                "Secret values are kept in the local secret store, never in the collection folder.",
            )
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
                    root.to_path_buf(),
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
}
