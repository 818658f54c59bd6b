//! ACL: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, GENPASS, DRYRUN, LOG, LOAD,
//! SAVE, HELP. The users themselves live in [`crate::acl`].

use rudis_resp::Argv;

use super::util::{reply_help, text};
use crate::acl::describe::{channels_field, command_rules, describe_user, keys_field, user_flags};
use crate::acl::user::{Denied, Selector};
use crate::acl::{file, rules};
use crate::command::error::CmdError;
use crate::command::spec::{flag, CommandSpec};
use crate::command::{CmdResult, Ctx};
use crate::server::Server;

const ADMIN: u64 = flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::NO_KEYSPACE;
const PLAIN: u64 = flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::NO_KEYSPACE;

const fn sub(
    name: &'static str,
    arity: i32,
    flags: u64,
    h: crate::command::spec::Handler,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, arity, h)
        .flags(flags)
        .doc("server", summary, "6.0.0", "O(1)")
}

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("acl", -2, container)
    .subcommands(&[
        sub(
            "cat",
            -2,
            PLAIN,
            acl_cat,
            "List the ACL categories or the commands inside a category",
        ),
        sub(
            "deluser",
            -3,
            ADMIN,
            acl_deluser,
            "Remove the specified ACL users and the associated rules",
        ),
        sub(
            "dryrun",
            -4,
            ADMIN,
            acl_dryrun,
            "Returns whether the user can execute the given command without executing the command.",
        ),
        sub(
            "genpass",
            -2,
            PLAIN,
            acl_genpass,
            "Generate a pseudorandom secure password to use for ACL users",
        ),
        sub(
            "getuser",
            3,
            ADMIN,
            acl_getuser,
            "Get the rules for a specific ACL user",
        ),
        sub(
            "help",
            2,
            flag::LOADING | flag::STALE | flag::NO_KEYSPACE,
            acl_help,
            "Show helpful text about the different subcommands",
        ),
        sub(
            "list",
            2,
            ADMIN,
            acl_list,
            "List the current ACL rules in ACL config file format",
        ),
        sub(
            "load",
            2,
            ADMIN,
            acl_load,
            "Reload the ACLs from the configured ACL file",
        ),
        sub(
            "log",
            -2,
            ADMIN,
            acl_log,
            "List latest events denied because of ACLs in place",
        ),
        sub(
            "save",
            2,
            ADMIN,
            acl_save,
            "Save the current ACL rules in the configured ACL file",
        ),
        sub(
            "setuser",
            -3,
            ADMIN,
            acl_setuser,
            "Modify or create the rules for a specific ACL user",
        ),
        sub(
            "users",
            2,
            ADMIN,
            acl_users,
            "List the username of all the configured ACL rules",
        ),
        sub(
            "whoami",
            2,
            PLAIN,
            acl_whoami,
            "Return the name of the user associated to the current connection",
        ),
    ])
    .doc(
        "server",
        "A container for Access List Control commands ",
        "6.0.0",
        "Depends on subcommand.",
    )];

fn container(_ctx: &mut Ctx, argv: Argv) -> CmdResult {
    Err(super::util::subcommand_syntax_error(argv))
}

fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&c| c.is_ascii_whitespace() || c == 0)
}

/// ACL SETUSER username [rule [rule ...]]
fn acl_setuser(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    ctx.client.redacted_args.extend(2..argv.len());
    let name = argv.get(2);
    if has_spaces(name) {
        return Err("ERR Usernames can't contain spaces or null characters".into());
    }
    let name = String::from_utf8_lossy(name).into_owned();
    let base = ctx.srv.acl.get(&name);
    let args: Vec<&[u8]> = argv.iter().skip(3).collect();
    let user = rules::set_user(&ctx.srv.commands, base.as_deref(), &name, &args)
        .map_err(|e| CmdError::from(format!("ERR {e}")))?;
    ctx.srv.acl.put(user);
    ctx.reply.ok();
    Ok(())
}

/// ACL DELUSER username [username ...]
fn acl_deluser(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if argv.iter().skip(2).any(|n| n == b"default") {
        return Err("ERR The 'default' user cannot be removed".into());
    }
    let mut deleted = 0;
    for name in argv.iter().skip(2) {
        let name = String::from_utf8_lossy(name);
        if ctx.srv.acl.remove(&name) {
            kill_clients_of(ctx, &name);
            deleted += 1;
        }
    }
    ctx.reply.int(deleted);
    Ok(())
}

/// Disconnects every client authenticated as `name`; the caller after its reply.
fn kill_clients_of(ctx: &mut Ctx, name: &str) {
    for info in ctx.srv.clients.snapshot() {
        if *info.user.lock() != name {
            continue;
        }
        if info.id == ctx.client.info.id {
            ctx.client.close_after_reply = true;
        } else {
            info.request_kill();
        }
    }
}

/// ACL GETUSER username
fn acl_getuser(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let Some(user) = ctx.srv.acl.get(&String::from_utf8_lossy(argv.get(2))) else {
        ctx.reply.null();
        return Ok(());
    };
    let table = &ctx.srv.commands;
    let r = &mut *ctx.reply;
    r.map(6);
    r.bulk(b"flags");
    let flags = user_flags(&user);
    r.array(flags.len());
    for f in flags {
        r.bulk(f.as_bytes());
    }
    r.bulk(b"passwords");
    r.array(user.passwords.len());
    for p in &user.passwords {
        r.bulk(p.as_bytes());
    }
    selector_fields(r, table, &user.root);
    r.bulk(b"selectors");
    r.array(user.selectors.len());
    for sel in &user.selectors {
        r.map(3);
        selector_fields(r, table, sel);
    }
    Ok(())
}

fn selector_fields(
    r: &mut rudis_resp::ReplyBuf,
    table: &crate::command::table::CommandTable,
    sel: &Selector,
) {
    r.bulk(b"commands");
    r.bulk(command_rules(table, sel).as_bytes());
    r.bulk(b"keys");
    r.bulk(keys_field(sel).as_bytes());
    r.bulk(b"channels");
    r.bulk(channels_field(sel).as_bytes());
}

/// ACL LIST
fn acl_list(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let users = ctx.srv.acl.users();
    ctx.reply.array(users.len());
    for u in users {
        let line = format!("user {} {}", u.name, describe_user(&ctx.srv.commands, &u));
        ctx.reply.bulk(line.as_bytes());
    }
    Ok(())
}

/// ACL USERS
fn acl_users(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let users = ctx.srv.acl.users();
    ctx.reply.array(users.len());
    for u in users {
        ctx.reply.bulk(u.name.as_bytes());
    }
    Ok(())
}

/// ACL WHOAMI
fn acl_whoami(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    match &ctx.client.user {
        Some(u) => ctx.reply.bulk(u.name.as_bytes()),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// ACL CAT [category]
fn acl_cat(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    use crate::command::spec::acl as category;
    match argv.len() {
        2 => {
            ctx.reply.array(category::NAMES.len());
            for (_, name) in category::NAMES {
                ctx.reply.bulk(name.as_bytes());
            }
        }
        3 => {
            let Some(bit) = rules::category_by_name(argv.get(2)) else {
                let name = argv.get(2);
                return Err(crate::err!(
                    "ERR Unknown category '{}'",
                    String::from_utf8_lossy(&name[..name.len().min(128)])
                ));
            };
            let names: Vec<&str> = ctx
                .srv
                .commands
                .all()
                .iter()
                .filter(|e| e.spec.acl_categories() & bit != 0)
                .map(|e| e.fullname.as_str())
                .collect();
            ctx.reply.array(names.len());
            for n in names {
                ctx.reply.bulk(n.as_bytes());
            }
        }
        _ => return Err(super::util::subcommand_syntax_error(argv)),
    }
    Ok(())
}

/// Longest password ACL GENPASS makes.
const GENPASS_BITS_MAX: i64 = 4096;

/// ACL GENPASS [bits]
fn acl_genpass(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let bits = match argv.len() {
        2 => 256,
        3 => super::util::int_arg(argv.get(2))?,
        _ => return Err(super::util::subcommand_syntax_error(argv)),
    };
    if bits <= 0 || bits > GENPASS_BITS_MAX {
        return Err(crate::err!("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GENPASS_BITS_MAX}"));
    }
    let chars = ((bits + 3) / 4) as usize;
    ctx.reply.bulk(crate::server::random_hex(chars).as_bytes());
    Ok(())
}

/// ACL DRYRUN username command [arg ...]
fn acl_dryrun(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let Some(user) = ctx.srv.acl.get(&String::from_utf8_lossy(argv.get(2))) else {
        return Err(crate::err!("ERR User '{}' not found", text(argv.get(2))));
    };
    let cmd_argv = argv.skip(3);
    let Some(entry) = crate::command::dispatch::script_lookup(ctx.srv, cmd_argv) else {
        return Err(crate::err!("ERR Command '{}' not found", text(argv.get(3))));
    };
    if !entry.spec.arity_ok(cmd_argv.len()) {
        return Err(crate::err!(
            "ERR wrong number of arguments for '{}' command",
            entry.fullname
        ));
    }
    match user.check(entry, cmd_argv) {
        Ok(()) => ctx.reply.ok(),
        Err(r) => {
            let arg = || text(cmd_argv.get(r.arg_index));
            let msg = match r.reason {
                Denied::Command => format!(
                    "This user has no permissions to run the '{}' command",
                    entry.fullname
                ),
                Denied::Key => {
                    format!("This user has no permissions to access the '{}' key", arg())
                }
                Denied::Channel => format!(
                    "This user has no permissions to access the '{}' channel",
                    arg()
                ),
            };
            ctx.reply.bulk(msg.as_bytes());
        }
    }
    Ok(())
}

/// ACL LOG [count | RESET]
fn acl_log(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let mut count = 10;
    match argv.len() {
        2 => {}
        3 if argv.get(2).eq_ignore_ascii_case(b"reset") => {
            ctx.srv.acl.log.reset();
            ctx.reply.ok();
            return Ok(());
        }
        3 => count = super::util::int_arg(argv.get(2))?.max(0),
        _ => return Err(super::util::subcommand_syntax_error(argv)),
    }
    let entries = ctx.srv.acl.log.newest(usize::try_from(count).unwrap_or(0));
    let now_ms = crate::server::unix_ms();
    let r = &mut *ctx.reply;
    r.array(entries.len());
    for e in entries {
        r.map(7);
        r.bulk(b"count");
        r.int(e.count as i64);
        r.bulk(b"reason");
        r.bulk(e.reason.name().as_bytes());
        r.bulk(b"context");
        r.bulk(e.context.name().as_bytes());
        r.bulk(b"object");
        r.bulk(&e.object);
        r.bulk(b"username");
        r.bulk(&e.username);
        r.bulk(b"age-seconds");
        r.double((now_ms - e.created_ms) as f64 / 1000.0);
        r.bulk(b"client-info");
        r.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// ACL LOAD
fn acl_load(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let path = ctx.srv.cfg().aclfile.clone();
    if path.is_empty() {
        return Err(NO_ACLFILE.into());
    }
    load_file(ctx.srv, &path).map_err(|e| CmdError::from(format!("ERR {e}")))?;
    ctx.reply.ok();
    Ok(())
}

/// Loads the aclfile at `path`, replacing every user; clients of users that are gone or
/// changed are disconnected, as Redis does.
pub fn load_file(srv: &Server, path: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("Error loading ACLs, opening file '{path}': {e}"))?;
    let users = file::parse(&srv.commands, path, &text)?;
    srv.acl.replace_all(users, srv.commands.len());
    Ok(())
}

/// ACL SAVE
fn acl_save(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let path = ctx.srv.cfg().aclfile.clone();
    if path.is_empty() {
        return Err(NO_ACLFILE.into());
    }
    let text = file::render(&ctx.srv.commands, &ctx.srv.acl.users());
    if let Err(e) = file::save(&path, &text) {
        tracing::warn!("Saving the ACL file: {e}");
        return Err("ERR There was an error trying to save the ACLs. Please check the server logs for more information".into());
    }
    ctx.reply.ok();
    Ok(())
}

/// ACL HELP
fn acl_help(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    reply_help(ctx.reply, argv.get(0), HELP);
    Ok(())
}

const HELP: &[&str] = &[
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
];
