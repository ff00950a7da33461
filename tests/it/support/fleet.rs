//! The world of the fleet tests (`fleet`, `fleet_sim`): one simulated QBO serving many companies,
//! several simulated Ordoro accounts they share (each company on a sales channel of its own, so
//! that two companies' equal QBO ids, hence equal `order_id`s, never meet: Ordoro keys a repeated
//! `order_id` by channel and numbers each channel's orders with its own index), a
//! [`MemoryCoordinator`] holding the companies and the state, all on one virtual clock; the
//! [`EngineFactory`] that builds a company's engine for a run as a host would (the Ordoro client
//! over [`CompanyRun::ordoro_transport`]), with a test's own layers under the gate; and
//! [`Hooked`], a coordinator whose calls a test can delay or fail.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use qbo_ordoro::engine::{SyncConfig, SyncEngine};
use qbo_ordoro::fleet::{
    CompanyRun, CompanyState, Coordinator, EngineFactory, FleetCompany, Lease, MemoryCoordinator,
    QueuedEvent,
};
use qbo_ordoro::model::ordoro::Order;
use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::sim::ordoro::{OrdoroSim, OrdoroSimConfig};
use qbo_ordoro::sim::qbo::{QboSim, QboSimConfig, simple_sale};
use qbo_ordoro::webhook::ChangeEvent;
use qbo_ordoro::{
    Clock, OrdoroClient, QboClient, Result, SharedTransport, Store, TokenStore, TokioClock,
};
use rust_decimal::Decimal;

/// The class that marks a sale for Ordoro (the mapping's default).
pub const ORDORO_CLASS: (&str, &str) = ("5000000000000000001", "Ordoro");

/// One company of the world.
#[derive(Debug, Clone)]
pub struct SimCompany {
    /// Its QBO realm.
    pub realm: String,
    /// The index of its Ordoro account in [`FleetWorld::accounts`].
    pub account: usize,
    /// Its sales channel in that account.
    pub cart: i64,
}

impl SimCompany {
    /// The company as the coordinator knows it.
    pub fn fleet(&self) -> FleetCompany {
        FleetCompany { realm: self.realm.clone(), ordoro_account: account_name(self.account) }
    }
}

/// The coordinator's name of account `i`.
pub fn account_name(i: usize) -> String {
    format!("ordoro-{i}")
}

/// A layer a test puts around a wire, for one company's run: `(run, inner) -> outer`.
pub type Layer = Arc<dyn Fn(&CompanyRun, SharedTransport) -> SharedTransport + Send + Sync>;

/// See the module docs.
pub struct FleetWorld {
    /// Virtual time (call inside a paused tokio runtime).
    pub clock: Arc<TokioClock>,
    /// Simulated QBO, every company.
    pub qbo: Arc<QboSim>,
    /// The simulated Ordoro accounts.
    pub accounts: Vec<Arc<OrdoroSim>>,
    /// The companies, the leases, the queue and the engine's state.
    pub coordinator: MemoryCoordinator,
    /// The companies, in realm order.
    pub companies: Vec<SimCompany>,
}

impl FleetWorld {
    /// `companies` companies over `accounts` Ordoro accounts (company `i` on account
    /// `i % accounts`), each connected and added to the coordinator, the clock at `at`.
    pub async fn start(
        at: DateTime<Utc>,
        companies: usize,
        qbo: QboSimConfig,
        accounts: Vec<OrdoroSimConfig>,
    ) -> FleetWorld {
        let clock = Arc::new(TokioClock::starting_at(at));
        let qbo = Arc::new(QboSim::with_config(clock.clone(), qbo));
        let accounts: Vec<_> = accounts
            .into_iter()
            .map(|config| Arc::new(OrdoroSim::with_config(clock.clone(), config)))
            .collect();
        let coordinator = MemoryCoordinator::new(clock.clone());
        let mut list = Vec::new();
        for i in 0..companies {
            let company = SimCompany {
                realm: format!("91303500{i:08}"),
                account: i % accounts.len(),
                cart: 7000 + i64::try_from(i).unwrap(),
            };
            accounts[company.account].add_sales_channel(company.cart);
            qbo.add_company(&company.realm);
            let token = qbo.connect(&company.realm);
            coordinator.store().save_token(&company.realm, &token).await.unwrap();
            coordinator.add_company(&company.fleet()).await.unwrap();
            list.push(company);
        }
        FleetWorld { clock, qbo, accounts, coordinator, companies: list }
    }

    /// The coordinator as the workers take it.
    pub fn shared(&self) -> Arc<dyn Coordinator> {
        Arc::new(self.coordinator.clone())
    }

    /// The factory of the companies' engines: `base` with the company's sales channel, the QBO
    /// client over `qbo` around the simulator, the Ordoro client over the run's budget and gate
    /// with `ordoro` around the account's simulator (under the gate).
    pub fn factory(
        &self,
        base: SyncConfig,
        qbo: Option<Layer>,
        ordoro: Option<Layer>,
    ) -> EngineFactory {
        let clock: Arc<dyn Clock> = self.clock.clone();
        let sim = self.qbo.clone();
        let accounts = self.accounts.clone();
        let companies = self.companies.clone();
        Arc::new(move |run: &CompanyRun| {
            let company = companies
                .iter()
                .find(|c| c.realm == run.lease.realm())
                .expect("a company of the world");
            let mut qbo_wire = SharedTransport::from_arc(sim.clone());
            if let Some(layer) = &qbo {
                qbo_wire = layer(run, qbo_wire);
            }
            let account = &accounts[company.account];
            let mut ordoro_wire = SharedTransport::from_arc(account.clone());
            if let Some(layer) = &ordoro {
                ordoro_wire = layer(run, ordoro_wire);
            }
            let tokens: Arc<dyn TokenStore> = run.token_store.clone();
            let qbo_client =
                QboClient::new(sim.client_config(&company.realm), qbo_wire, clock.clone(), tokens)?;
            let ordoro_client = OrdoroClient::new(
                account.client_config(),
                run.ordoro_transport(ordoro_wire),
                clock.clone(),
            )?;
            let mut config = base.clone();
            config.mapping = config.mapping.clone().with_cart(Some(company.cart));
            Ok(SyncEngine::builder()
                .qbo(Arc::new(qbo_client))
                .ordoro(Arc::new(ordoro_client))
                .clock(clock.clone())
                .config(config))
        })
    }

    /// A sale marked for Ordoro, saved in company `i`'s QBO now; returns its id.
    pub fn sale(&self, i: usize, kind: EntityKind) -> String {
        let txn = simple_sale(kind, "1001", Some(ORDORO_CLASS), Decimal::from(25));
        self.qbo.insert(&self.companies[i].realm, txn).id
    }

    /// The orders of company `i` (its account's orders on its sales channel).
    pub fn orders(&self, i: usize) -> Vec<Order> {
        let company = &self.companies[i];
        self.accounts[company.account]
            .orders()
            .into_iter()
            .filter(|o| o.sales_channel.as_ref().and_then(|c| c.id) == Some(company.cart))
            .collect()
    }

    /// How many orders of company `i` carry the `order_id` of sale `id`.
    pub fn count(&self, i: usize, kind: EntityKind, id: &str) -> usize {
        let order_id = crate::support::sim::order_id(kind, id);
        self.orders(i).iter().filter(|o| o.cart_order_id.as_deref() == Some(&order_id)).count()
    }

    /// Company `i`'s cursor of `kind`.
    pub async fn cursor(&self, i: usize, kind: EntityKind) -> Option<DateTime<Utc>> {
        let name = format!("{}/{}", self.companies[i].realm, kind.as_str());
        self.coordinator.store().cursor(&name).await.unwrap()
    }

    /// The coordinator's view of every company.
    pub async fn states(&self) -> Vec<CompanyState> {
        self.coordinator.companies().await.unwrap()
    }
}

/// Lets `secs` of virtual time pass (the workers run meanwhile).
pub async fn later(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

/// What [`Hooked`] runs before a coordinator call, given the call's name (`"renew"`, `"claim"`,
/// ...): a delay, or an error in place of the call.
pub type Hook =
    Arc<dyn Fn(&'static str) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> + Send + Sync>;

/// A coordinator whose every call first runs a [`Hook`] (the store handed out is the inner's).
#[derive(Clone)]
pub struct Hooked {
    /// The coordinator underneath.
    pub inner: Arc<dyn Coordinator>,
    /// The hook.
    pub hook: Hook,
}

impl std::fmt::Debug for Hooked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooked").field("inner", &self.inner).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Coordinator for Hooked {
    async fn add_company(&self, company: &FleetCompany) -> Result<()> {
        (self.hook)("add_company").await?;
        self.inner.add_company(company).await
    }
    async fn companies(&self) -> Result<Vec<CompanyState>> {
        (self.hook)("companies").await?;
        self.inner.companies().await
    }
    async fn claim(&self, worker: &str, max: usize, lease_for: Duration) -> Result<Vec<Lease>> {
        (self.hook)("claim").await?;
        self.inner.claim(worker, max, lease_for).await
    }
    async fn renew(&self, lease: &Lease, lease_for: Duration) -> Result<Lease> {
        (self.hook)("renew").await?;
        self.inner.renew(lease, lease_for).await
    }
    async fn release(&self, lease: &Lease, due_in: Duration) -> Result<()> {
        (self.hook)("release").await?;
        self.inner.release(lease, due_in).await
    }
    fn fenced_store(&self, lease: &Lease) -> Arc<dyn Store> {
        self.inner.fenced_store(lease)
    }
    fn store(&self) -> Arc<dyn Store> {
        self.inner.store()
    }
    async fn enqueue_events(&self, events: &[ChangeEvent]) -> Result<usize> {
        (self.hook)("enqueue_events").await?;
        self.inner.enqueue_events(events).await
    }
    async fn queued_events(&self, lease: &Lease, max: usize) -> Result<Vec<QueuedEvent>> {
        (self.hook)("queued_events").await?;
        self.inner.queued_events(lease, max).await
    }
    async fn ack_events(&self, lease: &Lease, seq: u64) -> Result<()> {
        (self.hook)("ack_events").await?;
        self.inner.ack_events(lease, seq).await
    }
    async fn reserve_ordoro_request(&self, account: &str, per_minute: u32) -> Result<Duration> {
        (self.hook)("reserve_ordoro_request").await?;
        self.inner.reserve_ordoro_request(account, per_minute).await
    }
    async fn wait_for_work(&self, timeout: Duration) {
        if (self.hook)("wait_for_work").await.is_ok() {
            self.inner.wait_for_work(timeout).await;
        }
    }
}
