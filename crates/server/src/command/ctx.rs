//! `Ctx`: what a handler gets besides its arguments: the server, the calling client, the reply
//! buffer, and the locked keyspace view.

use rudis_resp::ReplyBuf;

use super::error::CmdError;
use super::table::CmdEntry;
use crate::keyspace::txn::Txn;
use crate::server::client::Client;
use crate::server::Server;

pub struct Ctx<'a, 't> {
    pub srv: &'a Server,
    pub client: &'a mut Client,
    pub reply: &'a mut ReplyBuf,
    pub txn: &'a mut Txn<'t>,
    pub cmd: &'a CmdEntry,
}

impl Ctx<'_, '_> {
    /// Blocks the client on `keys` until one of them can satisfy the command, or until
    /// `deadline_ms` (Unix ms; `None` waits forever), when `timeout_reply` is sent. Inside
    /// MULTI or a script the timeout reply is sent at once; when the command is being run
    /// again for a waiter, the waiter simply stays blocked. Call with the keys' shards
    /// locked (they are: the keys are the command's own) and after checking them, so a push
    /// that follows cannot be missed.
    pub fn block(
        &mut self,
        argv: rudis_resp::Argv<'_>,
        keys: &[&[u8]],
        deadline_ms: Option<i64>,
        timeout_reply: fn(&mut rudis_resp::ReplyBuf),
    ) {
        use crate::keyspace::blocking::{WaitState, Waiter};
        if self.client.serving.is_some() {
            self.client.still_blocked = true;
            return;
        }
        if self.client.deny_blocking {
            timeout_reply(self.reply);
            return;
        }
        let db = self.txn.db;
        let waiter = std::sync::Arc::new(Waiter {
            client: self.client.info.clone(),
            db,
            keys: keys.iter().map(|k| k.to_vec()).collect(),
            cmd_id: self.cmd.id,
            argv: argv.iter().map(<[u8]>::to_vec).collect(),
            resp3: self.reply.is_resp3(),
            deadline_ms,
            timeout_reply,
            state: parking_lot::Mutex::new(WaitState::Waiting),
        });
        for key in keys {
            self.txn
                .shard(db, key)
                .extras_mut()
                .waiters
                .push(key, waiter.clone());
        }
        self.srv.blocked.insert(waiter.clone());
        self.client
            .info
            .set_flag(crate::server::client::cflag::BLOCKED, true);
        self.client.blocked = Some(waiter);
    }

    /// Writes an error reply in the middle of a larger reply, counting it like a returned error.
    pub fn error_reply(&mut self, e: &CmdError) {
        self.srv.stats.count_error(e.code());
        self.reply.error(e.text());
    }

    /// The command's notion of now (Unix ms).
    pub fn now_ms(&self) -> i64 {
        self.txn.now_ms
    }
}
