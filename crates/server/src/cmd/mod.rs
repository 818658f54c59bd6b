//! Command handlers, one module per command family, each exporting a `COMMANDS` table of
//! [`CommandSpec`] declarations. [`all`] gathers them into the server's command table.

use crate::command::CommandSpec;

pub mod acl;
pub mod admin;
pub mod bitops;
pub mod blocking;
pub mod client;
pub mod config;
pub mod connection;
pub mod debug;
pub mod expire;
pub mod function;
pub mod hash;
pub mod hll;
pub mod info;
pub mod introspection;
pub mod keys;
pub mod list;
pub mod persist;
pub mod pubsub;
pub mod replication;
pub mod scan;
pub mod scripting;
pub mod set;
pub mod sort;
pub mod stream;
pub mod stream_claim;
pub mod stream_group;
pub mod stream_info;
pub mod stream_pel;
pub mod stream_readgroup;
pub mod string;
pub mod transaction;
pub mod util;
pub mod zset;

/// Every command declaration, in no particular order.
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    [
        acl::COMMANDS,
        admin::COMMANDS,
        bitops::COMMANDS,
        blocking::COMMANDS,
        client::COMMANDS,
        config::COMMANDS,
        connection::COMMANDS,
        debug::COMMANDS,
        expire::COMMANDS,
        function::COMMANDS,
        info::COMMANDS,
        introspection::COMMANDS,
        hash::COMMANDS,
        hll::COMMANDS,
        keys::COMMANDS,
        list::COMMANDS,
        persist::COMMANDS,
        pubsub::COMMANDS,
        replication::COMMANDS,
        scripting::COMMANDS,
        set::COMMANDS,
        sort::COMMANDS,
        stream::COMMANDS,
        stream_group::COMMANDS,
        stream_readgroup::COMMANDS,
        stream_pel::COMMANDS,
        stream_claim::COMMANDS,
        stream_info::COMMANDS,
        string::COMMANDS,
        transaction::COMMANDS,
        zset::COMMANDS,
    ]
    .into_iter()
    .flatten()
}
