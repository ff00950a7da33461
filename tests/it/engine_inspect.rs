//! `SyncEngine::inspect`, the page of one transaction, through the real clients against the
//! simulators in virtual time: what QBO holds now, what a run would decide and send, the ship-to
//! as parsed, the ledger and the log history, and that looking writes nothing.

use chrono::{DateTime, TimeZone, Utc};
use qbo_ordoro::engine::{RunOptions, SyncConfig, TxnRef};
use qbo_ordoro::mapping::{Decision, MappingConfig};
use qbo_ordoro::model::qbo::EntityKind::{Invoice, SalesReceipt};
use qbo_ordoro::model::qbo::{PhysicalAddress, QboCustomer, Ref, Transaction};
use qbo_ordoro::sim::qbo::simple_sale;
use qbo_ordoro::store::{Action, LedgerState};
use qbo_ordoro::{Clock, Reason, Store};
use rust_decimal::Decimal;

use crate::support::sim::CART;
use crate::support::sim::services::{REALM, Services};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 3, 12, 0, 0).unwrap()
}

fn config() -> SyncConfig {
    SyncConfig { mapping: MappingConfig::default().with_cart(Some(CART)), ..SyncConfig::default() }
}

fn by_id(id: &str) -> TxnRef {
    TxnRef::Id { entity: Some(Invoice), id: id.into() }
}

/// Seeds `txn` ten minutes ago; returns its QBO id.
fn seed(w: &Services, txn: Transaction) -> String {
    w.seed_at(txn, w.clock.now() - chrono::Duration::minutes(10))
}

fn sale(doc: &str) -> Transaction {
    simple_sale(Invoice, doc, Some(("1", "Ordoro")), Decimal::from(25))
}

/// A sale whose typed ship-to has no city line (and no bill-to to fall back on).
fn sale_without_city_line(doc: &str) -> Transaction {
    let mut txn = sale(doc);
    txn.doc.ship_addr = Some(PhysicalAddress::from_lines(&["Kate Whelan", "45 First St."]));
    txn.doc.bill_addr = None;
    txn
}

/// Nothing was written anywhere: no log, ledger, cursor, cached country, run or Ordoro call.
async fn assert_nothing_written(w: &Services) {
    assert!(w.store.log_entries().is_empty(), "{:?}", w.store.log_entries());
    assert!(w.store.ledger_entries().is_empty());
    assert!(w.store.cursors().is_empty(), "{:?}", w.store.cursors());
    assert_eq!(w.store.company_country(REALM).await.unwrap(), None, "the country is not cached");
    assert_eq!(w.ordoro.stats().requests, 0, "no Ordoro call");
    assert!(w.ordoro.orders().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_sale_that_maps_shows_its_document_decision_order_and_ship_to_and_nothing_is_written() {
    let w = Services::start(start()).await;
    let id = seed(&w, sale("1001"));
    let engine = w.engine(config());

    let seen = engine.inspect(&by_id(&id)).await.unwrap();
    let key = seen.key.clone().expect("the transaction");
    assert_eq!(
        (key.realm.as_str(), key.entity, key.qbo_id.as_str()),
        (REALM, Invoice, id.as_str())
    );
    let document = seen.document.as_ref().expect("QBO has it");
    assert!(document.verbatim, "the QBO client gives the JSON as QBO sent it");
    assert_eq!(document.json["DocNumber"], "1001");
    assert_eq!(document.json["Id"], id.as_str());
    assert_eq!(document.json["CustomerRef"]["name"], "Kate Whelan");
    assert_eq!(document.transaction.kind, Invoice);
    assert_eq!(document.transaction.doc.doc_number.as_deref(), Some("1001"));

    let Some(Decision::Create(mapped)) = &seen.decision else {
        panic!("a run would create the order: {:?}", seen.decision)
    };
    let order = seen.order.as_ref().expect("the body it maps to");
    assert_eq!(order, &mapped.order);
    assert_eq!(order.order_id, format!("QBO-INV-{id}"));
    assert_eq!(order.lines.len(), 1);
    let ship_to = seen.ship_to.clone().expect("parsed").expect("a good address");
    assert_eq!(
        (ship_to.name.as_deref(), ship_to.street1.as_deref(), ship_to.city.as_deref()),
        (Some("Kate Whelan"), Some("45 First St."), Some("Menlo Park"))
    );
    assert_eq!((ship_to.state.as_deref(), ship_to.zip.as_deref()), (Some("CA"), Some("94304")));
    assert_eq!(ship_to, order.shipping_address);
    assert_eq!(seen.company_country, "US");
    assert_eq!((seen.ledger.clone(), seen.history.len()), (None, 0));
    assert!(seen.also_matching.is_empty());
    assert_nothing_written(&w).await;

    // The run that follows does what the inspection said.
    let report = engine.run_one(&by_id(&id), &RunOptions::default()).await.unwrap();
    assert_eq!(report.summary.created, 1);
    assert_eq!(w.ordoro.count_by_order_id(&order.order_id), 1);
}

#[tokio::test(start_paused = true)]
async fn a_sale_that_fails_on_its_address_shows_the_error_code_and_message() {
    let w = Services::start(start()).await;
    let id = seed(&w, sale_without_city_line("1002"));
    let seen = w.engine(config()).inspect(&by_id(&id)).await.unwrap();

    let Some(Decision::Error { code: Reason::Address(code), message }) = &seen.decision else {
        panic!("an address error: {:?}", seen.decision)
    };
    let error = seen.ship_to.clone().expect("parsed").expect_err("no address to ship to");
    assert_eq!(error.code, *code, "the page's address error is the decision's");
    assert_eq!(&error.message, message);
    assert!(error.message.starts_with("ship-to: "), "{}", error.message);
    assert_eq!(error.raw_lines, ["Kate Whelan", "45 First St."]);
    assert_eq!(seen.order, None);
    assert!(seen.document.is_some());
    assert_nothing_written(&w).await;
}

/// With the customer ship-to fallback on, the page shows what a run would do: the order to the
/// customer's `ShipAddr`.
#[tokio::test(start_paused = true)]
async fn the_ship_to_fallback_applies_as_in_a_run() {
    let w = Services::start(start()).await;
    let kate = w.qbo.add_customer(
        REALM,
        QboCustomer {
            display_name: Some("Kate Whelan".into()),
            ship_addr: Some(PhysicalAddress {
                line1: Some("45 First St.".into()),
                city: Some("Menlo Park".into()),
                country_sub_division_code: Some("CA".into()),
                postal_code: Some("94304".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    let mut txn = sale_without_city_line("1003");
    txn.doc.customer_ref = Some(Ref { value: kate.id.clone(), name: kate.display_name.clone() });
    let id = seed(&w, txn);

    let off = w.engine(config()).inspect(&by_id(&id)).await.unwrap();
    assert!(matches!(off.decision, Some(Decision::Error { .. })), "{:?}", off.decision);
    let on = SyncConfig { customer_ship_to_fallback: true, ..config() };
    let seen = w.engine(on).inspect(&by_id(&id)).await.unwrap();
    let Some(Decision::Create(mapped)) = &seen.decision else {
        panic!("the fallback makes an order: {:?}", seen.decision)
    };
    assert!(mapped.warnings.iter().any(|w| w.contains("customer record")), "{:?}", mapped.warnings);
    let ship_to = seen.ship_to.clone().unwrap().unwrap();
    assert_eq!(
        (ship_to.city.as_deref(), ship_to.state.as_deref()),
        (Some("Menlo Park"), Some("CA"))
    );
    assert_eq!(w.qbo.stats().customer_reads, 1);
    assert_nothing_written(&w).await;
}

#[tokio::test(start_paused = true)]
async fn a_transaction_qbo_does_not_have_shows_no_document() {
    let w = Services::start(start()).await;
    seed(&w, sale("1004"));
    let engine = w.engine(config());

    let seen = engine.inspect(&by_id("999")).await.unwrap();
    let key = seen.key.clone().expect("the id and entity name it");
    assert_eq!((key.entity, key.qbo_id.as_str()), (Invoice, "999"));
    assert_eq!((&seen.document, &seen.decision, &seen.order), (&None, &None, &None));
    assert!(seen.ship_to.is_none());
    assert_eq!((seen.ledger.clone(), seen.history.len()), (None, 0));

    let by_doc = TxnRef::DocNumber { entity: None, doc_number: "no-such-doc".into() };
    let seen = engine.inspect(&by_doc).await.unwrap();
    assert_eq!((seen.key.clone(), seen.document.clone()), (None, None), "nothing knows it");
    let either = TxnRef::Id { entity: None, id: "999".into() };
    assert_eq!(engine.inspect(&either).await.unwrap().key, None, "neither entity is known");
    assert_nothing_written(&w).await;
}

/// A sale synced twice shows its ledger entry and its history newest first, by id or by
/// DocNumber; once deleted in QBO, the ledger and the history remain.
#[tokio::test(start_paused = true)]
async fn a_sale_already_created_shows_its_ledger_and_history() {
    let w = Services::start(start()).await;
    let id = seed(&w, sale("1005"));
    let receipt = w.seed_at(
        simple_sale(SalesReceipt, "1005", Some(("1", "Ordoro")), Decimal::from(9)),
        w.clock.now() - chrono::Duration::minutes(5),
    );
    let engine = w.engine(config());
    let first = engine.run_one(&by_id(&id), &RunOptions::default()).await.unwrap();
    assert_eq!(first.summary.created, 1);
    tokio::time::advance(std::time::Duration::from_secs(60)).await;
    let second = engine.run_one(&by_id(&id), &RunOptions::default()).await.unwrap();
    assert_eq!(second.summary.skipped, 1);

    let seen = engine.inspect(&by_id(&id)).await.unwrap();
    let ledger = seen.ledger.clone().expect("the ledger entry");
    assert_eq!(ledger.state, LedgerState::Created);
    assert_eq!(ledger.order_number.as_deref(), Some(format!("1-QBO-INV-{id}").as_str()));
    let actions: Vec<(Action, Option<Reason>)> =
        seen.history.iter().map(|e| (e.action, e.reason)).collect();
    assert_eq!(actions, [(Action::Skipped, Some(Reason::Unchanged)), (Action::Created, None)]);
    assert!(seen.history[0].at > seen.history[1].at, "newest first");
    assert!(seen.history.iter().all(|e| e.customer.as_deref() == Some("Kate Whelan")));
    assert!(!seen.history_truncated);
    assert_eq!(seen.order.as_ref().map(|o| o.order_id.clone()), Some(format!("QBO-INV-{id}")));

    // By DocNumber: the invoice first, the sales receipt of the same number listed.
    let by_doc = TxnRef::DocNumber { entity: None, doc_number: "1005".into() };
    let seen_by_doc = engine.inspect(&by_doc).await.unwrap();
    assert_eq!(seen_by_doc.key, seen.key);
    assert_eq!(seen_by_doc.ledger, seen.ledger);
    let others: Vec<_> =
        seen_by_doc.also_matching.iter().map(|k| (k.entity, k.qbo_id.clone())).collect();
    assert_eq!(others, [(SalesReceipt, receipt)]);

    // Deleted in QBO: no document, what the sync knows stays.
    assert!(w.qbo.delete(REALM, Invoice, &id));
    let log_before = w.store.log_entries().len();
    let gone = engine.inspect(&by_id(&id)).await.unwrap();
    assert_eq!((gone.document.clone(), gone.decision.clone()), (None, None));
    assert_eq!(gone.ledger, seen.ledger);
    assert_eq!(gone.history, seen.history);
    let either = TxnRef::Id { entity: None, id: id.clone() };
    assert_eq!(engine.inspect(&either).await.unwrap().key, seen.key, "the ledger knows it");
    assert_eq!(w.store.log_entries().len(), log_before, "inspecting logs nothing");
}
