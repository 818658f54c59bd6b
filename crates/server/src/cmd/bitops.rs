//! Bit commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.
//!
//! A string is a bitmap whose bit 0 is the most significant bit of its first byte; bits past
//! its end read as 0. Writers grow it, zero-filled, through [`edit_bits`], only after the bit
//! offset was checked against proto-max-bulk-len ([`bit_offset_arg`]), and leave it marked as
//! edited in place (`FLAG_RAW`), as Redis does. The bit arithmetic is in `bits`; BITFIELD's
//! parsing and overflow rules are in `bitfield`.

mod bitfield;
mod bits;

use rudis_resp::Argv;

use super::string::{get_range, string_in, string_limit_bytes};
use super::util::{int_arg, is};
use crate::command::error::{CmdError, SYNTAX, WRONGTYPE};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::bytes::CompactBytes;
use crate::keyspace::txn::{event, Lookup, Txn};
use crate::keyspace::value::FLAG_RAW;
use crate::keyspace::Value;
use rudis_resp::number::parse_i64;

const B: u64 = acl::BITMAP;
const RO_ACCESS: &[KeySpec] = &[KeySpec::one(1, keyflag::RO | keyflag::ACCESS)];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("setbit", 4, setbit)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(B)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::ACCESS | keyflag::UPDATE)])
        .doc("bitmap", "Sets or clears the bit at offset in the string value stored at key", "2.2.0", "O(1)"),
    CommandSpec::new("getbit", 3, getbit)
        .flags(flag::READONLY | flag::FAST)
        .acl(B)
        .keys(RO_ACCESS)
        .doc("bitmap", "Returns the bit value at offset in the string value stored at key", "2.2.0", "O(1)"),
    CommandSpec::new("bitcount", -2, bitcount)
        .flags(flag::READONLY)
        .acl(B)
        .keys(RO_ACCESS)
        .doc("bitmap", "Count set bits in a string", "2.6.0", "O(N)"),
    CommandSpec::new("bitpos", -3, bitpos)
        .flags(flag::READONLY)
        .acl(B)
        .keys(RO_ACCESS)
        .doc("bitmap", "Find first bit set or clear in a string", "2.8.7", "O(N)"),
    CommandSpec::new("bitop", -4, bitop)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(B)
        .keys(&[
            KeySpec::one(2, keyflag::OW | keyflag::UPDATE),
            KeySpec::range(3, -1, 1, keyflag::RO | keyflag::ACCESS),
        ])
        .doc("bitmap", "Perform bitwise operations between strings", "2.6.0", "O(N)"),
    CommandSpec::new("bitfield", -2, bitfield::bitfield)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(B)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::UPDATE | keyflag::ACCESS | keyflag::VARIABLE_FLAGS)
            .notes("This command allows both access and modification of the key")])
        .doc("bitmap", "Perform arbitrary bitfield integer operations on strings", "3.2.0", "O(1) for each subcommand specified"),
    CommandSpec::new("bitfield_ro", -2, bitfield::bitfield_ro)
        .flags(flag::READONLY | flag::FAST)
        .acl(B)
        .keys(RO_ACCESS)
        .doc("bitmap", "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD", "6.0.0", "O(1) for each subcommand specified"),
];

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// A bit offset argument. With `field_bits`, a `#n` offset means `n * field_bits` (BITFIELD).
/// The byte it falls in must be below `limit_bytes` (see [`string_limit_bytes`]), so no
/// client can make us allocate more than that.
fn bit_offset_arg(arg: &[u8], field_bits: Option<u32>, limit_bytes: u64) -> Result<u64, CmdError> {
    let (digits, times) = match (arg.split_first(), field_bits) {
        (Some((b'#', rest)), Some(bits)) => (rest, i64::from(bits)),
        _ => (arg, 1),
    };
    // Redis multiplies in 64-bit two's complement; a wrapped product is judged like any other.
    let offset = parse_i64(digits).ok_or(BAD_OFFSET)?.wrapping_mul(times);
    if offset < 0 || (offset as u64 >> 3) >= limit_bytes {
        return Err(BAD_OFFSET.into());
    }
    Ok(offset as u64)
}

/// Runs `edit` on the bytes of the string at `key`, created or zero-padded so that bit
/// `max_bit` exists; `edit` learns whether the string was created or grew. The string is left
/// marked as edited in place, even if `edit` changes nothing, as Redis does.
fn edit_bits<R>(
    txn: &mut Txn<'_>,
    key: &[u8],
    max_bit: u64,
    edit: impl FnOnce(&mut [u8], bool) -> R,
) -> Result<R, CmdError> {
    let len = (max_bit >> 3) as usize + 1;
    match txn.get_mut(key) {
        Some(e) => {
            let Value::Str(s) = &mut e.value else {
                return Err(WRONGTYPE);
            };
            let bytes = s.make_growable();
            let grew = bytes.len() < len;
            if grew {
                bytes.resize(len, 0);
            }
            e.flags |= FLAG_RAW;
            Ok(edit(bytes, grew))
        }
        None => {
            let mut bytes = vec![0u8; len];
            let result = edit(&mut bytes, true);
            let value = Value::Str(CompactBytes::Growable(Box::new(bytes)));
            txn.add(key, value).flags |= FLAG_RAW;
            Ok(result)
        }
    }
}

/// SETBIT key offset value
fn setbit(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    let offset = bit_offset_arg(argv.get(2), None, string_limit_bytes(ctx))?;
    let bad_bit = "ERR bit is not an integer or out of range";
    let on = match parse_i64(argv.get(3)).ok_or(bad_bit)? {
        0 => false,
        1 => true,
        _ => return Err(bad_bit.into()),
    };
    let (was_on, changed) = edit_bits(ctx.txn, key, offset, |bytes, grew| {
        let was_on = bits::get_bit(bytes, offset);
        let changed = grew || was_on != on;
        if changed {
            bits::set_bit(bytes, offset, on);
        }
        (was_on, changed)
    })?;
    if changed {
        ctx.txn.signal_modified(key);
        ctx.txn.notify(event::STRING, "setbit", key);
        ctx.txn.dirty(1);
    }
    ctx.reply.int(i64::from(was_on));
    Ok(())
}

/// GETBIT key offset
fn getbit(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let offset = bit_offset_arg(argv.get(2), None, string_limit_bytes(ctx))?;
    let bytes = string_in(ctx.txn, argv.get(1))?.unwrap_or_default();
    ctx.reply.int(i64::from(bits::get_bit(bytes, offset)));
    Ok(())
}

/// `BYTE` or `BIT`: true for bits.
fn unit_is_bit(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "BIT") {
        Ok(true)
    } else if is(arg, "BYTE") {
        Ok(false)
    } else {
        Err(SYNTAX)
    }
}

/// An index range over a string of `len_bytes` bytes, counted in bytes or bits, as the bit
/// positions it covers: `None` if empty.
fn bit_range(start: i64, end: i64, len_bytes: usize, in_bits: bool) -> Option<(u64, u64)> {
    let len = len_bytes as i64;
    if in_bits {
        let (first, last) = get_range(start, end, len.saturating_mul(8))?;
        Some((first as u64, last as u64))
    } else {
        let (first, last) = get_range(start, end, len)?;
        Some((first as u64 * 8, last as u64 * 8 + 7))
    }
}

/// BITCOUNT key [start end [BYTE | BIT]]
fn bitcount(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    // A missing key counts 0 whatever the other arguments, as in Redis.
    let Some(bytes) = string_in(ctx.txn, argv.get(1))? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let count = match argv.len() {
        2 => bits::count_ones(bytes),
        4 | 5 => {
            let start = int_arg(argv.get(2))?;
            let end = int_arg(argv.get(3))?;
            if start < 0 && end < 0 && start > end {
                ctx.reply.int(0);
                return Ok(());
            }
            let in_bits = argv.len() == 5 && unit_is_bit(argv.get(4))?;
            bit_range(start, end, bytes.len(), in_bits).map_or(0, |(first, last)| {
                bits::count_ones_between(bytes, first, last)
            })
        }
        _ => return Err(SYNTAX),
    };
    ctx.reply.int(count as i64);
    Ok(())
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
fn bitpos(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let bit = match int_arg(argv.get(2))? {
        0 => false,
        1 => true,
        _ => return Err("ERR The bit argument must be 1 or 0.".into()),
    };
    // A missing key is an endless run of zeros.
    let Some(bytes) = string_in(ctx.txn, argv.get(1))? else {
        ctx.reply.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let (start, end, in_bits) = match argv.len() {
        3 => (0, None, false),
        4..=6 => {
            let start = int_arg(argv.get(3))?;
            let in_bits = argv.len() == 6 && unit_is_bit(argv.get(5))?;
            let end = if argv.len() >= 5 {
                Some(int_arg(argv.get(4))?)
            } else {
                None
            };
            (start, end, in_bits)
        }
        _ => return Err(SYNTAX),
    };
    let Some((first, last)) = bit_range(start, end.unwrap_or(-1), bytes.len(), in_bits) else {
        ctx.reply.int(-1);
        return Ok(());
    };
    let pos = match bits::find_bit(bytes, first, last, bit) {
        Some(p) => p as i64,
        // Without an explicit end, the string counts as zero-padded on the right, so the
        // first clear bit may be the one just past it.
        None if !bit && end.is_none() => last as i64 + 1,
        None => -1,
    };
    ctx.reply.int(pos);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP AND | OR | XOR | NOT destkey key [key ...]
fn bitop(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let name = argv.get(1);
    let op = [
        ("AND", BitOp::And),
        ("OR", BitOp::Or),
        ("XOR", BitOp::Xor),
        ("NOT", BitOp::Not),
    ]
    .into_iter()
    .find_map(|(n, op)| is(name, n).then_some(op))
    .ok_or(SYNTAX)?;
    if op == BitOp::Not && argv.len() != 4 {
        return Err("ERR BITOP NOT must be called with a single source key.".into());
    }
    // First the type checks and the longest source, then the result in one buffer.
    let mut max_len = 0;
    for i in 3..argv.len() {
        if let Some(bytes) = string_in(ctx.txn, argv.get(i))? {
            max_len = max_len.max(bytes.len());
        }
    }
    let dest = argv.get(2);
    if max_len == 0 {
        if ctx.txn.remove(dest).is_some() {
            ctx.txn.signal_modified(dest);
            ctx.txn.notify(event::GENERIC, "del", dest);
            ctx.txn.dirty(1);
        }
        ctx.reply.int(0);
        return Ok(());
    }
    let result = combine(ctx.txn, op, argv, max_len);
    ctx.txn.get_mut(dest);
    ctx.txn
        .set(dest, Value::Str(CompactBytes::from_vec(result)), false);
    let db = ctx.txn.db;
    if let Some(e) = ctx.txn.lookup(db, dest, Lookup::Peek) {
        e.flags |= FLAG_RAW;
    }
    ctx.txn.signal_modified(dest);
    ctx.txn.notify(event::STRING, "set", dest);
    ctx.txn.dirty(1);
    ctx.reply.int(max_len as i64);
    Ok(())
}

/// Applies `op` to the source keys (arguments 3 and up, known to be strings or missing),
/// missing bytes counting as zeros, into a result of `len` bytes.
fn combine(txn: &mut Txn<'_>, op: BitOp, argv: Argv, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for i in 3..argv.len() {
        let src = txn
            .lookup(txn.db, argv.get(i), Lookup::Peek)
            .and_then(|e| e.value.as_str())
            .unwrap_or_default();
        if i == 3 {
            out[..src.len()].copy_from_slice(src);
            continue;
        }
        let pairs = out.iter_mut().zip(src);
        match op {
            BitOp::And => {
                pairs.for_each(|(o, s)| *o &= s);
                out[src.len()..].fill(0);
            }
            BitOp::Or => pairs.for_each(|(o, s)| *o |= s),
            BitOp::Xor => pairs.for_each(|(o, s)| *o ^= s),
            BitOp::Not => {}
        }
    }
    if op == BitOp::Not {
        out.iter_mut().for_each(|b| *b = !*b);
    }
    out
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn offsets_are_checked_before_use() {
        let limit = 512 * 1024 * 1024;
        assert_eq!(bit_offset_arg(b"7", None, limit), Ok(7));
        assert_eq!(bit_offset_arg(b"#3", Some(8), limit), Ok(24));
        assert!(bit_offset_arg(b"#3", None, limit).is_err());
        assert!(bit_offset_arg(b"-1", None, limit).is_err());
        assert!(bit_offset_arg(b"4294967296", None, limit).is_err());
        assert_eq!(bit_offset_arg(b"4294967295", None, limit), Ok(4294967295));
        assert!(bit_offset_arg(b"#-1", Some(8), limit).is_err());
        assert!(bit_offset_arg(b"#9223372036854775807", Some(8), limit).is_err());
        assert!(bit_offset_arg(b"", None, limit).is_err());
    }

    #[test]
    fn ranges_in_bytes_and_bits() {
        assert_eq!(bit_range(0, -1, 2, false), Some((0, 15)));
        assert_eq!(bit_range(1, 1, 2, false), Some((8, 15)));
        assert_eq!(bit_range(5, 30, 2, true), Some((5, 15)));
        assert_eq!(bit_range(-3, -1, 2, true), Some((13, 15)));
        assert_eq!(bit_range(3, 1, 2, true), None);
        assert_eq!(bit_range(0, -1, 0, false), None);
    }
}

#[cfg(test)]
mod tests;
