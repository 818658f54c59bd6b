//! The server cron: runs `hz` times a second (as Redis's `serverCron`). Each run expires keys
//! actively, closes idle clients (`timeout`), and samples the instantaneous rates and the
//! memory peak INFO shows.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{unix_ms, Server};
use crate::keyspace::expire::{active_expire_cycle, ExpireCursor};

/// Share of each cron period the active expiry cycle may use (Redis: 25%).
const EXPIRE_CYCLE_PERCENT: u32 = 25;

/// Runs until shutdown.
pub async fn run(srv: Arc<Server>) {
    let mut cursor = ExpireCursor::default();
    let mut shutdown = srv.shutdown_requested();
    loop {
        let hz = srv.cfg().hz.clamp(1, 500) as u64;
        let period = Duration::from_millis(1000 / hz);
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
        let srv2 = srv.clone();
        let mut c = std::mem::take(&mut cursor);
        // Keyspace work takes locks; keep it off the async workers.
        cursor = tokio::task::spawn_blocking(move || {
            tick(&srv2, &mut c, period);
            c
        })
        .await
        .unwrap_or_default();
    }
}

fn tick(srv: &Server, cursor: &mut ExpireCursor, period: Duration) {
    if srv.state.pause_cron.load(Ordering::Relaxed) {
        return;
    }
    let now = unix_ms();
    if srv.state.active_expire.load(Ordering::Relaxed) && !srv.keeps_expired_keys() {
        let budget = period * EXPIRE_CYCLE_PERCENT / 100;
        let started = std::time::Instant::now();
        active_expire_cycle(&srv.keyspace, cursor, now, budget, |txn| {
            // Expiry deletes keys; it never makes one ready for a blocked client.
            let _ = crate::command::dispatch::flush_effects(srv, txn, false);
        });
        let threshold_ms = srv.cfg().latency_monitor_threshold;
        srv.latency
            .add_if_over("expire-cycle", started.elapsed(), threshold_ms);
    }
    if !srv.state.loading.load(Ordering::Relaxed) {
        crate::persist::save::cron(srv);
        crate::persist::aof::cron(srv);
    }
    close_idle_clients(srv, now);
    srv.migrate_sockets.close_idle(now / 1000);
    sample_rates(srv, now);
    srv.stats
        .note_memory_used(super::memory::allocator_stats().allocated);
}

/// A client idle this long gives its query buffer back (as Redis's client cron does).
const QUERY_BUF_IDLE_RELEASE_MS: i64 = 2000;

/// Closes clients idle past `timeout`, and asks clients idle for a while to release their
/// query buffers.
fn close_idle_clients(srv: &Server, now_ms: i64) {
    let timeout_s = srv.cfg().timeout;
    use super::client::cflag;
    for c in srv.clients.snapshot() {
        let idle_ms = now_ms - c.last_interaction_ms.load(Ordering::Relaxed);
        let exempt = c.has_flag(cflag::REPLICA | cflag::MASTER | cflag::BLOCKED | cflag::PUBSUB);
        if timeout_s > 0 && !exempt && idle_ms > timeout_s * 1000 {
            tracing::debug!("Closing idle client");
            c.request_kill();
            continue;
        }
        let held = c.query_buf_bytes.load(Ordering::Relaxed)
            + c.query_buf_free_bytes.load(Ordering::Relaxed);
        if idle_ms >= QUERY_BUF_IDLE_RELEASE_MS
            && held > 0
            && !c.release_query_buffer.load(Ordering::Relaxed)
        {
            c.release_query_buffer.store(true, Ordering::Release);
            c.wake.notify();
        }
    }
}

fn sample_rates(srv: &Server, now_ms: i64) {
    let ops = srv.stats.sum(|c| &c.commands);
    let input = srv.stats.sum(|c| &c.net_input_bytes);
    let output = srv.stats.sum(|c| &c.net_output_bytes);
    let mut s = srv.stats.samples.lock();
    let elapsed_ms = now_ms - s.last_ms;
    if s.last_ms != 0 && elapsed_ms > 0 {
        let per_s = 1000.0 / elapsed_ms as f64;
        let (d_ops, d_in, d_out) = (
            ops.saturating_sub(s.last_ops),
            input.saturating_sub(s.last_in),
            output.saturating_sub(s.last_out),
        );
        s.ops.push(d_ops as f64 * per_s);
        s.input_kbps.push(d_in as f64 * per_s / 1024.0);
        s.output_kbps.push(d_out as f64 * per_s / 1024.0);
    }
    s.last_ms = now_ms;
    s.last_ops = ops;
    s.last_in = input;
    s.last_out = output;
}
