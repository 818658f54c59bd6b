//! Redis's number rules. Clients see exactly Redis's acceptance and formatting: an integer
//! argument is accepted only in canonical form (no `+`, no leading zeros, no spaces), and
//! doubles are printed like C's `%.17g`.

/// Parses a signed 64-bit integer in Redis's strict canonical form (`string2ll`):
/// optional `-`, no `+`, no leading zeros (but `0` itself), no whitespace, no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s {
        [] => return None,
        [b'0'] => return Some(0),
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    if digits.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses an unsigned 64-bit integer in canonical form (no sign at all).
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    match s {
        [] => None,
        [b'0'] => Some(0),
        [b'1'..=b'9', ..] if s.len() <= 20 => s.iter().try_fold(0u64, |v, &c| {
            if c.is_ascii_digit() {
                v.checked_mul(10)?.checked_add(u64::from(c - b'0'))
            } else {
                None
            }
        }),
        _ => None,
    }
}

/// Parses a double the way Redis's `string2d`/`getDoubleFromObject` does: `strtod` syntax
/// (decimal, exponent, `inf`, `-inf`, `infinity`, `nan` rejected), no surrounding spaces.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > 5000 {
        return None;
    }
    if s[0].is_ascii_whitespace() || s[s.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let lower = text.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if unsigned.starts_with("nan") {
        return None;
    }
    if lower.contains("0x") {
        return parse_hex_float(&lower);
    }
    // Rust accepts "inf", "infinity", "+inf" like strtod; reject forms strtod would not read
    // whole, such as "1e" or "1.2.3", which Rust's parser rejects too.
    let v: f64 = lower.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    Some(v)
}

/// strtod also reads C99 hexadecimal floats ("0x1p3"); keep that rare form working.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let rest = rest.strip_prefix("0x")?;
    let (mantissa, exp) = match rest.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exp);
    Some(if negative { -v } else { v })
}

/// Formats like C's `printf("%.17g", v)`, which Redis uses for double replies.
pub fn format_g17(v: f64, out: &mut Vec<u8>) {
    format_g(v, 17, out)
}

/// Formats like C's `printf("%.<precision>g", v)` for finite and infinite values.
pub fn format_g(v: f64, precision: usize, out: &mut Vec<u8>) {
    use std::io::Write;
    if v.is_nan() {
        out.extend_from_slice(if v.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        });
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    let precision = precision.max(1);
    let sci = format!("{:.*e}", precision - 1, v);
    let (mantissa, exp) = sci.split_once('e').expect("exponent in {:e} output");
    let exp: i32 = exp.parse().expect("integer exponent");
    if exp < -4 || exp >= precision as i32 {
        let mantissa = trim_fraction_zeros(mantissa);
        let _ = write!(
            out,
            "{}e{}{:02}",
            mantissa,
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        );
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        let fixed = format!("{:.*}", decimals, v);
        out.extend_from_slice(trim_fraction_zeros(&fixed).as_bytes());
    }
}

fn trim_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Formats an i64 into `out` (itoa, no allocation).
pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g17(v: f64) -> String {
        let mut out = Vec::new();
        format_g17(v, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1a",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn doubles_format_like_printf() {
        assert_eq!(g17(1.5), "1.5");
        assert_eq!(g17(0.1), "0.10000000000000001");
        assert_eq!(g17(100.0), "100");
        assert_eq!(g17(1e20), "1e+20");
        assert_eq!(g17(1.0e-5), "1.0000000000000001e-05");
        assert_eq!(g17(-0.0), "-0");
        assert_eq!(g17(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(g17(f64::INFINITY), "inf");
    }

    #[test]
    fn doubles_parse_like_strtod() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"abc"), None);
        assert_eq!(parse_f64(b""), None);
    }

    proptest::proptest! {
        #[test]
        fn i64_roundtrip(v: i64) {
            proptest::prop_assert_eq!(parse_i64(v.to_string().as_bytes()), Some(v));
        }

        #[test]
        fn g17_roundtrips(v: f64) {
            proptest::prop_assume!(v.is_finite());
            let s = g17(v);
            proptest::prop_assert_eq!(s.parse::<f64>().unwrap(), v);
        }
    }
}
