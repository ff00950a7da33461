//! Progress on stderr while a run works: a spinner counting the transactions handled, drawn only
//! when stderr is a terminal (and no logs are being written there), so stdout stays clean.
//!
//! The engine reports nothing mid-run, so the count comes from the ports: [`ProgressStore`]
//! passes every call through and ticks the bar on each commit (one per transaction), and
//! [`ProgressQbo`] adds each page of transactions read to the bar's total. A run's total is
//! known once its last page is read, which for most runs (up to 1,000 transactions per entity)
//! is the first.

use std::io::IsTerminal;
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use qbo_ordoro::mapping::{SkuKey, SkuMapping};
use qbo_ordoro::model::qbo::{
    CompanyInfo, EntityKind, QboClass, QboCustomer, QboItem, SalesTransaction,
};
use qbo_ordoro::qbo::api::{ChangeFeed, TxnDateQuery, TxnPage, UpdatedQuery};
use qbo_ordoro::store::{
    Commit, CompanyCountry, CompanySettings, LedgerEntry, LedgerKey, LogEntry, LogPage, LogQuery,
    RetryEntry, RunSummary, SentOrder, StoredToken,
};
use qbo_ordoro::{QboApi, Store, TokenStore};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A counting run before its first page is read, and after.
const COUNTING: &str = "{spinner} {msg}: {pos} transactions handled [{elapsed}]";
const COUNTING_OF_TOTAL: &str = "{spinner} {msg}: {pos} of {len} transactions handled [{elapsed}]";

/// The spinner, or a hidden one.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
    counting: Arc<AtomicBool>,
    /// Transactions read by this run's queries so far.
    read: Arc<AtomicU64>,
}

impl Progress {
    /// A spinner on stderr when it is a terminal and `quiet` is false; else hidden.
    pub fn new(quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress {
                bar: ProgressBar::hidden(),
                counting: Arc::default(),
                read: Arc::default(),
            };
        }
        // Nothing is drawn until `begin`, so messages printed while setting up stay clean.
        Progress { bar: ProgressBar::new_spinner(), counting: Arc::default(), read: Arc::default() }
    }

    /// Starts showing a new run; `counting` shows the transactions handled (a dry run commits
    /// nothing, so it has no count to show).
    pub fn begin(&self, what: &str, counting: bool) {
        self.counting.store(counting, Ordering::Relaxed);
        self.read.store(0, Ordering::Relaxed);
        let template = if counting { COUNTING } else { "{spinner} {msg} [{elapsed}]" };
        self.bar.set_message(what.to_string());
        self.bar.set_position(0);
        self.bar.unset_length();
        self.bar.reset_elapsed();
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style);
        }
        self.bar.enable_steady_tick(Duration::from_millis(100));
    }

    /// Adds `n` transactions read to the run's total, shown beside the count from then on.
    fn found(&self, n: usize) {
        // indicatif's `inc_length` leaves a bar without a length as it is: keep the sum here.
        let total = self.read.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        self.bar.set_length(total);
        if self.counting.load(Ordering::Relaxed)
            && let Ok(style) = ProgressStyle::with_template(COUNTING_OF_TOTAL)
        {
            self.bar.set_style(style);
        }
    }

    /// The transactions read so far by this run's queries, if any page was read.
    #[allow(dead_code)] // read by the test suite (tests/it/sync_progress.rs)
    pub fn total(&self) -> Option<u64> {
        self.bar.length()
    }

    /// The transactions handled so far.
    #[allow(dead_code)] // read by the test suite (tests/it/sync_progress.rs)
    pub fn handled(&self) -> u64 {
        self.bar.position()
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn tick(&self) {
        self.bar.inc(1);
    }
}

/// A [`Store`] that ticks a [`Progress`] on every commit.
#[derive(Debug)]
pub struct ProgressStore {
    inner: Arc<dyn Store>,
    progress: Progress,
}

impl ProgressStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>, progress: Progress) -> Self {
        ProgressStore { inner, progress }
    }
}

#[async_trait::async_trait]
impl TokenStore for ProgressStore {
    async fn load_token(&self, realm: &str) -> qbo_ordoro::Result<Option<StoredToken>> {
        self.inner.load_token(realm).await
    }

    async fn save_token(&self, realm: &str, token: &StoredToken) -> qbo_ordoro::Result<()> {
        self.inner.save_token(realm, token).await
    }

    async fn forget_token(&self, realm: &str) -> qbo_ordoro::Result<bool> {
        self.inner.forget_token(realm).await
    }
}

#[async_trait::async_trait]
impl Store for ProgressStore {
    async fn cursor(&self, name: &str) -> qbo_ordoro::Result<Option<DateTime<Utc>>> {
        self.inner.cursor(name).await
    }

    async fn set_cursor(&self, name: &str, at: DateTime<Utc>) -> qbo_ordoro::Result<()> {
        self.inner.set_cursor(name, at).await
    }

    async fn ledger_entry(&self, key: &LedgerKey) -> qbo_ordoro::Result<Option<LedgerEntry>> {
        self.inner.ledger_entry(key).await
    }

    async fn put_ledger_entry(&self, entry: &LedgerEntry) -> qbo_ordoro::Result<()> {
        self.inner.put_ledger_entry(entry).await
    }

    async fn pending_entries(&self, realm: &str) -> qbo_ordoro::Result<Vec<LedgerEntry>> {
        self.inner.pending_entries(realm).await
    }

    async fn commit(&self, commit: &Commit) -> qbo_ordoro::Result<()> {
        self.inner.commit(commit).await?;
        self.progress.tick();
        Ok(())
    }

    async fn query_log(&self, query: &LogQuery) -> qbo_ordoro::Result<Vec<LogEntry>> {
        self.inner.query_log(query).await
    }

    async fn log_page(&self, query: &LogQuery) -> qbo_ordoro::Result<LogPage> {
        self.inner.log_page(query).await
    }

    async fn run_summary(&self, realm: &str, run_id: &str) -> qbo_ordoro::Result<RunSummary> {
        self.inner.run_summary(realm, run_id).await
    }

    async fn start_run(&self, realm: &str, run_id: &str) -> qbo_ordoro::Result<bool> {
        self.inner.start_run(realm, run_id).await
    }

    async fn connected_realms(&self) -> qbo_ordoro::Result<Vec<String>> {
        self.inner.connected_realms().await
    }

    async fn company_country(&self, realm: &str) -> qbo_ordoro::Result<Option<CompanyCountry>> {
        self.inner.company_country(realm).await
    }

    async fn save_company_country(
        &self,
        realm: &str,
        country: &CompanyCountry,
    ) -> qbo_ordoro::Result<()> {
        self.inner.save_company_country(realm, country).await
    }

    async fn company_settings(&self, realm: &str) -> qbo_ordoro::Result<Option<CompanySettings>> {
        self.inner.company_settings(realm).await
    }

    async fn save_company_settings(
        &self,
        realm: &str,
        settings: &CompanySettings,
    ) -> qbo_ordoro::Result<()> {
        self.inner.save_company_settings(realm, settings).await
    }

    async fn sent_order(&self, key: &LedgerKey) -> qbo_ordoro::Result<Option<SentOrder>> {
        self.inner.sent_order(key).await
    }

    async fn save_sent_order(&self, key: &LedgerKey, sent: &SentOrder) -> qbo_ordoro::Result<()> {
        self.inner.save_sent_order(key, sent).await
    }

    async fn cached_items(&self, realm: &str, ids: &[String]) -> qbo_ordoro::Result<Vec<QboItem>> {
        self.inner.cached_items(realm, ids).await
    }

    async fn cache_items(&self, realm: &str, items: &[QboItem]) -> qbo_ordoro::Result<()> {
        self.inner.cache_items(realm, items).await
    }

    async fn sku_mappings(&self, realm: &str) -> qbo_ordoro::Result<Vec<SkuMapping>> {
        self.inner.sku_mappings(realm).await
    }

    async fn put_sku_mapping(&self, realm: &str, mapping: &SkuMapping) -> qbo_ordoro::Result<()> {
        self.inner.put_sku_mapping(realm, mapping).await
    }

    async fn remove_sku_mapping(&self, realm: &str, key: &SkuKey) -> qbo_ordoro::Result<bool> {
        self.inner.remove_sku_mapping(realm, key).await
    }

    async fn retry_entries(&self, realm: &str) -> qbo_ordoro::Result<Vec<RetryEntry>> {
        self.inner.retry_entries(realm).await
    }

    async fn put_retry_entry(&self, entry: &RetryEntry) -> qbo_ordoro::Result<()> {
        self.inner.put_retry_entry(entry).await
    }

    async fn remove_retry_entry(&self, key: &LedgerKey) -> qbo_ordoro::Result<()> {
        self.inner.remove_retry_entry(key).await
    }

    async fn processed_events(
        &self,
        realm: &str,
        keys: &[String],
    ) -> qbo_ordoro::Result<Vec<String>> {
        self.inner.processed_events(realm, keys).await
    }

    async fn mark_events_processed(
        &self,
        realm: &str,
        keys: &[String],
        at: DateTime<Utc>,
    ) -> qbo_ordoro::Result<()> {
        self.inner.mark_events_processed(realm, keys, at).await
    }

    async fn forget_events_before(&self, before: DateTime<Utc>) -> qbo_ordoro::Result<u64> {
        self.inner.forget_events_before(before).await
    }
}

/// A [`QboApi`] that adds each page of transactions read to a [`Progress`]'s total. Every call
/// passes through, the optional ones too (a forgotten one would silently answer the trait's
/// default).
#[derive(Debug)]
pub struct ProgressQbo {
    inner: Arc<dyn QboApi>,
    progress: Progress,
}

impl ProgressQbo {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn QboApi>, progress: Progress) -> Self {
        ProgressQbo { inner, progress }
    }
}

#[async_trait::async_trait]
impl QboApi for ProgressQbo {
    fn realm_id(&self) -> &str {
        self.inner.realm_id()
    }

    async fn query_updated(&self, query: &UpdatedQuery) -> qbo_ordoro::Result<TxnPage> {
        let page = self.inner.query_updated(query).await?;
        self.progress.found(page.transactions.len());
        Ok(page)
    }

    async fn query_txn_date(&self, query: &TxnDateQuery) -> qbo_ordoro::Result<TxnPage> {
        let page = self.inner.query_txn_date(query).await?;
        self.progress.found(page.transactions.len());
        Ok(page)
    }

    async fn get_transaction(
        &self,
        entity: EntityKind,
        id: &str,
    ) -> qbo_ordoro::Result<Option<SalesTransaction>> {
        self.inner.get_transaction(entity, id).await
    }

    async fn find_by_doc_number(
        &self,
        entity: EntityKind,
        doc_number: &str,
    ) -> qbo_ordoro::Result<Vec<SalesTransaction>> {
        self.inner.find_by_doc_number(entity, doc_number).await
    }

    async fn find_classes(&self, name: &str) -> qbo_ordoro::Result<Vec<QboClass>> {
        self.inner.find_classes(name).await
    }

    async fn changes_since(
        &self,
        entities: &[EntityKind],
        since: DateTime<Utc>,
    ) -> qbo_ordoro::Result<ChangeFeed> {
        self.inner.changes_since(entities, since).await
    }

    async fn company_info(&self) -> qbo_ordoro::Result<Option<CompanyInfo>> {
        self.inner.company_info().await
    }

    async fn get_customer(&self, id: &str) -> qbo_ordoro::Result<Option<QboCustomer>> {
        self.inner.get_customer(id).await
    }

    async fn items(&self, ids: &[String]) -> qbo_ordoro::Result<Vec<QboItem>> {
        self.inner.items(ids).await
    }

    async fn items_changed_since(&self, since: DateTime<Utc>) -> qbo_ordoro::Result<Vec<QboItem>> {
        self.inner.items_changed_since(since).await
    }

    async fn transactions(
        &self,
        entity: EntityKind,
        ids: &[String],
    ) -> qbo_ordoro::Result<Vec<SalesTransaction>> {
        self.inner.transactions(entity, ids).await
    }
}
