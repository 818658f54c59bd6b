//! Lua scripting and Redis Functions: one Lua 5.1 VM per server, as in Redis.
//!
//! A script runs inside the command that started it (EVAL, EVALSHA, FCALL and their `_RO`
//! forms), which the gate runs holding the keyspace exclusively: nothing else touches keys
//! while a script runs, so scripts are atomic. The VM itself sits behind a mutex taken after
//! the keyspace, never before.
//!
//! Other clients learn that a script runs from a few atomics ([`Scripting::busy_error`]):
//! once it has run longer than `busy-reply-threshold` they get `-BUSY`, except for the
//! commands flagged `allow-busy` (SCRIPT KILL, FUNCTION KILL, FUNCTION STATS...). SCRIPT KILL
//! sets a flag the VM's instruction hook checks.
//!
//! Modules: `vm` (the VM, sandbox, script cache), `api` and `prelude.lua` (the `redis`
//! table), `run` (running one script, `redis.call`), `convert` (replies <-> Lua values),
//! `shebang` (script flags), `libs` (bit, cjson, cmsgpack, struct), `functions` (libraries
//! of FUNCTION LOAD, their DUMP/RESTORE format).

pub mod api;
pub mod convert;
pub mod functions;
pub mod libs;
pub mod run;
pub mod shebang;
pub mod vm;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use crate::command::spec::flag;
use crate::command::table::CmdEntry;
use crate::command::CmdError;
use crate::server::client::ClientInfo;
use crate::server::{unix_ms, Server};

/// What FUNCTION STATS shows of the running script.
#[derive(Clone, Default)]
pub struct RunningInfo {
    pub name: String,
    pub command: Vec<Vec<u8>>,
}

pub struct Scripting {
    vm: Mutex<vm::Vm>,
    /// The identity of the client scripts' commands run as.
    pub client_info: Arc<ClientInfo>,
    kill: Arc<AtomicBool>,
    running: AtomicBool,
    started_ms: AtomicI64,
    is_eval: AtomicBool,
    wrote: AtomicBool,
    from_master: AtomicBool,
    killed: AtomicBool,
    info: Mutex<RunningInfo>,
    /// Figures for INFO, updated after each change (INFO may run inside a script, when the
    /// VM is held).
    pub lua_memory_bytes: AtomicUsize,
    pub eval_scripts: AtomicUsize,
    pub eval_scripts_bytes: AtomicUsize,
    pub libraries: AtomicUsize,
    pub functions: AtomicUsize,
    /// The libraries' code, for snapshots (taken without the VM).
    library_codes: Mutex<Vec<Vec<u8>>>,
    /// The thread scripts run on when a connection starts them (see [`Scripting::submit`]).
    executor: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
}

/// The script thread's stack: conversions of deeply nested values recurse.
const SCRIPT_THREAD_STACK_BYTES: usize = 64 << 20;

/// Work for the script thread.
pub type Job = Box<dyn FnOnce() + Send>;

/// True if this request runs a script and must go to the script thread: EVAL, EVALSHA,
/// FCALL and their `_RO` forms outside MULTI. (Inside EXEC they run where EXEC runs.)
pub fn runs_on_script_thread(
    client: &crate::server::client::Client,
    argv: rudis_resp::Argv<'_>,
) -> bool {
    if client.in_multi() || argv.is_empty() {
        return false;
    }
    let name = argv.get(0);
    if !matches!(name.first(), Some(b'e' | b'E' | b'f' | b'F')) {
        return false;
    }
    let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    is("eval")
        || is("evalsha")
        || is("eval_ro")
        || is("evalsha_ro")
        || is("fcall")
        || is("fcall_ro")
}

const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

impl Default for Scripting {
    fn default() -> Self {
        Self::new()
    }
}

impl Scripting {
    pub fn new() -> Scripting {
        let kill = Arc::new(AtomicBool::new(false));
        let vm = vm::Vm::new(kill.clone()).expect("the Lua VM starts");
        let lua_memory = vm.memory_bytes();
        Scripting {
            vm: Mutex::new(vm),
            client_info: run::script_client_info(),
            kill,
            running: AtomicBool::new(false),
            started_ms: AtomicI64::new(0),
            is_eval: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
            from_master: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            info: Mutex::new(RunningInfo::default()),
            lua_memory_bytes: AtomicUsize::new(lua_memory),
            eval_scripts: AtomicUsize::new(0),
            eval_scripts_bytes: AtomicUsize::new(0),
            libraries: AtomicUsize::new(0),
            functions: AtomicUsize::new(0),
            executor: Mutex::new(None),
            library_codes: Mutex::new(Vec::new()),
        }
    }

    /// Runs `job` on the script thread (started on first use). A script may run for long;
    /// on its own thread it leaves the connection workers free to answer other clients
    /// (`-BUSY`, SCRIPT KILL) meanwhile.
    pub fn submit(&self, job: Job) {
        let mut executor = self.executor.lock();
        if executor.is_none() {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            let spawned = std::thread::Builder::new()
                .name("rudis-script".into())
                .stack_size(SCRIPT_THREAD_STACK_BYTES)
                .spawn(move || {
                    for job in rx {
                        job();
                    }
                });
            match spawned {
                Ok(_) => *executor = Some(tx),
                Err(e) => {
                    tracing::warn!("Can't start the script thread: {e}");
                    drop(executor);
                    return job();
                }
            }
        }
        if let Some(tx) = executor.as_ref() {
            if let Err(e) = tx.send(job) {
                (e.0)();
            }
        }
    }

    /// The VM. Take it only after the keyspace (or without it), never the other way round.
    pub fn vm(&self) -> MutexGuard<'_, vm::Vm> {
        self.vm.lock()
    }

    /// Refreshes the figures INFO shows; call with the VM held, after a change.
    pub fn note_vm(&self, vm: &vm::Vm) {
        self.lua_memory_bytes
            .store(vm.memory_bytes(), Ordering::Relaxed);
        self.eval_scripts.store(vm.scripts.len(), Ordering::Relaxed);
        self.eval_scripts_bytes
            .store(vm.scripts_bytes, Ordering::Relaxed);
        self.libraries
            .store(vm.libraries.libs.len(), Ordering::Relaxed);
        self.functions
            .store(vm.libraries.function_count(), Ordering::Relaxed);
        *self.library_codes.lock() = vm.libraries.libs.values().map(|l| l.code.clone()).collect();
    }

    fn begin(&self, spec: &run::RunSpec, from_master: bool) {
        self.kill.store(false, Ordering::Relaxed);
        self.killed.store(false, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        self.from_master.store(from_master, Ordering::Relaxed);
        self.is_eval.store(spec.is_eval, Ordering::Relaxed);
        self.started_ms.store(unix_ms(), Ordering::Relaxed);
        self.info.lock().name = spec.name.clone();
        self.running.store(true, Ordering::Release);
    }

    fn end(&self) {
        self.running.store(false, Ordering::Release);
        let killed = self.kill.swap(false, Ordering::Relaxed);
        self.killed.store(killed, Ordering::Relaxed);
    }

    fn was_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }

    fn note_write(&self) {
        self.wrote.store(true, Ordering::Relaxed);
    }

    /// Sets the command line FUNCTION STATS shows for the run about to start.
    pub fn set_running_command(&self, argv: rudis_resp::Argv<'_>) {
        self.info.lock().command = argv.iter().map(<[u8]>::to_vec).collect();
    }

    /// The code of every library, for an RDB file.
    pub fn library_codes(&self) -> Vec<Vec<u8>> {
        self.library_codes.lock().clone()
    }

    /// Loads a library read from an RDB file; one of the same name is replaced when
    /// `replace`, an error otherwise.
    pub fn load_library(&self, code: &[u8], replace: bool) -> Result<(), String> {
        let mut guard = self.vm();
        let vm = &mut *guard;
        let mut libraries = std::mem::take(&mut vm.libraries);
        let loaded = libraries.load(vm, code, replace, 0);
        vm.libraries = libraries;
        self.note_vm(vm);
        loaded.map(|_| ())
    }

    /// Drops every library (when DEBUG RELOAD empties the data before loading).
    pub fn flush_libraries(&self) {
        let mut vm = self.vm();
        vm.libraries.flush();
        self.note_vm(&vm);
    }

    /// True while an EVAL script (not a function) runs.
    pub fn running_eval(&self) -> bool {
        self.running.load(Ordering::Acquire) && self.is_eval.load(Ordering::Relaxed)
    }

    /// The running function (name, command, ms running), for FUNCTION STATS.
    pub fn running_function(&self) -> Option<(RunningInfo, i64)> {
        if !self.running.load(Ordering::Acquire) || self.is_eval.load(Ordering::Relaxed) {
            return None;
        }
        let elapsed = unix_ms() - self.started_ms.load(Ordering::Relaxed);
        Some((self.info.lock().clone(), elapsed))
    }

    /// The error another client's command gets while a script runs, if any. Before the
    /// script has run `busy-reply-threshold` ms the command waits for it instead, as it
    /// would behind a running script in Redis.
    pub fn busy_error(&self, srv: &Server, entry: &CmdEntry) -> Option<CmdError> {
        if !self.running.load(Ordering::Acquire) || entry.spec.has(flag::ALLOW_BUSY) {
            return None;
        }
        loop {
            if !self.running.load(Ordering::Acquire) {
                return None;
            }
            let threshold_ms = srv.cfg().busy_reply_threshold;
            let elapsed_ms = unix_ms() - self.started_ms.load(Ordering::Relaxed);
            if threshold_ms > 0 && elapsed_ms >= threshold_ms {
                let text = if self.is_eval.load(Ordering::Relaxed) {
                    BUSY_EVAL
                } else {
                    BUSY_FUNCTION
                };
                return Some(text.into());
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// SCRIPT KILL (`eval` true) or FUNCTION KILL.
    pub fn kill(&self, eval: bool) -> Result<(), CmdError> {
        if !self.running.load(Ordering::Acquire) {
            return Err("NOTBUSY No scripts in execution right now.".into());
        }
        if self.from_master.load(Ordering::Relaxed) {
            return Err("UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.".into());
        }
        if self.wrote.load(Ordering::Relaxed) {
            return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.".into());
        }
        let running_eval = self.is_eval.load(Ordering::Relaxed);
        if eval && !running_eval {
            return Err(BUSY_FUNCTION.into());
        }
        if !eval && running_eval {
            return Err(BUSY_EVAL.into());
        }
        self.kill.store(true, Ordering::Relaxed);
        Ok(())
    }
}
