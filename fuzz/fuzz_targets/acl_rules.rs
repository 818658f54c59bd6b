//! ACL rules and aclfile text: any input either gives users or is refused with Redis's
//! message; never a panic. A user that parses must describe itself without panicking.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use rudis_server::acl::{describe::describe_user, file, rules};
use rudis_server::command::table::CommandTable;

fn table() -> &'static CommandTable {
    static TABLE: OnceLock<CommandTable> = OnceLock::new();
    TABLE.get_or_init(|| CommandTable::new(rudis_server::cmd::all()))
}

fuzz_target!(|data: &[u8]| {
    let t = table();
    let args: Vec<&[u8]> = data.split(|&c| c == b' ').collect();
    if let Ok(user) = rules::set_user(t, None, "u", &args) {
        let _ = describe_user(t, &user);
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(users) = file::parse(t, "fuzz.acl", &text) {
        let users: Vec<_> = users.into_iter().map(Arc::new).collect();
        let _ = file::render(t, &users);
    }
});
