//! Collections in the app: the tree in the side panel, the bar above the editor (which saved
//! request is open, unsaved marker, save/rename/duplicate/move/delete, environment switcher,
//! unresolved variables), and their dialogs. File work goes to the backend as
//! [`Command::Collection`]; results come back as [`Event::Collection`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use egui::RichText;

use super::app::SwitchboardApp;
use super::backend::{Command, PathPurpose};
use super::files::{CollectionOp, Expected, ImportSource, OpDone, OpError};
use super::settings::EditorKind;
use crate::engine::collection::{
    Collection, Item, Loaded, SavedRequest, SecretStore, Variable, Vars, import,
};

/// A collection folder open in the side panel.
#[derive(Debug, Clone)]
pub struct Opened {
    pub root: PathBuf,
    pub collection: Option<Result<Collection, String>>,
}

/// The saved request an editor holds: where it lives and what is on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Active {
    pub root: PathBuf,
    pub rel: String,
    pub baseline: SavedRequest,
    pub raw: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Curl,
    Grpcurl,
    Postman,
}

/// A dialog in front of the window.
#[derive(Debug, Clone, PartialEq)]
pub enum Dialog {
    SaveAs {
        kind: EditorKind,
        name: String,
        root: Option<PathBuf>,
        folder: String,
    },
    Rename {
        kind: EditorKind,
        name: String,
    },
    Move {
        kind: EditorKind,
        folder: String,
    },
    Delete {
        kind: EditorKind,
    },
    /// The saved watch has unsaved changes and another one is being opened.
    Discard {
        root: PathBuf,
        rel: String,
    },
    /// Closing a request tab that holds unsaved changes.
    CloseTab {
        index: usize,
    },
    Conflict {
        root: PathBuf,
        op: Box<CollectionOp>,
        message: String,
    },
    Import {
        kind: ImportKind,
        text: String,
        root: Option<PathBuf>,
    },
    OpenFolder {
        path: String,
    },
    NewCollection {
        name: String,
    },
    Environment {
        root: PathBuf,
        name: String,
        variables: Vec<Variable>,
        expected: Expected,
        new: bool,
    },
    ClearHistory,
}

/// Collections as the app sees them.
#[derive(Debug, Default)]
pub struct CollectionsState {
    pub opened: Vec<Opened>,
    pub secrets: SecretStore,
    pub active: HashMap<EditorKind, Active>,
    /// Each editor's unsaved (scratch) request, kept when a saved request was opened over it:
    /// *Back to the unsaved request* brings it back (never thrown away silently).
    pub scratch: HashMap<EditorKind, SavedRequest>,
    /// The collection whose environment and variables apply to editors without a saved
    /// request.
    pub current: Option<PathBuf>,
    pub dialog: Option<Dialog>,
    /// The last thing that happened (or went wrong).
    pub notice: Option<Result<String, String>>,
    /// Where new collections go.
    pub data_dir: PathBuf,
    /// Open this request once its collection is (re)loaded.
    pending_open: Option<(PathBuf, String)>,
    /// Open the next imported request.
    open_imported: bool,
    /// An import running on the backend: (requests written, total; 0 of 0 while reading).
    pub importing: Option<(usize, usize)>,
    /// Editors' links from the last session, waiting for their collections to load.
    relink: Vec<super::settings::OpenRequest>,
    /// The last run of each collection.
    pub runs: HashMap<PathBuf, CollectionRun>,
    /// Bumped whenever a collection or the secrets come back from the backend.
    generation: u64,
    /// The bar's unsaved marker and unresolved variables, and what they were computed from.
    status: Option<(StatusInputs, bool, Vec<String>)>,
}

/// What an editor's status depends on. Compared every frame (cheap); the status itself —
/// which converts the editor to a saved request and fills its variables — is recomputed only
/// when these change.
/// What an editor held when its status was computed (the status is cached until it changes).
#[derive(Debug, Clone, PartialEq)]
enum EditorSnapshot {
    Http(super::settings::HttpEditor),
    Grpc(super::settings::GrpcEditor),
    Amqp(super::settings::AmqpEditor),
    Nats(crate::engine::nats::NatsRequest),
    Kafka(crate::engine::kafka::KafkaRequest),
    Watch(super::viewer::WatchForm, String),
}

#[derive(Debug, Clone, PartialEq)]
struct StatusInputs {
    editor: EditorSnapshot,
    active: Option<Active>,
    root: Option<PathBuf>,
    environment: Option<String>,
    generation: u64,
    demo_bound: bool,
}

/// A run of a whole collection from the app.
#[derive(Debug, Clone)]
pub struct CollectionRun {
    pub id: u64,
    /// Requests in the collection when it started.
    pub total: usize,
    /// Each request's result and the history entries of its exchanges.
    pub results: Vec<(crate::engine::collection::run::RunResult, Vec<u64>)>,
    pub done: bool,
}

impl CollectionsState {
    /// Links to reattach once their collections are loaded (see `relink`).
    pub(crate) fn relink_later(&mut self, links: Vec<super::settings::OpenRequest>) {
        self.relink.extend(links);
    }

    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            ..Default::default()
        }
    }

    pub fn collection(&self, root: &Path) -> Option<&Collection> {
        self.opened
            .iter()
            .find(|o| o.root == root)?
            .collection
            .as_ref()?
            .as_ref()
            .ok()
    }

    /// The collection editors resolve variables against: the open request's, else the
    /// current one, else the first open.
    pub fn scope_root(&self, kind: EditorKind) -> Option<PathBuf> {
        self.active
            .get(&kind)
            .map(|a| a.root.clone())
            .or_else(|| self.current.clone())
            .or_else(|| self.opened.first().map(|o| o.root.clone()))
    }
}

fn root_key(root: &Path) -> String {
    root.display().to_string()
}

fn kind_badge(item: &Item) -> String {
    match item.file.ok().map(|r| &r.spec) {
        // Lower case, so the badges are not taken for the transport tabs' labels.
        Some(crate::engine::collection::SavedSpec::Http(h)) => h.method.to_ascii_lowercase(),
        Some(spec) => spec.kind().to_ascii_lowercase(),
        None => "!".to_string(),
    }
}

impl SwitchboardApp {
    /// Opens the collections remembered in the settings (or installs the sample on first run).
    /// Opens the collections remembered in the settings and those in the data directory (the
    /// sample is written there on first launch).
    pub(crate) fn open_collections_at_start(&mut self) {
        self.collections.relink = self.settings.open_requests.clone();
        for root in self.settings.collection_roots.clone() {
            self.open_collection(root);
        }
        self.backend_command(Command::FindCollections {
            install_sample: !self.settings.collections_initialized,
        });
    }

    /// A folder or Postman file the file dialog answered with: it fills the open dialog's field.
    pub(crate) fn picked_for_collections(&mut self, purpose: PathPurpose, path: Option<PathBuf>) {
        let Some(path) = path else {
            if purpose == PathPurpose::CollectionFolder {
                self.collections.notice = Some(Err(
                    "no folder chosen (or no file dialog on this system): type its path"
                        .to_string(),
                ));
            }
            return;
        };
        match (purpose, self.collections.dialog.as_mut()) {
            (PathPurpose::CollectionFolder, Some(Dialog::OpenFolder { path: field }))
            | (PathPurpose::Postman, Some(Dialog::Import { text: field, .. })) => {
                *field = path.display().to_string();
            }
            (PathPurpose::CollectionFolder, _) => self.open_collection(path),
            _ => {}
        }
    }

    /// Opens (or reloads) a collection folder in the side panel.
    pub fn open_collection(&mut self, root: PathBuf) {
        if !self.collections.opened.iter().any(|o| o.root == root) {
            self.collections.opened.push(Opened {
                root: root.clone(),
                collection: None,
            });
        }
        if !self.settings.collection_roots.contains(&root) {
            self.settings.collection_roots.push(root.clone());
        }
        self.settings.closed_collections.retain(|r| r != &root);
        self.collection_op(root, CollectionOp::Open);
    }

    pub fn close_collection(&mut self, root: &Path) {
        // Closing sticks, even for the collections in the data directory.
        if !self.settings.closed_collections.iter().any(|r| r == root) {
            self.settings.closed_collections.push(root.to_path_buf());
        }
        self.collections.opened.retain(|o| o.root != root);
        self.settings.collection_roots.retain(|r| r != root);
        self.collections.active.retain(|_, a| a.root != root);
        if self.collections.current.as_deref() == Some(root) {
            self.collections.current = None;
        }
    }

    pub(crate) fn collection_op(&mut self, root: PathBuf, op: CollectionOp) {
        self.backend_command(Command::Collection {
            root,
            op: Box::new(op),
        });
    }

    /// Which saved request each editor holds, to remember between launches.
    pub fn open_requests(&self) -> Vec<super::settings::OpenRequest> {
        let mut out: Vec<_> = self
            .collections
            .active
            .iter()
            .map(|(kind, a)| super::settings::OpenRequest {
                kind: *kind,
                root: a.root.clone(),
                rel: a.rel.clone(),
            })
            .collect();
        out.sort_by_key(|o| o.kind.label());
        out
    }

    /// After a reload: editors without unsaved changes follow their files' new content; a file
    /// that is gone detaches its editor (which keeps its content). Editors with unsaved changes
    /// keep them (saving then asks, as the file changed).
    fn refresh_actives(&mut self, root: &Path) {
        let kinds: Vec<EditorKind> = self
            .collections
            .active
            .iter()
            .filter(|(_, a)| a.root == root)
            .map(|(k, _)| *k)
            .collect();
        for kind in kinds {
            let Some(active) = self.collections.active.get(&kind).cloned() else {
                continue;
            };
            let now = self
                .collections
                .collection(root)
                .and_then(|c| c.item(&active.rel))
                .map(|i| i.file.clone());
            match now {
                None => {
                    self.collections.active.remove(&kind);
                }
                Some(Loaded::Ok { value, raw }) if raw != active.raw && !self.is_dirty(kind) => {
                    // Refreshed in place: the shown editor stays the shown one.
                    let (view, transport) = (self.settings.view, self.settings.transport);
                    self.settings.apply_saved(&value);
                    self.settings.view = view;
                    self.settings.transport = transport;
                    self.collections.active.insert(
                        kind,
                        Active {
                            baseline: value,
                            raw,
                            ..active
                        },
                    );
                }
                _ => {}
            }
        }
    }

    /// The name of saved request `root`/`rel` as its collection has it now.
    pub(crate) fn saved_name(&self, root: &Path, rel: &str) -> Option<String> {
        match &self.collections.collection(root)?.item(rel)?.file {
            Loaded::Ok { value, .. } => Some(value.name.clone()),
            Loaded::Broken { .. } => None,
        }
    }

    /// Reattaches editors to the files they held last session, keeping the editors' content
    /// (which may have unsaved changes).
    pub(crate) fn relink(&mut self, root: &Path) {
        let waiting = std::mem::take(&mut self.collections.relink);
        for link in waiting {
            if link.root != root {
                self.collections.relink.push(link);
                continue;
            }
            let found = self
                .collections
                .collection(root)
                .and_then(|c| c.item(&link.rel))
                .and_then(|i| match &i.file {
                    Loaded::Ok { value, raw } => Some((value.clone(), raw.clone())),
                    Loaded::Broken { .. } => None,
                });
            if let Some((baseline, raw)) = found
                && EditorKind::of(&baseline.spec) == link.kind
                && !self.collections.active.contains_key(&link.kind)
            {
                self.collections.active.insert(
                    link.kind,
                    Active {
                        root: root.to_path_buf(),
                        rel: link.rel,
                        baseline,
                        raw,
                    },
                );
            }
        }
    }

    /// The variables an editor of `kind` resolves against: its collection with the chosen
    /// environment and the secrets, pointed at the demo as actually bound.
    pub fn vars_for(&self, kind: EditorKind) -> Vars {
        match self.collections.scope_root(kind) {
            Some(root) => self.vars_for_root(&root),
            None => Vars::new(),
        }
    }

    /// The variables of the collection at `root` with its chosen environment and the secrets,
    /// pointed at the demo as actually bound.
    pub fn vars_for_root(&self, root: &Path) -> Vars {
        let Some(collection) = self.collections.collection(root) else {
            return Vars::new();
        };
        let env = self.environment_of(root);
        let mut vars = collection
            .vars(env.as_deref(), &self.collections.secrets)
            .or_else(|_| collection.vars(None, &self.collections.secrets))
            .unwrap_or_else(|_| Vars::new());
        vars.map_values(|v| self.demo_retarget(v));
        vars
    }

    /// A value that names the demo at its default address or exchange, rewritten to where the
    /// demo actually runs (`None`: unchanged).
    fn demo_retarget(&self, value: &str) -> Option<String> {
        let bound = self.demo_config()?;
        let defaults = demo_services::DemoConfig::default();
        if value == defaults.topology.exchange
            && defaults.topology.exchange != bound.topology.exchange
        {
            return Some(bound.topology.exchange.clone());
        }
        [
            (defaults.user_http_addr, bound.user_http_addr),
            (defaults.user_grpc_addr, bound.user_grpc_addr),
            (defaults.order_http_addr, bound.order_http_addr),
        ]
        .iter()
        .map(|(from, to)| (from.to_string(), to.to_string()))
        .find(|(from, to)| from != to && value.contains(from.as_str()))
        .map(|(from, to)| value.replace(from.as_str(), &to))
    }

    /// Runs every request of a collection, in order, with its expectations (like
    /// `switchboard run`); results land in the history and under the collection.
    pub fn run_collection(&mut self, root: &Path) {
        let Some(collection) = self.collections.collection(root) else {
            return;
        };
        let env = self.environment_of(root);
        // Only the values rewritten for the bound demo are passed explicitly.
        let overrides = collection
            .vars(env.as_deref(), &self.collections.secrets)
            .map(|v| {
                v.iter()
                    .filter_map(|(k, v)| self.demo_retarget(v).map(|new| (k.to_string(), new)))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let total = collection.items.len();
        let options = crate::engine::collection::run::RunOptions {
            environment: env,
            vars: overrides,
            names: Vec::new(),
            timeout: self.settings.timeout(),
        };
        let id = self.next_request_id();
        self.backend_command(Command::RunCollection {
            id,
            root: root.to_path_buf(),
            options: Box::new(options),
        });
        self.collections.runs.insert(
            root.to_path_buf(),
            CollectionRun {
                id,
                total,
                results: Vec::new(),
                done: false,
            },
        );
    }

    /// The environment chosen for a collection (none chosen: `local` when there is one).
    pub fn environment_of(&self, root: &Path) -> Option<String> {
        if let Some(name) = self.settings.environments.get(&root_key(root)) {
            return (!name.is_empty()).then(|| name.clone());
        }
        let collection = self.collections.collection(root)?;
        collection
            .environment("local")
            .map(|e| e.name.clone())
            .or_else(|| collection.environments.first().map(|e| e.name.clone()))
    }

    pub fn set_environment(&mut self, root: &Path, name: Option<String>) {
        self.settings
            .environments
            .insert(root_key(root), name.unwrap_or_default());
    }

    /// What the editor of `kind` holds, as it would be saved.
    pub fn editor_request(&self, kind: EditorKind) -> SavedRequest {
        let active = self.collections.active.get(&kind);
        let name = active.map_or_else(|| default_name(self, kind), |a| a.baseline.name.clone());
        self.settings
            .to_saved(kind, &name, active.map(|a| &a.baseline))
    }

    /// Whether the editor of `kind` differs from its file, and the variables it uses that
    /// nothing defines; cached until the editor, its file, the collection or the environment
    /// change (the bar asks every frame).
    pub(crate) fn editor_status(&mut self, kind: EditorKind) -> (bool, Vec<String>) {
        let root = self.collections.scope_root(kind);
        let environment = root.as_deref().and_then(|r| self.environment_of(r));
        let same = self.collections.status.as_ref().is_some_and(|(c, _, _)| {
            let editor_same = match &c.editor {
                EditorSnapshot::Http(e) => kind == EditorKind::Http && *e == self.settings.http,
                EditorSnapshot::Grpc(e) => kind == EditorKind::Grpc && *e == self.settings.grpc,
                EditorSnapshot::Amqp(e) => kind == EditorKind::Amqp && *e == self.settings.amqp,
                EditorSnapshot::Nats(e) => kind == EditorKind::Nats && *e == self.settings.nats,
                EditorSnapshot::Kafka(e) => kind == EditorKind::Kafka && *e == self.settings.kafka,
                EditorSnapshot::Watch(f, url) => {
                    kind == EditorKind::Watch
                        && *f == self.settings.watch_form
                        && *url == self.settings.amqp.url
                }
            };
            editor_same
                && c.active.as_ref() == self.collections.active.get(&kind)
                && c.root == root
                && c.environment == environment
                && c.generation == self.collections.generation
                && c.demo_bound == self.demo_config().is_some()
        });
        if !same {
            let request = self.editor_request(kind);
            let active = self.collections.active.get(&kind).cloned();
            let dirty = active.as_ref().is_some_and(|a| request != a.baseline);
            let unresolved = request.unresolved(&self.vars_for(kind));
            let s = &self.settings;
            let editor = match kind {
                EditorKind::Http => EditorSnapshot::Http(s.http.clone()),
                EditorKind::Grpc => EditorSnapshot::Grpc(s.grpc.clone()),
                EditorKind::Amqp => EditorSnapshot::Amqp(s.amqp.clone()),
                EditorKind::Nats => EditorSnapshot::Nats(s.nats.clone()),
                EditorKind::Kafka => EditorSnapshot::Kafka(s.kafka.clone()),
                EditorKind::Watch => {
                    EditorSnapshot::Watch(s.watch_form.clone(), s.amqp.url.clone())
                }
            };
            let inputs = StatusInputs {
                editor,
                active,
                root,
                environment,
                generation: self.collections.generation,
                demo_bound: self.demo_config().is_some(),
            };
            self.collections.status = Some((inputs, dirty, unresolved));
        }
        self.collections
            .status
            .as_ref()
            .map(|(_, dirty, unresolved)| (*dirty, unresolved.clone()))
            .unwrap_or_default()
    }

    /// True when the editor differs from its saved request.
    pub fn is_dirty(&self, kind: EditorKind) -> bool {
        self.collections
            .active
            .get(&kind)
            .is_some_and(|a| self.editor_request(kind) != a.baseline)
    }

    /// Opens a saved request in its editor (asking first if that editor has unsaved changes).
    pub fn open_request(&mut self, root: &Path, rel: &str) {
        let Some(item) = self
            .collections
            .collection(root)
            .and_then(|c| c.item(rel))
            .cloned()
        else {
            return;
        };
        match item.file {
            Loaded::Broken { reason } => {
                self.collections.notice = Some(Err(format!(
                    "{rel} cannot be opened: {reason}. The file is left as it is; fix it in an editor."
                )));
            }
            Loaded::Ok { value, raw } => {
                let kind = EditorKind::of(&value.spec);
                let same = self
                    .collections
                    .active
                    .get(&kind)
                    .is_some_and(|a| a.root == root && a.rel == rel);
                // Already open in another tab: show that tab.
                if !same && kind != EditorKind::Watch && self.show_tab_holding(root, rel) {
                    return;
                }
                // Unsaved changes stay in their tab; the request opens in a new one.
                if self.is_dirty(kind) && !same {
                    if kind == EditorKind::Watch {
                        self.collections.dialog = Some(Dialog::Discard {
                            root: root.to_path_buf(),
                            rel: rel.to_string(),
                        });
                        return;
                    }
                    self.new_tab();
                } else if !self.collections.active.contains_key(&kind) {
                    // The editor holds unsaved work: keep it.
                    let scratch = self.editor_request(kind);
                    self.collections.scratch.insert(kind, scratch);
                }
                self.settings.apply_saved(&value);
                // A newly opened request has no result yet: not the previous request's.
                if let Some(tab) = kind.tab() {
                    self.outcomes.remove(&tab);
                }
                self.collections.active.insert(
                    kind,
                    Active {
                        root: root.to_path_buf(),
                        rel: rel.to_string(),
                        baseline: value,
                        raw,
                    },
                );
                self.collections.current = Some(root.to_path_buf());
            }
        }
    }

    fn force_open(&mut self, root: &Path, rel: &str) {
        if let Some(Loaded::Ok { value, .. }) = self
            .collections
            .collection(root)
            .and_then(|c| c.item(rel))
            .map(|i| &i.file)
        {
            let kind = EditorKind::of(&value.spec);
            self.collections.active.remove(&kind);
        }
        self.open_request(root, rel);
    }

    /// Saves the editor of `kind` over its saved request.
    pub fn save_active(&mut self, kind: EditorKind) {
        let Some(active) = self.collections.active.get(&kind).cloned() else {
            self.start_save_as(kind);
            return;
        };
        let request = self.editor_request(kind);
        self.collection_op(
            active.root.clone(),
            CollectionOp::Save {
                rel: active.rel.clone(),
                request: Box::new(request),
                expected: Expected::Bytes(active.raw.clone()),
            },
        );
    }

    pub fn start_save_as(&mut self, kind: EditorKind) {
        let root = self
            .collections
            .scope_root(kind)
            .filter(|r| self.collections.collection(r).is_some());
        let folder = self
            .collections
            .active
            .get(&kind)
            .map(|a| a.rel.rsplit_once('/').map_or("", |(f, _)| f).to_string())
            .unwrap_or_default();
        self.collections.dialog = Some(Dialog::SaveAs {
            kind,
            name: self
                .collections
                .active
                .get(&kind)
                .map_or_else(|| default_name(self, kind), |a| a.baseline.name.clone()),
            root,
            folder,
        });
    }

    /// Applies the end of a collection operation.
    pub(crate) fn collection_done(
        &mut self,
        root: PathBuf,
        op: CollectionOp,
        result: Result<OpDone, OpError>,
        collection: Result<Collection, String>,
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
                        ui.colored_label(ui.visuals().error_fg_color, reason);
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
                self.selected = Some(seq);
                self.compare = false;
                self.settings.view = super::settings::MainView::Requests;
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
                if !dirty
                    && let Some(scratch) = self.collections.scratch.get(&kind).cloned()
                    && ui
                        .small_button("Back to the unsaved request")
                        .on_hover_text(
                            "The request you were editing before you opened this one is kept",
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

    fn environment_bar_ui(&mut self, ui: &mut egui::Ui, kind: EditorKind) {
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

    /// Whichever dialog is open.
    pub(crate) fn collection_dialog_ui(&mut self, ctx: &egui::Context) {
        let Some(mut dialog) = self.collections.dialog.take() else {
            return;
        };
        let mut keep = true;
        let modal = egui::Modal::new(egui::Id::unique("collection-dialog")).show(ctx, |ui| {
            ui.set_width(480.0);
            keep = self.dialog_body(ui, &mut dialog);
        });
        // Escape closes; a click outside does not (the click that opened a dialog would).
        if modal.should_close() && ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
            keep = false;
        }
        // The body may have opened another dialog (a conflict, discard…).
        if keep && self.collections.dialog.is_none() {
            self.collections.dialog = Some(dialog);
        }
    }

    /// Draws a dialog; false when it is done.
    fn dialog_body(&mut self, ui: &mut egui::Ui, dialog: &mut Dialog) -> bool {
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
fn default_name(app: &SwitchboardApp, kind: EditorKind) -> String {
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
        EditorKind::Watch if s.watch_form.broker == super::viewer::WatchBroker::Nats => {
            format!("Watch {}", s.watch_form.nats.describe())
        }
        EditorKind::Watch if s.watch_form.broker == super::viewer::WatchBroker::Kafka => {
            format!("Watch {}", s.watch_form.kafka.describe())
        }
        EditorKind::Watch => format!("Watch {}", s.watch_form.exchange),
    }
}

fn collection_picker(ui: &mut egui::Ui, state: &CollectionsState, root: &mut Option<PathBuf>) {
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

fn folder_picker(ui: &mut egui::Ui, folders: &[String], folder: &mut String) {
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
        super::editors::choices_menu(
            ui,
            "dialog-folder",
            "existing…",
            folder,
            std::iter::once(("(top level)", "")).chain(choices),
        );
    });
}

enum RunAction {
    Start(PathBuf),
    Stop(u64),
    Show(u64),
}

/// The collection's Run button or progress, and the last run's summary.
fn run_ui(
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
fn run_results_ui(
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

enum TreeOp {
    Backend(CollectionOp),
    Copy(String),
    Dialog(Dialog),
}

/// One folder level of a collection: sub-folders (collapsible), then requests.
fn tree_ui(
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
