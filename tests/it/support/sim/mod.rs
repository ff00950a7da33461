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
//! - One eligible in some version has at most one order (the simulated Ordoro dedupes by
//!   `order_id`, so the real check is that no create names an existing `order_id`, counted by
//!   [`OrdoroSim::duplicate_creates`], unless the wire itself delivered that create twice).
//! - After the final runs, one eligible now has exactly one order, awaiting fulfilment, whose
//!   ledger entry is `Created`; with updating on, its grand total is the transaction's total.
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

pub mod client;

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
use qbo_ordoro::model::ordoro::{
    NewOrder, Order, OrderFinancial, OrderList, OrdoroAddress, PostOrderLine, PutOrderLine,
};
use qbo_ordoro::model::qbo::{
    CompanyInfo, EntityKind, LineDetail, QboClass, QboCustomer, Ref, SalesTransaction, Transaction,
};
use qbo_ordoro::ordoro::api::OrderQuery;
use qbo_ordoro::ordoro::http::ordoro_retry_policy;
use qbo_ordoro::qbo::api::{ChangeFeed, TxnDateQuery, TxnPage, UpdatedQuery};
use qbo_ordoro::sim::ordoro::OrdoroSim;
use qbo_ordoro::sim::qbo::QboSim;
use qbo_ordoro::sim::sample::Expected;
use qbo_ordoro::store::{
    Commit, CompanyCountry, LedgerEntry, LedgerKey, LedgerState, LogEntry, LogQuery, RunSummary,
    StoredToken,
};
use qbo_ordoro::transport::RetryPolicy;
use qbo_ordoro::{
    Clock, HttpRequest, HttpResponse, HttpTransport, OrdoroApi, QboApi, Result, SharedTransport,
    Store, TokenStore, TokioClock, TransportError,
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
        self.switch.through(self.inner.query_updated(q)).await
    }
    async fn query_txn_date(&self, q: &TxnDateQuery) -> Result<TxnPage> {
        self.switch.through(self.inner.query_txn_date(q)).await
    }
    async fn get_transaction(
        &self,
        entity: EntityKind,
        id: &str,
    ) -> Result<Option<SalesTransaction>> {
        self.switch.through(self.inner.get_transaction(entity, id)).await
    }
    async fn find_by_doc_number(
        &self,
        entity: EntityKind,
        doc_number: &str,
    ) -> Result<Vec<SalesTransaction>> {
        self.switch.through(self.inner.find_by_doc_number(entity, doc_number)).await
    }
    async fn find_classes(&self, name: &str) -> Result<Vec<QboClass>> {
        self.switch.through(self.inner.find_classes(name)).await
    }
    async fn changes_since(
        &self,
        entities: &[EntityKind],
        since: DateTime<Utc>,
    ) -> Result<ChangeFeed> {
        self.switch.through(self.inner.changes_since(entities, since)).await
    }
    async fn company_info(&self) -> Result<Option<CompanyInfo>> {
        self.switch.through(self.inner.company_info()).await
    }
    async fn get_customer(&self, id: &str) -> Result<Option<QboCustomer>> {
        self.switch.through(self.inner.get_customer(id)).await
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
    async fn update_shipping_address(&self, n: &str, address: &OrdoroAddress) -> Result<()> {
        self.switch.through(self.inner.update_shipping_address(n, address)).await
    }
    async fn update_billing_address(&self, n: &str, address: &OrdoroAddress) -> Result<()> {
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
    async fn load_token(&self, realm: &str) -> Result<Option<StoredToken>> {
        self.inner.load_token(realm).await
    }
    async fn save_token(&self, realm: &str, token: &StoredToken) -> Result<()> {
        self.inner.save_token(realm, token).await
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
    /// The `order_id`s whose create was delivered twice.
    pub injected: Mutex<BTreeSet<String>>,
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
                self.injected.lock().unwrap().insert(order_id);
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
    /// Inserts `txn` into the simulator now (stamped by it) and into the model.
    pub fn insert(&mut self, sim: &QboSim, mut txn: Transaction, expected: Expected) {
        txn.doc.meta_data = None;
        let kind = txn.kind;
        let doc = sim.insert(REALM, txn);
        let accepted = expected != Expected::NotMarked;
        let voided = expected == Expected::Voided;
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
        let Some(model) = self.txns.get_mut(key) else { return };
        if model.deleted.is_some() || model.voided {
            return;
        }
        let (kind, id) = (key.0, key.1.as_str());
        let edited = match edit {
            Edit::Touch => sim.touch(REALM, kind, id),
            Edit::Quantity => sim.edit(REALM, kind, id, one_more_unit),
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
            injected: Mutex::new(BTreeSet::new()),
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
        let qbo = QboClient::new(
            self.qbo.client_config(REALM),
            SharedTransport::from_arc(self.qbo_wire.clone()),
            clock.clone(),
            self.store.clone(),
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
            .store(Arc::new(CrashingStore {
                inner: self.store.clone(),
                switch: self.switch.clone(),
                book: self.book.clone(),
            }))
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
        let mut orders_by_id: BTreeMap<String, Vec<Order>> = BTreeMap::new();
        for order in self.ordoro.orders() {
            let id = order.cart_order_id.clone().unwrap_or_default();
            orders_by_id.entry(id).or_default().push(order);
        }
        let injected = self.ordoro_wire.injected.lock().unwrap().clone();
        for (order_id, n) in self.ordoro.duplicate_creates() {
            if !injected.contains(&order_id) {
                return Err(format!(
                    "the sync sent {n} create(s) for {order_id} after its order existed"
                ));
            }
        }
        let handled = self.book.lock().unwrap().handled.clone();
        for txn in &company {
            let oid = order_id(txn.kind, &txn.id);
            let orders = orders_by_id.remove(&oid).unwrap_or_default();
            let entry = ledger.get(&(txn.kind, txn.id.clone()));
            let what = format!("{} {}", txn.kind, txn.id);
            if orders.len() > 1 {
                return Err(format!("{what} has {} Ordoro orders", orders.len()));
            }
            let order = orders.first();
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

    /// The stored refresh token still works.
    pub async fn check_token(&self) -> std::result::Result<(), String> {
        use secrecy::ExposeSecret as _;
        let token = self.store.load_token(REALM).await.map_err(|e| e.to_string())?;
        let valid =
            token.is_some_and(|t| self.qbo.is_refresh_token_valid(t.refresh_token.expose_secret()));
        if valid { Ok(()) } else { Err("the stored refresh token no longer works".into()) }
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum RunEnd {
    /// The run returned.
    Done(RunReport),
    /// The process died at a port call; the store keeps what was committed.
    Crashed,
}

/// Runs `engine` once, racing the crash switch; the run future is dropped at a crash. A run that
/// neither ends nor crashes within six virtual hours is an error (a hang).
pub async fn run_once(
    world: &World,
    engine: &SyncEngine,
    options: &RunOptions,
) -> std::result::Result<RunEnd, String> {
    let run = tokio::time::timeout(Duration::from_secs(6 * 3600), engine.run_incremental(options));
    tokio::select! {
        biased;
        _ = world.switch.crashed() => Ok(RunEnd::Crashed),
        result = run => match result {
            Ok(Ok(report)) => Ok(RunEnd::Done(report)),
            Ok(Err(e)) => Err(format!("the run failed: {e}")),
            Err(_) => Err("a run hung for six virtual hours".into()),
        },
    }
}
