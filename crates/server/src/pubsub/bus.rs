//! Pub/Sub across a cluster: every message published here that the other
//! nodes' subscribers must see is sent to each of them over the
//! authenticated transport (message kind [`KIND_PUBSUB`]). A node that
//! receives one delivers it to its own subscribers and never sends it on,
//! so a message crosses each link once.
//!
//! Per peer there is one [`Outbox`] and one task. The publisher only
//! appends to the outboxes (it never waits for a peer); the task sends
//! what has piled up as one batch and waits for the peer's acknowledgement
//! before sending the next, so messages reach a peer in the order they
//! were published here even though the transport spreads requests over
//! several connections.
//!
//! Limits and failure: an outbox holds at most [`OUTBOX_BYTES_MAX`]; past
//! that, and for a batch the peer does not acknowledge (it is down or
//! partitioned), messages are dropped and counted — as in Redis Cluster,
//! where a message for a node that is not connected is lost. Pub/Sub is
//! fire-and-forget; nothing is retried.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use parking_lot::{Mutex, RwLock};
use ringcache_transport::{Message, NodeId};

use super::Kind;
use crate::shared::Shared;
use tokio_util::sync::CancellationToken;

/// The transport message kind of a batch of published messages.
pub const KIND_PUBSUB: u8 = b'B';
/// Most bytes waiting for one peer.
pub const OUTBOX_BYTES_MAX: usize = 64 << 20;
/// A batch closes at this many bytes (a single larger message travels
/// alone).
pub const BATCH_BYTES_MAX: usize = 1 << 20;

const TAG_PUBLISH: u8 = b'p';
const TAG_SHARD: u8 = b's';

/// Messages waiting for one peer.
#[derive(Debug)]
pub struct Outbox {
    node: NodeId,
    queue: Mutex<(VecDeque<Bytes>, usize)>,
    wake: tokio::sync::Notify,
}

impl Outbox {
    /// One batch: every waiting entry up to [`BATCH_BYTES_MAX`], behind the
    /// message kind; the number of entries in it.
    fn take_batch(&self) -> Option<(Message, u64)> {
        let mut q = self.queue.lock();
        let (items, bytes) = &mut *q;
        let first = items.pop_front()?;
        *bytes -= first.len();
        let mut out = BytesMut::with_capacity(1 + first.len());
        out.put_u8(KIND_PUBSUB);
        out.extend_from_slice(&first);
        let mut n = 1;
        while let Some(next) = items.front() {
            if out.len() + next.len() > BATCH_BYTES_MAX {
                break;
            }
            let next = items.pop_front().expect("front exists");
            *bytes -= next.len();
            out.extend_from_slice(&next);
            n += 1;
        }
        Some((out.freeze(), n))
    }
}

/// The outboxes of every peer (none on a standalone node, or before
/// [`start`]), with the node's counters.
#[derive(Debug, Default)]
pub struct Outboxes {
    peers: RwLock<Vec<Arc<Outbox>>>,
    /// Messages sent to (acknowledged by) a peer, counted per peer.
    pub sent: AtomicU64,
    /// Messages a peer did not get: its outbox was full or it did not
    /// acknowledge the batch.
    pub dropped: AtomicU64,
    /// Messages received from other nodes and delivered here.
    pub received: AtomicU64,
}

fn entry(kind: Kind, channel: &[u8], message: &[u8]) -> Bytes {
    let mut e = BytesMut::with_capacity(9 + channel.len() + message.len());
    e.put_u8(if kind == Kind::Shard { TAG_SHARD } else { TAG_PUBLISH });
    e.put_u32(channel.len() as u32);
    e.extend_from_slice(channel);
    e.put_u32(message.len() as u32);
    e.extend_from_slice(message);
    e.freeze()
}

impl Outboxes {
    /// Queues `message` on `channel` for every other node. Never waits.
    pub fn send(&self, kind: Kind, channel: &[u8], message: &[u8]) {
        let peers = self.peers.read();
        if peers.is_empty() {
            return;
        }
        let e = entry(kind, channel, message);
        for outbox in peers.iter() {
            let mut q = outbox.queue.lock();
            if q.1 + e.len() > OUTBOX_BYTES_MAX {
                drop(q);
                self.dropped.fetch_add(1, Relaxed);
                continue;
            }
            q.1 += e.len();
            q.0.push_back(e.clone());
            drop(q);
            outbox.wake.notify_one();
        }
    }
}

/// Keeps one outbox and sender task per other member of the current view
/// (none on a standalone node): started for members as views name them,
/// stopped for those that left the ring. Ends at shutdown.
pub fn start(shared: &Arc<Shared>) -> Vec<tokio::task::JoinHandle<()>> {
    let Some(cluster) = shared.cluster.clone() else { return Vec::new() };
    let shared = shared.clone();
    vec![tokio::spawn(async move {
        let mut running: Vec<(NodeId, CancellationToken)> = Vec::new();
        loop {
            // Registered before the view is read, so a view published
            // meanwhile is not missed.
            let changed = cluster.view_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let view = cluster.view_full();
            let members: Vec<&NodeId> = view.nodes.iter().map(|n| &n.id).filter(|id| **id != cluster.me).collect();
            {
                let mut peers = shared.pubsub.bus.peers.write();
                running.retain(|(id, stop)| {
                    let keep = members.contains(&id);
                    if !keep {
                        stop.cancel();
                    }
                    keep
                });
                peers.retain(|o| members.contains(&&o.node));
                for id in members {
                    if running.iter().any(|(r, _)| r == id) {
                        continue;
                    }
                    let outbox = Arc::new(Outbox {
                        node: id.clone(),
                        queue: Mutex::default(),
                        wake: tokio::sync::Notify::new(),
                    });
                    peers.push(outbox.clone());
                    let stop = shared.shutdown.child_token();
                    running.push((id.clone(), stop.clone()));
                    cluster.spawn_peer_task(send_loop(shared.clone(), cluster.clone(), outbox, stop));
                }
            }
            tokio::select! {
                _ = changed => {}
                _ = shared.shutdown.cancelled() => return,
            }
        }
    })]
}

/// Sends `outbox`'s batches one at a time until `stop`.
async fn send_loop(
    shared: Arc<Shared>,
    cluster: Arc<crate::cluster::Cluster>,
    outbox: Arc<Outbox>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = outbox.wake.notified() => {}
            _ = stop.cancelled() => return,
        }
        while let Some((batch, n)) = outbox.take_batch() {
            let sent = tokio::select! {
                r = cluster.transport.request(&outbox.node, batch) => r,
                _ = stop.cancelled() => return,
            };
            match sent {
                Ok(answer) if answer.first() == Some(&b'+') => {
                    shared.pubsub.bus.sent.fetch_add(n, Relaxed);
                }
                Ok(_) | Err(_) => {
                    shared.pubsub.bus.dropped.fetch_add(n, Relaxed);
                    tracing::debug!(node = %outbox.node, messages = n, "pub/sub messages not delivered to a peer");
                }
            }
        }
    }
}

/// One message of a batch: its kind, channel and payload.
type BatchEntry<'a> = (Kind, &'a [u8], &'a [u8]);

/// Splits a batch (after its kind byte) into its entries; `None` if any
/// is malformed.
fn parse(mut body: &[u8]) -> Option<Vec<BatchEntry<'_>>> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let kind = match body.get_u8() {
            TAG_PUBLISH => Kind::Channel,
            TAG_SHARD => Kind::Shard,
            _ => return None,
        };
        let mut field = || {
            if body.len() < 4 {
                return None;
            }
            let len = body.get_u32() as usize;
            if body.len() < len {
                return None;
            }
            let (f, rest) = body.split_at(len);
            body = rest;
            Some(f)
        };
        let channel = field()?;
        let message = field()?;
        out.push((kind, channel, message));
    }
    Some(out)
}

/// Delivers a batch from another node to this node's subscribers; the
/// transport answer (`+`, or `-` for a malformed batch, of which nothing
/// is delivered).
pub fn receive(shared: &Shared, body: &[u8]) -> Message {
    let Some(entries) = parse(body) else {
        return Bytes::from_static(b"-ERR malformed pub/sub batch");
    };
    for (kind, channel, message) in &entries {
        // CLIENT TRACKING's own channels are for the node, not subscribers.
        if *kind == Kind::Channel
            && channel.starts_with(b"__ringcache__:")
            && shared.tracking.receive(shared, channel, message)
        {
            continue;
        }
        shared.pubsub.publish(*kind, channel, message);
    }
    shared.pubsub.bus.received.fetch_add(entries.len() as u64, Relaxed);
    Bytes::from_static(b"+")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_bad_ones_are_refused() {
        let outbox = Outbox { node: NodeId::from("b"), queue: Mutex::default(), wake: tokio::sync::Notify::new() };
        for e in [entry(Kind::Channel, b"ch", b"hello"), entry(Kind::Shard, b"", b"")] {
            let mut q = outbox.queue.lock();
            q.1 += e.len();
            q.0.push_back(e);
        }
        let (batch, n) = outbox.take_batch().unwrap();
        assert_eq!(n, 2);
        assert_eq!(batch[0], KIND_PUBSUB);
        let parsed = parse(&batch[1..]).unwrap();
        assert_eq!(parsed, vec![(Kind::Channel, &b"ch"[..], &b"hello"[..]), (Kind::Shard, &b""[..], &b""[..])]);
        assert!(outbox.take_batch().is_none());
        assert_eq!(outbox.queue.lock().1, 0);
        for bad in [&b"x"[..], b"p\x00\x00", b"p\x00\x00\x00\x05ab", b"p\x00\x00\x00\x00\x00\x00\x00\x09"] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn batches_close_at_their_size_limit() {
        let outbox = Outbox { node: NodeId::from("b"), queue: Mutex::default(), wake: tokio::sync::Notify::new() };
        let big = vec![b'x'; BATCH_BYTES_MAX / 2];
        for _ in 0..3 {
            let e = entry(Kind::Channel, b"c", &big);
            let mut q = outbox.queue.lock();
            q.1 += e.len();
            q.0.push_back(e);
        }
        assert_eq!(outbox.take_batch().unwrap().1, 1);
        assert_eq!(outbox.take_batch().unwrap().1, 1);
        assert_eq!(outbox.take_batch().unwrap().1, 1);
    }
}
