//! The fuzz targets' bodies (`fuzz/fuzz_targets/`, one function per target, named after it),
//! here so that the test suite replays every corpus through the same code. Not part of the API:
//! hidden from the docs, and free to change.

use crate::address::{AddressContext, parse_address, parse_lines};
use crate::mapping::preview::preview_document;
use crate::mapping::{Decision, MappingConfig, decide};
use crate::model::qbo::{EntityKind, PhysicalAddress, QboDocument, SalesTransaction, Transaction};

pub use crate::ordoro::http::client::fuzz_ordoro_response as ordoro_response;
pub use crate::qbo::http::client::fuzz_qbo_response as qbo_fault_body;

/// Runs the parser on arbitrary bytes, as the fuzz target does: the bytes split into lines as a
/// free-form block, and the same lines as a structured address. Never panics.
pub fn address_block(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').collect();
    let context = AddressContext {
        display_name: lines.first().map(|s| s.to_string()),
        company_name: lines.get(1).map(|s| s.to_string()),
        default_country: lines.get(2).map(|s| s.to_string()),
    };
    let _ = parse_lines(&lines, &AddressContext::default());
    let _ = parse_lines(&lines, &context);
    let get = |i: usize| lines.get(i).map(|s| s.to_string());
    let structured = PhysicalAddress {
        line1: get(0),
        line2: get(1),
        line3: get(2),
        city: get(3),
        country_sub_division_code: get(4),
        postal_code: get(5),
        country: get(6),
        ..Default::default()
    };
    let _ = parse_address(&structured, &context);
    let mixed = PhysicalAddress {
        line1: get(0),
        line2: get(1),
        line3: get(2),
        postal_code: get(3),
        ..Default::default()
    };
    let _ = parse_address(&mixed, &AddressContext::default());
    // The same lines read in a company's country: arbitrary text is rarely a valid code, so one
    // is picked by the first byte, to reach the default-country paths.
    const CODES: [&str; 10] = ["AU", "DE", "GB", "CA", "FR", "JP", "NZ", "PR", "BR", "us"];
    let code = CODES[usize::from(data.first().copied().unwrap_or(0)) % CODES.len()];
    let in_country = AddressContext { default_country: Some(code.to_string()), ..context };
    let _ = parse_lines(&lines, &in_country);
    let _ = parse_address(&structured, &in_country);
    let _ = parse_address(&mixed, &in_country);
}

/// The body of the `qbo_transaction` fuzz target: reads `data` as a QBO document, decides every
/// transaction in it with the default configuration, and encodes every order body and preview
/// line; JSON that is not a whole document has its rows read one by one, as the QBO client reads
/// a page that does not read whole, and decided. Returns how many transactions were decided.
/// Never panics, whatever the bytes.
pub fn qbo_transaction(data: &[u8]) -> usize {
    let Ok(text) = std::str::from_utf8(data) else { return 0 };
    let config = MappingConfig::default();
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else { return 0 };
    let Ok(doc) = QboDocument::from_value(value.clone()) else {
        return rows_one_by_one(&value, &config);
    };
    let txns = doc.transactions();
    for txn in &txns {
        if let Decision::Create(mapped) = decide(txn, &config) {
            let _ = serde_json::to_string(&mapped.order);
        }
    }
    for line in preview_document(&doc, &config) {
        let _ = serde_json::to_string(&line);
    }
    txns.len()
}

fn rows_one_by_one(value: &serde_json::Value, config: &MappingConfig) -> usize {
    let mut rows = vec![value];
    for kind in EntityKind::ALL {
        rows.extend(value.get(kind.as_str()));
        let page = value.get("QueryResponse").and_then(|q| q.get(kind.as_str()));
        rows.extend(page.and_then(|p| p.as_array()).into_iter().flatten());
    }
    let mut decided = 0;
    for row in rows {
        if let Some(doc) = SalesTransaction::from_value_lenient(row) {
            let txn = Transaction { kind: EntityKind::Invoice, doc };
            if let Decision::Create(mapped) = decide(&txn, config) {
                let _ = serde_json::to_string(&mapped.order);
            }
            decided += 1;
        }
    }
    decided
}

/// The body of the `webhook_delivery` fuzz target: `data` is a delivery's body. It is read as
/// [`webhook::parse`](crate::webhook::parse) reads it, and through
/// [`webhook::receive`](crate::webhook::receive) signed, unsigned and signed for other bytes;
/// checks that the signature decides before the body and that every event read names its
/// company, entity and record. Returns whether the delivery was accepted. Never panics unless
/// one of those checks fails.
pub fn webhook_delivery(data: &[u8]) -> bool {
    use crate::webhook::{VerifierToken, WebhookErrorCode, parse, receive};
    let token = VerifierToken::from("fuzz-verifier-token");
    let parsed = parse(data);
    let signature = token.sign(data);
    assert_eq!(receive(Some(&signature), data, &token), parsed);
    let missing = receive(None, data, &token).map_err(|e| e.code);
    assert_eq!(missing, Err(WebhookErrorCode::MissingSignature));
    let other = token.sign(&[data, b" "].concat());
    let forged = receive(Some(&other), data, &token).map_err(|e| e.code);
    assert_eq!(forged, Err(WebhookErrorCode::BadSignature));
    match parsed {
        Ok(events) => {
            for event in &events {
                assert!(!event.realm_id.is_empty() && !event.qbo_id.is_empty());
                assert!(!event.entity.is_empty() && !event.dedupe_key().is_empty());
            }
            true
        }
        Err(error) => {
            assert_eq!(error.code, WebhookErrorCode::MalformedPayload);
            false
        }
    }
}
