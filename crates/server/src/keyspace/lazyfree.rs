//! Freeing memory off the command path (UNLINK, FLUSHDB/FLUSHALL ASYNC, the `lazyfree-*`
//! options): values and whole tables are handed to one background thread that drops them.
//!
//! Dropping a big collection walks and frees every element; doing that while holding a shard
//! lock (or the exclusive gate) would stall every client waiting on it. Handing the value over
//! is O(1). Small values are freed in place: sending them costs more than dropping them.
//!
//! The thread starts on first use (never before a daemonizing fork) and lives as long as the
//! process. The counters are what INFO reports as `lazyfree_pending_objects` and
//! `lazyfreed_objects`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

use super::value::Value;

/// Above this many allocations a value is freed in the background (Redis's threshold).
pub const EFFORT_THRESHOLD: usize = 64;

/// Something to drop, and how many objects it counts as.
struct Garbage {
    payload: Box<dyn Send>,
    objects: u64,
}

static QUEUE: OnceLock<Mutex<Sender<Garbage>>> = OnceLock::new();
static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

/// Objects handed over and not yet freed.
pub fn pending_objects() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// Objects freed in the background since start (or the last [`reset_stats`]).
pub fn freed_objects() -> u64 {
    FREED.load(Ordering::Relaxed)
}

/// CONFIG RESETSTAT.
pub fn reset_stats() {
    FREED.store(0, Ordering::Relaxed);
}

/// Roughly how many allocations freeing `value` takes.
pub fn effort(value: &Value) -> usize {
    match value {
        Value::Str(_) => 1,
        Value::List(l) => l.len(),
        Value::Hash(h) => h.len(),
        Value::Set(s) => s.len(),
        Value::ZSet(z) => z.len(),
        Value::Stream(s) => s.len(),
    }
}

/// Drops `value` here if it is cheap, otherwise on the background thread.
pub fn free_value(value: Value) {
    if effort(&value) > EFFORT_THRESHOLD {
        free_later(Box::new(value), 1);
    }
}

/// Drops `payload` on the background thread; it counts as `objects` objects.
pub fn free_later(payload: Box<dyn Send>, objects: u64) {
    PENDING.fetch_add(objects, Ordering::Relaxed);
    let garbage = Garbage { payload, objects };
    let queue = QUEUE.get_or_init(|| Mutex::new(spawn_worker()));
    let sent = match queue.lock() {
        Ok(tx) => tx.send(garbage),
        Err(poisoned) => poisoned.into_inner().send(garbage),
    };
    if let Err(returned) = sent {
        // The worker is gone (it never panics, but never lose track of memory either).
        finish(returned.0);
    }
}

fn spawn_worker() -> Sender<Garbage> {
    let (tx, rx) = channel::<Garbage>();
    let spawned = std::thread::Builder::new()
        .name("lazyfree".into())
        .spawn(move || {
            while let Ok(garbage) = rx.recv() {
                finish(garbage);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("can't start the lazyfree thread, freeing in place: {e}");
    }
    tx
}

fn finish(garbage: Garbage) {
    let objects = garbage.objects;
    drop(garbage.payload);
    PENDING.fetch_sub(objects, Ordering::Relaxed);
    FREED.fetch_add(objects, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::set::Set;
    use std::time::{Duration, Instant};

    #[test]
    fn big_values_are_freed_in_the_background() {
        let freed_before = freed_objects();
        let mut members = crate::keyspace::dict::Dict::new();
        for i in 0..1000 {
            members.insert(crate::types::set::Member(
                crate::keyspace::bytes::CompactBytes::from_i64(i),
            ));
        }
        let set = Set::Table(Box::new(members));
        assert!(effort(&Value::Set(set.clone())) > EFFORT_THRESHOLD);
        free_value(Value::Set(set));
        free_value(Value::str(b"small"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while freed_objects() < freed_before + 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(freed_objects() > freed_before, "the big set was freed");
    }
}
