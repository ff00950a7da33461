//! The main job: sync QuickBooks Online invoices and sales receipts into Ordoro orders.
//!
//! `cargo run --example sync` runs against built-in simulated QBO and Ordoro services, seeded
//! with sample sales, when no credentials are configured; with credentials (environment
//! variables or `--config FILE`) it talks to the real services. It keeps its state (cursor,
//! ledger, tokens, transaction log) in a SQLite file, prints the run's log as a table and ends
//! with `created=N updated=N skipped=N failed=N`. `--connect` connects a QuickBooks company,
//! `--log` prints the transaction log from the state file. `--help` lists the flags.

mod args;
mod connect;
mod progress;
mod real;
mod settings;
mod simulated;
mod table;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use qbo_ordoro::engine::{
    InitialSince, RunOptions, RunRange, RunReport, RunScope, SyncConfig, SyncEngine, TxnRef,
    WatchOptions,
};
use qbo_ordoro::qbo::connect::OAuthApp;
use qbo_ordoro::store::{Action, LogQuery};
use qbo_ordoro::{
    Clock, ErrorKind, OrdoroApi, QboApi, QboEnvironment, ReqwestTransport, SharedTransport,
    SqliteStore, Store, TokioClock,
};

use crate::args::{Args, LogFilter, Target};
use crate::progress::{Progress, ProgressQbo, ProgressStore};
use crate::settings::{RealServices, Services, Settings};

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

    /// A run that failed, with the command that reconnects when QuickBooks refused the token.
    fn from_run_error(err: qbo_ordoro::Error, reconnect: &str) -> Self {
        match Failure::from_error("the run failed", err) {
            Failure::Run(message) => Failure::Run(with_reconnect(message, reconnect)),
            other => other,
        }
    }
}

/// `message`, followed by the command that reconnects QuickBooks when the message says the
/// refresh token was refused (`invalid_grant`): that command, never deleting the state file.
fn with_reconnect(message: String, reconnect: &str) -> String {
    if message.contains("invalid_grant") {
        format!("{message}\nsync: to reconnect QuickBooks, run: {reconnect}")
    } else {
        message
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
    if let Target::Log(filter) = &args.target {
        let path = state_path(&args, &settings);
        return match print_log(&path, filter) {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => failure.report(),
        };
    }
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

/// The state file the flags and the services name, as an absolute path (a scheduled job's
/// working folder is not a person's, so the run says exactly which file it used).
fn state_path(args: &Args, settings: &Settings) -> PathBuf {
    let simulated = matches!(settings.services, Services::Simulated);
    let default = if simulated { settings::SIM_STATE } else { settings::REAL_STATE };
    let path = args.state.clone().unwrap_or_else(|| PathBuf::from(default));
    std::path::absolute(&path).unwrap_or(path)
}

/// The command that connects (or reconnects) QuickBooks with the same state and configuration.
fn reconnect_command(args: &Args, state: &Path) -> String {
    let mut command = format!("cargo run --example sync -- --connect --state {}", state.display());
    if let Some(config) = &args.config {
        let config = std::path::absolute(config).unwrap_or_else(|_| config.clone());
        command.push_str(&format!(" --config {}", config.display()));
    }
    command
}

/// `--log`: the entries of the state file that pass `filter`, the most recent ones, oldest first.
fn print_log(path: &Path, filter: &LogFilter) -> Result<(), Failure> {
    if !path.exists() {
        return Err(Failure::Run(format!(
            "there is no state file at {}: nothing has been synced with it yet",
            path.display()
        )));
    }
    let store = SqliteStore::open(path)
        .map_err(|e| Failure::Run(format!("cannot open the state file {}: {e}", path.display())))?;
    let query = LogQuery {
        action: filter.failed.then_some(Action::Failed),
        from: filter.since,
        doc_number: filter.doc_number.clone(),
        ..LogQuery::default()
    };
    let entries = futures_util::FutureExt::now_or_never(store.query_log(&query))
        .unwrap_or_else(|| Ok(Vec::new()))
        .map_err(|e| Failure::Run(format!("cannot read the log of {}: {e}", path.display())))?;
    let shown = &entries[entries.len().saturating_sub(filter.limit)..];
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = write!(out, "{}", table::render_log(shown));
    let _ = writeln!(out, "entries={} shown={}", entries.len(), shown.len());
    Ok(())
}

/// Everything a run needs besides the engine.
struct Session {
    engine: SyncEngine,
    progress: Progress,
    /// Who the run talks to, for the header line.
    services: &'static str,
    /// The simulated world, when faults are injected into it.
    chaos: Option<simulated::World>,
    /// The command that reconnects QuickBooks, for an `invalid_grant`.
    reconnect: String,
    /// The engine's clock (the watch loop waits on it).
    clock: Arc<dyn Clock>,
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
    if args.target == Target::Connect {
        return run_connect(&args, settings).await;
    }
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

/// `--connect`: the consent flow against the simulated QBO (served on a loopback port) or the
/// real one, then the company and its tokens saved in the state file.
async fn run_connect(args: &Args, settings: Settings) -> Result<ExitCode, Failure> {
    let path = state_path(args, &settings);
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
    let http = ReqwestTransport::new().map_err(|e| Failure::from_error("cannot start HTTP", e))?;
    let transport = SharedTransport::new(http);
    let config = |e| Failure::from_error("cannot connect QuickBooks", e);
    let (app, redirect, _server, environment) = match &settings.services {
        Services::Simulated => {
            let sim = simulated::connectable(clock.clone());
            let redirect =
                connect::listen("http://localhost:0/callback").await.map_err(Failure::Run)?;
            let (app, server) = simulated::oauth_over_loopback(sim, redirect.uri.clone())
                .await
                .map_err(Failure::Run)?;
            (app, redirect, Some(server), "simulated")
        }
        Services::Real(real) => {
            let redirect = connect::listen(&real.redirect_uri).await.map_err(Failure::Config)?;
            let app = OAuthApp::new(
                real.client_id.clone(),
                real.client_secret.clone(),
                redirect.uri.clone(),
            )
            .map_err(config)?
            .with_environment(&real.environment);
            let environment = match real.environment {
                QboEnvironment::Sandbox => "sandbox",
                _ => "production",
            };
            (app, redirect, None, environment)
        }
    };
    let store = open_store(&path)?;
    eprintln!(
        "sync: connecting a QuickBooks Online company ({environment}); state in {}",
        path.display()
    );
    let connection = connect::connect(&app, redirect, &transport, clock.as_ref(), store.as_ref())
        .await
        .map_err(Failure::Run)?;
    let by = connection
        .token
        .reconnect_by()
        .map_or(String::new(), |at| format!("; reconnect by {}", at.format("%Y-%m-%d")));
    println!("connected QuickBooks company {}{by}", connection.realm_id);
    eprintln!(
        "sync: the company and its tokens are saved in {}; sync with the same --state (the \
         realm id and refresh token are read from it)",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
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
    let state_path = state_path(args, &settings);
    if let Services::Real(real) = &settings.services {
        check_real(real, &state_path)?;
    }
    // A dry run writes nothing: against a state file that does not exist yet, it reads an empty
    // state in memory rather than creating the file.
    let store = if args.dry_run && !state_path.exists() {
        Arc::new(SqliteStore::open_in_memory().map_err(|e| Failure::from_error("cannot open", e))?)
    } else {
        open_store(&state_path)?
    };
    let mut config =
        settings::sync_config(&settings.sync, &args.classes, &settings.sku, &args.sku_map);
    let parts = match &settings.services {
        Services::Simulated => {
            simulated_parts(args.sim_faults, store.clone(), &state_path, &mut config).await?
        }
        Services::Real(real) => {
            let reconnect = reconnect_command(args, &state_path);
            real_parts(real, store.clone(), &state_path, &reconnect, &mut config).await?
        }
    };
    let clock = parts.clock.clone();
    let mappings = config.sku_mappings.clone();
    let engine = SyncEngine::builder()
        .qbo(Arc::new(ProgressQbo::new(parts.qbo, progress.clone())))
        .ordoro(parts.ordoro)
        .store(Arc::new(ProgressStore::new(store, progress.clone())))
        .clock(parts.clock)
        .config(config)
        .build()
        .map_err(|e| Failure::from_error("cannot build the sync engine", e))?;
    // The configured mappings join the state file's table (a dry run saves nothing, and uses
    // them all the same).
    if !args.dry_run {
        engine
            .save_sku_mappings(&mappings)
            .await
            .map_err(|e| Failure::from_error("cannot save the SKU mappings", e))?;
    }
    let reconnect = reconnect_command(args, &state_path);
    Ok(Session { engine, progress, services: parts.services, chaos: parts.chaos, reconnect, clock })
}

/// Every credential a sync needs is configured, or (the company and its token) in the state
/// file: checked before the file is opened, so a configuration error writes nothing.
fn check_real(real: &RealServices, state_path: &Path) -> Result<(), Failure> {
    let mut missing = real.missing_for_sync.clone();
    if !state_path.exists() {
        if real.realm_id.is_none() {
            missing.push(settings::Setting::named("QBO_REALM_ID", "[qbo] realm_id"));
        }
        if real.refresh_token.is_none() {
            missing.push(settings::Setting::named("QBO_REFRESH_TOKEN", "[qbo] refresh_token"));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Failure::Config(format!(
        "{} (QBO_REALM_ID and QBO_REFRESH_TOKEN may instead come from the state file: connect a \
         company with --connect)",
        settings::incomplete(&missing)
    )))
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
    // The simulated Ordoro is rebuilt from the state file by each process, and a create left
    // pending never reached it: nothing can appear late, so a lookup is believed at once.
    config.settle_after = std::time::Duration::ZERO;
    eprintln!(
        "sync: no credentials configured, so this runs against the simulated QuickBooks Online \
         and Ordoro: {} sample sales, {} orders already in Ordoro per the state file {}{}",
        world.sales,
        world.orders,
        state_path.display(),
        if state_path.exists() { "" } else { " (not created: a dry run)" }
    );
    Ok(Parts {
        clock,
        qbo: world.qbo.clone(),
        ordoro: world.ordoro.clone(),
        services: "simulated QBO and Ordoro",
        chaos: faults.is_some().then_some(world),
    })
}

/// The real services over reqwest: the company configured or connected, the refresh token
/// chosen ([`real::choose_token`]).
async fn real_parts(
    real: &RealServices,
    store: Arc<dyn Store>,
    state_path: &Path,
    reconnect: &str,
    config: &mut SyncConfig,
) -> Result<Parts, Failure> {
    let realm = match &real.realm_id {
        Some(realm) => realm.clone(),
        None => connected_realm(store.as_ref(), reconnect).await?,
    };
    let used = real::choose_token(real.refresh_token.as_ref(), store.as_ref(), &realm, reconnect)
        .await
        .map_err(Failure::Config)?;
    let Some(ordoro_key) = real.ordoro_key.clone() else {
        return Err(Failure::Config(settings::incomplete(&real.missing_for_sync)));
    };
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
    let clients = real::clients(real, &realm, ordoro_key, store.clone(), clock.clone())
        .map_err(|e| Failure::from_error("cannot set up the service clients", e))?;
    config.mapping = std::mem::take(&mut config.mapping).with_cart(real.sales_channel_id);
    let environment = match real.environment {
        QboEnvironment::Sandbox => "sandbox",
        _ => "production",
    };
    eprintln!(
        "sync: QuickBooks Online company {realm} ({environment}) to Ordoro; state in {}",
        state_path.display()
    );
    eprintln!("sync: using {used}");
    if let Ok(Some(token)) = store.load_token(&realm).await
        && let Some(by) = token.reconnect_by()
    {
        eprintln!(
            "sync: the QuickBooks connection lasts until {}: reconnect by then",
            by.format("%Y-%m-%d")
        );
    }
    Ok(Parts {
        clock,
        qbo: clients.qbo,
        ordoro: clients.ordoro,
        services: "QuickBooks Online and Ordoro",
        chaos: None,
    })
}

/// The one company connected in the state file.
async fn connected_realm(store: &dyn Store, reconnect: &str) -> Result<String, Failure> {
    let realms = store
        .connected_realms()
        .await
        .map_err(|e| Failure::from_error("cannot read the state file", e))?;
    match realms.as_slice() {
        [realm] => Ok(realm.clone()),
        [] => Err(Failure::Config(format!(
            "no QuickBooks company is connected in the state file and QBO_REALM_ID is not set: \
             connect one with `{reconnect}`"
        ))),
        several => Err(Failure::Config(format!(
            "the state file holds several QuickBooks companies ({}): set QBO_REALM_ID to one",
            several.join(", ")
        ))),
    }
}

fn open_store(path: &Path) -> Result<Arc<dyn Store>, Failure> {
    let store = SqliteStore::open(path)
        .map_err(|e| Failure::Run(format!("cannot open the state file {}: {e}", path.display())))?;
    Ok(Arc::new(store))
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
        Target::Connect | Target::Log(_) => {
            return Err(Failure::Run("not a sync run".into()));
        }
    };
    session.progress.finish();
    session.note_faults();
    let report = result.map_err(|e| Failure::from_run_error(e, &session.reconnect))?;
    let missing = match target {
        Target::One(txn) => not_found(&report, txn),
        _ => None,
    };
    print_report(&report, session.services, missing.as_deref());
    Ok(match (&report.aborted, missing) {
        (None, None) => ExitCode::SUCCESS,
        (Some(why), _) => {
            let why = with_reconnect(why.clone(), &session.reconnect);
            eprintln!("sync: the run stopped early (the next run resumes where it stopped): {why}");
            ExitCode::from(1)
        }
        (None, Some(_)) => ExitCode::from(1),
    })
}

/// When a run of one transaction found none: what was looked for, for the `not found:` line.
fn not_found(report: &RunReport, txn: &TxnRef) -> Option<String> {
    let (entity, label) = match txn {
        TxnRef::Id { entity, id } => (entity, format!("QBO id {id}")),
        TxnRef::DocNumber { entity, doc_number } => (entity, format!("DocNumber {doc_number}")),
    };
    let matches = |e: &qbo_ordoro::store::LogEntry| match txn {
        TxnRef::Id { id, .. } => &e.qbo_id == id,
        TxnRef::DocNumber { doc_number, .. } => e.doc_number.as_ref() == Some(doc_number),
    };
    if report.aborted.is_some() || report.entries.iter().any(matches) {
        return None;
    }
    let what = match entity {
        Some(kind) => format!("no {kind}"),
        None => "no invoice or sales receipt".to_string(),
    };
    Some(format!("{what} with {label} in QuickBooks"))
}

/// Incremental runs every interval; the exit status follows the last run. Ctrl-C stops the loop:
/// during a run, once the run has finished (every transaction handled is committed); between
/// runs, at once. Either way the exit status is 0 when the last run completed. A second Ctrl-C
/// quits at once.
async fn watch_loop(session: &Session, watch: &WatchOptions) -> ExitCode {
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopping = Arc::new(AtomicBool::new(false));
    tokio::spawn(on_ctrl_c(stop.clone(), stopping.clone()));
    let progress = &session.progress;
    let counting = !watch.run.dry_run;
    let clock = session.clock.clone();
    let mut runs = 0u64;
    let mut last_completed;
    loop {
        let started = clock.now();
        progress.begin(&format!("run {}: syncing changes since the last run", runs + 1), counting);
        let result = session.engine.run_incremental(&watch.run).await;
        runs += 1;
        progress.finish();
        match &result {
            Ok(report) => {
                if runs > 1 {
                    println!();
                }
                print_report(report, session.services, None);
                if let Some(why) = &report.aborted {
                    let why = with_reconnect(why.clone(), &session.reconnect);
                    eprintln!("sync: run {runs} stopped early: {why}");
                }
            }
            Err(e) => eprintln!(
                "sync: run {runs} failed: {}",
                with_reconnect(e.to_string(), &session.reconnect)
            ),
        }
        session.note_faults();
        last_completed = matches!(&result, Ok(report) if report.aborted.is_none());
        if watch.max_runs.is_some_and(|max| runs >= max) || stopping.load(Ordering::SeqCst) {
            break;
        }
        let elapsed = (clock.now() - started).to_std().unwrap_or_default();
        progress.begin(
            &format!("run {}: next sync within {} s", runs + 1, watch.interval.as_secs()),
            false,
        );
        tokio::select! {
            () = clock.sleep(watch.interval.saturating_sub(elapsed)) => {}
            () = stop.notified() => {}
        }
        progress.finish();
        if stopping.load(Ordering::SeqCst) {
            break;
        }
    }
    if stopping.load(Ordering::SeqCst) {
        eprintln!("sync: stopped by Ctrl-C after {runs} run(s)");
    }
    if last_completed { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// The first Ctrl-C asks the watch loop to stop (`stopping`, and `stop` wakes its wait); the
/// second quits at once with status 130.
async fn on_ctrl_c(stop: Arc<tokio::sync::Notify>, stopping: Arc<AtomicBool>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    stopping.store(true, Ordering::SeqCst);
    stop.notify_one();
    eprintln!("sync: stopping after the run in hand (Ctrl-C again to quit now)");
    if tokio::signal::ctrl_c().await.is_ok() {
        std::process::exit(130);
    }
}

fn progress_label(target: &Target, options: &RunOptions) -> String {
    let what = match target {
        Target::Incremental => "syncing changes since the last run",
        Target::TxnDates { .. } => "syncing transactions by date",
        Target::Updated { .. } => "syncing transactions by last change",
        Target::One(_) => "syncing one transaction",
        Target::Connect | Target::Log(_) => "",
    };
    if options.dry_run { format!("{what} (dry run)") } else { what.to_string() }
}

/// The header line, the log table, and the summary lines last: `created=N updated=N skipped=N
/// failed=N` for a run that completed (design section 4's contract), `dry_run created=N ...` for
/// a dry run, the counts then `aborted: REASON` for a run that stopped early, and `not found:
/// ...` when the transaction asked for does not exist.
fn print_report(report: &RunReport, services: &str, not_found: Option<&str>) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let dry = if report.dry_run { ", dry run: nothing was written" } else { "" };
    let header = format!("{}: {}, {services}{dry}", report.run_id, describe(&report.scope));
    let counts = if report.dry_run {
        format!("dry_run {}", report.summary)
    } else {
        report.summary.to_string()
    };
    let mut last = String::new();
    if let Some(why) = &report.aborted {
        last = format!("aborted: {}\n", why.lines().next().unwrap_or_default());
    } else if let Some(what) = not_found {
        last = format!("not found: {what}\n");
    }
    // A closed stdout (a pipe into `head`) is not worth a panic or an error status.
    let _ = write!(out, "{header}\n{}{counts}\n{last}", table::render(&report.entries));
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
        RunScope::Changes { events } => format!("{events} webhook event(s) and the catch-up"),
        RunScope::CatchUp => "catch-up from the change feed".into(),
    }
}
