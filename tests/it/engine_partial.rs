//! Partial updates against the simulators (issue 19): with updates on, a changed sale sends
//! Ordoro only the fields the sync owns and that changed. What a warehouse user added to the
//! order (a phone number, a second street line QBO never had) survives; a field the merchant
//! cleared in QBO after it was sent is erased and the log says so; an order with no record of
//! what was sent (an old ledger entry) never gets a `null`.

use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use qbo_ordoro::engine::{RunOptions, RunReport, SyncConfig, SyncEngine};
use qbo_ordoro::mapping::MappingConfig;
use qbo_ordoro::model::ordoro::{AddressField, Order};
use qbo_ordoro::model::qbo::EntityKind::Invoice;
use qbo_ordoro::model::qbo::{LineDetail, PhysicalAddress, SalesTransaction};
use qbo_ordoro::sim::ordoro::OrdoroSim;
use qbo_ordoro::sim::qbo::simple_sale;
use qbo_ordoro::store::{Action, LedgerEntry, LedgerKey, LedgerState, LogEntry, MemoryStore};
use qbo_ordoro::{
    Clock, HttpRequest, HttpResponse, HttpTransport, SharedTransport, Store, TokenStore,
    TransportError,
};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::support::sim::CART;
use crate::support::sim::services::{REALM, Services};
const CLASS_ID: &str = "5000000000000000001";

/// Passes requests to the simulated Ordoro and keeps the body of every address update.
#[derive(Debug)]
struct Recorder {
    inner: Arc<OrdoroSim>,
    address_bodies: Arc<Mutex<Vec<(String, Value)>>>,
}

#[async_trait::async_trait]
impl HttpTransport for Recorder {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let path = request.uri().path().to_owned();
        if path.ends_with("_address") {
            let body = serde_json::from_slice(request.body()).unwrap_or(Value::Null);
            self.address_bodies.lock().unwrap().push((path, body));
        }
        self.inner.send(request).await
    }
}

struct World {
    services: Services,
    address_bodies: Arc<Mutex<Vec<(String, Value)>>>,
}

impl std::ops::Deref for World {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

async fn world() -> World {
    let services = Services::start(Utc.with_ymd_and_hms(2024, 6, 3, 12, 0, 0).unwrap()).await;
    World { services, address_bodies: Arc::default() }
}

fn ship_to(lines: &[&str]) -> Option<PhysicalAddress> {
    Some(PhysicalAddress::from_lines(lines))
}

const WITH_SUITE: [&str; 4] = ["Kate Whelan", "45 First St.", "Suite 5", "Menlo Park, CA  94304"];
const WITHOUT_SUITE: [&str; 3] = ["Kate Whelan", "45 First St.", "Menlo Park, CA  94304"];

/// A line quantity (and so the totals) changed in QBO, as a merchant editing the sale would.
fn quantity(qty: i64) -> impl FnOnce(&mut SalesTransaction) {
    move |d: &mut SalesTransaction| {
        if let LineDetail::SalesItem(s) = &mut d.line[0].detail {
            s.qty = Some(Decimal::from(qty));
        }
        d.line[0].amount = Some(Decimal::from(25 * qty));
        d.total_amt = Some(Decimal::from(25 * qty));
    }
}

impl World {
    fn engine(&self, update_existing: bool) -> SyncEngine {
        let recorder =
            Recorder { inner: self.ordoro.clone(), address_bodies: self.address_bodies.clone() };
        let config = SyncConfig {
            mapping: MappingConfig::default().with_cart(Some(CART)),
            update_existing,
            ..SyncConfig::default()
        };
        self.engine_over(self.qbo_wire(), SharedTransport::new(recorder), config)
    }

    /// A sale shipped to `address`, stamped a few minutes ago; returns its QBO id.
    fn sale(&self, address: &[&str]) -> String {
        let mut txn = simple_sale(Invoice, "3001", Some((CLASS_ID, "Ordoro")), Decimal::from(25));
        txn.doc.ship_addr = ship_to(address);
        self.seed_at(txn, self.clock.now() - chrono::Duration::minutes(5))
    }

    /// Edits the sale in QBO a minute from now, then runs with updates on a minute later.
    async fn edit_and_sync(
        &self,
        id: &str,
        change: impl FnOnce(&mut SalesTransaction),
    ) -> RunReport {
        later(1).await;
        self.qbo.edit(REALM, Invoice, id, change).expect("the sale exists");
        later(1).await;
        self.engine(true).run_incremental(&RunOptions::default()).await.unwrap()
    }

    fn order(&self, id: &str) -> Order {
        self.ordoro.order(&format!("1-QBO-INV-{id}")).expect("the order exists")
    }

    fn nulls_sent(&self) -> Vec<(String, Value)> {
        let bodies = self.address_bodies.lock().unwrap();
        bodies
            .iter()
            .filter(|(_, body)| body.as_object().is_some_and(|m| m.values().any(Value::is_null)))
            .cloned()
            .collect()
    }
}

async fn later(minutes: u64) {
    tokio::time::advance(std::time::Duration::from_secs(minutes * 60)).await;
}

fn only_entry(report: &RunReport) -> &LogEntry {
    assert_eq!(report.entries.len(), 1, "{:?}", report.entries);
    &report.entries[0]
}

#[tokio::test(start_paused = true)]
async fn partial_update_keeps_the_phone_and_street2_a_warehouse_user_added() {
    let w = world().await;
    let id = w.sale(&WITHOUT_SUITE);
    w.engine(true).run_incremental(&RunOptions::default()).await.unwrap();
    let number = format!("1-QBO-INV-{id}");
    assert_eq!(w.order(&id).shipping_address.unwrap().street2, None);
    assert!(w.ordoro.warehouse_edit_address(&number, AddressField::Phone, Some("555-0100")));
    assert!(w.ordoro.warehouse_edit_address(&number, AddressField::Street2, Some("Dock 4")));

    // A change in QBO that touches no address: the addresses are not written at all.
    let r = w.edit_and_sync(&id, quantity(3)).await;
    assert_eq!(only_entry(&r).action, Action::Updated, "{:?}", r.entries);
    let order = w.order(&id);
    assert_eq!(order.lines[0].quantity, Some(3));
    let ship = order.shipping_address.unwrap();
    assert_eq!(ship.phone.as_deref(), Some("555-0100"));
    assert_eq!(ship.street2.as_deref(), Some("Dock 4"));

    // The merchant moves the customer in QBO: the street is sent, the warehouse's fields stay.
    let r = w
        .edit_and_sync(&id, |d| {
            d.ship_addr = ship_to(&["Kate Whelan", "9 Second St.", "Menlo Park, CA  94304"]);
        })
        .await;
    let entry = only_entry(&r);
    assert_eq!(entry.action, Action::Updated, "{entry:?}");
    assert!(entry.detail.as_deref().unwrap().contains("shipping address"), "{entry:?}");
    let ship = w.order(&id).shipping_address.unwrap();
    assert_eq!(ship.street1.as_deref(), Some("9 Second St."));
    assert_eq!(ship.phone.as_deref(), Some("555-0100"));
    assert_eq!(ship.street2.as_deref(), Some("Dock 4"));
    assert_eq!(w.nulls_sent(), Vec::new(), "no null was ever sent");
    // The sale has no bill-to of its own, so the bill-to follows the ship-to: one write each,
    // of the street alone.
    let bodies = w.address_bodies.lock().unwrap().clone();
    let street = serde_json::json!({"street1": "9 Second St."});
    let paths: Vec<&str> =
        bodies.iter().map(|(path, _)| path.rsplit('/').next().unwrap()).collect();
    assert_eq!(paths, ["shipping_address", "billing_address"], "{bodies:?}");
    assert!(bodies.iter().all(|(_, body)| *body == street), "{bodies:?}");
}

#[tokio::test(start_paused = true)]
async fn partial_update_clears_a_field_the_merchant_cleared_in_qbo_after_it_was_sent() {
    let w = world().await;
    let id = w.sale(&WITH_SUITE);
    w.engine(true).run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(w.order(&id).shipping_address.unwrap().street2.as_deref(), Some("Suite 5"));
    let number = format!("1-QBO-INV-{id}");
    assert!(w.ordoro.warehouse_edit_address(&number, AddressField::Phone, Some("555-0100")));
    // An update records what the order holds of the sale's.
    w.edit_and_sync(&id, quantity(2)).await;

    let r = w.edit_and_sync(&id, |d| d.ship_addr = ship_to(&WITHOUT_SUITE)).await;
    let entry = only_entry(&r);
    assert_eq!(entry.action, Action::Updated, "{entry:?}");
    let detail = entry.detail.as_deref().unwrap();
    assert!(detail.contains("shipping address (street2 cleared in QBO)"), "{detail}");
    let ship = w.order(&id).shipping_address.unwrap();
    assert_eq!(ship.street2, None, "cleared in QBO, so cleared in Ordoro");
    assert_eq!(ship.street1.as_deref(), Some("45 First St."));
    assert_eq!(ship.phone.as_deref(), Some("555-0100"), "the warehouse's phone stays");
    assert!(detail.contains("billing address (street2 cleared in QBO)"), "{detail}");
    let nulls = w.nulls_sent();
    assert_eq!(nulls.len(), 2, "the ship-to and the bill-to that follows it: {nulls:?}");
    assert!(nulls.iter().all(|(_, body)| *body == serde_json::json!({"street2": null})));

    // Nothing changes in QBO but its SyncToken: nothing is sent again.
    let writes = w.ordoro.writes_for(&number);
    let r = w.edit_and_sync(&id, |_| {}).await;
    assert_eq!(only_entry(&r).action, Action::Skipped, "{:?}", r.entries);
    assert_eq!(w.ordoro.writes_for(&number), writes);
}

#[tokio::test(start_paused = true)]
async fn partial_update_of_an_old_ledger_entry_without_a_sent_record_never_sends_null() {
    let w = world().await;
    let id = w.sale(&WITH_SUITE);
    w.engine(false).run_incremental(&RunOptions::default()).await.unwrap();
    let key = LedgerKey { realm: REALM.into(), entity: Invoice, qbo_id: id.clone() };
    let entry: LedgerEntry = w.store.ledger_entry(&key).await.unwrap().unwrap();
    assert_eq!(entry.state, LedgerState::Created);
    // The state an earlier version of the sync left: the token, the ledger entry and the
    // cursors, but no record of what it sent.
    let old = Arc::new(MemoryStore::new());
    old.save_token(REALM, &w.store.load_token(REALM).await.unwrap().unwrap()).await.unwrap();
    old.put_ledger_entry(&entry).await.unwrap();
    for (name, at) in w.store.cursors() {
        old.set_cursor(&name, at).await.unwrap();
    }
    let services = Services { store: old, ..w.services };
    let w = World { services, address_bodies: w.address_bodies };
    assert_eq!(w.store.sent_order(&key).await.unwrap(), None, "no record yet");

    // The merchant removes the suite and changes the quantity; updates are on.
    let r = w
        .edit_and_sync(&id, |d| {
            quantity(4)(d);
            d.ship_addr = ship_to(&WITHOUT_SUITE);
        })
        .await;
    assert_eq!(only_entry(&r).action, Action::Updated, "{:?}", r.entries);
    let order = w.order(&id);
    assert_eq!(order.lines[0].quantity, Some(4));
    assert_eq!(
        order.shipping_address.unwrap().street2.as_deref(),
        Some("Suite 5"),
        "without a record, the sync cannot tell its value from the warehouse's, so it stays"
    );
    assert_eq!(w.nulls_sent(), Vec::new());
    // From now on the order has a record: QBO's value (none) is what was sent.
    let sent = w.store.sent_order(&key).await.unwrap().expect("recorded by the update");
    assert_eq!(sent.order_number, format!("1-QBO-INV-{id}"));
    assert_eq!(sent.shipping_address.street2, None);
}
