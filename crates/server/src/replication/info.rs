//! INFO replication, with every field Redis 7.0 prints, in its order.

use std::sync::atomic::Ordering;

use super::{replica_state, LinkState};
use crate::cmd::info::field;
use crate::server::{unix_ms, Server};

pub fn render(srv: &Server, out: &mut String) {
    let cfg = srv.cfg();
    let r = &srv.replication;
    let link = r.link.lock().as_ref().map(|l| {
        (
            l.host.clone(),
            l.port,
            l.state,
            l.last_io_ms,
            l.down_since_ms,
            (l.transfer_size, l.transfer_read),
        )
    });
    let now = unix_ms();
    match link {
        None => field(out, "role", "master"),
        Some((host, port, state, last_io_ms, down_since_ms, transfer)) => {
            field(out, "role", "slave");
            field(out, "master_host", host);
            field(out, "master_port", port);
            let up = state == LinkState::Connected;
            field(out, "master_link_status", if up { "up" } else { "down" });
            let last_io = if up { (now - last_io_ms) / 1000 } else { -1 };
            field(out, "master_last_io_seconds_ago", last_io);
            let syncing = state == LinkState::Transfer;
            field(out, "master_sync_in_progress", u8::from(syncing));
            let offset = if r.has_history.load(Ordering::Relaxed) {
                r.offset()
            } else {
                1
            };
            field(out, "slave_read_repl_offset", offset);
            field(out, "slave_repl_offset", offset);
            if syncing {
                transfer_fields(out, transfer, (now - last_io_ms) / 1000);
            }
            if !up {
                let since = if down_since_ms > 0 {
                    (now - down_since_ms) / 1000
                } else {
                    -1
                };
                field(out, "master_link_down_since_seconds", since);
            }
            field(out, "slave_priority", cfg.replica_priority);
            field(out, "slave_read_only", u8::from(cfg.replica_read_only));
            field(out, "replica_announced", u8::from(cfg.replica_announced));
        }
    }
    let replicas: Vec<_> = r.replicas.lock().iter().cloned().collect();
    field(out, "connected_slaves", replicas.len());
    if cfg.min_replicas_to_write != 0 && cfg.min_replicas_max_lag != 0 {
        field(
            out,
            "min_slaves_good_slaves",
            r.good_replicas(cfg.min_replicas_max_lag),
        );
    }
    for (i, e) in replicas.iter().enumerate() {
        let state = e.state.load(Ordering::Relaxed);
        let lag = if state == replica_state::ONLINE {
            (now - e.ack_ms.load(Ordering::Relaxed)) / 1000
        } else {
            0
        };
        field(
            out,
            &format!("slave{i}"),
            format!(
                "ip={},port={},state={},offset={},lag={}",
                e.ip,
                e.port,
                replica_state::name(state),
                e.ack_offset.load(Ordering::Relaxed),
                lag
            ),
        );
    }
    let (replid, replid2) = srv.repl.ids();
    field(out, "master_failover_state", "no-failover");
    field(out, "master_replid", replid);
    field(out, "master_replid2", replid2);
    let backlog = r.stream.info();
    field(out, "master_repl_offset", backlog.master_repl_offset);
    field(
        out,
        "second_repl_offset",
        srv.repl.second_repl_offset.load(Ordering::Relaxed),
    );
    field(out, "repl_backlog_active", u8::from(backlog.active));
    field(out, "repl_backlog_size", cfg.repl_backlog_size);
    field(
        out,
        "repl_backlog_first_byte_offset",
        backlog.first_byte_offset,
    );
    field(out, "repl_backlog_histlen", backlog.histlen);
}

fn transfer_fields(out: &mut String, (size, read): (i64, i64), last_io_s: i64) {
    let perc = if size > 0 {
        read as f64 / size as f64 * 100.0
    } else {
        0.0
    };
    field(out, "master_sync_total_bytes", size);
    field(out, "master_sync_read_bytes", read);
    field(out, "master_sync_left_bytes", size - read);
    field(out, "master_sync_perc", format!("{perc:.2}"));
    field(out, "master_sync_last_io_seconds_ago", last_io_s);
}
