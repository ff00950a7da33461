//! The command line: hand-rolled parsing of a dozen flags into [`Args`], with a message for
//! every mistake (the caller prints it and exits with status 2).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use qbo_ordoro::engine::TxnRef;
use qbo_ordoro::model::qbo::EntityKind;

/// The text of `--help`.
pub const HELP: &str = "\
Turns QuickBooks Online invoices and sales receipts into Ordoro orders.

With no credentials configured, it runs against built-in simulated QuickBooks and Ordoro services
seeded with sample sales, keeping its state in ./qbo-ordoro-state-sim.sqlite3. With credentials
(environment variables or --config), it talks to the real services and keeps its state in
./qbo-ordoro-state.sqlite3.

Usage: cargo run --example sync -- [OPTIONS]

What to sync (default: everything changed since the last run):
      --from YYYY-MM-DD         Transactions dated from this day (TxnDate, inclusive)
      --to YYYY-MM-DD           ... up to this day (inclusive; default today, needs --from)
      --updated-from RFC3339    Transactions last modified from this instant
      --updated-to RFC3339      ... up to this instant (default now, needs --updated-from)
      --id ID                   One transaction by QBO id
      --doc-number N            The transactions with this DocNumber
      --entity KIND             With --id or --doc-number: invoice or salesreceipt (default both)

How:
      --dry-run                 Do everything but the writes; show what would happen
      --update                  Bring orders already in Ordoro up to date when their sale changed
      --class NAME              Accepted class (repeatable; replaces the default Ordoro)
      --watch SECONDS           Run again every SECONDS (incremental runs only)
      --runs N                  With --watch: stop after N runs
      --state PATH              SQLite state file
      --config PATH             TOML configuration file (credentials and [sync] settings)
      --sim-faults[=SEED]       Simulated services only: inject seeded faults (5xx, timeouts,
                                lost responses, throttling)
  -h, --help                    Print this help

Environment: QBO_CLIENT_ID, QBO_CLIENT_SECRET, QBO_REALM_ID, QBO_REFRESH_TOKEN,
QBO_ENVIRONMENT (sandbox|production, default production), ORDORO_KEY_ID, ORDORO_KEY_SECRET,
ORDORO_SALES_CHANNEL_ID (optional). Set all the required ones or none. RUST_LOG turns on logs
(stderr).

Output: the run's log as a table, then `created=N updated=N skipped=N failed=N` (stdout).
Exit status: 0 when the run completed (even if some transactions failed), 1 when it stopped
early or could not run, 2 for a bad command line, 3 for a configuration error.
";

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
}

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

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print the help.
    Help,
    /// Sync.
    Run(Args),
}

/// The seed of `--sim-faults` without a value.
const DEFAULT_FAULT_SEED: u64 = 7;

/// Every flag as read, before the combinations are checked.
#[derive(Debug, Default)]
struct Raw {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    updated_from: Option<DateTime<Utc>>,
    updated_to: Option<DateTime<Utc>>,
    id: Option<String>,
    doc_number: Option<String>,
    entity: Option<EntityKind>,
    dry_run: bool,
    update: bool,
    classes: Vec<String>,
    watch: Option<Duration>,
    runs: Option<u64>,
    state: Option<PathBuf>,
    config: Option<PathBuf>,
    sim_faults: Option<u64>,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut raw = Raw::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg.into_string().map_err(|a| format!("argument {a:?} is not valid UTF-8"))?;
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_string(), Some(value)),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String, String> {
            match inline {
                Some(v) => Ok(v.to_string()),
                None => args
                    .next()
                    .map(|v| v.to_string_lossy().into_owned())
                    .ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--from" => raw.from = Some(date(&name, &value()?)?),
            "--to" => raw.to = Some(date(&name, &value()?)?),
            "--updated-from" => raw.updated_from = Some(instant(&name, &value()?)?),
            "--updated-to" => raw.updated_to = Some(instant(&name, &value()?)?),
            "--id" => raw.id = Some(non_empty(&name, value()?)?),
            "--doc-number" => raw.doc_number = Some(non_empty(&name, value()?)?),
            "--entity" => raw.entity = Some(entity(&value()?)?),
            "--dry-run" => raw.dry_run = flag(&name, inline)?,
            "--update" => raw.update = flag(&name, inline)?,
            "--class" => raw.classes.push(non_empty(&name, value()?)?),
            "--watch" => raw.watch = Some(Duration::from_secs(positive(&name, &value()?)?)),
            "--runs" => raw.runs = Some(positive(&name, &value()?)?),
            "--state" => raw.state = Some(PathBuf::from(non_empty(&name, value()?)?)),
            "--config" => raw.config = Some(PathBuf::from(non_empty(&name, value()?)?)),
            "--sim-faults" => {
                raw.sim_faults = Some(match inline {
                    Some(seed) => seed
                        .parse()
                        .map_err(|_| format!("--sim-faults={seed}: the seed must be a number"))?,
                    None => DEFAULT_FAULT_SEED,
                })
            }
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => return Err(format!("unexpected argument {other:?} (options start with --)")),
        }
    }
    raw.into_args().map(Command::Run)
}

impl Raw {
    fn into_args(self) -> Result<Args, String> {
        let target = self.target()?;
        if self.watch.is_some() && target != Target::Incremental {
            return Err("--watch runs incremental syncs; it cannot be combined with a date \
                        range, --id or --doc-number"
                .into());
        }
        if self.runs.is_some() && self.watch.is_none() {
            return Err("--runs needs --watch".into());
        }
        Ok(Args {
            target,
            dry_run: self.dry_run,
            update: self.update,
            classes: self.classes,
            watch: self.watch,
            runs: self.runs,
            state: self.state,
            config: self.config,
            sim_faults: self.sim_faults,
        })
    }

    /// The one kind of run the flags name; two kinds at once are an error.
    fn target(&self) -> Result<Target, String> {
        let by_date = self.from.is_some() || self.to.is_some();
        let by_update = self.updated_from.is_some() || self.updated_to.is_some();
        let one = self.id.is_some() || self.doc_number.is_some();
        if [by_date, by_update, one].iter().filter(|on| **on).count() > 1 {
            return Err("choose one of: --from/--to, --updated-from/--updated-to, --id or \
                        --doc-number"
                .into());
        }
        if self.entity.is_some() && !one {
            return Err("--entity goes with --id or --doc-number".into());
        }
        if by_date {
            let from = self.from.ok_or("--to needs --from")?;
            if self.to.is_some_and(|to| to < from) {
                return Err("--to is before --from".into());
            }
            return Ok(Target::TxnDates { from, to: self.to });
        }
        if by_update {
            let from = self.updated_from.ok_or("--updated-to needs --updated-from")?;
            if self.updated_to.is_some_and(|to| to < from) {
                return Err("--updated-to is before --updated-from".into());
            }
            return Ok(Target::Updated { from, to: self.updated_to });
        }
        let entity = self.entity;
        Ok(match (&self.id, &self.doc_number) {
            (Some(_), Some(_)) => return Err("give --id or --doc-number, not both".into()),
            (Some(id), None) => Target::One(TxnRef::Id { entity, id: id.clone() }),
            (None, Some(doc)) => Target::One(TxnRef::DocNumber { entity, doc_number: doc.clone() }),
            (None, None) => Target::Incremental,
        })
    }
}

fn flag(name: &str, inline: Option<&str>) -> Result<bool, String> {
    match inline {
        None => Ok(true),
        Some(_) => Err(format!("{name} takes no value")),
    }
}

fn non_empty(name: &str, value: String) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err(format!("{name} needs a non-empty value"));
    }
    Ok(value.trim().to_string())
}

fn date(name: &str, value: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| format!("{name} {value:?}: expected a date like 2026-11-01"))
}

fn instant(name: &str, value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value).map(|t| t.with_timezone(&Utc)).map_err(|_| {
        format!("{name} {value:?}: expected an RFC 3339 instant like 2026-11-27T09:30:00-08:00")
    })
}

fn positive(name: &str, value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{name} {value:?}: expected a whole number above zero")),
    }
}

fn entity(value: &str) -> Result<EntityKind, String> {
    match value.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
        "invoice" => Ok(EntityKind::Invoice),
        "salesreceipt" => Ok(EntityKind::SalesReceipt),
        _ => Err(format!("--entity {value:?}: expected invoice or salesreceipt")),
    }
}
