//! `ThinBytes`: an owned heap byte buffer behind a single 8-byte pointer, for the compact
//! encodings whose header records their own size (listpacks, intsets). Keeping the pointer
//! thin is what lets a hash, set or sorted set in compact form sit directly in a key's 24-byte
//! value slot, with no extra box per key.
//!
//! Invariant: the allocation is exactly `H::total_len(bytes)` long, and the header always
//! says so. Edits go through [`ThinBytes::edit`], which hands out the buffer as a `Vec<u8>`
//! and checks the invariant when it comes back.

use std::marker::PhantomData;
use std::ptr::NonNull;

/// How a format records its total size in its first bytes.
pub trait SizeHeader {
    /// Bytes needed to read the size.
    const HEADER_LEN: usize;
    /// The total size the header records.
    fn total_len(header: &[u8]) -> usize;
    /// The smallest valid buffer (an empty one).
    fn empty() -> Vec<u8>;
}

pub struct ThinBytes<H: SizeHeader> {
    ptr: NonNull<u8>,
    _format: PhantomData<H>,
}

// SAFETY: ThinBytes owns its buffer exclusively, like a Box<[u8]>.
unsafe impl<H: SizeHeader> Send for ThinBytes<H> {}
// SAFETY: shared access only reads.
unsafe impl<H: SizeHeader> Sync for ThinBytes<H> {}

impl<H: SizeHeader> ThinBytes<H> {
    /// Takes ownership of `bytes`, which must be a complete buffer of the format.
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        assert!(
            bytes.len() >= H::HEADER_LEN && H::total_len(&bytes) == bytes.len(),
            "header size mismatch"
        );
        let boxed: Box<[u8]> = bytes.into_boxed_slice();
        let raw = Box::into_raw(boxed) as *mut u8;
        ThinBytes {
            ptr: NonNull::new(raw).expect("box pointers are non-null"),
            _format: PhantomData,
        }
    }

    pub fn empty() -> Self {
        Self::from_vec(H::empty())
    }

    fn len(&self) -> usize {
        // SAFETY: every buffer holds at least HEADER_LEN bytes (checked in from_vec).
        let header = unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), H::HEADER_LEN) };
        H::total_len(header)
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the allocation is exactly `len()` bytes (the struct's invariant).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len()) }
    }

    /// Gives the buffer back as a vector (no copy).
    pub fn into_vec(self) -> Vec<u8> {
        let len = self.len();
        let ptr = self.ptr.as_ptr();
        std::mem::forget(self);
        // SAFETY: ptr/len are exactly the Box<[u8]> made in from_vec.
        unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) }.into_vec()
    }

    /// Edits the buffer as a vector; `f` must leave a complete, consistent buffer.
    ///
    /// While `f` runs, `self` points at memory the vector owns; a panic there would free it
    /// twice, so the process aborts instead (a broken codec invariant, never client input).
    pub fn edit<R>(&mut self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let len = self.len();
        // SAFETY: ptr/len are exactly the Box<[u8]> made in from_vec; `self` is overwritten
        // below before anyone can observe the stale pointer.
        let mut v =
            unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), len)) }
                .into_vec();
        let guard = AbortOnUnwind;
        let r = f(&mut v);
        let rebuilt = Self::from_vec(v);
        // SAFETY: the old pointer was consumed above; overwrite without dropping it.
        unsafe { std::ptr::write(self as *mut Self, rebuilt) };
        std::mem::forget(guard);
        r
    }

    /// Heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.len()
    }
}

struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        std::process::abort();
    }
}

impl<H: SizeHeader> Drop for ThinBytes<H> {
    fn drop(&mut self) {
        let len = self.len();
        // SAFETY: ptr/len are exactly the Box<[u8]> made in from_vec, dropped once.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), len)) });
    }
}

impl<H: SizeHeader> Clone for ThinBytes<H> {
    fn clone(&self) -> Self {
        Self::from_vec(self.as_slice().to_vec())
    }
}

impl<H: SizeHeader> std::fmt::Debug for ThinBytes<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ThinBytes({} bytes)", self.len())
    }
}
