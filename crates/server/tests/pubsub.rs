//! Pub/Sub across connections: delivery to subscribers and patterns, keyspace notifications,
//! and the output buffer limit that disconnects a subscriber who does not read.

mod common;

use common::ServerProcess;
use rudis_resp::Value;

fn bulk(s: &str) -> Value {
    Value::Bulk(s.as_bytes().to_vec())
}

#[test]
fn messages_reach_channel_and_pattern_subscribers() {
    let srv = ServerProcess::start(&[]);
    let (mut sub, mut psub, mut publisher) = (srv.conn(), srv.conn(), srv.conn());
    assert_eq!(
        sub.command(&["SUBSCRIBE", "news"]).unwrap(),
        Value::Array(vec![bulk("subscribe"), bulk("news"), Value::Int(1)])
    );
    psub.command(&["PSUBSCRIBE", "n*"]).unwrap();
    assert_eq!(
        publisher.command(&["PUBLISH", "news", "hello"]).unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        sub.read_reply().unwrap().0,
        Value::Array(vec![bulk("message"), bulk("news"), bulk("hello")])
    );
    assert_eq!(
        psub.read_reply().unwrap().0,
        Value::Array(vec![
            bulk("pmessage"),
            bulk("n*"),
            bulk("news"),
            bulk("hello")
        ])
    );
    assert_eq!(
        publisher.command(&["PUBSUB", "NUMSUB", "news"]).unwrap(),
        Value::Array(vec![bulk("news"), Value::Int(1)])
    );
    drop(sub);
    // A closed subscriber is forgotten.
    for _ in 0..100 {
        if publisher.command(&["PUBLISH", "news", "x"]).unwrap() == Value::Int(1) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("disconnected subscriber still counted");
}

#[test]
fn keyspace_notifications() {
    let srv = ServerProcess::start(&["--notify-keyspace-events", "KEA"]);
    let (mut sub, mut c) = (srv.conn(), srv.conn());
    sub.command(&["PSUBSCRIBE", "__key*__:*"]).unwrap();
    c.command(&["SET", "k", "v"]).unwrap();
    let (ev1, _) = sub.read_reply().unwrap();
    let (ev2, _) = sub.read_reply().unwrap();
    assert_eq!(
        ev1,
        Value::Array(vec![
            bulk("pmessage"),
            bulk("__key*__:*"),
            bulk("__keyspace@0__:k"),
            bulk("set")
        ])
    );
    assert_eq!(
        ev2,
        Value::Array(vec![
            bulk("pmessage"),
            bulk("__key*__:*"),
            bulk("__keyevent@0__:set"),
            bulk("k")
        ])
    );
}

#[test]
fn slow_subscriber_is_disconnected_at_the_hard_limit() {
    let srv = ServerProcess::start(&["--client-output-buffer-limit", "pubsub 100kb 0 0"]);
    let (mut sub, mut publisher) = (srv.conn(), srv.conn());
    sub.command(&["SUBSCRIBE", "flood"]).unwrap();
    // Stop reading; the kernel buffers fill, then the outbox passes 100 KB.
    let payload = "x".repeat(64 * 1024);
    let mut receivers = 1;
    for _ in 0..200 {
        receivers = match publisher.command(&["PUBLISH", "flood", &payload]).unwrap() {
            Value::Int(n) => n,
            other => panic!("{other:?}"),
        };
        if receivers == 0 {
            break;
        }
    }
    assert_eq!(receivers, 0, "the slow subscriber was never disconnected");
    assert!(sub.is_closed_by_peer());
}

/// Pub/Sub notifications get through CLIENT REPLY OFF (in RESP2 and RESP3), while ordinary
/// replies stay silent: the same bytes as Redis.
#[test]
fn notifications_get_through_client_reply_off() {
    fn transcript(srv: &ServerProcess, resp3: bool) -> Vec<Vec<u8>> {
        let (mut sub, mut publisher) = (srv.conn(), srv.conn());
        if resp3 {
            sub.command(&["HELLO", "3"]).unwrap();
        }
        sub.send(&["CLIENT", "REPLY", "OFF"]);
        sub.send(&["SUBSCRIBE", "ch"]);
        sub.send(&["PSUBSCRIBE", "c*"]);
        let mut out = vec![sub.read_reply().unwrap().1, sub.read_reply().unwrap().1];
        publisher.command(&["PUBLISH", "ch", "hi"]).unwrap();
        out.push(sub.read_reply().unwrap().1);
        out.push(sub.read_reply().unwrap().1);
        sub.send(&["UNSUBSCRIBE"]);
        out.push(sub.read_reply().unwrap().1);
        sub.send(&["PUNSUBSCRIBE"]);
        out.push(sub.read_reply().unwrap().1);
        // Ordinary replies are still off: the next thing read is the pong after REPLY ON.
        sub.send(&["SET", "k", "v"]);
        sub.send(&["CLIENT", "REPLY", "ON"]);
        sub.send(&["PING"]);
        out.push(sub.read_reply().unwrap().1);
        out.push(sub.read_reply().unwrap().1);
        out
    }
    let ours = ServerProcess::start(&[]);
    let redis = ServerProcess::start_redis(&[]);
    for resp3 in [false, true] {
        assert_eq!(
            transcript(&ours, resp3),
            transcript(&redis, resp3),
            "resp3: {resp3}"
        );
    }
}
