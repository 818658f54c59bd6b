//! The large sorted-set encoding: a skip list ordered by (score, member) whose links carry
//! spans (how many elements a link jumps over), so finding an element's rank or the element
//! at a rank costs O(log n), plus a member index (a [`Dict`]) for O(1) score lookups, random
//! elements and ZSCAN's resize-proof cursor.
//!
//! Memory: a node is a single allocation holding its score, backward pointer, its links (one
//! per level, 1 + 1/3 on average) and the member bytes themselves; the index stores only a
//! pointer to the node, so a member is stored once.
//!
//! Invariants, checked by [`SkipList::check`] in tests:
//! - level 0 visits every node once in strictly increasing (score, member) order, and
//!   `backward` points at the previous node (null for the first); `tail` is the last node;
//! - at every level, a link's span is the number of level-0 steps it covers, and a link
//!   with no forward node spans the rest of the list;
//! - the index holds exactly the nodes of the list, each under its member.
//!
//! Nothing here recurses: walks are loops, and `Drop` frees the nodes along level 0.

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use super::range::RangeSpec;
use crate::keyspace::dict::{Dict, Keyed};

/// Most levels a node can have (Redis's limit, enough for 2^64 elements at p = 1/4).
pub const MAX_LEVEL: usize = 32;

/// One level of a node: the next node at this level and the distance to it.
#[repr(C)]
struct Link {
    forward: *mut Node,
    span: usize,
}

/// The fixed part of a node. The allocation continues with `height` [`Link`]s, then the
/// member bytes.
#[repr(C)]
struct Node {
    score: f64,
    backward: *mut Node,
    /// Member length << HEIGHT_BITS | height.
    shape: usize,
}

const HEIGHT_BITS: u32 = 6;
const HEIGHT_MASK: usize = (1 << HEIGHT_BITS) - 1;

impl Node {
    fn layout(height: usize, member_len: usize) -> Layout {
        let size = std::mem::size_of::<Node>() + height * std::mem::size_of::<Link>() + member_len;
        Layout::from_size_align(size, std::mem::align_of::<Node>()).expect("node size fits")
    }

    /// Allocates a node with `height` unlinked levels.
    fn create(height: usize, score: f64, member: &[u8]) -> *mut Node {
        assert!((1..=MAX_LEVEL).contains(&height));
        let layout = Self::layout(height, member.len());
        // SAFETY: the layout has a non-zero size (the fixed part alone is 24 bytes).
        let node = unsafe { alloc::alloc(layout) } as *mut Node;
        if node.is_null() {
            alloc::handle_alloc_error(layout);
        }
        // SAFETY: `node` is a fresh allocation of `layout`, which has room for the fixed part,
        // `height` links and the member, all suitably aligned (links follow a 24-byte,
        // 8-aligned header; the member bytes need no alignment).
        unsafe {
            node.write(Node {
                score,
                backward: ptr::null_mut(),
                shape: member.len() << HEIGHT_BITS | height,
            });
            for i in 0..height {
                Self::link(node, i).write(Link {
                    forward: ptr::null_mut(),
                    span: 0,
                });
            }
            ptr::copy_nonoverlapping(member.as_ptr(), Self::member_ptr(node), member.len());
        }
        node
    }

    /// Frees a node made by [`Node::create`].
    ///
    /// # Safety
    /// `node` is live and nothing uses it afterwards.
    unsafe fn destroy(node: *mut Node) {
        let layout = Self::layout(Self::height(node), Self::member_len(node));
        alloc::dealloc(node as *mut u8, layout);
    }

    /// # Safety
    /// `node` is live.
    unsafe fn height(node: *const Node) -> usize {
        (*node).shape & HEIGHT_MASK
    }

    /// # Safety
    /// `node` is live.
    unsafe fn member_len(node: *const Node) -> usize {
        (*node).shape >> HEIGHT_BITS
    }

    /// Size of the node's allocation.
    ///
    /// # Safety
    /// `node` is live.
    unsafe fn alloc_bytes(node: *const Node) -> usize {
        Self::layout(Self::height(node), Self::member_len(node)).size()
    }

    /// The link at `level`.
    ///
    /// # Safety
    /// `node` is live and `level < height`.
    unsafe fn link(node: *mut Node, level: usize) -> *mut Link {
        (node.add(1) as *mut Link).add(level)
    }

    /// # Safety
    /// `node` is live.
    unsafe fn member_ptr(node: *mut Node) -> *mut u8 {
        Self::link(node, Self::height(node)) as *mut u8
    }

    /// The member bytes, valid as long as the node lives.
    ///
    /// # Safety
    /// `node` is live for `'a`.
    unsafe fn member<'a>(node: *mut Node) -> &'a [u8] {
        std::slice::from_raw_parts(Self::member_ptr(node), Self::member_len(node))
    }

    /// # Safety
    /// `node` is live and `level < height`.
    unsafe fn forward(node: *mut Node, level: usize) -> *mut Node {
        (*Self::link(node, level)).forward
    }

    /// # Safety
    /// `node` is live and `level < height`.
    unsafe fn span(node: *mut Node, level: usize) -> usize {
        (*Self::link(node, level)).span
    }

    /// True if `node` sorts before (score, member).
    ///
    /// # Safety
    /// `node` is live.
    unsafe fn precedes(node: *mut Node, score: f64, member: &[u8]) -> bool {
        let s = (*node).score;
        s < score || (s == score && Self::member(node) < member)
    }
}

/// The index's entry: a pointer to a node of the same list, keyed by the node's member.
pub struct Indexed(NonNull<Node>);

impl Keyed for Indexed {
    fn key(&self) -> &[u8] {
        // SAFETY: index entries only point at live nodes of the list that owns the index.
        unsafe { Node::member(self.0.as_ptr()) }
    }
}

impl Indexed {
    fn node(&self) -> *mut Node {
        self.0.as_ptr()
    }

    fn score(&self) -> f64 {
        // SAFETY: as in `key`.
        unsafe { (*self.node()).score }
    }
}

/// Predecessors of a position at each level.
type Update = [*mut Node; MAX_LEVEL];

pub struct SkipList {
    /// Sentinel with MAX_LEVEL links and no member; not an element.
    head: *mut Node,
    tail: *mut Node,
    len: usize,
    /// Levels in use (at least 1).
    level: usize,
    index: Dict<Indexed>,
    /// Bytes allocated for nodes (the sentinel included).
    node_bytes: usize,
}

// SAFETY: the list owns its nodes exclusively (like a Box), and shared access only reads.
unsafe impl Send for SkipList {}
// SAFETY: as above; `&SkipList` exposes no interior mutability.
unsafe impl Sync for SkipList {}

impl Default for SkipList {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for SkipList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SkipList({} elements, {} levels)", self.len, self.level)
    }
}

/// A level like Redis's: each further level with probability 1/4.
fn random_height() -> usize {
    let mut height = 1;
    while height < MAX_LEVEL && fastrand::u32(..4) == 0 {
        height += 1;
    }
    height
}

impl SkipList {
    pub fn new() -> SkipList {
        let head = Node::create(MAX_LEVEL, 0.0, b"");
        SkipList {
            head,
            tail: ptr::null_mut(),
            len: 0,
            level: 1,
            index: Dict::new(),
            // SAFETY: just created.
            node_bytes: unsafe { Node::alloc_bytes(head) },
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes: nodes, index and the list header.
    pub fn heap_bytes(&self) -> usize {
        self.node_bytes + self.index.overhead_bytes() + std::mem::size_of::<SkipList>()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.index.get(member).map(Indexed::score)
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.index.contains(member)
    }

    /// Adds a member that is not present.
    pub fn insert(&mut self, score: f64, member: &[u8]) {
        debug_assert!(!self.contains(member), "insert of a present member");
        let node = Node::create(random_height(), score, member);
        // SAFETY: `node` is a fresh, unlinked node; the list's links are consistent.
        unsafe {
            self.node_bytes += Node::alloc_bytes(node);
            self.link_in(node);
        }
        self.index
            .insert_new(Indexed(NonNull::new(node).expect("allocated")));
    }

    /// Changes the score of a present member; returns false if it is absent.
    pub fn update_score(&mut self, member: &[u8], score: f64) -> bool {
        let Some(node) = self.index.get(member).map(Indexed::node) else {
            return false;
        };
        // SAFETY: `node` is a live node of this list; it is unlinked and relinked whole.
        unsafe {
            let back = (*node).backward;
            let next = Node::forward(node, 0);
            // Still between its neighbours: no need to move it.
            if (back.is_null() || (*back).score < score)
                && (next.is_null() || (*next).score > score)
            {
                (*node).score = score;
                return true;
            }
            let update = self.predecessors((*node).score, Node::member(node));
            self.unlink(node, &update);
            (*node).score = score;
            self.link_in(node);
        }
        true
    }

    /// Removes a member; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let node = self.index.remove(member)?.node();
        // SAFETY: `node` was in the index, so it is a live node of this list; after
        // unlinking nothing refers to it.
        unsafe {
            let score = (*node).score;
            let update = self.predecessors(score, member);
            debug_assert_eq!(Node::forward(update[0], 0), node);
            self.unlink(node, &update);
            self.node_bytes -= Node::alloc_bytes(node);
            Node::destroy(node);
            Some(score)
        }
    }

    /// The rightmost node at each level that sorts before (score, member).
    ///
    /// # Safety
    /// The list's links are consistent.
    unsafe fn predecessors(&self, score: f64, member: &[u8]) -> Update {
        let mut update = [ptr::null_mut(); MAX_LEVEL];
        let mut x = self.head;
        for i in (0..self.level).rev() {
            loop {
                let f = Node::forward(x, i);
                if f.is_null() || !Node::precedes(f, score, member) {
                    break;
                }
                x = f;
            }
            update[i] = x;
        }
        update
    }

    /// Links an unlinked node in at its (score, member) position.
    ///
    /// # Safety
    /// `node` is live, not linked, and its member is not in the list.
    unsafe fn link_in(&mut self, node: *mut Node) {
        let (score, member) = ((*node).score, Node::member(node));
        let mut update: Update = [ptr::null_mut(); MAX_LEVEL];
        let mut rank = [0usize; MAX_LEVEL];
        let mut x = self.head;
        for i in (0..self.level).rev() {
            rank[i] = if i + 1 == self.level { 0 } else { rank[i + 1] };
            loop {
                let f = Node::forward(x, i);
                if f.is_null() || !Node::precedes(f, score, member) {
                    break;
                }
                rank[i] += Node::span(x, i);
                x = f;
            }
            update[i] = x;
        }
        let height = Node::height(node);
        if height > self.level {
            for i in self.level..height {
                rank[i] = 0;
                update[i] = self.head;
                (*Node::link(self.head, i)).span = self.len;
            }
            self.level = height;
        }
        for i in 0..height {
            let before = Node::link(update[i], i);
            let own = Node::link(node, i);
            (*own).forward = (*before).forward;
            (*before).forward = node;
            (*own).span = (*before).span - (rank[0] - rank[i]);
            (*before).span = rank[0] - rank[i] + 1;
        }
        for (i, &before) in update.iter().enumerate().take(self.level).skip(height) {
            (*Node::link(before, i)).span += 1;
        }
        (*node).backward = if update[0] == self.head {
            ptr::null_mut()
        } else {
            update[0]
        };
        let next = Node::forward(node, 0);
        if next.is_null() {
            self.tail = node;
        } else {
            (*next).backward = node;
        }
        self.len += 1;
    }

    /// Unlinks `node`, whose predecessors are `update`. The node is not freed.
    ///
    /// # Safety
    /// `node` is linked in this list and `update` are its predecessors.
    unsafe fn unlink(&mut self, node: *mut Node, update: &Update) {
        for (i, &before) in update.iter().enumerate().take(self.level) {
            let link = Node::link(before, i);
            if (*link).forward == node {
                (*link).span = (*link).span + Node::span(node, i) - 1;
                (*link).forward = Node::forward(node, i);
            } else {
                (*link).span -= 1;
            }
        }
        let next = Node::forward(node, 0);
        if next.is_null() {
            self.tail = (*node).backward;
        } else {
            (*next).backward = (*node).backward;
        }
        while self.level > 1 && Node::forward(self.head, self.level - 1).is_null() {
            self.level -= 1;
        }
        self.len -= 1;
    }

    /// Unlinks, unindexes and frees `node`.
    ///
    /// # Safety
    /// As [`SkipList::unlink`].
    unsafe fn delete_node(&mut self, node: *mut Node, update: &Update) {
        self.unlink(node, update);
        self.index.remove(Node::member(node));
        self.node_bytes -= Node::alloc_bytes(node);
        Node::destroy(node);
    }

    fn node_ref(&self, node: *mut Node) -> Option<NodeRef<'_>> {
        NonNull::new(node).map(|node| NodeRef {
            node,
            _list: PhantomData,
        })
    }

    pub fn first(&self) -> Option<NodeRef<'_>> {
        // SAFETY: the sentinel is live.
        self.node_ref(unsafe { Node::forward(self.head, 0) })
    }

    pub fn last(&self) -> Option<NodeRef<'_>> {
        self.node_ref(self.tail)
    }

    /// The 1-based rank of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        // SAFETY: the list's links are consistent.
        let rank = unsafe { self.rank_of(score, member) };
        debug_assert!(rank > 0, "indexed members are in the list");
        Some(rank)
    }

    /// The 1-based rank of (score, member), 0 if absent.
    ///
    /// # Safety
    /// The list's links are consistent.
    unsafe fn rank_of(&self, score: f64, member: &[u8]) -> usize {
        let mut rank = 0;
        let mut x = self.head;
        for i in (0..self.level).rev() {
            loop {
                let f = Node::forward(x, i);
                if f.is_null()
                    || !((*f).score < score || ((*f).score == score && Node::member(f) <= member))
                {
                    break;
                }
                rank += Node::span(x, i);
                x = f;
            }
            if x != self.head && (*x).score == score && Node::member(x) == member {
                return rank;
            }
        }
        0
    }

    /// The node at 1-based `rank`.
    pub fn by_rank(&self, rank: usize) -> Option<NodeRef<'_>> {
        let mut traversed = 0;
        let mut x = self.head;
        // SAFETY: the list's links are consistent.
        unsafe {
            for i in (0..self.level).rev() {
                loop {
                    let f = Node::forward(x, i);
                    if f.is_null() || traversed + Node::span(x, i) > rank {
                        break;
                    }
                    traversed += Node::span(x, i);
                    x = f;
                }
                if traversed == rank {
                    return if x == self.head {
                        None
                    } else {
                        self.node_ref(x)
                    };
                }
            }
        }
        None
    }

    /// Redis's early exit: an empty range, or one entirely past either end.
    fn may_intersect(&self, range: &impl RangeSpec) -> bool {
        if range.is_empty() {
            return false;
        }
        match (self.first(), self.last()) {
            (Some(head), Some(tail)) => {
                range.gte_min(tail.score(), tail.member())
                    && range.lte_max(head.score(), head.member())
            }
            _ => false,
        }
    }

    /// The first node in `range`.
    pub fn first_in_range(&self, range: &impl RangeSpec) -> Option<NodeRef<'_>> {
        if !self.may_intersect(range) {
            return None;
        }
        let mut x = self.head;
        // SAFETY: the list's links are consistent.
        unsafe {
            for i in (0..self.level).rev() {
                loop {
                    let f = Node::forward(x, i);
                    if f.is_null() || range.gte_min((*f).score, Node::member(f)) {
                        break;
                    }
                    x = f;
                }
            }
            let first = self.node_ref(Node::forward(x, 0))?;
            range
                .lte_max(first.score(), first.member())
                .then_some(first)
        }
    }

    /// The last node in `range`.
    pub fn last_in_range(&self, range: &impl RangeSpec) -> Option<NodeRef<'_>> {
        if !self.may_intersect(range) {
            return None;
        }
        let mut x = self.head;
        // SAFETY: the list's links are consistent.
        unsafe {
            for i in (0..self.level).rev() {
                loop {
                    let f = Node::forward(x, i);
                    if f.is_null() || !range.lte_max((*f).score, Node::member(f)) {
                        break;
                    }
                    x = f;
                }
            }
            let last = self.node_ref(if x == self.head { ptr::null_mut() } else { x })?;
            range.gte_min(last.score(), last.member()).then_some(last)
        }
    }

    /// Counts the nodes in `range`, from the ranks of its ends.
    pub fn count_in_range(&self, range: &impl RangeSpec) -> usize {
        let Some(first) = self.first_in_range(range) else {
            return 0;
        };
        // SAFETY: the list's links are consistent.
        let first_rank = unsafe { self.rank_of(first.score(), first.member()) };
        let last_rank = match self.last_in_range(range) {
            // SAFETY: as above.
            Some(last) => unsafe { self.rank_of(last.score(), last.member()) },
            None => self.len,
        };
        // A lex range over unequal scores is not monotonic along the list (Redis leaves the
        // result unspecified): should its ends ever cross, count nothing, never underflow.
        (last_rank + 1).saturating_sub(first_rank)
    }

    /// Deletes the nodes in `range`; returns how many.
    pub fn remove_range(&mut self, range: &impl RangeSpec) -> usize {
        let mut update: Update = [ptr::null_mut(); MAX_LEVEL];
        let mut x = self.head;
        let mut removed = 0;
        // SAFETY: the list's links are consistent; each node is deleted once, after its
        // successor has been read.
        unsafe {
            for i in (0..self.level).rev() {
                loop {
                    let f = Node::forward(x, i);
                    if f.is_null() || range.gte_min((*f).score, Node::member(f)) {
                        break;
                    }
                    x = f;
                }
                update[i] = x;
            }
            x = Node::forward(x, 0);
            while !x.is_null() && range.lte_max((*x).score, Node::member(x)) {
                let next = Node::forward(x, 0);
                self.delete_node(x, &update);
                removed += 1;
                x = next;
            }
        }
        removed
    }

    /// Deletes the nodes of 1-based ranks `start..=end`; returns how many.
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        let mut update: Update = [ptr::null_mut(); MAX_LEVEL];
        let mut x = self.head;
        let (mut traversed, mut removed) = (0, 0);
        // SAFETY: as in `remove_range`.
        unsafe {
            for i in (0..self.level).rev() {
                loop {
                    let f = Node::forward(x, i);
                    if f.is_null() || traversed + Node::span(x, i) >= start {
                        break;
                    }
                    traversed += Node::span(x, i);
                    x = f;
                }
                update[i] = x;
            }
            traversed += 1;
            x = Node::forward(x, 0);
            while !x.is_null() && traversed <= end {
                let next = Node::forward(x, 0);
                self.delete_node(x, &update);
                removed += 1;
                traversed += 1;
                x = next;
            }
        }
        removed
    }

    /// Visits the index bucket at `cursor` (see [`Dict::scan`]); returns the next cursor.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        self.index.scan(cursor, |e| visit(e.key(), e.score()))
    }

    /// A random element.
    pub fn random(&self, rng: &mut fastrand::Rng) -> Option<(&[u8], f64)> {
        self.index.random(rng).map(|e| (e.key(), e.score()))
    }

    /// Checks every invariant (tests only).
    #[cfg(test)]
    pub fn check(&self) {
        use std::collections::HashMap;
        // SAFETY: reads only, along the links.
        unsafe {
            let mut position: HashMap<*mut Node, usize> = HashMap::new();
            let mut prev: *mut Node = ptr::null_mut();
            let mut x = Node::forward(self.head, 0);
            while !x.is_null() {
                assert_eq!((*x).backward, prev, "backward link");
                if !prev.is_null() {
                    assert!(Node::precedes(prev, (*x).score, Node::member(x)), "order");
                }
                let indexed = self.index.get(Node::member(x)).expect("indexed");
                assert_eq!(indexed.node(), x);
                position.insert(x, position.len() + 1);
                prev = x;
                x = Node::forward(x, 0);
            }
            assert_eq!(prev, self.tail);
            assert_eq!(position.len(), self.len);
            assert_eq!(self.index.len(), self.len);
            for i in 0..MAX_LEVEL {
                let (mut x, mut at) = (self.head, 0);
                loop {
                    let f = Node::forward(x, i);
                    if i >= self.level {
                        assert!(f.is_null(), "link above the level in use");
                        break;
                    }
                    let target = if f.is_null() { self.len } else { position[&f] };
                    assert_eq!(at + Node::span(x, i), target, "span at level {i}");
                    if f.is_null() {
                        break;
                    }
                    (x, at) = (f, target);
                }
            }
        }
    }
}

impl Clone for SkipList {
    fn clone(&self) -> Self {
        let mut copy = Builder::new();
        let mut node = self.first();
        while let Some(n) = node {
            copy.push(n.score(), n.member());
            node = n.next();
        }
        copy.finish()
    }
}

/// Builds a list from elements given in ascending (score, member) order, appending each in
/// O(1): it remembers the last node at every level, so no search is needed.
pub struct Builder {
    list: SkipList,
    /// The last node at each level (the sentinel where none), and its 1-based rank.
    last: Update,
    last_rank: [usize; MAX_LEVEL],
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    pub fn new() -> Builder {
        let list = SkipList::new();
        let head = list.head;
        Builder {
            list,
            last: [head; MAX_LEVEL],
            last_rank: [0; MAX_LEVEL],
        }
    }

    /// True if (score, member) sorts after every element pushed so far and is not present,
    /// so it may be pushed.
    pub fn can_push(&self, score: f64, member: &[u8]) -> bool {
        let after_last = self
            .list
            .last()
            .is_none_or(|l| l.score() < score || (l.score() == score && l.member() < member));
        after_last && !self.list.contains(member)
    }

    /// Appends an element that sorts after every element pushed so far (see `can_push`).
    pub fn push(&mut self, score: f64, member: &[u8]) {
        debug_assert!(self.can_push(score, member));
        let list = &mut self.list;
        let height = random_height();
        let node = Node::create(height, score, member);
        let rank = list.len + 1;
        // SAFETY: `node` is fresh; the remembered nodes are the current ends of their levels,
        // so linking after them keeps every level in order. Spans of links that end the
        // levels are fixed in `finish`.
        unsafe {
            for i in 0..height {
                let link = Node::link(self.last[i], i);
                (*link).forward = node;
                (*link).span = rank - self.last_rank[i];
                self.last[i] = node;
                self.last_rank[i] = rank;
            }
            (*node).backward = list.tail;
            list.node_bytes += Node::alloc_bytes(node);
        }
        list.tail = node;
        list.len = rank;
        list.level = list.level.max(height);
        list.index
            .insert_new(Indexed(NonNull::new(node).expect("allocated")));
    }

    pub fn finish(self) -> SkipList {
        let Builder {
            list,
            last,
            last_rank,
        } = self;
        // SAFETY: each remembered node ends its level; its last link spans the rest.
        unsafe {
            for i in 0..MAX_LEVEL {
                (*Node::link(last[i], i)).span = list.len - last_rank[i];
            }
        }
        list
    }
}

impl Drop for SkipList {
    fn drop(&mut self) {
        // SAFETY: every node is reachable once along level 0 and freed once; the index only
        // holds pointers and never dereferences them when dropped.
        unsafe {
            let mut x = Node::forward(self.head, 0);
            while !x.is_null() {
                let next = Node::forward(x, 0);
                Node::destroy(x);
                x = next;
            }
            Node::destroy(self.head);
        }
    }
}

/// A borrowed element of a [`SkipList`].
#[derive(Clone, Copy)]
pub struct NodeRef<'a> {
    node: NonNull<Node>,
    _list: PhantomData<&'a SkipList>,
}

impl<'a> NodeRef<'a> {
    pub fn score(&self) -> f64 {
        // SAFETY: the node lives as long as the list borrowed for 'a.
        unsafe { (*self.node.as_ptr()).score }
    }

    pub fn member(&self) -> &'a [u8] {
        // SAFETY: as above.
        unsafe { Node::member(self.node.as_ptr()) }
    }

    pub fn next(&self) -> Option<NodeRef<'a>> {
        // SAFETY: as above; level 0 exists on every node.
        let f = unsafe { Node::forward(self.node.as_ptr(), 0) };
        NonNull::new(f).map(|node| NodeRef {
            node,
            _list: PhantomData,
        })
    }

    pub fn prev(&self) -> Option<NodeRef<'a>> {
        // SAFETY: as above.
        let b = unsafe { (*self.node.as_ptr()).backward };
        NonNull::new(b).map(|node| NodeRef {
            node,
            _list: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::zset::range::{LexRange, ScoreRange};
    use std::collections::BTreeSet;

    /// A total order on (score, member) for the model; scores here are never NaN.
    #[derive(Debug, Clone, PartialEq)]
    struct Key(f64, Vec<u8>);
    impl Eq for Key {}
    impl PartialOrd for Key {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Key {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            self.0
                .total_cmp(&other.0)
                .then_with(|| self.1.cmp(&other.1))
        }
    }

    fn contents(sl: &SkipList) -> Vec<Key> {
        std::iter::successors(sl.first(), NodeRef::next)
            .map(|n| Key(n.score(), n.member().to_vec()))
            .collect()
    }

    #[test]
    fn ranks_and_ranges_on_a_large_list() {
        let mut sl = SkipList::new();
        for i in (0..2000u32).rev() {
            sl.insert(f64::from(i / 2), format!("m{i:05}").as_bytes());
        }
        sl.check();
        assert_eq!(sl.len(), 2000);
        assert_eq!(sl.rank(b"m00000"), Some(1));
        assert_eq!(sl.rank(b"m01999"), Some(2000));
        assert_eq!(sl.by_rank(1000).unwrap().member(), b"m00999");
        assert!(sl.by_rank(0).is_none() && sl.by_rank(2001).is_none());
        let r = ScoreRange::parse(b"(10", b"20").unwrap();
        assert_eq!(sl.first_in_range(&r).unwrap().member(), b"m00022");
        assert_eq!(sl.last_in_range(&r).unwrap().member(), b"m00041");
        assert_eq!(sl.count_in_range(&r), 20);
        assert_eq!(sl.remove_range(&r), 20);
        sl.check();
        assert_eq!(sl.remove_rank_range(1, 10), 10);
        sl.check();
        assert_eq!(sl.first().unwrap().member(), b"m00010");
        assert!(sl.update_score(b"m00010", 5000.0));
        assert_eq!(sl.last().unwrap().member(), b"m00010");
        assert!(sl.update_score(b"m00011", 5.5), "in place");
        sl.check();
        let copy = sl.clone();
        copy.check();
        assert_eq!(contents(&copy), contents(&sl));
        let mut built = Builder::new();
        for k in contents(&sl) {
            built.push(k.0, &k.1);
        }
        let built = built.finish();
        built.check();
        assert_eq!(contents(&built), contents(&sl));
        assert_eq!(built.rank(b"m00010"), sl.rank(b"m00010"));
        Builder::new().finish().check();
    }

    #[test]
    fn lex_ranges_with_equal_scores() {
        let mut sl = SkipList::new();
        for m in ["a", "b", "c", "d", "e"] {
            sl.insert(0.0, m.as_bytes());
        }
        let r = LexRange::parse(b"(b", b"[d").unwrap();
        assert_eq!(sl.first_in_range(&r).unwrap().member(), b"c");
        assert_eq!(sl.last_in_range(&r).unwrap().member(), b"d");
        assert_eq!(sl.count_in_range(&r), 2);
        let none = LexRange::parse(b"(e", b"+").unwrap();
        assert!(sl.first_in_range(&none).is_none());
        assert_eq!(sl.count_in_range(&none), 0);
    }

    #[test]
    fn drops_long_lists_without_recursion() {
        let mut sl = SkipList::new();
        for i in 0..200_000u32 {
            sl.insert(f64::from(i), &i.to_be_bytes());
        }
        assert_eq!(sl.len(), 200_000);
        drop(sl);
    }

    proptest::proptest! {
        #[test]
        fn behaves_like_an_ordered_set(ops in proptest::collection::vec((0u8..5, 0u8..40, -4i8..4), 1..300)) {
            let mut sl = SkipList::new();
            let mut model: BTreeSet<Key> = BTreeSet::new();
            let score_of = |model: &BTreeSet<Key>, m: &[u8]| model.iter().find(|k| k.1 == m).map(|k| k.0);
            for (op, m, s) in ops {
                let member = format!("{m}").into_bytes();
                let score = f64::from(s) / 2.0;
                match op {
                    0 | 1 => match score_of(&model, &member) {
                        Some(old) => {
                            model.remove(&Key(old, member.clone()));
                            model.insert(Key(score, member.clone()));
                            proptest::prop_assert!(sl.update_score(&member, score));
                        }
                        None => {
                            model.insert(Key(score, member.clone()));
                            sl.insert(score, &member);
                        }
                    },
                    2 => {
                        let old = score_of(&model, &member);
                        if let Some(old) = old {
                            model.remove(&Key(old, member.clone()));
                        }
                        proptest::prop_assert_eq!(sl.remove(&member), old);
                    }
                    3 => {
                        let r = ScoreRange::inclusive(score, score + 1.0);
                        let want = model.iter().filter(|k| k.0 >= score && k.0 <= score + 1.0).count();
                        proptest::prop_assert_eq!(sl.count_in_range(&r), want);
                        if op == 3 && m % 3 == 0 {
                            proptest::prop_assert_eq!(sl.remove_range(&r), want);
                            model.retain(|k| !(k.0 >= score && k.0 <= score + 1.0));
                        }
                    }
                    _ => {
                        let start = usize::from(m % 8) + 1;
                        let end = start + usize::from(s.unsigned_abs());
                        let want = model.len().min(end).saturating_sub(start - 1);
                        let keep: Vec<Key> = model.iter().enumerate()
                            .filter(|(i, _)| *i + 1 < start || *i + 1 > end)
                            .map(|(_, k)| k.clone()).collect();
                        proptest::prop_assert_eq!(sl.remove_rank_range(start, end), want);
                        model = keep.into_iter().collect();
                    }
                }
                sl.check();
                let want: Vec<Key> = model.iter().cloned().collect();
                proptest::prop_assert_eq!(contents(&sl), want.clone());
                for (i, k) in want.iter().enumerate() {
                    proptest::prop_assert_eq!(sl.rank(&k.1), Some(i + 1));
                    proptest::prop_assert_eq!(sl.by_rank(i + 1).map(|n| n.member().to_vec()), Some(k.1.clone()));
                }
            }
        }
    }
}
