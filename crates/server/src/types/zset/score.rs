//! Scores as Redis reads and writes them.
//!
//! Redis parses numbers with C's `strtod`, and its exact acceptance shows through to clients:
//! a ZADD score must be read whole, without leading space, and must not overflow or underflow
//! to zero (`string2d`), while a range bound such as `(1.5` may have leading space, stops at
//! a NUL byte like a C string, and may overflow to infinity (`zslParseRange`). [`strtod`]
//! reproduces what `strtod` consumes so both rules can be stated exactly.
//!
//! In a listpack a score is stored as an integer entry when it is integral and within
//! ±2^62 (Redis's `double2ll`), otherwise as its `%.17g` text, which reads back exactly.

use rudis_resp::number::format_g17;

/// What C's `strtod` reads from the start of a byte string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Strtod {
    pub value: f64,
    /// Bytes consumed, leading whitespace included; 0 when nothing converts.
    pub consumed: usize,
    /// The result overflowed to infinity or underflowed to zero (strtod's ERANGE cases that
    /// Redis rejects).
    pub out_of_range: bool,
}

/// C's `isspace` in the "C" locale.
pub fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn count_while(s: &[u8], pred: impl Fn(u8) -> bool) -> usize {
    s.iter().take_while(|&&c| pred(c)).count()
}

/// The longest prefix of `s` that `strtod` converts, and its value.
pub fn strtod(s: &[u8]) -> Strtod {
    let none = Strtod {
        value: 0.0,
        consumed: 0,
        out_of_range: false,
    };
    let start = count_while(s, is_c_space);
    let mut i = start;
    let negative = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let rest = &s[i..];
    let sign = if negative { -1.0 } else { 1.0 };
    if starts_with_ignore_case(rest, b"inf") {
        let len = if starts_with_ignore_case(rest, b"infinity") {
            8
        } else {
            3
        };
        return Strtod {
            value: sign * f64::INFINITY,
            consumed: i + len,
            out_of_range: false,
        };
    }
    if starts_with_ignore_case(rest, b"nan") {
        return Strtod {
            value: f64::NAN,
            consumed: i + nan_len(rest),
            out_of_range: false,
        };
    }
    if let Some((magnitude, len)) = hex_float(rest) {
        return Strtod {
            value: sign * magnitude,
            consumed: i + len,
            out_of_range: magnitude.is_infinite(),
        };
    }
    match decimal(rest) {
        Some((len, nonzero)) => {
            // The scanned text is ASCII and matches Rust's float grammar, which rounds
            // correctly as glibc does.
            let text = std::str::from_utf8(&s[start..i + len]).unwrap_or("0");
            let value: f64 = text.parse().unwrap_or(0.0);
            Strtod {
                value,
                consumed: i + len,
                out_of_range: value.is_infinite() || (value == 0.0 && nonzero),
            }
        }
        None => none,
    }
}

/// Length of `nan` or `nan(chars)`.
fn nan_len(rest: &[u8]) -> usize {
    if rest.get(3) == Some(&b'(') {
        let inner = count_while(&rest[4..], |c| c.is_ascii_alphanumeric() || c == b'_');
        if rest.get(4 + inner) == Some(&b')') {
            return 4 + inner + 1;
        }
    }
    3
}

/// Scans a decimal number (digits, optional fraction, optional exponent): its length and
/// whether any mantissa digit is non-zero. None if there is no digit.
fn decimal(s: &[u8]) -> Option<(usize, bool)> {
    let int_digits = count_while(s, |c| c.is_ascii_digit());
    let mut len = int_digits;
    let mut frac_digits = 0;
    if s.get(len) == Some(&b'.') {
        frac_digits = count_while(&s[len + 1..], |c| c.is_ascii_digit());
        len += 1 + frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    let nonzero = s[..len].iter().any(|&c| (b'1'..=b'9').contains(&c));
    len += exponent_len(&s[len..], b'e');
    Some((len, nonzero))
}

/// Length of an exponent (`e`/`p`, optional sign, at least one digit), or 0.
fn exponent_len(s: &[u8], marker: u8) -> usize {
    if s.first().is_none_or(|c| c.to_ascii_lowercase() != marker) {
        return 0;
    }
    let sign = usize::from(matches!(s.get(1), Some(b'+' | b'-')));
    let digits = count_while(&s[1 + sign..], |c| c.is_ascii_digit());
    if digits == 0 {
        0
    } else {
        1 + sign + digits
    }
}

/// A C99 hexadecimal float (`0x1.8p3`): its magnitude and length. None if `s` has no hex
/// digit after `0x` (then strtod reads just the `0`).
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    if s.len() < 2 || s[0] != b'0' || !s[1].eq_ignore_ascii_case(&b'x') {
        return None;
    }
    let body = &s[2..];
    let int_digits = count_while(body, |c| c.is_ascii_hexdigit());
    let mut len = int_digits;
    let mut frac_digits = 0;
    if body.get(len) == Some(&b'.') {
        frac_digits = count_while(&body[len + 1..], |c| c.is_ascii_hexdigit());
        len += 1 + frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    let exp_len = exponent_len(&body[len..], b'p');
    let exp: i64 = if exp_len > 0 {
        std::str::from_utf8(&body[len + 1..len + exp_len])
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(if body[len + 1] == b'-' {
                i64::MIN / 2
            } else {
                i64::MAX / 2
            })
    } else {
        0
    };
    // Keep 15 significant hex digits (60 bits) and fold the rest into a sticky bit, so the
    // conversion to f64 rounds as if every digit had been kept.
    let mut mantissa: u64 = 0;
    let mut kept = 0;
    let mut scale: i64 = 0;
    let digits = body[..int_digits].iter().map(|&c| (c, false)).chain(
        body[int_digits..len]
            .iter()
            .filter(|&&c| c != b'.')
            .map(|&c| (c, true)),
    );
    for (c, fraction) in digits {
        let d = u64::from((c as char).to_digit(16).unwrap_or(0));
        if kept < 15 {
            if mantissa != 0 || d != 0 {
                kept += 1;
            }
            mantissa = mantissa << 4 | d;
            if fraction {
                scale -= 4;
            }
        } else {
            mantissa |= u64::from(d != 0);
            if !fraction {
                scale += 4;
            }
        }
    }
    let value = scale_by_power_of_two(mantissa as f64, exp.saturating_add(scale));
    Some((value, 2 + len + exp_len))
}

/// `v * 2^exp`, in steps that cannot overflow an intermediate.
fn scale_by_power_of_two(mut v: f64, mut exp: i64) -> f64 {
    while exp > 1000 && v.is_finite() && v != 0.0 {
        v *= 2f64.powi(1000);
        exp -= 1000;
    }
    while exp < -1000 && v != 0.0 {
        v *= 2f64.powi(-1000);
        exp += 1000;
    }
    v * 2f64.powi(exp.clamp(-1100, 1100) as i32)
}

/// A score argument, with Redis's `string2d` rules: the whole string is a number, with no
/// leading space, no NaN, and no overflow or underflow to zero. `inf` and `-inf` are fine.
pub fn parse_score(arg: &[u8]) -> Option<f64> {
    if arg.first().is_none_or(|&c| is_c_space(c)) {
        return None;
    }
    let r = strtod(arg);
    (r.consumed == arg.len() && !r.out_of_range && !r.value.is_nan()).then_some(r.value)
}

/// A score range bound (`1.5`, `(1.5`, `-inf`) with Redis's `zslParseRange` rules: read like a
/// C string (up to a NUL byte), leading space allowed, an empty number reads as 0, overflow
/// to infinity allowed, NaN rejected. Returns the value and whether it is exclusive.
pub fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let text = &arg[..arg.iter().position(|&c| c == 0).unwrap_or(arg.len())];
    let (exclusive, number) = match text.split_first() {
        Some((b'(', rest)) => (true, rest),
        _ => (false, text),
    };
    let r = strtod(number);
    (r.consumed == number.len() && !r.value.is_nan()).then_some((r.value, exclusive))
}

/// The integer a listpack stores for `score`, if it stores one (Redis's `double2ll`):
/// integral values within ±(2^63-1)/2.
pub fn score_as_int(score: f64) -> Option<i64> {
    let limit = (i64::MAX / 2) as f64;
    if !(-limit..=limit).contains(&score) {
        return None;
    }
    let i = score as i64;
    (i as f64 == score).then_some(i)
}

/// The bytes a listpack stores for `score`: its integer form when [`score_as_int`] allows,
/// otherwise `inf`, `-inf` or the `%.17g` text.
pub fn score_text(score: f64, out: &mut Vec<u8>) {
    if let Some(i) = score_as_int(score) {
        out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    } else {
        format_g17(score, out);
    }
}

/// Reads a score stored as listpack text, as Redis does (strtod of at most 127 bytes; text
/// that is not a number reads as 0).
pub fn score_from_text(text: &[u8]) -> f64 {
    strtod(&text[..text.len().min(127)]).value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_consumes_what_c_does() {
        let cases: &[(&[u8], f64, usize)] = &[
            (b"1.5", 1.5, 3),
            (b"  -2", -2.0, 4),
            (b"1e", 1.0, 1),
            (b"1e+", 1.0, 1),
            (b"1e+2x", 100.0, 4),
            (b".5", 0.5, 2),
            (b"5.", 5.0, 2),
            (b".", 0.0, 0),
            (b"", 0.0, 0),
            (b"  ", 0.0, 0),
            (b"-", 0.0, 0),
            (b"+inf", f64::INFINITY, 4),
            (b"-Infinity", f64::NEG_INFINITY, 9),
            (b"infinit", f64::INFINITY, 3),
            (b"0x10", 16.0, 4),
            (b"0x", 0.0, 1),
            (b"0x1p3", 8.0, 5),
            (b"0x.8", 0.5, 4),
            (b"-0x1.8p-1", -0.75, 9),
        ];
        for &(s, value, consumed) in cases {
            let r = strtod(s);
            assert_eq!((r.value, r.consumed), (value, consumed), "{:?}", s);
        }
        assert!(strtod(b"nan").value.is_nan());
        assert_eq!(strtod(b"nan(abc)x").consumed, 8);
        assert_eq!(strtod(b"nan(ab").consumed, 3);
        assert!(strtod(b"1e400").out_of_range);
        assert!(strtod(b"1e-400").out_of_range);
        assert!(!strtod(b"0e-400").out_of_range);
        assert!(!strtod(b"4e-320").out_of_range, "subnormals are fine");
    }

    #[test]
    fn score_arguments() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"infinity"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        for bad in [
            &b" 1"[..],
            b"1 ",
            b"",
            b"nan",
            b"1e400",
            b"1e-400",
            b"abc",
            b"1\0",
        ] {
            assert_eq!(parse_score(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn range_bounds() {
        assert_eq!(parse_score_bound(b"(1.5"), Some((1.5, true)));
        assert_eq!(parse_score_bound(b" 1"), Some((1.0, false)));
        assert_eq!(parse_score_bound(b""), Some((0.0, false)));
        assert_eq!(parse_score_bound(b"("), Some((0.0, true)));
        assert_eq!(parse_score_bound(b"1e400"), Some((f64::INFINITY, false)));
        assert_eq!(parse_score_bound(b"1\0junk"), Some((1.0, false)));
        assert_eq!(parse_score_bound(b"1 "), None);
        assert_eq!(parse_score_bound(b"nan"), None);
        assert_eq!(parse_score_bound(b"(x"), None);
    }

    #[test]
    fn listpack_score_forms() {
        assert_eq!(score_as_int(3.0), Some(3));
        assert_eq!(
            score_as_int(-0.0),
            Some(0),
            "-0 is stored as 0, as Redis does"
        );
        assert_eq!(score_as_int(1.5), None);
        assert_eq!(score_as_int(f64::INFINITY), None);
        assert_eq!(score_as_int(4611686018427387904.0), Some(1 << 62));
        assert_eq!(score_as_int(9.3e18), None);
        let text = |v: f64| {
            let mut out = Vec::new();
            score_text(v, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(0.1), "0.10000000000000001");
        assert_eq!(text(f64::NEG_INFINITY), "-inf");
        assert_eq!(text(1e20), "1e+20");
        assert_eq!(text(-7.0), "-7");
        for v in [
            0.1,
            1e20,
            -3.25e-300,
            f64::INFINITY,
            f64::MIN_POSITIVE / 8.0,
        ] {
            assert_eq!(score_from_text(text(v).as_bytes()), v);
        }
        assert_eq!(score_from_text(b"garbage"), 0.0);
    }
}
