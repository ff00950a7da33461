//! The runs: incremental (cursor, window, pages), by range, one transaction, and the watch loop;
//! the driver that handles a batch concurrently and saves each outcome with the cursor's move.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use futures_util::stream::{self, StreamExt};
use tracing::{debug, info, warn};

use super::SyncEngine;
use super::config::RunOptions;
use super::cursor::{CursorTracker, updated_at};
use super::handle::{Outcome, Record, RunCtx};
use super::items::RetryChange;
use super::log::EntryMaker;
use crate::Result;
use crate::model::qbo::{EntityKind, SalesTransaction, Transaction};
use crate::qbo::api::{TxnDateQuery, UpdatedPager};
use crate::store::{Action, Commit, LogEntry, LogQuery, RunSummary};

/// A period to re-sync by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunRange {
    /// Transactions dated (`TxnDate`) from `from` to `to`, both inclusive.
    TxnDate {
        /// First date.
        from: NaiveDate,
        /// Last date.
        to: NaiveDate,
    },
    /// Transactions last modified between `from` and `to`, both inclusive.
    LastUpdated {
        /// Lower bound.
        from: DateTime<Utc>,
        /// Upper bound.
        to: DateTime<Utc>,
    },
}

/// One transaction to sync by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnRef {
    /// By QBO id; both entities are searched when `entity` is `None` (an invoice and a sales
    /// receipt may share an id, and then both are synced).
    Id {
        /// Invoice or sales receipt, if known.
        entity: Option<EntityKind>,
        /// The QBO id.
        id: String,
    },
    /// By DocNumber; every transaction carrying it is synced (DocNumbers can repeat).
    DocNumber {
        /// Invoice or sales receipt, if known.
        entity: Option<EntityKind>,
        /// The DocNumber.
        doc_number: String,
    },
}

/// What a run covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunScope {
    /// The scheduled run: everything changed since the cursor.
    Incremental,
    /// A period.
    Range(RunRange),
    /// One transaction.
    One(TxnRef),
    /// A batch of webhook events ([`SyncEngine::run_changes`]), with the catch-up after it.
    Changes {
        /// How many of the batch's events were new and this engine's.
        events: usize,
    },
    /// The catch-up alone ([`SyncEngine::run_catch_up`]).
    CatchUp,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// The run's id, as written in the log (`run-{UTC start}-{n}`).
    pub run_id: String,
    /// What the run covered.
    pub scope: RunScope,
    /// True when nothing was written.
    pub dry_run: bool,
    /// When the run started (the upper bound of an incremental window).
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// Counts by action.
    pub summary: RunSummary,
    /// Why the run stopped early (a service kept failing, credentials were refused), if it did;
    /// the cursor was left before everything not handled.
    pub aborted: Option<String>,
    /// The kind of the error that stopped the run early, when an error did:
    /// [`ErrorKind::Authentication`](crate::ErrorKind::Authentication) means the merchant must
    /// reconnect QuickBooks; a transient kind, that the next run will likely go through.
    pub stopped_by: Option<crate::ErrorKind>,
    /// The run's log entries in the order they were written: for a dry run, every entry it
    /// would have written; for other runs, the first
    /// [`SyncConfig::report_entries`](super::SyncConfig::report_entries) of them (the store
    /// holds them all: [`Store::query_log`](crate::Store::query_log) by `run_id`).
    pub entries: Vec<LogEntry>,
    /// Entries written to the store but left out of `entries` (0 unless the run wrote more
    /// than `report_entries`). The summary counts them all.
    pub entries_omitted: u64,
    /// The company's country (ISO alpha-2) the run read addresses without a country in: the
    /// configured one, else QBO's CompanyInfo's, else `US`.
    pub company_country: String,
    /// When some create's outcome is still unknown (its order not found yet, but sent less than
    /// [`SyncConfig::settle_after`](super::SyncConfig::settle_after) ago): the earliest instant
    /// a run can settle one. [`watch`](SyncEngine::watch) runs again then if that comes before
    /// the next scheduled run.
    pub settle_at: Option<DateTime<Utc>>,
}

/// How [`SyncEngine::watch`] loops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchOptions {
    /// Time from one run's start to the next (a run that takes longer is followed at once).
    pub interval: Duration,
    /// Stop after this many runs (`None`: until the callback says stop).
    pub max_runs: Option<u64>,
    /// Switches for every run.
    pub run: RunOptions,
}

/// The driver's side of a run: the counts by action, the entries kept for the report, and the
/// circuit breaker's count. Memory stays flat however many transactions a run handles: past
/// `keep` entries, an entry is only counted (the store has it).
#[derive(Debug)]
pub(super) struct RunLog {
    summary: RunSummary,
    entries: Vec<LogEntry>,
    keep: usize,
    omitted: u64,
    consecutive_failures: u32,
    settle_at: Option<DateTime<Utc>>,
}

impl RunLog {
    /// A log keeping every entry in a dry run (the report is its only record), else `keep`.
    fn new(dry_run: bool, keep: usize) -> Self {
        RunLog {
            summary: RunSummary::default(),
            entries: Vec::new(),
            keep: if dry_run { usize::MAX } else { keep },
            omitted: 0,
            consecutive_failures: 0,
            settle_at: None,
        }
    }

    fn record(&mut self, entry: LogEntry) {
        let s = &mut self.summary;
        match entry.action {
            Action::Created => s.created += 1,
            Action::Updated => s.updated += 1,
            Action::Skipped => s.skipped += 1,
            Action::Failed => s.failed += 1,
        }
        if self.entries.len() < self.keep {
            self.entries.push(entry);
        } else {
            self.omitted += 1;
        }
    }
}

/// What reading the change feed for deletes has found so far in a run.
pub(super) struct DeleteReader {
    /// The window's start.
    pub(super) since: DateTime<Utc>,
    /// Where the deletes cursor may move: the run's bound, or the server's clock when behind it.
    pub(super) end: DateTime<Utc>,
    /// Every delete seen is handled, and none can be hidden.
    pub(super) all_handled: bool,
    /// Deletes handled in this run (a cut answer read again repeats some).
    seen: HashSet<(EntityKind, String)>,
}

impl DeleteReader {
    pub(super) fn new(since: DateTime<Utc>, upper: DateTime<Utc>) -> Self {
        DeleteReader { since, end: upper, all_handled: true, seen: HashSet::new() }
    }

    pub(super) fn saw(&mut self, feed: &crate::qbo::api::ChangeFeed) {
        if let Some(server) = feed.server_time {
            self.end = self.end.min(server.with_timezone(&Utc));
        }
    }
}

/// The cursor a batch moves, if any.
pub(super) struct CursorSlot<'a> {
    pub(super) name: &'a str,
    pub(super) tracker: &'a mut CursorTracker,
    pub(super) default_at: DateTime<Utc>,
}

pub(super) fn tag(kind: EntityKind, docs: Vec<SalesTransaction>) -> Vec<Transaction> {
    docs.into_iter().map(|doc| Transaction { kind, doc }).collect()
}

impl SyncEngine {
    /// The scheduled run: for each entity, reads every transaction changed from the saved cursor
    /// (minus [`SyncConfig::overlap`](super::SyncConfig::overlap); [`initial_since`](super::SyncConfig::initial_since)
    /// on the first run) up to the run's start, page by page, handles each, and moves the cursor
    /// past what is handled. With `cancel_on_void` on, it then reads deletes from the change
    /// feed. A run that finds nothing new makes one QBO query per entity and no Ordoro call.
    pub async fn run_incremental(&self, options: &RunOptions) -> Result<RunReport> {
        let _turn = self.turn.lock().await;
        let (ctx, started_at) = self.start(options).await?;
        let mut log = self.run_log(&ctx);
        self.settle_all(&ctx, &mut log).await?;
        self.read_windows(&ctx, &mut log, started_at).await?;
        Ok(self.finish(ctx, log, RunScope::Incremental, started_at))
    }

    /// Reads every entity's incremental window up to `upper` by last-updated time, then (with
    /// `cancel_on_void`) the deletes from the change feed.
    pub(super) async fn read_windows(
        &self,
        ctx: &RunCtx,
        log: &mut RunLog,
        upper: DateTime<Utc>,
    ) -> Result<()> {
        let mut earliest_from = None;
        for entity in EntityKind::ALL {
            if ctx.is_tripped() {
                break;
            }
            let from = self.read_window(ctx, log, entity, upper).await?;
            earliest_from = Some(earliest_from.map_or(from, |e: DateTime<Utc>| e.min(from)));
        }
        if self.config.cancel_on_void && !ctx.is_tripped() {
            self.read_deletes(ctx, log, upper, earliest_from.unwrap_or(upper)).await?;
        }
        Ok(())
    }

    /// Re-syncs a period, by transaction date or by last-modified time. The cursor does not
    /// move; transactions already synced are not created again.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use qbo_ordoro::engine::RunRange;
    /// use qbo_ordoro::{RunOptions, SyncEngine};
    ///
    /// /// Every sale dated in November 2026, created where it is missing.
    /// async fn resync_november(engine: &SyncEngine) -> qbo_ordoro::Result<()> {
    ///     let november = RunRange::TxnDate {
    ///         from: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
    ///         to: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
    ///     };
    ///     let report = engine.run_range(&november, &RunOptions::default()).await?;
    ///     println!("{}", report.summary);
    ///     Ok(())
    /// }
    /// ```
    pub async fn run_range(&self, range: &RunRange, options: &RunOptions) -> Result<RunReport> {
        let _turn = self.turn.lock().await;
        let (ctx, started_at) = self.start(options).await?;
        let mut log = self.run_log(&ctx);
        self.settle_all(&ctx, &mut log).await?;
        for entity in EntityKind::ALL {
            if ctx.is_tripped() {
                break;
            }
            match range {
                RunRange::LastUpdated { from, to } => {
                    self.read_updated(&ctx, &mut log, entity, *from, *to, None).await?;
                }
                RunRange::TxnDate { from, to } => {
                    self.read_by_date(&ctx, &mut log, entity, *from, *to).await?;
                }
            }
        }
        Ok(self.finish(ctx, log, RunScope::Range(range.clone()), started_at))
    }

    /// Syncs one transaction, by id or by DocNumber (both entities are searched when the kind is
    /// not given). A reference that matches nothing gives a report with no entries.
    ///
    /// ```
    /// use qbo_ordoro::engine::TxnRef;
    /// use qbo_ordoro::{RunOptions, SyncEngine};
    ///
    /// /// What would happen to invoice or sales receipt number 1037, without writing anything.
    /// async fn preview_1037(engine: &SyncEngine) -> qbo_ordoro::Result<()> {
    ///     let target = TxnRef::DocNumber { entity: None, doc_number: "1037".into() };
    ///     let report = engine.run_one(&target, &RunOptions::dry_run()).await?;
    ///     for entry in &report.entries {
    ///         println!("{} {:?} {}", entry.action, entry.reason, entry.detail.as_deref().unwrap_or(""));
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub async fn run_one(&self, target: &TxnRef, options: &RunOptions) -> Result<RunReport> {
        let _turn = self.turn.lock().await;
        let (ctx, started_at) = self.start(options).await?;
        let mut log = self.run_log(&ctx);
        self.settle_all(&ctx, &mut log).await?;
        let (entity, label) = match target {
            TxnRef::Id { entity, id } => (entity, id),
            TxnRef::DocNumber { entity, doc_number } => (entity, doc_number),
        };
        let entities: Vec<EntityKind> = entity.map_or(EntityKind::ALL.to_vec(), |e| vec![e]);
        let mut found = Vec::new();
        for kind in entities {
            let read = match target {
                TxnRef::Id { id, .. } => {
                    self.qbo.get_transaction(kind, id).await.map(|d| d.into_iter().collect())
                }
                TxnRef::DocNumber { doc_number, .. } => {
                    self.qbo.find_by_doc_number(kind, doc_number).await
                }
            };
            match read {
                Ok(docs) => found.extend(tag(kind, docs)),
                Err(err) => {
                    ctx.trip_on(&err, format!("looking up {kind} {label} in QBO failed: {err}"));
                    break;
                }
            }
        }
        if !ctx.is_tripped() {
            self.process(&ctx, &mut log, found, None).await?;
        }
        Ok(self.finish(ctx, log, RunScope::One(target.clone()), started_at))
    }

    /// Runs [`run_incremental`](Self::run_incremental) every `interval` (sleeping on the
    /// engine's clock; sooner when a run reports [`RunReport::settle_at`], so that a create
    /// awaiting confirmation is settled as soon as it can be), handing each result to `after_run`, until `max_runs` runs are done or
    /// `after_run` returns [`ControlFlow::Break`]. Returns how many runs were made. A host stops
    /// it from outside through a flag read in `after_run`, or by dropping the future.
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// use std::time::Duration;
    /// use qbo_ordoro::engine::WatchOptions;
    /// use qbo_ordoro::{RunOptions, SyncEngine};
    ///
    /// /// Syncs every 15 minutes until a run stops early (a service down, credentials refused).
    /// async fn every_quarter_hour(engine: &SyncEngine) -> u64 {
    ///     let options = WatchOptions {
    ///         interval: Duration::from_secs(15 * 60),
    ///         max_runs: None,
    ///         run: RunOptions::default(),
    ///     };
    ///     engine
    ///         .watch(&options, |result| match result {
    ///             Ok(report) if report.aborted.is_none() => ControlFlow::Continue(()),
    ///             _ => ControlFlow::Break(()),
    ///         })
    ///         .await
    /// }
    /// ```
    pub async fn watch<F>(&self, options: &WatchOptions, mut after_run: F) -> u64
    where
        F: FnMut(Result<RunReport>) -> ControlFlow<()>,
    {
        let mut runs = 0u64;
        loop {
            let started = self.clock.now();
            let result = self.run_incremental(&options.run).await;
            let settle_at = result.as_ref().ok().and_then(|r| r.settle_at);
            runs += 1;
            if after_run(result).is_break() || options.max_runs.is_some_and(|max| runs >= max) {
                return runs;
            }
            let elapsed = (self.clock.now() - started).to_std().unwrap_or_default();
            let mut pause = options.interval.saturating_sub(elapsed);
            if let Some(at) = settle_at {
                pause = pause.min((at - self.clock.now()).to_std().unwrap_or_default());
            }
            self.clock.sleep(pause).await;
        }
    }

    /// Opens a run: its id, its context, and its start (whole seconds, as QBO stamps).
    pub(super) async fn start(&self, options: &RunOptions) -> Result<(RunCtx, DateTime<Utc>)> {
        let started_at = self.clock.now().trunc_subsecs(0);
        let run_id = self.new_run_id(started_at).await?;
        let ctx = self.open_ctx(run_id, options).await?;
        let country = ctx.mapping.company_country().unwrap_or(super::DEFAULT_COMPANY_COUNTRY);
        debug!(run = %ctx.maker.run_id, dry_run = options.dry_run, %country, "sync run started");
        Ok((ctx, started_at))
    }

    /// The context of run `run_id`: its mapping settings with the company's country, and its
    /// SKU state (the mapping table, the retry set). Writes nothing in a dry run (the country
    /// read from QBO is then not cached), so an inspection opens one too.
    pub(super) async fn open_ctx(&self, run_id: String, options: &RunOptions) -> Result<RunCtx> {
        let maker =
            EntryMaker { run_id, realm: self.realm().to_string(), dry_run: options.dry_run };
        let update = options.update_existing.unwrap_or(self.config.update_existing);
        let country = self.run_country(options.dry_run).await?;
        let mapping = self.config.mapping.clone().with_company_country(Some(&country));
        let ctx = RunCtx::new(maker, update, mapping);
        self.open_skus(&ctx).await?;
        Ok(ctx)
    }

    /// A run id no run of the company had: `run-{start}-{n}`, deterministic under a virtual
    /// clock. The store records it atomically ([`Store::start_run`](crate::Store::start_run)),
    /// so two processes starting in the same second get different ids even when neither logs
    /// anything; the log is asked too, for runs written before the store recorded starts.
    async fn new_run_id(&self, at: DateTime<Utc>) -> Result<String> {
        let stamp = at.format("%Y%m%dT%H%M%SZ");
        let realm = self.realm().to_string();
        loop {
            let n = self.runs_started.fetch_add(1, Ordering::Relaxed) + 1;
            let id = format!("run-{stamp}-{n}");
            let query = LogQuery {
                realm: Some(realm.clone()),
                run_id: Some(id.clone()),
                limit: Some(1),
                ..Default::default()
            };
            if self.store.query_log(&query).await?.is_empty()
                && self.store.start_run(&realm, &id).await?
            {
                return Ok(id);
            }
        }
    }

    pub(super) fn run_log(&self, ctx: &RunCtx) -> RunLog {
        RunLog::new(ctx.dry_run(), self.config.report_entries)
    }

    pub(super) fn finish(
        &self,
        ctx: RunCtx,
        log: RunLog,
        scope: RunScope,
        started_at: DateTime<Utc>,
    ) -> RunReport {
        let summary = log.summary;
        let aborted = ctx.abort_reason();
        let stopped_by = ctx.abort_kind();
        let report = RunReport {
            run_id: ctx.maker.run_id.clone(),
            scope,
            dry_run: ctx.dry_run(),
            started_at,
            finished_at: self.clock.now(),
            summary,
            aborted,
            stopped_by,
            entries: log.entries,
            entries_omitted: log.omitted,
            company_country: ctx.mapping.company_country().unwrap_or("US").to_string(),
            settle_at: log.settle_at,
        };
        match &report.aborted {
            None => {
                info!(run = %report.run_id, realm = %ctx.maker.realm, dry_run = report.dry_run, %summary, "sync run finished")
            }
            Some(why) => {
                warn!(run = %report.run_id, realm = %ctx.maker.realm, %summary, aborted = %why, "sync run stopped early")
            }
        }
        report
    }

    /// Settles the pending creates an interrupted run left, then handles the sales of the retry
    /// set again (not in a dry run: both write).
    pub(super) async fn settle_all(&self, ctx: &RunCtx, log: &mut RunLog) -> Result<()> {
        if ctx.dry_run() {
            return Ok(());
        }
        self.settle_pending_all(ctx, log).await?;
        for txn in self.read_retry_set(ctx).await? {
            let key = crate::store::LedgerKey {
                realm: self.realm().to_string(),
                entity: txn.kind,
                qbo_id: txn.doc.id.clone(),
            };
            let outcome = self.handle(ctx, txn.clone()).await?;
            let outcome = self.retried(ctx, &txn, outcome);
            if outcome.record().is_some() {
                // A window that reads the same version in this run does not handle it again.
                ctx.settled(key, &outcome);
            }
            self.observe(ctx, log, &outcome);
            self.save(ctx, log, outcome, None).await?;
        }
        Ok(())
    }

    /// Settles the pending creates an interrupted run left.
    async fn settle_pending_all(&self, ctx: &RunCtx, log: &mut RunLog) -> Result<()> {
        for pending in self.store.pending_entries(self.realm()).await? {
            let key = pending.key.clone();
            let outcome = self.settle_pending(ctx, pending).await?;
            if outcome.record().is_some() {
                ctx.settled(key, &outcome);
            }
            self.observe(ctx, log, &outcome);
            self.save(ctx, log, outcome, None).await?;
        }
        Ok(())
    }

    /// Reads one entity's incremental window and moves its cursor; returns the window's start.
    pub(super) async fn read_window(
        &self,
        ctx: &RunCtx,
        log: &mut RunLog,
        entity: EntityKind,
        upper: DateTime<Utc>,
    ) -> Result<DateTime<Utc>> {
        let name = self.cursor_name(entity);
        let saved = self.store.cursor(&name).await?;
        let overlap = self.overlap();
        let from = match saved {
            Some(at) => at - overlap,
            None => self.config.initial_since.resolve(upper),
        };
        let mut tracker = CursorTracker::new(saved);
        let cursor = Some((name.as_str(), &mut tracker));
        let server_now = self.read_updated(ctx, log, entity, from, upper, cursor).await?;
        if ctx.is_tripped() {
            return Ok(from);
        }
        // Everything up to the bound is handled: move to the bound, or to the server's clock
        // when it is behind ours, so a transaction QBO stamps later is still ahead of the cursor.
        let end = server_now.map_or(upper, |s| s.min(upper));
        if let Some(at) = tracker.complete(end)
            && !ctx.dry_run()
        {
            self.store.set_cursor(&name, at).await?;
        }
        Ok(from)
    }

    /// Reads the rows of `entity` last updated in `[from, to]`, page by page
    /// ([`UpdatedPager`]), handling each page as it arrives; with a `cursor` (its name and
    /// tracker), each handled row moves it. Returns the server's clock at the first page. A QBO
    /// failure trips the run.
    async fn read_updated(
        &self,
        ctx: &RunCtx,
        log: &mut RunLog,
        entity: EntityKind,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut cursor: Option<(&str, &mut CursorTracker)>,
    ) -> Result<Option<DateTime<Utc>>> {
        let mut pager = UpdatedPager::new(entity, from, to, self.config.page_size);
        let mut server_now = None;
        while let Some(query) = pager.next_query() {
            let page = match self.qbo.query_updated(&query).await {
                Ok(page) => page,
                Err(err) => {
                    ctx.trip_on(&err, format!("reading {entity} changes from QBO failed: {err}"));
                    break;
                }
            };
            server_now = server_now.or(page.server_time.map(|t| t.with_timezone(&Utc)));
            let default_at = pager.last_seen().unwrap_or(from);
            let rows = tag(entity, pager.accept_owned(page));
            let slot =
                cursor.as_mut().map(|(name, tracker)| CursorSlot { name, tracker, default_at });
            self.process(ctx, log, rows, slot).await?;
            if ctx.is_tripped() {
                break;
            }
        }
        Ok(server_now)
    }

    /// Reads one entity by transaction date. Offset paging here, with pages that overlap a
    /// little (rows seen twice are dropped) so that a row edited mid-run cannot shift an unread
    /// row out of view. A repeat can only come from the overlap, so only the last two pages'
    /// rows are remembered: memory stays flat however long the range.
    async fn read_by_date(
        &self,
        ctx: &RunCtx,
        log: &mut RunLog,
        entity: EntityKind,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<()> {
        let size = self.config.page_size;
        let step = size - (size / 10).min(50);
        let mut previous: HashSet<(String, String)> = HashSet::new();
        let mut latest: HashSet<(String, String)> = HashSet::new();
        let mut start_position = 1u32;
        loop {
            let query = TxnDateQuery { entity, from, to, start_position, max_results: size };
            let page = match self.qbo.query_txn_date(&query).await {
                Ok(page) => page,
                Err(err) => {
                    ctx.trip_on(&err, format!("reading {entity} by date from QBO failed: {err}"));
                    return Ok(());
                }
            };
            let full = page.transactions.len() >= size as usize;
            let mut keys = HashSet::with_capacity(page.transactions.len());
            let fresh: Vec<SalesTransaction> = page
                .transactions
                .into_iter()
                .filter(|t| {
                    let key = (t.id.clone(), t.sync_token.clone());
                    !previous.contains(&key) && !latest.contains(&key) && keys.insert(key)
                })
                .collect();
            previous = std::mem::replace(&mut latest, keys);
            self.process(ctx, log, tag(entity, fresh), None).await?;
            if !full || ctx.is_tripped() {
                return Ok(());
            }
            start_position = start_position.saturating_add(step);
        }
    }

    /// Reads deletes from the change feed and applies the void policy to their orders; moves the
    /// deletes cursor only when every delete since it was read and handled.
    ///
    /// QBO answers at most 1,000 objects and says nothing when it cuts an answer: an answer of
    /// that many may be cut. Each entity's deletes come after its changed objects, so they are
    /// the first to go. A cut answer is read again entity by entity; a cut answer of one entity
    /// that still shows deletes has every changed object and the first deletes, and is read on
    /// from its last delete; one that shows none hides its deletes behind 1,000 changes, and
    /// the cursor then stays where it is, with a warning (the change feed has no upper bound
    /// to narrow the window by).
    pub(super) async fn read_deletes(
        &self,
        ctx: &RunCtx,
        log: &mut RunLog,
        upper: DateTime<Utc>,
        fallback_from: DateTime<Utc>,
    ) -> Result<()> {
        let name = self.deletes_cursor_name();
        let overlap = self.overlap();
        let saved = self.store.cursor(&name).await?;
        // The feed looks back 30 days at most.
        let oldest = upper - chrono::Duration::days(30) + chrono::Duration::minutes(1);
        let since = saved.map_or(fallback_from, |at| at - overlap).max(oldest);
        let mut reader = DeleteReader::new(since, upper);
        let Some(feed) = self.feed(ctx, &EntityKind::ALL, since).await else { return Ok(()) };
        if feed.may_be_cut() {
            debug!(since = %since, "the change feed answered 1000 objects; reading it entity by entity");
            for entity in EntityKind::ALL {
                if !self.read_entity_deletes(ctx, log, &mut reader, entity).await? {
                    return Ok(());
                }
            }
        } else {
            reader.saw(&feed);
            self.apply_deletes(ctx, log, &mut reader, feed.deleted).await?;
        }
        if reader.all_handled && !ctx.dry_run() && saved.is_none_or(|s| s < reader.end) {
            self.store.set_cursor(&name, reader.end).await?;
        }
        Ok(())
    }

    /// One entity's deletes since the reader's start, read on from the last delete of each cut
    /// answer. False when the run tripped; a window whose deletes cannot be seen marks the
    /// reader incomplete.
    async fn read_entity_deletes(
        &self,
        ctx: &RunCtx,
        log: &mut RunLog,
        reader: &mut DeleteReader,
        entity: EntityKind,
    ) -> Result<bool> {
        let mut since = reader.since;
        // Each round reads on from a later delete; the bound only guards against a server that
        // keeps answering the same cut page.
        for _ in 0..100 {
            let Some(feed) = self.feed(ctx, &[entity], since).await else { return Ok(false) };
            reader.saw(&feed);
            let cut = feed.may_be_cut();
            let last_delete = feed.deleted.iter().filter_map(|d| d.deleted_at).max();
            self.apply_deletes(ctx, log, reader, feed.deleted).await?;
            if !cut {
                return Ok(true);
            }
            match last_delete.map(|t| t.with_timezone(&Utc)) {
                Some(at) if at > since => since = at,
                _ => break,
            }
        }
        warn!(
            entity = %entity, since = %reader.since,
            "more than 1000 {entity} objects changed since the deletes cursor, which hides their              deletes from QBO's change feed; the cursor stays, and orders of transactions              deleted in that window are not cancelled until fewer changes fall in it"
        );
        reader.all_handled = false;
        Ok(true)
    }

    /// The change feed of `entities` since `since`; `None` (the run tripped) when QBO failed.
    pub(super) async fn feed(
        &self,
        ctx: &RunCtx,
        entities: &[EntityKind],
        since: DateTime<Utc>,
    ) -> Option<crate::qbo::api::ChangeFeed> {
        match self.qbo.changes_since(entities, since).await {
            Ok(feed) => Some(feed),
            Err(err) => {
                ctx.trip_on(
                    &err,
                    format!("reading deletes from the QBO change feed failed: {err}"),
                );
                None
            }
        }
    }

    /// Handles each delete not handled yet in this run.
    pub(super) async fn apply_deletes(
        &self,
        ctx: &RunCtx,
        log: &mut RunLog,
        reader: &mut DeleteReader,
        deleted: Vec<crate::qbo::api::DeletedTransaction>,
    ) -> Result<()> {
        for deleted in deleted {
            if !reader.seen.insert((deleted.entity, deleted.id.clone())) {
                continue;
            }
            let outcome = self.handle_deleted(ctx, &deleted).await?;
            reader.all_handled &= outcome.is_handled();
            self.observe(ctx, log, &outcome);
            self.save(ctx, log, outcome, None).await?;
        }
        Ok(())
    }

    /// Handles a batch concurrently (at most `max_concurrency` at once) and saves each outcome
    /// as it arrives, with the cursor's move when there is a cursor.
    pub(super) async fn process(
        &self,
        ctx: &RunCtx,
        log: &mut RunLog,
        txns: Vec<Transaction>,
        cursor: Option<CursorSlot<'_>>,
    ) -> Result<()> {
        self.process_with(ctx, log, txns, cursor, false).await
    }

    /// [`process`](Self::process); with `remember`, each outcome that records something is
    /// remembered in the run's context, so that a later read of the same version in this run
    /// (the catch-up after a change-driven read) does not handle it a second time.
    pub(super) async fn process_with(
        &self,
        ctx: &RunCtx,
        log: &mut RunLog,
        txns: Vec<Transaction>,
        mut cursor: Option<CursorSlot<'_>>,
        remember: bool,
    ) -> Result<()> {
        self.prepare_items(ctx, &txns).await?;
        let ticketed: Vec<(Option<u64>, Transaction)> = txns
            .into_iter()
            .map(|txn| {
                let ticket = cursor
                    .as_mut()
                    .map(|c| c.tracker.begin(updated_at(&txn.doc).unwrap_or(c.default_at)));
                (ticket, txn)
            })
            .collect();
        let mut results = stream::iter(ticketed)
            .map(|(ticket, txn)| async move {
                // Only a remembering batch needs the key after the transaction is handed over.
                let key = remember.then(|| crate::store::LedgerKey {
                    realm: self.realm().to_string(),
                    entity: txn.kind,
                    qbo_id: txn.doc.id.clone(),
                });
                (ticket, key, self.handle(ctx, txn).await)
            })
            .buffer_unordered(self.config.max_concurrency);
        while let Some((ticket, key, result)) = results.next().await {
            let outcome = result?;
            if let Some(key) = key
                && outcome.record().is_some()
            {
                ctx.settled(key, &outcome);
            }
            self.observe(ctx, log, &outcome);
            let moved = match (cursor.as_mut(), ticket) {
                (Some(slot), Some(ticket)) => slot
                    .tracker
                    .finish(ticket, outcome.is_handled())
                    .map(|at| (slot.name.to_string(), at)),
                _ => None,
            };
            self.save(ctx, log, outcome, moved).await?;
        }
        Ok(())
    }

    /// The circuit breaker: counts consecutive transient failures and stops the run at the
    /// threshold; any handled transaction resets the count.
    fn observe(&self, ctx: &RunCtx, log: &mut RunLog, outcome: &Outcome) {
        match outcome {
            Outcome::Stop(record, why) => {
                // A stop's entry names its reason; refused credentials are the one a person acts
                // on (reconnect), so that one is kept as a kind for the report.
                let refused = record.log.reason == Some(crate::Reason::AuthFailed);
                ctx.trip_with(refused.then_some(crate::ErrorKind::Authentication), why.clone())
            }
            Outcome::Retry(record) => {
                log.consecutive_failures += 1;
                if log.consecutive_failures >= self.config.breaker_threshold {
                    let last = record.log.detail.as_deref().unwrap_or_default();
                    ctx.trip(format!(
                        "stopped after {} transient failures in a row; the last: {last}",
                        log.consecutive_failures
                    ));
                }
            }
            Outcome::Done(_) => log.consecutive_failures = 0,
            Outcome::Wait(_, at) => log.settle_at = Some(log.settle_at.map_or(*at, |s| s.min(*at))),
            Outcome::NotStarted | Outcome::Quiet => {}
        }
    }

    /// Saves an outcome: its log entry, ledger change and the cursor's move in one commit (a
    /// cursor move alone when there is nothing to log). A dry run saves nothing and only keeps
    /// the entry.
    async fn save(
        &self,
        ctx: &RunCtx,
        log: &mut RunLog,
        outcome: Outcome,
        moved: Option<(String, DateTime<Utc>)>,
    ) -> Result<()> {
        let retry = if ctx.dry_run() { None } else { self.retry_change(ctx, &outcome) };
        if let Some(RetryChange::Put(entry)) = &retry {
            self.store.put_retry_entry(entry).await?;
        }
        let Some(Record { log: entry, ledger }) = outcome.into_record() else {
            if let Some((name, at)) = moved
                && !ctx.dry_run()
            {
                self.store.set_cursor(&name, at).await?;
            }
            return Ok(());
        };
        if !ctx.dry_run() {
            let commit = Commit { log: entry, ledger, cursor: moved };
            self.store.commit(&commit).await?;
            if let Some(RetryChange::Remove(key)) = &retry {
                self.store.remove_retry_entry(key).await?;
            }
            log.record(commit.log);
        } else {
            log.record(entry);
        }
        Ok(())
    }
}
