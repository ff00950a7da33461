//! [`MemoryCoordinator`]: the lease model, in memory on a [`Clock`]. The same semantics as the
//! PostgreSQL coordinator (the conformance suite runs against both), for tests and the seeded
//! simulation, where virtual time lets a worker stall past its lease in a millisecond.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{CompanyState, Coordinator, FleetCompany, Lease, QueuedEvent, lock, span};
use crate::mapping::{SkuKey, SkuMapping};
use crate::model::qbo::QboItem;
use crate::store::{
    Commit, CompanyCountry, CompanySettings, LedgerEntry, LedgerKey, LogEntry, LogPage, LogQuery,
    MemoryStore, RetryEntry, RunSummary, SentOrder, Store, StoredToken, TokenStore,
};
use crate::webhook::ChangeEvent;
use crate::{Clock, Error, Result};

/// How often [`MemoryCoordinator::wait_for_work`] looks for new work, on the clock.
const WAIT_STEP: Duration = Duration::from_millis(50);

/// The lease model in memory. Cloning shares it: each simulated worker holds a clone.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use qbo_ordoro::fleet::{Coordinator, FleetCompany, MemoryCoordinator};
/// use qbo_ordoro::{Clock, ErrorKind, ManualClock};
///
/// # futures_util::FutureExt::now_or_never(async {
/// let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
/// let fleet = MemoryCoordinator::new(clock.clone());
/// let company = FleetCompany { realm: "123".into(), ordoro_account: "acme".into() };
/// fleet.add_company(&company).await?;
/// let leases = fleet.claim("worker-1", 10, Duration::from_secs(30)).await?;
/// assert_eq!(leases.len(), 1);
/// // Nobody else gets the company while the lease lasts...
/// assert!(fleet.claim("worker-2", 10, Duration::from_secs(30)).await?.is_empty());
/// // ...and once it has expired, the first holder's writes are refused.
/// clock.advance(Duration::from_secs(31));
/// let taken = fleet.claim("worker-2", 10, Duration::from_secs(30)).await?;
/// assert_eq!(taken[0].epoch, leases[0].epoch + 1);
/// let stale = fleet.fenced_store(&leases[0]);
/// let err = stale.set_cursor("123/Invoice", clock.now()).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::LeaseLost);
/// # Ok::<(), qbo_ordoro::Error>(())
/// # }).unwrap().unwrap();
/// ```
#[derive(Clone)]
pub struct MemoryCoordinator {
    clock: Arc<dyn Clock>,
    store: MemoryStore,
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for MemoryCoordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryCoordinator").field("companies", &state.companies.len()).finish()
    }
}

#[derive(Default)]
struct State {
    companies: BTreeMap<String, Company>,
    queue: VecDeque<QueuedEvent>,
    next_seq: u64,
    /// Each Ordoro account's theoretical arrival time: the earliest its next slot may be.
    budgets: BTreeMap<String, DateTime<Utc>>,
    /// Moves whenever work may have arrived.
    version: u64,
}

struct Company {
    company: FleetCompany,
    due_at: DateTime<Utc>,
    epoch: u64,
    holder: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    runs: u64,
}

impl Company {
    fn held_at(&self, now: DateTime<Utc>) -> bool {
        self.holder.is_some() && self.expires_at.is_some_and(|at| at > now)
    }

    fn is_lease(&self, lease: &Lease, now: DateTime<Utc>) -> bool {
        self.epoch == lease.epoch
            && self.holder.as_deref() == Some(lease.worker.as_str())
            && self.held_at(now)
    }
}

/// The error of a lease that is no longer the company's.
pub(crate) fn lost(lease: &Lease, what: &str) -> Error {
    Error::lease_lost(format!(
        "{what} refused: worker {} no longer holds company {} (lease epoch {} expired or was \
         taken over); the company's current holder carries on",
        lease.worker,
        lease.realm(),
        lease.epoch
    ))
}

impl MemoryCoordinator {
    /// An empty coordinator over a fresh [`MemoryStore`], reading `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_store(clock, MemoryStore::new())
    }

    /// An empty coordinator over `store` (shared: the coordinator and whoever else holds a clone
    /// see the same state).
    pub fn with_store(clock: Arc<dyn Clock>, store: MemoryStore) -> Self {
        MemoryCoordinator { clock, store, state: Arc::new(Mutex::new(State::default())) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Ok when `lease` is the company's current, unexpired lease.
    fn check(&self, lease: &Lease, what: &str) -> Result<()> {
        let now = self.clock.now();
        let state = self.lock();
        match state.companies.get(lease.realm()) {
            Some(company) if company.is_lease(lease, now) => Ok(()),
            _ => Err(lost(lease, what)),
        }
    }
}

#[async_trait::async_trait]
impl Coordinator for MemoryCoordinator {
    async fn add_company(&self, company: &FleetCompany) -> Result<()> {
        let now = self.clock.now();
        let mut state = self.lock();
        state
            .companies
            .entry(company.realm.clone())
            .and_modify(|c| c.company = company.clone())
            .or_insert_with(|| Company {
                company: company.clone(),
                due_at: now,
                epoch: 0,
                holder: None,
                expires_at: None,
                runs: 0,
            });
        state.version += 1;
        Ok(())
    }

    async fn companies(&self) -> Result<Vec<CompanyState>> {
        let now = self.clock.now();
        let state = self.lock();
        Ok(state
            .companies
            .values()
            .map(|c| CompanyState {
                company: c.company.clone(),
                due_at: c.due_at,
                epoch: c.epoch,
                holder: c.held_at(now).then(|| c.holder.clone()).flatten(),
                expires_at: c.expires_at,
                runs: c.runs,
                queued_events: state
                    .queue
                    .iter()
                    .filter(|q| q.event.realm_id == c.company.realm)
                    .count() as u64,
            })
            .collect())
    }

    async fn claim(&self, worker: &str, max: usize, lease_for: Duration) -> Result<Vec<Lease>> {
        let now = self.clock.now();
        let mut state = self.lock();
        let mut due: Vec<(DateTime<Utc>, String)> = state
            .companies
            .values()
            .filter(|c| !c.held_at(now) && c.due_at <= now)
            .map(|c| (c.due_at, c.company.realm.clone()))
            .collect();
        due.sort();
        let expires_at = now + span(lease_for);
        let mut leases = Vec::new();
        for (_, realm) in due.into_iter().take(max) {
            let company = state.companies.get_mut(&realm).expect("listed above");
            company.epoch += 1;
            company.holder = Some(worker.to_string());
            company.expires_at = Some(expires_at);
            leases.push(Lease {
                company: company.company.clone(),
                worker: worker.to_string(),
                epoch: company.epoch,
                expires_at,
            });
        }
        Ok(leases)
    }

    async fn renew(&self, lease: &Lease, lease_for: Duration) -> Result<Lease> {
        let now = self.clock.now();
        let mut state = self.lock();
        match state.companies.get_mut(lease.realm()) {
            Some(company) if company.is_lease(lease, now) => {
                let expires_at = now + span(lease_for);
                company.expires_at = Some(expires_at);
                Ok(Lease { expires_at, ..lease.clone() })
            }
            _ => Err(lost(lease, "renewing the lease")),
        }
    }

    async fn release(&self, lease: &Lease, due_in: Duration) -> Result<()> {
        let now = self.clock.now();
        let mut state = self.lock();
        let has_events = state.queue.iter().any(|q| q.event.realm_id == lease.realm());
        match state.companies.get_mut(lease.realm()) {
            Some(company) if company.is_lease(lease, now) => {
                company.holder = None;
                company.expires_at = Some(now);
                company.runs += 1;
                company.due_at = if has_events { now } else { now + span(due_in) };
            }
            _ => return Err(lost(lease, "releasing the lease")),
        }
        state.version += 1;
        Ok(())
    }

    fn fenced_store(&self, lease: &Lease) -> Arc<dyn Store> {
        Arc::new(Fenced { coordinator: self.clone(), lease: lease.clone() })
    }

    fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.store.clone())
    }

    async fn enqueue_events(&self, events: &[ChangeEvent]) -> Result<usize> {
        let now = self.clock.now();
        let mut state = self.lock();
        let mut queued = 0;
        for event in events {
            let Some(company) = state.companies.get_mut(&event.realm_id) else { continue };
            company.due_at = company.due_at.min(now);
            state.next_seq += 1;
            let seq = state.next_seq;
            state.queue.push_back(QueuedEvent { seq, event: event.clone() });
            queued += 1;
        }
        state.version += 1;
        Ok(queued)
    }

    async fn queued_events(&self, lease: &Lease, max: usize) -> Result<Vec<QueuedEvent>> {
        let state = self.lock();
        Ok(state
            .queue
            .iter()
            .filter(|q| q.event.realm_id == lease.realm())
            .take(max)
            .cloned()
            .collect())
    }

    async fn ack_events(&self, lease: &Lease, seq: u64) -> Result<()> {
        self.check(lease, "acknowledging webhook events")?;
        let mut state = self.lock();
        state.queue.retain(|q| q.event.realm_id != lease.realm() || q.seq > seq);
        Ok(())
    }

    async fn reserve_ordoro_request(&self, account: &str, per_minute: u32) -> Result<Duration> {
        let now = self.clock.now();
        let interval = slot_interval(per_minute);
        let mut state = self.lock();
        let next = state.budgets.entry(account.to_string()).or_insert(now);
        let slot = (*next).max(now);
        *next = slot + span(interval);
        Ok((slot - now).to_std().unwrap_or(Duration::ZERO))
    }

    async fn wait_for_work(&self, timeout: Duration) {
        let seen = self.lock().version;
        let mut waited = Duration::ZERO;
        while waited < timeout && self.lock().version == seen {
            let step = WAIT_STEP.min(timeout - waited);
            self.clock.sleep(step).await;
            waited += step;
        }
    }
}

/// The spacing of an account's request slots: `60 s / per_minute` (at least one a minute).
pub(crate) fn slot_interval(per_minute: u32) -> Duration {
    Duration::from_secs(60) / per_minute.max(1)
}

/// The [`MemoryCoordinator`]'s store for one lease: every write checks the lease first, under
/// the same lock order every write takes, so no other worker's claim can slip between the check
/// and a write of this single-threaded model. Reads and token saves pass through.
pub struct Fenced {
    coordinator: MemoryCoordinator,
    lease: Lease,
}

impl fmt::Debug for Fenced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fenced")
            .field("realm", &self.lease.realm())
            .field("epoch", &self.lease.epoch)
            .finish()
    }
}

impl Fenced {
    fn inner(&self) -> &MemoryStore {
        &self.coordinator.store
    }

    fn fence(&self, what: &str) -> Result<()> {
        self.coordinator.check(&self.lease, what)
    }
}

#[async_trait::async_trait]
impl TokenStore for Fenced {
    async fn load_token(&self, realm: &str) -> Result<Option<StoredToken>> {
        self.inner().load_token(realm).await
    }
    async fn save_token(&self, realm: &str, token: &StoredToken) -> Result<()> {
        self.inner().save_token(realm, token).await
    }
    async fn forget_token(&self, realm: &str) -> Result<bool> {
        self.inner().forget_token(realm).await
    }
}

#[async_trait::async_trait]
impl Store for Fenced {
    async fn cursor(&self, name: &str) -> Result<Option<DateTime<Utc>>> {
        self.inner().cursor(name).await
    }
    async fn set_cursor(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        self.fence("moving a cursor")?;
        self.inner().set_cursor(name, at).await
    }
    async fn ledger_entry(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>> {
        self.inner().ledger_entry(key).await
    }
    async fn put_ledger_entry(&self, entry: &LedgerEntry) -> Result<()> {
        self.fence("writing a ledger entry")?;
        self.inner().put_ledger_entry(entry).await
    }
    async fn pending_entries(&self, realm: &str) -> Result<Vec<LedgerEntry>> {
        self.inner().pending_entries(realm).await
    }
    async fn commit(&self, commit: &Commit) -> Result<()> {
        self.fence("committing an outcome")?;
        self.inner().commit(commit).await
    }
    async fn query_log(&self, query: &LogQuery) -> Result<Vec<LogEntry>> {
        self.inner().query_log(query).await
    }
    async fn log_page(&self, query: &LogQuery) -> Result<LogPage> {
        self.inner().log_page(query).await
    }
    async fn run_summary(&self, realm: &str, run_id: &str) -> Result<RunSummary> {
        self.inner().run_summary(realm, run_id).await
    }
    async fn start_run(&self, realm: &str, run_id: &str) -> Result<bool> {
        self.fence("starting a run")?;
        self.inner().start_run(realm, run_id).await
    }
    async fn connected_realms(&self) -> Result<Vec<String>> {
        self.inner().connected_realms().await
    }
    async fn company_country(&self, realm: &str) -> Result<Option<CompanyCountry>> {
        self.inner().company_country(realm).await
    }
    async fn save_company_country(&self, realm: &str, country: &CompanyCountry) -> Result<()> {
        self.fence("saving the company's country")?;
        self.inner().save_company_country(realm, country).await
    }
    async fn company_settings(&self, realm: &str) -> Result<Option<CompanySettings>> {
        self.inner().company_settings(realm).await
    }
    async fn save_company_settings(&self, realm: &str, settings: &CompanySettings) -> Result<()> {
        self.fence("saving the company's settings")?;
        self.inner().save_company_settings(realm, settings).await
    }
    async fn sent_order(&self, key: &LedgerKey) -> Result<Option<SentOrder>> {
        self.inner().sent_order(key).await
    }
    async fn save_sent_order(&self, key: &LedgerKey, sent: &SentOrder) -> Result<()> {
        self.fence("recording what was sent")?;
        self.inner().save_sent_order(key, sent).await
    }
    async fn cached_items(&self, realm: &str, ids: &[String]) -> Result<Vec<QboItem>> {
        self.inner().cached_items(realm, ids).await
    }
    async fn cache_items(&self, realm: &str, items: &[QboItem]) -> Result<()> {
        self.fence("caching items")?;
        self.inner().cache_items(realm, items).await
    }
    async fn sku_mappings(&self, realm: &str) -> Result<Vec<SkuMapping>> {
        self.inner().sku_mappings(realm).await
    }
    async fn put_sku_mapping(&self, realm: &str, mapping: &SkuMapping) -> Result<()> {
        self.fence("saving a SKU mapping")?;
        self.inner().put_sku_mapping(realm, mapping).await
    }
    async fn remove_sku_mapping(&self, realm: &str, key: &SkuKey) -> Result<bool> {
        self.fence("removing a SKU mapping")?;
        self.inner().remove_sku_mapping(realm, key).await
    }
    async fn retry_entries(&self, realm: &str) -> Result<Vec<RetryEntry>> {
        self.inner().retry_entries(realm).await
    }
    async fn put_retry_entry(&self, entry: &RetryEntry) -> Result<()> {
        self.fence("adding to the retry set")?;
        self.inner().put_retry_entry(entry).await
    }
    async fn remove_retry_entry(&self, key: &LedgerKey) -> Result<()> {
        self.fence("removing from the retry set")?;
        self.inner().remove_retry_entry(key).await
    }
    async fn processed_events(&self, realm: &str, keys: &[String]) -> Result<Vec<String>> {
        self.inner().processed_events(realm, keys).await
    }
    async fn mark_events_processed(
        &self,
        realm: &str,
        keys: &[String],
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.fence("marking events processed")?;
        self.inner().mark_events_processed(realm, keys, at).await
    }
    async fn forget_events_before(&self, before: DateTime<Utc>) -> Result<u64> {
        self.fence("forgetting processed events")?;
        self.inner().forget_events_before(before).await
    }
}
