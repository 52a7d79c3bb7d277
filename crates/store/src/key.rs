//! Stored keys: up to [`KEY_INLINE_MAX`] bytes inside the key itself (no
//! allocation, and the bytes sit next to the entry a lookup compares them
//! with), longer ones in a boxed slice. 24 bytes either way.
//!
//! Invariants: a key of at most `KEY_INLINE_MAX` bytes is always inline; a
//! key hashes exactly as its bytes (`[u8]`'s `Hash`), so maps of keys can
//! be searched with a `&[u8]`.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;

/// The longest key kept inline.
pub const KEY_INLINE_MAX: usize = 22;

/// A stored key: always a private copy.
#[derive(Clone)]
pub struct Key(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, data: [u8; KEY_INLINE_MAX] },
    Heap(Box<[u8]>),
}

impl Key {
    pub fn new(b: &[u8]) -> Key {
        if b.len() <= KEY_INLINE_MAX {
            let mut data = [0; KEY_INLINE_MAX];
            data[..b.len()].copy_from_slice(b);
            Key(Repr::Inline { len: b.len() as u8, data })
        } else {
            Key(Repr::Heap(b.into()))
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, data } => &data[..usize::from(*len)],
            Repr::Heap(b) => b,
        }
    }

    /// Bytes held outside the key (what it is accounted for): none for an
    /// inline key. Needs only the length, so a lookup key will do.
    pub fn mem_of(key: &[u8]) -> usize {
        if key.len() <= KEY_INLINE_MAX {
            0
        } else {
            key.len()
        }
    }

    /// A copy for a reply (SCAN, KEYS, RANDOMKEY: not the hot path).
    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }

    /// Whether the bytes live in a separate allocation.
    #[cfg(test)]
    pub fn is_heap(&self) -> bool {
        matches!(self.0, Repr::Heap(_))
    }
}

impl Deref for Key {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Hash for Key {
    // Must hash as `[u8]` does, for `Borrow<[u8]>` lookups.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl PartialEq<[u8]> for Key {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Bytes::copy_from_slice(self.as_bytes()), f)
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;
    use crate::hasher::XxhBuild;

    #[test]
    fn keys_are_24_bytes_and_hash_like_their_bytes() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
        let build = XxhBuild::default();
        for n in [0, 1, KEY_INLINE_MAX, KEY_INLINE_MAX + 1, 300] {
            let b: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
            let k = Key::new(&b);
            assert_eq!(k.as_bytes(), &b[..]);
            assert_eq!(k.is_heap(), n > KEY_INLINE_MAX);
            assert_eq!(Key::mem_of(&b), if k.is_heap() { n } else { 0 });
            assert_eq!(build.hash_one(&k), build.hash_one(&b[..]));
            assert_eq!(build.hash_one(&k), build.hash_bytes(&b));
            assert_eq!(&k.to_bytes()[..], &b[..]);
        }
    }
}
