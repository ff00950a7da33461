//! Blocks parsed per second: a U.S. mix, an international mix and structured addresses.
//!
//! `cargo bench --bench address`

#[path = "support/address_mixes.rs"]
mod address_mixes;

use std::hint::black_box;

use address_mixes::{INTL_MIX, US_MIX, structured};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qbo_ordoro::address::{AddressContext, parse_address, parse_lines};

fn bench(c: &mut Criterion) {
    let ctx = AddressContext::default();
    let mut group = c.benchmark_group("address");
    group.throughput(Throughput::Elements(US_MIX.len() as u64));
    group.bench_function("us_mix", |b| {
        b.iter(|| {
            for block in US_MIX {
                let _ = black_box(parse_lines(black_box(block), &ctx));
            }
        })
    });
    group.throughput(Throughput::Elements(INTL_MIX.len() as u64));
    group.bench_function("international_mix", |b| {
        b.iter(|| {
            for block in INTL_MIX {
                let _ = black_box(parse_lines(black_box(block), &ctx));
            }
        })
    });
    let addrs = structured();
    group.throughput(Throughput::Elements(addrs.len() as u64));
    group.bench_function("structured", |b| {
        b.iter(|| {
            for a in &addrs {
                let _ = black_box(parse_address(black_box(a), &ctx));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
