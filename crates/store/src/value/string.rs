//! String values, stored compactly: up to [`INLINE_MAX`] bytes inside the
//! value itself (no allocation, and nothing to free when it is replaced),
//! longer ones in a `Bytes` buffer, which a reply can share without a copy.
//!
//! Invariants: a string of at most `INLINE_MAX` bytes is always inline, so
//! two equal strings have the same representation; a heap buffer is a
//! private copy (never a slice of a client's read buffer).
//!
//! `INLINE_MAX` is what fits in the 40 bytes a `Value` takes anyway (its
//! heap variant is a 32-byte `Bytes` after the tag): 38 bytes covers the
//! small values (counters, tokens, short JSON) that caches mostly hold.

use std::fmt;
use std::ops::Deref;

use bytes::{Bytes, BytesMut};

/// The longest string kept inline.
pub const INLINE_MAX: usize = 38;

/// A stored string.
#[derive(Clone)]
pub struct StrValue(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, data: [u8; INLINE_MAX] },
    Heap(Bytes),
}

impl StrValue {
    /// A private copy of `b`.
    pub fn new(b: &[u8]) -> StrValue {
        if b.len() <= INLINE_MAX {
            Self::inline(b)
        } else {
            StrValue(Repr::Heap(Bytes::copy_from_slice(b)))
        }
    }

    fn inline(b: &[u8]) -> StrValue {
        debug_assert!(b.len() <= INLINE_MAX);
        let mut data = [0; INLINE_MAX];
        data[..b.len()].copy_from_slice(b);
        StrValue(Repr::Inline { len: b.len() as u8, data })
    }

    /// Takes `b`, which must be a private buffer (not a slice of a client's
    /// read buffer: it would pin it); a short one is copied inline.
    pub fn from_owned(b: Bytes) -> StrValue {
        if b.len() <= INLINE_MAX {
            Self::inline(&b)
        } else {
            StrValue(Repr::Heap(b))
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, data } => &data[..usize::from(*len)],
            Repr::Heap(b) => b,
        }
    }

    /// The string as `Bytes` for a reply: the heap buffer shared, or a copy
    /// of an inline string.
    pub fn to_bytes(&self) -> Bytes {
        match &self.0 {
            Repr::Inline { len, data } => Bytes::copy_from_slice(&data[..usize::from(*len)]),
            Repr::Heap(b) => b.clone(),
        }
    }

    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held outside the value (what it is accounted for): none for
    /// an inline string.
    pub fn mem(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(b) => b.len(),
        }
    }

    /// Whether the bytes live in a separate allocation.
    pub fn is_heap(&self) -> bool {
        matches!(self.0, Repr::Heap(_))
    }

    /// Changes the string in place through `f`. A heap buffer nothing else
    /// holds is reused, so repeated APPENDs grow it amortised (as Redis's
    /// sds does); one still shared (by a reply being written) is copied.
    pub fn edit<R>(&mut self, f: impl FnOnce(&mut BytesMut) -> R) -> R {
        let mut buf = match std::mem::replace(&mut self.0, Repr::Inline { len: 0, data: [0; INLINE_MAX] }) {
            Repr::Inline { len, data } => BytesMut::from(&data[..usize::from(len)]),
            Repr::Heap(b) => b.try_into_mut().unwrap_or_else(|shared| BytesMut::from(&shared[..])),
        };
        let r = f(&mut buf);
        *self = if buf.len() <= INLINE_MAX { Self::inline(&buf) } else { StrValue(Repr::Heap(buf.freeze())) };
        r
    }
}

impl Deref for StrValue {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for StrValue {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for StrValue {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for StrValue {}

impl fmt::Debug for StrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Bytes::copy_from_slice(self.as_bytes()), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_inline_and_long_ones_on_the_heap() {
        for n in [0, 1, INLINE_MAX - 1, INLINE_MAX, INLINE_MAX + 1, 1000] {
            let b: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let s = StrValue::new(&b);
            assert_eq!(s.as_bytes(), &b[..]);
            assert_eq!(s.len(), n);
            assert_eq!(s.is_heap(), n > INLINE_MAX);
            assert_eq!(s.mem(), if n > INLINE_MAX { n } else { 0 });
            assert_eq!(&s.to_bytes()[..], &b[..]);
            assert_eq!(StrValue::from_owned(Bytes::from(b.clone())), s);
            assert_eq!(StrValue::from_owned(Bytes::from(b)).is_heap(), n > INLINE_MAX);
        }
    }

    #[test]
    fn edit_moves_between_representations() {
        let mut s = StrValue::new(b"abc");
        s.edit(|b| b.extend_from_slice(&[b'x'; INLINE_MAX]));
        assert!(s.is_heap());
        assert_eq!(s.len(), 3 + INLINE_MAX);
        assert_eq!(&s[..3], b"abc");
        // A heap buffer shared with a reply is copied, not changed under it.
        let reply = s.to_bytes();
        s.edit(|b| b.truncate(2));
        assert!(!s.is_heap());
        assert_eq!(s.as_bytes(), b"ab");
        assert_eq!(reply.len(), 3 + INLINE_MAX);
    }

    #[test]
    fn a_value_stays_40_bytes() {
        assert_eq!(std::mem::size_of::<StrValue>(), 40);
        assert_eq!(std::mem::size_of::<crate::Value>(), 40);
    }
}
