//! Stream commands without consumer groups: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM,
//! XSETID, XREAD.
//!
//! The value lives in [`crate::types::stream`]. Like Redis, a stream is never removed for
//! being empty. Writes whose effect is not deterministic propagate a rewritten form: XADD
//! with an automatic ID carries the generated ID, and `~` trimming becomes `=` with the
//! length or first ID it reached.

use rudis_resp::{Argv, ReplyBuf};

use super::util::{int_arg, is};
use crate::command::error::{CmdError, SYNTAX, WRONGTYPE};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, Find, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::txn::{event, Txn};
use crate::keyspace::Value;
use crate::types::stream::{
    decr_id, format_id, incr_id, parse_u64, EntryRef, Stream, StreamId, Trim,
};

const S: u64 = acl::STREAM;
const RO: &[KeySpec] = &[KeySpec::one(1, keyflag::RO)];
const RO_ACCESS: &[KeySpec] = &[KeySpec::one(1, keyflag::RO | keyflag::ACCESS)];
const RW_DELETE: &[KeySpec] = &[KeySpec::one(1, keyflag::RW | keyflag::DELETE)];
const RW_UPDATE: &[KeySpec] = &[KeySpec::one(1, keyflag::RW | keyflag::UPDATE)];
const XADD_KEYS: &[KeySpec] = &[KeySpec::one(1, keyflag::RW | keyflag::UPDATE)
    .notes("UPDATE instead of INSERT because of the optional trimming feature")];
const XREAD_KEYS: &[KeySpec] = &[streams_keys(1)];

/// The keys of XREAD and XREADGROUP: the first half of what follows the `STREAMS` keyword,
/// searched for from argument `search_from`.
pub const fn streams_keys(search_from: i32) -> KeySpec {
    KeySpec::keyword(
        "STREAMS",
        search_from,
        Find::Range {
            last_key: -1,
            step: 1,
            limit: 2,
        },
        keyflag::RO | keyflag::ACCESS,
    )
}
const NONDETERMINISTIC: &[&str] = &["nondeterministic_output"];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xadd", -5, xadd)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(XADD_KEYS)
        .tips(NONDETERMINISTIC)
        .doc("stream", "Appends a new entry to a stream", "5.0.0", "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted."),
    CommandSpec::new("xlen", 2, xlen)
        .flags(flag::READONLY | flag::FAST)
        .acl(S)
        .keys(RO)
        .doc("stream", "Return the number of entries in a stream", "5.0.0", "O(1)"),
    CommandSpec::new("xrange", -4, xrange)
        .flags(flag::READONLY)
        .acl(S)
        .keys(RO_ACCESS)
        .doc("stream", "Return a range of elements in a stream, with IDs matching the specified IDs interval", "5.0.0", "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1)."),
    CommandSpec::new("xrevrange", -4, xrevrange)
        .flags(flag::READONLY)
        .acl(S)
        .keys(RO_ACCESS)
        .doc("stream", "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE", "5.0.0", "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1)."),
    CommandSpec::new("xdel", -3, xdel)
        .flags(flag::WRITE | flag::FAST)
        .acl(S)
        .keys(RW_DELETE)
        .doc("stream", "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.", "5.0.0", "O(1) for each single item to delete in the stream, regardless of the stream size."),
    CommandSpec::new("xtrim", -4, xtrim)
        .flags(flag::WRITE)
        .acl(S)
        .keys(RW_DELETE)
        .tips(NONDETERMINISTIC)
        .doc("stream", "Trims the stream to (approximately if '~' is passed) a certain size", "5.0.0", "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation."),
    CommandSpec::new("xsetid", -3, xsetid)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(RW_UPDATE)
        .doc("stream", "An internal command for replicating stream values", "5.0.0", "O(1)"),
    CommandSpec::new("xread", -4, xread)
        .flags(flag::BLOCKING | flag::READONLY)
        .acl(S)
        .keys(XREAD_KEYS)
        .getkeys(xread_keys)
        .doc("stream", "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.", "5.0.0", "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data."),
];

pub const INVALID_ID: CmdError = CmdError(std::borrow::Cow::Borrowed(
    "ERR Invalid stream ID specified as stream command argument",
));

// ---- IDs and access --------------------------------------------------------------------------

/// Parses `ms[-seq]`, `-` and `+` (unless `strict`); a missing sequence is `missing_seq`.
/// With `allow_auto_seq`, `ms-*` gives `(id, false)`.
pub fn parse_id(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_auto_seq: bool,
) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 127 {
        return Err(INVALID_ID);
    }
    match arg {
        b"-" | b"+" if strict => Err(INVALID_ID),
        b"-" => Ok((StreamId::default(), true)),
        b"+" => Ok((StreamId::MAX, true)),
        _ => {
            let (ms, seq) = match arg.iter().position(|&b| b == b'-') {
                None => (arg, None),
                Some(p) => (&arg[..p], Some(&arg[p + 1..])),
            };
            let ms = parse_u64(ms).ok_or(INVALID_ID)?;
            match seq {
                None => Ok((
                    StreamId {
                        ms,
                        seq: missing_seq,
                    },
                    true,
                )),
                Some(b"*") if allow_auto_seq => Ok((StreamId { ms, seq: 0 }, false)),
                Some(s) => Ok((
                    StreamId {
                        ms,
                        seq: parse_u64(s).ok_or(INVALID_ID)?,
                    },
                    true,
                )),
            }
        }
    }
}

/// The stream at `key`: `Ok(None)` if missing, WRONGTYPE if not a stream.
pub fn stream_in<'t>(txn: &'t mut Txn<'_>, key: &[u8]) -> Result<Option<&'t Stream>, CmdError> {
    match txn.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// The stream at `key` for writing.
pub fn stream_mut<'t>(
    txn: &'t mut Txn<'_>,
    key: &[u8],
) -> Result<Option<&'t mut Stream>, CmdError> {
    match txn.get_mut(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// `[id, [field, value, ...]]`.
pub fn reply_entry(reply: &mut ReplyBuf, e: EntryRef<'_>) {
    reply.array(2);
    reply.bulk(&format_id(e.id));
    reply.array(e.string_count());
    for s in e.strings() {
        reply.bulk(s);
    }
}

// ---- Trimming arguments ----------------------------------------------------------------------

/// What XADD and XTRIM options say.
#[derive(Default)]
struct AddTrimArgs {
    trim: Option<Trim>,
    approx: bool,
    /// Index of the MAXLEN/MINID value, for rewriting.
    trim_arg_index: usize,
    limit: Option<i64>,
    no_mkstream: bool,
    /// XADD: index of the ID argument, the ID and whether its sequence was given.
    id_index: usize,
    id: Option<(StreamId, bool)>,
}

const MAXLEN_MINID: &str =
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";

fn parse_add_trim(argv: &Argv, xadd: bool, obey: bool) -> Result<AddTrimArgs, CmdError> {
    let mut a = AddTrimArgs::default();
    let mut i = 2;
    while i < argv.len() {
        let opt = argv.get(i);
        let more = argv.len() - 1 - i;
        if xadd && opt == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if a.trim.is_some() {
                return Err(MAXLEN_MINID.into());
            }
            let next = argv.get(i + 1);
            a.approx = false;
            if more >= 2 && (next == b"~" || next == b"=") {
                a.approx = next == b"~";
                i += 1;
            }
            let value = argv.get(i + 1);
            a.trim = Some(if is(opt, "maxlen") {
                let n = int_arg(value)?;
                if n < 0 {
                    return Err("ERR The MAXLEN argument must be >= 0.".into());
                }
                Trim::MaxLen(usize::try_from(n).unwrap_or(usize::MAX))
            } else {
                Trim::MinId(parse_id(value, 0, true, false)?.0)
            });
            i += 1;
            a.trim_arg_index = i;
        } else if is(opt, "limit") && more > 0 {
            let n = int_arg(argv.get(i + 1))?;
            if n < 0 {
                return Err("ERR The LIMIT argument must be >= 0.".into());
            }
            a.limit = Some(n);
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            a.no_mkstream = true;
        } else if xadd {
            a.id = Some(parse_id(opt, 0, true, true)?);
            break;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    a.id_index = i;
    check_add_trim(&a, xadd, obey)?;
    if obey {
        // The master and the AOF send the rewritten form (`=` and the reached threshold,
        // LIMIT kept): it trims without a limit, as Redis applies it.
        a.limit = Some(0);
    }
    Ok(a)
}

fn check_add_trim(a: &AddTrimArgs, xadd: bool, obey: bool) -> Result<(), CmdError> {
    if a.limit.is_some_and(|l| l > 0) && a.trim.is_none() {
        return Err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy".into(),
        );
    }
    if !xadd && a.trim.is_none() {
        return Err("ERR syntax error, XTRIM must be called with a trimming strategy".into());
    }
    if a.limit.is_some() && !a.approx && !obey {
        return Err("ERR syntax error, LIMIT cannot be used without the special ~ option".into());
    }
    Ok(())
}

/// Commands from the master or the AOF apply what the origin computed.
fn must_obey(ctx: &Ctx) -> bool {
    ctx.client.is_master || ctx.txn.loading
}

/// Trims as the arguments say; returns the number of entries removed. Approximate trimming
/// does at most LIMIT entries of work, by default 100 nodes' worth (Redis's bounds).
fn apply_trim(node_entries: i64, s: &mut Stream, a: &AddTrimArgs) -> usize {
    let Some(strategy) = a.trim else { return 0 };
    if !a.approx {
        return s.trim(strategy, false, 0);
    }
    let limit = match a.limit {
        Some(l) => l,
        None => match node_entries.saturating_mul(100) {
            ..=0 => 10_000,
            l => l.min(1_000_000),
        },
    };
    s.trim(strategy, true, usize::try_from(limit).unwrap_or(usize::MAX))
}

/// The arguments with `~` trimming rewritten as `=` at what it reached.
fn rewrite_trim(argv: &Argv, a: &AddTrimArgs, s: &Stream) -> Vec<Vec<u8>> {
    let mut args: Vec<Vec<u8>> = argv.iter().map(<[u8]>::to_vec).collect();
    if a.approx {
        args[a.trim_arg_index - 1] = b"=".to_vec();
        args[a.trim_arg_index] = match a.trim {
            Some(Trim::MaxLen(_)) => s.len().to_string().into_bytes(),
            _ => format_id(s.first_id()),
        };
    }
    args
}

fn propagate_args(txn: &mut Txn<'_>, args: &[Vec<u8>]) {
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    txn.propagate(&refs);
}

// ---- Writes ----------------------------------------------------------------------------------

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
fn xadd(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    let a = parse_add_trim(&argv, true, must_obey(ctx))?;
    let fields_at = a.id_index + 1;
    let n = argv.len().saturating_sub(fields_at);
    if n < 2 || n % 2 == 1 {
        return Err(crate::command::error::wrong_arity(&ctx.cmd.fullname));
    }
    if let Some((id, true)) = a.id {
        if id == StreamId::default() {
            return Err("ERR The ID specified in XADD must be greater than 0-0".into());
        }
    }
    if stream_in(ctx.txn, key)?.is_none() {
        if a.no_mkstream {
            ctx.reply.null();
            return Ok(());
        }
        ctx.txn.add(key, Value::Stream(Box::default()));
    }
    let now_ms = ctx.now_ms().max(0) as u64;
    let node_entries = ctx.srv.cfg().stream_node_max_entries;
    let s = stream_mut(ctx.txn, key)?.expect("present");
    if s.last_id == StreamId::MAX {
        return Err(
            "ERR The stream has exhausted the last possible ID, unable to add more items".into(),
        );
    }
    let id = s
        .next_id(a.id.map(|(id, _)| id), a.id.is_none_or(|(_, g)| g), now_ms)
        .map_err(|_| {
            CmdError::from(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            )
        })?;
    let pairs: Vec<(&[u8], &[u8])> = (fields_at..argv.len())
        .step_by(2)
        .map(|i| (argv.get(i), argv.get(i + 1)))
        .collect();
    s.append_in_nodes(id, &pairs, usize::try_from(node_entries).unwrap_or(0));
    let trimmed = apply_trim(node_entries, s, &a);
    let mut args = rewrite_trim(&argv, &a, s);
    ctx.reply.bulk(&format_id(id));
    if a.id.is_none_or(|(_, seq_given)| !seq_given) {
        args[a.id_index] = format_id(id);
    }
    propagate_args(ctx.txn, &args);
    ctx.txn.signal_modified(key);
    ctx.txn.notify(event::STREAM, "xadd", key);
    if trimmed > 0 {
        ctx.txn.notify(event::STREAM, "xtrim", key);
    }
    ctx.txn.dirty(1);
    ctx.txn.signal_ready(key);
    Ok(())
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
fn xtrim(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    let a = parse_add_trim(&argv, false, must_obey(ctx))?;
    if stream_in(ctx.txn, key)?.is_none() {
        ctx.reply.int(0);
        return Ok(());
    }
    let node_entries = ctx.srv.cfg().stream_node_max_entries;
    let s = stream_mut(ctx.txn, key)?.expect("present");
    let removed = apply_trim(node_entries, s, &a);
    let args = rewrite_trim(&argv, &a, s);
    ctx.reply.int(removed as i64);
    if removed > 0 {
        propagate_args(ctx.txn, &args);
        ctx.txn.signal_modified(key);
        ctx.txn.notify(event::STREAM, "xtrim", key);
        ctx.txn.dirty(removed as u64);
    } else {
        ctx.txn.prevent_propagation();
    }
    Ok(())
}

/// XDEL key id [id ...]
fn xdel(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    let ids = argv
        .iter()
        .skip(2)
        .map(|a| parse_id(a, 0, true, false).map(|p| p.0))
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = match stream_mut(ctx.txn, key)? {
        None => 0,
        Some(s) => ids.iter().filter(|&&id| s.delete(id)).count(),
    };
    ctx.reply.int(deleted as i64);
    if deleted > 0 {
        ctx.txn.signal_modified(key);
        ctx.txn.notify(event::STREAM, "xdel", key);
        ctx.txn.dirty(deleted as u64);
    }
    Ok(())
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
fn xsetid(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    let (id, _) = parse_id(argv.get(2), 0, true, false)?;
    let mut added = None;
    let mut max_deleted = None;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if is(argv.get(i), "entriesadded") && more > 0 {
            let n = int_arg(argv.get(i + 1))?;
            if n < 0 {
                return Err("ERR entries_added must be positive".into());
            }
            added = Some(n as u64);
        } else if is(argv.get(i), "maxdeletedid") && more > 0 {
            let (m, _) = parse_id(argv.get(i + 1), 0, true, false)?;
            if id < m {
                return Err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id".into());
            }
            max_deleted = Some(m);
        } else {
            return Err(SYNTAX);
        }
        i += 2;
    }
    let Some(s) = stream_mut(ctx.txn, key)? else {
        return Err(crate::command::error::NO_SUCH_KEY);
    };
    if s.last().is_some_and(|top| id < top.id) {
        return Err(
            "ERR The ID specified in XSETID is smaller than the target stream top item".into(),
        );
    }
    if !s.is_empty() && added.is_some_and(|n| n < s.len() as u64) {
        return Err(
            "ERR The entries_added specified in XSETID is smaller than the target stream length"
                .into(),
        );
    }
    s.last_id = id;
    if let Some(n) = added {
        s.entries_added = n;
    }
    if let Some(m) = max_deleted {
        s.max_deleted_id = m;
    }
    ctx.reply.ok();
    ctx.txn.signal_modified(key);
    ctx.txn.notify(event::STREAM, "xsetid", key);
    ctx.txn.dirty(1);
    Ok(())
}

// ---- Reads -----------------------------------------------------------------------------------

/// XLEN key
fn xlen(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let n = stream_in(ctx.txn, argv.get(1))?.map_or(0, Stream::len);
    ctx.reply.int(n as i64);
    Ok(())
}

/// XRANGE key start end [COUNT count]
fn xrange(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    range_generic(ctx, argv, false)
}

/// XREVRANGE key end start [COUNT count]
fn xrevrange(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    range_generic(ctx, argv, true)
}

/// An interval bound: `(id` is exclusive.
pub fn parse_bound(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_id(&arg[1..], missing_seq, true, false)?.0, true))
    } else {
        Ok((parse_id(arg, missing_seq, false, false)?.0, false))
    }
}

fn range_generic(ctx: &mut Ctx, argv: Argv, rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev { (3, 2) } else { (2, 3) };
    let (mut start, start_ex) = parse_bound(argv.get(start_arg), 0)?;
    if start_ex {
        start = incr_id(start).ok_or(CmdError::from("ERR invalid start ID for the interval"))?;
    }
    let (mut end, end_ex) = parse_bound(argv.get(end_arg), u64::MAX)?;
    if end_ex {
        end = decr_id(end).ok_or(CmdError::from("ERR invalid end ID for the interval"))?;
    }
    let mut count: i64 = -1;
    let mut i = 4;
    while i < argv.len() {
        if is(argv.get(i), "count") && i + 1 < argv.len() {
            count = int_arg(argv.get(i + 1))?.max(0);
            i += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    let Some(s) = stream_in(ctx.txn, argv.get(1))? else {
        ctx.reply.array(0);
        return Ok(());
    };
    if count == 0 {
        ctx.reply.null_array();
        return Ok(());
    }
    let limit = if count < 0 {
        usize::MAX
    } else {
        count as usize
    };
    let entries: Vec<EntryRef<'_>> = s.range(start, end, rev).take(limit).collect();
    ctx.reply.array(entries.len());
    for e in entries {
        reply_entry(ctx.reply, e);
    }
    Ok(())
}

/// XREAD keys: those after STREAMS, half of what follows it.
fn xread_keys(argv: Argv<'_>) -> Vec<usize> {
    let Some(at) = streams_index(&argv) else {
        return Vec::new();
    };
    let n = (argv.len() - at - 1) / 2;
    (at + 1..at + 1 + n).collect()
}

fn streams_index(argv: &Argv) -> Option<usize> {
    (1..argv.len()).find(|&i| is(argv.get(i), "streams"))
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
fn xread(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let mut count: usize = 0;
    let mut block_ms: Option<i64> = None;
    let mut i = 1;
    let streams_at = loop {
        if i >= argv.len() {
            return Err(SYNTAX);
        }
        let more = argv.len() - 1 - i;
        let opt = argv.get(i);
        if is(opt, "block") && more > 0 {
            block_ms = Some(block_timeout_ms(argv.get(i + 1))?);
            i += 2;
        } else if is(opt, "count") && more > 0 {
            count = usize::try_from(int_arg(argv.get(i + 1))?.max(0)).unwrap_or(0);
            i += 2;
        } else if is(opt, "streams") && more > 0 {
            break i;
        } else if is(opt, "group") || is(opt, "noack") {
            return Err(if is(opt, "group") {
                "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."
            } else {
                "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."
            }
            .into());
        } else {
            return Err(SYNTAX);
        }
    };
    let rest = argv.len() - streams_at - 1;
    if rest % 2 == 1 {
        return Err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.".into());
    }
    let n = rest / 2;
    let keys: Vec<&[u8]> = (0..n).map(|k| argv.get(streams_at + 1 + k)).collect();
    let mut after = Vec::with_capacity(n);
    for (k, key) in keys.iter().enumerate() {
        let arg = argv.get(streams_at + 1 + n + k);
        if ctx.client.serving.is_none() {
            // Redis checks each key's type before its ID.
            stream_in(ctx.txn, key)?;
        }
        if arg == b">" {
            return Err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.".into());
        }
        let id = if arg == b"$" {
            stream_in(ctx.txn, key)?.map_or(StreamId::default(), |s| s.last_id)
        } else {
            parse_id(arg, 0, true, false)?.0
        };
        after.push(id);
    }
    // Run again for a waiter, a key that now holds another type keeps it waiting (Redis
    // serves blocked stream readers only from streams).
    let serving = ctx.client.serving.is_some();
    let found = match xread_reply_len(ctx, &keys, &after) {
        Err(e) if serving && e == WRONGTYPE => 0,
        other => other?,
    };
    if found == 0 {
        match block_ms {
            Some(ms) => {
                let deadline = (ms > 0).then(|| ctx.now_ms().saturating_add(ms));
                // The waiter runs the command again later: `$` must mean the ID seen now.
                let (base, ranges) = resolved_argv(&argv, streams_at + 1 + n, &after);
                let resolved = Argv::new(&base, &ranges);
                ctx.block(resolved, &keys, deadline, ReplyBuf::null_array);
            }
            _ => ctx.reply.null_array(),
        }
        return Ok(());
    }
    write_xread(ctx, &keys, &after, count)
}

/// The arguments back to back with the IDs from `ids_at` on replaced by `ids`.
fn resolved_argv(
    argv: &Argv,
    ids_at: usize,
    ids: &[StreamId],
) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
    let mut base = Vec::new();
    let mut ranges = Vec::with_capacity(argv.len());
    for i in 0..argv.len() {
        let start = base.len();
        match i.checked_sub(ids_at).and_then(|k| ids.get(k)) {
            Some(id) => base.extend_from_slice(&format_id(*id)),
            None => base.extend_from_slice(argv.get(i)),
        }
        ranges.push(start..base.len());
    }
    (base, ranges)
}

/// How many of `keys` have entries after their ID.
fn xread_reply_len(ctx: &mut Ctx, keys: &[&[u8]], after: &[StreamId]) -> Result<usize, CmdError> {
    let mut found = 0;
    for (key, &id) in keys.iter().zip(after) {
        if let Some(s) = stream_in(ctx.txn, key)? {
            if !s.is_empty() && s.last_id > id && s.last().is_some_and(|e| e.id > id) {
                found += 1;
            }
        }
    }
    Ok(found)
}

/// An entry copied out of its stream: ID text and strings.
type OwnedEntry = (Vec<u8>, Vec<Vec<u8>>);

fn write_xread(ctx: &mut Ctx, keys: &[&[u8]], after: &[StreamId], count: usize) -> CmdResult {
    let mut groups: Vec<(&[u8], Vec<OwnedEntry>)> = Vec::new();
    for (key, &id) in keys.iter().zip(after) {
        let Some(s) = stream_in(ctx.txn, key)? else {
            continue;
        };
        let Some(start) = incr_id(id) else { continue };
        let limit = if count == 0 { usize::MAX } else { count };
        let entries: Vec<OwnedEntry> = s
            .range(start, StreamId::MAX, false)
            .take(limit)
            .map(|e| (format_id(e.id), e.strings().map(<[u8]>::to_vec).collect()))
            .collect();
        if !entries.is_empty() {
            groups.push((key, entries));
        }
    }
    if ctx.reply.is_resp3() {
        ctx.reply.map(groups.len());
    } else {
        ctx.reply.array(groups.len());
    }
    for (key, entries) in groups {
        if !ctx.reply.is_resp3() {
            ctx.reply.array(2);
        }
        ctx.reply.bulk(key);
        ctx.reply.array(entries.len());
        for (id, strings) in entries {
            ctx.reply.array(2);
            ctx.reply.bulk(&id);
            ctx.reply.array(strings.len());
            for s in &strings {
                ctx.reply.bulk(s);
            }
        }
    }
    Ok(())
}

/// The BLOCK argument of XREAD and XREADGROUP, in milliseconds.
pub(super) fn block_timeout_ms(arg: &[u8]) -> Result<i64, CmdError> {
    let ms = int_arg(arg)
        .map_err(|_| CmdError::from("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err("ERR timeout is negative".into());
    }
    Ok(ms)
}
