//! Change-driven runs, the webhook path: [`SyncEngine::run_changes`] reads the transactions QBO
//! notified in as few requests as the query allows and handles them through the same
//! exactly-once path as every run, then catches up through the change feed (CDC) from the last
//! fully processed point; [`SyncEngine::run_catch_up`] is that catch-up alone, the daily
//! reconcile. A notification is a hint, never the truth: a lost or late one costs at most one
//! catch-up interval. The catch-up moves the same per-entity cursors as the incremental run, so
//! webhook-driven, polling and mixed hosts share one cursor, one ledger and one log.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use tracing::debug;

use super::SyncEngine;
use super::config::RunOptions;
use super::cursor::{CursorTracker, updated_at};
use super::handle::RunCtx;
use super::run::{CursorSlot, DeleteReader, RunLog, RunReport, RunScope, tag};
use crate::Result;
use crate::model::qbo::{EntityKind, Transaction};
use crate::qbo::api::{ChangeFeed, DeletedTransaction};
use crate::webhook::{ChangeEvent, Operation};

/// How far back the change feed reaches (QBO: 30 days), less a minute for the clocks.
fn feed_reach() -> chrono::Duration {
    chrono::Duration::days(30) - chrono::Duration::minutes(1)
}

/// One entity's window in a catch-up: its cursor, and where reading starts.
struct Window {
    entity: EntityKind,
    name: String,
    saved: Option<DateTime<Utc>>,
    from: DateTime<Utc>,
}

impl SyncEngine {
    /// Handles a batch of webhook events (of any companies and entities, as deliveries carry
    /// them): the events of this engine's company about invoices and sales receipts that were
    /// not processed before are read from QBO (`SELECT * FROM Invoice WHERE Id IN (...)`, in as
    /// few queries as the query size allows) and handled like any run's transactions; deletes
    /// follow the void policy ([`SyncConfig::cancel_on_void`](super::SyncConfig::cancel_on_void)).
    /// Then the run catches up through the change feed from the last fully processed point
    /// (as [`run_catch_up`](Self::run_catch_up)), so a notification lost before this one is
    /// made up for now. The events are remembered as processed once the run ends without
    /// stopping early ([`SyncConfig::event_retention`](super::SyncConfig::event_retention)).
    ///
    /// Returns `None`, without a request to QBO or Ordoro, when no event is new and this
    /// engine's: a retried delivery costs nothing.
    ///
    /// ```
    /// use qbo_ordoro::webhook::ChangeEvent;
    /// use qbo_ordoro::{RunOptions, SyncEngine};
    ///
    /// /// A worker handling what the host's webhook endpoint verified and queued.
    /// async fn on_events(engine: &SyncEngine, events: &[ChangeEvent]) -> qbo_ordoro::Result<()> {
    ///     match engine.run_changes(events, &RunOptions::default()).await? {
    ///         Some(report) => println!("{}", report.summary),
    ///         None => println!("nothing new for this company"),
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub async fn run_changes(
        &self,
        events: &[ChangeEvent],
        options: &RunOptions,
    ) -> Result<Option<RunReport>> {
        let _turn = self.turn.lock().await;
        let fresh = self.fresh_events(events).await?;
        if fresh.is_empty() {
            debug!(realm = %self.realm(), events = events.len(), "no new webhook event for this company");
            return Ok(None);
        }
        let (ctx, started_at) = self.start(options).await?;
        let mut log = self.run_log(&ctx);
        self.settle_all(&ctx, &mut log).await?;
        let mut deletes = DeleteReader::new(started_at, started_at);
        self.read_notified(&ctx, &mut log, &mut deletes, &fresh).await?;
        if !ctx.is_tripped() {
            self.catch_up(&ctx, &mut log, &mut deletes, started_at).await?;
        }
        if !ctx.is_tripped() && !ctx.dry_run() {
            self.remember_events(&fresh).await?;
        }
        let scope = RunScope::Changes { events: fresh.len() };
        Ok(Some(self.finish(ctx, log, scope, started_at)))
    }

    /// The catch-up alone: every invoice and sales receipt changed since the cursors (minus
    /// [`SyncConfig::overlap`](super::SyncConfig::overlap)), read from the change feed in one
    /// request when nothing changed, handled, and the cursors moved past them. Run it daily with
    /// webhooks on, and when a run reports [`RunReport::settle_at`]. When the cursors are older
    /// than the change feed reaches (30 days: an outage), or the feed's answer is full (1,000
    /// objects, where QBO cuts without a word), the window is read by the last-updated query
    /// instead, which pages without a cap, exactly as [`run_incremental`](Self::run_incremental).
    pub async fn run_catch_up(&self, options: &RunOptions) -> Result<RunReport> {
        let _turn = self.turn.lock().await;
        let (ctx, started_at) = self.start(options).await?;
        let mut log = self.run_log(&ctx);
        self.settle_all(&ctx, &mut log).await?;
        let mut deletes = DeleteReader::new(started_at, started_at);
        self.catch_up(&ctx, &mut log, &mut deletes, started_at).await?;
        Ok(self.finish(ctx, log, RunScope::CatchUp, started_at))
    }

    /// The events of `events` this engine handles and has not processed: its company's, about
    /// invoices and sales receipts, each once, in delivery order.
    async fn fresh_events(&self, events: &[ChangeEvent]) -> Result<Vec<ChangeEvent>> {
        let mut keys = HashSet::new();
        let mine: Vec<&ChangeEvent> = events
            .iter()
            .filter(|e| e.realm_id == self.realm() && e.entity_kind().is_some())
            .filter(|e| keys.insert(e.dedupe_key()))
            .collect();
        if mine.is_empty() {
            return Ok(Vec::new());
        }
        let asked: Vec<String> = mine.iter().map(|e| e.dedupe_key()).collect();
        let done: HashSet<String> =
            self.store.processed_events(self.realm(), &asked).await?.into_iter().collect();
        Ok(mine.into_iter().filter(|e| !done.contains(&e.dedupe_key())).cloned().collect())
    }

    /// Records the events as processed and forgets those past the retention window.
    async fn remember_events(&self, events: &[ChangeEvent]) -> Result<()> {
        let now = self.clock.now();
        let keys: Vec<String> = events.iter().map(ChangeEvent::dedupe_key).collect();
        self.store.mark_events_processed(self.realm(), &keys, now).await?;
        let retention = chrono::Duration::from_std(self.config.event_retention).unwrap_or_default();
        self.store.forget_events_before(now - retention).await?;
        Ok(())
    }

    /// Reads the notified transactions, entity by entity, and handles them; a notified delete
    /// follows the void policy. A QBO failure trips the run (the catch-up of a later run reads
    /// them again).
    async fn read_notified(
        &self,
        ctx: &RunCtx,
        log: &mut RunLog,
        deletes: &mut DeleteReader,
        events: &[ChangeEvent],
    ) -> Result<()> {
        for entity in EntityKind::ALL {
            let (read, deleted) = notified_ids(events, entity);
            if !read.is_empty() {
                let ids: Vec<String> = read.into_iter().collect();
                match self.qbo.transactions(entity, &ids).await {
                    Ok(docs) => {
                        let txns = distinct(tag(entity, docs));
                        self.process_with(ctx, log, txns, None, true).await?
                    }
                    Err(err) => {
                        ctx.trip_on(
                            &err,
                            format!("reading the notified {entity}s from QBO failed: {err}"),
                        );
                        return Ok(());
                    }
                }
            }
            if self.config.cancel_on_void && !deleted.is_empty() && !ctx.is_tripped() {
                let stubs = deleted
                    .into_iter()
                    .map(|(id, at)| DeletedTransaction {
                        entity,
                        id,
                        deleted_at: at.map(|t| t.fixed_offset()),
                    })
                    .collect();
                self.apply_deletes(ctx, log, deletes, stubs).await?;
            }
            if ctx.is_tripped() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Catches up from the cursors: one change-feed request for both entities when the
    /// cursors are within its reach and its answer is not full, else the incremental windows.
    async fn catch_up(
        &self,
        ctx: &RunCtx,
        log: &mut RunLog,
        deletes: &mut DeleteReader,
        upper: DateTime<Utc>,
    ) -> Result<()> {
        let windows = self.windows(upper).await?;
        let deletes_name = self.deletes_cursor_name();
        let overlap = self.overlap();
        let deletes_saved = match self.config.cancel_on_void {
            true => self.store.cursor(&deletes_name).await?,
            false => None,
        };
        let earliest = windows.iter().map(|w| w.from).min().unwrap_or(upper);
        let deletes_from = deletes_saved.map_or(earliest, |at| at - overlap);
        let since = earliest.min(deletes_from);
        if since < upper - feed_reach() {
            debug!(%since, "the cursors are older than the change feed reaches; reading by last-updated time");
            return self.read_windows(ctx, log, upper).await;
        }
        let Some(feed) = self.feed(ctx, &EntityKind::ALL, since).await else { return Ok(()) };
        if feed.may_be_cut() {
            debug!(%since, "the change feed answered 1000 objects; reading by last-updated time");
            return self.read_windows(ctx, log, upper).await;
        }
        let end = feed.server_time.map_or(upper, |s| s.with_timezone(&Utc).min(upper));
        let ChangeFeed { changed, deleted, .. } = feed;
        let mut by_entity: BTreeMap<EntityKind, Vec<Transaction>> = BTreeMap::new();
        for txn in distinct(changed) {
            by_entity.entry(txn.kind).or_default().push(txn);
        }
        for window in windows {
            let rows = by_entity.remove(&window.entity).unwrap_or_default();
            self.catch_up_window(ctx, log, window, rows, end).await?;
            if ctx.is_tripped() {
                return Ok(());
            }
        }
        if self.config.cancel_on_void {
            deletes.since = deletes_from;
            deletes.end = end;
            self.apply_deletes(ctx, log, deletes, deleted).await?;
            let moves = deletes_saved.is_none_or(|s| s < deletes.end);
            if deletes.all_handled && !ctx.is_tripped() && !ctx.dry_run() && moves {
                self.store.set_cursor(&deletes_name, deletes.end).await?;
            }
        }
        Ok(())
    }

    /// Each entity's cursor and the start of its window (the cursor minus the overlap, or the
    /// initial window on the first run).
    async fn windows(&self, upper: DateTime<Utc>) -> Result<Vec<Window>> {
        let overlap = self.overlap();
        let mut windows = Vec::new();
        for entity in EntityKind::ALL {
            let name = self.cursor_name(entity);
            let saved = self.store.cursor(&name).await?;
            let from =
                saved.map_or_else(|| self.config.initial_since.resolve(upper), |at| at - overlap);
            windows.push(Window { entity, name, saved, from });
        }
        Ok(windows)
    }

    /// Handles one entity's rows of the change feed, oldest first, and moves its cursor to
    /// `end` once every row up to it is handled. Rows stamped after `end` (the feed has no upper
    /// bound) are handled too, without moving the cursor past `end`: a row QBO stamps later
    /// than the server's clock said is still ahead of it.
    async fn catch_up_window(
        &self,
        ctx: &RunCtx,
        log: &mut RunLog,
        window: Window,
        mut rows: Vec<Transaction>,
        end: DateTime<Utc>,
    ) -> Result<()> {
        rows.retain(|t| updated_at(&t.doc).is_none_or(|at| at >= window.from));
        rows.sort_by_key(|t| updated_at(&t.doc));
        let (within, later): (Vec<Transaction>, Vec<Transaction>) =
            rows.into_iter().partition(|t| updated_at(&t.doc).is_none_or(|at| at <= end));
        let mut tracker = CursorTracker::new(window.saved);
        let slot =
            CursorSlot { name: &window.name, tracker: &mut tracker, default_at: window.from };
        self.process(ctx, log, within, Some(slot)).await?;
        if ctx.is_tripped() {
            return Ok(());
        }
        self.process(ctx, log, later, None).await?;
        if let Some(at) = tracker.complete(end)
            && !ctx.dry_run()
        {
            self.store.set_cursor(&window.name, at).await?;
        }
        Ok(())
    }
}

/// Each transaction once, its latest version kept: an answer may repeat a row (a proxy's
/// retry, or a change between two reads), and two copies handled at once could both find the
/// sale new.
fn distinct(txns: Vec<Transaction>) -> Vec<Transaction> {
    let version = |t: &Transaction| (updated_at(&t.doc), t.doc.sync_token.parse::<u64>().ok());
    let mut latest: BTreeMap<(EntityKind, String), Transaction> = BTreeMap::new();
    for txn in txns {
        let key = (txn.kind, txn.doc.id.clone());
        match latest.get(&key) {
            Some(kept) if version(kept) >= version(&txn) => {}
            _ => {
                latest.insert(key, txn);
            }
        }
    }
    latest.into_values().collect()
}

/// The ids of `entity` to read (created, updated, voided, e-mailed) and those deleted (with
/// when), each once; an id both notified and deleted is only deleted.
fn notified_ids(
    events: &[ChangeEvent],
    entity: EntityKind,
) -> (BTreeSet<String>, BTreeMap<String, Option<DateTime<Utc>>>) {
    let of_entity = events.iter().filter(|e| e.entity_kind() == Some(entity));
    let mut read = BTreeSet::new();
    let mut deleted = BTreeMap::new();
    for event in of_entity {
        match event.operation {
            Operation::Delete => {
                deleted.insert(event.qbo_id.clone(), event.occurred_at);
            }
            _ => {
                read.insert(event.qbo_id.clone());
            }
        }
    }
    read.retain(|id| !deleted.contains_key(id));
    (read, deleted)
}
