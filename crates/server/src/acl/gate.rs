//! The permission check of the dispatch gate and of scripts' commands: refuses what the
//! client's user may not run or touch, and records the refusal in the ACL LOG.

use rudis_resp::Argv;

use super::log::{Context, Entry, Reason};
use super::user::{Denied, Refusal};
use crate::command::error::CmdError;
use crate::command::table::CmdEntry;
use crate::server::client::Client;
use crate::server::{unix_ms, Server};

/// Takes the client's user again if any user changed since it was taken.
pub fn refresh_user(srv: &Server, client: &mut Client) {
    let epoch = srv.acl.epoch();
    if client.acl_epoch == epoch {
        return;
    }
    client.acl_epoch = epoch;
    if let Some(user) = &client.user {
        if let Some(fresh) = srv.acl.get(&user.name) {
            client.user = Some(fresh);
        }
    }
}

/// Checks the command against the client's user; logs and returns a refusal.
pub fn check(
    srv: &Server,
    client: &Client,
    entry: &CmdEntry,
    argv: Argv<'_>,
    context: Context,
) -> Result<(), Refusal> {
    let Some(user) = &client.user else {
        return Ok(());
    };
    if user.all_permissions {
        return Ok(());
    }
    user.check(entry, argv).inspect_err(|&refusal| {
        log_refusal(srv, client, entry, argv, refusal, context);
    })
}

/// Records a refusal in the ACL LOG.
pub fn log_refusal(
    srv: &Server,
    client: &Client,
    entry: &CmdEntry,
    argv: Argv<'_>,
    refusal: Refusal,
    context: Context,
) {
    let (reason, object) = match refusal.reason {
        Denied::Command => (Reason::Command, entry.fullname.as_bytes().to_vec()),
        Denied::Key => (Reason::Key, argv.get(refusal.arg_index).to_vec()),
        Denied::Channel => (Reason::Channel, argv.get(refusal.arg_index).to_vec()),
    };
    let username = client
        .user
        .as_ref()
        .map(|u| u.name.clone().into_bytes())
        .unwrap_or_default();
    log_entry(srv, client, argv, reason, context, object, username);
}

/// Records a failed AUTH of `username`.
pub fn log_auth_failure(srv: &Server, client: &Client, argv: Argv<'_>, username: &[u8]) {
    let context = if client.in_multi() {
        Context::Multi
    } else {
        Context::Toplevel
    };
    let object = argv.get(0).to_vec();
    log_entry(
        srv,
        client,
        argv,
        Reason::Auth,
        context,
        object,
        username.to_vec(),
    );
}

fn log_entry(
    srv: &Server,
    client: &Client,
    argv: Argv<'_>,
    reason: Reason,
    context: Context,
    object: Vec<u8>,
    username: Vec<u8>,
) {
    let entry = Entry {
        count: 1,
        reason,
        context,
        object,
        username,
        created_ms: unix_ms(),
        client_info: crate::cmd::client::info_line(srv, client, argv),
    };
    let max_len = usize::try_from(srv.cfg().acllog_max_len).unwrap_or(usize::MAX);
    srv.acl.log.add(entry, max_len);
}

/// The gate's error for a refusal.
pub fn refusal_error(entry: &CmdEntry, refusal: Refusal) -> CmdError {
    match refusal.reason {
        Denied::Command => crate::err!(
            "NOPERM this user has no permissions to run the '{}' command",
            entry.fullname
        ),
        Denied::Key => {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
        Denied::Channel => {
            "NOPERM this user has no permissions to access one of the channels used as arguments"
                .into()
        }
    }
}

/// A script's error for a refusal.
pub fn script_refusal_message(refusal: Refusal) -> &'static str {
    match refusal.reason {
        Denied::Command => "The user executing the script can't run this command or subcommand",
        Denied::Key => "The user executing the script can't access at least one of the keys mentioned in the command arguments",
        Denied::Channel => "The user executing the script can't publish to the channel mentioned in the command",
    }
}
