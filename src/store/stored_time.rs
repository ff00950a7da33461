//! Instants as the SQL stores keep them: RFC 3339 text in UTC with nine fractional digits
//! (`2026-12-05T19:05:36.369223000Z`), fixed width from year 1 to 9999, so that text order is
//! time order and nanoseconds survive (PostgreSQL's `timestamptz` keeps microseconds only).

use chrono::{DateTime, Datelike, SecondsFormat, Utc};

use crate::{Error, Result};

/// An instant as stored; an error for a year outside 1 to 9999, which would break the order.
pub(crate) fn utc_text(at: DateTime<Utc>) -> Result<String> {
    if !(1..=9999).contains(&at.year()) {
        return Err(Error::store(format!(
            "cannot store the instant {at}: only years 1 to 9999 keep the log in time order"
        )));
    }
    Ok(at.to_rfc3339_opts(SecondsFormat::Nanos, true))
}

/// A query bound as text. Bounds beyond the storable years still compare right: every stored
/// instant sorts after the empty string and before `A` (bytewise).
pub(crate) fn bound_text(at: DateTime<Utc>) -> String {
    match at.year() {
        ..1 => String::new(),
        10000.. => "A".to_owned(),
        _ => at.to_rfc3339_opts(SecondsFormat::Nanos, true),
    }
}

/// Reads what [`utc_text`] wrote.
pub(crate) fn parse_utc(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}
