//! FCALL, FCALL_RO and FUNCTION: Redis Functions. The libraries live with the Lua VM
//! (`crate::script::functions`); FCALL runs a function like EVAL runs a script, holding the
//! keyspace exclusively (`EXCLUSIVE`, an internal flag COMMAND INFO does not show).

use rudis_resp::Argv;

use super::util::{is, reply_help, subcommand_syntax_error};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdError, CmdResult, Ctx};
use crate::script::functions::{self, ENGINE};
use crate::script::run::RunSpec;

const NK: u64 = flag::NO_KEYSPACE;
const SCRIPTING: u64 = acl::SCRIPTING;

const RUN_FLAGS: u64 = flag::NOSCRIPT
    | flag::STALE
    | flag::SKIP_MONITOR
    | flag::NO_MANDATORY_KEYS
    | flag::MOVABLE_KEYS
    | flag::EXCLUSIVE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("fcall", -3, fcall)
        .flags(RUN_FLAGS)
        .acl(SCRIPTING)
        .keys(&[KeySpec::keynum(2, keyflag::RW | keyflag::ACCESS | keyflag::UPDATE).notes(
            "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
        )])
        .doc("scripting", "Invoke a function", "7.0.0", "Depends on the function that is executed."),
    CommandSpec::new("fcall_ro", -3, fcall_ro)
        .flags(RUN_FLAGS | flag::READONLY)
        .acl(SCRIPTING)
        .keys(&[KeySpec::keynum(2, keyflag::RO | keyflag::ACCESS).notes(
            "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS",
        )])
        .doc("scripting", "Invoke a read-only function", "7.0.0", "Depends on the function that is executed."),
    CommandSpec::new("function", -2, container)
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
    ]),
];

fn container(_ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    Err("ERR wrong number of arguments for 'function' command".into())
}

/// FCALL function numkeys [key ...] [arg ...]
fn fcall(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    call_function(ctx, argv, false)
}

/// FCALL_RO function numkeys [key ...] [arg ...]
fn fcall_ro(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    call_function(ctx, argv, true)
}

fn call_function(ctx: &mut Ctx, argv: Argv, read_only: bool) -> CmdResult {
    let srv = ctx.srv;
    let scripting = &srv.scripting;
    let vm = scripting.vm();
    let name = String::from_utf8_lossy(argv.get(1)).into_owned();
    let Some(f) = vm.libraries.function(&name) else {
        return Err("ERR Function not found".into());
    };
    if rudis_resp::number::parse_i64(argv.get(2)).is_none() {
        return Err("ERR Bad number of keys provided".into());
    }
    let (keys, args) = super::scripting::keys_and_args(argv)?;
    let spec = RunSpec {
        func: f.func.clone(),
        name,
        flags: f.flags,
        read_only,
        is_eval: false,
        keys,
        args,
    };
    scripting.set_running_command(argv);
    let result = crate::script::run::run(&vm, scripting, ctx, spec);
    scripting.note_vm(&vm);
    result
}

/// FUNCTION FLUSH [ASYNC | SYNC]
fn flush(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if argv.len() > 3 {
        return Err(subcommand_syntax_error(argv));
    }
    if argv.len() == 3 && !is(argv.get(2), "SYNC") && !is(argv.get(2), "ASYNC") {
        return Err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option".into());
    }
    let srv = ctx.srv;
    let mut vm = srv.scripting.vm();
    vm.libraries.flush();
    srv.scripting.note_vm(&vm);
    // Counted as a change, as in Redis, so it replicates and persistence notices it.
    ctx.txn.dirty(1);
    ctx.reply.ok();
    Ok(())
}

/// FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]
fn list(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 2;
    while i < argv.len() {
        let arg = argv.get(i);
        if !with_code && is(arg, "WITHCODE") {
            with_code = true;
        } else if pattern.is_none() && is(arg, "LIBRARYNAME") {
            if i + 1 >= argv.len() {
                return Err("ERR library name argument was not given".into());
            }
            pattern = Some(argv.get(i + 1));
            i += 1;
        } else {
            return Err(crate::err!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(arg)
            ));
        }
        i += 1;
    }
    let srv = ctx.srv;
    let vm = srv.scripting.vm();
    let libs: Vec<_> = vm
        .libraries
        .libs
        .values()
        .filter(|l| pattern.is_none_or(|p| crate::util::glob::matches(p, l.name.as_bytes(), true)))
        .collect();
    let reply = &mut *ctx.reply;
    reply.array(libs.len());
    for lib in libs {
        reply.map(if with_code { 4 } else { 3 });
        reply.bulk(b"library_name");
        reply.bulk(lib.name.as_bytes());
        reply.bulk(b"engine");
        reply.bulk(ENGINE.as_bytes());
        reply.bulk(b"functions");
        reply.array(lib.functions.len());
        for f in lib.functions.values() {
            reply.map(3);
            reply.bulk(b"name");
            reply.bulk(f.name.as_bytes());
            reply.bulk(b"description");
            match &f.description {
                Some(d) => reply.bulk(d),
                None => reply.null(),
            }
            reply.bulk(b"flags");
            let names: Vec<&str> = crate::script::shebang::NAMES
                .iter()
                .filter(|(flag, _)| f.flags & flag != 0)
                .map(|(_, n)| *n)
                .collect();
            reply.set(names.len());
            for n in names {
                reply.simple(n);
            }
        }
        if with_code {
            reply.bulk(b"library_code");
            reply.bulk(&lib.code);
        }
    }
    Ok(())
}

/// FUNCTION STATS
fn stats(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let scripting = &ctx.srv.scripting;
    if scripting.running_eval() {
        return Err(
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
                .into(),
        );
    }
    let reply = &mut *ctx.reply;
    reply.map(2);
    reply.bulk(b"running_script");
    match scripting.running_function() {
        None => reply.null(),
        Some((info, elapsed_ms)) => {
            reply.map(3);
            reply.bulk(b"name");
            reply.bulk(info.name.as_bytes());
            reply.bulk(b"command");
            reply.array(info.command.len());
            for a in &info.command {
                reply.bulk(a);
            }
            reply.bulk(b"duration_ms");
            reply.int(elapsed_ms);
        }
    }
    reply.bulk(b"engines");
    reply.map(1);
    reply.bulk(ENGINE.as_bytes());
    reply.map(2);
    reply.bulk(b"libraries_count");
    reply.int(
        scripting
            .libraries
            .load(std::sync::atomic::Ordering::Relaxed) as i64,
    );
    reply.bulk(b"functions_count");
    reply.int(
        scripting
            .functions
            .load(std::sync::atomic::Ordering::Relaxed) as i64,
    );
    Ok(())
}

/// FUNCTION DELETE library-name
fn delete(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let srv = ctx.srv;
    let mut vm = srv.scripting.vm();
    if !vm.libraries.delete(&String::from_utf8_lossy(argv.get(2))) {
        return Err("ERR Library not found".into());
    }
    srv.scripting.note_vm(&vm);
    ctx.txn.dirty(1);
    ctx.reply.ok();
    Ok(())
}

/// FUNCTION LOAD [REPLACE] function-code
fn load(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let mut replace = false;
    let mut i = 2;
    while i < argv.len() - 1 {
        if is(argv.get(i), "REPLACE") {
            replace = true;
        } else {
            return Err(crate::err!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(argv.get(i))
            ));
        }
        i += 1;
    }
    let code = argv.get(argv.len() - 1);
    let srv = ctx.srv;
    let mut guard = srv.scripting.vm();
    let vm = &mut *guard;
    let mut libraries = std::mem::take(&mut vm.libraries);
    let loaded = libraries.load(vm, code, replace, LOAD_TIMEOUT_MS);
    vm.libraries = libraries;
    srv.scripting.note_vm(vm);
    let name = loaded.map_err(|e| CmdError::from(format!("ERR {e}")))?;
    ctx.txn.dirty(1);
    ctx.reply.bulk(name.as_bytes());
    Ok(())
}

/// How long FUNCTION LOAD lets a library's code run, as in Redis.
const LOAD_TIMEOUT_MS: i64 = 500;

/// FUNCTION DUMP
fn dump(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let srv = ctx.srv;
    let vm = srv.scripting.vm();
    let payload =
        rudis_rdb::dump::encode_functions(vm.libraries.libs.values().map(|l| l.code.as_slice()));
    ctx.reply.bulk(&payload);
    Ok(())
}

/// FUNCTION RESTORE serialized-value [FLUSH | APPEND | REPLACE]
fn restore(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if argv.len() > 4 {
        return Err(subcommand_syntax_error(argv));
    }
    let policy =
        match argv.try_get(3) {
            None => "APPEND",
            Some(p) if is(p, "APPEND") => "APPEND",
            Some(p) if is(p, "REPLACE") => "REPLACE",
            Some(p) if is(p, "FLUSH") => "FLUSH",
            Some(_) => return Err(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
                    .into(),
            ),
        };
    let codes = rudis_rdb::dump::decode_functions(argv.get(2))
        .map_err(|e| CmdError::from(format!("ERR {}", e.message())))?;
    let srv = ctx.srv;
    let mut guard = srv.scripting.vm();
    let vm = &mut *guard;
    let mut fresh = functions::Libraries::default();
    for code in &codes {
        let lib = functions::create(vm, code, 0, |name| fresh.libs.contains_key(name))
            .map_err(|e| CmdError::from(format!("ERR {e}")))?;
        fresh
            .join(vec![lib], false)
            .map_err(|e| CmdError::from(format!("ERR {e}")))?;
    }
    let joined = if policy == "FLUSH" {
        vm.libraries = fresh;
        Ok(())
    } else {
        let new: Vec<_> = std::mem::take(&mut fresh.libs).into_values().collect();
        vm.libraries.join(new, policy == "REPLACE")
    };
    srv.scripting.note_vm(vm);
    joined.map_err(|e| CmdError::from(format!("ERR {e}")))?;
    ctx.txn.dirty(1);
    ctx.reply.ok();
    Ok(())
}

/// FUNCTION KILL
fn kill(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    ctx.srv.scripting.kill(false)?;
    ctx.reply.ok();
    Ok(())
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
