//! The SKUs of a run: the SKU mapping table (read from the store once per run), the QBO items
//! the run's sales reference (read in batches before each page is handled, and cached in the
//! store across runs), the Ordoro products the `require_known` policy looks up (once per SKU per
//! run), and the retry set: sales that failed for a reason a setting can fix, read again by id at
//! the start of each run until they succeed or fail for another reason.
//!
//! The item cache stays true by one query per run, at the first page that needs items: the
//! items changed since the cache's cursor (`{realm}/Item`, minus the overlap). Ids the cache
//! does not hold are read with `Id IN (...)` queries; an id asked for once in a run (found or
//! not) is not asked for again in that run. A run that reads no sale reads no item.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use tracing::{debug, info};

use super::SyncEngine;
use super::handle::{Outcome, RunCtx};
use super::log::TxnFacts;
use crate::mapping::{Decision, LineSku, MappedOrder, MappingConfig, SkuBook, item_ids};
use crate::model::qbo::{EntityKind, Transaction};
use crate::store::{Action, LedgerKey, RetryEntry};
use crate::{Reason, Result};

/// What to do with a line whose SKU is not a product of the Ordoro account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UnknownSkuPolicy {
    /// Send it: Ordoro creates the product on the fly (the default, and the behaviour from
    /// before SKUs were checked). No lookup is made.
    #[default]
    Create,
    /// Look each SKU up in Ordoro (`GET /product/{sku}/`, once per SKU per run) and fail a
    /// sale with an unknown one (`unknown_sku`, naming the line, the SKU and the mapping that
    /// would fix it). The sale is kept in the retry set, so the run after a mapping is added
    /// creates its order.
    RequireKnown,
}

type ProductLookup = Shared<BoxFuture<'static, std::result::Result<bool, Arc<crate::Error>>>>;

/// The SKU state of one run, shared by the transactions handled concurrently.
#[derive(Debug, Default)]
pub(crate) struct RunSkus {
    book: RwLock<Arc<SkuBook>>,
    /// Item ids asked for in this run, found or not.
    asked: Mutex<HashSet<String>>,
    /// True once this run read the items changed since the cache's cursor.
    refreshed: Mutex<bool>,
    /// Whether each SKU looked up in this run is a product of the Ordoro account: one lookup
    /// per SKU, shared by the transactions that ask for it at once.
    products: Mutex<HashMap<String, ProductLookup>>,
    /// The retry set as the run found it, and what the run added to it.
    retrying: Mutex<HashMap<LedgerKey, RetryEntry>>,
}

impl RunSkus {
    fn book(&self) -> Arc<SkuBook> {
        self.book.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn update_book(&self, change: impl FnOnce(&mut SkuBook)) {
        let mut book = self.book.write().unwrap_or_else(|e| e.into_inner());
        let mut next = SkuBook::clone(&book);
        change(&mut next);
        *book = Arc::new(next);
    }

    fn retrying(&self) -> std::sync::MutexGuard<'_, HashMap<LedgerKey, RetryEntry>> {
        self.retrying.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl RunCtx {
    /// The run's mapping settings with the SKU book as it stands (the items read so far).
    pub(crate) fn mapping_now(&self) -> MappingConfig {
        self.mapping.clone().with_sku_book(Some(self.skus.book()))
    }
}

/// A change the run makes to the retry set around a commit.
pub(crate) enum RetryChange {
    /// Add (or refresh) the sale's entry before the commit: a crash then leaves it in the set
    /// (read again next run), never out of it past the cursor.
    Put(RetryEntry),
    /// Remove the sale's entry after the commit: it was handled for good.
    Remove(LedgerKey),
}

impl SyncEngine {
    /// Opens the run's SKU state: the SKU mapping table, and the retry set.
    pub(crate) async fn open_skus(&self, ctx: &RunCtx) -> Result<()> {
        let mappings = self.store.sku_mappings(self.realm()).await?;
        let extra = &self.config.sku_mappings;
        ctx.skus.update_book(|book| mappings.iter().chain(extra).for_each(|m| book.add_mapping(m)));
        let entries = self.store.retry_entries(self.realm()).await?;
        ctx.skus.retrying().extend(entries.into_iter().map(|e| (e.key.clone(), e)));
        Ok(())
    }

    /// Saves SKU mappings in the store's table for this company (each replaces one of the same
    /// key), so that every later run applies them.
    pub async fn save_sku_mappings(&self, mappings: &[crate::mapping::SkuMapping]) -> Result<()> {
        for mapping in mappings {
            self.store.put_sku_mapping(self.realm(), mapping).await?;
        }
        Ok(())
    }

    /// The SKU mapping table saved for this company.
    pub async fn sku_mappings(&self) -> Result<Vec<crate::mapping::SkuMapping>> {
        self.store.sku_mappings(self.realm()).await
    }

    /// Reads the items `txns` reference that the run has not asked for yet, from the store's
    /// cache or from QBO, into the run's book. A QBO failure trips the run: a sale mapped
    /// without its item's SKU could send the wrong one.
    pub(crate) async fn prepare_items(&self, ctx: &RunCtx, txns: &[Transaction]) -> Result<()> {
        let wanted: Vec<String> = {
            let mut asked = ctx.skus.asked.lock().unwrap_or_else(|e| e.into_inner());
            let mut ids = Vec::new();
            for txn in txns.iter().filter(|t| !t.doc.is_deleted()) {
                ids.extend(item_ids(&txn.doc).into_iter().filter(|id| asked.insert(id.clone())));
            }
            ids
        };
        if wanted.is_empty() || ctx.is_tripped() {
            return Ok(());
        }
        if let Err(err) = self.read_items(ctx, &wanted).await {
            // Not asked after all: the next run asks again.
            let mut asked = ctx.skus.asked.lock().unwrap_or_else(|e| e.into_inner());
            wanted.iter().for_each(|id| {
                asked.remove(id);
            });
            match err {
                ItemsFailed::Store(err) => return Err(err),
                ItemsFailed::Qbo(err) => {
                    ctx.trip_on(&err, format!("reading the sales' items from QBO failed: {err}"))
                }
            }
        }
        Ok(())
    }

    async fn read_items(&self, ctx: &RunCtx, ids: &[String]) -> Result<(), ItemsFailed> {
        let realm = self.realm();
        let name = format!("{realm}/Item");
        let cursor = self.store.cursor(&name).await.map_err(ItemsFailed::Store)?;
        let started = self.clock.now();
        let first_read = {
            let mut refreshed = ctx.skus.refreshed.lock().unwrap_or_else(|e| e.into_inner());
            !std::mem::replace(&mut *refreshed, true)
        };
        if first_read && let Some(at) = cursor {
            let overlap = self.overlap();
            let changed =
                self.qbo.items_changed_since(at - overlap).await.map_err(ItemsFailed::Qbo);
            let changed = match changed {
                Ok(changed) => changed,
                Err(err) => {
                    *ctx.skus.refreshed.lock().unwrap_or_else(|e| e.into_inner()) = false;
                    return Err(err);
                }
            };
            debug!(realm, changed = changed.len(), "items changed since the cache's cursor");
            if !ctx.dry_run() {
                self.store.cache_items(realm, &changed).await.map_err(ItemsFailed::Store)?;
                self.store.set_cursor(&name, started).await.map_err(ItemsFailed::Store)?;
            }
        }
        // Without a cursor the cache cannot be trusted to be current (a crash between caching
        // and setting the cursor): read every item from QBO.
        let cached = match cursor {
            Some(_) => self.store.cached_items(realm, ids).await.map_err(ItemsFailed::Store)?,
            None => Vec::new(),
        };
        let have: HashSet<&str> = cached.iter().map(|i| i.id.as_str()).collect();
        let missing: Vec<String> =
            ids.iter().filter(|id| !have.contains(id.as_str())).cloned().collect();
        let fetched = match missing.is_empty() {
            true => Vec::new(),
            false => self.qbo.items(&missing).await.map_err(ItemsFailed::Qbo)?,
        };
        debug!(realm, cached = cached.len(), fetched = fetched.len(), "items read");
        if !ctx.dry_run() && !fetched.is_empty() {
            self.store.cache_items(realm, &fetched).await.map_err(ItemsFailed::Store)?;
            if cursor.is_none() {
                self.store.set_cursor(&name, started).await.map_err(ItemsFailed::Store)?;
            }
        }
        ctx.skus
            .update_book(|book| cached.into_iter().chain(fetched).for_each(|i| book.add_item(i)));
        Ok(())
    }

    /// Under [`UnknownSkuPolicy::RequireKnown`], a decision to create (or update) an order whose
    /// lines name a SKU the Ordoro account does not know becomes an `unknown_sku` error naming
    /// each such line. `writes` is false when the decision will not be acted on (the order
    /// exists and updating is off): then nothing is looked up. A lookup that fails is the
    /// transaction's outcome.
    pub(crate) async fn check_skus(
        &self,
        ctx: &RunCtx,
        facts: &TxnFacts,
        writes: bool,
        decision: Decision,
    ) -> std::result::Result<Decision, Outcome> {
        if self.config.unknown_skus != UnknownSkuPolicy::RequireKnown || !writes {
            return Ok(decision);
        }
        let Decision::Create(mapped) = &decision else { return Ok(decision) };
        let mut unknown = Vec::new();
        for (line, sku) in mapped.order.lines.iter().zip(&mapped.skus) {
            match self.product_known(ctx, &line.product.sku).await {
                Ok(true) => {}
                Ok(false) => unknown.push(describe_unknown(mapped, sku)),
                Err(err) => {
                    let context = format!("could not look SKU {} up in Ordoro", line.product.sku);
                    return Err(self.failed(ctx, facts, err.as_ref(), &context));
                }
            }
        }
        if unknown.is_empty() {
            return Ok(decision);
        }
        Ok(Decision::Error {
            code: Reason::UnknownSku,
            message: format!(
                "{}. No order was created, so that Ordoro does not invent products; once the \
                 mapping is added (or the product exists in Ordoro), the next run creates the \
                 order",
                unknown.join("; ")
            ),
        })
    }

    /// Whether `sku` is a product of the Ordoro account, looked up the first time the run asks.
    /// A failed lookup is kept too: the run does not ask again, and the next run does.
    async fn product_known(
        &self,
        ctx: &RunCtx,
        sku: &str,
    ) -> std::result::Result<bool, Arc<crate::Error>> {
        let lookup = {
            let mut products = ctx.skus.products.lock().unwrap_or_else(|e| e.into_inner());
            products
                .entry(sku.to_string())
                .or_insert_with(|| {
                    let ordoro = self.ordoro.clone();
                    let sku = sku.to_string();
                    let read = async move { ordoro.get_product(&sku).await };
                    read.map(|r| r.map(|p| p.is_some()).map_err(Arc::new)).boxed().shared()
                })
                .clone()
        };
        lookup.await
    }

    /// The sales of the retry set, read again by id from QBO (in batches, one entity at a
    /// time), their items read too; sales no longer in QBO leave the set. None in a dry run
    /// (retrying writes), and none once the run tripped (a QBO failure trips it).
    pub(crate) async fn read_retry_set(&self, ctx: &RunCtx) -> Result<Vec<Transaction>> {
        let entries: Vec<RetryEntry> = ctx.skus.retrying().values().cloned().collect();
        let mut out = Vec::new();
        if entries.is_empty() || ctx.dry_run() {
            return Ok(out);
        }
        let mut by_entity: BTreeMap<EntityKind, Vec<String>> = BTreeMap::new();
        for e in &entries {
            by_entity.entry(e.key.entity).or_default().push(e.key.qbo_id.clone());
        }
        for (entity, ids) in by_entity {
            let docs = match self.qbo.transactions(entity, &ids).await {
                Ok(docs) => docs,
                Err(err) => {
                    ctx.trip_on(&err, format!("reading the sales to retry from QBO failed: {err}"));
                    return Ok(Vec::new());
                }
            };
            let found: HashSet<&str> = docs.iter().map(|d| d.id.as_str()).collect();
            for gone in ids.iter().filter(|id| !found.contains(id.as_str())) {
                let key =
                    LedgerKey { realm: self.realm().to_string(), entity, qbo_id: gone.clone() };
                info!(entity = %entity, id = %gone, "a sale of the retry set is no longer in QBO");
                self.store.remove_retry_entry(&key).await?;
                ctx.skus.retrying().remove(&key);
            }
            out.extend(docs.into_iter().map(|doc| Transaction { kind: entity, doc }));
        }
        self.prepare_items(ctx, &out).await?;
        Ok(out)
    }

    /// `outcome`, of a sale read again from the retry set, with its log entry saying so.
    pub(crate) fn retried(&self, ctx: &RunCtx, txn: &Transaction, mut outcome: Outcome) -> Outcome {
        let key = LedgerKey {
            realm: self.realm().to_string(),
            entity: txn.kind,
            qbo_id: txn.doc.id.clone(),
        };
        let Some(earlier) = ctx.skus.retrying().get(&key).cloned() else { return outcome };
        let note = format!(
            "retried: it failed with {} in run {}",
            earlier.reason.as_str(),
            earlier.run_id
        );
        if let Outcome::Done(r) | Outcome::Retry(r) | Outcome::Stop(r, _) = &mut outcome {
            r.log.detail = Some(match r.log.detail.take() {
                Some(detail) => format!("{note}; {detail}"),
                None => note,
            });
        }
        outcome
    }

    /// How the retry set changes with `outcome`, if it does: a failure a setting can fix adds
    /// the sale; any other handled outcome of a sale in the set removes it.
    pub(crate) fn retry_change(&self, ctx: &RunCtx, outcome: &Outcome) -> Option<RetryChange> {
        let record = outcome.record()?;
        let log = &record.log;
        let key =
            LedgerKey { realm: log.realm.clone(), entity: log.entity, qbo_id: log.qbo_id.clone() };
        match log.reason {
            Some(reason) if log.action == Action::Failed && reason.fixable_by_setting() => {
                let entry = RetryEntry {
                    key: key.clone(),
                    sync_token: log.sync_token.clone(),
                    reason,
                    failed_at: log.at,
                    run_id: log.run_id.clone(),
                };
                ctx.skus.retrying().insert(key, entry.clone());
                Some(RetryChange::Put(entry))
            }
            _ if outcome.is_handled() && ctx.skus.retrying().remove(&key).is_some() => {
                Some(RetryChange::Remove(key))
            }
            _ => None,
        }
    }
}

/// Why reading items failed: the store (which stops the run, as every store failure does) or
/// QBO (which trips it).
enum ItemsFailed {
    Store(crate::Error),
    Qbo(crate::Error),
}

/// One unknown SKU for the error message: the line, the SKU, where it came from, and the
/// mapping that would fix it.
fn describe_unknown(mapped: &MappedOrder, sku: &LineSku) -> String {
    let line = sku.line.as_deref().map_or("a line without id".to_string(), |l| format!("line {l}"));
    let item_name = mapped
        .order
        .lines
        .iter()
        .find(|l| l.cart_orderitem_id == sku.line)
        .map(|l| l.product.name.clone())
        .unwrap_or_default();
    let fix = match &sku.item_id {
        Some(id) => format!("map QBO item {id} (\"{item_name}\") to the Ordoro SKU: `id:{id}=SKU`"),
        None => format!("map the item \"{item_name}\" to the Ordoro SKU: `{item_name}=SKU`"),
    };
    format!(
        "{line}: SKU \"{}\" (from the {}) is not a product in Ordoro; {fix}",
        sku.sku,
        match sku.source {
            crate::mapping::SkuSource::Mapping => "SKU mapping",
            crate::mapping::SkuSource::Item => "QuickBooks item's SKU",
            crate::mapping::SkuSource::Name => "item's name",
        }
    )
}
