//! A crash at every port call: one fixed scenario (three dozen sales, faults off but for one
//! create that times out and is applied late, against an Ordoro that takes a repeated order id
//! as a second order and whose list lags the writes) is run once
//! cleanly to count the engine's port calls (QBO, Ordoro and store calls: every await where a
//! `kill -9` can stop the process between two effects), then, for every k, run again with the
//! process killed at the k-th call (before the call reaches its service, and again after its
//! answer came back), restarted a minute later on the same store and services, and run to the
//! end. Every variant must meet the invariants of `support::sim` (cursor claims after each run and
//! crash, exactly one order per eligible sale saying what its last version says, voids and
//! deletes cancelled per the policy, one log entry per handled version). Each run meets a
//! rejected access token, so token loads and saves are among the calls: a crash between a token
//! refresh and its save must be followed by a run that stops for a reconnect, writing nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use qbo_ordoro::engine::{InitialSince, RunOptions, SyncConfig};
use qbo_ordoro::mapping::MappingConfig;
use qbo_ordoro::model::qbo::EntityKind;
use qbo_ordoro::sim::Fault;
use qbo_ordoro::sim::ordoro::{DuplicatePolicy, OrdoroSim, OrdoroSimConfig, SimLatency};
use qbo_ordoro::sim::qbo::QboSim;
use qbo_ordoro::sim::sample::generate;
use qbo_ordoro::store::MemoryStore;
use qbo_ordoro::{Clock, Store, TokioClock};

use crate::support::sim::{self, CrashWhen, Edit, RunEnd, Wiring, World, run_once};

const SALES: usize = 36;

fn start() -> DateTime<Utc> {
    // The evening before the end of daylight-saving time in 2024: the runs cross it.
    Utc.with_ymd_and_hms(2024, 11, 3, 7, 0, 0).single().expect("a valid instant")
}

/// What one variant of the scenario saw.
#[derive(Debug, Default)]
struct Outcome {
    crashed: bool,
    pending_at_crash: bool,
    /// The crash fell between QBO's answer to a token refresh and its save.
    token_lost: bool,
    calls: u64,
}

fn config() -> SyncConfig {
    SyncConfig {
        mapping: MappingConfig::default().with_cart(Some(sim::CART)),
        initial_since: InitialSince::At(start() - chrono::Duration::hours(1)),
        page_size: 7,
        update_existing: true,
        cancel_on_void: true,
        max_concurrency: 3,
        ..SyncConfig::default()
    }
}

/// Runs the engine until a run returns, restarting it after a crash; checks the cursor claims
/// after each crash and run. A crash that lost the refresh token must be followed by a run that
/// stops for a reconnect and writes nothing; the merchant then reconnects and the runs go on.
async fn run_through(
    world: &World,
    engine: &mut qbo_ordoro::engine::SyncEngine,
    outcome: &mut Outcome,
) {
    let mut token_lost = false;
    loop {
        let before = world.before_run().await;
        let ended =
            run_once(world, engine, &RunOptions::default()).await.expect("no store failure");
        if std::mem::take(&mut token_lost) {
            world
                .check_stopped_for_reconnect(&ended, &before)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            world.connect().await;
            world.check_cursors().await.unwrap_or_else(|e| panic!("after the stop: {e}"));
            continue;
        }
        match ended {
            RunEnd::Done(_) | RunEnd::NoRun => break,
            RunEnd::Crashed => {
                outcome.crashed = true;
                outcome.pending_at_crash |=
                    !world.store.pending_entries(sim::REALM).await.unwrap().is_empty();
                world.switch.revive();
                world.switch.disarm();
                world.check_cursors().await.unwrap_or_else(|e| panic!("after the crash: {e}"));
                token_lost = world.token_lost().await;
                outcome.token_lost |= token_lost;
                tokio::time::sleep(Duration::from_secs(60)).await;
                *engine = world.engine();
            }
        }
        world.check_cursors().await.unwrap_or_else(|e| panic!("after a run: {e}"));
    }
    world.check_cursors().await.unwrap_or_else(|e| panic!("after a run: {e}"));
}

/// The scenario: sales over an hour, a run, edits (quantities, a reclassification, a mark, voids
/// and a delete), a second run, then a final run once everything is calm. `crash` arms the
/// switch before the first run.
async fn scenario(crash: Option<(u64, CrashWhen)>) -> Outcome {
    let clock = Arc::new(TokioClock::starting_at(start()));
    let qbo = Arc::new(QboSim::new(clock.clone()));
    // Issue 18's worst case: a repeated order id is a second order, the list lags the writes,
    // and the first create times out and is applied after the client gave up.
    let ordoro = Arc::new(OrdoroSim::with_config(
        clock.clone(),
        OrdoroSimConfig {
            latency: SimLatency::zero(),
            duplicate_policy: DuplicatePolicy::Allow,
            seed: 7,
            list_lag: Duration::from_secs(30),
            late_create: 1.0,
            late_create_delay: Duration::from_secs(30),
            ..OrdoroSimConfig::default()
        },
    ));
    ordoro.script_faults([Fault::Timeout]);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let wiring =
        Wiring { dup_row: 0.0, dup_create: 0.0, seed: 7, qbo_outage: None, ordoro_outage: None };
    let world = World::new(clock, qbo, ordoro, store, config(), &wiring);
    world.connect().await;
    let sales = generate(20_241_103, SALES, start(), chrono::Duration::milliseconds(1));
    for (i, sale) in sales.iter().enumerate() {
        // A few share a second, the rest a minute apart.
        if i % 5 != 0 {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        world.company().insert(&world.qbo, sale);
    }
    tokio::time::sleep(Duration::from_secs(120)).await;
    // Each run meets a rejected access token and refreshes it, so token loads and saves are
    // among the port calls a crash can stop.
    world.qbo.expire_access_tokens(sim::REALM);
    if let Some((k, when)) = crash {
        world.switch.arm(k, when);
    }
    let mut outcome = Outcome::default();
    let mut engine = world.engine();
    run_through(&world, &mut engine, &mut outcome).await;

    tokio::time::sleep(Duration::from_secs(600)).await;
    let keys = world.company().keys.clone();
    let edits = [
        Edit::Quantity,
        Edit::Void,
        Edit::Reclassify,
        Edit::Address,
        Edit::Quantity,
        Edit::Delete,
        Edit::MarkForOrdoro,
        Edit::Touch,
    ];
    for (i, key) in keys.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        let edit = edits[i / 3 % edits.len()];
        let now = world.clock.now();
        world.company().apply(&world.qbo, now, key, edit);
        tokio::time::sleep(Duration::from_secs(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(600)).await;
    world.qbo.expire_access_tokens(sim::REALM);
    run_through(&world, &mut engine, &mut outcome).await;
    outcome.calls = world.switch.calls();

    world.switch.disarm();
    tokio::time::sleep(Duration::from_secs(900)).await;
    let engine = world.engine();
    match run_once(&world, &engine, &RunOptions::default()).await.expect("no store failure") {
        RunEnd::Done(report) => {
            assert_eq!(report.aborted, None);
            assert_eq!(report.summary.failed, 0, "{:?}", report.entries);
        }
        RunEnd::Crashed => panic!("a crash with no crash planned"),
        RunEnd::NoRun => panic!("an incremental run always runs"),
    }
    world.check_cursors().await.unwrap_or_else(|e| panic!("after the final run: {e}"));
    world.check_final(true).await.unwrap_or_else(|e| panic!("{e}"));
    world.check_budgets(true).unwrap_or_else(|e| panic!("{e}"));
    world.check_token().await.unwrap_or_else(|e| panic!("{e}"));
    let company = world.company();
    assert!(company.txns.values().any(|t| t.voided && t.ever_eligible), "a void of a synced sale");
    assert!(company.txns.values().any(|t| t.deleted.is_some()), "a delete");
    assert!(
        company.txns.values().any(|t| t.kind == EntityKind::SalesReceipt && t.eligible()),
        "an eligible sales receipt"
    );
    outcome
}

fn in_runtime<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime")
        .block_on(f)
}

#[test]
fn a_crash_at_every_port_call_keeps_every_invariant() {
    let clean = in_runtime(scenario(None));
    assert!(!clean.crashed);
    let calls = clean.calls;
    assert!(calls > 100, "the scenario makes {calls} port calls");
    let variants: Vec<(u64, CrashWhen)> =
        (1..=calls).flat_map(|k| [(k, CrashWhen::Before), (k, CrashWhen::After)]).collect();
    // Two workers: each variant is a world of its own on its own runtime.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let pending = std::sync::atomic::AtomicU64::new(0);
    let token_lost = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while let Some(&(k, when)) =
                    variants.get(next.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
                {
                    let outcome = std::panic::catch_unwind(|| {
                        in_runtime(scenario(Some((k, when))))
                    })
                    .unwrap_or_else(|_| {
                        panic!("crash at port call {k} ({when:?}) of {calls} broke an invariant")
                    });
                    assert!(outcome.crashed, "no crash at port call {k} ({when:?}) of {calls}");
                    if outcome.pending_at_crash {
                        pending.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    if outcome.token_lost {
                        token_lost.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let (pending, token_lost) = (pending.into_inner(), token_lost.into_inner());
    println!(
        "{} crashes over {calls} port calls, {pending} with a create in doubt, {token_lost} \
         between a token refresh and its save",
        variants.len()
    );
    assert!(pending > 0, "no crash fell between a create and its commit");
    assert!(token_lost > 0, "no crash fell between a token refresh and its save");
}
