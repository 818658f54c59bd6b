//! Scripts against a running server with several connections: -BUSY for other clients once
//! a script runs past `busy-reply-threshold`, SCRIPT KILL and FUNCTION KILL, a script that
//! wrote being unkillable, effects propagated as MULTI/EXEC, functions surviving a restart,
//! a slow script logged once.

mod common;

use std::time::{Duration, Instant};

use common::{RawConn, ServerProcess};
use rudis_resp::Value;

fn text(v: &Value) -> String {
    String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned()
}

/// Every string in a reply, depth first.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Map(pairs) => pairs
            .iter()
            .flat_map(|(k, v)| strings(k).into_iter().chain(strings(v)))
            .collect(),
        other => vec![text(other)],
    }
}

/// Sends a command that keeps running, on its own connection.
fn start_script(port: u16, args: &[&str]) -> RawConn {
    let mut c = RawConn::connect(port);
    c.send(args);
    c
}

/// Waits until `probe` answers with an error starting with `prefix`.
fn wait_for_error(c: &mut RawConn, probe: &[&str], prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let v = c.command(probe).expect("reply");
        if v.is_error() && text(&v).starts_with(prefix) {
            return text(&v);
        }
        assert!(Instant::now() < deadline, "never got {prefix}: {v:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn busy_script_can_be_killed() {
    let srv = ServerProcess::start(&["--busy-reply-threshold", "50"]);
    let mut other = srv.conn();
    let mut running = start_script(srv.port, &["EVAL", "while true do end", "0"]);
    let busy = wait_for_error(&mut other, &["PING"], "BUSY");
    assert!(busy.contains("SCRIPT KILL"), "{busy}");
    // FUNCTION KILL does not stop an EVAL script.
    let v = other.command(&["FUNCTION", "KILL"]).unwrap();
    assert!(text(&v).starts_with("BUSY"), "{v:?}");
    assert_eq!(text(&other.command(&["SCRIPT", "KILL"]).unwrap()), "OK");
    let (reply, _) = running.read_reply().expect("the script's reply");
    assert!(
        text(&reply).starts_with("ERR Script killed by user with SCRIPT KILL"),
        "{reply:?}"
    );
    assert_eq!(text(&other.command(&["PING"]).unwrap()), "PONG");
    let v = other.command(&["SCRIPT", "KILL"]).unwrap();
    assert!(text(&v).starts_with("NOTBUSY"), "{v:?}");
}

#[test]
fn pcall_cannot_keep_a_killed_script_alive() {
    let srv = ServerProcess::start(&["--busy-reply-threshold", "50"]);
    let mut other = srv.conn();
    let script =
        "local f = function() while 1 do redis.call('ping') end end while 1 do pcall(f) end";
    let mut running = start_script(srv.port, &["EVAL", script, "0"]);
    wait_for_error(&mut other, &["PING"], "BUSY");
    assert_eq!(text(&other.command(&["SCRIPT", "KILL"]).unwrap()), "OK");
    let (reply, _) = running.read_reply().expect("the script's reply");
    assert!(reply.is_error(), "{reply:?}");
    assert_eq!(text(&other.command(&["PING"]).unwrap()), "PONG");
}

#[test]
fn a_script_that_wrote_is_unkillable() {
    let srv = ServerProcess::start(&["--busy-reply-threshold", "50"]);
    let mut other = srv.conn();
    // Writes, then spins for a while (bounded, so the test ends).
    let script = "redis.call('set', 'k', 'v') local t = redis.call('time')[1] \
                  while tonumber(redis.call('time')[1]) < t + 2 do end return 'done'";
    let mut running = start_script(srv.port, &["EVAL", script, "0"]);
    wait_for_error(&mut other, &["PING"], "BUSY");
    let v = other.command(&["SCRIPT", "KILL"]).unwrap();
    assert!(text(&v).starts_with("UNKILLABLE"), "{v:?}");
    let (reply, _) = running.read_reply().expect("the script's reply");
    assert_eq!(text(&reply), "done");
    assert_eq!(text(&other.command(&["GET", "k"]).unwrap()), "v");
}

#[test]
fn busy_function_is_killed_by_function_kill() {
    let srv = ServerProcess::start(&["--busy-reply-threshold", "50"]);
    let mut other = srv.conn();
    let lib = "#!lua name=spin\nredis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}";
    assert_eq!(
        text(&other.command(&["FUNCTION", "LOAD", lib]).unwrap()),
        "spin"
    );
    let mut running = start_script(srv.port, &["FCALL", "spin", "0"]);
    let busy = wait_for_error(&mut other, &["PING"], "BUSY");
    assert!(busy.contains("FUNCTION KILL"), "{busy}");
    let stats = other.command(&["FUNCTION", "STATS"]).unwrap();
    assert!(strings(&stats).contains(&"spin".to_string()), "{stats:?}");
    assert_eq!(text(&other.command(&["FUNCTION", "KILL"]).unwrap()), "OK");
    let (reply, _) = running.read_reply().expect("the function's reply");
    assert!(reply.is_error(), "{reply:?}");
}

#[test]
fn functions_survive_a_restart() {
    let dir = common::scratch_dir("functions-restart");
    let dir_s = dir.to_str().unwrap();
    let mut srv = ServerProcess::start(&["--dir", dir_s, "--save", "1 1"]);
    let mut c = srv.conn();
    let lib =
        "#!lua name=keep\nredis.register_function('kept', function() return 'still here' end)";
    assert_eq!(
        text(&c.command(&["FUNCTION", "LOAD", lib]).unwrap()),
        "keep"
    );
    assert_eq!(text(&c.command(&["SAVE"]).unwrap()), "OK");
    srv.terminate();
    let srv = ServerProcess::start(&["--dir", dir_s]);
    let mut c = srv.conn();
    assert_eq!(
        text(&c.command(&["FCALL", "kept", "0"]).unwrap()),
        "still here"
    );
}

#[test]
fn a_slow_script_is_logged_once() {
    let srv = ServerProcess::start(&["--busy-reply-threshold", "20"]);
    let mut c = srv.conn();
    let quick = c.command(&["EVAL", "return 1", "0"]).unwrap();
    assert_eq!(quick, Value::Int(1));
    assert!(!srv.log().contains("Slow script detected"));
    // Pure Lua work between clock readings: the check runs every so many instructions.
    let slow = "local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] \
                while true do for i = 1, 100000 do end local n = redis.call('TIME') \
                if n[1] * 1000000 + n[2] - s > 200000 then break end end return 2";
    assert_eq!(c.command(&["EVAL", slow, "0"]).unwrap(), Value::Int(2));
    let log = srv.log();
    assert_eq!(log.matches("Slow script detected").count(), 1, "{log}");
    assert!(
        log.contains("You can try killing the script using the SCRIPT KILL command."),
        "{log}"
    );
}
