//! Where the app keeps its state between launches, owner-only, in the data directory:
//! `settings.json` (the editors and choices, [`Settings`], with credentials moved to the secret
//! store or dropped) and eframe's `app.ron` (window size and widget layout only). The data
//! directory itself is made owner-only (0700), since it also holds the history and secrets.

use std::path::{Path, PathBuf};

use super::settings::Settings;
use crate::engine::fsutil;

/// The app's own state file in the data directory.
pub const SETTINGS_FILE: &str = "settings.json";
/// The secret store (owner-only), beside the settings.
pub const SECRETS_FILE: &str = "secrets.json";

/// eframe's state file (window geometry, egui memory) in the data directory.
pub const WINDOW_FILE: &str = "app.ron";

/// Creates the data directory owner-only (0700), or makes an existing one so (the engine's
/// [`fsutil::private_dir`], which the CLI uses too).
pub fn prepare_data_dir(dir: &Path) -> std::io::Result<()> {
    fsutil::private_dir(dir)
}

/// Where eframe keeps the window state: `app.ron` in the data directory, made owner-only
/// before eframe writes it (eframe truncates and rewrites the file, which keeps its mode).
/// `legacy` is eframe's default state file (older versions wrote there): it is moved in.
pub fn window_state_path(data_dir: &Path, legacy: Option<PathBuf>) -> PathBuf {
    let path = data_dir.join(WINDOW_FILE);
    if let Err(e) = prepare_window_state(&path, legacy) {
        tracing::warn!("window state {}: {e}", path.display());
    }
    path
}

fn prepare_window_state(path: &Path, legacy: Option<PathBuf>) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        prepare_data_dir(dir)?;
    }
    if !path.exists() {
        // An empty RON map until eframe writes it, created owner-only.
        let content = legacy
            .as_ref()
            .filter(|old| old.as_path() != path)
            .and_then(|old| std::fs::read(old).ok())
            .unwrap_or_else(|| b"{}".to_vec());
        fsutil::write_atomic_private(path, &content)?;
        if let Some(old) = legacy.filter(|old| old.as_path() != path && old.exists()) {
            // It held the editors in clear (older versions): it goes.
            std::fs::remove_file(old)?;
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// The settings saved at the last exit, if any. Older shapes are migrated; a value that
/// cannot be read gets its default (everything around it is kept). Either way the next save
/// replaces the file, so it is first copied as it was to `settings.json.bak` — with the secret
/// store beside it as `secrets.json.bak`, since the next save also drops the secrets that only
/// the lost values referred to. Not JSON at all: defaults, and the same copies. The second
/// value says what went wrong, for the window to show.
pub fn load_settings(data_dir: &Path) -> (Option<Settings>, Option<String>) {
    let path = data_dir.join(SETTINGS_FILE);
    let Ok(bytes) = std::fs::read(&path) else {
        return (None, None);
    };
    let keep_copies = |why: &str| -> String {
        // A copy never replaces an earlier one (that may be the only copy of an older
        // version's file): settings.json.bak, then settings.json.bak.2, .3…
        let suffix = (1..)
            .map(|n: u32| {
                if n == 1 {
                    "bak".to_string()
                } else {
                    format!("bak.{n}")
                }
            })
            .find(|suffix| !data_dir.join(format!("{SETTINGS_FILE}.{suffix}")).exists())
            .unwrap_or_else(|| "bak".to_string());
        let backup = data_dir.join(format!("{SETTINGS_FILE}.{suffix}"));
        let secrets = data_dir.join(SECRETS_FILE);
        let copied =
            fsutil::write_atomic_private(&backup, &bytes).and_then(|()| {
                match std::fs::read(&secrets) {
                    Ok(held) => fsutil::write_atomic_private(
                        &data_dir.join(format!("{SECRETS_FILE}.{suffix}")),
                        &held,
                    ),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e),
                }
            });
        let message = match copied {
            Ok(()) => format!(
                "{}: {why}; the file as it was is kept in {} (and the secret store in {SECRETS_FILE}.{suffix}); credentials are kept until the next clean start",
                path.display(),
                backup.display()
            ),
            Err(e) => format!("{}: {why}; no copy kept ({e})", path.display()),
        };
        tracing::warn!("{message}");
        message
    };
    // A byte-order mark some editors put first is not JSON.
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    match serde_json::from_slice(text) {
        Ok(value) => {
            let (mut settings, read) = crate::ui::settings::migrate::read(value);
            // Earlier versions had one traceparent tick for every editor.
            if !settings.trace_context {
                settings.trace_context = true;
                let all = crate::ui::settings::TransportTab::ALL.to_vec();
                settings.editors.traceparent_off = all.clone();
                for tab in &mut settings.tabs {
                    tab.editors.traceparent_off = all.clone();
                }
            }
            let message = if !read.dropped.is_empty() {
                let mut named = read.dropped[..read.dropped.len().min(5)].join(", ");
                if read.dropped.len() > 5 {
                    named.push_str(&format!(" and {} more", read.dropped.len() - 5));
                }
                Some(keep_copies(&format!(
                    "unreadable settings ({named}) start from their defaults"
                )))
            } else {
                if read.migrated {
                    // Not a problem: an older version's file, kept for going back to it.
                    keep_copies("migrated from an older version's format");
                }
                None
            };
            (Some(settings), message)
        }
        Err(e) => (
            None,
            Some(keep_copies(&format!("{e}; starting with defaults"))),
        ),
    }
}

/// Writes the settings owner-only and atomically, unless the file already holds exactly
/// them. `settings` must already be free of credentials.
pub fn save_settings(data_dir: &Path, settings: &Settings) -> std::io::Result<()> {
    let mut text = serde_json::to_vec_pretty(settings).map_err(std::io::Error::other)?;
    text.push(b'\n');
    let path = data_dir.join(SETTINGS_FILE);
    if std::fs::read(&path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    prepare_data_dir(data_dir)?;
    fsutil::write_atomic_private(&path, &text)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o777)
    }

    #[test]
    fn the_state_files_and_their_directory_are_owner_only() {
        let dir = std::env::temp_dir().join(format!(
            "sb-state-{}-{}",
            std::process::id(),
            crate::engine::recorder::unix_ms()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let legacy = dir.join("old").join(WINDOW_FILE);
        std::fs::create_dir_all(legacy.parent().unwrap()).unwrap();
        std::fs::write(&legacy, b"{\"window\": \"()\"}").unwrap();
        let window = window_state_path(&dir, Some(legacy.clone()));
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&window), 0o600);
        // The old file moved in.
        assert_eq!(std::fs::read(&window).unwrap(), b"{\"window\": \"()\"}");
        assert!(!legacy.exists());
        // A file someone made readable is tightened again.
        std::fs::set_permissions(&window, std::fs::Permissions::from_mode(0o644)).unwrap();
        window_state_path(&dir, None);
        assert_eq!(mode(&window), 0o600);
        let settings = Settings {
            timeout_secs: 3.0,
            ..Settings::default()
        };
        save_settings(&dir, &settings).unwrap();
        assert_eq!(mode(&dir.join(SETTINGS_FILE)), 0o600);
        assert_eq!(load_settings(&dir), (Some(settings), None));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
