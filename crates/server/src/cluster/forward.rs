//! Running commands on other nodes, and the messages that carry them.
//!
//! A connection collects a run of consecutive commands that do not run
//! (only) here, as [`Entry`]s, then [`execute`]s the run: one message per
//! node with every command of the run for that node, in order, all nodes
//! at once; parts for this node run directly. Then each entry's answers are
//! merged into its reply, and the replies are written in the commands'
//! order.
//!
//! Ordering: commands on one key always go to one node, in one message, in
//! their order, and run there in that order; a run ends before the next
//! command that runs here. So a client sees its own commands take effect
//! in the order it sent them, as with one Redis.
//!
//! A node that fails to answer is marked down at once, and the parts of
//! its message go, in a second round, to the node that serves their keys
//! now (this one included): a command that raced a node's death is
//! answered by the next owner rather than failing. A write moves only if
//! it was never sent (no connection could be made): one that may have run
//! there must not run twice, and its client gets the error. (A command retried after a view change may run
//! after a later command of the same run on the same key, which the new
//! view sent elsewhere: the race a view change allows, as `-TRYAGAIN`
//! would.)
//!
//! Messages (node to node, inside transport frames):
//! - request `R`: proto byte (2 or 3), the client's id (u64, big-endian),
//!   the client's database (u16, big-endian: the commands run in it, as
//!   if the client had SELECTed it there), then the commands as RESP
//!   arrays. The database is read when the run is sent: a run ends before
//!   any command that runs here, SELECT included, so every command of a
//!   run was issued in that database. Answer `+` then, per command, a u32
//!   big-endian length and the reply encoded for that proto; or `-` and an
//!   error text if the whole message was refused.
//! - `X` + client id: forget that client's session (one-way).
//! - `P`: ping; answer `+`, or `+C` while catching up after an empty
//!   restart.
//! - `V`: a replication message (one-way; `cluster::replicate`).

use bytes::{BufMut, Bytes, BytesMut};
use ringcache_resp::{decode_reply, encode_request, Proto, Reply};
use ringcache_transport::{NodeId, TransportError};
use std::time::Duration;

use super::replicate::{self, Done, Submitted, WriteId};
use super::Cluster;
use crate::client::{Client, LastWrite};
use crate::shared::Shared;
use tokio::sync::oneshot;

pub const KIND_RUN: u8 = b'R';
pub const KIND_RELEASE: u8 = b'X';
pub const KIND_PING: u8 = b'P';
/// How many owners hold some writes this node coordinated (WAIT).
pub const KIND_ACKS: u8 = b'A';

/// The commands of one entry that run on one node (by id: a run may
/// outlive the view it was routed in).
#[derive(Debug, Clone)]
pub struct Part {
    pub node: NodeId,
    pub cmds: Vec<Vec<Bytes>>,
}

/// How an entry's answers become its one reply.
#[derive(Debug)]
pub enum Merge {
    /// One part, one command: its reply as it is.
    Relay,
    /// One part: the reply of its last command (EXEC after MULTI and the
    /// queue).
    Last,
    /// MGET split per node: part `i` holds the keys at `positions[i]`.
    Mget { positions: Vec<Vec<usize>>, len: usize },
    /// `+OK` if every part says so, else the first error.
    AllOk,
    /// The sum of the parts' integers (DEL, EXISTS, DBSIZE ...).
    Sum,
    /// The parts' arrays, one after the other (KEYS).
    Concat,
    /// Each part answers DBSIZE then RANDOMKEY: one of the keys, picked in
    /// proportion to the nodes' sizes.
    RandomKey,
    /// A SCAN of node `pos`: rewrite the node's cursor into a cluster one.
    Scan { pos: usize, nodes: usize, node_bits: u32 },
    /// The reply of the last part's last command, whatever the others
    /// answered (a command run here after telling another node to forget
    /// this client's WATCHes: a lost message there is repaired by the
    /// session's expiry).
    LastPart,
    /// No parts: this reply, decided without running anything (an error
    /// such as `-CROSSSLOT`, in its place among the run's replies).
    Ready(Reply),
    /// No parts: a command that ran here and wrote; its encoded reply goes
    /// out once its writes reach their quorum, `-NOREPLICAS` if they fail.
    Replicated { reply: Bytes, waits: Vec<oneshot::Receiver<Done>>, ids: Vec<WriteId> },
    /// No parts: WAIT, once every command before it in the run is
    /// answered: how many other owners hold the client's last write,
    /// waiting up to `timeout` (forever: `None`) for `replicas` of them.
    Wait { replicas: usize, timeout: Option<Duration> },
}

/// One client command that runs elsewhere (or waits for its replicas).
#[derive(Debug)]
pub struct Entry {
    pub parts: Vec<Part>,
    pub merge: Merge,
}

impl Entry {
    pub fn ready(reply: Reply) -> Entry {
        Entry { parts: Vec::new(), merge: Merge::Ready(reply) }
    }

    /// A command run here whose writes are replicating.
    pub fn replicated(reply: Bytes, waits: Vec<oneshot::Receiver<Done>>, ids: Vec<WriteId>) -> Entry {
        Entry { parts: Vec::new(), merge: Merge::Replicated { reply, waits, ids } }
    }

    pub fn relay(node: NodeId, cmd: Vec<Bytes>) -> Entry {
        Entry { parts: vec![Part { node, cmds: vec![cmd] }], merge: Merge::Relay }
    }

    /// Bytes it holds (arguments to send, or a reply ready), to bound a
    /// run.
    pub fn size(&self) -> usize {
        let ready = match &self.merge {
            Merge::Ready(Reply::Raw(b)) | Merge::Replicated { reply: b, .. } => b.len(),
            _ => 0,
        };
        ready + self.parts.iter().flat_map(|p| &p.cmds).flatten().map(|a| a.len() + 16).sum::<usize>()
    }
}

pub fn ping() -> Bytes {
    Bytes::from_static(&[KIND_PING])
}

/// The answer to a ping: `+`, or `+C` from a node catching up after an
/// empty restart (it serves none of its slots yet).
pub fn pong(catching_up: bool) -> Bytes {
    Bytes::from_static(if catching_up { b"+C" } else { b"+" })
}

pub fn pong_catching_up(pong: &[u8]) -> bool {
    pong == b"+C"
}

pub fn release(client_id: u64) -> Bytes {
    let mut m = BytesMut::with_capacity(9);
    m.put_u8(KIND_RELEASE);
    m.put_u64(client_id);
    m.freeze()
}

/// Splits an `R` answer into its replies; `Err` with a reply for every
/// command if it is a refusal or malformed.
fn decode_answer(msg: &[u8], expected: usize) -> Result<(Vec<Bytes>, Vec<RemoteWrite>), Reply> {
    let malformed = || Reply::error_static("CLUSTERDOWN malformed answer from another node");
    match msg.split_first() {
        Some((b'+', mut rest)) => {
            let mut out = Vec::with_capacity(expected);
            while out.len() < expected {
                let len = rest.get(..4).map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")) as usize);
                let Some(body) = len.and_then(|l| rest.get(4..4 + l)) else {
                    return Err(malformed());
                };
                out.push(Bytes::copy_from_slice(body));
                rest = &rest[4 + body.len()..];
            }
            // Then the writes the commands made there: (command, write id,
            // other owners holding it when answered), 16 bytes each.
            if rest.len() % REMOTE_WRITE_LEN != 0 {
                return Err(malformed());
            }
            let writes = rest
                .chunks_exact(REMOTE_WRITE_LEN)
                .map(|w| RemoteWrite {
                    command: u32::from_be_bytes(w[..4].try_into().expect("4 bytes")) as usize,
                    id: WriteId(u64::from_be_bytes(w[4..12].try_into().expect("8 bytes"))),
                    replicas: u32::from_be_bytes(w[12..].try_into().expect("4 bytes")) as usize,
                })
                .collect::<Vec<_>>();
            if writes.iter().any(|w| w.command >= expected) {
                return Err(malformed());
            }
            Ok((out, writes))
        }
        Some((b'-', text)) => Err(Reply::error_bytes(text.to_vec())),
        _ => Err(Reply::error_static("CLUSTERDOWN malformed answer from another node")),
    }
}

/// A write a forwarded command made on the node that ran it.
#[derive(Debug, Clone, Copy)]
pub struct RemoteWrite {
    /// Which command of the message made it.
    pub command: usize,
    pub id: WriteId,
    /// Owners other than that node holding it when the command answered.
    pub replicas: usize,
}

/// Bytes of one [`RemoteWrite`] on the wire.
pub const REMOTE_WRITE_LEN: usize = 16;

/// Appends `w` to an answer, after its replies.
pub fn encode_remote_write(w: &RemoteWrite, out: &mut BytesMut) {
    out.put_u32(w.command as u32);
    out.put_u64(w.id.0);
    out.put_u32(w.replicas as u32);
}

/// The client's error for a node that did not answer.
fn unreachable_reply(id: &NodeId, e: &TransportError) -> Reply {
    match e {
        TransportError::Timeout { .. } => Reply::error(format!("TRYAGAIN node {id} did not answer in time")),
        TransportError::Backpressure { .. } => Reply::error(format!("TRYAGAIN node {id} is busy")),
        TransportError::Refused { refusal: ringcache_transport::Refusal::Busy, .. } => {
            Reply::error(format!("TRYAGAIN node {id} is busy"))
        }
        TransportError::MessageTooLarge { .. }
        | TransportError::Refused { refusal: ringcache_transport::Refusal::ResponseTooLarge, .. } => {
            Reply::error_static("ERR request or reply too large to forward between nodes")
        }
        _ => Reply::error(format!("CLUSTERDOWN node {id} is unreachable")),
    }
}

/// A part's replies, one per command, encoded; or the error that replaces
/// them all (its node did not answer).
type Answer = Result<Vec<Bytes>, Reply>;

/// What goes to one node in a run.
struct Message {
    node: NodeId,
    body: BytesMut,
    /// (entry, part, number of commands) of each part in `body`, in order.
    parts: Vec<(usize, usize, usize)>,
}

/// Runs `entries` and appends their replies, in order, to `out`.
pub async fn execute(
    shared: &Shared,
    cluster: &Cluster,
    client: &mut Client,
    entries: &mut [Entry],
    out: &mut BytesMut,
) {
    let proto = client.state.proto;
    let timeout = std::time::Duration::from_millis(shared.with_config(|c| c.cluster_timeout_ms));
    // Every part's replies, indexed like `entries[e].parts[p].cmds`.
    let mut answers: Vec<Vec<Option<Answer>>> = entries.iter().map(|e| vec![None; e.parts.len()]).collect();
    // Commands of parts run here whose writes are replicating: (entry,
    // part, command) and their writes.
    let mut local_waits = Vec::new();
    // Per entry, the writes its commands made (coordinator, id), and the
    // fewest other owners holding one of them when it was answered.
    let mut written: Vec<Vec<(Option<NodeId>, WriteId)>> = entries.iter().map(|_| Vec::new()).collect();
    let mut replicas_of: Vec<usize> = vec![usize::MAX; entries.len()];

    // With R > 1, the reads that run here first read their keys at R
    // owners (applying the newest version found here), all at once.
    let unread = quorum_reads(shared, cluster, client.state.dbid, entries).await;

    // One message per other node, with its parts in order.
    let mut messages: Vec<Message> = Vec::new();
    let now_ms = ringcache_store::now_ms();
    for (e, entry) in entries.iter().enumerate() {
        for (p, part) in entry.parts.iter().enumerate() {
            if let Some(&(_, _, text)) = unread.iter().find(|u| (u.0, u.1) == (e, p)) {
                answers[e][p] = Some(Err(Reply::error_static(text)));
            } else if part.node == cluster.me {
                answers[e][p] =
                    Some(Ok(run_here(shared, cluster, client, (e, p), &part.cmds, now_ms, &mut local_waits)));
            } else {
                add_part(&mut messages, &part.node, client, (e, p), &part.cmds);
            }
        }
    }

    // Two rounds at most: the messages, then the reads of any whose node
    // failed, once more where their slots are served now (that node is
    // marked down by then, so a read that raced its death is answered by
    // the next owner instead of failing).
    for round in 0..2 {
        if messages.is_empty() {
            break;
        }
        let results = futures_util::future::join_all(messages.iter().map(|m| {
            let to = &m.node;
            let msg = m.body.clone().freeze();
            async move {
                match tokio::time::timeout(timeout, cluster.transport.request(to, msg)).await {
                    Ok(r) => r,
                    Err(_) => Err(TransportError::Timeout { peer: to.clone(), timeout_ms: timeout.as_millis() as u64 }),
                }
            }
        }))
        .await;
        let mut retries: Vec<Message> = Vec::new();
        for (Message { node, parts: index, .. }, result) in messages.iter().zip(results) {
            let expected: usize = index.iter().map(|i| i.2).sum();
            // Whether to try its parts elsewhere (`node` is marked down,
            // not merely busy), and whether they may have run there.
            let mut retry: Option<bool> = None;
            let decoded = match result {
                Ok(msg) => {
                    cluster.set_reachable(node, true);
                    decode_answer(&msg, expected)
                }
                Err(e) => {
                    if !matches!(e, TransportError::Backpressure { .. } | TransportError::MessageTooLarge { .. }) {
                        cluster.set_reachable(node, false);
                    }
                    retry = match e {
                        // It is up (or the message is at fault), and would
                        // refuse a retry as well.
                        TransportError::Backpressure { .. }
                        | TransportError::MessageTooLarge { .. }
                        | TransportError::Refused { .. } => None,
                        // Never sent: no connection could be made.
                        TransportError::Unreachable { .. }
                        | TransportError::Backoff { .. }
                        | TransportError::UnknownPeer(_) => Some(false),
                        // Sent, and maybe run before the node was lost.
                        _ => Some(true),
                    };
                    tracing::debug!(node = %node, "forwarding failed: {e}");
                    Err(unreachable_reply(node, &e))
                }
            };
            match decoded {
                Ok((mut replies, writes)) => {
                    let mut first = 0;
                    for &(e, p, n) in index {
                        let rest = replies.split_off(n);
                        answers[e][p] = Some(Ok(std::mem::replace(&mut replies, rest)));
                        for w in writes.iter().filter(|w| (first..first + n).contains(&w.command)) {
                            written[e].push((Some(node.clone()), w.id));
                            replicas_of[e] = replicas_of[e].min(w.replicas);
                        }
                        first += n;
                    }
                }
                Err(reply) => {
                    let retry = retry.filter(|_| round == 0);
                    for &(e, p, _) in index {
                        let part = &entries[e].parts[p];
                        let Some(to) = retry.and_then(|may_have_run| reroute(cluster, node, part, may_have_run)) else {
                            answers[e][p] = Some(Err(reply.clone()));
                            continue;
                        };
                        cluster.stats.rerouted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if to == cluster.me {
                            let replies =
                                run_here(shared, cluster, client, (e, p), &part.cmds, now_ms, &mut local_waits);
                            answers[e][p] = Some(Ok(replies));
                        } else {
                            add_part(&mut retries, &to, client, (e, p), &part.cmds);
                        }
                    }
                }
            }
        }
        messages = retries;
    }

    // Every write was in flight meanwhile; collect how they ended.
    for ((e, p, c), waits, ids) in local_waits {
        let acked = replicate::wait(waits, timeout).await;
        written[e].extend(ids.into_iter().map(|id| (None, id)));
        replicas_of[e] = replicas_of[e].min(acked.map_or(0, |owners| owners.saturating_sub(1)));
        if let (Err(text), Some(Ok(replies))) = (acked, &mut answers[e][p]) {
            let mut buf = BytesMut::new();
            Reply::error_static(text).encode(proto, &mut buf);
            replies[c] = buf.freeze();
        }
    }

    for (e, (entry, answers)) in entries.iter_mut().zip(answers).enumerate() {
        match &mut entry.merge {
            Merge::Replicated { reply, waits, ids } => {
                let acked = replicate::wait(std::mem::take(waits), timeout).await;
                client.last_write = LastWrite {
                    writes: ids.drain(..).map(|id| (None, id)).collect(),
                    replicas: acked.map_or(0, |owners| owners.saturating_sub(1)),
                };
                match acked {
                    Ok(_) => out.extend_from_slice(reply),
                    Err(text) => Reply::error_static(text).encode(proto, out),
                }
                continue;
            }
            Merge::Wait { replicas, timeout } => {
                let have = wait_replicas(shared, cluster, client, *replicas, *timeout).await;
                Reply::Integer(have as i64).encode(proto, out);
                continue;
            }
            _ => {}
        }
        if !written[e].is_empty() {
            let replicas = if replicas_of[e] == usize::MAX { 0 } else { replicas_of[e] };
            client.last_write = LastWrite { writes: std::mem::take(&mut written[e]), replicas };
        }
        let answers: Vec<Answer> = answers.into_iter().map(|a| a.expect("every part was answered")).collect();
        merge(&entry.merge, answers, proto, out);
    }
}

/// Runs the commands of part `at` here, as a standalone node would; a
/// command whose writes replicate leaves its waits in `local_waits`.
/// Their replies, encoded.
fn run_here(
    shared: &Shared,
    cluster: &Cluster,
    client: &mut Client,
    at: (usize, usize),
    cmds: &[Vec<Bytes>],
    now_ms: u64,
    local_waits: &mut Vec<LocalWait>,
) -> Vec<Bytes> {
    let mut replies = Vec::with_capacity(cmds.len());
    for (c, cmd) in cmds.iter().enumerate() {
        let views: Vec<&[u8]> = cmd.iter().map(|a| &a[..]).collect();
        client.state.scope = cluster.scope_for(views.first().and_then(|n| crate::cmd::lookup(n)));
        let mut reply = crate::cmd::dispatch(shared, client, &views, now_ms);
        client.state.scope = None;
        crate::blocking::serve(shared, &mut client.state.ready);
        match replicate::submit(shared, client) {
            Submitted::Nothing => {}
            Submitted::Waiting(waits, ids) => local_waits.push(((at.0, at.1, c), waits, ids)),
            Submitted::Refused(text) => reply = Reply::error_static(text),
        }
        let mut buf = BytesMut::new();
        reply.encode(client.state.proto, &mut buf);
        replies.push(buf.freeze());
    }
    replies
}

/// A command run here whose writes are replicating: (entry, part,
/// command), and its writes' waits and ids.
type LocalWait = ((usize, usize, usize), Vec<oneshot::Receiver<Done>>, Vec<WriteId>);

/// Appends part `at`'s commands to the message for `node` (a new one if
/// there is none yet).
fn add_part(messages: &mut Vec<Message>, node: &NodeId, client: &Client, at: (usize, usize), cmds: &[Vec<Bytes>]) {
    let i = match messages.iter().position(|m| &m.node == node) {
        Some(i) => i,
        None => {
            let mut head = BytesMut::with_capacity(256);
            head.put_u8(KIND_RUN);
            head.put_u8(if client.state.proto == Proto::Resp3 { 3 } else { 2 });
            head.put_u64(client.id);
            head.put_u16(client.state.dbid);
            messages.push(Message { node: node.clone(), body: head, parts: Vec::new() });
            messages.len() - 1
        }
    };
    let m = &mut messages[i];
    for cmd in cmds {
        encode_request(cmd, &mut m.body);
    }
    m.parts.push((at.0, at.1, cmds.len()));
}

/// Where a part sent to `failed`, which did not answer, can run instead:
/// the node that serves its keys' slots in the view now (which no longer
/// counts `failed`), if one node serves all its keys; reads whose keys now
/// go to several nodes, here if this node serves all of them. Only keyed commands
/// that neither block nor belong to a transaction move (a transaction's
/// WATCHes live in its session there), and if the part `may_have_run`
/// there, only reads: a write that may have run is not run twice, its
/// client gets the error. With R > 1 a read never moves here (the quorum
/// reads of a run are made before it starts); another node reads at R
/// owners itself.
fn reroute(cluster: &Cluster, failed: &NodeId, part: &Part, may_have_run: bool) -> Option<NodeId> {
    use crate::cmd::{flag, Keys};
    let view = cluster.view();
    // The one node that now serves every key (`None` inside: they went
    // to several), and the keys' slots.
    let mut to: Option<Option<ringcache_ring::NodeIdx>> = None;
    let mut slots = Vec::new();
    let mut reads = true;
    for cmd in &part.cmds {
        let spec = crate::cmd::lookup(cmd.first()?)?;
        reads &= spec.has(flag::READONLY);
        let keyed = !matches!(spec.keys, Keys::None | Keys::All);
        if !keyed || spec.has(flag::BLOCKING) || spec.has(flag::NO_MULTI) || (may_have_run && !reads) {
            return None;
        }
        let args: Vec<&[u8]> = cmd.iter().map(|a| &a[..]).collect();
        for key in spec.keys.of(&args) {
            let slot = ringcache_ring::slot(key);
            let node = cluster.coordinator(&view, slot);
            if *to.get_or_insert(Some(node)) != Some(node) {
                to = Some(None);
            }
            slots.push(slot);
        }
    }
    let quorum = reads && cluster.replication.as_ref().is_some_and(|r| r.read_quorum() > 1);
    let to = match to? {
        Some(to) => to,
        // Reads whose keys now live on several nodes (an MGET's part):
        // here, if this node is an owner serving each of their slots (with
        // N = 3 on three nodes, always); R = 1 reads any serving owner.
        None if reads && !quorum && slots.iter().all(|&s| cluster.serves_here(&view, s)) => view.me,
        None => return None,
    };
    if !cluster.reachable(&view, to) || (to == view.me && quorum) {
        return None;
    }
    let id = &view.node(to).id;
    (id != failed).then(|| id.clone())
}

/// Quorum reads (R > 1) for the commands of `entries` that run here and
/// read keys: started together, awaited together. The parts whose reads
/// failed, as (entry, part, the reply they get instead).
async fn quorum_reads(
    shared: &Shared,
    cluster: &Cluster,
    db: u16,
    entries: &[Entry],
) -> Vec<(usize, usize, &'static str)> {
    if cluster.replication.as_ref().is_none_or(|r| r.read_quorum() <= 1) {
        return Vec::new();
    }
    let mut reads = Vec::new();
    for (e, entry) in entries.iter().enumerate() {
        for (p, part) in entry.parts.iter().enumerate().filter(|(_, part)| part.node == cluster.me) {
            let keys: Vec<replicate::DbKey> = part
                .cmds
                .iter()
                .flat_map(|cmd| {
                    let views: Vec<&[u8]> = cmd.iter().map(|a| &a[..]).collect();
                    replicate::quorum_keys(shared, db, &views)
                })
                .collect();
            if !keys.is_empty() {
                reads.push(async move { (e, p, replicate::quorum_read(shared, keys).await) });
            }
        }
    }
    let done = futures_util::future::join_all(reads).await;
    done.into_iter().filter_map(|(e, p, r)| r.err().map(|text| (e, p, text))).collect()
}

/// WAIT: how many owners other than each write's coordinator hold all of
/// the client's last write, polled until there are `want` or `timeout`
/// passed. A write too old to be remembered, or on a node that does not
/// answer, counts as many as held it when it was answered.
async fn wait_replicas(
    shared: &Shared,
    cluster: &Cluster,
    client: &Client,
    want: usize,
    timeout: Option<Duration>,
) -> usize {
    let owners = if cluster.replication.is_some() { cluster.view().owners } else { 1 };
    let last = &client.last_write;
    if last.writes.is_empty() {
        // Nothing written yet: every owner holds all of it.
        return owners.saturating_sub(1);
    }
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let mut pause = Duration::from_millis(1);
    loop {
        let have = replicas_now(shared, cluster, last).await;
        let expired = deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
        if have >= want || expired || client.info.kill.is_cancelled() {
            return have;
        }
        let nap = deadline.map_or(pause, |d| pause.min(d.saturating_duration_since(tokio::time::Instant::now())));
        tokio::time::sleep(nap).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// The fewest owners other than the coordinator holding any part of
/// `last` now.
async fn replicas_now(shared: &Shared, cluster: &Cluster, last: &LastWrite) -> usize {
    let mut fewest = usize::MAX;
    let mut remote: Vec<(&NodeId, Vec<WriteId>)> = Vec::new();
    for (node, id) in &last.writes {
        match node {
            None => {
                let acks = cluster.replication.as_ref().and_then(|r| r.acks(*id));
                fewest = fewest.min(acks.map_or(last.replicas, |a| a.saturating_sub(1)));
            }
            Some(node) => match remote.iter_mut().find(|(n, _)| *n == node) {
                Some((_, ids)) => ids.push(*id),
                None => remote.push((node, vec![*id])),
            },
        }
    }
    let timeout = Duration::from_millis(shared.with_config(|c| c.cluster_timeout_ms));
    for (node, ids) in remote {
        let mut m = BytesMut::with_capacity(1 + 8 * ids.len());
        m.put_u8(KIND_ACKS);
        for id in &ids {
            m.put_u64(id.0);
        }
        let answer = tokio::time::timeout(timeout, cluster.transport.request(node, m.freeze())).await;
        let counts = match answer {
            Ok(Ok(msg)) => decode_acks(&msg, ids.len()),
            _ => None,
        };
        fewest = match counts {
            Some(counts) => {
                counts.into_iter().fold(fewest, |f, c| f.min(c.map_or(last.replicas, |a| a.saturating_sub(1))))
            }
            None => fewest.min(last.replicas),
        };
    }
    if fewest == usize::MAX {
        last.replicas
    } else {
        fewest
    }
}

/// The answer to a [`KIND_ACKS`] request: `+` and, per write asked about,
/// a u32 count of owners holding it (`u32::MAX`: not remembered).
pub fn encode_acks(counts: impl Iterator<Item = Option<usize>>) -> Bytes {
    let mut out = BytesMut::new();
    out.put_u8(b'+');
    for c in counts {
        out.put_u32(c.map_or(u32::MAX, |c| c.min(u32::MAX as usize - 1) as u32));
    }
    out.freeze()
}

fn decode_acks(msg: &[u8], expected: usize) -> Option<Vec<Option<usize>>> {
    let rest = msg.strip_prefix(b"+")?;
    if rest.len() != 4 * expected {
        return None;
    }
    Some(
        rest.chunks_exact(4)
            .map(|c| match u32::from_be_bytes(c.try_into().expect("4 bytes")) {
                u32::MAX => None,
                n => Some(n as usize),
            })
            .collect(),
    )
}

fn decode(b: &[u8]) -> Reply {
    match decode_reply(b) {
        Ok(Some((r, _))) => r,
        _ => Reply::error_static("CLUSTERDOWN malformed answer from another node"),
    }
}

/// Writes one entry's reply from its parts' answers.
fn merge(how: &Merge, answers: Vec<Answer>, proto: Proto, out: &mut BytesMut) {
    if let Merge::LastPart = how {
        return match answers.into_iter().next_back() {
            Some(Ok(mut replies)) => out.extend_from_slice(&replies.pop().unwrap_or_default()),
            Some(Err(reply)) => reply.encode(proto, out),
            None => {}
        };
    }
    // A part that failed as a whole fails the entry.
    let mut parts = Vec::with_capacity(answers.len());
    for a in answers {
        match a {
            Ok(replies) => parts.push(replies),
            Err(reply) => return reply.encode(proto, out),
        }
    }
    match how {
        Merge::Ready(reply) => reply.encode(proto, out),
        Merge::LastPart => unreachable!("merged above"),
        Merge::Replicated { .. } | Merge::Wait { .. } => unreachable!("answered by execute"),
        Merge::Relay | Merge::Last => {
            let last = parts.into_iter().next().and_then(|mut p| p.pop()).unwrap_or_default();
            out.extend_from_slice(&last);
        }
        Merge::Mget { positions, len } => {
            let mut values = vec![Reply::Null; *len];
            for (replies, positions) in parts.iter().zip(positions) {
                match decode(&replies[0]) {
                    Reply::Array(items) if items.len() == positions.len() => {
                        for (item, &at) in items.into_iter().zip(positions) {
                            values[at] = item;
                        }
                    }
                    err @ Reply::Error(_) => return err.encode(proto, out),
                    _ => {
                        return Reply::error_static("CLUSTERDOWN malformed answer from another node").encode(proto, out)
                    }
                }
            }
            Reply::Array(values).encode(proto, out);
        }
        Merge::AllOk => {
            for replies in &parts {
                let r = decode(&replies[0]);
                if r.is_error() {
                    return r.encode(proto, out);
                }
            }
            Reply::ok().encode(proto, out);
        }
        Merge::Sum => {
            let mut sum = 0i64;
            for replies in &parts {
                match decode(&replies[0]) {
                    Reply::Integer(n) => sum = sum.saturating_add(n),
                    other => return first_error(other).encode(proto, out),
                }
            }
            Reply::Integer(sum).encode(proto, out);
        }
        Merge::Concat => {
            let mut all = Vec::new();
            for replies in &parts {
                match decode(&replies[0]) {
                    Reply::Array(items) | Reply::Set(items) => all.extend(items),
                    other => return first_error(other).encode(proto, out),
                }
            }
            Reply::Array(all).encode(proto, out);
        }
        Merge::RandomKey => {
            let mut sizes = Vec::with_capacity(parts.len());
            for replies in &parts {
                match decode(&replies[0]) {
                    Reply::Integer(n) => sizes.push(n.max(0) as u64),
                    other => return first_error(other).encode(proto, out),
                }
            }
            let total: u64 = sizes.iter().sum();
            if total == 0 {
                return Reply::Null.encode(proto, out);
            }
            let mut pick = rand::random::<u64>() % total;
            let chosen = sizes.iter().position(|&s| {
                if pick < s {
                    true
                } else {
                    pick -= s;
                    false
                }
            });
            // The chosen node's own random key (the sizes may have changed
            // since; any node with keys answers one).
            let reply = chosen.map(|i| &parts[i][1]).filter(|r| !r.starts_with(b"$-1") && !r.starts_with(b"_"));
            match reply.or_else(|| parts.iter().map(|p| &p[1]).find(|r| r.starts_with(b"$") && !r.starts_with(b"$-1")))
            {
                Some(r) => out.extend_from_slice(r),
                None => Reply::Null.encode(proto, out),
            }
        }
        Merge::Scan { pos, nodes, node_bits } => match decode(&parts[0][0]) {
            Reply::Array(mut items) if items.len() == 2 => {
                let next = items[0].as_bulk().and_then(|c| std::str::from_utf8(c).ok()?.parse::<u64>().ok());
                let Some(next) = next else {
                    return Reply::error_static("CLUSTERDOWN malformed answer from another node").encode(proto, out);
                };
                let cursor = if next != 0 {
                    (next << node_bits) | *pos as u64
                } else if pos + 1 < *nodes {
                    (pos + 1) as u64
                } else {
                    0
                };
                items[0] = Reply::bulk(Bytes::from(cursor.to_string()));
                Reply::Array(items).encode(proto, out);
            }
            other => first_error(other).encode(proto, out),
        },
    }
}

fn first_error(r: Reply) -> Reply {
    if r.is_error() {
        r
    } else {
        Reply::error_static("CLUSTERDOWN malformed answer from another node")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: Reply) -> Bytes {
        let mut b = BytesMut::new();
        r.encode(Proto::Resp2, &mut b);
        b.freeze()
    }

    fn merged(how: Merge, answers: Vec<Answer>) -> Reply {
        let mut out = BytesMut::new();
        merge(&how, answers, Proto::Resp2, &mut out);
        let (reply, used) = decode_reply(&out).unwrap().unwrap();
        assert_eq!(used, out.len(), "one reply");
        reply
    }

    fn bulk(s: &str) -> Reply {
        Reply::bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn mget_values_go_back_to_their_keys_positions() {
        let a = enc(Reply::Array(vec![bulk("a0"), Reply::Null]));
        let b = enc(Reply::Array(vec![bulk("b1")]));
        let how = Merge::Mget { positions: vec![vec![0, 2], vec![1]], len: 3 };
        assert_eq!(
            merged(how, vec![Ok(vec![a]), Ok(vec![b])]),
            Reply::Array(vec![bulk("a0"), bulk("b1"), Reply::Null])
        );
    }

    #[test]
    fn a_failed_part_fails_the_entry() {
        let ok = enc(Reply::Integer(2));
        let down = Reply::error_static("CLUSTERDOWN node x is unreachable");
        assert_eq!(merged(Merge::Sum, vec![Ok(vec![ok.clone()]), Err(down.clone())]), down);
        assert_eq!(merged(Merge::Sum, vec![Ok(vec![ok.clone()]), Ok(vec![ok])]), Reply::Integer(4));
        let wrong = enc(Reply::error_static("WRONGTYPE x"));
        assert!(merged(Merge::AllOk, vec![Ok(vec![enc(Reply::ok())]), Ok(vec![wrong])]).is_error());
    }

    #[test]
    fn scan_cursors_walk_node_by_node() {
        let page = |next: &str| enc(Reply::Array(vec![bulk(next), Reply::Array(vec![bulk("k")])]));
        let cursor = |r: Reply| match r {
            Reply::Array(items) => String::from_utf8(items[0].as_bulk().unwrap().to_vec()).unwrap(),
            other => panic!("{other:?}"),
        };
        let scan = |pos| Merge::Scan { pos, nodes: 3, node_bits: 12 };
        // Node 1 not done: its cursor, tagged with its position.
        assert_eq!(cursor(merged(scan(1), vec![Ok(vec![page("5")])])), ((5u64 << 12) | 1).to_string());
        // Node 1 done: node 2 from its start; the last node done: the end.
        assert_eq!(cursor(merged(scan(1), vec![Ok(vec![page("0")])])), "2");
        assert_eq!(cursor(merged(scan(2), vec![Ok(vec![page("0")])])), "0");
    }

    #[test]
    fn answers_are_split_by_their_lengths() {
        let mut msg = BytesMut::new();
        msg.put_u8(b'+');
        for r in [&b"+OK\r\n"[..], b":1\r\n"] {
            msg.put_u32(r.len() as u32);
            msg.extend_from_slice(r);
        }
        let (replies, writes) = decode_answer(&msg, 2).unwrap();
        assert_eq!(replies, vec![Bytes::from_static(b"+OK\r\n"), Bytes::from_static(b":1\r\n")]);
        assert!(writes.is_empty());
        assert!(decode_answer(&msg, 3).is_err());
        assert!(decode_answer(&msg[..msg.len() - 1], 2).is_err());
        // Then the writes: whole records only, naming commands that exist.
        let mut with = msg.clone();
        encode_remote_write(&RemoteWrite { command: 1, id: WriteId(7), replicas: 2 }, &mut with);
        let (_, writes) = decode_answer(&with, 2).unwrap();
        assert_eq!((writes[0].command, writes[0].id, writes[0].replicas), (1, WriteId(7), 2));
        assert!(decode_answer(&with[..with.len() - 1], 2).is_err());
        let mut beyond = msg.clone();
        encode_remote_write(&RemoteWrite { command: 2, id: WriteId(7), replicas: 2 }, &mut beyond);
        assert!(decode_answer(&beyond, 2).is_err());
        // Acks answers: one count per write asked about.
        let acks = encode_acks([Some(3), None].into_iter());
        assert_eq!(decode_acks(&acks, 2), Some(vec![Some(3), None]));
        assert_eq!(decode_acks(&acks, 1), None);
        assert_eq!(decode_acks(b"-ERR", 0), None);
        assert!(decode_answer(b"-ERR nope", 1).unwrap_err().is_error());
        assert!(decode_answer(b"", 0).is_err());
    }
}
