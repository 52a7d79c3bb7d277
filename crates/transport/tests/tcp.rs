//! What only the TCP transport does: the authentication handshake, bad
//! bytes from a peer, and shutdown. Real sockets on 127.0.0.1 (ports from
//! binding port 0); every wait bounded.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::{bounded, id, TestHandler, SECRET};
use ringcache_transport::auth::{self, Role};
use ringcache_transport::frame::{Frame, FrameCodec, FrameKind};
use ringcache_transport::{
    AuthError, ClusterSecret, FrameError, TcpTransport, Transport, TransportConfig, TransportError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn secret(s: &str) -> ClusterSecret {
    ClusterSecret::new(s).unwrap()
}

/// A node `n{i}` with a test handler.
async fn node(i: usize, secret: ClusterSecret, config: TransportConfig) -> Arc<TcpTransport> {
    let t = TcpTransport::bind(id(i), "127.0.0.1:0", secret, config).await.unwrap();
    let (h, rx) = TestHandler::new(id(i));
    std::mem::forget(rx);
    t.set_handler(h);
    Arc::new(t)
}

/// Wait until the peer closes `s`: true if it did (EOF or reset), within
/// 5 s, discarding whatever it sends before.
async fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or(false)
}

/// The dialer's side of the handshake, by hand. Returns the stream and the
/// bytes read past the handshake.
async fn raw_handshake(addr: SocketAddr, secret: &ClusterSecret, me: &str, them: &str) -> (TcpStream, BytesMut) {
    let codec = FrameCodec::new(auth::HANDSHAKE_FRAME_LEN_MAX);
    let mut s = TcpStream::connect(addr).await.unwrap();
    let me = me.into();
    let nonce_d = auth::nonce();
    let mut out = BytesMut::new();
    codec.encode(&Frame::new(FrameKind::Hello, 0, auth::hello_payload(&nonce_d, &me)), &mut out).unwrap();
    s.write_all(&out).await.unwrap();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    while frames.len() < 2 {
        if let Some(f) = codec.decode(&mut buf).unwrap() {
            frames.push(f);
            continue;
        }
        assert!(bounded(s.read_buf(&mut buf)).await.unwrap() > 0, "closed during the handshake");
    }
    let (nonce_a, peer) = auth::parse_hello(&frames[0].payload).unwrap();
    assert_eq!(peer.as_str(), them);
    secret.verify(Role::Acceptor, &nonce_d, &nonce_a, &peer, &frames[1].payload).unwrap();
    let proof = secret.proof(Role::Dialer, &nonce_d, &nonce_a, &me);
    out.clear();
    codec.encode(&Frame::new(FrameKind::Proof, 0, proof.to_vec()), &mut out).unwrap();
    s.write_all(&out).await.unwrap();
    (s, buf)
}

#[tokio::test]
async fn right_secret_works_wrong_secret_is_rejected() {
    let config = TransportConfig::for_test();
    let a = node(0, secret(SECRET), config.clone()).await;
    let b = node(1, secret(SECRET), config.clone()).await;
    let intruder = node(2, secret("another-secret-of-some-length"), config.clone()).await;
    a.add_peer(id(1), b.local_addr());
    intruder.add_peer(id(1), b.local_addr());
    b.add_peer(id(2), intruder.local_addr());

    assert_eq!(bounded(a.request(&id(1), Bytes::from_static(b"x"))).await.unwrap(), "n1 got x from n0");
    // Both directions of a mismatch fail: each side checks the other.
    let r = bounded(intruder.request(&id(1), Bytes::from_static(b"x"))).await;
    assert!(matches!(r, Err(TransportError::Auth { error: AuthError::BadProof, .. })), "{r:?}");
    let r = bounded(b.request(&id(2), Bytes::from_static(b"x"))).await;
    assert!(matches!(r, Err(TransportError::Auth { error: AuthError::BadProof, .. })), "{r:?}");

    // A dialer that sends a wrong proof is disconnected by the acceptor.
    let mut s = TcpStream::connect(b.local_addr()).await.unwrap();
    let codec = FrameCodec::default();
    let mut out = BytesMut::new();
    codec.encode(&Frame::new(FrameKind::Hello, 0, auth::hello_payload(&auth::nonce(), &id(7))), &mut out).unwrap();
    codec.encode(&Frame::new(FrameKind::Proof, 0, vec![0u8; auth::PROOF_LEN]), &mut out).unwrap();
    codec.encode(&Frame::new(FrameKind::Request, 1, &b"let me in"[..]), &mut out).unwrap();
    s.write_all(&out).await.unwrap();
    let mut got = BytesMut::new();
    let _ = bounded(async { while s.read_buf(&mut got).await.unwrap_or(0) > 0 {} }).await;
    let mut frames = Vec::new();
    while let Ok(Some(f)) = codec.decode(&mut got) {
        frames.push(f.kind);
    }
    assert_eq!(frames, [FrameKind::Hello, FrameKind::Proof], "no answer to an unauthenticated request");

    // The right secret still works after all that.
    assert_eq!(bounded(a.request(&id(1), Bytes::from_static(b"y"))).await.unwrap(), "n1 got y from n0");
    for t in [a, b, intruder] {
        bounded(t.shutdown()).await;
    }
}

#[tokio::test]
async fn a_node_at_the_wrong_address_is_rejected() {
    let config = TransportConfig::for_test();
    let a = node(0, secret(SECRET), config.clone()).await;
    let b = node(1, secret(SECRET), config).await;
    a.add_peer(id(9), b.local_addr());
    let r = bounded(a.request(&id(9), Bytes::from_static(b"x"))).await;
    assert!(matches!(r, Err(TransportError::Auth { error: AuthError::WrongPeer { .. }, .. })), "{r:?}");
    bounded(a.shutdown()).await;
    bounded(b.shutdown()).await;
}

#[tokio::test]
async fn identify_names_the_node_at_an_address_only_with_the_secret() {
    let config = TransportConfig::for_test();
    let a = node(0, secret(SECRET), config.clone()).await;
    let b = node(1, secret(SECRET), config.clone()).await;
    let stranger = node(2, secret("another-secret-0123456789"), config).await;
    assert_eq!(bounded(a.identify(b.local_addr())).await.unwrap(), id(1));
    let r = bounded(a.identify(stranger.local_addr())).await;
    assert!(matches!(r, Err(TransportError::Auth { .. })), "{r:?}");
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let r = bounded(a.identify(closed)).await;
    assert!(matches!(r, Err(TransportError::Unreachable { .. })), "{r:?}");
    for t in [a, b, stranger] {
        bounded(t.shutdown()).await;
    }
}

#[tokio::test]
async fn garbage_drops_that_connection_only() {
    let config = TransportConfig::for_test();
    let a = node(0, secret(SECRET), config.clone()).await;
    let b = node(1, secret(SECRET), config).await;
    a.add_peer(id(1), b.local_addr());
    assert!(bounded(a.request(&id(1), Bytes::from_static(b"x"))).await.is_ok());

    // Before the handshake.
    let mut s = TcpStream::connect(b.local_addr()).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert!(closed_by_peer(&mut s).await);

    // After a good handshake: a bad kind, then bad magic.
    for junk in [&b"RCTP\x01\x09"[..], &b"\x00\x01\x02\x03garbage"[..]] {
        let (mut s, _) = raw_handshake(b.local_addr(), &secret(SECRET), "raw", "n1").await;
        s.write_all(junk).await.unwrap();
        assert!(closed_by_peer(&mut s).await);
    }

    // A's connections were not touched: many requests still go through.
    for i in 0..20 {
        let msg = Bytes::from(format!("m{i}"));
        assert_eq!(bounded(a.request(&id(1), msg)).await.unwrap(), format!("n1 got m{i} from n0"));
    }
    bounded(a.shutdown()).await;
    bounded(b.shutdown()).await;
}

#[tokio::test]
async fn oversize_frame_from_a_peer_is_rejected() {
    let config = TransportConfig { frame_len_max: 4096, ..TransportConfig::for_test() };
    let b = node(1, secret(SECRET), config).await;
    let (mut s, mut buf) = raw_handshake(b.local_addr(), &secret(SECRET), "raw", "n1").await;
    // A good request first, so the raw handshake is known to work.
    let codec = FrameCodec::new(4096);
    let mut out = BytesMut::new();
    codec.encode(&Frame::new(FrameKind::Request, 5, &b"hi"[..]), &mut out).unwrap();
    s.write_all(&out).await.unwrap();
    let answer = bounded(async {
        loop {
            if let Some(f) = codec.decode(&mut buf).unwrap() {
                break f;
            }
            assert!(s.read_buf(&mut buf).await.unwrap() > 0);
        }
    })
    .await;
    assert_eq!(answer, Frame::new(FrameKind::Response, 5, &b"n1 got hi from raw"[..]));
    // Then a header that announces 4097 bytes: dropped at once, before
    // any payload is sent.
    let mut header = BytesMut::new();
    header.extend_from_slice(b"RCTP\x01\x03");
    header.extend_from_slice(&6u64.to_be_bytes());
    header.extend_from_slice(&4097u32.to_be_bytes());
    s.write_all(&header).await.unwrap();
    assert!(closed_by_peer(&mut s).await);
    bounded(b.shutdown()).await;
}

#[tokio::test]
async fn garbage_from_the_acceptor_fails_the_dialer_cleanly() {
    let a = node(0, secret(SECRET), TransportConfig::for_test()).await;
    let fake = TcpListener::bind("127.0.0.1:0").await.unwrap();
    a.add_peer(id(1), fake.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut s, _) = fake.accept().await.unwrap();
        let _ = s.write_all(b"\xffnot a frame").await;
        let mut sink = [0u8; 256];
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read(&mut sink)).await;
    });
    let r = bounded(a.request(&id(1), Bytes::from_static(b"x"))).await;
    assert!(matches!(r, Err(TransportError::Protocol { error: FrameError::BadMagic(_), .. })), "{r:?}");
    bounded(server).await.unwrap();
    bounded(a.shutdown()).await;
}

#[tokio::test]
async fn silent_dialer_is_dropped_after_the_handshake_timeout() {
    let b = node(1, secret(SECRET), TransportConfig::for_test()).await;
    let mut s = TcpStream::connect(b.local_addr()).await.unwrap();
    let start = std::time::Instant::now();
    assert!(closed_by_peer(&mut s).await);
    assert!(start.elapsed() >= Duration::from_millis(TransportConfig::for_test().connect_timeout_ms - 50));
    bounded(b.shutdown()).await;
}

#[tokio::test]
async fn shutdown_ends_requests_connections_and_tasks() {
    let config = TransportConfig::for_test();
    let a = node(0, secret(SECRET), config.clone()).await;
    let b = node(1, secret(SECRET), config).await;
    a.add_peer(id(1), b.local_addr());
    b.add_peer(id(0), a.local_addr());
    // A request whose handler never answers, and an idle connection back.
    let t = a.clone();
    let hung = tokio::spawn(async move { t.request(&id(1), Bytes::from_static(b"hang")).await });
    assert!(bounded(b.request(&id(0), Bytes::from_static(b"x"))).await.is_ok());
    tokio::time::sleep(Duration::from_millis(50)).await;

    bounded(a.shutdown()).await;
    let r = bounded(hung).await.unwrap();
    assert!(matches!(r, Err(TransportError::Shutdown)), "{r:?}");
    let r = a.request(&id(1), Bytes::from_static(b"x")).await;
    assert!(matches!(r, Err(TransportError::Shutdown)), "{r:?}");
    // A no longer listens.
    assert!(TcpStream::connect(a.local_addr()).await.is_err());
    // B's handler for the hung request is still running; shutdown ends it.
    bounded(b.shutdown()).await;
    assert!(TcpStream::connect(b.local_addr()).await.is_err());
}

#[tokio::test]
async fn a_busy_acceptor_refuses_instead_of_queueing() {
    let config =
        TransportConfig { connections_per_peer: 1, handler_inflight_per_conn_max: 2, ..TransportConfig::for_test() };
    let a = node(0, secret(SECRET), config.clone()).await;
    let b = TcpTransport::bind(id(1), "127.0.0.1:0", secret(SECRET), config).await.unwrap();
    let (h, _rx) = TestHandler::new(id(1));
    b.set_handler(h.clone());
    a.add_peer(id(1), b.local_addr());
    let mut blocked = Vec::new();
    for i in 0..2 {
        let t = a.clone();
        blocked.push(tokio::spawn(async move { t.request(&id(1), Bytes::from(format!("block:{i}"))).await }));
    }
    bounded(async {
        while h.entered.load(std::sync::atomic::Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let r = bounded(a.request(&id(1), Bytes::from_static(b"x"))).await;
    assert!(matches!(r, Err(TransportError::Refused { refusal: ringcache_transport::Refusal::Busy, .. })), "{r:?}");
    h.gate.add_permits(2);
    for j in blocked {
        assert!(bounded(j).await.unwrap().is_ok());
    }
    assert!(bounded(a.request(&id(1), Bytes::from_static(b"x"))).await.is_ok());
    bounded(a.shutdown()).await;
    bounded(b.shutdown()).await;
}

/// One-way messages to a peer arrive in the order they were sent, with
/// a pool of several connections open: replication's deltas count on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_way_messages_to_a_peer_keep_their_order() {
    let config = TransportConfig { connections_per_peer: 4, ..TransportConfig::for_test() };
    let a = node(0, secret(SECRET), config.clone()).await;
    let b = TcpTransport::bind(id(1), "127.0.0.1:0", secret(SECRET), config).await.unwrap();
    let (h, mut rx) = TestHandler::new(id(1));
    b.set_handler(h);
    a.add_peer(id(1), b.local_addr());
    // Requests open every connection of the pool.
    for _ in 0..8 {
        bounded(a.request(&id(1), Bytes::from_static(b"x"))).await.unwrap();
    }
    const N: usize = 5_000;
    let mut sent = 0;
    while sent < N {
        match a.send(&id(1), Bytes::from(sent.to_string())).await {
            Ok(()) => sent += 1,
            // The write queue is full: let it drain, then send the same one.
            Err(TransportError::Backpressure { .. }) => tokio::time::sleep(Duration::from_millis(1)).await,
            Err(e) => panic!("send {sent}: {e}"),
        }
    }
    for want in 0..N {
        let (from, msg) = bounded(rx.recv()).await.unwrap();
        assert_eq!(from, id(0));
        assert_eq!(std::str::from_utf8(&msg).unwrap(), want.to_string(), "message {want} out of order");
    }
    bounded(a.shutdown()).await;
    bounded(b.shutdown()).await;
}

/// Records the thread each one-way message and each request was handled on.
#[derive(Default)]
struct ThreadRecorder {
    threads: std::sync::Mutex<Vec<String>>,
}

impl ThreadRecorder {
    fn record(&self) {
        let name = std::thread::current().name().unwrap_or("?").to_owned();
        self.threads.lock().unwrap().push(name);
    }
}

impl ringcache_transport::Handler for ThreadRecorder {
    fn request(
        &self,
        _from: ringcache_transport::NodeId,
        msg: Bytes,
    ) -> ringcache_transport::BoxFuture<'static, Bytes> {
        self.record();
        Box::pin(async move { msg })
    }

    fn message(&self, _from: ringcache_transport::NodeId, _msg: Bytes) {
        self.record();
    }
}

#[tokio::test]
async fn bound_on_another_runtime_every_task_runs_there() {
    // The runtime a server's first worker drives: built first, driven by
    // its own thread from then on.
    let peers = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let handle = peers.handle().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = std::thread::Builder::new()
        .name("peers".into())
        .spawn(move || peers.block_on(async move { stopped.await.ok() }))
        .unwrap();
    let config = TransportConfig::for_test();
    let mut nodes = Vec::new();
    let mut recorders = Vec::new();
    for i in 0..2 {
        let t = TcpTransport::bind_on(id(i), "127.0.0.1:0", secret(SECRET), config.clone(), handle.clone()).await;
        let t = t.unwrap();
        let recorder = Arc::new(ThreadRecorder::default());
        t.set_handler(recorder.clone());
        nodes.push(Arc::new(t));
        recorders.push(recorder);
    }
    nodes[0].add_peer(id(1), nodes[1].local_addr());
    nodes[1].add_peer(id(0), nodes[0].local_addr());
    // Asked from this (the test's) runtime, answered there, both ways.
    assert_eq!(bounded(nodes[0].request(&id(1), Bytes::from_static(b"x"))).await.unwrap(), "x");
    assert_eq!(bounded(nodes[1].request(&id(0), Bytes::from_static(b"y"))).await.unwrap(), "y");
    bounded(nodes[0].send(&id(1), Bytes::from_static(b"one-way"))).await.unwrap();
    bounded(async {
        while recorders[1].threads.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    for r in &recorders {
        let threads = r.threads.lock().unwrap().clone();
        assert!(!threads.is_empty() && threads.iter().all(|t| t == "peers"), "handled on {threads:?}");
    }
    for t in nodes {
        bounded(t.shutdown()).await;
    }
    stop.send(()).unwrap();
    driver.join().unwrap();
}
