//! Helpers shared by the test modules, imported as `crate::support::...`:
//!
//! - [`fakes`]: in-memory fakes of the engine's ports (QBO, Ordoro) and a recording token store;
//! - [`sim`]: the seeded-simulation harness and its oracle, and a QBO client wired to the
//!   simulator ([`sim::client`]);
//! - [`fixtures`]: the copied fixtures under `tests/fixtures/`, Ordoro's `post_order_v1`
//!   validator, and builders of QBO sales as JSON ([`fixtures::sales`]);
//! - [`http`]: a simulator served on 127.0.0.1 over HTTP/1.1, for the reqwest transport;
//! - [`browser`]: headless Chromium through chromedriver, for the web connector's tests;
//! - [`postgres`]: a throwaway PostgreSQL 15 cluster for the PostgreSQL store, a database per
//!   store;
//! - [`web_app`]: the web connector over the simulators, served on loopback for the browser;
//! - [`fleet`]: the fleet tests' world in virtual time (`fleet`, `fleet_sim`);
//! - [`fleet_procs`]: the fleet's multi-process harness (simulators on loopback, worker processes
//!   never left behind), with [`fleet_config`], the worker's configuration file
//!   (`tests/fleet_worker/config.rs`);
//! - [`examples`]: an example program run as a user would, for its command-line contract.

pub mod browser;
pub mod examples;
pub mod fakes;
pub mod fixtures;
pub mod fleet;
#[path = "../../fleet_worker/config.rs"]
pub mod fleet_config;
pub mod fleet_procs;
pub mod http;
pub mod postgres;
pub mod props;
pub mod sim;
pub mod web_app;

use std::sync::{Arc, LazyLock, Mutex};

use tracing::Dispatch;
use tracing::dispatcher::DefaultGuard;
use tracing::subscriber::NoSubscriber;

/// Makes `subscriber` the current thread's default until the guard drops, for a test that reads
/// the log lines its own calls write while other tests run on other threads (none may set the
/// global subscriber: the binary is shared).
///
/// tracing-core 0.1 caches each call site's interest the first time the site is hit. While only
/// one dispatcher exists, it computes that interest from the default of whichever thread hits
/// the site first (tokio-rs/tracing#3611): a site first hit by another test, on a thread with no
/// subscriber, would stay off for this one. A second dispatcher, alive for the whole process,
/// makes tracing ask every live dispatcher instead, so the interest includes this subscriber.
pub fn set_thread_subscriber(subscriber: impl Into<Dispatch>) -> DefaultGuard {
    static SECOND: LazyLock<Dispatch> = LazyLock::new(|| Dispatch::new(NoSubscriber::default()));
    LazyLock::force(&SECOND);
    tracing::dispatcher::set_default(&subscriber.into())
}

/// What the tracing subscriber of [`capture_logs`] wrote, every level, without colours.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every log line (all levels) the current thread writes until the guard drops, for
/// the tests that prove no secret reaches a log (through [`set_thread_subscriber`]).
pub fn capture_logs() -> (CapturedLogs, DefaultGuard) {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    (logs, set_thread_subscriber(subscriber))
}
