//! What the private servers (nats-server, a RabbitMQ node) share: waiting for their stop or
//! for the signal that ends the app, so that a server never outlives the app.

/// Waits until `stopped` fires (or its sender is dropped), or until the app gets SIGTERM,
/// SIGINT or SIGHUP; returns that signal's number.
pub(crate) async fn stop_or_signal(stopped: tokio::sync::oneshot::Receiver<()>) -> Option<i32> {
    use tokio::signal::unix::{SignalKind, signal};
    async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
        match s {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    tokio::select! {
        _ = stopped => None,
        _ = next(&mut term) => Some(15),
        _ = next(&mut int) => Some(2),
        _ = next(&mut hup) => Some(1),
    }
}

/// Ends the app as `signal` would have (after the server was stopped).
pub(crate) fn exit_for(signal: Option<i32>) {
    if let Some(n) = signal {
        std::process::exit(128 + n);
    }
}

/// Whether `name` is an executable file on PATH (asked once per name and process: the services
/// strip asks every frame while a broker is down).
pub(crate) fn on_path(name: &'static str, cache: &'static std::sync::OnceLock<bool>) -> bool {
    *cache.get_or_init(|| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
    })
}

/// The file in a private server's data directory that holds the pid of the server (or of its
/// process group) the app started there: a server the app could not stop (the app was killed
/// with SIGKILL) is found and stopped by the next start instead of running twice on one
/// directory.
pub(crate) const PID_FILE: &str = "switchboard.pid";

/// Records `pid` as the server started in `dir`.
pub(crate) fn record_pid(dir: &std::path::Path, pid: u32) {
    let path = dir.join(PID_FILE);
    if let Err(err) = std::fs::write(&path, format!("{pid}\n")) {
        tracing::warn!(%err, path = %path.display(), "cannot record the server's pid");
    }
}

/// Forgets the server of `dir` (it was stopped).
pub(crate) fn forget_pid(dir: &std::path::Path) {
    let _ = std::fs::remove_file(dir.join(PID_FILE));
}

/// The processes of an earlier run's server in `dir` that still run: the process in its pid
/// file (with `group`, every process of that process group) whose command line or environment
/// names `dir` — a pid since reused by something else is left alone.
pub(crate) fn stale(dir: &std::path::Path, group: bool) -> Vec<u32> {
    let Some(recorded) = std::fs::read_to_string(dir.join(PID_FILE))
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
    else {
        return Vec::new();
    };
    let marker = dir.as_os_str().as_encoded_bytes();
    let candidates = if group {
        std::fs::read_dir("/proc")
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                    .filter(|pid| process_group(*pid) == Some(recorded))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        vec![recorded]
    };
    candidates
        .into_iter()
        .filter(|pid| running(*pid) && names(*pid, marker))
        .collect()
}

/// Stops what [`stale`] finds in `dir` (SIGTERM, then SIGKILL after 5 s) and waits until it is
/// gone; the pids stopped.
pub(crate) async fn stop_stale(dir: &std::path::Path, group: bool) -> Vec<u32> {
    use rustix::process::{Pid, Signal, kill_process};
    let found = stale(dir, group);
    if found.is_empty() {
        forget_pid(dir);
        return found;
    }
    tracing::warn!(
        ?found,
        dir = %dir.display(),
        "stopping the server an earlier run of the app left running there"
    );
    let signal_all = |signal: Signal| {
        for pid in &found {
            if let Some(pid) = i32::try_from(*pid).ok().and_then(Pid::from_raw) {
                let _ = kill_process(pid, signal);
            }
        }
    };
    signal_all(Signal::TERM);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while found.iter().any(|pid| running(*pid)) {
        if tokio::time::Instant::now() >= deadline {
            signal_all(Signal::KILL);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    while found.iter().any(|pid| running(*pid)) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    forget_pid(dir);
    found
}

/// The fields of `/proc/PID/stat` after the command name (which may hold spaces and
/// parentheses): state, ppid, pgrp, …
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// Whether `pid` runs (a zombie, dead but not reaped yet, does not).
fn running(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|state| state != "Z" && state != "X"))
}

fn process_group(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(2)?.parse().ok()
}

/// Whether `pid`'s command line or environment contains `marker`.
fn names(pid: u32, marker: &[u8]) -> bool {
    ["cmdline", "environ"].iter().any(|what| {
        std::fs::read(format!("/proc/{pid}/{what}"))
            .is_ok_and(|bytes| bytes.windows(marker.len()).any(|w| w == marker))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn temp_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sb-stale-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// `sleep 30`, naming `dir` in its environment when `mark` (as a server started there does).
    fn sleeper(dir: &std::path::Path, mark: bool) -> std::process::Child {
        let mut command = std::process::Command::new("sleep");
        command.arg("30");
        if mark {
            command.env("SB_TEST_DATA_DIR", dir);
        }
        command.spawn().unwrap()
    }

    #[tokio::test]
    async fn a_server_left_running_in_its_directory_is_stopped_and_a_stranger_is_not() {
        let dir = temp_dir();
        // No pid file: nothing to do.
        assert!(stop_stale(&dir, false).await.is_empty());

        // The pid file names a process that has nothing to do with the directory (a reused
        // pid): left alone.
        let mut stranger = sleeper(&dir, false);
        let id = stranger.id();
        common_wait(|| names(id, b"sleep").then_some(())).await;
        record_pid(&dir, id);
        assert!(stale(&dir, false).is_empty());
        assert!(stop_stale(&dir, false).await.is_empty());
        assert!(running(stranger.id()), "a stranger is never killed");
        assert!(
            !dir.join(PID_FILE).exists(),
            "the stale pid file is forgotten"
        );
        stranger.kill().unwrap();
        stranger.wait().unwrap();

        // The server an earlier run started there: stopped, and gone when this returns.
        let mut left = sleeper(&dir, true);
        record_pid(&dir, left.id());
        // (Once it runs: its environment shows a moment after the spawn returns.)
        let found = common_wait(|| Some(stale(&dir, false)).filter(|f| !f.is_empty())).await;
        assert_eq!(found, vec![left.id()]);
        assert_eq!(stop_stale(&dir, false).await, vec![left.id()]);
        assert!(!running(left.id()));
        assert!(!left.wait().unwrap().success());
        assert!(!dir.join(PID_FILE).exists());

        // A pid file of a process that ended: nothing to stop.
        record_pid(&dir, left.id());
        assert!(stop_stale(&dir, false).await.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_whole_process_group_left_running_is_stopped() {
        use std::os::unix::process::CommandExt;
        let dir = temp_dir();
        // A start script and the VM it runs (two processes of one group), as a RabbitMQ node.
        let mut script = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30; wait"])
            .env("SB_TEST_DATA_DIR", &dir)
            .process_group(0)
            .spawn()
            .unwrap();
        record_pid(&dir, script.id());
        let members = common_wait(|| {
            let found = stale(&dir, true);
            (found.len() == 3).then_some(found)
        })
        .await;
        assert!(members.contains(&script.id()), "{members:?}");
        let stopped = stop_stale(&dir, true).await;
        assert_eq!(stopped.len(), 3, "{stopped:?}");
        assert!(members.iter().all(|pid| !running(*pid)));
        script.wait().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    async fn common_wait<T>(mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            if let Some(value) = check() {
                return value;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
