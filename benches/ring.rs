//! Placement: a key's slot, a slot's coordinator through the published
//! ring snapshot (what routing does per command), and building a ring (what
//! a membership change costs).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringcache_benches::key;
use ringcache_ring::{slot, Member, Ring, RingConfig, RingHandle};

fn members(n: usize) -> Vec<Member> {
    (0..n).map(|i| Member::new(format!("node-{i}").as_str())).collect()
}

fn lookups(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring");
    g.throughput(Throughput::Elements(1));
    let keys: Vec<Vec<u8>> = (0..10_000).map(key).collect();
    let mut i = 0usize;
    g.bench_function("slot_16B_key", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            criterion::black_box(slot(&keys[i]))
        })
    });
    g.bench_function("slot_hash_tag", |b| {
        b.iter(|| criterion::black_box(slot(criterion::black_box(b"{user:1000}:cart"))))
    });
    let handle = RingHandle::new(Ring::new(members(3), RingConfig::default()).expect("valid ring"));
    g.bench_function("key_to_coordinator", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            criterion::black_box(handle.load().coordinator(slot(&keys[i])))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("ring/build");
    g.sample_size(10);
    for n in [3, 16, 64] {
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter(|| Ring::new(members(n), RingConfig::default()).expect("valid ring"))
        });
    }
}

criterion_group!(benches, lookups);
criterion_main!(benches);
