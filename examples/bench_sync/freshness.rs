//! The `freshness` mode: how long a sale waits between its save in QBO and its order in Ordoro,
//! with webhooks on (QBO notifying 1 to 30 s after the save, the host running the engine on
//! each verified delivery, with a catch-up a day) against a 15-minute poll, in virtual time with
//! the real limits and realistic latencies (300 ms a QBO request, 400 ms an Ordoro create, the
//! Ordoro client at 80% of Ordoro's 500 a minute). Scenarios: a steady stream (Poisson arrivals,
//! 300 sales an hour for two hours), a burst (1,000 sales in 5 minutes), and a company with no
//! sales for three days (QBO requests an hour, token refreshes included).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use qbo_ordoro::engine::{RunOptions, SyncConfig, SyncEngine, WatchOptions};
use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::sim::ordoro::{OrdoroSim, OrdoroSimConfig, SimLatency};
use qbo_ordoro::sim::qbo::{CollectingSink, QboSim, QboSimConfig, WebhookConfig};
use qbo_ordoro::sim::sample::generate_eligible;
use qbo_ordoro::store::MemoryStore;
use qbo_ordoro::webhook::{self, VerifierToken};
use qbo_ordoro::{
    Clock, HttpRequest, HttpResponse, HttpTransport, OrdoroClient, OrdoroConfig, QboClient,
    SharedTransport, TokenStore, TokioClock, TransportError,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{CART, Outcome, REALM, mapping};

/// The options of the `freshness` mode.
#[derive(Debug, Clone, clap::Args)]
pub struct FreshnessOptions {
    /// Sales an hour in the steady stream
    #[arg(long, default_value_t = 300)]
    per_hour: u32,
    /// Hours of the steady stream
    #[arg(long, default_value_t = 2)]
    hours: u32,
    /// Sales in the burst
    #[arg(long, default_value_t = 1000)]
    burst: u32,
    /// Minutes the burst lasts
    #[arg(long, default_value_t = 5)]
    burst_minutes: u32,
    /// Minutes between polls in the polling host
    #[arg(long, default_value_t = 15)]
    poll_minutes: u32,
    /// Seed of the arrivals, the sales and the notification delays
    #[arg(long, default_value_t = super::SEED)]
    seed: u64,
}

/// How the host learns of sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    /// Webhooks on: a run per verified delivery, a catch-up a day.
    Webhooks,
    /// A run every `poll_minutes`.
    Poll,
}

/// What one scenario measured.
struct Measured {
    /// Save-to-order times, one per sale, sorted.
    waits: Vec<Duration>,
    /// From the first save to the last order.
    drain: Duration,
    /// QBO API and token requests over the scenario.
    qbo_requests: u64,
    /// The scenario's length.
    span: Duration,
    /// Peak Ordoro requests in any 60 s, at Ordoro.
    ordoro_peak: u64,
    /// What the QBO requests were: change-feed calls, queries, CompanyInfo reads, token
    /// refreshes.
    qbo_kinds: (u64, u64, u64, u64),
}

pub fn freshness_mode(o: &FreshnessOptions) -> Outcome<()> {
    let start = Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).single().ok_or("bad start")?;
    println!(
        "== freshness, virtual time: QBO notifies 1 to 30 s after a save; QBO 300 ms a request, \
         500/min; Ordoro 400 ms a create, the client at 400/min; poll every {} min",
        o.poll_minutes
    );
    let mut rng = SmallRng::seed_from_u64(o.seed);
    let steady = poisson(&mut rng, start, o.per_hour, o.hours);
    let burst = even(start, o.burst, o.burst_minutes);
    println!("| scenario | host | sales | p50 | p99 | max | drain | QBO requests/hour |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut p99_webhooks = None;
    for (name, arrivals) in [("steady", &steady), ("burst", &burst)] {
        for host in [Host::Webhooks, Host::Poll] {
            let m = scenario(o, host, arrivals, start)?;
            let q = |p: f64| m.waits[((m.waits.len() - 1) as f64 * p).round() as usize];
            if name == "steady" && host == Host::Webhooks {
                p99_webhooks = Some(q(0.99));
            }
            println!(
                "| {name} | {} | {} | {:.1} s | {:.1} s | {:.1} s | {:.1} min | {:.0} |",
                match host {
                    Host::Webhooks => "webhooks".to_string(),
                    Host::Poll => format!("{}-min poll", o.poll_minutes),
                },
                m.waits.len(),
                q(0.5).as_secs_f64(),
                q(0.99).as_secs_f64(),
                m.waits.last().copied().unwrap_or_default().as_secs_f64(),
                m.drain.as_secs_f64() / 60.0,
                m.qbo_requests as f64 * 3600.0 / m.span.as_secs_f64(),
            );
            if name == "burst" {
                let floor = f64::from(o.burst) / 400.0;
                println!(
                    "|  | (burst: Ordoro peak {} requests a minute; rate floor {floor:.2} min for \
                     {} creates at 400/min, arrivals over {} min) | | | | | | |",
                    m.ordoro_peak, o.burst, o.burst_minutes
                );
            }
        }
    }
    for host in [Host::Webhooks, Host::Poll] {
        let m = scenario(o, host, &[], start)?;
        let (cdc, queries, company, tokens) = m.qbo_kinds;
        println!(
            "| idle, 3 days | {} | 0 | | | | | {:.3} ({} requests: {cdc} change feed, {queries} \
             queries, {company} CompanyInfo, {tokens} token refreshes) |",
            if host == Host::Webhooks { "webhooks" } else { "poll" },
            m.qbo_requests as f64 * 3600.0 / m.span.as_secs_f64(),
            m.qbo_requests,
        );
    }
    if let Some(p99) = p99_webhooks {
        // Whole seconds, rounded up: the line BENCHMARKS.md keeps.
        println!("p99 webhooks: {} s", p99.as_secs_f64().ceil());
    }
    Ok(())
}

/// Poisson arrivals: `per_hour` on average for `hours` (exponential gaps).
fn poisson(
    rng: &mut SmallRng,
    start: DateTime<Utc>,
    per_hour: u32,
    hours: u32,
) -> Vec<DateTime<Utc>> {
    let mean_ms = 3_600_000.0 / f64::from(per_hour.max(1));
    let end = start + chrono::Duration::hours(i64::from(hours));
    let mut at = start;
    let mut arrivals = Vec::new();
    loop {
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        at += chrono::Duration::milliseconds((-u.ln() * mean_ms) as i64);
        if at >= end {
            return arrivals;
        }
        arrivals.push(at);
    }
}

/// `n` arrivals spread evenly over `minutes`.
fn even(start: DateTime<Utc>, n: u32, minutes: u32) -> Vec<DateTime<Utc>> {
    let step = i64::from(minutes) * 60_000 / i64::from(n.max(1));
    (0..i64::from(n)).map(|i| start + chrono::Duration::milliseconds(i * step)).collect()
}

fn scenario(
    o: &FreshnessOptions,
    host: Host,
    arrivals: &[DateTime<Utc>],
    start: DateTime<Utc>,
) -> Outcome<Measured> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()?;
    runtime.block_on(run_scenario(o, host, arrivals, start))
}

/// Records when Ordoro first answered a create of each `order_id` with success.
#[derive(Debug)]
struct CreateTimes {
    inner: Arc<OrdoroSim>,
    clock: Arc<TokioClock>,
    created: Arc<Mutex<HashMap<String, DateTime<Utc>>>>,
}

#[async_trait::async_trait]
impl HttpTransport for CreateTimes {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let create = request.method() == http::Method::POST && request.uri().path() == "/v3/order";
        let order_id = create
            .then(|| serde_json::from_slice::<serde_json::Value>(request.body()).ok())
            .flatten()
            .and_then(|b| b.get("order_id").and_then(|v| v.as_str()).map(str::to_owned));
        let response = self.inner.send(request).await?;
        if let Some(id) = order_id
            && response.status().is_success()
        {
            self.created.lock().unwrap().entry(id).or_insert(self.clock.now());
        }
        Ok(response)
    }
}

async fn run_scenario(
    o: &FreshnessOptions,
    host: Host,
    arrivals: &[DateTime<Utc>],
    start: DateTime<Utc>,
) -> Outcome<Measured> {
    let clock = Arc::new(TokioClock::starting_at(start - chrono::Duration::minutes(1)));
    let hooks = WebhookConfig { seed: o.seed, ..WebhookConfig::default() };
    let token = VerifierToken::from(hooks.verifier_token.clone());
    let qbo_config = QboSimConfig {
        latency: Duration::from_millis(300),
        webhooks: (host == Host::Webhooks).then_some(hooks),
        ..QboSimConfig::default()
    };
    let qbo = Arc::new(QboSim::with_config(clock.clone(), qbo_config));
    let sink = Arc::new(CollectingSink::new());
    qbo.set_webhook_sink(sink.clone());
    for item in qbo_ordoro::sim::sample::items() {
        qbo.add_item(REALM, item);
    }
    sink.take();
    let ordoro_config = OrdoroSimConfig {
        latency: SimLatency { create: Duration::from_millis(400), ..SimLatency::default() },
        ..OrdoroSimConfig::default()
    };
    let ordoro = Arc::new(OrdoroSim::with_config(clock.clone(), ordoro_config));
    ordoro.add_sales_channel(CART);
    let created = Arc::new(Mutex::new(HashMap::new()));
    let recorder =
        CreateTimes { inner: ordoro.clone(), clock: clock.clone(), created: created.clone() };
    let store = Arc::new(MemoryStore::new());
    store.save_token(REALM, &qbo.connect(REALM)).await?;
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let qbo_client = QboClient::new(
        qbo.client_config(REALM),
        SharedTransport::from_arc(qbo.clone()),
        dyn_clock.clone(),
        store.clone(),
    )?;
    let ordoro_config = OrdoroConfig::new("bench-key", "bench-secret".to_owned())
        .with_base_url("https://ordoro.sim")
        .with_budget(qbo_ordoro::transport::RateBudget::new(400, 8));
    let ordoro_client =
        OrdoroClient::new(ordoro_config, SharedTransport::new(recorder), dyn_clock.clone())?;
    let engine = SyncEngine::builder()
        .qbo(Arc::new(qbo_client))
        .ordoro(Arc::new(ordoro_client))
        .store(store)
        .clock(dyn_clock)
        .config(SyncConfig { mapping: mapping(), ..SyncConfig::default() })
        .build()?;
    // The engine starts from a cursor, as a company synced for a while.
    engine.run_catch_up(&RunOptions::default()).await?;

    let sales = generate_eligible(o.seed, arrivals.len(), start, chrono::Duration::seconds(1));
    let span = match arrivals.last() {
        Some(last) => (*last - start).to_std()? + Duration::from_secs(40 * 60),
        None => Duration::from_secs(3 * 24 * 3600),
    };
    let end = start + chrono::Duration::from_std(span)?;
    let stats_before = qbo.stats();
    let requests_before = stats_before.requests;
    let merchant = async {
        let mut saved = Vec::with_capacity(sales.len());
        for (sale, at) in sales.iter().zip(arrivals) {
            sleep_until(&clock, *at).await;
            let mut txn = sale.txn.clone();
            txn.doc.meta_data = None;
            let doc = qbo.insert(REALM, txn.clone());
            saved.push((order_id(txn.kind, &doc.id), clock.now()));
        }
        saved
    };
    let hosted = async {
        match host {
            Host::Webhooks => on_webhooks(&engine, &qbo, &sink, &token, &clock, end).await,
            Host::Poll => poll(&engine, &clock, o.poll_minutes, start, end).await,
        }
    };
    let (saved, hosted) = tokio::join!(merchant, hosted);
    hosted?;
    let st = qbo.stats();
    let qbo_requests = st.requests - requests_before;
    let qbo_kinds = (
        st.cdc - stats_before.cdc,
        st.queries - stats_before.queries,
        st.company_reads - stats_before.company_reads,
        st.token_refreshes - stats_before.token_refreshes,
    );
    let created = created.lock().unwrap();
    let mut waits = Vec::with_capacity(saved.len());
    let mut last_order = start;
    for (id, at) in &saved {
        let Some(made) = created.get(id) else {
            return Err(format!("{id} saved at {at} has no order after the scenario").into());
        };
        last_order = last_order.max(*made);
        waits.push((*made - *at).to_std().unwrap_or_default());
    }
    waits.sort();
    let drain = (last_order - start).to_std().unwrap_or_default();
    let ordoro_peak = ordoro.stats().peak_per_minute as u64;
    Ok(Measured { waits, drain, qbo_requests, span, ordoro_peak, qbo_kinds })
}

fn order_id(kind: EntityKind, id: &str) -> String {
    let tag = if kind == EntityKind::Invoice { "INV" } else { "SR" };
    format!("QBO-{tag}-{id}")
}

async fn sleep_until(clock: &TokioClock, at: DateTime<Utc>) {
    if let Ok(pause) = (at - clock.now()).to_std() {
        tokio::time::sleep(pause).await;
    }
}

/// The host on webhooks: each delivery verified as it arrives, a change-driven run for what
/// arrived (deliveries that land while a run works wait for the next), a catch-up a day and
/// when a run says a create can be settled.
async fn on_webhooks(
    engine: &SyncEngine,
    qbo: &QboSim,
    sink: &CollectingSink,
    token: &VerifierToken,
    clock: &TokioClock,
    end: DateTime<Utc>,
) -> Outcome<()> {
    let mut next_catch_up = clock.now() + chrono::Duration::days(1);
    let mut settle_at: Option<DateTime<Utc>> = None;
    loop {
        // QBO pushes a delivery the moment it is due; the simulator hands over what is due when
        // asked, so the host asks every second (at most a second added to a sale's wait).
        let tick = clock.now() + chrono::Duration::seconds(1);
        let wake = [qbo.next_delivery_at(), Some(next_catch_up), settle_at, Some(tick)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(end);
        if wake > end {
            return Ok(());
        }
        sleep_until(clock, wake).await;
        qbo.deliver_due();
        let mut events = Vec::new();
        for delivery in sink.take() {
            events.extend(webhook::receive(delivery.signature(), delivery.body.as_bytes(), token)?);
        }
        if let Some(report) = engine.run_changes(&events, &RunOptions::default()).await? {
            settle_at = settle_at.or(report.settle_at);
        }
        let now = clock.now();
        if next_catch_up <= now || settle_at.is_some_and(|at| at <= now) {
            let report = engine.run_catch_up(&RunOptions::default()).await?;
            settle_at = report.settle_at;
            if next_catch_up <= now {
                next_catch_up = now + chrono::Duration::days(1);
            }
        }
    }
}

/// The host polling every `minutes`, from `start` until `end`.
async fn poll(
    engine: &SyncEngine,
    clock: &TokioClock,
    minutes: u32,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Outcome<()> {
    let interval = Duration::from_secs(u64::from(minutes) * 60);
    // The polls fall at a random phase against the sales: start a third of an interval in.
    sleep_until(clock, start + chrono::Duration::from_std(interval / 3)?).await;
    let runs = (end - clock.now()).to_std()?.as_secs() / interval.as_secs().max(1) + 1;
    let options = WatchOptions { interval, max_runs: Some(runs), run: RunOptions::default() };
    let mut failure = None;
    engine
        .watch(&options, |result| match result {
            Ok(_) => std::ops::ControlFlow::Continue(()),
            Err(e) => {
                failure = Some(e);
                std::ops::ControlFlow::Break(())
            }
        })
        .await;
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
