//! RESP framing and reply encoding of a pipeline.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ringcache_benches::pipeline;
use ringcache_resp::{parse_request, Limits, Proto, Reply};

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("resp/decode");
    for depth in [1usize, 16, 64] {
        let wire = pipeline(depth, true);
        g.throughput(Throughput::Elements(depth as u64));
        g.bench_function(format!("set_pipeline_{depth}"), |b| {
            b.iter_batched_ref(
                || BytesMut::from(&wire[..]),
                |buf| {
                    let limits = Limits::default();
                    while let Some(args) = parse_request(buf, &limits).unwrap() {
                        criterion::black_box(args);
                    }
                },
                BatchSize::SmallInput,
            )
        });
    }
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("resp/encode");
    let value = bytes::Bytes::from_static(&[b'x'; 32]);
    g.throughput(Throughput::Elements(64));
    g.bench_function("bulk_x64", |b| {
        let mut out = BytesMut::with_capacity(64 * 64);
        b.iter(|| {
            out.clear();
            for _ in 0..64 {
                Reply::Bulk(value.clone()).encode(Proto::Resp2, &mut out);
            }
        })
    });
    g.bench_function("ok_x64", |b| {
        let mut out = BytesMut::with_capacity(64 * 8);
        b.iter(|| {
            out.clear();
            for _ in 0..64 {
                Reply::ok().encode(Proto::Resp2, &mut out);
            }
        })
    });
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
