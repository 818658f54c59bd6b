//! The one propagation point. Every effect that must reach the AOF and replicas passes through
//! [`Propagator::feed`], called by the dispatch gate while the command still holds its shard
//! locks, so the stream orders writes exactly as the locks serialized them. Commands arrive
//! already in deterministic form (see `keyspace::txn::Effects`); this module adds the SELECT
//! each consumer needs when the database changes and wraps a transaction's commands in
//! MULTI/EXEC.
//!
//! Consumers (the AOF, the replication stream) register as [`Sink`]s, each with the targets it
//! takes: PUBLISH goes to replicas only; on a replica, commands applied from the master go to
//! the AOF only, since sub-replicas receive the master's own byte stream. With no sink
//! registered, feeding costs one atomic load.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::keyspace::txn::{encode_command, Propagated};

/// Propagation targets (bit masks).
pub mod target {
    pub const AOF: u8 = 1;
    pub const REPLICAS: u8 = 2;
    pub const ALL: u8 = AOF | REPLICAS;
}

/// A consumer of the propagated stream.
pub trait Sink: Send {
    /// Receives a contiguous piece of the RESP stream.
    fn feed(&mut self, bytes: &[u8]);
}

struct Registered {
    sink: Box<dyn Sink>,
    /// Which targets this sink is.
    targets: u8,
    /// The database this sink's stream has selected, if any.
    selected_db: Option<usize>,
}

pub struct Propagator {
    active: AtomicBool,
    sinks: Mutex<Vec<Registered>>,
}

impl Default for Propagator {
    fn default() -> Self {
        Self::new()
    }
}

impl Propagator {
    pub fn new() -> Self {
        Propagator {
            active: AtomicBool::new(false),
            sinks: Mutex::new(Vec::new()),
        }
    }

    /// True when some consumer wants the stream.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Registers a consumer of `targets`. Its stream starts with a SELECT. Commands skip
    /// encoding their propagation while no sink is active, so register a sink before (or at)
    /// the snapshot barrier its stream starts from: a command that skipped encoding then
    /// finished before the barrier, and its effect is in the snapshot.
    pub fn add_sink(&self, targets: u8, sink: Box<dyn Sink>) {
        self.sinks.lock().push(Registered {
            sink,
            targets,
            selected_db: None,
        });
        self.active.store(true, Ordering::Release);
    }

    /// Feeds commands, wrapped in MULTI/EXEC when `multi` and a sink gets more than one.
    /// `exclude` masks out targets for this batch (a replica applying its master's stream
    /// excludes REPLICAS).
    pub fn feed(&self, cmds: &[Propagated], multi: bool, exclude: u8) {
        if cmds.is_empty() || !self.is_active() {
            return;
        }
        let mut sinks = self.sinks.lock();
        let mut out = Vec::new();
        for s in sinks.iter_mut() {
            let wanted = s.targets & !exclude;
            let mine: Vec<&Propagated> = cmds.iter().filter(|c| c.targets & wanted != 0).collect();
            if mine.is_empty() {
                continue;
            }
            out.clear();
            encode_batch(&mut s.selected_db, &mine, multi, &mut out);
            s.sink.feed(&out);
        }
    }

    /// Forgets the selected database of the sinks taking `targets` (the AOF, when it starts
    /// a new file).
    pub fn reset_selected_db_of(&self, targets: u8) {
        for s in self.sinks.lock().iter_mut() {
            if s.targets & targets != 0 {
                s.selected_db = None;
            }
        }
    }

    /// Forgets every sink's selected database (each must see a SELECT first).
    pub fn reset_selected_db(&self) {
        for s in self.sinks.lock().iter_mut() {
            s.selected_db = None;
        }
    }
}

fn encode_batch(
    selected: &mut Option<usize>,
    cmds: &[&Propagated],
    multi: bool,
    out: &mut Vec<u8>,
) {
    let wrap = multi && cmds.len() > 1;
    if wrap {
        // MULTI goes after any SELECT for the first command.
        select_db(selected, cmds[0].db, out);
        encode_command(&[b"MULTI"], out);
    }
    for c in cmds {
        select_db(selected, c.db, out);
        out.extend_from_slice(&c.cmd);
    }
    if wrap {
        encode_command(&[b"EXEC"], out);
    }
}

fn select_db(selected: &mut Option<usize>, db: usize, out: &mut Vec<u8>) {
    if *selected != Some(db) {
        let n = db.to_string();
        encode_command(&[b"SELECT", n.as_bytes()], out);
        *selected = Some(db);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl Sink for Capture {
        fn feed(&mut self, bytes: &[u8]) {
            self.0.lock().extend_from_slice(bytes);
        }
    }

    fn cmd(db: usize, args: &[&[u8]], targets: u8) -> Propagated {
        let mut c = Vec::new();
        encode_command(args, &mut c);
        Propagated {
            db,
            cmd: c,
            targets,
        }
    }

    #[test]
    fn selects_wraps_and_routes() {
        let p = Propagator::new();
        let (aof, repl) = (
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(Mutex::new(Vec::new())),
        );
        p.add_sink(target::AOF, Box::new(Capture(aof.clone())));
        p.add_sink(target::REPLICAS, Box::new(Capture(repl.clone())));
        let set = cmd(0, &[b"SET", b"k", b"v"], target::ALL);
        let publish = cmd(0, &[b"PUBLISH", b"c", b"m"], target::REPLICAS);
        p.feed(std::slice::from_ref(&set), false, 0);
        p.feed(
            &[
                set.clone(),
                cmd(1, &[b"SET", b"k", b"v"], target::ALL),
                publish,
            ],
            true,
            0,
        );
        p.feed(&[set], false, target::REPLICAS);
        let aof = String::from_utf8(aof.lock().clone()).unwrap();
        let repl = String::from_utf8(repl.lock().clone()).unwrap();
        assert_eq!(aof.matches("SELECT").count(), 3);
        assert!(!aof.contains("PUBLISH"));
        assert!(repl.contains("PUBLISH") && repl.ends_with("EXEC\r\n"));
        assert_eq!(
            repl.matches("SET\r\n").count(),
            3,
            "the batch excluding replicas is not fed to them"
        );
    }
}
