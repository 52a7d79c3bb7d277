//! Sorted sets: member → score, plus the members ordered by (score, member).
//!
//! The order is a `BTreeSet`, so rank lookups walk the tree (O(rank));
//! a skip list with spans would make them O(log n), and is the upgrade to
//! make if ZRANK on large sets ever matters.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;

use bytes::Bytes;

use super::ELEMENT_OVERHEAD;
use crate::hasher::IndexMap;

/// A score with a total order. NaN never gets in: the commands refuse it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// One end of a score range: `1.5`, `(1.5`, `-inf`, `+inf`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreBound {
    pub value: f64,
    pub exclusive: bool,
}

impl ScoreBound {
    pub fn contains_as_min(&self, score: f64) -> bool {
        if self.exclusive {
            score > self.value
        } else {
            score >= self.value
        }
    }

    pub fn contains_as_max(&self, score: f64) -> bool {
        if self.exclusive {
            score < self.value
        } else {
            score <= self.value
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZSetValue {
    scores: IndexMap<Bytes, f64>,
    order: BTreeSet<(Score, Bytes)>,
    bytes: usize,
}

impl ZSetValue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub(crate) fn mem(&self) -> usize {
        self.bytes
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets `member`'s score, returning the old score if it was present.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        debug_assert!(!score.is_nan());
        if let Some(old) = self.scores.get_mut(member) {
            let prev = *old;
            if prev != score {
                *old = score;
                let key =
                    self.order.take(&(Score(prev), Bytes::copy_from_slice(member))).expect("zset order out of sync").1;
                self.order.insert((Score(score), key));
            }
            return Some(prev);
        }
        let m = Bytes::copy_from_slice(member);
        // Member bytes are shared by both structures; charge them once plus
        // the second handle's overhead.
        self.bytes += m.len() + 2 * ELEMENT_OVERHEAD;
        self.scores.insert(m.clone(), score);
        self.order.insert((Score(score), m));
        None
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (_, m, score) = self.scores.swap_remove_full(member)?;
        self.order.remove(&(Score(score), m.clone()));
        self.bytes -= m.len() + 2 * ELEMENT_OVERHEAD;
        Some(score)
    }

    /// Members in ascending (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> {
        self.order.iter().map(|(s, m)| (m, s.0))
    }

    /// Members with `min ≤ score ≤ max` (bounds as given), ascending.
    pub fn range_by_score(&self, min: ScoreBound, max: ScoreBound) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> {
        let empty = min.value > max.value || (min.value == max.value && (min.exclusive || max.exclusive));
        let lo = if empty { Bound::Unbounded } else { Bound::Included((Score(min.value), Bytes::new())) };
        let range: Box<dyn DoubleEndedIterator<Item = &(Score, Bytes)>> =
            if empty { Box::new(std::iter::empty()) } else { Box::new(self.order.range((lo, Bound::Unbounded))) };
        range
            .skip_while(move |(s, _)| !min.contains_as_min(s.0))
            .take_while(move |(s, _)| max.contains_as_max(s.0))
            .map(|(s, m)| (m, s.0))
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.order.range(..(Score(score), Bytes::copy_from_slice(member))).count())
    }

    /// The member at position `i` of the member table (not rank order), for
    /// ZSCAN cursors and random sampling.
    pub fn get_index(&self, i: usize) -> Option<(&Bytes, f64)> {
        self.scores.get_index(i).map(|(m, s)| (m, *s))
    }

    /// Removes and returns the lowest (or highest if `max`) member.
    pub fn pop(&mut self, max: bool) -> Option<(Bytes, f64)> {
        let (s, m) = if max { self.order.last()?.clone() } else { self.order.first()?.clone() };
        self.remove(&m);
        Some((m, s.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: f64, exclusive: bool) -> ScoreBound {
        ScoreBound { value: v, exclusive }
    }

    #[test]
    fn order_rank_and_ranges() {
        let mut z = ZSetValue::new();
        assert_eq!(z.insert(b"b", 2.0), None);
        assert_eq!(z.insert(b"a", 1.0), None);
        assert_eq!(z.insert(b"c", 2.0), None);
        assert_eq!(z.insert(b"a", 3.0), Some(1.0));
        let order: Vec<_> = z.iter().map(|(m, _)| m.clone()).collect();
        assert_eq!(order, vec![Bytes::from("b"), Bytes::from("c"), Bytes::from("a")]);
        assert_eq!(z.rank(b"a"), Some(2));
        let r: Vec<_> = z.range_by_score(b(2.0, true), b(f64::INFINITY, false)).map(|(m, _)| m.clone()).collect();
        assert_eq!(r, vec![Bytes::from("a")]);
        assert_eq!(z.range_by_score(b(3.0, false), b(1.0, false)).count(), 0);
        assert_eq!(z.pop(false), Some((Bytes::from("b"), 2.0)));
        assert_eq!(z.remove(b"a"), Some(3.0));
        assert_eq!(z.len(), 1);
        assert_eq!(z.mem(), 1 + 2 * ELEMENT_OVERHEAD);
    }
}
