//! How fast the stores commit a handled transaction (ledger entry, log entry and cursor move in one
//! atomic step) and find log entries, for `MemoryStore` and a file-backed `SqliteStore` in WAL
//! mode. Each commit is a new transaction, as in a sync run. Commits are also measured with a disk
//! sync per commit and on an in-memory SQLite database, to show what the disk costs.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::store::{
    Action, Commit, LedgerChange, LedgerEntry, LedgerKey, LedgerState, LogEntry, LogQuery,
    MemoryStore, SqliteOptions, SqliteStore, Store,
};

/// Rows in the log before the lookups are measured.
const LOG_ROWS: u64 = 100_000;

fn at(n: u64) -> DateTime<Utc> {
    let secs = i64::try_from(n).unwrap_or(i64::MAX);
    Utc.timestamp_opt(1_714_000_000 + secs, 0).single().expect("valid instant")
}

/// The commit of the `n`-th transaction of a run: created, with its order number.
fn commit(n: u64) -> Commit {
    let qbo_id = n.to_string();
    let order_number = format!("M-QBO-9130-INV-{n}");
    Commit {
        log: LogEntry {
            run_id: format!("run-{}", n / 1000),
            at: at(n),
            realm: "9130".into(),
            entity: EntityKind::Invoice,
            qbo_id: qbo_id.clone(),
            doc_number: Some(format!("{}", 10_000 + n)),
            customer: Some(format!("Customer {}", n % 2_000)),
            sync_token: Some("0".into()),
            last_updated: Some(at(n).fixed_offset()),
            action: Action::Created,
            reason: None,
            detail: Some("order created".into()),
            order_number: Some(order_number.clone()),
            failure: None,
            dry_run: false,
        },
        ledger: Some(LedgerChange::Put(LedgerEntry {
            key: LedgerKey { realm: "9130".into(), entity: EntityKind::Invoice, qbo_id },
            order_id: format!("QBO-9130-INV-{n}"),
            order_number: Some(order_number),
            sync_token: "0".into(),
            state: LedgerState::Created,
            updated_at: at(n),
        })),
        cursor: Some(("9130/Invoice".into(), at(n))),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("tokio runtime")
}

fn bench_commits(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temporary directory");
    let sqlite = SqliteStore::open(dir.path().join("bench.db")).expect("open SQLite store");
    // The same with a disk sync per commit, and with no disk at all, to show where the time goes.
    let full = SqliteOptions { sync_every_commit: true, ..SqliteOptions::default() };
    let sqlite_full =
        SqliteStore::open_with(dir.path().join("full.db"), full).expect("open SQLite store");
    let sqlite_memory = SqliteStore::open_in_memory().expect("open SQLite store");
    let memory = MemoryStore::new();
    let stores: [(&str, &dyn Store); 4] = [
        ("sqlite_file_wal", &sqlite),
        ("sqlite_file_wal_sync_every_commit", &sqlite_full),
        ("sqlite_in_memory", &sqlite_memory),
        ("memory", &memory),
    ];

    let mut group = c.benchmark_group("commit");
    group.throughput(Throughput::Elements(1));
    for (name, store) in stores {
        let next = AtomicU64::new(0);
        group.bench_function(name, |b| {
            b.iter_batched(
                || commit(next.fetch_add(1, Ordering::Relaxed)),
                |commit| rt.block_on(store.commit(&commit)).expect("commit"),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn bench_lookups(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temporary directory");
    let sqlite = SqliteStore::open(dir.path().join("bench.db")).expect("open SQLite store");
    let memory = MemoryStore::new();
    let stores: [(&str, &dyn Store); 2] = [("sqlite_file_wal", &sqlite), ("memory", &memory)];
    for (_, store) in stores {
        for n in 0..LOG_ROWS {
            rt.block_on(store.commit(&commit(n))).expect("fill the log");
        }
    }

    let mut group = c.benchmark_group(format!("query_log_{LOG_ROWS}_rows"));
    let wanted = LOG_ROWS / 2;
    let queries = [
        ("by_qbo_id", LogQuery { qbo_id: Some(wanted.to_string()), ..Default::default() }),
        (
            "by_doc_number",
            LogQuery { doc_number: Some((10_000 + wanted).to_string()), ..Default::default() },
        ),
        (
            "by_date_range_100",
            LogQuery { from: Some(at(wanted)), to: Some(at(wanted + 100)), ..Default::default() },
        ),
    ];
    for (store_name, store) in stores {
        for (query_name, query) in &queries {
            group.bench_function(format!("{store_name}/{query_name}"), |b| {
                b.iter(|| rt.block_on(store.query_log(query)).expect("query"));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_commits, bench_lookups);
criterion_main!(benches);
