//! RESP2/RESP3: the Redis wire protocol, with no I/O.
//!
//! Decoding is layered as bytes → frame → typed command: this crate turns
//! bytes into argument vectors ([`parse_request`]) and replies into bytes
//! ([`Reply::encode`]); the server turns argument vectors into commands.
//!
//! Invariants:
//! - An incomplete frame is "need more bytes" (`Ok(None)`), never an error,
//!   and consumes nothing from the buffer.
//! - Every length read from the wire is checked against [`Limits`] before any
//!   memory is reserved for it.
//! - Arguments are `Bytes` slices of the read buffer: no copy on decode. Code
//!   that stores an argument for longer than one command must copy it, or it
//!   pins the whole read buffer.

mod double;
mod reply;
mod request;

pub use double::{format_double, parse_double};
pub use reply::{decode_reply, DecodeError, Proto, Reply, SmallBulk, SMALL_BULK_MAX};
pub use request::{encode_request, parse_request, Frame, Limits, ProtocolError, RequestParser};
