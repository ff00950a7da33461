//! The web connector as a person would run it, for the browser tests: a
//! [`Connector`](qbo_ordoro::web::Connector) over the simulated QBO and Ordoro, a `SqliteStore`
//! in a temp dir and the real clock, served with `axum::serve` on a loopback port.
//!
//! Intuit's consent page is played by a page on another loopback port, reached under the name
//! `localhost` (the connector is reached as `127.0.0.1`, another site): it asks the simulated
//! QBO where its authorize endpoint redirects and offers that as a link the merchant clicks, so
//! the browser comes back to the callback from another site, as from the real Intuit. The code
//! exchange and every API call go to the simulator in process.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;
use qbo_ordoro::engine::{SyncConfig, SyncEngine};
use qbo_ordoro::mapping::MappingConfig;
use qbo_ordoro::model::qbo::{EntityKind, MetaData, PhysicalAddress, Ref, SalesTransaction};
use qbo_ordoro::qbo::connect::OAuthApp;
use qbo_ordoro::sim::ordoro::{OrdoroSim, OrdoroSimConfig, SimLatency};
use qbo_ordoro::sim::qbo::{QboSim, QboSimConfig, simple_sale, to_pacific};
use qbo_ordoro::store::SqliteStore;
use qbo_ordoro::web::{AdminLogin, Connector};
use qbo_ordoro::{
    Clock, OrdoroClient, QboClient, QboEnvironment, SharedTransport, Store, TokenStore, TokioClock,
};
use rust_decimal::Decimal;
use tempfile::TempDir;
use tokio::task::JoinHandle;

use super::sim::CART;

/// The simulated company.
pub const REALM: &str = "9130350000000042";
/// The header class that marks a sale for Ordoro (id, name).
const ORDORO_CLASS: (&str, &str) = ("5000000000000000001", "Ordoro");
/// The XSS probes: a customer's name and an address line.
pub const SCRIPT_NAME: &str = "<script>alert(1)</script>";
/// See [`SCRIPT_NAME`].
pub const IMG_LINE: &str = "\"><img src=x onerror=alert(1)>";

/// How the app starts.
#[derive(Debug, Default)]
pub struct Options {
    /// The company's token is in the store at start (else it is connected through the pages).
    pub connected: bool,
    /// The admin login, required on every page.
    pub login: Option<AdminLogin>,
    /// Where to listen (default `127.0.0.1:0`); it is reached through `127.0.0.1` all the same.
    pub bind: Option<SocketAddr>,
}

/// A running connector; its tasks end when it drops.
pub struct WebApp {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    /// The connector served.
    pub connector: Connector,
    /// The simulated QBO.
    pub qbo: Arc<QboSim>,
    /// The simulated Ordoro.
    pub ordoro: Arc<OrdoroSim>,
    /// The connector's state (a SQLite file in a temp dir).
    pub store: Arc<SqliteStore>,
    server: JoinHandle<()>,
    intuit: JoinHandle<()>,
    _dir: TempDir,
}

impl Drop for WebApp {
    fn drop(&mut self) {
        self.server.abort();
        self.intuit.abort();
    }
}

impl WebApp {
    /// Starts the connector with `options` (its schedulers started).
    pub async fn start(options: Options) -> WebApp {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
        let qbo = Arc::new(QboSim::with_config(clock.clone(), QboSimConfig::default()));
        qbo.consent_as(REALM);
        let ordoro = Arc::new(OrdoroSim::with_config(
            clock.clone(),
            OrdoroSimConfig { latency: SimLatency::zero(), ..OrdoroSimConfig::default() },
        ));
        ordoro.add_sales_channel(CART);
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = Arc::new(SqliteStore::open(dir.path().join("state.sqlite")).expect("store"));
        if options.connected {
            store.save_token(REALM, &qbo.connect(REALM)).await.expect("save the token");
        }

        let (intuit, intuit_task) = consent_page(qbo.clone()).await;
        let listener =
            tokio::net::TcpListener::bind(options.bind.unwrap_or(([127, 0, 0, 1], 0).into()))
                .await
                .expect("bind the connector's port");
        let base =
            format!("http://127.0.0.1:{}", listener.local_addr().expect("an address").port());
        let environment = QboEnvironment::Custom {
            api_base: intuit.clone(),
            token_url: format!("{intuit}/oauth2/v1/tokens/bearer"),
        };
        let app = OAuthApp::new(
            qbo.config().client_id.clone(),
            qbo.config().client_secret.clone().into(),
            format!("{base}/oauth/callback"),
        )
        .expect("the OAuth app")
        .with_environment(&environment);

        let engines = (qbo.clone(), ordoro.clone(), store.clone(), clock.clone());
        let mut builder = Connector::builder(store.clone(), clock)
            .engine(move |realm| {
                let (qbo, ordoro, store, clock) = engines.clone();
                let tokens: Arc<dyn TokenStore> = store.clone();
                let qbo = QboClient::new(
                    qbo.client_config(realm),
                    SharedTransport::from_arc(qbo),
                    clock.clone(),
                    tokens,
                )?;
                let ordoro = OrdoroClient::new(
                    ordoro.client_config(),
                    SharedTransport::from_arc(ordoro),
                    clock.clone(),
                )?;
                let store: Arc<dyn Store> = store;
                Ok(SyncEngine::builder()
                    .qbo(Arc::new(qbo))
                    .ordoro(Arc::new(ordoro))
                    .store(store)
                    .clock(clock)
                    .config(SyncConfig {
                        mapping: MappingConfig::default().with_cart(Some(CART)),
                        ..SyncConfig::default()
                    }))
            })
            .oauth(app, SharedTransport::from_arc(qbo.clone()));
        if let Some(login) = options.login {
            builder = builder.login(login);
        }
        let connector = builder.build().expect("the connector");
        connector.start().await.expect("start the schedulers");
        let router = connector.router();
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve the connector");
        });
        WebApp { base, connector, qbo, ordoro, store, server, intuit: intuit_task, _dir: dir }
    }

    /// `self.base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits until the company's scheduler has finished its first run (the poll at start), so
    /// that sales seeded afterwards are left for "Sync now".
    pub async fn first_run_done(&self) {
        let scheduler = self.connector.scheduler(REALM).expect("the company is scheduled");
        for _ in 0..400 {
            if !scheduler.status().last_runs.is_empty() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the scheduler's first run did not finish: {:?}", scheduler.status());
    }

    /// Seeds the sales of the browser tests into QBO, last updated a minute ago: two that map
    /// (DocNumbers 1001 and 1002), one that fails for want of a city line (1003: its last line,
    /// quoted in the failure's detail, is the `<img>` probe), and one whose customer is the
    /// `<script>` probe and whose ship-to carries both probes (1004). Returns their QBO ids.
    pub fn seed_sales(&self) -> [String; 4] {
        let probe = |doc: &mut SalesTransaction| {
            doc.customer_ref = Some(Ref { value: "66".into(), name: Some(SCRIPT_NAME.into()) });
            doc.ship_addr = Some(PhysicalAddress::from_lines(&[
                SCRIPT_NAME,
                IMG_LINE,
                "45 First St.",
                "Menlo Park, CA  94304",
            ]));
        };
        [
            self.seed("1001", |_| {}),
            self.seed("1002", |_| {}),
            self.seed("1003", |d| {
                d.ship_addr = Some(PhysicalAddress::from_lines(&["Jane Doe", IMG_LINE]));
            }),
            self.seed("1004", probe),
        ]
    }

    /// Seeds one invoice, DocNumber `doc_number`, changed by `change`; returns its QBO id.
    pub fn seed(&self, doc_number: &str, change: impl FnOnce(&mut SalesTransaction)) -> String {
        let mut txn =
            simple_sale(EntityKind::Invoice, doc_number, Some(ORDORO_CLASS), Decimal::from(25));
        change(&mut txn.doc);
        let at = to_pacific(Utc::now() - chrono::Duration::minutes(1));
        txn.doc.meta_data = Some(MetaData { create_time: Some(at), last_updated_time: Some(at) });
        self.qbo.insert(REALM, txn).id
    }
}

/// Intuit's consent page, played on a loopback port named `localhost`: `GET /connect/oauth2`
/// shows the link `a#consent` to where the simulated QBO's authorize endpoint redirects (the
/// callback with the code and the `state`), or the simulator's refusal. Returns its origin.
async fn consent_page(qbo: Arc<QboSim>) -> (String, JoinHandle<()>) {
    use axum::response::Html;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
    let origin = format!("http://localhost:{}", listener.local_addr().expect("an address").port());
    let router = axum::Router::new().route(
        "/connect/oauth2",
        axum::routing::get(move |uri: http::Uri| async move {
            match qbo.consent(&uri.to_string()) {
                Ok(back) => Html(format!(
                    "<p>Connect to the app?</p><a id=\"consent\" href=\"{}\">Connect</a>",
                    back.replace('&', "&amp;").replace('"', "&quot;")
                )),
                Err(refused) => Html(format!("<p id=\"refused\">{}</p>", refused.message())),
            }
        }),
    );
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve the consent page");
    });
    (origin, task)
}
