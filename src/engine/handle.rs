//! Handling one transaction: ledger lookup, the decision, the exactly-once create, the void and
//! delete policy. Each handler returns an [`Outcome`] that the run driver saves (log, ledger and
//! cursor together); only store failures are returned as errors, because they stop the run.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::debug;

use super::SyncEngine;
use super::log::{EntryMaker, TxnFacts, failure_info, failure_reason, reason};
use crate::mapping::{Decision, SkipReason, decide};
use crate::model::ordoro::{NewOrder, Order};
use crate::model::qbo::Transaction;
use crate::ordoro::OrdoroApiExt;
use crate::qbo::DeletedTransaction;
use crate::store::{Action, FailureInfo, LedgerEntry, LedgerKey, LedgerState, LogEntry};
use crate::{Error, ErrorKind, Result};

/// The state of one run shared by the transactions handled concurrently.
#[derive(Debug)]
pub(crate) struct RunCtx {
    pub maker: EntryMaker,
    pub update_existing: bool,
    tripped: AtomicBool,
    abort_reason: Mutex<Option<String>>,
    /// Transactions whose pending create this run already settled: the SyncToken handled, or
    /// `None` when settling failed for now. A window that reads them again in the same run
    /// does not handle (and log) them a second time.
    settled: Mutex<HashMap<LedgerKey, Option<String>>>,
}

impl RunCtx {
    pub(crate) fn new(maker: EntryMaker, update_existing: bool) -> Self {
        RunCtx {
            maker,
            update_existing,
            tripped: AtomicBool::new(false),
            abort_reason: Mutex::new(None),
            settled: Mutex::new(HashMap::new()),
        }
    }

    /// Records how settling the pending create of `key` ended in this run.
    pub(crate) fn settled(&self, key: LedgerKey, outcome: &Outcome) {
        let token = outcome.log.as_ref().and_then(|l| l.sync_token.clone());
        let handled = if outcome.handled { token } else { None };
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

    pub(crate) fn is_tripped(&self) -> bool {
        self.tripped.load(Ordering::SeqCst)
    }

    pub(crate) fn abort_reason(&self) -> Option<String> {
        self.abort_reason.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What handling a transaction produced, for the driver to save.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The log entry; `None` when nothing was looked at.
    pub log: Option<LogEntry>,
    /// The ledger entry to save with it.
    pub ledger: Option<LedgerEntry>,
    /// A pending ledger entry to remove first (the create is known not to have happened).
    pub remove_ledger: Option<LedgerKey>,
    /// True when the transaction is fully handled, so the cursor may pass it.
    pub handled: bool,
    /// True when it failed for a reason that may go away (counts towards the circuit breaker).
    pub transient: bool,
    /// Set when the run must stop at once (credentials refused).
    pub fatal: Option<String>,
}

impl Outcome {
    fn done(log: LogEntry) -> Self {
        Outcome { log: Some(log), handled: true, ..Default::default() }
    }

    /// Nothing to do and nothing to log (a delete of a transaction never synced).
    fn nothing() -> Self {
        Outcome { handled: true, ..Default::default() }
    }

    /// The run stopped before this transaction was looked at.
    pub(crate) fn not_started() -> Self {
        Outcome::default()
    }

    fn with_ledger(mut self, entry: LedgerEntry) -> Self {
        self.ledger = Some(entry);
        self
    }

    fn removing(mut self, key: Option<LedgerKey>) -> Self {
        self.remove_ledger = key;
        self
    }

    fn with_order(mut self, order_number: Option<String>) -> Self {
        if let Some(log) = self.log.as_mut() {
            log.order_number = order_number;
        }
        self
    }

    /// Keeps `settled` as the ledger write when the outcome has none of its own.
    fn or_ledger(mut self, settled: Option<LedgerEntry>) -> Self {
        if self.ledger.is_none() && self.remove_ledger.is_none() {
            self.ledger = settled;
        }
        self
    }
}

/// True when Ordoro refused a create because an order with this `order_id` exists. Broader than
/// [`is_duplicate_order`](crate::ordoro::is_duplicate_order) (either sign suffices), since a
/// lookup confirms it before anything is concluded.
pub(crate) fn is_duplicate(err: &Error) -> bool {
    if crate::ordoro::is_duplicate_order(err) {
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
    matches!(err.kind(), ErrorKind::Authentication | ErrorKind::Config)
}

/// True when the transaction is voided: said by the decision, or by the document itself when
/// the decision stopped earlier (a voided sale whose class was also changed or removed is
/// skipped for its class, yet it is still voided).
fn is_voided(decision: &Decision, txn: &Transaction) -> bool {
    matches!(decision, Decision::Skip { reason: SkipReason::Voided, .. })
        || crate::mapping::is_voided(&txn.doc)
}

/// Why an order that exists in Ordoro is left alone, if it is.
pub(crate) fn left_alone_reason(order: &Order) -> Option<&'static str> {
    match order.status.as_str() {
        "awaiting_fulfillment" => None,
        "cancelled" => Some(reason::ORDER_CANCELLED),
        "dropshipment_requested" => Some(reason::ORDER_DROPSHIPPED),
        _ => Some(reason::ORDER_SHIPPED),
    }
}

impl SyncEngine {
    pub(crate) fn entry(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        action: Action,
        reason: Option<&str>,
        detail: impl Into<Option<String>>,
    ) -> LogEntry {
        ctx.maker.entry(self.clock.now(), facts, action, reason, detail)
    }

    /// A transaction the mapping rejected (`code` is the address or mapping error code): failed,
    /// with the code and message also kept as the entry's failure.
    fn unmappable(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        code: String,
        message: String,
    ) -> LogEntry {
        let mut log = self.entry(ctx, facts, Action::Failed, Some(&code), message.clone());
        log.failure = Some(FailureInfo { code: Some(code), message, ..Default::default() });
        log
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
        let mut log = self.entry(
            ctx,
            facts,
            Action::Failed,
            Some(failure_reason(err)),
            format!("{context}: {err}"),
        );
        log.failure = Some(failure_info(err));
        let mut outcome = Outcome { log: Some(log), ..Default::default() };
        if is_fatal(err) {
            outcome.fatal = Some(format!("{context}: {err}"));
        } else if err.is_retryable() || err.is_outcome_unknown() {
            outcome.transient = true;
        } else {
            outcome.handled = true;
        }
        outcome
    }

    /// Finds the order created for `order_id` in the configured sales channel, if there is one.
    pub(crate) async fn lookup(&self, order_id: &str) -> Result<Option<Order>> {
        self.ordoro.as_ref().find_by_order_id(order_id, self.config.mapping.cart()).await
    }

    /// Handles one transaction read from QBO.
    pub(crate) async fn handle(&self, ctx: &RunCtx, txn: Transaction) -> Result<Outcome> {
        if ctx.is_tripped() {
            return Ok(Outcome::not_started());
        }
        let facts = TxnFacts::of(&txn);
        let key = LedgerKey {
            realm: ctx.maker.realm.clone(),
            entity: txn.kind,
            qbo_id: txn.doc.id.clone(),
        };
        match ctx.settled_as(&key) {
            // Settling failed earlier in this run: the next run tries again.
            Some(None) => return Ok(Outcome::not_started()),
            // This very version was handled when its pending create was settled.
            Some(Some(token)) if token == txn.doc.sync_token => return Ok(Outcome::nothing()),
            _ => {}
        }
        let mut entry = self.store.ledger_entry(&key).await?;
        let mut settled = None;
        let mut had_pending = false;
        if let Some(pending) = entry.clone().filter(|e| e.state == LedgerState::Pending) {
            match self.lookup(&pending.order_id).await {
                Ok(Some(order)) => {
                    let created = LedgerEntry {
                        order_number: Some(order.order_number),
                        state: LedgerState::Created,
                        updated_at: self.clock.now(),
                        ..pending
                    };
                    settled = Some(created.clone());
                    entry = Some(created);
                }
                Ok(None) => {
                    had_pending = true;
                    entry = None;
                }
                Err(err) => {
                    return Ok(self.failed(
                        ctx,
                        &facts,
                        &err,
                        "could not settle an earlier create",
                    ));
                }
            }
        }
        let decision = decide(&txn, &self.config.mapping);
        let voided = is_voided(&decision, &txn);
        let outcome = match entry {
            None => self.handle_new(ctx, &facts, key, had_pending, decision).await?,
            Some(known) => {
                self.handle_known(ctx, &facts, known, settled.is_some(), voided, decision).await?
            }
        };
        if let Some(log) = &outcome.log {
            debug!(
                run = %log.run_id, entity = %log.entity, id = %log.qbo_id,
                action = %log.action, reason = log.reason.as_deref().unwrap_or(""),
                "transaction handled"
            );
        }
        Ok(outcome.or_ledger(settled))
    }

    /// A transaction with no order yet.
    async fn handle_new(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        key: LedgerKey,
        had_pending: bool,
        decision: Decision,
    ) -> Result<Outcome> {
        let stale_pending = had_pending.then(|| key.clone());
        match decision {
            Decision::Create(mapped) => {
                let warnings: Vec<String> = mapped.warnings.iter().map(|w| w.to_string()).collect();
                self.create(ctx, facts, key, &mapped.order, &warnings).await
            }
            Decision::Skip { reason, detail } => {
                let log = self.entry(ctx, facts, Action::Skipped, Some(reason.as_str()), detail);
                Ok(Outcome::done(log).removing(stale_pending))
            }
            Decision::Error { code, message } => {
                let log = self.unmappable(ctx, facts, code, message);
                Ok(Outcome::done(log).removing(stale_pending))
            }
        }
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
        if facts.sync_token.as_deref() == Some(known.sync_token.as_str()) {
            let outcome = if just_settled {
                let detail = format!("order {label} found in Ordoro after an interrupted create");
                Outcome::done(self.entry(ctx, facts, Action::Created, None, detail))
            } else {
                let detail = format!("order {label} is up to date with this version");
                Outcome::done(self.entry(
                    ctx,
                    facts,
                    Action::Skipped,
                    Some(reason::UNCHANGED),
                    detail,
                ))
            };
            return Ok(outcome.with_order(number));
        }
        if voided {
            let token = facts.sync_token.clone();
            return self.on_void(ctx, facts, known, reason::VOIDED, token).await;
        }
        if known.state == LedgerState::Cancelled {
            let detail =
                format!("order {label} was cancelled when the transaction was voided or deleted");
            let log =
                self.entry(ctx, facts, Action::Skipped, Some(reason::ORDER_CANCELLED), detail);
            return Ok(Outcome::done(log).with_order(number));
        }
        if !ctx.update_existing {
            let detail = format!("order {label} exists; updating existing orders is off");
            let log = self.entry(ctx, facts, Action::Skipped, Some(reason::ALREADY_SYNCED), detail);
            return Ok(Outcome::done(log).with_order(number));
        }
        match decision {
            Decision::Create(mapped) => self.update_order(ctx, facts, known, &mapped.order).await,
            Decision::Skip { reason, detail } => {
                let detail = format!("{detail}; order {label} left as is");
                let log = self.entry(ctx, facts, Action::Skipped, Some(reason.as_str()), detail);
                Ok(Outcome::done(log).with_order(number))
            }
            Decision::Error { code, message } => {
                let log = self.unmappable(ctx, facts, code, message);
                Ok(Outcome::done(log).with_order(number))
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
                    let detail = warned(format!("order {} created", created.order_number));
                    return Ok(self.created(ctx, facts, pending, created.order_number, detail));
                }
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
                let definite = outcome.handled;
                return Ok(outcome.removing(definite.then_some(key)));
            }
            match self.lookup(&order.order_id).await {
                Ok(Some(found)) => {
                    let detail = warned(format!(
                        "order {} created (found by lookup after: {err})",
                        found.order_number
                    ));
                    return Ok(self.created(ctx, facts, pending, found.order_number, detail));
                }
                Ok(None) if duplicate => {
                    let mut outcome = self.failed(
                        ctx,
                        facts,
                        &err,
                        "Ordoro refused the order as a duplicate and no lookup finds it",
                    );
                    if let Some(log) = outcome.log.as_mut() {
                        log.reason = Some(reason::DUPLICATE_ORDER.to_string());
                    }
                    return Ok(outcome.removing(Some(key)));
                }
                Ok(None) if retries_left > 0 => {
                    retries_left -= 1;
                    debug!(order_id = %order.order_id, error = %err, "create did not happen; sending it again");
                }
                Ok(None) => {
                    return Ok(self.failed(ctx, facts, &err, "the order could not be created"));
                }
                Err(lookup_err) => {
                    let context = format!("could not look the order up after: {err}");
                    return Ok(self.failed(ctx, facts, &lookup_err, &context));
                }
            }
        }
    }

    fn created(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        pending: LedgerEntry,
        order_number: String,
        detail: String,
    ) -> Outcome {
        let ledger = LedgerEntry {
            order_number: Some(order_number.clone()),
            state: LedgerState::Created,
            updated_at: self.clock.now(),
            ..pending
        };
        Outcome::done(self.entry(ctx, facts, Action::Created, None, detail))
            .with_order(Some(order_number))
            .with_ledger(ledger)
    }

    /// The void and delete policy for a transaction whose order exists.
    async fn on_void(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        known: LedgerEntry,
        why: &str,
        new_token: Option<String>,
    ) -> Result<Outcome> {
        let number = known.order_number.clone();
        let label = number.clone().unwrap_or_else(|| known.order_id.clone());
        let skip = |code: &str, detail: String| {
            Outcome::done(self.entry(ctx, facts, Action::Skipped, Some(code), detail))
                .with_order(number.clone())
        };
        if known.state == LedgerState::Cancelled {
            return Ok(skip(
                reason::ORDER_CANCELLED,
                format!("order {label} is already cancelled"),
            ));
        }
        if !self.config.cancel_on_void {
            return Ok(skip(why, format!("order {label} left as is: cancelling on void is off")));
        }
        let mark = |state: LedgerState| LedgerEntry {
            sync_token: new_token.clone().unwrap_or_else(|| known.sync_token.clone()),
            state,
            updated_at: self.clock.now(),
            ..known.clone()
        };
        let Some(order_number) = number.clone() else {
            return Ok(skip(reason::ORDER_NOT_FOUND, "no order number is known".to_string())
                .with_ledger(mark(LedgerState::Cancelled)));
        };
        let order = match self.ordoro.get_order(&order_number).await {
            Ok(Some(order)) => order,
            Ok(None) => {
                let detail = format!("order {label} is not in Ordoro; nothing to cancel");
                return Ok(
                    skip(reason::ORDER_NOT_FOUND, detail).with_ledger(mark(LedgerState::Cancelled))
                );
            }
            Err(err) => {
                return Ok(self
                    .failed(ctx, facts, &err, "could not read the order to cancel it")
                    .with_order(number));
            }
        };
        match left_alone_reason(&order) {
            Some(code) if code == reason::ORDER_CANCELLED => {
                let detail = format!("order {label} is already cancelled in Ordoro");
                return Ok(skip(code, detail).with_ledger(mark(LedgerState::Cancelled)));
            }
            Some(code) => {
                let detail = format!(
                    "the transaction is {why} but order {label} is {}; left alone",
                    order.status
                );
                return Ok(skip(code, detail).with_ledger(mark(LedgerState::Created)));
            }
            None => {}
        }
        if ctx.dry_run() {
            let detail = format!("would cancel order {label}");
            return Ok(Outcome::done(self.entry(ctx, facts, Action::Updated, Some(why), detail))
                .with_order(number));
        }
        match self.ordoro.cancel_order(&order_number).await {
            Ok(_) => {
                let detail = format!("order {label} cancelled");
                Ok(Outcome::done(self.entry(ctx, facts, Action::Updated, Some(why), detail))
                    .with_order(number)
                    .with_ledger(mark(LedgerState::Cancelled)))
            }
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
            return Ok(Outcome::not_started());
        }
        let key = LedgerKey {
            realm: ctx.maker.realm.clone(),
            entity: deleted.entity,
            qbo_id: deleted.id.clone(),
        };
        let Some(mut known) = self.store.ledger_entry(&key).await? else {
            return Ok(Outcome::nothing());
        };
        let facts = TxnFacts {
            entity: deleted.entity,
            qbo_id: deleted.id.clone(),
            doc_number: None,
            sync_token: None,
            last_updated: deleted.deleted_at,
        };
        if known.state == LedgerState::Pending {
            match self.lookup(&known.order_id).await {
                Ok(Some(order)) => {
                    known.order_number = Some(order.order_number);
                    known.state = LedgerState::Created;
                }
                Ok(None) => {
                    let detail = "deleted in QBO before its order was created".to_string();
                    let log =
                        self.entry(ctx, &facts, Action::Skipped, Some(reason::DELETED), detail);
                    return Ok(Outcome::done(log).removing(Some(key)));
                }
                Err(err) => {
                    return Ok(self.failed(
                        ctx,
                        &facts,
                        &err,
                        "could not settle an earlier create",
                    ));
                }
            }
        }
        self.on_void(ctx, &facts, known, reason::DELETED, None).await
    }

    /// Settles a pending create left by an interrupted run: by lookup, or by handling the
    /// transaction afresh when the order does not exist.
    pub(crate) async fn settle_pending(
        &self,
        ctx: &RunCtx,
        pending: LedgerEntry,
    ) -> Result<Outcome> {
        if ctx.is_tripped() {
            return Ok(Outcome::not_started());
        }
        let facts = TxnFacts::of_ledger(&pending);
        match self.lookup(&pending.order_id).await {
            Ok(Some(order)) => {
                let detail = format!(
                    "order {} found in Ordoro after an interrupted run",
                    order.order_number
                );
                Ok(self.created(ctx, &facts, pending, order.order_number, detail))
            }
            Ok(None) => {
                match self.qbo.get_transaction(pending.key.entity, &pending.key.qbo_id).await {
                    Ok(Some(doc)) => {
                        // The create never happened: handle the transaction as new.
                        self.store.remove_ledger_entry(&pending.key).await?;
                        self.handle(ctx, Transaction { kind: pending.key.entity, doc }).await
                    }
                    Ok(None) => {
                        let detail = "the transaction no longer exists in QBO".to_string();
                        let log =
                            self.entry(ctx, &facts, Action::Skipped, Some(reason::DELETED), detail);
                        Ok(Outcome::done(log).removing(Some(pending.key)))
                    }
                    Err(err) => {
                        Ok(self.failed(ctx, &facts, &err, "could not read the transaction"))
                    }
                }
            }
            Err(err) => Ok(self.failed(ctx, &facts, &err, "could not settle an earlier create")),
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
