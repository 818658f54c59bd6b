//! Config file text: any input either loads or is refused with a message; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rudis_server::config::{load::apply_text, Config, StartOptions};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // `include` and `dir` would touch the filesystem; the fuzzer explores syntax, not files.
    if text.contains("include") || text.contains("dir") {
        return;
    }
    let mut config = Config::default();
    let mut opts = StartOptions::default();
    let _ = apply_text(&mut config, &mut opts, &text, None);
});
