//! Eviction under `maxmemory`. Before a command runs, and when CONFIG SET lowers the limit,
//! [`make_room`] evicts keys chosen by `maxmemory-policy` until the memory in use is back
//! under the limit. Victims are found as Redis finds them: by sampling `maxmemory-samples`
//! keys of every database (only keys with a TTL for the `volatile-*` policies) and taking the
//! best by idle time (LRU), use counter (LFU) or nearest expiry (TTL); or at random.
//!
//! An evicted key is deleted with the effects Redis gives it: `evicted` keyspace event, DEL
//! (or UNLINK with `lazyfree-lazy-eviction`) to the AOF and replicas, WATCH invalidation,
//! `evicted_keys` in INFO stats. When nothing can be evicted and memory is still over the
//! limit, commands that may grow memory get `-OOM`.

use std::time::{Duration, Instant};

use crate::config::Config;
use crate::keyspace::access::{self, Lfu};
use crate::keyspace::dict::Keyed;
use crate::keyspace::slot::SLOTS;
use crate::keyspace::txn::{encode_command, event, Propagated, Txn};
use crate::keyspace::value::KeyEntry;
use crate::server::Server;

/// The reply to a command refused for lack of memory.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// How long one call may spend evicting before letting the command run anyway (the limit
/// is approached again on the next command).
const TIME_BUDGET: Duration = Duration::from_millis(50);

/// Evictions between two readings of the allocator's statistics.
const EVICTIONS_PER_CHECK: usize = 16;

/// What a policy ranks keys by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rank {
    Lru,
    Lfu,
    Ttl,
    Random,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Policy {
    rank: Rank,
    /// Only keys with a TTL are candidates.
    volatile: bool,
}

impl Policy {
    /// `None` for `noeviction`.
    fn parse(name: &str) -> Option<Policy> {
        let (scope, rank) = name.split_once('-')?;
        let rank = match rank {
            "lru" => Rank::Lru,
            "lfu" => Rank::Lfu,
            "ttl" => Rank::Ttl,
            "random" => Rank::Random,
            _ => return None,
        };
        Some(Policy {
            rank,
            volatile: scope == "volatile",
        })
    }
}

/// Bytes in use as `maxmemory` counts them: what the allocator has handed out.
pub fn used_memory_bytes() -> u64 {
    crate::server::memory::used_memory_bytes()
}

/// Publishes what the hot path needs of the eviction settings: LRU or LFU access tracking,
/// and whether a memory limit is set. Called at start-up and after CONFIG SET.
pub fn sync_settings(srv: &Server) {
    let cfg = srv.cfg();
    srv.keyspace.access.set(lfu_of(&cfg));
    srv.state
        .maxmemory_set
        .store(cfg.maxmemory > 0, std::sync::atomic::Ordering::Relaxed);
}

/// The gate's memory check for a command about to run or be queued: evicts as needed and
/// says whether the command must be refused with [`OOM`]. `may_grow` is Redis's rule: the
/// command is `denyoom`, or an EXEC of queued `denyoom` commands, or anything but EXEC,
/// DISCARD, QUIT and RESET inside MULTI.
pub fn refuse_for_memory(srv: &Server, db: usize, may_grow: bool) -> bool {
    if !srv
        .state
        .maxmemory_set
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return false;
    }
    let mut txn = Txn::shared(&srv.keyspace, db, crate::server::unix_ms());
    let room = make_room(srv, &mut txn);
    !room && may_grow
}

fn lfu_of(cfg: &Config) -> Option<Lfu> {
    cfg.maxmemory_policy.ends_with("-lfu").then(|| Lfu {
        log_factor: cfg.lfu_log_factor.clamp(0, i64::from(u32::MAX >> 1)) as u32,
        decay_min: cfg.lfu_decay_time.clamp(0, i64::from(u32::MAX)) as u32,
    })
}

/// Evicts until memory is under `maxmemory`, using `txn` (which must hold no shards).
/// Returns false when memory is over the limit and nothing more can be evicted: commands
/// that may use more memory must then be refused with [`OOM`].
pub fn make_room(srv: &Server, txn: &mut Txn<'_>) -> bool {
    let cfg = srv.cfg();
    if cfg.maxmemory <= 0 {
        return true;
    }
    let replica = srv.state.replica.load(std::sync::atomic::Ordering::Relaxed);
    if replica && cfg.replica_ignore_maxmemory {
        return true;
    }
    let limit_bytes = cfg.maxmemory as u64;
    if used_memory_bytes() <= limit_bytes {
        return true;
    }
    let Some(policy) = Policy::parse(&cfg.maxmemory_policy) else {
        return false;
    };
    let samples = cfg.maxmemory_samples.clamp(1, 64) as usize;
    let lazy = cfg.lazyfree_lazy_eviction;
    let lfu = lfu_of(&cfg);
    drop(cfg);
    let started = Instant::now();
    let mut rng = fastrand::Rng::new();
    let mut evicted = 0usize;
    loop {
        let Some((db, key)) = pick_victim(txn, policy, lfu, samples, &mut rng) else {
            return false;
        };
        evict(srv, txn, db, &key, lazy);
        evicted += 1;
        let check = evicted < EVICTIONS_PER_CHECK || evicted.is_multiple_of(EVICTIONS_PER_CHECK);
        if check && (used_memory_bytes() <= limit_bytes || started.elapsed() > TIME_BUDGET) {
            return true;
        }
    }
}

/// Deletes one key as an eviction, publishing its effects.
fn evict(srv: &Server, txn: &mut Txn<'_>, db: usize, key: &[u8], lazy: bool) {
    txn.lock_keys([(db, key)]);
    if txn.remove_in(db, key).is_some() {
        txn.signal_modified_in(db, key);
        let mut cmd = Vec::new();
        let verb: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        encode_command(&[verb, key], &mut cmd);
        txn.effects.propagate.push(Propagated::everywhere(db, cmd));
        txn.notify_in(db, event::EVICTED, "evicted", key);
        srv.stats.add(|c| &c.evicted_keys, 1);
    }
    let _ready = crate::command::dispatch::flush_effects(srv, txn, false);
    txn.release_shards();
}

/// The best victim over all databases, or `None` when no key qualifies.
fn pick_victim(
    txn: &mut Txn<'_>,
    policy: Policy,
    lfu: Option<Lfu>,
    samples: usize,
    rng: &mut fastrand::Rng,
) -> Option<(usize, Vec<u8>)> {
    let now_ms = txn.now_ms;
    let (lru_now, min_now) = (access::lru_clock_at(now_ms), access::lfu_minutes(now_ms));
    let decay_min = lfu.map_or(1, |l| l.decay_min);
    let dbs = txn.keyspace().db_count();
    let start = if policy.rank == Rank::Random {
        rng.usize(..dbs)
    } else {
        0
    };
    let mut best: Option<(u64, usize, Vec<u8>)> = None;
    for i in 0..dbs {
        let db = (start + i) % dbs;
        let want = if policy.rank == Rank::Random {
            1
        } else {
            samples
        };
        sample(
            txn,
            db,
            policy.volatile,
            want,
            rng,
            &mut |entry, expire_at_ms| {
                let score = match policy.rank {
                    Rank::Lru => u64::from(access::idle_seconds(lru_now, entry.access)),
                    Rank::Lfu => {
                        255 - u64::from(access::lfu_decayed_counter(
                            entry.access,
                            min_now,
                            decay_min,
                        ))
                    }
                    Rank::Ttl => u64::MAX - expire_at_ms.unwrap_or(i64::MAX).max(0) as u64,
                    Rank::Random => 0,
                };
                if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                    best = Some((score, db, entry.key.as_slice().to_vec()));
                }
            },
        );
        if policy.rank == Rank::Random && best.is_some() {
            break;
        }
    }
    best.map(|(_, db, key)| (db, key))
}

/// Calls `f` on up to `want` random keys of `db` (only keys with a TTL if `volatile`), with
/// their expiry time. Dense databases are probed at random slots; sparse ones swept.
fn sample(
    txn: &mut Txn<'_>,
    db: usize,
    volatile: bool,
    want: usize,
    rng: &mut fastrand::Rng,
    f: &mut dyn FnMut(&KeyEntry, Option<i64>),
) {
    let count = {
        let d = txn.keyspace().db(db);
        if !d.is_allocated() {
            return;
        }
        if volatile {
            d.volatile_count()
        } else {
            d.key_count()
        }
    } as usize;
    if count == 0 {
        return;
    }
    let mut found = 0;
    if count > want * 4 {
        for _ in 0..SLOTS {
            if found >= want {
                break;
            }
            let slot = rng.u16(..SLOTS as u16);
            if visit_random(txn, db, slot, volatile, rng, f) {
                found += 1;
            }
        }
        if found > 0 {
            return;
        }
    }
    for slot in 0..SLOTS as u16 {
        let shard = txn.shard_at(db, slot);
        if volatile {
            for e in shard.expires().iter() {
                if let Some(k) = shard.keys.get(e.key()) {
                    f(k, Some(e.at_ms));
                }
            }
        } else {
            for k in shard.keys.iter() {
                let at = k
                    .has_expire()
                    .then(|| shard.expires().get(k.key()).map(|e| e.at_ms))
                    .flatten();
                f(k, at);
            }
        }
        txn.release_shards();
    }
}

/// Visits one random key of a slot, if it has one.
fn visit_random(
    txn: &mut Txn<'_>,
    db: usize,
    slot: u16,
    volatile: bool,
    rng: &mut fastrand::Rng,
    f: &mut dyn FnMut(&KeyEntry, Option<i64>),
) -> bool {
    let shard = txn.shard_at(db, slot);
    let mut hit = false;
    if volatile {
        if let Some(e) = shard.expires().random(rng) {
            if let Some(k) = shard.keys.get(e.key()) {
                f(k, Some(e.at_ms));
                hit = true;
            }
        }
    } else if let Some(k) = shard.keys.random(rng) {
        let at = k
            .has_expire()
            .then(|| shard.expires().get(k.key()).map(|e| e.at_ms))
            .flatten();
        f(k, at);
        hit = true;
    }
    txn.release_shards();
    hit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse() {
        assert_eq!(Policy::parse("noeviction"), None);
        assert_eq!(
            Policy::parse("allkeys-lru"),
            Some(Policy {
                rank: Rank::Lru,
                volatile: false
            })
        );
        assert_eq!(
            Policy::parse("volatile-ttl"),
            Some(Policy {
                rank: Rank::Ttl,
                volatile: true
            })
        );
        assert_eq!(
            Policy::parse("allkeys-lfu").map(|p| p.rank),
            Some(Rank::Lfu)
        );
        assert_eq!(
            Policy::parse("volatile-random").map(|p| p.rank),
            Some(Rank::Random)
        );
    }
}
