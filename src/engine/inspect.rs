//! One transaction inspected, for the page a person reads about it: the QBO document as it reads
//! now, what a run would decide and send, the ship-to as parsed, the ledger and the log history.
//!
//! An inspection reads what a run reads and writes nothing: it opens the same context as a dry
//! run (`SyncEngine::open_ctx`: the company's country by `run_country`, the SKU mapping table),
//! reads the sale's items into the run's SKU book (`prepare_items`, which a dry run never
//! caches), and decides with the run's own code (`decide_with_fallback`, `check_skus`). It takes
//! no run's turn: a page never waits for a run, and a run never waits for a page.

use super::SyncEngine;
use super::company::DEFAULT_COMPANY_COUNTRY;
use super::config::RunOptions;
use super::handle::{Outcome, RunCtx};
use super::log::TxnFacts;
use super::run::TxnRef;
use crate::address::AddressError;
use crate::mapping::{Decision, ship_to};
use crate::model::ordoro::{NewOrder, OrdoroAddress};
use crate::model::qbo::{EntityKind, Transaction};
use crate::qbo::api::RawTransaction;
use crate::store::{LedgerEntry, LedgerKey, LedgerState, LogEntry, LogQuery};
use crate::{Error, ErrorKind, Result, Service};

/// The most log entries an [`Inspection`] holds ([`Inspection::history`]), newest first.
pub const INSPECTION_HISTORY: usize = 50;

/// One transaction as [`SyncEngine::inspect`] found it.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// The transaction inspected: found in QBO, else the one the ledger or the log knows by the
    /// reference (`None` when nothing knows it).
    pub key: Option<LedgerKey>,
    /// The QBO document as read now; `None` when QBO has no such transaction (never created,
    /// or deleted since).
    pub document: Option<InspectedDocument>,
    /// The company's country (ISO alpha-2) addresses without one are read in, as a run would.
    pub company_country: String,
    /// What a run would decide now (with the customer's ship-to when the fallback is on and the
    /// sale's own fails, and unknown SKUs failed under `RequireKnown`); `None` without a
    /// document. For an order that exists, a run acts on it only with updating on: see
    /// [`ledger`](Self::ledger).
    pub decision: Option<Decision>,
    /// The `POST /v3/order` body the decision maps to, when it creates.
    pub order: Option<NewOrder>,
    /// The ship-to as parsed, field by field, or why it cannot be (the address error's code
    /// and a message that says how to fix it in QBO); `None` without a document or for a
    /// deleted one.
    pub ship_to: Option<std::result::Result<OrdoroAddress, AddressError>>,
    /// The ledger entry: the order made of it, and where it stands.
    pub ledger: Option<LedgerEntry>,
    /// The transaction's log entries, newest first, at most [`INSPECTION_HISTORY`].
    pub history: Vec<LogEntry>,
    /// True when the log holds older entries than `history` shows.
    pub history_truncated: bool,
    /// Other transactions the reference matched (a DocNumber on several sales, an id both an
    /// invoice and a sales receipt have), for links; the first match is the one inspected.
    pub also_matching: Vec<LedgerKey>,
}

/// A QBO document as [`SyncEngine::inspect`] read it.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectedDocument {
    /// The JSON of the document.
    pub json: serde_json::Value,
    /// True when `json` is what QBO sent; false when the [`QboApi`](crate::QboApi) could only
    /// give the typed document, serialised (fields this crate does not read are then missing).
    pub verbatim: bool,
    /// The document as the sync reads it.
    pub transaction: Transaction,
}

/// What the reference found: the transaction to inspect, its document, the other matches.
struct Found {
    key: Option<LedgerKey>,
    raw: Option<RawTransaction>,
    others: Vec<LedgerKey>,
}

impl SyncEngine {
    /// Inspects one transaction for a person, writing nothing: the QBO document as it reads now
    /// (its JSON and the typed document), the decision a run would make with the same mapping
    /// settings (the company's country, the SKU book and its items, the customer ship-to
    /// fallback when it is on), the order body it maps to, the ship-to as parsed, the ledger
    /// entry, and the transaction's log history, newest first.
    ///
    /// A reference that matches several transactions inspects the first (invoices before sales
    /// receipts) and lists the others in [`Inspection::also_matching`]. One that QBO does not
    /// know gives no document, but still the ledger and the history of what the ledger or the
    /// log knows by it (a deleted sale's).
    ///
    /// Errors: a QBO read that fails (the transaction, its items, the customer for the
    /// fallback), an Ordoro product lookup under `RequireKnown`, or the store. Nothing is
    /// retried beyond the clients' own retries: the page shows the error and a person reloads.
    ///
    /// ```
    /// use qbo_ordoro::SyncEngine;
    /// use qbo_ordoro::engine::TxnRef;
    /// use qbo_ordoro::model::qbo::EntityKind;
    ///
    /// async fn show(engine: &SyncEngine) -> qbo_ordoro::Result<()> {
    ///     let target = TxnRef::Id { entity: Some(EntityKind::Invoice), id: "130".into() };
    ///     let seen = engine.inspect(&target).await?;
    ///     match (&seen.decision, &seen.ledger) {
    ///         (Some(decision), _) => println!("a run would {}", decision.action()),
    ///         (None, Some(entry)) => println!("gone from QBO; order {:?}", entry.order_number),
    ///         (None, None) => println!("no such transaction"),
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub async fn inspect(&self, target: &TxnRef) -> Result<Inspection> {
        let found = self.find_for_inspection(target).await?;
        let ledger = match &found.key {
            Some(key) => self.store.ledger_entry(key).await?,
            None => None,
        };
        let (history, history_truncated) = match &found.key {
            Some(key) => self.history(key).await?,
            None => (Vec::new(), false),
        };
        let ctx = self.open_ctx("inspect".to_string(), &RunOptions::dry_run()).await?;
        let company_country =
            ctx.mapping.company_country().unwrap_or(DEFAULT_COMPANY_COUNTRY).to_string();
        let mut inspection = Inspection {
            key: found.key,
            document: None,
            company_country,
            decision: None,
            order: None,
            ship_to: None,
            ledger,
            history,
            history_truncated,
            also_matching: found.others,
        };
        let (Some(raw), Some(key)) = (found.raw, inspection.key.as_ref()) else {
            return Ok(inspection);
        };
        let txn = Transaction { kind: key.entity, doc: raw.doc };
        let decision = self.inspect_decision(&ctx, &txn, inspection.ledger.as_ref()).await?;
        inspection.ship_to = match &decision {
            _ if txn.doc.is_deleted() => None,
            Decision::Create(mapped) => Some(Ok(mapped.order.shipping_address.clone())),
            _ => Some(ship_to(&txn.doc, &ctx.mapping_now())),
        };
        if let Decision::Create(mapped) = &decision {
            inspection.order = Some(mapped.order.clone());
        }
        inspection.decision = Some(decision);
        inspection.document =
            Some(InspectedDocument { json: raw.json, verbatim: raw.verbatim, transaction: txn });
        Ok(inspection)
    }

    /// The decision a run would make on `txn`, whose ledger entry is `ledger`: its items read
    /// first, then the run's own decision code.
    async fn inspect_decision(
        &self,
        ctx: &RunCtx,
        txn: &Transaction,
        ledger: Option<&LedgerEntry>,
    ) -> Result<Decision> {
        self.prepare_items(ctx, std::slice::from_ref(txn)).await?;
        if let Some(why) = ctx.abort_reason() {
            return Err(Error::new(ErrorKind::Service, why).with_service(Service::Qbo));
        }
        let decision = self.decide_with_fallback(ctx, txn).await.map_err(|err| {
            let why = format!("could not read the customer's ship-to for the fallback: {err}");
            Error::new(err.kind(), why)
        })?;
        // As a run: SKUs are looked up only for a decision it would act on.
        let writes = ledger.is_none_or(|e| e.state == LedgerState::Pending) || ctx.update_existing;
        let facts = TxnFacts::of(txn);
        self.check_skus(ctx, &facts, writes, decision).await.map_err(outcome_error)
    }

    /// The transaction `target` names, read from QBO, or the one the store knows by it.
    async fn find_for_inspection(&self, target: &TxnRef) -> Result<Found> {
        let key = |entity: EntityKind, id: &str| LedgerKey {
            realm: self.realm().to_string(),
            entity,
            qbo_id: id.to_string(),
        };
        let entities =
            |entity: &Option<EntityKind>| entity.map_or(EntityKind::ALL.to_vec(), |e| vec![e]);
        match target {
            TxnRef::Id { entity, id } => {
                let mut found = Vec::new();
                for kind in entities(entity) {
                    if let Some(raw) = self.qbo.get_transaction_json(kind, id).await? {
                        found.push((key(kind, id), raw));
                    }
                }
                if found.is_empty() {
                    let candidates = entities(entity).into_iter().map(|e| key(e, id)).collect();
                    let known = self.known_key(candidates).await?;
                    return Ok(Found { key: known, raw: None, others: Vec::new() });
                }
                let (first, raw) = found.remove(0);
                let others = found.into_iter().map(|(k, _)| k).collect();
                Ok(Found { key: Some(first), raw: Some(raw), others })
            }
            TxnRef::DocNumber { entity, doc_number } => {
                let mut matches = Vec::new();
                for kind in entities(entity) {
                    let docs = self.qbo.find_by_doc_number(kind, doc_number).await?;
                    matches.extend(docs.iter().map(|d| key(kind, &d.id)));
                }
                if matches.is_empty() {
                    let known = self.logged_doc_number(*entity, doc_number).await?;
                    return Ok(Found { key: known, raw: None, others: Vec::new() });
                }
                let first = matches.remove(0);
                // Read again by id for its JSON as QBO sends it (a query answers typed rows).
                let raw = self.qbo.get_transaction_json(first.entity, &first.qbo_id).await?;
                Ok(Found { key: Some(first), raw, others: matches })
            }
        }
    }

    /// Of `candidates` (one id as each entity), none of which QBO has: the one the ledger knows,
    /// else the one the log knows, else the only candidate.
    async fn known_key(&self, candidates: Vec<LedgerKey>) -> Result<Option<LedgerKey>> {
        for key in &candidates {
            if self.store.ledger_entry(key).await?.is_some() {
                return Ok(Some(key.clone()));
            }
        }
        for key in &candidates {
            if !self.history_query(key, 1).await?.entries.is_empty() {
                return Ok(Some(key.clone()));
            }
        }
        Ok(if candidates.len() == 1 { candidates.into_iter().next() } else { None })
    }

    /// The transaction the newest log entry with this DocNumber names, if any.
    async fn logged_doc_number(
        &self,
        entity: Option<EntityKind>,
        doc_number: &str,
    ) -> Result<Option<LedgerKey>> {
        let query = LogQuery {
            realm: Some(self.realm().to_string()),
            entity,
            doc_number: Some(doc_number.to_string()),
            newest_first: true,
            limit: Some(1),
            ..LogQuery::default()
        };
        let page = self.store.log_page(&query).await?;
        Ok(page.entries.first().map(|e| LedgerKey {
            realm: e.realm.clone(),
            entity: e.entity,
            qbo_id: e.qbo_id.clone(),
        }))
    }

    /// The transaction's log entries, newest first, and whether older ones were left out.
    async fn history(&self, key: &LedgerKey) -> Result<(Vec<LogEntry>, bool)> {
        let page = self.history_query(key, INSPECTION_HISTORY).await?;
        Ok((page.entries, page.next.is_some()))
    }

    async fn history_query(&self, key: &LedgerKey, limit: usize) -> Result<crate::store::LogPage> {
        let query = LogQuery {
            realm: Some(key.realm.clone()),
            entity: Some(key.entity),
            qbo_id: Some(key.qbo_id.clone()),
            newest_first: true,
            limit: Some(limit),
            ..LogQuery::default()
        };
        self.store.log_page(&query).await
    }
}

/// The error of an outcome a decision step ended in (an Ordoro lookup that failed), from what it
/// would have logged.
fn outcome_error(outcome: Outcome) -> Error {
    let Some(record) = outcome.into_record() else {
        return Error::new(ErrorKind::Service, "the decision could not be made; try again");
    };
    let why = record.log.detail.unwrap_or_else(|| "the decision could not be made".to_string());
    let service = record.log.failure.and_then(|f| f.service);
    let error = Error::new(ErrorKind::Service, format!("{why}; try again"));
    match service.as_deref() {
        Some("ordoro") => error.with_service(Service::Ordoro),
        Some("qbo") => error.with_service(Service::Qbo),
        _ => error,
    }
}
