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
