//! Copies of slots this node no longer owns: handed to the owners, then
//! dropped.
//!
//! A ring change can push this node out of a slot's owners: a node joined
//! and took its place, or an owner it stood in for came back. Its copy of
//! the slot then gets no more writes and no repair, and kept, it would
//! come back the day this node owns the slot again, deleted keys included
//! once the owners have collected their tombstones. So, once the ring has
//! stayed the same for `unowned-grace-ms` (every member has the same view
//! by then, and no member is joining or leaving), this node:
//! 1. lists the slots it holds entries or tombstones of (a non-zero slot
//!    digest) that it neither owns nor is incoming for;
//! 2. hands each of them to every owner of the slot (the leave's handoff
//!    chunks, each answered once applied there), noting the slot's digest
//!    first;
//! 3. drops the slots whose every owner took all of it, if the slot's
//!    digest is still the one noted (`Db::purge_slots`, under the shard's
//!    lock): a write that reached the copy meanwhile keeps it for the next
//!    round.
//!
//! Invariant: nothing this node holds is dropped before every owner of
//! its slot has applied it, so an acknowledged write that only this copy
//! still held (an ack from before the ring change) is on the owners first.
//! The task repeats every `unowned-grace-ms` while the ring stays put.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use ringcache_membership::Phase;
use ringcache_ring::SLOTS;
use ringcache_transport::NodeId;

use super::{Cluster, ClusterView};
use crate::shared::Shared;

/// What the task has done, for INFO cluster.
#[derive(Debug, Default)]
pub struct UnownedStats {
    /// Slots dropped after their owners took them.
    pub slots_dropped: AtomicU64,
    /// Entries and tombstones those slots held here.
    pub entries_dropped: AtomicU64,
}

/// The task: ends at shutdown.
pub async fn run(shared: Arc<Shared>) {
    let Some(cluster) = shared.cluster.clone() else { return };
    let Some(replication) = &cluster.replication else { return };
    // The ring epoch last seen, and since when (or when last cleaned).
    let mut seen = (cluster.view().ring_epoch, tokio::time::Instant::now());
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = shared.shutdown.cancelled() => return,
        }
        let (grace_ms, timeout_ms) = shared.with_config(|c| (c.unowned_grace_ms, c.cluster_timeout_ms));
        let view = cluster.view_full();
        if view.ring_epoch != seen.0 {
            seen = (view.ring_epoch, tokio::time::Instant::now());
            continue;
        }
        let grace = Duration::from_millis(grace_ms);
        if grace_ms == 0 || seen.1.elapsed() < grace || !settled(&cluster, &view) {
            continue;
        }
        let timeout = Duration::from_millis(timeout_ms.max(100));
        clean(&shared, &cluster, replication, &view, timeout).await;
        seen.1 = tokio::time::Instant::now();
    }
}

/// Whether `view` is one to clean against: this node serves in it, and no
/// member is joining or leaving (their slots are on the move).
fn settled(cluster: &Cluster, view: &ClusterView) -> bool {
    cluster.joined()
        && !cluster.leave.is_leaving()
        && view.me().phase == Phase::Serving
        && view.ring_joining.is_empty()
        && view.ring_leaving.is_empty()
        && view.placement.is_some()
}

/// One round: hands over and drops every unowned slot held here.
async fn clean(
    shared: &Shared,
    cluster: &Cluster,
    replication: &super::replicate::Replication,
    view: &ClusterView,
    timeout: Duration,
) {
    let Some(placement) = &view.placement else { return };
    let unowned = (0..SLOTS as u16).filter(|&slot| {
        !view.owners_of(slot).contains(&view.me)
            && !placement.incoming(slot).contains(&cluster.me)
            && shared.db.slot_digest(slot) != 0
    });
    let mut handed = Vec::new();
    for slot in unowned.collect::<Vec<_>>() {
        if cluster.view().ring_epoch != view.ring_epoch {
            // The ring moved: this node may own some of them again.
            return;
        }
        let digest = shared.db.slot_digest(slot);
        let owners: Vec<NodeId> = view.owners_of(slot).iter().map(|&i| view.ring.node_id(i).clone()).collect();
        let mut all = true;
        for to in &owners {
            if super::leave::hand_slot(shared, cluster, replication, to, slot, timeout).await.is_err() {
                all = false;
                break;
            }
        }
        if all {
            handed.push((slot, digest));
        }
    }
    if handed.is_empty() || cluster.view().ring_epoch != view.ring_epoch {
        return;
    }
    let (slots, entries) = shared.db.purge_slots(&handed);
    cluster.unowned.slots_dropped.fetch_add(slots.len() as u64, Relaxed);
    cluster.unowned.entries_dropped.fetch_add(entries as u64, Relaxed);
    tracing::info!(
        slots = slots.len(),
        entries,
        "dropped the copies of slots this node no longer owns, held by their owners"
    );
}
