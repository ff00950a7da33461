//! The smallest host: assembles a sync engine from the library's parts (reqwest, SQLite, tokio's
//! clock) and runs one incremental sync against the real services.
//!
//! `QBO_REALM_ID=.. QBO_CLIENT_ID=.. QBO_CLIENT_SECRET=.. QBO_REFRESH_TOKEN=.. ORDORO_KEY_ID=..
//! ORDORO_KEY_SECRET=.. cargo run --example assemble`
//!
//! The code between the `README` markers is what the README shows under "Assembling an engine"
//! (a test checks that they match). `cargo run --example sync` is the full program, and runs
//! without credentials, against simulated services.

use std::process::ExitCode;

use qbo_ordoro::store::StoredToken;
use qbo_ordoro::{QboEnvironment, TokenStore};

// README: begin
use std::sync::Arc;

use qbo_ordoro::{
    Clock, OrdoroClient, OrdoroConfig, QboClient, QboConfig, ReqwestTransport, RunOptions,
    SharedTransport, SqliteStore, SyncConfig, SyncEngine, TokioClock,
};

/// One incremental sync: every invoice and sales receipt changed since the last run.
async fn sync_once(qbo_config: QboConfig, ordoro_config: OrdoroConfig) -> qbo_ordoro::Result<()> {
    // Cursor, ledger, transaction log and the QBO tokens (the company's refresh token must be
    // saved in it, with TokenStore::save_token, before the first run).
    let store = Arc::new(SqliteStore::open("qbo-ordoro-state.sqlite3")?);
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
    let http = SharedTransport::new(ReqwestTransport::new()?);
    let qbo = QboClient::new(qbo_config, http.clone(), clock.clone(), store.clone())?;
    let ordoro = OrdoroClient::new(ordoro_config, http, clock.clone())?;
    let engine = SyncEngine::builder()
        .qbo(Arc::new(qbo))
        .ordoro(Arc::new(ordoro))
        .store(store)
        .clock(clock)
        .config(SyncConfig::default()) // class `Ordoro`, no updates, 5 minutes of overlap, ...
        .build()?;
    let report = engine.run_incremental(&RunOptions::default()).await?;
    println!("{}", report.summary); // created=N updated=N skipped=N failed=N
    Ok(())
}
// README: end

/// The clients' settings from the credentials.
fn configs(env: &Env) -> (QboConfig, OrdoroConfig) {
    let qbo = QboConfig::new(
        env.realm_id.as_str(),
        QboEnvironment::Production,
        env.client_id.as_str(),
        env.client_secret.clone().into(),
    );
    (qbo, OrdoroConfig::new(env.key_id.as_str(), env.key_secret.clone()))
}

/// The credentials, from the environment.
struct Env {
    realm_id: String,
    client_id: String,
    client_secret: String,
    refresh_token: String,
    key_id: String,
    key_secret: String,
}

impl Env {
    fn read() -> Result<Self, String> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| format!("{name} is not set"))
        };
        Ok(Env {
            realm_id: var("QBO_REALM_ID")?,
            client_id: var("QBO_CLIENT_ID")?,
            client_secret: var("QBO_CLIENT_SECRET")?,
            refresh_token: var("QBO_REFRESH_TOKEN")?,
            key_id: var("ORDORO_KEY_ID")?,
            key_secret: var("ORDORO_KEY_SECRET")?,
        })
    }
}

/// Saves the configured refresh token when the state file has none for the company yet (after
/// the first refresh, the store's token is the live one: QBO rotates it).
async fn save_first_token(env: &Env) -> qbo_ordoro::Result<()> {
    let store = SqliteStore::open("qbo-ordoro-state.sqlite3")?;
    if store.load_token(&env.realm_id).await?.is_none() {
        let token = StoredToken::new(env.refresh_token.clone().into());
        store.save_token(&env.realm_id, &token).await?;
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let env = match Env::read() {
        Ok(env) => env,
        Err(missing) => {
            eprintln!(
                "assemble: {missing}; it runs against the real services only (`cargo run \
                 --example sync` runs without credentials, against simulated ones)"
            );
            return ExitCode::from(2);
        }
    };
    let (qbo, ordoro) = configs(&env);
    let result = match save_first_token(&env).await {
        Ok(()) => sync_once(qbo, ordoro).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("assemble: {e}");
            ExitCode::from(1)
        }
    }
}
