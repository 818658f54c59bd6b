//! The decoders scripts reach with untrusted bytes: `cjson.decode` and `cmsgpack.unpack`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rudis_server::script::libs::{cjson::Decoder, cmsgpack::Cursor};

fuzz_target!(|data: &[u8]| {
    let lua = mlua::Lua::new();
    let _ = Decoder::new(&lua, data, 1000).document();
    let mut cursor = Cursor::new(&lua, data, 0);
    while cursor.pos < data.len() {
        if cursor.value(0).is_err() {
            break;
        }
    }
});
