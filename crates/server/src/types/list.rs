//! Lists: Redis 7.0's quicklist, a sequence of listpack nodes.
//!
//! Each node ([`Node`]) holds a listpack of up to `list-max-listpack-size` elements (positive)
//! or bytes (negative: -1 = 4 KiB ... -5 = 64 KiB); an element of at least the packed
//! threshold (1 GiB, `DEBUG QUICKLIST-PACKED-THRESHOLD`) gets a plain node of its own. A push
//! goes into the end node if that node allows it, else into a new node, exactly by Redis's
//! rules, so a list built by pushes has Redis's node layout; LINSERT and LSET follow Redis's
//! choice between the node, its neighbour, a new node and a split.
//!
//! Unlike Redis 7.0, deletions in the middle (LREM, ranges) merge neighbours that fit in one
//! node again, so a list thinned out in the middle does not stay fragmented into tiny nodes;
//! and LSET of an element that would overfill its node inserts the new element by the
//! insertion rules and deletes the old one, where Redis 7.0 lets the node grow without bound.
//!
//! With `list-compress-depth` d > 0, every node but the d first and d last is kept
//! LZF-compressed when that saves at least 8 bytes. Invariant: after every operation, exactly
//! the inner nodes are compressed (or known not to compress). End nodes are never compressed,
//! so pushes and pops never decompress anything.
//!
//! Lists keep the fill and depth they were created with, as in Redis.

mod node;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use node::{Fill, Node, NodeView};

use super::listpack::{self, Entry};

/// Elements of at least this many bytes get a plain node of their own.
static PACKED_THRESHOLD_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_PACKED_THRESHOLD_BYTES);
const DEFAULT_PACKED_THRESHOLD_BYTES: usize = 1 << 30;
/// Largest packed threshold: listpacks must stay safely under 4 GiB.
const PACKED_THRESHOLD_MAX_BYTES: u64 = (1 << 32) - (1 << 20);
/// Redis's largest compress depth.
const DEPTH_MAX: i64 = 65535;

/// Sets the packed threshold for every list (`DEBUG QUICKLIST-PACKED-THRESHOLD`); 0 restores
/// the default. Returns false, changing nothing, if `bytes` is too large.
pub fn set_packed_threshold(bytes: u64) -> bool {
    if bytes > PACKED_THRESHOLD_MAX_BYTES {
        return false;
    }
    let bytes = if bytes == 0 {
        DEFAULT_PACKED_THRESHOLD_BYTES
    } else {
        bytes as usize
    };
    PACKED_THRESHOLD_BYTES.store(bytes, Ordering::Relaxed);
    true
}

#[cfg(test)]
thread_local! {
    /// A per-thread packed threshold, so tests of plain nodes don't disturb parallel tests.
    static TEST_PACKED_THRESHOLD: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

fn is_large(value_len: usize) -> bool {
    #[cfg(test)]
    if let Some(t) = TEST_PACKED_THRESHOLD.with(|c| c.get()) {
        return value_len >= t;
    }
    value_len >= PACKED_THRESHOLD_BYTES.load(Ordering::Relaxed)
}

/// An end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

/// A list.
#[derive(Debug, Clone)]
pub struct QuickList {
    nodes: VecDeque<Node>,
    /// Elements over all nodes.
    len: usize,
    fill: Fill,
    /// Nodes at each end kept uncompressed (0: no compression).
    depth: u16,
}

impl Default for QuickList {
    fn default() -> Self {
        QuickList::new(-2, 0)
    }
}

/// An element to look for, with its integer form worked out once (listpack integers equal
/// the strings that encode to them).
struct Needle<'a> {
    bytes: &'a [u8],
    int: Option<i64>,
}

impl<'a> Needle<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Needle {
            bytes,
            int: listpack::string_to_i64(bytes),
        }
    }

    fn matches(&self, e: Entry<'_>) -> bool {
        match e {
            Entry::Str(s) => s == self.bytes,
            Entry::Int(i) => self.int == Some(i),
        }
    }
}

impl QuickList {
    /// An empty list with the given `list-max-listpack-size` and `list-compress-depth`.
    pub fn new(fill: i64, compress_depth: i64) -> Self {
        QuickList {
            nodes: VecDeque::new(),
            len: 0,
            fill: Fill::new(fill),
            depth: compress_depth.clamp(0, DEPTH_MAX) as u16,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// OBJECT ENCODING: always `quicklist` in Redis 7.0.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    pub fn fill(&self) -> i32 {
        self.fill.get()
    }

    pub fn compress_depth(&self) -> usize {
        self.depth as usize
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The nodes, head to tail (RDB, DEBUG).
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter()
    }

    pub fn heap_bytes(&self) -> usize {
        let nodes: usize = self.nodes.iter().map(Node::heap_bytes).sum();
        nodes + self.nodes.capacity() * std::mem::size_of::<Node>() + std::mem::size_of::<Self>()
    }

    // ---- Reading -----------------------------------------------------------------------

    /// The position of `index` (negative counts from the tail), if within the list.
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let i = if index < 0 {
            (self.len as i64).checked_add(index)?
        } else {
            index
        };
        (0..self.len as i64).contains(&i).then_some(i as usize)
    }

    /// The node holding element `index` (< len) and the element's offset in it, walking from
    /// the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        assert!(index < self.len, "index within the list");
        if index < self.len / 2 {
            let mut first = 0;
            for (pos, node) in self.nodes.iter().enumerate() {
                if index < first + node.count() {
                    return (pos, index - first);
                }
                first += node.count();
            }
        } else {
            let mut first = self.len;
            for (pos, node) in self.nodes.iter().enumerate().rev() {
                first -= node.count();
                if index >= first {
                    return (pos, index - first);
                }
            }
        }
        unreachable!("node counts add up to the list length")
    }

    /// Calls `f` on the elements from `start` towards the tail (towards the head if
    /// `reverse`) until `f` returns true or the list ends.
    pub fn visit(&self, start: usize, reverse: bool, mut f: impl FnMut(Entry<'_>) -> bool) {
        if start >= self.len {
            return;
        }
        let (mut pos, mut offset) = self.locate(start);
        loop {
            if self.nodes[pos].view().walk(offset, reverse, &mut f) {
                return;
            }
            if reverse {
                if pos == 0 {
                    return;
                }
                pos -= 1;
                offset = self.nodes[pos].count() - 1;
            } else {
                pos += 1;
                if pos == self.nodes.len() {
                    return;
                }
                offset = 0;
            }
        }
    }

    /// A copy of element `index`.
    pub fn get(&self, index: usize) -> Option<Vec<u8>> {
        let mut out = None;
        self.visit(index, false, |e| {
            out = Some(e.to_vec());
            true
        });
        out
    }

    /// Every element, head to tail.
    pub fn to_vec(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len);
        self.visit(0, false, |e| {
            out.push(e.to_vec());
            false
        });
        out
    }

    /// Calls `f` with each element, head to tail, integers in decimal (digests, RDB, DEBUG).
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        let mut buf = itoa::Buffer::new();
        self.visit(0, false, |e| {
            f(e.as_bytes(&mut buf));
            false
        });
    }

    /// The nodes' total size uncompressed (DEBUG OBJECT's `ql_uncompressed_size`).
    pub fn raw_bytes(&self) -> usize {
        self.nodes.iter().map(Node::raw_len).sum()
    }

    /// The index of the first element equal to `value`.
    pub fn position(&self, value: &[u8]) -> Option<usize> {
        let needle = Needle::new(value);
        let (mut index, mut found) = (0, false);
        self.visit(0, false, |e| {
            found = needle.matches(e);
            index += usize::from(!found);
            found
        });
        found.then_some(index)
    }

    /// Calls `f(index)` for each element equal to `value`, scanning from the head (or the tail
    /// if `from_tail`) over at most `scan_max` elements, until `f` returns true.
    pub fn find_each(
        &self,
        value: &[u8],
        from_tail: bool,
        scan_max: usize,
        mut f: impl FnMut(usize) -> bool,
    ) {
        if self.len == 0 {
            return;
        }
        let needle = Needle::new(value);
        let start = if from_tail { self.len - 1 } else { 0 };
        let mut scanned = 0;
        self.visit(start, from_tail, |e| {
            if scanned == scan_max {
                return true;
            }
            let index = if from_tail { start - scanned } else { scanned };
            scanned += 1;
            needle.matches(e) && f(index)
        });
    }

    // ---- Pushing and popping -------------------------------------------------------------

    pub fn push(&mut self, end: End, value: &[u8]) {
        self.len += 1;
        let at = match end {
            End::Head => 0,
            End::Tail => self.nodes.len(),
        };
        if is_large(value.len()) {
            self.insert_node(at, Node::plain_with(value.to_vec()));
            return;
        }
        let fill = self.fill;
        let end_node = match end {
            End::Head => self.nodes.front_mut(),
            End::Tail => self.nodes.back_mut(),
        };
        match end_node {
            Some(node) if node.allows_insert(fill, value.len()) => {
                node.push(end == End::Head, value)
            }
            _ => self.insert_node(at, Node::packed_with(value)),
        }
    }

    pub fn push_back(&mut self, value: &[u8]) {
        self.push(End::Tail, value)
    }

    pub fn push_front(&mut self, value: &[u8]) {
        self.push(End::Head, value)
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let pos = match end {
            End::Head => 0,
            End::Tail => self.nodes.len().checked_sub(1)?,
        };
        let node = self.nodes.get_mut(pos)?;
        let value = node.pop(end == End::Head);
        self.len -= 1;
        if node.count() == 0 {
            self.nodes.remove(pos);
            self.settle_ends();
        }
        Some(value)
    }

    // ---- Editing in the middle -----------------------------------------------------------

    /// Inserts `value` before (or `after`) the element at `index` (< len).
    pub fn insert(&mut self, index: usize, after: bool, value: &[u8]) {
        let (pos, offset) = self.locate(index);
        self.len += 1;
        let count = self.nodes[pos].count();
        let at_edge = if after {
            offset + 1 == count
        } else {
            offset == 0
        };
        if is_large(value.len()) {
            return self.insert_plain(pos, offset, after, at_edge, value);
        }
        let fill = self.fill;
        let neighbour = if after {
            Some(pos + 1)
        } else {
            pos.checked_sub(1)
        };
        let neighbour_has_room = |nodes: &VecDeque<Node>| {
            neighbour
                .and_then(|n| nodes.get(n))
                .is_some_and(|n| n.allows_insert(fill, value.len()))
        };
        if self.nodes[pos].allows_insert(fill, value.len()) {
            self.nodes[pos].insert(offset + usize::from(after), value);
            self.settle(pos);
        } else if at_edge && neighbour_has_room(&self.nodes) {
            // The node is full but the element goes at its edge: the neighbour's near end.
            let n = neighbour.expect("checked above");
            self.nodes[n].push(after, value);
            self.settle(n);
        } else if at_edge {
            self.insert_node(pos + usize::from(after), Node::packed_with(value));
        } else {
            self.insert_by_split(pos, offset, after, value);
        }
    }

    /// Inserts into a full node by splitting it around the insertion point, then merges what
    /// can be merged around it.
    fn insert_by_split(&mut self, pos: usize, offset: usize, after: bool, value: &[u8]) {
        if after {
            // The node keeps ..=offset; the rest goes to a new node, behind the value.
            let mut rest = self.nodes[pos].split_off(offset + 1);
            rest.push(true, value);
            self.insert_node(pos + 1, rest);
        } else {
            // The node keeps ..offset followed by the value; the rest goes to a new node.
            let rest = self.nodes[pos].split_off(offset);
            self.nodes[pos].push(false, value);
            self.insert_node(pos + 1, rest);
        }
        self.tidy(pos.saturating_sub(2), pos + 3);
    }

    /// Inserts an element that needs a plain node.
    fn insert_plain(
        &mut self,
        pos: usize,
        offset: usize,
        after: bool,
        at_edge: bool,
        value: &[u8],
    ) {
        let plain = Node::plain_with(value.to_vec());
        if self.nodes[pos].is_plain() || at_edge {
            self.insert_node(pos + usize::from(after), plain);
            return;
        }
        let rest = self.nodes[pos].split_off(offset + usize::from(after));
        self.settle(pos);
        self.insert_node(pos + 1, plain);
        self.insert_node(pos + 2, rest);
    }

    /// Replaces the element at `index` (< len) with `value`.
    pub fn replace(&mut self, index: usize, value: &[u8]) {
        let (pos, offset) = self.locate(index);
        let large = is_large(value.len());
        let node = &mut self.nodes[pos];
        if node.is_plain() && large {
            node.set_plain(value.to_vec());
            self.settle(pos);
            return;
        }
        if !node.is_plain() && !large {
            let done = node.try_replace(offset, value, self.fill);
            self.settle(pos);
            if done {
                return;
            }
        }
        // The element changes container, or no longer fits its node: add the new one after
        // it, by the insertion rules, and delete the old one.
        self.insert(index, true, value);
        self.delete_range(index, 1);
    }

    /// Deletes `count` elements from `start` (fewer if the list ends first).
    pub fn delete_range(&mut self, start: usize, count: usize) {
        let count = count.min(self.len.saturating_sub(start));
        if count == 0 {
            return;
        }
        let (mut pos, offset) = self.locate(start);
        self.len -= count;
        let mut left = count;
        let first = pos;
        let node_count = self.nodes[pos].count();
        if offset > 0 || left < node_count {
            let n = left.min(node_count - offset);
            self.nodes[pos].delete(offset, n);
            left -= n;
            pos += 1;
        }
        let mut end = pos;
        while left > 0 && left >= self.nodes[end].count() {
            left -= self.nodes[end].count();
            end += 1;
        }
        self.nodes.drain(pos..end);
        if left > 0 {
            self.nodes[pos].delete(0, left);
        }
        self.tidy(first.saturating_sub(1), pos + 1);
    }

    /// Removes up to `limit` elements equal to `value` (all if `limit` is 0), scanning from
    /// the head, or from the tail if `from_tail`. Returns how many were removed.
    pub fn remove_matching(&mut self, value: &[u8], limit: usize, from_tail: bool) -> usize {
        let needle = Needle::new(value);
        let limit = if limit == 0 { usize::MAX } else { limit };
        let mut removed = 0;
        let mut touched: Option<(usize, usize)> = None;
        let mut pos = if from_tail { self.nodes.len() } else { 0 };
        while removed < limit {
            if from_tail {
                if pos == 0 {
                    break;
                }
                pos -= 1;
            } else if pos >= self.nodes.len() {
                break;
            }
            let offsets = matching_offsets(&self.nodes[pos], &needle, from_tail, limit - removed);
            if !offsets.is_empty() {
                removed += offsets.len();
                self.nodes[pos].delete_offsets(&offsets);
                let (lo, hi) = touched.get_or_insert((pos, pos));
                *lo = (*lo).min(pos);
                *hi = (*hi).max(pos);
                if self.nodes[pos].count() == 0 {
                    self.nodes.remove(pos);
                    if from_tail {
                        // The nodes already scanned moved down by one.
                        *hi = hi.saturating_sub(1);
                    }
                    continue;
                }
            }
            if !from_tail {
                pos += 1;
            }
        }
        self.len -= removed;
        if let Some((lo, hi)) = touched {
            self.tidy(lo.saturating_sub(1), hi + 1);
        }
        removed
    }

    // ---- Node structure and compression ---------------------------------------------------

    /// Inserts a node at `pos` and restores the compression invariant.
    fn insert_node(&mut self, pos: usize, node: Node) {
        self.nodes.insert(pos, node);
        // One node more shifts at most one node across each compression boundary.
        self.settle_ends();
        self.settle(pos);
    }

    /// After nodes in `lo..=hi` shrank or split: merges neighbours there that fit in one
    /// node, and restores the compression invariant.
    fn tidy(&mut self, lo: usize, hi: usize) {
        let hi = self.compact(lo, hi);
        self.settle_ends();
        let last = self.nodes.len().saturating_sub(1);
        for pos in lo.min(last)..=hi.min(last) {
            self.settle(pos);
        }
    }

    /// Merges adjacent nodes in `lo..=hi` wherever the fill allows. Returns where `hi` is
    /// now.
    fn compact(&mut self, lo: usize, mut hi: usize) -> usize {
        let mut pos = lo;
        while pos < hi && pos + 1 < self.nodes.len() {
            if Node::allows_merge(&self.nodes[pos], &self.nodes[pos + 1], self.fill) {
                let next = self.nodes.remove(pos + 1).expect("checked above");
                self.nodes[pos].absorb(next);
                hi -= 1;
            } else {
                pos += 1;
            }
        }
        hi
    }

    /// True if the node at `pos` is an inner node under the compress depth.
    fn is_inner(&self, pos: usize) -> bool {
        let d = self.depth as usize;
        d > 0 && pos >= d && pos + d < self.nodes.len()
    }

    /// Compresses or decompresses the node at `pos` as its place requires.
    fn settle(&mut self, pos: usize) {
        if self.depth == 0 {
            return;
        }
        let inner = self.is_inner(pos);
        if let Some(node) = self.nodes.get_mut(pos) {
            if inner {
                node.compress();
            } else {
                node.decompress();
            }
        }
    }

    /// Restores the invariant at both ends after nodes were added or removed: the `depth`
    /// nodes at each end uncompressed, the next one in compressed. Adding or removing one
    /// node moves at most one node across each boundary; removing several at once can move
    /// up to `depth`, all within this window.
    fn settle_ends(&mut self) {
        let d = self.depth as usize;
        if d == 0 {
            return;
        }
        let n = self.nodes.len();
        let reach = (d + 1).min(n);
        for pos in (0..reach).chain(n - reach..n) {
            self.settle(pos);
        }
    }

    // ---- Loading -------------------------------------------------------------------------

    /// Appends a node made from a complete, validated listpack (RDB loading). Empty
    /// listpacks are skipped.
    pub fn append_listpack(&mut self, bytes: Vec<u8>) {
        let count = listpack::Lp(&bytes).len();
        if count == 0 {
            return;
        }
        self.len += count;
        let at = self.nodes.len();
        self.insert_node(at, Node::from_listpack(bytes, count));
    }

    /// Appends a plain node holding one element (RDB loading).
    pub fn append_plain(&mut self, value: Vec<u8>) {
        self.len += 1;
        let at = self.nodes.len();
        self.insert_node(at, Node::plain_with(value));
    }
}

/// The offsets in `node` of up to `limit` elements matching `needle`, in scan order.
fn matching_offsets(node: &Node, needle: &Needle<'_>, from_tail: bool, limit: usize) -> Vec<usize> {
    let mut found = Vec::new();
    let count = node.count();
    let mut scanned = 0;
    let start = if from_tail { count - 1 } else { 0 };
    node.view().walk(start, from_tail, &mut |e| {
        let offset = if from_tail { start - scanned } else { scanned };
        scanned += 1;
        if needle.matches(e) {
            found.push(offset);
        }
        found.len() == limit
    });
    found
}
