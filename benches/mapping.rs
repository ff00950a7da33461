//! Throughput of the pure core: QBO transactions decoded, decided and mapped, and the order body
//! encoded, per second; and shipping-line detection per second.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qbo_ordoro::mapping::{Decision, MappingConfig, decide};
use qbo_ordoro::model::qbo::{QboDocument, Transaction};
use qbo_ordoro::shipping::ShippingWords;
use serde_json::Value;

/// The QBO fixtures that hold sales, each marked with the class `Ordoro` so they map in full.
fn documents() -> Vec<String> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join("tests/fixtures/qbo");
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("fixture");
        let mut v: Value = serde_json::from_str(&text).expect("json");
        let class = serde_json::json!({"value": "1", "name": "Ordoro"});
        let key = ["Invoice", "SalesReceipt"].into_iter().find(|k| v.get(*k).is_some());
        if let Some(key) = key {
            v[key]["ClassRef"] = class;
        } else if v.get("Line").is_some() && v.get("VendorRef").is_none() {
            v["ClassRef"] = class;
        } else {
            continue;
        }
        out.push(v.to_string());
    }
    out
}

fn decode_map_encode(c: &mut Criterion) {
    let docs = documents();
    let config = MappingConfig::default();
    let mut group = c.benchmark_group("mapping");
    group.throughput(Throughput::Elements(docs.len() as u64));
    group.bench_function("decode_decide_encode", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            for text in &docs {
                let doc = QboDocument::from_json(black_box(text)).expect("document");
                for txn in doc.transactions() {
                    if let Decision::Create(m) = decide(&txn, &config) {
                        bytes += serde_json::to_vec(&m.order).expect("encode").len();
                    }
                }
            }
            bytes
        })
    });
    let txns: Vec<Transaction> = docs
        .iter()
        .flat_map(|t| QboDocument::from_json(t).expect("document").transactions())
        .collect();
    group.throughput(Throughput::Elements(txns.len() as u64));
    group.bench_function("decide_only", |b| {
        b.iter(|| txns.iter().map(|t| decide(black_box(t), &config).action().len()).sum::<usize>())
    });
    group.finish();
}

fn shipping_detection(c: &mut Criterion) {
    let names = [
        "UPS Ground",
        "FedEx 2Day",
        "Shipping & Handling",
        "Coffee Cups",
        "Setup fee",
        "Groups",
        "Reshipping",
        "Rock Fountain",
        "Landscaping:Sod",
        "Freight Out (LTL)",
    ];
    let mut words = ShippingWords::default();
    words.add("Freight Out");
    let mut group = c.benchmark_group("shipping");
    group.throughput(Throughput::Elements(names.len() as u64));
    group.bench_function("matches_name", |b| {
        b.iter(|| names.iter().filter(|n| words.matches_name(black_box(n))).count())
    });
    group.finish();
}

criterion_group!(benches, decode_map_encode, shipping_detection);
criterion_main!(benches);
