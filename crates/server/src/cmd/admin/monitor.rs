//! MONITOR: the client receives every command other clients run (see
//! [`crate::server::monitor`] for the feed).

use rudis_resp::Argv;

use crate::command::{CmdResult, Ctx};
use crate::server::client::cflag;

/// MONITOR
///
/// A client already monitoring (or a replica) gets no reply at all, as with Redis.
pub fn monitor(ctx: &mut Ctx, _argv: Argv) -> CmdResult {
    if ctx.client.deny_blocking {
        // Inside EXEC every command must get its reply in the transaction's array.
        return Err("ERR MONITOR isn't allowed for DENY BLOCKING client".into());
    }
    let info = &ctx.client.info;
    if info.has_flag(cflag::MONITOR | cflag::REPLICA) {
        return Ok(());
    }
    info.set_flag(cflag::MONITOR, true);
    ctx.srv.monitors.add(info.clone());
    ctx.reply.ok();
    Ok(())
}
