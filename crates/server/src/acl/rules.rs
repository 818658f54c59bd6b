//! The ACL rule language (ACL SETUSER, `user` directives, aclfile lines): parsing each rule
//! and applying it to a user. Input comes from clients and files: nothing here panics on bad
//! input, every failure is a [`RuleError`] carrying Redis's message.

use super::user::{hash_password, KeyPattern, Selector, User, KEY_ALL, KEY_READ, KEY_WRITE};
use crate::command::spec::acl as category;
use crate::command::table::CommandTable;

/// Why a rule was refused; [`RuleError::message`] is Redis's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    UnknownCommand,
    Syntax,
    KeyAfterAllKeys,
    ChannelAfterAllChannels,
    NoSuchPassword,
    BadHash,
    FirstArgOfSubcommand,
}

impl RuleError {
    pub fn message(self) -> &'static str {
        match self {
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyAfterAllKeys => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAllChannels => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::FirstArgOfSubcommand => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

/// The category bit named `name` (case-insensitive), if any.
pub fn category_by_name(name: &[u8]) -> Option<u64> {
    category::NAMES
        .iter()
        .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|&(bit, _)| bit)
}

/// Applies ACL SETUSER's arguments to a copy of `base` (or a new user named `name`), after
/// joining selectors split over several arguments. Returns the changed user or Redis's error.
pub fn set_user(
    table: &CommandTable,
    base: Option<&User>,
    name: &str,
    args: &[&[u8]],
) -> Result<User, String> {
    let ops = merge_selector_args(args).map_err(|start| {
        format!(
            "Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(args[start])
        )
    })?;
    let mut user = match base {
        Some(u) => u.clone(),
        None => User::new(name, table.len()),
    };
    for op in &ops {
        apply_user_rule(table, &mut user, op).map_err(|e| {
            format!(
                "Error in ACL SETUSER modifier '{}': {}",
                String::from_utf8_lossy(op),
                e.message()
            )
        })?;
    }
    user.seal();
    Ok(user)
}

/// Joins `(` ... `)` spread over several arguments into one. `Err` holds the index of the
/// argument that opened an unclosed selector.
fn merge_selector_args(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::with_capacity(args.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, arg) in args.iter().enumerate() {
        match open.as_mut() {
            Some((_, acc)) => {
                acc.push(b' ');
                acc.extend_from_slice(arg);
                if arg.last() == Some(&b')') {
                    out.push(open.take().map(|(_, a)| a).unwrap_or_default());
                }
            }
            None if arg.first() == Some(&b'(') && arg.last() != Some(&b')') => {
                open = Some((i, arg.to_vec()));
            }
            None => out.push(arg.to_vec()),
        }
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(out),
    }
}

fn is(op: &[u8], word: &str) -> bool {
    op.eq_ignore_ascii_case(word.as_bytes())
}

/// Applies one rule to a user: user-level rules here, the rest to the root selector.
pub fn apply_user_rule(table: &CommandTable, user: &mut User, op: &[u8]) -> Result<(), RuleError> {
    if op.is_empty() {
        return Ok(());
    }
    if is(op, "on") {
        user.enabled = true;
    } else if is(op, "off") {
        user.enabled = false;
    } else if is(op, "skip-sanitize-payload") {
        user.skip_sanitize_payload = Some(true);
    } else if is(op, "sanitize-payload") {
        user.skip_sanitize_payload = Some(false);
    } else if is(op, "nopass") {
        user.nopass = true;
        user.passwords.clear();
    } else if is(op, "resetpass") {
        user.nopass = false;
        user.passwords.clear();
    } else if op[0] == b'>' || op[0] == b'#' {
        let digest = password_digest(op)?;
        if !user.passwords.contains(&digest) {
            user.passwords.push(digest);
        }
        user.nopass = false;
    } else if op[0] == b'<' || op[0] == b'!' {
        let digest = password_digest(op)?;
        let at = user
            .passwords
            .iter()
            .position(|p| *p == digest)
            .ok_or(RuleError::NoSuchPassword)?;
        user.passwords.remove(at);
    } else if op[0] == b'(' && op.len() >= 2 && op[op.len() - 1] == b')' {
        let selector = selector_from_ops(table, &op[1..op.len() - 1])?;
        user.selectors.push(selector);
    } else if is(op, "clearselectors") {
        user.selectors.clear();
    } else if is(op, "reset") {
        user.nopass = false;
        user.passwords.clear();
        user.root.all_keys = false;
        user.root.keys.clear();
        user.root.all_channels = false;
        user.root.channels.clear();
        user.enabled = false;
        user.skip_sanitize_payload = Some(false);
        user.selectors.clear();
        user.root.set_all_commands(false);
    } else {
        apply_selector_rule(table, &mut user.root, op)?;
    }
    Ok(())
}

/// The stored digest for `>pass`/`<pass` (hashed) or `#hash`/`!hash` (checked).
fn password_digest(op: &[u8]) -> Result<String, RuleError> {
    let rest = &op[1..];
    if op[0] == b'>' || op[0] == b'<' {
        return Ok(hash_password(rest));
    }
    let valid = rest.len() == 64
        && rest
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c));
    if !valid {
        return Err(RuleError::BadHash);
    }
    Ok(String::from_utf8_lossy(rest).into_owned())
}

/// A selector built from the space-separated rules between `(` and `)`.
fn selector_from_ops(table: &CommandTable, ops: &[u8]) -> Result<Selector, RuleError> {
    let mut selector = Selector::empty(table.len());
    for op in ops.split(|&c| c == b' ').filter(|o| !o.is_empty()) {
        apply_selector_rule(table, &mut selector, op)?;
    }
    Ok(selector)
}

/// Applies one key, channel or command rule to a selector.
pub fn apply_selector_rule(
    table: &CommandTable,
    sel: &mut Selector,
    op: &[u8],
) -> Result<(), RuleError> {
    if is(op, "allkeys") || op == b"~*" {
        sel.all_keys = true;
        sel.keys.clear();
    } else if is(op, "resetkeys") {
        sel.all_keys = false;
        sel.keys.clear();
    } else if is(op, "allchannels") || op == b"&*" {
        sel.all_channels = true;
        sel.channels.clear();
    } else if is(op, "resetchannels") {
        sel.all_channels = false;
        sel.channels.clear();
    } else if is(op, "allcommands") || is(op, "+@all") {
        sel.set_all_commands(true);
    } else if is(op, "nocommands") || is(op, "-@all") {
        sel.set_all_commands(false);
    } else if op[0] == b'~' || op[0] == b'%' {
        add_key_pattern(sel, op)?;
    } else if op[0] == b'&' {
        if sel.all_channels {
            return Err(RuleError::ChannelAfterAllChannels);
        }
        let pattern = &op[1..];
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        if !sel.channels.iter().any(|c| c == pattern) {
            sel.channels.push(pattern.to_vec());
        }
    } else if (op[0] == b'+' || op[0] == b'-') && op.get(1) == Some(&b'@') {
        let bit = category_by_name(&op[2..]).ok_or(RuleError::UnknownCommand)?;
        sel.change_category(table, bit, op[0] == b'+');
    } else if op[0] == b'+' {
        allow_command(table, sel, &op[1..])?;
    } else if op[0] == b'-' {
        let entry = table
            .lookup_fullname(&op[1..])
            .ok_or(RuleError::UnknownCommand)?;
        sel.change_command(table, entry, false);
    } else {
        return Err(RuleError::Syntax);
    }
    Ok(())
}

fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&c| c.is_ascii_whitespace() || c == 0)
}

/// `~pattern` or `%R~`, `%W~`, `%RW~` patterns.
fn add_key_pattern(sel: &mut Selector, op: &[u8]) -> Result<(), RuleError> {
    if sel.all_keys {
        return Err(RuleError::KeyAfterAllKeys);
    }
    let (access, pattern) = if op[0] == b'%' {
        parse_access(&op[1..])?
    } else {
        (KEY_ALL, &op[1..])
    };
    if has_spaces(pattern) {
        return Err(RuleError::Syntax);
    }
    match sel.keys.iter_mut().find(|p| p.pattern == pattern) {
        Some(p) => p.access |= access,
        None => sel.keys.push(KeyPattern {
            pattern: pattern.to_vec(),
            access,
        }),
    }
    Ok(())
}

/// The access letters before `~` in `%RW~pattern`, and the pattern.
fn parse_access(spec: &[u8]) -> Result<(u8, &[u8]), RuleError> {
    let mut access = 0;
    for (i, &c) in spec.iter().enumerate() {
        match c.to_ascii_uppercase() {
            b'R' if access & KEY_READ == 0 => access |= KEY_READ,
            b'W' if access & KEY_WRITE == 0 => access |= KEY_WRITE,
            b'~' if access != 0 => return Ok((access, &spec[i + 1..])),
            _ => return Err(RuleError::Syntax),
        }
    }
    // No `~` (or no access letter): a pattern that grants nothing is refused.
    Err(RuleError::Syntax)
}

/// `+cmd`, `+cmd|sub`, or `+cmd|firstarg` for a command without subcommands.
fn allow_command(table: &CommandTable, sel: &mut Selector, name: &[u8]) -> Result<(), RuleError> {
    let Some(bar) = name.iter().rposition(|&c| c == b'|') else {
        let entry = table.lookup(name).ok_or(RuleError::UnknownCommand)?;
        sel.change_command(table, entry, true);
        return Ok(());
    };
    let (parent_name, sub) = (&name[..bar], &name[bar + 1..]);
    let parent = table
        .lookup_fullname(parent_name)
        .ok_or(RuleError::UnknownCommand)?;
    if parent.parent.is_some() {
        return Err(RuleError::FirstArgOfSubcommand);
    }
    if sub.is_empty() {
        return Err(RuleError::Syntax);
    }
    if parent.is_container() {
        let entry = table
            .lookup_sub(parent, sub)
            .ok_or(RuleError::UnknownCommand)?;
        sel.change_command(table, entry, true);
        return Ok(());
    }
    let args = sel.first_args.entry(parent.id).or_default();
    let sub = sub.to_ascii_lowercase();
    if !args.contains(&sub) {
        args.push(sub);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::describe::describe_user;
    use proptest::prelude::*;

    fn table() -> CommandTable {
        CommandTable::new(crate::cmd::all())
    }

    #[test]
    fn errors_carry_redis_text() {
        let t = table();
        let e = set_user(&t, None, "u", &[b"bad"]).unwrap_err();
        assert_eq!(e, "Error in ACL SETUSER modifier 'bad': Syntax error");
        let e = set_user(&t, None, "u", &[b"(~x", b"+get"]).unwrap_err();
        assert!(e.starts_with("Unmatched parenthesis"), "{e}");
    }

    proptest! {
        /// Any rules either fail cleanly or give a user whose description rebuilds it.
        #[test]
        fn rules_never_panic_and_describe_round_trips(
            rules in proptest::collection::vec(
                prop_oneof![
                    Just("+@all".to_string()), Just("-@read".to_string()),
                    Just("+get".to_string()), Just("-set".to_string()),
                    Just("~k*".to_string()), Just("%R~r*".to_string()),
                    Just("&ch".to_string()), Just("resetkeys".to_string()),
                    Just("allchannels".to_string()), Just("+select|0".to_string()),
                    Just("reset".to_string()), Just(">pw".to_string()),
                    "[ -~]{0,8}",
                ],
                0..8,
            )
        ) {
            let t = table();
            let args: Vec<&[u8]> = rules.iter().map(|r| r.as_bytes()).collect();
            if let Ok(user) = set_user(&t, None, "u", &args) {
                let text = describe_user(&t, &user);
                let words: Vec<&[u8]> = text.split(' ').map(str::as_bytes).collect();
                let again = set_user(&t, None, "u", &words).expect("a description parses");
                prop_assert_eq!(describe_user(&t, &again), text);
            }
        }
    }
}
