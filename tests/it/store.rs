//! The behaviour every `Store` must have, the public conformance suite
//! (`qbo_ordoro::store::conformance`), run against `MemoryStore`, a file-backed `SqliteStore`, an
//! in-memory `SqliteStore` and a `PostgresStore` (on a throwaway cluster the tests start:
//! `support::postgres`); then what is SQLite's own: persistence across restarts, migrations,
//! foreign files, WAL, commits that fail half way, and state files written by earlier versions;
//! and PostgreSQL's own (`postgres_store_*`): migrations, persistence across reconnects, secrets.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use qbo_ordoro::model::ordoro::OrdoroAddress;
use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::store::conformance::{instant, ledger_entry, log_entry, log_only, stored_token};
use qbo_ordoro::store::{
    Action, Commit, CompanyCountry, LedgerChange, LedgerEntry, LedgerState, LogCursor, LogEntry,
    LogQuery, MemoryStore, SentOrder, SqliteOptions, SqliteStore, Store, TokenStore, conformance,
};
use qbo_ordoro::{ErrorKind, Reason};
use secrecy::ExposeSecret;
use tempfile::TempDir;

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

/// Runs each check of the public conformance suite (`qbo_ordoro::store::conformance`) against
/// every store, one test per check and store, each on a new store.
macro_rules! store_suite {
    ($($check:ident),* $(,)?) => {
        mod memory_store {
            $( #[tokio::test] async fn $check() {
                let fixture = super::memory();
                qbo_ordoro::store::conformance::$check(fixture.store.as_ref()).await;
            } )*
        }
        mod sqlite_file_store {
            $( #[tokio::test] async fn $check() {
                let fixture = super::sqlite_file();
                qbo_ordoro::store::conformance::$check(fixture.store.as_ref()).await;
            } )*
        }
        mod sqlite_in_memory_store {
            $( #[tokio::test] async fn $check() {
                let fixture = super::sqlite_memory();
                qbo_ordoro::store::conformance::$check(fixture.store.as_ref()).await;
            } )*
        }
        mod postgres_store {
            $( #[tokio::test] async fn $check() {
                let store = crate::support::postgres::store().await;
                qbo_ordoro::store::conformance::$check(&store).await;
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
    commit_removes_a_ledger_entry,
    removing_an_absent_ledger_entry_is_not_an_error,
    log_entries_round_trip_every_field,
    log_query_filters_each_field,
    log_query_date_range_is_half_open,
    log_query_limit_takes_the_first_matches,
    log_query_results_keep_the_written_order,
    log_query_filters_entity_reason_and_text,
    log_text_finds_the_customer,
    log_pages_run_newest_first_in_time_then_written_order,
    log_pages_neither_skip_nor_repeat_while_entries_are_added,
    log_pages_run_oldest_first_and_back,
    log_pages_filter_like_queries,
    log_cursors_round_trip_through_their_text,
    run_summary_counts_by_action,
    tokens_round_trip,
    tokens_never_show_in_debug_output,
    every_reason_reads_back,
    tokens_keep_their_expiries_and_grant,
    connected_realms_are_those_with_tokens,
    forgetting_a_token_disconnects_the_company_and_keeps_its_state,
    a_run_starts_once_per_company,
    company_country_is_kept_per_realm,
    sent_orders_are_kept_per_transaction,
    items_are_cached_per_realm_newest_first,
    sku_mappings_are_kept_per_realm_and_key,
    retry_entries_are_kept_per_realm,
    processed_events_are_kept_per_realm_until_forgotten,
    company_settings_are_kept_per_realm,
    unusable_company_settings_are_refused,
);

/// `run_all`, the entry point a host calls, runs the whole suite (here on each store kind).
#[tokio::test]
async fn the_whole_conformance_suite_passes_on_every_store() {
    conformance::run_all(MemoryStore::new).await;
    conformance::run_all(|| SqliteStore::open_in_memory().expect("open")).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut n = 0;
    conformance::run_all(|| {
        n += 1;
        SqliteStore::open(dir.path().join(format!("state-{n}.db"))).expect("open SQLite store")
    })
    .await;
    conformance::run_all_async(crate::support::postgres::store).await;
}

// ---------------------------------------------------------------------------------------------
// MemoryStore only

#[tokio::test]
async fn memory_store_clones_share_state_across_a_restart() {
    let kept = MemoryStore::new();
    {
        let engine_side = kept.clone();
        engine_side.set_cursor("r1/Invoice", instant(1)).await.unwrap();
        engine_side
            .commit(&Commit {
                log: log_entry("run-1", "r1", "1", Action::Created, instant(2)),
                ledger: Some(LedgerChange::Put(ledger_entry(
                    "r1",
                    EntityKind::Invoice,
                    "1",
                    LedgerState::Created,
                ))),
                cursor: Some(("r1/SalesReceipt".into(), instant(3))),
            })
            .await
            .unwrap();
        engine_side.save_token("r1", &stored_token("refresh", None)).await.unwrap();
    }
    let restarted = kept.clone();
    assert_eq!(restarted.cursor("r1/Invoice").await.unwrap(), Some(instant(1)));
    assert_eq!(
        kept.cursors().into_iter().collect::<Vec<_>>(),
        [("r1/Invoice".to_owned(), instant(1)), ("r1/SalesReceipt".to_owned(), instant(3))]
    );
    assert_eq!(
        kept.ledger_entries(),
        [ledger_entry("r1", EntityKind::Invoice, "1", LedgerState::Created)]
    );
    assert_eq!(kept.log_entries(), [log_entry("run-1", "r1", "1", Action::Created, instant(2))]);
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
    let entry = ledger_entry("r1", EntityKind::Invoice, "1", LedgerState::Pending);
    let line = log_entry("run-1", "r1", "1", Action::Created, instant(2));
    {
        let store = SqliteStore::open(db_path(&dir)).unwrap();
        store.put_ledger_entry(&entry).await.unwrap();
        store
            .commit(&Commit {
                log: line.clone(),
                ledger: None,
                cursor: Some(("r1/Invoice".into(), instant(1))),
            })
            .await
            .unwrap();
        store.save_token("r1", &stored_token("refresh-1", Some("access-1"))).await.unwrap();
    }
    let store = SqliteStore::open(db_path(&dir)).unwrap();
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(instant(1)));
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
    assert_eq!(first.applied_migrations(), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    first.set_cursor("c", instant(1)).await.unwrap();
    drop(first);
    for _ in 0..2 {
        let again = SqliteStore::open(db_path(&dir)).unwrap();
        assert_eq!(again.applied_migrations(), [] as [u32; 0]);
        assert_eq!(again.settings().unwrap().schema_version, SqliteStore::SCHEMA_VERSION);
        assert_eq!(again.cursor("c").await.unwrap(), Some(instant(1)));
    }
    let conn = raw(&db_path(&dir));
    assert_eq!(pragma_i64(&conn, "user_version"), 9);
    assert_eq!(pragma_i64(&conn, "application_id"), 0x5142_4F4F);
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables.sort();
    assert_eq!(
        tables,
        [
            "company",
            "company_settings",
            "cursor",
            "item",
            "ledger",
            "log",
            "processed_event",
            "retry",
            "run",
            "sent_order",
            "sku_mapping",
            "token"
        ]
    );
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

/// The first page of each filtered view of the log, and a page from a cursor, newest or oldest
/// first, is a walk down one index: no sort of every match (`TEMP B-TREE`), which would cost in
/// proportion to the log.
#[tokio::test]
async fn sqlite_log_pages_walk_an_index_for_each_view() {
    let store = SqliteStore::open_in_memory().unwrap();
    let realm = Some("9130".to_owned());
    let month = (Some(instant(0)), Some(instant(30 * 86_400)));
    let cursor = Some(LogCursor::new(instant(100), 42));
    let text = Some("1042".to_owned());
    let views = [
        (LogQuery { realm: realm.clone(), ..Default::default() }, "log_realm_at"),
        (
            LogQuery { realm: realm.clone(), from: month.0, to: month.1, ..Default::default() },
            "log_realm_at",
        ),
        (
            LogQuery { realm: realm.clone(), action: Some(Action::Failed), ..Default::default() },
            "log_realm_action",
        ),
        (
            LogQuery {
                realm: realm.clone(),
                action: Some(Action::Skipped),
                from: month.0,
                to: month.1,
                ..Default::default()
            },
            "log_realm_action",
        ),
        (
            LogQuery { realm: realm.clone(), reason: Some(Reason::Voided), ..Default::default() },
            "log_realm_reason",
        ),
        (
            LogQuery {
                realm: realm.clone(),
                entity: Some(EntityKind::SalesReceipt),
                ..Default::default()
            },
            "log_realm_entity",
        ),
        (
            LogQuery {
                realm: realm.clone(),
                action: Some(Action::Failed),
                before: cursor,
                ..Default::default()
            },
            "log_realm_action",
        ),
        (
            LogQuery {
                realm: realm.clone(),
                action: Some(Action::Failed),
                after: cursor,
                ..Default::default()
            },
            "log_realm_action",
        ),
        (LogQuery { action: Some(Action::Failed), ..Default::default() }, "log_action"),
        (LogQuery { reason: Some(Reason::UnknownSku), ..Default::default() }, "log_reason"),
        (LogQuery { ..Default::default() }, "log_at"),
        (LogQuery { from: month.0, to: month.1, ..Default::default() }, "log_at"),
    ];
    for (view, index) in views {
        for newest_first in [true, false] {
            let view = LogQuery { newest_first, ..view.clone() };
            let plan = store.log_page_plan(&view).unwrap();
            assert!(plan.contains(index), "{view:?} does not use {index}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{view:?} sorts every match: {plan}");
        }
    }
    // Free text: each of the four columns by its own index, within a company or across them.
    // The matches of one value are few, so sorting them costs nothing.
    for realm in [realm.clone(), None] {
        let view = LogQuery { realm, text: text.clone(), newest_first: true, ..Default::default() };
        let plan = store.log_page_plan(&view).unwrap();
        let indexes = [
            "log_doc_number_text",
            "log_qbo_id_text",
            "log_order_number_text",
            "log_customer_text",
        ];
        for index in indexes {
            assert!(plan.contains(index), "{view:?} does not use {index}: {plan}");
        }
        assert!(!plan.contains("SCAN log"), "{view:?} scans the log: {plan}");
    }
    // The exact fields keep their own indexes within a company too (the engine's run-id check).
    let run = LogQuery { realm: realm.clone(), run_id: Some("run-1".into()), ..Default::default() };
    let plan = store.log_page_plan(&run).unwrap();
    assert!(plan.contains("log_run_id"), "{plan}");
}

/// The CSV export of a filtered view: a header, one row per entry with every field, codes as
/// their strings, the fix sentence; commas, quotes and line breaks read back unchanged through
/// `csv::Reader`; a value a spreadsheet would run as a formula is made inert.
#[tokio::test]
async fn log_csv_writes_every_field_of_the_filtered_rows_and_reads_back() {
    use qbo_ordoro::store::{FailureInfo, LOG_CSV_HEADER, log_csv};
    let store = SqliteStore::open_in_memory().unwrap();
    let tricky = "Ordoro said: \"street1, street2\" are\nboth \r\nrequired, \"really\"";
    let failed = LogEntry {
        doc_number: Some("INV,1\"042\"".into()),
        customer: Some("@Smith, \"Jo\"".into()),
        detail: Some(tricky.into()),
        reason: Some(Reason::Rejected),
        order_number: Some("=cmd|' /C calc'!A0".into()),
        sync_token: Some("3".into()),
        failure: Some(FailureInfo {
            service: Some("ordoro".into()),
            status: Some(400),
            code: Some("street1".into()),
            message: "line one\nline, two".into(),
            request_id: Some("req-7".into()),
        }),
        dry_run: true,
        ..log_entry("run-1", "9130", "177", Action::Failed, instant(5))
    };
    let created = log_entry("run-1", "9130", "178", Action::Created, instant(6));
    for entry in [&failed, &created] {
        store.commit(&log_only(entry.clone())).await.unwrap();
    }
    let view = LogQuery { action: Some(Action::Failed), ..Default::default() };
    let mut out = Vec::new();
    log_csv(&store.query_log(&view).await.unwrap(), &mut out).unwrap();

    let mut reader = csv::Reader::from_reader(out.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header, LOG_CSV_HEADER);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "only the filtered rows");
    let field = |name: &str| rows[0].get(header.iter().position(|h| h == name).unwrap()).unwrap();
    assert_eq!(field("detail"), tricky);
    assert_eq!(field("doc_number"), "INV,1\"042\"");
    assert_eq!(field("customer"), "'@Smith, \"Jo\"", "a formula is made inert");
    assert_eq!(field("failure_message"), "line one\nline, two");
    assert_eq!(field("order_number"), "'=cmd|' /C calc'!A0", "a formula is made inert");
    assert_eq!(field("action"), "failed");
    assert_eq!(field("reason"), "rejected");
    assert_eq!(field("how_to_fix"), Reason::Rejected.how_to_fix());
    assert_eq!(field("entity"), "Invoice");
    assert_eq!(field("at").parse::<DateTime<Utc>>().unwrap(), failed.at);
    assert_eq!(field("realm"), "9130");
    assert_eq!(field("run_id"), "run-1");
    assert_eq!(field("qbo_id"), "177");
    assert_eq!(field("sync_token"), "3");
    assert_eq!(field("last_updated"), "");
    assert_eq!(field("failure_service"), "ordoro");
    assert_eq!(field("failure_status"), "400");
    assert_eq!(field("failure_code"), "street1");
    assert_eq!(field("failure_request_id"), "req-7");
    assert_eq!(field("dry_run"), "true");

    // No entries: the header alone.
    let mut out = Vec::new();
    log_csv(&[], &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
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
    store.save_token("r1", &stored_token("refresh", None)).await.unwrap();
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
    store.save_token("r1", &stored_token("refresh", None)).await.unwrap();
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
    let before = ledger_entry("r1", EntityKind::Invoice, "1", LedgerState::Pending);
    store.put_ledger_entry(&before).await.unwrap();
    store.set_cursor("r1/Invoice", instant(1)).await.unwrap();

    // Another connection makes the second of the three writes fail.
    raw(&db_path(&dir))
        .execute_batch(
            "CREATE TRIGGER fail_log BEFORE INSERT ON log \
             BEGIN SELECT RAISE(ABORT, 'simulated failure'); END;",
        )
        .unwrap();
    let commit = Commit {
        log: log_entry("run-1", "r1", "1", Action::Created, instant(2)),
        ledger: Some(LedgerChange::Put(LedgerEntry {
            state: LedgerState::Created,
            ..before.clone()
        })),
        cursor: Some(("r1/Invoice".into(), instant(2))),
    };
    let err = store.commit(&commit).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    assert!(err.message().contains("nothing was written"), "{err}");
    assert!(err.message().contains("simulated failure"), "{err}");
    assert_eq!(store.ledger_entry(&before.key).await.unwrap(), Some(before.clone()));
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(instant(1)));
    assert_eq!(store.query_log(&LogQuery::default()).await.unwrap(), vec![]);

    // Once the fault is gone the same commit goes through whole: no half-open transaction lingers.
    raw(&db_path(&dir)).execute_batch("DROP TRIGGER fail_log;").unwrap();
    store.commit(&commit).await.unwrap();
    assert_eq!(store.ledger_entry(&before.key).await.unwrap().unwrap().state, LedgerState::Created);
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(instant(2)));
    assert_eq!(store.query_log(&LogQuery::default()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn sqlite_commit_failing_at_the_cursor_move_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(db_path(&dir)).unwrap();
    store.set_cursor("r1/Invoice", instant(1)).await.unwrap();
    raw(&db_path(&dir))
        .execute_batch(
            "CREATE TRIGGER fail_cursor BEFORE UPDATE ON cursor \
             BEGIN SELECT RAISE(ABORT, 'simulated failure'); END;",
        )
        .unwrap();
    let entry = ledger_entry("r1", EntityKind::Invoice, "1", LedgerState::Created);
    let err = store
        .commit(&Commit {
            log: log_entry("run-1", "r1", "1", Action::Created, instant(2)),
            ledger: Some(LedgerChange::Put(entry.clone())),
            cursor: Some(("r1/Invoice".into(), instant(2))),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    assert_eq!(store.ledger_entry(&entry.key).await.unwrap(), None);
    assert_eq!(store.query_log(&LogQuery::default()).await.unwrap(), vec![]);
    assert_eq!(store.cursor("r1/Invoice").await.unwrap(), Some(instant(1)));
}

#[tokio::test]
async fn sqlite_refuses_an_instant_it_cannot_order_and_writes_nothing() {
    let store = SqliteStore::open_in_memory().unwrap();
    let far = DateTime::<Utc>::MAX_UTC;
    let err = store
        .commit(&Commit {
            log: log_entry("run-1", "r1", "1", Action::Created, far),
            ledger: Some(LedgerChange::Put(ledger_entry(
                "r1",
                EntityKind::Invoice,
                "1",
                LedgerState::Created,
            ))),
            cursor: Some(("c".into(), instant(1))),
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
    let err = store.save_token("r1", &stored_token("refresh-SECRET", Some("access-SECRET"))).await;
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
    assert!(err.message().contains("schema version 99, newer than this code knows (9)"), "{err}");
}

#[tokio::test]
async fn sqlite_reports_a_corrupt_row_as_a_store_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(db_path(&dir)).unwrap();
    let entry = ledger_entry("r1", EntityKind::Invoice, "1", LedgerState::Pending);
    store.put_ledger_entry(&entry).await.unwrap();
    store
        .commit(&log_only(log_entry("run-1", "r1", "1", Action::Created, instant(1))))
        .await
        .unwrap();
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
    clone.set_cursor("c", instant(7)).await.unwrap();
    assert_eq!(store.cursor("c").await.unwrap(), Some(instant(7)));
    assert_eq!(store.path(), None);
    assert_eq!(store.settings().unwrap().journal_mode, "memory");
}

/// A state file written by the version before the reason codes became `Reason` (commit 2903e39:
/// two runs of the `sync` example against the simulators, and an entry for every code that
/// version wrote) reads back whole: every entry, with the very string each reason was stored as.
#[tokio::test]
async fn sqlite_reads_back_a_state_file_written_before_reasons_were_typed() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = db_path(&dir);
    let fixture =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/state/written-by-2903e39.sqlite3");
    std::fs::copy(fixture, &path).expect("copy the old state file");
    let stored: Vec<Option<String>> = {
        let conn = raw(&path);
        let mut stmt = conn.prepare("SELECT reason FROM log ORDER BY id").unwrap();
        stmt.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
    };

    let store = SqliteStore::open(&path).expect("the old file opens");
    assert_eq!(
        store.applied_migrations(),
        [2, 3, 4, 5, 6, 7, 8, 9],
        "version 1 is migrated to the latest on open"
    );
    let entries = store.query_log(&LogQuery::default()).await.expect("every entry reads back");
    assert_eq!(entries.len(), 97);
    assert!(entries.iter().all(|e| e.customer.is_none()), "entries written before have none");
    let read: Vec<Option<&str>> = entries.iter().map(|e| e.reason.map(Reason::as_str)).collect();
    let stored: Vec<Option<&str>> = stored.iter().map(Option::as_deref).collect();
    assert_eq!(read, stored);
    let every_code: std::collections::BTreeSet<&str> = read.iter().flatten().copied().collect();
    assert_eq!(every_code.len(), 34, "{every_code:?}");
    let created = entries.iter().filter(|e| e.action == Action::Created).count();
    assert_eq!(created, 38);

    let pending = store.pending_entries("9130350000000001").await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].order_id, "QBO-INV-8001");
    let summary = store.run_summary("9130350000000001", "run-20261201T170000Z-1").await.unwrap();
    assert_eq!(summary.total(), 37);
    // The migrated file takes the new state: a token's expiries and grant, and run starts.
    let token = qbo_ordoro::store::StoredToken::new("refresh".to_string().into());
    store.save_token("9130350000000001", &token).await.unwrap();
    let read = store.load_token("9130350000000001").await.unwrap().expect("the token");
    assert_eq!(read.grant_fingerprint, token.grant_fingerprint);
    assert!(store.start_run("9130350000000001", "run-20261201T170000Z-9").await.unwrap());
    // The state added since (the company's country) starts empty and is written beside it.
    assert_eq!(store.company_country("9130350000000001").await.unwrap(), None);
    assert_eq!(store.company_settings("9130350000000001").await.unwrap(), None);
    let au = CompanyCountry { country: Some("AU".into()), read_at: instant(5) };
    store.save_company_country("9130350000000001", &au).await.unwrap();
    // Its orders have no record of what was sent (so the engine never erases a field of
    // theirs) until an update writes one.
    let key = pending[0].key.clone();
    assert_eq!(store.sent_order(&key).await.unwrap(), None);
    let sent = SentOrder {
        order_number: "1-QBO-INV-8001".into(),
        shipping_address: OrdoroAddress { street2: Some("Suite 5".into()), ..Default::default() },
        billing_address: OrdoroAddress::default(),
        lines: Vec::new(),
        sent_at: instant(6),
    };
    store.save_sent_order(&key, &sent).await.unwrap();
    drop(store);
    let reopened = SqliteStore::open(&path).expect("the migrated file opens");
    assert!(reopened.applied_migrations().is_empty());
    assert_eq!(reopened.company_country("9130350000000001").await.unwrap(), Some(au));
    assert_eq!(reopened.sent_order(&key).await.unwrap(), Some(sent));
    assert_eq!(reopened.query_log(&LogQuery::default()).await.unwrap().len(), 97);
}

// ---------------------------------------------------------------------------------------------
// PostgresStore only (on the throwaway cluster of `support::postgres`)

mod postgres_own {
    use qbo_ordoro::store::conformance::{instant, ledger_entry, log_entry, stored_token};
    use qbo_ordoro::store::{
        Action, Commit, LedgerChange, LedgerState, LogQuery, Store, TokenStore,
    };
    use qbo_ordoro::{ErrorKind, PostgresStore, model::qbo::EntityKind};
    use secrecy::ExposeSecret;

    use crate::support::postgres::cluster;

    /// A new database is migrated once, to the current version; the state written survives the
    /// store being dropped and opened again, and the second open applies nothing.
    #[tokio::test]
    async fn postgres_store_migrates_once_and_keeps_state_across_reconnects() {
        let config = cluster().new_database().await;
        let store = PostgresStore::connect(&config, 2).await.expect("open");
        assert_eq!(store.applied_migrations(), &[1, 2]);
        assert_eq!(store.schema_version().await.unwrap(), PostgresStore::SCHEMA_VERSION);
        store.save_token("r1", &stored_token("refresh-1", None)).await.unwrap();
        let entry = ledger_entry("r1", EntityKind::Invoice, "7", LedgerState::Created);
        let commit = Commit {
            log: log_entry("run-1", "r1", "7", Action::Created, instant(400)),
            ledger: Some(LedgerChange::Put(entry.clone())),
            cursor: Some(("r1/Invoice".to_owned(), instant(500))),
        };
        store.commit(&commit).await.unwrap();
        drop(store);

        let reopened = PostgresStore::connect(&config, 2).await.expect("open again");
        assert!(reopened.applied_migrations().is_empty());
        let token = reopened.load_token("r1").await.unwrap().expect("token kept");
        assert_eq!(token.refresh_token.expose_secret(), "refresh-1");
        assert_eq!(reopened.ledger_entry(&entry.key).await.unwrap(), Some(entry));
        assert_eq!(reopened.cursor("r1/Invoice").await.unwrap(), Some(instant(500)));
        assert_eq!(reopened.query_log(&LogQuery::default()).await.unwrap(), vec![commit.log]);
    }

    /// Several processes starting on a new database at once migrate it once (the advisory lock),
    /// and every one of them opens.
    #[tokio::test]
    async fn postgres_stores_opening_a_new_database_at_once_migrate_it_once() {
        let config = cluster().new_database().await;
        let open = || PostgresStore::connect(&config, 1);
        let (a, b, c, d) = tokio::join!(open(), open(), open(), open());
        let applied: Vec<u32> = [a, b, c, d]
            .into_iter()
            .flat_map(|s| s.expect("every open succeeds").applied_migrations().to_vec())
            .collect();
        assert_eq!(applied, vec![1, 2]);
    }

    /// A database migrated by newer code is refused, not altered.
    #[tokio::test]
    async fn postgres_store_refuses_a_schema_newer_than_it_knows() {
        let config = cluster().new_database().await;
        let store = PostgresStore::connect(&config, 1).await.expect("open");
        let client = store.pool().get().await.unwrap();
        client.execute("INSERT INTO schema_version (version) VALUES (99)", &[]).await.unwrap();
        drop(client);
        let err = PostgresStore::connect(&config, 1).await.expect_err("newer schema refused");
        assert_eq!(err.kind(), ErrorKind::Store);
        assert!(err.to_string().contains("newer than this code knows"), "{err}");
        assert_eq!(store.schema_version().await.unwrap(), 99);
    }

    /// The connection string's password reaches neither an error nor the store's Debug output.
    #[tokio::test]
    async fn postgres_store_never_shows_the_password() {
        let secret = "hunter2-pg-secret";
        let bad = format!("host=/nonexistent-dir user=postgres password={secret} dbname=x");
        let err = PostgresStore::connect(&bad, 1).await.expect_err("no server there");
        assert_eq!(err.kind(), ErrorKind::Store);
        assert!(!format!("{err} {err:?}").contains(secret), "{err:?}");
        let unreadable = format!("host='unclosed password={secret}");
        let err = PostgresStore::connect(&unreadable, 1).await.expect_err("does not parse");
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(!format!("{err} {err:?}").contains(secret), "{err:?}");

        let config = format!("{} password={secret}", cluster().new_database().await);
        let store = PostgresStore::connect(&config, 1).await.expect("trust ignores the password");
        assert!(!format!("{store:?}").contains(secret));
    }
}
