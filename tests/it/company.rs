//! The company and its customers through the engine, the real QBO client and the simulators, in
//! virtual time: the company's country read from CompanyInfo (cached, refreshed daily, overridden
//! by the host, a failed read not stopping the run), the customer ship-to fallback, and deletes
//! read from a change feed cut at 1,000 objects.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use qbo_ordoro::engine::{RunOptions, RunReport, SyncConfig, SyncEngine};
use qbo_ordoro::mapping::MappingConfig;
use qbo_ordoro::model::qbo::EntityKind::{self, Invoice, SalesReceipt};
use qbo_ordoro::model::qbo::{PhysicalAddress, QboCustomer, Ref, Transaction};
use qbo_ordoro::sim::qbo::{simple_sale, us_company_info};
use qbo_ordoro::sim::sample::australian_company;
use qbo_ordoro::store::{Action, CompanyCountry, LedgerState};
use qbo_ordoro::{
    Clock, HttpRequest, HttpResponse, HttpTransport, Reason, SharedTransport, Store, TransportError,
};
use rust_decimal::Decimal;

use crate::support::sim::CART;
use crate::support::sim::services::{REALM, Services};

/// Passes requests to the simulated QBO, or answers 503 to CompanyInfo reads while set.
#[derive(Debug)]
struct CompanyInfoDown {
    inner: SharedTransport,
    down: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl HttpTransport for CompanyInfoDown {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if self.down.load(Ordering::SeqCst) && request.uri().path().contains("/companyinfo/") {
            let body = Bytes::from_static(b"<html><body>503 Service Unavailable</body></html>");
            return Ok(http::Response::builder().status(503).body(body).unwrap());
        }
        self.inner.send(request).await
    }
}

struct World {
    services: Services,
    company_info_down: Arc<AtomicBool>,
}

impl std::ops::Deref for World {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 12, 0, 0).unwrap()
}

async fn world() -> World {
    World { services: Services::start(start()).await, company_info_down: Arc::default() }
}

fn config() -> SyncConfig {
    SyncConfig { mapping: MappingConfig::default().with_cart(Some(CART)), ..SyncConfig::default() }
}

impl World {
    fn engine(&self, config: SyncConfig) -> SyncEngine {
        let down = self.company_info_down.clone();
        let qbo = SharedTransport::new(CompanyInfoDown { inner: self.qbo_wire(), down });
        self.engine_over(qbo, self.ordoro_wire(), config)
    }

    /// Seeds `txn`, stamped `minutes_ago`; returns its QBO id.
    fn seed(&self, txn: Transaction, minutes_ago: i64) -> String {
        self.seed_at(txn, self.clock.now() - chrono::Duration::minutes(minutes_ago))
    }

    fn order_of(&self, kind: EntityKind, id: &str) -> qbo_ordoro::model::ordoro::Order {
        let tag = if kind == Invoice { "INV" } else { "SR" };
        let order_id = format!("QBO-{tag}-{id}");
        let found = self
            .ordoro
            .orders()
            .into_iter()
            .find(|o| o.cart_order_id.as_deref() == Some(order_id.as_str()));
        found.unwrap_or_else(|| panic!("no order {order_id}"))
    }
}

async fn run(engine: &SyncEngine) -> RunReport {
    let report = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(report.aborted, None);
    report
}

async fn later(minutes: u64) {
    tokio::time::advance(Duration::from_secs(minutes * 60)).await;
}

// ---------------------------------------------------------------------------------------------
// The company's country

/// An Australian company's structured ship-to `Perth / WA / 6004`, with no `Country` (neither on
/// the address nor on the company's own addresses; only CompanyInfo's `Country` says `AU`),
/// becomes an Australian order. Needs the address parser to read a block without a country in
/// the company's country (another part of issue 13).
#[tokio::test(start_paused = true)]
async fn an_australian_companys_perth_ship_to_becomes_an_au_order() {
    let w = world().await;
    let company = australian_company(w.clock.now());
    w.qbo.set_company_info(REALM, company.info.clone());
    for customer in &company.customers {
        w.qbo.add_customer(REALM, customer.clone());
    }
    let ids: Vec<String> = company.sales.iter().map(|s| w.seed(s.txn.clone(), 30)).collect();
    let report = run(&w.engine(config())).await;
    assert_eq!(report.company_country, "AU");
    assert_eq!(
        w.store.company_country(REALM).await.unwrap().unwrap().country.as_deref(),
        Some("AU")
    );
    let first = report.entries.iter().find(|e| e.qbo_id == ids[0]).unwrap();
    assert_eq!(first.action, Action::Created, "{first:#?}");
    let order = w.order_of(Invoice, &ids[0]);
    let to = order.shipping_address.clone().unwrap_or_default();
    assert_eq!(
        (to.city.as_deref(), to.state.as_deref(), to.zip.as_deref(), to.country.as_deref()),
        (Some("Perth"), Some("WA"), Some("6004"), Some("AU")),
        "{to:?}"
    );
    assert_eq!(
        w.order_of(Invoice, &ids[1]).shipping_address.and_then(|a| a.country),
        Some("AU".into())
    );
    // The third sale has no ship-to of its own, and the fallback is off.
    assert_eq!(report.summary.created, 2, "{:#?}", report.entries);
}

/// The host's country wins: CompanyInfo is never read, nothing is cached, and the run reads
/// addresses in that country.
#[tokio::test(start_paused = true)]
async fn a_configured_country_wins_without_a_request() {
    let w = world().await;
    let mapping = MappingConfig::default().with_cart(Some(CART)).with_company_country(Some("au"));
    let au = SyncConfig { mapping, ..SyncConfig::default() };
    let report = run(&w.engine(au)).await;
    assert_eq!(report.company_country, "AU");
    assert_eq!(w.qbo.stats().company_reads, 0);
    assert_eq!(w.store.company_country(REALM).await.unwrap(), None);
    let report = run(&w.engine(config())).await;
    assert_eq!(report.company_country, "US", "without the override, CompanyInfo's");
    assert_eq!(w.qbo.stats().company_reads, 1);
}

/// The country is read once and kept for a day by the engine's clock: a change in QBO shows in
/// the first run a day after the read, not before.
#[tokio::test(start_paused = true)]
async fn the_country_is_read_again_a_day_later() {
    let w = world().await;
    let engine = w.engine(config());
    assert_eq!(run(&engine).await.company_country, "US");
    let read_at = w.store.company_country(REALM).await.unwrap().unwrap().read_at;
    assert_eq!(read_at, start());
    // The company moves (a test company's country is changed in QBO).
    let mut info = us_company_info();
    info.country = Some("Australia".into());
    w.qbo.set_company_info(REALM, info);
    later(60).await;
    assert_eq!(run(&engine).await.company_country, "US", "an hour later: the cached one");
    later(22 * 60).await;
    assert_eq!(run(&engine).await.company_country, "US", "23 hours later: still cached");
    assert_eq!(w.qbo.stats().company_reads, 1);
    later(60).await;
    assert_eq!(run(&engine).await.company_country, "AU", "a day later: read again");
    assert_eq!(w.qbo.stats().company_reads, 2);
    let cached = w.store.company_country(REALM).await.unwrap().unwrap();
    assert_eq!(cached, CompanyCountry { country: Some("AU".into()), read_at: w.clock.now() });
    // A dry run reads what it must but saves nothing.
    later(25 * 60).await;
    let dry = engine.run_incremental(&RunOptions::dry_run()).await.unwrap();
    assert_eq!(dry.company_country, "AU");
    assert_eq!(w.qbo.stats().company_reads, 3);
    assert_eq!(w.store.company_country(REALM).await.unwrap().unwrap(), cached);
}

/// A CompanyInfo read that fails does not stop the run: the last country read is used, even a
/// stale one, else the U.S.; the next run tries again.
#[tokio::test(start_paused = true)]
async fn a_failed_country_read_uses_the_cached_country_else_the_us() {
    let w = world().await;
    w.company_info_down.store(true, Ordering::SeqCst);
    let engine = w.engine(config());
    w.seed(simple_sale(Invoice, "1001", Some(("1", "Ordoro")), Decimal::from(25)), 10);
    let report = run(&engine).await;
    assert_eq!(report.company_country, "US");
    assert_eq!(report.summary.created, 1, "the run goes on");
    assert_eq!(w.store.company_country(REALM).await.unwrap(), None, "nothing read, nothing kept");

    let stale =
        CompanyCountry { country: Some("AU".into()), read_at: start() - chrono::Duration::days(3) };
    w.store.save_company_country(REALM, &stale).await.unwrap();
    later(15).await;
    assert_eq!(run(&engine).await.company_country, "AU", "the stale country rather than a guess");
    assert_eq!(w.store.company_country(REALM).await.unwrap(), Some(stale));

    w.company_info_down.store(false, Ordering::SeqCst);
    later(15).await;
    assert_eq!(run(&engine).await.company_country, "US", "read again once QBO answers");
    assert_eq!(w.store.company_country(REALM).await.unwrap().unwrap().read_at, w.clock.now());
}

// ---------------------------------------------------------------------------------------------
// The customer ship-to fallback

fn customer_with_ship_to(name: &str) -> QboCustomer {
    QboCustomer {
        display_name: Some(name.into()),
        ship_addr: Some(PhysicalAddress {
            line1: Some("45 First St.".into()),
            city: Some("Menlo Park".into()),
            country_sub_division_code: Some("CA".into()),
            postal_code: Some("94304".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A sale of `customer` whose typed ship-to has no city line.
fn sale_without_city_line(doc: &str, customer: &QboCustomer) -> Transaction {
    let mut txn = simple_sale(Invoice, doc, Some(("1", "Ordoro")), Decimal::from(25));
    txn.doc.customer_ref =
        Some(Ref { value: customer.id.clone(), name: customer.display_name.clone() });
    txn.doc.ship_addr = Some(PhysicalAddress::from_lines(&["Kate Whelan", "45 First St."]));
    txn.doc.bill_addr = None;
    txn
}

#[tokio::test(start_paused = true)]
async fn the_customer_ship_to_fallback_is_off_by_default() {
    let w = world().await;
    let kate = w.qbo.add_customer(REALM, customer_with_ship_to("Kate Whelan"));
    let id = w.seed(sale_without_city_line("1001", &kate), 10);
    let report = run(&w.engine(config())).await;
    let entry = report.entries.iter().find(|e| e.qbo_id == id).unwrap();
    assert_eq!(entry.action, Action::Failed);
    assert!(matches!(entry.reason, Some(Reason::Address(_))), "{entry:?}");
    assert_eq!(w.qbo.stats().customer_reads, 0, "no customer read");
    assert!(w.ordoro.orders().is_empty());
}

/// With the fallback on, a sale whose ship-to is incomplete ships to its customer's `ShipAddr`,
/// with a warning on the order and in the log; the customer is read once for all its sales in a
/// run; a customer without a usable `ShipAddr` leaves the address error as it was.
#[tokio::test(start_paused = true)]
async fn the_customer_ship_to_fallback_creates_the_order_from_the_customer_record() {
    let w = world().await;
    let kate = w.qbo.add_customer(REALM, customer_with_ship_to("Kate Whelan"));
    let nobody = w.qbo.add_customer(
        REALM,
        QboCustomer { display_name: Some("No Address".into()), ..Default::default() },
    );
    let a = w.seed(sale_without_city_line("1001", &kate), 10);
    let b = w.seed(sale_without_city_line("1002", &kate), 9);
    let c = w.seed(sale_without_city_line("1003", &nobody), 8);
    let mut gone = sale_without_city_line("1004", &kate);
    gone.doc.customer_ref = Some(Ref { value: "999".into(), name: None });
    let d = w.seed(gone, 7);
    let engine = w.engine(SyncConfig { customer_ship_to_fallback: true, ..config() });
    let report = run(&engine).await;
    assert_eq!(report.summary.created, 2, "{:#?}", report.entries);
    for id in [&a, &b] {
        let order = w.order_of(Invoice, id);
        let to = order.shipping_address.clone().unwrap_or_default();
        assert_eq!(
            (to.city.as_deref(), to.state.as_deref(), to.zip.as_deref()),
            (Some("Menlo Park"), Some("CA"), Some("94304"))
        );
        let notes = order.internal_notes.as_deref().unwrap_or_default();
        assert!(notes.contains("ship-to taken from the customer record"), "{notes}");
        let entry = report.entries.iter().find(|e| &e.qbo_id == id).unwrap();
        let detail = entry.detail.as_deref().unwrap_or_default();
        assert!(detail.contains("ship-to taken from the customer record"), "{detail}");
        assert!(detail.contains("missing_city_line") || detail.contains("city"), "{detail}");
    }
    for id in [&c, &d] {
        let entry = report.entries.iter().find(|e| &e.qbo_id == id).unwrap();
        assert_eq!(entry.action, Action::Failed, "{entry:?}");
        assert!(matches!(entry.reason, Some(Reason::Address(_))), "{entry:?}");
    }
    assert_eq!(w.qbo.stats().customer_reads, 3, "one read per customer, the missing one too");
    // The preview never falls back: the same sale decided alone is the address error.
    let doc = w.qbo.get(REALM, Invoice, &a).unwrap();
    let decision =
        qbo_ordoro::mapping::decide(&Transaction { kind: Invoice, doc }, &config().mapping);
    assert!(matches!(decision, qbo_ordoro::mapping::Decision::Error { .. }));
}

// ---------------------------------------------------------------------------------------------
// Deletes from a change feed cut at 1,000 objects

/// Seeds `n` sales of another class (they change, but make no order), stamped `minutes_ago`.
fn noise(w: &World, kind: EntityKind, n: usize, minutes_ago: i64) {
    for i in 0..n {
        let sale = simple_sale(kind, &format!("N{i}"), Some(("2", "Retail")), Decimal::ONE);
        w.seed(sale, minutes_ago);
    }
}

/// `n` sales of `kind` marked for Ordoro; returns their ids.
fn marked(w: &World, kind: EntityKind, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let sale = simple_sale(kind, &format!("S{i}"), Some(("1", "Ordoro")), Decimal::ONE);
            w.seed(sale, 20)
        })
        .collect()
}

/// Orders for `n` sales of `kind`, synced; returns their ids.
async fn synced(w: &World, engine: &SyncEngine, kind: EntityKind, n: usize) -> Vec<String> {
    let ids = marked(w, kind, n);
    run(engine).await;
    ids
}

fn cancelled(w: &World) -> usize {
    w.store.ledger_entries().iter().filter(|e| e.state == LedgerState::Cancelled).count()
}

/// More than 1,000 changes across the two entities cut the feed's answer, the receipts' deletes
/// with it; read again entity by entity, every delete is seen and every order cancelled.
#[tokio::test(start_paused = true)]
async fn a_cut_change_feed_is_read_entity_by_entity_without_losing_a_delete() {
    let w = world().await;
    let engine = w.engine(SyncConfig { cancel_on_void: true, ..config() });
    let invoices = marked(&w, Invoice, 3);
    let receipts = marked(&w, SalesReceipt, 3);
    assert_eq!(run(&engine).await.summary.created, 6);
    later(10).await;
    noise(&w, Invoice, 700, 1);
    noise(&w, SalesReceipt, 600, 1);
    for id in &invoices {
        w.qbo.delete(REALM, Invoice, id);
    }
    for id in &receipts {
        w.qbo.delete(REALM, SalesReceipt, id);
    }
    later(5).await;
    let before = w.qbo.stats().cdc;
    let report = run(&engine).await;
    assert_eq!(w.qbo.stats().cdc - before, 3, "all, then each entity");
    assert_eq!(report.summary.updated, 6, "every delete handled once: {}", report.summary);
    assert_eq!(cancelled(&w), 6);
    let cursor = w.store.cursors()[&format!("{REALM}/Deleted")];
    assert_eq!(cursor, report.started_at, "every delete read: the cursor moves");
}

/// One entity whose changed objects and deletes together pass 1,000: the cut answer has every
/// change and the first deletes; read on from the last delete it shows, the rest come.
#[tokio::test(start_paused = true)]
async fn deletes_cut_from_one_entitys_answer_are_read_on_from_the_last_one() {
    let w = world().await;
    let engine = w.engine(SyncConfig { cancel_on_void: true, ..config() });
    let invoices = synced(&w, &engine, Invoice, 30).await;
    later(10).await;
    noise(&w, Invoice, 985, 1);
    for id in &invoices {
        w.qbo.delete(REALM, Invoice, id);
        later(1).await;
    }
    let report = run(&engine).await;
    assert_eq!(report.summary.updated, 30, "every delete handled once: {}", report.summary);
    assert_eq!(cancelled(&w), 30);
    assert!(w.store.cursors().contains_key(&format!("{REALM}/Deleted")));
}

/// An entity with over 1,000 changes since the cursor hides its deletes behind them (the feed
/// has no upper bound to narrow by): the deletes cursor stays put rather than pass them.
#[tokio::test(start_paused = true)]
async fn deletes_hidden_behind_1000_changes_keep_the_cursor() {
    let w = world().await;
    let engine = w.engine(SyncConfig { cancel_on_void: true, ..config() });
    let invoices = synced(&w, &engine, Invoice, 2).await;
    let cursor_name = format!("{REALM}/Deleted");
    let first = w.store.cursors()[&cursor_name];
    later(10).await;
    for id in &invoices {
        w.qbo.delete(REALM, Invoice, id);
    }
    noise(&w, Invoice, 1001, 0);
    later(5).await;
    run(&engine).await;
    assert_eq!(
        w.store.cursors()[&cursor_name],
        first,
        "the cursor waits before the hidden deletes"
    );
    assert_eq!(cancelled(&w), 0);
}
