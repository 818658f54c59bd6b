//! Users as text: the rules that rebuild a user (ACL LIST, ACL SAVE, CONFIG REWRITE) and the
//! fields of ACL GETUSER. Command permissions are described as Redis does: `+@all` or
//! `-@all`, then the categories that best fit the user's commands, then single commands.

use super::user::{KeyPattern, Selector, User, KEY_ALL, KEY_READ};
use crate::command::spec::acl as category;
use crate::command::table::CommandTable;

/// The user's rules, as after `user <name> ` in ACL LIST.
pub fn describe_user(table: &CommandTable, user: &User) -> String {
    let mut out = String::new();
    out.push_str(if user.enabled { "on " } else { "off " });
    if user.nopass {
        out.push_str("nopass ");
    }
    match user.skip_sanitize_payload {
        Some(true) => out.push_str("skip-sanitize-payload "),
        Some(false) => out.push_str("sanitize-payload "),
        None => {}
    }
    for p in &user.passwords {
        out.push('#');
        out.push_str(p);
        out.push(' ');
    }
    out.push_str(&describe_selector(table, &user.root));
    for sel in &user.selectors {
        out.push_str(" (");
        out.push_str(&describe_selector(table, sel));
        out.push(')');
    }
    out
}

/// User flags as ACL GETUSER lists them.
pub fn user_flags(user: &User) -> Vec<&'static str> {
    let mut flags = vec![if user.enabled { "on" } else { "off" }];
    if user.nopass {
        flags.push("nopass");
    }
    match user.skip_sanitize_payload {
        Some(true) => flags.push("skip-sanitize-payload"),
        Some(false) => flags.push("sanitize-payload"),
        None => {}
    }
    flags
}

/// Keys, channels and commands of one selector.
pub fn describe_selector(table: &CommandTable, sel: &Selector) -> String {
    let mut out = String::new();
    if sel.all_keys {
        out.push_str("~* ");
    } else {
        for p in &sel.keys {
            out.push_str(&key_pattern_text(p));
            out.push(' ');
        }
    }
    if sel.all_channels {
        out.push_str("&* ");
    } else {
        out.push_str("resetchannels ");
        for c in &sel.channels {
            out.push('&');
            out.push_str(&String::from_utf8_lossy(c));
            out.push(' ');
        }
    }
    out.push_str(&command_rules(table, sel));
    out
}

/// The selector's key patterns as ACL GETUSER's `keys` field.
pub fn keys_field(sel: &Selector) -> String {
    if sel.all_keys {
        return "~*".to_string();
    }
    let parts: Vec<String> = sel.keys.iter().map(key_pattern_text).collect();
    parts.join(" ")
}

/// The selector's channel patterns as ACL GETUSER's `channels` field.
pub fn channels_field(sel: &Selector) -> String {
    if sel.all_channels {
        return "&*".to_string();
    }
    let parts: Vec<String> = sel
        .channels
        .iter()
        .map(|c| format!("&{}", String::from_utf8_lossy(c)))
        .collect();
    parts.join(" ")
}

fn key_pattern_text(p: &KeyPattern) -> String {
    let prefix = match p.access {
        KEY_ALL => "~",
        KEY_READ => "%R~",
        _ => "%W~",
    };
    format!("{prefix}{}", String::from_utf8_lossy(&p.pattern))
}

/// `(allowed, denied)` commands of `bit` in the selector.
fn count_category(table: &CommandTable, sel: &Selector, bit: u64) -> (usize, usize) {
    let mut counts = (0, 0);
    for entry in table.all() {
        if entry.spec.acl_categories() & bit != 0 {
            if sel.command_allowed(entry.id) {
                counts.0 += 1;
            } else {
                counts.1 += 1;
            }
        }
    }
    counts
}

/// The command rules rebuilding the selector's command bits: a base, the best-fitting
/// categories one at a time, then the single commands still differing.
pub fn command_rules(table: &CommandTable, sel: &Selector) -> String {
    let additive = !sel.future_commands;
    let mut rules = String::from(if additive { "-@all " } else { "+@all " });
    let mut fake = Selector::empty(table.len());
    fake.set_all_commands(!additive);
    let mut temp = sel.clone();
    let mut applied = vec![false; category::NAMES.len()];
    while let Some(best) = best_category(table, &temp, &applied, additive) {
        let (bit, name) = category::NAMES[best];
        fake.change_category(table, bit, additive);
        temp.change_category(table, bit, !additive);
        rules.push_str(if additive { "+@" } else { "-@" });
        rules.push_str(name);
        rules.push(' ');
        applied[best] = true;
    }
    single_command_rules(table, sel, &mut fake, &mut rules);
    rules.pop();
    rules
}

fn best_category(
    table: &CommandTable,
    temp: &Selector,
    applied: &[bool],
    additive: bool,
) -> Option<usize> {
    let mut best = None;
    let (mut min_diff, mut max_same) = (usize::MAX, 0);
    for (j, &(bit, _)) in category::NAMES.iter().enumerate() {
        if applied[j] {
            continue;
        }
        let (on, off) = count_category(table, temp, bit);
        let (diff, same) = if additive { (off, on) } else { (on, off) };
        if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
            best = Some(j);
            min_diff = diff;
            max_same = same;
        }
    }
    best
}

fn single_command_rules(
    table: &CommandTable,
    sel: &Selector,
    fake: &mut Selector,
    rules: &mut String,
) {
    for entry in table.all() {
        let user_bit = sel.command_allowed(entry.id);
        if user_bit != fake.command_allowed(entry.id) {
            rules.push(if user_bit { '+' } else { '-' });
            rules.push_str(&entry.fullname);
            rules.push(' ');
            fake.change_command(table, entry, user_bit);
        }
        if user_bit {
            continue;
        }
        for arg in sel.first_args.get(&entry.id).into_iter().flatten() {
            rules.push_str(&format!(
                "+{}|{} ",
                entry.fullname,
                String::from_utf8_lossy(arg)
            ));
        }
    }
}
