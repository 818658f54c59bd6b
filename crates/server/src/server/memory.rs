//! Memory figures for INFO memory: what the allocator (jemalloc) has handed out, what it
//! holds, the process's resident set, and the machine's memory, plus Redis's human-readable
//! byte counts; and the allocator controls MEMORY PURGE and MALLOC-STATS use.

/// Allocator statistics, in bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllocatorStats {
    /// Bytes handed out to the program (`used_memory`).
    pub allocated: u64,
    /// Bytes in pages the allocator uses (allocated plus fragmentation inside them).
    pub active: u64,
    /// Bytes the allocator keeps resident.
    pub resident: u64,
    /// The process's resident set size.
    pub rss: u64,
}

impl AllocatorStats {
    /// Current statistics, refreshed (see [`allocator_stats`]).
    pub fn read() -> Self {
        allocator_stats()
    }
}

/// Reads jemalloc's statistics, refreshed now. Zeros if jemalloc cannot report them.
pub fn allocator_stats() -> AllocatorStats {
    use tikv_jemalloc_ctl::{epoch, stats};
    // jemalloc caches its statistics; advancing the epoch refreshes them.
    let _ = epoch::advance();
    AllocatorStats {
        allocated: stats::allocated::read().unwrap_or(0) as u64,
        active: stats::active::read().unwrap_or(0) as u64,
        resident: stats::resident::read().unwrap_or(0) as u64,
        rss: process_rss_bytes(),
    }
}

/// Bytes the program holds, as `maxmemory` counts them: allocated bytes, less the freed
/// blocks jemalloc keeps in its per-thread caches (they count as allocated there, so right
/// after an eviction the figure would not move). Cheaper than [`allocator_stats`]: no RSS.
pub fn used_memory_bytes() -> u64 {
    use tikv_jemalloc_ctl::{epoch, raw, stats};
    let _ = epoch::advance();
    let allocated = stats::allocated::read().unwrap_or(0) as u64;
    // SAFETY: the name is NUL-terminated and this statistic is a size_t.
    let cached = unsafe { raw::read::<usize>(b"stats.arenas.4096.tcache_bytes\0") }.unwrap_or(0);
    allocated.saturating_sub(cached as u64)
}

/// `jemalloc-X.Y.Z`, as INFO's `mem_allocator` names it.
pub fn allocator_name() -> String {
    let version = tikv_jemalloc_ctl::version::read().unwrap_or("0.0.0");
    let release = version.split('-').next().unwrap_or(version);
    format!("jemalloc-{release}")
}

fn page_size_bytes() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u64
    } else {
        4096
    }
}

/// The process's resident set size, from /proc (0 where unavailable).
pub fn process_rss_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse::<u64>().ok())
        .map_or(0, |pages| pages * page_size_bytes())
}

/// Physical memory of the machine.
pub fn total_system_memory_bytes() -> u64 {
    // SAFETY: sysconf only reads system constants.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    if pages > 0 {
        pages as u64 * page_size_bytes()
    } else {
        0
    }
}

/// Redis's `bytesToHuman`: `512B`, `1.50K`, `3.00M`, `1.25G`, ... up to petabytes.
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: [char; 5] = ['K', 'M', 'G', 'T', 'P'];
    if n < 1024 {
        return format!("{n}B");
    }
    for (i, unit) in UNITS.iter().enumerate() {
        let size = 1u64 << (10 * (i + 1));
        if n < size << 10 {
            return format!("{:.2}{unit}", n as f64 / size as f64);
        }
    }
    format!("{n}B")
}

/// Asks jemalloc to return unused dirty pages to the system. Returns false if it refused.
pub fn purge() -> bool {
    // "arena.<MALLCTL_ARENAS_ALL>.purge" takes no value, so the pointers must be null, which
    // the safe wrappers cannot express.
    const PURGE_ALL_ARENAS: &[u8] = b"arena.4096.purge\0";
    const FLUSH_TCACHE: &[u8] = b"thread.tcache.flush\0";
    let call = |name: &[u8]| {
        // SAFETY: a NUL-terminated control name; no value is read or written.
        unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr().cast(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            )
        }
    };
    // Flushing the thread cache first hands its cached regions back to the arenas.
    let _ = call(FLUSH_TCACHE);
    call(PURGE_ALL_ARENAS) == 0
}

/// jemalloc's full statistics report, as text.
pub fn allocator_report() -> String {
    use std::ffi::{c_char, c_void, CStr};
    /// Receives the report piece by piece.
    unsafe extern "C" fn append(out: *mut c_void, text: *const c_char) {
        // SAFETY: `out` is the Vec passed below, alive for the whole call; jemalloc passes
        // NUL-terminated text.
        unsafe {
            let out = &mut *out.cast::<Vec<u8>>();
            out.extend_from_slice(CStr::from_ptr(text).to_bytes());
        }
    }
    let mut out: Vec<u8> = Vec::new();
    // SAFETY: the callback only appends to `out`; null options mean the default report.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(
            Some(append),
            (&mut out as *mut Vec<u8>).cast(),
            std::ptr::null(),
        );
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_match_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(916224), "894.75K");
        assert_eq!(bytes_to_human(12144640), "11.58M");
        assert_eq!(bytes_to_human(25276502016), "23.54G");
        assert_eq!(bytes_to_human(3 << 40), "3.00T");
        assert_eq!(bytes_to_human(5 << 50), "5.00P");
        assert_eq!(bytes_to_human(1 << 62), format!("{}B", 1u64 << 62));
    }

    #[test]
    fn process_figures_are_plausible() {
        assert!(process_rss_bytes() > 0);
        assert!(total_system_memory_bytes() > process_rss_bytes());
        assert!(allocator_name().starts_with("jemalloc-5."));
    }
}
