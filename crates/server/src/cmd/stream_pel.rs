//! Pending entries lists: XACK and XPENDING, and the commands group reads and claims
//! propagate in place of themselves (XCLAIM ... FORCE JUSTID LASTID, XGROUP SETID,
//! XGROUP CREATECONSUMER), in Redis's exact forms so replicas and the AOF rebuild the same
//! PELs.

use rudis_resp::Argv;

use super::stream::{parse_bound, parse_id, stream_in, stream_mut};
use super::util::{int_arg, is};
use crate::command::error::{CmdError, SYNTAX};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::types::stream::{decr_id, format_id, incr_id, Group, Pending, StreamId};

const NONDETERMINISTIC: &[&str] = &["nondeterministic_output"];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xack", -4, xack)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::STREAM)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::UPDATE)])
        .doc("stream", "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.", "5.0.0", "O(1) for each message ID processed."),
    CommandSpec::new("xpending", -3, xpending)
        .flags(flag::READONLY)
        .acl(acl::STREAM)
        .keys(&[KeySpec::one(1, keyflag::RO | keyflag::ACCESS)])
        .tips(NONDETERMINISTIC)
        .history(&[("6.2.0", "Added the `IDLE` option and exclusive range intervals.")])
        .doc("stream", "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.", "5.0.0", "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer."),
];

/// `NOGROUP No such key 'k' or consumer group 'g'`.
pub fn no_key_or_group(key: &[u8], group: &[u8]) -> CmdError {
    crate::err!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    )
}

// ---- Propagated forms ------------------------------------------------------------------

/// `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last`: gives the
/// PEL entry `id` (as `p` says) to its consumer, idempotently.
pub fn propagate_xclaim(
    key: &[u8],
    group: &[u8],
    id: &[u8],
    p: &Pending,
    last: StreamId,
) -> Vec<Vec<u8>> {
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        p.consumer.clone(),
        b"0".to_vec(),
        id.to_vec(),
        b"TIME".to_vec(),
        p.delivery_time_ms.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        p.delivery_count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        format_id(last),
    ]
}

/// `XGROUP SETID key group last ENTRIESREAD n` (n is -1 when unknown).
pub fn propagate_setid(key: &[u8], name: &[u8], g: &Group) -> Vec<Vec<u8>> {
    let read = g.entries_read.map_or(-1, |n| n as i64);
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        name.to_vec(),
        format_id(g.last_id),
        b"ENTRIESREAD".to_vec(),
        read.to_string().into_bytes(),
    ]
}

/// `XGROUP CREATECONSUMER key group consumer`.
pub fn propagate_createconsumer(key: &[u8], group: &[u8], consumer: &[u8]) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"CREATECONSUMER".to_vec(),
        key.to_vec(),
        group.to_vec(),
        consumer.to_vec(),
    ]
}

/// Queues commands for propagation, wrapped in MULTI/EXEC when there are several.
pub fn propagate_all(ctx: &mut Ctx, cmds: Vec<Vec<Vec<u8>>>) {
    if cmds.is_empty() {
        return;
    }
    ctx.txn.effects.wrap_multi = true;
    for args in cmds {
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        ctx.txn.propagate(&refs);
    }
}

// ---- XACK ------------------------------------------------------------------------------

/// XACK key group id [id ...]
fn xack(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (key, group) = (argv.get(1), argv.get(2));
    let has_group = stream_in(ctx.txn, key)?.is_some_and(|s| s.groups.contains_key(group));
    if !has_group {
        ctx.reply.int(0);
        return Ok(());
    }
    let ids = argv
        .iter()
        .skip(3)
        .map(|a| parse_id(a, 0, true, false).map(|p| p.0))
        .collect::<Result<Vec<_>, _>>()?;
    let s = stream_mut(ctx.txn, key)?.expect("checked above");
    let g = s.groups.get_mut(group).expect("checked above");
    let acked = ids
        .iter()
        .filter(|&&id| g.remove_pending(id).is_some())
        .count();
    ctx.reply.int(acked as i64);
    ctx.txn.dirty(acked as u64);
    Ok(())
}

// ---- XPENDING --------------------------------------------------------------------------

/// The extended form's arguments.
struct Range<'a> {
    min_idle: i64,
    start: StreamId,
    end: StreamId,
    count: usize,
    consumer: Option<&'a [u8]>,
}

fn parse_range<'a>(argv: &Argv<'a>) -> Result<Range<'a>, CmdError> {
    let mut at = 3;
    let mut min_idle = 0;
    if is(argv.get(3), "idle") {
        min_idle = int_arg(argv.get(4))?;
        if argv.len() < 8 {
            return Err(SYNTAX);
        }
        at += 2;
    }
    let count = int_arg(argv.get(at + 2))?.max(0);
    let (mut start, start_ex) = parse_bound(argv.get(at), 0)?;
    if start_ex {
        start = incr_id(start).ok_or(CmdError::from("ERR invalid start ID for the interval"))?;
    }
    let (mut end, end_ex) = parse_bound(argv.get(at + 1), u64::MAX)?;
    if end_ex {
        end = decr_id(end).ok_or(CmdError::from("ERR invalid end ID for the interval"))?;
    }
    Ok(Range {
        min_idle,
        start,
        end,
        count: usize::try_from(count).unwrap_or(usize::MAX),
        consumer: (at + 3 < argv.len()).then(|| argv.get(at + 3)),
    })
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
fn xpending(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let n = argv.len();
    if n != 3 && !(6..=9).contains(&n) {
        return Err(SYNTAX);
    }
    let range = if n >= 6 {
        Some(parse_range(&argv)?)
    } else {
        None
    };
    let (key, group) = (argv.get(1), argv.get(2));
    let now_ms = ctx.now_ms();
    let Some(g) = stream_in(ctx.txn, key)?.and_then(|s| s.groups.get(group)) else {
        return Err(no_key_or_group(key, group));
    };
    let reply = &mut *ctx.reply;
    let Some(r) = range else {
        reply.array(4);
        reply.int(g.pel.len() as i64);
        let (Some(first), Some(last)) = (g.pel.keys().next(), g.pel.keys().next_back()) else {
            reply.null();
            reply.null();
            reply.null_array();
            return Ok(());
        };
        reply.bulk(&format_id(*first));
        reply.bulk(&format_id(*last));
        let owners: Vec<_> = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pending.is_empty())
            .collect();
        reply.array(owners.len());
        for (name, c) in owners {
            reply.array(2);
            reply.bulk(name);
            reply.bulk_i64(c.pending.len() as i64);
        }
        return Ok(());
    };
    if r.start > r.end {
        reply.array(0);
        return Ok(());
    }
    let span = r.start..=r.end;
    let ids: Box<dyn Iterator<Item = &StreamId>> = match r.consumer {
        None => Box::new(g.pel.range(span).map(|(id, _)| id)),
        Some(name) => match g.consumers.get(name) {
            Some(c) => Box::new(c.pending.range(span)),
            None => {
                reply.array(0);
                return Ok(());
            }
        },
    };
    let rows: Vec<(&StreamId, &Pending)> = ids
        .map(|id| (id, &g.pel[id]))
        .filter(|(_, p)| r.min_idle == 0 || now_ms - p.delivery_time_ms >= r.min_idle)
        .take(r.count)
        .collect();
    reply.array(rows.len());
    for (id, p) in rows {
        reply.array(4);
        reply.bulk(&format_id(*id));
        reply.bulk(&p.consumer);
        reply.int((now_ms - p.delivery_time_ms).max(0));
        reply.int(p.delivery_count as i64);
    }
    Ok(())
}
