//! How a command's declaration is shown: the ten-element COMMAND INFO entry and the
//! COMMAND DOCS map, in Redis's exact shapes (sets and maps lower to arrays in RESP2).

use rudis_resp::ReplyBuf;

use crate::command::spec::{acl, docflag, flag, Begin, Find, KeySpec};
use crate::command::table::{CmdEntry, CommandTable};

/// One COMMAND INFO entry: name, arity, flags, first key, last key, key step, ACL
/// categories, tips, key specs, subcommands.
pub fn info(r: &mut ReplyBuf, table: &CommandTable, entry: &CmdEntry) {
    let spec = entry.spec;
    let (first, last, step) = spec.legacy_range();
    let mut flags = spec.flags;
    if spec.movable_keys() {
        flags |= flag::MOVABLE_KEYS;
    }
    r.array(10);
    r.bulk(entry.fullname.as_bytes());
    r.int(i64::from(spec.arity));
    status_set(r, flag::NAMES, flags);
    r.int(first);
    r.int(last);
    r.int(step);
    categories(r, spec.acl_categories());
    r.set(spec.tips.len());
    for tip in spec.tips {
        r.bulk(tip.as_bytes());
    }
    r.set(spec.keys.len());
    for ks in spec.keys {
        key_spec(r, ks);
    }
    if entry.is_container() {
        r.array(entry.subcommand_ids().count());
        for id in entry.subcommand_ids() {
            info(r, table, table.get(id));
        }
    } else {
        r.set(0);
    }
}

/// A set of status replies naming the bits of `value` found in `names`, in table order.
pub fn status_set<T>(r: &mut ReplyBuf, names: &[(T, &str)], value: T)
where
    T: Copy + std::ops::BitAnd<Output = T> + PartialEq + Default,
{
    let on = || names.iter().filter(|(bit, _)| value & *bit != T::default());
    r.set(on().count());
    for (_, name) in on() {
        r.simple(name);
    }
}

fn categories(r: &mut ReplyBuf, cats: u64) {
    let on = || acl::NAMES.iter().filter(|(bit, _)| cats & bit != 0);
    r.set(on().count());
    for (_, name) in on() {
        r.simple(&format!("@{name}"));
    }
}

fn key_spec(r: &mut ReplyBuf, ks: &KeySpec) {
    r.map(if ks.notes.is_empty() { 3 } else { 4 });
    if !ks.notes.is_empty() {
        r.bulk(b"notes");
        r.bulk(ks.notes.as_bytes());
    }
    r.bulk(b"flags");
    status_set(r, crate::command::spec::keyflag::NAMES, ks.flags);
    r.bulk(b"begin_search");
    match ks.begin {
        Begin::Index(pos) => typed(r, "index", &[("index", pos)]),
        Begin::Keyword {
            keyword,
            start_from,
        } => {
            r.map(2);
            r.bulk(b"type");
            r.bulk(b"keyword");
            r.bulk(b"spec");
            r.map(2);
            r.bulk(b"keyword");
            r.bulk(keyword.as_bytes());
            r.bulk(b"startfrom");
            r.int(i64::from(start_from));
        }
        Begin::Unknown => typed(r, "unknown", &[]),
    }
    r.bulk(b"find_keys");
    match ks.find {
        Find::Range {
            last_key,
            step,
            limit,
        } => typed(
            r,
            "range",
            &[("lastkey", last_key), ("keystep", step), ("limit", limit)],
        ),
        Find::Keynum {
            keynum_idx,
            first_key,
            step,
        } => typed(
            r,
            "keynum",
            &[
                ("keynumidx", keynum_idx),
                ("firstkey", first_key),
                ("keystep", step),
            ],
        ),
        Find::Unknown => typed(r, "unknown", &[]),
    }
}

/// `{type: kind, spec: {name: value, ...}}`.
fn typed(r: &mut ReplyBuf, kind: &str, fields: &[(&str, i32)]) {
    r.map(2);
    r.bulk(b"type");
    r.bulk(kind.as_bytes());
    r.bulk(b"spec");
    r.map(fields.len());
    for (name, value) in fields {
        r.bulk(name.as_bytes());
        r.int(i64::from(*value));
    }
}

/// One COMMAND DOCS entry. Rudis declares no argument lists, so `arguments` is left out
/// (Redis leaves out the fields a command does not have, and clients treat it as optional).
pub fn docs(r: &mut ReplyBuf, table: &CommandTable, entry: &CmdEntry) {
    let spec = entry.spec;
    let texts = [
        ("summary", spec.summary),
        ("since", spec.since),
        ("group", spec.group),
        ("complexity", spec.complexity),
    ];
    let present = |(name, value): &&(&str, &str)| *name == "group" || !value.is_empty();
    let deprecation = [
        ("deprecated_since", spec.deprecated_since),
        ("replaced_by", spec.replaced_by),
    ];
    let fields = texts.iter().filter(present).count()
        + usize::from(spec.doc_flags != 0)
        + deprecation.iter().filter(present).count()
        + usize::from(!spec.history.is_empty())
        + usize::from(entry.is_container());
    r.map(fields);
    for (name, value) in texts.iter().filter(present) {
        r.bulk(name.as_bytes());
        r.bulk(value.as_bytes());
    }
    if spec.doc_flags != 0 {
        r.bulk(b"doc_flags");
        status_set(r, docflag::NAMES, spec.doc_flags);
    }
    for (name, value) in deprecation.iter().filter(present) {
        r.bulk(name.as_bytes());
        r.bulk(value.as_bytes());
    }
    if !spec.history.is_empty() {
        r.bulk(b"history");
        r.set(spec.history.len());
        for (version, change) in spec.history {
            r.array(2);
            r.bulk(version.as_bytes());
            r.bulk(change.as_bytes());
        }
    }
    if entry.is_container() {
        r.bulk(b"subcommands");
        r.map(entry.subcommand_ids().count());
        for id in entry.subcommand_ids() {
            let sub = table.get(id);
            r.bulk(sub.fullname.as_bytes());
            docs(r, table, sub);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::spec::CommandSpec;
    use crate::command::{CmdResult, Ctx};

    fn nop(_: &mut Ctx, _: rudis_resp::Argv) -> CmdResult {
        Ok(())
    }

    static OLD: CommandSpec = CommandSpec::new("old", 1, nop)
        .deprecated("6.2.0", "`NEW`")
        .history(&[("2.0.0", "Changed.")])
        .doc("generic", "An old command.", "1.0.0", "");

    #[test]
    fn docs_fields_in_redis_order() {
        let table = CommandTable::new([&OLD]);
        let mut r = ReplyBuf::new();
        r.set_resp3(true);
        docs(&mut r, &table, table.get(0));
        let text = String::from_utf8(r.as_bytes().to_vec()).unwrap();
        assert_eq!(
            text,
            "%7\r\n$7\r\nsummary\r\n$15\r\nAn old command.\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n\
             $5\r\ngroup\r\n$7\r\ngeneric\r\n$9\r\ndoc_flags\r\n~1\r\n+deprecated\r\n\
             $16\r\ndeprecated_since\r\n$5\r\n6.2.0\r\n$11\r\nreplaced_by\r\n$5\r\n`NEW`\r\n\
             $7\r\nhistory\r\n~1\r\n*2\r\n$5\r\n2.0.0\r\n$8\r\nChanged.\r\n"
        );
    }
}
