//! SORT and SORT_RO: sort a list, set or sorted set, by its elements or by other keys (BY
//! pattern), return elements or other keys' values (GET pattern), or store the result as a
//! list.
//!
//! BY and GET patterns name keys derived from the elements, which cannot be declared up front,
//! so the commands run holding the whole keyspace (as Redis runs them on its one thread).
//! Ordering follows Redis: numeric sorting parses scores as C's `strtod` would (a value that
//! does not parse fails the command), ties break by comparing the elements bytewise; ALPHA
//! compares as C strings (bytes up to the first NUL).

use rudis_resp::Argv;

use super::util::is;
use crate::command::error::{CmdError, NOT_INTEGER, SYNTAX, WRONGTYPE};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::txn::event;
use crate::keyspace::Value;
use crate::types::list::QuickList;
use crate::types::visit;

const SORT_ACL: u64 = acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS;
const BY_GET_NOTES: &str =
    "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort";
const STORE_NOTES: &str =
    "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array";
const COMPLEXITY: &str = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sort", -2, sort)
        .flags(flag::WRITE | flag::DENYOOM | flag::EXCLUSIVE)
        .acl(SORT_ACL)
        .keys(&[
            KeySpec::one(1, keyflag::RO | keyflag::ACCESS),
            KeySpec::unknown(keyflag::RO | keyflag::ACCESS).notes(BY_GET_NOTES),
            KeySpec::unknown(keyflag::OW | keyflag::UPDATE).notes(STORE_NOTES),
        ])
        .getkeys(sort_keys)
        .doc(
            "generic",
            "Sort the elements in a list, set or sorted set",
            "1.0.0",
            COMPLEXITY,
        ),
    CommandSpec::new("sort_ro", -2, sort_ro)
        .flags(flag::READONLY | flag::EXCLUSIVE)
        .acl(SORT_ACL)
        .keys(&[
            KeySpec::one(1, keyflag::RO | keyflag::ACCESS),
            KeySpec::unknown(keyflag::RO | keyflag::ACCESS).notes(BY_GET_NOTES),
        ])
        .getkeys(sort_ro_keys)
        .doc(
            "generic",
            "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
            "7.0.0",
            COMPLEXITY,
        ),
];

/// The keys SORT declares: the sorted key and the STORE destination.
fn sort_keys(argv: Argv) -> Vec<usize> {
    let mut keys = vec![1];
    if let Ok(opts) = parse(argv, false) {
        keys.extend(opts.store_at);
    }
    keys
}

fn sort_ro_keys(_argv: Argv) -> Vec<usize> {
    vec![1]
}

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC]
/// [ALPHA] [STORE destination]
fn sort(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    sort_generic(ctx, argv, false)
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]]
/// [ASC | DESC] [ALPHA]
fn sort_ro(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    sort_generic(ctx, argv, true)
}

struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    by: Option<&'a [u8]>,
    /// BY a pattern without `*`: no sorting at all.
    dont_sort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
    store_at: Option<usize>,
}

fn parse(argv: Argv<'_>, readonly: bool) -> Result<Options<'_>, CmdError> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit: None,
        by: None,
        dont_sort: false,
        gets: Vec::new(),
        store: None,
        store_at: None,
    };
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let arg = argv.get(j);
        if is(arg, "ASC") {
            o.desc = false;
        } else if is(arg, "DESC") {
            o.desc = true;
        } else if is(arg, "ALPHA") {
            o.alpha = true;
        } else if is(arg, "LIMIT") && left >= 2 {
            let start = rudis_resp::number::parse_i64(argv.get(j + 1)).ok_or(NOT_INTEGER)?;
            let count = rudis_resp::number::parse_i64(argv.get(j + 2)).ok_or(NOT_INTEGER)?;
            o.limit = Some((start, count));
            j += 2;
        } else if !readonly && is(arg, "STORE") && left >= 1 {
            o.store = Some(argv.get(j + 1));
            o.store_at = Some(j + 1);
            j += 1;
        } else if is(arg, "BY") && left >= 1 {
            let p = argv.get(j + 1);
            o.by = Some(p);
            o.dont_sort = !p.contains(&b'*');
            j += 1;
        } else if is(arg, "GET") && left >= 1 {
            o.gets.push(argv.get(j + 1));
            j += 1;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// The elements of the sorted key, in its natural order (sets in no particular order).
fn load_elements(ctx: &mut Ctx, key: &[u8]) -> Result<(Vec<Vec<u8>>, bool), CmdError> {
    let mut out = Vec::new();
    let is_set = match ctx.txn.get(key).map(|e| &e.value) {
        None => false,
        Some(Value::List(l)) => {
            visit::list_items(l, |i| out.push(i.to_vec()));
            false
        }
        Some(Value::Set(s)) => {
            visit::set_members(s, |m| out.push(m.to_vec()));
            true
        }
        Some(Value::ZSet(z)) => {
            visit::zset_pairs(z, |m, _| out.push(m.to_vec()));
            false
        }
        Some(_) => return Err(WRONGTYPE),
    };
    Ok((out, is_set))
}

fn sort_generic(ctx: &mut Ctx, argv: Argv, readonly: bool) -> CmdResult {
    let cluster = ctx.srv.cfg().cluster_enabled;
    let mut o = parse(argv, readonly)?;
    if cluster && o.by.is_some() && !o.dont_sort {
        return Err("ERR BY option of SORT denied in Cluster mode.".into());
    }
    if cluster && !o.gets.is_empty() {
        return Err("ERR GET option of SORT denied in Cluster mode.".into());
    }
    let (mut elements, is_set) = load_elements(ctx, argv.get(1))?;
    if o.dont_sort && is_set && (o.store.is_some() || ctx.client.is_script) {
        // A set has no order of its own: stored results (and what scripts see, since they
        // replicate as their effects) must be deterministic.
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    let (start, end) = window(o.limit, elements.len());
    if !o.dont_sort {
        order(ctx, &mut elements, &o)?;
    } else if o.desc {
        elements.reverse();
    }
    let selected: &[Vec<u8>] = if start <= end {
        &elements[start..=end]
    } else {
        &[]
    };
    match o.store {
        None => reply(ctx, selected, &o.gets),
        Some(dest) => store(ctx, dest, selected, &o.gets),
    }
    Ok(())
}

/// LIMIT start, count applied as Redis clamps them: (first index, last index inclusive).
fn window(limit: Option<(i64, i64)>, len: usize) -> (usize, usize) {
    let len = len as i64;
    let (limit_start, limit_count) = limit.unwrap_or((0, -1));
    let start = limit_start.max(0).min(len);
    let count = limit_count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    let mut start = start;
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);
    if end < start || len == 0 {
        return (1, 0);
    }
    (start as usize, end as usize)
}

/// Sorts by the elements or by the BY keys, numerically or alphabetically.
fn order(ctx: &mut Ctx, elements: &mut Vec<Vec<u8>>, o: &Options) -> CmdResult {
    let mut keyed: Vec<(Vec<u8>, Option<Vec<u8>>, f64)> = Vec::with_capacity(elements.len());
    for e in elements.drain(..) {
        let by = match o.by {
            Some(p) => lookup_pattern(ctx, p, &e),
            None => Some(e.clone()),
        };
        let mut score = 0.0;
        if !o.alpha {
            if let Some(b) = &by {
                score = strtod(b).ok_or_else(|| {
                    CmdError::from("ERR One or more scores can't be converted into double")
                })?;
            }
        }
        keyed.push((e, by, score));
    }
    let by_pattern = o.by.is_some();
    keyed.sort_by(|a, b| {
        let c = if !o.alpha {
            a.2.partial_cmp(&b.2)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.0.cmp(&b.0))
        } else if by_pattern {
            match (&a.1, &b.1) {
                (Some(x), Some(y)) => cstr_cmp(x, y),
                (None, None) => std::cmp::Ordering::Equal,
                (None, _) => std::cmp::Ordering::Less,
                (_, None) => std::cmp::Ordering::Greater,
            }
        } else {
            cstr_cmp(&a.0, &b.0)
        };
        if o.desc {
            c.reverse()
        } else {
            c
        }
    });
    elements.extend(keyed.into_iter().map(|(e, _, _)| e));
    Ok(())
}

/// Compares as C strings: bytes up to the first NUL.
fn cstr_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let cut = |s: &[u8]| s.iter().position(|&c| c == 0).map_or(s.len(), |n| n);
    a[..cut(a)].cmp(&b[..cut(b)])
}

/// C's `strtod` over the whole string, as Redis checks it: leading blanks allowed, nothing
/// after the number, no NaN, no overflow. The empty string reads as 0 (nothing is left
/// unparsed); a string of blanks does not.
fn strtod(s: &[u8]) -> Option<f64> {
    if s.is_empty() {
        return Some(0.0);
    }
    let text = std::str::from_utf8(s).ok()?;
    let t = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let v = rudis_resp::number::parse_f64(t.as_bytes())?;
    // strtod reports overflow; only a written infinity is infinite.
    (v.is_finite() || t.to_ascii_lowercase().contains("inf")).then_some(v)
}

/// The value a pattern names for `element`: `#` is the element itself; `*` is replaced by
/// the element; `key->field` reads a hash field. Missing keys, wrong types: `None`.
fn lookup_pattern(ctx: &mut Ctx, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let arrow = pattern[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i);
    let (key_pattern, field) = match arrow {
        Some(a) if a + 2 < pattern.len() => (&pattern[..a], Some(&pattern[a + 2..])),
        _ => (pattern, None),
    };
    let mut key = key_pattern[..star].to_vec();
    key.extend_from_slice(element);
    key.extend_from_slice(&key_pattern[star + 1..]);
    let db = ctx.txn.db;
    let entry = ctx
        .txn
        .lookup(db, &key, crate::keyspace::txn::Lookup::Read)?;
    match (&entry.value, field) {
        (Value::Str(s), None) => Some(s.as_slice().to_vec()),
        (Value::Hash(h), Some(f)) => h.get(f).map(|e| e.to_vec()),
        _ => None,
    }
}

fn reply(ctx: &mut Ctx, selected: &[Vec<u8>], gets: &[&[u8]]) {
    let per = gets.len().max(1);
    ctx.reply.array(selected.len() * per);
    for e in selected {
        if gets.is_empty() {
            ctx.reply.bulk(e);
        }
        for g in gets {
            match lookup_pattern(ctx, g, e) {
                Some(v) => ctx.reply.bulk(&v),
                None => ctx.reply.null(),
            }
        }
    }
}

fn store(ctx: &mut Ctx, dest: &[u8], selected: &[Vec<u8>], gets: &[&[u8]]) {
    let mut list = QuickList::default();
    for e in selected {
        if gets.is_empty() {
            list.push_back(e);
        }
        for g in gets {
            let v = lookup_pattern(ctx, g, e).unwrap_or_default();
            list.push_back(&v);
        }
    }
    let n = list.len();
    if n > 0 {
        ctx.txn.set(dest, Value::List(Box::new(list)), false);
        ctx.txn.signal_modified(dest);
        ctx.txn.notify(event::LIST, "sortstore", dest);
        ctx.txn.dirty(n as u64);
    } else if ctx.txn.remove(dest).is_some() {
        ctx.txn.signal_modified(dest);
        ctx.txn.notify(event::GENERIC, "del", dest);
        ctx.txn.dirty(1);
    }
    ctx.reply.int(n as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_strtod() {
        assert_eq!(strtod(b""), Some(0.0));
        assert_eq!(strtod(b"  1.5"), Some(1.5));
        assert_eq!(strtod(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod(b"1e999"), None);
        assert_eq!(strtod(b"   "), None);
        assert_eq!(strtod(b"1 "), None);
        assert_eq!(strtod(b"nan"), None);
        assert_eq!(strtod(b"abc"), None);
    }

    #[test]
    fn limit_window_like_redis() {
        assert_eq!(window(None, 5), (0, 4));
        assert_eq!(window(Some((1, 2)), 5), (1, 2));
        assert_eq!(window(Some((-5, 2)), 5), (0, 1));
        assert_eq!(window(Some((10, 2)), 5), (1, 0));
        assert_eq!(window(Some((0, 0)), 5), (1, 0));
        assert_eq!(window(Some((3, -1)), 5), (3, 4));
        assert_eq!(window(None, 0), (1, 0));
    }
}
