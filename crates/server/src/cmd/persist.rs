//! SAVE, BGSAVE and BGREWRITEAOF (LASTSAVE is with the other admin commands). Both take the keyspace
//! exclusively: SAVE for the whole write, BGSAVE only for the barrier of its snapshot,
//! after which clients write on while a thread serializes the image
//! (see [`crate::persist::save`]).

use std::sync::atomic::Ordering;

use rudis_resp::Argv;

use super::util::is;
use crate::command::error::SYNTAX;
use crate::command::spec::{flag, CommandSpec};
use crate::command::{CmdResult, Ctx};
use crate::persist::save::{self, BgsaveRefused};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("save", 1, save_cmd)
        .flags(
            flag::NO_ASYNC_LOADING
                | flag::ADMIN
                | flag::NOSCRIPT
                | flag::NO_MULTI
                | flag::EXCLUSIVE,
        )
        .doc(
            "server",
            "Synchronously save the dataset to disk",
            "1.0.0",
            "O(N) where N is the total number of keys in all databases",
        ),
    CommandSpec::new("bgsave", -1, bgsave)
        .flags(flag::NO_ASYNC_LOADING | flag::ADMIN | flag::NOSCRIPT | flag::EXCLUSIVE)
        .history(&[("3.2.2", "Added the `SCHEDULE` option.")])
        .doc(
            "server",
            "Asynchronously save the dataset to disk",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new("bgrewriteaof", 1, bgrewriteaof)
        .flags(flag::NO_ASYNC_LOADING | flag::ADMIN | flag::NOSCRIPT | flag::EXCLUSIVE)
        .doc(
            "server",
            "Asynchronously rewrite the append-only file",
            "1.0.0",
            "O(1)",
        ),
];

/// BGREWRITEAOF
fn bgrewriteaof(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    use crate::persist::aof::rewrite::{self, Refused};
    // Inside EXEC it is scheduled, as BGSAVE is.
    if ctx.client.deny_blocking && !ctx.srv.aof.rewrite_in_progress.load(Ordering::Acquire) {
        ctx.srv.aof.rewrite_scheduled.store(true, Ordering::Release);
        ctx.reply
            .simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    match rewrite::start(ctx.srv, ctx.txn) {
        Ok(()) => ctx
            .reply
            .simple("Background append only file rewriting started"),
        Err(Refused::InProgress) => {
            return Err(
                "ERR Background append only file rewriting already in progress".into(),
            )
        }
        Err(Refused::Busy) => ctx
            .reply
            .simple("Background append only file rewriting scheduled"),
        Err(Refused::Failed) => return Err("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.".into()),
    }
    Ok(())
}

/// SAVE
fn save_cmd(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    if ctx.srv.rdb.bgsave_running.load(Ordering::Acquire) {
        return Err("ERR Background save already in progress".into());
    }
    match save::save_held(ctx.srv, ctx.txn) {
        Ok(()) => ctx.reply.ok(),
        Err(_) => return Err("ERR".into()),
    }
    Ok(())
}

/// BGSAVE [SCHEDULE]
fn bgsave(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let schedule = match argv.len() {
        1 => false,
        2 if is(argv.get(1), "schedule") => true,
        _ => return Err(SYNTAX),
    };
    // Inside EXEC (the only place a client may not block) the save is scheduled, as in
    // Redis: an image taken there would hold half a transaction.
    if ctx.client.deny_blocking {
        ctx.srv.rdb.scheduled.store(true, Ordering::Relaxed);
        ctx.reply.simple("Background saving scheduled");
        return Ok(());
    }
    match save::start_bgsave(ctx.srv, ctx.txn) {
        Ok(()) => ctx.reply.simple("Background saving started"),
        Err(BgsaveRefused::InProgress) => {
            return Err("ERR Background save already in progress".into())
        }
        Err(BgsaveRefused::Busy) if schedule => {
            ctx.srv.rdb.scheduled.store(true, Ordering::Relaxed);
            ctx.reply.simple("Background saving scheduled");
        }
        Err(BgsaveRefused::Busy) => return Err("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".into()),
    }
    Ok(())
}
