//! CONFIG GET, SET, RESETSTAT, REWRITE, HELP.
//!
//! CONFIG SET is atomic, as in Redis: every name is checked first (unknown, immutable,
//! protected, denied while loading, duplicate), then every value is parsed onto a copy of the
//! configuration, then the settings that need an action take effect (working directory, log
//! level, open-files limit, ...). If any step fails, the actions already taken are redone with
//! the old values and the copy is dropped; otherwise the copy is published with
//! [`Server::set_config`], so every connection sees all the new values at once.

use rudis_resp::Argv;

use super::util::{reply_help, text};
use crate::command::error::{CmdError, SYNTAX};
use crate::command::spec::{flag, CommandSpec};
use crate::command::{CmdResult, Ctx};
use crate::config::table::DIRECTIVES;
use crate::config::{flags, lookup, Config, Directive, Kind};
use crate::server::client::Client;
use crate::server::log::{self, Verbosity};
use crate::server::Server;
use crate::util::glob;

const ADMIN: u64 = flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::NO_KEYSPACE;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("config", -2, container)
    .subcommands(&[
        CommandSpec::new("get", -3, config_get).flags(ADMIN).doc(
            "server",
            "Get the values of configuration parameters",
            "2.0.0",
            "O(N) when N is the number of configuration parameters provided",
        ),
        CommandSpec::new("set", -4, config_set)
            .flags(ADMIN)
            .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
            .doc(
                "server",
                "Set configuration parameters to the given values",
                "2.0.0",
                "O(N) when N is the number of configuration parameters provided",
            ),
        CommandSpec::new("resetstat", 2, config_resetstat)
            .flags(ADMIN)
            .doc(
                "server",
                "Reset the stats returned by INFO",
                "2.0.0",
                "O(1)",
            ),
        CommandSpec::new("rewrite", 2, config_rewrite)
            .flags(ADMIN)
            .doc(
                "server",
                "Rewrite the configuration file with the in memory configuration",
                "2.8.0",
                "O(1)",
            ),
        CommandSpec::new("help", 2, config_help)
            .flags(flag::LOADING | flag::STALE | flag::NO_KEYSPACE)
            .doc(
                "server",
                "Show helpful text about the different subcommands",
                "5.0.0",
                "O(1)",
            ),
    ])
    .flags(flag::NO_KEYSPACE)
    .doc(
        "server",
        "A container for server configuration commands",
        "2.0.0",
        "Depends on subcommand.",
    )];

/// The container itself never runs: the gate resolves a subcommand or rejects the arity.
fn container(_ctx: &mut Ctx, argv: Argv) -> CmdResult {
    Err(super::util::subcommand_syntax_error(argv))
}

/// CONFIG HELP
fn config_help(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    reply_help(
        ctx.reply,
        argv.get(0),
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

// ---- CONFIG GET ----------------------------------------------------------------------------

/// CONFIG GET parameter [parameter ...]
///
/// A name without glob characters is looked up exactly (name or alias, any case) and
/// reported as typed; a pattern matches names and aliases separately, skipping hidden
/// directives. Each name is reported once, compared without case.
fn config_get(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let mut found: Vec<(String, &'static Directive)> = Vec::new();
    let seen = |found: &[(String, &Directive)], name: &str| {
        found.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    for pattern in argv.iter().skip(2) {
        if !pattern.iter().any(|c| matches!(c, b'[' | b'*' | b'?')) {
            let name = text(pattern);
            if let Some(d) = lookup(&name).filter(|_| !seen(&found, &name)) {
                found.push((name, d));
            }
            continue;
        }
        for d in DIRECTIVES.iter().filter(|d| !d.has(flags::HIDDEN)) {
            for key in std::iter::once(d.name).chain(d.alias) {
                if !seen(&found, key) && glob::matches(pattern, key.as_bytes(), true) {
                    found.push((key.to_string(), d));
                }
            }
        }
    }
    let cfg = ctx.srv.cfg();
    ctx.reply.map(found.len());
    for (name, d) in &found {
        ctx.reply.bulk(name.as_bytes());
        ctx.reply.bulk((d.get)(&cfg).as_bytes());
    }
    Ok(())
}

// ---- CONFIG SET ----------------------------------------------------------------------------

/// `ERR CONFIG SET failed (possibly related to argument '<name>') - <reason>`
fn set_failed(name: &str, reason: &str) -> CmdError {
    crate::err!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
}

/// CONFIG SET parameter value [parameter value ...]
fn config_set(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    if !argv.len().is_multiple_of(2) {
        return Err(SYNTAX);
    }
    let pairs: Vec<(String, String)> = argv
        .iter()
        .skip(2)
        .step_by(2)
        .zip(argv.iter().skip(3).step_by(2))
        .map(|(n, v)| (text(n), text(v)))
        .collect();
    let srv = ctx.srv;
    redact_sensitive(ctx.client, &pairs);
    let chosen = check_names(srv, ctx.client, &pairs)?;
    let _serialized = srv.config_lock.lock();
    let old = Config::clone(&srv.cfg());
    let mut next = old.clone();
    for ((_, value), (d, name)) in pairs.iter().zip(&chosen) {
        set_value(&mut next, d, value).map_err(|e| set_failed(name, &e))?;
    }
    apply_all(srv, &chosen, &old, &mut next)?;
    srv.set_config(next);
    if chosen.iter().any(|(d, _)| d.name == "requirepass") {
        srv.acl
            .set_requirepass(&srv.commands, &srv.cfg().requirepass.clone());
    }
    // Inside EXEC the keyspace is held: a barrier cannot be taken there.
    after_publish(srv, &chosen, !ctx.client.deny_blocking);
    crate::evict::sync_settings(srv);
    if chosen.iter().any(|(d, _)| d.name == "maxmemory") {
        let limit_bytes = srv.cfg().maxmemory;
        let used_bytes = crate::evict::used_memory_bytes();
        if limit_bytes > 0 && used_bytes > limit_bytes as u64 {
            tracing::warn!("WARNING: the new maxmemory value set via CONFIG SET ({limit_bytes}) is smaller than the current memory usage ({used_bytes}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.");
        }
        crate::evict::make_room(srv, ctx.txn);
    }
    ctx.reply.ok();
    Ok(())
}

/// Keeps the values of sensitive directives (passwords) out of the slow log, even when the
/// command fails.
fn redact_sensitive(client: &mut Client, pairs: &[(String, String)]) {
    for (i, (name, _)) in pairs.iter().enumerate() {
        if lookup(name).is_some_and(|d| d.has(flags::SENSITIVE)) {
            client.redacted_args.push(3 + 2 * i);
        }
    }
}

/// Resolves every name, in order; the first problem is the error. Returns each directive
/// with the name it was given by (its canonical name, or its alias if the alias was used).
fn check_names(
    srv: &Server,
    client: &Client,
    pairs: &[(String, String)],
) -> Result<Vec<(&'static Directive, &'static str)>, CmdError> {
    let cfg = srv.cfg();
    let mut chosen: Vec<(&'static Directive, &'static str)> = Vec::new();
    for (name, _) in pairs {
        let Some(d) = lookup(name) else {
            return Err(crate::err!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ));
        };
        if d.has(flags::IMMUTABLE) {
            return Err(set_failed(name, "can't set immutable config"));
        }
        if d.has(flags::PROTECTED) && !protected_allowed(&cfg, client) {
            return Err(set_failed(name, "can't set protected config"));
        }
        let loading =
            |f: &std::sync::atomic::AtomicBool| f.load(std::sync::atomic::Ordering::Relaxed);
        if d.has(flags::DENY_LOADING)
            && (loading(&srv.state.loading) || loading(&srv.state.async_loading))
        {
            return Err("LOADING Redis is loading the dataset in memory".into());
        }
        let given = match d.alias {
            Some(alias) if alias.eq_ignore_ascii_case(name) => alias,
            _ => d.name,
        };
        // As in Redis, a name and its alias count as different parameters.
        if chosen
            .iter()
            .any(|&(c, g)| std::ptr::eq(c, d) && g == given)
        {
            return Err(set_failed(name, "duplicate parameter"));
        }
        chosen.push((d, given));
    }
    Ok(chosen)
}

/// `enable-protected-configs`: `yes`, or `local` for a loopback client.
fn protected_allowed(cfg: &Config, client: &Client) -> bool {
    match cfg.enable_protected_configs.as_str() {
        "yes" => true,
        "local" => client.is_local,
        _ => false,
    }
}

/// Parses `value` onto `cfg`. A multi-argument value is split on single spaces, as Redis
/// does for CONFIG SET (an empty value is no arguments).
fn set_value(cfg: &mut Config, d: &Directive, value: &str) -> Result<(), String> {
    if !d.has(flags::MULTI_ARG) {
        (d.set)(cfg, &[value])?;
        return validate(cfg, d.name);
    }
    let args: Vec<&str> = match (value.is_empty(), d.kind) {
        // An empty enum value is an invalid word, not "no words".
        (true, Kind::Enum(_)) => vec![""],
        (true, _) => Vec::new(),
        (false, _) => value.split(' ').collect(),
    };
    if d.name == "client-output-buffer-limit" {
        // Classes not named keep their limits.
        if !args.is_empty() {
            cfg.client_output_buffer_limit.update(&args)?;
        }
        return Ok(());
    }
    (d.set)(cfg, &args)?;
    validate(cfg, d.name)
}

/// Checks Redis makes beyond a value's syntax.
fn validate(cfg: &Config, name: &str) -> Result<(), String> {
    let is_path = |s: &str| s.contains('/') || s.contains('\\');
    match name {
        "dbfilename" if is_path(&cfg.dbfilename) => {
            Err("dbfilename can't be a path, just a filename".into())
        }
        "shutdown-on-sigint" | "shutdown-on-sigterm" => {
            let value = if name == "shutdown-on-sigint" {
                &cfg.shutdown_on_sigint
            } else {
                &cfg.shutdown_on_sigterm
            };
            let words: Vec<&str> = value.split(' ').collect();
            if words.contains(&"save") && words.contains(&"nosave") {
                return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
            }
            Ok(())
        }
        "cluster-announce-hostname" => validate_hostname(&cfg.cluster_announce_hostname),
        "proc-title-template" if !proc_title_template_ok(&cfg.proc_title_template) => {
            Err("template format is invalid or contains unknown variables".into())
        }
        _ => Ok(()),
    }
}

fn validate_hostname(host: &str) -> Result<(), String> {
    if host.len() >= 256 {
        return Err("Hostnames must be less than 256 characters".into());
    }
    if !host
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
    {
        return Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into());
    }
    Ok(())
}

/// A process title template: `{variable}`s Redis knows, `{{`/`}}` for braces, and something
/// left once the title is empty.
fn proc_title_template_ok(template: &str) -> bool {
    const VARIABLES: &[&str] = &[
        "title",
        "listen-addr",
        "server-mode",
        "port",
        "tls-port",
        "unixsocket",
        "config-file",
    ];
    let mut rest = template;
    let mut has_content = false;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("{{") || rest.starts_with("}}") {
            has_content = true;
            rest = &rest[2..];
        } else if c == '{' {
            let Some(end) = rest.find('}') else {
                return false;
            };
            let variable = &rest[1..end];
            if !VARIABLES.contains(&variable) {
                return false;
            }
            has_content |= variable != "title";
            rest = &rest[end + 1..];
        } else if c == '}' {
            return false;
        } else {
            has_content |= c != ' ';
            rest = &rest[c.len_utf8()..];
        }
    }
    has_content
}

/// Takes the actions the changed settings need, in order. If one fails, the ones already
/// taken are redone with the old values, and the error names the failing setting.
fn apply_all(
    srv: &Server,
    chosen: &[(&'static Directive, &'static str)],
    old: &Config,
    next: &mut Config,
) -> Result<(), CmdError> {
    for (i, (d, given)) in chosen.iter().enumerate() {
        if let Err(e) = apply(srv, d.name, next) {
            tracing::warn!("Failed applying new configuration. Possibly related to new {given} setting. Restoring previous settings.");
            let mut restored = old.clone();
            for (undo, _) in &chosen[..i] {
                let _ = apply(srv, undo.name, &mut restored);
            }
            return Err(set_failed(given, &e));
        }
    }
    Ok(())
}

/// The action a setting needs to take effect, beyond being published. May adjust `cfg`
/// (Redis caps `hz`).
fn apply(_srv: &Server, name: &str, cfg: &mut Config) -> Result<(), String> {
    match name {
        "loglevel" => log::set_verbosity(Verbosity::from_name(&cfg.loglevel)),
        "dir" => std::env::set_current_dir(&cfg.dir.0)
            .map_err(|e| crate::config::special::io_error_text(&e))?,
        // A hint: out-of-range values are accepted and capped.
        "hz" => cfg.hz = cfg.hz.clamp(1, 500),
        "maxclients" => raise_open_files_limit(cfg.maxclients)?,
        "jemalloc-bg-thread" => {
            let _ = tikv_jemalloc_ctl::background_thread::write(cfg.jemalloc_bg_thread);
        }
        _ => {}
    }
    Ok(())
}

/// Actions that must see the published configuration.
fn after_publish(
    srv: &Server,
    chosen: &[(&'static Directive, &'static str)],
    may_take_barrier: bool,
) {
    if chosen.iter().any(|(d, _)| d.name == "appendonly") {
        crate::persist::aof::rewrite::config_changed(srv, may_take_barrier);
    }
    if chosen.iter().any(|(d, _)| d.name == "aof-disable-auto-gc") {
        crate::persist::aof::collect_history(srv);
    }
    if chosen.iter().any(|(d, _)| d.name == "slowlog-max-len") {
        srv.slowlog.trim(srv.cfg().slowlog_max_len as usize);
    }
}

/// File descriptors kept beyond one per client (listeners, files, logs), as Redis keeps.
const RESERVED_FDS: libc::rlim_t = 32;

/// Makes sure the process may open a descriptor per client plus a reserve, raising the soft
/// limit up to the hard one if needed.
fn raise_open_files_limit(maxclients: i64) -> Result<(), String> {
    let wanted: libc::rlim_t = maxclients.max(0) as libc::rlim_t + RESERVED_FDS;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 || limit.rlim_cur >= wanted
    {
        return Ok(());
    }
    let raised = libc::rlimit {
        rlim_cur: limit.rlim_max.min(wanted),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit only reads the struct we pass.
    let reached = if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        raised.rlim_cur
    } else {
        limit.rlim_cur
    };
    if reached >= wanted {
        return Ok(());
    }
    Err(format!(
        "The operating system is not able to handle the specified number of clients, try with {}",
        reached.saturating_sub(RESERVED_FDS)
    ))
}

// ---- RESETSTAT, REWRITE --------------------------------------------------------------------

/// CONFIG RESETSTAT: zeroes the INFO counters, commandstats, errorstats and latency
/// histograms (not the slow log, and not the changes since the last save).
fn config_resetstat(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    ctx.srv.stats.reset();
    ctx.srv.replication.reset_stats();
    ctx.srv.keyspace.snapshots.reset_started();
    ctx.reply.ok();
    Ok(())
}

/// CONFIG REWRITE
fn config_rewrite(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    rewrite_config(ctx.srv, false)?;
    ctx.reply.ok();
    Ok(())
}

/// Rewrites the config file the server started with; `force_all` writes every directive
/// (DEBUG CONFIG-REWRITE-FORCE-ALL).
pub fn rewrite_config(srv: &Server, force_all: bool) -> CmdResult {
    let Some(path) = srv.config_file.as_deref() else {
        return Err("ERR The server is running without a config file".into());
    };
    let _serialized = srv.config_lock.lock();
    let cfg = srv.cfg();
    match crate::config::rewrite::rewrite_file(path, &cfg, force_all) {
        Ok(()) => {
            tracing::info!("CONFIG REWRITE executed with success.");
            Ok(())
        }
        Err(e) => {
            let reason = crate::config::special::io_error_text(&e);
            tracing::warn!("CONFIG REWRITE failed: {reason}");
            Err(crate::err!("ERR Rewriting config file: {reason}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directive(name: &str) -> &'static Directive {
        lookup(name).unwrap()
    }

    #[test]
    fn multi_arg_values_split_on_single_spaces() {
        let mut c = Config::default();
        set_value(&mut c, directive("save"), "100 10 5 5").unwrap();
        assert_eq!(c.save.0, vec![(100, 10), (5, 5)]);
        assert_eq!(
            set_value(&mut c, directive("save"), "100 10  5 5").unwrap_err(),
            "Invalid save parameters"
        );
        set_value(&mut c, directive("save"), "").unwrap();
        assert!(c.save.0.is_empty());
        assert!(set_value(&mut c, directive("shutdown-on-sigint"), "")
            .unwrap_err()
            .starts_with("argument(s) must be one of"));
        assert_eq!(
            set_value(&mut c, directive("oom-score-adj-values"), "").unwrap_err(),
            "wrong number of arguments"
        );
    }

    #[test]
    fn buffer_limits_merge_onto_current() {
        let mut c = Config::default();
        let d = directive("client-output-buffer-limit");
        set_value(&mut c, d, "pubsub 1mb 2mb 3").unwrap();
        set_value(&mut c, d, "normal 1 2 3").unwrap();
        set_value(&mut c, d, "").unwrap();
        assert_eq!(
            (d.get)(&c),
            "normal 1 2 3 slave 268435456 67108864 60 pubsub 1048576 2097152 3"
        );
    }

    #[test]
    fn extra_validations() {
        let mut c = Config::default();
        assert_eq!(
            set_value(&mut c, directive("dbfilename"), "a/b").unwrap_err(),
            "dbfilename can't be a path, just a filename"
        );
        assert!(set_value(&mut c, directive("shutdown-on-sigterm"), "save nosave").is_err());
        set_value(&mut c, directive("shutdown-on-sigterm"), "nosave now").unwrap();
        assert!(set_value(&mut c, directive("cluster-announce-hostname"), "a_b").is_err());
        assert!(proc_title_template_ok(
            "{title} {listen-addr} {server-mode}"
        ));
        assert!(proc_title_template_ok("x {{literal}}"));
        assert!(!proc_title_template_ok("{title}"));
        assert!(!proc_title_template_ok("{nope}"));
        assert!(!proc_title_template_ok("{title"));
    }

    #[test]
    fn sensitive_values_stay_out_of_the_slow_log() {
        use crate::command::table::CommandTable;
        use crate::server::client::ClientInfo;
        let cfg = Config {
            slowlog_log_slower_than: 0,
            ..Config::default()
        };
        let srv = Server::new(cfg, None, CommandTable::new(crate::cmd::all()));
        let info = std::sync::Arc::new(ClientInfo::new(1, "a:1".into(), "b:2".into(), -1, 0));
        let mut client = Client::new(info, None);
        client.authenticated = true;
        let mut reply = rudis_resp::ReplyBuf::new();
        for (args, ok) in [
            (
                &["CONFIG", "SET", "requirepass", "pw", "maxmemory", "1"][..],
                true,
            ),
            (&["CONFIG", "SET", "masterauth", "pw", "nosuch", "x"], false),
        ] {
            let mut base = Vec::new();
            let mut ranges = Vec::new();
            for a in args {
                ranges.push(base.len()..base.len() + a.len());
                base.extend_from_slice(a.as_bytes());
            }
            reply.clear();
            crate::command::dispatch::call(
                &srv,
                &mut client,
                &mut reply,
                Argv::new(&base, &ranges),
            );
            assert_eq!(reply.as_bytes() == b"+OK\r\n", ok);
            let logged = srv.slowlog.with_entries(|e| e[0].args.clone());
            assert_eq!(logged[3], b"(redacted)");
            assert_eq!(logged[5], args[5].as_bytes());
        }
        assert!(client.redacted_args.is_empty());
    }

    #[test]
    fn open_files_limit_reports_what_is_possible() {
        assert!(raise_open_files_limit(1).is_ok());
        let e = raise_open_files_limit(i64::from(u32::MAX)).unwrap_err();
        assert!(
            e.starts_with("The operating system is not able to handle"),
            "{e}"
        );
    }
}
