//! LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR/HISTOGRAM/HELP.
//!
//! Latency events are sampled by the gate and the cron into
//! [`crate::server::slowlog::LatencyMonitor`]; per-command histograms live in the stats.

use std::fmt::Write;

use rudis_resp::Argv;

use super::reply_help;
use crate::command::spec::{flag, CommandSpec};
use crate::command::table::{CmdEntry, CommandTable};
use crate::command::{CmdResult, Ctx};
use crate::server::slowlog::LatencyEvent;
use crate::server::stats::latency_bucket_bound_ns;
use crate::server::{unix_ms, Server};

const ADMIN: u64 = flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::NO_KEYSPACE;
const ALL_NODES_SPECIAL: &[&str] = &[
    "nondeterministic_output",
    "request_policy:all_nodes",
    "response_policy:special",
];

pub static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("doctor", 2, doctor)
        .flags(ADMIN)
        .tips(ALL_NODES_SPECIAL)
        .doc(
            "server",
            "Return a human readable latency analysis report.",
            "2.8.13",
            "O(1)",
        ),
    CommandSpec::new("graph", 3, graph)
        .flags(ADMIN)
        .tips(ALL_NODES_SPECIAL)
        .doc(
            "server",
            "Return a latency graph for the event.",
            "2.8.13",
            "O(1)",
        ),
    CommandSpec::new("help", 2, help)
        .flags(flag::LOADING | flag::STALE | flag::NO_KEYSPACE)
        .doc(
            "server",
            "Show helpful text about the different subcommands.",
            "2.8.13",
            "O(1)",
        ),
    CommandSpec::new("histogram", -2, histogram)
        .flags(ADMIN)
        .tips(ALL_NODES_SPECIAL)
        .doc(
            "server",
            "Return the cumulative distribution of latencies of a subset of commands or all.",
            "7.0.0",
            "O(N) where N is the number of commands with latency information being retrieved.",
        ),
    CommandSpec::new("history", 3, history)
        .flags(ADMIN)
        .tips(ALL_NODES_SPECIAL)
        .doc(
            "server",
            "Return timestamp-latency samples for the event.",
            "2.8.13",
            "O(1)",
        ),
    CommandSpec::new("latest", 2, latest)
        .flags(ADMIN)
        .tips(ALL_NODES_SPECIAL)
        .doc(
            "server",
            "Return the latest latency samples for all events.",
            "2.8.13",
            "O(1)",
        ),
    CommandSpec::new("reset", -2, reset)
        .flags(ADMIN)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(
            "server",
            "Reset latency data for one or more events.",
            "2.8.13",
            "O(1)",
        ),
];

/// LATENCY LATEST
fn latest(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let reply = &mut *ctx.reply;
    ctx.srv.latency.with_events(|events| {
        reply.array(events.len());
        for (name, ev) in events {
            let (time_s, latency_ms) = ev.samples.back().copied().unwrap_or_default();
            reply.array(4);
            reply.bulk(name.as_bytes());
            reply.int(time_s);
            reply.int(latency_ms as i64);
            reply.int(ev.max_ms as i64);
        }
    });
    Ok(())
}

/// LATENCY HISTORY event
fn history(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let name = String::from_utf8_lossy(argv.get(2));
    let reply = &mut *ctx.reply;
    ctx.srv
        .latency
        .with_events(|events| match events.get(name.as_ref()) {
            None => reply.array(0),
            Some(ev) => {
                reply.array(ev.samples.len());
                for &(time_s, latency_ms) in &ev.samples {
                    reply.array(2);
                    reply.int(time_s);
                    reply.int(latency_ms as i64);
                }
            }
        });
    Ok(())
}

/// LATENCY RESET [event [event ...]]
fn reset(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let names: Vec<&[u8]> = argv.iter().skip(2).collect();
    ctx.reply.int(ctx.srv.latency.reset(&names) as i64);
    Ok(())
}

/// LATENCY GRAPH event
fn graph(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let name = String::from_utf8_lossy(argv.get(2)).into_owned();
    let now_s = unix_ms() / 1000;
    let text = ctx
        .srv
        .latency
        .with_events(|events| events.get(&name).map(|ev| render_graph(&name, ev, now_s)));
    match text {
        Some(text) => {
            ctx.reply.verbatim("txt", text.as_bytes());
            Ok(())
        }
        None => Err(crate::err!("ERR No samples available for event '{name}'")),
    }
}

/// Columns of a latency graph.
const GRAPH_COLUMNS: usize = 80;
/// Rows of bars in a latency graph.
const GRAPH_ROWS: usize = 4;

/// The event's samples as a bar chart: a title line, a rule, then rows of bars (`_`, `o`,
/// `#` for the top of a bar, `|` below it), a blank line, and each sample's age written
/// vertically beneath its bar.
fn render_graph(name: &str, ev: &LatencyEvent, now_s: i64) -> String {
    let values: Vec<u64> = ev.samples.iter().map(|&(_, ms)| ms).collect();
    let low = values.iter().copied().min().unwrap_or(0);
    let high = values.iter().copied().max().unwrap_or(0);
    let mut out = format!(
        "{name} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
        ev.max_ms,
        "-".repeat(GRAPH_COLUMNS)
    );
    let labels: Vec<String> = ev
        .samples
        .iter()
        .map(|&(t, _)| age_label(now_s - t))
        .collect();
    for (n, start) in (0..values.len()).step_by(GRAPH_COLUMNS).enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let end = (start + GRAPH_COLUMNS).min(values.len());
        render_bars(&mut out, &values[start..end], low, high);
        render_labels(&mut out, &labels[start..end]);
    }
    out
}

/// How long ago, in the largest unit that fits: `12s`, `5m`, `3h`, `2d`.
fn age_label(age_s: i64) -> String {
    match age_s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn render_bars(out: &mut String, values: &[u64], low: u64, high: u64) {
    const FILL: [char; 3] = ['_', 'o', '#'];
    let levels = (FILL.len() * GRAPH_ROWS) as f64;
    let range = if high > low { (high - low) as f64 } else { 1.0 };
    let level =
        |v: u64| (((v - low) as f64 * levels / range) as usize).min(FILL.len() * GRAPH_ROWS - 1);
    for row in 0..GRAPH_ROWS {
        let floor = (GRAPH_ROWS - row - 1) * FILL.len();
        for &v in values {
            let l = level(v);
            out.push(match l.checked_sub(floor) {
                Some(i) if i < FILL.len() => FILL[i],
                Some(_) => '|',
                None => ' ',
            });
        }
        out.push('\n');
    }
}

fn render_labels(out: &mut String, labels: &[String]) {
    out.push_str(&" ".repeat(labels.len()));
    out.push('\n');
    let tallest = labels.iter().map(String::len).max().unwrap_or(0);
    for i in 0..tallest {
        for label in labels {
            out.push(label.as_bytes().get(i).map_or(' ', |&c| char::from(c)));
        }
        out.push('\n');
    }
}

/// LATENCY DOCTOR
fn doctor(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    let report = doctor_report(ctx.srv, unix_ms() / 1000);
    ctx.reply.verbatim("txt", report.as_bytes());
    Ok(())
}

/// Statistics of one event's samples.
struct EventStats {
    samples: u64,
    avg_ms: u64,
    /// Mean absolute deviation from the average.
    mad_ms: u64,
    /// Seconds since the oldest sample, at least 1.
    period_s: i64,
}

fn event_stats(ev: &LatencyEvent, now_s: i64) -> EventStats {
    let n = ev.samples.len() as u64;
    let sum: u64 = ev.samples.iter().map(|&(_, ms)| ms).sum();
    let avg_ms = sum.checked_div(n).unwrap_or(0);
    let deviation: u64 = ev.samples.iter().map(|&(_, ms)| ms.abs_diff(avg_ms)).sum();
    let oldest = ev.samples.iter().map(|&(t, _)| t).min().unwrap_or(now_s);
    EventStats {
        samples: n,
        avg_ms,
        mad_ms: deviation.checked_div(n).unwrap_or(0),
        period_s: (now_s - oldest).max(1),
    }
}

fn doctor_report(srv: &Server, now_s: i64) -> String {
    let threshold_ms = srv.cfg().latency_monitor_threshold;
    let slower_than_us = srv.cfg().slowlog_log_slower_than;
    srv.latency.with_events(|events| {
        if events.is_empty() && threshold_ms == 0 {
            return "Dave, latency monitoring is disabled in this server, so I have nothing to report. Enable it with \"CONFIG SET latency-monitor-threshold <milliseconds>\".\n".to_string();
        }
        if events.is_empty() {
            return "Dave, no latency spike was observed during the lifetime of this server. Good news, Dave.\n".to_string();
        }
        let mut out = String::from("Dave, I have observed latency spikes in this server.\n\n");
        for (n, (name, ev)) in events.iter().enumerate() {
            let s = event_stats(ev, now_s);
            let _ = writeln!(
                out,
                "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
                n + 1,
                name,
                s.samples,
                s.avg_ms,
                s.mad_ms,
                s.period_s as f64 / s.samples.max(1) as f64,
                ev.max_ms
            );
        }
        out.push_str("\nI have a few advices for you:\n\n");
        if events.contains_key("command") || events.contains_key("fast-command") {
            if slower_than_us < 0 {
                out.push_str("- The slow log is disabled: enable it with \"CONFIG SET slowlog-log-slower-than <microseconds>\" to see which commands are slow.\n");
            } else {
                out.push_str("- Check the slow log (SLOWLOG GET) for the commands that took long, and avoid commands whose cost grows with the size of the values they touch on large values.\n");
            }
        }
        if events.contains_key("expire-cycle") {
            out.push_str("- Many keys expiring at the same moment cause expire-cycle spikes: spread their expiry times.\n");
        }
        out.push_str("- Measure the latency the system itself adds with \"redis-cli --intrinsic-latency 100\".\n");
        out
    })
}

/// LATENCY HISTOGRAM [command [command ...]]
fn histogram(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let srv = ctx.srv;
    let table = &srv.commands;
    let mut wanted: Vec<&CmdEntry> = Vec::new();
    if argv.len() == 2 {
        for (_, entry) in table.top_level() {
            with_subcommands(table, entry, &mut wanted);
        }
    } else {
        for name in argv.iter().skip(2) {
            if let Some(entry) = crate::cmd::introspection::lookup_by_fullname(table, name) {
                with_subcommands(table, entry, &mut wanted);
            }
        }
    }
    let found: Vec<(&CmdEntry, _)> = wanted
        .into_iter()
        .filter_map(|e| srv.stats.latency_histogram(e.id).map(|h| (e, h)))
        .collect();
    ctx.reply.map(found.len());
    for (entry, buckets) in found {
        ctx.reply.bulk(entry.fullname.as_bytes());
        reply_histogram(ctx, &buckets);
    }
    Ok(())
}

fn with_subcommands<'t>(table: &'t CommandTable, entry: &'t CmdEntry, out: &mut Vec<&'t CmdEntry>) {
    out.push(entry);
    out.extend(entry.subcommand_ids().map(|id| table.get(id)));
}

/// `{calls: n, histogram_usec: {bound: cumulative calls, ...}}`, skipping buckets that add
/// nothing.
fn reply_histogram(ctx: &mut Ctx, buckets: &[u64]) {
    let total: u64 = buckets.iter().sum();
    let r = &mut *ctx.reply;
    r.map(2);
    r.bulk(b"calls");
    r.int(total as i64);
    r.bulk(b"histogram_usec");
    r.map(buckets.iter().filter(|&&n| n > 0).count());
    let mut cumulative = 0;
    for (k, &n) in buckets.iter().enumerate() {
        cumulative += n;
        if n > 0 {
            r.int((latency_bucket_bound_ns(k) / 1000) as i64);
            r.int(cumulative as i64);
        }
    }
}

/// LATENCY HELP
fn help(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    reply_help(
        ctx,
        argv,
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(samples: &[(i64, u64)]) -> LatencyEvent {
        LatencyEvent {
            samples: samples.iter().copied().collect(),
            max_ms: samples.iter().map(|s| s.1).max().unwrap_or(0),
        }
    }

    #[test]
    fn graph_draws_bars_and_vertical_ages() {
        let ev = event(&[(100, 100), (130, 300), (160, 500)]);
        let text = render_graph("command", &ev, 170);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "command - high 500 ms, low 100 ms (all time high 500 ms)"
        );
        assert_eq!(lines[1], "-".repeat(80));
        // Rows top to bottom: only the highest sample reaches the top row.
        assert_eq!(&lines[2..6], ["  #", " _|", " ||", "_||"]);
        assert_eq!(lines[6], "   ");
        // Ages 70s -> "1m", 40s, 10s, written downwards.
        assert_eq!(&lines[7..], ["141", "m00", " ss"]);
    }

    #[test]
    fn stats_average_and_deviation() {
        let s = event_stats(&event(&[(10, 100), (20, 300)]), 30);
        assert_eq!(
            (s.samples, s.avg_ms, s.mad_ms, s.period_s),
            (2, 200, 100, 20)
        );
    }
}
