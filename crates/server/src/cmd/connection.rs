//! Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, RESET, CLIENT.
//!
//! Authentication follows Redis's `default` user: with no `requirepass`
//! every connection starts authenticated and `AUTH default <anything>`
//! succeeds; with one, a connection must `AUTH <password>`,
//! `AUTH default <password>` or `HELLO <proto> AUTH default <password>`
//! first. A failed AUTH leaves the connection as it was. Changing
//! `requirepass` at run time does not log out connected clients.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::Bytes;
use ringcache_resp::{Proto, Reply};

use super::args::{is, parse_i64};
use super::server::{help_reply, run_subcommand, SubCommand};
use super::{flag, printable, release_watches, CmdError, CmdResult, CommandSpec, Ctx, Keys};
use crate::client::ClientInfo;
use crate::shared::Shared;

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
        name: "echo",
        arity: 2,
        flags: flag::FAST,
        keys: Keys::None,
        group: "connection",
        summary: "Returns the given string.",
        handler: echo,
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
    CommandSpec {
        name: "hello",
        arity: -1,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST | flag::NO_AUTH | flag::ALLOW_BUSY,
        keys: Keys::None,
        group: "connection",
        summary: "Handshakes with the Redis server.",
        handler: hello,
    },
    CommandSpec {
        name: "auth",
        arity: -2,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST | flag::NO_AUTH | flag::ALLOW_BUSY,
        keys: Keys::None,
        group: "connection",
        summary: "Authenticates the connection.",
        handler: auth,
    },
    CommandSpec {
        name: "reset",
        arity: 1,
        // NO_MULTI: Redis runs RESET at once inside MULTI (it ends the
        // transaction) instead of queueing it.
        flags: flag::NOSCRIPT
            | flag::LOADING
            | flag::STALE
            | flag::FAST
            | flag::NO_AUTH
            | flag::ALLOW_BUSY
            | flag::NO_MULTI,
        keys: Keys::None,
        group: "connection",
        summary: "Resets the connection.",
        handler: reset,
    },
    CommandSpec {
        name: "client",
        arity: -2,
        flags: 0,
        keys: Keys::None,
        group: "connection",
        summary: "A container for client connection commands.",
        handler: client,
    },
];

pub(super) const CLIENT_SUBCOMMANDS: &[SubCommand] = &[
    SubCommand {
        name: "client|tracking",
        arity: -3,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Controls server-assisted client-side caching for the connection.",
        handler: client_tracking,
    },
    SubCommand {
        name: "client|caching",
        arity: 3,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Instructs the server whether to track the keys in the next request.",
        handler: client_caching,
    },
    SubCommand {
        name: "client|getredir",
        arity: 2,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Returns the client ID to which the connection's tracking notifications are redirected.",
        handler: client_getredir,
    },
    SubCommand {
        name: "client|trackinginfo",
        arity: 2,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Returns information about server-assisted client-side caching for the connection.",
        handler: client_trackinginfo,
    },
    SubCommand {
        name: "client|id",
        arity: 2,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Returns the unique client ID of the connection.",
        handler: client_id,
    },
    SubCommand {
        name: "client|info",
        arity: 2,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Returns information about the connection.",
        handler: client_info,
    },
    SubCommand {
        name: "client|list",
        arity: -2,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Lists open connections.",
        handler: client_list,
    },
    SubCommand {
        name: "client|kill",
        arity: -3,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Terminates open connections.",
        handler: client_kill,
    },
    SubCommand {
        name: "client|unblock",
        arity: -3,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Unblocks a client blocked by a blocking command from a different connection.",
        handler: client_unblock,
    },
    SubCommand {
        name: "client|reply",
        arity: 3,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Instructs the server whether to reply to commands.",
        handler: client_reply,
    },
    SubCommand {
        name: "client|getname",
        arity: 2,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Returns the name of the connection.",
        handler: client_getname,
    },
    SubCommand {
        name: "client|setname",
        arity: 3,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Sets the connection name.",
        handler: client_setname,
    },
    SubCommand {
        name: "client|setinfo",
        arity: 4,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Sets information specific to the client or connection.",
        handler: client_setinfo,
    },
    SubCommand {
        name: "client|pause",
        arity: -3,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Suspends commands processing.",
        handler: client_pause,
    },
    SubCommand {
        name: "client|unpause",
        arity: 2,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Resumes processing commands from paused clients.",
        handler: client_unpause,
    },
    SubCommand {
        name: "client|no-evict",
        arity: 3,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Sets the client eviction mode of the connection.",
        handler: client_no_evict,
    },
    SubCommand {
        name: "client|no-touch",
        arity: 3,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE,
        summary: "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        handler: client_no_touch,
    },
    SubCommand {
        name: "client|help",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        summary: "Returns helpful text about the different subcommands.",
        handler: client_help,
    },
];

fn ping(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    if args.len() <= 2 && crate::pubsub::in_context(ctx.client) {
        // Redis's answer in the RESP2 Pub/Sub context (commit 2264b981).
        let arg = args.get(1).map_or(Bytes::new(), |a| Bytes::copy_from_slice(a));
        return Ok(Reply::Array(vec![Reply::bulk("pong"), Reply::Bulk(arg)]));
    }
    match args.len() {
        1 => Ok(Reply::simple("PONG")),
        2 => Ok(Reply::Bulk(Bytes::copy_from_slice(args[1]))),
        _ => Err(CmdError::WrongArity("ping".to_owned())),
    }
}

fn echo(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Bulk(Bytes::copy_from_slice(args[1])))
}

fn quit(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    ctx.client.close_after_reply = true;
    Ok(Reply::ok())
}

/// Whether `user`/`pass` are valid credentials. There is one user,
/// `default`; without `requirepass` it takes any password (Redis's
/// `nopass`).
fn credentials_ok(shared: &Shared, user: &[u8], pass: &[u8]) -> bool {
    user == b"default"
        && shared.with_config(|c| c.requirepass.as_deref().is_none_or(|p| constant_time_eq(p.as_bytes(), pass)))
}

/// Compares without returning early on the first differing byte, so the
/// time taken does not tell how much of a guessed password was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// `AUTH [username] password`.
fn auth(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let (user, pass): (&[u8], &[u8]) = match args {
        [_, pass] => {
            if ctx.shared.with_config(|c| c.requirepass.is_none()) {
                return Err(CmdError::other(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                ));
            }
            (b"default", pass)
        }
        [_, user, pass] => (user, pass),
        _ => return Err(CmdError::Syntax),
    };
    if !credentials_ok(ctx.shared, user, pass) {
        return Err(CmdError::other(WRONGPASS));
    }
    ctx.client.state.authenticated = true;
    Ok(Reply::ok())
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
fn hello(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let mut proto = None;
    if let Some(ver) = args.get(1) {
        let ver =
            parse_i64(ver).ok_or_else(|| CmdError::other("ERR Protocol version is not an integer or out of range"))?;
        proto = Some(match ver {
            2 => Proto::Resp2,
            3 => Proto::Resp3,
            _ => return Err(CmdError::other("NOPROTO unsupported protocol version")),
        });
    }
    let mut credentials = None;
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(args[i], "AUTH") && more >= 2 {
            credentials = Some((&args[i + 1], &args[i + 2]));
            i += 3;
        } else if is(args[i], "SETNAME") && more >= 1 {
            check_name(args[i + 1])?;
            name = Some(&args[i + 1]);
            i += 2;
        } else {
            return Err(CmdError::other(format!("ERR Syntax error in HELLO option '{}'", printable(args[i], 128))));
        }
    }
    if let Some((user, pass)) = credentials {
        if !credentials_ok(ctx.shared, user, pass) {
            return Err(CmdError::other(WRONGPASS));
        }
        ctx.client.state.authenticated = true;
    }
    if !ctx.client.state.authenticated {
        return Err(CmdError::other(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(name) = name {
        *ctx.client.info.name.lock() = Bytes::copy_from_slice(name);
    }
    if let Some(proto) = proto {
        // The reply below is already encoded in the new protocol.
        ctx.client.set_proto(proto);
    }
    let proto_num = if ctx.client.state.proto == Proto::Resp3 { 3 } else { 2 };
    let kv = |k: &'static str, v: Reply| (Reply::bulk(k), v);
    Ok(Reply::Map(vec![
        kv("server", Reply::bulk("redis")),
        kv("version", Reply::bulk(crate::REDIS_VERSION)),
        kv("proto", Reply::Integer(proto_num)),
        kv("id", Reply::Integer(ctx.client.id as i64)),
        kv("mode", Reply::bulk("standalone")),
        kv("role", Reply::bulk("master")),
        kv("modules", Reply::Array(Vec::new())),
    ]))
}

/// `RESET`: back to the state of a fresh connection.
fn reset(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.state.multi.take().is_some() {
        ctx.client.info.multi.store(-1, Relaxed);
    }
    // RESET is never queued nor run inside EXEC (NO_MULTI), so no shard is
    // locked here and releasing the watches may lock.
    release_watches(&ctx.shared.db, &mut ctx.client.state);
    // Leaves every channel without confirmations, as Redis's RESET does.
    crate::pubsub::unsubscribe_all(&ctx.shared.pubsub, ctx.client);
    ctx.shared.observe.monitors.remove(ctx.client.id);
    ctx.shared.tracking.disable(ctx.shared, ctx.client);
    ctx.client.set_proto(Proto::Resp2);
    ctx.client.state.dbid = 0;
    *ctx.client.info.name.lock() = Bytes::new();
    ctx.client.state.authenticated = ctx.shared.with_config(|c| c.requirepass.is_none());
    Ok(Reply::simple("RESET"))
}

// ------------------------------------------------------------------ CLIENT

fn client(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    run_subcommand(ctx, args, CLIENT_SUBCOMMANDS)
}

fn client_id(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Integer(ctx.client.id as i64))
}

fn client_info(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    ctx.client.publish();
    Ok(Reply::Verbatim(Bytes::from(format!("{}\n", ctx.client.info.list_line()))))
}

/// A client type of CLIENT LIST/KILL TYPE. A connection is `pubsub` while
/// it is subscribed to anything, `normal` otherwise (no replicas or
/// masters exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Pubsub,
    /// `master`, `replica`, `slave`: no connection is one.
    None,
}

fn client_type(arg: &[u8]) -> Result<ClientType, CmdError> {
    if is(arg, "normal") {
        Ok(ClientType::Normal)
    } else if is(arg, "pubsub") {
        Ok(ClientType::Pubsub)
    } else if ["master", "replica", "slave"].iter().any(|t| is(arg, t)) {
        Ok(ClientType::None)
    } else {
        Err(CmdError::other(format!("ERR Unknown client type '{}'", printable(arg, 128))))
    }
}

fn type_matches(ty: ClientType, info: &ClientInfo) -> bool {
    match ty {
        ClientType::Normal => !info.is_pubsub(),
        ClientType::Pubsub => info.is_pubsub(),
        ClientType::None => false,
    }
}

/// `CLIENT LIST [TYPE type | ID id [id ...]]`.
fn client_list(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    ctx.client.publish();
    let clients: Vec<Arc<ClientInfo>> = match args {
        [_, _] => ctx.shared.clients.all(),
        [_, _, opt, ty] if is(opt, "TYPE") => {
            let ty = client_type(ty)?;
            ctx.shared.clients.all().into_iter().filter(|c| type_matches(ty, c)).collect()
        }
        [_, _, opt, ids @ ..] if is(opt, "ID") && !ids.is_empty() => {
            let mut found = Vec::new();
            for id in ids {
                let id = parse_i64(id).ok_or_else(|| CmdError::other("ERR Invalid client ID"))?;
                if let Some(info) = u64::try_from(id).ok().and_then(|id| ctx.shared.clients.get(id)) {
                    found.push(info);
                }
            }
            found
        }
        _ => return Err(CmdError::Syntax),
    };
    let mut out = String::with_capacity(clients.len() * 300);
    for info in clients {
        out.push_str(&info.list_line());
        out.push('\n');
    }
    Ok(Reply::Verbatim(Bytes::from(out)))
}

/// Which clients CLIENT KILL closes.
struct KillFilter {
    addr: Option<String>,
    laddr: Option<String>,
    id: Option<u64>,
    ty: Option<ClientType>,
    skip_me: bool,
}

/// `CLIENT KILL ip:port` (replies OK or an error) or
/// `CLIENT KILL <filter> <value> ...` (replies with the number killed).
/// Killing this very connection closes it after the reply.
fn client_kill(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let old_form = args.len() == 3;
    let mut f = KillFilter { addr: None, laddr: None, id: None, ty: None, skip_me: true };
    if old_form {
        f.addr = Some(String::from_utf8_lossy(args[2]).into_owned());
        // With the old form a client may kill itself.
        f.skip_me = false;
    } else {
        for pair in args[2..].chunks(2) {
            let [opt, value] = pair else {
                return Err(CmdError::Syntax);
            };
            if is(opt, "ID") {
                let id = parse_i64(value)
                    .filter(|id| *id > 0)
                    .ok_or_else(|| CmdError::other("ERR client-id should be greater than 0"))?;
                f.id = Some(id as u64);
            } else if is(opt, "TYPE") {
                f.ty = Some(client_type(value)?);
            } else if is(opt, "ADDR") {
                f.addr = Some(String::from_utf8_lossy(value).into_owned());
            } else if is(opt, "LADDR") {
                f.laddr = Some(String::from_utf8_lossy(value).into_owned());
            } else if is(opt, "USER") {
                // Every connection is the `default` user.
                if value != b"default" {
                    return Err(CmdError::other(format!("ERR No such user '{}'", printable(value, 128))));
                }
            } else if is(opt, "SKIPME") {
                f.skip_me = match () {
                    _ if is(value, "yes") => true,
                    _ if is(value, "no") => false,
                    _ => return Err(CmdError::Syntax),
                };
            } else {
                return Err(CmdError::Syntax);
            }
        }
    }

    let me = ctx.client.id;
    let mut killed = 0i64;
    let mut kill_me = false;
    for info in ctx.shared.clients.all() {
        let matches = f.ty.is_none_or(|ty| type_matches(ty, &info))
            && f.id.is_none_or(|id| info.id == id)
            && f.addr.as_ref().is_none_or(|a| info.addr.to_string() == *a)
            && f.laddr.as_ref().is_none_or(|a| info.laddr.to_string() == *a);
        if !matches || (info.id == me && f.skip_me) {
            continue;
        }
        if info.id == me {
            kill_me = true;
        } else {
            info.kill.cancel();
        }
        killed += 1;
    }
    if kill_me {
        ctx.client.close_after_reply = true;
    }
    if !old_form {
        return Ok(Reply::Integer(killed));
    }
    if killed == 0 {
        return Err(CmdError::other("ERR No such client"));
    }
    Ok(Reply::ok())
}

/// `CLIENT REPLY ON|OFF|SKIP`. The connection drops the replies (see
/// `Client::mute_reply`): OFF's own, SKIP's own and the next command's.
fn client_reply(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let c = &mut *ctx.client;
    if is(args[2], "ON") {
        c.reply_off = false;
        c.reply_skip = 0;
        Ok(Reply::ok())
    } else if is(args[2], "OFF") {
        c.reply_off = true;
        Ok(Reply::ok())
    } else if is(args[2], "SKIP") {
        if !c.reply_off {
            c.reply_skip = 2;
        }
        Ok(Reply::ok())
    } else {
        Err(CmdError::Syntax)
    }
}

/// `CLIENT PAUSE timeout [WRITE|ALL]` (milliseconds; ALL by default):
/// this node's clients wait before their next command (all of them, or
/// those that may write) until the timeout or CLIENT UNPAUSE; see
/// `crate::pause`. Like Redis, the mode is checked before the timeout.
fn client_pause(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let all = match args.get(3) {
        None => true,
        Some(mode) if is(mode, "WRITE") => false,
        Some(mode) if is(mode, "ALL") => true,
        Some(_) => return Err(CmdError::other("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    if args.len() > 4 {
        return Err(CmdError::Syntax);
    }
    // Redis reads it as a long double and rounds up.
    let ms = std::str::from_utf8(args[2])
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| CmdError::other("ERR timeout is not an integer or out of range"))?
        .ceil();
    if ms < 0.0 {
        return Err(CmdError::other("ERR timeout is negative"));
    }
    if ms >= i64::MAX as f64 {
        return Err(CmdError::other("ERR timeout is out of range"));
    }
    ctx.shared.pause.pause(&ctx.shared.db, std::time::Duration::from_millis(ms as u64), all);
    Ok(Reply::ok())
}

/// `CLIENT UNPAUSE`: the paused clients go on at once.
fn client_unpause(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    ctx.shared.pause.unpause(&ctx.shared.db);
    Ok(Reply::ok())
}

/// `ON` or `OFF`, any case; Redis's syntax error otherwise.
fn on_off(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "ON") {
        Ok(true)
    } else if is(arg, "OFF") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// `CLIENT NO-EVICT ON|OFF`: shown as CLIENT LIST's `e` flag. ringcache
/// never evicts clients (`maxmemory-clients` has no effect), so every
/// connection is as safe as this flag makes one in Redis.
fn client_no_evict(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let on = on_off(args[2])?;
    ctx.client.info.no_evict.store(on, std::sync::atomic::Ordering::Relaxed);
    Ok(Reply::ok())
}

/// `CLIENT NO-TOUCH ON|OFF`: while on, this connection's commands (its
/// scripts' too) leave the LRU/LFU words of the keys they access alone,
/// except TOUCH (see `ClientState::no_touch`); CLIENT LIST's `T` flag.
fn client_no_touch(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let on = on_off(args[2])?;
    ctx.client.state.no_touch = on;
    ctx.client.info.no_touch.store(on, std::sync::atomic::Ordering::Relaxed);
    Ok(Reply::ok())
}

fn client_getname(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    let name = ctx.client.info.name.lock().clone();
    Ok(if name.is_empty() { Reply::Null } else { Reply::Bulk(name) })
}

/// A name CLIENT LIST can print: printable ASCII, no spaces.
fn is_printable_word(b: &[u8]) -> bool {
    b.iter().all(|c| (b'!'..=b'~').contains(c))
}

fn check_name(name: &[u8]) -> Result<(), CmdError> {
    if !is_printable_word(name) {
        return Err(CmdError::other("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}

/// `CLIENT SETNAME name`; an empty name clears it.
fn client_setname(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    check_name(args[2])?;
    *ctx.client.info.name.lock() = Bytes::copy_from_slice(args[2]);
    Ok(Reply::ok())
}

/// `CLIENT SETINFO LIB-NAME|LIB-VER value`.
fn client_setinfo(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let (attr, value) = (&args[2], &args[3]);
    let slot = if is(attr, "LIB-NAME") {
        &ctx.client.info.lib_name
    } else if is(attr, "LIB-VER") {
        &ctx.client.info.lib_ver
    } else {
        return Err(CmdError::other(format!("ERR Unrecognized option '{}'", printable(attr, 128))));
    };
    if !is_printable_word(value) {
        return Err(CmdError::other(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            printable(attr, 128)
        )));
    }
    *slot.lock() = Bytes::copy_from_slice(value);
    Ok(Reply::ok())
}

/// `CLIENT UNBLOCK id [TIMEOUT|ERROR]`: ends another client's blocking
/// command as its timeout would, or with `-UNBLOCKED`; 1 if it was
/// blocked. Checked in Redis's order: the reason, then the id.
fn client_unblock(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    if args.len() > 4 {
        // Redis's answer to a CLIENT subcommand it cannot parse.
        return Err(CmdError::other(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            printable(args[1], 128)
        )));
    }
    let error = match args.get(3) {
        None => false,
        Some(r) if is(r, "TIMEOUT") => false,
        Some(r) if is(r, "ERROR") => true,
        Some(_) => return Err(CmdError::other("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    let id = crate::cmd::args::int(args[2])?;
    let unblocked = u64::try_from(id).is_ok_and(|id| crate::blocking::unblock(ctx.shared, id, error));
    Ok(Reply::Integer(i64::from(unblocked)))
}

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN]
/// [OPTOUT] [NOLOOP]` (see `crate::tracking`), parsed and checked as
/// Redis's `clientCommand` does.
fn client_tracking(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let mut new = crate::tracking::Mode { on: true, ..Default::default() };
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        let a = args[j];
        if is(a, "REDIRECT") && more {
            j += 1;
            if new.redirect != 0 {
                return Err(CmdError::other("ERR A client can only redirect to a single other client"));
            }
            let id = crate::cmd::args::int(args[j])?;
            match u64::try_from(id).ok().filter(|&id| ctx.shared.clients.get(id).is_some()) {
                Some(id) => new.redirect = id,
                None => return Err(CmdError::other("ERR The client ID you want redirect to does not exist")),
            }
        } else if is(a, "BCAST") {
            new.bcast = true;
        } else if is(a, "OPTIN") {
            new.optin = true;
        } else if is(a, "OPTOUT") {
            new.optout = true;
        } else if is(a, "NOLOOP") {
            new.noloop = true;
        } else if is(a, "PREFIX") && more {
            j += 1;
            new.prefixes.push(Bytes::copy_from_slice(args[j]));
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if is(args[2], "ON") {
        crate::tracking::check(&ctx.client.tracking, &new).map_err(CmdError::other)?;
        ctx.shared.tracking.enable(ctx.shared, ctx.client, new);
    } else if is(args[2], "OFF") {
        ctx.shared.tracking.disable(ctx.shared, ctx.client);
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(Reply::ok())
}

/// `CLIENT CACHING YES|NO`: whether the next command's keys are
/// remembered, against OPTIN's or OPTOUT's default.
fn client_caching(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let mode = &ctx.client.tracking;
    if !mode.on {
        return Err(CmdError::other(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    }
    if is(args[2], "YES") {
        if !mode.optin {
            return Err(CmdError::other(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(args[2], "NO") {
        if !mode.optout {
            return Err(CmdError::other(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CmdError::Syntax);
    }
    ctx.client.caching = true;
    Ok(Reply::ok())
}

fn client_getredir(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    let mode = &ctx.client.tracking;
    Ok(Reply::Integer(if mode.on { mode.redirect as i64 } else { -1 }))
}

/// `CLIENT TRACKINGINFO`: flags (a set), redirect, prefixes, as Redis
/// lists them.
fn client_trackinginfo(ctx: &mut Ctx<'_>, _args: &[&[u8]]) -> CmdResult {
    let mode = &ctx.client.tracking;
    let caching = ctx.client.caching;
    let broken = ctx.client.info.tracking.broken.load(Relaxed);
    let mut flags = vec![if mode.on { "on" } else { "off" }];
    for (set, name) in [
        (mode.bcast, "bcast"),
        (mode.optin, "optin"),
        (mode.optin && caching, "caching-yes"),
        (mode.optout, "optout"),
        (mode.optout && caching, "caching-no"),
        (mode.noloop, "noloop"),
        (broken, "broken_redirect"),
    ] {
        if set {
            flags.push(name);
        }
    }
    let mut prefixes = mode.prefixes.clone();
    // Redis lists them from its radix tree: in byte order.
    prefixes.sort();
    Ok(Reply::Map(vec![
        (Reply::bulk("flags"), Reply::Set(flags.into_iter().map(Reply::bulk).collect())),
        (Reply::bulk("redirect"), Reply::Integer(if mode.on { mode.redirect as i64 } else { -1 })),
        (Reply::bulk("prefixes"), Reply::Array(prefixes.into_iter().map(Reply::Bulk).collect())),
    ]))
}

fn client_help(_ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        args,
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "    * ID <client-id> [<client-id> ...]",
            "      Return clients with the specified IDs.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are:",
            "    * LIB-NAME: the client lib name.",
            "    * LIB-VER: the client lib version.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Will not touch LRU/LFU stats when this mode is on.",
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_printable_words() {
        assert!(is_printable_word(b"worker-1"));
        assert!(is_printable_word(b""));
        for bad in [&b"a b"[..], b"a\nb", b"\x7f", "é".as_bytes()] {
            assert!(!is_printable_word(bad), "{bad:?}");
        }
    }

    #[test]
    fn password_compare() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secrets"));
        assert!(constant_time_eq(b"", b""));
    }
}
