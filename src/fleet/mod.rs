//! Many companies shared by many workers: a [`Coordinator`] (the companies, their leases, the
//! webhook queue and each Ordoro account's request budget, kept in a database all workers share)
//! and the [`Fleet`] runner, which claims due companies, runs each through the same
//! [`SyncEngine`](crate::SyncEngine) as a single process does, and releases it.
//!
//! **Leases.** A worker runs a company only while it holds the company's lease: claimed when the
//! company is due and nobody holds it (or the holder's lease expired), renewed while the run
//! lasts, released after it. Each claim gives the lease a new *epoch*, one higher than any
//! before for that company. Three mechanisms, each closing a different gap, keep one order per
//! sale when a worker stalls past its lease (a long pause, a lost network) and wakes up
//! mid-run:
//!
//! - **Fenced by the database:** every state write of a run goes through
//!   [`Coordinator::fenced_store`], which carries the lease's epoch; the coordinator refuses the
//!   write ([`ErrorKind::LeaseLost`](crate::ErrorKind::LeaseLost)) unless that epoch is still the
//!   company's lease and unexpired, checked in the same transaction as the write. A stale worker
//!   cannot move a cursor, log, or mark a create done or failed.
//! - **Fenced by time:** a worker sends no write to Ordoro unless its lease has at least
//!   [`FleetConfig::write_margin`] left by its own clock ([`LeaseGate`], the lowest layer of the
//!   Ordoro client's transport, below pacing, so a request that waited for its turn is checked
//!   when it is sent). The margin covers the request's timeout, so a create sent in time has
//!   ended, one way or the other, before the lease can pass to another worker.
//! - **Settled by lookup:** a new holder first settles the creates its predecessor left
//!   pending, by looking each order up in Ordoro (the engine's one settle path), and believes
//!   "not found" only [`SyncConfig::settle_after`](crate::SyncConfig::settle_after) after the
//!   create was recorded, by which time the predecessor's lease, and any create it sent, is
//!   over.
//!
//! What none of them can close: a worker frozen between its last lease check and its create
//! leaving the machine, for longer than the lease and the settle bound together, sends a create
//! the new holder has already replaced. Ordoro then sees the same `order_id` twice: refused as a
//! duplicate or taken as a revision, one order either way; an account that accepted it as a
//! second order would hold two. ARCHITECTURE.md states the argument in full.
//!
//! **Fairness.** A claim takes the companies due longest ago first, a run is one job (the
//! queued webhook events, else a poll) and the lease is released after it, so no company holds a
//! worker's slot while others wait.
//!
//! **Ordoro's limit** is per account, and one account may serve several companies run by
//! different workers: each request to Ordoro first reserves a slot of its account's budget
//! ([`Coordinator::reserve_ordoro_request`], [`BudgetTransport`]), spaced so that no minute
//! holds more than the account's limit, whichever workers send them.
//!
//! [`MemoryCoordinator`] is the model: the same semantics in memory, on a [`Clock`](crate::Clock), for tests
//! and the seeded simulation. `PostgresCoordinator`
//! (feature `postgres`, `store::PostgresCoordinator`) is the one workers on several machines
//! share.

mod gate;
mod memory;
#[cfg(feature = "tokio")]
mod runner;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::Result;
use crate::store::Store;
use crate::webhook::ChangeEvent;

pub use gate::{BudgetTransport, LeaseGate};
pub use memory::{Fenced, MemoryCoordinator};
// Shared with the PostgreSQL coordinator: the same refusal and the same budget spacing.
#[cfg(feature = "postgres")]
pub(crate) use memory::{lost, slot_interval};
#[cfg(feature = "tokio")]
pub use runner::{CompanyRun, EngineFactory, Fleet, FleetConfig, FleetStats};

/// The default requests a minute a fleet allows each Ordoro account: under Ordoro's 500, so that
/// a request the account's budget let through is never refused for the limit.
pub const DEFAULT_ORDORO_PER_MINUTE: u32 = 480;

/// A company the fleet serves: its QBO realm and the Ordoro account its orders go to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FleetCompany {
    /// The QBO company (realm) id.
    pub realm: String,
    /// The Ordoro account's name, as the host knows it (its credentials stay with the host:
    /// this is a reference, never a secret). Companies that share an account share its budget.
    pub ordoro_account: String,
}

/// A worker's hold on one company, as the coordinator granted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The company.
    pub company: FleetCompany,
    /// The worker that holds it.
    pub worker: String,
    /// The claim's number, one higher than any earlier claim of the company: what fences the
    /// holder's writes.
    pub epoch: u64,
    /// When the lease ends unless renewed, by the coordinator's clock (the database's, for
    /// PostgreSQL). A worker reckons its own deadline on its own clock ([`LeaseGate`]).
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    /// The company's realm.
    pub fn realm(&self) -> &str {
        &self.company.realm
    }
}

/// One webhook event waiting in the queue for its company's next run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    /// Its place in the queue (increasing): what [`Coordinator::ack_events`] acknowledges up to.
    pub seq: u64,
    /// The event as verified by the web route.
    pub event: ChangeEvent,
}

/// A company as the coordinator sees it, for pages, tests and benchmarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyState {
    /// The company.
    pub company: FleetCompany,
    /// When it is due to run next, by the coordinator's clock.
    pub due_at: DateTime<Utc>,
    /// The current or last lease's epoch (0: never claimed).
    pub epoch: u64,
    /// Who holds the lease, while it is held and unexpired.
    pub holder: Option<String>,
    /// When the current or last lease ends or ended.
    pub expires_at: Option<DateTime<Utc>>,
    /// How many runs released it (finished, cleanly or not).
    pub runs: u64,
    /// Webhook events queued for it and not acknowledged yet.
    pub queued_events: u64,
}

/// The state workers share: companies and their leases, the webhook queue, the Ordoro accounts'
/// budgets, and the engine's [`Store`] fenced by lease.
///
/// Times are the coordinator's own (the database's clock for PostgreSQL), so workers need not
/// agree on the time; durations are measured by the coordinator too. See the module docs for the
/// semantics; `store::conformance::coordinator` checks them.
#[async_trait::async_trait]
pub trait Coordinator: fmt::Debug + Send + Sync {
    /// Adds a company, due at once, or changes the Ordoro account of one already there.
    async fn add_company(&self, company: &FleetCompany) -> Result<()>;
    /// Every company, in realm order.
    async fn companies(&self) -> Result<Vec<CompanyState>>;
    /// Claims up to `max` companies that are due (or have queued events) and that nobody holds
    /// (never claimed, released, or whose lease expired), those due longest ago first, for
    /// `worker`, each with a lease of `lease_for` and a new epoch. Workers claiming at once get
    /// different companies and do not wait on each other.
    async fn claim(&self, worker: &str, max: usize, lease_for: Duration) -> Result<Vec<Lease>>;
    /// Extends `lease` to `lease_for` from now. A [`LeaseLost`](crate::ErrorKind::LeaseLost)
    /// error when it is no longer the company's lease or has expired (an expired lease is never
    /// revived: the worker claims again, with a new epoch).
    async fn renew(&self, lease: &Lease, lease_for: Duration) -> Result<Lease>;
    /// Gives the company up, due again in `due_in` (sooner when events are queued). A
    /// [`LeaseLost`](crate::ErrorKind::LeaseLost) error when `lease` was no longer held.
    async fn release(&self, lease: &Lease, due_in: Duration) -> Result<()>;
    /// The engine's store for the company of `lease`, every write of which is refused with
    /// [`LeaseLost`](crate::ErrorKind::LeaseLost) unless `lease` is still the company's current,
    /// unexpired lease (checked atomically with the write). Token saves are the exception: a
    /// refresh token QBO rotated must be kept whoever asked for it, or the company is
    /// disconnected. Reads are not fenced.
    fn fenced_store(&self, lease: &Lease) -> Arc<dyn Store>;
    /// The store unfenced: for what is not a run's (pages, connecting a company, tokens).
    fn store(&self) -> Arc<dyn Store>;
    /// Queues verified webhook events for their companies' next runs and makes those companies
    /// due now; events of companies the fleet does not serve are dropped. Returns how many
    /// were queued.
    async fn enqueue_events(&self, events: &[ChangeEvent]) -> Result<usize>;
    /// The company's queued events, oldest first, at most `max`. Reading takes nothing off the
    /// queue: a run that dies leaves them for the next.
    async fn queued_events(&self, lease: &Lease, max: usize) -> Result<Vec<QueuedEvent>>;
    /// Takes the company's events up to `seq` (inclusive) off the queue, fenced like a write.
    async fn ack_events(&self, lease: &Lease, seq: u64) -> Result<()>;
    /// Reserves the next slot of Ordoro account `account`'s budget of `per_minute` requests a
    /// minute and returns how long to wait before sending: slots are spaced `60 s / per_minute`
    /// apart across every worker, so no minute holds more than `per_minute` requests.
    async fn reserve_ordoro_request(&self, account: &str, per_minute: u32) -> Result<Duration>;
    /// Waits until work may have arrived (an event queued, a company added or released) or
    /// `timeout` passes, whichever is first. A hint: the caller claims again either way.
    async fn wait_for_work(&self, timeout: Duration);
}

/// A lock whose holder panicked still guards consistent state here (every critical section
/// is a few assignments): take it rather than spread the panic.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A lease's or a wait's length as a span of time on the clock (saturating: a length too long
/// for chrono is "for ever").
fn span(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
