//! INFO and its sections.
//!
//! Each section is a function writing `field:value` lines from the server's state; the
//! table [`SECTIONS`] lists them in Redis's order with the names that select them. A
//! subsystem that grows new fields extends its section function (persistence, replication
//! and memory live in submodules). Subsystems not built yet still report every field Redis
//! reports, with the values of a fresh Redis, so tools that parse INFO find what they expect.
//!
//! Selection follows Redis 7.0: no argument means `default`; `all` adds `commandstats` and
//! `latencystats`; `everything` also adds module sections (there are none); several names
//! may be given, in any case; unknown names select nothing.

mod memory;
mod persistence;
mod stats;

use std::collections::HashSet;
use std::fmt::{Display, Write as _};
use std::sync::atomic::Ordering;

use rudis_resp::Argv;

use crate::command::spec::{acl, flag, CommandSpec};
use crate::command::{CmdResult, Ctx};
use crate::server::client::{cflag, ClientType};
use crate::server::{unix_ms, unix_us, Server};

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("info", -1, info)
    .flags(flag::LOADING | flag::STALE | flag::SENTINEL | flag::NO_KEYSPACE)
    .acl(acl::DANGEROUS)
    .tips(&[
        "nondeterministic_output",
        "request_policy:all_shards",
        "response_policy:special",
    ])
    .doc(
        "server",
        "Get information and statistics about the server",
        "1.0.0",
        "O(1)",
    )];

/// Writes one section's fields.
pub type WriteSection = fn(&Server, &mut String);

/// One INFO section.
pub struct Section {
    /// Names that select it (the first is its own).
    pub names: &'static [&'static str],
    /// Its `# Title` line.
    pub title: &'static str,
    /// Part of `default` (and of INFO without arguments).
    pub default: bool,
    pub write: WriteSection,
}

/// Every section, in the order INFO prints them.
pub static SECTIONS: &[Section] = &[
    section(&["server"], "Server", true, server),
    section(&["clients"], "Clients", true, clients),
    section(&["memory"], "Memory", true, memory::memory),
    section(
        &["persistence"],
        "Persistence",
        true,
        persistence::persistence,
    ),
    section(&["stats"], "Stats", true, stats::stats),
    section(
        &["replication"],
        "Replication",
        true,
        persistence::replication,
    ),
    section(&["cpu"], "CPU", true, cpu),
    section(&["modules", "module_list"], "Modules", true, |_, _| {}),
    section(
        &["commandstats"],
        "Commandstats",
        false,
        stats::commandstats,
    ),
    section(&["errorstats"], "Errorstats", true, stats::errorstats),
    section(
        &["latencystats"],
        "Latencystats",
        false,
        stats::latencystats,
    ),
    section(&["cluster"], "Cluster", true, cluster),
    section(&["keyspace"], "Keyspace", true, keyspace),
];

const fn section(
    names: &'static [&'static str],
    title: &'static str,
    default: bool,
    write: WriteSection,
) -> Section {
    Section {
        names,
        title,
        default,
        write,
    }
}

/// INFO [section [section ...]]
fn info(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let selection = Selection::parse(argv.iter().skip(1));
    let text = info_text(ctx.srv, &selection);
    ctx.reply.verbatim("txt", text.as_bytes());
    Ok(())
}

/// Which sections were asked for.
pub struct Selection {
    names: HashSet<String>,
    all: bool,
}

impl Selection {
    /// Reads INFO's arguments (no arguments: `default`).
    pub fn parse<'a>(args: impl ExactSizeIterator<Item = &'a [u8]>) -> Selection {
        let mut s = Selection {
            names: HashSet::new(),
            all: false,
        };
        if args.len() == 0 {
            s.add_defaults();
        }
        for arg in args {
            let name = String::from_utf8_lossy(arg).to_ascii_lowercase();
            match name.as_str() {
                "default" => s.add_defaults(),
                "all" | "everything" => s.all = true,
                _ => {
                    s.names.insert(name);
                }
            }
        }
        s
    }

    fn add_defaults(&mut self) {
        for section in SECTIONS.iter().filter(|s| s.default) {
            self.names.insert(section.names[0].to_string());
        }
    }

    fn wants(&self, section: &Section) -> bool {
        self.all || section.names.iter().any(|n| self.names.contains(*n))
    }
}

/// The INFO text for `selection`: the sections' titles and fields, a blank line between
/// sections.
pub fn info_text(srv: &Server, selection: &Selection) -> String {
    let mut out = String::with_capacity(4096);
    for section in SECTIONS.iter().filter(|s| selection.wants(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        out.push_str("# ");
        out.push_str(section.title);
        out.push_str("\r\n");
        (section.write)(srv, &mut out);
    }
    out
}

/// Writes `name:value\r\n`.
pub fn field(out: &mut String, name: &str, value: impl Display) {
    let _ = write!(out, "{name}:{value}\r\n");
}

/// A name made safe for an INFO line: `#`, `:`, CR and LF become `_`.
pub fn safe_name(name: &str) -> String {
    name.replace(['#', ':', '\r', '\n'], "_")
}

fn yes(b: bool) -> u8 {
    u8::from(b)
}

// ---- Server --------------------------------------------------------------------------------

/// `sysname release machine` of the running kernel.
fn os_name() -> String {
    // SAFETY: uname fills the struct we pass; its fields are NUL-terminated strings.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return String::new();
        }
        let field = |f: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(f.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        format!(
            "{} {} {}",
            field(&u.sysname),
            field(&u.release),
            field(&u.machine)
        )
    }
}

/// Redis's LRU clock: seconds, on 24 bits.
fn lru_clock() -> i64 {
    (unix_ms() / 1000) & ((1 << 24) - 1)
}

fn server(srv: &Server, out: &mut String) {
    let cfg = srv.cfg();
    let uptime_s = srv.started.elapsed().as_secs();
    let executable = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mode = if cfg.cluster_enabled {
        "cluster"
    } else {
        "standalone"
    };
    field(out, "redis_version", crate::REDIS_VERSION);
    field(out, "redis_git_sha1", "00000000");
    field(out, "redis_git_dirty", 0);
    field(out, "redis_build_id", "0");
    field(out, "redis_mode", mode);
    field(out, "os", os_name());
    field(out, "arch_bits", usize::BITS);
    field(out, "monotonic_clock", "POSIX clock_gettime");
    field(out, "multiplexing_api", "epoll");
    field(out, "atomicvar_api", "c11-builtin");
    // Not built by gcc; Redis prints zeros then too.
    field(out, "gcc_version", "0.0.0");
    field(out, "process_id", std::process::id());
    field(out, "process_supervised", "no");
    field(out, "run_id", &srv.run_id);
    field(out, "tcp_port", srv.tcp_port.load(Ordering::Relaxed));
    field(out, "server_time_usec", unix_us());
    field(out, "uptime_in_seconds", uptime_s);
    field(out, "uptime_in_days", uptime_s / (24 * 3600));
    field(out, "hz", cfg.hz);
    field(out, "configured_hz", cfg.hz);
    field(out, "lru_clock", lru_clock());
    field(out, "executable", executable);
    field(out, "config_file", srv.config_file.as_deref().unwrap_or(""));
    field(out, "io_threads_active", 0);
    field(out, "rudis_version", crate::RUDIS_VERSION);
}

// ---- Clients -------------------------------------------------------------------------------

fn clients(srv: &Server, out: &mut String) {
    let all = srv.clients.snapshot();
    let replicas = all
        .iter()
        .filter(|c| c.client_type() == ClientType::Replica)
        .count();
    let blocked = all.iter().filter(|c| c.has_flag(cflag::BLOCKED)).count();
    let max_input = all
        .iter()
        .map(|c| c.query_buf_bytes.load(Ordering::Relaxed))
        .max();
    let max_output = all.iter().map(|c| c.pending_output_bytes()).max();
    field(out, "connected_clients", all.len() - replicas);
    field(out, "cluster_connections", 0);
    field(out, "maxclients", srv.cfg().maxclients);
    field(
        out,
        "client_recent_max_input_buffer",
        max_input.unwrap_or(0),
    );
    field(
        out,
        "client_recent_max_output_buffer",
        max_output.unwrap_or(0),
    );
    field(out, "blocked_clients", blocked);
    field(out, "tracking_clients", 0);
    field(out, "clients_in_timeout_table", 0);
}

// ---- CPU -----------------------------------------------------------------------------------

/// `seconds.microseconds` of a rusage time.
fn cpu_time(t: libc::timeval) -> String {
    format!("{}.{:06}", t.tv_sec, t.tv_usec)
}

fn rusage(who: libc::c_int) -> libc::rusage {
    // SAFETY: getrusage fills the struct we pass.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut ru);
        ru
    }
}

fn cpu(_srv: &Server, out: &mut String) {
    let me = rusage(libc::RUSAGE_SELF);
    let children = rusage(libc::RUSAGE_CHILDREN);
    // The thread serving this INFO stands in for Redis's main thread.
    let thread = rusage(libc::RUSAGE_THREAD);
    field(out, "used_cpu_sys", cpu_time(me.ru_stime));
    field(out, "used_cpu_user", cpu_time(me.ru_utime));
    field(out, "used_cpu_sys_children", cpu_time(children.ru_stime));
    field(out, "used_cpu_user_children", cpu_time(children.ru_utime));
    field(out, "used_cpu_sys_main_thread", cpu_time(thread.ru_stime));
    field(out, "used_cpu_user_main_thread", cpu_time(thread.ru_utime));
}

// ---- Cluster, Keyspace ---------------------------------------------------------------------

fn cluster(srv: &Server, out: &mut String) {
    field(out, "cluster_enabled", yes(srv.cfg().cluster_enabled));
}

fn keyspace(srv: &Server, out: &mut String) {
    for (i, db) in srv.keyspace.dbs().iter().enumerate() {
        let (keys, expires) = (db.key_count(), db.volatile_count());
        if keys != 0 || expires != 0 {
            let avg_ttl = db.avg_ttl_ms.load(Ordering::Relaxed);
            let _ = write!(
                out,
                "db{i}:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selected(args: &[&str]) -> Vec<&'static str> {
        let s = Selection::parse(args.iter().map(|a| a.as_bytes()));
        SECTIONS
            .iter()
            .filter(|x| s.wants(x))
            .map(|x| x.names[0])
            .collect()
    }

    #[test]
    fn selection_follows_redis() {
        let default = [
            "server",
            "clients",
            "memory",
            "persistence",
            "stats",
            "replication",
            "cpu",
            "modules",
            "errorstats",
            "cluster",
            "keyspace",
        ];
        assert_eq!(selected(&[]), default);
        assert_eq!(selected(&["default"]), default);
        assert_eq!(selected(&["all"]).len(), SECTIONS.len());
        assert_eq!(selected(&["EVERYTHING"]).len(), SECTIONS.len());
        assert_eq!(selected(&["CPU", "server", "cpu"]), ["server", "cpu"]);
        assert_eq!(selected(&["module_list"]), ["modules"]);
        assert_eq!(
            selected(&["default", "commandstats"]).len(),
            default.len() + 1
        );
        assert!(selected(&["nosuch"]).is_empty());
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(safe_name("config|get"), "config|get");
        assert_eq!(safe_name("a:b#c\r\n"), "a_b_c__");
    }
}
