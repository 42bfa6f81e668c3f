//! Timelines: phases with start/end offsets in microseconds from a monotonic clock.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// A kind of phase. Each transport names its own in its folder (`http::phases`,
/// `grpc::phases`, `amqp::phases`; the connection's own in `net::phases`), so nothing here grows
/// with a new transport but one line in [`PhaseKind::known`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhaseKind {
    name: &'static str,
    label: &'static str,
    class: PhaseClass,
}

/// What a phase is doing, for its colour: setting up, sending, waiting or receiving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhaseClass {
    /// Name resolution.
    Resolve,
    /// Opening a connection or channel.
    Connect,
    /// A TLS handshake.
    Secure,
    /// Writing a request or message.
    Send,
    /// Waiting for the peer.
    Wait,
    /// Reading a response or message.
    Receive,
    /// Work in Switchboard itself, not on the wire (building, encoding, scheduling, discovery).
    Client,
}

impl PhaseKind {
    /// `name` is its `--json` name (`first_byte`), `label` what a timeline shows (`first byte`).
    pub const fn new(name: &'static str, label: &'static str, class: PhaseClass) -> Self {
        Self { name, label, class }
    }

    pub fn name(self) -> &'static str {
        self.name
    }

    pub fn label(self) -> &'static str {
        self.label
    }

    pub fn class(self) -> PhaseClass {
        self.class
    }

    /// Every phase of every transport: one line per transport.
    pub fn known() -> impl Iterator<Item = PhaseKind> {
        [
            crate::net::phases::ALL,
            crate::http::phases::ALL,
            crate::grpc::phases::ALL,
            crate::amqp::phases::ALL,
            crate::nats::phases::ALL,
            crate::kafka::phases::ALL,
        ]
        .into_iter()
        .flatten()
        .copied()
    }

    /// The phase named `name`; one this version does not know (from a newer history file)
    /// reads as itself, shown as `other`.
    pub fn from_name(name: &str) -> Self {
        Self::known().find(|k| k.name == name).unwrap_or(Self::new(
            "other",
            "other",
            PhaseClass::Wait,
        ))
    }
}

impl Serialize for PhaseKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name)
    }
}

impl<'de> Deserialize<'de> for PhaseKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Self::from_name(&name))
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
    /// For a network phase: whether its instants are the kernel's (packet timestamps, the
    /// handshake's round trip) or Switchboard's task seeing the socket ready (`user-space`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::kernel_time::Source>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_names_are_unique_and_read_back() {
        let mut seen = std::collections::HashSet::new();
        for kind in PhaseKind::known() {
            assert!(seen.insert(kind.name()), "{} twice", kind.name());
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<PhaseKind>(&json).unwrap(), kind);
        }
        assert_eq!(
            serde_json::from_str::<PhaseKind>("\"from_the_future\"")
                .unwrap()
                .label(),
            "other"
        );
    }
}
