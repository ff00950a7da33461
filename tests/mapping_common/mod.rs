//! Builders for QBO sales shared by the mapping tests: a realistic invoice or sales receipt of the
//! class `Ordoro` as JSON, lines of every kind, and shortcuts to decide and unwrap.
#![allow(dead_code)]

#[path = "../fixture_support/mod.rs"]
mod fixture_support;
#[allow(unused_imports)] // each test file uses some of them
pub use fixture_support::{post_order_validator, qbo_fixtures, qbo_fixtures_dir};

use std::str::FromStr;

use qbo_ordoro::mapping::{Decision, MappedOrder, MappingConfig, decide};
use qbo_ordoro::model::qbo::{EntityKind, QboDocument, SalesTransaction, Transaction};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// A decimal from text.
pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A sale of the class `Ordoro`: two widgets at 10, a structured U.S. ship-to and bill-to, an
/// e-mail, no tax; total 20.
pub fn sale() -> Value {
    json!({
        "Id": "501",
        "SyncToken": "0",
        "DocNumber": "1501",
        "TxnDate": "2024-05-06",
        "ClassRef": {"value": "5000000000000000001", "name": "Ordoro"},
        "CustomerRef": {"value": "58", "name": "Jane Buyer"},
        "BillEmail": {"Address": "jane@example.com"},
        "ShipAddr": us_address("12 Main St"),
        "BillAddr": us_address("400 Billing Ave"),
        "Line": [
            item("1", "Widget", Some(2), Some(10), 20),
            subtotal(20),
        ],
        "TxnTaxDetail": {"TotalTax": 0},
        "TotalAmt": 20
    })
}

/// A structured U.S. address in Springfield, IL.
pub fn us_address(street: &str) -> Value {
    json!({
        "Id": "9",
        "Line1": street,
        "City": "Springfield",
        "CountrySubDivisionCode": "IL",
        "PostalCode": "62701"
    })
}

/// An item line; `qty` and `unit` absent when `None`. Amounts are JSON numbers as QBO sends them.
pub fn item(id: &str, name: &str, qty: Option<i64>, unit: Option<i64>, amount: i64) -> Value {
    item_dec(id, name, qty.map(Decimal::from), unit.map(Decimal::from), Decimal::from(amount))
}

/// An item line with decimal quantity, unit price and amount.
pub fn item_dec(
    id: &str,
    name: &str,
    qty: Option<Decimal>,
    unit: Option<Decimal>,
    amount: Decimal,
) -> Value {
    let mut detail = json!({"ItemRef": {"value": format!("{id}00"), "name": name}});
    if let Some(q) = qty {
        detail["Qty"] = num(q);
    }
    if let Some(u) = unit {
        detail["UnitPrice"] = num(u);
    }
    json!({
        "Id": id,
        "LineNum": 1,
        "Description": format!("{name} description"),
        "Amount": num(amount),
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": detail
    })
}

/// A decimal as a JSON number.
pub fn num(x: Decimal) -> Value {
    serde_json::from_str(&x.normalize().to_string()).unwrap()
}

/// QBO's own shipping line (no id, no name, no quantity).
pub fn shipping_item_line(amount: &str) -> Value {
    json!({
        "DetailType": "SalesItemLineDetail",
        "Amount": num(d(amount)),
        "SalesItemLineDetail": {"ItemRef": {"value": "SHIPPING_ITEM_ID"}}
    })
}

/// A subtotal line.
pub fn subtotal(amount: i64) -> Value {
    json!({"Amount": amount, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
}

/// A percent discount line with its computed amount.
pub fn percent_discount(percent: &str, amount: &str) -> Value {
    json!({
        "Amount": num(d(amount)),
        "DetailType": "DiscountLineDetail",
        "DiscountLineDetail": {
            "PercentBased": true,
            "DiscountPercent": num(d(percent)),
            "DiscountAccountRef": {"value": "86", "name": "Discounts given"}
        }
    })
}

/// A flat discount line.
pub fn flat_discount(amount: &str) -> Value {
    json!({
        "Amount": num(d(amount)),
        "DetailType": "DiscountLineDetail",
        "DiscountLineDetail": {"PercentBased": false}
    })
}

/// A description-only line.
pub fn text_line(id: &str, text: &str) -> Value {
    json!({"Id": id, "Description": text, "DetailType": "DescriptionOnly", "DescriptionLineDetail": {}})
}

/// A bundle whose header amount is `header_amount` (QBO often sends 0) around `children`.
pub fn bundle(id: &str, name: &str, qty: i64, header_amount: i64, children: Vec<Value>) -> Value {
    json!({
        "Id": id,
        "LineNum": 1,
        "Description": format!("{name} bundle"),
        "Amount": header_amount,
        "DetailType": "GroupLineDetail",
        "GroupLineDetail": {
            "GroupItemRef": {"value": "24", "name": name},
            "Quantity": qty,
            "Line": children
        }
    })
}

/// Puts `class` on an item line's detail.
pub fn with_line_class(mut line: Value, class_name: &str, class_id: &str) -> Value {
    line["SalesItemLineDetail"]["ClassRef"] = json!({"value": class_id, "name": class_name});
    line
}

/// The sale as a transaction of `kind`, decoded as QBO's JSON is.
pub fn txn_of(kind: EntityKind, v: Value) -> Transaction {
    let doc: SalesTransaction = serde_json::from_value(v).unwrap();
    Transaction { kind, doc }
}

/// The sale as an invoice.
pub fn invoice(v: Value) -> Transaction {
    txn_of(EntityKind::Invoice, v)
}

/// The sale as a sales receipt.
pub fn receipt(v: Value) -> Transaction {
    txn_of(EntityKind::SalesReceipt, v)
}

/// Decides an invoice with the default configuration.
pub fn decide_invoice(v: Value) -> Decision {
    decide(&invoice(v), &MappingConfig::default())
}

/// The order of a `Create`, or a panic naming the decision.
pub fn created(decision: Decision) -> MappedOrder {
    match decision {
        Decision::Create(m) => *m,
        other => panic!("expected an order, got {other:?}"),
    }
}

/// The reason code of a `Skip`, or a panic.
pub fn skipped(decision: Decision) -> String {
    match decision {
        Decision::Skip { reason, .. } => reason.as_str().to_string(),
        other => panic!("expected a skip, got {other:?}"),
    }
}

/// The code of an `Error`, or a panic.
pub fn failed(decision: Decision) -> String {
    match decision {
        Decision::Error { code, .. } => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Gives every invoice and sales receipt in a raw QBO document the header class `Ordoro`, so the
/// fixtures (which carry other classes or none) show the whole mapping.
pub fn mark_ordoro(doc: &mut Value) {
    let class = json!({"value": "5000000000000000001", "name": "Ordoro"});
    let mark = |txn: &mut Value| {
        if let Some(obj) = txn.as_object_mut() {
            obj.insert("ClassRef".into(), class.clone());
        }
    };
    for key in ["Invoice", "SalesReceipt"] {
        if let Some(inner) = doc.get_mut(key) {
            mark(inner);
        }
        if let Some(rows) = doc.pointer_mut(&format!("/QueryResponse/{key}")) {
            rows.as_array_mut().into_iter().flatten().for_each(mark);
        }
    }
    if let Some(items) = doc.get_mut("BatchItemResponse").and_then(Value::as_array_mut) {
        for it in items {
            for key in ["Invoice", "SalesReceipt"] {
                if let Some(rows) = it.pointer_mut(&format!("/QueryResponse/{key}")) {
                    rows.as_array_mut().into_iter().flatten().for_each(mark);
                }
            }
        }
    }
    let bare_sale = doc.get("Line").is_some() && doc.get("Id").is_some();
    if bare_sale && doc.get("VendorRef").is_none() {
        mark(doc);
    }
}

/// Every transaction of every fixture, marked `Ordoro`.
pub fn ordoro_fixture_transactions() -> Vec<(String, Transaction)> {
    let mut out = Vec::new();
    for (name, text) in qbo_fixtures() {
        let mut v: Value = serde_json::from_str(&text).unwrap();
        mark_ordoro(&mut v);
        let doc = QboDocument::from_value(v).unwrap();
        for t in doc.transactions() {
            out.push((name.clone(), t));
        }
    }
    out
}
