//! A real browser for the web tests: Debian's headless Chromium driven through chromedriver
//! (WebDriver) with `fantoccini`.
//!
//! [`Browser::start`] finds `chromium` and `chromedriver` (in `/usr/bin` or on `PATH`); when
//! they are missing it installs Debian's `chromium` and `chromium-driver` packages, once per
//! machine (a lock file in the temp dir serialises the test threads and processes), if the tests
//! run as root, and otherwise fails naming the command to run. It never skips: a test that needs
//! the browser fails when the browser cannot start, with chromedriver's own words.
//!
//! Each [`Browser`] has its own chromedriver on a free loopback port, in a process group of its
//! own, and its own profile directory; dropping it (also when the test panics) kills that
//! process group, so neither chromedriver nor its Chromium outlives the test.
//!
//! Every page gets a small script before its own (through the DevTools protocol, which a
//! Content-Security-Policy does not stop) that records each `alert`, `confirm` and `prompt`
//! call in `window.__scriptsRan`; [`Browser::scripts_ran`] reads that flag and the alert left
//! open (prompts are left open: `unhandledPromptBehavior` is `ignore`).

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;

/// How long a page, an element or chromedriver may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// The command that installs the browser, named in the failure when the tests cannot run it.
const INSTALL: &str =
    "apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver";

/// Recorded before any script of the page runs: every dialog a script opens.
const DIALOG_SPY: &str = r#"
window.__scriptsRan = [];
for (const name of ["alert", "confirm", "prompt"]) {
  const original = window[name];
  window[name] = function (message) {
    window.__scriptsRan.push(name + ":" + String(message));
    return original.apply(this, arguments);
  };
}
"#;

/// A headless Chromium session; its chromedriver and browser are killed when it drops.
pub struct Browser {
    client: Client,
    // Declared after the client: dropped (killed) last.
    driver: Driver,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").field("chromedriver_pid", &self.driver.child.id()).finish()
    }
}

/// Where Chromium and chromedriver are on this machine.
#[derive(Debug, Clone)]
struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

/// A running chromedriver in its own process group, with its profile and log directory.
struct Driver {
    child: Child,
    dir: TempDir,
    port: u16,
}

impl Driver {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver started Chromium in its process group (ours alone): end them all.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium, installing them first when needed (see the
    /// module doc). Panics with chromedriver's error when the browser cannot start.
    pub async fn start() -> Browser {
        let tools = tools();
        let mut driver = start_driver(&tools);
        let client = match connect(&tools, &mut driver).await {
            Ok(client) => client,
            Err(error) => panic!(
                "headless Chromium did not start: {error}\nchromedriver's log:\n{}",
                driver.log()
            ),
        };
        let browser = Browser { client, driver };
        browser.cdp("Page.addScriptToEvaluateOnNewDocument", json!({ "source": DIALOG_SPY })).await;
        browser
    }

    /// The fantoccini client, for what the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url` and waits until it has loaded.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The address of the page shown now.
    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("the current URL")
    }

    /// The first element matching `css`, waiting up to [`PATIENCE`] for it to appear.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.wait().at_most(PATIENCE).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(error) => {
                panic!("no `{css}` on {}: {error}\n{}", self.url().await, self.body().await)
            }
        }
    }

    /// Every element matching `css` now (no waiting; none is an empty list).
    pub async fn find_all(&self, css: &str) -> Vec<fantoccini::elements::Element> {
        self.client.find_all(Locator::Css(css)).await.expect("find elements")
    }

    /// How many elements match `css` now.
    pub async fn count(&self, css: &str) -> usize {
        self.find_all(css).await.len()
    }

    /// The rendered text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap_or_else(|e| panic!("text of `{css}`: {e}"))
    }

    /// The rendered text of every element matching `css`, in document order.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut texts = Vec::new();
        for element in self.find_all(css).await {
            texts.push(element.text().await.expect("text of an element"));
        }
        texts
    }

    /// The page's whole rendered text, for failure messages and literal-text checks.
    pub async fn body(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Clicks the first element matching `css` (a link, a form's button) and waits until the
    /// page it leads to has loaded, redirects followed.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.mark_page().await;
        element.click().await.unwrap_or_else(|e| panic!("click `{css}`: {e}"));
        self.wait_for_new_page().await;
    }

    /// Ticks (`on`) or clears the checkbox matching `css`.
    pub async fn check(&self, css: &str, on: bool) {
        let checkbox = self.find(css).await;
        if checkbox.is_selected().await.expect("a checkbox's state") != on {
            checkbox.click().await.unwrap_or_else(|e| panic!("click `{css}`: {e}"));
        }
    }

    /// Chooses the option of value `value` in the `select` matching `css`.
    pub async fn select(&self, css: &str, value: &str) {
        let select = self.find(css).await;
        select
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choose {value:?} in `{css}`: {e}"));
    }

    /// Replaces the value of the form field matching `css` with `value`.
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap_or_else(|e| panic!("clear `{css}`: {e}"));
        field.send_keys(value).await.unwrap_or_else(|e| panic!("type into `{css}`: {e}"));
    }

    /// Submits the form matching `css` as its submit button would (its `submit` event runs,
    /// its default button's name and value are sent) and waits for the next page.
    pub async fn submit(&self, css: &str) {
        let form = self.find(css).await;
        self.mark_page().await;
        let arg = serde_json::to_value(&form).expect("an element as a script argument");
        self.client
            .execute("arguments[0].requestSubmit()", vec![arg])
            .await
            .unwrap_or_else(|e| panic!("submit `{css}`: {e}"));
        self.wait_for_new_page().await;
    }

    /// Runs `script` in the page (a function body; `return` gives the result).
    pub async fn run(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("run `{script}`: {e}"))
    }

    /// Writes a PNG of the page as shown now to `path`, creating its directory.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("a screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the screenshot's directory");
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// What the page's scripts showed: the dialog left open (WebDriver must say there is none
    /// for this to be empty) and every dialog recorded by the spy since the page loaded.
    pub async fn scripts_ran(&self) -> Vec<String> {
        let mut ran = Vec::new();
        match self.client.get_alert_text().await {
            Ok(text) => {
                ran.push(format!("open dialog:{text}"));
                self.client.dismiss_alert().await.expect("dismiss the dialog");
            }
            Err(error) if error.is_no_such_alert() => {}
            Err(error) => panic!("ask the browser for an open dialog: {error}"),
        }
        let recorded = self.run("return window.__scriptsRan").await;
        match recorded {
            Value::Array(calls) => ran.extend(calls.iter().map(|c| c.to_string())),
            other => {
                panic!("the dialog spy did not run on this page (window.__scriptsRan = {other})")
            }
        }
        ran
    }

    /// Ends the session (Chromium quits) before the driver is killed on drop.
    pub async fn close(self) {
        let Browser { client, driver } = self;
        let _ = client.close().await;
        drop(driver);
    }

    /// Marks the current document, so that [`Browser::wait_for_new_page`] can tell it from the
    /// next one even when both have the same address (a POST answered by a redirect back).
    async fn mark_page(&self) {
        self.run("window.__leaving = true").await;
    }

    /// Waits until the marked document is gone and the next one has loaded.
    async fn wait_for_new_page(&self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let state = self
                .client
                .execute("return [window.__leaving === true, document.readyState]", vec![])
                .await;
            // An error is a page on its way (no document to run in yet).
            if let Ok(Value::Array(v)) = state
                && v[0] == false
                && v[1] == "complete"
            {
                return;
            }
            if Instant::now() > deadline {
                panic!("no new page loaded within {PATIENCE:?}: {}", self.url().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends a Chrome DevTools Protocol command through chromedriver.
    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let command = Cdp(json!({ "cmd": cmd, "params": params }));
        match self.client.issue_cmd(command).await {
            Ok(answer) => answer,
            Err(error) => panic!("DevTools command {cmd}: {error}\n{}", self.driver.log()),
        }
    }
}

/// chromedriver's `POST /session/{id}/goog/cdp/execute`.
#[derive(Debug)]
struct Cdp(Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}

/// Opens the WebDriver session: headless Chromium at `tools.chromium` with its profile in the
/// driver's directory.
async fn connect(tools: &Tools, driver: &mut Driver) -> Result<Client, String> {
    wait_until_listening(driver).await?;
    let profile = driver.dir.path().join("profile");
    let capabilities = json!({
        "browserName": "chrome",
        // An alert stays open for `get_alert_text` instead of being dismissed by the next command.
        "unhandledPromptBehavior": "ignore",
        "goog:chromeOptions": {
            "binary": tools.chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    let Value::Object(capabilities) = capabilities else { unreachable!("an object literal") };
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(capabilities);
    let url = format!("http://127.0.0.1:{}", driver.port);
    builder.connect(&url).await.map_err(|e| e.to_string())
}

/// Waits until chromedriver accepts connections; fails when it exits or takes too long.
async fn wait_until_listening(driver: &mut Driver) -> Result<(), String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", driver.port)).await.is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = driver.child.try_wait() {
            return Err(format!("chromedriver exited ({status})"));
        }
        if Instant::now() > deadline {
            return Err(format!("chromedriver did not listen on port {} in time", driver.port));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts chromedriver on a free loopback port, in a process group of its own.
fn start_driver(tools: &Tools) -> Driver {
    let dir = tempfile::Builder::new().prefix("qbo-ordoro-browser").tempdir().expect("temp dir");
    let log = File::create(dir.path().join("chromedriver.log")).expect("chromedriver's log file");
    let port = free_port();
    let child = Command::new(&tools.chromedriver)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file handle"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", tools.chromedriver.display()));
    Driver { child, dir, port }
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("a bound address").port()
}

/// Chromium and chromedriver, found or installed once per process (see the module doc).
fn tools() -> Tools {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    TOOLS.get_or_init(find_or_install).clone().unwrap_or_else(|message| panic!("{message}"))
}

fn find_or_install() -> Result<Tools, String> {
    if let Some(tools) = find_tools() {
        return Ok(tools);
    }
    let running_as_root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    if !running_as_root {
        return Err(format!(
            "the browser tests need Debian's chromium and chromedriver, which are not installed; \
             install them as root with `{INSTALL}` (or `sudo` each command), then run again"
        ));
    }
    // One installer per machine: other test processes wait here, then find the tools.
    let lock_path = std::env::temp_dir().join("qbo-ordoro-chromium-install.lock");
    let lock = File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock().map_err(|e| format!("lock {}: {e}", lock_path.display()))?;
    if let Some(tools) = find_tools() {
        return Ok(tools);
    }
    apt_get(&["update"])?;
    apt_get(&["install", "-y", "--no-install-recommends", "chromium", "chromium-driver"])?;
    find_tools().ok_or_else(|| {
        format!("`{INSTALL}` succeeded but chromium or chromedriver is still not found")
    })
}

fn apt_get(args: &[&str]) -> Result<(), String> {
    let output = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run apt-get (to install the browser with `{INSTALL}`): {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`apt-get {}` failed ({}), so the browser tests cannot run; install the browser with \
         `{INSTALL}`:\n{}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    ))
}

fn find_tools() -> Option<Tools> {
    Some(Tools { chromium: find_program("chromium")?, chromedriver: find_program("chromedriver")? })
}

/// `/usr/bin/NAME`, else the first `NAME` on `PATH`.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::iter::once(PathBuf::from("/usr/bin"))
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
