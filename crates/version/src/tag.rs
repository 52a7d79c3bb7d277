//! A node's tag: the short, stable name versions use for it.
//!
//! Versions are kept per key, so a node is named there by 31 bits of a hash
//! of its node id rather than by the id itself. The tag is stable across
//! restarts and address changes (it depends on the id only). Two members
//! with the same tag would be one writer to the version rule, so membership
//! refuses a node whose tag is already taken; with 31 bits that happens
//! with probability ~n²/2³² (2e-8 at 10 nodes, 2e-6 at 100).
//!
//! The top bit is always clear, so a store may use it as a flag next to a
//! stored tag.

use std::fmt;
use std::num::NonZeroU32;

/// A node's tag in versions: 31 bits, never 0.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeTag(NonZeroU32);

impl NodeTag {
    /// How many bits a tag has: the top bit of a `u32` is never set.
    pub const BITS: u32 = 31;
    /// The largest tag.
    pub const MAX: u32 = (1 << Self::BITS) - 1;

    /// The tag of the node named `node_id`.
    pub fn of(node_id: &str) -> NodeTag {
        let h = xxhash_rust::xxh3::xxh3_64(node_id.as_bytes());
        let t = (h ^ (h >> 32)) as u32 & Self::MAX;
        NodeTag(NonZeroU32::new(t).unwrap_or(NonZeroU32::MIN))
    }

    /// The tag with this raw value; `None` for 0 or a value with the top
    /// bit set.
    pub fn new(raw: u32) -> Option<NodeTag> {
        if raw > Self::MAX {
            return None;
        }
        NonZeroU32::new(raw).map(NodeTag)
    }

    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Debug for NodeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeTag({:08x})", self.get())
    }
}

impl fmt::Display for NodeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_31_bit_nonzero_and_stable() {
        let a = NodeTag::of("node-1");
        assert_eq!(a, NodeTag::of("node-1"));
        assert_ne!(a, NodeTag::of("node-2"));
        for i in 0..10_000 {
            assert!(NodeTag::of(&format!("n{i}")).get() <= NodeTag::MAX);
        }
        assert_eq!(NodeTag::new(0), None);
        assert_eq!(NodeTag::new(1 << 31), None);
        assert_eq!(NodeTag::new(NodeTag::MAX).map(NodeTag::get), Some(NodeTag::MAX));
    }

    #[test]
    fn no_collisions_among_a_few_thousand_ids() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..5_000 {
            assert!(seen.insert(NodeTag::of(&format!("10.0.{}.{}:6379", i / 256, i % 256))));
        }
    }
}
