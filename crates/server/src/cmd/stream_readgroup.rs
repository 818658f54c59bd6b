//! XREADGROUP: reading a stream through a consumer group.
//!
//! With `>` a consumer gets entries never delivered to its group: the group's last delivered
//! ID and read counter advance, and each entry enters the group's PEL (unless NOACK). With an
//! explicit ID it rereads its own pending entries after that ID, a deleted one coming back as
//! `[id, nil]`. Consumers are created on first use.
//!
//! Nothing is propagated as received. Like Redis, each new PEL entry goes to replicas and the
//! AOF as `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last`, a
//! NOACK read as `XGROUP SETID key group last ENTRIESREAD n` (and a consumer it created as
//! `XGROUP CREATECONSUMER`), several of them wrapped in MULTI/EXEC.
//!
//! A read with `>` that finds nothing may block; the waiter is served by running the command
//! again for the key that became ready (see [`crate::keyspace::blocking`]). Served so, a key
//! that is gone or holds another type answers `-UNBLOCKED`, a group that is gone `-NOGROUP`.

use rudis_resp::{Argv, ReplyBuf};

use super::stream::{block_timeout_ms, parse_id, reply_entry, stream_in, stream_mut};
use super::stream_pel::{
    propagate_all, propagate_createconsumer, propagate_setid, propagate_xclaim,
};
use super::util::{int_arg, is};
use crate::command::error::{CmdError, SYNTAX, WRONGTYPE};
use crate::command::spec::{acl, flag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::txn::event;
use crate::types::stream::{format_id, incr_id, StreamId};

const KEYS: &[KeySpec] = &[super::stream::streams_keys(4)];

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("xreadgroup", -7, xreadgroup)
    .flags(flag::WRITE | flag::BLOCKING)
    .acl(acl::STREAM)
    .keys(KEYS)
    .getkeys(xreadgroup_keys)
    .doc("stream", "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.", "5.0.0", "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.")];

/// Entries a served waiter gets at most when it gave no COUNT (Redis's default).
const BLOCKED_DEFAULT_COUNT: usize = 1000;

/// The keys: those after STREAMS, half of what follows it.
fn xreadgroup_keys(argv: Argv<'_>) -> Vec<usize> {
    let Some(at) = (1..argv.len()).find(|&i| is(argv.get(i), "streams")) else {
        return Vec::new();
    };
    let n = (argv.len() - at - 1) / 2;
    (at + 1..at + 1 + n).collect()
}

/// What the options say.
struct Request<'a> {
    group: &'a [u8],
    consumer: &'a [u8],
    count: usize,
    block_ms: Option<i64>,
    noack: bool,
    keys: Vec<&'a [u8]>,
    ids: Vec<&'a [u8]>,
}

fn parse<'a>(ctx: &Ctx, argv: &Argv<'a>) -> Result<Request<'a>, CmdError> {
    let mut group = None;
    let mut count = 0;
    let mut block_ms = None;
    let mut noack = false;
    let mut streams_at = None;
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv.get(i);
        if is(opt, "block") && more > 0 {
            if ctx.client.is_script {
                return Err(crate::err!(
                    "ERR {} command is not allowed with BLOCK option from scripts",
                    String::from_utf8_lossy(argv.get(0))
                ));
            }
            block_ms = Some(block_timeout_ms(argv.get(i + 1))?);
            i += 1;
        } else if is(opt, "count") && more > 0 {
            count = usize::try_from(int_arg(argv.get(i + 1))?.max(0)).unwrap_or(0);
            i += 1;
        } else if is(opt, "streams") && more > 0 {
            streams_at = Some(i + 1);
            break;
        } else if is(opt, "group") && more >= 2 {
            group = Some((argv.get(i + 1), argv.get(i + 2)));
            i += 2;
        } else if is(opt, "noack") {
            noack = true;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    let Some(at) = streams_at else {
        return Err(SYNTAX);
    };
    let rest = argv.len() - at;
    if rest % 2 == 1 {
        return Err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.".into());
    }
    let Some((group, consumer)) = group else {
        return Err("ERR Missing GROUP option for XREADGROUP".into());
    };
    let n = rest / 2;
    Ok(Request {
        group,
        consumer,
        count,
        block_ms,
        noack,
        keys: (0..n).map(|k| argv.get(at + k)).collect(),
        ids: (0..n).map(|k| argv.get(at + n + k)).collect(),
    })
}

/// Where a key is read from: new entries (`>`) or the consumer's history after an ID.
#[derive(Clone, Copy)]
enum From {
    New,
    History(StreamId),
}

fn no_group(key: &[u8], group: &[u8]) -> CmdError {
    crate::err!(
        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    )
}

/// Checks every key (type, group) and ID, in Redis's order.
fn resolve(ctx: &mut Ctx, req: &Request) -> Result<Vec<From>, CmdError> {
    let mut froms = Vec::with_capacity(req.keys.len());
    for (key, id) in req.keys.iter().zip(&req.ids) {
        let has_group = stream_in(ctx.txn, key)?.is_some_and(|s| s.groups.contains_key(req.group));
        if !has_group {
            return Err(no_group(key, req.group));
        }
        froms.push(match *id {
            b"$" => return Err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.".into()),
            b">" => From::New,
            other => match parse_id(other, 0, true, false)?.0 {
                StreamId::MAX => From::New,
                id => From::History(id),
            },
        });
    }
    Ok(froms)
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK ms] [NOACK] STREAMS key ... id ...
fn xreadgroup(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    ctx.txn.prevent_propagation();
    let req = parse(ctx, &argv)?;
    if let Some(ready) = ctx.client.serving.clone() {
        return serve_waiter(ctx, &argv, &req, &ready);
    }
    let froms = resolve(ctx, &req)?;
    let mut served = Vec::new();
    for (k, (&key, &from)) in req.keys.iter().zip(&froms).enumerate() {
        if has_something(ctx, key, req.group, from)? {
            served.push(k);
        }
    }
    if served.is_empty() {
        match req.block_ms {
            Some(ms) => {
                let deadline = (ms > 0).then(|| ctx.now_ms().saturating_add(ms));
                ctx.block(argv, &req.keys, deadline, ReplyBuf::null_array);
            }
            None => ctx.reply.null_array(),
        }
        return Ok(());
    }
    write_map_len(ctx.reply, served.len());
    for k in served {
        read_one(ctx, &req, req.keys[k], froms[k], req.count)?;
    }
    Ok(())
}

/// Whether a key can be served now: always for history, for `>` when an entry follows the
/// group's last delivered ID.
fn has_something(ctx: &mut Ctx, key: &[u8], group: &[u8], from: From) -> Result<bool, CmdError> {
    if let From::History(_) = from {
        return Ok(true);
    }
    let Some(s) = stream_in(ctx.txn, key)? else {
        return Ok(false);
    };
    let Some(g) = s.groups.get(group) else {
        return Ok(false);
    };
    Ok(s.last().is_some_and(|e| e.id > g.last_id))
}

fn write_map_len(reply: &mut ReplyBuf, n: usize) {
    if reply.is_resp3() {
        reply.map(n);
    } else {
        reply.array(n);
    }
}

/// Runs again for a waiter, for the key that became ready only.
fn serve_waiter(ctx: &mut Ctx, argv: &Argv, req: &Request, ready: &[u8]) -> CmdResult {
    let Some(k) = req.keys.iter().position(|key| *key == ready) else {
        ctx.block(*argv, &req.keys, None, ReplyBuf::null_array);
        return Ok(());
    };
    let key = req.keys[k];
    let has_group = match stream_in(ctx.txn, key) {
        Ok(Some(s)) => s.groups.contains_key(req.group),
        Ok(None) | Err(_) => {
            return Err("UNBLOCKED the stream key no longer exists".into());
        }
    };
    if !has_group {
        return Err(
            "NOGROUP the consumer group this client was blocked on no longer exists".into(),
        );
    }
    if !has_something(ctx, key, req.group, From::New)? {
        ctx.block(*argv, &req.keys, None, ReplyBuf::null_array);
        return Ok(());
    }
    let count = if req.count == 0 {
        BLOCKED_DEFAULT_COUNT
    } else {
        req.count
    };
    write_map_len(ctx.reply, 1);
    read_one(ctx, req, key, From::New, count)
}

/// Writes `[key, entries]` (RESP2) or `key => entries` for one key and updates the group.
fn read_one(ctx: &mut Ctx, req: &Request, key: &[u8], from: From, count: usize) -> CmdResult {
    if !ctx.reply.is_resp3() {
        ctx.reply.array(2);
    }
    ctx.reply.bulk(key);
    let now_ms = ctx.now_ms();
    let s = stream_mut(ctx.txn, key)?.ok_or(WRONGTYPE)?;
    let g = s.groups.get_mut(req.group).ok_or(WRONGTYPE)?;
    let created = g.consumer_touch(req.consumer, now_ms);
    let mut props = Vec::new();
    if created && req.noack {
        props.push(propagate_createconsumer(key, req.group, req.consumer));
    }
    match from {
        From::History(after) => history(ctx, req, key, after, count, now_ms)?,
        From::New => props.extend(deliver_new(ctx, req, key, count, now_ms)?),
    }
    if created {
        ctx.txn.notify(event::STREAM, "xgroup-createconsumer", key);
        ctx.txn.dirty(1);
    }
    ctx.txn.dirty(1);
    propagate_all(ctx, props);
    Ok(())
}

/// The consumer's own pending entries after `after`, each delivered once more.
fn history(
    ctx: &mut Ctx,
    req: &Request,
    key: &[u8],
    after: StreamId,
    count: usize,
    now_ms: i64,
) -> CmdResult {
    let s = stream_mut(ctx.txn, key)?.ok_or(WRONGTYPE)?;
    let start = incr_id(after).unwrap_or(StreamId::MAX);
    let g = s.groups.get(req.group).ok_or(WRONGTYPE)?;
    let limit = if count == 0 { usize::MAX } else { count };
    let ids: Vec<StreamId> = g.consumers[req.consumer]
        .pending
        .range(start..)
        .take(limit)
        .copied()
        .collect();
    ctx.reply.array(ids.len());
    for id in ids {
        match s.get(id) {
            Some(e) => {
                reply_entry(ctx.reply, e);
                let g = s.groups.get_mut(req.group).ok_or(WRONGTYPE)?;
                if let Some(p) = g.pel.get_mut(&id) {
                    p.delivery_time_ms = now_ms;
                    p.delivery_count += 1;
                }
            }
            None => {
                ctx.reply.array(2);
                ctx.reply.bulk(&format_id(id));
                ctx.reply.null_array();
            }
        }
    }
    Ok(())
}

/// Entries after the group's last delivered ID: the group advances, and each entry enters
/// the PEL unless NOACK. Returns the commands to propagate.
fn deliver_new(
    ctx: &mut Ctx,
    req: &Request,
    key: &[u8],
    count: usize,
    now_ms: i64,
) -> Result<Vec<Vec<Vec<u8>>>, CmdError> {
    let s = stream_mut(ctx.txn, key)?.ok_or(WRONGTYPE)?;
    let last = s.groups.get(req.group).ok_or(WRONGTYPE)?.last_id;
    let Some(start) = incr_id(last) else {
        ctx.reply.array(0);
        return Ok(Vec::new());
    };
    let limit = if count == 0 { usize::MAX } else { count };
    let ids: Vec<StreamId> = s
        .range(start, StreamId::MAX, false)
        .take(limit)
        .map(|e| e.id)
        .collect();
    let mut props = Vec::new();
    ctx.reply.array(ids.len());
    for &id in &ids {
        s.advance_group(req.group, id);
        reply_entry(ctx.reply, s.get(id).expect("listed above"));
        if !req.noack {
            let g = s.groups.get_mut(req.group).ok_or(WRONGTYPE)?;
            g.assign(id, req.consumer, now_ms, 1);
            let p = &g.pel[&id];
            props.push(propagate_xclaim(
                key,
                req.group,
                &format_id(id),
                p,
                g.last_id,
            ));
        }
    }
    if req.noack && !ids.is_empty() {
        let g = &s.groups[req.group];
        props.push(propagate_setid(key, req.group, g));
    }
    Ok(props)
}
