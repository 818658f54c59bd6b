//! Lengths a file merely claims cost nothing: hostile headers claiming huge strings,
//! collections, expansions and stream parts allocate in proportion to the bytes actually
//! present. Measured with a counting allocator (this test binary's only test, so nothing else
//! allocates meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use rudis_rdb::{dump, Reader};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A 64-bit RDB length.
fn huge(n: u64) -> Vec<u8> {
    [&[0x81u8][..], &n.to_be_bytes()].concat()
}

/// Peak bytes allocated while reading `body` after a header, and the error message.
fn peak_reading(body: &[u8]) -> (usize, String) {
    let file = [&b"REDIS0010"[..], body].concat();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let result: Result<Vec<_>, _> = Reader::new(&file[..]).unwrap().collect();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    (peak, result.expect_err("a truncated file").to_string())
}

#[test]
fn claimed_lengths_cost_nothing() {
    let t = 1u64 << 60;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("string", [&[0u8, 1, b'k'][..], &huge(t), b"abc"].concat()),
        ("key", [&[0u8][..], &huge(t)].concat()),
        ("aux", [&[0xFAu8][..], &huge(t)].concat()),
        (
            "set members",
            [&[2u8, 1, b'k'][..], &huge(t), &[1, b'a']].concat(),
        ),
        ("list elements", [&[1u8, 1, b'k'][..], &huge(t)].concat()),
        ("zset members", [&[5u8, 1, b'k'][..], &huge(t)].concat()),
        ("hash fields", [&[4u8, 1, b'k'][..], &huge(t)].concat()),
        (
            "quicklist nodes",
            [&[18u8, 1, b'k'][..], &huge(t), &[2]].concat(),
        ),
        (
            "LZF expansion",
            [&[0u8, 1, b'k', 0xC3, 3][..], &huge(t), &[0, b'a', b'b']].concat(),
        ),
        (
            "LZF input",
            [&[0u8, 1, b'k', 0xC3][..], &huge(t), &[5]].concat(),
        ),
        ("stream nodes", [&[19u8, 1, b'k'][..], &huge(t)].concat()),
        (
            "stream groups",
            [&[19u8, 1, b'k', 0, 0, 0, 0, 0, 0, 0, 0, 0][..], &huge(t)].concat(),
        ),
        (
            "stream PEL",
            [
                &[
                    19u8, 1, b'k', 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, b'g', 0, 0, 0,
                ][..],
                &huge(t),
            ]
            .concat(),
        ),
    ];
    for (what, body) in cases {
        let (peak, message) = peak_reading(&body);
        assert!(
            peak < 256 * 1024,
            "{what}: {peak} bytes allocated ({message})"
        );
    }
    let payload = [&[0u8][..], &huge(t), &[10, 0], &[0; 8]].concat();
    assert!(dump::decode(&payload, false).is_err());
}
