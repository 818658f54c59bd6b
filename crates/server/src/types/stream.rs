//! The stream value: entries ordered by ID, with Redis's metadata (last generated ID, entries
//! added, max deleted ID) and consumer groups with their pending entries lists (PELs).
//!
//! Layout: entries live in a `BTreeMap` from ID to the entry's field-value pairs packed into
//! one boxed byte slice (`u32` little-endian length, then the bytes, per string), so an entry
//! costs one allocation plus its B-tree slot; ranges, deletion and trimming are B-tree
//! operations. Redis's delta-coded listpack nodes are built only when a stream is written
//! to an RDB file (`persist::codec`), and parsed back on load.
//!
//! Redis's node boundaries are kept as bookkeeping (`nodes`: first ID of each node, its
//! slots and live entries), filled as Redis fills them (a new node once the last holds
//! `stream-node-max-entries` entries, deleted ones included) and dropped when their last
//! entry goes. Trimming works node by node as Redis's does, so exact trimming leaves the
//! same partial node and approximate trimming (`~`) removes the same whole nodes.
//!
//! Invariants: every ID in `entries` is at most `last_id`; every PEL entry of a group is owned
//! by exactly one consumer of that group, and that consumer's `pending` set holds its ID.

use std::collections::{BTreeMap, BTreeSet};

pub use rudis_rdb::stream::StreamId;

/// One consumer group's pending entry: delivered but not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub consumer: Vec<u8>,
    pub delivery_time_ms: i64,
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consumer {
    pub seen_time_ms: i64,
    /// IDs of the group's PEL entries owned by this consumer.
    pub pending: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical read counter; `None` is Redis's -1 (unknown).
    pub entries_read: Option<u64>,
    pub pel: BTreeMap<StreamId, Pending>,
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

/// One of Redis's nodes, as bookkeeping: entries placed in it (deleted ones included) and
/// entries still there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Node {
    pub slots: usize,
    pub live: usize,
}

/// Entries per node when nothing else is said (Redis's default `stream-node-max-entries`).
pub const DEFAULT_NODE_ENTRIES: usize = 100;

/// A stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stream {
    entries: BTreeMap<StreamId, Box<[u8]>>,
    /// Redis's nodes by first ID (see the module comment).
    nodes: BTreeMap<StreamId, Node>,
    pub last_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub groups: BTreeMap<Vec<u8>, Group>,
}

/// Why an append failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendError {
    /// The ID is not greater than the last one.
    NotGreater,
}

// ---- IDs --------------------------------------------------------------------------------------

/// `ms-seq`.
pub fn format_id(id: StreamId) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    out.extend_from_slice(itoa::Buffer::new().format(id.ms).as_bytes());
    out.push(b'-');
    out.extend_from_slice(itoa::Buffer::new().format(id.seq).as_bytes());
    out
}

/// The next ID after `id`, or `None` past the maximum.
pub fn incr_id(id: StreamId) -> Option<StreamId> {
    if id.seq < u64::MAX {
        Some(StreamId {
            ms: id.ms,
            seq: id.seq + 1,
        })
    } else if id.ms < u64::MAX {
        Some(StreamId {
            ms: id.ms + 1,
            seq: 0,
        })
    } else {
        None
    }
}

/// The ID before `id`, or `None` below 0-0.
pub fn decr_id(id: StreamId) -> Option<StreamId> {
    if id.seq > 0 {
        Some(StreamId {
            ms: id.ms,
            seq: id.seq - 1,
        })
    } else if id.ms > 0 {
        Some(StreamId {
            ms: id.ms - 1,
            seq: u64::MAX,
        })
    } else {
        None
    }
}

/// A decimal unsigned 64-bit number, digits only.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

// ---- Field packing ---------------------------------------------------------------------------

fn pack(pairs: &[(&[u8], &[u8])]) -> Box<[u8]> {
    let size: usize = pairs.iter().map(|(f, v)| 8 + f.len() + v.len()).sum();
    let mut out = Vec::with_capacity(size);
    for s in pairs.iter().flat_map(|(f, v)| [f, v]) {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s);
    }
    out.into_boxed_slice()
}

/// The strings of a packed entry: field, value, field, value...
pub struct Strings<'a>(&'a [u8]);

impl<'a> Iterator for Strings<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (len, rest) = self.0.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        let (s, rest) = rest.split_at(len.min(rest.len()));
        self.0 = rest;
        Some(s)
    }
}

/// An entry: its ID and packed fields.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    pub id: StreamId,
    packed: &'a [u8],
}

impl<'a> EntryRef<'a> {
    pub fn strings(&self) -> Strings<'a> {
        Strings(self.packed)
    }

    /// Number of strings (twice the number of fields).
    pub fn string_count(&self) -> usize {
        self.strings().count()
    }
}

// ---- The stream ------------------------------------------------------------------------------

impl Stream {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first entry's ID, or 0-0 when empty.
    pub fn first_id(&self) -> StreamId {
        self.entries.keys().next().copied().unwrap_or_default()
    }

    pub fn first(&self) -> Option<EntryRef<'_>> {
        self.entries.iter().next().map(entry_ref)
    }

    pub fn last(&self) -> Option<EntryRef<'_>> {
        self.entries.iter().next_back().map(entry_ref)
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.entries.contains_key(&id)
    }

    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        self.entries.get_key_value(&id).map(entry_ref)
    }

    /// The ID an append would take: `given` as is, `given` with an automatic sequence
    /// (`seq_given` false), or from `now_ms` (`given` None).
    pub fn next_id(
        &self,
        given: Option<StreamId>,
        seq_given: bool,
        now_ms: u64,
    ) -> Result<StreamId, AppendError> {
        let last = self.last_id;
        let id = match given {
            Some(id) if seq_given => id,
            Some(id) => {
                if id.ms == last.ms {
                    let seq = last.seq.checked_add(1).ok_or(AppendError::NotGreater)?;
                    StreamId { ms: id.ms, seq }
                } else {
                    StreamId { ms: id.ms, seq: 0 }
                }
            }
            None if now_ms > last.ms => StreamId { ms: now_ms, seq: 0 },
            None => incr_id(last).ok_or(AppendError::NotGreater)?,
        };
        if id <= last {
            return Err(AppendError::NotGreater);
        }
        Ok(id)
    }

    /// Appends an entry with `id` (from [`Stream::next_id`]), in nodes of the default size.
    pub fn append(&mut self, id: StreamId, pairs: &[(&[u8], &[u8])]) {
        self.append_in_nodes(id, pairs, DEFAULT_NODE_ENTRIES);
    }

    /// Appends an entry with `id`, starting a new node once the last has `node_entries`
    /// slots used (0: no limit).
    pub fn append_in_nodes(&mut self, id: StreamId, pairs: &[(&[u8], &[u8])], node_entries: usize) {
        self.entries.insert(id, pack(pairs));
        self.place(id, node_entries);
        self.last_id = id;
        self.entries_added += 1;
    }

    fn place(&mut self, id: StreamId, node_entries: usize) {
        match self.nodes.iter_mut().next_back() {
            Some((_, n)) if node_entries == 0 || n.slots < node_entries => {
                n.slots += 1;
                n.live += 1;
            }
            _ => {
                self.nodes.insert(id, Node { slots: 1, live: 1 });
            }
        }
    }

    /// Inserts an entry as loaded from a file, without touching the metadata or the nodes
    /// (see [`Stream::set_loaded_nodes`]).
    pub fn insert_loaded(&mut self, id: StreamId, strings: &[Vec<u8>]) {
        let pairs: Vec<(&[u8], &[u8])> = strings
            .chunks_exact(2)
            .map(|p| (&p[0][..], &p[1][..]))
            .collect();
        self.entries.insert(id, pack(&pairs));
    }

    /// The nodes of a loaded stream, as its file had them, when they account for every
    /// entry; otherwise nodes of the default size over the entries.
    pub fn set_loaded_nodes(&mut self, nodes: Vec<(StreamId, Node)>) {
        let live: usize = nodes.iter().map(|(_, n)| n.live).sum();
        let sound = nodes.iter().all(|(start, n)| {
            n.live > 0 && n.slots >= n.live && self.entries.range(*start..).next().is_some()
        });
        self.nodes.clear();
        if sound && live == self.entries.len() {
            self.nodes.extend(nodes);
            return;
        }
        let ids: Vec<StreamId> = self.entries.keys().copied().collect();
        for id in ids {
            self.place(id, DEFAULT_NODE_ENTRIES);
        }
    }

    /// The first IDs of Redis's nodes.
    pub fn node_starts(&self) -> impl Iterator<Item = StreamId> + '_ {
        self.nodes.keys().copied()
    }

    /// Removes entry `id` (which exists) from its node, dropping the node when it empties.
    fn unplace(&mut self, id: StreamId) {
        let Some((&start, n)) = self.nodes.range_mut(..=id).next_back() else {
            return;
        };
        n.live -= 1;
        if n.live == 0 {
            self.nodes.remove(&start);
        }
    }

    /// Deletes one entry; true if it existed.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if self.entries.remove(&id).is_none() {
            return false;
        }
        self.unplace(id);
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        true
    }

    /// Entries with IDs in `start..=end`, ascending or descending.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = EntryRef<'_>> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        let it = self.entries.range(start..=end).map(entry_ref);
        if rev {
            Box::new(it.rev())
        } else {
            Box::new(it)
        }
    }

    /// Trims to at most `maxlen` entries (MAXLEN) or drops entries below `minid` (MINID),
    /// node by node as Redis does: whole nodes while they fit, then (unless `approx`)
    /// entries of the next node. At most `limit` entries go (0: no limit), counted in whole
    /// nodes. Returns how many were removed.
    pub fn trim(&mut self, strategy: Trim, approx: bool, limit: usize) -> usize {
        let mut removed = 0;
        while let Some((&start, &node)) = self.nodes.iter().next() {
            if let Trim::MaxLen(maxlen) = strategy {
                if self.entries.len() <= maxlen {
                    break;
                }
            }
            if limit > 0 && removed + node.live > limit {
                break;
            }
            let end = self
                .nodes
                .range(incr_id(start).unwrap_or(StreamId::MAX)..)
                .next()
                .and_then(|(next, _)| decr_id(*next))
                .unwrap_or(StreamId::MAX);
            let whole = match strategy {
                Trim::MaxLen(maxlen) => self.entries.len() - node.live >= maxlen,
                Trim::MinId(minid) => self
                    .entries
                    .range(start..=end)
                    .next_back()
                    .is_some_and(|(last, _)| *last < minid),
            };
            if whole {
                let ids: Vec<StreamId> =
                    self.entries.range(start..=end).map(|(id, _)| *id).collect();
                for id in &ids {
                    self.entries.remove(id);
                }
                self.nodes.remove(&start);
                removed += ids.len();
                continue;
            }
            if approx {
                break;
            }
            // Trimming leaves the max deleted ID alone, as in Redis 7.0.
            let ids: Vec<StreamId> = self.entries.range(start..=end).map(|(id, _)| *id).collect();
            for id in ids {
                let stop = match strategy {
                    Trim::MaxLen(maxlen) => self.entries.len() <= maxlen,
                    Trim::MinId(minid) => id >= minid,
                };
                if stop {
                    break;
                }
                self.entries.remove(&id);
                self.unplace(id);
                removed += 1;
            }
            break;
        }
        removed
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_bytes(&self) -> usize {
        let entries: usize = self.entries.values().map(|p| p.len() + 48).sum();
        let groups: usize = self
            .groups
            .values()
            .map(|g| 64 + g.pel.len() * 64 + g.consumers.len() * 64)
            .sum();
        entries + groups
    }

    /// Entries added at or after `id` could still be unread: the count of entries read by
    /// a group at `id`, if it can be known (Redis's `streamEstimateDistanceFromFirstEverEntry`).
    pub fn estimate_read(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.is_empty() && id < self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        if self.max_deleted_id == StreamId::default() || self.max_deleted_id < self.first_id() {
            if id < self.first_id() {
                return Some(self.entries_added - self.len() as u64);
            }
            if id == self.first_id() {
                return Some(self.entries_added - self.len() as u64 + 1);
            }
        }
        None
    }

    /// Whether a group at `last_delivered` has a valid read counter, per Redis's rule
    /// (`streamRangeHasTombstones` over the range the group has yet to read).
    pub fn lag_valid(&self, last_delivered: StreamId) -> bool {
        if self.is_empty() || self.max_deleted_id == StreamId::default() {
            return true;
        }
        let start = last_delivered.max(self.first_id());
        !(start <= self.max_deleted_id && self.max_deleted_id <= self.last_id)
    }
}

/// A trimming strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    MaxLen(usize),
    MinId(StreamId),
}

#[allow(clippy::borrowed_box)] // the shape BTreeMap's iterator yields
fn entry_ref<'a>((id, packed): (&StreamId, &'a Box<[u8]>)) -> EntryRef<'a> {
    EntryRef {
        id: *id,
        packed: &packed[..],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    #[test]
    fn append_range_and_fields() {
        let mut s = Stream::default();
        let a = s.next_id(None, false, 5).unwrap();
        assert_eq!(a, id(5, 0));
        s.append(a, &[(b"f", b"v"), (b"g", b"")]);
        let b = s.next_id(None, false, 5).unwrap();
        assert_eq!(b, id(5, 1));
        s.append(b, &[(b"x", b"y")]);
        let got: Vec<Vec<&[u8]>> = s
            .range(id(0, 0), StreamId::MAX, false)
            .map(|e| e.strings().collect())
            .collect();
        assert_eq!(
            got,
            vec![vec![&b"f"[..], b"v", b"g", b""], vec![b"x", b"y"]]
        );
        assert_eq!(
            s.next_id(Some(id(5, 1)), true, 0),
            Err(AppendError::NotGreater)
        );
        assert_eq!(s.next_id(Some(id(5, 0)), false, 0), Ok(id(5, 2)));
    }

    #[test]
    fn trims_exact_and_by_units() {
        let mut s = Stream::default();
        for i in 1..=250 {
            s.append(id(i, 0), &[(b"f", b"v")]);
        }
        assert_eq!(s.trim(Trim::MaxLen(120), true, 0), 100);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(Trim::MaxLen(120), false, 0), 30);
        assert_eq!(s.first_id(), id(131, 0));
        assert_eq!(s.trim(Trim::MinId(id(200, 0)), false, 0), 69);
        // The node that began at 101 keeps 200; the one from 201 is whole.
        assert_eq!(
            s.node_starts().collect::<Vec<_>>(),
            [id(101, 0), id(201, 0)]
        );
        assert_eq!(s.max_deleted_id, StreamId::default());
    }
}
