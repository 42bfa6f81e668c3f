//! Saved request collections: plain folders a team can keep in git.
//!
//! ```text
//! demo/
//!   collection.json          {"version": 1, "name": "Demo", "variables": [...]}
//!   environments/local.json  {"version": 1, "variables": [...]}
//!   users/01-get-user.json   {"version": 1, "name": "Get user", "kind": "http", ...}
//! ```
//!
//! One pretty-printed JSON file per request, keys in a fixed order, a trailing newline. Requests
//! run in path order (prefix names with numbers to order them). Files are written atomically;
//! a file that does not parse, or has an unknown `version`, is reported and never written over.
//! Every write names the content it expects on disk, so that two editors of one collection do
//! not silently clobber each other.

pub mod expect;
pub mod import;
pub mod run;
pub mod saved;
pub mod vars;

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil;

pub use expect::{Expect, JsonExpect};
pub use saved::{SavedBody, SavedHeader, SavedRequest, SavedSpec};
pub use vars::{Environment, SecretStore, Variable, Vars};

/// The version every file carries; files of another version are not read (nor written over).
pub const FORMAT_VERSION: u32 = 1;
pub const COLLECTION_FILE: &str = "collection.json";
pub const ENVIRONMENTS_DIR: &str = "environments";
/// Bounds of what a collection folder may hold.
pub const MAX_ENTRIES: usize = 10_000;
pub const MAX_DEPTH: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum CollectionError {
    #[error("{}: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// The I/O error is part of the message, not a separate `source`: printed with its chain
    /// (`{:#}`), it would otherwise appear twice.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} changed on disk since it was loaded", path.display())]
    Conflict { path: PathBuf },
    #[error("{} already exists", path.display())]
    Exists { path: PathBuf },
    #[error("{0}")]
    Invalid(String),
}

impl CollectionError {
    pub fn io(path: &Path, error: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

/// `collection.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionSettings {
    pub version: u32,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<Variable>,
}

impl Default for CollectionSettings {
    fn default() -> Self {
        Self {
            version: FORMAT_VERSION,
            name: String::new(),
            variables: Vec::new(),
        }
    }
}

/// A file as read: its parsed content and the exact bytes, or why it could not be used.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded<T> {
    Ok { value: T, raw: Vec<u8> },
    Broken { reason: String },
}

impl<T> Loaded<T> {
    pub fn ok(&self) -> Option<&T> {
        match self {
            Self::Ok { value, .. } => Some(value),
            Self::Broken { .. } => None,
        }
    }

    pub fn raw(&self) -> Option<&[u8]> {
        match self {
            Self::Ok { raw, .. } => Some(raw),
            Self::Broken { .. } => None,
        }
    }
}

/// A request file of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Relative to the collection root, `/`-separated: `users/01-get-user.json`.
    pub rel: String,
    pub file: Loaded<SavedRequest>,
}

impl Item {
    /// The request's name, or its file name when broken.
    pub fn name(&self) -> String {
        match &self.file {
            Loaded::Ok { value, .. } => value.name.clone(),
            Loaded::Broken { .. } => self.rel.rsplit('/').next().unwrap_or("").to_string(),
        }
    }

    /// The folder it is in (`""` at the root).
    pub fn folder(&self) -> &str {
        self.rel.rsplit_once('/').map_or("", |(f, _)| f)
    }
}

/// An environment file.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentFile {
    pub name: String,
    pub file: Loaded<Environment>,
}

/// A collection as found on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    pub root: PathBuf,
    /// Where its secrets are kept in the [`SecretStore`] (the canonical root).
    pub secret_key: String,
    pub settings: Loaded<CollectionSettings>,
    /// Sorted by path.
    pub items: Vec<Item>,
    /// Every folder (relative, `/`-separated), empty ones included, sorted.
    pub folders: Vec<String>,
    /// Sorted by name.
    pub environments: Vec<EnvironmentFile>,
}

/// Reads a versioned JSON file (a request, an environment or `collection.json`) from its bytes:
/// the parser behind [`Collection::load`]. Errors say why the file cannot be used.
pub fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "format version {v} is not supported (this Switchboard reads version {FORMAT_VERSION})"
            ));
        }
        None => return Err("no \"version\" field: not a Switchboard file".to_string()),
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// The largest collection, environment or request file read (a request file is a few KiB).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

fn load_file<T: serde::de::DeserializeOwned>(path: &Path) -> Loaded<T> {
    match crate::fsutil::read_regular(path, MAX_FILE_BYTES) {
        Ok(raw) => match parse(&raw) {
            Ok(value) => Loaded::Ok { value, raw },
            Err(reason) => Loaded::Broken { reason },
        },
        Err(e) => Loaded::Broken {
            reason: e.to_string(),
        },
    }
}

/// Serializes a file the way every Switchboard file looks: pretty JSON and a final newline.
pub fn to_file_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text.into_bytes()
}

impl Collection {
    /// Reads a collection folder. Unreadable files become broken entries; only a missing or
    /// unreadable root is an error.
    pub fn load(root: &Path) -> Result<Self, CollectionError> {
        let meta = std::fs::metadata(root).map_err(|e| CollectionError::io(root, e))?;
        if !meta.is_dir() {
            return Err(CollectionError::Invalid(format!(
                "{} is not a folder",
                root.display()
            )));
        }
        let settings_path = root.join(COLLECTION_FILE);
        let settings = if settings_path.exists() {
            load_file(&settings_path)
        } else {
            Loaded::Ok {
                value: CollectionSettings {
                    name: root
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    ..Default::default()
                },
                raw: Vec::new(),
            }
        };
        let mut collection = Self {
            root: root.to_path_buf(),
            secret_key: SecretStore::key(root),
            settings,
            items: Vec::new(),
            folders: Vec::new(),
            environments: Vec::new(),
        };
        collection.walk(root, "")?;
        collection.items.sort_by(|a, b| a.rel.cmp(&b.rel));
        collection.folders.sort();
        let env_dir = root.join(ENVIRONMENTS_DIR);
        if let Ok(entries) = std::fs::read_dir(&env_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if fsutil::is_temporary(&name) || name.starts_with('.') {
                    continue;
                }
                if let Some(stem) = name.strip_suffix(".json") {
                    collection.environments.push(EnvironmentFile {
                        name: stem.to_string(),
                        file: load_file(&entry.path()),
                    });
                }
            }
        }
        collection.environments.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(collection)
    }

    /// Reads one folder into `self`; false when it could not be read (then it is a broken item).
    fn walk(&mut self, dir: &Path, rel: &str) -> Result<bool, CollectionError> {
        // A folder picked by mistake (a home directory, `/`) is refused, not crawled.
        if rel.matches('/').count() >= MAX_DEPTH
            || self.items.len() + self.folders.len() > MAX_ENTRIES
        {
            return Err(CollectionError::Invalid(format!(
                "{} holds more than {MAX_ENTRIES} files or is nested deeper than {MAX_DEPTH} folders: is it really a collection?",
                self.root.display()
            )));
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            // Only an unreadable root stops the load; an unreadable sub-folder is one broken
            // entry, like an unreadable file, and the rest of the collection still loads.
            Err(e) if rel.is_empty() => return Err(CollectionError::io(dir, e)),
            Err(e) => {
                self.items.push(Item {
                    rel: rel.to_string(),
                    file: Loaded::Broken {
                        reason: format!("folder not readable: {e}"),
                    },
                });
                return Ok(false);
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || fsutil::is_temporary(&name) {
                continue;
            }
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if rel.is_empty() && name == ENVIRONMENTS_DIR {
                    continue;
                }
                // A folder that could not be read is listed as its broken entry only.
                if self.walk(&entry.path(), &child_rel)? {
                    self.folders.push(child_rel);
                }
            } else if name.ends_with(".json") && !(rel.is_empty() && name == COLLECTION_FILE) {
                if self.items.len() >= MAX_ENTRIES {
                    return Err(CollectionError::Invalid(format!(
                        "{} holds more than {MAX_ENTRIES} files: is it really a collection?",
                        self.root.display()
                    )));
                }
                self.items.push(Item {
                    rel: child_rel,
                    file: load_file(&entry.path()),
                });
            }
        }
        Ok(true)
    }

    pub fn name(&self) -> String {
        match &self.settings {
            Loaded::Ok { value, .. } if !value.name.is_empty() => value.name.clone(),
            _ => self
                .root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }

    pub fn item(&self, rel: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.rel == rel)
    }

    pub fn environment(&self, name: &str) -> Option<&EnvironmentFile> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The variables in scope with `environment` active, strongest first: the secret store,
    /// the environment, the collection. Callers add `--var` values on top with [`Vars::set`].
    pub fn vars(
        &self,
        environment: Option<&str>,
        secrets: &SecretStore,
    ) -> Result<Vars, CollectionError> {
        let mut vars = Vars::new();
        vars.add_weak(&secrets.variables(&self.secret_key, environment));
        if let Some(name) = environment {
            let env = self.environment(name).ok_or_else(|| {
                CollectionError::Invalid(format!(
                    "no environment {name:?} in {} (known: {})",
                    self.root.display(),
                    self.environments
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            match &env.file {
                Loaded::Ok { value, .. } => vars.add_weak(&value.variables),
                Loaded::Broken { reason } => {
                    return Err(CollectionError::Corrupt {
                        path: self
                            .root
                            .join(ENVIRONMENTS_DIR)
                            .join(format!("{name}.json")),
                        reason: reason.clone(),
                    });
                }
            }
        }
        if let Loaded::Ok { value, .. } = &self.settings {
            vars.add_weak(&value.variables);
        }
        Ok(vars)
    }

    /// The items whose name, file path or stem matches one of `names` (all when empty), in
    /// collection order; names that match nothing are returned as errors.
    pub fn select(&self, names: &[String]) -> Result<Vec<&Item>, CollectionError> {
        if names.is_empty() {
            return Ok(self.items.iter().collect());
        }
        let matches = |item: &Item, name: &str| {
            let rel = item.rel.as_str();
            item.name() == name
                || rel == name
                || rel.strip_suffix(".json") == Some(name)
                || rel.starts_with(&format!("{}/", name.trim_end_matches('/')))
        };
        for name in names {
            if !self.items.iter().any(|i| matches(i, name)) {
                return Err(CollectionError::Invalid(format!(
                    "no request or folder named {name:?} in {}",
                    self.root.display()
                )));
            }
        }
        Ok(self
            .items
            .iter()
            .filter(|i| names.iter().any(|n| matches(i, n)))
            .collect())
    }
}

/// A file name from a request name: lower-case words joined by `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "request".to_string()
    } else {
        out
    }
}

/// Checks a relative path stays inside the collection and returns it joined to `root`.
pub fn resolve(root: &Path, rel: &str) -> Result<PathBuf, CollectionError> {
    let path = Path::new(rel);
    if rel.is_empty()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(CollectionError::Invalid(format!(
            "{rel:?} is not a path inside the collection"
        )));
    }
    Ok(root.join(path))
}

/// A free `folder/slug.json` (adding `-2`, `-3`… when taken).
pub fn free_rel(root: &Path, folder: &str, name: &str) -> String {
    free_rel_after(root, folder, name, 1, &|_| false).0
}

/// A free `folder/slug.json`, trying numbers from `first` on and skipping the paths `claimed`
/// says are spoken for (not yet written); returns it with its number.
fn free_rel_after(
    root: &Path,
    folder: &str,
    name: &str,
    first: usize,
    claimed: &dyn Fn(&str) -> bool,
) -> (String, usize) {
    let base = slug(name);
    let prefix = if folder.is_empty() {
        String::new()
    } else {
        format!("{}/", folder.trim_matches('/'))
    };
    let mut n = first.max(1);
    loop {
        let rel = if n == 1 {
            format!("{prefix}{base}.json")
        } else {
            format!("{prefix}{base}-{n}.json")
        };
        if !claimed(&rel) && !root.join(&rel).exists() {
            return (rel, n);
        }
        n += 1;
    }
}

/// What the caller believes is on disk where it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDisk<'a> {
    /// Nothing: the file must not exist.
    Nothing,
    /// These exact bytes (as loaded).
    Bytes(&'a [u8]),
    /// Whatever: overwrite (after the user chose to).
    Any,
}

fn check_on_disk(path: &Path, expected: OnDisk<'_>) -> Result<(), CollectionError> {
    let current = match crate::fsutil::read_regular(path, MAX_FILE_BYTES) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(CollectionError::io(path, e)),
    };
    match (expected, current) {
        (OnDisk::Any, _) | (OnDisk::Nothing, None) => Ok(()),
        (OnDisk::Nothing, Some(_)) => Err(CollectionError::Exists {
            path: path.to_path_buf(),
        }),
        (OnDisk::Bytes(_), None) => Err(CollectionError::Conflict {
            path: path.to_path_buf(),
        }),
        (OnDisk::Bytes(want), Some(have)) if want == have.as_slice() => Ok(()),
        (OnDisk::Bytes(_), Some(_)) => Err(CollectionError::Conflict {
            path: path.to_path_buf(),
        }),
    }
}

/// Writes any Switchboard file atomically after checking what is on disk. Returns the bytes
/// written (the caller's new "as loaded" content).
pub fn write_file<T: Serialize>(
    path: &Path,
    value: &T,
    expected: OnDisk<'_>,
) -> Result<Vec<u8>, CollectionError> {
    check_on_disk(path, expected)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CollectionError::io(dir, e))?;
    }
    let bytes = to_file_bytes(value);
    fsutil::write_atomic(path, &bytes).map_err(|e| CollectionError::io(path, e))?;
    Ok(bytes)
}

/// Saves a request at `rel`, moving literal secrets into `secrets` first (see
/// [`SavedRequest::extract_secrets_named`]: named after the file, never replacing another
/// value). Returns the bytes written.
pub fn save_request(
    root: &Path,
    rel: &str,
    request: &SavedRequest,
    expected: OnDisk<'_>,
    secrets: &mut SecretStore,
) -> Result<(SavedRequest, Vec<u8>), CollectionError> {
    let path = resolve(root, rel)?;
    let (request, moved) = move_secrets_out(&SecretStore::key(root), rel, request, secrets);
    if moved {
        secrets.save()?;
    }
    let bytes = write_file(&path, &request, expected)?;
    Ok((request, bytes))
}

/// The request with its literal credentials moved into `secrets` (in memory; the caller saves
/// the store), as variables named after its file (`users/get-user.json` →
/// `users_get_user_authorization`); true when any was moved.
fn move_secrets_out(
    key: &str,
    rel: &str,
    request: &SavedRequest,
    secrets: &mut SecretStore,
) -> (SavedRequest, bool) {
    let mut request = request.clone();
    let prefix = rel.strip_suffix(".json").unwrap_or(rel);
    let found = request.extract_secrets_named(prefix, &|name, value| {
        secrets
            .get(key, vars::ALL_ENVIRONMENTS, name)
            .is_some_and(|have| have != value)
    });
    for (name, value) in &found {
        secrets.set(key, vars::ALL_ENVIRONMENTS, name, value);
    }
    (request, !found.is_empty())
}

/// Writes many new requests (an import): every file gets a free name, the secrets of all of
/// them are stored with one (synced) write of the store before any file refers to them, then
/// the files are written together ([`fsutil::write_new_files`]). Returns the relative paths,
/// in order.
pub fn save_new_requests(
    root: &Path,
    requests: &[(String, SavedRequest)],
    secrets: &mut SecretStore,
) -> Result<Vec<String>, CollectionError> {
    save_new_requests_counted(root, requests, secrets, &mut |_| {})
}

/// [`save_new_requests`], calling `written(n)` as each file is in place.
pub fn save_new_requests_counted(
    root: &Path,
    requests: &[(String, SavedRequest)],
    secrets: &mut SecretStore,
    written: &mut dyn FnMut(usize),
) -> Result<Vec<String>, CollectionError> {
    let key = SecretStore::key(root);
    let mut claimed = std::collections::HashSet::new();
    // Per folder and name, the next number to try: many requests of one name stay linear.
    let mut next = std::collections::HashMap::<(String, String), usize>::new();
    let mut prepared = Vec::with_capacity(requests.len());
    let mut moved_any = false;
    for (folder, request) in requests {
        let folder = folder.trim_matches('/');
        let first = next
            .get(&(folder.to_string(), slug(&request.name)))
            .copied()
            .unwrap_or(1);
        let (rel, n) = free_rel_after(root, folder, &request.name, first, &|rel| {
            claimed.contains(rel)
        });
        next.insert((folder.to_string(), slug(&request.name)), n + 1);
        let path = resolve(root, &rel)?;
        claimed.insert(rel.clone());
        let (request, moved) = move_secrets_out(&key, &rel, request, secrets);
        moved_any |= moved;
        prepared.push((rel, path, request));
    }
    if moved_any {
        secrets.save()?;
    }
    let mut files = Vec::with_capacity(prepared.len());
    let mut dirs = std::collections::HashSet::new();
    for (_, path, request) in &prepared {
        check_on_disk(path, OnDisk::Nothing)?;
        if let Some(dir) = path.parent()
            && dirs.insert(dir)
        {
            std::fs::create_dir_all(dir).map_err(|e| CollectionError::io(dir, e))?;
        }
        files.push((path.as_path(), to_file_bytes(request)));
    }
    let borrowed: Vec<(&Path, &[u8])> = files.iter().map(|(p, b)| (*p, b.as_slice())).collect();
    fsutil::write_new_files_counted(&borrowed, written)
        .map_err(|e| CollectionError::io(root, e))?;
    Ok(prepared.into_iter().map(|(rel, _, _)| rel).collect())
}

/// Moves a request file (rename or move to another folder) after checking it is unchanged.
pub fn move_file(
    root: &Path,
    from_rel: &str,
    to_rel: &str,
    expected: &[u8],
) -> Result<(), CollectionError> {
    let from = resolve(root, from_rel)?;
    let to = resolve(root, to_rel)?;
    check_on_disk(&from, OnDisk::Bytes(expected))?;
    if from != to {
        check_on_disk(&to, OnDisk::Nothing)?;
    }
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CollectionError::io(dir, e))?;
    }
    std::fs::rename(&from, &to).map_err(|e| CollectionError::io(&from, e))
}

/// Deletes a request file after checking it is unchanged (broken files are never deleted).
pub fn delete_file(root: &Path, rel: &str, expected: &[u8]) -> Result<(), CollectionError> {
    let path = resolve(root, rel)?;
    check_on_disk(&path, OnDisk::Bytes(expected))?;
    std::fs::remove_file(&path).map_err(|e| CollectionError::io(&path, e))
}

/// Creates an empty folder.
pub fn create_folder(root: &Path, rel: &str) -> Result<(), CollectionError> {
    let path = resolve(root, rel)?;
    std::fs::create_dir_all(&path).map_err(|e| CollectionError::io(&path, e))
}

/// Creates a new collection folder with its `collection.json`.
pub fn create_collection(root: &Path, name: &str) -> Result<(), CollectionError> {
    let settings = CollectionSettings {
        name: name.to_string(),
        ..Default::default()
    };
    write_file(&root.join(COLLECTION_FILE), &settings, OnDisk::Nothing)?;
    Ok(())
}

/// Saves an environment: secret variables' values go to the secret store, never to the file.
pub fn save_environment(
    root: &Path,
    name: &str,
    variables: &[Variable],
    expected: OnDisk<'_>,
    secrets: &mut SecretStore,
) -> Result<Vec<u8>, CollectionError> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(CollectionError::Invalid(format!(
            "{name:?} is not a valid environment name"
        )));
    }
    let mut env = Environment::default();
    let mut secrets_changed = false;
    for v in variables {
        if v.name.trim().is_empty() {
            continue;
        }
        if v.secret {
            if !v.value.is_empty() {
                secrets.set(&SecretStore::key(root), name, &v.name, &v.value);
                secrets_changed = true;
            }
            env.variables.push(Variable::secret(v.name.trim()));
        } else {
            env.variables
                .push(Variable::new(v.name.trim(), v.value.clone()));
        }
    }
    if secrets_changed {
        secrets.save()?;
    }
    let path = root.join(ENVIRONMENTS_DIR).join(format!("{name}.json"));
    write_file(&path, &env, expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_nested_too_deep_is_refused_not_crawled() {
        let root = std::env::temp_dir().join(format!(
            "sb-deep-{}-{}",
            std::process::id(),
            crate::recorder::unix_ms()
        ));
        let mut deep = root.clone();
        for i in 0..(MAX_DEPTH + 2) {
            deep = deep.join(format!("d{i}"));
        }
        std::fs::create_dir_all(&deep).unwrap();
        let err = Collection::load(&root).unwrap_err();
        assert!(
            err.to_string().contains("is it really a collection"),
            "{err}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// Found by `scripts/fuzz` (target `collection_file`): a JSON body's number written in its
    /// shortest form read back as a neighbouring float, so every save changed it (serde_json
    /// parses floats exactly only with `float_roundtrip`). An integer past 2^64 still reads as a
    /// float and changes on the first write; from then on a file reads back and rewrites
    /// the very same bytes.
    #[test]
    fn a_written_request_file_reads_back_and_rewrites_identically() {
        for input in [
            &include_bytes!(
                "../../../../tests/fixtures/fuzz/collection_file-integer-past-u64.json"
            )[..],
            &include_bytes!("../../../../tests/fixtures/fuzz/collection_file-float-rewrite.json")[..],
        ] {
            let request: SavedRequest = parse(input).unwrap();
            let written = to_file_bytes(&request);
            let back: SavedRequest = parse(&written).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&to_file_bytes(&back)),
                String::from_utf8_lossy(&written)
            );
            assert_eq!(back.name, "Publish OrderCreated");
        }
    }

    #[test]
    fn slugs_and_paths_stay_inside() {
        assert_eq!(slug("Get user (HTTP)"), "get-user-http");
        assert_eq!(slug("***"), "request");
        assert!(resolve(Path::new("/c"), "../x.json").is_err());
        assert!(resolve(Path::new("/c"), "/etc/passwd").is_err());
        assert!(resolve(Path::new("/c"), "a/b.json").is_ok());
    }
}
