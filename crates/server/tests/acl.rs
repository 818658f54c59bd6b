//! ACL users across connections: AUTH as different users, the `user=` field of CLIENT
//! LIST/INFO, refusals, and ACL DELUSER closing the deleted user's connections.

mod common;

use common::{RawConn, ServerProcess};
use rudis_resp::Value;

fn reply(c: &mut RawConn, args: &[&str]) -> Value {
    c.command(args).expect("reply")
}

fn text(v: &Value) -> String {
    String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned()
}

#[test]
fn users_authenticate_are_checked_and_deleted_users_are_disconnected() {
    let srv = ServerProcess::start(&[]);
    let mut admin = srv.conn();
    let setuser = [
        "ACL", "SETUSER", "alice", "on", ">secret", "~a*", "+get", "+set", "+client",
    ];
    assert!(!reply(&mut admin, &setuser).is_error());

    let mut alice = srv.conn();
    let wrong = reply(&mut alice, &["AUTH", "alice", "nope"]);
    assert!(wrong.is_error(), "{wrong:?}");
    assert!(!reply(&mut alice, &["AUTH", "alice", "secret"]).is_error());
    let info = text(&reply(&mut alice, &["CLIENT", "INFO"]));
    assert!(info.contains(" user=alice "), "{info}");

    assert!(!reply(&mut alice, &["SET", "a1", "v"]).is_error());
    let denied_key = reply(&mut alice, &["SET", "b1", "v"]);
    assert!(denied_key.is_error(), "{denied_key:?}");
    let denied_cmd = reply(&mut alice, &["DEL", "a1"]);
    assert!(denied_cmd.is_error(), "{denied_cmd:?}");

    let list = text(&reply(&mut admin, &["CLIENT", "LIST"]));
    assert!(list.contains(" user=alice "), "{list}");
    let log = reply(&mut admin, &["ACL", "LOG"]);
    assert!(
        matches!(&log, Value::Array(entries) if entries.len() == 3),
        "{log:?}"
    );

    assert_eq!(
        reply(&mut admin, &["ACL", "DELUSER", "alice"]),
        Value::Int(1)
    );
    assert!(
        alice.is_closed_by_peer(),
        "a deleted user's connection is closed"
    );
    assert!(!reply(&mut admin, &["PING"]).is_error());
}
