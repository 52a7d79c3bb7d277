//! The version of a stored value: a vector clock of HLC stamps, and the rule
//! that orders two of them (see the crate docs).
//!
//! A version is its clock: the stamp is the clock's largest dot in
//! `(hlc, node)` order, kept apart because it is what the common operations
//! read (last-writer-wins, digests) and the only part most keys ever have
//! (one writer, the slot's coordinator). The past, the other nodes' dots, is
//! a boxed slice that is empty (and allocates nothing) in that case.

use std::cmp::Ordering;

use crate::{Hlc, NodeTag};

/// At most this many dots in a version's past: far more than the owners a
/// key ever has; past it the oldest are pruned (a write) or the version is
/// refused (a decoder).
pub const DOTS_MAX: usize = 64;

/// How old (in milliseconds behind a new write's stamp) a dot of the past
/// may grow before a new write drops it: any write that old and concurrent
/// has long been resolved. Pruning changes only what [`Version::compare`]
/// reports (a pruned history can look concurrent), never which value wins.
pub const PRUNE_MS_DEFAULT: u64 = 60 * 60 * 1000;

/// The identity of one write: when, and by whom. Ordered by `hlc`, then
/// `writer`: last-writer-wins keeps the larger.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Stamp {
    pub hlc: Hlc,
    pub writer: NodeTag,
}

/// One entry of a vector clock: `node`'s latest write in a value's history.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Dot {
    pub node: NodeTag,
    pub hlc: Hlc,
}

impl Dot {
    /// The dot's place in `(hlc, node)` order, the order stamps use.
    fn as_stamp(self) -> Stamp {
        Stamp { hlc: self.hlc, writer: self.node }
    }
}

/// How two versions relate.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Order {
    Equal,
    /// `self` happened before `other` (`other` dominates).
    Before,
    /// `self` dominates `other`.
    After,
    /// Neither has seen the other: two writes LWW must choose between.
    Concurrent,
}

/// A clock that breaks an invariant of [`Version`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum VersionError {
    #[error("a version's past holds at most {DOTS_MAX} dots")]
    TooManyDots,
    #[error("a version's past must be sorted by node, each node once")]
    Unsorted,
    #[error("a version's past must not hold a dot for its writer")]
    WriterInPast,
    #[error("a dot of a version's past is not older than its stamp")]
    DotNotOlder,
}

/// The version of a stored value. See the module docs.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Version {
    stamp: Stamp,
    /// The other nodes' dots, sorted by node; none for the writer.
    past: Box<[Dot]>,
}

impl Version {
    /// The version of a write to a key that has no history here.
    pub fn first(writer: NodeTag, wall_ms: u64) -> Version {
        Version { stamp: Stamp { hlc: Hlc::ZERO.after(wall_ms), writer }, past: Box::default() }
    }

    /// The version of a write by `writer` at `wall_ms` on top of `self`: it
    /// dominates `self`. Dots more than `prune_ms` older than the new stamp
    /// are dropped, and the oldest beyond [`DOTS_MAX`].
    pub fn next(&self, writer: NodeTag, wall_ms: u64, prune_ms: u64) -> Version {
        let hlc = self.stamp.hlc.after(wall_ms);
        if self.past.is_empty() && self.stamp.writer == writer {
            // The common case: the same writer again, nothing to carry.
            return Version { stamp: Stamp { hlc, writer }, past: Box::default() };
        }
        let horizon = hlc.ms().saturating_sub(prune_ms);
        let mut past: Vec<Dot> = self
            .past
            .iter()
            .copied()
            .chain(std::iter::once(Dot { node: self.stamp.writer, hlc: self.stamp.hlc }))
            .filter(|d| d.node != writer && d.hlc.ms() >= horizon)
            .collect();
        if past.len() > DOTS_MAX {
            past.sort_unstable_by_key(|d| std::cmp::Reverse(d.as_stamp()));
            past.truncate(DOTS_MAX);
        }
        past.sort_unstable_by_key(|d| d.node);
        Version { stamp: Stamp { hlc, writer }, past: past.into_boxed_slice() }
    }

    /// A version from its parts, checking every invariant (see the crate
    /// docs). `past` may be in any order.
    pub fn from_parts(stamp: Stamp, mut past: Vec<Dot>) -> Result<Version, VersionError> {
        if past.len() > DOTS_MAX {
            return Err(VersionError::TooManyDots);
        }
        past.sort_unstable_by_key(|d| d.node);
        if past.windows(2).any(|w| w[0].node == w[1].node) {
            return Err(VersionError::Unsorted);
        }
        for d in &past {
            if d.node == stamp.writer {
                return Err(VersionError::WriterInPast);
            }
            if d.as_stamp() >= stamp {
                return Err(VersionError::DotNotOlder);
            }
        }
        Ok(Version { stamp, past: past.into_boxed_slice() })
    }

    /// The write that made this value.
    pub fn stamp(&self) -> Stamp {
        self.stamp
    }

    /// The clock's other dots, sorted by node.
    pub fn past(&self) -> &[Dot] {
        &self.past
    }

    /// Every dot of the clock, the writer's included, sorted by node.
    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        let own = Dot { node: self.stamp.writer, hlc: self.stamp.hlc };
        let split = self.past.partition_point(|d| d.node < own.node);
        self.past[..split].iter().copied().chain(std::iter::once(own)).chain(self.past[split..].iter().copied())
    }

    /// The clock's entry for `node`: its latest write in this history.
    pub fn get(&self, node: NodeTag) -> Option<Hlc> {
        if node == self.stamp.writer {
            return Some(self.stamp.hlc);
        }
        self.past.binary_search_by_key(&node, |d| d.node).ok().map(|i| self.past[i].hlc)
    }

    /// How `self` relates to `other`, pointwise on the clocks.
    pub fn compare(&self, other: &Version) -> Order {
        let (mut ahead, mut behind) = (false, false);
        merge_join(self, other, |a, b| match a.cmp(&b) {
            Ordering::Greater => ahead = true,
            Ordering::Less => behind = true,
            Ordering::Equal => {}
        });
        match (ahead, behind) {
            (false, false) => Order::Equal,
            (true, false) => Order::After,
            (false, true) => Order::Before,
            (true, true) => Order::Concurrent,
        }
    }

    /// Whether `self`'s value is the one to keep against `other`'s: the
    /// larger stamp. A dominating version never loses; an equal stamp is
    /// the same write (the value is the same, only the clocks may differ).
    pub fn wins_over(&self, other: &Version) -> bool {
        self.stamp > other.stamp
    }

    /// The join of two versions: the pointwise maximum of the clocks, whose
    /// largest dot, the stamp, is the larger of the two stamps. The value to
    /// keep with it is the one of the version with that stamp.
    pub fn merge(&self, other: &Version) -> Version {
        if self.past.is_empty() && other.past.is_empty() && self.stamp.writer == other.stamp.writer {
            return if self.stamp >= other.stamp { self.clone() } else { other.clone() };
        }
        let stamp = self.stamp.max(other.stamp);
        let mut past = Vec::with_capacity(self.past.len() + other.past.len() + 1);
        let mut node = None;
        merge_join_dots(self, other, |n, a, b| {
            node = Some(n);
            let hlc = a.max(b);
            if n != stamp.writer {
                past.push(Dot { node: n, hlc });
            }
        });
        debug_assert!(node.is_some());
        if past.len() > DOTS_MAX {
            past.sort_unstable_by_key(|d| std::cmp::Reverse(d.as_stamp()));
            past.truncate(DOTS_MAX);
            past.sort_unstable_by_key(|d| d.node);
        }
        Version { stamp, past: past.into_boxed_slice() }
    }

    /// A 64-bit mix of the stamp, for per-slot digests: two owners holding
    /// the same stamp for a key hold the same write.
    pub fn digest(&self) -> u64 {
        Self::digest_of(self.stamp)
    }

    /// [`Version::digest`] from a stamp alone (what a store keeps inline).
    pub fn digest_of(stamp: Stamp) -> u64 {
        mix(stamp.hlc.as_u64() ^ u64::from(stamp.writer.get()).rotate_left(37))
    }
}

/// A strong 64-bit finalizer (splitmix64's).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Calls `f(node, a, b)` for every node in either clock, in node order,
/// with its entry in each (`Hlc::ZERO` where missing).
fn merge_join_dots(x: &Version, y: &Version, mut f: impl FnMut(NodeTag, Hlc, Hlc)) {
    let mut xs = x.dots().peekable();
    let mut ys = y.dots().peekable();
    loop {
        match (xs.peek().copied(), ys.peek().copied()) {
            (None, None) => return,
            (Some(a), None) => {
                f(a.node, a.hlc, Hlc::ZERO);
                xs.next();
            }
            (None, Some(b)) => {
                f(b.node, Hlc::ZERO, b.hlc);
                ys.next();
            }
            (Some(a), Some(b)) => match a.node.cmp(&b.node) {
                Ordering::Less => {
                    f(a.node, a.hlc, Hlc::ZERO);
                    xs.next();
                }
                Ordering::Greater => {
                    f(b.node, Hlc::ZERO, b.hlc);
                    ys.next();
                }
                Ordering::Equal => {
                    f(a.node, a.hlc, b.hlc);
                    xs.next();
                    ys.next();
                }
            },
        }
    }
}

fn merge_join(x: &Version, y: &Version, mut f: impl FnMut(Hlc, Hlc)) {
    merge_join_dots(x, y, |_, a, b| f(a, b));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(n: u32) -> NodeTag {
        NodeTag::new(n).expect("valid tag")
    }

    #[test]
    fn a_write_on_top_dominates_and_stamps_later() {
        let a = Version::first(tag(1), 1_000);
        let b = a.next(tag(2), 500, PRUNE_MS_DEFAULT);
        assert_eq!(b.compare(&a), Order::After);
        assert_eq!(a.compare(&b), Order::Before);
        assert!(b.wins_over(&a));
        assert_eq!(b.get(tag(1)), Some(a.stamp().hlc));
        assert_eq!(b.stamp().hlc, Hlc::new(1_000, 1), "a clock behind still stamps later");
        // The same writer again carries nothing.
        let c = Version::first(tag(1), 1).next(tag(1), 2, PRUNE_MS_DEFAULT);
        assert!(c.past().is_empty());
    }

    #[test]
    fn concurrent_writes_keep_the_later_stamp_and_both_histories() {
        let base = Version::first(tag(1), 1_000);
        let x = base.next(tag(2), 2_000, PRUNE_MS_DEFAULT);
        let y = base.next(tag(3), 3_000, PRUNE_MS_DEFAULT);
        assert_eq!(x.compare(&y), Order::Concurrent);
        let m = x.merge(&y);
        assert_eq!(m, y.merge(&x));
        assert_eq!(m.stamp(), y.stamp());
        assert_eq!(m.compare(&x), Order::After);
        assert_eq!(m.compare(&y), Order::After);
        assert_eq!(m.get(tag(2)), Some(x.stamp().hlc));
    }

    #[test]
    fn equal_stamps_break_ties_by_writer() {
        let x = Version::first(tag(5), 1_000);
        let y = Version::first(tag(9), 1_000);
        assert!(y.wins_over(&x));
        assert_eq!(x.merge(&y).stamp().writer, tag(9));
    }

    #[test]
    fn old_dots_are_pruned_and_pruning_never_changes_the_winner() {
        let a = Version::first(tag(1), 1_000);
        let b = a.next(tag(2), 1_000 + PRUNE_MS_DEFAULT + 1, PRUNE_MS_DEFAULT);
        assert!(b.past().is_empty());
        assert!(b.wins_over(&a));
        assert_eq!(a.merge(&b).stamp(), b.stamp());
    }

    #[test]
    fn from_parts_checks_every_invariant() {
        let s = Stamp { hlc: Hlc::new(10, 0), writer: tag(1) };
        let d = |n, ms| Dot { node: tag(n), hlc: Hlc::new(ms, 0) };
        assert!(Version::from_parts(s, vec![d(3, 5), d(2, 9)]).is_ok());
        assert_eq!(Version::from_parts(s, vec![d(1, 5)]), Err(VersionError::WriterInPast));
        assert_eq!(Version::from_parts(s, vec![d(2, 5), d(2, 6)]), Err(VersionError::Unsorted));
        assert_eq!(Version::from_parts(s, vec![d(2, 11)]), Err(VersionError::DotNotOlder));
        // Same time, smaller node: older in (hlc, node) order.
        assert!(Version::from_parts(Stamp { hlc: Hlc::new(10, 0), writer: tag(5) }, vec![d(2, 10)]).is_ok());
        let many = (2..(DOTS_MAX as u32 + 3)).map(|n| d(n, 1)).collect();
        assert_eq!(Version::from_parts(s, many), Err(VersionError::TooManyDots));
    }

    #[test]
    fn dots_lists_the_writer_in_node_order() {
        let v = Version::first(tag(1), 1).next(tag(7), 2, u64::MAX).next(tag(4), 3, u64::MAX);
        let nodes: Vec<u32> = v.dots().map(|d| d.node.get()).collect();
        assert_eq!(nodes, vec![1, 4, 7]);
    }
}
