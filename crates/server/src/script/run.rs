//! Running one script or function: the checks Redis makes before it starts, the run context
//! `redis.call` works in (a client of its own, the caller's locked keyspace, the flags), the
//! checks before each command it calls, and the conversion of the outcome into the caller's
//! reply with Redis's error format (`... script: <name>, on @user_script:<line>.`).
//!
//! Commands run through the command table against the caller's transaction, which holds the
//! keyspace exclusively: the script is atomic. Their effects accumulate in the transaction
//! and leave together, wrapped in MULTI/EXEC when there are several.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use mlua::{Function, Lua, MultiValue, Value};
use rudis_resp::{Argv, ReplyBuf};

use super::convert::{error_line, error_text, field_table, number_arg, resp_to_lua, LuaToResp};
use super::shebang;
use super::vm::{Vm, KILLED};
use super::Scripting;
use crate::command::dispatch;
use crate::command::spec::flag;
use crate::command::{CmdError, CmdResult, Ctx};
use crate::keyspace::txn::Txn;
use crate::server::client::{Client, ClientInfo};
use crate::server::Server;

/// What to run and how.
pub struct RunSpec<'a> {
    pub func: Function,
    /// The SHA1 of an EVAL script, or the function's name (for errors and FUNCTION STATS).
    pub name: String,
    pub flags: u32,
    /// Called as EVAL_RO, EVALSHA_RO or FCALL_RO.
    pub read_only: bool,
    pub is_eval: bool,
    pub keys: Vec<&'a [u8]>,
    pub args: Vec<&'a [u8]>,
}

/// The state `redis.call` works with during one run.
struct RunCtx<'a, 't> {
    srv: &'a Server,
    txn: &'a mut Txn<'t>,
    client: Client,
    reply: ReplyBuf,
    /// Writes are refused (a read-only command or a `no-writes` script).
    read_only: bool,
    flags: u32,
    /// Propagation targets left to commands (`redis.set_repl`).
    repl_targets: u8,
    /// A write command ran: the script can no longer be killed.
    wrote: bool,
    /// Memory was over `maxmemory` when the script started.
    oom: bool,
    scripting: &'a Scripting,
}

/// True if used memory is over `maxmemory` (checked once, when a script starts, after the
/// gate evicted what the policy allows).
fn over_maxmemory(srv: &Server) -> bool {
    let maxmemory = srv.cfg().maxmemory;
    maxmemory > 0 && crate::evict::used_memory_bytes() > maxmemory as u64
}

/// Checks made before a script with flags (a shebang or a function) may start.
fn prepare(srv: &Server, client: &Client, spec: &RunSpec, oom: bool) -> Result<(), CmdError> {
    if spec.flags & shebang::EVAL_COMPAT != 0 {
        return Ok(());
    }
    if spec.flags & shebang::NO_WRITES == 0 {
        let cfg = srv.cfg();
        if srv.state.replica.load(Ordering::Relaxed) && cfg.replica_read_only && !client.must_obey()
        {
            return Err("READONLY Can not run script with write flag on readonly replica".into());
        }
        if dispatch::writes_refused_by_disk_error(srv) && !client.must_obey() {
            return Err("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.".into());
        }
        if spec.read_only {
            return Err("ERR Can not execute a script with write flag using *_ro command.".into());
        }
        if !client.is_master {
            crate::replication::check_write_allowed(srv)?;
        }
    }
    let allows_oom = spec.flags & (shebang::ALLOW_OOM | shebang::NO_WRITES) != 0;
    if oom && !allows_oom && !client.must_obey() {
        // Redis refuses the call at its gate here (the script's flags make it deny-oom).
        return Err("OOM command not allowed when used memory > 'maxmemory'.".into());
    }
    Ok(())
}

/// Feeds MONITOR the script command itself, before the commands it runs (the command is
/// flagged `skip-monitor`, so the gate does not).
pub fn feed_monitors(ctx: &Ctx, argv: Argv) {
    let srv = ctx.srv;
    if srv.monitors.is_active() && !srv.state.loading.load(Ordering::Relaxed) {
        srv.monitors
            .feed(ctx.client.db, &ctx.client.info.addr, argv.iter());
    }
}

/// Runs `spec` for the caller in `ctx`, replying into its reply buffer.
pub fn run(vm: &Vm, scripting: &Scripting, ctx: &mut Ctx, spec: RunSpec) -> CmdResult {
    let oom = over_maxmemory(ctx.srv);
    prepare(ctx.srv, ctx.client, &spec, oom)?;
    let lua = &vm.lua;
    let keys = byte_table(lua, &spec.keys).map_err(lua_failure)?;
    let args = byte_table(lua, &spec.args).map_err(lua_failure)?;
    if spec.is_eval {
        vm.set_global("KEYS", Value::Table(keys.clone()))
            .map_err(lua_failure)?;
        vm.set_global("ARGV", Value::Table(args.clone()))
            .map_err(lua_failure)?;
    }
    let mut client = Client::new(scripting.client_info.clone(), None);
    client.authenticated = true;
    client.db = ctx.client.db;
    client.deny_blocking = true;
    client.is_script = true;
    client.is_master = ctx.client.is_master;
    client.is_aof_loader = ctx.client.is_aof_loader;
    client.user = ctx.client.user.clone();
    let read_only = spec.read_only || spec.flags & shebang::NO_WRITES != 0;
    client.info.resp.store(2, Ordering::Relaxed);
    let run = RefCell::new(RunCtx {
        srv: ctx.srv,
        txn: ctx.txn,
        client,
        reply: ReplyBuf::new(),
        read_only,
        flags: spec.flags,
        repl_targets: crate::propagate::target::ALL,
        wrote: false,
        oom,
        scripting,
    });
    scripting.begin(&spec, ctx.client.is_master);
    vm.watch_slow(&spec.name, spec.is_eval, ctx.srv.cfg().busy_reply_threshold);
    let outcome = execute(vm, &run, &spec, keys, args, ctx.reply);
    scripting.end();
    if scripting.was_killed() {
        let _ = vm.install_hook(false);
    }
    let _ = super::api::install_idle(lua, &vm.bridge);
    // A little garbage collection after each run keeps the heap flat without full cycles.
    let _ = lua.gc_step();
    let run = run.into_inner();
    let fx = &mut run.txn.effects;
    // The script's commands propagate, not the script.
    fx.rewritten = true;
    fx.wrap_multi = true;
    // As in Redis, the script fails when its reply is an error; an error a command
    // returned was counted in the error statistics already, and is not counted again.
    let stats = &ctx.srv.stats;
    match outcome {
        Ok(Returned::Value) => Ok(()),
        Ok(Returned::Error { code, counted }) => {
            if !counted {
                stats.count_error(&code);
            }
            stats.command_failed(ctx.cmd.id);
            Ok(())
        }
        Err(Failure::Counted(text)) => Err(CmdError::from(text)),
        Err(Failure::AlreadyCounted(text)) => {
            ctx.reply.error(&text);
            stats.command_failed(ctx.cmd.id);
            Ok(())
        }
    }
}

/// What a script that ran to its end returned.
enum Returned {
    Value,
    /// An error table (written as an error reply): its code, and whether the error
    /// statistics saw it already (a command's error passed on).
    Error {
        code: String,
        counted: bool,
    },
}

/// The error a returned value stands for, if it is an error table.
fn returned_error(v: &Value) -> Returned {
    let Value::Table(t) = v else {
        return Returned::Value;
    };
    let Ok(Value::String(e)) = t.raw_get::<Value>("err") else {
        return Returned::Value;
    };
    let text = e.to_string_lossy();
    let code = text.split(' ').next().unwrap_or("ERR").to_string();
    let counted = matches!(
        t.raw_get::<Value>("ignore_error_stats_update"),
        Ok(Value::Boolean(true))
    );
    Returned::Error { code, counted }
}

/// How a run failed: the final error text, and whether error statistics already saw it.
enum Failure {
    Counted(String),
    AlreadyCounted(String),
}

fn lua_failure(e: mlua::Error) -> CmdError {
    CmdError::from(format!("ERR {}", super::vm::lua_error_text(&e)))
}

fn byte_table(lua: &Lua, items: &[&[u8]]) -> mlua::Result<mlua::Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(item)?)?;
    }
    Ok(t)
}

fn execute(
    vm: &Vm,
    run: &RefCell<RunCtx>,
    spec: &RunSpec,
    keys: mlua::Table,
    args: mlua::Table,
    out: &mut ReplyBuf,
) -> Result<Returned, Failure> {
    let lua = &vm.lua;
    let result = lua.scope(|scope| {
        let call = scope.create_function(|lua, (argv, argc): (mlua::Table, i64)| {
            run.borrow_mut().call(lua, &argv, argc)
        })?;
        let setresp = scope.create_function(|_, v: f64| {
            run.borrow_mut().set_resp3(v as i64 == 3);
            Ok(())
        })?;
        let set_repl = scope.create_function(|_, v: f64| {
            run.borrow_mut().repl_targets = v as u8;
            Ok(())
        })?;
        lua.set_named_registry_value(super::api::CALL, call)?;
        lua.set_named_registry_value(super::api::SETRESP, setresp)?;
        lua.set_named_registry_value(super::api::SET_REPL, set_repl)?;
        let runner: Function = vm.bridge.raw_get("run")?;
        let pass = if spec.is_eval {
            MultiValue::from_vec(vec![Value::Function(spec.func.clone())])
        } else {
            MultiValue::from_vec(vec![
                Value::Function(spec.func.clone()),
                Value::Table(keys),
                Value::Table(args),
            ])
        };
        let (ok, value): (bool, Value) = runner.call(pass)?;
        let resp3 = run.borrow().reply.is_resp3();
        if ok {
            LuaToResp {
                script_resp3: resp3,
            }
            .write(out, &value, 0);
            return Ok(Ok(returned_error(&value)));
        }
        Ok(Err(failure_text(&value, &spec.name)))
    });
    match result {
        Ok(r) => r,
        Err(e) => Err(Failure::Counted(format!(
            "ERR Error running script {}, {}",
            spec.name,
            super::vm::lua_error_text(&e)
        ))),
    }
}

/// The final error of a failed run, from the error handler's table.
fn failure_text(v: &Value, name: &str) -> Failure {
    let Value::Table(t) = v else {
        return Failure::Counted(format!(
            "ERR Error running script {name}, execution failure"
        ));
    };
    let msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => error_line(&s.as_bytes()),
        _ => "ERR execution failure".to_string(),
    };
    let source = t.raw_get::<Value>("source");
    let line = t.raw_get::<Value>("line");
    let mut text = msg;
    if let (Ok(Value::String(src)), Ok(line)) = (source, line) {
        let line = match line {
            Value::Integer(n) => Some(n.to_string()),
            Value::Number(n) => Some((n as i64).to_string()),
            Value::String(s) => Some(s.to_string_lossy()),
            _ => None,
        };
        if let Some(line) = line {
            text = format!(
                "{text} script: {name}, on {}:{line}.",
                src.to_string_lossy()
            );
        }
    }
    let already = matches!(
        t.raw_get::<Value>("ignore_error_stats_update"),
        Ok(Value::Boolean(true))
    );
    if already {
        Failure::AlreadyCounted(text)
    } else {
        Failure::Counted(text)
    }
}

impl RunCtx<'_, '_> {
    /// `redis.setresp`: the protocol the script's commands reply in.
    fn set_resp3(&mut self, on: bool) {
        self.reply.set_resp3(on);
        let resp = if on { 3 } else { 2 };
        self.client.info.resp.store(resp, Ordering::Relaxed);
    }

    /// `redis.call` / `redis.pcall`: returns the reply as a Lua value, and whether it is an
    /// error (which `redis.call` raises).
    fn call(&mut self, lua: &Lua, argv: &mlua::Table, argc: i64) -> mlua::Result<(Value, bool)> {
        let args = match lua_args(argv, argc) {
            Ok(a) => a,
            Err(msg) => return Ok((super::api::raise(lua, msg)?, true)),
        };
        let ranges = ranges_of(&args);
        let base: Vec<u8> = args.concat();
        let argv = Argv::new(&base, &ranges);
        if let Err(msg) = self.check(argv) {
            let t = super::api::raise(lua, &msg)?;
            if let Value::Table(t) = &t {
                t.raw_set("ignore_error_stats_update", true)?;
            }
            return Ok((t, true));
        }
        let entry = dispatch::script_lookup(self.srv, argv).expect("checked");
        if entry.spec.has(flag::WRITE) {
            self.wrote = true;
            self.scripting.note_write();
        }
        self.reply.clear();
        let propagated_before = self.txn.effects.propagate.len();
        dispatch::run_for_script(
            self.srv,
            &mut self.client,
            &mut self.reply,
            self.txn,
            entry,
            argv,
        );
        self.apply_repl_targets(propagated_before);
        self.reply_to_lua(lua)
    }

    fn reply_to_lua(&mut self, lua: &Lua) -> mlua::Result<(Value, bool)> {
        let parsed = rudis_resp::Value::parse(self.reply.as_bytes());
        let value = match parsed {
            Ok(Some((v, _))) => v,
            _ => rudis_resp::Value::Nil,
        };
        self.reply.clear();
        if let rudis_resp::Value::Error(e) = &value {
            let text = error_text(&format!("-{}", String::from_utf8_lossy(e)));
            let t = field_table(lua, "err", Value::String(lua.create_string(text)?))?;
            if let Value::Table(t) = &t {
                t.raw_set("ignore_error_stats_update", true)?;
            }
            return Ok((t, true));
        }
        let resp3 = self.reply.is_resp3();
        Ok((resp_to_lua(lua, &value, resp3, 0)?, false))
    }

    /// `redis.set_repl`: keeps only the chosen targets of what the last command propagated.
    fn apply_repl_targets(&mut self, from: usize) {
        let targets = self.repl_targets;
        if targets == crate::propagate::target::ALL {
            return;
        }
        let fx = &mut self.txn.effects.propagate;
        let mut i = from;
        while i < fx.len() {
            fx[i].targets &= targets;
            if fx[i].targets == 0 {
                fx.remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Redis's checks before a script's command runs. A rejected command counts as such.
    fn check(&mut self, argv: Argv) -> Result<(), String> {
        let Some(entry) = dispatch::script_lookup(self.srv, argv) else {
            self.srv.stats.count_error("ERR");
            return Err("Unknown Redis command called from script".into());
        };
        let reject = |msg: &str| {
            let code = match msg.strip_prefix('-') {
                Some(rest) => rest.split(' ').next().unwrap_or("ERR").to_string(),
                None => "ERR".to_string(),
            };
            self.srv.stats.count_error(&code);
            self.srv.stats.command_rejected(entry.id);
            Err(msg.to_string())
        };
        let spec = entry.spec;
        if !spec.arity_ok(argv.len()) {
            return reject("Wrong number of args calling Redis command from script");
        }
        let deny_scripts = !self.srv.state.disable_deny_scripts.load(Ordering::Relaxed);
        if spec.has(flag::NOSCRIPT) && deny_scripts {
            return reject("This Redis command is not allowed from script");
        }
        if self.read_only && spec.flags & (flag::WRITE | flag::MAY_REPLICATE) != 0 {
            return reject("Write commands are not allowed from read-only scripts.");
        }
        if spec.has(flag::WRITE) && !self.wrote && !self.client.must_obey() {
            let cfg = self.srv.cfg();
            if self.srv.state.replica.load(Ordering::Relaxed) && cfg.replica_read_only {
                return reject("-READONLY You can't write against a read only replica.");
            }
            if dispatch::writes_refused_by_disk_error(self.srv) {
                return reject(&format!("-{}", dispatch::MISCONF));
            }
            if let Err(e) = crate::replication::check_write_allowed(self.srv) {
                return reject(&format!("-{}", e.text()));
            }
        }
        let allows_oom = self.flags & shebang::ALLOW_OOM != 0;
        if self.oom
            && !allows_oom
            && !self.wrote
            && !self.client.must_obey()
            && spec.has(flag::DENYOOM)
        {
            return reject("-OOM command not allowed when used memory > 'maxmemory'.");
        }
        if let Err(refusal) = crate::acl::gate::check(
            self.srv,
            &self.client,
            entry,
            argv,
            crate::acl::log::Context::Lua,
        ) {
            return reject(crate::acl::gate::script_refusal_message(refusal));
        }
        Ok(())
    }
}

/// The arguments of `redis.call` as bytes: strings as they are, numbers as `%.17g`.
fn lua_args(argv: &mlua::Table, argc: i64) -> Result<Vec<Vec<u8>>, &'static str> {
    if argc <= 0 {
        return Err("Please specify at least one argument for this redis lib call");
    }
    const NOT_STRING: &str = "Lua redis lib command arguments must be strings or integers";
    (1..=argc)
        .map(|i| match argv.raw_get::<Value>(i) {
            Ok(Value::String(s)) => Ok(s.as_bytes().to_vec()),
            Ok(Value::Integer(n)) => Ok(n.to_string().into_bytes()),
            Ok(Value::Number(n)) => {
                let mut out = Vec::new();
                number_arg(n, &mut out);
                Ok(out)
            }
            _ => Err(NOT_STRING),
        })
        .collect()
}

fn ranges_of(args: &[Vec<u8>]) -> Vec<std::ops::Range<usize>> {
    let mut at = 0;
    args.iter()
        .map(|a| {
            let r = at..at + a.len();
            at += a.len();
            r
        })
        .collect()
}

/// The identity scripts' commands run under (never listed among clients).
pub fn script_client_info() -> Arc<ClientInfo> {
    // MONITOR shows the commands scripts run as coming from `lua`, as Redis does.
    Arc::new(ClientInfo::new(0, "lua".into(), String::new(), -1, 0))
}

/// The Lua error every running script gets once killed.
pub fn killed_error() -> String {
    format!("ERR {KILLED}")
}
