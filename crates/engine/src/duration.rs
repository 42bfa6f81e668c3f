//! Durations typed by a user (command line, imported curl/grpcurl options): one parser.

use std::time::Duration;

/// The longest duration accepted on the command line (a year): anything longer is a typo, and
/// deadlines that far away overflow the clock.
pub const MAX_SECS: f64 = 365.0 * 24.0 * 3600.0;

/// Parses a duration in seconds (`30`, `0.5`, `1e-3`): a finite number from a millisecond to a
/// year. `0`, `1e-12`, negatives, `nan` and `inf` are refused with a message saying why. The
/// one parser for every `--timeout`/`--duration`.
pub fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds (e.g. 30 or 0.5)"))?;
    within_bounds(text, secs)
}

/// Parses a duration with its unit — `500ms`, `2s`, `1.5s` — where a bare number is
/// milliseconds (`500`), within the same bounds as [`parse_secs`]: for the options whose
/// values are usually under a second (`--trace-wait`).
pub fn parse_ms_or_unit(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let (number, secs_per_unit) = match trimmed.strip_suffix("ms") {
        Some(n) => (n, 0.001),
        None => match trimmed.strip_suffix('s') {
            Some(n) => (n, 1.0),
            None => (trimmed, 0.001),
        },
    };
    let value: f64 = number.trim().parse().map_err(|_| {
        format!(
            "{text:?} is not a duration (e.g. 500ms, 2s or 1.5s; a bare number is milliseconds)"
        )
    })?;
    within_bounds(text, value * secs_per_unit)
}

/// `secs` as a duration when it is finite and from a millisecond to a year.
fn within_bounds(text: &str, secs: f64) -> Result<Duration, String> {
    if !secs.is_finite() {
        return Err(format!("{text:?} is not a finite duration"));
    }
    if secs < 0.001 {
        return Err(format!(
            "{text:?}: give at least 0.001 seconds (a millisecond; leave the option out for the default)"
        ));
    }
    if secs > MAX_SECS {
        return Err(format!(
            "{text:?} is more than a year; give at most {MAX_SECS} seconds"
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_parsed_once_with_clear_errors() {
        assert_eq!(parse_secs("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_secs("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_secs(" 1e-3 "), Ok(Duration::from_millis(1)));
        for bad in [
            "-1", "nan", "NaN", "inf", "-inf", "1e300", "0", "0.0", "", "abc", "1s",
        ] {
            let err = parse_secs(bad).expect_err(bad);
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
        assert!(parse_secs(&MAX_SECS.to_string()).is_ok());
    }

    /// Found by `scripts/fuzz` (target `duration`): a positive number too small for a
    /// `Duration` became a zero timeout.
    #[test]
    fn durations_below_a_millisecond_are_refused() {
        for tiny in [
            "000000000000000.00000000000000001000000\t",
            "1e-17",
            "4e-10",
            "1e-9",
            "0.0009",
        ] {
            let err = parse_secs(tiny).expect_err(tiny);
            assert!(err.contains("at least 0.001 seconds"), "{tiny}: {err}");
        }
        assert_eq!(parse_secs("0.001"), Ok(Duration::from_millis(1)));
    }

    #[test]
    fn durations_with_units_and_bare_milliseconds() {
        let ms = Duration::from_millis;
        assert_eq!(parse_ms_or_unit("500"), Ok(ms(500)));
        assert_eq!(parse_ms_or_unit("500ms"), Ok(ms(500)));
        assert_eq!(parse_ms_or_unit(" 250 ms "), Ok(ms(250)));
        assert_eq!(parse_ms_or_unit("2s"), Ok(ms(2_000)));
        assert_eq!(parse_ms_or_unit("1.5s"), Ok(ms(1_500)));
        assert_eq!(parse_ms_or_unit("1"), Ok(ms(1)));
        for bad in [
            "", "s", "ms", "abc", "2m", "5 sec", "-1s", "0", "0ms", "0.5", "nan", "infs", "1e300s",
            "1.5h",
        ] {
            let err = parse_ms_or_unit(bad).expect_err(bad);
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }
}
