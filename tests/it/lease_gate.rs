//! The lease gate under the real Ordoro client (issue 16): a write without enough lease left is
//! withheld, never sent and never retried; the engine ends the run on it and leaves the pending
//! create for the company's next holder, whose settle makes exactly one order.

use std::sync::Arc;
use std::time::Duration;

use qbo_ordoro::engine::{RunOptions, SyncConfig, SyncEngine};
use qbo_ordoro::fleet::LeaseGate;
use qbo_ordoro::model::ordoro::NewOrder;
use qbo_ordoro::model::qbo::EntityKind::Invoice;
use qbo_ordoro::sim::ordoro::OrdoroSim;
use qbo_ordoro::sim::qbo::to_pacific;
use qbo_ordoro::store::{LedgerKey, LedgerState, MemoryStore, Store};
use qbo_ordoro::{Clock, ErrorKind, OrdoroApi, OrdoroClient, SharedTransport, TokioClock};

use crate::support::fakes::{FakeQbo, sale, utc};

const LEASE: Duration = Duration::from_secs(30);
const MARGIN: Duration = Duration::from_secs(10);

struct World {
    clock: Arc<TokioClock>,
    gate: LeaseGate,
    ordoro: Arc<OrdoroSim>,
    client: Arc<OrdoroClient>,
}

fn world() -> World {
    let clock = Arc::new(TokioClock::starting_at(utc(2026, 3, 2, 12, 0, 0)));
    let ordoro = Arc::new(OrdoroSim::new(clock.clone()));
    let gate = LeaseGate::new(clock.clone(), MARGIN);
    let transport = gate.transport(SharedTransport::from_arc(ordoro.clone()));
    let client = OrdoroClient::new(ordoro.client_config(), transport, clock.clone()).unwrap();
    World { clock, gate, ordoro, client: Arc::new(client) }
}

fn order(id: &str) -> NewOrder {
    NewOrder { order_id: id.into(), ..NewOrder::default() }
}

#[tokio::test(start_paused = true)]
async fn a_write_without_enough_lease_left_is_withheld_and_never_retried() {
    let w = world();
    w.gate.held_until(w.clock.now() + chrono::Duration::seconds(30));
    w.client.create_order(&order("first")).await.unwrap();
    assert_eq!(w.ordoro.orders().len(), 1, "with 30 s left, the create went out");

    tokio::time::advance(Duration::from_secs(21)).await;
    let err = w.client.create_order(&order("second")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LeaseLost, "{err}");
    assert!(err.to_string().contains("withheld"), "{err}");
    assert_eq!(w.ordoro.stats().writes, 1, "the withheld create never reached Ordoro");
    assert_eq!(w.ordoro.orders().len(), 1);

    // Reads still pass: looking an order up changes nothing.
    let first = w.ordoro.orders()[0].order_number.clone();
    assert!(w.client.get_order(&first).await.is_ok());
    w.gate.revoke();
    assert_eq!(
        w.client.create_order(&order("third")).await.unwrap_err().kind(),
        ErrorKind::LeaseLost
    );
    assert_eq!(w.ordoro.stats().writes, 1);
}

#[tokio::test(start_paused = true)]
async fn a_run_whose_lease_runs_short_stops_and_the_next_holder_makes_one_order_per_sale() {
    let w = world();
    let qbo = FakeQbo::new("9130", w.clock.clone());
    for i in 0..3 {
        let at = w.clock.now() - chrono::Duration::seconds(600 - i * 10);
        qbo.add(Invoice, sale(&i.to_string(), Some("Ordoro"), to_pacific(at)));
    }
    let store = Arc::new(MemoryStore::new());
    let engine = |ordoro: Arc<OrdoroClient>| -> SyncEngine {
        SyncEngine::builder()
            .qbo(qbo.clone())
            .ordoro(ordoro)
            .store(store.clone())
            .clock(w.clock.clone())
            .config(SyncConfig { max_concurrency: 1, ..Default::default() })
            .build()
            .unwrap()
    };

    // The worker's lease has 9 s left: less than the margin a write needs.
    w.gate.held_until(w.clock.now() + chrono::Duration::seconds(9));
    let err = engine(w.client.clone()).run_incremental(&RunOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LeaseLost, "{err}");
    assert_eq!(w.ordoro.stats().writes, 0, "nothing was sent");
    let pending = store.pending_entries("9130").await.unwrap();
    assert_eq!(pending.len(), 1, "the create it withheld stays pending for the next holder");
    assert_eq!(store.cursor("9130/Invoice").await.unwrap(), None, "the cursor did not move");

    // The next holder: a fresh lease. Its first run settles the pending create by lookup and
    // waits (not found is believed only `settle_after` after the attempt); later, one order each.
    let next = LeaseGate::new(w.clock.clone(), MARGIN);
    let transport = next.transport(SharedTransport::from_arc(w.ordoro.clone()));
    let client =
        Arc::new(OrdoroClient::new(w.ordoro.client_config(), transport, w.clock.clone()).unwrap());
    next.held_until(w.clock.now() + chrono::Duration::from_std(LEASE).unwrap() * 100);
    let report = engine(client.clone()).run_incremental(&RunOptions::default()).await.unwrap();
    let settle_at = report.settle_at.expect("the unconfirmed create is settled later");
    tokio::time::advance((settle_at - w.clock.now()).to_std().unwrap() + Duration::from_secs(1))
        .await;
    engine(client).run_incremental(&RunOptions::default()).await.unwrap();
    assert_eq!(w.ordoro.orders().len(), 3);
    let entries = store.pending_entries("9130").await.unwrap();
    assert!(entries.is_empty(), "{entries:?}");
    for i in 0..3 {
        let key = LedgerKey { realm: "9130".into(), entity: Invoice, qbo_id: i.to_string() };
        let entry = store.ledger_entry(&key).await.unwrap().unwrap();
        assert_eq!(entry.state, LedgerState::Created, "{entry:?}");
        assert_eq!(w.ordoro.count_by_order_id(&entry.order_id), 1, "one order per sale");
    }
    assert!(w.ordoro.duplicate_creates().is_empty(), "{:?}", w.ordoro.duplicate_creates());
}
