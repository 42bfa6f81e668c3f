//! Timelines: phases with start/end offsets in microseconds from a monotonic clock.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The phases an exchange can go through, in the order they usually happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseKind {
    /// Name resolution.
    Dns,
    /// TCP connect (for gRPC: TCP and the HTTP/2 handshake; for AMQP: TCP and the AMQP handshake).
    Connect,
    /// TLS handshake.
    Tls,
    /// From the first byte of the request written to the last.
    RequestSent,
    /// Waiting: from the request sent to the first byte of the response.
    FirstByte,
    /// gRPC: the response headers arrived.
    ResponseHeaders,
    /// Reading the response body.
    Body,
    /// gRPC: a response message arrived.
    Message,
    /// gRPC streaming: a request message was handed to the connection.
    MessageSent,
    /// gRPC: trailers (status) arrived.
    Trailers,
    /// AMQP: opening a channel (and enabling confirms).
    ChannelOpen,
    /// AMQP: declaring an exchange or queue.
    Declare,
    /// AMQP: binding a queue.
    Bind,
    /// AMQP: handing the message to the connection.
    Publish,
    /// AMQP: waiting for the broker's ack.
    Confirm,
    /// AMQP: registering a consumer.
    Consume,
    /// AMQP: a message was delivered.
    Delivery,
}

impl PhaseKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Dns => "DNS",
            Self::Connect => "connect",
            Self::Tls => "TLS",
            Self::RequestSent => "request sent",
            Self::FirstByte => "first byte",
            Self::ResponseHeaders => "response headers",
            Self::Body => "body",
            Self::Message => "message",
            Self::MessageSent => "message sent",
            Self::Trailers => "trailers",
            Self::ChannelOpen => "channel open",
            Self::Declare => "declare",
            Self::Bind => "bind",
            Self::Publish => "publish",
            Self::Confirm => "broker confirm",
            Self::Consume => "consume",
            Self::Delivery => "delivery",
        }
    }
}

/// One phase of a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    pub phase: PhaseKind,
    pub start_us: u64,
    pub end_us: u64,
    /// Extra facts: the resolved address, the TLS version, bytes of a message…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// True for the phase an error ended.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
}

impl Phase {
    pub fn duration_us(&self) -> u64 {
        self.end_us.saturating_sub(self.start_us)
    }
}

/// A monotonic clock whose zero is the start of an exchange.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Self::start()
    }
}

impl Clock {
    pub fn start() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    pub fn origin(&self) -> Instant {
        self.origin
    }

    pub fn now_us(&self) -> u64 {
        self.offset_us(Instant::now())
    }

    /// Microseconds from the origin to `at` (0 if `at` is earlier).
    pub fn offset_us(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_micros() as u64
    }
}

/// Total duration of a timeline on its own clock: from the clock's zero (the start of the
/// exchange) to the end of the last phase, so that every phase ends at or before it.
pub fn total_us(phases: &[Phase]) -> u64 {
    phases.iter().map(|p| p.end_us).max().unwrap_or(0)
}

/// `1.23 ms`, `850 µs` below a millisecond, `12.30 s` from ten seconds.
pub fn format_us(us: u64) -> String {
    if us < 1000 {
        format!("{us} µs")
    } else if us < 10_000_000 {
        format!("{:.2} ms", us as f64 / 1000.0)
    } else {
        format!("{:.2} s", us as f64 / 1_000_000.0)
    }
}
