//! A master streams a write to its replicas before it answers the client that made it, as
//! Redis does: a client that reads a replica right after its write then finds it there.
//! Checked with a replica played by the test over a raw socket, so the order is observed
//! directly: when the reply arrives, the replica's copy must already be readable.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{cmd, ServerProcess};

/// Attaches a fake replica: full resync, the snapshot read and dropped. Returns the reader
/// positioned at the start of the command stream.
fn attach_fake_replica(port: u16) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    reader
        .get_mut()
        .write_all(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
        .unwrap();
    let mut line = String::new();
    while line.trim().is_empty() {
        line.clear();
        reader.read_line(&mut line).unwrap();
    }
    assert!(line.starts_with("+FULLRESYNC"), "{line}");
    line.clear();
    while line.trim().is_empty() {
        line.clear();
        reader.read_line(&mut line).unwrap();
    }
    let header = line.trim().strip_prefix('$').expect("snapshot header");
    match header.strip_prefix("EOF:") {
        Some(mark) => skip_until(&mut reader, mark.as_bytes()),
        None => {
            let mut rdb = vec![0; header.parse().unwrap()];
            reader.read_exact(&mut rdb).unwrap();
        }
    }
    reader
}

fn skip_until(reader: &mut BufReader<TcpStream>, mark: &[u8]) {
    let mut seen = Vec::new();
    let mut byte = [0u8];
    while !seen.ends_with(mark) {
        reader.read_exact(&mut byte).unwrap();
        seen.push(byte[0]);
    }
}

/// What the replica socket holds right now, without waiting.
fn available(reader: &mut BufReader<TcpStream>) -> Vec<u8> {
    let mut out = reader.buffer().to_vec();
    reader.consume(out.len());
    let stream = reader.get_mut();
    stream.set_nonblocking(true).unwrap();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    stream.set_nonblocking(false).unwrap();
    out
}

#[test]
fn a_write_reaches_the_replicas_before_its_reply() {
    let master = ServerProcess::start(&["--repl-diskless-sync-delay", "0"]);
    let mut replica = attach_fake_replica(master.port);
    let mut client = master.conn();
    // Whatever the master sent after the snapshot (SELECT, PING) is not part of the check.
    assert_eq!(cmd(&mut client, &["SET", "warm", "up"]), "OK");
    std::thread::sleep(Duration::from_millis(200));
    available(&mut replica);
    for i in 1..=200 {
        assert_eq!(cmd(&mut client, &["INCR", "x"]), i.to_string());
        let streamed = available(&mut replica);
        let text = String::from_utf8_lossy(&streamed);
        assert!(
            text.contains("INCR") || text.contains("incr"),
            "write {i}: the reply came before the replica's copy ({text:?})"
        );
    }
}
