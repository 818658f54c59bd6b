//! The sparse encoding: the registers in order, run-length coded with three opcodes.
//!
//! | opcode | bytes | meaning |
//! |---|---|---|
//! | ZERO | `00xxxxxx` | `x + 1` registers (1 to 64) at zero |
//! | XZERO | `01xxxxxx yyyyyyyy` | `(x << 8 \| y) + 1` registers (1 to 16384) at zero |
//! | VAL | `1vvvvvxx` | `x + 1` registers (1 to 4) at `v + 1` (1 to 32) |
//!
//! A valid value's runs cover exactly 16384 registers. Nothing checks that until the registers
//! are decoded, so every decoder here bounds its reads and reports [`Corrupt`] rather than
//! trusting the data: a value can come from SET, SETRANGE or RESTORE with any bytes in it.
//!
//! [`raise`] edits the opcodes in place exactly as Redis does (which run it splits, how, and
//! which neighbouring VAL runs it merges afterwards), so the same additions produce the same
//! bytes in both servers.

use smallvec::SmallVec;

use super::dense;
use super::format::{invalidate_cache, Corrupt, Histogram, HEADER_BYTES, REGISTERS};

const XZERO_BIT: u8 = 0x40;
const VAL_BIT: u8 = 0x80;
const OPCODE_MASK: u8 = 0xc0;
/// The largest register value a VAL opcode can hold; a larger one needs the dense encoding.
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_RUN: usize = 4;
const ZERO_MAX_RUN: usize = 64;
const XZERO_MAX_RUN: usize = 16384;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Zero,
    XZero,
    Val,
}

/// One decoded opcode: `len` registers holding `value`.
#[derive(Debug, Clone, Copy)]
struct Run {
    op: Op,
    value: u8,
    len: usize,
}

impl Run {
    fn size_bytes(&self) -> usize {
        if self.op == Op::XZero {
            2
        } else {
            1
        }
    }
}

/// Decodes the opcode at `pos` (which must be inside `bytes`).
///
/// An XZERO cut short by the end of the string reads its missing byte as zero. Redis reads
/// the byte after its string there: the terminating NUL, except after Redis itself edited such
/// a value, when it may have left an opcode byte in its place (see `replace`). Only values
/// corrupted on purpose end this way; this is a documented difference.
fn run_at(bytes: &[u8], pos: usize) -> Run {
    let b = bytes[pos];
    match b & OPCODE_MASK {
        0 => Run {
            op: Op::Zero,
            value: 0,
            len: usize::from(b & 0x3f) + 1,
        },
        XZERO_BIT => {
            let low = bytes.get(pos + 1).copied().unwrap_or(0);
            Run {
                op: Op::XZero,
                value: 0,
                len: (usize::from(b & 0x3f) << 8 | usize::from(low)) + 1,
            }
        }
        _ => Run {
            op: Op::Val,
            value: ((b >> 2) & 0x1f) + 1,
            len: usize::from(b & 0x03) + 1,
        },
    }
}

/// The runs of a sparse value with their positions, from the end of the header.
fn runs(bytes: &[u8]) -> impl Iterator<Item = (usize, Run)> + '_ {
    let mut pos = HEADER_BYTES;
    std::iter::from_fn(move || {
        if pos >= bytes.len() {
            return None;
        }
        let run = run_at(bytes, pos);
        let at = pos;
        pos += run.size_bytes();
        Some((at, run))
    })
}

fn val_byte(value: u8, len: usize) -> u8 {
    debug_assert!((1..=VAL_MAX_VALUE).contains(&value) && (1..=VAL_MAX_RUN).contains(&len));
    VAL_BIT | (value - 1) << 2 | (len - 1) as u8
}

/// Appends one opcode for `len` (at most 16384) zero registers: ZERO when it fits, else XZERO.
fn push_zero_run(out: &mut impl Extend<u8>, len: usize) {
    debug_assert!((1..=XZERO_MAX_RUN).contains(&len));
    if len > ZERO_MAX_RUN {
        let code = len - 1;
        out.extend([XZERO_BIT | (code >> 8) as u8, code as u8]);
    } else {
        out.extend([(len - 1) as u8]);
    }
}

/// Appends XZERO opcodes for `count` zero registers (how a new value starts).
pub fn push_zeros(bytes: &mut Vec<u8>, mut count: usize) {
    while count > 0 {
        let len = count.min(XZERO_MAX_RUN);
        let code = len - 1;
        bytes.extend([XZERO_BIT | (code >> 8) as u8, code as u8]);
        count -= len;
    }
}

// ---- Decoding -----------------------------------------------------------------------------

/// Writes the registers into dense register bytes (all zero on entry).
pub fn fill_dense(bytes: &[u8], registers: &mut [u8]) -> Result<(), Corrupt> {
    for_each_run(bytes, |first, run| {
        if run.op == Op::Val {
            for index in first..first + run.len {
                dense::set(registers, index, run.value);
            }
        }
    })
}

/// Raises each of `max` (one byte per register) to the matching register.
pub fn merge_into(max: &mut [u8; REGISTERS], bytes: &[u8]) -> Result<(), Corrupt> {
    for_each_run(bytes, |first, run| {
        for m in &mut max[first..first + run.len] {
            *m = (*m).max(run.value);
        }
    })
}

/// Counts the registers holding each value.
pub fn histogram(bytes: &[u8], histogram: &mut Histogram) -> Result<(), Corrupt> {
    for_each_run(bytes, |_, run| {
        histogram[usize::from(run.value)] += run.len as u32;
    })
}

/// Calls `visit` with each run and the register it starts at. The value is corrupt unless
/// its runs cover exactly the 16384 registers; a run that would pass the last register is
/// never visited. (Redis's decoders behave the same since the fix for CVE-2025-32023, which
/// Debian's 7.0.15 carries.)
fn for_each_run(bytes: &[u8], mut visit: impl FnMut(usize, Run)) -> Result<(), Corrupt> {
    let mut first = 0;
    for (_, run) in runs(bytes) {
        if first + run.len > REGISTERS {
            return Err(Corrupt);
        }
        visit(first, run);
        first += run.len;
    }
    if first == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// True if the last opcode is an XZERO missing its second byte, the one case where Redis's
/// answers depend on the byte after the string (see `run_at`).
#[cfg(test)]
pub fn ends_cut_short(bytes: &[u8]) -> bool {
    runs(bytes)
        .last()
        .is_some_and(|(pos, run)| pos + run.size_bytes() > bytes.len())
}

/// The opcodes as PFDEBUG DECODE shows them: `z:len`, `Z:len` and `v:value,len`, separated
/// by spaces. Shows whatever is there, valid or not.
pub fn describe(bytes: &[u8]) -> String {
    let parts: Vec<String> = runs(bytes)
        .map(|(_, run)| match run.op {
            Op::Zero => format!("z:{}", run.len),
            Op::XZero => format!("Z:{}", run.len),
            Op::Val => format!("v:{},{}", run.value, run.len),
        })
        .collect();
    parts.join(" ")
}

// ---- Editing ------------------------------------------------------------------------------

/// What [`raise`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raised {
    /// The register already held as much.
    No,
    /// The register grew (and the cached cardinality was invalidated).
    Yes,
    /// Nothing changed: the value does not fit a VAL opcode, or the edit would make the
    /// string longer than allowed. The caller converts to dense and sets the register there.
    NeedsDense,
}

/// The run holding a register, where it is, and the opcode before it.
struct Found {
    pos: usize,
    first: usize,
    prev: Option<usize>,
    run: Run,
}

fn find(bytes: &[u8], index: usize) -> Option<Found> {
    let (mut first, mut prev) = (0, None);
    for (pos, run) in runs(bytes) {
        if index < first + run.len {
            return Some(Found {
                pos,
                first,
                prev,
                run,
            });
        }
        prev = Some(pos);
        first += run.len;
    }
    None
}

/// Raises register `index` to `value` if it is lower, editing the opcodes in place. Fails
/// only if the runs end before reaching the register.
pub fn raise(
    bytes: &mut Vec<u8>,
    index: usize,
    value: u8,
    max_bytes: usize,
) -> Result<Raised, Corrupt> {
    if value > VAL_MAX_VALUE {
        return Ok(Raised::NeedsDense);
    }
    let Found {
        pos,
        first,
        prev,
        run,
    } = find(bytes, index).ok_or(Corrupt)?;
    if run.op == Op::Val && run.value >= value {
        return Ok(Raised::No);
    }
    if run.len == 1 && run.op != Op::XZero {
        // A run of just this register becomes a VAL run of one.
        bytes[pos] = val_byte(value, 1);
    } else {
        let split = split(run, first, index, value);
        let old_bytes = run.size_bytes();
        if split.len() > old_bytes && bytes.len() + split.len() - old_bytes > max_bytes {
            return Ok(Raised::NeedsDense);
        }
        replace(bytes, pos, old_bytes, &split);
    }
    merge_neighbours(bytes, prev.unwrap_or(HEADER_BYTES));
    invalidate_cache(bytes);
    Ok(Raised::Yes)
}

/// The opcodes replacing `run` (which starts at register `first`) once register `index` in it
/// holds `value`: what comes before it, a VAL of one, what comes after it. Up to 5 bytes.
fn split(run: Run, first: usize, index: usize, value: u8) -> SmallVec<[u8; 5]> {
    let last = first + run.len - 1;
    let mut out = SmallVec::new();
    let push_rest = |out: &mut SmallVec<[u8; 5]>, len: usize| match run.op {
        Op::Val => out.push(val_byte(run.value, len)),
        Op::Zero | Op::XZero => push_zero_run(out, len),
    };
    if index != first {
        push_rest(&mut out, index - first);
    }
    out.push(val_byte(value, 1));
    if index != last {
        push_rest(&mut out, last - index);
    }
    out
}

/// Replaces the `old_bytes` bytes of the opcode at `pos` with `new`.
fn replace(bytes: &mut Vec<u8>, pos: usize, old_bytes: usize, new: &[u8]) {
    let new_len = bytes.len() + new.len() - old_bytes;
    let old_end = (pos + old_bytes).min(bytes.len());
    bytes.splice(pos..old_end, new.iter().copied());
    // Only an XZERO cut short by the end of the string changes length differently from the
    // splice: Redis grows the string by the opcodes' size difference, so the last new byte
    // falls past the end. Do the same, so the bytes stay Redis's.
    bytes.truncate(new_len);
}

/// Merges adjacent VAL runs of equal value where their lengths fit one opcode, looking at up
/// to five opcodes from `start` (the opcode before the edited one), as Redis does.
fn merge_neighbours(bytes: &mut Vec<u8>, start: usize) {
    let mut pos = start;
    let mut opcodes_left = 5;
    while pos < bytes.len() && opcodes_left > 0 {
        opcodes_left -= 1;
        let run = run_at(bytes, pos);
        if run.op != Op::Val {
            pos += run.size_bytes();
            continue;
        }
        if pos + 1 < bytes.len() && bytes[pos + 1] & VAL_BIT != 0 {
            let next = run_at(bytes, pos + 1);
            if next.value == run.value && run.len + next.len <= VAL_MAX_RUN {
                bytes[pos + 1] = val_byte(run.value, run.len + next.len);
                bytes.remove(pos);
                // Stay here: the merged run may merge with the one after it too.
                continue;
            }
        }
        pos += 1;
    }
}

#[cfg(test)]
mod tests;
