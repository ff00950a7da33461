//! One worker of a fleet, as its own process: runs [`Fleet`] over the PostgreSQL coordinator
//! with the real clients over reqwest, until SIGTERM (then shuts down gracefully and exits 0).
//!
//! ```text
//! fleet_worker --config worker.json
//! ```
//!
//! The configuration file is a [`WorkerConfig`] in JSON (`tests/fleet_worker/config.rs`). The
//! multi-process kill test (`tests/it/fleet_kill.rs`) and the fleet benchmark
//! (`tests/bench_fleet/`) run it against the simulators on loopback. Its test hooks stop the
//! process itself (SIGSTOP) right before or right after an order create leaves, the moments a
//! stalled worker is most dangerous; the test resumes it (SIGCONT) after its lease is long gone.
//! Logs go to standard error (`RUST_LOG`, default `warn`).

// Shared with the kill test and the benchmark, which use the constructors the worker does not.
#[allow(dead_code)]
#[path = "config.rs"]
mod config;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Parser;
use qbo_ordoro::fleet::{CompanyRun, Coordinator, EngineFactory, Fleet, FleetConfig};
use qbo_ordoro::mapping::MappingConfig;
use qbo_ordoro::transport::{RateBudget, ReqwestTransport};
use qbo_ordoro::{
    Clock, Error, HttpRequest, HttpResponse, HttpTransport, OrdoroClient, OrdoroConfig,
    PostgresCoordinator, QboClient, QboConfig, QboEnvironment, SharedTransport, SyncConfig,
    SyncEngine, TokioClock, TransportError,
};
use tokio::signal::unix::{SignalKind, signal};

use config::WorkerConfig;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "fleet_worker", about = "One worker of a qbo-ordoro fleet, until SIGTERM.")]
struct Cli {
    /// The JSON configuration file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let result = read_config(&cli.config).and_then(|config| {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        runtime.block_on(work(config))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet_worker: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_config(path: &std::path::Path) -> Result<WorkerConfig, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("could not read the configuration {}: {e}", path.display()))?;
    Ok(serde_json::from_str(&text)
        .map_err(|e| format!("the configuration {} is not valid: {e}", path.display()))?)
}

/// Runs the worker until SIGTERM.
async fn work(config: WorkerConfig) -> Result<(), Failure> {
    let mut terminate = signal(SignalKind::terminate())?;
    let coordinator = connect(&config).await?;
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
    let factory = factory(&config, clock.clone())?;
    let fleet = Fleet::start(coordinator, clock, factory, fleet_config(&config))?;
    tracing::info!(worker = %config.worker, "fleet worker started");
    terminate.recv().await;
    fleet.shutdown().await;
    let stats = fleet.stats();
    tracing::info!(worker = %config.worker, ?stats, "fleet worker done");
    Ok(())
}

/// How long a worker starting up keeps trying to reach the database before it gives up.
const CONNECT_FOR: Duration = Duration::from_secs(30);

/// The coordinator on the shared database, its connections named after the worker. A database
/// that refuses or drops the connection while the worker starts (a restart, a failover, an
/// operator ending sessions) is tried again, with a growing pause, for [`CONNECT_FOR`]: a worker
/// should ride out what the fleet as a whole rides out.
async fn connect(config: &WorkerConfig) -> Result<Arc<dyn Coordinator>, Failure> {
    let database = format!("{} application_name={}", config.database, config.worker);
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        match PostgresCoordinator::connect(&database, config.pool_size).await {
            Ok(coordinator) => return Ok(Arc::new(coordinator)),
            Err(e) if started.elapsed() < CONNECT_FOR => {
                tracing::warn!(error = %e, "could not open the coordinator; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn fleet_config(config: &WorkerConfig) -> FleetConfig {
    FleetConfig {
        worker: config.worker.clone(),
        max_concurrent: config.max_concurrent,
        lease_for: Duration::from_millis(config.lease_ms),
        write_margin: Duration::from_millis(config.write_margin_ms),
        poll_interval: Duration::from_millis(config.poll_ms),
        retry_in: Duration::from_millis(config.retry_ms),
        idle_wait: Duration::from_millis(500),
        ordoro_per_minute: config.ordoro_per_minute,
        ..FleetConfig::default()
    }
}

/// Builds each run's engine: the QBO client over the shared reqwest transport with the
/// unfenced token store, the Ordoro client of the company's account over the run's gated,
/// budgeted transport (the freeze hooks just above reqwest, under the gate).
fn factory(config: &WorkerConfig, clock: Arc<dyn Clock>) -> Result<EngineFactory, Failure> {
    let timeout = Duration::from_millis(config.ordoro_timeout_ms);
    let ordoro_http = SharedTransport::new(Freeze {
        inner: SharedTransport::new(ReqwestTransport::with_timeouts(timeout, timeout)?),
        creates: AtomicU64::new(0),
        before: config.freeze_before_send,
        after: config.freeze_after_send,
    });
    let qbo_http = SharedTransport::new(ReqwestTransport::with_timeouts(
        Duration::from_secs(10),
        Duration::from_secs(2),
    )?);
    let config = Arc::new(config.clone());
    Ok(Arc::new(move |run: &CompanyRun| {
        let realm = run.lease.realm();
        let account_name = &run.lease.company.ordoro_account;
        let account = config.accounts.get(account_name).ok_or_else(|| {
            Error::config(format!(
                "company {realm} uses Ordoro account {account_name}, which this worker's \
                 configuration does not list"
            ))
        })?;
        let qbo_url = &config.qbo.url;
        let mut qbo_config = QboConfig::new(
            realm,
            QboEnvironment::Custom {
                api_base: qbo_url.clone(),
                token_url: format!("{qbo_url}/oauth2/v1/tokens/bearer"),
            },
            config.qbo.client_id.clone(),
            config.qbo.client_secret.clone().into(),
        );
        qbo_config.allow_insecure_loopback = true;
        let qbo =
            QboClient::new(qbo_config, qbo_http.clone(), clock.clone(), run.token_store.clone())?;
        // The fleet's budget paces the account across workers: the client's own is no limit.
        let ordoro_config = OrdoroConfig::new(account.key_id.clone(), account.key_secret.clone())
            .with_base_url(account.url.clone())
            .allowing_insecure_loopback()
            .with_budget(RateBudget::new(u32::MAX, 64));
        let ordoro = OrdoroClient::new(
            ordoro_config,
            run.ordoro_transport(ordoro_http.clone()),
            clock.clone(),
        )?;
        let sync = SyncConfig {
            mapping: MappingConfig::default()
                .with_cart(Some(account.cart))
                .with_order_id_prefix(Some(realm)),
            settle_after: Duration::from_millis(config.settle_after_ms),
            ..SyncConfig::default()
        };
        Ok(SyncEngine::builder()
            .qbo(Arc::new(qbo))
            .ordoro(Arc::new(ordoro))
            .clock(clock.clone())
            .config(sync))
    }))
}

/// The test hooks: a transport just above reqwest that stops this process right before its
/// Nth order create is sent, or right after its answer arrived.
#[derive(Debug)]
struct Freeze {
    inner: SharedTransport,
    creates: AtomicU64,
    before: Option<u64>,
    after: Option<u64>,
}

#[async_trait::async_trait]
impl HttpTransport for Freeze {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let create = request.method() == http::Method::POST
            && request.uri().path().trim_end_matches('/').ends_with("/v3/order");
        let n = if create { self.creates.fetch_add(1, Ordering::SeqCst) + 1 } else { 0 };
        if create && self.before == Some(n) {
            stop_myself("before sending", n);
        }
        let answer = self.inner.send(request).await;
        if create && self.after == Some(n) {
            stop_myself("after its answer", n);
        }
        answer
    }
}

/// SIGSTOP to this very process (through `kill`, the crate forbids unsafe code): every thread
/// stops until the test sends SIGCONT.
fn stop_myself(when: &str, n: u64) {
    tracing::warn!(create = n, "test hook: freezing this worker {when} an order create");
    let pid = std::process::id().to_string();
    if let Err(e) = std::process::Command::new("kill").args(["-STOP", &pid]).status() {
        tracing::error!(error = %e, "test hook: could not stop this worker");
    }
}
