//! Between the keyspace's streams (`types::stream`) and the RDB codec's stream form
//! (`rudis_rdb::Stream`): node listpacks delta-coded against each node's first entry, as
//! Redis 7.0 writes them, and the groups with their PELs and consumers.
//!
//! A node holds at most `stream-node-max-entries` entries (at least one), and its master
//! fields are its first entry's fields: entries with the same fields store values only.

use rudis_rdb::listpack::Builder;
use rudis_rdb::stream as rs;

use crate::types::stream::{Consumer, EntryRef, Group, Node, Pending, Stream, StreamId};

const FLAG_SAME_FIELDS: i64 = 2;

/// The RDB form of `s`, with nodes of at most `node_entries_max` entries.
pub fn to_rdb(s: &Stream, node_entries_max: usize) -> rs::Stream {
    let all: Vec<EntryRef<'_>> = s.range(StreamId::default(), StreamId::MAX, false).collect();
    let nodes = all
        .chunks(node_entries_max.max(1))
        .map(|chunk| node(chunk))
        .collect();
    rs::Stream {
        nodes,
        length: s.len() as u64,
        last_id: s.last_id,
        first_id: s.first_id(),
        max_deleted_entry_id: s.max_deleted_id,
        entries_added: s.entries_added,
        groups: s.groups.iter().map(|(n, g)| group_to_rdb(n, g)).collect(),
    }
}

fn node(chunk: &[EntryRef<'_>]) -> rs::StreamNode {
    let master = chunk[0];
    let master_fields: Vec<&[u8]> = master.strings().step_by(2).collect();
    let mut lp = Builder::new();
    lp.push_int(chunk.len() as i64);
    lp.push_int(0);
    lp.push_int(master_fields.len() as i64);
    for f in &master_fields {
        lp.push(f);
    }
    lp.push_int(0);
    for e in chunk {
        let fields: Vec<&[u8]> = e.strings().step_by(2).collect();
        let same = fields == master_fields;
        lp.push_int(if same { FLAG_SAME_FIELDS } else { 0 });
        lp.push_int(e.id.ms.wrapping_sub(master.id.ms) as i64);
        lp.push_int(e.id.seq.wrapping_sub(master.id.seq) as i64);
        let strings = if same {
            for v in e.strings().skip(1).step_by(2) {
                lp.push(v);
            }
            fields.len() + 3
        } else {
            lp.push_int(fields.len() as i64);
            for s in e.strings() {
                lp.push(s);
            }
            fields.len() * 2 + 4
        };
        lp.push_int(strings as i64);
    }
    rs::StreamNode {
        master_id: master.id,
        listpack: lp.finish(),
    }
}

fn group_to_rdb(name: &[u8], g: &Group) -> rs::ConsumerGroup {
    rs::ConsumerGroup {
        name: name.to_vec(),
        last_id: g.last_id,
        entries_read: g.entries_read.unwrap_or(u64::MAX),
        pending: g
            .pel
            .iter()
            .map(|(id, p)| rs::PendingEntry {
                id: *id,
                delivery_time_ms: p.delivery_time_ms,
                delivery_count: p.delivery_count,
            })
            .collect(),
        consumers: g
            .consumers
            .iter()
            .map(|(n, c)| rs::Consumer {
                name: n.clone(),
                seen_time_ms: c.seen_time_ms,
                pending: c.pending.iter().copied().collect(),
            })
            .collect(),
    }
}

/// The keyspace form of a loaded stream (which the RDB reader has checked completely).
pub fn from_rdb(r: rs::Stream) -> Result<Stream, &'static str> {
    let mut s = Stream::default();
    for (id, pairs) in r.entries()? {
        let strings: Vec<Vec<u8>> = pairs.into_iter().flat_map(|(f, v)| [f, v]).collect();
        s.insert_loaded(id, &strings);
    }
    s.set_loaded_nodes(r.nodes.iter().filter_map(node_fill).collect());
    s.last_id = r.last_id;
    s.max_deleted_id = r.max_deleted_entry_id;
    s.entries_added = r.entries_added;
    for g in r.groups {
        s.groups.insert(g.name.clone(), group_from_rdb(g)?);
    }
    Ok(s)
}

/// A node's first ID and fill, from its listpack's header (live count, deleted count).
fn node_fill(n: &rs::StreamNode) -> Option<(StreamId, Node)> {
    let mut header = rudis_rdb::listpack::entries(&n.listpack);
    let live = usize::try_from(header.next()?.as_i64()?).ok()?;
    let deleted = usize::try_from(header.next()?.as_i64()?).ok()?;
    let node = Node {
        slots: live.checked_add(deleted)?,
        live,
    };
    Some((n.master_id, node))
}

fn group_from_rdb(g: rs::ConsumerGroup) -> Result<Group, &'static str> {
    let mut out = Group {
        last_id: g.last_id,
        entries_read: (g.entries_read != u64::MAX).then_some(g.entries_read),
        ..Group::default()
    };
    let mut times = std::collections::BTreeMap::new();
    for p in g.pending {
        times.insert(p.id, (p.delivery_time_ms, p.delivery_count));
    }
    for c in g.consumers {
        for id in &c.pending {
            let (delivery_time_ms, delivery_count) = *times
                .get(id)
                .ok_or("consumer PEL entry missing from group PEL")?;
            out.pel.insert(
                *id,
                Pending {
                    consumer: c.name.clone(),
                    delivery_time_ms,
                    delivery_count,
                },
            );
        }
        let consumer = Consumer {
            seen_time_ms: c.seen_time_ms,
            pending: c.pending.into_iter().collect(),
        };
        out.consumers.insert(c.name, consumer);
    }
    if out.pel.len() != times.len() {
        return Err("group PEL entry without a consumer");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream with a group, two consumers and pending entries.
    fn sample() -> Stream {
        let mut s = Stream::default();
        for i in 1..=7u64 {
            s.append(StreamId { ms: i, seq: 0 }, &[(b"f", b"v")]);
        }
        s.groups.insert(b"g".to_vec(), Group::default());
        let g = s.groups.get_mut(&b"g"[..]).unwrap();
        g.consumer_touch(b"a", 10);
        g.consumer_touch(b"b", 11);
        g.assign(StreamId { ms: 2, seq: 0 }, b"a", 12, 3);
        g.assign(StreamId { ms: 3, seq: 0 }, b"b", 13, 1);
        g.last_id = StreamId { ms: 3, seq: 0 };
        s
    }

    #[test]
    fn damaged_group_payloads_are_refused_without_panicking() {
        use crate::keyspace::Value;
        use crate::persist::codec::{decode_payload, encode_payload};
        let cfg = crate::config::Config::default();
        let payload = encode_payload(&Value::Stream(Box::new(sample())), false);
        assert!(decode_payload(&payload, true, &cfg).is_ok());
        for at in 0..payload.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = payload.clone();
                bad[at] ^= flip;
                let _ = decode_payload(&bad, false, &cfg);
            }
            let _ = decode_payload(&payload[..at], false, &cfg);
        }
    }

    #[test]
    fn round_trips_through_rdb_form() {
        let mut s = Stream::default();
        for i in 1..=7u64 {
            let id = StreamId { ms: i, seq: i };
            if i % 3 == 0 {
                s.append(id, &[(b"other", b"1")]);
            } else {
                s.append(id, &[(b"f", b"v"), (b"n", b"12345")]);
            }
        }
        s.delete(StreamId { ms: 2, seq: 2 });
        let mut g = Group {
            last_id: StreamId { ms: 3, seq: 3 },
            entries_read: Some(3),
            ..Group::default()
        };
        g.pel.insert(
            StreamId { ms: 1, seq: 1 },
            Pending {
                consumer: b"c".to_vec(),
                delivery_time_ms: 5,
                delivery_count: 2,
            },
        );
        let mut c = Consumer::default();
        c.pending.insert(StreamId { ms: 1, seq: 1 });
        g.consumers.insert(b"c".to_vec(), c);
        s.groups.insert(b"g".to_vec(), g);
        let r = to_rdb(&s, 3);
        for n in &r.nodes {
            rs::validate_node(&n.listpack, n.master_id).unwrap();
        }
        let back = from_rdb(r).unwrap();
        // Nodes come back as written (three entries each, tombstones gone).
        assert_eq!(back.node_starts().count(), 2);
        let all = |s: &Stream| {
            s.range(StreamId::default(), StreamId::MAX, false)
                .map(|e| (e.id, e.strings().map(<[u8]>::to_vec).collect::<Vec<_>>()))
                .collect::<Vec<_>>()
        };
        assert_eq!(all(&back), all(&s));
        assert_eq!(
            (back.last_id, back.max_deleted_id, back.entries_added),
            (s.last_id, s.max_deleted_id, s.entries_added)
        );
        assert_eq!(back.groups, s.groups);
    }
}
