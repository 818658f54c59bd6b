//! INFO persistence and replication (the latter rendered by `replication::info`): the RDB
//! and AOF fields come from the persistence state.

use std::sync::atomic::Ordering;

use super::{field, yes};
use crate::server::Server;

/// The running BGSAVE's progress. Without a fork there is no copy-on-write; its counterpart
/// is what writers encoded ahead of the serializer (memory the snapshot costs beyond the
/// dataset), reported in the `cow` fields. All zeros when no BGSAVE runs.
fn save_progress(srv: &Server, out: &mut String) {
    let snap = srv
        .keyspace
        .snapshots
        .active()
        .filter(|_| srv.rdb.bgsave_running.load(Ordering::Acquire));
    let (cow_bytes, done, total) = match &snap {
        Some(s) => (
            s.early_total_bytes.load(Ordering::Relaxed),
            s.keys_done.load(Ordering::Relaxed),
            srv.rdb.keys_total.load(Ordering::Relaxed),
        ),
        None => (0, 0, 0),
    };
    let perc = if total > 0 {
        done.min(total) as f64 * 100.0 / total as f64
    } else {
        0.0
    };
    field(out, "current_cow_peak", cow_bytes);
    field(out, "current_cow_size", cow_bytes);
    field(out, "current_cow_size_age", 0);
    field(out, "current_fork_perc", format!("{perc:.2}"));
    field(out, "current_save_keys_processed", done);
    field(out, "current_save_keys_total", total);
}

pub fn persistence(srv: &Server, out: &mut String) {
    let state = &srv.state;
    let loading = state.loading.load(Ordering::Relaxed);
    let bgsave_failed = state.bgsave_failed.load(Ordering::Relaxed);
    field(out, "loading", yes(loading));
    field(
        out,
        "async_loading",
        yes(state.async_loading.load(Ordering::Relaxed)),
    );
    save_progress(srv, out);
    let rdb = &srv.rdb;
    field(
        out,
        "rdb_changes_since_last_save",
        rdb.changes_since_save(srv),
    );
    field(
        out,
        "rdb_bgsave_in_progress",
        u8::from(
            rdb.bgsave_running.load(Ordering::Acquire)
                || rdb.repl_snapshot_running.load(Ordering::Acquire),
        ),
    );
    field(
        out,
        "rdb_last_save_time",
        state.lastsave_s.load(Ordering::Relaxed),
    );
    field(
        out,
        "rdb_last_bgsave_status",
        if bgsave_failed { "err" } else { "ok" },
    );
    field(
        out,
        "rdb_last_bgsave_time_sec",
        rdb.last_bgsave_secs.load(Ordering::Relaxed),
    );
    field(
        out,
        "rdb_current_bgsave_time_sec",
        rdb.current_bgsave_secs(),
    );
    field(out, "rdb_saves", rdb.saves.load(Ordering::Relaxed));
    field(
        out,
        "rdb_last_cow_size",
        rdb.last_cow_bytes.load(Ordering::Relaxed),
    );
    field(
        out,
        "rdb_last_load_keys_expired",
        rdb.last_load_keys_expired.load(Ordering::Relaxed),
    );
    field(
        out,
        "rdb_last_load_keys_loaded",
        rdb.last_load_keys_loaded.load(Ordering::Relaxed),
    );
    crate::persist::aof::info(srv, out);
    if loading {
        loading_progress(out);
    }
}

/// The loading progress fields, shown while a dataset loads (the loader will fill them).
fn loading_progress(out: &mut String) {
    field(out, "loading_start_time", crate::server::unix_ms() / 1000);
    field(out, "loading_total_bytes", 0);
    field(out, "loading_rdb_used_mem", 0);
    field(out, "loading_loaded_bytes", 0);
    field(out, "loading_loaded_perc", "0.00");
    field(out, "loading_eta_seconds", 1);
}

pub fn replication(srv: &Server, out: &mut String) {
    crate::replication::info::render(srv, out);
}
