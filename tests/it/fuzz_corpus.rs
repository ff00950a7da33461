//! Replays every fuzz seed corpus (`fuzz/corpus/<target>/`) through the library body of its
//! target, on stable Rust: a crash the fuzzer once found stays fixed, and a new target without
//! a body here fails the suite.

use std::path::{Path, PathBuf};

fn corpus_root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join("fuzz").join("corpus")
}

/// The library body of a fuzz target, by its name.
fn body_of(target: &str) -> Option<fn(&[u8])> {
    let body: fn(&[u8]) = match target {
        "address_block" => qbo_ordoro::fuzz::address_block,
        "qbo_transaction" => |data| {
            let _ = qbo_ordoro::fuzz::qbo_transaction(data);
        },
        "qbo_fault_body" => |data| {
            let _ = qbo_ordoro::fuzz::qbo_fault_body(data);
        },
        "ordoro_response" => |data| {
            let _ = qbo_ordoro::fuzz::ordoro_response(data);
        },
        "webhook_delivery" => |data| {
            let _ = qbo_ordoro::fuzz::webhook_delivery(data);
        },
        _ => return None,
    };
    Some(body)
}

fn seeds(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_has_a_body_and_seeds() {
    let mut targets: Vec<String> = std::fs::read_dir(corpus_root())
        .expect("fuzz/corpus exists")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        [
            "address_block",
            "ordoro_response",
            "qbo_fault_body",
            "qbo_transaction",
            "webhook_delivery"
        ]
    );
    for target in &targets {
        assert!(body_of(target).is_some(), "no library body for fuzz target {target}");
        let n = seeds(&corpus_root().join(target)).len();
        assert!(n >= 10, "{target} has only {n} seeds");
    }
}

fn replay(target: &str) -> usize {
    let body = body_of(target).expect("a known target");
    let files = seeds(&corpus_root().join(target));
    for file in &files {
        let data = std::fs::read(file).expect("a readable seed");
        // A panic names the seed, so a regression points at its input.
        let outcome = std::panic::catch_unwind(|| body(&data));
        assert!(outcome.is_ok(), "{target}: seed {} panics", file.display());
    }
    files.len()
}

#[test]
fn address_block_corpus_replays() {
    assert!(replay("address_block") > 0);
}

#[test]
fn qbo_transaction_corpus_replays() {
    assert!(replay("qbo_transaction") > 0);
}

#[test]
fn qbo_fault_body_corpus_replays() {
    assert!(replay("qbo_fault_body") > 0);
}

#[test]
fn ordoro_response_corpus_replays() {
    assert!(replay("ordoro_response") > 0);
}

#[test]
fn webhook_delivery_corpus_replays() {
    assert!(replay("webhook_delivery") > 0);
}

/// The response bodies and deliveries reach both outcomes: the seeds are not all refused at the
/// door.
#[test]
fn response_seeds_cover_successes_and_failures() {
    for (target, body) in [
        ("qbo_fault_body", qbo_ordoro::fuzz::qbo_fault_body as fn(&[u8]) -> bool),
        ("ordoro_response", qbo_ordoro::fuzz::ordoro_response),
        ("webhook_delivery", qbo_ordoro::fuzz::webhook_delivery),
    ] {
        let outcomes: Vec<bool> = seeds(&corpus_root().join(target))
            .iter()
            .map(|f| body(&std::fs::read(f).expect("a readable seed")))
            .collect();
        assert!(outcomes.iter().any(|ok| *ok), "{target}: no seed is read as a success");
        assert!(outcomes.iter().any(|ok| !*ok), "{target}: no seed is read as a failure");
    }
}

/// The seeds of the two optional QBO reads decode through the client (the fuzz body returns
/// true only when the call read the answer): the body reaches CompanyInfo and customer decoding.
#[test]
fn qbo_fault_body_reads_the_company_and_customer_seeds() {
    for seed in ["200_companyinfo_au.json.companyinfo", "200_customer_136.json.customer"] {
        let data = std::fs::read(corpus_root().join("qbo_fault_body").join(seed)).unwrap();
        assert!(qbo_ordoro::fuzz::qbo_fault_body(&data), "{seed} reads");
    }
}
