//! The engine's state as a port: the cursor, the ledger (which QBO transaction became which
//! Ordoro order), OAuth tokens, the transaction log people read, and what the SKUs need: the
//! cache of QBO items, the SKU mapping table and the retry set.
//!
//! [`Store::commit`] writes one transaction's ledger change, its log entry and the cursor's move
//! together or not at all, so a crash never leaves an order without its ledger entry or a cursor
//! past an unhandled transaction. Implementations: [`MemoryStore`], `SqliteStore` (feature
//! `sqlite`), `PostgresStore` (feature `postgres`), or the host's own.
//!
//! The log a person reads: [`Store::log_page`] returns one page of a filtered view
//! ([`LogQuery`]: company, action, reason, entity, dates, free text), newest first or oldest
//! first, with the [`LogCursor`]s of the pages around it (keyset pagination, the same cost on
//! any page); [`log_csv`] writes entries as CSV; [`Reason::how_to_fix`] says what the merchant
//! does about a skip or a failure.

use std::fmt;

use chrono::{DateTime, FixedOffset, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::mapping::{SkuKey, SkuMapping};
use crate::model::ordoro::{NewOrder, Order, OrdoroAddress};
use crate::model::qbo::{EntityKind, QboItem};
use crate::{Reason, Result};

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod conformance;
mod export;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod settings;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod stored_time;

pub use export::{LOG_CSV_HEADER, log_csv};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{PostgresCoordinator, PostgresStore};
pub use settings::{CompanySettings, DEFAULT_CATCH_UP_INTERVAL, DEFAULT_POLL_INTERVAL};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::{SqliteOptions, SqliteSettings, SqliteStore};

/// Identifies a QBO transaction across companies: realm, entity and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LedgerKey {
    /// The company (realm) id.
    pub realm: String,
    /// Invoice or sales receipt.
    pub entity: EntityKind,
    /// The QBO id.
    pub qbo_id: String,
}

/// Where a transaction's order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerState {
    /// A create was about to be sent (or its outcome is unknown): settle by a lookup first.
    Pending,
    /// The order exists in Ordoro.
    Created,
    /// The order was cancelled because the transaction was voided or deleted.
    Cancelled,
}

/// What the sync knows of one transaction's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The transaction.
    pub key: LedgerKey,
    /// The `order_id` we sent (derived from the transaction).
    pub order_id: String,
    /// The order number Ordoro gave it, once known.
    pub order_number: Option<String>,
    /// The transaction's SyncToken when last handled.
    pub sync_token: String,
    /// Where the order stands.
    pub state: LedgerState,
    /// When this entry was last written.
    pub updated_at: DateTime<Utc>,
}

/// What the sync last sent to a transaction's order: the values it owns there. The update
/// planner diffs against it to tell a field the merchant cleared in QBO (the sync sent a value,
/// QBO now has none: erase it) from one QBO never had (a warehouse user's phone number: leave
/// it), and a line it sent from one the warehouse added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentOrder {
    /// The order the values were sent to; a record of another order number is not this
    /// order's and is ignored.
    pub order_number: String,
    /// The ship-to as last sent (a field QBO had no value for is `None`).
    pub shipping_address: OrdoroAddress,
    /// The bill-to as last sent.
    pub billing_address: OrdoroAddress,
    /// The lines as last sent.
    pub lines: Vec<SentLine>,
    /// When Ordoro last accepted them.
    pub sent_at: DateTime<Utc>,
}

/// A line of a [`SentOrder`]: what tells it apart from the order's other lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentLine {
    /// The source line id (QBO's line id), when the line had one.
    pub cart_orderitem_id: Option<String>,
    /// The SKU.
    pub sku: String,
}

impl SentOrder {
    /// The record of `order` (the body the sync wanted and Ordoro now holds) sent to the order
    /// `order_number` at `sent_at`.
    pub fn new(order_number: impl Into<String>, order: &NewOrder, sent_at: DateTime<Utc>) -> Self {
        SentOrder {
            order_number: order_number.into(),
            shipping_address: order.shipping_address.clone(),
            billing_address: order.billing_address.clone(),
            lines: order
                .lines
                .iter()
                .map(|l| SentLine {
                    cart_orderitem_id: l.cart_orderitem_id.clone(),
                    sku: l.product.sku.clone(),
                })
                .collect(),
            sent_at,
        }
    }

    /// The record of what Ordoro holds of `order` at `at`: what the sync sent, when the order
    /// is one it has just created and nobody has edited since. The record of a create whose
    /// answer was lost, read back when the create is settled.
    pub fn of_order(order: &Order, at: DateTime<Utc>) -> Self {
        SentOrder {
            order_number: order.order_number.clone(),
            shipping_address: order.shipping_address.clone().unwrap_or_default(),
            billing_address: order.billing_address.clone().unwrap_or_default(),
            lines: order
                .lines
                .iter()
                .map(|l| SentLine {
                    cart_orderitem_id: l.cart_orderitem_id.clone(),
                    sku: l.sku.clone().unwrap_or_default(),
                })
                .collect(),
            sent_at: at,
        }
    }

    /// True when `other` records the same values (whenever each was sent).
    pub fn same_values(&self, other: &SentOrder) -> bool {
        SentOrder { sent_at: other.sent_at, ..self.clone() } == *other
    }
}

/// What the sync did with a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// An order was created (or would be, in a dry run).
    Created,
    /// An existing order was updated (or would be).
    Updated,
    /// Nothing was written; the reason says why.
    Skipped,
    /// Something failed; the failure says what.
    Failed,
}

impl Action {
    /// `created`, `updated`, `skipped` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Skipped => "skipped",
            Action::Failed => "failed",
        }
    }

    /// Every action, in the order [`RunSummary`] lists them.
    pub const ALL: [Action; 4] =
        [Action::Created, Action::Updated, Action::Skipped, Action::Failed];

    /// Reads what [`Action::as_str`] wrote.
    pub fn parse(s: &str) -> Option<Self> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl LedgerState {
    /// `pending`, `created` or `cancelled` (as serde spells them).
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerState::Pending => "pending",
            LedgerState::Created => "created",
            LedgerState::Cancelled => "cancelled",
        }
    }

    /// Reads what [`LedgerState::as_str`] wrote.
    pub fn parse(s: &str) -> Option<Self> {
        [LedgerState::Pending, LedgerState::Created, LedgerState::Cancelled]
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

/// What a service said when a call failed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FailureInfo {
    /// `qbo`, `ordoro`, or empty for a local failure.
    pub service: Option<String>,
    /// HTTP status.
    pub status: Option<u16>,
    /// The service's error code.
    pub code: Option<String>,
    /// The message.
    pub message: String,
    /// The service's request id.
    pub request_id: Option<String>,
}

/// One line of the transaction log: one transaction, one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The run.
    pub run_id: String,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// The company (realm) id.
    pub realm: String,
    /// Invoice or sales receipt.
    pub entity: EntityKind,
    /// The QBO id.
    pub qbo_id: String,
    /// The DocNumber, when the transaction has one.
    pub doc_number: Option<String>,
    /// The customer's name (`CustomerRef.name`) as the transaction named it, trimmed, when it did (an
    /// entry written without the document, such as a delete or a settled create, has none).
    /// Absent from entries written before it existed.
    #[serde(default)]
    pub customer: Option<String>,
    /// The SyncToken seen.
    pub sync_token: Option<String>,
    /// `MetaData.LastUpdatedTime` seen.
    pub last_updated: Option<DateTime<FixedOffset>>,
    /// What happened.
    pub action: Action,
    /// Why (`class_mismatch`, `voided`, `already_synced`, ...), for skips and failures.
    pub reason: Option<Reason>,
    /// A sentence for people.
    pub detail: Option<String>,
    /// The Ordoro order number, when there is one.
    pub order_number: Option<String>,
    /// For failures: what the service said.
    pub failure: Option<FailureInfo>,
    /// True when the run was a dry run (nothing was written to Ordoro).
    pub dry_run: bool,
}

/// A change to one transaction's ledger entry, written with its log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerChange {
    /// Insert the entry, or replace the transaction's entry.
    Put(LedgerEntry),
    /// Remove the transaction's entry: its [`LedgerState::Pending`] create is known not to have
    /// happened (Ordoro refused it, or a lookup found no order), so the transaction is created
    /// afresh when it is next read. Removing an absent entry is not an error.
    Remove(LedgerKey),
}

/// Everything to write, atomically, once a transaction is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The log entry.
    pub log: LogEntry,
    /// The change to the transaction's ledger entry, if the ledger changes.
    pub ledger: Option<LedgerChange>,
    /// The cursor to move, if it moves: its name and new position.
    pub cursor: Option<(String, DateTime<Utc>)>,
}

/// A search of the transaction log. Every set field must match.
///
/// [`Store::query_log`] returns the matches in the order written (`newest_first`, `before` and
/// `after` aside: they shape pages); [`Store::log_page`] returns one page of them in time
/// order, oldest or newest first, from a [`LogCursor`] (keyset pagination: a page costs the same
/// deep in a large log as at its start).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogQuery {
    /// Only this company.
    pub realm: Option<String>,
    /// Only this run.
    pub run_id: Option<String>,
    /// Only this QBO id.
    pub qbo_id: Option<String>,
    /// Only this DocNumber.
    pub doc_number: Option<String>,
    /// Only this Ordoro order number.
    pub order_number: Option<String>,
    /// Only this action.
    pub action: Option<Action>,
    /// Written at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Written before this instant.
    pub to: Option<DateTime<Utc>>,
    /// At most this many entries (the most recent ones are not preferred: the first matches are).
    /// For [`Store::log_page`], the page size ([`LogQuery::DEFAULT_PAGE_SIZE`] when unset).
    pub limit: Option<usize>,
    /// Only invoices, or only sales receipts.
    pub entity: Option<EntityKind>,
    /// Only entries with this reason.
    pub reason: Option<Reason>,
    /// Free text a person typed: matches an entry whose DocNumber, QBO id, Ordoro order number or
    /// customer name equals it, whole, ignoring the case of ASCII letters and the spaces around
    /// it (see [`LogQuery::text_term`]). Whole values, not prefixes, so that the first page of
    /// any search is an index walk whatever the log's size. Blank text filters nothing.
    pub text: Option<String>,
    /// For [`Store::log_page`]: newest entries first (a person's view of the log) rather than
    /// oldest first. [`Store::query_log`] ignores it.
    pub newest_first: bool,
    /// For [`Store::log_page`]: only entries strictly before this cursor in time order (the next
    /// page of a newest-first view, the previous page of an oldest-first one). The page holds
    /// the entries nearest the cursor. [`Store::query_log`] ignores it.
    pub before: Option<LogCursor>,
    /// For [`Store::log_page`]: only entries strictly after this cursor in time order (the next
    /// page of an oldest-first view, the previous page of a newest-first one). The page holds
    /// the entries nearest the cursor. [`Store::query_log`] ignores it.
    pub after: Option<LogCursor>,
}

impl LogQuery {
    /// The page size of [`Store::log_page`] when [`LogQuery::limit`] is unset.
    pub const DEFAULT_PAGE_SIZE: usize = 50;

    /// True when `entry` passes every filter of this query (the limit and the cursors aside).
    /// Stores that cannot filter natively can scan with this.
    pub fn matches(&self, entry: &LogEntry) -> bool {
        fn same(wanted: &Option<String>, actual: &str) -> bool {
            wanted.as_deref().is_none_or(|w| w == actual)
        }
        fn same_opt(wanted: &Option<String>, actual: &Option<String>) -> bool {
            wanted.is_none() || wanted.as_deref() == actual.as_deref()
        }
        same(&self.realm, &entry.realm)
            && same(&self.run_id, &entry.run_id)
            && same(&self.qbo_id, &entry.qbo_id)
            && same_opt(&self.doc_number, &entry.doc_number)
            && same_opt(&self.order_number, &entry.order_number)
            && self.action.is_none_or(|a| a == entry.action)
            && self.from.is_none_or(|from| entry.at >= from)
            && self.to.is_none_or(|to| entry.at < to)
            && self.entity.is_none_or(|e| e == entry.entity)
            && self.reason.is_none_or(|r| Some(r) == entry.reason)
            && self.text_term().is_none_or(|text| text_matches(text, entry))
    }

    /// The free text to match, trimmed; `None` when there is none or it is blank. Stores match
    /// it against the DocNumber, the QBO id, the order number and the customer, whole, ASCII
    /// letters in either case (SQLite's `NOCASE`).
    pub fn text_term(&self) -> Option<&str> {
        self.text.as_deref().map(str::trim).filter(|t| !t.is_empty())
    }

    /// The page size [`Store::log_page`] uses.
    pub fn page_size(&self) -> usize {
        self.limit.unwrap_or(Self::DEFAULT_PAGE_SIZE)
    }

    /// True when `cursor` (an entry's place) lies within this query's `before` and `after`.
    pub fn within_cursors(&self, cursor: &LogCursor) -> bool {
        self.before.is_none_or(|b| *cursor < b) && self.after.is_none_or(|a| *cursor > a)
    }

    /// The query of the page after `page` in this query's direction, or `None` when `page` was
    /// the last one: the same filters, the cursor moved.
    pub fn next_page(&self, page: &LogPage) -> Option<LogQuery> {
        let next = page.next?;
        Some(self.moved(next, self.newest_first))
    }

    /// The query of the page before `page` in this query's direction (towards the first page),
    /// or `None` when `page` is the first one.
    pub fn previous_page(&self, page: &LogPage) -> Option<LogQuery> {
        let previous = page.previous?;
        Some(self.moved(previous, !self.newest_first))
    }

    /// This query from `cursor`, towards older entries when `older` is set.
    fn moved(&self, cursor: LogCursor, older: bool) -> LogQuery {
        let (before, after) = if older { (Some(cursor), None) } else { (None, Some(cursor)) };
        LogQuery { before, after, ..self.clone() }
    }
}

/// The free-text rule of [`LogQuery::text`], shared by every store that scans.
fn text_matches(text: &str, entry: &LogEntry) -> bool {
    let same = |value: Option<&str>| value.is_some_and(|v| v.eq_ignore_ascii_case(text));
    same(entry.doc_number.as_deref())
        || same(Some(&entry.qbo_id))
        || same(entry.order_number.as_deref())
        || same(entry.customer.as_deref())
}

/// A place in the transaction log: an entry's instant and its sequence number in its store (the
/// order written). Entries sort by time, then sequence, so every entry has one place and a page
/// that starts from a cursor neither repeats nor skips an entry, even while entries are added.
///
/// Opaque to people, and text for links: `Display` writes it and `FromStr` reads it back. A
/// cursor belongs to the store that made it.
///
/// ```
/// use qbo_ordoro::store::LogCursor;
///
/// let cursor: LogCursor = "1714000000.000000005~42".parse()?;
/// assert_eq!(cursor.to_string(), "1714000000.000000005~42");
/// assert!("not a cursor".parse::<LogCursor>().is_err());
/// # Ok::<(), qbo_ordoro::store::LogCursorError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogCursor {
    /// When the entry was written.
    pub at: DateTime<Utc>,
    /// Its sequence number in the store (SQLite's row id; a `MemoryStore`'s position from 1).
    pub seq: u64,
}

impl LogCursor {
    /// The place of the entry written at `at` with sequence number `seq`.
    pub fn new(at: DateTime<Utc>, seq: u64) -> Self {
        LogCursor { at, seq }
    }
}

impl fmt::Display for LogCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}~{}", self.at.timestamp(), self.at.timestamp_subsec_nanos(), self.seq)
    }
}

/// Text that is no [`LogCursor`]: a link was cut or edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a transaction log cursor; start again from the log's first page")]
pub struct LogCursorError(pub String);

impl std::str::FromStr for LogCursor {
    type Err = LogCursorError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let bad = || LogCursorError(s.chars().take(64).collect());
        let (time, seq) = s.split_once('~').ok_or_else(bad)?;
        let (secs, nanos) = time.split_once('.').ok_or_else(bad)?;
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let secs_digits = secs.strip_prefix('-').unwrap_or(secs);
        if !digits(secs_digits) || nanos.len() != 9 || !digits(nanos) || !digits(seq) {
            return Err(bad());
        }
        let secs: i64 = secs.parse().map_err(|_| bad())?;
        let nanos: u32 = nanos.parse().map_err(|_| bad())?;
        let at = DateTime::<Utc>::from_timestamp(secs, nanos).ok_or_else(bad)?;
        Ok(LogCursor { at, seq: seq.parse().map_err(|_| bad())? })
    }
}

/// One page of the transaction log ([`Store::log_page`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogPage {
    /// The entries, in the query's order (newest first when it asks so).
    pub entries: Vec<LogEntry>,
    /// Each entry's place, beside it.
    pub cursors: Vec<LogCursor>,
    /// Where the next page starts (the last entry's place), when there are more entries past
    /// this page in the query's direction. [`LogQuery::next_page`] builds its query.
    pub next: Option<LogCursor>,
    /// Where the previous page ends (the first entry's place), when this page was read from a
    /// cursor and entries may lie before it. [`LogQuery::previous_page`] builds its query.
    pub previous: Option<LogCursor>,
}

impl LogPage {
    /// The page made of `rows`, the query's matches within its cursors, in the direction of
    /// travel (nearest the cursor first) and up to one more than the page size, so that
    /// whether more follow is known without another read. Stores call this once they have
    /// read their rows.
    pub fn from_rows(query: &LogQuery, mut rows: Vec<(LogCursor, LogEntry)>) -> LogPage {
        let size = query.page_size();
        let more = rows.len() > size;
        rows.truncate(size);
        // Reading towards newer entries while the view is newest first (a previous page of a
        // newest-first view), or the opposite, reads the page backwards: turn it round.
        let backwards = LogPage::reads_towards_older(query) != query.newest_first;
        if backwards {
            rows.reverse();
        }
        let from_cursor = query.before.is_some() || query.after.is_some();
        let (first, last) = (rows.first().map(|r| r.0), rows.last().map(|r| r.0));
        let (next, previous) = if backwards {
            // Read against the view: what was read past is the previous page's side.
            (last.filter(|_| from_cursor), first.filter(|_| more))
        } else {
            (last.filter(|_| more), first.filter(|_| from_cursor))
        };
        let (cursors, entries) = rows.into_iter().unzip();
        LogPage { entries, cursors, next, previous }
    }

    /// Which way a store reads for `query`: towards older entries (time order descending) or
    /// newer. The cursor decides; without one, the view's order does.
    pub fn reads_towards_older(query: &LogQuery) -> bool {
        match (query.before, query.after) {
            (_, Some(_)) => false,
            (Some(_), None) => true,
            (None, None) => query.newest_first,
        }
    }
}

/// Counts of a run's log entries by action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunSummary {
    /// Orders created.
    pub created: u64,
    /// Orders updated.
    pub updated: u64,
    /// Transactions skipped.
    pub skipped: u64,
    /// Transactions that failed.
    pub failed: u64,
}

impl RunSummary {
    /// Adds `n` entries of `action`, saturating rather than overflowing.
    pub fn add(&mut self, action: Action, n: u64) {
        let count = match action {
            Action::Created => &mut self.created,
            Action::Updated => &mut self.updated,
            Action::Skipped => &mut self.skipped,
            Action::Failed => &mut self.failed,
        };
        *count = count.saturating_add(n);
    }

    /// The count of `action`.
    pub fn count(&self, action: Action) -> u64 {
        match action {
            Action::Created => self.created,
            Action::Updated => self.updated,
            Action::Skipped => self.skipped,
            Action::Failed => self.failed,
        }
    }

    /// Entries of every action together.
    pub fn total(&self) -> u64 {
        Action::ALL.into_iter().fold(0u64, |sum, a| sum.saturating_add(self.count(a)))
    }
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "created={} updated={} skipped={} failed={}",
            self.created, self.updated, self.skipped, self.failed
        )
    }
}

/// The QBO company's own country as last read from QBO (its CompanyInfo), kept so that the
/// engine reads it at most once a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyCountry {
    /// The country as an ISO 3166-1 alpha-2 code, or `None` when CompanyInfo named no country
    /// that could be read (addresses are then read as U.S. ones).
    pub country: Option<String>,
    /// When it was read from QBO.
    pub read_at: DateTime<Utc>,
}

impl CompanyCountry {
    /// Ok when it can be saved for company `realm`: no country, or a two-letter code. The SQL
    /// stores check it before a save, with the same message.
    pub fn check(&self, realm: &str) -> Result<()> {
        let code = self.country.as_deref();
        if code.is_some_and(|c| c.chars().count() != 2) {
            return Err(crate::Error::bad_input(format!(
                "the country of company {realm} must be an ISO alpha-2 code, not {code:?}"
            )));
        }
        Ok(())
    }
}

/// A sale in the retry set: it failed for a reason a setting can fix
/// ([`Reason::fixable_by_setting`]: an unknown SKU, a fractional quantity), so nothing in QBO
/// will bring it back to the sync once the setting changes. The engine reads it again by id at
/// the start of each run until it succeeds or fails for another reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryEntry {
    /// The transaction.
    pub key: LedgerKey,
    /// Its SyncToken when it failed.
    pub sync_token: Option<String>,
    /// Why it failed.
    pub reason: Reason,
    /// When it last failed.
    pub failed_at: DateTime<Utc>,
    /// The run it last failed in.
    pub run_id: String,
}

/// OAuth tokens of one company. Debug output never shows the secrets.
#[derive(Clone)]
pub struct StoredToken {
    /// The refresh token (rotates; must be saved before the access token is used).
    pub refresh_token: SecretString,
    /// The current access token, if any.
    pub access_token: Option<SecretString>,
    /// When the access token expires.
    pub access_expires_at: Option<DateTime<Utc>>,
    /// When the refresh token expires unless it is used before (QBO's rolling 100 days,
    /// `x_refresh_token_expires_in`), when QBO said so.
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// When the connection ends whatever happens (QBO's hard limit of 5 years,
    /// `x_refresh_token_hard_expires_in`), when QBO said so: the merchant must reconnect by then.
    pub refresh_hard_expires_at: Option<DateTime<Utc>>,
    /// The [`token_fingerprint`] of the refresh token this one was rotated from, kept through
    /// every rotation: tells a rotation of the same grant from a new token given by a person.
    pub grant_fingerprint: Option<String>,
}

impl StoredToken {
    /// A refresh token alone (no access token yet), its own grant.
    pub fn new(refresh_token: SecretString) -> Self {
        let grant_fingerprint = Some(token_fingerprint(&refresh_token));
        StoredToken {
            refresh_token,
            access_token: None,
            access_expires_at: None,
            refresh_expires_at: None,
            refresh_hard_expires_at: None,
            grant_fingerprint,
        }
    }

    /// The date by which the merchant must reconnect QuickBooks: the hard expiry, or the
    /// rolling one if it comes first (a company not synced for 100 days), when QBO said either.
    pub fn reconnect_by(&self) -> Option<DateTime<Utc>> {
        match (self.refresh_expires_at, self.refresh_hard_expires_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("refresh_token", &"[redacted]")
            .field("access_token", &self.access_token.as_ref().map(|_| "[redacted]"))
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("refresh_hard_expires_at", &self.refresh_hard_expires_at)
            .field("grant_fingerprint", &self.grant_fingerprint)
            .finish()
    }
}

/// A fingerprint of a token, safe to store and show: `sha256:` and the first 16 bytes of the
/// token's SHA-256 in hex. Equal tokens have equal fingerprints; the token cannot be read back.
pub fn token_fingerprint(token: &SecretString) -> String {
    use secrecy::ExposeSecret;
    use sha2::Digest;
    use std::fmt::Write;
    let digest = sha2::Sha256::digest(token.expose_secret().as_bytes());
    digest.iter().take(16).fold(String::from("sha256:"), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Keeps OAuth tokens per company. The QBO client saves a rotated refresh token here *before* it
/// uses the new access token.
#[async_trait::async_trait]
pub trait TokenStore: fmt::Debug + Send + Sync {
    /// The saved tokens of `realm`.
    async fn load_token(&self, realm: &str) -> Result<Option<StoredToken>>;
    /// Saves the tokens of `realm`, replacing what was there; durable when it returns.
    async fn save_token(&self, realm: &str, token: &StoredToken) -> Result<()>;
    /// Forgets the tokens of `realm` (the company was disconnected: its grant revoked at
    /// Intuit); true when there were some. Afterwards [`load_token`](Self::load_token) is `None`
    /// and [`Store::connected_realms`] no longer lists the realm. Nothing else is forgotten: the
    /// ledger, the log, the cursors and the settings stay, so a company connected again carries
    /// on where it left off. Durable when it returns.
    async fn forget_token(&self, realm: &str) -> Result<bool>;
}

/// The engine's state.
#[async_trait::async_trait]
pub trait Store: TokenStore {
    /// The incremental cursor called `name` (the engine keeps one per company and entity, e.g.
    /// `"123145/Invoice"`): every transaction last updated before it is handled.
    async fn cursor(&self, name: &str) -> Result<Option<DateTime<Utc>>>;
    /// Moves the cursor called `name` (a checkpoint without a log entry).
    async fn set_cursor(&self, name: &str, at: DateTime<Utc>) -> Result<()>;
    /// The ledger entry of a transaction.
    async fn ledger_entry(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>>;
    /// Inserts or replaces a ledger entry alone (used to record a pending create before sending it).
    async fn put_ledger_entry(&self, entry: &LedgerEntry) -> Result<()>;
    /// Ledger entries of `realm` still [`LedgerState::Pending`].
    async fn pending_entries(&self, realm: &str) -> Result<Vec<LedgerEntry>>;
    /// Writes the log entry, the ledger change and the cursor move in one atomic step: after a
    /// crash, all of them are there or none is.
    async fn commit(&self, commit: &Commit) -> Result<()>;
    /// Searches the transaction log.
    async fn query_log(&self, query: &LogQuery) -> Result<Vec<LogEntry>>;
    /// One page of the log entries matching `query`, in time order (newest first when
    /// [`LogQuery::newest_first`]), from its `before` or `after` cursor, at most
    /// [`LogQuery::page_size`] entries. Keyset pagination: the page is read from the cursor, not
    /// counted from the start, so it costs the same deep in the log as on the first page, and
    /// entries written between two page reads neither repeat nor hide an entry.
    /// [`LogPage::from_rows`] builds the page from the rows read.
    async fn log_page(&self, query: &LogQuery) -> Result<LogPage>;
    /// Counts the log entries of `realm`'s run `run_id` by action. Run ids are unique within a
    /// company; two companies syncing into one store may start runs with the same id.
    async fn run_summary(&self, realm: &str, run_id: &str) -> Result<RunSummary>;
    /// Records that `realm`'s run `run_id` started; false (and nothing written) when a run of
    /// that id was already recorded. Atomic, so two processes starting a run in the same second
    /// get different ids, even for runs that log nothing.
    async fn start_run(&self, realm: &str, run_id: &str) -> Result<bool>;
    /// The companies (realms) that have saved tokens, in order: the connected companies.
    async fn connected_realms(&self) -> Result<Vec<String>>;
    /// The country of company `realm` as last read from QBO, and when.
    async fn company_country(&self, realm: &str) -> Result<Option<CompanyCountry>>;
    /// Saves the country of company `realm`, replacing what was there.
    async fn save_company_country(&self, realm: &str, country: &CompanyCountry) -> Result<()>;
    /// The settings a person saved for the company, if any.
    async fn company_settings(&self, realm: &str) -> Result<Option<CompanySettings>>;
    /// Saves the company's settings, replacing any before. Settings that cannot run
    /// ([`CompanySettings::validate`]) are refused with a [`Config`](crate::ErrorKind::Config)
    /// error and nothing is saved.
    async fn save_company_settings(&self, realm: &str, settings: &CompanySettings) -> Result<()>;
    /// What the sync last sent to the order of transaction `key`, if it was recorded (an order
    /// synced before the record existed has none, and the engine then never erases a field).
    async fn sent_order(&self, key: &LedgerKey) -> Result<Option<SentOrder>>;
    /// Records what the sync sent to the order of transaction `key`, replacing what was there.
    async fn save_sent_order(&self, key: &LedgerKey, sent: &SentOrder) -> Result<()>;

    /// The cached QBO items of company `realm` among `ids` (those not cached are absent).
    async fn cached_items(&self, realm: &str, ids: &[String]) -> Result<Vec<QboItem>>;
    /// Caches QBO items of company `realm`, by id: an item replaces the cached one unless the
    /// cached one has a higher SyncToken (a newer version read earlier).
    async fn cache_items(&self, realm: &str, items: &[QboItem]) -> Result<()>;
    /// The SKU mapping table of company `realm`, in key order (ids before names).
    async fn sku_mappings(&self, realm: &str) -> Result<Vec<SkuMapping>>;
    /// Adds a SKU mapping to company `realm`'s table, replacing one of the same key.
    async fn put_sku_mapping(&self, realm: &str, mapping: &SkuMapping) -> Result<()>;
    /// Removes the SKU mapping of `key` from company `realm`'s table; false when there was none.
    async fn remove_sku_mapping(&self, realm: &str, key: &SkuKey) -> Result<bool>;
    /// The retry set of company `realm`, in key order.
    async fn retry_entries(&self, realm: &str) -> Result<Vec<RetryEntry>>;
    /// Adds a sale to the retry set, replacing its entry if it has one.
    async fn put_retry_entry(&self, entry: &RetryEntry) -> Result<()>;
    /// Removes a sale from the retry set; removing an absent one is not an error.
    async fn remove_retry_entry(&self, key: &LedgerKey) -> Result<()>;

    /// Of `keys` (webhook events of company `realm`, by
    /// [`ChangeEvent::dedupe_key`](crate::webhook::ChangeEvent::dedupe_key)), those recorded as
    /// processed and not forgotten yet, in any order.
    async fn processed_events(&self, realm: &str, keys: &[String]) -> Result<Vec<String>>;
    /// Records webhook events of company `realm` as processed at `at`; a key recorded again
    /// keeps its first time (so retention counts from the first processing).
    async fn mark_events_processed(
        &self,
        realm: &str,
        keys: &[String],
        at: DateTime<Utc>,
    ) -> Result<()>;
    /// Forgets the processed events (of every company) recorded before `before`: the retention
    /// window. Returns how many were forgotten.
    async fn forget_events_before(&self, before: DateTime<Utc>) -> Result<u64>;
}

/// True when an item of SyncToken `new` may replace a cached one of `old`: unless `old` is a
/// higher number (tokens that are not numbers always replace).
pub fn newer_or_same_item(old: Option<&str>, new: Option<&str>) -> bool {
    let number = |t: Option<&str>| t.and_then(|t| t.trim().parse::<u64>().ok());
    match (number(old), number(new)) {
        (Some(old), Some(new)) => new >= old,
        _ => true,
    }
}
