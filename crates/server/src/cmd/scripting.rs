//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: Lua scripts by body or SHA1.
//!
//! The script commands are declared `EXCLUSIVE` (an internal flag COMMAND INFO does not
//! show): the gate runs them holding the whole keyspace, which makes a script atomic.
//! Running is `crate::script::run`; the VM and its cache are `crate::script::vm`.

use rudis_resp::Argv;

use super::util::{is, reply_help, subcommand_syntax_error};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::script::run::RunSpec;

const RUN_FLAGS: u64 = flag::NOSCRIPT
    | flag::STALE
    | flag::SKIP_MONITOR
    | flag::NO_MANDATORY_KEYS
    | flag::MOVABLE_KEYS
    | flag::EXCLUSIVE;
const RW_NOTES: &str =
    "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE";
const RO_NOTES: &str =
    "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS";
const RW_KEYS: &[KeySpec] =
    &[KeySpec::keynum(2, keyflag::RW | keyflag::ACCESS | keyflag::UPDATE).notes(RW_NOTES)];
const RW_KEYS_SHA: &[KeySpec] = &[KeySpec::keynum(
    2,
    keyflag::RW | keyflag::ACCESS | keyflag::UPDATE,
)];
const RO_KEYS: &[KeySpec] = &[KeySpec::keynum(2, keyflag::RO | keyflag::ACCESS).notes(RO_NOTES)];
const RO_KEYS_SHA: &[KeySpec] = &[KeySpec::keynum(2, keyflag::RO | keyflag::ACCESS)];
const NK: u64 = flag::NO_KEYSPACE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("eval", -3, eval)
        .flags(RUN_FLAGS)
        .acl(acl::SCRIPTING)
        .keys(RW_KEYS)
        .doc("scripting", "Execute a Lua script server side", "2.6.0", "Depends on the script that is executed."),
    CommandSpec::new("evalsha", -3, evalsha)
        .flags(RUN_FLAGS)
        .acl(acl::SCRIPTING)
        .keys(RW_KEYS_SHA)
        .doc("scripting", "Execute a Lua script server side", "2.6.0", "Depends on the script that is executed."),
    CommandSpec::new("eval_ro", -3, eval_ro)
        .flags(RUN_FLAGS | flag::READONLY)
        .acl(acl::SCRIPTING)
        .keys(RO_KEYS)
        .doc("scripting", "Execute a read-only Lua script server side", "7.0.0", "Depends on the script that is executed."),
    CommandSpec::new("evalsha_ro", -3, evalsha_ro)
        .flags(RUN_FLAGS | flag::READONLY)
        .acl(acl::SCRIPTING)
        .keys(RO_KEYS_SHA)
        .doc("scripting", "Execute a read-only Lua script server side", "7.0.0", "Depends on the script that is executed."),
    CommandSpec::new("script", -2, container)
        .flags(NK)
        .doc("scripting", "A container for Lua scripts management commands", "2.6.0", "Depends on subcommand.")
        .subcommands(&[
            CommandSpec::new("help", 2, help)
                .flags(flag::LOADING | flag::STALE | NK)
                .acl(acl::SCRIPTING)
                .doc("scripting", "Show helpful text about the different subcommands", "5.0.0", "O(1)"),
            CommandSpec::new("flush", -2, flush)
                .flags(flag::NOSCRIPT | NK)
                .acl(acl::SCRIPTING)
                .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
                .history(&[("6.2.0", "Added the `ASYNC` and `SYNC` flushing mode modifiers.")])
                .doc("scripting", "Remove all the scripts from the script cache.", "2.6.0", "O(N) with N being the number of scripts in cache"),
            CommandSpec::new("exists", -3, exists)
                .flags(flag::NOSCRIPT | NK)
                .acl(acl::SCRIPTING)
                .tips(&["request_policy:all_shards", "response_policy:agg_logical_and"])
                .doc("scripting", "Check existence of scripts in the script cache.", "2.6.0", "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation)."),
            CommandSpec::new("debug", 3, debug)
                .flags(flag::NOSCRIPT | NK)
                .acl(acl::SCRIPTING)
                .doc("scripting", "Set the debug mode for executed scripts.", "3.2.0", "O(1)"),
            CommandSpec::new("load", 3, load)
                .flags(flag::NOSCRIPT | flag::STALE | NK)
                .acl(acl::SCRIPTING)
                .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
                .doc("scripting", "Load the specified Lua script into the script cache.", "2.6.0", "O(N) with N being the length in bytes of the script body."),
            CommandSpec::new("kill", 2, kill)
                .flags(flag::NOSCRIPT | flag::ALLOW_BUSY | NK)
                .acl(acl::SCRIPTING)
                .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
                .doc("scripting", "Kill the script currently in execution.", "2.6.0", "O(1)"),
        ]),
];

fn container(_ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    Err("ERR wrong number of arguments for 'script' command".into())
}

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// EVAL script numkeys [key ...] [arg ...]
fn eval(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    run_script(ctx, argv, false, false)
}

/// EVALSHA sha1 numkeys [key ...] [arg ...]
fn evalsha(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    run_script(ctx, argv, true, false)
}

/// EVAL_RO script numkeys [key ...] [arg ...]
fn eval_ro(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    run_script(ctx, argv, false, true)
}

/// EVALSHA_RO sha1 numkeys [key ...] [arg ...]
fn evalsha_ro(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    run_script(ctx, argv, true, true)
}

/// The keys and the arguments of a script call.
pub type KeysAndArgs<'a> = (Vec<&'a [u8]>, Vec<&'a [u8]>);

/// Splits `numkeys key... arg...` (from argument 2) the way EVAL and FCALL do.
pub fn keys_and_args<'a>(argv: Argv<'a>) -> Result<KeysAndArgs<'a>, crate::command::CmdError> {
    let numkeys = rudis_resp::number::parse_i64(argv.get(2))
        .ok_or("ERR value is not an integer or out of range")?;
    let available = argv.len() as i64 - 3;
    if numkeys > available {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    if numkeys < 0 {
        return Err("ERR Number of keys can't be negative".into());
    }
    let split = 3 + numkeys as usize;
    let keys = (3..split).map(|i| argv.get(i)).collect();
    let args = (split..argv.len()).map(|i| argv.get(i)).collect();
    Ok((keys, args))
}

fn run_script(ctx: &mut Ctx, argv: Argv, by_sha: bool, read_only: bool) -> CmdResult {
    if by_sha && argv.get(1).len() != 40 {
        return Err(NOSCRIPT.into());
    }
    let (keys, args) = keys_and_args(argv)?;
    let srv = ctx.srv;
    let scripting = &srv.scripting;
    let mut vm = scripting.vm();
    let sha = if by_sha {
        let sha = String::from_utf8_lossy(argv.get(1)).to_ascii_lowercase();
        if !vm.scripts.contains_key(&sha) {
            return Err(NOSCRIPT.into());
        }
        sha
    } else {
        let sha = vm
            .cache_script(argv.get(1))
            .map_err(crate::command::CmdError::from)?;
        scripting.note_vm(&vm);
        sha
    };
    let script = &vm.scripts[&sha];
    let spec = RunSpec {
        func: script.func.clone(),
        name: sha.clone(),
        flags: script.flags,
        read_only,
        is_eval: true,
        keys,
        args,
    };
    scripting.set_running_command(argv);
    let result = crate::script::run::run(&vm, scripting, ctx, spec);
    scripting.note_vm(&vm);
    drop(vm);
    result
}

/// SCRIPT LOAD script
fn load(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let srv = ctx.srv;
    let scripting = &srv.scripting;
    let mut vm = scripting.vm();
    let sha = vm
        .cache_script(argv.get(2))
        .map_err(crate::command::CmdError::from)?;
    scripting.note_vm(&vm);
    ctx.reply.bulk(sha.as_bytes());
    Ok(())
}

/// SCRIPT EXISTS sha1 [sha1 ...]
fn exists(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let srv = ctx.srv;
    let vm = srv.scripting.vm();
    ctx.reply.array(argv.len() - 2);
    for sha in argv.iter().skip(2) {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        ctx.reply.int(i64::from(vm.scripts.contains_key(&sha)));
    }
    Ok(())
}

/// SCRIPT FLUSH [ASYNC | SYNC]
fn flush(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let mode_ok = match argv.len() {
        2 => true,
        3 => is(argv.get(2), "SYNC") || is(argv.get(2), "ASYNC"),
        _ => false,
    };
    if !mode_ok {
        return Err("ERR SCRIPT FLUSH only support SYNC|ASYNC option".into());
    }
    let srv = ctx.srv;
    let scripting = &srv.scripting;
    let mut vm = scripting.vm();
    vm.flush_scripts();
    scripting.note_vm(&vm);
    ctx.reply.ok();
    Ok(())
}

/// SCRIPT KILL
fn kill(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    ctx.srv.scripting.kill(true)?;
    ctx.reply.ok();
    Ok(())
}

/// SCRIPT DEBUG YES|SYNC|NO: the debugger is not provided; NO is accepted.
fn debug(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let mode = argv.get(2);
    if is(mode, "NO") {
        ctx.reply.ok();
        return Ok(());
    }
    if is(mode, "YES") || is(mode, "SYNC") {
        return Err("ERR SCRIPT DEBUG is not supported by this server".into());
    }
    let _ = subcommand_syntax_error;
    Err("ERR Use SCRIPT DEBUG YES/SYNC/NO".into())
}

/// SCRIPT HELP
fn help(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    reply_help(
        ctx.reply,
        argv.get(0),
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}
