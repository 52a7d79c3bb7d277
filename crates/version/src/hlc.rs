//! Hybrid logical clock stamps.
//!
//! A stamp is Unix milliseconds in the high 48 bits and a logical counter in
//! the low 16, so stamps compare as integers and stay close to wall time.
//! A write on top of a value stamped `s`, at wall time `t`, is stamped
//! [`Hlc::after`]: `max(t, s + 1)`. That is the HLC receive-and-send rule
//! applied to the key's own causal past, which is all the version rule
//! needs: a version that has seen another always stamps later, even on a
//! node whose clock is behind. No node-wide clock (and no shared atomic on
//! the write path) is needed.
//!
//! 48 bits of milliseconds last until the year 10889; a logical counter
//! that overflows carries into the milliseconds (the stamp runs ahead of the
//! wall clock by at most that much, and the wall clock catches up).

use std::fmt;

/// A hybrid logical clock stamp: `ms << 16 | logical`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hlc(u64);

impl Hlc {
    /// Before every write.
    pub const ZERO: Hlc = Hlc(0);
    const LOGICAL_BITS: u32 = 16;
    /// The largest wall time a stamp can hold.
    pub const MS_MAX: u64 = (1 << (64 - Self::LOGICAL_BITS)) - 1;

    /// The stamp at `ms` (clamped to [`Hlc::MS_MAX`]) with counter `logical`.
    pub fn new(ms: u64, logical: u16) -> Hlc {
        Hlc(ms.min(Self::MS_MAX) << Self::LOGICAL_BITS | u64::from(logical))
    }

    pub fn from_u64(raw: u64) -> Hlc {
        Hlc(raw)
    }

    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// The wall-clock part, in Unix milliseconds.
    pub fn ms(self) -> u64 {
        self.0 >> Self::LOGICAL_BITS
    }

    pub fn logical(self) -> u16 {
        self.0 as u16
    }

    /// The stamp of a write made at `wall_ms` on top of one stamped `self`:
    /// later than both.
    pub fn after(self, wall_ms: u64) -> Hlc {
        Hlc::new(wall_ms, 0).max(Hlc(self.0.saturating_add(1)))
    }
}

impl fmt::Debug for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.ms(), self.logical())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip_and_order_by_time_then_counter() {
        let a = Hlc::new(1_700_000_000_000, 7);
        assert_eq!((a.ms(), a.logical()), (1_700_000_000_000, 7));
        assert!(Hlc::new(5, 0) > Hlc::new(4, u16::MAX));
        assert_eq!(Hlc::new(u64::MAX, 0).ms(), Hlc::MS_MAX);
    }

    #[test]
    fn after_is_later_than_both_the_wall_clock_and_the_past() {
        let past = Hlc::new(1_000, 3);
        // Wall clock behind the past: logical step.
        assert_eq!(past.after(900), Hlc::new(1_000, 4));
        assert_eq!(past.after(1_000), Hlc::new(1_000, 4));
        // Wall clock ahead: its time, counter 0.
        assert_eq!(past.after(1_001), Hlc::new(1_001, 0));
        // The counter carries into the milliseconds.
        assert_eq!(Hlc::new(7, u16::MAX).after(0), Hlc::new(8, 0));
        assert_eq!(Hlc::from_u64(u64::MAX).after(0), Hlc::from_u64(u64::MAX));
    }
}
