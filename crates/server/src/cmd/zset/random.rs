//! ZRANDMEMBER. Distinct picks never allocate more than the set holds: a count at or above
//! the set's size returns the whole set, and smaller counts draw distinct ranks (a shuffle
//! when the count is close to the size, rejection sampling when it is small). A negative
//! count repeats picks and streams them; nothing is sized by the count up front.

use std::collections::HashSet;

use rudis_resp::{Argv, ReplyBuf};

use super::{read, reply_element, reply_elements_header, reply_member};
use crate::cmd::util::{int_arg, is};
use crate::command::error::SYNTAX;
use crate::command::{CmdResult, Ctx};
use crate::types::listpack::Entry;
use crate::types::zset::ZSet;

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let mut rng = fastrand::Rng::new();
    if argv.len() < 3 {
        match read(ctx.txn, argv.get(1))?.and_then(|z| z.random(&mut rng)) {
            Some((member, _)) => reply_member(ctx.reply, member),
            None => ctx.reply.null(),
        }
        return Ok(());
    }
    let count = int_arg(argv.get(2))?;
    if count == i64::MIN {
        return Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into());
    }
    if argv.len() > 4 || (argv.len() == 4 && !is(argv.get(3), "withscores")) {
        return Err(SYNTAX);
    }
    let with_scores = argv.len() == 4;
    if with_scores && count.unsigned_abs() > (i64::MAX / 2) as u64 {
        return Err("ERR value is out of range".into());
    }
    let Some(z) = read(ctx.txn, argv.get(1))? else {
        ctx.reply.array(0);
        return Ok(());
    };
    let reply = &mut *ctx.reply;
    let emit = |reply: &mut ReplyBuf, (m, s): (Entry<'_>, f64)| {
        reply_element(reply, m, s, with_scores);
    };
    let size = z.len();
    let wanted = count.unsigned_abs() as usize;
    if count == 0 {
        reply.array(0);
    } else if count < 0 || count == 1 {
        reply_elements_header(reply, wanted, with_scores);
        let elements = Elements::of(z);
        for _ in 0..wanted {
            emit(reply, elements.get(rng.usize(..size)));
        }
    } else if wanted >= size {
        // The whole set, from the highest element down, as Redis's set-operation iterator
        // walks it.
        reply_elements_header(reply, size, with_scores);
        for element in z.iter_from_rank(0, true) {
            emit(reply, element);
        }
    } else {
        reply_elements_header(reply, wanted, with_scores);
        let elements = Elements::of(z);
        for rank in distinct_ranks(&mut rng, size, wanted) {
            emit(reply, elements.get(rank));
        }
    }
    Ok(())
}

/// `count` distinct ranks below `size` (count < size), in ascending order.
fn distinct_ranks(rng: &mut fastrand::Rng, size: usize, count: usize) -> Vec<usize> {
    let mut ranks = if count.saturating_mul(3) > size {
        // Close to the whole set: shuffle the first `count` places of all ranks.
        let mut all: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = rng.usize(i..size);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        // Far fewer than the set holds: draw until enough are distinct.
        let mut picked = HashSet::with_capacity(count);
        while picked.len() < count {
            picked.insert(rng.usize(..size));
        }
        picked.into_iter().collect()
    };
    ranks.sort_unstable();
    ranks
}

/// Random access to the elements: a listpack is decoded once (it is small), a skip list is
/// indexed by rank.
enum Elements<'a> {
    Decoded(Vec<(Entry<'a>, f64)>),
    Ranked(&'a ZSet),
}

impl<'a> Elements<'a> {
    fn of(z: &'a ZSet) -> Elements<'a> {
        match z {
            ZSet::Listpack(_) => Elements::Decoded(z.iter().collect()),
            ZSet::SkipList(_) => Elements::Ranked(z),
        }
    }

    fn get(&self, rank: usize) -> (Entry<'a>, f64) {
        match self {
            Elements::Decoded(v) => v[rank],
            Elements::Ranked(z) => z
                .iter_from_rank(rank, false)
                .next()
                .expect("rank within the set"),
        }
    }
}
