//! Paging a last-updated window without losing a row: [`UpdatedPager`] decides the next
//! [`UpdatedQuery`] from the pages seen so far, keyed on the last timestamp seen rather than on an
//! offset, and drops rows it has already returned. Pure: no I/O, no clock; it works with any
//! [`QboApi`](super::QboApi).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{MAX_PAGE_SIZE, TxnPage, UpdatedQuery};
use crate::model::qbo::{EntityKind, SalesTransaction};

/// QBO's timestamps have whole seconds; the next second after a tie is this far on.
const RESOLUTION: chrono::Duration = chrono::Duration::seconds(1);

/// Pages the rows of one entity whose `MetaData.LastUpdatedTime` lies in `[from, to]`.
///
/// Use: `while let Some(q) = pager.next_query() { let page = api.query_updated(&q).await?;
/// for row in pager.accept(&page) { ... } }`.
///
/// **Invariant: no row that is in the window when paging starts, and is still there when paging
/// ends, is skipped, even if other rows are edited between page requests.** An edit moves a row
/// to a later `LastUpdatedTime` (after `to`, which is fixed in the past, so it leaves the window
/// and the next run reads it). Offset paging would then shift every later row one place left and
/// skip one; this pager instead:
///
/// - asks for the next page from the **last timestamp seen** (`from = last row's time`,
///   `STARTPOSITION 1`), so no offset exists for a departure to shift; rows of that second
///   already returned come again and are dropped by their `(Id, SyncToken)`; only the rows at
///   or after the next page's lower bound are remembered, so memory stays at about a page
///   however long the window;
/// - when a whole full page shares one second (more rows in that second than a page holds), it
///   reads that second alone (`[t, t]`) by `STARTPOSITION`, in passes, until two passes in a row
///   read the same number of rows. A pass reads exactly as many rows as the second holds when its
///   last page is served, so equal counts mean no row left during the second pass, which was
///   therefore exact. Then it goes on from the next second.
///
/// A page is full when it holds at least as many distinct rows as asked (QBO can send 101 for
/// 100; a row delivered twice counts once); a shorter or empty page ends the window. Rows are assumed to join a past second never (QBO
/// stamps an edit with the current time), which holds when `to` is in the past.
#[derive(Debug, Clone)]
pub struct UpdatedPager {
    entity: EntityKind,
    to: DateTime<Utc>,
    page_size: u32,
    mode: Mode,
    /// Rows returned that the next query can return again (at or after its lower bound), with
    /// their last-updated time.
    seen: HashMap<(String, String), Option<DateTime<Utc>>>,
    last_seen: Option<DateTime<Utc>>,
    pages: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    /// Rows from `from` on, first page of that bound.
    Keyset {
        from: DateTime<Utc>,
    },
    /// Rows of the single second `at`, a pass at position `start`.
    Tie {
        at: DateTime<Utc>,
        start: u32,
        read: u32,
        previous_pass: Option<u32>,
    },
    Done,
}

impl UpdatedPager {
    /// A pager over `[from, to]` asking for `page_size` rows a page (clamped to 1..=1000).
    pub fn new(entity: EntityKind, from: DateTime<Utc>, to: DateTime<Utc>, page_size: u32) -> Self {
        let mode = if from > to { Mode::Done } else { Mode::Keyset { from } };
        UpdatedPager {
            entity,
            to,
            page_size: page_size.clamp(1, MAX_PAGE_SIZE),
            mode,
            seen: HashMap::new(),
            last_seen: None,
            pages: 0,
        }
    }

    /// The next page to ask for, or `None` when the window is done.
    pub fn next_query(&self) -> Option<UpdatedQuery> {
        let (from, to, start_position) = match &self.mode {
            Mode::Keyset { from } => (*from, self.to, 1),
            Mode::Tie { at, start, .. } => (*at, *at, *start),
            Mode::Done => return None,
        };
        Some(UpdatedQuery {
            entity: self.entity,
            from,
            to,
            start_position,
            max_results: self.page_size,
        })
    }

    /// True when every page has been read.
    pub fn is_done(&self) -> bool {
        self.mode == Mode::Done
    }

    /// The latest `LastUpdatedTime` among the rows read so far.
    pub fn last_seen(&self) -> Option<DateTime<Utc>> {
        self.last_seen
    }

    /// Pages accepted so far.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// Takes the answer to the last [`next_query`](Self::next_query) and returns the rows not
    /// returned before (by `Id` and `SyncToken`), in page order.
    pub fn accept(&mut self, page: &TxnPage) -> Vec<SalesTransaction> {
        let fresh: Vec<bool> = page.transactions.iter().map(|r| self.remember(r)).collect();
        self.advance(&page.transactions);
        page.transactions.iter().zip(fresh).filter(|(_, f)| *f).map(|(r, _)| r.clone()).collect()
    }

    /// Like [`accept`](Self::accept), but takes the page by value, so the fresh rows are moved
    /// out of it rather than copied.
    pub fn accept_owned(&mut self, page: TxnPage) -> Vec<SalesTransaction> {
        let fresh: Vec<bool> = page.transactions.iter().map(|r| self.remember(r)).collect();
        self.advance(&page.transactions);
        page.transactions.into_iter().zip(fresh).filter(|(_, f)| *f).map(|(r, _)| r).collect()
    }

    /// Records `row` as returned; false when it was returned before.
    fn remember(&mut self, row: &SalesTransaction) -> bool {
        let key = (row.id.clone(), row.sync_token.clone());
        let at = row.last_updated().map(|t| t.with_timezone(&Utc));
        self.seen.insert(key, at).is_none()
    }

    /// Moves to the next query after a page of `rows`, and forgets the rows it cannot return.
    fn advance(&mut self, rows: &[SalesTransaction]) {
        self.pages = self.pages.saturating_add(1);
        let times: Vec<DateTime<Utc>> =
            rows.iter().filter_map(|r| r.last_updated()).map(|t| t.with_timezone(&Utc)).collect();
        if let Some(max) = times.iter().max() {
            self.last_seen = Some(self.last_seen.map_or(*max, |l| l.max(*max)));
        }
        // Positions are counted by distinct rows: a row a page holds twice (a repeating proxy or
        // a retried delivery) took one position on the server, and counting it twice would
        // skip the row after the page.
        let count = u32::try_from(distinct_rows(rows)).unwrap_or(u32::MAX);
        let full = count >= self.page_size;
        self.mode = match std::mem::replace(&mut self.mode, Mode::Done) {
            Mode::Done => Mode::Done,
            Mode::Keyset { from } => self.after_keyset_page(from, full, &times),
            Mode::Tie { at, start, read, previous_pass } => {
                let read = read.saturating_add(count);
                if full {
                    Mode::Tie { at, start: start.saturating_add(count), read, previous_pass }
                } else if previous_pass == Some(read) {
                    self.next_second(at)
                } else {
                    Mode::Tie { at, start: 1, read: 0, previous_pass: Some(read) }
                }
            }
        };
        // The next query asks for rows at or after this bound; rows before it cannot return.
        match self.mode {
            Mode::Keyset { from: bound } | Mode::Tie { at: bound, .. } => {
                self.seen.retain(|_, at| at.is_some_and(|t| t >= bound));
            }
            Mode::Done => self.seen.clear(),
        }
    }

    fn after_keyset_page(&self, from: DateTime<Utc>, full: bool, times: &[DateTime<Utc>]) -> Mode {
        if !full {
            return Mode::Done;
        }
        let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) else {
            tracing::warn!(entity = %self.entity, "a full page without LastUpdatedTime; stopping");
            return Mode::Done;
        };
        if first == last {
            // The whole page is one second: read that second alone.
            return Mode::Tie { at: *last, start: 1, read: 0, previous_pass: None };
        }
        if *last <= from {
            tracing::warn!(entity = %self.entity, "a page went backwards in time; stopping");
            return Mode::Done;
        }
        Mode::Keyset { from: *last }
    }

    fn next_second(&self, at: DateTime<Utc>) -> Mode {
        let next = at + RESOLUTION;
        if next > self.to { Mode::Done } else { Mode::Keyset { from: next } }
    }
}

/// How many different `(Id, SyncToken)` a page holds.
fn distinct_rows(rows: &[SalesTransaction]) -> usize {
    let keys: std::collections::HashSet<(&str, &str)> =
        rows.iter().map(|r| (r.id.as_str(), r.sync_token.as_str())).collect();
    keys.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::qbo::MetaData;
    use chrono::TimeZone;

    fn row(id: &str, token: &str, secs: i64) -> SalesTransaction {
        let t =
            Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(secs);
        SalesTransaction {
            id: id.into(),
            sync_token: token.into(),
            meta_data: Some(MetaData {
                create_time: None,
                last_updated_time: Some(t.fixed_offset()),
            }),
            ..Default::default()
        }
    }

    fn page(rows: Vec<SalesTransaction>) -> TxnPage {
        TxnPage { transactions: rows, server_time: None }
    }

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(secs)
    }

    #[test]
    fn pages_by_last_timestamp_and_drops_repeats() {
        let mut p = UpdatedPager::new(EntityKind::Invoice, t(0), t(100), 3);
        let q = p.next_query().unwrap();
        assert_eq!((q.from, q.to, q.start_position, q.max_results), (t(0), t(100), 1, 3));
        let fresh = p.accept(&page(vec![row("1", "0", 1), row("2", "0", 2), row("3", "0", 2)]));
        assert_eq!(fresh.len(), 3);
        let q = p.next_query().unwrap();
        assert_eq!((q.from, q.start_position), (t(2), 1));
        let fresh = p.accept(&page(vec![row("2", "0", 2), row("3", "0", 2), row("4", "0", 5)]));
        assert_eq!(fresh.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["4"]);
        let fresh = p.accept(&page(vec![row("4", "0", 5)]));
        assert!(fresh.is_empty());
        assert!(p.is_done());
        assert_eq!(p.last_seen(), Some(t(5)));
    }

    #[test]
    fn more_rows_than_asked_is_a_full_page() {
        let mut p = UpdatedPager::new(EntityKind::Invoice, t(0), t(100), 2);
        p.accept(&page(vec![row("1", "0", 1), row("2", "0", 2), row("3", "0", 3)]));
        assert!(!p.is_done());
        assert_eq!(p.next_query().unwrap().from, t(3));
    }

    #[test]
    fn an_empty_page_ends_the_window() {
        let mut p = UpdatedPager::new(EntityKind::SalesReceipt, t(0), t(100), 2);
        assert!(p.accept(&page(vec![])).is_empty());
        assert!(p.is_done());
        assert_eq!(p.next_query(), None);
    }

    #[test]
    fn a_second_fuller_than_a_page_is_read_in_passes_until_stable() {
        let mut p = UpdatedPager::new(EntityKind::Invoice, t(0), t(100), 2);
        p.accept(&page(vec![row("1", "0", 7), row("2", "0", 7)]));
        let q = p.next_query().unwrap();
        assert_eq!((q.from, q.to, q.start_position), (t(7), t(7), 1));
        // Pass 1: three rows in the second.
        p.accept(&page(vec![row("1", "0", 7), row("2", "0", 7)]));
        assert_eq!(p.next_query().unwrap().start_position, 3);
        assert_eq!(p.accept(&page(vec![row("3", "0", 7)])).len(), 1);
        // Pass 2 reads the same three: the second is done.
        assert_eq!(p.next_query().unwrap().start_position, 1);
        p.accept(&page(vec![row("1", "0", 7), row("2", "0", 7)]));
        p.accept(&page(vec![row("3", "0", 7)]));
        let q = p.next_query().unwrap();
        assert_eq!((q.from, q.to, q.start_position), (t(8), t(100), 1));
    }

    #[test]
    fn a_row_a_page_holds_twice_takes_one_position() {
        let mut p = UpdatedPager::new(EntityKind::Invoice, t(0), t(100), 3);
        p.accept(&page(vec![row("1", "0", 7), row("2", "0", 7), row("3", "0", 7)]));
        // The second holds rows 1..=5; the page of positions 1..=3 comes with row 2 twice.
        let dup = vec![row("1", "0", 7), row("2", "0", 7), row("2", "0", 7), row("3", "0", 7)];
        p.accept(&page(dup));
        assert_eq!(p.next_query().unwrap().start_position, 4, "row 4 is not skipped");
        let fresh = p.accept(&page(vec![row("4", "0", 7), row("5", "0", 7)]));
        assert_eq!(fresh.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["4", "5"]);
        // Three distinct rows with one repeated is still a short page in a keyset window.
        let mut p = UpdatedPager::new(EntityKind::Invoice, t(0), t(100), 3);
        p.accept(&page(vec![row("1", "0", 1), row("2", "0", 2), row("2", "0", 2)]));
        assert!(p.is_done(), "two rows where three were asked: the window is read");
    }

    #[test]
    fn a_pass_that_shrank_is_read_again() {
        let mut p = UpdatedPager::new(EntityKind::Invoice, t(0), t(100), 2);
        p.accept(&page(vec![row("1", "0", 7), row("2", "0", 7)]));
        // Pass 1 sees rows 1..4 of the second, but row 1 leaves before the second page: row 4
        // shifts into position 3 and row 3 is skipped.
        p.accept(&page(vec![row("1", "0", 7), row("2", "0", 7)]));
        p.accept(&page(vec![row("4", "0", 7)]));
        // Pass 1 read 3 rows, as many as the second then held ({2, 3, 4}); pass 2 reads them
        // again, returns the skipped row 3, and counts 3 again: the second is done.
        assert_eq!(p.next_query().unwrap().start_position, 1);
        let fresh = p.accept(&page(vec![row("2", "0", 7), row("3", "0", 7)]));
        assert_eq!(fresh.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["3"]);
        let fresh = p.accept(&page(vec![row("4", "0", 7)]));
        assert!(fresh.is_empty());
        assert_eq!(p.next_query().unwrap().from, t(8));
    }

    #[test]
    fn only_rows_the_next_query_can_return_are_remembered() {
        let mut p = UpdatedPager::new(EntityKind::Invoice, t(0), t(100_000), 100);
        // Page n holds rows n*99 ..= n*99+99, one a second: each page repeats the last row of
        // the one before, since the next query starts at the last second seen.
        for n in 0..50i64 {
            let q = p.next_query().unwrap();
            assert_eq!(q.from, t(n * 99));
            let rows = (n * 99..=n * 99 + 99).map(|k| row(&k.to_string(), "0", k)).collect();
            assert_eq!(p.accept_owned(page(rows)).len(), if n == 0 { 100 } else { 99 });
            assert_eq!(p.seen.len(), 1, "only the row of the last second is remembered");
        }
        let last = row(&(50 * 99).to_string(), "0", 50 * 99);
        assert!(p.accept_owned(page(vec![last])).is_empty());
        assert!(p.is_done());
        assert!(p.seen.is_empty());
    }

    #[test]
    fn an_empty_window_asks_nothing() {
        let p = UpdatedPager::new(EntityKind::Invoice, t(10), t(0), 2);
        assert_eq!(p.next_query(), None);
    }
}
