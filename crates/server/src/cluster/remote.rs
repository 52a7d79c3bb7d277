//! The receiving side: runs the commands other nodes forward here.
//!
//! Forwarded commands run through the same dispatcher as a client's, as
//! an authenticated client speaking the origin client's protocol, and are
//! never routed again. The sender routed them against its view; if this
//! node's view says it does not own a command's slot (the views raced a
//! membership change), the command is not run and answers `-TRYAGAIN`
//! (inside MULTI it fails the transaction instead).
//!
//! Sessions: a client that WATCHes a key living here, through another
//! node, keeps its state here between messages (the WATCHes, then the
//! MULTI queue sent with EXEC). A session is kept only while it holds such
//! state, is released when the origin says so (UNWATCH, DISCARD, EXEC, the
//! client leaving), and is dropped after [`SESSION_IDLE_MAX`] without a
//! message, so a node that vanished cannot leak them; at most
//! [`SESSIONS_MAX`] exist.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::Mutex;
use ringcache_resp::{Frame, Limits, Proto, Reply, RequestParser};
use ringcache_transport::{BoxFuture, Handler, Message, NodeId};

use super::forward::{encode_acks, encode_remote_write, RemoteWrite, KIND_ACKS, KIND_PING, KIND_RELEASE, KIND_RUN};
use super::gossip::{KIND_FORGET, KIND_GOSSIP};
use super::replicate::{self, Submitted, KIND_REPLICATION};
use crate::client::{Client, ClientInfo};
use crate::shared::Shared;

/// A session with no message for this long is dropped.
pub const SESSION_IDLE_MAX: Duration = Duration::from_secs(300);
/// Most sessions held for other nodes' clients at once.
pub const SESSIONS_MAX: usize = 10_000;

pub(crate) struct Sessions {
    held: Mutex<HashMap<(NodeId, u64), (Client, Instant)>>,
    max: usize,
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions { held: Mutex::default(), max: SESSIONS_MAX }
    }
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("held", &self.held.lock().len()).finish()
    }
}

impl Sessions {
    fn take(&self, key: &(NodeId, u64)) -> Option<Client> {
        self.held.lock().remove(key).map(|(c, _)| c)
    }

    /// Keeps `client` if it holds state and there is room.
    fn keep(&self, key: (NodeId, u64), client: Client) -> Kept {
        if client.state.watched.is_empty() && client.state.multi.is_none() {
            return Kept::Stateless(client);
        }
        let mut held = self.held.lock();
        if held.len() >= self.max {
            return Kept::NoRoom(client);
        }
        held.insert(key, (client, Instant::now()));
        Kept::Held
    }

    /// Drops sessions idle longer than `max`; returns them so their
    /// WATCHes can be released outside the lock.
    fn take_idle(&self, max: Duration) -> Vec<Client> {
        let mut held = self.held.lock();
        let idle: Vec<_> = held.iter().filter(|(_, (_, t))| t.elapsed() > max).map(|(k, _)| k.clone()).collect();
        idle.into_iter().filter_map(|k| held.remove(&k)).map(|(c, _)| c).collect()
    }
}

/// What [`Sessions::keep`] did with a client.
enum Kept {
    Held,
    /// Nothing to keep: handed back.
    Stateless(Client),
    /// State to keep but no room: handed back.
    NoRoom(Client),
}

/// The transport handler of a cluster node.
pub struct NodeHandler {
    shared: Weak<Shared>,
}

impl NodeHandler {
    pub fn new(shared: &Arc<Shared>) -> Arc<NodeHandler> {
        Arc::new(NodeHandler { shared: Arc::downgrade(shared) })
    }
}

impl std::fmt::Debug for NodeHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeHandler")
    }
}

pub(super) fn refuse(text: &str) -> Message {
    let mut m = BytesMut::with_capacity(text.len() + 1);
    m.put_u8(b'-');
    m.extend_from_slice(text.as_bytes());
    m.freeze()
}

/// A client for commands from another node: authenticated (the node proved
/// the cluster secret), not in CLIENT LIST.
pub(super) fn internal_client(proto: Proto, id: u64) -> Client {
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
    let mut client = Client::new(Arc::new(ClientInfo::new(id, addr, addr)), true);
    client.set_proto(proto);
    client
}

impl Handler for NodeHandler {
    fn request(&self, from: NodeId, msg: Message) -> BoxFuture<'static, Message> {
        match self.shared.upgrade() {
            // A command that needs what a running script holds waits for
            // it here, holding no lock and no thread.
            Some(shared) if shared.scripting.is_running() && waits_for_script(&shared, &msg) => Box::pin(async move {
                crate::connection::script_turn(&shared).await;
                match answer(&shared, from, msg) {
                    Answer::Now(answer) => answer,
                    Answer::Later(answer) => answer.await,
                }
            }),
            Some(shared) => match answer(&shared, from, msg) {
                Answer::Now(answer) => Box::pin(std::future::ready(answer)),
                Answer::Later(answer) => answer,
            },
            None => Box::pin(std::future::ready(refuse("CLUSTERDOWN node is shutting down"))),
        }
    }

    fn message(&self, from: NodeId, msg: Message) {
        let Some(shared) = self.shared.upgrade() else { return };
        match msg.split_first() {
            Some((&super::blocking::KIND_UNBLOCK, id)) => super::blocking::unblocked(&shared, from, id),
            Some((&KIND_RELEASE, id)) => {
                if let Ok(id) = <[u8; 8]>::try_from(id) {
                    release(&shared, from, u64::from_be_bytes(id));
                }
            }
            Some((&KIND_GOSSIP, _)) => {
                if let Some(cluster) = &shared.cluster {
                    cluster.set_reachable(&from, true);
                    cluster.gossip.receive(from, msg.slice(1..));
                }
            }
            Some((&KIND_FORGET, id)) => {
                if let Some(cluster) = &shared.cluster {
                    cluster.gossip.receive_forget(&from, id);
                }
            }
            Some((&KIND_REPLICATION, _)) => {
                if let Some(replication) = shared.cluster.as_ref().and_then(|c| Some((c, c.replication.as_ref()?))) {
                    replication.1.receive(&shared, replication.0, &from, &msg.slice(1..));
                }
            }
            _ => {}
        }
    }
}

/// An answer to a request: ready, or once the writes it made are
/// replicated.
pub(super) enum Answer {
    Now(Message),
    Later(BoxFuture<'static, Message>),
}

fn release(shared: &Shared, from: NodeId, id: u64) {
    let Some(cluster) = shared.cluster.as_ref() else { return };
    if let Some(mut client) = cluster.sessions.take(&(from, id)) {
        crate::cmd::release_watches(&shared.db, &mut client.state);
    }
}

/// Expires abandoned sessions (called by the cluster monitor).
pub(crate) fn expire_sessions(shared: &Shared, max: Duration) {
    let Some(cluster) = shared.cluster.as_ref() else { return };
    for mut client in cluster.sessions.take_idle(max) {
        crate::cmd::release_watches(&shared.db, &mut client.state);
    }
}

fn answer(shared: &Arc<Shared>, from: NodeId, msg: Message) -> Answer {
    match msg.split_first() {
        Some((&super::leave::KIND_HANDOFF, _)) => {
            let Some((cluster, replication)) = shared.cluster.as_ref().and_then(|c| Some((c, c.replication.as_ref()?)))
            else {
                return Answer::Now(refuse("ERR no replication here"));
            };
            match replication.accept_handoff(shared, cluster, &from, &msg.slice(1..)) {
                Ok(()) => Answer::Now(Message::from_static(b"+")),
                Err(why) => Answer::Now(refuse(why)),
            }
        }
        Some((&KIND_PING, _)) => {
            let catching_up =
                shared.cluster.as_ref().and_then(|c| c.replication.as_ref()).is_some_and(|r| r.is_catching_up());
            Answer::Now(super::forward::pong(catching_up))
        }
        // Delivered here, never sent on (see `pubsub::bus`).
        Some((&crate::pubsub::bus::KIND_PUBSUB, rest)) => Answer::Now(crate::pubsub::bus::receive(shared, rest)),
        Some((&KIND_RUN, rest)) if rest.len() >= 11 => {
            let proto = if rest[0] == 3 { Proto::Resp3 } else { Proto::Resp2 };
            let id = u64::from_be_bytes(rest[1..9].try_into().expect("8 bytes"));
            let dbid = u16::from_be_bytes([rest[9], rest[10]]);
            // A peer is input: a database this node does not have is
            // refused, never selected.
            if u32::from(dbid) >= shared.databases {
                return Answer::Now(refuse("ERR DB index is out of range"));
            }
            let keys = quorum_keys(shared, dbid, &rest[11..]);
            if keys.is_empty() {
                return run(shared, from, proto, id, dbid, &rest[11..]);
            }
            // R > 1: read the keys at R owners first (the newest version
            // found is applied here), then run the commands on it.
            let shared = shared.clone();
            Answer::Later(Box::pin(async move {
                if let Err(text) = replicate::quorum_read(&shared, keys).await {
                    return refuse(text);
                }
                match run(&shared, from, proto, id, dbid, &msg[12..]) {
                    Answer::Now(answer) => answer,
                    Answer::Later(answer) => answer.await,
                }
            }))
        }
        Some((&super::blocking::KIND_BLOCK, rest)) => super::blocking::answer(shared, from, rest),
        Some((&KIND_ACKS, ids)) if ids.len() % 8 == 0 => {
            let replication = shared.cluster.as_ref().and_then(|c| c.replication.as_ref());
            let counts = ids.chunks_exact(8).map(|id| {
                let id = replicate::WriteId(u64::from_be_bytes(id.try_into().expect("8 bytes")));
                replication.and_then(|r| r.acks(id))
            });
            Answer::Now(encode_acks(counts))
        }
        _ => Answer::Now(refuse("ERR unknown cluster message")),
    }
}

/// The commands of an `R` message's body, each as its arguments; `None`
/// if one is malformed (`run` refuses the message then).
fn commands_of<'a>(shared: &Shared, commands: &'a [u8]) -> Option<Vec<Vec<&'a [u8]>>> {
    let limits = shared.with_config(|c| Limits {
        bulk_len_max: c.proto_max_bulk_len as usize,
        multibulk_len_max: c.proto_max_multibulk_len as usize,
        authenticated: true,
    });
    let mut parser = RequestParser::default();
    let (mut spans, mut all, mut at) = (Vec::new(), Vec::new(), 0);
    while at < commands.len() {
        spans.clear();
        parser.clear_inline();
        let Ok(Frame::Command { end, inline: false }) = parser.frame(commands, at, &limits, &mut spans) else {
            return None;
        };
        all.push(spans.iter().map(|&(s, e)| &commands[s..e]).collect());
        at = end;
    }
    Some(all)
}

/// The keys the commands of an `R` message read that need a quorum read
/// first (R > 1); empty when none do (or the message is malformed).
fn quorum_keys(shared: &Shared, db: u16, commands: &[u8]) -> Vec<replicate::DbKey> {
    if shared.cluster.as_ref().and_then(|c| c.replication.as_ref()).is_none_or(|r| r.read_quorum() <= 1) {
        return Vec::new();
    }
    let Some(all) = commands_of(shared, commands) else { return Vec::new() };
    all.iter().flat_map(|args| replicate::quorum_keys(shared, db, args)).collect()
}

/// Whether a command of an `R` message must wait for the running script.
fn waits_for_script(shared: &Shared, msg: &[u8]) -> bool {
    let Some((&KIND_RUN, rest)) = msg.split_first() else { return false };
    let Some(commands) = rest.get(11..) else { return false };
    let Some(all) = commands_of(shared, commands) else { return false };
    all.iter().any(|args| {
        let spec = args.first().and_then(|n| crate::cmd::lookup(n));
        shared.scripting.admit(&shared.db, spec, args) == ringcache_scripting::Admit::Wait
    })
}

/// The `+` answer of an `R` message: each reply with its length, then the
/// writes the commands made here (for the client's WAIT).
fn encode_answer(replies: &[Bytes], writes: &[RemoteWrite]) -> Message {
    let len = 1 + replies.iter().map(|r| r.len() + 4).sum::<usize>() + writes.len() * super::forward::REMOTE_WRITE_LEN;
    let mut out = BytesMut::with_capacity(len);
    out.put_u8(b'+');
    for r in replies {
        out.put_u32(r.len() as u32);
        out.extend_from_slice(r);
    }
    for w in writes {
        encode_remote_write(w, &mut out);
    }
    out.freeze()
}

/// The answer to a forwarded command for a slot this node does not own.
pub const NOT_OWNER: &str = "TRYAGAIN the slot's owners changed; try again";

/// Whether this node owns the slot of every key of `args` in its current
/// view (true for commands without keys, and unknown ones, which fail as
/// they would anywhere).
fn owns_keys(cluster: &super::Cluster, spec: Option<&'static crate::cmd::CommandSpec>, args: &[&[u8]]) -> bool {
    let Some(spec) = spec.filter(|s| s.arity_ok(args.len())) else { return true };
    if matches!(spec.keys, crate::cmd::Keys::None | crate::cmd::Keys::All) {
        return true;
    }
    let view = cluster.view();
    let mut keys = spec.keys.of(args).peekable();
    if keys.peek().is_none() {
        return true;
    }
    keys.all(|k| view.owners_of(ringcache_ring::slot(k)).contains(&view.me))
}

/// Looks up the keys of the next one-key commands of a message, from
/// offset `at`, before any of them runs (`Db::warm`, as a client's batch
/// does in `connection`): their cache misses overlap instead of stalling
/// each command in turn. Where those commands end.
fn warm_ahead(shared: &Shared, dbid: u16, commands: &[u8], mut at: usize, limits: &Limits) -> usize {
    const AHEAD: usize = 16;
    let mut parser = RequestParser::default();
    let mut spans = Vec::new();
    let mut keys: smallvec::SmallVec<[(&[u8], ringcache_store::KeyHash); AHEAD]> = smallvec::SmallVec::new();
    for _ in 0..AHEAD {
        spans.clear();
        let Ok(Frame::Command { end, inline: false }) = parser.frame(commands, at, limits, &mut spans) else {
            break;
        };
        if let [name, key, ..] = spans[..] {
            let spec = crate::cmd::lookup(&commands[name.0..name.1]);
            if spec.is_some_and(|s| s.keys == crate::cmd::Keys::ONE) {
                let key = &commands[key.0..key.1];
                keys.push((key, shared.db.hash_key(key)));
            }
        }
        at = end;
    }
    if keys.len() > 1 {
        shared.db.warm(dbid, &keys);
    }
    at
}

/// Runs the commands of an `R` message, in order, in the origin client's
/// session (if it has one here), in database `dbid`. A command's reply waits for its writes to
/// reach their quorum (or becomes `-NOREPLICAS`).
fn run(shared: &Shared, from: NodeId, proto: Proto, id: u64, dbid: u16, commands: &[u8]) -> Answer {
    let Some(cluster) = shared.cluster.as_ref() else {
        return Answer::Now(refuse("CLUSTERDOWN this node is not in a cluster"));
    };
    let (limits, timeout) = shared.with_config(|c| {
        let limits = Limits {
            bulk_len_max: c.proto_max_bulk_len as usize,
            multibulk_len_max: c.proto_max_multibulk_len as usize,
            authenticated: true,
        };
        (limits, Duration::from_millis(c.cluster_timeout_ms))
    });
    let key = (from, id);
    let mut client = cluster.sessions.take(&key).unwrap_or_else(|| internal_client(proto, id));
    client.set_proto(proto);
    client.state.dbid = dbid;
    let mut parser = RequestParser::default();
    let mut spans = Vec::new();
    let mut replies: Vec<Bytes> = Vec::new();
    let mut waits = Vec::new();
    let now_ms = ringcache_store::now_ms();
    let mut at = 0;
    let mut failed = None;
    // The commands up to here have had their keys looked up ahead.
    let mut warmed_to = 0;
    while at < commands.len() {
        if at >= warmed_to {
            warmed_to = warm_ahead(shared, dbid, commands, at, &limits);
        }
        spans.clear();
        parser.clear_inline();
        match parser.frame(commands, at, &limits, &mut spans) {
            Ok(Frame::Command { end, inline: false }) => {
                let args: Vec<&[u8]> = spans.iter().map(|&(s, e)| &commands[s..e]).collect();
                let spec = args.first().and_then(|n| crate::cmd::lookup(n));
                let refused = if !owns_keys(cluster, spec, &args) {
                    if let Some(multi) = client.state.multi.as_mut() {
                        // Queued: the transaction must fail, not run without it.
                        multi.dirty = true;
                    }
                    Some(NOT_OWNER)
                } else if let ringcache_scripting::Admit::Busy(text) = shared.scripting.admit(&shared.db, spec, &args) {
                    Some(text)
                } else {
                    None
                };
                if let Some(text) = refused {
                    let mut buf = BytesMut::new();
                    Reply::error_static(text).encode(proto, &mut buf);
                    replies.push(buf.freeze());
                    at = end;
                    continue;
                }
                client.state.scope = cluster.scope_for(spec);
                let before = crate::pubsub::notify::before(shared, client.state.dbid, spec, &args, now_ms);
                let mut reply = crate::cmd::dispatch(shared, &mut client, &args, now_ms);
                if let Some(before) = before {
                    crate::pubsub::notify::after(shared, spec, &args, before, now_ms);
                }
                crate::blocking::serve(shared, &mut client.state.ready);
                client.state.scope = None;
                match replicate::submit(shared, &mut client) {
                    Submitted::Nothing => {}
                    Submitted::Waiting(w, ids) => waits.push((replies.len(), w, ids)),
                    Submitted::Refused(text) => reply = Reply::error_static(text),
                }
                let mut buf = BytesMut::new();
                reply.encode(proto, &mut buf);
                replies.push(buf.freeze());
                at = end;
            }
            // Nodes send complete RESP arrays only.
            _ => {
                failed = Some(refuse("ERR malformed forwarded command"));
                break;
            }
        }
    }
    // A subscription made by a forwarded command (SUBSCRIBE queued in a
    // transaction that runs here) could never be delivered: drop it rather
    // than keep a mailbox nobody reads.
    crate::pubsub::unsubscribe_all(&shared.pubsub, &mut client);
    match cluster.sessions.keep(key, client) {
        Kept::Held => {}
        // No state to keep: nothing to forget but WATCHes that EXEC or
        // UNWATCH already released.
        Kept::Stateless(mut client) => crate::cmd::release_watches(&shared.db, &mut client.state),
        // A WATCH that cannot be held must not answer OK: the client's
        // EXEC would then run unchecked. WATCH changes nothing else, so
        // refusing the message after running it is safe.
        Kept::NoRoom(mut client) => {
            crate::cmd::release_watches(&shared.db, &mut client.state);
            return Answer::Now(refuse("TRYAGAIN too many WATCH sessions held for clients of other nodes"));
        }
    }
    if let Some(failed) = failed {
        return Answer::Now(failed);
    }
    if waits.is_empty() {
        return Answer::Now(encode_answer(&replies, &[]));
    }
    Answer::Later(Box::pin(async move {
        let mut writes = Vec::new();
        for (i, w, ids) in waits {
            let acked = replicate::wait(w, timeout).await;
            let replicas = acked.map_or(0, |owners| owners.saturating_sub(1));
            writes.extend(ids.into_iter().map(|id| RemoteWrite { command: i, id, replicas }));
            if let Err(text) = acked {
                let mut buf = BytesMut::new();
                Reply::error_static(text).encode(proto, &mut buf);
                replies[i] = buf.freeze();
            }
        }
        encode_answer(&replies, &writes)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Cluster;
    use crate::config::Config;
    use bytes::Bytes;

    /// A cluster member of a two-node in-memory network, for feeding its
    /// handler messages directly.
    fn member() -> Shared {
        let mut config = Config::for_test();
        config.set("node-id", "a").unwrap();
        config.set("peers", "a@127.0.0.1:7001,b@127.0.0.1:7002").unwrap();
        config.set("cluster-secret", "0123456789abcdef").unwrap();
        config.set("replicas", "1").unwrap();
        let net = ringcache_transport::SimNetwork::new(1, ringcache_transport::TransportConfig::for_test()).unwrap();
        let cluster = Cluster::new(&config, Arc::new(net.add_node("a")), None, 7001).unwrap();
        Shared::with_cluster(config, Some(Arc::new(cluster)))
    }

    fn run_message(proto: u8, id: u64, commands: &[u8]) -> Vec<u8> {
        run_message_in(proto, id, 0, commands)
    }

    fn run_message_in(proto: u8, id: u64, dbid: u16, commands: &[u8]) -> Vec<u8> {
        let mut m = vec![KIND_RUN, proto];
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&dbid.to_be_bytes());
        m.extend_from_slice(commands);
        m
    }

    #[test]
    fn forwarded_commands_run_in_order_and_answer_per_command() {
        let shared = Arc::new(member());
        let msg = run_message(2, 7, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        let Answer::Now(answer) = answer(&shared, NodeId::from("b"), msg.into()) else {
            panic!("no writes to wait for")
        };
        let mut want = b"+".to_vec();
        for r in [&b"+OK\r\n"[..], b"$1\r\nv\r\n"] {
            want.extend_from_slice(&(r.len() as u32).to_be_bytes());
            want.extend_from_slice(r);
        }
        assert_eq!(&answer[..], &want[..]);
    }

    #[test]
    fn forwarded_commands_run_in_the_database_the_message_names() {
        let shared = Arc::new(member());
        let set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
        let get = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        let reply = |msg: Vec<u8>| match answer(&shared, NodeId::from("b"), msg.into()) {
            Answer::Now(a) => a,
            Answer::Later(_) => panic!("no writes to wait for"),
        };
        reply(run_message_in(2, 7, 3, set));
        let found = |len: u8, body: &[u8]| [&b"+\0\0\0"[..], &[len], body].concat();
        assert_eq!(reply(run_message_in(2, 7, 3, get)), found(7, b"$1\r\nv\r\n"));
        assert_eq!(reply(run_message_in(2, 7, 0, get)), found(5, b"$-1\r\n"), "another database");
    }

    #[test]
    fn malformed_messages_are_refused_never_trusted() {
        let shared = Arc::new(member());
        let from = || NodeId::from("b");
        for bad in [
            &b""[..],
            b"Z",
            b"R",
            b"R\x02short",
            &run_message(2, 1, b"GET k\r\n"),
            &run_message(2, 1, b"*2\r\n$3\r\nGET\r\n$1\r\n"),
            &run_message(2, 1, b"*1\r\n+x\r\n"),
            &run_message(2, 1, b"*9999999999\r\n"),
            // A database this node does not have (16 by default).
            &run_message_in(2, 1, 16, b"*1\r\n$4\r\nPING\r\n"),
            &run_message_in(2, 1, u16::MAX, b"*1\r\n$4\r\nPING\r\n"),
        ] {
            let Answer::Now(a) = answer(&shared, from(), Bytes::copy_from_slice(bad)) else {
                panic!("refused at once")
            };
            assert_eq!(a.first(), Some(&b'-'), "{bad:?} got {a:?}");
        }
        // Random bytes after a valid header: refused or answered, no panic.
        let alphabet = b"*$\r\n0123GETSETk";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let len = (seed % 64) as usize;
            let body: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let Answer::Now(a) = answer(&shared, from(), run_message(3, 2, &body).into()) else { panic!("one node") };
            assert!(matches!(a.first(), Some(b'+' | b'-')));
        }
        // A one-way message of the wrong shape is ignored.
        NodeHandler::new(&Arc::new(member())).message(from(), Bytes::from_static(b"Xshort"));
    }

    #[test]
    fn only_clients_with_state_are_kept_and_only_while_there_is_room() {
        let sessions = Sessions { held: Mutex::default(), max: 1 };
        let node = NodeId::from("a");
        let watching = |id| {
            let mut c = internal_client(Proto::Resp2, id);
            c.state.watched.push((0, Bytes::from_static(b"k"), 0));
            c
        };
        assert!(matches!(sessions.keep((node.clone(), 1), internal_client(Proto::Resp2, 1)), Kept::Stateless(_)));
        assert!(matches!(sessions.keep((node.clone(), 1), watching(1)), Kept::Held));
        assert!(matches!(sessions.keep((node.clone(), 2), watching(2)), Kept::NoRoom(_)));
        assert!(sessions.take(&(node.clone(), 1)).is_some());
        assert!(sessions.take(&(node.clone(), 1)).is_none());
        assert!(matches!(sessions.keep((node.clone(), 2), watching(2)), Kept::Held));
        assert!(sessions.take_idle(Duration::from_secs(60)).is_empty());
        assert_eq!(sessions.take_idle(Duration::ZERO).len(), 1);
    }
}
