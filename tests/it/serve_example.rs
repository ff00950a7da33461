//! The `serve` example as a newcomer runs it: the built binary started on a free loopback port
//! with a temporary state file and no credentials, then driven over HTTP as a browser would
//! (the session cookie, each form's CSRF token): the simulated company connected on the
//! overview, "Sync now" and the orders in the log page, a sale the simulated company makes
//! arriving as an order through the webhook route with no button pressed, Ctrl-C stopping it
//! cleanly; and the configurations it refuses, each naming what to set.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use qbo_ordoro::store::{Action, LogQuery, SqliteStore};
use qbo_ordoro::{ReqwestTransport, SharedTransport, Store};

use crate::support::examples::{SERVICE_VARS, example_binary};

/// The simulated company's realm (examples/sync/simulated.rs).
const SIM_REALM: &str = "9130357766554433";

/// Orders the sample company's eligible sales make (the sync example's first run).
const SAMPLE_ORDERS: usize = 38;

/// Longest wait for the connector to answer, or for a webhook's order to show.
const PATIENCE: Duration = Duration::from_secs(90);

/// The example, its state file in `dir`, with `args` and `env` over a clean environment.
fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(example_binary("serve"));
    command.args(args).current_dir(dir);
    for var in SERVICE_VARS {
        command.env_remove(var);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// A running connector, killed when dropped.
struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT`, from the line it printed.
    base: String,
    /// What it logged so far (a thread drains the pipe).
    stderr: Arc<Mutex<String>>,
    http: SharedTransport,
    /// The session cookie the connector set (`name=value`).
    cookie: Option<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer: status, `Location`, body.
struct Page {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Served {
    /// Starts the example on a free loopback port with state file `state` and `more` flags,
    /// and waits for `/healthz`.
    async fn start(dir: &Path, state: &Path, more: &[&str], env: &[(&str, &str)]) -> Served {
        let state = state.to_str().unwrap();
        let mut args = vec!["--listen", "127.0.0.1:0", "--state", state];
        args.extend_from_slice(more);
        let mut child = command(dir, &args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the example starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .map(|url| url.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("no URL printed: {line:?}\n{}", stderr.lock().unwrap())
            });
        assert!(base.starts_with("http://127.0.0.1:"), "{line}");
        let http = SharedTransport::new(ReqwestTransport::new().unwrap());
        let mut served = Served { child, base, stderr, http, cookie: None };
        served.wait_healthy().await;
        served
    }

    fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let request =
                http::Request::get(format!("{}/healthz", self.base)).body(Bytes::new()).unwrap();
            if let Ok(answer) = self.http.send(request).await
                && answer.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "/healthz never answered:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends `request` with the session cookie, keeps the cookie the answer sets.
    async fn send(&mut self, mut request: http::Request<Bytes>) -> Page {
        if let Some(cookie) = &self.cookie {
            request.headers_mut().insert(http::header::COOKIE, cookie.parse().unwrap());
        }
        let answer = self.http.send(request).await.expect("the connector answers");
        if let Some(set) = answer.headers().get(http::header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            self.cookie = set.split(';').next().map(str::to_owned);
            assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
        }
        Page {
            status: answer.status().as_u16(),
            location: answer
                .headers()
                .get(http::header::LOCATION)
                .map(|v| v.to_str().unwrap().to_owned()),
            body: String::from_utf8_lossy(answer.body()).into_owned(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let url = format!("{}{path}", self.base);
        self.send(http::Request::get(url).body(Bytes::new()).unwrap()).await
    }

    /// Posts a form as the browser does: its fields and the page's CSRF token.
    async fn post_form(&mut self, path: &str, csrf: &str) -> Page {
        let body: String =
            form_urlencoded::Serializer::new(String::new()).append_pair("csrf", csrf).finish();
        let request = http::Request::post(format!("{}{path}", self.base))
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Bytes::from(body))
            .unwrap();
        self.send(request).await
    }

    /// Stops it as Ctrl-C does; returns its exit status and everything it logged.
    #[cfg(unix)]
    fn interrupt(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "Ctrl-C did not stop it:\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(50));
        };
        // The drain thread reads what is left once the pipe closes.
        std::thread::sleep(Duration::from_millis(200));
        (status.code(), self.logs())
    }
}

/// The `csrf` field of the first form on `page`.
fn csrf(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("a form with a CSRF token");
    let rest = &page[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// The `<tr class="entry" ...>` rows of a log page.
fn log_rows(page: &str) -> Vec<&str> {
    page.split(r#"<tr class="entry""#)
        .skip(1)
        .map(|row| &row[..row.find("</tr>").unwrap()])
        .collect()
}

/// The text of cell `class` in a log row.
fn cell<'a>(row: &'a str, class: &str) -> &'a str {
    let open = format!(r#"<td class="{class}">"#);
    let rest =
        &row[row.find(&open).unwrap_or_else(|| panic!("no {class} cell: {row}")) + open.len()..];
    &rest[..rest.find("</td>").unwrap()]
}

fn temp_state() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite3");
    (dir, state)
}

/// A newcomer's first minutes: the overview lists the simulated company connected; "Sync now"
/// answers with its counts; the log page lists the sample's orders; Ctrl-C stops it with status
/// 0, and the state file given holds the same orders.
#[tokio::test]
async fn the_overview_shows_the_simulated_company_and_sync_now_fills_the_log() {
    let (dir, state) = temp_state();
    let mut served = Served::start(dir.path(), &state, &["--sale-every", "0"], &[]).await;

    let overview = served.get("/").await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    let section = format!(r#"<section class="company" data-realm="{SIM_REALM}">"#);
    assert!(overview.body.contains(&section), "{}", overview.body);
    assert!(
        overview.body.contains(r#"<span class="connection-state">connected"#),
        "{}",
        overview.body
    );
    assert!(overview.body.contains(r#"id="connect""#), "Connect QuickBooks is offered");

    let token = csrf(&overview.body);
    let refused = served.post_form(&format!("/companies/{SIM_REALM}/sync"), "wrong").await;
    assert_eq!(refused.status, 403, "a form without its CSRF token is refused");
    let synced = served.post_form(&format!("/companies/{SIM_REALM}/sync"), &token).await;
    assert_eq!(synced.status, 303, "{}", synced.body);
    assert_eq!(synced.location.as_deref(), Some("/"));
    let after = served.get("/").await;
    assert!(
        after.body.contains(&format!("Sync now: created={SAMPLE_ORDERS} ")),
        "the newcomer's Sync now creates the sample's orders: {}",
        after.body
    );

    let log = served.get(&format!("/companies/{SIM_REALM}/log?action=created")).await;
    assert_eq!(log.status, 200, "{}", log.body);
    let rows = log_rows(&log.body);
    assert_eq!(rows.len(), SAMPLE_ORDERS, "{}", log.body);
    for row in &rows {
        assert_eq!(cell(row, "action"), "created", "{row}");
        assert!(cell(row, "order").contains("QBO-"), "each row names its order: {row}");
    }

    #[cfg(unix)]
    {
        let (code, logs) = served.interrupt();
        assert_eq!(code, Some(0), "{logs}");
        assert!(logs.contains("scheduler stopped"), "{logs}");
    }
    #[cfg(not(unix))]
    drop(served);
    let store = SqliteStore::open(&state).unwrap();
    let query = LogQuery { action: Some(Action::Created), ..LogQuery::default() };
    assert_eq!(store.query_log(&query).await.unwrap().len(), SAMPLE_ORDERS);
    assert_eq!(store.connected_realms().await.unwrap(), [SIM_REALM]);
}

/// The simulated company makes a sale every second (`--sale-every 1`); its QBO notifies it by
/// a signed webhook POSTed to the connector's own route, which schedules a run: the sale's order
/// shows in the log with no button pressed, and the metrics count the deliveries accepted.
#[tokio::test]
async fn a_sale_made_now_and_then_arrives_as_an_order_through_the_webhook() {
    let (dir, state) = temp_state();
    let mut served = Served::start(dir.path(), &state, &["--sale-every", "1"], &[]).await;
    let deadline = Instant::now() + PATIENCE;
    let row = loop {
        let log = served.get(&format!("/companies/{SIM_REALM}/log?action=created")).await;
        let live = log_rows(&log.body)
            .into_iter()
            .find(|row| cell(row, "doc").contains(">W"))
            .map(str::to_owned);
        if let Some(row) = live {
            break row;
        }
        assert!(Instant::now() < deadline, "no new sale became an order:\n{}", served.logs());
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(cell(&row, "order").contains("QBO-"), "{row}");
    // The log shows a run's entries as it commits them; the overview lists the run once it has
    // finished, which may be a moment later (more so on a loaded machine).
    let changes_run = r#"<td class="kind">changes</td>"#;
    let overview = loop {
        let overview = served.get("/").await;
        if overview.body.contains(changes_run) || Instant::now() >= deadline {
            break overview;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(overview.body.contains(changes_run), "a webhook-driven run made it: {}", overview.body);
    let metrics = served.get("/metrics").await.body;
    let accepted = metrics
        .lines()
        .find(|l| l.starts_with("qbo_ordoro_webhook_deliveries_total") && l.contains("accepted"))
        .unwrap_or_else(|| panic!("no accepted deliveries counted:\n{metrics}"));
    assert!(!accepted.ends_with(" 0"), "{accepted}");
    assert!(served.logs().contains("the simulated company made a sale"), "{}", served.logs());
}

/// On an address other than loopback, without an admin password: a configuration error that
/// names the settings to set, and nothing written.
#[test]
fn a_non_loopback_address_without_a_password_is_refused_naming_the_setting() {
    let (dir, state) = temp_state();
    let output =
        command(dir.path(), &["--listen", "0.0.0.0:0", "--state", state.to_str().unwrap()], &[])
            .output()
            .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("serve: configuration error: "), "{stderr}");
    assert!(stderr.contains("QBO_ORDORO_ADMIN_PASSWORD"), "{stderr}");
    assert!(output.stdout.is_empty(), "no URL is printed");
    assert!(!state.exists(), "nothing is written");
}

/// With a password, the same address serves, and every page asks for the login.
#[tokio::test]
async fn with_a_password_a_non_loopback_address_serves_behind_the_login() {
    let (dir, state) = temp_state();
    let state_arg = state.to_str().unwrap().to_owned();
    let mut child = command(
        dir.path(),
        &["--listen", "0.0.0.0:0", "--state", &state_arg, "--sale-every", "0"],
        &[("QBO_ORDORO_ADMIN_PASSWORD", "correct horse battery staple")],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let mut served = Served {
        base: line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .trim_end_matches('/')
            .to_owned(),
        child,
        stderr: Arc::default(),
        http: SharedTransport::new(ReqwestTransport::new().unwrap()),
        cookie: None,
    };
    served.wait_healthy().await;
    let overview = served.get("/").await;
    assert_eq!((overview.status, overview.location.as_deref()), (303, Some("/login")));
    let login = served.get("/login").await;
    assert!(login.body.contains(r#"id="login""#), "{}", login.body);
}

/// Credentials for the real services but not all of them: every missing setting named at once,
/// before anything is written.
#[test]
fn real_services_with_settings_missing_name_each_one() {
    let (dir, state) = temp_state();
    let output = command(
        dir.path(),
        &["--state", state.to_str().unwrap()],
        &[("QBO_CLIENT_ID", "app-id"), ("QBO_CLIENT_SECRET", "app-secret")],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    for setting in
        ["ORDORO_KEY_ID", "ORDORO_KEY_SECRET", "QBO_REDIRECT_URI", "QBO_WEBHOOK_VERIFIER_TOKEN"]
    {
        assert!(stderr.contains(setting), "{setting} is named: {stderr}");
    }
    assert!(!stderr.contains("app-secret"), "{stderr}");
    assert!(!state.exists(), "nothing is written");
}

/// `--help` exits 0 and lists every flag the README's table of `serve` flags names.
#[test]
fn help_lists_every_flag_of_the_readme() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = &readme[readme.find("## The connector: `serve`").expect("the serve section")..];
    let section = &section[..section.find("### Running `serve` for real").unwrap()];
    let flags: Vec<&str> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `--"))
        .map(|rest| rest.split([' ', '`']).next().unwrap())
        .collect();
    assert_eq!(flags.len(), 5, "{flags:?}");
    let dir = tempfile::tempdir().unwrap();
    let output = command(dir.path(), &["--help"], &[]).output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in flags {
        assert!(help.contains(&format!("--{flag}")), "--{flag} is in --help:\n{help}");
    }
    for var in ["QBO_REDIRECT_URI", "QBO_WEBHOOK_VERIFIER_TOKEN", "QBO_ORDORO_ADMIN_PASSWORD"] {
        assert!(help.contains(var), "{var} is in --help:\n{help}");
    }
}

/// The real-services mode, pointed at the simulators on loopback (`QBO_API_BASE`,
/// `QBO_TOKEN_URL`, `ORDORO_BASE_URL`) with a configured company: it is scheduled on start, its
/// sales become orders listed in the log, and the webhook route checks deliveries against the
/// configured verifier token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_services_schedule_the_configured_company_and_verify_webhooks_with_its_token() {
    use qbo_ordoro::model::qbo::{EntityKind, MetaData};
    use qbo_ordoro::sim::loopback::LoopbackServer;
    use qbo_ordoro::sim::ordoro::{OrdoroSim, OrdoroSimConfig, SimCredentials};
    use qbo_ordoro::sim::qbo::{QboSim, simple_sale, to_pacific};
    use qbo_ordoro::webhook::VerifierToken;
    use qbo_ordoro::{Clock, TokioClock};
    use secrecy::ExposeSecret;

    const REALM: &str = "9130350000000888";
    const VERIFIER: &str = "the-apps-verifier-token";
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
    let qbo = Arc::new(QboSim::new(clock.clone()));
    let at = to_pacific(clock.now() - chrono::Duration::minutes(10));
    for doc_number in ["3001", "3002"] {
        let amount = rust_decimal::Decimal::new(2500, 2);
        let mut txn = simple_sale(EntityKind::Invoice, doc_number, Some(("1", "Ordoro")), amount);
        txn.doc.meta_data = Some(MetaData { create_time: Some(at), last_updated_time: Some(at) });
        qbo.insert(REALM, txn);
    }
    let credentials =
        SimCredentials { key_id: "the-key".into(), key_secret: "the-key-secret".to_owned().into() };
    let config = OrdoroSimConfig { credentials: Some(credentials), ..OrdoroSimConfig::default() };
    let ordoro = Arc::new(OrdoroSim::with_config(clock, config));
    let qbo_server = LoopbackServer::start(SharedTransport::from_arc(qbo.clone())).await.unwrap();
    let ordoro_server = LoopbackServer::start(SharedTransport::from_arc(ordoro)).await.unwrap();
    let token = qbo.connect(REALM);
    let sim = qbo.config();
    let token_url = format!("{}/oauth2/v1/tokens/bearer", qbo_server.url());
    let env = [
        ("QBO_CLIENT_ID", sim.client_id.as_str()),
        ("QBO_CLIENT_SECRET", sim.client_secret.as_str()),
        ("QBO_REALM_ID", REALM),
        ("QBO_REFRESH_TOKEN", token.refresh_token.expose_secret()),
        ("QBO_API_BASE", &qbo_server.url()),
        ("QBO_TOKEN_URL", &token_url),
        ("ORDORO_KEY_ID", "the-key"),
        ("ORDORO_KEY_SECRET", "the-key-secret"),
        ("ORDORO_BASE_URL", &ordoro_server.url()),
        ("QBO_REDIRECT_URI", "https://connector.example.com/oauth/callback"),
        ("QBO_WEBHOOK_VERIFIER_TOKEN", VERIFIER),
    ];
    let (dir, state) = temp_state();
    let mut served = Served::start(dir.path(), &state, &[], &env).await;

    let overview = served.get("/").await;
    let section = format!(r#"<section class="company" data-realm="{REALM}">"#);
    assert!(overview.body.contains(&section), "{}\n{}", overview.body, served.logs());
    let deadline = Instant::now() + PATIENCE;
    loop {
        let log = served.get(&format!("/companies/{REALM}/log?action=created")).await;
        let docs: Vec<String> =
            log_rows(&log.body).iter().map(|row| cell(row, "doc").to_owned()).collect();
        if docs.len() == 2 {
            assert!(docs.iter().any(|d| d.contains(">3001<")), "{docs:?}");
            assert!(docs.iter().any(|d| d.contains(">3002<")), "{docs:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the first run created no orders:\n{}", served.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let body = format!(
        r#"[{{"specversion":"1.0","id":"e-1","type":"qbo.invoice.updated.v1","time":"2026-12-05T10:00:00Z","intuitentityid":"1","intuitaccountid":"{REALM}","data":{{}}}}]"#
    );
    for (signature, status) in [
        (VerifierToken::from(VERIFIER).sign(body.as_bytes()), 200),
        (VerifierToken::from("another-token").sign(body.as_bytes()), 401),
    ] {
        let request = http::Request::post(format!("{}/webhooks/qbo", served.base))
            .header("intuit-signature", signature)
            .header(http::header::CONTENT_TYPE, "application/cloudevents+json")
            .body(Bytes::from(body.clone()))
            .unwrap();
        assert_eq!(served.send(request).await.status, status);
    }
    assert!(!served.logs().contains(token.refresh_token.expose_secret()), "no token logged");
}
