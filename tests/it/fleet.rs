//! The `Fleet` runner (issue 16) over a `MemoryCoordinator` and the simulators, in virtual time:
//! two workers share the companies and every sale becomes one order; one worker with one slot
//! serves twenty companies fairly; shutdown finishes the runs and releases every lease; queued
//! webhook events are run as a change-driven run and acknowledged; a run whose lease was lost
//! does not release and is counted; a worker whose renewals fail sends no write once its lease
//! has less than the margin left; `FleetConfig::validate` names what cannot run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use qbo_ordoro::engine::SyncConfig;
use qbo_ordoro::fleet::{Coordinator, Fleet, FleetConfig};
use qbo_ordoro::model::qbo::EntityKind::{Invoice, SalesReceipt};
use qbo_ordoro::sim::ordoro::{OrdoroSimConfig, SimLatency};
use qbo_ordoro::sim::qbo::QboSimConfig;
use qbo_ordoro::transport::{
    HttpRequest, HttpResponse, HttpTransport, SharedTransport, TransportError,
};
use qbo_ordoro::webhook::{ChangeEvent, Operation};
use qbo_ordoro::{Clock, Error, ErrorKind};

use crate::support::fleet::{FleetWorld, Hook, Hooked, Layer, later};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 3, 12, 0, 0).unwrap()
}

fn worker(name: &str, max_concurrent: usize) -> FleetConfig {
    FleetConfig {
        worker: name.into(),
        max_concurrent,
        poll_interval: Duration::from_secs(60),
        retry_in: Duration::from_secs(30),
        ..FleetConfig::default()
    }
}

async fn world(companies: usize, accounts: usize, qbo: QboSimConfig) -> FleetWorld {
    let accounts = vec![OrdoroSimConfig::default(); accounts];
    FleetWorld::start(start(), companies, qbo, accounts).await
}

fn fleet(w: &FleetWorld, coordinator: Arc<dyn Coordinator>, config: FleetConfig) -> Fleet {
    let factory = w.factory(SyncConfig::default(), None, None);
    Fleet::start(coordinator, w.clock.clone(), factory, config).unwrap()
}

#[tokio::test(start_paused = true)]
async fn two_workers_share_the_companies_and_every_sale_becomes_one_order() {
    let w = world(8, 2, QboSimConfig::default()).await;
    let mut sales = Vec::new();
    for i in 0..8 {
        sales.push((i, Invoice, w.sale(i, Invoice)));
        sales.push((i, SalesReceipt, w.sale(i, SalesReceipt)));
    }
    let a = fleet(&w, w.shared(), worker("a", 2));
    let b = fleet(&w, w.shared(), worker("b", 2));
    later(600).await;
    for (i, kind, id) in &sales {
        assert_eq!(w.count(*i, *kind, id), 1, "company {i}'s {kind} {id}");
    }
    let (sa, sb) = (a.stats(), b.stats());
    assert!(sa.runs > 0 && sb.runs > 0, "both workers ran companies: {sa:?} {sb:?}");
    assert_eq!(sa.created + sb.created, 16, "{sa:?} {sb:?}");
    assert_eq!(sa.leases_lost + sb.leases_lost + sa.failed_runs + sb.failed_runs, 0);
    a.shutdown().await;
    b.shutdown().await;
    assert!(w.states().await.iter().all(|s| s.holder.is_none()), "every lease released");
}

#[tokio::test(start_paused = true)]
async fn one_slot_serves_twenty_companies_fairly() {
    let w = world(20, 1, QboSimConfig::default()).await;
    let one = fleet(&w, w.shared(), worker("only", 1));
    // A sale for every company every minute for half an hour; each order's wait is measured
    // every 5 s. A company passed over (starved) would wait for ever.
    let mut waiting: Vec<(usize, String, DateTime<Utc>)> = Vec::new();
    let mut longest = chrono::Duration::zero();
    let mut ordered = 0;
    for tick in 0..(40 * 12) {
        if tick % 12 == 0 && tick < 30 * 12 {
            for i in 0..20 {
                waiting.push((i, w.sale(i, Invoice), w.clock.now()));
            }
        }
        later(5).await;
        let now = w.clock.now();
        waiting.retain(|(i, id, since)| {
            longest = longest.max(now - *since);
            let done = w.count(*i, Invoice, id) == 1;
            ordered += usize::from(done);
            !done
        });
    }
    assert!(waiting.is_empty(), "{} sales never ordered: {waiting:?}", waiting.len());
    assert_eq!(ordered, 20 * 30);
    // One slot, twenty companies: a round takes each company's run in turn (a few seconds
    // each), so no sale waits more than a few rounds.
    assert!(longest <= chrono::Duration::minutes(4), "a sale waited {longest}");
    for i in 0..20 {
        let cursor = w.cursor(i, Invoice).await.expect("every company's cursor is saved");
        assert!(cursor > start() + chrono::Duration::minutes(25), "company {i}: {cursor}");
    }
    one.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_finishes_the_runs_and_releases_every_lease() {
    // Each QBO request takes 5 s, so runs are in progress when the shutdown comes.
    let qbo = QboSimConfig { latency: Duration::from_secs(5), ..QboSimConfig::default() };
    let w = world(4, 1, qbo).await;
    let sales: Vec<_> = (0..4).map(|i| (i, w.sale(i, Invoice))).collect();
    let one = fleet(&w, w.shared(), worker("only", 4));
    later(2).await;
    let held = w.states().await.iter().filter(|s| s.holder.is_some()).count();
    assert_eq!(held, 4, "the four companies are being run");
    one.shutdown().await;
    let stats = one.stats();
    assert_eq!(stats.runs, stats.claims, "every run claimed ended: {stats:?}");
    for state in w.states().await {
        assert_eq!(state.holder, None, "{state:?}");
        assert_eq!(state.runs, 1, "released by its run: {state:?}");
    }
    for (i, id) in sales {
        assert_eq!(w.count(i, Invoice, &id), 1, "the run in progress finished: company {i}");
    }
}

#[tokio::test(start_paused = true)]
async fn queued_webhook_events_are_run_as_changes_and_acknowledged() {
    let w = world(3, 1, QboSimConfig::default()).await;
    let config = FleetConfig { poll_interval: Duration::from_secs(24 * 3600), ..worker("w", 2) };
    let one = fleet(&w, w.shared(), config);
    later(30).await;
    assert!(w.states().await.iter().all(|s| s.runs == 1), "each company's first poll");
    let id = w.sale(1, Invoice);
    let event = ChangeEvent {
        realm_id: w.companies[1].realm.clone(),
        entity: "Invoice".into(),
        qbo_id: id.clone(),
        operation: Operation::Create,
        event_id: Some("ev-1".into()),
        occurred_at: Some(w.clock.now()),
        deleted_id: None,
    };
    assert_eq!(w.coordinator.enqueue_events(std::slice::from_ref(&event)).await.unwrap(), 1);
    later(10).await;
    assert_eq!(w.count(1, Invoice, &id), 1, "the queued event's sale is ordered at once");
    let states = w.states().await;
    assert_eq!(states.iter().map(|s| s.runs).collect::<Vec<_>>(), [1, 2, 1], "only it ran");
    assert_eq!(states[1].queued_events, 0, "acknowledged");
    let store = w.coordinator.store();
    let processed = store.processed_events(&event.realm_id, &[event.dedupe_key()]).await.unwrap();
    assert_eq!(processed, [event.dedupe_key()], "run through run_changes, which remembers it");
    one.shutdown().await;
}

/// A hook that fails every renewal, as a coordinator the worker cannot reach would.
fn renewals_fail() -> Hook {
    Arc::new(|call| {
        Box::pin(async move {
            if call == "renew" {
                Err(Error::new(ErrorKind::Transport, "the coordinator cannot be reached"))
            } else {
                Ok(())
            }
        })
    })
}

#[tokio::test(start_paused = true)]
async fn a_run_whose_lease_was_lost_does_not_release_and_is_counted() {
    // A run lasts minutes (QBO answers after 20 s) and its renewals fail: the lease runs out
    // and another worker takes the company.
    let qbo = QboSimConfig { latency: Duration::from_secs(20), ..QboSimConfig::default() };
    let w = world(1, 1, qbo).await;
    let id = w.sale(0, Invoice);
    let hooked = Arc::new(Hooked { inner: w.shared(), hook: renewals_fail() });
    let stale = fleet(&w, hooked, worker("stale", 1));
    later(31).await;
    let taken = w.coordinator.claim("thief", 1, Duration::from_secs(3600)).await.unwrap();
    assert_eq!(taken.len(), 1, "the expired lease is claimed by another worker");
    later(600).await;
    let stats = stale.stats();
    assert_eq!((stats.runs, stats.leases_lost, stats.failed_runs), (1, 1, 0), "{stats:?}");
    let state = &w.states().await[0];
    assert_eq!(state.holder.as_deref(), Some("thief"), "{state:?}");
    assert_eq!(state.epoch, taken[0].epoch, "still the thief's lease");
    assert_eq!(state.runs, 0, "nobody released it");
    assert_eq!(w.count(0, Invoice, &id), 0, "the stale worker created nothing");
    stale.shutdown().await;
}

/// Each write's instant and the lease time left then.
type WriteLog = Arc<Mutex<Vec<(DateTime<Utc>, chrono::Duration)>>>;

/// Records each write to Ordoro with the lease time left by the coordinator's reckoning.
#[derive(Debug)]
struct Writes {
    inner: SharedTransport,
    clock: Arc<dyn Clock>,
    expires_at: DateTime<Utc>,
    seen: WriteLog,
}

#[async_trait::async_trait]
impl HttpTransport for Writes {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if request.method() != http::Method::GET {
            let now = self.clock.now();
            self.seen.lock().unwrap().push((now, self.expires_at - now));
        }
        self.inner.send(request).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_worker_whose_renewals_fail_stops_writing_before_its_lease_ends() {
    // Creates take 4 s each, one at a time: twelve of them outlast a lease of 30 s.
    let ordoro = OrdoroSimConfig {
        latency: SimLatency { create: Duration::from_secs(4), ..SimLatency::default() },
        ..OrdoroSimConfig::default()
    };
    let w = FleetWorld::start(start(), 1, QboSimConfig::default(), vec![ordoro]).await;
    let sales: Vec<_> = (0..12).map(|_| w.sale(0, Invoice)).collect();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (clock, record) = (w.clock.clone(), seen.clone());
    let layer: Layer = Arc::new(move |run, inner| {
        SharedTransport::new(Writes {
            inner,
            clock: clock.clone(),
            expires_at: run.lease.expires_at,
            seen: record.clone(),
        })
    });
    let base = SyncConfig { max_concurrency: 1, ..SyncConfig::default() };
    let factory = w.factory(base, None, Some(layer));
    let hooked = Arc::new(Hooked { inner: w.shared(), hook: renewals_fail() });
    let config = worker("w", 1);
    let margin = chrono::Duration::from_std(config.write_margin).unwrap();
    let one = Fleet::start(hooked, w.clock.clone(), factory, config).unwrap();
    later(1800).await;
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 12, "every create was sent in the end: {}", seen.len());
    for (at, left) in &seen {
        assert!(*left >= margin, "a write at {at} with only {left} of its lease left");
    }
    let stats = one.stats();
    assert!(stats.leases_lost >= 1, "a write was withheld, ending a run: {stats:?}");
    assert!(stats.claims >= 2, "later leases finished the work: {stats:?}");
    for id in &sales {
        assert_eq!(w.count(0, Invoice, id), 1, "invoice {id}");
    }
    let mut per_run: BTreeMap<i64, u32> = BTreeMap::new();
    for (at, left) in &seen {
        *per_run.entry((*at + *left).timestamp()).or_default() += 1;
    }
    assert!(per_run.len() >= 2, "the creates were spread over several leases: {per_run:?}");
    one.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_dropped_worker_stops_renewing_and_another_takes_its_companies() {
    // A run lasts minutes (QBO answers after 20 s); the worker is dropped in the middle, as a
    // process that dies: its lease must run out, not be renewed by a task left behind.
    let qbo = QboSimConfig { latency: Duration::from_secs(20), ..QboSimConfig::default() };
    let w = world(1, 1, qbo).await;
    let id = w.sale(0, Invoice);
    let dead = fleet(&w, w.shared(), worker("dead", 1));
    later(5).await;
    assert_eq!(w.states().await[0].holder.as_deref(), Some("dead"));
    drop(dead);
    let heir = fleet(&w, w.shared(), worker("heir", 1));
    later(45).await;
    assert_eq!(w.states().await[0].holder.as_deref(), Some("heir"), "the lease ran out");
    later(900).await;
    assert_eq!(w.count(0, Invoice, &id), 1);
    heir.shutdown().await;
}

#[test]
fn validate_names_what_cannot_run() {
    let ok = FleetConfig { worker: "w".into(), ..FleetConfig::default() };
    assert!(ok.validate().is_ok());
    let cases = [
        (FleetConfig { worker: " ".into(), ..ok.clone() }, "name"),
        (FleetConfig { max_concurrent: 0, ..ok.clone() }, "max_concurrent"),
        (
            FleetConfig {
                write_margin: Duration::from_secs(30),
                lease_for: Duration::from_secs(30),
                ..ok.clone()
            },
            "write_margin",
        ),
        (FleetConfig { ordoro_per_minute: 0, ..ok.clone() }, "ordoro_per_minute"),
    ];
    for (config, names) in cases {
        let err = config.validate().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        assert!(err.to_string().contains(names), "{err} should name {names}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_fleet_does_not_start_with_a_config_that_cannot_run() {
    let w = world(1, 1, QboSimConfig::default()).await;
    let config = FleetConfig { max_concurrent: 0, ..worker("w", 1) };
    let factory = w.factory(SyncConfig::default(), None, None);
    let err = Fleet::start(w.shared(), w.clock.clone(), factory, config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    later(60).await;
    assert_eq!(w.states().await[0].epoch, 0, "nothing was claimed");
}
