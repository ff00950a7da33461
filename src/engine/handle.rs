//! Handling one transaction: the ledger, the settling of a create that may have happened (one
//! path, `SyncEngine::settle` in `engine::settle`), the decision, the exactly-once create, and
//! the void and delete policy. Each handler returns an [`Outcome`] that the run driver saves (log, ledger change and
//! cursor together, in one commit); only store failures are returned as errors, because they
//! stop the run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tracing::debug;

use super::SyncEngine;
use super::company::CustomerCache;
use super::log::{EntryMaker, TxnFacts, failure_info, failure_reason};
use super::settle::{SETTLE_FAILED, Settled};
use crate::mapping::{Decision, MappingConfig, decide, decide_with_ship_to};
use crate::model::ordoro::{NewOrder, Order};
use crate::model::qbo::Transaction;
use crate::qbo::api::DeletedTransaction;
use crate::store::{
    Action, FailureInfo, LedgerChange, LedgerEntry, LedgerKey, LedgerState, LogEntry,
};
use crate::{Error, ErrorKind, Reason, Result};

/// The state of one run shared by the transactions handled concurrently.
#[derive(Debug)]
pub(crate) struct RunCtx {
    pub maker: EntryMaker,
    pub update_existing: bool,
    /// The run's mapping settings: the configured ones with the company's country.
    pub mapping: MappingConfig,
    /// The customers read for the ship-to fallback in this run.
    pub customers: CustomerCache,
    /// The SKU mapping table, the items read, the products looked up and the retry set.
    pub skus: super::items::RunSkus,
    tripped: AtomicBool,
    abort_reason: Mutex<Option<String>>,
    /// The kind of the error that stopped the run, when one did.
    abort_kind: Mutex<Option<ErrorKind>>,
    /// Transactions whose pending create this run already settled: the SyncToken handled, or
    /// `None` when settling failed for now. A window that reads them again in the same run
    /// does not handle (and log) them a second time.
    settled: Mutex<HashMap<LedgerKey, Option<String>>>,
}

impl RunCtx {
    pub(crate) fn new(maker: EntryMaker, update_existing: bool, mapping: MappingConfig) -> Self {
        RunCtx {
            maker,
            update_existing,
            mapping,
            customers: CustomerCache::default(),
            skus: Default::default(),
            tripped: AtomicBool::new(false),
            abort_reason: Mutex::new(None),
            abort_kind: Mutex::new(None),
            settled: Mutex::new(HashMap::new()),
        }
    }

    /// Records how settling the pending create of `key` ended in this run.
    pub(crate) fn settled(&self, key: LedgerKey, outcome: &Outcome) {
        let handled = match outcome {
            Outcome::Done(record) => record.log.sync_token.clone(),
            _ => None,
        };
        self.settled.lock().unwrap_or_else(|e| e.into_inner()).insert(key, handled);
    }

    /// How settling `key` ended in this run, if it was settled: `Some(None)` when it failed.
    fn settled_as(&self, key: &LedgerKey) -> Option<Option<String>> {
        self.settled.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    pub(crate) fn dry_run(&self) -> bool {
        self.maker.dry_run
    }

    /// Stops the run: transactions not yet started are left for the next run.
    pub(crate) fn trip(&self, why: String) {
        let mut reason = self.abort_reason.lock().unwrap_or_else(|e| e.into_inner());
        if reason.is_none() {
            *reason = Some(why);
        }
        self.tripped.store(true, Ordering::SeqCst);
    }

    /// Stops the run because of `err` (its kind goes in the report's
    /// [`stopped_by`](super::RunReport::stopped_by)).
    pub(crate) fn trip_on(&self, err: &Error, why: String) {
        self.trip_with(Some(err.kind()), why);
    }

    /// Stops the run, with the kind of the error behind it when one is.
    pub(crate) fn trip_with(&self, kind: Option<ErrorKind>, why: String) {
        if !self.is_tripped() {
            *self.abort_kind.lock().unwrap_or_else(|e| e.into_inner()) = kind;
        }
        self.trip(why);
    }

    /// The kind of the error that stopped the run, if one did.
    pub(crate) fn abort_kind(&self) -> Option<ErrorKind> {
        *self.abort_kind.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_tripped(&self) -> bool {
        self.tripped.load(Ordering::SeqCst)
    }

    pub(crate) fn abort_reason(&self) -> Option<String> {
        self.abort_reason.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A log entry and the ledger change to commit with it.
#[derive(Debug)]
pub(crate) struct Record {
    pub log: LogEntry,
    pub ledger: Option<LedgerChange>,
}

/// What handling a transaction came to, for the run driver to save and to count.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The run stopped before this transaction was looked at: nothing to save, and the cursor
    /// stays before it.
    NotStarted,
    /// Handled, with nothing to log (a delete of a transaction never synced, or a version this
    /// run already handled while settling its create). The cursor may pass it.
    Quiet,
    /// Handled: created, updated, skipped, or failed for good (the same input would fail
    /// again). The cursor may pass it.
    Done(Record),
    /// Failed for a reason that may go away (a service down, a lookup that failed): the
    /// cursor waits before it, and it counts towards the circuit breaker.
    Retry(Record),
    /// A create whose outcome Ordoro has not confirmed yet, which cannot be settled before the
    /// instant given: the entry stays pending and the cursor waits before it, but nothing
    /// failed, so the circuit breaker does not count it.
    Wait(Record, DateTime<Utc>),
    /// Failed in a way no later call can mend (credentials refused): the run stops at once, for
    /// the reason given.
    Stop(Record, String),
}

impl Outcome {
    fn done(log: LogEntry) -> Self {
        Outcome::Done(Record { log, ledger: None })
    }

    /// True when the transaction is fully handled, so the cursor may pass it.
    pub(crate) fn is_handled(&self) -> bool {
        matches!(self, Outcome::Quiet | Outcome::Done(_))
    }

    /// The log entry and ledger change to save, if any.
    pub(crate) fn record(&self) -> Option<&Record> {
        match self {
            Outcome::Done(r) | Outcome::Retry(r) | Outcome::Wait(r, _) | Outcome::Stop(r, _) => {
                Some(r)
            }
            Outcome::NotStarted | Outcome::Quiet => None,
        }
    }

    pub(crate) fn into_record(self) -> Option<Record> {
        match self {
            Outcome::Done(r) | Outcome::Retry(r) | Outcome::Wait(r, _) | Outcome::Stop(r, _) => {
                Some(r)
            }
            Outcome::NotStarted | Outcome::Quiet => None,
        }
    }

    fn record_mut(&mut self) -> Option<&mut Record> {
        match self {
            Outcome::Done(r) | Outcome::Retry(r) | Outcome::Wait(r, _) | Outcome::Stop(r, _) => {
                Some(r)
            }
            Outcome::NotStarted | Outcome::Quiet => None,
        }
    }

    pub(crate) fn with_ledger(mut self, change: LedgerChange) -> Self {
        if let Some(record) = self.record_mut() {
            record.ledger = Some(change);
        }
        self
    }

    pub(crate) fn with_order(mut self, order_number: Option<String>) -> Self {
        if let Some(record) = self.record_mut() {
            record.log.order_number = order_number;
        }
        self
    }

    fn with_reason(mut self, reason: Reason) -> Self {
        if let Some(record) = self.record_mut() {
            record.log.reason = Some(reason);
        }
        self
    }

    /// Saves `settled` (a pending create a lookup found) when the outcome changes the ledger
    /// in no other way, so what the lookup learnt is never lost.
    fn or_ledger(mut self, settled: LedgerEntry) -> Self {
        if let Some(record) = self.record_mut()
            && record.ledger.is_none()
        {
            record.ledger = Some(LedgerChange::Put(settled));
        }
        self
    }
}

/// What the ledger says of a transaction about to be handled, once a pending create is settled.
enum Known {
    /// No entry: no order was ever created.
    New,
    /// A pending create that a lookup shows never happened: handled as new, and its entry
    /// removed unless a new one replaces it.
    StalePending,
    /// An order exists (or was cancelled).
    Order(LedgerEntry),
    /// A pending create that a lookup has just found in Ordoro (the entry, now `Created`).
    Settled(LedgerEntry),
}

/// True when Ordoro refused a create because an order with this `order_id` exists. Broader than
/// [`is_duplicate_order`](crate::ordoro::api::is_duplicate_order) (either sign suffices), since a
/// lookup confirms it before anything is concluded.
pub(crate) fn is_duplicate(err: &Error) -> bool {
    if crate::ordoro::api::is_duplicate_order(err) {
        return true;
    }
    if !err.is_bad_input() {
        return false;
    }
    let message = err.message().to_ascii_lowercase();
    err.code() == Some("order_id")
        || message.contains("already exists")
        || message.contains("duplicate")
        || (message.contains("order_id") && message.contains("exist"))
}

/// True for failures that end the whole run at once: no later call can succeed.
fn is_fatal(err: &Error) -> bool {
    matches!(err.kind(), ErrorKind::Authentication | ErrorKind::Config | ErrorKind::LeaseLost)
}

/// True when the transaction is voided: said by the decision, or by the document itself when
/// the decision stopped earlier (a voided sale whose class was also changed or removed is
/// skipped for its class, yet it is still voided).
fn is_voided(decision: &Decision, txn: &Transaction) -> bool {
    matches!(decision, Decision::Skip { reason: Reason::Voided, .. })
        || crate::mapping::is_voided(&txn.doc)
}

/// Why an order that exists in Ordoro is left alone, if it is.
pub(crate) fn left_alone_reason(order: &Order) -> Option<Reason> {
    match order.status.as_str() {
        "awaiting_fulfillment" => None,
        "cancelled" => Some(Reason::OrderCancelled),
        "dropshipment_requested" => Some(Reason::OrderDropshipped),
        _ => Some(Reason::OrderShipped),
    }
}

impl SyncEngine {
    pub(crate) fn entry(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        action: Action,
        reason: Option<Reason>,
        detail: impl Into<Option<String>>,
    ) -> LogEntry {
        ctx.maker.entry(self.clock.now(), facts, action, reason, detail)
    }

    /// A transaction the mapping rejected (`code` is the address or mapping error code): failed,
    /// with the code and message also kept as the entry's failure.
    fn unmappable(&self, ctx: &RunCtx, facts: &TxnFacts, code: Reason, message: String) -> Outcome {
        let mut log = self.entry(ctx, facts, Action::Failed, Some(code), message.clone());
        log.failure = Some(FailureInfo {
            code: Some(code.as_str().to_string()),
            message,
            ..Default::default()
        });
        Outcome::done(log)
    }

    /// A failed call, logged with what the service said. Permanent failures (bad input, not
    /// found) count as handled; transient ones do not; refused credentials stop the run.
    pub(crate) fn failed(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        err: &Error,
        context: &str,
    ) -> Outcome {
        let detail = format!("{context}: {err}");
        let mut log =
            self.entry(ctx, facts, Action::Failed, Some(failure_reason(err)), detail.clone());
        log.failure = Some(failure_info(err));
        let record = Record { log, ledger: None };
        if is_fatal(err) {
            Outcome::Stop(record, detail)
        } else if err.is_retryable() || err.is_outcome_unknown() {
            Outcome::Retry(record)
        } else {
            Outcome::Done(record)
        }
    }

    /// Handles one transaction read from QBO.
    pub(crate) async fn handle(&self, ctx: &RunCtx, txn: Transaction) -> Result<Outcome> {
        if ctx.is_tripped() {
            return Ok(Outcome::NotStarted);
        }
        // A read that answers the shape of a delete is a delete, never an empty sale.
        if txn.doc.is_deleted() {
            let deleted = DeletedTransaction {
                entity: txn.kind,
                id: txn.doc.id.clone(),
                deleted_at: txn.doc.last_updated(),
            };
            return self.handle_deleted(ctx, &deleted).await;
        }
        let key = LedgerKey {
            realm: ctx.maker.realm.clone(),
            entity: txn.kind,
            qbo_id: txn.doc.id.clone(),
        };
        match ctx.settled_as(&key) {
            // Settling failed earlier in this run: the next run tries again.
            Some(None) => return Ok(Outcome::NotStarted),
            // This very version was handled when its pending create was settled.
            Some(Some(token)) if token == txn.doc.sync_token => return Ok(Outcome::Quiet),
            _ => {}
        }
        let facts = TxnFacts::of(&txn);
        let known = match self.store.ledger_entry(&key).await? {
            Some(entry) if entry.state == LedgerState::Pending => {
                match self.settle(ctx, &facts, &entry, SETTLE_FAILED).await? {
                    Settled::Created(entry) => Known::Settled(entry),
                    Settled::NotCreated => Known::StalePending,
                    Settled::NotYet(outcome) | Settled::Unknown(outcome) => return Ok(*outcome),
                }
            }
            Some(entry) => Known::Order(entry),
            None => Known::New,
        };
        self.handle_read(ctx, &facts, key, &txn, known).await
    }

    /// Decides a transaction whose ledger state is known, and acts on the decision.
    async fn handle_read(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        key: LedgerKey,
        txn: &Transaction,
        known: Known,
    ) -> Result<Outcome> {
        let decision = match self.ship_to_fallback(ctx, facts, txn).await {
            Ok(decision) => decision,
            Err(outcome) => return Ok(outcome),
        };
        let writes = matches!(known, Known::New | Known::StalePending) || ctx.update_existing;
        let decision = match self.check_skus(ctx, facts, writes, decision).await {
            Ok(decision) => decision,
            Err(outcome) => return Ok(outcome),
        };
        let voided = is_voided(&decision, txn);
        let outcome = match known {
            Known::New => self.handle_new(ctx, facts, key, false, decision).await?,
            Known::StalePending => self.handle_new(ctx, facts, key, true, decision).await?,
            Known::Order(entry) => {
                self.handle_known(ctx, facts, entry, false, voided, decision).await?
            }
            Known::Settled(entry) => self
                .handle_known(ctx, facts, entry.clone(), true, voided, decision)
                .await?
                .or_ledger(entry),
        };
        if let Some(Record { log, .. }) = outcome.record() {
            debug!(
                run = %log.run_id, entity = %log.entity, id = %log.qbo_id,
                action = %log.action, reason = log.reason.map_or("", Reason::as_str),
                "transaction handled"
            );
        }
        Ok(outcome)
    }

    /// The decision on `txn` ([`decide_with_fallback`](Self::decide_with_fallback)); a customer
    /// read that fails for now is the transaction's outcome (retried next run).
    async fn ship_to_fallback(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        txn: &Transaction,
    ) -> std::result::Result<Decision, Outcome> {
        self.decide_with_fallback(ctx, txn).await.map_err(|err| {
            let context = "could not read the customer's ship-to for the fallback";
            self.failed(ctx, facts, &err, context)
        })
    }

    /// The decision on `txn` with the run's mapping settings; with the ship-to fallback on, a
    /// sale whose ship-to fails with an address error is decided again with its customer's
    /// `ShipAddr` (read once per customer per run), which is kept only when it makes an order.
    /// A customer that does not exist, or has no usable `ShipAddr`, leaves the address error as
    /// it was; a customer read that fails is the error.
    pub(crate) async fn decide_with_fallback(
        &self,
        ctx: &RunCtx,
        txn: &Transaction,
    ) -> std::result::Result<Decision, Arc<Error>> {
        let mapping = ctx.mapping_now();
        let decision = decide(txn, &mapping);
        let Decision::Error { code: Reason::Address(_), message } = &decision else {
            return Ok(decision);
        };
        if !self.config.customer_ship_to_fallback {
            return Ok(decision);
        }
        let customer_id = txn.doc.customer_ref.as_ref().map(|c| c.value.trim().to_string());
        let Some(customer_id) = customer_id.filter(|id| !id.is_empty()) else {
            return Ok(decision);
        };
        let customer = ctx.customers.get(&self.qbo, &customer_id).await?;
        let Some(ship_addr) = customer.and_then(|c| c.ship_addr) else {
            debug!(id = %txn.doc.id, customer = %customer_id, "the customer has no ShipAddr to fall back on");
            return Ok(decision);
        };
        let warning = format!(
            "ship-to taken from the customer record (customer {customer_id}) because the \
             sale's own could not be used: {message}"
        );
        match decide_with_ship_to(txn, &mapping, &ship_addr, &warning) {
            created @ Decision::Create(_) => {
                tracing::warn!(id = %txn.doc.id, customer = %customer_id, "{warning}");
                Ok(created)
            }
            _ => Ok(decision),
        }
    }

    /// A transaction with no order yet; `stale` when a pending create of it never happened,
    /// so its entry goes unless a new create replaces it.
    async fn handle_new(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        key: LedgerKey,
        stale: bool,
        decision: Decision,
    ) -> Result<Outcome> {
        let outcome = match decision {
            Decision::Create(mapped) => {
                let warnings: Vec<String> = mapped.warnings.iter().map(|w| w.to_string()).collect();
                return self.create(ctx, facts, key, &mapped.order, &warnings).await;
            }
            Decision::Skip { reason, detail } => {
                Outcome::done(self.entry(ctx, facts, Action::Skipped, Some(reason), detail))
            }
            Decision::Error { code, message } => self.unmappable(ctx, facts, code, message),
        };
        Ok(if stale { outcome.with_ledger(LedgerChange::Remove(key)) } else { outcome })
    }

    /// A transaction whose order exists (or was cancelled).
    async fn handle_known(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        known: LedgerEntry,
        just_settled: bool,
        voided: bool,
        decision: Decision,
    ) -> Result<Outcome> {
        let number = known.order_number.clone();
        let label = number.clone().unwrap_or_else(|| known.order_id.clone());
        let skip = |reason: Reason, detail: String| {
            Outcome::done(self.entry(ctx, facts, Action::Skipped, Some(reason), detail))
                .with_order(number.clone())
        };
        if facts.sync_token.as_deref() == Some(known.sync_token.as_str()) {
            if just_settled {
                let detail = format!("order {label} found in Ordoro after an interrupted create");
                let log = self.entry(ctx, facts, Action::Created, None, detail);
                return Ok(Outcome::done(log).with_order(number));
            }
            return Ok(skip(
                Reason::Unchanged,
                format!("order {label} is up to date with this version"),
            ));
        }
        if voided {
            let token = facts.sync_token.clone();
            return self.on_void(ctx, facts, known, Reason::Voided, token).await;
        }
        if known.state == LedgerState::Cancelled {
            let detail =
                format!("order {label} was cancelled when the transaction was voided or deleted");
            return Ok(skip(Reason::OrderCancelled, detail));
        }
        if !ctx.update_existing {
            let detail = format!("order {label} exists; updating existing orders is off");
            return Ok(skip(Reason::AlreadySynced, detail));
        }
        match decision {
            Decision::Create(mapped) => self.update_order(ctx, facts, known, &mapped.order).await,
            Decision::Skip { reason, detail } => {
                Ok(skip(reason, format!("{detail}; order {label} left as is")))
            }
            Decision::Error { code, message } => {
                Ok(self.unmappable(ctx, facts, code, message).with_order(number))
            }
        }
    }

    /// Creates the order exactly once: a pending ledger entry first, then the POST; an ambiguous
    /// answer is settled by a lookup before any retry.
    async fn create(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        key: LedgerKey,
        order: &NewOrder,
        warnings: &[String],
    ) -> Result<Outcome> {
        let warned = |detail: String| {
            if warnings.is_empty() {
                detail
            } else {
                format!("{detail}; warnings: {}", warnings.join("; "))
            }
        };
        if ctx.dry_run() {
            let detail = warned(format!("would create order {}", order.order_id));
            return Ok(Outcome::done(self.entry(ctx, facts, Action::Created, None, detail)));
        }
        let pending = LedgerEntry {
            key: key.clone(),
            order_id: order.order_id.clone(),
            order_number: None,
            sync_token: facts.sync_token.clone().unwrap_or_default(),
            state: LedgerState::Pending,
            updated_at: self.clock.now(),
        };
        self.store.put_ledger_entry(&pending).await?;
        let mut retries_left = self.config.create_retries;
        loop {
            let err = match self.ordoro.create_order(order).await {
                Ok(created) => {
                    let channel = self.config.mapping.cart();
                    self.numbers.observe(channel, &order.order_id, &created.order_number);
                    self.remember_sent(&key, &created.order_number, order, None).await?;
                    let detail = warned(format!("order {} created", created.order_number));
                    let entry = self.created_entry(&pending, created.order_number);
                    return Ok(self.created(ctx, facts, entry, detail));
                }
                // Withheld by the fleet's lease gate: nothing was sent, and this worker may no
                // longer write for the company. The run ends; the pending entry stays for the
                // company's next holder to settle by lookup.
                Err(err) if err.kind() == ErrorKind::LeaseLost => return Err(err),
                Err(err) => err,
            };
            let duplicate = is_duplicate(&err);
            let ambiguous = duplicate
                || matches!(
                    err.kind(),
                    ErrorKind::OutcomeUnknown | ErrorKind::Service | ErrorKind::Transport
                );
            if is_fatal(&err) || !ambiguous {
                let outcome = self.failed(ctx, facts, &err, "Ordoro did not create the order");
                // A refused create certainly did not happen: forget the pending entry so that
                // the next version of the transaction is created afresh.
                return Ok(if outcome.is_handled() {
                    outcome.with_ledger(LedgerChange::Remove(key))
                } else {
                    outcome
                });
            }
            let context = format!("could not look the order up after: {err}");
            match self.settle(ctx, facts, &pending, &context).await? {
                Settled::Created(entry) => {
                    let number = entry.order_number.as_deref().unwrap_or_default();
                    // The order found is the one this very body created.
                    self.remember_sent(&key, number, order, None).await?;
                    let detail =
                        warned(format!("order {number} created (found by lookup after: {err})"));
                    return Ok(self.created(ctx, facts, entry, detail));
                }
                Settled::NotCreated if duplicate => {
                    let context = "Ordoro refused the order as a duplicate and no lookup finds it";
                    return Ok(self
                        .failed(ctx, facts, &err, context)
                        .with_reason(Reason::DuplicateOrder)
                        .with_ledger(LedgerChange::Remove(key)));
                }
                Settled::NotCreated if retries_left > 0 => {
                    retries_left -= 1;
                    debug!(order_id = %order.order_id, error = %err, "create did not happen; sending it again");
                }
                Settled::NotCreated => {
                    return Ok(self.failed(ctx, facts, &err, "the order could not be created"));
                }
                Settled::NotYet(outcome) | Settled::Unknown(outcome) => return Ok(*outcome),
            }
        }
    }

    /// The outcome of a create that happened: logged `created`, the ledger entry saved.
    fn created(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        entry: LedgerEntry,
        detail: String,
    ) -> Outcome {
        let number = entry.order_number.clone();
        Outcome::done(self.entry(ctx, facts, Action::Created, None, detail))
            .with_order(number)
            .with_ledger(LedgerChange::Put(entry))
    }

    /// The void and delete policy for a transaction whose order exists.
    async fn on_void(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        known: LedgerEntry,
        why: Reason,
        new_token: Option<String>,
    ) -> Result<Outcome> {
        let number = known.order_number.clone();
        let label = number.clone().unwrap_or_else(|| known.order_id.clone());
        let skip = |reason: Reason, detail: String| {
            Outcome::done(self.entry(ctx, facts, Action::Skipped, Some(reason), detail))
                .with_order(number.clone())
        };
        if known.state == LedgerState::Cancelled {
            let detail = format!("order {label} is already cancelled");
            return Ok(skip(Reason::OrderCancelled, detail));
        }
        if !self.config.cancel_on_void {
            return Ok(skip(why, format!("order {label} left as is: cancelling on void is off")));
        }
        let mark = |state: LedgerState| {
            LedgerChange::Put(LedgerEntry {
                sync_token: new_token.clone().unwrap_or_else(|| known.sync_token.clone()),
                state,
                updated_at: self.clock.now(),
                ..known.clone()
            })
        };
        let Some(order_number) = number.clone() else {
            return Ok(skip(Reason::OrderNotFound, "no order number is known".to_string())
                .with_ledger(mark(LedgerState::Cancelled)));
        };
        let order = match self.ordoro.get_order(&order_number).await {
            Ok(Some(order)) => order,
            Ok(None) => {
                let detail = format!("order {label} is not in Ordoro; nothing to cancel");
                return Ok(
                    skip(Reason::OrderNotFound, detail).with_ledger(mark(LedgerState::Cancelled))
                );
            }
            Err(err) => {
                return Ok(self
                    .failed(ctx, facts, &err, "could not read the order to cancel it")
                    .with_order(number));
            }
        };
        match left_alone_reason(&order) {
            Some(Reason::OrderCancelled) => {
                let detail = format!("order {label} is already cancelled in Ordoro");
                return Ok(
                    skip(Reason::OrderCancelled, detail).with_ledger(mark(LedgerState::Cancelled))
                );
            }
            Some(reason) => {
                let detail = format!(
                    "the transaction is {why} but order {label} is {}; left alone",
                    order.status
                );
                return Ok(skip(reason, detail).with_ledger(mark(LedgerState::Created)));
            }
            None => {}
        }
        let updated = |detail: String| {
            Outcome::done(self.entry(ctx, facts, Action::Updated, Some(why), detail))
                .with_order(number.clone())
        };
        if ctx.dry_run() {
            return Ok(updated(format!("would cancel order {label}")));
        }
        match self.ordoro.cancel_order(&order_number).await {
            Ok(_) => Ok(updated(format!("order {label} cancelled"))
                .with_ledger(mark(LedgerState::Cancelled))),
            Err(err) => {
                Ok(self.failed(ctx, facts, &err, "could not cancel the order").with_order(number))
            }
        }
    }

    /// A transaction deleted in QBO (from the change feed).
    pub(crate) async fn handle_deleted(
        &self,
        ctx: &RunCtx,
        deleted: &DeletedTransaction,
    ) -> Result<Outcome> {
        if ctx.is_tripped() {
            return Ok(Outcome::NotStarted);
        }
        let key = LedgerKey {
            realm: ctx.maker.realm.clone(),
            entity: deleted.entity,
            qbo_id: deleted.id.clone(),
        };
        let Some(known) = self.store.ledger_entry(&key).await? else {
            return Ok(Outcome::Quiet);
        };
        let facts = TxnFacts {
            entity: deleted.entity,
            qbo_id: deleted.id.clone(),
            doc_number: None,
            customer: None,
            sync_token: None,
            last_updated: deleted.deleted_at,
        };
        if known.state != LedgerState::Pending {
            return self.on_void(ctx, &facts, known, Reason::Deleted, None).await;
        }
        match self.settle(ctx, &facts, &known, SETTLE_FAILED).await? {
            Settled::Created(entry) => Ok(self
                .on_void(ctx, &facts, entry.clone(), Reason::Deleted, None)
                .await?
                .or_ledger(entry)),
            Settled::NotCreated => {
                let detail = "deleted in QBO before its order was created".to_string();
                let log = self.entry(ctx, &facts, Action::Skipped, Some(Reason::Deleted), detail);
                Ok(Outcome::done(log).with_ledger(LedgerChange::Remove(key)))
            }
            Settled::NotYet(outcome) | Settled::Unknown(outcome) => Ok(*outcome),
        }
    }

    /// Settles a pending create left by an interrupted run: by lookup, or by handling the
    /// transaction afresh when the order does not exist.
    pub(crate) async fn settle_pending(
        &self,
        ctx: &RunCtx,
        pending: LedgerEntry,
    ) -> Result<Outcome> {
        if ctx.is_tripped() {
            return Ok(Outcome::NotStarted);
        }
        let facts = TxnFacts::of_ledger(&pending);
        match self.settle(ctx, &facts, &pending, SETTLE_FAILED).await? {
            Settled::Created(entry) => {
                let number = entry.order_number.as_deref().unwrap_or_default();
                let detail = format!("order {number} found in Ordoro after an interrupted run");
                Ok(self.created(ctx, &facts, entry, detail))
            }
            Settled::NotYet(outcome) | Settled::Unknown(outcome) => Ok(*outcome),
            Settled::NotCreated => {
                let key = pending.key;
                match self.qbo.get_transaction(key.entity, &key.qbo_id).await {
                    Ok(Some(doc)) if !doc.is_deleted() => {
                        // The create never happened: handle the transaction as it reads now,
                        // with its items' SKUs.
                        let txn = Transaction { kind: key.entity, doc };
                        self.prepare_items(ctx, std::slice::from_ref(&txn)).await?;
                        if ctx.is_tripped() {
                            return Ok(Outcome::NotStarted);
                        }
                        let facts = TxnFacts::of(&txn);
                        self.handle_read(ctx, &facts, key, &txn, Known::StalePending).await
                    }
                    // Not found, or the shape of a delete: it no longer exists in QBO.
                    Ok(_) => {
                        let detail = "the transaction no longer exists in QBO".to_string();
                        let reason = Some(Reason::Deleted);
                        let log = self.entry(ctx, &facts, Action::Skipped, reason, detail);
                        Ok(Outcome::done(log).with_ledger(LedgerChange::Remove(key)))
                    }
                    Err(err) => {
                        Ok(self.failed(ctx, &facts, &err, "could not read the transaction"))
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Service;

    #[test]
    fn a_duplicate_is_a_bad_input_that_names_the_order_id_or_says_it_exists() {
        let ordoro = |e: Error| e.with_service(Service::Ordoro).with_status(400);
        assert!(is_duplicate(&ordoro(
            Error::bad_input("Order ID already exists").with_code("order_id")
        )));
        assert!(is_duplicate(&ordoro(Error::bad_input("invalid").with_code("order_id"))));
        assert!(is_duplicate(&ordoro(Error::bad_input("order QBO-INV-1 already exists"))));
        assert!(!is_duplicate(&ordoro(
            Error::bad_input("lines[0].sku is required").with_code("lines")
        )));
        assert!(!is_duplicate(&Error::new(ErrorKind::Service, "order already exists")));
    }
}
