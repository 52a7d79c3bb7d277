//! Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, RESET, CLIENT.

use bytes::Bytes;
use ringcache_resp::Reply;

use super::{flag, CmdError, CmdResult, CommandSpec, Ctx, Keys};

pub(super) const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "ping",
        arity: -1,
        flags: flag::FAST,
        keys: Keys::None,
        group: "connection",
        summary: "Returns the server's liveliness response.",
        handler: ping,
    },
    CommandSpec {
        name: "quit",
        arity: -1,
        flags: flag::NO_AUTH
            | flag::NO_MULTI
            | flag::FAST
            | flag::LOADING
            | flag::STALE
            | flag::ALLOW_BUSY
            | flag::NOSCRIPT,
        keys: Keys::None,
        group: "connection",
        summary: "Closes the connection.",
        handler: quit,
    },
];

fn ping(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    match args.len() {
        1 => Ok(Reply::simple("PONG")),
        2 => Ok(Reply::Bulk(args[1].clone())),
        _ => Err(CmdError::WrongArity("ping".to_owned())),
    }
}

fn quit(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.client.close_after_reply = true;
    Ok(Reply::ok())
}
