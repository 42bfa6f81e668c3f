//! Publish many over NATS: N copies or a numbered series (`{n}` in the body and the
//! `Nats-Msg-Id`) at a chosen rate on one connection — JetStream with up to 1000 acks in flight,
//! core publishes flushed as they go.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{NatsRequest, check, connect, header_map, max_payload};
use crate::exchange::{ErrorKind, ExchangeError, Header};
use crate::publish_many::Progress;
use crate::recorder::Recorder;

/// What to publish, how many times and how fast.
#[derive(Debug, Clone, PartialEq)]
pub struct NatsPublishMany {
    pub request: NatsRequest,
    pub count: u64,
    /// Messages per second; 0 = as fast as the server takes them.
    pub rate_per_sec: f64,
    /// Replace `{n}` in the body and the message id with the message's number (1-based).
    pub numbered: bool,
}

/// Most JetStream acks awaited at once.
const IN_FLIGHT: usize = 1000;

/// Publishes the series, reporting progress every ~100 ms and at the end. Core publishes count
/// as confirmed once flushed (core NATS has no ack); JetStream ones when the stream acks.
pub async fn publish_many(
    job: &NatsPublishMany,
    progress: Option<mpsc::Sender<Progress>>,
    cancel: CancellationToken,
) -> Result<Progress, ExchangeError> {
    let req = job.request.trimmed();
    let timeout = req.timeout(Duration::from_secs(30));
    let body = req.body_bytes()?;
    let headers = check(&req)?;
    let mut rec = Recorder::new(timeout);
    let client = connect(&mut rec, &req.url, "switchboard publish many").await?;
    let max = max_payload(&client);
    let js = req
        .jetstream
        .then(|| async_nats::jetstream::new(client.clone()));
    let template = String::from_utf8(body.clone())
        .ok()
        .filter(|_| job.numbered);
    let start = Instant::now();
    let mut state = Progress::default();
    let mut last_report = Instant::now();
    let mut acks: VecDeque<async_nats::jetstream::context::PublishAckFuture> = VecDeque::new();
    let stalled = || ExchangeError {
        kind: ErrorKind::Timeout,
        phase: Some(super::phases::ACK),
        message: format!(
            "no JetStream ack within {:.1} s (the request timeout): the connection may be lost",
            timeout.as_secs_f64()
        ),
    };
    let result: Result<(), ExchangeError> = async {
        for n in 1..=job.count {
            if cancel.is_cancelled() {
                break;
            }
            if job.rate_per_sec > 0.0 {
                let wait_secs = ((n - 1) as f64 / job.rate_per_sec).min(86_400.0);
                let due = start + Duration::from_secs_f64(wait_secs);
                tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
            }
            let mut sent_headers = headers.clone();
            let payload = match (&template, job.numbered) {
                (Some(t), true) => t.replace("{n}", &n.to_string()).into_bytes(),
                _ => body.clone(),
            };
            if job.numbered && req.jetstream {
                // The series is deduplicated per message: its id is numbered too.
                sent_headers.retain(|h| !h.name.eq_ignore_ascii_case("Nats-Msg-Id"));
                let id = match req.msg_id.as_str() {
                    id if id.contains("{n}") => id.replace("{n}", &n.to_string()),
                    "" => n.to_string(),
                    id => format!("{id}-{n}"),
                };
                sent_headers.push(Header::new("Nats-Msg-Id", id));
            }
            let size: usize = payload.len()
                + sent_headers
                    .iter()
                    .map(|h| h.name.len() + h.value.len() + 4)
                    .sum::<usize>();
            if max > 0 && size > max {
                return Err(ExchangeError {
                    kind: ErrorKind::InvalidInput,
                    phase: Some(super::phases::PUBLISH),
                    message: format!(
                        "message {n} is {size} bytes but the server's max_payload is {max} bytes"
                    ),
                });
            }
            let map = header_map(&sent_headers)?;
            let payload = Bytes::from(payload);
            let subject = req.subject.clone();
            match &js {
                Some(js) => {
                    let ack = match map {
                        Some(map) => js.publish_with_headers(subject, map, payload).await,
                        None => js.publish(subject, payload).await,
                    }
                    .map_err(|e| {
                        let (kind, message) = super::classify_publish(&e, &req.subject);
                        ExchangeError {
                            kind,
                            phase: Some(super::phases::PUBLISH),
                            message,
                        }
                    })?;
                    acks.push_back(ack);
                    while acks.len() >= IN_FLIGHT {
                        settle(&mut acks, &mut state, timeout, &stalled, &req.subject).await?;
                    }
                }
                None => {
                    let sent = match (map, req.reply_to.is_empty()) {
                        (Some(map), true) => {
                            client.publish_with_headers(subject, map, payload).await
                        }
                        (Some(map), false) => {
                            client
                                .publish_with_reply_and_headers(
                                    subject,
                                    req.reply_to.clone(),
                                    map,
                                    payload,
                                )
                                .await
                        }
                        (None, true) => client.publish(subject, payload).await,
                        (None, false) => {
                            client
                                .publish_with_reply(subject, req.reply_to.clone(), payload)
                                .await
                        }
                    };
                    sent.map_err(|e| ExchangeError {
                        kind: ErrorKind::Io,
                        phase: Some(super::phases::PUBLISH),
                        message: format!("publishing message {n} failed: {e}"),
                    })?;
                }
            }
            state.published = n;
            if last_report.elapsed() >= Duration::from_millis(100) {
                if js.is_none() {
                    flush(&client, timeout).await?;
                    state.confirmed = state.published;
                }
                state.elapsed = start.elapsed();
                report(&progress, state).await;
                last_report = Instant::now();
            }
        }
        while !acks.is_empty() {
            settle(&mut acks, &mut state, timeout, &stalled, &req.subject).await?;
        }
        if js.is_none() {
            flush(&client, timeout).await?;
            state.confirmed = state.published;
        }
        Ok(())
    }
    .await;
    let _ = client.drain().await;
    state.elapsed = start.elapsed();
    state.done = true;
    report(&progress, state).await;
    result.map(|()| state)
}

async fn flush(client: &async_nats::Client, timeout: Duration) -> Result<(), ExchangeError> {
    match tokio::time::timeout(timeout, client.flush()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ExchangeError {
            kind: ErrorKind::Io,
            phase: Some(super::phases::PUBLISH),
            message: format!("flushing failed: {e}"),
        }),
        Err(_) => Err(ExchangeError {
            kind: ErrorKind::Timeout,
            phase: Some(super::phases::PUBLISH),
            message: "the connection did not take the messages in time: it may be lost".into(),
        }),
    }
}

/// Awaits the oldest ack in flight: an ack counts as confirmed, a refusal as failed; a lost
/// connection ends the run.
async fn settle(
    acks: &mut VecDeque<async_nats::jetstream::context::PublishAckFuture>,
    state: &mut Progress,
    timeout: Duration,
    stalled: &(dyn Fn() -> ExchangeError + Sync),
    subject: &str,
) -> Result<(), ExchangeError> {
    let Some(ack) = acks.pop_front() else {
        return Ok(());
    };
    match tokio::time::timeout(timeout, ack.into_future()).await {
        Ok(Ok(_)) => state.confirmed += 1,
        Ok(Err(e)) => {
            let (kind, message) = super::classify_publish(&e, subject);
            if matches!(kind, ErrorKind::Io | ErrorKind::Timeout) {
                return Err(ExchangeError {
                    kind,
                    phase: Some(super::phases::ACK),
                    message,
                });
            }
            state.failed += 1;
        }
        Err(_) => return Err(stalled()),
    }
    Ok(())
}

/// Sends progress; intermediate reports are dropped when the receiver is behind, the last one
/// is always delivered.
async fn report(progress: &Option<mpsc::Sender<Progress>>, state: Progress) {
    if let Some(tx) = progress {
        if state.done {
            let _ = tx.send(state).await;
        } else {
            let _ = tx.try_send(state);
        }
    }
}
