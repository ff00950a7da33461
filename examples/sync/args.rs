//! The command line, parsed by clap into [`Args`]. `--help` prints to stdout and exits 0; a
//! mistake prints clap's error to stderr and exits 2.
//!
//! Which flags go together is declared on the flags: the three ways to choose transactions (by
//! date, by last change, one transaction) exclude each other, `--watch` and `--runs`; `--to`,
//! `--updated-to`, `--entity` and `--runs` need their partner. The one rule clap cannot declare,
//! a range that ends before it starts, is checked after parsing and reported as a clap error.
//! Every option that takes a value takes the next argument even when it starts with `-`, and a
//! repeated option keeps its last value (`--class` collects them), as the hand-written parser
//! this replaced did.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use clap::builder::{EnumValueParser, PossibleValue, TypedValueParser};
use clap::error::ErrorKind;
use clap::{ArgAction, ArgGroup, CommandFactory, Parser, ValueEnum};
use qbo_ordoro::engine::TxnRef;
use qbo_ordoro::mapping::{SkuKey, SkuMapping};
use qbo_ordoro::model::qbo::EntityKind;

/// What a run covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Everything changed since the saved cursor (the scheduled run).
    Incremental,
    /// Transactions dated in a range; the end defaults to today.
    TxnDates {
        /// First day.
        from: NaiveDate,
        /// Last day, if given.
        to: Option<NaiveDate>,
    },
    /// Transactions last modified in a range; the end defaults to now.
    Updated {
        /// Lower bound.
        from: DateTime<Utc>,
        /// Upper bound, if given.
        to: Option<DateTime<Utc>>,
    },
    /// One transaction.
    One(TxnRef),
    /// No run: connect a QuickBooks company (`--connect`).
    Connect,
    /// No run: print the transaction log from the state file (`--log`).
    Log(LogFilter),
}

/// Which log entries `--log` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Only failures.
    pub failed: bool,
    /// Only entries written from this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only this DocNumber.
    pub doc_number: Option<String>,
    /// At most this many, the most recent.
    pub limit: usize,
}

/// The entries `--log` prints without `--limit`.
pub const DEFAULT_LOG_LIMIT: usize = 100;

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// What to sync.
    pub target: Target,
    /// Write nothing.
    pub dry_run: bool,
    /// Update existing orders.
    pub update: bool,
    /// Accepted classes replacing the configured ones (empty: keep them).
    pub classes: Vec<String>,
    /// SKU mappings added to the configured ones (`ITEM=SKU`).
    pub sku_map: Vec<SkuMapping>,
    /// Loop with this interval.
    pub watch: Option<Duration>,
    /// Stop the loop after this many runs.
    pub runs: Option<u64>,
    /// The SQLite state file, if not the default.
    pub state: Option<PathBuf>,
    /// The TOML configuration file.
    pub config: Option<PathBuf>,
    /// The fault seed for the simulated services, if faults are on.
    pub sim_faults: Option<u64>,
}

/// The help's text above the usage line.
const ABOUT: &str = "\
Turns QuickBooks Online invoices and sales receipts into Ordoro orders.

With no credentials configured, it runs against built-in simulated QuickBooks and Ordoro services
seeded with sample sales, keeping its state in ./qbo-ordoro-state-sim.sqlite3. With credentials
(environment variables or --config), it talks to the real services and keeps its state in
./qbo-ordoro-state.sqlite3.";

/// The help's text below the flags.
const AFTER_HELP: &str = "\
Environment: QBO_CLIENT_ID, QBO_CLIENT_SECRET, QBO_REALM_ID, QBO_REFRESH_TOKEN (these two
optional once --connect saved the company in the state file), QBO_ENVIRONMENT
(sandbox|production, default production), QBO_REDIRECT_URI (for --connect, default
http://localhost:8765/callback), ORDORO_KEY_ID, ORDORO_KEY_SECRET, ORDORO_SALES_CHANNEL_ID
(optional). Set all the required ones or none. RUST_LOG turns on logs (stderr).

Output: the run's log as a table, then `created=N updated=N skipped=N failed=N` (stdout); a dry
run ends with `dry_run created=N ...` instead, a run that stopped early with `aborted: REASON`
after its partial counts, and `--id`/`--doc-number` of no transaction with `not found: ...`.
Exit status: 0 when the run completed (even if some transactions failed), 1 when it stopped
early, could not run or found no transaction, 2 for a bad command line, 3 for a configuration
error.

Connect a company: `--connect` prints Intuit's consent URL, then waits for the browser's
redirect on QBO_REDIRECT_URI (a localhost URI) or for the URL the browser was redirected to,
pasted on standard input; it saves the company and its tokens in the state file.";

/// The heading of the flags that choose the transactions.
const WHAT: &str = "What to sync (default: everything changed since the last run)";
/// The heading of the other flags.
const HOW: &str = "How";
/// The heading of the commands that run no sync.
const OTHER: &str = "Instead of a sync";

/// The flags naming one transaction.
const ONE: [&str; 2] = ["id", "doc_number"];
/// The flags of the other kinds of run than by date (a range by last change, one transaction).
const NOT_BY_DATE: [&str; 4] = ["updated_from", "updated_to", "id", "doc_number"];
/// The flags of every kind of run but the incremental one.
const NOT_INCREMENTAL: [&str; 6] = ["from", "to", "updated_from", "updated_to", "id", "doc_number"];
/// The flags of a sync run, which `--connect` and `--log` exclude (`--log` takes `--doc-number`
/// as a filter).
const RUN_FLAGS: [&str; 12] = [
    "from",
    "to",
    "updated_from",
    "updated_to",
    "id",
    "entity",
    "dry_run",
    "update",
    "classes",
    "sku_map",
    "watch",
    "sim_faults",
];

/// The seed of `--sim-faults` without a value.
const DEFAULT_FAULT_SEED: &str = "7";

/// Every flag as clap reads it, before the ranges are checked and the target is chosen.
#[derive(Debug, Parser)]
#[command(
    name = "sync",
    bin_name = "cargo run --example sync --",
    about = ABOUT,
    after_help = AFTER_HELP,
    disable_help_flag = true,
    args_override_self = true,
    // Not `multiple`: --id and --doc-number exclude each other.
    group(ArgGroup::new("one").args(["id", "doc_number"])),
)]
struct Cli {
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = date, allow_hyphen_values = true,
        conflicts_with_all = NOT_BY_DATE, help_heading = WHAT,
        help = "Sync the transactions dated (TxnDate) from this day, inclusive")]
    from: Option<NaiveDate>,

    #[arg(long, value_name = "YYYY-MM-DD", value_parser = date, allow_hyphen_values = true,
        requires = "from", conflicts_with_all = NOT_BY_DATE, help_heading = WHAT,
        help = "... up to this day, inclusive (needs --from;\ndefault: today, local time)")]
    to: Option<NaiveDate>,

    #[arg(long, value_name = "RFC3339", value_parser = instant, allow_hyphen_values = true,
        conflicts_with_all = ONE, help_heading = WHAT,
        help = "Sync the transactions last modified from this instant,\ne.g. 2026-11-27T09:30:00-08:00")]
    updated_from: Option<DateTime<Utc>>,

    #[arg(long, value_name = "RFC3339", value_parser = instant, allow_hyphen_values = true,
        requires = "updated_from", conflicts_with_all = ONE, help_heading = WHAT,
        help = "... up to this instant (needs --updated-from; default: now)")]
    updated_to: Option<DateTime<Utc>>,

    #[arg(long, value_name = "ID", value_parser = non_empty, allow_hyphen_values = true,
        help_heading = WHAT,
        help = "Sync one transaction by QBO id (an invoice and a sales receipt may\nshare one: both are synced)")]
    id: Option<String>,

    #[arg(long, value_name = "N", value_parser = non_empty, allow_hyphen_values = true,
        help_heading = WHAT, help = "Sync the transactions with this DocNumber")]
    doc_number: Option<String>,

    #[arg(long, value_name = "KIND", value_parser = EntityParser, allow_hyphen_values = true,
        requires = "one", hide_possible_values = true, help_heading = WHAT,
        help = "With --id or --doc-number: only this kind, invoice or salesreceipt\n(default: both)")]
    entity: Option<EntityKind>,

    #[arg(long, help_heading = HOW,
        help = "Do everything but the writes (no Ordoro write, nothing saved); the log\nshows what would happen")]
    dry_run: bool,

    #[arg(long, help_heading = HOW,
        help = "Bring orders already in Ordoro up to date when their transaction\nchanged (this run)")]
    update: bool,

    #[arg(long = "class", value_name = "NAME", value_parser = non_empty,
        allow_hyphen_values = true, action = ArgAction::Append, help_heading = HOW,
        help = "Accepted class; repeat for several. Replaces the configured classes\n(default Ordoro)")]
    classes: Vec<String>,

    #[arg(long = "map-sku", value_name = "ITEM=SKU", value_parser = sku_mapping,
        action = ArgAction::Append, help_heading = HOW,
        help = "Send lines of this QBO item (its name, or id:N) with this Ordoro SKU;\nrepeat for \
                several. Saved in the state file with the [sku.map] ones")]
    sku_map: Vec<SkuMapping>,

    #[arg(long, value_name = "SECONDS", value_parser = positive, allow_hyphen_values = true,
        conflicts_with_all = NOT_INCREMENTAL, help_heading = HOW,
        help = "Run incrementally every SECONDS (from one run's start to the next),\nprinting each run")]
    watch: Option<u64>,

    // Also excluded where --watch is: clap waives a requirement that conflicts with a present
    // flag, so `requires` alone would let `--from DAY --runs N` through.
    #[arg(long, value_name = "N", value_parser = positive, allow_hyphen_values = true,
        requires = "watch", conflicts_with_all = NOT_INCREMENTAL, help_heading = HOW,
        help = "With --watch: stop after N runs (default: until interrupted)")]
    runs: Option<u64>,

    #[arg(long, value_name = "PATH", value_parser = non_empty_path, allow_hyphen_values = true,
        help_heading = HOW,
        help = "The SQLite state file (default ./qbo-ordoro-state.sqlite3, or\n./qbo-ordoro-state-sim.sqlite3 against the simulated services)")]
    state: Option<PathBuf>,

    #[arg(long, value_name = "PATH", value_parser = non_empty_path, allow_hyphen_values = true,
        help_heading = HOW,
        help = "A TOML configuration file (credentials and [sync] settings).\nNo file is read unless given")]
    config: Option<PathBuf>,

    // The seed only after `=`: `--sim-faults 11` is `--sim-faults` and a stray argument.
    #[arg(long, value_name = "SEED", value_parser = seed, num_args = 0..=1,
        require_equals = true, default_missing_value = DEFAULT_FAULT_SEED, help_heading = HOW,
        help = "Simulated services only: inject seeded faults (5xx, timeouts, lost\nresponses, throttling; default seed 7)")]
    sim_faults: Option<u64>,

    #[arg(long, conflicts_with_all = RUN_FLAGS, conflicts_with_all = ["log", "doc_number"],
        help_heading = OTHER,
        help = "Connect a QuickBooks company: print the consent URL, take the\nredirect, save the company and its tokens in the state file")]
    connect: bool,

    #[arg(long, conflicts_with_all = RUN_FLAGS, help_heading = OTHER,
        help = "Print the transaction log from the state file (with --doc-number,\nonly that DocNumber)")]
    log: bool,

    #[arg(long, requires = "log", help_heading = OTHER, help = "With --log: only failures")]
    failed: bool,

    #[arg(long, value_name = "DATE", value_parser = since, allow_hyphen_values = true,
        requires = "log", help_heading = OTHER,
        help = "With --log: only entries written from this day (YYYY-MM-DD, UTC) or\ninstant (RFC 3339)")]
    since: Option<DateTime<Utc>>,

    #[arg(long, value_name = "N", value_parser = positive, allow_hyphen_values = true,
        requires = "log", help_heading = OTHER,
        help = "With --log: the N most recent entries (default 100)")]
    limit: Option<u64>,

    #[arg(short, long, action = ArgAction::Help, help_heading = HOW, help = "Print this help")]
    help: Option<bool>,
}

/// Parses the process's command line; prints the help or a usage error and exits if it must.
pub fn parse() -> Args {
    try_parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
}

/// Parses a command line (the program name first).
pub fn try_parse_from<I, T>(args: I) -> Result<Args, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    Cli::try_parse_from(args)?.into_args()
}

impl Cli {
    fn into_args(self) -> Result<Args, clap::Error> {
        let target = self.target()?;
        Ok(Args {
            target,
            dry_run: self.dry_run,
            update: self.update,
            classes: self.classes,
            sku_map: self.sku_map,
            watch: self.watch.map(Duration::from_secs),
            runs: self.runs,
            state: self.state,
            config: self.config,
            sim_faults: self.sim_faults,
        })
    }

    /// The one kind of run the flags name (clap has refused two kinds at once).
    fn target(&self) -> Result<Target, clap::Error> {
        if self.connect {
            return Ok(Target::Connect);
        }
        if self.log {
            let limit =
                self.limit.map_or(DEFAULT_LOG_LIMIT, |n| usize::try_from(n).unwrap_or(usize::MAX));
            return Ok(Target::Log(LogFilter {
                failed: self.failed,
                since: self.since,
                doc_number: self.doc_number.clone(),
                limit,
            }));
        }
        if let Some(from) = self.from {
            if let Some(to) = self.to.filter(|to| *to < from) {
                return Err(backwards(format!("--to {to} is before --from {from}")));
            }
            return Ok(Target::TxnDates { from, to: self.to });
        }
        if let Some(from) = self.updated_from {
            if let Some(to) = self.updated_to.filter(|to| *to < from) {
                return Err(backwards(format!(
                    "--updated-to {} is before --updated-from {}",
                    to.to_rfc3339(),
                    from.to_rfc3339()
                )));
            }
            return Ok(Target::Updated { from, to: self.updated_to });
        }
        let entity = self.entity;
        Ok(match (&self.id, &self.doc_number) {
            (Some(id), _) => Target::One(TxnRef::Id { entity, id: id.clone() }),
            (None, Some(doc)) => Target::One(TxnRef::DocNumber { entity, doc_number: doc.clone() }),
            (None, None) => Target::Incremental,
        })
    }
}

/// A range that ends before it starts, as clap reports a bad value.
fn backwards(message: String) -> clap::Error {
    Cli::command().error(ErrorKind::ValueValidation, message)
}

/// `ITEM=SKU`: a QBO item name (or `id:N`) and an Ordoro SKU, neither empty. The last `=`
/// splits them, so an item name may hold one.
fn sku_mapping(value: &str) -> Result<SkuMapping, String> {
    let (item, sku) = value.rsplit_once('=').ok_or_else(|| format!("`{value}` is not ITEM=SKU"))?;
    let key = SkuKey::parse(item).ok_or_else(|| format!("`{value}` names no item"))?;
    let sku = sku.trim();
    if sku.is_empty() {
        return Err(format!("`{value}` names no SKU"));
    }
    Ok(SkuMapping { key, sku: sku.to_string() })
}

fn non_empty(value: &str) -> Result<String, String> {
    match value.trim() {
        "" => Err("expected a non-blank value".into()),
        value => Ok(value.to_string()),
    }
}

fn non_empty_path(value: &str) -> Result<PathBuf, String> {
    non_empty(value).map(PathBuf::from)
}

fn date(value: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| "expected a date like 2026-11-01".into())
}

fn instant(value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| "expected an RFC 3339 instant like 2026-11-27T09:30:00-08:00".into())
}

fn since(value: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    instant(value).map_err(|_| "expected a day like 2026-11-01 or an RFC 3339 instant".into())
}

fn positive(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a whole number above zero".into()),
    }
}

fn seed(value: &str) -> Result<u64, String> {
    value.parse().map_err(|_| "the seed must be a whole number".into())
}

/// The kinds `--entity` names, as the help lists them.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Entity {
    Invoice,
    #[value(name = "salesreceipt")]
    SalesReceipt,
}

impl From<Entity> for EntityKind {
    fn from(entity: Entity) -> Self {
        match entity {
            Entity::Invoice => EntityKind::Invoice,
            Entity::SalesReceipt => EntityKind::SalesReceipt,
        }
    }
}

/// `--entity`'s value: `invoice` or `salesreceipt` in any case, with any `-` or `_` ignored
/// (`SalesReceipt`, `sales-receipt`, `sales_receipt`); anything else is clap's invalid-value
/// error, with the possible values and a suggestion.
#[derive(Debug, Clone, Copy)]
struct EntityParser;

impl TypedValueParser for EntityParser {
    type Value = EntityKind;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<EntityKind, clap::Error> {
        let loose = value.to_str().map(|v| v.to_ascii_lowercase().replace(['-', '_'], ""));
        match loose.as_deref() {
            Some("invoice") => Ok(EntityKind::Invoice),
            Some("salesreceipt") => Ok(EntityKind::SalesReceipt),
            _ => EnumValueParser::<Entity>::new().parse_ref(cmd, arg, value).map(Into::into),
        }
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(Entity::value_variants().iter().filter_map(ValueEnum::to_possible_value)))
    }
}
