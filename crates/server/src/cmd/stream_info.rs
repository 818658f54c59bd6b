//! XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS, XINFO HELP, with Redis 7.0's
//! fields (read counters and lag included).
//!
//! `radix-tree-keys` and `radix-tree-nodes` describe Redis's storage: they are computed from
//! the stream's node bookkeeping (each node keyed by its first ID in a compressed radix
//! tree).

use rudis_resp::{Argv, ReplyBuf};

use super::stream::{reply_entry, stream_in};
use super::util::{int_arg, is, reply_help, subcommand_syntax_error};
use crate::command::error::{CmdError, NO_SUCH_KEY};
use crate::command::spec::{acl, flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::types::stream::{format_id, Group, Stream, StreamId};

const KEY: &[KeySpec] = &[KeySpec::one(2, keyflag::RO | keyflag::ACCESS)];

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("xinfo", -2, container)
    .doc("stream", "A container for stream introspection commands", "5.0.0", "Depends on subcommand.")
    .subcommands(&[
        CommandSpec::new("consumers", 4, xinfo)
            .flags(flag::READONLY)
            .acl(acl::STREAM)
            .keys(KEY)
            .tips(&["nondeterministic_output"])
            .doc("stream", "List the consumers in a consumer group", "5.0.0", "O(1)"),
        CommandSpec::new("groups", 3, xinfo)
            .flags(flag::READONLY)
            .acl(acl::STREAM)
            .keys(KEY)
            .history(&[("7.0.0", "Added the `entries-read` and `lag` fields")])
            .doc("stream", "List the consumer groups of a stream", "5.0.0", "O(1)"),
        CommandSpec::new("stream", -3, xinfo)
            .flags(flag::READONLY)
            .acl(acl::STREAM)
            .keys(KEY)
            .history(&[
                ("6.0.0", "Added the `FULL` modifier."),
                ("7.0.0", "Added the `max-deleted-entry-id`, `entries-added`, `recorded-first-entry-id`, `entries-read` and `lag` fields"),
            ])
            .doc("stream", "Get information about a stream", "5.0.0", "O(1)"),
        CommandSpec::new("help", 2, help)
            .flags(flag::LOADING | flag::STALE)
            .acl(acl::STREAM)
            .doc("stream", "Show helpful text about the different subcommands", "5.0.0", "O(1)"),
    ])];

/// The container itself never runs: the gate resolves a subcommand or rejects the arity.
fn container(_ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    Err("ERR wrong number of arguments for 'xinfo' command".into())
}

/// XINFO HELP
fn help(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    const LINES: &[&str] = &[
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
    ];
    reply_help(ctx.reply, b"XINFO", LINES);
    Ok(())
}

/// XINFO CONSUMERS | GROUPS | STREAM
fn xinfo(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    let key = argv.get(2);
    let now_ms = ctx.now_ms();
    let s = stream_in(ctx.txn, key)?.ok_or(NO_SUCH_KEY)?;
    let sub = argv.get(1);
    let reply = &mut *ctx.reply;
    if is(sub, "consumers") {
        let group = argv.get(3);
        let g = s.groups.get(group).ok_or_else(|| {
            crate::err!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                String::from_utf8_lossy(group),
                String::from_utf8_lossy(key)
            )
        })?;
        reply.array(g.consumers.len());
        for (name, c) in &g.consumers {
            reply.map(3);
            reply.bulk(b"name");
            reply.bulk(name);
            reply.bulk(b"pending");
            reply.int(c.pending.len() as i64);
            reply.bulk(b"idle");
            reply.int((now_ms - c.seen_time_ms).max(0));
        }
    } else if is(sub, "groups") {
        reply.array(s.groups.len());
        for (name, g) in &s.groups {
            reply.map(6);
            reply.bulk(b"name");
            reply.bulk(name);
            reply.bulk(b"consumers");
            reply.int(g.consumers.len() as i64);
            reply.bulk(b"pending");
            reply.int(g.pel.len() as i64);
            group_counters(reply, s, g);
        }
    } else {
        let full = parse_stream_options(argv)?;
        stream_info(reply, s, full);
    }
    Ok(())
}

/// `FULL [COUNT n]`: `None` without FULL, else the count (0: everything).
fn parse_stream_options(argv: Argv) -> Result<Option<usize>, CmdError> {
    match argv.len() {
        3 => Ok(None),
        4 | 6 if is(argv.get(3), "full") => {
            if argv.len() == 4 {
                return Ok(Some(10));
            }
            if !is(argv.get(4), "count") {
                return Err(subcommand_syntax_error(argv));
            }
            let n = int_arg(argv.get(5))?;
            Ok(Some(if n < 0 { 10 } else { n as usize }))
        }
        _ => Err(subcommand_syntax_error(argv)),
    }
}

/// `last-delivered-id`, `entries-read` and `lag`.
fn group_counters(reply: &mut ReplyBuf, s: &Stream, g: &Group) {
    reply.bulk(b"last-delivered-id");
    reply.bulk(&format_id(g.last_id));
    reply.bulk(b"entries-read");
    match g.entries_read {
        Some(n) => reply.int(n as i64),
        None => reply.null(),
    }
    reply.bulk(b"lag");
    match s.group_lag(g) {
        Some(n) => reply.int(n),
        None => reply.null(),
    }
}

fn stream_info(reply: &mut ReplyBuf, s: &Stream, full: Option<usize>) {
    reply.map(if full.is_some() { 9 } else { 10 });
    let masters = node_masters(s);
    reply.bulk(b"length");
    reply.int(s.len() as i64);
    reply.bulk(b"radix-tree-keys");
    reply.int(masters.len() as i64);
    reply.bulk(b"radix-tree-nodes");
    reply.int(rax_nodes(&masters) as i64);
    reply.bulk(b"last-generated-id");
    reply.bulk(&format_id(s.last_id));
    reply.bulk(b"max-deleted-entry-id");
    reply.bulk(&format_id(s.max_deleted_id));
    reply.bulk(b"entries-added");
    reply.int(s.entries_added as i64);
    reply.bulk(b"recorded-first-entry-id");
    reply.bulk(&format_id(s.first_id()));
    match full {
        None => {
            reply.bulk(b"groups");
            reply.int(s.groups.len() as i64);
            reply.bulk(b"first-entry");
            match s.first() {
                Some(e) => reply_entry(reply, e),
                None => reply.null(),
            }
            reply.bulk(b"last-entry");
            match s.last() {
                Some(e) => reply_entry(reply, e),
                None => reply.null(),
            }
        }
        Some(count) => {
            let limit = if count == 0 { usize::MAX } else { count };
            reply.bulk(b"entries");
            let entries: Vec<_> = s
                .range(StreamId::default(), StreamId::MAX, false)
                .take(limit)
                .collect();
            reply.array(entries.len());
            for e in entries {
                reply_entry(reply, e);
            }
            reply.bulk(b"groups");
            reply.array(s.groups.len());
            for (name, g) in &s.groups {
                full_group(reply, s, name, g, limit);
            }
        }
    }
}

fn full_group(reply: &mut ReplyBuf, s: &Stream, name: &[u8], g: &Group, limit: usize) {
    reply.map(7);
    reply.bulk(b"name");
    reply.bulk(name);
    group_counters(reply, s, g);
    reply.bulk(b"pel-count");
    reply.int(g.pel.len() as i64);
    reply.bulk(b"pending");
    let n = g.pel.len().min(limit);
    reply.array(n);
    for (id, p) in g.pel.iter().take(n) {
        reply.array(4);
        reply.bulk(&format_id(*id));
        reply.bulk(&p.consumer);
        reply.int(p.delivery_time_ms);
        reply.int(p.delivery_count as i64);
    }
    reply.bulk(b"consumers");
    reply.array(g.consumers.len());
    for (cname, c) in &g.consumers {
        reply.map(4);
        reply.bulk(b"name");
        reply.bulk(cname);
        reply.bulk(b"seen-time");
        reply.int(c.seen_time_ms);
        reply.bulk(b"pel-count");
        reply.int(c.pending.len() as i64);
        reply.bulk(b"pending");
        let n = c.pending.len().min(limit);
        reply.array(n);
        for id in c.pending.iter().take(n) {
            let p = &g.pel[id];
            reply.array(3);
            reply.bulk(&format_id(*id));
            reply.int(p.delivery_time_ms);
            reply.int(p.delivery_count as i64);
        }
    }
}

/// The keys of Redis's node tree: each node's first ID.
fn node_masters(s: &Stream) -> Vec<[u8; 16]> {
    s.node_starts().map(StreamId::to_be_bytes).collect()
}

/// Nodes of a compressed radix tree (Redis's rax, head included) holding `keys`, sorted
/// 16-byte keys.
fn rax_nodes(keys: &[[u8; 16]]) -> usize {
    if keys.is_empty() {
        return 1;
    }
    subtree_nodes(keys, 0)
}

/// Nodes below (and including) the node reached after `depth` shared bytes.
fn subtree_nodes(keys: &[[u8; 16]], depth: usize) -> usize {
    if depth == 16 {
        return 1;
    }
    if keys.len() == 1 {
        // One node holding the rest of the key, then the key's own node.
        return 2;
    }
    let (first, last) = (&keys[0], &keys[keys.len() - 1]);
    let shared = (depth..16).take_while(|&i| first[i] == last[i]).count();
    if shared > 0 {
        return 1 + branch_nodes(keys, depth + shared);
    }
    branch_nodes(keys, depth)
}

/// A node branching on byte `depth`, and its children.
fn branch_nodes(keys: &[[u8; 16]], depth: usize) -> usize {
    let mut total = 1;
    let mut start = 0;
    while start < keys.len() {
        let byte = keys[start][depth];
        let end = start
            + keys[start..]
                .iter()
                .take_while(|k| k[depth] == byte)
                .count();
        total += subtree_nodes(&keys[start..end], depth + 1);
        start = end;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_tree_node_counts() {
        let key = |ms: u64| StreamId { ms, seq: 0 }.to_be_bytes();
        assert_eq!(rax_nodes(&[]), 1);
        assert_eq!(rax_nodes(&[key(1)]), 2);
        // Seven shared bytes, a branch on the eighth, each side: its sequence bytes, its leaf.
        assert_eq!(rax_nodes(&[key(1), key(2)]), 6);
    }
}
