//! Spans kept per trace, bounded in count and in bytes: the oldest traces are dropped first, and
//! a flood is counted, never grown without limit.

use super::Span;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// What the receiver took in, for the status line and the bench.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounts {
    /// Spans kept.
    pub accepted: u64,
    /// Spans dropped to stay within the bounds (span count and bytes; oldest traces first).
    pub dropped: u64,
    /// Export requests that could not be read (answered with an OTLP error).
    pub malformed: u64,
}

/// One trace's spans, and their ids (an exporter that retries sends a span twice).
#[derive(Default)]
struct TraceSpans {
    spans: Vec<Span>,
    ids: std::collections::HashSet<String>,
    /// What its spans cost, as [`span_bytes`] estimates it.
    bytes: usize,
}

/// What keeping a trace costs besides its spans: its id in the map and in the order, the map's
/// and the id set's own structure.
const TRACE_OVERHEAD_BYTES: usize = 160;

/// An estimate of the heap a kept span costs: its strings, its attributes (keys and values),
/// its id in the trace's id set and the allocations' own overhead. Not exact, but it grows with
/// everything a span can carry, which is what the store's byte budget needs.
pub fn span_bytes(span: &Span) -> usize {
    /// A heap allocation's bookkeeping (what an allocator adds to each block, roughly).
    const ALLOC: usize = 16;
    let text = |s: &str| s.len() + ALLOC;
    std::mem::size_of::<Span>()
        + text(&span.trace_id)
        + text(&span.span_id)
        + span.parent_span_id.as_deref().map_or(0, text)
        + text(&span.service)
        + text(&span.name)
        + text(&span.kind)
        + text(&span.status)
        + span.attributes.capacity() * std::mem::size_of::<(String, serde_json::Value)>()
        + span
            .attributes
            .iter()
            .map(|(k, v)| text(k) + json_bytes(v))
            .sum::<usize>()
        // The copy of its id in the trace's id set, and the set's slot.
        + text(&span.span_id)
        + 2 * std::mem::size_of::<String>()
}

/// The heap a JSON value holds beyond its own `Value` (kept by whoever contains it).
fn json_bytes(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    const SLOT: usize = std::mem::size_of::<Value>();
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(s) => s.len() + 16,
        Value::Array(a) => a.capacity() * SLOT + a.iter().map(json_bytes).sum::<usize>(),
        // An ordered map: its entries, its index and each key.
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| k.len() + 16 + SLOT + 3 * std::mem::size_of::<usize>() + json_bytes(v))
            .sum(),
    }
}

#[derive(Default)]
struct Inner {
    traces: HashMap<String, TraceSpans>,
    /// Trace ids, oldest first.
    order: VecDeque<String>,
    spans: usize,
    /// What the kept traces cost ([`span_bytes`] and [`TRACE_OVERHEAD_BYTES`] each).
    bytes: usize,
    counts: StoreCounts,
}

/// Spans per trace id, at most `max_spans` and about `max_bytes` of memory in all.
pub struct SpanStore {
    inner: Mutex<Inner>,
    max_spans: usize,
    max_bytes: usize,
    changed: tokio::sync::Notify,
    /// Those who follow the batches as they come (`switchboard traces`).
    followers: Mutex<Vec<FollowerSlot>>,
}

/// How many batches, and about how many bytes of spans, a follower may have waiting: past
/// either, batches are not queued for it but counted as missed (a follower whose output is slow
/// — a pager, a full pipe — must not hold the store's flood in memory).
const FOLLOWER_BATCHES: usize = 64;
const FOLLOWER_BYTES: usize = 32 * 1024 * 1024;

struct FollowerSlot {
    tx: tokio::sync::mpsc::Sender<(std::sync::Arc<Vec<Span>>, usize)>,
    waiting_bytes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    missed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// The batches stored after [`SpanStore::follow`], as they come; what could not wait for it
/// (too many or too large while it was behind) is counted in [`Follower::missed`].
pub struct Follower {
    rx: tokio::sync::mpsc::Receiver<(std::sync::Arc<Vec<Span>>, usize)>,
    waiting_bytes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    missed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Follower {
    /// The next batch; `None` when the store is gone.
    pub async fn recv(&mut self) -> Option<std::sync::Arc<Vec<Span>>> {
        let (batch, bytes) = self.rx.recv().await?;
        self.waiting_bytes
            .fetch_sub(bytes, std::sync::atomic::Ordering::Relaxed);
        Some(batch)
    }

    /// Spans not queued for this follower because it was behind.
    pub fn missed(&self) -> u64 {
        self.missed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl SpanStore {
    /// A store of at most `max_spans` spans and about `max_bytes` of them (as [`span_bytes`]
    /// estimates them); past either, the oldest traces are dropped whole, and counted.
    pub fn new(max_spans: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            max_spans: max_spans.max(1),
            max_bytes,
            changed: tokio::sync::Notify::new(),
            followers: Mutex::new(Vec::new()),
        }
    }

    /// The batches stored from now on, as they come, bounded: a follower that falls behind
    /// misses batches (counted) rather than holding them all.
    pub fn follow(&self) -> Follower {
        let (tx, rx) = tokio::sync::mpsc::channel(FOLLOWER_BATCHES);
        let waiting_bytes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let missed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        self.followers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(FollowerSlot {
                tx,
                waiting_bytes: waiting_bytes.clone(),
                missed: missed.clone(),
            });
        Follower {
            rx,
            waiting_bytes,
            missed,
        }
    }

    /// Hands `batch` to each follower that has room for it; counts it as missed for the others.
    fn to_followers(&self, batch: Vec<Span>) {
        use std::sync::atomic::Ordering::Relaxed;
        let mut followers = self.followers.lock().unwrap_or_else(|p| p.into_inner());
        followers.retain(|f| !f.tx.is_closed());
        if followers.is_empty() || batch.is_empty() {
            return;
        }
        let bytes: usize = batch.iter().map(span_bytes).sum();
        let count = batch.len() as u64;
        let shared = std::sync::Arc::new(batch);
        for f in followers.iter() {
            let room = f.waiting_bytes.load(Relaxed) + bytes <= FOLLOWER_BYTES;
            if room && f.tx.try_send((shared.clone(), bytes)).is_ok() {
                f.waiting_bytes.fetch_add(bytes, Relaxed);
            } else {
                f.missed.fetch_add(count, Relaxed);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `spans`, dropping the oldest traces when over the bound.
    pub fn insert(&self, spans: Vec<Span>) {
        // (Before the spans move into the store; handed over after the counts are updated, so
        // a follower that stops at its last span reads counts that include it.)
        let following = !self
            .followers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty();
        let for_followers = following.then(|| spans.clone());
        let mut inner = self.lock();
        let mut added = 0;
        let mut bytes = 0;
        for span in spans {
            // One lookup, and no copy of the trace id, for a trace already kept (the usual case).
            let kept = match inner.traces.get_mut(&span.trace_id) {
                Some(kept) => kept,
                None => {
                    inner.order.push_back(span.trace_id.clone());
                    bytes += TRACE_OVERHEAD_BYTES + 2 * span.trace_id.len();
                    inner.traces.entry(span.trace_id.clone()).or_default()
                }
            };
            // The same span again (a retried export) is kept once.
            if kept.ids.insert(span.span_id.clone()) {
                let cost = span_bytes(&span);
                kept.bytes += cost;
                bytes += cost;
                kept.spans.push(span);
                added += 1;
            }
        }
        inner.spans += added;
        inner.bytes += bytes;
        inner.counts.accepted += added as u64;
        while inner.spans > self.max_spans || inner.bytes > self.max_bytes {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(gone) = inner.traces.remove(&oldest) {
                inner.spans -= gone.spans.len();
                inner.bytes = inner
                    .bytes
                    .saturating_sub(gone.bytes + TRACE_OVERHEAD_BYTES + 2 * oldest.len());
                inner.counts.dropped += gone.spans.len() as u64;
            }
        }
        drop(inner);
        if let Some(batch) = for_followers {
            self.to_followers(batch);
        }
        self.changed.notify_waiters();
    }

    /// Resolves when spans are stored next.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    pub fn count_malformed(&self) {
        self.lock().counts.malformed += 1;
    }

    pub fn counts(&self) -> StoreCounts {
        self.lock().counts
    }

    /// What the kept spans cost, as [`span_bytes`] estimates it (at most about `max_bytes`).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// The spans of `trace_id` received so far.
    pub fn spans(&self, trace_id: &str) -> Vec<Span> {
        self.lock()
            .traces
            .get(trace_id)
            .map(|t| t.spans.clone())
            .unwrap_or_default()
    }

    /// Trace ids, newest first, with their span counts.
    pub fn traces(&self) -> Vec<(String, usize)> {
        let inner = self.lock();
        inner
            .order
            .iter()
            .rev()
            .map(|id| {
                (
                    id.clone(),
                    inner.traces.get(id).map_or(0, |t| t.spans.len()),
                )
            })
            .collect()
    }

    /// Waits until spans of `trace_id` stop arriving: returns once `quiet` passed with none new
    /// after the last that came, or at `deadline` with what there is.
    pub async fn settle(
        &self,
        trace_id: &str,
        quiet: std::time::Duration,
        deadline: tokio::time::Instant,
    ) -> Vec<Span> {
        let mut have = 0;
        let mut until = deadline;
        loop {
            // Registered before counting, so a span stored in between still wakes us.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now_have = self.spans(trace_id).len();
            if now_have != have {
                have = now_have;
                until = (tokio::time::Instant::now() + quiet).min(deadline);
            }
            if tokio::time::timeout_at(until, changed).await.is_err() {
                return self.spans(trace_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace: &str, id: &str) -> Span {
        Span {
            trace_id: trace.into(),
            span_id: id.into(),
            parent_span_id: None,
            service: "s".into(),
            name: "n".into(),
            kind: "server".into(),
            start_unix_ns: 0,
            end_unix_ns: 1,
            status: "unset".into(),
            attributes: vec![],
        }
    }

    #[test]
    fn a_span_sent_twice_is_kept_once() {
        let store = SpanStore::new(10, usize::MAX);
        store.insert(vec![span("a", "1"), span("a", "1")]);
        store.insert(vec![span("a", "1"), span("a", "2")]);
        assert_eq!(store.spans("a").len(), 2);
        assert_eq!(store.counts().accepted, 2);
    }

    #[test]
    fn the_oldest_traces_go_first_and_drops_are_counted() {
        let store = SpanStore::new(3, usize::MAX);
        store.insert(vec![span("a", "1"), span("a", "2")]);
        store.insert(vec![span("b", "3")]);
        store.insert(vec![span("c", "4")]);
        assert!(store.spans("a").is_empty());
        assert_eq!(store.spans("b").len(), 1);
        assert_eq!(store.spans("c").len(), 1);
        assert_eq!(
            store.counts(),
            StoreCounts {
                accepted: 4,
                dropped: 2,
                malformed: 0
            }
        );
    }

    #[test]
    fn a_byte_budget_drops_the_oldest_traces_and_counts_them() {
        let big = |trace: &str, id: &str| {
            let mut s = span(trace, id);
            s.attributes = vec![("payload".into(), "x".repeat(4_000).into())];
            s
        };
        let one = span_bytes(&big("a", "1")) + TRACE_OVERHEAD_BYTES + 2;
        assert!(one > 4_000, "the attribute is counted: {one}");
        // Room for about three such traces.
        let store = SpanStore::new(1_000, 3 * one + one / 2);
        for (i, trace) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            store.insert(vec![big(trace, &i.to_string())]);
            assert!(store.bytes() <= 3 * one + one / 2, "{}", store.bytes());
        }
        assert!(store.spans("a").is_empty() && store.spans("b").is_empty());
        for kept in ["c", "d", "e"] {
            assert_eq!(store.spans(kept).len(), 1, "{kept}");
        }
        assert_eq!(store.counts().dropped, 2);
        assert_eq!(store.counts().accepted, 5);
        // Nested values count too: an array of strings costs what its strings do.
        let nested: serde_json::Value = vec!["y".repeat(1_000); 10].into();
        assert!(json_bytes(&nested) > 10_000);
    }

    #[test]
    fn a_trace_that_alone_is_over_the_budget_is_dropped_not_kept() {
        let store = SpanStore::new(1_000, 1_000);
        let mut s = span("a", "1");
        s.name = "n".repeat(5_000);
        store.insert(vec![s]);
        assert!(store.spans("a").is_empty());
        assert_eq!(store.bytes(), 0);
        assert_eq!(store.counts().dropped, 1);
    }

    #[tokio::test]
    async fn a_follower_that_falls_behind_misses_batches_instead_of_holding_them() {
        let store = SpanStore::new(1_000_000, usize::MAX);
        let mut follower = store.follow();
        // Nothing is read while far more than the follower may hold arrives.
        let big = "x".repeat(64 * 1024);
        let mut sent = 0u64;
        for b in 0..2000 {
            let mut batch: Vec<Span> = (0..4).map(|i| span("t", &format!("{b}-{i}"))).collect();
            for s in &mut batch {
                s.attributes.push(("big".into(), big.clone().into()));
            }
            sent += batch.len() as u64;
            store.insert(batch);
        }
        let waiting = follower
            .waiting_bytes
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            waiting <= FOLLOWER_BYTES,
            "{waiting} bytes wait for the follower"
        );
        assert!(follower.missed() > 0);
        let mut got = 0u64;
        while let Ok(Some(batch)) =
            tokio::time::timeout(std::time::Duration::from_millis(50), follower.recv()).await
        {
            got += batch.len() as u64;
        }
        assert_eq!(
            got + follower.missed(),
            sent,
            "each span is either queued or counted"
        );
        assert_eq!(
            follower
                .waiting_bytes
                .load(std::sync::atomic::Ordering::Relaxed),
            0
        );
        // The store itself kept them all (its own bounds are separate).
        assert_eq!(store.counts().accepted, sent);
        // A follower that went away is forgotten.
        drop(follower);
        store.insert(vec![span("u", "1")]);
        assert!(store.followers.lock().unwrap().is_empty());
    }
}
