//! XCLAIM and XAUTOCLAIM: moving pending entries to another consumer of the group.
//!
//! Both create the claiming consumer when they claim something, drop PEL entries whose
//! stream entry was deleted, and propagate every change as the idempotent XCLAIM form of
//! [`super::stream_pel::propagate_xclaim`] (the group's last ID moved by LASTID alone as
//! XGROUP SETID), as Redis does.

use rudis_resp::Argv;

use super::stream::{parse_bound, parse_id, reply_entry, stream_in, stream_mut};
use super::stream_pel::{no_key_or_group, propagate_all, propagate_setid, propagate_xclaim};
use super::util::is;
use crate::command::error::{CmdError, SYNTAX};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::txn::event;
use crate::types::stream::{format_id, incr_id, Pending, Stream, StreamId};
use rudis_resp::number::parse_i64;

const NONDETERMINISTIC: &[&str] = &["nondeterministic_output"];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xclaim", -6, xclaim)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::STREAM)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::UPDATE)])
        .tips(NONDETERMINISTIC)
        .doc("stream", "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.", "5.0.0", "O(log N) with N being the number of messages in the PEL of the consumer group."),
    CommandSpec::new("xautoclaim", -6, xautoclaim)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::STREAM)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::DELETE)])
        .tips(NONDETERMINISTIC)
        .history(&[("7.0.0", "Added an element to the reply array, containing deleted entries the command cleared from the PEL")])
        .doc("stream", "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.", "6.2.0", "O(1) if COUNT is small."),
];

/// An integer argument with a command's own error text.
fn int_or(arg: &[u8], error: &'static str) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::from(error))
}

/// Checks that `key` holds a stream with `group`.
fn check_group(ctx: &mut Ctx, key: &[u8], group: &[u8]) -> CmdResult {
    match stream_in(ctx.txn, key)? {
        Some(s) if s.groups.contains_key(group) => Ok(()),
        _ => Err(no_key_or_group(key, group)),
    }
}

/// Makes `consumer` exist (counting and announcing its creation).
fn ensure_consumer(ctx: &mut Ctx, key: &[u8], group: &[u8], consumer: &[u8]) -> CmdResult {
    let now_ms = ctx.now_ms();
    let s = stream_mut(ctx.txn, key)?.expect("checked");
    let g = s.groups.get_mut(group).expect("checked");
    if g.consumer_touch(consumer, now_ms) {
        ctx.txn.notify(event::STREAM, "xgroup-createconsumer", key);
        ctx.txn.dirty(1);
    }
    Ok(())
}

fn write_entry_or_id(ctx: &mut Ctx, key: &[u8], id: StreamId, justid: bool) -> CmdResult {
    if justid {
        ctx.reply.bulk(&format_id(id));
        return Ok(());
    }
    let s: &Stream = stream_in(ctx.txn, key)?.expect("checked");
    reply_entry(ctx.reply, s.get(id).expect("claimed entries exist"));
    Ok(())
}

// ---- XCLAIM ----------------------------------------------------------------------------

/// XCLAIM's options.
struct ClaimOptions {
    force: bool,
    justid: bool,
    /// Delivery time to set (IDLE or TIME), `None` for now.
    time_ms: Option<i64>,
    retry_count: Option<u64>,
    last_id: StreamId,
}

fn parse_claim_options(argv: &Argv, from: usize, now_ms: i64) -> Result<ClaimOptions, CmdError> {
    let mut o = ClaimOptions {
        force: false,
        justid: false,
        time_ms: None,
        retry_count: None,
        last_id: StreamId::default(),
    };
    let mut j = from;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = argv.get(j);
        if is(opt, "force") {
            o.force = true;
        } else if is(opt, "justid") {
            o.justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            let idle = int_or(argv.get(j), "ERR Invalid IDLE option argument for XCLAIM")?;
            o.time_ms = Some(now_ms.wrapping_sub(idle));
        } else if is(opt, "time") && more > 0 {
            j += 1;
            o.time_ms = Some(int_or(
                argv.get(j),
                "ERR Invalid TIME option argument for XCLAIM",
            )?);
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            let n = int_or(
                argv.get(j),
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            )?;
            o.retry_count = u64::try_from(n).ok();
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            o.last_id = parse_id(argv.get(j), 0, true, false)?.0;
        } else {
            return Err(crate::err!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            ));
        }
        j += 1;
    }
    Ok(o)
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME ms-unix-time]
/// [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID id]
fn xclaim(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    ctx.txn.prevent_propagation();
    let (key, group, consumer) = (argv.get(1), argv.get(2), argv.get(3));
    check_group(ctx, key, group)?;
    let min_idle = int_or(argv.get(4), "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match parse_id(argv.get(j), 0, true, false) {
            Ok((id, _)) => ids.push((id, argv.get(j))),
            Err(_) => break,
        }
        j += 1;
    }
    let now_ms = ctx.now_ms();
    let o = parse_claim_options(&argv, j, now_ms)?;
    let time_ms = match o.time_ms {
        Some(t) if (0..=now_ms).contains(&t) => t,
        _ => now_ms,
    };
    let s = stream_mut(ctx.txn, key)?.expect("checked");
    let g = s.groups.get_mut(group).expect("checked");
    let mut setid = false;
    if o.last_id > g.last_id {
        g.last_id = o.last_id;
        setid = true;
    }
    let mut props = Vec::new();
    let mut claimed = Vec::new();
    let mut consumer_ready = false;
    for (id, arg) in ids {
        let s = stream_mut(ctx.txn, key)?.expect("checked");
        let exists = s.contains(id);
        let g = s.groups.get_mut(group).expect("checked");
        if !exists {
            if let Some(p) = g.remove_pending(id) {
                props.push(propagate_xclaim(key, group, arg, &p, g.last_id));
                setid = false;
                ctx.txn.dirty(1);
            }
            continue;
        }
        // A PEL entry FORCE creates starts with one delivery and no idle time check.
        let old_count = match g.pel.get(&id) {
            Some(p) if min_idle > 0 && now_ms - p.delivery_time_ms < min_idle => continue,
            Some(p) => p.delivery_count,
            None if o.force => 1,
            None => continue,
        };
        if !consumer_ready {
            ensure_consumer(ctx, key, group, consumer)?;
            consumer_ready = true;
        }
        let count = match o.retry_count {
            Some(n) => n,
            None if o.justid => old_count,
            None => old_count + 1,
        };
        let s = stream_mut(ctx.txn, key)?.expect("checked");
        let g = s.groups.get_mut(group).expect("checked");
        g.assign(id, consumer, time_ms, count);
        props.push(propagate_xclaim(key, group, arg, &g.pel[&id], g.last_id));
        setid = false;
        claimed.push(id);
        ctx.txn.dirty(1);
    }
    if setid {
        let s = stream_in(ctx.txn, key)?.expect("checked");
        props.push(propagate_setid(key, group, &s.groups[group]));
        ctx.txn.dirty(1);
    }
    ctx.reply.array(claimed.len());
    for id in claimed {
        write_entry_or_id(ctx, key, id, o.justid)?;
    }
    propagate_all(ctx, props);
    Ok(())
}

// ---- XAUTOCLAIM ------------------------------------------------------------------------

/// Attempts per entry asked for (Redis scans at most COUNT times this many PEL entries).
const ATTEMPTS_FACTOR: i64 = 10;

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
fn xautoclaim(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    ctx.txn.prevent_propagation();
    let (key, group, consumer) = (argv.get(1), argv.get(2), argv.get(3));
    let min_idle = int_or(
        argv.get(4),
        "ERR Invalid min-idle-time argument for XAUTOCLAIM",
    )?
    .max(0);
    let (mut start, start_ex) = parse_bound(argv.get(5), 0)?;
    if start_ex {
        start = incr_id(start).ok_or(CmdError::from("ERR invalid start ID for the interval"))?;
    }
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if is(argv.get(j), "count") && more > 0 {
            const MAX_COUNT: i64 = i64::MAX / 16;
            count = parse_i64(argv.get(j + 1))
                .filter(|n| (1..=MAX_COUNT).contains(n))
                .ok_or(CmdError::from("ERR COUNT must be > 0"))?;
            j += 1;
        } else if is(argv.get(j), "justid") {
            justid = true;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    check_group(ctx, key, group)?;
    let now_ms = ctx.now_ms();
    let mut attempts = count * ATTEMPTS_FACTOR;
    let mut cursor = Some(start);
    let mut props = Vec::new();
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut consumer_ready = false;
    while attempts > 0 && count > 0 {
        attempts -= 1;
        let Some(from) = cursor else { break };
        let s = stream_mut(ctx.txn, key)?.expect("checked");
        let g = s.groups.get(group).expect("checked");
        let Some((&id, p)) = g.pel.range(from..).next() else {
            cursor = None;
            break;
        };
        let p: Pending = p.clone();
        cursor = incr_id(id);
        if !s.contains(id) {
            let g = s.groups.get_mut(group).expect("checked");
            props.push(propagate_xclaim(key, group, &format_id(id), &p, g.last_id));
            g.remove_pending(id);
            deleted.push(id);
            ctx.txn.dirty(1);
            count -= 1;
            continue;
        }
        if min_idle > 0 && now_ms - p.delivery_time_ms < min_idle {
            continue;
        }
        if !consumer_ready {
            ensure_consumer(ctx, key, group, consumer)?;
            consumer_ready = true;
        }
        let delivery_count = p.delivery_count + u64::from(!justid);
        let s = stream_mut(ctx.txn, key)?.expect("checked");
        let g = s.groups.get_mut(group).expect("checked");
        g.assign(id, consumer, now_ms, delivery_count);
        props.push(propagate_xclaim(
            key,
            group,
            &format_id(id),
            &g.pel[&id],
            g.last_id,
        ));
        claimed.push(id);
        ctx.txn.dirty(1);
        count -= 1;
    }
    let next = match cursor {
        None => StreamId::default(),
        Some(from) => {
            let s = stream_in(ctx.txn, key)?.expect("checked");
            let g = &s.groups[group];
            g.pel
                .range(from..)
                .next()
                .map_or(StreamId::default(), |(id, _)| *id)
        }
    };
    ctx.reply.array(3);
    ctx.reply.bulk(&format_id(next));
    ctx.reply.array(claimed.len());
    for id in claimed {
        write_entry_or_id(ctx, key, id, justid)?;
    }
    ctx.reply.array(deleted.len());
    for id in deleted {
        ctx.reply.bulk(&format_id(id));
    }
    propagate_all(ctx, props);
    Ok(())
}
