//! One quicklist node and the sizing rules that decide how full a node may get.
//!
//! A node holds either a listpack of elements (`packed`) or, for an element at or above the
//! packed threshold, that element's bytes alone (`plain`, as Redis 7.0 stores huge elements).
//! Either may be LZF-compressed while it is an inner node under `list-compress-depth`; the
//! quicklist decides when, the node only knows how.

use std::borrow::Cow;

use crate::types::listpack::{self, Entry, Lp};
use crate::util::lzf;

/// Largest multi-element node when nodes are limited by element count: above this a node
/// takes no more elements even if the count allows (Redis's safety limit).
const SAFETY_LIMIT_BYTES: usize = 8192;
/// Over-estimate of what an entry adds to a listpack beyond its value's bytes (encoding and
/// backlen): err on the side of a few bytes under the size limit.
pub const ENTRY_OVERHEAD_BYTES: usize = 8;
/// What merging two listpacks saves: one header and terminator (Redis counts 11).
const MERGE_SAVING_BYTES: usize = 11;
/// Nodes smaller than this are never compressed.
const COMPRESS_MIN_BYTES: usize = 48;
/// Compression must save at least this much to be kept.
const COMPRESS_GAIN_MIN_BYTES: usize = 8;

/// The `list-max-listpack-size` of a list: positive, the most elements per node (and at most
/// 8 KiB); negative -1..-5, the most bytes per node (4, 8, 16, 32 or 64 KiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill(i32);

impl Fill {
    /// Redis's clamping of the configured value: -5 ..= 32767.
    pub fn new(configured: i64) -> Fill {
        Fill(configured.clamp(-5, 32767) as i32)
    }

    pub fn get(self) -> i32 {
        self.0
    }

    fn size_limit_bytes(self) -> Option<usize> {
        (self.0 < 0).then(|| 4096usize << (-self.0 - 1))
    }

    /// True if a node of `bytes` bytes holding `count` elements is within the limit.
    pub fn allows(self, bytes: usize, count: usize) -> bool {
        match self.size_limit_bytes() {
            Some(limit) => bytes <= limit,
            None => bytes <= SAFETY_LIMIT_BYTES && count <= self.0 as usize,
        }
    }
}

#[derive(Debug, Clone)]
enum Data {
    /// A listpack, its capacity always [`size_class`] of its length (see there).
    Packed(Vec<u8>),
    Plain(Box<[u8]>),
    /// LZF-compressed contents (a listpack, or a plain element's bytes).
    Lzf {
        bytes: Box<[u8]>,
        raw_len: usize,
    },
}

/// A quicklist node.
#[derive(Debug, Clone)]
pub struct Node {
    data: Data,
    /// Elements held (1 for a plain node).
    count: u32,
    plain: bool,
    /// Compression was tried on the current contents and did not pay: don't retry until
    /// they change.
    incompressible: bool,
}

/// A node's contents, decompressed if need be.
pub struct NodeView<'a> {
    pub bytes: Cow<'a, [u8]>,
    pub plain: bool,
}

impl NodeView<'_> {
    /// Calls `f` on the elements from `offset`, forwards or backwards, until it breaks.
    /// Returns true if it broke.
    pub fn walk(&self, offset: usize, reverse: bool, f: &mut dyn FnMut(Entry<'_>) -> bool) -> bool {
        if self.plain {
            return offset == 0 && f(Entry::Str(&self.bytes));
        }
        let lp = Lp(&self.bytes);
        let mut p = seek(lp, offset);
        while let Some(at) = p {
            if f(lp.get(at)) {
                return true;
            }
            p = if reverse { lp.prev(at) } else { lp.next(at) };
        }
        false
    }
}

/// The offset of entry `index` in a listpack, walking from the nearer end.
pub fn seek(lp: Lp<'_>, index: usize) -> Option<usize> {
    let len = lp.len();
    if index >= len {
        None
    } else if index <= len / 2 {
        lp.seek(index as i64)
    } else {
        lp.seek(index as i64 - len as i64)
    }
}

impl Node {
    /// A packed node holding one element.
    pub fn packed_with(value: &[u8]) -> Node {
        Node::from_listpack(listpack::from_values([value]), 1)
    }

    /// A packed node over a complete listpack of `count` elements.
    pub fn from_listpack(bytes: Vec<u8>, count: usize) -> Node {
        Node {
            data: Data::Packed(with_class_capacity(bytes)),
            count: count as u32,
            plain: false,
            incompressible: false,
        }
    }

    pub fn plain_with(value: Vec<u8>) -> Node {
        Node {
            data: Data::Plain(value.into_boxed_slice()),
            count: 1,
            plain: true,
            incompressible: false,
        }
    }

    pub fn count(&self) -> usize {
        self.count as usize
    }

    pub fn is_plain(&self) -> bool {
        self.plain
    }

    pub fn is_compressed(&self) -> bool {
        matches!(self.data, Data::Lzf { .. })
    }

    /// Size of the contents uncompressed (listpack bytes, or the plain element's length).
    pub fn raw_len(&self) -> usize {
        match &self.data {
            Data::Packed(lp) => lp.len(),
            Data::Plain(b) => b.len(),
            Data::Lzf { raw_len, .. } => *raw_len,
        }
    }

    /// Heap bytes held by the node's contents.
    pub fn heap_bytes(&self) -> usize {
        match &self.data {
            Data::Packed(lp) => lp.capacity(),
            Data::Plain(b) | Data::Lzf { bytes: b, .. } => b.len(),
        }
    }

    /// The compressed bytes and the uncompressed size, if compressed (for RDB, which stores
    /// such nodes as they are).
    pub fn lzf(&self) -> Option<(&[u8], usize)> {
        match &self.data {
            Data::Lzf { bytes, raw_len } => Some((bytes, *raw_len)),
            _ => None,
        }
    }

    pub fn view(&self) -> NodeView<'_> {
        let bytes = match &self.data {
            Data::Packed(lp) => Cow::Borrowed(&lp[..]),
            Data::Plain(b) => Cow::Borrowed(&b[..]),
            Data::Lzf { bytes, raw_len } => Cow::Owned(
                lzf::decompress(bytes, *raw_len).expect("a node decompresses to what it held"),
            ),
        };
        NodeView {
            bytes,
            plain: self.plain,
        }
    }

    /// True if one more element of `value_len` bytes may go into this node.
    pub fn allows_insert(&self, fill: Fill, value_len: usize) -> bool {
        !self.plain
            && fill.allows(
                self.raw_len() + value_len + ENTRY_OVERHEAD_BYTES,
                self.count() + 1,
            )
    }

    /// True if `a` followed by `b` may become one node.
    pub fn allows_merge(a: &Node, b: &Node, fill: Fill) -> bool {
        !a.plain
            && !b.plain
            && fill.allows(
                (a.raw_len() + b.raw_len()).saturating_sub(MERGE_SAVING_BYTES),
                a.count() + b.count(),
            )
    }

    // ---- Editing ------------------------------------------------------------------------

    /// Edits the listpack of a packed node (decompressing it first), keeping the count in
    /// step. `f` returns how many elements it added (negative: removed).
    pub fn edit<R>(&mut self, f: impl FnOnce(&mut Vec<u8>) -> (isize, R)) -> R {
        assert!(!self.plain, "plain nodes are replaced, not edited");
        self.decompress();
        let Data::Packed(lp) = &mut self.data else {
            unreachable!("decompressed above")
        };
        let (delta, r) = f(lp);
        fit_capacity(lp);
        self.count = (self.count as isize + delta) as u32;
        self.incompressible = false;
        r
    }

    pub fn push(&mut self, at_head: bool, value: &[u8]) {
        self.edit(|v| {
            reserve_entry(v, value);
            if at_head {
                listpack::push_front(v, value);
            } else {
                listpack::push_back(v, value);
            }
            (1, ())
        });
    }

    /// Inserts `value` so that it becomes element `offset` (`count` appends).
    pub fn insert(&mut self, offset: usize, value: &[u8]) {
        self.edit(|v| {
            reserve_entry(v, value);
            let p = seek(Lp(v), offset).unwrap_or(v.len() - 1);
            listpack::insert_at(v, p, value);
            (1, ())
        });
    }

    /// Replaces element `offset` with `value` if the node stays within `fill` (a node of one
    /// element always may). Returns false, changing nothing, if not.
    pub fn try_replace(&mut self, offset: usize, value: &[u8], fill: Fill) -> bool {
        let count = self.count();
        self.edit(|v| {
            let p = seek(Lp(v), offset).expect("offset within the node");
            let old_len = Lp(v).entry_size(p);
            let new_bytes = v.len() - old_len + value.len() + ENTRY_OVERHEAD_BYTES;
            if count > 1 && !fill.allows(new_bytes, count) {
                return (0, false);
            }
            reserve_entry(v, value);
            listpack::replace(v, p, value);
            (0, true)
        })
    }

    /// Deletes the elements at `offsets` (distinct, in any order).
    pub fn delete_offsets(&mut self, offsets: &[usize]) {
        if self.plain {
            self.count = 0;
            return;
        }
        let mut sorted = offsets.to_vec();
        // From the back, so the offsets still to delete stay valid.
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        self.edit(|v| {
            for &offset in &sorted {
                let p = seek(Lp(v), offset).expect("offset within the node");
                listpack::delete(v, p, 1);
            }
            (-(sorted.len() as isize), ())
        });
    }

    /// Removes and returns the first or last element. The node must not be empty.
    pub fn pop(&mut self, at_head: bool) -> Vec<u8> {
        if self.plain {
            self.count = 0;
            return self.take_plain();
        }
        self.edit(|v| {
            let lp = Lp(v);
            let p = if at_head { lp.first() } else { lp.last() };
            let p = p.expect("a node is never empty");
            let value = lp.get(p).to_vec();
            listpack::delete(v, p, 1);
            (-1, value)
        })
    }

    /// Takes the element of a plain node, leaving it empty.
    pub fn take_plain(&mut self) -> Vec<u8> {
        self.decompress();
        match std::mem::replace(&mut self.data, Data::Plain(Box::default())) {
            Data::Plain(b) => b.into_vec(),
            _ => unreachable!("plain nodes hold plain data"),
        }
    }

    /// Deletes `n` elements from `offset`.
    pub fn delete(&mut self, offset: usize, n: usize) {
        if self.plain {
            self.count = 0;
            return;
        }
        self.edit(|v| {
            let p = seek(Lp(v), offset).expect("offset within the node");
            listpack::delete(v, p, n);
            (-(n as isize), ())
        });
    }

    /// Replaces the plain element with `value`.
    pub fn set_plain(&mut self, value: Vec<u8>) {
        assert!(self.plain);
        self.data = Data::Plain(value.into_boxed_slice());
        self.incompressible = false;
    }

    /// Splits a packed node: the elements from `offset` on move to the returned node.
    pub fn split_off(&mut self, offset: usize) -> Node {
        let tail = self.edit(|v| {
            let lp = Lp(v);
            let moved = lp.len() - offset;
            let p = seek(lp, offset).unwrap_or(v.len() - 1);
            let tail = listpack::from_raw_entries(&v[p..v.len() - 1], moved);
            listpack::delete(v, p, moved);
            (-(moved as isize), (tail, moved))
        });
        Node::from_listpack(tail.0, tail.1)
    }

    /// Appends the elements of `other` (a packed node) to this packed node.
    pub fn absorb(&mut self, other: Node) {
        let other_view = other.view();
        let other_lp = Lp(&other_view.bytes);
        let n = other.count();
        let entries = &other_lp.bytes()[listpack::HEADER_LEN..other_lp.total_bytes() - 1];
        self.edit(|v| {
            reserve_class(v, entries.len());
            listpack::append_raw_entries(v, entries, n);
            (n as isize, ())
        });
    }

    // ---- Compression ---------------------------------------------------------------------

    /// Compresses the contents if that pays (and was not already found not to).
    pub fn compress(&mut self) {
        if self.incompressible || self.is_compressed() {
            return;
        }
        let raw: &[u8] = match &self.data {
            Data::Packed(lp) => &lp[..],
            Data::Plain(b) => b,
            Data::Lzf { .. } => return,
        };
        if raw.len() < COMPRESS_MIN_BYTES {
            self.incompressible = true;
            return;
        }
        match lzf::compress(raw, raw.len() - COMPRESS_GAIN_MIN_BYTES) {
            Some(bytes) => {
                let raw_len = raw.len();
                self.data = Data::Lzf {
                    bytes: bytes.into_boxed_slice(),
                    raw_len,
                };
            }
            None => self.incompressible = true,
        }
    }

    /// Forgets that compression did not pay (tests check it really doesn't).
    #[cfg(test)]
    pub fn incompressible_reset(&mut self) {
        self.incompressible = false;
    }

    pub fn decompress(&mut self) {
        if let Data::Lzf { bytes, raw_len } = &self.data {
            let raw =
                lzf::decompress(bytes, *raw_len).expect("a node decompresses to what it held");
            self.data = if self.plain {
                Data::Plain(raw.into_boxed_slice())
            } else {
                Data::Packed(with_class_capacity(raw))
            };
            // It compressed before, and will again.
            self.incompressible = false;
        }
    }
}

/// The allocation size class of `len` bytes: jemalloc's small and large classes (16-byte
/// steps to 128, then four classes per power of two), where an allocation costs the same
/// whatever its size within the class.
///
/// A packed node keeps its buffer's capacity at the class of its length, as Redis keeps a
/// listpack in whatever its allocation can hold: a push reallocates only when it crosses
/// into the next class. Reallocating on every push (even in place) made the allocator's
/// thread cache flush the regions nodes grow through, leaving dirty pages behind that cost
/// more than a byte per element.
pub(super) fn size_class(len: usize) -> usize {
    if len <= 16 {
        return 16;
    }
    if len <= 128 {
        return (len + 15) & !15;
    }
    let lg = usize::BITS - 1 - (len - 1).leading_zeros();
    let step = 1usize << (lg - 2);
    (len + step - 1) & !(step - 1)
}

/// Makes room for `extra` more bytes, in whole size classes.
fn reserve_class(v: &mut Vec<u8>, extra: usize) {
    let needed = v.len() + extra;
    if needed > v.capacity() {
        v.reserve_exact(size_class(needed) - v.len());
    }
}

/// Brings the capacity back to the class of the length (after growth or deletions).
fn fit_capacity(v: &mut Vec<u8>) {
    let class = size_class(v.len());
    if v.capacity() > class {
        v.shrink_to(class);
    } else if v.capacity() < class {
        v.reserve_exact(class - v.len());
    }
}

fn with_class_capacity(mut v: Vec<u8>) -> Vec<u8> {
    fit_capacity(&mut v);
    v
}

/// Makes room for one more entry holding `value`.
fn reserve_entry(v: &mut Vec<u8>, value: &[u8]) {
    reserve_class(v, value.len() + ENTRY_OVERHEAD_BYTES);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_are_jemallocs() {
        let classes: Vec<usize> = [
            1, 16, 17, 100, 128, 129, 160, 161, 4096, 4097, 5121, 8000, 8193, 70_000,
        ]
        .iter()
        .map(|&n| size_class(n))
        .collect();
        assert_eq!(
            classes,
            [16, 16, 32, 112, 128, 160, 160, 192, 4096, 5120, 6144, 8192, 10240, 81920]
        );
    }

    #[test]
    fn pushes_reallocate_only_across_classes() {
        let mut node = Node::packed_with(b"first");
        let mut capacity_changes = 0;
        let mut capacity = node.heap_bytes();
        for i in 0..600 {
            node.push(i % 2 == 0, format!("item{i}").as_bytes());
            assert_eq!(node.heap_bytes(), size_class(node.raw_len()));
            capacity_changes += usize::from(node.heap_bytes() != capacity);
            capacity = node.heap_bytes();
        }
        // 7 KiB through the classes from 16 bytes up: about 30 of them, not 600.
        assert!(capacity_changes <= 40, "{capacity_changes} reallocations");
        node.delete(0, 590);
        assert_eq!(node.heap_bytes(), size_class(node.raw_len()));
    }
}
