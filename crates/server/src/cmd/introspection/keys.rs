//! The keys of a command as COMMAND GETKEYS and GETKEYSANDFLAGS report them, with the flags
//! saying how each key is accessed.
//!
//! Key specs are preferred when they describe every key and their flags are fixed. Otherwise
//! the command's own extractor decides: SET and BITFIELD (whose flags depend on options) are
//! resolved here; other commands use their declared `getkeys` positions, with the flags Redis
//! gives them (SORT's source is read, its STORE target overwritten; MIGRATE deletes).
//!
//! Unlike [`crate::command::spec::key_positions`], which the gate uses to lock shards and
//! which is lenient, this is strict: a spec that does not fit the arguments (a key count that
//! is not a number, a range past the end) makes the whole extraction fail.

use std::ops::Range;

use rudis_resp::number::parse_i64;
use rudis_resp::Argv;

use crate::command::spec::{keyflag, Begin, Find, KeySpec};
use crate::command::table::CmdEntry;

/// A key argument and how the command accesses it (`keyflag` bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRef {
    pub pos: usize,
    pub flags: u32,
}

/// True if the command can have key arguments at all.
pub fn has_keys(entry: &CmdEntry) -> bool {
    let spec = entry.spec;
    spec.getkeys.is_some() || spec.keys.iter().any(|k| k.flags & keyflag::NOT_KEY == 0)
}

/// The keys of `argv` (the command's full argument vector, name first), or an empty list if
/// they cannot be found.
pub fn command_keys(entry: &CmdEntry, argv: Argv) -> Vec<KeyRef> {
    let spec = entry.spec;
    let described = spec.keys.iter().any(|k| k.flags & keyflag::NOT_KEY == 0);
    let variable = spec
        .keys
        .iter()
        .any(|k| k.flags & keyflag::VARIABLE_FLAGS != 0);
    if described && !variable {
        if let Some(keys) = keys_from_specs(spec.keys, argv) {
            return keys;
        }
    }
    if let Some(keys) = keys_with_variable_flags(entry, argv) {
        return keys;
    }
    if let Some(extract) = spec.getkeys {
        return extract(argv)
            .into_iter()
            .enumerate()
            .filter(|&(_, pos)| pos < argv.len())
            .map(|(nth, pos)| KeyRef {
                pos,
                flags: extracted_key_flags(entry, nth),
            })
            .collect();
    }
    if variable {
        // Declared variable flags but no resolver: the specs' flags are the best we know.
        return keys_from_specs(spec.keys, argv).unwrap_or_default();
    }
    Vec::new()
}

/// SET's key is read too with GET; BITFIELD's key is only read unless it sets or
/// increments. The key is always the first argument.
fn keys_with_variable_flags(entry: &CmdEntry, argv: Argv) -> Option<Vec<KeyRef>> {
    if entry.parent.is_some() || argv.len() < 2 {
        return None;
    }
    let flags = match entry.spec.name {
        "set" => {
            let get = argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
            if get {
                keyflag::RW | keyflag::ACCESS | keyflag::UPDATE
            } else {
                keyflag::OW | keyflag::UPDATE
            }
        }
        "bitfield" => {
            if bitfield_is_read_only(argv) {
                keyflag::RO | keyflag::ACCESS
            } else {
                keyflag::RW | keyflag::ACCESS | keyflag::UPDATE
            }
        }
        _ => return None,
    };
    Some(vec![KeyRef { pos: 1, flags }])
}

/// True if BITFIELD's operations are all GETs (a malformed one counts as a write: safer).
fn bitfield_is_read_only(argv: Argv) -> bool {
    let mut i = 2;
    while i < argv.len() {
        let remaining = argv.len() - i - 1;
        let op = argv.get(i);
        if op.eq_ignore_ascii_case(b"get") && remaining >= 2 {
            i += 3;
        } else if op.eq_ignore_ascii_case(b"overflow") && remaining >= 1 {
            i += 2;
        } else {
            return false;
        }
    }
    true
}

/// Flags of the `nth` key a command's own extractor found.
fn extracted_key_flags(entry: &CmdEntry, nth: usize) -> u32 {
    if entry.parent.is_some() {
        return 0;
    }
    match entry.spec.name {
        "sort" | "sort_ro" if nth == 0 => keyflag::RO | keyflag::ACCESS,
        "sort" => keyflag::OW | keyflag::UPDATE,
        "migrate" => keyflag::RW | keyflag::ACCESS | keyflag::DELETE,
        _ => 0,
    }
}

/// Keys found by the specs, or `None` if a spec does not fit the arguments, cannot be
/// described, or is incomplete (its keys are then only part of the answer).
fn keys_from_specs(specs: &[KeySpec], argv: Argv) -> Option<Vec<KeyRef>> {
    let argc = argv.len() as i64;
    let mut out = Vec::new();
    for ks in specs {
        if ks.flags & keyflag::NOT_KEY != 0 {
            continue;
        }
        let first = match ks.begin {
            Begin::Index(i) => i64::from(i),
            Begin::Keyword {
                keyword,
                start_from,
            } => match find_keyword(argv, keyword, start_from) {
                Some(after) => after,
                None => continue,
            },
            Begin::Unknown => return None,
        };
        let (first, last, step) = key_range(ks.find, argv, first)?;
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let mut i = first;
        while i <= last {
            out.push(KeyRef {
                pos: i as usize,
                flags: ks.flags,
            });
            i += step;
        }
        if ks.flags & keyflag::INCOMPLETE != 0 {
            return None;
        }
    }
    Some(out)
}

/// The first and last key positions and the step, from where the search began.
fn key_range(find: Find, argv: Argv, first: i64) -> Option<(i64, i64, i64)> {
    let argc = argv.len() as i64;
    match find {
        Find::Range {
            last_key,
            step,
            limit,
        } => {
            let last_key = i64::from(last_key);
            let last = if last_key >= 0 {
                first + last_key
            } else if limit <= 0 {
                argc + last_key
            } else {
                first + (argc - first) / i64::from(limit) + last_key
            };
            Some((first, last, i64::from(step.max(1))))
        }
        Find::Keynum {
            keynum_idx,
            first_key,
            step,
        } => {
            let count_at = usize::try_from(first + i64::from(keynum_idx)).ok()?;
            let count = parse_i64(argv.try_get(count_at)?).filter(|&n| n >= 0)?;
            let first = first + i64::from(first_key);
            Some((first, first + count - 1, i64::from(step.max(1))))
        }
        Find::Unknown => None,
    }
}

/// The position after `keyword`, searched from `start_from` towards the end (or, when
/// negative, from that far from the end towards the start). Neither the command name nor
/// the very last argument can be the keyword.
fn find_keyword(argv: Argv, keyword: &str, start_from: i32) -> Option<i64> {
    let argc = argv.len() as i64;
    let (start, end) = if start_from > 0 {
        (i64::from(start_from), argc - 1)
    } else {
        (argc + i64::from(start_from), 1)
    };
    let step = if start <= end { 1 } else { -1 };
    let mut i = start;
    while i != end && (1..argc).contains(&i) {
        if argv
            .get(i as usize)
            .eq_ignore_ascii_case(keyword.as_bytes())
        {
            return Some(i + 1);
        }
        i += step;
    }
    None
}

/// Copies arguments into one buffer, for an [`Argv`] over a part of another one.
pub fn copy_args<'a>(args: impl Iterator<Item = &'a [u8]>) -> (Vec<u8>, Vec<Range<usize>>) {
    let mut base = Vec::new();
    let mut ranges = Vec::new();
    for a in args {
        let start = base.len();
        base.extend_from_slice(a);
        ranges.push(start..base.len());
    }
    (base, ranges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::spec::CommandSpec;
    use crate::command::table::CommandTable;
    use crate::command::{CmdResult, Ctx};

    fn nop(_: &mut Ctx, _: Argv) -> CmdResult {
        Ok(())
    }

    fn keys_of(spec: &'static CommandSpec, args: &[&str]) -> Vec<(usize, u32)> {
        let table = CommandTable::new([spec]);
        let (base, ranges) = copy_args(args.iter().map(|a| a.as_bytes()));
        command_keys(table.get(0), Argv::new(&base, &ranges))
            .into_iter()
            .map(|k| (k.pos, k.flags))
            .collect()
    }

    const RW: u32 = keyflag::RW;
    const RO: u32 = keyflag::RO;

    static LMOVE: CommandSpec = CommandSpec::new("lmove", 5, nop)
        .keys(&[KeySpec::one(1, RW), KeySpec::one(2, keyflag::OW)]);
    static ZUNIONSTORE: CommandSpec = CommandSpec::new("zunionstore", -4, nop)
        .keys(&[KeySpec::one(1, keyflag::OW), KeySpec::keynum(2, RO)]);
    static XREAD: CommandSpec = CommandSpec::new("xread", -4, nop).keys(&[KeySpec::keyword(
        "STREAMS",
        1,
        Find::Range {
            last_key: -1,
            step: 1,
            limit: 2,
        },
        RO,
    )]);
    static SET: CommandSpec = CommandSpec::new("set", -3, nop).keys(&[KeySpec::one(
        1,
        RW | keyflag::ACCESS | keyflag::UPDATE | keyflag::VARIABLE_FLAGS,
    )]);
    static SORT: CommandSpec = CommandSpec::new("sort", -2, nop)
        .keys(&[
            KeySpec::one(1, RO),
            KeySpec::unknown(keyflag::OW | keyflag::INCOMPLETE),
        ])
        .getkeys(sort_keys);

    fn sort_keys(argv: Argv) -> Vec<usize> {
        let mut v = vec![1];
        v.extend((2..argv.len()).filter(|&i| argv.get(i - 1).eq_ignore_ascii_case(b"store")));
        v
    }

    #[test]
    fn fixed_and_counted_keys() {
        assert_eq!(
            keys_of(&LMOVE, &["lmove", "a", "b", "left", "right"]),
            [(1, RW), (2, keyflag::OW)]
        );
        assert_eq!(
            keys_of(&ZUNIONSTORE, &["zunionstore", "d", "2", "a", "b"]),
            [(1, keyflag::OW), (3, RO), (4, RO)]
        );
        assert!(keys_of(&ZUNIONSTORE, &["zunionstore", "d", "x", "a"]).is_empty());
        assert!(keys_of(&ZUNIONSTORE, &["zunionstore", "d", "5", "a"]).is_empty());
        assert!(keys_of(&ZUNIONSTORE, &["zunionstore", "d", "0", "a"]).is_empty());
    }

    #[test]
    fn keyword_and_limit() {
        let args = ["xread", "COUNT", "2", "streams", "s1", "s2", "0", "0"];
        assert_eq!(keys_of(&XREAD, &args), [(4, RO), (5, RO)]);
        // The keyword must have something after it.
        assert!(keys_of(&XREAD, &["xread", "a", "b", "streams"]).is_empty());
    }

    #[test]
    fn variable_flags_follow_the_options() {
        let ow = keyflag::OW | keyflag::UPDATE;
        assert_eq!(keys_of(&SET, &["set", "k", "v"]), [(1, ow)]);
        let rw = RW | keyflag::ACCESS | keyflag::UPDATE;
        assert_eq!(
            keys_of(&SET, &["set", "k", "v", "EX", "1", "get"]),
            [(1, rw)]
        );
    }

    #[test]
    fn undescribable_keys_use_the_extractor() {
        assert_eq!(
            keys_of(&SORT, &["sort", "k1", "store", "k2"]),
            [
                (1, RO | keyflag::ACCESS),
                (3, keyflag::OW | keyflag::UPDATE)
            ]
        );
    }

    #[test]
    fn keyword_search_bounds() {
        let (base, ranges) = copy_args(["cmd", "KEYS", "a", "KEYS"].iter().map(|a| a.as_bytes()));
        let argv = Argv::new(&base, &ranges);
        assert_eq!(find_keyword(argv, "keys", 1), Some(2));
        // Backwards from the second to last argument never reaches argv[1].
        assert_eq!(find_keyword(argv, "keys", -2), None);
        assert_eq!(find_keyword(argv, "a", -2), Some(3));
        assert_eq!(find_keyword(argv, "keys", 9), None);
    }
}
