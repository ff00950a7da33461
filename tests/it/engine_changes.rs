//! Change-driven runs (issue 14), against the simulators: notified sales are read by id and
//! synced exactly once, a retried delivery costs nothing, a lost notification is made up for by
//! the change-feed catch-up, the catch-up falls back to the last-updated query beyond the feed's
//! 30 days and when its answer is full, and webhook runs and polling runs share one cursor.

use chrono::{DateTime, TimeZone, Utc};
use qbo_ordoro::engine::{RunOptions, RunScope, SyncConfig, SyncEngine};
use qbo_ordoro::mapping::MappingConfig;
use qbo_ordoro::model::qbo::EntityKind::{self, Invoice, SalesReceipt};
use qbo_ordoro::sim::qbo::simple_sale;
use qbo_ordoro::store::Action;
use qbo_ordoro::webhook::{ChangeEvent, Operation};
use qbo_ordoro::{Clock, Store};
use rust_decimal::Decimal;

use crate::support::sim::services::{REALM, Services};
use crate::support::sim::{CART, order_id};

const CLASS_ID: &str = "5000000000000000001";

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 3, 12, 0, 0).unwrap()
}

fn config() -> SyncConfig {
    SyncConfig { mapping: MappingConfig::default().with_cart(Some(CART)), ..SyncConfig::default() }
}

fn event(entity: &str, id: &str, operation: Operation, event_id: Option<&str>) -> ChangeEvent {
    ChangeEvent {
        realm_id: REALM.into(),
        entity: entity.into(),
        qbo_id: id.into(),
        operation,
        event_id: event_id.map(Into::into),
        occurred_at: None,
        deleted_id: None,
    }
}

/// A sale marked `Ordoro`, saved in QBO now; returns its id.
fn sale(s: &Services, kind: EntityKind, doc_number: &str) -> String {
    let txn = simple_sale(kind, doc_number, Some((CLASS_ID, "Ordoro")), Decimal::from(25));
    s.seed_at(txn, s.clock.now())
}

async fn later(secs: u64) {
    tokio::time::advance(std::time::Duration::from_secs(secs)).await;
}

/// QBO API requests so far (the token endpoint aside).
fn api_requests(s: &Services) -> u64 {
    let st = s.qbo.stats();
    st.queries + st.reads + st.cdc + st.company_reads + st.customer_reads
}

/// An engine that has synced once, so that later runs start from a cursor.
async fn warmed(s: &Services) -> SyncEngine {
    let engine = s.engine(config());
    engine.run_catch_up(&RunOptions::default()).await.unwrap();
    later(60).await;
    engine
}

#[tokio::test(start_paused = true)]
async fn a_notified_sale_becomes_one_order_and_a_retried_delivery_costs_nothing() {
    let s = Services::start(start()).await;
    let engine = warmed(&s).await;
    let id = sale(&s, Invoice, "1001");
    later(5).await;
    let events = vec![event("Invoice", &id, Operation::Create, Some("ev-1"))];
    let before = s.qbo.stats();
    let report = engine.run_changes(&events, &RunOptions::default()).await.unwrap().unwrap();
    assert_eq!(report.summary.created, 1, "{:?}", report.entries);
    assert_eq!(report.scope, RunScope::Changes { events: 1 });
    assert_eq!(s.ordoro.orders().len(), 1);
    let after = s.qbo.stats();
    assert_eq!(after.queries - before.queries, 1 + (after.item_reads - before.item_reads));
    assert_eq!(after.cdc - before.cdc, 1, "one catch-up after the batch");

    later(30).await;
    let (requests, ordoro) = (s.qbo.stats().requests, s.ordoro.stats().requests);
    let again = engine.run_changes(&events, &RunOptions::default()).await.unwrap();
    assert!(again.is_none(), "a retried delivery is not a run");
    assert_eq!(s.qbo.stats().requests, requests, "a retried delivery reads nothing from QBO");
    assert_eq!(s.ordoro.stats().requests, ordoro, "nor from Ordoro");

    // The same after a restart: the processed events are in the store.
    let restarted = s.engine(config());
    assert!(restarted.run_changes(&events, &RunOptions::default()).await.unwrap().is_none());
    assert_eq!(s.qbo.stats().requests, requests);
}

#[tokio::test(start_paused = true)]
async fn events_of_other_companies_and_entities_are_ignored_without_a_request() {
    let s = Services::start(start()).await;
    let engine = warmed(&s).await;
    let requests = s.qbo.stats().requests;
    let mut other_realm = event("Invoice", "7", Operation::Create, Some("ev-2"));
    other_realm.realm_id = "123".into();
    let events = vec![
        other_realm,
        event("Customer", "61", Operation::Merge, Some("ev-3")),
        event("Estimate", "8", Operation::Create, None),
    ];
    assert!(engine.run_changes(&events, &RunOptions::default()).await.unwrap().is_none());
    assert!(engine.run_changes(&[], &RunOptions::default()).await.unwrap().is_none());
    assert_eq!(s.qbo.stats().requests, requests);
}

#[tokio::test(start_paused = true)]
async fn a_lost_notification_is_made_up_for_by_the_catch_up_of_the_next_batch() {
    let s = Services::start(start()).await;
    let engine = warmed(&s).await;
    let lost = sale(&s, SalesReceipt, "2001");
    later(120).await;
    let notified = sale(&s, Invoice, "1002");
    later(5).await;
    let events = vec![event("Invoice", &notified, Operation::Create, None)];
    let report = engine.run_changes(&events, &RunOptions::default()).await.unwrap().unwrap();
    assert_eq!(report.summary.created, 2, "{:?}", report.entries);
    assert_eq!(s.ordoro.count_by_order_id(&order_id(SalesReceipt, &lost)), 1);
    assert_eq!(s.ordoro.count_by_order_id(&order_id(Invoice, &notified)), 1);
    // The notified sale, read first, is not handled a second time by the catch-up.
    let notified_entries =
        report.entries.iter().filter(|e| e.qbo_id == notified && e.entity == Invoice).count();
    assert_eq!(notified_entries, 1, "{:?}", report.entries);
}

#[tokio::test(start_paused = true)]
async fn an_idle_catch_up_is_one_request_and_moves_the_cursors_polling_runs_use() {
    let s = Services::start(start()).await;
    let engine = warmed(&s).await;
    sale(&s, Invoice, "1003");
    later(600).await;
    let report = engine.run_catch_up(&RunOptions::default()).await.unwrap();
    assert_eq!(report.summary.created, 1);
    assert_eq!(report.scope, RunScope::CatchUp);
    let cursor = s.store.cursor(&engine.cursor_name(Invoice)).await.unwrap();
    assert_eq!(cursor, Some(report.started_at), "the catch-up moves the incremental cursor");

    later(3600).await;
    let before = api_requests(&s);
    let idle = engine.run_catch_up(&RunOptions::default()).await.unwrap();
    assert_eq!(idle.summary.to_string(), "created=0 updated=0 skipped=0 failed=0");
    assert_eq!(api_requests(&s) - before, 1, "an idle catch-up is one change-feed request");

    // A polling run after it finds nothing new and creates nothing.
    later(60).await;
    let polled = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(polled.summary.created, 0);
    assert_eq!(s.ordoro.orders().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn beyond_the_change_feeds_30_days_the_catch_up_reads_by_last_updated_time() {
    let s = Services::start(start()).await;
    let engine = warmed(&s).await;
    later(40 * 24 * 3600).await;
    sale(&s, Invoice, "1004");
    later(60).await;
    let before = s.qbo.stats();
    let report = engine.run_catch_up(&RunOptions::default()).await.unwrap();
    assert_eq!(report.summary.created, 1, "{:?} {:?}", report.aborted, report.entries);
    assert!(report.aborted.is_none());
    assert_eq!(s.qbo.stats().cdc, before.cdc, "the feed would refuse a 40-day-old changedSince");
}

#[tokio::test(start_paused = true)]
async fn a_full_change_feed_answer_is_read_again_by_last_updated_time() {
    let s = Services::start(start()).await;
    let engine = warmed(&s).await;
    for n in 0..1005 {
        sale(&s, if n % 2 == 0 { Invoice } else { SalesReceipt }, &format!("{}", 5000 + n));
        if n % 100 == 0 {
            later(1).await;
        }
    }
    later(60).await;
    let report = engine.run_catch_up(&RunOptions::default()).await.unwrap();
    assert!(report.aborted.is_none(), "{:?}", report.aborted);
    assert_eq!(report.summary.created, 1005);
    assert_eq!(s.ordoro.orders().len(), 1005);
    assert!(s.qbo.stats().queries >= 2, "the window was paged by the query");
}

#[tokio::test(start_paused = true)]
async fn a_notified_delete_cancels_the_order_under_cancel_on_void() {
    let s = Services::start(start()).await;
    let config = SyncConfig { cancel_on_void: true, ..config() };
    let engine = s.engine(config);
    engine.run_catch_up(&RunOptions::default()).await.unwrap();
    let id = sale(&s, Invoice, "1005");
    later(5).await;
    let created = vec![event("Invoice", &id, Operation::Create, Some("c"))];
    engine.run_changes(&created, &RunOptions::default()).await.unwrap().unwrap();
    later(60).await;
    assert!(s.qbo.delete(REALM, Invoice, &id));
    later(5).await;
    let deleted = vec![event("Invoice", &id, Operation::Delete, Some("d"))];
    let report = engine.run_changes(&deleted, &RunOptions::default()).await.unwrap().unwrap();
    let entry = report.entries.iter().find(|e| e.qbo_id == id).expect("the delete is logged");
    assert_eq!(entry.action, Action::Updated, "{entry:?}");
    let order = s.ordoro.order(&format!("1-{}", order_id(Invoice, &id))).unwrap();
    assert_eq!(order.status, "cancelled");
    assert_eq!(
        report.entries.iter().filter(|e| e.qbo_id == id).count(),
        1,
        "the catch-up does not cancel it again: {:?}",
        report.entries
    );
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_of_changes_writes_nothing_and_remembers_nothing() {
    let s = Services::start(start()).await;
    let engine = warmed(&s).await;
    let id = sale(&s, Invoice, "1006");
    later(5).await;
    let events = vec![event("Invoice", &id, Operation::Create, Some("ev-dry"))];
    let dry = engine.run_changes(&events, &RunOptions::dry_run()).await.unwrap().unwrap();
    assert_eq!(dry.summary.created, 1);
    assert!(s.ordoro.orders().is_empty());
    let real = engine.run_changes(&events, &RunOptions::default()).await.unwrap();
    assert_eq!(real.expect("not remembered by the dry run").summary.created, 1);
    assert_eq!(s.ordoro.orders().len(), 1);
}

/// Repeats the first row of every QBO query answer and of every change-feed group, as a proxy's
/// retry or a change between two reads can.
#[derive(Debug)]
struct RepeatingRows(std::sync::Arc<qbo_ordoro::sim::qbo::QboSim>);

fn repeat_first_rows(value: &mut serde_json::Value) {
    let Some(map) = value.as_object_mut() else { return };
    for entity in ["Invoice", "SalesReceipt"] {
        if let Some(rows) = map.get_mut(entity).and_then(|v| v.as_array_mut())
            && let Some(first) = rows.first().cloned()
        {
            rows.push(first);
        }
    }
}

#[async_trait::async_trait]
impl qbo_ordoro::HttpTransport for RepeatingRows {
    async fn send(
        &self,
        request: qbo_ordoro::HttpRequest,
    ) -> Result<qbo_ordoro::HttpResponse, qbo_ordoro::TransportError> {
        let response = self.0.send(request).await?;
        let (parts, body) = response.into_parts();
        let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return Ok(qbo_ordoro::HttpResponse::from_parts(parts, body));
        };
        if let Some(query) = json.get_mut("QueryResponse") {
            repeat_first_rows(query);
        }
        if let Some(groups) =
            json.pointer_mut("/CDCResponse/0/QueryResponse").and_then(|g| g.as_array_mut())
        {
            groups.iter_mut().for_each(repeat_first_rows);
        }
        let body = serde_json::to_vec(&json).unwrap().into();
        Ok(qbo_ordoro::HttpResponse::from_parts(parts, body))
    }
}

#[tokio::test(start_paused = true)]
async fn a_row_repeated_in_an_answer_is_handled_once() {
    let s = Services::start(start()).await;
    let wire = qbo_ordoro::SharedTransport::new(RepeatingRows(s.qbo.clone()));
    let engine = s.engine_over(wire, s.ordoro_wire(), config());
    engine.run_catch_up(&RunOptions::default()).await.unwrap();
    later(60).await;
    let notified = sale(&s, Invoice, "1007");
    let caught_up = sale(&s, SalesReceipt, "2007");
    later(5).await;
    let events = vec![event("Invoice", &notified, Operation::Create, Some("ev-rep"))];
    let report = engine.run_changes(&events, &RunOptions::default()).await.unwrap().unwrap();
    assert_eq!(report.summary.to_string(), "created=2 updated=0 skipped=0 failed=0");
    assert_eq!(s.ordoro.count_by_order_id(&order_id(Invoice, &notified)), 1);
    assert_eq!(s.ordoro.count_by_order_id(&order_id(SalesReceipt, &caught_up)), 1);
    assert_eq!(report.entries.len(), 2, "{:?}", report.entries);
}
