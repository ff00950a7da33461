//! The sync engine: runs (incremental, by range, one transaction), the cursor, the update and
//! void policies, and the transaction log, over the ports only ([`QboApi`], [`OrdoroApi`],
//! [`Store`], [`Clock`]) and the pure [`mapping`](crate::mapping), so it runs the same against
//! the real services, the simulators or in-memory fakes, in real or virtual time, on any async
//! runtime, with three guarantees: exactly one Ordoro order per eligible transaction (a pending
//! ledger entry is saved before each create, and an ambiguous create is settled by a lookup
//! before any retry), a cursor that never passes a transaction not yet handled, and one log
//! entry per transaction looked at per run.

mod changes;
mod company;
mod config;
mod cursor;
mod handle;
mod inspect;
mod items;
mod log;
mod run;
mod settle;
mod update;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

pub use company::{DEFAULT_COMPANY_COUNTRY, company_country};
pub use config::{
    DEFAULT_EVENT_RETENTION, DEFAULT_SETTLE_AFTER, InitialSince, RunOptions, SyncConfig,
};
pub use inspect::{INSPECTION_HISTORY, InspectedDocument, Inspection};
pub use items::UnknownSkuPolicy;
pub use run::{RunRange, RunReport, RunScope, TxnRef, WatchOptions};

use crate::{Clock, Error, OrdoroApi, QboApi, Result, Store};

/// Turns QBO invoices and sales receipts into Ordoro orders, for one QBO company.
///
/// Assemble it with [`SyncEngine::builder`] from the two service ports, a store, a clock and a
/// [`SyncConfig`]; then call [`run_incremental`](Self::run_incremental) on a schedule (or let
/// [`watch`](Self::watch) loop), [`run_range`](Self::run_range) to re-sync a period, or
/// [`run_one`](Self::run_one) for one transaction. Every run returns a [`RunReport`].
/// [`inspect`](Self::inspect) shows one transaction as a run would see it, writing nothing.
///
/// The whole stack against the simulated services (feature `sim`), in tokio's virtual time:
/// the real clients, pacing and wire formats, one sale marked `Ordoro` and one of another class.
///
/// ```
/// use std::sync::Arc;
///
/// use qbo_ordoro::model::qbo::EntityKind;
/// use qbo_ordoro::sim::ordoro::OrdoroSim;
/// use qbo_ordoro::sim::qbo::{QboSim, simple_sale};
/// use qbo_ordoro::store::Action;
/// use qbo_ordoro::{
///     Clock, MemoryStore, OrdoroClient, QboClient, Reason, RunOptions, SharedTransport,
///     SyncEngine, TokenStore, TokioClock,
/// };
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> qbo_ordoro::Result<()> {
/// let realm = "9130350000000001";
/// let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
/// let qbo_sim = Arc::new(QboSim::new(clock.clone()));
/// let ordoro_sim = Arc::new(OrdoroSim::new(clock.clone()));
/// qbo_sim.insert(realm, simple_sale(EntityKind::Invoice, "1001", Some(("1", "Ordoro")), 25.into()));
/// qbo_sim.insert(realm, simple_sale(EntityKind::Invoice, "1002", Some(("2", "Retail")), 9.into()));
///
/// // The company's refresh token goes into the store before the first run.
/// let store = Arc::new(MemoryStore::new());
/// store.save_token(realm, &qbo_sim.connect(realm)).await?;
/// let qbo = QboClient::new(
///     qbo_sim.client_config(realm),
///     SharedTransport::from_arc(qbo_sim.clone()),
///     clock.clone(),
///     store.clone(),
/// )?;
/// let ordoro = OrdoroClient::new(
///     ordoro_sim.client_config(),
///     SharedTransport::from_arc(ordoro_sim.clone()),
///     clock.clone(),
/// )?;
/// let engine = SyncEngine::builder()
///     .qbo(Arc::new(qbo))
///     .ordoro(Arc::new(ordoro))
///     .store(store.clone())
///     .clock(clock)
///     .build()?;
///
/// let report = engine.run_incremental(&RunOptions::default()).await?;
/// assert_eq!(report.summary.to_string(), "created=1 updated=0 skipped=1 failed=0");
/// let skipped = report.entries.iter().find(|e| e.action == Action::Skipped).unwrap();
/// assert_eq!(skipped.reason, Some(Reason::ClassMismatch));
/// assert_eq!(ordoro_sim.orders().len(), 1);
///
/// // Run again: the window re-reads a few minutes before the cursor, and nothing is created twice.
/// let again = engine.run_incremental(&RunOptions::default()).await?;
/// assert_eq!(again.summary.created, 0);
/// assert_eq!(ordoro_sim.orders().len(), 1);
/// # Ok(())
/// # }
/// ```
///
/// A host's own ports plug in the same way; the engine needs nothing else:
///
/// ```
/// use std::sync::Arc;
/// use qbo_ordoro::{Clock, OrdoroApi, QboApi, RunOptions, Store, SyncConfig, SyncEngine};
///
/// async fn sync_now(
///     qbo: Arc<dyn QboApi>,
///     ordoro: Arc<dyn OrdoroApi>,
///     store: Arc<dyn Store>,
///     clock: Arc<dyn Clock>,
/// ) -> qbo_ordoro::Result<()> {
///     let mut config = SyncConfig::default();
///     config.update_existing = true;
///     let engine = SyncEngine::builder()
///         .qbo(qbo)
///         .ordoro(ordoro)
///         .store(store)
///         .clock(clock)
///         .config(config)
///         .build()?;
///     let report = engine.run_incremental(&RunOptions::default()).await?;
///     if let Some(why) = &report.aborted {
///         tracing::warn!(%why, "the run stopped early; the next run resumes before the failure");
///     }
///     tracing::info!(summary = %report.summary, "synced"); // created=N updated=N skipped=N failed=N
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct SyncEngine {
    qbo: Arc<dyn QboApi>,
    ordoro: Arc<dyn OrdoroApi>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: SyncConfig,
    runs_started: AtomicU64,
    /// How Ordoro numbers each sales channel's orders, learnt as the engine runs.
    numbers: settle::OrderNumbers,
    /// One run at a time per engine: two runs of one company at once could both find a sale
    /// new and both create its order.
    turn: futures_util::lock::Mutex<()>,
}

impl SyncEngine {
    /// A builder; every part but the config is required.
    pub fn builder() -> SyncEngineBuilder {
        SyncEngineBuilder::default()
    }

    /// The settings this engine runs with.
    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    /// The QBO company (realm) this engine syncs.
    pub fn realm(&self) -> &str {
        self.qbo.realm_id()
    }

    /// The name of the incremental cursor of `entity` in the store (`"{realm}/{Entity}"`).
    pub fn cursor_name(&self, entity: crate::model::qbo::EntityKind) -> String {
        format!("{}/{}", self.realm(), entity.as_str())
    }

    /// [`SyncConfig::overlap`] as a signed duration (validated on build, so it converts).
    fn overlap(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.overlap).unwrap_or_default()
    }

    /// The name of the cursor of deletes read from the change feed (`"{realm}/Deleted"`), kept
    /// with `cancel_on_void` on.
    pub fn deletes_cursor_name(&self) -> String {
        format!("{}/Deleted", self.realm())
    }
}

/// Assembles a [`SyncEngine`]. Cheap to clone (the parts are shared), so a host (or the
/// `Scheduler`) can build an engine again with other settings.
#[derive(Debug, Default, Clone)]
pub struct SyncEngineBuilder {
    qbo: Option<Arc<dyn QboApi>>,
    ordoro: Option<Arc<dyn OrdoroApi>>,
    store: Option<Arc<dyn Store>>,
    clock: Option<Arc<dyn Clock>>,
    config: SyncConfig,
}

impl SyncEngineBuilder {
    /// The QuickBooks Online port (required).
    pub fn qbo(mut self, qbo: Arc<dyn QboApi>) -> Self {
        self.qbo = Some(qbo);
        self
    }

    /// The Ordoro port (required).
    pub fn ordoro(mut self, ordoro: Arc<dyn OrdoroApi>) -> Self {
        self.ordoro = Some(ordoro);
        self
    }

    /// The state store (required).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The clock the engine reads and sleeps on (required).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The settings (default: [`SyncConfig::default`]).
    pub fn config(mut self, config: SyncConfig) -> Self {
        self.config = config;
        self
    }

    /// The store given, if any.
    #[cfg(feature = "tokio")]
    pub(crate) fn store_part(&self) -> Option<Arc<dyn Store>> {
        self.store.clone()
    }

    /// The clock given, if any.
    #[cfg(feature = "tokio")]
    pub(crate) fn clock_part(&self) -> Option<Arc<dyn Clock>> {
        self.clock.clone()
    }

    /// The settings given (or the default).
    #[cfg(feature = "tokio")]
    pub(crate) fn config_part(&self) -> &SyncConfig {
        &self.config
    }

    /// The engine, or a [`Config`](crate::ErrorKind::Config) error naming what is missing or
    /// out of range.
    pub fn build(self) -> Result<SyncEngine> {
        let missing = |what: &str| Error::config(format!("the sync engine needs {what}"));
        self.config.validate()?;
        Ok(SyncEngine {
            qbo: self.qbo.ok_or_else(|| missing("a QBO client (builder.qbo)"))?,
            ordoro: self.ordoro.ok_or_else(|| missing("an Ordoro client (builder.ordoro)"))?,
            store: self.store.ok_or_else(|| missing("a store (builder.store)"))?,
            clock: self.clock.ok_or_else(|| missing("a clock (builder.clock)"))?,
            config: self.config,
            runs_started: AtomicU64::new(0),
            numbers: settle::OrderNumbers::default(),
            turn: futures_util::lock::Mutex::new(()),
        })
    }
}
