//! The commands that visit the slots of a database rather than named keys: SCAN and
//! RANDOMKEY lock one slot at a time (flag `WALKS_SLOTS`), KEYS walks them all under the
//! exclusive gate.
//!
//! SCAN's cursor is one 64-bit number holding two positions: the slot in its low 14 bits and
//! that slot's [`Dict`](crate::keyspace::dict::Dict) cursor above them. Slots are visited in
//! ascending order and each slot's table with Redis's reverse-binary cursor, so Redis's
//! guarantee carries over unchanged: a key present for the whole iteration lives in one slot
//! for all of it, that slot is visited once, and its table scan returns every element
//! present throughout even if the table is resized between calls. The cursor returns to 0
//! only after the last slot. A table of up to 2^50 buckets fits the 50 high bits.

use rudis_resp::Argv;

use super::count_lookup;
use crate::command::error::{CmdError, NOT_INTEGER, SYNTAX};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::dict::Keyed;
use crate::keyspace::slot::{key_slot, SLOTS};
use crate::keyspace::txn::Lookup;
use crate::util::glob;

/// Bits of a SCAN cursor holding the slot.
const SLOT_BITS: u32 = 14;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;

/// Joins a slot and a position in its table into a SCAN cursor.
fn encode_cursor(slot: usize, dict_cursor: u64) -> u64 {
    debug_assert!(slot < SLOTS && dict_cursor >> (64 - SLOT_BITS) == 0);
    (dict_cursor << SLOT_BITS) | slot as u64
}

/// Splits a SCAN cursor into the slot and the position in its table. Every value is valid.
fn decode_cursor(cursor: u64) -> (usize, u64) {
    ((cursor & SLOT_MASK) as usize, cursor >> SLOT_BITS)
}

/// Parses a cursor as C's `strtoul` does, which Redis uses: an optional sign (a minus
/// negates modulo 2^64), decimal digits, nothing else; empty means 0; leading whitespace and
/// overflow are errors.
fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::from("ERR invalid cursor");
    if arg.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut value: u64 = 0;
    for &d in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// SCAN's options.
struct ScanOptions<'a> {
    /// How many keys to visit before returning (a hint).
    count: usize,
    pattern: Option<&'a [u8]>,
    type_name: Option<&'a [u8]>,
}

fn parse_scan_options<'a>(argv: Argv<'a>, first: usize) -> Result<ScanOptions<'a>, CmdError> {
    let mut opts = ScanOptions {
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = first;
    while i < argv.len() {
        let (name, value) = (argv.get(i), argv.try_get(i + 1).ok_or(SYNTAX)?);
        if name.eq_ignore_ascii_case(b"count") {
            let n = rudis_resp::number::parse_i64(value).ok_or(NOT_INTEGER)?;
            if n < 1 {
                return Err(SYNTAX);
            }
            opts.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if name.eq_ignore_ascii_case(b"match") {
            // A lone `*` matches everything: no need to test each key.
            opts.pattern = (value != b"*").then_some(value);
        } else if name.eq_ignore_ascii_case(b"type") {
            opts.type_name = Some(value);
        } else {
            return Err(SYNTAX);
        }
        i += 2;
    }
    Ok(opts)
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
pub(super) fn scan(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let cursor = parse_cursor(argv.get(1))?;
    let opts = parse_scan_options(argv, 2)?;
    let db = ctx.txn.db;
    let mut keys = Vec::new();
    let dbref = ctx.txn.keyspace().db(db);
    let next = if dbref.is_allocated() && dbref.key_count() > 0 {
        scan_slots(ctx, db, cursor, &opts, &mut keys)
    } else {
        0
    };
    ctx.reply.array(2);
    ctx.reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.reply.bulks(keys.iter().map(Vec::as_slice));
    Ok(())
}

/// Visits slots from `cursor` until about `count` keys were seen (or ten times as many table
/// buckets, as Redis bounds sparse tables), appending the keys that pass the filters to
/// `out`. Empty slots cost one lock each and count for nothing. Returns the next cursor.
///
/// When the pattern pins the hash slot (`user:{42}:*`), only that slot can hold matching
/// keys: the scan starts there and ends after it.
fn scan_slots(
    ctx: &mut Ctx,
    db: usize,
    cursor: u64,
    opts: &ScanOptions,
    out: &mut Vec<Vec<u8>>,
) -> u64 {
    let (mut slot, mut dict_cursor) = decode_cursor(cursor);
    let mut end = SLOTS;
    if let Some(only) = opts.pattern.and_then(pattern_slot).map(usize::from) {
        if slot > only {
            return 0;
        }
        if slot < only {
            (slot, dict_cursor) = (only, 0);
        }
        end = only + 1;
    }
    let mut seen = 0usize;
    let mut buckets_left = opts.count.saturating_mul(10);
    loop {
        let mut batch = Vec::new();
        let table = &ctx.txn.shard_at(db, slot as u16).keys;
        if table.is_empty() {
            dict_cursor = 0;
        }
        while !table.is_empty() {
            dict_cursor = table.scan(dict_cursor, |e| batch.push(e.key().to_vec()));
            buckets_left = buckets_left.saturating_sub(1);
            if dict_cursor == 0 || seen + batch.len() >= opts.count || buckets_left == 0 {
                break;
            }
        }
        seen += batch.len();
        filter_keys(ctx, db, batch, opts, out);
        ctx.txn.release_shards();
        if dict_cursor == 0 {
            slot += 1;
            if slot == end {
                return 0;
            }
        }
        if seen >= opts.count || buckets_left == 0 {
            if dict_cursor == 0 {
                // Skip the empty slots ahead, so a scan that has seen every key ends now.
                slot = next_nonempty_slot(ctx, db, slot, end);
                if slot == end {
                    return 0;
                }
            }
            return encode_cursor(slot, dict_cursor);
        }
    }
}

/// The first slot in `slot..end` holding keys, or `end` if there is none.
fn next_nonempty_slot(ctx: &mut Ctx, db: usize, mut slot: usize, end: usize) -> usize {
    while slot < end {
        let empty = ctx.txn.shard_at(db, slot as u16).keys.is_empty();
        ctx.txn.release_shards();
        if !empty {
            break;
        }
        slot += 1;
    }
    slot
}

/// The one hash slot every key matching `pattern` must be in, if the pattern fixes it: a
/// literal prefix (no glob or escape characters) containing a complete, non-empty `{tag}`.
/// Such a key starts with the same bytes, so its first `{` and the `}` after it are the
/// pattern's, and its slot is the tag's.
fn pattern_slot(pattern: &[u8]) -> Option<u16> {
    let special = |c: &u8| matches!(c, b'*' | b'?' | b'[' | b'\\');
    let open = pattern.iter().position(|&c| c == b'{')?;
    let len = pattern[open + 1..].iter().position(|&c| c == b'}')?;
    let literal = &pattern[..open + 1 + len];
    if len == 0 || literal.iter().any(special) {
        return None;
    }
    Some(key_slot(&pattern[open + 1..open + 1 + len]))
}

/// Keeps the keys of one slot (still locked) that match the pattern and type and have not
/// expired; expired ones are deleted on the way, as any lookup does.
fn filter_keys(
    ctx: &mut Ctx,
    db: usize,
    batch: Vec<Vec<u8>>,
    opts: &ScanOptions,
    out: &mut Vec<Vec<u8>>,
) {
    for key in batch {
        if opts.pattern.is_some_and(|p| !glob::matches(p, &key, false)) {
            continue;
        }
        if let Some(wanted) = opts.type_name {
            let found = ctx
                .txn
                .lookup(db, &key, Lookup::Peek)
                .map(|e| e.value.type_name());
            count_lookup(ctx, &key, found.is_some());
            if !wanted.eq_ignore_ascii_case(found.unwrap_or("none").as_bytes()) {
                continue;
            }
        }
        if ctx.txn.lookup(db, &key, Lookup::Peek).is_none() {
            continue;
        }
        out.push(key);
    }
}

/// KEYS pattern
pub(super) fn keys(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let pattern = argv.get(1);
    let everything = pattern == b"*";
    let (db, now_ms) = (ctx.txn.db, ctx.txn.now_ms);
    let header = ctx.reply.begin_deferred();
    let mut n = 0;
    if ctx.txn.keyspace().db(db).is_allocated() {
        for slot in 0..SLOTS {
            let shard = ctx.txn.shard_at(db, slot as u16);
            for entry in shard.keys.iter() {
                let key = entry.key();
                if !everything && !glob::matches(pattern, key, false) {
                    continue;
                }
                // Expired keys are hidden but, as in Redis, not deleted here.
                let expired = entry.has_expire()
                    && shard.expires().get(key).is_some_and(|e| e.at_ms <= now_ms);
                if !expired {
                    ctx.reply.bulk(key);
                    n += 1;
                }
            }
            ctx.txn.release_shards();
        }
    }
    ctx.reply.finish_array(header, n);
    Ok(())
}

// ---- RANDOMKEY ------------------------------------------------------------------------------

/// On a replica expired keys are only hidden, so a database of expired keys would never yield
/// a live one: give up after this many tries and return an expired name, as Redis does.
const REPLICA_TRIES: usize = 100;
/// Probe random slots only while the expected number of probes stays below this; sparser
/// databases are swept once instead.
const PROBES_EXPECTED_MAX: usize = 512;

/// RANDOMKEY
pub(super) fn randomkey(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let db = ctx.txn.db;
    let mut rng = fastrand::Rng::new();
    let mut tries = 0;
    loop {
        let Some(slot) = random_slot(ctx, db, &mut rng) else {
            ctx.reply.null();
            return Ok(());
        };
        let key = ctx
            .txn
            .shard_at(db, slot)
            .keys
            .random(&mut rng)
            .map(|e| e.key().to_vec());
        let Some(key) = key else {
            ctx.txn.release_shards();
            continue;
        };
        tries += 1;
        // Expires the key lazily (on a primary), so each failed try removes one.
        let live = ctx.txn.lookup(db, &key, Lookup::Peek).is_some();
        ctx.txn.release_shards();
        if live || (ctx.txn.replica && tries >= REPLICA_TRIES) {
            ctx.reply.bulk(&key);
            return Ok(());
        }
    }
}

/// Picks a non-empty slot, each with a probability close to its share of the keys, and
/// returns it still locked; `None` if the database is empty.
///
/// A dense database is probed at random slots, accepting a slot with probability
/// `len / cap` (rejection sampling, so keys in crowded slots are not under-represented; `cap`
/// sits well above the typical slot size, and only slots holding more than `cap` keys, which
/// takes hash tags, are drawn less often than their share). A sparse one would need too many probes, so its
/// slot sizes are read in one sweep and a slot drawn by weight.
fn random_slot(ctx: &mut Ctx, db: usize, rng: &mut fastrand::Rng) -> Option<u16> {
    let dbref = ctx.txn.keyspace().db(db);
    if !dbref.is_allocated() || dbref.key_count() == 0 {
        return None;
    }
    let keys = dbref.key_count() as f64;
    let per_slot = keys / SLOTS as f64;
    let cap = (2.0 * per_slot + 3.0 * per_slot.sqrt() + 4.0).ceil() as usize;
    let expected_probes = SLOTS as f64 * cap as f64 / keys;
    if expected_probes <= PROBES_EXPECTED_MAX as f64 {
        for _ in 0..PROBES_EXPECTED_MAX * 4 {
            let slot = rng.u16(..SLOTS as u16);
            let len = ctx.txn.shard_at(db, slot).keys.len();
            if len > 0 && rng.usize(..cap) < len {
                return Some(slot);
            }
            ctx.txn.release_shards();
        }
    }
    weighted_sweep(ctx, db, rng)
}

/// Reads every slot's size, draws a slot by weight and locks it. Sweeps again in the rare
/// case the slot emptied in between.
fn weighted_sweep(ctx: &mut Ctx, db: usize, rng: &mut fastrand::Rng) -> Option<u16> {
    loop {
        let mut sizes = Vec::new();
        let mut total = 0;
        for slot in 0..SLOTS as u16 {
            let len = ctx.txn.shard_at(db, slot).keys.len();
            ctx.txn.release_shards();
            if len > 0 {
                sizes.push((slot, len));
                total += len;
            }
        }
        if total == 0 {
            return None;
        }
        let mut pick = rng.usize(..total);
        let &(slot, _) = sizes
            .iter()
            .find(|&&(_, len)| {
                let hit = pick < len;
                pick = pick.saturating_sub(len);
                hit
            })
            .expect("pick is below the total");
        if !ctx.txn.shard_at(db, slot).keys.is_empty() {
            return Some(slot);
        }
        ctx.txn.release_shards();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        for (slot, dc) in [(0, 0), (1, 0), (16383, 0), (5, 7), (16383, (1 << 50) - 1)] {
            assert_eq!(decode_cursor(encode_cursor(slot, dc)), (slot, dc));
        }
        assert_eq!(encode_cursor(0, 0), 0, "the start is cursor 0");
        assert_eq!(decode_cursor(u64::MAX), (16383, (1 << 50) - 1));
    }

    #[test]
    fn patterns_that_pin_a_slot() {
        let tag = Some(key_slot(b"42"));
        assert_eq!(pattern_slot(b"user:{42}:*"), tag);
        assert_eq!(pattern_slot(b"{42}"), tag);
        assert_eq!(pattern_slot(b"{42}*{x}"), tag);
        for free in [
            &b"user:*"[..],
            b"*{42}",
            b"u?er:{42}",
            b"[a]{42}",
            b"{4*2}",
            b"{}x",
            b"{42",
            b"a\\{42}",
        ] {
            assert_eq!(
                pattern_slot(free),
                None,
                "{}",
                String::from_utf8_lossy(free)
            );
        }
        for key in [&b"user:{42}:1"[..], b"user:{42}:{x}", b"user:{42}:"] {
            assert!(glob::matches(b"user:{42}:*", key, false));
            assert_eq!(Some(key_slot(key)), tag, "{}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn cursor_parsing_follows_strtoul() {
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b"+12"), Ok(12));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [
            &b"18446744073709551616"[..],
            b" 1",
            b"1 ",
            b"abc",
            b"1x",
            b"-",
            b"+",
            b"0x10",
        ] {
            assert!(
                parse_cursor(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
