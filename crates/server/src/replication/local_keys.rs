//! Keys written with an expiry on a writable replica (`replica-read-only no`) by its own
//! clients. A replica never expires its master's keys (the master's DEL does), but nobody
//! would ever delete these: as Redis does, the replica remembers them and expires them
//! itself. Keys the master wrote are never in the set; a key the master overwrites later is
//! dropped once it no longer has an expiry.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;
use rudis_resp::Argv;

use crate::command::spec::key_positions;
use crate::command::table::CmdEntry;
use crate::keyspace::txn::Txn;
use crate::server::{unix_ms, Server};

/// The keys to watch, by (database, key).
#[derive(Default)]
pub struct LocalKeys {
    keys: Mutex<HashSet<(usize, Vec<u8>)>>,
}

impl LocalKeys {
    /// After a write by a replica's own client: remembers the keys it wrote.
    pub fn note(&self, srv: &Server, db: usize, entry: &CmdEntry, argv: Argv<'_>) {
        if !srv.state.replica.load(Ordering::Relaxed) {
            return;
        }
        let mut keys = self.keys.lock();
        for i in key_positions(entry.spec, argv) {
            keys.insert((db, argv.get(i).to_vec()));
        }
    }

    /// Forgets every key (the replica became a master: its own expiry takes over).
    pub fn clear(&self) {
        self.keys.lock().clear();
    }

    /// Expires the remembered keys whose time has come; forgets those without an expiry.
    pub fn expire_due(&self, srv: &Server) {
        let watched: Vec<(usize, Vec<u8>)> = self.keys.lock().iter().cloned().collect();
        if watched.is_empty() {
            return;
        }
        let now_ms = unix_ms();
        for (db, key) in watched {
            let mut txn = Txn::shared(&srv.keyspace, db, now_ms);
            txn.writes = true;
            txn.lock_keys([(db, key.as_slice())]);
            let done = match txn.expire_at(&key) {
                Some(at_ms) if at_ms <= now_ms => {
                    txn.expire_now(db, &key);
                    let _ = crate::command::dispatch::flush_effects(srv, &mut txn, false);
                    true
                }
                Some(_) => false,
                None => true,
            };
            drop(txn);
            if done {
                self.keys.lock().remove(&(db, key));
            }
        }
    }
}
