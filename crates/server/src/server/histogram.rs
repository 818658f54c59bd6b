//! Per-command latency histograms (INFO latencystats).
//!
//! A [`LatencyHistogram`] counts call durations in microseconds in log-linear buckets: exact
//! below 8 µs, then 8 buckets per power of two, so a bucket is at most 12.5% wide. That is
//! coarser than Redis's HDR histograms (2 significant digits) but costs 2 KiB per command per
//! stats shard instead of 24 KiB, and recording is one uncontended atomic add. Like HDR, a
//! percentile is reported as the highest value of the bucket it falls in, so it never
//! understates a latency.
//!
//! Durations beyond 2^36 µs (19 hours) are counted in the last bucket.

use std::sync::atomic::{AtomicU64, Ordering};

/// Sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 3;
const SUB_COUNT: usize = 1 << SUB_BITS;
/// Highest power of two tracked.
const MAX_POWER: u32 = 35;
/// Buckets: `SUB_COUNT` exact ones, then `SUB_COUNT` per power from `SUB_BITS` to `MAX_POWER`.
pub const BUCKETS: usize = SUB_COUNT + (MAX_POWER - SUB_BITS + 1) as usize * SUB_COUNT;

/// Counts of call durations.
pub struct LatencyHistogram {
    counts: Box<[AtomicU64]>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// The bucket a duration falls in.
fn bucket_of(usec: u64) -> usize {
    if usec < SUB_COUNT as u64 {
        return usec as usize;
    }
    let power = (63 - usec.leading_zeros()).min(MAX_POWER);
    let usec = usec.min((2u64 << MAX_POWER) - 1);
    let sub = (usec >> (power - SUB_BITS)) as usize & (SUB_COUNT - 1);
    SUB_COUNT + (power - SUB_BITS) as usize * SUB_COUNT + sub
}

/// The lowest and highest duration a bucket counts.
fn bucket_range(bucket: usize) -> (u64, u64) {
    if bucket < SUB_COUNT {
        return (bucket as u64, bucket as u64);
    }
    let power = (bucket - SUB_COUNT) / SUB_COUNT + SUB_BITS as usize;
    let sub = ((bucket - SUB_COUNT) % SUB_COUNT) as u64;
    let width = 1u64 << (power - SUB_BITS as usize);
    let low = (1u64 << power) + sub * width;
    (low, low + width - 1)
}

impl LatencyHistogram {
    pub fn record(&self, usec: u64) {
        self.counts[bucket_of(usec)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn reset(&self) {
        for c in self.counts.iter() {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// Adds this histogram's counts into `into`.
    pub fn add_to(&self, into: &mut [u64; BUCKETS]) {
        for (sum, c) in into.iter_mut().zip(self.counts.iter()) {
            *sum += c.load(Ordering::Relaxed);
        }
    }
}

/// Calls `f(highest duration in µs, count)` for every non-empty bucket, in order.
pub fn for_each_bucket(counts: &[u64; BUCKETS], mut f: impl FnMut(u64, u64)) {
    for (bucket, &n) in counts.iter().enumerate() {
        if n > 0 {
            f(bucket_range(bucket).1, n);
        }
    }
}

/// The duration (µs) at `percentile` (0 to 100) of merged counts, or `None` if empty.
pub fn value_at_percentile(counts: &[u64; BUCKETS], percentile: f64) -> Option<u64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let percentile = percentile.clamp(0.0, 100.0);
    // The rank of the wanted sample, rounded to nearest, at least the first.
    let rank = ((percentile / 100.0 * total as f64 + 0.5) as u64).clamp(1, total);
    let mut seen = 0;
    for (bucket, &n) in counts.iter().enumerate() {
        seen += n;
        if seen >= rank {
            let (low, high) = bucket_range(bucket);
            return Some(if percentile == 0.0 { low } else { high });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut previous_high = None;
        for b in 0..BUCKETS {
            let (low, high) = bucket_range(b);
            assert!(low <= high);
            if let Some(p) = previous_high {
                assert_eq!(low, p + 1, "bucket {b} leaves a gap");
            }
            assert_eq!(bucket_of(low), b);
            assert_eq!(bucket_of(high), b);
            previous_high = Some(high);
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn buckets_are_narrow() {
        for v in [8u64, 100, 1000, 50_000, 1 << 30] {
            let (low, high) = bucket_range(bucket_of(v));
            assert!(
                (high - low) as f64 <= v as f64 * 0.125,
                "{v}: {low}..{high}"
            );
        }
    }

    #[test]
    fn percentiles_report_bucket_tops() {
        let h = LatencyHistogram::default();
        for _ in 0..99 {
            h.record(3);
        }
        h.record(50_000);
        let mut counts = [0; BUCKETS];
        h.add_to(&mut counts);
        assert_eq!(value_at_percentile(&counts, 50.0), Some(3));
        assert_eq!(value_at_percentile(&counts, 99.0), Some(3));
        let top = value_at_percentile(&counts, 99.9).unwrap();
        assert!((50_000..=50_000 + 50_000 / 8).contains(&top));
        assert_eq!(value_at_percentile(&counts, 0.0), Some(3));
        h.reset();
        let mut counts = [0; BUCKETS];
        h.add_to(&mut counts);
        assert_eq!(value_at_percentile(&counts, 50.0), None);
    }
}
