//! [`MemoryStore`]: the engine's state in memory, for tests, dry runs and hosts that keep their
//! state elsewhere; clones share one state, so a test can "restart" an engine on it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use super::{
    Commit, CompanyCountry, CompanySettings, LedgerChange, LedgerEntry, LedgerKey, LedgerState,
    LogCursor, LogEntry, LogPage, LogQuery, RetryEntry, RunSummary, SentOrder, Store, StoredToken,
    TokenStore, newer_or_same_item,
};
use crate::Result;
use crate::mapping::{SkuKey, SkuMapping};
use crate::model::qbo::QboItem;

/// The engine's state in memory: cursors, ledger, transaction log and tokens.
///
/// Cheap to clone; clones share the same state (an `Arc` inside), so a test can keep a handle,
/// drop the engine (a "crash") and start a new one on what was committed. Each call takes a
/// `std::sync::Mutex` for the few instructions it needs and never holds it across an await, so
/// [`Store::commit`] is atomic: another caller sees all of a commit or none of it.
///
/// Debug output shows counts only, never tokens.
///
/// ```
/// # futures_util::FutureExt::now_or_never(async {
/// use qbo_ordoro::store::{LogQuery, StoredToken};
/// use qbo_ordoro::{MemoryStore, Store, TokenStore};
///
/// let store = MemoryStore::new();
/// store.save_token("9130", &StoredToken::new("refresh".to_owned().into())).await?;
/// let after_a_crash = store.clone(); // shares the state, as a restarted engine would
/// assert!(after_a_crash.load_token("9130").await?.is_some());
/// assert!(after_a_crash.query_log(&LogQuery::default()).await?.is_empty());
/// # Ok::<(), qbo_ordoro::Error>(())
/// # }).expect("MemoryStore never waits")?;
/// # Ok::<(), qbo_ordoro::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    cursors: BTreeMap<String, DateTime<Utc>>,
    ledger: BTreeMap<LedgerKey, LedgerEntry>,
    log: Vec<LogEntry>,
    tokens: BTreeMap<String, StoredToken>,
    runs: BTreeSet<(String, String)>,
    countries: BTreeMap<String, CompanyCountry>,
    settings: BTreeMap<String, CompanySettings>,
    sent: BTreeMap<LedgerKey, SentOrder>,
    items: BTreeMap<(String, String), QboItem>,
    sku_mappings: BTreeMap<(String, SkuKey), String>,
    retry: BTreeMap<LedgerKey, RetryEntry>,
    events: BTreeMap<(String, String), DateTime<Utc>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every ledger entry, in key order (realm, entity, QBO id).
    pub fn ledger_entries(&self) -> Vec<LedgerEntry> {
        self.lock().ledger.values().cloned().collect()
    }

    /// Every log entry, in the order written.
    pub fn log_entries(&self) -> Vec<LogEntry> {
        self.lock().log.clone()
    }

    /// Every cursor, by name.
    pub fn cursors(&self) -> BTreeMap<String, DateTime<Utc>> {
        self.lock().cursors.clone()
    }

    /// The realms that have saved tokens.
    pub fn token_realms(&self) -> Vec<String> {
        self.lock().tokens.keys().cloned().collect()
    }

    /// A poisoned lock only means a panic elsewhere while it was held; every update below is a
    /// single assignment or push, so the state is whole and safe to keep using.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryStore")
            .field("cursors", &state.cursors.len())
            .field("ledger_entries", &state.ledger.len())
            .field("log_entries", &state.log.len())
            .field("token_realms", &state.tokens.len())
            .finish()
    }
}

#[async_trait::async_trait]
impl TokenStore for MemoryStore {
    async fn load_token(&self, realm: &str) -> Result<Option<StoredToken>> {
        Ok(self.lock().tokens.get(realm).cloned())
    }

    async fn save_token(&self, realm: &str, token: &StoredToken) -> Result<()> {
        self.lock().tokens.insert(realm.to_owned(), token.clone());
        Ok(())
    }

    async fn forget_token(&self, realm: &str) -> Result<bool> {
        Ok(self.lock().tokens.remove(realm).is_some())
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn cursor(&self, name: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self.lock().cursors.get(name).copied())
    }

    async fn set_cursor(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        self.lock().cursors.insert(name.to_owned(), at);
        Ok(())
    }

    async fn ledger_entry(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>> {
        Ok(self.lock().ledger.get(key).cloned())
    }

    async fn put_ledger_entry(&self, entry: &LedgerEntry) -> Result<()> {
        self.lock().ledger.insert(entry.key.clone(), entry.clone());
        Ok(())
    }

    async fn pending_entries(&self, realm: &str) -> Result<Vec<LedgerEntry>> {
        let state = self.lock();
        Ok(state
            .ledger
            .values()
            .filter(|e| e.key.realm == realm && e.state == LedgerState::Pending)
            .cloned()
            .collect())
    }

    async fn commit(&self, commit: &Commit) -> Result<()> {
        // Clone before locking so that nothing can fail between the three writes.
        let ledger = commit.ledger.clone();
        let log = commit.log.clone();
        let cursor = commit.cursor.clone();
        let mut state = self.lock();
        match ledger {
            Some(LedgerChange::Put(entry)) => {
                state.ledger.insert(entry.key.clone(), entry);
            }
            Some(LedgerChange::Remove(key)) => {
                state.ledger.remove(&key);
            }
            None => {}
        }
        state.log.push(log);
        if let Some((name, at)) = cursor {
            state.cursors.insert(name, at);
        }
        Ok(())
    }

    async fn query_log(&self, query: &LogQuery) -> Result<Vec<LogEntry>> {
        let state = self.lock();
        let limit = query.limit.unwrap_or(usize::MAX);
        Ok(state.log.iter().filter(|e| query.matches(e)).take(limit).cloned().collect())
    }

    /// A scan of the whole log: a memory store is for tests and small hosts, not a million rows.
    async fn log_page(&self, query: &LogQuery) -> Result<LogPage> {
        let mut rows: Vec<(LogCursor, &LogEntry)> = Vec::new();
        let state = self.lock();
        for (i, entry) in state.log.iter().enumerate() {
            let cursor = LogCursor::new(entry.at, u64::try_from(i).unwrap_or(u64::MAX - 1) + 1);
            if query.matches(entry) && query.within_cursors(&cursor) {
                rows.push((cursor, entry));
            }
        }
        rows.sort_by_key(|row| row.0);
        if LogPage::reads_towards_older(query) {
            rows.reverse();
        }
        let take = query.page_size().saturating_add(1);
        let rows = rows.into_iter().take(take).map(|(c, e)| (c, e.clone())).collect();
        Ok(LogPage::from_rows(query, rows))
    }

    async fn run_summary(&self, realm: &str, run_id: &str) -> Result<RunSummary> {
        let state = self.lock();
        let mut summary = RunSummary::default();
        for entry in state.log.iter().filter(|e| e.realm == realm && e.run_id == run_id) {
            summary.add(entry.action, 1);
        }
        Ok(summary)
    }

    async fn start_run(&self, realm: &str, run_id: &str) -> Result<bool> {
        Ok(self.lock().runs.insert((realm.to_owned(), run_id.to_owned())))
    }

    async fn connected_realms(&self) -> Result<Vec<String>> {
        Ok(self.token_realms())
    }

    async fn company_country(&self, realm: &str) -> Result<Option<CompanyCountry>> {
        Ok(self.lock().countries.get(realm).cloned())
    }

    async fn save_company_country(&self, realm: &str, country: &CompanyCountry) -> Result<()> {
        self.lock().countries.insert(realm.to_owned(), country.clone());
        Ok(())
    }

    async fn company_settings(&self, realm: &str) -> Result<Option<CompanySettings>> {
        Ok(self.lock().settings.get(realm).cloned())
    }

    async fn save_company_settings(&self, realm: &str, settings: &CompanySettings) -> Result<()> {
        settings.validate()?;
        self.lock().settings.insert(realm.to_owned(), settings.clone());
        Ok(())
    }

    async fn sent_order(&self, key: &LedgerKey) -> Result<Option<SentOrder>> {
        Ok(self.lock().sent.get(key).cloned())
    }

    async fn save_sent_order(&self, key: &LedgerKey, sent: &SentOrder) -> Result<()> {
        self.lock().sent.insert(key.clone(), sent.clone());
        Ok(())
    }

    async fn cached_items(&self, realm: &str, ids: &[String]) -> Result<Vec<QboItem>> {
        let state = self.lock();
        Ok(ids
            .iter()
            .filter_map(|id| state.items.get(&(realm.to_owned(), id.clone())).cloned())
            .collect())
    }

    async fn cache_items(&self, realm: &str, items: &[QboItem]) -> Result<()> {
        let mut state = self.lock();
        for item in items {
            let key = (realm.to_owned(), item.id.clone());
            let old = state.items.get(&key).and_then(|i| i.sync_token.clone());
            if newer_or_same_item(old.as_deref(), item.sync_token.as_deref()) {
                state.items.insert(key, item.clone());
            }
        }
        Ok(())
    }

    async fn sku_mappings(&self, realm: &str) -> Result<Vec<SkuMapping>> {
        Ok(self
            .lock()
            .sku_mappings
            .iter()
            .filter(|((r, _), _)| r == realm)
            .map(|((_, key), sku)| SkuMapping { key: key.clone(), sku: sku.clone() })
            .collect())
    }

    async fn put_sku_mapping(&self, realm: &str, mapping: &SkuMapping) -> Result<()> {
        let key = (realm.to_owned(), mapping.key.clone());
        self.lock().sku_mappings.insert(key, mapping.sku.clone());
        Ok(())
    }

    async fn remove_sku_mapping(&self, realm: &str, key: &SkuKey) -> Result<bool> {
        Ok(self.lock().sku_mappings.remove(&(realm.to_owned(), key.clone())).is_some())
    }

    async fn retry_entries(&self, realm: &str) -> Result<Vec<RetryEntry>> {
        Ok(self.lock().retry.values().filter(|e| e.key.realm == realm).cloned().collect())
    }

    async fn put_retry_entry(&self, entry: &RetryEntry) -> Result<()> {
        self.lock().retry.insert(entry.key.clone(), entry.clone());
        Ok(())
    }

    async fn remove_retry_entry(&self, key: &LedgerKey) -> Result<()> {
        self.lock().retry.remove(key);
        Ok(())
    }

    async fn processed_events(&self, realm: &str, keys: &[String]) -> Result<Vec<String>> {
        let state = self.lock();
        let seen = |key: &&String| state.events.contains_key(&(realm.to_string(), (*key).clone()));
        Ok(keys.iter().filter(seen).cloned().collect())
    }

    async fn mark_events_processed(
        &self,
        realm: &str,
        keys: &[String],
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut state = self.lock();
        for key in keys {
            state.events.entry((realm.to_string(), key.clone())).or_insert(at);
        }
        Ok(())
    }

    async fn forget_events_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut state = self.lock();
        let count = state.events.len();
        state.events.retain(|_, at| *at >= before);
        Ok((count - state.events.len()) as u64)
    }
}
