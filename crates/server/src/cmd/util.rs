//! Argument parsing shared by handlers, with Redis's error texts.

use crate::command::error::{CmdError, NOT_FLOAT, NOT_INTEGER};
use rudis_resp::number::{parse_f64, parse_i64};

/// An integer argument (`ERR value is not an integer or out of range`).
pub fn int_arg(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(NOT_INTEGER)
}

/// A float argument (`ERR value is not a valid float`).
pub fn float_arg(arg: &[u8]) -> Result<f64, CmdError> {
    parse_f64(arg).ok_or(NOT_FLOAT)
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// An argument as text, lossily.
pub fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

/// Client names may not contain spaces, newlines or other special characters.
pub fn validate_client_name(name: &[u8]) -> Result<(), CmdError> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(
            "ERR Client names cannot contain spaces, newlines or special characters.".into(),
        );
    }
    Ok(())
}

/// Replies to `<CONTAINER> HELP` as Redis does: a usage line naming the command as the client
/// typed it (upper-cased), the given lines, then the HELP entry itself, all as status replies.
pub fn reply_help(reply: &mut rudis_resp::ReplyBuf, command: &[u8], lines: &[&str]) {
    let name = String::from_utf8_lossy(command).to_ascii_uppercase();
    reply.array(lines.len() + 3);
    reply.simple(&format!(
        "{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for line in lines {
        reply.simple(line);
    }
    reply.simple("HELP");
    reply.simple("    Prints this help.");
}

/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try <CMD> HELP.`
pub fn subcommand_syntax_error(argv: rudis_resp::Argv) -> CmdError {
    let sub = argv.get(1);
    crate::err!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)]),
        String::from_utf8_lossy(argv.get(0)).to_ascii_uppercase()
    )
}
