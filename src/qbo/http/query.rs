//! The QBO query language as the client writes it: statements for each port call, values quoted
//! so that no input can break out of its string, timestamps with an explicit offset, and the URL
//! encoding that keeps a `+` offset from turning into a space.

use chrono::{DateTime, NaiveDate, SecondsFormat, Timelike, Utc};

use crate::model::qbo::EntityKind;
use crate::qbo::api::{TxnDateQuery, UpdatedQuery};
use crate::transport::url_component;

/// A string literal of the query language: wrapped in single quotes, with `\` and `'` escaped by
/// a backslash (`O'Brien` is `'O\'Brien'`), so the value can neither end the string nor add a
/// condition.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\\' || c == '\'' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// An instant as QBO reads it: whole seconds (rounded down), RFC 3339 with an explicit `+00:00`
/// offset.
pub fn timestamp(at: DateTime<Utc>) -> String {
    let whole = at.with_nanosecond(0).unwrap_or(at);
    whole.to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// `SELECT * FROM {entity} WHERE MetaData.LastUpdatedTime >= '{from}' AND
/// MetaData.LastUpdatedTime <= '{to}' ORDERBY MetaData.LastUpdatedTime STARTPOSITION n MAXRESULTS m`.
pub fn updated_statement(q: &UpdatedQuery) -> String {
    format!(
        "SELECT * FROM {} WHERE MetaData.LastUpdatedTime >= {} AND MetaData.LastUpdatedTime <= {} \
         ORDERBY MetaData.LastUpdatedTime STARTPOSITION {} MAXRESULTS {}",
        q.entity.as_str(),
        quote(&timestamp(q.from)),
        quote(&timestamp(q.to)),
        q.start_position,
        q.max_results
    )
}

/// `SELECT * FROM {entity} WHERE TxnDate >= '{from}' AND TxnDate <= '{to}' ORDERBY
/// MetaData.LastUpdatedTime STARTPOSITION n MAXRESULTS m`.
pub fn txn_date_statement(q: &TxnDateQuery) -> String {
    format!(
        "SELECT * FROM {} WHERE TxnDate >= {} AND TxnDate <= {} \
         ORDERBY MetaData.LastUpdatedTime STARTPOSITION {} MAXRESULTS {}",
        q.entity.as_str(),
        quote(&date(q.from)),
        quote(&date(q.to)),
        q.start_position,
        q.max_results
    )
}

/// `SELECT * FROM {entity} WHERE DocNumber = '{doc_number}' STARTPOSITION n MAXRESULTS m`.
pub fn doc_number_statement(entity: EntityKind, doc_number: &str, start: u32, max: u32) -> String {
    format!(
        "SELECT * FROM {} WHERE DocNumber = {} STARTPOSITION {start} MAXRESULTS {max}",
        entity.as_str(),
        quote(doc_number)
    )
}

/// `SELECT * FROM Class WHERE Name = '{name}' AND Active IN (true, false)`: inactive classes too.
pub fn class_statement(name: &str, start: u32, max: u32) -> String {
    format!(
        "SELECT * FROM Class WHERE Name = {} AND Active IN (true, false) \
         STARTPOSITION {start} MAXRESULTS {max}",
        quote(name)
    )
}

/// `{base}/v3/company/{realm}/query?query=...&minorversion=...`.
pub fn query_url(api_base: &str, realm: &str, statement: &str, minor_version: u32) -> String {
    format!(
        "{}/query?query={}&minorversion={minor_version}",
        company_url(api_base, realm),
        url_component(statement)
    )
}

/// `{base}/v3/company/{realm}/{invoice|salesreceipt}/{id}?minorversion=...`.
pub fn entity_url(
    api_base: &str,
    realm: &str,
    entity: EntityKind,
    id: &str,
    minor_version: u32,
) -> String {
    format!(
        "{}/{}/{}?minorversion={minor_version}",
        company_url(api_base, realm),
        entity.as_str().to_ascii_lowercase(),
        url_component(id)
    )
}

/// `{base}/v3/company/{realm}/cdc?entities=...&changedSince=...&minorversion=...`.
pub fn cdc_url(
    api_base: &str,
    realm: &str,
    entities: &[EntityKind],
    since: DateTime<Utc>,
    minor_version: u32,
) -> String {
    let names: Vec<&str> = entities.iter().map(|e| e.as_str()).collect();
    format!(
        "{}/cdc?entities={}&changedSince={}&minorversion={minor_version}",
        company_url(api_base, realm),
        url_component(&names.join(",")),
        url_component(&timestamp(since))
    )
}

/// `{base}/v3/company/{realm}/companyinfo/{realm}?minorversion=...`: the company reads itself
/// under its own id.
pub fn company_info_url(api_base: &str, realm: &str, minor_version: u32) -> String {
    format!(
        "{}/companyinfo/{}?minorversion={minor_version}",
        company_url(api_base, realm),
        url_component(realm)
    )
}

/// `{base}/v3/company/{realm}/customer/{id}?minorversion=...`.
pub fn customer_url(api_base: &str, realm: &str, id: &str, minor_version: u32) -> String {
    format!(
        "{}/customer/{}?minorversion={minor_version}",
        company_url(api_base, realm),
        url_component(id)
    )
}

/// `SELECT * FROM Customer WHERE Id IN ('1', '2') AND Active IN (true, false) MAXRESULTS n`:
/// customers by id, inactive ones too.
pub fn customers_statement(ids: &[&str]) -> String {
    let quoted: Vec<String> = ids.iter().map(|id| quote(id)).collect();
    format!(
        "SELECT * FROM Customer WHERE Id IN ({}) AND Active IN (true, false) MAXRESULTS {}",
        quoted.join(", "),
        ids.len().clamp(1, 1000)
    )
}

/// The longest statement an `IN (...)` list is allowed to make (before URL encoding, which can
/// triple it): QBO reads queries from the URL, and gateways refuse URLs past a few kilobytes
/// (8 KB is common), so long id lists are split into several queries.
pub const MAX_IN_STATEMENT: usize = 2000;

/// `ids` in runs whose quoted `IN (...)` list keeps a statement of `fixed` other characters
/// within [`MAX_IN_STATEMENT`], and at most 1000 ids (QBO's largest page) per run.
pub fn id_chunks<S: AsRef<str>>(ids: &[S], fixed: usize) -> Vec<&[S]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut length = fixed;
    for (i, id) in ids.iter().enumerate() {
        let cost = quote(id.as_ref()).len() + 2;
        if i > start && (length + cost > MAX_IN_STATEMENT || i - start >= 1000) {
            chunks.push(&ids[start..i]);
            start = i;
            length = fixed;
        }
        length += cost;
    }
    if start < ids.len() {
        chunks.push(&ids[start..]);
    }
    chunks
}

fn in_list<S: AsRef<str>>(ids: &[S]) -> String {
    ids.iter().map(|id| quote(id.as_ref())).collect::<Vec<_>>().join(", ")
}

/// `SELECT * FROM Item WHERE Id IN ('1', '2') AND Active IN (true, false) MAXRESULTS n`: items
/// by id, inactive ones too (an item made inactive after a sale still has its SKU).
pub fn items_statement<S: AsRef<str>>(ids: &[S]) -> String {
    format!(
        "SELECT * FROM Item WHERE Id IN ({}) AND Active IN (true, false) MAXRESULTS {}",
        in_list(ids),
        ids.len().clamp(1, 1000)
    )
}

/// Characters of [`items_statement`] besides its id list.
pub const ITEMS_STATEMENT_FIXED: usize = 80;

/// `SELECT * FROM Item WHERE MetaData.LastUpdatedTime >= '{since}' AND Active IN (true, false)
/// ORDERBY MetaData.LastUpdatedTime STARTPOSITION n MAXRESULTS m`: items changed since.
pub fn items_changed_statement(since: DateTime<Utc>, start: u32, max: u32) -> String {
    format!(
        "SELECT * FROM Item WHERE MetaData.LastUpdatedTime >= {} AND Active IN (true, false) \
         ORDERBY MetaData.LastUpdatedTime STARTPOSITION {start} MAXRESULTS {max}",
        quote(&timestamp(since))
    )
}

/// `SELECT * FROM {entity} WHERE Id IN ('1', '2') MAXRESULTS n`: transactions by id.
pub fn transactions_statement<S: AsRef<str>>(entity: EntityKind, ids: &[S]) -> String {
    format!(
        "SELECT * FROM {} WHERE Id IN ({}) MAXRESULTS {}",
        entity.as_str(),
        in_list(ids),
        ids.len().clamp(1, 1000)
    )
}

/// Characters of [`transactions_statement`] besides its id list.
pub const TRANSACTIONS_STATEMENT_FIXED: usize = 60;

fn company_url(api_base: &str, realm: &str) -> String {
    format!("{}/v3/company/{}", api_base.trim_end_matches('/'), url_component(realm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn quotes_escape_backslash_and_quote() {
        assert_eq!(quote("Ordoro"), "'Ordoro'");
        assert_eq!(quote("O'Brien's"), r"'O\'Brien\'s'");
        assert_eq!(quote(r"a\'b"), r"'a\\\'b'");
        assert_eq!(quote("x' OR Name = 'y"), r"'x\' OR Name = \'y'");
    }

    #[test]
    fn timestamps_are_whole_seconds_with_an_explicit_offset() {
        let at = Utc.with_ymd_and_hms(2024, 3, 10, 9, 59, 59).unwrap()
            + chrono::Duration::milliseconds(750);
        assert_eq!(timestamp(at), "2024-03-10T09:59:59+00:00");
    }

    #[test]
    fn id_lists_are_split_by_length_and_count() {
        let ids: Vec<String> = (0..3000).map(|i| format!("{}", 100_000 + i)).collect();
        let chunks = id_chunks(&ids, ITEMS_STATEMENT_FIXED);
        assert!(chunks.len() > 1);
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), ids.len());
        for chunk in &chunks {
            assert!(items_statement(chunk).len() <= MAX_IN_STATEMENT, "{}", chunk.len());
        }
        let few = ["1", "2"];
        assert_eq!(id_chunks(&few, ITEMS_STATEMENT_FIXED), vec![&few[..]]);
        assert_eq!(
            items_statement(&few),
            "SELECT * FROM Item WHERE Id IN ('1', '2') AND Active IN (true, false) MAXRESULTS 2"
        );
        assert!(id_chunks::<&str>(&[], 10).is_empty());
    }

    #[test]
    fn the_plus_of_an_offset_is_percent_encoded() {
        let q = UpdatedQuery {
            entity: EntityKind::Invoice,
            from: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2024, 1, 31, 0, 0, 0).unwrap(),
            start_position: 1,
            max_results: 100,
        };
        let url = query_url("https://q.example", "123", &updated_statement(&q), 75);
        assert!(url.starts_with(
            "https://q.example/v3/company/123/query?query=SELECT%20%2A%20FROM%20Invoice"
        ));
        assert!(url.contains("2024-01-01T00%3A00%3A00%2B00%3A00"), "{url}");
        assert!(!url.contains('+'));
        assert!(url.ends_with("&minorversion=75"));
    }
}
