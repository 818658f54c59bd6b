//! AOF files and manifests: any bytes either parse or are refused (truncated, bad format,
//! bad manifest); never a panic, never an allocation sized by a claimed length. What the
//! command reader accepts re-encodes to a prefix of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rudis_server::persist::aof::manifest::Manifest;
use rudis_server::persist::aof::reader::{read_all, Entry};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::parse(data) {
        // What parses renders to a manifest that parses to the same thing.
        let again = Manifest::parse(m.render().as_bytes()).expect("a rendered manifest parses");
        assert_eq!(again.base, m.base);
        assert_eq!(again.incrs, m.incrs);
    }
    let (entries, _err) = read_all(data);
    for e in entries {
        if let Entry::Command(argv) = e {
            assert!(!argv.is_empty());
        }
    }
});
