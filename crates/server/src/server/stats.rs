//! Server statistics (INFO stats, commandstats, errorstats, latencystats).
//!
//! Counters are sharded: each thread adds to its own cache-line-aligned shard, so counting a
//! command costs an uncontended atomic add, and INFO sums the shards. Latency histograms are
//! sharded the same way and allocated on a command's first timed call in each shard.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;

use super::histogram::{LatencyHistogram, BUCKETS};

const SHARDS: usize = 16;

/// Per-command counters.
#[derive(Default)]
pub struct CmdCounters {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
    /// Durations of calls while `latency-tracking` is on.
    pub latency: OnceLock<LatencyHistogram>,
}

/// Buckets LATENCY HISTOGRAM reports. Bucket `k` ends at [`latency_bucket_bound_ns`]`(k)`,
/// about 1024·2^k ns, so the last one ends past the one second latencies are capped at.
pub const LATENCY_BUCKETS: usize = 21;

/// The upper bound of LATENCY HISTOGRAM bucket `k` in nanoseconds: 1024·2^k plus the rounding
/// of Redis's two-significant-digit histogram, so the microsecond labels (1, 2, 4, 8, 16, 33,
/// 66...) match Redis's.
pub fn latency_bucket_bound_ns(k: usize) -> u64 {
    (1u64 << (k + 10)) + (1u64 << (k + 3)) - 1
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
    /// Highest `used_memory` seen (INFO memory `used_memory_peak`).
    pub memory_peak_bytes: AtomicU64,
    /// `used_memory` when the server was created (INFO memory `used_memory_startup`).
    pub memory_startup_bytes: u64,
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
            memory_peak_bytes: AtomicU64::new(0),
            memory_startup_bytes: super::memory::allocator_stats().allocated,
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

    pub fn command_failed(&self, id: usize) {
        self.local().commands[id]
            .failed
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Records the duration of a call in the command's latency histogram.
    pub fn record_latency(&self, id: usize, usec: u64) {
        self.local().commands[id]
            .latency
            .get_or_init(LatencyHistogram::default)
            .record(usec);
    }

    /// A command's latency histogram summed over shards, or `None` if it has no samples
    /// since the last reset.
    pub fn latency_counts(&self, id: usize) -> Option<Box<[u64; BUCKETS]>> {
        let mut counts = Box::new([0u64; BUCKETS]);
        let mut any = false;
        for s in self.shards.iter() {
            if let Some(h) = s.commands[id].latency.get() {
                h.add_to(&mut counts);
                any = true;
            }
        }
        (any && counts.iter().any(|&n| n != 0)).then_some(counts)
    }

    /// A command's latency histogram in LATENCY HISTOGRAM's buckets (see
    /// [`latency_bucket_bound_ns`]), or `None` if it has no samples.
    pub fn latency_histogram(&self, id: usize) -> Option<[u64; LATENCY_BUCKETS]> {
        let counts = self.latency_counts(id)?;
        let mut out = [0u64; LATENCY_BUCKETS];
        super::histogram::for_each_bucket(&counts, |high_us, n| {
            let ns = high_us.saturating_mul(1000);
            let k = (0..LATENCY_BUCKETS)
                .find(|&k| ns <= latency_bucket_bound_ns(k))
                .unwrap_or(LATENCY_BUCKETS - 1);
            out[k] += n;
        });
        Some(out)
    }

    /// Raises the memory peak to `used_bytes` if higher; returns the peak.
    pub fn note_memory_used(&self, used_bytes: u64) -> u64 {
        self.memory_peak_bytes
            .fetch_max(used_bytes, Ordering::Relaxed)
            .max(used_bytes)
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
                if let Some(h) = cmd.latency.get() {
                    h.reset();
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
