//! Replies: one type for every RESP2/RESP3 value, encoded for the protocol
//! the client chose with `HELLO`.
//!
//! RESP3-only types degrade the way Redis degrades them for RESP2 clients:
//! maps become flat arrays, sets become arrays, doubles become bulk strings,
//! booleans become integers and nulls become `$-1` (or `*-1` for a null array).

use bytes::{BufMut, Bytes, BytesMut};

use crate::double::format_double;
use crate::request::parse_i64;

/// The protocol a connection speaks, chosen by `HELLO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Proto {
    #[default]
    Resp2,
    Resp3,
}

/// A reply to a client, or a value decoded from the wire.
///
/// Equality compares what goes on the wire: a `SmallBulk` equals the `Bulk`
/// with the same bytes.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `+OK`. Must not contain CR or LF.
    Simple(Bytes),
    /// `-ERR ...`: the text without the leading `-`, starting with the code.
    Error(Bytes),
    Integer(i64),
    Bulk(Bytes),
    /// A bulk string short enough to travel inside the reply: a stored
    /// small value is replied without allocating (see [`SmallBulk`]).
    SmallBulk(SmallBulk),
    /// The null bulk string (`$-1` in RESP2).
    Null,
    /// The null array (`*-1` in RESP2), for replies where Redis uses it.
    NullArray,
    Array(Vec<Reply>),
    /// Key/value pairs: a RESP3 map, a flat array in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A RESP3 set, an array in RESP2.
    Set(Vec<Reply>),
    /// A RESP3 double, a bulk string in RESP2.
    Double(f64),
    /// A RESP3 boolean, `:1`/`:0` in RESP2.
    Boolean(bool),
    /// A RESP3 verbatim string (`=len\r\ntxt:...`), a bulk string in RESP2.
    Verbatim(Bytes),
    /// A RESP3 big number, a bulk string in RESP2.
    BigNumber(Bytes),
    /// A RESP3 push (out-of-band) message, an array in RESP2.
    Push(Vec<Reply>),
    /// Bytes already encoded for this connection's protocol (e.g. a reply
    /// relayed from another node), written as they are.
    Raw(Bytes),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Simple(Bytes::from_static(b"OK"))
    }

    pub fn simple(s: &'static str) -> Reply {
        Reply::Simple(Bytes::from_static(s.as_bytes()))
    }

    /// An error reply; `msg` starts with its code (`ERR`, `WRONGTYPE`, ...).
    pub fn error(msg: impl Into<String>) -> Reply {
        let mut msg: String = msg.into();
        // A CR or LF would end the reply early and desynchronise the client.
        if msg.contains(['\r', '\n']) {
            msg = msg.replace(['\r', '\n'], " ");
        }
        Reply::Error(Bytes::from(msg))
    }

    /// An error reply that quotes bytes the client sent, which Redis echoes
    /// as they are (not UTF-8 checked). CR and LF become spaces, as in
    /// Redis's `addReplyError`.
    pub fn error_bytes(msg: impl Into<Vec<u8>>) -> Reply {
        let mut msg = msg.into();
        for b in &mut msg {
            if matches!(*b, b'\r' | b'\n') {
                *b = b' ';
            }
        }
        Reply::Error(Bytes::from(msg))
    }

    pub fn error_static(msg: &'static str) -> Reply {
        Reply::Error(Bytes::from_static(msg.as_bytes()))
    }

    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }

    /// A bulk string holding a copy of `b`: inline when it is short, so a
    /// small reply costs no allocation.
    pub fn bulk_copy(b: &[u8]) -> Reply {
        match SmallBulk::new(b) {
            Some(small) => Reply::SmallBulk(small),
            None => Reply::Bulk(Bytes::copy_from_slice(b)),
        }
    }

    /// The bytes of a bulk string reply, whichever way it is held.
    pub fn as_bulk(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) => Some(b),
            Reply::SmallBulk(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends this reply to `out`, encoded for `proto`.
    pub fn encode(&self, proto: Proto, out: &mut BytesMut) {
        let resp3 = proto == Proto::Resp3;
        match self {
            Reply::Simple(s) => line(out, b'+', s),
            Reply::Error(e) => line(out, b'-', e),
            Reply::Integer(i) => int_line(out, b':', *i),
            Reply::Bulk(b) => bulk(out, b),
            Reply::SmallBulk(b) => bulk(out, b.as_bytes()),
            Reply::Null if resp3 => out.put_slice(b"_\r\n"),
            Reply::Null => out.put_slice(b"$-1\r\n"),
            Reply::NullArray if resp3 => out.put_slice(b"_\r\n"),
            Reply::NullArray => out.put_slice(b"*-1\r\n"),
            Reply::Array(items) => aggregate(out, b'*', items, proto),
            Reply::Set(items) => aggregate(out, if resp3 { b'~' } else { b'*' }, items, proto),
            Reply::Push(items) => aggregate(out, if resp3 { b'>' } else { b'*' }, items, proto),
            Reply::Map(pairs) => {
                if resp3 {
                    header(out, b'%', pairs.len());
                } else {
                    header(out, b'*', pairs.len() * 2);
                }
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Reply::Double(d) => {
                let text = format_double(*d);
                if resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    bulk(out, text.as_bytes());
                }
            }
            Reply::Boolean(b) if resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Reply::Boolean(b) => int_line(out, b':', i64::from(*b)),
            Reply::Verbatim(text) if resp3 => {
                header(out, b'=', text.len() + 4);
                out.put_slice(b"txt:");
                out.put_slice(text);
                out.put_slice(b"\r\n");
            }
            Reply::Verbatim(text) => bulk(out, text),
            Reply::BigNumber(n) if resp3 => line(out, b'(', n),
            Reply::BigNumber(n) => bulk(out, n),
            Reply::Raw(raw) => out.put_slice(raw),
        }
    }
}

impl PartialEq for Reply {
    fn eq(&self, other: &Self) -> bool {
        use Reply::*;
        match (self, other) {
            (Simple(a), Simple(b))
            | (Error(a), Error(b))
            | (Verbatim(a), Verbatim(b))
            | (BigNumber(a), BigNumber(b))
            | (Raw(a), Raw(b)) => a == b,
            (Integer(a), Integer(b)) => a == b,
            (Null, Null) | (NullArray, NullArray) => true,
            (Array(a), Array(b)) | (Set(a), Set(b)) | (Push(a), Push(b)) => a == b,
            (Map(a), Map(b)) => a == b,
            (Double(a), Double(b)) => a == b,
            (Boolean(a), Boolean(b)) => a == b,
            // Bulk and SmallBulk, in any combination, or different kinds.
            _ => matches!((self.as_bulk(), other.as_bulk()), (Some(a), Some(b)) if a == b),
        }
    }
}

/// The longest bulk string a [`SmallBulk`] holds: what fits in the 40 bytes
/// a `Reply` takes anyway.
pub const SMALL_BULK_MAX: usize = 38;

/// A short bulk string held inline.
#[derive(Clone, Copy)]
pub struct SmallBulk {
    len: u8,
    data: [u8; SMALL_BULK_MAX],
}

impl SmallBulk {
    /// `b` inline, or `None` if it is longer than [`SMALL_BULK_MAX`].
    pub fn new(b: &[u8]) -> Option<SmallBulk> {
        (b.len() <= SMALL_BULK_MAX).then(|| {
            let mut data = [0; SMALL_BULK_MAX];
            data[..b.len()].copy_from_slice(b);
            SmallBulk { len: b.len() as u8, data }
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.data[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for SmallBulk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&Bytes::copy_from_slice(self.as_bytes()), f)
    }
}

impl From<i64> for Reply {
    fn from(i: i64) -> Self {
        Reply::Integer(i)
    }
}

impl From<Bytes> for Reply {
    fn from(b: Bytes) -> Self {
        Reply::Bulk(b)
    }
}

impl From<Option<Bytes>> for Reply {
    fn from(b: Option<Bytes>) -> Self {
        b.map_or(Reply::Null, Reply::Bulk)
    }
}

fn line(out: &mut BytesMut, tag: u8, body: &[u8]) {
    debug_assert!(!body.contains(&b'\r') && !body.contains(&b'\n'), "line reply with CR/LF");
    out.reserve(body.len() + 3);
    out.put_u8(tag);
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

fn int_line(out: &mut BytesMut, tag: u8, n: i64) {
    let mut fmt = itoa::Buffer::new();
    line(out, tag, fmt.format(n).as_bytes());
}

fn header(out: &mut BytesMut, tag: u8, len: usize) {
    let mut fmt = itoa::Buffer::new();
    line(out, tag, fmt.format(len).as_bytes());
}

fn bulk(out: &mut BytesMut, b: &[u8]) {
    out.reserve(b.len() + 16);
    header(out, b'$', b.len());
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

fn aggregate(out: &mut BytesMut, tag: u8, items: &[Reply], proto: Proto) {
    header(out, tag, items.len());
    for item in items {
        item.encode(proto, out);
    }
}

/// A reply stream that does not follow RESP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid reply: {0}")]
pub struct DecodeError(pub &'static str);

/// Nesting deeper than this is refused, so a hostile peer cannot overflow
/// the decoder's stack.
const DEPTH_MAX: usize = 64;

/// Decodes one reply from the front of `buf`, returning it and the number of
/// bytes it used, or `Ok(None)` if `buf` holds only part of it. Used to relay
/// replies from other nodes and by tests; RESP3 attributes are not supported.
pub fn decode_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, DecodeError> {
    decode_at(buf, 0, 0)
}

fn read_line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rel = buf.get(pos..)?.windows(2).position(|w| w == b"\r\n")?;
    Some((&buf[pos..pos + rel], pos + rel + 2))
}

fn decode_at(buf: &[u8], pos: usize, depth: usize) -> Result<Option<(Reply, usize)>, DecodeError> {
    if depth > DEPTH_MAX {
        return Err(DecodeError("nesting too deep"));
    }
    let Some(&tag) = buf.get(pos) else {
        return Ok(None);
    };
    let Some((body, next)) = read_line(buf, pos + 1) else {
        return Ok(None);
    };
    let int = |b: &[u8]| parse_i64(b).ok_or(DecodeError("bad integer"));
    let bytes = |b: &[u8]| Bytes::copy_from_slice(b);
    let reply = match tag {
        b'+' => Reply::Simple(bytes(body)),
        b'-' => Reply::Error(bytes(body)),
        b':' => Reply::Integer(int(body)?),
        b'_' => Reply::Null,
        b'#' => match body {
            b"t" => Reply::Boolean(true),
            b"f" => Reply::Boolean(false),
            _ => return Err(DecodeError("bad boolean")),
        },
        b',' => {
            let text = std::str::from_utf8(body).map_err(|_| DecodeError("bad double"))?;
            Reply::Double(crate::double::parse_double(text.as_bytes()).ok_or(DecodeError("bad double"))?)
        }
        b'(' => Reply::BigNumber(bytes(body)),
        b'$' | b'=' | b'!' => {
            let len = int(body)?;
            if len == -1 && tag == b'$' {
                return Ok(Some((Reply::Null, next)));
            }
            let len = usize::try_from(len).map_err(|_| DecodeError("bad length"))?;
            let end = next.checked_add(len).ok_or(DecodeError("bad length"))?;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(DecodeError("missing CRLF after bulk"));
            }
            let data = &buf[next..end];
            let reply = match tag {
                b'$' => Reply::Bulk(bytes(data)),
                b'!' => Reply::Error(bytes(data)),
                _ => {
                    let text = data.strip_prefix(b"txt:").ok_or(DecodeError("bad verbatim"))?;
                    Reply::Verbatim(bytes(text))
                }
            };
            return Ok(Some((reply, end + 2)));
        }
        b'*' | b'~' | b'>' | b'%' => {
            let len = int(body)?;
            if len == -1 && tag == b'*' {
                return Ok(Some((Reply::NullArray, next)));
            }
            let len = usize::try_from(len).map_err(|_| DecodeError("bad length"))?;
            let items_len = if tag == b'%' { len.checked_mul(2).ok_or(DecodeError("bad length"))? } else { len };
            // Every element takes at least 3 bytes; refuse counts the buffer
            // cannot possibly hold before reserving memory for them.
            let mut items = Vec::with_capacity(items_len.min((buf.len() - next) / 3 + 1));
            let mut at = next;
            for _ in 0..items_len {
                match decode_at(buf, at, depth + 1)? {
                    Some((item, n)) => {
                        items.push(item);
                        at = n;
                    }
                    None => return Ok(None),
                }
            }
            let reply = match tag {
                b'*' => Reply::Array(items),
                b'~' => Reply::Set(items),
                b'>' => Reply::Push(items),
                _ => {
                    let mut pairs = Vec::with_capacity(len);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Reply::Map(pairs)
                }
            };
            return Ok(Some((reply, at)));
        }
        _ => return Err(DecodeError("unknown type byte")),
    };
    Ok(Some((reply, next)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(r: &Reply, proto: Proto) -> Vec<u8> {
        let mut out = BytesMut::new();
        r.encode(proto, &mut out);
        out.to_vec()
    }

    #[test]
    fn resp2_degrades_resp3_types() {
        let map = Reply::Map(vec![(Reply::bulk("a"), Reply::Integer(1))]);
        assert_eq!(enc(&map, Proto::Resp2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&map, Proto::Resp3), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Null, Proto::Resp2), b"$-1\r\n");
        assert_eq!(enc(&Reply::NullArray, Proto::Resp2), b"*-1\r\n");
        assert_eq!(enc(&Reply::Null, Proto::Resp3), b"_\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Proto::Resp2), b"$3\r\n1.5\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Proto::Resp3), b",1.5\r\n");
        assert_eq!(enc(&Reply::Boolean(true), Proto::Resp2), b":1\r\n");
        assert_eq!(enc(&Reply::Boolean(true), Proto::Resp3), b"#t\r\n");
        assert_eq!(enc(&Reply::Set(vec![]), Proto::Resp3), b"~0\r\n");
        assert_eq!(enc(&Reply::Verbatim(Bytes::from("hi")), Proto::Resp3), b"=6\r\ntxt:hi\r\n");
    }

    #[test]
    fn small_bulks_encode_and_compare_as_bulks() {
        assert_eq!(std::mem::size_of::<Reply>(), 40, "SmallBulk must not grow Reply");
        for n in [0, 1, SMALL_BULK_MAX, SMALL_BULK_MAX + 1, 100] {
            let data: Vec<u8> = (0..n).map(|i| b"ab\r\n"[i % 4]).collect();
            let small = Reply::bulk_copy(&data);
            assert_eq!(matches!(small, Reply::SmallBulk(_)), n <= SMALL_BULK_MAX);
            let big = Reply::Bulk(Bytes::from(data.clone()));
            assert_eq!(small, big);
            assert_eq!(small.as_bulk(), Some(&data[..]));
            for proto in [Proto::Resp2, Proto::Resp3] {
                let wire = enc(&small, proto);
                assert_eq!(wire, enc(&big, proto));
                assert_eq!(decode_reply(&wire).unwrap().unwrap(), (big.clone(), wire.len()));
            }
        }
        assert_ne!(Reply::bulk_copy(b"1"), Reply::Integer(1));
        assert_ne!(Reply::bulk_copy(b"OK"), Reply::ok());
        assert_ne!(Reply::bulk_copy(b"a"), Reply::bulk_copy(b"b"));
    }

    #[test]
    fn errors_never_carry_newlines() {
        assert_eq!(enc(&Reply::error("ERR a\r\nb"), Proto::Resp2), b"-ERR a  b\r\n");
        assert_eq!(enc(&Reply::error_bytes(&b"ERR \xff\r\n\x00"[..]), Proto::Resp2), b"-ERR \xff  \x00\r\n");
    }

    #[test]
    fn partial_replies_ask_for_more() {
        let wire = enc(&Reply::Array(vec![Reply::bulk("abc"), Reply::Integer(7)]), Proto::Resp2);
        for cut in 0..wire.len() {
            assert_eq!(decode_reply(&wire[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert!(decode_reply(&wire).unwrap().is_some());
    }

    fn arb_leaf() -> impl Strategy<Value = Reply> {
        let text = "[a-zA-Z0-9 :._-]{0,20}".prop_map(Bytes::from);
        prop_oneof![
            text.clone().prop_map(Reply::Simple),
            text.clone().prop_map(|t| Reply::Error(Bytes::from(format!("ERR {}", String::from_utf8_lossy(&t))))),
            any::<i64>().prop_map(Reply::Integer),
            prop::collection::vec(any::<u8>(), 0..64).prop_map(|v| Reply::Bulk(Bytes::from(v))),
            prop::collection::vec(any::<u8>(), 0..=SMALL_BULK_MAX).prop_map(|v| Reply::bulk_copy(&v)),
            Just(Reply::Null),
            any::<bool>().prop_map(Reply::Boolean),
            (-1e12f64..1e12).prop_map(Reply::Double),
            text.prop_map(Reply::Verbatim),
        ]
    }

    fn arb_reply() -> impl Strategy<Value = Reply> {
        arb_leaf().prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Reply::Array),
                prop::collection::vec(inner.clone(), 0..8).prop_map(Reply::Set),
                prop::collection::vec((inner.clone(), inner), 0..4).prop_map(Reply::Map),
            ]
        })
    }

    proptest! {
        /// RESP3 encoding is lossless: decode(encode(r)) == r.
        #[test]
        fn resp3_round_trip(r in arb_reply()) {
            let wire = enc(&r, Proto::Resp3);
            let (back, used) = decode_reply(&wire).unwrap().unwrap();
            prop_assert_eq!(used, wire.len());
            prop_assert_eq!(back, r);
        }

        /// RESP2 encoding always decodes to exactly one complete reply.
        #[test]
        fn resp2_is_well_formed(r in arb_reply()) {
            let wire = enc(&r, Proto::Resp2);
            let (_, used) = decode_reply(&wire).unwrap().unwrap();
            prop_assert_eq!(used, wire.len());
        }

        #[test]
        fn decoder_survives_garbage(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
            let _ = decode_reply(&bytes);
        }
    }
}
