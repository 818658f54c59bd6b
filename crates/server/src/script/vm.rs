//! The Lua VM: Lua 5.1 (as in Redis) with the libraries Redis loads, the `redis` API and the
//! sandbox built by `prelude.lua`, and the cache of EVAL scripts by SHA1.
//!
//! The sandbox: user code runs with a read-only view of the globals; reading a missing global
//! or writing any is an error with Redis's text, and the library tables are read-only views
//! too. `print`, `dofile`, `loadfile` and `debug` are gone, as in Redis.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};

/// How often (in VM instructions) the hook checks for SCRIPT KILL.
const HOOK_EVERY_INSTRUCTIONS: u32 = 100_000;

/// The message of a killed script.
pub const KILLED: &str = "Script killed by user with SCRIPT KILL...";

/// One cached EVAL script.
pub struct CachedScript {
    pub body: Vec<u8>,
    pub flags: u32,
    pub func: Function,
}

pub struct Vm {
    pub lua: Lua,
    /// The real globals table (user code sees a read-only view of it).
    pub globals: Table,
    /// Rust primitives and Lua helpers the `redis` API is built on.
    pub bridge: Table,
    /// EVAL scripts by lowercase SHA1 hex.
    pub scripts: HashMap<String, CachedScript>,
    /// Bytes of the cached scripts' bodies (INFO `used_memory_scripts_eval`).
    pub scripts_bytes: usize,
    /// The libraries of Redis Functions.
    pub libraries: super::functions::Libraries,
    kill: Arc<AtomicBool>,
    /// While FUNCTION LOAD runs a library's code: when it must stop (Unix ms; 0: never).
    pub load_deadline_ms: Arc<AtomicI64>,
    /// When the running script passes `busy-reply-threshold` (unix ms; 0: not watched), and
    /// its name: the hook then logs that a slow script runs, once.
    pub slow_after: Arc<parking_lot::Mutex<SlowWatch>>,
}

/// The error of a library whose loading ran too long.
pub const LOAD_TIMEOUT: &str = "FUNCTION LOAD timeout";

impl Vm {
    pub fn new(kill: Arc<AtomicBool>) -> mlua::Result<Vm> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        // SAFETY: the debug library is loaded only for the prelude, which keeps
        // `debug.getinfo` for its error handler and removes `debug` from the globals.
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::new()) };
        let globals = lua.globals();
        let bridge = lua.create_table()?;
        let redis = lua.create_table()?;
        super::api::register(&lua, &globals, &bridge, &redis)?;
        super::libs::register(&lua, &globals)?;
        let prelude = lua
            .load(include_str!("prelude.lua"))
            .set_name("=rudis")
            .into_function()?;
        prelude.call::<()>((globals.clone(), bridge.clone(), redis))?;
        let vm = Vm {
            lua,
            globals,
            bridge,
            scripts: HashMap::new(),
            scripts_bytes: 0,
            libraries: Default::default(),
            kill,
            load_deadline_ms: Arc::new(AtomicI64::new(0)),
            slow_after: Default::default(),
        };
        vm.install_hook(false)?;
        Ok(vm)
    }

    /// The kill check: every [`HOOK_EVERY_INSTRUCTIONS`] instructions, or on every line
    /// once a script was killed (so `pcall` cannot keep it alive).
    pub fn install_hook(&self, every_line: bool) -> mlua::Result<()> {
        let kill = self.kill.clone();
        let deadline = self.load_deadline_ms.clone();
        let slow = self.slow_after.clone();
        let triggers = if every_line {
            HookTriggers::new().every_line()
        } else {
            HookTriggers::new().every_nth_instruction(HOOK_EVERY_INSTRUCTIONS)
        };
        self.lua.set_hook(triggers, move |lua, _| {
            if kill.load(Ordering::Relaxed) {
                let _ = lua.set_hook(HookTriggers::new().every_line(), |_, _| {
                    Err(mlua::Error::RuntimeError(KILLED.into()))
                });
                return Err(mlua::Error::RuntimeError(KILLED.into()));
            }
            note_if_slow(&slow);
            let until_ms = deadline.load(Ordering::Relaxed);
            if until_ms > 0 && crate::server::unix_ms() > until_ms {
                let _ = lua.set_hook(HookTriggers::new().every_line(), |_, _| {
                    Err(mlua::Error::RuntimeError(LOAD_TIMEOUT.into()))
                });
                return Err(mlua::Error::RuntimeError(LOAD_TIMEOUT.into()));
            }
            Ok(VmState::Continue)
        })
    }

    /// Starts watching the script about to run for slowness (`threshold_ms` 0: not).
    pub fn watch_slow(&self, name: &str, is_eval: bool, threshold_ms: i64) {
        let started_ms = crate::server::unix_ms();
        *self.slow_after.lock() = SlowWatch {
            at_ms: if threshold_ms > 0 {
                started_ms + threshold_ms
            } else {
                0
            },
            started_ms,
            name: name.to_string(),
            is_eval,
        };
    }

    /// The read-only view of the globals user code runs with.
    pub fn sandbox_env(&self) -> mlua::Result<Table> {
        self.bridge.raw_get("globals")
    }

    /// Compiles `code` as a chunk named `name`, running in the sandbox.
    pub fn compile(&self, code: &[u8], name: &str) -> Result<Function, String> {
        let f = self
            .lua
            .load(code)
            .set_name(name)
            .into_function()
            .map_err(|e| lua_error_text(&e))?;
        let env = self.sandbox_env().map_err(|e| e.to_string())?;
        f.set_environment(env).map_err(|e| e.to_string())?;
        Ok(f)
    }

    /// Compiles and caches an EVAL script (if not cached yet); returns its SHA1.
    pub fn cache_script(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, shebang_len) = super::shebang::parse(body).map_err(|e| format!("ERR {e}"))?;
        // The shebang line is skipped but its newline kept, so line numbers stay right.
        let func = self
            .compile(&body[shebang_len..], "@user_script")
            .map_err(|e| format!("ERR Error compiling script (new function): {e}"))?;
        self.scripts_bytes += body.len() + 40;
        self.scripts.insert(
            sha.clone(),
            CachedScript {
                body: body.to_vec(),
                flags,
                func,
            },
        );
        Ok(sha)
    }

    /// SCRIPT FLUSH.
    pub fn flush_scripts(&mut self) {
        self.scripts.clear();
        self.scripts_bytes = 0;
        let _ = self.lua.gc_collect();
    }

    /// Sets a global for the next script (KEYS, ARGV), bypassing the sandbox.
    pub fn set_global(&self, name: &str, v: Value) -> mlua::Result<()> {
        self.globals.raw_set(name, v)
    }

    /// Bytes the Lua heap uses (INFO `used_memory_lua`).
    pub fn memory_bytes(&self) -> usize {
        self.lua.used_memory()
    }
}

/// Lowercase SHA1 hex of `data`.
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// The text of a Lua error as Lua itself would show it (no Rust decoration).
pub fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) | mlua::Error::MemoryError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        mlua::Error::WithContext { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

/// The running script, watched for passing `busy-reply-threshold`.
#[derive(Default)]
pub struct SlowWatch {
    /// Unix ms the threshold is passed; 0 when not watched (or already reported).
    at_ms: i64,
    started_ms: i64,
    name: String,
    is_eval: bool,
}

/// Logs, once per run, that the running script passed `busy-reply-threshold`, as Redis does.
fn note_if_slow(slow: &parking_lot::Mutex<SlowWatch>) {
    let mut w = slow.lock();
    let now = crate::server::unix_ms();
    if w.at_ms == 0 || now <= w.at_ms {
        return;
    }
    let kill = if w.is_eval {
        "SCRIPT KILL"
    } else {
        "FUNCTION KILL"
    };
    crate::server::log::write_line(
        crate::server::log::Verbosity::Warning,
        &format!(
            "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {kill} command. Script name is: {}.",
            now - w.started_ms,
            w.name
        ),
    );
    w.at_ms = 0;
}
