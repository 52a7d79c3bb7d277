//! One TCP connection after its handshake: a writer task that batches
//! queued frames into few system calls, and a reader task that decodes
//! frames and routes them.
//!
//! Dialed connections ([`Conn`]) carry our requests: each gets a fresh
//! request id and a waiter in `pending`; the reader hands each `Response` or
//! `Refused` to the waiter with the same id, in whatever order they come.
//! Accepted connections ([`serve`]) carry the peer's requests: each runs
//! the handler in its own task and queues the answer.
//!
//! Invariants:
//! - A connection is either open, or closed for good: once `closed` is
//!   cancelled, `pending` is `None`, every waiter has been failed, and no
//!   new waiter can be added. The pool replaces a closed connection.
//! - Any frame error, any frame of a kind the direction does not allow, or
//!   any I/O error closes that connection only.
//! - Bounded: the write queue holds at most its capacity; an accepted
//!   connection runs at most `handler_inflight_per_conn_max` handlers and
//!   refuses the rest with `Busy`.
//! - An answer for an id that is not pending (its caller timed out) is
//!   dropped: it is not an error.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::{FrameError, Refusal, Result, TransportError};
use crate::frame::{Frame, FrameCodec, FrameKind};
use crate::{HandlerSlot, Message, NodeId};

/// Frames are gathered into one write up to about this many bytes.
const WRITE_BATCH_BYTES: usize = 256 << 10;

type Waiter = oneshot::Sender<Result<Message>>;

/// Why a connection closed, told to every waiter.
#[derive(Debug, Clone)]
enum Closed {
    Lost,
    Protocol(FrameError),
}

/// A dialed connection to `peer`.
#[derive(Debug)]
pub(crate) struct Conn {
    peer: NodeId,
    tx: mpsc::Sender<Frame>,
    pending: Mutex<Option<HashMap<u64, Waiter>>>,
    next_id: AtomicU64,
    closed: CancellationToken,
}

/// Removes a request's waiter when its caller goes away (timeout,
/// cancellation), so `pending` only holds live callers.
struct PendingGuard<'a> {
    conn: &'a Conn,
    id: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Some(map) = self.conn.lock_pending().as_mut() {
            map.remove(&self.id);
        }
    }
}

impl Conn {
    pub(crate) fn is_open(&self) -> bool {
        !self.closed.is_cancelled()
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Option<HashMap<u64, Waiter>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Send a request and wait for its answer. The caller bounds the wait.
    pub(crate) async fn call(&self, msg: Message) -> Result<Message> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        match self.lock_pending().as_mut() {
            None => return Err(TransportError::ConnectionLost { peer: self.peer.clone() }),
            Some(map) => {
                let old = map.insert(id, tx);
                debug_assert!(old.is_none(), "request id {id} reused");
            }
        }
        let _guard = PendingGuard { conn: self, id };
        if self.tx.send(Frame::new(FrameKind::Request, id, msg)).await.is_err() {
            return Err(TransportError::ConnectionLost { peer: self.peer.clone() });
        }
        match rx.await {
            Ok(answer) => answer,
            Err(_) => Err(TransportError::ConnectionLost { peer: self.peer.clone() }),
        }
    }

    /// Queue a one-way message; `Err(None)` if the queue is full.
    pub(crate) fn send(&self, msg: Message) -> std::result::Result<(), Option<TransportError>> {
        match self.tx.try_send(Frame::new(FrameKind::OneWay, 0, msg)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => Err(None),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                Err(Some(TransportError::ConnectionLost { peer: self.peer.clone() }))
            }
        }
    }

    /// Close for good and fail every waiter.
    fn close(&self, why: Closed) {
        self.closed.cancel();
        let waiters = self.lock_pending().take();
        for (_, w) in waiters.into_iter().flatten() {
            let peer = self.peer.clone();
            let _ = w.send(Err(match &why {
                Closed::Lost => TransportError::ConnectionLost { peer },
                Closed::Protocol(error) => TransportError::Protocol { peer, error: error.clone() },
            }));
        }
    }

    /// Route one frame from the peer to its waiter.
    fn dispatch(&self, f: Frame) -> std::result::Result<(), Closed> {
        let answer = match f.kind {
            FrameKind::Response => Ok(f.payload),
            FrameKind::Refused => {
                let refusal = Refusal::from_code(f.payload.first().copied().unwrap_or(0));
                Err(TransportError::Refused { peer: self.peer.clone(), refusal })
            }
            other => {
                tracing::warn!(peer = %self.peer, kind = ?other, "unexpected frame on a dialed connection; closing it");
                return Err(Closed::Lost);
            }
        };
        let waiter = self.lock_pending().as_mut().and_then(|m| m.remove(&f.request_id));
        if let Some(w) = waiter {
            let _ = w.send(answer);
        }
        Ok(())
    }
}

/// Start the tasks of a dialed connection whose handshake succeeded, on
/// `runtime` (the stream moves to it from the runtime that dialed).
pub(crate) fn spawn_dialed(
    stream: TcpStream,
    leftover: BytesMut,
    peer: NodeId,
    codec: FrameCodec,
    queue_len: usize,
    closed: CancellationToken,
    (tracker, runtime): (&TaskTracker, &tokio::runtime::Handle),
) -> std::io::Result<Arc<Conn>> {
    let stream = stream.into_std()?;
    let (tx, rx) = mpsc::channel(queue_len);
    let conn = Arc::new(Conn {
        peer,
        tx,
        pending: Mutex::new(Some(HashMap::new())),
        next_id: AtomicU64::new(1),
        closed: closed.clone(),
    });
    let (reader, writers) = (conn.clone(), tracker.clone());
    tracker.spawn_on(
        async move {
            let stream = match TcpStream::from_std(stream) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(peer = %reader.peer, error = %e, "dialed connection unusable; closing it");
                    reader.close(Closed::Lost);
                    return;
                }
            };
            let (r, w) = stream.into_split();
            writers.spawn(write_loop(w, rx, codec, closed));
            read_dialed(reader, r, leftover, codec).await;
        },
        runtime,
    );
    Ok(conn)
}

async fn read_dialed(conn: Arc<Conn>, mut r: OwnedReadHalf, mut buf: BytesMut, codec: FrameCodec) {
    let why = 'conn: loop {
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(f)) => {
                    if let Err(why) = conn.dispatch(f) {
                        break 'conn why;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(peer = %conn.peer, error = %e, "bad frame from peer; closing the connection");
                    break 'conn Closed::Protocol(e);
                }
            }
        }
        tokio::select! {
            _ = conn.closed.cancelled() => break Closed::Lost,
            n = r.read_buf(&mut buf) => match n {
                Ok(0) | Err(_) => break Closed::Lost,
                Ok(_) => {}
            },
        }
    };
    conn.close(why);
}

/// Write queued frames, batching whatever is already queued into one
/// system call. Ends (and closes the connection) on cancellation, when the
/// queue's senders are gone, or on a write error.
async fn write_loop(
    mut w: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Frame>,
    codec: FrameCodec,
    closed: CancellationToken,
) {
    let mut buf = BytesMut::with_capacity(16 << 10);
    'conn: loop {
        let f = tokio::select! {
            _ = closed.cancelled() => break,
            f = rx.recv() => match f { Some(f) => f, None => break },
        };
        let mut next = Some(f);
        while let Some(f) = next.take() {
            // Sizes are checked before a frame is queued; a failure here is
            // a bug, and closing the connection is the safe answer to it.
            if let Err(e) = codec.encode(&f, &mut buf) {
                tracing::error!(error = %e, "queued frame does not encode; closing the connection");
                break 'conn;
            }
            if buf.len() < WRITE_BATCH_BYTES {
                next = rx.try_recv().ok();
            }
        }
        let written = tokio::select! {
            _ = closed.cancelled() => break,
            r = w.write_all(&buf) => r,
        };
        if written.is_err() {
            break;
        }
        buf.clear();
    }
    closed.cancel();
    let _ = w.shutdown().await;
}

/// What an accepted connection needs from its transport.
pub(crate) struct ServeCtx {
    pub(crate) peer: NodeId,
    pub(crate) codec: FrameCodec,
    pub(crate) handler: Arc<HandlerSlot>,
    pub(crate) handlers_max: usize,
    pub(crate) closed: CancellationToken,
    pub(crate) tracker: TaskTracker,
}

/// Serve the requests of an authenticated peer until the connection closes.
pub(crate) async fn serve(stream: TcpStream, leftover: BytesMut, ctx: ServeCtx) {
    let (mut r, w) = stream.into_split();
    // Room for every running handler's answer plus refusals in between.
    let (tx, rx) = mpsc::channel(ctx.handlers_max + 64);
    ctx.tracker.spawn(write_loop(w, rx, ctx.codec, ctx.closed.clone()));
    let handlers = Arc::new(Semaphore::new(ctx.handlers_max));
    let mut buf = leftover;
    'conn: loop {
        loop {
            let f = match ctx.codec.decode(&mut buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(peer = %ctx.peer, error = %e, "bad frame from peer; closing the connection");
                    break 'conn;
                }
            };
            match f.kind {
                FrameKind::Request => {
                    let refuse = |refusal: Refusal| Frame::new(FrameKind::Refused, f.request_id, vec![refusal.code()]);
                    let Some(h) = ctx.handler.get() else {
                        if !queue(&tx, refuse(Refusal::NoHandler), &ctx.closed).await {
                            break 'conn;
                        }
                        continue;
                    };
                    let Ok(permit) = handlers.clone().try_acquire_owned() else {
                        if !queue(&tx, refuse(Refusal::Busy), &ctx.closed).await {
                            break 'conn;
                        }
                        continue;
                    };
                    let (tx, closed, peer, max) =
                        (tx.clone(), ctx.closed.clone(), ctx.peer.clone(), ctx.codec.frame_len_max());
                    ctx.tracker.spawn(async move {
                        let _permit = permit;
                        let answer = tokio::select! {
                            a = h.request(peer, f.payload) => a,
                            _ = closed.cancelled() => return,
                        };
                        let frame = if answer.len() as u64 > u64::from(max) {
                            Frame::new(FrameKind::Refused, f.request_id, vec![Refusal::ResponseTooLarge.code()])
                        } else {
                            Frame::new(FrameKind::Response, f.request_id, answer)
                        };
                        queue(&tx, frame, &closed).await;
                    });
                }
                FrameKind::OneWay => {
                    if let Some(h) = ctx.handler.get() {
                        h.message(ctx.peer.clone(), f.payload);
                    }
                }
                other => {
                    tracing::warn!(peer = %ctx.peer, kind = ?other, "unexpected frame on an accepted connection; closing it");
                    break 'conn;
                }
            }
        }
        tokio::select! {
            _ = ctx.closed.cancelled() => break,
            n = r.read_buf(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
        }
    }
    ctx.closed.cancel();
}

/// Queue a frame for the writer; false if the connection closed first.
async fn queue(tx: &mpsc::Sender<Frame>, f: Frame, closed: &CancellationToken) -> bool {
    tokio::select! {
        r = tx.send(f) => r.is_ok(),
        _ = closed.cancelled() => false,
    }
}
