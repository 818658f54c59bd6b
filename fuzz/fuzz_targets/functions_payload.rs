//! FUNCTION RESTORE payloads: decoding arbitrary bytes must fail cleanly, never panic, and
//! never allocate for lengths the payload only claims.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rudis_rdb::dump::decode_functions(data);
    // With a valid footer, the records themselves are exercised.
    let mut payload = data.to_vec();
    payload.extend_from_slice(&10u16.to_le_bytes());
    let crc = rudis_rdb::crc64::checksum(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    let _ = rudis_rdb::dump::decode_functions(&payload);
});
