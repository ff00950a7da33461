//! Transaction-log benchmark: the pages a person reads ([`Store::log_page`]) from a `SqliteStore`
//! file of a million log rows, spread over four companies, the four actions, the reasons, both
//! entities and a year of dates, which this program writes in bulk first (one SQL transaction).
//!
//! ```text
//! cargo run --release --example bench_log -- [--rows N] [--reps R] [--db PATH]
//! ```
//!
//! Each view is read `--reps` times (default 300), newest first, 50 rows a page: the first page
//! of filtered views (by company, action, reason, entity, date range, free text (a DocNumber,
//! a customer, a QBO id), across companies), the oldest-first first page, and a page deep in the keyset (from a cursor drawn
//! in the middle of the company's log each time). Prints p50, p99 and max per view, in
//! milliseconds. `--db PATH` keeps the file and reuses it when it already holds the rows.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use clap::Parser;
use qbo_ordoro::Reason;
use qbo_ordoro::address::AddressErrorCode;
use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::store::{Action, LogCursor, LogQuery, SqliteStore};
use qbo_ordoro::{Store, store::LogPage};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "bench_log", about = "Pages of a large transaction log in a SQLite store")]
struct Cli {
    /// Log rows to write
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    rows: u64,
    /// Reads of each view
    #[arg(long, value_name = "R", default_value_t = 300)]
    reps: usize,
    /// The SQLite file (kept, and reused when it holds the rows); a temporary file otherwise
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
}

const REALMS: [(&str, u32); 4] = [
    ("9130350000000001", 40),
    ("9130350000000002", 30),
    ("9130350000000003", 20),
    ("4620816365", 10),
];
const SEED: u64 = 20_260_815;
/// Customers the rows are spread over, evenly (a million rows: 500 each).
const CUSTOMERS: u32 = 2_000;
/// Seconds between rows on average: a million rows over a year.
const YEAR_SECS: i64 = 365 * 24 * 3600;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_log: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    let temporary = cli.db.is_none();
    let path = cli.db.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("qbo-ordoro-bench-log-{}.db", std::process::id()))
    });
    let store = SqliteStore::open(&path)?;
    let written = count_rows(&path)?;
    if written < cli.rows {
        let started = Instant::now();
        write_rows(&path, written, cli.rows)?;
        let size = std::fs::metadata(&path)?.len();
        println!(
            "wrote {} log rows in {:.1} s ({:.0} MB file)",
            cli.rows - written,
            started.elapsed().as_secs_f64(),
            size as f64 / 1e6
        );
    }
    println!("{} rows in {}\n", count_rows(&path)?, path.display());
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let result = runtime.block_on(measure(&store, cli));
    drop(store);
    if temporary {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
    result
}

fn count_rows(path: &PathBuf) -> Result<u64, Failure> {
    let conn = rusqlite::Connection::open(path)?;
    let n: i64 = conn.query_row("SELECT count(*) FROM log", [], |r| r.get(0))?;
    Ok(u64::try_from(n)?)
}

/// What each generated row is: weighted draws, rare reasons rare.
fn pick<T: Copy>(rng: &mut SmallRng, weighted: &[(T, u32)]) -> T {
    let total: u32 = weighted.iter().map(|w| w.1).sum();
    let mut n = rng.random_range(0..total);
    for (value, weight) in weighted {
        if n < *weight {
            return *value;
        }
        n -= weight;
    }
    weighted[0].0
}

const SKIP_REASONS: [(Reason, u32); 6] = [
    (Reason::ClassMismatch, 40),
    (Reason::Unchanged, 30),
    (Reason::NoClass, 10),
    (Reason::Voided, 10),
    (Reason::AlreadySynced, 8),
    (Reason::NotShippable, 2),
];
const FAIL_REASONS: [(Reason, u32); 7] = [
    (Reason::Address(AddressErrorCode::MissingState), 30),
    (Reason::Address(AddressErrorCode::InvalidPostalCode), 20),
    (Reason::UnknownSku, 20),
    (Reason::Rejected, 12),
    (Reason::RateLimited, 10),
    (Reason::FractionalQuantity, 6),
    (Reason::AmountOverflow, 2),
];

/// Appends rows `from..to` in one SQL transaction, in time order with up to a minute of jitter
/// (commits of concurrent transactions land slightly out of order).
fn write_rows(path: &PathBuf, from: u64, to: u64) -> Result<(), Failure> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "cache_size", -400_000)?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO log (run_id, at, realm, entity, qbo_id, doc_number, sync_token, \
             action, reason, detail, order_number, failure_service, failure_message, dry_run, \
             customer) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, '0', ?7, ?8, ?9, ?10, ?11, ?12, 0, ?13)",
        )?;
        let mut rng = SmallRng::seed_from_u64(SEED ^ from);
        let step = YEAR_SECS as f64 / to as f64;
        for i in from..to {
            let realm = pick(&mut rng, &REALMS);
            let entity =
                pick(&mut rng, &[(EntityKind::Invoice, 65), (EntityKind::SalesReceipt, 35)]);
            let action = pick(
                &mut rng,
                &[
                    (Action::Created, 60),
                    (Action::Updated, 10),
                    (Action::Skipped, 25),
                    (Action::Failed, 5),
                ],
            );
            let reason = match action {
                Action::Skipped => Some(pick(&mut rng, &SKIP_REASONS)),
                Action::Failed => Some(pick(&mut rng, &FAIL_REASONS)),
                _ => None,
            };
            let secs = (i as f64 * step) as i64 + rng.random_range(0..60);
            let at = instant(secs).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            let qbo_id = (i / 2 + 1).to_string();
            let doc = format!("{}", 100_000 + i / 2);
            let prefix = if entity == EntityKind::Invoice { "INV" } else { "SR" };
            let order = matches!(action, Action::Created | Action::Updated)
                .then(|| format!("M-QBO-{prefix}-{qbo_id}"));
            let failed = action == Action::Failed;
            let customer = format!("Customer {:04}", rng.random_range(0..CUSTOMERS));
            insert.execute(rusqlite::params![
                format!("run-{}", i / 500),
                at,
                realm,
                entity.as_str(),
                qbo_id,
                doc,
                action.as_str(),
                reason.map(Reason::as_str),
                reason.map(|_| "the generated reason"),
                order,
                failed.then_some("ordoro"),
                failed.then_some("generated failure"),
                customer,
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn instant(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single().unwrap_or_default()
        + chrono::Duration::seconds(secs)
}

/// A view: its name and how each repetition's query is made.
type View = (&'static str, Box<dyn Fn(&mut SmallRng) -> LogQuery>);

fn views(rows: u64, middle: Vec<LogCursor>) -> Vec<View> {
    let realm = || Some(REALMS[0].0.to_owned());
    let first = |q: LogQuery| LogQuery { newest_first: true, ..q };
    let month = (Some(instant(YEAR_SECS / 2)), Some(instant(YEAR_SECS / 2 + 30 * 24 * 3600)));
    let week = (Some(instant(YEAR_SECS / 3)), Some(instant(YEAR_SECS / 3 + 7 * 24 * 3600)));
    let docs = 100_000 + rows / 2;
    vec![
        ("company", Box::new(move |_| first(LogQuery { realm: realm(), ..LogQuery::default() }))),
        (
            "company, failed",
            Box::new(move |_| {
                first(LogQuery {
                    realm: realm(),
                    action: Some(Action::Failed),
                    ..LogQuery::default()
                })
            }),
        ),
        (
            "company, reason missing_state",
            Box::new(move |_| {
                let reason = Some(Reason::Address(AddressErrorCode::MissingState));
                first(LogQuery { realm: realm(), reason, ..LogQuery::default() })
            }),
        ),
        (
            "company, rare reason amount_overflow",
            Box::new(move |_| {
                first(LogQuery {
                    realm: realm(),
                    reason: Some(Reason::AmountOverflow),
                    ..LogQuery::default()
                })
            }),
        ),
        (
            "company, sales receipts",
            Box::new(move |_| {
                first(LogQuery {
                    realm: realm(),
                    entity: Some(EntityKind::SalesReceipt),
                    ..LogQuery::default()
                })
            }),
        ),
        (
            "company, a month",
            Box::new(move |_| {
                first(LogQuery {
                    realm: realm(),
                    from: month.0,
                    to: month.1,
                    ..LogQuery::default()
                })
            }),
        ),
        (
            "company, skipped, a week",
            Box::new(move |_| {
                let action = Some(Action::Skipped);
                first(LogQuery {
                    realm: realm(),
                    action,
                    from: week.0,
                    to: week.1,
                    ..LogQuery::default()
                })
            }),
        ),
        (
            "company, text (a DocNumber)",
            Box::new(move |rng| {
                let text = Some(rng.random_range(100_000..docs).to_string());
                first(LogQuery { realm: realm(), text, ..LogQuery::default() })
            }),
        ),
        (
            "company, text (a customer)",
            Box::new(move |rng| {
                let text = Some(format!("customer {:04}", rng.random_range(0..CUSTOMERS)));
                first(LogQuery { realm: realm(), text, ..LogQuery::default() })
            }),
        ),
        (
            "all companies, text (a QBO id)",
            Box::new(move |rng| {
                let text = Some(rng.random_range(1..=rows / 2).to_string());
                first(LogQuery { text, ..LogQuery::default() })
            }),
        ),
        (
            "all companies, failed",
            Box::new(move |_| {
                first(LogQuery { action: Some(Action::Failed), ..LogQuery::default() })
            }),
        ),
        (
            "all companies, rare reason amount_overflow",
            Box::new(move |_| {
                first(LogQuery { reason: Some(Reason::AmountOverflow), ..LogQuery::default() })
            }),
        ),
        (
            "company, failed, oldest first",
            Box::new(move |_| LogQuery {
                realm: realm(),
                action: Some(Action::Failed),
                ..LogQuery::default()
            }),
        ),
        (
            "company, skipped, deep page (cursor mid-log)",
            Box::new(move |rng| {
                let before = Some(middle[rng.random_range(0..middle.len())]);
                first(LogQuery {
                    realm: realm(),
                    action: Some(Action::Skipped),
                    before,
                    ..LogQuery::default()
                })
            }),
        ),
    ]
}

/// Cursors of the company's rows in the middle half of its log, read through pages.
async fn middle_cursors(store: &SqliteStore, rows: u64) -> Result<Vec<LogCursor>, Failure> {
    let from = instant(YEAR_SECS / 4);
    let to = instant(YEAR_SECS * 3 / 4);
    let mut cursors = Vec::new();
    for k in 0..64_i64 {
        let at = from + (to - from) * i32::try_from(k)? / 64;
        let q = LogQuery {
            realm: Some(REALMS[0].0.into()),
            from: Some(at),
            limit: Some(1),
            ..LogQuery::default()
        };
        let page: LogPage = store.log_page(&q).await?;
        cursors.extend(page.cursors);
    }
    if cursors.is_empty() {
        return Err(format!("no rows in the middle of a log of {rows}").into());
    }
    Ok(cursors)
}

async fn measure(store: &SqliteStore, cli: &Cli) -> Result<(), Failure> {
    let middle = middle_cursors(store, cli.rows).await?;
    let mut rng = SmallRng::seed_from_u64(SEED);
    println!(
        "| view (newest first, 50 rows a page unless said) | rows (most) | p50 ms | p99 ms | max ms |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for (name, make) in views(cli.rows, middle) {
        let mut times = Vec::with_capacity(cli.reps);
        let mut rows = 0;
        for _ in 0..cli.reps {
            let query = make(&mut rng);
            let started = Instant::now();
            let page = store.log_page(&query).await?;
            times.push(started.elapsed());
            rows = rows.max(page.entries.len());
        }
        times.sort();
        let at = |q: f64| {
            ms(times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1])
        };
        println!("| {name} | {rows} | {:.2} | {:.2} | {:.2} |", at(0.50), at(0.99), at(1.0));
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
