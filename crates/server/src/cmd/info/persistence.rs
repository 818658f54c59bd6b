//! INFO persistence and replication (the latter rendered by `replication::info`). The AOF
//! fields report what a fresh Redis reports (statuses `ok`, durations -1), the RDB fields
//! come from the persistence state.

use std::sync::atomic::Ordering;

use super::{field, yes};
use crate::server::Server;

pub fn persistence(srv: &Server, out: &mut String) {
    let state = &srv.state;
    let loading = state.loading.load(Ordering::Relaxed);
    let bgsave_failed = state.bgsave_failed.load(Ordering::Relaxed);
    let aof_enabled = srv.cfg().appendonly;
    field(out, "loading", yes(loading));
    field(out, "async_loading", 0);
    field(out, "current_cow_peak", 0);
    field(out, "current_cow_size", 0);
    field(out, "current_cow_size_age", 0);
    field(out, "current_fork_perc", "0.00");
    field(out, "current_save_keys_processed", 0);
    field(out, "current_save_keys_total", 0);
    let rdb = &srv.rdb;
    field(
        out,
        "rdb_changes_since_last_save",
        rdb.changes_since_save(srv),
    );
    field(
        out,
        "rdb_bgsave_in_progress",
        u8::from(rdb.bgsave_running.load(Ordering::Acquire)),
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
    field(out, "rdb_last_cow_size", 0);
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
    field(out, "aof_enabled", yes(aof_enabled));
    field(out, "aof_rewrite_in_progress", 0);
    field(out, "aof_rewrite_scheduled", 0);
    field(out, "aof_last_rewrite_time_sec", -1);
    field(out, "aof_current_rewrite_time_sec", -1);
    field(out, "aof_last_bgrewrite_status", "ok");
    field(out, "aof_rewrites", 0);
    field(out, "aof_rewrites_consecutive_failures", 0);
    field(out, "aof_last_write_status", "ok");
    field(out, "aof_last_cow_size", 0);
    field(out, "module_fork_in_progress", 0);
    field(out, "module_fork_last_cow_size", 0);
    if aof_enabled {
        for name in [
            "aof_current_size",
            "aof_base_size",
            "aof_pending_rewrite",
            "aof_buffer_length",
            "aof_pending_bio_fsync",
            "aof_delayed_fsync",
        ] {
            field(out, name, 0);
        }
    }
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
