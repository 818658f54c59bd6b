//! Zipmaps, the small-hash encoding of Redis 2.x, read only (RDB type 9).
//!
//! Layout: a count byte (254 meaning "count them"), then for each pair the field's
//! length, the field, the value's length, one byte of free space size, the value and that many
//! free bytes; a 0xFF terminator. A length is one byte below 254, or 254 and a u32 LE.
//!
//! Invariant: nothing here reads outside the slice it is given, whatever the bytes.

const BIG_LEN: u8 = 254;
const END: u8 = 0xFF;

/// Reads the length at `p`; returns it and the position after it.
fn length(b: &[u8], p: usize) -> Option<(usize, usize)> {
    match *b.get(p)? {
        END => None,
        BIG_LEN => {
            let raw = b.get(p + 1..p + 5)?;
            Some((u32::from_le_bytes(raw.try_into().ok()?) as usize, p + 5))
        }
        n => Some((usize::from(n), p + 1)),
    }
}

/// Takes `len` bytes at `p`, if they are inside `b`.
fn take(b: &[u8], p: usize, len: usize) -> Option<(&[u8], usize)> {
    let end = p.checked_add(len)?;
    Some((b.get(p..end)?, end))
}

/// Checks an untrusted zipmap completely, calling `f` on each field and value in order; stops
/// at the first invalid pair or the first error `f` returns. Returns the pair count.
pub fn for_each<'a>(
    b: &'a [u8],
    mut f: impl FnMut(&'a [u8], &'a [u8]) -> Result<(), &'static str>,
) -> Result<usize, &'static str> {
    const BAD: &str = "zipmap entry runs past the end";
    if b.len() < 2 || b[b.len() - 1] != END {
        return Err("zipmap does not end with its terminator");
    }
    // Entries must end before the terminator.
    let body = &b[..b.len() - 1];
    let (mut p, mut count) = (1, 0usize);
    while p < body.len() {
        let (field_len, q) = length(body, p).ok_or(BAD)?;
        let (field, q) = take(body, q, field_len).ok_or(BAD)?;
        let (value_len, q) = length(body, q).ok_or(BAD)?;
        let free = usize::from(*body.get(q).ok_or(BAD)?);
        let (value, q) = take(body, q + 1, value_len).ok_or(BAD)?;
        let (_, q) = take(body, q, free).ok_or(BAD)?;
        f(field, value)?;
        p = q;
        count += 1;
    }
    if count == 0 {
        return Err("zipmap is empty");
    }
    if b[0] != BIG_LEN && usize::from(b[0]) != count {
        return Err("zipmap header count differs from its entries");
    }
    Ok(count)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Builds a zipmap with `free` spare bytes after each value (for tests of the converter).
    pub fn build(pairs: &[(&[u8], &[u8])], free: u8) -> Vec<u8> {
        let mut b = vec![pairs.len().min(254) as u8];
        let len = |n: usize, b: &mut Vec<u8>| {
            if n < 254 {
                b.push(n as u8);
            } else {
                b.push(BIG_LEN);
                b.extend_from_slice(&(n as u32).to_le_bytes());
            }
        };
        for (f, v) in pairs {
            len(f.len(), &mut b);
            b.extend_from_slice(f);
            len(v.len(), &mut b);
            b.push(free);
            b.extend_from_slice(v);
            b.resize(b.len() + usize::from(free), 0);
        }
        b.push(END);
        b
    }

    #[allow(clippy::type_complexity)]
    fn pairs(zm: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, &'static str> {
        let mut out = Vec::new();
        for_each(zm, |f, v| {
            out.push((f.to_vec(), v.to_vec()));
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn the_documented_example() {
        let zm = b"\x02\x03foo\x03\x00bar\x05hello\x05\x00world\xff";
        assert_eq!(
            pairs(zm).unwrap(),
            vec![
                (b"foo".to_vec(), b"bar".to_vec()),
                (b"hello".to_vec(), b"world".to_vec())
            ]
        );
    }

    #[test]
    fn long_strings_and_free_space() {
        let long = vec![b'v'; 1000];
        let zm = build(&[(b"f", &long), (b"g", b"")], 3);
        assert_eq!(pairs(&zm).unwrap()[0].1, long);
    }

    #[test]
    fn rejects_corruption() {
        assert!(pairs(b"\x00\xff").is_err());
        assert!(pairs(b"\x01\x03foo\x03\x00ba\xff").is_err());
        assert!(pairs(b"\x02\x03foo\x03\x00bar\xff").is_err());
        assert!(pairs(b"\x01\x03foo\xff").is_err());
    }

    proptest! {
        #[test]
        fn build_then_read(items in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..300), proptest::collection::vec(any::<u8>(), 0..300)), 1..20), free in 0u8..5) {
            let refs: Vec<(&[u8], &[u8])> = items.iter().map(|(f, v)| (&f[..], &v[..])).collect();
            prop_assert_eq!(pairs(&build(&refs, free)).unwrap(), items);
        }

        #[test]
        fn never_panics(bytes: Vec<u8>) {
            let _ = pairs(&bytes);
        }
    }
}
