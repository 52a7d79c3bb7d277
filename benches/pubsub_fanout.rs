//! PUBLISH fan-out load generator (`benches/pubsub.sh` runs it against
//! ringcache and redis-server side by side).
//!
//! Opens `subscribers` connections that SUBSCRIBE to one channel, then one
//! publisher connection sends `messages` PUBLISHes of `size` bytes,
//! `pipeline` at a time, and the clock runs until every subscriber has
//! received every message. Prints one line: `publishes/s deliveries/s
//! publish-replies-done-ms all-delivered-ms`.
//!
//! ```sh
//! cargo build --release -p ringcache-benches --bin pubsub_fanout
//! target/release/pubsub_fanout PORT [subscribers] [messages] [size] [pipeline]
//! ```

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CHANNEL: &str = "bench";
/// Every wait is bounded: a server that stops delivering fails the run.
const DEADLINE: Duration = Duration::from_secs(120);

fn arg(i: usize, default: usize) -> usize {
    std::env::args().nth(i).map_or(default, |a| a.parse().expect("a number"))
}

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads until `want` bytes arrived in total; returns them.
async fn read_exactly(stream: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut buf = vec![0u8; want];
    stream.read_exact(&mut buf).await.expect("read");
    buf
}

fn main() {
    let port = arg(1, 6379) as u16;
    let subscribers = arg(2, 1000);
    let messages = arg(3, 2000);
    let size = arg(4, 64);
    let pipeline = arg(5, 16).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let addr = format!("127.0.0.1:{port}");
        let confirm = format!("*3\r\n$9\r\nsubscribe\r\n${}\r\n{CHANNEL}\r\n:1\r\n", CHANNEL.len());
        let payload = vec![b'x'; size];
        let message_len =
            format!("*3\r\n$7\r\nmessage\r\n${}\r\n{CHANNEL}\r\n${size}\r\n", CHANNEL.len()).len() + size + 2;
        let received = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::with_capacity(subscribers);
        for _ in 0..subscribers {
            let mut s = TcpStream::connect(&addr).await.expect("connect a subscriber");
            let _ = s.set_nodelay(true);
            s.write_all(&command(&[b"SUBSCRIBE", CHANNEL.as_bytes()])).await.expect("subscribe");
            let got = read_exactly(&mut s, confirm.len()).await;
            assert_eq!(got, confirm.as_bytes(), "subscribe confirmation");
            let received = received.clone();
            let total = messages * message_len;
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut bytes = 0;
                while bytes < total {
                    let n = s.read(&mut buf).await.expect("read messages");
                    assert!(n > 0, "subscriber closed by the server");
                    bytes += n;
                }
                received.fetch_add(1, Relaxed);
            }));
        }
        let mut publisher = TcpStream::connect(&addr).await.expect("connect the publisher");
        let _ = publisher.set_nodelay(true);
        let publish = command(&[b"PUBLISH", CHANNEL.as_bytes(), &payload]);
        let reply = format!(":{subscribers}\r\n");
        let start = Instant::now();
        let mut sent = 0;
        while sent < messages {
            let batch = pipeline.min(messages - sent);
            let mut out = Vec::with_capacity(publish.len() * batch);
            for _ in 0..batch {
                out.extend_from_slice(&publish);
            }
            publisher.write_all(&out).await.expect("publish");
            let got = read_exactly(&mut publisher, reply.len() * batch).await;
            assert!(got.starts_with(reply.as_bytes()), "PUBLISH replied {:?}", String::from_utf8_lossy(&got));
            sent += batch;
        }
        let published = start.elapsed();
        let all = async {
            for t in tasks {
                t.await.expect("subscriber task");
            }
        };
        tokio::time::timeout(DEADLINE, all).await.expect("every message delivered in time");
        let delivered = start.elapsed();
        let secs = delivered.as_secs_f64();
        println!(
            "{:.0} {:.0} {} {}",
            messages as f64 / secs,
            (messages * subscribers) as f64 / secs,
            published.as_millis(),
            delivered.as_millis()
        );
    });
}
