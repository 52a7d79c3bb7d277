//! Versions of stored values, and the rule that orders them.
//!
//! Every value a node stores carries a [`Version`]: a vector clock whose
//! entries ([`Dot`]s) map a node ([`NodeTag`]) to the hybrid logical clock
//! stamp ([`Hlc`]) of that node's latest write in the value's history. The
//! write that produced the value is the clock's largest dot, its [`Stamp`]
//! (stamp and writer): that is what last-writer-wins compares.
//!
//! The rule: an owner applies an incoming version that dominates its own,
//! ignores one that it dominates, and for concurrent ones keeps the value of
//! the larger `(hlc, writer)` and the pointwise maximum of both clocks. A
//! write always stamps later than everything its value has seen
//! ([`Hlc::after`]), so a dominating version never has the smaller stamp
//! (an equal one is the same write with more history merged in), and the
//! three cases are one operation, [`Version::merge`]: a join
//! (commutative, associative, idempotent), so owners converge whatever the
//! order, duplication or loss of the messages between them.
//!
//! Invariants of every `Version` (checked by [`Version::from_parts`], so by
//! the decoder too):
//! - its past holds at most [`DOTS_MAX`] dots, sorted by node, none for the
//!   writer;
//! - every past dot is smaller than the stamp in `(hlc, node)` order: the
//!   stamp is the clock's largest dot.
//!
//! No I/O, no clock reads: time is an argument. The full story, with what
//! last-writer-wins can lose: `docs/replication.md`.

mod codec;
mod hlc;
mod tag;
mod version;

pub use codec::DecodeError;
pub use hlc::Hlc;
pub use tag::NodeTag;
pub use version::{Dot, Order, Stamp, Version, VersionError, DOTS_MAX, PRUNE_MS_DEFAULT};
