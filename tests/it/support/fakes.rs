//! In-memory fakes of the engine's ports for engine tests: a QBO that honours the last-updated
//! window and paging semantics (and can change data between page requests), an Ordoro that keeps
//! orders and can lose a create's response, fail, or hang after a create; and, for the QBO client
//! tests, a token store that records every save.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use qbo_ordoro::QboApi;
use qbo_ordoro::model::ordoro::{
    AddressUpdate, NewOrder, Order, OrderFinancial, OrderLine, OrderList, PostOrderLine,
    PutOrderLine, SalesChannel,
};
use qbo_ordoro::model::qbo::{EntityKind, QboClass, SalesTransaction, Transaction};
use qbo_ordoro::ordoro::api::OrderQuery;
use qbo_ordoro::qbo::api::{ChangeFeed, DeletedTransaction, TxnDateQuery, TxnPage, UpdatedQuery};
use qbo_ordoro::sim::qbo::to_pacific;
use qbo_ordoro::store::StoredToken;
use qbo_ordoro::{Clock, Error, ErrorKind, OrdoroApi, Result, Service, TokenStore};
use secrecy::ExposeSecret;
use serde_json::json;

pub type Hook = Box<dyn FnMut(u64, &mut Vec<Transaction>) + Send>;

pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap()
}

/// A sale with one item line and a U.S. ship-to, of class `class` (none when `None`).
pub fn sale(id: &str, class: Option<&str>, updated: DateTime<FixedOffset>) -> SalesTransaction {
    let mut doc = json!({
        "Id": id,
        "SyncToken": "0",
        "DocNumber": format!("10{id}"),
        "TxnDate": updated.date_naive().to_string(),
        "MetaData": {"CreateTime": updated.to_rfc3339(), "LastUpdatedTime": updated.to_rfc3339()},
        "CustomerRef": {"value": "7", "name": "Jane Doe"},
        "ShipAddr": {"Id": "1", "Line1": "123 Main St", "City": "Springfield",
                     "CountrySubDivisionCode": "IL", "PostalCode": "62701"},
        "BillAddr": {"Id": "1", "Line1": "123 Main St", "City": "Springfield",
                     "CountrySubDivisionCode": "IL", "PostalCode": "62701"},
        "Line": [
            {"Id": "1", "LineNum": 1, "Description": "Widget", "Amount": 10.0,
             "DetailType": "SalesItemLineDetail",
             "SalesItemLineDetail": {"ItemRef": {"value": "11", "name": "Widget"},
                                     "Qty": 2, "UnitPrice": 5}},
            {"Amount": 10.0, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
        ],
        "TotalAmt": 10.0
    });
    if let Some(c) = class {
        doc["ClassRef"] = json!({"value": "5000", "name": c});
    }
    serde_json::from_value(doc).expect("valid sale")
}

/// A transaction whose ship-to cannot be parsed (a free-form block with no city line).
pub fn sale_with_bad_address(id: &str, updated: DateTime<FixedOffset>) -> SalesTransaction {
    let mut doc = sale(id, Some("Ordoro"), updated);
    let lines = ["Jane Doe"];
    doc.ship_addr = Some(qbo_ordoro::model::qbo::PhysicalAddress::from_lines(&lines));
    doc.bill_addr = None;
    doc
}

#[derive(Default)]
struct QboState {
    txns: Vec<Transaction>,
    deleted: Vec<DeletedTransaction>,
    updated_queries: u64,
    other_calls: u64,
    cdc_calls: u64,
    fail_queries: u32,
    hooks: Vec<Hook>,
}

/// A QBO company in memory.
pub struct FakeQbo {
    realm: String,
    clock: Arc<dyn Clock>,
    state: Mutex<QboState>,
}

impl std::fmt::Debug for FakeQbo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeQbo").field("realm", &self.realm).finish()
    }
}

fn ts(t: &Transaction) -> DateTime<Utc> {
    t.doc.last_updated().map(|d| d.with_timezone(&Utc)).unwrap_or_default()
}

impl FakeQbo {
    pub fn new(realm: &str, clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(FakeQbo { realm: realm.into(), clock, state: Mutex::new(QboState::default()) })
    }

    fn st(&self) -> std::sync::MutexGuard<'_, QboState> {
        self.state.lock().unwrap()
    }

    pub fn add(&self, kind: EntityKind, doc: SalesTransaction) {
        self.st().txns.push(Transaction { kind, doc });
    }

    /// Changes a transaction as a QBO user would: the SyncToken moves and it is stamped now.
    pub fn edit(&self, kind: EntityKind, id: &str, change: impl FnOnce(&mut SalesTransaction)) {
        let now = to_pacific(self.clock.now());
        let mut st = self.st();
        let t = st.txns.iter_mut().find(|t| t.kind == kind && t.doc.id == id).expect("exists");
        bump(&mut t.doc, now);
        change(&mut t.doc);
    }

    /// Voids a transaction: amounts to zero, `Voided` note.
    pub fn void(&self, kind: EntityKind, id: &str) {
        self.edit(kind, id, |d| {
            d.private_note = Some("Voided".into());
            d.total_amt = Some(0.into());
            for l in &mut d.line {
                l.amount = Some(0.into());
            }
        });
    }

    pub fn delete(&self, kind: EntityKind, id: &str) {
        let now = to_pacific(self.clock.now());
        let mut st = self.st();
        st.txns.retain(|t| !(t.kind == kind && t.doc.id == id));
        st.deleted.push(DeletedTransaction { entity: kind, id: id.into(), deleted_at: Some(now) });
    }

    /// Runs `hook(n, txns)` before answering the n-th (1-based) `query_updated`.
    pub fn on_query(&self, hook: impl FnMut(u64, &mut Vec<Transaction>) + Send + 'static) {
        self.st().hooks.push(Box::new(hook));
    }

    pub fn fail_next_queries(&self, n: u32) {
        self.st().fail_queries = n;
    }

    /// Every call made so far.
    pub fn calls(&self) -> u64 {
        let st = self.st();
        st.updated_queries + st.other_calls + st.cdc_calls
    }

    pub fn cdc_calls(&self) -> u64 {
        self.st().cdc_calls
    }

    fn page(&self, mut rows: Vec<Transaction>, start: u32, max: u32) -> TxnPage {
        rows.sort_by_key(|t| (ts(t), t.doc.id.clone()));
        let transactions = rows
            .into_iter()
            .skip(start.saturating_sub(1) as usize)
            .take(max as usize)
            .map(|t| t.doc)
            .collect();
        TxnPage { transactions, server_time: Some(to_pacific(self.clock.now())) }
    }
}

/// Moves a document to a new version stamped `at`.
pub fn bump(doc: &mut SalesTransaction, at: DateTime<FixedOffset>) {
    let token: u64 = doc.sync_token.parse().unwrap_or(0);
    doc.sync_token = (token + 1).to_string();
    if let Some(m) = doc.meta_data.as_mut() {
        m.last_updated_time = Some(at);
    }
}

fn qbo_down() -> Error {
    Error::new(ErrorKind::Service, "QBO is down").with_service(Service::Qbo).with_status(503)
}

#[async_trait::async_trait]
impl QboApi for FakeQbo {
    fn realm_id(&self) -> &str {
        &self.realm
    }

    async fn query_updated(&self, q: &UpdatedQuery) -> Result<TxnPage> {
        let mut st = self.st();
        st.updated_queries += 1;
        let n = st.updated_queries;
        if st.fail_queries > 0 {
            st.fail_queries -= 1;
            return Err(qbo_down());
        }
        let mut hooks = std::mem::take(&mut st.hooks);
        for h in &mut hooks {
            h(n, &mut st.txns);
        }
        st.hooks = hooks;
        let rows = st
            .txns
            .iter()
            .filter(|t| t.kind == q.entity && ts(t) >= q.from && ts(t) <= q.to)
            .cloned()
            .collect();
        drop(st);
        Ok(self.page(rows, q.start_position, q.max_results))
    }

    async fn query_txn_date(&self, q: &TxnDateQuery) -> Result<TxnPage> {
        let mut st = self.st();
        st.other_calls += 1;
        let rows = st
            .txns
            .iter()
            .filter(|t| {
                t.kind == q.entity
                    && t.doc.txn_date.is_some_and(|d: NaiveDate| d >= q.from && d <= q.to)
            })
            .cloned()
            .collect();
        drop(st);
        Ok(self.page(rows, q.start_position, q.max_results))
    }

    async fn get_transaction(
        &self,
        kind: EntityKind,
        id: &str,
    ) -> Result<Option<SalesTransaction>> {
        let mut st = self.st();
        st.other_calls += 1;
        Ok(st.txns.iter().find(|t| t.kind == kind && t.doc.id == id).map(|t| t.doc.clone()))
    }

    async fn find_by_doc_number(
        &self,
        kind: EntityKind,
        doc_number: &str,
    ) -> Result<Vec<SalesTransaction>> {
        let mut st = self.st();
        st.other_calls += 1;
        Ok(st
            .txns
            .iter()
            .filter(|t| t.kind == kind && t.doc.doc_number.as_deref() == Some(doc_number))
            .map(|t| t.doc.clone())
            .collect())
    }

    async fn find_classes(&self, _name: &str) -> Result<Vec<QboClass>> {
        Ok(Vec::new())
    }

    async fn changes_since(
        &self,
        entities: &[EntityKind],
        since: DateTime<Utc>,
    ) -> Result<ChangeFeed> {
        let mut st = self.st();
        st.cdc_calls += 1;
        let changed = st
            .txns
            .iter()
            .filter(|t| entities.contains(&t.kind) && ts(t) >= since)
            .cloned()
            .collect();
        let deleted = st
            .deleted
            .iter()
            .filter(|d| {
                entities.contains(&d.entity)
                    && d.deleted_at.is_some_and(|at| at.with_timezone(&Utc) >= since)
            })
            .cloned()
            .collect();
        Ok(ChangeFeed { changed, deleted, server_time: Some(to_pacific(self.clock.now())) })
    }
}

#[derive(Default)]
struct OrdoroState {
    orders: BTreeMap<String, Order>,
    next_line_id: i64,
    calls: HashMap<&'static str, u64>,
    lose_create_responses: u32,
    drop_creates: u32,
    reject_creates: u32,
    down: bool,
    hang_after_create: bool,
    create_delay: Option<std::time::Duration>,
    vary_delay: bool,
}

/// An Ordoro account in memory. Order numbers are `3-{order_id}` (the channel index prefix).
pub struct FakeOrdoro {
    clock: Arc<dyn Clock>,
    state: Mutex<OrdoroState>,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

impl std::fmt::Debug for FakeOrdoro {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeOrdoro").finish()
    }
}

fn ordoro_error(kind: ErrorKind, status: u16, message: &str) -> Error {
    Error::new(kind, message)
        .with_service(Service::Ordoro)
        .with_status(status)
        .with_request_id("req-1")
}

const WRITES: [&str; 8] = [
    "create_order",
    "update_shipping_address",
    "update_billing_address",
    "update_financial",
    "add_line",
    "update_line",
    "delete_line",
    "cancel_order",
];

impl FakeOrdoro {
    pub fn new(clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(FakeOrdoro {
            clock,
            state: Mutex::new(OrdoroState { next_line_id: 1000, ..Default::default() }),
            in_flight: AtomicUsize::new(0),
            peak_in_flight: AtomicUsize::new(0),
        })
    }

    fn st(&self) -> std::sync::MutexGuard<'_, OrdoroState> {
        self.state.lock().unwrap()
    }

    fn count(&self, call: &'static str) -> Result<()> {
        let mut st = self.st();
        *st.calls.entry(call).or_default() += 1;
        if st.down {
            return Err(ordoro_error(ErrorKind::Service, 503, "Service Unavailable"));
        }
        Ok(())
    }

    /// The next `n` creates are processed but their responses are lost.
    pub fn lose_create_responses(&self, n: u32) {
        self.st().lose_create_responses = n;
    }

    /// The next `n` creates time out before Ordoro processes them.
    pub fn drop_creates(&self, n: u32) {
        self.st().drop_creates = n;
    }

    /// The next `n` creates are rejected as invalid.
    pub fn reject_creates(&self, n: u32) {
        self.st().reject_creates = n;
    }

    pub fn set_down(&self, down: bool) {
        self.st().down = down;
    }

    /// Every create is processed, then never answers.
    pub fn hang_after_create(&self, hang: bool) {
        self.st().hang_after_create = hang;
    }

    /// Each create takes this long on the clock (to overlap creates in virtual time).
    pub fn create_delay(&self, delay: std::time::Duration) {
        self.st().create_delay = Some(delay);
    }

    /// Creates take one to three times the delay, by order id, so they finish out of order.
    pub fn vary_create_delay(&self, vary: bool) {
        self.st().vary_delay = vary;
    }

    pub fn orders(&self) -> Vec<Order> {
        self.st().orders.values().cloned().collect()
    }

    pub fn order(&self, order_number: &str) -> Option<Order> {
        self.st().orders.get(order_number).cloned()
    }

    pub fn set_status(&self, order_number: &str, status: &str) {
        if let Some(o) = self.st().orders.get_mut(order_number) {
            o.status = status.into();
        }
    }

    pub fn calls(&self, call: &str) -> u64 {
        self.st().calls.get(call).copied().unwrap_or(0)
    }

    pub fn total_calls(&self) -> u64 {
        self.st().calls.values().sum()
    }

    pub fn writes(&self) -> u64 {
        WRITES.iter().map(|c| self.calls(c)).sum()
    }

    pub fn peak_in_flight(&self) -> usize {
        self.peak_in_flight.load(Ordering::SeqCst)
    }

    fn with_order<T>(&self, n: &str, f: impl FnOnce(&mut Order, &mut i64) -> T) -> Result<T> {
        let mut st = self.st();
        let st = &mut *st;
        match st.orders.get_mut(n) {
            Some(o) => Ok(f(o, &mut st.next_line_id)),
            None => Err(ordoro_error(ErrorKind::NotFound, 404, "order not found")),
        }
    }
}

fn order_from(new: &NewOrder, next_line_id: &mut i64) -> Order {
    Order {
        id: Some(1),
        order_number: format!("3-{}", new.order_id),
        status: "awaiting_fulfillment".into(),
        cart_order_id: new.cart_order_id.clone(),
        sales_channel: None,
        shipping_address: Some(new.shipping_address.clone()),
        billing_address: Some(new.billing_address.clone()),
        lines: new
            .lines
            .iter()
            .map(|l| {
                *next_line_id += 1;
                OrderLine {
                    id: Some(*next_line_id),
                    sku: Some(l.product.sku.clone()),
                    product_name: l.product_name.clone(),
                    quantity: Some(l.quantity),
                    item_price: l.item_price,
                    total_price: l.total_price,
                    cart_orderitem_id: l.cart_orderitem_id.clone(),
                }
            })
            .collect(),
        financial: Some(OrderFinancial {
            product_amount: new.product_amount,
            shipping_amount: new.shipping_amount,
            tax_amount: new.tax_amount,
            discount_amount: new.discount_amount,
            grand_total: new.grand_total,
        }),
        requested_shipping_method: new.shipping_type.clone(),
        notes_from_customer: new.notes_from_customer.clone(),
        internal_notes: new.internal_notes.clone(),
    }
}

struct InFlight<'a>(&'a FakeOrdoro);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl OrdoroApi for FakeOrdoro {
    async fn create_order(&self, order: &NewOrder) -> Result<Order> {
        self.count("create_order")?;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        let _guard = InFlight(self);
        let (delay, vary) = {
            let st = self.st();
            (st.create_delay, st.vary_delay)
        };
        if let Some(d) = delay {
            let factor =
                if vary { 1 + order.order_id.bytes().map(u32::from).sum::<u32>() % 3 } else { 1 };
            let d = d * factor;
            self.clock.sleep(d).await;
        }
        let (created, lose, hang) = {
            let mut st = self.st();
            if st.drop_creates > 0 {
                st.drop_creates -= 1;
                return Err(ordoro_error(ErrorKind::OutcomeUnknown, 0, "timed out"));
            }
            if st.reject_creates > 0 {
                st.reject_creates -= 1;
                return Err(ordoro_error(ErrorKind::BadInput, 400, "lines[0].sku is required")
                    .with_code("lines"));
            }
            let number = format!("3-{}", order.order_id);
            if st.orders.contains_key(&number) {
                return Err(ordoro_error(ErrorKind::BadInput, 400, "Order ID already exists")
                    .with_code("order_id"));
            }
            let created = order_from(order, &mut st.next_line_id);
            st.orders.insert(number, created.clone());
            let lose = st.lose_create_responses > 0;
            if lose {
                st.lose_create_responses -= 1;
            }
            (created, lose, st.hang_after_create)
        };
        if hang {
            std::future::pending::<()>().await;
        }
        if lose {
            return Err(ordoro_error(ErrorKind::OutcomeUnknown, 0, "response lost"));
        }
        Ok(created)
    }

    async fn get_order(&self, n: &str) -> Result<Option<Order>> {
        self.count("get_order")?;
        Ok(self.st().orders.get(n).cloned())
    }

    async fn find_orders(&self, q: &OrderQuery) -> Result<OrderList> {
        self.count("find_orders")?;
        let order: Vec<Order> = self
            .st()
            .orders
            .values()
            .filter(|o| q.cart_order_id.is_none() || o.cart_order_id == q.cart_order_id)
            .cloned()
            .collect();
        Ok(OrderList { count: order.len() as u64, limit: 10, offset: 0, order })
    }

    async fn update_shipping_address(&self, n: &str, u: &AddressUpdate) -> Result<()> {
        self.count("update_shipping_address")?;
        self.with_order(n, |o, _| u.apply_to(o.shipping_address.get_or_insert_default()))
    }

    async fn update_billing_address(&self, n: &str, u: &AddressUpdate) -> Result<()> {
        self.count("update_billing_address")?;
        self.with_order(n, |o, _| u.apply_to(o.billing_address.get_or_insert_default()))
    }

    async fn update_financial(&self, n: &str, f: &OrderFinancial) -> Result<()> {
        self.count("update_financial")?;
        // Ordoro keeps the amounts a body leaves out.
        self.with_order(n, |o, _| {
            let kept = o.financial.get_or_insert_default();
            let merge = |new: Option<rust_decimal::Decimal>,
                         old: &mut Option<rust_decimal::Decimal>| {
                if new.is_some() {
                    *old = new;
                }
            };
            merge(f.product_amount, &mut kept.product_amount);
            merge(f.shipping_amount, &mut kept.shipping_amount);
            merge(f.tax_amount, &mut kept.tax_amount);
            merge(f.discount_amount, &mut kept.discount_amount);
            merge(f.grand_total, &mut kept.grand_total);
        })
    }

    async fn add_line(&self, n: &str, l: &PostOrderLine) -> Result<()> {
        self.count("add_line")?;
        self.with_order(n, |o, next| {
            *next += 1;
            o.lines.push(OrderLine {
                id: Some(*next),
                sku: Some(l.sku.clone()),
                product_name: l.product_name.clone(),
                quantity: Some(l.quantity),
                item_price: l.item_price,
                total_price: l.total_price,
                cart_orderitem_id: l.cart_orderitem_id.clone(),
            })
        })
    }

    async fn update_line(&self, n: &str, line_id: i64, l: &PutOrderLine) -> Result<()> {
        self.count("update_line")?;
        self.with_order(n, |o, _| {
            if let Some(line) = o.lines.iter_mut().find(|x| x.id == Some(line_id)) {
                line.quantity = l.quantity.or(line.quantity);
                line.item_price = l.item_price.or(line.item_price);
                line.total_price = l.total_price.or(line.total_price);
            }
        })
    }

    async fn delete_line(&self, n: &str, line_id: i64) -> Result<()> {
        self.count("delete_line")?;
        self.with_order(n, |o, _| o.lines.retain(|x| x.id != Some(line_id)))
    }

    async fn cancel_order(&self, n: &str) -> Result<Order> {
        self.count("cancel_order")?;
        self.with_order(n, |o, _| {
            o.status = "cancelled".into();
            o.clone()
        })
    }

    /// Every channel has index 3, the prefix the fake numbers its orders with.
    async fn get_sales_channel(&self, cart_id: i64) -> Result<Option<SalesChannel>> {
        self.count("get_sales_channel")?;
        Ok(Some(SalesChannel { id: cart_id, index: Some(3), ..SalesChannel::default() }))
    }
}

/// Keeps tokens in memory and remembers every refresh token ever saved, in order.
#[derive(Debug, Default)]
pub struct MemTokens {
    pub tokens: Mutex<HashMap<String, StoredToken>>,
    pub saved_refresh_tokens: Mutex<Vec<String>>,
    pub events: Option<Arc<Mutex<Vec<String>>>>,
}

impl MemTokens {
    pub fn with(realm: &str, token: StoredToken) -> Arc<Self> {
        let store = MemTokens::default();
        store.tokens.lock().unwrap().insert(realm.to_string(), token);
        Arc::new(store)
    }

    pub fn current(&self, realm: &str) -> Option<StoredToken> {
        self.tokens.lock().unwrap().get(realm).cloned()
    }
}

#[async_trait::async_trait]
impl TokenStore for MemTokens {
    async fn load_token(&self, realm: &str) -> Result<Option<StoredToken>> {
        Ok(self.tokens.lock().unwrap().get(realm).cloned())
    }

    async fn save_token(&self, realm: &str, token: &StoredToken) -> Result<()> {
        self.saved_refresh_tokens
            .lock()
            .unwrap()
            .push(token.refresh_token.expose_secret().to_string());
        if let (Some(events), Some(access)) = (&self.events, &token.access_token) {
            events.lock().unwrap().push(format!("saved {}", access.expose_secret()));
        }
        self.tokens.lock().unwrap().insert(realm.to_string(), token.clone());
        Ok(())
    }

    async fn forget_token(&self, realm: &str) -> Result<bool> {
        Ok(self.tokens.lock().unwrap().remove(realm).is_some())
    }
}
