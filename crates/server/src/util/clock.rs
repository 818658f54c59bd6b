//! The clock that times commands. Every command is timed (commandstats, slowlog, latency
//! tracking), so reading the clock is on the path of every request: where the CPU's
//! time-stamp counter ticks at a constant rate that never stops (Linux on x86-64 with the
//! `constant_tsc` and `nonstop_tsc` flags), durations are counted in its ticks, a fraction
//! of the cost of a `clock_gettime`; elsewhere in nanoseconds of `CLOCK_MONOTONIC`.
//!
//! Ticks mean nothing alone: only differences of [`now_ticks`] readings, converted by
//! [`ticks_to_us`], are durations. The rate is measured against `CLOCK_MONOTONIC` once, for
//! two milliseconds, by [`init`] at start-up (or on first use).

use std::sync::LazyLock;

/// Microseconds per tick as a 32.32 fixed-point factor, when the time-stamp counter is used.
static TSC_US_PER_TICK_FIXED: LazyLock<Option<u64>> = LazyLock::new(calibrate);

/// Measures the time-stamp counter's rate, if it can be trusted for durations.
pub fn init() {
    LazyLock::force(&TSC_US_PER_TICK_FIXED);
}

/// A reading of the clock, in ticks.
#[inline]
pub fn now_ticks() -> u64 {
    match *TSC_US_PER_TICK_FIXED {
        Some(_) => tsc(),
        None => monotonic_ns(),
    }
}

/// The microseconds in a difference of two [`now_ticks`] readings.
#[inline]
pub fn ticks_to_us(ticks: u64) -> u64 {
    match *TSC_US_PER_TICK_FIXED {
        Some(us_per_tick) => ((u128::from(ticks) * u128::from(us_per_tick)) >> 32) as u64,
        None => ticks / 1000,
    }
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn tsc() -> u64 {
    // SAFETY: RDTSC exists on every x86-64 CPU and only reads the counter.
    #[allow(unused_unsafe)]
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn tsc() -> u64 {
    monotonic_ns()
}

/// The 32.32 factor from ticks to microseconds, or `None` to use `CLOCK_MONOTONIC`.
fn calibrate() -> Option<u64> {
    if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        return None;
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let flags = cpuinfo.lines().find(|l| l.starts_with("flags"))?;
    let has = |flag: &str| flags.split_whitespace().any(|f| f == flag);
    if !(has("constant_tsc") && has("nonstop_tsc")) {
        return None;
    }
    let (ns_start, ticks_start) = (monotonic_ns(), tsc());
    let mut ns_end = ns_start;
    while ns_end - ns_start < 2_000_000 {
        ns_end = monotonic_ns();
    }
    let ticks = tsc().checked_sub(ticks_start)?;
    let ticks_per_us = ticks as f64 * 1000.0 / (ns_end - ns_start) as f64;
    // From 100 MHz to 100 GHz: anything else is a counter not worth trusting.
    if !(100.0..100_000.0).contains(&ticks_per_us) {
        return None;
    }
    Some(((1u64 << 32) as f64 / ticks_per_us) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sleep_measures_about_its_length() {
        init();
        let start = now_ticks();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let us = ticks_to_us(now_ticks() - start);
        assert!((19_000..200_000).contains(&us), "{us} us");
    }

    #[test]
    fn readings_do_not_go_backwards() {
        let mut last = now_ticks();
        for _ in 0..10_000 {
            let t = now_ticks();
            assert!(t >= last);
            last = t;
        }
    }
}
