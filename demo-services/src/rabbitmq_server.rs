//! A private RabbitMQ node for the app when no broker is reachable: its own node name, free
//! loopback ports (AMQP and Erlang distribution), its database and logs in a folder of the
//! app's data directory, and no plugins; stopped with the app. It runs in its own process
//! group, so stopping it stops the Erlang VM the start script launches too. That group is kept
//! in the folder's pid file: a node an earlier run left running (the app was killed with
//! SIGKILL) is stopped by the next start.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a node may take to start (about 9 s on a 2-core machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running private node.
#[derive(Debug)]
pub struct PrivateRabbit {
    /// `amqp://guest:guest@127.0.0.1:PORT/%2f`
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    guard: Option<tokio::task::JoinHandle<()>>,
    /// The node's process group (the start script's pid).
    group: Option<u32>,
}

impl Drop for PrivateRabbit {
    /// Dropped before `stop` finished (never called, or its wait cut short when the runtime
    /// went away — a test's app ends so): the Erlang VM is not the child the runtime would
    /// kill, so the whole group is killed here.
    fn drop(&mut self) {
        if let Some(group) = self.group {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .status();
        }
    }
}

/// The node's start script: Debian's `/usr/sbin/rabbitmq-server` switches to the `rabbitmq`
/// user and drops the environment, so the script it wraps is used when it is there.
fn server_script() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/lib/rabbitmq/bin/rabbitmq-server");
    if debian.is_file() {
        return Some(debian);
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join("rabbitmq-server"))
        .find(|p| p.is_file())
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

impl PrivateRabbit {
    /// Whether a RabbitMQ server is installed (looked up once: the strip asks every frame
    /// while the broker is down).
    pub fn available() -> bool {
        static FOUND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *FOUND.get_or_init(|| server_script().is_some())
    }

    /// Starts a node with its data in `dir` and waits until it accepts AMQP connections; first
    /// stops a node an earlier run left running there.
    pub async fn start(dir: &Path) -> Result<Self, String> {
        let script = server_script().ok_or("rabbitmq-server is not installed")?;
        crate::child_guard::stop_stale(dir, true).await;
        let (port, dist_port) = (free_port()?, free_port()?);
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let file = |name: &str| dir.join(name);
        std::fs::write(file("enabled_plugins"), "[].\n")
            .and_then(|()| std::fs::write(file("rabbitmq-env.conf"), ""))
            .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
        let log = std::fs::File::create(file("server.log"))
            .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
        let err_log = log
            .try_clone()
            .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
        let node = format!("switchboard-{port}@localhost");
        let mut child = tokio::process::Command::new(&script)
            .current_dir(dir)
            .env("RABBITMQ_NODENAME", &node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", port.to_string())
            .env("RABBITMQ_DIST_PORT", dist_port.to_string())
            // Erlang distribution (and an epmd this node starts) on loopback only, like AMQP.
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            )
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_MNESIA_BASE", file("mnesia"))
            .env("RABBITMQ_LOG_BASE", file("log"))
            .env("RABBITMQ_PID_FILE", file("node.pid"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", file("enabled_plugins"))
            .env("RABBITMQ_CONFIG_FILE", file("rabbitmq"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", file("advanced.config"))
            .env("RABBITMQ_CONF_ENV_FILE", file("rabbitmq-env.conf"))
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        let group = child.id();
        if let Some(group) = group {
            crate::child_guard::record_pid(dir, group);
        }
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                let (stop, stopped) = tokio::sync::oneshot::channel();
                return Ok(Self {
                    url: format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
                    stop: Some(stop),
                    guard: Some(tokio::spawn(guard(
                        child,
                        group,
                        dir.to_path_buf(),
                        stopped,
                    ))),
                    group,
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                kill_group(group).await;
                crate::child_guard::forget_pid(dir);
                return Err(format!(
                    "rabbitmq-server exited ({status}); see {}",
                    file("server.log").display()
                ));
            }
            if tokio::time::Instant::now() >= deadline {
                kill_group(group).await;
                crate::child_guard::forget_pid(dir);
                return Err(format!(
                    "rabbitmq-server did not listen within {} s; see {}",
                    START_TIMEOUT.as_secs(),
                    file("server.log").display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the node and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(guard) = self.guard.take() {
            let _ = guard.await;
        }
        // Stopped: nothing left for Drop to kill (and the group's id may be reused).
        self.group = None;
    }
}

/// Kills the node's whole process group (the start script and the Erlang VM under it).
async fn kill_group(group: Option<u32>) {
    if let Some(group) = group {
        let _ = tokio::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{group}")])
            .status()
            .await;
    }
}

/// Owns the node: stops it when told to, or when the app is ended by a signal (then ends the
/// app as the signal would have), so the node never outlives the app.
async fn guard(
    mut child: tokio::process::Child,
    group: Option<u32>,
    dir: PathBuf,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let signal = crate::child_guard::stop_or_signal(stopped).await;
    kill_group(group).await;
    let _ = child.kill().await;
    crate::child_guard::forget_pid(&dir);
    crate::child_guard::exit_for(signal);
}
