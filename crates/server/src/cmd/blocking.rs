//! The blocking pops: BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN, BZPOPMAX and BZMPOP.
//!
//! Each is its non-blocking twin when one of its keys has something: it pops through the
//! list or sorted set module's shared code ([`list::pop_from`], [`list::move_element`],
//! [`zpop::pop_from`]) and propagates as that twin (LPOP, LMOVE, ZPOPMIN...), so replicas
//! and the AOF never see a blocking command. When all its keys are empty it blocks
//! ([`Ctx::block`]); inside MULTI or a script it answers as a timeout instead.
//!
//! A blocked command is served by running it again (see [`crate::keyspace::blocking`]) with
//! the client marked as serving the key that became ready. It then looks at that key only,
//! as Redis serves a waiter from the key that became ready, and a key that is empty again or
//! now holds another type leaves the client waiting rather than failing it.

use rudis_resp::{Argv, ReplyBuf};

use super::list::{self, parse_end, parse_mpop, pop_from, write_list};
use super::zset::{self, pop as zpop};
use crate::command::error::CmdError;
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::txn::Txn;
use crate::types::list::End;
use crate::types::listpack::Entry;
use crate::util::longdouble;

const POP_KEYS: &[KeySpec] = &[KeySpec::range(
    1,
    -2,
    1,
    keyflag::RW | keyflag::ACCESS | keyflag::DELETE,
)];
const MPOP_KEYS: &[KeySpec] = &[KeySpec::keynum(
    2,
    keyflag::RW | keyflag::ACCESS | keyflag::DELETE,
)];
const MOVE_KEYS: &[KeySpec] = &[
    KeySpec::one(1, keyflag::RW | keyflag::ACCESS | keyflag::DELETE),
    KeySpec::one(2, keyflag::RW | keyflag::INSERT),
];
const TIMEOUT_AS_DOUBLE: &[(&str, &str)] = &[(
    "6.0.0",
    "`timeout` is interpreted as a double instead of an integer.",
)];
const MOVE_SUMMARY: &str =
    "Pop an element from a list, push it to another list and return it; or block until one is available";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("blpop", -3, blpop)
        .flags(flag::WRITE | flag::NOSCRIPT | flag::BLOCKING)
        .acl(acl::LIST)
        .keys(POP_KEYS)
        .history(TIMEOUT_AS_DOUBLE)
        .doc("list", "Remove and get the first element in a list, or block until one is available", "2.0.0", "O(N) where N is the number of provided keys."),
    CommandSpec::new("brpop", -3, brpop)
        .flags(flag::WRITE | flag::NOSCRIPT | flag::BLOCKING)
        .acl(acl::LIST)
        .keys(POP_KEYS)
        .history(TIMEOUT_AS_DOUBLE)
        .doc("list", "Remove and get the last element in a list, or block until one is available", "2.0.0", "O(N) where N is the number of provided keys."),
    CommandSpec::new("blmpop", -5, blmpop)
        .flags(flag::WRITE | flag::BLOCKING)
        .acl(acl::LIST)
        .keys(MPOP_KEYS)
        .doc("list", "Pop elements from a list, or block until one is available", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
    CommandSpec::new("blmove", 6, blmove)
        .flags(flag::WRITE | flag::DENYOOM | flag::NOSCRIPT | flag::BLOCKING)
        .acl(acl::LIST)
        .keys(MOVE_KEYS)
        .doc("list", MOVE_SUMMARY, "6.2.0", "O(1)"),
    CommandSpec::new("brpoplpush", 4, brpoplpush)
        .flags(flag::WRITE | flag::DENYOOM | flag::NOSCRIPT | flag::BLOCKING)
        .acl(acl::LIST)
        .keys(MOVE_KEYS)
        .history(TIMEOUT_AS_DOUBLE)
        .deprecated("6.2.0", "`BLMOVE` with the `RIGHT` and `LEFT` arguments")
        .doc("list", MOVE_SUMMARY, "2.2.0", "O(1)"),
    CommandSpec::new("bzpopmin", -3, bzpopmin)
        .flags(flag::WRITE | flag::NOSCRIPT | flag::FAST | flag::BLOCKING)
        .acl(acl::SORTEDSET)
        .keys(POP_KEYS)
        .history(TIMEOUT_AS_DOUBLE)
        .doc("sorted-set", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set."),
    CommandSpec::new("bzpopmax", -3, bzpopmax)
        .flags(flag::WRITE | flag::NOSCRIPT | flag::FAST | flag::BLOCKING)
        .acl(acl::SORTEDSET)
        .keys(POP_KEYS)
        .history(TIMEOUT_AS_DOUBLE)
        .doc("sorted-set", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set."),
    CommandSpec::new("bzmpop", -5, bzmpop)
        .flags(flag::WRITE | flag::BLOCKING)
        .acl(acl::SORTEDSET)
        .keys(MPOP_KEYS)
        .doc("sorted-set", "Remove and return members with scores in a sorted set or block until one is available", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
];

// ---- Shared ----------------------------------------------------------------------------

/// A blocking command's timeout in seconds (a float; 0 waits forever) as a deadline in Unix
/// ms from `now_ms`, with Redis's errors.
pub fn parse_timeout(arg: &[u8], now_ms: i64) -> Result<Option<i64>, CmdError> {
    let ms = longdouble::seconds_to_ms(arg)
        .ok_or_else(|| CmdError::from("ERR timeout is not a float or out of range"))?;
    match ms {
        ..=-1 => Err("ERR timeout is negative".into()),
        0 => Ok(None),
        ms => Ok(Some(now_ms.saturating_add(ms))),
    }
}

/// Whether a key has something to pop: `Ok(false)` if missing or empty, an error if it holds
/// the wrong type.
type Probe = fn(&mut Txn<'_>, &[u8]) -> Result<bool, CmdError>;

fn list_has_items(txn: &mut Txn<'_>, key: &[u8]) -> Result<bool, CmdError> {
    Ok(write_list(txn, key)?.is_some_and(|l| !l.is_empty()))
}

fn zset_has_items(txn: &mut Txn<'_>, key: &[u8]) -> Result<bool, CmdError> {
    Ok(zset::write(txn, key)?.is_some_and(|z| !z.is_empty()))
}

/// The first of `keys` with something to pop, or `None` to block. When a client sends the
/// command, a key of the wrong type met before any non-empty one is an error; when the
/// command is run again to serve a waiter, only the ready key counts, and a wrong type there
/// means waiting on.
fn first_ready<'k>(
    ctx: &mut Ctx,
    keys: &[&'k [u8]],
    has_items: Probe,
) -> Result<Option<&'k [u8]>, CmdError> {
    if let Some(ready) = ctx.client.serving.clone() {
        let Some(key) = keys.iter().copied().find(|k| *k == ready.as_slice()) else {
            return Ok(None);
        };
        return Ok(has_items(ctx.txn, key).unwrap_or(false).then_some(key));
    }
    for &key in keys {
        if has_items(ctx.txn, key)? {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

fn keys_between(argv: Argv<'_>, first: usize, end: usize) -> Vec<&[u8]> {
    (first..end).map(|i| argv.get(i)).collect()
}

fn pop_name(end: End) -> &'static [u8] {
    match end {
        End::Head => b"LPOP",
        End::Tail => b"RPOP",
    }
}

fn reply_entry(reply: &mut ReplyBuf, e: Entry<'_>) {
    match e {
        Entry::Str(s) => reply.bulk(s),
        Entry::Int(i) => reply.bulk_i64(i),
    }
}

// ---- Lists -----------------------------------------------------------------------------

/// BLPOP key [key ...] timeout
fn blpop(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    bpop(ctx, argv, End::Head)
}

/// BRPOP key [key ...] timeout
fn brpop(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    bpop(ctx, argv, End::Tail)
}

fn bpop(ctx: &mut Ctx, argv: Argv, end: End) -> CmdResult {
    let deadline = parse_timeout(argv.get(argv.len() - 1), ctx.now_ms())?;
    let keys = keys_between(argv, 1, argv.len() - 1);
    let Some(key) = first_ready(ctx, &keys, list_has_items)? else {
        ctx.block(argv, &keys, deadline, ReplyBuf::null_array);
        return Ok(());
    };
    let Ctx { txn, reply, .. } = ctx;
    reply.array(2);
    reply.bulk(key);
    pop_from(txn, key, end, 1, |e| reply_entry(reply, e));
    txn.propagate(&[pop_name(end), key]);
    Ok(())
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn blmpop(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let args = parse_mpop(argv, 2)?;
    let deadline = parse_timeout(argv.get(1), ctx.now_ms())?;
    let keys = keys_between(argv, args.first_key, args.first_key + args.key_count);
    let Some(key) = first_ready(ctx, &keys, list_has_items)? else {
        ctx.block(argv, &keys, deadline, ReplyBuf::null_array);
        return Ok(());
    };
    let Ctx { txn, reply, .. } = ctx;
    let len = write_list(txn, key)?.map_or(0, |l| l.len());
    let n = args.count.min(len);
    reply.array(2);
    reply.bulk(key);
    reply.array(n);
    pop_from(txn, key, args.end, n, |e| reply_entry(reply, e));
    let n = n.to_string();
    txn.propagate(&[pop_name(args.end), key, n.as_bytes()]);
    Ok(())
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
fn blmove(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let from = parse_end(argv.get(3))?;
    let to = parse_end(argv.get(4))?;
    let deadline = parse_timeout(argv.get(5), ctx.now_ms())?;
    bmove(ctx, argv, from, to, deadline)
}

/// BRPOPLPUSH source destination timeout
fn brpoplpush(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let deadline = parse_timeout(argv.get(3), ctx.now_ms())?;
    bmove(ctx, argv, End::Tail, End::Head, deadline)
}

/// Moves an element as LMOVE does, or blocks on the source (only: a missing destination is
/// created, and one of the wrong type fails the move when it happens).
fn bmove(ctx: &mut Ctx, argv: Argv, from: End, to: End, deadline: Option<i64>) -> CmdResult {
    let (src, dst) = (argv.get(1), argv.get(2));
    if first_ready(ctx, &[src], list_has_items)?.is_none() {
        // Where it may not block it answers like LMOVE; a real timeout, like every blocked
        // list or sorted set command, is a null array.
        if ctx.client.deny_blocking {
            ctx.reply.null();
        } else {
            ctx.block(argv, &[src], deadline, ReplyBuf::null_array);
        }
        return Ok(());
    }
    let value = list::move_element(ctx, src, dst, from, to)?.expect("the source has items");
    ctx.reply.bulk(&value);
    if argv.len() == 4 {
        ctx.txn.propagate(&[b"RPOPLPUSH", src, dst]);
    } else {
        ctx.txn
            .propagate(&[b"LMOVE", src, dst, argv.get(3), argv.get(4)]);
    }
    Ok(())
}

// ---- Sorted sets -----------------------------------------------------------------------

/// BZPOPMIN key [key ...] timeout
fn bzpopmin(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    bzpop(ctx, argv, zpop::End::Min)
}

/// BZPOPMAX key [key ...] timeout
fn bzpopmax(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    bzpop(ctx, argv, zpop::End::Max)
}

fn bzpop(ctx: &mut Ctx, argv: Argv, end: zpop::End) -> CmdResult {
    let deadline = parse_timeout(argv.get(argv.len() - 1), ctx.now_ms())?;
    let keys = keys_between(argv, 1, argv.len() - 1);
    let Some(key) = first_ready(ctx, &keys, zset_has_items)? else {
        ctx.block(argv, &keys, deadline, ReplyBuf::null_array);
        return Ok(());
    };
    zpop::pop_from(ctx.txn, ctx.reply, key, end, 1, zpop::Shape::KeyFlat);
    ctx.txn.propagate(&[end.command(), key]);
    Ok(())
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
fn bzmpop(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (keys, end, count) = zpop::parse_mpop(argv, 2)?;
    let deadline = parse_timeout(argv.get(1), ctx.now_ms())?;
    let Some(key) = first_ready(ctx, &keys, zset_has_items)? else {
        ctx.block(argv, &keys, deadline, ReplyBuf::null_array);
        return Ok(());
    };
    let n = zpop::pop_from(ctx.txn, ctx.reply, key, end, count, zpop::Shape::KeyPairs);
    let n = n.to_string();
    ctx.txn.propagate(&[end.command(), key, n.as_bytes()]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::string::testkit::{resp, Kit};

    #[test]
    fn pops_that_need_not_block_propagate_as_their_twins() {
        let mut k = Kit::new();
        k.run(&["RPUSH", "l", "a", "b", "c", "d", "e"]);
        k.run(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
        let cases: &[(&[&str], &[&str], &str)] = &[
            (&["BLPOP", "nokey", "l", "0"], &["LPOP", "l"], "lpop"),
            (&["BRPOP", "l", "1.5"], &["RPOP", "l"], "rpop"),
            (
                &["BLMPOP", "0", "1", "l", "LEFT", "COUNT", "1"],
                &["LPOP", "l", "1"],
                "lpop",
            ),
            (
                &["BLMOVE", "l", "d", "left", "RIGHT", "0"],
                &["LMOVE", "l", "d", "left", "RIGHT"],
                "lpop",
            ),
            (
                &["BRPOPLPUSH", "l", "d", "0"],
                &["RPOPLPUSH", "l", "d"],
                "rpop",
            ),
            (&["BZPOPMIN", "z", "0"], &["ZPOPMIN", "z"], "zpopmin"),
            (
                &["BZMPOP", "0", "1", "z", "MAX", "COUNT", "9"],
                &["ZPOPMAX", "z", "2"],
                "zpopmax",
            ),
        ];
        for (cmd, twin, event) in cases {
            let out = k.run(cmd);
            assert_eq!(out.propagated(), vec![resp(twin)], "{cmd:?}");
            assert!(
                out.events().iter().any(|(e, _)| e == event),
                "{cmd:?}: {:?}",
                out.events()
            );
        }
        assert!(k.entry("z").is_none(), "emptied and deleted");
        // A wrong type is an error and propagates nothing.
        k.run(&["SET", "s", "v"]);
        let out = k.run(&["BLPOP", "s", "0"]);
        assert!(out.reply_str().starts_with("-WRONGTYPE"));
        assert!(out.propagated().is_empty());
    }

    #[test]
    fn timeouts_parse_as_redis() {
        assert_eq!(parse_timeout(b"0", 1000).unwrap(), None);
        assert_eq!(parse_timeout(b"-0.0001", 1000).unwrap(), None);
        assert_eq!(parse_timeout(b"0.5", 1000).unwrap(), Some(1500));
        assert_eq!(parse_timeout(b"1e-400", 1000).unwrap(), Some(1001));
        let err = |t: &[u8]| parse_timeout(t, 0).unwrap_err().text().to_string();
        assert_eq!(err(b"-1"), "ERR timeout is negative");
        assert_eq!(err(b"inf"), "ERR timeout is negative");
        assert_eq!(err(b"x"), "ERR timeout is not a float or out of range");
        assert_eq!(
            parse_timeout(b"9223372036854775", i64::MAX - 5).unwrap(),
            Some(i64::MAX),
            "a far deadline saturates"
        );
    }
}
