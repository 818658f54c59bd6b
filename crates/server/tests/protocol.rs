//! The wire protocol under abuse: malformed requests get Redis's protocol errors and close
//! only their own connection; huge length claims allocate nothing; the server stays up and
//! keeps serving others; limits (query buffer, maxclients, idle timeout, protected mode) hold.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{RawConn, ServerProcess};
use rudis_resp::Value;

fn error_then_close(srv: &ServerProcess, input: &[u8]) -> String {
    let mut c = srv.conn();
    c.send_raw(input).unwrap();
    let (v, _) = c.read_reply().expect("an error reply before the close");
    assert!(
        c.is_closed_by_peer(),
        "connection closed after a protocol error"
    );
    match v {
        Value::Error(e) => String::from_utf8(e).unwrap(),
        other => panic!("expected an error, got {other:?}"),
    }
}

fn still_serving(srv: &ServerProcess) {
    let mut c = srv.conn();
    assert_eq!(
        c.command(&["PING"]).unwrap(),
        Value::Simple(b"PONG".to_vec())
    );
}

#[test]
fn malformed_requests_get_redis_errors() {
    let srv = ServerProcess::start(&[]);
    let cases: &[(&[u8], &str)] = &[
        (
            b"*99999999999\r\n",
            "ERR Protocol error: invalid multibulk length",
        ),
        (b"*abc\r\n", "ERR Protocol error: invalid multibulk length"),
        (
            b"*1\r\n$4294967296\r\n",
            "ERR Protocol error: invalid bulk length",
        ),
        (b"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"),
        (
            b"*2\r\n$3\r\nGET\r\n:1\r\n",
            "ERR Protocol error: expected '$', got ':'",
        ),
        (
            b"SET \"unbalanced\r\n",
            "ERR Protocol error: unbalanced quotes in request",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            error_then_close(&srv, input),
            *want,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    let mut long = vec![b'a'; 70 * 1024];
    long.push(b' ');
    assert_eq!(
        error_then_close(&srv, &long),
        "ERR Protocol error: too big inline request"
    );
    still_serving(&srv);
}

#[test]
fn random_garbage_never_takes_the_server_down() {
    let mut srv = ServerProcess::start(&[]);
    let mut rng = fastrand::Rng::with_seed(42);
    for round in 0..300 {
        let len = rng.usize(1..4096);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        if round % 3 == 0 {
            bytes[0] = b'*';
        }
        let mut c = srv.conn();
        let _ = c.send_raw(&bytes);
        c.stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut sink = [0u8; 4096];
        let _ = c.stream.read(&mut sink);
    }
    assert!(srv.is_alive());
    still_serving(&srv);
}

#[test]
fn length_claims_allocate_nothing() {
    let srv = ServerProcess::start(&[]);
    still_serving(&srv);
    let before = srv.rss_bytes();
    let mut conns: Vec<RawConn> = Vec::new();
    for _ in 0..50 {
        let mut c = srv.conn();
        // 500 MB announced (under proto-max-bulk-len), a few bytes sent.
        c.send_raw(b"*2\r\n$3\r\nSET\r\n$500000000\r\nabc").unwrap();
        conns.push(c);
        let mut c = srv.conn();
        c.send_raw(b"*1000000000\r\n$4\r\nPING\r\n").unwrap();
        conns.push(c);
    }
    std::thread::sleep(Duration::from_millis(300));
    still_serving(&srv);
    let grown = srv.rss_bytes().saturating_sub(before);
    assert!(
        grown < 32 * 1024 * 1024,
        "RSS grew by {grown} bytes for claims of 25 GB"
    );
}

#[test]
fn query_buffer_limit_closes_the_client() {
    let srv = ServerProcess::start(&["--client-query-buffer-limit", "1mb"]);
    let mut c = srv.conn();
    c.send_raw(b"*2\r\n$3\r\nSET\r\n$10000000\r\n").unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut closed = false;
    for _ in 0..64 {
        if c.send_raw(&chunk).is_err() {
            closed = true;
            break;
        }
    }
    assert!(closed || c.is_closed_by_peer());
    still_serving(&srv);
}

#[test]
fn pipelining_and_inline_commands() {
    let srv = ServerProcess::start(&[]);
    let mut c = srv.conn();
    let mut batch = Vec::new();
    for i in 0..10_000 {
        batch.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n{}\r\n",
                i.to_string().len(),
                i
            )
            .as_bytes(),
        );
    }
    batch.extend_from_slice(b"GET k\r\n");
    c.send_raw(&batch).unwrap();
    for _ in 0..10_000 {
        assert_eq!(c.read_reply().unwrap().0, Value::Simple(b"OK".to_vec()));
    }
    assert_eq!(c.read_reply().unwrap().0, Value::Bulk(b"9999".to_vec()));
}

#[test]
fn maxclients_is_enforced() {
    let srv = ServerProcess::start(&["--maxclients", "2"]);
    let mut a = srv.conn();
    a.command(&["PING"]).unwrap();
    let mut b = srv.conn();
    b.command(&["PING"]).unwrap();
    let mut c = srv.conn();
    let (v, _) = c.read_reply().unwrap();
    assert_eq!(
        v,
        Value::Error(b"ERR max number of clients reached".to_vec())
    );
}

#[test]
fn idle_clients_time_out() {
    let srv = ServerProcess::start(&["--timeout", "1"]);
    let mut c = srv.conn();
    c.command(&["PING"]).unwrap();
    let start = Instant::now();
    c.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(c.is_closed_by_peer());
    assert!(start.elapsed() >= Duration::from_millis(900));
}

/// A connection from 127.0.0.2: loopback, but not what Redis's protected mode calls local.
fn connect_from_127_0_0_2(port: u16) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&"127.0.0.2:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket
        .connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())
        .unwrap();
    socket.into()
}

#[test]
fn protected_mode_denies_non_local_clients_without_a_password() {
    let srv = ServerProcess::start(&["--bind", "127.0.0.1", "--protected-mode", "yes"]);
    let mut s = connect_from_127_0_0_2(srv.port);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    assert!(
        text.starts_with("-DENIED Redis is running in protected mode"),
        "{text:?}"
    );
    still_serving(&srv);

    let open = ServerProcess::start(&["--protected-mode", "no"]);
    let mut s = connect_from_127_0_0_2(open.port);
    s.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
}

#[test]
fn auth_gates_commands_when_a_password_is_set() {
    let srv = ServerProcess::start(&["--requirepass", "s3cret"]);
    let mut c = srv.conn();
    assert_eq!(
        c.command(&["GET", "k"]).unwrap(),
        Value::Error(b"NOAUTH Authentication required.".to_vec())
    );
    assert_eq!(
        c.command(&["AUTH", "wrong"]).unwrap(),
        Value::Error(b"WRONGPASS invalid username-password pair or user is disabled.".to_vec())
    );
    assert_eq!(
        c.command(&["AUTH", "s3cret"]).unwrap(),
        Value::Simple(b"OK".to_vec())
    );
    assert_eq!(c.command(&["GET", "k"]).unwrap(), Value::Nil);
    // Unauthenticated clients may not announce big requests.
    let mut d = srv.conn();
    d.send_raw(b"*100\r\n").unwrap();
    let (v, _) = d.read_reply().unwrap();
    assert_eq!(
        v,
        Value::Error(b"ERR Protocol error: unauthenticated multibulk length".to_vec())
    );
}
