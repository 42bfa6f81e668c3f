//! Spans kept per trace, bounded: the oldest traces are dropped first, and a flood is counted,
//! never grown without limit.

use super::Span;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// What the receiver took in, for the status line and the bench.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounts {
    /// Spans kept.
    pub accepted: u64,
    /// Spans dropped to stay within the bounds (oldest traces first).
    pub dropped: u64,
    /// Export requests that could not be read (answered with an OTLP error).
    pub malformed: u64,
}

/// One trace's spans, and their ids (an exporter that retries sends a span twice).
#[derive(Default)]
struct TraceSpans {
    spans: Vec<Span>,
    ids: std::collections::HashSet<String>,
}

#[derive(Default)]
struct Inner {
    traces: HashMap<String, TraceSpans>,
    /// Trace ids, oldest first.
    order: VecDeque<String>,
    spans: usize,
    counts: StoreCounts,
}

/// Spans per trace id, at most `max_spans` in all.
pub struct SpanStore {
    inner: Mutex<Inner>,
    max_spans: usize,
    changed: tokio::sync::Notify,
    /// Each stored batch, for those who follow them as they come (`switchboard traces`).
    batches: tokio::sync::broadcast::Sender<std::sync::Arc<Vec<Span>>>,
}

impl SpanStore {
    pub fn new(max_spans: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            max_spans: max_spans.max(1),
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
        for span in spans {
            // One lookup, and no copy of the trace id, for a trace already kept (the usual case).
            let kept = match inner.traces.get_mut(&span.trace_id) {
                Some(kept) => kept,
                None => {
                    inner.order.push_back(span.trace_id.clone());
                    inner.traces.entry(span.trace_id.clone()).or_default()
                }
            };
            // The same span again (a retried export) is kept once.
            if kept.ids.insert(span.span_id.clone()) {
                kept.spans.push(span);
                added += 1;
            }
        }
        inner.spans += added;
        inner.counts.accepted += added as u64;
        while inner.spans > self.max_spans {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(gone) = inner.traces.remove(&oldest) {
                inner.spans -= gone.spans.len();
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
        let store = SpanStore::new(10);
        store.insert(vec![span("a", "1"), span("a", "1")]);
        store.insert(vec![span("a", "1"), span("a", "2")]);
        assert_eq!(store.spans("a").len(), 2);
        assert_eq!(store.counts().accepted, 2);
    }

    #[test]
    fn the_oldest_traces_go_first_and_drops_are_counted() {
        let store = SpanStore::new(3);
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
}
