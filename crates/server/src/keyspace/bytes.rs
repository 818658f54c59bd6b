//! `CompactBytes`: the byte string used for keys and string values. 24 bytes on the stack:
//! up to 22 bytes are stored inline (most keys and many values need no allocation at all),
//! longer ones in an exact-size box, and strings that are being appended to in a growable
//! vector, so APPEND loops stay amortized O(1) as with Redis's sds.

use std::fmt;

/// Longest string stored inline.
pub const INLINE_MAX: usize = 22;

#[derive(Clone)]
pub enum CompactBytes {
    Inline { len: u8, data: [u8; INLINE_MAX] },
    Boxed(Box<[u8]>),
    Growable(Box<Vec<u8>>),
}

impl Default for CompactBytes {
    fn default() -> Self {
        CompactBytes::Inline {
            len: 0,
            data: [0; INLINE_MAX],
        }
    }
}

impl CompactBytes {
    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE_MAX {
            let mut data = [0; INLINE_MAX];
            data[..bytes.len()].copy_from_slice(bytes);
            CompactBytes::Inline {
                len: bytes.len() as u8,
                data,
            }
        } else {
            CompactBytes::Boxed(bytes.into())
        }
    }

    /// Takes ownership of a vector without copying when it is too long to inline.
    pub fn from_vec(v: Vec<u8>) -> Self {
        if v.len() <= INLINE_MAX {
            Self::new(&v)
        } else {
            CompactBytes::Boxed(v.into_boxed_slice())
        }
    }

    pub fn from_i64(v: i64) -> Self {
        let mut b = itoa::Buffer::new();
        Self::new(b.format(v).as_bytes())
    }

    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match self {
            CompactBytes::Inline { len, data } => &data[..*len as usize],
            CompactBytes::Boxed(b) => b,
            CompactBytes::Growable(v) => v,
        }
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A mutable vector holding the bytes, converting to the growable form first. For
    /// in-place edits (APPEND, SETRANGE, SETBIT).
    pub fn make_growable(&mut self) -> &mut Vec<u8> {
        if !matches!(self, CompactBytes::Growable(_)) {
            let v = self.as_slice().to_vec();
            *self = CompactBytes::Growable(Box::new(v));
        }
        match self {
            CompactBytes::Growable(v) => v,
            _ => unreachable!("just made growable"),
        }
    }

    /// True if the bytes live in the growable form (Redis would call this "raw").
    pub fn is_growable(&self) -> bool {
        matches!(self, CompactBytes::Growable(_))
    }

    /// Heap bytes owned beyond the 24 inline bytes.
    pub fn heap_bytes(&self) -> usize {
        match self {
            CompactBytes::Inline { .. } => 0,
            CompactBytes::Boxed(b) => b.len(),
            CompactBytes::Growable(v) => v.capacity() + std::mem::size_of::<Vec<u8>>(),
        }
    }
}

impl PartialEq for CompactBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for CompactBytes {}

impl fmt::Debug for CompactBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

impl From<&[u8]> for CompactBytes {
    fn from(b: &[u8]) -> Self {
        Self::new(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_forms() {
        assert_eq!(std::mem::size_of::<CompactBytes>(), 24);
        assert!(matches!(
            CompactBytes::new(b"0123456789012345678901"),
            CompactBytes::Inline { .. }
        ));
        assert!(matches!(
            CompactBytes::new(b"01234567890123456789012"),
            CompactBytes::Boxed(_)
        ));
        let mut s = CompactBytes::new(b"abc");
        s.make_growable().extend_from_slice(b"def");
        assert_eq!(s.as_slice(), b"abcdef");
        assert!(s.is_growable());
    }
}
