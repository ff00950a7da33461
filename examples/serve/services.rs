//! The services the connector runs over: the simulated ones (the `sync` example's world, with
//! webhooks and the sample company connected) or the real ones (the `sync` example's clients,
//! the app's redirect URI and webhook verifier token). Either way, how each company's engine is
//! built, the OAuth app, and the scheduler's defaults.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use qbo_ordoro::engine::{InitialSince, SyncConfig, SyncEngine, SyncEngineBuilder};
use qbo_ordoro::qbo::connect::OAuthApp;
use qbo_ordoro::schedule::SchedulerConfig;
use qbo_ordoro::sim::qbo::webhooks::WebhookConfig;
use qbo_ordoro::store::CompanySettings;
use qbo_ordoro::web::Metrics;
use qbo_ordoro::webhook::VerifierToken;
use qbo_ordoro::{
    Clock, QboEnvironment, ReqwestTransport, SharedTransport, Store, TokenStore, TokioClock,
};
use secrecy::ExposeSecret;
use tracing::info;

use crate::Failure;
use crate::args::Args;
use crate::settings::{self, RealServices, Settings, WebSettings};
use crate::simulated;
use crate::simulation::Simulation;

/// How a company's engine is built.
pub type EngineFactory = Box<dyn Fn(&str) -> qbo_ordoro::Result<SyncEngineBuilder> + Send + Sync>;

/// Everything the connector needs besides the store, the login and the flags.
pub struct Assembly {
    /// The clock of the engines and the schedulers.
    pub clock: Arc<dyn Clock>,
    /// A company's engine.
    pub engine: EngineFactory,
    /// The Intuit app and the transport to its token and revoke endpoints.
    pub oauth: (OAuthApp, SharedTransport),
    /// The app's webhook verifier token.
    pub verifier: VerifierToken,
    /// The schedulers' defaults: webhooks on, the `[sync]` table's classes and policies.
    pub scheduler: SchedulerConfig,
    /// The simulated world's moving parts, against the simulated services.
    pub simulation: Option<Simulation>,
}

impl std::fmt::Debug for Assembly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembly").field("oauth", &self.oauth.0).finish_non_exhaustive()
    }
}

/// What a company starts with until its settings page saves others: the `[sync]` table's
/// classes and policies, with webhooks on (the connector receives them, and then catches up
/// once a day rather than polling every 5 minutes).
fn scheduler_config(settings: &Settings, config: &SyncConfig) -> SchedulerConfig {
    let defaults = CompanySettings::default();
    let settings = CompanySettings {
        classes: settings.sync.classes.clone().unwrap_or(defaults.classes.clone()),
        update_existing: config.update_existing,
        cancel_on_void: config.cancel_on_void,
        webhooks: true,
        ..defaults
    };
    SchedulerConfig { settings, ..SchedulerConfig::default() }
}

/// Random bytes as hex, from the operating system.
fn random_hex(bytes: usize) -> Result<String, Failure> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| Failure::Run(format!("the system's random source failed: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The simulated services: the `sync` example's world in `store`'s image, with webhooks signed
/// with a verifier token made up now, the sample company connected (a fresh token of this
/// process's simulator saved in the state file), and the simulated QBO on a loopback port for
/// the consent flow. `base` is the connector's own URL.
pub async fn simulated(
    args: &Args,
    settings: &Settings,
    store: Arc<dyn Store>,
    metrics: &Metrics,
    base: &str,
    state: &Path,
) -> Result<Assembly, Failure> {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(simulated::start_time()));
    let verifier = random_hex(24)?;
    let seed = u64::from_str_radix(&random_hex(8)?, 16).unwrap_or(0);
    let webhooks = WebhookConfig {
        verifier_token: verifier.clone(),
        delay: (Duration::from_secs(1), Duration::from_secs(10)),
        seed,
        ..WebhookConfig::default()
    };
    let setup = |e| Failure::from_error("cannot set up the simulated services", e);
    let sims = simulated::sims(store.as_ref(), clock.clone(), None, Some(webhooks))
        .await
        .map_err(setup)?;
    store.save_token(simulated::REALM, &sims.qbo.connect(simulated::REALM)).await.map_err(setup)?;
    // "Connect QuickBooks" on the simulated consent page connects the sample company again.
    sims.qbo.consent_as(simulated::REALM);
    let qbo_wire = SharedTransport::from_arc(sims.qbo.clone());
    let (app, server) = simulated::oauth_over_loopback(qbo_wire, format!("{base}/oauth/callback"))
        .await
        .map_err(Failure::Run)?;
    let http = ReqwestTransport::new().map_err(|e| Failure::from_error("cannot start HTTP", e))?;

    let mut config = settings::sync_config(&settings.sync, &[], &settings.sku, &[]);
    config.initial_since = InitialSince::At(simulated::initial_since());
    config.mapping = std::mem::take(&mut config.mapping).with_cart(Some(simulated::CART));
    // As in the sync example: the simulated Ordoro is rebuilt from the state file by each
    // process, so nothing can appear in it late and a lookup is believed at once.
    config.settle_after = Duration::ZERO;
    // The sample's orders wait for the newcomer's "Sync now" (or the first simulated sale's
    // webhook, whose catch-up covers them) rather than appearing before the page is opened.
    let scheduler = SchedulerConfig { run_at_start: false, ..scheduler_config(settings, &config) };
    let (qbo_sim, ordoro_sim) = (sims.qbo.clone(), sims.ordoro.clone());
    let qbo_transport = metrics.transport("qbo", SharedTransport::from_arc(sims.qbo.clone()));
    let ordoro_transport =
        metrics.transport("ordoro", SharedTransport::from_arc(sims.ordoro.clone()));
    let (engine_store, engine_clock) = (store.clone(), clock.clone());
    let engine: EngineFactory = Box::new(move |realm: &str| {
        let tokens: Arc<dyn TokenStore> = engine_store.clone();
        let qbo = simulated::qbo_client(
            qbo_sim.client_config(realm),
            qbo_transport.clone(),
            engine_clock.clone(),
            tokens,
            0,
        )?;
        let ordoro = simulated::ordoro_client(
            ordoro_sim.client_config(),
            ordoro_transport.clone(),
            engine_clock.clone(),
            0,
        )?;
        Ok(SyncEngine::builder()
            .qbo(Arc::new(qbo))
            .ordoro(Arc::new(ordoro))
            .store(engine_store.clone())
            .clock(engine_clock.clone())
            .config(config.clone()))
    });
    info!(
        sales = sims.sales,
        orders = sims.orders,
        state = %state.display(),
        consent = %server.url(),
        "no credentials configured, so this runs against the simulated QuickBooks Online and \
         Ordoro: the sample company is connected, with its orders already in Ordoro per the \
         state file"
    );
    let simulation = Simulation {
        qbo: sims.qbo,
        clock: clock.clone(),
        server,
        webhook_url: format!("{base}/webhooks/qbo"),
        args: args.clone(),
        seed,
    };
    Ok(Assembly {
        clock,
        engine,
        oauth: (app, SharedTransport::new(http)),
        verifier: VerifierToken::from(verifier),
        scheduler,
        simulation: Some(simulation),
    })
}

/// Every setting the real services need is configured: the sync's (the Ordoro key), the
/// redirect URI and the webhook verifier token. Each missing one is named, all at once, before
/// anything is written.
pub fn check_real(real: &RealServices, web: &WebSettings) -> Result<(), Failure> {
    let mut missing = real.missing_for_sync.clone();
    if !real.redirect_uri_configured {
        missing.push(settings::Setting::named("QBO_REDIRECT_URI", "[qbo] redirect_uri"));
    }
    if web.verifier_token.is_none() {
        missing.push(settings::Setting::named(
            settings::VERIFIER_TOKEN_VAR,
            "[qbo] webhook_verifier_token",
        ));
    }
    if real.refresh_token.is_some() && real.realm_id.is_none() {
        return Err(Failure::Config(
            "QBO_REFRESH_TOKEN is set, so set QBO_REALM_ID (the company it belongs to) too, or \
             neither and connect the company on the overview page"
                .into(),
        ));
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Failure::Config(settings::incomplete(&missing)))
}

/// The real services over reqwest: the `sync` example's clients for each company connected in
/// the state file (or through the overview page), the app's keys and redirect URI for the
/// consent flow. A company configured with `QBO_REALM_ID` and `QBO_REFRESH_TOKEN` is saved in
/// the state file first, as the sync does it.
pub async fn real(
    real: &RealServices,
    settings: &Settings,
    store: Arc<dyn Store>,
    metrics: &Metrics,
    state: &Path,
) -> Result<Assembly, Failure> {
    let reconnect = "open the overview page and click Connect QuickBooks";
    if let Some(realm) = &real.realm_id {
        let used = crate::real::choose_token(
            real.refresh_token.as_ref(),
            store.as_ref(),
            realm,
            reconnect,
        )
        .await
        .map_err(Failure::Config)?;
        info!("company {realm}: using {used}");
    }
    let (Some(ordoro_key), Some(verifier)) =
        (real.ordoro_key.clone(), &settings.web.verifier_token)
    else {
        return Err(Failure::Config("the Ordoro key or the verifier token is missing".into()));
    };
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
    let start = |e| Failure::from_error("cannot start HTTP", e);
    let http = SharedTransport::new(ReqwestTransport::new().map_err(start)?);
    let app = OAuthApp::new(
        real.client_id.clone(),
        real.client_secret.clone(),
        real.redirect_uri.clone(),
    )
    .map_err(|e| Failure::from_error("the Intuit app's settings", e))?
    .with_environment(&real.environment);

    let mut config = settings::sync_config(&settings.sync, &[], &settings.sku, &[]);
    config.mapping = std::mem::take(&mut config.mapping).with_cart(real.sales_channel_id);
    let scheduler = scheduler_config(settings, &config);
    let transports =
        [metrics.transport("qbo", http.clone()), metrics.transport("ordoro", http.clone())];
    let services = real.clone();
    let (engine_store, engine_clock) = (store.clone(), clock.clone());
    let engine: EngineFactory = Box::new(move |realm: &str| {
        let clients = crate::real::clients_over(
            &services,
            realm,
            ordoro_key.clone(),
            engine_store.clone(),
            engine_clock.clone(),
            transports.clone(),
        )?;
        Ok(SyncEngine::builder()
            .qbo(clients.qbo)
            .ordoro(clients.ordoro)
            .store(engine_store.clone())
            .clock(engine_clock.clone())
            .config(config.clone()))
    });
    let environment = match real.environment {
        QboEnvironment::Sandbox => "sandbox",
        _ => "production",
    };
    info!(
        environment,
        state = %state.display(),
        redirect_uri = %real.redirect_uri,
        "QuickBooks Online to Ordoro"
    );
    Ok(Assembly {
        clock,
        engine,
        oauth: (app, http),
        verifier: VerifierToken::from(verifier.expose_secret().to_owned()),
        scheduler,
        simulation: None,
    })
}
