//! The engine with creates in flight at once, in tokio's paused (virtual) time: the concurrency
//! bound holds, and a crash at any moment leaves a cursor that never passes an unhandled
//! transaction and a state from which a restart makes exactly one order per sale.

use std::sync::Arc;
use std::time::Duration;

use qbo_ordoro::engine::{RunOptions, SyncConfig, SyncEngine};
use qbo_ordoro::model::qbo::EntityKind::Invoice;
use qbo_ordoro::sim::qbo::to_pacific;
use qbo_ordoro::store::LedgerState;
use qbo_ordoro::store::MemoryStore;
use qbo_ordoro::{Clock, TokioClock};

use crate::support::fakes::{FakeOrdoro, FakeQbo, sale, utc};

struct World {
    clock: Arc<TokioClock>,
    qbo: Arc<FakeQbo>,
    ordoro: Arc<FakeOrdoro>,
    store: Arc<MemoryStore>,
}

fn world(sales: usize) -> World {
    let clock = Arc::new(TokioClock::starting_at(utc(2024, 6, 3, 12, 0, 0)));
    let qbo = FakeQbo::new("9130", clock.clone());
    for i in 0..sales {
        // Pairs of sales share a second, so ties meet concurrency.
        let at = clock.now() - chrono::Duration::seconds(600 - (i as i64 / 2) * 10);
        qbo.add(Invoice, sale(&i.to_string(), Some("Ordoro"), to_pacific(at)));
    }
    let ordoro = FakeOrdoro::new(clock.clone());
    ordoro.create_delay(Duration::from_millis(400));
    ordoro.vary_create_delay(true);
    World { clock, qbo, ordoro, store: Arc::new(MemoryStore::new()) }
}

fn engine(w: &World, max_concurrency: usize) -> SyncEngine {
    SyncEngine::builder()
        .qbo(w.qbo.clone())
        .ordoro(w.ordoro.clone())
        .store(w.store.clone())
        .clock(w.clock.clone())
        .config(SyncConfig { max_concurrency, page_size: 5, ..Default::default() })
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn creates_run_concurrently_up_to_the_bound() {
    let w = world(20);
    let report = engine(&w, 4).run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(report.summary.created, 20);
    assert_eq!(w.ordoro.peak_in_flight(), 4);
    assert_eq!(w.ordoro.orders().len(), 20);
    assert_eq!(
        w.store.cursors().get("9130/Invoice").copied(),
        Some(report.started_at),
        "every out-of-order completion handled, so the cursor reaches the run's start"
    );
}

#[tokio::test(start_paused = true)]
async fn a_crash_at_any_moment_keeps_the_cursor_honest_and_the_restart_exact() {
    let (mut saw_partial_cursor, mut saw_pending) = (false, false);
    for crash_after_ms in (100..=3000).step_by(100) {
        let w = world(12);
        let start = w.clock.now();
        {
            let e = engine(&w, 4);
            let options = RunOptions::default();
            let run = e.run_incremental(&options);
            let _ = tokio::time::timeout(Duration::from_millis(crash_after_ms), run).await;
        }
        saw_pending |= w.store.ledger_entries().iter().any(|e| e.state == LedgerState::Pending);
        // Invariant: every transaction stamped before the saved cursor is handled.
        if let Some(cursor) = w.store.cursors().get("9130/Invoice").copied() {
            saw_partial_cursor |= cursor < start;
            let ledger = w.store.ledger_entries();
            for i in 0..12 {
                let at = utc(2024, 6, 3, 12, 0, 0) - chrono::Duration::seconds(600 - (i / 2) * 10);
                if at < cursor {
                    let id = i.to_string();
                    let e = ledger.iter().find(|e| e.key.qbo_id == id);
                    assert_eq!(
                        e.map(|e| e.state),
                        Some(LedgerState::Created),
                        "crash at {crash_after_ms} ms: cursor {cursor} passed unhandled sale {id}"
                    );
                }
            }
        }
        let restarted = engine(&w, 4);
        let mut restart = restarted.run_incremental(&RunOptions::default()).await.unwrap();
        if let Some(at) = restart.settle_at {
            // A create that never reached Ordoro is sent again only once its lookup is believed.
            tokio::time::sleep((at - w.clock.now()).to_std().unwrap_or_default()).await;
            restart = restarted.run_incremental(&RunOptions::default()).await.unwrap();
            assert_eq!(restart.settle_at, None, "crash at {crash_after_ms} ms");
        }
        assert_eq!(restart.aborted, None);
        let orders = w.ordoro.orders();
        assert_eq!(orders.len(), 12, "crash at {crash_after_ms} ms");
        for i in 0..12 {
            let id = format!("QBO-INV-{i}");
            let n =
                orders.iter().filter(|o| o.cart_order_id.as_deref() == Some(id.as_str())).count();
            assert_eq!(n, 1, "crash at {crash_after_ms} ms: {id}");
        }
        assert!(w.store.ledger_entries().iter().all(|e| e.state == LedgerState::Created));
    }
    assert!(saw_partial_cursor, "some crash came after a checkpoint mid-window");
    assert!(saw_pending, "some crash came between a create and its save");
}
