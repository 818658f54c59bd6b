//! Intset validation on untrusted bytes: no panic, and a valid intset stays valid and sorted
//! through inserts and removals.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rudis_server::types::intset::{self, Is};

fuzz_target!(|data: &[u8]| {
    let Some(n) = intset::validate(data) else { return };
    let mut v = data.to_vec();
    let added = intset::insert(&mut v, -12345678901);
    assert_eq!(intset::validate(&v), Some(n + usize::from(added)));
    if let Some(max) = Is(&v).max() {
        assert!(intset::remove(&mut v, max));
    }
    assert!(intset::validate(&v).is_some());
});
