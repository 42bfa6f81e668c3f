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
    /// Each stored batch, for those who follow them as they come (`switchboard traces`).
    batches: tokio::sync::broadcast::Sender<std::sync::Arc<Vec<Span>>>,
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
            batches: tokio::sync::broadcast::channel(256).0,
        }
    }

    /// The batches stored from now on, as they come (a follower that falls behind is told how
    /// many it missed: `RecvError::Lagged`).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<std::sync::Arc<Vec<Span>>> {
        self.batches.subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `spans`, dropping the oldest traces when over the bound.
    pub fn insert(&self, spans: Vec<Span>) {
        if self.batches.receiver_count() > 0 {
            let _ = self.batches.send(std::sync::Arc::new(spans.clone()));
        }
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
}
