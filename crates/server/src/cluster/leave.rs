//! Leaving the cluster on purpose: `CLUSTER LEAVE`, or SHUTDOWN / SIGTERM
//! with `leave-on-shutdown yes`.
//!
//! Sequence (docs/membership.md, "Leave"):
//! 1. This node publishes itself *leaving*. Every view then keeps it an
//!    owner of its slots but no coordinator, and makes the members that
//!    will own them once it is gone *incoming* for them: they get the
//!    slots' writes from then on (`View::incoming`).
//! 2. After the rumour has had time to spread (a few gossip rounds), it
//!    hands each slot it owns to the slot's incoming members: the slot's
//!    entries in bounded chunks ([`KIND_HANDOFF`] requests, each a
//!    replication `Repair` message), each chunk answered once applied
//!    there. A target that does not answer after retries is skipped (it
//!    is dead or cut off; the failure path re-creates its copies).
//! 3. It publishes itself *left*: the others drop it from the ring, and
//!    the incoming members own the slots, holding their data. It routes
//!    by its last view from then on, where it coordinates nothing: keyed
//!    commands sent here are forwarded (or get `-MOVED`).
//!
//! Invariant: every acknowledged write is held by W owners throughout —
//! this node stays an owner until it has left, and it never deletes
//! anything.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use ringcache_membership::Phase;
use ringcache_transport::NodeId;
use tokio::sync::Notify;

use super::Cluster;
use crate::shared::Shared;

/// Transport message kind of a handoff chunk (a request; answered `+` once
/// applied, `-` and a reason if refused).
pub const KIND_HANDOFF: u8 = b'H';
/// Attempts per chunk before a target is given up.
const ATTEMPTS: usize = 3;

/// Where this node is in leaving, and what it handed off.
#[derive(Debug, Default)]
pub struct Leave {
    requested: Notify,
    /// Shut the node down once it has left.
    shutdown_after: AtomicBool,
    /// 0 member, 1 leaving, 2 left.
    state: AtomicU8,
    /// Keys (entries) handed to other members.
    pub keys_handed: AtomicU64,
    /// Targets given up (did not answer).
    pub targets_failed: AtomicU64,
}

impl Leave {
    /// Asks the leave task to leave (and then shut down). Returns false if
    /// a leave was already asked for or done.
    pub fn request(&self, then_shutdown: bool) -> bool {
        if then_shutdown {
            self.shutdown_after.store(true, Relaxed);
        }
        let first = self.state.compare_exchange(0, 1, Relaxed, Relaxed).is_ok();
        // Stored permit: the task may not be waiting yet.
        self.requested.notify_one();
        first
    }

    /// Leaving or left: this node coordinates nothing any more.
    pub fn is_leaving(&self) -> bool {
        self.state.load(Relaxed) >= 1
    }

    /// Left: no longer a member.
    pub fn has_left(&self) -> bool {
        self.state.load(Relaxed) == 2
    }
}

/// The leave task: waits for a request, leaves, then (if asked) shuts the
/// node down. Ends at shutdown.
pub async fn run(shared: Arc<Shared>) {
    let Some(cluster) = shared.cluster.clone() else { return };
    tokio::select! {
        _ = cluster.leave.requested.notified() => {}
        _ = shared.shutdown.cancelled() => return,
    }
    leave(&shared, &cluster).await;
    if cluster.leave.shutdown_after.load(Relaxed) {
        tracing::warn!("left the cluster: shutting down");
        shared.shutdown.cancel();
    }
}

async fn leave(shared: &Arc<Shared>, cluster: &Arc<Cluster>) {
    let began = std::time::Instant::now();
    if let Err(e) = super::gossip::set_phase(cluster, Phase::Leaving) {
        tracing::warn!("can't leave: {e}");
        return;
    }
    tracing::warn!("leaving the cluster: handing data over");
    let (probe_ms, timeout) =
        shared.with_config(|c| (c.gossip_probe_interval_ms, Duration::from_millis(c.cluster_timeout_ms.max(100))));
    // Until this node's own view has it leaving (published by the gossip
    // task), then a few gossip rounds for the others to learn it: from
    // then on their writes reach the incoming members too.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while cluster.view().me().phase != Phase::Leaving && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis((3 * probe_ms).min(3_000))).await;
    if let Some(replication) = &cluster.replication {
        let view = cluster.view_full();
        let mut targets: Vec<(NodeId, Vec<u16>)> = Vec::new();
        if let Some(placement) = &view.placement {
            for slot in 0..ringcache_ring::SLOTS as u16 {
                if !view.owners_of(slot).contains(&view.me) {
                    continue;
                }
                for to in placement.incoming(slot).iter().filter(|t| **t != cluster.me) {
                    match targets.iter_mut().find(|(t, _)| t == to) {
                        Some((_, slots)) => slots.push(slot),
                        None => targets.push((to.clone(), vec![slot])),
                    }
                }
            }
        }
        let sends = targets.iter().map(|(to, slots)| hand_over(shared, cluster, replication, to, slots, timeout));
        futures_util::future::join_all(sends).await;
    }
    let _ = super::gossip::set_phase(cluster, Phase::Left);
    cluster.leave.state.store(2, Relaxed);
    tracing::warn!(
        keys = cluster.leave.keys_handed.load(Relaxed),
        targets_failed = cluster.leave.targets_failed.load(Relaxed),
        "left the cluster after {:.2} s",
        began.elapsed().as_secs_f64()
    );
    // Lingers (still gossiping `left`) so that every member hears it.
    let linger = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cluster.gossip.has_left() && tokio::time::Instant::now() < linger {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Streams `slots` to `to`, one after another. Gives up on `to` at the
/// first slot it does not take (see [`hand_slot`]).
async fn hand_over(
    shared: &Shared,
    cluster: &Cluster,
    replication: &super::replicate::Replication,
    to: &NodeId,
    slots: &[u16],
    timeout: Duration,
) {
    let mut sent = 0u64;
    for &slot in slots {
        match hand_slot(shared, cluster, replication, to, slot, timeout).await {
            Ok(entries) => {
                sent += entries;
                cluster.leave.keys_handed.fetch_add(entries, Relaxed);
            }
            Err(()) => {
                cluster.leave.targets_failed.fetch_add(1, Relaxed);
                return;
            }
        }
    }
    tracing::info!(node = %to, slots = slots.len(), keys = sent, "handoff done");
}

/// Streams `slot`'s entries and tombstones here to `to`, a chunk at a time
/// ([`KIND_HANDOFF`]), each answered once applied there before the next is
/// sent. Returns how many went, or `Err` when `to` refused a chunk or did
/// not answer one after [`ATTEMPTS`] tries.
pub(super) async fn hand_slot(
    shared: &Shared,
    cluster: &Cluster,
    replication: &super::replicate::Replication,
    to: &NodeId,
    slot: u16,
    timeout: Duration,
) -> Result<u64, ()> {
    let mut sent = 0u64;
    let mut cursor = Bytes::new();
    loop {
        let (chunk, entries, next) = replication.handoff_chunk(shared, slot, &cursor);
        if let Some(chunk) = chunk {
            let mut msg = BytesMut::with_capacity(1 + chunk.len());
            msg.put_u8(KIND_HANDOFF);
            msg.extend_from_slice(&chunk);
            let msg = msg.freeze();
            let mut ok = false;
            for _ in 0..ATTEMPTS {
                match tokio::time::timeout(timeout, cluster.transport.request(to, msg.clone())).await {
                    Ok(Ok(answer)) if answer.first() == Some(&b'+') => {
                        ok = true;
                        break;
                    }
                    Ok(Ok(answer)) => {
                        tracing::warn!(node = %to, "handoff refused: {}", String::from_utf8_lossy(&answer));
                        return Err(());
                    }
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
            if !ok {
                tracing::warn!(node = %to, "handoff: node does not answer; giving it up");
                return Err(());
            }
            sent += entries as u64;
        }
        match next {
            Some(next) => cursor = next,
            None => return Ok(sent),
        }
    }
}
