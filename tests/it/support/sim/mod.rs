//! The deterministic simulation harness shared by the `simulation` and `crash_sweep` modules: a
//! simulated QBO company and Ordoro account behind the real clients, the engine's ports wrapped
//! in counters that can crash it at any call, wires that deliver rows and creates twice, a model
//! of the company kept from the edits the harness applies, and the invariants checked against
//! that model (the oracle). A QBO client wired to the simulator alone is in [`client`].
//!
//! The oracle, per transaction (invoice or sales receipt, keyed by entity and id):
//! - **eligible** means: not deleted, not voided, and its class accepted (the header class when
//!   there is one, else a line class). The model tracks it from the sample's [`Expected`]
//!   outcome and from each edit the harness applies (reclassify, void, delete), never from the
//!   mapping under test.
//! - A transaction never eligible in any version has no Ordoro order and no ledger entry.
//! - No create is repeated: for each `order_id`, the creates Ordoro met after its order existed
//!   ([`OrdoroSim::duplicate_creates`]) are at most the copies the test's own wire delivered
//!   ([`OrdoroWire::injected`], counted per id), and so are the orders carrying the id beyond
//!   the first (counted by `cart_order_id` and by the simulator's `order_id`; it only exceeds
//!   one under an Ordoro that accepts a repeated `order_id` as a new order).
//! - After the final runs, one eligible now has exactly one order, awaiting fulfilment, whose
//!   ledger entry is `Created`; with updating on, its grand total is the transaction's total.
//! - **Content**: that order says what the sample's own truth says ([`OrderTruth`], kept by
//!   `sim::sample` beside each generated sale and each address block, never computed by the
//!   mapping under test), for the transaction's last version with updating on, else for the
//!   version it was created from (the ledger's SyncToken). The model keeps the truth per
//!   SyncToken and each [`Edit`] changes it as it changes the sale. Compared: the lines (SKU =
//!   the item's name, quantity, unit price, line total, as a multiset), product, shipping, tax,
//!   discount and grand totals, ship-to and bill-to field by field with the e-mail, the
//!   requested shipping method, the customer's note and the DocNumber and memo lines of the
//!   internal notes ([`content_mismatches`]).
//! - One that was eligible and is now voided or deleted keeps its order untouched when
//!   `cancel_on_void` is off; with it on, its order (if any) is cancelled.
//! - One that was eligible and is now reclassified away keeps its order (if any) untouched.
//! - After every run, also after a crash: the cursor of each entity is the claim "every row last
//!   updated before it is handled". So every transaction whose current version was last updated
//!   strictly before the stored cursor has a log entry for that version (its SyncToken), and if
//!   it is eligible its ledger entry is `Created` and names an order Ordoro has; if it is voided
//!   and `cancel_on_void` is on, its ledger entry (if any) is `Cancelled`. A row stamped in the
//!   cursor's own second is not covered: the cursor does not claim it, and the next window
//!   (which starts an overlap before the cursor) reads it again.
//! - No run writes two log entries for one version of a transaction (settling an interrupted
//!   create and reading the same version in the window count once).
//! - The rate limits hold: neither simulator's meter refused a request for the minute limit, QBO
//!   never had more than 10 requests of the company in flight, and a seed without injected
//!   faults saw no 429 at all. The refresh token in the store is still valid at the end.
//! - **Tokens**: the token store is behind the crash switch too, and the QBO client saves
//!   through it. A crash between QBO's answer to a refresh (which kills the token presented)
//!   and the save loses the connection; no client can repair that, so after such a crash
//!   ([`World::token_lost`]) the next run must stop at once for a reconnect
//!   ([`World::check_stopped_for_reconnect`]): aborted, its first QBO error
//!   `ErrorKind::Authentication` with code `invalid_grant`, no Ordoro write, no cursor move, no
//!   new pending create, only `auth_failed` entries logged. The merchant then reconnects
//!   ([`World::connect`]) and every claim above still holds at the end.
//!
//! Extending: a new Ordoro behaviour (a duplicate policy, a lagging list, a late create) needs
//! nothing here beyond what it changes on the wire; a new [`Edit`] changes the sale in
//! [`Company::apply`] and the truth beside it; a new order field to check goes into
//! [`content_mismatches`] and `sim::sample::OrderTruth`.

pub mod client;
pub mod services;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use qbo_ordoro::OrdoroClient;
use qbo_ordoro::QboClient;
use qbo_ordoro::engine::{RunOptions, RunReport, SyncConfig, SyncEngine};
use qbo_ordoro::mapping::{BundlePolicy, SkuKey};
use qbo_ordoro::model::ordoro::{
    AddressUpdate, NewOrder, Order, OrderFinancial, OrderList, OrdoroAddress, PostOrderLine,
    PutOrderLine, SalesChannel,
};
use qbo_ordoro::model::qbo::{
    CompanyInfo, EntityKind, LineDetail, PhysicalAddress, QboClass, QboCustomer, Ref,
    SalesTransaction,
};
use qbo_ordoro::ordoro::api::OrderQuery;
use qbo_ordoro::ordoro::http::ordoro_retry_policy;
use qbo_ordoro::qbo::api::{ChangeFeed, TxnDateQuery, TxnPage, UpdatedQuery};
use qbo_ordoro::sim::ordoro::OrdoroSim;
use qbo_ordoro::sim::qbo::QboSim;
use qbo_ordoro::sim::sample::{
    AddressTruth, BUNDLE_ITEM_ID, Expected, INTL_BLOCKS, LineTruth, OrderTruth, SampleBlock,
    SampleSale, US_BLOCKS, catalogue_sku,
};
use qbo_ordoro::store::{
    Commit, CompanyCountry, CompanySettings, LedgerEntry, LedgerKey, LedgerState, LogEntry,
    LogPage, LogQuery, RunSummary, SentOrder, StoredToken,
};
use qbo_ordoro::transport::RetryPolicy;
use qbo_ordoro::webhook::ChangeEvent;
use qbo_ordoro::{
    Clock, ErrorKind, HttpRequest, HttpResponse, HttpTransport, OrdoroApi, QboApi, Result,
    SharedTransport, Store, TokenStore, TokioClock, TransportError,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

/// The simulated company.
pub const REALM: &str = "9130350000000007";
/// The Ordoro sales channel the sync writes to (the simulator's first, so numbers read `1-...`).
pub const CART: i64 = 4242;

/// The `order_id` the mapping derives for a transaction.
pub fn order_id(kind: EntityKind, id: &str) -> String {
    let tag = if kind == EntityKind::Invoice { "INV" } else { "SR" };
    format!("QBO-{tag}-{id}")
}

// ------------------------------------------------------------------------------------------
// Crashes

/// Whether a crash at a port call happens before the call reaches the service or after its
/// answer came back (and before the engine sees it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashWhen {
    /// The k-th call never starts.
    Before,
    /// The k-th call completes; its result is lost with the process.
    After,
}

/// Counts the engine's port calls and kills the "process" at a chosen one: from then on every
/// port call hangs for ever and the driver is told to drop the run future, as a `kill -9` would
/// stop every task at its next await.
#[derive(Debug, Default)]
pub struct CrashSwitch {
    calls: AtomicU64,
    armed: Mutex<Option<(u64, CrashWhen)>>,
    dead: AtomicBool,
    notify: tokio::sync::Notify,
    /// The kind and code of every error a QBO port call returned, in order.
    qbo_errors: Mutex<Vec<(ErrorKind, Option<String>)>>,
}

async fn hang() {
    std::future::pending::<()>().await;
}

impl CrashSwitch {
    /// Port calls made so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Crashes at the `at`-th port call (counted from the first call ever).
    pub fn arm(&self, at: u64, when: CrashWhen) {
        *self.armed.lock().unwrap() = Some((at, when));
    }

    /// No crash planned.
    pub fn disarm(&self) {
        *self.armed.lock().unwrap() = None;
    }

    /// Lets calls through again, once the driver has dropped the dead process's futures.
    pub fn revive(&self) {
        self.dead.store(false, Ordering::SeqCst);
    }

    /// Completes when the process dies.
    pub async fn crashed(&self) {
        self.notify.notified().await;
    }

    fn die(&self) {
        if !self.dead.swap(true, Ordering::SeqCst) {
            self.notify.notify_one();
        }
    }

    fn armed_at(&self, n: u64, when: CrashWhen) -> bool {
        *self.armed.lock().unwrap() == Some((n, when))
    }

    /// Errors QBO port calls returned so far (kind and code), oldest first.
    pub fn qbo_errors(&self) -> Vec<(ErrorKind, Option<String>)> {
        self.qbo_errors.lock().unwrap().clone()
    }

    /// A QBO port call behind the switch, its error (if any) recorded.
    async fn qbo<T>(&self, call: impl Future<Output = Result<T>>) -> Result<T> {
        let result = self.through(call).await;
        if let Err(e) = &result {
            self.qbo_errors.lock().unwrap().push((e.kind(), e.code().map(str::to_string)));
        }
        result
    }

    async fn through<T>(&self, call: impl Future<Output = T>) -> T {
        if self.dead.load(Ordering::SeqCst) {
            hang().await;
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.armed_at(n, CrashWhen::Before) {
            self.die();
            hang().await;
        }
        let result = call.await;
        if self.armed_at(n, CrashWhen::After) {
            self.die();
        }
        if self.dead.load(Ordering::SeqCst) {
            hang().await;
        }
        result
    }
}

/// The QBO port behind the crash switch.
#[derive(Debug)]
pub struct CrashingQbo {
    inner: Arc<dyn QboApi>,
    switch: Arc<CrashSwitch>,
}

#[async_trait::async_trait]
impl QboApi for CrashingQbo {
    fn realm_id(&self) -> &str {
        self.inner.realm_id()
    }
    async fn query_updated(&self, q: &UpdatedQuery) -> Result<TxnPage> {
        self.switch.qbo(self.inner.query_updated(q)).await
    }
    async fn query_txn_date(&self, q: &TxnDateQuery) -> Result<TxnPage> {
        self.switch.qbo(self.inner.query_txn_date(q)).await
    }
    async fn get_transaction(
        &self,
        entity: EntityKind,
        id: &str,
    ) -> Result<Option<SalesTransaction>> {
        self.switch.qbo(self.inner.get_transaction(entity, id)).await
    }
    async fn find_by_doc_number(
        &self,
        entity: EntityKind,
        doc_number: &str,
    ) -> Result<Vec<SalesTransaction>> {
        self.switch.qbo(self.inner.find_by_doc_number(entity, doc_number)).await
    }
    async fn find_classes(&self, name: &str) -> Result<Vec<QboClass>> {
        self.switch.qbo(self.inner.find_classes(name)).await
    }
    async fn changes_since(
        &self,
        entities: &[EntityKind],
        since: DateTime<Utc>,
    ) -> Result<ChangeFeed> {
        self.switch.qbo(self.inner.changes_since(entities, since)).await
    }
    async fn company_info(&self) -> Result<Option<CompanyInfo>> {
        self.switch.qbo(self.inner.company_info()).await
    }
    async fn get_customer(&self, id: &str) -> Result<Option<QboCustomer>> {
        self.switch.qbo(self.inner.get_customer(id)).await
    }
    async fn items(&self, ids: &[String]) -> Result<Vec<qbo_ordoro::model::qbo::QboItem>> {
        self.switch.through(self.inner.items(ids)).await
    }
    async fn items_changed_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<qbo_ordoro::model::qbo::QboItem>> {
        self.switch.through(self.inner.items_changed_since(since)).await
    }
    async fn transactions(
        &self,
        entity: EntityKind,
        ids: &[String],
    ) -> Result<Vec<SalesTransaction>> {
        self.switch.through(self.inner.transactions(entity, ids)).await
    }
}

/// The Ordoro port behind the crash switch.
#[derive(Debug)]
pub struct CrashingOrdoro {
    inner: Arc<dyn OrdoroApi>,
    switch: Arc<CrashSwitch>,
}

#[async_trait::async_trait]
impl OrdoroApi for CrashingOrdoro {
    async fn create_order(&self, order: &NewOrder) -> Result<Order> {
        self.switch.through(self.inner.create_order(order)).await
    }
    async fn get_order(&self, order_number: &str) -> Result<Option<Order>> {
        self.switch.through(self.inner.get_order(order_number)).await
    }
    async fn find_orders(&self, query: &OrderQuery) -> Result<OrderList> {
        self.switch.through(self.inner.find_orders(query)).await
    }
    async fn update_shipping_address(&self, n: &str, address: &AddressUpdate) -> Result<()> {
        self.switch.through(self.inner.update_shipping_address(n, address)).await
    }
    async fn update_billing_address(&self, n: &str, address: &AddressUpdate) -> Result<()> {
        self.switch.through(self.inner.update_billing_address(n, address)).await
    }
    async fn update_financial(&self, n: &str, financial: &OrderFinancial) -> Result<()> {
        self.switch.through(self.inner.update_financial(n, financial)).await
    }
    async fn add_line(&self, n: &str, line: &PostOrderLine) -> Result<()> {
        self.switch.through(self.inner.add_line(n, line)).await
    }
    async fn update_line(&self, n: &str, line_id: i64, line: &PutOrderLine) -> Result<()> {
        self.switch.through(self.inner.update_line(n, line_id, line)).await
    }
    async fn delete_line(&self, n: &str, line_id: i64) -> Result<()> {
        self.switch.through(self.inner.delete_line(n, line_id)).await
    }
    async fn cancel_order(&self, n: &str) -> Result<Order> {
        self.switch.through(self.inner.cancel_order(n)).await
    }
    async fn get_sales_channel(&self, cart_id: i64) -> Result<Option<SalesChannel>> {
        self.switch.through(self.inner.get_sales_channel(cart_id)).await
    }

    async fn get_product(&self, sku: &str) -> Result<Option<qbo_ordoro::model::ordoro::Product>> {
        self.switch.through(self.inner.get_product(sku)).await
    }
}

/// What the committed log says, indexed as commits pass through [`CrashingStore`].
#[derive(Debug, Default)]
pub struct LogBook {
    /// Transaction versions (entity, id, SyncToken) that have a log entry.
    pub handled: BTreeSet<(EntityKind, String, String)>,
    /// (run, entity, id, SyncToken) of every entry, to find repeats within a run.
    seen: BTreeSet<(String, EntityKind, String, Option<String>)>,
    /// Entries written twice for one version in one run.
    pub repeats: Vec<String>,
    /// Entries by action.
    pub by_action: BTreeMap<&'static str, u64>,
    /// A digest of every entry, in order, for the determinism check.
    pub digest: u64,
    /// Every entry's transaction, action and reason, in commit order.
    pub entries: Vec<(EntityKind, String, &'static str, Option<&'static str>)>,
}

impl LogBook {
    fn record(&mut self, e: &LogEntry) {
        if let Some(token) = &e.sync_token {
            self.handled.insert((e.entity, e.qbo_id.clone(), token.clone()));
        }
        let key = (e.run_id.clone(), e.entity, e.qbo_id.clone(), e.sync_token.clone());
        if !self.seen.insert(key) {
            self.repeats.push(format!(
                "{} {} {} token {:?} logged twice in one run (the second: {} {:?})",
                e.run_id, e.entity, e.qbo_id, e.sync_token, e.action, e.reason
            ));
        }
        *self.by_action.entry(e.action.as_str()).or_default() += 1;
        self.entries.push((
            e.entity,
            e.qbo_id.clone(),
            e.action.as_str(),
            e.reason.map(|r| r.as_str()),
        ));
        let line = format!(
            "{}|{}|{}|{:?}|{}|{:?}|{:?}|{}",
            e.run_id, e.entity, e.qbo_id, e.sync_token, e.action, e.reason, e.order_number, e.at
        );
        for b in line.bytes() {
            self.digest = (self.digest ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// The store behind the crash switch; indexes each committed log entry into a [`LogBook`].
#[derive(Debug)]
pub struct CrashingStore {
    inner: Arc<dyn Store>,
    switch: Arc<CrashSwitch>,
    book: Arc<Mutex<LogBook>>,
}

#[async_trait::async_trait]
impl TokenStore for CrashingStore {
    // Behind the switch like every store call: QBO answers a refresh with a new refresh token
    // and, as Intuit documents (reference/qbo-api.md §5: "the old token then gives
    // `invalid_grant`"), the one presented dies at once; the simulator does the same. A crash
    // between that answer and `save_token` (`CrashWhen::Before` on the save) loses the only
    // valid token: no client can repair that, so the oracle demands a clean stop asking for a
    // reconnect ([`World::check_stopped_for_reconnect`]).
    async fn load_token(&self, realm: &str) -> Result<Option<StoredToken>> {
        self.switch.through(self.inner.load_token(realm)).await
    }
    async fn save_token(&self, realm: &str, token: &StoredToken) -> Result<()> {
        self.switch.through(self.inner.save_token(realm, token)).await
    }
    async fn forget_token(&self, realm: &str) -> Result<bool> {
        self.switch.through(self.inner.forget_token(realm)).await
    }
}

#[async_trait::async_trait]
impl Store for CrashingStore {
    async fn cursor(&self, name: &str) -> Result<Option<DateTime<Utc>>> {
        self.switch.through(self.inner.cursor(name)).await
    }
    async fn set_cursor(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        self.switch.through(self.inner.set_cursor(name, at)).await
    }
    async fn ledger_entry(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>> {
        self.switch.through(self.inner.ledger_entry(key)).await
    }
    async fn put_ledger_entry(&self, entry: &LedgerEntry) -> Result<()> {
        self.switch.through(self.inner.put_ledger_entry(entry)).await
    }
    async fn pending_entries(&self, realm: &str) -> Result<Vec<LedgerEntry>> {
        self.switch.through(self.inner.pending_entries(realm)).await
    }
    async fn commit(&self, commit: &Commit) -> Result<()> {
        let book = self.book.clone();
        let inner = self.inner.clone();
        self.switch
            .through(async move {
                let result = inner.commit(commit).await;
                if result.is_ok() {
                    book.lock().unwrap().record(&commit.log);
                }
                result
            })
            .await
    }
    async fn query_log(&self, query: &LogQuery) -> Result<Vec<LogEntry>> {
        self.switch.through(self.inner.query_log(query)).await
    }
    async fn log_page(&self, query: &LogQuery) -> Result<LogPage> {
        self.switch.through(self.inner.log_page(query)).await
    }
    async fn run_summary(&self, realm: &str, run_id: &str) -> Result<RunSummary> {
        self.switch.through(self.inner.run_summary(realm, run_id)).await
    }

    async fn start_run(&self, realm: &str, run_id: &str) -> Result<bool> {
        self.switch.through(self.inner.start_run(realm, run_id)).await
    }

    async fn connected_realms(&self) -> Result<Vec<String>> {
        self.switch.through(self.inner.connected_realms()).await
    }

    async fn company_country(&self, realm: &str) -> Result<Option<CompanyCountry>> {
        self.switch.through(self.inner.company_country(realm)).await
    }
    async fn save_company_country(&self, realm: &str, country: &CompanyCountry) -> Result<()> {
        self.switch.through(self.inner.save_company_country(realm, country)).await
    }
    async fn company_settings(&self, realm: &str) -> Result<Option<CompanySettings>> {
        self.switch.through(self.inner.company_settings(realm)).await
    }
    async fn save_company_settings(&self, realm: &str, settings: &CompanySettings) -> Result<()> {
        self.switch.through(self.inner.save_company_settings(realm, settings)).await
    }
    async fn sent_order(&self, key: &LedgerKey) -> Result<Option<SentOrder>> {
        self.switch.through(self.inner.sent_order(key)).await
    }
    async fn save_sent_order(&self, key: &LedgerKey, sent: &SentOrder) -> Result<()> {
        self.switch.through(self.inner.save_sent_order(key, sent)).await
    }

    async fn cached_items(
        &self,
        realm: &str,
        ids: &[String],
    ) -> Result<Vec<qbo_ordoro::model::qbo::QboItem>> {
        self.switch.through(self.inner.cached_items(realm, ids)).await
    }
    async fn cache_items(
        &self,
        realm: &str,
        items: &[qbo_ordoro::model::qbo::QboItem],
    ) -> Result<()> {
        self.switch.through(self.inner.cache_items(realm, items)).await
    }
    async fn sku_mappings(&self, realm: &str) -> Result<Vec<qbo_ordoro::mapping::SkuMapping>> {
        self.switch.through(self.inner.sku_mappings(realm)).await
    }
    async fn put_sku_mapping(
        &self,
        realm: &str,
        mapping: &qbo_ordoro::mapping::SkuMapping,
    ) -> Result<()> {
        self.switch.through(self.inner.put_sku_mapping(realm, mapping)).await
    }
    async fn remove_sku_mapping(
        &self,
        realm: &str,
        key: &qbo_ordoro::mapping::SkuKey,
    ) -> Result<bool> {
        self.switch.through(self.inner.remove_sku_mapping(realm, key)).await
    }
    async fn retry_entries(&self, realm: &str) -> Result<Vec<qbo_ordoro::store::RetryEntry>> {
        self.switch.through(self.inner.retry_entries(realm)).await
    }
    async fn put_retry_entry(&self, entry: &qbo_ordoro::store::RetryEntry) -> Result<()> {
        self.switch.through(self.inner.put_retry_entry(entry)).await
    }
    async fn remove_retry_entry(&self, key: &LedgerKey) -> Result<()> {
        self.switch.through(self.inner.remove_retry_entry(key)).await
    }

    async fn processed_events(&self, realm: &str, keys: &[String]) -> Result<Vec<String>> {
        self.switch.through(self.inner.processed_events(realm, keys)).await
    }

    async fn mark_events_processed(
        &self,
        realm: &str,
        keys: &[String],
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.switch.through(self.inner.mark_events_processed(realm, keys, at)).await
    }

    async fn forget_events_before(&self, before: DateTime<Utc>) -> Result<u64> {
        self.switch.through(self.inner.forget_events_before(before)).await
    }
}

// ------------------------------------------------------------------------------------------
// Wires

fn copy_request(request: &HttpRequest) -> HttpRequest {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// True while an outage lasts.
fn down(outage: Option<(DateTime<Utc>, DateTime<Utc>)>, now: DateTime<Utc>) -> bool {
    outage.is_some_and(|(from, to)| now >= from && now < to)
}

/// The 503 a service answers while it is down.
fn unavailable(content_type: &'static str, body: &'static str) -> HttpResponse {
    let mut response = http::Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    response
}

/// Between the QBO client and the simulator: counts requests of the company in flight, delivers
/// a row of a query page twice now and then (a page that repeats a row), and answers 503 during
/// an outage.
#[derive(Debug)]
pub struct QboWire {
    sim: Arc<QboSim>,
    clock: Arc<TokioClock>,
    outage: Option<(DateTime<Utc>, DateTime<Utc>)>,
    dup_row: f64,
    rng: Mutex<SmallRng>,
    in_flight: AtomicU32,
    /// Most API requests in flight at once.
    pub peak_in_flight: AtomicU32,
    /// Rows delivered twice.
    pub duplicated_rows: AtomicU64,
}

struct Flight<'a>(&'a AtomicU32);

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl QboWire {
    fn duplicate_a_row(&self, response: HttpResponse) -> HttpResponse {
        let (parts, body) = response.into_parts();
        let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return http::Response::from_parts(parts, body);
        };
        let mut duplicated = false;
        if let Some(page) = value.get_mut("QueryResponse").and_then(|q| q.as_object_mut()) {
            for key in ["Invoice", "SalesReceipt"] {
                if let Some(rows) = page.get_mut(key).and_then(|r| r.as_array_mut())
                    && !rows.is_empty()
                {
                    let mut rng = self.rng.lock().unwrap();
                    let from = rng.random_range(0..rows.len());
                    let to = rng.random_range(0..=rows.len());
                    let row = rows[from].clone();
                    rows.insert(to, row);
                    duplicated = true;
                }
            }
        }
        if !duplicated {
            return http::Response::from_parts(parts, body);
        }
        self.duplicated_rows.fetch_add(1, Ordering::SeqCst);
        let body = Bytes::from(serde_json::to_vec(&value).unwrap());
        http::Response::from_parts(parts, body)
    }
}

#[async_trait::async_trait]
impl HttpTransport for QboWire {
    async fn send(
        &self,
        request: HttpRequest,
    ) -> std::result::Result<HttpResponse, TransportError> {
        let path = request.uri().path().to_string();
        if !path.starts_with("/v3/company/") {
            return self.sim.send(request).await;
        }
        if down(self.outage, self.clock.now()) {
            return Ok(unavailable(
                "text/html",
                "<html><body><h1>503 Service Unavailable</h1></body></html>",
            ));
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let _flight = Flight(&self.in_flight);
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        let response = self.sim.send(request).await?;
        let duplicate = path.ends_with("/query")
            && self.dup_row > 0.0
            && self.rng.lock().unwrap().random::<f64>() < self.dup_row;
        Ok(if duplicate { self.duplicate_a_row(response) } else { response })
    }
}

/// Between the Ordoro client and the simulator: now and then delivers a create twice, the copy
/// a little later (under the client's timeout), as a retrying proxy would; answers 503 during an
/// outage.
#[derive(Debug)]
pub struct OrdoroWire {
    sim: Arc<OrdoroSim>,
    clock: Arc<TokioClock>,
    outage: Option<(DateTime<Utc>, DateTime<Utc>)>,
    dup_create: f64,
    rng: Mutex<SmallRng>,
    /// Copies of creates the wire itself delivered, by `order_id`.
    pub injected: Mutex<BTreeMap<String, u32>>,
    /// Writes (anything but GET) the client sent, the wire's own copies aside.
    pub writes_sent: AtomicU64,
}

#[async_trait::async_trait]
impl HttpTransport for OrdoroWire {
    async fn send(
        &self,
        request: HttpRequest,
    ) -> std::result::Result<HttpResponse, TransportError> {
        if request.method() != http::Method::GET {
            self.writes_sent.fetch_add(1, Ordering::SeqCst);
        }
        if down(self.outage, self.clock.now()) {
            return Ok(unavailable(
                "application/json",
                r#"{"error_message": "Service Unavailable"}"#,
            ));
        }
        let is_create =
            request.method() == http::Method::POST && request.uri().path() == "/v3/order";
        if is_create && self.dup_create > 0.0 {
            let (roll, delay_ms) = {
                let mut rng = self.rng.lock().unwrap();
                (rng.random::<f64>(), rng.random_range(0..25_000u64))
            };
            if roll < self.dup_create {
                let order_id = serde_json::from_slice::<serde_json::Value>(request.body())
                    .ok()
                    .and_then(|v| v.get("order_id").and_then(|o| o.as_str()).map(str::to_string))
                    .unwrap_or_default();
                *self.injected.lock().unwrap().entry(order_id).or_default() += 1;
                let copy = copy_request(&request);
                let sim = self.sim.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    let _ = sim.send(copy).await;
                });
            }
        }
        self.sim.send(request).await
    }
}

// ------------------------------------------------------------------------------------------
// The company model

/// What the harness knows of one transaction, from what it did to it.
#[derive(Debug, Clone)]
pub struct TxnModel {
    /// Invoice or sales receipt.
    pub kind: EntityKind,
    /// QBO id.
    pub id: String,
    /// Current SyncToken.
    pub token: String,
    /// Current `LastUpdatedTime`.
    pub updated: DateTime<Utc>,
    /// The class marks it for Ordoro.
    pub accepted: bool,
    /// Voided.
    pub voided: bool,
    /// Deleted, and when.
    pub deleted: Option<DateTime<Utc>>,
    /// Eligible in some version.
    pub ever_eligible: bool,
    /// Current `TotalAmt`.
    pub total: Option<Decimal>,
    /// What the order must say for each version (by SyncToken), from the sample's truth and the
    /// edits applied; empty when the sample does not model it.
    pub versions: BTreeMap<String, OrderTruth>,
    /// The version the cursor check has already verified.
    verified: Option<String>,
}

impl TxnModel {
    /// Eligible now.
    pub fn eligible(&self) -> bool {
        self.accepted && !self.voided && self.deleted.is_none()
    }
}

/// An edit a person makes in QBO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Saved unchanged (the SyncToken and time move).
    Touch,
    /// One more unit on the first item line.
    Quantity,
    /// Ship-to and bill-to replaced by another sample block (the customer moved), the
    /// customer's name with them.
    Address,
    /// Header class set to `Ordoro`.
    MarkForOrdoro,
    /// Header class set to another class.
    Reclassify,
    /// Voided.
    Void,
    /// Deleted.
    Delete,
}

/// The model of the simulated company.
#[derive(Debug, Default)]
pub struct Company {
    /// Every transaction inserted, by entity and id.
    pub txns: BTreeMap<(EntityKind, String), TxnModel>,
    /// Keys in insertion order, for seeded picks.
    pub keys: Vec<(EntityKind, String)>,
    /// Edits applied, by kind.
    pub edits: BTreeMap<&'static str, u64>,
}

fn stamp(doc: &SalesTransaction) -> DateTime<Utc> {
    doc.last_updated().map(|t| t.with_timezone(&Utc)).expect("the simulator stamps every row")
}

impl Company {
    /// Inserts `sale` into the simulator now (stamped by it) and into the model.
    pub fn insert(&mut self, sim: &QboSim, sale: &SampleSale) {
        let mut txn = sale.txn.clone();
        txn.doc.meta_data = None;
        let kind = txn.kind;
        let doc = sim.insert(REALM, txn);
        let accepted = sale.expected != Expected::NotMarked;
        let voided = sale.expected == Expected::Voided;
        let model = TxnModel {
            kind,
            id: doc.id.clone(),
            token: doc.sync_token.clone(),
            updated: stamp(&doc),
            accepted,
            voided,
            deleted: None,
            ever_eligible: accepted && !voided,
            total: doc.total_amt,
            versions: sale.truth.iter().map(|t| (doc.sync_token.clone(), t.clone())).collect(),
            verified: None,
        };
        self.keys.push((kind, doc.id.clone()));
        self.txns.insert((kind, doc.id), model);
    }

    /// Applies `edit` to the transaction at `key` in the simulator and the model. Deleted and
    /// voided transactions are left alone (a voided sale is not edited back to life).
    pub fn apply(
        &mut self,
        sim: &QboSim,
        now: DateTime<Utc>,
        key: &(EntityKind, String),
        edit: Edit,
    ) {
        let pick = self.edits.values().sum::<u64>();
        let Some(model) = self.txns.get_mut(key) else { return };
        if model.deleted.is_some() || model.voided {
            return;
        }
        let (kind, id) = (key.0, key.1.as_str());
        let mut truth = model.versions.get(&model.token).cloned();
        let moved_to = another_block(truth.as_ref(), pick + id.len() as u64);
        let edited = match edit {
            Edit::Touch => sim.touch(REALM, kind, id),
            Edit::Quantity => {
                if let Some(t) = truth.as_mut() {
                    one_more_unit_truth(t);
                }
                sim.edit(REALM, kind, id, one_more_unit)
            }
            Edit::Address => {
                if let Some(t) = truth.as_mut() {
                    t.ship_to = moved_to.truth;
                    t.bill_to = moved_to.truth;
                }
                sim.edit(REALM, kind, id, |d| move_to(d, &moved_to))
            }
            Edit::MarkForOrdoro => sim.edit(REALM, kind, id, |d| set_class(d, "Ordoro")),
            Edit::Reclassify => sim.edit(REALM, kind, id, |d| set_class(d, "Retail")),
            Edit::Void => sim.void(REALM, kind, id),
            Edit::Delete => {
                if sim.delete(REALM, kind, id) {
                    model.deleted = Some(now);
                }
                None
            }
        };
        if let Some(doc) = edited {
            model.token = doc.sync_token.clone();
            if let Some(t) = truth {
                model.versions.insert(doc.sync_token.clone(), t);
            }
            model.updated = stamp(&doc);
            model.total = doc.total_amt;
            match edit {
                Edit::MarkForOrdoro => model.accepted = true,
                Edit::Reclassify => model.accepted = false,
                Edit::Void => model.voided = true,
                _ => {}
            }
            model.ever_eligible |= model.eligible();
        }
        *self.edits.entry(edit_name(edit)).or_default() += 1;
    }
}

fn edit_name(edit: Edit) -> &'static str {
    match edit {
        Edit::Touch => "touch",
        Edit::Quantity => "quantity",
        Edit::Address => "address",
        Edit::MarkForOrdoro => "mark_for_ordoro",
        Edit::Reclassify => "reclassify",
        Edit::Void => "void",
        Edit::Delete => "delete",
    }
}

fn set_class(doc: &mut SalesTransaction, name: &str) {
    doc.class_ref =
        Some(Ref { value: format!("50000000000000{:05}", name.len()), name: Some(name.into()) });
}

/// The sample block an address edit moves a sale to: the `pick`-th of all blocks, or the next
/// one when that is where the sale already ships.
fn another_block(truth: Option<&OrderTruth>, pick: u64) -> SampleBlock {
    let all: Vec<SampleBlock> = US_BLOCKS.iter().chain(INTL_BLOCKS).copied().collect();
    let i = (pick % all.len() as u64) as usize;
    if truth.is_some_and(|t| t.ship_to == all[i].truth) { all[(i + 1) % all.len()] } else { all[i] }
}

/// Both addresses become `block`, free-form, and the customer's name its first line.
fn move_to(doc: &mut SalesTransaction, block: &SampleBlock) {
    doc.ship_addr = Some(PhysicalAddress::from_lines(block.lines));
    doc.bill_addr = Some(PhysicalAddress::from_lines(block.lines));
    if let Some(customer) = &mut doc.customer_ref {
        customer.name = block.lines.first().map(|n| n.to_string());
    }
}

/// [`one_more_unit`] in the truth: the first line of the sale itself (a bundle's components
/// are not top-level lines, and shipping lines have no quantity), its total and the sale's.
fn one_more_unit_truth(t: &mut OrderTruth) {
    if let Some(line) = t.lines.iter_mut().find(|l| !l.in_bundle) {
        line.quantity += Decimal::ONE;
        line.total += line.unit_price;
        t.total += line.unit_price;
    }
}

/// One more unit on the first top-level item line that has a unit price; line and total follow.
fn one_more_unit(doc: &mut SalesTransaction) {
    for line in &mut doc.line {
        if let LineDetail::SalesItem(detail) = &mut line.detail
            && let (Some(qty), Some(price)) = (detail.qty, detail.unit_price)
        {
            detail.qty = Some(qty + Decimal::ONE);
            line.amount = Some(line.amount.unwrap_or_default() + price);
            doc.total_amt = Some(doc.total_amt.unwrap_or_default() + price);
            return;
        }
    }
}

// ------------------------------------------------------------------------------------------
// The world

/// Everything one simulated seed (or one crash of the sweep) runs on.
#[derive(Debug)]
pub struct World {
    /// Virtual time.
    pub clock: Arc<TokioClock>,
    /// Simulated QBO.
    pub qbo: Arc<QboSim>,
    /// Simulated Ordoro.
    pub ordoro: Arc<OrdoroSim>,
    /// The QBO wire.
    pub qbo_wire: Arc<QboWire>,
    /// The Ordoro wire.
    pub ordoro_wire: Arc<OrdoroWire>,
    /// The store as the host keeps it (the engine sees it through the crash switch).
    pub store: Arc<dyn Store>,
    /// The crash switch.
    pub switch: Arc<CrashSwitch>,
    /// The committed log, indexed.
    pub book: Arc<Mutex<LogBook>>,
    /// The model.
    pub company: Arc<Mutex<Company>>,
    /// The engine's settings.
    pub config: SyncConfig,
    /// Seed of the clients' retry jitter.
    pub jitter_seed: u64,
}

/// How a world is wired.
#[derive(Debug, Clone)]
pub struct Wiring {
    /// Rows of query pages delivered twice, per page.
    pub dup_row: f64,
    /// Creates delivered twice, per create.
    pub dup_create: f64,
    /// Seed of the wires and the clients' jitter.
    pub seed: u64,
    /// When QBO answers nothing but 503.
    pub qbo_outage: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// When Ordoro answers nothing but 503.
    pub ordoro_outage: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl World {
    /// A world on `clock` (call inside a paused tokio runtime).
    pub fn new(
        clock: Arc<TokioClock>,
        qbo: Arc<QboSim>,
        ordoro: Arc<OrdoroSim>,
        store: Arc<dyn Store>,
        config: SyncConfig,
        wiring: &Wiring,
    ) -> World {
        ordoro.add_sales_channel(CART);
        let qbo_wire = Arc::new(QboWire {
            sim: qbo.clone(),
            clock: clock.clone(),
            outage: wiring.qbo_outage,
            dup_row: wiring.dup_row,
            rng: Mutex::new(SmallRng::seed_from_u64(wiring.seed ^ 0x51)),
            in_flight: AtomicU32::new(0),
            peak_in_flight: AtomicU32::new(0),
            duplicated_rows: AtomicU64::new(0),
        });
        let ordoro_wire = Arc::new(OrdoroWire {
            sim: ordoro.clone(),
            clock: clock.clone(),
            outage: wiring.ordoro_outage,
            dup_create: wiring.dup_create,
            rng: Mutex::new(SmallRng::seed_from_u64(wiring.seed ^ 0x0d)),
            injected: Mutex::new(BTreeMap::new()),
            writes_sent: AtomicU64::new(0),
        });
        World {
            clock,
            qbo,
            ordoro,
            qbo_wire,
            ordoro_wire,
            store,
            switch: Arc::new(CrashSwitch::default()),
            book: Arc::new(Mutex::new(LogBook::default())),
            company: Arc::new(Mutex::new(Company::default())),
            config,
            jitter_seed: wiring.seed,
        }
    }

    /// `truth` with the SKUs the world's settings give its lines, from the sample's catalogue
    /// (data), never from the mapping: a mapping by item name first; then, when the catalogue is
    /// seeded in QBO, the item's own `Sku`; else the name. With bundles sent as one line, the
    /// bundle's components become one line of the bundle item (its `Sku` when seeded, else its
    /// name), one unit at their total.
    fn with_skus(&self, truth: &OrderTruth) -> OrderTruth {
        let seeded = self.qbo.item(REALM, BUNDLE_ITEM_ID).is_some();
        let mapped = |name: &str| {
            self.config.sku_mappings.iter().find_map(|m| match &m.key {
                SkuKey::ItemName(n) if n.eq_ignore_ascii_case(name) => Some(m.sku.clone()),
                _ => None,
            })
        };
        let sku_of = |name: &str| {
            mapped(name)
                .or_else(|| seeded.then(|| catalogue_sku(name)).flatten())
                .unwrap_or_else(|| name.to_string())
        };
        let one_line = self.config.mapping.bundles() == BundlePolicy::OneLine;
        let mut lines = Vec::new();
        let mut bundle: Option<Decimal> = None;
        for line in &truth.lines {
            if one_line && line.in_bundle {
                *bundle.get_or_insert(Decimal::ZERO) += line.total;
            } else {
                lines.push(LineTruth { sku: sku_of(&line.sku), ..line.clone() });
            }
        }
        if let Some(total) = bundle {
            let sku = if seeded { "KIT-STARTER" } else { "Starter Bundle" };
            let line = LineTruth {
                sku: sku.to_string(),
                quantity: Decimal::ONE,
                unit_price: total,
                total,
                in_bundle: false,
            };
            lines.insert(0, line);
        }
        OrderTruth { lines, ..truth.clone() }
    }

    /// Connects QBO: the consent's tokens go into the store.
    pub async fn connect(&self) {
        self.store.save_token(REALM, &self.qbo.connect(REALM)).await.unwrap();
    }

    /// The model, locked.
    pub fn company(&self) -> MutexGuard<'_, Company> {
        self.company.lock().unwrap()
    }

    /// An engine as a freshly started process assembles it: new clients (new budgets, new token
    /// manager reading the stored token), the same store and services, ports behind the switch.
    pub fn engine(&self) -> SyncEngine {
        let clock: Arc<dyn Clock> = self.clock.clone();
        // One crashing store for the engine and the QBO client's token saves alike.
        let store = Arc::new(CrashingStore {
            inner: self.store.clone(),
            switch: self.switch.clone(),
            book: self.book.clone(),
        });
        let qbo = QboClient::new(
            self.qbo.client_config(REALM),
            SharedTransport::from_arc(self.qbo_wire.clone()),
            clock.clone(),
            store.clone(),
        )
        .unwrap()
        .with_retry_policy(RetryPolicy::qbo(self.jitter_seed));
        let ordoro = OrdoroClient::new(
            self.ordoro.client_config(),
            SharedTransport::from_arc(self.ordoro_wire.clone()),
            clock.clone(),
        )
        .unwrap()
        .with_retry_policy(ordoro_retry_policy(self.jitter_seed));
        SyncEngine::builder()
            .qbo(Arc::new(CrashingQbo { inner: Arc::new(qbo), switch: self.switch.clone() }))
            .ordoro(Arc::new(CrashingOrdoro {
                inner: Arc::new(ordoro),
                switch: self.switch.clone(),
            }))
            .store(store)
            .clock(clock)
            .config(self.config.clone())
            .build()
            .unwrap()
    }

    /// Waits until the clock reads `at` (at once if it already does).
    pub async fn sleep_until(&self, at: DateTime<Utc>) {
        let now = self.clock.now();
        if at > now {
            tokio::time::sleep((at - now).to_std().unwrap_or_default()).await;
        }
    }

    /// Checks the cursor claims against the model (see the module docs); `Err` names the first
    /// broken claim.
    pub async fn check_cursors(&self) -> std::result::Result<(), String> {
        let mut cursors = BTreeMap::new();
        for kind in EntityKind::ALL {
            let name = format!("{REALM}/{}", kind.as_str());
            cursors.insert(kind, self.store.cursor(&name).await.map_err(|e| e.to_string())?);
        }
        let to_verify: Vec<TxnModel> = {
            let company = self.company();
            company
                .txns
                .values()
                .filter(|t| t.deleted.is_none() && t.verified.as_deref() != Some(t.token.as_str()))
                .filter(|t| cursors[&t.kind].is_some_and(|c| t.updated < c))
                .cloned()
                .collect()
        };
        for txn in &to_verify {
            let cursor = cursors[&txn.kind].unwrap_or_default();
            let version = (txn.kind, txn.id.clone(), txn.token.clone());
            if !self.book.lock().unwrap().handled.contains(&version) {
                return Err(format!(
                    "the {} cursor {cursor} passed {} {} (token {}, updated {}) with no log entry for it{}",
                    txn.kind,
                    txn.kind,
                    txn.id,
                    txn.token,
                    txn.updated,
                    self.history(txn).await
                ));
            }
            let key = LedgerKey { realm: REALM.into(), entity: txn.kind, qbo_id: txn.id.clone() };
            let ledger = self.store.ledger_entry(&key).await.map_err(|e| e.to_string())?;
            if txn.eligible() {
                let Some(entry) = ledger.filter(|e| e.state == LedgerState::Created) else {
                    return Err(format!(
                        "the {} cursor {cursor} passed eligible {} {} (updated {}) whose order is not recorded as created",
                        txn.kind, txn.kind, txn.id, txn.updated
                    ));
                };
                let number = entry.order_number.clone().unwrap_or_default();
                if self.ordoro.order(&number).is_none() {
                    return Err(format!(
                        "the ledger of {} {} names order {number:?}, which Ordoro does not have",
                        txn.kind, txn.id
                    ));
                }
            } else if txn.voided
                && self.config.cancel_on_void
                && let Some(entry) = ledger.filter(|e| e.state != LedgerState::Cancelled)
            {
                return Err(format!(
                    "the {} cursor passed voided {} {} but its order is {:?}, not cancelled{}",
                    txn.kind,
                    txn.kind,
                    txn.id,
                    entry.state,
                    self.history(txn).await
                ));
            }
            if let Some(model) = self.company().txns.get_mut(&(txn.kind, txn.id.clone()))
                && model.token == txn.token
            {
                model.verified = Some(txn.token.clone());
            }
        }
        let repeats = &self.book.lock().unwrap().repeats;
        if let Some(first) = repeats.first() {
            return Err(format!("a run logged one version twice: {first}"));
        }
        Ok(())
    }

    /// The log entries of a transaction, for a failure report.
    pub async fn history(&self, txn: &TxnModel) -> String {
        let query = LogQuery { qbo_id: Some(txn.id.clone()), ..LogQuery::default() };
        let entries = self.store.query_log(&query).await.unwrap_or_default();
        let mut out = format!("\n    model: {txn:?}");
        for kind in EntityKind::ALL {
            let name = format!("{REALM}/{}", kind.as_str());
            let _ = write!(
                out,
                "\n    cursor {name}: {:?}",
                self.store.cursor(&name).await.ok().flatten()
            );
        }
        if let Some(doc) = self.qbo.get(REALM, txn.kind, &txn.id) {
            let _ = write!(
                out,
                "\n    in QBO: token {} updated {:?}",
                doc.sync_token,
                doc.last_updated()
            );
        }
        for e in entries.iter().filter(|e| e.entity == txn.kind) {
            let _ = write!(
                out,
                "\n    {} {} token {:?} updated {:?}: {} {:?} {:?}",
                e.run_id,
                e.at,
                e.sync_token,
                e.last_updated.map(|t| t.with_timezone(&Utc)),
                e.action,
                e.reason,
                e.detail
            );
        }
        out
    }

    /// The oracle after the final runs (see the module docs).
    pub async fn check_final(&self, update_existing: bool) -> std::result::Result<(), String> {
        let company: Vec<TxnModel> = self.company().txns.values().cloned().collect();
        let ledger: BTreeMap<(EntityKind, String), LedgerEntry> = {
            let mut all = BTreeMap::new();
            for txn in &company {
                let key =
                    LedgerKey { realm: REALM.into(), entity: txn.kind, qbo_id: txn.id.clone() };
                if let Some(entry) =
                    self.store.ledger_entry(&key).await.map_err(|e| e.to_string())?
                {
                    all.insert((txn.kind, txn.id.clone()), entry);
                }
            }
            all
        };
        let pending = self.store.pending_entries(REALM).await.map_err(|e| e.to_string())?;
        if let Some(p) = pending.first() {
            return Err(format!("a create is still pending after the final runs: {p:?}"));
        }
        let orders_by_id = self.orders_by_id();
        self.check_repeats(&orders_by_id)?;
        let mut orders_by_id = orders_by_id;
        let handled = self.book.lock().unwrap().handled.clone();
        for txn in &company {
            let oid = order_id(txn.kind, &txn.id);
            let orders = orders_by_id.remove(&oid).unwrap_or_default();
            let entry = ledger.get(&(txn.kind, txn.id.clone()));
            let what = format!("{} {}", txn.kind, txn.id);
            // Beyond the copies the wire made (which only an `Allow`-style Ordoro turns into
            // orders), one order per id.
            let order = match &entry.and_then(|e| e.order_number.clone()) {
                Some(n) => orders.iter().find(|o| &o.order_number == n).or(orders.first()),
                None => orders.first(),
            };
            if txn.deleted.is_none()
                && !handled.contains(&(txn.kind, txn.id.clone(), txn.token.clone()))
            {
                return Err(format!(
                    "{what} (token {}) has no log entry for its last version{}",
                    txn.token,
                    self.history(txn).await
                ));
            }
            if !txn.ever_eligible {
                if order.is_some() || entry.is_some() {
                    return Err(format!(
                        "{what} was never eligible but has an order or ledger entry: {entry:?}"
                    ));
                }
                continue;
            }
            if txn.eligible() {
                let Some(order) = order else {
                    return Err(format!("eligible {what} has no Ordoro order"));
                };
                if order.status != "awaiting_fulfillment" {
                    return Err(format!("eligible {what} has an order in status {}", order.status));
                }
                let recorded = entry.is_some_and(|e| {
                    e.state == LedgerState::Created
                        && e.order_number.as_deref() == Some(order.order_number.as_str())
                });
                if !recorded {
                    return Err(format!(
                        "eligible {what}: ledger {entry:?} does not record order {}",
                        order.order_number
                    ));
                }
                if update_existing {
                    let total = order.financial.as_ref().and_then(|f| f.grand_total);
                    if total.map(|t| t.normalize()) != txn.total.map(|t| t.normalize()) {
                        return Err(format!(
                            "{what}: updating is on but its order's total is {total:?}, the transaction's {:?}",
                            txn.total
                        ));
                    }
                }
                self.check_content(txn, entry, order, update_existing)?;
                continue;
            }
            let gone = txn.voided || txn.deleted.is_some();
            let Some(order) = order else { continue };
            if gone && self.config.cancel_on_void {
                if order.status != "cancelled" {
                    return Err(format!(
                        "{what} is {} and cancelling on void is on, but its order is {}",
                        if txn.voided { "voided" } else { "deleted" },
                        order.status
                    ));
                }
            } else if order.status != "awaiting_fulfillment" {
                return Err(format!(
                    "{what} (voided {}, deleted {}, class accepted {}) had its order changed to {}",
                    txn.voided,
                    txn.deleted.is_some(),
                    txn.accepted,
                    order.status
                ));
            }
        }
        if let Some((id, _)) = orders_by_id.into_iter().next() {
            return Err(format!("Ordoro has an order {id} for no known transaction"));
        }
        Ok(())
    }

    /// Every order Ordoro has, by the `order_id` it carries: its `cart_order_id`, else the
    /// `order_id` of its number (`{channel index}-{order_id}`), so that an order a careless
    /// Ordoro created again under another number still counts.
    fn orders_by_id(&self) -> BTreeMap<String, Vec<Order>> {
        let mut orders_by_id: BTreeMap<String, Vec<Order>> = BTreeMap::new();
        for order in self.ordoro.orders() {
            let id = order.cart_order_id.clone().unwrap_or_else(|| {
                let number = order.order_number.as_str();
                number.split_once('-').map_or(number, |(_, id)| id).to_string()
            });
            orders_by_id.entry(id).or_default().push(order);
        }
        orders_by_id
    }

    /// The sync made no repeat of a create: for each `order_id`, the creates Ordoro met after
    /// its order existed ([`OrdoroSim::duplicate_creates`]) and the orders carrying it beyond
    /// the first are each at most the copies the test's own wire delivered.
    fn check_repeats(
        &self,
        orders_by_id: &BTreeMap<String, Vec<Order>>,
    ) -> std::result::Result<(), String> {
        let copies = self.ordoro_wire.injected.lock().unwrap().clone();
        let copies_of = |id: &str| copies.get(id).copied().unwrap_or(0);
        for (order_id, n) in self.ordoro.duplicate_creates() {
            if n > copies_of(&order_id) {
                return Err(format!(
                    "the sync sent {} create(s) for {order_id} after its order existed ({n} \
                     repeats met Ordoro, the wire delivered {} copies)",
                    n - copies_of(&order_id),
                    copies_of(&order_id)
                ));
            }
        }
        for (order_id, orders) in orders_by_id {
            let counted = orders.len().max(self.ordoro.count_by_order_id(order_id));
            let extra = u32::try_from(counted.saturating_sub(1)).unwrap_or(u32::MAX);
            if extra > copies_of(order_id) {
                return Err(format!(
                    "{order_id} has {counted} Ordoro orders ({}), the wire delivered {} copies \
                     of its create",
                    orders.iter().map(|o| o.order_number.as_str()).collect::<Vec<_>>().join(", "),
                    copies_of(order_id)
                ));
            }
        }
        Ok(())
    }

    /// The order says what the transaction's truth says: of its last version with updating on,
    /// else of the version it was created from (the ledger's SyncToken: with updating off the
    /// ledger keeps the version its create was sent for).
    fn check_content(
        &self,
        txn: &TxnModel,
        entry: Option<&LedgerEntry>,
        order: &Order,
        update_existing: bool,
    ) -> std::result::Result<(), String> {
        if txn.versions.is_empty() {
            return Ok(());
        }
        let version = if update_existing {
            txn.token.clone()
        } else {
            entry.map(|e| e.sync_token.clone()).unwrap_or_default()
        };
        let Some(truth) = txn.versions.get(&version) else {
            return Err(format!(
                "{} {}: its order was created from version {version:?}, which the model never \
                 saw eligible (versions {:?})",
                txn.kind,
                txn.id,
                txn.versions.keys().collect::<Vec<_>>()
            ));
        };
        let wrong = content_mismatches(order, &self.with_skus(truth));
        if wrong.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{} {} (version {version}, updating {}): order {} says {}",
            txn.kind,
            txn.id,
            if update_existing { "on" } else { "off" },
            order.order_number,
            wrong.join("; ")
        ))
    }

    /// The rate-limit claims; `fault_free` also demands that no 429 was served.
    pub fn check_budgets(&self, fault_free: bool) -> std::result::Result<(), String> {
        let qbo_meter = self.qbo.rate_meter(REALM);
        if qbo_meter.rejected() > 0 || qbo_meter.peak() > qbo_meter.limit() {
            return Err(format!(
                "QBO's minute limit was exceeded: {} refused, peak {}",
                qbo_meter.rejected(),
                qbo_meter.peak()
            ));
        }
        let peak = self.qbo_wire.peak_in_flight.load(Ordering::SeqCst);
        if peak > 10 {
            return Err(format!("{peak} QBO requests were in flight at once"));
        }
        let meter = self.ordoro.meter();
        if meter.rejected() > 0 || meter.peak() > meter.limit() {
            return Err(format!(
                "Ordoro's minute limit was exceeded: {} refused, peak {}",
                meter.rejected(),
                meter.peak()
            ));
        }
        if fault_free {
            let (q, o) = (self.qbo.stats().throttled, self.ordoro.stats().throttled);
            if q + o > 0 {
                return Err(format!("a seed without faults met 429s: QBO {q}, Ordoro {o}"));
            }
        }
        Ok(())
    }

    /// True when the stored refresh token no longer works: the process died between QBO's
    /// answer to a refresh (which killed the token presented) and the save of the new one.
    pub async fn token_lost(&self) -> bool {
        self.check_token().await.is_err()
    }

    /// What the store, Ordoro and the QBO port had seen before a run, for
    /// [`World::check_stopped_for_reconnect`].
    pub async fn before_run(&self) -> BeforeRun {
        let mut cursors = Vec::new();
        for kind in EntityKind::ALL {
            let name = format!("{REALM}/{}", kind.as_str());
            cursors.push(self.store.cursor(&name).await.ok().flatten());
        }
        let pending = self.store.pending_entries(REALM).await.unwrap_or_default();
        BeforeRun {
            writes: self.ordoro_wire.writes_sent.load(Ordering::SeqCst),
            entries: self.book.lock().unwrap().entries.len(),
            qbo_errors: self.switch.qbo_errors().len(),
            cursors,
            pending: pending.into_iter().map(|e| (e.key.entity, e.key.qbo_id)).collect(),
        }
    }

    /// The run after a lost refresh token stopped at once, as it must: it ended (no hang, no
    /// crash) with the run aborted, the first QBO error it met the typed reconnect error
    /// (`ErrorKind::Authentication`, code `invalid_grant`) and no other kind; it wrote nothing
    /// to Ordoro, moved no cursor, left no new pending create, and logged only `auth_failed`
    /// failures (or settled a create left pending by the crash, which needs no QBO).
    pub async fn check_stopped_for_reconnect(
        &self,
        end: &RunEnd,
        before: &BeforeRun,
    ) -> std::result::Result<(), String> {
        let RunEnd::Done(report) = end else {
            return Err("the run after a lost refresh token crashed with no crash planned".into());
        };
        let fail = |why: String| Err(format!("after a lost refresh token, the next run {why}"));
        let Some(why) = &report.aborted else {
            return fail(format!("did not stop: {}", report.summary));
        };
        let errors = self.switch.qbo_errors();
        let errors = &errors[before.qbo_errors.min(errors.len())..];
        let reconnect = (ErrorKind::Authentication, Some("invalid_grant".to_string()));
        if errors.first() != Some(&reconnect) {
            return fail(format!(
                "met {:?} first, not the reconnect error ({why})",
                errors.first()
            ));
        }
        if let Some(other) = errors.iter().find(|e| e.0 != ErrorKind::Authentication) {
            return fail(format!("went on to meet {other:?} ({why})"));
        }
        if self.ordoro_wire.writes_sent.load(Ordering::SeqCst) != before.writes {
            return fail("wrote to Ordoro".into());
        }
        let after = self.before_run().await;
        if after.cursors != before.cursors {
            return fail(format!("moved a cursor: {:?} to {:?}", before.cursors, after.cursors));
        }
        if let Some(new) = after.pending.difference(&before.pending).next() {
            return fail(format!("left a new pending create for {new:?}"));
        }
        let book = self.book.lock().unwrap();
        let entries = &book.entries[before.entries.min(book.entries.len())..];
        let unexpected = entries.iter().find(|(kind, id, action, reason)| {
            let auth = *action == "failed" && *reason == Some("auth_failed");
            !auth && !before.pending.contains(&(*kind, id.clone()))
        });
        if let Some(entry) = unexpected {
            return fail(format!("logged {entry:?}"));
        }
        Ok(())
    }

    /// The stored refresh token still works.
    pub async fn check_token(&self) -> std::result::Result<(), String> {
        use secrecy::ExposeSecret as _;
        let token = self.store.load_token(REALM).await.map_err(|e| e.to_string())?;
        let valid =
            token.is_some_and(|t| self.qbo.is_refresh_token_valid(t.refresh_token.expose_secret()));
        if valid { Ok(()) } else { Err("the stored refresh token no longer works".into()) }
    }
}

/// Where `order` differs from `truth`: its lines (SKU, quantity, unit price, total, as a
/// multiset), totals, both addresses with the e-mail, the requested shipping method and notes.
pub fn content_mismatches(order: &Order, truth: &OrderTruth) -> Vec<String> {
    use rust_decimal::prelude::ToPrimitive as _;
    let mut wrong = Vec::new();
    let money = |d: Decimal| Some(d.normalize());
    let mut have: Vec<_> = order
        .lines
        .iter()
        .map(|l| {
            let n = |d: Option<Decimal>| d.map(|d| d.normalize());
            (l.sku.clone(), l.quantity, n(l.item_price), n(l.total_price))
        })
        .collect();
    let mut want: Vec<_> = truth
        .lines
        .iter()
        .map(|l| (Some(l.sku.clone()), l.quantity.to_i64(), money(l.unit_price), money(l.total)))
        .collect();
    have.sort();
    want.sort();
    if have != want {
        wrong.push(format!("lines {have:?}, the truth {want:?}"));
    }
    let f = order.financial.clone().unwrap_or_default();
    for (what, got, want) in [
        ("product amount", f.product_amount, truth.product_amount()),
        ("shipping amount", f.shipping_amount, truth.shipping),
        ("tax", f.tax_amount, truth.tax),
        ("discount", f.discount_amount, truth.discount),
        ("grand total", f.grand_total, truth.total),
    ] {
        if got.map(|d| d.normalize()) != money(want) {
            wrong.push(format!("{what} {got:?}, the truth {want}"));
        }
    }
    let email = truth.email.as_deref();
    for (what, got, want) in [
        ("ship-to", &order.shipping_address, &truth.ship_to),
        ("bill-to", &order.billing_address, &truth.bill_to),
    ] {
        if let Some(diff) = address_mismatch(got.as_ref(), want, email) {
            wrong.push(format!("{what} {diff}"));
        }
    }
    if order.requested_shipping_method != truth.shipping_method {
        wrong.push(format!(
            "shipping method {:?}, the truth {:?}",
            order.requested_shipping_method, truth.shipping_method
        ));
    }
    if order.notes_from_customer.as_deref() != Some(truth.customer_note.as_str()) {
        wrong.push(format!("notes from the customer {:?}", order.notes_from_customer));
    }
    let notes = order.internal_notes.as_deref().unwrap_or_default();
    for line in &truth.internal_notes {
        if !notes.lines().any(|l| l == line) {
            wrong.push(format!("internal notes {notes:?} without the line {line:?}"));
        }
    }
    wrong
}

fn address_mismatch(
    got: Option<&OrdoroAddress>,
    want: &AddressTruth,
    email: Option<&str>,
) -> Option<String> {
    let Some(got) = got else { return Some("missing".into()) };
    let got_fields = [
        &got.name,
        &got.company,
        &got.street1,
        &got.street2,
        &got.city,
        &got.state,
        &got.zip,
        &got.country,
        &got.email,
    ]
    .map(|f| f.as_deref());
    let want_fields = [
        want.name,
        want.company,
        Some(want.street1),
        want.street2,
        Some(want.city),
        want.state,
        Some(want.zip),
        Some(want.country),
        email,
    ];
    (got_fields != want_fields).then(|| format!("{got_fields:?}, the truth {want_fields:?}"))
}

/// What [`World::before_run`] saw.
#[derive(Debug)]
pub struct BeforeRun {
    writes: u64,
    entries: usize,
    qbo_errors: usize,
    cursors: Vec<Option<DateTime<Utc>>>,
    pending: BTreeSet<(EntityKind, String)>,
}

/// How a run ended.
#[derive(Debug)]
pub enum RunEnd {
    /// The run returned.
    Done(Box<RunReport>),
    /// A change-driven run found no new event of the company: nothing ran.
    NoRun,
    /// The process died at a port call; the store keeps what was committed.
    Crashed,
}

/// Which run a driver starts.
#[derive(Debug, Clone)]
pub enum Job {
    /// [`SyncEngine::run_incremental`], the polling run.
    Incremental,
    /// [`SyncEngine::run_changes`] with the events of verified deliveries.
    Changes(Vec<ChangeEvent>),
    /// [`SyncEngine::run_catch_up`], the daily reconcile.
    CatchUp,
}

/// Runs `engine` once, racing the crash switch; the run future is dropped at a crash. A run that
/// neither ends nor crashes within six virtual hours is an error (a hang).
pub async fn run_once(
    world: &World,
    engine: &SyncEngine,
    options: &RunOptions,
) -> std::result::Result<RunEnd, String> {
    run_job(world, engine, &Job::Incremental, options).await
}

/// [`run_once`] for any [`Job`].
pub async fn run_job(
    world: &World,
    engine: &SyncEngine,
    job: &Job,
    options: &RunOptions,
) -> std::result::Result<RunEnd, String> {
    let run = async {
        match job {
            Job::Incremental => engine.run_incremental(options).await.map(Some),
            Job::Changes(events) => engine.run_changes(events, options).await,
            Job::CatchUp => engine.run_catch_up(options).await.map(Some),
        }
    };
    let run = tokio::time::timeout(Duration::from_secs(6 * 3600), run);
    tokio::select! {
        biased;
        _ = world.switch.crashed() => Ok(RunEnd::Crashed),
        result = run => match result {
            Ok(Ok(Some(report))) => Ok(RunEnd::Done(Box::new(report))),
            Ok(Ok(None)) => Ok(RunEnd::NoRun),
            Ok(Err(e)) => Err(format!("the run failed: {e}")),
            Err(_) => Err("a run hung for six virtual hours".into()),
        },
    }
}
