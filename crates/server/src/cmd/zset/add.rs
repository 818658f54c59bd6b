//! ZADD and ZINCRBY, which share one implementation as in Redis: ZINCRBY is ZADD with INCR
//! (so `ZINCRBY key nx member` reads `nx` as an option, and fails as Redis's does).
//!
//! Every score is parsed before the key is touched, so a bad score changes nothing.

use rudis_resp::Argv;

use super::{limits, write};
use crate::cmd::util::is;
use crate::command::error::{CmdError, NOT_FLOAT, SYNTAX};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::txn::event;
use crate::keyspace::Value;
use crate::types::zset::score::parse_score;
use crate::types::zset::{AddFlags, Added, ZSet};

/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    add_generic(ctx, argv, false)
}

/// ZINCRBY key increment member
pub fn zincrby(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    add_generic(ctx, argv, true)
}

/// Parsed options, and where the score/member pairs start.
struct Options {
    flags: AddFlags,
    changed: bool,
    first_pair: usize,
}

fn parse_options(argv: Argv, incr: bool) -> Result<Options, CmdError> {
    let mut o = Options {
        flags: AddFlags {
            incr,
            ..AddFlags::default()
        },
        changed: false,
        first_pair: 2,
    };
    while o.first_pair < argv.len() {
        let opt = argv.get(o.first_pair);
        let flag = if is(opt, "nx") {
            &mut o.flags.nx
        } else if is(opt, "xx") {
            &mut o.flags.xx
        } else if is(opt, "ch") {
            &mut o.changed
        } else if is(opt, "incr") {
            &mut o.flags.incr
        } else if is(opt, "gt") {
            &mut o.flags.gt
        } else if is(opt, "lt") {
            &mut o.flags.lt
        } else {
            break;
        };
        *flag = true;
        o.first_pair += 1;
    }
    let args = argv.len() - o.first_pair;
    if args == 0 || !args.is_multiple_of(2) {
        return Err(SYNTAX);
    }
    let f = o.flags;
    if f.nx && f.xx {
        return Err("ERR XX and NX options at the same time are not compatible".into());
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err("ERR GT, LT, and/or NX options at the same time are not compatible".into());
    }
    if f.incr && args > 2 {
        return Err("ERR INCR option supports a single increment-element pair".into());
    }
    Ok(o)
}

/// What the additions did, for the reply and the effects.
#[derive(Default)]
struct Tally {
    added: u64,
    updated: u64,
    processed: u64,
    last_score: f64,
}

fn add_generic(ctx: &mut Ctx, argv: Argv, incr: bool) -> CmdResult {
    let o = parse_options(argv, incr)?;
    let scores = (o.first_pair..argv.len())
        .step_by(2)
        .map(|i| parse_score(argv.get(i)).ok_or(NOT_FLOAT))
        .collect::<Result<Vec<f64>, _>>()?;
    let key = argv.get(1);
    let limits = limits(ctx);
    let created = match write(ctx.txn, key)? {
        Some(_) => false,
        None if o.flags.xx => return reply(ctx, &o, &Tally::default()),
        None => {
            let first_member = argv.get(o.first_pair + 1);
            let z = ZSet::new_for(first_member.len(), limits);
            ctx.txn.add(key, Value::ZSet(z));
            true
        }
    };
    let z = write(ctx.txn, key)?.expect("present or just created");
    let mut tally = Tally::default();
    let mut nan = false;
    let pairs = scores
        .iter()
        .enumerate()
        .map(|(i, &score)| (score, argv.get(o.first_pair + 1 + 2 * i)));
    z.add_all(pairs, o.flags, limits, |outcome| {
        match outcome {
            Added::New(s) => (tally.added, tally.last_score) = (tally.added + 1, s),
            Added::Updated(s) => (tally.updated, tally.last_score) = (tally.updated + 1, s),
            Added::Same(s) => tally.last_score = s,
            Added::Skipped => return true,
            Added::NotANumber => {
                nan = true;
                return false;
            }
        }
        tally.processed += 1;
        true
    });
    if tally.added + tally.updated > 0 {
        ctx.txn.signal_modified(key);
        let name = if o.flags.incr { "zincr" } else { "zadd" };
        ctx.txn.notify(event::ZSET, name, key);
    }
    if created {
        ctx.txn.signal_ready(key);
    }
    if nan {
        return Err("ERR resulting score is not a number (NaN)".into());
    }
    ctx.txn.dirty(tally.added + tally.updated);
    reply(ctx, &o, &tally)
}

fn reply(ctx: &mut Ctx, o: &Options, tally: &Tally) -> CmdResult {
    if o.flags.incr {
        if tally.processed > 0 {
            ctx.reply.double(tally.last_score);
        } else {
            ctx.reply.null();
        }
    } else {
        let count = if o.changed {
            tally.added + tally.updated
        } else {
            tally.added
        };
        ctx.reply.int(count as i64);
    }
    Ok(())
}
