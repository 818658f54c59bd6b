//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, and the internal PFSELFTEST and PFDEBUG.
//!
//! A HyperLogLog is an ordinary string value in Redis's exact format (`format`), so DUMP,
//! RESTORE, RDB files and replication carry it unchanged between Redis and Rudis, and GET
//! shows its bytes. The encodings live in `dense` and `sparse`, the element hash in `hash`,
//! the estimator in `estimate`.
//!
//! Effects follow Redis's. A command that edits a HyperLogLog leaves its entry flagged
//! `FLAG_RAW` (Redis unshares the value into a raw string first, so OBJECT ENCODING says
//! `raw`). PFCOUNT of one key stores the estimate in the header when the cached one is stale:
//! that is a change (dirty, WATCH) and PFCOUNT is propagated so replicas and the AOF hold the
//! same bytes. PFDEBUG GETREG and TODENSE are propagated when they convert to dense.

mod dense;
mod estimate;
mod format;
mod hash;
mod selftest;
mod sparse;

use std::borrow::Cow;

use rudis_resp::Argv;

use self::format::{Encoding, REGISTERS};
use super::util::is;
use crate::command::error::{CmdError, WRONGTYPE};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::bytes::CompactBytes;
use crate::keyspace::txn::{event, Lookup, Txn};
use crate::keyspace::value::{KeyEntry, FLAG_RAW};
use crate::keyspace::Value;

const HLL: u64 = acl::HYPERLOGLOG;
const GROUP: &str = "hyperloglog";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("pfadd", -2, pfadd)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(HLL)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::INSERT)])
        .doc(GROUP, "Adds the specified elements to the specified HyperLogLog.", "2.8.9", "O(1) to add every element."),
    CommandSpec::new("pfcount", -2, pfcount)
        .flags(flag::READONLY | flag::MAY_REPLICATE)
        .acl(HLL)
        .keys(&[KeySpec::range(1, -1, 1, keyflag::RW | keyflag::ACCESS).notes("RW because it may change the internal representation of the key, and propagate to replicas")])
        .doc(GROUP, "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).", "2.8.9", "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys."),
    CommandSpec::new("pfmerge", -2, pfmerge)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(HLL)
        .keys(&[
            KeySpec::one(1, keyflag::RW | keyflag::ACCESS | keyflag::INSERT),
            KeySpec::range(2, -1, 1, keyflag::RO | keyflag::ACCESS),
        ])
        .doc(GROUP, "Merge N different HyperLogLogs into a single one.", "2.8.9", "O(N) to merge N HyperLogLogs, but with high constant times."),
    CommandSpec::new("pfselftest", 1, pfselftest)
        .flags(flag::ADMIN | flag::NO_KEYSPACE)
        .acl(HLL)
        .doc(GROUP, "An internal command for testing HyperLogLog values", "2.8.9", "N/A")
        .syscmd(),
    CommandSpec::new("pfdebug", 3, pfdebug)
        .flags(flag::WRITE | flag::DENYOOM | flag::ADMIN)
        .acl(HLL)
        .keys(&[KeySpec::one(2, keyflag::RW | keyflag::ACCESS)])
        .doc(GROUP, "Internal commands for debugging HyperLogLog values", "2.8.9", "N/A")
        .syscmd(),
];

/// A string that is not in the HyperLogLog format.
const NOT_HLL: CmdError = CmdError(Cow::Borrowed(
    "WRONGTYPE Key is not a valid HyperLogLog string value.",
));
/// A HyperLogLog whose sparse registers do not decode.
const CORRUPT: CmdError = CmdError(Cow::Borrowed("INVALIDOBJ Corrupted HLL object detected"));

impl From<format::Corrupt> for CmdError {
    fn from(_: format::Corrupt) -> Self {
        CORRUPT
    }
}

/// The HyperLogLog in `entry`, for reading.
fn hll_of(entry: &KeyEntry) -> Result<(&[u8], Encoding), CmdError> {
    let bytes = entry.value.as_str().ok_or(WRONGTYPE)?;
    let encoding = format::check(bytes).map_err(|_| NOT_HLL)?;
    Ok((bytes, encoding))
}

/// Checks that `entry` holds a HyperLogLog and marks it raw, as Redis unshares the string it
/// is about to edit (or may edit).
fn claim_hll(entry: &mut KeyEntry) -> Result<Encoding, CmdError> {
    let encoding = hll_of(entry)?.1;
    entry.flags |= FLAG_RAW;
    Ok(encoding)
}

/// The bytes of a HyperLogLog entry already checked with [`claim_hll`], for editing.
fn hll_bytes_mut(entry: &mut KeyEntry) -> &mut Vec<u8> {
    match &mut entry.value {
        Value::Str(s) => s.make_growable(),
        _ => unreachable!("checked to be a HyperLogLog string"),
    }
}

/// `hll-sparse-max-bytes`.
fn sparse_max_bytes(ctx: &Ctx) -> usize {
    usize::try_from(ctx.srv.cfg().hll_sparse_max_bytes).unwrap_or(0)
}

/// The entry under `key` for editing, created as an empty HyperLogLog if missing (then
/// `created` is set). WRONGTYPE if it holds anything else.
fn hll_for_write<'t>(
    txn: &'t mut Txn<'_>,
    key: &[u8],
    created: &mut bool,
) -> Result<&'t mut KeyEntry, CmdError> {
    if txn.get_mut(key).is_none() {
        let empty = Value::Str(CompactBytes::from_vec(format::new_empty()));
        txn.add(key, empty);
        *created = true;
    }
    let entry = txn.get_mut(key).expect("present or just added");
    claim_hll(entry)?;
    Ok(entry)
}

/// PFADD key [element [element ...]]
fn pfadd(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    let max_bytes = sparse_max_bytes(ctx);
    let mut created = false;
    let entry = hll_for_write(ctx.txn, key, &mut created)?;
    let bytes = hll_bytes_mut(entry);
    let mut updated = u64::from(created);
    for element in argv.iter().skip(2) {
        // On a corrupt value the registers already raised stay raised, as in Redis.
        if format::add(bytes, element, max_bytes)? {
            updated += 1;
        }
    }
    if updated > 0 {
        format::invalidate_cache(bytes);
        ctx.txn.signal_modified(key);
        ctx.txn.notify(event::STRING, "pfadd", key);
        ctx.txn.dirty(updated);
    }
    ctx.reply.int(i64::from(updated > 0));
    Ok(())
}

/// PFCOUNT key [key ...]
fn pfcount(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let card = if argv.len() > 2 {
        count_union(ctx, argv)?
    } else {
        count_one(ctx, argv.get(1))?
    };
    // A cardinality too big to be real (crafted registers) has its top bit set and shows
    // negative, as in Redis.
    ctx.reply.int(card as i64);
    Ok(())
}

/// The cardinality of one HyperLogLog: the cached one if valid, otherwise computed and cached.
fn count_one(ctx: &mut Ctx, key: &[u8]) -> Result<u64, CmdError> {
    let db = ctx.txn.db;
    let Some(entry) = ctx.txn.lookup(db, key, Lookup::Read) else {
        return Ok(0);
    };
    claim_hll(entry)?;
    let bytes = hll_of(entry)?.0;
    if let Some(card) = format::cached_card(bytes) {
        return Ok(card);
    }
    let card = format::count(bytes)?;
    format::set_cached_card(hll_bytes_mut(entry), card);
    // The value changed: WATCH sees it, and the command propagates so copies keep the cache.
    ctx.txn.signal_modified(key);
    ctx.txn.dirty(1);
    Ok(card)
}

/// The cardinality of the union of several HyperLogLogs (missing keys count as empty).
fn count_union(ctx: &mut Ctx, argv: Argv) -> Result<u64, CmdError> {
    let mut max = Box::new([0u8; REGISTERS]);
    merge_sources(ctx, argv.iter().skip(1), &mut max)?;
    Ok(format::count_unpacked(&max))
}

/// Merges the registers of `keys` into `max`. Returns true if any of them is dense.
fn merge_sources<'a>(
    ctx: &mut Ctx,
    keys: impl Iterator<Item = &'a [u8]>,
    max: &mut [u8; REGISTERS],
) -> Result<bool, CmdError> {
    let mut any_dense = false;
    for key in keys {
        let Some(entry) = ctx.txn.get(key) else {
            continue;
        };
        let (bytes, encoding) = hll_of(entry)?;
        any_dense |= encoding == Encoding::Dense;
        format::merge_into(max, bytes)?;
    }
    Ok(any_dense)
}

/// PFMERGE destkey [sourcekey [sourcekey ...]]
fn pfmerge(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let dest = argv.get(1);
    let max_bytes = sparse_max_bytes(ctx);
    let mut max = Box::new([0u8; REGISTERS]);
    // The destination's own registers are part of the union.
    let any_dense = merge_sources(ctx, argv.iter().skip(1), &mut max)?;
    let entry = hll_for_write(ctx.txn, dest, &mut false)?;
    let bytes = hll_bytes_mut(entry);
    if any_dense {
        format::to_dense(bytes)?;
    }
    for (index, &value) in max.iter().enumerate() {
        if value != 0 {
            // The destination was decoded as a source already, so this cannot fail.
            let _ = format::set_register(bytes, index, value, max_bytes);
        }
    }
    format::invalidate_cache(bytes);
    ctx.txn.signal_modified(dest);
    // A merge is a mass add: Redis names its event "pfadd".
    ctx.txn.notify(event::STRING, "pfadd", dest);
    ctx.txn.dirty(1);
    ctx.reply.ok();
    Ok(())
}

/// PFSELFTEST
fn pfselftest(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let max_bytes = sparse_max_bytes(ctx);
    let mut rng = fastrand::Rng::new();
    selftest::run(&selftest::Effort::FULL, max_bytes, &mut rng).map_err(CmdError::from)?;
    ctx.reply.ok();
    Ok(())
}

/// PFDEBUG <GETREG | DECODE | ENCODING | TODENSE> key
fn pfdebug(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (sub, key) = (argv.get(1), argv.get(2));
    let Some(entry) = ctx.txn.get_mut(key) else {
        return Err("ERR The specified key does not exist".into());
    };
    let encoding = claim_hll(entry)?;
    if is(sub, "GETREG") {
        let converted = encoding == Encoding::Sparse;
        if converted {
            format::to_dense(hll_bytes_mut(entry))?;
        }
        let registers = &hll_of(entry)?.0[format::HEADER_BYTES..];
        ctx.reply.array(REGISTERS);
        for index in 0..REGISTERS {
            ctx.reply.int(i64::from(dense::get(registers, index)));
        }
        // A conversion changes the bytes: propagate it so copies convert too.
        ctx.txn.dirty(u64::from(converted));
    } else if is(sub, "DECODE") {
        if encoding != Encoding::Sparse {
            return Err("ERR HLL encoding is not sparse".into());
        }
        let text = sparse::describe(hll_of(entry)?.0);
        ctx.reply.bulk(text.as_bytes());
    } else if is(sub, "ENCODING") {
        ctx.reply.simple(match encoding {
            Encoding::Dense => "dense",
            Encoding::Sparse => "sparse",
        });
    } else if is(sub, "TODENSE") {
        let converted = encoding == Encoding::Sparse;
        if converted {
            format::to_dense(hll_bytes_mut(entry))?;
        }
        ctx.txn.dirty(u64::from(converted));
        ctx.reply.int(i64::from(converted));
    } else {
        return Err(unknown_subcommand(sub));
    }
    Ok(())
}

/// Redis prints the subcommand as a C string: it ends at the first NUL byte.
fn unknown_subcommand(sub: &[u8]) -> CmdError {
    let shown = sub.split(|&b| b == 0).next().unwrap_or_default();
    crate::err!(
        "ERR Unknown PFDEBUG subcommand '{}'",
        String::from_utf8_lossy(shown)
    )
}

#[cfg(test)]
mod tests;
