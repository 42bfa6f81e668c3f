//! Why something the backend was asked to do did not happen. Events carry a [`BackendError`]
//! instead of a bare message, so the UI can tell a server that is down from a file it cannot
//! write or input it cannot send, and print each the same way everywhere.

use std::path::{Path, PathBuf};

use crate::engine::collection::CollectionError;
use crate::engine::{ErrorKind, ExchangeError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// A server or broker did not answer as asked; its kind says how (refused, auth, timeout…).
    #[error("{0}")]
    Exchange(ExchangeError),
    /// A file or folder could not be read or written.
    #[error("{}: {message}", path.display())]
    File {
        path: PathBuf,
        kind: std::io::ErrorKind,
        message: String,
    },
    /// A file was read, but what it holds is not what was expected.
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    /// A local process or listener (a private broker, a demo service, the OTLP receiver) could
    /// not start, or the demo could not move to it.
    #[error("{message}")]
    Start { what: Starting, message: String },
    /// The backend's command queue is full: nothing was asked.
    #[error("the background worker is busy; try again")]
    Busy,
    /// What was given cannot be sent or done (invalid JSON, a stream that is closed…).
    #[error("{0}")]
    Invalid(String),
}

/// What [`BackendError::Start`] was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Starting {
    /// The demo services as a whole.
    Demo,
    /// One demo service.
    Service,
    /// A private RabbitMQ node (or moving the demo to it).
    RabbitNode,
    /// A private nats-server (or moving the demo to it).
    NatsServer,
    /// The OTLP receiver.
    Traces,
}

impl BackendError {
    pub fn start(what: Starting, message: impl Into<String>) -> Self {
        Self::Start {
            what,
            message: message.into(),
        }
    }

    pub fn file(path: &Path, error: &std::io::Error) -> Self {
        Self::File {
            path: path.to_path_buf(),
            kind: error.kind(),
            message: error.to_string(),
        }
    }

    /// A server that did not answer a TCP connect (`error`), or not in time (`None`). The
    /// message does not repeat the address: whoever shows it names the server.
    pub fn unreachable(error: Option<&std::io::Error>) -> Self {
        let (kind, message) = match error {
            Some(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => (
                ErrorKind::ConnectionRefused,
                "connection refused: nothing listens there".to_string(),
            ),
            Some(e) => (ErrorKind::Io, e.to_string()),
            None => (
                ErrorKind::Timeout,
                "no answer to a connect within 2 s".to_string(),
            ),
        };
        Self::Exchange(ExchangeError {
            kind,
            phase: None,
            message,
        })
    }
}

impl From<ExchangeError> for BackendError {
    fn from(e: ExchangeError) -> Self {
        Self::Exchange(e)
    }
}

impl From<CollectionError> for BackendError {
    fn from(e: CollectionError) -> Self {
        match e {
            CollectionError::Io { path, error } => Self::file(&path, &error),
            CollectionError::Corrupt { path, reason } => Self::Corrupt {
                path,
                message: reason,
            },
            other => Self::Invalid(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_prints_its_message_and_names_its_kind() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let down = BackendError::unreachable(Some(&refused));
        assert!(
            matches!(&down, BackendError::Exchange(e) if e.kind == ErrorKind::ConnectionRefused)
        );
        assert_eq!(
            down.to_string(),
            "connection refused: nothing listens there"
        );
        assert!(
            matches!(BackendError::unreachable(None), BackendError::Exchange(e) if e.kind == ErrorKind::Timeout)
        );
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        let file = BackendError::from(CollectionError::io(Path::new("/x/y.json"), missing));
        assert!(
            matches!(&file, BackendError::File { kind: std::io::ErrorKind::NotFound, path, .. } if path == Path::new("/x/y.json")),
            "{file:?}"
        );
        assert!(file.to_string().starts_with("/x/y.json: "), "{file}");
    }
}
