//! The whole connector, standalone: `cargo run --example serve` serves the web pages of
//! `qbo_ordoro::web` (the companies, the transaction log, each transaction, the settings), the
//! QuickBooks connect flow, the webhook endpoint and a scheduler per company, on
//! 127.0.0.1:8080 (`--listen` to change).
//!
//! With no credentials configured (exactly as the `sync` example decides it) it runs against the
//! simulated QBO and Ordoro the `sync` example uses, in the same state file: the sample company
//! already connected, the simulated QBO also served on a loopback port (so that "Connect
//! QuickBooks" goes through its consent page), its webhooks delivered to this program's own
//! `POST /webhooks/qbo` over loopback HTTP, and a new sale now and then. With credentials it
//! talks to the real services. `--help` lists the flags and the environment.

mod args;
#[allow(dead_code)] // the sync example's parts this program does not use
#[path = "../sync/real.rs"]
mod real;
mod services;
#[allow(dead_code)] // the sync example's parts this program does not use
#[path = "../sync/settings.rs"]
mod settings;
#[allow(dead_code)] // the sync example's parts this program does not use
#[path = "../sync/simulated.rs"]
mod simulated;
mod simulation;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use qbo_ordoro::web::{AdminLogin, Connector, Metrics, check_bind};
use qbo_ordoro::{ErrorKind, SqliteStore, Store};
use tracing::{info, warn};

use crate::args::Args;
use crate::settings::{Services, Settings, WebSettings};

/// Why the program stops.
#[derive(Debug)]
pub enum Failure {
    /// The configuration cannot work (exit status 3).
    Config(String),
    /// The connector could not start (exit status 1).
    Run(String),
}

impl Failure {
    fn report(self) -> ExitCode {
        match self {
            Failure::Config(message) => {
                eprintln!("serve: configuration error: {message}");
                ExitCode::from(3)
            }
            Failure::Run(message) => {
                eprintln!("serve: {message}");
                ExitCode::from(1)
            }
        }
    }

    /// A library error: a configuration error or a failure to start.
    pub fn from_error(context: &str, err: qbo_ordoro::Error) -> Self {
        match err.kind() {
            ErrorKind::Config => Failure::Config(format!("{context}: {err}")),
            _ => Failure::Run(format!("{context}: {err}")),
        }
    }
}

fn main() -> ExitCode {
    // `--help` exits 0 here, a bad command line 2.
    let args = args::parse();
    init_tracing();
    let settings = match settings::load(args.config.as_deref(), &|name| std::env::var(name).ok()) {
        Ok(settings) => settings,
        Err(message) => return Failure::Config(message).report(),
    };
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => return Failure::Run(format!("cannot start the async runtime: {e}")).report(),
        };
    match runtime.block_on(serve(args, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

/// Logs to stderr: `RUST_LOG` when set, else what the connector and its runs say (`info`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// Checks the configuration, binds the address, assembles the connector and serves it until
/// Ctrl-C (or SIGTERM), then lets each company's current run finish.
async fn serve(args: Args, settings: Settings) -> Result<(), Failure> {
    let login = admin_login(&settings.web)?;
    check_bind(args.listen, login.is_some()).map_err(|e| {
        Failure::Config(format!(
            "{e}. To set one: {} (or {}, an argon2 hash), or admin_password in the --config \
             file's [web] table",
            settings::ADMIN_PASSWORD_VAR,
            settings::ADMIN_PASSWORD_HASH_VAR
        ))
    })?;
    if let Services::Real(real) = &settings.services {
        if args.sale_every.is_some() {
            return Err(Failure::Config(
                "--sale-every applies to the simulated services only, and credentials are \
                 configured"
                    .into(),
            ));
        }
        services::check_real(real, &settings.web)?;
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Failure::Run(format!("cannot listen on {}: {e}", args.listen)))?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::Run(format!("cannot read the address listened on: {e}")))?;
    let base = base_url(local);
    let state = state_path(&args, &settings);
    let store = open_store(&state)?;
    let metrics = Metrics::new();
    let assembly = match &settings.services {
        Services::Simulated => {
            services::simulated(&args, &settings, store.clone(), &metrics, &base, &state).await?
        }
        Services::Real(real) => {
            services::real(real, &settings, store.clone(), &metrics, &state).await?
        }
    };
    let mut builder = Connector::builder(store, assembly.clock.clone())
        .engine(assembly.engine)
        .oauth(assembly.oauth.0, assembly.oauth.1)
        .verifier_token(assembly.verifier)
        .secure_cookies(args.behind_tls)
        .metrics(metrics)
        .scheduler_config(assembly.scheduler);
    if let Some(login) = login {
        builder = builder.login(login);
    }
    let connector =
        builder.build().map_err(|e| Failure::from_error("cannot assemble the connector", e))?;
    connector
        .start()
        .await
        .map_err(|e| Failure::from_error("cannot start the companies' schedulers", e))?;
    let live = assembly.simulation.map(simulation::Simulation::start);
    info!(state = %state.display(), companies = ?connector.realms(), "connector started");
    println!("serve: open {base}/ in a browser");
    let served =
        axum::serve(listener, connector.router()).with_graceful_shutdown(stop_signal()).await;
    info!("stopping: each company's current run finishes first");
    if let Some(live) = live {
        live.stop();
    }
    connector.shutdown().await;
    served.map_err(|e| Failure::Run(format!("the server stopped: {e}")))
}

/// The admin login the settings configure, if any.
fn admin_login(web: &WebSettings) -> Result<Option<AdminLogin>, Failure> {
    use secrecy::ExposeSecret;
    let config = |var: &str, e: qbo_ordoro::Error| Failure::Config(format!("{var}: {e}"));
    match (&web.admin_password, &web.admin_password_hash) {
        (Some(password), _) => AdminLogin::from_password(password)
            .map(Some)
            .map_err(|e| config(settings::ADMIN_PASSWORD_VAR, e)),
        (None, Some(hash)) => AdminLogin::from_hash(hash.expose_secret())
            .map(Some)
            .map_err(|e| config(settings::ADMIN_PASSWORD_HASH_VAR, e)),
        (None, None) => Ok(None),
    }
}

/// The URL a browser on this machine opens: the address listened on, with loopback for an
/// unspecified address (`0.0.0.0`).
fn base_url(local: SocketAddr) -> String {
    let addr = if local.ip().is_unspecified() {
        SocketAddr::from((Ipv4Addr::LOCALHOST, local.port()))
    } else {
        local
    };
    format!("http://{addr}")
}

/// The state file: `--state`, else the `sync` example's default for the services, as an
/// absolute path.
fn state_path(args: &Args, settings: &Settings) -> PathBuf {
    let simulated = matches!(settings.services, Services::Simulated);
    let default = if simulated { settings::SIM_STATE } else { settings::REAL_STATE };
    let path = args.state.clone().unwrap_or_else(|| PathBuf::from(default));
    std::path::absolute(&path).unwrap_or(path)
}

fn open_store(path: &std::path::Path) -> Result<std::sync::Arc<dyn Store>, Failure> {
    let store = SqliteStore::open(path)
        .map_err(|e| Failure::Run(format!("cannot open the state file {}: {e}", path.display())))?;
    Ok(std::sync::Arc::new(store))
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what systemd sends).
async fn stop_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C still stops the connector");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
