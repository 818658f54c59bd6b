//! BITFIELD and BITFIELD_RO: integer fields of 1 to 64 bits (signed) or 1 to 63 bits
//! (unsigned, so every value fits a RESP integer) at any bit offset of a string.
//!
//! All operations are parsed and checked first; then the string is grown once, to the
//! farthest bit any write reaches, and the operations run in order. Overflow follows the
//! policy in force where each operation was written: WRAP (two's complement for signed fields,
//! modulo for unsigned), SAT (clamp), or FAIL (no write, a null reply).

use rudis_resp::Argv;

use super::{bit_offset_arg, bits, edit_bits};
use crate::cmd::string::{string_in, string_limit_bytes};
use crate::cmd::util::{int_arg, is};
use crate::command::error::{CmdError, SYNTAX};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::txn::event;
use rudis_resp::ReplyBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Get,
    Set(i64),
    IncrBy(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FieldType {
    signed: bool,
    bits: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Op {
    action: Action,
    field: FieldType,
    offset: u64,
    overflow: Overflow,
}

impl Op {
    /// The last bit a write touches.
    fn last_bit(&self) -> u64 {
        self.offset + u64::from(self.field.bits) - 1
    }
}

/// BITFIELD key [GET encoding offset | [OVERFLOW WRAP | SAT | FAIL] SET encoding offset value
/// | INCRBY encoding offset increment [GET encoding offset | ...]]
pub fn bitfield(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    run(ctx, argv, false)
}

/// BITFIELD_RO key [GET encoding offset [GET encoding offset ...]]
pub fn bitfield_ro(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    run(ctx, argv, true)
}

fn run(ctx: &mut Ctx, argv: Argv, read_only: bool) -> CmdResult {
    let key = argv.get(1);
    let ops = parse_ops(argv, string_limit_bytes(ctx))?;
    let last_write_bit = ops
        .iter()
        .filter(|op| op.action != Action::Get)
        .map(Op::last_bit)
        .max();
    let Some(last_write_bit) = last_write_bit else {
        let bytes = string_in(ctx.txn, key)?.unwrap_or_default();
        ctx.reply.array(ops.len());
        for op in &ops {
            ctx.reply.int(read_field(bytes, op));
        }
        return Ok(());
    };
    if read_only {
        return Err("ERR BITFIELD_RO only supports the GET subcommand".into());
    }
    let reply = &mut *ctx.reply;
    let changes = edit_bits(ctx.txn, key, last_write_bit, |bytes, grew| {
        reply.array(ops.len());
        ops.iter()
            .filter(|op| apply(bytes, op, grew, reply))
            .count()
    })?;
    if changes > 0 {
        ctx.txn.signal_modified(key);
        ctx.txn.notify(event::STRING, "setbit", key);
        ctx.txn.dirty(changes as u64);
    }
    Ok(())
}

/// Parses the operations, with Redis's checks and error texts, in argument order.
fn parse_ops(argv: Argv, limit_bytes: u64) -> Result<Vec<Op>, CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut i = 2;
    while i < argv.len() {
        let (name, after) = (argv.get(i), argv.len() - i - 1);
        let action = if is(name, "GET") && after >= 2 {
            Action::Get
        } else if is(name, "SET") && after >= 3 {
            Action::Set(0)
        } else if is(name, "INCRBY") && after >= 3 {
            Action::IncrBy(0)
        } else if is(name, "OVERFLOW") && after >= 1 {
            overflow = parse_overflow(argv.get(i + 1))?;
            i += 2;
            continue;
        } else {
            return Err(SYNTAX);
        };
        let field = parse_field_type(argv.get(i + 1))?;
        let offset = bit_offset_arg(argv.get(i + 2), Some(field.bits), limit_bytes)?;
        let action = match action {
            Action::Get => Action::Get,
            Action::Set(_) => Action::Set(int_arg(argv.get(i + 3))?),
            Action::IncrBy(_) => Action::IncrBy(int_arg(argv.get(i + 3))?),
        };
        ops.push(Op {
            action,
            field,
            offset,
            overflow,
        });
        i += if action == Action::Get { 3 } else { 4 };
    }
    Ok(ops)
}

fn parse_overflow(arg: &[u8]) -> Result<Overflow, CmdError> {
    if is(arg, "WRAP") {
        Ok(Overflow::Wrap)
    } else if is(arg, "SAT") {
        Ok(Overflow::Sat)
    } else if is(arg, "FAIL") {
        Ok(Overflow::Fail)
    } else {
        Err("ERR Invalid OVERFLOW type specified".into())
    }
}

/// `i<bits>` (1 to 64) or `u<bits>` (1 to 63), lowercase only.
fn parse_field_type(arg: &[u8]) -> Result<FieldType, CmdError> {
    let bad = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
    let (signed, digits) = match arg.split_first() {
        Some((b'i', rest)) => (true, rest),
        Some((b'u', rest)) => (false, rest),
        _ => return Err(bad.into()),
    };
    // Redis reads the width as a C string: it ends at the first NUL.
    let digits = digits.split(|&c| c == 0).next().unwrap_or_default();
    let max_bits = if signed { 64 } else { 63 };
    match rudis_resp::number::parse_i64(digits) {
        Some(bits) if (1..=max_bits).contains(&bits) => Ok(FieldType {
            signed,
            bits: bits as u32,
        }),
        _ => Err(bad.into()),
    }
}

/// The value of a GET, reading zeros past the end of the string.
fn read_field(bytes: &[u8], op: &Op) -> i64 {
    let FieldType { signed, bits } = op.field;
    if signed {
        bits::get_signed(bytes, op.offset, bits)
    } else {
        // At most 63 bits: always fits.
        bits::get_unsigned(bytes, op.offset, bits) as i64
    }
}

/// Runs one operation on `bytes` (which cover every written field) and writes its reply.
/// Returns true if it counts as a change: a write that altered the field, or any write to a
/// string that was just created or grown.
fn apply(bytes: &mut [u8], op: &Op, grew: bool, reply: &mut ReplyBuf) -> bool {
    let FieldType { signed, bits } = op.field;
    let (old, stored, answer) = match (op.action, signed) {
        (Action::Get, _) => {
            reply.int(read_field(bytes, op));
            return false;
        }
        (Action::Set(v), true) => {
            let old = bits::get_signed(bytes, op.offset, bits);
            let new = signed_result(v, 0, bits, op.overflow);
            (old as u64, new.map(|n| n as u64), old)
        }
        (Action::IncrBy(by), true) => {
            let old = bits::get_signed(bytes, op.offset, bits);
            let new = signed_result(old, by, bits, op.overflow);
            (old as u64, new.map(|n| n as u64), new.unwrap_or(0))
        }
        (Action::Set(v), false) => {
            let old = bits::get_unsigned(bytes, op.offset, bits);
            let new = unsigned_result(v as u64, 0, bits, op.overflow);
            (old, new, old as i64)
        }
        (Action::IncrBy(by), false) => {
            let old = bits::get_unsigned(bytes, op.offset, bits);
            let new = unsigned_result(old, by, bits, op.overflow);
            (old, new, new.unwrap_or(0) as i64)
        }
    };
    let Some(new) = stored else {
        reply.null();
        return false;
    };
    reply.int(answer);
    bits::set_unsigned(bytes, op.offset, bits, new);
    grew || old != new
}

/// `value + incr` for a signed field of `bits` bits, or `None` when it does not fit and the
/// policy is FAIL. Follows Redis's checks exactly, including how a SET value outside the
/// field's range is classified.
fn signed_result(value: i64, incr: i64, bits: u32, overflow: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let too_big = value > max
        || (bits != 64 && incr > max_incr)
        || (value >= 0 && incr > 0 && incr > max_incr);
    let too_small = value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr);
    if !too_big && !too_small {
        return Some(value.wrapping_add(incr));
    }
    match overflow {
        Overflow::Fail => None,
        Overflow::Sat => Some(if too_big { max } else { min }),
        Overflow::Wrap => {
            let sum = (value as u64).wrapping_add(incr as u64);
            if bits == 64 {
                return Some(sum as i64);
            }
            // Keep the low bits, with the field's sign bit extended above them.
            let high = u64::MAX << bits;
            let negative = sum & (1 << (bits - 1)) != 0;
            Some(if negative { sum | high } else { sum & !high } as i64)
        }
    }
}

/// `value + incr` for an unsigned field of `bits` (at most 63) bits, or `None` when it does
/// not fit and the policy is FAIL.
fn unsigned_result(value: u64, incr: i64, bits: u32, overflow: Overflow) -> Option<u64> {
    let max = (1u64 << bits) - 1;
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = value.wrapping_neg() as i64;
    let too_big = value > max || (incr > 0 && incr > max_incr);
    let too_small = incr < 0 && incr < min_incr;
    if !too_big && !too_small {
        return Some(value.wrapping_add(incr as u64));
    }
    match overflow {
        Overflow::Fail => None,
        Overflow::Sat => Some(if too_big { max } else { 0 }),
        Overflow::Wrap => Some(value.wrapping_add(incr as u64) & max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_types() {
        let t = |s: &[u8]| parse_field_type(s).ok();
        assert_eq!(
            t(b"i64"),
            Some(FieldType {
                signed: true,
                bits: 64
            })
        );
        assert_eq!(
            t(b"u63"),
            Some(FieldType {
                signed: false,
                bits: 63
            })
        );
        assert_eq!(t(b"u64"), None);
        assert_eq!(t(b"i65"), None);
        assert_eq!(t(b"i0"), None);
        assert_eq!(t(b"I8"), None);
        assert_eq!(t(b"u"), None);
        assert_eq!(t(b""), None);
        assert_eq!(t(b"i+8"), None);
        assert_eq!(t(b"i8\0x").map(|f| f.bits), Some(8));
    }

    #[test]
    fn signed_overflow() {
        use Overflow::*;
        assert_eq!(signed_result(100, 27, 8, Fail), Some(127));
        assert_eq!(signed_result(100, 28, 8, Fail), None);
        assert_eq!(signed_result(100, 28, 8, Sat), Some(127));
        assert_eq!(signed_result(100, 28, 8, Wrap), Some(-128));
        assert_eq!(signed_result(-100, -29, 8, Sat), Some(-128));
        assert_eq!(signed_result(-100, -29, 8, Wrap), Some(127));
        assert_eq!(signed_result(i64::MAX, 1, 64, Wrap), Some(i64::MIN));
        assert_eq!(signed_result(i64::MAX, 1, 64, Sat), Some(i64::MAX));
        assert_eq!(signed_result(i64::MIN, -1, 64, Sat), Some(i64::MIN));
        assert_eq!(signed_result(i64::MIN, -1, 64, Fail), None);
        // A SET value out of range.
        assert_eq!(signed_result(200, 0, 8, Wrap), Some(-56));
        assert_eq!(signed_result(-200, 0, 8, Sat), Some(-128));
    }

    #[test]
    fn unsigned_overflow() {
        use Overflow::*;
        assert_eq!(unsigned_result(250, 5, 8, Fail), Some(255));
        assert_eq!(unsigned_result(250, 6, 8, Wrap), Some(0));
        assert_eq!(unsigned_result(250, 6, 8, Sat), Some(255));
        assert_eq!(unsigned_result(5, -6, 8, Sat), Some(0));
        assert_eq!(unsigned_result(5, -6, 8, Wrap), Some(255));
        assert_eq!(unsigned_result(5, -6, 8, Fail), None);
        assert_eq!(unsigned_result(300, 0, 8, Wrap), Some(44));
        assert_eq!(unsigned_result((-1i64) as u64, 0, 8, Sat), Some(255));
    }

    #[test]
    fn writes_count_changes() {
        let op = |action| Op {
            action,
            field: FieldType {
                signed: false,
                bits: 8,
            },
            offset: 0,
            overflow: Overflow::Wrap,
        };
        let mut bytes = [7u8];
        let mut reply = ReplyBuf::new();
        assert!(!apply(&mut bytes, &op(Action::Set(7)), false, &mut reply));
        assert!(apply(&mut bytes, &op(Action::Set(7)), true, &mut reply));
        assert!(apply(&mut bytes, &op(Action::IncrBy(1)), false, &mut reply));
        assert_eq!(bytes, [8]);
        assert_eq!(reply.as_bytes(), b":7\r\n:7\r\n:8\r\n");
    }
}
