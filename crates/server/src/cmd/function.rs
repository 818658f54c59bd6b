//! FUNCTION: the Redis Functions interface, over an empty set of libraries. Rudis has no
//! script engine (no Lua), so there is never a library: FLUSH, LIST, STATS, DUMP, DELETE and
//! KILL answer as Redis does with no libraries loaded, and LOAD and RESTORE report that no
//! engine can run the code. Clients and tools that manage functions defensively (and Redis's
//! own test suite, which runs FUNCTION FLUSH before every test file) keep working.

use rudis_resp::Argv;

use super::util::{is, reply_help, subcommand_syntax_error};
use crate::command::spec::{acl, flag, CommandSpec};
use crate::command::{CmdResult, Ctx};

const NK: u64 = flag::NO_KEYSPACE;
const SCRIPTING: u64 = acl::SCRIPTING;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("function", -2, container)
    .flags(NK)
    .doc("scripting", "A container for function commands", "7.0.0", "Depends on subcommand.")
    .subcommands(&[
        CommandSpec::new("flush", -2, flush)
            .flags(flag::NOSCRIPT | flag::WRITE | NK)
            .acl(SCRIPTING)
            .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
            .doc("scripting", "Deleting all functions", "7.0.0", "O(N) where N is the number of functions deleted"),
        CommandSpec::new("list", -2, list)
            .flags(flag::NOSCRIPT | NK)
            .acl(SCRIPTING)
            .tips(&["nondeterministic_output_order"])
            .doc("scripting", "List information about all the functions", "7.0.0", "O(N) where N is the number of functions"),
        CommandSpec::new("stats", 2, stats)
            .flags(flag::NOSCRIPT | flag::ALLOW_BUSY | NK)
            .acl(SCRIPTING)
            .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"])
            .doc("scripting", "Return information about the function currently running (name, description, duration)", "7.0.0", "O(1)"),
        CommandSpec::new("delete", 3, delete)
            .flags(flag::NOSCRIPT | flag::WRITE | NK)
            .acl(SCRIPTING)
            .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
            .doc("scripting", "Delete a function by name", "7.0.0", "O(1)"),
        CommandSpec::new("load", -3, load)
            .flags(flag::NOSCRIPT | flag::WRITE | flag::DENYOOM | NK)
            .acl(SCRIPTING)
            .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
            .doc("scripting", "Create a function with the given arguments (name, code, description)", "7.0.0", "O(1) (considering compilation time is redundant)"),
        CommandSpec::new("dump", 2, dump)
            .flags(flag::NOSCRIPT | NK)
            .acl(SCRIPTING)
            .doc("scripting", "Dump all functions into a serialized binary payload", "7.0.0", "O(N) where N is the number of functions"),
        CommandSpec::new("restore", -3, restore)
            .flags(flag::NOSCRIPT | flag::WRITE | flag::DENYOOM | NK)
            .acl(SCRIPTING)
            .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
            .doc("scripting", "Restore all the functions on the given payload", "7.0.0", "O(N) where N is the number of functions on the payload"),
        CommandSpec::new("kill", 2, kill)
            .flags(flag::NOSCRIPT | flag::ALLOW_BUSY | NK)
            .acl(SCRIPTING)
            .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
            .doc("scripting", "Kill the function currently in execution.", "7.0.0", "O(1)"),
        CommandSpec::new("help", 2, help)
            .flags(flag::LOADING | flag::STALE | NK)
            .acl(SCRIPTING)
            .doc("scripting", "Show helpful text about the different subcommands", "7.0.0", "O(1)"),
    ])];

fn container(_ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    Err("ERR wrong number of arguments for 'function' command".into())
}

/// FUNCTION FLUSH [ASYNC | SYNC]
fn flush(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if argv.len() > 3 {
        return Err(subcommand_syntax_error(argv));
    }
    if argv.len() == 3 && !is(argv.get(2), "SYNC") && !is(argv.get(2), "ASYNC") {
        return Err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option".into());
    }
    // Counted as a change, as in Redis, so it replicates and persistence notices it.
    ctx.txn.dirty(1);
    ctx.reply.ok();
    Ok(())
}

/// FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]
fn list(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (mut with_code, mut pattern) = (false, false);
    let mut i = 2;
    while i < argv.len() {
        let arg = argv.get(i);
        if !with_code && is(arg, "WITHCODE") {
            with_code = true;
        } else if !pattern && is(arg, "LIBRARYNAME") {
            if i + 1 >= argv.len() {
                return Err("ERR library name argument was not given".into());
            }
            pattern = true;
            i += 1;
        } else {
            return Err(crate::err!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(arg)
            ));
        }
        i += 1;
    }
    ctx.reply.array(0);
    Ok(())
}

/// FUNCTION STATS
fn stats(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    ctx.reply.map(2);
    ctx.reply.bulk(b"running_script");
    ctx.reply.null();
    ctx.reply.bulk(b"engines");
    ctx.reply.map(0);
    Ok(())
}

/// FUNCTION DELETE library-name
fn delete(_ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    Err("ERR Library not found".into())
}

/// FUNCTION LOAD [REPLACE] function-code
fn load(_ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let code = argv.get(argv.len() - 1);
    let engine = code
        .strip_prefix(b"#!")
        .and_then(|rest| rest.split(|&c| c == b' ' || c == b'\n').next())
        .map(|e| String::from_utf8_lossy(e).into_owned());
    match engine {
        Some(e) if !e.is_empty() => Err(crate::err!("ERR Engine '{e}' not found")),
        _ => Err("ERR Missing library metadata".into()),
    }
}

/// The RDB version a DUMP payload carries.
const RDB_VERSION: u16 = 10;
const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// A DUMP-format payload holding no libraries: the RDB version and a CRC-64 over it.
fn empty_payload() -> Vec<u8> {
    let mut p = RDB_VERSION.to_le_bytes().to_vec();
    let crc = CRC64.checksum(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

/// FUNCTION DUMP: the payload of an empty set of libraries.
fn dump(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    ctx.reply.bulk(&empty_payload());
    Ok(())
}

/// FUNCTION RESTORE serialized-value [FLUSH | APPEND | REPLACE]
fn restore(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if argv.len() > 4 {
        return Err(subcommand_syntax_error(argv));
    }
    if let Some(policy) = argv.try_get(3) {
        if !["FLUSH", "APPEND", "REPLACE"].iter().any(|p| is(policy, p)) {
            return Err(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
                    .into(),
            );
        }
    }
    let payload = argv.get(2);
    if payload.len() < 10
        || CRC64.checksum(&payload[..payload.len() - 8]).to_le_bytes()
            != payload[payload.len() - 8..]
    {
        return Err("ERR DUMP payload version or checksum are wrong".into());
    }
    if payload.len() > 10 {
        // Libraries need an engine to be compiled, and there is none.
        return Err("ERR Engine 'LUA' not found".into());
    }
    ctx.reply.ok();
    Ok(())
}

/// FUNCTION KILL
fn kill(_ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    Err("NOTBUSY No scripts in execution right now.".into())
}

/// FUNCTION HELP
fn help(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    reply_help(
        ctx.reply,
        argv.get(0),
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    Ok(())
}
