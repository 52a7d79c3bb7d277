//! The handshake of [`auth`](crate::auth), driven over a TCP stream.
//!
//! Invariants: before it succeeds, frames are limited to
//! [`HANDSHAKE_FRAME_LEN_MAX`] bytes and only `Hello`/`Proof` are accepted;
//! the caller bounds it with `connect_timeout_ms`. Bytes that arrived after
//! the last handshake frame (a dialer pipelines requests right behind its
//! proof) are handed back, never lost.

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::auth::{self, ClusterSecret, Role, HANDSHAKE_FRAME_LEN_MAX};
use crate::error::{AuthError, FrameError};
use crate::frame::{Frame, FrameCodec, FrameKind};
use crate::NodeId;

#[derive(Debug)]
pub(crate) enum HandshakeError {
    Auth(AuthError),
    Frame(FrameError),
    Io(std::io::Error),
    Closed,
}

impl From<AuthError> for HandshakeError {
    fn from(e: AuthError) -> Self {
        HandshakeError::Auth(e)
    }
}

impl From<FrameError> for HandshakeError {
    fn from(e: FrameError) -> Self {
        HandshakeError::Frame(e)
    }
}

impl From<std::io::Error> for HandshakeError {
    fn from(e: std::io::Error) -> Self {
        HandshakeError::Io(e)
    }
}

const CODEC: FrameCodec = FrameCodec::new(HANDSHAKE_FRAME_LEN_MAX);

async fn read_frame(stream: &mut TcpStream, buf: &mut BytesMut, want: FrameKind) -> Result<Frame, HandshakeError> {
    loop {
        if let Some(f) = CODEC.decode(buf)? {
            if f.kind != want {
                return Err(AuthError::Malformed("unexpected frame kind during the handshake").into());
            }
            return Ok(f);
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(HandshakeError::Closed);
        }
    }
}

async fn write_frames(stream: &mut TcpStream, frames: &[Frame]) -> Result<(), HandshakeError> {
    let mut out = BytesMut::new();
    for f in frames {
        CODEC.encode(f, &mut out)?;
    }
    stream.write_all(&out).await?;
    Ok(())
}

/// The dialer's side: prove ourselves as `local` and check that the peer is
/// `expected` (any id, for `None`) and knows the secret. Returns the
/// peer's proven id and the bytes read past the handshake.
pub(crate) async fn dial(
    stream: &mut TcpStream,
    secret: &ClusterSecret,
    local: &NodeId,
    expected: Option<&NodeId>,
) -> Result<(NodeId, BytesMut), HandshakeError> {
    let nonce_d = auth::nonce();
    write_frames(stream, &[Frame::new(FrameKind::Hello, 0, auth::hello_payload(&nonce_d, local))]).await?;
    let mut buf = BytesMut::with_capacity(1024);
    let hello = read_frame(stream, &mut buf, FrameKind::Hello).await?;
    let (nonce_a, peer) = auth::parse_hello(&hello.payload)?;
    if let Some(expected) = expected.filter(|e| **e != peer) {
        return Err(AuthError::WrongPeer { expected: expected.clone(), got: peer }.into());
    }
    let proof = read_frame(stream, &mut buf, FrameKind::Proof).await?;
    secret.verify(Role::Acceptor, &nonce_d, &nonce_a, &peer, &proof.payload)?;
    let mine = secret.proof(Role::Dialer, &nonce_d, &nonce_a, local);
    write_frames(stream, &[Frame::new(FrameKind::Proof, 0, mine.to_vec())]).await?;
    Ok((peer, buf))
}

/// The acceptor's side: returns the authenticated peer's id and the bytes
/// read past the handshake.
pub(crate) async fn accept(
    stream: &mut TcpStream,
    secret: &ClusterSecret,
    local: &NodeId,
) -> Result<(NodeId, BytesMut), HandshakeError> {
    let mut buf = BytesMut::with_capacity(1024);
    let hello = read_frame(stream, &mut buf, FrameKind::Hello).await?;
    let (nonce_d, peer) = auth::parse_hello(&hello.payload)?;
    let nonce_a = auth::nonce();
    let mine = secret.proof(Role::Acceptor, &nonce_d, &nonce_a, local);
    write_frames(
        stream,
        &[
            Frame::new(FrameKind::Hello, 0, auth::hello_payload(&nonce_a, local)),
            Frame::new(FrameKind::Proof, 0, mine.to_vec()),
        ],
    )
    .await?;
    let proof = read_frame(stream, &mut buf, FrameKind::Proof).await?;
    secret.verify(Role::Dialer, &nonce_d, &nonce_a, &peer, &proof.payload)?;
    Ok((peer, buf))
}
