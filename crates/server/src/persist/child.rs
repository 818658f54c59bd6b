//! The writer process of background jobs (BGSAVE, AOF rewrites).
//!
//! Redis forks a child for these jobs, and operators and tools see it as a child process of
//! the server that they may kill to abort the job. Rudis does not fork: a thread of the server
//! serializes a fork-free snapshot. It hands the bytes through a pipe to a writer process, the
//! server's own binary started with [`WRITER_ARG`], which writes them to the temporary file
//! and fsyncs it. The job has succeeded only if the writer exits with status 0 after the
//! server closed the pipe; a writer that dies first (killed by a signal, or failing to write)
//! fails the job as the death of Redis's child does. The serializing thread checks the writer
//! between shards and while it waits out `rdb-key-save-delay`, so a killed writer ends the job
//! at once.
//!
//! The writer is spawned at the job's barrier, before the command that started the job
//! replies, so it exists as soon as the client learns the job began. The temporary file is
//! named after the writer's pid, as Redis names it after its child's (`temp-<pid>.rdb`). If
//! the writer cannot be spawned, the thread writes the file itself (named after the server).

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

/// The argument that starts the binary as a writer: `rudis-server <WRITER_ARG> <path>`.
pub const WRITER_ARG: &str = "--background-writer";

/// In the path given to the writer, stands for the writer's pid.
pub const PID_MARK: &str = "{pid}";

/// Where a job's bytes go: the writer process, or (if it could not be spawned) the file.
pub enum Sink {
    Pipe(ChildStdin),
    File(File),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Pipe(p) => p.write(buf),
            Sink::File(f) => f.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Pipe(p) => p.flush(),
            Sink::File(f) => f.flush(),
        }
    }
}

/// How a job's file ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The file is complete and fsynced.
    Written,
    /// Writing failed (the message says why), or the writer exited with an error.
    Failed(String),
    /// The writer was killed by this signal (SIGUSR1 when the server cancelled the job).
    Signalled(i32),
}

/// A job's file being written: the writer process if there is one, and the sink.
pub struct Job {
    /// The temporary file.
    path: PathBuf,
    writer: Option<Mutex<Child>>,
    sink: Option<Sink>,
    /// Set when the server cancels the job (FLUSHALL, turning the AOF off, shutdown).
    cancelled: AtomicBool,
}

impl Job {
    /// Starts the writer process for the temporary file `template` (relative to the
    /// working directory, [`PID_MARK`] standing for the writer's pid), or opens the file
    /// directly if the process cannot be started.
    pub fn start(template: &str) -> std::io::Result<Job> {
        match spawn_writer(template) {
            Ok(mut child) => {
                let stdin = child.stdin.take().expect("stdin is piped");
                Ok(Job {
                    path: PathBuf::from(template.replace(PID_MARK, &child.id().to_string())),
                    writer: Some(Mutex::new(child)),
                    sink: Some(Sink::Pipe(stdin)),
                    cancelled: AtomicBool::new(false),
                })
            }
            Err(e) => {
                crate::server::log::write_line(
                    crate::server::log::Verbosity::Warning,
                    &format!(
                        "Can't start the background writer process ({e}): writing in the server"
                    ),
                );
                let own = format!("{}-bg", std::process::id());
                let path = PathBuf::from(template.replace(PID_MARK, &own));
                Ok(Job {
                    sink: Some(Sink::File(File::create(&path)?)),
                    path,
                    writer: None,
                    cancelled: AtomicBool::new(false),
                })
            }
        }
    }

    /// The writer's pid (the server's own when it writes the file itself).
    pub fn pid(&self) -> u32 {
        self.writer
            .as_ref()
            .map_or(std::process::id(), |w| w.lock().id())
    }

    /// The temporary file the job writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True once the job should stop: cancelled, or the writer process is gone.
    pub fn should_stop(&self) -> bool {
        if self.cancelled.load(Ordering::Relaxed) {
            return true;
        }
        match &self.writer {
            Some(w) => !matches!(w.lock().try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Writes the file with `write` (given a buffered sink and the stop check), then waits
    /// for the writer's verdict. `cancel` is the server's request to abandon the job.
    pub fn run(
        mut self,
        cancel: &AtomicBool,
        write: impl FnOnce(BufWriter<Sink>, &dyn Fn() -> bool) -> Result<BufWriter<Sink>, String>,
    ) -> Outcome {
        let sink = self.sink.take().expect("a job runs once");
        let stop = || {
            if cancel.load(Ordering::Relaxed) {
                self.cancel_now();
            }
            self.should_stop()
        };
        let written = write(BufWriter::with_capacity(1 << 16, sink), &stop).and_then(|out| {
            out.into_inner()
                .map_err(|e| format!("Write error saving DB on disk(fflush): {}", e.error()))
        });
        if cancel.load(Ordering::Relaxed) {
            self.cancel_now();
        }
        match (written, self.writer.take()) {
            (Ok(Sink::File(f)), _) => match f.sync_all() {
                Ok(()) => Outcome::Written,
                Err(e) => Outcome::Failed(format!("Write error saving DB on disk(fsync): {e}")),
            },
            (Ok(Sink::Pipe(stdin)), Some(child)) => {
                // Closing the pipe tells the writer the file is complete.
                drop(stdin);
                self.verdict(child.into_inner(), None)
            }
            (Err(e), Some(child)) => self.verdict(child.into_inner(), Some(e)),
            (Err(e), None) => Outcome::Failed(e),
            (Ok(Sink::Pipe(_)), None) => unreachable!("a pipe always has its writer"),
        }
    }

    /// The server abandons the job: the writer is stopped with SIGUSR1 at once, before the
    /// pipe closes, so it cannot take the end of its input for a complete file.
    fn cancel_now(&self) {
        if self.cancelled.swap(true, Ordering::Relaxed) {
            return;
        }
        if let Some(w) = &self.writer {
            let mut child = w.lock();
            if matches!(child.try_wait(), Ok(None)) {
                // SAFETY: kill(2) on the pid of our own child, not yet reaped.
                unsafe {
                    libc::kill(child.id() as libc::pid_t, libc::SIGUSR1);
                }
            }
        }
    }

    /// Waits for the writer and tells how the job ended. A writer still running when the
    /// job failed or was cancelled is stopped with SIGUSR1, as Redis stops its children.
    fn verdict(&self, mut child: Child, error: Option<String>) -> Outcome {
        if (error.is_some() || self.cancelled.load(Ordering::Relaxed))
            && matches!(child.try_wait(), Ok(None))
        {
            // SAFETY: kill(2) on the pid of our own child, not yet reaped.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGUSR1);
            }
        }
        let mut complaint = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut complaint);
        }
        let status = match child.wait() {
            Ok(s) => s,
            Err(e) => return Outcome::Failed(format!("waiting for the writer process: {e}")),
        };
        judge(status, error, complaint.trim())
    }
}

impl Drop for Job {
    /// A job dropped without running (it could not start) stops its writer.
    fn drop(&mut self) {
        if let Some(w) = self.writer.take() {
            let mut child = w.into_inner();
            drop(self.sink.take());
            // SAFETY: kill(2) on the pid of our own child, not yet reaped.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGUSR1);
            }
            let _ = child.wait();
        }
    }
}

fn judge(status: ExitStatus, error: Option<String>, complaint: &str) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        return Outcome::Signalled(sig);
    }
    match (status.code(), error) {
        (Some(0), None) => Outcome::Written,
        (_, Some(e)) if complaint.is_empty() => Outcome::Failed(e),
        (code, _) if complaint.is_empty() => Outcome::Failed(format!(
            "the background writer process exited with status {}",
            code.unwrap_or(-1)
        )),
        _ => Outcome::Failed(complaint.to_string()),
    }
}

fn spawn_writer(template: &str) -> std::io::Result<Child> {
    // The running binary, even if its file was replaced or deleted since it started.
    let proc_exe = Path::new("/proc/self/exe");
    let exe = if proc_exe.exists() {
        proc_exe.to_path_buf()
    } else {
        std::env::current_exe()?
    };
    // No pre_exec hook: the standard library then spawns with posix_spawn, which does not
    // copy the server's page tables as fork would.
    Command::new(exe)
        .arg(WRITER_ARG)
        .arg(template)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
}

/// The writer process: copies its standard input to `path`, fsyncs it, exits 0 at the end
/// of the input. On an error it says why on standard error and exits 1. If the server died
/// meanwhile (the input ended because its end of the pipe closed), the file is incomplete:
/// the writer removes it.
pub fn writer_main(template: &str) -> i32 {
    // SAFETY: getppid(2) has no preconditions.
    let parent = unsafe { libc::getppid() };
    let path = &template.replace(PID_MARK, &std::process::id().to_string());
    let result = (|| -> Result<(), String> {
        let mut file = File::create(path).map_err(|e| {
            let cwd = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "unknown".into());
            format!(
                "Failed opening the temp file {path} (in server root dir {cwd}) for saving: {e}"
            )
        })?;
        let mut stdin = std::io::stdin().lock();
        std::io::copy(&mut stdin, &mut file)
            .map_err(|e| format!("Write error saving DB on disk(write): {e}"))?;
        // SAFETY: getppid(2) has no preconditions.
        if unsafe { libc::getppid() } != parent {
            let _ = std::fs::remove_file(path);
            return Err("the server exited before the file was complete".into());
        }
        file.sync_all()
            .map_err(|e| format!("Write error saving DB on disk(fsync): {e}"))
    })();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judge_reads_signals_and_codes() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(judge(ExitStatus::from_raw(0), None, ""), Outcome::Written);
        assert_eq!(
            judge(ExitStatus::from_raw(9), None, ""),
            Outcome::Signalled(9)
        );
        assert_eq!(
            judge(ExitStatus::from_raw(1 << 8), None, "disk full"),
            Outcome::Failed("disk full".into())
        );
        assert_eq!(
            judge(ExitStatus::from_raw(0), Some("cut".into()), ""),
            Outcome::Failed("cut".into())
        );
    }
}
