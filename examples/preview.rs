//! Shows what the sync would do with QBO documents, without touching any service.
//!
//! `cargo run --example preview -- [--class NAME]... FILE...`
//!
//! Each file holds one QBO document: an entity envelope (`{"Invoice": {..}}`), a query envelope
//! (`{"QueryResponse": {"Invoice": [..]}}`) or a bare entity object. For each transaction one JSON
//! line is written: `{"qbo": {..}, "decision": "create", "order": {..}}`, or a `skip` with its
//! reason, or an `error` with its code. `--class NAME`, given one or more times, replaces the
//! accepted classes (default `Ordoro`). The exit status is 0 unless a file cannot be read or is
//! not JSON; the other files are still processed.

use std::io::Write;
use std::process::ExitCode;

use qbo_ordoro::mapping::MappingConfig;
use qbo_ordoro::mapping::preview::preview_json;

const USAGE: &str = "usage: preview [--class NAME]... FILE...";

fn main() -> ExitCode {
    let (classes, files) = match parse_args(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("preview: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut config = MappingConfig::default();
    if !classes.is_empty() {
        config = config.with_classes(&classes);
    }
    let mut failed = false;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("preview: cannot read {file}: {e}");
                failed = true;
                continue;
            }
        };
        let lines = match preview_json(&text, &config) {
            Ok(lines) => lines,
            Err(e) => {
                eprintln!("preview: {file} is not JSON: {e}");
                failed = true;
                continue;
            }
        };
        for line in lines {
            let written = serde_json::to_string(&line)
                .map_err(std::io::Error::other)
                .and_then(|json| writeln!(out, "{json}"));
            if let Err(e) = written {
                eprintln!("preview: cannot write the output: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// Splits the arguments into accepted classes and files.
fn parse_args(args: impl Iterator<Item = String>) -> Result<(Vec<String>, Vec<String>), String> {
    let mut classes = Vec::new();
    let mut files = Vec::new();
    let mut args = args.peekable();
    let mut only_files = false;
    while let Some(arg) = args.next() {
        if only_files {
            files.push(arg);
        } else if arg == "--" {
            only_files = true;
        } else if arg == "--class" {
            classes.push(args.next().ok_or("--class needs a class name")?);
        } else if let Some(name) = arg.strip_prefix("--class=") {
            classes.push(name.to_string());
        } else if arg == "-h" || arg == "--help" {
            return Err("help".into());
        } else if arg.starts_with("--") {
            return Err(format!("unknown option {arg}"));
        } else {
            files.push(arg);
        }
    }
    if files.is_empty() {
        return Err("no file given".into());
    }
    Ok((classes, files))
}
