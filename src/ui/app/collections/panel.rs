//! The collections tree in the side panel, and collection runs with their results.

use super::*;

impl SwitchboardApp {
    /// The side panel's collection tree.
    pub(crate) fn collections_panel_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("Collections");
        });
        ui.horizontal_wrapped(|ui| {
            if ui
                .small_button("Open…")
                .on_hover_text("Open a collection folder")
                .clicked()
            {
                self.collections.dialog = Some(Dialog::OpenFolder {
                    path: String::new(),
                });
            }
            if ui
                .small_button("New…")
                .on_hover_text("A new, empty collection in the data directory")
                .clicked()
            {
                self.collections.dialog = Some(Dialog::NewCollection {
                    name: String::new(),
                });
            }
            if ui
                .small_button("Import…")
                .on_hover_text("curl or grpcurl command lines, Postman v2.1 collections")
                .clicked()
            {
                self.collections.notice = None;
                self.collections.dialog = Some(Dialog::Import {
                    kind: ImportKind::Curl,
                    text: String::new(),
                    root: self.collections.scope_root(self.settings.current_kind()),
                });
            }
        });
        if let Some(notice) = self.collections.notice.clone() {
            ui.horizontal_wrapped(|ui| {
                match &notice {
                    Ok(text) => ui.label(RichText::new(text).small().weak()),
                    Err(text) => ui.colored_label(ui.visuals().error_fg_color, text),
                };
                if ui
                    .small_button("Dismiss")
                    .on_hover_text("Dismiss")
                    .clicked()
                {
                    self.collections.notice = None;
                }
            });
        }
        let mut open = None;
        let mut close = None;
        let mut ops = Vec::new();
        let mut run_action = None;
        let mut reload = None;
        let active: Vec<(PathBuf, String)> = self
            .collections
            .active
            .values()
            .map(|a| (a.root.clone(), a.rel.clone()))
            .collect();
        for opened in &self.collections.opened {
            let root = opened.root.clone();
            let title = match &opened.collection {
                Some(Ok(c)) => c.name(),
                _ => root
                    .file_name()
                    .map_or_else(|| root_key(&root), |n| n.to_string_lossy().into_owned()),
            };
            egui::CollapsingHeader::new(RichText::new(title).strong())
                .id_salt(("collection", &root))
                .default_open(true)
                .show(ui, |ui| match &opened.collection {
                    None => {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label("loading…");
                        });
                    }
                    Some(Err(reason)) => {
                        ui.colored_label(ui.visuals().error_fg_color, reason.to_string());
                        if ui.small_button("Close").clicked() {
                            close = Some(root.clone());
                        }
                    }
                    Some(Ok(c)) => {
                        ui.label(RichText::new(root_key(&root)).small().weak())
                            .on_hover_text("The collection's folder: one JSON file per request");
                        if let Loaded::Broken { reason } = &c.settings {
                            ui.colored_label(
                                ui.visuals().error_fg_color,
                                format!("collection.json: {reason}"),
                            );
                        }
                        for env in &c.environments {
                            if let Loaded::Broken { reason } = &env.file {
                                ui.colored_label(
                                    ui.visuals().error_fg_color,
                                    format!("environment {}: {reason}", env.name),
                                );
                            }
                        }
                        ui.horizontal_wrapped(|ui| {
                            run_ui(
                                ui,
                                c,
                                &root,
                                self.collections.runs.get(&root),
                                &mut run_action,
                            );
                            if ui
                                .small_button("Reload")
                                .on_hover_text(
                                    "Read the folder again (after a git pull, another editor…)",
                                )
                                .clicked()
                            {
                                reload = Some(root.clone());
                            }
                            if ui
                                .small_button("Close")
                                .on_hover_text("Close (the files stay)")
                                .clicked()
                            {
                                close = Some(root.clone());
                            }
                        });
                        run_results_ui(
                            ui,
                            &root,
                            self.collections.runs.get(&root),
                            &mut run_action,
                        );
                        tree_ui(ui, c, "", &root, &active, &mut open, &mut ops);
                        if c.items.is_empty() {
                            ui.label(
                                RichText::new("No requests yet: Save an editor's request here.")
                                    .small()
                                    .weak(),
                            );
                        }
                    }
                });
        }
        if let Some((root, rel)) = open {
            self.open_request(&root, &rel);
        }
        match run_action {
            Some(RunAction::Start(root)) => self.run_collection(&root),
            Some(RunAction::Stop(id)) => self.backend_command(Command::Cancel { id }),
            Some(RunAction::Show(seq)) => {
                self.history_view.selected = Some(seq);
                self.history_view.compare = false;
                self.settings.view = crate::ui::settings::MainView::Requests;
            }
            None => {}
        }
        if let Some(root) = close {
            self.close_collection(&root);
        }
        if let Some(root) = reload {
            self.collection_op(root, CollectionOp::Open);
        }
        for (root, op) in ops {
            match op {
                TreeOp::Backend(op) => self.collection_op(root, op),
                TreeOp::Copy(text) => {
                    ui.ctx().copy_text(text);
                    self.collections.notice = Some(Ok("copied".to_string()));
                }
                TreeOp::Dialog(d) => self.collections.dialog = Some(d),
            }
        }
    }
}

pub(super) enum RunAction {
    Start(PathBuf),
    Stop(u64),
    Show(u64),
}

/// The collection's Run button or progress, and the last run's summary.
pub(super) fn run_ui(
    ui: &mut egui::Ui,
    c: &Collection,
    root: &Path,
    run: Option<&CollectionRun>,
    action: &mut Option<RunAction>,
) {
    {
        match run {
            Some(r) if !r.done => {
                ui.spinner();
                ui.label(format!("running {}/{}", r.results.len(), r.total));
                if ui.small_button("Stop").clicked() {
                    *action = Some(RunAction::Stop(r.id));
                }
            }
            _ => {
                if ui
                    .add_enabled(!c.items.is_empty(), egui::Button::new("Run all").small())
                    .on_hover_text(
                        "Send every request in order and check its expectations (like `switchboard run`)",
                    )
                    .clicked()
                {
                    *action = Some(RunAction::Start(root.to_path_buf()));
                }
            }
        }
        if let Some(r) = run {
            let failed = r.results.iter().filter(|(x, _)| !x.passed).count();
            let skipped = r
                .results
                .iter()
                .filter(|(x, _)| x.skipped.is_some())
                .count();
            let passed = r.results.len() - failed - skipped;
            let text = format!("{passed} passed, {failed} failed, {skipped} skipped");
            if failed > 0 {
                ui.colored_label(ui.visuals().error_fg_color, RichText::new(text).small());
            } else {
                ui.label(RichText::new(text).small());
            }
        }
    }
}

/// The last run's results, one line each (click one to show its exchange).
pub(super) fn run_results_ui(
    ui: &mut egui::Ui,
    root: &Path,
    run: Option<&CollectionRun>,
    action: &mut Option<RunAction>,
) {
    let Some(r) = run.filter(|r| !r.results.is_empty()) else {
        return;
    };
    egui::CollapsingHeader::new("Last run")
        .id_salt(("last-run", root))
        .default_open(true)
        .show(ui, |ui| {
            for (result, seqs) in &r.results {
                let (mark, color) = if result.skipped.is_some() {
                    ("skip", ui.visuals().weak_text_color())
                } else if result.passed {
                    ("pass", egui::Color32::from_rgb(0x5c, 0xb8, 0x5c))
                } else {
                    ("FAIL", ui.visuals().error_fg_color)
                };
                let why = result
                    .error
                    .clone()
                    .or_else(|| result.skipped.clone())
                    .or_else(|| {
                        let failed: Vec<String> = result
                            .checks
                            .iter()
                            .filter(|c| !c.passed)
                            .map(|c| match &c.found {
                                Some(f) => format!("{} (got {f})", c.what),
                                None => c.what.clone(),
                            })
                            .collect();
                        (!failed.is_empty()).then(|| failed.join("; "))
                    })
                    .unwrap_or_else(|| "all checks passed".to_string());
                ui.horizontal(|ui| {
                    ui.add_sized(
                        [34.0, 16.0],
                        egui::Label::new(RichText::new(mark).small().monospace().color(color)),
                    );

                    let response = ui
                        .selectable_label(false, RichText::new(&result.name).small())
                        .on_hover_text(&why);
                    if response.clicked()
                        && let Some(&seq) = seqs.last()
                    {
                        *action = Some(RunAction::Show(seq));
                    }
                });
                if !result.passed {
                    ui.label(
                        RichText::new(why)
                            .small()
                            .color(ui.visuals().error_fg_color),
                    );
                }
            }
        });
}

pub(super) enum TreeOp {
    Backend(CollectionOp),
    Copy(String),
    Dialog(Dialog),
}

/// One folder level of a collection: sub-folders (collapsible), then requests.
pub(super) fn tree_ui(
    ui: &mut egui::Ui,
    c: &Collection,
    folder: &str,
    root: &Path,
    active: &[(PathBuf, String)],
    open: &mut Option<(PathBuf, String)>,
    ops: &mut Vec<(PathBuf, TreeOp)>,
) {
    for sub in c
        .folders
        .iter()
        .filter(|f| f.rsplit_once('/').map_or("", |(parent, _)| parent) == folder)
    {
        let label = sub.rsplit('/').next().unwrap_or(sub);
        egui::CollapsingHeader::new(label)
            .id_salt(("folder", root, sub))
            .default_open(true)
            .show(ui, |ui| tree_ui(ui, c, sub, root, active, open, ops));
    }
    for item in c.items.iter().filter(|i| i.folder() == folder) {
        ui.horizontal(|ui| {
            ui.add_sized(
                [38.0, 16.0],
                egui::Label::new(RichText::new(kind_badge(item)).small().monospace().weak()),
            );
            match &item.file {
                Loaded::Broken { reason } => {
                    let text = RichText::new(format!(
                        "(broken) {}",
                        item.rel.rsplit('/').next().unwrap_or(&item.rel)
                    ))
                    .color(ui.visuals().error_fg_color);
                    if ui
                        .selectable_label(false, text)
                        .on_hover_text(format!(
                            "{reason}\nThe file is shown as is and never overwritten or deleted by Switchboard."
                        ))
                        .clicked()
                    {
                        *open = Some((root.to_path_buf(), item.rel.clone()));
                    }
                }
                Loaded::Ok { value, raw } => {
                    let selected = active.iter().any(|(r, rel)| r == root && *rel == item.rel);
                    let response = ui
                        .selectable_label(selected, &value.name)
                        .on_hover_text(&item.rel);
                    if response.clicked() {
                        *open = Some((root.to_path_buf(), item.rel.clone()));
                    }
                    response.context_menu(|ui| {
                        if ui.button("Open").clicked() {
                            *open = Some((root.to_path_buf(), item.rel.clone()));
                            ui.close();
                        }
                        if ui.small_button("Duplicate").clicked() {
                            ops.push((
                                root.to_path_buf(),
                                TreeOp::Backend(CollectionOp::Duplicate {
                                    rel: item.rel.clone(),
                                }),
                            ));
                            ui.close();
                        }
                        if let Ok(line) = import::export(value)
                            && ui.button("Copy as command line").clicked()
                        {
                            ops.push((root.to_path_buf(), TreeOp::Copy(line)));
                            ui.close();
                        }
                        if ui.small_button("Delete…").clicked() {
                            // Deleting works on the open request: open it, then ask.
                            *open = Some((root.to_path_buf(), item.rel.clone()));
                            ops.push((
                                root.to_path_buf(),
                                TreeOp::Dialog(Dialog::Delete {
                                    kind: EditorKind::of(&value.spec),
                                }),
                            ));
                            ui.close();
                        }
                        let _ = raw;
                    });
                }
            }
        });
        if let Loaded::Broken { reason } = &item.file {
            ui.label(
                RichText::new(reason)
                    .small()
                    .color(ui.visuals().error_fg_color),
            );
        }
    }
}
