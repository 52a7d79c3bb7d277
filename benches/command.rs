//! A whole pipelined request through the command path, without sockets:
//! framing, dispatch, shard locking, the store, reply encoding.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringcache_benches::{key, pipeline};
use ringcache_server::{Config, Session, Shared, Step};

const KEYS: u64 = 100_000;

fn preloaded() -> Shared {
    let shared = Shared::new(Config::default());
    let addr = "127.0.0.1:1".parse().unwrap();
    let mut session = Session::new(&shared, shared.clients.register(addr, addr, usize::MAX).unwrap());
    let mut out = BytesMut::new();
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(1000) {
        let mut wire = Vec::new();
        for &i in chunk {
            wire.extend(ringcache_benches::encode_command(&[b"SET", &key(i), &[b'x'; 32]]));
        }
        let mut input = BytesMut::from(&wire[..]);
        while !matches!(session.process(&shared, &mut input, &mut out), Step::NeedInput) {
            out.clear();
        }
        out.clear();
    }
    shared
}

fn command_path(c: &mut Criterion) {
    let shared = preloaded();
    let addr = "127.0.0.1:2".parse().unwrap();
    let mut session = Session::new(&shared, shared.clients.register(addr, addr, usize::MAX).unwrap());
    let mut g = c.benchmark_group("command_path");
    for (name, set) in [("get", false), ("set", true)] {
        for depth in [1usize, 16, 64] {
            let wire = pipeline(depth, set);
            let mut input = BytesMut::with_capacity(wire.len());
            let mut out = BytesMut::with_capacity(64 * 1024);
            g.throughput(Throughput::Elements(depth as u64));
            g.bench_function(format!("{name}_pipeline_{depth}"), |b| {
                b.iter(|| {
                    input.extend_from_slice(&wire);
                    let step = session.process(&shared, &mut input, &mut out);
                    assert!(matches!(step, Step::NeedInput));
                    out.clear();
                })
            });
        }
    }
}

criterion_group!(benches, command_path);
criterion_main!(benches);
