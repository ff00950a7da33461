//! Typed QuickBooks Online documents: invoices, sales receipts, their lines and addresses, the
//! query and change-feed envelopes, and faults.
//!
//! Every field the sync can meet is modelled and optional unless QBO always sends it; unknown
//! fields are ignored; money and quantities are [`Decimal`]; ids are strings (class ids overflow
//! `u64`); enums are read in any spelling QBO uses. Writing a document back out keeps every
//! modelled field, so `from_str(to_string(doc)) == doc`.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lenient::lenient_enum;

/// Which QBO transaction entity a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EntityKind {
    /// An `Invoice`.
    Invoice,
    /// A `SalesReceipt`.
    SalesReceipt,
}

impl EntityKind {
    /// Both kinds the sync reads, in the order it reads them.
    pub const ALL: [EntityKind; 2] = [EntityKind::Invoice, EntityKind::SalesReceipt];

    /// The entity name as QBO spells it (`Invoice`, `SalesReceipt`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Invoice => "Invoice",
            EntityKind::SalesReceipt => "SalesReceipt",
        }
    }

    /// Reads an entity name in any case (`invoice`, `SalesReceipt`, `salesreceipt`).
    pub fn parse(s: &str) -> Option<Self> {
        match super::lenient::fold(s).as_str() {
            "invoice" => Some(EntityKind::Invoice),
            "salesreceipt" => Some(EntityKind::SalesReceipt),
            _ => None,
        }
    }
}

impl std::fmt::Display for EntityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference to another QBO object (`CustomerRef`, `ItemRef`, `ClassRef`, ...).
///
/// Read leniently: an id sent as a number (`"value": 5`) is the id `"5"`. A scalar where the
/// object belongs is not a reference: it fails a reference the mapping needs (`ClassRef`, whose
/// meaning cannot be guessed) and leaves out one it does not need.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Ref {
    /// The referenced object's id (or, for `ShipMethodRef`, free text).
    #[serde(default)]
    pub value: String,
    /// The referenced object's display name, when QBO sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl<'de> Deserialize<'de> for Ref {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default, deserialize_with = "super::lenient::string")]
            value: String,
            #[serde(default, deserialize_with = "super::lenient::opt_string")]
            name: Option<String>,
        }
        let Wire { value, name } = Wire::deserialize(d)?;
        Ok(Ref { value, name })
    }
}

/// Creation and last-update times. Delete stubs in the change feed carry only `LastUpdatedTime`;
/// some responses (a void) carry none.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetaData {
    /// When the object was created, in the company's (Pacific) offset.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<DateTime<FixedOffset>>,
    /// When the object last changed: the sync's cursor field.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_datetime_strict",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_updated_time: Option<DateTime<FixedOffset>>,
}

/// A QBO address: structured (City, CountrySubDivisionCode, PostalCode) or free-form (only
/// `Line1..Line5`, as typed into the address box), or a mix of both.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PhysicalAddress {
    /// QBO's address id (can be ignored; shared with the customer's address when not edited).
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    /// First line.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub line1: Option<String>,
    /// Second line.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub line2: Option<String>,
    /// Third line.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub line3: Option<String>,
    /// Fourth line.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub line4: Option<String>,
    /// Fifth line.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub line5: Option<String>,
    /// City (absent on free-form addresses).
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub city: Option<String>,
    /// State or province, a code or a full name (absent on free-form addresses).
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub country_sub_division_code: Option<String>,
    /// Postal code (absent on free-form addresses).
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub postal_code: Option<String>,
    /// Country as free text (`USA`, `Canada`); usually absent for U.S. addresses.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub country: Option<String>,
    /// Read-only geocode latitude; a string because QBO sends `"INVALID"`.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub lat: Option<String>,
    /// Read-only geocode longitude; a string because QBO sends `"INVALID"`.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub long: Option<String>,
    /// Rarely used note.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub note: Option<String>,
}

impl PhysicalAddress {
    /// `Line1..Line5` in order, absent lines as `None`.
    pub fn lines(&self) -> [Option<&str>; 5] {
        [
            self.line1.as_deref(),
            self.line2.as_deref(),
            self.line3.as_deref(),
            self.line4.as_deref(),
            self.line5.as_deref(),
        ]
    }

    /// An address holding only the given lines (the first five; more are ignored), as QBO stores a
    /// block typed into the address box.
    pub fn from_lines<S: AsRef<str>>(lines: &[S]) -> Self {
        let mut it = lines.iter().map(|s| Some(s.as_ref().to_string()));
        PhysicalAddress {
            line1: it.next().flatten(),
            line2: it.next().flatten(),
            line3: it.next().flatten(),
            line4: it.next().flatten(),
            line5: it.next().flatten(),
            ..Default::default()
        }
    }
}

/// An e-mail address field (`BillEmail`); may hold several comma-separated addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EmailAddress {
    /// The address text as stored.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub address: Option<String>,
}

/// A memo field that QBO sends as an object (`CustomerMemo`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemoRef {
    /// The memo text.
    #[serde(default, deserialize_with = "super::lenient::string")]
    pub value: String,
}

/// A link to another transaction (`LinkedTxn`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LinkedTxn {
    /// The linked transaction's id.
    #[serde(default, deserialize_with = "super::lenient::string")]
    pub txn_id: String,
    /// Its type (`Estimate`, `Payment`, ...).
    #[serde(default, deserialize_with = "super::lenient::string")]
    pub txn_type: String,
    /// Line id within it, when linked per line.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub txn_line_id: Option<String>,
}

/// A custom field value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomField {
    /// The field's definition id.
    #[serde(default, deserialize_with = "super::lenient::string")]
    pub definition_id: String,
    /// The field's name.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// The field's type (`StringType`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// The value, absent when the field is empty.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub string_value: Option<String>,
}

/// Tax for the whole transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TxnTaxDetail {
    /// The transaction's tax code.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub txn_tax_code_ref: Option<Ref>,
    /// Total tax; 0 when absent.
    #[serde(default, with = "super::lenient::decimal", skip_serializing_if = "Option::is_none")]
    pub total_tax: Option<Decimal>,
    /// The tax lines, kept as sent.
    #[serde(
        default,
        deserialize_with = "super::lenient::vec_lenient",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tax_line: Vec<Value>,
}

/// How an invoice was delivered.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeliveryInfo {
    /// `Email`, ...
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub delivery_type: Option<String>,
    /// When it was sent.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub delivery_time: Option<DateTime<FixedOffset>>,
}

lenient_enum! {
    /// `PrintStatus`.
    pub enum PrintStatus {
        /// Not set.
        NotSet => "NotSet",
        /// To be printed.
        NeedToPrint => "NeedToPrint",
        /// Printed.
        PrintComplete => "PrintComplete",
    }
}

lenient_enum! {
    /// `EmailStatus`.
    pub enum EmailStatus {
        /// Not set.
        NotSet => "NotSet",
        /// To be sent.
        NeedToSend => "NeedToSend",
        /// Sent.
        EmailSent => "EmailSent",
    }
}

lenient_enum! {
    /// `GlobalTaxCalculation`.
    pub enum GlobalTaxCalculation {
        /// Amounts exclude tax.
        TaxExcluded => "TaxExcluded",
        /// Amounts include tax.
        TaxInclusive => "TaxInclusive",
        /// No tax.
        NotApplicable => "NotApplicable",
    }
}

lenient_enum! {
    /// A line's `DetailType`.
    pub enum DetailType {
        /// An item sold.
        SalesItemLineDetail => "SalesItemLineDetail",
        /// A bundle of items.
        GroupLineDetail => "GroupLineDetail",
        /// A subtotal (read-only, not a product).
        SubTotalLineDetail => "SubTotalLineDetail",
        /// A transaction-wide discount.
        DiscountLineDetail => "DiscountLineDetail",
        /// Text only.
        DescriptionOnly => "DescriptionOnly",
    }
}

/// The detail of an item line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SalesItemLineDetail {
    /// The item sold; `SHIPPING_ITEM_ID` for QBO's shipping line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_ref: Option<Ref>,
    /// Quantity; may be fractional; absent means 1.
    #[serde(default, with = "super::lenient::decimal", skip_serializing_if = "Option::is_none")]
    pub qty: Option<Decimal>,
    /// Unit price; up to seven decimals.
    #[serde(default, with = "super::lenient::decimal", skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Decimal>,
    /// Tax code (`TAX`, `NON`, or an id).
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub tax_code_ref: Option<Ref>,
    /// Per-line class (only with per-line class tracking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_ref: Option<Ref>,
    /// Service date.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub service_date: Option<NaiveDate>,
    /// Income account.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub item_account_ref: Option<Ref>,
    /// Line discount amount (some regions).
    #[serde(
        default,
        with = "super::lenient::decimal_or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub discount_amt: Option<Decimal>,
    /// Line discount rate (some regions).
    #[serde(
        default,
        with = "super::lenient::decimal_or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub discount_rate: Option<Decimal>,
    /// Tax-inclusive amount (non-U.S.).
    #[serde(
        default,
        with = "super::lenient::decimal_or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub tax_inclusive_amt: Option<Decimal>,
}

/// The detail of a bundle line: the bundle and its item lines.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupLineDetail {
    /// The bundle item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_item_ref: Option<Ref>,
    /// How many bundles.
    #[serde(default, with = "super::lenient::decimal", skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    /// The bundle's item lines, which carry the money (the header amount can be 0).
    #[serde(default, deserialize_with = "super::lenient::vec_or_one")]
    pub line: Vec<Line>,
}

/// The detail of a discount line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscountLineDetail {
    /// True when the discount is a percentage.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub percent_based: Option<bool>,
    /// The percentage in whole units (10 = 10%).
    #[serde(default, with = "super::lenient::decimal", skip_serializing_if = "Option::is_none")]
    pub discount_percent: Option<Decimal>,
    /// The discount account.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub discount_account_ref: Option<Ref>,
    /// Class on the discount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_ref: Option<Ref>,
    /// Tax code on the discount.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub tax_code_ref: Option<Ref>,
}

/// A line's detail, by `DetailType`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineDetail {
    /// `SalesItemLineDetail`.
    SalesItem(SalesItemLineDetail),
    /// `GroupLineDetail` (a bundle).
    Group(GroupLineDetail),
    /// `SubTotalLineDetail`.
    SubTotal,
    /// `DiscountLineDetail`.
    Discount(DiscountLineDetail),
    /// `DescriptionOnly` (detail key `DescriptionLineDetail`).
    DescriptionOnly,
    /// A type this crate does not model: the raw line is kept.
    Unknown {
        /// The `DetailType` as sent.
        detail_type: String,
        /// The whole line as sent.
        raw: Value,
    },
    /// A line of a known type whose money, quantity or item could not be read (an `Amount` that
    /// is not a number, a `SalesItemLineDetail` that is not an object, ...). Fields the mapping
    /// does not need never make a line unreadable. The raw line is kept, so the line is never
    /// lost: the mapping fails the transaction with `unreadable_line` naming it.
    Unreadable {
        /// The `DetailType` as sent (or as told from the detail's key).
        detail_type: String,
        /// What could not be read, and why (`Amount: ...; SalesItemLineDetail.Qty: ...`).
        problem: String,
        /// The whole line as sent.
        raw: Value,
    },
}

/// One line of a transaction.
///
/// Reading a line never fails, whatever its shape: a line that cannot be read is kept as
/// [`LineDetail::Unreadable`], so that no line of a sale is ever dropped on the way to an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Line id (absent on subtotal and shipping lines).
    pub id: Option<String>,
    /// Position.
    pub line_num: Option<u32>,
    /// Description text.
    pub description: Option<String>,
    /// Line amount.
    pub amount: Option<Decimal>,
    /// Links to other transactions.
    pub linked_txn: Vec<LinkedTxn>,
    /// The typed detail.
    pub detail: LineDetail,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LineHead {
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    id: Option<String>,
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    line_num: Option<u32>,
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    description: Option<String>,
    #[serde(default, with = "super::lenient::decimal", skip_serializing_if = "Option::is_none")]
    amount: Option<Decimal>,
    #[serde(
        default,
        deserialize_with = "super::lenient::vec_lenient",
        skip_serializing_if = "Vec::is_empty"
    )]
    linked_txn: Vec<LinkedTxn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail_type: Option<DetailType>,
}

fn detail_key(t: &DetailType) -> &'static str {
    match t {
        DetailType::DescriptionOnly => "DescriptionLineDetail",
        DetailType::SalesItemLineDetail => "SalesItemLineDetail",
        DetailType::GroupLineDetail => "GroupLineDetail",
        DetailType::SubTotalLineDetail => "SubTotalLineDetail",
        DetailType::DiscountLineDetail => "DiscountLineDetail",
        DetailType::Other(_) => "",
    }
}

/// The detail type of a line without a usable `DetailType`, told from its one detail key.
fn detail_type_from_keys(raw: &Value) -> Option<DetailType> {
    let known = [
        DetailType::SalesItemLineDetail,
        DetailType::GroupLineDetail,
        DetailType::SubTotalLineDetail,
        DetailType::DiscountLineDetail,
        DetailType::DescriptionOnly,
    ];
    let mut present = known.into_iter().filter(|t| raw.get(detail_key(t)).is_some());
    match (present.next(), present.next()) {
        (Some(t), None) => Some(t),
        _ => None,
    }
}

/// The detail object under `key`; an absent or `null` detail is the empty detail. Fails, naming
/// the members, when a member the mapping needs does not read.
fn typed_detail<T: serde::de::DeserializeOwned + Default>(
    raw: &Value,
    key: &str,
) -> Result<T, String> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => match super::lenient::partial::<T>(v) {
            (Some(t), problems) if problems.is_empty() => Ok(t),
            (_, problems) if !problems.is_empty() => {
                Err(problems.iter().map(|p| format!("{key}.{p}")).collect::<Vec<_>>().join("; "))
            }
            _ => Err(format!("{key}: expected an object, got {}", super::lenient::kind(v))),
        },
    }
}

impl Line {
    /// Reads a line from its JSON, never failing: what cannot be read makes the line
    /// [`LineDetail::Unreadable`], with the raw line kept.
    pub fn from_value(raw: Value) -> Line {
        let (head, mut problems) = super::lenient::partial::<LineHead>(&raw);
        let head = head.unwrap_or_default();
        if !raw.is_object() {
            // Not a line at all: it may have been goods, so it is never taken for an unknown type.
            return Line {
                id: None,
                line_num: None,
                description: None,
                amount: None,
                linked_txn: Vec::new(),
                detail: LineDetail::Unreadable {
                    detail_type: String::new(),
                    problem: problems.join("; "),
                    raw,
                },
            };
        }
        let detail_type = match head.detail_type {
            Some(DetailType::Other(ref t)) if t.is_empty() => detail_type_from_keys(&raw),
            Some(ref t) => Some(t.clone()),
            None => detail_type_from_keys(&raw),
        }
        .unwrap_or_else(|| head.detail_type.clone().unwrap_or(DetailType::Other(String::new())));
        let key = detail_key(&detail_type);
        let detail = match &detail_type {
            DetailType::SalesItemLineDetail => typed_detail(&raw, key).map(LineDetail::SalesItem),
            DetailType::GroupLineDetail => typed_detail(&raw, key).map(LineDetail::Group),
            DetailType::DiscountLineDetail => typed_detail(&raw, key).map(LineDetail::Discount),
            DetailType::SubTotalLineDetail => Ok(LineDetail::SubTotal),
            DetailType::DescriptionOnly => Ok(LineDetail::DescriptionOnly),
            DetailType::Other(_) => Ok(LineDetail::Unknown {
                detail_type: detail_type.as_str().to_string(),
                raw: Value::Null,
            }),
        };
        let detail = match detail {
            Err(problem) => {
                problems.push(problem);
                None
            }
            Ok(d) => Some(d),
        };
        let detail = match detail {
            Some(LineDetail::Unknown { detail_type, .. }) => {
                LineDetail::Unknown { detail_type, raw }
            }
            Some(d) if problems.is_empty() => d,
            _ => LineDetail::Unreadable {
                detail_type: detail_type.as_str().to_string(),
                problem: problems.join("; "),
                raw,
            },
        };
        Line {
            id: head.id,
            line_num: head.line_num,
            description: head.description,
            amount: head.amount,
            linked_txn: head.linked_txn,
            detail,
        }
    }

    /// The line's `DetailType`.
    pub fn detail_type(&self) -> DetailType {
        match &self.detail {
            LineDetail::SalesItem(_) => DetailType::SalesItemLineDetail,
            LineDetail::Group(_) => DetailType::GroupLineDetail,
            LineDetail::SubTotal => DetailType::SubTotalLineDetail,
            LineDetail::Discount(_) => DetailType::DiscountLineDetail,
            LineDetail::DescriptionOnly => DetailType::DescriptionOnly,
            LineDetail::Unknown { detail_type, .. }
            | LineDetail::Unreadable { detail_type, .. } => DetailType::parse(detail_type),
        }
    }
}

impl<'de> Deserialize<'de> for Line {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Line::from_value(Value::deserialize(d)?))
    }
}

impl Serialize for Line {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if let LineDetail::Unknown { raw, .. } | LineDetail::Unreadable { raw, .. } = &self.detail {
            return raw.serialize(s);
        }
        let detail_type = self.detail_type();
        let head = LineHead {
            id: self.id.clone(),
            line_num: self.line_num,
            description: self.description.clone(),
            amount: self.amount,
            linked_txn: self.linked_txn.clone(),
            detail_type: Some(detail_type.clone()),
        };
        let mut map = match serde_json::to_value(&head).map_err(serde::ser::Error::custom)? {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        let detail = match &self.detail {
            LineDetail::SalesItem(d) => serde_json::to_value(d),
            LineDetail::Group(d) => serde_json::to_value(d),
            LineDetail::Discount(d) => serde_json::to_value(d),
            _ => Ok(Value::Object(serde_json::Map::new())),
        }
        .map_err(serde::ser::Error::custom)?;
        map.insert(detail_key(&detail_type).to_string(), detail);
        Value::Object(map).serialize(s)
    }
}

/// An invoice or a sales receipt: they share every field the sync reads. Fields that only one of
/// them has are optional and absent on the other.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SalesTransaction {
    /// The transaction's id, unique per entity within a company.
    #[serde(default, deserialize_with = "super::lenient::string")]
    pub id: String,
    /// Bumped on every edit.
    #[serde(default, deserialize_with = "super::lenient::string")]
    pub sync_token: String,
    /// Creation and last-update times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<MetaData>,
    /// The document number people see; may be absent or duplicated.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub doc_number: Option<String>,
    /// The transaction date.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub txn_date: Option<NaiveDate>,
    /// The customer (its `name` is the customer's display name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_ref: Option<Ref>,
    /// Header class (per-transaction class tracking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_ref: Option<Ref>,
    /// Location.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub department_ref: Option<Ref>,
    /// Bill-to address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill_addr: Option<PhysicalAddress>,
    /// Ship-to address; often absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_addr: Option<PhysicalAddress>,
    /// Ship-from address (sales tax).
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub ship_from_addr: Option<PhysicalAddress>,
    /// QBO's hint that `ShipAddr` is free-form; not to be trusted alone.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub free_form_address: Option<bool>,
    /// Ship via, free text. Left out when odd: the first shipping item's name stands in.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub ship_method_ref: Option<Ref>,
    /// Ship date.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub ship_date: Option<NaiveDate>,
    /// Tracking number.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub tracking_num: Option<String>,
    /// Billing e-mail.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_email: Option<EmailAddress>,
    /// Billing e-mail, copy.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_email_cc: Option<EmailAddress>,
    /// Billing e-mail, blind copy.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub bill_email_bcc: Option<EmailAddress>,
    /// The form's memo; a void prepends `Voided`.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub private_note: Option<String>,
    /// The message to the customer.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_memo: Option<MemoRef>,
    /// Transaction tax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn_tax_detail: Option<TxnTaxDetail>,
    /// Total: lines + tax - discounts, shipping included.
    #[serde(default, with = "super::lenient::decimal", skip_serializing_if = "Option::is_none")]
    pub total_amt: Option<Decimal>,
    /// Open balance.
    #[serde(
        default,
        with = "super::lenient::decimal_or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub balance: Option<Decimal>,
    /// Total in home currency (multicurrency).
    #[serde(
        default,
        with = "super::lenient::decimal_or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub home_total_amt: Option<Decimal>,
    /// Balance in home currency (multicurrency).
    #[serde(
        default,
        with = "super::lenient::decimal_or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub home_balance: Option<Decimal>,
    /// Exchange rate (multicurrency).
    #[serde(
        default,
        with = "super::lenient::decimal_or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub exchange_rate: Option<Decimal>,
    /// Currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency_ref: Option<Ref>,
    /// Deposit (invoice only).
    #[serde(
        default,
        with = "super::lenient::decimal_or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub deposit: Option<Decimal>,
    /// Due date (invoice only).
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub due_date: Option<NaiveDate>,
    /// Terms (invoice only).
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub sales_term_ref: Option<Ref>,
    /// Linked transactions.
    #[serde(
        default,
        deserialize_with = "super::lenient::vec_lenient",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub linked_txn: Vec<LinkedTxn>,
    /// Custom fields.
    #[serde(
        default,
        deserialize_with = "super::lenient::vec_lenient",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub custom_field: Vec<CustomField>,
    /// E-mail status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_status: Option<EmailStatus>,
    /// Print status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub print_status: Option<PrintStatus>,
    /// Delivery.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub delivery_info: Option<DeliveryInfo>,
    /// Online payment flags (invoice only).
    #[serde(
        default,
        rename = "AllowIPNPayment",
        deserialize_with = "super::lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_ipn_payment: Option<bool>,
    /// Online payment flags (invoice only).
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_online_payment: Option<bool>,
    /// Online payment flags (invoice only).
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_online_credit_card_payment: Option<bool>,
    /// Online payment flags (invoice only).
    #[serde(
        default,
        rename = "AllowOnlineACHPayment",
        deserialize_with = "super::lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_online_ach_payment: Option<bool>,
    /// Whether tax applies after the discount.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub apply_tax_after_discount: Option<bool>,
    /// Tax calculation mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_tax_calculation: Option<GlobalTaxCalculation>,
    /// Project.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub project_ref: Option<Ref>,
    /// Link to pay online (invoice only).
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub invoice_link: Option<String>,
    /// Recurring template.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub recur_data_ref: Option<Ref>,
    /// Tax exemption.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub tax_exemption_ref: Option<Ref>,
    /// Payment method (sales receipt only).
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_method_ref: Option<Ref>,
    /// Payment reference number (sales receipt only).
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_ref_num: Option<String>,
    /// Deposit account (sales receipt only).
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub deposit_to_account_ref: Option<Ref>,
    /// Card payment details (sales receipt only), kept as sent.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub credit_card_payment: Option<Value>,
    /// The lines.
    #[serde(default, deserialize_with = "super::lenient::vec_or_one")]
    pub line: Vec<Line>,
    /// Always `QBO`.
    #[serde(
        default,
        rename = "domain",
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub domain: Option<String>,
    /// Whether this is a sparse object.
    #[serde(
        default,
        rename = "sparse",
        deserialize_with = "super::lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub sparse: Option<bool>,
    /// `Deleted` on the answer to a delete (`{"Invoice": {"status": "Deleted", "Id": ..}}`),
    /// wherever that shape appears; see [`SalesTransaction::is_deleted`].
    #[serde(
        default,
        rename = "status",
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    /// Set when this row was read by [`SalesTransaction::from_value_lenient`] and some of its
    /// fields came in a shape the model cannot read: those fields (left out) and why. Such a
    /// transaction is never mapped to an order. Not part of the wire format.
    #[serde(skip)]
    pub unreadable: Option<String>,
}

/// An invoice.
pub type Invoice = SalesTransaction;
/// A sales receipt.
pub type SalesReceipt = SalesTransaction;

impl SalesTransaction {
    /// `MetaData.LastUpdatedTime`, if present.
    pub fn last_updated(&self) -> Option<DateTime<FixedOffset>> {
        self.meta_data.as_ref().and_then(|m| m.last_updated_time)
    }

    /// Reads one row of a QBO page, keeping what can be read when some fields cannot.
    ///
    /// A row that reads whole is returned as it is. Otherwise each field is read on its own;
    /// those that fail are left out and named, with why, in [`unreadable`](Self::unreadable), so
    /// that one odd transaction is logged as failed instead of making its whole page unreadable.
    /// `None` when the row is not an object or its identity (`Id`, `SyncToken` and
    /// `MetaData.LastUpdatedTime`, which paging and the ledger need) cannot be read.
    ///
    /// ```
    /// use qbo_ordoro::model::qbo::SalesTransaction;
    ///
    /// let row = serde_json::json!({
    ///     "Id": "12", "SyncToken": "0", "TotalAmt": {"amount": 25},
    ///     "MetaData": {"LastUpdatedTime": "2024-06-03T09:00:00-07:00"}
    /// });
    /// let txn = SalesTransaction::from_value_lenient(&row).unwrap();
    /// assert_eq!(txn.id, "12");
    /// assert!(txn.unreadable.unwrap().starts_with("TotalAmt: "));
    /// ```
    pub fn from_value_lenient(row: &Value) -> Option<SalesTransaction> {
        let txn = SalesTransaction::from_value_partial(row)?;
        let identified = !txn.id.trim().is_empty()
            && !txn.sync_token.trim().is_empty()
            && txn.last_updated().is_some();
        identified.then_some(txn)
    }

    /// Reads a transaction, keeping what can be read, like
    /// [`from_value_lenient`](Self::from_value_lenient) but without asking for an identity: for
    /// a document given by hand (the preview), where `SyncToken` or `MetaData` may be absent.
    /// `None` only when `row` is not a JSON object.
    pub fn from_value_partial(row: &Value) -> Option<SalesTransaction> {
        row.as_object()?;
        let (txn, unreadable) = super::lenient::partial::<SalesTransaction>(row);
        let mut txn = txn?;
        if !unreadable.is_empty() {
            txn.unreadable = Some(unreadable.join("; "));
        }
        Some(txn)
    }

    /// True for the answer to a delete, `{"status": "Deleted", "Id": ...}` (any case): the
    /// transaction no longer exists in QBO, and must never be read as an empty sale.
    pub fn is_deleted(&self) -> bool {
        self.status.as_deref().is_some_and(|s| s.trim().eq_ignore_ascii_case("deleted"))
    }
}

/// A transaction with its entity kind: what the sync handles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// Invoice or sales receipt.
    pub kind: EntityKind,
    /// The document.
    pub doc: SalesTransaction,
}

/// A deleted object as the change feed (or a delete call) returns it: only its id, status and
/// last-updated time.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeletedStub {
    /// The deleted object's id.
    #[serde(deserialize_with = "super::lenient::string")]
    pub id: String,
    /// `Deleted`.
    #[serde(rename = "status")]
    pub status: String,
    /// Carries only `LastUpdatedTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<MetaData>,
    /// Always `QBO`.
    #[serde(
        default,
        rename = "domain",
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub domain: Option<String>,
}

/// A change-feed item of a transaction entity: the full document, or a delete stub.
///
/// A changed document is read like a query row, with
/// [`SalesTransaction::from_value_lenient`]: a field of an unexpected shape marks that one
/// document [unreadable](SalesTransaction::unreadable) instead of failing the whole feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ChangedTransaction {
    /// The object was deleted.
    Deleted(DeletedStub),
    /// The object changed; here it is.
    Changed(Box<SalesTransaction>),
}

impl<'de> Deserialize<'de> for ChangedTransaction {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let item = Value::deserialize(deserializer)?;
        if let Ok(stub) = DeletedStub::deserialize(&item) {
            return Ok(ChangedTransaction::Deleted(stub));
        }
        SalesTransaction::from_value_lenient(&item)
            .map(|doc| ChangedTransaction::Changed(Box::new(doc)))
            .ok_or_else(|| {
                serde::de::Error::custom(
                    "a change-feed item that is neither a delete stub nor a transaction with a \
                     readable Id, SyncToken and MetaData.LastUpdatedTime",
                )
            })
    }
}

/// A QBO class (`SELECT * FROM Class`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QboClass {
    /// The class id (a long digit string).
    #[serde(default, deserialize_with = "super::lenient::string")]
    pub id: String,
    /// The leaf name.
    #[serde(default, deserialize_with = "super::lenient::string")]
    pub name: String,
    /// `Parent:Child` for a sub-class.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub fully_qualified_name: Option<String>,
    /// Whether this is a sub-class.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub sub_class: Option<bool>,
    /// The parent class.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_ref: Option<Ref>,
    /// Whether the class is active.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub active: Option<bool>,
    /// Sync token.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub sync_token: Option<String>,
}

/// The body of a query response: `startPosition`, `maxResults`, `totalCount` and one array per
/// entity. An empty page has no entity key at all.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QueryResponse {
    /// 1-based position of the first row.
    #[serde(
        rename = "startPosition",
        default,
        deserialize_with = "super::lenient::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_position: Option<u32>,
    /// Rows returned (not the requested limit; it can exceed it).
    #[serde(
        rename = "maxResults",
        default,
        deserialize_with = "super::lenient::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_results: Option<u32>,
    /// Sometimes present.
    #[serde(
        rename = "totalCount",
        default,
        deserialize_with = "super::lenient::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_count: Option<u32>,
    /// Invoices on this page.
    #[serde(rename = "Invoice", default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<Vec<SalesTransaction>>,
    /// Sales receipts on this page.
    #[serde(rename = "SalesReceipt", default, skip_serializing_if = "Option::is_none")]
    pub sales_receipt: Option<Vec<SalesTransaction>>,
    /// Classes on this page.
    #[serde(rename = "Class", default, skip_serializing_if = "Option::is_none")]
    pub class: Option<Vec<QboClass>>,
    /// Other entities, kept as sent.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl QueryResponse {
    /// The rows of `kind` on this page (empty when the key is absent).
    pub fn transactions(&self, kind: EntityKind) -> &[SalesTransaction] {
        let rows = match kind {
            EntityKind::Invoice => &self.invoice,
            EntityKind::SalesReceipt => &self.sales_receipt,
        };
        rows.as_deref().unwrap_or(&[])
    }
}

/// `{"QueryResponse": {...}, "time": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QueryEnvelope {
    /// The page.
    #[serde(rename = "QueryResponse", default)]
    pub query_response: QueryResponse,
    /// The server's clock at the response.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub time: Option<DateTime<FixedOffset>>,
}

/// One entity group of a change-feed response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CdcQueryResponse {
    /// Changed or deleted invoices.
    #[serde(rename = "Invoice", default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<Vec<ChangedTransaction>>,
    /// Changed or deleted sales receipts.
    #[serde(rename = "SalesReceipt", default, skip_serializing_if = "Option::is_none")]
    pub sales_receipt: Option<Vec<ChangedTransaction>>,
    /// 1-based position of the first row.
    #[serde(
        rename = "startPosition",
        default,
        deserialize_with = "super::lenient::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_position: Option<u32>,
    /// Rows returned.
    #[serde(
        rename = "maxResults",
        default,
        deserialize_with = "super::lenient::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_results: Option<u32>,
    /// Sometimes present.
    #[serde(
        rename = "totalCount",
        default,
        deserialize_with = "super::lenient::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_count: Option<u32>,
    /// Other entities, kept as sent.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// One element of `CDCResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CdcResponse {
    /// The entity groups.
    #[serde(rename = "QueryResponse", default)]
    pub query_response: Vec<CdcQueryResponse>,
}

/// `{"CDCResponse": [...], "time": "..."}`: the change feed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CdcEnvelope {
    /// The feed.
    #[serde(rename = "CDCResponse", default)]
    pub cdc_response: Vec<CdcResponse>,
    /// The server's clock at the response.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub time: Option<DateTime<FixedOffset>>,
}

impl CdcEnvelope {
    /// Every changed or deleted item of `kind`, in feed order.
    pub fn items(&self, kind: EntityKind) -> impl Iterator<Item = &ChangedTransaction> {
        self.cdc_response.iter().flat_map(|r| r.query_response.iter()).flat_map(move |q| {
            let v = match kind {
                EntityKind::Invoice => &q.invoice,
                EntityKind::SalesReceipt => &q.sales_receipt,
            };
            v.as_deref().unwrap_or(&[]).iter()
        })
    }
}

/// One error inside a fault.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FaultError {
    /// Short message.
    #[serde(
        rename = "Message",
        alias = "message",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<String>,
    /// Details.
    #[serde(rename = "Detail", alias = "detail", default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The code, possibly zero-padded (`003200`); see [`FaultError::code_number`].
    #[serde(
        default,
        alias = "Code",
        deserialize_with = "de_code",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<String>,
    /// The element at fault.
    #[serde(default, alias = "Element", skip_serializing_if = "Option::is_none")]
    pub element: Option<String>,
}

fn de_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

impl FaultError {
    /// The code without zero padding (`003200` is `3200`).
    pub fn code_number(&self) -> Option<u32> {
        self.code.as_deref()?.trim().parse().ok()
    }
}

/// A fault: `{"type": "ValidationFault", "Error": [...]}` in either casing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Fault {
    /// `ValidationFault`, `SystemFault`, `AuthenticationFault`, `AUTHENTICATION`, `SERVICE`, ...
    #[serde(rename = "type", alias = "Type", default, skip_serializing_if = "Option::is_none")]
    pub fault_type: Option<String>,
    /// The errors.
    #[serde(rename = "Error", alias = "error", default)]
    pub error: Vec<FaultError>,
}

/// `{"Fault": {...}, "time": ...}` or the camelCase `{"fault": {...}, "time": <epoch ms>}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FaultEnvelope {
    /// The fault.
    #[serde(rename = "Fault", alias = "fault")]
    pub fault: Fault,
    /// The server's time, as an RFC 3339 string or epoch milliseconds; kept as sent.
    #[serde(
        default,
        deserialize_with = "super::lenient::or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub time: Option<Value>,
}

/// One item of a batch response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BatchItemResponse {
    /// The batch item id.
    #[serde(rename = "bId", default)]
    pub b_id: String,
    /// The item's fault, if it failed.
    #[serde(rename = "Fault", alias = "fault", default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    /// The item's query result, if it was a query.
    #[serde(rename = "QueryResponse", default, skip_serializing_if = "Option::is_none")]
    pub query_response: Option<QueryResponse>,
    /// Any other result, kept as sent.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `{"BatchItemResponse": [...], "time": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BatchEnvelope {
    /// The items, each succeeding or failing alone.
    #[serde(rename = "BatchItemResponse", default)]
    pub batch_item_response: Vec<BatchItemResponse>,
    /// The server's clock at the response.
    #[serde(
        default,
        deserialize_with = "super::lenient::opt_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub time: Option<DateTime<FixedOffset>>,
}

/// Any QBO document the crate reads from a file or a response, told apart by its top-level key.
///
/// Bare entity objects (as some exports store them) are recognised by their fields: a
/// `VendorRef` makes a purchase order, a `PaymentMethodRef`, `DepositToAccountRef`,
/// `PaymentRefNum` or `CreditCardPayment` a sales receipt, and anything else with `Line` an invoice.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum QboDocument {
    /// `{"Invoice": {...}}` or a bare invoice.
    Invoice(Box<SalesTransaction>),
    /// `{"SalesReceipt": {...}}` or a bare sales receipt.
    SalesReceipt(Box<SalesTransaction>),
    /// `{"QueryResponse": {...}}`.
    Query(QueryEnvelope),
    /// `{"CDCResponse": [...]}`.
    Cdc(CdcEnvelope),
    /// `{"Fault": {...}}` or `{"fault": {...}}`.
    Fault(FaultEnvelope),
    /// `{"BatchItemResponse": [...]}`.
    Batch(BatchEnvelope),
    /// Another entity (a purchase order, a bill, ...): its name and the raw object.
    Other {
        /// The entity name (`PurchaseOrder`, or `Unknown` when it could not be told).
        entity: String,
        /// The object as sent.
        raw: Value,
    },
}

impl QboDocument {
    /// Reads a document from a JSON value.
    pub fn from_value(value: Value) -> crate::Result<Self> {
        let Value::Object(mut map) = value else {
            return Err(crate::Error::bad_input(
                "a QBO document must be a JSON object; got another JSON type",
            ));
        };
        for key in ["Invoice", "SalesReceipt"] {
            if let Some(v) = map.remove(key) {
                let doc = entity(&v, key)?;
                return Ok(if key == "Invoice" {
                    QboDocument::Invoice(Box::new(doc))
                } else {
                    QboDocument::SalesReceipt(Box::new(doc))
                });
            }
        }
        let value = Value::Object(map);
        let has = |k: &str| value.get(k).is_some();
        if has("QueryResponse") {
            return Ok(QboDocument::Query(query_envelope(value)?));
        }
        if has("CDCResponse") {
            return Ok(QboDocument::Cdc(serde_json::from_value(value)?));
        }
        if has("Fault") || has("fault") {
            return Ok(QboDocument::Fault(serde_json::from_value(value)?));
        }
        if has("BatchItemResponse") {
            return Ok(QboDocument::Batch(serde_json::from_value(value)?));
        }
        if has("VendorRef") || has("POStatus") {
            return Ok(QboDocument::Other { entity: "PurchaseOrder".into(), raw: value });
        }
        if has("Line") && has("Id") {
            let receipt =
                ["PaymentMethodRef", "DepositToAccountRef", "PaymentRefNum", "CreditCardPayment"]
                    .iter()
                    .any(|k| has(k));
            let doc = entity(&value, "bare entity")?;
            return Ok(if receipt {
                QboDocument::SalesReceipt(Box::new(doc))
            } else {
                QboDocument::Invoice(Box::new(doc))
            });
        }
        if let Some(entity) = value.as_object().and_then(|m| {
            if m.len() <= 2 { m.keys().find(|k| k.as_str() != "time").cloned() } else { None }
        }) {
            return Ok(QboDocument::Other { entity, raw: value });
        }
        Ok(QboDocument::Other { entity: "Unknown".into(), raw: value })
    }

    /// Reads a document from JSON text.
    pub fn from_json(text: &str) -> crate::Result<Self> {
        Self::from_value(serde_json::from_str(text)?)
    }

    /// The invoices and sales receipts this document holds, in order.
    pub fn transactions(&self) -> Vec<Transaction> {
        let t = |kind, doc: &SalesTransaction| Transaction { kind, doc: doc.clone() };
        match self {
            QboDocument::Invoice(d) => vec![t(EntityKind::Invoice, d)],
            QboDocument::SalesReceipt(d) => vec![t(EntityKind::SalesReceipt, d)],
            QboDocument::Query(q) => EntityKind::ALL
                .iter()
                .flat_map(|k| q.query_response.transactions(*k).iter().map(|d| t(*k, d)))
                .collect(),
            QboDocument::Batch(b) => {
                b.batch_item_response.iter().flat_map(BatchItemResponse::transactions).collect()
            }
            QboDocument::Cdc(c) => EntityKind::ALL
                .iter()
                .flat_map(|k| {
                    c.items(*k).filter_map(move |i| match i {
                        ChangedTransaction::Changed(d) => Some(t(*k, d)),
                        ChangedTransaction::Deleted(_) => None,
                    })
                })
                .collect(),
            QboDocument::Fault(_) | QboDocument::Other { .. } => Vec::new(),
        }
    }
}

/// An invoice or sales receipt object of a document, read with
/// [`SalesTransaction::from_value_partial`]: fields that do not read are named in `unreadable`
/// rather than failing the document.
fn entity(v: &Value, what: &str) -> crate::Result<SalesTransaction> {
    SalesTransaction::from_value_partial(v).ok_or_else(|| {
        crate::Error::bad_input(format!(
            "the {what} must be a JSON object; got {}",
            super::lenient::kind(v)
        ))
    })
}

/// A query envelope; when a row does not read, each row is read on its own with
/// [`SalesTransaction::from_value_partial`], so one odd row is reported and the others read.
fn query_envelope(value: Value) -> crate::Result<QueryEnvelope> {
    let err = match QueryEnvelope::deserialize(&value) {
        Ok(envelope) => return Ok(envelope),
        Err(e) => e,
    };
    let rows = |kind: EntityKind| -> Option<Option<Vec<SalesTransaction>>> {
        match value.get("QueryResponse")?.get(kind.as_str()) {
            None | Some(Value::Null) => Some(None),
            Some(Value::Array(rows)) => rows
                .iter()
                .map(SalesTransaction::from_value_partial)
                .collect::<Option<_>>()
                .map(Some),
            Some(_) => None,
        }
    };
    let (Some(invoice), Some(sales_receipt)) =
        (rows(EntityKind::Invoice), rows(EntityKind::SalesReceipt))
    else {
        return Err(err.into());
    };
    let mut rest = value;
    if let Some(q) = rest.get_mut("QueryResponse").and_then(Value::as_object_mut) {
        q.remove("Invoice");
        q.remove("SalesReceipt");
    }
    let mut envelope: QueryEnvelope = serde_json::from_value(rest)?;
    envelope.query_response.invoice = invoice;
    envelope.query_response.sales_receipt = sales_receipt;
    Ok(envelope)
}

impl BatchItemResponse {
    /// The invoices and sales receipts of this item: the rows of its query, or the one object of
    /// a create, update or delete (`{"bId": .., "Invoice": {..}}`), read like a document's.
    pub fn transactions(&self) -> Vec<Transaction> {
        let mut out = Vec::new();
        if let Some(q) = &self.query_response {
            for kind in EntityKind::ALL {
                out.extend(
                    q.transactions(kind).iter().map(|d| Transaction { kind, doc: d.clone() }),
                );
            }
        }
        for kind in EntityKind::ALL {
            if let Some(doc) =
                self.other.get(kind.as_str()).and_then(SalesTransaction::from_value_partial)
            {
                out.push(Transaction { kind, doc });
            }
        }
        out
    }
}

/// Parses the XML throttle body (`<Fault type="SERVICE"><Error code="3001">...`) that QBO sends
/// with 403 or 429 even when JSON was asked for. Returns `None` when the text is not such a body.
pub fn parse_xml_fault(text: &str) -> Option<Fault> {
    let start = text.find("<Fault")?;
    let body = &text[start..];
    let attr = |tag_text: &str, name: &str| -> Option<String> {
        let pat = format!("{name}=\"");
        let i = tag_text.find(&pat)? + pat.len();
        let j = tag_text[i..].find('"')? + i;
        Some(tag_text[i..j].to_string())
    };
    let open_end = body.find('>')?;
    let fault_type = attr(&body[..open_end], "type");
    let element = |s: &str, name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let i = s.find(&open)? + open.len();
        let j = s[i..].find(&close)? + i;
        Some(xml_unescape(s[i..j].trim()))
    };
    let mut errors = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("<Error") {
        let chunk = &rest[i..];
        let tag_end = chunk.find('>').unwrap_or(chunk.len());
        let end = chunk.find("</Error>").map(|e| e + "</Error>".len()).unwrap_or(chunk.len());
        let inner = &chunk[..end];
        errors.push(FaultError {
            message: element(inner, "Message"),
            detail: element(inner, "Detail"),
            code: attr(&chunk[..tag_end], "code"),
            element: attr(&chunk[..tag_end], "element"),
        });
        rest = &chunk[end.max(1)..];
    }
    Some(Fault { fault_type, error: errors })
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

// ---------------------------------------------------------------------------------------------
// The company and its customers (CompanyInfo, Customer): what the engine reads besides sales.
// Every field is read leniently: a field of an unexpected shape reads as absent, never fails the
// document, since the sync needs only the countries and the ship-to address.

/// A field that reads as `None` when it is absent, `null`, or of a shape `T` cannot take.
fn or_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

/// An id sent as a string or a number, as text; anything else reads as empty.
fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    })
}

/// The QBO company itself (`GET /v3/company/{realm}/companyinfo/{realm}`, or
/// `SELECT * FROM CompanyInfo`): its names and addresses. The sync reads it for the company's
/// country, the country of an address block that names none.
///
/// `Country` is usually an ISO code (`US`, `AU`, `CA`, `GB`), but names and `USA` occur; the
/// addresses' `Country` may be absent, as on any QBO address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompanyInfo {
    /// The company id (QBO answers `"1"`).
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Sync token.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub sync_token: Option<String>,
    /// The company's name.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// The legal name.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub legal_name: Option<String>,
    /// The company's country, as QBO writes it (`US`, `AU`, `USA`, `Australia`).
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// The company's address.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub company_addr: Option<PhysicalAddress>,
    /// The address customers see.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub customer_communication_addr: Option<PhysicalAddress>,
    /// The legal address.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub legal_addr: Option<PhysicalAddress>,
    /// Languages, as QBO lists them (`en`).
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub supported_languages: Option<String>,
    /// Creation and update times.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<MetaData>,
}

impl CompanyInfo {
    /// The texts that may name the company's country, in the order they decide: `Country`,
    /// then `CompanyAddr.Country`, then `LegalAddr.Country` (blank ones left out).
    pub fn country_texts(&self) -> Vec<&str> {
        fn addr(a: &Option<PhysicalAddress>) -> Option<&str> {
            a.as_ref().and_then(|a| a.country.as_deref())
        }
        [self.country.as_deref(), addr(&self.company_addr), addr(&self.legal_addr)]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect()
    }
}

/// A QBO customer (`GET /v3/company/{realm}/customer/{id}`, or `SELECT * FROM Customer WHERE Id
/// IN (...)`): its names and default addresses. The sync reads it for the ship-to of a sale
/// whose own ship-to is missing or incomplete, when the host asks for that fallback.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QboCustomer {
    /// The customer id (a number sent for it is read as its digits).
    #[serde(default, deserialize_with = "id_text")]
    pub id: String,
    /// Sync token.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub sync_token: Option<String>,
    /// The name shown on sales (`CustomerRef.name`).
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The customer's company.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// First name.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Last name.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// The default billing address.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub bill_addr: Option<PhysicalAddress>,
    /// The default shipping address.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub ship_addr: Option<PhysicalAddress>,
    /// The primary e-mail address.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub primary_email_addr: Option<EmailAddress>,
    /// Whether the customer is active (inactive customers are still read by id).
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Creation and update times.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<MetaData>,
}

/// `{"CompanyInfo": {...}, "time": "..."}`, the answer to a read of the company.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CompanyInfoEnvelope {
    /// The company.
    #[serde(rename = "CompanyInfo", default, deserialize_with = "or_none")]
    pub company_info: Option<CompanyInfo>,
    /// The server's clock.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<FixedOffset>>,
}

/// `{"Customer": {...}, "time": "..."}`, the answer to a read of one customer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CustomerEnvelope {
    /// The customer.
    #[serde(rename = "Customer", default, deserialize_with = "or_none")]
    pub customer: Option<QboCustomer>,
    /// The server's clock.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<FixedOffset>>,
}

/// A QBO item (`SELECT * FROM Item WHERE Id IN (...)`): the product or service a sales line
/// sells. The sync reads it for its `Sku`, the Ordoro SKU of the lines that sell it when the
/// merchant tracks SKUs in QBO. A sub-item has its own `Sku` (never its parent's) and a
/// `FullyQualifiedName` `Parent:Child`, which is what a sale's `ItemRef.name` shows; a bundle is
/// `Type: Group`.
///
/// Read leniently like the other QBO documents: a field of an odd shape is absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QboItem {
    /// The item id (a number sent for it is read as its digits).
    #[serde(default, deserialize_with = "id_text")]
    pub id: String,
    /// Sync token: moves on every edit of the item.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub sync_token: Option<String>,
    /// The leaf name (`Child` for a sub-item).
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Parent:Child` for a sub-item, the name otherwise.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub fully_qualified_name: Option<String>,
    /// The stock-keeping unit, when the company tracks SKUs (`Preferences` "SKU" on); often
    /// absent or empty.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// Whether the item is active (an item made inactive after a sale still has its SKU).
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// `Inventory`, `NonInventory`, `Service`, `Group` (a bundle) or `Category`, as QBO
    /// writes it.
    #[serde(
        rename = "Type",
        default,
        deserialize_with = "or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub item_type: Option<String>,
    /// True for a sub-item.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub sub_item: Option<bool>,
    /// The parent of a sub-item.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub parent_ref: Option<Ref>,
    /// The item's description on sales forms.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Creation and update times.
    #[serde(default, deserialize_with = "or_none", skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<MetaData>,
}

impl QboItem {
    /// The item's SKU, trimmed; `None` when it has none (absent or blank).
    pub fn sku(&self) -> Option<&str> {
        self.sku.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }

    /// True for a bundle (`Type: Group`, any case).
    pub fn is_bundle(&self) -> bool {
        self.item_type.as_deref().is_some_and(|t| t.trim().eq_ignore_ascii_case("group"))
    }

    /// The items of a QBO document: an `{"Item": {..}}` envelope, or a query answer
    /// `{"QueryResponse": {"Item": [..]}}`, or a bare item or array of items. Items that do not
    /// read are left out.
    pub fn from_document(value: &Value) -> Vec<QboItem> {
        let rows = value
            .get("QueryResponse")
            .and_then(|q| q.get("Item"))
            .or_else(|| value.get("Item"))
            .unwrap_or(value);
        let read = |v: &Value| serde_json::from_value::<QboItem>(v.clone()).ok();
        match rows {
            Value::Array(items) => items.iter().filter_map(read).collect(),
            Value::Object(_) => read(rows).into_iter().filter(|i| !i.id.is_empty()).collect(),
            _ => Vec::new(),
        }
    }
}
