//! Differential tests: every script under `tests/diff/` is sent, line by line, to a fresh
//! rudis-server and a fresh Redis 7.0 redis-server, and the raw reply bytes are compared.
//! Script syntax is described in `tests/diff/README.md`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{RawConn, ServerProcess};
use rudis_resp::Value;

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/diff")
}

/// How to compare one reply.
#[derive(Clone, Copy, PartialEq)]
enum Compare {
    Exact,
    /// Sort the elements of an array reply first (unordered replies: KEYS, SMEMBERS).
    Sorted,
    /// Only the reply type and, for aggregates, the length.
    Shape,
    /// Only that both are errors, or both are not.
    ErrorOrNot,
}

struct Line {
    number: usize,
    compare: Compare,
    args: Vec<Vec<u8>>,
    sleep_ms: Option<u64>,
    /// Replies the command produces (SUBSCRIBE to n channels gives n).
    replies: usize,
}

fn parse_script(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let mut line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut compare = Compare::Exact;
        if let Some(ms) = line.strip_prefix("@sleep ") {
            lines.push(Line {
                number: i + 1,
                compare,
                args: Vec::new(),
                sleep_ms: Some(ms.trim().parse().expect("@sleep ms")),
                replies: 0,
            });
            continue;
        }
        // Prefixes combine in any order: `@shape @replies 2 UNSUBSCRIBE`.
        let mut replies = 1;
        loop {
            if let Some(rest) = line.strip_prefix("@replies ") {
                let (n, rest) = rest.split_once(' ').expect("@replies N command");
                replies = n.parse().expect("@replies N");
                line = rest;
                continue;
            }
            let prefixed = [
                ("@sorted ", Compare::Sorted),
                ("@shape ", Compare::Shape),
                ("@error ", Compare::ErrorOrNot),
            ]
            .into_iter()
            .find_map(|(p, c)| line.strip_prefix(p).map(|rest| (rest, c)));
            match prefixed {
                Some((rest, c)) => {
                    compare = c;
                    line = rest;
                }
                None => break,
            }
        }
        assert!(
            !line.starts_with('@'),
            "line {}: unknown directive {line:?}",
            i + 1
        );
        let args = rudis_resp::inline::split_args(line.as_bytes())
            .unwrap_or_else(|_| panic!("line {}: bad quoting", i + 1));
        lines.push(Line {
            number: i + 1,
            compare,
            args,
            sleep_ms: None,
            replies,
        });
    }
    lines
}

fn sorted_elements(v: &Value) -> Option<Vec<Vec<u8>>> {
    let items = match v {
        Value::Array(items) | Value::Set(items) => items,
        _ => return None,
    };
    let mut out: Vec<Vec<u8>> = items
        .iter()
        .map(|i| {
            let mut b = Vec::new();
            i.encode(&mut b);
            b
        })
        .collect();
    out.sort();
    Some(out)
}

fn shape(v: &Value) -> String {
    match v {
        Value::Array(i) => format!("array[{}]", i.len()),
        Value::Set(i) => format!("set[{}]", i.len()),
        Value::Push(i) => format!("push[{}]", i.len()),
        Value::Map(i) => format!("map[{}]", i.len()),
        Value::Simple(_) => "simple".into(),
        Value::Error(_) => "error".into(),
        Value::Int(_) => "int".into(),
        Value::Bulk(_) => "bulk".into(),
        Value::Nil => "nil".into(),
        Value::Double(_) => "double".into(),
        Value::Bool(_) => "bool".into(),
        Value::Verbatim(_) => "verbatim".into(),
        Value::BigNumber(_) => "bignum".into(),
    }
}

fn same(compare: Compare, (va, ra): &(Value, Vec<u8>), (vb, rb): &(Value, Vec<u8>)) -> bool {
    match compare {
        Compare::Exact => ra == rb,
        Compare::Sorted => match (sorted_elements(va), sorted_elements(vb)) {
            (Some(a), Some(b)) => a == b,
            _ => ra == rb,
        },
        Compare::Shape => shape(va) == shape(vb),
        Compare::ErrorOrNot => va.is_error() == vb.is_error(),
    }
}

/// Runs one script against both servers; returns the mismatches.
fn run_script(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("read script");
    let args = ["--enable-debug-command", "yes"];
    let ours = ServerProcess::start(&args);
    let theirs = ServerProcess::start_redis(&args);
    let (mut a, mut b) = (ours.conn(), theirs.conn());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut failures = Vec::new();
    for line in parse_script(&text) {
        if let Some(ms) = line.sleep_ms {
            std::thread::sleep(Duration::from_millis(ms));
            continue;
        }
        let args: Vec<&[u8]> = line.args.iter().map(Vec::as_slice).collect();
        let ra = roundtrip(&mut a, &args, line.replies);
        let rb = roundtrip(&mut b, &args, line.replies);
        let ok = match (&ra, &rb) {
            (Ok(x), Ok(y)) => same(line.compare, x, y),
            (Err(_), Err(_)) => true,
            _ => false,
        };
        if !ok {
            let show = |r: &std::io::Result<(Value, Vec<u8>)>| match r {
                Ok((_, raw)) => String::from_utf8_lossy(raw).escape_debug().to_string(),
                Err(e) => format!("<{e}>"),
            };
            failures.push(format!(
                "{}:{}: {}\n    rudis: {}\n    redis: {}",
                name,
                line.number,
                line.args
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
                show(&ra),
                show(&rb)
            ));
        }
    }
    failures
}

/// Sends a command and reads `replies` replies; several are returned as one array value
/// whose raw bytes are their concatenation.
fn roundtrip(
    conn: &mut RawConn,
    args: &[&[u8]],
    replies: usize,
) -> std::io::Result<(Value, Vec<u8>)> {
    conn.send_bytes(args);
    if replies == 1 {
        return conn.read_reply();
    }
    let (mut values, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..replies {
        let (v, r) = conn.read_reply()?;
        values.push(v);
        raw.extend_from_slice(&r);
    }
    Ok((Value::Array(values), raw))
}

#[test]
fn scripts_match_redis() {
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(scripts_dir())
        .expect("tests/diff exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    scripts.sort();
    assert!(!scripts.is_empty(), "no differential scripts found");
    let only = std::env::var("DIFF_ONLY").ok();
    let mut failures = Vec::new();
    for script in &scripts {
        if only
            .as_deref()
            .is_some_and(|o| !script.to_string_lossy().contains(o))
        {
            continue;
        }
        failures.extend(run_script(script));
    }
    assert!(
        failures.is_empty(),
        "{} replies differ from Redis:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
