//! COMMAND and its subcommands (COUNT, INFO, DOCS, GETKEYS, GETKEYSANDFLAGS, LIST, HELP).
//!
//! Everything here is read from the command table, so what COMMAND reports is what the gate
//! enforces. [`render`] writes the INFO and DOCS entries; [`keys`] finds a command's keys
//! the way COMMAND GETKEYS defines it (stricter than the positions the gate locks).

mod keys;
mod render;

pub use keys::{command_keys, copy_args, has_keys, KeyRef};

use rudis_resp::Argv;

use super::admin::reply_help;
use super::util::is;
use crate::command::error::SYNTAX;
use crate::command::spec::{acl, flag, keyflag, CommandSpec};
use crate::command::table::{CmdEntry, CommandTable};
use crate::command::{CmdResult, Ctx};

/// What every COMMAND form is: harmless, allowed while loading, on stale replicas and in
/// Sentinel.
const F: u64 = flag::LOADING | flag::STALE | flag::SENTINEL | flag::NO_KEYSPACE;
const UNORDERED: &[&str] = &["nondeterministic_output_order"];

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("command", -1, command_all)
    .flags(F)
    .acl(acl::CONNECTION)
    .tips(UNORDERED)
    .subcommands(SUBCOMMANDS)
    .doc(
        "server",
        "Get array of Redis command details",
        "2.8.13",
        "O(N) where N is the total number of Redis commands",
    )];

static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("count", 2, count)
        .flags(F)
        .acl(acl::CONNECTION)
        .doc(
            "server",
            "Get total number of Redis commands",
            "2.8.13",
            "O(1)",
        ),
    CommandSpec::new("docs", -2, docs)
        .flags(F)
        .acl(acl::CONNECTION)
        .tips(UNORDERED)
        .doc(
            "server",
            "Get array of specific Redis command documentation",
            "7.0.0",
            "O(N) where N is the number of commands to look up",
        ),
    CommandSpec::new("getkeys", -4, getkeys)
        .flags(F)
        .acl(acl::CONNECTION)
        .doc(
            "server",
            "Extract keys given a full Redis command",
            "2.8.13",
            "O(N) where N is the number of arguments to the command",
        ),
    CommandSpec::new("getkeysandflags", -4, getkeysandflags)
        .flags(F)
        .acl(acl::CONNECTION)
        .doc(
            "server",
            "Extract keys and access flags given a full Redis command",
            "7.0.0",
            "O(N) where N is the number of arguments to the command",
        ),
    CommandSpec::new("help", 2, help)
        .flags(F)
        .acl(acl::CONNECTION)
        .doc(
            "server",
            "Show helpful text about the different subcommands",
            "5.0.0",
            "O(1)",
        ),
    CommandSpec::new("info", -2, info)
        .flags(F)
        .acl(acl::CONNECTION)
        .tips(UNORDERED)
        .history(&[(
            "7.0.0",
            "Allowed to be called with no argument to get info on all commands.",
        )])
        .doc(
            "server",
            "Get array of specific Redis command details, or all when no argument is given.",
            "2.8.13",
            "O(N) where N is the number of commands to look up",
        ),
    CommandSpec::new("list", -2, list)
        .flags(F)
        .acl(acl::CONNECTION)
        .tips(UNORDERED)
        .doc(
            "server",
            "Get an array of Redis command names",
            "7.0.0",
            "O(N) where N is the total number of Redis commands",
        ),
];

/// COMMAND
fn command_all(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    info_all(ctx);
    Ok(())
}

fn info_all(ctx: &mut Ctx) {
    let table = &ctx.srv.commands;
    ctx.reply.array(table.top_level().count());
    for (_, entry) in table.top_level() {
        render::info(ctx.reply, table, entry);
    }
}

/// COMMAND COUNT
fn count(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    ctx.reply.int(ctx.srv.commands.top_level().count() as i64);
    Ok(())
}

/// COMMAND INFO [command-name [command-name ...]]
fn info(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if argv.len() == 2 {
        info_all(ctx);
        return Ok(());
    }
    let table = &ctx.srv.commands;
    ctx.reply.array(argv.len() - 2);
    for name in argv.iter().skip(2) {
        match lookup_by_fullname(table, name) {
            Some(entry) => render::info(ctx.reply, table, entry),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

/// COMMAND DOCS [command-name [command-name ...]]
fn docs(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let table = &ctx.srv.commands;
    let found: Vec<&CmdEntry> = if argv.len() == 2 {
        table.top_level().map(|(_, e)| e).collect()
    } else {
        argv.iter()
            .skip(2)
            .filter_map(|n| lookup_by_fullname(table, n))
            .collect()
    };
    ctx.reply.map(found.len());
    for entry in found {
        ctx.reply.bulk(entry.fullname.as_bytes());
        render::docs(ctx.reply, table, entry);
    }
    Ok(())
}

/// A `name` or `container|sub` as COMMAND INFO and DOCS accept it. Anything else (more than
/// one `|`, an empty part, a subcommand of a plain command) names nothing.
pub fn lookup_by_fullname<'t>(table: &'t CommandTable, name: &[u8]) -> Option<&'t CmdEntry> {
    let mut parts = name.split(|&c| c == b'|');
    let base = table.lookup(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(base),
        (Some(sub), None) if base.is_container() => table.lookup_sub(base, sub),
        _ => None,
    }
}

/// COMMAND LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]
fn list(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let filter = parse_list_filter(argv)?;
    let table = &ctx.srv.commands;
    let mut names: Vec<&str> = Vec::new();
    for (_, entry) in table.top_level() {
        let family = std::iter::once(entry).chain(entry.subcommand_ids().map(|id| table.get(id)));
        for e in family {
            if filter.as_ref().is_none_or(|f| f.accepts(e)) {
                names.push(&e.fullname);
            }
        }
    }
    ctx.reply.bulks(names.iter().map(|n| n.as_bytes()));
    Ok(())
}

/// A COMMAND LIST filter.
enum ListFilter<'a> {
    /// Rudis has no modules: no command belongs to one.
    Module,
    /// Commands in an ACL category; an unknown category matches nothing.
    AclCat(Option<u64>),
    Pattern(&'a [u8]),
}

impl ListFilter<'_> {
    fn accepts(&self, entry: &CmdEntry) -> bool {
        match self {
            ListFilter::Module => false,
            ListFilter::AclCat(cat) => cat.is_some_and(|c| entry.spec.acl_categories() & c != 0),
            ListFilter::Pattern(p) => {
                crate::util::glob::matches(p, entry.fullname.as_bytes(), true)
            }
        }
    }
}

fn parse_list_filter(argv: Argv) -> Result<Option<ListFilter>, crate::command::CmdError> {
    match argv.len() {
        2 => Ok(None),
        5 if is(argv.get(2), "FILTERBY") => {
            let (kind, arg) = (argv.get(3), argv.get(4));
            if is(kind, "MODULE") {
                Ok(Some(ListFilter::Module))
            } else if is(kind, "ACLCAT") {
                let cat = acl::NAMES
                    .iter()
                    .find(|(_, name)| is(arg, name))
                    .map(|&(bit, _)| bit);
                Ok(Some(ListFilter::AclCat(cat)))
            } else if is(kind, "PATTERN") {
                Ok(Some(ListFilter::Pattern(arg)))
            } else {
                Err(SYNTAX)
            }
        }
        _ => Err(SYNTAX),
    }
}

/// COMMAND GETKEYS command [arg [arg ...]]
fn getkeys(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    getkeys_generic(ctx, argv, false)
}

/// COMMAND GETKEYSANDFLAGS command [arg [arg ...]]
fn getkeysandflags(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    getkeys_generic(ctx, argv, true)
}

fn getkeys_generic(ctx: &mut Ctx, argv: Argv, with_flags: bool) -> CmdResult {
    let table = &ctx.srv.commands;
    let (base, ranges) = keys::copy_args(argv.iter().skip(2));
    let target = Argv::new(&base, &ranges);
    let entry = table
        .lookup(target.get(0))
        .and_then(|base| match target.try_get(1) {
            Some(sub) if base.is_container() => table.lookup_sub(base, sub),
            _ => Some(base),
        })
        .ok_or("ERR Invalid command specified")?;
    if !has_keys(entry) {
        return Err("ERR The command has no key arguments".into());
    }
    if !entry.spec.arity_ok(target.len()) {
        return Err("ERR Invalid number of arguments specified for command".into());
    }
    let found = command_keys(entry, target);
    if found.is_empty() && !entry.spec.has(flag::NO_MANDATORY_KEYS) {
        return Err("ERR Invalid arguments specified for command".into());
    }
    ctx.reply.array(found.len());
    for key in found {
        if with_flags {
            ctx.reply.array(2);
            ctx.reply.bulk(target.get(key.pos));
            render::status_set(ctx.reply, keyflag::NAMES, key.flags);
        } else {
            ctx.reply.bulk(target.get(key.pos));
        }
    }
    Ok(())
}

/// COMMAND HELP
fn help(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    reply_help(
        ctx,
        argv,
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> CommandTable {
        CommandTable::new(crate::cmd::all())
    }

    #[test]
    fn fullname_lookup_follows_redis_rules() {
        let t = table();
        let name = |n: &str| lookup_by_fullname(&t, n.as_bytes()).map(|e| e.fullname.clone());
        assert_eq!(name("COMMAND|Info").as_deref(), Some("command|info"));
        assert_eq!(name("command").as_deref(), Some("command"));
        assert_eq!(name("command|"), None);
        assert_eq!(name("command|info|x"), None);
        assert_eq!(name("|info"), None);
        assert_eq!(name(""), None);
        assert_eq!(name("time|x"), None, "a plain command has no subcommands");
    }
}
