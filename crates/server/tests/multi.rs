//! MULTI/EXEC atomicity under real concurrency: the server runs several I/O threads, writers
//! move amounts between keys in different slots inside MULTI/EXEC, and readers on other
//! connections check, with single atomic reads (MGET, and MULTI/EXEC of GETs), that no
//! transfer is ever seen half done.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::ServerProcess;

/// Keys spread over different hash slots (no hash tags), so EXEC must hold several shards.
const KEYS: [&str; 4] = ["acct:alpha", "acct:beta", "acct:gamma", "acct:delta"];

fn total(values: &[Option<i64>]) -> i64 {
    values.iter().map(|v| v.unwrap_or(0)).sum()
}

#[test]
fn transfers_in_exec_are_never_seen_half_done() {
    let server = ServerProcess::start(&["--io-threads", "4"]);
    let stop = Arc::new(AtomicBool::new(false));
    let transfers = Arc::new(AtomicU64::new(0));
    let reads = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for w in 0..4 {
        let (mut con, stop, transfers) = (server.client(), stop.clone(), transfers.clone());
        threads.push(std::thread::spawn(move || {
            let mut rng = fastrand::Rng::with_seed(w);
            while !stop.load(Ordering::Relaxed) {
                let from = KEYS[rng.usize(..KEYS.len())];
                let to = KEYS[rng.usize(..KEYS.len())];
                let amount = rng.i64(1..100);
                let () = redis::pipe()
                    .atomic()
                    .cmd("DECRBY")
                    .arg(from)
                    .arg(amount)
                    .ignore()
                    .cmd("INCRBY")
                    .arg(to)
                    .arg(amount)
                    .ignore()
                    .query(&mut con)
                    .unwrap();
                transfers.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let violations = Arc::new(AtomicU64::new(0));
    for r in 0..4 {
        let (mut con, stop, reads, violations) = (
            server.client(),
            stop.clone(),
            reads.clone(),
            violations.clone(),
        );
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let values: Vec<Option<i64>> = if r % 2 == 0 {
                    redis::cmd("MGET").arg(&KEYS).query(&mut con).unwrap()
                } else {
                    let mut pipe = redis::pipe();
                    pipe.atomic();
                    for k in KEYS {
                        pipe.cmd("GET").arg(k);
                    }
                    pipe.query(&mut con).unwrap()
                };
                if total(&values) != 0 {
                    violations.fetch_add(1, Ordering::Relaxed);
                }
                reads.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let (transfers, reads) = (
        transfers.load(Ordering::Relaxed),
        reads.load(Ordering::Relaxed),
    );
    assert!(
        transfers > 100 && reads > 100,
        "{transfers} transfers, {reads} reads"
    );
    assert_eq!(
        violations.load(Ordering::Relaxed),
        0,
        "reads saw a transfer half done ({transfers} transfers, {reads} reads)"
    );
    let mut con = server.client();
    let values: Vec<Option<i64>> = redis::cmd("MGET").arg(&KEYS).query(&mut con).unwrap();
    assert_eq!(total(&values), 0);
    assert!(
        values.iter().any(|v| v.unwrap_or(0) != 0),
        "money moved: {values:?}"
    );
}
