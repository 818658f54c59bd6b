//! A replica answering its master's stream with an error. The master never reads such
//! replies, but an error there means the replica's data may now differ from its master's,
//! so, as Redis does, the replica logs it as critical, counts it
//! (`unexpected_error_replies`), and under `propagation-error-behavior panic` or
//! `panic-on-replicas` a read-only replica stops rather than keep serving diverged data.

use rudis_resp::Argv;

use crate::server::log::{self, Verbosity};
use crate::server::Server;

/// At most this much of the error is logged.
const MAX_LOGGED_ERROR_BYTES: usize = 4096;

/// Looks at the reply `reply` that applying `argv` from the master produced, and reports it
/// if it is an error.
pub fn check(srv: &Server, argv: Argv<'_>, reply: &[u8]) {
    let Some(error) = error_text(reply) else {
        return;
    };
    let command = crate::command::dispatch::lookup(srv, argv)
        .map(|e| e.fullname.as_str())
        .unwrap_or("<unknown>");
    log::write_line(
        Verbosity::Warning,
        &format!(
            "== CRITICAL == This replica is sending an error to its master: '{error}' after processing the command '{command}'"
        ),
    );
    srv.stats.add(|c| &c.unexpected_error_replies, 1);
    let cfg = srv.cfg();
    let panics = matches!(
        cfg.propagation_error_behavior.as_str(),
        "panic" | "panic-on-replicas"
    );
    if panics && cfg.replica_read_only {
        drop(cfg);
        panic_now(&format!(
            "This replica panicked sending an error to its master after processing the command '{command}'"
        ));
    }
}

/// The text of an error reply as Redis logs it, or `None` for any other reply. Redis logs
/// the text its code was given: a plain `ERR` error without its code, any other code with
/// its `-` (`-WRONGTYPE ...`).
fn error_text(reply: &[u8]) -> Option<String> {
    reply.strip_prefix(b"-")?;
    let line = reply
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or(reply);
    let line = line.strip_prefix(b"-ERR ").unwrap_or(line);
    let line = &line[..line.len().min(MAX_LOGGED_ERROR_BYTES)];
    Some(String::from_utf8_lossy(line).into_owned())
}

/// Logs the panic as Redis words it and aborts the process.
fn panic_now(message: &str) -> ! {
    log::write_line(
        Verbosity::Warning,
        "------------------------------------------------",
    );
    log::write_line(
        Verbosity::Warning,
        "!!! Software Failure. Press left mouse button to continue",
    );
    log::write_line(Verbosity::Warning, &format!("Guru Meditation: {message}"));
    std::process::abort();
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[test]
    fn only_error_replies_are_reported() {
        assert_eq!(error_text(b"+OK\r\n"), None);
        assert_eq!(error_text(b":1\r\n"), None);
        assert_eq!(
            error_text(b"-ERR unknown command 'x'\r\n").as_deref(),
            Some("unknown command 'x'")
        );
        assert_eq!(
            error_text(b"-WRONGTYPE Operation\r\n").as_deref(),
            Some("-WRONGTYPE Operation")
        );
        let long = [b"-".as_slice(), &[b'e'; 5000], b"\r\n"].concat();
        assert_eq!(error_text(&long).map(|t| t.len()), Some(4096));
    }
}
