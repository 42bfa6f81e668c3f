//! File work for the app, done on the backend (never on the UI thread): collections, the
//! secret store, the sample collection, and the persisted history.

use std::path::{Path, PathBuf};

use super::backend::BackendError;
use crate::engine::collection::{
    self, Collection, CollectionError, OnDisk, SavedRequest, SecretStore, Variable, import,
};
use crate::engine::history::{History, HistoryEntry, Limits};

/// What the app believes is on disk where it writes (see [`OnDisk`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    Nothing,
    Bytes(Vec<u8>),
    Any,
}

impl Expected {
    fn on_disk(&self) -> OnDisk<'_> {
        match self {
            Self::Nothing => OnDisk::Nothing,
            Self::Bytes(b) => OnDisk::Bytes(b),
            Self::Any => OnDisk::Any,
        }
    }
}

/// Where imported requests come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportSource {
    Curl(String),
    Grpcurl(String),
    Postman(PathBuf),
}

/// A change to a collection, asked for by the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum CollectionOp {
    /// (Re)load the collection.
    Open,
    /// Make a new collection folder.
    Create {
        name: String,
    },
    Save {
        rel: String,
        request: Box<SavedRequest>,
        expected: Expected,
    },
    /// Save as a new file in `folder`, named after the request (a free name is picked).
    SaveNew {
        folder: String,
        request: Box<SavedRequest>,
    },
    /// Give a request a new name (and the file a matching one, in the same folder).
    Rename {
        rel: String,
        name: String,
        expected: Vec<u8>,
    },
    /// Copy a request beside itself as "NAME copy".
    Duplicate {
        rel: String,
    },
    /// Move a request file into `folder` (`""`: the top level).
    Move {
        rel: String,
        folder: String,
        expected: Vec<u8>,
    },
    Delete {
        rel: String,
        expected: Vec<u8>,
    },
    CreateFolder {
        rel: String,
    },
    SaveEnvironment {
        name: String,
        variables: Vec<Variable>,
        expected: Expected,
    },
    Import {
        source: ImportSource,
        folder: String,
    },
}

/// What an operation did.
#[derive(Debug, Clone, PartialEq)]
pub enum OpDone {
    Opened,
    Saved {
        rel: String,
        /// As written (credentials replaced by `{{references}}`).
        request: Box<SavedRequest>,
        raw: Vec<u8>,
    },
    /// A request moved or renamed: where it is now and what it holds.
    Moved {
        from: String,
        to: String,
        request: Box<SavedRequest>,
        raw: Vec<u8>,
    },
    /// A copy was written at `rel`.
    Duplicated {
        rel: String,
    },
    Deleted {
        rel: String,
    },
    EnvironmentSaved {
        name: String,
    },
    Imported {
        rels: Vec<String>,
        warnings: Vec<String>,
    },
}

/// Why it did not.
#[derive(Debug, Clone, PartialEq)]
pub enum OpError {
    /// The file changed on disk since it was loaded: ask the user.
    Conflict(String),
    Failed(String),
}

impl From<CollectionError> for OpError {
    fn from(e: CollectionError) -> Self {
        match e {
            CollectionError::Conflict { .. } => Self::Conflict(e.to_string()),
            other => Self::Failed(other.to_string()),
        }
    }
}

/// The backend's file side.
#[derive(Debug)]
pub struct Files {
    pub data_dir: PathBuf,
    secrets: Result<SecretStore, String>,
}

/// The sample collection shipped in the binary (`assets/collections/demo`).
const SAMPLE: &[(&str, &str)] = &[
    (
        "collection.json",
        include_str!("../../assets/collections/demo/collection.json"),
    ),
    (
        "environments/local.json",
        include_str!("../../assets/collections/demo/environments/local.json"),
    ),
    (
        "environments/grace.json",
        include_str!("../../assets/collections/demo/environments/grace.json"),
    ),
    (
        "01-user-service/01-get-user-http.json",
        include_str!("../../assets/collections/demo/01-user-service/01-get-user-http.json"),
    ),
    (
        "01-user-service/02-get-user-grpc.json",
        include_str!("../../assets/collections/demo/01-user-service/02-get-user-grpc.json"),
    ),
    (
        "01-user-service/03-john-doe.json",
        include_str!("../../assets/collections/demo/01-user-service/03-john-doe.json"),
    ),
    (
        "01-user-service/04-unknown-user.json",
        include_str!("../../assets/collections/demo/01-user-service/04-unknown-user.json"),
    ),
    (
        "02-order-service/01-place-order.json",
        include_str!("../../assets/collections/demo/02-order-service/01-place-order.json"),
    ),
    (
        "02-order-service/02-publish-order-created.json",
        include_str!(
            "../../assets/collections/demo/02-order-service/02-publish-order-created.json"
        ),
    ),
    (
        "02-order-service/03-tap-orders.json",
        include_str!("../../assets/collections/demo/02-order-service/03-tap-orders.json"),
    ),
];

impl Files {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            secrets: SecretStore::load(&data_dir.join("secrets.json")).map_err(|e| e.to_string()),
        }
    }

    /// Where new collections go.
    pub fn collections_dir(&self) -> PathBuf {
        self.data_dir.join("collections")
    }

    /// Writes the sample collection into the data directory (unless a folder of that name is
    /// there already) and returns its folder.
    pub fn install_sample(&self) -> Result<PathBuf, BackendError> {
        let root = self.collections_dir().join("demo");
        if root.exists() {
            return Ok(root);
        }
        for (rel, text) in SAMPLE {
            let path = root.join(rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    // Name what is in the way (a file where a folder should be), not the
                    // folder that could not be made under it.
                    let blocking = dir.ancestors().find(|a| a.exists() && !a.is_dir());
                    BackendError::file(blocking.unwrap_or(dir), &e)
                })?;
            }
            crate::engine::fsutil::write_atomic(&path, text.as_bytes())
                .map_err(|e| BackendError::file(&path, &e))?;
        }
        Ok(root)
    }

    /// The collection folders in the data directory (`collections/*`), sorted; with the sample
    /// written there first when `install_sample` (first launch).
    pub fn startup(&self, install_sample: bool) -> Result<Vec<PathBuf>, BackendError> {
        if install_sample {
            self.install_sample()?;
        }
        let dir = self.collections_dir();
        let mut found: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.path())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(BackendError::file(&dir, &e)),
        };
        found.sort();
        Ok(found)
    }

    /// A copy of the secrets for resolving variables (empty when the store is unreadable).
    pub fn secrets(&self) -> SecretStore {
        self.secrets.clone().unwrap_or_default()
    }

    /// The secret store, or why it cannot be written.
    fn secrets_mut(&mut self) -> Result<&mut SecretStore, OpError> {
        self.secrets.as_mut().map_err(|reason| {
            OpError::Failed(format!(
                "the secret store is unreadable ({reason}); fix or move it away before saving credentials"
            ))
        })
    }

    /// The credentials the app's editors had when it last saved its state.
    pub fn editor_secrets(&self) -> std::collections::BTreeMap<String, String> {
        self.secrets
            .as_ref()
            .map(|s| {
                s.scope(
                    collection::vars::EDITORS_KEY,
                    collection::vars::ALL_ENVIRONMENTS,
                )
            })
            .unwrap_or_default()
    }

    /// Keeps the editors' credentials (all of them: the previous ones go); writes the store
    /// only when they changed. An unreadable store is never written over.
    pub fn set_editor_secrets(
        &mut self,
        values: std::collections::BTreeMap<String, String>,
    ) -> Result<(), String> {
        let store = self.secrets.as_mut().map_err(|reason| {
            format!("the secret store is unreadable ({reason}); editor credentials not kept")
        })?;
        if store.set_scope(
            collection::vars::EDITORS_KEY,
            collection::vars::ALL_ENVIRONMENTS,
            values,
        ) {
            store.save().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    pub fn load(&self, root: &Path) -> Result<Collection, BackendError> {
        Collection::load(root).map_err(BackendError::from)
    }

    /// Carries out one operation on the collection at `root`.
    pub fn apply(&mut self, root: &Path, op: &CollectionOp) -> Result<OpDone, OpError> {
        self.apply_counted(root, op, &mut |_, _| {})
    }

    /// [`Self::apply`], an import calling `progress(written, total)` as it writes requests.
    pub fn apply_counted(
        &mut self,
        root: &Path,
        op: &CollectionOp,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<OpDone, OpError> {
        match op {
            CollectionOp::Open => {
                Collection::load(root)?;
                Ok(OpDone::Opened)
            }
            CollectionOp::Create { name } => {
                std::fs::create_dir_all(root)
                    .map_err(|e| OpError::Failed(format!("{}: {e}", root.display())))?;
                collection::create_collection(root, name)?;
                Ok(OpDone::Opened)
            }
            CollectionOp::Save {
                rel,
                request,
                expected,
            } => {
                let mut probe = (**request).clone();
                let store = if probe.extract_secrets().is_empty() {
                    // Nothing secret: a broken store does not stop the save.
                    &mut self.secrets.clone().unwrap_or_default()
                } else {
                    self.secrets_mut()?
                };
                let (request, raw) =
                    collection::save_request(root, rel, request, expected.on_disk(), store)?;
                Ok(OpDone::Saved {
                    rel: rel.clone(),
                    request: Box::new(request),
                    raw,
                })
            }
            CollectionOp::SaveNew { folder, request } => {
                let rel = collection::free_rel(root, folder.trim_matches('/'), &request.name);
                self.apply(
                    root,
                    &CollectionOp::Save {
                        rel,
                        request: request.clone(),
                        expected: Expected::Nothing,
                    },
                )
            }
            CollectionOp::Rename {
                rel,
                name,
                expected,
            } => {
                let mut request = parse_request(root, rel, expected)?;
                request.name = name.trim().to_string();
                if request.name.is_empty() {
                    return Err(OpError::Failed("a request needs a name".to_string()));
                }
                let folder = rel.rsplit_once('/').map_or("", |(f, _)| f);
                // The file keeps its order prefix (`03-`): runs go in file order.
                let file_name = format!("{}{name}", order_prefix(rel));
                let to = if collection::slug(&file_name) == collection::slug(&file_stem(rel)) {
                    rel.clone()
                } else {
                    collection::free_rel(root, folder, &file_name)
                };
                let raw = collection::write_file(
                    &collection::resolve(root, rel)?,
                    &request,
                    OnDisk::Bytes(expected),
                )?;
                if to != *rel {
                    collection::move_file(root, rel, &to, &raw)?;
                }
                Ok(OpDone::Moved {
                    from: rel.clone(),
                    to,
                    request: Box::new(request),
                    raw,
                })
            }
            CollectionOp::Duplicate { rel } => {
                let path = collection::resolve(root, rel)?;
                let raw = crate::engine::fsutil::read_regular(&path, collection::MAX_FILE_BYTES)
                    .map_err(|e| OpError::Failed(format!("{}: {e}", path.display())))?;
                let mut request = parse_request(root, rel, &raw)?;
                request.name = format!("{} copy", request.name);
                let folder = rel.rsplit_once('/').map_or("", |(f, _)| f);
                let to = collection::free_rel(
                    root,
                    folder,
                    &format!("{}{}", order_prefix(rel), request.name),
                );
                collection::write_file(
                    &collection::resolve(root, &to)?,
                    &request,
                    OnDisk::Nothing,
                )?;
                Ok(OpDone::Duplicated { rel: to })
            }
            CollectionOp::Move {
                rel,
                folder,
                expected,
            } => {
                let request = parse_request(root, rel, expected)?;
                let file = rel.rsplit('/').next().unwrap_or(rel.as_str());
                let folder = folder.trim_matches('/');
                let to = if folder.is_empty() {
                    file.to_string()
                } else {
                    format!("{folder}/{file}")
                };
                collection::move_file(root, rel, &to, expected)?;
                Ok(OpDone::Moved {
                    from: rel.clone(),
                    to,
                    request: Box::new(request),
                    raw: expected.clone(),
                })
            }
            CollectionOp::Delete { rel, expected } => {
                collection::delete_file(root, rel, expected)?;
                Ok(OpDone::Deleted { rel: rel.clone() })
            }
            CollectionOp::CreateFolder { rel } => {
                collection::create_folder(root, rel)?;
                Ok(OpDone::Opened)
            }
            CollectionOp::SaveEnvironment {
                name,
                variables,
                expected,
            } => {
                let store = if variables.iter().any(|v| v.secret && !v.value.is_empty()) {
                    self.secrets_mut()?
                } else {
                    &mut self.secrets.clone().unwrap_or_default()
                };
                collection::save_environment(root, name, variables, expected.on_disk(), store)?;
                Ok(OpDone::EnvironmentSaved { name: name.clone() })
            }
            CollectionOp::Import { source, folder } => {
                let imported = match source {
                    ImportSource::Curl(line) => single(import::curl(line)?, folder),
                    ImportSource::Grpcurl(line) => single(import::grpcurl(line)?, folder),
                    ImportSource::Postman(path) => {
                        let raw = crate::engine::fsutil::read_regular(path, 256 * 1024 * 1024)
                            .map_err(|e| OpError::Failed(format!("{}: {e}", path.display())))?;
                        let text = String::from_utf8(raw).map_err(|_| {
                            OpError::Failed(format!("{}: not UTF-8 text", path.display()))
                        })?;
                        import::postman(&text)?
                    }
                };
                let store = self.secrets_mut()?;
                let rels = import::write_into_counted(root, &imported, store, progress)?;
                Ok(OpDone::Imported {
                    rels,
                    warnings: imported.warnings,
                })
            }
        }
    }
}

/// A file's leading order number with its dash (`03-`), or nothing.
fn order_prefix(rel: &str) -> String {
    file_stem(rel)
        .split_once('-')
        .filter(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        .map(|(n, _)| format!("{n}-"))
        .unwrap_or_default()
}

fn file_stem(rel: &str) -> String {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    file.strip_suffix(".json").unwrap_or(file).to_string()
}

/// A request from the bytes the UI loaded (what it renames or moves).
fn parse_request(root: &Path, rel: &str, raw: &[u8]) -> Result<SavedRequest, OpError> {
    serde_json::from_slice(raw)
        .map_err(|e| OpError::Failed(format!("{}: {e}", root.join(rel).display())))
}

fn single(request: SavedRequest, folder: &str) -> import::Imported {
    import::Imported {
        requests: vec![(folder.trim_matches('/').to_string(), request)],
        ..Default::default()
    }
}

/// Opens the history at `data_dir/history.jsonl`; an unreadable file starts an empty
/// in-memory history that is not written (and says why).
pub fn open_history(data_dir: &Path) -> (Option<History>, Vec<HistoryEntry>, Option<String>) {
    let path = data_dir.join("history.jsonl");
    match History::open(&path, Limits::default()) {
        Ok((history, entries, report)) => {
            let note = (report.skipped_lines > 0).then(|| {
                format!(
                    "{} unreadable history line(s) skipped in {}",
                    report.skipped_lines,
                    path.display()
                )
            });
            (Some(history), entries, note)
        }
        Err(e) => (
            None,
            Vec::new(),
            Some(format!(
                "history not kept: cannot read {}: {e}",
                path.display()
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_and_duplicate_keep_the_order_prefix() {
        let dir = std::env::temp_dir().join(format!(
            "sb-files-{}-{}",
            std::process::id(),
            crate::engine::recorder::unix_ms()
        ));
        let root = dir.join("c");
        std::fs::create_dir_all(&root).unwrap();
        let mut files = Files::new(&dir);
        let request = SavedRequest::new(
            "Get user",
            crate::engine::collection::SavedSpec::Http(
                crate::engine::collection::saved::SavedHttp {
                    method: "GET".into(),
                    url: "http://h/".into(),
                    headers: Vec::new(),
                    body: None,
                    form: Vec::new(),
                    timeout_ms: None,
                    tls: Default::default(),
                },
            ),
        );
        let Ok(OpDone::Saved { raw, .. }) = files.apply(
            &root,
            &CollectionOp::Save {
                rel: "02-get-user.json".into(),
                request: Box::new(request),
                expected: Expected::Nothing,
            },
        ) else {
            panic!("save failed");
        };
        let done = files
            .apply(
                &root,
                &CollectionOp::Duplicate {
                    rel: "02-get-user.json".into(),
                },
            )
            .unwrap();
        assert_eq!(
            done,
            OpDone::Duplicated {
                rel: "02-get-user-copy.json".into()
            }
        );
        let Ok(OpDone::Moved { to, request, .. }) = files.apply(
            &root,
            &CollectionOp::Rename {
                rel: "02-get-user.json".into(),
                name: "Look up a user".into(),
                expected: raw,
            },
        ) else {
            panic!("rename failed");
        };
        assert_eq!(to, "02-look-up-a-user.json");
        assert_eq!(request.name, "Look up a user");
        assert!(!root.join("02-get-user.json").exists());
        assert_eq!(order_prefix("a/b/no-number.json"), "");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
