//! Sorted set commands. The type itself (encodings, ranges, score parsing) is
//! [`crate::types::zset`]; these handlers parse arguments in Redis's order (so the same bad
//! request gets the same error), then read or change one [`ZSet`] through the keyspace view.
//!
//! Where the family's logic lives:
//! - `add`: ZADD and ZINCRBY;
//! - `range`: the ZRANGE family, ZRANGESTORE and the ZREMRANGEBY commands;
//! - [`pop`]: ZPOPMIN, ZPOPMAX and ZMPOP, with [`pop::pop_from`] ready for the blocking forms;
//! - `random`: ZRANDMEMBER;
//! - `setops`: ZUNION, ZINTER, ZDIFF, their STORE forms, and ZINTERCARD;
//! - this module: the single-member and counting commands, ZSCAN, and the shared helpers.
//!
//! Replies follow Redis 7.0: scores are doubles (`%.17g` bulk strings in RESP2, `,` doubles in
//! RESP3), and WITHSCORES answers are flat in RESP2 and arrays of pairs in RESP3.

mod add;
pub mod pop;
mod random;
mod range;
mod setops;
#[cfg(test)]
mod tests;

use rudis_resp::{Argv, ReplyBuf};

use super::scan;
use crate::command::error::{CmdError, WRONGTYPE};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::txn::{event, Txn};
use crate::keyspace::Value;
use crate::types::listpack::Entry;
use crate::types::zset::range::{LexRange, ScoreRange};
use crate::types::zset::{Limits, ZSet};

const Z: u64 = acl::SORTEDSET;
const RO: &[KeySpec] = &[KeySpec::one(1, keyflag::RO)];
const RO_ACCESS: &[KeySpec] = &[KeySpec::one(1, keyflag::RO | keyflag::ACCESS)];
const RW_UPDATE: &[KeySpec] = &[KeySpec::one(1, keyflag::RW | keyflag::UPDATE)];
const RW_DELETE: &[KeySpec] = &[KeySpec::one(1, keyflag::RW | keyflag::DELETE)];
const RW_POP: &[KeySpec] = &[KeySpec::one(
    1,
    keyflag::RW | keyflag::ACCESS | keyflag::DELETE,
)];
const RO_KEYNUM: &[KeySpec] = &[KeySpec::keynum(1, keyflag::RO | keyflag::ACCESS)];
const STORE_KEYNUM: &[KeySpec] = &[
    KeySpec::one(1, keyflag::OW | keyflag::UPDATE),
    KeySpec::keynum(2, keyflag::RO | keyflag::ACCESS),
];
const RANGE_COMPLEXITY: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.";
const RANGE_LIMIT_COMPLEXITY: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).";
const REMRANGE_COMPLEXITY: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.";
const POP_COMPLEXITY: &str = "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.";
const UNION_COMPLEXITY: &str = "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.";
const INTER_COMPLEXITY: &str = "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.";
const DIFF_COMPLEXITY: &str = "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, add::zadd)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(Z)
        .keys(RW_UPDATE)
        .doc("sorted-set", "Add one or more members to a sorted set, or update its score if it already exists", "1.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set."),
    CommandSpec::new("zincrby", 4, add::zincrby)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(Z)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::ACCESS | keyflag::UPDATE)])
        .doc("sorted-set", "Increment the score of a member in a sorted set", "1.2.0", "O(log(N)) where N is the number of elements in the sorted set."),
    CommandSpec::new("zrem", -3, zrem)
        .flags(flag::WRITE | flag::FAST)
        .acl(Z)
        .keys(RW_DELETE)
        .doc("sorted-set", "Remove one or more members from a sorted set", "1.2.0", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed."),
    CommandSpec::new("zcard", 2, zcard)
        .flags(flag::READONLY | flag::FAST)
        .acl(Z)
        .keys(RO)
        .doc("sorted-set", "Get the number of members in a sorted set", "1.2.0", "O(1)"),
    CommandSpec::new("zcount", 4, zcount)
        .flags(flag::READONLY | flag::FAST)
        .acl(Z)
        .keys(RO_ACCESS)
        .doc("sorted-set", "Count the members in a sorted set with scores within the given values", "2.0.0", "O(log(N)) with N being the number of elements in the sorted set."),
    CommandSpec::new("zlexcount", 4, zlexcount)
        .flags(flag::READONLY | flag::FAST)
        .acl(Z)
        .keys(RO_ACCESS)
        .doc("sorted-set", "Count the number of members in a sorted set between a given lexicographical range", "2.8.9", "O(log(N)) with N being the number of elements in the sorted set."),
    CommandSpec::new("zscore", 3, zscore)
        .flags(flag::READONLY | flag::FAST)
        .acl(Z)
        .keys(RO_ACCESS)
        .doc("sorted-set", "Get the score associated with the given member in a sorted set", "1.2.0", "O(1)"),
    CommandSpec::new("zmscore", -3, zmscore)
        .flags(flag::READONLY | flag::FAST)
        .acl(Z)
        .keys(RO_ACCESS)
        .doc("sorted-set", "Get the score associated with the given members in a sorted set", "6.2.0", "O(N) where N is the number of members being requested."),
    CommandSpec::new("zrank", 3, zrank)
        .flags(flag::READONLY | flag::FAST)
        .acl(Z)
        .keys(RO_ACCESS)
        .doc("sorted-set", "Determine the index of a member in a sorted set", "2.0.0", "O(log(N))"),
    CommandSpec::new("zrevrank", 3, zrevrank)
        .flags(flag::READONLY | flag::FAST)
        .acl(Z)
        .keys(RO_ACCESS)
        .doc("sorted-set", "Determine the index of a member in a sorted set, with scores ordered from high to low", "2.0.0", "O(log(N))"),
    CommandSpec::new("zrange", -4, range::zrange)
        .flags(flag::READONLY)
        .acl(Z)
        .keys(RO_ACCESS)
        .doc("sorted-set", "Return a range of members in a sorted set", "1.2.0", RANGE_COMPLEXITY),
    CommandSpec::new("zrangestore", -5, range::zrangestore)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(Z)
        .keys(&[
            KeySpec::one(1, keyflag::OW | keyflag::UPDATE),
            KeySpec::one(2, keyflag::RO | keyflag::ACCESS),
        ])
        .doc("sorted-set", "Store a range of members from sorted set into another key", "6.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key."),
    CommandSpec::new("zrangebyscore", -4, range::zrangebyscore)
        .flags(flag::READONLY)
        .acl(Z)
        .keys(RO_ACCESS)
        .doc("sorted-set", "Return a range of members in a sorted set, by score", "1.0.5", RANGE_LIMIT_COMPLEXITY),
    CommandSpec::new("zrevrangebyscore", -4, range::zrevrangebyscore)
        .flags(flag::READONLY)
        .acl(Z)
        .keys(RO_ACCESS)
        .doc("sorted-set", "Return a range of members in a sorted set, by score, with scores ordered from high to low", "2.2.0", RANGE_LIMIT_COMPLEXITY),
    CommandSpec::new("zrangebylex", -4, range::zrangebylex)
        .flags(flag::READONLY)
        .acl(Z)
        .keys(RO_ACCESS)
        .doc("sorted-set", "Return a range of members in a sorted set, by lexicographical range", "2.8.9", RANGE_LIMIT_COMPLEXITY),
    CommandSpec::new("zrevrangebylex", -4, range::zrevrangebylex)
        .flags(flag::READONLY)
        .acl(Z)
        .keys(RO_ACCESS)
        .doc("sorted-set", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", "2.8.9", RANGE_LIMIT_COMPLEXITY),
    CommandSpec::new("zrevrange", -4, range::zrevrange)
        .flags(flag::READONLY)
        .acl(Z)
        .keys(RO_ACCESS)
        .doc("sorted-set", "Return a range of members in a sorted set, by index, with scores ordered from high to low", "1.2.0", RANGE_COMPLEXITY),
    CommandSpec::new("zremrangebyrank", 4, range::zremrangebyrank)
        .flags(flag::WRITE)
        .acl(Z)
        .keys(RW_DELETE)
        .doc("sorted-set", "Remove all members in a sorted set within the given indexes", "2.0.0", REMRANGE_COMPLEXITY),
    CommandSpec::new("zremrangebyscore", 4, range::zremrangebyscore)
        .flags(flag::WRITE)
        .acl(Z)
        .keys(RW_DELETE)
        .doc("sorted-set", "Remove all members in a sorted set within the given scores", "1.2.0", REMRANGE_COMPLEXITY),
    CommandSpec::new("zremrangebylex", 4, range::zremrangebylex)
        .flags(flag::WRITE)
        .acl(Z)
        .keys(RW_DELETE)
        .doc("sorted-set", "Remove all members in a sorted set between the given lexicographical range", "2.8.9", REMRANGE_COMPLEXITY),
    CommandSpec::new("zpopmin", -2, pop::zpopmin)
        .flags(flag::WRITE | flag::FAST)
        .acl(Z)
        .keys(RW_POP)
        .doc("sorted-set", "Remove and return members with the lowest scores in a sorted set", "5.0.0", POP_COMPLEXITY),
    CommandSpec::new("zpopmax", -2, pop::zpopmax)
        .flags(flag::WRITE | flag::FAST)
        .acl(Z)
        .keys(RW_POP)
        .doc("sorted-set", "Remove and return members with the highest scores in a sorted set", "5.0.0", POP_COMPLEXITY),
    CommandSpec::new("zmpop", -4, pop::zmpop)
        .flags(flag::WRITE)
        .acl(Z)
        .keys(&[KeySpec::keynum(1, keyflag::RW | keyflag::ACCESS | keyflag::DELETE)])
        .doc("sorted-set", "Remove and return members with scores in a sorted set", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
    CommandSpec::new("zrandmember", -2, random::zrandmember)
        .flags(flag::READONLY)
        .acl(Z)
        .keys(RO_ACCESS)
        .tips(&["nondeterministic_output"])
        .doc("sorted-set", "Get one or multiple random elements from a sorted set", "6.2.0", "O(N) where N is the number of elements returned"),
    CommandSpec::new("zunion", -3, setops::zunion)
        .flags(flag::READONLY)
        .acl(Z)
        .keys(RO_KEYNUM)
        .doc("sorted-set", "Add multiple sorted sets", "6.2.0", UNION_COMPLEXITY),
    CommandSpec::new("zinter", -3, setops::zinter)
        .flags(flag::READONLY)
        .acl(Z)
        .keys(RO_KEYNUM)
        .doc("sorted-set", "Intersect multiple sorted sets", "6.2.0", INTER_COMPLEXITY),
    CommandSpec::new("zdiff", -3, setops::zdiff)
        .flags(flag::READONLY)
        .acl(Z)
        .keys(RO_KEYNUM)
        .doc("sorted-set", "Subtract multiple sorted sets", "6.2.0", DIFF_COMPLEXITY),
    CommandSpec::new("zunionstore", -4, setops::zunionstore)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(Z)
        .keys(STORE_KEYNUM)
        .doc("sorted-set", "Add multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", UNION_COMPLEXITY),
    CommandSpec::new("zinterstore", -4, setops::zinterstore)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(Z)
        .keys(STORE_KEYNUM)
        .doc("sorted-set", "Intersect multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", INTER_COMPLEXITY),
    CommandSpec::new("zdiffstore", -4, setops::zdiffstore)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(Z)
        .keys(STORE_KEYNUM)
        .doc("sorted-set", "Subtract multiple sorted sets and store the resulting sorted set in a new key", "6.2.0", DIFF_COMPLEXITY),
    CommandSpec::new("zintercard", -3, setops::zintercard)
        .flags(flag::READONLY)
        .acl(Z)
        .keys(RO_KEYNUM)
        .doc("sorted-set", "Intersect multiple sorted sets and return the cardinality of the result", "7.0.0", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets."),
    CommandSpec::new("zscan", -3, zscan)
        .flags(flag::READONLY)
        .acl(Z)
        .keys(RO_ACCESS)
        .tips(&["nondeterministic_output"])
        .doc("sorted-set", "Incrementally iterate sorted sets elements and associated scores", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
];

pub(crate) const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
pub(crate) const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";

/// The encoding thresholds of the live configuration.
pub(crate) fn limits(ctx: &Ctx) -> Limits {
    let cfg = ctx.srv.cfg();
    Limits {
        max_entries: usize::try_from(cfg.zset_max_listpack_entries).unwrap_or(0),
        max_value_bytes: usize::try_from(cfg.zset_max_listpack_value).unwrap_or(0),
    }
}

/// The sorted set at `key` for reading: `Ok(None)` if missing, WRONGTYPE if another type.
pub(crate) fn read<'t>(txn: &'t mut Txn<'_>, key: &[u8]) -> Result<Option<&'t ZSet>, CmdError> {
    match txn.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// The sorted set at `key` for changing: `Ok(None)` if missing, WRONGTYPE if another type.
pub(crate) fn write<'t>(
    txn: &'t mut Txn<'_>,
    key: &[u8],
) -> Result<Option<&'t mut ZSet>, CmdError> {
    match txn.get_mut(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// Stores the result of a *STORE command in `dst` (or deletes `dst` for an empty result) and
/// replies with its size, with Redis's effects.
pub(crate) fn store_result(
    ctx: &mut Ctx,
    dst: &[u8],
    result: Option<ZSet>,
    event_name: &'static str,
) {
    match result.filter(|z| !z.is_empty()) {
        Some(z) => {
            let len = z.len();
            // A destination past its expiry time is expired first, as Redis's setKey does.
            ctx.txn.get_mut(dst);
            ctx.txn.set(dst, Value::ZSet(z), false);
            ctx.txn.signal_modified(dst);
            ctx.txn.signal_ready(dst);
            ctx.txn.notify(event::ZSET, event_name, dst);
            ctx.txn.dirty(1);
            ctx.reply.int(len as i64);
        }
        None => {
            ctx.reply.int(0);
            if ctx.txn.remove(dst).is_some() {
                ctx.txn.signal_modified(dst);
                ctx.txn.notify(event::GENERIC, "del", dst);
                ctx.txn.dirty(1);
            }
        }
    }
}

/// A member as a bulk string (listpack integers formatted without allocating).
pub(crate) fn reply_member(reply: &mut ReplyBuf, member: Entry<'_>) {
    match member {
        Entry::Int(i) => reply.bulk_i64(i),
        Entry::Str(s) => reply.bulk(s),
    }
}

/// The array header of a reply of `count` elements, WITHSCORES or not: flat in RESP2,
/// one entry per element in RESP3.
pub(crate) fn reply_elements_header(reply: &mut ReplyBuf, count: usize, with_scores: bool) {
    reply.array(elements_len(reply, count, with_scores));
}

/// The aggregate length [`reply_elements_header`] writes.
pub(crate) fn elements_len(reply: &ReplyBuf, count: usize, with_scores: bool) -> usize {
    if with_scores && !reply.is_resp3() {
        count * 2
    } else {
        count
    }
}

/// One element of such a reply: the member, then the score if asked, as a pair in RESP3.
pub(crate) fn reply_element(
    reply: &mut ReplyBuf,
    member: Entry<'_>,
    score: f64,
    with_scores: bool,
) {
    if with_scores && reply.is_resp3() {
        reply.array(2);
    }
    reply_member(reply, member);
    if with_scores {
        reply.double(score);
    }
}

/// ZCARD key
fn zcard(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let len = read(ctx.txn, argv.get(1))?.map_or(0, ZSet::len);
    ctx.reply.int(len as i64);
    Ok(())
}

/// ZSCORE key member
fn zscore(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    match read(ctx.txn, argv.get(1))?.and_then(|z| z.score(argv.get(2))) {
        Some(score) => ctx.reply.double(score),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]
fn zmscore(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let z = read(ctx.txn, argv.get(1))?;
    ctx.reply.array(argv.len() - 2);
    for member in argv.iter().skip(2) {
        match z.and_then(|z| z.score(member)) {
            Some(score) => ctx.reply.double(score),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

/// ZRANK key member
fn zrank(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    rank_generic(ctx, argv, false)
}

/// ZREVRANK key member
fn zrevrank(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    rank_generic(ctx, argv, true)
}

fn rank_generic(ctx: &mut Ctx, argv: Argv, reverse: bool) -> CmdResult {
    let Some(z) = read(ctx.txn, argv.get(1))? else {
        ctx.reply.null();
        return Ok(());
    };
    match z.rank(argv.get(2)) {
        Some(rank) if reverse => ctx.reply.int((z.len() - 1 - rank) as i64),
        Some(rank) => ctx.reply.int(rank as i64),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// ZCOUNT key min max
fn zcount(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let range = ScoreRange::parse(argv.get(2), argv.get(3)).ok_or(NOT_FLOAT_RANGE)?;
    let count = read(ctx.txn, argv.get(1))?.map_or(0, |z| z.count_range(&range));
    ctx.reply.int(count as i64);
    Ok(())
}

/// ZLEXCOUNT key min max
fn zlexcount(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let range = LexRange::parse(argv.get(2), argv.get(3)).ok_or(NOT_LEX_RANGE)?;
    let count = read(ctx.txn, argv.get(1))?.map_or(0, |z| z.count_range(&range));
    ctx.reply.int(count as i64);
    Ok(())
}

/// ZREM key member [member ...]
fn zrem(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    let Some(z) = write(ctx.txn, key)? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for member in argv.iter().skip(2) {
        deleted += i64::from(z.remove(member));
        if z.is_empty() {
            break;
        }
    }
    let emptied = z.is_empty();
    if emptied {
        ctx.txn.remove(key);
    }
    if deleted > 0 {
        ctx.txn.notify(event::ZSET, "zrem", key);
        if emptied {
            ctx.txn.notify(event::GENERIC, "del", key);
        }
        ctx.txn.signal_modified(key);
        ctx.txn.dirty(deleted as u64);
    }
    ctx.reply.int(deleted);
    Ok(())
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
fn zscan(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let cursor = scan::parse_cursor(argv.get(2))?;
    let Some(z) = read(ctx.txn, argv.get(1))? else {
        scan::reply(ctx.reply, 0, std::iter::empty());
        return Ok(());
    };
    let opts = scan::parse_options(argv, 3, false)?;
    let mut items: Vec<Vec<u8>> = Vec::new();
    let next = z.scan(cursor, opts.count, |member, score| {
        let member = member.to_vec();
        if opts.matches(&member) {
            items.push(member);
            items.push(score.to_vec());
        }
    });
    scan::reply(ctx.reply, next, items.iter().map(Vec::as_slice));
    Ok(())
}
