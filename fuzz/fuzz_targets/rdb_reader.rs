//! The RDB reader on untrusted bytes (files, replication streams, RESTORE payloads): no
//! panic, bounded memory, and whatever it accepts the writer re-emits so that it reads back
//! the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rudis_rdb::{dump, Item, ReadOptions, Reader, WriteOptions, Writer};

fn read_all(bytes: &[u8], verify_checksum: bool) -> Option<Vec<Item>> {
    let reader = Reader::with_options(bytes, ReadOptions { verify_checksum }).ok()?;
    reader.collect::<Result<Vec<_>, _>>().ok()
}

fn write_all(items: &[Item]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    for item in items {
        match item {
            Item::Aux { key, value } => w.aux(key, value).unwrap(),
            Item::SelectDb { db } => w.select_db(*db).unwrap(),
            Item::ResizeDb { keys, expires } => w.resize_db(*keys, *expires).unwrap(),
            Item::Function { code } => w.function(code).unwrap(),
            Item::Entry(e) => w.write_entry(e).unwrap(),
        }
    }
    w.finish().unwrap()
}

/// Reads a file; if it is accepted, writing it and reading that back must give the same
/// bytes again (the first write normalizes: plain lists become quicklists).
fn check_file(bytes: &[u8], verify_checksum: bool) {
    let Some(items) = read_all(bytes, verify_checksum) else { return };
    let written = write_all(&items);
    let again = read_all(&written, true).expect("the writer's output reads back");
    assert_eq!(write_all(&again), written);
}

fn check_dump(payload: &[u8]) {
    let Ok(value) = dump::decode(payload, false) else { return };
    let encoded = dump::encode(&value, true);
    let again = dump::decode(&encoded, true).expect("an encoded payload decodes");
    assert_eq!(dump::encode(&again, true), encoded);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    // Most modes supply a header and skip the checksum, so the fuzzer spends its time on items.
    match mode % 4 {
        0 => check_file(rest, true),
        1 => check_file(&[&b"REDIS0010"[..], rest].concat(), false),
        2 => check_file(&[&b"REDIS0006"[..], rest].concat(), false),
        _ => check_dump(rest),
    }
});
