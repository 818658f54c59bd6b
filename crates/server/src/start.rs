//! Start-up and shutdown: read the configuration, daemonize if asked, set up logging, bind
//! the listeners, start the background tasks, serve until SHUTDOWN or a signal.

use std::sync::Arc;

use crate::command::table::CommandTable;
use crate::config::{load_from_args, Config, StartOptions};
use crate::server::log::{self, Verbosity};
use crate::server::workers::Workers;
use crate::server::{listen, unix_listen, Server, ShutdownRequest};
use crate::{REDIS_VERSION, RUDIS_VERSION};

/// Runs the server with the process's arguments (program name first). Returns the exit code.
pub fn run(args: &[String]) -> i32 {
    if let [_, flag, path] = args {
        if flag == crate::persist::child::WRITER_ARG {
            return crate::persist::child::writer_main(path);
        }
    }
    let program = args.first().map(String::as_str).unwrap_or("rudis-server");
    let (mut config, mut opts) = match load_from_args(args.get(1..).unwrap_or_default()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    if opts.version {
        println!(
            "Rudis server v={RUDIS_VERSION} redis_version={REDIS_VERSION} malloc=jemalloc bits=64"
        );
        return 0;
    }
    if opts.help {
        print_usage(program);
        return 0;
    }
    if program.ends_with("rudis-sentinel") || opts.sentinel {
        eprintln!("Sentinel mode is not available in this build of Rudis.");
        return 1;
    }
    // As Redis applies `dir` while reading the configuration, relative paths (the log file)
    // are relative to it. CONFIG REWRITE must still find the config file afterwards.
    if let Some(file) = opts.config_file.as_mut().filter(|f| *f != "-") {
        if let Ok(abs) = std::path::absolute(&*file) {
            *file = abs.to_string_lossy().into_owned();
        }
    }
    if let Err(e) = std::env::set_current_dir(&config.dir.0) {
        log::write_line(
            Verbosity::Warning,
            &format!("Can't chdir to '{}': {e}", config.dir.0),
        );
        return 1;
    }
    if config.daemonize {
        if let Err(e) = daemonize(&mut config) {
            eprintln!("Can't daemonize: {e}");
            return 1;
        }
    }
    if let Err(e) = log::init(&config.logfile, Verbosity::from_name(&config.loglevel)) {
        eprintln!("Can't open the log file: {e}");
        return 1;
    }
    let mut commands = CommandTable::new(crate::cmd::all());
    for (from, to) in &opts.renames {
        if let Err(e) = commands.rename(from, to) {
            eprintln!("*** FATAL CONFIG FILE ERROR ***\n>>> 'rename-command {from} {to}'\n{e}");
            return 1;
        }
    }
    serve(config, opts, commands)
}

fn print_usage(program: &str) {
    println!(
        "Usage: {program} [/path/to/redis.conf] [options] [-]\n       {program} - (read config from stdin)\n       {program} -v or --version\n       {program} -h or --help\n\nExamples:\n       {program} (run the server with default conf)\n       {program} /etc/redis/6379.conf\n       {program} --port 7777\n       {program} --port 7777 --replicaof 127.0.0.1 8888\n       {program} /etc/myredis.conf --loglevel verbose -\n       {program} /etc/myredis.conf --loglevel verbose\n"
    );
}

/// Forks into the background: the parent exits, the child starts a new session with its
/// standard streams on /dev/null, and writes the pid file.
fn daemonize(config: &mut Config) -> Result<(), String> {
    // SAFETY: no other threads exist yet; the child continues single-threaded.
    match unsafe { libc::fork() } {
        -1 => return Err(std::io::Error::last_os_error().to_string()),
        0 => {}
        _ => std::process::exit(0),
    }
    // SAFETY: plain syscalls on our own process and descriptors.
    unsafe {
        libc::setsid();
        let devnull = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if devnull >= 0 {
            libc::dup2(devnull, 0);
            libc::dup2(devnull, 1);
            libc::dup2(devnull, 2);
            if devnull > 2 {
                libc::close(devnull);
            }
        }
    }
    if config.pidfile.is_empty() {
        config.pidfile = "/var/run/redis.pid".to_string();
    }
    Ok(())
}

fn write_pidfile(path: &str) {
    if !path.is_empty() {
        if let Err(e) = std::fs::write(path, format!("{}\n", std::process::id())) {
            log::write_line(
                Verbosity::Warning,
                &format!("Failed to write PID file: {e}"),
            );
        }
    }
}

/// Connection worker threads: `io-threads` of them (default 1, as Redis runs one I/O thread by
/// default). One event loop gathers the most ready events per wake-up, which is what keeps the
/// CPU spent per request at or below Redis's; more threads buy throughput across cores at the
/// price of more wake-ups per request, so the choice is the operator's, as in Redis.
fn worker_threads(config: &Config) -> usize {
    config.io_threads.max(1) as usize
}

/// Runs the server: connection workers on their own threads (see `server::workers`), and a
/// small control runtime on this thread for accepting, the cron and signals.
fn serve(config: Config, opts: StartOptions, commands: CommandTable) -> i32 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let workers = runtime
        .as_ref()
        .ok()
        .map(|_| Workers::start(worker_threads(&config)));
    let (runtime, workers) = match (runtime, workers) {
        (Ok(rt), Some(Ok(w))) => (rt, Arc::new(w)),
        (Err(e), _) | (_, Some(Err(e))) => {
            log::write_line(
                Verbosity::Warning,
                &format!("Failed creating the runtime: {e}"),
            );
            return 1;
        }
        (Ok(_), None) => unreachable!("workers start when the runtime does"),
    };
    let pidfile = config.pidfile.clone();
    // A configuration read from stdin cannot be rewritten.
    let config_file = opts.config_file.clone().filter(|f| f != "-");
    let srv = Server::new(config, config_file, commands);
    crate::evict::sync_settings(&srv);
    crate::util::clock::init();
    let aclfile = srv.cfg().aclfile.clone();
    if !aclfile.is_empty() {
        if let Err(e) = crate::cmd::acl::load_file(&srv, &aclfile) {
            tracing::error!("Aborting Redis startup because of ACL errors: {e}");
            return 1;
        }
    }
    let code = runtime.block_on(serve_async(srv, &opts, workers.clone()));
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
    if let Ok(w) = Arc::try_unwrap(workers) {
        w.stop();
    }
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}

async fn serve_async(srv: Arc<Server>, opts: &StartOptions, workers: Arc<Workers>) -> i32 {
    let cfg = srv.cfg();
    log::write_line(
        Verbosity::Notice,
        "oO0OoO0OoO0Oo Rudis is starting oO0OoO0OoO0Oo",
    );
    log::write_line(
        Verbosity::Notice,
        &format!("Rudis version={RUDIS_VERSION} (Redis {REDIS_VERSION} compatible), bits=64, pid={}, just started", std::process::id()),
    );
    match &opts.config_file {
        Some(f) => log::write_line(Verbosity::Notice, &format!("Configuration loaded from {f}")),
        None => log::write_line(
            Verbosity::Warning,
            "Warning: no config file specified, using the default config.",
        ),
    }
    let mode = if cfg.cluster_enabled {
        "cluster"
    } else {
        "standalone"
    };
    log::write_line(
        Verbosity::Notice,
        &format!(
            "Rudis {RUDIS_VERSION} running in {mode} mode, port {}, PID: {}",
            cfg.port,
            std::process::id()
        ),
    );
    write_pidfile(&cfg.pidfile);
    let mut listeners = Vec::new();
    if cfg.port != 0 {
        match listen::bind_all(&cfg.bind.0, cfg.port as u16, cfg.tcp_backlog as i32) {
            Ok(l) => listeners = l,
            Err(e) => {
                log::write_line(Verbosity::Warning, &e);
                log::write_line(
                    Verbosity::Warning,
                    "Failed listening on port (tcp), aborting.",
                );
                return 1;
            }
        }
    }
    let has_tcp = !listeners.is_empty();
    for l in listeners {
        tokio::spawn(listen::accept_loop(srv.clone(), l, workers.clone()));
    }
    let unixsocket = cfg.unixsocket.clone();
    if !unixsocket.is_empty() {
        let perm = cfg.unixsocketperm as u32;
        match unix_listen::bind(&unixsocket, perm, cfg.tcp_backlog as i32) {
            Ok(l) => {
                let task =
                    unix_listen::accept_loop(srv.clone(), l, unixsocket.clone(), workers.clone());
                tokio::spawn(task);
            }
            Err(e) => {
                log::write_line(
                    Verbosity::Warning,
                    &format!("Failed opening Unix socket: {e}"),
                );
                return 1;
            }
        }
    } else if !has_tcp {
        log::write_line(
            Verbosity::Warning,
            "Configured to not listen anywhere, exiting.",
        );
        return 1;
    }
    drop(cfg);
    tokio::spawn(watch_signals(srv.clone()));
    crate::replication::before_load(&srv);
    if !load_data(&srv).await {
        return 1;
    }
    crate::replication::start(&srv);
    tokio::spawn(crate::replication::cron(srv.clone()));
    tokio::spawn(crate::server::cron::run(srv.clone()));
    if has_tcp {
        log::write_line(Verbosity::Notice, "Ready to accept connections tcp");
    }
    if !unixsocket.is_empty() {
        log::write_line(
            Verbosity::Notice,
            &format!("The server is now ready to accept connections at {unixsocket}"),
        );
    }
    let mut shutdown = srv.shutdown_requested();
    while shutdown.borrow().is_none() {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
    let request = shutdown.borrow().unwrap_or_default();
    finish_shutdown(&srv, request)
}

/// Loads the dataset from disk while clients already connected get `-LOADING`. False if it
/// could not be loaded (the server then exits, as Redis does).
async fn load_data(srv: &Arc<Server>) -> bool {
    srv.state
        .loading
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let loader = srv.clone();
    let result =
        tokio::task::spawn_blocking(move || crate::persist::load::load_at_startup(&loader)).await;
    srv.state
        .loading
        .store(false, std::sync::atomic::Ordering::Relaxed);
    match result {
        Ok(Ok(loaded)) => {
            crate::replication::restore_from_rdb(srv, loaded.as_ref());
            true
        }
        Ok(Err(message)) => {
            log::write_line(Verbosity::Warning, &message);
            false
        }
        Err(e) => {
            log::write_line(Verbosity::Warning, &format!("Loading failed: {e}"));
            false
        }
    }
}

/// SIGTERM and SIGINT shut down cleanly, as SHUTDOWN would.
async fn watch_signals(srv: Arc<Server>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    log::write_line(
        Verbosity::Warning,
        &format!("Received {name} scheduling shutdown..."),
    );
    srv.request_shutdown(ShutdownRequest::default());
}

/// The last steps before exiting (SHUTDOWN or a signal): the final save if one is due, then
/// the farewell. Returns the exit status.
fn finish_shutdown(srv: &Server, request: ShutdownRequest) -> i32 {
    log::write_line(Verbosity::Warning, "User requested shutdown...");
    stop_background_jobs(srv);
    if srv.aof.is_on() {
        log::write_line(Verbosity::Notice, "Calling fsync() on the AOF file.");
        srv.aof.flush_and_sync(srv);
    }
    if save_due(srv, request) {
        if let Err(e) = save_before_exit(srv) {
            if request.force {
                log::write_line(
                    Verbosity::Warning,
                    &format!("Error trying to save the DB ({e}). Exit anyway."),
                );
            } else {
                // Redis keeps serving when it cannot save. Here the listeners and the cron
                // have already stopped, so the server exits, reporting the failure.
                log::write_line(
                    Verbosity::Warning,
                    &format!("Error trying to save the DB ({e}), can't save before exiting."),
                );
                log::write_line(
                    Verbosity::Warning,
                    "Errors trying to shut down the server. Check the logs for more information.",
                );
                close_unix_socket(srv);
                return 1;
            }
        }
    }
    close_unix_socket(srv);
    log::write_line(Verbosity::Warning, "Rudis is now ready to exit, bye bye...");
    0
}

/// Stops a running BGSAVE or AOF rewrite: their writers are stopped and their temporary
/// files removed, as Redis kills its children before exiting.
fn stop_background_jobs(srv: &Server) {
    use std::sync::atomic::Ordering;
    if srv.rdb.bgsave_running.load(Ordering::Acquire) {
        log::write_line(
            Verbosity::Warning,
            "There is a child saving an .rdb file. Removing the child...",
        );
        crate::persist::save::cancel_bgsave(srv);
    }
    if srv.aof.rewrite_in_progress.load(Ordering::Acquire) {
        log::write_line(
            Verbosity::Warning,
            "There is a child rewriting the AOF. Killing it!",
        );
        crate::persist::aof::rewrite::cancel_running(srv);
    }
}

/// Removes the Unix socket's file, if the server listens on one.
fn close_unix_socket(srv: &Server) {
    let path = srv.cfg().unixsocket.clone();
    if !path.is_empty() {
        unix_listen::remove_file(&path);
    }
}

/// A final save is due when SHUTDOWN SAVE asks for one, or when save points are configured
/// and SHUTDOWN NOSAVE did not rule it out.
fn save_due(srv: &Server, request: ShutdownRequest) -> bool {
    match request.save {
        Some(save) => save,
        None => !srv.cfg().save.0.is_empty(),
    }
}

/// The final snapshot: a running BGSAVE is abandoned (its image is older), then the keyspace
/// is saved synchronously to `dir`/`dbfilename`.
fn save_before_exit(srv: &Server) -> Result<(), String> {
    crate::persist::save::cancel_bgsave(srv);
    log::write_line(
        Verbosity::Notice,
        "Saving the final RDB snapshot before exiting.",
    );
    let mut txn = crate::keyspace::txn::Txn::exclusive(&srv.keyspace, 0, crate::server::unix_ms());
    crate::persist::save::save_held(srv, &mut txn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(save_points: bool) -> Arc<Server> {
        let mut config = Config::default();
        if !save_points {
            config.save.0.clear();
        }
        Server::new(config, None, CommandTable::new([]))
    }

    #[test]
    fn final_save_is_due_as_shutdown_and_config_say() {
        let request = |save| ShutdownRequest {
            save,
            ..ShutdownRequest::default()
        };
        let configured = server(true);
        assert!(save_due(&configured, request(None)));
        assert!(!save_due(&configured, request(Some(false))));
        let unconfigured = server(false);
        assert!(!save_due(&unconfigured, request(None)));
        assert!(save_due(&unconfigured, request(Some(true))));
    }
}
