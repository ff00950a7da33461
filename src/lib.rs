//! # qbo-ordoro
//!
//! Moves orders from QuickBooks Online (QBO) into Ordoro. Merchants mark the invoices and sales
//! receipts to ship with the class `Ordoro` and type the ship-to address line by line; this crate
//! finds those transactions and turns each into exactly one Ordoro order.
//!
//! The crate is a set of parts a host program assembles; what it assembles is re-exported here,
//! at the root:
//!
//! - the engine: [`SyncEngine`], with its [`SyncConfig`], [`RunOptions`] and [`RunReport`];
//! - the ports it talks through: [`QboApi`], [`OrdoroApi`], [`Store`] (with [`TokenStore`]),
//!   [`Clock`], and [`HttpTransport`] under the clients;
//! - their implementations: [`QboClient`] and [`OrdoroClient`] with their configurations,
//!   [`MemoryStore`], `SqliteStore` (feature `sqlite`) and `PostgresStore` (feature
//!   `postgres`), [`ManualClock`] and `TokioClock`
//!   (feature `tokio`), `ReqwestTransport` (feature `reqwest`), and the simulated services in
//!   `sim` (feature `sim`);
//! - one [`Error`] whose [`ErrorKind`] says what to do next, and [`Reason`], the one vocabulary
//!   of why a transaction was skipped or failed.
//!
//! Under them, a pure core that does no I/O: [`address`] blocks, [`shipping`] lines, the
//! [`class_filter`] and the [`mapping`] from transaction to order, over the typed documents in
//! [`model`]; and [`webhook`], which checks and reads QBO's webhook deliveries.
//! [`qbo::connect`] connects a company (Intuit's OAuth consent, the code exchange, revoke). `ARCHITECTURE.md` maps the modules and the invariants between them.
//!
//! ## A whole sync, against the simulated services
//!
//! The real clients, pacing and wire formats over the simulated QBO and Ordoro (features `sim`
//! and `tokio`), in tokio's virtual time: the company connects through the OAuth flow, and one
//! sale marked `Ordoro` becomes one order. With the real services, the transports are a
//! `ReqwestTransport` and the store a `SqliteStore`; see [`SyncEngine`] for more.
//!
#![cfg_attr(all(feature = "sim", feature = "tokio"), doc = "```")]
#![cfg_attr(not(all(feature = "sim", feature = "tokio")), doc = "```ignore")]
//! use std::sync::Arc;
//!
//! use qbo_ordoro::model::qbo::EntityKind;
//! use qbo_ordoro::qbo::connect::{OAuthApp, parse_callback};
//! use qbo_ordoro::sim::ordoro::OrdoroSim;
//! use qbo_ordoro::sim::qbo::{QboSim, simple_sale};
//! use qbo_ordoro::{
//!     Clock, MemoryStore, OrdoroClient, QboClient, RunOptions, SharedTransport, SyncEngine,
//!     TokenStore, TokioClock,
//! };
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> qbo_ordoro::Result<()> {
//! let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
//! let qbo_sim = Arc::new(QboSim::new(clock.clone()));
//! let ordoro_sim = Arc::new(OrdoroSim::new(clock.clone()));
//! let realm = "9130350000000001";
//! qbo_sim.insert(realm, simple_sale(EntityKind::Invoice, "1001", Some(("1", "Ordoro")), 25.into()));
//! let qbo_http = SharedTransport::from_arc(qbo_sim.clone());
//!
//! // Connect the company: consent, callback, code exchange; the tokens go into the store.
//! let app = OAuthApp::new("sim-client-id", "sim-client-secret".into(), "http://localhost:8765/callback")?;
//! let consent = app.consent()?;
//! let callback = parse_callback(&qbo_sim.consent(&consent.url)?, &consent.state)?;
//! let connection = app.exchange(&qbo_http, clock.as_ref(), &callback).await?;
//! let store = Arc::new(MemoryStore::new());
//! store.save_token(&connection.realm_id, &connection.token).await?;
//!
//! // Assemble the engine and run.
//! let qbo = QboClient::new(qbo_sim.client_config(realm), qbo_http, clock.clone(), store.clone())?;
//! let ordoro = OrdoroClient::new(
//!     ordoro_sim.client_config(),
//!     SharedTransport::from_arc(ordoro_sim.clone()),
//!     clock.clone(),
//! )?;
//! let engine = SyncEngine::builder()
//!     .qbo(Arc::new(qbo))
//!     .ordoro(Arc::new(ordoro))
//!     .store(store)
//!     .clock(clock)
//!     .build()?;
//! let report = engine.run_incremental(&RunOptions::default()).await?;
//! assert_eq!(report.summary.to_string(), "created=1 updated=0 skipped=0 failed=0");
//! assert_eq!(ordoro_sim.orders().len(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! ## Features
//!
//! None is on by default: the core (parsing, mapping, the engine, both clients, the OAuth
//! connect calls, [`MemoryStore`], [`ManualClock`]) builds with none, on any async runtime.
//! Items that need a feature are marked so in these docs.
//!
//! | Feature | Brings |
//! | --- | --- |
//! | `reqwest` | `ReqwestTransport`, the [`HttpTransport`] over reqwest with rustls. |
//! | `sqlite` | `SqliteStore`, the engine's state in a SQLite file (bundled SQLite, WAL mode). |
//! | `postgres` | `PostgresStore`, the engine's state in PostgreSQL, shared by many processes (tokio-postgres, deadpool-postgres), and `PostgresCoordinator`, the fleet's companies, fenced leases, webhook queue and Ordoro budgets in the same database. Implies `tokio`. |
//! | `sim` | `sim`: simulated QBO and Ordoro speaking the real wire formats (OAuth included), seeded faults, QBO webhooks with seeded delivery faults, sample sales, and a loopback server (tokio, hyper). |
//! | `tokio` | `TokioClock`, a [`Clock`] over tokio's timer (real or paused time). |
//! | `testing` | `store::conformance`, the checks any [`Store`] must pass, and `store::conformance::coordinator`, those of a fleet `Coordinator`: run them on your own. |
//!
//! ## Examples
//!
//! In the repository's `examples/`: `sync` (`cargo run --example sync`), the main job, against
//! the simulated services with no credentials or the real ones with them, with `--connect` to
//! connect a company and `--log` to read the transaction log; `assemble`, the smallest complete
//! host; `preview`, `parse_address` and `webhook`, the pure core from the command line;
//! `bench_sync`, the end-to-end benchmark.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod address;
pub mod class_filter;
pub mod clock;
pub mod engine;
mod error;
pub mod fleet;
#[doc(hidden)]
pub mod fuzz;
pub mod mapping;
pub mod model;
pub mod ordoro;
pub mod qbo;
mod reason;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod schedule;
pub mod shipping;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;
pub mod transport;
#[cfg(feature = "web")]
pub mod web;
pub mod webhook;

// What a host assembles an engine from: the ports, the engine, the clients, the stores.
#[cfg(feature = "tokio")]
pub use clock::TokioClock;
pub use clock::{Clock, ManualClock};
pub use engine::{RunOptions, RunReport, SyncConfig, SyncEngine, company_country};
pub use error::{Error, ErrorKind, Result, Service};
pub use ordoro::api::OrdoroApi;
pub use ordoro::http::{OrdoroClient, OrdoroConfig};
pub use qbo::api::QboApi;
pub use qbo::http::{QboClient, QboConfig, QboEnvironment};
pub use reason::{Reason, UnknownReason};
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::{MemoryStore, Store, TokenStore};
#[cfg(feature = "postgres")]
pub use store::{PostgresCoordinator, PostgresStore};
#[cfg(feature = "reqwest")]
pub use transport::ReqwestTransport;
pub use transport::{
    HttpRequest, HttpResponse, HttpTransport, SharedTransport, TransportError, TransportErrorKind,
};
