//! Inline command / config line splitting: no panic; quoting a token reads back the token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rudis_resp::inline::{repr, split_args};

fuzz_target!(|data: &[u8]| {
    let _ = split_args(data);
    if !data.contains(&0) {
        let mut quoted = Vec::new();
        repr(data, &mut quoted);
        assert_eq!(split_args(&quoted).expect("quoted text splits"), vec![data.to_vec()]);
    }
});
