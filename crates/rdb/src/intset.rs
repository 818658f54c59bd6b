//! Intsets, in Redis's byte format: an 8-byte header (member width in bytes, u32 LE: 2, 4 or
//! 8; member count, u32 LE) and the members, sorted ascending and distinct, all at that width
//! in little endian. RDB files carry small sets of integers this way.

pub const HEADER_LEN: usize = 8;

fn width(b: &[u8]) -> usize {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
}

fn count(b: &[u8]) -> usize {
    u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize
}

fn member(b: &[u8], w: usize, i: usize) -> i64 {
    let m = &b[HEADER_LEN + i * w..HEADER_LEN + (i + 1) * w];
    match w {
        2 => i64::from(i16::from_le_bytes([m[0], m[1]])),
        4 => i64::from(i32::from_le_bytes([m[0], m[1], m[2], m[3]])),
        _ => i64::from_le_bytes(m.try_into().expect("8-byte member")),
    }
}

/// Checks untrusted bytes as Redis's deep check does: a known width, a size matching the
/// count, at least one member, members strictly ascending. Returns the count.
pub fn validate(b: &[u8]) -> Result<usize, &'static str> {
    if b.len() < HEADER_LEN {
        return Err("intset shorter than its header");
    }
    let w = width(b);
    if !matches!(w, 2 | 4 | 8) {
        return Err("intset has an unknown member width");
    }
    let n = count(b);
    if (n as u64) * (w as u64) + HEADER_LEN as u64 != b.len() as u64 {
        return Err("intset size differs from its member count");
    }
    if n == 0 {
        return Err("intset is empty");
    }
    for i in 1..n {
        if member(b, w, i - 1) >= member(b, w, i) {
            return Err("intset members are not strictly ascending");
        }
    }
    Ok(n)
}

/// The members of an intset [`validate`] accepted, ascending.
pub fn members(b: &[u8]) -> impl ExactSizeIterator<Item = i64> + '_ {
    let w = width(b);
    (0..count(b)).map(move |i| member(b, w, i))
}

/// Builds an intset from distinct values (in any order), at the narrowest width.
pub fn from_values(values: &[i64]) -> Vec<u8> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let w = sorted.iter().map(|&v| width_for(v)).max().unwrap_or(2);
    let mut b = Vec::with_capacity(HEADER_LEN + w * sorted.len());
    b.extend_from_slice(&(w as u32).to_le_bytes());
    b.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for v in sorted {
        b.extend_from_slice(&v.to_le_bytes()[..w]);
    }
    b
}

fn width_for(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn widths_and_order() {
        let is = from_values(&[70_000, 5, -5_000_000_000]);
        assert_eq!(width(&is), 8);
        assert_eq!(validate(&is), Ok(3));
        assert_eq!(
            members(&is).collect::<Vec<_>>(),
            vec![-5_000_000_000, 5, 70_000]
        );
        assert_eq!(width(&from_values(&[1, -32768])), 2);
        assert_eq!(width(&from_values(&[1, 32768])), 4);
    }

    #[test]
    fn rejects_corruption() {
        assert!(validate(&from_values(&[])).is_err());
        let is = from_values(&[1, 2, 3]);
        let mut unordered = is.clone();
        unordered[HEADER_LEN..HEADER_LEN + 2].copy_from_slice(&9i16.to_le_bytes());
        assert!(validate(&unordered).is_err());
        let mut bad_width = is.clone();
        bad_width[0] = 3;
        assert!(validate(&bad_width).is_err());
        let mut huge_count = is.clone();
        huge_count[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(validate(&huge_count).is_err());
        assert!(validate(&is[..is.len() - 1]).is_err());
    }

    proptest! {
        #[test]
        fn build_then_read(values: Vec<i64>) {
            let is = from_values(&values);
            let mut want = values.clone();
            want.sort_unstable();
            want.dedup();
            if want.is_empty() {
                prop_assert!(validate(&is).is_err());
            } else {
                prop_assert_eq!(validate(&is), Ok(want.len()));
                prop_assert_eq!(members(&is).collect::<Vec<_>>(), want);
            }
        }

        #[test]
        fn validate_never_panics(bytes: Vec<u8>) {
            let _ = validate(&bytes);
        }
    }
}
