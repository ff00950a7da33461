//! The one vocabulary of why a transaction went the way it did: [`Reason`], the code a skip or a
//! failure carries in the mapping's [`Decision`](crate::mapping::Decision), in the preview, in
//! the engine's transaction log, in the store and in every example's output. The type
//! is re-exported at the crate root, where its docs are.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::address::AddressErrorCode;

/// Defines [`Reason`] from one list of `Variant = "code"`, so a code is written once and every
/// variant is in [`Reason::all`]; the address parser's codes are added as `Reason::Address`.
macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)*) => {
        /// Why a transaction was skipped, left alone or failed: the `reason` of a log entry and
        /// of a preview line, and the code of a mapping error.
        ///
        /// Which action a code goes with is the engine's business (the same code can explain a
        /// skip and a failure: `order_not_found` is a skip when there is nothing left to cancel,
        /// a failure when an update finds no order); the code itself only says why.
        ///
        /// Each code is defined once, as a variant, and always written as the same
        /// `snake_case` string ([`Reason::as_str`], `Display`, serde, and `FromStr` to read it
        /// back). The address parser's codes are wrapped, not copied: `missing_state` is
        /// `Reason::Address(AddressErrorCode::MissingState)`. The strings are a stable
        /// contract: logs written by earlier versions read back, and hosts may match on them.
        ///
        /// ```
        /// use qbo_ordoro::Reason;
        /// use qbo_ordoro::address::AddressErrorCode;
        ///
        /// let reason: Reason = "missing_state".parse()?;
        /// assert_eq!(reason, Reason::Address(AddressErrorCode::MissingState));
        /// assert_eq!(Reason::ClassMismatch.to_string(), "class_mismatch");
        /// assert_eq!(serde_json::to_string(&Reason::Voided)?, r#""voided""#);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Reason {
            $($(#[$doc])* $variant,)*
            /// The ship-to (or bill-to) address could not be read; the parser's code says why
            /// (`missing_state`, `unknown_country`, ...).
            Address(AddressErrorCode),
        }

        impl Reason {
            /// Every code but the address parser's, in a stable order.
            const OWN: &[Reason] = &[$(Reason::$variant,)*];

            /// The stable code, e.g. `class_mismatch` or (for an address) `missing_state`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$variant => $code,)*
                    Reason::Address(code) => code.as_str(),
                }
            }
        }
    };
}

reasons! {
    // Why a sale makes no order (the mapping's decision).
    /// The sale's class is not an accepted class.
    ClassMismatch = "class_mismatch",
    /// The sale carries no class at all.
    NoClass = "no_class",
    /// The sale was voided in QBO (every amount zero, memo `Voided`).
    Voided = "voided",
    /// The sale was deleted in QBO.
    Deleted = "deleted",
    /// The sale has no product line to ship.
    NotShippable = "not_shippable",

    // Why an order that exists is left as it is (the engine).
    /// The transaction's SyncToken is the one already handled.
    Unchanged = "unchanged",
    /// The transaction changed after its order was created, and updating is off.
    AlreadySynced = "already_synced",
    /// The order has shipped.
    OrderShipped = "order_shipped",
    /// The order is cancelled.
    OrderCancelled = "order_cancelled",
    /// The order went to a dropshipper.
    OrderDropshipped = "order_dropshipped",
    /// The ledger names an order Ordoro no longer has.
    OrderNotFound = "order_not_found",

    // Why a sale cannot become an order (the mapping's errors).
    /// The transaction has no QBO id, so no stable order id can be derived.
    MissingId = "missing_id",
    /// A line with a negative quantity, unit price or amount, or a negative discount.
    NegativeLine = "negative_line",
    /// A negative tax or total.
    NegativeAmount = "negative_amount",
    /// QBO sent fields in a shape this crate cannot read, so no order can be trusted to be right.
    UnreadableTransaction = "unreadable_transaction",
    /// A line that carries goods or money (an item, a bundle, a discount, a shipping charge)
    /// could not be read, so the order would miss it: the transaction fails rather than lose it.
    UnreadableLine = "unreadable_line",
    /// An amount or quantity too large to compute with.
    AmountOverflow = "amount_overflow",
    /// A line's SKU is not a product of the Ordoro account, and the unknown-SKU policy is
    /// `require_known`: a SKU mapping (or the item's SKU in QBO) fixes it.
    UnknownSku = "unknown_sku",
    /// A line with a real SKU (from the QBO item or the SKU mapping) has a fractional quantity,
    /// which would decrement the product's stock wrongly; the fractional-quantity policy (round
    /// up) or the sale itself fixes it.
    FractionalQuantity = "fractional_quantity",

    // Why a document cannot be previewed.
    /// The document is not an invoice or a sales receipt.
    UnsupportedEntity = "unsupported_entity",
    /// The document is a QBO fault (or a batch item that failed).
    QboFault = "qbo_fault",
    /// The document is JSON but not a QBO document this crate can read.
    InvalidDocument = "invalid_document",

    // Why a call to a service failed (the engine).
    /// Ordoro says the order exists, but no lookup finds it.
    DuplicateOrder = "duplicate_order",
    /// The service rejected the request as invalid.
    Rejected = "rejected",
    /// A service throttled the request past the client's retries.
    RateLimited = "rate_limited",
    /// A service answered with a server error past the client's retries.
    ServiceError = "service_error",
    /// No answer arrived (connection refused, timeout).
    TransportError = "transport_error",
    /// A create may or may not have happened, and no lookup could settle it yet.
    OutcomeUnknown = "outcome_unknown",
    /// Credentials were refused.
    AuthFailed = "auth_failed",
}

impl Reason {
    /// True for failures a setting can fix without the sale changing in QBO (an
    /// [`UnknownSku`](Reason::UnknownSku) that a SKU mapping fixes, a
    /// [`FractionalQuantity`](Reason::FractionalQuantity) that the rounding policy fixes): the
    /// engine keeps such sales in its retry set and reads them again at the start of each run.
    pub fn fixable_by_setting(self) -> bool {
        matches!(self, Reason::UnknownSku | Reason::FractionalQuantity)
    }

    /// Every code, the address parser's included, in a stable order.
    pub fn all() -> impl Iterator<Item = Reason> {
        Reason::OWN.iter().copied().chain(AddressErrorCode::ALL.into_iter().map(Reason::Address))
    }
}

impl From<AddressErrorCode> for Reason {
    fn from(code: AddressErrorCode) -> Self {
        Reason::Address(code)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is no [`Reason`] code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a reason code this version of qbo-ordoro knows")]
pub struct UnknownReason(pub String);

impl FromStr for Reason {
    type Err = UnknownReason;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reason::all().find(|r| r.as_str() == s).ok_or_else(|| UnknownReason(s.to_string()))
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        code.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_as_itself() {
        let all: Vec<Reason> = Reason::all().collect();
        assert_eq!(all.len(), Reason::OWN.len() + AddressErrorCode::ALL.len());
        for reason in all {
            assert_eq!(reason.as_str().parse::<Reason>(), Ok(reason));
            let json = serde_json::to_string(&reason).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
            assert_eq!(serde_json::from_str::<Reason>(&json).ok(), Some(reason));
        }
    }

    #[test]
    fn codes_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for reason in Reason::all() {
            let code = reason.as_str();
            assert!(seen.insert(code), "{code} is written twice");
            assert!(!code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }

    #[test]
    fn an_unknown_code_is_an_error_that_names_it() {
        let err = "frobnicated".parse::<Reason>().unwrap_err();
        assert!(err.to_string().contains("`frobnicated`"));
        assert!(serde_json::from_str::<Reason>("\"frobnicated\"").is_err());
    }
}
