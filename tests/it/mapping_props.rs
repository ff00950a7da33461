//! Properties of the mapping: sales whose parts add up map to orders whose parts add up to the
//! same total with no warning; money is never lost on quantities; accepted classes match in any
//! spelling; and no input, however malformed, makes the mapping panic.

use proptest::prelude::*;
use qbo_ordoro::class_filter::ClassFilter;
use qbo_ordoro::fuzz;
use qbo_ordoro::mapping::preview::preview_json;
use qbo_ordoro::mapping::{Decision, MappingConfig, decide};
use qbo_ordoro::model::qbo::Ref;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::support::fixtures::sales::*;
use crate::support::fixtures::{qbo_fixtures, qbo_fixtures_dir};

/// One generated product line: whole quantity, unit price in cents.
#[derive(Debug, Clone)]
struct Product {
    qty: i64,
    unit_cents: i64,
    in_bundle: bool,
}

fn product() -> impl Strategy<Value = Product> {
    (1i64..40, 0i64..200_000, any::<bool>()).prop_map(|(qty, unit_cents, in_bundle)| Product {
        qty,
        unit_cents,
        in_bundle,
    })
}

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

/// A sale of the given parts, its `TotalAmt` the exact sum; returns the sale and that total.
fn sale_of(
    products: &[Product],
    shipping: &[i64],
    discounts: &[i64],
    tax: i64,
) -> (Value, Decimal) {
    let mut lines = Vec::new();
    let mut bundle_children = Vec::new();
    let mut total = 0i64;
    for (i, p) in products.iter().enumerate() {
        let line = item_dec(
            &(i + 1).to_string(),
            &format!("SKU-{i}"),
            Some(p.qty.into()),
            Some(cents(p.unit_cents)),
            cents(p.qty * p.unit_cents),
        );
        total += p.qty * p.unit_cents;
        if p.in_bundle { bundle_children.push(line) } else { lines.push(line) }
    }
    if !bundle_children.is_empty() {
        lines.push(bundle("90", "Kit", 1, 0, bundle_children));
    }
    lines.push(subtotal(0));
    for (i, s) in shipping.iter().enumerate() {
        lines.push(if i % 2 == 0 {
            shipping_item_line(&cents(*s).to_string())
        } else {
            item_dec(&format!("s{i}"), "FedEx Ground", None, None, cents(*s))
        });
        total += s;
    }
    total += tax;
    let mut discount_total = 0;
    for disc in discounts {
        let disc = (*disc).min(total - discount_total);
        lines.push(flat_discount(&cents(disc).to_string()));
        discount_total += disc;
    }
    total -= discount_total;
    let mut v = sale();
    v["Line"] = Value::Array(lines);
    v["TxnTaxDetail"] = json!({"TotalTax": num(cents(tax))});
    v["TotalAmt"] = num(cents(total));
    (v, cents(total))
}

proptest! {
    #![proptest_config(crate::support::props::config(256))]

    #[test]
    fn parts_that_add_up_give_an_order_that_adds_up_without_warning(
        products in prop::collection::vec(product(), 1..8),
        shipping in prop::collection::vec(0i64..10_000, 0..3),
        discounts in prop::collection::vec(0i64..5_000, 0..2),
        tax in 0i64..20_000,
        as_receipt in any::<bool>(),
    ) {
        let (v, total) = sale_of(&products, &shipping, &discounts, tax);
        let txn = if as_receipt { receipt(v) } else { invoice(v) };
        let m = created(decide(&txn, &MappingConfig::default()));
        let o = &m.order;
        let parts = o.product_amount.unwrap() + o.shipping_amount.unwrap() + o.tax_amount.unwrap()
            - o.discount_amount.unwrap();
        prop_assert_eq!(parts, o.grand_total.unwrap());
        prop_assert_eq!(o.grand_total.unwrap(), total);
        prop_assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        prop_assert_eq!(o.lines.len(), products.len());
        let line_sum: Decimal = o.lines.iter().map(|l| l.item_price.unwrap() * Decimal::from(l.quantity)).sum();
        prop_assert_eq!(line_sum, o.product_amount.unwrap());
        let qty_sum: i64 = o.lines.iter().map(|l| l.quantity).sum();
        prop_assert_eq!(qty_sum, products.iter().map(|p| p.qty).sum::<i64>());
    }

    #[test]
    fn fractional_quantities_never_lose_money(
        tenths in prop::collection::vec(1i64..400, 1..6),
        unit_cents in prop::collection::vec(1i64..50_000, 6),
    ) {
        let mut lines = Vec::new();
        let mut total = Decimal::ZERO;
        for (i, t) in tenths.iter().enumerate() {
            let qty = Decimal::new(*t, 1);
            let unit = cents(unit_cents[i]);
            let amount = qty * unit;
            total += amount;
            lines.push(item_dec(&i.to_string(), &format!("Svc {i}"), Some(qty), Some(unit), amount));
        }
        let mut v = sale();
        v["Line"] = Value::Array(lines);
        v["TotalAmt"] = num(total);
        let m = created(decide_invoice(v));
        let line_sum: Decimal = m.order.lines.iter().map(|l| l.item_price.unwrap() * Decimal::from(l.quantity)).sum();
        prop_assert_eq!(line_sum, total);
        prop_assert_eq!(m.order.grand_total.unwrap(), total);
        let fractional = tenths.iter().filter(|t| *t % 10 != 0).count();
        prop_assert_eq!(m.warnings.len(), fractional, "{:?}", m.warnings);
        prop_assert!(m.warnings.iter().all(|w| w.contains("fractional quantity")));
    }

    #[test]
    fn accepted_class_matches_in_any_case_spacing_and_as_a_leaf(
        class in "[A-Za-z][A-Za-z0-9 ]{0,15}",
        parent in prop::option::of("[A-Za-z][A-Za-z0-9]{0,8}"),
        pad_left in " {0,3}",
        pad_right in " {0,3}",
        upper in any::<bool>(),
    ) {
        let filter = ClassFilter::with_names([class.as_str()]);
        let shown = if upper { class.to_uppercase() } else { class.to_lowercase() };
        let full = match &parent {
            Some(p) => format!("{pad_left}{p}:{shown}{pad_right}"),
            None => format!("{pad_left}{shown}{pad_right}"),
        };
        let class_ref = Ref { value: "1".into(), name: Some(full.clone()) };
        prop_assert!(filter.accepts(&class_ref), "{:?}", full);
    }

    #[test]
    fn deciding_is_deterministic(products in prop::collection::vec(product(), 1..4), tax in 0i64..500) {
        let (v, _) = sale_of(&products, &[250], &[], tax);
        let a = decide_invoice(v.clone());
        let b = decide_invoice(v);
        prop_assert_eq!(a, b);
    }
}

/// QBO-flavoured keys, so random documents reach deep into the decoder and the mapping.
const KEYS: &[&str] = &[
    "Id",
    "DocNumber",
    "TxnDate",
    "ClassRef",
    "CustomerRef",
    "ShipAddr",
    "BillAddr",
    "BillEmail",
    "Address",
    "Line",
    "Amount",
    "DetailType",
    "SalesItemLineDetail",
    "GroupLineDetail",
    "DiscountLineDetail",
    "SubTotalLineDetail",
    "DescriptionLineDetail",
    "ItemRef",
    "Qty",
    "UnitPrice",
    "value",
    "name",
    "Line1",
    "Line2",
    "Line3",
    "City",
    "CountrySubDivisionCode",
    "PostalCode",
    "Country",
    "TotalAmt",
    "TxnTaxDetail",
    "TotalTax",
    "PrivateNote",
    "CustomerMemo",
    "ShipMethodRef",
    "GroupItemRef",
    "Quantity",
    "PercentBased",
    "DiscountPercent",
    "Description",
    "QueryResponse",
    "Invoice",
    "SalesReceipt",
    "Fault",
    "CDCResponse",
    "BatchItemResponse",
    "status",
    "MetaData",
    "SyncToken",
];

const WORDS: &[&str] = &[
    "Ordoro",
    "SHIPPING_ITEM_ID",
    "SalesItemLineDetail",
    "GroupLineDetail",
    "DiscountLineDetail",
    "DescriptionOnly",
    "SubTotalLineDetail",
    "Voided",
    "UPS Ground",
    "Chicago, IL  60601",
    "12 Main St",
    "Canada",
    "USA",
    "2024-01-31",
    "",
    " ",
    "Deleted",
];

fn qbo_json() -> impl Strategy<Value = Value> {
    crate::support::props::json_tree(KEYS, WORDS)
}

proptest! {
    #![proptest_config(crate::support::props::config(512))]

    #[test]
    fn no_json_document_makes_the_mapping_panic(doc in qbo_json(), wrap in 0u8..3) {
        let doc = match wrap {
            0 => doc,
            1 => json!({"Invoice": doc}),
            _ => json!({"QueryResponse": {"SalesReceipt": [doc]}}),
        };
        let text = doc.to_string();
        let _ = fuzz::qbo_transaction(text.as_bytes());
        // JSON always previews (an unreadable document as one error line), and every line is a
        // decision the preview's contract names.
        let preview = preview_json(&text, &MappingConfig::default().with_classes(["Ordoro", ""]));
        prop_assert!(preview.is_ok(), "{:?}", preview.err());
        for line in preview.unwrap_or_default() {
            let v = serde_json::to_value(&line).unwrap_or_default();
            let decision = v["decision"].as_str();
            prop_assert!(matches!(decision, Some("create" | "skip" | "error")), "{}", v);
        }
    }

    #[test]
    fn no_field_values_make_a_sale_panic(
        overrides in prop::collection::vec((prop::sample::select(KEYS), qbo_json()), 0..6),
        line_overrides in prop::collection::vec((prop::sample::select(KEYS), qbo_json()), 0..4),
    ) {
        let mut v = sale();
        v["Line"] = json!([item("1", "Widget", Some(2), Some(10), 20), shipping_item_line("3")]);
        for (k, val) in line_overrides {
            v["Line"][0][k] = val;
        }
        for (k, val) in overrides {
            v[k] = val;
        }
        let text = json!({"Invoice": v}).to_string();
        let n = fuzz::qbo_transaction(text.as_bytes());
        prop_assert!(n <= 1);
    }

    #[test]
    fn any_bytes_are_survived(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let n = fuzz::qbo_transaction(&bytes);
        prop_assert!(n == 0 || std::str::from_utf8(&bytes).is_ok());
    }
}

#[test]
fn extreme_amounts_give_a_decision_not_a_panic() {
    for amount in ["79228162514264337593543950335", "-79228162514264337593543950335", "1e-28"] {
        let mut v = sale();
        v["Line"] = json!([{
            "Id": "1",
            "Amount": serde_json::from_str::<Value>(amount).unwrap(),
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": "1", "name": "X"}, "Qty": 0.0000001}
        }]);
        let text = json!({"Invoice": v}).to_string();
        let _ = fuzz::qbo_transaction(text.as_bytes());
    }
    let mut v = sale();
    v["Line"] =
        json!([item_dec("1", "X", Some(d("0.0000000000000000000000000001")), None, d("1"))]);
    let d = decide_invoice(v);
    assert!(matches!(d, Decision::Create(_) | Decision::Error { .. }), "{d:?}");
}

#[test]
fn fuzz_body_counts_the_transactions_it_decided() {
    for (_, text) in qbo_fixtures() {
        let _ = fuzz::qbo_transaction(text.as_bytes());
    }
    let query = std::fs::read_to_string(
        qbo_fixtures_dir().join("intuitdocs_invoice_query_response_239.json"),
    )
    .unwrap();
    assert_eq!(fuzz::qbo_transaction(query.as_bytes()), 1);
    assert_eq!(fuzz::qbo_transaction(b"\xff\xfe"), 0);
    assert_eq!(fuzz::qbo_transaction(b"{}"), 0);
}

#[test]
fn fuzz_seed_corpus_runs_through_the_fuzz_body() {
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .join("fuzz/corpus/qbo_transaction");
    let mut seeds = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let decided = fuzz::qbo_transaction(&bytes);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with("_ordoro.json") {
            assert!(decided >= 1, "{name}");
        }
        seeds += 1;
    }
    assert!(seeds >= 16, "only {seeds} seeds");
}
