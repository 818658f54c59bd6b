//! How a command is declared: one [`CommandSpec`] per command (and per subcommand) holding
//! everything the server needs to know about it: name, arity, flags, ACL categories, key
//! positions, documentation and handler. COMMAND INFO/DOCS/GETKEYS, the dispatch gate, key
//! locking and (later) cluster redirection all read these declarations, so they agree.

use rudis_resp::Argv;

use super::ctx::Ctx;
use super::error::CmdResult;

/// A command handler. Writes its reply through `ctx.reply` and returns `Err` to reply with an
/// error instead.
pub type Handler = fn(&mut Ctx<'_, '_>, Argv<'_>) -> CmdResult;

/// Custom key extraction for commands whose keys key specs cannot describe.
pub type GetKeysFn = fn(Argv<'_>) -> Vec<usize>;

/// Command flags. The first group is Redis's (reported by COMMAND INFO); the second is ours.
pub mod flag {
    pub const WRITE: u64 = 1 << 0;
    pub const READONLY: u64 = 1 << 1;
    pub const DENYOOM: u64 = 1 << 2;
    pub const MODULE: u64 = 1 << 3;
    pub const ADMIN: u64 = 1 << 4;
    pub const PUBSUB: u64 = 1 << 5;
    pub const NOSCRIPT: u64 = 1 << 6;
    pub const BLOCKING: u64 = 1 << 7;
    pub const LOADING: u64 = 1 << 8;
    pub const STALE: u64 = 1 << 9;
    pub const SKIP_MONITOR: u64 = 1 << 10;
    pub const SKIP_SLOWLOG: u64 = 1 << 11;
    pub const ASKING: u64 = 1 << 12;
    pub const FAST: u64 = 1 << 13;
    pub const NO_AUTH: u64 = 1 << 14;
    pub const MAY_REPLICATE: u64 = 1 << 15;
    pub const SENTINEL: u64 = 1 << 16;
    pub const ONLY_SENTINEL: u64 = 1 << 17;
    pub const NO_MANDATORY_KEYS: u64 = 1 << 18;
    pub const PROTECTED: u64 = 1 << 19;
    pub const NO_ASYNC_LOADING: u64 = 1 << 20;
    pub const NO_MULTI: u64 = 1 << 21;
    pub const ALLOW_BUSY: u64 = 1 << 22;

    /// Ours: the command never touches the keyspace; it runs without the keyspace gate.
    pub const NO_KEYSPACE: u64 = 1 << 40;
    /// Ours: the command needs the whole keyspace still (FLUSHALL, SWAPDB, KEYS).
    pub const EXCLUSIVE: u64 = 1 << 41;
    /// Ours: the command visits slots one at a time on its own (SCAN, RANDOMKEY); inside
    /// MULTI it forces the exclusive path.
    pub const WALKS_SLOTS: u64 = 1 << 42;
    /// Derived, never declared: the key positions depend on the arguments
    /// ([`super::CommandSpec::movable_keys`]). Only COMMAND INFO shows it.
    pub const MOVABLE_KEYS: u64 = 1 << 43;

    /// Names COMMAND INFO reports, in Redis's order. `may_replicate`, `sentinel`,
    /// `only_sentinel` and `protected` exist but Redis never reports them.
    pub const NAMES: &[(u64, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (MODULE, "module"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories.
pub mod acl {
    pub const KEYSPACE: u64 = 1 << 0;
    pub const READ: u64 = 1 << 1;
    pub const WRITE: u64 = 1 << 2;
    pub const SET: u64 = 1 << 3;
    pub const SORTEDSET: u64 = 1 << 4;
    pub const LIST: u64 = 1 << 5;
    pub const HASH: u64 = 1 << 6;
    pub const STRING: u64 = 1 << 7;
    pub const BITMAP: u64 = 1 << 8;
    pub const HYPERLOGLOG: u64 = 1 << 9;
    pub const GEO: u64 = 1 << 10;
    pub const STREAM: u64 = 1 << 11;
    pub const PUBSUB: u64 = 1 << 12;
    pub const ADMIN: u64 = 1 << 13;
    pub const FAST: u64 = 1 << 14;
    pub const SLOW: u64 = 1 << 15;
    pub const BLOCKING: u64 = 1 << 16;
    pub const DANGEROUS: u64 = 1 << 17;
    pub const CONNECTION: u64 = 1 << 18;
    pub const TRANSACTION: u64 = 1 << 19;
    pub const SCRIPTING: u64 = 1 << 20;

    pub const NAMES: &[(u64, &str)] = &[
        (KEYSPACE, "keyspace"),
        (READ, "read"),
        (WRITE, "write"),
        (SET, "set"),
        (SORTEDSET, "sortedset"),
        (LIST, "list"),
        (HASH, "hash"),
        (STRING, "string"),
        (BITMAP, "bitmap"),
        (HYPERLOGLOG, "hyperloglog"),
        (GEO, "geo"),
        (STREAM, "stream"),
        (PUBSUB, "pubsub"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (SLOW, "slow"),
        (BLOCKING, "blocking"),
        (DANGEROUS, "dangerous"),
        (CONNECTION, "connection"),
        (TRANSACTION, "transaction"),
        (SCRIPTING, "scripting"),
    ];
}

/// Key-spec flags (Redis's `CMD_KEY_*`).
pub mod keyflag {
    pub const RO: u32 = 1 << 0;
    pub const RW: u32 = 1 << 1;
    pub const OW: u32 = 1 << 2;
    pub const RM: u32 = 1 << 3;
    pub const ACCESS: u32 = 1 << 4;
    pub const UPDATE: u32 = 1 << 5;
    pub const INSERT: u32 = 1 << 6;
    pub const DELETE: u32 = 1 << 7;
    pub const NOT_KEY: u32 = 1 << 8;
    pub const INCOMPLETE: u32 = 1 << 9;
    pub const VARIABLE_FLAGS: u32 = 1 << 10;

    pub const NAMES: &[(u32, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];
}

/// Where the search for keys begins.
#[derive(Debug, Clone, Copy)]
pub enum Begin {
    /// At this argument index.
    Index(i32),
    /// After this keyword, searched from `start_from` (negative: from the end, backwards).
    Keyword {
        keyword: &'static str,
        start_from: i32,
    },
    /// Cannot be described (SORT's BY/GET/STORE): the command's `getkeys` finds these keys.
    Unknown,
}

/// How keys are found from the beginning.
#[derive(Debug, Clone, Copy)]
pub enum Find {
    /// Keys up to `last_key` (relative to begin; negative counts from the end), every `step`;
    /// `limit` > 1 divides the remaining arguments.
    Range {
        last_key: i32,
        step: i32,
        limit: i32,
    },
    /// The argument at `keynum_idx` (relative) counts the keys, which start at `first_key`.
    Keynum {
        keynum_idx: i32,
        first_key: i32,
        step: i32,
    },
    /// Cannot be described; goes with [`Begin::Unknown`].
    Unknown,
}

/// One key specification.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub flags: u32,
    pub begin: Begin,
    pub find: Find,
    /// Redis's explanatory note for the spec (COMMAND INFO shows it); empty if none.
    pub notes: &'static str,
}

impl KeySpec {
    /// One key at `index`.
    pub const fn one(index: i32, flags: u32) -> Self {
        KeySpec {
            flags,
            begin: Begin::Index(index),
            find: Find::Range {
                last_key: 0,
                step: 1,
                limit: 0,
            },
            notes: "",
        }
    }

    /// Keys from `index` to `last_key` (relative; -1 = the last argument), every `step`.
    pub const fn range(index: i32, last_key: i32, step: i32, flags: u32) -> Self {
        KeySpec {
            flags,
            begin: Begin::Index(index),
            find: Find::Range {
                last_key,
                step,
                limit: 0,
            },
            notes: "",
        }
    }

    /// A key count at `index`, then that many keys.
    pub const fn keynum(index: i32, flags: u32) -> Self {
        KeySpec {
            flags,
            begin: Begin::Index(index),
            find: Find::Keynum {
                keynum_idx: 0,
                first_key: 1,
                step: 1,
            },
            notes: "",
        }
    }

    /// The key(s) after `keyword`.
    pub const fn keyword(keyword: &'static str, start_from: i32, find: Find, flags: u32) -> Self {
        KeySpec {
            flags,
            begin: Begin::Keyword {
                keyword,
                start_from,
            },
            find,
            notes: "",
        }
    }

    /// Keys whose positions cannot be described (found by the command's `getkeys`).
    pub const fn unknown(flags: u32) -> Self {
        KeySpec {
            flags,
            begin: Begin::Unknown,
            find: Find::Unknown,
            notes: "",
        }
    }

    /// Adds Redis's note to the spec.
    pub const fn notes(mut self, notes: &'static str) -> Self {
        self.notes = notes;
        self
    }

    /// A plain index range: the only kind the legacy (first, last, step) triple can hold.
    fn index_range(&self) -> Option<(i32, i32, i32)> {
        match (self.begin, self.find) {
            (Begin::Index(index), Find::Range { last_key, step, .. }) => {
                Some((index, last_key, step))
            }
            _ => None,
        }
    }
}

/// A command (or subcommand) declaration.
pub struct CommandSpec {
    /// Lowercase name (for a subcommand, just the subcommand's name).
    pub name: &'static str,
    /// Exact argument count including the name, or `-n` for "at least n".
    pub arity: i32,
    pub flags: u64,
    pub acl: u64,
    pub keys: &'static [KeySpec],
    pub getkeys: Option<GetKeysFn>,
    pub handler: Handler,
    pub subcommands: &'static [CommandSpec],
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub complexity: &'static str,
    pub tips: &'static [&'static str],
    /// COMMAND DOCS's `doc_flags` ([`docflag`] bits).
    pub doc_flags: u8,
    /// The version that deprecated the command, and what replaces it (COMMAND DOCS).
    pub deprecated_since: &'static str,
    pub replaced_by: &'static str,
    /// (version, change) pairs (COMMAND DOCS `history`).
    pub history: &'static [(&'static str, &'static str)],
}

/// COMMAND DOCS's documentation flags.
pub mod docflag {
    pub const DEPRECATED: u8 = 1 << 0;
    pub const SYSCMD: u8 = 1 << 1;

    pub const NAMES: &[(u8, &str)] = &[(DEPRECATED, "deprecated"), (SYSCMD, "syscmd")];
}

impl CommandSpec {
    pub const fn new(name: &'static str, arity: i32, handler: Handler) -> Self {
        CommandSpec {
            name,
            arity,
            flags: 0,
            acl: 0,
            keys: &[],
            getkeys: None,
            handler,
            subcommands: &[],
            group: "generic",
            summary: "",
            since: "1.0.0",
            complexity: "",
            tips: &[],
            doc_flags: 0,
            deprecated_since: "",
            replaced_by: "",
            history: &[],
        }
    }

    pub const fn flags(mut self, flags: u64) -> Self {
        self.flags = flags;
        self
    }

    pub const fn acl(mut self, acl: u64) -> Self {
        self.acl = acl;
        self
    }

    pub const fn keys(mut self, keys: &'static [KeySpec]) -> Self {
        self.keys = keys;
        self
    }

    pub const fn getkeys(mut self, f: GetKeysFn) -> Self {
        self.getkeys = Some(f);
        self
    }

    pub const fn subcommands(mut self, subs: &'static [CommandSpec]) -> Self {
        self.subcommands = subs;
        self
    }

    pub const fn tips(mut self, tips: &'static [&'static str]) -> Self {
        self.tips = tips;
        self
    }

    /// Documentation: group, one-line summary, the version it appeared in, complexity.
    pub const fn doc(
        mut self,
        group: &'static str,
        summary: &'static str,
        since: &'static str,
        complexity: &'static str,
    ) -> Self {
        self.group = group;
        self.summary = summary;
        self.since = since;
        self.complexity = complexity;
        self
    }

    /// How the command changed, version by version (COMMAND DOCS).
    pub const fn history(mut self, history: &'static [(&'static str, &'static str)]) -> Self {
        self.history = history;
        self
    }

    /// Deprecated since `since`, in favour of `replaced_by` (COMMAND DOCS).
    pub const fn deprecated(mut self, since: &'static str, replaced_by: &'static str) -> Self {
        self.doc_flags |= docflag::DEPRECATED;
        self.deprecated_since = since;
        self.replaced_by = replaced_by;
        self
    }

    /// An internal command, not meant for applications (COMMAND DOCS `syscmd`).
    pub const fn syscmd(mut self) -> Self {
        self.doc_flags |= docflag::SYSCMD;
        self
    }

    pub fn has(&self, flag: u64) -> bool {
        self.flags & flag != 0
    }

    /// True if `argc` arguments (including the name) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// ACL categories including those implied by flags, as Redis derives them.
    pub fn acl_categories(&self) -> u64 {
        let mut c = self.acl;
        if self.has(flag::WRITE) {
            c |= acl::WRITE;
        }
        if self.has(flag::READONLY) && c & acl::SCRIPTING == 0 {
            c |= acl::READ;
        }
        if self.has(flag::ADMIN) {
            c |= acl::ADMIN | acl::DANGEROUS;
        }
        if self.has(flag::PUBSUB) {
            c |= acl::PUBSUB;
        }
        if self.has(flag::FAST) {
            c |= acl::FAST;
        }
        if self.has(flag::BLOCKING) {
            c |= acl::BLOCKING;
        }
        if c & acl::FAST == 0 {
            c |= acl::SLOW;
        }
        c
    }

    /// The legacy (first, last, step) triple COMMAND INFO reports, derived from the key specs
    /// as Redis derives it: a lone index range is used as is; otherwise consecutive index
    /// ranges of step 1 merge into one, and `last` is absolute (or negative, from the end).
    pub fn legacy_range(&self) -> (i64, i64, i64) {
        self.legacy_and_movable().0
    }

    /// True if the key positions depend on the arguments (COMMAND INFO's `movablekeys`):
    /// some key spec is not a plain index range, or could not be merged into the legacy
    /// triple, or is incomplete.
    pub fn movable_keys(&self) -> bool {
        self.legacy_and_movable().1
    }

    fn legacy_and_movable(&self) -> ((i64, i64, i64), bool) {
        if let [only] = self.keys {
            if let Some((index, last_key, step)) = only.index_range() {
                let last = if last_key >= 0 {
                    index + last_key
                } else {
                    last_key
                };
                let movable = only.flags & keyflag::INCOMPLETE != 0;
                return ((index.into(), last.into(), step.into()), movable);
            }
        }
        let mut movable = false;
        let (mut first, mut last) = (i32::MAX, 0i32);
        let mut prev_last = 0i32;
        for spec in self.keys {
            let Some((index, last_key, step)) = spec.index_range() else {
                movable = true;
                continue;
            };
            if step != 1 || (prev_last != 0 && prev_last != index - 1) {
                movable = true;
                continue;
            }
            movable |= spec.flags & keyflag::INCOMPLETE != 0;
            first = first.min(index);
            let this_last = if last_key >= 0 {
                index + last_key
            } else {
                last_key
            };
            // A negative (from the end) last key reaches beyond every absolute one.
            if (this_last as u32) > (last as u32) {
                last = this_last;
            }
            prev_last = last;
        }
        if first == i32::MAX {
            return ((0, 0, 0), movable);
        }
        ((first.into(), last.into(), 1), movable)
    }
}

/// Indexes of the key arguments of a command, from its key specs (or custom extractor).
/// Positions beyond the arguments are dropped; a bad key count yields what was found so far.
pub fn key_positions(spec: &CommandSpec, argv: Argv<'_>) -> smallvec::SmallVec<[usize; 4]> {
    let mut out = smallvec::SmallVec::new();
    if let Some(f) = spec.getkeys {
        out.extend(f(argv));
        return out;
    }
    let argc = argv.len() as i64;
    for ks in spec.keys {
        let Some(first) = begin_index(ks, argv) else {
            continue;
        };
        match ks.find {
            Find::Range {
                last_key,
                step,
                limit,
            } => {
                let last = if last_key >= 0 {
                    first + i64::from(last_key)
                } else if limit <= 1 {
                    argc + i64::from(last_key)
                } else {
                    first + (argc - first) / i64::from(limit) + i64::from(last_key)
                };
                let step = i64::from(step.max(1));
                let mut i = first;
                while i <= last && i < argc {
                    out.push(i as usize);
                    i += step;
                }
            }
            Find::Unknown => {}
            Find::Keynum {
                keynum_idx,
                first_key,
                step,
            } => {
                let Some(n) = argv
                    .try_get((first + i64::from(keynum_idx)) as usize)
                    .and_then(rudis_resp::number::parse_i64)
                else {
                    continue;
                };
                let start = first + i64::from(first_key);
                let step = i64::from(step.max(1));
                for k in 0..n.max(0) {
                    let i = start + k * step;
                    if i >= argc {
                        break;
                    }
                    out.push(i as usize);
                }
            }
        }
    }
    out
}

fn begin_index(ks: &KeySpec, argv: Argv<'_>) -> Option<i64> {
    let argc = argv.len() as i64;
    match ks.begin {
        Begin::Index(i) => (i64::from(i) < argc).then_some(i64::from(i)),
        Begin::Keyword {
            keyword,
            start_from,
        } => {
            let (from, backwards) = if start_from >= 0 {
                (i64::from(start_from), false)
            } else {
                (argc + i64::from(start_from), true)
            };
            let mut i = from;
            while i > 0 && i < argc {
                if argv
                    .get(i as usize)
                    .eq_ignore_ascii_case(keyword.as_bytes())
                {
                    return Some(i + 1);
                }
                i += if backwards { -1 } else { 1 };
            }
            None
        }
        Begin::Unknown => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nop(_: &mut Ctx<'_, '_>, _: Argv<'_>) -> CmdResult {
        Ok(())
    }

    fn legacy(keys: &[KeySpec]) -> ((i64, i64, i64), bool) {
        let keys: &'static [KeySpec] = Box::leak(keys.to_vec().into_boxed_slice());
        let spec = CommandSpec::new("x", -1, nop).keys(keys);
        (spec.legacy_range(), spec.movable_keys())
    }

    const RW: u32 = keyflag::RW;
    const STREAMS: Find = Find::Range {
        last_key: -1,
        step: 1,
        limit: 2,
    };

    /// Expected values are what Redis 7.0 reports for the commands named.
    #[test]
    fn legacy_range_and_movable_keys_as_redis_derives_them() {
        assert_eq!(legacy(&[]), ((0, 0, 0), false), "time");
        assert_eq!(legacy(&[KeySpec::one(1, RW)]), ((1, 1, 1), false), "get");
        assert_eq!(
            legacy(&[KeySpec::range(1, -1, 2, RW)]),
            ((1, -1, 2), false),
            "mset"
        );
        assert_eq!(
            legacy(&[KeySpec::range(1, -2, 1, RW)]),
            ((1, -2, 1), false),
            "blpop"
        );
        assert_eq!(
            legacy(&[KeySpec::one(1, RW), KeySpec::one(2, RW)]),
            ((1, 2, 1), false),
            "lmove"
        );
        assert_eq!(
            legacy(&[KeySpec::one(1, RW), KeySpec::keynum(2, RW)]),
            ((1, 1, 1), true),
            "zunionstore"
        );
        assert_eq!(legacy(&[KeySpec::keynum(2, RW)]), ((0, 0, 0), true), "eval");
        assert_eq!(
            legacy(&[KeySpec::keyword("STREAMS", 1, STREAMS, RW)]),
            ((0, 0, 0), true),
            "xread"
        );
        assert_eq!(
            legacy(&[
                KeySpec::one(3, RW),
                KeySpec::keyword(
                    "KEYS",
                    -2,
                    Find::Range {
                        last_key: -1,
                        step: 1,
                        limit: 0
                    },
                    RW | keyflag::INCOMPLETE
                ),
            ]),
            ((3, 3, 1), true),
            "migrate"
        );
        assert_eq!(
            legacy(&[KeySpec::one(1, RW), KeySpec::unknown(keyflag::OW)]),
            ((1, 1, 1), true),
            "sort"
        );
        assert_eq!(
            legacy(&[KeySpec::one(1, RW | keyflag::INCOMPLETE)]),
            ((1, 1, 1), true),
            "a lone incomplete spec"
        );
        // Not consecutive: the second range is left out of the legacy triple.
        assert_eq!(
            legacy(&[KeySpec::one(1, RW), KeySpec::one(3, RW)]),
            ((1, 1, 1), true)
        );
    }
}
