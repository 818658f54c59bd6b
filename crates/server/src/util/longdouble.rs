//! Redis's long double increments (INCRBYFLOAT, HINCRBYFLOAT), exactly.
//!
//! Redis adds in C `long double` and prints the sum with `%.17Lf`, trailing zeros trimmed, so
//! `INCRBYFLOAT k 0.1` on `"0.2"` answers `0.3` where f64 arithmetic would not. Rust has no long
//! double, so the parsing, the addition and the formatting are done by a small C file of ours
//! (`csrc/longdouble.c`, built by `build.rs`); this module is its safe interface. Numbers cross
//! the boundary as text only.

use std::ffi::{c_char, c_long};

/// Longest number text accepted, and the output buffer size the C side needs.
const TEXT_MAX_BYTES: usize = 5120;

extern "C" {
    fn rudis_ld_is_valid(text: *const c_char, len: usize) -> i32;
    fn rudis_ld_incr(
        base: *const c_char,
        base_len: usize,
        incr: *const c_char,
        incr_len: usize,
        out: *mut c_char,
        out_cap: usize,
    ) -> c_long;
    fn rudis_ld_seconds_to_ms(text: *const c_char, len: usize, out_ms: *mut i64) -> i32;
}

/// Why an increment was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrError {
    /// The stored value is not a valid float.
    BadBase,
    /// The increment is not a valid float.
    BadIncrement,
    /// The sum is NaN or infinite.
    NanOrInf,
}

/// True if `text` is a float Redis accepts as a long double: `strtold` syntax (decimal, hex,
/// exponent, `inf`), the whole text consumed, no leading space, not NaN, no overflow and no
/// underflow to zero.
pub fn is_valid(text: &[u8]) -> bool {
    // SAFETY: the pointer and length describe `text`, which outlives the call; the C side
    // copies at most `len` bytes and keeps no reference.
    unsafe { rudis_ld_is_valid(text.as_ptr().cast(), text.len()) == 1 }
}

/// A number of seconds read as Redis reads blocking commands' timeouts (a long double, so
/// `0x10` and `1e-400` are valid), in milliseconds rounded up; a value beyond `i64` is
/// `i64::MIN`, as Redis's conversion yields. `None` if `text` is not a valid number.
pub fn seconds_to_ms(text: &[u8]) -> Option<i64> {
    let mut ms = 0i64;
    // SAFETY: the pointer and length describe `text`, which outlives the call; `ms` is a
    // valid place for one i64, the only thing the C side writes.
    let ok = unsafe { rudis_ld_seconds_to_ms(text.as_ptr().cast(), text.len(), &mut ms) };
    (ok == 1).then_some(ms)
}

/// Adds `incr` to `base` (0 when `None`) in long double precision and returns the sum as Redis
/// prints it.
pub fn incr(base: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>, IncrError> {
    let mut out = vec![0u8; TEXT_MAX_BYTES];
    let (base_ptr, base_len) = match base {
        Some(b) => (b.as_ptr().cast::<c_char>(), b.len()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: every pointer/length pair describes a live buffer (`base` may be null, which the
    // C side reads as 0); `out` has `out.len()` writable bytes, and the C side writes no more
    // than that.
    let n = unsafe {
        rudis_ld_incr(
            base_ptr,
            base_len,
            incr.as_ptr().cast(),
            incr.len(),
            out.as_mut_ptr().cast(),
            out.len(),
        )
    };
    match n {
        -1 => Err(IncrError::BadBase),
        -2 => Err(IncrError::BadIncrement),
        -3 => Err(IncrError::NanOrInf),
        n if n >= 0 && (n as usize) < out.len() => {
            out.truncate(n as usize);
            Ok(out)
        }
        // No room: cannot happen, the buffer holds the widest long double. Refuse rather
        // than answer with a wrong number.
        _ => Err(IncrError::NanOrInf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_to_ms_reads_timeouts_as_redis() {
        let ms = |t: &str| seconds_to_ms(t.as_bytes());
        assert_eq!(ms("1"), Some(1000));
        assert_eq!(ms("0.0001"), Some(1), "rounded up");
        assert_eq!(ms("1e-400"), Some(1), "long double range");
        assert_eq!(ms("-0.0001"), Some(0));
        assert_eq!(ms("0x10"), Some(16000));
        assert_eq!(ms("-1"), Some(-1000));
        assert_eq!(ms("9223372036854775"), Some(9_223_372_036_854_775_000));
        assert_eq!(ms("9223372036854776"), Some(i64::MIN));
        assert_eq!(ms("inf"), Some(i64::MIN));
        assert_eq!(ms("abc"), None);
        assert_eq!(ms(" 1"), None);
        assert_eq!(ms("nan"), None);
        assert_eq!(ms(""), None);
    }

    fn add(base: Option<&str>, by: &str) -> Result<String, IncrError> {
        incr(base.map(str::as_bytes), by.as_bytes()).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn sums_print_like_redis() {
        assert_eq!(add(None, "1").unwrap(), "1");
        assert_eq!(add(Some("0.2"), "0.1").unwrap(), "0.3");
        assert_eq!(add(Some("10.5"), "0.1").unwrap(), "10.6");
        assert_eq!(add(Some("17179869184"), "1.5").unwrap(), "17179869185.5");
        assert_eq!(add(Some("1"), "-1.1").unwrap(), "-0.1");
        assert_eq!(add(Some("5.0e3"), "2.0e2").unwrap(), "5200");
        assert_eq!(add(Some("0x10"), "1").unwrap(), "17");
        // Rounding in long double leaves a tiny remainder printed as zero, never as "-0".
        assert_eq!(add(Some("-0.0000000000000000001"), "0").unwrap(), "0");
        assert_eq!(add(Some("1e300"), "0").unwrap().len(), 301);
    }

    #[test]
    fn invalid_inputs_are_refused() {
        assert_eq!(add(Some(" 11"), "1"), Err(IncrError::BadBase));
        assert_eq!(add(Some("11 "), "1"), Err(IncrError::BadBase));
        assert_eq!(add(Some("1\x002"), "1"), Err(IncrError::BadBase));
        assert_eq!(add(Some(""), "1"), Err(IncrError::BadBase));
        assert_eq!(add(Some("abc"), "1"), Err(IncrError::BadBase));
        assert_eq!(add(None, "nan"), Err(IncrError::BadIncrement));
        assert_eq!(add(None, "1e5000"), Err(IncrError::BadIncrement));
        assert_eq!(add(None, "1e-5000"), Err(IncrError::BadIncrement));
        assert_eq!(add(None, &"1".repeat(5120)), Err(IncrError::BadIncrement));
        assert_eq!(add(Some("0"), "+inf"), Err(IncrError::NanOrInf));
        assert_eq!(add(Some("1e4932"), "1e4932"), Err(IncrError::NanOrInf));
        assert!(is_valid(b"1.5e10"));
        assert!(is_valid(b"inf"));
        assert!(!is_valid(b"-nan"));
    }
}
