//! Collections in the app: the tree in the side panel, the bar above the editor (which saved
//! request is open, unsaved marker, save/rename/duplicate/move/delete, environment switcher,
//! unresolved variables), and their dialogs. File work goes to the backend as
//! [`Command::Collection`]; results come back as [`Event::Collection`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use egui::RichText;

use super::SwitchboardApp;
use crate::engine::collection::{
    Collection, Item, Loaded, SavedRequest, SecretStore, Variable, Vars, import,
};
use crate::ui::backend::{BackendError, Command, PathPurpose};
use crate::ui::files::{CollectionOp, Expected, ImportSource, OpDone, OpError};
use crate::ui::settings::EditorKind;

mod bars;
mod collection_dialogs;
mod dialogs;
mod done;
mod panel;

use dialogs::default_name;

/// A collection folder open in the side panel.
#[derive(Debug, Clone)]
pub struct Opened {
    pub root: PathBuf,
    pub collection: Option<Result<Collection, BackendError>>,
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
    relink: Vec<crate::ui::settings::OpenRequest>,
    /// The last run of each collection.
    pub runs: HashMap<PathBuf, CollectionRun>,
    /// Bumped whenever a collection or the secrets come back from the backend.
    generation: u64,
    /// The bar's unsaved marker and unresolved variables, and what they were computed from.
    status: Option<(StatusInputs, bool, Vec<String>)>,
}

/// What the editors held when an editor's status was computed (cached until it changes).
#[derive(Debug, Clone, PartialEq)]
struct EditorSnapshot {
    kind: EditorKind,
    editors: crate::ui::settings::Editors,
    /// The watch form, for the watch editor's status.
    watch: Option<crate::ui::viewer::WatchForm>,
}

/// What an editor's status depends on. Compared every frame (cheap); the status itself —
/// which converts the editor to a saved request and fills its variables — is recomputed only
/// when these change.
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
    pub(crate) fn relink_later(&mut self, links: Vec<crate::ui::settings::OpenRequest>) {
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
    pub fn open_requests(&self) -> Vec<crate::ui::settings::OpenRequest> {
        let mut out: Vec<_> = self
            .collections
            .active
            .iter()
            .map(|(kind, a)| crate::ui::settings::OpenRequest {
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
                    let (view, transport) = (self.settings.view, self.settings.editors.transport);
                    self.settings.apply_saved(&value);
                    self.settings.view = view;
                    self.settings.editors.transport = transport;
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
            traceparent: self.settings.trace_context,
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
            let editor_same = c.editor.kind == kind
                && c.editor.editors == self.settings.editors
                && c.editor
                    .watch
                    .as_ref()
                    .is_none_or(|w| *w == self.settings.watch_form);
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
            let editor = EditorSnapshot {
                kind,
                editors: self.settings.editors.clone(),
                watch: (kind == EditorKind::Watch).then(|| self.settings.watch_form.clone()),
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
}
