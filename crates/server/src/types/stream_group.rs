//! Consumer-group bookkeeping on a [`Stream`]: delivering entries to a consumer (the PEL and
//! the group's read counter), acknowledging, moving pending entries between consumers, and
//! the lag Redis 7.0 reports.
//!
//! Invariant kept by every function here: an ID is in a group's `pel` exactly when it is in
//! the `pending` set of the consumer the PEL entry names.

use super::stream::{Consumer, Group, Pending, Stream, StreamId};

impl Group {
    /// The consumer `name`, created (seen now) if missing; its seen time is refreshed. The
    /// flag says whether it was created.
    pub fn consumer_touch(&mut self, name: &[u8], now_ms: i64) -> bool {
        match self.consumers.get_mut(name) {
            Some(c) => {
                c.seen_time_ms = now_ms;
                false
            }
            None => {
                let c = Consumer {
                    seen_time_ms: now_ms,
                    ..Consumer::default()
                };
                self.consumers.insert(name.to_vec(), c);
                true
            }
        }
    }

    /// Removes a PEL entry from the group and from its owner.
    pub fn remove_pending(&mut self, id: StreamId) -> Option<Pending> {
        let p = self.pel.remove(&id)?;
        if let Some(c) = self.consumers.get_mut(&p.consumer) {
            c.pending.remove(&id);
        }
        Some(p)
    }

    /// Makes `consumer` (which exists) own the PEL entry `id` with the given delivery time
    /// and count, creating the entry if needed.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], time_ms: i64, count: u64) {
        if let Some(old) = self.pel.get(&id) {
            if old.consumer != consumer {
                if let Some(c) = self.consumers.get_mut(&old.consumer) {
                    c.pending.remove(&id);
                }
            }
        }
        self.pel.insert(
            id,
            Pending {
                consumer: consumer.to_vec(),
                delivery_time_ms: time_ms,
                delivery_count: count,
            },
        );
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pending.insert(id);
        }
    }
}

impl Stream {
    /// Whether some entry at or after `start` was deleted (Redis's tombstone check, over
    /// `start..=end of stream`).
    pub fn tombstones_from(&self, start: StreamId) -> bool {
        !self.lag_valid(start)
    }

    /// Advances group `name`'s last delivered ID to `id` (greater than it), keeping its read
    /// counter as Redis 7.0 does: counted on while it is valid and nothing ahead was
    /// deleted, estimated again otherwise.
    pub fn advance_group(&mut self, name: &[u8], id: StreamId) {
        let tombstones = self.tombstones_from(id);
        let estimate = self.estimate_read(id);
        let added = self.entries_added;
        let Some(g) = self.groups.get_mut(name) else {
            return;
        };
        match g.entries_read {
            Some(n) if !tombstones => g.entries_read = Some(n + 1),
            _ if added != 0 => g.entries_read = estimate,
            _ => {}
        }
        g.last_id = id;
    }

    /// A group's lag: entries added but not yet read, when it can be known (negative when
    /// ENTRIESREAD claimed more reads than there were entries, as Redis prints it).
    pub fn group_lag(&self, g: &Group) -> Option<i64> {
        let unread = |read: u64| (self.entries_added as i64).wrapping_sub(read as i64);
        if self.entries_added == 0 {
            return Some(0);
        }
        if let Some(read) = g.entries_read {
            if !self.tombstones_from(g.last_id) {
                return Some(unread(read));
            }
        }
        self.estimate_read(g.last_id).map(unread)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64) -> StreamId {
        StreamId { ms, seq: 0 }
    }

    #[test]
    fn assign_moves_ownership_and_remove_clears_both_sides() {
        let mut g = Group::default();
        g.consumer_touch(b"a", 1);
        g.consumer_touch(b"b", 1);
        g.assign(id(1), b"a", 5, 1);
        g.assign(id(1), b"b", 6, 2);
        assert!(g.consumers[&b"a"[..]].pending.is_empty());
        assert!(g.consumers[&b"b"[..]].pending.contains(&id(1)));
        assert_eq!(g.pel[&id(1)].delivery_count, 2);
        assert!(g.remove_pending(id(1)).is_some());
        assert!(g.pel.is_empty() && g.consumers[&b"b"[..]].pending.is_empty());
    }

    #[test]
    fn read_counter_and_lag() {
        let mut s = Stream::default();
        for i in 1..=3 {
            s.append(id(i), &[(b"f", b"v")]);
        }
        s.groups.insert(
            b"g".to_vec(),
            Group {
                entries_read: Some(0),
                ..Group::default()
            },
        );
        s.advance_group(b"g", id(1));
        let g = &s.groups[&b"g"[..]];
        assert_eq!((g.entries_read, s.group_lag(g)), (Some(1), Some(2)));
        s.delete(id(3));
        let g = &s.groups[&b"g"[..]];
        assert_eq!(s.group_lag(g), None);
    }
}
