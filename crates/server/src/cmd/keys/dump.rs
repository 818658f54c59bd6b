//! DUMP and RESTORE (and RESTORE-ASKING, which MIGRATE sends in cluster mode).
//!
//! A payload is one value in the RDB encoding, the RDB version (2 bytes, little endian) and
//! the CRC64 of everything before the CRC (`rudis_rdb::dump`). Payloads cross between Rudis
//! and Redis unchanged: listpacks, intsets and quicklist nodes keep Redis's bytes.
//!
//! A payload is outside input: it is checked completely before anything is stored, and a bad
//! one gets Redis's error, never a panic. A RESTORE with a relative TTL propagates with the
//! absolute expiry time and `ABSTTL`, so replicas and the AOF agree on when the key expires.

use rudis_resp::Argv;

use super::object::lfu_policy;
use crate::cmd::util::is;
use crate::command::error::{CmdError, NOT_INTEGER, SYNTAX};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::lazyfree;
use crate::keyspace::txn::event;
use crate::persist::codec::{self, PayloadError};
use crate::server::log::{self, Verbosity};

const BUSYKEY: &str = "BUSYKEY Target key name already exists.";
const BAD_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
const BAD_DATA: &str = "ERR Bad data format";

/// DUMP key
pub(super) fn dump(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let compress = ctx.srv.cfg().rdbcompression;
    let Some(entry) = ctx.txn.get(argv.get(1)) else {
        ctx.reply.null();
        return Ok(());
    };
    let payload = codec::encode_payload(&entry.value, compress);
    ctx.reply.bulk(&payload);
    Ok(())
}

/// RESTORE's options after the payload.
#[derive(Debug, Default, PartialEq, Eq)]
struct RestoreOptions {
    replace: bool,
    absttl: bool,
    idle_secs: Option<i64>,
    freq: Option<u8>,
}

/// Parses `[REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]` as Redis does: IDLETIME
/// and FREQ exclude each other (the second one is a syntax error).
fn parse_options(argv: Argv) -> Result<RestoreOptions, CmdError> {
    let mut opts = RestoreOptions::default();
    let mut i = 4;
    while i < argv.len() {
        let (arg, has_value) = (argv.get(i), i + 1 < argv.len());
        if is(arg, "replace") {
            opts.replace = true;
        } else if is(arg, "absttl") {
            opts.absttl = true;
        } else if is(arg, "idletime") && has_value && opts.freq.is_none() {
            let idle = rudis_resp::number::parse_i64(argv.get(i + 1)).ok_or(NOT_INTEGER)?;
            if idle < 0 {
                return Err("ERR Invalid IDLETIME value, must be >= 0".into());
            }
            opts.idle_secs = Some(idle);
            i += 1;
        } else if is(arg, "freq") && has_value && opts.idle_secs.is_none() {
            let freq = rudis_resp::number::parse_i64(argv.get(i + 1)).ok_or(NOT_INTEGER)?;
            let freq = u8::try_from(freq)
                .map_err(|_| CmdError::from("ERR Invalid FREQ value, must be >= 0 and <= 255"))?;
            opts.freq = Some(freq);
            i += 1;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    Ok(opts)
}

/// Checks and decodes a payload into a value in the encoding our thresholds choose.
fn decode_payload(ctx: &Ctx, payload: &[u8]) -> Result<crate::keyspace::Value, CmdError> {
    let skip = ctx
        .srv
        .state
        .skip_checksum_validation
        .load(std::sync::atomic::Ordering::Relaxed);
    codec::decode_payload(payload, !skip, &ctx.srv.cfg()).map_err(|e| match e {
        PayloadError::VersionOrChecksum => BAD_PAYLOAD.into(),
        PayloadError::BadData(why) => {
            log::write_line(
                Verbosity::Verbose,
                &format!("RESTORE refused a payload: {why}"),
            );
            BAD_DATA.into()
        }
    })
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
pub(super) fn restore(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let opts = parse_options(argv)?;
    let key = argv.get(1);
    if !opts.replace && ctx.txn.get_mut(key).is_some() {
        return Err(BUSYKEY.into());
    }
    let ttl_ms = rudis_resp::number::parse_i64(argv.get(2)).ok_or(NOT_INTEGER)?;
    if ttl_ms < 0 {
        return Err("ERR Invalid TTL value, must be >= 0".into());
    }
    let value = decode_payload(ctx, argv.get(3))?;
    let deleted = opts.replace && remove_old(ctx, key);
    // A relative TTL counts from now; like Redis, an absurd one wraps into the past.
    let expire_at_ms = match ttl_ms {
        0 => None,
        t if opts.absttl => Some(t),
        t => Some(t.wrapping_add(ctx.txn.now_ms)),
    };
    if expire_at_ms.is_some_and(|at| at <= ctx.txn.now_ms && !ctx.txn.replica) {
        // Already expired: the key is not created, and only a replaced key's deletion is
        // propagated.
        if deleted {
            ctx.txn.propagate(&[b"DEL", key]);
            ctx.txn.signal_modified(key);
            ctx.txn.notify(event::GENERIC, "del", key);
            ctx.txn.dirty(1);
        }
        ctx.reply.ok();
        return Ok(());
    }
    let lfu = lfu_policy(&ctx.srv.cfg());
    let access = codec::access_for(lfu, opts.idle_secs, opts.freq, ctx.txn.now_ms);
    // `set`, not `add`: on a replica a key past its expiry reads as missing yet is still
    // there, and its master's RESTORE replaces it.
    ctx.txn.set(key, value, false);
    if let Some(access) = access {
        let db = ctx.txn.db;
        if let Some(entry) = ctx.txn.shard(db, key).keys.get_mut(key) {
            entry.access = access;
        }
    }
    if let Some(at_ms) = expire_at_ms {
        ctx.txn.set_expire(key, at_ms);
        if !opts.absttl {
            propagate_absolute(ctx, argv, at_ms);
        }
    }
    ctx.txn.signal_modified(key);
    ctx.txn.notify(event::GENERIC, "restore", key);
    ctx.txn.dirty(1);
    ctx.reply.ok();
    Ok(())
}

/// Deletes the key RESTORE ... REPLACE overwrites. Returns true if there was one.
fn remove_old(ctx: &mut Ctx, key: &[u8]) -> bool {
    let Some(old) = ctx.txn.remove(key) else {
        return false;
    };
    if ctx.srv.cfg().lazyfree_lazy_server_del {
        lazyfree::free_value(old.value);
    }
    true
}

/// Propagates the RESTORE with its expiry as an absolute time (`ABSTTL` appended).
fn propagate_absolute(ctx: &mut Ctx, argv: Argv, at_ms: i64) {
    let at = at_ms.to_string();
    let mut args: Vec<&[u8]> = argv.iter().collect();
    args[2] = at.as_bytes();
    args.push(b"ABSTTL");
    ctx.txn.propagate(&args);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv_of(args: &[&str]) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
        let mut base = Vec::new();
        let mut ranges = Vec::new();
        for a in args {
            let start = base.len();
            base.extend_from_slice(a.as_bytes());
            ranges.push(start..base.len());
        }
        (base, ranges)
    }

    fn parse(args: &[&str]) -> Result<RestoreOptions, CmdError> {
        let mut full = vec!["RESTORE", "k", "0", "payload"];
        full.extend_from_slice(args);
        let (base, ranges) = argv_of(&full);
        parse_options(Argv::new(&base, &ranges))
    }

    #[test]
    fn options_parse_as_redis_parses_them() {
        assert_eq!(parse(&[]).unwrap(), RestoreOptions::default());
        let o = parse(&["REPLACE", "absttl", "IdleTime", "10"]).unwrap();
        assert!(o.replace && o.absttl);
        assert_eq!(o.idle_secs, Some(10));
        assert_eq!(parse(&["freq", "255"]).unwrap().freq, Some(255));
        assert_eq!(
            parse(&["freq", "256"]).unwrap_err().text(),
            "ERR Invalid FREQ value, must be >= 0 and <= 255"
        );
        assert_eq!(
            parse(&["idletime", "-1"]).unwrap_err().text(),
            "ERR Invalid IDLETIME value, must be >= 0"
        );
        assert_eq!(parse(&["idletime", "x"]).unwrap_err(), NOT_INTEGER);
        assert_eq!(parse(&["idletime", "1", "freq", "1"]).unwrap_err(), SYNTAX);
        assert_eq!(parse(&["freq", "1", "idletime", "1"]).unwrap_err(), SYNTAX);
        assert_eq!(parse(&["idletime"]).unwrap_err(), SYNTAX);
        assert_eq!(parse(&["bogus"]).unwrap_err(), SYNTAX);
    }

    use crate::cmd::keys::tests::Harness;

    /// The payload DUMP returns for `key`.
    fn dump_of(h: &mut Harness, key: &str) -> Vec<u8> {
        let out = h.run(&["DUMP", key]);
        let (v, _) = rudis_resp::Value::parse(&out.raw).unwrap().unwrap();
        v.as_bytes().expect("a bulk reply").to_vec()
    }

    fn restore(h: &mut Harness, args: &[&str], payload: &[u8]) -> super::super::tests::Outcome {
        let mut full: Vec<&[u8]> =
            vec![b"RESTORE", args[0].as_bytes(), args[1].as_bytes(), payload];
        full.extend(args[2..].iter().map(|a| a.as_bytes()));
        h.run_bytes(&full)
    }

    #[test]
    fn restore_recreates_the_value_and_records_restore() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "l", "a", "b", "1"]);
        let payload = dump_of(&mut h, "l");
        assert_eq!(h.run(&["DUMP", "nokey"]).reply, "$-1\r\n");
        let out = restore(&mut h, &["l", "0"], &payload);
        assert_eq!(out.reply, "-BUSYKEY Target key name already exists.\r\n");
        let out = restore(&mut h, &["copy", "0"], &payload);
        assert_eq!(out.reply, "+OK\r\n");
        assert_eq!(out.events(), ["0:restore:copy"]);
        assert_eq!(out.effects.dirty, 1);
        assert!(!out.effects.rewritten, "propagated as received");
        assert_eq!(
            h.reply(&["LRANGE", "copy", "0", "-1"]),
            "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\n1\r\n"
        );
        assert_eq!(h.reply(&["TTL", "copy"]), ":-1\r\n");
    }

    #[test]
    fn a_relative_ttl_propagates_as_an_absolute_one() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "v"]);
        let payload = dump_of(&mut h, "k");
        let out = restore(&mut h, &["k2", "5000", "REPLACE"], &payload);
        assert_eq!(out.reply, "+OK\r\n");
        let at = h.now_ms + 5000;
        let expected = format!(
            "0:RESTORE k2 {at} {} REPLACE ABSTTL",
            String::from_utf8_lossy(&payload)
        );
        assert_eq!(out.propagated(), [expected]);
        assert_eq!(h.reply(&["PTTL", "k2"]), ":5000\r\n");
        let at = (h.now_ms + 7000).to_string();
        let out = restore(&mut h, &["k3", &at, "ABSTTL"], &payload);
        assert!(
            !out.effects.rewritten,
            "an absolute TTL propagates as received"
        );
        assert_eq!(h.reply(&["PTTL", "k3"]), ":7000\r\n");
    }

    #[test]
    fn an_expired_ttl_deletes_instead() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "v"]);
        let payload = dump_of(&mut h, "k");
        let past = (h.now_ms - 1).to_string();
        let out = restore(&mut h, &["new", &past, "ABSTTL"], &payload);
        assert_eq!((out.reply.as_str(), out.effects.dirty), ("+OK\r\n", 0));
        assert!(out.propagated().is_empty(), "nothing changed");
        assert_eq!(h.reply(&["EXISTS", "new"]), ":0\r\n");
        let out = restore(&mut h, &["k", &past, "ABSTTL", "REPLACE"], &payload);
        assert_eq!(out.propagated(), ["0:DEL k"]);
        assert_eq!(out.events(), ["0:del:k"]);
        assert_eq!(h.reply(&["EXISTS", "k"]), ":0\r\n");
        // A replica keeps what its master sends, and replaces a key that reads as expired
        // but is still there.
        h.replica = true;
        h.run(&["SET", "old", "v", "PX", "10"]);
        h.now_ms += 20;
        assert_eq!(restore(&mut h, &["old", "0"], &payload).reply, "+OK\r\n");
        assert_eq!(h.reply(&["GET", "old"]), "$1\r\nv\r\n");
        assert_eq!(h.reply(&["TTL", "old"]), ":-1\r\n");
        h.run(&["DEL", "old"]);
        restore(&mut h, &["r", &past, "ABSTTL"], &payload);
        assert_eq!(h.reply(&["DBSIZE"]), ":1\r\n");
    }

    #[test]
    fn bad_payloads_get_redis_errors() {
        let mut h = Harness::new();
        h.run(&["SADD", "s", "1", "2"]);
        let good = dump_of(&mut h, "s");
        let mut bad_crc = good.clone();
        let n = bad_crc.len();
        bad_crc[n - 1] ^= 1;
        let wrong = "-ERR DUMP payload version or checksum are wrong\r\n";
        assert_eq!(restore(&mut h, &["x", "0"], &bad_crc).reply, wrong);
        assert_eq!(restore(&mut h, &["x", "0"], b"short").reply, wrong);
        let mut newer = good.clone();
        newer[n - 10] = 11;
        assert_eq!(restore(&mut h, &["x", "0"], &newer).reply, wrong);
        // A good checksum over a bad value.
        let mut body = vec![2u8, 5, 1];
        body.extend_from_slice(&good[good.len() - 10..good.len() - 8]);
        let crc = rudis_rdb::crc64::checksum(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            restore(&mut h, &["x", "0"], &body).reply,
            "-ERR Bad data format\r\n"
        );
        assert_eq!(
            restore(&mut h, &["x", "-1"], &good).reply,
            "-ERR Invalid TTL value, must be >= 0\r\n"
        );
        assert_eq!(
            restore(&mut h, &["x", "1x"], &good).reply,
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(h.reply(&["EXISTS", "x"]), ":0\r\n");
    }

    #[test]
    fn idletime_and_freq_set_the_access_field() {
        let mut h = Harness::new();
        h.run(&["SET", "k", "v"]);
        let payload = dump_of(&mut h, "k");
        restore(&mut h, &["idle", "0", "IDLETIME", "1000"], &payload);
        assert_eq!(h.reply(&["OBJECT", "IDLETIME", "idle"]), ":1000\r\n");
        h.run(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
        restore(&mut h, &["hot", "0", "FREQ", "100"], &payload);
        assert_eq!(h.reply(&["OBJECT", "FREQ", "hot"]), ":100\r\n");
    }
}
