//! Progress on stderr while a run works: a spinner counting the transactions handled, drawn only
//! when stderr is a terminal (and no logs are being written there), so stdout stays clean.
//!
//! The engine reports nothing mid-run, so the count comes from the store: [`ProgressStore`]
//! passes every call through and ticks the spinner on each commit (one per transaction).

use std::io::IsTerminal;
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use qbo_ordoro::store::{
    Commit, CompanyCountry, LedgerEntry, LedgerKey, LogEntry, LogQuery, RunSummary, StoredToken,
};
use qbo_ordoro::{Store, TokenStore};
use std::sync::Arc;

/// The spinner, or a hidden one.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A spinner on stderr when it is a terminal and `quiet` is false; else hidden.
    pub fn new(quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress { bar: ProgressBar::hidden() };
        }
        // Nothing is drawn until `begin`, so messages printed while setting up stay clean.
        Progress { bar: ProgressBar::new_spinner() }
    }

    /// Starts showing a new run; `counting` shows the transactions handled (a dry run commits
    /// nothing, so it has no count to show).
    pub fn begin(&self, what: &str, counting: bool) {
        let template = if counting {
            "{spinner} {msg}: {pos} transactions handled [{elapsed}]"
        } else {
            "{spinner} {msg} [{elapsed}]"
        };
        self.bar.set_message(what.to_string());
        self.bar.set_position(0);
        self.bar.reset_elapsed();
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style);
        }
        self.bar.enable_steady_tick(Duration::from_millis(100));
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn tick(&self) {
        self.bar.inc(1);
    }
}

/// A [`Store`] that ticks a [`Progress`] on every commit.
#[derive(Debug)]
pub struct ProgressStore {
    inner: Arc<dyn Store>,
    progress: Progress,
}

impl ProgressStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>, progress: Progress) -> Self {
        ProgressStore { inner, progress }
    }
}

#[async_trait::async_trait]
impl TokenStore for ProgressStore {
    async fn load_token(&self, realm: &str) -> qbo_ordoro::Result<Option<StoredToken>> {
        self.inner.load_token(realm).await
    }

    async fn save_token(&self, realm: &str, token: &StoredToken) -> qbo_ordoro::Result<()> {
        self.inner.save_token(realm, token).await
    }
}

#[async_trait::async_trait]
impl Store for ProgressStore {
    async fn cursor(&self, name: &str) -> qbo_ordoro::Result<Option<DateTime<Utc>>> {
        self.inner.cursor(name).await
    }

    async fn set_cursor(&self, name: &str, at: DateTime<Utc>) -> qbo_ordoro::Result<()> {
        self.inner.set_cursor(name, at).await
    }

    async fn ledger_entry(&self, key: &LedgerKey) -> qbo_ordoro::Result<Option<LedgerEntry>> {
        self.inner.ledger_entry(key).await
    }

    async fn put_ledger_entry(&self, entry: &LedgerEntry) -> qbo_ordoro::Result<()> {
        self.inner.put_ledger_entry(entry).await
    }

    async fn pending_entries(&self, realm: &str) -> qbo_ordoro::Result<Vec<LedgerEntry>> {
        self.inner.pending_entries(realm).await
    }

    async fn commit(&self, commit: &Commit) -> qbo_ordoro::Result<()> {
        self.inner.commit(commit).await?;
        self.progress.tick();
        Ok(())
    }

    async fn query_log(&self, query: &LogQuery) -> qbo_ordoro::Result<Vec<LogEntry>> {
        self.inner.query_log(query).await
    }

    async fn run_summary(&self, realm: &str, run_id: &str) -> qbo_ordoro::Result<RunSummary> {
        self.inner.run_summary(realm, run_id).await
    }

    async fn start_run(&self, realm: &str, run_id: &str) -> qbo_ordoro::Result<bool> {
        self.inner.start_run(realm, run_id).await
    }

    async fn connected_realms(&self) -> qbo_ordoro::Result<Vec<String>> {
        self.inner.connected_realms().await
    }

    async fn company_country(&self, realm: &str) -> qbo_ordoro::Result<Option<CompanyCountry>> {
        self.inner.company_country(realm).await
    }

    async fn save_company_country(
        &self,
        realm: &str,
        country: &CompanyCountry,
    ) -> qbo_ordoro::Result<()> {
        self.inner.save_company_country(realm, country).await
    }
}
