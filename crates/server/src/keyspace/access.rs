//! What a key remembers of its use, for eviction and OBJECT IDLETIME / FREQ: the 32-bit
//! `access` field of every key holds either the 24-bit LRU clock (seconds) of its last use,
//! or, under an LFU `maxmemory-policy`, `minutes << 8 | counter`: a logarithmic use counter
//! (0..=255) and the 16-bit minute clock it was last decayed at, as Redis keeps them.
//!
//! The policy in force is one atomic word on the keyspace, so every command picks it up
//! without reading the configuration.

use std::sync::atomic::{AtomicU64, Ordering};

/// The LRU clock wraps at 24 bits.
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

/// The counter a new key starts with, so it is not evicted before it had a chance to be used.
pub const LFU_INIT: u32 = 5;

/// The LFU parameters (`lfu-log-factor`, `lfu-decay-time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lfu {
    pub log_factor: u32,
    pub decay_min: u32,
}

/// The access-tracking mode, shared by all commands.
#[derive(Debug, Default)]
pub struct AccessMode(AtomicU64);

const LFU_ON: u64 = 1 << 63;

impl AccessMode {
    /// Sets LFU tracking with these parameters, or LRU with `None`.
    pub fn set(&self, lfu: Option<Lfu>) {
        let word = lfu.map_or(0, |l| {
            LFU_ON | (u64::from(l.log_factor) << 32) | u64::from(l.decay_min)
        });
        self.0.store(word, Ordering::Relaxed);
    }

    pub fn lfu(&self) -> Option<Lfu> {
        let word = self.0.load(Ordering::Relaxed);
        (word & LFU_ON != 0).then_some(Lfu {
            log_factor: ((word >> 32) & 0x7FFF_FFFF) as u32,
            decay_min: word as u32,
        })
    }
}

/// The LRU clock at `now_ms`.
pub fn lru_clock_at(now_ms: i64) -> u32 {
    ((now_ms / 1000) as u32) & LRU_CLOCK_MAX
}

/// Seconds between an access stamp and `now_clock` on the wrapping LRU clock.
pub fn idle_seconds(now_clock: u32, access: u32) -> u32 {
    let access = access & LRU_CLOCK_MAX;
    if now_clock >= access {
        now_clock - access
    } else {
        now_clock + (LRU_CLOCK_MAX - access)
    }
}

/// Minutes on the 16-bit clock LFU stamps use.
pub fn lfu_minutes(now_ms: i64) -> u32 {
    ((now_ms / 60_000) & 0xFFFF) as u32
}

/// The stamp of a key created now under LFU.
pub fn lfu_fresh(now_min: u32) -> u32 {
    (now_min << 8) | LFU_INIT
}

/// The counter of an LFU stamp after decaying one step per `decay_min` minutes since it was
/// stamped.
pub fn lfu_decayed_counter(access: u32, now_min: u32, decay_min: u32) -> u32 {
    let (stamp_min, counter) = ((access >> 8) & 0xFFFF, access & 0xFF);
    let elapsed_min = if now_min >= stamp_min {
        now_min - stamp_min
    } else {
        0xFFFF - stamp_min + now_min
    };
    let periods = elapsed_min.checked_div(decay_min).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// The stamp after one use: decayed, then incremented with a probability that falls as the
/// counter grows (the higher `log_factor`, the slower), and restamped with `now_min`.
pub fn lfu_touched(access: u32, now_min: u32, lfu: Lfu) -> u32 {
    let mut counter = lfu_decayed_counter(access, now_min, lfu.decay_min);
    if counter < 255 {
        let base = f64::from(counter.saturating_sub(LFU_INIT));
        let p = 1.0 / (base * f64::from(lfu.log_factor) + 1.0);
        if fastrand::f64() < p {
            counter += 1;
        }
    }
    (now_min << 8) | counter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_time_wraps_with_the_lru_clock() {
        assert_eq!(idle_seconds(100, 40), 60);
        assert_eq!(idle_seconds(5, LRU_CLOCK_MAX - 5), 10);
    }

    #[test]
    fn mode_round_trips() {
        let m = AccessMode::default();
        assert_eq!(m.lfu(), None);
        let l = Lfu {
            log_factor: 10,
            decay_min: 1,
        };
        m.set(Some(l));
        assert_eq!(m.lfu(), Some(l));
        m.set(None);
        assert_eq!(m.lfu(), None);
    }

    #[test]
    fn counters_grow_logarithmically_and_decay() {
        let lfu = Lfu {
            log_factor: 10,
            decay_min: 1,
        };
        let mut a = lfu_fresh(100);
        for _ in 0..1000 {
            a = lfu_touched(a, 100, lfu);
        }
        let c = a & 0xFF;
        assert!(c > LFU_INIT + 3 && c < 40, "counter {c} after 1000 hits");
        assert_eq!(lfu_decayed_counter(a, 103, 1), c - 3);
        assert_eq!(lfu_decayed_counter(a, 100 + 1000, 1), 0);
        assert_eq!(
            lfu_decayed_counter(a, 200, 0),
            c,
            "decay-time 0 never decays"
        );
    }
}
