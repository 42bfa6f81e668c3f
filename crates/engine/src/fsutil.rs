//! Files written so that a crash leaves the old content or the new, never a torn file.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to a temporary file in the same directory, syncs it, and renames it over `path`.
/// Reads a file the user pointed at, refusing what is not a regular file (a FIFO would block,
/// a device like `/dev/zero` never ends) and anything over `max_bytes`, with a clear message.
/// Symbolic links are followed, to a regular file only.
pub fn read_regular(path: &Path, max_bytes: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let too_big = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {} MiB", max_bytes / (1024 * 1024)),
        )
    };
    if meta.len() > max_bytes {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(max_bytes + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_big());
    }
    Ok(bytes)
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_mode(path, bytes, None)
}

/// Like [`write_atomic`], but the file is readable and writable by its owner only (0600 on
/// Unix) from the moment it exists: for secrets and history.
pub fn write_atomic_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_mode(path, bytes, Some(0o600))
}

/// Writes many new files, each through a temporary file and a rename (never seen half
/// written), then syncs each of their folders once. For bulk writes of new files (an import of
/// thousands of requests), the files are not synced one by one: thousands of syncs take
/// seconds on a busy disk. A crash right after may leave some of the new files empty (they
/// load as broken files); no existing content is ever at risk, as only new files are written.
pub fn write_new_files(files: &[(&Path, &[u8])]) -> std::io::Result<()> {
    write_new_files_counted(files, &mut |_| {})
}

/// [`write_new_files`], calling `written(n)` after the n-th file is in place.
pub fn write_new_files_counted(
    files: &[(&Path, &[u8])],
    written: &mut dyn FnMut(usize),
) -> std::io::Result<()> {
    let mut dirs = std::collections::BTreeSet::new();
    for (i, (path, bytes)) in files.iter().enumerate() {
        let (mut staged, file) = Staged::create(path, bytes, None)?;
        drop(file);
        std::fs::rename(&staged.tmp, &staged.path)?;
        staged.done = true;
        dirs.insert(staged.dir.clone());
        written(i + 1);
    }
    for dir in dirs {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Creates the data directory owner-only (0700), or makes an existing one so: called whenever
/// the secret store, the history or the app's state is written (by the CLI as by the app).
/// A shared directory is left alone: the filesystem root, the temporary directory and any
/// sticky directory (`/tmp`) are not the data directory of one user.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let mode = std::fs::metadata(dir)?.permissions().mode();
        let shared = mode & 0o1000 != 0
            || dir.parent().is_none()
            || std::fs::canonicalize(dir).ok() == std::fs::canonicalize(std::env::temp_dir()).ok();
        if mode & 0o077 != 0 && !shared {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Opens (creating) a file for appending, owner-only when created.
pub fn open_append_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn write_atomic_mode(path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    Staged::write(path, bytes, mode)?.commit()
}

/// A new content written and synced to a temporary file beside its target, not yet renamed
/// over it. Dropping it removes the temporary file; a crash before [`Staged::commit`] leaves
/// the target untouched (and a hidden `.NAME.tmp-PID` file that loaders skip).
#[derive(Debug)]
pub struct Staged {
    tmp: std::path::PathBuf,
    path: std::path::PathBuf,
    dir: std::path::PathBuf,
    done: bool,
}

impl Staged {
    pub fn write(path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<Self> {
        let (staged, file) = Self::create(path, bytes, mode)?;
        file.sync_all()?;
        Ok(staged)
    }

    /// The temporary file, written but not synced.
    fn create(
        path: &Path,
        bytes: &[u8],
        mode: Option<u32>,
    ) -> std::io::Result<(Self, std::fs::File)> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
        let staged = Self {
            tmp: dir.join(format!(
                ".{}.tmp-{}",
                name.to_string_lossy(),
                std::process::id()
            )),
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
            done: false,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if let Some(mode) = mode {
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&staged.tmp)?;
        file.write_all(bytes)?;
        Ok((staged, file))
    }

    /// Renames the temporary file over the target and syncs the directory.
    pub fn commit(mut self) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, &self.path)?;
        self.done = true;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// True for the temporary files [`Staged`] leaves behind after a crash.
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn private_dir_tightens_a_data_directory_but_not_a_shared_one() {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let dir = std::env::temp_dir().join(format!("sb-private-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        super::private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let new = dir.join("a/b");
        super::private_dir(&new).unwrap();
        assert_eq!(mode(&new), 0o700);
        let before = mode(&std::env::temp_dir());
        super::private_dir(&std::env::temp_dir()).unwrap();
        assert_eq!(mode(&std::env::temp_dir()), before);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = std::env::temp_dir().join(format!("sb-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.jsonl");
        std::fs::write(&path, b"old").unwrap();
        super::write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod read_tests {
    use super::read_regular;

    #[test]
    fn only_regular_files_of_a_bounded_size_are_read() {
        let dir = std::env::temp_dir().join(format!("sb-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small.json");
        std::fs::write(&small, b"{}").unwrap();
        assert_eq!(read_regular(&small, 10).unwrap(), b"{}");
        let big = dir.join("big.json");
        std::fs::write(&big, vec![b' '; 100]).unwrap();
        assert!(
            read_regular(&big, 10)
                .unwrap_err()
                .to_string()
                .contains("larger than")
        );
        assert_eq!(
            read_regular(std::path::Path::new("/dev/zero"), 10)
                .unwrap_err()
                .to_string(),
            "not a regular file"
        );
        assert!(read_regular(&dir, 10).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
