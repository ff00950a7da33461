//! The request budget of a backfill, end to end: the engine through the real QBO and Ordoro
//! clients against the simulators (with their latency and limits), in virtual time. Guards the
//! counts that set how close a sync sits to the services' floor: QBO pages per entity, one
//! Ordoro write per new order, and a run that finds nothing new costing two QBO queries and no
//! Ordoro call; the company's country (CompanyInfo) costs one more request on the first run of a
//! day, and none when the host sets it. (`examples/bench_sync.rs` measures the same at 10,000 and 100,000 sales.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use qbo_ordoro::OrdoroClient;
use qbo_ordoro::QboClient;
use qbo_ordoro::engine::{RunOptions, RunReport, SyncConfig, SyncEngine};
use qbo_ordoro::mapping::MappingConfig;
use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::ordoro::http::DEFAULT_ORDORO_BUDGET;
use qbo_ordoro::sim::ordoro::{OrdoroSim, OrdoroSimConfig};
use qbo_ordoro::sim::qbo::{QboSim, QboSimConfig};
use qbo_ordoro::sim::sample::generate_eligible;
use qbo_ordoro::store::MemoryStore;
use qbo_ordoro::{
    Clock, HttpRequest, HttpResponse, HttpTransport, SharedTransport, TokenStore, TokioClock,
    TransportError,
};

const REALM: &str = "9130350000000001";
const CART: i64 = 4242;
const SALES: usize = 2000;

/// Counts requests by what they are, below the clients' pacing (so a retry counts too).
#[derive(Debug)]
struct Counted {
    inner: SharedTransport,
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

#[async_trait::async_trait]
impl HttpTransport for Counted {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let kind = kind_of(&request);
        *self.counts.lock().unwrap().entry(kind).or_default() += 1;
        self.inner.send(request).await
    }
}

fn kind_of(request: &HttpRequest) -> String {
    let path = request.uri().path();
    if path.ends_with("/oauth2/v1/tokens/bearer") {
        return "qbo token".into();
    }
    if path.ends_with("/query") {
        let mut text = String::from_utf8_lossy(request.body()).to_ascii_lowercase();
        for (_, v) in form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes()) {
            text.push_str(&v.to_ascii_lowercase());
        }
        for entity in EntityKind::ALL {
            if text.contains(&format!("from {}", entity.as_str().to_ascii_lowercase())) {
                return format!("qbo query {entity}");
            }
        }
        if text.contains("from item ") {
            return "qbo query Item".into();
        }
        return "qbo query other".into();
    }
    if path.contains("/companyinfo/") {
        return "qbo companyinfo".into();
    }
    if path.starts_with("/v3/company/") {
        return "qbo other".into();
    }
    format!("ordoro {}", request.method())
}

struct World {
    clock: Arc<TokioClock>,
    qbo: Arc<QboSim>,
    ordoro: Arc<OrdoroSim>,
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    engine: SyncEngine,
    per_entity: BTreeMap<EntityKind, u64>,
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}

/// `SALES` eligible sales over the last 29 days (QBO stamps whole seconds, so they do not share
/// seconds), the services' real latency and limits, the clients' default budgets.
async fn world(page_size: u32) -> World {
    world_with(page_size, MappingConfig::default()).await
}

async fn world_with(page_size: u32, mapping: MappingConfig) -> World {
    let clock = Arc::new(TokioClock::starting_at(start()));
    let qbo_config = QboSimConfig { latency: Duration::from_millis(300), ..Default::default() };
    let qbo = Arc::new(QboSim::with_config(clock.clone(), qbo_config));
    let ordoro = Arc::new(OrdoroSim::with_config(clock.clone(), OrdoroSimConfig::default()));
    ordoro.add_sales_channel(CART);
    let step = chrono::Duration::seconds(29 * 24 * 3600 / SALES as i64);
    let sales = generate_eligible(7, SALES, start() - chrono::Duration::days(29), step);
    let mut per_entity = BTreeMap::new();
    for sale in sales {
        *per_entity.entry(sale.txn.kind).or_default() += 1;
        qbo.insert(REALM, sale.txn);
    }
    let store = Arc::new(MemoryStore::new());
    store.save_token(REALM, &qbo.connect(REALM)).await.unwrap();
    let counts = Arc::new(Mutex::new(BTreeMap::new()));
    let counted =
        |inner: SharedTransport| SharedTransport::new(Counted { inner, counts: counts.clone() });
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let qbo_client = QboClient::new(
        qbo.client_config(REALM),
        counted(SharedTransport::from_arc(qbo.clone())),
        dyn_clock.clone(),
        store.clone(),
    )
    .unwrap();
    let ordoro_client = OrdoroClient::new(
        ordoro.client_config(),
        counted(SharedTransport::from_arc(ordoro.clone())),
        dyn_clock.clone(),
    )
    .unwrap();
    let config =
        SyncConfig { mapping: mapping.with_cart(Some(CART)), page_size, ..SyncConfig::default() };
    let engine = SyncEngine::builder()
        .qbo(Arc::new(qbo_client))
        .ordoro(Arc::new(ordoro_client))
        .store(store)
        .clock(dyn_clock)
        .config(config)
        .build()
        .unwrap();
    World { clock, qbo, ordoro, counts, engine, per_entity }
}

impl World {
    fn counts(&self) -> BTreeMap<String, u64> {
        self.counts.lock().unwrap().clone()
    }

    async fn run(&self) -> (RunReport, BTreeMap<String, u64>) {
        let before = self.counts();
        let report = self.engine.run_incremental(&RunOptions::default()).await.unwrap();
        assert_eq!(report.aborted, None);
        let after = self.counts();
        let spent = after
            .iter()
            .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
            .collect();
        (report, spent)
    }
}

fn count(spent: &BTreeMap<String, u64>, kind: &str) -> u64 {
    spent.get(kind).copied().unwrap_or(0)
}

fn total(spent: &BTreeMap<String, u64>, prefix: &str) -> u64 {
    spent.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v).sum()
}

async fn backfill_spends_only_the_requests_it_needs(page_size: u32) {
    let w = world(page_size).await;
    let started = w.clock.now();
    let (report, spent) = w.run().await;
    assert_eq!(report.summary.created, SALES as u64, "{}", report.summary);
    let minutes = (w.clock.now() - started).num_milliseconds() as f64 / 60_000.0;
    let floor = SALES as f64 / f64::from(DEFAULT_ORDORO_BUDGET.per_minute);
    // Virtual time: deterministic, the pacing's arithmetic rather than this machine's speed.
    assert!(minutes <= 1.05 * floor, "{minutes:.2} simulated minutes, floor {floor:.2}");
    let peak = w.ordoro.stats().peak_per_minute;
    assert!(peak <= DEFAULT_ORDORO_BUDGET.per_minute as usize, "{peak} a minute, over the budget");
    assert_eq!(report.summary.failed, 0);
    for entity in EntityKind::ALL {
        let rows = w.per_entity[&entity];
        let pages = count(&spent, &format!("qbo query {entity}"));
        let bound = rows.div_ceil(u64::from(page_size)) + 1;
        assert!(pages <= bound, "{entity}: {pages} pages for {rows} rows, bound {bound}");
    }
    assert_eq!(count(&spent, "qbo companyinfo"), 1, "the company's country, read once");
    // Items are read in batches and asked for once a run: within one extra QBO request per
    // page of transactions (here one query: every product shows on the first page).
    let pages = total(&spent, "qbo query Invoice") + total(&spent, "qbo query SalesReceipt");
    let item_queries = count(&spent, "qbo query Item");
    assert!(item_queries <= pages, "{item_queries} item queries for {pages} pages: {spent:?}");
    assert!(item_queries >= 1, "the sales' items are read: {spent:?}");
    assert_eq!(total(&spent, "qbo"), pages + item_queries + 1);
    assert_eq!(count(&spent, "ordoro POST"), SALES as u64, "one create per new order");
    assert_eq!(total(&spent, "ordoro"), SALES as u64, "no lookup, no other write: {spent:?}");
    assert_eq!(w.ordoro.orders().len(), SALES);
    assert_eq!(w.ordoro.stats().throttled, 0, "paced under Ordoro's limit");
    assert_eq!(w.qbo.stats().throttled, 0, "paced under QBO's limit");

    tokio::time::sleep(Duration::from_secs(15 * 60)).await;
    let (again, idle) = w.run().await;
    assert_eq!(again.summary.created, 0);
    assert_eq!(count(&idle, "qbo query Invoice") + count(&idle, "qbo query SalesReceipt"), 2);
    assert!(total(&idle, "qbo") <= 2, "nothing new: one query per entity, no token call: {idle:?}");
    assert_eq!(total(&idle, "ordoro"), 0, "nothing new: no Ordoro call: {idle:?}");
}

#[tokio::test(start_paused = true)]
async fn a_backfill_sits_on_the_budget_floor_and_reads_ceil_n_over_1000_plus_one_pages() {
    backfill_spends_only_the_requests_it_needs(1000).await;
}

#[tokio::test(start_paused = true)]
async fn smaller_pages_keep_the_bound_too() {
    backfill_spends_only_the_requests_it_needs(100).await;
}

/// An idle run costs exactly two QBO requests (one query per entity) once the company's country
/// is cached; the first run after a day also reads CompanyInfo, once, and the one after it is
/// back to two.
#[tokio::test(start_paused = true)]
async fn an_idle_run_costs_two_requests_and_the_first_run_of_a_day_three() {
    let w = world(1000).await;
    let (first, spent) = w.run().await;
    assert_eq!(first.summary.created, SALES as u64);
    assert_eq!(count(&spent, "qbo companyinfo"), 1);
    assert_eq!(first.company_country, "US");
    let mut runs = Vec::new();
    // Every 15 minutes for a little over a day: the 97th run is the first one past 24 hours.
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_secs(15 * 60)).await;
        let (report, idle) = w.run().await;
        assert_eq!(report.summary.created, 0);
        assert_eq!(total(&idle, "ordoro"), 0, "{idle:?}");
        // The token endpoint (another host, once an hour when the access token ends) aside.
        runs.push(total(&idle, "qbo") - count(&idle, "qbo token"));
    }
    let (elapsed_day, rest): (Vec<_>, Vec<_>) =
        runs.iter().enumerate().partition(|(i, _)| (*i + 1) * 15 >= 24 * 60);
    assert!(rest.iter().all(|(_, n)| **n == 2), "idle runs within the day: {runs:?}");
    let after: Vec<u64> = elapsed_day.iter().map(|(_, n)| **n).collect();
    assert_eq!(after[0], 3, "the first run a day later reads CompanyInfo again: {runs:?}");
    assert!(after[1..].iter().all(|n| *n == 2), "then two again: {runs:?}");
}

/// A company country set by the host costs no request, ever.
#[tokio::test(start_paused = true)]
async fn a_configured_company_country_costs_no_request() {
    let w = world_with(1000, MappingConfig::default().with_company_country(Some("US"))).await;
    let (first, spent) = w.run().await;
    assert_eq!(first.summary.created, SALES as u64);
    assert_eq!(count(&spent, "qbo companyinfo"), 0, "{spent:?}");
    assert_eq!(w.qbo.stats().company_reads, 0);
    tokio::time::sleep(Duration::from_secs(25 * 3600)).await;
    let (_, idle) = w.run().await;
    assert_eq!(total(&idle, "qbo") - count(&idle, "qbo token"), 2, "{idle:?}");
}
