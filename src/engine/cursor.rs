//! Moving the cursor only past what is handled: [`CursorTracker`] knows which rows of a window
//! are still in flight or failed transiently, and says how far the cursor may move, never past
//! the earliest row not yet handled, whatever order concurrent handling finishes in. (Reading
//! the window without losing rows is [`UpdatedPager`](crate::qbo::api::UpdatedPager)'s job.)

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::model::qbo::SalesTransaction;

/// The last-updated time of a row as an instant, if it has one.
pub(crate) fn updated_at(txn: &SalesTransaction) -> Option<DateTime<Utc>> {
    txn.last_updated().map(|t| t.with_timezone(&Utc))
}

/// Tracks the rows of one window in flight and says where the cursor may move.
///
/// The cursor means "every row last updated before this instant is handled".
#[derive(Debug, Default)]
pub(crate) struct CursorTracker {
    committed: Option<DateTime<Utc>>,
    in_flight: BTreeMap<u64, DateTime<Utc>>,
    blocked_at: Option<DateTime<Utc>>,
    latest_handled: Option<DateTime<Utc>>,
    next_seq: u64,
}

impl CursorTracker {
    /// A tracker whose cursor stands at `committed` in the store.
    pub(crate) fn new(committed: Option<DateTime<Utc>>) -> Self {
        CursorTracker { committed, ..Default::default() }
    }

    /// Registers a row about to be handled; returns its ticket.
    pub(crate) fn begin(&mut self, at: DateTime<Utc>) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight.insert(seq, at);
        seq
    }

    /// Records that a row is done (`handled`) or failed transiently (not handled), and returns
    /// the cursor position to commit with it, if the cursor moves forward.
    pub(crate) fn finish(&mut self, seq: u64, handled: bool) -> Option<DateTime<Utc>> {
        let at = self.in_flight.remove(&seq)?;
        if handled {
            self.latest_handled = self.latest_handled.max(Some(at));
        } else {
            self.blocked_at = Some(self.blocked_at.map_or(at, |b| b.min(at)));
        }
        self.advance_to(self.candidate())
    }

    /// Where the cursor may stand now.
    fn candidate(&self) -> Option<DateTime<Utc>> {
        let earliest_open = self.in_flight.values().min().copied();
        match (earliest_open, self.blocked_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (Some(a), None) => Some(a),
            (None, Some(b)) => Some(b),
            (None, None) => self.latest_handled,
        }
    }

    /// Once the whole window is read and every row handled, the cursor may move to `end` (the
    /// window's upper bound); returns the move, if any.
    pub(crate) fn complete(&mut self, end: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.blocked_at.is_some() || !self.in_flight.is_empty() {
            return None;
        }
        self.advance_to(Some(end))
    }

    /// True when a row failed transiently, so the cursor is held before it.
    #[cfg(test)]
    pub(crate) fn is_blocked(&self) -> bool {
        self.blocked_at.is_some()
    }

    fn advance_to(&mut self, to: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let to = to?;
        if self.committed.is_some_and(|c| c >= to) {
            return None;
        }
        self.committed = Some(to);
        Some(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap_or_default()
    }

    #[test]
    fn cursor_never_passes_an_unfinished_row() {
        let mut c = CursorTracker::new(Some(t(0)));
        let a = c.begin(t(10));
        let b = c.begin(t(20));
        let d = c.begin(t(30));
        assert_eq!(c.finish(d, true), Some(t(10)), "held at the earliest open row");
        assert_eq!(c.finish(b, true), None, "still held at a");
        assert_eq!(c.finish(a, true), Some(t(30)));
        assert_eq!(c.complete(t(40)), Some(t(40)));
    }

    #[test]
    fn a_transient_failure_holds_the_cursor_for_the_rest_of_the_window() {
        let mut c = CursorTracker::new(None);
        let a = c.begin(t(10));
        let b = c.begin(t(20));
        assert_eq!(c.finish(a, false), Some(t(10)), "everything before the failed row is handled");
        assert_eq!(c.finish(b, true), None);
        assert!(c.is_blocked());
        assert_eq!(c.complete(t(40)), None);
    }
}
