//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE,
//! SUNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB. The registry and delivery live in
//! [`crate::pubsub`]; the connection's own subscriptions in `Client::subscriptions`.

use std::sync::atomic::Ordering;

use rudis_resp::Argv;

use super::util::{reply_help, subcommand_syntax_error};
use crate::command::spec::{flag, keyflag, CommandSpec, KeySpec};
use crate::command::{CmdResult, Ctx};
use crate::pubsub::Kind;
use crate::server::client::{cflag, Client};
use crate::server::Server;

const SUB_FLAGS: u64 = flag::PUBSUB
    | flag::NOSCRIPT
    | flag::LOADING
    | flag::STALE
    | flag::SENTINEL
    | flag::NO_KEYSPACE;
const SHARD_SUB_FLAGS: u64 =
    flag::PUBSUB | flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::NO_KEYSPACE;
const SHARD_CHANNELS: &[KeySpec] = &[KeySpec::range(1, -1, 1, keyflag::NOT_KEY)];
const INTROSPECT: u64 = flag::PUBSUB | flag::LOADING | flag::STALE | flag::NO_KEYSPACE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("subscribe", -2, subscribe)
        .flags(SUB_FLAGS)
        .doc("pubsub", "Listen for messages published to the given channels", "2.0.0", "O(N) where N is the number of channels to subscribe to."),
    CommandSpec::new("unsubscribe", -1, unsubscribe)
        .flags(SUB_FLAGS)
        .doc("pubsub", "Stop listening for messages posted to the given channels", "2.0.0", "O(N) where N is the number of clients already subscribed to a channel."),
    CommandSpec::new("psubscribe", -2, psubscribe)
        .flags(SUB_FLAGS)
        .doc("pubsub", "Listen for messages published to channels matching the given patterns", "2.0.0", "O(N) where N is the number of patterns the client is already subscribed to."),
    CommandSpec::new("punsubscribe", -1, punsubscribe)
        .flags(SUB_FLAGS)
        .doc("pubsub", "Stop listening for messages posted to channels matching the given patterns", "2.0.0", "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client)."),
    CommandSpec::new("ssubscribe", -2, ssubscribe)
        .flags(SHARD_SUB_FLAGS)
        .keys(SHARD_CHANNELS)
        .doc("pubsub", "Listen for messages published to the given shard channels", "7.0.0", "O(N) where N is the number of shard channels to subscribe to."),
    CommandSpec::new("sunsubscribe", -1, sunsubscribe)
        .flags(SHARD_SUB_FLAGS)
        .keys(SHARD_CHANNELS)
        .doc("pubsub", "Stop listening for messages posted to the given shard channels", "7.0.0", "O(N) where N is the number of clients already subscribed to a shard channel."),
    CommandSpec::new("publish", 3, publish)
        .flags(flag::PUBSUB | flag::LOADING | flag::STALE | flag::FAST | flag::MAY_REPLICATE | flag::SENTINEL | flag::NO_KEYSPACE)
        .doc("pubsub", "Post a message to a channel", "2.0.0", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client)."),
    CommandSpec::new("spublish", 3, spublish)
        .flags(flag::PUBSUB | flag::LOADING | flag::STALE | flag::FAST | flag::MAY_REPLICATE | flag::NO_KEYSPACE)
        .keys(&[KeySpec::one(1, keyflag::NOT_KEY)])
        .doc("pubsub", "Post a message to a shard channel", "7.0.0", "O(N) where N is the number of clients subscribed to the receiving shard channel."),
    CommandSpec::new("pubsub", -2, container)
        .flags(flag::NO_KEYSPACE)
        .doc("pubsub", "A container for Pub/Sub commands", "2.8.0", "Depends on subcommand.")
        .subcommands(&[
            CommandSpec::new("channels", -2, pubsub_channels)
                .flags(INTROSPECT)
                .doc("pubsub", "List active channels", "2.8.0", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)"),
            CommandSpec::new("numsub", -2, pubsub_numsub)
                .flags(INTROSPECT)
                .doc("pubsub", "Get the count of subscribers for channels", "2.8.0", "O(N) for the NUMSUB subcommand, where N is the number of requested channels"),
            CommandSpec::new("numpat", 2, pubsub_numpat)
                .flags(INTROSPECT)
                .doc("pubsub", "Get the count of unique patterns pattern subscriptions", "2.8.0", "O(1)"),
            CommandSpec::new("shardchannels", -2, pubsub_shardchannels)
                .flags(INTROSPECT)
                .doc("pubsub", "List active shard channels", "7.0.0", "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels)."),
            CommandSpec::new("shardnumsub", -2, pubsub_shardnumsub)
                .flags(INTROSPECT)
                .doc("pubsub", "Get the count of subscribers for shard channels", "7.0.0", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels"),
            CommandSpec::new("help", 2, pubsub_help)
                .flags(flag::LOADING | flag::STALE | flag::NO_KEYSPACE)
                .doc("pubsub", "Show helpful text about the different subcommands", "6.2.0", "O(1)"),
        ]),
];

/// The container itself never runs (the gate resolves a subcommand or rejects arity).
fn container(_ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    Err("ERR wrong number of arguments for 'pubsub' command".into())
}

fn kind_words(kind: Kind) -> (&'static [u8], &'static [u8]) {
    match kind {
        Kind::Channel => (b"subscribe", b"unsubscribe"),
        Kind::Pattern => (b"psubscribe", b"punsubscribe"),
        Kind::Shard => (b"ssubscribe", b"sunsubscribe"),
    }
}

/// The count a (un)subscribe confirmation carries: shard subscriptions count apart.
fn count_for(client: &Client, kind: Kind) -> usize {
    match kind {
        Kind::Shard => client.subscriptions.shard_channels.len(),
        _ => client.subscriptions.count(),
    }
}

/// A `[kind, name, count]` confirmation (RESP3: a push).
fn confirm(ctx: &mut Ctx, word: &[u8], name: Option<&[u8]>, kind: Kind) {
    let count = count_for(ctx.client, kind);
    let start = ctx.reply.len();
    ctx.reply.push(3);
    ctx.reply.bulk(word);
    match name {
        Some(n) => ctx.reply.bulk(n),
        None => ctx.reply.null(),
    }
    ctx.reply.int(count as i64);
    // Delivered even when replies are off, as Redis delivers Pub/Sub notifications.
    ctx.client.pushed.push(start..ctx.reply.len());
}

/// Keeps the client's flags and CLIENT LIST counters in step with its subscriptions.
fn sync_info(client: &Client) {
    let s = &client.subscriptions;
    client
        .info
        .subscriptions
        .store(s.channels.len(), Ordering::Relaxed);
    client
        .info
        .pattern_subscriptions
        .store(s.patterns.len(), Ordering::Relaxed);
    client
        .info
        .shard_subscriptions
        .store(s.shard_channels.len(), Ordering::Relaxed);
    client.info.set_flag(cflag::PUBSUB, s.total() > 0);
}

fn subscribe_generic(ctx: &mut Ctx, argv: Argv, kind: Kind) -> CmdResult {
    if ctx.client.deny_blocking && !ctx.client.in_multi() {
        let name = String::from_utf8_lossy(kind_words(kind).0).to_ascii_uppercase();
        return Err(crate::err!(
            "ERR {name} isn't allowed for a DENY BLOCKING client"
        ));
    }
    for name in argv.iter().skip(1) {
        if ctx.client.subscriptions.set_of(kind).insert(name.to_vec()) {
            ctx.srv.pubsub.subscribe(kind, name, &ctx.client.info);
        }
        confirm(ctx, kind_words(kind).0, Some(name), kind);
    }
    sync_info(ctx.client);
    Ok(())
}

fn unsubscribe_generic(ctx: &mut Ctx, argv: Argv, kind: Kind) -> CmdResult {
    let word = kind_words(kind).1;
    if argv.len() == 1 {
        let all: Vec<Vec<u8>> = ctx
            .client
            .subscriptions
            .set_of(kind)
            .iter()
            .cloned()
            .collect();
        if all.is_empty() {
            confirm(ctx, word, None, kind);
        }
        for name in all {
            drop_one(ctx.srv, ctx.client, kind, &name);
            confirm(ctx, word, Some(&name), kind);
        }
    } else {
        for name in argv.iter().skip(1) {
            drop_one(ctx.srv, ctx.client, kind, name);
            confirm(ctx, word, Some(name), kind);
        }
    }
    sync_info(ctx.client);
    Ok(())
}

fn drop_one(srv: &Server, client: &mut Client, kind: Kind, name: &[u8]) {
    if client.subscriptions.set_of(kind).shift_remove(name) {
        srv.pubsub.unsubscribe(kind, name, client.id());
    }
}

/// Drops every subscription of a client (RESET, disconnect).
pub fn unsubscribe_all(srv: &Server, client: &mut Client) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in std::mem::take(client.subscriptions.set_of(kind)) {
            srv.pubsub.unsubscribe(kind, &name, client.id());
        }
    }
    sync_info(client);
}

/// SUBSCRIBE channel [channel ...]
fn subscribe(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    subscribe_generic(ctx, argv, Kind::Channel)
}

/// UNSUBSCRIBE [channel [channel ...]]
fn unsubscribe(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    unsubscribe_generic(ctx, argv, Kind::Channel)
}

/// PSUBSCRIBE pattern [pattern ...]
fn psubscribe(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    subscribe_generic(ctx, argv, Kind::Pattern)
}

/// PUNSUBSCRIBE [pattern [pattern ...]]
fn punsubscribe(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    unsubscribe_generic(ctx, argv, Kind::Pattern)
}

/// SSUBSCRIBE shardchannel [shardchannel ...]
fn ssubscribe(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    subscribe_generic(ctx, argv, Kind::Shard)
}

/// SUNSUBSCRIBE [shardchannel [shardchannel ...]]
fn sunsubscribe(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    unsubscribe_generic(ctx, argv, Kind::Shard)
}

fn publish_generic(ctx: &mut Ctx, argv: Argv, kind: Kind) -> CmdResult {
    // Replicas relay messages to their own subscribers; the AOF does not keep them.
    let name: &[u8] = if kind == Kind::Shard {
        b"SPUBLISH"
    } else {
        b"PUBLISH"
    };
    ctx.txn.propagate_to(
        &[name, argv.get(1), argv.get(2)],
        crate::propagate::target::REPLICAS,
    );
    let limit = ctx.srv.cfg().client_output_buffer_limit.pubsub;
    let delivery =
        ctx.srv
            .pubsub
            .publish(kind, argv.get(1), argv.get(2), Some(ctx.client.id()), limit);
    // The publisher's own copy goes out before the reply, as Redis writes it.
    ctx.reply.raw(&delivery.own_copy);
    ctx.reply.int(delivery.receivers as i64);
    Ok(())
}

/// PUBLISH channel message
fn publish(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    publish_generic(ctx, argv, Kind::Channel)
}

/// SPUBLISH shardchannel message
fn spublish(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    publish_generic(ctx, argv, Kind::Shard)
}

fn list_channels(ctx: &mut Ctx, argv: Argv, kind: Kind) -> CmdResult {
    if argv.len() > 3 {
        return Err(subcommand_syntax_error(argv));
    }
    let names = ctx.srv.pubsub.active(kind, argv.try_get(2));
    ctx.reply.bulks(names.iter().map(Vec::as_slice));
    Ok(())
}

fn count_subscribers(ctx: &mut Ctx, argv: Argv, kind: Kind) -> CmdResult {
    // A flat array even in RESP3, as Redis sends it.
    ctx.reply.array((argv.len() - 2) * 2);
    for name in argv.iter().skip(2) {
        ctx.reply.bulk(name);
        ctx.reply.int(ctx.srv.pubsub.subscribers(kind, name) as i64);
    }
    Ok(())
}

/// PUBSUB CHANNELS [pattern]
fn pubsub_channels(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    list_channels(ctx, argv, Kind::Channel)
}

/// PUBSUB SHARDCHANNELS [pattern]
fn pubsub_shardchannels(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    list_channels(ctx, argv, Kind::Shard)
}

/// PUBSUB NUMSUB [channel [channel ...]]
fn pubsub_numsub(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    count_subscribers(ctx, argv, Kind::Channel)
}

/// PUBSUB SHARDNUMSUB [shardchannel [shardchannel ...]]
fn pubsub_shardnumsub(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    count_subscribers(ctx, argv, Kind::Shard)
}

/// PUBSUB NUMPAT
fn pubsub_numpat(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    ctx.reply.int(ctx.srv.pubsub.pattern_total() as i64);
    Ok(())
}

/// PUBSUB HELP
fn pubsub_help(ctx: &mut Ctx, argv: Argv) -> CmdResult {
    reply_help(
        ctx.reply,
        argv.get(0),
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}
