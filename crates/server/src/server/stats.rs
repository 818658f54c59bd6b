//! Server statistics (INFO stats, commandstats, errorstats).
//!
//! Counters are sharded: each thread adds to its own cache-line-aligned shard, so counting a
//! command costs an uncontended atomic add, and INFO sums the shards.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;

const SHARDS: usize = 16;

/// Per-command counters.
#[derive(Default)]
pub struct CmdCounters {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
    /// Latency histogram (LATENCY HISTOGRAM), allocated on the command's first call.
    latency: OnceLock<Box<[AtomicU64; LATENCY_BUCKETS]>>,
}

/// Buckets of a command's latency histogram. Bucket `k` holds the calls that took more than
/// the bound of bucket `k - 1` and at most about 1024·2^k ns (see [`latency_bucket_bound_ns`]),
/// so the last one, `k = 20`, ends past the one second all latencies are capped at.
pub const LATENCY_BUCKETS: usize = 21;

/// The upper bound of latency bucket `k` in nanoseconds: 1024·2^k plus the rounding Redis's
/// two-significant-digit histogram adds, so bucket bounds (and the microsecond labels
/// LATENCY HISTOGRAM prints, 1, 2, 4, 8, 16, 33, 66...) match Redis's.
pub fn latency_bucket_bound_ns(k: usize) -> u64 {
    (1u64 << (k + 10)) + (1u64 << (k + 3)) - 1
}

/// The bucket of a latency.
fn latency_bucket(ns: u64) -> usize {
    let ns = ns.clamp(1, 1_000_000_000);
    let bits = (64 - (ns - 1).leading_zeros()) as usize;
    let k = bits.saturating_sub(10).min(LATENCY_BUCKETS - 1);
    if k > 0 && ns <= latency_bucket_bound_ns(k - 1) {
        k - 1
    } else {
        k
    }
}

/// Server-wide counters, one field per INFO stat.
#[derive(Default)]
pub struct Counters {
    pub commands: AtomicU64,
    pub connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub expired_keys: AtomicU64,
    pub expired_stale_perc_x100: AtomicU64,
    pub evicted_keys: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub net_repl_input_bytes: AtomicU64,
    pub net_repl_output_bytes: AtomicU64,
    pub error_replies: AtomicU64,
    pub unexpected_error_replies: AtomicU64,
    pub dirty: AtomicU64,
    pub io_reads: AtomicU64,
    pub io_writes: AtomicU64,
    pub client_qbuf_limit_disconnections: AtomicU64,
    pub client_outbuf_limit_disconnections: AtomicU64,
}

#[repr(align(128))]
struct Shard {
    counters: Counters,
    commands: Box<[CmdCounters]>,
}

pub struct Stats {
    shards: Box<[Shard]>,
    /// Error replies by code (`ERR`, `WRONGTYPE`...). Errors are rare; a mutex is fine.
    errors: Mutex<HashMap<String, u64>>,
    /// Samples for `instantaneous_*` metrics.
    pub samples: Mutex<Samples>,
}

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static SHARD: Cell<usize> = Cell::new(NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS);
}

/// Which counter of [`Counters`] to read or add to.
pub type Field = fn(&Counters) -> &AtomicU64;

impl Stats {
    pub fn new(command_count: usize) -> Self {
        Stats {
            shards: (0..SHARDS)
                .map(|_| Shard {
                    counters: Counters::default(),
                    commands: (0..command_count).map(|_| CmdCounters::default()).collect(),
                })
                .collect(),
            errors: Mutex::new(HashMap::new()),
            samples: Mutex::new(Samples::default()),
        }
    }

    fn local(&self) -> &Shard {
        &self.shards[SHARD.with(Cell::get)]
    }

    /// This thread's counters, to add to.
    pub fn counters(&self) -> &Counters {
        &self.local().counters
    }

    pub fn add(&self, field: Field, n: u64) {
        if n != 0 {
            field(&self.local().counters).fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The sum of a counter over all shards.
    pub fn sum(&self, field: Field) -> u64 {
        self.shards
            .iter()
            .map(|s| field(&s.counters).load(Ordering::Relaxed))
            .sum()
    }

    /// Records a command call.
    pub fn command(&self, id: usize, usec: u64) {
        let shard = self.local();
        let c = &shard.commands[id];
        c.calls.fetch_add(1, Ordering::Relaxed);
        c.usec.fetch_add(usec, Ordering::Relaxed);
        shard.counters.commands.fetch_add(1, Ordering::Relaxed);
    }

    pub fn command_rejected(&self, id: usize) {
        self.local().commands[id]
            .rejected
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Records how long a call of command `id` took, for LATENCY HISTOGRAM.
    pub fn record_latency(&self, id: usize, ns: u64) {
        let buckets = self.local().commands[id]
            .latency
            .get_or_init(|| Box::new(std::array::from_fn(|_| AtomicU64::new(0))));
        buckets[latency_bucket(ns)].fetch_add(1, Ordering::Relaxed);
    }

    /// The latency histogram of command `id` (calls per bucket), if it recorded any.
    pub fn latency_histogram(&self, id: usize) -> Option<[u64; LATENCY_BUCKETS]> {
        let mut sum = [0u64; LATENCY_BUCKETS];
        for s in self.shards.iter() {
            if let Some(buckets) = s.commands[id].latency.get() {
                for (total, b) in sum.iter_mut().zip(buckets.iter()) {
                    *total += b.load(Ordering::Relaxed);
                }
            }
        }
        sum.iter().any(|&n| n > 0).then_some(sum)
    }

    pub fn command_failed(&self, id: usize) {
        self.local().commands[id]
            .failed
            .fetch_add(1, Ordering::Relaxed);
    }

    /// (calls, usec, rejected, failed) of a command, summed.
    pub fn command_totals(&self, id: usize) -> (u64, u64, u64, u64) {
        let mut t = (0, 0, 0, 0);
        for s in self.shards.iter() {
            let c = &s.commands[id];
            t.0 += c.calls.load(Ordering::Relaxed);
            t.1 += c.usec.load(Ordering::Relaxed);
            t.2 += c.rejected.load(Ordering::Relaxed);
            t.3 += c.failed.load(Ordering::Relaxed);
        }
        t
    }

    /// Counts an error reply by its code. Redis caps the number of distinct codes at 128.
    pub fn count_error(&self, code: &str) {
        self.add(|c| &c.error_replies, 1);
        let mut errors = self.errors.lock();
        if let Some(n) = errors.get_mut(code) {
            *n += 1;
        } else if errors.len() < 128 {
            errors.insert(code.to_string(), 1);
        }
    }

    pub fn error_counts(&self) -> Vec<(String, u64)> {
        let mut v: Vec<_> = self
            .errors
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        v.sort();
        v
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for s in self.shards.iter() {
            let c = &s.counters;
            for f in [
                &c.commands,
                &c.connections,
                &c.rejected_connections,
                &c.expired_keys,
                &c.expired_stale_perc_x100,
                &c.evicted_keys,
                &c.keyspace_hits,
                &c.keyspace_misses,
                &c.net_input_bytes,
                &c.net_output_bytes,
                &c.net_repl_input_bytes,
                &c.net_repl_output_bytes,
                &c.error_replies,
                &c.unexpected_error_replies,
                &c.io_reads,
                &c.io_writes,
                &c.client_qbuf_limit_disconnections,
                &c.client_outbuf_limit_disconnections,
            ] {
                f.store(0, Ordering::Relaxed);
            }
            for cmd in s.commands.iter() {
                cmd.calls.store(0, Ordering::Relaxed);
                cmd.usec.store(0, Ordering::Relaxed);
                cmd.rejected.store(0, Ordering::Relaxed);
                cmd.failed.store(0, Ordering::Relaxed);
                if let Some(buckets) = cmd.latency.get() {
                    buckets.iter().for_each(|b| b.store(0, Ordering::Relaxed));
                }
            }
        }
        self.errors.lock().clear();
        *self.samples.lock() = Samples::default();
    }
}

/// Ring buffers of per-100ms rates, as Redis keeps for `instantaneous_ops_per_sec` & co.
#[derive(Default)]
pub struct Samples {
    pub last_ms: i64,
    pub last_ops: u64,
    pub last_in: u64,
    pub last_out: u64,
    pub ops: Ring,
    pub input_kbps: Ring,
    pub output_kbps: Ring,
}

#[derive(Default)]
pub struct Ring {
    values: [f64; 16],
    next: usize,
}

impl Ring {
    pub fn push(&mut self, v: f64) {
        self.values[self.next] = v;
        self.next = (self.next + 1) % self.values.len();
    }

    pub fn mean(&self) -> f64 {
        self.values.iter().sum::<f64>() / self.values.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_match_redis_labels() {
        let labels_us: Vec<u64> = (0..8).map(|k| latency_bucket_bound_ns(k) / 1000).collect();
        assert_eq!(labels_us, [1, 2, 4, 8, 16, 33, 66, 132]);
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(1031), 0);
        assert_eq!(latency_bucket(1032), 1);
        assert_eq!(latency_bucket(2063), 1);
        assert_eq!(latency_bucket(2064), 2);
        assert_eq!(latency_bucket(u64::MAX), LATENCY_BUCKETS - 1);
    }

    #[test]
    fn histograms_sum_and_reset() {
        let stats = Stats::new(2);
        assert_eq!(stats.latency_histogram(1), None);
        stats.record_latency(1, 3_000);
        stats.record_latency(1, 3_500);
        let h = stats.latency_histogram(1).unwrap();
        assert_eq!(h[2], 2);
        assert_eq!(h.iter().sum::<u64>(), 2);
        stats.reset();
        assert_eq!(stats.latency_histogram(1), None);
    }
}
