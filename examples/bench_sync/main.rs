//! End-to-end sync benchmark: backfills of eligible sales through the real QBO and Ordoro clients
//! and the simulators, beside a baseline sync written the obvious way (one QBO page at a time,
//! then one create at a time) through the same clients, so every gain is a measured ratio.
//!
//! ```text
//! cargo run --release --example bench_sync -- virtual  [--orders N] [--budget-percent P] [--no-baseline]
//! cargo run --release --example bench_sync -- loopback [--orders N] [--no-baseline]
//! cargo run --release --example bench_sync -- all      (virtual 10k and 100k, loopback 10k and 100k)
//! cargo run --release --example bench_sync -- freshness [--per-hour N] [--burst N] [--poll-minutes M]
//! ```
//!
//! - `virtual`: tokio's paused clock with [`TokioClock`], the simulators in process with realistic
//!   latency (300 ms a QBO page, 400 ms an Ordoro create) and the real limits (QBO 500 a minute
//!   and 10 at once, Ordoro 500 a minute), the Ordoro client at P% of Ordoro's limit (default
//!   80%, the client's default budget). Reports simulated minutes against the floor set by that
//!   budget, the requests each service saw, and what a following run that finds nothing spends.
//! - `loopback`: real time over [`ReqwestTransport`] against the simulators served on 127.0.0.1
//!   by a child process (this program re-run as `serve`), with no latency and no limits, the
//!   engine's state in a [`SqliteStore`] file. Reports orders a second, CPU time per order and
//!   the peak resident memory of this (the syncing) process only.
//! - `all` runs each measurement in its own process, so that one's peak memory is not another's.
//! - `freshness`: the time from a sale's save in QBO to its order, webhooks on against a poll
//!   (see `freshness.rs`).
//!
//! `--help` lists the modes and their options; a bad command line exits with status 2.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use clap::{ArgAction, Parser, Subcommand};
use qbo_ordoro::engine::{RunOptions, RunReport, SyncConfig, SyncEngine};
use qbo_ordoro::mapping::{Decision, MappingConfig, decide};
use qbo_ordoro::model::qbo::{EntityKind, Transaction};
use qbo_ordoro::ordoro::http::ORDORO_REQUESTS_PER_MINUTE;
use qbo_ordoro::qbo::api::UpdatedQuery;
use qbo_ordoro::sim::loopback::LoopbackServer;
use qbo_ordoro::sim::ordoro::{OrdoroSim, OrdoroSimConfig, SimLatency};
use qbo_ordoro::sim::qbo::{QboSim, QboSimConfig};
use qbo_ordoro::sim::sample::{SampleSale, generate_eligible};
use qbo_ordoro::store::{MemoryStore, SqliteStore, StoredToken};
use qbo_ordoro::transport::{RateBudget, ReqwestTransport};
use qbo_ordoro::{
    Clock, HttpRequest, HttpResponse, HttpTransport, OrdoroApi, OrdoroClient, OrdoroConfig, QboApi,
    QboClient, QboConfig, QboEnvironment, SharedTransport, Store, TokenStore, TokioClock,
    TransportError,
};
use secrecy::ExposeSecret;

mod freshness;

const REALM: &str = "9130350000000001";
const CART: i64 = 4242;
const SEED: u64 = 20_260_801;
const PAGE: u64 = 1000;

type Failure = Box<dyn std::error::Error + Send + Sync>;
type Outcome<T> = Result<T, Failure>;

/// The command line: a mode (default `all`) and its options.
#[derive(Debug, Parser)]
#[command(
    name = "bench_sync",
    about = "End-to-end sync benchmark: backfills of eligible sales through the real QBO and Ordoro\n\
             clients and the simulators, beside a baseline sync written the obvious way.",
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Tokio's paused clock, in-process simulators with realistic latency and the real limits
    #[command(args_override_self = true)]
    Virtual(Options),
    /// Real time over reqwest against the simulators served on 127.0.0.1 by a child process
    #[command(args_override_self = true)]
    Loopback(Options),
    /// Each measurement in its own process: virtual and loopback, 10k and 100k sales (the default)
    All,
    /// Save-to-order times in virtual time: webhooks on against a poll, a steady stream, a
    /// burst and an idle company
    #[command(args_override_self = true)]
    Freshness(freshness::FreshnessOptions),
    /// Serves the simulators for `loopback` (run by it as a child process)
    #[command(hide = true, args_override_self = true)]
    Serve(Options),
}

fn main() -> ExitCode {
    // `--help` exits 0 here, a bad command line 2.
    let result = match Cli::parse().mode {
        Some(Mode::Virtual(o)) => virtual_mode(&o),
        Some(Mode::Loopback(o)) => loopback_mode(&o),
        Some(Mode::Serve(o)) => serve_mode(&o),
        Some(Mode::Freshness(o)) => freshness::freshness_mode(&o),
        Some(Mode::All) | None => all_mode(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_sync: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The options of a measurement (a repeated option keeps its last value).
#[derive(Debug, Clone, clap::Args)]
struct Options {
    /// Eligible sales to sync
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = positive)]
    orders: usize,
    /// Ordoro client's budget, in % of Ordoro's limit (virtual)
    #[arg(long, value_name = "P", default_value_t = 80,
        value_parser = clap::value_parser!(u32).range(1..=100))]
    budget_percent: u32,
    /// Skip the baseline sync
    #[arg(long = "no-baseline", action = ArgAction::SetFalse)]
    baseline: bool,
    /// Seed of the generated sales
    #[arg(long, default_value_t = SEED)]
    seed: u64,
}

fn positive(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a whole number above zero".into()),
    }
}

impl Options {
    /// The Ordoro client's budget: P% of Ordoro's limit, 8 at once (the default's concurrency).
    fn ordoro_budget(&self) -> RateBudget {
        RateBudget::new(ORDORO_REQUESTS_PER_MINUTE * self.budget_percent / 100, 8)
    }
}

/// Runs every measurement in its own process and passes their output through.
fn all_mode() -> Outcome<()> {
    let exe = std::env::current_exe()?;
    let runs: [&[&str]; 4] = [
        &["virtual", "--orders", "10000"],
        &["virtual", "--orders", "100000"],
        &["loopback", "--orders", "10000"],
        &["loopback", "--orders", "100000"],
    ];
    for args in runs {
        let status = Command::new(&exe).args(args).status()?;
        if !status.success() {
            return Err(format!("bench_sync {} failed: {status}", args.join(" ")).into());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Counting requests at the raw transport (below pacing and retries, so every attempt counts).

/// Requests by route, as the services would count them.
#[derive(Debug, Default)]
struct Tally(Mutex<BTreeMap<&'static str, u64>>);

impl Tally {
    fn add(&self, route: &'static str) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()).entry(route).or_default() += 1;
    }

    fn snapshot(&self) -> Counts {
        Counts(self.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

#[derive(Debug, Clone, Default)]
struct Counts(BTreeMap<&'static str, u64>);

impl Counts {
    fn get(&self, route: &str) -> u64 {
        self.0.get(route).copied().unwrap_or(0)
    }

    fn sum(&self, prefix: &str) -> u64 {
        self.0.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v).sum()
    }

    fn since(&self, before: &Counts) -> Counts {
        Counts(self.0.iter().map(|(k, v)| (*k, v - before.get(k))).collect())
    }
}

#[derive(Debug)]
struct Counted {
    inner: SharedTransport,
    tally: Arc<Tally>,
}

#[async_trait::async_trait]
impl HttpTransport for Counted {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.tally.add(route_of(&request));
        self.inner.send(request).await
    }
}

fn route_of(request: &HttpRequest) -> &'static str {
    let path = request.uri().path();
    if path.ends_with("/oauth2/v1/tokens/bearer") {
        return "qbo.token";
    }
    if path.starts_with("/v3/company/") {
        if !path.ends_with("/query") {
            return "qbo.other";
        }
        let mut text = String::from_utf8_lossy(request.body()).to_ascii_lowercase();
        if let Some(q) = request.uri().query() {
            for (_, v) in form_urlencoded::parse(q.as_bytes()) {
                text.push(' ');
                text.push_str(&v.to_ascii_lowercase());
            }
        }
        return if text.contains("from invoice") {
            "qbo.query.Invoice"
        } else if text.contains("from salesreceipt") {
            "qbo.query.SalesReceipt"
        } else if text.contains("from item ") {
            "qbo.query.Item"
        } else {
            "qbo.query.other"
        };
    }
    match *request.method() {
        http::Method::POST if path == "/v3/order" => "ordoro.create",
        http::Method::GET => "ordoro.read",
        _ => "ordoro.write.other",
    }
}

// ---------------------------------------------------------------------------------------------
// Clients, engine, baseline.

struct Clients {
    qbo: Arc<QboClient>,
    ordoro: Arc<OrdoroClient>,
    tally: Arc<Tally>,
}

struct Endpoints {
    qbo: SharedTransport,
    qbo_env: QboEnvironment,
    ordoro: SharedTransport,
    ordoro_base: String,
    loopback: bool,
}

fn clients(
    at: Endpoints,
    budget: RateBudget,
    clock: Arc<dyn Clock>,
    tokens: Arc<dyn TokenStore>,
) -> Outcome<Clients> {
    let tally = Arc::new(Tally::default());
    let counted = |inner| SharedTransport::new(Counted { inner, tally: tally.clone() });
    let mut qbo_config =
        QboConfig::new(REALM, at.qbo_env, "sim-client-id", "sim-client-secret".to_owned().into());
    qbo_config.allow_insecure_loopback = at.loopback;
    let qbo = QboClient::new(qbo_config, counted(at.qbo), clock.clone(), tokens)?;
    let mut ordoro_config =
        OrdoroConfig::new("bench-key", "bench-secret".to_owned()).with_base_url(at.ordoro_base);
    if at.loopback {
        ordoro_config = ordoro_config.allowing_insecure_loopback();
    }
    let ordoro = OrdoroClient::new(ordoro_config.with_budget(budget), counted(at.ordoro), clock)?;
    Ok(Clients { qbo: Arc::new(qbo), ordoro: Arc::new(ordoro), tally })
}

fn mapping() -> MappingConfig {
    MappingConfig::default().with_cart(Some(CART))
}

fn engine(c: &Clients, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Outcome<SyncEngine> {
    let config = SyncConfig { mapping: mapping(), ..SyncConfig::default() };
    Ok(SyncEngine::builder()
        .qbo(c.qbo.clone())
        .ordoro(c.ordoro.clone())
        .store(store)
        .clock(clock)
        .config(config)
        .build()?)
}

/// The sync written the obvious way: each entity paged by offset, one page at a time, each
/// eligible row created before the next is looked at. No ledger, no log, no concurrency.
async fn baseline_sync(
    qbo: &dyn QboApi,
    ordoro: &dyn OrdoroApi,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Outcome<u64> {
    let mapping = mapping();
    let mut created = 0;
    for entity in EntityKind::ALL {
        let mut start_position = 1u32;
        loop {
            let query = UpdatedQuery { entity, from, to, start_position, max_results: PAGE as u32 };
            let page = qbo.query_updated(&query).await?;
            let rows = page.transactions.len();
            for doc in page.transactions {
                if let Decision::Create(mapped) =
                    decide(&Transaction { kind: entity, doc }, &mapping)
                {
                    ordoro.create_order(&mapped.order).await?;
                    created += 1;
                }
            }
            if rows < PAGE as usize {
                break;
            }
            start_position += PAGE as u32;
        }
    }
    Ok(created)
}

/// The first sale's time, a run starting at `now`: every sale lies in the 29 days before it.
fn sales_window(now: DateTime<Utc>, n: usize) -> (DateTime<Utc>, chrono::Duration) {
    let span = chrono::Duration::days(29);
    let step = chrono::Duration::milliseconds(span.num_milliseconds() / n.max(1) as i64);
    (now - span, step)
}

fn per_entity(sales: &[SampleSale]) -> BTreeMap<EntityKind, u64> {
    let mut n = BTreeMap::new();
    for s in sales {
        *n.entry(s.txn.kind).or_default() += 1;
    }
    n
}

/// QBO pages needed to read `rows` rows: full pages, then the short (or empty) page that ends.
fn page_bound(rows: u64) -> u64 {
    rows.div_ceil(PAGE) + 1
}

fn check_report(report: &RunReport, expected: usize) -> Outcome<()> {
    if let Some(why) = &report.aborted {
        return Err(format!("the run stopped early: {why}").into());
    }
    if report.summary.created != expected as u64 || report.summary.failed != 0 {
        return Err(format!("expected {expected} created, got {}", report.summary).into());
    }
    Ok(())
}

fn print_requests(label: &str, c: &Counts, sales: &BTreeMap<EntityKind, u64>, orders: u64) {
    let pages = |e: EntityKind| {
        c.get(if e == EntityKind::Invoice { "qbo.query.Invoice" } else { "qbo.query.SalesReceipt" })
    };
    let qbo_total = c.sum("qbo.");
    let inv = sales.get(&EntityKind::Invoice).copied().unwrap_or(0);
    let sr = sales.get(&EntityKind::SalesReceipt).copied().unwrap_or(0);
    let all_pages = pages(EntityKind::Invoice) + pages(EntityKind::SalesReceipt);
    println!(
        "  {label} QBO requests: {qbo_total} = Invoice pages {} (bound ceil({inv}/1000)+1 = {}) + \
         SalesReceipt pages {} (bound {}) + item queries {} (bound: one per page, {all_pages}) \
         + token calls {} + other {}",
        pages(EntityKind::Invoice),
        page_bound(inv),
        pages(EntityKind::SalesReceipt),
        page_bound(sr),
        c.get("qbo.query.Item"),
        c.get("qbo.token"),
        c.get("qbo.other") + c.get("qbo.query.other"),
    );
    let writes = c.get("ordoro.create") + c.get("ordoro.write.other");
    println!(
        "  {label} Ordoro requests: {} = creates {} + reads {} + other writes {}; {:.4} writes \
         per order",
        c.sum("ordoro."),
        c.get("ordoro.create"),
        c.get("ordoro.read"),
        c.get("ordoro.write.other"),
        writes as f64 / orders.max(1) as f64,
    );
}

// ---------------------------------------------------------------------------------------------
// Virtual time.

fn virtual_mode(o: &Options) -> Outcome<()> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()?;
    runtime.block_on(virtual_bench(o))
}

struct VirtualWorld {
    clock: Arc<TokioClock>,
    qbo: Arc<QboSim>,
    ordoro: Arc<OrdoroSim>,
    clients: Clients,
    store: Arc<MemoryStore>,
}

async fn virtual_world(
    o: &Options,
    sales: &[SampleSale],
    now: DateTime<Utc>,
) -> Outcome<VirtualWorld> {
    let clock = Arc::new(TokioClock::starting_at(now));
    let qbo_config =
        QboSimConfig { latency: Duration::from_millis(300), ..QboSimConfig::default() };
    let qbo = Arc::new(QboSim::with_config(clock.clone(), qbo_config));
    let ordoro_config = OrdoroSimConfig {
        latency: SimLatency { create: Duration::from_millis(400), ..SimLatency::default() },
        ..OrdoroSimConfig::default()
    };
    let ordoro = Arc::new(OrdoroSim::with_config(clock.clone(), ordoro_config));
    ordoro.add_sales_channel(CART);
    for sale in sales {
        qbo.insert(REALM, sale.txn.clone());
    }
    // The products' QBO items, most with a SKU: each line's SKU comes from its item.
    for item in qbo_ordoro::sim::sample::items() {
        qbo.add_item(REALM, item);
    }
    let store = Arc::new(MemoryStore::new());
    store.save_token(REALM, &qbo.connect(REALM)).await?;
    let at = Endpoints {
        qbo: SharedTransport::from_arc(qbo.clone()),
        qbo_env: QboEnvironment::Production,
        ordoro: SharedTransport::from_arc(ordoro.clone()),
        ordoro_base: "https://ordoro.sim".into(),
        loopback: false,
    };
    let clients = clients(at, o.ordoro_budget(), clock.clone(), store.clone())?;
    Ok(VirtualWorld { clock, qbo, ordoro, clients, store })
}

async fn virtual_bench(o: &Options) -> Outcome<()> {
    let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).single().ok_or("bad start")?;
    let (first, step) = sales_window(now, o.orders);
    let sales = generate_eligible(o.seed, o.orders, first, step);
    let by_entity = per_entity(&sales);
    let budget = o.ordoro_budget();
    let floor = o.orders as f64 / f64::from(budget.per_minute);
    println!(
        "== virtual time: {} eligible sales ({} invoices, {} sales receipts); QBO 300 ms a page, \
         500/min, 10 at once; Ordoro 400 ms a create, 500/min; Ordoro budget {}/min ({}%), {} at once",
        o.orders,
        by_entity.get(&EntityKind::Invoice).unwrap_or(&0),
        by_entity.get(&EntityKind::SalesReceipt).unwrap_or(&0),
        budget.per_minute,
        o.budget_percent,
        budget.max_in_flight,
    );

    let w = virtual_world(o, &sales, now).await?;
    let engine = engine(&w.clients, w.store.clone(), w.clock.clone())?;
    let wall = Instant::now();
    let started = w.clock.now();
    let report = engine.run_incremental(&RunOptions::default()).await?;
    let minutes = (w.clock.now() - started).num_milliseconds() as f64 / 60_000.0;
    let wall = wall.elapsed();
    check_report(&report, o.orders)?;
    let first_run = w.clients.tally.snapshot();
    let budget_stats = w.clients.ordoro.budget().map(|b| b.stats()).unwrap_or_default();
    println!(
        "engine:   created {} in {minutes:.2} simulated min; floor {floor:.2} min at {}/min; \
         {:.3} x floor ({:.1} s of wall time)",
        report.summary.created,
        budget.per_minute,
        minutes / floor,
        wall.as_secs_f64(),
    );
    print_requests("first run", &first_run, &by_entity, report.summary.created);
    let ordoro_sim = w.ordoro.stats();
    println!(
        "  Ordoro pacing: peak {} requests in any 60 s at the client ({} at Ordoro), peak {} in \
         flight, {} throttled by Ordoro; QBO sim: {} throttled, {} token refreshes",
        budget_stats.peak_per_minute,
        ordoro_sim.peak_per_minute,
        budget_stats.peak_in_flight,
        ordoro_sim.throttled,
        w.qbo.stats().throttled,
        w.qbo.stats().token_refreshes,
    );
    drop(report);

    tokio::time::sleep(Duration::from_secs(15 * 60)).await;
    let refreshes_before = w.qbo.stats().token_refreshes;
    let again = engine.run_incremental(&RunOptions::default()).await?;
    let idle = w.clients.tally.snapshot().since(&first_run);
    println!(
        "  a run 15 min later that finds nothing new: QBO {} requests ({} queries, {} token \
         calls), Ordoro {} requests; created {} skipped {}",
        idle.sum("qbo."),
        idle.sum("qbo.query."),
        w.qbo.stats().token_refreshes - refreshes_before,
        idle.sum("ordoro."),
        again.summary.created,
        again.summary.skipped,
    );
    drop(engine);
    drop(w);

    if o.baseline {
        let b = virtual_world(o, &sales, now).await?;
        let wall = Instant::now();
        let started = b.clock.now();
        let from = now - chrono::Duration::days(30);
        let created =
            baseline_sync(b.clients.qbo.as_ref(), b.clients.ordoro.as_ref(), from, now).await?;
        let base_minutes = (b.clock.now() - started).num_milliseconds() as f64 / 60_000.0;
        if created != o.orders as u64 {
            return Err(format!("the baseline created {created}, expected {}", o.orders).into());
        }
        println!(
            "baseline: created {created} in {base_minutes:.2} simulated min ({:.1} s of wall \
             time); the engine is {:.2} x faster",
            wall.elapsed().as_secs_f64(),
            base_minutes / minutes,
        );
        print_requests("baseline", &b.clients.tally.snapshot(), &by_entity, created);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Real time over loopback.

/// The simulators served by a child process; dropping this closes its stdin, which ends it.
struct Served {
    child: Child,
    qbo: String,
    ordoro: String,
    token: StoredToken,
    by_entity: BTreeMap<EntityKind, u64>,
}

impl Drop for Served {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn spawn_server(o: &Options) -> Outcome<Served> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["serve", "--orders", &o.orders.to_string(), "--seed", &o.seed.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout from the server")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let ready: serde_json::Value = serde_json::from_str(&line)
        .map_err(|e| format!("the server did not start ({e}): {line:?}"))?;
    let field = |k: &str| ready[k].as_str().map(str::to_owned).ok_or(format!("no {k}"));
    let expires = ready["expires_at"].as_i64().ok_or("no expires_at")?;
    let token = StoredToken {
        access_token: Some(field("access_token")?.into()),
        access_expires_at: Utc.timestamp_opt(expires, 0).single(),
        ..StoredToken::new(field("refresh_token")?.into())
    };
    let mut by_entity = BTreeMap::new();
    by_entity.insert(EntityKind::Invoice, ready["invoices"].as_u64().unwrap_or(0));
    by_entity.insert(EntityKind::SalesReceipt, ready["sales_receipts"].as_u64().unwrap_or(0));
    Ok(Served { qbo: field("qbo")?, ordoro: field("ordoro")?, token, by_entity, child })
}

fn loopback_clients(
    served: &Served,
    clock: Arc<dyn Clock>,
    tokens: Arc<dyn TokenStore>,
) -> Outcome<Clients> {
    let http = SharedTransport::new(ReqwestTransport::new()?);
    let at = Endpoints {
        qbo: http.clone(),
        qbo_env: QboEnvironment::Custom {
            api_base: served.qbo.clone(),
            token_url: format!("{}/oauth2/v1/tokens/bearer", served.qbo),
        },
        ordoro: http,
        ordoro_base: served.ordoro.clone(),
        loopback: true,
    };
    // No limits: the measurement is of the sync's own cost.
    clients(at, RateBudget::new(u32::MAX, 64), clock, tokens)
}

fn loopback_mode(o: &Options) -> Outcome<()> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(loopback_bench(o))
}

async fn loopback_bench(o: &Options) -> Outcome<()> {
    println!(
        "== real time over loopback: {} eligible sales; simulators in a child process on \
         127.0.0.1, no latency, no limits; SqliteStore in a temp file; tokio multi-thread, 2 workers",
        o.orders
    );
    let rss_at_start = proc_status_kb("VmHWM");
    let served = spawn_server(o)?;
    let dir = ScratchDir::new()?;
    let store = Arc::new(SqliteStore::open(dir.0.join("state.db"))?);
    store.save_token(REALM, &served.token).await?;
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
    let c = loopback_clients(&served, clock.clone(), store.clone())?;
    let engine = engine(&c, store.clone(), clock.clone())?;
    let cpu = cpu_time();
    let wall = Instant::now();
    let report = engine.run_incremental(&RunOptions::default()).await?;
    let wall = wall.elapsed();
    let cpu = cpu_time().saturating_sub(cpu);
    let peak_kb = proc_status_kb("VmHWM");
    check_report(&report, o.orders)?;
    let orders = report.summary.created;
    println!(
        "engine:   created {orders} in {:.2} s: {:.0} orders/s; CPU {:.0} µs/order ({:.2} s); \
         peak RSS {:.1} MB (the process held {:.1} MB before the run)",
        wall.as_secs_f64(),
        orders as f64 / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / orders as f64,
        cpu.as_secs_f64(),
        peak_kb as f64 / 1024.0,
        rss_at_start as f64 / 1024.0,
    );
    let first_run = c.tally.snapshot();
    print_requests("first run", &first_run, &served.by_entity, orders);
    drop(report);
    let again = engine.run_incremental(&RunOptions::default()).await?;
    let idle = c.tally.snapshot().since(&first_run);
    println!(
        "  a following run that finds nothing new: QBO {} requests ({} token calls), Ordoro {}; \
         created {}",
        idle.sum("qbo."),
        idle.get("qbo.token"),
        idle.sum("ordoro."),
        again.summary.created,
    );
    drop((engine, c, served));

    if o.baseline {
        let served = spawn_server(o)?;
        let tokens = Arc::new(MemoryStore::new());
        tokens.save_token(REALM, &served.token).await?;
        let b = loopback_clients(&served, clock.clone(), tokens)?;
        let now = clock.now();
        let cpu = cpu_time();
        let wall_b = Instant::now();
        let created =
            baseline_sync(b.qbo.as_ref(), b.ordoro.as_ref(), now - chrono::Duration::days(30), now)
                .await?;
        let wall_b = wall_b.elapsed();
        let cpu = cpu_time().saturating_sub(cpu);
        if created != o.orders as u64 {
            return Err(format!("the baseline created {created}, expected {}", o.orders).into());
        }
        println!(
            "baseline: created {created} in {:.2} s: {:.0} orders/s; CPU {:.0} µs/order; the \
             engine is {:.2} x faster",
            wall_b.as_secs_f64(),
            created as f64 / wall_b.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / created as f64,
            wall_b.as_secs_f64() / wall.as_secs_f64(),
        );
    }
    Ok(())
}

/// A field of `/proc/self/status` in kB (`VmHWM` is the peak resident set), 0 if unreadable.
fn proc_status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// User plus system CPU time of this process, all threads (`/proc/self/stat`, in clock ticks).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let total = ticks(11) + ticks(12); // utime and stime are fields 14 and 15
    Duration::from_micros(total * 1_000_000 / clock_ticks_per_second())
}

fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

// ---------------------------------------------------------------------------------------------
// The child: the simulators on loopback.

fn serve_mode(o: &Options) -> Outcome<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
        let qbo_config = QboSimConfig {
            per_minute: usize::MAX,
            max_in_flight: u32::MAX,
            ..QboSimConfig::default()
        };
        let qbo = Arc::new(QboSim::with_config(clock.clone(), qbo_config));
        let ordoro_config = OrdoroSimConfig {
            requests_per_minute: usize::MAX,
            latency: SimLatency::zero(),
            ..OrdoroSimConfig::default()
        };
        let ordoro = Arc::new(OrdoroSim::with_config(clock.clone(), ordoro_config));
        ordoro.add_sales_channel(CART);
        let (first, step) = sales_window(clock.now(), o.orders);
        let sales = generate_eligible(o.seed, o.orders, first, step);
        let by_entity = per_entity(&sales);
        for sale in sales {
            qbo.insert(REALM, sale.txn);
        }
        let token = qbo.connect(REALM);
        let qbo_server = LoopbackServer::start(SharedTransport::from_arc(qbo)).await?;
        let ordoro_server = LoopbackServer::start(SharedTransport::from_arc(ordoro)).await?;
        let ready = serde_json::json!({
            "qbo": qbo_server.url(),
            "ordoro": ordoro_server.url(),
            "refresh_token": token.refresh_token.expose_secret(),
            "access_token": token.access_token.as_ref().map(|t| t.expose_secret().to_owned()),
            "expires_at": token.access_expires_at.map(|t| t.timestamp()),
            "invoices": by_entity.get(&EntityKind::Invoice).copied().unwrap_or(0),
            "sales_receipts": by_entity.get(&EntityKind::SalesReceipt).copied().unwrap_or(0),
        });
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{ready}")?;
        stdout.flush()?;
        // Serve until the parent closes our stdin (or dies).
        let (done, closed) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            let _ = done.send(());
        });
        let _ = closed.await;
        Ok(())
    })
}

/// A directory of its own under the system's temporary directory, removed when dropped (the
/// examples do without the `tempfile` crate, which only the test suite depends on).
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn new() -> std::io::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("qbo-ordoro-bench-{}-{nanos}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path)?;
        Ok(ScratchDir(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
