//! Framing: the byte layout of every message between two nodes. Pure: no
//! I/O, no async, no clocks.
//!
//! ```text
//! offset  size  field
//! 0       4     magic  b"RCTP"
//! 4       1     version (1)
//! 5       1     kind (Hello, Proof, Request, Response, Refused, OneWay)
//! 6       8     request id, u64 big-endian
//! 14      4     payload length, u32 big-endian, <= frame_len_max
//! 18      len   payload (opaque here)
//! ```
//!
//! Invariants:
//! - `decode` returns `Ok(None)` only when the bytes so far are a valid
//!   prefix of some frame ("need more bytes"); it consumes nothing then.
//! - Anything else that is not a frame is an `Err` as soon as the bytes
//!   that prove it have arrived: a bad magic after its first wrong byte, an
//!   unknown version or kind, a length over the limit as soon as the header
//!   is complete (before the payload is buffered). After an error the
//!   caller drops the connection: the stream cannot be resynchronised, and
//!   nothing more from that peer is trusted.
//! - `encode` refuses (and writes nothing for) a payload over the limit, so
//!   a frame we send always decodes on a peer with the same limit.
//! - Nothing a peer sends can make `decode` panic or allocate more than the
//!   header plus `frame_len_max`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::FrameError;

/// The first four bytes of every frame.
pub const MAGIC: [u8; 4] = *b"RCTP";
/// The only version this code speaks. A frame of another version is an
/// error: a mixed-version cluster must be handled above the frame (a new
/// version would come with a negotiation in the handshake).
pub const VERSION: u8 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 18;
/// The default for `frame_len_max`: 64 MiB.
pub const FRAME_LEN_MAX_DEFAULT: u32 = 64 << 20;

/// What a frame is for. The numbers are the wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameKind {
    /// Handshake: a node id and a nonce (see `auth`).
    Hello = 1,
    /// Handshake: the HMAC that proves knowledge of the cluster secret.
    Proof = 2,
    /// A request; the peer answers with `Response` or `Refused` carrying
    /// the same request id.
    Request = 3,
    /// The answer to the request with the same id.
    Response = 4,
    /// The transport on the other side refused the request with that id
    /// (no handler, busy, answer too large, shutting down); the payload is
    /// one [`Refusal`](crate::Refusal) code.
    Refused = 5,
    /// A one-way message: no answer, request id 0.
    OneWay = 6,
}

impl FrameKind {
    pub const ALL: [FrameKind; 6] = [
        FrameKind::Hello,
        FrameKind::Proof,
        FrameKind::Request,
        FrameKind::Response,
        FrameKind::Refused,
        FrameKind::OneWay,
    ];

    pub fn from_u8(b: u8) -> Option<FrameKind> {
        FrameKind::ALL.into_iter().find(|k| *k as u8 == b)
    }
}

/// One frame: kind, request id and opaque payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    pub request_id: u64,
    pub payload: Bytes,
}

impl Frame {
    pub fn new(kind: FrameKind, request_id: u64, payload: impl Into<Bytes>) -> Frame {
        Frame { kind, request_id, payload: payload.into() }
    }

    /// Bytes this frame takes on the wire.
    pub fn wire_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }
}

/// Encoder and decoder for one connection, with its payload limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCodec {
    frame_len_max: u32,
}

impl Default for FrameCodec {
    fn default() -> FrameCodec {
        FrameCodec::new(FRAME_LEN_MAX_DEFAULT)
    }
}

impl FrameCodec {
    /// `frame_len_max` bounds the payload (not the header) in bytes.
    pub const fn new(frame_len_max: u32) -> FrameCodec {
        FrameCodec { frame_len_max }
    }

    pub fn frame_len_max(&self) -> u32 {
        self.frame_len_max
    }

    /// Append `frame` to `dst`. A payload over the limit is refused and
    /// nothing is written.
    pub fn encode(&self, frame: &Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        let len = frame.payload.len();
        if len as u64 > u64::from(self.frame_len_max) {
            return Err(FrameError::TooLarge { len: len as u64, max: self.frame_len_max });
        }
        let start = dst.len();
        dst.reserve(HEADER_LEN + len);
        dst.put_slice(&MAGIC);
        dst.put_u8(VERSION);
        dst.put_u8(frame.kind as u8);
        dst.put_u64(frame.request_id);
        dst.put_u32(len as u32);
        dst.put_slice(&frame.payload);
        debug_assert_eq!(dst.len() - start, frame.wire_len());
        Ok(())
    }

    /// Take one frame off the front of `src`: `Ok(None)` if more bytes are
    /// needed (nothing consumed), `Err` if `src` does not start with a
    /// valid frame (the connection must be dropped).
    pub fn decode(&self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        // Check whatever part of the header has arrived, so garbage is
        // caught on its first byte rather than after 18 of them.
        let have = src.len().min(MAGIC.len());
        if src[..have] != MAGIC[..have] {
            let mut got = [0u8; 4];
            got[..have].copy_from_slice(&src[..have]);
            return Err(FrameError::BadMagic(got));
        }
        if src.len() > 4 && src[4] != VERSION {
            return Err(FrameError::UnsupportedVersion(src[4]));
        }
        if src.len() > 5 && FrameKind::from_u8(src[5]).is_none() {
            return Err(FrameError::UnknownKind(src[5]));
        }
        if src.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = u32::from_be_bytes([src[14], src[15], src[16], src[17]]);
        if len > self.frame_len_max {
            return Err(FrameError::TooLarge { len: u64::from(len), max: self.frame_len_max });
        }
        let total = HEADER_LEN + len as usize;
        if src.len() < total {
            // Reserve only up to the limit-checked size; never on the
            // peer's word alone.
            src.reserve(total - src.len());
            return Ok(None);
        }
        let Some(kind) = FrameKind::from_u8(src[5]) else {
            unreachable!("kind checked above");
        };
        let mut head = src.split_to(HEADER_LEN);
        head.advance(6);
        let request_id = head.get_u64();
        let payload = src.split_to(len as usize).freeze();
        debug_assert_eq!(payload.len(), len as usize);
        Ok(Some(Frame { kind, request_id, payload }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(codec: &FrameCodec, frames: &[Frame]) -> BytesMut {
        let mut buf = BytesMut::new();
        for f in frames {
            codec.encode(f, &mut buf).unwrap();
        }
        buf
    }

    fn arb_frame() -> impl Strategy<Value = Frame> {
        (prop::sample::select(FrameKind::ALL.to_vec()), any::<u64>(), prop::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(kind, id, payload)| Frame::new(kind, id, payload))
    }

    #[test]
    fn layout_is_as_documented() {
        let codec = FrameCodec::default();
        let buf = enc(&codec, &[Frame::new(FrameKind::Request, 0x0102030405060708, &b"hey"[..])]);
        assert_eq!(&buf[..], b"RCTP\x01\x03\x01\x02\x03\x04\x05\x06\x07\x08\x00\x00\x00\x03hey");
    }

    #[test]
    fn incomplete_is_none_and_consumes_nothing() {
        let codec = FrameCodec::default();
        let full = enc(&codec, &[Frame::new(FrameKind::Response, 7, &b"payload"[..])]);
        for cut in 0..full.len() {
            let mut part = BytesMut::from(&full[..cut]);
            assert_eq!(codec.decode(&mut part), Ok(None), "cut at {cut}");
            assert_eq!(&part[..], &full[..cut]);
        }
    }

    #[test]
    fn malformed_headers_are_errors() {
        let codec = FrameCodec::new(10);
        let mut b = BytesMut::from(&b"X"[..]);
        assert_eq!(codec.decode(&mut b), Err(FrameError::BadMagic(*b"X\0\0\0")));
        let mut b = BytesMut::from(&b"RCTP\x02"[..]);
        assert_eq!(codec.decode(&mut b), Err(FrameError::UnsupportedVersion(2)));
        let mut b = BytesMut::from(&b"RCTP\x01\x00"[..]);
        assert_eq!(codec.decode(&mut b), Err(FrameError::UnknownKind(0)));
        let mut b = BytesMut::from(&b"RCTP\x01\x07"[..]);
        assert_eq!(codec.decode(&mut b), Err(FrameError::UnknownKind(7)));
        // Over the limit as soon as the header is complete, payload absent.
        let mut b = BytesMut::from(&b"RCTP\x01\x03\0\0\0\0\0\0\0\x01\0\0\0\x0b"[..]);
        assert_eq!(codec.decode(&mut b), Err(FrameError::TooLarge { len: 11, max: 10 }));
        let mut b = BytesMut::from(&b"RCTP\x01\x03\0\0\0\0\0\0\0\x01\xff\xff\xff\xff"[..]);
        assert_eq!(codec.decode(&mut b), Err(FrameError::TooLarge { len: u64::from(u32::MAX), max: 10 }));
    }

    #[test]
    fn limit_is_inclusive_on_both_sides() {
        let codec = FrameCodec::new(4);
        let mut buf = BytesMut::new();
        codec.encode(&Frame::new(FrameKind::OneWay, 0, &b"1234"[..]), &mut buf).unwrap();
        assert_eq!(
            codec.encode(&Frame::new(FrameKind::OneWay, 0, &b"12345"[..]), &mut buf),
            Err(FrameError::TooLarge { len: 5, max: 4 })
        );
        assert_eq!(buf.len(), HEADER_LEN + 4, "a refused frame writes nothing");
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().payload, Bytes::from_static(b"1234"));
        assert!(buf.is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any sequence of frames survives encode → decode, however the
        /// bytes are split across reads.
        #[test]
        fn round_trip_split_anywhere(
            frames in prop::collection::vec(arb_frame(), 1..8),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let codec = FrameCodec::new(300);
            let wire = enc(&codec, &frames);
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
            cuts.push(wire.len());
            cuts.sort_unstable();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut at = 0;
            for cut in cuts {
                buf.extend_from_slice(&wire[at..cut]);
                at = cut;
                while let Some(f) = codec.decode(&mut buf).unwrap() {
                    got.push(f);
                }
            }
            prop_assert!(buf.is_empty());
            prop_assert_eq!(got, frames);
        }

        /// Arbitrary bytes never panic: they decode to frames, ask for more
        /// bytes, or fail; and a failure or a frame never reads past the
        /// input.
        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200), max in 0u32..100) {
            let codec = FrameCodec::new(max);
            let mut buf = BytesMut::from(&bytes[..]);
            loop {
                let before = buf.len();
                match codec.decode(&mut buf) {
                    Ok(Some(f)) => prop_assert!(f.payload.len() as u32 <= max && buf.len() < before),
                    Ok(None) => { prop_assert_eq!(buf.len(), before); break; }
                    Err(_) => break,
                }
            }
        }

        /// Garbage glued to a valid header: mostly valid prefixes with one
        /// byte flipped, which reach the deeper checks.
        #[test]
        fn corrupted_frames_never_panic(f in arb_frame(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let codec = FrameCodec::new(300);
            let mut wire = enc(&codec, &[f]);
            let i = pos.index(wire.len());
            wire[i] = byte;
            let _ = codec.decode(&mut wire);
        }
    }
}
