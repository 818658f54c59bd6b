//! An ACL user and its selectors: what a user may run, which keys and channels it may touch,
//! and the permission check the dispatch gate makes for a user without full permissions.
//!
//! A user is immutable once published: ACL SETUSER builds a changed copy and swaps it in, and
//! each connection holds an `Arc` snapshot of its user. `all_permissions` is computed when
//! the user is built, so the gate's fast path is one branch.

use std::collections::BTreeMap;

use rudis_resp::Argv;

use crate::command::spec::{flag, key_positions, keyflag, CommandSpec};
use crate::command::table::{CmdEntry, CommandTable};
use crate::util::glob;

/// May read the keys matching the pattern.
pub const KEY_READ: u8 = 1 << 0;
/// May write the keys matching the pattern.
pub const KEY_WRITE: u8 = 1 << 1;
pub const KEY_ALL: u8 = KEY_READ | KEY_WRITE;

/// A key pattern with the access it grants (`~pat`, `%R~pat`, `%W~pat`, `%RW~pat`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    pub pattern: Vec<u8>,
    pub access: u8,
}

/// One set of permissions. A user has a root selector and any number of extra ones; a command
/// is allowed if any selector allows all of it.
#[derive(Clone, Debug, Default)]
pub struct Selector {
    /// Every command is allowed (cleared as soon as any command is denied).
    pub all_commands: bool,
    /// `+@all` was applied and not undone by `-@all`: ACL LIST starts from `+@all`.
    pub future_commands: bool,
    /// One bit per command table id.
    pub allowed: Vec<u64>,
    /// First arguments allowed for a command otherwise denied (`+select|0`), by command id.
    pub first_args: BTreeMap<usize, Vec<Vec<u8>>>,
    pub all_keys: bool,
    pub keys: Vec<KeyPattern>,
    pub all_channels: bool,
    pub channels: Vec<Vec<u8>>,
}

/// Why a command was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    Key,
    Channel,
}

/// A refusal and the index of the offending argument (0 for the command).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Denied,
    pub arg_index: usize,
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// `sanitize-payload` (`Some(false)`) or `skip-sanitize-payload` (`Some(true)`), if
    /// either was ever set.
    pub skip_sanitize_payload: Option<bool>,
    /// SHA-256 digests of the passwords, as lowercase hex.
    pub passwords: Vec<String>,
    pub root: Selector,
    pub selectors: Vec<Selector>,
    /// Every command, key and channel allowed by the root selector: the gate skips the check.
    pub all_permissions: bool,
}

impl Selector {
    /// A selector allowing nothing, sized for `command_count` commands.
    pub fn empty(command_count: usize) -> Self {
        Selector {
            allowed: vec![0; command_count.div_ceil(64)],
            ..Selector::default()
        }
    }

    pub fn command_allowed(&self, id: usize) -> bool {
        self.allowed
            .get(id / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    pub fn set_command_bit(&mut self, id: usize, on: bool) {
        if id / 64 >= self.allowed.len() {
            self.allowed.resize(id / 64 + 1, 0);
        }
        let bit = 1u64 << (id % 64);
        if !on {
            self.all_commands = false;
        }
        if on {
            self.allowed[id / 64] |= bit;
        } else {
            self.allowed[id / 64] &= !bit;
        }
    }

    /// Allows or denies a command and all its subcommands, forgetting its first arguments.
    pub fn change_command(&mut self, table: &CommandTable, entry: &CmdEntry, on: bool) {
        self.set_command_bit(entry.id, on);
        self.first_args.remove(&entry.id);
        for sub in entry.subcommand_ids() {
            self.set_command_bit(sub, on);
        }
        let _ = table;
    }

    /// Sets every command of `category` (a [`crate::command::spec::acl`] bit).
    pub fn change_category(&mut self, table: &CommandTable, category: u64, on: bool) {
        for entry in table.all() {
            if entry.spec.acl_categories() & category != 0 {
                self.change_command(table, entry, on);
            }
        }
    }

    pub fn set_all_commands(&mut self, on: bool) {
        let fill = if on { u64::MAX } else { 0 };
        self.allowed.iter_mut().for_each(|w| *w = fill);
        self.all_commands = on;
        self.future_commands = on;
        self.first_args.clear();
    }

    /// Checks one command with its arguments against this selector.
    pub fn check(&self, entry: &CmdEntry, argv: Argv<'_>) -> Result<(), Refusal> {
        let spec = entry.spec;
        if !self.all_commands && !spec.has(flag::NO_AUTH) && !self.command_allowed(entry.id) {
            let first_arg_ok = argv.len() >= 2
                && self
                    .first_args
                    .get(&entry.id)
                    .is_some_and(|args| args.iter().any(|a| a.eq_ignore_ascii_case(argv.get(1))));
            if !first_arg_ok {
                return Err(Refusal {
                    reason: Denied::Command,
                    arg_index: 0,
                });
            }
        }
        if !self.all_keys {
            self.check_keys(spec, argv)?;
        }
        if !self.all_channels {
            self.check_channels(entry, argv)?;
        }
        Ok(())
    }

    fn check_keys(&self, spec: &CommandSpec, argv: Argv<'_>) -> Result<(), Refusal> {
        if spec.keys.is_empty() && spec.getkeys.is_none() {
            return Ok(());
        }
        let needed = access_needed(spec, argv);
        for index in key_positions(spec, argv) {
            if !self.key_allowed(argv.get(index), needed) {
                return Err(Refusal {
                    reason: Denied::Key,
                    arg_index: index,
                });
            }
        }
        Ok(())
    }

    /// True if a pattern grants `needed` access to `key`.
    pub fn key_allowed(&self, key: &[u8], needed: u8) -> bool {
        self.all_keys
            || self
                .keys
                .iter()
                .any(|p| p.access & needed == needed && glob::matches(&p.pattern, key, false))
    }

    fn check_channels(&self, entry: &CmdEntry, argv: Argv<'_>) -> Result<(), Refusal> {
        let Some((indexes, literal)) = channel_args(entry, argv.len()) else {
            return Ok(());
        };
        for index in indexes {
            if !self.channel_allowed(argv.get(index), literal) {
                return Err(Refusal {
                    reason: Denied::Channel,
                    arg_index: index,
                });
            }
        }
        Ok(())
    }

    /// True if `channel` may be used. A pattern subscription (`literal`) must name an allowed
    /// pattern exactly; a channel must match one.
    pub fn channel_allowed(&self, channel: &[u8], literal: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if literal {
                    p == channel
                } else {
                    glob::matches(p, channel, false)
                }
            })
    }
}

/// Access a command needs on its keys, from its key specs as Redis reads them: ACCESS needs
/// read; INSERT, DELETE and UPDATE need write. SET without GET only writes (its spec's
/// flags vary with the arguments).
fn access_needed(spec: &CommandSpec, argv: Argv<'_>) -> u8 {
    let mut spec_flags = 0u32;
    for ks in spec.keys {
        spec_flags |= ks.flags;
    }
    let mut needed = 0;
    if spec_flags & keyflag::ACCESS != 0 {
        needed |= KEY_READ;
    }
    if spec_flags & (keyflag::INSERT | keyflag::DELETE | keyflag::UPDATE) != 0 {
        needed |= KEY_WRITE;
    }
    let set_without_get =
        spec.name == "set" && !argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
    if spec_flags & keyflag::VARIABLE_FLAGS != 0 && set_without_get {
        needed &= !KEY_READ;
    }
    needed
}

/// The channel arguments of a pub/sub command, and whether they are patterns checked
/// literally (PSUBSCRIBE). `None` for commands without channels.
fn channel_args(entry: &CmdEntry, argc: usize) -> Option<(std::ops::Range<usize>, bool)> {
    let name = if entry.parent.is_some() {
        ""
    } else {
        entry.spec.name
    };
    match name {
        "publish" | "spublish" => Some((1..2.min(argc), false)),
        "subscribe" | "ssubscribe" => Some((1..argc, false)),
        "psubscribe" => Some((1..argc, true)),
        _ => None,
    }
}

impl User {
    /// A new user as ACL SETUSER creates it: off, no passwords, no permissions.
    pub fn new(name: &str, command_count: usize) -> Self {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            skip_sanitize_payload: None,
            passwords: Vec::new(),
            root: Selector::empty(command_count),
            selectors: Vec::new(),
            all_permissions: false,
        }
    }

    /// The `default` user at start-up: on, no password, everything allowed.
    pub fn new_default(command_count: usize) -> Self {
        let mut u = User::new("default", command_count);
        u.enabled = true;
        u.nopass = true;
        u.root.set_all_commands(true);
        u.root.all_keys = true;
        u.root.all_channels = true;
        u.seal();
        u
    }

    /// Recomputes the derived fast-path flag; call after any change.
    pub fn seal(&mut self) {
        let r = &self.root;
        self.all_permissions = r.all_commands && r.all_keys && r.all_channels;
    }

    /// Checks a command against every selector; the first that allows it wins. Otherwise the
    /// most specific refusal is reported, as Redis does.
    pub fn check(&self, entry: &CmdEntry, argv: Argv<'_>) -> Result<(), Refusal> {
        if self.all_permissions {
            return Ok(());
        }
        let mut worst: Option<Refusal> = None;
        for sel in std::iter::once(&self.root).chain(&self.selectors) {
            match sel.check(entry, argv) {
                Ok(()) => return Ok(()),
                Err(r) => {
                    let more_relevant = worst.is_none_or(|w| {
                        r.reason > w.reason || (r.reason == w.reason && r.arg_index > w.arg_index)
                    });
                    if more_relevant {
                        worst = Some(r);
                    }
                }
            }
        }
        Err(worst.unwrap_or(Refusal {
            reason: Denied::Command,
            arg_index: 0,
        }))
    }

    /// True if `password` is one of the user's (or the user needs none).
    pub fn password_ok(&self, password: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let digest = hash_password(password);
        self.passwords
            .iter()
            .any(|p| constant_time_eq(p.as_bytes(), digest.as_bytes()))
    }

    /// True if every channel a subscriber holds is still allowed by some selector.
    pub fn may_keep_channel(&self, channel: &[u8], pattern: bool) -> bool {
        std::iter::once(&self.root)
            .chain(&self.selectors)
            .any(|s| s.channel_allowed(channel, pattern))
    }
}

/// SHA-256 of a password, as 64 lowercase hex digits.
pub fn hash_password(password: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(password);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
