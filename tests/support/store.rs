//! A trivial in-memory store for engine tests (until the crate's `MemoryStore` is merged).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use qbo_ordoro::store::{
    Commit, LedgerEntry, LedgerKey, LedgerState, LogEntry, LogQuery, RunSummary, StoredToken,
};
use qbo_ordoro::{Result, Store, TokenStore};

#[derive(Debug, Default)]
struct Inner {
    cursors: HashMap<String, DateTime<Utc>>,
    ledger: BTreeMap<LedgerKey, LedgerEntry>,
    log: Vec<LogEntry>,
    tokens: HashMap<String, StoredToken>,
}

/// Everything in one mutex, so a commit is atomic.
#[derive(Debug, Default)]
pub struct TestStore {
    inner: Mutex<Inner>,
}

impl TestStore {
    pub fn log(&self) -> Vec<LogEntry> {
        self.inner.lock().unwrap().log.clone()
    }

    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.inner.lock().unwrap().ledger.values().cloned().collect()
    }

    pub fn cursors(&self) -> HashMap<String, DateTime<Utc>> {
        self.inner.lock().unwrap().cursors.clone()
    }
}

#[async_trait::async_trait]
impl TokenStore for TestStore {
    async fn load_token(&self, realm: &str) -> Result<Option<StoredToken>> {
        Ok(self.inner.lock().unwrap().tokens.get(realm).cloned())
    }

    async fn save_token(&self, realm: &str, token: &StoredToken) -> Result<()> {
        self.inner.lock().unwrap().tokens.insert(realm.into(), token.clone());
        Ok(())
    }
}

#[async_trait::async_trait]
impl Store for TestStore {
    async fn cursor(&self, name: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self.inner.lock().unwrap().cursors.get(name).copied())
    }

    async fn set_cursor(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        self.inner.lock().unwrap().cursors.insert(name.into(), at);
        Ok(())
    }

    async fn ledger_entry(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>> {
        Ok(self.inner.lock().unwrap().ledger.get(key).cloned())
    }

    async fn put_ledger_entry(&self, entry: &LedgerEntry) -> Result<()> {
        self.inner.lock().unwrap().ledger.insert(entry.key.clone(), entry.clone());
        Ok(())
    }

    async fn remove_ledger_entry(&self, key: &LedgerKey) -> Result<()> {
        self.inner.lock().unwrap().ledger.remove(key);
        Ok(())
    }

    async fn pending_entries(&self, realm: &str) -> Result<Vec<LedgerEntry>> {
        Ok(self
            .inner
            .lock()
            .unwrap()
            .ledger
            .values()
            .filter(|e| e.key.realm == realm && e.state == LedgerState::Pending)
            .cloned()
            .collect())
    }

    async fn commit(&self, commit: &Commit) -> Result<()> {
        let mut inner = self.inner.lock().unwrap();
        inner.log.push(commit.log.clone());
        if let Some(l) = &commit.ledger {
            inner.ledger.insert(l.key.clone(), l.clone());
        }
        if let Some((name, at)) = &commit.cursor {
            inner.cursors.insert(name.clone(), *at);
        }
        Ok(())
    }

    async fn query_log(&self, q: &LogQuery) -> Result<Vec<LogEntry>> {
        let inner = self.inner.lock().unwrap();
        let hits = inner.log.iter().filter(|e| {
            q.realm.as_ref().is_none_or(|r| &e.realm == r)
                && q.run_id.as_ref().is_none_or(|r| &e.run_id == r)
                && q.qbo_id.as_ref().is_none_or(|r| &e.qbo_id == r)
                && q.doc_number.as_ref().is_none_or(|r| e.doc_number.as_ref() == Some(r))
                && q.order_number.as_ref().is_none_or(|r| e.order_number.as_ref() == Some(r))
                && q.action.is_none_or(|a| e.action == a)
        });
        Ok(hits.take(q.limit.unwrap_or(usize::MAX)).cloned().collect())
    }

    async fn run_summary(&self, run_id: &str) -> Result<RunSummary> {
        let mut s = RunSummary::default();
        for e in self.inner.lock().unwrap().log.iter().filter(|e| e.run_id == run_id) {
            match e.action {
                qbo_ordoro::store::Action::Created => s.created += 1,
                qbo_ordoro::store::Action::Updated => s.updated += 1,
                qbo_ordoro::store::Action::Skipped => s.skipped += 1,
                qbo_ordoro::store::Action::Failed => s.failed += 1,
            }
        }
        Ok(s)
    }
}
