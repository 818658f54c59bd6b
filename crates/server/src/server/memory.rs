//! What the process uses, as the allocator (jemalloc) and the kernel see it: for MEMORY
//! STATS and DOCTOR, and the memory section of INFO.
//!
//! jemalloc caches its statistics; [`AllocatorStats::read`] refreshes them first. The peak is
//! tracked here, raised each time the statistics are read.

use std::sync::atomic::{AtomicU64, Ordering};

use tikv_jemalloc_ctl::{epoch, stats};

/// The allocator's view, in bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllocatorStats {
    /// Bytes the program holds (Redis's `used_memory`).
    pub allocated: u64,
    /// Bytes in pages the allocator has in use (allocated plus fragmentation).
    pub active: u64,
    /// Bytes the allocator holds resident.
    pub resident: u64,
    /// The process's resident set size.
    pub rss: u64,
}

/// Bytes allocated when the server finished starting.
static STARTUP_ALLOCATED: AtomicU64 = AtomicU64::new(0);
/// The most bytes ever seen allocated.
static PEAK_ALLOCATED: AtomicU64 = AtomicU64::new(0);

impl AllocatorStats {
    /// Current statistics (advancing jemalloc's epoch so they are fresh).
    pub fn read() -> Self {
        let _ = epoch::advance();
        let s = AllocatorStats {
            allocated: stats::allocated::read().unwrap_or(0) as u64,
            active: stats::active::read().unwrap_or(0) as u64,
            resident: stats::resident::read().unwrap_or(0) as u64,
            rss: process_rss_bytes(),
        };
        PEAK_ALLOCATED.fetch_max(s.allocated, Ordering::Relaxed);
        s
    }
}

/// Records the start-up baseline: what an empty server uses.
pub fn record_startup() {
    let allocated = AllocatorStats::read().allocated;
    STARTUP_ALLOCATED.store(allocated, Ordering::Relaxed);
}

pub fn startup_allocated() -> u64 {
    STARTUP_ALLOCATED.load(Ordering::Relaxed)
}

pub fn peak_allocated() -> u64 {
    PEAK_ALLOCATED.load(Ordering::Relaxed)
}

/// The resident set size from /proc (0 where unavailable).
pub fn process_rss_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page_bytes = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page_bytes).unwrap_or(4096)
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
