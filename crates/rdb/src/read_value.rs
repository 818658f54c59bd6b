//! Reading one value of a given RDB type (`rdbLoadObject`), for files and DUMP payloads.
//!
//! Every type Redis 7.0 writes or still loads is accepted. Old compact encodings are converted
//! as Redis converts them: a list ziplist becomes a plain list (the server packs it), quicklist
//! ziplist nodes become listpack nodes, hash and zset ziplists and zipmaps become listpacks.
//!
//! Invariants: a value is returned only after all of it has been checked (blobs completely,
//! collections for duplicates, scores for NaN); an empty collection, which Redis skips when
//! loading, comes back as `None`; errors carry the offset of the offending part.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::Hash;
use std::io::Read;

use crate::error::{Error, Result};
use crate::format::*;
use crate::input::{parse_double, Input};
use crate::listpack::{self, Builder, LpEntry};
use crate::value::{QuicklistNode, Value};
use crate::{intset, stream, ziplist, zipmap};

/// Reads a value of RDB type `rdb_type` (whose type byte was at `type_at`).
pub(crate) fn read_value<R: Read>(
    input: &mut Input<R>,
    rdb_type: u8,
    type_at: u64,
) -> Result<Option<Value>> {
    let value = match rdb_type {
        TYPE_STRING => Value::String(input.string("a string value")?),
        TYPE_LIST => Value::List(read_elements(input, "a list element")?),
        TYPE_SET => Value::Set(read_set(input)?),
        TYPE_ZSET | TYPE_ZSET_2 => Value::ZSet(read_zset(input, rdb_type == TYPE_ZSET_2)?),
        TYPE_HASH => Value::Hash(read_hash(input)?),
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            Value::ListQuicklist(read_quicklist(input, rdb_type == TYPE_LIST_QUICKLIST_2)?)
        }
        TYPE_HASH_ZIPMAP => {
            Value::HashListpack(blob(input, "a hash zipmap", |b| zipmap_to_listpack(&b))?)
        }
        TYPE_LIST_ZIPLIST => Value::List(blob(input, "a list ziplist", |b| ziplist_elements(&b))?),
        TYPE_SET_INTSET => Value::SetIntset(blob(input, "a set intset", |b| {
            intset::validate(&b)?;
            Ok(b)
        })?),
        TYPE_ZSET_ZIPLIST => Value::ZSetListpack(blob(input, "a zset ziplist", |b| {
            pairs_from_ziplist(&b, true)
        })?),
        TYPE_HASH_ZIPLIST => Value::HashListpack(blob(input, "a hash ziplist", |b| {
            pairs_from_ziplist(&b, false)
        })?),
        TYPE_ZSET_LISTPACK => Value::ZSetListpack(blob(input, "a zset listpack", |b| {
            check_pairs(&b, true)?;
            Ok(b)
        })?),
        TYPE_HASH_LISTPACK => Value::HashListpack(blob(input, "a hash listpack", |b| {
            check_pairs(&b, false)?;
            Ok(b)
        })?),
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => Value::Stream(Box::new(stream::read(
            input,
            rdb_type == TYPE_STREAM_LISTPACKS_2,
        )?)),
        TYPE_MODULE | TYPE_MODULE_2 => {
            return Err(Error::Unsupported {
                offset: type_at,
                what: "module data type values (Rudis loads no modules)",
            })
        }
        other => {
            return Err(Error::corrupt(
                type_at,
                format!("unknown value type {other}"),
            ))
        }
    };
    Ok((!is_empty(&value)).then_some(value))
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::String(_) | Value::SetIntset(_) | Value::Stream(_) => false,
        Value::List(items) | Value::Set(items) => items.is_empty(),
        Value::ListQuicklist(nodes) => nodes.is_empty(),
        Value::ZSet(pairs) => pairs.is_empty(),
        Value::Hash(pairs) => pairs.is_empty(),
        Value::ZSetListpack(lp) | Value::HashListpack(lp) => {
            lp[listpack::HEADER_LEN] == listpack::EOF
        }
    }
}

/// Reads a string holding an encoded structure and checks or converts it with `f`; a
/// complaint from `f` becomes an error at the string's offset.
fn blob<R: Read, T>(
    input: &mut Input<R>,
    what: &'static str,
    f: impl FnOnce(Vec<u8>) -> std::result::Result<T, &'static str>,
) -> Result<T> {
    let at = input.offset();
    let bytes = input.string(what)?;
    f(bytes).map_err(|e| {
        let check = integrity_name(what);
        Error::corrupt(at, format!("{what}: {e} ({check} integrity check failed)"))
    })
}

/// The name Redis's log gives the whole-structure check of an encoded value ("Hash ziplist
/// integrity check failed."): operators and tools look for it.
fn integrity_name(what: &str) -> &'static str {
    match what {
        "a hash zipmap" => "Zipmap",
        "a list ziplist" => "List ziplist",
        "a set intset" => "Intset",
        "a zset ziplist" => "Zset ziplist",
        "a hash ziplist" => "Hash ziplist",
        "a zset listpack" => "Zset listpack",
        "a hash listpack" => "Hash listpack",
        _ => "Listpack",
    }
}

/// The index of the first item equal to an earlier one.
fn first_duplicate<T: Hash + Eq>(items: impl Iterator<Item = T>) -> Option<usize> {
    let mut seen = HashSet::new();
    for (i, x) in items.enumerate() {
        if !seen.insert(x) {
            return Some(i);
        }
    }
    None
}

/// Reads a count, then that many strings.
fn read_elements<R: Read>(input: &mut Input<R>, what: &'static str) -> Result<Vec<Vec<u8>>> {
    let n = input.len("an element count")?;
    let mut items = Vec::with_capacity(n.min(1024) as usize);
    for _ in 0..n {
        items.push(input.string(what)?);
    }
    Ok(items)
}

fn read_set<R: Read>(input: &mut Input<R>) -> Result<Vec<Vec<u8>>> {
    let at = input.offset();
    let members = read_elements(input, "a set member")?;
    if let Some(i) = first_duplicate(members.iter()) {
        return Err(Error::corrupt(at, format!("set member {i} is a duplicate")));
    }
    Ok(members)
}

fn read_zset<R: Read>(input: &mut Input<R>, binary_scores: bool) -> Result<Vec<(Vec<u8>, f64)>> {
    let at = input.offset();
    let n = input.len("a zset length")?;
    let mut pairs = Vec::with_capacity(n.min(1024) as usize);
    for _ in 0..n {
        let member = input.string("a zset member")?;
        let score_at = input.offset();
        let score = if binary_scores {
            input.binary_double("a zset score")?
        } else {
            input.text_double("a zset score")?
        };
        if score.is_nan() {
            return Err(Error::corrupt(score_at, "zset score is NaN"));
        }
        pairs.push((member, score));
    }
    if let Some(i) = first_duplicate(pairs.iter().map(|(m, _)| m)) {
        return Err(Error::corrupt(
            at,
            format!("zset member {i} is a duplicate"),
        ));
    }
    Ok(pairs)
}

fn read_hash<R: Read>(input: &mut Input<R>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let at = input.offset();
    let n = input.len("a hash length")?;
    let mut pairs = Vec::with_capacity(n.min(1024) as usize);
    for _ in 0..n {
        let field = input.string("a hash field")?;
        let value = input.string("a hash value")?;
        pairs.push((field, value));
    }
    if let Some(i) = first_duplicate(pairs.iter().map(|(f, _)| f)) {
        return Err(Error::corrupt(at, format!("hash field {i} is a duplicate")));
    }
    Ok(pairs)
}

/// Reads quicklist nodes (RDB types 14 and 18); empty nodes are dropped, as Redis does.
fn read_quicklist<R: Read>(input: &mut Input<R>, v2: bool) -> Result<Vec<QuicklistNode>> {
    let n = input.len("a quicklist node count")?;
    let mut nodes = Vec::with_capacity(n.min(1024) as usize);
    for _ in 0..n {
        let container_at = input.offset();
        let container = if v2 {
            input.len("a quicklist node container")?
        } else {
            QUICKLIST_NODE_PACKED
        };
        let at = input.offset();
        let data = input.string("a quicklist node")?;
        if data.is_empty() {
            return Err(Error::corrupt(at, "quicklist node is empty"));
        }
        let node = match container {
            QUICKLIST_NODE_PLAIN => QuicklistNode::Plain(data),
            QUICKLIST_NODE_PACKED if v2 => {
                let count = listpack::validate(&data).map_err(|e| {
                    Error::corrupt(
                        at,
                        format!("quicklist node: {e} (Listpack integrity check failed)"),
                    )
                })?;
                if count == 0 {
                    continue;
                }
                QuicklistNode::Packed(data)
            }
            QUICKLIST_NODE_PACKED => {
                let lp = ziplist_to_listpack(&data).map_err(|e| {
                    Error::corrupt(
                        at,
                        format!("quicklist node: {e} (Ziplist integrity check failed)"),
                    )
                })?;
                if lp[listpack::HEADER_LEN] == listpack::EOF {
                    continue;
                }
                QuicklistNode::Packed(lp)
            }
            other => {
                return Err(Error::corrupt(
                    container_at,
                    format!("unknown quicklist node container {other}"),
                ))
            }
        };
        nodes.push(node);
    }
    Ok(nodes)
}

type BlobResult<T> = std::result::Result<T, &'static str>;

fn checked_push(b: &mut Builder, e: LpEntry<'_>) -> BlobResult<()> {
    if b.len_bytes() > listpack::MAX_SAFE_BYTES {
        return Err("converted listpack would exceed 1 GiB");
    }
    b.push_entry(e);
    Ok(())
}

fn ziplist_to_listpack(zl: &[u8]) -> BlobResult<Vec<u8>> {
    let mut b = Builder::new();
    ziplist::for_each(zl, |e| checked_push(&mut b, e))?;
    Ok(b.finish())
}

fn ziplist_elements(zl: &[u8]) -> BlobResult<Vec<Vec<u8>>> {
    let mut items = Vec::new();
    ziplist::for_each(zl, |e| {
        items.push(e.to_vec());
        Ok(())
    })?;
    Ok(items)
}

fn zipmap_to_listpack(zm: &[u8]) -> BlobResult<Vec<u8>> {
    let mut b = Builder::new();
    let mut fields = HashSet::new();
    zipmap::for_each(zm, |f, v| {
        if !fields.insert(f) {
            return Err("duplicate field");
        }
        checked_push(&mut b, LpEntry::Str(f))?;
        checked_push(&mut b, LpEntry::Str(v))
    })?;
    let lp = b.finish();
    Ok(lp)
}

/// Converts a ziplist of pairs to a listpack, checking it as [`check_pairs`] does.
fn pairs_from_ziplist(zl: &[u8], zset: bool) -> BlobResult<Vec<u8>> {
    let lp = ziplist_to_listpack(zl)?;
    check_pairs(&lp, zset)?;
    Ok(lp)
}

/// Checks a listpack of pairs (hash field/value, or zset member/score): valid, an even
/// number of entries, no repeated field or member; for a zset, every score a number (not NaN)
/// and the pairs sorted by score, then member, as Redis keeps them.
fn check_pairs(lp: &[u8], zset: bool) -> BlobResult<()> {
    let count = listpack::validate(lp)?;
    if count % 2 != 0 {
        return Err("odd number of entries");
    }
    let keys = listpack::entries(lp).step_by(2).map(LpEntry::normalized);
    if first_duplicate(keys).is_some() {
        return Err(if zset {
            "duplicate member"
        } else {
            "duplicate field"
        });
    }
    if zset {
        check_zset_order(lp)?;
    }
    Ok(())
}

fn score_of(e: LpEntry<'_>) -> BlobResult<f64> {
    let score = match e {
        LpEntry::Int(i) => i as f64,
        LpEntry::Str(s) => parse_double(s).ok_or("score is not a number")?,
    };
    if score.is_nan() {
        return Err("score is NaN");
    }
    Ok(score)
}

fn as_text(e: LpEntry<'_>) -> Cow<'_, [u8]> {
    match e {
        LpEntry::Int(i) => Cow::Owned(i.to_string().into_bytes()),
        LpEntry::Str(s) => Cow::Borrowed(s),
    }
}

fn check_zset_order(lp: &[u8]) -> BlobResult<()> {
    let mut entries = listpack::entries(lp);
    let mut prev: Option<(f64, Cow<'_, [u8]>)> = None;
    while let (Some(member), Some(score)) = (entries.next(), entries.next()) {
        let cur = (score_of(score)?, as_text(member));
        if let Some(p) = &prev {
            if (p.0, &p.1) >= (cur.0, &cur.1) {
                return Err("pairs not sorted by score, then member");
            }
        }
        prev = Some(cur);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Output;
    use crate::ziplist::tests::build as ziplist;
    use crate::zipmap::tests::build as zipmap;

    /// Encodes a value body: `f` writes it with the RDB primitives.
    fn body(f: impl FnOnce(&mut Output<Vec<u8>>)) -> Vec<u8> {
        let mut out = Output::new(Vec::new(), false, false);
        f(&mut out);
        out.into_inner()
    }

    fn read(rdb_type: u8, bytes: &[u8]) -> Result<Option<Value>> {
        let mut input = Input::new(bytes, false);
        let v = read_value(&mut input, rdb_type, 0)?;
        assert_eq!(
            input.offset() as usize,
            bytes.len(),
            "value read completely"
        );
        Ok(v)
    }

    fn blob_of(bytes: &[u8]) -> Vec<u8> {
        body(|o| o.string(bytes).unwrap())
    }

    fn strings(items: &[&[u8]]) -> Vec<Vec<u8>> {
        items.iter().map(|i| i.to_vec()).collect()
    }

    #[test]
    fn list_ziplist_becomes_a_plain_list() {
        let zl = ziplist(&[b"a", b"12", b"-70000", b"hello"]);
        let v = read(TYPE_LIST_ZIPLIST, &blob_of(&zl)).unwrap().unwrap();
        assert_eq!(v, Value::List(strings(&[b"a", b"12", b"-70000", b"hello"])));
        let empty = ziplist(&[]);
        assert_eq!(read(TYPE_LIST_ZIPLIST, &blob_of(&empty)).unwrap(), None);
    }

    #[test]
    fn quicklist_v1_nodes_become_listpacks() {
        let bytes = body(|o| {
            o.len(3).unwrap();
            o.string(&ziplist(&[b"a", b"1"])).unwrap();
            o.string(&ziplist(&[])).unwrap();
            o.string(&ziplist(&[b"b"])).unwrap();
        });
        let Some(Value::ListQuicklist(nodes)) = read(TYPE_LIST_QUICKLIST, &bytes).unwrap() else {
            panic!()
        };
        assert_eq!(
            nodes,
            vec![
                QuicklistNode::Packed(listpack::from_values([&b"a"[..], b"1"])),
                QuicklistNode::Packed(listpack::from_values([&b"b"[..]])),
            ]
        );
    }

    #[test]
    fn quicklist_v2_nodes() {
        let lp = listpack::from_values([&b"x"[..], b"y"]);
        let bytes = body(|o| {
            o.len(2).unwrap();
            o.len(QUICKLIST_NODE_PACKED).unwrap();
            o.string(&lp).unwrap();
            o.len(QUICKLIST_NODE_PLAIN).unwrap();
            o.string(b"big element").unwrap();
        });
        let v = read(TYPE_LIST_QUICKLIST_2, &bytes).unwrap().unwrap();
        assert_eq!(
            v,
            Value::ListQuicklist(vec![
                QuicklistNode::Packed(lp.clone()),
                QuicklistNode::Plain(b"big element".to_vec())
            ])
        );
        let bad_container = body(|o| {
            o.len(1).unwrap();
            o.len(3).unwrap();
            o.string(&lp).unwrap();
        });
        let e = read(TYPE_LIST_QUICKLIST_2, &bad_container).unwrap_err();
        assert_eq!(e.offset(), Some(1));
        let mut corrupt = lp.clone();
        corrupt[4] = 7;
        let bad_lp = body(|o| {
            o.len(1).unwrap();
            o.len(QUICKLIST_NODE_PACKED).unwrap();
            o.string(&corrupt).unwrap();
        });
        let e = read(TYPE_LIST_QUICKLIST_2, &bad_lp).unwrap_err();
        assert_eq!(
            e.to_string(),
            "corrupt RDB data at byte offset 2: quicklist node: listpack header count differs from its entries (Listpack integrity check failed)"
        );
    }

    #[test]
    fn zipmap_becomes_a_listpack() {
        let zm = zipmap(&[(b"f1", b"v1"), (b"f2", b"123")], 2);
        let v = read(TYPE_HASH_ZIPMAP, &blob_of(&zm)).unwrap().unwrap();
        assert_eq!(
            v,
            Value::HashListpack(listpack::from_values([&b"f1"[..], b"v1", b"f2", b"123"]))
        );
        let dup = zipmap(&[(b"f", b"1"), (b"f", b"2")], 0);
        assert!(read(TYPE_HASH_ZIPMAP, &blob_of(&dup)).is_err());
    }

    #[test]
    fn pair_ziplists_become_listpacks() {
        let zl = ziplist(&[b"f", b"v", b"g", b"w"]);
        let v = read(TYPE_HASH_ZIPLIST, &blob_of(&zl)).unwrap().unwrap();
        assert_eq!(
            v,
            Value::HashListpack(listpack::from_values([&b"f"[..], b"v", b"g", b"w"]))
        );
        let odd = ziplist(&[b"f", b"v", b"g"]);
        assert!(read(TYPE_HASH_ZIPLIST, &blob_of(&odd)).is_err());
        let zl = ziplist(&[b"a", b"1", b"b", b"2.5"]);
        let v = read(TYPE_ZSET_ZIPLIST, &blob_of(&zl)).unwrap().unwrap();
        assert_eq!(
            v,
            Value::ZSetListpack(listpack::from_values([&b"a"[..], b"1", b"b", b"2.5"]))
        );
        assert_eq!(
            read(TYPE_ZSET_ZIPLIST, &blob_of(&ziplist(&[]))).unwrap(),
            None
        );
    }

    #[test]
    fn pair_listpacks_are_checked() {
        let ok = listpack::from_values([&b"a"[..], b"1", b"b", b"1", b"c", b"-inf"]);
        assert!(check_pairs(&ok, false).is_ok());
        assert_eq!(
            check_pairs(&ok, true),
            Err("pairs not sorted by score, then member")
        );
        let ok = listpack::from_values([&b"c"[..], b"-inf", b"a", b"1", b"b", b"1", b"z", b"2.5"]);
        assert!(check_pairs(&ok, true).is_ok());
        let dup = listpack::from_values([&b"7"[..], b"1", b"7", b"2"]);
        assert_eq!(check_pairs(&dup, false), Err("duplicate field"));
        // A field stored as a string equals the same field stored as an integer.
        let mut b = Builder::new();
        b.push_int(7);
        b.push_int(1);
        b.push_str_raw(b"7");
        b.push_int(2);
        assert_eq!(check_pairs(&b.finish(), false), Err("duplicate field"));
        let nan = listpack::from_values([&b"a"[..], b"nan"]);
        assert_eq!(check_pairs(&nan, true), Err("score is NaN"));
        let text = listpack::from_values([&b"a"[..], b"abc"]);
        assert_eq!(check_pairs(&text, true), Err("score is not a number"));
        let odd = listpack::from_values([&b"a"[..]]);
        assert_eq!(check_pairs(&odd, false), Err("odd number of entries"));
    }

    #[test]
    fn plain_collections_are_checked() {
        let set = body(|o| {
            o.len(2).unwrap();
            o.string(b"m").unwrap();
            o.string(b"m").unwrap();
        });
        let e = read(TYPE_SET, &set).unwrap_err();
        assert_eq!(
            e.to_string(),
            "corrupt RDB data at byte offset 0: set member 1 is a duplicate"
        );
        let zset = body(|o| {
            o.len(2).unwrap();
            o.string(b"a").unwrap();
            o.u8(3).unwrap();
            o.write(b"1.5").unwrap();
            o.string(b"b").unwrap();
            o.u8(DOUBLE_NAN).unwrap();
        });
        let e = read(TYPE_ZSET, &zset).unwrap_err();
        assert_eq!(
            e.to_string(),
            "corrupt RDB data at byte offset 9: zset score is NaN"
        );
        let zset2 = body(|o| {
            o.len(2).unwrap();
            o.string(b"a").unwrap();
            o.binary_double(1.5).unwrap();
            o.string(b"b").unwrap();
            o.binary_double(f64::NEG_INFINITY).unwrap();
        });
        let v = read(TYPE_ZSET_2, &zset2).unwrap().unwrap();
        assert_eq!(
            v,
            Value::ZSet(vec![
                (b"a".to_vec(), 1.5),
                (b"b".to_vec(), f64::NEG_INFINITY)
            ])
        );
        let hash = body(|o| {
            o.len(2).unwrap();
            for _ in 0..2 {
                o.string(b"f").unwrap();
                o.string(b"v").unwrap();
            }
        });
        assert!(read(TYPE_HASH, &hash).is_err());
    }

    #[test]
    fn intsets_are_checked() {
        let is = intset::from_values(&[3, 1, 2]);
        assert_eq!(
            read(TYPE_SET_INTSET, &blob_of(&is)).unwrap(),
            Some(Value::SetIntset(is.clone()))
        );
        let mut bad = is.clone();
        bad[8] = 9;
        let e = read(TYPE_SET_INTSET, &blob_of(&bad)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "corrupt RDB data at byte offset 0: a set intset: intset members are not strictly ascending (Intset integrity check failed)"
        );
    }
}
