//! The reply parser (used by replicas reading their master) on arbitrary bytes: no panic, and
//! a parsed value re-encodes and parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rudis_resp::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((v, n))) = Value::parse(data) {
        assert!(n <= data.len());
        let mut out = Vec::new();
        v.encode(&mut out);
        let (again, m) = Value::parse(&out).expect("re-encoded value parses").expect("complete");
        assert_eq!(m, out.len());
        assert_eq!(again, v);
    }
});
