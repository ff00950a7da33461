//! QBO webhooks, pure: checking a delivery's `intuit-signature`, reading both payload formats
//! (the legacy `eventNotifications` object and the CloudEvents array), and the normalised
//! [`ChangeEvent`] the engine's change-driven runs take
//! ([`SyncEngine::run_changes`](crate::SyncEngine::run_changes)). No I/O, no clock, no panic on
//! any input. A notification carries ids only: it is a hint that a record changed, which the
//! engine reads through the API and reconciles with the change feed.

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
