//! The replication identity of this server: its replication id, the previous one, and the
//! offset up to which the previous one is valid (PSYNC2). INFO replication reports them;
//! replication owns and changes them (a new id on promotion). The offset itself is the end
//! of the replication stream (`replication::Replication::offset`).
//!
//! A fresh server has a random 40-hex-digit id, an all-zero second id, offset 0 and second
//! offset -1, exactly as a fresh Redis.

use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::Mutex;

/// An unset replication id.
pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

pub struct ReplIds {
    ids: Mutex<(String, String)>,
    /// Offset up to which the second id is valid (`second_repl_offset`), -1 if none.
    pub second_repl_offset: AtomicI64,
}

impl Default for ReplIds {
    fn default() -> Self {
        ReplIds {
            ids: Mutex::new((super::random_hex(40), NO_REPLID.to_string())),
            second_repl_offset: AtomicI64::new(-1),
        }
    }
}

impl ReplIds {
    /// (replid, replid2).
    pub fn ids(&self) -> (String, String) {
        self.ids.lock().clone()
    }

    /// Sets both ids and the second id's offset (a replica adopting its master's history,
    /// a master restarted from an RDB file).
    pub fn set_ids(&self, replid: String, replid2: String, second_offset: i64) {
        let mut ids = self.ids.lock();
        *ids = (replid, replid2);
        self.second_repl_offset
            .store(second_offset, Ordering::Relaxed);
    }

    /// Makes `replid` the current id, keeping the old one as the second id valid up to
    /// `offset` (what a replica does when promoted).
    pub fn shift(&self, replid: String, offset: i64) {
        let mut ids = self.ids.lock();
        ids.1 = std::mem::replace(&mut ids.0, replid);
        self.second_repl_offset.store(offset, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_look_like_redis() {
        let r = ReplIds::default();
        let (id, id2) = r.ids();
        assert_eq!(id.len(), 40);
        assert!(id.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(id2, NO_REPLID);
        assert_eq!(r.second_repl_offset.load(Ordering::Relaxed), -1);
        r.shift("a".repeat(40), 10);
        assert_eq!(r.ids(), ("a".repeat(40), id));
        assert_eq!(r.second_repl_offset.load(Ordering::Relaxed), 10);
    }
}
