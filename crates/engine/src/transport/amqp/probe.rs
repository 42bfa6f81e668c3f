//! How many messages wait in a queue and how many consumers take from it: a passive declare
//! (never creates anything) on a kept connection, cheap enough to poll twice a second (the
//! services strip's queue depth).

use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};

use super::{check_url, classify_lapin};
use crate::exchange::{ErrorKind, ExchangeError};

/// A queue's depth as the broker reports it to a passive declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueDepth {
    /// Messages ready for delivery (not those delivered and awaiting an ack).
    pub ready: u32,
    pub consumers: u32,
}

/// A kept connection for asking queue depths; reconnects on the next call after a failure.
pub struct QueueProbe {
    url: String,
    open: Option<(Connection, Channel)>,
}

impl QueueProbe {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            open: None,
        }
    }

    /// The depth of `queue`, or why not (broker down, no such queue: one line each).
    pub async fn depth(
        &mut self,
        queue: &str,
        timeout: Duration,
    ) -> Result<QueueDepth, ExchangeError> {
        match tokio::time::timeout(timeout, self.ask(queue)).await {
            Ok(Ok(depth)) => Ok(depth),
            Ok(Err(e)) => {
                self.open = None;
                Err(e)
            }
            Err(_) => {
                self.open = None;
                Err(failed(
                    ErrorKind::Timeout,
                    format!("no answer within {} ms", timeout.as_millis()),
                ))
            }
        }
    }

    async fn ask(&mut self, queue: &str) -> Result<QueueDepth, ExchangeError> {
        if self
            .open
            .as_ref()
            .is_none_or(|(c, ch)| !c.status().connected() || !ch.status().connected())
        {
            check_url(&self.url)?;
            let props = ConnectionProperties::default()
                .with_connection_name("switchboard queue depth".into());
            let conn = super::connect_kept(&self.url, props)
                .await
                .map_err(|e| lapin_failed(&e, &self.url))?;
            let channel = conn
                .create_channel()
                .await
                .map_err(|e| lapin_failed(&e, &self.url))?;
            self.open = Some((conn, channel));
        }
        let Some((_, channel)) = &self.open else {
            return Err(failed(ErrorKind::Io, "not connected".to_string()));
        };
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let declared = channel
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await
            .map_err(|e| {
                let (kind, message) = classify_lapin(&e, &self.url);
                if message.contains("NOT_FOUND") || message.contains("404") {
                    failed(
                        ErrorKind::Refused,
                        format!("queue {queue:?} does not exist"),
                    )
                } else {
                    failed(kind, message)
                }
            })?;
        Ok(QueueDepth {
            ready: declared.message_count(),
            consumers: declared.consumer_count(),
        })
    }
}

fn failed(kind: ErrorKind, message: String) -> ExchangeError {
    ExchangeError {
        kind,
        phase: None,
        message,
    }
}

fn lapin_failed(e: &lapin::Error, url: &str) -> ExchangeError {
    let (kind, message) = classify_lapin(e, url);
    failed(kind, message)
}
