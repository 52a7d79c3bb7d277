//! Pipelining: every reply comes back, in order, however the requests are
//! cut into packets and however many clients pipeline at once; a client
//! that does not read its replies only slows itself down.

mod common;

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use common::{encode_cmd, RawConn, Server};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use redis::{FromRedisValue, Value};

/// The seed for this test's RNG: `RINGCACHE_TEST_SEED` if set, else random;
/// printed so that a failure can be replayed.
fn seed(test: &str) -> u64 {
    let seed = std::env::var("RINGCACHE_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("{test}: seed {seed} (set RINGCACHE_TEST_SEED={seed} to replay)");
    seed
}

#[test]
fn ten_thousand_sets_then_ten_thousand_gets_in_one_pipeline() {
    let server = Server::start();
    let mut conn = server.conn();
    const N: usize = 10_000;
    let mut pipe = redis::pipe();
    for i in 0..N {
        pipe.cmd("SET").arg(format!("pipe:{i}")).arg(format!("value {i}"));
    }
    for i in 0..N {
        pipe.cmd("GET").arg(format!("pipe:{i}"));
    }
    let replies: Vec<Value> = pipe.query(&mut conn).unwrap();
    assert_eq!(replies.len(), 2 * N);
    for (i, reply) in replies[..N].iter().enumerate() {
        assert_eq!(*reply, Value::Okay, "reply to SET number {i}");
    }
    for (i, reply) in replies[N..].iter().enumerate() {
        let got = String::from_redis_value(reply).unwrap();
        assert_eq!(got, format!("value {i}"), "reply to GET number {i}");
    }
}

/// A pipeline of mixed commands and the exact replies they must get, with
/// a model of the keyspace to know what GET returns.
fn mixed_pipeline(rng: &mut SmallRng, commands: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut model: HashMap<String, Vec<u8>> = HashMap::new();
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    for i in 0..commands {
        let key = format!("mix:{}", rng.gen_range(0..50));
        match rng.gen_range(0..5) {
            0 | 1 => {
                let len = rng.gen_range(0..300);
                let value: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
                let mut cmd =
                    format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n", key.len(), value.len()).into_bytes();
                cmd.extend_from_slice(&value);
                cmd.extend_from_slice(b"\r\n");
                wire.extend(cmd);
                expected.push(b"+OK\r\n".to_vec());
                model.insert(key, value);
            }
            2 => {
                wire.extend(encode_cmd(&["GET", &key]));
                expected.push(match model.get(&key) {
                    Some(v) => {
                        let mut r = format!("${}\r\n", v.len()).into_bytes();
                        r.extend_from_slice(v);
                        r.extend_from_slice(b"\r\n");
                        r
                    }
                    None => b"$-1\r\n".to_vec(),
                });
            }
            3 => {
                // Inline commands pipeline just as well.
                let msg = format!("m{i}");
                wire.extend(format!("PING {msg}\r\n").into_bytes());
                expected.push(format!("${}\r\n{msg}\r\n", msg.len()).into_bytes());
            }
            _ => {
                wire.extend(encode_cmd(&["PING"]));
                expected.push(b"+PONG\r\n".to_vec());
            }
        }
    }
    (wire, expected)
}

fn read_all(raw: &mut RawConn, expected: &[Vec<u8>], what: &str) {
    for (i, want) in expected.iter().enumerate() {
        let got = raw.read_reply();
        assert!(
            got == *want,
            "{what}: reply {i} is {:?}, expected {:?}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want)
        );
    }
}

#[test]
fn a_raw_pipeline_in_one_write() {
    let server = Server::start();
    let mut rng = SmallRng::seed_from_u64(seed("a_raw_pipeline_in_one_write"));
    let (wire, expected) = mixed_pipeline(&mut rng, 2000);
    let mut raw = server.raw();
    raw.send(&wire);
    read_all(&mut raw, &expected, "one write");
    assert!(!raw.is_closed());
}

#[test]
fn a_pipeline_sent_byte_by_byte() {
    let server = Server::start();
    let mut raw = server.raw();
    let mut wire = Vec::new();
    wire.extend(encode_cmd(&["SET", "bytes:k", "hello world"]));
    wire.extend_from_slice(b"GET bytes:k\r\n");
    wire.extend(encode_cmd(&["PING"]));
    wire.extend_from_slice(b"\r\n");
    wire.extend(encode_cmd(&["GET", "bytes:missing"]));
    wire.extend_from_slice(b"SET bytes:q \"a \\\"b\\\"\"\r\n");
    wire.extend(encode_cmd(&["GET", "bytes:q"]));
    for (i, b) in wire.iter().enumerate() {
        raw.send(&[*b]);
        // Now and then give the node time to read what it has, so that it
        // really sees one byte at a time.
        if i % 8 == 0 {
            thread::sleep(Duration::from_millis(1));
        }
    }
    let expected: &[&[u8]] =
        &[b"+OK\r\n", b"$11\r\nhello world\r\n", b"+PONG\r\n", b"$-1\r\n", b"+OK\r\n", b"$5\r\na \"b\"\r\n"];
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(raw.read_reply_string(), String::from_utf8_lossy(want), "reply {i}");
    }
}

#[test]
fn a_pipeline_cut_at_random_points() {
    let server = Server::start();
    let mut rng = SmallRng::seed_from_u64(seed("a_pipeline_cut_at_random_points"));
    let (wire, expected) = mixed_pipeline(&mut rng, 3000);
    let mut raw = server.raw();
    let mut at = 0;
    let mut writes = 0;
    while at < wire.len() {
        // Mostly small pieces, sometimes large ones, so cuts land inside
        // headers, inside data and inside CRLFs.
        let len = if rng.gen_bool(0.8) { rng.gen_range(1..32) } else { rng.gen_range(32..8192) };
        let end = (at + len).min(wire.len());
        raw.send(&wire[at..end]);
        at = end;
        writes += 1;
        if writes % 64 == 0 {
            thread::sleep(Duration::from_millis(1));
        }
    }
    read_all(&mut raw, &expected, "random cuts");
}

#[test]
fn concurrent_clients_each_get_their_own_replies_in_order() {
    let server = Server::start();
    const CLIENTS: usize = 16;
    const COMMANDS: usize = 2000;
    const BATCH: usize = 200;
    let threads: Vec<_> = (0..CLIENTS)
        .map(|t| {
            let mut conn = server.conn();
            thread::spawn(move || {
                for batch in 0..COMMANDS / BATCH {
                    let mut pipe = redis::pipe();
                    // Per item: SET, GET of what was just set, PING with a
                    // message unique to this client and position.
                    for j in 0..BATCH / 4 {
                        let i = batch * BATCH + j;
                        let key = format!("c{t}:k{}", i % 37);
                        pipe.cmd("SET").arg(&key).arg(format!("c{t} v{i}"));
                        pipe.cmd("GET").arg(&key);
                        pipe.cmd("PING").arg(format!("c{t} p{i}"));
                        pipe.cmd("GET").arg(format!("c{t}:never"));
                    }
                    let replies: Vec<Value> = pipe.query(&mut conn).unwrap();
                    assert_eq!(replies.len(), BATCH);
                    for (j, chunk) in replies.chunks(4).enumerate() {
                        let i = batch * BATCH + j;
                        assert_eq!(chunk[0], Value::Okay, "client {t} item {i}");
                        assert_eq!(String::from_redis_value(&chunk[1]).unwrap(), format!("c{t} v{i}"));
                        assert_eq!(String::from_redis_value(&chunk[2]).unwrap(), format!("c{t} p{i}"));
                        assert_eq!(chunk[3], Value::Nil, "client {t} item {i}");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
}

#[test]
fn a_client_that_does_not_read_does_not_stall_others() {
    let server = Server::start();
    let mut setup = server.conn();
    let value = vec![b'v'; 100 * 1024];
    let _: () = redis::cmd("SET").arg("slow:big").arg(&value).query(&mut setup).unwrap();

    // 400 GETs of 100 KB: 40 MB of replies, far more than the socket
    // buffers hold, so the node must wait on this client.
    const GETS: usize = 400;
    let mut slow = server.raw();
    let mut requests = Vec::new();
    for _ in 0..GETS {
        requests.extend(encode_cmd(&["GET", "slow:big"]));
    }
    requests.extend(encode_cmd(&["PING"]));
    slow.send(&requests);

    // Meanwhile another client is served promptly, on the very key the slow
    // client's replies are about, and writes it.
    let mut other = server.conn();
    thread::sleep(Duration::from_millis(100));
    let mut worst = Duration::ZERO;
    for i in 0..50 {
        let started = Instant::now();
        let pong: String = redis::cmd("PING").query(&mut other).unwrap();
        assert_eq!(pong, "PONG");
        let got: Vec<u8> = redis::cmd("GET").arg("slow:big").query(&mut other).unwrap();
        assert_eq!(got.len(), value.len());
        let _: () = redis::cmd("SET").arg(format!("slow:other:{i}")).arg("x").query(&mut other).unwrap();
        worst = worst.max(started.elapsed());
        thread::sleep(Duration::from_millis(5));
    }
    assert!(worst < Duration::from_secs(2), "another client waited {worst:?} behind a slow reader");

    // The slow reader gets every reply, complete and in order.
    let expected_get = {
        let mut r = format!("${}\r\n", value.len()).into_bytes();
        r.extend_from_slice(&value);
        r.extend_from_slice(b"\r\n");
        r
    };
    for i in 0..GETS {
        let got = slow.read_reply();
        assert!(got == expected_get, "slow reader's reply {i} differs ({} bytes)", got.len());
    }
    assert_eq!(slow.read_reply(), b"+PONG\r\n");
}

#[test]
fn a_client_that_does_not_read_does_not_delay_shutdown() {
    let mut server = Server::start();
    let mut setup = server.conn();
    let value = vec![b'v'; 100 * 1024];
    let _: () = redis::cmd("SET").arg("slow:big").arg(&value).query(&mut setup).unwrap();
    let mut slow = server.raw();
    let mut requests = Vec::new();
    for _ in 0..400 {
        requests.extend(encode_cmd(&["GET", "slow:big"]));
    }
    slow.send(&requests);
    // Let the node fill the socket buffers and block on this client.
    thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let status = server.stop();
    let took = started.elapsed();
    assert!(status.is_some(), "the node did not exit");
    assert!(took < Duration::from_secs(2), "shutdown took {took:?} with a client not reading");
    drop(slow);
}
