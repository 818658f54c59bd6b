//! Hash commands: HSET, HSETNX, HGET, HMGET, HMSET, HDEL, HLEN, HSTRLEN, HEXISTS, HKEYS, HVALS,
//! HGETALL, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN.
//!
//! The encodings and the conversion rule live in [`crate::types::hash`]; handlers pass it the
//! current `hash-max-listpack-*` thresholds. Shared logic has one home: [`hset_generic`]
//! serves HSET and HMSET, [`get_all`] serves HKEYS, HVALS and HGETALL. A hash emptied by HDEL
//! is removed, as Redis removes it.
//!
//! HRANDFIELD with a negative count may repeat fields, so its reply is as long as the client
//! asks. Redis writes it whatever its size; here a reply that would exceed
//! `proto-max-bulk-len` bytes is refused with an error instead of exhausting memory.

use rudis_resp::{Argv, ReplyBuf};

use super::scan::{parse_cursor, parse_options};
use super::util::{int_arg, is};
use crate::command::error::{CmdError, NOT_FLOAT, OVERFLOW, SYNTAX, WRONGTYPE};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::txn::{event, Txn};
use crate::keyspace::Value;
use crate::types::hash::{Entry, Hash, Limits};
use crate::util::longdouble;

const H: u64 = acl::HASH;
const RO: &[KeySpec] = &[KeySpec::one(1, keyflag::RO)];
const RO_ACCESS: &[KeySpec] = &[KeySpec::one(1, keyflag::RO | keyflag::ACCESS)];
const RW_UPDATE: &[KeySpec] = &[KeySpec::one(1, keyflag::RW | keyflag::UPDATE)];
const RW_ACCESS_UPDATE: &[KeySpec] = &[KeySpec::one(
    1,
    keyflag::RW | keyflag::ACCESS | keyflag::UPDATE,
)];
const WHOLE_HASH: &str = "O(N) where N is the size of the hash.";
const UNORDERED: &[&str] = &["nondeterministic_output_order"];
const RANDOM: &[&str] = &["nondeterministic_output"];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, hset)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(H)
        .keys(RW_UPDATE)
        .doc("hash", "Set the string value of a hash field", "2.0.0", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs."),
    CommandSpec::new("hsetnx", 4, hsetnx)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(H)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::INSERT)])
        .doc("hash", "Set the value of a hash field, only if the field does not exist", "2.0.0", "O(1)"),
    CommandSpec::new("hget", 3, hget)
        .flags(flag::READONLY | flag::FAST)
        .acl(H)
        .keys(RO_ACCESS)
        .doc("hash", "Get the value of a hash field", "2.0.0", "O(1)"),
    CommandSpec::new("hmget", -3, hmget)
        .flags(flag::READONLY | flag::FAST)
        .acl(H)
        .keys(RO_ACCESS)
        .doc("hash", "Get the values of all the given hash fields", "2.0.0", "O(N) where N is the number of fields being requested."),
    CommandSpec::new("hmset", -4, hmset)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(H)
        .keys(RW_UPDATE)
        .doc("hash", "Set multiple hash fields to multiple values", "2.0.0", "O(N) where N is the number of fields being set."),
    CommandSpec::new("hdel", -3, hdel)
        .flags(flag::WRITE | flag::FAST)
        .acl(H)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::DELETE)])
        .doc("hash", "Delete one or more hash fields", "2.0.0", "O(N) where N is the number of fields to be removed."),
    CommandSpec::new("hlen", 2, hlen)
        .flags(flag::READONLY | flag::FAST)
        .acl(H)
        .keys(RO)
        .doc("hash", "Get the number of fields in a hash", "2.0.0", "O(1)"),
    CommandSpec::new("hstrlen", 3, hstrlen)
        .flags(flag::READONLY | flag::FAST)
        .acl(H)
        .keys(RO)
        .doc("hash", "Get the length of the value of a hash field", "3.2.0", "O(1)"),
    CommandSpec::new("hexists", 3, hexists)
        .flags(flag::READONLY | flag::FAST)
        .acl(H)
        .keys(RO)
        .doc("hash", "Determine if a hash field exists", "2.0.0", "O(1)"),
    CommandSpec::new("hkeys", 2, hkeys)
        .flags(flag::READONLY)
        .acl(H)
        .keys(RO_ACCESS)
        .tips(UNORDERED)
        .doc("hash", "Get all the fields in a hash", "2.0.0", WHOLE_HASH),
    CommandSpec::new("hvals", 2, hvals)
        .flags(flag::READONLY)
        .acl(H)
        .keys(RO_ACCESS)
        .tips(UNORDERED)
        .doc("hash", "Get all the values in a hash", "2.0.0", WHOLE_HASH),
    CommandSpec::new("hgetall", 2, hgetall)
        .flags(flag::READONLY)
        .acl(H)
        .keys(RO_ACCESS)
        .tips(UNORDERED)
        .doc("hash", "Get all the fields and values in a hash", "2.0.0", WHOLE_HASH),
    CommandSpec::new("hincrby", 4, hincrby)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(H)
        .keys(RW_ACCESS_UPDATE)
        .doc("hash", "Increment the integer value of a hash field by the given number", "2.0.0", "O(1)"),
    CommandSpec::new("hincrbyfloat", 4, hincrbyfloat)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(H)
        .keys(RW_ACCESS_UPDATE)
        .doc("hash", "Increment the float value of a hash field by the given amount", "2.6.0", "O(1)"),
    CommandSpec::new("hrandfield", -2, hrandfield)
        .flags(flag::READONLY)
        .acl(H)
        .keys(RO_ACCESS)
        .tips(RANDOM)
        .doc("hash", "Get one or multiple random fields from a hash", "6.2.0", "O(N) where N is the number of fields returned"),
    CommandSpec::new("hscan", -3, hscan)
        .flags(flag::READONLY)
        .acl(H)
        .keys(RO_ACCESS)
        .tips(RANDOM)
        .doc("hash", "Incrementally iterate hash fields and associated values", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
];

const HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";
const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";

// ---- Access ----------------------------------------------------------------------------------

/// The listpack thresholds currently configured.
fn limits(ctx: &Ctx) -> Limits {
    let cfg = ctx.srv.cfg();
    Limits {
        max_entries: usize::try_from(cfg.hash_max_listpack_entries).unwrap_or(usize::MAX),
        max_value_bytes: usize::try_from(cfg.hash_max_listpack_value).unwrap_or(usize::MAX),
    }
}

/// The hash at `key` for reading: `Ok(None)` if missing, WRONGTYPE if not a hash.
fn hash_in<'t>(txn: &'t mut Txn<'_>, key: &[u8]) -> Result<Option<&'t Hash>, CmdError> {
    match txn.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Hash(h) => Ok(Some(h)),
            _ => Err(WRONGTYPE),
        },
    }
}

/// Runs `f` on the hash at `key`, creating an empty one if the key is missing (WRONGTYPE if
/// the key holds something else). A hash created here and left empty by a failing `f` is
/// removed again, so no empty hash is ever stored.
fn with_hash_for_write<R>(
    txn: &mut Txn<'_>,
    key: &[u8],
    f: impl FnOnce(&mut Hash) -> Result<R, CmdError>,
) -> Result<R, CmdError> {
    if let Some(e) = txn.get_mut(key) {
        return match &mut e.value {
            Value::Hash(h) => f(h),
            _ => Err(WRONGTYPE),
        };
    }
    let entry = txn.add(key, Value::Hash(Hash::default()));
    let Value::Hash(h) = &mut entry.value else {
        unreachable!("just added a hash")
    };
    let result = f(h);
    if h.is_empty() {
        txn.remove(key);
    }
    result
}

/// Writes a field or value as a bulk string (integers of a listpack in decimal).
fn reply_entry(reply: &mut ReplyBuf, e: Entry<'_>) {
    match e {
        Entry::Int(i) => reply.bulk_i64(i),
        Entry::Str(s) => reply.bulk(s),
    }
}

/// The effects every successful write has: WATCH, the keyspace event, the change count.
fn modified(txn: &mut Txn<'_>, key: &[u8], event_name: &'static str, changes: u64) {
    txn.signal_modified(key);
    txn.notify(event::HASH, event_name, key);
    txn.dirty(changes);
}

// ---- Writes ----------------------------------------------------------------------------------

/// HSET key field value [field value ...]
fn hset(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    hset_generic(ctx, argv, false)
}

/// HMSET key field value [field value ...]
fn hmset(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    hset_generic(ctx, argv, true)
}

/// Sets every pair; replies with the number of new fields (HSET) or OK (HMSET).
fn hset_generic(ctx: &mut Ctx, argv: Argv, reply_ok: bool) -> CmdResult {
    if argv.len() % 2 == 1 {
        return Err(crate::command::error::wrong_arity(&ctx.cmd.fullname));
    }
    let key = argv.get(1);
    let limits = limits(ctx);
    let pairs = (2..argv.len())
        .step_by(2)
        .map(|i| (argv.get(i), argv.get(i + 1)));
    let created = with_hash_for_write(ctx.txn, key, |h| {
        h.convert_for(argv.iter().skip(2), limits);
        Ok(h.set_many(pairs, limits))
    })?;
    if reply_ok {
        ctx.reply.ok();
    } else {
        ctx.reply.int(created as i64);
    }
    modified(ctx.txn, key, "hset", ((argv.len() - 2) / 2) as u64);
    Ok(())
}

/// HSETNX key field value
fn hsetnx(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (key, field, value) = (argv.get(1), argv.get(2), argv.get(3));
    let limits = limits(ctx);
    let set = with_hash_for_write(ctx.txn, key, |h| {
        if h.contains(field) {
            return Ok(false);
        }
        h.convert_for([field, value].into_iter(), limits);
        Ok(h.set(field, value, limits))
    })?;
    ctx.reply.int(i64::from(set));
    if set {
        modified(ctx.txn, key, "hset", 1);
    }
    Ok(())
}

/// HDEL key field [field ...]
fn hdel(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    let (deleted, emptied) = match ctx.txn.get_mut(key) {
        None => (0, false),
        Some(e) => {
            let Value::Hash(h) = &mut e.value else {
                return Err(WRONGTYPE);
            };
            let mut deleted = 0u64;
            for field in argv.iter().skip(2) {
                if h.remove(field) {
                    deleted += 1;
                    if h.is_empty() {
                        break;
                    }
                }
            }
            (deleted, h.is_empty())
        }
    };
    if emptied {
        ctx.txn.remove(key);
    }
    if deleted > 0 {
        modified(ctx.txn, key, "hdel", deleted);
        if emptied {
            ctx.txn.notify(event::GENERIC, "del", key);
        }
    }
    ctx.reply.int(deleted as i64);
    Ok(())
}

/// HINCRBY key field increment
fn hincrby(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (key, field) = (argv.get(1), argv.get(2));
    let by = int_arg(argv.get(3))?;
    let limits = limits(ctx);
    let sum = with_hash_for_write(ctx.txn, key, |h| {
        let old = match h.get(field) {
            None => 0,
            Some(Entry::Int(i)) => i,
            Some(Entry::Str(s)) => {
                rudis_resp::number::parse_i64(s).ok_or(CmdError::from(HASH_NOT_INTEGER))?
            }
        };
        let sum = old.checked_add(by).ok_or(OVERFLOW)?;
        h.set(field, itoa::Buffer::new().format(sum).as_bytes(), limits);
        Ok(sum)
    })?;
    ctx.reply.int(sum);
    modified(ctx.txn, key, "hincrby", 1);
    Ok(())
}

/// HINCRBYFLOAT key field increment
fn hincrbyfloat(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (key, field, by) = (argv.get(1), argv.get(2), argv.get(3));
    if !longdouble::is_valid(by) {
        return Err(NOT_FLOAT);
    }
    // A valid increment that is infinite on its own.
    if longdouble::incr(None, by).is_err() {
        return Err("ERR value is NaN or Infinity".into());
    }
    let limits = limits(ctx);
    let sum = with_hash_for_write(ctx.txn, key, |h| {
        let mut digits = itoa::Buffer::new();
        let base = h.get(field).map(|e| e.as_bytes(&mut digits).to_vec());
        let sum = longdouble::incr(base.as_deref(), by).map_err(|e| match e {
            longdouble::IncrError::BadBase => CmdError::from(HASH_NOT_FLOAT),
            longdouble::IncrError::BadIncrement => NOT_FLOAT,
            longdouble::IncrError::NanOrInf => {
                CmdError::from("ERR increment would produce NaN or Infinity")
            }
        })?;
        h.set(field, &sum, limits);
        Ok(sum)
    })?;
    ctx.reply.bulk(&sum);
    modified(ctx.txn, key, "hincrbyfloat", 1);
    // The exact result, so float formatting can never make a replica or an AOF reload differ.
    ctx.txn.propagate(&[b"HSET", key, field, &sum]);
    Ok(())
}

// ---- Reads -----------------------------------------------------------------------------------

/// HGET key field
fn hget(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    match hash_in(ctx.txn, argv.get(1))?.and_then(|h| h.get(argv.get(2))) {
        Some(e) => reply_entry(ctx.reply, e),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// HMGET key field [field ...]
fn hmget(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let h = hash_in(ctx.txn, argv.get(1))?;
    ctx.reply.array(argv.len() - 2);
    for field in argv.iter().skip(2) {
        match h.and_then(|h| h.get(field)) {
            Some(e) => reply_entry(ctx.reply, e),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

/// HLEN key
fn hlen(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let len = hash_in(ctx.txn, argv.get(1))?.map_or(0, Hash::len);
    ctx.reply.int(len as i64);
    Ok(())
}

/// HSTRLEN key field
fn hstrlen(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let value = hash_in(ctx.txn, argv.get(1))?.and_then(|h| h.get(argv.get(2)));
    let len = value.map_or(0, |e| e.as_bytes(&mut itoa::Buffer::new()).len());
    ctx.reply.int(len as i64);
    Ok(())
}

/// HEXISTS key field
fn hexists(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let found = hash_in(ctx.txn, argv.get(1))?.is_some_and(|h| h.contains(argv.get(2)));
    ctx.reply.int(i64::from(found));
    Ok(())
}

/// What HKEYS, HVALS and HGETALL return.
#[derive(Clone, Copy, PartialEq)]
enum Parts {
    Fields,
    Values,
    Both,
}

/// HKEYS key
fn hkeys(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    get_all(ctx, argv.get(1), Parts::Fields)
}

/// HVALS key
fn hvals(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    get_all(ctx, argv.get(1), Parts::Values)
}

/// HGETALL key
fn hgetall(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    get_all(ctx, argv.get(1), Parts::Both)
}

/// Replies with every field and/or value: a map for both (RESP3), a flat array otherwise.
fn get_all(ctx: &mut Ctx, key: &[u8], parts: Parts) -> CmdResult {
    let h = hash_in(ctx.txn, key)?;
    let len = h.map_or(0, Hash::len);
    if parts == Parts::Both {
        ctx.reply.map(len);
    } else {
        ctx.reply.array(len);
    }
    for (field, value) in h.into_iter().flat_map(Hash::iter) {
        if parts != Parts::Values {
            reply_entry(ctx.reply, field);
        }
        if parts != Parts::Fields {
            reply_entry(ctx.reply, value);
        }
    }
    Ok(())
}

// ---- HRANDFIELD ------------------------------------------------------------------------------

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    if argv.len() >= 3 {
        let count = int_arg(argv.get(2))?;
        if count == i64::MIN {
            return Err(crate::err!(
                "ERR value is out of range, value must between {} and {}",
                -i64::MAX,
                i64::MAX
            ));
        }
        let with_values = argv.len() == 4;
        if argv.len() > 4 || (with_values && !is(argv.get(3), "WITHVALUES")) {
            return Err(SYNTAX);
        }
        // The RESP2 reply of WITHVALUES has two elements per field.
        if with_values && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
            return Err("ERR value is out of range".into());
        }
        return hrandfield_count(ctx, key, count, with_values);
    }
    let mut rng = fastrand::Rng::new();
    match hash_in(ctx.txn, key)?.and_then(|h| h.random_pair(&mut rng)) {
        Some((field, _)) => reply_entry(ctx.reply, field),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// HRANDFIELD with a count: distinct fields for a positive count (at most the whole hash),
/// independent picks for a negative one (and for 1, as Redis does).
fn hrandfield_count(ctx: &mut Ctx, key: &[u8], count: i64, with_values: bool) -> CmdResult {
    let limit_bytes = reply_limit_bytes(ctx);
    let Some(h) = hash_in(ctx.txn, key)? else {
        ctx.reply.array(0);
        return Ok(());
    };
    let picks = count.unsigned_abs();
    if picks == 0 {
        ctx.reply.array(0);
        return Ok(());
    }
    let mut rng = fastrand::Rng::new();
    if count < 0 || picks == 1 {
        return reply_picks(ctx.reply, h, &mut rng, picks, with_values, limit_bytes);
    }
    let chosen = h.random_distinct(&mut rng, usize::try_from(picks).unwrap_or(usize::MAX));
    reply_pairs_header(ctx.reply, chosen.len(), with_values);
    for (field, value) in chosen {
        reply_pair(ctx.reply, field, value, with_values);
    }
    Ok(())
}

/// The largest HRANDFIELD reply written (see the module comment).
fn reply_limit_bytes(ctx: &Ctx) -> usize {
    usize::try_from(ctx.srv.cfg().proto_max_bulk_len).unwrap_or(usize::MAX)
}

/// Smallest possible reply bytes per pick: one empty bulk string, `$0\r\n\r\n`.
const PICK_BYTES_MIN: u64 = 6;

/// Writes `picks` independent random picks, refusing (and taking back what was written) a
/// reply that grows past `limit_bytes`.
fn reply_picks(
    reply: &mut ReplyBuf,
    h: &Hash,
    rng: &mut fastrand::Rng,
    picks: u64,
    with_values: bool,
    limit_bytes: usize,
) -> CmdResult {
    let too_large = || CmdError::from("ERR HRANDFIELD reply would exceed proto-max-bulk-len");
    if picks > limit_bytes as u64 / PICK_BYTES_MIN {
        return Err(too_large());
    }
    let picker = h.picker();
    let start = reply.len();
    reply_pairs_header(reply, picks as usize, with_values);
    for _ in 0..picks {
        let Some((field, value)) = picker.pick(rng) else {
            break;
        };
        reply_pair(reply, field, value, with_values);
        if reply.len() - start > limit_bytes {
            reply.truncate(start);
            return Err(too_large());
        }
    }
    Ok(())
}

/// The array header for `n` fields: RESP3 nests each field/value pair, RESP2 flattens them.
fn reply_pairs_header(reply: &mut ReplyBuf, n: usize, with_values: bool) {
    let flat_pairs = with_values && !reply.is_resp3();
    reply.array(if flat_pairs { n * 2 } else { n });
}

fn reply_pair(reply: &mut ReplyBuf, field: Entry<'_>, value: Entry<'_>, with_values: bool) {
    if with_values && reply.is_resp3() {
        reply.array(2);
    }
    reply_entry(reply, field);
    if with_values {
        reply_entry(reply, value);
    }
}

// ---- HSCAN -----------------------------------------------------------------------------------

/// HSCAN key cursor [MATCH pattern] [COUNT count]
fn hscan(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let cursor = parse_cursor(argv.get(2))?;
    // As in Redis, a missing key answers before the options are even parsed.
    let Some(h) = hash_in(ctx.txn, argv.get(1))? else {
        ctx.reply.array(2);
        ctx.reply.bulk(b"0");
        ctx.reply.array(0);
        return Ok(());
    };
    let opts = parse_options(argv, 3, false)?;
    let mut found = Vec::new();
    let next = h.scan(cursor, opts.count, |f, v| found.push((f, v)));
    if opts.pattern.is_some() {
        let mut digits = itoa::Buffer::new();
        found.retain(|(f, _)| opts.matches(f.as_bytes(&mut digits)));
    }
    ctx.reply.array(2);
    ctx.reply.bulk_i64_u(next);
    ctx.reply.array(found.len() * 2);
    for (field, value) in found {
        reply_entry(ctx.reply, field);
        reply_entry(ctx.reply, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
