//! ZUNION, ZINTER, ZDIFF, their STORE forms, and ZINTERCARD. Inputs may be sorted sets or
//! plain sets (whose members count with score 1), read in place: all input keys are looked
//! up first (expiring them, and failing with WRONGTYPE before any option is parsed, as Redis
//! does), then borrowed together.
//!
//! Scores combine exactly as Redis computes them, in the same order: inputs are taken from
//! the smallest to the largest (a stable sort, so equal sizes keep their order), each score
//! is multiplied by its weight (a NaN product counts as 0), and SUM turns a NaN total
//! (inf + -inf) into 0. The result is then sorted by (score, member), which is the order
//! Redis's result sorted set has whatever algorithm produced it.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;

use rudis_resp::Argv;

use super::{limits, reply_element, reply_elements_header, store_result};
use crate::cmd::util::{int_arg, is};
use crate::command::error::{CmdError, SYNTAX, WRONGTYPE};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::Value;
use crate::types::intset::Is;
use crate::types::listpack::{string_to_i64, Entry};
use crate::types::set::Set;
use crate::types::zset::score::parse_score;
use crate::types::zset::ZSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]
/// [WITHSCORES]
pub fn zunion(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    generic(ctx, argv, Op::Union, None)
}

/// ZINTER numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]
/// [WITHSCORES]
pub fn zinter(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    generic(ctx, argv, Op::Inter, None)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
pub fn zdiff(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    generic(ctx, argv, Op::Diff, None)
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]]
/// [AGGREGATE SUM | MIN | MAX]
pub fn zunionstore(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    generic(ctx, argv, Op::Union, Some(argv.get(1)))
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]]
/// [AGGREGATE SUM | MIN | MAX]
pub fn zinterstore(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    generic(ctx, argv, Op::Inter, Some(argv.get(1)))
}

/// ZDIFFSTORE destination numkeys key [key ...]
pub fn zdiffstore(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    generic(ctx, argv, Op::Diff, Some(argv.get(1)))
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn zintercard(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let keys = parse_keys(ctx, argv, 1)?;
    check_inputs(ctx, &keys)?;
    let mut limit = 0;
    let mut i = 2 + keys.len();
    while i < argv.len() {
        if is(argv.get(i), "limit") && i + 1 < argv.len() {
            limit = rudis_resp::number::parse_i64(argv.get(i + 1))
                .and_then(|n| usize::try_from(n).ok())
                .ok_or("ERR LIMIT can't be negative")?;
            i += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    let txn = &*ctx.txn;
    let inputs: Vec<Input> = keys
        .iter()
        .map(|k| Input::new(Source::of(txn.held_entry(k).map(|e| &e.value)), 1.0))
        .collect();
    let count = intersect(sorted_by_size(inputs), Aggregate::Sum, limit, |_, _| ());
    ctx.reply.int(count as i64);
    Ok(())
}

/// The input keys, from the key count at `numkeys_index`.
fn parse_keys<'a>(
    ctx: &Ctx,
    argv: Argv<'a>,
    numkeys_index: usize,
) -> Result<Vec<&'a [u8]>, CmdError> {
    let numkeys = int_arg(argv.get(numkeys_index))?;
    if numkeys < 1 {
        return Err(crate::err!(
            "ERR at least 1 input key is needed for '{}' command",
            ctx.cmd.fullname
        ));
    }
    let available = (argv.len() - numkeys_index - 1) as u64;
    if numkeys as u64 > available {
        return Err(SYNTAX);
    }
    Ok((0..numkeys as usize)
        .map(|i| argv.get(numkeys_index + 1 + i))
        .collect())
}

/// Looks every input key up (expiring it lazily) and checks its type.
fn check_inputs(ctx: &mut Ctx, keys: &[&[u8]]) -> CmdResult {
    for key in keys {
        if let Some(e) = ctx.txn.get(key) {
            if !matches!(e.value, Value::ZSet(_) | Value::Set(_)) {
                return Err(WRONGTYPE);
            }
        }
    }
    Ok(())
}

/// Options after the keys.
struct Options {
    weights: Option<Vec<f64>>,
    aggregate: Aggregate,
    with_scores: bool,
}

fn parse_options(
    argv: Argv,
    first: usize,
    setnum: usize,
    op: Op,
    store: bool,
) -> Result<Options, CmdError> {
    let mut o = Options {
        weights: None,
        aggregate: Aggregate::Sum,
        with_scores: false,
    };
    let mut i = first;
    while i < argv.len() {
        let (opt, remaining) = (argv.get(i), argv.len() - i);
        if op != Op::Diff && remaining > setnum && is(opt, "weights") {
            let weights = (i + 1..=i + setnum)
                .map(|j| {
                    parse_score(argv.get(j))
                        .ok_or(CmdError::from("ERR weight value is not a float"))
                })
                .collect::<Result<Vec<f64>, _>>()?;
            o.weights = Some(weights);
            i += 1 + setnum;
        } else if op != Op::Diff && remaining >= 2 && is(opt, "aggregate") {
            let how = argv.get(i + 1);
            o.aggregate = if is(how, "sum") {
                Aggregate::Sum
            } else if is(how, "min") {
                Aggregate::Min
            } else if is(how, "max") {
                Aggregate::Max
            } else {
                return Err(SYNTAX);
            };
            i += 2;
        } else if !store && is(opt, "withscores") {
            o.with_scores = true;
            i += 1;
        } else {
            return Err(SYNTAX);
        }
    }
    Ok(o)
}

fn generic(ctx: &mut Ctx, argv: Argv, op: Op, dst: Option<&[u8]>) -> CmdResult {
    let numkeys_index = if dst.is_some() { 2 } else { 1 };
    let keys = parse_keys(ctx, argv, numkeys_index)?;
    check_inputs(ctx, &keys)?;
    let opts = parse_options(
        argv,
        numkeys_index + 1 + keys.len(),
        keys.len(),
        op,
        dst.is_some(),
    )?;
    let txn = &*ctx.txn;
    let inputs: Vec<Input> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let weight = opts.weights.as_ref().map_or(1.0, |w| w[i]);
            Input::new(Source::of(txn.held_entry(k).map(|e| &e.value)), weight)
        })
        .collect();
    let mut result = match op {
        Op::Union => union(sorted_by_size(inputs), opts.aggregate),
        Op::Inter => {
            let mut out = Vec::new();
            intersect(sorted_by_size(inputs), opts.aggregate, 0, |m, s| {
                out.push((owned_or_borrowed(m), s))
            });
            out
        }
        Op::Diff => difference(&inputs, &keys),
    };
    result.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    match dst {
        Some(dst) => {
            let z = ZSet::from_sorted(&result, limits(ctx));
            let event_name = match op {
                Op::Union => "zunionstore",
                Op::Inter => "zinterstore",
                Op::Diff => "zdiffstore",
            };
            store_result(ctx, dst, Some(z), event_name);
        }
        None => {
            reply_elements_header(ctx.reply, result.len(), opts.with_scores);
            for (m, s) in &result {
                reply_element(ctx.reply, Entry::Str(m.as_ref()), *s, opts.with_scores);
            }
        }
    }
    Ok(())
}

/// One input: a sorted set, a plain set (scores 1) or a missing key (empty).
#[derive(Clone, Copy)]
enum Source<'a> {
    Missing,
    Sorted(&'a ZSet),
    Plain(&'a Set),
}

impl<'a> Source<'a> {
    fn of(value: Option<&'a Value>) -> Source<'a> {
        match value {
            Some(Value::ZSet(z)) => Source::Sorted(z),
            Some(Value::Set(s)) => Source::Plain(s),
            _ => Source::Missing,
        }
    }

    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::Sorted(z) => z.len(),
            Source::Plain(s) => s.len(),
        }
    }

    /// Visits the elements until `f` returns false.
    fn visit(&self, mut f: impl FnMut(Entry<'a>, f64) -> bool) {
        match self {
            Source::Missing => {}
            Source::Sorted(z) => {
                for (m, s) in z.iter() {
                    if !f(m, s) {
                        return;
                    }
                }
            }
            Source::Plain(Set::Intset(is)) => {
                for v in Is(is.as_slice()).iter() {
                    if !f(Entry::Int(v), 1.0) {
                        return;
                    }
                }
            }
            Source::Plain(Set::Table(t)) => {
                for m in t.iter() {
                    if !f(Entry::Str(m.0.as_slice()), 1.0) {
                        return;
                    }
                }
            }
        }
    }

    /// The score of `member` in this input.
    fn score(&self, member: Entry<'_>) -> Option<f64> {
        let mut buf = itoa::Buffer::new();
        match self {
            Source::Missing => None,
            Source::Sorted(z) => z.score(member.as_bytes(&mut buf)),
            Source::Plain(Set::Intset(is)) => {
                let v = match member {
                    Entry::Int(v) => Some(v),
                    Entry::Str(s) => string_to_i64(s),
                };
                v.filter(|&v| Is(is.as_slice()).contains(v)).map(|_| 1.0)
            }
            Source::Plain(Set::Table(t)) => t.contains(member.as_bytes(&mut buf)).then_some(1.0),
        }
    }

    fn same_object(&self, other: &Source) -> bool {
        match (self, other) {
            (Source::Sorted(a), Source::Sorted(b)) => std::ptr::eq(*a, *b),
            (Source::Plain(a), Source::Plain(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

#[derive(Clone, Copy)]
struct Input<'a> {
    source: Source<'a>,
    weight: f64,
}

impl<'a> Input<'a> {
    fn new(source: Source<'a>, weight: f64) -> Input<'a> {
        Input { source, weight }
    }
}

/// The inputs from the smallest to the largest, equal sizes in their given order.
fn sorted_by_size(mut inputs: Vec<Input<'_>>) -> Vec<Input<'_>> {
    inputs.sort_by_key(|i| i.source.len());
    inputs
}

/// A weighted score, NaN (0 * inf) counting as 0.
fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

fn combine(target: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += value;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if value < *target {
                *target = value;
            }
        }
        Aggregate::Max => {
            if value > *target {
                *target = value;
            }
        }
    }
}

/// A member as result bytes: borrowed from its input when stored as bytes there, formatted
/// when it is a listpack or intset integer.
fn owned_or_borrowed(member: Entry<'_>) -> Cow<'_, [u8]> {
    match member {
        Entry::Str(s) => Cow::Borrowed(s),
        Entry::Int(i) => Cow::Owned(itoa::Buffer::new().format(i).as_bytes().to_vec()),
    }
}

/// Result members with their scores.
type Scored<'a> = Vec<(Cow<'a, [u8]>, f64)>;

fn union<'a>(inputs: Vec<Input<'a>>, how: Aggregate) -> Scored<'a> {
    let capacity = inputs.last().map_or(0, |i| i.source.len());
    let mut acc: HashMap<Cow<'a, [u8]>, f64, foldhash::quality::RandomState> =
        HashMap::with_capacity_and_hasher(capacity, Default::default());
    for input in &inputs {
        input.source.visit(|m, s| {
            let score = weighted(s, input.weight);
            let member = owned_or_borrowed(m);
            match acc.get_mut(member.as_ref()) {
                Some(total) => combine(total, score, how),
                None => {
                    acc.insert(member, score);
                }
            }
            true
        });
    }
    acc.into_iter().collect()
}

/// Visits the members present in every input with their combined score; stops after `limit`
/// members when `limit` is not 0. Returns how many were visited.
fn intersect<'a>(
    inputs: Vec<Input<'a>>,
    how: Aggregate,
    limit: usize,
    mut emit: impl FnMut(Entry<'a>, f64),
) -> usize {
    let Some((first, rest)) = inputs.split_first() else {
        return 0;
    };
    let mut count = 0;
    first.source.visit(|m, s| {
        let mut score = weighted(s, first.weight);
        for other in rest {
            // A weighted score here is not NaN-corrected: Redis only corrects the sum.
            match other.source.score(m) {
                Some(v) => combine(&mut score, v * other.weight, how),
                None => return true,
            }
        }
        emit(m, score);
        count += 1;
        limit == 0 || count < limit
    });
    count
}

/// The members of the first input found in no other, with their scores (weights do not
/// apply). An input given twice empties the result.
fn difference<'a>(inputs: &[Input<'a>], keys: &[&[u8]]) -> Scored<'a> {
    let Some((first, rest)) = inputs.split_first() else {
        return Vec::new();
    };
    if keys[1..].contains(&keys[0]) || rest.iter().any(|i| i.source.same_object(&first.source)) {
        return Vec::new();
    }
    let mut out = Vec::new();
    first.source.visit(|m, s| {
        if rest.iter().all(|other| other.source.score(m).is_none()) {
            out.push((owned_or_borrowed(m), s));
        }
        true
    });
    out
}
