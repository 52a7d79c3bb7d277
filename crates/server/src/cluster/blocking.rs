//! Blocking commands forwarded to the key's coordinator (`proxy` mode, and
//! `redis-cluster` mode for a key that reached the wrong node).
//!
//! The client stays parked on its own node; the command blocks on the
//! coordinator, where the writes to its keys happen, in rounds: each
//! round is one request that waits there at most [`round_ms`] (well
//! within the transport's request timeout, which every request must
//! honour), and answers either the command's reply or "still waiting".
//! The origin then sends the next round with the time that is left, so a
//! wait of any length (or forever) never holds a request past its
//! timeout, and a waiting client costs one request in flight, multiplexed
//! with every other on the node's pipelined connections.
//!
//! Messages:
//! - request `K`: proto byte, the client's id (u64), its database (u16),
//!   the round's length in ms (u64), then the command as a RESP array
//!   (its timeout argument already set to what is left of the client's).
//!   Answer `+` and the reply encoded in that proto; `W`: the round ended
//!   with nothing, send the next (the command to send then follows, as a
//!   RESP array, when it is not the one sent: XREAD's `$` resolved to the
//!   id it meant in the first round, so that the entries added between
//!   rounds are still new to it); or `-` and an error text.
//! - one-way `U` + client id: that client left (or was unblocked) while
//!   its command waited here: forget the wait.
//!
//! Between two rounds the client is not in the coordinator's queues, so a
//! write in that instant may serve a client that blocked after it: FIFO
//! holds within a round only (documented in the README). A blocked client
//! counts in INFO `blocked_clients` on both nodes; CLIENT UNBLOCK works on
//! its own node.
//!
//! A client that stops waiting (leaves, is unblocked) mid-round is
//! [`abandon`](RemoteBlock::abandon)ed: the coordinator is told (`U`), and
//! the round's request, which runs in a task of its own, is still heard
//! out. If the coordinator served it before the `U` arrived (or its
//! answer came just as the client closed, which the connection checks on
//! the socket before writing it), what it popped for nobody is given back
//! ([`give_back`]): pushed again to the
//! end of the list it came from (added again to the sorted set, unless the
//! member is back there meanwhile), as a write routed like any command's,
//! so it replicates and serves the next waiter. Redis never pops for a
//! client it has seen leave; this keeps that promise across nodes. A
//! BLMOVE (BRPOPLPUSH) served so is left done: its element is not lost, it
//! is in the destination; XREAD takes nothing, and XREADGROUP's entries
//! stay pending for the consumer.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use ringcache_resp::{decode_reply, encode_request, format_double, Frame, Limits, Proto, Reply, RequestParser};
use ringcache_transport::{Message, NodeId};
use tokio::task::JoinHandle;

use super::forward::{self, Entry, Merge};
use super::remote::{internal_client, refuse, Answer};
use super::replicate::{self, Submitted};
use super::route::{route, Route};
use super::Cluster;
use crate::blocking::{self, Outcome};
use crate::cmd;
use crate::shared::Shared;
use ringcache_commands::blocking::{timeout_arg, TimeoutUnit};

pub const KIND_BLOCK: u8 = b'K';
pub const KIND_UNBLOCK: u8 = b'U';

/// How many times [`give_back`] tries its write (a view changing under
/// it answers `-TRYAGAIN`), [`GIVE_BACK_PAUSE`] apart.
const GIVE_BACK_TRIES: usize = 5;
const GIVE_BACK_PAUSE: Duration = Duration::from_millis(100);

/// A round's answer from the coordinator, or why there is none (a
/// `-TRYAGAIN` text).
type RoundAnswer = Result<Message, String>;

/// How long one round waits on the coordinator: half the request
/// timeout, so its answer comes back in time.
pub fn round_ms(shared: &Shared) -> u64 {
    (shared.with_config(|c| c.cluster_timeout_ms) / 2).max(1)
}

/// A blocking command bound for another node, ready to wait in rounds.
#[derive(Debug)]
pub struct RemoteBlock {
    pub node: NodeId,
    args: Vec<Bytes>,
    timeout_at: usize,
    timeout_unit: TimeoutUnit,
    /// When the client's own timeout ends; `None`: never.
    deadline: Option<tokio::time::Instant>,
    timeout_reply: Reply,
    /// The round in flight, its request in a task of its own, so that a
    /// wait dropped mid-round leaves it to [`abandon`](Self::abandon).
    in_flight: Option<JoinHandle<RoundAnswer>>,
}

impl RemoteBlock {
    /// `None` if the command's timeout is malformed: it is then forwarded
    /// as any command, and fails there with Redis's error.
    /// Also `None` for XREAD and XREADGROUP without `BLOCK`, which never
    /// wait: they are forwarded as any read.
    pub fn new(node: NodeId, spec: &cmd::CommandSpec, args: Vec<Bytes>) -> Option<RemoteBlock> {
        let (at, unit) = timeout_arg(spec.keys, &args)?;
        let ms = unit.parse(&args[at], ringcache_store::now_ms()).ok()?;
        let deadline = (ms > 0).then(|| tokio::time::Instant::now() + Duration::from_millis(ms));
        let timeout_reply = if matches!(spec.name, "blmove" | "brpoplpush") { Reply::Null } else { Reply::NullArray };
        Some(RemoteBlock { node, args, timeout_at: at, timeout_unit: unit, deadline, timeout_reply, in_flight: None })
    }

    /// The blocking command of `entry` (a relay to another node), if it
    /// can wait there in rounds.
    pub fn of_entry(cluster: &Cluster, spec: Option<&cmd::CommandSpec>, entry: &Entry) -> Option<RemoteBlock> {
        let spec = spec?;
        let [part] = &entry.parts[..] else { return None };
        if !matches!(entry.merge, Merge::Relay) || part.node == cluster.me || part.cmds.len() != 1 {
            return None;
        }
        RemoteBlock::new(part.node.clone(), spec, part.cmds[0].clone())
    }

    /// Waits, round after round, until the coordinator answers; the reply
    /// encoded in `proto`. Dropping it (mid-round or not) must be followed
    /// by [`abandon`](Self::abandon).
    pub async fn wait(&mut self, shared: &Shared, cluster: &Arc<Cluster>, proto: Proto, id: u64, dbid: u16) -> Bytes {
        let round = Duration::from_millis(round_ms(shared));
        let request_timeout = Duration::from_millis(shared.with_config(|c| c.cluster_timeout_ms));
        loop {
            let left = self.deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                return encoded(&self.timeout_reply, proto);
            }
            // The command's own timeout becomes what is left of the
            // client's (rounded up to a millisecond, never 0 = forever).
            self.args[self.timeout_at] = match left {
                None => Bytes::from_static(b"0"),
                Some(l) => Bytes::from(self.timeout_unit.format(l.as_millis().max(1) as u64)),
            };
            let this_round = left.map_or(round, |l| l.min(round)).max(Duration::from_millis(1));
            let mut m = BytesMut::with_capacity(64 + self.args.iter().map(|a| a.len() + 16).sum::<usize>());
            m.put_u8(KIND_BLOCK);
            m.put_u8(if proto == Proto::Resp3 { 3 } else { 2 });
            m.put_u64(id);
            m.put_u16(dbid);
            m.put_u64(this_round.as_millis() as u64);
            encode_request(&self.args, &mut m);
            let round = round_request(cluster.clone(), self.node.clone(), m.freeze(), request_timeout + this_round);
            // Awaited where it is kept: a wait dropped here leaves it to
            // `abandon`.
            let handle = self.in_flight.insert(tokio::spawn(round));
            let answer =
                handle.await.unwrap_or_else(|e| Err(format!("TRYAGAIN the blocked command's round failed: {e}")));
            self.in_flight = None;
            match answer {
                Ok(msg) => match msg.split_first() {
                    Some((b'W', rerun)) => {
                        if let Some(args) = rerun_args(rerun, self.args.len()) {
                            self.args = args;
                        }
                        continue;
                    }
                    Some((b'+', reply)) => return Bytes::copy_from_slice(reply),
                    Some((b'-', text)) => return encoded(&Reply::error_bytes(text.to_vec()), proto),
                    _ => return encoded(&Reply::error_static("CLUSTERDOWN malformed answer from another node"), proto),
                },
                Err(text) => return encoded(&Reply::error(text), proto),
            }
        }
    }

    /// The client stopped waiting (it left, or CLIENT UNBLOCK): tells the
    /// coordinator, and hears out the round in flight, if any, in the
    /// background: if it was served meanwhile, what it popped goes back
    /// ([`give_back`]). `served`: the reply [`wait`](Self::wait) gave,
    /// if the client left before it could be written; it goes back too.
    pub fn abandon(
        mut self,
        shared: &Arc<Shared>,
        cluster: &Arc<Cluster>,
        proto: Proto,
        id: u64,
        dbid: u16,
        served: Option<Bytes>,
    ) {
        let round = self.in_flight.take();
        if served.is_none() {
            cancel(cluster, self.node.clone(), id);
            if round.is_none() {
                return;
            }
        }
        let (shared, cluster) = (shared.clone(), cluster.clone());
        tokio::spawn(async move {
            let reply = match (served, round) {
                (Some(reply), _) => reply,
                (None, Some(round)) => match round.await {
                    Ok(Ok(msg)) if msg.first() == Some(&b'+') => msg.slice(1..),
                    _ => return,
                },
                (None, None) => return,
            };
            give_back(&shared, &cluster, &self.args, proto, id, dbid, &reply).await;
        });
    }

    /// The command, as it is sent.
    pub fn args(&self) -> &[Bytes] {
        &self.args
    }

    /// What the client gets when CLIENT UNBLOCK ... TIMEOUT ends its wait.
    pub fn timeout_reply(&self) -> &Reply {
        &self.timeout_reply
    }
}

/// The command a `W` answer gives for the next round (XREAD's `$`
/// resolved on the coordinator), if it carries one of `len` arguments.
fn rerun_args(encoded: &[u8], len: usize) -> Option<Vec<Bytes>> {
    if encoded.is_empty() {
        return None;
    }
    let limits = Limits { bulk_len_max: usize::MAX, multibulk_len_max: usize::MAX, authenticated: true };
    let mut spans = Vec::new();
    match RequestParser::default().frame(encoded, 0, &limits, &mut spans) {
        Ok(Frame::Command { end, inline: false }) if end == encoded.len() && spans.len() == len => {
            Some(spans.iter().map(|&(s, e)| Bytes::copy_from_slice(&encoded[s..e])).collect())
        }
        _ => None,
    }
}

fn encoded(reply: &Reply, proto: Proto) -> Bytes {
    let mut out = BytesMut::new();
    reply.encode(proto, &mut out);
    out.freeze()
}

/// One round's request to `node`, bounded by `timeout`.
async fn round_request(cluster: Arc<Cluster>, node: NodeId, m: Message, timeout: Duration) -> RoundAnswer {
    match tokio::time::timeout(timeout, cluster.transport.request(&node, m)).await {
        Ok(Ok(msg)) => Ok(msg),
        Ok(Err(e)) => {
            tracing::debug!(node = %node, "blocking command not forwarded: {e}");
            Err(format!("TRYAGAIN node {node} did not answer the blocked command: {e}"))
        }
        Err(_) => Err(format!("TRYAGAIN node {node} did not answer in time")),
    }
}

/// Gives back what the blocking command `args` took for a client that had
/// left: `reply` (encoded in `proto`) is what the coordinator served it.
/// The write ([`undo`]) is routed as client `id`'s in database `dbid`, and
/// tried again while the cluster answers `-TRYAGAIN` (a view changing).
async fn give_back(
    shared: &Shared,
    cluster: &Arc<Cluster>,
    args: &[Bytes],
    proto: Proto,
    id: u64,
    dbid: u16,
    reply: &[u8],
) {
    let Ok(Some((reply, _))) = decode_reply(reply) else { return };
    let Some(push) = undo(args, reply) else { return };
    let mut last = Reply::Null;
    for _ in 0..GIVE_BACK_TRIES {
        let mut client = internal_client(proto, id);
        client.state.dbid = dbid;
        let views: Vec<&[u8]> = push.iter().map(|a| &a[..]).collect();
        let mut entry = match route(cluster, &mut client, cmd::lookup(views[0]), &views) {
            Route::Remote(entry) => entry,
            Route::Local | Route::Here => Entry::relay(cluster.me.clone(), push.clone()),
            Route::Reply(r) => Entry::ready(r),
        };
        let mut out = BytesMut::new();
        forward::execute(shared, cluster, &mut client, std::slice::from_mut(&mut entry), &mut out).await;
        last = match decode_reply(&out) {
            Ok(Some((r, _))) => r,
            _ => Reply::error_static("ERR malformed reply"),
        };
        if !matches!(&last, Reply::Error(e) if e.starts_with(b"TRYAGAIN") || e.starts_with(b"CLUSTERDOWN")) {
            break;
        }
        tokio::time::sleep(GIVE_BACK_PAUSE).await;
    }
    if let Reply::Error(e) = last {
        tracing::warn!(
            "{} served a client that had left; giving back what it took failed: {}",
            String::from_utf8_lossy(&args[0]),
            String::from_utf8_lossy(&e)
        );
    }
}

/// The write that puts back what the pop `args` answered with `reply`
/// took: `None` for anything else (a timeout's nil, an error, a command
/// that takes nothing).
fn undo(args: &[Bytes], reply: Reply) -> Option<Vec<Bytes>> {
    let name = std::str::from_utf8(&args[0]).ok()?.to_ascii_lowercase();
    let Reply::Array(mut items) = reply else { return None };
    let text = |r: &Reply| -> Option<Bytes> {
        match r {
            Reply::Bulk(b) | Reply::Simple(b) => Some(b.clone()),
            Reply::Double(d) => Some(Bytes::from(format_double(*d))),
            _ => None,
        }
    };
    let key = text(items.first()?)?;
    let mut push = Vec::new();
    match (name.as_str(), items.len()) {
        ("blpop", 2) | ("brpop", 2) => {
            let to = if name == "blpop" { "LPUSH" } else { "RPUSH" };
            push.extend([Bytes::from_static(to.as_bytes()), key, text(&items[1])?]);
        }
        ("blmpop", 2) => {
            // BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT n]: the
            // first popped was at the end, so it goes back last.
            let numkeys: usize = std::str::from_utf8(args.get(2)?).ok()?.parse().ok()?;
            let left = args.get(3 + numkeys)?.eq_ignore_ascii_case(b"left");
            let Reply::Array(popped) = items.pop()? else { return None };
            push.extend([Bytes::from_static(if left { b"LPUSH" } else { b"RPUSH" }), key]);
            for e in popped.iter().rev() {
                push.push(text(e)?);
            }
        }
        ("bzpopmin", 3) | ("bzpopmax", 3) => {
            // NX: a member added again meanwhile keeps its newer score.
            push.extend([
                Bytes::from_static(b"ZADD"),
                key,
                Bytes::from_static(b"NX"),
                text(&items[2])?,
                text(&items[1])?,
            ]);
        }
        ("bzmpop", 2) => {
            let Reply::Array(popped) = items.pop()? else { return None };
            push.extend([Bytes::from_static(b"ZADD"), key, Bytes::from_static(b"NX")]);
            for pair in &popped {
                let Reply::Array(pair) = pair else { return None };
                let [member, score] = &pair[..] else { return None };
                push.extend([text(score)?, text(member)?]);
            }
        }
        _ => return None,
    }
    Some(push)
}

/// Tells `node` that client `id` stopped waiting (one-way, in the
/// background: the client's connection does not wait for it).
fn cancel(cluster: &Arc<Cluster>, node: NodeId, id: u64) {
    let cluster = cluster.clone();
    tokio::spawn(async move {
        let mut m = BytesMut::with_capacity(9);
        m.put_u8(KIND_UNBLOCK);
        m.put_u64(id);
        let _ = cluster.transport.send(&node, m.freeze()).await;
    });
}

/// The coordinator's side of a `K` request: runs the command; if it
/// blocks, waits here for at most the round.
pub(super) fn answer(shared: &Arc<Shared>, from: NodeId, rest: &[u8]) -> Answer {
    if rest.len() < 19 {
        return Answer::Now(refuse("ERR malformed blocking command"));
    }
    let proto = if rest[0] == 3 { Proto::Resp3 } else { Proto::Resp2 };
    let id = u64::from_be_bytes(rest[1..9].try_into().expect("8 bytes"));
    let dbid = u16::from_be_bytes([rest[9], rest[10]]);
    let round_ms = u64::from_be_bytes(rest[11..19].try_into().expect("8 bytes")).min(round_ms(shared));
    if u32::from(dbid) >= shared.databases {
        return Answer::Now(refuse("ERR DB index is out of range"));
    }
    let body = &rest[19..];
    let limits = shared.with_config(|c| Limits {
        bulk_len_max: c.proto_max_bulk_len as usize,
        multibulk_len_max: c.proto_max_multibulk_len as usize,
        authenticated: true,
    });
    let mut spans = Vec::new();
    let mut parser = RequestParser::default();
    match parser.frame(body, 0, &limits, &mut spans) {
        Ok(Frame::Command { end, inline: false }) if end == body.len() => {}
        _ => return Answer::Now(refuse("ERR malformed blocking command")),
    }
    let args: Vec<&[u8]> = spans.iter().map(|&(s, e)| &body[s..e]).collect();
    let Some(name) = args.first() else {
        return Answer::Now(refuse("ERR malformed blocking command"));
    };
    let spec = cmd::lookup(name);
    if spec.is_none_or(|s| !s.has(cmd::flag::BLOCKING)) {
        return Answer::Now(refuse("ERR not a blocking command"));
    }
    let mut client = internal_client(proto, id);
    client.state.dbid = dbid;
    client.state.may_block = true;
    let now_ms = ringcache_store::now_ms();
    let prepared = cmd::prepare(shared, &mut client, &args);
    let reply = crate::connection::run_notified(shared, &mut client, &args, prepared, now_ms);
    client.state.may_block = false;
    blocking::serve(shared, &mut client.state.ready);
    let Some(block) = client.state.block.take() else {
        return finished(shared, reply, replicate::submit(shared, &mut client), proto);
    };
    // What it wrote while finding nothing (XREADGROUP's new consumer)
    // replicates, unanswered: the client waits for its data, not for that.
    let _ = replicate::submit(shared, &mut client);
    let rerun = block.rerun.is_some();
    let w = blocking::block_remote(shared, &client, block, &args, from);
    let shared = shared.clone();
    Answer::Later(Box::pin(async move {
        let own = (w.timeout_ms > 0).then_some(w.timeout_ms);
        let wait_ms = own.map_or(round_ms, |t| t.min(round_ms));
        let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
        match blocking::wait(&shared, &w, Some(deadline)).await {
            Outcome::Served(reply, submitted) => match finished(&shared, reply, submitted, proto) {
                Answer::Now(m) => m,
                Answer::Later(f) => f.await,
            },
            // Its own timeout: the origin would send no other round.
            Outcome::TimedOut if own.is_some_and(|t| t <= round_ms) => plus(&w.timeout_reply, proto),
            // The next round must run what waited here, if it differs
            // (XREAD's `$` resolved): entries added meanwhile are new.
            Outcome::TimedOut | Outcome::Gone if rerun => {
                let mut m = BytesMut::from(&b"W"[..]);
                encode_request(w.args(), &mut m);
                m.freeze()
            }
            Outcome::TimedOut | Outcome::Gone => Bytes::from_static(b"W"),
            Outcome::Unblocked => plus(&Reply::error_static(blocking::UNBLOCKED_ERROR), proto),
        }
    }))
}

fn plus(reply: &Reply, proto: Proto) -> Message {
    let mut out = BytesMut::new();
    out.put_u8(b'+');
    reply.encode(proto, &mut out);
    out.freeze()
}

/// The answer to a command that ran: at once, or once its writes reach
/// their quorum (`-NOREPLICAS` ... instead if they do not).
fn finished(shared: &Shared, reply: Reply, submitted: Submitted, proto: Proto) -> Answer {
    match submitted {
        Submitted::Nothing => Answer::Now(plus(&reply, proto)),
        Submitted::Refused(text) => Answer::Now(plus(&Reply::error_static(text), proto)),
        Submitted::Waiting(waits, _) => {
            let timeout = Duration::from_millis(shared.with_config(|c| c.cluster_timeout_ms));
            Answer::Later(Box::pin(async move {
                match replicate::wait(waits, timeout).await {
                    Ok(_) => plus(&reply, proto),
                    Err(text) => plus(&Reply::error_static(text), proto),
                }
            }))
        }
    }
}

/// A `U` message: the origin's client `id` no longer waits here.
pub(super) fn unblocked(shared: &Shared, from: NodeId, msg: &[u8]) {
    if let Ok(id) = <[u8; 8]>::try_from(msg) {
        blocking::cancel_remote(shared, &from, u64::from_be_bytes(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// A member of a two-node in-memory cluster, fed messages directly.
    fn member() -> Arc<Shared> {
        let mut config = Config::for_test();
        config.set("node-id", "a").unwrap();
        config.set("peers", "a@127.0.0.1:7001,b@127.0.0.1:7002").unwrap();
        config.set("cluster-secret", "0123456789abcdef").unwrap();
        config.set("replicas", "1").unwrap();
        let net = ringcache_transport::SimNetwork::new(1, ringcache_transport::TransportConfig::for_test()).unwrap();
        let cluster = Cluster::new(&config, Arc::new(net.add_node("a")), None, 7001).unwrap();
        Arc::new(Shared::with_cluster(config, Some(Arc::new(cluster))))
    }

    fn request(id: u64, dbid: u16, round_ms: u64, args: &[&str]) -> Vec<u8> {
        let mut m = vec![2u8];
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&dbid.to_be_bytes());
        m.extend_from_slice(&round_ms.to_be_bytes());
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        let mut body = BytesMut::new();
        encode_request(&args, &mut body);
        m.extend_from_slice(&body);
        m
    }

    fn now(a: Answer) -> Message {
        match a {
            Answer::Now(m) => m,
            Answer::Later(_) => panic!("answered at once"),
        }
    }

    #[test]
    fn malformed_rounds_are_refused_and_ready_keys_answer_at_once() {
        let shared = member();
        let from = || NodeId::from("b");
        for bad in [
            &b""[..],
            b"\x02short",
            &request(1, 16, 10, &["BLPOP", "k", "0"]),
            &request(1, 0, 10, &["GET", "k"]),
            &request(1, 0, 10, &["NOSUCH"]),
            &[2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, b'*', b'0', b'\r', b'\n'],
            &[2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, b'x'],
        ] {
            assert_eq!(now(answer(&shared, from(), bad)).first(), Some(&b'-'), "{bad:?}");
        }
        let _ = now(answer(&shared, from(), &request(1, 0, 10, &["BLPOP", "k", "x"])));
        let mut c = internal_client(Proto::Resp2, 9);
        let rpush: Vec<&[u8]> = vec![b"RPUSH", b"k", b"v"];
        cmd::dispatch(&shared, &mut c, &rpush, ringcache_store::now_ms());
        assert_eq!(
            &now(answer(&shared, from(), &request(1, 0, 10, &["BLPOP", "k", "0"])))[..],
            b"+*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
        );
    }

    #[tokio::test]
    async fn a_round_waits_at_most_its_length_and_a_write_serves_it() {
        let shared = member();
        let from = || NodeId::from("b");
        let Answer::Later(round) = answer(&shared, from(), &request(1, 0, 20, &["BLPOP", "k", "0"])) else {
            panic!("it waits")
        };
        assert_eq!(&round.await[..], b"W", "the round ended with nothing");
        assert!(shared.blocked.is_empty(), "and left the queue");

        let Answer::Later(round) = answer(&shared, from(), &request(1, 0, 5_000, &["BLPOP", "k", "0"])) else {
            panic!("it waits")
        };
        let round = tokio::spawn(round);
        while shared.blocked.is_empty() {
            tokio::task::yield_now().await;
        }
        let mut c = internal_client(Proto::Resp2, 9);
        let rpush: Vec<&[u8]> = vec![b"RPUSH", b"k", b"v"];
        cmd::dispatch(&shared, &mut c, &rpush, ringcache_store::now_ms());
        blocking::serve(&shared, &mut c.state.ready);
        assert_eq!(&round.await.unwrap()[..], b"+*2\r\n$1\r\nk\r\n$1\r\nv\r\n");

        // The origin's client left: the wait is forgotten at once.
        let Answer::Later(round) = answer(&shared, from(), &request(7, 0, 5_000, &["BLPOP", "k", "0"])) else {
            panic!("it waits")
        };
        let round = tokio::spawn(round);
        while shared.blocked.is_empty() {
            tokio::task::yield_now().await;
        }
        unblocked(&shared, from(), &7u64.to_be_bytes());
        assert_eq!(&round.await.unwrap()[..], b"W");
        assert!(shared.blocked.is_empty());
    }

    #[test]
    fn what_a_pop_took_is_pushed_back_where_it_came_from() {
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        let args = |a: &[&str]| a.iter().map(|a| b(a)).collect::<Vec<_>>();
        let bulk = |s: &str| Reply::Bulk(b(s));
        let arr = Reply::Array;
        let undone = |cmd: &[&str], reply: Reply| {
            undo(&args(cmd), reply)
                .map(|p| p.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>())
        };
        assert_eq!(undone(&["BLPOP", "a", "k", "0"], arr(vec![bulk("k"), bulk("v")])).unwrap(), ["LPUSH", "k", "v"]);
        assert_eq!(undone(&["brpop", "k", "1.5"], arr(vec![bulk("k"), bulk("v")])).unwrap(), ["RPUSH", "k", "v"]);
        // Popped from the left: v1 was the head, so it is pushed last.
        let two = arr(vec![bulk("k"), arr(vec![bulk("v1"), bulk("v2")])]);
        assert_eq!(
            undone(&["BLMPOP", "0", "2", "j", "k", "LEFT", "COUNT", "2"], two.clone()).unwrap(),
            ["LPUSH", "k", "v2", "v1"]
        );
        assert_eq!(undone(&["BLMPOP", "0", "1", "k", "right"], two).unwrap(), ["RPUSH", "k", "v2", "v1"]);
        assert_eq!(
            undone(&["BZPOPMIN", "z", "0"], arr(vec![bulk("z"), bulk("m"), bulk("1.5")])).unwrap(),
            ["ZADD", "z", "NX", "1.5", "m"]
        );
        assert_eq!(
            undone(&["BZPOPMAX", "z", "0"], arr(vec![bulk("z"), bulk("m"), Reply::Double(f64::INFINITY)])).unwrap(),
            ["ZADD", "z", "NX", "inf", "m"]
        );
        let pairs =
            arr(vec![bulk("z"), arr(vec![arr(vec![bulk("a"), Reply::Double(1.0)]), arr(vec![bulk("b"), bulk("2")])])]);
        assert_eq!(
            undone(&["BZMPOP", "0", "1", "z", "MIN", "COUNT", "2"], pairs).unwrap(),
            ["ZADD", "z", "NX", "1", "a", "2", "b"]
        );
        // Nothing taken, or nothing lost.
        assert_eq!(undone(&["BLPOP", "k", "0"], Reply::NullArray), None);
        assert_eq!(undone(&["BLMOVE", "s", "d", "LEFT", "LEFT", "0"], bulk("v")), None);
        assert_eq!(undone(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"], arr(vec![bulk("s")])), None);
    }

    #[tokio::test]
    async fn a_round_of_xread_dollar_hands_back_the_id_it_stood_for() {
        let shared = member();
        let from = || NodeId::from("b");
        let mut c = internal_client(Proto::Resp2, 9);
        let xadd: Vec<&[u8]> = vec![b"XADD", b"s", b"5-0", b"f", b"v"];
        cmd::dispatch(&shared, &mut c, &xadd, ringcache_store::now_ms());
        let Answer::Later(round) =
            answer(&shared, from(), &request(1, 0, 20, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]))
        else {
            panic!("it waits")
        };
        let answer = round.await;
        assert_eq!(answer.first(), Some(&b'W'));
        let next = rerun_args(&answer[1..], 6).expect("the command to send next");
        assert_eq!(next[5], Bytes::from_static(b"5-0"));
        assert_eq!(rerun_args(&answer[1..], 5), None, "not the command's shape");
        assert_eq!(rerun_args(b"", 6), None);
        assert!(shared.blocked.is_empty());

        // Where the timeout is, and how it is written.
        let spec = cmd::lookup(b"xread").unwrap();
        assert!(spec.has(cmd::flag::BLOCKING));
        let args = |a: &[&str]| a.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect::<Vec<_>>();
        assert!(RemoteBlock::new(from(), spec, args(&["XREAD", "STREAMS", "s", "$"])).is_none(), "no BLOCK");
        assert!(RemoteBlock::new(from(), spec, args(&["XREAD", "BLOCK", "-1", "STREAMS", "s", "$"])).is_none());
        let r =
            RemoteBlock::new(from(), spec, args(&["XREAD", "COUNT", "2", "BLOCK", "1500", "STREAMS", "block", "$"]))
                .expect("waits in rounds");
        assert_eq!(
            (r.timeout_at, r.timeout_unit, r.timeout_reply()),
            (4, TimeoutUnit::Milliseconds, &Reply::NullArray)
        );
        assert_eq!(TimeoutUnit::Milliseconds.format(1234), "1234");
        assert_eq!(TimeoutUnit::Seconds.format(1234), "1.234");
    }
}
