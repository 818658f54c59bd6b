//! The Unix domain socket listener (`unixsocket`, `unixsocketperm`). Its clients are served
//! exactly like TCP clients; only their address differs (`<path>:0`, flag `U`).
//!
//! As in Redis, a file left at the path by an earlier run is removed before binding, the
//! socket's mode is set to `unixsocketperm` when that is not 0, and the file is removed again
//! when the server shuts down.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};
use tokio::net::UnixListener;

use super::log::{self, Verbosity};
use super::workers::Workers;
use super::Server;
use crate::config::special::io_error_text;

/// Binds the socket at `path` with mode `perm` (0: leave it to the umask). The error is the
/// text Redis logs after "Failed opening Unix socket: ".
pub fn bind(path: &str, perm: u32, backlog: i32) -> Result<UnixListener, String> {
    let max = max_path_len();
    if path.len() >= max {
        return Err(format!(
            "unix socket path too long ({}), must be under {max}",
            path.len()
        ));
    }
    let _ = std::fs::remove_file(path);
    let socket =
        Socket::new(Domain::UNIX, Type::STREAM, None).map_err(|e| error_text("socket", &e))?;
    let addr = SockAddr::unix(path).map_err(|e| error_text("bind", &e))?;
    socket.bind(&addr).map_err(|e| error_text("bind", &e))?;
    if perm != 0 {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm));
    }
    socket
        .listen(backlog)
        .map_err(|e| error_text("listen", &e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| error_text("listen", &e))?;
    UnixListener::from_std(socket.into()).map_err(|e| error_text("listen", &e))
}

/// The size of `sun_path`, terminating NUL included.
fn max_path_len() -> usize {
    // SAFETY: `sockaddr_un` is plain old data; an all-zero value is valid.
    let sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sa.sun_path.len()
}

fn error_text(call: &str, e: &std::io::Error) -> String {
    format!("{call}: {}", io_error_text(e))
}

/// Accepts clients on the socket at `path` until the server shuts down.
pub async fn accept_loop(
    srv: Arc<Server>,
    listener: UnixListener,
    path: String,
    workers: Arc<Workers>,
) {
    let mut shutdown = srv.shutdown_requested();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        match accepted.and_then(|(stream, _)| stream.into_std()) {
            Ok(stream) => {
                tracing::debug!("Accepted connection to {path}");
                workers.serve(super::conn::serve_unix(srv.clone(), stream, path.clone()));
            }
            Err(e) => {
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Removes the socket file at shutdown, logging as Redis does.
pub fn remove_file(path: &str) {
    log::write_line(Verbosity::Notice, "Removing the unix socket file.");
    if let Err(e) = std::fs::remove_file(path) {
        log::write_line(
            Verbosity::Warning,
            &format!("Error removing the unix socket file: {}", io_error_text(&e)),
        );
    }
}
