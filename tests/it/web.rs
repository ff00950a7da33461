//! The web connector (`qbo_ordoro::web`, issue 15) over HTTP, without a browser: the router
//! called directly (tower's `oneshot`), over the simulators in virtual time. "Sync now" creates
//! the orders and the log lists them, filters and CSV, settings, the webhook route and its
//! counters, the login, the loopback check, CSRF, the security headers, escaping, and no secret
//! on any page. `browser.rs` drives the same pages in a real Chromium.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use qbo_ordoro::engine::{SyncConfig, SyncEngineBuilder};
use qbo_ordoro::fleet::{Coordinator, FleetCompany, MemoryCoordinator};
use qbo_ordoro::mapping::MappingConfig;
use qbo_ordoro::model::qbo::{EntityKind, PhysicalAddress, Ref};
use qbo_ordoro::qbo::connect::OAuthApp;
use qbo_ordoro::schedule::SchedulerConfig;
use qbo_ordoro::sim::qbo::{CollectingSink, WebhookConfig, WebhookDelivery, simple_sale};
use qbo_ordoro::store::CompanySettings;
use qbo_ordoro::web::{AdminLogin, CONTENT_SECURITY_POLICY, Connector, Metrics, SESSION_COOKIE};
use qbo_ordoro::webhook::VerifierToken;
use qbo_ordoro::{Clock, Error, ErrorKind, OrdoroClient, QboClient, Store, SyncEngine, TokenStore};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use tower::ServiceExt;

use crate::support::capture_logs;
use crate::support::fleet::{Hook, Hooked};
use crate::support::sim::CART;
use crate::support::sim::services::{REALM, Services};

const ORDORO: (&str, &str) = ("5000000000000000001", "Ordoro");
const REDIRECT: &str = "http://localhost:8080/oauth/callback";
const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";

fn start() -> chrono::DateTime<chrono::Utc> {
    chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2024, 6, 3, 12, 0, 0).unwrap()
}

/// A connector over the simulators (the company connected), its counters wrapping the wires.
struct App {
    s: Services,
    connector: Connector,
    router: Router,
    /// The browser's cookies, by name (every one sent on every request).
    cookies: std::collections::BTreeMap<String, String>,
    host: &'static str,
}

/// What the connector is given beyond the store and the engines.
#[derive(Default)]
struct Options {
    login: Option<AdminLogin>,
    verifier: Option<VerifierToken>,
    oauth: bool,
    queue: Option<Arc<dyn Coordinator>>,
}

async fn app_with(login: Option<AdminLogin>, verifier: Option<VerifierToken>) -> App {
    app_of(Options { login, verifier, ..Options::default() }).await
}

/// The engine of any realm over the simulators, as a host's factory builds it.
fn factory(
    s: &Services,
    metrics: &Metrics,
) -> impl Fn(&str) -> qbo_ordoro::Result<SyncEngineBuilder> + Send + Sync + 'static {
    let (qbo_wire, ordoro_wire) =
        (metrics.transport("qbo", s.qbo_wire()), metrics.transport("ordoro", s.ordoro_wire()));
    let (qbo, ordoro, store) = (s.qbo.clone(), s.ordoro.clone(), s.store.clone());
    let clock: Arc<dyn Clock> = s.clock.clone();
    move |realm: &str| {
        let base = SyncConfig {
            mapping: MappingConfig::default().with_cart(Some(CART)),
            ..SyncConfig::default()
        };
        let qbo_client = QboClient::new(
            qbo.client_config(realm),
            qbo_wire.clone(),
            clock.clone(),
            store.clone(),
        )?;
        let ordoro_client =
            OrdoroClient::new(ordoro.client_config(), ordoro_wire.clone(), clock.clone())?;
        Ok(SyncEngine::builder()
            .qbo(Arc::new(qbo_client))
            .ordoro(Arc::new(ordoro_client))
            .store(store.clone())
            .clock(clock.clone())
            .config(base))
    }
}

async fn app_of(options: Options) -> App {
    let Options { login, verifier, oauth, queue } = options;
    let s = Services::start(start()).await;
    let metrics = Metrics::new();
    let clock: Arc<dyn Clock> = s.clock.clone();
    let mut connector = Connector::builder(s.store.clone(), clock)
        .engine(factory(&s, &metrics))
        .metrics(metrics)
        .scheduler_config(SchedulerConfig::default());
    if oauth {
        let app = OAuthApp::new("sim-client-id", "sim-client-secret".into(), REDIRECT).unwrap();
        connector = connector.oauth(app, s.qbo_wire());
    }
    if let Some(login) = login {
        connector = connector.login(login);
    }
    if let Some(token) = verifier {
        connector = connector.verifier_token(token);
    }
    if let Some(queue) = queue {
        connector = connector.webhook_queue(queue);
    }
    let connector = connector.build().unwrap();
    connector.start().await.unwrap();
    let router = connector.router();
    App { s, connector, router, cookies: Default::default(), host: "127.0.0.1:8080" }
}

async fn app() -> App {
    app_with(None, None).await
}

/// An answer: status, headers, body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

impl App {
    async fn send(&mut self, request: http::request::Builder, body: Body) -> Answer {
        let mut request = request.header(header::HOST, self.host);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header(header::COOKIE, jar.join("; "));
        }
        let response = self.router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        for set in headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()) {
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty() || set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    async fn get(&mut self, path: &str) -> Answer {
        self.send(Request::get(path), Body::empty()).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(request, Body::from(body)).await
    }

    /// Posts a form with the session's CSRF token (read from `page` first).
    async fn submit(&mut self, page: &str, path: &str, form: &[(&str, &str)]) -> Answer {
        let csrf = csrf(&self.get(page).await.body);
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.post(path, &fields).await
    }

    fn sale(
        &self,
        doc_number: &str,
        change: impl FnOnce(&mut qbo_ordoro::model::qbo::SalesTransaction),
    ) -> String {
        let mut txn = simple_sale(EntityKind::Invoice, doc_number, Some(ORDORO), Decimal::from(25));
        change(&mut txn.doc);
        self.s.seed_at(txn, self.s.clock.now() - chrono::Duration::minutes(1))
    }
}

/// The `csrf` field's value in a page.
fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("the page has a form with a CSRF token");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// The rows of the log table.
fn log_rows(html: &str) -> usize {
    html.matches("<tr class=\"entry\"").count()
}

async fn later(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

#[tokio::test(start_paused = true)]
async fn sync_now_creates_the_orders_and_the_log_lists_them_with_filters_and_csv() {
    let mut a = app().await;
    later(5).await; // the first poll runs at start; the sales come after it
    a.sale("1001", |_| {});
    a.sale("1002", |_| {});
    a.sale("1003", |d| d.ship_addr = Some(PhysicalAddress::from_lines(&["Jane Doe"])));

    let overview = a.get("/").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.body.contains(&format!("data-realm=\"{REALM}\"")), "{}", overview.body);
    assert!(overview.body.contains("class=\"connection-state\">connected"), "{}", overview.body);

    let refused = a.post(&format!("/companies/{REALM}/sync"), &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "a form without its CSRF token");
    assert!(a.s.ordoro.orders().is_empty());

    let done = a.submit("/", &format!("/companies/{REALM}/sync"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), "/");
    assert_eq!(a.s.ordoro.orders().len(), 2);
    let overview = a.get("/").await;
    assert!(
        overview.body.contains("Sync now: created=2 updated=0 skipped=0 failed=1"),
        "{}",
        overview.body
    );
    assert!(overview.body.contains("<td class=\"kind\">sync_now</td>"), "{}", overview.body);

    let log = a.get(&format!("/companies/{REALM}/log")).await;
    assert_eq!(log_rows(&log.body), 3, "{}", log.body);
    let failed = a.get(&format!("/companies/{REALM}/log?action=failed")).await;
    assert_eq!(log_rows(&failed.body), 1, "{}", failed.body);
    let fix = qbo_ordoro::Reason::Address(qbo_ordoro::address::AddressErrorCode::MissingCityLine)
        .how_to_fix();
    assert!(failed.body.contains("data-action=\"failed\""));
    assert!(unescape(&failed.body).contains(fix), "the failure's fix is shown: {}", failed.body);
    let by_doc = a.get(&format!("/companies/{REALM}/log?q=1002")).await;
    assert_eq!(log_rows(&by_doc.body), 1);
    let bad = a.get(&format!("/companies/{REALM}/log?action=exploded")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let csv = a.get(&format!("/companies/{REALM}/log.csv?action=created")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    assert_eq!(reader.records().count(), 2, "{}", csv.body);
    a.connector.shutdown().await;
}

/// HTML text with its character references read back (`&#60;`, `&lt;`, `&#x3c;`, ...).
fn unescape(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|end| *end <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..end];
        let decoded = match name {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[tokio::test(start_paused = true)]
async fn log_pages_move_by_keyset_cursor() {
    let mut a = app().await;
    later(5).await;
    for n in 0..60 {
        a.sale(&format!("2{n:03}"), |_| {});
    }
    a.submit("/", &format!("/companies/{REALM}/sync"), &[]).await;
    let first = a.get(&format!("/companies/{REALM}/log?action=created")).await;
    assert_eq!(log_rows(&first.body), 50);
    let older = first.body.split("id=\"older\" href=\"").nth(1).expect("an older page");
    let older = unescape(&older[..older.find('"').unwrap()]);
    assert!(older.contains("action=created"), "the filters stay: {older}");
    let second = a.get(&older).await;
    assert_eq!(log_rows(&second.body), 10, "{}", second.body);
    assert!(second.body.contains("id=\"newer\""));
    assert!(!second.body.contains("id=\"older\""));
    a.connector.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn values_from_qbo_are_shown_as_text_never_as_markup() {
    let mut a = app().await;
    later(5).await;
    let id = a.sale("<b>3001</b>", |d| {
        d.customer_ref = Some(Ref { value: "9".into(), name: Some(SCRIPT.into()) });
        d.ship_addr = Some(PhysicalAddress::from_lines(&[SCRIPT, IMG]));
    });
    a.submit("/", &format!("/companies/{REALM}/sync"), &[]).await;
    let log = a.get(&format!("/companies/{REALM}/log")).await;
    assert_eq!(log_rows(&log.body), 1, "{}", log.body);
    for page in [log.body, a.get("/").await.body] {
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<img src=x"), "{page}");
        assert!(!page.contains("<b>3001"), "{page}");
    }
    let log = unescape(&a.get(&format!("/companies/{REALM}/log")).await.body);
    assert!(log.contains("<b>3001</b>"), "the DocNumber shown as text: {log}");
    assert!(log.contains(&format!("<td class=\"customer\">{SCRIPT}</td>")), "{log}");
    let page = a.get(&format!("/companies/{REALM}/transactions/invoice/{id}")).await.body;
    assert!(!page.contains("<script>alert") && !page.contains("<img src=x"), "{page}");
    assert!(unescape(&page).contains(IMG), "the address line shown as text: {page}");
    a.connector.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn settings_are_validated_saved_and_shown_again() {
    let mut a = app().await;
    let path = format!("/companies/{REALM}/settings");
    let fields = [
        ("classes", "Ordoro, Wholesale ,"),
        ("update_existing", "on"),
        ("poll_minutes", "10"),
        ("catch_up_hours", "12"),
    ];
    let saved = a.submit(&path, &path, &fields).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let stored = a.s.store.company_settings(REALM).await.unwrap().expect("saved in the store");
    assert_eq!(stored.classes, ["Ordoro", "Wholesale"]);
    assert!(stored.update_existing && !stored.cancel_on_void && !stored.webhooks);
    assert_eq!(stored.poll_interval, Duration::from_secs(600));
    assert_eq!(stored.catch_up_interval, Duration::from_secs(12 * 3600));
    let page = a.get(&path).await;
    assert!(page.body.contains("Saved"), "{}", page.body);
    assert!(page.body.contains("value=\"Ordoro, Wholesale\""), "{}", page.body);

    let zero = [("classes", "Ordoro"), ("poll_minutes", "0"), ("catch_up_hours", "24")];
    a.submit(&path, &path, &zero).await;
    let page = a.get(&path).await;
    assert!(page.body.contains("Not saved"), "{}", page.body);
    assert_eq!(a.s.store.company_settings(REALM).await.unwrap(), Some(stored));
    later(1).await;
    let running = a.connector.scheduler(REALM).unwrap().status().settings;
    assert_eq!(running.classes, ["Ordoro", "Wholesale"], "the scheduler runs with them");
    a.connector.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_resync_with_its_dates_backwards_is_refused_with_a_message() {
    let mut a = app().await;
    let path = format!("/companies/{REALM}/resync");
    a.submit("/", &path, &[("from", "2024-06-03"), ("to", "2024-05-01")]).await;
    let page = a.get("/").await;
    assert!(page.body.contains("is after"), "{}", page.body);
    let bad = a.submit("/", &path, &[("from", "yesterday"), ("to", "2024-05-01")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    a.connector.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_webhook_route_verifies_answers_and_the_sale_becomes_an_order() {
    let hooks = WebhookConfig {
        delay: (Duration::from_secs(1), Duration::from_secs(2)),
        ..WebhookConfig::default()
    };
    let token = VerifierToken::from(hooks.verifier_token.as_str());
    let mut a = app_with(None, Some(token)).await;
    a.s.qbo.enable_webhooks(hooks);
    let sink = Arc::new(CollectingSink::new());
    a.s.qbo.set_webhook_sink(sink.clone());
    later(5).await;
    a.sale("4001", |_| {});
    later(3).await;
    a.s.qbo.deliver_due();
    let deliveries = sink.take();
    assert!(!deliveries.is_empty());

    let forged = Request::post("/webhooks/qbo").header("intuit-signature", "AAAA");
    let refused = a.send(forged, Body::from(deliveries[0].body.clone())).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    for delivery in deliveries {
        let mut request = Request::post("/webhooks/qbo");
        for (name, value) in &delivery.headers {
            request = request.header(name, value);
        }
        let accepted = a.send(request, Body::from(delivery.body)).await;
        assert_eq!(accepted.status, StatusCode::OK);
    }
    later(2).await;
    assert_eq!(a.s.ordoro.orders().len(), 1, "the notified sale became an order");

    let metrics = a.get("/metrics").await.body;
    assert!(
        metrics.contains(
            "qbo_ordoro_webhook_deliveries_total{result=\"refused\",code=\"bad_signature\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("qbo_ordoro_webhook_deliveries_total{result=\"accepted\",code=\"\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "qbo_ordoro_runs_total{{realm=\"{REALM}\",kind=\"changes\",result=\"clean\"}} 1"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "qbo_ordoro_outcomes_total{{realm=\"{REALM}\",action=\"created\",reason=\"\"}} 1"
        )),
        "{metrics}"
    );
    assert!(metrics.contains("qbo_ordoro_requests_total{service=\"ordoro\"}"), "{metrics}");
    assert!(metrics.contains("qbo_ordoro_throttled_total"), "{metrics}");
    a.connector.shutdown().await;
}

/// The simulated QBO's deliveries of one new sale (genuine, signed with `hooks`' token).
async fn deliveries_of_a_sale(a: &mut App, hooks: WebhookConfig) -> Vec<WebhookDelivery> {
    a.s.qbo.enable_webhooks(hooks);
    let sink = Arc::new(CollectingSink::new());
    a.s.qbo.set_webhook_sink(sink.clone());
    later(5).await;
    a.sale("4002", |_| {});
    later(3).await;
    a.s.qbo.deliver_due();
    let deliveries = sink.take();
    assert!(!deliveries.is_empty());
    deliveries
}

fn posted(delivery: &WebhookDelivery) -> http::request::Builder {
    let mut request = Request::post("/webhooks/qbo");
    for (name, value) in &delivery.headers {
        request = request.header(name, value);
    }
    request
}

#[tokio::test(start_paused = true)]
async fn with_a_webhook_queue_verified_events_are_queued_for_the_fleet() {
    let hooks = WebhookConfig {
        delay: (Duration::from_secs(1), Duration::from_secs(2)),
        ..WebhookConfig::default()
    };
    let token = VerifierToken::from(hooks.verifier_token.as_str());
    let clock = Arc::new(qbo_ordoro::TokioClock::starting_at(start()));
    let fleet = MemoryCoordinator::new(clock.clone());
    let company = FleetCompany { realm: REALM.into(), ordoro_account: "acme".into() };
    fleet.add_company(&company).await.unwrap();
    // The company's poll is done: it is due again only in an hour, unless events come.
    let lease = fleet.claim("w", 1, Duration::from_secs(30)).await.unwrap().remove(0);
    fleet.release(&lease, Duration::from_secs(3600)).await.unwrap();
    let queue: Arc<dyn Coordinator> = Arc::new(fleet.clone());
    let options = Options { verifier: Some(token), queue: Some(queue), ..Options::default() };
    let mut a = app_of(options).await;
    let deliveries = deliveries_of_a_sale(&mut a, hooks).await;

    let forged = Request::post("/webhooks/qbo").header("intuit-signature", "AAAA");
    let refused = a.send(forged, Body::from(deliveries[0].body.clone())).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(fleet.companies().await.unwrap()[0].queued_events, 0, "a forgery queues nothing");
    assert!(fleet.claim("w", 1, Duration::from_secs(30)).await.unwrap().is_empty());

    for delivery in &deliveries {
        let accepted = a.send(posted(delivery), Body::from(delivery.body.clone())).await;
        assert_eq!(accepted.status, StatusCode::OK);
    }
    let state = fleet.companies().await.unwrap().remove(0);
    assert!(state.queued_events >= 1, "{state:?}");
    let claimed = fleet.claim("w", 1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(claimed.len(), 1, "the company is due at once");
    let queued = fleet.queued_events(&claimed[0], 100).await.unwrap();
    assert!(queued.iter().all(|q| q.event.realm_id == REALM && q.event.entity == "Invoice"));
    later(5).await;
    assert!(a.s.ordoro.orders().is_empty(), "no scheduler of this process ran the events");
    a.connector.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_webhook_queue_that_cannot_be_written_answers_503_so_qbo_retries() {
    let hooks = WebhookConfig {
        delay: (Duration::from_secs(1), Duration::from_secs(2)),
        ..WebhookConfig::default()
    };
    let token = VerifierToken::from(hooks.verifier_token.as_str());
    let clock = Arc::new(qbo_ordoro::TokioClock::starting_at(start()));
    let down: Hook =
        Arc::new(|_| Box::pin(async { Err(Error::new(ErrorKind::Store, "the database is down")) }));
    let inner: Arc<dyn Coordinator> = Arc::new(MemoryCoordinator::new(clock));
    let queue: Arc<dyn Coordinator> = Arc::new(Hooked { inner, hook: down });
    let options = Options { verifier: Some(token), queue: Some(queue), ..Options::default() };
    let mut a = app_of(options).await;
    let (logs, _guard) = capture_logs();
    let deliveries = deliveries_of_a_sale(&mut a, hooks).await;
    let answer = a.send(posted(&deliveries[0]), Body::from(deliveries[0].body.clone())).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(logs.text().contains("could not queue webhook events"), "{}", logs.text());
    a.connector.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn without_a_login_only_loopback_hosts_are_answered() {
    let mut a = app().await;
    a.host = "connector.example.com";
    assert_eq!(a.get("/").await.status, StatusCode::FORBIDDEN);
    assert_eq!(a.get(&format!("/companies/{REALM}/log")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(a.get("/healthz").await.status, StatusCode::OK);
    a.host = "localhost:8080";
    assert_eq!(a.get("/").await.status, StatusCode::OK);
    a.connector.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn with_a_login_every_page_but_the_public_ones_needs_it() {
    let password = SecretString::from("open sesame");
    let mut a = app_with(Some(AdminLogin::from_password(&password).unwrap()), None).await;
    a.host = "connector.example.com";
    for path in ["/", &format!("/companies/{REALM}/log"), "/metrics", "/connect"] {
        let answer = a.get(path).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(answer.location(), "/login", "{path}");
    }
    assert_eq!(a.get("/healthz").await.status, StatusCode::OK);
    let hook = a.send(Request::post("/webhooks/qbo"), Body::from("{}")).await;
    assert_ne!(hook.status, StatusCode::SEE_OTHER, "the webhook route needs no login");

    let before = a.cookies.get(SESSION_COOKIE).cloned();
    let wrong = a.submit("/login", "/login", &[("password", "open sesame!")]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.get("/").await.location(), "/login");
    let right = a.submit("/login", "/login", &[("password", "open sesame")]).await;
    assert_eq!(right.status, StatusCode::SEE_OTHER);
    assert_ne!(a.cookies.get(SESSION_COOKIE), before.as_ref(), "logging in gives a new session id");
    let overview = a.get("/").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.body.contains("Log out"));

    a.submit("/", "/logout", &[]).await;
    assert_eq!(a.get("/").await.location(), "/login");
    a.connector.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn every_answer_has_the_security_headers_and_no_page_shows_a_secret() {
    let verifier = "verifier-token-secret-value";
    let mut a = app_with(None, Some(VerifierToken::from(verifier))).await;
    later(5).await;
    a.sale("5001", |_| {});
    a.submit("/", &format!("/companies/{REALM}/sync"), &[]).await;
    let token = a.s.store.load_token(REALM).await.unwrap().unwrap();
    let secrets = [
        token.refresh_token.expose_secret().to_owned(),
        token.access_token.as_ref().map(|t| t.expose_secret().to_owned()).unwrap_or_default(),
        verifier.to_owned(),
    ];
    let paths = [
        "/".to_owned(),
        format!("/companies/{REALM}/log"),
        format!("/companies/{REALM}/log.csv"),
        format!("/companies/{REALM}/settings"),
        "/metrics".to_owned(),
        "/no/such/page".to_owned(),
    ];
    for path in &paths {
        let answer = a.get(path).await;
        assert_eq!(answer.headers[header::CONTENT_SECURITY_POLICY], CONTENT_SECURITY_POLICY);
        assert_eq!(answer.headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(answer.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            assert!(!answer.body.contains(secret.as_str()), "{path} shows a secret");
        }
    }
    assert_eq!(a.get("/no/such/page").await.status, StatusCode::NOT_FOUND);
    let mut fresh = app().await;
    let first = fresh.get("/").await;
    let cookie = first.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    a.connector.shutdown().await;
    fresh.connector.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_company_not_connected_is_a_404_and_settings_of_the_defaults_show() {
    let mut a = app().await;
    assert_eq!(a.get("/companies/123/log").await.status, StatusCode::NOT_FOUND);
    let page = a.get(&format!("/companies/{REALM}/settings")).await;
    let defaults = CompanySettings::default();
    assert!(page.body.contains(&format!("value=\"{}\"", defaults.classes.join(", "))));
    a.connector.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn connect_quickbooks_goes_to_intuit_and_back_and_the_company_is_scheduled() {
    let mut a = app_of(Options { oauth: true, ..Options::default() }).await;
    let second = "9130350000000002";
    a.s.qbo.consent_as(second);
    let overview = a.get("/").await;
    assert!(overview.body.contains("id=\"connect\""), "{}", overview.body);

    let consent = a.get("/connect").await;
    assert_eq!(consent.status, StatusCode::SEE_OTHER);
    let authorize = consent.location().to_owned();
    assert!(authorize.contains("scope=com.intuit.quickbooks.accounting"), "{authorize}");
    assert!(!authorize.contains("sim-client-secret"));
    let redirected = a.s.qbo.consent(&authorize).unwrap();
    let path = redirected.strip_prefix("http://localhost:8080").unwrap().to_owned();

    let forged = path.replace("state=", "state=0");
    let mut stranger = app_of(Options { oauth: true, ..Options::default() }).await;
    let refused = stranger.get(&forged).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "no connect was started by this browser");

    let session = a.cookies.get(SESSION_COOKIE).cloned();
    let back = a.get(&path).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert!(back.body.contains(&format!("Connected QuickBooks company {second}")), "{}", back.body);
    assert!(back.body.contains("id=\"overview\" href=\"/\""), "a link back: {}", back.body);
    assert_eq!(a.cookies.get(SESSION_COOKIE), session.as_ref(), "the session is kept");
    assert!(!a.cookies.contains_key("qbo_ordoro_consent"), "the consent cookie is taken back");
    assert!(a.connector.realms().contains(&second.to_owned()));
    assert!(a.s.store.load_token(second).await.unwrap().is_some(), "the token is saved");
    let overview = a.get("/").await;
    assert!(overview.body.contains(&format!("data-realm=\"{second}\"")));
    assert!(overview.body.contains("connected, reconnect by"), "{}", overview.body);
    let again = a.get(&path).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "a callback's state is good once");
    let consent = a.get("/connect").await;
    let state = consent.location().split("state=").nth(1).unwrap().split('&').next().unwrap();
    let replayed =
        path.replace(path.split("state=").nth(1).unwrap().split('&').next().unwrap(), state);
    let replay = a.get(&replayed).await;
    assert_ne!(replay.status, StatusCode::OK, "a used code is refused: {}", replay.body);
    a.connector.shutdown().await;
    stranger.connector.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_transaction_page_shows_the_document_decision_order_body_address_and_history() {
    let mut a = app().await;
    later(5).await;
    let id = a.sale("6001", |_| {});
    let path = format!("/companies/{REALM}/transactions/invoice/{id}");
    let before = a.get(&path).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    let page = unescape(&before.body);
    assert!(page.contains("<p id=\"decision\">create</p>"), "{page}");
    let body = page.split("<pre id=\"order-body\">").nth(1).expect("an order body");
    let body: serde_json::Value =
        serde_json::from_str(&body[..body.find("</pre>").unwrap()]).unwrap();
    assert_eq!(body["order_id"], format!("QBO-INV-{id}"));
    assert!(page.contains("<dd data-field=\"city\">Menlo Park</dd>"), "{page}");
    assert!(page.contains("<dd data-field=\"zip\">94304</dd>"), "{page}");
    assert!(page.contains("\"DocNumber\": \"6001\""), "the document as QBO sent it: {page}");
    assert!(page.contains("no order made yet"));
    assert!(a.s.ordoro.orders().is_empty(), "looking writes nothing");

    let synced = a.submit(&path, &format!("{path}/sync"), &[]).await;
    assert_eq!(synced.status, StatusCode::SEE_OTHER);
    assert_eq!(synced.location(), path);
    assert_eq!(a.s.ordoro.orders().len(), 1);
    let after = unescape(&a.get(&path).await.body);
    assert!(after.contains("Sync Invoice"), "{after}");
    assert!(after.contains("created order 1-QBO-INV-"), "the ledger: {after}");
    let history = after.split("<table id=\"history\">").nth(1).unwrap();
    assert!(history.contains("<td>created</td>"), "{history}");

    let missing = a.get(&format!("/companies/{REALM}/transactions/invoice/999999")).await;
    assert_eq!(missing.status, StatusCode::OK);
    assert!(unescape(&missing.body).contains("QuickBooks has no such transaction now"));
    let odd = a.get(&format!("/companies/{REALM}/transactions/estimate/1")).await;
    assert_eq!(odd.status, StatusCode::NOT_FOUND);
    a.connector.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_log_finds_a_sale_by_its_customer() {
    let mut a = app().await;
    later(5).await;
    a.sale("7001", |d| {
        d.customer_ref = Some(Ref { value: "3".into(), name: Some("Ada Lovelace".into()) })
    });
    a.sale("7002", |_| {});
    a.submit("/", &format!("/companies/{REALM}/sync"), &[]).await;
    let found = a.get(&format!("/companies/{REALM}/log?q=ada+lovelace")).await;
    assert_eq!(log_rows(&found.body), 1, "{}", found.body);
    assert!(found.body.contains("<td class=\"customer\">Ada Lovelace</td>"));
    a.connector.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn disconnect_revokes_forgets_the_token_and_stops_the_company() {
    let mut a = app_of(Options { oauth: true, ..Options::default() }).await;
    assert!(a.s.store.load_token(REALM).await.unwrap().is_some());
    let done = a.submit("/", &format!("/companies/{REALM}/disconnect"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(a.s.store.load_token(REALM).await.unwrap().is_none(), "the token is forgotten");
    assert!(a.connector.realms().is_empty());
    let overview = a.get("/").await.body;
    assert!(overview.contains(&format!("Disconnected company {REALM}")), "{overview}");
    assert!(!overview.contains("data-realm="));
    assert_eq!(a.get(&format!("/companies/{REALM}/log")).await.status, StatusCode::NOT_FOUND);
    a.connector.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_company_whose_grant_was_revoked_shows_reconnect_needed() {
    let mut a = app().await;
    later(5).await;
    a.s.qbo.revoke(REALM);
    a.s.qbo.expire_access_tokens(REALM);
    let done = a.submit("/", &format!("/companies/{REALM}/sync"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let overview = a.get("/").await.body;
    assert!(overview.contains("class=\"connection-state alarm\">reconnect needed"), "{overview}");
    assert!(a.s.ordoro.orders().is_empty());
    let last = a.connector.scheduler(REALM).unwrap().status().last_runs[0].clone();
    assert_eq!(last.error_kind, Some(qbo_ordoro::ErrorKind::Authentication));
    a.connector.shutdown().await;
}
