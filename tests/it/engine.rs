//! The sync engine against in-memory fakes of its ports, in virtual time.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use qbo_ordoro::engine::{
    InitialSince, RunOptions, RunRange, RunScope, SyncConfig, SyncEngine, TxnRef, WatchOptions,
};
use qbo_ordoro::mapping::MappingConfig;
use qbo_ordoro::model::qbo::EntityKind::{Invoice, SalesReceipt};
use qbo_ordoro::sim::qbo::to_pacific;
use qbo_ordoro::store::MemoryStore;
use qbo_ordoro::store::{Action, LedgerState, LogEntry};
use qbo_ordoro::{Clock, ManualClock, Reason, Store};

use crate::support::fakes::{self, FakeOrdoro, FakeQbo, sale, sale_with_bad_address, utc};

const REALM: &str = "9130";

struct World {
    clock: Arc<ManualClock>,
    qbo: Arc<FakeQbo>,
    ordoro: Arc<FakeOrdoro>,
    store: Arc<MemoryStore>,
}

impl World {
    fn new() -> Self {
        Self::at(utc(2024, 6, 3, 12, 0, 0))
    }

    fn at(start: DateTime<Utc>) -> Self {
        let clock = Arc::new(ManualClock::new(start));
        World {
            qbo: FakeQbo::new(REALM, clock.clone()),
            ordoro: FakeOrdoro::new(clock.clone()),
            store: Arc::new(MemoryStore::new()),
            clock,
        }
    }

    fn engine(&self, config: SyncConfig) -> SyncEngine {
        SyncEngine::builder()
            .qbo(self.qbo.clone())
            .ordoro(self.ordoro.clone())
            .store(self.store.clone())
            .clock(self.clock.clone())
            .config(config)
            .build()
            .expect("engine")
    }

    /// A sale of class `Ordoro` stamped `minutes_ago` before now.
    fn add_sale(&self, id: &str, minutes_ago: i64) {
        self.add(Invoice, id, Some("Ordoro"), minutes_ago);
    }

    fn add(
        &self,
        kind: qbo_ordoro::model::qbo::EntityKind,
        id: &str,
        class: Option<&str>,
        minutes_ago: i64,
    ) {
        let at = self.clock.now() - chrono::Duration::minutes(minutes_ago);
        self.qbo.add(kind, sale(id, class, to_pacific(at)));
    }

    fn later(&self, minutes: u64) {
        self.clock.advance(Duration::from_secs(minutes * 60));
    }

    fn order_count(&self, order_id: &str) -> usize {
        self.ordoro.orders().iter().filter(|o| o.cart_order_id.as_deref() == Some(order_id)).count()
    }

    fn cursor(&self, entity: &str) -> Option<DateTime<Utc>> {
        self.store.cursors().get(&format!("{REALM}/{entity}")).copied()
    }
}

fn entry_for<'a>(entries: &'a [LogEntry], id: &str) -> &'a LogEntry {
    entries.iter().find(|e| e.qbo_id == id).unwrap_or_else(|| panic!("no entry for {id}"))
}

fn reasons(entries: &[LogEntry]) -> Vec<(String, Action, Option<Reason>)> {
    let mut v: Vec<_> = entries.iter().map(|e| (e.qbo_id.clone(), e.action, e.reason)).collect();
    v.sort_by_key(|e| e.0.clone());
    v
}

#[tokio::test]
async fn the_first_run_creates_every_eligible_order_and_the_second_creates_none() {
    let w = World::new();
    w.add_sale("1", 50);
    w.add_sale("2", 40);
    w.add(SalesReceipt, "3", Some("ordoro "), 30);
    w.add(Invoice, "4", Some("Infusionsoft"), 20);
    w.add(Invoice, "5", None, 10);
    w.add_sale("6", 5);
    w.qbo.void(Invoice, "6");
    let engine = w.engine(SyncConfig::default());

    let first = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(first.aborted, None);
    assert_eq!((first.summary.created, first.summary.skipped, first.summary.failed), (3, 3, 0));
    assert_eq!(w.ordoro.orders().len(), 3);
    assert_eq!(w.order_count("QBO-INV-1"), 1);
    assert_eq!(w.order_count("QBO-SR-3"), 1);
    assert_eq!(entry_for(&first.entries, "4").reason, Some(Reason::ClassMismatch));
    assert_eq!(entry_for(&first.entries, "5").reason, Some(Reason::NoClass));
    assert_eq!(entry_for(&first.entries, "6").reason, Some(Reason::Voided));
    let created = entry_for(&first.entries, "1");
    assert_eq!(created.order_number.as_deref(), Some("3-QBO-INV-1"));
    assert_eq!(created.doc_number.as_deref(), Some("101"));
    assert_eq!(created.sync_token.as_deref(), Some("0"));
    assert_eq!(created.realm, REALM);
    assert_eq!(created.run_id, first.run_id);
    assert!(created.last_updated.is_some());
    assert_eq!(w.store.log_entries().len(), 6, "every transaction leaves one entry");
    assert_eq!(
        w.cursor("Invoice"),
        Some(first.started_at),
        "a fully handled window moves the cursor to the run's start"
    );
    assert!(w.store.ledger_entries().iter().all(|e| e.state == LedgerState::Created));

    w.later(15);
    let qbo_before = w.qbo.calls();
    let ordoro_before = w.ordoro.total_calls();
    let second = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_ne!(second.run_id, first.run_id);
    assert_eq!(second.summary.created, 0);
    assert_eq!(w.ordoro.orders().len(), 3);
    assert_eq!(w.qbo.calls() - qbo_before, 2, "one query per entity");
    assert_eq!(w.ordoro.total_calls() - ordoro_before, 0, "no Ordoro call when nothing is new");
}

#[tokio::test]
async fn the_first_run_starts_at_initial_since() {
    let w = World::new();
    w.add_sale("old", 60 * 24 * 40);
    w.add_sale("new", 60);
    let engine = w.engine(SyncConfig::default());
    let report = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(reasons(&report.entries), vec![("new".into(), Action::Created, None)]);

    let w = World::new();
    w.add_sale("old", 60 * 24 * 40);
    let config = SyncConfig {
        initial_since: InitialSince::At(utc(2024, 1, 1, 0, 0, 0)),
        ..Default::default()
    };
    let report = w.engine(config).run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(report.summary.created, 1);
}

#[tokio::test]
async fn a_transaction_edited_while_the_run_pages_is_not_lost() {
    let w = World::new();
    for (i, ago) in [50, 40, 30, 20, 10].iter().enumerate() {
        w.add_sale(&format!("{}", i + 1), *ago);
    }
    // Before the second page, invoice 1 (on page 1) is edited: it moves to the end of the
    // ordering. With offset paging, invoice 3 would slide onto page 1 and never be read.
    let clock = w.clock.clone();
    w.qbo.on_query(move |n, txns| {
        if n == 2 {
            let t = txns.iter_mut().find(|t| t.doc.id == "1").unwrap();
            fakes::bump(&mut t.doc, to_pacific(clock.now() + chrono::Duration::seconds(1)));
        }
    });
    let engine = w.engine(SyncConfig { page_size: 2, ..Default::default() });
    let report = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(report.summary.created, 5, "{:?}", reasons(&report.entries));
    assert_eq!(w.ordoro.orders().len(), 5);

    w.later(15);
    let next = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(
        reasons(&next.entries),
        vec![("1".into(), Action::Skipped, Some(Reason::AlreadySynced))],
        "the edit is seen by the next run"
    );
}

#[tokio::test]
async fn same_second_ties_across_a_page_boundary_are_all_handled_once() {
    let w = World::new();
    let at = to_pacific(w.clock.now() - chrono::Duration::minutes(30));
    for id in ["1", "2", "3", "4", "5", "6", "7"] {
        w.qbo.add(Invoice, sale(id, Some("Ordoro"), at));
    }
    w.add_sale("8", 20);
    // Page size 3: pages start on the tied second again and again, and more rows than a page
    // share that second, so the pager must step through the tie by offset.
    let engine = w.engine(SyncConfig { page_size: 3, ..Default::default() });
    let report = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(report.summary.created, 8, "{:?}", reasons(&report.entries));
    assert_eq!(report.entries.len(), 8, "each transaction once");
    assert_eq!(w.ordoro.calls("create_order"), 8);
    let ids: HashSet<_> = report.entries.iter().map(|e| e.qbo_id.clone()).collect();
    assert_eq!(ids.len(), 8);
}

#[tokio::test]
async fn timestamps_across_a_daylight_saving_change_compare_as_instants() {
    // 2024-11-03: 01:45 PDT (08:45 UTC) comes before 01:10 PST (09:10 UTC).
    let w = World::at(utc(2024, 11, 3, 8, 50, 0));
    w.qbo.add(Invoice, sale("1", Some("Ordoro"), to_pacific(utc(2024, 11, 3, 8, 45, 0))));
    let config = SyncConfig { overlap: Duration::from_secs(60), ..Default::default() };
    let engine = w.engine(config);
    let first = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(first.summary.created, 1);
    assert_eq!(
        entry_for(&first.entries, "1").last_updated.unwrap().offset().local_minus_utc(),
        -7 * 3600
    );

    w.clock.set(utc(2024, 11, 3, 9, 15, 0));
    let late = to_pacific(utc(2024, 11, 3, 9, 10, 0));
    assert_eq!(late.offset().local_minus_utc(), -8 * 3600);
    assert!(late.naive_local() < to_pacific(utc(2024, 11, 3, 8, 45, 0)).naive_local());
    w.qbo.add(Invoice, sale("2", Some("Ordoro"), late));
    let second = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(reasons(&second.entries), vec![("2".into(), Action::Created, None)]);
}

#[tokio::test]
async fn re_running_a_manual_range_creates_nothing() {
    let w = World::new();
    w.add_sale("1", 50);
    w.add(SalesReceipt, "2", Some("Ordoro"), 40);
    let engine = w.engine(SyncConfig::default());
    engine.run_incremental(&RunOptions::default()).await.unwrap();
    let creates = w.ordoro.calls("create_order");

    let by_time = RunRange::LastUpdated { from: utc(2024, 6, 1, 0, 0, 0), to: w.clock.now() };
    let r = engine.run_range(&by_time, &RunOptions::default()).await.unwrap();
    assert_eq!(r.scope, RunScope::Range(by_time));
    assert_eq!((r.summary.created, r.summary.skipped), (0, 2));
    assert!(r.entries.iter().all(|e| e.reason == Some(Reason::Unchanged)));

    let day = w.clock.now().date_naive();
    let by_date = RunRange::TxnDate { from: day, to: day };
    let r = engine.run_range(&by_date, &RunOptions::default()).await.unwrap();
    assert_eq!((r.summary.created, r.summary.skipped), (0, 2));
    assert_eq!(w.ordoro.calls("create_order"), creates);
    assert_eq!(w.ordoro.orders().len(), 2);
}

#[tokio::test]
async fn a_manual_range_by_date_reads_every_page() {
    let w = World::new();
    for i in 1..=25 {
        w.add_sale(&i.to_string(), 100 - i);
    }
    let engine = w.engine(SyncConfig { page_size: 10, ..Default::default() });
    let day = w.clock.now().date_naive();
    let r = engine
        .run_range(&RunRange::TxnDate { from: day, to: day }, &RunOptions::default())
        .await
        .unwrap();
    assert_eq!(r.summary.created, 25);
    assert_eq!(r.entries.len(), 25, "pages overlap but each transaction is handled once");
    assert_eq!(w.cursor("Invoice"), None, "a manual run leaves the cursor alone");
}

fn change_quantity(w: &World, id: &str, qty: i64) {
    w.qbo.edit(Invoice, id, |d| {
        if let qbo_ordoro::model::qbo::LineDetail::SalesItem(s) = &mut d.line[0].detail {
            s.qty = Some(qty.into());
        }
        d.line[0].amount = Some((qty * 5).into());
        d.total_amt = Some((qty * 5).into());
        d.ship_addr.as_mut().unwrap().line1 = Some("9 Elm St".into());
    });
}

#[tokio::test]
async fn with_updates_off_a_changed_transaction_is_left_as_already_synced() {
    let w = World::new();
    w.add_sale("1", 30);
    let engine = w.engine(SyncConfig::default());
    engine.run_incremental(&RunOptions::default()).await.unwrap();
    w.later(10);
    change_quantity(&w, "1", 3);
    w.later(10);
    let writes = w.ordoro.writes();
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(
        reasons(&r.entries),
        vec![("1".into(), Action::Skipped, Some(Reason::AlreadySynced))]
    );
    assert_eq!(w.ordoro.writes(), writes);
    assert_eq!(w.ordoro.order("3-QBO-INV-1").unwrap().lines[0].quantity, Some(2));
}

#[tokio::test]
async fn with_updates_on_a_changed_transaction_updates_its_order() {
    let w = World::new();
    w.add_sale("1", 30);
    let engine = w.engine(SyncConfig { update_existing: true, ..Default::default() });
    engine.run_incremental(&RunOptions::default()).await.unwrap();
    w.later(10);
    change_quantity(&w, "1", 3);
    w.later(2);
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(r.aborted, None);
    let e = entry_for(&r.entries, "1");
    assert_eq!(e.action, Action::Updated, "{e:?}");
    assert_eq!(e.order_number.as_deref(), Some("3-QBO-INV-1"));
    let order = w.ordoro.order("3-QBO-INV-1").unwrap();
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.lines[0].quantity, Some(3));
    assert_eq!(order.shipping_address.unwrap().street1.as_deref(), Some("9 Elm St"));
    assert_eq!(w.ordoro.calls("update_line"), 1);
    assert_eq!(w.ordoro.calls("update_shipping_address"), 1);
    assert_eq!(w.ordoro.calls("create_order"), 1);
    let ledger = w.store.ledger_entries();
    assert_eq!(ledger[0].sync_token, "1", "the ledger records the version now mirrored");

    // The same version read again (the overlap) is unchanged: no more writes.
    w.later(1);
    let writes = w.ordoro.writes();
    let again = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(entry_for(&again.entries, "1").reason, Some(Reason::Unchanged));
    assert_eq!(w.ordoro.writes(), writes);
}

#[tokio::test]
async fn a_shipped_order_is_left_alone_with_its_reason() {
    let w = World::new();
    w.add_sale("1", 30);
    let engine = w.engine(SyncConfig { update_existing: true, ..Default::default() });
    engine.run_incremental(&RunOptions::default()).await.unwrap();
    w.ordoro.set_status("3-QBO-INV-1", "shipped");
    w.later(10);
    change_quantity(&w, "1", 4);
    w.later(10);
    let writes = w.ordoro.writes();
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    let e = entry_for(&r.entries, "1");
    assert_eq!((e.action, e.reason), (Action::Skipped, Some(Reason::OrderShipped)));
    assert!(e.detail.as_deref().unwrap().contains("shipped"));
    assert_eq!(w.ordoro.writes(), writes);
    assert_eq!(w.ordoro.order("3-QBO-INV-1").unwrap().lines[0].quantity, Some(2));
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_reports_what_it_would_do() {
    let w = World::new();
    w.add_sale("1", 30);
    w.add(Invoice, "2", Some("Other"), 20);
    let engine = w.engine(SyncConfig::default());
    let r = engine.run_incremental(&RunOptions::dry_run()).await.unwrap();
    assert!(r.dry_run);
    assert_eq!((r.summary.created, r.summary.skipped), (1, 1));
    assert!(r.entries.iter().all(|e| e.dry_run));
    assert!(entry_for(&r.entries, "1").detail.as_deref().unwrap().contains("would create"));
    assert_eq!(w.ordoro.writes(), 0);
    assert!(w.store.log_entries().is_empty());
    assert!(w.store.ledger_entries().is_empty());
    assert!(w.store.cursors().is_empty());

    // The real run afterwards does create it.
    let real = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(real.summary.created, 1);
}

#[tokio::test]
async fn a_lost_create_response_yields_exactly_one_order() {
    let w = World::new();
    w.add_sale("1", 30);
    w.ordoro.lose_create_responses(1);
    let engine = w.engine(SyncConfig::default());
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    let e = entry_for(&r.entries, "1");
    assert_eq!(e.action, Action::Created);
    assert_eq!(e.order_number.as_deref(), Some("3-QBO-INV-1"));
    assert!(e.detail.as_deref().unwrap().contains("lookup"), "{e:?}");
    assert_eq!(w.ordoro.calls("create_order"), 1, "settled by lookup, not by a second POST");
    assert_eq!(w.order_count("QBO-INV-1"), 1);
    assert_eq!(w.store.ledger_entries()[0].state, LedgerState::Created);
}

#[tokio::test]
async fn a_create_that_timed_out_before_processing_is_sent_again_once_its_lookup_is_believed() {
    let w = World::new();
    w.add_sale("1", 30);
    w.ordoro.drop_creates(1);
    let engine = w.engine(SyncConfig::default());
    let first = engine.run_incremental(&RunOptions::default()).await.unwrap();
    let e = entry_for(&first.entries, "1");
    assert_eq!((e.action, e.reason), (Action::Failed, Some(Reason::OutcomeUnknown)), "{e:?}");
    assert!(e.detail.as_deref().unwrap().contains("could still appear"), "{e:?}");
    assert_eq!(w.ordoro.calls("create_order"), 1, "not sent again while it could still appear");
    assert_eq!(w.store.ledger_entries()[0].state, LedgerState::Pending);
    let stamped = first.started_at - chrono::Duration::minutes(30);
    assert!(w.cursor("Invoice").is_some_and(|c| c <= stamped), "the cursor waits for it");
    let sent = w.store.ledger_entries()[0].updated_at;
    assert_eq!(first.settle_at, Some(sent + chrono::Duration::minutes(5)));

    w.later(2);
    let early = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(early.summary.created, 0, "still within the bound");
    assert_eq!(w.ordoro.calls("create_order"), 1);

    w.later(3);
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(r.summary.created, 1, "{:?}", reasons(&r.entries));
    assert_eq!(r.settle_at, None);
    assert_eq!(w.ordoro.calls("find_orders"), 3, "looked up before every decision");
    assert_eq!(w.ordoro.calls("create_order"), 2);
    assert_eq!(w.order_count("QBO-INV-1"), 1);
}

#[tokio::test]
async fn with_no_bound_a_create_not_found_is_sent_again_at_once() {
    let w = World::new();
    w.add_sale("1", 30);
    w.ordoro.drop_creates(1);
    let config = SyncConfig { settle_after: Duration::ZERO, ..SyncConfig::default() };
    let r = w.engine(config).run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(r.summary.created, 1);
    assert_eq!(w.ordoro.calls("find_orders"), 1, "looked up before the retry");
    assert_eq!(w.ordoro.calls("create_order"), 2);
    assert_eq!(w.order_count("QBO-INV-1"), 1);
}

#[tokio::test]
async fn a_channel_index_turns_the_lookup_into_a_read_by_order_number() {
    let w = World::new();
    w.add_sale("1", 30);
    w.add_sale("2", 20);
    w.ordoro.lose_create_responses(1);
    let mapping = MappingConfig::default().with_cart(Some(77));
    let config = SyncConfig { mapping, max_concurrency: 1, ..SyncConfig::default() };
    let engine = w.engine(config);
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(r.summary.created, 2, "{:?}", reasons(&r.entries));
    assert_eq!(w.ordoro.calls("get_sales_channel"), 1, "the channel is read once");
    assert_eq!(w.ordoro.calls("get_order"), 1, "the lost create is read as 3-QBO-INV-1");
    assert_eq!(w.ordoro.calls("find_orders"), 0, "the list is never asked");

    w.ordoro.drop_creates(1);
    w.later(20);
    w.add_sale("3", 10);
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(entry_for(&r.entries, "3").reason, Some(Reason::OutcomeUnknown));
    assert_eq!(w.ordoro.calls("get_sales_channel"), 1, "the index is cached");
    assert_eq!(w.ordoro.calls("get_order"), 2);
    assert_eq!(w.ordoro.calls("find_orders"), 0);
}

#[tokio::test(start_paused = true)]
async fn a_crash_between_the_create_and_the_save_then_a_restart_yields_exactly_one_order() {
    let w = World::new();
    w.add_sale("1", 30);
    w.add_sale("2", 20);
    w.ordoro.hang_after_create(true);
    {
        let engine = w.engine(SyncConfig { max_concurrency: 1, ..Default::default() });
        let options = RunOptions::default();
        let run = engine.run_incremental(&options);
        // The process "dies" while the first create's response is outstanding.
        assert!(tokio::time::timeout(Duration::from_secs(30), run).await.is_err());
    }
    assert_eq!(w.ordoro.orders().len(), 1, "the first create reached Ordoro");
    let ledger = w.store.ledger_entries();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].state, LedgerState::Pending);
    assert_eq!(w.cursor("Invoice"), None, "nothing was handled");

    w.ordoro.hang_after_create(false);
    w.later(5);
    let engine = w.engine(SyncConfig::default());
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(r.aborted, None);
    assert_eq!(w.order_count("QBO-INV-1"), 1);
    assert_eq!(w.order_count("QBO-INV-2"), 1);
    assert_eq!(w.ordoro.calls("create_order"), 2, "the settled create was not sent again");
    let settled = &r.entries[0];
    assert_eq!((settled.qbo_id.as_str(), settled.action), ("1", Action::Created));
    assert!(settled.detail.as_deref().unwrap().contains("interrupted"));
    assert!(w.store.ledger_entries().iter().all(|e| e.state == LedgerState::Created));
}

#[tokio::test(start_paused = true)]
async fn a_crash_before_the_create_reached_ordoro_creates_it_on_restart() {
    let w = World::new();
    w.add_sale("1", 30);
    {
        // An Ordoro whose creates take an hour of tokio time: the "crash" comes first.
        let slow = FakeOrdoro::new(Arc::new(qbo_ordoro::TokioClock::starting_at(w.clock.now())));
        slow.create_delay(Duration::from_secs(3600));
        let engine = SyncEngine::builder()
            .qbo(w.qbo.clone())
            .ordoro(slow.clone())
            .store(w.store.clone())
            .clock(w.clock.clone())
            .build()
            .unwrap();
        let options = RunOptions::default();
        let run = engine.run_incremental(&options);
        assert!(tokio::time::timeout(Duration::from_secs(60), run).await.is_err());
        assert!(slow.orders().is_empty());
    }
    assert_eq!(w.store.ledger_entries()[0].state, LedgerState::Pending);
    let engine = w.engine(SyncConfig::default());
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(r.summary.created, 0, "a create sent a minute ago could still appear");
    let at = r.settle_at.expect("the report says when it can be settled");
    w.clock.advance((at - w.clock.now()).to_std().unwrap());
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(r.summary.created, 1, "{:?}", reasons(&r.entries));
    assert_eq!(w.order_count("QBO-INV-1"), 1);
    assert_eq!(w.store.ledger_entries()[0].state, LedgerState::Created);
}

#[tokio::test]
async fn the_circuit_breaker_stops_the_run_without_moving_the_cursor_past_a_failure() {
    let w = World::new();
    w.add_sale("0", 100);
    let engine =
        w.engine(SyncConfig { breaker_threshold: 3, max_concurrency: 1, ..Default::default() });
    engine.run_incremental(&RunOptions::default()).await.unwrap();
    let before = w.cursor("Invoice").unwrap();
    let receipts_before = w.cursor("SalesReceipt");

    w.later(30);
    for i in 1..=6 {
        w.add_sale(&i.to_string(), 25 - i);
    }
    let first_new = w.clock.now() - chrono::Duration::minutes(24);
    w.ordoro.set_down(true);
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert!(r.aborted.as_deref().unwrap().contains("3 transient failures"), "{:?}", r.aborted);
    assert_eq!(r.summary.failed, 3);
    assert!(r.entries.iter().all(|e| e.reason == Some(Reason::ServiceError)));
    let failure = r.entries[0].failure.as_ref().unwrap();
    assert_eq!((failure.service.as_deref(), failure.status), (Some("ordoro"), Some(503)));
    let cursor = w.cursor("Invoice").unwrap();
    assert!(cursor >= before && cursor <= first_new, "cursor {cursor} passed the failure");
    assert_eq!(w.cursor("SalesReceipt"), receipts_before, "the run stopped before the next entity");

    w.ordoro.set_down(false);
    w.later(15);
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(r.aborted, None);
    assert_eq!(r.summary.created, 6);
    assert_eq!(w.ordoro.orders().len(), 7);
}

#[tokio::test]
async fn a_qbo_outage_aborts_the_run_and_leaves_the_cursor() {
    let w = World::new();
    w.add_sale("1", 30);
    w.qbo.fail_next_queries(1);
    let engine = w.engine(SyncConfig::default());
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert!(r.aborted.as_deref().unwrap().contains("QBO"));
    assert!(w.store.cursors().is_empty());
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(r.summary.created, 1);
}

#[tokio::test]
async fn a_permanent_failure_is_logged_handled_and_retried_after_an_edit() {
    let w = World::new();
    w.add_sale("1", 30);
    w.add_sale("2", 20);
    w.ordoro.reject_creates(1);
    let engine = w.engine(SyncConfig::default());
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    let e = entry_for(&r.entries, "1");
    assert_eq!((e.action, e.reason), (Action::Failed, Some(Reason::Rejected)));
    let f = e.failure.as_ref().unwrap();
    assert_eq!(
        (f.status, f.code.as_deref(), f.request_id.as_deref()),
        (Some(400), Some("lines"), Some("req-1"))
    );
    assert!(f.message.contains("sku"));
    assert_eq!(w.cursor("Invoice"), Some(r.started_at), "the failure counts as handled");
    assert_eq!(
        w.store.ledger_entries().len(),
        1,
        "no pending entry is left for the rejected create"
    );

    w.later(10);
    w.qbo.edit(Invoice, "1", |_| {});
    w.later(10);
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(reasons(&r.entries), vec![("1".into(), Action::Created, None)]);
}

#[tokio::test]
async fn an_unparseable_address_is_a_failed_entry_with_its_code() {
    let w = World::new();
    w.qbo.add(
        Invoice,
        sale_with_bad_address("1", to_pacific(w.clock.now() - chrono::Duration::minutes(5))),
    );
    let r = w.engine(SyncConfig::default()).run_incremental(&RunOptions::default()).await.unwrap();
    let e = entry_for(&r.entries, "1");
    assert_eq!(e.action, Action::Failed);
    let code = e.reason.unwrap().as_str();
    assert!(
        code.starts_with("missing_") || code == "empty_input" || code == "unsupported_layout",
        "{code}"
    );
    assert_eq!(e.failure.as_ref().unwrap().code.as_deref(), Some(code));
    assert_eq!(w.ordoro.writes(), 0);
}

#[tokio::test]
async fn run_one_by_id_and_by_doc_number() {
    let w = World::new();
    w.add_sale("7", 30);
    w.add(SalesReceipt, "7", Some("Ordoro"), 30);
    w.add_sale("8", 20);
    let engine = w.engine(SyncConfig::default());

    let target = TxnRef::Id { entity: None, id: "7".into() };
    let r = engine.run_one(&target, &RunOptions::default()).await.unwrap();
    assert_eq!(r.scope, RunScope::One(target));
    assert_eq!(r.summary.created, 2, "an invoice and a sales receipt share the id");
    assert_eq!(w.order_count("QBO-INV-7"), 1);
    assert_eq!(w.order_count("QBO-SR-7"), 1);

    let target = TxnRef::DocNumber { entity: Some(Invoice), doc_number: "108".into() };
    let r = engine.run_one(&target, &RunOptions::default()).await.unwrap();
    assert_eq!(reasons(&r.entries), vec![("8".into(), Action::Created, None)]);

    let again = engine.run_one(&target, &RunOptions::default()).await.unwrap();
    assert_eq!(again.summary.created, 0);
    assert_eq!(entry_for(&again.entries, "8").reason, Some(Reason::Unchanged));

    let none = TxnRef::Id { entity: Some(Invoice), id: "404".into() };
    let r = engine.run_one(&none, &RunOptions::default()).await.unwrap();
    assert!(r.entries.is_empty());
    assert_eq!(w.ordoro.orders().len(), 3);
}

#[tokio::test]
async fn voids_leave_orders_alone_unless_cancel_on_void_is_on() {
    let w = World::new();
    w.add_sale("1", 30);
    w.add_sale("2", 30);
    let engine = w.engine(SyncConfig::default());
    engine.run_incremental(&RunOptions::default()).await.unwrap();
    w.later(5);
    w.qbo.void(Invoice, "1");
    w.later(5);
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(entry_for(&r.entries, "1").reason, Some(Reason::Voided));
    assert_eq!(w.ordoro.order("3-QBO-INV-1").unwrap().status, "awaiting_fulfillment");

    let engine = w.engine(SyncConfig { cancel_on_void: true, ..Default::default() });
    w.later(5);
    w.qbo.void(Invoice, "1");
    w.later(5);
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    let e = entry_for(&r.entries, "1");
    assert_eq!((e.action, e.reason), (Action::Updated, Some(Reason::Voided)));
    assert_eq!(w.ordoro.order("3-QBO-INV-1").unwrap().status, "cancelled");
    let entry = w.store.ledger_entries().into_iter().find(|e| e.key.qbo_id == "1").unwrap();
    assert_eq!(entry.state, LedgerState::Cancelled);

    // A delete comes from the change feed.
    w.later(5);
    w.qbo.delete(Invoice, "2");
    w.later(5);
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    let e = entry_for(&r.entries, "2");
    assert_eq!((e.action, e.reason), (Action::Updated, Some(Reason::Deleted)));
    assert_eq!(w.ordoro.order("3-QBO-INV-2").unwrap().status, "cancelled");
    assert_eq!(w.qbo.cdc_calls(), 2, "the change feed is read only with cancel_on_void on");
}

/// A read that answers QBO's delete shape (`{"status": "Deleted", "Id": ..}`) is a delete, as
/// the change feed's is, never an empty invoice that would be skipped as an edit.
#[tokio::test]
async fn a_read_in_the_shape_of_a_delete_is_a_delete() {
    let w = World::new();
    w.add_sale("1", 30);
    let engine = w.engine(SyncConfig { cancel_on_void: true, ..Default::default() });
    engine.run_incremental(&RunOptions::default()).await.unwrap();
    w.later(5);
    w.qbo.edit(Invoice, "1", |d| {
        let meta_data = d.meta_data.clone();
        let deleted = serde_json::json!({"status": "Deleted", "domain": "QBO", "Id": "1"});
        *d = serde_json::from_value(deleted).unwrap();
        d.meta_data = meta_data;
    });
    w.later(5);
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    let e = entry_for(&r.entries, "1");
    assert_eq!((e.action, e.reason), (Action::Updated, Some(Reason::Deleted)));
    assert_eq!(w.ordoro.order("3-QBO-INV-1").unwrap().status, "cancelled");
}

#[tokio::test]
async fn a_shipped_order_is_not_cancelled_when_its_transaction_is_voided() {
    let w = World::new();
    w.add_sale("1", 30);
    let engine = w.engine(SyncConfig { cancel_on_void: true, ..Default::default() });
    engine.run_incremental(&RunOptions::default()).await.unwrap();
    w.ordoro.set_status("3-QBO-INV-1", "shipped");
    w.later(5);
    w.qbo.void(Invoice, "1");
    w.later(5);
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    let e = entry_for(&r.entries, "1");
    assert_eq!((e.action, e.reason), (Action::Skipped, Some(Reason::OrderShipped)));
    assert_eq!(w.ordoro.calls("cancel_order"), 0);
}

#[tokio::test]
async fn watch_runs_on_the_interval_until_told_to_stop() {
    let w = World::new();
    w.add_sale("1", 30);
    let engine = w.engine(SyncConfig::default());
    let options = WatchOptions {
        interval: Duration::from_secs(15 * 60),
        max_runs: Some(3),
        run: RunOptions::default(),
    };
    let mut starts = Vec::new();
    let runs = engine
        .watch(&options, |r| {
            starts.push(r.unwrap().started_at);
            ControlFlow::Continue(())
        })
        .await;
    assert_eq!(runs, 3);
    assert_eq!(starts[1] - starts[0], chrono::Duration::minutes(15));
    assert_eq!(starts[2] - starts[1], chrono::Duration::minutes(15));

    let options = WatchOptions { max_runs: None, ..options };
    let mut seen = 0;
    let runs = engine
        .watch(&options, |_| {
            seen += 1;
            if seen == 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .await;
    assert_eq!(runs, 2);
    assert_eq!(w.ordoro.orders().len(), 1);
}

#[tokio::test]
async fn run_ids_are_unique_and_name_the_start() {
    let w = World::new();
    let engine = w.engine(SyncConfig::default());
    let a = engine.run_incremental(&RunOptions::default()).await.unwrap();
    let b = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(a.run_id, "run-20240603T120000Z-1");
    assert_eq!(b.run_id, "run-20240603T120000Z-2");
}

/// Two processes (two engines on one store) starting runs in the same second that log nothing
/// get different run ids: the store records each start.
#[tokio::test]
async fn run_ids_differ_across_engines_in_one_second_even_when_nothing_is_logged() {
    let w = World::new();
    let a = w.engine(SyncConfig::default()).run_incremental(&RunOptions::default()).await.unwrap();
    let b = w.engine(SyncConfig::default()).run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!((a.summary.total(), b.summary.total()), (0, 0), "neither run logs anything");
    assert_eq!(a.run_id, "run-20240603T120000Z-1");
    assert_eq!(b.run_id, "run-20240603T120000Z-2");
}

#[tokio::test]
async fn the_builder_says_what_is_missing() {
    let err = SyncEngine::builder().build().unwrap_err();
    assert!(err.to_string().contains("QBO"), "{err}");
    let w = World::new();
    let err = SyncEngine::builder()
        .qbo(w.qbo.clone())
        .ordoro(w.ordoro.clone())
        .store(w.store.clone())
        .clock(w.clock.clone())
        .config(SyncConfig { page_size: 0, ..Default::default() })
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("page_size"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_crash_and_restart_over_sqlite_yields_exactly_one_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.db");
    let w = World::new();
    w.add_sale("1", 30);
    w.ordoro.hang_after_create(true);
    {
        let store = Arc::new(qbo_ordoro::store::SqliteStore::open(&path).unwrap());
        let engine = SyncEngine::builder()
            .qbo(w.qbo.clone())
            .ordoro(w.ordoro.clone())
            .store(store)
            .clock(w.clock.clone())
            .build()
            .unwrap();
        let options = RunOptions::default();
        let run = engine.run_incremental(&options);
        assert!(tokio::time::timeout(Duration::from_secs(30), run).await.is_err());
    }
    w.ordoro.hang_after_create(false);
    // A new process opens the same file.
    let store = Arc::new(qbo_ordoro::store::SqliteStore::open(&path).unwrap());
    assert_eq!(store.pending_entries(REALM).await.unwrap().len(), 1);
    let engine = SyncEngine::builder()
        .qbo(w.qbo.clone())
        .ordoro(w.ordoro.clone())
        .store(store.clone())
        .clock(w.clock.clone())
        .build()
        .unwrap();
    let r = engine.run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(r.summary.created, 1);
    assert_eq!(w.order_count("QBO-INV-1"), 1);
    assert_eq!(w.ordoro.calls("create_order"), 1);
    assert!(store.pending_entries(REALM).await.unwrap().is_empty());
    let logged = store.run_summary(REALM, &r.run_id).await.unwrap();
    assert_eq!(logged, r.summary, "the store's log agrees with the report");
}

#[tokio::test]
async fn both_stores_remove_a_ledger_entry_in_a_commit() {
    use qbo_ordoro::store::{
        Commit, LedgerChange, LedgerEntry, LedgerKey, MemoryStore, SqliteStore,
    };
    let stores: Vec<Arc<dyn qbo_ordoro::Store>> =
        vec![Arc::new(MemoryStore::new()), Arc::new(SqliteStore::open_in_memory().unwrap())];
    for store in stores {
        let key = LedgerKey { realm: REALM.into(), entity: Invoice, qbo_id: "1".into() };
        let entry = LedgerEntry {
            key: key.clone(),
            order_id: "QBO-INV-1".into(),
            order_number: None,
            sync_token: "0".into(),
            state: LedgerState::Pending,
            updated_at: utc(2024, 6, 3, 12, 0, 0),
        };
        store.put_ledger_entry(&entry).await.unwrap();
        let other = LedgerKey { qbo_id: "2".into(), ..key.clone() };
        store.put_ledger_entry(&LedgerEntry { key: other.clone(), ..entry.clone() }).await.unwrap();
        let removal = |n: usize| Commit {
            log: LogEntry {
                run_id: format!("run-{n}"),
                at: utc(2024, 6, 3, 12, 0, 0),
                realm: REALM.into(),
                entity: Invoice,
                qbo_id: "1".into(),
                doc_number: None,
                customer: None,
                sync_token: Some("0".into()),
                last_updated: None,
                action: Action::Skipped,
                reason: Some(Reason::Deleted),
                detail: None,
                order_number: None,
                failure: None,
                dry_run: false,
            },
            ledger: Some(LedgerChange::Remove(key.clone())),
            cursor: None,
        };
        store.commit(&removal(1)).await.unwrap();
        assert_eq!(store.ledger_entry(&key).await.unwrap(), None);
        assert!(store.ledger_entry(&other).await.unwrap().is_some(), "only that entry goes");
        store.commit(&removal(2)).await.unwrap();
        assert_eq!(store.pending_entries(REALM).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_report_keeps_at_most_report_entries_but_counts_and_stores_them_all() {
    let w = World::new();
    for i in 0..5 {
        w.add_sale(&format!("{}", 100 + i), 50 - i);
    }
    let config = SyncConfig { report_entries: 3, ..SyncConfig::default() };
    let dry = w.engine(config.clone()).run_incremental(&RunOptions::dry_run()).await.unwrap();
    assert_eq!((dry.entries.len(), dry.entries_omitted), (5, 0), "a dry run keeps every entry");

    let report = w.engine(config).run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(report.summary.created, 5);
    assert_eq!((report.entries.len(), report.entries_omitted), (3, 2));
    let ids: Vec<&str> = report.entries.iter().map(|e| e.qbo_id.as_str()).collect();
    assert_eq!(ids, ["100", "101", "102"], "the first entries, in the order written");
    let query =
        qbo_ordoro::store::LogQuery { run_id: Some(report.run_id.clone()), ..Default::default() };
    assert_eq!(w.store.query_log(&query).await.unwrap().len(), 5, "the store has them all");
}

/// A `QboApi` without the answer's JSON (the default `get_transaction_json`): the inspection
/// shows the typed document serialised, and says it is not verbatim.
#[tokio::test]
async fn inspect_over_a_port_without_raw_json_serialises_the_typed_document() {
    let w = World::new();
    w.add_sale("41", 10);
    let target = TxnRef::Id { entity: Some(Invoice), id: "41".into() };
    let seen = w.engine(SyncConfig::default()).inspect(&target).await.unwrap();
    let document = seen.document.expect("the fake has it");
    assert!(!document.verbatim);
    assert_eq!(document.json["Id"], "41");
    assert_eq!(document.transaction.doc.id, "41");
    assert_eq!(
        serde_json::from_value::<qbo_ordoro::model::qbo::SalesTransaction>(document.json).unwrap(),
        document.transaction.doc,
        "the JSON is the typed document"
    );
    assert!(seen.decision.is_some());
    assert!(w.store.log_entries().is_empty());
}
