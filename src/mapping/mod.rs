//! From transaction to order: decides whether a QBO invoice or sales receipt becomes an Ordoro
//! order (create, skip with a reason code, or fail with an error code) and builds the
//! `POST /v3/order` body, with the warnings a person should read. Pure: no I/O, no clock, no panic
//! on any input.

mod addresses;
mod config;
mod lines;
pub mod preview;
pub mod skus;

use rust_decimal::Decimal;

pub use config::MappingConfig;
pub use skus::{
    BundlePolicy, FractionalPolicy, LineSku, SkuBook, SkuKey, SkuMapping, SkuSource, item_ids,
};

use crate::Reason;
use crate::address::{AddressError, ParsedAddress};
use crate::class_filter::ClassVerdict;
use crate::model::ordoro::{NewOrder, OrdoroAddress};
use crate::model::qbo::{EntityKind, LineDetail, SalesTransaction, Transaction};

/// An order ready to create, with what was noticed while building it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MappedOrder {
    /// The `POST /v3/order` body.
    pub order: NewOrder,
    /// Things a person should know (also written into the order's internal notes).
    pub warnings: Vec<String>,
    /// The parsed ship-to, with its raw lines.
    pub ship_to: ParsedAddress,
    /// The parsed bill-to, with its raw lines.
    pub bill_to: ParsedAddress,
    /// The SKU of each order line and where it came from, in the order of the lines.
    pub skus: Vec<LineSku>,
}

/// The ship-to address of `doc` as its order would carry it (Ordoro's fields, with the billing
/// e-mail), parsed as [`decide`] parses it with `config` (from `ShipAddr`, else `BillAddr`, in
/// the company's country), whatever the decision: a skipped sale's too. Or the address error: its
/// code, a message that says how to fix the address in QuickBooks, and the lines read. Pure.
///
/// ```
/// use qbo_ordoro::mapping::{MappingConfig, ship_to};
/// use qbo_ordoro::model::qbo::{PhysicalAddress, SalesTransaction};
///
/// let doc = SalesTransaction {
///     ship_addr: Some(PhysicalAddress::from_lines(&["Kate Whelan", "45 First St.", "Menlo Park, CA 94304"])),
///     ..Default::default()
/// };
/// let address = ship_to(&doc, &MappingConfig::default()).unwrap();
/// assert_eq!(address.state.as_deref(), Some("CA"));
/// let error = ship_to(&SalesTransaction::default(), &MappingConfig::default()).unwrap_err();
/// assert_eq!(error.code.as_str(), "empty_input");
/// ```
pub fn ship_to(
    doc: &SalesTransaction,
    config: &MappingConfig,
) -> Result<OrdoroAddress, AddressError> {
    let parsed = addresses::ship_to(doc, config)?;
    Ok(addresses::to_ordoro(&parsed, addresses::first_email(doc).as_deref()))
}

/// What to do with one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Create this order.
    Create(Box<MappedOrder>),
    /// Create nothing, for this reason.
    Skip {
        /// The reason code (`class_mismatch`, `no_class`, `voided`, `not_shippable`).
        reason: Reason,
        /// Details for people.
        detail: String,
    },
    /// The transaction cannot be mapped: an address error code from the parser
    /// ([`Reason::Address`]) or a mapping code ([`Reason::NegativeLine`], ...).
    Error {
        /// The stable code.
        code: Reason,
        /// What was wrong and what to do.
        message: String,
    },
}

impl Decision {
    /// `create`, `skip` or `error`.
    pub fn action(&self) -> &'static str {
        match self {
            Decision::Create(_) => "create",
            Decision::Skip { .. } => "skip",
            Decision::Error { .. } => "error",
        }
    }

    fn skip(reason: Reason, detail: impl Into<String>) -> Self {
        Decision::Skip { reason, detail: detail.into() }
    }

    fn error(code: impl Into<Reason>, message: impl Into<String>) -> Self {
        Decision::Error { code: code.into(), message: message.into() }
    }
}

/// The Ordoro `order_id` of a QBO transaction: `QBO-INV-{id}` for an invoice, `QBO-SR-{id}` for
/// a sales receipt. Stable across runs and machines, and distinct for an invoice and a sales
/// receipt that share an id.
pub fn order_id_for(kind: EntityKind, qbo_id: &str) -> String {
    let tag = match kind {
        EntityKind::Invoice => "INV",
        EntityKind::SalesReceipt => "SR",
    };
    format!("QBO-{tag}-{}", qbo_id.trim())
}

/// [`order_id_for`], behind the configured prefix if any (`ACME-QBO-INV-130`).
pub fn configured_order_id(kind: EntityKind, qbo_id: &str, config: &MappingConfig) -> String {
    let base = order_id_for(kind, qbo_id);
    match config.order_id_prefix() {
        Some(prefix) => format!("{prefix}-{base}"),
        None => base,
    }
}

/// Decides what to do with a transaction. The rules, in the order they apply:
///
///  0. **Deleted**: the shape of a delete (`{"status": "Deleted", "Id": ..}`) is skipped
///     `deleted`, whatever else it says; a transaction with fields that could not be read fails
///     with `unreadable_transaction`.
///  1. **Class** ([`crate::class_filter`]): a sale not marked with an accepted class is skipped
///     `class_mismatch` or `no_class`. The class comes first so that a voided sale of another
///     class is logged as `class_mismatch`, like any other sale of that class.
///  2. **Voided**: every amount zero (total, tax, every line) and a `PrivateNote` starting with
///     `Voided` (any case) is skipped `voided`. A zero-total sale without that note (a free
///     replacement) and a note that merely mentions voiding on a sale with amounts are ordinary.
///  3. **Lines**: subtotals dropped; bundles flattened into their item lines; shipping lines
///     ([`crate::shipping`]) summed into `shipping_amount`; discount lines summed into
///     `discount_amount`; description-only lines and item-less lines (which QBO itself treats as
///     text) go to the internal notes; every other item line becomes an order line. A negative
///     quantity, unit price or amount (a credit or return line), or a negative discount, fails the
///     transaction with `negative_line`: Ordoro cannot ship a negative quantity and dropping the
///     line would change the money, so a person must look.
///     A line of goods or money that could not be read
///     ([`LineDetail::Unreadable`]) fails the
///     transaction with `unreadable_line`, naming the line: no line is ever dropped.
///  4. **Quantities**: `Qty` (1 when absent). Ordoro counts whole units, so a fractional quantity
///     (4.5 hours) becomes one unit priced at the line total, the real quantity shown in the line's
///     name, with a warning; no money is lost. A zero quantity stays 0, with a warning.
///  5. **Nothing to ship**: a sale with no product line (only shipping, discounts or text) is
///     skipped `not_shippable`, before its addresses are read.
///  6. **Totals**: tax from `TxnTaxDetail.TotalTax` (0 when absent), grand total from `TotalAmt`
///     (the computed sum, with a warning, when absent); a warning when product lines + shipping +
///     tax - discount differ from the total. A negative tax or total fails with `negative_amount`.
///  7. **Addresses** ([`crate::address`]): ship-to from `ShipAddr`, else `BillAddr`; an unreadable
///     ship-to fails with the parser's code. Bill-to from `BillAddr`, else the ship-to; an
///     unreadable `BillAddr` next to a good ship-to is replaced by the ship-to with a warning
///     (unless [`MappingConfig::with_bill_to_fallback`] turns that off). The first `BillEmail`
///     address goes on both.
///  8. **Currency**: a sale whose `CurrencyRef` is not the Ordoro account's currency
///     ([`MappingConfig::with_account_currency`]; unset, the QBO company's home currency, so a
///     sale with an `ExchangeRate` other than 1) keeps its amounts as they are, never converted;
///     its currency and `ExchangeRate` go into the internal notes, with a warning.
///  9. **Identity**: `order_id` and `cart_order_id` are [`order_id_for`] the entity and QBO id
///     (`QBO-INV-130`, `QBO-SR-11`), never the DocNumber, which shows in the internal notes; a
///     transaction without an `Id` fails with `missing_id`.
///
/// ```
/// use qbo_ordoro::mapping::{Decision, MappingConfig, decide};
/// use qbo_ordoro::model::qbo::QboDocument;
/// use qbo_ordoro::Reason;
///
/// let doc = QboDocument::from_json(r#"{"Invoice": {
///     "Id": "130", "SyncToken": "0", "DocNumber": "1037", "TxnDate": "2026-11-30",
///     "ClassRef": {"value": "5000000000000000001", "name": "Ordoro"},
///     "TotalAmt": 25,
///     "Line": [
///         {"Id": "1", "Amount": 20, "DetailType": "SalesItemLineDetail",
///          "SalesItemLineDetail": {"ItemRef": {"value": "5", "name": "Widget"}, "Qty": 2, "UnitPrice": 10}},
///         {"Id": "2", "Amount": 5, "DetailType": "SalesItemLineDetail",
///          "SalesItemLineDetail": {"ItemRef": {"value": "7", "name": "UPS Ground"}}}
///     ],
///     "ShipAddr": {"Line1": "Jane Doe", "Line2": "12 Main Street", "Line3": "Springfield, IL 62704"}
/// }}"#)?;
/// let config = MappingConfig::default(); // class `Ordoro`; UPS, FedEx and Shipping lines ship
/// let [txn] = doc.transactions().try_into().unwrap();
/// let Decision::Create(mapped) = decide(&txn, &config) else { panic!("not created") };
/// let order = &mapped.order;
/// assert_eq!(order.order_id, "QBO-INV-130");
/// assert_eq!(order.lines.len(), 1); // the UPS line is the shipping charge
/// assert_eq!(order.shipping_amount, Some(5.into()));
/// assert_eq!(order.shipping_address.state.as_deref(), Some("IL"));
///
/// let retail = config.clone().with_classes(["Retail"]);
/// assert!(matches!(decide(&txn, &retail), Decision::Skip { reason: Reason::ClassMismatch, .. }));
/// # Ok::<(), qbo_ordoro::Error>(())
/// ```
pub fn decide(txn: &Transaction, config: &MappingConfig) -> Decision {
    let doc = &txn.doc;
    // A delete carries no class, no lines and no amounts: it is never an empty sale.
    if doc.is_deleted() {
        return Decision::skip(Reason::Deleted, "deleted in QuickBooks");
    }
    // Before the class: the unreadable field may be the class itself.
    if let Some(fields) = &doc.unreadable {
        return Decision::error(
            Reason::UnreadableTransaction,
            format!(
                "QuickBooks sent fields of this transaction in a shape this crate cannot read \
                 ({fields}); no order was created or changed. Check the transaction in \
                 QuickBooks, and report this message if it looks right there"
            ),
        );
    }
    match config.classes().check(doc) {
        ClassVerdict::Accepted { .. } => {}
        ClassVerdict::Mismatch { found } => {
            let accepted = config.classes().names().join(", ");
            return Decision::skip(
                Reason::ClassMismatch,
                format!("class {} is not an accepted class ({accepted})", found.join(", ")),
            );
        }
        ClassVerdict::NoClass => {
            return Decision::skip(
                Reason::NoClass,
                "no class on the transaction nor on any item line",
            );
        }
    }
    if is_voided(doc) {
        return Decision::skip(Reason::Voided, "voided in QuickBooks (amounts zeroed)");
    }
    if doc.id.trim().is_empty() {
        return Decision::error(
            Reason::MissingId,
            "the transaction has no Id; cannot derive an order id",
        );
    }
    build(txn, config, None)
}

/// [`decide`], with `ship_to` in place of the transaction's own `ShipAddr`, and `warning` added
/// to the order's warnings (so it reaches the order's internal notes and the log). The engine
/// passes the customer's `ShipAddr` here when the sale's own ship-to is missing or incomplete
/// and the host asked for that fallback; it fetches, this decides, still without I/O.
///
/// ```
/// use qbo_ordoro::mapping::{Decision, MappingConfig, decide, decide_with_ship_to};
/// use qbo_ordoro::model::qbo::{PhysicalAddress, QboDocument};
///
/// let doc = QboDocument::from_json(r#"{"Invoice": {
///     "Id": "7", "SyncToken": "0", "ClassRef": {"value": "1", "name": "Ordoro"}, "TotalAmt": 5,
///     "CustomerRef": {"value": "58", "name": "Jane Doe"},
///     "Line": [{"Amount": 5, "DetailType": "SalesItemLineDetail",
///               "SalesItemLineDetail": {"ItemRef": {"value": "3", "name": "Mug"}}}],
///     "ShipAddr": {"Line1": "12 Main Street"}
/// }}"#)?;
/// let [txn] = doc.transactions().try_into().unwrap();
/// let config = MappingConfig::default();
/// assert!(matches!(decide(&txn, &config), Decision::Error { .. })); // no city line
/// let customers = PhysicalAddress {
///     line1: Some("12 Main Street".into()),
///     city: Some("Springfield".into()),
///     country_sub_division_code: Some("IL".into()),
///     postal_code: Some("62704".into()),
///     ..Default::default()
/// };
/// let why = "ship-to taken from the customer record because the sale's has no city line";
/// let Decision::Create(mapped) = decide_with_ship_to(&txn, &config, &customers, why) else {
///     panic!("not created")
/// };
/// assert_eq!(mapped.order.shipping_address.city.as_deref(), Some("Springfield"));
/// assert!(mapped.warnings.iter().any(|w| w == why));
/// # Ok::<(), qbo_ordoro::Error>(())
/// ```
pub fn decide_with_ship_to(
    txn: &Transaction,
    config: &MappingConfig,
    ship_to: &crate::model::qbo::PhysicalAddress,
    warning: &str,
) -> Decision {
    let mut replaced = txn.clone();
    replaced.doc.ship_addr = Some(ship_to.clone());
    match decide(&replaced, config) {
        Decision::Create(_) => build(&replaced, config, Some(warning)),
        other => other,
    }
}

/// True when every amount is zero and the memo starts with `Voided`, as QBO leaves a void.
/// Never for a transaction with [unreadable](SalesTransaction::unreadable) fields: its amounts
/// may be missing only because they could not be read.
pub fn is_voided(doc: &SalesTransaction) -> bool {
    if doc.unreadable.is_some() {
        return false;
    }
    let note_says_voided = doc
        .private_note
        .as_deref()
        .and_then(|n| n.trim_start().get(..6))
        .is_some_and(|head| head.eq_ignore_ascii_case("voided"));
    let zero = |d: Option<Decimal>| d.is_none_or(|d| d.is_zero());
    note_says_voided
        && zero(doc.total_amt)
        && zero(doc.txn_tax_detail.as_ref().and_then(|t| t.total_tax))
        && lines_all_zero(&doc.line, 0)
}

fn lines_all_zero(lines: &[crate::model::qbo::Line], depth: usize) -> bool {
    depth < 8
        && lines.iter().all(|l| {
            l.amount.is_none_or(|a| a.is_zero())
                && match &l.detail {
                    LineDetail::Group(g) => lines_all_zero(&g.line, depth + 1),
                    _ => true,
                }
        })
}

/// The order, with `warning` (if any) first among the warnings.
fn build(txn: &Transaction, config: &MappingConfig, warning: Option<&str>) -> Decision {
    let doc = &txn.doc;
    let summary = match lines::summarize(&doc.line, &lines::LineRules::of(config)) {
        Ok(s) => s,
        Err(e) => return Decision::error(e.code, e.message),
    };
    if summary.products.is_empty() {
        return Decision::skip(
            Reason::NotShippable,
            format!(
                "no product line to ship ({} shipping line(s), {} line(s) in all)",
                summary.shipping_lines,
                doc.line.len()
            ),
        );
    }
    let mut warnings: Vec<String> = warning.map(str::to_string).into_iter().collect();
    warnings.extend(summary.warnings.iter().cloned());
    let currency = foreign_currency(doc, config);
    if let Some(c) = &currency {
        warnings.push(format!(
            "the sale is in {}, not in the Ordoro account's {}: its amounts are sent as \
             QuickBooks has them, in {}, not converted{}",
            c.code,
            config.account_currency().unwrap_or("currency (the company's home currency)"),
            c.code,
            c.rate_text()
        ));
    }
    let totals = match totals(doc, &summary, &mut warnings) {
        Ok(t) => t,
        Err(d) => return d,
    };
    let addresses = match addresses::resolve(doc, config) {
        Ok(a) => a,
        Err(e) => return Decision::error(e.code, e.message),
    };
    warnings.extend(addresses.warnings.iter().cloned());
    let email = addresses::first_email(doc);
    let order_id = configured_order_id(txn.kind, &doc.id, config);
    let order = NewOrder {
        order_id: order_id.clone(),
        cart: config.cart(),
        cart_order_id: Some(order_id),
        order_date: order_date(doc),
        shipping_type: shipping_type(doc, &summary),
        notes_from_customer: doc.customer_memo.as_ref().and_then(|m| lines::clean(Some(&m.value))),
        internal_notes: Some(internal_notes(
            txn,
            &summary,
            &addresses.ship_to,
            currency.as_ref(),
            &warnings,
        )),
        product_amount: Some(summary.product_amount.normalize()),
        shipping_amount: Some(summary.shipping_amount.normalize()),
        tax_amount: Some(totals.tax.normalize()),
        discount_amount: Some(summary.discount_amount.normalize()),
        grand_total: Some(totals.grand_total.normalize()),
        tags: Vec::new(),
        billing_address: addresses::to_ordoro(&addresses.bill_to, email.as_deref()),
        shipping_address: addresses::to_ordoro(&addresses.ship_to, email.as_deref()),
        lines: summary.products,
    };
    let skus = summary.skus;
    Decision::Create(Box::new(MappedOrder {
        order,
        warnings,
        ship_to: addresses.ship_to,
        bill_to: addresses.bill_to,
        skus,
    }))
}

struct Totals {
    tax: Decimal,
    grand_total: Decimal,
}

/// Tax and grand total, warning when the parts do not add up to QBO's total.
fn totals(
    doc: &SalesTransaction,
    s: &lines::LineSummary,
    warnings: &mut Vec<String>,
) -> Result<Totals, Decision> {
    let tax = doc.txn_tax_detail.as_ref().and_then(|t| t.total_tax).unwrap_or(Decimal::ZERO);
    let negative = |d: Decimal| d.is_sign_negative() && !d.is_zero();
    if negative(tax) {
        return Err(Decision::error(
            Reason::NegativeAmount,
            format!("negative tax {}", tax.normalize()),
        ));
    }
    let computed = s
        .product_amount
        .checked_add(s.shipping_amount)
        .and_then(|x| x.checked_add(tax))
        .and_then(|x| x.checked_sub(s.discount_amount))
        .ok_or_else(|| Decision::error(Reason::AmountOverflow, "the order total is too large"))?;
    let grand_total = match doc.total_amt {
        Some(t) if negative(t) => {
            return Err(Decision::error(
                Reason::NegativeAmount,
                format!("negative total {}: a credit cannot be shipped", t.normalize()),
            ));
        }
        Some(t) => {
            if t != computed {
                warnings.push(format!(
                    "totals do not add up: lines {} + shipping {} + tax {} - discount {} = {}, \
                     but the QuickBooks total is {}",
                    s.product_amount.normalize(),
                    s.shipping_amount.normalize(),
                    tax.normalize(),
                    s.discount_amount.normalize(),
                    computed.normalize(),
                    t.normalize()
                ));
            }
            t
        }
        None => {
            warnings.push(format!(
                "no TotalAmt; the grand total is the computed {}",
                computed.normalize()
            ));
            computed
        }
    };
    Ok(Totals { tax, grand_total })
}

/// The currency of a sale made in another currency than the Ordoro account's.
struct ForeignCurrency {
    /// The ISO code, from `CurrencyRef.value`.
    code: String,
    /// `ExchangeRate`: home-currency units for one unit of `code`.
    rate: Option<Decimal>,
}

impl ForeignCurrency {
    fn rate_text(&self) -> String {
        match self.rate {
            Some(r) => {
                format!(
                    " (QuickBooks exchange rate: 1 {} = {} in the home currency)",
                    self.code,
                    r.normalize()
                )
            }
            None => String::new(),
        }
    }
}

/// The sale's currency when it is not the Ordoro account's; none when QBO names no currency
/// (single-currency companies). With no account currency set, the account is in the company's
/// home currency, whose sales QBO gives an exchange rate of exactly 1.
fn foreign_currency(doc: &SalesTransaction, config: &MappingConfig) -> Option<ForeignCurrency> {
    let code = doc.currency_ref.as_ref().and_then(|c| lines::clean(Some(&c.value)))?;
    let code = code.to_ascii_uppercase();
    let foreign = match config.account_currency() {
        Some(account) => code != account,
        None => doc.exchange_rate.is_some_and(|rate| rate != Decimal::ONE),
    };
    foreign.then_some(ForeignCurrency { code, rate: doc.exchange_rate })
}

/// `ShipMethodRef` (its name, else its value), else the first named shipping item.
fn shipping_type(doc: &SalesTransaction, s: &lines::LineSummary) -> Option<String> {
    doc.ship_method_ref
        .as_ref()
        .and_then(|m| lines::clean(m.name.as_deref()).or_else(|| lines::clean(Some(&m.value))))
        .or_else(|| s.first_shipping_name.clone())
}

/// `TxnDate` at midnight UTC, else the creation time; none when the year has no RFC 3339 form.
fn order_date(doc: &SalesTransaction) -> Option<String> {
    use chrono::Datelike;
    let rfc3339_year = |y: i32| (0..=9999).contains(&y);
    match doc.txn_date {
        Some(d) if rfc3339_year(d.year()) => Some(format!("{}T00:00:00Z", d.format("%Y-%m-%d"))),
        Some(_) => None,
        None => doc
            .meta_data
            .as_ref()
            .and_then(|m| m.create_time)
            .filter(|t| rfc3339_year(t.year()))
            .map(|t| t.to_rfc3339()),
    }
}

/// The DocNumber line, the memo, text lines, the ship-to as typed, and the warnings.
fn internal_notes(
    txn: &Transaction,
    s: &lines::LineSummary,
    ship_to: &ParsedAddress,
    currency: Option<&ForeignCurrency>,
    warnings: &[String],
) -> String {
    let doc = &txn.doc;
    let entity = match txn.kind {
        EntityKind::Invoice => "Invoice",
        EntityKind::SalesReceipt => "Sales Receipt",
    };
    let number =
        lines::clean(doc.doc_number.as_deref()).unwrap_or_else(|| "(no number)".to_string());
    let mut notes = vec![format!("QuickBooks {entity} {number} (id {})", doc.id.trim())];
    if let Some(memo) = lines::clean(doc.private_note.as_deref()) {
        notes.push(format!("Memo: {memo}"));
    }
    notes.extend(s.notes.iter().cloned());
    if let Some(c) = currency {
        notes.push(format!("Currency: {}{}", c.code, c.rate_text()));
    }
    if !ship_to.raw_lines.is_empty() {
        notes.push(format!("Ship-to as typed: {}", ship_to.raw_lines.join(" / ")));
    }
    notes.extend(warnings.iter().map(|w| format!("Warning: {w}")));
    notes.join("\n")
}
