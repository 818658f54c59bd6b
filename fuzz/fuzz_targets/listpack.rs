//! Listpack validation on untrusted bytes (RDB, RESTORE): no panic, and a listpack that
//! validates can be walked both ways and edited without breaking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rudis_server::types::listpack::{self, Lp};

fuzz_target!(|data: &[u8]| {
    let Some(n) = listpack::validate(data) else { return };
    let lp = Lp(data);
    assert_eq!(lp.iter().count(), n);
    let mut back = 0;
    let mut p = lp.last();
    while let Some(off) = p {
        back += 1;
        p = lp.prev(off);
    }
    assert_eq!(back, n);
    let mut v = data.to_vec();
    listpack::push_back(&mut v, b"appended");
    if let Some(first) = Lp(&v).first() {
        listpack::delete(&mut v, first, 1);
    }
    assert_eq!(listpack::validate(&v), Some(n));
});
