//! The run's log as a plain-text table for people: one row per transaction, sorted by entity and
//! QBO id, long cells cut short with an ellipsis; and the state file's log (`--log`), with when
//! and in which run each entry was written, in the order written.

use std::cmp::Ordering;
use std::fmt::Write;

use qbo_ordoro::store::LogEntry;

/// Column headings and the widest each column may grow.
const COLUMNS: [(&str, usize); 7] = [
    ("ACTION", 7),
    ("REASON", 22),
    ("ENTITY", 12),
    ("QBO ID", 12),
    ("DOC", 12),
    ("ORDER", 24),
    ("DETAIL", 72),
];

/// The table of `entries`, ending with a newline; a single line when there are none.
pub fn render(entries: &[LogEntry]) -> String {
    if entries.is_empty() {
        return "(no transactions in this run)\n".to_string();
    }
    let mut sorted: Vec<&LogEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| by_entity_and_id(a, b));
    let rows: Vec<Vec<String>> = sorted.into_iter().map(|e| cells(e).to_vec()).collect();
    layout(&COLUMNS, &rows)
}

/// The state file's log entries, in the order given, with when and in which run each was written.
pub fn render_log(entries: &[LogEntry]) -> String {
    if entries.is_empty() {
        return "(no log entries match)\n".to_string();
    }
    let mut columns = vec![("AT (UTC)", 20), ("RUN", 26)];
    columns.extend(COLUMNS);
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let mut row = vec![e.at.format("%Y-%m-%d %H:%M:%S").to_string(), e.run_id.clone()];
            row.extend(cells(e));
            row
        })
        .collect();
    layout(&columns, &rows)
}

/// The titles and rows laid out in columns no wider than each column's limit.
fn layout(columns: &[(&str, usize)], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (title, max))| {
            let widest = rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
            widest.max(title.len()).min(*max)
        })
        .collect();
    let mut out = String::new();
    let titles: Vec<String> = columns.iter().map(|(title, _)| title.to_string()).collect();
    for row in std::iter::once(&titles).chain(rows) {
        let line: Vec<String> =
            row.iter().zip(&widths).map(|(cell, width)| pad(&cut(cell, *width), *width)).collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

fn by_entity_and_id(a: &LogEntry, b: &LogEntry) -> Ordering {
    let numeric = |e: &LogEntry| e.qbo_id.parse::<u64>().unwrap_or(u64::MAX);
    (a.entity.as_str(), numeric(a), &a.qbo_id).cmp(&(b.entity.as_str(), numeric(b), &b.qbo_id))
}

fn cells(entry: &LogEntry) -> [String; 7] {
    let dash = || "-".to_string();
    [
        entry.action.as_str().to_string(),
        entry.reason.map_or_else(dash, |r| r.to_string()),
        entry.entity.as_str().to_string(),
        entry.qbo_id.clone(),
        entry.doc_number.clone().unwrap_or_else(dash),
        entry.order_number.clone().unwrap_or_else(dash),
        detail(entry),
    ]
}

/// The entry's sentence, with what the service said when a call failed.
fn detail(entry: &LogEntry) -> String {
    let text = entry.detail.clone().unwrap_or_default();
    let Some(failure) = &entry.failure else {
        return if text.is_empty() { "-".into() } else { text };
    };
    let mut said = Vec::new();
    if let Some(service) = &failure.service {
        said.push(service.clone());
    }
    if let Some(status) = failure.status {
        said.push(format!("HTTP {status}"));
    }
    if let Some(code) = &failure.code {
        said.push(code.clone());
    }
    let message = if text.is_empty() { failure.message.clone() } else { text };
    if said.is_empty() { message } else { format!("[{}] {message}", said.join(" ")) }
}

/// `text` in at most `width` characters, the last one an ellipsis when it was cut.
fn cut(text: &str, width: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= width {
        return flat;
    }
    let kept: String = flat.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}…")
}

fn pad(text: &str, width: usize) -> String {
    let len = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(len)))
}
