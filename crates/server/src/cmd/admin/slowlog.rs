//! SLOWLOG GET/LEN/RESET/HELP. The entries are recorded by the dispatch gate
//! ([`crate::server::slowlog::SlowLog`]).

use rudis_resp::number::parse_i64;
use rudis_resp::Argv;

use super::{reply_help, subcommand_syntax_error};
use crate::command::spec::{flag, CommandSpec};
use crate::command::{CmdResult, Ctx};

const ADMIN: u64 = flag::ADMIN | flag::LOADING | flag::STALE | flag::NO_KEYSPACE;

pub static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", -2, get)
        .flags(ADMIN)
        .tips(&["request_policy:all_nodes", "nondeterministic_output"])
        .history(&[(
            "4.0.0",
            "Added client IP address, port and name to the reply.",
        )])
        .doc(
            "server",
            "Get the slow log's entries",
            "2.2.12",
            "O(N) where N is the number of entries returned",
        ),
    CommandSpec::new("help", 2, help)
        .flags(flag::LOADING | flag::STALE | flag::NO_KEYSPACE)
        .doc(
            "server",
            "Show helpful text about the different subcommands",
            "6.2.0",
            "O(1)",
        ),
    CommandSpec::new("len", 2, len)
        .flags(ADMIN)
        .tips(&[
            "request_policy:all_nodes",
            "response_policy:agg_sum",
            "nondeterministic_output",
        ])
        .doc("server", "Get the slow log's length", "2.2.12", "O(1)"),
    CommandSpec::new("reset", 2, reset)
        .flags(ADMIN)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(
            "server",
            "Clear all entries from the slow log",
            "2.2.12",
            "O(N) where N is the number of entries in the slowlog",
        ),
];

/// Entries SLOWLOG GET returns without a count.
const GET_DEFAULT_COUNT: usize = 10;

/// SLOWLOG GET [count]
fn get(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let count = match argv.len() {
        2 => GET_DEFAULT_COUNT,
        3 => match parse_i64(argv.get(2)) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => return Err("ERR count should be greater than or equal to -1".into()),
        },
        _ => return Err(subcommand_syntax_error(argv)),
    };
    let reply = &mut *ctx.reply;
    ctx.srv.slowlog.with_entries(|entries| {
        reply.array(entries.len().min(count));
        for e in entries.iter().take(count) {
            reply.array(6);
            reply.int(e.id as i64);
            reply.int(e.unix_s);
            reply.int(e.duration_us as i64);
            reply.bulks(e.args.iter().map(Vec::as_slice));
            reply.bulk(e.peer.as_bytes());
            reply.bulk(&e.client_name);
        }
    });
    Ok(())
}

/// SLOWLOG LEN
fn len(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    ctx.reply.int(ctx.srv.slowlog.len() as i64);
    Ok(())
}

/// SLOWLOG RESET
fn reset(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    ctx.srv.slowlog.reset();
    ctx.reply.ok();
    Ok(())
}

/// SLOWLOG HELP
fn help(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    reply_help(
        ctx,
        argv,
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}
