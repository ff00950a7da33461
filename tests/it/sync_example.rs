//! The `sync` example as a newcomer runs it: the binary is built once, then run in temporary
//! working folders against its embedded simulated services, with no credentials in its
//! environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::store::{LedgerKey, LogQuery, SqliteStore};
use qbo_ordoro::{Store, TokenStore};
use secrecy::ExposeSecret;

use crate::support::examples::SERVICE_VARS;

/// The simulated company's realm (examples/sync/simulated.rs).
const SIM_REALM: &str = "9130357766554433";

/// Builds the example once and returns its path, as cargo reports it.
fn sync_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let output = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", "sync", "--message-format=json"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "building the example failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "sync")
            .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the example's executable")
    })
}

/// What one run of the example left.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The counts of the summary line, which must be the last line of stdout: exactly
    /// `created=N updated=N skipped=N failed=N`, after `dry_run ` for a dry run.
    fn summary(&self) -> BTreeMap<String, u64> {
        let last = self.stdout.lines().last().unwrap_or_default();
        let dry = self.stdout.lines().next().unwrap_or_default().contains("dry run");
        assert_eq!(last.starts_with("dry_run "), dry, "a dry run's last line says so: {last:?}");
        let last = last.strip_prefix("dry_run ").unwrap_or(last);
        let counts: BTreeMap<String, u64> = last
            .split(' ')
            .filter_map(|pair| pair.split_once('='))
            .filter_map(|(key, n)| Some((key.to_string(), n.parse().ok()?)))
            .collect();
        let keys: Vec<&str> = counts.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["created", "failed", "skipped", "updated"],
            "the last line is not a summary: {last:?}\n{}",
            self.stdout
        );
        assert_eq!(
            last,
            format!(
                "created={} updated={} skipped={} failed={}",
                counts["created"], counts["updated"], counts["skipped"], counts["failed"]
            ),
            "the summary is in the documented form"
        );
        counts
    }

    fn count(&self, what: &str) -> u64 {
        self.summary()[what]
    }

    /// The table rows (after the header line and the column titles), split into columns.
    fn rows(&self) -> Vec<Vec<String>> {
        let lines: Vec<&str> = self.stdout.lines().collect();
        let Some(titles) = lines.iter().position(|l| l.starts_with("ACTION")) else {
            return Vec::new();
        };
        lines[titles + 1..lines.len() - 1]
            .iter()
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect()
    }

    fn rows_with_reason(&self, reason: &str) -> usize {
        self.rows().iter().filter(|r| r.get(1).map(String::as_str) == Some(reason)).count()
    }

    fn assert_ok(&self) {
        assert_eq!(self.code, Some(0), "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
    }
}

/// Runs the example in `dir` with `args` and an environment without credentials, plus `env`.
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(sync_binary());
    command.args(args).current_dir(dir);
    for var in SERVICE_VARS {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    let output = command.output().expect("the example runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn state_args(path: &Path) -> Vec<&str> {
    vec!["--state", path.to_str().expect("a UTF-8 temp path")]
}

fn with<'a>(mut base: Vec<&'a str>, more: &[&'a str]) -> Vec<&'a str> {
    base.extend_from_slice(more);
    base
}

#[test]
fn the_first_run_creates_the_eligible_orders_and_the_second_creates_none() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite3");

    let first = run_in(dir.path(), &state_args(&state), &[]);
    first.assert_ok();
    let created = first.count("created");
    assert!(created >= 30, "created={created}\n{}", first.stdout);
    assert_eq!(first.count("failed"), 0, "{}", first.stdout);
    assert!(first.count("skipped") > 0);
    assert_eq!(first.rows().len() as u64, first.summary().values().sum::<u64>());
    for reason in ["class_mismatch", "no_class", "voided"] {
        assert!(first.rows_with_reason(reason) > 0, "no {reason} row:\n{}", first.stdout);
    }
    assert!(first.stderr.contains("simulated"), "stderr says which services: {}", first.stderr);

    let second = run_in(dir.path(), &state_args(&state), &[]);
    second.assert_ok();
    assert_eq!(second.count("created"), 0, "{}", second.stdout);
    assert_eq!(second.count("failed"), 0);
    assert!(
        second.stderr.contains(&format!("{created} orders already in Ordoro")),
        "the simulated Ordoro is rebuilt from the state file: {}",
        second.stderr
    );
}

#[test]
fn re_running_a_date_range_finds_every_order_already_synced() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite3");
    let first = run_in(dir.path(), &state_args(&state), &[]);
    first.assert_ok();

    let range = run_in(
        dir.path(),
        &with(state_args(&state), &["--from", "2026-11-01", "--to", "2026-11-30"]),
        &[],
    );
    range.assert_ok();
    assert_eq!(range.count("created"), 0, "{}", range.stdout);
    assert_eq!(range.rows_with_reason("unchanged") as u64, first.count("created"));
    assert_eq!(range.rows().len(), first.rows().len(), "the range covers the whole sample");
}

#[test]
fn without_state_flag_the_state_file_is_created_in_the_working_folder() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(dir.path(), &[], &[]);
    run.assert_ok();
    assert!(run.count("created") >= 30);
    assert!(dir.path().join("qbo-ordoro-state-sim.sqlite3").is_file());
}

#[tokio::test]
async fn a_dry_run_writes_no_ledger_entry_and_a_real_run_then_creates_the_same_orders() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite3");

    let dry = run_in(dir.path(), &with(state_args(&state), &["--dry-run"]), &[]);
    dry.assert_ok();
    assert!(!state.exists(), "a dry run against a new state path leaves no file behind");
    let would_create = dry.count("created");
    assert!(would_create >= 30, "{}", dry.stdout);
    assert!(dry.stdout.lines().next().unwrap_or_default().contains("dry run"));

    let store = SqliteStore::open(&state).unwrap();
    assert!(store.query_log(&LogQuery::default()).await.unwrap().is_empty());
    assert!(store.pending_entries(SIM_REALM).await.unwrap().is_empty());
    let created_keys: Vec<LedgerKey> = dry
        .rows()
        .into_iter()
        .filter(|row| row[0] == "created")
        .map(|row| LedgerKey {
            realm: SIM_REALM.into(),
            entity: if row[2] == "Invoice" {
                EntityKind::Invoice
            } else {
                EntityKind::SalesReceipt
            },
            qbo_id: row[3].clone(),
        })
        .collect();
    assert_eq!(created_keys.len() as u64, would_create);
    for key in &created_keys {
        assert_eq!(store.ledger_entry(key).await.unwrap(), None, "{key:?}");
    }
    drop(store);

    let real = run_in(dir.path(), &state_args(&state), &[]);
    real.assert_ok();
    assert_eq!(real.count("created"), would_create);
    let store = SqliteStore::open(&state).unwrap();
    for key in &created_keys {
        let entry = store.ledger_entry(key).await.unwrap();
        assert!(entry.is_some_and(|e| e.order_number.is_some()), "{key:?} has its order");
    }
}

#[test]
fn accepted_classes_come_from_the_flag_and_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = |name: &str| dir.path().join(name);
    let default = run_in(dir.path(), &with(state_args(&fresh("a")), &["--dry-run"]), &[]);
    let wholesale = run_in(
        dir.path(),
        &with(state_args(&fresh("b")), &["--dry-run", "--class", "Wholesale"]),
        &[],
    );
    let config = fresh("sync.toml");
    std::fs::write(&config, "[sync]\nclasses = [\"Ordoro\", \"Wholesale\"]\n").unwrap();
    let both = run_in(
        dir.path(),
        &with(state_args(&fresh("c")), &["--dry-run", "--config", config.to_str().unwrap()]),
        &[],
    );
    for run in [&default, &wholesale, &both] {
        run.assert_ok();
    }
    assert!(wholesale.count("created") > 0);
    assert!(wholesale.count("created") < default.count("created"));
    assert_eq!(both.count("created"), default.count("created") + wholesale.count("created"));
}

#[test]
fn watch_runs_the_given_number_of_incremental_runs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite3");
    let run = run_in(dir.path(), &with(state_args(&state), &["--watch", "1", "--runs", "2"]), &[]);
    run.assert_ok();
    let summaries: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("created=")).collect();
    assert_eq!(summaries.len(), 2, "{}", run.stdout);
    assert!(!summaries[0].starts_with("created=0 "), "{}", summaries[0]);
    assert!(summaries[1].starts_with("created=0 "), "{}", summaries[1]);
    assert_eq!(run.stdout.lines().last(), Some(summaries[1]));
}

#[test]
fn after_a_run_with_injected_faults_a_clean_run_leaves_every_order_created_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite3");
    let eligible =
        run_in(dir.path(), &with(state_args(&dir.path().join("dry")), &["--dry-run"]), &[])
            .count("created");

    let chaos = run_in(dir.path(), &with(state_args(&state), &["--sim-faults=11"]), &[]);
    assert!(matches!(chaos.code, Some(0 | 1)), "{}", chaos.stderr);
    chaos.summary();
    assert!(chaos.stderr.contains("faults injected"), "{}", chaos.stderr);
    run_in(dir.path(), &state_args(&state), &[]).assert_ok();

    let range = run_in(
        dir.path(),
        &with(state_args(&state), &["--from", "2026-11-01", "--to", "2026-11-30"]),
        &[],
    );
    range.assert_ok();
    assert_eq!(range.count("created"), 0, "{}", range.stdout);
    assert_eq!(range.rows_with_reason("unchanged") as u64, eligible, "{}", range.stdout);
}

#[test]
fn partial_credentials_are_a_configuration_error_naming_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(
        dir.path(),
        &[],
        &[("QBO_CLIENT_ID", "app-id"), ("QBO_CLIENT_SECRET", "very-secret-value")],
    );
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    for missing in ["QBO_REALM_ID", "QBO_REFRESH_TOKEN", "ORDORO_KEY_ID", "ORDORO_KEY_SECRET"] {
        assert!(run.stderr.contains(missing), "{missing} not named: {}", run.stderr);
    }
    assert!(!run.stderr.contains("QBO_CLIENT_SECRET"), "a set variable is not missing");
    assert!(!run.stderr.contains("very-secret-value"), "the secret is never echoed");
    assert!(run.stdout.is_empty());
    assert!(!dir.path().join("qbo-ordoro-state.sqlite3").exists(), "nothing is written");
}

#[test]
fn a_config_file_with_an_unknown_key_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sync.toml");
    std::fs::write(&config, "[ordoro]\nkey_secret = \"hush\"\nsales_channel = 5\n").unwrap();
    let run = run_in(dir.path(), &["--config", config.to_str().unwrap()], &[]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.stderr.contains("sales_channel"), "{}", run.stderr);
    assert!(!run.stderr.contains("hush"), "{}", run.stderr);
}

#[test]
fn help_exits_zero_and_lists_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(dir.path(), &["--help"], &[]);
    run.assert_ok();
    for flag in ["--from", "--updated-from", "--id", "--doc-number", "--dry-run", "--update"] {
        assert!(run.stdout.contains(flag), "{flag} missing from --help");
    }
    for flag in ["--class", "--watch", "--runs", "--state", "--config", "QBO_REFRESH_TOKEN"] {
        assert!(run.stdout.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn bad_command_lines_exit_with_status_two_and_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 6] = [
        &["--bogus"],
        &["--from", "2026-13-01"],
        &["--to", "2026-11-01"],
        &["--id", "3", "--doc-number", "1001"],
        &["--watch", "60", "--id", "3"],
        &["--updated-from", "yesterday"],
    ];
    for args in cases {
        let run = run_in(dir.path(), args, &[]);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.starts_with("error: "), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty());
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing is written");
}

#[test]
fn the_readme_shows_the_assemble_example_as_it_builds() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/assemble.rs")).unwrap();
    let section = &readme[readme.find("## Assembling an engine").expect("the section")..];
    let block = &section[section.find("```rust\n").expect("a rust block") + "```rust\n".len()..];
    let shown = &block[..block.find("\n```").expect("the block ends") + 1];
    let marked = &example[example.find("// README: begin\n").unwrap() + "// README: begin\n".len()
        ..example.find("// README: end").unwrap()];
    assert_eq!(shown, marked, "README.md and examples/assemble.rs differ");
}

#[test]
fn help_goes_to_stdout_and_lists_every_flag_of_the_readme() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = &readme[readme.find("### `sync` example: flags").expect("the flag table")..];
    let section = &section[..section[4..].find("\n### ").expect("the next section") + 4];
    let flags: Vec<&str> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .flat_map(|row| row[..row.find(" |").unwrap()].split('`'))
        .filter_map(|cell| cell.split([' ', '[']).next().filter(|flag| flag.starts_with('-')))
        .collect();
    assert!(flags.len() >= 17, "{flags:?}");

    let dir = tempfile::tempdir().unwrap();
    let long = run_in(dir.path(), &["--help"], &[]);
    long.assert_ok();
    assert!(long.stderr.is_empty(), "{}", long.stderr);
    assert!(
        long.stdout.contains("Usage: cargo run --example sync -- [OPTIONS]"),
        "{}",
        long.stdout
    );
    for flag in flags {
        assert!(long.stdout.contains(flag), "{flag} missing from --help:\n{}", long.stdout);
    }
    let short = run_in(dir.path(), &["-h"], &[]);
    short.assert_ok();
    assert_eq!(short.stdout, long.stdout, "-h prints the same help");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing is written");
}

#[test]
fn an_unknown_flag_is_clap_s_usage_error_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(dir.path(), &["--bogus"], &[]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.starts_with("error: unexpected argument '--bogus' found\n"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("\nUsage: cargo run --example sync -- "), "{}", run.stderr);
    assert!(run.stderr.ends_with("For more information, try '--help'.\n"), "{}", run.stderr);

    let typo = run_in(dir.path(), &["--dry-rum"], &[]);
    assert_eq!(typo.code, Some(2), "{}", typo.stderr);
    assert!(typo.stderr.contains("tip: a similar argument exists: '--dry-run'"), "{}", typo.stderr);
}

#[test]
fn to_without_from_is_a_usage_error_naming_from() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["--to", "2026-11-30"][..], &["--to=2026-11-30", "--dry-run"]] {
        let run = run_in(dir.path(), args, &[]);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty());
        assert!(
            run.stderr.starts_with("error: the following required arguments were not provided:\n")
                && run.stderr.contains("  --from <YYYY-MM-DD>\n"),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing is written");
}

/// The command line's rules, as the hand-written parser held them before clap: an accepted
/// command line reaches the configuration (exit 3 with a partial set of credentials, before
/// anything is opened or written), a refused one exits 2 with clap's error.
#[test]
fn the_command_line_accepts_and_refuses_what_it_did_before_clap() {
    let accepted: &[&[&str]] = &[
        &[],
        &["--from", "2026-11-01"],
        &["--from=2026-11-01", "--to", "2026-11-01"],
        &["--from", "2026-11-01", "--from", "2026-11-02"],
        &["--updated-from", "2026-11-27T09:30:00-08:00", "--updated-to", "2026-11-28T00:00:00Z"],
        &["--id", "3", "--entity", "invoice"],
        &["--doc-number", "1001", "--entity=SalesReceipt"],
        &["--id", "3", "--entity", "sales_receipt"],
        &["--id", "-5"],
        &["--dry-run", "--update", "--dry-run"],
        &["--class", "Wholesale", "--class=Retail", "--class", "--dry-run"],
        &["--watch", "60", "--runs", "2", "--watch=5"],
        &["--state", "s.sqlite3", "--sim-faults"],
        &["--sim-faults=11", "--class", " Ordoro "],
    ];
    let refused: &[&[&str]] = &[
        &["-x"],
        &["stray"],
        &["--from"],
        &["--from", "--to"],
        &["--from", "2026-11-30", "--to", "2026-11-01"],
        &["--updated-to", "2026-11-28T00:00:00Z"],
        &["--updated-from", "2026-11-28T00:00:00Z", "--updated-to", "2026-11-27T00:00:00Z"],
        &["--from", "2026-11-01", "--updated-from", "2026-11-27T09:30:00Z"],
        &["--to", "2026-11-01", "--updated-to", "2026-11-27T09:30:00Z"],
        &["--updated-from", "2026-11-27T09:30:00Z", "--doc-number", "1001"],
        &["--entity", "invoice"],
        &["--from", "2026-11-01", "--entity", "invoice"],
        &["--id", "3", "--entity", "estimate"],
        &["--id", " "],
        &["--class", ""],
        &["--state="],
        &["--dry-run=yes"],
        &["--update=1"],
        &["--watch", "0"],
        &["--watch", "5", "--from", "2026-11-01"],
        &["--watch", "5", "--doc-number", "1001"],
        &["--runs", "2"],
        &["--runs", "2", "--from", "2026-11-01"],
        &["--runs", "0", "--watch", "5"],
        &["--sim-faults", "11"],
        &["--sim-faults=x"],
        &["--sim-faults="],
    ];
    let dir = tempfile::tempdir().unwrap();
    let partial = [("QBO_CLIENT_ID", "app-id")];
    for (args, code) in accepted.iter().map(|a| (a, 3)).chain(refused.iter().map(|a| (a, 2))) {
        let run = run_in(dir.path(), args, &partial);
        assert_eq!(run.code, Some(code), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        let prefix = if code == 2 { "error: " } else { "sync: configuration error: " };
        assert!(run.stderr.starts_with(prefix), "{args:?}: {}", run.stderr);
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing is written");
}

/// A child process of the example with piped standard streams, as a person at a terminal.
fn spawn_in(dir: &Path, args: &[&str]) -> std::process::Child {
    let mut command = Command::new(sync_binary());
    command
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for var in SERVICE_VARS {
        command.env_remove(var);
    }
    command.spawn().expect("the example starts")
}

/// What a browser does with the consent URL: the simulated Intuit answers with a redirect,
/// whose target is returned.
async fn consent_in_browser(url: &str) -> String {
    let http = qbo_ordoro::SharedTransport::new(qbo_ordoro::ReqwestTransport::new().unwrap());
    let request = http::Request::get(url).body(bytes::Bytes::new()).unwrap();
    let answer = http.send(request).await.expect("the simulated QBO answers");
    assert_eq!(answer.status(), 302, "{:?}", answer.body());
    answer.headers()[http::header::LOCATION].to_str().unwrap().to_string()
}

/// `--connect` with the simulated services, end to end: the consent URL, the browser's
/// redirect to the example's localhost listener (or the redirected URL pasted), the code
/// exchange, the company and its tokens saved in the state file.
#[tokio::test]
async fn connect_takes_the_browser_redirect_or_a_pasted_url_and_saves_the_company() {
    use std::io::{BufRead, BufReader, Read, Write};
    for paste in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.sqlite3");
        let mut child = spawn_in(dir.path(), &with(vec!["--connect"], &state_args(&state)));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut url = String::new();
        stdout.read_line(&mut url).unwrap();
        let url = url.trim();
        assert!(url.contains("/connect/oauth2?") && url.contains("state="), "{url}");
        assert!(url.contains("scope=com.intuit.quickbooks.accounting"), "{url}");

        let redirected = consent_in_browser(url).await;
        assert!(redirected.starts_with("http://localhost:"), "{redirected}");
        if paste {
            let mut stdin = child.stdin.take().unwrap();
            writeln!(stdin, "{redirected}").unwrap();
        } else {
            let http =
                qbo_ordoro::SharedTransport::new(qbo_ordoro::ReqwestTransport::new().unwrap());
            let request = http::Request::get(&redirected).body(bytes::Bytes::new()).unwrap();
            let page = http.send(request).await.expect("the example's listener answers");
            assert_eq!(page.status(), 200);
        }
        let status = child.wait().unwrap();
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert!(status.success(), "paste={paste}: {rest}\n{stderr}");
        assert!(
            rest.starts_with(&format!("connected QuickBooks company {SIM_REALM}; reconnect by ")),
            "{rest}"
        );
        assert!(stderr.contains(&state.display().to_string()), "{stderr}");

        let store = SqliteStore::open(&state).unwrap();
        let token = store.load_token(SIM_REALM).await.unwrap().expect("the tokens are saved");
        assert!(token.access_token.is_some() && token.refresh_hard_expires_at.is_some());
        assert!(token.grant_fingerprint.is_some());
        assert_eq!(store.connected_realms().await.unwrap(), [SIM_REALM]);
        for secret in [
            token.refresh_token.expose_secret(),
            token.access_token.as_ref().unwrap().expose_secret(),
        ] {
            assert!(!rest.contains(secret) && !stderr.contains(secret), "a token was printed");
        }
    }
}

#[test]
fn a_transaction_that_does_not_exist_is_not_found_with_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite3");
    let run = run_in(dir.path(), &with(state_args(&state), &["--id", "987654"]), &[]);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines.last().copied(),
        Some("not found: no invoice or sales receipt with QBO id 987654 in QuickBooks")
    );
    assert_eq!(lines[lines.len() - 2], "created=0 updated=0 skipped=0 failed=0");

    let found = run_in(dir.path(), &with(state_args(&state), &["--id", "1"]), &[]);
    found.assert_ok();
    found.summary();
}

#[test]
fn a_relative_state_path_is_shown_absolute() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(dir.path(), &["--state", "rel.sqlite3", "--dry-run"], &[]);
    run.assert_ok();
    let first = run.stderr.lines().next().unwrap_or_default();
    let absolute = std::path::absolute(dir.path().join("rel.sqlite3")).unwrap();
    assert!(first.contains(&absolute.display().to_string()), "{first}");
}

#[test]
fn log_prints_the_state_file_s_log_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite3");
    let first = run_in(dir.path(), &state_args(&state), &[]);
    first.assert_ok();
    let total = first.summary().values().sum::<u64>();

    let all = run_in(dir.path(), &with(state_args(&state), &["--log", "--limit", "1000"]), &[]);
    all.assert_ok();
    let lines: Vec<&str> = all.stdout.lines().collect();
    assert!(lines[0].starts_with("AT (UTC)") && lines[0].contains("ACTION"), "{}", all.stdout);
    assert_eq!(lines.last().copied(), Some(format!("entries={total} shown={total}").as_str()));
    assert_eq!(lines.len() as u64, total + 2);

    let last3 = run_in(dir.path(), &with(state_args(&state), &["--log", "--limit", "3"]), &[]);
    assert_eq!(last3.stdout.lines().last(), Some(format!("entries={total} shown=3").as_str()));

    let doc =
        run_in(dir.path(), &with(state_args(&state), &["--log", "--doc-number", "1001"]), &[]);
    let rows: Vec<&str> =
        doc.stdout.lines().skip(1).filter(|l| !l.starts_with("entries=")).collect();
    assert!(!rows.is_empty(), "{}", doc.stdout);
    assert!(rows.iter().all(|r| r.split_whitespace().any(|c| c == "1001")), "{}", doc.stdout);

    let failed = run_in(dir.path(), &with(state_args(&state), &["--log", "--failed"]), &[]);
    failed.assert_ok();
    let failures = first.count("failed");
    assert!(
        failed.stdout.ends_with(&format!("entries={failures} shown={failures}\n")),
        "{}",
        failed.stdout
    );

    let future =
        run_in(dir.path(), &with(state_args(&state), &["--log", "--since", "2999-01-01"]), &[]);
    assert_eq!(future.stdout, "(no log entries match)\nentries=0 shown=0\n");

    let missing = run_in(dir.path(), &["--log", "--state", "nowhere.sqlite3"], &[]);
    assert_eq!(missing.code, Some(1));
    assert!(!dir.path().join("nowhere.sqlite3").exists());
}

/// A credential of the wrong TOML type is refused by name; its value is never printed back.
#[test]
fn a_config_type_error_never_echoes_a_credential() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sync.toml");
    let keys = [
        ("qbo", "client_id"),
        ("qbo", "client_secret"),
        ("qbo", "realm_id"),
        ("qbo", "refresh_token"),
        ("qbo", "redirect_uri"),
        ("ordoro", "key_id"),
        ("ordoro", "key_secret"),
    ];
    for (table, key) in keys {
        for value in [
            "987654321987",
            "98765.4321",
            "true",
            "[\"s3cr3t-in-array\"]",
            "{ a = \"s3cr3t-in-table\" }",
        ] {
            std::fs::write(&config, format!("[{table}]\n{key} = {value}\n")).unwrap();
            let run = run_in(dir.path(), &["--config", config.to_str().unwrap()], &[]);
            assert_eq!(run.code, Some(3), "{key} = {value}: {}", run.stderr);
            assert!(run.stderr.contains(key), "{key} is named: {}", run.stderr);
            for part in ["987654321987", "98765.4321", "s3cr3t"] {
                assert!(!run.stderr.contains(part), "{key} = {value} echoed: {}", run.stderr);
            }
        }
    }
}

/// Ctrl-C (SIGINT) in `--watch` between runs stops the loop at once; the runs done are
/// committed and the exit status is 0.
#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_stops_watch_with_status_zero_after_the_run_in_hand() {
    use std::io::{BufRead, BufReader, Read};
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite3");
    let mut child = spawn_in(dir.path(), &with(state_args(&state), &["--watch", "3600"]));
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the first run ends: {seen}");
        seen.push_str(&line);
        if line.starts_with("created=") {
            break;
        }
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped by Ctrl-C after 1 run"), "{stderr}");
    let store = SqliteStore::open(&state).unwrap();
    let logged = store.query_log(&LogQuery::default()).await.unwrap();
    let created = logged.iter().filter(|e| e.action == qbo_ordoro::store::Action::Created).count();
    assert!(seen.contains(&format!("created={created} ")), "{seen}");
}

// ---------------------------------------------------------------------------------------------
// The real-services mode, pointed at the simulators on loopback (`QBO_API_BASE`, `QBO_TOKEN_URL`,
// `ORDORO_BASE_URL`): what a user sees when a service refuses the run.

const REAL_REALM: &str = "9130350000000777";

/// The simulated QBO (two eligible sales) and Ordoro (with its own API key) on loopback, and the
/// environment of a real-services run against them with `refresh_token` and Ordoro key `key`.
struct RealWorld {
    qbo: std::sync::Arc<qbo_ordoro::sim::qbo::QboSim>,
    _servers: [qbo_ordoro::sim::loopback::LoopbackServer; 2],
    qbo_url: String,
    ordoro_url: String,
}

impl RealWorld {
    async fn start() -> RealWorld {
        use qbo_ordoro::sim::loopback::LoopbackServer;
        use qbo_ordoro::sim::ordoro::{OrdoroSim, OrdoroSimConfig, SimCredentials};
        use qbo_ordoro::sim::qbo::{QboSim, simple_sale, to_pacific};
        use qbo_ordoro::{Clock, SharedTransport, TokioClock};
        use std::sync::Arc;
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
        let qbo = Arc::new(QboSim::new(clock.clone()));
        let at = to_pacific(clock.now() - chrono::Duration::minutes(10));
        for doc_number in ["2001", "2002"] {
            let amount = rust_decimal::Decimal::new(1500, 2);
            let mut txn =
                simple_sale(EntityKind::Invoice, doc_number, Some(("1", "Ordoro")), amount);
            txn.doc.meta_data = Some(qbo_ordoro::model::qbo::MetaData {
                create_time: Some(at),
                last_updated_time: Some(at),
            });
            qbo.insert(REAL_REALM, txn);
        }
        let config = OrdoroSimConfig {
            credentials: Some(SimCredentials {
                key_id: "the-key".into(),
                key_secret: "the-key-secret".to_owned().into(),
            }),
            ..OrdoroSimConfig::default()
        };
        let ordoro = Arc::new(OrdoroSim::with_config(clock, config));
        let qbo_server =
            LoopbackServer::start(SharedTransport::from_arc(qbo.clone())).await.unwrap();
        let ordoro_server = LoopbackServer::start(SharedTransport::from_arc(ordoro)).await.unwrap();
        let (qbo_url, ordoro_url) = (qbo_server.url(), ordoro_server.url());
        RealWorld { qbo, _servers: [qbo_server, ordoro_server], qbo_url, ordoro_url }
    }

    fn env(&self, refresh_token: &str, ordoro_secret: &str) -> Vec<(&'static str, String)> {
        let config = self.qbo.config();
        vec![
            ("QBO_CLIENT_ID", config.client_id.clone()),
            ("QBO_CLIENT_SECRET", config.client_secret.clone()),
            ("QBO_REALM_ID", REAL_REALM.to_string()),
            ("QBO_REFRESH_TOKEN", refresh_token.to_string()),
            ("QBO_API_BASE", self.qbo_url.clone()),
            ("QBO_TOKEN_URL", format!("{}/oauth2/v1/tokens/bearer", self.qbo_url)),
            ("ORDORO_KEY_ID", "the-key".to_string()),
            ("ORDORO_KEY_SECRET", ordoro_secret.to_string()),
            ("ORDORO_BASE_URL", self.ordoro_url.clone()),
        ]
    }
}

/// Runs the example off the async runtime that serves the simulators.
async fn run_real(dir: &Path, args: Vec<String>, env: Vec<(&'static str, String)>) -> Run {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_in(&dir, &args, &env)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_ordoro_refuses_prints_its_counts_then_aborted_and_exits_one() {
    let world = RealWorld::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite3").to_str().unwrap().to_string();
    let token = world.qbo.connect(REAL_REALM);
    let env = world.env(token.refresh_token.expose_secret(), "not-the-secret");
    let run = run_real(dir.path(), vec!["--state".into(), state], env).await;
    assert_eq!(run.code, Some(1), "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let last = lines.last().copied().unwrap_or_default();
    assert!(last.starts_with("aborted: "), "the last line says why: {}", run.stdout);
    assert!(!last.contains("not-the-secret"), "{last}");
    let counts = lines.get(lines.len().saturating_sub(2)).copied().unwrap_or_default();
    assert!(counts.starts_with("created=0 updated=0 skipped=0 failed="), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_token_says_the_command_that_reconnects() {
    let world = RealWorld::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite3");
    let state_text = state.to_str().unwrap().to_string();
    let env = world.env("a-token-qbo-never-issued", "the-key-secret");
    let run = run_real(dir.path(), vec!["--state".into(), state_text.clone()], env).await;
    assert_eq!(run.code, Some(1), "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains(&format!("--connect --state {state_text}")), "{said}");
    assert!(!said.contains("a-token-qbo-never-issued"), "the token is never shown: {said}");
    assert!(!said.to_lowercase().contains("delete"), "deleting the state file is never the advice");
}

/// The examples' build holds no test-only crate: cargo builds every dev-dependency of a package
/// for any of its examples, so the test suite's crates live in the `testsuite` member, and reqwest
/// uses rustls over ring rather than aws-lc (a second crypto library with a slow C build).
#[test]
fn the_examples_build_no_test_only_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["tree", "--offline", "-p", "qbo-ordoro", "-e", "normal,build,dev"])
        .args(["--prefix", "none", "--format", "{p}"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo tree runs");
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let crates: std::collections::BTreeSet<&str> =
        tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(crates.contains("reqwest") && crates.contains("clap"), "the examples' own crates");
    for test_only in
        ["proptest", "insta", "jsonschema", "criterion", "tempfile", "aws-lc-rs", "aws-lc-sys"]
    {
        assert!(!crates.contains(test_only), "the examples' build holds {test_only}");
    }
}

#[tokio::test]
async fn sku_mappings_come_from_the_config_file_and_the_flag_and_are_saved_in_the_state_file() {
    use qbo_ordoro::mapping::{SkuKey, SkuMapping};
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite3");
    let config = dir.path().join("sync.toml");
    std::fs::write(
        &config,
        "[sku]\nunknown = \"create\"\nbundles = \"one_line\"\n\
         [sku.map]\n\"Garden Gnome\" = \"GN-7\"\n\"id:201\" = \"FOUNT-1\"\n",
    )
    .unwrap();
    let args = with(
        state_args(&state),
        &["--config", config.to_str().unwrap(), "--map-sku", "Garden Gnome=GN-8"],
    );
    let run = run_in(dir.path(), &args, &[]);
    run.assert_ok();
    assert!(run.count("created") > 0, "{}", run.stdout);
    let store = qbo_ordoro::SqliteStore::open(&state).unwrap();
    // The simulated company's realm.
    let mut saved = store.sku_mappings("9130357766554433").await.unwrap();
    saved.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        saved,
        [
            SkuMapping { key: SkuKey::ItemId("201".into()), sku: "FOUNT-1".into() },
            // The flag wins over the file's entry of the same item.
            SkuMapping { key: SkuKey::ItemName("Garden Gnome".into()), sku: "GN-8".into() },
        ]
    );

    std::fs::write(&config, "[sku]\nunknown = \"maybe\"\n").unwrap();
    let bad = run_in(dir.path(), &["--config", config.to_str().unwrap()], &[]);
    assert_eq!(bad.code, Some(3), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("[sku] unknown must be `create` or `require_known`"),
        "{}",
        bad.stderr
    );
    let bad = run_in(dir.path(), &["--map-sku", "no-sku-here"], &[]);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("is not ITEM=SKU"), "{}", bad.stderr);
}
