//! The fleet benchmark: worker processes (`fleet_worker`) sharing one PostgreSQL database, the
//! simulators on loopback in this process with Ordoro's limit per account.
//!
//! ```text
//! cargo run --release -p qbo-ordoro-testsuite --bin bench_fleet
//! cargo run --release -p qbo-ordoro-testsuite --bin bench_fleet -- --help
//! ```
//!
//! - **Busy**: 1,000 companies with 20 eligible sales each (300 pairs of companies share an
//!   Ordoro account, the other 400 have one each), synced from an empty database by 1, 2 and 4
//!   workers in turn: orders a second in total, PostgreSQL transactions a second (the delta of
//!   `pg_stat_database.xact_commit`), the slowest company's lag (from the workers' start until
//!   its last order, read per account: a shared account's last order is its slower company's),
//!   the peak resident memory of each worker (`VmHWM`).
//! - **Idle**: 10,000 companies without sales on one worker, polled every `--idle-poll-secs`:
//!   the worker's CPU seconds over a window of a few minutes after every company has run once,
//!   extrapolated to an hour, and its peak memory.
//!
//! It starts its own throwaway PostgreSQL cluster (`tests/it/support/postgres.rs`) and builds
//! `fleet_worker` in its own profile through cargo (when run by cargo), and prints Markdown tables.

// Shared with the test suite, where the parts the benchmark does not use are used.
#[allow(dead_code)]
#[path = "../it/support/fleet_procs.rs"]
mod fleet;
#[allow(dead_code)]
#[path = "../fleet_worker/config.rs"]
mod fleet_config;
#[allow(dead_code)]
#[path = "../it/support/postgres.rs"]
mod postgres;

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use clap::Parser;
use qbo_ordoro::sim::ordoro::DuplicatePolicy;
use qbo_ordoro::sim::sample::generate_eligible;

use fleet::{Sims, WorkerProcess, realm};
use fleet_config::WorkerConfig;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "bench_fleet", about = "The fleet benchmark: worker processes on one PostgreSQL.")]
struct Cli {
    /// Companies of the busy runs
    #[arg(long, default_value_t = 1000)]
    companies: usize,
    /// Eligible sales per company
    #[arg(long, default_value_t = 20)]
    sales: usize,
    /// Pairs of companies sharing an Ordoro account (the others have one each)
    #[arg(long, default_value_t = 300)]
    pairs: usize,
    /// Worker processes of each busy run, comma-separated
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4])]
    workers: Vec<usize>,
    /// Companies run at once by each worker
    #[arg(long, default_value_t = 16)]
    max_concurrent: usize,
    /// Companies of the idle run (0: no idle run)
    #[arg(long, default_value_t = 10_000)]
    idle_companies: usize,
    /// The idle run's poll interval, in seconds
    #[arg(long, default_value_t = 60)]
    idle_poll_secs: u64,
    /// The idle run's measured window, in seconds (after every company has run once)
    #[arg(long, default_value_t = 180)]
    idle_window_secs: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Failure::from)
        .and_then(|runtime| runtime.block_on(bench(&cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_fleet: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(cli: &Cli) -> Result<(), Failure> {
    let worker = worker_binary()?;
    let dir = Scratch::new()?;
    println!(
        "fleet benchmark: {} companies x {} eligible sales ({} pairs share an Ordoro account), \
         {} per worker at once; simulators on loopback in this process, Ordoro's 500 requests a \
         minute per account (the fleet's budget: 480); worker binary {}\n",
        cli.companies,
        cli.sales,
        cli.pairs,
        cli.max_concurrent,
        worker.display()
    );
    let mut busy = Vec::new();
    for &workers in &cli.workers {
        let row = busy_run(cli, &worker, &dir.0, workers).await?;
        eprintln!("  {workers} worker(s): {:.0} orders/s", row.orders_per_second);
        busy.push(row);
    }
    println!(
        "| workers | orders | wall (s) | orders/s | PostgreSQL xact/s | slowest company's lag (s) \
         | peak RSS per worker (MB) | CPU per worker (s) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in &busy {
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.0} | {:.1} | {} | {} |",
            row.workers,
            row.orders,
            row.wall.as_secs_f64(),
            row.orders_per_second,
            row.xact_per_second,
            row.slowest_lag.as_secs_f64(),
            row.peak_mb.iter().map(|m| format!("{m:.0}")).collect::<Vec<_>>().join(", "),
            row.cpu
                .iter()
                .map(|c| format!("{:.1}", c.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if let (Some(first), Some(last)) = (busy.first(), busy.last()) {
        println!(
            "\nscaling {} -> {} workers: {:.2}x the orders a second",
            first.workers,
            last.workers,
            last.orders_per_second / first.orders_per_second
        );
    }
    if cli.idle_companies > 0 {
        let idle = idle_run(cli, &worker, &dir.0).await?;
        println!(
            "\n| idle companies | workers | poll | runs a second | CPU in {:.0} s window (s) | CPU \
             per hour (s, extrapolated) | peak RSS (MB) | PostgreSQL xact/s |",
            idle.window.as_secs_f64()
        );
        println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
        println!(
            "| {} | 1 | {} s | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} |",
            cli.idle_companies,
            cli.idle_poll_secs,
            idle.runs_per_second,
            idle.cpu.as_secs_f64(),
            idle.cpu.as_secs_f64() * 3600.0 / idle.window.as_secs_f64(),
            idle.peak_mb,
            idle.xact_per_second,
        );
    }
    Ok(())
}

struct BusyRow {
    workers: usize,
    orders: usize,
    wall: Duration,
    orders_per_second: f64,
    xact_per_second: f64,
    slowest_lag: Duration,
    peak_mb: Vec<f64>,
    cpu: Vec<Duration>,
}

/// The worker's settings in the benchmark: leases of 10 s, polls every 5 s.
fn bench_config(sims: &Sims, database: &str, name: &str, max_concurrent: usize) -> WorkerConfig {
    let mut config = sims.worker_config(database, name);
    config.lease_ms = 10_000;
    config.write_margin_ms = 4_000;
    config.ordoro_timeout_ms = 2_000;
    config.poll_ms = 5_000;
    config.pool_size = max_concurrent + 4;
    config.max_concurrent = max_concurrent;
    config
}

async fn busy_run(
    cli: &Cli,
    binary: &std::path::Path,
    dir: &std::path::Path,
    workers: usize,
) -> Result<BusyRow, Failure> {
    let database = postgres::cluster().new_database().await;
    let coordinator = fleet::coordinator(&database).await;
    let accounts = cli.companies - cli.pairs.min(cli.companies / 2);
    let sims = Sims::start(accounts, |_| DuplicatePolicy::Reject).await;
    let now = sims.clock.now();
    let mut expected = vec![0usize; accounts];
    for i in 0..cli.companies {
        sims.add_company(coordinator.as_ref(), i).await;
        let start = now - chrono::Duration::hours(1);
        for sale in generate_eligible(i as u64, cli.sales, start, chrono::Duration::seconds(1)) {
            sims.qbo.insert(&realm(i), sale.txn);
        }
        expected[i % accounts] += cli.sales;
    }
    let admin = fleet::admin_connection(&database).await;
    let commits_before = xact_commit(&admin).await?;
    let started = Instant::now();
    let mut processes: Vec<WorkerProcess> = (0..workers)
        .map(|w| {
            let config =
                bench_config(&sims, &database, &format!("busy{workers}-{w}"), cli.max_concurrent);
            WorkerProcess::spawn(binary, dir, &config)
        })
        .collect();
    let total: usize = expected.iter().sum();
    let mut done_at: Vec<Option<Duration>> = vec![None; accounts];
    let deadline = Duration::from_secs(1800);
    loop {
        let elapsed = started.elapsed();
        for (a, account) in sims.accounts.iter().enumerate() {
            if done_at[a].is_none() && account.sim.stats().writes as usize >= expected[a] {
                done_at[a] = Some(elapsed);
            }
        }
        if done_at.iter().all(Option::is_some) {
            break;
        }
        if elapsed > deadline || processes.iter_mut().any(WorkerProcess::has_exited) {
            let logs: Vec<String> = processes.iter().map(WorkerProcess::log_tail).collect();
            return Err(format!(
                "{workers} worker(s): {} of {total} orders after {elapsed:?}\n{}",
                sims.orders(),
                logs.join("\n")
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wall = done_at.iter().flatten().max().copied().unwrap_or_default();
    let peak_mb = processes.iter().map(|p| p.peak_memory_kb() as f64 / 1024.0).collect();
    let cpu = processes.iter().map(WorkerProcess::cpu_time).collect();
    // A backend's statistics are flushed when it ends: the count is whole once they have.
    for p in &mut processes {
        p.terminate(Duration::from_secs(30));
    }
    let commits = xact_commit(&admin).await? - commits_before;
    let orders = sims.orders();
    let repeated: u32 =
        sims.accounts.iter().flat_map(|a| a.sim.duplicate_creates().into_values()).sum();
    if orders != total || repeated != 0 {
        return Err(
            format!("{orders} orders for {total} sales, {repeated} repeated creates").into()
        );
    }
    Ok(BusyRow {
        workers,
        orders,
        wall,
        orders_per_second: orders as f64 / wall.as_secs_f64(),
        xact_per_second: commits as f64 / wall.as_secs_f64(),
        slowest_lag: wall,
        peak_mb,
        cpu,
    })
}

struct IdleRow {
    window: Duration,
    cpu: Duration,
    runs_per_second: f64,
    peak_mb: f64,
    xact_per_second: f64,
}

async fn idle_run(
    cli: &Cli,
    binary: &std::path::Path,
    dir: &std::path::Path,
) -> Result<IdleRow, Failure> {
    let database = postgres::cluster().new_database().await;
    let coordinator = fleet::coordinator(&database).await;
    let sims = Sims::start(cli.idle_companies.min(100), |_| DuplicatePolicy::Reject).await;
    for i in 0..cli.idle_companies {
        sims.add_company(coordinator.as_ref(), i).await;
    }
    let mut config = bench_config(&sims, &database, "idle-0", cli.max_concurrent);
    config.poll_ms = cli.idle_poll_secs * 1000;
    let mut process = WorkerProcess::spawn(binary, dir, &config);
    // The first round: every company due at once.
    let first_round = Instant::now();
    loop {
        let runs = coordinator.companies().await?.iter().filter(|c| c.runs > 0).count();
        if runs == cli.idle_companies {
            break;
        }
        if process.has_exited() || first_round.elapsed() > Duration::from_secs(1800) {
            return Err(format!("idle: {runs} companies ran\n{}", process.log_tail()).into());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eprintln!(
        "  idle: first round of {} companies in {:?}",
        cli.idle_companies,
        first_round.elapsed()
    );
    let admin = fleet::admin_connection(&database).await;
    let runs_before: u64 = coordinator.companies().await?.iter().map(|c| c.runs).sum();
    let commits_before = xact_commit(&admin).await?;
    let cpu_before = process.cpu_time();
    let window = Duration::from_secs(cli.idle_window_secs);
    tokio::time::sleep(window).await;
    let cpu = process.cpu_time().saturating_sub(cpu_before);
    let commits = xact_commit(&admin).await? - commits_before;
    let runs: u64 =
        coordinator.companies().await?.iter().map(|c| c.runs).sum::<u64>() - runs_before;
    let peak_mb = process.peak_memory_kb() as f64 / 1024.0;
    process.terminate(Duration::from_secs(60));
    Ok(IdleRow {
        window,
        cpu,
        runs_per_second: runs as f64 / window.as_secs_f64(),
        peak_mb,
        xact_per_second: commits as f64 / window.as_secs_f64(),
    })
}

/// Transactions committed in the current database so far (PostgreSQL's statistics, flushed
/// first so that the count is current).
async fn xact_commit(admin: &tokio_postgres::Client) -> Result<i64, Failure> {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let row = admin
        .query_one(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// The worker program in this program's profile: built through cargo when cargo runs this,
/// else expected beside this program.
fn worker_binary() -> Result<PathBuf, Failure> {
    let Ok(cargo) = std::env::var("CARGO") else {
        let beside = std::env::current_exe()?.with_file_name("fleet_worker");
        return if beside.exists() {
            Ok(beside)
        } else {
            Err(format!(
                "{} is missing: build it (cargo build --release -p \
                         qbo-ordoro-testsuite --bins)",
                beside.display()
            )
            .into())
        };
    };
    let mut command = Command::new(cargo);
    command.args(["build", "--quiet", "-p", "qbo-ordoro-testsuite", "--bin", "fleet_worker"]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let output = command.arg("--message-format=json").output()?;
    if !output.status.success() {
        return Err(format!(
            "building fleet_worker failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| {
            msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "fleet_worker"
        })
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo did not name the fleet_worker executable".into())
}

/// A directory of its own for the workers' configurations and logs, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Self> {
        let path =
            std::env::temp_dir().join(format!("qbo-ordoro-bench-fleet-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
