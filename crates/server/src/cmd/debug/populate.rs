//! DEBUG POPULATE: fill the selected database with `count` string keys for tests and
//! benchmarks, quickly: no propagation, no keyspace events, existing keys left alone.

use rudis_resp::number::parse_i64;
use rudis_resp::Argv;

use crate::command::error::NOT_POSITIVE;
use crate::command::{CmdResult, Ctx};
use crate::keyspace::txn::Lookup;
use crate::keyspace::Value;

/// DEBUG POPULATE count [prefix] [size]
///
/// Keys are `<prefix>:<n>` (prefix `key`), values `value:<n>`, or, with a size, that text
/// truncated or zero-padded to `size` bytes.
pub fn populate(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let count = positive(argv.get(2))?;
    let prefix = argv.try_get(3).unwrap_or(b"key");
    let size = match argv.try_get(4) {
        Some(s) => Some(usize::try_from(positive(s)?).map_err(|_| NOT_POSITIVE)?),
        None => None,
    };
    let db = ctx.txn.db;
    let mut key = Vec::with_capacity(prefix.len() + 21);
    let mut digits = itoa::Buffer::new();
    for n in 0..count {
        key.clear();
        key.extend_from_slice(prefix);
        key.push(b':');
        key.extend_from_slice(digits.format(n).as_bytes());
        if ctx.txn.lookup(db, &key, Lookup::Write).is_none() {
            let value = value_bytes(n, size);
            ctx.txn.add(&key, Value::str(&value));
            ctx.txn.signal_modified(&key);
        }
        // One shard lock at a time: the transaction would otherwise keep every slot locked.
        ctx.txn.release_shards();
    }
    ctx.reply.ok();
    Ok(())
}

/// A non-negative count (Redis's "positive" includes zero); anything else, a non-number
/// included, is "out of range, must be positive".
fn positive(arg: &[u8]) -> Result<i64, crate::command::CmdError> {
    parse_i64(arg).filter(|&n| n >= 0).ok_or(NOT_POSITIVE)
}

fn value_bytes(n: i64, size: Option<usize>) -> Vec<u8> {
    let mut v = format!("value:{n}").into_bytes();
    if let Some(size) = size.filter(|&s| s > 0) {
        v.resize(size, 0);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_sized_as_asked() {
        assert_eq!(value_bytes(7, None), b"value:7");
        assert_eq!(value_bytes(7, Some(0)), b"value:7");
        assert_eq!(value_bytes(7, Some(3)), b"val");
        assert_eq!(value_bytes(7, Some(9)), b"value:7\0\0");
    }
}
