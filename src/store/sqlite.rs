//! [`SqliteStore`]: the engine's state in one SQLite file (WAL mode, versioned schema), so that a
//! sync survives restarts and crashes and its transaction log can be searched.

use super::stored_time::{bound_text, parse_utc, utc_text};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use rusqlite::types::{Type, Value};
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior,
    params, params_from_iter,
};
use secrecy::{ExposeSecret, SecretString};

use super::{
    Action, Commit, CompanyCountry, CompanySettings, FailureInfo, LedgerChange, LedgerEntry,
    LedgerKey, LedgerState, LogCursor, LogEntry, LogPage, LogQuery, RetryEntry, RunSummary,
    SentOrder, Store, StoredToken, TokenStore,
};
use crate::mapping::{SkuKey, SkuMapping};
use crate::model::qbo::{EntityKind, QboItem};
use crate::{Error, Reason, Result};

/// Marks a SQLite file as ours (`PRAGMA application_id`, the bytes `QBOO`), so that a file of
/// another program is refused instead of being altered.
const APPLICATION_ID: i32 = 0x5142_4F4F;

/// One step of the schema. Each runs once, in its own transaction with the `user_version` bump.
struct Migration {
    version: u32,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, sql: MIGRATION_1 },
    Migration { version: 2, sql: MIGRATION_2 },
    Migration { version: 3, sql: MIGRATION_3 },
    Migration { version: 4, sql: MIGRATION_4 },
    Migration { version: 5, sql: MIGRATION_5 },
    Migration { version: 6, sql: MIGRATION_6 },
    Migration { version: 7, sql: MIGRATION_7 },
    Migration { version: 8, sql: MIGRATION_8 },
    Migration { version: 9, sql: MIGRATION_9 },
];

/// Timestamps are RFC 3339 text in UTC with exactly nine fractional digits
/// (`2024-05-01T17:03:12.000000000Z`): readable in the `sqlite3` shell, exact to the nanosecond,
/// and of fixed width, so comparing the text compares the instants (the log's date-range index
/// relies on it). `log.last_updated` keeps QBO's own offset instead, as it was seen.
const MIGRATION_1: &str = "
CREATE TABLE cursor (
    name TEXT PRIMARY KEY NOT NULL,
    at   TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE ledger (
    realm        TEXT NOT NULL,
    entity       TEXT NOT NULL CHECK (entity IN ('Invoice', 'SalesReceipt')),
    qbo_id       TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    order_number TEXT,
    sync_token   TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'created', 'cancelled')),
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (realm, entity, qbo_id)
) WITHOUT ROWID;
CREATE INDEX ledger_pending ON ledger (realm) WHERE state = 'pending';

CREATE TABLE token (
    realm             TEXT PRIMARY KEY NOT NULL,
    refresh_token     TEXT NOT NULL,
    access_token      TEXT,
    access_expires_at TEXT
) WITHOUT ROWID;

CREATE TABLE log (
    id                 INTEGER PRIMARY KEY,
    run_id             TEXT NOT NULL,
    at                 TEXT NOT NULL,
    realm              TEXT NOT NULL,
    entity             TEXT NOT NULL CHECK (entity IN ('Invoice', 'SalesReceipt')),
    qbo_id             TEXT NOT NULL,
    doc_number         TEXT,
    sync_token         TEXT,
    last_updated       TEXT,
    action             TEXT NOT NULL CHECK (action IN ('created', 'updated', 'skipped', 'failed')),
    reason             TEXT,
    detail             TEXT,
    order_number       TEXT,
    failure_service    TEXT,
    failure_status     INTEGER CHECK (failure_status BETWEEN 0 AND 65535),
    failure_code       TEXT,
    failure_message    TEXT,
    failure_request_id TEXT,
    dry_run            INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
    CHECK (failure_message IS NOT NULL OR (failure_service IS NULL AND failure_status IS NULL
           AND failure_code IS NULL AND failure_request_id IS NULL))
);
CREATE INDEX log_run_id ON log (run_id, action);
CREATE INDEX log_qbo_id ON log (qbo_id);
CREATE INDEX log_doc_number ON log (doc_number);
CREATE INDEX log_order_number ON log (order_number);
CREATE INDEX log_at ON log (at);
CREATE INDEX log_action ON log (action);
";

/// Version 2: the refresh token's expiries and its grant's fingerprint beside the tokens (NULL in
/// rows written before), and the runs started, so that run ids stay unique even for runs that
/// log nothing.
const MIGRATION_2: &str = "
ALTER TABLE token ADD COLUMN refresh_expires_at TEXT;
ALTER TABLE token ADD COLUMN refresh_hard_expires_at TEXT;
ALTER TABLE token ADD COLUMN grant_fingerprint TEXT;

CREATE TABLE run (
    realm  TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (realm, run_id)
) WITHOUT ROWID;
";

/// What the engine keeps of each QBO company: its country as last read from CompanyInfo (an
/// ISO alpha-2 code, NULL when QBO named none) and when. A table of its own, so files written
/// before it read on unchanged (version 3).
const MIGRATION_3: &str = "
CREATE TABLE company (
    realm           TEXT PRIMARY KEY NOT NULL,
    country         TEXT CHECK (country IS NULL OR length(country) = 2),
    country_read_at TEXT NOT NULL
) WITHOUT ROWID;
";

/// What the sync last sent to each transaction's order (`Store::sent_order`): the order number
/// and, as JSON, the two addresses (every field, `null` where QBO had no value) and the lines'
/// source ids and SKUs. A table of its own, so that ledger entries written before it read on
/// with no record, which makes the engine never erase a field of theirs (version 4).
const MIGRATION_4: &str = "
CREATE TABLE sent_order (
    realm            TEXT NOT NULL,
    entity           TEXT NOT NULL CHECK (entity IN ('Invoice', 'SalesReceipt')),
    qbo_id           TEXT NOT NULL,
    order_number     TEXT NOT NULL,
    shipping_address TEXT NOT NULL CHECK (json_valid(shipping_address)),
    billing_address  TEXT NOT NULL CHECK (json_valid(billing_address)),
    lines            TEXT NOT NULL CHECK (json_valid(lines)),
    sent_at          TEXT NOT NULL,
    PRIMARY KEY (realm, entity, qbo_id)
) WITHOUT ROWID;
";

/// What the SKUs need (version 5): the cache of QBO items (each as QBO's JSON, by company and
/// id, with its SyncToken so that an older read never replaces a newer one), the SKU mapping
/// table (a QBO item id or name to an Ordoro SKU), and the retry set (sales that failed for a
/// reason a setting can fix, read again at the start of each run). Tables of their own, so
/// files written before read on unchanged.
const MIGRATION_5: &str = "
CREATE TABLE item (
    realm      TEXT NOT NULL,
    id         TEXT NOT NULL,
    sync_token TEXT,
    doc        TEXT NOT NULL,
    PRIMARY KEY (realm, id)
) WITHOUT ROWID;

CREATE TABLE sku_mapping (
    realm   TEXT NOT NULL,
    key_by  TEXT NOT NULL CHECK (key_by IN ('id', 'name')),
    key     TEXT NOT NULL,
    sku     TEXT NOT NULL,
    PRIMARY KEY (realm, key_by, key)
) WITHOUT ROWID;

CREATE TABLE retry (
    realm      TEXT NOT NULL,
    entity     TEXT NOT NULL,
    qbo_id     TEXT NOT NULL,
    sync_token TEXT,
    reason     TEXT NOT NULL,
    failed_at  TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    PRIMARY KEY (realm, entity, qbo_id)
) WITHOUT ROWID;
";

/// Webhook events processed (version 6), by company and dedupe key, with when they were first
/// processed: a QBO retry of a delivery already handled costs nothing, across restarts, within
/// the retention window.
const MIGRATION_6: &str = "
CREATE TABLE processed_event (
    realm        TEXT NOT NULL,
    key          TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (realm, key)
) WITHOUT ROWID;

CREATE INDEX processed_event_at ON processed_event (processed_at);
";

/// Version 7: indexes for the log a person reads ([`Store::log_page`]), one per filtered view,
/// each ending in `at` (and, implicitly, the row id), so that the first page of a view, newest or
/// oldest first, is a walk down one index that stops after a page, whatever the log's size: the
/// company with its action, reason or entity, or alone (with a date range or not); the action
/// and the reason across companies; and the free text (DocNumber, QBO id, order number, each
/// `NOCASE`, the company second so that a search within a company is a walk too). `log_action`
/// gains `at` for the same reason.
const MIGRATION_7: &str = "
DROP INDEX log_action;
CREATE INDEX log_action ON log (action, at);
CREATE INDEX log_reason ON log (reason, at);
CREATE INDEX log_realm_at ON log (realm, at);
CREATE INDEX log_realm_action ON log (realm, action, at);
CREATE INDEX log_realm_reason ON log (realm, reason, at);
CREATE INDEX log_realm_entity ON log (realm, entity, at);
CREATE INDEX log_doc_number_text ON log (doc_number COLLATE NOCASE, realm, at);
CREATE INDEX log_qbo_id_text ON log (qbo_id COLLATE NOCASE, realm, at);
CREATE INDEX log_order_number_text ON log (order_number COLLATE NOCASE, realm, at);
";

/// Each company's settings (version 8), as the JSON of `CompanySettings` (fields missing from
/// an older document take their defaults when read). JSON rather than a column per field, so a
/// setting added later needs no migration.
const MIGRATION_8: &str = "
CREATE TABLE company_settings (
    realm    TEXT PRIMARY KEY NOT NULL,
    settings TEXT NOT NULL CHECK (json_valid(settings))
) WITHOUT ROWID;
";

/// Version 9: the customer's name in each log entry (`LogEntry::customer`; entries written
/// before are `NULL`), with a `NOCASE` index like the other free-text columns of
/// [`MIGRATION_7`], so that a search by customer is an index walk too.
const MIGRATION_9: &str = "
ALTER TABLE log ADD COLUMN customer TEXT;
CREATE INDEX log_customer_text ON log (customer COLLATE NOCASE, realm, at);
";

const LOG_COLUMNS: &str = "run_id, at, realm, entity, qbo_id, doc_number, sync_token, \
     last_updated, action, reason, detail, order_number, failure_service, failure_status, \
     failure_code, failure_message, failure_request_id, dry_run, customer";

const LEDGER_COLUMNS: &str =
    "realm, entity, qbo_id, order_id, order_number, sync_token, state, updated_at";

/// How a [`SqliteStore`] opens its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// How long a call waits for another connection (another process on the same file) to
    /// release its write lock before failing. Default: 5 seconds.
    pub busy_timeout: Duration,
    /// Flush every commit to disk (`synchronous=FULL`) instead of at checkpoints
    /// (`synchronous=NORMAL`, the default). See [`SqliteStore`] for the trade-off.
    pub sync_every_commit: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions { busy_timeout: Duration::from_secs(5), sync_every_commit: false }
    }
}

/// The SQLite settings a store's connection runs with, as SQLite reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteSettings {
    /// `wal` for a file, `memory` for an in-memory store.
    pub journal_mode: String,
    /// `normal` or `full` (or `off`/`extra` if someone changed it).
    pub synchronous: String,
    /// How long a call waits for a lock held by another connection.
    pub busy_timeout: Duration,
    /// The schema version of the file (`PRAGMA user_version`).
    pub schema_version: u32,
}

/// The engine's state in a SQLite file: cursors, ledger, transaction log and OAuth tokens.
///
/// - **Schema.** Versioned by `PRAGMA user_version` and marked by `PRAGMA application_id`;
///   opening runs the missing migrations once, each in one transaction. A file that is not a
///   SQLite database, a database of another program, or a schema newer than this code knows is
///   refused with an [`ErrorKind::Store`](crate::ErrorKind::Store) error; such a file is never
///   altered.
/// - **Atomic commits.** [`Store::commit`] writes the ledger entry, the log entry and the cursor
///   move in one SQLite transaction: all of them or none.
/// - **Durability.** The file runs in WAL mode with `synchronous=NORMAL`: a commit survives the
///   process being killed at any point (it is in the WAL, which the OS holds), and the file is
///   never corrupted, but an OS crash or power loss can roll back the last commits before a
///   checkpoint, each commit whole (ledger, log and cursor together, so the cursor never gets
///   ahead of the ledger). `FULL` would flush every commit to disk and cost a disk sync per
///   transaction; set [`SqliteOptions::sync_every_commit`] when power-loss durability of every
///   commit is worth that. Token saves always run with `FULL`, because a rotated refresh token
///   lost to a power cut means a person must reconnect the company.
/// - **Timestamps** are RFC 3339 text in UTC with nine fractional digits (readable in the `sqlite3`
///   shell, exact, and ordered as text); instants outside the years 1 to 9999 are refused.
///   `last_updated` keeps the offset QBO sent.
/// - **Secrets.** The file holds the OAuth tokens in clear text, because they must be persisted:
///   protect it like a password file. On Unix a file this store creates gets mode `0600` (SQLite
///   gives its `-wal` and `-shm` files the same mode). Tokens never appear in errors, logs or
///   Debug output.
/// - **Blocking.** SQLite calls are synchronous. Each async method runs its statements inline (a
///   local write takes microseconds, a disk sync at most milliseconds) on one connection behind a
///   `std::sync::Mutex` that is never held across an await. A host on a multi-threaded runtime that
///   would rather keep its workers free may run the calls on its blocking pool (for example
///   `tokio::task::spawn_blocking` with a clone of the store).
///
/// Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
    options: SqliteOptions,
    applied_migrations: Vec<u32>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// The schema version this code writes and understands.
    pub const SCHEMA_VERSION: u32 = 9;

    /// Opens the store in the file at `path`, creating the file (mode `0600` on Unix) and its
    /// schema when they do not exist, with the default [`SqliteOptions`].
    ///
    /// ```
    /// # futures_util::FutureExt::now_or_never(async {
    /// use qbo_ordoro::{SqliteStore, Store};
    ///
    /// # let dir = std::env::temp_dir().join(format!("qbo-ordoro-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("qbo-ordoro-state.sqlite3");
    /// let store = SqliteStore::open(&path)?;
    /// assert_eq!(store.settings()?.journal_mode, "wal");
    /// assert_eq!(store.cursor("9130/Invoice").await?, None); // a new file has no cursor yet
    /// drop(store);
    /// let reopened = SqliteStore::open(&path)?; // the schema is there: no migration runs again
    /// assert!(reopened.applied_migrations().is_empty());
    /// # drop(reopened);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), qbo_ordoro::Error>(())
    /// # }).expect("SQLite calls do not wait")?;
    /// # Ok::<(), qbo_ordoro::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens the store in the file at `path` with `options`.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref();
        create_private_file(path)?;
        // No SQLITE_OPEN_URI: the argument is a path, never a `file:` URI with parameters.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| sqlite_error(format!("could not open {}", path.display()), e))?;
        Self::init(conn, Some(path.to_path_buf()), options)
    }

    /// A store in memory only, gone when the last clone is dropped (tests, dry runs). It has the
    /// same schema and behaviour as a file, except the journal, which stays in memory.
    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory()
            .map_err(|e| sqlite_error("could not open an in-memory SQLite database", e))?;
        Self::init(conn, None, SqliteOptions::default())
    }

    /// The file, or `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// The migrations this open applied, in order (empty when the file was up to date).
    pub fn applied_migrations(&self) -> &[u32] {
        &self.inner.applied_migrations
    }

    /// The settings the connection runs with, read back from SQLite.
    pub fn settings(&self) -> Result<SqliteSettings> {
        self.run(
            || format!("could not read the settings of {}", self.label()),
            |conn| {
                let journal_mode: String =
                    conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
                let synchronous: i64 =
                    conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
                let busy_ms: i64 = conn.pragma_query_value(None, "busy_timeout", |r| r.get(0))?;
                let version = user_version(conn)?;
                Ok(SqliteSettings {
                    journal_mode: journal_mode.to_ascii_lowercase(),
                    synchronous: synchronous_name(synchronous).to_owned(),
                    busy_timeout: Duration::from_millis(u64::try_from(busy_ms).unwrap_or(0)),
                    schema_version: u32::try_from(version).unwrap_or(0),
                })
            },
        )
    }

    /// How SQLite reads [`Store::log_page`]'s `query`: the details of `EXPLAIN QUERY PLAN`
    /// joined with `; ` (e.g. `SEARCH log USING INDEX log_realm_action (realm=? AND action=?)`).
    /// A page is an index walk when it names an index and no `TEMP B-TREE` (a sort of every
    /// match). For tests, and for a host checking why a view of its log is slow.
    pub fn log_page_plan(&self, query: &LogQuery) -> Result<String> {
        let (sql, args) = log_page_search(query);
        self.run(
            || "could not explain a page of the transaction log".to_owned(),
            |conn| {
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let rows =
                    stmt.query_map(params_from_iter(args.iter()), |r| r.get::<_, String>(3))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?.join("; "))
            },
        )
    }

    fn init(mut conn: Connection, path: Option<PathBuf>, options: SqliteOptions) -> Result<Self> {
        let label = location(path.as_deref());
        conn.busy_timeout(options.busy_timeout)
            .map_err(|e| sqlite_error(format!("could not set the busy timeout of {label}"), e))?;
        let version = check_identity(&conn, &label)?;
        configure(&conn, &label, &options, path.is_some())?;
        let applied_migrations = if version < i64::from(Self::SCHEMA_VERSION) {
            migrate(&mut conn, &label)?
        } else {
            Vec::new()
        };
        if !applied_migrations.is_empty() {
            tracing::info!(store = %label, migrations = ?applied_migrations, "store schema migrated");
        }
        Ok(SqliteStore {
            inner: Arc::new(Inner { conn: Mutex::new(conn), path, options, applied_migrations }),
        })
    }

    fn label(&self) -> String {
        location(self.inner.path.as_deref())
    }

    /// Runs `f` on the connection; a failure becomes a Store error that starts with `what()`.
    fn run<T>(
        &self,
        what: impl FnOnce() -> String,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let result = f(&mut self.lock());
        result.map_err(|e| sqlite_error(what(), e))
    }

    /// A poisoned lock means a panic while a call held the connection; any transaction it had
    /// open was rolled back when unwinding dropped it, so the connection is safe to keep using.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.inner.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => {
            Err(Error::store(format!("could not create the store file {}: {e}", path.display()))
                .with_source(e))
        }
    }
}

#[cfg(not(unix))]
fn create_private_file(_path: &Path) -> Result<()> {
    Ok(())
}

/// The `synchronous` level of everything but token saves.
fn commit_synchronous(options: &SqliteOptions) -> &'static str {
    if options.sync_every_commit { "FULL" } else { "NORMAL" }
}

fn location(path: Option<&Path>) -> String {
    match path {
        Some(p) => p.display().to_string(),
        None => "the in-memory store".to_owned(),
    }
}

fn sqlite_error(what: impl fmt::Display, e: rusqlite::Error) -> Error {
    Error::store(format!("{what}: {e}")).with_source(e)
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

fn synchronous_name(level: i64) -> &'static str {
    match level {
        0 => "off",
        1 => "normal",
        2 => "full",
        3 => "extra",
        _ => "unknown",
    }
}

/// Refuses a file that is not ours (without writing to it) and returns its schema version.
fn check_identity(conn: &Connection, label: &str) -> Result<i64> {
    let read = |e: rusqlite::Error| {
        if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) {
            Error::store(format!(
                "{label} is not a SQLite database (or it is encrypted); point the store at a new \
                 file or at a qbo-ordoro database"
            ))
            .with_source(e)
        } else {
            sqlite_error(format!("could not read {label}"), e)
        }
    };
    let application_id: i32 =
        conn.pragma_query_value(None, "application_id", |r| r.get(0)).map_err(read)?;
    let version = user_version(conn).map_err(read)?;
    let objects: i64 =
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).map_err(read)?;
    let latest = i64::from(SqliteStore::SCHEMA_VERSION);
    match application_id {
        APPLICATION_ID if version > latest => Err(Error::store(format!(
            "{label} has schema version {version}, newer than this code knows ({latest}); \
             upgrade qbo-ordoro to open it"
        ))),
        APPLICATION_ID => Ok(version),
        0 if objects == 0 && version == 0 => Ok(0),
        0 => Err(Error::store(format!(
            "{label} is a SQLite database of another program (it holds tables that are not a \
             qbo-ordoro store); point the store at a new file"
        ))),
        other => Err(Error::store(format!(
            "{label} belongs to another program (SQLite application id {other:#010x}); point the \
             store at a new file"
        ))),
    }
}

fn configure(conn: &Connection, label: &str, options: &SqliteOptions, is_file: bool) -> Result<()> {
    if is_file {
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| sqlite_error(format!("could not switch {label} to WAL mode"), e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::store(format!(
                "could not switch {label} to WAL mode: SQLite kept journal mode {mode}"
            )));
        }
    }
    let level = commit_synchronous(options);
    conn.pragma_update(None, "synchronous", level)
        .map_err(|e| sqlite_error(format!("could not set synchronous={level} on {label}"), e))
}

/// Applies the missing migrations. The version is read again under the write lock, so that two
/// processes opening a new file at once migrate it once.
fn migrate(conn: &mut Connection, label: &str) -> Result<Vec<u32>> {
    let failed = |e| sqlite_error(format!("could not migrate the schema of {label}"), e);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(failed)?;
    let current = user_version(&tx).map_err(failed)?;
    let latest = i64::from(SqliteStore::SCHEMA_VERSION);
    if current > latest {
        return Err(Error::store(format!(
            "{label} was just upgraded to schema version {current} by newer code, which this \
             code ({latest}) cannot read; upgrade qbo-ordoro"
        )));
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| i64::from(m.version) > current) {
        let version = migration.version;
        tx.execute_batch(migration.sql)
            .and_then(|()| tx.pragma_update(None, "user_version", version))
            .map_err(|e| {
                sqlite_error(format!("could not apply migration {version} to {label}"), e)
            })?;
        applied.push(version);
    }
    if !applied.is_empty() {
        tx.pragma_update(None, "application_id", APPLICATION_ID).map_err(failed)?;
    }
    tx.commit().map_err(failed)?;
    Ok(applied)
}

/// A value that SQLite holds but this code cannot read back: the file was edited by hand or by
/// another program. The message names the column, never the value (it could be anything).
#[derive(Debug)]
struct CorruptColumn(&'static str);

impl fmt::Display for CorruptColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unreadable value in column `{}`", self.0)
    }
}

impl std::error::Error for CorruptColumn {}

fn parsed<T>(
    row: &Row<'_>,
    idx: usize,
    name: &'static str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(CorruptColumn(name)))
    })
}

fn parsed_opt<T>(
    row: &Row<'_>,
    idx: usize,
    name: &'static str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(idx)?;
    match text {
        None => Ok(None),
        Some(text) => parse(&text).map(Some).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                idx,
                Type::Text,
                Box::new(CorruptColumn(name)),
            )
        }),
    }
}

/// A ledger entry encoded for its row, checked before the connection is taken.
struct LedgerRow<'a> {
    entry: &'a LedgerEntry,
    updated_at: String,
}

impl<'a> LedgerRow<'a> {
    fn new(entry: &'a LedgerEntry) -> Result<Self> {
        Ok(LedgerRow { entry, updated_at: utc_text(entry.updated_at)? })
    }

    fn upsert(&self, conn: &Connection) -> rusqlite::Result<()> {
        let e = self.entry;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO ledger (realm, entity, qbo_id, order_id, order_number, sync_token, state, \
             updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (realm, entity, qbo_id) DO UPDATE SET order_id = excluded.order_id, \
             order_number = excluded.order_number, sync_token = excluded.sync_token, \
             state = excluded.state, updated_at = excluded.updated_at",
        )?;
        stmt.execute(params![
            e.key.realm,
            e.key.entity.as_str(),
            e.key.qbo_id,
            e.order_id,
            e.order_number,
            e.sync_token,
            e.state.as_str(),
            self.updated_at,
        ])?;
        Ok(())
    }
}

/// A [`LedgerChange`] ready to write.
enum LedgerWrite<'a> {
    Put(LedgerRow<'a>),
    Remove(&'a LedgerKey),
}

fn delete_ledger_row(conn: &Connection, key: &LedgerKey) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM ledger WHERE realm = ?1 AND entity = ?2 AND qbo_id = ?3")?
        .execute(params![key.realm, key.entity.as_str(), key.qbo_id])
        .map(|_| ())
}

fn read_ledger(row: &Row<'_>) -> rusqlite::Result<LedgerEntry> {
    Ok(LedgerEntry {
        key: LedgerKey {
            realm: row.get(0)?,
            entity: parsed(row, 1, "ledger.entity", EntityKind::parse)?,
            qbo_id: row.get(2)?,
        },
        order_id: row.get(3)?,
        order_number: row.get(4)?,
        sync_token: row.get(5)?,
        state: parsed(row, 6, "ledger.state", LedgerState::parse)?,
        updated_at: parsed(row, 7, "ledger.updated_at", parse_utc)?,
    })
}

/// A log entry encoded for its row, checked before the connection is taken.
struct LogRow<'a> {
    entry: &'a LogEntry,
    at: String,
    last_updated: Option<String>,
}

impl<'a> LogRow<'a> {
    fn new(entry: &'a LogEntry) -> Result<Self> {
        Ok(LogRow {
            entry,
            at: utc_text(entry.at)?,
            last_updated: entry
                .last_updated
                .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, false)),
        })
    }

    fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        let e = self.entry;
        let failure = e.failure.as_ref();
        let mut stmt = conn.prepare_cached(
            "INSERT INTO log (run_id, at, realm, entity, qbo_id, doc_number, sync_token, \
             last_updated, action, reason, detail, order_number, failure_service, failure_status, \
             failure_code, failure_message, failure_request_id, dry_run, customer) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
             ?18, ?19)",
        )?;
        stmt.execute(params![
            e.run_id,
            self.at,
            e.realm,
            e.entity.as_str(),
            e.qbo_id,
            e.doc_number,
            e.sync_token,
            self.last_updated,
            e.action.as_str(),
            e.reason.map(Reason::as_str),
            e.detail,
            e.order_number,
            failure.and_then(|f| f.service.as_deref()),
            failure.and_then(|f| f.status),
            failure.and_then(|f| f.code.as_deref()),
            failure.map(|f| f.message.as_str()),
            failure.and_then(|f| f.request_id.as_deref()),
            e.dry_run,
            e.customer,
        ])?;
        Ok(())
    }
}

fn read_log(row: &Row<'_>) -> rusqlite::Result<LogEntry> {
    let failure_message: Option<String> = row.get(15)?;
    let failure = match failure_message {
        None => None,
        Some(message) => Some(FailureInfo {
            service: row.get(12)?,
            status: row.get(13)?,
            code: row.get(14)?,
            message,
            request_id: row.get(16)?,
        }),
    };
    Ok(LogEntry {
        run_id: row.get(0)?,
        at: parsed(row, 1, "log.at", parse_utc)?,
        realm: row.get(2)?,
        entity: parsed(row, 3, "log.entity", EntityKind::parse)?,
        qbo_id: row.get(4)?,
        doc_number: row.get(5)?,
        customer: row.get(18)?,
        sync_token: row.get(6)?,
        last_updated: parsed_opt(row, 7, "log.last_updated", |s| {
            DateTime::<FixedOffset>::parse_from_rfc3339(s).ok()
        })?,
        action: parsed(row, 8, "log.action", Action::parse)?,
        reason: parsed_opt(row, 9, "log.reason", |s| s.parse::<Reason>().ok())?,
        detail: row.get(10)?,
        order_number: row.get(11)?,
        failure,
        dry_run: row.get(17)?,
    })
}

fn upsert_cursor(conn: &Connection, name: &str, at: &str) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO cursor (name, at) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET at = excluded.at",
    )?;
    stmt.execute(params![name, at])?;
    Ok(())
}

/// The SQL and arguments of a log search, in the order written.
fn log_search(query: &LogQuery) -> (String, Vec<Value>) {
    let (mut sql, mut args) = log_filters(query, &format!("{LOG_COLUMNS} FROM log"));
    sql.push_str(" ORDER BY id");
    if let Some(limit) = query.limit {
        sql.push_str(" LIMIT ?");
        args.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    }
    (sql, args)
}

/// The SQL and arguments of one page of the log: the filters, the cursor as a range on `at`
/// (which the indexes of [`MIGRATION_7`] walk) refined by the row id, in time order from the
/// cursor, one row more than the page so that whether more follow is known.
fn log_page_search(query: &LogQuery) -> (String, Vec<Value>) {
    let from = match page_index(query) {
        Some(index) => format!("{LOG_COLUMNS}, id FROM log INDEXED BY {index}"),
        None => format!("{LOG_COLUMNS}, id FROM log"),
    };
    let (mut sql, mut args) = log_filters(query, &from);
    let mut bound = |cursor: &LogCursor, op: &str| {
        sql.push_str(&format!(" AND at {op}= ? AND (at {op} ? OR id {op} ?)"));
        let at = bound_text(cursor.at);
        args.extend([Value::Text(at.clone()), Value::Text(at), Value::Integer(row_id(cursor))]);
    };
    if let Some(before) = &query.before {
        bound(before, "<");
    }
    if let Some(after) = &query.after {
        bound(after, ">");
    }
    let order = if LogPage::reads_towards_older(query) { "DESC" } else { "ASC" };
    // A selective view sorts its few matches: `+at` is no index order, so that SQLite does not
    // walk the whole log in time order (`log_at`) to spare itself that sort.
    let sort = if selective(query) { "+" } else { "" };
    sql.push_str(&format!(" ORDER BY {sort}at {order}, {sort}id {order} LIMIT ?"));
    let take = query.page_size().saturating_add(1);
    args.push(Value::Integer(i64::try_from(take).unwrap_or(i64::MAX)));
    (sql, args)
}

/// The index a page of `query` walks, when the view is one [`MIGRATION_7`] serves: named, because
/// without statistics SQLite's planner would rather use a range on `at` in a wider index (the
/// company's) than the equalities of the view's own, and scan a month of the company's log for
/// a rare reason. `None` leaves the choice to the planner: the free text (one index per column)
/// and the exact fields (run, QBO id, DocNumber, order number) are more selective than any view.
fn page_index(query: &LogQuery) -> Option<&'static str> {
    if selective(query) {
        return None;
    }
    let company = query.realm.is_some();
    Some(match (company, query.reason.is_some(), query.action.is_some(), query.entity.is_some()) {
        (true, true, _, _) => "log_realm_reason",
        (true, false, true, _) => "log_realm_action",
        (true, false, false, true) => "log_realm_entity",
        (true, false, false, false) => "log_realm_at",
        (false, true, _, _) => "log_reason",
        (false, false, true, _) => "log_action",
        (false, false, false, _) => "log_at",
    })
}

/// True when `query` names a value few rows hold: a run, a QBO id, a DocNumber, an order number
/// or free text, each with an index of its own.
fn selective(query: &LogQuery) -> bool {
    let exact = [&query.run_id, &query.qbo_id, &query.doc_number, &query.order_number];
    query.text_term().is_some() || exact.iter().any(|field| field.is_some())
}

/// A cursor's sequence number as a row id (row ids are positive `i64`s; a larger number from an
/// edited link still compares right).
fn row_id(cursor: &LogCursor) -> i64 {
    i64::try_from(cursor.seq).unwrap_or(i64::MAX)
}

/// `SELECT` `from` `WHERE` every filter of `query`, and their arguments.
fn log_filters(query: &LogQuery, from: &str) -> (String, Vec<Value>) {
    let mut sql = format!("SELECT {from} WHERE 1 = 1");
    let mut args = Vec::new();
    let mut filter = |column_test: &str, value: Value| {
        sql.push_str(" AND ");
        sql.push_str(column_test);
        args.push(value);
    };
    let text = |s: &str| Value::Text(s.to_owned());
    // With a more selective field, the company is checked on the few rows that field's index
    // finds (`+realm` is no index term): without statistics, SQLite would rather walk the
    // company's whole log in an index of `realm`.
    let realm_test = if selective(query) { "+realm = ?" } else { "realm = ?" };
    let text_filters = [
        (realm_test, &query.realm),
        ("run_id = ?", &query.run_id),
        ("qbo_id = ?", &query.qbo_id),
        ("doc_number = ?", &query.doc_number),
        ("order_number = ?", &query.order_number),
    ];
    for (test, value) in text_filters {
        if let Some(v) = value {
            filter(test, text(v));
        }
    }
    if let Some(action) = query.action {
        filter("action = ?", text(action.as_str()));
    }
    if let Some(entity) = query.entity {
        filter("entity = ?", text(entity.as_str()));
    }
    if let Some(reason) = query.reason {
        filter("reason = ?", text(reason.as_str()));
    }
    if let Some(from) = query.from {
        filter("at >= ?", Value::Text(bound_text(from)));
    }
    if let Some(to) = query.to {
        filter("at < ?", Value::Text(bound_text(to)));
    }
    if let Some(term) = query.text_term() {
        // The rows of each column's index, by row id: an explicit union rather than an `OR`,
        // which SQLite may read by scanning the log instead. One `?` per column: `?N` numbering
        // would clash with the positional arguments.
        sql.push_str(
            " AND id IN (SELECT id FROM log WHERE doc_number = ? COLLATE NOCASE \
             UNION ALL SELECT id FROM log WHERE qbo_id = ? COLLATE NOCASE \
             UNION ALL SELECT id FROM log WHERE order_number = ? COLLATE NOCASE \
             UNION ALL SELECT id FROM log WHERE customer = ? COLLATE NOCASE)",
        );
        args.extend([text(term), text(term), text(term), text(term)]);
    }
    (sql, args)
}

/// A token's instants as stored: access expiry, rolling and hard refresh expiries.
type TokenTimes = [Option<String>; 3];

fn save_token_row(
    conn: &Connection,
    realm: &str,
    token: &StoredToken,
    times: &TokenTimes,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO token (realm, refresh_token, access_token, access_expires_at, \
         refresh_expires_at, refresh_hard_expires_at, grant_fingerprint) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (realm) DO UPDATE SET \
         refresh_token = excluded.refresh_token, access_token = excluded.access_token, \
         access_expires_at = excluded.access_expires_at, \
         refresh_expires_at = excluded.refresh_expires_at, \
         refresh_hard_expires_at = excluded.refresh_hard_expires_at, \
         grant_fingerprint = excluded.grant_fingerprint",
        params![
            realm,
            token.refresh_token.expose_secret(),
            token.access_token.as_ref().map(|t| t.expose_secret()),
            times[0],
            times[1],
            times[2],
            token.grant_fingerprint,
        ],
    )?;
    Ok(())
}

fn read_token(row: &Row<'_>) -> rusqlite::Result<StoredToken> {
    let refresh: String = row.get(0)?;
    let access: Option<String> = row.get(1)?;
    Ok(StoredToken {
        refresh_token: SecretString::from(refresh),
        access_token: access.map(SecretString::from),
        access_expires_at: parsed_opt(row, 2, "token.access_expires_at", parse_utc)?,
        refresh_expires_at: parsed_opt(row, 3, "token.refresh_expires_at", parse_utc)?,
        refresh_hard_expires_at: parsed_opt(row, 4, "token.refresh_hard_expires_at", parse_utc)?,
        grant_fingerprint: row.get(5)?,
    })
}

#[async_trait::async_trait]
impl TokenStore for SqliteStore {
    async fn load_token(&self, realm: &str) -> Result<Option<StoredToken>> {
        self.run(
            || format!("could not load the tokens of realm {realm}"),
            |conn| {
                conn.query_row(
                    "SELECT refresh_token, access_token, access_expires_at, refresh_expires_at, \
                     refresh_hard_expires_at, grant_fingerprint FROM token WHERE realm = ?1",
                    [realm],
                    read_token,
                )
                .optional()
            },
        )
    }

    async fn save_token(&self, realm: &str, token: &StoredToken) -> Result<()> {
        let text = |at: Option<DateTime<Utc>>| at.map(utc_text).transpose();
        let times = [
            text(token.access_expires_at)?,
            text(token.refresh_expires_at)?,
            text(token.refresh_hard_expires_at)?,
        ];
        let normal = commit_synchronous(&self.inner.options);
        self.run(
            || format!("could not save the tokens of realm {realm}"),
            |conn| {
                conn.pragma_update(None, "synchronous", "FULL")?;
                let saved = save_token_row(conn, realm, token, &times);
                let restored = conn.pragma_update(None, "synchronous", normal);
                saved.and(restored)
            },
        )
    }

    async fn forget_token(&self, realm: &str) -> Result<bool> {
        let normal = commit_synchronous(&self.inner.options);
        self.run(
            || format!("could not forget the tokens of realm {realm}"),
            |conn| {
                // As durable as a save: a disconnected company must not come back connected
                // after a power cut.
                conn.pragma_update(None, "synchronous", "FULL")?;
                let deleted = conn.execute("DELETE FROM token WHERE realm = ?1", [realm]);
                let restored = conn.pragma_update(None, "synchronous", normal);
                let deleted = deleted?;
                restored.map(|()| deleted > 0)
            },
        )
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn cursor(&self, name: &str) -> Result<Option<DateTime<Utc>>> {
        self.run(
            || format!("could not read the cursor {name}"),
            |conn| {
                conn.query_row("SELECT at FROM cursor WHERE name = ?1", [name], |row| {
                    parsed(row, 0, "cursor.at", parse_utc)
                })
                .optional()
            },
        )
    }

    async fn set_cursor(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        let at = utc_text(at)?;
        self.run(
            || format!("could not move the cursor {name}"),
            |conn| upsert_cursor(conn, name, &at),
        )
    }

    async fn ledger_entry(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>> {
        self.run(
            || {
                format!(
                    "could not read the ledger entry of {} {} {}",
                    key.realm, key.entity, key.qbo_id
                )
            },
            |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {LEDGER_COLUMNS} FROM ledger \
                     WHERE realm = ?1 AND entity = ?2 AND qbo_id = ?3"
                ))?;
                stmt.query_row(params![key.realm, key.entity.as_str(), key.qbo_id], read_ledger)
                    .optional()
            },
        )
    }

    async fn put_ledger_entry(&self, entry: &LedgerEntry) -> Result<()> {
        let row = LedgerRow::new(entry)?;
        let key = &entry.key;
        self.run(
            || {
                format!(
                    "could not write the ledger entry of {} {} {}",
                    key.realm, key.entity, key.qbo_id
                )
            },
            |conn| row.upsert(conn),
        )
    }

    async fn pending_entries(&self, realm: &str) -> Result<Vec<LedgerEntry>> {
        self.run(
            || format!("could not list the pending ledger entries of realm {realm}"),
            |conn| {
                // Without table statistics the planner would walk every entry of the realm
                // through the primary key; the partial index holds only the few pending ones.
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {LEDGER_COLUMNS} FROM ledger INDEXED BY ledger_pending \
                     WHERE realm = ?1 AND state = 'pending' ORDER BY entity, qbo_id"
                ))?;
                let rows = stmt.query_map([realm], read_ledger)?;
                rows.collect()
            },
        )
    }

    async fn commit(&self, commit: &Commit) -> Result<()> {
        let ledger = match &commit.ledger {
            Some(LedgerChange::Put(entry)) => Some(LedgerWrite::Put(LedgerRow::new(entry)?)),
            Some(LedgerChange::Remove(key)) => Some(LedgerWrite::Remove(key)),
            None => None,
        };
        let log = LogRow::new(&commit.log)?;
        let cursor = match &commit.cursor {
            Some((name, at)) => Some((name.as_str(), utc_text(*at)?)),
            None => None,
        };
        let entry = &commit.log;
        self.run(
            || {
                format!(
                    "could not commit run {} for {} {} {} (nothing was written)",
                    entry.run_id, entry.realm, entry.entity, entry.qbo_id
                )
            },
            |conn| {
                let tx: Transaction<'_> =
                    conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                match &ledger {
                    Some(LedgerWrite::Put(row)) => row.upsert(&tx)?,
                    Some(LedgerWrite::Remove(key)) => delete_ledger_row(&tx, key)?,
                    None => {}
                }
                log.insert(&tx)?;
                if let Some((name, at)) = &cursor {
                    upsert_cursor(&tx, name, at)?;
                }
                tx.commit()
            },
        )
    }

    async fn query_log(&self, query: &LogQuery) -> Result<Vec<LogEntry>> {
        let (sql, args) = log_search(query);
        self.run(
            || "could not search the transaction log".to_owned(),
            |conn| {
                let mut stmt = conn.prepare(&sql)?;
                let rows = stmt.query_map(params_from_iter(args.iter()), read_log)?;
                rows.collect()
            },
        )
    }

    async fn log_page(&self, query: &LogQuery) -> Result<LogPage> {
        let (sql, args) = log_page_search(query);
        let rows = self.run(
            || "could not read a page of the transaction log".to_owned(),
            |conn| {
                let mut stmt = conn.prepare(&sql)?;
                let rows = stmt.query_map(params_from_iter(args.iter()), |row| {
                    let id: i64 = row.get(19)?;
                    let entry = read_log(row)?;
                    let seq = u64::try_from(id).unwrap_or_default();
                    Ok((LogCursor::new(entry.at, seq), entry))
                })?;
                rows.collect()
            },
        )?;
        Ok(LogPage::from_rows(query, rows))
    }

    async fn run_summary(&self, realm: &str, run_id: &str) -> Result<RunSummary> {
        let counts = self.run(
            || format!("could not count the log entries of run {run_id} of company {realm}"),
            |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT action, count(*) FROM log WHERE run_id = ?1 AND realm = ?2 \
                     GROUP BY action",
                )?;
                let rows = stmt.query_map([run_id, realm], |row| {
                    Ok((parsed(row, 0, "log.action", Action::parse)?, row.get::<_, i64>(1)?))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            },
        )?;
        let mut summary = RunSummary::default();
        for (action, n) in counts {
            summary.add(action, u64::try_from(n).unwrap_or(0));
        }
        Ok(summary)
    }

    async fn start_run(&self, realm: &str, run_id: &str) -> Result<bool> {
        self.run(
            || format!("could not record the start of run {run_id} of company {realm}"),
            |conn| {
                conn.execute(
                    "INSERT INTO run (realm, run_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    [realm, run_id],
                )
                .map(|inserted| inserted == 1)
            },
        )
    }

    async fn connected_realms(&self) -> Result<Vec<String>> {
        self.run(
            || "could not list the companies with saved tokens".to_string(),
            |conn| {
                let mut stmt = conn.prepare_cached("SELECT realm FROM token ORDER BY realm")?;
                let rows = stmt.query_map([], |row| row.get(0))?;
                rows.collect()
            },
        )
    }

    async fn company_country(&self, realm: &str) -> Result<Option<CompanyCountry>> {
        self.run(
            || format!("could not read the country of company {realm}"),
            |conn| {
                conn.query_row(
                    "SELECT country, country_read_at FROM company WHERE realm = ?1",
                    [realm],
                    |row| {
                        Ok(CompanyCountry {
                            country: row.get(0)?,
                            read_at: parsed(row, 1, "company.country_read_at", parse_utc)?,
                        })
                    },
                )
                .optional()
            },
        )
    }

    async fn save_company_country(&self, realm: &str, country: &CompanyCountry) -> Result<()> {
        let read_at = utc_text(country.read_at)?;
        country.check(realm)?;
        let code = country.country.as_deref();
        self.run(
            || format!("could not save the country of company {realm}"),
            |conn| {
                conn.execute(
                    "INSERT INTO company (realm, country, country_read_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (realm) DO UPDATE SET country = excluded.country, \
                     country_read_at = excluded.country_read_at",
                    params![realm, code, read_at],
                )
                .map(|_| ())
            },
        )
    }

    async fn company_settings(&self, realm: &str) -> Result<Option<CompanySettings>> {
        let doc: Option<String> = self.run(
            || format!("could not read the settings of company {realm}"),
            |conn| {
                conn.query_row(
                    "SELECT settings FROM company_settings WHERE realm = ?1",
                    [realm],
                    |row| row.get(0),
                )
                .optional()
            },
        )?;
        doc.map(|doc| CompanySettings::from_stored(realm, &doc)).transpose()
    }

    async fn save_company_settings(&self, realm: &str, settings: &CompanySettings) -> Result<()> {
        let doc = settings.to_stored()?;
        self.run(
            || format!("could not save the settings of company {realm}"),
            |conn| {
                conn.execute(
                    "INSERT INTO company_settings (realm, settings) VALUES (?1, ?2) \
                     ON CONFLICT (realm) DO UPDATE SET settings = excluded.settings",
                    params![realm, doc],
                )
                .map(|_| ())
            },
        )
    }

    async fn sent_order(&self, key: &LedgerKey) -> Result<Option<SentOrder>> {
        self.run(
            || {
                format!(
                    "could not read what was sent to the order of {} {} {}",
                    key.realm, key.entity, key.qbo_id
                )
            },
            |conn| {
                conn.prepare_cached(
                    "SELECT order_number, shipping_address, billing_address, lines, sent_at \
                     FROM sent_order WHERE realm = ?1 AND entity = ?2 AND qbo_id = ?3",
                )?
                .query_row(params![key.realm, key.entity.as_str(), key.qbo_id], read_sent)
                .optional()
            },
        )
    }

    async fn cached_items(&self, realm: &str, ids: &[String]) -> Result<Vec<QboItem>> {
        self.run(
            || format!("could not read the cached items of company {realm}"),
            |conn| {
                let mut stmt =
                    conn.prepare_cached("SELECT doc FROM item WHERE realm = ?1 AND id = ?2")?;
                let mut found = Vec::new();
                for id in ids {
                    let doc: Option<String> =
                        stmt.query_row(params![realm, id], |row| row.get(0)).optional()?;
                    // A cached document that no longer reads is as good as not cached.
                    found.extend(doc.and_then(|d| serde_json::from_str::<QboItem>(&d).ok()));
                }
                Ok(found)
            },
        )
    }

    async fn cache_items(&self, realm: &str, items: &[QboItem]) -> Result<()> {
        let rows = items
            .iter()
            .map(|i| serde_json::to_string(i).map(|doc| (i, doc)))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::store(format!("could not encode a QBO item: {e}")))?;
        self.run(
            || format!("could not cache the items of company {realm}"),
            |conn| {
                let tx = conn.transaction()?;
                {
                    // An older read never replaces a newer version (tokens that are numbers).
                    let mut stmt = tx.prepare_cached(
                        "INSERT INTO item (realm, id, sync_token, doc) VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT (realm, id) DO UPDATE SET sync_token = excluded.sync_token, \
                         doc = excluded.doc WHERE item.sync_token IS NULL \
                         OR excluded.sync_token IS NULL \
                         OR trim(item.sync_token, '0123456789') <> '' \
                         OR trim(excluded.sync_token, '0123456789') <> '' \
                         OR CAST(excluded.sync_token AS INTEGER) >= CAST(item.sync_token AS INTEGER)",
                    )?;
                    for (item, doc) in &rows {
                        stmt.execute(params![realm, item.id, item.sync_token, doc])?;
                    }
                }
                tx.commit()
            },
        )
    }

    async fn sku_mappings(&self, realm: &str) -> Result<Vec<SkuMapping>> {
        self.run(
            || format!("could not read the SKU mappings of company {realm}"),
            |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT key_by, key, sku FROM sku_mapping WHERE realm = ?1 \
                     ORDER BY key_by, key",
                )?;
                let rows = stmt.query_map([realm], |row| {
                    let by: String = row.get(0)?;
                    let key: String = row.get(1)?;
                    let key = if by == "id" { SkuKey::ItemId(key) } else { SkuKey::ItemName(key) };
                    Ok(SkuMapping { key, sku: row.get(2)? })
                })?;
                rows.collect()
            },
        )
    }

    async fn put_sku_mapping(&self, realm: &str, mapping: &SkuMapping) -> Result<()> {
        self.run(
            || format!("could not save a SKU mapping of company {realm}"),
            |conn| {
                conn.execute(
                    "INSERT INTO sku_mapping (realm, key_by, key, sku) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (realm, key_by, key) DO UPDATE SET sku = excluded.sku",
                    params![realm, mapping.key.kind(), mapping.key.value(), mapping.sku],
                )
                .map(|_| ())
            },
        )
    }

    async fn remove_sku_mapping(&self, realm: &str, key: &SkuKey) -> Result<bool> {
        self.run(
            || format!("could not remove a SKU mapping of company {realm}"),
            |conn| {
                conn.execute(
                    "DELETE FROM sku_mapping WHERE realm = ?1 AND key_by = ?2 AND key = ?3",
                    params![realm, key.kind(), key.value()],
                )
                .map(|n| n > 0)
            },
        )
    }

    async fn retry_entries(&self, realm: &str) -> Result<Vec<RetryEntry>> {
        self.run(
            || format!("could not read the retry set of company {realm}"),
            |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT realm, entity, qbo_id, sync_token, reason, failed_at, run_id \
                     FROM retry WHERE realm = ?1 ORDER BY entity, qbo_id",
                )?;
                let rows = stmt.query_map([realm], |row| {
                    Ok(RetryEntry {
                        key: LedgerKey {
                            realm: row.get(0)?,
                            entity: parsed(row, 1, "retry.entity", EntityKind::parse)?,
                            qbo_id: row.get(2)?,
                        },
                        sync_token: row.get(3)?,
                        reason: parsed(row, 4, "retry.reason", |r| r.parse::<Reason>().ok())?,
                        failed_at: parsed(row, 5, "retry.failed_at", parse_utc)?,
                        run_id: row.get(6)?,
                    })
                })?;
                rows.collect()
            },
        )
    }

    async fn put_retry_entry(&self, entry: &RetryEntry) -> Result<()> {
        let failed_at = utc_text(entry.failed_at)?;
        let key = &entry.key;
        self.run(
            || format!("could not add {} {} to the retry set", key.entity, key.qbo_id),
            |conn| {
                conn.execute(
                    "INSERT INTO retry (realm, entity, qbo_id, sync_token, reason, failed_at, \
                     run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                     ON CONFLICT (realm, entity, qbo_id) DO UPDATE SET \
                     sync_token = excluded.sync_token, reason = excluded.reason, \
                     failed_at = excluded.failed_at, run_id = excluded.run_id",
                    params![
                        key.realm,
                        key.entity.as_str(),
                        key.qbo_id,
                        entry.sync_token,
                        entry.reason.as_str(),
                        failed_at,
                        entry.run_id
                    ],
                )
                .map(|_| ())
            },
        )
    }

    async fn remove_retry_entry(&self, key: &LedgerKey) -> Result<()> {
        self.run(
            || format!("could not remove {} {} from the retry set", key.entity, key.qbo_id),
            |conn| {
                conn.execute(
                    "DELETE FROM retry WHERE realm = ?1 AND entity = ?2 AND qbo_id = ?3",
                    params![key.realm, key.entity.as_str(), key.qbo_id],
                )
                .map(|_| ())
            },
        )
    }

    async fn processed_events(&self, realm: &str, keys: &[String]) -> Result<Vec<String>> {
        self.run(
            || format!("could not read the processed webhook events of company {realm}"),
            |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT 1 FROM processed_event WHERE realm = ?1 AND key = ?2",
                )?;
                let mut seen = Vec::new();
                for key in keys {
                    if stmt.exists(params![realm, key])? {
                        seen.push(key.clone());
                    }
                }
                Ok(seen)
            },
        )
    }

    async fn mark_events_processed(
        &self,
        realm: &str,
        keys: &[String],
        at: DateTime<Utc>,
    ) -> Result<()> {
        let at = utc_text(at)?;
        self.run(
            || format!("could not record webhook events of company {realm} as processed"),
            |conn| {
                let tx = conn.transaction()?;
                {
                    let mut stmt = tx.prepare_cached(
                        "INSERT INTO processed_event (realm, key, processed_at) \
                         VALUES (?1, ?2, ?3) ON CONFLICT (realm, key) DO NOTHING",
                    )?;
                    for key in keys {
                        stmt.execute(params![realm, key, at])?;
                    }
                }
                tx.commit()
            },
        )
    }

    async fn forget_events_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let before = utc_text(before)?;
        self.run(
            || "could not forget old processed webhook events".to_string(),
            |conn| {
                conn.execute("DELETE FROM processed_event WHERE processed_at < ?1", [before])
                    .map(|n| n as u64)
            },
        )
    }
    async fn save_sent_order(&self, key: &LedgerKey, sent: &SentOrder) -> Result<()> {
        let what = || {
            format!(
                "could not record what was sent to the order of {} {} {}",
                key.realm, key.entity, key.qbo_id
            )
        };
        let json = |value: serde_json::Result<String>| {
            value.map_err(|e| Error::store(what()).with_source(e))
        };
        let columns = [
            json(serde_json::to_string(&sent.shipping_address))?,
            json(serde_json::to_string(&sent.billing_address))?,
            json(serde_json::to_string(&sent.lines))?,
            utc_text(sent.sent_at)?,
        ];
        self.run(what, |conn| {
            conn.prepare_cached(
                "INSERT INTO sent_order (realm, entity, qbo_id, order_number, shipping_address, \
                 billing_address, lines, sent_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (realm, entity, qbo_id) DO UPDATE SET \
                 order_number = excluded.order_number, \
                 shipping_address = excluded.shipping_address, \
                 billing_address = excluded.billing_address, lines = excluded.lines, \
                 sent_at = excluded.sent_at",
            )?
            .execute(params![
                key.realm,
                key.entity.as_str(),
                key.qbo_id,
                sent.order_number,
                columns[0],
                columns[1],
                columns[2],
                columns[3],
            ])
            .map(drop)
        })
    }
}

fn read_sent(row: &Row<'_>) -> rusqlite::Result<SentOrder> {
    fn json<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
        serde_json::from_str(s).ok()
    }
    Ok(SentOrder {
        order_number: row.get(0)?,
        shipping_address: parsed(row, 1, "sent_order.shipping_address", json)?,
        billing_address: parsed(row, 2, "sent_order.billing_address", json)?,
        lines: parsed(row, 3, "sent_order.lines", json)?,
        sent_at: parsed(row, 4, "sent_order.sent_at", parse_utc)?,
    })
}
