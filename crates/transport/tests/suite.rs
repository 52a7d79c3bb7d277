//! The transport contract, one suite run over both implementations: each
//! scenario is a generic function over [`Cluster`], called once on the
//! in-memory network (paused tokio time, so its delays and timeouts cost
//! no wall time) and once over real TCP on 127.0.0.1.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{bounded, id, Cluster, SimCluster, TcpCluster, TestHandler};
use ringcache_transport::{NodeId, Refusal, Transport, TransportConfig, TransportError};
use tokio::task::JoinSet;
use tokio::time::{sleep, Instant};

/// Run `$scenario(cluster)` over both implementations with `$config`.
macro_rules! both {
    ($scenario:ident, $nodes:expr, $config:expr) => {
        mod $scenario {
            use super::*;

            #[tokio::test(start_paused = true)]
            async fn sim() {
                bounded(super::$scenario(SimCluster::new($nodes, $config, 0x5eed))).await
            }

            #[tokio::test]
            async fn tcp() {
                bounded(async { super::$scenario(TcpCluster::new($nodes, $config).await).await }).await
            }
        }
    };
}

fn handlers<C: Cluster>(c: &mut C, n: usize) -> Vec<Arc<TestHandler>> {
    (0..n)
        .map(|i| {
            let (h, rx) = TestHandler::new(id(i));
            // Keep the receiver alive for the cluster's lifetime.
            std::mem::forget(rx);
            c.set_handler(i, h.clone());
            h
        })
        .collect()
}

async fn request_response<C: Cluster>(mut c: C) {
    let (h1, mut rx1) = TestHandler::new(id(1));
    c.set_handler(1, h1);
    let (h0, _rx0) = TestHandler::new(id(0));
    c.set_handler(0, h0);

    let got = c.node(0).request(&id(1), Bytes::from_static(b"hello")).await.unwrap();
    assert_eq!(got, "n1 got hello from n0");
    let got = c.node(1).request(&id(0), Bytes::from_static(b"back")).await.unwrap();
    assert_eq!(got, "n0 got back from n1");
    let got = c.node(0).request(&id(1), Bytes::new()).await.unwrap();
    assert_eq!(got, "n1 got  from n0", "an empty message is a message");

    c.node(0).send(&id(1), Bytes::from_static(b"gossip")).await.unwrap();
    let (from, msg) = bounded(rx1.recv()).await.unwrap();
    assert_eq!((from, msg), (id(0), Bytes::from_static(b"gossip")));
    c.close().await;
}
both!(request_response, 2, TransportConfig::for_test());

async fn pipelined_out_of_order<C: Cluster>(mut c: C) {
    let hs = handlers(&mut c, 2);
    const N: usize = 64;
    let mut set = JoinSet::new();
    for i in 0..N {
        let t = c.node(0);
        // Later requests answer sooner: the answers come back in reverse.
        let msg = format!("sleep:{}:{i}", (N - i) * 3);
        set.spawn(async move { (i, t.request(&id(1), Bytes::from(msg)).await) });
    }
    let mut answered = 0;
    while let Some(r) = set.join_next().await {
        let (i, answer) = r.unwrap();
        assert_eq!(answer.unwrap(), i.to_string(), "answer matched to its request");
        answered += 1;
    }
    assert_eq!(answered, N);
    let order = hs[1].order.lock().unwrap().clone();
    assert_eq!(order.len(), N);
    assert_ne!(order, (0..N).map(|i| i.to_string()).collect::<Vec<_>>(), "handled out of order");
    c.close().await;
}
both!(pipelined_out_of_order, 2, TransportConfig::for_test());

async fn timeout_when_no_answer<C: Cluster>(mut c: C) {
    handlers(&mut c, 2);
    let timeout_ms = c.config().request_timeout_ms;
    let start = Instant::now();
    let r = c.node(0).request(&id(1), Bytes::from_static(b"hang")).await;
    let took = start.elapsed();
    assert!(
        matches!(r, Err(TransportError::Timeout { ref peer, timeout_ms: t }) if *peer == id(1) && t == timeout_ms),
        "{r:?}"
    );
    assert!(took >= Duration::from_millis(timeout_ms), "{took:?}");
    assert!(took < Duration::from_millis(timeout_ms + 500), "{took:?}");
    // The connection is still good for the next request.
    assert_eq!(c.node(0).request(&id(1), Bytes::from_static(b"x")).await.unwrap(), "n1 got x from n0");
    c.close().await;
}
both!(timeout_when_no_answer, 2, TransportConfig::for_test());

async fn peer_down_then_back<C: Cluster>(mut c: C) {
    handlers(&mut c, 2);
    assert!(c.node(0).request(&id(1), Bytes::from_static(b"a")).await.is_ok());
    c.stop(1).await;
    let timeout_ms = c.config().request_timeout_ms;
    for _ in 0..5 {
        let start = Instant::now();
        let r = c.node(0).request(&id(1), Bytes::from_static(b"b")).await;
        assert!(
            matches!(
                r,
                Err(TransportError::Unreachable { .. }
                    | TransportError::Backoff { .. }
                    | TransportError::ConnectionLost { .. })
            ),
            "{r:?}"
        );
        assert!(start.elapsed() < Duration::from_millis(timeout_ms), "a dead peer fails fast");
    }
    c.start(1).await;
    let mut tries = 0;
    let answer = loop {
        tries += 1;
        match c.node(0).request(&id(1), Bytes::from_static(b"c")).await {
            Ok(a) => break a,
            Err(e) if tries < 100 => {
                assert!(!matches!(e, TransportError::Timeout { .. }), "{e:?}");
                sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("peer never came back: {e:?}"),
        }
    };
    assert_eq!(answer, "n1 got c from n0");
    c.close().await;
}
both!(peer_down_then_back, 2, TransportConfig::for_test());

async fn backpressure_when_full<C: Cluster>(mut c: C) {
    let hs = handlers(&mut c, 3);
    let max = c.config().inflight_per_peer_max;
    let mut set = JoinSet::new();
    for i in 0..max {
        let t = c.node(0);
        set.spawn(async move { t.request(&id(1), Bytes::from(format!("block:{i}"))).await });
    }
    // Wait until every one is inside the handler.
    let start = Instant::now();
    while hs[1].entered.load(Ordering::SeqCst) < max {
        assert!(start.elapsed() < Duration::from_secs(5), "requests never arrived");
        sleep(Duration::from_millis(5)).await;
    }
    let r = c.node(0).request(&id(1), Bytes::from_static(b"one more")).await;
    assert!(
        matches!(r, Err(TransportError::Backpressure { ref peer, in_flight_max }) if *peer == id(1) && in_flight_max == max),
        "{r:?}"
    );
    // Other peers are not affected by one full peer.
    assert!(c.node(0).request(&id(2), Bytes::from_static(b"x")).await.is_ok());
    hs[1].gate.add_permits(max);
    while let Some(r) = set.join_next().await {
        assert!(r.unwrap().is_ok());
    }
    assert!(c.node(0).request(&id(1), Bytes::from_static(b"x")).await.is_ok(), "room again");
    c.close().await;
}
both!(backpressure_when_full, 3, TransportConfig { inflight_per_peer_max: 4, ..TransportConfig::for_test() });

async fn size_limits<C: Cluster>(mut c: C) {
    handlers(&mut c, 2);
    let max = c.config().frame_len_max as usize;
    let exact = format!("len:{}", "x".repeat(max - 4));
    assert_eq!(c.node(0).request(&id(1), Bytes::from(exact)).await.unwrap(), max.to_string());
    let over = Bytes::from(vec![b'x'; max + 1]);
    let r = c.node(0).request(&id(1), over.clone()).await;
    assert!(matches!(r, Err(TransportError::MessageTooLarge { len, .. }) if len == max + 1), "{r:?}");
    let r = c.node(0).send(&id(1), over).await;
    assert!(matches!(r, Err(TransportError::MessageTooLarge { .. })), "{r:?}");
    let r = c.node(0).request(&id(1), Bytes::from(format!("big:{}", max + 1))).await;
    assert!(matches!(r, Err(TransportError::Refused { refusal: Refusal::ResponseTooLarge, .. })), "{r:?}");
    assert_eq!(c.node(0).request(&id(1), Bytes::from(format!("big:{max}"))).await.unwrap().len(), max);
    c.close().await;
}
both!(size_limits, 2, TransportConfig { frame_len_max: 4096, ..TransportConfig::for_test() });

async fn unknown_peer_and_no_handler<C: Cluster>(mut c: C) {
    handlers(&mut c, 1);
    let r = c.node(0).request(&NodeId::from("nobody"), Bytes::from_static(b"x")).await;
    assert!(matches!(r, Err(TransportError::UnknownPeer(ref p)) if p.as_str() == "nobody"), "{r:?}");
    // Node 1 has no handler yet.
    let r = c.node(0).request(&id(1), Bytes::from_static(b"x")).await;
    assert!(matches!(r, Err(TransportError::Refused { refusal: Refusal::NoHandler, .. })), "{r:?}");
    let (h, _rx) = TestHandler::new(id(1));
    c.set_handler(1, h);
    assert!(c.node(0).request(&id(1), Bytes::from_static(b"x")).await.is_ok());
    c.close().await;
}
both!(unknown_peer_and_no_handler, 2, TransportConfig::for_test());
