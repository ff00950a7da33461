//! [`Fleet`]: one worker of many. It claims due companies from the [`Coordinator`], runs each
//! (one job: its queued webhook events, else a poll) while renewing its lease, and releases it,
//! up to [`FleetConfig::max_concurrent`] companies at once, until shut down.

use std::convert::Infallible;
use std::fmt;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::{Either, select};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, info, warn};

use super::{BudgetTransport, Coordinator, DEFAULT_ORDORO_PER_MINUTE, Lease, LeaseGate, span};
use crate::engine::{RunOptions, RunReport, SyncEngine, SyncEngineBuilder};
use crate::store::Store;
use crate::{Clock, Error, ErrorKind, Result, SharedTransport};

/// How a [`Fleet`] worker works.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// This worker's name, unique among the workers (default: `worker-{process id}`).
    pub worker: String,
    /// Companies run at once (default 8).
    pub max_concurrent: usize,
    /// A lease's length (default 30 s); renewed every third of it while the run lasts.
    pub lease_for: Duration,
    /// The lease time a write to Ordoro needs left when it is sent (default 15 s): more than
    /// the Ordoro transport's request timeout, so that a write sent in time has ended before
    /// the lease can pass on. Must be less than [`lease_for`](Self::lease_for).
    pub write_margin: Duration,
    /// A company's next run after a clean one, unless its settings say otherwise (default 15
    /// minutes; the poll interval, or the catch-up interval with webhooks on).
    pub poll_interval: Duration,
    /// A company's next run after one that failed or stopped (default 1 minute).
    pub retry_in: Duration,
    /// How long an idle worker waits for a notification before it claims again (default 1 s).
    pub idle_wait: Duration,
    /// Webhook events a run takes at most (default 1,000).
    pub max_events: usize,
    /// Each Ordoro account's requests a minute, across every worker (default
    /// [`DEFAULT_ORDORO_PER_MINUTE`]).
    pub ordoro_per_minute: u32,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            worker: format!("worker-{}", std::process::id()),
            max_concurrent: 8,
            lease_for: Duration::from_secs(30),
            write_margin: Duration::from_secs(15),
            poll_interval: Duration::from_secs(15 * 60),
            retry_in: Duration::from_secs(60),
            idle_wait: Duration::from_secs(1),
            max_events: 1000,
            ordoro_per_minute: DEFAULT_ORDORO_PER_MINUTE,
        }
    }
}

impl FleetConfig {
    /// Ok when the settings can run: a [`Config`](ErrorKind::Config) error naming the first
    /// that cannot.
    pub fn validate(&self) -> Result<()> {
        if self.worker.trim().is_empty() {
            return Err(Error::config("the fleet worker needs a name (FleetConfig::worker)"));
        }
        if self.max_concurrent == 0 {
            return Err(Error::config("FleetConfig::max_concurrent must be at least 1"));
        }
        if self.write_margin >= self.lease_for {
            return Err(Error::config(format!(
                "FleetConfig::write_margin ({:?}) must be shorter than the lease ({:?}): no \
                 write could ever be sent",
                self.write_margin, self.lease_for
            )));
        }
        if self.ordoro_per_minute == 0 {
            return Err(Error::config("FleetConfig::ordoro_per_minute must be at least 1"));
        }
        Ok(())
    }
}

/// One company's run, as the [`EngineFactory`] sees it: what it must build the engine's
/// clients with.
#[derive(Debug, Clone)]
pub struct CompanyRun {
    /// The lease the run works under.
    pub lease: Lease,
    /// The store fenced by the lease: the engine's store (the fleet sets it).
    pub store: Arc<dyn Store>,
    /// The store unfenced, for the QBO client's tokens (a rotated refresh token is kept
    /// whoever asked for it).
    pub token_store: Arc<dyn Store>,
    /// The worker's reckoning of the lease.
    pub gate: LeaseGate,
    coordinator: Arc<dyn Coordinator>,
    clock: Arc<dyn Clock>,
    per_minute: u32,
}

impl CompanyRun {
    /// The transport the Ordoro client must be given: `inner` behind the account's shared
    /// budget and, lowest, the lease gate.
    pub fn ordoro_transport(&self, inner: SharedTransport) -> SharedTransport {
        SharedTransport::new(BudgetTransport::new(
            self.coordinator.clone(),
            self.lease.company.ordoro_account.clone(),
            self.per_minute,
            self.clock.clone(),
            self.gate.transport(inner),
        ))
    }
}

/// Builds a company's engine for a run: the QBO client (with [`CompanyRun::token_store`]), the
/// Ordoro client (over [`CompanyRun::ordoro_transport`]), the clock and the base config. The
/// fleet sets the store and applies the company's saved settings.
pub type EngineFactory = Arc<dyn Fn(&CompanyRun) -> Result<SyncEngineBuilder> + Send + Sync>;

/// What a worker has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetStats {
    /// Leases claimed.
    pub claims: u64,
    /// Runs that ended (released or not).
    pub runs: u64,
    /// Runs that ended in an error other than a lost lease.
    pub failed_runs: u64,
    /// Runs that lost their lease: cut short by a refused write or a withheld one, or ended
    /// to find the lease gone when releasing it. None of them released the company.
    pub leases_lost: u64,
    /// Orders created.
    pub created: u64,
}

#[derive(Default)]
struct Counters {
    claims: AtomicU64,
    runs: AtomicU64,
    failed_runs: AtomicU64,
    leases_lost: AtomicU64,
    created: AtomicU64,
}

struct Shared {
    coordinator: Arc<dyn Coordinator>,
    clock: Arc<dyn Clock>,
    factory: EngineFactory,
    config: FleetConfig,
    counters: Counters,
    wake: Notify,
    stopping: std::sync::atomic::AtomicBool,
}

/// One worker of a fleet: see the [module docs](crate::fleet).
pub struct Fleet {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for Fleet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fleet")
            .field("worker", &self.shared.config.worker)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Fleet {
    /// Starts the worker on the current tokio runtime: it claims and runs companies until
    /// [`shutdown`](Self::shutdown). A [`Config`](ErrorKind::Config) error when `config`
    /// cannot run.
    pub fn start(
        coordinator: Arc<dyn Coordinator>,
        clock: Arc<dyn Clock>,
        factory: EngineFactory,
        config: FleetConfig,
    ) -> Result<Fleet> {
        config.validate()?;
        let shared = Arc::new(Shared {
            coordinator,
            clock,
            factory,
            config,
            counters: Counters::default(),
            wake: Notify::new(),
            stopping: std::sync::atomic::AtomicBool::new(false),
        });
        let task = tokio::spawn(work(shared.clone()));
        Ok(Fleet { shared, task: Mutex::new(Some(task)) })
    }

    /// What the worker has done so far.
    pub fn stats(&self) -> FleetStats {
        let c = &self.shared.counters;
        FleetStats {
            claims: c.claims.load(Ordering::Relaxed),
            runs: c.runs.load(Ordering::Relaxed),
            failed_runs: c.failed_runs.load(Ordering::Relaxed),
            leases_lost: c.leases_lost.load(Ordering::Relaxed),
            created: c.created.load(Ordering::Relaxed),
        }
    }

    /// Stops claiming, lets the runs in progress finish and release their companies, and
    /// returns when they have.
    pub async fn shutdown(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        info!(worker = %self.shared.config.worker, "fleet worker stopped");
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().unwrap_or_else(PoisonError::into_inner).take() {
            task.abort();
        }
    }
}

/// The worker's loop: claim what fits, wait for a run to end or for work, again.
async fn work(shared: Arc<Shared>) {
    let mut runs = JoinSet::new();
    let config = &shared.config;
    while !shared.stopping.load(Ordering::SeqCst) {
        while runs.try_join_next().is_some() {}
        let free = config.max_concurrent.saturating_sub(runs.len());
        let mut claimed = 0;
        if free > 0 {
            let asked = shared.clock.now();
            match shared.coordinator.claim(&config.worker, free, config.lease_for).await {
                Ok(leases) => {
                    claimed = leases.len();
                    for lease in leases {
                        shared.counters.claims.fetch_add(1, Ordering::Relaxed);
                        runs.spawn(run_company(shared.clone(), lease, asked));
                    }
                }
                Err(e) => warn!(worker = %config.worker, error = %e, "could not claim companies"),
            }
        }
        if claimed > 0 && claimed == free {
            continue;
        }
        let woken = Box::pin(shared.wake.notified());
        let work = shared.coordinator.wait_for_work(config.idle_wait);
        let _ = select(woken, work).await;
    }
    while runs.join_next().await.is_some() {}
}

/// Runs one claimed company under its lease, renewing it meanwhile, and releases it.
async fn run_company(shared: Arc<Shared>, lease: Lease, asked: DateTime<Utc>) {
    let config = &shared.config;
    let gate = LeaseGate::new(shared.clock.clone(), config.write_margin);
    gate.held_until(asked + span(config.lease_for));
    // The renewals run in this task, beside the run, not in a task of their own: a worker
    // dropped (its tasks aborted) must stop renewing with its runs, or the company stays held
    // by nobody working on it, for ever.
    let renewing = pin!(async {
        renew(&shared, lease.clone(), gate.clone()).await;
        std::future::pending::<Infallible>().await
    });
    let result = match select(pin!(run_once(&shared, &lease, &gate)), renewing).await {
        Either::Left((result, _)) => result,
        Either::Right((never, _)) => match never {},
    };
    let counters = &shared.counters;
    counters.runs.fetch_add(1, Ordering::Relaxed);
    let realm = lease.realm().to_owned();
    let due_in = match &result {
        Ok((report, due_in)) => {
            counters.created.fetch_add(report.summary.created, Ordering::Relaxed);
            debug!(%realm, run = %report.run_id, created = report.summary.created, "company run done");
            *due_in
        }
        Err(e) if e.kind() == ErrorKind::LeaseLost => {
            counters.leases_lost.fetch_add(1, Ordering::Relaxed);
            info!(%realm, epoch = lease.epoch, error = %e, "lease lost; the company's new holder carries on");
            gate.revoke();
            shared.wake.notify_one();
            return;
        }
        Err(e) => {
            counters.failed_runs.fetch_add(1, Ordering::Relaxed);
            warn!(%realm, error = %e, "company run failed; trying again later");
            config.retry_in
        }
    };
    gate.revoke();
    if let Err(e) = shared.coordinator.release(&lease, due_in).await {
        // A run that wrote nothing after its lease ran out ends cleanly, yet the lease was lost
        // all the same: another worker holds the company now.
        if e.kind() == ErrorKind::LeaseLost {
            counters.leases_lost.fetch_add(1, Ordering::Relaxed);
        }
        info!(%realm, error = %e, "could not release the company; its lease will expire");
    }
    shared.wake.notify_one();
}

/// The run's one job, and when the company is due next.
async fn run_once(
    shared: &Shared,
    lease: &Lease,
    gate: &LeaseGate,
) -> Result<(RunReport, Duration)> {
    let config = &shared.config;
    let run = CompanyRun {
        lease: lease.clone(),
        store: shared.coordinator.fenced_store(lease),
        token_store: shared.coordinator.store(),
        gate: gate.clone(),
        coordinator: shared.coordinator.clone(),
        clock: shared.clock.clone(),
        per_minute: config.ordoro_per_minute,
    };
    let builder = (shared.factory)(&run)?.store(run.store.clone());
    let settings = run.store.company_settings(lease.realm()).await?;
    let (engine, next) = match &settings {
        Some(settings) => {
            let next =
                if settings.webhooks { settings.catch_up_interval } else { settings.poll_interval };
            let base = builder.config_part().clone();
            (builder.config(settings.apply(&base)).build()?, next)
        }
        None => (builder.build()?, config.poll_interval),
    };
    let report = job(shared, lease, &engine).await?;
    let due_in = if report.aborted.is_some() || report.stopped_by.is_some() {
        config.retry_in
    } else {
        let settle_in = report.settle_at.and_then(|at| (at - shared.clock.now()).to_std().ok());
        settle_in.map_or(next, |settle_in| settle_in.min(next))
    };
    Ok((report, due_in))
}

/// The queued webhook events as one change-driven run, else a poll.
async fn job(shared: &Shared, lease: &Lease, engine: &SyncEngine) -> Result<RunReport> {
    let coordinator = &shared.coordinator;
    let queued = coordinator.queued_events(lease, shared.config.max_events).await?;
    let options = RunOptions::default();
    let Some(last) = queued.last().map(|q| q.seq) else {
        return engine.run_incremental(&options).await;
    };
    let events: Vec<_> = queued.into_iter().map(|q| q.event).collect();
    let report = match engine.run_changes(&events, &options).await? {
        Some(report) => report,
        // Every event was handled before (a retried delivery): the poll is the job.
        None => engine.run_incremental(&options).await?,
    };
    // Acknowledged even when the run stopped early: a company with queued events is due at
    // once on release, so events kept for a run that keeps stopping (a revoked key) would run
    // it again and again without pause. Nothing is lost: the retry, `retry_in` later, reads
    // from the cursor, which has not passed the events' sales.
    coordinator.ack_events(lease, last).await?;
    Ok(report)
}

/// Renews the lease every third of its length until dropped; on losing it, revokes the gate
/// so that no further write leaves, and returns.
async fn renew(shared: &Shared, mut lease: Lease, gate: LeaseGate) {
    let lease_for = shared.config.lease_for;
    loop {
        shared.clock.sleep(lease_for / 3).await;
        let asked = shared.clock.now();
        match shared.coordinator.renew(&lease, lease_for).await {
            Ok(renewed) => {
                gate.held_until(asked + span(lease_for));
                lease = renewed;
            }
            Err(e) if e.kind() == ErrorKind::LeaseLost => {
                gate.revoke();
                info!(realm = %lease.realm(), error = %e, "lease lost while running");
                return;
            }
            // The coordinator could not be reached: the gate runs out on its own unless a later
            // renewal succeeds.
            Err(e) => warn!(realm = %lease.realm(), error = %e, "could not renew the lease"),
        }
    }
}
