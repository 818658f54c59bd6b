//! Server administration: TIME, LASTSAVE, SHUTDOWN, MONITOR, SLOWLOG, LATENCY, MEMORY.
//!
//! The table is declared here; the handlers of the larger families live in submodules:
//! [`monitor`], [`slowlog`], [`latency`], [`memory`]. The help and subcommand-error replies
//! every container command shares are here too.

mod latency;
mod memory;
mod monitor;
mod slowlog;

use std::sync::atomic::Ordering;

use rudis_resp::Argv;

use super::util::is;
use crate::command::error::{CmdError, SYNTAX};
use crate::command::spec::{acl, flag, CommandSpec};
use crate::command::{CmdResult, Ctx};
use crate::server::{unix_us, ShutdownRequest};

const NONDETERMINISTIC: &[&str] = &["nondeterministic_output"];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("time", 1, time)
        .flags(flag::LOADING | flag::STALE | flag::FAST | flag::NO_KEYSPACE)
        .tips(NONDETERMINISTIC)
        .doc("server", "Return the current server time", "2.6.0", "O(1)"),
    CommandSpec::new("lastsave", 1, lastsave)
        .flags(flag::LOADING | flag::STALE | flag::FAST | flag::NO_KEYSPACE)
        .acl(acl::ADMIN | acl::DANGEROUS)
        .tips(NONDETERMINISTIC)
        .doc(
            "server",
            "Get the UNIX time stamp of the last successful save to disk",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new("shutdown", -1, shutdown)
        .flags(
            flag::ADMIN
                | flag::NOSCRIPT
                | flag::LOADING
                | flag::STALE
                | flag::NO_MULTI
                | flag::SENTINEL
                | flag::ALLOW_BUSY
                | flag::NO_KEYSPACE,
        )
        .history(&[("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers.")])
        .doc(
            "server",
            "Synchronously save the dataset to disk and then shut down the server",
            "1.0.0",
            "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        ),
    CommandSpec::new("monitor", 1, monitor::monitor)
        .flags(flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::NO_KEYSPACE)
        .doc(
            "server",
            "Listen for all requests received by the server in real time",
            "1.0.0",
            "",
        ),
    CommandSpec::new("slowlog", -2, no_subcommand)
        .subcommands(slowlog::SUBCOMMANDS)
        .doc(
            "server",
            "A container for slow log commands",
            "2.2.12",
            "Depends on subcommand.",
        ),
    CommandSpec::new("latency", -2, no_subcommand)
        .subcommands(latency::SUBCOMMANDS)
        .doc(
            "server",
            "A container for latency diagnostics commands",
            "2.8.13",
            "Depends on subcommand.",
        ),
    CommandSpec::new("memory", -2, no_subcommand)
        .subcommands(memory::SUBCOMMANDS)
        .doc(
            "server",
            "A container for memory diagnostics commands",
            "4.0.0",
            "Depends on subcommand.",
        ),
];

/// The handler of a container command alone, which its arity never lets run.
fn no_subcommand(_ctx: &mut Ctx, argv: Argv) -> CmdResult {
    Err(crate::command::error::wrong_arity(
        &String::from_utf8_lossy(argv.get(0)),
    ))
}

/// TIME
fn time(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let now_us = unix_us();
    ctx.reply.array(2);
    ctx.reply.bulk_i64(now_us / 1_000_000);
    ctx.reply.bulk_i64(now_us % 1_000_000);
    Ok(())
}

/// LASTSAVE
fn lastsave(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    ctx.reply
        .int(ctx.srv.state.lastsave_s.load(Ordering::Relaxed));
    Ok(())
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
///
/// Replies nothing on success: the connection closes as the server exits. Saving, if any,
/// happens in the shutdown sequence (`start::finish_shutdown`), not here.
fn shutdown(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (mut request, abort) = parse_shutdown(argv)?;
    if abort {
        // Rudis never defers a shutdown (there are no replicas to wait for yet), so there is
        // never one in progress to abort.
        return Err("ERR No shutdown in progress.".into());
    }
    if ctx.srv.state.loading.load(Ordering::Relaxed) {
        // Saving now would overwrite the data file with a half-loaded dataset.
        request.save = Some(false);
    }
    ctx.srv.request_shutdown(request);
    Ok(())
}

fn parse_shutdown(argv: Argv) -> Result<(ShutdownRequest, bool), CmdError> {
    let mut request = ShutdownRequest::default();
    let (mut save, mut nosave, mut abort) = (false, false, false);
    for arg in argv.iter().skip(1) {
        if is(arg, "NOSAVE") {
            nosave = true;
        } else if is(arg, "SAVE") {
            save = true;
        } else if is(arg, "NOW") {
            request.now = true;
        } else if is(arg, "FORCE") {
            request.force = true;
        } else if is(arg, "ABORT") {
            abort = true;
        } else {
            return Err(SYNTAX);
        }
    }
    let modifiers = save || nosave || request.now || request.force;
    if (abort && modifiers) || (save && nosave) {
        return Err(SYNTAX);
    }
    request.save = match (save, nosave) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    Ok((request, abort))
}

/// Replies with a container command's help: a header naming the command as the client
/// typed it, the given lines, and the HELP entry every container has.
pub fn reply_help(ctx: &mut Ctx, argv: Argv, lines: &[&str]) {
    let name = String::from_utf8_lossy(argv.get(0)).to_ascii_uppercase();
    ctx.reply.array(lines.len() + 3);
    ctx.reply.simple(&format!(
        "{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for line in lines {
        ctx.reply.simple(line);
    }
    ctx.reply.simple("HELP");
    ctx.reply.simple("    Prints this help.");
}

/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try <CMD> HELP.`
pub fn subcommand_syntax_error(argv: Argv) -> CmdError {
    let sub = argv.try_get(1).unwrap_or_default();
    crate::err!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)]),
        String::from_utf8_lossy(argv.get(0)).to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(ShutdownRequest, bool), CmdError> {
        let (base, ranges) =
            crate::cmd::introspection::copy_args(args.iter().map(|a| a.as_bytes()));
        parse_shutdown(Argv::new(&base, &ranges))
    }

    #[test]
    fn shutdown_options() {
        let (r, abort) = parse(&["shutdown", "nosave", "NOW", "force"]).unwrap();
        assert_eq!(
            (r.save, r.now, r.force, abort),
            (Some(false), true, true, false)
        );
        let (r, _) = parse(&["shutdown"]).unwrap();
        assert_eq!(r, ShutdownRequest::default());
        assert!(parse(&["shutdown", "abort"]).unwrap().1);
        assert_eq!(parse(&["shutdown", "save", "nosave"]), Err(SYNTAX));
        assert_eq!(parse(&["shutdown", "abort", "now"]), Err(SYNTAX));
        assert_eq!(parse(&["shutdown", "later"]), Err(SYNTAX));
    }
}
