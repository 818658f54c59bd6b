//! XGROUP: creating, moving, and destroying consumer groups and their consumers (CREATE
//! [MKSTREAM] [ENTRIESREAD], SETID, DESTROY, CREATECONSUMER, DELCONSUMER, HELP), with Redis's
//! order of checks and error texts. The groups themselves live in [`crate::types::stream`];
//! reading through them is XREADGROUP's ([`super::stream_readgroup`]).

use rudis_resp::Argv;

use super::stream::{parse_id, stream_mut};
use super::util::{int_arg, is, reply_help, subcommand_syntax_error};
use crate::command::error::CmdError;
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::txn::event;
use crate::keyspace::Value;
use crate::types::stream::{Consumer, Group, StreamId};

const S: u64 = acl::STREAM;
const KEY_INSERT: &[KeySpec] = &[KeySpec::one(2, keyflag::RW | keyflag::INSERT)];
const KEY_DELETE: &[KeySpec] = &[KeySpec::one(2, keyflag::RW | keyflag::DELETE)];
const KEY_UPDATE: &[KeySpec] = &[KeySpec::one(2, keyflag::RW | keyflag::UPDATE)];

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("xgroup", -2, container)
    .doc(
        "stream",
        "A container for consumer groups commands",
        "5.0.0",
        "Depends on subcommand.",
    )
    .subcommands(&[
        CommandSpec::new("create", -5, xgroup)
            .flags(flag::WRITE | flag::DENYOOM)
            .acl(S)
            .keys(KEY_INSERT)
            .doc("stream", "Create a consumer group.", "5.0.0", "O(1)"),
        CommandSpec::new("createconsumer", 5, xgroup)
            .flags(flag::WRITE | flag::DENYOOM)
            .acl(S)
            .keys(KEY_INSERT)
            .doc(
                "stream",
                "Create a consumer in a consumer group.",
                "6.2.0",
                "O(1)",
            ),
        CommandSpec::new("delconsumer", 5, xgroup)
            .flags(flag::WRITE)
            .acl(S)
            .keys(KEY_DELETE)
            .doc(
                "stream",
                "Delete a consumer from a consumer group.",
                "5.0.0",
                "O(1)",
            ),
        CommandSpec::new("destroy", 4, xgroup)
            .flags(flag::WRITE)
            .acl(S)
            .keys(KEY_DELETE)
            .doc(
                "stream",
                "Destroy a consumer group.",
                "5.0.0",
                "O(N) where N is the number of entries in the group's pending entries list (PEL).",
            ),
        CommandSpec::new("setid", -5, xgroup)
            .flags(flag::WRITE)
            .acl(S)
            .keys(KEY_UPDATE)
            .doc(
                "stream",
                "Set a consumer group to an arbitrary last delivered ID value.",
                "5.0.0",
                "O(1)",
            ),
        CommandSpec::new("help", 2, help)
            .flags(flag::LOADING | flag::STALE | flag::NO_KEYSPACE)
            .acl(S)
            .doc(
                "stream",
                "Show helpful text about the different subcommands",
                "5.0.0",
                "O(1)",
            ),
    ])];

/// The container itself never runs: the gate resolves a subcommand or rejects the arity.
fn container(_ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    Err("ERR wrong number of arguments for 'xgroup' command".into())
}

const NO_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

/// Options after the ID of CREATE and SETID.
struct Options {
    mkstream: bool,
    /// `None` is Redis's -1: unknown.
    entries_read: Option<u64>,
}

fn parse_options(argv: Argv, sub: &[u8]) -> Result<Options, CmdError> {
    let (create, setid) = (is(sub, "create"), is(sub, "setid"));
    let mut o = Options {
        mkstream: false,
        entries_read: None,
    };
    let mut i = 5;
    while i < argv.len() {
        if create && is(argv.get(i), "mkstream") {
            o.mkstream = true;
            i += 1;
        } else if (create || setid) && is(argv.get(i), "entriesread") && i + 1 < argv.len() {
            let n = int_arg(argv.get(i + 1))?;
            if n < -1 {
                return Err("ERR value for ENTRIESREAD must be positive or -1".into());
            }
            o.entries_read = u64::try_from(n).ok();
            i += 2;
        } else {
            return Err(subcommand_syntax_error(argv));
        }
    }
    Ok(o)
}

/// XGROUP CREATE | SETID | DESTROY | CREATECONSUMER | DELCONSUMER
fn xgroup(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let sub = argv.get(1);
    let (key, group) = (argv.get(2), argv.get(3));
    let opts = parse_options(argv, sub)?;
    let exists = stream_mut(ctx.txn, key)?.is_some();
    if !opts.mkstream {
        let Some(s) = stream_mut(ctx.txn, key)? else {
            return Err(NO_KEY.into());
        };
        let needs_group = ["setid", "createconsumer", "delconsumer"]
            .iter()
            .any(|n| is(sub, n));
        if needs_group && !s.groups.contains_key(group) {
            return Err(crate::err!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                String::from_utf8_lossy(group),
                String::from_utf8_lossy(key)
            ));
        }
    }
    let now_ms = ctx.txn.now_ms;
    if is(sub, "create") && argv.len() <= 8 {
        let id = target_id(ctx, key, argv.get(4), true)?;
        if !exists {
            ctx.txn.add(key, Value::Stream(Box::default()));
            ctx.txn.signal_modified(key);
        }
        let s = stream_mut(ctx.txn, key)?.expect("the stream exists");
        if s.groups.contains_key(group) {
            return Err("BUSYGROUP Consumer Group name already exists".into());
        }
        let g = Group {
            last_id: id,
            entries_read: opts.entries_read,
            ..Group::default()
        };
        s.groups.insert(group.to_vec(), g);
        ctx.reply.ok();
        changed(ctx, key, "xgroup-create");
    } else if is(sub, "setid") && (argv.len() == 5 || argv.len() == 7) {
        let id = target_id(ctx, key, argv.get(4), false)?;
        let s = stream_mut(ctx.txn, key)?.expect("checked above");
        let g = s.groups.get_mut(group).expect("checked above");
        g.last_id = id;
        g.entries_read = opts.entries_read;
        ctx.reply.ok();
        changed(ctx, key, "xgroup-setid");
    } else if is(sub, "destroy") && argv.len() == 4 {
        let s = stream_mut(ctx.txn, key)?.expect("checked above");
        if s.groups.remove(group).is_some() {
            ctx.reply.int(1);
            changed(ctx, key, "xgroup-destroy");
            ctx.txn.signal_ready(key);
        } else {
            ctx.reply.int(0);
        }
    } else if is(sub, "createconsumer") && argv.len() == 5 {
        let s = stream_mut(ctx.txn, key)?.expect("checked above");
        let g = s.groups.get_mut(group).expect("checked above");
        let consumer = argv.get(4);
        if g.consumers.contains_key(consumer) {
            ctx.reply.int(0);
        } else {
            let c = Consumer {
                seen_time_ms: now_ms,
                ..Consumer::default()
            };
            g.consumers.insert(consumer.to_vec(), c);
            ctx.reply.int(1);
            changed(ctx, key, "xgroup-createconsumer");
        }
    } else if is(sub, "delconsumer") && argv.len() == 5 {
        let s = stream_mut(ctx.txn, key)?.expect("checked above");
        let g = s.groups.get_mut(group).expect("checked above");
        match g.consumers.remove(argv.get(4)) {
            Some(c) => {
                for id in &c.pending {
                    g.pel.remove(id);
                }
                ctx.reply.int(c.pending.len() as i64);
                changed(ctx, key, "xgroup-delconsumer");
            }
            None => ctx.reply.int(0),
        }
    } else {
        return Err(subcommand_syntax_error(argv));
    }
    Ok(())
}

/// The ID a group is set to: `$` is the stream's last ID (0-0 for a stream about to be
/// created); CREATE parses strictly (no `-`/`+`).
fn target_id(ctx: &mut Ctx, key: &[u8], arg: &[u8], strict: bool) -> Result<StreamId, CmdError> {
    if arg == b"$" {
        return Ok(stream_mut(ctx.txn, key)?.map_or(StreamId::default(), |s| s.last_id));
    }
    Ok(parse_id(arg, 0, strict, false)?.0)
}

fn changed(ctx: &mut Ctx, key: &[u8], event_name: &'static str) {
    ctx.txn.dirty(1);
    ctx.txn.notify(event::STREAM, event_name, key);
}

/// XGROUP HELP
fn help(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    const LINES: &[&str] = &[
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
    ];
    reply_help(ctx.reply, b"XGROUP", LINES);
    Ok(())
}
