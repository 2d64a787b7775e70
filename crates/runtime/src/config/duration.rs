//! Durations as people write them: `500ms`, `30s`, `10m`, `36h`, `2d`, or combinations like `1h30m`
//! (README, *APIs every instance serves*). Used for configuration, fault durations and query windows.

use std::time::Duration;

/// The longest duration accepted: ten years. Durations end up added to simulated timestamps and
/// multiplied (a heartbeat's TTL is three intervals), so an unbounded one would overflow there;
/// nothing in a simulation needs longer (a fault without a duration lasts until cleared).
pub const MAX_DURATION: Duration = Duration::from_secs(3_650 * 86_400);

/// Parses a duration made of one or more `<integer><unit>` parts, units `ms`, `s`, `m`, `h`, `d`,
/// at most [`MAX_DURATION`].
///
/// # Errors
/// Returns a message saying what is wrong, suitable for an API or CLI error.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; write e.g. 500ms, 30s, 10m, 36h".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "'{text}' is not a duration; write e.g. 500ms, 30s, 10m, 36h"
            ));
        }
        let value: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("'{text}' has a number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value.saturating_mul(60)),
            "h" => Duration::from_secs(value.saturating_mul(3600)),
            "d" => Duration::from_secs(value.saturating_mul(86_400)),
            "" => return Err(format!("'{text}' lacks a unit; use ms, s, m, h or d")),
            other => {
                return Err(format!(
                    "'{text}' has unknown unit '{other}'; use ms, s, m, h or d"
                ));
            }
        };
        total = total
            .checked_add(part)
            .filter(|total| *total <= MAX_DURATION)
            .ok_or_else(|| format!("'{text}' is too long; a duration is at most 3650d"))?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Formats a duration in the same notation, largest units first (`1h30m`, `250ms`, `0s`).
pub fn format_duration(duration: Duration) -> String {
    let mut millis = duration.as_millis();
    if millis == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if millis >= size {
            out.push_str(&format!("{}{unit}", millis / size));
            millis %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_combinations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("36h").unwrap(), Duration::from_secs(36 * 3600));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
    }

    #[test]
    fn refuses_malformed_text_with_a_reason() {
        assert!(parse_duration("").unwrap_err().contains("empty"));
        assert!(parse_duration("10").unwrap_err().contains("lacks a unit"));
        assert!(parse_duration("10y").unwrap_err().contains("unknown unit 'y'"));
        assert!(parse_duration("ms").unwrap_err().contains("not a duration"));
        assert!(parse_duration("-5s").unwrap_err().contains("not a duration"));
        assert!(
            parse_duration("99999999999999999999s")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn refuses_durations_beyond_ten_years() {
        assert_eq!(parse_duration("3650d").unwrap(), MAX_DURATION);
        for text in ["3651d", "3000000d", "18446744073709551615s", "3650d1ms"] {
            let error = parse_duration(text).unwrap_err();
            assert!(error.contains("at most 3650d"), "{text}: {error}");
        }
    }

    #[test]
    fn formatting_round_trips() {
        for text in ["250ms", "30s", "1h30m", "2d", "1d1h1m1s1ms"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert_eq!(format_duration(parse_duration("36h").unwrap()), "1d12h");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
