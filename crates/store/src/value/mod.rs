//! The value types. Each collection keeps a running count of the bytes it
//! holds, so that a value's accounted size is known in O(1) after any change.

mod hash;
mod list;
mod set;
mod stream;
mod string;
mod zset;

use bytes::Bytes;

pub use hash::HashValue;
pub use list::ListValue;
pub use set::SetValue;
pub use stream::{
    ClaimCount, Consumer, ConsumerGroup, DecodedGroup, Delivered, NodeLimits, Pending, StreamEntry, StreamId,
    StreamMeta, StreamValue, StreamView, Trim, TrimBy, ENTRIES_READ_UNKNOWN, NODE_MAX_SIZE,
};
pub use string::{StrValue, INLINE_MAX};
pub use zset::{ScoreBound, ZAddFlags, ZAdded, ZSetValue};

/// Fixed cost charged per collection element on top of its bytes: the
/// `Bytes` handle, the allocation header and the table slot.
pub(crate) const ELEMENT_OVERHEAD: usize = 48;

/// The operation was applied to a key holding the wrong kind of value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
pub struct WrongType;

/// A stored value: 40 bytes, so that every entry is small. Strings up to
/// [`INLINE_MAX`] bytes live inside it; collections, which are big and
/// rarer, are boxed so that string keys do not pay for their size.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(StrValue),
    Hash(Box<HashValue>),
    List(Box<ListValue>),
    Set(Box<SetValue>),
    ZSet(Box<ZSetValue>),
    Stream(Box<StreamValue>),
}

impl Value {
    /// A string value holding a private copy of `b` (never a slice of a
    /// client's read buffer).
    pub fn string(b: &[u8]) -> Value {
        Value::Str(StrValue::new(b))
    }

    /// A string value that takes `b`, which must be a private buffer (see
    /// [`StrValue::from_owned`]).
    pub fn string_owned(b: Bytes) -> Value {
        Value::Str(StrValue::from_owned(b))
    }

    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// Bytes this value is accounted for, excluding the entry's own
    /// overhead: what it holds outside the entry (nothing for a short
    /// string, which lives inside it).
    pub fn mem(&self) -> usize {
        match self {
            Value::Str(s) => s.mem(),
            Value::Hash(h) => h.mem(),
            Value::List(l) => l.mem(),
            Value::Set(s) => s.mem(),
            Value::ZSet(z) => z.mem(),
            Value::Stream(s) => s.mem(),
        }
    }

    /// Elements of a list, hash (fields), set or sorted set; 0 for a
    /// string or a stream.
    pub fn collection_len(&self) -> usize {
        match self {
            Value::Str(_) => 0,
            Value::Stream(s) => s.len() as usize,
            Value::Hash(h) => h.len(),
            Value::List(l) => l.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
        }
    }

    /// An empty collection: Redis deletes the key when its last element goes.
    /// Not a stream: an empty stream stays (with its groups and last id).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::Hash(h) => h.is_empty(),
            Value::List(l) => l.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            Value::Stream(_) => false,
        }
    }

    pub fn as_str(&self) -> Result<&StrValue, WrongType> {
        match self {
            Value::Str(s) => Ok(s),
            _ => Err(WrongType),
        }
    }

    pub fn as_str_mut(&mut self) -> Result<&mut StrValue, WrongType> {
        match self {
            Value::Str(s) => Ok(s),
            _ => Err(WrongType),
        }
    }

    pub fn as_hash(&self) -> Result<&HashValue, WrongType> {
        match self {
            Value::Hash(h) => Ok(h),
            _ => Err(WrongType),
        }
    }

    pub fn as_hash_mut(&mut self) -> Result<&mut HashValue, WrongType> {
        match self {
            Value::Hash(h) => Ok(h),
            _ => Err(WrongType),
        }
    }

    pub fn as_list(&self) -> Result<&ListValue, WrongType> {
        match self {
            Value::List(l) => Ok(l),
            _ => Err(WrongType),
        }
    }

    pub fn as_list_mut(&mut self) -> Result<&mut ListValue, WrongType> {
        match self {
            Value::List(l) => Ok(l),
            _ => Err(WrongType),
        }
    }

    pub fn as_set(&self) -> Result<&SetValue, WrongType> {
        match self {
            Value::Set(s) => Ok(s),
            _ => Err(WrongType),
        }
    }

    pub fn as_set_mut(&mut self) -> Result<&mut SetValue, WrongType> {
        match self {
            Value::Set(s) => Ok(s),
            _ => Err(WrongType),
        }
    }

    pub fn as_zset(&self) -> Result<&ZSetValue, WrongType> {
        match self {
            Value::ZSet(z) => Ok(z),
            _ => Err(WrongType),
        }
    }

    pub fn as_zset_mut(&mut self) -> Result<&mut ZSetValue, WrongType> {
        match self {
            Value::ZSet(z) => Ok(z),
            _ => Err(WrongType),
        }
    }
}

impl Value {
    pub fn as_stream(&self) -> Result<&StreamValue, WrongType> {
        match self {
            Value::Stream(s) => Ok(s),
            _ => Err(WrongType),
        }
    }

    pub fn as_stream_mut(&mut self) -> Result<&mut StreamValue, WrongType> {
        match self {
            Value::Stream(s) => Ok(s),
            _ => Err(WrongType),
        }
    }
}
