//! Connection workers: one single-threaded tokio runtime per worker thread, each with its own
//! event loop. Accepted connections are handed out round-robin and stay on their worker, so a
//! request never migrates between cores and no cross-thread wake-ups happen on the hot path
//! (a work-stealing runtime spends measurable CPU per request on exactly that).

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;

/// Task polls between two looks at the event queue while tasks are still ready. Large enough
/// that a turn is only cut by a client count far beyond what one loop serves at a time.
const EVENT_INTERVAL_TASKS: u32 = 1024;

pub struct Workers {
    handles: Vec<Handle>,
    next: AtomicUsize,
    stop: Vec<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    /// Starts `count` worker threads, each running its own runtime.
    pub fn start(count: usize) -> std::io::Result<Workers> {
        let mut w = Workers {
            handles: Vec::new(),
            next: AtomicUsize::new(0),
            stop: Vec::new(),
            threads: Vec::new(),
        };
        for i in 0..count.max(1) {
            let (handle_tx, handle_rx) = std::sync::mpsc::channel();
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(format!("rudis-io-{i}"))
                .spawn(move || {
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        // Poll for new events only when the ready tasks are done, as Redis's
                        // loop does: with tokio's default (every 61 task polls) a turn over 50
                        // clients (two polls each: run, then write) was cut in three, each
                        // with its own epoll_wait.
                        .event_interval(EVENT_INTERVAL_TASKS)
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            let _ = handle_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = handle_tx.send(Ok(rt.handle().clone()));
                    rt.block_on(async move {
                        let _ = stop_rx.await;
                    });
                    rt.shutdown_background();
                })?;
            let handle = handle_rx.recv().map_err(std::io::Error::other)??;
            w.handles.push(handle);
            w.stop.push(stop_tx);
            w.threads.push(thread);
        }
        Ok(w)
    }

    /// Serves an accepted connection on the next worker: `task` is its connection task.
    pub fn serve(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[i].spawn(task);
    }

    /// Stops every worker; their connections are dropped.
    pub fn stop(self) {
        for s in self.stop {
            let _ = s.send(());
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}
