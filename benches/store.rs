//! The store alone: GET/SET on one shard, expiry, and a lock round trip.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringcache_benches::key;
use ringcache_store::{Db, DbConfig, Shard, Value};

const KEYS: u64 = 100_000;

fn shard_ops(c: &mut Criterion) {
    let mut g = c.benchmark_group("store/shard");
    g.throughput(Throughput::Elements(1));
    let keys: Vec<Vec<u8>> = (0..KEYS).map(key).collect();
    let mut shard = Shard::new();
    for k in &keys {
        shard.set(k, Value::string(&[b'x'; 32]), 0, 1);
    }
    let mut i = 0usize;
    g.bench_function("get", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            criterion::black_box(shard.get_read(&keys[i], 1).is_some())
        })
    });
    g.bench_function("set", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            shard.set(&keys[i], Value::string(&[b'y'; 32]), 0, 1);
        })
    });
    g.bench_function("set_with_ttl", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            shard.set(&keys[i], Value::string(&[b'y'; 32]), 10_000, 1);
        })
    });
    g.bench_function("active_expire_20", |b| b.iter(|| criterion::black_box(shard.active_expire(2, 20))));
}

fn db_ops(c: &mut Criterion) {
    let mut g = c.benchmark_group("store/db");
    g.throughput(Throughput::Elements(1));
    let db = Db::new(DbConfig::default());
    let keys: Vec<Vec<u8>> = (0..KEYS).map(key).collect();
    for k in &keys {
        db.lock_key(k).shard(k).set(k, Value::string(&[b'x'; 32]), 0, 1);
    }
    let mut i = 0usize;
    g.bench_function("lock_and_get", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            let k = &keys[i];
            criterion::black_box(db.lock_key(k).shard(k).get_read(k, 1).is_some())
        })
    });
}

criterion_group!(benches, shard_ops, db_ops);
criterion_main!(benches);
