//! String commands. Shared logic of a family has one home: [`set_generic`] serves SET,
//! SETNX, SETEX, PSETEX and GETSET; [`incr_by`] serves INCR, DECR, INCRBY and DECRBY;
//! [`get_range`] serves GETRANGE and SUBSTR.
//!
//! Strings edited in place (APPEND, SETRANGE) grow through [`CompactBytes::make_growable`], so
//! repeated appends stay amortized O(1), and carry `FLAG_RAW` so OBJECT ENCODING says `raw`
//! as Redis does. No string grows past proto-max-bulk-len ([`check_string_length`]) before
//! anything is allocated. The LCS algorithm lives in the `lcs` submodule.

mod lcs;

use rudis_resp::Argv;

use super::util::{int_arg, is};
use crate::command::error::{
    CmdError, NOT_FLOAT, NOT_INTEGER, OVERFLOW, STRING_TOO_LONG, SYNTAX, WRONGTYPE,
};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::bytes::CompactBytes;
use crate::keyspace::txn::{event, Txn};
use crate::keyspace::value::{FLAG_NOT_INT, FLAG_RAW};
use crate::keyspace::Value;
use crate::util::longdouble;

const S: u64 = acl::STRING;
const RO: &[KeySpec] = &[KeySpec::one(1, keyflag::RO)];
const RO_ACCESS: &[KeySpec] = &[KeySpec::one(1, keyflag::RO | keyflag::ACCESS)];
const RW_UPDATE: &[KeySpec] = &[KeySpec::one(
    1,
    keyflag::RW | keyflag::ACCESS | keyflag::UPDATE,
)];
const OW_UPDATE: &[KeySpec] = &[KeySpec::one(1, keyflag::OW | keyflag::UPDATE)];
const GETRANGE_COMPLEXITY: &str = "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, get)
        .flags(flag::READONLY | flag::FAST)
        .acl(S)
        .keys(RO_ACCESS)
        .doc("string", "Get the value of a key", "1.0.0", "O(1)"),
    CommandSpec::new("set", -3, set)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(S)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::ACCESS | keyflag::UPDATE | keyflag::VARIABLE_FLAGS).notes("RW and ACCESS due to the optional `GET` argument")])
        .doc("string", "Set the string value of a key", "1.0.0", "O(1)"),
    CommandSpec::new("setnx", 3, setnx)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(&[KeySpec::one(1, keyflag::OW | keyflag::INSERT)])
        .doc("string", "Set the value of a key, only if the key does not exist", "1.0.0", "O(1)"),
    CommandSpec::new("setex", 4, setex)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(S)
        .keys(OW_UPDATE)
        .doc("string", "Set the value and expiration of a key", "2.0.0", "O(1)"),
    CommandSpec::new("psetex", 4, psetex)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(S)
        .keys(OW_UPDATE)
        .doc("string", "Set the value and expiration in milliseconds of a key", "2.6.0", "O(1)"),
    CommandSpec::new("getset", 3, getset)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(RW_UPDATE)
        .doc("string", "Set the string value of a key and return its old value", "1.0.0", "O(1)"),
    CommandSpec::new("getdel", 2, getdel)
        .flags(flag::WRITE | flag::FAST)
        .acl(S)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::ACCESS | keyflag::DELETE)])
        .doc("string", "Get the value of a key and delete the key", "6.2.0", "O(1)"),
    CommandSpec::new("getex", -2, getex)
        .flags(flag::WRITE | flag::FAST)
        .acl(S)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::ACCESS | keyflag::UPDATE).notes("RW and UPDATE because it changes the TTL")])
        .doc("string", "Get the value of a key and optionally set its expiration", "6.2.0", "O(1)"),
    CommandSpec::new("incr", 2, incr)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(RW_UPDATE)
        .doc("string", "Increment the integer value of a key by one", "1.0.0", "O(1)"),
    CommandSpec::new("decr", 2, decr)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(RW_UPDATE)
        .doc("string", "Decrement the integer value of a key by one", "1.0.0", "O(1)"),
    CommandSpec::new("incrby", 3, incrby)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(RW_UPDATE)
        .doc("string", "Increment the integer value of a key by the given amount", "1.0.0", "O(1)"),
    CommandSpec::new("decrby", 3, decrby)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(RW_UPDATE)
        .doc("string", "Decrement the integer value of a key by the given number", "1.0.0", "O(1)"),
    CommandSpec::new("incrbyfloat", 3, incrbyfloat)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(RW_UPDATE)
        .doc("string", "Increment the float value of a key by the given amount", "2.6.0", "O(1)"),
    CommandSpec::new("mget", -2, mget)
        .flags(flag::READONLY | flag::FAST)
        .acl(S)
        .keys(&[KeySpec::range(1, -1, 1, keyflag::RO | keyflag::ACCESS)])
        .tips(&["request_policy:multi_shard"])
        .doc("string", "Get the values of all the given keys", "1.0.0", "O(N) where N is the number of keys to retrieve."),
    CommandSpec::new("mset", -3, mset)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(S)
        .keys(&[KeySpec::range(1, -1, 2, keyflag::OW | keyflag::UPDATE)])
        .tips(&["request_policy:multi_shard", "response_policy:all_succeeded"])
        .doc("string", "Set multiple keys to multiple values", "1.0.1", "O(N) where N is the number of keys to set."),
    CommandSpec::new("msetnx", -3, msetnx)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(S)
        .keys(&[KeySpec::range(1, -1, 2, keyflag::OW | keyflag::INSERT)])
        .tips(&["request_policy:multi_shard", "response_policy:agg_min"])
        .doc("string", "Set multiple keys to multiple values, only if none of the keys exist", "1.0.1", "O(N) where N is the number of keys to set."),
    CommandSpec::new("append", 3, append)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::INSERT)])
        .doc("string", "Append a value to a key", "2.0.0", "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation."),
    CommandSpec::new("strlen", 2, strlen)
        .flags(flag::READONLY | flag::FAST)
        .acl(S)
        .keys(RO)
        .doc("string", "Get the length of the value stored in a key", "2.2.0", "O(1)"),
    CommandSpec::new("getrange", 4, getrange)
        .flags(flag::READONLY)
        .acl(S)
        .keys(RO_ACCESS)
        .doc("string", "Get a substring of the string stored at a key", "2.4.0", GETRANGE_COMPLEXITY),
    CommandSpec::new("substr", 4, getrange)
        .flags(flag::READONLY)
        .acl(S)
        .keys(RO_ACCESS)
        .doc("string", "Get a substring of the string stored at a key", "1.0.0", GETRANGE_COMPLEXITY),
    CommandSpec::new("setrange", 4, setrange)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(S)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::UPDATE)])
        .doc("string", "Overwrite part of a string at key starting at the specified offset", "2.2.0", "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument."),
    CommandSpec::new("lcs", -3, lcs)
        .flags(flag::READONLY)
        .acl(S)
        .keys(&[KeySpec::range(1, 1, 1, keyflag::RO | keyflag::ACCESS)])
        .doc("string", "Find longest common substring", "7.0.0", "O(N*M) where N and M are the lengths of s1 and s2, respectively"),
];

/// The string value of a key: `Ok(None)` if missing, WRONGTYPE if not a string.
pub fn read_string<'t>(ctx: &'t mut Ctx, key: &[u8]) -> Result<Option<&'t [u8]>, CmdError> {
    string_in(ctx.txn, key)
}

/// [`read_string`] borrowing only the keyspace view, so the caller can reply meanwhile.
pub fn string_in<'t>(txn: &'t mut Txn<'_>, key: &[u8]) -> Result<Option<&'t [u8]>, CmdError> {
    match txn.get(key) {
        None => Ok(None),
        Some(e) => e.value.as_str().map(Some).ok_or(WRONGTYPE),
    }
}

/// GET key
fn get(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    match ctx.txn.get(key) {
        None => ctx.reply.null(),
        Some(e) => match &e.value {
            Value::Str(s) => ctx.reply.bulk(s.as_slice()),
            _ => return Err(WRONGTYPE),
        },
    }
    Ok(())
}

/// Options of the SET family.
#[derive(Default, Clone, Copy)]
pub struct SetOptions {
    pub nx: bool,
    pub xx: bool,
    pub get: bool,
    pub keep_ttl: bool,
    /// Absolute expiry time in Unix ms.
    pub expire_at_ms: Option<i64>,
}

#[derive(Clone, Copy, PartialEq)]
enum ExpireUnit {
    None,
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Parses `[NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]`, with Redis's rules:
/// repeats are allowed, conflicting options are a syntax error.
fn parse_set_options(argv: Argv, now_ms: i64) -> Result<SetOptions, CmdError> {
    let mut o = SetOptions::default();
    let mut unit = ExpireUnit::None;
    let mut expire_arg: Option<&[u8]> = None;
    let mut i = 3;
    while i < argv.len() {
        let opt = argv.get(i).to_ascii_uppercase();
        let has_next = i + 1 < argv.len();
        let no_other_expire = |u: ExpireUnit| unit == ExpireUnit::None || unit == u;
        match opt.as_slice() {
            b"NX" if !o.xx => o.nx = true,
            b"XX" if !o.nx => o.xx = true,
            b"GET" => o.get = true,
            b"KEEPTTL" if unit == ExpireUnit::None => o.keep_ttl = true,
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if has_next && !o.keep_ttl => {
                let u = match opt.as_slice() {
                    b"EX" => ExpireUnit::Ex,
                    b"PX" => ExpireUnit::Px,
                    b"EXAT" => ExpireUnit::ExAt,
                    _ => ExpireUnit::PxAt,
                };
                if !no_other_expire(u) {
                    return Err(SYNTAX);
                }
                unit = u;
                expire_arg = Some(argv.get(i + 1));
                i += 1;
            }
            _ => return Err(SYNTAX),
        }
        i += 1;
    }
    if let Some(arg) = expire_arg {
        o.expire_at_ms = Some(expire_to_abs_ms(arg, unit, now_ms, "set")?);
    }
    Ok(o)
}

fn expire_to_abs_ms(arg: &[u8], unit: ExpireUnit, now_ms: i64, cmd: &str) -> Result<i64, CmdError> {
    let v = int_arg(arg)?;
    let seconds = matches!(unit, ExpireUnit::Ex | ExpireUnit::ExAt);
    let invalid = || crate::err!("ERR invalid expire time in '{}' command", cmd);
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(invalid());
    }
    let mut ms = if seconds { v * 1000 } else { v };
    if matches!(unit, ExpireUnit::Ex | ExpireUnit::Px) {
        ms = ms.checked_add(now_ms).ok_or_else(invalid)?;
    }
    Ok(ms)
}

/// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | KEEPTTL]
fn set(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let opts = parse_set_options(argv, ctx.now_ms())?;
    let dirty_before = ctx.txn.effects.dirty;
    set_generic(ctx, argv.get(1), argv.get(2), opts, Reply::OkOrNull)?;
    if opts.expire_at_ms.is_none() && opts.get && ctx.txn.effects.dirty > dirty_before {
        // Propagate without GET.
        let args: Vec<&[u8]> = argv
            .iter()
            .enumerate()
            .filter(|(i, a)| *i < 3 || !a.eq_ignore_ascii_case(b"GET"))
            .map(|(_, a)| a)
            .collect();
        ctx.txn.propagate(&args);
    }
    Ok(())
}

/// What a SET-family command replies on success and when NX/XX stopped it.
#[derive(Clone, Copy, PartialEq)]
pub enum Reply {
    /// +OK / null.
    OkOrNull,
    /// :1 / :0 (SETNX).
    OneOrZero,
    /// Nothing (GETSET replied with the old value already).
    Silent,
}

/// Stores a string value with SET's semantics, replying as `reply` says (or with the old
/// value when `opts.get`), propagating `SET key value PXAT ms` when an expiry was given.
pub fn set_generic(
    ctx: &mut Ctx,
    key: &[u8],
    value: &[u8],
    opts: SetOptions,
    reply: Reply,
) -> CmdResult {
    if opts.get {
        let old = read_string(ctx, key)?.map(<[u8]>::to_vec);
        match old {
            Some(v) => ctx.reply.bulk(&v),
            None => ctx.reply.null(),
        }
    }
    let found = ctx.txn.get_mut(key).is_some();
    if (opts.nx && found) || (opts.xx && !found) {
        if !opts.get {
            match reply {
                Reply::OkOrNull => ctx.reply.null(),
                Reply::OneOrZero => ctx.reply.int(0),
                Reply::Silent => {}
            }
        }
        return Ok(());
    }
    ctx.txn
        .set(key, Value::Str(CompactBytes::new(value)), opts.keep_ttl);
    ctx.txn.signal_modified(key);
    ctx.txn.dirty(1);
    ctx.txn.notify(event::STRING, "set", key);
    if let Some(at_ms) = opts.expire_at_ms {
        ctx.txn.set_expire(key, at_ms);
        let at = at_ms.to_string();
        ctx.txn
            .propagate(&[b"SET", key, value, b"PXAT", at.as_bytes()]);
        ctx.txn.notify(event::GENERIC, "expire", key);
    }
    if !opts.get {
        match reply {
            Reply::OkOrNull => ctx.reply.ok(),
            Reply::OneOrZero => ctx.reply.int(1),
            Reply::Silent => {}
        }
    }
    Ok(())
}

/// SETNX key value
fn setnx(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    set_generic(
        ctx,
        argv.get(1),
        argv.get(2),
        SetOptions {
            nx: true,
            ..Default::default()
        },
        Reply::OneOrZero,
    )
}

/// SETEX key seconds value
fn setex(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let at = expire_to_abs_ms(argv.get(2), ExpireUnit::Ex, ctx.now_ms(), "setex")?;
    set_generic(
        ctx,
        argv.get(1),
        argv.get(3),
        SetOptions {
            expire_at_ms: Some(at),
            ..Default::default()
        },
        Reply::OkOrNull,
    )
}

/// PSETEX key milliseconds value
fn psetex(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let at = expire_to_abs_ms(argv.get(2), ExpireUnit::Px, ctx.now_ms(), "psetex")?;
    set_generic(
        ctx,
        argv.get(1),
        argv.get(3),
        SetOptions {
            expire_at_ms: Some(at),
            ..Default::default()
        },
        Reply::OkOrNull,
    )
}

/// GETSET key value
fn getset(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    set_generic(
        ctx,
        argv.get(1),
        argv.get(2),
        SetOptions {
            get: true,
            ..Default::default()
        },
        Reply::Silent,
    )?;
    ctx.txn.propagate(&[b"SET", argv.get(1), argv.get(2)]);
    Ok(())
}

/// INCR key
fn incr(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    incr_by(ctx, argv.get(1), 1)
}

/// DECR key
fn decr(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    incr_by(ctx, argv.get(1), -1)
}

/// INCRBY key increment
fn incrby(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let by = int_arg(argv.get(2))?;
    incr_by(ctx, argv.get(1), by)
}

/// DECRBY key decrement
fn decrby(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let by = int_arg(argv.get(2))?;
    if by == i64::MIN {
        return Err("ERR decrement would overflow".into());
    }
    incr_by(ctx, argv.get(1), -by)
}

/// Adds `by` to the integer stored at `key` (0 if missing), keeping its TTL.
pub fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    let new = match ctx.txn.get_mut(key) {
        Some(e) => {
            let Value::Str(s) = &mut e.value else {
                return Err(WRONGTYPE);
            };
            let old = rudis_resp::number::parse_i64(s.as_slice()).ok_or(NOT_INTEGER)?;
            let new = old.checked_add(by).ok_or(OVERFLOW)?;
            *s = CompactBytes::from_i64(new);
            e.flags &= !(FLAG_RAW | FLAG_NOT_INT);
            new
        }
        None => {
            ctx.txn.add(key, Value::Str(CompactBytes::from_i64(by)));
            by
        }
    };
    ctx.txn.signal_modified(key);
    ctx.txn.dirty(1);
    ctx.txn.notify(event::STRING, "incrby", key);
    ctx.reply.int(new);
    Ok(())
}

/// MGET key [key ...]
fn mget(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    ctx.reply.array(argv.len() - 1);
    for key in argv.iter().skip(1) {
        match ctx.txn.get(key).and_then(|e| e.value.as_str()) {
            Some(v) => ctx.reply.bulk(v),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

/// MSET key value [key value ...]
fn mset(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(crate::command::error::wrong_arity("mset"));
    }
    mset_all(ctx, argv);
    ctx.reply.ok();
    Ok(())
}

/// MSETNX key value [key value ...]
fn msetnx(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(crate::command::error::wrong_arity("msetnx"));
    }
    let any_exists = (1..argv.len())
        .step_by(2)
        .any(|i| ctx.txn.get_mut(argv.get(i)).is_some());
    if any_exists {
        ctx.reply.int(0);
        return Ok(());
    }
    mset_all(ctx, argv);
    ctx.reply.int(1);
    Ok(())
}

fn mset_all(ctx: &mut Ctx, argv: Argv) {
    for i in (1..argv.len()).step_by(2) {
        let (key, value) = (argv.get(i), argv.get(i + 1));
        ctx.txn
            .set(key, Value::Str(CompactBytes::new(value)), false);
        ctx.txn.signal_modified(key);
        ctx.txn.notify(event::STRING, "set", key);
    }
    ctx.txn.dirty(((argv.len() - 1) / 2) as u64);
}

// ---- Edits in place ----------------------------------------------------------------------

/// Refuses to make a string of `size + append` bytes when that exceeds `limit_bytes` (see
/// [`string_limit_bytes`]) or overflows.
pub fn check_string_length(size: u64, append: u64, limit_bytes: u64) -> CmdResult {
    match size.checked_add(append) {
        Some(total) if total <= limit_bytes => Ok(()),
        _ => Err(STRING_TOO_LONG),
    }
}

/// The longest string a command from this client may make: proto-max-bulk-len. Writes from
/// our master are exempt (a replica applies what its master accepted), but never beyond what
/// could be allocated at all.
pub fn string_limit_bytes(ctx: &Ctx) -> u64 {
    if ctx.client.is_master {
        isize::MAX as u64
    } else {
        ctx.srv.cfg().proto_max_bulk_len.max(0) as u64
    }
}

/// APPEND key value
fn append(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (key, tail) = (argv.get(1), argv.get(2));
    let limit_bytes = string_limit_bytes(ctx);
    let len = match ctx.txn.get_mut(key) {
        Some(e) => {
            let Value::Str(s) = &mut e.value else {
                return Err(WRONGTYPE);
            };
            check_string_length(s.len() as u64, tail.len() as u64, limit_bytes)?;
            let bytes = s.make_growable();
            bytes.extend_from_slice(tail);
            e.flags |= FLAG_RAW;
            bytes.len()
        }
        None => {
            // A new key holds the argument as SET would store it, not as an edited string.
            ctx.txn.add(key, Value::str(tail));
            tail.len()
        }
    };
    ctx.txn.signal_modified(key);
    ctx.txn.notify(event::STRING, "append", key);
    ctx.txn.dirty(1);
    ctx.reply.int(len as i64);
    Ok(())
}

/// SETRANGE key offset value
fn setrange(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (key, patch) = (argv.get(1), argv.get(3));
    let offset = int_arg(argv.get(2))?;
    if offset < 0 {
        return Err("ERR offset is out of range".into());
    }
    let offset = offset as u64;
    let limit_bytes = string_limit_bytes(ctx);
    let len = match ctx.txn.get_mut(key) {
        Some(e) => {
            let Value::Str(s) = &mut e.value else {
                return Err(WRONGTYPE);
            };
            if patch.is_empty() {
                ctx.reply.int(s.len() as i64);
                return Ok(());
            }
            // Checked before growing anything: the offset is only what the client claims.
            check_string_length(offset, patch.len() as u64, limit_bytes)?;
            let bytes = s.make_growable();
            overwrite_at(bytes, offset as usize, patch);
            e.flags |= FLAG_RAW;
            bytes.len()
        }
        None if patch.is_empty() => {
            ctx.reply.int(0);
            return Ok(());
        }
        None => {
            check_string_length(offset, patch.len() as u64, limit_bytes)?;
            let mut bytes = Vec::new();
            overwrite_at(&mut bytes, offset as usize, patch);
            let len = bytes.len();
            let entry = ctx.txn.add(key, Value::Str(CompactBytes::from_vec(bytes)));
            entry.flags |= FLAG_RAW;
            len
        }
    };
    ctx.txn.signal_modified(key);
    ctx.txn.notify(event::STRING, "setrange", key);
    ctx.txn.dirty(1);
    ctx.reply.int(len as i64);
    Ok(())
}

/// Writes `patch` at `offset`, zero-padding the bytes up to it.
fn overwrite_at(bytes: &mut Vec<u8>, offset: usize, patch: &[u8]) {
    let end = offset + patch.len();
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[offset..end].copy_from_slice(patch);
}

// ---- Reads -------------------------------------------------------------------------------

/// STRLEN key
fn strlen(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let len = read_string(ctx, argv.get(1))?.map_or(0, <[u8]>::len);
    ctx.reply.int(len as i64);
    Ok(())
}

/// GETRANGE key start end (also SUBSTR key start end)
fn getrange(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let start = int_arg(argv.get(2))?;
    let end = int_arg(argv.get(3))?;
    let value = string_in(ctx.txn, argv.get(1))?.unwrap_or_default();
    let range = if start < 0 && end < 0 && start > end {
        None
    } else {
        get_range(start, end, value.len() as i64)
    };
    let part = range.map_or(&[][..], |(s, e)| &value[s as usize..=e as usize]);
    ctx.reply.bulk(part);
    Ok(())
}

/// Redis's inclusive range over `len` items: negative indexes count from the end, both ends
/// are clamped into the items, and `None` means the range is empty.
pub fn get_range(start: i64, end: i64, len: i64) -> Option<(i64, i64)> {
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end }.max(0).min(len - 1);
    (start <= end).then_some((start, end))
}

/// GETDEL key
fn getdel(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    match string_in(ctx.txn, key)? {
        None => {
            ctx.reply.null();
            return Ok(());
        }
        Some(value) => ctx.reply.bulk(value),
    }
    ctx.txn.remove(key);
    let lazy = ctx.srv.cfg().lazyfree_lazy_user_del;
    ctx.txn
        .propagate(&[if lazy { b"UNLINK" } else { b"DEL" }, key]);
    ctx.txn.signal_modified(key);
    ctx.txn.notify(event::GENERIC, "del", key);
    ctx.txn.dirty(1);
    Ok(())
}

/// What GETEX does besides replying.
#[derive(Clone, Copy, PartialEq)]
enum GetexAction<'a> {
    Nothing,
    Expire(ExpireUnit, &'a [u8]),
    Persist,
}

/// Parses `[EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds
/// | PERSIST]` with Redis's rules: an option may be repeated (the last value wins), two
/// different ones are a syntax error.
fn parse_getex_options(argv: Argv) -> Result<GetexAction, CmdError> {
    let mut action = GetexAction::Nothing;
    let mut i = 2;
    while i < argv.len() {
        let opt = argv.get(i);
        let unit = if is(opt, "EX") {
            ExpireUnit::Ex
        } else if is(opt, "PX") {
            ExpireUnit::Px
        } else if is(opt, "EXAT") {
            ExpireUnit::ExAt
        } else if is(opt, "PXAT") {
            ExpireUnit::PxAt
        } else if is(opt, "PERSIST")
            && matches!(action, GetexAction::Nothing | GetexAction::Persist)
        {
            action = GetexAction::Persist;
            i += 1;
            continue;
        } else {
            return Err(SYNTAX);
        };
        let compatible = match action {
            GetexAction::Nothing => true,
            GetexAction::Expire(u, _) => u == unit,
            GetexAction::Persist => false,
        };
        if !compatible || i + 1 >= argv.len() {
            return Err(SYNTAX);
        }
        action = GetexAction::Expire(unit, argv.get(i + 1));
        i += 2;
    }
    Ok(action)
}

/// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT
/// unix-time-milliseconds | PERSIST]
fn getex(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    let action = parse_getex_options(argv)?;
    let now_ms = ctx.now_ms();
    // The key is checked before the expire time, and the reply sent before anything changes.
    let at_ms = match string_in(ctx.txn, key)? {
        None => {
            ctx.reply.null();
            return Ok(());
        }
        Some(value) => {
            let at_ms = match action {
                GetexAction::Expire(unit, arg) => {
                    Some(expire_to_abs_ms(arg, unit, now_ms, "getex")?)
                }
                _ => None,
            };
            ctx.reply.bulk(value);
            at_ms
        }
    };
    match (action, at_ms) {
        (GetexAction::Expire(unit, _), Some(at_ms)) => getex_expire(ctx, key, unit, at_ms),
        (GetexAction::Persist, _) if ctx.txn.persist(key) => {
            ctx.txn.propagate(&[b"PERSIST", key]);
            ctx.txn.signal_modified(key);
            ctx.txn.notify(event::GENERIC, "persist", key);
            ctx.txn.dirty(1);
        }
        _ => {}
    }
    Ok(())
}

/// Gives `key` the expiry time `at_ms`, propagated as PEXPIREAT; an absolute time already
/// past deletes the key instead (on a primary: a replica waits for its primary's DEL).
fn getex_expire(ctx: &mut Ctx, key: &[u8], unit: ExpireUnit, at_ms: i64) {
    let absolute = matches!(unit, ExpireUnit::ExAt | ExpireUnit::PxAt);
    if absolute && at_ms <= ctx.now_ms() && !ctx.txn.replica {
        ctx.txn.remove(key);
        let lazy = ctx.srv.cfg().lazyfree_lazy_expire;
        ctx.txn
            .propagate(&[if lazy { b"UNLINK" } else { b"DEL" }, key]);
        ctx.txn.signal_modified(key);
        ctx.txn.notify(event::GENERIC, "del", key);
    } else {
        ctx.txn.set_expire(key, at_ms);
        let at = at_ms.to_string();
        ctx.txn.propagate(&[b"PEXPIREAT", key, at.as_bytes()]);
        ctx.txn.signal_modified(key);
        ctx.txn.notify(event::GENERIC, "expire", key);
    }
    ctx.txn.dirty(1);
}

// ---- INCRBYFLOAT -------------------------------------------------------------------------

/// INCRBYFLOAT key increment
fn incrbyfloat(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let (key, by) = (argv.get(1), argv.get(2));
    let sum = match ctx.txn.get_mut(key) {
        Some(e) => {
            let Value::Str(s) = &mut e.value else {
                return Err(WRONGTYPE);
            };
            let sum = float_sum(Some(s.as_slice()), by)?;
            *s = CompactBytes::new(&sum);
            e.flags = (e.flags & !FLAG_RAW) | FLAG_NOT_INT;
            sum
        }
        None => {
            let sum = float_sum(None, by)?;
            ctx.txn.add(key, Value::str(&sum)).flags |= FLAG_NOT_INT;
            sum
        }
    };
    ctx.txn.signal_modified(key);
    ctx.txn.notify(event::STRING, "incrbyfloat", key);
    ctx.txn.dirty(1);
    ctx.reply.bulk(&sum);
    // The exact result, so float formatting can never make a replica or an AOF reload differ.
    ctx.txn.propagate(&[b"SET", key, &sum, b"KEEPTTL"]);
    Ok(())
}

/// `base + by` in Redis's long double arithmetic and formatting.
fn float_sum(base: Option<&[u8]>, by: &[u8]) -> Result<Vec<u8>, CmdError> {
    longdouble::incr(base, by).map_err(|e| match e {
        longdouble::IncrError::BadBase | longdouble::IncrError::BadIncrement => NOT_FLOAT,
        longdouble::IncrError::NanOrInf => "ERR increment would produce NaN or Infinity".into(),
    })
}

// ---- LCS ---------------------------------------------------------------------------------

/// What LCS replies with.
#[derive(Default)]
struct LcsOptions {
    len_only: bool,
    idx: bool,
    with_match_len: bool,
    min_match_len: u64,
}

fn parse_lcs_options(argv: Argv) -> Result<LcsOptions, CmdError> {
    let mut o = LcsOptions::default();
    let mut i = 3;
    while i < argv.len() {
        let opt = argv.get(i);
        if is(opt, "IDX") {
            o.idx = true;
        } else if is(opt, "LEN") {
            o.len_only = true;
        } else if is(opt, "WITHMATCHLEN") {
            o.with_match_len = true;
        } else if is(opt, "MINMATCHLEN") && i + 1 < argv.len() {
            o.min_match_len = int_arg(argv.get(i + 1))?.max(0) as u64;
            i += 1;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    if o.len_only && o.idx {
        return Err("ERR If you want both the length and indexes, please just use IDX.".into());
    }
    Ok(o)
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]
fn lcs(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let wrong = || CmdError::from("ERR The specified keys must contain string values");
    let a_found = ctx
        .txn
        .get(argv.get(1))
        .map(|e| e.value.as_str().map(<[u8]>::to_vec));
    let b_found = ctx
        .txn
        .get(argv.get(2))
        .map(|e| e.value.as_str().map(<[u8]>::to_vec));
    let a = a_found.unwrap_or(Some(Vec::new())).ok_or_else(wrong)?;
    let b = b_found.unwrap_or(Some(Vec::new())).ok_or_else(wrong)?;
    let o = parse_lcs_options(argv)?;
    let limit_bytes = ctx.srv.cfg().proto_max_bulk_len.max(0) as u64;
    let table = lcs::Table::build(&a, &b, limit_bytes).map_err(|e| CmdError::from(e.text()))?;
    if o.len_only {
        ctx.reply.int(i64::from(table.lcs_len()));
        return Ok(());
    }
    let (common, matches) = table.walk(&a, &b, o.min_match_len);
    if !o.idx {
        ctx.reply.bulk(&common);
        return Ok(());
    }
    ctx.reply.map(2);
    ctx.reply.bulk(b"matches");
    ctx.reply.array(matches.len());
    for m in &matches {
        ctx.reply.array(if o.with_match_len { 3 } else { 2 });
        for (first, last) in [m.a, m.b] {
            ctx.reply.array(2);
            ctx.reply.int(i64::from(first));
            ctx.reply.int(i64::from(last));
        }
        if o.with_match_len {
            ctx.reply.int(i64::from(m.len()));
        }
    }
    ctx.reply.bulk(b"len");
    ctx.reply.int(i64::from(table.lcs_len()));
    Ok(())
}

#[cfg(test)]
pub(crate) mod testkit;

#[cfg(test)]
mod tests;
