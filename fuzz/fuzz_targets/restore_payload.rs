//! RESTORE's payload decoder on untrusted bytes: no panic, bounded memory, and a payload it
//! accepts encodes again into one that decodes to a value of the same type and size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rudis_server::config::Config;
use rudis_server::persist::codec::{decode_payload, encode_payload};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let cfg = Config::default();
    // Mostly skip the checksum, so the fuzzer spends its time on values.
    let Ok(value) = decode_payload(rest, mode % 8 == 0, &cfg) else { return };
    let again = encode_payload(&value, mode & 1 == 1);
    let back = decode_payload(&again, true, &cfg).expect("an encoded payload decodes");
    assert_eq!(back.type_name(), value.type_name());
    assert_eq!(encode_payload(&back, false).len(), encode_payload(&value, false).len());
});
