//! A private `nats-server` for the app when none is reachable: on a free loopback port, with
//! JetStream storing in a folder of the app's data directory, stopped with the app (the child is
//! killed when its handle is dropped). Its pid is kept in that folder: one an earlier run left
//! running (the app was killed with SIGKILL, which nothing can catch) is stopped by the next
//! start, so two servers never share the JetStream directory.

use std::path::Path;
use std::time::Duration;

/// A running private server.
#[derive(Debug)]
pub struct PrivateNats {
    pub url: String,
    /// Dropping or sending stops the server.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    guard: Option<tokio::task::JoinHandle<()>>,
}

impl PrivateNats {
    /// Whether `nats-server` is on PATH.
    pub fn available() -> bool {
        static FOUND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        crate::child_guard::on_path("nats-server", &FOUND)
    }

    /// Starts `nats-server -a 127.0.0.1 -p PORT -js -sd DIR` and waits (5 s at most) until it
    /// accepts connections; first stops a server an earlier run left running on `DIR`.
    pub async fn start(store_dir: &Path) -> Result<Self, String> {
        crate::child_guard::stop_stale(store_dir, false).await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        std::fs::create_dir_all(store_dir)
            .map_err(|e| format!("cannot create {}: {e}", store_dir.display()))?;
        // Its output goes to a log beside the store, so that a failed start can say why.
        let log_path = store_dir.join("server.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("cannot use {}: {e}", log_path.display()))?;
        let mut child = tokio::process::Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(store_dir)
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot run nats-server: {e}"))?;
        if let Some(pid) = child.id() {
            crate::child_guard::record_pid(store_dir, pid);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                let (stop, stopped) = tokio::sync::oneshot::channel();
                return Ok(Self {
                    url: format!("nats://127.0.0.1:{port}"),
                    stop: Some(stop),
                    guard: Some(tokio::spawn(guard(child, store_dir.to_path_buf(), stopped))),
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                crate::child_guard::forget_pid(store_dir);
                let said = std::fs::read_to_string(&log_path).unwrap_or_default();
                let last = said
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                return Err(format!(
                    "nats-server exited at once ({status}){}{last}; see {}",
                    if last.is_empty() { "" } else { ": " },
                    log_path.display()
                ));
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = child.kill().await;
                crate::child_guard::forget_pid(store_dir);
                return Err(format!(
                    "nats-server did not listen within 5 s; see {}",
                    log_path.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(guard) = self.guard.take() {
            let _ = guard.await;
        }
    }
}

/// Owns the server: kills it when told to (or when its handle is dropped), and when the app is
/// terminated by a signal (SIGTERM, SIGINT, SIGHUP) — then ends the app as the signal would
/// have, so the server never outlives it.
async fn guard(
    mut child: tokio::process::Child,
    dir: std::path::PathBuf,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let signal = crate::child_guard::stop_or_signal(stopped).await;
    let _ = child.kill().await;
    crate::child_guard::forget_pid(&dir);
    crate::child_guard::exit_for(signal);
}
