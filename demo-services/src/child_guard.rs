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
