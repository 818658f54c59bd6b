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
