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
