//! Records the phases of one exchange as it runs, with a deadline for the whole of it.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::exchange::{ErrorKind, Exchange, ExchangeError, Message, Transport};
use super::timeline::{Clock, Phase, PhaseKind, total_us};

tokio::task_local! {
    /// The user's stop for the exchanges recorded inside a [`cancellable`] scope.
    static CANCEL: CancellationToken;
}

/// Runs `fut` so that an exchange recorded inside it stops when `cancel` fires: the phase that
/// was running fails with a `cancelled` error and what arrived before is kept, as a timeout
/// would keep it. (A [`Recorder`] made inside the scope picks the token up.)
pub async fn cancellable<F: Future>(cancel: CancellationToken, fut: F) -> F::Output {
    CANCEL.scope(cancel, fut).await
}

/// A phase was cut short: by the exchange's deadline or by the user (see [`Recorder::finish`]).
#[derive(Debug, Clone, Copy)]
pub struct Cut;

/// The running record of an exchange: a clock, a deadline and the phases so far.
#[derive(Debug)]
pub struct Recorder {
    pub clock: Clock,
    pub deadline: tokio::time::Instant,
    pub timeout: Duration,
    pub phases: Vec<Phase>,
    started_at_ms: u64,
    /// The same instant in µs, to place the services' spans on this clock.
    started_unix_us: u64,
    /// A new HTTP/2 connection's marks: its handshake becomes a phase when the exchange ends
    /// (the server's SETTINGS may arrive during the first request).
    http2: Option<std::sync::Arc<crate::timed_io::IoMarks>>,
    /// The user's stop, when the exchange runs inside [`cancellable`].
    cancel: Option<CancellationToken>,
    /// The trace context the request carries, when it runs inside [`crate::trace::traced`].
    trace: Option<crate::trace::TraceContext>,
    /// The deadline's timer: made at the exchange's first wait and kept for the later ones,
    /// so an exchange registers one timer, not one per phase (each registration and removal
    /// takes the runtime's timer lock and may wake its driver).
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

/// Gaps between phases shorter than this are measurement noise, not shown as client time.
const CLIENT_GAP_US: u64 = 10;

/// Microseconds since the Unix epoch.
pub fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Recorder {
    pub fn new(timeout: Duration) -> Self {
        let clock = Clock::start();
        Self {
            deadline: tokio::time::Instant::from_std(clock.origin()) + timeout,
            clock,
            timeout,
            phases: Vec::new(),
            started_at_ms: unix_ms(),
            started_unix_us: unix_us(),
            http2: None,
            cancel: CANCEL.try_with(CancellationToken::clone).ok(),
            trace: crate::trace::current(),
            timer: None,
        }
    }

    /// For a later copy of a request sent several times (`--count`): its own trace, put in
    /// `headers` in place of the previous copy's `traceparent` (nothing when not traced).
    pub fn trace_copy(&mut self, headers: &mut [crate::exchange::Header]) {
        if self.trace.is_none() {
            return;
        }
        let Some(sent) = headers.iter_mut().find(|h| {
            h.name.eq_ignore_ascii_case(crate::trace::TRACEPARENT)
                && crate::trace::TraceContext::parse(&h.value).is_some()
        }) else {
            return;
        };
        let next = crate::trace::TraceContext::new_random();
        sent.value = next.traceparent();
        self.trace = Some(next);
    }

    /// `fut`, cut short at the deadline or when the user cancels.
    pub fn within<'a, F: Future + 'a>(
        &'a mut self,
        fut: F,
    ) -> impl Future<Output = Result<F::Output, Cut>> + 'a {
        let deadline = self.deadline;
        let cancel = self.cancel.as_ref();
        let timer = &mut self.timer;
        async move {
            let stopped = async {
                match cancel {
                    Some(c) => c.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            // As `timeout_at`: what `fut` has is taken before the deadline is looked at.
            tokio::select! {
                biased;
                _ = stopped => Err(Cut),
                r = fut => Ok(r),
                _ = timer.as_mut() => Err(Cut),
            }
        }
    }

    /// True when the user cancelled this exchange.
    pub fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled)
    }

    /// A new HTTP/2 connection was set up on `marks`: its handshake is timed from them.
    pub fn http2_opened(&mut self, marks: std::sync::Arc<crate::timed_io::IoMarks>) {
        self.http2 = Some(marks);
    }

    /// The HTTP/2 handshake phase, from the instants its connection's frames were seen.
    fn push_http2_handshake(&mut self) {
        let Some(marks) = self.http2.take() else {
            return;
        };
        // The handshake failed, and that phase says so already.
        if self
            .phases
            .iter()
            .any(|p| p.phase == crate::net::phases::HTTP2_HANDSHAKE)
        {
            return;
        }
        let h = marks.handshake();
        let Some(start) = h.started else {
            return;
        };
        // On the wire it begins with our preface (or the server's SETTINGS, if it spoke first);
        // before that the connection was being set up in the client.
        let on_wire = [h.preface_sent, h.server_settings]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(start)
            .max(start);
        let at = |name: &str, instant: Option<Instant>| match instant {
            Some(t) => format!(
                "{name} +{} µs",
                t.saturating_duration_since(on_wire).as_micros()
            ),
            None => format!("{name} not seen"),
        };
        let detail = [
            at("preface + SETTINGS sent", h.preface_sent),
            at("server SETTINGS", h.server_settings),
            at("ours acknowledged", h.settings_acked),
        ]
        .join(", ");
        let end = h.done_at().unwrap_or(start);
        self.push(
            crate::net::phases::HTTP2_HANDSHAKE,
            on_wire,
            end,
            Some(detail),
        );
        self.source(if h.done_by_kernel() {
            crate::kernel_time::Source::Kernel
        } else {
            crate::kernel_time::Source::UserSpace
        });
    }

    /// Adds a completed phase measured between two instants.
    pub fn push(&mut self, phase: PhaseKind, start: Instant, end: Instant, detail: Option<String>) {
        self.phases.push(Phase {
            phase,
            start_us: self.clock.offset_us(start),
            end_us: self.clock.offset_us(end.max(start)),
            detail,
            failed: false,
            source: None,
        });
    }

    /// Adds the failed phase `phase` (from `start` to now) and returns the error placed in it.
    pub fn fail(
        &mut self,
        phase: PhaseKind,
        start: Instant,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> ExchangeError {
        self.phases.push(Phase {
            phase,
            start_us: self.clock.offset_us(start),
            end_us: self.clock.now_us(),
            detail: None,
            failed: true,
            source: None,
        });
        ExchangeError {
            kind,
            phase: Some(phase),
            message: message.into(),
        }
    }

    pub fn timeout_message(&self) -> String {
        let secs = self.timeout.as_secs_f64();
        if secs < 1.0 {
            format!(
                "timed out after {} ms (the request timeout)",
                self.timeout.as_millis().max(1)
            )
        } else {
            format!("timed out after {secs:.1} s (the request timeout)")
        }
    }

    /// Runs one phase under the deadline. On error, `classify` names the failure.
    pub async fn step<T, E>(
        &mut self,
        phase: PhaseKind,
        fut: impl Future<Output = Result<T, E>>,
        classify: impl FnOnce(E) -> (ErrorKind, String),
    ) -> Result<T, ExchangeError> {
        let start = Instant::now();
        match self.within(fut).await {
            Ok(Ok(value)) => {
                self.push(phase, start, Instant::now(), None);
                Ok(value)
            }
            Ok(Err(err)) => {
                let (kind, message) = classify(err);
                Err(self.fail(phase, start, kind, message))
            }
            Err(_) => {
                let message = self.timeout_message();
                Err(self.fail(phase, start, ErrorKind::Timeout, message))
            }
        }
    }

    /// Moves the start of the last phase later, to `at` (what came before it was not that phase).
    pub fn start_last_at(&mut self, at: Instant) {
        let at = self.clock.offset_us(at);
        if let Some(last) = self.phases.last_mut() {
            last.start_us = at.clamp(last.start_us, last.end_us);
        }
    }

    /// Moves the end of the last phase earlier, to `at` (what came after it was not that
    /// phase: e.g. the task waking up after the kernel saw the packet).
    pub fn end_last_at(&mut self, at: Instant) {
        let at = self.clock.offset_us(at);
        if let Some(last) = self.phases.last_mut() {
            last.end_us = at.clamp(last.start_us, last.end_us);
        }
    }

    /// Says where the last phase's instants come from.
    pub fn source(&mut self, source: crate::kernel_time::Source) {
        if let Some(last) = self.phases.last_mut() {
            last.source = Some(source);
        }
    }

    /// Sets the detail of the last phase.
    pub fn detail(&mut self, detail: impl Into<String>) {
        if let Some(last) = self.phases.last_mut() {
            last.detail = Some(detail.into());
        }
    }

    /// Builds the exchange.
    pub fn finish(
        self,
        transport: Transport,
        target: String,
        request: Message,
        outcome: Outcome,
    ) -> Exchange {
        let mut rec = self;
        rec.push_http2_handshake();
        // Cut short by the user: the error says so, whatever the cut phase called it.
        let outcome = match outcome {
            Outcome::Failed {
                mut error,
                response,
            } if rec.cancelled() => {
                error.kind = ErrorKind::Cancelled;
                error.message = format!(
                    "cancelled by the user after {} (what arrived before is kept)",
                    crate::timeline::format_us(rec.clock.now_us())
                );
                Outcome::Failed { error, response }
            }
            other => other,
        };
        let phases = client_gaps(rec.phases);
        let (ok, status, error, response) = match outcome {
            Outcome::Answered {
                ok,
                status,
                response,
            } => (ok, Some(status), None, Some(response)),
            Outcome::Failed { error, response } => {
                // An HTTP answer whose head came before it broke off: its status is known.
                let status = response
                    .as_ref()
                    .and_then(|r| r.line.strip_prefix("HTTP/"))
                    .and_then(|rest| rest.split_once(' '))
                    .map(|(_, status)| status.to_string());
                (false, status, Some(error), response)
            }
        };
        Exchange {
            transport,
            target,
            started_at_ms: rec.started_at_ms,
            ok,
            status,
            error,
            total_us: total_us(&phases),
            timeline: phases,
            request,
            response,
            trace: rec.trace.take().map(|sent| crate::trace::ExchangeTrace {
                trace_id: sent.trace_id,
                span_id: sent.span_id,
                started_unix_us: rec.started_unix_us,
                spans_dropped: 0,
            }),
            spans: Vec::new(),
        }
    }
}

/// `phases` in order, with the time no phase covers (from the start of the exchange on) shown
/// as [`CLIENT`](crate::net::phases::CLIENT) phases: Switchboard's own work, not the wire.
fn client_gaps(mut phases: Vec<Phase>) -> Vec<Phase> {
    phases.sort_by_key(|p| (p.start_us, p.end_us));
    let mut out = Vec::with_capacity(phases.len() * 2);
    let mut covered = 0;
    for mut phase in phases {
        // A phase on the wire whose instants no kernel gave is our task's view of it.
        if phase.source.is_none() && phase.phase.class() != crate::timeline::PhaseClass::Client {
            phase.source = Some(crate::kernel_time::Source::UserSpace);
        }
        if phase.start_us >= covered + CLIENT_GAP_US {
            out.push(Phase {
                phase: crate::net::phases::CLIENT,
                start_us: covered,
                end_us: phase.start_us,
                detail: Some("not on the wire: preparing, encoding, scheduling".into()),
                failed: false,
                source: None,
            });
        }
        covered = covered.max(phase.end_us);
        out.push(phase);
    }
    // Kept in the history for the app's life: no spare room.
    out.shrink_to_fit();
    out
}

/// How an exchange ended.
#[derive(Debug)]
pub enum Outcome {
    /// The peer answered (successfully or not).
    Answered {
        ok: bool,
        status: String,
        response: Message,
    },
    /// No complete answer: the error, and whatever part of a response arrived.
    Failed {
        error: ExchangeError,
        response: Option<Message>,
    },
}

/// Names an I/O error for a user: what happened and what to do next.
pub fn classify_io(err: &std::io::Error, what: &str) -> (ErrorKind, String) {
    use std::io::ErrorKind as Io;
    match err.kind() {
        Io::ConnectionRefused => (
            ErrorKind::ConnectionRefused,
            format!(
                "connection refused by {what}: nothing listens there — is the service running?"
            ),
        ),
        Io::TimedOut => (ErrorKind::Timeout, format!("{what} timed out: {err}")),
        Io::ConnectionReset | Io::ConnectionAborted | Io::UnexpectedEof | Io::BrokenPipe => (
            ErrorKind::Protocol,
            format!("{what} closed the connection: {err}"),
        ),
        _ => (ErrorKind::Io, format!("{what}: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_no_phase_covers_is_shown_as_client_time() {
        let phase = |start_us, end_us| Phase {
            phase: crate::net::phases::CONNECT,
            start_us,
            end_us,
            detail: None,
            failed: false,
            source: None,
        };
        // Overlapping phases cover each other; a gap under 10 µs is noise.
        let out = client_gaps(vec![
            phase(400, 500),
            phase(100, 200),
            phase(150, 300),
            phase(505, 600),
        ]);
        let spans: Vec<(&str, u64, u64)> = out
            .iter()
            .map(|p| (p.phase.name(), p.start_us, p.end_us))
            .collect();
        assert_eq!(
            spans,
            [
                ("client", 0, 100),
                ("connect", 100, 200),
                ("connect", 150, 300),
                ("client", 300, 400),
                ("connect", 400, 500),
                ("connect", 505, 600),
            ]
        );
    }
}
