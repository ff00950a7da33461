//! The connector's web side (feature `web`): an [`axum::Router`] over the companies'
//! [`Scheduler`]s, the [`Store`] and the QBO OAuth app, which a host mounts in its own server or
//! serves alone (`examples/serve.rs`).
//!
//! A [`Connector`] keeps one scheduler per connected company (every company with a token in the
//! store, and each one connected through the pages) and serves:
//!
//! | route | what |
//! |---|---|
//! | `GET /` | overview: each company's connection, last runs, next run; "Sync now", "Re-sync dates", "Connect QuickBooks", "Disconnect" |
//! | `GET /companies/{realm}/log` | the transaction log: filters, newest first, keyset pages, each failure's fix; `log.csv` downloads the filtered rows |
//! | `GET /companies/{realm}/transactions/{entity}/{id}` | one transaction: the document as fetched now, the decision, the order body, the parsed address, the ledger and its history; "Sync this one now" |
//! | `GET|POST /companies/{realm}/settings` | accepted classes, updates, cancel on void, webhooks, the poll and catch-up intervals ([`CompanySettings`]) |
//! | `GET /connect`, `GET /oauth/callback`, `GET /reconnect` | Intuit's consent flow ([`crate::qbo::connect`]); `/reconnect` is the app's "Reconnect URL" |
//! | `POST /webhooks/qbo` | verifies a delivery ([`crate::webhook::receive`]), answers at once, hands the events to the schedulers (or queues them for a fleet: [`ConnectorBuilder::webhook_queue`]) |
//! | `GET /healthz`, `GET /metrics` | liveness; counters in the Prometheus text format ([`Metrics`]) |
//! | `GET|POST /login`, `POST /logout` | the admin login ([`AdminLogin`]) |
//!
//! **Several workers behind one route.** When the companies are run by a fleet of workers
//! ([`crate::fleet::Fleet`], on other processes or machines) rather than by this process's
//! schedulers, give the connector the fleet's coordinator with
//! [`ConnectorBuilder::webhook_queue`]: each verified delivery's events are then written to the
//! coordinator's queue (their companies made due at once), and whichever worker claims a company
//! next runs them. The route answers 200 only after the queue write; a queue that cannot be
//! written answers 503, so that QBO delivers again.
//!
//! **Security.** Bind to loopback unless a login is configured ([`check_bind`]); without one,
//! requests addressed to another host are refused. With one, every route but the webhook, the
//! OAuth callback and the health check needs it (argon2 hash, a session cookie `HttpOnly`,
//! `SameSite=Strict`, `Secure` with [`ConnectorBuilder::secure_cookies`]). Every form carries a
//! CSRF token; every answer a Content-Security-Policy that allows no script
//! ([`CONTENT_SECURITY_POLICY`]); every value from QBO or Ordoro is escaped by the templates
//! (askama). Tokens, the client secret, the verifier token and the password hash are never
//! rendered.
//!
//! ```no_run
//! use std::sync::Arc;
//! use qbo_ordoro::web::{Connector, check_bind};
//! use qbo_ordoro::{Clock, Store, SyncEngine};
//!
//! async fn serve(
//!     store: Arc<dyn Store>,
//!     clock: Arc<dyn Clock>,
//!     engine_for: impl Fn(&str) -> qbo_ordoro::Result<qbo_ordoro::engine::SyncEngineBuilder>
//!         + Send + Sync + 'static,
//! ) -> Result<(), Box<dyn std::error::Error>> {
//!     let connector = Connector::builder(store, clock).engine(engine_for).build()?;
//!     connector.start().await?; // a scheduler per connected company
//!     let addr: std::net::SocketAddr = "127.0.0.1:8080".parse()?;
//!     check_bind(addr, false)?; // no login: loopback only
//!     let listener = tokio::net::TcpListener::bind(addr).await?;
//!     axum::serve(listener, connector.router()).await?;
//!     connector.shutdown().await;
//!     Ok(())
//! }
//! ```

mod connect;
mod metrics;
mod pages;
mod session;
mod views;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use tracing::{info, warn};

pub use self::metrics::Metrics;
pub use self::session::{AdminLogin, CONTENT_SECURITY_POLICY, SESSION_COOKIE};
use self::session::{Consents, Sessions};
use crate::engine::SyncEngineBuilder;
use crate::fleet::Coordinator;
use crate::qbo::connect::OAuthApp;
use crate::schedule::{RunObserver, Scheduler, SchedulerConfig};
use crate::store::{CompanySettings, Store};
use crate::transport::SharedTransport;
use crate::webhook::VerifierToken;
use crate::{Clock, Error, Result};

/// How a host builds a company's engine: the QBO client of that realm, the Ordoro client, the
/// store, the clock, the base config.
type EngineFactory = dyn Fn(&str) -> Result<SyncEngineBuilder> + Send + Sync;

/// Refuses to serve the pages on a non-loopback address without an admin login.
///
/// A [`Config`](crate::ErrorKind::Config) error that says what to do.
pub fn check_bind(addr: SocketAddr, login: bool) -> Result<()> {
    if addr.ip().is_loopback() || login {
        return Ok(());
    }
    Err(Error::config(format!(
        "{addr} is not a loopback address and no admin password is configured: anyone who can \
         reach it could run syncs and read the log. Configure an admin password, or listen on \
         127.0.0.1 and put a TLS reverse proxy with a login in front"
    )))
}

/// See the [module docs](self). Cheap to clone.
#[derive(Clone)]
pub struct Connector {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("companies", &self.shared.realms())
            .field("login", &self.shared.login.is_some())
            .finish_non_exhaustive()
    }
}

/// The OAuth app and the transport that reaches Intuit's token and revoke endpoints.
struct OAuth {
    app: OAuthApp,
    transport: SharedTransport,
}

/// What the handlers share.
pub(crate) struct Shared {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    engine: Box<EngineFactory>,
    oauth: Option<OAuth>,
    verifier: Option<VerifierToken>,
    /// Where verified webhook events go when a fleet runs the companies.
    queue: Option<Arc<dyn Coordinator>>,
    login: Option<AdminLogin>,
    secure_cookies: bool,
    metrics: Metrics,
    scheduler_config: SchedulerConfig,
    companies: Mutex<BTreeMap<String, Arc<Scheduler>>>,
    /// Serialises starting and stopping schedulers, so a company never gets two.
    starting: tokio::sync::Mutex<()>,
    sessions: Sessions,
    consents: Consents,
}

impl Shared {
    fn companies(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Scheduler>>> {
        self.companies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn realms(&self) -> Vec<String> {
        self.companies().keys().cloned().collect()
    }

    fn scheduler(&self, realm: &str) -> Option<Arc<Scheduler>> {
        self.companies().get(realm).cloned()
    }

    async fn add_company(&self, realm: &str) -> Result<()> {
        let _one_at_a_time = self.starting.lock().await;
        if self.scheduler(realm).is_some() {
            return Ok(());
        }
        let builder = (self.engine)(realm)?;
        let scheduler = Scheduler::start(builder, self.scheduler_config.clone()).await?;
        if scheduler.realm() != realm {
            scheduler.shutdown().await;
            return Err(Error::config(format!(
                "the engine built for company {realm} runs company {}: build the QBO client \
                 with the realm it is given",
                scheduler.realm()
            )));
        }
        info!(realm, "company scheduled");
        self.companies().insert(realm.to_owned(), Arc::new(scheduler));
        Ok(())
    }

    async fn remove_company(&self, realm: &str) {
        let _one_at_a_time = self.starting.lock().await;
        let removed = self.companies().remove(realm);
        if let Some(scheduler) = removed {
            scheduler.shutdown().await;
        }
    }
}

impl Connector {
    /// A builder over the store (companies, tokens, settings, the log) and the clock.
    pub fn builder(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> ConnectorBuilder {
        ConnectorBuilder {
            store,
            clock,
            engine: None,
            oauth: None,
            verifier: None,
            queue: None,
            login: None,
            secure_cookies: false,
            metrics: None,
            scheduler_config: SchedulerConfig::default(),
        }
    }

    /// Starts a scheduler for every company with a token in the store. A company whose engine
    /// cannot be built is logged and left out; the others start.
    pub async fn start(&self) -> Result<()> {
        for realm in self.shared.store.connected_realms().await? {
            if let Err(e) = self.shared.add_company(&realm).await {
                warn!(%realm, error = %e, "cannot schedule the company");
            }
        }
        Ok(())
    }

    /// Starts the scheduler of `realm` (once: a second call does nothing), for a company whose
    /// token the host just saved.
    pub async fn add_company(&self, realm: &str) -> Result<()> {
        self.shared.add_company(realm).await
    }

    /// The router, with its state: serve it with `axum::serve`, or nest it in the host's.
    pub fn router(&self) -> Router {
        let shared = self.shared.clone();
        let company = Router::new()
            .route("/sync", post(pages::sync_now))
            .route("/resync", post(pages::resync))
            .route("/disconnect", post(connect::disconnect))
            .route("/log", get(pages::log))
            .route("/log.csv", get(pages::log_csv_file))
            .route("/transactions/{entity}/{id}", get(pages::transaction))
            .route("/transactions/{entity}/{id}/sync", post(pages::sync_one))
            .route("/settings", get(pages::settings).post(pages::save_settings));
        Router::new()
            .route("/", get(pages::overview))
            .nest("/companies/{realm}", company)
            .route("/connect", get(connect::start))
            .route("/reconnect", get(connect::start))
            .route("/oauth/callback", get(connect::callback))
            .route("/webhooks/qbo", post(connect::webhook))
            .route("/healthz", get(connect::health))
            .route("/metrics", get(connect::metrics))
            .route("/login", get(pages::login_page).post(pages::login))
            .route("/logout", post(pages::logout))
            .route("/static/style.css", get(pages::style))
            .fallback(pages::not_found)
            .layer(middleware::from_fn_with_state(shared.clone(), session::guard))
            .with_state(shared)
    }

    /// The scheduler of `realm`, when it is connected.
    pub fn scheduler(&self, realm: &str) -> Option<Arc<Scheduler>> {
        self.shared.scheduler(realm)
    }

    /// The connected companies.
    pub fn realms(&self) -> Vec<String> {
        self.shared.realms()
    }

    /// The counters `GET /metrics` shows.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// Stops every scheduler (each finishes its current run).
    pub async fn shutdown(&self) {
        for realm in self.shared.realms() {
            self.shared.remove_company(&realm).await;
        }
    }
}

/// Assembles a [`Connector`]; see [`Connector::builder`].
pub struct ConnectorBuilder {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    engine: Option<Box<EngineFactory>>,
    oauth: Option<OAuth>,
    verifier: Option<VerifierToken>,
    queue: Option<Arc<dyn Coordinator>>,
    login: Option<AdminLogin>,
    secure_cookies: bool,
    metrics: Option<Metrics>,
    scheduler_config: SchedulerConfig,
}

impl std::fmt::Debug for ConnectorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorBuilder")
            .field("engine", &self.engine.is_some())
            .field("oauth", &self.oauth.as_ref().map(|o| &o.app))
            .field("verifier", &self.verifier)
            .field("webhook_queue", &self.queue.is_some())
            .field("login", &self.login)
            .field("secure_cookies", &self.secure_cookies)
            .finish_non_exhaustive()
    }
}

impl ConnectorBuilder {
    /// How to build the engine of a company (required): its QBO client (for that realm, over
    /// the store's token), the Ordoro client, the store and clock given to
    /// [`Connector::builder`], and the base [`SyncConfig`](crate::SyncConfig) the company's
    /// stored settings apply over.
    pub fn engine(
        mut self,
        factory: impl Fn(&str) -> Result<SyncEngineBuilder> + Send + Sync + 'static,
    ) -> Self {
        self.engine = Some(Box::new(factory));
        self
    }

    /// Enables "Connect QuickBooks", "Disconnect" and the reconnect route: the app's keys and
    /// redirect URI (its path must be `/oauth/callback`, on this router), and the transport
    /// to Intuit's token and revoke endpoints.
    pub fn oauth(mut self, app: OAuthApp, transport: SharedTransport) -> Self {
        self.oauth = Some(OAuth { app, transport });
        self
    }

    /// Enables `POST /webhooks/qbo`, verified with the app's verifier token.
    pub fn verifier_token(mut self, token: VerifierToken) -> Self {
        self.verifier = Some(token);
        self
    }

    /// Sends the webhook route's verified events to a fleet's queue
    /// ([`Coordinator::enqueue_events`]) instead of this process's schedulers: for companies run
    /// by [`Fleet`](crate::fleet::Fleet) workers, any of which may take the next run. The route
    /// answers 200 once the events are queued, and 503 (QBO then delivers again) when the queue
    /// cannot be written.
    pub fn webhook_queue(mut self, coordinator: Arc<dyn Coordinator>) -> Self {
        self.queue = Some(coordinator);
        self
    }

    /// Requires the admin login on every page (needed to serve on a non-loopback address).
    pub fn login(mut self, login: AdminLogin) -> Self {
        self.login = Some(login);
        self
    }

    /// Marks the session cookie `Secure`: on when the connector is reached over https (behind
    /// a TLS reverse proxy).
    pub fn secure_cookies(mut self, on: bool) -> Self {
        self.secure_cookies = on;
        self
    }

    /// The counters to add to (by default new ones); give the same [`Metrics`] whose
    /// [`transport`](Metrics::transport) wraps the clients' transports.
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// How each company's scheduler runs (default [`SchedulerConfig::default`]); its
    /// `on_run` is kept and called after the connector's own counting.
    pub fn scheduler_config(mut self, config: SchedulerConfig) -> Self {
        self.scheduler_config = config;
        self
    }

    /// The connector; a [`Config`](crate::ErrorKind::Config) error without an engine factory.
    pub fn build(self) -> Result<Connector> {
        let engine = self.engine.ok_or_else(|| {
            Error::config("the connector needs to know how to build an engine: call .engine(..)")
        })?;
        let metrics = self.metrics.unwrap_or_default();
        let mut scheduler_config = self.scheduler_config;
        let host_observer = scheduler_config.on_run.take();
        let counting = metrics.clone();
        scheduler_config.on_run = Some(RunObserver::new(move |realm, record, report| {
            counting.record_run(realm, record, report);
            if let Some(host) = &host_observer {
                host.call(realm, record, report);
            }
        }));
        if let Some(oauth) = &self.oauth
            && !oauth.app.redirect_uri().contains("/oauth/callback")
        {
            return Err(Error::config(format!(
                "the OAuth redirect URI {} must end in /oauth/callback, the connector's callback \
                 route",
                oauth.app.redirect_uri()
            )));
        }
        let shared = Shared {
            store: self.store,
            clock: self.clock,
            engine,
            oauth: self.oauth,
            verifier: self.verifier,
            queue: self.queue,
            login: self.login,
            secure_cookies: self.secure_cookies,
            metrics,
            scheduler_config,
            companies: Mutex::new(BTreeMap::new()),
            starting: tokio::sync::Mutex::new(()),
            sessions: Sessions::default(),
            consents: Consents::default(),
        };
        Ok(Connector { shared: Arc::new(shared) })
    }
}

/// A company's settings for its page: the store's (what the next run uses), else those the
/// scheduler runs with.
async fn settings_of(shared: &Shared, scheduler: &Scheduler) -> Result<CompanySettings> {
    let stored = shared.store.company_settings(scheduler.realm()).await?;
    Ok(stored.unwrap_or_else(|| scheduler.status().settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_binds_without_a_login() {
        assert!(check_bind("127.0.0.1:8080".parse().unwrap(), false).is_ok());
        assert!(check_bind("[::1]:8080".parse().unwrap(), false).is_ok());
        let refused = check_bind("0.0.0.0:8080".parse().unwrap(), false).unwrap_err();
        assert!(refused.to_string().contains("admin password"), "{refused}");
        assert!(check_bind("0.0.0.0:8080".parse().unwrap(), true).is_ok());
    }
}
