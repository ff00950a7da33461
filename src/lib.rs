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
//!   [`MemoryStore`] and `SqliteStore` (feature `sqlite`), [`ManualClock`] and `TokioClock`
//!   (feature `tokio`), `ReqwestTransport` (feature `reqwest`), and the simulated services in
//!   `sim` (feature `sim`);
//! - one [`Error`] whose [`ErrorKind`] says what to do next, and [`Reason`], the one vocabulary
//!   of why a transaction was skipped or failed.
//!
//! Under them, a pure core that does no I/O: [`address`] blocks, [`shipping`] lines, the
//! [`class_filter`] and the [`mapping`] from transaction to order, over the typed documents in
//! [`model`]. See [`SyncEngine`] for a whole run against the simulated services, and
//! `ARCHITECTURE.md` for the map of modules and the invariants between them.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod address;
pub mod class_filter;
pub mod clock;
pub mod engine;
mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod mapping;
pub mod model;
pub mod ordoro;
pub mod qbo;
mod reason;
pub mod shipping;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;
pub mod transport;

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
#[cfg(feature = "reqwest")]
pub use transport::ReqwestTransport;
pub use transport::{
    HttpRequest, HttpResponse, HttpTransport, SharedTransport, TransportError, TransportErrorKind,
};
