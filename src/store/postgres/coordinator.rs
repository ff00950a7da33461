//! [`PostgresCoordinator`]: the fleet's [`Coordinator`] in the PostgreSQL database of a
//! [`PostgresStore`], so that workers on any number of machines share the companies, their
//! leases, the webhook queue and each Ordoro account's request budget.
//!
//! The type's documentation says how (claims with `SKIP LOCKED`, fencing in the write's own
//! transaction, the database's clock, `LISTEN/NOTIFY`) and why no job-queue crate.

use std::pin::pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio::time::{Instant, timeout_at};
use tokio_postgres::{AsyncMessage, NoTls, Row};

use super::{PostgresStore, parsed, parsed_opt, pg_error};
use crate::Result;
use crate::fleet::{
    CompanyState, Coordinator, FleetCompany, Lease, QueuedEvent, lost, slot_interval,
};
use crate::store::Store;
use crate::store::stored_time::{parse_utc, utc_text};
use crate::webhook::{ChangeEvent, Operation};

/// The channel workers listen on and the coordinator notifies when work may have arrived.
pub const WORK_CHANNEL: &str = "qbo_ordoro_work";

/// The longest duration sent to the database (a hundred years): longer ones would overflow a
/// `timestamptz` and mean "never" anyway.
const LONGEST: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The listening connection's TCP keepalive: a connection lost without a word (a network
/// partition) is noticed within a minute or so, not after the system's two hours.
const LISTEN_KEEPALIVE: Duration = Duration::from_secs(30);

const CLAIM: &str = "WITH due AS ( \
        SELECT realm FROM fleet_company \
        WHERE due_at <= now() AND (holder IS NULL OR expires_at <= now()) \
        ORDER BY due_at, realm LIMIT $2 \
        FOR UPDATE SKIP LOCKED) \
    UPDATE fleet_company AS c \
    SET epoch = c.epoch + 1, holder = $1, \
        expires_at = now() + $3::bigint * interval '1 microsecond' \
    FROM due WHERE c.realm = due.realm \
    RETURNING c.realm, c.ordoro_account, c.epoch, c.expires_at, c.due_at";

/// The lease is still the company's: the same predicate as the fenced store's check (with its
/// `statement_timestamp()`, so that release, whose check follows a `BEGIN`, is judged by the
/// check's own instant).
const HELD: &str =
    "realm = $1 AND epoch = $2 AND holder = $3 AND expires_at > statement_timestamp()";

/// The fleet's coordinator in PostgreSQL.
///
/// **Claims with `FOR UPDATE SKIP LOCKED`.** A claim is one statement: it picks the due,
/// unheld companies (oldest due first) and locks them, skipping any row another transaction
/// has locked (a concurrent claim, a fenced write in flight, an enqueue), then gives each a new
/// epoch, the worker's name and an expiry. Workers claiming at once therefore get disjoint
/// companies and never wait on each other; a row skipped now is claimed by the next claim. This
/// is the pattern PostgreSQL job queues use (graphile-worker, River, apalis, Que), without
/// their job table.
///
/// **Fencing by the database.** [`fenced_store`](Coordinator::fenced_store) is the
/// [`PostgresStore`] with the lease as its fence: each write first locks the company's row
/// `FOR SHARE` with the lease's epoch, holder and an unexpired `expires_at` in its `WHERE`, in
/// the write's own transaction. A claim cannot take the company while such a write is open
/// (the row is locked), and a write that starts after a claim finds the new epoch and is
/// refused with [`ErrorKind::LeaseLost`](crate::ErrorKind::LeaseLost), nothing written. A
/// worker that stalls inside such a write (a paused process) holds the row for ten seconds at
/// most: the write's transaction sets `idle_in_transaction_session_timeout`, and PostgreSQL
/// ends the session, rolling the write back.
///
/// **Time is the database's.** Every lease, due and budget instant is computed by PostgreSQL
/// (`now()`), so workers' clocks never need to agree; durations travel as microseconds.
///
/// **Waking workers with `LISTEN/NOTIFY`.** Adding a company, releasing one and queueing events
/// send `NOTIFY qbo_ordoro_work` in the same transaction (delivered at commit, so a woken worker
/// sees the change). Each coordinator keeps one connection of its own, outside the pool, that
/// listens on the channel; [`wait_for_work`](Coordinator::wait_for_work) returns at the first
/// notification or its timeout. A notification is only a hint (the worker claims again either
/// way), so a lost listening connection costs latency, never work: it is opened again lazily,
/// and meanwhile a wait lasts its timeout.
///
/// **Why no job-queue crate.** apalis (its PostgreSQL storage, `apalis-sql` / `apalis-postgres`)
/// and graphile_worker (0.13) claim jobs with this same `SKIP LOCKED` query and wake workers with
/// `LISTEN/NOTIFY`, but they own the job table, the job's life and its retry model: a job is a
/// payload run to completion once, retried with exponential backoff on failure, and held by a
/// worker id that nothing checks when the job later writes elsewhere. Here the unit of work is
/// a company, not a job: it is never done (it is due again after each run); its lease carries an
/// epoch that every state write of the run is checked against in the write's own transaction;
/// the engine's ledger and settle path, not a queue's retries, make creates exactly-once; and its
/// webhook events are drained by the company's holder, not by whichever worker is free. Fitting
/// that into a job queue would mean a job per run plus a lease table of our own beside theirs,
/// two sources of truth, and a second driver and pool (both crates sit on sqlx) beside the
/// store's tokio-postgres; the few statements here are less.
///
/// ```no_run
/// # async fn run() -> qbo_ordoro::Result<()> {
/// use std::time::Duration;
/// use qbo_ordoro::PostgresCoordinator;
/// use qbo_ordoro::fleet::{Coordinator, FleetCompany};
///
/// let fleet = PostgresCoordinator::connect("host=/run/postgresql dbname=qbo", 16).await?;
/// let company = FleetCompany { realm: "123".into(), ordoro_account: "acme".into() };
/// fleet.add_company(&company).await?;
/// for lease in fleet.claim("worker-1", 8, Duration::from_secs(30)).await? {
///     let store = fleet.fenced_store(&lease); // every write checked against the lease
///     # let _ = store;
///     fleet.release(&lease, Duration::from_secs(900)).await?;
/// }
/// # Ok(()) }
/// ```
///
/// Connections: the pool serves the engine's store and the coordinator alike, so give it at
/// least one connection per company run at once (`FleetConfig::max_concurrent`) plus a few for
/// claims, renewals and the Ordoro budget; the listening connection is one more, outside the
/// pool. Cheap to clone; clones share the pool and the listening connection.
#[derive(Clone)]
pub struct PostgresCoordinator {
    store: PostgresStore,
    listener: Arc<Listener>,
}

impl std::fmt::Debug for PostgresCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresCoordinator").field("store", &self.store).finish_non_exhaustive()
    }
}

impl PostgresCoordinator {
    /// The coordinator over `store`'s database (its schema already brought up to date by the
    /// store). A store opened with [`PostgresStore::connect`] also gives the listening
    /// connection its settings; over a host's own pool ([`PostgresStore::with_pool`]) there is
    /// no `LISTEN`, and [`wait_for_work`](Coordinator::wait_for_work) waits its timeout.
    pub fn new(store: PostgresStore) -> Self {
        let config = store.config.clone().map(|mut config| {
            config.keepalives_idle(LISTEN_KEEPALIVE);
            config
        });
        if config.is_none() {
            tracing::info!(
                "PostgreSQL coordinator over a host's pool: no LISTEN, workers poll for work"
            );
        }
        let conn = Arc::new(StdMutex::new(Conn::Down));
        let listener = Listener { config, wake: Arc::new(Notify::new()), conn };
        let store = PostgresStore { fence: None, ..store };
        PostgresCoordinator { store, listener: Arc::new(listener) }
    }

    /// Connects as [`PostgresStore::connect`] does (a libpq connection string, a pool of up to
    /// `max_connections`) and returns the coordinator over it.
    pub async fn connect(config: &str, max_connections: usize) -> Result<Self> {
        Ok(Self::new(PostgresStore::connect(config, max_connections).await?))
    }

    /// True while the connection that listens for work is open (it opens on the first
    /// [`wait_for_work`](Coordinator::wait_for_work), and again on the first after it was
    /// lost): for health checks and tests.
    pub fn is_listening(&self) -> bool {
        self.listener.is_up()
    }

    /// The store underneath, unfenced.
    pub fn postgres_store(&self) -> &PostgresStore {
        &self.store
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.store.client().await
    }
}

/// A duration as the microseconds the statements multiply by `interval '1 microsecond'`.
fn micros(d: Duration) -> i64 {
    i64::try_from(d.min(LONGEST).as_micros()).unwrap_or(i64::MAX)
}

fn epoch(lease: &Lease) -> i64 {
    i64::try_from(lease.epoch).unwrap_or(i64::MAX)
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn read_event(row: &Row) -> Result<QueuedEvent> {
    let operation = parsed(row.get(4), "webhook_queue.operation", |s| {
        Operation::ALL.into_iter().find(|o| o.as_str() == s)
    })?;
    Ok(QueuedEvent {
        seq: count(row.get(0)),
        event: ChangeEvent {
            realm_id: row.get(1),
            entity: row.get(2),
            qbo_id: row.get(3),
            operation,
            event_id: row.get(5),
            occurred_at: parsed_opt(row.get(6), "webhook_queue.occurred_at", parse_utc)?,
            deleted_id: row.get(7),
        },
    })
}

#[async_trait::async_trait]
impl Coordinator for PostgresCoordinator {
    async fn add_company(&self, company: &FleetCompany) -> Result<()> {
        let client = self.client().await?;
        client
            .query(
                "WITH up AS ( \
                    INSERT INTO fleet_company (realm, ordoro_account, due_at) \
                    VALUES ($1, $2, now()) \
                    ON CONFLICT (realm) DO UPDATE SET ordoro_account = excluded.ordoro_account \
                    RETURNING realm) \
                 SELECT pg_notify('qbo_ordoro_work', realm) FROM up",
                &[&company.realm, &company.ordoro_account],
            )
            .await
            .map(drop)
            .map_err(|e| {
                pg_error(format!("could not add company {} to the fleet", company.realm), e)
            })
    }

    async fn companies(&self) -> Result<Vec<CompanyState>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT c.realm, c.ordoro_account, c.due_at, c.epoch, \
                    CASE WHEN c.expires_at > now() THEN c.holder END, c.expires_at, c.runs, \
                    (SELECT count(*) FROM webhook_queue q WHERE q.realm = c.realm) \
                 FROM fleet_company c ORDER BY c.realm",
                &[],
            )
            .await
            .map_err(|e| pg_error("could not list the fleet's companies", e))?;
        Ok(rows
            .iter()
            .map(|row| CompanyState {
                company: FleetCompany { realm: row.get(0), ordoro_account: row.get(1) },
                due_at: row.get(2),
                epoch: count(row.get(3)),
                holder: row.get(4),
                expires_at: row.get(5),
                runs: count(row.get(6)),
                queued_events: count(row.get(7)),
            })
            .collect())
    }

    async fn claim(&self, worker: &str, max: usize, lease_for: Duration) -> Result<Vec<Lease>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(CLAIM)
            .await
            .map_err(|e| pg_error("could not claim companies", e))?;
        let rows = client
            .query(&stmt, &[&worker, &limit, &micros(lease_for)])
            .await
            .map_err(|e| pg_error("could not claim companies", e))?;
        let mut claimed: Vec<_> = rows
            .iter()
            .map(|row| {
                let due_at: chrono::DateTime<chrono::Utc> = row.get(4);
                let lease = Lease {
                    company: FleetCompany { realm: row.get(0), ordoro_account: row.get(1) },
                    worker: worker.to_owned(),
                    epoch: count(row.get(2)),
                    expires_at: row.get(3),
                };
                (due_at, lease)
            })
            .collect();
        // `RETURNING` keeps no order: those due longest ago first, as they were picked.
        claimed.sort_by(|(a, x), (b, y)| (a, x.realm()).cmp(&(b, y.realm())));
        Ok(claimed.into_iter().map(|(_, lease)| lease).collect())
    }

    async fn renew(&self, lease: &Lease, lease_for: Duration) -> Result<Lease> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "UPDATE fleet_company \
                     SET expires_at = now() + $4::bigint * interval '1 microsecond' \
                     WHERE {HELD} RETURNING expires_at"
                ),
                &[&lease.realm(), &epoch(lease), &lease.worker, &micros(lease_for)],
            )
            .await
            .map_err(|e| pg_error(format!("could not renew the lease on {}", lease.realm()), e))?;
        match row {
            Some(row) => Ok(Lease { expires_at: row.get(0), ..lease.clone() }),
            None => Err(lost(lease, "renewing the lease")),
        }
    }

    async fn release(&self, lease: &Lease, due_in: Duration) -> Result<()> {
        let failed = |e| pg_error(format!("could not release company {}", lease.realm()), e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(failed)?;
        // First lock the row (an enqueue holding it commits first), then, in a statement of its
        // own and so with a snapshot taken after the lock, look for queued events: an event
        // queued by a transaction that held the row is seen, and one queued after this commits
        // makes the company due itself.
        let held = tx
            .query_opt(
                &format!("SELECT 1 FROM fleet_company WHERE {HELD} FOR UPDATE"),
                &[&lease.realm(), &epoch(lease), &lease.worker],
            )
            .await
            .map_err(failed)?;
        if held.is_none() {
            return Err(lost(lease, "releasing the lease"));
        }
        tx.query(
            "WITH released AS ( \
                UPDATE fleet_company \
                SET holder = NULL, expires_at = now(), runs = runs + 1, \
                    due_at = CASE WHEN EXISTS (SELECT 1 FROM webhook_queue WHERE realm = $1) \
                        THEN now() ELSE now() + $2::bigint * interval '1 microsecond' END \
                WHERE realm = $1 RETURNING realm) \
             SELECT pg_notify('qbo_ordoro_work', realm) FROM released",
            &[&lease.realm(), &micros(due_in)],
        )
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)
    }

    fn fenced_store(&self, lease: &Lease) -> Arc<dyn Store> {
        Arc::new(self.store.fenced(lease))
    }

    fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.store.clone())
    }

    async fn enqueue_events(&self, events: &[ChangeEvent]) -> Result<usize> {
        if events.is_empty() {
            return Ok(0);
        }
        let failed = |e| pg_error("could not queue webhook events", e);
        let mut realms: Vec<&str> = events.iter().map(|e| e.realm_id.as_str()).collect();
        realms.sort_unstable();
        realms.dedup();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(failed)?;
        // The companies' rows first, locked in realm order (no deadlock between two enqueues):
        // while one enqueue holds a company's row, another waits, so a company's events take
        // their sequence numbers in the order they commit, and `ack_events` up to a number
        // never takes an event a run did not see.
        let known = tx
            .query(
                "UPDATE fleet_company SET due_at = least(due_at, now()) WHERE realm IN ( \
                    SELECT realm FROM fleet_company WHERE realm = ANY($1) \
                    ORDER BY realm FOR UPDATE) \
                 RETURNING realm",
                &[&realms],
            )
            .await
            .map_err(failed)?;
        let known: Vec<String> = known.iter().map(|r| r.get(0)).collect();
        let queued: Vec<&ChangeEvent> =
            events.iter().filter(|e| known.contains(&e.realm_id)).collect();
        if queued.is_empty() {
            return Ok(0);
        }
        let column = |f: fn(&ChangeEvent) -> Option<String>| -> Vec<Option<String>> {
            queued.iter().map(|e| f(e)).collect()
        };
        let occurred = queued
            .iter()
            .map(|e| e.occurred_at.map(utc_text).transpose())
            .collect::<Result<Vec<_>>>()?;
        tx.execute(
            "INSERT INTO webhook_queue \
                (realm, entity, qbo_id, operation, event_id, occurred_at, deleted_id) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                $6::text[], $7::text[])",
            &[
                &column(|e| Some(e.realm_id.clone())),
                &column(|e| Some(e.entity.clone())),
                &column(|e| Some(e.qbo_id.clone())),
                &column(|e| Some(e.operation.as_str().to_owned())),
                &column(|e| e.event_id.clone()),
                &occurred,
                &column(|e| e.deleted_id.clone()),
            ],
        )
        .await
        .map_err(failed)?;
        tx.execute("SELECT pg_notify('qbo_ordoro_work', '')", &[]).await.map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(queued.len())
    }

    async fn queued_events(&self, lease: &Lease, max: usize) -> Result<Vec<QueuedEvent>> {
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT seq, realm, entity, qbo_id, operation, event_id, occurred_at, deleted_id \
                 FROM webhook_queue WHERE realm = $1 ORDER BY seq LIMIT $2",
                &[&lease.realm(), &limit],
            )
            .await
            .map_err(|e| {
                pg_error(format!("could not read the queued events of {}", lease.realm()), e)
            })?;
        rows.iter().map(read_event).collect()
    }

    async fn ack_events(&self, lease: &Lease, seq: u64) -> Result<()> {
        let failed = |e| {
            pg_error(format!("could not take the events of {} off the queue", lease.realm()), e)
        };
        let upto = i64::try_from(seq).unwrap_or(i64::MAX);
        let fenced = self.store.fenced(lease);
        let mut client = self.client().await?;
        let tx = fenced.begin_write(&mut client, "acknowledging webhook events").await?;
        tx.execute(
            "DELETE FROM webhook_queue WHERE realm = $1 AND seq <= $2",
            &[&lease.realm(), &upto],
        )
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)
    }

    async fn reserve_ordoro_request(&self, account: &str, per_minute: u32) -> Result<Duration> {
        let interval = micros(slot_interval(per_minute));
        let client = self.client().await?;
        // One upsert, atomic under the row's lock: the slot is the account's next one or now,
        // whichever is later, and the next is one interval on; the wait is the slot's distance
        // from now, both by the database's clock.
        let row = client
            .query_one(
                "INSERT INTO ordoro_budget AS b (account, next_slot) \
                 VALUES ($1, now() + $2::bigint * interval '1 microsecond') \
                 ON CONFLICT (account) DO UPDATE \
                 SET next_slot = greatest(b.next_slot, now()) + $2::bigint * interval '1 microsecond' \
                 RETURNING (extract(epoch FROM b.next_slot - now()) * 1000000)::bigint - $2::bigint",
                &[&account, &interval],
            )
            .await
            .map_err(|e| {
                pg_error(format!("could not reserve a request of Ordoro account {account}"), e)
            })?;
        let wait: i64 = row.get(0);
        Ok(Duration::from_micros(u64::try_from(wait).unwrap_or(0)))
    }

    async fn wait_for_work(&self, timeout: Duration) {
        self.listener.wait(timeout).await;
    }
}

/// The coordinator's `LISTEN`: one connection of its own, opened lazily by a task of its own
/// (so that a short wait never cancels a connection half made), and a [`Notify`] that the
/// connection's task wakes on each notification.
struct Listener {
    config: Option<tokio_postgres::Config>,
    wake: Arc<Notify>,
    conn: Arc<StdMutex<Conn>>,
}

/// The listening connection's state.
enum Conn {
    /// None open (not yet, or lost): the next wait opens one.
    Down,
    /// A task is opening one.
    Opening,
    /// Open: the client (dropping it closes the connection) and the task that reads the
    /// connection's messages, finished once the connection is lost.
    Up { _client: tokio_postgres::Client, task: tokio::task::JoinHandle<()> },
}

impl Listener {
    /// Waits for a notification or `timeout`, first starting to open the listening connection
    /// when there is none (on failure the wait simply lasts its timeout, so a worker whose
    /// database is away neither spins nor stops; the next wait tries again).
    async fn wait(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout.min(LONGEST);
        // Registered first, so a notification that arrives while connecting still counts.
        let mut notified = pin!(self.wake.notified());
        notified.as_mut().enable();
        self.connect_if_down();
        let _ = timeout_at(deadline, notified).await;
    }

    fn is_up(&self) -> bool {
        matches!(&*lock(&self.conn), Conn::Up { task, .. } if !task.is_finished())
    }

    fn connect_if_down(&self) {
        let Some(config) = &self.config else { return };
        {
            let mut conn = lock(&self.conn);
            match &*conn {
                Conn::Opening => return,
                Conn::Up { task, .. } if !task.is_finished() => return,
                _ => *conn = Conn::Opening,
            }
        }
        let (config, wake, conn) = (config.clone(), self.wake.clone(), self.conn.clone());
        tokio::spawn(async move {
            let opened = open(&config, wake).await;
            *lock(&conn) = match opened {
                Ok((client, task)) => Conn::Up { _client: client, task },
                Err(e) => {
                    tracing::debug!(error = %e, "could not LISTEN for fleet work; polling");
                    Conn::Down
                }
            };
        });
    }
}

fn lock(conn: &StdMutex<Conn>) -> std::sync::MutexGuard<'_, Conn> {
    conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Opens a connection, starts the task that drives it (waking waiters on each notification;
/// it ends when the connection does) and subscribes to [`WORK_CHANNEL`].
async fn open(
    config: &tokio_postgres::Config,
    wake: Arc<Notify>,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
    let failed = |e| pg_error("could not open the fleet's LISTEN connection", e);
    let (client, mut connection) = config.connect(NoTls).await.map_err(failed)?;
    let task = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => wake.notify_waiters(),
                Ok(_) => {}
                Err(e) => {
                    tracing::info!(error = %e, "the fleet's LISTEN connection was lost");
                    break;
                }
            }
        }
    });
    client.batch_execute(&format!("LISTEN {WORK_CHANNEL}")).await.map_err(failed)?;
    Ok((client, task))
}
