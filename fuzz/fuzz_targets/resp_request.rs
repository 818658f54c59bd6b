//! The request parser on arbitrary bytes, delivered in two pieces at an arbitrary split: it
//! must never panic, and every command it returns must lie within the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rudis_resp::{Limits, Parsed, RequestParser};

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else { return };
    let split = (split as usize * data.len()) / 256;
    let limits = Limits { max_bulk_len: 1 << 20, auth_required: split % 2 == 0, from_master: false };
    let mut parser = RequestParser::new();
    let mut buf = data[..split].to_vec();
    let mut fed = false;
    loop {
        match parser.parse(&buf, &limits) {
            Ok(Parsed::Command(n)) => {
                assert!(n <= buf.len());
                let argv = parser.argv(&buf);
                assert!(!argv.is_empty());
                let _ = argv.total_bytes();
                buf.drain(..n);
            }
            Ok(Parsed::Empty(n)) | Ok(Parsed::Newline(n)) => {
                assert!(n <= buf.len());
                buf.drain(..n);
            }
            Ok(Parsed::Incomplete) if !fed => {
                buf.extend_from_slice(&data[split..]);
                fed = true;
            }
            Ok(Parsed::Incomplete) | Err(_) => return,
        }
    }
});
