//! A conformance suite for [`Coordinator`] implementations: the lease semantics the fleet
//! relies on (claims, renewals, releases, expiry and epochs; every write of a stale lease
//! refused with nothing written, token saves excepted; concurrent claimers kept apart; the
//! webhook queue; each Ordoro account's budget). `MemoryCoordinator` and `PostgresCoordinator`
//! run them in this crate's tests; a host with a coordinator of its own runs them too. A check
//! panics when the coordinator gets something wrong; each wants a new, empty coordinator.
//!
//! Leases expire, so the checks let time pass through [`Time`]: a coordinator on a
//! [`ManualClock`](crate::ManualClock) advances it, one on a database's clock sleeps.
//!
//! ```
//! # async fn check() {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use futures_util::FutureExt;
//! use qbo_ordoro::fleet::MemoryCoordinator;
//! use qbo_ordoro::store::conformance::coordinator::{self, Time};
//! use qbo_ordoro::ManualClock;
//!
//! let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
//! let advance = clock.clone();
//! let pass = move |d: Duration| {
//!     advance.advance(d);
//!     async {}.boxed()
//! };
//! let time = Time { pass: &pass, lease: Duration::from_secs(2) };
//! coordinator::leases_are_claimed_renewed_released_and_expire(
//!     &MemoryCoordinator::new(clock.clone()),
//!     &time,
//! )
//! .await;
//! # }
//! # futures_util::FutureExt::now_or_never(check()).expect("MemoryCoordinator never waits");
//! ```

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use chrono::Duration as Span;
use futures_util::future::{BoxFuture, join, join_all};

use super::{instant, item, ledger_entry, ledger_key, log_entry, stored_token};
use crate::fleet::{Coordinator, FleetCompany, Lease};
use crate::mapping::{SkuKey, SkuMapping};
use crate::model::qbo::EntityKind;
use crate::store::{
    Action, Commit, CompanyCountry, CompanySettings, LedgerChange, LedgerState, LogQuery,
    RetryEntry, SentOrder, Store,
};
use crate::webhook::{ChangeEvent, Operation};
use crate::{ErrorKind, Reason};

/// How the checks let time pass on the coordinator's clock.
pub struct Time<'a> {
    /// Lets `d` pass on the coordinator's clock: advances a manual clock, or sleeps for a
    /// coordinator on a real one (a database's).
    pub pass: &'a (dyn Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync),
    /// The lease the checks take. Their margins are a quarter of it either side of each
    /// expiry, so it must be at least four times what a few of the coordinator's calls take
    /// (2 s suits a local database; the checks then last a few seconds each).
    pub lease: Duration,
}

impl std::fmt::Debug for Time<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Time").field("lease", &self.lease).finish_non_exhaustive()
    }
}

impl Time<'_> {
    async fn pass(&self, d: Duration) {
        (self.pass)(d).await;
    }

    fn margin(&self) -> Duration {
        self.lease / 4
    }
}

/// Runs every check, each on a new coordinator from `new`, and panics at the first behaviour
/// the coordinator gets wrong.
pub async fn run_all<C: Coordinator, F: Future<Output = C>>(
    mut new: impl FnMut() -> F,
    time: &Time<'_>,
) {
    leases_are_claimed_renewed_released_and_expire(&new().await, time).await;
    a_stale_lease_writes_nothing(&new().await, time).await;
    token_saves_and_reads_are_not_fenced(&new().await, time).await;
    concurrent_claimers_get_disjoint_companies(&new().await, time).await;
    the_queue_keeps_known_companies_events_until_acknowledged(&new().await, time).await;
    a_company_with_queued_events_is_due_now(&new().await, time).await;
    ordoro_requests_are_spaced_per_account(&new().await, time).await;
    companies_lists_every_company(&new().await, time).await;
}

fn company(realm: &str, account: &str) -> FleetCompany {
    FleetCompany { realm: realm.into(), ordoro_account: account.into() }
}

async fn add(c: &dyn Coordinator, realms: &[&str]) {
    for realm in realms {
        c.add_company(&company(realm, "acct")).await.unwrap();
    }
}

fn realms(leases: &[Lease]) -> Vec<&str> {
    leases.iter().map(Lease::realm).collect()
}

fn assert_lost<T: std::fmt::Debug>(result: crate::Result<T>, what: &str) {
    match result {
        Err(e) if e.kind() == ErrorKind::LeaseLost => {}
        other => panic!("{what}: expected a LeaseLost error, got {other:?}"),
    }
}

/// A claim takes the due, unheld companies, those due longest ago first, each with a new
/// epoch; nobody else gets them while the lease lasts; a renewal extends it, a stale or expired
/// lease can neither renew nor release (an expired lease is never revived), a release makes the
/// company due again after `due_in`, and every claim's epoch is one more than the last.
pub async fn leases_are_claimed_renewed_released_and_expire(c: &dyn Coordinator, time: &Time<'_>) {
    let lease_for = time.lease;
    add(c, &["A", "B"]).await;
    let first = c.claim("w1", 10, lease_for).await.unwrap();
    assert_eq!(realms(&first), ["A", "B"], "both due, the first added first");
    assert!(first.iter().all(|l| l.epoch == 1 && l.worker == "w1"), "{first:?}");
    assert!(
        c.claim("w2", 10, lease_for).await.unwrap().is_empty(),
        "held companies are not claimed"
    );
    let state = c.companies().await.unwrap();
    assert!(state.iter().all(|s| s.holder.as_deref() == Some("w1") && s.epoch == 1), "{state:?}");
    assert_eq!(state[0].expires_at, Some(first[0].expires_at));

    // Renew A half way; at 1¼ leases B has expired and A has not.
    time.pass(lease_for / 2).await;
    let a = c.renew(&first[0], lease_for).await.unwrap();
    assert!(a.expires_at > first[0].expires_at, "a renewal extends the lease");
    assert_eq!((a.epoch, a.worker.as_str()), (1, "w1"), "a renewal keeps the epoch");
    time.pass(lease_for / 2 + time.margin()).await;
    let b = c.claim("w2", 10, lease_for).await.unwrap();
    assert_eq!(realms(&b), ["B"], "only the expired lease's company is claimed");
    assert_eq!((b[0].epoch, b[0].worker.as_str()), (2, "w2"));
    assert_lost(c.renew(&first[1], lease_for).await, "renewing a lease taken over");
    assert_lost(c.release(&first[1], Duration::ZERO).await, "releasing a lease taken over");

    // Released for an hour: not due, not held, one run counted.
    c.release(&b[0], Duration::from_secs(3600)).await.unwrap();
    assert_lost(c.release(&b[0], Duration::ZERO).await, "releasing twice");
    let state = c.companies().await.unwrap();
    assert_eq!((state[1].holder.as_deref(), state[1].runs, state[1].epoch), (None, 1, 2));
    assert!(c.claim("w3", 10, lease_for).await.unwrap().is_empty(), "A held, B not due");

    // A expires unrenewed: its lease is not revived, and the next claim has the next epoch.
    time.pass(lease_for).await;
    assert_lost(c.renew(&a, lease_for).await, "renewing an expired lease");
    assert_lost(c.release(&a, Duration::ZERO).await, "releasing an expired lease");
    let again = c.claim("w3", 10, lease_for).await.unwrap();
    assert_eq!((realms(&again), again[0].epoch), (vec!["A"], 2));
    c.release(&again[0], Duration::ZERO).await.unwrap();
    let third = c.claim("w4", 10, lease_for).await.unwrap();
    assert_eq!((realms(&third), third[0].epoch), (vec!["A"], 3), "released due now: claimed");
}

/// A stale lease's fenced store (its lease expired and the company claimed again) refuses every
/// write of the [`Store`] with [`ErrorKind::LeaseLost`] and writes nothing, as does
/// acknowledging events; the current holder's fenced store writes; a released lease fences
/// nothing any more.
pub async fn a_stale_lease_writes_nothing(c: &dyn Coordinator, time: &Time<'_>) {
    add(c, &["A"]).await;
    let old = c.claim("w1", 1, time.lease).await.unwrap().remove(0);
    time.pass(time.lease + time.margin()).await;
    let new = c.claim("w2", 1, time.lease).await.unwrap().remove(0);
    let (stale, current, plain) = (c.fenced_store(&old), c.fenced_store(&new), c.store());
    let (stale, current, plain) = (stale.as_ref(), current.as_ref(), plain.as_ref());
    fenced_writes_land_once(stale, current, plain).await;
    fenced_removals_need_the_lease(stale, current, plain).await;
    assert_lost(c.ack_events(&old, u64::MAX).await, "acknowledging events under a stale lease");

    c.release(&new, Duration::from_secs(3600)).await.unwrap();
    assert_lost(current.set_cursor("A/Invoice", instant(9)).await, "a write after release");
    assert_eq!(plain.cursor("A/Invoice").await.unwrap(), Some(instant(1)));
}

/// Each write of the [`Store`] that adds: refused for `stale`, nothing visible; then done by
/// `current`, visible.
async fn fenced_writes_land_once(stale: &dyn Store, current: &dyn Store, plain: &dyn Store) {
    assert_lost(stale.set_cursor("A/Invoice", instant(1)).await, "set_cursor");
    assert_eq!(plain.cursor("A/Invoice").await.unwrap(), None);
    current.set_cursor("A/Invoice", instant(1)).await.unwrap();
    assert_eq!(plain.cursor("A/Invoice").await.unwrap(), Some(instant(1)));

    let entry = ledger_entry("A", EntityKind::Invoice, "1", LedgerState::Pending);
    assert_lost(stale.put_ledger_entry(&entry).await, "put_ledger_entry");
    assert_eq!(plain.ledger_entry(&entry.key).await.unwrap(), None);
    current.put_ledger_entry(&entry).await.unwrap();
    assert_eq!(plain.ledger_entry(&entry.key).await.unwrap(), Some(entry));

    let done = ledger_entry("A", EntityKind::Invoice, "2", LedgerState::Created);
    let commit = Commit {
        log: log_entry("run-1", "A", "2", Action::Created, instant(5)),
        ledger: Some(LedgerChange::Put(done.clone())),
        cursor: Some(("A/SalesReceipt".into(), instant(6))),
    };
    assert_lost(stale.commit(&commit).await, "commit");
    assert!(plain.query_log(&LogQuery::default()).await.unwrap().is_empty());
    assert_eq!(plain.ledger_entry(&done.key).await.unwrap(), None);
    assert_eq!(plain.cursor("A/SalesReceipt").await.unwrap(), None);
    current.commit(&commit).await.unwrap();
    assert_eq!(plain.query_log(&LogQuery::default()).await.unwrap(), vec![commit.log.clone()]);

    assert_lost(stale.start_run("A", "run-2").await, "start_run");
    assert!(current.start_run("A", "run-2").await.unwrap(), "the stale start recorded nothing");

    let country = CompanyCountry { country: Some("AU".into()), read_at: instant(7) };
    assert_lost(stale.save_company_country("A", &country).await, "save_company_country");
    assert_eq!(plain.company_country("A").await.unwrap(), None);
    current.save_company_country("A", &country).await.unwrap();
    assert_eq!(plain.company_country("A").await.unwrap(), Some(country));

    let settings = CompanySettings { update_existing: true, ..CompanySettings::default() };
    assert_lost(stale.save_company_settings("A", &settings).await, "save_company_settings");
    assert_eq!(plain.company_settings("A").await.unwrap(), None);
    current.save_company_settings("A", &settings).await.unwrap();
    assert_eq!(plain.company_settings("A").await.unwrap(), Some(settings));

    let key = ledger_key("A", EntityKind::Invoice, "2");
    let sent = SentOrder {
        order_number: "QBO-A-2".into(),
        shipping_address: Default::default(),
        billing_address: Default::default(),
        lines: Vec::new(),
        sent_at: instant(8),
    };
    assert_lost(stale.save_sent_order(&key, &sent).await, "save_sent_order");
    assert_eq!(plain.sent_order(&key).await.unwrap(), None);
    current.save_sent_order(&key, &sent).await.unwrap();
    assert_eq!(plain.sent_order(&key).await.unwrap(), Some(sent));

    let items = [item("10", "1", Some("SKU-10"))];
    let ids = ["10".to_owned()];
    assert_lost(stale.cache_items("A", &items).await, "cache_items");
    assert!(plain.cached_items("A", &ids).await.unwrap().is_empty());
    current.cache_items("A", &items).await.unwrap();
    assert_eq!(plain.cached_items("A", &ids).await.unwrap(), items);

    let mapping = SkuMapping { key: SkuKey::ItemId("10".into()), sku: "S".into() };
    assert_lost(stale.put_sku_mapping("A", &mapping).await, "put_sku_mapping");
    assert!(plain.sku_mappings("A").await.unwrap().is_empty());
    current.put_sku_mapping("A", &mapping).await.unwrap();
    assert_eq!(plain.sku_mappings("A").await.unwrap(), vec![mapping]);

    let retry = RetryEntry {
        key: ledger_key("A", EntityKind::Invoice, "3"),
        sync_token: Some("0".into()),
        reason: Reason::UnknownSku,
        failed_at: instant(9),
        run_id: "run-1".into(),
    };
    assert_lost(stale.put_retry_entry(&retry).await, "put_retry_entry");
    assert!(plain.retry_entries("A").await.unwrap().is_empty());
    current.put_retry_entry(&retry).await.unwrap();
    assert_eq!(plain.retry_entries("A").await.unwrap(), vec![retry]);

    let keys = ["id:e1".to_owned()];
    assert_lost(
        stale.mark_events_processed("A", &keys, instant(10)).await,
        "mark_events_processed",
    );
    assert!(plain.processed_events("A", &keys).await.unwrap().is_empty());
    current.mark_events_processed("A", &keys, instant(10)).await.unwrap();
    assert_eq!(plain.processed_events("A", &keys).await.unwrap(), keys);
}

/// Each write of the [`Store`] that removes (what `fenced_writes_land_once` added): refused for
/// `stale`, the state kept; then done by `current`.
async fn fenced_removals_need_the_lease(stale: &dyn Store, current: &dyn Store, plain: &dyn Store) {
    let key = SkuKey::ItemId("10".into());
    assert_lost(stale.remove_sku_mapping("A", &key).await, "remove_sku_mapping");
    assert_eq!(plain.sku_mappings("A").await.unwrap().len(), 1);
    assert!(current.remove_sku_mapping("A", &key).await.unwrap());

    let retry = ledger_key("A", EntityKind::Invoice, "3");
    assert_lost(stale.remove_retry_entry(&retry).await, "remove_retry_entry");
    assert_eq!(plain.retry_entries("A").await.unwrap().len(), 1);
    current.remove_retry_entry(&retry).await.unwrap();
    assert!(plain.retry_entries("A").await.unwrap().is_empty());

    let keys = ["id:e1".to_owned()];
    assert_lost(stale.forget_events_before(instant(11)).await, "forget_events_before");
    assert_eq!(plain.processed_events("A", &keys).await.unwrap(), keys);
    assert_eq!(current.forget_events_before(instant(11)).await.unwrap(), 1);

    let pending = ledger_key("A", EntityKind::Invoice, "1");
    let remove = Commit {
        log: log_entry("run-1", "A", "1", Action::Failed, instant(12)),
        ledger: Some(LedgerChange::Remove(pending.clone())),
        cursor: None,
    };
    assert_lost(stale.commit(&remove).await, "commit removing a ledger entry");
    assert!(plain.ledger_entry(&pending).await.unwrap().is_some());
    current.commit(&remove).await.unwrap();
    assert_eq!(plain.ledger_entry(&pending).await.unwrap(), None);
}

/// A stale lease's store still saves and forgets tokens (a refresh token QBO rotated must be
/// kept whoever asked for it) and still reads.
pub async fn token_saves_and_reads_are_not_fenced(c: &dyn Coordinator, time: &Time<'_>) {
    add(c, &["A"]).await;
    let old = c.claim("w1", 1, time.lease).await.unwrap().remove(0);
    let current = c.fenced_store(&old);
    current.set_cursor("A/Invoice", instant(1)).await.unwrap();
    time.pass(time.lease + time.margin()).await;
    c.claim("w2", 1, time.lease).await.unwrap();
    let stale = c.fenced_store(&old);
    stale.save_token("A", &stored_token("rotated", None)).await.unwrap();
    let saved = c.store().load_token("A").await.unwrap().expect("the token was saved");
    assert_eq!(secrecy::ExposeSecret::expose_secret(&saved.refresh_token), "rotated");
    assert!(stale.load_token("A").await.unwrap().is_some());
    assert_eq!(stale.cursor("A/Invoice").await.unwrap(), Some(instant(1)), "reads pass");
    assert!(stale.forget_token("A").await.unwrap());
    assert!(c.store().load_token("A").await.unwrap().is_none());
}

/// Two workers claiming at once get different companies, and nothing is lost between them.
pub async fn concurrent_claimers_get_disjoint_companies(c: &dyn Coordinator, time: &Time<'_>) {
    let names: Vec<String> = (0..20).map(|i| format!("r{i:02}")).collect();
    for name in &names {
        c.add_company(&company(name, "acct")).await.unwrap();
    }
    let (a, b) = join(c.claim("w1", 15, time.lease), c.claim("w2", 15, time.lease)).await;
    let (a, b) = (a.unwrap(), b.unwrap());
    let a_set: BTreeSet<&str> = realms(&a).into_iter().collect();
    let b_set: BTreeSet<&str> = realms(&b).into_iter().collect();
    assert!(a_set.is_disjoint(&b_set), "one company claimed twice: {a_set:?} {b_set:?}");
    assert_eq!((a_set.len(), b_set.len()), (a.len(), b.len()), "a claim repeats a company");
    let rest = c.claim("w3", 20, time.lease).await.unwrap();
    let all: BTreeSet<&str> = a_set.iter().chain(&b_set).copied().chain(realms(&rest)).collect();
    assert_eq!(all.len(), 20, "every company claimed once");
    assert_eq!(a.len() + b.len() + rest.len(), 20);
}

fn event(realm: &str, id: &str, operation: Operation, event_id: Option<&str>) -> ChangeEvent {
    ChangeEvent {
        realm_id: realm.into(),
        entity: "Invoice".into(),
        qbo_id: id.into(),
        operation,
        event_id: event_id.map(Into::into),
        occurred_at: Some(instant(100) + Span::nanoseconds(123_456_789)),
        deleted_id: None,
    }
}

/// Events are queued for known companies only, read oldest first (every field back, the
/// time to the nanosecond) without being taken off the queue, so that a run that died leaves
/// them for the next holder; acknowledging takes a company's events up to a sequence number,
/// and only under the current lease.
pub async fn the_queue_keeps_known_companies_events_until_acknowledged(
    c: &dyn Coordinator,
    time: &Time<'_>,
) {
    add(c, &["A", "B"]).await;
    let a1 = event("A", "1", Operation::Create, Some("ce-1"));
    let b1 = event("B", "7", Operation::Update, None);
    let a2 = ChangeEvent {
        entity: "Customer".into(),
        deleted_id: Some("6".into()),
        occurred_at: None,
        ..event("A", "5", Operation::Merge, None)
    };
    let unknown = event("X", "1", Operation::Create, None);
    let events = [a1.clone(), unknown, b1, a2.clone()];
    assert_eq!(c.enqueue_events(&events).await.unwrap(), 3, "X is not a company of the fleet");
    assert_eq!(c.enqueue_events(&[]).await.unwrap(), 0);
    let state = c.companies().await.unwrap();
    let queued: Vec<u64> = state.iter().map(|s| s.queued_events).collect();
    assert_eq!(queued, [2, 1]);

    let old = c.claim("w1", 10, time.lease).await.unwrap();
    let a = &old[0];
    let read = c.queued_events(a, 10).await.unwrap();
    let read_events: Vec<&ChangeEvent> = read.iter().map(|q| &q.event).collect();
    assert_eq!(read_events, [&a1, &a2]);
    assert!(read[0].seq < read[1].seq);
    let first = c.queued_events(a, 1).await.unwrap();
    assert_eq!(first, read[..1]);

    // The run dies: its lease expires, the next holder finds the same events.
    time.pass(time.lease + time.margin()).await;
    let new = c.claim("w2", 10, time.lease).await.unwrap();
    assert_eq!(realms(&new), ["A", "B"]);
    assert_eq!(c.queued_events(&new[0], 10).await.unwrap(), read);
    assert_lost(c.ack_events(a, read[1].seq).await, "acknowledging under a stale lease");
    assert_eq!(c.queued_events(&new[0], 10).await.unwrap().len(), 2);

    c.ack_events(&new[0], read[0].seq).await.unwrap();
    assert_eq!(c.queued_events(&new[0], 10).await.unwrap(), read[1..]);
    c.ack_events(&new[0], read[1].seq).await.unwrap();
    assert!(c.queued_events(&new[0], 10).await.unwrap().is_empty());
    assert_eq!(c.queued_events(&new[1], 10).await.unwrap().len(), 1, "B's events stay");
}

/// Queueing an event makes its company due now, and a company released while events wait is
/// due again at once, whatever `due_in` said.
pub async fn a_company_with_queued_events_is_due_now(c: &dyn Coordinator, time: &Time<'_>) {
    let hour = Duration::from_secs(3600);
    add(c, &["A", "B"]).await;
    let leases = c.claim("w1", 10, time.lease).await.unwrap();
    c.release(&leases[1], hour).await.unwrap();
    assert!(c.claim("w2", 10, time.lease).await.unwrap().is_empty(), "A held, B due in an hour");
    c.enqueue_events(&[event("B", "1", Operation::Create, None)]).await.unwrap();
    assert_eq!(realms(&c.claim("w2", 10, time.lease).await.unwrap()), ["B"]);

    c.enqueue_events(&[event("A", "1", Operation::Create, None)]).await.unwrap();
    c.release(&leases[0], hour).await.unwrap();
    let a = c.claim("w3", 10, time.lease).await.unwrap();
    assert_eq!(realms(&a), ["A"], "released with an event waiting: due now");
    c.ack_events(&a[0], u64::MAX).await.unwrap();
    c.release(&a[0], hour).await.unwrap();
    assert!(c.claim("w3", 10, time.lease).await.unwrap().is_empty(), "no events: due in an hour");
}

/// An account's reservations are spaced `60 s / per_minute` apart, whoever asks and however
/// many ask at once (waits 0, T, 2T, ...); each account has its own budget.
pub async fn ordoro_requests_are_spaced_per_account(c: &dyn Coordinator, time: &Time<'_>) {
    let per_minute = 6; // T = 10 s
    let t = Duration::from_secs(10);
    let tolerance = time.margin();
    let mut waits = Vec::new();
    for _ in 0..3 {
        waits.push(c.reserve_ordoro_request("acct-1", per_minute).await.unwrap());
    }
    let at_once = (0..3).map(|_| c.reserve_ordoro_request("acct-1", per_minute));
    for wait in join_all(at_once).await {
        waits.push(wait.unwrap());
    }
    waits.sort();
    for (i, wait) in waits.iter().enumerate() {
        let slot = t * u32::try_from(i).unwrap_or(u32::MAX);
        assert!(
            *wait <= slot && *wait + tolerance >= slot,
            "reservation {i} waits {wait:?}, not its slot {slot:?}: {waits:?}"
        );
    }
    let other = c.reserve_ordoro_request("acct-2", per_minute).await.unwrap();
    assert!(other <= tolerance, "another account's first request waits {other:?}");
}

/// `companies` lists every company in realm order with its account (changed by adding it
/// again), due time, epoch, holder while held, runs and queued events.
pub async fn companies_lists_every_company(c: &dyn Coordinator, time: &Time<'_>) {
    c.add_company(&company("B", "acct-1")).await.unwrap();
    c.add_company(&company("A", "acct-2")).await.unwrap();
    c.add_company(&company("A", "acct-3")).await.unwrap();
    let state = c.companies().await.unwrap();
    let listed: Vec<&FleetCompany> = state.iter().map(|s| &s.company).collect();
    assert_eq!(listed, [&company("A", "acct-3"), &company("B", "acct-1")]);
    for s in &state {
        assert_eq!(
            (s.epoch, s.holder.as_deref(), s.expires_at, s.runs, s.queued_events),
            (0, None, None, 0, 0)
        );
    }
    let leases = c.claim("w1", 10, time.lease).await.unwrap();
    assert_eq!(leases.len(), 2);
    let a = leases.iter().find(|l| l.realm() == "A").expect("A claimed");
    assert_eq!(a.company, company("A", "acct-3"));
    let held = c.companies().await.unwrap();
    assert!(held.iter().all(|s| s.holder.as_deref() == Some("w1") && s.epoch == 1), "{held:?}");
    c.release(a, Duration::from_secs(3600)).await.unwrap();
    let after = c.companies().await.unwrap();
    assert_eq!((after[0].holder.as_deref(), after[0].runs), (None, 1));
    assert!(after[0].due_at > held[0].due_at, "due again in an hour");
}
