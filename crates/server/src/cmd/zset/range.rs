//! The ZRANGE family (ZRANGE, ZRANGESTORE and the older ZREVRANGE, Z[REV]RANGEBYSCORE,
//! Z[REV]RANGEBYLEX, which are ZRANGE with the range kind or direction fixed) and the
//! ZREMRANGEBY commands.
//!
//! A range request is parsed once ([`Request::parse`]) and run once ([`Request::run`]) for
//! every command; only where the elements go differs (the reply, or a new sorted set).
//! LIMIT never allocates: elements stream from the set to the reply until the count or the
//! range ends.

use rudis_resp::Argv;

use super::{
    elements_len, limits, read, reply_element, reply_elements_header, store_result, write,
    NOT_FLOAT_RANGE, NOT_LEX_RANGE,
};
use crate::cmd::util::{int_arg, is};
use crate::command::error::{CmdError, SYNTAX};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::txn::event;
use crate::types::listpack::Entry;
use crate::types::zset::range::{LexRange, RangeSpec, ScoreRange};
use crate::types::zset::ZSet;

/// What the range is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// A parsed range.
enum Bounds<'a> {
    Ranks(i64, i64),
    Scores(ScoreRange),
    Lex(LexRange<'a>),
}

struct Request<'a> {
    bounds: Bounds<'a>,
    reverse: bool,
    with_scores: bool,
    offset: i64,
    /// Negative: no limit.
    limit: i64,
}

impl<'a> Request<'a> {
    /// Parses `<key> <min> <max> [BYSCORE | BYLEX] [REV] [WITHSCORES] [LIMIT offset count]`
    /// with the key at `key_index`. `by` and `reverse` are fixed by the older commands;
    /// `store` (ZRANGESTORE) refuses WITHSCORES.
    fn parse(
        argv: Argv<'a>,
        key_index: usize,
        store: bool,
        by: Option<By>,
        reverse: Option<bool>,
    ) -> Result<Request<'a>, CmdError> {
        let (mut by_opt, mut rev_opt) = (by, reverse);
        let (mut with_scores, mut offset, mut limit) = (false, 0, -1);
        let mut i = key_index + 3;
        while i < argv.len() {
            let opt = argv.get(i);
            let left = argv.len() - i - 1;
            if !store && is(opt, "withscores") {
                with_scores = true;
            } else if is(opt, "limit") && left >= 2 {
                offset = int_arg(argv.get(i + 1))?;
                limit = int_arg(argv.get(i + 2))?;
                i += 2;
            } else if rev_opt.is_none() && is(opt, "rev") {
                rev_opt = Some(true);
            } else if by_opt.is_none() && is(opt, "bylex") {
                by_opt = Some(By::Lex);
            } else if by_opt.is_none() && is(opt, "byscore") {
                by_opt = Some(By::Score);
            } else {
                return Err(SYNTAX);
            }
            i += 1;
        }
        let by = by_opt.unwrap_or(By::Rank);
        let reverse = rev_opt.unwrap_or(false);
        if limit != -1 && by == By::Rank {
            return Err(
                "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
                    .into(),
            );
        }
        if with_scores && by == By::Lex {
            return Err(
                "ERR syntax error, WITHSCORES not supported in combination with BYLEX".into(),
            );
        }
        let (mut min, mut max) = (argv.get(key_index + 1), argv.get(key_index + 2));
        if reverse && by != By::Rank {
            // Score and lex ranges are given as max, min when reversed.
            std::mem::swap(&mut min, &mut max);
        }
        let bounds = match by {
            By::Rank => Bounds::Ranks(int_arg(min)?, int_arg(max)?),
            By::Score => Bounds::Scores(ScoreRange::parse(min, max).ok_or(NOT_FLOAT_RANGE)?),
            By::Lex => Bounds::Lex(LexRange::parse(min, max).ok_or(NOT_LEX_RANGE)?),
        };
        Ok(Request {
            bounds,
            reverse,
            with_scores,
            offset,
            limit,
        })
    }

    /// The number of elements a rank range selects, known before any is visited.
    fn rank_count(&self, len: usize) -> Option<(usize, usize)> {
        let Bounds::Ranks(start, end) = self.bounds else {
            return None;
        };
        Some(clamp_ranks(start, end, len).map_or((0, 0), |(s, e)| (s, e - s + 1)))
    }

    /// Visits the selected elements in reply order; returns how many.
    fn run(&self, z: &ZSet, mut emit: impl FnMut(Entry<'_>, f64)) -> usize {
        let mut count = 0;
        let mut visit = |(m, s): (Entry<'_>, f64)| {
            emit(m, s);
            count += 1;
        };
        match &self.bounds {
            Bounds::Ranks(..) => {
                let (start, n) = self.rank_count(z.len()).unwrap_or((0, 0));
                z.iter_from_rank(start, self.reverse)
                    .take(n)
                    .for_each(&mut visit);
            }
            Bounds::Scores(range) => self.run_range(z, range, &mut visit),
            Bounds::Lex(range) => self.run_range(z, range, &mut visit),
        }
        count
    }

    /// Skips `offset` elements from the first (or last) in range, then visits elements while
    /// they are in range, up to `limit`. A negative offset selects nothing, as in Redis.
    fn run_range<'z>(
        &self,
        z: &'z ZSet,
        range: &impl RangeSpec,
        visit: &mut impl FnMut((Entry<'z>, f64)),
    ) {
        let Ok(offset) = usize::try_from(self.offset) else {
            return;
        };
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let reverse = self.reverse;
        z.iter_range(range, reverse)
            .skip(offset)
            .take_while(|(m, s)| {
                let mut buf = itoa::Buffer::new();
                let member = m.as_bytes(&mut buf);
                if reverse {
                    range.gte_min(*s, member)
                } else {
                    range.lte_max(*s, member)
                }
            })
            .take(limit)
            .for_each(visit);
    }
}

/// Redis's rank sanitizing: negative ranks count from the end; an empty range is None;
/// otherwise the 0-based (start, end), end clamped to the last element.
fn clamp_ranks(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

/// Replies with the range of the sorted set at `argv[key_index]`.
fn range_to_client(ctx: &mut Ctx, argv: Argv, by: Option<By>, reverse: Option<bool>) -> CmdResult {
    let req = Request::parse(argv, 1, false, by, reverse)?;
    let Some(z) = read(ctx.txn, argv.get(1))? else {
        ctx.reply.array(0);
        return Ok(());
    };
    let reply = &mut *ctx.reply;
    let ws = req.with_scores;
    if let Some((_, n)) = req.rank_count(z.len()) {
        reply_elements_header(reply, n, ws);
        req.run(z, |m, s| reply_element(reply, m, s, ws));
    } else {
        let header = reply.begin_deferred();
        let n = req.run(z, |m, s| reply_element(reply, m, s, ws));
        let len = elements_len(reply, n, ws);
        reply.finish_array(header, len);
    }
    Ok(())
}

/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    range_to_client(ctx, argv, None, None)
}

/// ZREVRANGE key start stop [WITHSCORES]
pub fn zrevrange(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    range_to_client(ctx, argv, Some(By::Rank), Some(true))
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
pub fn zrangebyscore(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    range_to_client(ctx, argv, Some(By::Score), Some(false))
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
pub fn zrevrangebyscore(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    range_to_client(ctx, argv, Some(By::Score), Some(true))
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
pub fn zrangebylex(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    range_to_client(ctx, argv, Some(By::Lex), Some(false))
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
pub fn zrevrangebylex(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    range_to_client(ctx, argv, Some(By::Lex), Some(true))
}

/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let req = Request::parse(argv, 2, true, None, None)?;
    let limits = limits(ctx);
    let result = match read(ctx.txn, argv.get(2))? {
        None => None,
        Some(z) => {
            let mut pairs: Vec<(Vec<u8>, f64)> = Vec::new();
            req.run(z, |m, s| pairs.push((m.to_vec(), s)));
            if req.reverse {
                pairs.reverse();
            }
            Some(ZSet::from_sorted(&pairs, limits))
        }
    };
    store_result(ctx, argv.get(1), result, "zrangestore");
    Ok(())
}

/// ZREMRANGEBYRANK key start stop
pub fn zremrangebyrank(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (start, end) = (int_arg(argv.get(2))?, int_arg(argv.get(3))?);
    remove_generic(ctx, argv, "zremrangebyrank", |z| {
        clamp_ranks(start, end, z.len()).map_or(0, |(s, e)| z.remove_rank_range(s, e))
    })
}

/// ZREMRANGEBYSCORE key min max
pub fn zremrangebyscore(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let range = ScoreRange::parse(argv.get(2), argv.get(3)).ok_or(NOT_FLOAT_RANGE)?;
    remove_generic(ctx, argv, "zremrangebyscore", |z| z.remove_range(&range))
}

/// ZREMRANGEBYLEX key min max
pub fn zremrangebylex(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let range = LexRange::parse(argv.get(2), argv.get(3)).ok_or(NOT_LEX_RANGE)?;
    remove_generic(ctx, argv, "zremrangebylex", |z| z.remove_range(&range))
}

/// Removes what `remove` selects from the set at `argv[1]`, with Redis's effects.
fn remove_generic(
    ctx: &mut Ctx,
    argv: Argv,
    event_name: &'static str,
    remove: impl FnOnce(&mut ZSet) -> usize,
) -> CmdResult {
    let key = argv.get(1);
    let Some(z) = write(ctx.txn, key)? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let deleted = remove(z);
    let emptied = z.is_empty();
    if emptied {
        ctx.txn.remove(key);
    }
    if deleted > 0 {
        ctx.txn.signal_modified(key);
        ctx.txn.notify(event::ZSET, event_name, key);
        if emptied {
            ctx.txn.notify(event::GENERIC, "del", key);
        }
    }
    ctx.txn.dirty(deleted as u64);
    ctx.reply.int(deleted as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::clamp_ranks;

    #[test]
    fn ranks_are_sanitized_like_redis() {
        assert_eq!(clamp_ranks(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_ranks(-100, 100, 5), Some((0, 4)));
        assert_eq!(clamp_ranks(3, 1, 5), None);
        assert_eq!(clamp_ranks(5, 10, 5), None);
        assert_eq!(clamp_ranks(0, -6, 5), None);
        assert_eq!(clamp_ranks(i64::MIN, i64::MAX, 5), Some((0, 4)));
        assert_eq!(clamp_ranks(0, 0, 0), None);
    }
}
