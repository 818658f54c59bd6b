//! Set commands. The set type and its algorithms live in [`crate::types::set`]; this module
//! parses arguments, looks keys up, replies, and records Redis's effects.
//!
//! Shared logic has one home: [`read_sets`] looks up the keys of every multi-key command;
//! [`store_result`] finishes SINTERSTORE, SUNIONSTORE and SDIFFSTORE.
//!
//! Propagation, deterministic as replicas and the AOF need it: SPOP goes out as SREM of the
//! members it popped (or as DEL when it took the whole set), a *STORE whose result is empty
//! and deleted the destination as DEL. Everything else goes out as received.
//!
//! One deliberate difference from Redis, the same as HRANDFIELD's: SRANDMEMBER with a negative
//! count repeats members, so its reply is as long as the client asks, and Redis writes it
//! whatever its size (with default limits, until memory runs out). Rudis refuses a reply that
//! would exceed `proto-max-bulk-len` bytes with
//! `ERR SRANDMEMBER reply would exceed proto-max-bulk-len`, taking back what it had written.

use rudis_resp::{Argv, ReplyBuf};

use super::scan;
use super::util::{int_arg, is};
use crate::command::error::{CmdError, SYNTAX, WRONGTYPE};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::bytes::CompactBytes;
use crate::keyspace::txn::{event, Txn};
use crate::keyspace::Value;
use crate::types::set::ops::{difference, intersect, intersection, union};
use crate::types::set::random::{distinct, pop_many, pop_one};
use crate::types::set::{intset_limit, Set};

const S: u64 = acl::SET;
const RO: &[KeySpec] = &[KeySpec::one(1, keyflag::RO)];
const RO_ACCESS: &[KeySpec] = &[KeySpec::one(1, keyflag::RO | keyflag::ACCESS)];
const RO_ACCESS_ALL: &[KeySpec] = &[KeySpec::range(1, -1, 1, keyflag::RO | keyflag::ACCESS)];
const RW_ACCESS_DELETE: u32 = keyflag::RW | keyflag::ACCESS | keyflag::DELETE;
const OW_STORE: &[KeySpec] = &[
    KeySpec::one(1, keyflag::OW | keyflag::UPDATE),
    KeySpec::range(2, -1, 1, keyflag::RO | keyflag::ACCESS),
];
const ORDER_TIP: &[&str] = &["nondeterministic_output_order"];
const OUTPUT_TIP: &[&str] = &["nondeterministic_output"];
const INTER_COMPLEXITY: &str =
    "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.";
const UNION_COMPLEXITY: &str = "O(N) where N is the total number of elements in all given sets.";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, sadd)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::INSERT)])
        .doc("set", "Add one or more members to a set", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    CommandSpec::new("srem", -3, srem)
        .flags(flag::WRITE | flag::FAST)
        .acl(S)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::DELETE)])
        .doc("set", "Remove one or more members from a set", "1.0.0", "O(N) where N is the number of members to be removed."),
    CommandSpec::new("smembers", 2, sinter)
        .flags(flag::READONLY)
        .acl(S)
        .keys(RO_ACCESS)
        .tips(ORDER_TIP)
        .doc("set", "Get all the members in a set", "1.0.0", "O(N) where N is the set cardinality."),
    CommandSpec::new("sismember", 3, sismember)
        .flags(flag::READONLY | flag::FAST)
        .acl(S)
        .keys(RO)
        .doc("set", "Determine if a given value is a member of a set", "1.0.0", "O(1)"),
    CommandSpec::new("smismember", -3, smismember)
        .flags(flag::READONLY | flag::FAST)
        .acl(S)
        .keys(RO_ACCESS)
        .doc("set", "Returns the membership associated with the given elements for a set", "6.2.0", "O(N) where N is the number of elements being checked for membership"),
    CommandSpec::new("scard", 2, scard)
        .flags(flag::READONLY | flag::FAST)
        .acl(S)
        .keys(RO)
        .doc("set", "Get the number of members in a set", "1.0.0", "O(1)"),
    CommandSpec::new("spop", -2, spop)
        .flags(flag::WRITE | flag::FAST)
        .acl(S)
        .keys(&[KeySpec::one(1, RW_ACCESS_DELETE)])
        .tips(OUTPUT_TIP)
        .doc("set", "Remove and return one or multiple random members from a set", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count."),
    CommandSpec::new("srandmember", -2, srandmember)
        .flags(flag::READONLY)
        .acl(S)
        .keys(RO_ACCESS)
        .tips(OUTPUT_TIP)
        .doc("set", "Get one or multiple random members from a set", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count."),
    CommandSpec::new("smove", 4, smove)
        .flags(flag::WRITE | flag::FAST)
        .acl(S)
        .keys(&[
            KeySpec::one(1, RW_ACCESS_DELETE),
            KeySpec::one(2, keyflag::RW | keyflag::INSERT),
        ])
        .doc("set", "Move a member from one set to another", "1.0.0", "O(1)"),
    CommandSpec::new("sinter", -2, sinter)
        .flags(flag::READONLY)
        .acl(S)
        .keys(RO_ACCESS_ALL)
        .tips(ORDER_TIP)
        .doc("set", "Intersect multiple sets", "1.0.0", INTER_COMPLEXITY),
    CommandSpec::new("sintercard", -3, sintercard)
        .flags(flag::READONLY)
        .acl(S)
        .keys(&[KeySpec::keynum(1, keyflag::RO | keyflag::ACCESS)])
        .doc("set", "Intersect multiple sets and return the cardinality of the result", "7.0.0", INTER_COMPLEXITY),
    CommandSpec::new("sinterstore", -3, sinterstore)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(S)
        .keys(&[
            KeySpec::one(1, keyflag::RW | keyflag::UPDATE),
            KeySpec::range(2, -1, 1, keyflag::RO | keyflag::ACCESS),
        ])
        .doc("set", "Intersect multiple sets and store the resulting set in a key", "1.0.0", INTER_COMPLEXITY),
    CommandSpec::new("sunion", -2, sunion)
        .flags(flag::READONLY)
        .acl(S)
        .keys(RO_ACCESS_ALL)
        .tips(ORDER_TIP)
        .doc("set", "Add multiple sets", "1.0.0", UNION_COMPLEXITY),
    CommandSpec::new("sunionstore", -3, sunionstore)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(S)
        .keys(OW_STORE)
        .doc("set", "Add multiple sets and store the resulting set in a key", "1.0.0", UNION_COMPLEXITY),
    CommandSpec::new("sdiff", -2, sdiff)
        .flags(flag::READONLY)
        .acl(S)
        .keys(RO_ACCESS_ALL)
        .tips(ORDER_TIP)
        .doc("set", "Subtract multiple sets", "1.0.0", UNION_COMPLEXITY),
    CommandSpec::new("sdiffstore", -3, sdiffstore)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(S)
        .keys(OW_STORE)
        .doc("set", "Subtract multiple sets and store the resulting set in a key", "1.0.0", UNION_COMPLEXITY),
    CommandSpec::new("sscan", -3, sscan)
        .flags(flag::READONLY)
        .acl(S)
        .keys(RO_ACCESS)
        .tips(OUTPUT_TIP)
        .doc("set", "Incrementally iterate Set elements", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
];

/// Smallest possible reply bytes per SRANDMEMBER pick: an empty member, `$0\r\n\r\n`.
const PICK_BYTES_MIN: u64 = 6;

/// Popped members per propagated SREM: few commands in the replication stream and AOF,
/// none of them huge.
const SREM_BATCH: usize = 1024;

// ---- Lookups -------------------------------------------------------------------------------

/// The set under `key` for reading: `Ok(None)` if missing, WRONGTYPE if not a set.
fn read_set<'t>(txn: &'t mut Txn<'_>, key: &[u8]) -> Result<Option<&'t Set>, CmdError> {
    match txn.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Set(s) => Ok(Some(s)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// The set under `key` for writing: `Ok(None)` if missing, WRONGTYPE if not a set.
fn write_set<'t>(txn: &'t mut Txn<'_>, key: &[u8]) -> Result<Option<&'t mut Set>, CmdError> {
    match txn.get_mut(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Set(s) => Ok(Some(s)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// Looks every key up for reading, in order (lazy expiry, hit counting, the first wrong type
/// fails the command), then hands out all the sets at once; `None` for a missing key. The same
/// key given twice yields the same reference, which the set algebra relies on.
fn read_sets<'t>(txn: &'t mut Txn<'_>, keys: &[&[u8]]) -> Result<Vec<Option<&'t Set>>, CmdError> {
    let mut present = Vec::with_capacity(keys.len());
    for key in keys {
        present.push(read_set(txn, key)?.is_some());
    }
    let txn: &'t Txn<'_> = txn;
    let sets = keys.iter().zip(present).map(|(key, found)| {
        if !found {
            return None;
        }
        match &txn
            .held_entry(key)
            .expect("a key just found stays held")
            .value
        {
            Value::Set(s) => Some(s),
            _ => unreachable!("type checked above"),
        }
    });
    Ok(sets.collect())
}

/// The intset size limit in force.
fn intset_max(ctx: &Ctx) -> usize {
    intset_limit(ctx.srv.cfg().set_max_intset_entries)
}

/// The command that deletes a key in the propagated stream.
fn del_command(ctx: &Ctx) -> &'static [u8] {
    if ctx.srv.cfg().lazyfree_lazy_server_del {
        b"UNLINK"
    } else {
        b"DEL"
    }
}

// ---- Single-key commands -------------------------------------------------------------------

/// SADD key member [member ...]
fn sadd(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    let intset_max = intset_max(ctx);
    let members = argv.iter().skip(2);
    let added = match write_set(ctx.txn, key)? {
        Some(set) => members.filter(|m| set.add(m, intset_max)).count(),
        None => {
            let mut set = Set::for_member(argv.get(2));
            let added = members.filter(|m| set.add(m, intset_max)).count();
            ctx.txn.add(key, Value::Set(set));
            added
        }
    };
    if added > 0 {
        ctx.txn.signal_modified(key);
        ctx.txn.notify(event::SET, "sadd", key);
    }
    ctx.txn.dirty(added as u64);
    ctx.reply.int(added as i64);
    Ok(())
}

/// SREM key member [member ...]
fn srem(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    let Some(set) = write_set(ctx.txn, key)? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let mut removed = 0;
    for member in argv.iter().skip(2) {
        if set.remove(member) {
            removed += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    let emptied = set.is_empty();
    if emptied {
        ctx.txn.remove(key);
    }
    if removed > 0 {
        ctx.txn.signal_modified(key);
        ctx.txn.notify(event::SET, "srem", key);
        if emptied {
            ctx.txn.notify(event::GENERIC, "del", key);
        }
        ctx.txn.dirty(removed);
    }
    ctx.reply.int(removed as i64);
    Ok(())
}

/// SISMEMBER key member
fn sismember(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let found = read_set(ctx.txn, argv.get(1))?.is_some_and(|s| s.contains(argv.get(2)));
    ctx.reply.int(i64::from(found));
    Ok(())
}

/// SMISMEMBER key member [member ...]
fn smismember(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let set = read_set(ctx.txn, argv.get(1))?;
    ctx.reply.array(argv.len() - 2);
    for member in argv.iter().skip(2) {
        let found = set.is_some_and(|s| s.contains(member));
        ctx.reply.int(i64::from(found));
    }
    Ok(())
}

/// SCARD key
fn scard(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let len = read_set(ctx.txn, argv.get(1))?.map_or(0, Set::len);
    ctx.reply.int(len as i64);
    Ok(())
}

/// SMOVE source destination member
fn smove(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (src, dst, member) = (argv.get(1), argv.get(2), argv.get(3));
    // Both keys are looked up (and expired) before anything is decided, as in Redis.
    let src_found = write_set(ctx.txn, src).map(|s| s.is_some());
    let dst_found = write_set(ctx.txn, dst).map(|s| s.is_some());
    if src_found == Ok(false) {
        ctx.reply.int(0);
        return Ok(());
    }
    let dst_found = src_found.and(dst_found)?;
    let src_set = write_set(ctx.txn, src)?.expect("found above");
    if src == dst {
        let found = src_set.contains(member);
        ctx.reply.int(i64::from(found));
        return Ok(());
    }
    if !src_set.remove(member) {
        ctx.reply.int(0);
        return Ok(());
    }
    let src_emptied = src_set.is_empty();
    ctx.txn.notify(event::SET, "srem", src);
    if src_emptied {
        ctx.txn.remove(src);
        ctx.txn.notify(event::GENERIC, "del", src);
    }
    let intset_max = intset_max(ctx);
    let added = if dst_found {
        write_set(ctx.txn, dst)?
            .expect("found above")
            .add(member, intset_max)
    } else {
        let mut set = Set::for_member(member);
        set.add(member, intset_max);
        ctx.txn.add(dst, Value::Set(set));
        true
    };
    ctx.txn.signal_modified(src);
    ctx.txn.dirty(1);
    if added {
        ctx.txn.dirty(1);
        ctx.txn.signal_modified(dst);
        ctx.txn.notify(event::SET, "sadd", dst);
    }
    ctx.reply.int(1);
    Ok(())
}

// ---- SPOP and SRANDMEMBER ------------------------------------------------------------------

/// SPOP key [count]
fn spop(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    match argv.len() {
        2 => spop_one(ctx, argv.get(1)),
        3 => spop_count(ctx, argv.get(1), argv.get(2)),
        _ => Err(SYNTAX),
    }
}

fn spop_one(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    let mut rng = fastrand::Rng::new();
    let Some(set) = write_set(ctx.txn, key)? else {
        ctx.reply.null();
        return Ok(());
    };
    let member = pop_one(set, &mut rng).expect("stored sets are not empty");
    let emptied = set.is_empty();
    ctx.txn.notify(event::SET, "spop", key);
    ctx.txn.propagate(&[b"SREM", key, member.as_slice()]);
    ctx.reply.bulk(member.as_slice());
    if emptied {
        ctx.txn.remove(key);
        ctx.txn.notify(event::GENERIC, "del", key);
    }
    ctx.txn.signal_modified(key);
    ctx.txn.dirty(1);
    Ok(())
}

fn spop_count(ctx: &mut Ctx, key: &[u8], count_arg: &[u8]) -> CmdResult {
    let count = match rudis_resp::number::parse_i64(count_arg) {
        Some(n) if n >= 0 => n as u64,
        _ => return Err("ERR value is out of range, must be positive".into()),
    };
    let intset_max = intset_max(ctx);
    let del = del_command(ctx);
    let (txn, reply) = (&mut *ctx.txn, &mut *ctx.reply);
    let Some(set) = write_set(txn, key)? else {
        reply.set(0);
        return Ok(());
    };
    if count == 0 {
        reply.set(0);
        return Ok(());
    }
    let size = set.len();
    if count >= size as u64 {
        // Everything: reply as a new set made of it would iterate, then delete the key.
        reply_rebuilt(reply, set, intset_max);
        txn.notify(event::SET, "spop", key);
        txn.dirty(size as u64);
        txn.remove(key);
        txn.notify(event::GENERIC, "del", key);
        txn.propagate(&[del, key]);
        txn.signal_modified(key);
        return Ok(());
    }
    let popped = pop_many(set, count as usize, intset_max, &mut fastrand::Rng::new());
    reply.set(popped.len());
    for member in &popped {
        reply.bulk(member.as_slice());
    }
    txn.notify(event::SET, "spop", key);
    txn.dirty(popped.len() as u64);
    for batch in popped.chunks(SREM_BATCH) {
        let mut args: Vec<&[u8]> = Vec::with_capacity(batch.len() + 2);
        args.extend([&b"SREM"[..], key]);
        args.extend(batch.iter().map(CompactBytes::as_slice));
        txn.propagate(&args);
    }
    txn.signal_modified(key);
    Ok(())
}

/// Replies with every member of `set` in the order Redis would after copying it into a new
/// set: a hash table small and integral enough to become an intset comes out sorted.
fn reply_rebuilt(reply: &mut ReplyBuf, set: &Set, intset_max: usize) {
    let rebuilt = match set {
        Set::Table(_) if set.len() <= intset_max => {
            Some(union(&[Some(set)], intset_max)).filter(|copy| matches!(copy, Set::Intset(_)))
        }
        _ => None,
    };
    let source = rebuilt.as_ref().unwrap_or(set);
    reply.set(source.len());
    source.iter().for_each(|e| e.reply(reply));
}

/// SRANDMEMBER key [count]
fn srandmember(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    match argv.len() {
        2 => {
            let mut rng = fastrand::Rng::new();
            let (txn, reply) = (&mut *ctx.txn, &mut *ctx.reply);
            match read_set(txn, argv.get(1))?.and_then(|s| s.random(&mut rng)) {
                Some(member) => member.reply(reply),
                None => reply.null(),
            }
            Ok(())
        }
        3 => srandmember_count(ctx, argv.get(1), argv.get(2)),
        _ => Err(SYNTAX),
    }
}

fn srandmember_count(ctx: &mut Ctx, key: &[u8], count_arg: &[u8]) -> CmdResult {
    let count = int_arg(count_arg)?;
    if count == i64::MIN {
        return Err(crate::err!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        ));
    }
    let limit_bytes = usize::try_from(ctx.srv.cfg().proto_max_bulk_len).unwrap_or(usize::MAX);
    let (txn, reply) = (&mut *ctx.txn, &mut *ctx.reply);
    let Some(set) = read_set(txn, key)? else {
        reply.array(0);
        return Ok(());
    };
    let mut rng = fastrand::Rng::new();
    let wanted = count.unsigned_abs();
    if wanted == 0 {
        reply.array(0);
    } else if count < 0 || wanted == 1 {
        reply_picks(reply, set, wanted, limit_bytes, &mut rng)?;
    } else if wanted >= set.len() as u64 {
        reply.array(set.len());
        set.iter().for_each(|e| e.reply(reply));
    } else {
        let picked = distinct(set, wanted as usize, &mut rng);
        reply.array(picked.len());
        picked.iter().for_each(|e| e.reply(reply));
    }
    Ok(())
}

/// Writes `picks` independent random members (repeats allowed, in random order), refusing a
/// reply that would grow past `limit_bytes` and taking back what was written of it.
fn reply_picks(
    reply: &mut ReplyBuf,
    set: &Set,
    picks: u64,
    limit_bytes: usize,
    rng: &mut fastrand::Rng,
) -> CmdResult {
    let too_large = || CmdError::from("ERR SRANDMEMBER reply would exceed proto-max-bulk-len");
    if picks > limit_bytes as u64 / PICK_BYTES_MIN {
        return Err(too_large());
    }
    let start = reply.len();
    reply.array(picks as usize);
    for _ in 0..picks {
        set.random(rng)
            .expect("stored sets are not empty")
            .reply(reply);
        if reply.len() - start > limit_bytes {
            reply.truncate(start);
            return Err(too_large());
        }
    }
    Ok(())
}

// ---- Set algebra ---------------------------------------------------------------------------

/// SINTER key [key ...] (also SMEMBERS key)
fn sinter(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let keys: Vec<&[u8]> = argv.iter().skip(1).collect();
    let (txn, reply) = (&mut *ctx.txn, &mut *ctx.reply);
    let sets = read_sets(txn, &keys)?;
    let Some(sets) = sets.into_iter().collect::<Option<Vec<&Set>>>() else {
        reply.set(0);
        return Ok(());
    };
    let header = reply.begin_deferred();
    let mut n = 0;
    intersect(&sets, |e| {
        e.reply(reply);
        n += 1;
        true
    });
    reply.finish_set(header, n);
    Ok(())
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let numkeys = match rudis_resp::number::parse_i64(argv.get(1)) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err("ERR numkeys should be greater than 0".into()),
    };
    if numkeys > (argv.len() - 2) as u64 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    let first_option = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut i = first_option;
    while i < argv.len() {
        if is(argv.get(i), "LIMIT") && i + 1 < argv.len() {
            limit = match rudis_resp::number::parse_i64(argv.get(i + 1)) {
                Some(n) if n >= 0 => n as u64,
                _ => return Err("ERR LIMIT can't be negative".into()),
            };
            i += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    let keys: Vec<&[u8]> = (2..first_option).map(|i| argv.get(i)).collect();
    let sets = read_sets(ctx.txn, &keys)?;
    let mut n = 0u64;
    if let Some(sets) = sets.into_iter().collect::<Option<Vec<&Set>>>() {
        intersect(&sets, |_| {
            n += 1;
            limit == 0 || n < limit
        });
    }
    ctx.reply.int(n as i64);
    Ok(())
}

/// SINTERSTORE destination key [key ...]
fn sinterstore(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let keys: Vec<&[u8]> = argv.iter().skip(2).collect();
    let intset_max = intset_max(ctx);
    let sets = read_sets(ctx.txn, &keys)?;
    let result = match sets.into_iter().collect::<Option<Vec<&Set>>>() {
        Some(sets) => intersection(&sets, intset_max),
        None => Set::default(),
    };
    store_result(ctx, argv.get(1), result, "sinterstore");
    Ok(())
}

/// SUNION key [key ...]
fn sunion(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    union_or_diff(ctx, argv, union)
}

/// SDIFF key [key ...]
fn sdiff(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    union_or_diff(ctx, argv, difference)
}

/// SUNIONSTORE destination key [key ...]
fn sunionstore(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    union_or_diff_store(ctx, argv, union, "sunionstore")
}

/// SDIFFSTORE destination key [key ...]
fn sdiffstore(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    union_or_diff_store(ctx, argv, difference, "sdiffstore")
}

/// The set operations over possibly missing keys.
type Algebra = fn(&[Option<&Set>], usize) -> Set;

fn union_or_diff(ctx: &mut Ctx, argv: Argv, op: Algebra) -> CmdResult {
    let keys: Vec<&[u8]> = argv.iter().skip(1).collect();
    let intset_max = intset_max(ctx);
    let (txn, reply) = (&mut *ctx.txn, &mut *ctx.reply);
    let result = op(&read_sets(txn, &keys)?, intset_max);
    reply.set(result.len());
    result.iter().for_each(|e| e.reply(reply));
    Ok(())
}

fn union_or_diff_store(ctx: &mut Ctx, argv: Argv, op: Algebra, event: &'static str) -> CmdResult {
    let keys: Vec<&[u8]> = argv.iter().skip(2).collect();
    let intset_max = intset_max(ctx);
    let result = op(&read_sets(ctx.txn, &keys)?, intset_max);
    store_result(ctx, argv.get(1), result, event);
    Ok(())
}

/// Stores a *STORE result under `dst`, replacing whatever was there (and its TTL), and replies
/// with its size. An empty result deletes `dst` instead, propagated as DEL.
fn store_result(ctx: &mut Ctx, dst: &[u8], result: Set, event: &'static str) {
    if result.is_empty() {
        if ctx.txn.remove(dst).is_some() {
            ctx.txn.signal_modified(dst);
            ctx.txn.notify(event::GENERIC, "del", dst);
            ctx.txn.dirty(1);
            let del = del_command(ctx);
            ctx.txn.propagate(&[del, dst]);
        }
        ctx.reply.int(0);
        return;
    }
    let len = result.len();
    // Looked up for writing first so that an expired destination is expired as such.
    ctx.txn.get_mut(dst);
    ctx.txn.set(dst, Value::Set(result), false);
    ctx.txn.signal_modified(dst);
    ctx.reply.int(len as i64);
    ctx.txn.notify(event::SET, event, dst);
    ctx.txn.dirty(1);
}

// ---- SSCAN ---------------------------------------------------------------------------------

/// SSCAN key cursor [MATCH pattern] [COUNT count]
fn sscan(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let cursor = scan::parse_cursor(argv.get(2))?;
    let (txn, reply) = (&mut *ctx.txn, &mut *ctx.reply);
    let Some(set) = read_set(txn, argv.get(1))? else {
        scan::reply(reply, 0, std::iter::empty());
        return Ok(());
    };
    let opts = scan::parse_options(argv, 3, false)?;
    let mut found = Vec::new();
    let next = set.scan(cursor, opts.count, |e| {
        if opts.matches(e.bytes(&mut itoa::Buffer::new())) {
            found.push(e);
        }
    });
    reply.array(2);
    reply.bulk_i64_u(next);
    reply.array(found.len());
    found.iter().for_each(|e| e.reply(reply));
    Ok(())
}

#[cfg(test)]
mod tests;
