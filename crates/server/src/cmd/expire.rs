//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (one home: [`expire_generic`]),
//! TTL, PTTL, EXPIRETIME, PEXPIRETIME (one home: [`ttl_generic`]) and PERSIST.
//!
//! Replication sees absolute times only: the EXPIRE family is propagated as
//! `PEXPIREAT key <unix ms> [options]`, so a replica or an AOF replayed later expires the key
//! at the same instant as the primary. A time already past deletes the key at once
//! (propagated as DEL, or UNLINK under `lazyfree-lazy-expire`), except on a replica or while
//! loading, where the key keeps its past expiry time and waits for the primary's DEL.

use std::sync::atomic::Ordering;

use rudis_resp::Argv;

use super::keys::lookup_notouch;
use super::util::int_arg;
use crate::command::error::CmdError;
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::lazyfree;
use crate::keyspace::txn::event;

const KS: u64 = acl::KEYSPACE;
const RW_UPDATE: &[KeySpec] = &[KeySpec::one(1, keyflag::RW | keyflag::UPDATE)];
const RO_ACCESS: &[KeySpec] = &[KeySpec::one(1, keyflag::RO | keyflag::ACCESS)];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("expire", -3, expire)
        .flags(flag::WRITE | flag::FAST)
        .acl(KS)
        .keys(RW_UPDATE)
        .doc(
            "generic",
            "Set a key's time to live in seconds",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new("pexpire", -3, pexpire)
        .flags(flag::WRITE | flag::FAST)
        .acl(KS)
        .keys(RW_UPDATE)
        .doc(
            "generic",
            "Set a key's time to live in milliseconds",
            "2.6.0",
            "O(1)",
        ),
    CommandSpec::new("expireat", -3, expireat)
        .flags(flag::WRITE | flag::FAST)
        .acl(KS)
        .keys(RW_UPDATE)
        .doc(
            "generic",
            "Set the expiration for a key as a UNIX timestamp",
            "1.2.0",
            "O(1)",
        ),
    CommandSpec::new("pexpireat", -3, pexpireat)
        .flags(flag::WRITE | flag::FAST)
        .acl(KS)
        .keys(RW_UPDATE)
        .doc(
            "generic",
            "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
            "2.6.0",
            "O(1)",
        ),
    CommandSpec::new("ttl", 2, ttl)
        .flags(flag::READONLY | flag::FAST)
        .acl(KS)
        .keys(RO_ACCESS)
        .tips(&["nondeterministic_output"])
        .doc(
            "generic",
            "Get the time to live for a key in seconds",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new("pttl", 2, pttl)
        .flags(flag::READONLY | flag::FAST)
        .acl(KS)
        .keys(RO_ACCESS)
        .tips(&["nondeterministic_output"])
        .doc(
            "generic",
            "Get the time to live for a key in milliseconds",
            "2.6.0",
            "O(1)",
        ),
    CommandSpec::new("expiretime", 2, expiretime)
        .flags(flag::READONLY | flag::FAST)
        .acl(KS)
        .keys(RO_ACCESS)
        .doc(
            "generic",
            "Get the expiration Unix timestamp for a key",
            "7.0.0",
            "O(1)",
        ),
    CommandSpec::new("pexpiretime", 2, pexpiretime)
        .flags(flag::READONLY | flag::FAST)
        .acl(KS)
        .keys(RO_ACCESS)
        .doc(
            "generic",
            "Get the expiration Unix timestamp for a key in milliseconds",
            "7.0.0",
            "O(1)",
        ),
    CommandSpec::new("persist", 2, persist)
        .flags(flag::WRITE | flag::FAST)
        .acl(KS)
        .keys(RW_UPDATE)
        .doc(
            "generic",
            "Remove the expiration from a key",
            "2.2.0",
            "O(1)",
        ),
];

/// How the time argument of an EXPIRE-family command reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TimeArg {
    /// Seconds from now (EXPIRE).
    RelativeS,
    /// Milliseconds from now (PEXPIRE).
    RelativeMs,
    /// Unix seconds (EXPIREAT).
    AbsoluteS,
    /// Unix milliseconds (PEXPIREAT).
    AbsoluteMs,
}

/// EXPIRE key seconds [NX | XX | GT | LT]
fn expire(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    expire_generic(ctx, argv, TimeArg::RelativeS)
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
fn pexpire(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    expire_generic(ctx, argv, TimeArg::RelativeMs)
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
fn expireat(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    expire_generic(ctx, argv, TimeArg::AbsoluteS)
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
fn pexpireat(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    expire_generic(ctx, argv, TimeArg::AbsoluteMs)
}

/// The conditions of the EXPIRE family.
#[derive(Debug, Default, Clone, Copy)]
struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Conditions {
    fn parse(options: impl Iterator<Item = impl AsRef<[u8]>>) -> Result<Self, CmdError> {
        let mut c = Conditions::default();
        for opt in options {
            let opt = opt.as_ref();
            match opt.to_ascii_lowercase().as_slice() {
                b"nx" => c.nx = true,
                b"xx" => c.xx = true,
                b"gt" => c.gt = true,
                b"lt" => c.lt = true,
                _ => {
                    return Err(crate::err!(
                        "ERR Unsupported option {}",
                        String::from_utf8_lossy(opt)
                    ))
                }
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(
                "ERR NX and XX, GT or LT options at the same time are not compatible".into(),
            );
        }
        if c.gt && c.lt {
            return Err("ERR GT and LT options at the same time are not compatible".into());
        }
        Ok(c)
    }

    /// Whether a key whose expiry time is `current_ms` (`None`: no expiry, an infinite TTL)
    /// may be given `new_ms`.
    fn allow(self, current_ms: Option<i64>, new_ms: i64) -> bool {
        match current_ms {
            None => !(self.xx || self.gt),
            Some(current) => {
                !(self.nx || (self.gt && new_ms <= current) || (self.lt && new_ms >= current))
            }
        }
    }
}

/// The absolute expiry time (Unix ms) an EXPIRE-family argument asks for, or the command's
/// "invalid expire time" error on overflow. Negative and past times are valid.
fn absolute_ms(ctx: &Ctx, arg: &[u8], kind: TimeArg) -> Result<i64, CmdError> {
    let invalid = || crate::err!("ERR invalid expire time in '{}' command", ctx.cmd.fullname);
    let mut when = int_arg(arg)?;
    if matches!(kind, TimeArg::RelativeS | TimeArg::AbsoluteS) {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    if matches!(kind, TimeArg::RelativeS | TimeArg::RelativeMs) {
        when = when.checked_add(ctx.now_ms()).ok_or_else(invalid)?;
    }
    Ok(when)
}

/// Sets (or, for a time already past, applies) the expiry time of a key, under the NX/XX/GT/LT
/// conditions.
fn expire_generic(ctx: &mut Ctx, argv: Argv, kind: TimeArg) -> CmdResult {
    let conditions = Conditions::parse(argv.iter().skip(3))?;
    let when_ms = absolute_ms(ctx, argv.get(2), kind)?;
    let key = argv.get(1);
    if ctx.txn.get_mut(key).is_none() {
        ctx.reply.int(0);
        return Ok(());
    }
    if !conditions.allow(ctx.txn.expire_at(key), when_ms) {
        ctx.reply.int(0);
        return Ok(());
    }
    let loading = ctx.srv.state.loading.load(Ordering::Relaxed) || ctx.txn.loading;
    if when_ms <= ctx.now_ms() && !loading && !ctx.txn.replica {
        delete_expired_now(ctx, key);
    } else {
        ctx.txn.set_expire(key, when_ms);
        if kind != TimeArg::AbsoluteMs {
            let at = itoa::Buffer::new().format(when_ms).to_owned();
            let mut args: Vec<&[u8]> = vec![b"PEXPIREAT", key, at.as_bytes()];
            args.extend(argv.iter().skip(3));
            ctx.txn.propagate(&args);
        }
        ctx.txn.signal_modified(key);
        ctx.txn.notify(event::GENERIC, "expire", key);
        ctx.txn.dirty(1);
    }
    ctx.reply.int(1);
    Ok(())
}

/// An EXPIRE to a time already past: the key goes now, replicated as a deletion.
fn delete_expired_now(ctx: &mut Ctx, key: &[u8]) {
    let lazy = ctx.srv.cfg().lazyfree_lazy_expire;
    if let Some(entry) = ctx.txn.remove(key) {
        if lazy {
            lazyfree::free_value(entry.value);
        }
    }
    ctx.txn.dirty(1);
    let verb: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
    ctx.txn.propagate(&[verb, key]);
    ctx.txn.signal_modified(key);
    ctx.txn.notify(event::GENERIC, "del", key);
}

/// What a TTL-family command reports.
#[derive(Clone, Copy)]
struct TtlOutput {
    milliseconds: bool,
    absolute: bool,
}

/// TTL key
fn ttl(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    ttl_generic(
        ctx,
        argv.get(1),
        TtlOutput {
            milliseconds: false,
            absolute: false,
        },
    )
}

/// PTTL key
fn pttl(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    ttl_generic(
        ctx,
        argv.get(1),
        TtlOutput {
            milliseconds: true,
            absolute: false,
        },
    )
}

/// EXPIRETIME key
fn expiretime(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    ttl_generic(
        ctx,
        argv.get(1),
        TtlOutput {
            milliseconds: false,
            absolute: true,
        },
    )
}

/// PEXPIRETIME key
fn pexpiretime(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    ttl_generic(
        ctx,
        argv.get(1),
        TtlOutput {
            milliseconds: true,
            absolute: true,
        },
    )
}

/// -2 for a missing key, -1 for a key without expiry, otherwise the remaining time or the
/// expiry time, never negative. Seconds are rounded to the nearest.
fn ttl_generic(ctx: &mut Ctx, key: &[u8], out: TtlOutput) -> CmdResult {
    if lookup_notouch(ctx, key).is_none() {
        ctx.reply.int(-2);
        return Ok(());
    }
    let Some(at_ms) = ctx.txn.expire_at(key) else {
        ctx.reply.int(-1);
        return Ok(());
    };
    let ms = if out.absolute {
        at_ms
    } else {
        at_ms.saturating_sub(ctx.now_ms())
    }
    .max(0);
    ctx.reply.int(if out.milliseconds {
        ms
    } else {
        ms.saturating_add(500) / 1000
    });
    Ok(())
}

/// PERSIST key
fn persist(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(1);
    if ctx.txn.get_mut(key).is_none() || !ctx.txn.persist(key) {
        ctx.reply.int(0);
        return Ok(());
    }
    ctx.txn.signal_modified(key);
    ctx.txn.notify(event::GENERIC, "persist", key);
    ctx.txn.dirty(1);
    ctx.reply.int(1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(opts: &[&str]) -> Result<Conditions, CmdError> {
        Conditions::parse(opts.iter().map(|s| s.as_bytes()))
    }

    #[test]
    fn option_conflicts_use_redis_errors() {
        assert!(parse(&["nx"]).is_ok());
        assert!(parse(&["LT", "xx"]).is_ok());
        let nx = "ERR NX and XX, GT or LT options at the same time are not compatible";
        for bad in [&["nx", "xx"][..], &["NX", "GT"], &["nx", "lt"]] {
            assert_eq!(parse(bad).unwrap_err().text(), nx);
        }
        assert_eq!(
            parse(&["gt", "lt"]).unwrap_err().text(),
            "ERR GT and LT options at the same time are not compatible"
        );
        assert_eq!(
            parse(&["xx", "Ab"]).unwrap_err().text(),
            "ERR Unsupported option Ab"
        );
    }

    #[test]
    fn conditions_treat_no_expiry_as_infinite() {
        let c = |o: &[&str]| parse(o).unwrap();
        assert!(c(&[]).allow(None, 5) && c(&[]).allow(Some(9), 5));
        assert!(c(&["nx"]).allow(None, 5) && !c(&["nx"]).allow(Some(9), 5));
        assert!(!c(&["xx"]).allow(None, 5) && c(&["xx"]).allow(Some(9), 5));
        assert!(!c(&["gt"]).allow(None, 5));
        assert!(c(&["gt"]).allow(Some(4), 5) && !c(&["gt"]).allow(Some(5), 5));
        assert!(c(&["lt"]).allow(None, 5));
        assert!(c(&["lt"]).allow(Some(6), 5) && !c(&["lt"]).allow(Some(5), 5));
        assert!(!c(&["lt", "xx"]).allow(None, 5));
    }
}
