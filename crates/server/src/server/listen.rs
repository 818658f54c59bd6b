//! Listening sockets: one per `bind` address (`*` is every IPv4 address, `::*` every IPv6
//! address; a leading `-` marks an address whose absence is not an error), with Redis's
//! socket options (SO_REUSEADDR, IPV6_V6ONLY, `tcp-backlog`, `tcp-keepalive`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, TcpKeepalive, Type};
use tokio::net::TcpListener;

use super::Server;

/// Binds every configured address on `port`. Fails if a non-optional address cannot be bound.
pub fn bind_all(addrs: &[String], port: u16, backlog: i32) -> Result<Vec<TcpListener>, String> {
    let mut listeners = Vec::new();
    for addr in addrs {
        let (optional, addr) = match addr.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, addr.as_str()),
        };
        let ip: IpAddr = match addr {
            "*" | "0.0.0.0" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            "::*" | "::" => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            other => match other.parse() {
                Ok(ip) => ip,
                Err(_) if optional => continue,
                Err(_) => {
                    return Err(format!(
                    "Could not create server TCP listening socket {other}:{port}: invalid address"
                ))
                }
            },
        };
        match bind_one(SocketAddr::new(ip, port), backlog) {
            Ok(l) => listeners.push(l),
            Err(e) if optional && is_unavailable(&e) => continue,
            Err(e) => {
                let text = crate::config::special::io_error_text(&e);
                return Err(format!("Warning: Could not create server TCP listening socket {addr}:{port}: bind: {text}"));
            }
        }
    }
    Ok(listeners)
}

fn is_unavailable(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EADDRNOTAVAIL) | Some(libc::EAFNOSUPPORT) | Some(libc::EPROTONOSUPPORT)
    )
}

fn bind_one(addr: SocketAddr, backlog: i32) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    TcpListener::from_std(socket.into())
}

/// Accepts clients on `listener` until the server shuts down.
pub async fn accept_loop(
    srv: Arc<Server>,
    listener: TcpListener,
    workers: Arc<super::workers::Workers>,
) {
    let mut shutdown = srv.shutdown_requested();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                set_keepalive(&stream, srv.cfg().tcp_keepalive);
                match stream.into_std() {
                    Ok(std_stream) => {
                        workers.serve(super::conn::serve_tcp(srv.clone(), std_stream, peer))
                    }
                    Err(e) => tracing::warn!("Accepting client connection: {e}"),
                }
            }
            Err(e) => {
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

fn set_keepalive(stream: &tokio::net::TcpStream, interval_s: i64) {
    if interval_s <= 0 {
        return;
    }
    let secs = Duration::from_secs(interval_s as u64);
    let ka = TcpKeepalive::new().with_time(secs).with_interval(secs / 3);
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&ka);
}
