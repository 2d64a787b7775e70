//! Money values the services' cores share: the bound every amount a request
//! carries must respect, and the exact reading of decimal text.
//!
//! Amounts are read from text exactly, never through binary floating point: `"0.1"` is one tenth,
//! and a value with more digits than an exact decimal holds is refused rather than rounded. The
//! grammar is plain decimal text — digits, at most one `.` with digits on both sides, an optional
//! leading `-` (callers refuse negatives where they make no sense) — so `"1_000"`, `"+5"`, `"1e3"`,
//! `".5"` and `"1."` are refused. A JSON *number* token, whose grammar includes an exponent, is
//! first spelled out exactly as plain text ([`json_number_text`]): `1e-3` is `0.001`.

use rust_decimal::Decimal;

/// The largest amount, price, quantity or notional (price × quantity) one request may carry
/// (10^20). Values stay far from the limit of exact decimal arithmetic (about 7.9 × 10^28), so sums
/// and products of them do not overflow.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(1_661_992_960, 1_808_227_885, 5, false, 0);

/// The most decimals an amount may have where no asset or instrument says otherwise (18: an ether
/// counts in 10^-18).
pub const MAX_SCALE: u32 = 18;

/// Significant digits an exact decimal holds at most.
const MAX_DIGITS: usize = 28;

/// Largest exponent a JSON number may have: beyond it no value is within [`MAX_AMOUNT`] or has a
/// digit an exact decimal keeps.
const MAX_EXPONENT: i64 = 64;

/// Why a text is not an exact decimal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Not plain decimal text.
    #[error(
        "'{0}' is not a plain decimal: write digits with at most one '.' and an optional leading '-', like \"1.5\""
    )]
    Syntax(String),
    /// More significant digits than an exact decimal holds (it would be rounded).
    #[error("'{0}' has more digits than an exact decimal holds ({MAX_DIGITS} significant digits)")]
    Precision(String),
    /// Beyond [`MAX_AMOUNT`].
    #[error("{0} is beyond the largest amount handled ({MAX_AMOUNT})")]
    TooLarge(String),
}

/// Parses plain decimal text exactly (see the module docs for the grammar); the result keeps the
/// scale written (`"1.50"` has scale 2).
///
/// # Errors
/// [`DecimalError::Syntax`] for anything but plain decimal text, [`DecimalError::Precision`] when
/// the value cannot be held without rounding, [`DecimalError::TooLarge`] when its integer part
/// alone exceeds what a decimal holds.
pub fn parse_decimal(text: &str) -> Result<Decimal, DecimalError> {
    let syntax = || DecimalError::Syntax(text.to_owned());
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((int, frac)) if !frac.is_empty() => (int, frac),
        Some(_) => return Err(syntax()),
        None => (digits, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !all_digits(int) || !all_digits(frac) {
        return Err(syntax());
    }
    // Leading and trailing zeros carry no digit; the scale written is kept when it fits.
    let significant_int = int.trim_start_matches('0');
    let significant_frac = frac.trim_end_matches('0');
    if significant_int.len() > MAX_DIGITS + 1 {
        return Err(DecimalError::TooLarge(text.to_owned()));
    }
    if significant_frac.len() > MAX_DIGITS {
        return Err(DecimalError::Precision(text.to_owned()));
    }
    let spelled = |frac: &str| {
        format!(
            "{}{}{}{frac}",
            if negative { "-" } else { "" },
            if significant_int.is_empty() {
                "0"
            } else {
                significant_int
            },
            if frac.is_empty() { "" } else { "." },
        )
    };
    if let Ok(value) = Decimal::from_str_exact(&spelled(frac)) {
        return Ok(value);
    }
    // Too many zeros written after the point: drop them.
    Decimal::from_str_exact(&spelled(significant_frac)).map_err(|_| {
        if significant_int.len() > MAX_DIGITS {
            DecimalError::TooLarge(text.to_owned())
        } else {
            DecimalError::Precision(text.to_owned())
        }
    })
}

/// Spells out a JSON number token (`-1.5e-3`) as plain decimal text (`-0.0015`), exactly.
///
/// # Errors
/// [`DecimalError::Syntax`] for text that is not a JSON number, [`DecimalError::Precision`] for an
/// exponent no exact decimal can follow.
pub fn json_number_text(token: &str) -> Result<String, DecimalError> {
    let syntax = || DecimalError::Syntax(token.to_owned());
    let (mantissa, exponent) = match token.find(['e', 'E']) {
        None => return Ok(token.to_owned()),
        Some(at) => (&token[..at], &token[at + 1..]),
    };
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    let exponent: i64 = exponent.parse().map_err(|_| syntax())?;
    if exponent.abs() > MAX_EXPONENT {
        return Err(DecimalError::Precision(token.to_owned()));
    }
    let (sign, unsigned) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if int.is_empty() || !format!("{int}{frac}").bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax());
    }
    let digits = format!("{int}{frac}");
    // Where the point goes in `digits` once the exponent moved it.
    let point = i64::try_from(int.len()).map_err(|_| syntax())? + exponent;
    let len = i64::try_from(digits.len()).map_err(|_| syntax())?;
    let zeros = |n: i64| "0".repeat(usize::try_from(n).unwrap_or(0));
    Ok(if point <= 0 {
        format!("{sign}0.{}{digits}", zeros(-point))
    } else if point >= len {
        format!("{sign}{digits}{}", zeros(point - len))
    } else {
        let (a, b) = digits.split_at(usize::try_from(point).unwrap_or(0));
        format!("{sign}{a}.{b}")
    })
}

/// Returns `value` when its magnitude is at most [`MAX_AMOUNT`].
///
/// # Errors
/// [`DecimalError::TooLarge`].
pub fn bounded(value: Decimal) -> Result<Decimal, DecimalError> {
    if value.abs() > MAX_AMOUNT {
        return Err(DecimalError::TooLarge(value.to_string()));
    }
    Ok(value)
}

/// Returns how many decimals `value` needs (`1.50` needs 1).
pub fn decimals(value: Decimal) -> u32 {
    value.normalize().scale()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn plain_decimal_text_is_read_exactly() {
        assert_eq!(
            parse_decimal("1234567890.123456789"),
            Ok(d("1234567890.123456789"))
        );
        assert_eq!(
            parse_decimal("1234567890.123456789").unwrap().to_string(),
            "1234567890.123456789"
        );
        assert_eq!(parse_decimal("-0.5"), Ok(d("-0.5")));
        assert_eq!(parse_decimal("007"), Ok(d("7")));
        assert_eq!(parse_decimal("1.50").unwrap().scale(), 2);
        // Zeros written beyond what a decimal holds change nothing.
        assert_eq!(parse_decimal(&format!("1.5{}", "0".repeat(40))), Ok(d("1.5")));
        assert_eq!(parse_decimal("79228162514264337593543950335"), Ok(Decimal::MAX));
    }

    #[test]
    fn anything_but_plain_decimal_text_is_refused() {
        for bad in [
            "1_000", "+5", "1e3", "1E-3", ".5", "1.", "", "-", "--1", "1.2.3", " 1", "0x10", "١", "NaN",
            "inf",
        ] {
            assert_eq!(
                parse_decimal(bad),
                Err(DecimalError::Syntax(bad.into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn digits_beyond_what_a_decimal_holds_are_refused_not_rounded() {
        let fine = "1.00000000000000000000000000001";
        assert_eq!(parse_decimal(fine), Err(DecimalError::Precision(fine.into())));
        let huge = "79228162514264337593543950336";
        assert_eq!(parse_decimal(huge), Err(DecimalError::TooLarge(huge.into())));
        let long = "1".repeat(40);
        assert_eq!(parse_decimal(&long), Err(DecimalError::TooLarge(long.clone())));
        assert!(
            DecimalError::Precision(fine.into())
                .to_string()
                .contains("28 significant digits")
        );
    }

    #[test]
    fn json_numbers_with_an_exponent_are_spelled_out_exactly() {
        assert_eq!(json_number_text("1e-3").unwrap(), "0.001");
        assert_eq!(json_number_text("-1.5E+2").unwrap(), "-150");
        assert_eq!(json_number_text("12.5e1").unwrap(), "125");
        assert_eq!(json_number_text("12.50e1").unwrap(), "125.0");
        assert_eq!(json_number_text("2e0").unwrap(), "2");
        assert_eq!(json_number_text("0.25").unwrap(), "0.25");
        assert_eq!(
            parse_decimal(&json_number_text("1.23456789e-20").unwrap()),
            Ok(d("0.0000000000000000000123456789"))
        );
        assert!(matches!(
            json_number_text("1e999"),
            Err(DecimalError::Precision(_))
        ));
    }

    #[test]
    fn amounts_beyond_the_bound_are_refused() {
        assert_eq!(MAX_AMOUNT, d("100000000000000000000"));
        assert_eq!(bounded(MAX_AMOUNT), Ok(MAX_AMOUNT));
        assert_eq!(bounded(-MAX_AMOUNT), Ok(-MAX_AMOUNT));
        let beyond = bounded(Decimal::MAX).unwrap_err();
        assert_eq!(
            beyond.to_string(),
            "79228162514264337593543950335 is beyond the largest amount handled (100000000000000000000)"
        );
        assert_eq!(decimals(d("1.500")), 1);
    }
}
