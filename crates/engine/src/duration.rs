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
    if !secs.is_finite() {
        return Err(format!("{text:?} is not a finite number of seconds"));
    }
    if secs < 0.001 {
        return Err(format!(
            "{text:?}: give at least 0.001 seconds (a millisecond; leave the option out for the default)"
        ));
    }
    if secs > MAX_SECS {
        return Err(format!(
            "{text:?} seconds is more than a year; give at most {MAX_SECS}"
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
}
