//! The one vocabulary of why a transaction went the way it did: [`Reason`], the code a skip or a
//! failure carries in the mapping's [`Decision`](crate::mapping::Decision), in the preview, in
//! the engine's transaction log, in the store and in every example's output. The type
//! is re-exported at the crate root, where its docs are.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::address::AddressErrorCode;

/// Defines [`Reason`] from one list of `Variant = "code" => "how to fix"`, so a code and its fix
/// are written once and every variant is in [`Reason::all`]; the address parser's codes are
/// added as `Reason::Address`, their fixes in [`address_fix`].
macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident = $code:literal => $fix:literal,)*) => {
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

            /// One sentence for the person reading the log: what the merchant does, in QuickBooks
            /// or in the settings, about an entry with this reason (or that nothing needs
            /// doing). The entry's detail says what was found; for an address, the address
            /// parser's message ([`AddressError`](crate::address::AddressError)) names the
            /// field and the fix in the merchant's own terms, and this sentence is its summary.
            ///
            /// ```
            /// use qbo_ordoro::Reason;
            ///
            /// assert!(Reason::UnknownSku.how_to_fix().contains("SKU mapping"));
            /// ```
            pub fn how_to_fix(self) -> &'static str {
                match self {
                    $(Reason::$variant => $fix,)*
                    Reason::Address(code) => address_fix(code),
                }
            }
        }
    };
}

reasons! {
    // Why a sale makes no order (the mapping's decision).
    /// The sale's class is not an accepted class.
    ClassMismatch = "class_mismatch"
        => "Nothing to fix if the sale is not for Ordoro; otherwise give it an accepted class in QuickBooks, or accept its class in the settings.",
    /// The sale carries no class at all.
    NoClass = "no_class"
        => "Nothing to fix if the sale is not for Ordoro; otherwise give it one of the accepted classes in QuickBooks.",
    /// The sale was voided in QBO (every amount zero, memo `Voided`).
    Voided = "voided"
        => "Nothing to fix: the sale is voided in QuickBooks, so it makes no order.",
    /// The sale was deleted in QBO.
    Deleted = "deleted"
        => "Nothing to fix: the sale was deleted in QuickBooks, so it makes no order.",
    /// The sale has no product line to ship.
    NotShippable = "not_shippable"
        => "Nothing to fix if the sale ships nothing; otherwise add its products as item lines in QuickBooks.",

    // Why an order that exists is left as it is (the engine).
    /// The transaction's SyncToken is the one already handled.
    Unchanged = "unchanged"
        => "Nothing to fix: the sale has not changed since its order was written.",
    /// The transaction changed after its order was created, and updating is off.
    AlreadySynced = "already_synced"
        => "Change the order in Ordoro by hand, or turn on updates in the settings so that edits in QuickBooks reach it.",
    /// The order has shipped.
    OrderShipped = "order_shipped"
        => "Nothing to fix: the order has shipped, so any change to it is made in Ordoro by hand.",
    /// The order is cancelled.
    OrderCancelled = "order_cancelled"
        => "Nothing to fix: the order is cancelled in Ordoro; restore it there if the sale should still ship.",
    /// The order went to a dropshipper.
    OrderDropshipped = "order_dropshipped"
        => "Change the order in Ordoro by hand: it went to a dropshipper, so the sync leaves it alone.",
    /// The ledger names an order Ordoro no longer has.
    OrderNotFound = "order_not_found"
        => "Check in Ordoro whether the order was deleted or merged; the sync does not make an order twice.",

    // Why a sale cannot become an order (the mapping's errors).
    /// The transaction has no QBO id, so no stable order id can be derived.
    MissingId = "missing_id"
        => "Save the sale again in QuickBooks so that it has an id, then sync it again.",
    /// A line with a negative quantity, unit price or amount, or a negative discount.
    NegativeLine = "negative_line"
        => "Correct the line with a negative quantity, price or amount in QuickBooks (a return is a credit memo), then save the sale.",
    /// A negative tax or total.
    NegativeAmount = "negative_amount"
        => "Correct the negative tax or total of the sale in QuickBooks, then save it.",
    /// QBO sent fields in a shape this crate cannot read, so no order can be trusted to be right.
    UnreadableTransaction = "unreadable_transaction"
        => "Open and save the sale again in QuickBooks; if it still fails, report its id to the connector's maintainers.",
    /// A line that carries goods or money (an item, a bundle, a discount, a shipping charge)
    /// could not be read, so the order would miss it: the transaction fails rather than lose it.
    UnreadableLine = "unreadable_line"
        => "Check the line the detail names in QuickBooks and save the sale again; if it still fails, report its id to the connector's maintainers.",
    /// An amount or quantity too large to compute with.
    AmountOverflow = "amount_overflow"
        => "Correct the amount or quantity that is far too large on the sale in QuickBooks.",
    /// A line's SKU is not a product of the Ordoro account, and the unknown-SKU policy is
    /// `require_known`: a SKU mapping (or the item's SKU in QBO) fixes it.
    UnknownSku = "unknown_sku"
        => "Add a SKU mapping for the line's item in the settings, or give the item an Ordoro product's SKU in QuickBooks; the sale is retried on the next run.",
    /// A line with a real SKU (from the QBO item or the SKU mapping) has a fractional quantity,
    /// which would decrement the product's stock wrongly; the fractional-quantity policy (round
    /// up) or the sale itself fixes it.
    FractionalQuantity = "fractional_quantity"
        => "Make the line's quantity whole in QuickBooks, or set the fractional quantities to round up in the settings; the sale is retried on the next run.",

    // Why a document cannot be previewed.
    /// The document is not an invoice or a sales receipt.
    UnsupportedEntity = "unsupported_entity"
        => "Nothing to fix: only invoices and sales receipts become orders.",
    /// The document is a QBO fault (or a batch item that failed).
    QboFault = "qbo_fault"
        => "Fix what QuickBooks' fault in the detail names, then read the document again.",
    /// The document is JSON but not a QBO document this crate can read.
    InvalidDocument = "invalid_document"
        => "Give the preview an invoice or sales receipt as QuickBooks' API returns it.",

    // Why a call to a service failed (the engine).
    /// Ordoro says the order exists, but no lookup finds it.
    DuplicateOrder = "duplicate_order"
        => "Find the order with this sale's order number in Ordoro and delete or renumber the stray one, then sync the sale again.",
    /// The service rejected the request as invalid.
    Rejected = "rejected"
        => "Fix what Ordoro named in the detail (often the address or a line) on the sale in QuickBooks, then save it.",
    /// A service throttled the request past the client's retries.
    RateLimited = "rate_limited"
        => "Nothing to fix: the service was busy, and the next run tries again.",
    /// A service answered with a server error past the client's retries.
    ServiceError = "service_error"
        => "Nothing to fix: the service had an error, and the next run tries again.",
    /// No answer arrived (connection refused, timeout).
    TransportError = "transport_error"
        => "Check the network connection of the computer running the sync; the next run tries again.",
    /// A create may or may not have happened, and no lookup could settle it yet.
    OutcomeUnknown = "outcome_unknown"
        => "Nothing to fix: the next run looks the order up in Ordoro before trying again, so no order is made twice.",
    /// Credentials were refused.
    AuthFailed = "auth_failed"
        => "Reconnect QuickBooks, or check the Ordoro API credentials, in the settings.",
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

/// [`Reason::how_to_fix`] for the address parser's codes. The address named is the ship-to or
/// the bill-to, as the entry's detail says.
fn address_fix(code: AddressErrorCode) -> &'static str {
    match code {
        AddressErrorCode::EmptyInput => "Fill in the sale's address in QuickBooks.",
        AddressErrorCode::MissingStreetLine => "Add the street line to the address in QuickBooks.",
        AddressErrorCode::MissingCityLine => {
            "Put the city, state and postal code on one line of the address in QuickBooks."
        }
        AddressErrorCode::MissingState => "Add the state or province to the address in QuickBooks.",
        AddressErrorCode::MissingPostalCode => "Add the postal code to the address in QuickBooks.",
        AddressErrorCode::MissingCountry => {
            "Add the country to the address in QuickBooks, or set the company's default country in the settings."
        }
        AddressErrorCode::UnknownCountry => {
            "Write the country's name or ISO code on the last line of the address in QuickBooks."
        }
        AddressErrorCode::InvalidPostalCode => {
            "Correct the postal code of the address in QuickBooks to the country's format."
        }
        AddressErrorCode::TooManyLines => {
            "Shorten the address in QuickBooks to five lines at most."
        }
        AddressErrorCode::LineTooLong => "Shorten the overlong line of the address in QuickBooks.",
        AddressErrorCode::UnsupportedLayout => {
            "Write the address in QuickBooks as the street, then the city, state and postal code, then the country."
        }
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
    fn every_reason_has_one_sentence_saying_how_to_fix_it() {
        let mut seen = std::collections::HashMap::new();
        for reason in Reason::all() {
            let fix = reason.how_to_fix();
            assert!(fix.starts_with(|c: char| c.is_ascii_uppercase()), "{reason}: {fix}");
            assert!(fix.ends_with('.') && fix.len() > 20, "{reason}: {fix}");
            assert!(!fix.trim_end_matches('.').contains(". "), "{reason}: one sentence: {fix}");
            // Each says something of its own, the "nothing to fix" ones aside.
            if !fix.starts_with("Nothing to fix:") {
                assert_eq!(seen.insert(fix, reason), None, "{reason} repeats another's fix");
            }
        }
    }

    #[test]
    fn an_unknown_code_is_an_error_that_names_it() {
        let err = "frobnicated".parse::<Reason>().unwrap_err();
        assert!(err.to_string().contains("`frobnicated`"));
        assert!(serde_json::from_str::<Reason>("\"frobnicated\"").is_err());
    }
}
