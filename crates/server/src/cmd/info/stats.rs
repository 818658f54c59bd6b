//! INFO stats, commandstats, errorstats and latencystats, from the sharded counters in
//! [`crate::server::stats`]. Counters of subsystems not built yet (replication syncs,
//! forks, defragmentation, tracking, pub/sub) are reported as zeros.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{field, safe_name};
use crate::config::special::format_percentile;
use crate::server::histogram::value_at_percentile;
use crate::server::stats::Counters;
use crate::server::Server;

/// A counter summed over the stats shards.
fn sum(srv: &Server, counter: fn(&Counters) -> &AtomicU64) -> u64 {
    srv.stats.sum(counter)
}

pub fn stats(srv: &Server, out: &mut String) {
    traffic(srv, out);
    field(out, "expired_keys", sum(srv, |c| &c.expired_keys));
    let stale_perc = sum(srv, |c| &c.expired_stale_perc_x100) as f64 / 100.0;
    field(out, "expired_stale_perc", format!("{stale_perc:.2}"));
    zeros(
        out,
        &[
            "expired_time_cap_reached_count",
            "expire_cycle_cpu_milliseconds",
        ],
    );
    field(out, "evicted_keys", sum(srv, |c| &c.evicted_keys));
    zeros(
        out,
        &[
            "evicted_clients",
            "total_eviction_exceeded_time",
            "current_eviction_exceeded_time",
        ],
    );
    field(out, "keyspace_hits", sum(srv, |c| &c.keyspace_hits));
    field(out, "keyspace_misses", sum(srv, |c| &c.keyspace_misses));
    not_built_yet(srv, out);
    let unexpected = sum(srv, |c| &c.unexpected_error_replies);
    field(out, "unexpected_error_replies", unexpected);
    field(out, "total_error_replies", sum(srv, |c| &c.error_replies));
    field(out, "dump_payload_sanitizations", 0);
    field(out, "total_reads_processed", sum(srv, |c| &c.io_reads));
    field(out, "total_writes_processed", sum(srv, |c| &c.io_writes));
    zeros(
        out,
        &[
            "io_threaded_reads_processed",
            "io_threaded_writes_processed",
            "reply_buffer_shrinks",
            "reply_buffer_expands",
        ],
    );
}

/// Connections, commands and bytes, with their instantaneous rates.
fn traffic(srv: &Server, out: &mut String) {
    let (ops, input_kbps, output_kbps) = {
        let s = srv.stats.samples.lock();
        (s.ops.mean(), s.input_kbps.mean(), s.output_kbps.mean())
    };
    let repl_in = sum(srv, |c| &c.net_repl_input_bytes);
    let repl_out = sum(srv, |c| &c.net_repl_output_bytes);
    let input = sum(srv, |c| &c.net_input_bytes) + repl_in;
    let output = sum(srv, |c| &c.net_output_bytes) + repl_out;
    field(
        out,
        "total_connections_received",
        sum(srv, |c| &c.connections),
    );
    field(out, "total_commands_processed", sum(srv, |c| &c.commands));
    field(out, "instantaneous_ops_per_sec", ops as u64);
    field(out, "total_net_input_bytes", input);
    field(out, "total_net_output_bytes", output);
    field(out, "total_net_repl_input_bytes", repl_in);
    field(out, "total_net_repl_output_bytes", repl_out);
    field(out, "instantaneous_input_kbps", format!("{input_kbps:.2}"));
    field(
        out,
        "instantaneous_output_kbps",
        format!("{output_kbps:.2}"),
    );
    field(out, "instantaneous_input_repl_kbps", "0.00");
    field(out, "instantaneous_output_repl_kbps", "0.00");
    let rejected = sum(srv, |c| &c.rejected_connections);
    field(out, "rejected_connections", rejected);
    let r = &srv.replication;
    field(out, "sync_full", r.sync_full.load(Ordering::Relaxed));
    field(
        out,
        "sync_partial_ok",
        r.sync_partial_ok.load(Ordering::Relaxed),
    );
    field(
        out,
        "sync_partial_err",
        r.sync_partial_err.load(Ordering::Relaxed),
    );
}

fn zeros(out: &mut String, names: &[&str]) {
    for name in names {
        field(out, name, 0);
    }
}

/// Pub/sub, forks, migration, defragmentation and tracking counters, in Redis's order.
fn not_built_yet(srv: &Server, out: &mut String) {
    zeros(
        out,
        &[
            "pubsub_channels",
            "pubsub_patterns",
            "pubsubshard_channels",
            "latest_fork_usec",
        ],
    );
    field(out, "total_forks", srv.keyspace.snapshots.started());
    field(out, "migrate_cached_sockets", srv.migrate_sockets.len());
    zeros(
        out,
        &[
            "slave_expires_tracked_keys",
            "active_defrag_hits",
            "active_defrag_misses",
            "active_defrag_key_hits",
            "active_defrag_key_misses",
            "total_active_defrag_time",
            "current_active_defrag_time",
            "tracking_total_keys",
            "tracking_total_items",
            "tracking_total_prefixes",
        ],
    );
}

/// The commands and subcommands, by full name (Redis's order is its hash table's; a sorted
/// one reads better).
fn commands_by_name(srv: &Server) -> Vec<(&str, usize)> {
    let mut all: Vec<(&str, usize)> = srv
        .commands
        .all()
        .iter()
        .map(|e| (e.fullname.as_str(), e.id))
        .collect();
    all.sort_unstable();
    all
}

pub fn commandstats(srv: &Server, out: &mut String) {
    for (name, id) in commands_by_name(srv) {
        let (calls, usec, rejected, failed) = srv.stats.command_totals(id);
        if calls == 0 && rejected == 0 && failed == 0 {
            continue;
        }
        let per_call = if calls == 0 {
            0.0
        } else {
            usec as f64 / calls as f64
        };
        field(
            out,
            &format!("cmdstat_{}", safe_name(name)),
            format!(
                "calls={calls},usec={usec},usec_per_call={per_call:.2},\
                 rejected_calls={rejected},failed_calls={failed}"
            ),
        );
    }
}

pub fn errorstats(srv: &Server, out: &mut String) {
    for (code, count) in srv.stats.error_counts() {
        field(
            out,
            &format!("errorstat_{}", safe_name(&code)),
            format!("count={count}"),
        );
    }
}

pub fn latencystats(srv: &Server, out: &mut String) {
    let cfg = srv.cfg();
    if !cfg.latency_tracking {
        return;
    }
    let percentiles = &cfg.latency_tracking_info_percentiles.0;
    for (name, id) in commands_by_name(srv) {
        let Some(counts) = srv.stats.latency_counts(id) else {
            continue;
        };
        let values: Vec<String> = percentiles
            .iter()
            .map(|&p| {
                let usec = value_at_percentile(&counts, p).unwrap_or(0);
                format!("p{}={:.3}", format_percentile(p), usec as f64)
            })
            .collect();
        field(
            out,
            &format!("latency_percentiles_usec_{}", safe_name(name)),
            values.join(","),
        );
    }
}
