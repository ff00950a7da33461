//! The transaction log as CSV ([`log_csv`]), for the "download these rows" of a log page and for
//! spreadsheets: a header row, then one row per entry with every field, the codes as their
//! stable strings and each reason's fix sentence ([`Reason::how_to_fix`]).

use std::io::Write;

use chrono::SecondsFormat;

use super::LogEntry;
use crate::{Error, Reason, Result};

/// The header row [`log_csv`] writes, one name per column.
pub const LOG_CSV_HEADER: [&str; 20] = [
    "at",
    "realm",
    "run_id",
    "entity",
    "qbo_id",
    "doc_number",
    "customer",
    "sync_token",
    "last_updated",
    "action",
    "reason",
    "how_to_fix",
    "detail",
    "order_number",
    "failure_service",
    "failure_status",
    "failure_code",
    "failure_message",
    "failure_request_id",
    "dry_run",
];

/// Writes `entries` to `writer` as CSV (RFC 4180: commas, quotes and line breaks inside a
/// field are quoted), a header row ([`LOG_CSV_HEADER`]) first. Instants are RFC 3339 (`at` in
/// UTC to the nanosecond, `last_updated` with QBO's own offset), absent values empty, `dry_run`
/// `true` or `false`.
///
/// A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula, and the text
/// here comes from QBO and Ordoro, so such a value is written with a leading `'` (OWASP's advice
/// on CSV injection); every other value is written as it is.
///
/// ```
/// use qbo_ordoro::store::{LogEntry, log_csv};
///
/// let entries: Vec<LogEntry> = Vec::new(); // e.g. store.query_log(&filtered_view).await?
/// let mut out = Vec::new();
/// log_csv(&entries, &mut out)?;
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.starts_with("at,realm,run_id,entity,qbo_id,"));
/// assert_eq!(text.lines().count(), 1); // the header alone
/// # Ok::<(), qbo_ordoro::Error>(())
/// ```
pub fn log_csv<'a>(
    entries: impl IntoIterator<Item = &'a LogEntry>,
    writer: impl Write,
) -> Result<()> {
    let failed = |e: csv::Error| Error::store(format!("could not write the log as CSV: {e}"));
    let mut out = csv::Writer::from_writer(writer);
    out.write_record(LOG_CSV_HEADER).map_err(failed)?;
    for entry in entries {
        out.write_record(row(entry).iter().map(|field| inert(field).into_owned()))
            .map_err(failed)?;
    }
    out.flush().map_err(|e| failed(e.into()))
}

/// An entry's fields in [`LOG_CSV_HEADER`]'s order.
fn row(e: &LogEntry) -> [String; 20] {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let failure = e.failure.as_ref();
    let of_failure =
        |f: fn(&super::FailureInfo) -> Option<String>| failure.and_then(f).unwrap_or_default();
    [
        e.at.to_rfc3339_opts(SecondsFormat::Nanos, true),
        e.realm.clone(),
        e.run_id.clone(),
        e.entity.as_str().to_owned(),
        e.qbo_id.clone(),
        text(&e.doc_number),
        text(&e.customer),
        text(&e.sync_token),
        e.last_updated.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, false)).unwrap_or_default(),
        e.action.as_str().to_owned(),
        e.reason.map(Reason::as_str).unwrap_or_default().to_owned(),
        e.reason.map(Reason::how_to_fix).unwrap_or_default().to_owned(),
        text(&e.detail),
        text(&e.order_number),
        of_failure(|f| f.service.clone()),
        of_failure(|f| f.status.map(|s| s.to_string())),
        of_failure(|f| f.code.clone()),
        of_failure(|f| Some(f.message.clone())),
        of_failure(|f| f.request_id.clone()),
        e.dry_run.to_string(),
    ]
}

/// `value`, with a leading `'` when a spreadsheet would read it as a formula.
fn inert(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@']) { format!("'{value}").into() } else { value.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_made_inert_and_other_text_is_kept() {
        assert_eq!(inert("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(inert("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(inert("-1"), "'-1");
        assert_eq!(inert("M-QBO-1, \"two\"\nthree"), "M-QBO-1, \"two\"\nthree");
        assert_eq!(inert(""), "");
    }
}
