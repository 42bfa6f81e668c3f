//! Runtime-adjustable behaviour of a demo service: added latency and failure rate.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Added latency and failure rate of one service, shared with its handlers and changeable while
/// it runs (so a user can watch what a slow or failing dependency does).
#[derive(Debug, Default)]
pub struct Knobs {
    latency_ms: AtomicU64,
    /// Failure probability in parts per million.
    failure_ppm: AtomicU32,
}

/// What a request should do after [`Knobs::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Proceed,
    InjectedFailure,
}

impl Knobs {
    pub fn new(latency_ms: u64, failure_rate: f64) -> Self {
        let knobs = Self::default();
        knobs.set_latency_ms(latency_ms);
        knobs.set_failure_rate(failure_rate);
        knobs
    }

    pub fn latency_ms(&self) -> u64 {
        self.latency_ms.load(Ordering::Relaxed)
    }

    pub fn set_latency_ms(&self, latency_ms: u64) {
        self.latency_ms.store(latency_ms, Ordering::Relaxed);
    }

    /// Failure rate in `0.0..=1.0`.
    pub fn failure_rate(&self) -> f64 {
        f64::from(self.failure_ppm.load(Ordering::Relaxed)) / 1_000_000.0
    }

    /// Sets the failure rate; values outside `0.0..=1.0` are clamped.
    pub fn set_failure_rate(&self, rate: f64) {
        let rate = if rate.is_finite() {
            rate.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.failure_ppm
            .store((rate * 1_000_000.0).round() as u32, Ordering::Relaxed);
    }

    /// Sleeps the added latency, then decides whether this request fails.
    pub async fn apply(&self) -> Verdict {
        let latency_ms = self.latency_ms();
        if latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(latency_ms)).await;
        }
        let ppm = self.failure_ppm.load(Ordering::Relaxed);
        if ppm > 0 && fastrand::u32(0..1_000_000) < ppm {
            Verdict::InjectedFailure
        } else {
            Verdict::Proceed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_rate_is_clamped_and_round_trips() {
        let knobs = Knobs::new(0, 0.25);
        assert_eq!(knobs.failure_rate(), 0.25);
        knobs.set_failure_rate(7.0);
        assert_eq!(knobs.failure_rate(), 1.0);
        knobs.set_failure_rate(f64::NAN);
        assert_eq!(knobs.failure_rate(), 0.0);
    }

    #[tokio::test]
    async fn full_failure_rate_always_fails() {
        let knobs = Knobs::new(0, 1.0);
        for _ in 0..100 {
            assert_eq!(knobs.apply().await, Verdict::InjectedFailure);
        }
        knobs.set_failure_rate(0.0);
        assert_eq!(knobs.apply().await, Verdict::Proceed);
    }
}
