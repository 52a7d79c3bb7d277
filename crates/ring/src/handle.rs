//! The current ring, shared by every connection: an immutable snapshot
//! behind an atomic pointer.
//!
//! Readers call [`RingHandle::load`] on every request; it takes no lock and
//! never waits for a writer (arc-swap's fast path is a few atomic operations
//! on a per-thread slot). A membership change builds a whole new [`Ring`]
//! off to the side and publishes it with [`RingHandle::store`]; a request
//! that loaded the old snapshot finishes with it, consistently, and the old
//! ring is freed when its last reader lets go.
//!
//! Why not `RwLock<Arc<Ring>>`: every request would take the read lock, so
//! all cores would write the same lock word (cache-line ping-pong on the
//! hot path), and a writer could stall readers. arc-swap gives the same
//! semantics without either.

use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use crate::ring::Ring;

/// A borrowed snapshot: derefs to `Arc<Ring>`. Cheap to take, meant to be
/// held for one request; call [`RingHandle::load_full`] to keep a ring
/// longer.
pub type RingGuard = Guard<Arc<Ring>>;

/// The published ring. Share it as `Arc<RingHandle>` (or by reference).
#[derive(Debug)]
pub struct RingHandle {
    current: ArcSwap<Ring>,
}

impl RingHandle {
    pub fn new(ring: impl Into<Arc<Ring>>) -> RingHandle {
        RingHandle { current: ArcSwap::new(ring.into()) }
    }

    /// The current snapshot, lock-free. Hold it for one request, not across
    /// long waits (a held guard may make a later `load` on this thread fall
    /// back to a slower path).
    pub fn load(&self) -> RingGuard {
        self.current.load()
    }

    /// The current snapshot as an owned `Arc`, to keep beyond one request.
    pub fn load_full(&self) -> Arc<Ring> {
        self.current.load_full()
    }

    /// Publishes a new ring; later `load`s see it. Returns the previous one.
    pub fn store(&self, ring: impl Into<Arc<Ring>>) -> Arc<Ring> {
        self.current.swap(ring.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Member, RingConfig};

    #[test]
    fn store_publishes_and_old_snapshots_stay_valid() {
        let config = RingConfig::default();
        let handle = RingHandle::new(Ring::new([Member::new("a")], config).unwrap());
        let old = handle.load_full();
        let previous = handle.store(Ring::new(["a", "b"].map(Member::from), config).unwrap());
        assert!(Arc::ptr_eq(&old, &previous));
        assert_eq!(old.len(), 1);
        assert_eq!(handle.load().len(), 2);
        assert_eq!(handle.load_full().len(), 2);
    }

    #[test]
    fn readers_on_other_threads_see_whole_rings() {
        // Each ring is {n0..nk}; a reader must only ever observe a ring whose
        // every slot has min(3, len) owners, i.e. never a torn one, and the
        // sizes it sees must not go backwards.
        let config = RingConfig { vnodes_per_node: 16, replicas: 3 };
        let ring = |k: usize| Ring::new((0..k).map(|i| Member::new(format!("n{i}"))), config);
        let handle = Arc::new(RingHandle::new(ring(1).unwrap()));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let handle = Arc::clone(&handle);
                std::thread::spawn(move || {
                    let mut last = 0;
                    loop {
                        let ring = handle.load();
                        assert!(ring.len() >= last);
                        last = ring.len();
                        assert_eq!(ring.owners(12345).len(), ring.len().min(3));
                        if last == 8 {
                            break;
                        }
                    }
                })
            })
            .collect();
        for k in 2..=8 {
            handle.store(ring(k).unwrap());
        }
        for reader in readers {
            reader.join().unwrap();
        }
    }
}
