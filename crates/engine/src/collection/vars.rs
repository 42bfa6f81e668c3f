//! Variables (`{{name}}`), environments and the local secret store.
//!
//! A value is looked up, first match wins, in: `--var` / values given by the caller, the
//! process environment (`SWITCHBOARD_VAR_<NAME>`, upper-cased, `-` and `.` as `_`), the secret
//! store (for the active environment, then the collection), the active environment's file, and
//! the collection's own variables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{CollectionError, FORMAT_VERSION};
use crate::fsutil;

/// A variable of a collection or an environment. A secret one keeps its value out of the file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Variable {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

impl Variable {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            secret: false,
        }
    }

    pub fn secret(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: String::new(),
            secret: true,
        }
    }
}

/// The name of the process environment variable that overrides `{{name}}`.
pub fn env_var_name(name: &str) -> String {
    let mut out = String::from("SWITCHBOARD_VAR_");
    out.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    out
}

/// Every variable in scope for one run, resolved to a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    values: BTreeMap<String, String>,
    /// Names known to be secret: their values are hidden in messages.
    secret: std::collections::BTreeSet<String>,
    /// Whether to consult the process environment (off in tests that want isolation).
    pub use_process_env: bool,
}

impl Vars {
    pub fn new() -> Self {
        Self {
            use_process_env: true,
            ..Default::default()
        }
    }

    /// Adds values unless already set (callers add the strongest source first).
    pub fn add_weak(&mut self, vars: &[Variable]) {
        for v in vars {
            if v.secret {
                self.secret.insert(v.name.clone());
            }
            if !v.secret || !v.value.is_empty() {
                self.values
                    .entry(v.name.clone())
                    .or_insert_with(|| v.value.clone());
            }
        }
    }

    /// Sets a value, overriding whatever was there.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    pub fn mark_secret(&mut self, name: &str) {
        self.secret.insert(name.to_string());
    }

    pub fn is_secret(&self, name: &str) -> bool {
        self.secret.contains(name)
    }

    pub fn get(&self, name: &str) -> Option<String> {
        if self.use_process_env
            && let Ok(value) = std::env::var(env_var_name(name))
        {
            return Some(value);
        }
        self.values.get(name).cloned()
    }

    /// Rewrites values (e.g. to point the sample collection at the demo as actually bound).
    pub fn map_values(&mut self, f: impl Fn(&str) -> Option<String>) {
        for value in self.values.values_mut() {
            if let Some(new) = f(value) {
                *value = new;
            }
        }
    }

    /// Every name with its value (not counting the process environment).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// All names with a value (not counting the process environment).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Replaces every `{{name}}` in `text`; the names without a value are returned in order.
    /// A value may itself use variables (a secret `Bearer {{token}}`): they are filled too.
    pub fn substitute(&self, text: &str, unresolved: &mut Vec<String>) -> String {
        self.substitute_with(text, unresolved, &|value| value.to_string())
    }

    /// Like [`Self::substitute`], passing each filled-in value through `encode` (the
    /// surrounding text is left as written): a form body's values are form-encoded.
    pub fn substitute_with(
        &self,
        text: &str,
        unresolved: &mut Vec<String>,
        encode: &dyn Fn(&str) -> String,
    ) -> String {
        self.expand(text, unresolved, encode, 0)
    }

    fn expand(
        &self,
        text: &str,
        unresolved: &mut Vec<String>,
        encode: &dyn Fn(&str) -> String,
        depth: usize,
    ) -> String {
        /// How deep values may refer to other variables (a cycle stops here, unresolved).
        const MAX_DEPTH: usize = 8;
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start + 2..].find("}}") else {
                break;
            };
            out.push_str(&rest[..start]);
            let name = rest[start + 2..start + 2 + len].trim();
            match self.get(name) {
                Some(value) if !name.is_empty() && (depth < MAX_DEPTH || !value.contains("{{")) => {
                    let value = if value.contains("{{") {
                        self.expand(&value, unresolved, &|v| v.to_string(), depth + 1)
                    } else {
                        value
                    };
                    out.push_str(&encode(&value));
                }
                _ => {
                    if !unresolved.iter().any(|u| u == name) {
                        unresolved.push(name.to_string());
                    }
                    out.push_str(&rest[start..start + 4 + len]);
                }
            }
            rest = &rest[start + 4 + len..];
        }
        out.push_str(rest);
        out
    }
}

/// Whether a variable's name says it holds a credential (`client_secret`, `apiKey`,
/// `db-password`, `access_token`…), so its value belongs in the secret store. Names of where
/// a credential is obtained (`token_url`) are not.
pub fn is_secret_name(name: &str) -> bool {
    let name: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let place = ["url", "uri", "endpoint", "type", "expiry", "expires"]
        .iter()
        .any(|p| name.ends_with(p));
    !place
        && [
            "secret",
            "token",
            "password",
            "passwd",
            "apikey",
            "privatekey",
            "accesskey",
            "credential",
        ]
        .iter()
        .any(|w| name.contains(w))
}

/// Names as they are written in requests: `{{a}}, {{b}}`.
pub fn braced(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("{{{{{n}}}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `{{names}}` used in `text`, in order of first use.
pub fn references(text: &str) -> Vec<String> {
    let mut unresolved = Vec::new();
    Vars::default().substitute(text, &mut unresolved);
    unresolved
}

/// True when `text` is nothing but variable references (and whitespace), so that it holds no
/// literal secret.
pub fn only_references(text: &str) -> bool {
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some(stripped) = rest.strip_prefix("{{") else {
            return false;
        };
        let Some(end) = stripped.find("}}") else {
            return false;
        };
        rest = stripped[end + 2..].trim_start();
    }
    !text.trim().is_empty()
}

/// An environment file: `environments/NAME.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    pub version: u32,
    #[serde(default)]
    pub variables: Vec<Variable>,
}

impl Default for Environment {
    fn default() -> Self {
        Self {
            version: FORMAT_VERSION,
            variables: Vec::new(),
        }
    }
}

/// Where Switchboard keeps its own files: `$SWITCHBOARD_DATA_DIR`, else the platform's data
/// directory (`~/.local/share/switchboard` on Linux).
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SWITCHBOARD_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("dev", "switchboard", "switchboard")
        .map(|p| p.data_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("switchboard"))
}

/// Secrets, kept outside every collection in one owner-only file (`secrets.json` in the data
/// directory): per collection (by its absolute path), per scope (an environment name, or `*`
/// for the whole collection), name → value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretStore {
    #[serde(default = "format_version")]
    pub version: u32,
    #[serde(default)]
    pub collections: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    /// Where it is kept (not part of the file).
    #[serde(skip)]
    pub path: PathBuf,
}

fn format_version() -> u32 {
    FORMAT_VERSION
}

/// The scope of secrets that belong to the collection rather than to one environment.
pub const ALL_ENVIRONMENTS: &str = "*";

/// Where the app keeps the credentials typed into its editors (not a collection folder), so
/// that its saved state holds only `{{references}}` to them.
pub const EDITORS_KEY: &str = "switchboard:editors";

impl SecretStore {
    pub fn default_path() -> PathBuf {
        data_dir().join("secrets.json")
    }

    /// Reads the store; a missing file is an empty store, a corrupt one an error (and the app
    /// then refuses to write over it).
    pub fn load(path: &Path) -> Result<Self, CollectionError> {
        match crate::fsutil::read_regular(path, super::MAX_FILE_BYTES) {
            Ok(bytes) => {
                let mut store: Self =
                    serde_json::from_slice(&bytes).map_err(|e| CollectionError::Corrupt {
                        path: path.to_path_buf(),
                        reason: e.to_string(),
                    })?;
                if store.version != FORMAT_VERSION {
                    return Err(CollectionError::Corrupt {
                        path: path.to_path_buf(),
                        reason: format!("unknown format version {}", store.version),
                    });
                }
                store.path = path.to_path_buf();
                Ok(store)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self {
                version: FORMAT_VERSION,
                collections: BTreeMap::new(),
                path: path.to_path_buf(),
            }),
            Err(e) => Err(CollectionError::io(path, e)),
        }
    }

    /// Writes the store atomically with owner-only permissions.
    pub fn save(&self) -> Result<(), CollectionError> {
        let path = self.path.as_path();
        if let Some(dir) = path.parent() {
            fsutil::private_dir(dir).map_err(|e| CollectionError::io(dir, e))?;
        }
        let mut text =
            serde_json::to_string_pretty(self).map_err(|e| CollectionError::Corrupt {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        text.push('\n');
        fsutil::write_atomic_private(path, text.as_bytes())
            .map_err(|e| CollectionError::io(path, e))
    }

    /// The key of a collection in the store: its canonical path. It touches the file system,
    /// so it is computed once per collection load or write ([`super::Collection::secret_key`]).
    pub fn key(root: &Path) -> String {
        std::fs::canonicalize(root)
            .unwrap_or_else(|_| root.to_path_buf())
            .to_string_lossy()
            .into_owned()
    }

    pub fn set(&mut self, key: &str, scope: &str, name: &str, value: &str) {
        self.collections
            .entry(key.to_string())
            .or_default()
            .entry(scope.to_string())
            .or_default()
            .insert(name.to_string(), value.to_string());
    }

    /// Every secret of one scope (empty when there is none).
    pub fn scope(&self, key: &str, scope: &str) -> BTreeMap<String, String> {
        self.collections
            .get(key)
            .and_then(|scopes| scopes.get(scope))
            .cloned()
            .unwrap_or_default()
    }

    /// Replaces every secret of one scope (an empty map removes it); true when that changed
    /// anything.
    pub fn set_scope(&mut self, key: &str, scope: &str, values: BTreeMap<String, String>) -> bool {
        if self.scope(key, scope) == values {
            return false;
        }
        let scopes = self.collections.entry(key.to_string()).or_default();
        if values.is_empty() {
            scopes.remove(scope);
        } else {
            scopes.insert(scope.to_string(), values);
        }
        if scopes.is_empty() {
            self.collections.remove(key);
        }
        true
    }

    pub fn get(&self, key: &str, scope: &str, name: &str) -> Option<&str> {
        self.collections
            .get(key)?
            .get(scope)?
            .get(name)
            .map(String::as_str)
    }

    /// The secrets of a collection for one environment: that environment's first, then the
    /// collection-wide ones.
    pub fn variables(&self, key: &str, environment: Option<&str>) -> Vec<Variable> {
        let Some(scopes) = self.collections.get(key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for scope in environment.into_iter().chain([ALL_ENVIRONMENTS]) {
            for (name, value) in scopes.get(scope).into_iter().flatten() {
                out.push(Variable {
                    name: name.clone(),
                    value: value.clone(),
                    secret: true,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_known_names_and_reports_the_rest() {
        let mut vars = Vars::default();
        vars.set("base_url", "http://127.0.0.1:8081");
        vars.set("user_id", "7");
        let mut missing = Vec::new();
        let out = vars.substitute(
            "{{base_url}}/user/{{ user_id }}?t={{token}}&{{",
            &mut missing,
        );
        assert_eq!(out, "http://127.0.0.1:8081/user/7?t={{token}}&{{");
        assert_eq!(missing, vec!["token".to_string()]);
    }

    #[test]
    fn values_may_use_variables_and_cycles_stay_unresolved() {
        let mut vars = Vars::default();
        vars.set("auth", "Bearer {{token}}");
        vars.set("token", "t0k");
        vars.set("loop", "x{{loop}}");
        vars.set("phone", "+1 555");
        let mut missing = Vec::new();
        assert_eq!(vars.substitute("{{auth}}", &mut missing), "Bearer t0k");
        assert!(missing.is_empty());
        vars.set("token", "{{unset}}");
        assert_eq!(
            vars.substitute("{{auth}}", &mut missing),
            "Bearer {{unset}}"
        );
        assert_eq!(missing, ["unset"]);
        let mut missing = Vec::new();
        vars.substitute("{{loop}}", &mut missing);
        assert_eq!(missing, ["loop"]);
        let mut missing = Vec::new();
        let encoded = vars.substitute_with("To={{phone}}&a=+", &mut missing, &|v| {
            v.replace('+', "%2B").replace(' ', "%20")
        });
        assert_eq!(encoded, "To=%2B1%20555&a=+");
    }

    #[test]
    fn only_references_spots_literal_text() {
        assert!(only_references("{{token}}"));
        assert!(only_references(" {{a}} {{b}}"));
        assert!(!only_references("Bearer {{token}}"));
        assert!(!only_references("abc"));
        assert!(!only_references(""));
    }

    #[test]
    fn secret_looking_names() {
        for name in [
            "client_secret",
            "clientSecret",
            "access_token",
            "api_key",
            "apiKey",
            "X-API-KEY",
            "db-password",
            "PRIVATE_KEY",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "base_url",
            "client_id",
            "token_url",
            "user_id",
            "auth_endpoint",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn env_var_names_are_shell_friendly() {
        assert_eq!(
            env_var_name("amqp.password-1"),
            "SWITCHBOARD_VAR_AMQP_PASSWORD_1"
        );
    }
}
