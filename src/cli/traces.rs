//! `--no-traceparent` and `--trace`: the W3C trace context a request from the CLI carries, and
//! the spans the services send back to the receiver this command runs while it waits.

use std::future::Future;
use std::time::Duration;

use crate::engine::Exchange;
use crate::engine::trace::receiver::Receiver;
use crate::engine::trace::{TraceContext, TraceHeader};

use super::args;

/// What `--trace` waits for after the last new span: longer than the services' export delay.
const QUIET: Duration = Duration::from_millis(500);

/// A command's tracing: whether its requests carry a context, and the receiver of `--trace`.
pub struct Traced {
    send_context: bool,
    receiver: Option<Receiver>,
    wait: Duration,
}

impl Traced {
    /// Starts the receiver when `--trace` asks for it; says so on stderr when its port was
    /// taken and it listens elsewhere.
    pub async fn start(t: &args::Tracing) -> anyhow::Result<Self> {
        let receiver = if t.trace {
            let r = Receiver::start(t.otlp_addr).await.map_err(|e| {
                anyhow::anyhow!("the OTLP receiver cannot listen on {}: {e}", t.otlp_addr)
            })?;
            if let Some(why) = r.fallback() {
                eprintln!(
                    "note: {why}; spans are received at {} instead (OTEL_EXPORTER_OTLP_ENDPOINT)",
                    r.endpoint()
                );
            }
            Some(r)
        } else {
            None
        };
        Ok(Self {
            send_context: !t.no_traceparent,
            receiver,
            wait: t.trace_wait,
        })
    }

    /// Puts a `traceparent` in `headers` (a new trace, unless they hold one), unless
    /// `--no-traceparent`.
    pub fn context<H: TraceHeader>(&self, headers: &mut Vec<H>) -> Option<TraceContext> {
        self.send_context
            .then(|| crate::engine::trace::inject(headers))
    }

    /// With `--trace`: waits for the spans of each exchange's trace and places them on it.
    pub async fn collect(&self, exchanges: &mut [Exchange]) {
        let Some(receiver) = &self.receiver else {
            return;
        };
        let store = receiver.store();
        let deadline = tokio::time::Instant::now() + self.wait;
        for exchange in exchanges.iter_mut() {
            let Some(trace) = &mut exchange.trace else {
                continue;
            };
            let spans = store.settle(&trace.trace_id, QUIET, deadline).await;
            if spans.is_empty() {
                eprintln!(
                    "note: no spans of trace {} arrived at {} within {:.1} s: do the services export there?",
                    trace.trace_id,
                    receiver.endpoint(),
                    self.wait.as_secs_f64()
                );
            }
            trace.place(&spans);
        }
    }
}

/// Runs `fut` in the trace `context` (when there is one): its exchanges say so.
pub async fn in_trace<F: Future>(context: Option<TraceContext>, fut: F) -> F::Output {
    match context {
        Some(c) => crate::engine::trace::traced(c, fut).await,
        None => fut.await,
    }
}
