//! Tests of the sparse encoding: opcode edits checked byte by byte, a model-based property
//! test (raises behave like a plain register array), and a fuzz of every decoder with
//! arbitrary bytes under a sparse header (an error or an answer, never a panic).

use proptest::prelude::*;

use super::*;
use crate::cmd::hll::format::{self, DENSE_REGISTER_BYTES, SPARSE};

/// A sparse value from PFDEBUG DECODE's notation (`Z:1000 v:2,1 z:19`).
fn sparse_of(opcodes: &str) -> Vec<u8> {
    let mut bytes = format::new_empty();
    bytes.truncate(HEADER_BYTES);
    for op in opcodes.split_whitespace() {
        let (kind, args) = op.split_once(':').expect("kind:args");
        match kind {
            "z" | "Z" => {
                let len: usize = args.parse().expect("length");
                if kind == "z" {
                    bytes.push((len - 1) as u8);
                } else {
                    bytes.extend([XZERO_BIT | ((len - 1) >> 8) as u8, (len - 1) as u8]);
                }
            }
            _ => {
                let (value, len) = args.split_once(',').expect("value,len");
                bytes.push(val_byte(
                    value.parse().expect("value"),
                    len.parse().expect("len"),
                ));
            }
        }
    }
    bytes
}

fn registers(bytes: &[u8]) -> Result<Vec<u8>, Corrupt> {
    let mut dense_bytes = vec![0; DENSE_REGISTER_BYTES];
    fill_dense(bytes, &mut dense_bytes)?;
    Ok((0..REGISTERS)
        .map(|i| dense::get(&dense_bytes, i))
        .collect())
}

fn raised(opcodes: &str, index: usize, value: u8) -> String {
    let mut bytes = sparse_of(opcodes);
    raise(&mut bytes, index, value, usize::MAX).expect("valid");
    describe(&bytes)
}

#[test]
fn the_documented_example_encodes_byte_for_byte() {
    let mut bytes = format::new_empty();
    for (index, value) in [(1000, 2), (1020, 3), (1021, 3)] {
        assert_eq!(raise(&mut bytes, index, value, usize::MAX), Ok(Raised::Yes));
    }
    assert_eq!(describe(&bytes), "Z:1000 v:2,1 z:19 v:3,2 Z:15362");
    assert_eq!(
        &bytes[HEADER_BYTES..],
        &[0x43, 0xe7, 0x84, 0x12, 0x89, 0x7c, 0x01]
    );
    assert_eq!(
        bytes[HEADER_BYTES..],
        sparse_of("Z:1000 v:2,1 z:19 v:3,2 Z:15362")[HEADER_BYTES..]
    );
    assert_eq!(
        format::cached_card(&bytes),
        None,
        "the cache is invalidated"
    );
}

#[test]
fn splits_follow_the_run_kind() {
    // Zero runs: ZERO when the rest fits 64 registers, XZERO beyond.
    assert_eq!(raised("Z:16384", 0, 5), "v:5,1 Z:16383");
    assert_eq!(raised("Z:16384", 16383, 5), "Z:16383 v:5,1");
    assert_eq!(raised("Z:16384", 64, 5), "z:64 v:5,1 Z:16319");
    assert_eq!(raised("Z:16384", 65, 5), "Z:65 v:5,1 Z:16318");
    assert_eq!(raised("z:10 Z:16374", 3, 1), "z:3 v:1,1 z:6 Z:16374");
    // A ZERO of one becomes the VAL in place.
    assert_eq!(raised("z:1 Z:16383", 0, 7), "v:7,1 Z:16383");
    // VAL runs split around the register, or just change when they hold only it.
    assert_eq!(raised("v:2,4 Z:16380", 1, 3), "v:2,1 v:3,1 v:2,2 Z:16380");
    assert_eq!(raised("v:2,1 Z:16383", 0, 9), "v:9,1 Z:16383");
    // Lower or equal values change nothing.
    let mut bytes = sparse_of("v:2,4 Z:16380");
    assert_eq!(raise(&mut bytes, 2, 2, usize::MAX), Ok(Raised::No));
    assert_eq!(describe(&bytes), "v:2,4 Z:16380");
}

#[test]
fn equal_neighbours_merge_up_to_four() {
    assert_eq!(raised("v:3,1 z:1 Z:16382", 1, 3), "v:3,2 Z:16382");
    assert_eq!(raised("v:3,2 z:1 v:3,1 Z:16380", 2, 3), "v:3,4 Z:16380");
    assert_eq!(
        raised("v:3,3 z:1 v:3,1 Z:16379", 3, 3),
        "v:3,4 v:3,1 Z:16379"
    );
    // The scan starts at the opcode before the edit and looks at five opcodes at most.
    assert_eq!(
        raised("v:4,1 v:4,1 z:1 Z:16381", 2, 4),
        "v:4,1 v:4,2 Z:16381",
        "the opcode two before the edit is not looked at"
    );
    assert_eq!(
        raised("z:1 z:1 z:1 z:1 z:1 v:2,1 v:2,1 Z:16377", 1, 2),
        "z:1 v:2,1 z:1 z:1 z:1 v:2,1 v:2,1 Z:16377",
        "the pair at the sixth opcode is left as it is"
    );
}

#[test]
fn needs_dense_for_big_values_and_past_the_size_limit() {
    let mut bytes = format::new_empty();
    assert_eq!(raise(&mut bytes, 5, 33, usize::MAX), Ok(Raised::NeedsDense));
    let before = bytes.clone();
    // Splitting XZERO:16384 in the middle takes 3 more bytes.
    assert_eq!(raise(&mut bytes, 5000, 1, 20), Ok(Raised::NeedsDense));
    assert_eq!(bytes, before, "nothing changed");
    assert_eq!(raise(&mut bytes, 5000, 1, 21), Ok(Raised::Yes));
    assert_eq!(bytes.len(), 21);
    // Edits that do not grow the string are always made.
    assert_eq!(raise(&mut bytes, 5000, 2, 0), Ok(Raised::Yes));
}

#[test]
fn corrupt_runs_are_reported() {
    for bad in [
        "",
        "Z:16383",
        "Z:16384 z:1",
        "Z:16383 v:1,2",
        "v:1,4 Z:16384",
    ] {
        let bytes = sparse_of(bad);
        let mut histo = [0; 64];
        assert_eq!(histogram(&bytes, &mut histo), Err(Corrupt), "{bad:?}");
    }
    // Runs ending before the register cannot be edited.
    let mut short = sparse_of("Z:100");
    assert_eq!(raise(&mut short, 100, 1, usize::MAX), Err(Corrupt));
    // Runs past the last register make the value corrupt for every decoder, even when the
    // runs before them cover exactly 16384 registers.
    for bad in ["Z:16384 v:1,1", "Z:16384 z:1", "Z:16383 v:1,2"] {
        let bytes = sparse_of(bad);
        assert_eq!(registers(&bytes), Err(Corrupt), "{bad:?}");
        let mut max = [0; REGISTERS];
        assert_eq!(merge_into(&mut max, &bytes), Err(Corrupt), "{bad:?}");
    }
}

#[test]
fn a_truncated_xzero_reads_a_zero_byte() {
    let mut bytes = sparse_of("Z:16128");
    assert_eq!(bytes.len(), HEADER_BYTES + 2);
    bytes[HEADER_BYTES] = XZERO_BIT | 0x3f;
    bytes[HEADER_BYTES + 1] = 0xff;
    bytes.pop();
    assert_eq!(describe(&bytes), "Z:16129");
    // Raising register 0 splits it into VAL + XZERO:16128 (3 bytes for 2): the string grows
    // by one byte only, as Redis's does, cutting the new XZERO short too.
    raise(&mut bytes, 0, 1, usize::MAX).expect("found");
    assert_eq!(&bytes[HEADER_BYTES..], &[val_byte(1, 1), XZERO_BIT | 0x3e]);
}

#[test]
fn describe_shows_any_opcodes() {
    assert_eq!(describe(&format::new_empty()), "Z:16384");
    assert_eq!(describe(&sparse_of("")), "");
    assert_eq!(describe(&sparse_of("z:3 v:32,4 Z:65")), "z:3 v:32,4 Z:65");
}

proptest! {
    /// Raises on a sparse value agree with a plain array of registers, keep the value valid,
    /// and report growth exactly when a register grows.
    #[test]
    fn raises_behave_like_a_register_array(
        ops in proptest::collection::vec((0usize..REGISTERS, 1u8..=32), 0..300),
        span in prop_oneof![Just(REGISTERS), Just(64usize), Just(8usize)],
    ) {
        let mut bytes = format::new_empty();
        let mut model = vec![0u8; REGISTERS];
        for (index, value) in ops {
            // Narrow spans crowd the registers so VAL runs split and merge.
            let index = index % span + (REGISTERS - span) / 2;
            let outcome = raise(&mut bytes, index, value, usize::MAX).expect("valid");
            prop_assert_eq!(outcome == Raised::Yes, value > model[index]);
            model[index] = model[index].max(value);
        }
        prop_assert_eq!(registers(&bytes).expect("valid"), model);
        prop_assert!(histogram(&bytes, &mut [0; 64]).is_ok());
    }

    /// Arbitrary opcodes under a sparse header.
    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(
        body in proptest::collection::vec(any::<u8>(), 0..80),
        index in 0usize..REGISTERS,
        value in 1u8..=51,
        max_bytes in 0usize..200,
    ) {
        let mut bytes = format::new_empty();
        bytes.truncate(HEADER_BYTES);
        bytes.extend_from_slice(&body);
        check_decoders_agree(&bytes, index, value, max_bytes)?;
    }

    /// Valid values with a few bytes overwritten, as Redis's own fuzz test corrupts them.
    #[test]
    fn decoders_never_panic_on_corrupted_values(
        ops in proptest::collection::vec((0usize..REGISTERS, 1u8..=32), 0..100),
        damage in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..5),
        index in 0usize..REGISTERS,
        value in 1u8..=51,
        max_bytes in 0usize..400,
    ) {
        let mut bytes = format::new_empty();
        for (i, v) in ops {
            raise(&mut bytes, i, v, usize::MAX).expect("valid");
        }
        for (at, byte) in damage {
            let at = HEADER_BYTES + at % (bytes.len() - HEADER_BYTES);
            bytes[at] = byte;
        }
        check_decoders_agree(&bytes, index, value, max_bytes)?;
    }
}

/// Runs every decoder and editor over `bytes`: they must agree on validity and on the
/// registers, and never panic.
fn check_decoders_agree(
    bytes: &[u8],
    index: usize,
    value: u8,
    max_bytes: usize,
) -> Result<(), TestCaseError> {
    let mut histo = [0; 64];
    let counts = histogram(bytes, &mut histo).is_ok();
    let converts = registers(bytes);
    let mut max = [0; REGISTERS];
    let merges = merge_into(&mut max, bytes).is_ok();
    prop_assert_eq!(merges, converts.is_ok());
    prop_assert_eq!(counts, merges, "one validity rule for every decoder");
    if counts {
        let registers = converts.expect("a countable value converts");
        let mut from_dense = [0u32; 64];
        for r in &registers {
            from_dense[usize::from(*r)] += 1;
        }
        prop_assert_eq!(histo, from_dense);
        prop_assert!(max.iter().eq(registers.iter()));
    }
    prop_assert_eq!(format::count(bytes).is_ok(), counts);
    let _ = describe(bytes);
    let mut edited = bytes.to_vec();
    let _ = format::set_register(&mut edited, index, value, max_bytes);
    prop_assert!(format::check(&edited).is_ok());
    let _ = format::count(&edited);
    let mut converted = bytes.to_vec();
    if format::to_dense(&mut converted).is_ok() {
        prop_assert_eq!(converted[4], format::DENSE);
        prop_assert!(format::count(&converted).is_ok());
    } else {
        prop_assert_eq!(converted[4], SPARSE);
    }
    Ok(())
}
