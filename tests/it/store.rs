//! The behaviour every `Store` must have, written once and run against `MemoryStore`, a file-backed
//! `SqliteStore` and an in-memory `SqliteStore`; then what is SQLite's own: persistence across
//! restarts, migrations, foreign files, WAL, and commits that fail half way.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use qbo_ordoro::ErrorKind;
use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::store::{
    Action, Commit, FailureInfo, LedgerEntry, LedgerKey, LedgerState, LogEntry, LogQuery,
    MemoryStore, RunSummary, SqliteOptions, SqliteStore, Store, StoredToken, TokenStore,
};
use secrecy::{ExposeSecret, SecretString};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Builders

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_714_000_000 + secs, 0).single().expect("valid instant")
}

fn key(realm: &str, entity: EntityKind, qbo_id: &str) -> LedgerKey {
    LedgerKey { realm: realm.into(), entity, qbo_id: qbo_id.into() }
}

fn ledger(realm: &str, entity: EntityKind, qbo_id: &str, state: LedgerState) -> LedgerEntry {
    LedgerEntry {
        key: key(realm, entity, qbo_id),
        order_id: format!("QBO-{realm}-{entity}-{qbo_id}"),
        order_number: None,
        sync_token: "0".into(),
        state,
        updated_at: t(0),
    }
}

fn log(run: &str, realm: &str, qbo_id: &str, action: Action, at: DateTime<Utc>) -> LogEntry {
    LogEntry {
        run_id: run.into(),
        at,
        realm: realm.into(),
        entity: EntityKind::Invoice,
        qbo_id: qbo_id.into(),
        doc_number: None,
        sync_token: None,
        last_updated: None,
        action,
        reason: None,
        detail: None,
        order_number: None,
        failure: None,
        dry_run: false,
    }
}

fn log_only(entry: LogEntry) -> Commit {
    Commit { log: entry, ledger: None, cursor: None }
}

fn token(refresh: &str, access: Option<&str>) -> StoredToken {
    StoredToken {
        refresh_token: SecretString::from(refresh.to_owned()),
        access_token: access.map(|a| SecretString::from(a.to_owned())),
        access_expires_at: access.map(|_| t(3600)),
    }
}

fn ids(entries: &[LogEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.qbo_id.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// Fixtures: each keeps what must outlive the store (the temporary directory).

struct Fixture {
    store: Box<dyn Store>,
    _dir: Option<TempDir>,
}

fn memory() -> Fixture {
    Fixture { store: Box::new(MemoryStore::new()), _dir: None }
}

fn sqlite_file() -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(dir.path().join("state.db")).expect("open SQLite store");
    Fixture { store: Box::new(store), _dir: Some(dir) }
}

fn sqlite_memory() -> Fixture {
    Fixture { store: Box::new(SqliteStore::open_in_memory().expect("open")), _dir: None }
}

/// Runs each named behaviour (an `async fn(&dyn Store)` below) against every store.
macro_rules! store_suite {
    ($($behaviour:ident),* $(,)?) => {
        mod memory_store {
            $( #[tokio::test] async fn $behaviour() {
                let fixture = super::memory();
                super::$behaviour(fixture.store.as_ref()).await;
            } )*
        }
        mod sqlite_file_store {
            $( #[tokio::test] async fn $behaviour() {
                let fixture = super::sqlite_file();
                super::$behaviour(fixture.store.as_ref()).await;
            } )*
        }
        mod sqlite_in_memory_store {
            $( #[tokio::test] async fn $behaviour() {
                let fixture = super::sqlite_memory();
                super::$behaviour(fixture.store.as_ref()).await;
            } )*
        }
    };
}

store_suite!(
    cursors_are_kept_per_name,
    cursor_keeps_nanoseconds,
    ledger_entries_are_put_read_and_replaced,
    pending_entries_are_the_pending_ones_of_the_realm,
    commit_writes_ledger_log_and_cursor,
    commit_without_ledger_or_cursor_leaves_them_alone,
    log_entries_round_trip_every_field,
    log_query_filters_each_field,
    log_query_date_range_is_half_open,
    log_query_limit_takes_the_first_matches,
    log_query_results_keep_the_written_order,
    run_summary_counts_by_action,
    tokens_round_trip,
    tokens_never_show_in_debug_output,
);

// ---------------------------------------------------------------------------------------------
// The behaviours every store has

async fn cursors_are_kept_per_name(store: &dyn Store) {
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), None);
    store.set_cursor("r1/Invoice", t(10)).await.unwrap();
    store.set_cursor("r1/SalesReceipt", t(20)).await.unwrap();
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(t(10)));
    assert_eq!(store.cursor("r1/SalesReceipt").await.unwrap(), Some(t(20)));
    assert_eq!(store.cursor("r2/Invoice").await.unwrap(), None);

    store.set_cursor("r1/Invoice", t(30)).await.unwrap();
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(t(30)));
    assert_eq!(store.cursor("r1/SalesReceipt").await.unwrap(), Some(t(20)));
}

async fn cursor_keeps_nanoseconds(store: &dyn Store) {
    let at = Utc.timestamp_opt(1_714_000_000, 123_456_789).single().unwrap();
    store.set_cursor("c", at).await.unwrap();
    assert_eq!(store.cursor("c").await.unwrap(), Some(at));
}

async fn ledger_entries_are_put_read_and_replaced(store: &dyn Store) {
    let inv = key("r1", EntityKind::Invoice, "42");
    assert_eq!(store.ledger_entry(&inv).await.unwrap(), None);

    let pending = ledger("r1", EntityKind::Invoice, "42", LedgerState::Pending);
    store.put_ledger_entry(&pending).await.unwrap();
    assert_eq!(store.ledger_entry(&inv).await.unwrap(), Some(pending.clone()));

    let created = LedgerEntry {
        order_number: Some("M-QBO-r1-INV-42".into()),
        sync_token: "3".into(),
        state: LedgerState::Created,
        updated_at: t(99),
        ..pending.clone()
    };
    store.put_ledger_entry(&created).await.unwrap();
    assert_eq!(store.ledger_entry(&inv).await.unwrap(), Some(created));

    // The same QBO id as a sales receipt, or in another company, is another transaction.
    assert_eq!(store.ledger_entry(&key("r1", EntityKind::SalesReceipt, "42")).await.unwrap(), None);
    assert_eq!(store.ledger_entry(&key("r2", EntityKind::Invoice, "42")).await.unwrap(), None);
    let receipt = ledger("r1", EntityKind::SalesReceipt, "42", LedgerState::Cancelled);
    store.put_ledger_entry(&receipt).await.unwrap();
    assert_eq!(store.ledger_entry(&receipt.key).await.unwrap(), Some(receipt));
    assert_eq!(store.ledger_entry(&inv).await.unwrap().unwrap().state, LedgerState::Created);
}

async fn pending_entries_are_the_pending_ones_of_the_realm(store: &dyn Store) {
    let entries = [
        ledger("r1", EntityKind::SalesReceipt, "7", LedgerState::Pending),
        ledger("r1", EntityKind::Invoice, "9", LedgerState::Pending),
        ledger("r1", EntityKind::Invoice, "10", LedgerState::Created),
        ledger("r1", EntityKind::Invoice, "11", LedgerState::Cancelled),
        ledger("r2", EntityKind::Invoice, "9", LedgerState::Pending),
    ];
    for entry in &entries {
        store.put_ledger_entry(entry).await.unwrap();
    }
    // In key order: entity, then QBO id.
    assert_eq!(
        store.pending_entries("r1").await.unwrap(),
        vec![entries[1].clone(), entries[0].clone()]
    );
    assert_eq!(store.pending_entries("r2").await.unwrap(), vec![entries[4].clone()]);
    assert_eq!(store.pending_entries("r3").await.unwrap(), vec![]);

    let settled = LedgerEntry { state: LedgerState::Created, ..entries[1].clone() };
    store.put_ledger_entry(&settled).await.unwrap();
    assert_eq!(store.pending_entries("r1").await.unwrap(), vec![entries[0].clone()]);
}

async fn commit_writes_ledger_log_and_cursor(store: &dyn Store) {
    let entry = LedgerEntry {
        order_number: Some("M-1".into()),
        state: LedgerState::Created,
        ..ledger("r1", EntityKind::Invoice, "1", LedgerState::Pending)
    };
    let line = log("run-1", "r1", "1", Action::Created, t(5));
    store
        .commit(&Commit {
            log: line.clone(),
            ledger: Some(entry.clone()),
            cursor: Some(("r1/Invoice".into(), t(4))),
        })
        .await
        .unwrap();
    assert_eq!(store.ledger_entry(&entry.key).await.unwrap(), Some(entry));
    assert_eq!(store.query_log(&LogQuery::default()).await.unwrap(), vec![line]);
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(t(4)));
}

async fn commit_without_ledger_or_cursor_leaves_them_alone(store: &dyn Store) {
    let entry = ledger("r1", EntityKind::Invoice, "1", LedgerState::Created);
    store.put_ledger_entry(&entry).await.unwrap();
    store.set_cursor("r1/Invoice", t(1)).await.unwrap();

    let line = log("run-2", "r1", "1", Action::Skipped, t(5));
    store.commit(&log_only(line.clone())).await.unwrap();
    assert_eq!(store.ledger_entry(&entry.key).await.unwrap(), Some(entry));
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(t(1)));
    assert_eq!(store.query_log(&LogQuery::default()).await.unwrap(), vec![line]);
}

async fn log_entries_round_trip_every_field(store: &dyn Store) {
    let pacific = FixedOffset::west_opt(8 * 3600).unwrap();
    let last_updated = pacific.with_ymd_and_hms(2024, 4, 24, 16, 3, 12).single().unwrap();
    let full = LogEntry {
        run_id: "run-1".into(),
        at: Utc.timestamp_opt(1_714_000_000, 5).single().unwrap(),
        realm: "9130".into(),
        entity: EntityKind::SalesReceipt,
        qbo_id: "177".into(),
        doc_number: Some("1042".into()),
        sync_token: Some("2".into()),
        last_updated: Some(last_updated),
        action: Action::Failed,
        reason: Some("ordoro_rejected".into()),
        detail: Some("Ordoro refused the order: the ship-to has no street.".into()),
        order_number: Some("M-QBO-9130-SR-177".into()),
        failure: Some(FailureInfo {
            service: Some("ordoro".into()),
            status: Some(400),
            code: Some("street1".into()),
            message: "street1 is required".into(),
            request_id: Some("req-7".into()),
        }),
        dry_run: true,
    };
    let bare = log("run-1", "9130", "178", Action::Skipped, t(1));
    let message_only = LogEntry {
        failure: Some(FailureInfo { message: "disk full".into(), ..FailureInfo::default() }),
        ..log("run-1", "9130", "179", Action::Failed, t(2))
    };
    for entry in [&full, &bare, &message_only] {
        store.commit(&log_only(entry.clone())).await.unwrap();
    }
    let read = store.query_log(&LogQuery::default()).await.unwrap();
    assert_eq!(read, vec![full, bare, message_only]);
    // DateTime equality ignores the offset; the log must keep QBO's own.
    assert_eq!(read[0].last_updated.unwrap().offset(), &pacific);
}

/// Six entries that differ in every filtered field, for the query tests.
async fn write_query_fixture(store: &dyn Store) {
    let entries = [
        LogEntry {
            doc_number: Some("1001".into()),
            order_number: Some("M-1".into()),
            ..log("run-1", "r1", "1", Action::Created, t(10))
        },
        LogEntry {
            doc_number: Some("1002".into()),
            ..log("run-1", "r1", "2", Action::Skipped, t(20))
        },
        LogEntry {
            doc_number: Some("1001".into()),
            ..log("run-1", "r2", "1", Action::Failed, t(30))
        },
        LogEntry {
            doc_number: Some("1001".into()),
            order_number: Some("M-1".into()),
            ..log("run-2", "r1", "1", Action::Updated, t(40))
        },
        log("run-2", "r1", "3", Action::Skipped, t(50)),
        LogEntry {
            order_number: Some("M-4".into()),
            ..log("run-2", "r1", "4", Action::Created, t(60))
        },
    ];
    for entry in entries {
        store.commit(&log_only(entry)).await.unwrap();
    }
}

async fn log_query_filters_each_field(store: &dyn Store) {
    write_query_fixture(store).await;
    let find = |q: LogQuery| async move {
        let found = store.query_log(&q).await.unwrap();
        found.iter().map(|e| format!("{}/{}/{}", e.run_id, e.realm, e.qbo_id)).collect::<Vec<_>>()
    };
    assert_eq!(find(LogQuery::default()).await.len(), 6);
    assert_eq!(
        find(LogQuery { realm: Some("r2".into()), ..Default::default() }).await,
        ["run-1/r2/1"]
    );
    assert_eq!(
        find(LogQuery { run_id: Some("run-2".into()), ..Default::default() }).await,
        ["run-2/r1/1", "run-2/r1/3", "run-2/r1/4"]
    );
    assert_eq!(
        find(LogQuery { qbo_id: Some("1".into()), ..Default::default() }).await,
        ["run-1/r1/1", "run-1/r2/1", "run-2/r1/1"]
    );
    assert_eq!(
        find(LogQuery { qbo_id: Some("1".into()), realm: Some("r1".into()), ..Default::default() })
            .await,
        ["run-1/r1/1", "run-2/r1/1"]
    );
    assert_eq!(
        find(LogQuery { doc_number: Some("1001".into()), ..Default::default() }).await,
        ["run-1/r1/1", "run-1/r2/1", "run-2/r1/1"]
    );
    assert_eq!(
        find(LogQuery { order_number: Some("M-1".into()), ..Default::default() }).await,
        ["run-1/r1/1", "run-2/r1/1"]
    );
    assert_eq!(
        find(LogQuery { action: Some(Action::Skipped), ..Default::default() }).await,
        ["run-1/r1/2", "run-2/r1/3"]
    );
    assert_eq!(
        find(LogQuery {
            action: Some(Action::Created),
            run_id: Some("run-2".into()),
            ..Default::default()
        })
        .await,
        ["run-2/r1/4"]
    );
    assert_eq!(
        find(LogQuery { doc_number: Some("nope".into()), ..Default::default() }).await,
        Vec::<String>::new()
    );
}

async fn log_query_date_range_is_half_open(store: &dyn Store) {
    write_query_fixture(store).await;
    let between = |from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>| async move {
        let q = LogQuery { from, to, ..Default::default() };
        store.query_log(&q).await.unwrap().iter().map(|e| e.at).collect::<Vec<DateTime<Utc>>>()
    };
    assert_eq!(between(Some(t(20)), Some(t(40))).await, [t(20), t(30)]);
    assert_eq!(between(Some(t(21)), Some(t(41))).await, [t(30), t(40)]);
    assert_eq!(between(Some(t(50)), None).await, [t(50), t(60)]);
    assert_eq!(between(None, Some(t(20))).await, [t(10)]);
    assert_eq!(between(Some(t(30)), Some(t(30))).await, Vec::<DateTime<Utc>>::new());
    // Bounds far outside any stored instant still compare as instants.
    assert_eq!(
        between(Some(DateTime::<Utc>::MIN_UTC), Some(DateTime::<Utc>::MAX_UTC)).await.len(),
        6
    );
    assert_eq!(between(Some(DateTime::<Utc>::MAX_UTC), None).await, Vec::<DateTime<Utc>>::new());
    assert_eq!(between(None, Some(DateTime::<Utc>::MIN_UTC)).await, Vec::<DateTime<Utc>>::new());
}

async fn log_query_limit_takes_the_first_matches(store: &dyn Store) {
    write_query_fixture(store).await;
    let q = LogQuery { realm: Some("r1".into()), limit: Some(2), ..Default::default() };
    assert_eq!(ids(&store.query_log(&q).await.unwrap()), ["1", "2"]);
    let q = LogQuery { limit: Some(0), ..Default::default() };
    assert_eq!(store.query_log(&q).await.unwrap(), vec![]);
    let q = LogQuery { limit: Some(usize::MAX), ..Default::default() };
    assert_eq!(store.query_log(&q).await.unwrap().len(), 6);
}

async fn log_query_results_keep_the_written_order(store: &dyn Store) {
    // Written out of time order (a re-run of an older range): results follow the writing.
    for (id, secs) in [("c", 30), ("a", 10), ("b", 20)] {
        store.commit(&log_only(log("run-1", "r1", id, Action::Skipped, t(secs)))).await.unwrap();
    }
    assert_eq!(ids(&store.query_log(&LogQuery::default()).await.unwrap()), ["c", "a", "b"]);
    let q = LogQuery { from: Some(t(15)), ..Default::default() };
    assert_eq!(ids(&store.query_log(&q).await.unwrap()), ["c", "b"]);
}

async fn run_summary_counts_by_action(store: &dyn Store) {
    let actions = [
        ("run-1", Action::Created),
        ("run-1", Action::Created),
        ("run-1", Action::Created),
        ("run-1", Action::Updated),
        ("run-1", Action::Skipped),
        ("run-1", Action::Skipped),
        ("run-1", Action::Failed),
        ("run-2", Action::Failed),
        ("run-2", Action::Skipped),
    ];
    for (i, (run, action)) in actions.into_iter().enumerate() {
        let id = i.to_string();
        store.commit(&log_only(log(run, "r1", &id, action, t(0)))).await.unwrap();
    }
    // Another company's run that happens to have the same id.
    store.commit(&log_only(log("run-1", "r2", "9", Action::Created, t(0)))).await.unwrap();
    let summary = store.run_summary("r1", "run-1").await.unwrap();
    assert_eq!(summary, RunSummary { created: 3, updated: 1, skipped: 2, failed: 1 });
    assert_eq!(summary.to_string(), "created=3 updated=1 skipped=2 failed=1");
    assert_eq!(summary.total(), 7);
    assert_eq!(summary.count(Action::Skipped), 2);
    assert_eq!(
        store.run_summary("r1", "run-2").await.unwrap(),
        RunSummary { created: 0, updated: 0, skipped: 1, failed: 1 }
    );
    assert_eq!(
        store.run_summary("r2", "run-1").await.unwrap(),
        RunSummary { created: 1, updated: 0, skipped: 0, failed: 0 }
    );
    assert_eq!(store.run_summary("r1", "run-3").await.unwrap(), RunSummary::default());
}

async fn tokens_round_trip(store: &dyn Store) {
    assert!(store.load_token("r1").await.unwrap().is_none());

    store.save_token("r1", &token("refresh-1", Some("access-1"))).await.unwrap();
    store.save_token("r2", &token("refresh-2", None)).await.unwrap();
    let r1 = store.load_token("r1").await.unwrap().expect("r1 tokens");
    assert_eq!(r1.refresh_token.expose_secret(), "refresh-1");
    assert_eq!(r1.access_token.as_ref().map(|a| a.expose_secret()), Some("access-1"));
    assert_eq!(r1.access_expires_at, Some(t(3600)));
    let r2 = store.load_token("r2").await.unwrap().expect("r2 tokens");
    assert_eq!(r2.refresh_token.expose_secret(), "refresh-2");
    assert!(r2.access_token.is_none());
    assert_eq!(r2.access_expires_at, None);

    // A rotation replaces everything, including dropping the access token.
    store.save_token("r1", &token("refresh-1b", None)).await.unwrap();
    let r1 = store.load_token("r1").await.unwrap().expect("r1 tokens");
    assert_eq!(r1.refresh_token.expose_secret(), "refresh-1b");
    assert!(r1.access_token.is_none());
    assert_eq!(r1.access_expires_at, None);
}

async fn tokens_never_show_in_debug_output(store: &dyn Store) {
    let saved = token("refresh-SECRET", Some("access-SECRET"));
    store.save_token("r1", &saved).await.unwrap();
    let loaded = store.load_token("r1").await.unwrap().expect("tokens");
    for shown in [format!("{saved:?}"), format!("{loaded:?}"), format!("{store:?}")] {
        assert!(!shown.contains("SECRET"), "a secret leaked into {shown}");
    }
    assert!(format!("{loaded:?}").contains("[redacted]"));
}

// ---------------------------------------------------------------------------------------------
// MemoryStore only

#[tokio::test]
async fn memory_store_clones_share_state_across_a_restart() {
    let kept = MemoryStore::new();
    {
        let engine_side = kept.clone();
        engine_side.set_cursor("r1/Invoice", t(1)).await.unwrap();
        engine_side
            .commit(&Commit {
                log: log("run-1", "r1", "1", Action::Created, t(2)),
                ledger: Some(ledger("r1", EntityKind::Invoice, "1", LedgerState::Created)),
                cursor: Some(("r1/SalesReceipt".into(), t(3))),
            })
            .await
            .unwrap();
        engine_side.save_token("r1", &token("refresh", None)).await.unwrap();
    }
    let restarted = kept.clone();
    assert_eq!(restarted.cursor("r1/Invoice").await.unwrap(), Some(t(1)));
    assert_eq!(
        kept.cursors().into_iter().collect::<Vec<_>>(),
        [("r1/Invoice".to_owned(), t(1)), ("r1/SalesReceipt".to_owned(), t(3))]
    );
    assert_eq!(
        kept.ledger_entries(),
        [ledger("r1", EntityKind::Invoice, "1", LedgerState::Created)]
    );
    assert_eq!(kept.log_entries(), [log("run-1", "r1", "1", Action::Created, t(2))]);
    assert_eq!(kept.token_realms(), ["r1"]);
    assert_eq!(
        format!("{kept:?}"),
        "MemoryStore { cursors: 2, ledger_entries: 1, log_entries: 1, token_realms: 1 }"
    );
}

// ---------------------------------------------------------------------------------------------
// SqliteStore only

fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("state.db")
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("open the file directly")
}

fn pragma_i64(conn: &rusqlite::Connection, name: &str) -> i64 {
    conn.pragma_query_value(None, name, |r| r.get(0)).expect("pragma")
}

#[tokio::test]
async fn sqlite_reopening_the_file_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let entry = ledger("r1", EntityKind::Invoice, "1", LedgerState::Pending);
    let line = log("run-1", "r1", "1", Action::Created, t(2));
    {
        let store = SqliteStore::open(db_path(&dir)).unwrap();
        store.put_ledger_entry(&entry).await.unwrap();
        store
            .commit(&Commit {
                log: line.clone(),
                ledger: None,
                cursor: Some(("r1/Invoice".into(), t(1))),
            })
            .await
            .unwrap();
        store.save_token("r1", &token("refresh-1", Some("access-1"))).await.unwrap();
    }
    let store = SqliteStore::open(db_path(&dir)).unwrap();
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(t(1)));
    assert_eq!(store.ledger_entry(&entry.key).await.unwrap(), Some(entry.clone()));
    assert_eq!(store.pending_entries("r1").await.unwrap(), vec![entry]);
    assert_eq!(store.query_log(&LogQuery::default()).await.unwrap(), vec![line]);
    assert_eq!(store.run_summary("r1", "run-1").await.unwrap().created, 1);
    let tokens = store.load_token("r1").await.unwrap().expect("tokens survive");
    assert_eq!(tokens.refresh_token.expose_secret(), "refresh-1");
}

#[tokio::test]
async fn sqlite_migrations_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = SqliteStore::open(db_path(&dir)).unwrap();
    assert_eq!(first.applied_migrations(), [1]);
    first.set_cursor("c", t(1)).await.unwrap();
    drop(first);
    for _ in 0..2 {
        let again = SqliteStore::open(db_path(&dir)).unwrap();
        assert_eq!(again.applied_migrations(), [] as [u32; 0]);
        assert_eq!(again.settings().unwrap().schema_version, SqliteStore::SCHEMA_VERSION);
        assert_eq!(again.cursor("c").await.unwrap(), Some(t(1)));
    }
    let conn = raw(&db_path(&dir));
    assert_eq!(pragma_i64(&conn, "user_version"), 1);
    assert_eq!(pragma_i64(&conn, "application_id"), 0x5142_4F4F);
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables.sort();
    assert_eq!(tables, ["cursor", "ledger", "log", "token"]);
}

#[tokio::test]
async fn sqlite_has_an_index_for_each_query() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(db_path(&dir)).unwrap());
    let conn = raw(&db_path(&dir));
    let plan = |filter: &str| -> String {
        let sql = format!("EXPLAIN QUERY PLAN SELECT * FROM log WHERE {filter} ORDER BY id");
        let mut stmt = conn.prepare(&sql).unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
        rows.collect::<Result<Vec<_>, _>>().unwrap().join("; ")
    };
    for (filter, index) in [
        ("run_id = 'x'", "log_run_id"),
        ("qbo_id = 'x'", "log_qbo_id"),
        ("doc_number = 'x'", "log_doc_number"),
        ("order_number = 'x'", "log_order_number"),
        ("at >= 'a' AND at < 'b'", "log_at"),
        ("action = 'failed'", "log_action"),
    ] {
        let plan = plan(filter);
        assert!(plan.contains(index), "{filter} does not use {index}: {plan}");
    }
}

#[tokio::test]
async fn sqlite_file_runs_in_wal_mode_with_normal_sync() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(db_path(&dir)).unwrap();
    let settings = store.settings().unwrap();
    assert_eq!(settings.journal_mode, "wal");
    assert_eq!(settings.synchronous, "normal");
    assert_eq!(settings.busy_timeout, std::time::Duration::from_secs(5));
    // WAL is a property of the file: another connection sees it too.
    let mode: String =
        raw(&db_path(&dir)).pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    // A token save switches to FULL for itself only.
    store.save_token("r1", &token("refresh", None)).await.unwrap();
    assert_eq!(store.settings().unwrap().synchronous, "normal");
}

#[tokio::test]
async fn sqlite_options_set_full_sync_and_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        busy_timeout: std::time::Duration::from_millis(250),
        sync_every_commit: true,
    };
    let store = SqliteStore::open_with(db_path(&dir), options).unwrap();
    store.save_token("r1", &token("refresh", None)).await.unwrap();
    let settings = store.settings().unwrap();
    assert_eq!(settings.synchronous, "full");
    assert_eq!(settings.busy_timeout, std::time::Duration::from_millis(250));
}

#[cfg(unix)]
#[test]
fn sqlite_creates_its_file_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let _store = SqliteStore::open(db_path(&dir)).unwrap();
    let mode = std::fs::metadata(db_path(&dir)).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn sqlite_commit_failing_at_the_log_insert_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(db_path(&dir)).unwrap();
    let before = ledger("r1", EntityKind::Invoice, "1", LedgerState::Pending);
    store.put_ledger_entry(&before).await.unwrap();
    store.set_cursor("r1/Invoice", t(1)).await.unwrap();

    // Another connection makes the second of the three writes fail.
    raw(&db_path(&dir))
        .execute_batch(
            "CREATE TRIGGER fail_log BEFORE INSERT ON log \
             BEGIN SELECT RAISE(ABORT, 'simulated failure'); END;",
        )
        .unwrap();
    let commit = Commit {
        log: log("run-1", "r1", "1", Action::Created, t(2)),
        ledger: Some(LedgerEntry { state: LedgerState::Created, ..before.clone() }),
        cursor: Some(("r1/Invoice".into(), t(2))),
    };
    let err = store.commit(&commit).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    assert!(err.message().contains("nothing was written"), "{err}");
    assert!(err.message().contains("simulated failure"), "{err}");
    assert_eq!(store.ledger_entry(&before.key).await.unwrap(), Some(before.clone()));
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(t(1)));
    assert_eq!(store.query_log(&LogQuery::default()).await.unwrap(), vec![]);

    // Once the fault is gone the same commit goes through whole: no half-open transaction lingers.
    raw(&db_path(&dir)).execute_batch("DROP TRIGGER fail_log;").unwrap();
    store.commit(&commit).await.unwrap();
    assert_eq!(store.ledger_entry(&before.key).await.unwrap().unwrap().state, LedgerState::Created);
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(t(2)));
    assert_eq!(store.query_log(&LogQuery::default()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn sqlite_commit_failing_at_the_cursor_move_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(db_path(&dir)).unwrap();
    store.set_cursor("r1/Invoice", t(1)).await.unwrap();
    raw(&db_path(&dir))
        .execute_batch(
            "CREATE TRIGGER fail_cursor BEFORE UPDATE ON cursor \
             BEGIN SELECT RAISE(ABORT, 'simulated failure'); END;",
        )
        .unwrap();
    let entry = ledger("r1", EntityKind::Invoice, "1", LedgerState::Created);
    let err = store
        .commit(&Commit {
            log: log("run-1", "r1", "1", Action::Created, t(2)),
            ledger: Some(entry.clone()),
            cursor: Some(("r1/Invoice".into(), t(2))),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    assert_eq!(store.ledger_entry(&entry.key).await.unwrap(), None);
    assert_eq!(store.query_log(&LogQuery::default()).await.unwrap(), vec![]);
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(t(1)));
}

#[tokio::test]
async fn sqlite_refuses_an_instant_it_cannot_order_and_writes_nothing() {
    let store = SqliteStore::open_in_memory().unwrap();
    let far = DateTime::<Utc>::MAX_UTC;
    let err = store
        .commit(&Commit {
            log: log("run-1", "r1", "1", Action::Created, far),
            ledger: Some(ledger("r1", EntityKind::Invoice, "1", LedgerState::Created)),
            cursor: Some(("c".into(), t(1))),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    assert!(err.message().contains("years 1 to 9999"), "{err}");
    assert_eq!(store.cursor("c").await.unwrap(), None);
    assert!(store.set_cursor("c", far).await.is_err());
}

#[tokio::test]
async fn sqlite_token_errors_never_carry_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(db_path(&dir)).unwrap();
    raw(&db_path(&dir))
        .execute_batch(
            "CREATE TRIGGER fail_token BEFORE INSERT ON token \
             BEGIN SELECT RAISE(ABORT, 'simulated failure'); END;",
        )
        .unwrap();
    let err = store.save_token("r1", &token("refresh-SECRET", Some("access-SECRET"))).await;
    let err = err.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    assert!(err.message().contains("could not save the tokens of realm r1"), "{err}");
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("SECRET"), "a secret leaked into {shown}");
    }
}

#[test]
fn sqlite_refuses_a_file_that_is_not_a_database_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let text = "These are my notes, not a database. ".repeat(40);
    std::fs::write(&path, &text).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    assert!(err.message().contains("is not a SQLite database"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn sqlite_refuses_another_programs_database_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    raw(&path)
        .execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);")
        .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    assert!(err.message().contains("another program"), "{err}");
    let conn = raw(&path);
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "delete", "the foreign file was switched to WAL");
    assert_eq!(pragma_i64(&conn, "user_version"), 0);
}

#[test]
fn sqlite_refuses_a_database_with_another_application_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    raw(&path).execute_batch("PRAGMA application_id = 1234;").unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    assert!(err.message().contains("application id 0x000004d2"), "{err}");
}

#[test]
fn sqlite_refuses_a_schema_newer_than_the_code() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(db_path(&dir)).unwrap());
    raw(&db_path(&dir)).execute_batch("PRAGMA user_version = 99;").unwrap();
    let err = SqliteStore::open(db_path(&dir)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    assert!(err.message().contains("schema version 99, newer than this code knows (1)"), "{err}");
}

#[tokio::test]
async fn sqlite_reports_a_corrupt_row_as_a_store_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(db_path(&dir)).unwrap();
    let entry = ledger("r1", EntityKind::Invoice, "1", LedgerState::Pending);
    store.put_ledger_entry(&entry).await.unwrap();
    store.commit(&log_only(log("run-1", "r1", "1", Action::Created, t(1)))).await.unwrap();
    let conn = raw(&db_path(&dir));
    conn.execute_batch(
        "UPDATE ledger SET updated_at = 'yesterday'; UPDATE log SET last_updated = 'soon';",
    )
    .unwrap();

    let err = store.ledger_entry(&entry.key).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    assert!(err.message().contains("ledger.updated_at"), "{err}");
    let err = store.pending_entries("r1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    let err = store.query_log(&LogQuery::default()).await.unwrap_err();
    assert!(err.message().contains("log.last_updated"), "{err}");
}

#[test]
fn sqlite_open_fails_clearly_when_the_directory_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("state.db");
    let err = SqliteStore::open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    assert!(err.message().contains("missing"), "{err}");
}

#[tokio::test]
async fn sqlite_clones_share_one_connection() {
    let store = SqliteStore::open_in_memory().unwrap();
    let clone = store.clone();
    clone.set_cursor("c", t(7)).await.unwrap();
    assert_eq!(store.cursor("c").await.unwrap(), Some(t(7)));
    assert_eq!(store.path(), None);
    assert_eq!(store.settings().unwrap().journal_mode, "memory");
}
