//! The main job: sync QuickBooks Online invoices and sales receipts into Ordoro orders.
//!
//! `cargo run --example sync` runs against built-in simulated QBO and Ordoro services, seeded
//! with sample sales, when no credentials are configured; with credentials (environment
//! variables or `--config FILE`) it talks to the real services. It keeps its state (cursor,
//! ledger, tokens, transaction log) in a SQLite file, prints the run's log as a table and ends
//! with `created=N updated=N skipped=N failed=N`. `--help` lists the flags.

mod args;
mod progress;
mod real;
mod settings;
mod simulated;
mod table;

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use qbo_ordoro::engine::{
    InitialSince, RunOptions, RunRange, RunReport, RunScope, SyncConfig, SyncEngine, TxnRef,
    WatchOptions,
};
use qbo_ordoro::{
    Clock, ErrorKind, OrdoroApi, QboApi, QboEnvironment, SqliteStore, Store, TokioClock,
};

use crate::args::{Args, Target};
use crate::progress::{Progress, ProgressStore};
use crate::settings::{RealServices, Services, Settings, SyncSection};

/// The state file against the simulated services.
const SIM_STATE: &str = "qbo-ordoro-state-sim.sqlite3";
/// The state file against the real services.
const REAL_STATE: &str = "qbo-ordoro-state.sqlite3";

/// Why the program stops without completing a run.
#[derive(Debug)]
enum Failure {
    /// The configuration cannot work (exit status 3).
    Config(String),
    /// The run could not start or stopped early (exit status 1).
    Run(String),
}

impl Failure {
    fn report(self) -> ExitCode {
        match self {
            Failure::Config(message) => {
                eprintln!("sync: configuration error: {message}");
                ExitCode::from(3)
            }
            Failure::Run(message) => {
                eprintln!("sync: {message}");
                ExitCode::from(1)
            }
        }
    }

    /// A library error: a configuration error or a failure to run.
    fn from_error(context: &str, err: qbo_ordoro::Error) -> Self {
        match err.kind() {
            ErrorKind::Config => Failure::Config(format!("{context}: {err}")),
            _ => Failure::Run(format!("{context}: {err}")),
        }
    }
}

fn main() -> ExitCode {
    // `--help` exits 0 here, a bad command line 2.
    let args = args::parse();
    let logging = init_tracing();
    let settings = match settings::load(args.config.as_deref(), &|name| std::env::var(name).ok()) {
        Ok(settings) => settings,
        Err(message) => return Failure::Config(message).report(),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return Failure::Run(format!("cannot start the async runtime: {e}")).report(),
    };
    match runtime.block_on(run(args, settings, logging)) {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}

/// Logs to stderr when `RUST_LOG` is set; returns whether it does.
fn init_tracing() -> bool {
    if std::env::var_os("RUST_LOG").is_none() {
        return false;
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    true
}

/// Everything a run needs besides the engine.
struct Session {
    engine: SyncEngine,
    progress: Progress,
    /// Who the run talks to, for the header line.
    services: &'static str,
    /// The simulated world, when faults are injected into it.
    chaos: Option<simulated::World>,
}

impl Session {
    /// Tells what the simulators injected, when they inject faults.
    fn note_faults(&self) {
        if let Some(world) = &self.chaos {
            eprintln!("sync: {}", world.faults_note());
        }
    }
}

async fn run(args: Args, settings: Settings, logging: bool) -> Result<ExitCode, Failure> {
    let session = assemble(&args, settings, Progress::new(logging)).await?;
    let options =
        RunOptions { dry_run: args.dry_run, update_existing: args.update.then_some(true) };
    match args.watch {
        Some(interval) => {
            let watch = WatchOptions { interval, max_runs: args.runs, run: options };
            Ok(watch_loop(&session, &watch).await)
        }
        None => run_once(&session, &args.target, &options).await,
    }
}

/// The services a run talks to, on their clock.
struct Parts {
    clock: Arc<dyn Clock>,
    qbo: Arc<dyn QboApi>,
    ordoro: Arc<dyn OrdoroApi>,
    services: &'static str,
    chaos: Option<simulated::World>,
}

/// Opens the state file, builds the clients (simulated or real) and the engine.
async fn assemble(args: &Args, settings: Settings, progress: Progress) -> Result<Session, Failure> {
    let simulated = matches!(settings.services, Services::Simulated);
    if args.sim_faults.is_some() && !simulated {
        return Err(Failure::Config(
            "--sim-faults applies to the simulated services only, and credentials are configured"
                .into(),
        ));
    }
    let default_state = if simulated { SIM_STATE } else { REAL_STATE };
    let state_path = args.state.clone().unwrap_or_else(|| PathBuf::from(default_state));
    let store = open_store(&state_path)?;
    let mut config = sync_config(&settings.sync, &args.classes);
    let parts = match &settings.services {
        Services::Simulated => {
            simulated_parts(args.sim_faults, store.clone(), &state_path, &mut config).await?
        }
        Services::Real(real) => real_parts(real, store.clone(), &state_path, &mut config).await?,
    };
    let engine = SyncEngine::builder()
        .qbo(parts.qbo)
        .ordoro(parts.ordoro)
        .store(Arc::new(ProgressStore::new(store, progress.clone())))
        .clock(parts.clock)
        .config(config)
        .build()
        .map_err(|e| Failure::from_error("cannot build the sync engine", e))?;
    Ok(Session { engine, progress, services: parts.services, chaos: parts.chaos })
}

/// The simulated world, rebuilt to agree with the state file; its first incremental run covers
/// the sample sales.
async fn simulated_parts(
    faults: Option<u64>,
    store: Arc<dyn Store>,
    state_path: &Path,
    config: &mut SyncConfig,
) -> Result<Parts, Failure> {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(simulated::start_time()));
    let world = simulated::build(store.as_ref(), clock.clone(), faults)
        .await
        .map_err(|e| Failure::from_error("cannot set up the simulated services", e))?;
    config.initial_since = InitialSince::At(simulated::initial_since());
    config.mapping = std::mem::take(&mut config.mapping).with_cart(Some(simulated::CART));
    eprintln!(
        "sync: no credentials configured, so this runs against the simulated QuickBooks Online \
         and Ordoro: {} sample sales, {} orders already in Ordoro per the state file {}",
        world.sales,
        world.orders,
        state_path.display()
    );
    Ok(Parts {
        clock,
        qbo: world.qbo.clone(),
        ordoro: world.ordoro.clone(),
        services: "simulated QBO and Ordoro",
        chaos: faults.is_some().then_some(world),
    })
}

/// The real services over reqwest.
async fn real_parts(
    real: &RealServices,
    store: Arc<dyn Store>,
    state_path: &Path,
    config: &mut SyncConfig,
) -> Result<Parts, Failure> {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
    let clients = real::connect(real, store, clock.clone())
        .await
        .map_err(|e| Failure::from_error("cannot set up the service clients", e))?;
    config.mapping = std::mem::take(&mut config.mapping).with_cart(real.sales_channel_id);
    let environment = match real.environment {
        QboEnvironment::Sandbox => "sandbox",
        _ => "production",
    };
    eprintln!(
        "sync: QuickBooks Online company {} ({environment}) to Ordoro; state in {}",
        real.realm_id,
        state_path.display()
    );
    Ok(Parts {
        clock,
        qbo: clients.qbo,
        ordoro: clients.ordoro,
        services: "QuickBooks Online and Ordoro",
        chaos: None,
    })
}

fn open_store(path: &Path) -> Result<Arc<dyn Store>, Failure> {
    let store = SqliteStore::open(path)
        .map_err(|e| Failure::Run(format!("cannot open the state file {}: {e}", path.display())))?;
    Ok(Arc::new(store))
}

/// The engine's settings: defaults, then the `[sync]` table, then `--class`.
fn sync_config(sync: &SyncSection, classes: &[String]) -> SyncConfig {
    let mut config = SyncConfig::default();
    let classes = if classes.is_empty() { sync.classes.clone() } else { Some(classes.to_vec()) };
    if let Some(classes) = classes {
        config.mapping = std::mem::take(&mut config.mapping).with_classes(classes);
    }
    if let Some(minutes) = sync.overlap_minutes {
        config.overlap = std::time::Duration::from_secs(minutes * 60);
    }
    config.update_existing = sync.update_existing.unwrap_or(config.update_existing);
    config.cancel_on_void = sync.cancel_on_void.unwrap_or(config.cancel_on_void);
    config
}

/// One run of the kind the flags name; prints its log and summary.
async fn run_once(
    session: &Session,
    target: &Target,
    options: &RunOptions,
) -> Result<ExitCode, Failure> {
    let engine = &session.engine;
    session.progress.begin(&progress_label(target, options), !options.dry_run);
    let result = match target {
        Target::Incremental => engine.run_incremental(options).await,
        Target::TxnDates { from, to } => {
            let to = to.unwrap_or_else(|| chrono::Local::now().date_naive());
            engine.run_range(&RunRange::TxnDate { from: *from, to }, options).await
        }
        Target::Updated { from, to } => {
            let to = to.unwrap_or_else(chrono::Utc::now);
            engine.run_range(&RunRange::LastUpdated { from: *from, to }, options).await
        }
        Target::One(txn) => engine.run_one(txn, options).await,
    };
    session.progress.finish();
    session.note_faults();
    let report = result.map_err(|e| Failure::from_error("the run failed", e))?;
    print_report(&report, session.services);
    Ok(match &report.aborted {
        None => ExitCode::SUCCESS,
        Some(why) => {
            eprintln!("sync: the run stopped early (the next run resumes where it stopped): {why}");
            ExitCode::from(1)
        }
    })
}

/// Incremental runs every interval through the engine's own loop; the exit status follows the
/// last run.
async fn watch_loop(session: &Session, watch: &WatchOptions) -> ExitCode {
    let progress = &session.progress;
    let counting = !watch.run.dry_run;
    progress.begin("run 1: syncing changes since the last run", counting);
    let mut runs = 0u64;
    let mut last_completed = true;
    session
        .engine
        .watch(watch, |result| {
            runs += 1;
            progress.suspend(|| match &result {
                Ok(report) => {
                    if runs > 1 {
                        println!();
                    }
                    print_report(report, session.services);
                    if let Some(why) = &report.aborted {
                        eprintln!("sync: run {runs} stopped early: {why}");
                    }
                }
                Err(e) => eprintln!("sync: run {runs} failed: {e}"),
            });
            progress.suspend(|| session.note_faults());
            last_completed = matches!(&result, Ok(report) if report.aborted.is_none());
            if watch.max_runs.is_none_or(|max| runs < max) {
                let next =
                    format!("run {}: next sync within {} s", runs + 1, watch.interval.as_secs());
                progress.begin(&next, counting);
            }
            ControlFlow::Continue(())
        })
        .await;
    progress.finish();
    if last_completed { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn progress_label(target: &Target, options: &RunOptions) -> String {
    let what = match target {
        Target::Incremental => "syncing changes since the last run",
        Target::TxnDates { .. } => "syncing transactions by date",
        Target::Updated { .. } => "syncing transactions by last change",
        Target::One(_) => "syncing one transaction",
    };
    if options.dry_run { format!("{what} (dry run)") } else { what.to_string() }
}

/// The header line, the log table, and the summary line last.
fn print_report(report: &RunReport, services: &str) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let dry = if report.dry_run { ", dry run: nothing was written" } else { "" };
    let header = format!("{}: {}, {services}{dry}", report.run_id, describe(&report.scope));
    // A closed stdout (a pipe into `head`) is not worth a panic or an error status.
    let _ = write!(out, "{header}\n{}{}\n", table::render(&report.entries), report.summary);
    let _ = out.flush();
}

fn describe(scope: &RunScope) -> String {
    match scope {
        RunScope::Incremental => "incremental".into(),
        RunScope::Range(RunRange::TxnDate { from, to }) => format!("dated {from} to {to}"),
        RunScope::Range(RunRange::LastUpdated { from, to }) => {
            format!("changed {} to {}", from.to_rfc3339(), to.to_rfc3339())
        }
        RunScope::One(TxnRef::Id { entity, id }) => match entity {
            Some(kind) => format!("{kind} {id}"),
            None => format!("id {id}"),
        },
        RunScope::One(TxnRef::DocNumber { entity, doc_number }) => match entity {
            Some(kind) => format!("{kind} DocNumber {doc_number}"),
            None => format!("DocNumber {doc_number}"),
        },
    }
}
