//! `--timeout SECS` / `--duration SECS`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::cli::{MAX_SECS, parse_secs};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = parse_secs(text) {
        assert!(!d.is_zero(), "{text:?} -> {d:?}");
        assert!(d.as_secs_f64() <= MAX_SECS, "{text:?} -> {d:?}");
        // Deadlines this far away still fit the clock.
        let _ = std::time::Instant::now() + d;
    }
});
