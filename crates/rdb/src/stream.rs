//! Streams (RDB types 15 and 19), parsed completely and kept as an opaque, checked structure
//! that the writer re-emits: Rudis has no stream type yet, so a stream read from a file
//! survives a load and a save unchanged.
//!
//! On disk a stream is its radix tree's nodes (a 16-byte big-endian master ID and a listpack
//! of entries delta-encoded against it), the metadata (length, last, first and max-deleted
//! IDs, entries added), and the consumer groups with their pending entries lists (PELs) and
//! consumers. Type 15 (Redis 5 and 6) lacks the first and max-deleted IDs, entries added and
//! the groups' read counters: they are derived on load as Redis 7.0 does, so the writer always
//! emits type 19.
//!
//! Checks made on load: every node listpack as Redis's deep stream check does; no duplicate
//! node, group, consumer or pending ID; every consumer's pending ID in its group's PEL; every
//! PEL entry owned by exactly one consumer.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};

use crate::error::{Error, Result};
use crate::input::Input;
use crate::listpack::Cursor;
use crate::output::Output;

/// A stream entry ID.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// The 16-byte big-endian form used as radix tree key.
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    pub fn from_be_bytes(b: [u8; 16]) -> StreamId {
        let (ms, seq) = b.split_at(8);
        StreamId {
            ms: u64::from_be_bytes(ms.try_into().expect("8 bytes")),
            seq: u64::from_be_bytes(seq.try_into().expect("8 bytes")),
        }
    }
}

/// One radix tree node: entries delta-encoded against `master_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamNode {
    pub master_id: StreamId,
    pub listpack: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEntry {
    pub id: StreamId,
    pub delivery_time_ms: i64,
    pub delivery_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub name: Vec<u8>,
    pub seen_time_ms: i64,
    /// IDs of this consumer's entries in its group's PEL.
    pub pending: Vec<StreamId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroup {
    pub name: Vec<u8>,
    pub last_id: StreamId,
    /// The group's logical read counter; `u64::MAX` (Redis's -1) when unknown.
    pub entries_read: u64,
    pub pending: Vec<PendingEntry>,
    pub consumers: Vec<Consumer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// Nodes in ascending master ID order.
    pub nodes: Vec<StreamNode>,
    /// Number of live entries.
    pub length: u64,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_entry_id: StreamId,
    pub entries_added: u64,
    pub groups: Vec<ConsumerGroup>,
}

/// `u64::MAX`: Redis's "unknown" read counter.
const ENTRIES_READ_UNKNOWN: u64 = u64::MAX;
const FLAG_DELETED: i64 = 1;
const FLAG_SAME_FIELDS: i64 = 2;

// ---- Node listpacks -------------------------------------------------------------------------

/// Reads stream listpack entries, failing on a malformed or missing one.
struct NodeReader<'a>(Cursor<'a>);

impl NodeReader<'_> {
    fn skip(&mut self) -> std::result::Result<(), &'static str> {
        self.0.next()?.ok_or("stream listpack ends early")?;
        Ok(())
    }

    fn bytes(&mut self) -> std::result::Result<Vec<u8>, &'static str> {
        Ok(self.0.next()?.ok_or("stream listpack ends early")?.to_vec())
    }

    fn int(&mut self) -> std::result::Result<i64, &'static str> {
        let e = self.0.next()?.ok_or("stream listpack ends early")?;
        e.as_i64()
            .ok_or("stream listpack holds a string where a number belongs")
    }

    fn count(&mut self) -> std::result::Result<u64, &'static str> {
        u64::try_from(self.int()?).map_err(|_| "stream listpack holds a negative count")
    }
}

/// Checks a node listpack as Redis's deep stream check does. Returns the ID of its first
/// live (not deleted) entry, if any.
pub fn validate_node(
    lp: &[u8],
    master_id: StreamId,
) -> std::result::Result<Option<StreamId>, &'static str> {
    let mut r = NodeReader(Cursor::new(lp)?);
    let live = r.count()?;
    let deleted = r.count()?;
    let master_fields = r.count()?;
    for _ in 0..master_fields {
        r.skip()?;
    }
    if r.int()? != 0 {
        return Err("stream listpack master entry lacks its terminator");
    }
    let total = live
        .checked_add(deleted)
        .ok_or("stream listpack entry count overflows")?;
    let mut first_live = None;
    for _ in 0..total {
        let id = validate_entry(&mut r, master_fields, master_id)?;
        if first_live.is_none() {
            first_live = id;
        }
    }
    if !r.0.at_end() {
        return Err("stream listpack has entries past its count");
    }
    Ok(first_live)
}

/// Checks one entry; returns its ID if it is live.
fn validate_entry(
    r: &mut NodeReader<'_>,
    master_fields: u64,
    master_id: StreamId,
) -> std::result::Result<Option<StreamId>, &'static str> {
    let flags = r.int()?;
    let id = StreamId {
        ms: master_id.ms.wrapping_add(r.int()? as u64),
        seq: master_id.seq.wrapping_add(r.int()? as u64),
    };
    // Shared fields: the values only. Own fields: a count, then names and values interleaved.
    // lp-count counts the entry's listpack entries before it.
    let (payload, header) = if flags & FLAG_SAME_FIELDS != 0 {
        (master_fields, 3)
    } else {
        let fields = r.count()?;
        (
            fields
                .checked_mul(2)
                .ok_or("stream entry field count overflows")?,
            4,
        )
    };
    for _ in 0..payload {
        r.skip()?;
    }
    if payload.checked_add(header) != Some(r.count()?) {
        return Err("stream entry has a wrong lp-count");
    }
    Ok((flags & FLAG_DELETED == 0).then_some(id))
}

/// A live entry: its ID and field-value pairs.
pub type StreamEntry = (StreamId, Vec<(Vec<u8>, Vec<u8>)>);

impl Stream {
    /// The live entries in ID order, as XRANGE returns them; an error if a node is invalid
    /// (never for a stream the reader returned).
    pub fn entries(&self) -> std::result::Result<Vec<StreamEntry>, &'static str> {
        let mut out = Vec::new();
        for node in &self.nodes {
            node_entries(&node.listpack, node.master_id, &mut out)?;
        }
        Ok(out)
    }
}

fn node_entries(
    lp: &[u8],
    master_id: StreamId,
    out: &mut Vec<StreamEntry>,
) -> std::result::Result<(), &'static str> {
    let mut r = NodeReader(Cursor::new(lp)?);
    let total = r.count()?.saturating_add(r.count()?);
    let master_fields = (0..r.count()?)
        .map(|_| r.bytes())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    r.skip()?;
    for _ in 0..total {
        let flags = r.int()?;
        let id = StreamId {
            ms: master_id.ms.wrapping_add(r.int()? as u64),
            seq: master_id.seq.wrapping_add(r.int()? as u64),
        };
        // Entries with their own fields interleave names and values.
        let mut pairs = Vec::new();
        if flags & FLAG_SAME_FIELDS != 0 {
            for f in &master_fields {
                pairs.push((f.clone(), r.bytes()?));
            }
        } else {
            for _ in 0..r.count()? {
                pairs.push((r.bytes()?, r.bytes()?));
            }
        }
        r.skip()?;
        if flags & FLAG_DELETED == 0 {
            out.push((id, pairs));
        }
    }
    Ok(())
}

// ---- Reading --------------------------------------------------------------------------------

/// Reads a stream of RDB type 15 (`v2` false) or 19 (`v2` true).
pub(crate) fn read<R: Read>(input: &mut Input<R>, v2: bool) -> Result<Stream> {
    let (nodes, first_live) = read_nodes(input)?;
    let at = input.offset();
    let length = input.len("the stream length")?;
    let last_id = read_id(input, "the stream's last ID")?;
    let mut s = Stream {
        nodes,
        length,
        last_id,
        first_id: first_live.unwrap_or(StreamId::MAX),
        max_deleted_entry_id: StreamId::default(),
        entries_added: length,
        groups: Vec::new(),
    };
    if v2 {
        s.first_id = read_id(input, "the stream's first ID")?;
        s.max_deleted_entry_id = read_id(input, "the stream's max deleted ID")?;
        s.entries_added = input.len("the stream's entries added")?;
    }
    if s.length != 0 && s.nodes.is_empty() {
        return Err(Error::corrupt(
            at,
            "stream length inconsistent with its nodes",
        ));
    }
    let groups = input.len("the stream's group count")?;
    let mut names = HashSet::new();
    for _ in 0..groups {
        let at = input.offset();
        let group = read_group(input, &s, v2)?;
        if !names.insert(group.name.clone()) {
            return Err(Error::corrupt(at, "duplicate stream consumer group"));
        }
        s.groups.push(group);
    }
    Ok(s)
}

fn read_id<R: Read>(input: &mut Input<R>, what: &'static str) -> Result<StreamId> {
    Ok(StreamId {
        ms: input.len(what)?,
        seq: input.len(what)?,
    })
}

/// Reads the nodes, sorted by master ID; also returns the first live entry's ID.
fn read_nodes<R: Read>(input: &mut Input<R>) -> Result<(Vec<StreamNode>, Option<StreamId>)> {
    let count = input.len("the stream node count")?;
    let mut nodes = Vec::with_capacity(count.min(1024) as usize);
    let mut first_live = Vec::new();
    for _ in 0..count {
        let at = input.offset();
        let key = input.string("a stream node key")?;
        let master_id = <[u8; 16]>::try_from(&key[..])
            .map(StreamId::from_be_bytes)
            .map_err(|_| Error::corrupt(at, "stream node key is not the size of a stream ID"))?;
        let at = input.offset();
        let listpack = input.string("a stream node listpack")?;
        let live = validate_node(&listpack, master_id).map_err(|e| Error::corrupt(at, e))?;
        first_live.push((master_id, live));
        nodes.push(StreamNode {
            master_id,
            listpack,
        });
    }
    nodes.sort_by_key(|n| n.master_id);
    if nodes.windows(2).any(|w| w[0].master_id == w[1].master_id) {
        return Err(Error::corrupt(
            input.offset(),
            "stream has two nodes with one master ID",
        ));
    }
    first_live.sort_by_key(|(id, _)| *id);
    Ok((nodes, first_live.into_iter().find_map(|(_, live)| live)))
}

fn read_group<R: Read>(input: &mut Input<R>, s: &Stream, v2: bool) -> Result<ConsumerGroup> {
    let name = input.string("a consumer group name")?;
    let last_id = read_id(input, "a consumer group's last ID")?;
    let entries_read = if v2 {
        input.len("a consumer group's read counter")?
    } else {
        estimate_entries_read(s, last_id)
    };
    let pending = read_pel(input)?;
    let consumers = read_consumers(input, &pending)?;
    Ok(ConsumerGroup {
        name,
        last_id,
        entries_read,
        pending,
        consumers,
    })
}

fn read_pel<R: Read>(input: &mut Input<R>) -> Result<Vec<PendingEntry>> {
    let count = input.len("a consumer group PEL size")?;
    let mut pel = Vec::with_capacity(count.min(1024) as usize);
    let mut seen = HashSet::new();
    for _ in 0..count {
        let at = input.offset();
        let id = StreamId::from_be_bytes(input.array("a PEL entry ID")?);
        let delivery_time_ms = input.i64_le("a PEL delivery time")?;
        let delivery_count = input.len("a PEL delivery count")?;
        if !seen.insert(id) {
            return Err(Error::corrupt(
                at,
                "duplicate entry in a consumer group PEL",
            ));
        }
        pel.push(PendingEntry {
            id,
            delivery_time_ms,
            delivery_count,
        });
    }
    Ok(pel)
}

fn read_consumers<R: Read>(input: &mut Input<R>, pel: &[PendingEntry]) -> Result<Vec<Consumer>> {
    let count = input.len("a consumer count")?;
    let mut owned: HashMap<StreamId, bool> = pel.iter().map(|p| (p.id, false)).collect();
    let mut names = HashSet::new();
    let mut consumers = Vec::with_capacity(count.min(1024) as usize);
    for _ in 0..count {
        let at = input.offset();
        let name = input.string("a consumer name")?;
        if !names.insert(name.clone()) {
            return Err(Error::corrupt(at, "duplicate stream consumer"));
        }
        let seen_time_ms = input.i64_le("a consumer's seen time")?;
        let n = input.len("a consumer PEL size")?;
        let mut pending = Vec::with_capacity(n.min(1024) as usize);
        for _ in 0..n {
            let at = input.offset();
            let id = StreamId::from_be_bytes(input.array("a consumer PEL entry ID")?);
            match owned.get_mut(&id) {
                None => {
                    return Err(Error::corrupt(
                        at,
                        "consumer PEL entry not in its group's PEL",
                    ))
                }
                Some(true) => return Err(Error::corrupt(at, "PEL entry owned by two consumers")),
                Some(o) => *o = true,
            }
            pending.push(id);
        }
        consumers.push(Consumer {
            name,
            seen_time_ms,
            pending,
        });
    }
    if owned.values().any(|&o| !o) {
        return Err(Error::corrupt(
            input.offset(),
            "consumer group PEL entry without consumer",
        ));
    }
    Ok(consumers)
}

/// A group's read counter for a type-15 stream (`streamEstimateDistanceFromFirstEverEntry`).
fn estimate_entries_read(s: &Stream, id: StreamId) -> u64 {
    if s.entries_added == 0 {
        return 0;
    }
    if s.length == 0 && id <= s.last_id {
        return s.entries_added;
    }
    if id == s.last_id {
        return s.entries_added;
    }
    if id > s.last_id {
        return ENTRIES_READ_UNKNOWN;
    }
    let no_fragmentation =
        s.max_deleted_entry_id == StreamId::default() || s.max_deleted_entry_id < s.first_id;
    if no_fragmentation {
        if id < s.first_id {
            return s.entries_added - s.length;
        }
        if id == s.first_id {
            return s.entries_added - s.length + 1;
        }
    }
    ENTRIES_READ_UNKNOWN
}

// ---- Writing --------------------------------------------------------------------------------

fn write_id<W: Write>(out: &mut Output<W>, id: StreamId) -> Result<()> {
    out.len(id.ms)?;
    out.len(id.seq)
}

/// Writes the body of an RDB type 19 value.
pub(crate) fn write<W: Write>(out: &mut Output<W>, s: &Stream) -> Result<()> {
    out.len(s.nodes.len() as u64)?;
    for node in &s.nodes {
        out.string(&node.master_id.to_be_bytes())?;
        out.string(&node.listpack)?;
    }
    out.len(s.length)?;
    write_id(out, s.last_id)?;
    write_id(out, s.first_id)?;
    write_id(out, s.max_deleted_entry_id)?;
    out.len(s.entries_added)?;
    out.len(s.groups.len() as u64)?;
    for g in &s.groups {
        write_group(out, g)?;
    }
    Ok(())
}

fn write_group<W: Write>(out: &mut Output<W>, g: &ConsumerGroup) -> Result<()> {
    out.string(&g.name)?;
    write_id(out, g.last_id)?;
    out.len(g.entries_read)?;
    out.len(g.pending.len() as u64)?;
    for p in &g.pending {
        out.write(&p.id.to_be_bytes())?;
        out.i64_le(p.delivery_time_ms)?;
        out.len(p.delivery_count)?;
    }
    out.len(g.consumers.len() as u64)?;
    for c in &g.consumers {
        out.string(&c.name)?;
        out.i64_le(c.seen_time_ms)?;
        out.len(c.pending.len() as u64)?;
        for id in &c.pending {
            out.write(&id.to_be_bytes())?;
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::listpack::Builder;

    /// One test entry: ms delta, seq delta, fields and values, deleted.
    pub type TestEntry<'a> = (i64, i64, &'a [(&'a [u8], &'a [u8])], bool);

    /// A node listpack as Redis builds it: `entries` are (ms delta, seq delta, fields and
    /// values, deleted); the first entry's fields become the master fields.
    pub fn node(entries: &[TestEntry<'_>]) -> Vec<u8> {
        let master: Vec<&[u8]> = entries[0].2.iter().map(|(f, _)| *f).collect();
        let live = entries.iter().filter(|e| !e.3).count();
        let mut b = Builder::new();
        b.push_int(live as i64);
        b.push_int((entries.len() - live) as i64);
        b.push_int(master.len() as i64);
        for f in &master {
            b.push(f);
        }
        b.push_int(0);
        for (ms, seq, fv, deleted) in entries {
            let same = fv.iter().map(|(f, _)| *f).eq(master.iter().copied());
            let flags = i64::from(*deleted) | if same { FLAG_SAME_FIELDS } else { 0 };
            b.push_int(flags);
            b.push_int(*ms);
            b.push_int(*seq);
            if same {
                for (_, v) in *fv {
                    b.push(v);
                }
            } else {
                b.push_int(fv.len() as i64);
                for (f, v) in *fv {
                    b.push(f);
                    b.push(v);
                }
            }
            let extra = if same { 3 } else { fv.len() as i64 + 4 };
            b.push_int(fv.len() as i64 + extra);
        }
        b.finish()
    }

    pub fn sample() -> Stream {
        let id = |ms, seq| StreamId { ms, seq };
        let lp = node(&[
            (0, 0, &[(b"f", b"v")], false),
            (0, 1, &[(b"f", b"w")], true),
            (5, 0, &[(b"g", b"x"), (b"h", b"y")], false),
        ]);
        Stream {
            nodes: vec![StreamNode {
                master_id: id(100, 0),
                listpack: lp,
            }],
            length: 2,
            last_id: id(105, 0),
            first_id: id(100, 0),
            max_deleted_entry_id: id(100, 1),
            entries_added: 3,
            groups: vec![ConsumerGroup {
                name: b"g1".to_vec(),
                last_id: id(105, 0),
                entries_read: 3,
                pending: vec![PendingEntry {
                    id: id(100, 0),
                    delivery_time_ms: 1_700_000_000_000,
                    delivery_count: 2,
                }],
                consumers: vec![
                    Consumer {
                        name: b"alice".to_vec(),
                        seen_time_ms: 1_700_000_000_001,
                        pending: vec![id(100, 0)],
                    },
                    Consumer {
                        name: b"bob".to_vec(),
                        seen_time_ms: 5,
                        pending: vec![],
                    },
                ],
            }],
        }
    }

    fn encode(s: &Stream) -> Vec<u8> {
        let mut out = Output::new(Vec::new(), false, true);
        write(&mut out, s).unwrap();
        out.into_inner()
    }

    #[test]
    fn node_validation_finds_the_first_live_entry() {
        let s = sample();
        let master = s.nodes[0].master_id;
        assert_eq!(
            validate_node(&s.nodes[0].listpack, master),
            Ok(Some(master))
        );
        let deleted_first = node(&[
            (0, 0, &[(b"f", b"v")], true),
            (1, 0, &[(b"f", b"v")], false),
        ]);
        assert_eq!(
            validate_node(&deleted_first, master),
            Ok(Some(StreamId { ms: 101, seq: 0 }))
        );
    }

    #[test]
    fn node_validation_rejects_corruption() {
        let lp = sample().nodes[0].listpack.clone();
        for i in 0..lp.len() {
            for bit in 0..8 {
                let mut bad = lp.clone();
                bad[i] ^= 1 << bit;
                let _ = validate_node(&bad, StreamId::default());
            }
        }
        let mut b = Builder::new();
        for v in [1, 0, 1] {
            b.push_int(v);
        }
        b.push(b"f");
        b.push_int(0);
        assert!(validate_node(&b.finish(), StreamId::default()).is_err());
    }

    #[test]
    fn entries_decode_live_entries() {
        let got = sample().entries().unwrap();
        let pair = |f: &[u8], v: &[u8]| (f.to_vec(), v.to_vec());
        assert_eq!(
            got,
            vec![
                (StreamId { ms: 100, seq: 0 }, vec![pair(b"f", b"v")]),
                (
                    StreamId { ms: 105, seq: 0 },
                    vec![pair(b"g", b"x"), pair(b"h", b"y")]
                ),
            ]
        );
    }

    #[test]
    fn write_then_read() {
        let s = sample();
        let bytes = encode(&s);
        let mut input = Input::new(&bytes[..], false);
        assert_eq!(read(&mut input, true).unwrap(), s);
        assert_eq!(input.offset() as usize, bytes.len());
    }

    #[test]
    fn type_15_derives_the_new_fields() {
        let s = sample();
        // Type 15 lacks first ID, max deleted ID, entries added and read counters.
        let mut out = Output::new(Vec::new(), false, false);
        out.len(1).unwrap();
        out.string(&s.nodes[0].master_id.to_be_bytes()).unwrap();
        out.string(&s.nodes[0].listpack).unwrap();
        out.len(s.length).unwrap();
        write_id(&mut out, s.last_id).unwrap();
        out.len(1).unwrap();
        out.string(b"g1").unwrap();
        write_id(&mut out, StreamId { ms: 100, seq: 0 }).unwrap();
        out.len(0).unwrap();
        out.len(0).unwrap();
        let bytes = out.into_inner();
        let got = read(&mut Input::new(&bytes[..], false), false).unwrap();
        assert_eq!(got.first_id, StreamId { ms: 100, seq: 0 });
        assert_eq!(got.entries_added, 2);
        assert_eq!(got.max_deleted_entry_id, StreamId::default());
        // The group read up to the first entry: one entry read.
        assert_eq!(got.groups[0].entries_read, 1);
    }

    #[test]
    fn rejects_inconsistent_groups() {
        let mut s = sample();
        s.groups[0].consumers[1]
            .pending
            .push(StreamId { ms: 100, seq: 0 });
        assert!(read(&mut Input::new(&encode(&s)[..], false), true).is_err());
        let mut s = sample();
        s.groups[0].consumers[0].pending.clear();
        assert!(read(&mut Input::new(&encode(&s)[..], false), true).is_err());
        let mut s = sample();
        s.groups[0].consumers[0]
            .pending
            .push(StreamId { ms: 1, seq: 1 });
        assert!(read(&mut Input::new(&encode(&s)[..], false), true).is_err());
        let mut s = sample();
        let g = s.groups[0].clone();
        s.groups.push(g);
        assert!(read(&mut Input::new(&encode(&s)[..], false), true).is_err());
        let mut s = sample();
        let n = s.nodes[0].clone();
        s.nodes.push(n);
        assert!(read(&mut Input::new(&encode(&s)[..], false), true).is_err());
    }
}
