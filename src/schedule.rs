//! [`Scheduler`]: when one company's runs happen (feature `tokio`).
//!
//! A scheduler owns one company's [`SyncEngine`] and a worker task that makes every run of it,
//! one at a time:
//!
//! - **Change batches.** [`Scheduler::notify`] queues the [`ChangeEvent`]s a webhook endpoint
//!   verified (those of other companies are ignored) and returns at once; when the worker is
//!   free it runs [`SyncEngine::run_changes`] on everything queued, so the batches that arrive
//!   during a run are merged into the next one.
//! - **Commands.** [`Scheduler::sync_now`] (an incremental run), [`Scheduler::resync`] (a
//!   range) and [`Scheduler::sync_one`] (one transaction) queue behind the current run and are
//!   answered with the run's [`RunReport`].
//! - **The safety net.** With [`CompanySettings::webhooks`] on, [`SyncEngine::run_catch_up`]
//!   every [`catch_up_interval`](CompanySettings::catch_up_interval) (a day by default); off,
//!   [`SyncEngine::run_incremental`] every [`poll_interval`](CompanySettings::poll_interval)
//!   (5 minutes). Measured from the start of the last run that read from the cursors (a change
//!   batch includes a catch-up), and the first one at start. A catch-up also runs at a report's
//!   [`settle_at`](RunReport::settle_at), and a failed or stopped automatic run is tried again
//!   after a minute, doubling up to the safety-net interval.
//!
//! **Never two runs of one company at once**: one worker makes every run, and it waits for each
//! to end before it looks at the queue again (the engine's own lock holds it too).
//!
//! **Settings** are read from the [`Store`] before each run (and when
//! [`Scheduler::reload_settings`] or [`Scheduler::save_settings`] says they changed); when they
//! differ from the engine's, the engine is built again from the host's builder with
//! [`CompanySettings::apply`] over the host's base [`SyncConfig`], so the next run uses them.
//! With none stored, [`SchedulerConfig::settings`] apply.
//!
//! One scheduler serves one company: each company has its own engine, clients, settings and
//! timers, and one company's slow run must not delay another's. A host with several companies
//! keeps a scheduler per company (a map by realm) and may hand every verified delivery to each.
//!
//! Time is the engine's [`Clock`]: with [`TokioClock`](crate::TokioClock) over tokio's paused
//! clock, a test runs a virtual day in milliseconds.
//!
//! ```
//! use qbo_ordoro::schedule::{Scheduler, SchedulerConfig};
//! use qbo_ordoro::webhook::ChangeEvent;
//!
//! /// Starts the company's scheduler, hands it a verified delivery, syncs now, and stops.
//! async fn host(
//!     engine: qbo_ordoro::engine::SyncEngineBuilder,
//!     delivery: Vec<ChangeEvent>,
//! ) -> qbo_ordoro::Result<()> {
//!     let scheduler = Scheduler::start(engine, SchedulerConfig::default()).await?;
//!     scheduler.notify(delivery); // returns at once; the worker runs it when free
//!     let report = scheduler.sync_now().await?; // queued behind the current run
//!     tracing::info!(summary = %report.summary, "synced now");
//!     let status = scheduler.status();
//!     tracing::info!(next = ?status.next, running = ?status.running, "scheduler state");
//!     scheduler.shutdown().await; // finishes the current run first
//!     Ok(())
//! }
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::{Either, select};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::engine::{
    RunOptions, RunRange, RunReport, RunScope, SyncConfig, SyncEngine, SyncEngineBuilder, TxnRef,
};
use crate::store::{CompanySettings, RunSummary, Store};
use crate::webhook::ChangeEvent;
use crate::{Clock, Error, ErrorKind, Result};

/// How long after a failed or stopped automatic run the first retry comes.
const FIRST_RETRY: Duration = Duration::from_secs(60);

/// How a [`Scheduler`] runs, beyond the company's stored settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// The settings used while the store holds none for the company (default:
    /// [`CompanySettings::default`]).
    pub settings: CompanySettings,
    /// How many finished runs [`SchedulerStatus::last_runs`] keeps (default 20).
    pub history: usize,
    /// Called by the worker after each run that made a report (metrics, notifications).
    pub on_run: Option<RunObserver>,
    /// The first safety-net run starts at once (default `true`: a company catches up on what
    /// changed while nothing ran). `false` waits one safety-net interval first, for a host
    /// whose person starts the first run (a demo's "Sync now"); notifications and commands are
    /// handled at once either way.
    pub run_at_start: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            settings: CompanySettings::default(),
            history: 20,
            on_run: None,
            run_at_start: true,
        }
    }
}

/// A function the worker calls with the company's realm and each run's record and report, on the worker's task: it
/// must return quickly (count, queue, send; never wait on the scheduler).
#[derive(Clone)]
pub struct RunObserver(Arc<ObserverFn>);

type ObserverFn = dyn Fn(&str, &RunRecord, &RunReport) + Send + Sync;

impl RunObserver {
    /// Wraps `f`.
    pub fn new(f: impl Fn(&str, &RunRecord, &RunReport) + Send + Sync + 'static) -> Self {
        RunObserver(Arc::new(f))
    }

    /// Calls the function with the company's realm, the run's record and its report.
    pub fn call(&self, realm: &str, record: &RunRecord, report: &RunReport) {
        (self.0)(realm, record, report)
    }
}

impl std::fmt::Debug for RunObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunObserver(..)")
    }
}

/// Two observers are equal when they are the same function (clones of one observer).
impl PartialEq for RunObserver {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for RunObserver {}

/// What started a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunKind {
    /// A batch of webhook notifications ([`SyncEngine::run_changes`]).
    Changes,
    /// The poll, webhooks off ([`SyncEngine::run_incremental`]).
    Poll,
    /// The catch-up, webhooks on ([`SyncEngine::run_catch_up`]).
    CatchUp,
    /// A catch-up at a report's [`settle_at`](RunReport::settle_at), to settle a create.
    Settle,
    /// A retry after an automatic run failed or stopped early (a catch-up with webhooks on, a
    /// poll off).
    Retry,
    /// [`Scheduler::sync_now`].
    SyncNow,
    /// [`Scheduler::resync`].
    Resync(RunRange),
    /// [`Scheduler::sync_one`].
    SyncOne(TxnRef),
}

impl RunKind {
    /// The kind's name in logs, metrics and pages: `changes`, `poll`, `catch_up`, `settle`,
    /// `retry`, `sync_now`, `resync` or `sync_one`.
    pub fn as_str(&self) -> &'static str {
        match self {
            RunKind::Changes => "changes",
            RunKind::Poll => "poll",
            RunKind::CatchUp => "catch_up",
            RunKind::Settle => "settle",
            RunKind::Retry => "retry",
            RunKind::SyncNow => "sync_now",
            RunKind::Resync(_) => "resync",
            RunKind::SyncOne(_) => "sync_one",
        }
    }
}

impl std::fmt::Display for RunKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run the scheduler made: what started it, when, and its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// What started it.
    pub kind: RunKind,
    /// The run's id in the log (none when it failed before starting).
    pub run_id: Option<String>,
    /// What it covered, as its report says (for a change batch, how many events were new).
    pub scope: Option<RunScope>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// Counts by action.
    pub summary: RunSummary,
    /// Why it stopped early, or the error it failed with.
    pub problem: Option<String>,
    /// The kind of the error it failed with ([`ErrorKind::Authentication`]: the company must
    /// reconnect QuickBooks).
    pub error_kind: Option<ErrorKind>,
}

/// The next run the scheduler will make on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextRun {
    /// When.
    pub at: DateTime<Utc>,
    /// Which ([`RunKind::Poll`], [`RunKind::CatchUp`], [`RunKind::Settle`] or
    /// [`RunKind::Retry`]).
    pub kind: RunKind,
}

/// A scheduler's state, for a page.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerStatus {
    /// The company.
    pub realm: String,
    /// The settings the engine runs with.
    pub settings: CompanySettings,
    /// The run in progress and when it started.
    pub running: Option<(RunKind, DateTime<Utc>)>,
    /// The next run it will make on its own (none while that run is in progress, and once
    /// shut down).
    pub next: Option<NextRun>,
    /// Notifications queued for the next change batch.
    pub queued_events: usize,
    /// Commands waiting behind the current run.
    pub queued_commands: usize,
    /// The last runs, newest first (at most [`SchedulerConfig::history`]).
    pub last_runs: VecDeque<RunRecord>,
}

type Reply = oneshot::Sender<Result<RunReport>>;

/// A run a caller asked for.
enum Command {
    SyncNow(Reply),
    Resync(RunRange, Reply),
    SyncOne(TxnRef, Reply),
}

/// What callers hand the worker.
#[derive(Default)]
struct Inbox {
    events: Vec<ChangeEvent>,
    commands: VecDeque<Command>,
    shutdown: bool,
}

/// What the scheduler's handle and its worker share.
struct Shared {
    realm: String,
    store: Arc<dyn Store>,
    inbox: Mutex<Inbox>,
    wake: Notify,
    status: Mutex<SchedulerStatus>,
    /// The engine the worker runs now (rebuilt when the settings change).
    engine: Mutex<Arc<SyncEngine>>,
}

/// See the [module docs](self).
pub struct Scheduler {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").field("realm", &self.shared.realm).finish_non_exhaustive()
    }
}

/// Dropping the handle stops the worker as [`Scheduler::shutdown`] does, without waiting.
impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shared.with_inbox(|inbox| inbox.shutdown = true);
        self.shared.wake.notify_one();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Scheduler {
    /// Builds the company's engine from `engine` (which must have its store and clock; its
    /// config is the base the stored settings apply over), reads the company's settings, and
    /// starts the worker on the current tokio runtime. The first safety-net run (a catch-up
    /// with webhooks on, a poll off) starts at once.
    ///
    /// A [`Config`](crate::ErrorKind::Config) error when the builder lacks a part or the
    /// settings cannot run; a [`Store`](crate::ErrorKind::Store) error when they cannot be read.
    pub async fn start(engine: SyncEngineBuilder, config: SchedulerConfig) -> Result<Scheduler> {
        let missing = |what: &str| Error::config(format!("the scheduler needs {what}"));
        let store = engine.store_part().ok_or_else(|| missing("a store (builder.store)"))?;
        let clock = engine.clock_part().ok_or_else(|| missing("a clock (builder.clock)"))?;
        let base = engine.config_part().clone();
        let first = engine.clone().build()?;
        let realm = first.realm().to_owned();
        let settings = store.company_settings(&realm).await?.unwrap_or(config.settings.clone());
        settings.validate()?;
        let current = Arc::new(engine.clone().config(settings.apply(&base)).build()?);
        let now = clock.now();
        let shared = Arc::new(Shared {
            realm: realm.clone(),
            store: store.clone(),
            inbox: Mutex::new(Inbox::default()),
            wake: Notify::new(),
            engine: Mutex::new(current.clone()),
            status: Mutex::new(SchedulerStatus {
                realm,
                settings: settings.clone(),
                running: None,
                next: Some(NextRun {
                    at: if config.run_at_start {
                        now
                    } else {
                        after(now, settings.safety_net_interval())
                    },
                    kind: safety_kind(&settings),
                }),
                queued_events: 0,
                queued_commands: 0,
                last_runs: VecDeque::new(),
            }),
        });
        let worker = Worker {
            shared: shared.clone(),
            builder: engine,
            base,
            defaults: config.settings,
            history: config.history,
            on_run: config.on_run,
            store,
            clock,
            engine: current,
            settings,
            started_at: now,
            // Not running at start is counting the start as the last safety-net run.
            last_safety: (!config.run_at_start).then_some(now),
            settle_at: None,
            retry: None,
        };
        let handle = tokio::spawn(worker.run());
        Ok(Scheduler { shared, worker: Mutex::new(Some(handle)) })
    }

    /// The company this scheduler runs.
    pub fn realm(&self) -> &str {
        &self.shared.realm
    }

    /// Queues `events` for the next change batch and returns at once. Events of other companies
    /// are dropped here; the engine drops those of entities it does not sync and those already
    /// processed.
    pub fn notify(&self, events: Vec<ChangeEvent>) {
        let ours: Vec<ChangeEvent> =
            events.into_iter().filter(|e| e.realm_id == self.shared.realm).collect();
        if ours.is_empty() {
            return;
        }
        debug!(realm = %self.shared.realm, events = ours.len(), "notifications queued");
        self.shared.with_inbox(|inbox| inbox.events.extend(ours));
        self.shared.wake.notify_one();
    }

    /// Queues an incremental run ([`SyncEngine::run_incremental`]) and returns a future of its
    /// report. The run is queued at the call: dropping the future does not cancel it.
    pub fn sync_now(&self) -> impl Future<Output = Result<RunReport>> + Send + 'static {
        self.command(Command::SyncNow)
    }

    /// Queues a run over `range` ([`SyncEngine::run_range`]); as [`sync_now`](Self::sync_now).
    pub fn resync(
        &self,
        range: RunRange,
    ) -> impl Future<Output = Result<RunReport>> + Send + 'static {
        self.command(|reply| Command::Resync(range, reply))
    }

    /// Queues a run of one transaction ([`SyncEngine::run_one`]); as
    /// [`sync_now`](Self::sync_now).
    pub fn sync_one(
        &self,
        target: TxnRef,
    ) -> impl Future<Output = Result<RunReport>> + Send + 'static {
        self.command(|reply| Command::SyncOne(target, reply))
    }

    /// Validates `settings`, saves them in the store and has the worker use them from the next
    /// run (its timers at once).
    pub async fn save_settings(&self, settings: &CompanySettings) -> Result<()> {
        self.shared.store.save_company_settings(&self.shared.realm, settings).await?;
        self.reload_settings();
        Ok(())
    }

    /// Tells the worker the company's settings changed in the store (a host that saved them
    /// itself): it reads them now, not only before the next run.
    pub fn reload_settings(&self) {
        self.shared.wake.notify_one();
    }

    /// The engine the worker runs now, with the company's current settings: for reads beside
    /// the runs ([`SyncEngine::sku_mappings`], a preview). Runs go through the scheduler, so
    /// that there are never two at once.
    pub fn engine(&self) -> Arc<SyncEngine> {
        lock(&self.shared.engine).clone()
    }

    /// A snapshot of the scheduler's state.
    pub fn status(&self) -> SchedulerStatus {
        let mut status = lock(&self.shared.status).clone();
        let inbox = lock(&self.shared.inbox);
        status.queued_events = inbox.events.len();
        status.queued_commands = inbox.commands.len();
        status
    }

    /// Stops the scheduler: the current run finishes, then the worker ends; commands still
    /// queued are answered with an error and queued notifications are left to the next
    /// catch-up (they are hints: the cursors have not passed what they name). Returns when the
    /// worker has ended. Calling it again does nothing.
    pub async fn shutdown(&self) {
        self.shared.with_inbox(|inbox| inbox.shutdown = true);
        self.shared.wake.notify_one();
        let handle = lock(&self.worker).take();
        if let Some(handle) = handle
            && let Err(e) = handle.await
        {
            warn!(realm = %self.shared.realm, error = %e, "the scheduler's worker ended abnormally");
        }
    }

    fn command(
        &self,
        make: impl FnOnce(Reply) -> Command,
    ) -> impl Future<Output = Result<RunReport>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let queued = self.shared.with_inbox(|inbox| {
            if inbox.shutdown {
                return false;
            }
            inbox.commands.push_back(make(reply));
            true
        });
        self.shared.wake.notify_one();
        let realm = self.shared.realm.clone();
        async move {
            let stopped = || {
                Error::config(format!(
                    "the scheduler of company {realm} was shut down before the run: start a new one"
                ))
            };
            if !queued {
                return Err(stopped());
            }
            answer.await.unwrap_or_else(|_| Err(stopped()))
        }
    }
}

impl Shared {
    fn with_inbox<T>(&self, f: impl FnOnce(&mut Inbox) -> T) -> T {
        f(&mut lock(&self.inbox))
    }

    fn with_status<T>(&self, f: impl FnOnce(&mut SchedulerStatus) -> T) -> T {
        f(&mut lock(&self.status))
    }
}

/// The safety-net run of these settings.
fn safety_kind(settings: &CompanySettings) -> RunKind {
    if settings.webhooks { RunKind::CatchUp } else { RunKind::Poll }
}

/// `at` plus `d`, saturating instead of overflowing.
fn after(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// What the worker does next.
enum Job {
    Command(Command),
    Changes(Vec<ChangeEvent>),
    Auto(RunKind),
    Wait(DateTime<Utc>),
    Stop,
}

/// The task that makes every run of one company, one at a time.
struct Worker {
    shared: Arc<Shared>,
    /// The host's engine parts and base config, from which a settings change rebuilds `engine`.
    builder: SyncEngineBuilder,
    base: SyncConfig,
    /// The settings while the store has none.
    defaults: CompanySettings,
    history: usize,
    on_run: Option<RunObserver>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    engine: Arc<SyncEngine>,
    /// The settings `engine` was built with.
    settings: CompanySettings,
    /// When the scheduler started: the first safety-net run is due then.
    started_at: DateTime<Utc>,
    /// The start of the last clean run that read from the cursors.
    last_safety: Option<DateTime<Utc>>,
    /// When a catch-up can settle a create whose outcome is still unknown.
    settle_at: Option<DateTime<Utc>>,
    /// After a failed or stopped automatic run: when to try again, and the wait that led there.
    retry: Option<(DateTime<Utc>, Duration)>,
}

impl Worker {
    async fn run(mut self) {
        loop {
            self.refresh_settings().await;
            match self.next_job() {
                Job::Stop => break,
                Job::Wait(until) => self.wait(until).await,
                Job::Command(command) => self.command(command).await,
                Job::Changes(events) => {
                    let _ = self.make(RunKind::Changes, &events).await;
                }
                Job::Auto(kind) => {
                    let _ = self.make(kind, &[]).await;
                }
            }
        }
        // Queued commands are dropped with their replies: each caller hears the scheduler stopped.
        let left = self.shared.with_inbox(|inbox| std::mem::take(&mut inbox.commands));
        drop(left);
        self.shared.with_status(|status| status.next = None);
        info!(realm = %self.shared.realm, "scheduler stopped");
    }

    /// Commands first, in order, then the queued notifications as one batch, then the next
    /// automatic run if it is due.
    fn next_job(&mut self) -> Job {
        let job = self.shared.with_inbox(|inbox| {
            if inbox.shutdown {
                Some(Job::Stop)
            } else if let Some(command) = inbox.commands.pop_front() {
                Some(Job::Command(command))
            } else if !inbox.events.is_empty() {
                Some(Job::Changes(std::mem::take(&mut inbox.events)))
            } else {
                None
            }
        });
        if let Some(job) = job {
            return job;
        }
        let next = self.next_auto();
        self.shared.with_status(|status| status.next = Some(next.clone()));
        if next.at <= self.clock.now() { Job::Auto(next.kind) } else { Job::Wait(next.at) }
    }

    /// The safety net, or the retry that stands in for it after a run that was not clean
    /// (never later than the safety net would have been), or a settle if that comes first.
    fn next_auto(&self) -> NextRun {
        let mut next = match (self.retry, self.last_safety) {
            (Some((at, _)), _) => NextRun { at, kind: RunKind::Retry },
            (None, Some(at)) => NextRun {
                at: after(at, self.settings.safety_net_interval()),
                kind: safety_kind(&self.settings),
            },
            (None, None) => NextRun { at: self.started_at, kind: safety_kind(&self.settings) },
        };
        if let Some(at) = self.settle_at.filter(|at| *at < next.at) {
            next = NextRun { at, kind: RunKind::Settle };
        }
        next
    }

    /// Sleeps on the clock until `until` or until a caller wakes the worker.
    async fn wait(&self, until: DateTime<Utc>) {
        let left = (until - self.clock.now()).to_std().unwrap_or(Duration::ZERO);
        let sleep = pin!(self.clock.sleep(left));
        let woken = pin!(self.shared.wake.notified());
        match select(sleep, woken).await {
            Either::Left(_) => debug!(realm = %self.shared.realm, "a scheduled run is due"),
            Either::Right(_) => debug!(realm = %self.shared.realm, "woken by a caller"),
        }
    }

    async fn command(&mut self, command: Command) {
        let (kind, reply) = match command {
            Command::SyncNow(reply) => (RunKind::SyncNow, reply),
            Command::Resync(range, reply) => (RunKind::Resync(range), reply),
            Command::SyncOne(target, reply) => (RunKind::SyncOne(target), reply),
        };
        let result = self.make(kind, &[]).await;
        let answer = result.and_then(|report| {
            report.ok_or_else(|| Error::config("the command's run made no report"))
        });
        // The caller may have stopped waiting; the run is done either way.
        let _ = reply.send(answer);
    }

    /// Makes one run and records it. `None` when a change batch held nothing new.
    async fn make(&mut self, kind: RunKind, events: &[ChangeEvent]) -> Result<Option<RunReport>> {
        let started = self.clock.now();
        let automatic =
            matches!(kind, RunKind::Poll | RunKind::CatchUp | RunKind::Settle | RunKind::Retry);
        self.shared.with_status(|status| {
            status.running = Some((kind.clone(), started));
            if automatic {
                status.next = None; // it is this run until the run ends
            }
        });
        info!(realm = %self.shared.realm, kind = ?kind, "run starting");
        let result = self.dispatch(&kind, events).await;
        let finished = self.clock.now();
        self.shared.with_status(|status| status.running = None);
        self.after_run(&kind, started, finished, &result);
        result
    }

    async fn dispatch(&self, kind: &RunKind, events: &[ChangeEvent]) -> Result<Option<RunReport>> {
        let engine = &self.engine;
        let options = RunOptions::default();
        match kind {
            RunKind::Changes => engine.run_changes(events, &options).await,
            RunKind::CatchUp | RunKind::Settle => engine.run_catch_up(&options).await.map(Some),
            RunKind::Retry if self.settings.webhooks => {
                engine.run_catch_up(&options).await.map(Some)
            }
            RunKind::Poll | RunKind::Retry | RunKind::SyncNow => {
                engine.run_incremental(&options).await.map(Some)
            }
            RunKind::Resync(range) => engine.run_range(range, &options).await.map(Some),
            RunKind::SyncOne(target) => engine.run_one(target, &options).await.map(Some),
        }
    }

    /// Moves the timers by the run's outcome and records it.
    fn after_run(
        &mut self,
        kind: &RunKind,
        started: DateTime<Utc>,
        finished: DateTime<Utc>,
        result: &Result<Option<RunReport>>,
    ) {
        let report = match result {
            Ok(None) => return,
            Ok(Some(report)) => Some(report),
            Err(_) => None,
        };
        let problem = match result {
            Err(e) => Some(e.to_string()),
            Ok(_) => report.and_then(|r| r.aborted.clone()),
        };
        let error_kind = match result {
            Err(e) => Some(e.kind()),
            Ok(report) => report.as_ref().and_then(|r| r.stopped_by),
        };
        if let Some(report) = report {
            // Every run settles what it can first, so its report says what is left to settle.
            let soonest = after(finished, Duration::from_secs(1));
            self.settle_at = report.settle_at.map(|at| at.max(soonest));
        }
        if !matches!(kind, RunKind::Resync(_) | RunKind::SyncOne(_)) {
            self.move_safety_net(started, finished, problem.is_none());
        }
        match &problem {
            Some(problem) => warn!(realm = %self.shared.realm, ?kind, %problem, "run not clean"),
            None => info!(realm = %self.shared.realm, ?kind, "run finished"),
        }
        let record = RunRecord {
            kind: kind.clone(),
            run_id: report.map(|r| r.run_id.clone()),
            scope: report.map(|r| r.scope.clone()),
            started_at: started,
            finished_at: finished,
            summary: report.map(|r| r.summary).unwrap_or_default(),
            problem,
            error_kind,
        };
        if let (Some(observe), Some(report)) = (&self.on_run, report) {
            observe.call(&self.shared.realm, &record, report);
        }
        let history = self.history;
        let next = self.next_auto();
        self.shared.with_status(|status| {
            status.last_runs.push_front(record);
            status.last_runs.truncate(history);
            status.next = Some(next);
        });
    }

    /// After a run that read from the cursors: a clean one restarts the safety-net interval;
    /// one that failed or stopped early is tried again after a minute, then twice as long each
    /// time, never longer than the safety-net interval.
    fn move_safety_net(&mut self, started: DateTime<Utc>, finished: DateTime<Utc>, clean: bool) {
        if clean {
            self.last_safety = Some(started);
            self.retry = None;
        } else {
            let wait = self.retry.map_or(FIRST_RETRY, |(_, wait)| wait.saturating_mul(2));
            let wait = wait.min(self.settings.safety_net_interval());
            self.retry = Some((after(finished, wait), wait));
        }
    }

    /// Reads the company's settings and, when they changed, builds the engine again with them.
    /// Settings that cannot be read or cannot run leave the current ones in force.
    async fn refresh_settings(&mut self) {
        let stored = match self.store.company_settings(&self.shared.realm).await {
            Ok(stored) => stored.unwrap_or_else(|| self.defaults.clone()),
            Err(e) => {
                warn!(realm = %self.shared.realm, error = %e, "could not read the company's settings; keeping the current ones");
                return;
            }
        };
        if stored == self.settings {
            return;
        }
        let rebuilt = stored
            .validate()
            .and_then(|()| self.builder.clone().config(stored.apply(&self.base)).build());
        match rebuilt {
            Ok(engine) => {
                info!(realm = %self.shared.realm, settings = ?stored, "settings changed; the next run uses them");
                self.engine = Arc::new(engine);
                *lock(&self.shared.engine) = self.engine.clone();
                self.shared.with_status(|status| status.settings = stored.clone());
                self.settings = stored;
            }
            Err(e) => {
                warn!(realm = %self.shared.realm, error = %e, "the company's new settings cannot run; keeping the current ones");
            }
        }
    }
}
