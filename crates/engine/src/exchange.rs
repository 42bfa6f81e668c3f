//! The one data type every front end shares: an [`Exchange`] is a request, its response, a
//! timeline of phases and an error if any.

use serde::{Deserialize, Serialize};

use super::payload::Body;
use super::timeline::Phase;

/// Which protocol carried an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Http,
    Grpc,
    Amqp,
    Nats,
    Kafka,
}

impl Transport {
    pub fn label(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Grpc => "gRPC",
            Self::Amqp => "AMQP",
            Self::Nats => "NATS",
            Self::Kafka => "Kafka",
        }
    }
}

/// A header, metadata entry, trailer or AMQP property, in the order it was sent or received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

impl Header {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// One side of an exchange: what was sent or what came back.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Message {
    /// The first line: `GET /user/1 HTTP/1.1`, `HTTP/1.1 200 OK`, `POST /user.UserService/GetUserInfo`,
    /// `publish orders order.created`…
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub line: String,
    #[serde(default)]
    pub headers: Vec<Header>,
    /// gRPC trailers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trailers: Vec<Header>,
    #[serde(flatten)]
    pub body: Body,
    /// Size of the body on the wire in bytes (for gRPC: the encoded protobuf message).
    pub size_bytes: u64,
}

/// How an exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Malformed URL, invalid JSON, unknown method, bad header…: nothing was sent.
    InvalidInput,
    Dns,
    ConnectionRefused,
    Timeout,
    Tls,
    /// The peer spoke, but not the expected protocol (or closed the connection).
    Protocol,
    /// Wrong credentials or not allowed.
    Auth,
    /// The broker or server refused what was asked (missing exchange or queue, nack…).
    Refused,
    /// A published message matched no queue.
    Unroutable,
    /// NATS: nobody is subscribed to the request's subject.
    NoResponders,
    Io,
    Cancelled,
}

impl ErrorKind {
    /// The one name of this kind: the same as in `--json` (`connection_refused`…), in load
    /// reports and in the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::Dns => "dns",
            Self::ConnectionRefused => "connection_refused",
            Self::Timeout => "timeout",
            Self::Tls => "tls",
            Self::Protocol => "protocol",
            Self::Auth => "auth",
            Self::Refused => "refused",
            Self::Unroutable => "unroutable",
            Self::NoResponders => "no_responders",
            Self::Io => "io",
            Self::Cancelled => "cancelled",
        }
    }
}

/// An error, placed in the phase where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeError {
    pub kind: ErrorKind,
    /// The phase that failed (`None` when nothing was attempted).
    pub phase: Option<super::timeline::PhaseKind>,
    pub message: String,
}

impl std::fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.phase {
            Some(phase) => write!(f, "{} failed: {}", phase.label(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ExchangeError {}

impl ExchangeError {
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::InvalidInput,
            phase: None,
            message: message.into(),
        }
    }
}

/// Most spans kept with one exchange (in the app, its history and its exports).
pub const MAX_SPANS_PER_EXCHANGE: usize = 2_000;

/// A request, its response and where the time went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    pub transport: Transport,
    /// What was addressed: a URL, `addr service/method`, or `exchange → routing key`.
    pub target: String,
    /// Wall-clock start, milliseconds since the Unix epoch (for display and history only; all
    /// durations come from the monotonic clock).
    pub started_at_ms: u64,
    /// True when the exchange completed and the peer reported success (HTTP 1xx–3xx, gRPC `OK`,
    /// broker ack).
    pub ok: bool,
    /// `200 OK`, `NOT_FOUND`, `ack`…; for an HTTP answer that broke off after its head, the
    /// status it gave (with `ok` false and the error); `None` when no answer came.
    pub status: Option<String>,
    pub error: Option<ExchangeError>,
    /// Microseconds from the start of the first phase to the end of the last.
    pub total_us: u64,
    pub timeline: Vec<Phase>,
    pub request: Message,
    pub response: Option<Message>,
    /// The trace this exchange started (its `traceparent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<crate::trace::ExchangeTrace>,
    /// The services' spans in that trace, on this exchange's clock (µs), as they arrived.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<crate::trace::TimelineSpan>,
}

impl Exchange {
    /// What came back, in a few words: the status; for an answer that started but broke off
    /// (headers in, body cut), its line and that it broke off; else "no answer".
    pub fn status_text(&self) -> String {
        match (&self.status, &self.response) {
            (Some(_), Some(r)) if self.error.is_some() && !r.line.is_empty() => {
                format!("{} (broken off)", r.line)
            }
            (Some(status), _) => status.clone(),
            (None, Some(r)) if !r.line.is_empty() => format!("{} (broken off)", r.line),
            _ => "no answer".to_string(),
        }
    }

    /// What a headline calls the outcome: "cancelled"; "failed" when nothing came back because
    /// of an error (a refused connection or login, a timeout…; the error says which); else
    /// [`Exchange::status_text`].
    pub fn outcome_label(&self) -> String {
        let answered =
            self.status.is_some() || self.response.as_ref().is_some_and(|r| !r.line.is_empty());
        match &self.error {
            Some(e) if e.kind == ErrorKind::Cancelled => "cancelled".to_string(),
            Some(_) if !answered => "failed".to_string(),
            _ => self.status_text(),
        }
    }

    /// The request's size if it left: `None` when the exchange failed before anything was
    /// written (a refused connection or login, a bad certificate), so nothing claims a publish
    /// that never happened was sent.
    pub fn sent_bytes(&self) -> Option<u64> {
        let written = self
            .timeline
            .iter()
            .any(|p| p.phase.class() == crate::timeline::PhaseClass::Send);
        (self.error.is_none() || written).then_some(self.request.size_bytes)
    }

    /// "sent N B", or "nothing sent" (see [`Exchange::sent_bytes`]).
    pub fn sent_text(&self) -> String {
        self.sent_bytes()
            .map_or("nothing sent".to_string(), |n| format!("sent {n} B"))
    }

    /// Replaces the spans with `spans` (of this exchange's trace) placed on its clock — but
    /// not those that began before the exchange did (another request that carried the same
    /// `traceparent`), and at most [`MAX_SPANS_PER_EXCHANGE`], the earliest (how many more there
    /// were is the trace's `spans_dropped`).
    pub fn place_spans(&mut self, spans: &[crate::trace::Span]) {
        /// A span may start this long before the exchange's own clock says it began (the
        /// wall clock and the monotonic one are read an instant apart).
        const SLACK_US: i64 = 1_000;
        let Some(trace) = &mut self.trace else {
            return;
        };
        self.spans = spans
            .iter()
            .map(|s| crate::trace::TimelineSpan::place(s, trace.started_unix_us))
            .filter(|s| s.start_us >= -SLACK_US)
            .collect();
        self.spans.sort_by_key(|s| (s.start_us, s.end_us));
        trace.spans_dropped = self.spans.len().saturating_sub(MAX_SPANS_PER_EXCHANGE) as u64;
        self.spans.truncate(MAX_SPANS_PER_EXCHANGE);
        self.spans.shrink_to_fit();
    }

    /// Where the latest span ends, µs on the exchange's clock (0 without spans).
    pub fn spans_end_us(&self) -> i64 {
        self.spans.iter().map(|s| s.end_us).max().unwrap_or(0)
    }

    /// Puts `duration_us` of work done before the exchange (gRPC discovery) at its start as
    /// `phase`: every other phase moves later by as much, and the total grows with it.
    pub fn prepend_phase(
        &mut self,
        phase: super::timeline::PhaseKind,
        duration_us: u64,
        detail: impl Into<String>,
    ) {
        for p in &mut self.timeline {
            p.start_us += duration_us;
            p.end_us += duration_us;
        }
        self.timeline.insert(
            0,
            super::timeline::Phase {
                phase,
                start_us: 0,
                end_us: duration_us,
                detail: Some(detail.into()),
                failed: false,
                // Work on the wire (discovery's own connection) as the task saw it.
                source: (phase.class() != super::timeline::PhaseClass::Client)
                    .then_some(crate::kernel_time::Source::UserSpace),
            },
        );
        self.total_us += duration_us;
        self.started_at_ms = self.started_at_ms.saturating_sub(duration_us / 1000);
        if let Some(trace) = &mut self.trace {
            trace.started_unix_us = trace.started_unix_us.saturating_sub(duration_us);
        }
    }

    /// Sum of bytes sent and received (bodies only).
    pub fn size_bytes(&self) -> u64 {
        self.request.size_bytes + self.response.as_ref().map_or(0, |r| r.size_bytes)
    }

    /// One JSON line, the shape `--json` prints.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!("{{\"ok\":false,\"error\":{{\"message\":\"cannot serialize: {e}\"}}}}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorKind;

    #[test]
    fn an_error_kind_has_one_name_everywhere() {
        for kind in [
            ErrorKind::InvalidInput,
            ErrorKind::Dns,
            ErrorKind::ConnectionRefused,
            ErrorKind::Timeout,
            ErrorKind::Tls,
            ErrorKind::Protocol,
            ErrorKind::Auth,
            ErrorKind::Refused,
            ErrorKind::Unroutable,
            ErrorKind::NoResponders,
            ErrorKind::Io,
            ErrorKind::Cancelled,
        ] {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::from(kind.as_str())
            );
        }
    }

    /// #16: spans past the per-exchange bound are counted on the exchange's trace (and in its
    /// JSON), not silently lost; an exchange that kept them all says nothing.
    #[test]
    fn spans_past_the_bound_are_counted_as_dropped() {
        use super::{Exchange, MAX_SPANS_PER_EXCHANGE, Message, Transport};
        let span = |i: u64| crate::trace::Span {
            trace_id: "t".into(),
            span_id: format!("{i:016x}"),
            parent_span_id: None,
            service: "s".into(),
            name: "n".into(),
            kind: "internal".into(),
            start_unix_ns: 1_000_000_000 + i * 1_000,
            end_unix_ns: 1_000_000_000 + i * 1_000 + 500,
            status: "unset".into(),
            attributes: vec![],
        };
        let mut e = Exchange {
            transport: Transport::Http,
            target: "x".into(),
            started_at_ms: 0,
            ok: true,
            status: None,
            error: None,
            total_us: 0,
            timeline: vec![],
            request: Message::default(),
            response: None,
            trace: Some(crate::trace::ExchangeTrace {
                trace_id: "t".into(),
                span_id: "0000000000000001".into(),
                started_unix_us: 1_000_000,
                spans_dropped: 0,
            }),
            spans: vec![],
        };
        let spans: Vec<_> = (0..3_001).map(span).collect();
        e.place_spans(&spans);
        assert_eq!(e.spans.len(), MAX_SPANS_PER_EXCHANGE);
        let trace = e.trace.as_ref().unwrap();
        assert_eq!(trace.spans_dropped, 1_001);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["trace"]["spans_dropped"], 1_001);
        let back: Exchange = serde_json::from_value(json).unwrap();
        assert_eq!(back.trace.unwrap().spans_dropped, 1_001);
        e.place_spans(&spans[..10]);
        assert_eq!(e.trace.as_ref().unwrap().spans_dropped, 0);
        let json = serde_json::to_value(&e).unwrap();
        assert!(json["trace"].get("spans_dropped").is_none(), "{json}");
    }
}
