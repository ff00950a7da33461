//! The fleet's multi-process harness, shared by the kill test (`fleet_kill`) and the fleet
//! benchmark (`tests/bench_fleet/`, which includes this file through `#[path]`, as `fleet`): the simulators
//! on loopback (one QBO serving every realm, one server per Ordoro account, each with Ordoro's
//! per-account limit), worker processes (the `fleet_worker` program) that are never left
//! behind, and what `/proc` says about them.
//!
//! Its parent module must also hold `fleet_config` (`tests/fleet_worker/config.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use qbo_ordoro::fleet::{Coordinator, FleetCompany};
use qbo_ordoro::mapping::{MappingConfig, configured_order_id};
use qbo_ordoro::model::qbo::Transaction;
use qbo_ordoro::sim::loopback::LoopbackServer;
use qbo_ordoro::sim::ordoro::{
    DuplicatePolicy, OrdoroSim, OrdoroSimConfig, SimCredentials, SimLatency,
};
use qbo_ordoro::sim::qbo::{QboSim, QboSimConfig};
use qbo_ordoro::{Clock, PostgresCoordinator, SharedTransport, TokioClock};

use super::fleet_config::{OrdoroAccount, QboService, WorkerConfig};

/// The sales channel every simulated account's orders go to.
pub const CART: i64 = 4242;

/// The realm of the `i`th simulated company.
pub fn realm(i: usize) -> String {
    format!("91303500{i:08}")
}

/// The Ordoro `order_id` the workers give `txn` of company `realm` (the realm is the prefix
/// that keeps companies sharing an account apart).
pub fn order_id(realm: &str, txn: &Transaction) -> String {
    configured_order_id(
        txn.kind,
        &txn.doc.id,
        &MappingConfig::default().with_order_id_prefix(Some(realm)),
    )
}

/// One simulated Ordoro account, served on its own loopback port.
pub struct Account {
    /// Its name, as the coordinator's companies give it.
    pub name: String,
    /// The simulator, for the oracle.
    pub sim: Arc<OrdoroSim>,
    server: LoopbackServer,
    key_secret: String,
}

/// The simulated services on loopback, in this process.
pub struct Sims {
    /// The clock the simulators read (real time).
    pub clock: Arc<dyn Clock>,
    /// The one QBO simulator, serving every realm.
    pub qbo: Arc<QboSim>,
    qbo_server: LoopbackServer,
    /// The Ordoro accounts, `acct-0`, `acct-1`, ...
    pub accounts: Vec<Account>,
}

impl Sims {
    /// QBO and `accounts` Ordoro accounts, the `i`th answering a repeated `order_id` with
    /// `policy(i)`, each with Ordoro's limit of 500 requests a minute and a little latency.
    pub async fn start(accounts: usize, policy: impl Fn(usize) -> DuplicatePolicy) -> Sims {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
        let qbo = Arc::new(QboSim::with_config(clock.clone(), QboSimConfig::default()));
        let qbo_server =
            LoopbackServer::start(SharedTransport::from_arc(qbo.clone())).await.expect("serve QBO");
        let mut served = Vec::new();
        for i in 0..accounts {
            let key_secret = format!("fleet-secret-{i}");
            let config = OrdoroSimConfig {
                duplicate_policy: policy(i),
                latency: SimLatency {
                    create: Duration::from_millis(30),
                    read: Duration::from_millis(10),
                    write: Duration::from_millis(20),
                    rejected: Duration::from_millis(5),
                },
                credentials: Some(SimCredentials {
                    key_id: format!("fleet-key-{i}"),
                    key_secret: key_secret.clone().into(),
                }),
                ..OrdoroSimConfig::default()
            };
            let sim = Arc::new(OrdoroSim::with_config(clock.clone(), config));
            sim.add_sales_channel(CART);
            let server = LoopbackServer::start(SharedTransport::from_arc(sim.clone()))
                .await
                .expect("serve an Ordoro account");
            served.push(Account { name: format!("acct-{i}"), sim, server, key_secret });
        }
        Sims { clock, qbo, qbo_server, accounts: served }
    }

    /// The account of the `i`th company: companies are dealt round the accounts.
    pub fn account_of(&self, i: usize) -> &Account {
        &self.accounts[i % self.accounts.len()]
    }

    /// Connects company `i` in QBO and in the fleet: its tokens saved in the coordinator's
    /// store (as the connect flow would), the company added for `account_of(i)`.
    pub async fn add_company(&self, coordinator: &dyn Coordinator, i: usize) -> FleetCompany {
        let realm = realm(i);
        let token = self.qbo.connect(&realm);
        coordinator.store().save_token(&realm, &token).await.expect("save the company's tokens");
        let company = FleetCompany { realm, ordoro_account: self.account_of(i).name.clone() };
        coordinator.add_company(&company).await.expect("add the company to the fleet");
        company
    }

    /// A worker's configuration for these services (see [`WorkerConfig::quick`]).
    pub fn worker_config(&self, database: &str, worker: &str) -> WorkerConfig {
        let qbo = QboService {
            url: self.qbo_server.url(),
            client_id: self.qbo.config().client_id.clone(),
            client_secret: self.qbo.config().client_secret.clone(),
        };
        let mut config = WorkerConfig::quick(database.to_owned(), worker.to_owned(), qbo);
        config.accounts = self
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let account = OrdoroAccount {
                    url: a.server.url(),
                    key_id: format!("fleet-key-{i}"),
                    key_secret: a.key_secret.clone(),
                    cart: CART,
                };
                (a.name.clone(), account)
            })
            .collect::<BTreeMap<_, _>>();
        config
    }

    /// Every order in every account.
    pub fn orders(&self) -> usize {
        self.accounts.iter().map(|a| a.sim.orders().len()).sum()
    }
}

/// A worker process, stopped for good (resumed, then killed) when dropped, whatever happened:
/// a test that panics leaves no worker behind, stopped or running.
pub struct WorkerProcess {
    /// The worker's name (its connections' `application_name`).
    pub name: String,
    child: Child,
    log: PathBuf,
    exited: Option<ExitStatus>,
}

impl WorkerProcess {
    /// Starts `binary` with `config`, written to `dir`, its standard error logged to a file
    /// there.
    pub fn spawn(binary: &Path, dir: &Path, config: &WorkerConfig) -> WorkerProcess {
        let path = dir.join(format!("{}.json", config.worker));
        std::fs::write(&path, serde_json::to_vec_pretty(config).expect("config as JSON"))
            .expect("write the worker's configuration");
        let log = dir.join(format!("{}.log", config.worker));
        let stderr = std::fs::File::create(&log).expect("create the worker's log");
        let child = Command::new(binary)
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "warn,qbo_ordoro::fleet=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start the worker {}: {e}", binary.display()));
        WorkerProcess { name: config.worker.clone(), child, log, exited: None }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`STOP`, `CONT`, `TERM`, ...) to the process.
    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
    }

    /// True while the process is stopped (SIGSTOP, its own or ours).
    pub fn is_stopped(&self) -> bool {
        proc_stat(self.pid()).is_some_and(|fields| fields.first().is_some_and(|s| s == "T"))
    }

    /// True once the process has ended.
    pub fn has_exited(&mut self) -> bool {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited.is_some()
    }

    /// SIGKILL (after SIGCONT, so a stopped process dies too), and waits for it.
    pub fn kill(&mut self) {
        if !self.has_exited() {
            self.signal("CONT");
            let _ = self.child.kill();
            self.exited = self.child.wait().ok();
        }
    }

    /// SIGTERM (after SIGCONT) and its exit status, waiting at most `within`; killed after that
    /// (`None`).
    pub fn terminate(&mut self, within: Duration) -> Option<ExitStatus> {
        if self.has_exited() {
            return self.exited;
        }
        self.signal("CONT");
        self.signal("TERM");
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.has_exited() {
                return self.exited;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        None
    }

    /// The peak resident memory so far, in kB (`VmHWM`), 0 once it has ended.
    pub fn peak_memory_kb(&self) -> u64 {
        peak_memory_kb(self.pid())
    }

    /// CPU time (user and system) so far.
    pub fn cpu_time(&self) -> Duration {
        cpu_time(self.pid())
    }

    /// The end of its log, for a failure message.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        format!("{} ({}):\n{tail}", self.name, self.log.display())
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The fields of `/proc/PID/stat` after the command name, from the state on.
fn proc_stat(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// A process's peak resident memory in kB (`VmHWM` of `/proc/PID/status`), 0 if unreadable.
pub fn peak_memory_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A process's CPU time, user and system, all threads (`/proc/PID/stat`, fields 14 and 15).
pub fn cpu_time(pid: u32) -> Duration {
    let Some(fields) = proc_stat(pid) else { return Duration::ZERO };
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_micros((ticks(11) + ticks(12)) * 1_000_000 / clock_ticks_per_second())
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

/// A plain connection to the database, for what the test does beside the workers (dropping a
/// worker's connections, reading PostgreSQL's statistics).
pub async fn admin_connection(database: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(database, tokio_postgres::NoTls)
        .await
        .expect("connect to the fleet's database");
    tokio::spawn(connection);
    client
}

/// Drops every connection of worker `name` (by `application_name`); returns how many.
pub async fn drop_connections(admin: &tokio_postgres::Client, name: &str) -> u64 {
    let rows = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .expect("terminate the worker's connections");
    rows.len() as u64
}

/// The fleet's coordinator on `database`, as the test or benchmark process sees it.
pub async fn coordinator(database: &str) -> Arc<dyn Coordinator> {
    let coordinator = PostgresCoordinator::connect(database, 4)
        .await
        .expect("open the fleet's PostgreSQL coordinator");
    Arc::new(coordinator)
}
