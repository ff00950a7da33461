//! QBO webhooks, pure: checking a delivery's `intuit-signature`, reading both payload formats
//! (the legacy `eventNotifications` object and the CloudEvents array), and the normalised
//! [`ChangeEvent`] the engine's change-driven runs take
//! ([`SyncEngine::run_changes`](crate::SyncEngine::run_changes)). No I/O, no clock, no panic on
//! any input. A notification carries ids only: it is a hint that a record changed, which the
//! engine reads through the API and reconciles with the change feed.
//!
//! A host's endpoint hands [`receive`] the `intuit-signature` header (found in any case by
//! [`signature_header`]) and the body's bytes exactly as they arrived: the signature is checked
//! first, over those bytes (re-serialised JSON no longer matches), then the body is read. The
//! formats are told apart by shape, never by `Content-Type`: this module refuses no content type,
//! so a CloudEvents delivery sent as `application/cloudevents+json` reads like any other (an
//! endpoint that answers 415 to it loses the events). A delivery is accepted whole or refused
//! whole, with a [`WebhookError`] whose [`WebhookErrorCode`] says why.
//!
//! ```
//! use qbo_ordoro::webhook::{Operation, VerifierToken, WebhookErrorCode, receive, signature_header};
//!
//! let token = VerifierToken::from("the app's verifier token");
//! let body = br#"[{"specversion": "1.0", "id": "88cd52aa-33b6-4351-9aa4-47572edbd068",
//!   "type": "qbo.salesreceipt.created.v1", "time": "2025-09-10T21:31:25.179851517Z",
//!   "intuitentityid": "1234", "intuitaccountid": "310687", "data": {}}]"#;
//! // As Intuit sends it: the signature of the body's bytes, in a header of any case.
//! let signature = token.sign(body);
//! let headers = [
//!     ("Content-Type", "application/cloudevents+json"),
//!     ("Intuit-Signature", signature.as_str()),
//! ];
//!
//! let events = receive(signature_header(headers), body, &token)?;
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].entity, "SalesReceipt");
//! assert_eq!((events[0].realm_id.as_str(), events[0].qbo_id.as_str()), ("310687", "1234"));
//! assert_eq!(events[0].operation, Operation::Create);
//!
//! // The same body with a byte changed, or without the header, is refused.
//! let forged = receive(Some(&signature), &body[..body.len() - 1], &token).unwrap_err();
//! assert_eq!(forged.code, WebhookErrorCode::BadSignature);
//! assert_eq!(receive(None, body, &token).unwrap_err().code, WebhookErrorCode::MissingSignature);
//! # Ok::<(), qbo_ordoro::webhook::WebhookError>(())
//! ```

mod entities;
mod formats;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::model::qbo::EntityKind;

/// The app's webhook verifier token (shown in Intuit's developer portal; it is not the OAuth
/// client secret). Debug output never shows it.
#[derive(Clone)]
pub struct VerifierToken(SecretString);

impl std::fmt::Debug for VerifierToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifierToken(<redacted>)")
    }
}

impl From<String> for VerifierToken {
    fn from(token: String) -> Self {
        VerifierToken(SecretString::from(token))
    }
}

impl From<&str> for VerifierToken {
    fn from(token: &str) -> Self {
        VerifierToken::from(token.to_string())
    }
}

impl VerifierToken {
    /// The MAC of `body` under this token, ready to compare or to finish.
    fn mac(&self, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length, so `new_from_slice` cannot fail here.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.expose_secret().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(body);
        mac
    }

    /// The `intuit-signature` header Intuit sends with `body`: base64 of HMAC-SHA256 over the
    /// body's bytes keyed with this token. What a simulator or a test signs with.
    pub fn sign(&self, body: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.mac(body).finalize().into_bytes())
    }

    /// True when `signature` (the header's value, base64) is the signature of `body`, compared
    /// in constant time.
    pub fn verifies(&self, body: &[u8], signature: &str) -> bool {
        let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim())
        else {
            return false;
        };
        self.mac(body).verify_slice(&expected).is_ok()
    }
}

/// What happened to a record, as a notification says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// The record was created.
    Create,
    /// The record was changed.
    Update,
    /// The record was deleted.
    Delete,
    /// The transaction was voided (amounts zeroed; the record stays).
    Void,
    /// A list entity (a customer, an item) was merged into another.
    Merge,
    /// The transaction was e-mailed.
    Emailed,
}

impl Operation {
    /// Every operation, in declaration order.
    pub const ALL: [Operation; 6] = [
        Operation::Create,
        Operation::Update,
        Operation::Delete,
        Operation::Void,
        Operation::Merge,
        Operation::Emailed,
    ];

    /// The name used everywhere this crate shows an operation: `create`, `update`, `delete`,
    /// `void`, `merge` or `emailed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Void => "void",
            Operation::Merge => "merge",
            Operation::Emailed => "emailed",
        }
    }

    /// The operation as the legacy format writes it: `Create`, `Update`, `Delete`, `Void`,
    /// `Merge` or `Emailed` (read in any case).
    pub fn legacy_name(self) -> &'static str {
        match self {
            Operation::Create => "Create",
            Operation::Update => "Update",
            Operation::Delete => "Delete",
            Operation::Void => "Void",
            Operation::Merge => "Merge",
            Operation::Emailed => "Emailed",
        }
    }

    /// The verb of a CloudEvents `type` (`qbo.invoice.<verb>.v1`): `created`, `updated`,
    /// `deleted`, `voided`, `merged` or `emailed` (read in any case).
    pub fn cloud_event_verb(self) -> &'static str {
        match self {
            Operation::Create => "created",
            Operation::Update => "updated",
            Operation::Delete => "deleted",
            Operation::Void => "voided",
            Operation::Merge => "merged",
            Operation::Emailed => "emailed",
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event of a webhook delivery, the same whichever format it came in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChangeEvent {
    /// The company (realm) id.
    pub realm_id: String,
    /// QBO's entity name, spelled as QBO spells it (`Invoice`, `SalesReceipt`, `Customer`, ...).
    pub entity: String,
    /// The record's id.
    pub qbo_id: String,
    /// What happened.
    pub operation: Operation,
    /// The CloudEvents `id` (`None` in the legacy format, which has none).
    pub event_id: Option<String>,
    /// When it happened, in UTC (`None` when the delivery does not say).
    pub occurred_at: Option<DateTime<Utc>>,
    /// For a merge, the id of the record merged away.
    pub deleted_id: Option<String>,
}

impl ChangeEvent {
    /// The entity as the engine syncs it: `Some` for invoices and sales receipts, `None` for
    /// every entity it does not sync (those events are listed, and ignored by the engine).
    pub fn entity_kind(&self) -> Option<EntityKind> {
        EntityKind::parse(&self.entity).filter(|kind| kind.as_str() == self.entity)
    }

    /// The key under which the engine remembers it processed this event: the CloudEvents `id`
    /// when there is one (a retried delivery repeats it), else what a legacy event is made of
    /// (a retry repeats the same body, so the same entity, id, operation and time).
    pub fn dedupe_key(&self) -> String {
        match &self.event_id {
            Some(id) => format!("id:{id}"),
            None => {
                let at = self
                    .occurred_at
                    .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
                    .unwrap_or_default();
                format!("legacy:{}:{}:{}:{at}", self.entity, self.qbo_id, self.operation)
            }
        }
    }
}

/// The header that carries a delivery's signature. HTTP header names are case-insensitive;
/// [`signature_header`] finds it in any case.
pub const SIGNATURE_HEADER: &str = "intuit-signature";

/// Why a delivery was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookErrorCode {
    /// No `intuit-signature` header, or an empty one.
    MissingSignature,
    /// The header is not the signature of the body's bytes under the verifier token.
    BadSignature,
    /// The signature matches, but the body is not JSON, is neither format, or an event in it
    /// does not read.
    MalformedPayload,
}

impl WebhookErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [WebhookErrorCode; 3] = [
        WebhookErrorCode::MissingSignature,
        WebhookErrorCode::BadSignature,
        WebhookErrorCode::MalformedPayload,
    ];

    /// The stable code: `missing_signature`, `bad_signature` or `malformed_payload`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookErrorCode::MissingSignature => "missing_signature",
            WebhookErrorCode::BadSignature => "bad_signature",
            WebhookErrorCode::MalformedPayload => "malformed_payload",
        }
    }
}

impl std::fmt::Display for WebhookErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused delivery: why, and a message that says what was wrong and what to do. The message
/// never contains the verifier token or the signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct WebhookError {
    /// Why the delivery was refused.
    pub code: WebhookErrorCode,
    /// What was wrong and what to do next.
    pub message: String,
}

impl WebhookError {
    fn missing_signature() -> WebhookError {
        WebhookError {
            code: WebhookErrorCode::MissingSignature,
            message:
                "the request has no `intuit-signature` header (or an empty one), so it cannot \
                      be shown to come from Intuit; Intuit signs every delivery, so check that \
                      whatever sits in front of this endpoint passes the header on"
                    .into(),
        }
    }

    fn bad_signature() -> WebhookError {
        WebhookError {
            code: WebhookErrorCode::BadSignature,
            message: "the `intuit-signature` header is not the signature of this body under the \
                      verifier token: check that the token is the app's webhook verifier token \
                      from Intuit's developer portal (not the OAuth client secret; sandbox and \
                      production have their own), and that the body is passed on byte for byte, \
                      never parsed and re-serialised"
                .into(),
        }
    }

    fn malformed(what: String) -> WebhookError {
        WebhookError {
            code: WebhookErrorCode::MalformedPayload,
            message: format!(
                "{what}; the delivery was refused whole and nothing in it was processed (the \
                 change feed catches up on what it named). A signed delivery Intuit sent that \
                 does not read means its format changed: keep the body and report it"
            ),
        }
    }
}

/// The signature header's value among a request's headers, its name matched in any case. When
/// the header comes more than once, the first value that is not blank (a proxy may add an empty
/// one); a header that is there but blank is returned as it is, which [`receive`] refuses.
///
/// ```
/// use qbo_ordoro::webhook::signature_header;
///
/// let headers = [("content-type", "application/json"), ("INTUIT-SIGNATURE", "c2ln")];
/// assert_eq!(signature_header(headers), Some("c2ln"));
/// assert_eq!(signature_header([("content-type", "application/json")]), None);
/// ```
pub fn signature_header<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<&'a str> {
    let mut found = None;
    for (name, value) in headers {
        if name.trim().eq_ignore_ascii_case(SIGNATURE_HEADER) {
            if !value.trim().is_empty() {
                return Some(value);
            }
            found = found.or(Some(value));
        }
    }
    found
}

/// Checks a delivery's signature, then reads its body: the one entry point for an endpoint.
///
/// `signature` is the `intuit-signature` header's value (`None` when absent), `body` the
/// request body's bytes exactly as received. Absent or blank → `missing_signature`; not the
/// body's signature under `token` (compared in constant time) → `bad_signature`; then the body
/// is read as [`parse`] does. No content type is refused: the body's shape decides.
pub fn receive(
    signature: Option<&str>,
    body: &[u8],
    token: &VerifierToken,
) -> Result<Vec<ChangeEvent>, WebhookError> {
    let signature = signature.map(str::trim).filter(|s| !s.is_empty());
    let signature = signature.ok_or_else(WebhookError::missing_signature)?;
    if !token.verifies(body, signature) {
        return Err(WebhookError::bad_signature());
    }
    parse(body)
}

/// Reads a delivery's body, without checking a signature (that is [`receive`]): the legacy
/// `eventNotifications` object (several companies a delivery) or the CloudEvents array, told
/// apart by shape, into its events in delivery order. The entity is spelled as QBO spells it
/// (`SalesReceipt`, also from a CloudEvents `type` in lower case); ids given as JSON numbers are
/// read as their decimal text; times are converted to UTC. An empty but well-formed delivery has
/// no events. A body that is not JSON, is neither format, or holds one event that does not read
/// (a missing or empty company id, entity id or entity name, an unknown operation, an unreadable
/// time) is refused whole with `malformed_payload`, naming the event's place in the body.
pub fn parse(body: &[u8]) -> Result<Vec<ChangeEvent>, WebhookError> {
    formats::parse(body)
}

#[cfg(test)]
mod parse_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn event(entity: &str) -> ChangeEvent {
        ChangeEvent {
            realm_id: "310687".into(),
            entity: entity.into(),
            qbo_id: "1234".into(),
            operation: Operation::Update,
            event_id: None,
            occurred_at: None,
            deleted_id: None,
        }
    }

    #[test]
    fn a_signature_verifies_its_body_only_under_its_token() {
        let token = VerifierToken::from("verifier".to_string());
        let body = br#"{"eventNotifications":[]}"#;
        let signature = token.sign(body);
        assert!(token.verifies(body, &signature));
        assert!(!token.verifies(b"{}", &signature));
        assert!(!VerifierToken::from("other".to_string()).verifies(body, &signature));
        assert!(!token.verifies(body, "not base64!"));
        assert!(!format!("{token:?}").contains("verifier"));
    }

    #[test]
    fn only_invoices_and_sales_receipts_are_synced() {
        assert_eq!(event("Invoice").entity_kind(), Some(EntityKind::Invoice));
        assert_eq!(event("SalesReceipt").entity_kind(), Some(EntityKind::SalesReceipt));
        assert_eq!(event("Customer").entity_kind(), None);
        assert_eq!(event("Estimate").entity_kind(), None);
    }

    #[test]
    fn a_retry_has_the_same_key_and_another_event_does_not() {
        let legacy = event("Invoice");
        assert_eq!(legacy.dedupe_key(), legacy.clone().dedupe_key());
        let later = ChangeEvent {
            occurred_at: DateTime::from_timestamp(1_700_000_000, 0),
            ..legacy.clone()
        };
        assert_ne!(legacy.dedupe_key(), later.dedupe_key());
        let cloud = ChangeEvent { event_id: Some("88cd52aa".into()), ..legacy.clone() };
        assert_eq!(cloud.dedupe_key(), "id:88cd52aa");
    }
}
