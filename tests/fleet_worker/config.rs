//! The fleet worker's configuration file (JSON), written by the kill test and the benchmark and
//! read by the worker: one definition, included by each through `#[path]`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Everything a worker process needs: where the shared database and the services are, how it
/// works, and its test hooks (off unless set).
#[derive(Clone, Serialize, Deserialize)]
pub struct WorkerConfig {
    /// The PostgreSQL connection string (key=value form), without `application_name`: the
    /// worker adds its own name there, so that a test can find and drop its connections.
    pub database: String,
    /// The worker's name, unique in the fleet (a restarted worker takes a new one).
    pub worker: String,
    /// Connections the worker's pool holds at most.
    pub pool_size: usize,
    /// Companies run at once.
    pub max_concurrent: usize,
    /// A lease's length, in milliseconds.
    pub lease_ms: u64,
    /// The lease time an Ordoro write needs left when it is sent, in milliseconds: more than
    /// [`ordoro_timeout_ms`](Self::ordoro_timeout_ms).
    pub write_margin_ms: u64,
    /// The Ordoro transport's request timeout, in milliseconds.
    pub ordoro_timeout_ms: u64,
    /// A company's next run after a clean one, in milliseconds.
    pub poll_ms: u64,
    /// A company's next run after a failed one, in milliseconds.
    pub retry_ms: u64,
    /// `SyncConfig::settle_after`, in milliseconds: when a lookup's "not found" is believed.
    pub settle_after_ms: u64,
    /// Each Ordoro account's requests a minute, across the fleet.
    pub ordoro_per_minute: u32,
    /// The (simulated) QBO service.
    pub qbo: QboService,
    /// The Ordoro accounts, by the name the coordinator's companies give.
    pub accounts: BTreeMap<String, OrdoroAccount>,
    /// Test hook: stop this process (SIGSTOP to itself) right before sending its Nth order
    /// create (counted from 1 over the process's life), after the lease gate let it through.
    #[serde(default)]
    pub freeze_before_send: Option<u64>,
    /// Test hook: stop this process right after its Nth order create was answered, before the
    /// answer reaches the engine.
    #[serde(default)]
    pub freeze_after_send: Option<u64>,
}

/// The QBO service: its URL (API and token endpoint) and the app's credentials.
#[derive(Clone, Serialize, Deserialize)]
pub struct QboService {
    /// The base URL (`http://127.0.0.1:PORT` for the simulator).
    pub url: String,
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: String,
}

/// One Ordoro account: its URL, API key and the sales channel its companies' orders go to.
#[derive(Clone, Serialize, Deserialize)]
pub struct OrdoroAccount {
    /// The base URL.
    pub url: String,
    /// The API key's id.
    pub key_id: String,
    /// The API key's secret.
    pub key_secret: String,
    /// The sales channel (cart) id; companies sharing the account are told apart by their
    /// order id prefix (the realm).
    pub cart: i64,
}

/// Secrets stay out of Debug output.
impl fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("worker", &self.worker)
            .field("lease_ms", &self.lease_ms)
            .field("write_margin_ms", &self.write_margin_ms)
            .field("accounts", &self.accounts.keys().collect::<Vec<_>>())
            .field("freeze_before_send", &self.freeze_before_send)
            .field("freeze_after_send", &self.freeze_after_send)
            .finish_non_exhaustive()
    }
}

impl WorkerConfig {
    /// The settings of a short-lease worker for tests and benchmarks (lease 3 s, margin 2 s
    /// over a 1 s Ordoro timeout, settle bound 6 s, polls every 2 s), its services and accounts
    /// left to fill in.
    pub fn quick(database: String, worker: String, qbo: QboService) -> Self {
        WorkerConfig {
            database,
            worker,
            pool_size: 12,
            max_concurrent: 8,
            lease_ms: 3_000,
            write_margin_ms: 2_000,
            ordoro_timeout_ms: 1_000,
            poll_ms: 2_000,
            retry_ms: 1_000,
            settle_after_ms: 6_000,
            ordoro_per_minute: 480,
            qbo,
            accounts: BTreeMap::new(),
            freeze_before_send: None,
            freeze_after_send: None,
        }
    }

    /// How long a frozen worker's companies may still be in its hands: its lease plus the
    /// settle bound, after which its stale create can only meet an order already settled.
    pub fn stale_bound(&self) -> Duration {
        Duration::from_millis(self.lease_ms + self.settle_after_ms)
    }
}
