//! What the app does when a collection operation comes back: the tree, the editors and the notices follow what is on disk.

use super::*;

impl SwitchboardApp {
    /// Applies the end of a collection operation.
    pub(crate) fn collection_done(
        &mut self,
        root: PathBuf,
        op: CollectionOp,
        result: Result<OpDone, OpError>,
        collection: Result<Collection, BackendError>,
        secrets: SecretStore,
    ) {
        if matches!(op, CollectionOp::Import { .. }) {
            self.collections.importing = None;
        }
        self.collections.secrets = secrets;
        self.collections.generation += 1;
        match self.collections.opened.iter_mut().find(|o| o.root == root) {
            Some(o) => o.collection = Some(collection),
            None => {
                if !matches!(op, CollectionOp::Open) || collection.is_ok() {
                    self.collections.opened.push(Opened {
                        root: root.clone(),
                        collection: Some(collection),
                    });
                    if !self.settings.collection_roots.contains(&root) {
                        self.settings.collection_roots.push(root.clone());
                    }
                }
            }
        }
        let find_kind = |app: &Self, rel: &str| {
            app.collections
                .active
                .iter()
                .find(|(_, a)| a.root == root && a.rel == rel)
                .map(|(k, _)| *k)
        };
        self.relink(&root);
        match result {
            Ok(OpDone::Opened) => {
                self.refresh_actives(&root);
                if let Some((r, rel)) = self.collections.pending_open.take() {
                    if r == root {
                        self.force_open(&root, &rel);
                    } else {
                        self.collections.pending_open = Some((r, rel));
                    }
                }
            }
            Ok(OpDone::Saved { rel, request, raw }) => {
                let kind = EditorKind::of(&request.spec);
                // The editor shows what was written: credentials became {{references}}.
                if self.settings.to_saved(kind, &request.name, Some(&request)) != *request {
                    self.settings.apply_saved(&request);
                }
                self.collections.active.insert(
                    kind,
                    Active {
                        root: root.clone(),
                        rel: rel.clone(),
                        baseline: *request,
                        raw,
                    },
                );
                self.collections.current = Some(root.clone());
                self.collections.notice = Some(Ok(format!("saved {rel}")));
                self.collections.dialog = None;
            }
            Ok(OpDone::Moved {
                from,
                to,
                request,
                raw,
            }) => {
                if let Some(kind) = find_kind(self, &from) {
                    self.collections.active.insert(
                        kind,
                        Active {
                            root: root.clone(),
                            rel: to.clone(),
                            baseline: *request,
                            raw,
                        },
                    );
                }
                self.collections.notice = Some(Ok(if from == to {
                    format!("renamed {to}")
                } else {
                    format!("moved {from} to {to}")
                }));
                self.collections.dialog = None;
            }
            Ok(OpDone::Duplicated { rel }) => {
                self.collections.notice = Some(Ok(format!("duplicated as {rel}")));
            }
            Ok(OpDone::Deleted { rel }) => {
                if let Some(kind) = find_kind(self, &rel) {
                    // The editor keeps its content, now unsaved.
                    self.collections.active.remove(&kind);
                }
                self.collections.notice = Some(Ok(format!("deleted {rel}")));
                self.collections.dialog = None;
            }
            Ok(OpDone::EnvironmentSaved { name }) => {
                self.set_environment(&root, Some(name.clone()));
                self.collections.notice = Some(Ok(format!("saved environment {name}")));
                self.collections.dialog = None;
            }
            Ok(OpDone::Imported { rels, warnings }) => {
                let mut text = format!("imported {} request(s)", rels.len());
                for w in &warnings {
                    text.push_str(&format!("; {w}"));
                }
                self.collections.notice = Some(Ok(text));
                self.collections.dialog = None;
                if std::mem::take(&mut self.collections.open_imported)
                    && let [rel] = rels.as_slice()
                {
                    self.force_open(&root, rel);
                }
            }
            Err(OpError::Conflict(message)) => {
                self.collections.dialog = Some(Dialog::Conflict {
                    root,
                    op: Box::new(op),
                    message,
                });
            }
            Err(OpError::Failed(message)) => {
                self.collections.notice = Some(Err(message));
            }
        }
    }
}
