//! Produce many: N copies or a numbered series (`{n}` in the value and the key) at a chosen rate
//! on one connection per leader, up to 1000 produce requests in flight (their responses come
//! back in order on each connection).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use kafka_protocol::messages::ProduceRequest;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Acks, KafkaRequest, Producer, encode_batch, phases, prepare};
use crate::exchange::{ErrorKind, ExchangeError};
use crate::publish_many::Progress;
use crate::recorder::{Recorder, unix_ms};

/// What to produce, how many times and how fast.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaPublishMany {
    pub request: KafkaRequest,
    pub count: u64,
    /// Records per second; 0 = as fast as the broker takes them.
    pub rate_per_sec: f64,
    /// Replace `{n}` in the value and the key with the record's number (1-based).
    pub numbered: bool,
}

/// Most produce requests awaiting their response at once.
const IN_FLIGHT: usize = 1000;

/// A request sent and not yet answered: its leader, correlation id and version.
struct Pending {
    leader: i32,
    id: i32,
    version: i16,
}

/// Produces the series, reporting progress every ~100 ms and at the end. With acks=0 a record
/// counts as confirmed once written (the broker answers nothing).
pub async fn publish_many(
    job: &KafkaPublishMany,
    progress: Option<mpsc::Sender<Progress>>,
    cancel: CancellationToken,
) -> Result<Progress, ExchangeError> {
    let req = job.request.trimmed();
    let timeout = req.timeout(Duration::from_secs(30));
    let (headers, body) = prepare(&req)?;
    let mut rec = Recorder::new(timeout);
    let mut producer = Producer::connect(&mut rec, &req.url).await?;
    let meta = producer.topic(&mut rec, &req.topic).await?;
    let partitions = meta.partitions.len().max(1);
    if let Some(p) = req.partition
        && !meta.partitions.iter().any(|m| m.id == p)
    {
        return Err(ExchangeError::invalid_input(format!(
            "partition {p} is out of range: topic {:?} has partitions 0..{}",
            req.topic,
            partitions - 1
        )));
    }
    let text = String::from_utf8(body.clone())
        .ok()
        .filter(|_| job.numbered);
    let start = Instant::now();
    let mut state = Progress::default();
    let mut last_report = Instant::now();
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let io = |e: super::wire::WireError, phase| {
        let (kind, message) = e.classify(&req.url);
        ExchangeError {
            kind,
            phase: Some(phase),
            message,
        }
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
            let mut one = req.clone();
            let value = match &text {
                Some(t) => t.replace("{n}", &n.to_string()).into_bytes(),
                None => body.clone(),
            };
            if job.numbered {
                one.key = one.key.map(|k| k.replace("{n}", &n.to_string()));
            }
            let partition = match one.partition {
                Some(p) => p,
                None if let Some(key) = &one.key => {
                    super::partition_for_key(key.as_bytes(), partitions)
                }
                None => ((n - 1) % partitions as u64) as i32,
            };
            let leader = meta
                .partitions
                .iter()
                .find(|p| p.id == partition)
                .map_or(-1, |p| p.leader);
            let batch = encode_batch(&one, &headers, &value, unix_ms() as i64)
                .map_err(ExchangeError::invalid_input)?;
            let produce = super::produce_request(&one, partition, batch, timeout);
            let (conn, _) = producer
                .cluster
                .conn_for(leader)
                .await
                .map_err(|e| io(e, crate::net::phases::CONNECT))?;
            let (id, version) = tokio::time::timeout(timeout, conn.send(&produce))
                .await
                .map_err(|_| stalled(timeout, phases::PRODUCE))?
                .map_err(|e| io(e, phases::PRODUCE))?;
            state.published = n;
            if req.acks == Acks::None {
                state.confirmed = n;
            } else {
                pending.push_back(Pending {
                    leader,
                    id,
                    version,
                });
                while pending.len() >= IN_FLIGHT {
                    settle(&mut producer, &mut pending, &mut state, timeout, &io).await?;
                }
            }
            if last_report.elapsed() >= Duration::from_millis(100) {
                state.elapsed = start.elapsed();
                report(&progress, state).await;
                last_report = Instant::now();
            }
        }
        while !pending.is_empty() {
            settle(&mut producer, &mut pending, &mut state, timeout, &io).await?;
        }
        Ok(())
    }
    .await;
    state.elapsed = start.elapsed();
    state.done = true;
    report(&progress, state).await;
    result.map(|()| state)
}

fn stalled(timeout: Duration, phase: crate::timeline::PhaseKind) -> ExchangeError {
    ExchangeError {
        kind: ErrorKind::Timeout,
        phase: Some(phase),
        message: format!(
            "the broker did not answer within {:.1} s (the request timeout): the connection may be lost",
            timeout.as_secs_f64()
        ),
    }
}

/// Reads the oldest response in flight: an error code counts the record as failed; a lost
/// connection ends the run.
async fn settle(
    producer: &mut Producer,
    pending: &mut VecDeque<Pending>,
    state: &mut Progress,
    timeout: Duration,
    io: &(dyn Fn(super::wire::WireError, crate::timeline::PhaseKind) -> ExchangeError + Sync),
) -> Result<(), ExchangeError> {
    let Some(p) = pending.pop_front() else {
        return Ok(());
    };
    let (conn, _) = producer
        .cluster
        .conn_for(p.leader)
        .await
        .map_err(|e| io(e, phases::ACK))?;
    let response = tokio::time::timeout(timeout, conn.recv::<ProduceRequest>(p.id, p.version))
        .await
        .map_err(|_| stalled(timeout, phases::ACK))?
        .map_err(|e| io(e, phases::ACK))?;
    let refused = response
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter())
        .any(|r| r.error_code != 0);
    if refused {
        state.failed += 1;
    } else {
        state.confirmed += 1;
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
