//! The embedded default: simulated QuickBooks Online and Ordoro, served in-process as
//! `HttpTransport`s behind the real `QboClient` and `OrdoroClient`, so the whole stack runs.
//!
//! The simulators live in memory and start empty in every process, while the state file
//! persists; so the simulated world is rebuilt the same way each time and made to agree with the
//! state file. QBO holds the sample company, stamped from a fixed anchor (not the wall clock), so
//! every process sees the same sales with the same SyncTokens. Ordoro holds the orders the
//! state file's ledger says were created, so a second run finds them and creates nothing.
//!
//! The `serve` example builds the same world ([`sims`]), with webhooks on, its own clients per
//! company ([`qbo_client`], [`ordoro_client`]) and a new sale now and then ([`new_sale`]).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use qbo_ordoro::OrdoroClient;
use qbo_ordoro::QboClient;
use qbo_ordoro::mapping::{Decision, MappingConfig, decide};
use qbo_ordoro::model::ordoro::NewOrder;
use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::model::qbo::{LineDetail, SalesTransaction, Transaction};
use qbo_ordoro::qbo::connect::OAuthApp;
use qbo_ordoro::sim::FaultPlan;
use qbo_ordoro::sim::loopback::LoopbackServer;
use qbo_ordoro::sim::ordoro::{OrdoroSim, OrdoroSimConfig, SimLatency};
use qbo_ordoro::sim::qbo::webhooks::WebhookConfig;
use qbo_ordoro::sim::qbo::{QboSim, QboSimConfig};
use qbo_ordoro::sim::sample::{SampleSale, generate_eligible, sample_company};
use qbo_ordoro::store::{LedgerKey, LedgerState, MemoryStore};
use qbo_ordoro::transport::pacing::RetryPolicy;
use qbo_ordoro::{Clock, OrdoroApi, QboApi, SharedTransport, Store, TokenStore};
use qbo_ordoro::{OrdoroConfig, QboConfig, QboEnvironment};

/// The simulated company's realm id.
pub const REALM: &str = "9130357766554433";
/// The app's client id the simulated QBO accepts.
pub const CLIENT_ID: &str = "sim-client-id";
/// The app's client secret the simulated QBO accepts.
pub const CLIENT_SECRET: &str = "sim-client-secret";

/// A simulated QBO holding the sample company, for `--connect`: its consent connects
/// [`REALM`].
pub fn connectable(clock: Arc<dyn Clock>) -> SharedTransport {
    let sim = QboSim::with_config(
        clock,
        QboSimConfig {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            ..QboSimConfig::default()
        },
    );
    sim.consent_as(REALM);
    SharedTransport::new(sim)
}

/// `qbo` served on a loopback port, and the app that connects through it (its consent, token
/// and revoke endpoints at that port), redirecting to `redirect_uri`. The server stops when
/// dropped.
pub async fn oauth_over_loopback(
    qbo: SharedTransport,
    redirect_uri: String,
) -> Result<(OAuthApp, LoopbackServer), String> {
    let server = LoopbackServer::start(qbo)
        .await
        .map_err(|e| format!("cannot serve the simulated QBO: {e}"))?;
    let environment = QboEnvironment::Custom {
        api_base: server.url(),
        token_url: format!("{}/oauth2/v1/tokens/bearer", server.url()),
    };
    let app = OAuthApp::new(CLIENT_ID, CLIENT_SECRET.to_string().into(), redirect_uri)
        .map_err(|e| format!("cannot set up the simulated QuickBooks app: {e}"))?
        .with_environment(&environment);
    Ok((app, server))
}

/// The simulated Ordoro sales channel.
pub const CART: i64 = 4242;
/// The sample sales were last updated over the hours before this instant.
pub const ANCHOR: (i32, u32, u32) = (2026, 11, 28);

/// The anchor as an instant (midnight UTC).
pub fn anchor() -> DateTime<Utc> {
    let (y, m, d) = ANCHOR;
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).single().unwrap_or_default()
}

/// Where the first incremental run starts: a day before the anchor, so it covers the sample.
pub fn initial_since() -> DateTime<Utc> {
    anchor() - chrono::Duration::days(1)
}

/// The instant the simulated world's clock starts at: now, or just after the anchor when the
/// system clock reads earlier (the incremental window must end after the sample).
pub fn start_time() -> DateTime<Utc> {
    Utc::now().max(anchor() + chrono::Duration::minutes(1))
}

/// The simulated services, ready to hand to the engine.
#[derive(Debug)]
pub struct World {
    /// The QBO client over the QBO simulator.
    pub qbo: Arc<dyn QboApi>,
    /// The Ordoro client over the Ordoro simulator.
    pub ordoro: Arc<dyn OrdoroApi>,
    /// Sample sales seeded into QBO.
    pub sales: usize,
    /// Orders seeded into Ordoro from the state file.
    pub orders: usize,
    /// The simulators, to report the faults they injected.
    pub sims: (Arc<QboSim>, Arc<OrdoroSim>),
}

impl World {
    /// What the simulators did wrong on purpose so far, for people.
    pub fn faults_note(&self) -> String {
        let (qbo, ordoro) = (self.sims.0.stats(), self.sims.1.stats());
        format!(
            "faults injected: QBO {} server errors, {} timeouts, {} throttles; Ordoro {} server \
             errors, {} timeouts, {} lost responses, {} throttles",
            qbo.server_errors,
            qbo.timeouts,
            qbo.throttled,
            ordoro.server_errors,
            ordoro.timeouts,
            ordoro.lost_responses,
            ordoro.throttled
        )
    }
}

/// The two simulators, seeded and agreeing with the state file.
#[derive(Debug)]
pub struct Sims {
    /// QuickBooks Online, holding the sample company.
    pub qbo: Arc<QboSim>,
    /// Ordoro, holding the orders the state file's ledger says were created.
    pub ordoro: Arc<OrdoroSim>,
    /// Sample sales seeded into QBO.
    pub sales: usize,
    /// Orders seeded into Ordoro from the state file.
    pub orders: usize,
}

/// Builds the simulators on `clock`, consistent with `store`; `faults` seeds fault injection.
/// With `webhooks`, the QBO simulator notifies every change made after the sample was seeded
/// (the sample is history: its sales were saved before the program started).
pub async fn sims(
    store: &dyn Store,
    clock: Arc<dyn Clock>,
    faults: Option<u64>,
    webhooks: Option<WebhookConfig>,
) -> qbo_ordoro::Result<Sims> {
    let plan = faults.map_or_else(FaultPlan::none, quick_chaos);
    let qbo_sim = Arc::new(QboSim::with_config(
        clock.clone(),
        QboSimConfig {
            faults: plan.clone(),
            timeout_after: Duration::from_millis(300),
            ..QboSimConfig::default()
        },
    ));
    let ordoro_sim = Arc::new(OrdoroSim::with_config(
        clock.clone(),
        OrdoroSimConfig {
            latency: SimLatency::zero(),
            faults: FaultPlan { seed: plan.seed.wrapping_add(1), ..plan },
            timeout_after: Duration::from_millis(300),
            ..OrdoroSimConfig::default()
        },
    ));
    ordoro_sim.add_sales_channel(CART);
    let sales = sample_company(anchor());
    for sale in &sales {
        qbo_sim.insert(REALM, sale.txn.clone());
    }
    let orders = seed_ledger_orders(&ordoro_sim, store, &sales).await?;
    if let Some(config) = webhooks {
        qbo_sim.enable_webhooks(config);
    }
    Ok(Sims { qbo: qbo_sim, ordoro: ordoro_sim, sales: sales.len(), orders })
}

/// Builds the world on `clock`, consistent with `store`; `faults` seeds fault injection.
pub async fn build(
    store: &dyn Store,
    clock: Arc<dyn Clock>,
    faults: Option<u64>,
) -> qbo_ordoro::Result<World> {
    let sims = sims(store, clock.clone(), faults, None).await?;
    // The simulator's tokens exist only in this process: keep them out of the state file.
    let tokens = Arc::new(MemoryStore::new());
    tokens.save_token(REALM, &sims.qbo.connect(REALM)).await?;
    let seed = faults.unwrap_or(0);
    let qbo_transport = SharedTransport::from_arc(sims.qbo.clone());
    let qbo =
        qbo_client(sims.qbo.client_config(REALM), qbo_transport, clock.clone(), tokens, seed)?;
    let ordoro_transport = SharedTransport::from_arc(sims.ordoro.clone());
    let ordoro = ordoro_client(sims.ordoro.client_config(), ordoro_transport, clock, seed)?;
    Ok(World {
        qbo: Arc::new(qbo),
        ordoro: Arc::new(ordoro),
        sales: sims.sales,
        orders: sims.orders,
        sims: (sims.qbo, sims.ordoro),
    })
}

/// A QBO client of the simulated company `config` names, over `transport` (the simulator, or
/// the simulator wrapped), with the demo's short retries.
pub fn qbo_client(
    config: QboConfig,
    transport: SharedTransport,
    clock: Arc<dyn Clock>,
    tokens: Arc<dyn TokenStore>,
    seed: u64,
) -> qbo_ordoro::Result<QboClient> {
    Ok(QboClient::new(config, transport, clock, tokens)?.with_retry_policy(short_retries(seed, 5)))
}

/// An Ordoro client of the simulated account, over `transport`, with the demo's short retries.
pub fn ordoro_client(
    config: OrdoroConfig,
    transport: SharedTransport,
    clock: Arc<dyn Clock>,
    seed: u64,
) -> qbo_ordoro::Result<OrdoroClient> {
    Ok(OrdoroClient::new(config, transport, clock)?
        .with_retry_policy(short_retries(seed.wrapping_add(1), 4)))
}

/// A new eligible sale as a merchant makes it now: class `Ordoro` (at header or line level), a
/// ship-to address, sometimes a shipping line, drawn from `seed`. Its id (`id`, which the
/// simulator keeps unless taken) and DocNumber (`W{id}`) are new, so a sale made by an earlier
/// process (whose ledger entry the state file keeps) is never confused with it.
#[allow(dead_code)] // the serve example's
pub fn new_sale(seed: u64, id: u64, now: DateTime<Utc>) -> Transaction {
    let mut sale = generate_eligible(seed, 1, now, chrono::Duration::zero())
        .pop()
        .map(|sale| sale.txn)
        .unwrap_or_else(|| Transaction { kind: EntityKind::Invoice, doc: Default::default() });
    sale.doc.id = id.to_string();
    sale.doc.doc_number = Some(format!("W{id}"));
    sale
}

/// The simulators' chaos with waits cut to a fraction of a second, so a demo does not sit
/// through 30 s timeouts.
fn quick_chaos(seed: u64) -> FaultPlan {
    FaultPlan { slow_latency: Duration::from_millis(150), ..FaultPlan::chaos(seed) }
}

/// The services' retry policies with their waits scaled down: the simulators forgive a short
/// pause after a throttle, and a demo should not wait a minute.
fn short_retries(seed: u64, max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base: Duration::from_millis(100),
        cap: Duration::from_secs(2),
        throttle_wait: Some(Duration::from_secs(1)),
        seed,
    }
}

/// Seeds Ordoro with the order of every sample sale the ledger says was created (or cancelled);
/// returns how many. Pending entries are left out: the engine settles them by a lookup, finds
/// no order, and creates it afresh, which is what a lost create means.
async fn seed_ledger_orders(
    sim: &OrdoroSim,
    store: &dyn Store,
    sales: &[SampleSale],
) -> qbo_ordoro::Result<usize> {
    let mut seeded = 0;
    for sale in sales {
        let key = LedgerKey {
            realm: REALM.to_string(),
            entity: sale.txn.kind,
            qbo_id: sale.txn.doc.id.clone(),
        };
        let Some(entry) = store.ledger_entry(&key).await? else { continue };
        if entry.state == LedgerState::Pending {
            continue;
        }
        let order = sim.seed_order(&order_body(&sale.txn, &entry.order_id))?;
        if entry.order_number.as_deref().is_some_and(|n| n != order.order_number) {
            tracing::warn!(
                expected = ?entry.order_number, seeded = %order.order_number,
                "the simulated order number differs from the state file's"
            );
        }
        if entry.state == LedgerState::Cancelled {
            sim.mark_cancelled(&order.order_number);
        }
        seeded += 1;
    }
    Ok(seeded)
}

/// The order as it was created: the sale mapped with its own classes accepted (the accepted
/// classes may have changed since), or a bare order when it cannot be mapped any more.
fn order_body(txn: &Transaction, order_id: &str) -> NewOrder {
    let config = MappingConfig::default()
        .with_cart(Some(CART))
        .with_classes(classes_of(&txn.doc).into_iter().chain(["Ordoro".to_string()]));
    let mut order = match decide(txn, &config) {
        Decision::Create(mapped) => mapped.order,
        _ => NewOrder { cart: Some(CART), ..NewOrder::default() },
    };
    order.order_id = order_id.to_string();
    order
}

/// The class names on a sale, at header and line level.
fn classes_of(doc: &SalesTransaction) -> BTreeSet<String> {
    let lines = doc.line.iter().flat_map(|line| match &line.detail {
        LineDetail::SalesItem(d) => vec![d.class_ref.clone()],
        LineDetail::Group(g) => g
            .line
            .iter()
            .map(|l| match &l.detail {
                LineDetail::SalesItem(d) => d.class_ref.clone(),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    });
    std::iter::once(doc.class_ref.clone())
        .chain(lines)
        .flatten()
        .filter_map(|class| class.name)
        .collect()
}
