//! The fleet's coordinators: the public conformance suite
//! (`qbo_ordoro::store::conformance::coordinator`) against `MemoryCoordinator` (virtual time)
//! and `PostgresCoordinator` (a throwaway PostgreSQL cluster, real time: leases of 2 s); then
//! what is PostgreSQL's own: many workers claiming at once, `SKIP LOCKED`, a fenced write racing
//! a claim, `LISTEN/NOTIFY`, lost connections, and the log pages' query plans.

use std::sync::Arc;
use std::time::Duration;

use std::future::Future;
use std::pin::Pin;

use qbo_ordoro::ManualClock;
use qbo_ordoro::store::conformance::coordinator::Time;

/// The lease the conformance checks take: long enough for a loaded machine's database calls to
/// fit in its quarter-lease margins, short enough that a check lasts a few seconds.
const LEASE: Duration = Duration::from_secs(2);

/// What `Time::pass` returns (`futures_util::future::BoxFuture`).
type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

fn manual_pass(clock: Arc<ManualClock>) -> impl Fn(Duration) -> BoxFuture + Send + Sync {
    move |d| {
        clock.advance(d);
        Box::pin(async {})
    }
}

fn real_pass(d: Duration) -> BoxFuture {
    Box::pin(tokio::time::sleep(d))
}

/// Runs each check of the coordinator conformance suite against both coordinators, one test per
/// check and coordinator, each on a new one.
macro_rules! coordinator_suite {
    ($($check:ident),* $(,)?) => {
        mod memory_coordinator {
            $( #[tokio::test] async fn $check() {
                let start = "2026-01-01T00:00:00Z".parse().unwrap();
                let clock = std::sync::Arc::new(qbo_ordoro::ManualClock::new(start));
                let coordinator = qbo_ordoro::fleet::MemoryCoordinator::new(clock.clone());
                let pass = super::manual_pass(clock);
                let time = super::Time { pass: &pass, lease: super::LEASE };
                qbo_ordoro::store::conformance::coordinator::$check(&coordinator, &time).await;
            } )*
        }
        mod postgres_coordinator {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $check() {
                let coordinator = crate::support::postgres::coordinator().await;
                let time = super::Time { pass: &super::real_pass, lease: super::LEASE };
                qbo_ordoro::store::conformance::coordinator::$check(&coordinator, &time).await;
            } )*
        }
    };
}

coordinator_suite!(
    leases_are_claimed_renewed_released_and_expire,
    a_stale_lease_writes_nothing,
    token_saves_and_reads_are_not_fenced,
    concurrent_claimers_get_disjoint_companies,
    the_queue_keeps_known_companies_events_until_acknowledged,
    a_company_with_queued_events_is_due_now,
    ordoro_requests_are_spaced_per_account,
    companies_lists_every_company,
);

// ---------------------------------------------------------------------------------------------
// PostgresCoordinator only (on the throwaway cluster of `support::postgres`)

mod postgres_own {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use qbo_ordoro::fleet::{Coordinator, FleetCompany, Lease};
    use qbo_ordoro::store::conformance::instant;
    use qbo_ordoro::webhook::{ChangeEvent, Operation};
    use qbo_ordoro::{ErrorKind, PostgresCoordinator};

    use crate::support::postgres::{cluster, coordinator, coordinator_with};

    const MINUTE: Duration = Duration::from_secs(60);

    fn company(realm: &str) -> FleetCompany {
        FleetCompany { realm: realm.into(), ordoro_account: "acct".into() }
    }

    async fn add_companies(c: &PostgresCoordinator, n: usize) -> Vec<String> {
        let realms: Vec<String> = (0..n).map(|i| format!("r{i:04}")).collect();
        for realm in &realms {
            c.add_company(&company(realm)).await.unwrap();
        }
        realms
    }

    /// Eight workers claiming ten at a time from 200 due companies, all at once, get each
    /// company exactly once, and each lease is the company's first.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn eight_workers_claiming_at_once_get_each_of_200_companies_once() {
        let c = coordinator_with(10).await;
        let realms = add_companies(&c, 200).await;
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
        let workers = (0..8).map(|w| {
            let (c, start) = (c.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let mut mine = Vec::new();
                loop {
                    let leases = c.claim(&format!("w{w}"), 10, MINUTE).await.unwrap();
                    if leases.is_empty() {
                        return mine;
                    }
                    mine.extend(leases);
                }
            })
        });
        let mut claimed: Vec<Lease> = Vec::new();
        for worker in workers.collect::<Vec<_>>() {
            claimed.extend(worker.await.unwrap());
        }
        let unique: BTreeSet<&str> = claimed.iter().map(Lease::realm).collect();
        assert_eq!(claimed.len(), 200, "a company claimed twice or not at all");
        assert_eq!(unique.into_iter().map(str::to_owned).collect::<Vec<_>>(), realms);
        assert!(claimed.iter().all(|l| l.epoch == 1));
        assert!(c.claim("late", 10, MINUTE).await.unwrap().is_empty());
    }

    /// A claim waits on no other transaction: while another session holds five companies' rows
    /// locked (a claim or a fenced write in flight), a claim returns at once with the other
    /// fifteen; the five are claimed once the lock is gone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_claim_skips_locked_companies_instead_of_waiting() {
        let c = coordinator().await;
        add_companies(&c, 20).await;
        let mut other = c.postgres_store().pool().get().await.unwrap();
        let tx = other.transaction().await.unwrap();
        let locked = tx
            .query("SELECT realm FROM fleet_company ORDER BY realm LIMIT 5 FOR UPDATE", &[])
            .await
            .unwrap();
        let locked: BTreeSet<String> = locked.iter().map(|r| r.get(0)).collect();
        // Without SKIP LOCKED this claim would wait for the transaction above, which only ends
        // after it: the timeout would fire.
        let claim = c.claim("w1", 100, MINUTE);
        let first = tokio::time::timeout(Duration::from_secs(10), claim)
            .await
            .expect("a claim waited on another session's locks")
            .unwrap();
        let first: BTreeSet<String> = first.iter().map(|l| l.realm().to_owned()).collect();
        assert_eq!(first.len(), 15);
        assert!(first.is_disjoint(&locked), "a locked company was claimed");
        tx.rollback().await.unwrap();
        let rest = c.claim("w2", 100, MINUTE).await.unwrap();
        let rest: BTreeSet<String> = rest.iter().map(|l| l.realm().to_owned()).collect();
        assert_eq!(rest, locked);
    }

    /// A stale worker's fenced write racing the claim that takes its company over either lands
    /// before the claim (a read right after the claim sees it) or is refused and never lands:
    /// 300 rounds, the write sent from before to well after the lease's expiry.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_fenced_write_racing_a_claim_never_lands_after_it() {
        let c = coordinator().await;
        c.add_company(&company("A")).await.unwrap();
        let plain = c.store();
        let lease_for = Duration::from_millis(20);
        let (mut landed, mut refused) = (0, 0);
        for round in 0..300_u32 {
            let lease = c.claim("w1", 1, lease_for).await.unwrap().pop().expect("A is due");
            let name = format!("A/race-{round}");
            let at = instant(i64::from(round));
            let stale = c.fenced_store(&lease);
            // 0 to 39 ms after the claim (the lease lasts 20), spread over the rounds.
            let delay = Duration::from_millis(u64::from(round * 37 % 40));
            let write_name = name.clone();
            let writer = tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                stale.set_cursor(&write_name, at).await
            });
            let taken = loop {
                if let Some(taken) = c.claim("w2", 1, MINUTE).await.unwrap().pop() {
                    break taken;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            };
            assert_eq!(taken.epoch, lease.epoch + 1);
            let seen_at_claim = plain.cursor(&name).await.unwrap();
            match writer.await.unwrap() {
                Ok(()) => {
                    landed += 1;
                    assert_eq!(
                        seen_at_claim,
                        Some(at),
                        "round {round}: a write landed after the claim"
                    );
                }
                Err(e) => {
                    refused += 1;
                    assert_eq!(e.kind(), ErrorKind::LeaseLost, "round {round}: {e}");
                    assert_eq!(plain.cursor(&name).await.unwrap(), None, "round {round}");
                }
            }
            c.release(&taken, Duration::ZERO).await.unwrap();
        }
        assert!(
            landed > 0 && refused > 0,
            "the race was not run: {landed} landed, {refused} refused"
        );
    }

    /// One way of signalling work, done again and again by another coordinator (another
    /// process's) until the waiter returns.
    async fn wakes(waiter: &PostgresCoordinator, poke: impl AsyncFn()) {
        listening(waiter).await;
        let waiter = waiter.clone();
        let mut wait = tokio::spawn(async move { waiter.wait_for_work(MINUTE).await });
        // The wait's own timeout is a minute: returning within ten seconds is the notification.
        let woken = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                tokio::select! {
                    _ = &mut wait => return,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => poke().await,
                }
            }
        })
        .await;
        assert!(woken.is_ok(), "wait_for_work was not woken by a notification");
    }

    /// Makes `c` open its LISTEN connection and waits until it is open.
    async fn listening(c: &PostgresCoordinator) {
        for _ in 0..1000 {
            c.wait_for_work(Duration::from_millis(10)).await;
            if c.is_listening() {
                return;
            }
        }
        panic!("the coordinator never opened its LISTEN connection");
    }

    fn event(realm: &str) -> ChangeEvent {
        ChangeEvent {
            realm_id: realm.into(),
            entity: "Invoice".into(),
            qbo_id: "1".into(),
            operation: Operation::Create,
            event_id: None,
            occurred_at: None,
            deleted_id: None,
        }
    }

    /// Adding a company, queueing an event and releasing a company each wake another
    /// coordinator's `wait_for_work` (LISTEN/NOTIFY), well before its timeout.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn listen_notify_wakes_a_waiting_worker() {
        let config = cluster().new_database().await;
        let waiter = PostgresCoordinator::connect(&config, 2).await.unwrap();
        let other = PostgresCoordinator::connect(&config, 2).await.unwrap();
        let added = std::sync::atomic::AtomicU32::new(0);
        wakes(&waiter, async || {
            let n = added.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            other.add_company(&company(&format!("new-{n}"))).await.unwrap();
        })
        .await;
        wakes(&waiter, async || {
            assert_eq!(other.enqueue_events(&[event("new-0")]).await.unwrap(), 1);
        })
        .await;
        wakes(&waiter, async || {
            for lease in other.claim("w", 100, MINUTE).await.unwrap() {
                other.release(&lease, Duration::ZERO).await.unwrap();
            }
        })
        .await;
    }

    async fn admin() -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(
            &cluster().connection_string("postgres"),
            tokio_postgres::NoTls,
        )
        .await
        .expect("connect to the cluster's `postgres` database");
        tokio::spawn(connection);
        client
    }

    /// Ends every session of `application_name` and waits until the server has none left;
    /// returns how many it ended.
    async fn terminate(admin: &tokio_postgres::Client, application_name: &str) -> i64 {
        let row = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE application_name = $1",
                &[&application_name],
            )
            .await
            .unwrap();
        for _ in 0..200 {
            let left = admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                    &[&application_name],
                )
                .await
                .unwrap();
            if left.get::<_, i64>(0) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        row.get(0)
    }

    /// Every connection the coordinator holds (the pool's and the LISTEN one) ended by the
    /// server: the next calls work again, and so does the wake-up, over new connections.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_and_wake_ups_work_again_after_the_connections_are_dropped() {
        let config = format!("{} application_name=fleet_dropped", cluster().new_database().await);
        let c = PostgresCoordinator::connect(&config, 4).await.unwrap();
        c.add_company(&company("A")).await.unwrap();
        let lease = c.claim("w1", 1, MINUTE).await.unwrap().pop().unwrap();
        listening(&c).await;
        let ended = terminate(&admin().await, "fleet_dropped").await;
        assert!(ended >= 2, "the pool's and the listener's sessions: {ended}");

        c.renew(&lease, MINUTE).await.expect("renewing over a new connection");
        c.fenced_store(&lease).set_cursor("A/Invoice", instant(1)).await.unwrap();
        c.release(&lease, Duration::ZERO).await.unwrap();
        assert_eq!(c.claim("w1", 1, MINUTE).await.unwrap().len(), 1);
        assert!(!c.is_listening(), "the LISTEN connection was lost");
        let n = std::sync::atomic::AtomicU32::new(0);
        wakes(&c, async || {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            c.add_company(&company(&format!("B{i}"))).await.unwrap();
        })
        .await;
    }

    /// With the database refusing connections, calls fail with a store error (no panic) and
    /// `wait_for_work` lasts its timeout (no spinning); once it accepts them again, everything
    /// works.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_database_that_refuses_connections_costs_waits_not_panics() {
        let config = cluster().new_database().await;
        let dbname = config.rsplit("dbname=").next().unwrap().to_owned();
        let config = format!("{config} application_name=fleet_{dbname}");
        let c = PostgresCoordinator::connect(&config, 2).await.unwrap();
        c.add_company(&company("A")).await.unwrap();
        listening(&c).await;
        let admin = admin().await;
        admin
            .execute(&format!("ALTER DATABASE {dbname} ALLOW_CONNECTIONS false"), &[])
            .await
            .unwrap();
        terminate(&admin, &format!("fleet_{dbname}")).await;

        let err = c.claim("w1", 1, MINUTE).await.expect_err("no connection to be had");
        assert_eq!(err.kind(), ErrorKind::Store, "{err}");
        assert!(!c.is_listening());
        let asked = tokio::time::Instant::now();
        let wait = Duration::from_millis(300);
        tokio::time::timeout(Duration::from_secs(10), c.wait_for_work(wait))
            .await
            .expect("wait_for_work hung");
        assert!(asked.elapsed() >= wait, "wait_for_work returned before its timeout");

        admin
            .execute(&format!("ALTER DATABASE {dbname} ALLOW_CONNECTIONS true"), &[])
            .await
            .unwrap();
        assert_eq!(c.claim("w1", 1, MINUTE).await.unwrap().len(), 1);
    }
}

// ---------------------------------------------------------------------------------------------
// The log page's query plans on PostgreSQL

mod postgres_log_plans {
    use chrono::Duration as Span;
    use qbo_ordoro::model::qbo::EntityKind;
    use qbo_ordoro::store::conformance::instant;
    use qbo_ordoro::store::{Action, LogCursor, LogQuery};
    use qbo_ordoro::{PostgresStore, Reason};
    use serde_json::Value;

    /// Rows in the filled log.
    const ROWS: i64 = 20_000;

    /// 20,000 entries over four companies, a minute apart: actions mostly created and skipped,
    /// failures rarer, reasons spread over a few codes, a fifth of them receipts, 500
    /// customers, each row its own DocNumber, QBO id and order number. Then `ANALYZE`.
    async fn filled() -> PostgresStore {
        let store = crate::support::postgres::store().await;
        let client = store.pool().get().await.unwrap();
        client
            .execute(
                "INSERT INTO log (run_id, at, realm, entity, qbo_id, doc_number, customer, \
                    action, reason, order_number, dry_run) \
                 SELECT 'run-' || (i / 100), \
                    to_char(timestamptz '2026-01-01 00:00:00+00' + i * interval '1 minute', \
                        'YYYY-MM-DD\"T\"HH24:MI:SS') || '.000000000Z', \
                    'realm-' || (i % 4), \
                    CASE WHEN i % 5 = 0 THEN 'SalesReceipt' ELSE 'Invoice' END, \
                    i::text, 'DOC-' || i, 'Customer ' || (i % 500), \
                    (ARRAY['created', 'created', 'skipped', 'skipped', 'updated', 'failed']) \
                        [1 + (i / 7) % 6], \
                    CASE (i / 7) % 6 WHEN 2 THEN 'class_mismatch' WHEN 3 THEN \
                        (ARRAY['voided', 'unchanged', 'no_class'])[1 + i % 3] \
                        WHEN 5 THEN 'unknown_sku' END, \
                    CASE WHEN (i / 7) % 6 < 2 THEN 'ORD-' || i END, false \
                 FROM generate_series(1, $1::bigint) AS i",
                &[&ROWS],
            )
            .await
            .unwrap();
        // A small company among the big ones: 60 entries spread over the same months.
        client
            .batch_execute(
                "INSERT INTO log (run_id, at, realm, entity, qbo_id, action, reason, dry_run) \
                 SELECT 'run-s', to_char(timestamptz '2026-01-01 00:00:00+00' \
                    + i * interval '333 minutes', 'YYYY-MM-DD\"T\"HH24:MI:SS') || '.000000000Z', \
                    'realm-small', 'Invoice', 's' || i, \
                    CASE WHEN i % 3 = 0 THEN 'failed' ELSE 'created' END, \
                    CASE WHEN i % 3 = 0 THEN 'unknown_sku' END, false \
                 FROM generate_series(1, 60) AS i;
                 ANALYZE log",
            )
            .await
            .unwrap();
        store
    }

    /// Every node of a plan, depth first.
    fn nodes(plan: &Value) -> Vec<&Value> {
        let mut all = vec![plan];
        for child in plan["Plans"].as_array().into_iter().flatten() {
            all.extend(nodes(child));
        }
        all
    }

    fn node_type(node: &Value) -> &str {
        node["Node Type"].as_str().unwrap_or_default()
    }

    /// The plan's nodes, for the assertion messages.
    fn shape(plan: &Value) -> String {
        nodes(plan)
            .iter()
            .map(|n| format!("{} {}", node_type(n), n["Index Name"].as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(" / ")
    }

    /// The first page of each view the log page offers (a company; its action, reason or
    /// entity; an action or reason across companies; the whole log; free text, which also finds
    /// a customer, within a company or across), newest and oldest first, and the next page of
    /// one, reads an index of the log: no sequential scan, and no sort of more than the few
    /// rows a free-text value matches (never of the whole table or a company's share of it).
    #[tokio::test]
    async fn every_first_page_of_the_log_is_an_index_walk() {
        let store = filled().await;
        let realm = Some("realm-1".to_owned());
        let cursor = Some(LogCursor::new(instant(0) + Span::days(600), 9_000));
        let views = [
            LogQuery { realm: realm.clone(), ..Default::default() },
            LogQuery { realm: realm.clone(), action: Some(Action::Failed), ..Default::default() },
            LogQuery { realm: realm.clone(), action: Some(Action::Created), ..Default::default() },
            LogQuery { realm: realm.clone(), reason: Some(Reason::Voided), ..Default::default() },
            LogQuery {
                realm: realm.clone(),
                reason: Some(Reason::UnknownSku),
                ..Default::default()
            },
            LogQuery {
                realm: realm.clone(),
                entity: Some(EntityKind::SalesReceipt),
                ..Default::default()
            },
            LogQuery { action: Some(Action::Failed), ..Default::default() },
            LogQuery { reason: Some(Reason::Voided), ..Default::default() },
            LogQuery::default(),
            LogQuery {
                realm: realm.clone(),
                action: Some(Action::Skipped),
                before: cursor,
                ..Default::default()
            },
            LogQuery { realm: realm.clone(), text: Some("doc-4001".into()), ..Default::default() },
            LogQuery { text: Some("ORD-4001".into()), ..Default::default() },
            LogQuery {
                realm: realm.clone(),
                text: Some("customer 17".into()),
                ..Default::default()
            },
            LogQuery { text: Some("Customer 17".into()), ..Default::default() },
        ];
        for view in &views {
            for newest_first in [true, false] {
                let view = LogQuery { newest_first, ..view.clone() };
                let explained = store.log_page_plan(&view).await.unwrap();
                let plan = &explained[0]["Plan"];
                let all = nodes(plan);
                let shape = shape(plan);
                assert!(
                    all.iter().all(|n| node_type(n) != "Seq Scan"),
                    "{view:?} scans the log: {shape}"
                );
                assert!(
                    all.iter()
                        .any(|n| n["Index Name"].as_str().is_some_and(|i| i.starts_with("log_"))),
                    "{view:?} uses no index of the log: {shape}"
                );
                for sort in all.iter().filter(|n| node_type(n).contains("Sort")) {
                    let rows = sort["Plan Rows"].as_f64().unwrap_or(f64::MAX);
                    assert!(rows <= 100.0, "{view:?} sorts {rows} rows: {shape}");
                }
            }
        }
        // A small company's pages walk an index that starts with the company, rather than the
        // whole log's time order filtered (which a big company's may, a quarter of every row
        // being its own).
        let small = Some("realm-small".to_owned());
        let small_views = [
            LogQuery { realm: small.clone(), ..Default::default() },
            LogQuery { realm: small.clone(), action: Some(Action::Failed), ..Default::default() },
            LogQuery { realm: small, reason: Some(Reason::UnknownSku), ..Default::default() },
        ];
        for view in small_views {
            let view = LogQuery { newest_first: true, ..view };
            let explained = store.log_page_plan(&view).await.unwrap();
            let plan = &explained[0]["Plan"];
            let indexes: Vec<&str> =
                nodes(plan).iter().filter_map(|n| n["Index Name"].as_str()).collect();
            assert!(
                !indexes.is_empty() && indexes.iter().all(|i| i.starts_with("log_realm")),
                "{view:?}: {}",
                shape(plan)
            );
        }
    }
}
