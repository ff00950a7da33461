//! Every order body the mapping creates in the tests validates against Ordoro's `post_order_v1`
//! schema (with its `v1_address` and `v1_order_line_product` references inlined under
//! `components.schemas`), so Ordoro's `additionalProperties: false` never rejects one.

use std::sync::LazyLock;

use proptest::prelude::*;
use qbo_ordoro::mapping::{Decision, MappingConfig, decide};
use qbo_ordoro::model::ordoro::NewOrder;
use qbo_ordoro::model::qbo::Transaction;
use serde_json::{Value, json};

use crate::support::fixtures::post_order_validator;
use crate::support::fixtures::sales::*;

static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(post_order_validator);

fn schema_errors(order: &NewOrder) -> Vec<String> {
    let body = serde_json::to_value(order).unwrap();
    VALIDATOR.iter_errors(&body).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

fn assert_valid(label: &str, order: &NewOrder) {
    let errors = schema_errors(order);
    assert!(errors.is_empty(), "{label}: {errors:?}\n{}", serde_json::to_string(order).unwrap());
}

#[test]
fn the_schema_rejects_what_ordoro_rejects() {
    let mut bad = serde_json::to_value(created(decide_invoice(sale())).order).unwrap();
    bad["requested_shipping_method"] = json!("UPS");
    assert!(!VALIDATOR.is_valid(&bad), "unknown top-level field");
    let mut bad = serde_json::to_value(created(decide_invoice(sale())).order).unwrap();
    bad["lines"][0]["product"].as_object_mut().unwrap().remove("sku");
    assert!(!VALIDATOR.is_valid(&bad), "line product without sku");
    let mut bad = serde_json::to_value(created(decide_invoice(sale())).order).unwrap();
    bad["grand_total"] = json!("20.00");
    assert!(!VALIDATOR.is_valid(&bad), "amount as a string");
    let mut bad = serde_json::to_value(created(decide_invoice(sale())).order).unwrap();
    bad["order_date"] = json!("yesterday");
    assert!(!VALIDATOR.is_valid(&bad), "order_date not a date-time");
}

#[test]
fn every_fixture_marked_ordoro_that_creates_validates() {
    let mut created_count = 0;
    for (name, txn) in ordoro_fixture_transactions() {
        let config = MappingConfig::default().with_cart(Some(7)).with_order_id_prefix(Some("ACME"));
        if let Decision::Create(m) = decide(&txn, &config) {
            created_count += 1;
            assert_valid(&name, &m.order);
        }
    }
    assert!(created_count >= 5, "only {created_count} fixtures created an order");
}

/// Sales covering every rule: bundles, shipping, discounts, fractions, text lines, fallbacks.
fn rule_sales() -> Vec<(&'static str, Transaction)> {
    let lines = |ls: Vec<Value>, total: &str| {
        let mut v = sale();
        v["Line"] = Value::Array(ls);
        v["TotalAmt"] = num(d(total));
        v
    };
    let mut no_ship = sale();
    no_ship.as_object_mut().unwrap().remove("ShipAddr");
    let mut no_email = sale();
    no_email.as_object_mut().unwrap().remove("BillEmail");
    no_email.as_object_mut().unwrap().remove("TxnDate");
    no_email["ShipMethodRef"] = json!({"value": "Freight"});
    let mut bad_bill = sale();
    bad_bill["BillAddr"] = json!({"Line1": "Only a name"});
    vec![
        ("plain", invoice(sale())),
        ("receipt", receipt(sale())),
        (
            "bundle",
            invoice(lines(
                vec![bundle(
                    "1",
                    "Kit",
                    2,
                    0,
                    vec![
                        item("11", "A", Some(2), Some(3), 6),
                        item("12", "B", Some(4), Some(1), 4),
                    ],
                )],
                "10",
            )),
        ),
        (
            "shipping_and_discount",
            invoice(lines(
                vec![
                    item("1", "Widget", Some(2), Some(10), 20),
                    item("2", "UPS Ground", None, None, 8),
                    shipping_item_line("2"),
                    percent_discount("10", "2"),
                    text_line("3", "Thanks!"),
                ],
                "28",
            )),
        ),
        (
            "fraction",
            invoice(lines(
                vec![item_dec("1", "Hours", Some(d("4.5")), Some(d("50")), d("225"))],
                "225",
            )),
        ),
        ("no_ship_addr", invoice(no_ship)),
        ("no_email_no_date", invoice(no_email)),
        ("bad_bill_addr", invoice(bad_bill)),
        ("mismatch", invoice(lines(vec![item("1", "Widget", Some(1), Some(5), 5)], "9"))),
    ]
}

#[test]
fn every_rule_sale_creates_a_valid_body() {
    for (name, txn) in rule_sales() {
        let config = MappingConfig::default();
        let m = created(decide(&txn, &config));
        assert_valid(name, &m.order);
    }
}

proptest! {
    #![proptest_config(crate::support::props::config(64))]

    #[test]
    fn generated_sales_create_valid_bodies(
        qtys in prop::collection::vec(0i64..50, 1..6),
        cents in prop::collection::vec(0i64..100_000, 6),
        ship_cents in 0i64..5_000,
        name in "[A-Za-z0-9 &'-]{1,24}",
        receipt_kind in any::<bool>(),
    ) {
        let mut ls = Vec::new();
        let mut total = 0i64;
        for (i, q) in qtys.iter().enumerate() {
            let unit = cents[i];
            total += q * unit;
            ls.push(item_dec(
                &(i + 1).to_string(),
                &format!("{name} {i}"),
                Some((*q).into()),
                Some(rust_decimal::Decimal::new(unit, 2)),
                rust_decimal::Decimal::new(q * unit, 2),
            ));
        }
        ls.push(shipping_item_line(&rust_decimal::Decimal::new(ship_cents, 2).to_string()));
        total += ship_cents;
        let mut v = sale();
        v["Line"] = Value::Array(ls);
        v["TotalAmt"] = num(rust_decimal::Decimal::new(total, 2));
        let txn = if receipt_kind { receipt(v) } else { invoice(v) };
        let m = created(decide(&txn, &MappingConfig::default()));
        let errors = schema_errors(&m.order);
        prop_assert!(errors.is_empty(), "{:?}", errors);
    }
}
