//! What a replica reads from its master before the command stream: the PSYNC reply, the
//! transfer header, handshake lines and a diskless transfer's end mark. Any input is parsed
//! or refused; never a panic, never an allocation the input merely claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rudis_server::replication::wire::{
    parse_bulk_header, parse_psync_reply, take_line, EofScanner, ID_LEN,
};

fuzz_target!(|data: &[u8]| {
    let _ = parse_psync_reply(data);
    let _ = parse_bulk_header(data);
    let mut rest = data;
    while let Ok(Some((_, used))) = take_line(rest) {
        rest = &rest[used..];
    }
    let mark = [b'a'; ID_LEN];
    let mut scanner = EofScanner::new(mark);
    let mut out = Vec::new();
    for chunk in data.chunks(7) {
        if scanner.push(chunk, &mut out) {
            break;
        }
    }
    assert!(out.len() <= data.len());
});
