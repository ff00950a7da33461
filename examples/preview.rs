//! Shows what the sync would do with QBO documents, without touching any service.
//!
//! `cargo run --example preview -- [--class NAME]... [--company-country XX] [--items FILE]... FILE...`
//!
//! Each file holds one QBO document: an entity envelope (`{"Invoice": {..}}`), a query envelope
//! (`{"QueryResponse": {"Invoice": [..]}}`) or a bare entity object. For each transaction one JSON
//! line is written: `{"qbo": {..}, "decision": "create", "order": {..}}`, or a `skip` with its
//! reason, or an `error` with its code. `--class NAME`, given one or more times, replaces the
//! accepted classes (default `Ordoro`). `--company-country XX` is the QBO company's own country
//! (ISO 3166-1 alpha-2, default `US`): the country of an address that names none. `--items FILE`
//! (repeatable) reads QBO Item documents (`{"Item": {..}}`, `{"QueryResponse": {"Item": [..]}}`
//! or an array of items): each line's SKU is then the item's `Sku` when it has one, and every
//! `create` line also carries `"skus"`, where each order line's SKU came from (`item` or
//! `name`). Without `--items` the output is what it always was. The exit status is 0 unless a file cannot be read or is
//! not JSON; the other files are still processed. `--help` prints the usage; a bad command line
//! (an unknown option, `--class` without a name, a `--company-country` that is no ISO country
//! code, no file) exits with status 2.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser};
use std::sync::Arc;

use qbo_ordoro::mapping::preview::preview_json;
use qbo_ordoro::mapping::{MappingConfig, SkuBook};
use qbo_ordoro::model::qbo::QboItem;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "preview",
    about = "Shows what the sync would do with QBO documents, without touching any service.",
    after_help = AFTER_HELP
)]
struct Cli {
    // Takes the next argument even when it starts with `-`, as before clap.
    #[arg(long = "class", value_name = "NAME", action = ArgAction::Append,
        allow_hyphen_values = true,
        help = "Accepted class; repeat for several. Replaces the default class Ordoro")]
    classes: Vec<String>,

    #[arg(long = "company-country", value_name = "XX", default_value = "US",
        value_parser = parse_country,
        help = "The QBO company's own country (ISO 3166-1 alpha-2): the country of an address \
                that names none")]
    company_country: String,

    #[arg(long = "items", value_name = "FILE", action = ArgAction::Append,
        help = "QBO Item documents (an envelope, a query answer or an array): lines take their \
                item's Sku, and each create line says where its SKUs came from; repeatable")]
    items: Vec<PathBuf>,

    #[arg(
        value_name = "FILE",
        required = true,
        help = "A QBO document: an entity envelope ({\"Invoice\": {..}}), a query envelope\n\
                ({\"QueryResponse\": {\"Invoice\": [..]}}) or a bare entity object"
    )]
    files: Vec<PathBuf>,
}

/// The help's text below the arguments.
const AFTER_HELP: &str = "\
Output: for each transaction one JSON line on stdout: {\"qbo\": {..}, \"decision\": \"create\",
\"order\": {..}}, or a skip with its reason, or an error with its code.
Exit status: 0 unless a file cannot be read or is not JSON (1; the other files are still
processed), 2 for a bad command line.";

/// An ISO 3166-1 alpha-2 code, in any case (`au` is `AU`); anything else is a usage error.
fn parse_country(text: &str) -> Result<String, String> {
    let code = text.trim().to_ascii_uppercase();
    let known = code.len() == 2
        && qbo_ordoro::address::lookup_country(&code).is_some_and(|c| c.alpha2 == code);
    if known {
        Ok(code)
    } else {
        Err(format!("`{text}` is not an ISO 3166-1 alpha-2 country code (such as US, AU, GB)"))
    }
}

/// The SKU book of the items in `files`; an unreadable file or one that is not JSON is an
/// error (nothing is previewed with half the items).
fn read_items(files: &[PathBuf]) -> Result<SkuBook, String> {
    let mut book = SkuBook::new();
    for file in files {
        let name = file.display();
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {name}: {e}"))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{name} is not JSON: {e}"))?;
        QboItem::from_document(&value).into_iter().for_each(|item| book.add_item(item));
    }
    Ok(book)
}

fn main() -> ExitCode {
    // `--help` exits 0 here, a bad command line 2.
    let Cli { classes, company_country, items, files } = Cli::parse();
    let mut config = MappingConfig::default().with_company_country(Some(&company_country));
    if !classes.is_empty() {
        config = config.with_classes(&classes);
    }
    if !items.is_empty() {
        match read_items(&items) {
            Ok(book) => config = config.with_sku_book(Some(Arc::new(book))),
            Err(message) => {
                eprintln!("preview: {message}");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut failed = false;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for file in &files {
        let file_name = file.display();
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("preview: cannot read {file_name}: {e}");
                failed = true;
                continue;
            }
        };
        let lines = match preview_json(&text, &config) {
            Ok(lines) => lines,
            Err(e) => {
                eprintln!("preview: {file_name} is not JSON: {e}");
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
