//! `--no-traceparent` and `--trace`: the W3C trace context a request from the CLI carries, and
//! the spans the services send back to the receiver this command runs while it waits.

use std::future::Future;
use std::time::Duration;

use crate::engine::Exchange;
use crate::engine::trace::receiver::Receiver;
use crate::engine::trace::{TraceContext, TraceHeader};

use super::args;
use super::out::errln;

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
                errln!(
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
            .flatten()
    }

    /// With `--trace`: waits for the spans of each exchange's trace and places them on it.
    pub async fn collect(&self, exchanges: &mut [Exchange]) {
        let Some(receiver) = &self.receiver else {
            return;
        };
        let store = receiver.store();
        let deadline = tokio::time::Instant::now() + self.wait;
        for exchange in exchanges.iter_mut() {
            let Some(trace_id) = exchange.trace.as_ref().map(|t| t.trace_id.clone()) else {
                continue;
            };
            // Nothing reached a service (bad input, no server): no spans to wait for.
            use crate::engine::ErrorKind::{ConnectionRefused, Dns, InvalidInput, Tls};
            if exchange.response.is_none()
                && exchange
                    .error
                    .as_ref()
                    .is_some_and(|e| matches!(e.kind, ConnectionRefused | Dns | InvalidInput | Tls))
            {
                continue;
            }
            let spans = store.settle(&trace_id, QUIET, deadline).await;
            if spans.is_empty() {
                errln!(
                    "note: no spans of trace {trace_id} arrived at {} within {:.1} s: do the services export there?",
                    receiver.endpoint(),
                    self.wait.as_secs_f64()
                );
            }
            exchange.place_spans(&spans);
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

/// `switchboard traces`: the receiver alone, each span printed as it arrives (a line of text,
/// or a JSON object), until `--count` spans, `--timeout` or Ctrl-C; refused exports are said on
/// stderr (at most once a second), and what was received, dropped and refused when it ends.
pub async fn follow(a: args::TracesArgs) -> anyhow::Result<std::process::ExitCode> {
    let mut receiver = Receiver::start(a.otlp_addr)
        .await
        .map_err(|e| anyhow::anyhow!("the OTLP receiver cannot listen on {}: {e}", a.otlp_addr))?;
    receiver.serve_grpc(a.otlp_grpc_addr).await.map_err(|e| {
        anyhow::anyhow!(
            "the OTLP/gRPC receiver cannot listen on {}: {e}",
            a.otlp_grpc_addr
        )
    })?;
    for why in [receiver.fallback(), receiver.grpc_fallback()]
        .into_iter()
        .flatten()
    {
        errln!("note: {why}; a free port is used instead");
    }
    errln!(
        "receiving spans: OTLP/HTTP {}, OTLP/gRPC {} (set OTEL_EXPORTER_OTLP_ENDPOINT to one of them)",
        receiver.endpoint(),
        receiver.grpc_endpoint().unwrap_or_default()
    );
    let printed = print_spans(&a, &receiver).await;
    let counts = receiver.store().counts();
    errln!(
        "{} spans printed; {} received, {} dropped to stay within the store's bounds, \
         {} exports refused as malformed",
        printed.as_ref().map_or(0, |n| *n),
        counts.accepted,
        counts.dropped,
        counts.malformed
    );
    printed.map(|_| std::process::ExitCode::SUCCESS)
}

/// Prints spans as they come until the command should end; how many it printed (written, not
/// just queued). Lines go through the watch's stdout writer, a thread of its own: a stdout that
/// takes nothing (a full pipe, a paused pager) blocks that thread, never Ctrl-C, the deadline or
/// the notes on stderr; a reader that closes the pipe (`| head`) ends it at once.
async fn print_spans(a: &args::TracesArgs, receiver: &Receiver) -> anyhow::Result<u64> {
    let store = receiver.store();
    let mut follower = store.follow();
    let deadline = a.timeout.map(|t| tokio::time::Instant::now() + t);
    let until = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until);
    // Refused exports and spans not printed are said at most once a second.
    let mut refusals = tokio::time::interval(Duration::from_secs(1));
    refusals.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut said = (0u64, 0u64);
    let mut notes = |follower: &crate::engine::trace::Follower| {
        let malformed = store.counts().malformed;
        if malformed > said.0 {
            let n = malformed - said.0;
            errln!(
                "note: {n} export request{} refused as malformed ({malformed} in all; the exporter got an OTLP error)",
                if n == 1 { "" } else { "s" }
            );
            said.0 = malformed;
        }
        let missed = follower.missed();
        if missed > said.1 {
            errln!(
                "note: {} spans not printed: they came faster than the output took them",
                missed - said.1
            );
            said.1 = missed;
        }
    };
    let mut stop = super::StopSignal::new();
    let (delivered_tx, delivered) = tokio::sync::watch::channel(0u64);
    let mut writer = super::watching::StdoutWriter::spawn(delivered_tx)?;
    let mut queued = 0u64;
    // What the writer said if it stopped during the follow (a failed write, a reader gone).
    let mut ended = None;
    'follow: loop {
        let batch = tokio::select! {
            _ = &mut until => break,
            () = stop.recv() => break,
            Ok(()) = writer.reader_gone.changed() => break,
            written = &mut writer.done => {
                ended = Some(written);
                break;
            }
            _ = refusals.tick() => {
                notes(&follower);
                continue;
            }
            batch = follower.recv() => batch,
        };
        let Some(batch) = batch else { break };
        let room = a
            .count
            .map_or(usize::MAX, |n| n.saturating_sub(queued) as usize);
        let mut lines = Vec::with_capacity(batch.len().min(room));
        for span in batch.iter().take(room) {
            let mut line = if a.json {
                // Attributes as an object, as in `send --json`.
                let mut value = serde_json::to_value(span)?;
                if let Some(obj) = value.as_object_mut() {
                    let attributes: serde_json::Map<String, serde_json::Value> =
                        span.attributes.iter().cloned().collect();
                    obj.insert("attributes".into(), attributes.into());
                }
                value.to_string()
            } else {
                span_line(span)
            };
            line.push('\n');
            lines.push(line);
        }
        queued += lines.len() as u64;
        // Waits for the writer to have room, saying the notes meanwhile.
        loop {
            tokio::select! {
                permit = writer.lines.reserve() => match permit {
                    Ok(permit) => {
                        permit.send(lines);
                        break;
                    }
                    Err(_) => break 'follow,
                },
                _ = &mut until => break 'follow,
                () = stop.recv() => break 'follow,
                Ok(()) = writer.reader_gone.changed() => break 'follow,
                written = &mut writer.done => {
                    ended = Some(written);
                    break 'follow;
                }
                _ = refusals.tick() => notes(&follower),
            }
        }
        if a.count.is_some_and(|n| queued >= n) {
            break;
        }
    }
    // What was handed to the writer goes out, unless the output takes nothing (then the
    // process ends without it: a full pipe must not hold the exit).
    let super::watching::StdoutWriter { lines, done, .. } = writer;
    drop(lines);
    // A write that failed (a full disk; not a reader gone) is the command's error.
    let written = match ended {
        Some(written) => written,
        None => tokio::time::timeout(Duration::from_millis(500), done)
            .await
            .unwrap_or(Ok(None)),
    };
    if let Ok(Some(failure)) = written {
        anyhow::bail!("{failure}");
    }
    let printed = *delivered.borrow();
    let received = store.counts().accepted;
    let unprinted = received.saturating_sub(printed);
    if (follower.missed() > 0 || queued > printed) && unprinted > 0 {
        errln!(
            "note: {unprinted} of the {received} spans received were not printed: they came faster than the output took them"
        );
    }
    Ok(printed)
}

/// One span as a line: when it started (UTC), service, name, kind, duration, status, ids.
fn span_line(s: &crate::engine::trace::Span) -> String {
    let took = s.end_unix_ns.saturating_sub(s.start_unix_ns) / 1_000;
    format!(
        "{}  {}  {} ({})  took {}{}  trace {} span {}{}",
        utc_time(s.start_unix_ns / 1_000_000),
        s.service,
        s.name,
        s.kind,
        crate::engine::timeline::format_us(took),
        if s.status.starts_with("error") {
            format!("  {}", s.status)
        } else {
            String::new()
        },
        s.trace_id,
        s.span_id,
        s.parent_span_id
            .as_deref()
            .map(|p| format!(" parent {p}"))
            .unwrap_or_default()
    )
}

/// `HH:MM:SS.mmm` (UTC) of a Unix time in milliseconds.
fn utc_time(ms: u64) -> String {
    let secs = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
        ms % 1000
    )
}
