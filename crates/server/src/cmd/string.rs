//! String commands. Shared logic of a family has one home: [`set_generic`] serves SET,
//! SETNX, SETEX, PSETEX and GETSET; [`incr_by`] serves INCR, DECR, INCRBY and DECRBY.

use rudis_resp::Argv;

use super::util::int_arg;
use crate::command::error::{CmdError, NOT_INTEGER, OVERFLOW, SYNTAX, WRONGTYPE};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::bytes::CompactBytes;
use crate::keyspace::txn::event;
use crate::keyspace::Value;

const S: u64 = acl::STRING;
const RO_ACCESS: &[KeySpec] = &[KeySpec::one(1, keyflag::RO | keyflag::ACCESS)];
const RW_UPDATE: &[KeySpec] = &[KeySpec::one(
    1,
    keyflag::RW | keyflag::ACCESS | keyflag::UPDATE,
)];
const OW_UPDATE: &[KeySpec] = &[KeySpec::one(1, keyflag::OW | keyflag::UPDATE)];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, get)
        .flags(flag::READONLY | flag::FAST)
        .acl(S)
        .keys(RO_ACCESS)
        .doc("string", "Returns the string value of a key.", "1.0.0", "O(1)"),
    CommandSpec::new("set", -3, set)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(S)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::ACCESS | keyflag::UPDATE | keyflag::VARIABLE_FLAGS).notes("RW and ACCESS due to the optional `GET` argument")])
        .doc("string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "1.0.0", "O(1)"),
    CommandSpec::new("setnx", 3, setnx)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(&[KeySpec::one(1, keyflag::OW | keyflag::INSERT)])
        .doc("string", "Set the string value of a key only when the key doesn't exist.", "1.0.0", "O(1)"),
    CommandSpec::new("setex", 4, setex)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(S)
        .keys(OW_UPDATE)
        .doc("string", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "2.0.0", "O(1)"),
    CommandSpec::new("psetex", 4, psetex)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(S)
        .keys(OW_UPDATE)
        .doc("string", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "2.6.0", "O(1)"),
    CommandSpec::new("getset", 3, getset)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(RW_UPDATE)
        .doc("string", "Returns the previous string value of a key after setting it to a new value.", "1.0.0", "O(1)"),
    CommandSpec::new("incr", 2, incr)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(RW_UPDATE)
        .doc("string", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)"),
    CommandSpec::new("decr", 2, decr)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(RW_UPDATE)
        .doc("string", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)"),
    CommandSpec::new("incrby", 3, incrby)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(RW_UPDATE)
        .doc("string", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)"),
    CommandSpec::new("decrby", 3, decrby)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(S)
        .keys(RW_UPDATE)
        .doc("string", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "O(1)"),
    CommandSpec::new("mget", -2, mget)
        .flags(flag::READONLY | flag::FAST)
        .acl(S)
        .keys(&[KeySpec::range(1, -1, 1, keyflag::RO | keyflag::ACCESS)])
        .tips(&["request_policy:multi_shard"])
        .doc("string", "Atomically returns the string values of one or more keys.", "1.0.0", "O(N) where N is the number of keys to retrieve."),
    CommandSpec::new("mset", -3, mset)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(S)
        .keys(&[KeySpec::range(1, -1, 2, keyflag::OW | keyflag::UPDATE)])
        .tips(&["request_policy:multi_shard", "response_policy:all_succeeded"])
        .doc("string", "Atomically creates or modifies the string values of one or more keys.", "1.0.1", "O(N) where N is the number of keys to set."),
    CommandSpec::new("msetnx", -3, msetnx)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(S)
        .keys(&[KeySpec::range(1, -1, 2, keyflag::OW | keyflag::INSERT)])
        .tips(&["request_policy:multi_shard", "response_policy:agg_min"])
        .doc("string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "1.0.1", "O(N) where N is the number of keys to set."),
];

/// The string value of a key: `Ok(None)` if missing, WRONGTYPE if not a string.
pub fn read_string<'t>(ctx: &'t mut Ctx, key: &[u8]) -> Result<Option<&'t [u8]>, CmdError> {
    match ctx.txn.get(key) {
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
            e.flags &= !crate::keyspace::value::FLAG_RAW;
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
