//! Intsets, in Redis's byte format: a sorted array of distinct integers, all stored in the
//! smallest width (2, 4 or 8 bytes, little endian) that fits the widest member, after an
//! 8-byte header (width, u32 LE; count, u32 LE). Small sets of integers use this encoding;
//! RDB files carry it as it is.

use super::thin::{SizeHeader, ThinBytes};

pub const HEADER_LEN: usize = 8;

/// The size header of an intset (for [`ThinBytes`]).
pub struct IsHeader;

impl SizeHeader for IsHeader {
    const HEADER_LEN: usize = HEADER_LEN;

    fn total_len(h: &[u8]) -> usize {
        let width = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let count = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
        HEADER_LEN + width * count
    }

    fn empty() -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER_LEN);
        v.extend_from_slice(&2u32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v
    }
}

/// An owned intset behind a thin pointer.
pub type IntSet = ThinBytes<IsHeader>;

fn width_for(v: i64) -> usize {
    if i64::from(i16::MIN) <= v && v <= i64::from(i16::MAX) {
        2
    } else if i64::from(i32::MIN) <= v && v <= i64::from(i32::MAX) {
        4
    } else {
        8
    }
}

/// A read view.
#[derive(Clone, Copy)]
pub struct Is<'a>(pub &'a [u8]);

impl<'a> Is<'a> {
    pub fn width(&self) -> usize {
        u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]]) as usize
    }

    pub fn len(&self) -> usize {
        u32::from_le_bytes([self.0[4], self.0[5], self.0[6], self.0[7]]) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> i64 {
        let w = self.width();
        let b = &self.0[HEADER_LEN + i * w..HEADER_LEN + (i + 1) * w];
        match w {
            2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => i64::from_le_bytes(b.try_into().expect("8-byte member")),
        }
    }

    /// `Ok(index)` if present, `Err(insertion point)` otherwise.
    pub fn search(&self, v: i64) -> Result<usize, usize> {
        if width_for(v) > self.width() {
            return Err(if v < 0 { 0 } else { self.len() });
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = i64> + ExactSizeIterator + 'a {
        let me = *self;
        (0..me.len()).map(move |i| me.get(i))
    }

    pub fn max(&self) -> Option<i64> {
        (!self.is_empty()).then(|| self.get(self.len() - 1))
    }

    pub fn min(&self) -> Option<i64> {
        (!self.is_empty()).then(|| self.get(0))
    }
}

fn write_header(v: &mut [u8], width: usize, count: usize) {
    v[..4].copy_from_slice(&(width as u32).to_le_bytes());
    v[4..8].copy_from_slice(&(count as u32).to_le_bytes());
}

fn write_member(v: &mut [u8], width: usize, i: usize, x: i64) {
    let at = HEADER_LEN + i * width;
    match width {
        2 => v[at..at + 2].copy_from_slice(&(x as i16).to_le_bytes()),
        4 => v[at..at + 4].copy_from_slice(&(x as i32).to_le_bytes()),
        _ => v[at..at + 8].copy_from_slice(&x.to_le_bytes()),
    }
}

/// Adds `x`; returns false if it was already there.
pub fn insert(v: &mut Vec<u8>, x: i64) -> bool {
    let is = Is(v);
    let (width, len) = (is.width(), is.len());
    let pos = match is.search(x) {
        Ok(_) => return false,
        Err(p) => p,
    };
    let new_width = width.max(width_for(x));
    let old: Vec<i64> = if new_width != width {
        is.iter().collect()
    } else {
        Vec::new()
    };
    v.resize(HEADER_LEN + (len + 1) * new_width, 0);
    if new_width != width {
        // Upgrade: rewrite every member at the new width, leaving room at `pos`.
        for (i, m) in old.iter().enumerate() {
            write_member(v, new_width, if i < pos { i } else { i + 1 }, *m);
        }
    } else {
        let start = HEADER_LEN + pos * width;
        v.copy_within(start..HEADER_LEN + len * width, start + width);
    }
    write_member(v, new_width, pos, x);
    write_header(v, new_width, len + 1);
    true
}

/// Removes `x`; returns false if it was not there.
pub fn remove(v: &mut Vec<u8>, x: i64) -> bool {
    let is = Is(v);
    let (width, len) = (is.width(), is.len());
    let Ok(pos) = is.search(x) else { return false };
    let start = HEADER_LEN + pos * width;
    v.copy_within(start + width..HEADER_LEN + len * width, start);
    v.truncate(HEADER_LEN + (len - 1) * width);
    write_header(v, width, len - 1);
    true
}

/// Checks untrusted bytes: a known width, a size matching the count, strictly ascending
/// members, each needing no more than the width. Returns the count.
pub fn validate(b: &[u8]) -> Option<usize> {
    if b.len() < HEADER_LEN {
        return None;
    }
    let is = Is(b);
    let (width, len) = (is.width(), is.len());
    if !matches!(width, 2 | 4 | 8)
        || (len as u64) * (width as u64) + HEADER_LEN as u64 != b.len() as u64
    {
        return None;
    }
    for i in 1..len {
        if is.get(i - 1) >= is.get(i) {
            return None;
        }
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    proptest::proptest! {
        #[test]
        fn behaves_like_a_sorted_set(ops in proptest::collection::vec((proptest::prelude::any::<bool>(), proptest::prelude::Strategy::prop_map(proptest::prelude::any::<i64>(), |x| x >> (x & 63))), 0..200)) {
            let mut v = IsHeader::empty();
            let mut model = BTreeSet::new();
            for (add, x) in ops {
                if add {
                    proptest::prop_assert_eq!(insert(&mut v, x), model.insert(x));
                } else {
                    proptest::prop_assert_eq!(remove(&mut v, x), model.remove(&x));
                }
                proptest::prop_assert_eq!(validate(&v), Some(model.len()));
            }
            let got: Vec<i64> = Is(&v).iter().collect();
            proptest::prop_assert_eq!(got, model.into_iter().collect::<Vec<_>>());
        }

        #[test]
        fn validate_never_panics(bytes: Vec<u8>) {
            let _ = validate(&bytes);
        }
    }

    #[test]
    fn widths_upgrade() {
        let mut v = IsHeader::empty();
        insert(&mut v, 5);
        assert_eq!(Is(&v).width(), 2);
        insert(&mut v, 70000);
        assert_eq!(Is(&v).width(), 4);
        insert(&mut v, -5_000_000_000);
        assert_eq!(Is(&v).width(), 8);
        assert_eq!(
            Is(&v).iter().collect::<Vec<_>>(),
            vec![-5_000_000_000, 5, 70000]
        );
        let owned = IntSet::from_vec(v);
        assert_eq!(Is(owned.as_slice()).len(), 3);
    }
}
