//! The end of an event-loop turn on a connection worker, where replies are written.
//!
//! Like Redis, which writes the replies of a turn in `beforeSleep`, a connection task that has
//! run its requests waits for the turn to end before it writes: the worker first runs every
//! task that is ready, then, just before it would sleep in `epoll_wait`, wakes the waiting
//! writers, which send their replies back to back. A client woken by the first reply is then
//! still busy when the next ones land, so the kernel queues them without another wake-up;
//! writing each reply as soon as it is ready costs a wake-up per reply, most of the server's
//! system time under pipelined load.
//!
//! The worker calls [`end`] from its runtime's `on_thread_park` hook. The tasks it wakes are
//! queued, so the runtime runs them instead of sleeping; it still looks at the event queue
//! once without waiting, one `epoll_wait` more per turn. That is cheap for a turn of pipelined
//! batches and dear for a turn of one request, so connections wait here only for batches
//! (see `conn`). Replica streams woken by a command are queued before the hook runs, so a
//! write reaches the replicas before its reply reaches the client.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Poll, Waker};

thread_local! {
    /// Whether this thread is a connection worker whose runtime calls [`end`].
    static HOOKED: Cell<bool> = const { Cell::new(false) };
    /// Turns ended on this thread so far.
    static TURN: Cell<u64> = const { Cell::new(0) };
    /// The tasks waiting for the current turn to end.
    static WAITING: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
}

/// Marks the calling thread as one whose runtime calls [`end`] before it parks.
pub fn install() {
    HOOKED.with(|h| h.set(true));
}

/// Ends the turn: wakes every task waiting in [`wait`]. Called before the worker parks.
pub fn end() {
    TURN.with(|t| t.set(t.get().wrapping_add(1)));
    let waiting = WAITING.with(|w| std::mem::take(&mut *w.borrow_mut()));
    if waiting.is_empty() {
        return;
    }
    let mut waiting = waiting;
    for waker in waiting.drain(..) {
        waker.wake();
    }
    // Keep the allocation for the next turn, unless a task registered meanwhile.
    WAITING.with(|w| {
        let mut w = w.borrow_mut();
        if w.is_empty() {
            *w = waiting;
        }
    });
}

/// Waits until the current turn ends. On a thread that is not a connection worker it only
/// yields once.
pub async fn wait() {
    if !HOOKED.with(|h| h.get()) {
        tokio::task::yield_now().await;
        return;
    }
    let started = TURN.with(|t| t.get());
    let mut registered = false;
    poll_fn(|cx| {
        if TURN.with(|t| t.get()) != started {
            return Poll::Ready(());
        }
        if !registered {
            registered = true;
            WAITING.with(|w| w.borrow_mut().push(cx.waker().clone()));
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_task_finishes_only_after_the_turn_ends() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .on_thread_park(end)
            .build()
            .unwrap();
        install();
        let order = std::rc::Rc::new(RefCell::new(Vec::new()));
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, {
            let order = order.clone();
            async move {
                let a = {
                    let order = order.clone();
                    tokio::task::spawn_local(async move {
                        order.borrow_mut().push("a runs");
                        wait().await;
                        order.borrow_mut().push("a writes");
                    })
                };
                let b = {
                    let order = order.clone();
                    tokio::task::spawn_local(async move {
                        order.borrow_mut().push("b runs");
                        wait().await;
                        order.borrow_mut().push("b writes");
                    })
                };
                a.await.unwrap();
                b.await.unwrap();
            }
        });
        HOOKED.with(|h| h.set(false));
        assert_eq!(
            *order.borrow(),
            ["a runs", "b runs", "a writes", "b writes"]
        );
    }

    #[test]
    fn off_a_worker_it_only_yields() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(wait());
    }
}
