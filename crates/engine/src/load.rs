//! Load mode: fire one request many times (or for a while) at a chosen concurrency, on kept-alive
//! connections, and report throughput, errors by kind and a latency histogram (HdrHistogram).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use prost_reflect::DescriptorPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::amqp::{PublishRequest, classify_lapin, connect};
use super::exchange::{Exchange, ExchangeError};
use super::grpc::{GrpcClient, PreparedCall};
use super::http::HttpClient;
use super::recorder::Recorder;
use super::request::RequestSpec;
use super::trace::{TRACEPARENT, TraceHeader, Traceparents};

/// When a load run stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadLimit {
    Requests(u64),
    Duration(Duration),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoadSpec {
    pub request: RequestSpec,
    pub limit: LoadLimit,
    /// Requests in flight at once (connections for HTTP/1.1 and AMQP; calls on one HTTP/2
    /// channel for gRPC).
    pub concurrency: usize,
    /// Each request carries a W3C `traceparent` with a new trace id — unless the request sets
    /// one, which is then sent as given on every request.
    pub traceparent: bool,
}

/// Live counts, sent about every 100 ms.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LoadProgress {
    pub done: u64,
    pub failed: u64,
    pub elapsed: Duration,
}

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub requests: u64,
    pub ok: u64,
    /// Failures by kind: an error kind (`connection_refused`, `timeout`…) or a status
    /// (`503 Service Unavailable`, `UNAVAILABLE`…).
    pub errors: BTreeMap<String, u64>,
    /// The first message of each kind of failure (what a user needs to fix it).
    pub examples: BTreeMap<String, String>,
    pub elapsed: Duration,
    /// Latency of every request, in microseconds.
    pub latency_us: Histogram<u64>,
}

impl LoadReport {
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }

    pub fn percentile_us(&self, p: f64) -> u64 {
        self.latency_us.value_at_quantile(p / 100.0)
    }

    /// Latency buckets doubling from the fastest request: `(upper bound in µs, count)`.
    pub fn buckets(&self) -> Vec<(u64, u64)> {
        let h = &self.latency_us;
        let mut end = h.min().max(1);
        let mut rows = Vec::new();
        let mut below = 0;
        while below < h.len() && rows.len() < 40 {
            end = end.saturating_mul(2);
            let count = h.count_between(0, end).saturating_sub(below);
            below += count;
            rows.push((end, count));
        }
        rows
    }

    /// The summary `switchboard load` prints and `--json` serializes.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "requests": self.requests,
            "ok": self.ok,
            "failed": self.requests - self.ok,
            "errors": self.errors,
            "error_examples": self.examples,
            "elapsed_us": self.elapsed.as_micros() as u64,
            "throughput_per_s": (self.throughput() * 10.0).round() / 10.0,
            "latency_us": {
                "min": self.latency_us.min(),
                "p50": self.percentile_us(50.0),
                "p90": self.percentile_us(90.0),
                "p99": self.percentile_us(99.0),
                "p99_9": self.percentile_us(99.9),
                "max": self.latency_us.max(),
                "mean": self.latency_us.mean().round(),
            },
        })
    }
}

fn new_histogram() -> Result<Histogram<u64>, ExchangeError> {
    // 1 µs .. 1 h, 3 significant digits; auto-resize covers anything beyond.
    let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 3).map_err(|e| {
        ExchangeError::invalid_input(format!("cannot create the latency histogram: {e}"))
    })?;
    h.auto(true);
    Ok(h)
}

/// One worker's results.
struct Tally {
    ok: u64,
    errors: BTreeMap<String, u64>,
    examples: BTreeMap<String, String>,
    latency_us: Histogram<u64>,
}

/// How `e` failed (an error kind or a status) and what it said, or `None` when it did not.
fn failure_kind(e: &Exchange) -> Option<(String, String)> {
    if e.ok {
        return None;
    }
    Some(match (&e.error, &e.status) {
        (Some(error), _) => (error.kind.as_str().to_string(), error.to_string()),
        (None, Some(status)) => (status.clone(), format!("{} answered {status}", e.target)),
        (None, None) => ("failed".to_string(), e.target.clone()),
    })
}

struct Shared {
    next: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
    limit: LoadLimit,
    start: Instant,
    cancel: CancellationToken,
}

impl Shared {
    /// Claims the next request, or `None` when the run is over.
    fn claim(&self) -> Option<u64> {
        if self.cancel.is_cancelled() {
            return None;
        }
        match self.limit {
            LoadLimit::Requests(n) => {
                let i = self.next.fetch_add(1, Ordering::Relaxed);
                (i < n).then_some(i)
            }
            LoadLimit::Duration(d) => {
                (self.start.elapsed() < d).then(|| self.next.fetch_add(1, Ordering::Relaxed))
            }
        }
    }

    fn record(&self, tally: &mut Tally, started: Instant, failure: Option<(String, String)>) {
        let us = started.elapsed().as_micros() as u64;
        let _ = tally.latency_us.record(us.max(1));
        self.done.fetch_add(1, Ordering::Relaxed);
        match failure {
            None => tally.ok += 1,
            Some((kind, message)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tally.examples.entry(kind.clone()).or_insert(message);
                *tally.errors.entry(kind).or_default() += 1;
            }
        }
    }
}

/// A worker's trace context: which header it renews before each request, and the values.
struct Renew {
    /// The index of the `traceparent` added to the request's headers; `None` when switched off
    /// or when the user set one.
    slot: Option<usize>,
    fresh: Traceparents,
}

impl Renew {
    /// Adds a `traceparent` to `headers` when `on` and the user set none.
    fn new<H: TraceHeader>(on: bool, headers: &mut Vec<H>) -> Self {
        let mut fresh = Traceparents::new();
        let slot = if on {
            crate::trace::renewable(headers, &mut fresh)
        } else {
            None
        };
        Self { slot, fresh }
    }

    /// Gives the `traceparent` a new trace.
    fn apply<H: TraceHeader>(&mut self, headers: &mut [H]) {
        if let Some(header) = self.slot.and_then(|i| headers.get_mut(i)) {
            header.set_value(self.fresh.new_value());
        }
    }
}

/// Runs the load. Progress goes to `progress` (if given); `cancel` stops it early (the report
/// then covers what ran).
pub async fn run_load(
    spec: &LoadSpec,
    pool: &DescriptorPool,
    progress: Option<mpsc::Sender<LoadProgress>>,
    cancel: CancellationToken,
) -> Result<LoadReport, ExchangeError> {
    let concurrency = spec.concurrency.clamp(1, 10_000);
    let shared = Arc::new(Shared {
        next: AtomicU64::new(0),
        done: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        limit: spec.limit,
        start: Instant::now(),
        cancel: cancel.clone(),
    });
    let http = HttpClient::default();
    let grpc = GrpcClient::default();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let shared = shared.clone();
        let mut request = spec.request.clone();
        let traceparent = spec.traceparent;
        let (http, grpc, pool) = (http.clone(), grpc.clone(), pool.clone());
        workers.spawn(async move {
            let mut tally = Tally {
                ok: 0,
                errors: BTreeMap::new(),
                examples: BTreeMap::new(),
                latency_us: new_histogram()?,
            };
            match &mut request {
                RequestSpec::Http(req) => {
                    let mut renew = Renew::new(traceparent, &mut req.headers);
                    while shared.claim().is_some() {
                        renew.apply(&mut req.headers);
                        let started = Instant::now();
                        let e = http.send(req).await;
                        shared.record(&mut tally, started, failure_kind(&e));
                    }
                }
                RequestSpec::Grpc(req) => {
                    let mut renew = Renew::new(traceparent, &mut req.metadata);
                    let mut call = PreparedCall::new(req, &pool)?;
                    while shared.claim().is_some() {
                        if renew.slot.is_some() {
                            call.set_metadata(TRACEPARENT, renew.fresh.new_value())?;
                        }
                        let started = Instant::now();
                        let failure = grpc.call_prepared(&call).await;
                        shared.record(&mut tally, started, failure);
                    }
                }
                RequestSpec::Amqp(req) => {
                    amqp_worker(req, traceparent, &shared, &mut tally).await?
                }
                RequestSpec::Nats(req) => {
                    nats_worker(req, traceparent, &shared, &mut tally).await?
                }
                RequestSpec::Kafka(req) => {
                    kafka_worker(req, traceparent, &shared, &mut tally).await?
                }
            }
            Ok::<Tally, ExchangeError>(tally)
        });
    }
    let reporter = progress.map(|tx| {
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let p = LoadProgress {
                    done: shared.done.load(Ordering::Relaxed),
                    failed: shared.failed.load(Ordering::Relaxed),
                    elapsed: shared.start.elapsed(),
                };
                if tx.send(p).await.is_err() {
                    return;
                }
            }
        })
    });
    let mut report = LoadReport {
        requests: 0,
        ok: 0,
        errors: BTreeMap::new(),
        examples: BTreeMap::new(),
        elapsed: Duration::ZERO,
        latency_us: new_histogram()?,
    };
    let mut first_error = None;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(Ok(tally)) => {
                report.ok += tally.ok;
                for (k, v) in tally.errors {
                    *report.errors.entry(k).or_default() += v;
                }
                for (k, m) in tally.examples {
                    report.examples.entry(k).or_insert(m);
                }
                let _ = report.latency_us.add(&tally.latency_us);
            }
            Ok(Err(e)) => {
                cancel.cancel();
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(ExchangeError::invalid_input(format!(
                    "a load worker failed: {e}"
                )));
            }
        }
    }
    if let Some(r) = reporter {
        r.abort();
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    report.elapsed = shared.start.elapsed();
    report.requests = report.latency_us.len();
    Ok(report)
}

/// One NATS connection per worker: requests wait for their reply, JetStream publishes for their
/// ack, core publishes for the flush.
async fn nats_worker(
    req: &crate::nats::NatsRequest,
    traceparent: bool,
    shared: &Shared,
    tally: &mut Tally,
) -> Result<(), ExchangeError> {
    let timeout = req.timeout(Duration::from_secs(30));
    let client = crate::nats::NatsClient::connect(&req.url, timeout).await?;
    let mut req = req.trimmed();
    req.count = 1;
    let mut renew = Renew::new(traceparent, &mut req.headers);
    while shared.claim().is_some() {
        renew.apply(&mut req.headers);
        let started = Instant::now();
        let e = client.execute(&req, timeout).await;
        shared.record(tally, started, failure_kind(&e));
    }
    Ok(())
}

/// One Kafka connection per worker: each produce waits for its ack (per the request's acks).
async fn kafka_worker(
    req: &crate::kafka::KafkaRequest,
    traceparent: bool,
    shared: &Shared,
    tally: &mut Tally,
) -> Result<(), ExchangeError> {
    let timeout = req.timeout(Duration::from_secs(30));
    let mut req = req.trimmed();
    req.count = 1;
    let mut renew = Renew::new(traceparent, &mut req.headers);
    let (mut headers, body) = crate::kafka::prepare(&req)?;
    // The record's headers are the enabled rows: the traceparent is where `prepare` put it.
    renew.slot = renew.slot.and(
        headers
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(TRACEPARENT)),
    );
    let mut producer = crate::kafka::Producer::open(&req.url, timeout).await?;
    while shared.claim().is_some() {
        renew.apply(&mut headers);
        let started = Instant::now();
        let e = producer
            .produce(Recorder::new(timeout), &req, &headers, &body)
            .await;
        shared.record(tally, started, failure_kind(&e));
    }
    Ok(())
}

/// One AMQP connection and channel, publishing and awaiting each confirm.
async fn amqp_worker(
    req: &PublishRequest,
    traceparent: bool,
    shared: &Shared,
    tally: &mut Tally,
) -> Result<(), ExchangeError> {
    let mut req = req.clone();
    let mut renew = Renew::new(traceparent, &mut req.headers);
    let req = &req;
    let p = req.prepare()?;
    let key = lapin::types::ShortString::try_new(TRACEPARENT.to_string())
        .map_err(|e| ExchangeError::invalid_input(format!("header name: {e}")))?;
    let mut rec = Recorder::new(req.timeout);
    let (conn, channel) = connect(
        &mut rec,
        &req.url,
        true,
        "switchboard load",
        crate::amqp::DEFAULT_FRAME_MAX,
    )
    .await?;
    while shared.claim().is_some() {
        let properties = if renew.slot.is_some() {
            let mut headers = p.headers.clone();
            headers.insert(
                key.clone(),
                lapin::types::AMQPValue::LongString(renew.fresh.new_value().into()),
            );
            p.properties.clone().with_headers(headers)
        } else {
            p.properties.clone()
        };
        let started = Instant::now();
        let confirmed = async {
            channel
                .basic_publish(
                    p.exchange.clone(),
                    p.routing_key.clone(),
                    p.options,
                    &req.body,
                    properties,
                )
                .await?
                .await
        };
        // A lost connection lapin does not notice must end the run, not hang it.
        let Ok(confirmed) = tokio::time::timeout(req.timeout, confirmed).await else {
            crate::amqp::close(&conn, "bye").await;
            return Err(ExchangeError {
                kind: crate::ErrorKind::Timeout,
                phase: Some(crate::amqp::phases::CONFIRM),
                message: format!(
                    "no broker confirm within {:.1} s: the connection may be lost",
                    req.timeout.as_secs_f64()
                ),
            });
        };
        let failure = match confirmed {
            Ok(lapin::Confirmation::Ack(None)) | Ok(lapin::Confirmation::NotRequested) => None,
            Ok(lapin::Confirmation::Ack(Some(_))) => Some((
                "unroutable".to_string(),
                "the broker returned the message: no queue is bound to its routing key".to_string(),
            )),
            Ok(lapin::Confirmation::Nack(_)) => Some((
                "nack".to_string(),
                "the broker refused the message (nack)".to_string(),
            )),
            Err(e) => {
                crate::amqp::close(&conn, "bye").await;
                let (kind, message) = classify_lapin(&e, &req.url);
                return Err(ExchangeError {
                    kind,
                    phase: Some(crate::amqp::phases::CONFIRM),
                    message,
                });
            }
        };
        shared.record(tally, started, failure);
    }
    crate::amqp::close(&conn, "bye").await;
    Ok(())
}
