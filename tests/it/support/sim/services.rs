//! The simulated services one engine test runs against: a QBO company and an Ordoro account on
//! one virtual clock, the company connected (its token in a [`MemoryStore`]) and the sales channel
//! [`CART`](super::CART) added, and engines assembled as a freshly started process would (new
//! clients over the given transports, the same store). Modules wrap a transport of their own
//! (an outage switch, a recorder) around [`Services::qbo_wire`] or [`Services::ordoro_wire`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use qbo_ordoro::engine::{SyncConfig, SyncEngine, SyncEngineBuilder};
use qbo_ordoro::model::qbo::{MetaData, Transaction};
use qbo_ordoro::sim::ordoro::{OrdoroSim, OrdoroSimConfig};
use qbo_ordoro::sim::qbo::{QboSim, QboSimConfig, to_pacific};
use qbo_ordoro::store::MemoryStore;
use qbo_ordoro::{Clock, OrdoroClient, QboClient, SharedTransport, TokenStore, TokioClock};

/// The company the services hold.
pub const REALM: &str = "9130350000000001";

/// See the module docs.
pub struct Services {
    /// The virtual clock (call inside a paused tokio runtime).
    pub clock: Arc<TokioClock>,
    /// Simulated QBO.
    pub qbo: Arc<QboSim>,
    /// Simulated Ordoro.
    pub ordoro: Arc<OrdoroSim>,
    /// The engine's state.
    pub store: Arc<MemoryStore>,
}

impl Services {
    /// Services with default settings, the clock at `at`.
    pub async fn start(at: DateTime<Utc>) -> Self {
        Self::start_with(at, QboSimConfig::default(), OrdoroSimConfig::default()).await
    }

    /// Services with these simulator settings, the clock at `at`.
    pub async fn start_with(at: DateTime<Utc>, qbo: QboSimConfig, ordoro: OrdoroSimConfig) -> Self {
        let clock = Arc::new(TokioClock::starting_at(at));
        let qbo = Arc::new(QboSim::with_config(clock.clone(), qbo));
        let ordoro = Arc::new(OrdoroSim::with_config(clock.clone(), ordoro));
        ordoro.add_sales_channel(super::CART);
        let store = Arc::new(MemoryStore::new());
        store.save_token(REALM, &qbo.connect(REALM)).await.unwrap();
        Services { clock, qbo, ordoro, store }
    }

    /// The QBO simulator as a transport.
    pub fn qbo_wire(&self) -> SharedTransport {
        SharedTransport::from_arc(self.qbo.clone())
    }

    /// The Ordoro simulator as a transport.
    pub fn ordoro_wire(&self) -> SharedTransport {
        SharedTransport::from_arc(self.ordoro.clone())
    }

    /// An engine with `config` over the simulators themselves.
    pub fn engine(&self, config: SyncConfig) -> SyncEngine {
        self.engine_over(self.qbo_wire(), self.ordoro_wire(), config)
    }

    /// An engine with `config` whose clients talk through `qbo` and `ordoro`.
    pub fn engine_over(
        &self,
        qbo: SharedTransport,
        ordoro: SharedTransport,
        config: SyncConfig,
    ) -> SyncEngine {
        self.builder_over(qbo, ordoro, config).build().unwrap()
    }

    /// The builder of [`engine_over`](Self::engine_over)'s engine (a scheduler builds from it).
    pub fn builder_over(
        &self,
        qbo: SharedTransport,
        ordoro: SharedTransport,
        config: SyncConfig,
    ) -> SyncEngineBuilder {
        let clock: Arc<dyn Clock> = self.clock.clone();
        let qbo =
            QboClient::new(self.qbo.client_config(REALM), qbo, clock.clone(), self.store.clone())
                .unwrap();
        let ordoro = OrdoroClient::new(self.ordoro.client_config(), ordoro, clock.clone()).unwrap();
        SyncEngine::builder()
            .qbo(Arc::new(qbo))
            .ordoro(Arc::new(ordoro))
            .store(self.store.clone())
            .clock(clock)
            .config(config)
    }

    /// Seeds `txn` into QBO stamped `at` (created and last updated); returns its QBO id.
    pub fn seed_at(&self, mut txn: Transaction, at: DateTime<Utc>) -> String {
        let at = to_pacific(at);
        txn.doc.meta_data = Some(MetaData { create_time: Some(at), last_updated_time: Some(at) });
        self.qbo.insert(REALM, txn).id
    }
}
