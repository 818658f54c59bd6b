//! Hashes: a listpack of alternating fields and values while small, a hash table of
//! field/value pairs once `hash-max-listpack-entries` or `hash-max-listpack-value` is exceeded.
//!
//! The conversion rule is Redis's: a hash starts as a listpack; setting a field or value
//! longer than `max_value_bytes`, or adding a field that brings the count above
//! `max_entries`, converts it to a table for good (deletes never convert it back). The
//! thresholds come in as [`Limits`], so this module never reads the configuration.
//!
//! Reads hand out [`Entry`] values: a listpack stores canonical integers as integers, and
//! callers print them (replies, HSTRLEN) without allocating. The random-field operations
//! follow Redis's algorithms (see `random_distinct`), so the distributions HRANDFIELD's
//! tests measure come out the same.

use std::collections::HashSet;

pub use super::listpack::Entry;
use super::listpack::{self, Listpack, Lp};
use crate::keyspace::bytes::CompactBytes;
use crate::keyspace::dict::{self, hash_key, Dict, Keyed};

/// One field of a hash-table-encoded hash.
#[derive(Debug, Clone)]
pub struct FieldValue {
    pub field: CompactBytes,
    pub value: CompactBytes,
}

impl Keyed for FieldValue {
    fn key(&self) -> &[u8] {
        self.field.as_slice()
    }
}

#[derive(Debug, Clone)]
pub enum Hash {
    Listpack(Listpack),
    Table(Box<Dict<FieldValue>>),
}

/// The thresholds of the listpack encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `hash-max-listpack-entries`: most fields a listpack hash may hold.
    pub max_entries: usize,
    /// `hash-max-listpack-value`: longest field or value a listpack hash may hold.
    pub max_value_bytes: usize,
}

impl Limits {
    /// Redis 7.0's compiled-in defaults.
    pub const DEFAULT: Limits = Limits {
        max_entries: 512,
        max_value_bytes: 64,
    };

    fn admits(&self, listpack_bytes: usize, field: &[u8], value: &[u8]) -> bool {
        field.len() <= self.max_value_bytes
            && value.len() <= self.max_value_bytes
            && listpack::safe_to_add(listpack_bytes, field.len() + value.len())
    }
}

/// How many entries a fair random pick looks at (Redis's `GETFAIR_NUM_ENTRIES`).
const FAIR_SAMPLE: usize = 15;

/// A positive HRANDFIELD count below `len / DISTINCT_SUBTRACT_MUL` picks fields one at a time;
/// a larger one copies the hash and removes fields at random (Redis's
/// `HRANDFIELD_SUB_STRATEGY_MUL`).
const DISTINCT_SUBTRACT_MUL: usize = 3;

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Listpack::empty())
    }
}

impl Hash {
    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(lp) => Lp(lp.as_slice()).len() / 2,
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Hash::Listpack(lp) => lp.heap_bytes(),
            Hash::Table(t) => {
                t.overhead_bytes()
                    + t.iter()
                        .map(|f| f.field.heap_bytes() + f.value.heap_bytes())
                        .sum::<usize>()
            }
        }
    }

    // ---- Reads ------------------------------------------------------------------------------

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<Entry<'_>> {
        match self {
            Hash::Listpack(lp) => {
                let lp = Lp(lp.as_slice());
                let at = lp_find(lp, field)?;
                Some(lp.get(lp_value_of(lp, at)))
            }
            Hash::Table(t) => t.get(field).map(|fv| Entry::Str(fv.value.as_slice())),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(lp) => lp_find(Lp(lp.as_slice()), field).is_some(),
            Hash::Table(t) => t.contains(field),
        }
    }

    /// Every field and value: listpack order, or the table's bucket order.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Hash::Listpack(lp) => {
                let lp = Lp(lp.as_slice());
                Iter::Listpack { lp, at: lp.first() }
            }
            Hash::Table(t) => Iter::Table(t.iter()),
        }
    }

    // ---- Writes -----------------------------------------------------------------------------

    /// Converts a listpack hash to a table if any of `items` (the fields and values a command
    /// is about to set) is too long for it, before anything is set (Redis's
    /// `hashTypeTryConversion`).
    pub fn convert_for<'a>(&mut self, items: impl Iterator<Item = &'a [u8]>, limits: Limits) {
        let Hash::Listpack(lp) = self else { return };
        let mut sum_bytes = 0usize;
        for item in items {
            if item.len() > limits.max_value_bytes {
                return self.convert_to_table();
            }
            sum_bytes = sum_bytes.saturating_add(item.len());
        }
        if !listpack::safe_to_add(lp.as_slice().len(), sum_bytes) {
            self.convert_to_table();
        }
    }

    /// Sets `field` to `value`. Returns true if the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        self.set_many(std::iter::once((field, value)), limits) == 1
    }

    /// Sets each field to its value, in order (a later value of the same field wins), converting
    /// when a pair does not fit the listpack. Returns the number of fields that were new.
    pub fn set_many<'a>(
        &mut self,
        pairs: impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone,
        limits: Limits,
    ) -> usize {
        let mut pairs = pairs.peekable();
        let mut created = 0;
        if let Hash::Listpack(lp) = self {
            let growth_bytes_max = pairs
                .clone()
                .map(|(f, v)| lp_entry_bytes_max(f) + lp_entry_bytes_max(v))
                .fold(0, usize::saturating_add);
            let (added, full) = lp.edit(|v| {
                // Room for everything up front: the listpack is reallocated once, not once per
                // doubling, and a new hash ends up in one exact-size allocation.
                if listpack::safe_to_add(v.len(), growth_bytes_max) {
                    v.reserve_exact(growth_bytes_max);
                }
                lp_set_many(v, &mut pairs, limits)
            });
            created += added;
            if !full {
                return created;
            }
            self.convert_to_table();
        }
        let Hash::Table(t) = self else {
            unreachable!("converted above")
        };
        for (field, value) in pairs {
            created += usize::from(table_set(t, field, value));
        }
        created
    }

    /// Removes `field`. Returns true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(lp) => {
                let Some(at) = lp_find(Lp(lp.as_slice()), field) else {
                    return false;
                };
                lp.edit(|v| listpack::delete(v, at, 2));
                true
            }
            Hash::Table(t) => t.remove(field).is_some(),
        }
    }

    /// Moves a listpack hash into a hash table (no-op for a table).
    pub fn convert_to_table(&mut self) {
        let Hash::Listpack(lp) = self else { return };
        let mut table = Dict::with_capacity(Lp(lp.as_slice()).len() / 2);
        let mut buf = (itoa::Buffer::new(), itoa::Buffer::new());
        for (field, value) in lp_pairs(Lp(lp.as_slice())) {
            // `insert`, not `insert_new`: a corrupt listpack with a repeated field keeps the
            // last value instead of breaking the table's invariant.
            table.insert(FieldValue {
                field: CompactBytes::new(field.as_bytes(&mut buf.0)),
                value: CompactBytes::new(value.as_bytes(&mut buf.1)),
            });
        }
        *self = Hash::Table(Box::new(table));
    }

    // ---- Random fields --------------------------------------------------------------------

    /// One field and its value, uniformly at random.
    pub fn random_pair(&self, rng: &mut fastrand::Rng) -> Option<(Entry<'_>, Entry<'_>)> {
        match self {
            Hash::Listpack(lp) => {
                let lp = Lp(lp.as_slice());
                let n = lp.len() / 2;
                if n == 0 {
                    return None;
                }
                let at = lp.seek(2 * rng.usize(..n) as i64)?;
                Some((lp.get(at), lp.get(lp_value_of(lp, at))))
            }
            Hash::Table(t) => fair_random(t, rng).map(pair_of),
        }
    }

    /// A source of independent uniform picks (HRANDFIELD with a negative count): a listpack
    /// is indexed once so that each pick costs O(1).
    pub fn picker(&self) -> Picker<'_> {
        match self {
            Hash::Listpack(lp) => {
                let lp = Lp(lp.as_slice());
                let mut fields = Vec::with_capacity(lp.len() / 2);
                let mut at = lp.first();
                while let Some(f) = at {
                    fields.push(f);
                    at = lp.next(lp_value_of(lp, f));
                }
                Picker::Listpack { lp, fields }
            }
            Hash::Table(t) => Picker::Table(t),
        }
    }

    /// `count` distinct fields with their values, chosen uniformly at random; every field
    /// when `count` is at least the length. Never more than the hash holds, whatever the
    /// count.
    pub fn random_distinct(
        &self,
        rng: &mut fastrand::Rng,
        count: usize,
    ) -> Vec<(Entry<'_>, Entry<'_>)> {
        let len = self.len();
        if count >= len {
            return self.iter().collect();
        }
        if count.saturating_mul(DISTINCT_SUBTRACT_MUL) > len {
            // Close to everything: copy all and drop random ones.
            let mut all: Vec<_> = self.iter().collect();
            while all.len() > count {
                all.swap_remove(rng.usize(..all.len()));
            }
            return all;
        }
        match self {
            Hash::Listpack(lp) => lp_selection_sample(Lp(lp.as_slice()), rng, count),
            Hash::Table(t) => table_distinct_picks(t, rng, count),
        }
    }

    // ---- SCAN -------------------------------------------------------------------------------

    /// One HSCAN step: visits fields and values from `cursor` and returns the next cursor (0
    /// when done). A listpack is visited whole in one call whatever the cursor; a table walks
    /// buckets until `count` elements (fields and values each count, as in Redis) are
    /// visited or `count * 10` buckets were looked at.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(Entry<'a>, Entry<'a>),
    ) -> u64 {
        let t = match self {
            Hash::Listpack(_) => {
                self.iter().for_each(|(f, v)| visit(f, v));
                return 0;
            }
            Hash::Table(t) => t,
        };
        let mut cursor = cursor;
        let mut elements = 0usize;
        let mut buckets_left = count.saturating_mul(10);
        loop {
            cursor = t.scan(cursor, |fv| {
                let (f, v) = pair_of(fv);
                visit(f, v);
                elements += 2;
            });
            if cursor == 0 || buckets_left == 0 || elements >= count {
                return cursor;
            }
            buckets_left -= 1;
        }
    }
}

// ---- Listpack helpers -------------------------------------------------------------------------

/// Offset of the field equal to `field`, looking at fields only. The field's integer form, if
/// it has one, is computed once, since integer entries compare by value.
fn lp_find(lp: Lp<'_>, field: &[u8]) -> Option<usize> {
    let as_int = listpack::string_to_i64(field);
    let mut at = lp.first();
    while let Some(f) = at {
        let hit = match lp.get(f) {
            Entry::Int(i) => as_int == Some(i),
            Entry::Str(s) => s == field,
        };
        if hit {
            return Some(f);
        }
        at = lp.next(lp_value_of(lp, f));
    }
    None
}

/// Offset of the value that follows the field at `field_at`.
fn lp_value_of(lp: Lp<'_>, field_at: usize) -> usize {
    // A hash listpack holds pairs (checked when untrusted bytes are loaded).
    lp.next(field_at).expect("a value follows every field")
}

fn lp_pairs(lp: Lp<'_>) -> Iter<'_> {
    Iter::Listpack { lp, at: lp.first() }
}

/// The most bytes a listpack entry holding `s` takes: its string form (an integer form is
/// never longer), with the backlen bound loosely above 127 bytes.
fn lp_entry_bytes_max(s: &[u8]) -> usize {
    let header_bytes = match s.len() {
        0..=63 => 1,
        64..=4095 => 2,
        _ => 5,
    };
    let body_bytes = header_bytes + s.len();
    body_bytes + if body_bytes < 128 { 1 } else { 5 }
}

/// Sets pairs into the listpack bytes `v` until a pair does not fit (left unconsumed) or the
/// field count exceeds the limit. Returns the new-field count and whether the hash must now
/// become a table.
fn lp_set_many<'a, I>(
    v: &mut Vec<u8>,
    pairs: &mut std::iter::Peekable<I>,
    limits: Limits,
) -> (usize, bool)
where
    I: Iterator<Item = (&'a [u8], &'a [u8])>,
{
    let mut created = 0;
    while let Some(&(field, value)) = pairs.peek() {
        if !limits.admits(v.len(), field, value) {
            return (created, true);
        }
        pairs.next();
        match lp_find(Lp(v), field) {
            Some(f) => {
                let at = lp_value_of(Lp(v), f);
                listpack::replace(v, at, value);
            }
            None => {
                listpack::push_back(v, field);
                listpack::push_back(v, value);
                created += 1;
            }
        }
        // Checked after every set, as Redis does, so a lowered limit converts on any write.
        if Lp(v).len() / 2 > limits.max_entries {
            return (created, true);
        }
    }
    (created, false)
}

/// Knuth's selection sampling: one pass, each pair taken with probability
/// `still needed / still unseen`, so the result is uniform and in listpack order.
fn lp_selection_sample<'a>(
    lp: Lp<'a>,
    rng: &mut fastrand::Rng,
    count: usize,
) -> Vec<(Entry<'a>, Entry<'a>)> {
    let mut out = Vec::with_capacity(count);
    let mut unseen = lp.len() / 2;
    for pair in lp_pairs(lp) {
        if out.len() == count {
            break;
        }
        if rng.usize(..unseen) < count - out.len() {
            out.push(pair);
        }
        unseen -= 1;
    }
    out
}

// ---- Table helpers ----------------------------------------------------------------------------

fn pair_of(fv: &FieldValue) -> (Entry<'_>, Entry<'_>) {
    (
        Entry::Str(fv.field.as_slice()),
        Entry::Str(fv.value.as_slice()),
    )
}

fn table_set(t: &mut Dict<FieldValue>, field: &[u8], value: &[u8]) -> bool {
    let hash = hash_key(field);
    if let Some(fv) = t.get_mut_hashed(field, hash) {
        fv.value = CompactBytes::new(value);
        return false;
    }
    let fv = FieldValue {
        field: CompactBytes::new(field),
        value: CompactBytes::new(value),
    };
    t.insert_new_hashed(fv, hash);
    true
}

/// Redis's fair random element: a random element of a small sample of consecutive buckets.
/// A plain random bucket would favour fields alone in their bucket over those sharing one.
fn fair_random<'a>(t: &'a Dict<FieldValue>, rng: &mut fastrand::Rng) -> Option<&'a FieldValue> {
    let mut sample: smallvec::SmallVec<[&FieldValue; FAIR_SAMPLE]> = smallvec::SmallVec::new();
    t.sample(rng, FAIR_SAMPLE, |fv| sample.push(fv));
    if sample.is_empty() {
        return t.random(rng);
    }
    Some(sample[rng.usize(..sample.len())])
}

/// Random picks until `count` distinct fields are found; only used when `count` is at most a
/// third of the table, so few picks are wasted on repeats.
fn table_distinct_picks<'a>(
    t: &'a Dict<FieldValue>,
    rng: &mut fastrand::Rng,
    count: usize,
) -> Vec<(Entry<'a>, Entry<'a>)> {
    let mut seen: HashSet<&[u8]> = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let Some(fv) = fair_random(t, rng) else { break };
        if seen.insert(fv.field.as_slice()) {
            out.push(pair_of(fv));
        }
    }
    out
}

// ---- Iteration and picks ------------------------------------------------------------------------

/// Fields and values of a hash.
pub enum Iter<'a> {
    Listpack { lp: Lp<'a>, at: Option<usize> },
    Table(dict::Iter<'a, FieldValue>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (Entry<'a>, Entry<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Listpack { lp, at } => {
                let f = (*at)?;
                let v = lp_value_of(*lp, f);
                *at = lp.next(v);
                Some((lp.get(f), lp.get(v)))
            }
            Iter::Table(it) => it.next().map(pair_of),
        }
    }
}

/// Independent uniform picks from one hash (see [`Hash::picker`]).
pub enum Picker<'a> {
    Listpack { lp: Lp<'a>, fields: Vec<usize> },
    Table(&'a Dict<FieldValue>),
}

impl<'a> Picker<'a> {
    /// A field and its value, or `None` if the hash is empty.
    pub fn pick(&self, rng: &mut fastrand::Rng) -> Option<(Entry<'a>, Entry<'a>)> {
        match self {
            Picker::Listpack { lp, fields } => {
                if fields.is_empty() {
                    return None;
                }
                let f = fields[rng.usize(..fields.len())];
                Some((lp.get(f), lp.get(lp_value_of(*lp, f))))
            }
            Picker::Table(t) => fair_random(t, rng).map(pair_of),
        }
    }
}

#[cfg(test)]
mod tests;
