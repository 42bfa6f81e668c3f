//! Publishing many messages for load experiments: N copies (or a numbered series) at a chosen
//! rate on one connection, with pipelined publisher confirms and progress reports.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use lapin::{Confirmation, PublisherConfirm};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::amqp::{PublishRequest, classify_lapin, connect};
use crate::exchange::ExchangeError;
use crate::recorder::Recorder;

/// How many messages may await their confirm at once.
const IN_FLIGHT: usize = 1000;

/// What to publish many of.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishMany {
    pub request: PublishRequest,
    pub count: u64,
    /// Messages per second; 0 = as fast as confirms allow.
    pub rate_per_sec: f64,
    /// Replace `{n}` in the body and message id with the message's number (1-based).
    pub numbered: bool,
}

/// Progress so far (sent every ~100 ms and at the end).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Progress {
    pub published: u64,
    pub confirmed: u64,
    /// Nacked or returned (unroutable) messages.
    pub failed: u64,
    pub elapsed: Duration,
    pub done: bool,
}

impl Progress {
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.confirmed as f64 / secs
        } else {
            0.0
        }
    }
}

/// Publishes `job.count` messages; reports progress on `progress` (if given) and returns the
/// final count, or the error that stopped it.
pub async fn publish_many(
    job: &PublishMany,
    progress: Option<mpsc::Sender<Progress>>,
    cancel: CancellationToken,
) -> Result<Progress, ExchangeError> {
    let req = &job.request;
    let mut rec = Recorder::new(req.timeout);
    let (conn, channel) = connect(
        &mut rec,
        &req.url,
        true,
        "switchboard publish many",
        crate::amqp::DEFAULT_FRAME_MAX,
    )
    .await?;
    let prepared = req.prepare()?;
    let template = String::from_utf8(req.body.clone())
        .ok()
        .filter(|_| job.numbered);
    let start = Instant::now();
    let mut state = Progress::default();
    let mut pending: VecDeque<PublisherConfirm> = VecDeque::new();
    let mut last_report = Instant::now();
    let settle = |c: Result<Confirmation, lapin::Error>,
                  state: &mut Progress|
     -> Result<(), ExchangeError> {
        match c {
            Ok(Confirmation::Ack(None)) | Ok(Confirmation::NotRequested) => state.confirmed += 1,
            Ok(_) => state.failed += 1,
            Err(e) => {
                let (kind, message) = classify_lapin(&e, &req.url);
                return Err(ExchangeError {
                    kind,
                    phase: Some(crate::amqp::phases::CONFIRM),
                    message,
                });
            }
        }
        Ok(())
    };
    // A confirm (or a publish) that does not come within the request timeout means the
    // connection is gone without lapin noticing: an error, never a hang.
    let stalled = || ExchangeError {
        kind: crate::ErrorKind::Timeout,
        phase: Some(crate::amqp::phases::CONFIRM),
        message: format!(
            "no broker confirm within {:.1} s (the request timeout): the connection may be lost",
            req.timeout.as_secs_f64()
        ),
    };
    let confirmed = |c: PublisherConfirm| tokio::time::timeout(req.timeout, c);
    let result: Result<(), ExchangeError> = async {
        for n in 1..=job.count {
            if cancel.is_cancelled() {
                break;
            }
            if job.rate_per_sec > 0.0 {
                // At most a day ahead: a tiny rate must not overflow the clock.
                let wait_secs = ((n - 1) as f64 / job.rate_per_sec).min(86_400.0);
                let due = start + Duration::from_secs_f64(wait_secs);
                tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
            }
            let numbered;
            let (body, props) = if job.numbered {
                // The series is numbered even when nothing says where: the message id is
                // then the number itself.
                let mut properties = req.properties.clone();
                properties.message_id = Some(match &properties.message_id {
                    Some(id) if id.contains("{n}") => id.replace("{n}", &n.to_string()),
                    Some(id) if !id.is_empty() => format!("{id}-{n}"),
                    _ => n.to_string(),
                });
                numbered = match &template {
                    Some(t) => t.replace("{n}", &n.to_string()).into_bytes(),
                    None => req.body.clone(),
                };
                (
                    numbered.as_slice(),
                    properties.to_lapin(prepared.headers.clone())?,
                )
            } else {
                (req.body.as_slice(), prepared.properties.clone())
            };
            let publish = channel.basic_publish(
                prepared.exchange.clone(),
                prepared.routing_key.clone(),
                prepared.options,
                body,
                props,
            );
            let confirm = tokio::time::timeout(req.timeout, publish)
                .await
                .map_err(|_| stalled())?
                .map_err(|e| {
                    let (kind, message) = classify_lapin(&e, &req.url);
                    ExchangeError {
                        kind,
                        phase: Some(crate::amqp::phases::PUBLISH),
                        message,
                    }
                })?;
            state.published += 1;
            pending.push_back(confirm);
            // Count the confirms that already came, so progress shows what the broker holds.
            while let Some(front) = pending.front_mut() {
                match front.now_or_never() {
                    Some(c) => {
                        pending.pop_front();
                        settle(c, &mut state)?;
                    }
                    None => break,
                }
            }
            while pending.len() >= IN_FLIGHT {
                if let Some(oldest) = pending.pop_front() {
                    settle(confirmed(oldest).await.map_err(|_| stalled())?, &mut state)?;
                }
            }
            if last_report.elapsed() >= Duration::from_millis(100) {
                last_report = Instant::now();
                state.elapsed = start.elapsed();
                if let Some(p) = &progress {
                    let _ = p.try_send(state);
                }
            }
        }
        while let Some(confirm) = pending.pop_front() {
            settle(confirmed(confirm).await.map_err(|_| stalled())?, &mut state)?;
        }
        Ok(())
    }
    .await;
    crate::amqp::close(&conn, "bye").await;
    result?;
    state.elapsed = start.elapsed();
    state.done = true;
    if let Some(p) = &progress {
        let _ = p.send(state).await;
    }
    Ok(state)
}
