//! The bars above the editor: which saved request is open (save, rename, duplicate) and the environment.

use super::*;

impl SwitchboardApp {
    /// The bar above the editor: which saved request it holds, its actions, the environment.
    pub(crate) fn request_bar_ui(&mut self, ui: &mut egui::Ui) {
        let kind = self.settings.current_kind();
        let active = self.collections.active.get(&kind).cloned();
        let (dirty, _) = self.editor_status(kind);
        ui.horizontal_wrapped(|ui| match &active {
            Some(a) => {
                let collection = self
                    .collections
                    .collection(&a.root)
                    .map(Collection::name)
                    .unwrap_or_default();
                let folder = a.rel.rsplit_once('/').map_or("", |(f, _)| f);
                let mut path = collection;
                if !folder.is_empty() {
                    path.push_str(&format!(" / {}", folder));
                }
                ui.label(RichText::new(path).small().weak());
                ui.label(RichText::new(&a.baseline.name).strong())
                    .on_hover_text(a.root.join(&a.rel).display().to_string());
                if dirty {
                    ui.label(RichText::new("* unsaved").color(ui.visuals().warn_fg_color))
                        .on_hover_text("The editor differs from the saved file");
                }
                if ui
                    .add_enabled(dirty, egui::Button::new("Save").small())
                    .on_hover_text("Write the editor over the saved file (Ctrl+S)")
                    .clicked()
                {
                    self.save_active(kind);
                }
                if ui.small_button("Save as…").clicked() {
                    self.start_save_as(kind);
                }
                if ui.small_button("Rename…").clicked() {
                    self.collections.dialog = Some(Dialog::Rename {
                        kind,
                        name: a.baseline.name.clone(),
                    });
                }
                if ui.small_button("Duplicate").clicked() {
                    self.collection_op(
                        a.root.clone(),
                        CollectionOp::Duplicate { rel: a.rel.clone() },
                    );
                }
                if ui.small_button("Move…").clicked() {
                    self.collections.dialog = Some(Dialog::Move {
                        kind,
                        folder: folder.to_string(),
                    });
                }
                if ui.small_button("Delete…").clicked() {
                    self.collections.dialog = Some(Dialog::Delete { kind });
                }
                if ui
                    .small_button("New")
                    .on_hover_text("Detach the editor from this file (keeps its content)")
                    .clicked()
                {
                    self.collections.active.remove(&kind);
                }
                // Shown (greyed while this request has changes) as long as there is one to go
                // back to: the bar keeps its layout when an edit makes it unavailable.
                if let Some(scratch) = self.collections.scratch.get(&kind).cloned()
                    && ui
                        .add_enabled(!dirty, egui::Button::new("Back to the unsaved request").small())
                        .on_hover_text(
                            "The request you were editing before you opened this one is kept",
                        )
                        .on_disabled_hover_text(
                            "Save or undo the changes to this request first: going back would lose them",
                        )
                        .clicked()
                {
                    self.collections.active.remove(&kind);
                    self.settings.apply_saved(&scratch);
                    self.collections.scratch.remove(&kind);
                    if let Some(tab) = kind.tab() {
                        self.outcomes.remove(&tab);
                    }
                }
            }
            None => {
                ui.label(RichText::new(format!("Unsaved {} request", kind.label())).weak());
                if ui
                    .button("Save to collection…")
                    .on_hover_text("Keep this request in a collection folder (Ctrl+S)")
                    .clicked()
                {
                    self.start_save_as(kind);
                }
            }
        });
        let save_shortcut = ui.input_mut(|i| {
            i.consume_shortcut(&egui::KeyboardShortcut::new(
                egui::Modifiers::COMMAND,
                egui::Key::S,
            ))
        });
        if save_shortcut {
            self.save_active(kind);
        }
        if kind != EditorKind::Watch {
            self.environment_bar_ui(ui, kind);
        }
    }

    pub(super) fn environment_bar_ui(&mut self, ui: &mut egui::Ui, kind: EditorKind) {
        let root = self.collections.scope_root(kind);
        let (_, unresolved) = self.editor_status(kind);
        ui.horizontal_wrapped(|ui| {
            // Only names are copied each frame; the environment itself when it is edited.
            let names = root.as_ref().and_then(|r| {
                let c = self.collections.collection(r)?;
                Some((
                    c.name(),
                    c.environments
                        .iter()
                        .map(|e| e.name.clone())
                        .collect::<Vec<_>>(),
                ))
            });
            if let Some(root) = root.clone()
                && let Some((collection_name, environments)) = names
            {
                let current = self.environment_of(&root);
                let label = ui.label("Environment");
                let mut chosen = None;
                egui::ComboBox::from_id_salt("environment")
                    .selected_text(current.clone().unwrap_or_else(|| "(none)".to_string()))
                    .show_ui(ui, |ui| {
                        if ui.selectable_label(current.is_none(), "(none)").clicked() {
                            chosen = Some(None);
                        }
                        for env in &environments {
                            let selected = current.as_deref() == Some(env.as_str());
                            if ui.selectable_label(selected, env).clicked() {
                                chosen = Some(Some(env.clone()));
                            }
                        }
                    })
                    .response
                    .labelled_by(label.id)
                    .on_hover_text(format!("Variables of {collection_name}"));
                if let Some(choice) = chosen {
                    self.set_environment(&root, choice);
                }
                if let Some(name) = current.clone()
                    && ui.small_button("Edit…").on_hover_text("Edit this environment's variables").clicked()
                {
                    let env = self
                        .collections
                        .collection(&root)
                        .and_then(|c| c.environment(&name))
                        .cloned();
                    let env = env.as_ref();
                    let mut variables = env
                        .and_then(|e| e.file.ok())
                        .map(|e| e.variables.clone())
                        .unwrap_or_default();
                    let key = self
                        .collections
                        .collection(&root)
                        .map(|c| c.secret_key.clone())
                        .unwrap_or_default();
                    for v in variables.iter_mut().filter(|v| v.secret) {
                        v.value = self
                            .collections
                            .secrets
                            .get(&key, &name, &v.name)
                            .unwrap_or_default()
                            .to_string();
                    }
                    let expected = match env.and_then(|e| e.file.raw()) {
                        Some(raw) => Expected::Bytes(raw.to_vec()),
                        None => Expected::Nothing,
                    };
                    if env.is_some_and(|e| e.file.ok().is_none()) {
                        self.collections.notice = Some(Err(format!(
                            "environment {name} cannot be read: fix its file first"
                        )));
                    } else {
                        self.collections.dialog = Some(Dialog::Environment {
                            root: root.clone(),
                            name,
                            variables,
                            expected,
                            new: false,
                        });
                    }
                }
                if ui.small_button("New environment…").clicked() {
                    self.collections.dialog = Some(Dialog::Environment {
                        root: root.clone(),
                        name: String::new(),
                        variables: vec![Variable::new("", "")],
                        expected: Expected::Nothing,
                        new: true,
                    });
                }
            } else {
                // Same height as the switcher, so the editor does not jump when it appears.
                ui.label("Environment");
                ui.label(RichText::new("no collection open").weak());
            }
            if matches!(kind, EditorKind::Http | EditorKind::Grpc) {
                let what = if kind == EditorKind::Http {
                    "curl"
                } else {
                    "grpcurl"
                };
                if ui
                    .small_button(format!("Copy as {what}"))
                    .on_hover_text("The request as a command line ({{variables}} as written)")
                    .clicked()
                {
                    match import::export(&self.editor_request(kind)) {
                        Ok(line) => {
                            ui.ctx().copy_text(line);
                            self.collections.notice = Some(Ok(format!("copied as {what}")));
                        }
                        Err(e) => self.collections.notice = Some(Err(e.to_string())),
                    }
                }
            }
            if !unresolved.is_empty() {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!(
                        "Unresolved: {}",
                        crate::engine::collection::vars::braced(&unresolved)
                    ),
                )
                .on_hover_text("Define them in the environment or collection, or set SWITCHBOARD_VAR_<NAME>; the request is not sent until they resolve");
            }
        });
    }
}
