//! ZPOPMIN, ZPOPMAX and ZMPOP. [`pop_from`] does the popping, replying and effects for one
//! key in every reply shape Redis uses, so the blocking forms (BZPOPMIN, BZPOPMAX, BZMPOP)
//! can serve a key with it when it becomes ready.

use rudis_resp::{Argv, ReplyBuf};

use super::write;
use crate::cmd::util::is;
use crate::command::error::{CmdError, SYNTAX};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::txn::{event, Txn};

/// Which end to pop from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Min,
    Max,
}

impl End {
    fn event(self) -> &'static str {
        match self {
            End::Min => "zpopmin",
            End::Max => "zpopmax",
        }
    }

    /// The ZPOP command that replicates a pop from this end.
    pub fn command(self) -> &'static [u8] {
        match self {
            End::Min => b"ZPOPMIN",
            End::Max => b"ZPOPMAX",
        }
    }
}

/// How a pop reply is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// member, score, member, score... (ZPOPMIN in RESP2, or without a count).
    Flat,
    /// [member, score] pairs (ZPOPMIN with a count in RESP3).
    Pairs,
    /// key, member, score... (BZPOPMIN, BZPOPMAX).
    KeyFlat,
    /// [key, [[member, score]...]] (ZMPOP, BZMPOP).
    KeyPairs,
}

/// Pops up to `count` (at least 1) elements from the sorted set at `key`, which must exist and
/// hold a sorted set, replying in `shape`. Effects as Redis: one `zpopmin`/`zpopmax` event,
/// one change per element, and `del` if the set is emptied. Returns the number popped.
pub fn pop_from(
    txn: &mut Txn<'_>,
    reply: &mut ReplyBuf,
    key: &[u8],
    end: End,
    count: usize,
    shape: Shape,
) -> usize {
    let Ok(Some(z)) = write(txn, key) else {
        unreachable!("the caller found a sorted set at the key");
    };
    let n = count.min(z.len());
    match shape {
        Shape::Flat => reply.array(n * 2),
        Shape::Pairs => reply.array(n),
        Shape::KeyFlat => {
            reply.array(n * 2 + 1);
            reply.bulk(key);
        }
        Shape::KeyPairs => {
            reply.array(2);
            reply.bulk(key);
            reply.array(n);
        }
    }
    let pairs = matches!(shape, Shape::Pairs | Shape::KeyPairs);
    for _ in 0..n {
        let (member, score) = z.pop(end == End::Max).expect("within the set's length");
        if pairs {
            reply.array(2);
        }
        reply.bulk(&member);
        reply.double(score);
    }
    let emptied = z.is_empty();
    txn.dirty(n as u64);
    if n > 0 {
        txn.notify(event::ZSET, end.event(), key);
        txn.signal_modified(key);
    }
    if emptied {
        txn.remove(key);
        txn.notify(event::GENERIC, "del", key);
    }
    n
}

/// The first of `keys` holding a sorted set (missing keys are skipped; any other type is
/// WRONGTYPE).
fn first_zset<'k>(
    txn: &mut Txn<'_>,
    keys: impl Iterator<Item = &'k [u8]>,
) -> Result<Option<&'k [u8]>, CmdError> {
    for key in keys {
        if write(txn, key)?.is_some() {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// ZPOPMIN key [count]
pub fn zpopmin(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    zpop(ctx, argv, End::Min)
}

/// ZPOPMAX key [count]
pub fn zpopmax(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    zpop(ctx, argv, End::Max)
}

fn zpop(ctx: &mut Ctx, argv: Argv, end: End) -> CmdResult {
    if argv.len() > 3 {
        return Err(SYNTAX);
    }
    let count = match argv.try_get(2) {
        None => None,
        Some(arg) => Some(
            rudis_resp::number::parse_i64(arg)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or("ERR value is out of range, must be positive")?,
        ),
    };
    let key = argv.get(1);
    if first_zset(ctx.txn, std::iter::once(key))?.is_none() || count == Some(0) {
        ctx.reply.array(0);
        return Ok(());
    }
    let shape = if count.is_some() && ctx.reply.is_resp3() {
        Shape::Pairs
    } else {
        Shape::Flat
    };
    pop_from(ctx.txn, ctx.reply, key, end, count.unwrap_or(1), shape);
    Ok(())
}

/// ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]
pub fn zmpop(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (keys, end, count) = parse_mpop(argv, 1)?;
    let Some(key) = first_zset(ctx.txn, keys.iter().copied())? else {
        ctx.reply.null_array();
        return Ok(());
    };
    let popped = pop_from(ctx.txn, ctx.reply, key, end, count, Shape::KeyPairs);
    // Replicas pop exactly what was popped here, whatever the other keys hold by then.
    let n = popped.to_string();
    ctx.txn.propagate(&[end.command(), key, n.as_bytes()]);
    Ok(())
}

/// Parses `numkeys key [key ...] MIN | MAX [COUNT count]` with numkeys at `numkeys_index`
/// (shared with BZMPOP): the keys, the end, and the count (1 by default).
pub fn parse_mpop(
    argv: Argv<'_>,
    numkeys_index: usize,
) -> Result<(Vec<&[u8]>, End, usize), CmdError> {
    let positive = |arg: &[u8], error: &'static str| -> Result<usize, CmdError> {
        rudis_resp::number::parse_i64(arg)
            .filter(|&n| n >= 1)
            .map(|n| n as usize)
            .ok_or_else(|| CmdError::from(error))
    };
    let numkeys = positive(
        argv.get(numkeys_index),
        "ERR numkeys should be greater than 0",
    )?;
    let where_index = numkeys
        .checked_add(numkeys_index + 1)
        .filter(|&i| i < argv.len())
        .ok_or(SYNTAX)?;
    let end = match argv.get(where_index) {
        w if is(w, "min") => End::Min,
        w if is(w, "max") => End::Max,
        _ => return Err(SYNTAX),
    };
    let mut count = None;
    let mut i = where_index + 1;
    while i < argv.len() {
        if count.is_none() && is(argv.get(i), "count") && i + 1 < argv.len() {
            count = Some(positive(
                argv.get(i + 1),
                "ERR count should be greater than 0",
            )?);
            i += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    let keys = (numkeys_index + 1..where_index)
        .map(|i| argv.get(i))
        .collect();
    Ok((keys, end, count.unwrap_or(1)))
}
