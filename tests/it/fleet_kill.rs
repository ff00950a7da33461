//! The proof of issue 16 across processes: three `fleet_worker` processes share 200 simulated
//! companies through one PostgreSQL database while sales keep arriving, and the test kills them
//! (SIGKILL, then a new worker under a new name), freezes one right before an order create leaves
//! and one right after its answer arrived (the workers' own hooks, resumed only once their leases
//! and the settle bound are long over), stops one at a random moment (SIGSTOP for longer than a
//! lease) and drops a worker's database connections. The oracle: exactly one order per eligible
//! sale in its Ordoro account, none missing, none for a sale that is not eligible, and every
//! company's cursors past its last sale.
//!
//! Half the Ordoro accounts refuse a repeated `order_id`, half take it as a revision: under
//! `Allow` no client-side fencing closes the window between the last lease check and a create
//! reaching Ordoro (ARCHITECTURE.md), so the frozen-mid-create proof runs under the other two.
//!
//! It needs PostgreSQL (`support::postgres`): it fails, never skips, when the server cannot start.
//! The figures line it prints (`--nocapture`) is the one BENCHMARKS.md and the notes quote.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use qbo_ordoro::model::qbo::{EntityKind, Transaction};
use qbo_ordoro::sim::ordoro::DuplicatePolicy;
use qbo_ordoro::sim::sample::{Expected, generate};
use rand::rngs::SmallRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

use crate::support::fleet_config::WorkerConfig;
use crate::support::fleet_procs::{self as fleet, Sims, WorkerProcess, realm};
use crate::support::postgres::cluster;

const SEED: u64 = 20_260_916;
const COMPANIES: usize = 200;
const ACCOUNTS: usize = 10;
const WORKERS: usize = 3;
const SALES_PER_COMPANY: usize = 3;
/// How long sales arrive and the disturbances last.
const CHAOS_FOR: Duration = Duration::from_secs(40);
/// A SIGKILL (and a restart) this often.
const KILL_EVERY: Duration = Duration::from_secs(5);
/// When, into the chaos, a random worker is stopped, and when one's connections are dropped.
const STOP_AT: [u64; 2] = [12, 27];
const DROP_AT: [u64; 3] = [8, 20, 33];
/// The most the fleet may take to catch up once the disturbances end.
const SETTLE_WITHIN: Duration = Duration::from_secs(60);

/// A sale as inserted in QBO, with what the oracle expects of it.
struct Sale {
    company: usize,
    txn: Transaction,
    expected: Expected,
    at: DateTime<Utc>,
}

/// A worker slot: its current process and what the test is doing to it.
struct Slot {
    process: WorkerProcess,
    /// Its freeze hook has not fired yet: never killed or stopped meanwhile.
    hooked: bool,
    /// Frozen by its hook since then (seen stopped).
    frozen_since: Option<Instant>,
    /// Stopped by the test until then.
    stopped_until: Option<Instant>,
}

impl Slot {
    fn disturbable(&self) -> bool {
        !self.hooked && self.frozen_since.is_none() && self.stopped_until.is_none()
    }
}

#[derive(Default, Debug)]
struct Figures {
    kills: u64,
    stops: u64,
    freezes_before_send: u64,
    freezes_after_send: u64,
    dropped_connections: u64,
}

/// Everything that runs the chaos: the workers, their configurations, the figures.
struct Chaos<'a> {
    sims: &'a Sims,
    database: &'a str,
    dir: &'a Path,
    slots: Vec<Slot>,
    generation: usize,
    figures: Figures,
    rng: SmallRng,
    stale_bound: Duration,
}

impl Chaos<'_> {
    fn config(&mut self, slot: usize) -> WorkerConfig {
        self.generation += 1;
        self.sims.worker_config(self.database, &format!("w{slot}-{}", self.generation))
    }

    fn spawn(&mut self, config: &WorkerConfig) -> WorkerProcess {
        WorkerProcess::spawn(Path::new(env!("CARGO_BIN_EXE_fleet_worker")), self.dir, config)
    }

    /// Worker 0 freezes before its 4th create leaves, worker 1 after its 4th is answered.
    fn start(&mut self) {
        for slot in 0..WORKERS {
            let mut config = self.config(slot);
            match slot {
                0 => config.freeze_before_send = Some(4),
                1 => config.freeze_after_send = Some(4),
                _ => {}
            }
            let hooked = config.freeze_before_send.is_some() || config.freeze_after_send.is_some();
            let process = self.spawn(&config);
            self.slots.push(Slot { process, hooked, frozen_since: None, stopped_until: None });
        }
    }

    /// Freezes seen, and frozen or stopped workers resumed when their time is up.
    fn watch(&mut self) {
        let now = Instant::now();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if slot.hooked && slot.process.is_stopped() {
                slot.hooked = false;
                slot.frozen_since = Some(now);
                match i {
                    0 => self.figures.freezes_before_send += 1,
                    _ => self.figures.freezes_after_send += 1,
                }
            }
            // Resumed only after its lease and the settle bound are over, with a margin.
            if slot.frozen_since.is_some_and(|at| now >= at + self.stale_bound + LATE) {
                slot.process.signal("CONT");
                slot.frozen_since = None;
            }
            if slot.stopped_until.is_some_and(|until| now >= until) {
                slot.process.signal("CONT");
                slot.stopped_until = None;
            }
        }
    }

    fn pick(&mut self) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.slots.len())
            .filter(|&i| self.slots[i].disturbable() && !self.slots[i].process.has_exited())
            .collect();
        candidates.choose(&mut self.rng).copied()
    }

    /// SIGKILL a random worker and start a new one (a new name) in its place.
    fn kill_one(&mut self) {
        let Some(i) = self.pick() else { return };
        self.slots[i].process.kill();
        self.figures.kills += 1;
        let config = self.config(i);
        self.slots[i].process = self.spawn(&config);
    }

    /// SIGSTOP a random worker for longer than its lease.
    fn stop_one(&mut self) {
        let Some(i) = self.pick() else { return };
        self.slots[i].process.signal("STOP");
        let stopped_for =
            self.stale_bound / 2 + Duration::from_millis(self.rng.random_range(0..3000));
        self.slots[i].stopped_until = Some(Instant::now() + stopped_for);
        self.figures.stops += 1;
    }

    async fn drop_one(&mut self, admin: &tokio_postgres::Client) {
        let Some(i) = self.pick() else { return };
        self.figures.dropped_connections +=
            fleet::drop_connections(admin, &self.slots[i].process.name).await;
    }

    fn logs(&self) -> String {
        self.slots.iter().map(|s| s.process.log_tail()).collect::<Vec<_>>().join("\n\n")
    }
}

/// Saves a sale in QBO now (its times the clock's) and remembers it for the oracle.
fn insert(sims: &Sims, company: usize, mut txn: Transaction, expected: Expected) -> Sale {
    txn.doc.meta_data = None;
    let kind = txn.kind;
    let doc = sims.qbo.insert(&realm(company), txn);
    let at = doc.meta_data.as_ref().and_then(|m| m.last_updated_time).expect("QBO stamps a sale");
    Sale { company, txn: Transaction { kind, doc }, expected, at: at.with_timezone(&Utc) }
}

/// The margin past a bound before a frozen worker is resumed.
const LATE: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_killed_frozen_mid_create_stopped_and_cut_off_make_exactly_one_order_per_sale() {
    let wall = Instant::now();
    let database = cluster().new_database().await;
    let coordinator = fleet::coordinator(&database).await;
    let sims = Sims::start(ACCOUNTS, |i| {
        if i % 2 == 0 { DuplicatePolicy::Reject } else { DuplicatePolicy::AcceptAsRevision }
    })
    .await;
    for i in 0..COMPANIES {
        sims.add_company(coordinator.as_ref(), i).await;
    }
    let mut rng = SmallRng::seed_from_u64(SEED);
    let now = sims.clock.now();
    let mut plan: Vec<(usize, Transaction, Expected)> = (0..COMPANIES)
        .flat_map(|i| {
            generate(SEED + i as u64, SALES_PER_COMPANY, now, chrono::Duration::seconds(1))
                .into_iter()
                .map(move |s| (i, s.txn, s.expected))
        })
        .collect();
    plan.shuffle(&mut rng);
    let admin = fleet::admin_connection(&database).await;
    let dir = tempfile::tempdir().expect("a directory for the workers' files");
    let stale_bound = sims.worker_config(&database, "probe").stale_bound();
    let mut chaos = Chaos {
        sims: &sims,
        database: &database,
        dir: dir.path(),
        slots: Vec::new(),
        generation: 0,
        figures: Figures::default(),
        rng,
        stale_bound,
    };
    chaos.start();

    // Sales arrive evenly through the chaos; the disturbances happen on their schedule.
    let mut sales: Vec<Sale> = Vec::new();
    let started = Instant::now();
    let mut next_kill = KILL_EVERY;
    let (mut stops, mut drops) = (STOP_AT.iter().peekable(), DROP_AT.iter().peekable());
    let total = plan.len();
    let mut plan = plan.into_iter();
    while started.elapsed() < CHAOS_FOR {
        let elapsed = started.elapsed();
        let due = (elapsed.as_secs_f64() / CHAOS_FOR.as_secs_f64() * total as f64) as usize;
        while sales.len() < due.min(total) {
            let Some((company, txn, expected)) = plan.next() else { break };
            sales.push(insert(&sims, company, txn, expected));
        }
        chaos.watch();
        if elapsed >= next_kill {
            chaos.kill_one();
            next_kill += KILL_EVERY;
        }
        if stops.next_if(|&&s| elapsed >= Duration::from_secs(s)).is_some() {
            chaos.stop_one();
        }
        if drops.next_if(|&&s| elapsed >= Duration::from_secs(s)).is_some() {
            chaos.drop_one(&admin).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (company, txn, expected) in plan {
        sales.push(insert(&sims, company, txn, expected));
    }
    // The disturbances end: frozen and stopped workers are resumed on their schedule.
    while chaos.slots.iter().any(|s| s.frozen_since.is_some() || s.stopped_until.is_some()) {
        chaos.watch();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        (chaos.figures.freezes_before_send, chaos.figures.freezes_after_send),
        (1, 1),
        "both freeze hooks fire during the chaos\n{}",
        chaos.logs()
    );

    // Settle: every eligible sale ordered, every company's cursors past its last sale.
    let store = coordinator.store();
    let mut last_sale: BTreeMap<usize, DateTime<Utc>> = BTreeMap::new();
    for sale in &sales {
        let last = last_sale.entry(sale.company).or_insert(sale.at);
        *last = (*last).max(sale.at);
    }
    let settle_started = Instant::now();
    let missing = |sales: &[Sale]| -> Vec<String> {
        sales
            .iter()
            .filter(|s| s.expected == Expected::Order)
            .map(|s| (s, fleet::order_id(&realm(s.company), &s.txn)))
            .filter(|(s, id)| sims.account_of(s.company).sim.count_by_order_id(id) == 0)
            .map(|(_, id)| id)
            .collect()
    };
    let mut behind: Vec<String> = Vec::new();
    loop {
        let still_missing = missing(&sales);
        if still_missing.is_empty() {
            behind.clear();
            for (&company, &last) in &last_sale {
                for entity in EntityKind::ALL {
                    let name = format!("{}/{}", realm(company), entity.as_str());
                    let cursor = store.cursor(&name).await.expect("read a cursor");
                    if cursor.is_none_or(|c| c < last) {
                        behind.push(format!("{name} at {cursor:?}, last sale {last}"));
                    }
                }
            }
            if behind.is_empty() {
                break;
            }
        }
        assert!(
            settle_started.elapsed() < SETTLE_WITHIN,
            "the fleet did not catch up within {SETTLE_WITHIN:?}: {} eligible sales without an \
             order ({:?}), cursors behind: {:?}\n{}",
            still_missing.len(),
            &still_missing[..still_missing.len().min(10)],
            &behind[..behind.len().min(10)],
            chaos.logs()
        );
        chaos.watch();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let settled_in = settle_started.elapsed();

    // Every worker stops gracefully on SIGTERM.
    let peak_kb = chaos.slots.iter().map(|s| s.process.peak_memory_kb()).max().unwrap_or(0);
    let cpu: Duration = chaos.slots.iter().map(|s| s.process.cpu_time()).sum();
    for slot in &mut chaos.slots {
        let status = slot.process.terminate(Duration::from_secs(20));
        assert!(
            status.is_some_and(|s| s.success()),
            "worker {} ends with status 0 on SIGTERM, not {status:?}\n{}",
            slot.process.name,
            slot.process.log_tail()
        );
    }

    // The oracle.
    let figures = &chaos.figures;
    let mut duplicates = 0;
    let mut missing_orders = 0;
    let mut unwanted = 0;
    let mut eligible = 0;
    let mut per_account: BTreeMap<String, usize> = BTreeMap::new();
    for sale in &sales {
        let account = sims.account_of(sale.company);
        let count =
            account.sim.count_by_order_id(&fleet::order_id(&realm(sale.company), &sale.txn));
        if sale.expected == Expected::Order {
            eligible += 1;
            *per_account.entry(account.name.clone()).or_default() += 1;
            duplicates += count.saturating_sub(1);
            missing_orders += usize::from(count == 0);
        } else {
            unwanted += count;
        }
    }
    let orders = sims.orders();
    let stale_creates: u32 =
        sims.accounts.iter().flat_map(|a| a.sim.duplicate_creates().into_values()).sum();
    println!(
        "fleet_kill: sales={} eligible={eligible} workers={WORKERS} companies={COMPANIES} \
         accounts={ACCOUNTS} kills={} stops={} freezes_before_send={} freezes_after_send={} \
         dropped_connections={} orders={orders} duplicates={duplicates} missing={missing_orders} \
         unwanted={unwanted} repeated_creates_answered_by_policy={stale_creates} \
         settled_in={:.1}s last_workers_peak_rss={:.0}MB last_workers_cpu={:.1}s wall={:.1}s",
        sales.len(),
        figures.kills,
        figures.stops,
        figures.freezes_before_send,
        figures.freezes_after_send,
        figures.dropped_connections,
        settled_in.as_secs_f64(),
        peak_kb as f64 / 1024.0,
        cpu.as_secs_f64(),
        wall.elapsed().as_secs_f64(),
    );
    assert_eq!(
        (duplicates, missing_orders, unwanted),
        (0, 0, 0),
        "exactly one order per eligible sale"
    );
    for account in &sims.accounts {
        assert_eq!(
            account.sim.orders().len(),
            per_account.get(&account.name).copied().unwrap_or(0),
            "account {} holds an order for each of its eligible sales and nothing else",
            account.name
        );
    }
    assert_eq!(orders, eligible);
    assert!(figures.kills >= 5, "the workers were killed several times: {figures:?}");
    assert!(figures.stops >= 1 && figures.dropped_connections >= 1, "{figures:?}");
}
