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
//!
//! `--web` reads the same views as a person does: the log page of `qbo_ordoro::web` (the
//! `/companies/{realm}/log` route with the view's filters as its form sends them), served by a
//! `Connector` over the store on a loopback port and fetched over HTTP, so each figure includes
//! the query, the template and the socket. Views the page cannot show (across companies, oldest
//! first) are left out; date ranges become whole days.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
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
    /// Read the views through the web connector's log page over HTTP
    #[arg(long)]
    web: bool,
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
    let store = Arc::new(SqliteStore::open(&path)?);
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
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = if cli.web {
        runtime.block_on(web::measure(store.clone(), cli))
    } else {
        runtime.block_on(measure(&store, cli))
    };
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

fn print_header() {
    println!(
        "| view (newest first, 50 rows a page unless said) | rows (most) | p50 ms | p99 ms | max ms |"
    );
    println!("| --- | --- | --- | --- | --- |");
}

/// Prints a view's row of the table from its sorted times.
fn print_row(name: &str, rows: usize, times: &mut [Duration]) {
    times.sort();
    let at =
        |q: f64| ms(times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1]);
    println!("| {name} | {rows} | {:.2} | {:.2} | {:.2} |", at(0.50), at(0.99), at(1.0));
}

async fn measure(store: &SqliteStore, cli: &Cli) -> Result<(), Failure> {
    let middle = middle_cursors(store, cli.rows).await?;
    let mut rng = SmallRng::seed_from_u64(SEED);
    print_header();
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
        print_row(name, rows, &mut times);
    }
    Ok(())
}

/// The views through the web connector's log page.
mod web {
    use std::sync::Arc;
    use std::time::Instant;

    use bytes::Bytes;
    use qbo_ordoro::sim::ordoro::OrdoroSim;
    use qbo_ordoro::sim::qbo::QboSim;
    use qbo_ordoro::store::{LogQuery, SqliteStore};
    use qbo_ordoro::transport::{HttpTransport, ReqwestTransport, SharedTransport};
    use qbo_ordoro::web::Connector;
    use qbo_ordoro::{Clock, OrdoroClient, QboClient, SyncEngine, TokenStore, TokioClock};
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::{Cli, Failure, REALMS, SEED, middle_cursors, print_header, print_row, views};

    /// The page's query string for `q`, or `None` for a view the page cannot show.
    fn page_query(q: &LogQuery) -> Option<String> {
        if q.realm.is_none() || !q.newest_first {
            return None;
        }
        let mut out = form_urlencoded::Serializer::new(String::new());
        if let Some(action) = q.action {
            out.append_pair("action", action.as_str());
        }
        if let Some(reason) = q.reason {
            out.append_pair("reason", reason.as_str());
        }
        if let Some(entity) = q.entity {
            out.append_pair("entity", &entity.as_str().to_ascii_lowercase());
        }
        if let Some(from) = q.from {
            out.append_pair("from", &from.date_naive().to_string());
        }
        if let Some(to) = q.to {
            out.append_pair("to", &to.date_naive().to_string());
        }
        if let Some(text) = &q.text {
            out.append_pair("q", text);
        }
        if let Some(before) = q.before {
            out.append_pair("before", &before.to_string());
        }
        Some(out.finish())
    }

    /// A connector over `store` (its first company connected to simulated services that hold
    /// no sales, so its scheduler's runs write nothing), served on a loopback port.
    async fn serve(store: Arc<SqliteStore>) -> Result<(String, Connector), Failure> {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::system());
        let qbo = Arc::new(QboSim::new(clock.clone()));
        let ordoro = Arc::new(OrdoroSim::new(clock.clone()));
        let realm = REALMS[0].0;
        store.save_token(realm, &qbo.connect(realm)).await?;
        let (s, c) = (store.clone(), clock.clone());
        let connector = Connector::builder(store, clock)
            .engine(move |realm| {
                let wire = SharedTransport::from_arc(qbo.clone());
                let q = QboClient::new(qbo.client_config(realm), wire, c.clone(), s.clone())?;
                let wire = SharedTransport::from_arc(ordoro.clone());
                let o = OrdoroClient::new(ordoro.client_config(), wire, c.clone())?;
                Ok(SyncEngine::builder()
                    .qbo(Arc::new(q))
                    .ordoro(Arc::new(o))
                    .store(s.clone())
                    .clock(c.clone()))
            })
            .build()?;
        connector.add_company(realm).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}/companies/{realm}/log", listener.local_addr()?);
        let router = connector.router();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok((base, connector))
    }

    /// One GET of the page; its status and body.
    async fn fetch(
        client: &ReqwestTransport,
        url: &str,
        cookie: &mut Option<String>,
    ) -> Result<(u16, String), Failure> {
        let mut request = http::Request::get(url);
        if let Some(cookie) = cookie.as_deref() {
            request = request.header(http::header::COOKIE, cookie);
        }
        let response = client.send(request.body(Bytes::new())?).await?;
        if let Some(set) = response.headers().get(http::header::SET_COOKIE) {
            *cookie = set.to_str()?.split(';').next().map(str::to_owned);
        }
        Ok((response.status().as_u16(), String::from_utf8_lossy(response.body()).into_owned()))
    }

    pub async fn measure(store: Arc<SqliteStore>, cli: &Cli) -> Result<(), Failure> {
        let middle = middle_cursors(&store, cli.rows).await?;
        let (base, connector) = serve(store).await?;
        let client = ReqwestTransport::new()?;
        let mut cookie = None;
        let mut rng = SmallRng::seed_from_u64(SEED);
        println!("the log page over HTTP: {base}\n");
        print_header();
        for (name, make) in views(cli.rows, middle) {
            let mut times = Vec::with_capacity(cli.reps);
            let mut rows = 0;
            for _ in 0..cli.reps {
                let Some(query) = page_query(&make(&mut rng)) else { break };
                let started = Instant::now();
                let (status, body) =
                    fetch(&client, &format!("{base}?{query}"), &mut cookie).await?;
                times.push(started.elapsed());
                if status != 200 {
                    return Err(format!("{name}: the page answered {status}: {body}").into());
                }
                rows = rows.max(body.matches("<tr class=\"entry\"").count());
            }
            if !times.is_empty() {
                print_row(name, rows, &mut times);
            }
        }
        connector.shutdown().await;
        Ok(())
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
