//! Test harness for checks against the real Redis 7.0: starts redis-server on a free loopback
//! port in a scratch directory, talks RESP to it, reads a whole dataset back through commands,
//! and turns what the RDB reader returns into the same form for comparison. Every process it
//! starts is stopped, by its own handle, when dropped, and its scratch directory removed.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rudis_rdb::{
    intset, listpack, AuxFields, Item, QuicklistNode, Reader, Value, WriteOptions, Writer,
};
use rudis_resp::Value as Reply;

/// Finds a Redis tool on PATH, or fails the test saying what to install.
pub fn redis_tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "{name} (Redis 7.0.15: Debian packages redis-server and redis-tools) is needed \
                 for this test; ./.ci/run installs it"
            )
        })
}

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A fresh scratch directory.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rudis-rdb-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// A redis-server started for a test.
pub struct Redis {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Redis {
    /// Starts redis-server with its data directory `dir` and extra `args`.
    pub fn start_in(dir: &Path, args: &[&str]) -> Redis {
        let binary = redis_tool("redis-server");
        for _attempt in 0..5 {
            let port = free_port();
            let child = Command::new(&binary)
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                ])
                .args(["--appendonly", "no", "--logfile", "server.log"])
                .arg("--dir")
                .arg(dir)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let mut redis = Redis {
                child,
                port,
                dir: dir.to_path_buf(),
            };
            if redis.wait_ready() {
                return redis;
            }
        }
        panic!("redis-server did not start; log: {}", read_log(dir));
    }

    pub fn start(tag: &str, args: &[&str]) -> Redis {
        Redis::start_in(&scratch_dir(tag), args)
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut c) = Conn::try_connect(self.port) {
                match c.try_cmd(&[b"PING"]) {
                    Ok(Reply::Simple(s)) if s == b"PONG" => return true,
                    _ => {}
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn conn(&self) -> Conn {
        Conn::try_connect(self.port).expect("connect to redis-server")
    }

    /// SAVE, then the bytes of the dump file.
    pub fn save(&self, dbfilename: &str) -> Vec<u8> {
        assert_eq!(
            self.conn().cmd_str(&["SAVE"]),
            Reply::Simple(b"OK".to_vec())
        );
        std::fs::read(self.dir.join(dbfilename)).expect("read the dump file")
    }

    pub fn log(&self) -> String {
        read_log(&self.dir)
    }
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

impl Drop for Redis {
    /// Stops the server; its directory is kept only when the test failed, for the log.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A RESP connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn try_connect(port: u16) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
        })
    }

    fn try_cmd(&mut self, args: &[&[u8]]) -> std::io::Result<Reply> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&out)?;
        loop {
            if let Some((v, n)) = Reply::parse(&self.buf).map_err(|e| std::io::Error::other(e.0))? {
                self.buf.drain(..n);
                return Ok(v);
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub fn cmd(&mut self, args: &[&[u8]]) -> Reply {
        self.try_cmd(args).expect("redis-server replies")
    }

    pub fn cmd_str(&mut self, args: &[&str]) -> Reply {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.cmd(&args)
    }

    /// Runs a command that must not fail.
    pub fn ok(&mut self, args: &[&[u8]]) -> Reply {
        let r = self.cmd(args);
        assert!(
            !r.is_error(),
            "{:?} failed: {r:?}",
            args.iter()
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>()
        );
        r
    }

    pub fn ok_str(&mut self, args: &[&str]) -> Reply {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.ok(&args)
    }
}

pub fn bulk(r: &Reply) -> Vec<u8> {
    r.as_bytes()
        .unwrap_or_else(|| panic!("a string reply, got {r:?}"))
        .to_vec()
}

pub fn array(r: Reply) -> Vec<Reply> {
    match r {
        Reply::Array(items) => items,
        other => panic!("an array reply, got {other:?}"),
    }
}

pub fn int(r: &Reply) -> i64 {
    match r {
        Reply::Int(i) => *i,
        other => panic!("an integer reply, got {other:?}"),
    }
}

// ---- One model of a dataset -------------------------------------------------------------------

pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// A value as commands see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Logical {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    /// Members with scores, in ZRANGE order.
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    /// Live entries as (ID, field-value pairs), in order.
    Stream(Vec<(String, Pairs)>),
}

/// Every key of a dataset: (db, key) to value and expiry.
pub type Dataset = BTreeMap<(u64, Vec<u8>), (Logical, Option<i64>)>;

/// Reads every key of every database through commands.
pub fn dataset_of(redis: &Redis) -> Dataset {
    let mut c = redis.conn();
    let mut out = Dataset::new();
    for db in 0..16u64 {
        c.ok_str(&["SELECT", &db.to_string()]);
        for key in array(c.ok_str(&["KEYS", "*"])) {
            let key = bulk(&key);
            let value = logical_of(&mut c, &key);
            let expire = match int(&c.ok(&[b"PEXPIRETIME", &key])) {
                -1 => None,
                t => Some(t),
            };
            out.insert((db, key), (value, expire));
        }
    }
    out
}

fn logical_of(c: &mut Conn, key: &[u8]) -> Logical {
    let kind = bulk(&c.ok(&[b"TYPE", key]));
    match &kind[..] {
        b"string" => Logical::Str(bulk(&c.ok(&[b"GET", key]))),
        b"list" => Logical::List(
            array(c.ok(&[b"LRANGE", key, b"0", b"-1"]))
                .iter()
                .map(bulk)
                .collect(),
        ),
        b"set" => Logical::Set(array(c.ok(&[b"SMEMBERS", key])).iter().map(bulk).collect()),
        b"zset" => {
            let flat: Vec<Vec<u8>> = array(c.ok(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]))
                .iter()
                .map(bulk)
                .collect();
            Logical::ZSet(
                flat.chunks(2)
                    .map(|p| (p[0].clone(), parse_score(&p[1])))
                    .collect(),
            )
        }
        b"hash" => {
            let flat: Vec<Vec<u8>> = array(c.ok(&[b"HGETALL", key])).iter().map(bulk).collect();
            Logical::Hash(
                flat.chunks(2)
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect(),
            )
        }
        b"stream" => Logical::Stream(
            array(c.ok(&[b"XRANGE", key, b"-", b"+"]))
                .into_iter()
                .map(|e| {
                    let e = array(e);
                    let id = String::from_utf8(bulk(&e[0])).unwrap();
                    let flat: Vec<Vec<u8>> = array(e[1].clone()).iter().map(bulk).collect();
                    (
                        id,
                        flat.chunks(2)
                            .map(|p| (p[0].clone(), p[1].clone()))
                            .collect(),
                    )
                })
                .collect(),
        ),
        other => panic!("unexpected type {}", String::from_utf8_lossy(other)),
    }
}

fn parse_score(b: &[u8]) -> f64 {
    match b {
        b"inf" => f64::INFINITY,
        b"-inf" => f64::NEG_INFINITY,
        _ => std::str::from_utf8(b).unwrap().parse().unwrap(),
    }
}

/// Everything an RDB file holds, read with the crate's reader.
pub fn read_file(bytes: &[u8]) -> Vec<Item> {
    let reader = Reader::new(bytes).expect("a valid header");
    reader
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("reading failed: {e}"))
}

/// The dataset an RDB file holds, read with the crate's reader.
pub fn dataset_of_items(items: &[Item]) -> Dataset {
    let mut db = 0;
    let mut out = Dataset::new();
    for item in items {
        match item {
            Item::SelectDb { db: d } => db = *d,
            Item::Entry(e) => {
                out.insert(
                    (db, e.key.clone()),
                    (logical(&e.value), e.meta.expire_at_ms),
                );
            }
            _ => {}
        }
    }
    out
}

fn lp_strings(lp: &[u8]) -> Vec<Vec<u8>> {
    listpack::entries(lp).map(|e| e.to_vec()).collect()
}

/// What commands would show for `v`.
pub fn logical(v: &Value) -> Logical {
    match v {
        Value::String(s) => Logical::Str(s.clone()),
        Value::List(items) => Logical::List(items.clone()),
        Value::ListQuicklist(nodes) => Logical::List(
            nodes
                .iter()
                .flat_map(|n| match n {
                    QuicklistNode::Packed(lp) => lp_strings(lp),
                    QuicklistNode::Plain(e) => vec![e.clone()],
                })
                .collect(),
        ),
        Value::Set(m) => Logical::Set(m.iter().cloned().collect()),
        Value::SetIntset(is) => Logical::Set(
            intset::members(is)
                .map(|i| i.to_string().into_bytes())
                .collect(),
        ),
        Value::ZSet(pairs) => {
            let mut sorted = pairs.clone();
            sorted.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            Logical::ZSet(sorted)
        }
        Value::ZSetListpack(lp) => Logical::ZSet(
            lp_strings(lp)
                .chunks(2)
                .map(|p| (p[0].clone(), parse_score(&p[1])))
                .collect(),
        ),
        Value::Hash(pairs) => Logical::Hash(pairs.iter().cloned().collect()),
        Value::HashListpack(lp) => Logical::Hash(
            lp_strings(lp)
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect(),
        ),
        Value::Stream(s) => Logical::Stream(
            s.entries()
                .expect("a checked stream")
                .into_iter()
                .map(|(id, fields)| (format!("{}-{}", id.ms, id.seq), fields))
                .collect(),
        ),
    }
}

/// Writes `items` as a file, after Redis 7.0's aux fields when `aux` is set.
pub fn write_items(items: &[Item], options: WriteOptions, aux: bool) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), options).unwrap();
    if aux {
        w.aux_fields(&AuxFields {
            redis_ver: "7.0.15",
            redis_bits: 64,
            ctime_secs: 1_700_000_000,
            used_mem_bytes: 1_234_567,
            replication: None,
            aof_base: false,
        })
        .unwrap();
    }
    for item in items {
        match item {
            Item::Aux { key, value } => w.aux(key, value).unwrap(),
            Item::SelectDb { db } => w.select_db(*db).unwrap(),
            Item::ResizeDb { keys, expires } => w.resize_db(*keys, *expires).unwrap(),
            Item::Function { code } => w.function(code).unwrap(),
            Item::Entry(e) => w.write_entry(e).unwrap(),
        }
    }
    w.finish().unwrap()
}

/// Runs redis-check-rdb on a file; returns its output, failing the test if it rejects it.
pub fn check_rdb(path: &Path) -> String {
    let out = Command::new(redis_tool("redis-check-rdb"))
        .arg(path)
        .output()
        .expect("run redis-check-rdb");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("RDB looks OK"),
        "redis-check-rdb rejects {}:\n{text}",
        path.display()
    );
    text
}

// ---- A dataset with every type in every encoding ---------------------------------------------

/// Deterministic bytes that do not compress.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// One hour from now, in Unix milliseconds.
pub fn in_an_hour_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    now.as_millis() as i64 + 3_600_000
}

/// The library every populated dataset holds.
pub const LIBRARY: &str = "#!lua name=rdbtestlib\nredis.register_function('rdbtestfn', function(keys, args) return 1 end)";

/// Fills a Redis started with `--enable-debug-command yes` with every type in every encoding
/// Redis 7.0 writes, in several databases, with expiries.
pub fn populate(c: &mut Conn) {
    populate_strings(c);
    populate_lists(c);
    populate_sets_and_zsets(c);
    populate_hashes(c);
    populate_streams(c);
    let at = in_an_hour_ms().to_string();
    for key in [
        "str:small",
        "list:small",
        "set:intset",
        "zset:big",
        "hash:big",
        "stream:small",
    ] {
        c.ok_str(&["PEXPIREAT", key, &at]);
    }
    c.ok_str(&["FUNCTION", "LOAD", LIBRARY]);
    for db in ["1", "5", "15"] {
        c.ok_str(&["SELECT", db]);
        c.ok_str(&["SET", &format!("db{db}:str"), db]);
        c.ok_str(&["RPUSH", &format!("db{db}:list"), "a", "b", db]);
        c.ok_str(&["ZADD", &format!("db{db}:zset"), "1", "x", "2", "y"]);
        c.ok_str(&["PEXPIREAT", &format!("db{db}:str"), &at]);
    }
    c.ok_str(&["SELECT", "0"]);
}

fn populate_strings(c: &mut Conn) {
    c.ok_str(&["SET", "str:small", "hello"]);
    c.ok_str(&["SET", "str:empty", ""]);
    for v in [
        "0",
        "-1",
        "127",
        "-128",
        "128",
        "-129",
        "32767",
        "-32768",
        "32768",
        "2147483647",
        "-2147483648",
        "2147483648",
        "-2147483649",
        "9223372036854775807",
        "-9223372036854775808",
        "007",
        "-0",
        "1.5",
        "12345678901234567890",
    ] {
        c.ok_str(&["SET", &format!("str:int:{v}"), v]);
    }
    c.ok_str(&["SET", "str:lzf", &"abcdefgh".repeat(200)]);
    c.ok(&[b"SET", b"str:noise", &noise(3000, 7)]);
    c.ok(&[b"SET", b"str:binary", b"\x00\x01\xff\r\n\x00"]);
    c.ok(&[
        b"SET",
        b"str:huge",
        &[b"0123456789".repeat(20_000), noise(1000, 3)].concat(),
    ]);
    c.ok_str(&["APPEND", "str:raw", "appended"]);
}

fn populate_lists(c: &mut Conn) {
    c.ok_str(&[
        "RPUSH",
        "list:small",
        "a",
        "b",
        "1",
        "-3",
        "70000",
        "9223372036854775807",
    ]);
    let many: Vec<String> = (0..3000).map(|i| format!("item-{i}")).collect();
    let mut args: Vec<&str> = vec!["RPUSH", "list:big"];
    args.extend(many.iter().map(String::as_str));
    c.ok_str(&args);
    let wide = "w".repeat(20_000);
    c.ok_str(&["RPUSH", "list:wide", "x", &wide, "y"]);
    // Plain nodes: lower the packed threshold for a moment (Redis uses them from 1 GiB).
    c.ok_str(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]);
    let plain = "p".repeat(500);
    c.ok_str(&["RPUSH", "list:plain", "before", &plain, "after"]);
    c.ok_str(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1073741824"]);
}

fn populate_sets_and_zsets(c: &mut Conn) {
    c.ok_str(&["SADD", "set:intset", "1", "2", "3", "-5", "32767"]);
    c.ok_str(&[
        "SADD",
        "set:intset64",
        "1",
        "9223372036854775807",
        "-9223372036854775808",
    ]);
    c.ok_str(&["SADD", "set:plain", "a", "b", "c", "12"]);
    let ints: Vec<String> = (0..600).map(|i| (i * 7).to_string()).collect();
    let mut args: Vec<&str> = vec!["SADD", "set:bigints"];
    args.extend(ints.iter().map(String::as_str));
    c.ok_str(&args);
    c.ok_str(&[
        "ZADD",
        "zset:small",
        "1",
        "a",
        "2.5",
        "b",
        "-inf",
        "c",
        "inf",
        "d",
        "0",
        "e",
        "-3",
        "12",
    ]);
    let mut zadd = vec!["ZADD".to_string(), "zset:big".to_string()];
    for i in 0..300 {
        zadd.push(format!("{}", f64::from(i) / 3.0));
        zadd.push(format!("member-{i}"));
    }
    let args: Vec<&str> = zadd.iter().map(String::as_str).collect();
    c.ok_str(&args);
    c.ok_str(&["ZADD", "zset:long", "1", &"m".repeat(100), "2", "short"]);
}

fn populate_hashes(c: &mut Conn) {
    c.ok_str(&["HSET", "hash:small", "f", "v", "n", "1", "neg", "-70000"]);
    let mut hset = vec!["HSET".to_string(), "hash:big".to_string()];
    for i in 0..300 {
        hset.push(format!("field-{i}"));
        hset.push(format!("{}", i * 1000));
    }
    let args: Vec<&str> = hset.iter().map(String::as_str).collect();
    c.ok_str(&args);
    c.ok_str(&["HSET", "hash:long", "f", &"v".repeat(100)]);
    c.ok(&[b"HSET", b"hash:noise", b"f", &noise(200, 11)]);
}

fn populate_streams(c: &mut Conn) {
    c.ok_str(&["XADD", "stream:small", "1-1", "f", "v"]);
    c.ok_str(&["XADD", "stream:small", "1-2", "f", "w"]);
    c.ok_str(&["XADD", "stream:small", "2-0", "g", "x", "h", "12"]);
    c.ok_str(&["XADD", "stream:small", "3-0", "f", "y"]);
    c.ok_str(&["XDEL", "stream:small", "1-2"]);
    c.ok_str(&["XGROUP", "CREATE", "stream:small", "g1", "0"]);
    c.ok_str(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "alice",
        "COUNT",
        "2",
        "STREAMS",
        "stream:small",
        ">",
    ]);
    c.ok_str(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "bob",
        "COUNT",
        "1",
        "STREAMS",
        "stream:small",
        ">",
    ]);
    c.ok_str(&["XACK", "stream:small", "g1", "1-1"]);
    c.ok_str(&["XGROUP", "CREATE", "stream:small", "g2", "$"]);
    c.ok_str(&["XGROUP", "CREATECONSUMER", "stream:small", "g2", "carol"]);
    for i in 0..450 {
        c.ok_str(&[
            "XADD",
            "stream:big",
            "*",
            "n",
            &i.to_string(),
            "payload",
            &"z".repeat(i % 50),
        ]);
    }
    c.ok_str(&["XTRIM", "stream:big", "MAXLEN", "400"]);
    c.ok_str(&["XADD", "stream:empty", "5-5", "f", "v"]);
    c.ok_str(&["XDEL", "stream:empty", "5-5"]);
}
