//! Keyspace commands: the generic commands that work on keys whatever they hold.
//!
//! - here: DEL, UNLINK, EXISTS, TYPE, TOUCH, RENAME, RENAMENX, COPY, MOVE, DBSIZE, and the
//!   lookups the expiry commands share;
//! - [`walk`]: the commands that visit slots one at a time or the whole database: SCAN,
//!   RANDOMKEY, KEYS;
//! - [`flush`]: whole-database changes: FLUSHDB, FLUSHALL, SWAPDB;
//! - [`object`]: OBJECT and its subcommands;
//! - [`dump`]: DUMP, RESTORE and RESTORE-ASKING (values in the RDB encoding);
//! - [`migrate`]: MIGRATE, which sends keys to another server as RESTOREs.
//!
//! Commands naming a second database (MOVE, COPY ... DB) lock the shards of both keys in
//! (database, slot) order before reading anything, so they never wait on a shard while
//! holding one out of order.

mod dump;
pub(crate) mod flush;
pub mod migrate;
mod object;
#[cfg(test)]
pub(crate) mod tests;
mod walk;

use rudis_resp::Argv;

use super::util::is;
use crate::command::error::{CmdError, DB_INDEX, NOT_INTEGER, NO_SUCH_KEY, SYNTAX};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, Find, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::keyspace::lazyfree;
use crate::keyspace::txn::{event, Lookup};
use crate::keyspace::value::FLAG_RAW;
use crate::keyspace::KeyEntry;

const KS: u64 = acl::KEYSPACE;
const DANGER: u64 = acl::KEYSPACE | acl::DANGEROUS;
const ALL_RM_DELETE: &[KeySpec] = &[KeySpec::range(1, -1, 1, keyflag::RM | keyflag::DELETE)];
const ALL_RO: &[KeySpec] = &[KeySpec::range(1, -1, 1, keyflag::RO)];
const MULTI_SHARD_SUM: &[&str] = &["request_policy:multi_shard", "response_policy:agg_sum"];
const ALL_SHARDS_OK: &[&str] = &["request_policy:all_shards", "response_policy:all_succeeded"];

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, del)
        .flags(flag::WRITE)
        .acl(KS)
        .keys(ALL_RM_DELETE)
        .tips(MULTI_SHARD_SUM)
        .doc("generic", "Delete a key", "1.0.0", "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1)."),
    CommandSpec::new("unlink", -2, unlink)
        .flags(flag::WRITE | flag::FAST)
        .acl(KS)
        .keys(ALL_RM_DELETE)
        .tips(MULTI_SHARD_SUM)
        .doc("generic", "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", "4.0.0", "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of."),
    CommandSpec::new("exists", -2, exists)
        .flags(flag::READONLY | flag::FAST)
        .acl(KS)
        .keys(ALL_RO)
        .tips(MULTI_SHARD_SUM)
        .doc("generic", "Determine if a key exists", "1.0.0", "O(N) where N is the number of keys to check."),
    CommandSpec::new("type", 2, type_)
        .flags(flag::READONLY | flag::FAST)
        .acl(KS)
        .keys(&[KeySpec::one(1, keyflag::RO)])
        .doc("generic", "Determine the type stored at key", "1.0.0", "O(1)"),
    CommandSpec::new("touch", -2, touch)
        .flags(flag::READONLY | flag::FAST)
        .acl(KS)
        .keys(ALL_RO)
        .tips(MULTI_SHARD_SUM)
        .doc("generic", "Alters the last access time of a key(s). Returns the number of existing keys specified.", "3.2.1", "O(N) where N is the number of keys that will be touched."),
    CommandSpec::new("rename", 3, rename)
        .flags(flag::WRITE)
        .acl(KS)
        .keys(&[
            KeySpec::one(1, keyflag::RW | keyflag::ACCESS | keyflag::DELETE),
            KeySpec::one(2, keyflag::OW | keyflag::UPDATE),
        ])
        .doc("generic", "Rename a key", "1.0.0", "O(1)"),
    CommandSpec::new("renamenx", 3, renamenx)
        .flags(flag::WRITE | flag::FAST)
        .acl(KS)
        .keys(&[
            KeySpec::one(1, keyflag::RW | keyflag::ACCESS | keyflag::DELETE),
            KeySpec::one(2, keyflag::OW | keyflag::INSERT),
        ])
        .doc("generic", "Rename a key, only if the new key does not exist", "1.0.0", "O(1)"),
    CommandSpec::new("copy", -3, copy)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(KS)
        .keys(&[
            KeySpec::one(1, keyflag::RO | keyflag::ACCESS),
            KeySpec::one(2, keyflag::OW | keyflag::UPDATE),
        ])
        .doc("generic", "Copy a key", "6.2.0", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values."),
    CommandSpec::new("move", 3, move_)
        .flags(flag::WRITE | flag::FAST)
        .acl(KS)
        .keys(&[KeySpec::one(1, keyflag::RW | keyflag::ACCESS | keyflag::UPDATE)])
        .doc("generic", "Move a key to another database", "1.0.0", "O(1)"),
    CommandSpec::new("dbsize", 1, dbsize)
        .flags(flag::READONLY | flag::FAST | flag::NO_KEYSPACE)
        .acl(KS)
        .tips(&["request_policy:all_shards", "response_policy:agg_sum"])
        .doc("server", "Return the number of keys in the selected database", "1.0.0", "O(1)"),
    CommandSpec::new("keys", 2, walk::keys)
        .flags(flag::READONLY | flag::EXCLUSIVE)
        .acl(DANGER)
        .tips(&["request_policy:all_shards", "nondeterministic_output_order"])
        .doc("generic", "Find all keys matching the given pattern", "1.0.0", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length."),
    CommandSpec::new("scan", -2, walk::scan)
        .flags(flag::READONLY | flag::WALKS_SLOTS)
        .acl(KS)
        .tips(&["nondeterministic_output", "request_policy:special"])
        .doc("generic", "Incrementally iterate the keys space", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection."),
    CommandSpec::new("randomkey", 1, walk::randomkey)
        .flags(flag::READONLY | flag::WALKS_SLOTS)
        .acl(KS)
        .tips(&["request_policy:all_shards", "nondeterministic_output"])
        .doc("generic", "Return a random key from the keyspace", "1.0.0", "O(1)"),
    CommandSpec::new("flushdb", -1, flush::flushdb)
        .flags(flag::WRITE | flag::EXCLUSIVE)
        .acl(DANGER)
        .tips(ALL_SHARDS_OK)
        .doc("server", "Remove all keys from the current database", "1.0.0", "O(N) where N is the number of keys in the selected database"),
    CommandSpec::new("flushall", -1, flush::flushall)
        .flags(flag::WRITE | flag::EXCLUSIVE)
        .acl(DANGER)
        .tips(ALL_SHARDS_OK)
        .doc("server", "Remove all keys from all databases", "1.0.0", "O(N) where N is the total number of keys in all databases"),
    CommandSpec::new("swapdb", 3, flush::swapdb)
        .flags(flag::WRITE | flag::FAST | flag::EXCLUSIVE)
        .acl(DANGER)
        .doc("server", "Swaps two Redis databases", "4.0.0", "O(N) where N is the count of clients watching or blocking on keys from both databases."),
    CommandSpec::new("dump", 2, dump::dump)
        .flags(flag::READONLY)
        .acl(KS)
        .keys(&[KeySpec::one(1, keyflag::RO | keyflag::ACCESS)])
        .tips(&["nondeterministic_output"])
        .doc("generic", "Return a serialized version of the value stored at the specified key.", "2.6.0", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1)."),
    CommandSpec::new("restore", -4, dump::restore)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(DANGER)
        .keys(RESTORE_KEYS)
        .history(RESTORE_HISTORY)
        .doc("generic", "Create a key using the provided serialized value, previously obtained using DUMP.", "2.6.0", RESTORE_COMPLEXITY),
    CommandSpec::new("restore-asking", -4, dump::restore)
        .flags(flag::WRITE | flag::DENYOOM | flag::ASKING)
        .acl(DANGER)
        .keys(RESTORE_KEYS)
        .history(RESTORE_HISTORY)
        .syscmd()
        .doc("server", "An internal command for migrating keys in a cluster", "3.0.0", RESTORE_COMPLEXITY),
    CommandSpec::new("migrate", -6, migrate::migrate)
        .flags(flag::WRITE)
        .acl(DANGER)
        .keys(&[
            KeySpec::one(3, keyflag::RW | keyflag::ACCESS | keyflag::DELETE),
            KeySpec::keyword(
                "KEYS",
                -2,
                Find::Range { last_key: -1, step: 1, limit: 0 },
                keyflag::RW | keyflag::ACCESS | keyflag::DELETE | keyflag::INCOMPLETE,
            ),
        ])
        .getkeys(migrate::migrate_keys)
        .tips(&["nondeterministic_output"])
        .history(&[
            ("3.0.0", "Added the `COPY` and `REPLACE` options."),
            ("3.0.6", "Added the `KEYS` option."),
            ("4.0.7", "Added the `AUTH` option."),
            ("6.0.0", "Added the `AUTH2` option."),
        ])
        .doc("generic", "Atomically transfer a key from a Redis instance to another one.", "2.6.0", "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed."),
    CommandSpec::new("object", -2, object::container)
        .subcommands(object::SUBCOMMANDS)
        .doc("generic", "A container for object introspection commands", "2.2.3", "Depends on subcommand."),
];

const RESTORE_KEYS: &[KeySpec] = &[KeySpec::one(1, keyflag::OW | keyflag::UPDATE)];
const RESTORE_HISTORY: &[(&str, &str)] = &[
    ("3.0.0", "Added the `REPLACE` modifier."),
    ("5.0.0", "Added the `ABSTTL` modifier."),
    ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
];
const RESTORE_COMPLEXITY: &str = "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).";

// ---- Lookups shared with the expiry commands -------------------------------------------

/// Looks a key up the way Redis's "read without touching" lookups do (EXISTS, TYPE, TTL):
/// the access time is left alone, but the keyspace hit/miss counters and the `keymiss` event
/// are recorded.
pub(crate) fn lookup_notouch<'t>(ctx: &'t mut Ctx, key: &[u8]) -> Option<&'t KeyEntry> {
    let db = ctx.txn.db;
    let found = ctx.txn.lookup(db, key, Lookup::Peek).is_some();
    count_lookup(ctx, key, found);
    if found {
        ctx.txn.lookup(db, key, Lookup::Peek).map(|e| &*e)
    } else {
        None
    }
}

/// Records a read lookup's hit or miss (and the `keymiss` event on a miss).
fn count_lookup(ctx: &mut Ctx, key: &[u8], found: bool) {
    if found {
        ctx.txn.effects.hits += 1;
    } else {
        ctx.txn.effects.misses += 1;
        ctx.txn.notify(event::KEY_MISS, "keymiss", key);
    }
}

/// A database index argument, parsed as Redis parses a C `int`: `msg` replaces both the
/// "not an integer" and the "out of range" errors when given.
fn db_index_arg(arg: &[u8], msg: Option<&'static str>) -> Result<i64, CmdError> {
    let Some(v) = rudis_resp::number::parse_i64(arg) else {
        return Err(msg.map_or(NOT_INTEGER, CmdError::from));
    };
    if i32::try_from(v).is_err() {
        return Err(msg.map_or_else(
            || "ERR value is out of range, value must between -2147483648 and 2147483647".into(),
            CmdError::from,
        ));
    }
    Ok(v)
}

/// Checks a database index against the configured number of databases.
fn valid_db(ctx: &Ctx, index: i64) -> Result<usize, CmdError> {
    if index < 0 || index as usize >= ctx.srv.keyspace.db_count() {
        return Err(DB_INDEX);
    }
    Ok(index as usize)
}

// ---- DEL, UNLINK, EXISTS, TYPE, TOUCH -----------------------------------------------------

/// DEL key [key ...]
fn del(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let lazy = ctx.srv.cfg().lazyfree_lazy_user_del;
    delete_keys(ctx, argv, lazy)
}

/// UNLINK key [key ...]
fn unlink(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    delete_keys(ctx, argv, true)
}

/// Deletes every key named in `argv[1..]`, freeing big values in the background if `lazy`.
fn delete_keys(ctx: &mut Ctx, argv: Argv, lazy: bool) -> CmdResult {
    let mut deleted = 0;
    for key in argv.iter().skip(1) {
        // A write lookup first, so an expired key is expired (and not counted).
        if ctx.txn.get_mut(key).is_none() {
            continue;
        }
        let Some(entry) = ctx.txn.remove(key) else {
            continue;
        };
        if lazy {
            lazyfree::free_value(entry.value);
        }
        ctx.txn.signal_modified(key);
        ctx.txn.notify(event::GENERIC, "del", key);
        ctx.txn.dirty(1);
        deleted += 1;
    }
    ctx.reply.int(deleted);
    Ok(())
}

/// EXISTS key [key ...]
fn exists(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let mut count = 0;
    for key in argv.iter().skip(1) {
        if lookup_notouch(ctx, key).is_some() {
            count += 1;
        }
    }
    ctx.reply.int(count);
    Ok(())
}

/// TYPE key
fn type_(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let name = lookup_notouch(ctx, argv.get(1)).map_or("none", |e| e.value.type_name());
    ctx.reply.simple(name);
    Ok(())
}

/// TOUCH key [key ...]
fn touch(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let mut touched = 0;
    for key in argv.iter().skip(1) {
        let found = ctx.txn.get(key).is_some();
        if found {
            touched += 1;
        } else {
            ctx.txn.notify(event::KEY_MISS, "keymiss", key);
        }
    }
    ctx.reply.int(touched);
    Ok(())
}

/// DBSIZE
fn dbsize(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let n = ctx.srv.keyspace.db(ctx.client.db).key_count();
    ctx.reply.int(n as i64);
    Ok(())
}

// ---- RENAME, RENAMENX ---------------------------------------------------------------------

/// RENAME key newkey
fn rename(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    rename_generic(ctx, argv.get(1), argv.get(2), false)
}

/// RENAMENX key newkey
fn renamenx(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    rename_generic(ctx, argv.get(1), argv.get(2), true)
}

/// Moves the value and the expiry time of `from` to `to`. With `nx`, only if `to` is free.
fn rename_generic(ctx: &mut Ctx, from: &[u8], to: &[u8], nx: bool) -> CmdResult {
    if ctx.txn.get_mut(from).is_none() {
        return Err(NO_SUCH_KEY);
    }
    if from == to {
        // Nothing to do; RENAMENX reports that nothing was renamed.
        if nx {
            ctx.reply.int(0);
        } else {
            ctx.reply.ok();
        }
        return Ok(());
    }
    if ctx.txn.get_mut(to).is_some() {
        if nx {
            ctx.reply.int(0);
            return Ok(());
        }
        remove_overwritten(ctx, ctx.txn.db, to);
    }
    let expire_at_ms = ctx.txn.expire_at(from);
    let entry = ctx.txn.remove(from).expect("looked up above");
    let db = ctx.txn.db;
    insert_entry(ctx, db, to, entry, expire_at_ms);
    ctx.txn.signal_modified(from);
    ctx.txn.signal_modified(to);
    ctx.txn.notify(event::GENERIC, "rename_from", from);
    ctx.txn.notify(event::GENERIC, "rename_to", to);
    ctx.txn.dirty(1);
    reply_renamed(ctx, nx);
    Ok(())
}

fn reply_renamed(ctx: &mut Ctx, nx: bool) {
    if nx {
        ctx.reply.int(1);
    } else {
        ctx.reply.ok();
    }
}

// ---- COPY, MOVE ---------------------------------------------------------------------------

/// Locks `(src_db, src_key)` and `(dst_db, dst_key)` in order. The gate locked only the
/// declared keys, in the selected database; nothing has been read yet, so outside an
/// exclusive transaction it is safe to let them go and lock both in order.
fn lock_pair(ctx: &mut Ctx, src: (usize, &[u8]), dst: (usize, &[u8])) {
    if !ctx.txn.is_exclusive() {
        ctx.txn.release_shards();
    }
    ctx.txn.lock_keys([src, dst]);
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let src_db = ctx.txn.db;
    let (mut dst_db, mut replace) = (src_db, false);
    let mut i = 3;
    while i < argv.len() {
        if is(argv.get(i), "replace") {
            replace = true;
        } else if is(argv.get(i), "db") && i + 1 < argv.len() {
            dst_db = valid_db(ctx, db_index_arg(argv.get(i + 1), None)?)?;
            i += 1;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    if ctx.srv.cfg().cluster_enabled && (src_db != 0 || dst_db != 0) {
        return Err("ERR Copying to another database is not allowed in cluster mode".into());
    }
    let (key, newkey) = (argv.get(1), argv.get(2));
    if src_db == dst_db && key == newkey {
        return Err("ERR source and destination objects are the same".into());
    }
    lock_pair(ctx, (src_db, key), (dst_db, newkey));
    let Some(mut copied) = ctx.txn.get(key).map(fresh_copy) else {
        ctx.txn.notify(event::KEY_MISS, "keymiss", key);
        ctx.reply.int(0);
        return Ok(());
    };
    copied.access = ctx.txn.lru_clock;
    let expire_at_ms = ctx.txn.expire_at(key);
    if ctx.txn.lookup(dst_db, newkey, Lookup::Write).is_some() {
        if !replace {
            ctx.reply.int(0);
            return Ok(());
        }
        remove_overwritten(ctx, dst_db, newkey);
    }
    insert_entry(ctx, dst_db, newkey, copied, expire_at_ms);
    ctx.txn.signal_modified_in(dst_db, newkey);
    ctx.txn.notify_in(dst_db, event::GENERIC, "copy_to", newkey);
    ctx.txn.dirty(1);
    ctx.reply.int(1);
    Ok(())
}

/// MOVE key db
fn move_(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if ctx.srv.cfg().cluster_enabled {
        return Err("ERR MOVE is not allowed in cluster mode".into());
    }
    let src_db = ctx.txn.db;
    let dst_db = valid_db(ctx, db_index_arg(argv.get(2), None)?)?;
    if src_db == dst_db {
        return Err("ERR source and destination objects are the same".into());
    }
    let key = argv.get(1);
    lock_pair(ctx, (src_db, key), (dst_db, key));
    if ctx.txn.get_mut(key).is_none() {
        ctx.reply.int(0);
        return Ok(());
    }
    let expire_at_ms = ctx.txn.expire_at(key);
    if ctx.txn.lookup(dst_db, key, Lookup::Write).is_some() {
        ctx.reply.int(0);
        return Ok(());
    }
    let entry = ctx.txn.remove(key).expect("looked up above");
    insert_entry(ctx, dst_db, key, entry, expire_at_ms);
    ctx.txn.signal_modified_in(src_db, key);
    ctx.txn.signal_modified_in(dst_db, key);
    ctx.txn.notify_in(src_db, event::GENERIC, "move_from", key);
    ctx.txn.notify_in(dst_db, event::GENERIC, "move_to", key);
    ctx.txn.dirty(1);
    ctx.reply.int(1);
    Ok(())
}

/// A new object holding a copy of `entry`'s value, as COPY creates: it keeps the string
/// encoding (the caller gives it a fresh access time).
fn fresh_copy(entry: &KeyEntry) -> KeyEntry {
    let mut copy = entry.clone();
    copy.flags &= FLAG_RAW;
    copy
}

/// Stores `entry` (value, encoding flags and access time) under `key` in `db`, which must be
/// free, with the expiry time `expire_at_ms`.
fn insert_entry(ctx: &mut Ctx, db: usize, key: &[u8], entry: KeyEntry, expire_at_ms: Option<i64>) {
    let keep = KeyEntry {
        flags: entry.flags & FLAG_RAW,
        ..entry
    };
    let access = keep.access;
    ctx.txn.set_in(db, key, keep.value, false);
    if let Some(stored) = ctx.txn.shard(db, key).keys.get_mut(key) {
        stored.access = access;
        stored.flags |= keep.flags;
    }
    if let Some(at_ms) = expire_at_ms {
        ctx.txn.set_expire_in(db, key, at_ms);
    }
}

/// Deletes a key a command is about to overwrite, in the background if
/// `lazyfree-lazy-server-del` says so.
fn remove_overwritten(ctx: &mut Ctx, db: usize, key: &[u8]) {
    if let Some(old) = ctx.txn.remove_in(db, key) {
        if ctx.srv.cfg().lazyfree_lazy_server_del {
            lazyfree::free_value(old.value);
        }
    }
}
