//! Running an example program as a user would (`cargo run --quiet --example NAME -- ARGS`, from
//! the repository's top), with bytes on its standard input, for the tests of the examples'
//! command-line contracts.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs example `name` with `args`, writes `input` to its standard input (on a thread, so a
/// large input cannot dead-lock against a full output pipe), and returns what it printed.
pub fn run_example(name: &str, args: &[&str], input: &[u8]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut child = Command::new(cargo)
        .args(["run", "--quiet", "--example", name, "--"])
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn cargo: {e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("wait: {e}"));
    let _ = writer.join();
    out
}

/// Builds example `name` once per test process (`cargo build --example NAME`, from the
/// repository's top) and returns its executable as cargo reports it, for the tests that run the
/// binary directly: as a long-running child, or many times over.
pub fn example_binary(name: &'static str) -> std::path::PathBuf {
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::sync::{Mutex, OnceLock};
    static BUILT: OnceLock<Mutex<BTreeMap<&'static str, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Mutex::default);
    // Held while cargo builds, so two tests never build the same example at once.
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--quiet", "--example", name, "--message-format=json"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap_or_else(|e| panic!("spawn cargo: {e}"));
    assert!(
        output.status.success(),
        "building the example {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == name)
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo names the executable of the example {name}"));
    built.insert(name, path.clone());
    path
}

/// Every variable that would switch an example (`sync`, `serve`) to the real services or turn
/// its logs on: tests remove them all, so that the machine's environment does not leak in.
pub const SERVICE_VARS: [&str; 16] = [
    "QBO_CLIENT_ID",
    "QBO_CLIENT_SECRET",
    "QBO_REALM_ID",
    "QBO_REFRESH_TOKEN",
    "QBO_ENVIRONMENT",
    "ORDORO_KEY_ID",
    "ORDORO_KEY_SECRET",
    "ORDORO_SALES_CHANNEL_ID",
    "QBO_REDIRECT_URI",
    "QBO_API_BASE",
    "QBO_TOKEN_URL",
    "ORDORO_BASE_URL",
    "QBO_WEBHOOK_VERIFIER_TOKEN",
    "QBO_ORDORO_ADMIN_PASSWORD",
    "QBO_ORDORO_ADMIN_PASSWORD_HASH",
    "RUST_LOG",
];
