//! The cardinality estimator Redis 7.0 uses: Otmar Ertl's improved estimator ("New cardinality
//! estimation algorithms for HyperLogLog sketches", arXiv:1702.01284), computed from how many
//! registers hold each value.
//!
//! The arithmetic is plain IEEE double precision in the same order as Redis's, so both give
//! the same integer for the same registers: a cached cardinality written by one is what the
//! other would compute.

use super::format::{Histogram, REGISTERS, REGISTER_INDEX_BITS};

/// The number of hash bits a register's run is counted in; a register holds at most one more.
const Q: usize = 64 - REGISTER_INDEX_BITS as usize;
/// The asymptotic bias correction 1 / (2 ln 2).
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The estimated cardinality of registers with this value histogram. Values above `Q + 1`
/// cannot come from the hash and are ignored, as Redis ignores them.
pub fn cardinality(histogram: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histogram[Q + 1])) / m);
    for j in (1..=Q).rev() {
        z += f64::from(histogram[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    // Rounded half away from zero, as C's llround rounds. An estimate too big for a signed
    // 64-bit integer (only crafted registers get there) comes out as Redis's does: llround's
    // out-of-range result, the bit pattern of i64::MIN.
    let estimate = (ALPHA_INF * m * m / z).round();
    if estimate < TWO_POW_63 {
        estimate as u64
    } else {
        1 << 63
    }
}

const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// Ertl's sigma: x + x^2 + 2x^4 + 4x^8 + ..., summed until it stops changing.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

/// Ertl's tau, summed until it stops changing.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        let gap = 1.0 - x;
        z -= gap * gap * y;
        if before == z {
            return z / 3.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_zeros_and(value: usize, how_many: u32) -> Histogram {
        let mut h = [0; 64];
        h[0] = REGISTERS as u32 - how_many;
        h[value] = how_many;
        h
    }

    /// Expected values are Redis 7.0's PFCOUNT of values with these registers.
    #[test]
    fn matches_redis_at_the_extremes() {
        assert_eq!(cardinality(&with_zeros_and(1, 0)), 0);
        // One register at 2 (PFADD of "a"), one at 1 (PFADD of "b").
        assert_eq!(cardinality(&with_zeros_and(2, 1)), 1);
        assert_eq!(cardinality(&with_zeros_and(1, 1)), 1);
        // Dense values whose registers all hold the same value.
        assert_eq!(cardinality(&with_zeros_and(1, REGISTERS as u32)), 23637);
        for saturated in [50, 51, 52, 63] {
            assert_eq!(
                cardinality(&with_zeros_and(saturated, REGISTERS as u32)),
                1 << 63,
                "{saturated}"
            );
        }
    }

    #[test]
    fn values_beyond_the_hash_are_ignored() {
        let mut h = with_zeros_and(3, 100);
        let plain = cardinality(&h);
        h[0] -= 5;
        h[60] = 5;
        let mut without = h;
        without[60] = 0;
        assert_eq!(cardinality(&h), cardinality(&without));
        assert_ne!(
            cardinality(&h),
            plain,
            "the five registers are no longer zero"
        );
    }
}
