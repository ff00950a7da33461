//! [`PostgresStore`]: the engine's state in a PostgreSQL database, shared by any number of
//! processes on any number of machines (versioned schema, one transaction per commit).
//!
//! Built on `tokio-postgres` with a `deadpool-postgres` pool: async (a query waits on the socket
//! without holding a thread, unlike the blocking `postgres` crate or SQLite's calls), maintained by
//! the rust-postgres project that most Rust PostgreSQL code stands on, light (no ORM, no macros),
//! and it needs no database at compile time, unlike sqlx's checked query macros, so the crate
//! builds on a machine without PostgreSQL. Statements are plain SQL with numbered parameters,
//! prepared once per pooled connection (`prepare_cached`).

mod coordinator;

pub use coordinator::PostgresCoordinator;

use super::stored_time::{bound_text, parse_utc, utc_text};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use super::{
    Action, Commit, CompanyCountry, CompanySettings, FailureInfo, LedgerChange, LedgerEntry,
    LedgerKey, LedgerState, LogCursor, LogEntry, LogPage, LogQuery, RetryEntry, RunSummary,
    SentOrder, Store, StoredToken, TokenStore,
};
use crate::fleet::{Lease, lost};
use crate::mapping::{SkuKey, SkuMapping};
use crate::model::qbo::{EntityKind, QboItem};
use crate::{Error, Reason, Result};

/// The numbered steps of the schema. Each runs once, in one transaction with its row in
/// `schema_version`.
const MIGRATIONS: &[(i32, &str)] = &[(1, MIGRATION_1), (2, MIGRATION_2)];

/// Instants are `TEXT COLLATE "C"` in the same form as the SQLite store's (RFC 3339 in UTC, nine
/// fractional digits, fixed width): exact to the nanosecond (`timestamptz` keeps microseconds,
/// and the cursor's nanoseconds matter), readable in `psql`, and ordered as text, byte by byte,
/// which the keyset pages rely on. `log.last_updated` keeps QBO's own offset. JSON documents
/// (items, settings, what was sent) are `jsonb`. The log's free-text columns are `COLLATE "C"`,
/// so that `lower()` folds ASCII letters only, as the search rule says; each has an index on
/// `lower(column)`, the company second.
const MIGRATION_1: &str = r#"
CREATE TABLE cursor (
    name TEXT COLLATE "C" PRIMARY KEY,
    at   TEXT COLLATE "C" NOT NULL
);

CREATE TABLE ledger (
    realm        TEXT COLLATE "C" NOT NULL,
    entity       TEXT NOT NULL CHECK (entity IN ('Invoice', 'SalesReceipt')),
    qbo_id       TEXT COLLATE "C" NOT NULL,
    order_id     TEXT NOT NULL,
    order_number TEXT,
    sync_token   TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'created', 'cancelled')),
    updated_at   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (realm, entity, qbo_id)
);
CREATE INDEX ledger_pending ON ledger (realm) WHERE state = 'pending';

CREATE TABLE token (
    realm                   TEXT COLLATE "C" PRIMARY KEY,
    refresh_token           TEXT NOT NULL,
    access_token            TEXT,
    access_expires_at       TEXT COLLATE "C",
    refresh_expires_at      TEXT COLLATE "C",
    refresh_hard_expires_at TEXT COLLATE "C",
    grant_fingerprint       TEXT
);

CREATE TABLE log (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id             TEXT COLLATE "C" NOT NULL,
    at                 TEXT COLLATE "C" NOT NULL,
    realm              TEXT COLLATE "C" NOT NULL,
    entity             TEXT NOT NULL CHECK (entity IN ('Invoice', 'SalesReceipt')),
    qbo_id             TEXT COLLATE "C" NOT NULL,
    doc_number         TEXT COLLATE "C",
    customer           TEXT COLLATE "C",
    sync_token         TEXT,
    last_updated       TEXT,
    action             TEXT NOT NULL CHECK (action IN ('created', 'updated', 'skipped', 'failed')),
    reason             TEXT,
    detail             TEXT,
    order_number       TEXT COLLATE "C",
    failure_service    TEXT,
    failure_status     INTEGER CHECK (failure_status BETWEEN 0 AND 65535),
    failure_code       TEXT,
    failure_message    TEXT,
    failure_request_id TEXT,
    dry_run            BOOLEAN NOT NULL,
    CHECK (failure_message IS NOT NULL OR (failure_service IS NULL AND failure_status IS NULL
           AND failure_code IS NULL AND failure_request_id IS NULL))
);
CREATE INDEX log_run_id ON log (run_id, realm, action);
CREATE INDEX log_qbo_id ON log (qbo_id);
CREATE INDEX log_doc_number ON log (doc_number);
CREATE INDEX log_order_number ON log (order_number);
CREATE INDEX log_at ON log (at, id);
CREATE INDEX log_action ON log (action, at, id);
CREATE INDEX log_reason ON log (reason, at, id);
CREATE INDEX log_realm_at ON log (realm, at, id);
CREATE INDEX log_realm_action ON log (realm, action, at, id);
CREATE INDEX log_realm_reason ON log (realm, reason, at, id);
CREATE INDEX log_realm_entity ON log (realm, entity, at, id);
CREATE INDEX log_doc_number_text ON log (lower(doc_number), realm, at, id);
CREATE INDEX log_qbo_id_text ON log (lower(qbo_id), realm, at, id);
CREATE INDEX log_order_number_text ON log (lower(order_number), realm, at, id);
CREATE INDEX log_customer_text ON log (lower(customer), realm, at, id);

CREATE TABLE run (
    realm  TEXT COLLATE "C" NOT NULL,
    run_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (realm, run_id)
);

CREATE TABLE company (
    realm           TEXT COLLATE "C" PRIMARY KEY,
    country         TEXT CHECK (country IS NULL OR char_length(country) = 2),
    country_read_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE company_settings (
    realm    TEXT COLLATE "C" PRIMARY KEY,
    settings JSONB NOT NULL
);

CREATE TABLE sent_order (
    realm            TEXT COLLATE "C" NOT NULL,
    entity           TEXT NOT NULL CHECK (entity IN ('Invoice', 'SalesReceipt')),
    qbo_id           TEXT COLLATE "C" NOT NULL,
    order_number     TEXT NOT NULL,
    shipping_address JSONB NOT NULL,
    billing_address  JSONB NOT NULL,
    lines            JSONB NOT NULL,
    sent_at          TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (realm, entity, qbo_id)
);

CREATE TABLE item (
    realm      TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    sync_token TEXT,
    doc        JSONB NOT NULL,
    PRIMARY KEY (realm, id)
);

CREATE TABLE sku_mapping (
    realm  TEXT COLLATE "C" NOT NULL,
    key_by TEXT COLLATE "C" NOT NULL CHECK (key_by IN ('id', 'name')),
    key    TEXT COLLATE "C" NOT NULL,
    sku    TEXT NOT NULL,
    PRIMARY KEY (realm, key_by, key)
);

CREATE TABLE retry (
    realm      TEXT COLLATE "C" NOT NULL,
    entity     TEXT COLLATE "C" NOT NULL,
    qbo_id     TEXT COLLATE "C" NOT NULL,
    sync_token TEXT,
    reason     TEXT NOT NULL,
    failed_at  TEXT COLLATE "C" NOT NULL,
    run_id     TEXT NOT NULL,
    PRIMARY KEY (realm, entity, qbo_id)
);

CREATE TABLE processed_event (
    realm        TEXT COLLATE "C" NOT NULL,
    key          TEXT COLLATE "C" NOT NULL,
    processed_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (realm, key)
);
CREATE INDEX processed_event_at ON processed_event (processed_at);
"#;

/// The fleet's tables (issue 16): the companies with their leases, the webhook queue and each
/// Ordoro account's request budget.
///
/// Unlike the engine's instants above, lease, due and budget times are `timestamptz` stamped by
/// the database's own clock (`now()`, the start of the statement's transaction, so that every
/// comparison and stamp of one statement uses one instant), never a worker's: workers on several
/// machines need not agree on the time, and "has this lease expired" has one answer for all of
/// them, the server's. Microseconds are plenty for leases of seconds. Only the queued events'
/// `occurred_at` stays text, as the store keeps instants, because a legacy event's dedupe key is
/// made of it, to the nanosecond.
const MIGRATION_2: &str = r#"
CREATE TABLE fleet_company (
    realm          TEXT COLLATE "C" PRIMARY KEY,
    ordoro_account TEXT NOT NULL,
    due_at         TIMESTAMPTZ NOT NULL,
    epoch          BIGINT NOT NULL DEFAULT 0 CHECK (epoch >= 0),
    holder         TEXT,
    expires_at     TIMESTAMPTZ,
    runs           BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX fleet_company_due ON fleet_company (due_at, realm);

CREATE TABLE webhook_queue (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    realm       TEXT COLLATE "C" NOT NULL,
    entity      TEXT NOT NULL,
    qbo_id      TEXT NOT NULL,
    operation   TEXT NOT NULL,
    event_id    TEXT,
    occurred_at TEXT COLLATE "C",
    deleted_id  TEXT,
    queued_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhook_queue_realm ON webhook_queue (realm, seq);

CREATE TABLE ordoro_budget (
    account   TEXT COLLATE "C" PRIMARY KEY,
    next_slot TIMESTAMPTZ NOT NULL
);
"#;

/// A fenced store's check, the first statement of each of its writes' transactions: the lease
/// is still the company's (same epoch and holder) and unexpired by the database's clock.
/// `FOR SHARE` keeps the row locked until the write commits, so a claim cannot take the company
/// in between (a claim skips a locked row; a claim that locked it first makes this check wait,
/// then find the new epoch, and refuse). The `set_config` makes PostgreSQL end the session if
/// the worker then stalls inside the transaction for `FENCED_WRITE_IDLE_LIMIT` (a paused
/// process must not hold the company's row locked forever); it is local to the transaction.
/// The expiry is compared with `statement_timestamp()`, this statement's start, not `now()`,
/// the transaction's: a worker paused between `BEGIN` and this check must not be judged by
/// the instant it began.
const FENCE_CHECK: &str = "SELECT set_config('idle_in_transaction_session_timeout', $4, true) \
     FROM fleet_company WHERE realm = $1 AND epoch = $2 AND holder = $3 \
     AND expires_at > statement_timestamp() FOR SHARE";

/// How long a fenced write's transaction may sit idle before PostgreSQL ends its session, in
/// milliseconds: far longer than any write takes, short next to a stalled worker.
const FENCED_WRITE_IDLE_LIMIT: &str = "10000";

/// The migrations' own record: one row per migration applied.
const SCHEMA_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)";

/// The advisory lock (`pg_advisory_xact_lock`) a migration holds, so that processes opening a
/// new database at once migrate it once: the bytes `QBOO` again, as SQLite's application id.
const MIGRATION_LOCK: i64 = 0x5142_4F4F;

const LOG_COLUMNS: &str = "run_id, at, realm, entity, qbo_id, doc_number, sync_token, \
     last_updated, action, reason, detail, order_number, failure_service, failure_status, \
     failure_code, failure_message, failure_request_id, dry_run, customer";

const LEDGER_COLUMNS: &str =
    "realm, entity, qbo_id, order_id, order_number, sync_token, state, updated_at";

/// The engine's state in PostgreSQL: cursors, ledger, transaction log, OAuth tokens, settings,
/// the SKUs' tables and the processed webhook events, with the same behaviour as
/// [`SqliteStore`](crate::SqliteStore) (the public conformance suite runs on both).
///
/// - **Schema.** Versioned by the table `schema_version` (one row per applied migration);
///   opening applies the missing migrations, each with its row in one transaction under an
///   advisory lock, so several processes starting at once migrate once. A database whose schema
///   is newer than this code knows is refused with an [`ErrorKind::Store`](crate::ErrorKind::Store)
///   error and left alone. To keep the tables in a schema of their own, set its `search_path` in
///   the connection string (`options=-csearch_path=qbo`).
/// - **Atomic commits.** [`Store::commit`] writes the ledger change, the log entry and the cursor
///   move in one transaction.
/// - **Durability.** A call returns once PostgreSQL committed. Token saves and forgets run with
///   `synchronous_commit = on` whatever the server or session says, because a rotated refresh
///   token lost to a crash means a person must reconnect the company.
/// - **Secrets.** The database holds OAuth tokens in clear text: restrict who can read the
///   `token` table. Tokens and the connection's password never appear in errors, logs or Debug
///   output.
/// - **Connections.** A `deadpool-postgres` pool; [`PostgresStore::connect`] opens one without TLS
///   (a Unix socket or a trusted network); a host that needs TLS builds its own pool with a TLS
///   connector and hands it to [`PostgresStore::with_pool`].
///
/// Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    applied_migrations: Vec<u32>,
    /// The lease every write is checked against (a fleet run's store), or none.
    fence: Option<Lease>,
    /// The connection settings, for a connection of its own outside the pool (the fleet's
    /// `LISTEN`); none for a store over the host's own pool.
    config: Option<tokio_postgres::Config>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The pool's status only: its configuration holds the password.
        f.debug_struct("PostgresStore")
            .field("pool_size", &self.pool.status().size)
            .field("applied_migrations", &self.applied_migrations)
            .field("fenced_by", &self.fence.as_ref().map(|l| (l.realm(), l.epoch)))
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// The schema version this code writes and understands.
    pub const SCHEMA_VERSION: u32 = 2;

    /// Connects to the database of `config`, a libpq connection string (`host=/run/postgresql
    /// dbname=qbo user=qbo` or `postgresql://qbo@db.internal/qbo`), with a pool of up to
    /// `max_connections` connections (at least one), without TLS, and brings its schema up to
    /// date.
    pub async fn connect(config: &str, max_connections: usize) -> Result<Self> {
        let pg_config = tokio_postgres::Config::from_str(config).map_err(|e| {
            // The string may hold a password: the message never repeats it.
            Error::config(format!(
                "the PostgreSQL connection string does not read ({e}); write it as \
                 `host=... dbname=... user=...` or `postgresql://user@host/dbname`"
            ))
        })?;
        let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = Manager::from_config(pg_config.clone(), NoTls, manager_config);
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .build()
            .map_err(|e| Error::config(format!("could not build the PostgreSQL pool: {e}")))?;
        let store = Self::with_pool(pool).await?;
        Ok(PostgresStore { config: Some(pg_config), ..store })
    }

    /// The store over `pool` (the host's own, with TLS for example); brings the schema up to
    /// date.
    pub async fn with_pool(pool: Pool) -> Result<Self> {
        let applied_migrations = migrate(&pool).await?;
        if !applied_migrations.is_empty() {
            tracing::info!(migrations = ?applied_migrations, "PostgreSQL store schema migrated");
        }
        Ok(PostgresStore { pool, applied_migrations, fence: None, config: None })
    }

    /// The same store with every write fenced by `lease`: each runs in one transaction that
    /// first checks, under a lock on the company's row, that `lease` is still the company's
    /// current, unexpired lease by the database's clock, and is refused with
    /// [`ErrorKind::LeaseLost`](crate::ErrorKind::LeaseLost) (nothing written) when it is not.
    /// Reads, token saves and token forgets are not fenced (see
    /// [`Coordinator::fenced_store`](crate::fleet::Coordinator::fenced_store)). What
    /// [`PostgresCoordinator`]'s [`fenced_store`](crate::fleet::Coordinator::fenced_store) hands
    /// a fleet run.
    pub fn fenced(&self, lease: &Lease) -> PostgresStore {
        PostgresStore { fence: Some(lease.clone()), ..self.clone() }
    }

    /// How PostgreSQL reads [`Store::log_page`]'s `query`: `EXPLAIN (FORMAT JSON)` of the page's
    /// statement, the plan as PostgreSQL writes it. For tests, and for a host checking why a
    /// view of its log is slow (run `ANALYZE log` first on a table that just grew).
    pub async fn log_page_plan(&self, query: &LogQuery) -> Result<serde_json::Value> {
        let sql = log_page_search(query);
        let client = self.client().await?;
        let row = client
            .query_one(&format!("EXPLAIN (FORMAT JSON) {}", sql.text), &sql.params())
            .await
            .map_err(|e| pg_error("could not explain a page of the transaction log", e))?;
        row.try_get(0).map_err(|e| pg_error("could not read the plan of a page of the log", e))
    }

    /// Begins a write: a transaction that, on a [`fenced`](Self::fenced) store, first runs
    /// [`FENCE_CHECK`] and is refused as `what` (`moving a cursor`) when the lease is no longer
    /// the company's. Every write of the [`Store`] goes through here; dropping the transaction
    /// uncommitted rolls it back.
    async fn begin_write<'c>(
        &self,
        client: &'c mut deadpool_postgres::Object,
        what: &str,
    ) -> Result<deadpool_postgres::Transaction<'c>> {
        let failed = |e| pg_error(format!("could not begin {what}"), e);
        let tx = client.transaction().await.map_err(failed)?;
        if let Some(lease) = &self.fence {
            let epoch = i64::try_from(lease.epoch).unwrap_or(i64::MAX);
            let stmt = tx.prepare_cached(FENCE_CHECK).await.map_err(failed)?;
            let params: [&(dyn ToSql + Sync); 4] =
                [&lease.realm(), &epoch, &lease.worker, &FENCED_WRITE_IDLE_LIMIT];
            if tx.query_opt(&stmt, &params).await.map_err(failed)?.is_none() {
                return Err(lost(lease, what));
            }
        }
        Ok(tx)
    }

    /// One statement as a write of its own ([`begin_write`](Self::begin_write), the statement,
    /// the commit); the rows it changed. `failed` says what could not be done.
    async fn write_one(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        failed: impl Fn(tokio_postgres::Error) -> Error + Send + Sync,
    ) -> Result<u64> {
        let mut client = self.client().await?;
        let tx = self.begin_write(&mut client, what).await?;
        let stmt = tx.prepare_cached(sql).await.map_err(&failed)?;
        let changed = tx.execute(&stmt, params).await.map_err(&failed)?;
        tx.commit().await.map_err(&failed)?;
        Ok(changed)
    }

    /// The migrations this open applied, in order (empty when the database was up to date).
    pub fn applied_migrations(&self) -> &[u32] {
        &self.applied_migrations
    }

    /// The schema version of the database, as its `schema_version` table says.
    pub async fn schema_version(&self) -> Result<u32> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
            .await
            .map_err(|e| pg_error("could not read the schema version", e))?;
        Ok(u32::try_from(row.get::<_, i32>(0)).unwrap_or(0))
    }

    /// The pool the store runs on (for a host's own queries, such as health checks).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| {
            Error::store(format!(
                "could not get a PostgreSQL connection ({e}); check that the server is up and \
                 the connection string's host, user and database"
            ))
            .with_source(e)
        })
    }
}

fn pg_error(what: impl fmt::Display, e: tokio_postgres::Error) -> Error {
    // The driver's own text is only "db error" for what the server said: add the server's
    // severity and message ("FATAL: terminating connection due to administrator command").
    let said = e.as_db_error().map(|db| format!(": {}: {}", db.severity(), db.message()));
    Error::store(format!("{what}: {e}{}", said.unwrap_or_default())).with_source(e)
}

/// Applies the missing migrations, each in one transaction under the advisory lock, the version
/// read again under the lock.
async fn migrate(pool: &Pool) -> Result<Vec<u32>> {
    let mut client = pool.get().await.map_err(|e| {
        Error::store(format!(
            "could not connect to PostgreSQL ({e}); check that the server is up and the \
             connection string's host, user and database"
        ))
        .with_source(e)
    })?;
    let failed = |e| pg_error("could not migrate the PostgreSQL schema", e);
    let latest = PostgresStore::SCHEMA_VERSION;
    let mut applied = Vec::new();
    for &(version, sql) in MIGRATIONS {
        let tx = client.transaction().await.map_err(failed)?;
        // Under the lock even the version table's creation: two sessions creating it at once
        // can both fail on the catalog's unique index.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(failed)?;
        tx.batch_execute(SCHEMA_VERSION_TABLE).await.map_err(failed)?;
        let row = tx
            .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
            .await
            .map_err(failed)?;
        let current: i32 = row.get(0);
        if u32::try_from(current).unwrap_or(0) > latest {
            return Err(Error::store(format!(
                "the PostgreSQL database has schema version {current}, newer than this code \
                 knows ({latest}); upgrade qbo-ordoro to use it"
            )));
        }
        if current >= version {
            continue;
        }
        tx.batch_execute(sql)
            .await
            .map_err(|e| pg_error(format!("could not apply migration {version}"), e))?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&version])
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        applied.push(u32::try_from(version).unwrap_or(0));
    }
    Ok(applied)
}

/// A value the database holds that this code cannot read back (edited by hand or by another
/// program): the error names the column, never the value.
fn corrupt(column: &str) -> Error {
    Error::store(format!(
        "unreadable value in column `{column}` of the PostgreSQL store; correct or delete that row"
    ))
}

fn parsed<T>(text: &str, column: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T> {
    parse(text).ok_or_else(|| corrupt(column))
}

fn parsed_opt<T>(
    text: Option<String>,
    column: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>> {
    text.map(|t| parsed(&t, column, parse)).transpose()
}

fn json<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_str(text).ok()
}

fn read_ledger(row: &Row) -> Result<LedgerEntry> {
    Ok(LedgerEntry {
        key: LedgerKey {
            realm: row.get(0),
            entity: parsed(row.get(1), "ledger.entity", EntityKind::parse)?,
            qbo_id: row.get(2),
        },
        order_id: row.get(3),
        order_number: row.get(4),
        sync_token: row.get(5),
        state: parsed(row.get(6), "ledger.state", LedgerState::parse)?,
        updated_at: parsed(row.get(7), "ledger.updated_at", parse_utc)?,
    })
}

fn read_log(row: &Row) -> Result<LogEntry> {
    let failure_message: Option<String> = row.get(15);
    let failure = failure_message.map(|message| FailureInfo {
        service: row.get(12),
        status: row.get::<_, Option<i32>>(13).and_then(|s| u16::try_from(s).ok()),
        code: row.get(14),
        message,
        request_id: row.get(16),
    });
    Ok(LogEntry {
        run_id: row.get(0),
        at: parsed(row.get(1), "log.at", parse_utc)?,
        realm: row.get(2),
        entity: parsed(row.get(3), "log.entity", EntityKind::parse)?,
        qbo_id: row.get(4),
        doc_number: row.get(5),
        customer: row.get(18),
        sync_token: row.get(6),
        last_updated: parsed_opt(row.get(7), "log.last_updated", |s| {
            DateTime::<FixedOffset>::parse_from_rfc3339(s).ok()
        })?,
        action: parsed(row.get(8), "log.action", Action::parse)?,
        reason: parsed_opt(row.get(9), "log.reason", |s| s.parse::<Reason>().ok())?,
        detail: row.get(10),
        order_number: row.get(11),
        failure,
        dry_run: row.get(17),
    })
}

fn read_token(row: &Row) -> Result<StoredToken> {
    let refresh: String = row.get(0);
    let access: Option<String> = row.get(1);
    Ok(StoredToken {
        refresh_token: SecretString::from(refresh),
        access_token: access.map(SecretString::from),
        access_expires_at: parsed_opt(row.get(2), "token.access_expires_at", parse_utc)?,
        refresh_expires_at: parsed_opt(row.get(3), "token.refresh_expires_at", parse_utc)?,
        refresh_hard_expires_at: parsed_opt(
            row.get(4),
            "token.refresh_hard_expires_at",
            parse_utc,
        )?,
        grant_fingerprint: row.get(5),
    })
}

async fn upsert_ledger(
    client: &impl GenericClient,
    e: &LedgerEntry,
    updated_at: &str,
) -> std::result::Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(&format!(
            "INSERT INTO ledger ({LEDGER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (realm, entity, qbo_id) DO UPDATE SET order_id = excluded.order_id, \
             order_number = excluded.order_number, sync_token = excluded.sync_token, \
             state = excluded.state, updated_at = excluded.updated_at"
        ))
        .await?;
    client
        .execute(
            &stmt,
            &[
                &e.key.realm,
                &e.key.entity.as_str(),
                &e.key.qbo_id,
                &e.order_id,
                &e.order_number,
                &e.sync_token,
                &e.state.as_str(),
                &updated_at,
            ],
        )
        .await
        .map(drop)
}

async fn upsert_cursor(
    client: &impl GenericClient,
    name: &str,
    at: &str,
) -> std::result::Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO cursor (name, at) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET at = excluded.at",
        )
        .await?;
    client.execute(&stmt, &[&name, &at]).await.map(drop)
}

async fn insert_log(
    client: &impl GenericClient,
    e: &LogEntry,
    at: &str,
) -> std::result::Result<(), tokio_postgres::Error> {
    let failure = e.failure.as_ref();
    let last_updated = e.last_updated.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, false));
    let stmt = client
        .prepare_cached(&format!(
            "INSERT INTO log ({LOG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
             $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        ))
        .await?;
    let status = failure.and_then(|f| f.status).map(i32::from);
    client
        .execute(
            &stmt,
            &[
                &e.run_id,
                &at,
                &e.realm,
                &e.entity.as_str(),
                &e.qbo_id,
                &e.doc_number,
                &e.sync_token,
                &last_updated,
                &e.action.as_str(),
                &e.reason.map(Reason::as_str),
                &e.detail,
                &e.order_number,
                &failure.and_then(|f| f.service.as_deref()),
                &status,
                &failure.and_then(|f| f.code.as_deref()),
                &failure.map(|f| f.message.as_str()),
                &failure.and_then(|f| f.request_id.as_deref()),
                &e.dry_run,
                &e.customer,
            ],
        )
        .await
        .map(drop)
}

/// A query's SQL with its parameters, numbered as they are pushed.
#[derive(Default)]
struct Sql {
    text: String,
    args: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Sql {
    /// Appends `clause`, whose `$` is replaced by the next parameter's number, and `value`.
    fn push(&mut self, clause: &str, value: impl ToSql + Sync + Send + 'static) {
        self.args.push(Box::new(value));
        self.text.push_str(&clause.replace('$', &format!("${}", self.args.len())));
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.args.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)).collect()
    }
}

/// `SELECT` `columns` `FROM log WHERE` every filter of `query`.
fn log_filters(query: &LogQuery, columns: &str) -> Sql {
    let mut sql = Sql { text: format!("SELECT {columns} FROM log WHERE true"), args: Vec::new() };
    let exact = [
        (" AND realm = $", &query.realm),
        (" AND run_id = $", &query.run_id),
        (" AND qbo_id = $", &query.qbo_id),
        (" AND doc_number = $", &query.doc_number),
        (" AND order_number = $", &query.order_number),
    ];
    for (clause, value) in exact {
        if let Some(v) = value {
            sql.push(clause, v.clone());
        }
    }
    if let Some(action) = query.action {
        sql.push(" AND action = $", action.as_str());
    }
    if let Some(entity) = query.entity {
        sql.push(" AND entity = $", entity.as_str());
    }
    if let Some(reason) = query.reason {
        sql.push(" AND reason = $", reason.as_str());
    }
    if let Some(from) = query.from {
        sql.push(" AND at >= $", bound_text(from));
    }
    if let Some(to) = query.to {
        sql.push(" AND at < $", bound_text(to));
    }
    if let Some(term) = query.text_term() {
        // `lower` under `COLLATE "C"` folds ASCII letters only; one index per column.
        sql.push(" AND (lower(doc_number) = lower($ COLLATE \"C\")", term.to_owned());
        sql.push(" OR lower(qbo_id) = lower($ COLLATE \"C\")", term.to_owned());
        sql.push(" OR lower(order_number) = lower($ COLLATE \"C\")", term.to_owned());
        sql.push(" OR lower(customer) = lower($ COLLATE \"C\"))", term.to_owned());
    }
    sql
}

/// One page of the log: the filters, the cursor as a row comparison on `(at, id)` (which the
/// indexes ending in `at, id` walk), in time order from the cursor, one row more than the page.
fn log_page_search(query: &LogQuery) -> Sql {
    let mut sql = log_filters(query, &format!("{LOG_COLUMNS}, id"));
    let seq = |c: &LogCursor| i64::try_from(c.seq).unwrap_or(i64::MAX);
    if let Some(before) = &query.before {
        sql.push(" AND (at, id) < ($", bound_text(before.at));
        sql.push(", $)", seq(before));
    }
    if let Some(after) = &query.after {
        sql.push(" AND (at, id) > ($", bound_text(after.at));
        sql.push(", $)", seq(after));
    }
    let order = if LogPage::reads_towards_older(query) { "DESC" } else { "ASC" };
    sql.text.push_str(&format!(" ORDER BY at {order}, id {order}"));
    let take = i64::try_from(query.page_size().saturating_add(1)).unwrap_or(i64::MAX);
    sql.push(" LIMIT $", take);
    sql
}

#[async_trait::async_trait]
impl TokenStore for PostgresStore {
    async fn load_token(&self, realm: &str) -> Result<Option<StoredToken>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT refresh_token, access_token, access_expires_at, refresh_expires_at, \
                 refresh_hard_expires_at, grant_fingerprint FROM token WHERE realm = $1",
                &[&realm],
            )
            .await
            .map_err(|e| pg_error(format!("could not load the tokens of realm {realm}"), e))?;
        row.as_ref().map(read_token).transpose()
    }

    async fn save_token(&self, realm: &str, token: &StoredToken) -> Result<()> {
        let text = |at: Option<DateTime<Utc>>| at.map(utc_text).transpose();
        let times = [
            text(token.access_expires_at)?,
            text(token.refresh_expires_at)?,
            text(token.refresh_hard_expires_at)?,
        ];
        let refresh = token.refresh_token.expose_secret();
        let access = token.access_token.as_ref().map(|t| t.expose_secret());
        let mut client = self.client().await?;
        let failed = |e| pg_error(format!("could not save the tokens of realm {realm}"), e);
        let tx = client.transaction().await.map_err(failed)?;
        tx.batch_execute("SET LOCAL synchronous_commit = on").await.map_err(failed)?;
        tx.execute(
            "INSERT INTO token (realm, refresh_token, access_token, access_expires_at, \
             refresh_expires_at, refresh_hard_expires_at, grant_fingerprint) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (realm) DO UPDATE SET \
             refresh_token = excluded.refresh_token, access_token = excluded.access_token, \
             access_expires_at = excluded.access_expires_at, \
             refresh_expires_at = excluded.refresh_expires_at, \
             refresh_hard_expires_at = excluded.refresh_hard_expires_at, \
             grant_fingerprint = excluded.grant_fingerprint",
            &[&realm, &refresh, &access, &times[0], &times[1], &times[2], &token.grant_fingerprint],
        )
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)
    }

    async fn forget_token(&self, realm: &str) -> Result<bool> {
        let mut client = self.client().await?;
        let failed = |e| pg_error(format!("could not forget the tokens of realm {realm}"), e);
        let tx = client.transaction().await.map_err(failed)?;
        // As durable as a save: a disconnected company must not come back connected.
        tx.batch_execute("SET LOCAL synchronous_commit = on").await.map_err(failed)?;
        let deleted =
            tx.execute("DELETE FROM token WHERE realm = $1", &[&realm]).await.map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(deleted > 0)
    }
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    async fn cursor(&self, name: &str) -> Result<Option<DateTime<Utc>>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT at FROM cursor WHERE name = $1", &[&name])
            .await
            .map_err(|e| pg_error(format!("could not read the cursor {name}"), e))?;
        row.map(|r| parsed(r.get(0), "cursor.at", parse_utc)).transpose()
    }

    async fn set_cursor(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        let at = utc_text(at)?;
        let failed = |e| pg_error(format!("could not move the cursor {name}"), e);
        let mut client = self.client().await?;
        let tx = self.begin_write(&mut client, "moving a cursor").await?;
        upsert_cursor(&tx, name, &at).await.map_err(failed)?;
        tx.commit().await.map_err(failed)
    }

    async fn ledger_entry(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT {LEDGER_COLUMNS} FROM ledger \
                     WHERE realm = $1 AND entity = $2 AND qbo_id = $3"
                ),
                &[&key.realm, &key.entity.as_str(), &key.qbo_id],
            )
            .await
            .map_err(|e| {
                let (r, en, id) = (&key.realm, key.entity, &key.qbo_id);
                pg_error(format!("could not read the ledger entry of {r} {en} {id}"), e)
            })?;
        row.as_ref().map(read_ledger).transpose()
    }

    async fn put_ledger_entry(&self, entry: &LedgerEntry) -> Result<()> {
        let updated_at = utc_text(entry.updated_at)?;
        let failed = |e| {
            let key = &entry.key;
            let (r, en, id) = (&key.realm, key.entity, &key.qbo_id);
            pg_error(format!("could not write the ledger entry of {r} {en} {id}"), e)
        };
        let mut client = self.client().await?;
        let tx = self.begin_write(&mut client, "writing a ledger entry").await?;
        upsert_ledger(&tx, entry, &updated_at).await.map_err(failed)?;
        tx.commit().await.map_err(failed)
    }

    async fn pending_entries(&self, realm: &str) -> Result<Vec<LedgerEntry>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {LEDGER_COLUMNS} FROM ledger WHERE realm = $1 AND state = 'pending' \
                     ORDER BY entity, qbo_id"
                ),
                &[&realm],
            )
            .await
            .map_err(|e| {
                pg_error(format!("could not list the pending ledger entries of realm {realm}"), e)
            })?;
        rows.iter().map(read_ledger).collect()
    }

    async fn commit(&self, commit: &Commit) -> Result<()> {
        let updated_at = match &commit.ledger {
            Some(LedgerChange::Put(entry)) => Some(utc_text(entry.updated_at)?),
            _ => None,
        };
        let at = utc_text(commit.log.at)?;
        let cursor = match &commit.cursor {
            Some((name, at)) => Some((name.as_str(), utc_text(*at)?)),
            None => None,
        };
        let entry = &commit.log;
        let failed = |e| {
            pg_error(
                format!(
                    "could not commit run {} for {} {} {} (nothing was written)",
                    entry.run_id, entry.realm, entry.entity, entry.qbo_id
                ),
                e,
            )
        };
        let mut client = self.client().await?;
        let tx = self.begin_write(&mut client, "committing an outcome").await?;
        match (&commit.ledger, &updated_at) {
            (Some(LedgerChange::Put(entry)), Some(updated_at)) => {
                upsert_ledger(&tx, entry, updated_at).await.map_err(failed)?;
            }
            (Some(LedgerChange::Remove(key)), _) => {
                tx.execute(
                    "DELETE FROM ledger WHERE realm = $1 AND entity = $2 AND qbo_id = $3",
                    &[&key.realm, &key.entity.as_str(), &key.qbo_id],
                )
                .await
                .map_err(failed)?;
            }
            _ => {}
        }
        insert_log(&tx, entry, &at).await.map_err(failed)?;
        if let Some((name, at)) = &cursor {
            upsert_cursor(&tx, name, at).await.map_err(failed)?;
        }
        tx.commit().await.map_err(failed)
    }

    async fn query_log(&self, query: &LogQuery) -> Result<Vec<LogEntry>> {
        let mut sql = log_filters(query, LOG_COLUMNS);
        sql.text.push_str(" ORDER BY id");
        if let Some(limit) = query.limit {
            sql.push(" LIMIT $", i64::try_from(limit).unwrap_or(i64::MAX));
        }
        let client = self.client().await?;
        let rows = client
            .query(&sql.text, &sql.params())
            .await
            .map_err(|e| pg_error("could not search the transaction log", e))?;
        rows.iter().map(read_log).collect()
    }

    async fn log_page(&self, query: &LogQuery) -> Result<LogPage> {
        let sql = log_page_search(query);
        let client = self.client().await?;
        let rows = client
            .query(&sql.text, &sql.params())
            .await
            .map_err(|e| pg_error("could not read a page of the transaction log", e))?;
        let rows = rows
            .iter()
            .map(|row| {
                let entry = read_log(row)?;
                let seq = u64::try_from(row.get::<_, i64>(19)).unwrap_or_default();
                Ok((LogCursor::new(entry.at, seq), entry))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(LogPage::from_rows(query, rows))
    }

    async fn run_summary(&self, realm: &str, run_id: &str) -> Result<RunSummary> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT action, count(*) FROM log WHERE run_id = $1 AND realm = $2 \
                 GROUP BY action",
                &[&run_id, &realm],
            )
            .await
            .map_err(|e| {
                let what = format!("could not count the log entries of run {run_id} of {realm}");
                pg_error(what, e)
            })?;
        let mut summary = RunSummary::default();
        for row in &rows {
            let action = parsed(row.get(0), "log.action", Action::parse)?;
            summary.add(action, u64::try_from(row.get::<_, i64>(1)).unwrap_or(0));
        }
        Ok(summary)
    }

    async fn start_run(&self, realm: &str, run_id: &str) -> Result<bool> {
        let inserted = self
            .write_one(
                "starting a run",
                "INSERT INTO run (realm, run_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&realm, &run_id],
                |e| {
                    let what = format!("could not record the start of run {run_id} of {realm}");
                    pg_error(what, e)
                },
            )
            .await?;
        Ok(inserted == 1)
    }

    async fn connected_realms(&self) -> Result<Vec<String>> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT realm FROM token ORDER BY realm", &[])
            .await
            .map_err(|e| pg_error("could not list the companies with saved tokens", e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn company_country(&self, realm: &str) -> Result<Option<CompanyCountry>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT country, country_read_at FROM company WHERE realm = $1", &[&realm])
            .await
            .map_err(|e| pg_error(format!("could not read the country of company {realm}"), e))?;
        row.map(|r| {
            Ok(CompanyCountry {
                country: r.get(0),
                read_at: parsed(r.get(1), "company.country_read_at", parse_utc)?,
            })
        })
        .transpose()
    }

    async fn save_company_country(&self, realm: &str, country: &CompanyCountry) -> Result<()> {
        let read_at = utc_text(country.read_at)?;
        country.check(realm)?;
        let code = country.country.as_deref();
        self.write_one(
            "saving the company's country",
            "INSERT INTO company (realm, country, country_read_at) VALUES ($1, $2, $3) \
             ON CONFLICT (realm) DO UPDATE SET country = excluded.country, \
             country_read_at = excluded.country_read_at",
            &[&realm, &code, &read_at],
            |e| pg_error(format!("could not save the country of company {realm}"), e),
        )
        .await
        .map(drop)
    }

    async fn company_settings(&self, realm: &str) -> Result<Option<CompanySettings>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT settings::text FROM company_settings WHERE realm = $1", &[&realm])
            .await
            .map_err(|e| pg_error(format!("could not read the settings of company {realm}"), e))?;
        row.map(|r| CompanySettings::from_stored(realm, r.get(0))).transpose()
    }

    async fn save_company_settings(&self, realm: &str, settings: &CompanySettings) -> Result<()> {
        let doc = settings.to_stored()?;
        self.write_one(
            "saving the company's settings",
            "INSERT INTO company_settings (realm, settings) VALUES ($1, $2::text::jsonb) \
             ON CONFLICT (realm) DO UPDATE SET settings = excluded.settings",
            &[&realm, &doc],
            |e| pg_error(format!("could not save the settings of company {realm}"), e),
        )
        .await
        .map(drop)
    }

    async fn sent_order(&self, key: &LedgerKey) -> Result<Option<SentOrder>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT order_number, shipping_address::text, billing_address::text, \
                 lines::text, sent_at FROM sent_order \
                 WHERE realm = $1 AND entity = $2 AND qbo_id = $3",
                &[&key.realm, &key.entity.as_str(), &key.qbo_id],
            )
            .await
            .map_err(|e| {
                let (r, en, id) = (&key.realm, key.entity, &key.qbo_id);
                pg_error(format!("could not read what was sent to the order of {r} {en} {id}"), e)
            })?;
        row.map(|r| {
            Ok(SentOrder {
                order_number: r.get(0),
                shipping_address: parsed(r.get(1), "sent_order.shipping_address", json)?,
                billing_address: parsed(r.get(2), "sent_order.billing_address", json)?,
                lines: parsed(r.get(3), "sent_order.lines", json)?,
                sent_at: parsed(r.get(4), "sent_order.sent_at", parse_utc)?,
            })
        })
        .transpose()
    }

    async fn save_sent_order(&self, key: &LedgerKey, sent: &SentOrder) -> Result<()> {
        let (r, en, id) = (&key.realm, key.entity, &key.qbo_id);
        let what = || format!("could not record what was sent to the order of {r} {en} {id}");
        let encode = |value: serde_json::Result<String>| {
            value.map_err(|e| Error::store(what()).with_source(e))
        };
        let shipping = encode(serde_json::to_string(&sent.shipping_address))?;
        let billing = encode(serde_json::to_string(&sent.billing_address))?;
        let lines = encode(serde_json::to_string(&sent.lines))?;
        let sent_at = utc_text(sent.sent_at)?;
        self.write_one(
            "recording what was sent",
            "INSERT INTO sent_order (realm, entity, qbo_id, order_number, shipping_address, \
             billing_address, lines, sent_at) VALUES ($1, $2, $3, $4, $5::text::jsonb, \
             $6::text::jsonb, $7::text::jsonb, $8) \
             ON CONFLICT (realm, entity, qbo_id) DO UPDATE SET \
             order_number = excluded.order_number, \
             shipping_address = excluded.shipping_address, \
             billing_address = excluded.billing_address, lines = excluded.lines, \
             sent_at = excluded.sent_at",
            &[r, &en.as_str(), id, &sent.order_number, &shipping, &billing, &lines, &sent_at],
            |e| pg_error(what(), e),
        )
        .await
        .map(drop)
    }

    async fn cached_items(&self, realm: &str, ids: &[String]) -> Result<Vec<QboItem>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT doc::text FROM item WHERE realm = $1 AND id = ANY($2) \
                 ORDER BY array_position($2, id)",
                &[&realm, &ids],
            )
            .await
            .map_err(|e| {
                pg_error(format!("could not read the cached items of company {realm}"), e)
            })?;
        // A cached document that no longer reads is as good as not cached.
        Ok(rows.iter().filter_map(|r| serde_json::from_str::<QboItem>(r.get(0)).ok()).collect())
    }

    async fn cache_items(&self, realm: &str, items: &[QboItem]) -> Result<()> {
        let rows = items
            .iter()
            .map(|i| serde_json::to_string(i).map(|doc| (i, doc)))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::store(format!("could not encode a QBO item: {e}")))?;
        let failed = |e| pg_error(format!("could not cache the items of company {realm}"), e);
        let mut client = self.client().await?;
        let tx = self.begin_write(&mut client, "caching items").await?;
        // An older read never replaces a newer version: unless both tokens are numbers (as
        // `newer_or_same_item` reads them) and the new one is lower.
        let stmt = tx
            .prepare_cached(
                "INSERT INTO item (realm, id, sync_token, doc) VALUES ($1, $2, $3, $4::text::jsonb) \
                 ON CONFLICT (realm, id) DO UPDATE SET sync_token = excluded.sync_token, \
                 doc = excluded.doc WHERE NOT ( \
                 coalesce(btrim(item.sync_token) ~ '^[0-9]{1,19}$', false) \
                 AND coalesce(btrim(excluded.sync_token) ~ '^[0-9]{1,19}$', false) \
                 AND btrim(excluded.sync_token)::numeric < btrim(item.sync_token)::numeric)",
            )
            .await
            .map_err(failed)?;
        for (item, doc) in &rows {
            tx.execute(&stmt, &[&realm, &item.id, &item.sync_token, doc]).await.map_err(failed)?;
        }
        tx.commit().await.map_err(failed)
    }

    async fn sku_mappings(&self, realm: &str) -> Result<Vec<SkuMapping>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT key_by, key, sku FROM sku_mapping WHERE realm = $1 ORDER BY key_by, key",
                &[&realm],
            )
            .await
            .map_err(|e| {
                pg_error(format!("could not read the SKU mappings of company {realm}"), e)
            })?;
        Ok(rows
            .iter()
            .map(|row| {
                let key: String = row.get(1);
                let key = match row.get::<_, &str>(0) {
                    "id" => SkuKey::ItemId(key),
                    _ => SkuKey::ItemName(key),
                };
                SkuMapping { key, sku: row.get(2) }
            })
            .collect())
    }

    async fn put_sku_mapping(&self, realm: &str, mapping: &SkuMapping) -> Result<()> {
        self.write_one(
            "saving a SKU mapping",
            "INSERT INTO sku_mapping (realm, key_by, key, sku) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (realm, key_by, key) DO UPDATE SET sku = excluded.sku",
            &[&realm, &mapping.key.kind(), &mapping.key.value(), &mapping.sku],
            |e| pg_error(format!("could not save a SKU mapping of company {realm}"), e),
        )
        .await
        .map(drop)
    }

    async fn remove_sku_mapping(&self, realm: &str, key: &SkuKey) -> Result<bool> {
        self.write_one(
            "removing a SKU mapping",
            "DELETE FROM sku_mapping WHERE realm = $1 AND key_by = $2 AND key = $3",
            &[&realm, &key.kind(), &key.value()],
            |e| pg_error(format!("could not remove a SKU mapping of company {realm}"), e),
        )
        .await
        .map(|n| n > 0)
    }

    async fn retry_entries(&self, realm: &str) -> Result<Vec<RetryEntry>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT realm, entity, qbo_id, sync_token, reason, failed_at, run_id \
                 FROM retry WHERE realm = $1 ORDER BY entity, qbo_id",
                &[&realm],
            )
            .await
            .map_err(|e| pg_error(format!("could not read the retry set of company {realm}"), e))?;
        rows.iter()
            .map(|row| {
                Ok(RetryEntry {
                    key: LedgerKey {
                        realm: row.get(0),
                        entity: parsed(row.get(1), "retry.entity", EntityKind::parse)?,
                        qbo_id: row.get(2),
                    },
                    sync_token: row.get(3),
                    reason: parsed(row.get(4), "retry.reason", |r| r.parse::<Reason>().ok())?,
                    failed_at: parsed(row.get(5), "retry.failed_at", parse_utc)?,
                    run_id: row.get(6),
                })
            })
            .collect()
    }

    async fn put_retry_entry(&self, entry: &RetryEntry) -> Result<()> {
        let failed_at = utc_text(entry.failed_at)?;
        let key = &entry.key;
        self.write_one(
            "adding to the retry set",
            "INSERT INTO retry (realm, entity, qbo_id, sync_token, reason, failed_at, \
             run_id) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (realm, entity, qbo_id) DO UPDATE SET \
             sync_token = excluded.sync_token, reason = excluded.reason, \
             failed_at = excluded.failed_at, run_id = excluded.run_id",
            &[
                &key.realm,
                &key.entity.as_str(),
                &key.qbo_id,
                &entry.sync_token,
                &entry.reason.as_str(),
                &failed_at,
                &entry.run_id,
            ],
            |e| {
                let what = format!("could not add {} {} to the retry set", key.entity, key.qbo_id);
                pg_error(what, e)
            },
        )
        .await
        .map(drop)
    }

    async fn remove_retry_entry(&self, key: &LedgerKey) -> Result<()> {
        self.write_one(
            "removing from the retry set",
            "DELETE FROM retry WHERE realm = $1 AND entity = $2 AND qbo_id = $3",
            &[&key.realm, &key.entity.as_str(), &key.qbo_id],
            |e| {
                let what =
                    format!("could not remove {} {} from the retry set", key.entity, key.qbo_id);
                pg_error(what, e)
            },
        )
        .await
        .map(drop)
    }

    async fn processed_events(&self, realm: &str, keys: &[String]) -> Result<Vec<String>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT key FROM processed_event WHERE realm = $1 AND key = ANY($2)",
                &[&realm, &keys],
            )
            .await
            .map_err(|e| {
                let what = format!("could not read the processed webhook events of {realm}");
                pg_error(what, e)
            })?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn mark_events_processed(
        &self,
        realm: &str,
        keys: &[String],
        at: DateTime<Utc>,
    ) -> Result<()> {
        let at = utc_text(at)?;
        // One statement for the whole batch: atomic, and a key recorded again keeps its time.
        self.write_one(
            "marking events processed",
            "INSERT INTO processed_event (realm, key, processed_at) \
             SELECT $1, k, $3 FROM unnest($2::text[]) AS k \
             ON CONFLICT (realm, key) DO NOTHING",
            &[&realm, &keys, &at],
            |e| {
                let what = format!("could not record webhook events of {realm} as processed");
                pg_error(what, e)
            },
        )
        .await
        .map(drop)
    }

    async fn forget_events_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let before = bound_text(before);
        self.write_one(
            "forgetting processed events",
            "DELETE FROM processed_event WHERE processed_at < $1",
            &[&before],
            |e| pg_error("could not forget old processed webhook events", e),
        )
        .await
    }
}
