//! List commands (the non-blocking ones). Shared logic has one home: [`push_generic`] serves
//! LPUSH, RPUSH, LPUSHX and RPUSHX; [`pop_from`] pops N elements from an end of a key and
//! records Redis's effects for LPOP, RPOP, LMPOP (and the blocking pops); [`move_element`]
//! serves LMOVE and RPOPLPUSH (and BLMOVE, BRPOPLPUSH).
//!
//! Replies are written straight from the list's nodes, and nothing is allocated for counts,
//! ranks or lengths a client merely claims: a range is clamped to the list before its reply
//! length is written, and LPOS counts matches as it finds them.

use rudis_resp::Argv;

use super::util::{int_arg, is};
use crate::command::error::{wrong_arity, CmdError, NO_SUCH_KEY, OUT_OF_RANGE, SYNTAX, WRONGTYPE};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::txn::{event, Txn};
use crate::keyspace::Value;
use crate::types::list::{End, QuickList};
use crate::types::listpack::Entry;

const L: u64 = acl::LIST;
const PUSH_KEYS: &[KeySpec] = &[KeySpec::one(1, keyflag::RW | keyflag::INSERT)];
const POP_KEYS: &[KeySpec] = &[KeySpec::one(
    1,
    keyflag::RW | keyflag::ACCESS | keyflag::DELETE,
)];
const READ_KEYS: &[KeySpec] = &[KeySpec::one(1, keyflag::RO | keyflag::ACCESS)];
const MOVE_KEYS: &[KeySpec] = &[
    KeySpec::one(1, keyflag::RW | keyflag::ACCESS | keyflag::DELETE),
    KeySpec::one(2, keyflag::RW | keyflag::INSERT),
];
const PUSH_COMPLEXITY: &str = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, lpush)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(L)
        .keys(PUSH_KEYS)
        .doc("list", "Prepend one or multiple elements to a list", "1.0.0", PUSH_COMPLEXITY),
    CommandSpec::new("rpush", -3, rpush)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(L)
        .keys(PUSH_KEYS)
        .doc("list", "Append one or multiple elements to a list", "1.0.0", PUSH_COMPLEXITY),
    CommandSpec::new("lpushx", -3, lpushx)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(L)
        .keys(PUSH_KEYS)
        .doc("list", "Prepend an element to a list, only if the list exists", "2.2.0", PUSH_COMPLEXITY),
    CommandSpec::new("rpushx", -3, rpushx)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(L)
        .keys(PUSH_KEYS)
        .doc("list", "Append an element to a list, only if the list exists", "2.2.0", PUSH_COMPLEXITY),
    CommandSpec::new("lpop", -2, lpop)
        .flags(flag::WRITE | flag::FAST)
        .acl(L)
        .keys(POP_KEYS)
        .doc("list", "Remove and get the first elements in a list", "1.0.0", "O(N) where N is the number of elements returned"),
    CommandSpec::new("rpop", -2, rpop)
        .flags(flag::WRITE | flag::FAST)
        .acl(L)
        .keys(POP_KEYS)
        .doc("list", "Remove and get the last elements in a list", "1.0.0", "O(N) where N is the number of elements returned"),
    CommandSpec::new("llen", 2, llen)
        .flags(flag::READONLY | flag::FAST)
        .acl(L)
        .keys(&[KeySpec::one(1, keyflag::RO)])
        .doc("list", "Get the length of a list", "1.0.0", "O(1)"),
    CommandSpec::new("lrange", 4, lrange)
        .flags(flag::READONLY)
        .acl(L)
        .keys(READ_KEYS)
        .doc("list", "Get a range of elements from a list", "1.0.0", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range."),
    CommandSpec::new("lindex", 3, lindex)
        .flags(flag::READONLY)
        .acl(L)
        .keys(READ_KEYS)
        .doc("list", "Get an element from a list by its index", "1.0.0", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1)."),
    CommandSpec::new("lset", 4, lset)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(L)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::UPDATE)])
        .doc("list", "Set the value of an element in a list by its index", "1.0.0", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1)."),
    CommandSpec::new("linsert", 5, linsert)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(L)
        .keys(PUSH_KEYS)
        .doc("list", "Insert an element before or after another element in a list", "2.2.0", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N)."),
    CommandSpec::new("lrem", 4, lrem)
        .flags(flag::WRITE)
        .acl(L)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::DELETE)])
        .doc("list", "Remove elements from a list", "1.0.0", "O(N+M) where N is the length of the list and M is the number of elements removed."),
    CommandSpec::new("ltrim", 4, ltrim)
        .flags(flag::WRITE)
        .acl(L)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::DELETE)])
        .doc("list", "Trim a list to the specified range", "1.0.0", "O(N) where N is the number of elements to be removed by the operation."),
    CommandSpec::new("lpos", -3, lpos)
        .flags(flag::READONLY)
        .acl(L)
        .keys(READ_KEYS)
        .doc("list", "Return the index of matching elements on a list", "6.0.6", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time."),
    CommandSpec::new("lmove", 5, lmove)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(L)
        .keys(MOVE_KEYS)
        .doc("list", "Pop an element from a list, push it to another list and return it", "6.2.0", "O(1)"),
    CommandSpec::new("rpoplpush", 3, rpoplpush)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(L)
        .keys(MOVE_KEYS)
        .doc("list", "Remove the last element in a list, prepend it to another list and return it", "1.2.0", "O(1)"),
    CommandSpec::new("lmpop", -4, lmpop)
        .flags(flag::WRITE)
        .acl(L)
        .keys(&[KeySpec::keynum(1, keyflag::RW | keyflag::ACCESS | keyflag::DELETE)])
        .doc("list", "Pop elements from a list", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
];

// ---- Shared helpers ---------------------------------------------------------------------

/// The list under `key` for reading: `Ok(None)` if missing, WRONGTYPE if not a list.
fn read_list<'t>(txn: &'t mut Txn<'_>, key: &[u8]) -> Result<Option<&'t QuickList>, CmdError> {
    match txn.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// The list under `key` for writing: `Ok(None)` if missing, WRONGTYPE if not a list.
pub fn write_list<'t>(
    txn: &'t mut Txn<'_>,
    key: &[u8],
) -> Result<Option<&'t mut QuickList>, CmdError> {
    match txn.get_mut(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// The list under `key`, created empty with the configured node size and compress depth if
/// missing. A new list signals the key ready: clients block only on missing lists, so its
/// creation is the moment they can be served.
fn list_or_create<'t>(ctx: &'t mut Ctx, key: &[u8]) -> Result<&'t mut QuickList, CmdError> {
    if write_list(ctx.txn, key)?.is_none() {
        let cfg = ctx.srv.cfg();
        let list = QuickList::new(cfg.list_max_listpack_size, cfg.list_compress_depth);
        ctx.txn.add(key, Value::List(Box::new(list)));
        ctx.txn.signal_ready(key);
    }
    Ok(write_list(ctx.txn, key)?.expect("just created"))
}

/// LEFT or RIGHT.
pub fn parse_end(arg: &[u8]) -> Result<End, CmdError> {
    if is(arg, "left") {
        Ok(End::Head)
    } else if is(arg, "right") {
        Ok(End::Tail)
    } else {
        Err(SYNTAX)
    }
}

/// An integer argument that must be `>= min`; anything else (not an integer included) is the
/// error `msg`, as Redis's range checks reply.
fn int_at_least(arg: &[u8], min: i64, msg: &'static str) -> Result<i64, CmdError> {
    match rudis_resp::number::parse_i64(arg) {
        Some(v) if v >= min => Ok(v),
        _ => Err(msg.into()),
    }
}

fn reply_entry(reply: &mut rudis_resp::ReplyBuf, e: Entry<'_>) {
    match e {
        Entry::Str(s) => reply.bulk(s),
        Entry::Int(i) => reply.bulk_i64(i),
    }
}

/// Deletes `key` if its list became empty, with the `del` event. Returns true if it did.
fn delete_if_empty(txn: &mut Txn<'_>, key: &[u8]) -> bool {
    let empty = matches!(write_list(txn, key), Ok(Some(l)) if l.is_empty());
    if empty {
        txn.remove(key);
        txn.notify(event::GENERIC, "del", key);
    }
    empty
}

/// Pops up to `count` elements from `end` of the list under `key`, handing each to `emit` in
/// pop order, and records what Redis records for a pop: the `lpop`/`rpop` event, the key's
/// deletion (and `del` event) if the list empties, the modification, and one change per
/// element. Returns how many were popped: 0 if `key` holds no list (the caller checks types
/// first).
pub fn pop_from(
    txn: &mut Txn<'_>,
    key: &[u8],
    end: End,
    count: usize,
    mut emit: impl FnMut(Entry<'_>),
) -> usize {
    let Ok(Some(list)) = write_list(txn, key) else {
        return 0;
    };
    let n = count.min(list.len());
    if n == 0 {
        return 0;
    }
    let mut left = n;
    let (start, reverse) = match end {
        End::Head => (0, false),
        End::Tail => (list.len() - 1, true),
    };
    list.visit(start, reverse, |e| {
        emit(e);
        left -= 1;
        left == 0
    });
    let first = if end == End::Head { 0 } else { list.len() - n };
    list.delete_range(first, n);
    let name = if end == End::Head { "lpop" } else { "rpop" };
    txn.notify(event::LIST, name, key);
    delete_if_empty(txn, key);
    txn.signal_modified(key);
    txn.dirty(n as u64);
    n
}

/// Moves one element from `from` of the list under `src` to `to` of the list under `dst`
/// (created if missing), with Redis's effects for both keys. Returns the element, or `None`
/// if `src` is missing. Checks both types before changing anything. Propagation is the
/// caller's (LMOVE and RPOPLPUSH propagate as they are).
pub fn move_element(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<Vec<u8>>, CmdError> {
    if write_list(ctx.txn, src)?.is_none() {
        return Ok(None);
    }
    write_list(ctx.txn, dst)?;
    let list = write_list(ctx.txn, src)?.expect("checked above");
    let Some(value) = list.pop(from) else {
        // Only an empty list from an old RDB file could get here.
        return Ok(None);
    };
    // The source stays in place, even if empty, until the push: the two may be one list.
    let target = list_or_create(ctx, dst)?;
    target.push(to, &value);
    ctx.txn.signal_modified(dst);
    let pushed = if to == End::Head { "lpush" } else { "rpush" };
    ctx.txn.notify(event::LIST, pushed, dst);
    let popped = if from == End::Head { "lpop" } else { "rpop" };
    ctx.txn.notify(event::LIST, popped, src);
    delete_if_empty(ctx.txn, src);
    ctx.txn.signal_modified(src);
    ctx.txn.dirty(1);
    Ok(Some(value))
}

// ---- Pushing ----------------------------------------------------------------------------

/// Pushes `argv[2..]` to `end` of the list at `argv[1]`; with `only_existing`, only if the
/// list exists.
fn push_generic(ctx: &mut Ctx, argv: Argv, end: End, only_existing: bool) -> CmdResult {
    let key = argv.get(1);
    if only_existing && write_list(ctx.txn, key)?.is_none() {
        ctx.reply.int(0);
        return Ok(());
    }
    let list = list_or_create(ctx, key)?;
    for value in argv.iter().skip(2) {
        list.push(end, value);
    }
    let len = list.len();
    ctx.reply.int(len as i64);
    ctx.txn.dirty(argv.len() as u64 - 2);
    ctx.txn.signal_modified(key);
    let name = if end == End::Head { "lpush" } else { "rpush" };
    ctx.txn.notify(event::LIST, name, key);
    Ok(())
}

/// LPUSH key element [element ...]
fn lpush(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    push_generic(ctx, argv, End::Head, false)
}

/// RPUSH key element [element ...]
fn rpush(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    push_generic(ctx, argv, End::Tail, false)
}

/// LPUSHX key element [element ...]
fn lpushx(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    push_generic(ctx, argv, End::Head, true)
}

/// RPUSHX key element [element ...]
fn rpushx(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    push_generic(ctx, argv, End::Tail, true)
}

// ---- Popping ----------------------------------------------------------------------------

/// LPOP and RPOP: one element as a bulk string, or with a count, up to that many as an
/// array.
fn pop_generic(ctx: &mut Ctx, argv: Argv, end: End) -> CmdResult {
    if argv.len() > 3 {
        return Err(wrong_arity(&ctx.cmd.fullname));
    }
    let count = match argv.try_get(2) {
        Some(arg) => Some(int_at_least(
            arg,
            0,
            "ERR value is out of range, must be positive",
        )?),
        None => None,
    };
    let key = argv.get(1);
    if write_list(ctx.txn, key)?.is_none() {
        match count {
            Some(_) => ctx.reply.null_array(),
            None => ctx.reply.null(),
        }
        return Ok(());
    }
    let Ctx { txn, reply, .. } = ctx;
    match count {
        None => {
            if pop_from(txn, key, end, 1, |e| reply_entry(reply, e)) == 0 {
                // Only an empty list from an old RDB file could get here.
                reply.null();
            }
        }
        Some(n) => {
            let len = write_list(txn, key)?.map_or(0, |l| l.len());
            let n = (n as u64).min(len as u64) as usize;
            reply.array(n);
            pop_from(txn, key, end, n, |e| reply_entry(reply, e));
        }
    }
    Ok(())
}

/// LPOP key [count]
fn lpop(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    pop_generic(ctx, argv, End::Head)
}

/// RPOP key [count]
fn rpop(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    pop_generic(ctx, argv, End::Tail)
}

/// What LMPOP and BLMPOP parse after their key count's position.
pub struct MpopArgs {
    /// Index of the first key in argv.
    pub first_key: usize,
    pub key_count: usize,
    pub end: End,
    pub count: usize,
}

/// Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` from `numkeys_at`.
pub fn parse_mpop(argv: Argv, numkeys_at: usize) -> Result<MpopArgs, CmdError> {
    let numkeys = int_at_least(
        argv.get(numkeys_at),
        1,
        "ERR numkeys should be greater than 0",
    )?;
    let end_at = (numkeys as u64).saturating_add(numkeys_at as u64 + 1);
    if end_at >= argv.len() as u64 {
        return Err(SYNTAX);
    }
    let end_at = end_at as usize;
    let end = parse_end(argv.get(end_at))?;
    let mut count = None;
    let mut i = end_at + 1;
    while i < argv.len() {
        if count.is_none() && is(argv.get(i), "count") && i + 1 < argv.len() {
            count = Some(int_at_least(
                argv.get(i + 1),
                1,
                "ERR count should be greater than 0",
            )?);
            i += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    Ok(MpopArgs {
        first_key: numkeys_at + 1,
        key_count: numkeys as usize,
        end,
        count: count.unwrap_or(1) as usize,
    })
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn lmpop(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let args = parse_mpop(argv, 1)?;
    for k in args.first_key..args.first_key + args.key_count {
        let key = argv.get(k);
        let len = match write_list(ctx.txn, key)? {
            Some(l) if !l.is_empty() => l.len(),
            _ => continue,
        };
        let n = args.count.min(len);
        let Ctx { txn, reply, .. } = ctx;
        reply.array(2);
        reply.bulk(key);
        reply.array(n);
        pop_from(txn, key, args.end, n, |e| reply_entry(reply, e));
        // Replicas pop exactly what was popped here.
        let pop: &[u8] = if args.end == End::Head {
            b"LPOP"
        } else {
            b"RPOP"
        };
        let n = n.to_string();
        txn.propagate(&[pop, key, n.as_bytes()]);
        return Ok(());
    }
    ctx.reply.null_array();
    Ok(())
}

// ---- Moving -----------------------------------------------------------------------------

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
fn lmove(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let from = parse_end(argv.get(3))?;
    let to = parse_end(argv.get(4))?;
    move_reply(ctx, argv, from, to)
}

/// RPOPLPUSH source destination
fn rpoplpush(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    move_reply(ctx, argv, End::Tail, End::Head)
}

fn move_reply(ctx: &mut Ctx, argv: Argv, from: End, to: End) -> CmdResult {
    match move_element(ctx, argv.get(1), argv.get(2), from, to)? {
        Some(value) => ctx.reply.bulk(&value),
        None => ctx.reply.null(),
    }
    Ok(())
}

// ---- Reading ----------------------------------------------------------------------------

/// LLEN key
fn llen(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let len = read_list(ctx.txn, argv.get(1))?.map_or(0, |l| l.len());
    ctx.reply.int(len as i64);
    Ok(())
}

/// Clamps an inclusive `start..=stop` range (negative indexes count from the end) to a list
/// of `len` elements: `None` if empty.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

/// LRANGE key start stop
fn lrange(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let start = int_arg(argv.get(2))?;
    let stop = int_arg(argv.get(3))?;
    let Ctx { txn, reply, .. } = ctx;
    let Some(list) = read_list(txn, argv.get(1))? else {
        reply.array(0);
        return Ok(());
    };
    let Some((first, last)) = clamp_range(start, stop, list.len()) else {
        reply.array(0);
        return Ok(());
    };
    let mut left = last - first + 1;
    reply.array(left);
    list.visit(first, false, |e| {
        reply_entry(reply, e);
        left -= 1;
        left == 0
    });
    Ok(())
}

/// LINDEX key index
fn lindex(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let Ctx { txn, reply, .. } = ctx;
    let Some(list) = read_list(txn, argv.get(1))? else {
        reply.null();
        return Ok(());
    };
    let index = int_arg(argv.get(2))?;
    match list.resolve(index) {
        Some(i) => list.visit(i, false, |e| {
            reply_entry(reply, e);
            true
        }),
        None => reply.null(),
    }
    Ok(())
}

/// Options of LPOS.
struct LposOptions {
    rank: i64,
    /// Matches to return (0: all), if COUNT was given.
    count: Option<i64>,
    /// Elements to scan at most (0: all).
    maxlen: i64,
}

fn parse_lpos_options(argv: Argv) -> Result<LposOptions, CmdError> {
    let mut o = LposOptions {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut i = 3;
    while i < argv.len() {
        let (opt, has_value) = (argv.get(i), i + 1 < argv.len());
        if is(opt, "rank") && has_value {
            o.rank = int_arg(argv.get(i + 1))?;
            if o.rank == 0 {
                return Err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list".into());
            }
        } else if is(opt, "count") && has_value {
            o.count = Some(int_at_least(
                argv.get(i + 1),
                0,
                "ERR COUNT can't be negative",
            )?);
        } else if is(opt, "maxlen") && has_value {
            o.maxlen = int_at_least(argv.get(i + 1), 0, "ERR MAXLEN can't be negative")?;
        } else {
            return Err(SYNTAX);
        }
        i += 2;
    }
    Ok(o)
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let o = parse_lpos_options(argv)?;
    let from_tail = o.rank < 0;
    // Redis negates a negative rank in C arithmetic, where the most negative one stays
    // negative: then every match qualifies and COUNT never stops the scan. Wrapping
    // arithmetic below keeps those answers.
    let rank = o.rank.wrapping_abs();
    let scan_max = if o.maxlen == 0 {
        usize::MAX
    } else {
        o.maxlen as usize
    };
    let Ctx { txn, reply, .. } = ctx;
    let Some(list) = read_list(txn, argv.get(1))? else {
        match o.count {
            Some(_) => reply.array(0),
            None => reply.null(),
        }
        return Ok(());
    };
    let mut matches: i64 = 0;
    match o.count {
        Some(count) => {
            let deferred = reply.begin_deferred();
            let mut sent = 0;
            list.find_each(argv.get(2), from_tail, scan_max, |index| {
                matches += 1;
                if matches < rank {
                    return false;
                }
                reply.int(index as i64);
                sent += 1;
                count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count
            });
            reply.finish_array(deferred, sent);
        }
        None => {
            let mut found = None;
            list.find_each(argv.get(2), from_tail, scan_max, |index| {
                matches += 1;
                found = Some(index);
                matches >= rank
            });
            match found.filter(|_| matches >= rank) {
                Some(index) => reply.int(index as i64),
                None => reply.null(),
            }
        }
    }
    Ok(())
}

// ---- Editing ----------------------------------------------------------------------------

/// LSET key index element
fn lset(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    let list = write_list(ctx.txn, key)?.ok_or(NO_SUCH_KEY)?;
    let index = int_arg(argv.get(2))?;
    let i = list.resolve(index).ok_or(OUT_OF_RANGE)?;
    list.replace(i, argv.get(3));
    ctx.reply.ok();
    ctx.txn.signal_modified(key);
    ctx.txn.notify(event::LIST, "lset", key);
    ctx.txn.dirty(1);
    Ok(())
}

/// LINSERT key BEFORE|AFTER pivot element
fn linsert(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let after = if is(argv.get(2), "after") {
        true
    } else if is(argv.get(2), "before") {
        false
    } else {
        return Err(SYNTAX);
    };
    let key = argv.get(1);
    let Some(list) = write_list(ctx.txn, key)? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let Some(pivot) = list.position(argv.get(3)) else {
        ctx.reply.int(-1);
        return Ok(());
    };
    list.insert(pivot, after, argv.get(4));
    let len = list.len();
    ctx.txn.signal_modified(key);
    ctx.txn.notify(event::LIST, "linsert", key);
    ctx.txn.dirty(1);
    ctx.reply.int(len as i64);
    Ok(())
}

/// LREM key count element
fn lrem(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let count = int_arg(argv.get(2))?;
    let key = argv.get(1);
    let Some(list) = write_list(ctx.txn, key)? else {
        ctx.reply.int(0);
        return Ok(());
    };
    // A limit beyond the list's length removes every match; usize holds any |count|.
    let limit = count.unsigned_abs().min(usize::MAX as u64) as usize;
    let removed = list.remove_matching(argv.get(3), limit, count < 0);
    if removed > 0 {
        ctx.txn.signal_modified(key);
        ctx.txn.notify(event::LIST, "lrem", key);
        ctx.txn.dirty(removed as u64);
    }
    delete_if_empty(ctx.txn, key);
    ctx.reply.int(removed as i64);
    Ok(())
}

/// LTRIM key start stop
fn ltrim(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let start = int_arg(argv.get(2))?;
    let stop = int_arg(argv.get(3))?;
    let key = argv.get(1);
    let Some(list) = write_list(ctx.txn, key)? else {
        ctx.reply.ok();
        return Ok(());
    };
    let len = list.len();
    let (left, right) = match clamp_range(start, stop, len) {
        Some((first, last)) => (first, len - 1 - last),
        None => (len, 0),
    };
    list.delete_range(0, left);
    let kept = list.len();
    list.delete_range(kept - right.min(kept), right);
    ctx.txn.notify(event::LIST, "ltrim", key);
    delete_if_empty(ctx.txn, key);
    ctx.txn.signal_modified(key);
    ctx.txn.dirty((left + right) as u64);
    ctx.reply.ok();
    Ok(())
}

#[cfg(test)]
mod tests;
