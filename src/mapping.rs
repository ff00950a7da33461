//! From transaction to order: the decision (create or skip, and why) and the `POST /v3/order` body.
//!
//! PROVISIONAL: a minimal stand-in with the agreed signature so that the engine compiles and its
//! tests run until the `mapping` branch lands; it is replaced wholesale by that branch's module.

use rust_decimal::Decimal;

use crate::model::ordoro::{LineProduct, NewOrder, NewOrderLine, OrdoroAddress};
use crate::model::qbo::{EntityKind, LineDetail, PhysicalAddress, Transaction};

/// How transactions map to orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingConfig {
    /// Accepted class names (case-insensitive).
    pub accepted_classes: Vec<String>,
    /// The Ordoro sales channel.
    pub cart: Option<i64>,
}

impl Default for MappingConfig {
    fn default() -> Self {
        MappingConfig { accepted_classes: vec!["Ordoro".to_string()], cart: None }
    }
}

/// Why a transaction is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// The class is not accepted.
    ClassMismatch,
    /// No class at all.
    NoClass,
    /// Voided.
    Voided,
    /// Deleted.
    Deleted,
    /// Already synced.
    AlreadySynced,
    /// Unchanged.
    Unchanged,
    /// Nothing to ship.
    NotShippable,
}

impl SkipReason {
    /// The log code.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::ClassMismatch => "class_mismatch",
            SkipReason::NoClass => "no_class",
            SkipReason::Voided => "voided",
            SkipReason::Deleted => "deleted",
            SkipReason::AlreadySynced => "already_synced",
            SkipReason::Unchanged => "unchanged",
            SkipReason::NotShippable => "not_shippable",
        }
    }
}

/// A transaction mapped to an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedOrder {
    /// The body.
    pub order: NewOrder,
    /// Warnings for the log.
    pub warnings: Vec<String>,
}

/// What to do with a transaction.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Create this order.
    Create(MappedOrder),
    /// Skip it.
    Skip {
        /// Why.
        reason: SkipReason,
        /// For people.
        detail: String,
    },
    /// It cannot be mapped.
    Error {
        /// The error code.
        code: String,
        /// For people.
        message: String,
    },
}

/// The order id of a transaction.
pub fn order_id_for(kind: EntityKind, id: &str) -> String {
    match kind {
        EntityKind::Invoice => format!("QBO-INV-{id}"),
        EntityKind::SalesReceipt => format!("QBO-SR-{id}"),
    }
}

/// Decides what to do with a transaction.
pub fn decide(txn: &Transaction, config: &MappingConfig) -> Decision {
    let doc = &txn.doc;
    let voided = doc.private_note.as_deref().is_some_and(|n| n.starts_with("Voided"))
        && doc.total_amt.unwrap_or_default().is_zero();
    if voided {
        return Decision::Skip { reason: SkipReason::Voided, detail: "voided".into() };
    }
    let Some(class) = doc.class_ref.as_ref().and_then(|c| c.name.clone()) else {
        return Decision::Skip { reason: SkipReason::NoClass, detail: "no class".into() };
    };
    if !config.accepted_classes.iter().any(|c| c.eq_ignore_ascii_case(class.trim())) {
        return Decision::Skip { reason: SkipReason::ClassMismatch, detail: class };
    }
    let Some(addr) = doc.ship_addr.as_ref().or(doc.bill_addr.as_ref()) else {
        return Decision::Error { code: "empty_input".into(), message: "no address".into() };
    };
    let lines: Vec<NewOrderLine> = doc
        .line
        .iter()
        .filter_map(|l| match &l.detail {
            LineDetail::SalesItem(d) => {
                let name = d.item_ref.as_ref().and_then(|r| r.name.clone()).unwrap_or_default();
                Some(NewOrderLine {
                    cart_orderitem_id: l.id.clone(),
                    product_name: Some(name.clone()),
                    item_price: d.unit_price,
                    quantity: d.qty.map(|q| q.trunc().mantissa() as i64).unwrap_or(1),
                    total_price: l.amount,
                    product: LineProduct { sku: name.clone(), name, price: d.unit_price },
                })
            }
            _ => None,
        })
        .collect();
    if lines.is_empty() {
        return Decision::Skip { reason: SkipReason::NotShippable, detail: "no lines".into() };
    }
    if addr.city.is_none() && addr.line2.is_none() {
        return Decision::Error { code: "missing_city_line".into(), message: "no city".into() };
    }
    let address = to_address(addr);
    let order_id = order_id_for(txn.kind, &doc.id);
    let product_amount: Decimal = lines.iter().filter_map(|l| l.total_price).sum();
    Decision::Create(MappedOrder {
        order: NewOrder {
            order_id: order_id.clone(),
            cart: config.cart,
            cart_order_id: Some(order_id),
            product_amount: Some(product_amount),
            grand_total: doc.total_amt,
            billing_address: address.clone(),
            shipping_address: address,
            lines,
            ..Default::default()
        },
        warnings: Vec::new(),
    })
}

fn to_address(a: &PhysicalAddress) -> OrdoroAddress {
    OrdoroAddress {
        street1: a.line1.clone(),
        city: a.city.clone(),
        state: a.country_sub_division_code.clone(),
        zip: a.postal_code.clone(),
        country: Some("US".into()),
        ..Default::default()
    }
}
