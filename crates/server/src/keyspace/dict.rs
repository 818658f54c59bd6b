//! A chained hash table keyed by byte strings: the table behind every slot shard of the
//! keyspace and behind large hashes and sets.
//!
//! Why not a general-purpose map: Redis's SCAN family promises that an element present for the
//! whole iteration is returned at least once even if the table grows or shrinks between calls,
//! and commands like RANDOMKEY, SPOP and SRANDMEMBER need a random element in O(1). Both fall
//! out of a power-of-two bucket array with chaining: the cursor walks bucket indexes in
//! reverse-binary order, so a resize maps every visited bucket onto visited buckets. Open
//! addressing (SwissTable) moves elements away from their home bucket and loses that property.
//!
//! Invariants: the bucket count is zero or a power of two; every node sits in bucket
//! `hash(key) & mask`; no two nodes have equal keys.

use std::hash::BuildHasher;
use std::sync::LazyLock;

use thin_vec::ThinVec;

/// The process-wide hasher, seeded at random so clients cannot aim keys at one bucket.
static HASHER: LazyLock<foldhash::quality::RandomState> =
    LazyLock::new(foldhash::quality::RandomState::default);

/// Hashes a key with the process-wide seeded hasher.
#[inline]
pub fn hash_key(key: &[u8]) -> u64 {
    HASHER.hash_one(key)
}

/// Something stored in a [`Dict`]: it knows its own key.
pub trait Keyed {
    fn key(&self) -> &[u8];

    /// Entries per bucket the table reaches before doubling. 1 keeps chains short; the
    /// keyspace uses 2, halving the bucket array's bytes per key for about half an extra
    /// pointer hop per lookup.
    const MAX_LOAD: usize = 1;
}

struct Node<E> {
    next: Option<Box<Node<E>>>,
    entry: E,
}

/// Whether [`Dict::prefetch_node`] may read a bucket at the address `Dict::bucket_addr`
/// computes: checked once against `ThinVec`'s own element pointer, so a change of its layout
/// turns the prefetch off instead of reading the wrong memory.
static BUCKET_ADDR_CHECKED: LazyLock<bool> = LazyLock::new(|| {
    let mut d: Dict<TestEntryForLayout> = Dict::default();
    d.resize(MIN_BUCKETS);
    (0..MIN_BUCKETS).all(|i| {
        std::ptr::eq(
            d.bucket_addr(i),
            (&d.buckets[i] as *const Option<Box<Node<TestEntryForLayout>>>).cast(),
        )
    })
});

/// The entry type of the layout check: bucket addresses do not depend on the entry type.
struct TestEntryForLayout;

impl Keyed for TestEntryForLayout {
    fn key(&self) -> &[u8] {
        b""
    }
}

/// The smallest non-empty bucket array.
const MIN_BUCKETS: usize = 4;

/// The bucket array. A `ThinVec` keeps its length in the allocation, so a `Dict` is two words:
/// the keyspace keeps one per slot shard, and a smaller shard packs more of them per cache line.
type Buckets<E> = ThinVec<Option<Box<Node<E>>>>;

/// A hash table of entries that carry their own keys.
pub struct Dict<E> {
    buckets: Buckets<E>,
    /// The entry count, with the bucket count's log2 plus one in the top bits (zero: no
    /// buckets). The count of buckets is then known without reading the bucket array's
    /// header, so [`Dict::prefetch`] can name a bucket's address without touching memory.
    meta: usize,
}

/// Bits of `Dict::meta` that hold the bucket count's log2 plus one.
const BUCKET_BITS_SHIFT: u32 = usize::BITS - 6;
const COUNT_MASK: usize = (1 << BUCKET_BITS_SHIFT) - 1;
/// Bytes before the first element of a `ThinVec`'s allocation: its length and capacity.
const THIN_VEC_HEADER_BYTES: usize = 2 * std::mem::size_of::<usize>();

impl<E: Keyed + Clone> Clone for Dict<E> {
    /// Copies bucket by bucket, keeping chain order, without recursion (chains may be long).
    fn clone(&self) -> Self {
        let mut buckets: Buckets<E> = (0..self.buckets.len()).map(|_| None).collect();
        for (i, bucket) in self.buckets.iter().enumerate() {
            let mut entries = Vec::new();
            let mut node = bucket.as_deref();
            while let Some(n) = node {
                entries.push(n.entry.clone());
                node = n.next.as_deref();
            }
            for entry in entries.into_iter().rev() {
                let next = buckets[i].take();
                buckets[i] = Some(Box::new(Node { next, entry }));
            }
        }
        Dict {
            buckets,
            meta: self.meta,
        }
    }
}

impl<E> std::fmt::Debug for Dict<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Dict({} entries, {} buckets)",
            self.meta & COUNT_MASK,
            self.buckets.len()
        )
    }
}

impl<E> Default for Dict<E> {
    fn default() -> Self {
        Dict {
            buckets: ThinVec::new(),
            meta: 0,
        }
    }
}

impl<E: Keyed> Dict<E> {
    pub fn new() -> Self {
        Self::default()
    }

    /// A table sized for `n` entries without growing.
    pub fn with_capacity(n: usize) -> Self {
        let mut d = Self::default();
        if n > 0 {
            d.resize(n.next_power_of_two().max(MIN_BUCKETS));
        }
        d
    }

    pub fn len(&self) -> usize {
        self.meta & COUNT_MASK
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of buckets (for DEBUG HTSTATS and memory estimates).
    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    fn index(&self, hash: u64) -> usize {
        (hash as usize) & (self.buckets.len() - 1)
    }

    pub fn get(&self, key: &[u8]) -> Option<&E> {
        self.get_hashed(key, hash_key(key))
    }

    /// The index of the bucket `hash` falls in, from `meta` alone; `None` with no buckets.
    fn bucket_index(&self, hash: u64) -> Option<usize> {
        let bucket_bits = self.meta >> BUCKET_BITS_SHIFT;
        (bucket_bits != 0).then(|| (hash as usize) & ((1 << (bucket_bits - 1)) - 1))
    }

    /// The address of bucket `i`, computed from the array's pointer without reading it.
    fn bucket_addr(&self, i: usize) -> *const u8 {
        // SAFETY: `ThinVec` is `repr(C)` with its header pointer as first field, so this reads
        // that pointer, a field of `self`.
        let header = unsafe { *(&self.buckets as *const Buckets<E> as *const *const u8) };
        header.wrapping_add(THIN_VEC_HEADER_BYTES + i * std::mem::size_of::<Option<Box<Node<E>>>>())
    }

    /// First step of warming a lookup of `hash`: asks the CPU to load its bucket, and the
    /// array's header, which a lookup reads for the bucket count. Touches only the table's own
    /// two words.
    pub fn prefetch_bucket(&self, hash: u64) {
        if let Some(i) = self.bucket_index(hash) {
            super::prefetch::prefetch(self.bucket_addr(0).wrapping_sub(THIN_VEC_HEADER_BYTES));
            super::prefetch::prefetch(self.bucket_addr(i));
        }
    }

    /// Second step: reads the bucket (which the first step should have brought in) and asks
    /// the CPU to load the first node of its chain.
    pub fn prefetch_node(&self, hash: u64) {
        let Some(i) = self.bucket_index(hash) else {
            return;
        };
        if !*BUCKET_ADDR_CHECKED {
            return;
        }
        // SAFETY: `BUCKET_ADDR_CHECKED` proved that `bucket_addr` gives the address of the
        // element, and `i` is below the bucket count (`meta` always matches the array), so
        // this is a shared read of bucket `i` while `&self` borrows the table.
        let bucket = unsafe { &*(self.bucket_addr(i) as *const Option<Box<Node<E>>>) };
        if let Some(node) = bucket {
            super::prefetch::prefetch((&**node as *const Node<E>).cast());
        }
    }

    pub fn get_hashed(&self, key: &[u8], hash: u64) -> Option<&E> {
        if self.is_empty() {
            return None;
        }
        let mut node = self.buckets[self.index(hash)].as_deref();
        while let Some(n) = node {
            if n.entry.key() == key {
                return Some(&n.entry);
            }
            node = n.next.as_deref();
        }
        None
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut E> {
        self.get_mut_hashed(key, hash_key(key))
    }

    pub fn get_mut_hashed(&mut self, key: &[u8], hash: u64) -> Option<&mut E> {
        if self.is_empty() {
            return None;
        }
        let i = self.index(hash);
        let mut node = self.buckets[i].as_deref_mut();
        while let Some(n) = node {
            if n.entry.key() == key {
                return Some(&mut n.entry);
            }
            node = n.next.as_deref_mut();
        }
        None
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Inserts an entry whose key is not in the table (checked in debug builds).
    pub fn insert_new(&mut self, entry: E) -> &mut E {
        let hash = hash_key(entry.key());
        self.insert_new_hashed(entry, hash)
    }

    pub fn insert_new_hashed(&mut self, entry: E, hash: u64) -> &mut E {
        debug_assert!(
            self.get_hashed(entry.key(), hash).is_none(),
            "insert_new of an existing key"
        );
        self.grow_if_needed();
        let i = self.index(hash);
        let next = self.buckets[i].take();
        self.buckets[i] = Some(Box::new(Node { next, entry }));
        self.meta += 1;
        &mut self.buckets[i].as_mut().expect("just inserted").entry
    }

    /// Inserts or replaces; returns the entry that was replaced.
    pub fn insert(&mut self, entry: E) -> Option<E> {
        let hash = hash_key(entry.key());
        match self.get_mut_hashed(entry.key(), hash) {
            Some(slot) => Some(std::mem::replace(slot, entry)),
            None => {
                self.insert_new_hashed(entry, hash);
                None
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<E> {
        self.remove_hashed(key, hash_key(key))
    }

    pub fn remove_hashed(&mut self, key: &[u8], hash: u64) -> Option<E> {
        if self.is_empty() {
            return None;
        }
        let i = self.index(hash);
        let mut link = &mut self.buckets[i];
        loop {
            match link {
                None => return None,
                Some(node) if node.entry.key() == key => {
                    let mut node = link.take().expect("matched Some");
                    *link = node.next.take();
                    self.meta -= 1;
                    let entry = node.entry;
                    self.shrink_if_needed();
                    return Some(entry);
                }
                Some(node) => link = &mut node.next,
            }
        }
    }

    /// Removes every entry for which `keep` returns false.
    pub fn retain(&mut self, mut keep: impl FnMut(&mut E) -> bool) {
        for bucket in self.buckets.iter_mut() {
            let mut link = bucket;
            while link.is_some() {
                if keep(&mut link.as_mut().expect("checked").entry) {
                    link = &mut link.as_mut().expect("checked").next;
                } else {
                    let mut node = link.take().expect("checked");
                    *link = node.next.take();
                    self.meta -= 1;
                }
            }
        }
        self.shrink_if_needed();
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }

    pub fn iter(&self) -> Iter<'_, E> {
        Iter {
            buckets: &self.buckets,
            index: 0,
            node: None,
        }
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut E> {
        self.buckets.iter_mut().flat_map(|bucket| {
            let mut out = Vec::new();
            let mut node = bucket.as_deref_mut();
            while let Some(n) = node {
                out.push(&mut n.entry);
                node = n.next.as_deref_mut();
            }
            out
        })
    }

    /// Moves every entry out, leaving the table empty.
    pub fn drain(&mut self) -> Vec<E> {
        let old = std::mem::take(self);
        let mut out = Vec::with_capacity(old.len());
        for mut bucket in old.buckets {
            while let Some(mut node) = bucket {
                bucket = node.next.take();
                out.push(node.entry);
            }
        }
        out
    }

    /// Visits the entries of the bucket at `cursor` (and its aliases in a smaller table) and
    /// returns the next cursor, 0 when the iteration is complete. Entries present during the
    /// whole iteration are visited at least once, whatever resizes happen between calls.
    /// The visitor may keep the references it is given.
    pub fn scan<'a>(&'a self, cursor: u64, mut visit: impl FnMut(&'a E)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = (self.buckets.len() - 1) as u64;
        let mut node = self.buckets[(cursor & mask) as usize].as_deref();
        while let Some(n) = node {
            visit(&n.entry);
            node = n.next.as_deref();
        }
        next_cursor(cursor, mask)
    }

    /// A random entry: a random non-empty bucket, then a random element of its chain.
    pub fn random(&self, rng: &mut fastrand::Rng) -> Option<&E> {
        if self.is_empty() {
            return None;
        }
        let mask = self.buckets.len() - 1;
        let head = loop {
            if let Some(n) = self.buckets[rng.usize(..) & mask].as_deref() {
                break n;
            }
        };
        let mut chain_len = 0;
        let mut node = Some(head);
        while let Some(n) = node {
            chain_len += 1;
            node = n.next.as_deref();
        }
        let mut pick = rng.usize(..chain_len);
        let mut node = head;
        while pick > 0 {
            node = node.next.as_deref().expect("within chain length");
            pick -= 1;
        }
        Some(&node.entry)
    }

    /// Up to `count` entries found by walking from a random bucket (Redis's dictGetSomeKeys):
    /// cheap, roughly random, possibly fewer than asked. The visitor may keep the references.
    pub fn sample<'a>(
        &'a self,
        rng: &mut fastrand::Rng,
        count: usize,
        mut visit: impl FnMut(&'a E),
    ) {
        if self.is_empty() || count == 0 {
            return;
        }
        let mask = self.buckets.len() - 1;
        let mut i = rng.usize(..) & mask;
        let (mut found, mut steps) = (0, 0);
        let max_steps = count * 10;
        while found < count.min(self.len()) && steps < max_steps {
            let mut node = self.buckets[i].as_deref();
            while let Some(n) = node {
                visit(&n.entry);
                found += 1;
                if found == count {
                    return;
                }
                node = n.next.as_deref();
            }
            i = (i + 1) & mask;
            steps += 1;
        }
    }

    /// Shrinks the bucket array to fit the current size (HT resize after mass deletes).
    pub fn shrink_to_fit(&mut self) {
        let want = if self.is_empty() {
            0
        } else {
            self.len().next_power_of_two().max(MIN_BUCKETS)
        };
        if want < self.buckets.len() {
            self.resize(want);
        }
    }

    fn grow_if_needed(&mut self) {
        if self.buckets.is_empty() {
            self.resize(MIN_BUCKETS);
        } else if self.len() >= self.buckets.len() * E::MAX_LOAD {
            self.resize(self.buckets.len() * 2);
        }
    }

    fn shrink_if_needed(&mut self) {
        let n = self.buckets.len();
        if self.is_empty() {
            if n > 0 {
                self.buckets = ThinVec::new();
                self.meta = 0;
            }
        } else if n > MIN_BUCKETS && self.len() * 10 < n {
            self.shrink_to_fit();
        }
    }

    fn resize(&mut self, buckets: usize) {
        assert!(buckets == 0 || buckets.is_power_of_two());
        let old = std::mem::replace(&mut self.buckets, (0..buckets).map(|_| None).collect());
        let bucket_bits = if buckets == 0 {
            0
        } else {
            buckets.trailing_zeros() as usize + 1
        };
        self.meta = self.len() | bucket_bits << BUCKET_BITS_SHIFT;
        if buckets == 0 {
            return;
        }
        let mask = buckets - 1;
        for mut bucket in old {
            while let Some(mut node) = bucket {
                bucket = node.next.take();
                let i = (hash_key(node.entry.key()) as usize) & mask;
                node.next = self.buckets[i].take();
                self.buckets[i] = Some(node);
            }
        }
    }

    /// Approximate heap bytes used by the table itself (buckets and nodes, not entry contents).
    pub fn overhead_bytes(&self) -> usize {
        self.buckets.len() * 8 + self.len() * std::mem::size_of::<Node<E>>()
    }
}

/// The next cursor in reverse-binary order: set the bits outside `mask`, reverse, add one,
/// reverse back. Incrementing from the high bit down means the buckets a resize splits or
/// merges are visited together, and the carry out of the masked bits yields 0 at the end.
fn next_cursor(cursor: u64, mask: u64) -> u64 {
    (cursor | !mask)
        .reverse_bits()
        .wrapping_add(1)
        .reverse_bits()
}

pub struct Iter<'a, E> {
    buckets: &'a [Option<Box<Node<E>>>],
    index: usize,
    node: Option<&'a Node<E>>,
}

impl<'a, E> Iterator for Iter<'a, E> {
    type Item = &'a E;

    fn next(&mut self) -> Option<&'a E> {
        loop {
            if let Some(n) = self.node {
                self.node = n.next.as_deref();
                return Some(&n.entry);
            }
            let bucket = self.buckets.get(self.index)?;
            self.index += 1;
            self.node = bucket.as_deref();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[derive(Debug, Clone, PartialEq)]
    struct E(Vec<u8>);
    impl Keyed for E {
        fn key(&self) -> &[u8] {
            &self.0
        }
    }

    fn key(i: usize) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    impl<E: Keyed> Dict<E> {
        /// The bucket bits of `meta` name the bucket array's real size.
        fn meta_matches_buckets(&self) -> bool {
            let n = self.buckets.len();
            let bits = self.meta >> BUCKET_BITS_SHIFT;
            if n == 0 {
                bits == 0
            } else {
                bits == n.trailing_zeros() as usize + 1
                    && (0..n).all(|i| self.bucket_index(i as u64) == Some(i))
            }
        }
    }

    #[test]
    fn bucket_addresses_are_those_of_the_elements() {
        assert!(*BUCKET_ADDR_CHECKED);
        let mut d = Dict::new();
        for i in 0..100 {
            d.insert(E(key(i)));
        }
        let first: *const Option<Box<Node<E>>> = &d.buckets[0];
        assert!(std::ptr::eq(d.bucket_addr(0), first.cast()));
        let last_index = d.bucket_count() - 1;
        let last: *const Option<Box<Node<E>>> = &d.buckets[last_index];
        assert!(std::ptr::eq(d.bucket_addr(last_index), last.cast()));
    }

    #[test]
    fn meta_follows_the_bucket_array_through_grow_shrink_and_clear() {
        let mut d = Dict::new();
        assert!(d.meta_matches_buckets());
        d.prefetch_bucket(1);
        d.prefetch_node(1);
        for i in 0..5000 {
            d.insert(E(key(i)));
            assert!(d.meta_matches_buckets());
        }
        for i in 0..4990 {
            d.remove(&key(i));
            assert!(d.meta_matches_buckets());
        }
        d.shrink_to_fit();
        assert!(d.meta_matches_buckets());
        let copy = d.clone();
        assert!(copy.meta_matches_buckets());
        assert_eq!(copy.len(), 10);
        d.retain(|_| false);
        assert!(d.meta_matches_buckets());
        assert_eq!(d.len(), 0);
        let mut d = Dict::with_capacity(100);
        assert!(d.meta_matches_buckets());
        d.insert(E(key(1)));
        d.clear();
        assert!(d.meta_matches_buckets() && d.is_empty());
    }

    #[test]
    fn insert_get_remove() {
        let mut d = Dict::new();
        for i in 0..1000 {
            assert!(d.insert(E(key(i))).is_none());
        }
        assert_eq!(d.len(), 1000);
        assert!(d.insert(E(key(5))).is_some());
        assert_eq!(d.get(&key(999)), Some(&E(key(999))));
        for i in 0..990 {
            assert_eq!(d.remove(&key(i)), Some(E(key(i))));
        }
        assert_eq!(d.len(), 10);
        assert!(d.bucket_count() <= 16, "shrinks after deletes");
        assert_eq!(d.iter().count(), 10);
        d.retain(|e| e.0 != key(995));
        assert_eq!(d.len(), 9);
        assert_eq!(d.drain().len(), 9);
        assert!(d.is_empty());
    }

    fn scan_all(
        d: &Dict<E>,
        mut between: impl FnMut(&Dict<E>, usize) -> Option<Dict<E>>,
    ) -> HashSet<Vec<u8>> {
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        let mut owned;
        let mut cur = d;
        loop {
            cursor = cur.scan(cursor, |e| {
                seen.insert(e.0.clone());
            });
            if cursor == 0 {
                return seen;
            }
            step += 1;
            if let Some(next) = between(cur, step) {
                owned = next;
                cur = &owned;
            }
        }
    }

    #[test]
    fn scan_sees_everything_across_resizes() {
        let mut d = Dict::new();
        for i in 0..500 {
            d.insert(E(key(i)));
        }
        let stable: HashSet<_> = (0..500).map(key).collect();
        assert_eq!(scan_all(&d, |_, _| None), stable);

        // Grow in the middle of the scan.
        let seen = scan_all(&d, |cur, step| {
            (step == 20).then(|| {
                let mut bigger = Dict::new();
                for e in cur.iter() {
                    bigger.insert(e.clone());
                }
                for i in 500..3000 {
                    bigger.insert(E(key(i)));
                }
                bigger
            })
        });
        assert!(stable.is_subset(&seen));

        // Shrink in the middle of the scan.
        let seen = scan_all(&d, |cur, step| {
            (step == 50).then(|| {
                let mut smaller = Dict::new();
                for e in cur.iter().filter(|e| stable.contains(&e.0)).take(100) {
                    smaller.insert(e.clone());
                }
                smaller
            })
        });
        assert!(seen.len() >= 100);
    }

    #[test]
    fn random_and_sample() {
        let mut d = Dict::new();
        let mut rng = fastrand::Rng::with_seed(7);
        assert!(d.random(&mut rng).is_none());
        for i in 0..100 {
            d.insert(E(key(i)));
        }
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            seen.insert(d.random(&mut rng).unwrap().0.clone());
        }
        assert!(seen.len() > 90, "random covers the table: {}", seen.len());
        let mut n = 0;
        d.sample(&mut rng, 20, |_| n += 1);
        assert!(n > 0 && n <= 20);
    }

    proptest::proptest! {
        #[test]
        fn behaves_like_a_set(ops in proptest::collection::vec((0u8..3, 0usize..64), 0..400)) {
            let mut d = Dict::new();
            let mut model = HashSet::new();
            for (op, k) in ops {
                match op {
                    0 => { d.insert(E(key(k))); model.insert(key(k)); }
                    1 => { proptest::prop_assert_eq!(d.remove(&key(k)).is_some(), model.remove(&key(k))); }
                    _ => { proptest::prop_assert_eq!(d.contains(&key(k)), model.contains(&key(k))); }
                }
                proptest::prop_assert_eq!(d.len(), model.len());
                proptest::prop_assert!(d.meta_matches_buckets());
                d.prefetch_bucket(hash_key(&key(k)));
                d.prefetch_node(hash_key(&key(k)));
            }
            let all: HashSet<_> = d.iter().map(|e| e.0.clone()).collect();
            proptest::prop_assert_eq!(all, model);
        }
    }
}
