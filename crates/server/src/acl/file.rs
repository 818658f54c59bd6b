//! The aclfile: one `user <name> <rules...>` line per user, loaded at start-up and by
//! ACL LOAD, written by ACL SAVE. Loading is all or nothing: any error leaves the users as
//! they were, and the errors are reported with Redis's texts.

use std::collections::BTreeSet;

use super::describe::describe_user;
use super::rules::{apply_user_rule, RuleError};
use super::user::User;
use crate::command::table::CommandTable;

/// Parses the text of an aclfile named `filename` (for messages). Every line's errors are
/// collected; on any error the whole file is refused.
pub fn parse(table: &CommandTable, filename: &str, text: &str) -> Result<Vec<User>, String> {
    let mut users = Vec::new();
    let mut seen = BTreeSet::new();
    let mut errors = String::new();
    for (i, line) in text.split('\n').enumerate() {
        let line_number = i + 1;
        let line = line.trim_matches([' ', '\t', '\r', '\n']);
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split(' ').collect();
        if words[0] != "user" || words.len() < 2 {
            errors.push_str(&format!(
                "{filename}:{line_number} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = words[1];
        if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace() || c == '\0') {
            errors.push_str(&format!(
                "'{filename}:{line_number}: username '{name}' contains invalid characters. "
            ));
            continue;
        }
        if !seen.insert(name.to_string()) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{name}' found on line {line_number}. "
            ));
            continue;
        }
        let args: Vec<&[u8]> = words[2..].iter().map(|w| w.as_bytes()).collect();
        match parse_user_line(table, name, &args) {
            Ok(user) => users.push(user),
            Err(e) => errors.push_str(&format!("{filename}:{line_number}: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str("WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
        Err(errors)
    }
}

/// One user line's rules applied to a new user.
fn parse_user_line(table: &CommandTable, name: &str, args: &[&[u8]]) -> Result<User, String> {
    let mut user = User::new(name, table.len());
    let merged = merge(args).ok_or("Unmatched parenthesis in selector definition.")?;
    let mut errors = String::new();
    let mut syntax_reported = false;
    for op in &merged {
        let op = op.trim_matches(['\t', '\r', '\n']);
        match apply_user_rule(table, &mut user, op.as_bytes()) {
            Ok(()) => {}
            Err(RuleError::UnknownCommand) => errors.push_str(&format!(
                "Error in applying operation '{op}': {}. ",
                RuleError::UnknownCommand.message()
            )),
            Err(e) if !syntax_reported => {
                errors.push_str(&format!("{}. ", e.message()));
                syntax_reported = true;
            }
            Err(_) => {}
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    user.seal();
    Ok(user)
}

/// Joins selectors split over several words; `None` if one is never closed.
fn merge(args: &[&[u8]]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut open: Option<String> = None;
    for arg in args {
        let arg = String::from_utf8_lossy(arg);
        match open.as_mut() {
            Some(acc) => {
                acc.push(' ');
                acc.push_str(&arg);
                if arg.ends_with(')') {
                    out.extend(open.take());
                }
            }
            None if arg.starts_with('(') && !arg.ends_with(')') => open = Some(arg.into_owned()),
            None => out.push(arg.into_owned()),
        }
    }
    open.is_none().then_some(out)
}

/// The aclfile text for `users`.
pub fn render(table: &CommandTable, users: &[std::sync::Arc<User>]) -> String {
    let mut out = String::new();
    for u in users {
        out.push_str(&format!("user {} {}\n", u.name, describe_user(table, u)));
    }
    out
}

/// Writes the aclfile atomically: a temporary file, then a rename over the old one.
pub fn save(path: &str, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = format!("{path}.tmp-{}", std::process::id());
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> CommandTable {
        CommandTable::new(crate::cmd::all())
    }

    #[test]
    fn loads_and_renders_users() {
        let t = table();
        let users = parse(
            &t,
            "users.acl",
            "user alice on >pw ~k* +get\n\nuser default on nopass ~* &* +@all\n",
        )
        .unwrap();
        assert_eq!(users.len(), 2);
        let arcs: Vec<_> = users.into_iter().map(std::sync::Arc::new).collect();
        let text = render(&t, &arcs);
        assert!(text.contains("user alice on #"), "{text}");
        assert!(text.contains("~k* resetchannels -@all +get"), "{text}");
    }

    #[test]
    fn refuses_bad_lines() {
        let t = table();
        let e = parse(&t, "f", "usr x\n").unwrap_err();
        assert!(e.starts_with("f:1 should start with user keyword"), "{e}");
        let e = parse(&t, "f", "user a +nosuch\n").unwrap_err();
        assert!(
            e.contains("f:1: Error in applying operation '+nosuch'"),
            "{e}"
        );
    }
}
