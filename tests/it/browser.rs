//! The web connector in a real browser: headless Chromium driven through chromedriver (see
//! `support::browser`) over the connector served on a loopback port with the simulated services
//! (`support::web_app`). `web.rs` covers the same pages at the HTTP level.
//!
//! Each test has its own browser and connector. The sync test also writes the README's
//! screenshots: to `docs/screenshots/` when `UPDATE_SCREENSHOTS=1`, else under the target dir.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use bytes::Bytes;
use http::{StatusCode, header};
use http_body_util::Full;
use qbo_ordoro::Reason;
use qbo_ordoro::address::AddressErrorCode;
use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::store::{LedgerKey, LedgerState};
use qbo_ordoro::web::{AdminLogin, SESSION_COOKIE};
use qbo_ordoro::{Store, TokenStore};
use secrecy::SecretString;
use serde_json::Value;

use crate::support::browser::Browser;
use crate::support::web_app::{IMG_LINE, Options, REALM, SCRIPT_NAME, WebApp};

/// The company's section of the overview, then `inner`.
fn company(inner: &str) -> String {
    format!("section.company[data-realm=\"{REALM}\"] {inner}")
}

fn log_path() -> String {
    format!("/companies/{REALM}/log")
}

/// Where a screenshot goes: the README's copy when `UPDATE_SCREENSHOTS=1`, else the target dir.
fn screenshot_path(name: &str) -> PathBuf {
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots").join(name)
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots").join(name)
    }
}

async fn screenshot(browser: &Browser, name: &str) {
    let path = screenshot_path(name);
    browser.screenshot(&path).await;
    let png = std::fs::read(&path).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "{}", path.display());
}

/// No script of the page ran, and none was injected: no dialog, no `script` or `img` element
/// (the connector's pages have neither).
async fn assert_no_script_ran(browser: &Browser) {
    assert_eq!(browser.scripts_ran().await, Vec::<String>::new(), "{}", browser.url().await);
    assert_eq!(browser.count("script").await, 0, "an injected script element");
    assert_eq!(browser.count("img").await, 0, "an injected img element");
}

/// The connect flow against the simulator, on a public address behind the admin login:
/// "Connect QuickBooks" leads to Intuit's consent page (on another site: `localhost` rather than
/// `127.0.0.1`), where the merchant's click sends the browser back to the callback from that
/// other site (so without the `SameSite=Strict` session cookie); the callback says the company
/// is connected, its link leads back to the overview still logged in, and the company is
/// connected and scheduled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_quickbooks_goes_through_intuits_consent_and_comes_back_connected() {
    let login = AdminLogin::from_password(&SecretString::from("open sesame")).unwrap();
    let options =
        Options { login: Some(login), bind: Some(([0, 0, 0, 0], 0).into()), ..Options::default() };
    let app = WebApp::start(options).await;
    let b = Browser::start().await;
    b.goto(&app.url("/")).await;
    b.fill("form#login input[name=password]", "open sesame").await;
    b.click("button#login-button").await;
    assert_eq!(b.url().await.path(), "/");
    assert_eq!(b.count("section.company").await, 0, "no company before connecting");

    b.click("a#connect").await;
    assert_eq!(b.url().await.host_str(), Some("localhost"), "{}", b.body().await);
    b.click("a#consent").await;
    assert_eq!(b.url().await.path(), "/oauth/callback", "{}", b.body().await);
    let notice = b.text("#notice").await;
    assert!(notice.starts_with(&format!("Connected QuickBooks company {REALM}")), "{notice}");
    b.click("a#overview").await;
    assert_eq!(b.url().await.path(), "/", "still logged in: {}", b.body().await);
    assert!(b.text(&company(".connection-state")).await.starts_with("connected"));
    assert!(app.store.load_token(REALM).await.unwrap().is_some(), "the token is saved");
    assert!(app.connector.scheduler(REALM).is_some(), "the company is scheduled");
    assert_no_script_ran(&b).await;
    b.close().await;
}

/// "Sync now" creates the orders and the overview says so (and Ordoro holds them); the log
/// lists every sale, filters to the failure and opens it with its fix; a created sale's page
/// shows its order body; QBO's text with markup in it (the XSS probes: a customer's name, an
/// address line) is shown as text and runs nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_now_then_the_log_its_failure_and_an_order_body_with_qbo_text_shown_not_run() {
    let app = WebApp::start(Options { connected: true, ..Options::default() }).await;
    app.first_run_done().await;
    let ids = app.seed_sales();
    let b = Browser::start().await;
    b.goto(&app.url("/")).await;

    b.click(&company("form.sync-now button")).await;
    let created = app.ordoro.orders().len();
    assert!(created >= 2, "the two plain sales became orders: {created}");
    let summary = format!("created={created} updated=0 skipped=0 failed={}", 4 - created);
    assert_eq!(b.text(".flash").await, format!("Sync now: {summary}"));
    assert_eq!(b.text(&company("table.runs tbody tr.run td.kind")).await, "sync_now");
    assert_eq!(b.text(&company("table.runs tbody tr.run td.summary")).await, summary);
    for id in &ids[..2] {
        let key =
            LedgerKey { realm: REALM.into(), entity: EntityKind::Invoice, qbo_id: id.clone() };
        let entry = app.store.ledger_entry(&key).await.unwrap().expect("a ledger entry");
        assert_eq!(entry.state, LedgerState::Created);
        let number = entry.order_number.expect("the order's number");
        assert!(app.ordoro.order(&number).is_some(), "Ordoro holds order {number}");
    }
    screenshot(&b, "overview.png").await;

    b.click(&company("a.log-link")).await;
    assert_eq!(b.count("table#log tbody tr.entry").await, 4);
    let customers = b.texts("table#log tbody tr.entry td.customer").await;
    assert!(customers.contains(&SCRIPT_NAME.to_string()), "the name as text: {customers:?}");
    assert_no_script_ran(&b).await;
    screenshot(&b, "log.png").await;

    b.select("form#log-filter select[name=action]", "failed").await;
    b.fill("form#log-filter input[name=q]", "1003").await;
    b.click("button#apply").await;
    assert_eq!(b.url().await.query_pairs().find(|(k, _)| k == "action").unwrap().1, "failed");
    assert_eq!(b.count("table#log tbody tr.entry").await, 1);
    assert_eq!(b.count("table#log tbody tr.entry[data-action=failed]").await, 1);
    let fix = Reason::Address(AddressErrorCode::MissingCityLine).how_to_fix();
    assert_eq!(b.text("tr.entry td.fix").await, fix);
    let detail = b.text("tr.entry td.detail").await;
    assert!(detail.contains(IMG_LINE), "the address line quoted as text: {detail}");
    assert_no_script_ran(&b).await;
    b.click("tr.entry td.doc a").await;
    assert_eq!(b.url().await.path(), format!("/companies/{REALM}/transactions/invoice/{}", ids[2]));
    assert!(b.text("#decision").await.starts_with("error"), "{}", b.body().await);
    let history = b.texts("table#history tbody tr").await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(history[0].contains("failed"), "{history:?}");

    // A created sale's page: the order body it maps to, with the order's number.
    b.goto(&app.url(&format!("/companies/{REALM}/transactions/invoice/{}", ids[0]))).await;
    assert!(b.text("#decision").await.starts_with("create"), "{}", b.body().await);
    let body: Value = serde_json::from_str(&b.text("pre#order-body").await).expect("JSON");
    let key =
        LedgerKey { realm: REALM.into(), entity: EntityKind::Invoice, qbo_id: ids[0].clone() };
    let entry = app.store.ledger_entry(&key).await.unwrap().expect("a ledger entry");
    assert_eq!(body["order_id"], entry.order_id.as_str(), "{body}");

    // The probe's page: QBO's document, the parsed address and the order body, all as text.
    b.goto(&app.url(&format!("/companies/{REALM}/transactions/invoice/{}", ids[3]))).await;
    assert!(b.text("pre#document").await.contains(SCRIPT_NAME));
    let img = IMG_LINE.trim_start_matches("\">");
    let address = b.texts("dl#address dd").await;
    assert!(address.iter().any(|v| v.contains(img)), "the address line as text: {address:?}");
    assert!(b.text("pre#order-body").await.contains(img));
    assert_no_script_ran(&b).await;
    b.close().await;
}

/// A setting changed on the page is saved in the store, said so, and shown again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_setting_is_saved_in_the_store_and_shown_again() {
    let app = WebApp::start(Options { connected: true, ..Options::default() }).await;
    let b = Browser::start().await;
    b.goto(&app.url("/")).await;
    b.click(&company("a.settings-link")).await;
    b.fill("form#settings input[name=classes]", "Ordoro, Web shop").await;
    b.check("form#settings input[name=update_existing]", true).await;
    b.fill("form#settings input[name=poll_minutes]", "7").await;
    b.click("button#save").await;

    assert!(b.text(".flash").await.contains("Saved"), "{}", b.body().await);
    let classes = b.find("form#settings input[name=classes]").await.prop("value").await.unwrap();
    assert_eq!(classes.as_deref(), Some("Ordoro, Web shop"));
    let ticked = b.find("form#settings input[name=update_existing]").await;
    assert!(ticked.is_selected().await.unwrap());
    let minutes =
        b.find("form#settings input[name=poll_minutes]").await.prop("value").await.unwrap();
    assert_eq!(minutes.as_deref(), Some("7"));
    let saved = app.store.company_settings(REALM).await.unwrap().expect("settings in the store");
    assert_eq!(saved.classes, ["Ordoro", "Web shop"]);
    assert!(saved.update_existing);
    assert_eq!(saved.poll_interval, std::time::Duration::from_secs(7 * 60));
    b.close().await;
}

/// Bound to every address with an admin login: every page leads to the login, a wrong password
/// is refused, the right one gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_public_address_every_page_needs_the_admin_login() {
    let password = SecretString::from("open sesame");
    let login = AdminLogin::from_password(&password).unwrap();
    let options =
        Options { connected: true, login: Some(login), bind: Some(([0, 0, 0, 0], 0).into()) };
    let app = WebApp::start(options).await;
    let b = Browser::start().await;
    for path in ["/", &log_path(), &format!("/companies/{REALM}/settings")] {
        b.goto(&app.url(path)).await;
        assert_eq!(b.url().await.path(), "/login", "{path}");
        assert_eq!(b.count("section.company").await, 0, "{path}");
    }

    b.fill("form#login input[name=password]", "open sesame!").await;
    b.click("button#login-button").await;
    assert_eq!(b.url().await.path(), "/login");
    assert_eq!(b.text(".error").await, "That is not the admin password.");
    assert_eq!(b.count("section.company").await, 0);

    b.fill("form#login input[name=password]", "open sesame").await;
    b.click("button#login-button").await;
    assert_eq!(b.url().await.path(), "/");
    b.find(&company(".connection-state")).await;
    b.goto(&app.url(&log_path())).await;
    assert_eq!(b.url().await.path(), log_path());
    b.close().await;
}

/// A form posted without its CSRF token is refused (403) and does nothing; the same post with
/// the page's token goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_its_csrf_token_is_refused() {
    let app = WebApp::start(Options { connected: true, ..Options::default() }).await;
    app.first_run_done().await;
    app.seed("1001", |_| {});
    let b = Browser::start().await;
    b.goto(&app.url("/")).await;
    let form = company("form.sync-now");
    let token = b.find(&format!("{form} input[name=csrf]")).await.attr("value").await.unwrap();
    let token = token.expect("the form's CSRF token");

    b.run(&format!("document.querySelector('{form} input[name=csrf]').remove()")).await;
    b.submit(&form).await;
    assert!(b.body().await.contains("CSRF token is missing or stale"), "{}", b.body().await);
    assert!(app.ordoro.orders().is_empty(), "the refused form synced nothing");

    let cookie = b.client().get_named_cookie(SESSION_COOKIE).await.expect("the session cookie");
    let cookie = format!("{SESSION_COOKIE}={}", cookie.value());
    let sync = app.url(&format!("/companies/{REALM}/sync"));
    assert_eq!(post_form(&sync, &cookie, "").await, StatusCode::FORBIDDEN);
    assert_eq!(post_form(&sync, &cookie, "csrf=0123456789abcdef").await, StatusCode::FORBIDDEN);
    assert!(app.ordoro.orders().is_empty());
    assert_eq!(post_form(&sync, &cookie, &format!("csrf={token}")).await, StatusCode::SEE_OTHER);
    assert_eq!(app.ordoro.orders().len(), 1);
    b.close().await;
}

/// POSTs `body` as a form with `cookie`; the answer's status.
async fn post_form(url: &str, cookie: &str, body: &str) -> StatusCode {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let request = http::Request::post(url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    client.request(request).await.expect("the connector answers").status()
}

/// Serves `router` on a fresh loopback port; returns its base URL (no trailing slash).
async fn serve(router: Router) -> String {
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve the pages") });
    format!("http://{addr}")
}

/// The harness's own check: the script detector sees a page that does run `alert(1)` (an open
/// alert and the spy's record), and sees nothing on a page that shows the same text escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_harness_tells_a_page_that_runs_a_script_from_one_that_shows_it() {
    let base = serve(
        Router::new()
            .route("/runs", get(|| async { Html("<p id=t>hi</p><script>alert(1)</script>") }))
            .route(
                "/shows",
                get(|| async { Html("<p id=t>&lt;script&gt;alert(1)&lt;/script&gt;</p>") }),
            ),
    )
    .await;
    let browser = Browser::start().await;

    browser.goto(&format!("{base}/shows")).await;
    assert_eq!(browser.text("#t").await, "<script>alert(1)</script>");
    assert_eq!(browser.scripts_ran().await, Vec::<String>::new());

    browser.goto(&format!("{base}/runs")).await;
    let ran = browser.scripts_ran().await;
    assert!(ran.contains(&"open dialog:1".to_string()), "{ran:?}");
    assert!(ran.contains(&"\"alert:1\"".to_string()), "{ran:?}");
    browser.close().await;
}
