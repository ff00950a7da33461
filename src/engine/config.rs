//! The engine's settings ([`SyncConfig`]) and the per-run switches ([`RunOptions`]).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::items::UnknownSkuPolicy;
use crate::class_filter::ClassFilter;
use crate::mapping::MappingConfig;
use crate::qbo::api::MAX_PAGE_SIZE;
use crate::store::CompanySettings;
use crate::{Error, Result};

/// The default [`SyncConfig::settle_after`]: five minutes, well past any request Ordoro's
/// servers could still be running after a client's timeout, and past the seconds a search index
/// lags.
pub const DEFAULT_SETTLE_AFTER: Duration = Duration::from_secs(5 * 60);

/// How long the engine remembers a processed webhook event by default
/// ([`SyncConfig::event_retention`]): a week, longer than QBO keeps retrying a delivery (after
/// 10 s, 20 s, 30 s, 5 min, 20 min, 2 h, 4 h and 6 h, then every 6 h).
pub const DEFAULT_EVENT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Where the first incremental run starts when a company has no cursor yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialSince {
    /// This long before the run's start.
    Ago(Duration),
    /// At this instant.
    At(DateTime<Utc>),
}

impl InitialSince {
    /// The instant this designates for a run that starts at `now`.
    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            InitialSince::At(at) => at,
            InitialSince::Ago(ago) => now - chrono::Duration::from_std(ago).unwrap_or_default(),
        }
    }
}

impl Default for InitialSince {
    /// Thirty days back: the change feed's own look-back, and a month of sales at most.
    fn default() -> Self {
        InitialSince::Ago(Duration::from_secs(30 * 24 * 3600))
    }
}

/// How the engine syncs. Every field has a sensible default ([`SyncConfig::default`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncConfig {
    /// How transactions become orders: accepted classes, shipping words, sales channel. Its
    /// [`company_country`](MappingConfig::company_country), when set, is the company's country
    /// and QBO's CompanyInfo is never read; when unset, each run reads it (at most daily,
    /// cached in the [`Store`](crate::Store)).
    pub mapping: MappingConfig,
    /// How far before the saved cursor an incremental run starts reading (default 5 min), so that
    /// a transaction committed late, or stamped by a clock a little behind, is not missed.
    pub overlap: Duration,
    /// Where the first incremental run starts (default 30 days before it).
    pub initial_since: InitialSince,
    /// Rows per QBO query page, 1 to 1000 (default 1000, QBO's maximum).
    pub page_size: u32,
    /// Bring orders already in Ordoro up to date when their transaction changes (default off).
    pub update_existing: bool,
    /// Cancel the Ordoro order of a transaction that is later voided or deleted (default off).
    /// Deletes are read from QBO's change feed only when this is on.
    pub cancel_on_void: bool,
    /// Transactions handled at once, i.e. creates in flight (default 8). The clients' pacing
    /// bounds the actual request rate.
    pub max_concurrency: usize,
    /// Consecutive transient failures (service down, throttled past retries, transport) after
    /// which a run stops, leaving the cursor before the first of them (default 5).
    pub breaker_threshold: u32,
    /// How many more times a create is sent, within the run, after a lookup showed that an
    /// ambiguous attempt (a lost response, a 5xx) did not create the order (default 2). A lookup
    /// shows that only once [`settle_after`](Self::settle_after) has passed since the attempt, so
    /// with the default bound the retry happens in a later run.
    pub create_retries: u32,
    /// How long after a create was sent a lookup that does not find its order is believed
    /// (default 5 minutes). Until then the transaction stays pending: its log says the outcome
    /// is unknown, the cursor waits before it (other transactions go on), and
    /// [`RunReport::settle_at`](super::RunReport::settle_at) says when a run can settle it.
    ///
    /// The bound protects against a second order when Ordoro accepts a repeated `order_id` (its
    /// document does not say it refuses one): it must exceed the longest time a create can still
    /// be applied after the client gave up on it (a request queued or still running on Ordoro's
    /// side) and, where the order's number cannot be derived and the list is the only lookup,
    /// the list's lag behind writes. Zero trusts every lookup at once, as earlier versions did.
    pub settle_after: Duration,
    /// Settle an unknown create by reading the order by the number Ordoro gives it (the sales
    /// channel's index, a dash, the `order_id`; default on), a read that cannot lag. The layout
    /// is inferred, not documented: the engine checks it against every number Ordoro returns
    /// and stops deriving for a channel whose numbers differ. Off, or where no number can be
    /// derived, the order is looked for in Ordoro's list, which may lag the write.
    pub derive_order_numbers: bool,
    /// When a sale's own ship-to is missing or incomplete (its mapping fails with an address
    /// error), read its QBO customer (`CustomerRef`; one read per customer per run) and, if the
    /// customer's `ShipAddr` reads, create the order from it, with a warning on the order and in
    /// the log saying so (default off: an incomplete address fails the sale, so that nothing
    /// ships to an address nobody typed for it). The preview never does this.
    pub customer_ship_to_fallback: bool,
    /// Log entries a run that writes keeps in its [`RunReport`](super::RunReport) (default
    /// 1000); past them entries are only counted, so a backfill of any size runs in flat memory.
    /// The store holds every entry. A dry run keeps them all, its report being their only record.
    pub report_entries: usize,
    /// What a line whose SKU the Ordoro account does not know does (default
    /// [`UnknownSkuPolicy::Create`]: Ordoro creates the product on the fly). The SKUs
    /// themselves come from the SKU mapping table in the [`Store`](crate::Store), then the QBO
    /// item's `Sku`, then the item's name; the fractional-quantity and bundle policies are in
    /// [`mapping`](Self::mapping).
    pub unknown_skus: UnknownSkuPolicy,
    /// SKU mappings every run applies over the store's table (a mapping here wins over one of
    /// the same key there), without saving them: a host's settings file, or a command line.
    /// Save them with [`SyncEngine::save_sku_mappings`](super::SyncEngine::save_sku_mappings)
    /// to keep them (default none).
    pub sku_mappings: Vec<crate::mapping::SkuMapping>,
    /// How long a processed webhook event is remembered
    /// ([`SyncEngine::run_changes`](super::SyncEngine::run_changes)), so that QBO's retries of
    /// a delivery already handled cost nothing (default [`DEFAULT_EVENT_RETENTION`]).
    pub event_retention: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            mapping: MappingConfig::default(),
            overlap: Duration::from_secs(5 * 60),
            initial_since: InitialSince::default(),
            page_size: MAX_PAGE_SIZE,
            update_existing: false,
            cancel_on_void: false,
            max_concurrency: 8,
            breaker_threshold: 5,
            create_retries: 2,
            settle_after: DEFAULT_SETTLE_AFTER,
            derive_order_numbers: true,
            customer_ship_to_fallback: false,
            report_entries: 1000,
            unknown_skus: UnknownSkuPolicy::default(),
            sku_mappings: Vec::new(),
            event_retention: DEFAULT_EVENT_RETENTION,
        }
    }
}

impl SyncConfig {
    /// Checks the numbers are usable.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(Error::config(format!(
                "page_size must be between 1 and {MAX_PAGE_SIZE}, got {}",
                self.page_size
            )));
        }
        if self.max_concurrency == 0 {
            return Err(Error::config("max_concurrency must be at least 1"));
        }
        if self.breaker_threshold == 0 {
            return Err(Error::config("breaker_threshold must be at least 1"));
        }
        if chrono::Duration::from_std(self.overlap).is_err() {
            return Err(Error::config("overlap is too large"));
        }
        if chrono::Duration::from_std(self.event_retention).is_err() {
            return Err(Error::config("event_retention is too large"));
        }
        if chrono::Duration::from_std(self.settle_after).is_err() {
            return Err(Error::config("settle_after is too large"));
        }
        Ok(())
    }
}

impl CompanySettings {
    /// The engine configuration for a company with these settings: `base` (the host's
    /// configuration) with the accepted classes, updates and cancel on void replaced by the
    /// settings'. When the classes differ from `base`'s names, `base`'s class ids are dropped
    /// too (ids stand for names looked up earlier); every other field is `base`'s.
    pub fn apply(&self, base: &SyncConfig) -> SyncConfig {
        let mut config = base.clone();
        // Compared as the filter keeps them (normalised), so the same names keep their ids.
        let names = ClassFilter::with_names(&self.classes);
        if config.mapping.classes().names() != names.names() {
            config.mapping =
                config.mapping.with_classes(&self.classes).with_class_ids(Vec::<String>::new());
        }
        config.update_existing = self.update_existing;
        config.cancel_on_void = self.cancel_on_void;
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_replace_classes_updates_and_voids_and_keep_the_rest() {
        let base = SyncConfig {
            mapping: MappingConfig::default().with_class_ids(["7"]).with_cart(Some(3)),
            page_size: 200,
            update_existing: true,
            ..SyncConfig::default()
        };
        let settings = CompanySettings {
            classes: vec!["Wholesale".into(), "Retail".into()],
            update_existing: false,
            cancel_on_void: true,
            ..CompanySettings::default()
        };
        let applied = settings.apply(&base);
        assert_eq!(applied.mapping.classes().names(), ["wholesale", "retail"]);
        assert!(applied.mapping.classes().ids().is_empty(), "ids of the old names are dropped");
        assert_eq!(applied.mapping.cart(), Some(3));
        assert!(!applied.update_existing);
        assert!(applied.cancel_on_void);
        assert_eq!(applied.page_size, 200);
        let expected = SyncConfig {
            mapping: base
                .mapping
                .clone()
                .with_classes(["Wholesale", "Retail"])
                .with_class_ids(Vec::<String>::new()),
            update_existing: false,
            cancel_on_void: true,
            ..base.clone()
        };
        assert_eq!(applied, expected);
    }

    #[test]
    fn the_same_classes_keep_their_ids() {
        let base = SyncConfig {
            mapping: MappingConfig::default().with_class_ids(["7"]),
            ..SyncConfig::default()
        };
        let applied = CompanySettings::default().apply(&base);
        assert_eq!(applied.mapping, base.mapping);
        let spelt_otherwise =
            CompanySettings { classes: vec![" ORDORO ".into()], ..CompanySettings::default() };
        assert_eq!(spelt_otherwise.apply(&base).mapping.classes().ids(), ["7"]);
        assert_eq!(applied, base, "the default settings change nothing of the default config");
    }
}

/// Switches for one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunOptions {
    /// Do everything but the writes: no Ordoro writes, nothing saved to the store; the report
    /// carries the log entries the run would have written.
    pub dry_run: bool,
    /// Overrides [`SyncConfig::update_existing`] for this run.
    pub update_existing: Option<bool>,
}

impl RunOptions {
    /// A run that writes nothing.
    pub fn dry_run() -> Self {
        RunOptions { dry_run: true, ..Default::default() }
    }
}
