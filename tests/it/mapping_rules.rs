//! One test per mapping rule and per trap: lines, bundles, shipping, discounts, quantities,
//! credits, totals, voids, addresses, e-mail, notes and identity.

use qbo_ordoro::Reason;
use qbo_ordoro::mapping::{
    Decision, MappingConfig, configured_order_id, decide, is_voided, order_id_for,
};
use qbo_ordoro::model::qbo::{EntityKind, SalesTransaction, Transaction};
use serde_json::{Value, json};

use crate::support::fixtures::sales::*;

fn with_lines(lines: Vec<Value>, total: &str) -> Value {
    let mut v = sale();
    v["Line"] = Value::Array(lines);
    v["TotalAmt"] = num(d(total));
    v
}

// ---- identity -------------------------------------------------------------------------------

#[test]
fn order_ids_follow_entity_and_qbo_id() {
    assert_eq!(order_id_for(EntityKind::Invoice, "130"), "QBO-INV-130");
    assert_eq!(order_id_for(EntityKind::SalesReceipt, "11"), "QBO-SR-11");
}

#[test]
fn invoice_and_sales_receipt_sharing_an_id_get_different_order_ids() {
    let inv = created(decide(&invoice(sale()), &MappingConfig::default())).order;
    let sr = created(decide(&receipt(sale()), &MappingConfig::default())).order;
    assert_eq!(inv.order_id, "QBO-INV-501");
    assert_eq!(sr.order_id, "QBO-SR-501");
    assert_ne!(inv.order_id, sr.order_id);
}

#[test]
fn order_id_ignores_doc_number_and_cart_order_id_equals_it() {
    let mut v = sale();
    v["DocNumber"] = json!("SAME");
    let a = created(decide_invoice(v.clone())).order;
    v["Id"] = json!("502");
    let b = created(decide_invoice(v)).order;
    assert_ne!(a.order_id, b.order_id);
    assert_eq!(a.cart_order_id.as_deref(), Some(a.order_id.as_str()));
}

#[test]
fn order_id_is_stable_across_runs() {
    let a = created(decide_invoice(sale())).order;
    let b = created(decide_invoice(sale())).order;
    assert_eq!(a, b);
}

#[test]
fn configured_prefix_goes_before_the_order_id() {
    let config = MappingConfig::default().with_order_id_prefix(Some(" ACME- "));
    assert_eq!(configured_order_id(EntityKind::Invoice, "7", &config), "ACME-QBO-INV-7");
    let order = created(decide(&invoice(sale()), &config)).order;
    assert_eq!(order.order_id, "ACME-QBO-INV-501");
    assert_eq!(order.cart_order_id.as_deref(), Some("ACME-QBO-INV-501"));
    let blank = MappingConfig::default().with_order_id_prefix(Some("  "));
    assert_eq!(configured_order_id(EntityKind::Invoice, "7", &blank), "QBO-INV-7");
}

#[test]
fn missing_id_is_an_error() {
    let mut v = sale();
    v["Id"] = json!("  ");
    assert_eq!(failed(decide_invoice(v)), "missing_id");
}

#[test]
fn cart_and_order_date_come_from_config_and_txn_date() {
    let config = MappingConfig::default().with_cart(Some(4242));
    let order = created(decide(&invoice(sale()), &config)).order;
    assert_eq!(order.cart, Some(4242));
    assert_eq!(order.order_date.as_deref(), Some("2024-05-06T00:00:00Z"));
    let default = created(decide_invoice(sale())).order;
    assert_eq!(default.cart, None);
}

#[test]
fn order_date_falls_back_to_create_time() {
    let mut v = sale();
    v.as_object_mut().unwrap().remove("TxnDate");
    v["MetaData"] = json!({"CreateTime": "2024-05-07T09:30:00-07:00"});
    let order = created(decide_invoice(v)).order;
    assert_eq!(order.order_date.as_deref(), Some("2024-05-07T09:30:00-07:00"));
}

// ---- lines ----------------------------------------------------------------------------------

#[test]
fn item_lines_map_sku_name_quantity_prices_and_line_id() {
    let order = created(decide_invoice(sale())).order;
    assert_eq!(order.lines.len(), 1);
    let line = &order.lines[0];
    assert_eq!(line.product.sku, "Widget");
    assert_eq!(line.product.name, "Widget");
    assert_eq!(line.product_name.as_deref(), Some("Widget"));
    assert_eq!(line.quantity, 2);
    assert_eq!(line.item_price, Some(d("10")));
    assert_eq!(line.total_price, Some(d("20")));
    assert_eq!(line.product.price, Some(d("10")));
    assert_eq!(line.cart_orderitem_id.as_deref(), Some("1"));
}

#[test]
fn quantity_defaults_to_one_and_unit_price_derives_from_amount() {
    let v = with_lines(vec![item("1", "Consulting", None, None, 150)], "150");
    let line = &created(decide_invoice(v)).order.lines[0];
    assert_eq!(line.quantity, 1);
    assert_eq!(line.item_price, Some(d("150")));
    assert_eq!(line.total_price, Some(d("150")));
}

#[test]
fn unit_price_is_amount_over_qty_when_absent() {
    let v = with_lines(vec![item("1", "Bolt", Some(4), None, 10)], "10");
    let line = &created(decide_invoice(v)).order.lines[0];
    assert_eq!(line.quantity, 4);
    assert_eq!(line.item_price, Some(d("2.5")));
}

#[test]
fn seven_decimal_unit_prices_are_kept() {
    let v = with_lines(
        vec![item_dec("1", "Seed", Some(d("3")), Some(d("0.5306667")), d("1.59"))],
        "1.59",
    );
    let line = &created(decide_invoice(v)).order.lines[0];
    assert_eq!(line.item_price, Some(d("0.5306667")));
    assert_eq!(line.total_price, Some(d("1.59")));
}

#[test]
fn sku_falls_back_to_item_id_then_description_and_is_never_empty() {
    let mut no_name = item("1", "x", Some(1), Some(5), 5);
    no_name["SalesItemLineDetail"]["ItemRef"] = json!({"value": "88"});
    no_name["Description"] = json!("Blue paint");
    let mut blank_name = item("2", "x", Some(1), Some(5), 5);
    blank_name["SalesItemLineDetail"]["ItemRef"] = json!({"value": "89", "name": "  "});
    blank_name.as_object_mut().unwrap().remove("Description");
    let v = with_lines(vec![no_name, blank_name], "10");
    let order = created(decide_invoice(v)).order;
    assert_eq!(order.lines[0].product.sku, "88");
    assert_eq!(order.lines[0].product.name, "Blue paint");
    assert_eq!(order.lines[1].product.sku, "89");
    assert_eq!(order.lines[1].product.name, "89");
    for l in &order.lines {
        assert!(!l.product.sku.trim().is_empty() && !l.product.name.trim().is_empty());
    }
}

#[test]
fn subtotal_lines_are_dropped() {
    let v = with_lines(vec![item("1", "Widget", Some(2), Some(10), 20), subtotal(20)], "20");
    let m = created(decide_invoice(v));
    assert_eq!(m.order.lines.len(), 1);
    assert_eq!(m.order.product_amount, Some(d("20")));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn description_only_lines_go_to_internal_notes() {
    let v = with_lines(
        vec![
            text_line("1", "Gift wrap, please"),
            item("2", "Widget", Some(2), Some(10), 20),
            text_line("3", "   "),
        ],
        "20",
    );
    let order = created(decide_invoice(v)).order;
    assert_eq!(order.lines.len(), 1);
    let notes = order.internal_notes.unwrap();
    assert!(notes.contains("Gift wrap, please"), "{notes}");
}

#[test]
fn item_line_without_item_is_text_and_its_amount_is_ignored_with_a_warning() {
    let doc_line = json!({
        "Id": "2",
        "Description": "Handling note",
        "Amount": 3,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"Qty": 1}
    });
    let v = with_lines(vec![item("1", "Widget", Some(2), Some(10), 20), doc_line], "20");
    let m = created(decide_invoice(v));
    assert_eq!(m.order.lines.len(), 1);
    assert!(m.order.internal_notes.unwrap().contains("Handling note"));
    assert!(m.warnings.iter().any(|w| w.contains("no item")), "{:?}", m.warnings);
}

// ---- bundles ----------------------------------------------------------------------------------

#[test]
fn bundle_whose_header_amount_is_zero_is_flattened_into_its_items() {
    let children = vec![
        item("11", "Candy", Some(6), Some(2), 12),
        item("12", "Gift Box", Some(3), Some(5), 15),
    ];
    let v = with_lines(vec![bundle("1", "Assorted sweets", 3, 0, children), subtotal(27)], "27");
    let m = created(decide_invoice(v));
    let skus: Vec<_> = m.order.lines.iter().map(|l| l.product.sku.as_str()).collect();
    assert_eq!(skus, ["Candy", "Gift Box"]);
    assert_eq!(m.order.lines[0].quantity, 6);
    assert_eq!(m.order.product_amount, Some(d("27")));
    assert_eq!(m.order.grand_total, Some(d("27")));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn bundle_header_amount_is_not_counted_twice() {
    let children = vec![item("11", "Candy", Some(2), Some(5), 10)];
    let v = with_lines(vec![bundle("1", "Sweets", 1, 10, children)], "10");
    let m = created(decide_invoice(v));
    assert_eq!(m.order.product_amount, Some(d("10")));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn bundle_without_item_lines_ships_as_the_bundle_item() {
    let v = with_lines(vec![bundle("1", "Gift Set", 2, 40, vec![])], "40");
    let line = &created(decide_invoice(v)).order.lines[0];
    assert_eq!(line.product.sku, "Gift Set");
    assert_eq!(line.quantity, 2);
    assert_eq!(line.item_price, Some(d("20")));
}

#[test]
fn shipping_item_inside_a_bundle_is_shipping() {
    let children =
        vec![item("11", "Candy", Some(2), Some(5), 10), item("12", "UPS Ground", None, None, 4)];
    let v = with_lines(vec![bundle("1", "Sweets", 1, 0, children)], "14");
    let order = created(decide_invoice(v)).order;
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.shipping_amount, Some(d("4")));
}

// ---- shipping -------------------------------------------------------------------------------

#[test]
fn two_shipping_lines_add_up_and_name_the_method() {
    let v = with_lines(
        vec![
            item("1", "Widget", Some(2), Some(10), 20),
            item("2", "UPS Ground", Some(1), Some(7), 7),
            shipping_item_line("3.5"),
        ],
        "30.5",
    );
    let m = created(decide_invoice(v));
    assert_eq!(m.order.lines.len(), 1);
    assert_eq!(m.order.shipping_amount, Some(d("10.5")));
    assert_eq!(m.order.product_amount, Some(d("20")));
    assert_eq!(m.order.shipping_type.as_deref(), Some("UPS Ground"));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn ship_method_ref_wins_over_shipping_item_name() {
    let mut v = with_lines(
        vec![item("1", "Widget", Some(2), Some(10), 20), item("2", "FedEx 2Day", None, None, 12)],
        "32",
    );
    v["ShipMethodRef"] = json!({"value": "FedEx", "name": "FedEx Priority"});
    assert_eq!(
        created(decide_invoice(v.clone())).order.shipping_type.as_deref(),
        Some("FedEx Priority")
    );
    v["ShipMethodRef"] = json!({"value": "USPS Media"});
    assert_eq!(
        created(decide_invoice(v.clone())).order.shipping_type.as_deref(),
        Some("USPS Media")
    );
    v["ShipMethodRef"] = json!({"value": " ", "name": ""});
    assert_eq!(created(decide_invoice(v)).order.shipping_type.as_deref(), Some("FedEx 2Day"));
}

#[test]
fn qbo_shipping_item_alone_gives_amount_but_no_method() {
    let v =
        with_lines(vec![item("1", "Widget", Some(2), Some(10), 20), shipping_item_line("2")], "22");
    let order = created(decide_invoice(v)).order;
    assert_eq!(order.shipping_amount, Some(d("2")));
    assert_eq!(order.shipping_type, None);
}

#[test]
fn no_shipping_line_means_zero_shipping() {
    let order = created(decide_invoice(sale())).order;
    assert_eq!(order.shipping_amount, Some(d("0")));
    assert_eq!(order.shipping_type, None);
}

#[test]
fn sale_with_only_shipping_is_not_shippable() {
    let v = with_lines(vec![shipping_item_line("9"), text_line("1", "just postage")], "9");
    assert_eq!(skipped(decide_invoice(v)), "not_shippable");
}

#[test]
fn sale_with_no_lines_is_not_shippable() {
    let v = with_lines(vec![], "0");
    assert_eq!(skipped(decide_invoice(v)), "not_shippable");
}

#[test]
fn not_shippable_is_decided_before_the_address_is_read() {
    let mut v = with_lines(vec![flat_discount("1")], "0");
    v.as_object_mut().unwrap().remove("ShipAddr");
    v.as_object_mut().unwrap().remove("BillAddr");
    assert_eq!(skipped(decide_invoice(v)), "not_shippable");
}

// ---- discounts, tax, totals -------------------------------------------------------------------

#[test]
fn percent_discount_uses_its_amount_not_its_percent() {
    let v = with_lines(
        vec![
            item_dec("1", "Pest Control", Some(d("2")), Some(d("43.75")), d("87.5")),
            subtotal(87),
            percent_discount("10", "8.75"),
        ],
        "78.75",
    );
    let m = created(decide_invoice(v));
    assert_eq!(m.order.discount_amount, Some(d("8.75")));
    assert_eq!(m.order.grand_total, Some(d("78.75")));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn percent_discount_without_amount_is_computed_from_the_lines() {
    let mut disc = percent_discount("10", "0");
    disc.as_object_mut().unwrap().remove("Amount");
    let v = with_lines(vec![item("1", "Widget", Some(3), Some(5), 15), disc], "13.5");
    let m = created(decide_invoice(v));
    assert_eq!(m.order.discount_amount, Some(d("1.5")));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn discount_lines_add_up() {
    let v = with_lines(
        vec![item("1", "Widget", Some(2), Some(10), 20), flat_discount("2"), flat_discount("1.25")],
        "16.75",
    );
    let m = created(decide_invoice(v));
    assert_eq!(m.order.discount_amount, Some(d("3.25")));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn tax_comes_from_total_tax_and_defaults_to_zero() {
    let mut v = with_lines(vec![item("1", "Widget", Some(2), Some(10), 20)], "21.6");
    v["TxnTaxDetail"] = json!({"TotalTax": 1.6, "TxnTaxCodeRef": {"value": "2"}});
    let m = created(decide_invoice(v.clone()));
    assert_eq!(m.order.tax_amount, Some(d("1.6")));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    v.as_object_mut().unwrap().remove("TxnTaxDetail");
    v["TotalAmt"] = json!(20);
    let m = created(decide_invoice(v));
    assert_eq!(m.order.tax_amount, Some(d("0")));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn totals_that_do_not_add_up_raise_a_warning_and_keep_qbo_total() {
    let v = with_lines(vec![item("1", "Widget", Some(2), Some(10), 20)], "25");
    let m = created(decide_invoice(v));
    assert_eq!(m.order.grand_total, Some(d("25")));
    assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
    assert!(m.warnings[0].contains("do not add up"), "{}", m.warnings[0]);
    assert!(m.order.internal_notes.unwrap().contains("do not add up"));
}

#[test]
fn missing_total_is_computed_with_a_warning() {
    let mut v =
        with_lines(vec![item("1", "Widget", Some(2), Some(10), 20), shipping_item_line("5")], "0");
    v.as_object_mut().unwrap().remove("TotalAmt");
    let m = created(decide_invoice(v));
    assert_eq!(m.order.grand_total, Some(d("25")));
    assert!(m.warnings.iter().any(|w| w.contains("TotalAmt")), "{:?}", m.warnings);
}

#[test]
fn full_invoice_adds_up() {
    let mut v = with_lines(
        vec![
            item("1", "Rock Fountain", Some(1), Some(275), 275),
            item_dec("2", "Pump", Some(d("1")), Some(d("12.75")), d("12.75")),
            item_dec("3", "Concrete", Some(d("5")), Some(d("9.5")), d("47.5")),
            subtotal(335),
            percent_discount("10", "33.53"),
            shipping_item_line("15"),
        ],
        "343.54",
    );
    v["TxnTaxDetail"] = json!({"TotalTax": 26.82});
    let m = created(decide_invoice(v));
    assert_eq!(m.order.product_amount, Some(d("335.25")));
    assert_eq!(m.order.shipping_amount, Some(d("15")));
    assert_eq!(m.order.tax_amount, Some(d("26.82")));
    assert_eq!(m.order.discount_amount, Some(d("33.53")));
    assert_eq!(m.order.grand_total, Some(d("343.54")));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

// ---- quantities and credits -----------------------------------------------------------------

#[test]
fn fractional_quantity_becomes_one_unit_at_the_line_total_with_a_warning() {
    let v =
        with_lines(vec![item_dec("1", "Hours", Some(d("4.5")), Some(d("50")), d("225"))], "225");
    let m = created(decide_invoice(v));
    let line = &m.order.lines[0];
    assert_eq!(line.quantity, 1);
    assert_eq!(line.item_price, Some(d("225")));
    assert_eq!(line.total_price, Some(d("225")));
    assert_eq!(line.product.sku, "Hours");
    assert!(line.product_name.as_deref().unwrap().contains("4.5"), "{:?}", line.product_name);
    assert_eq!(m.order.product_amount, Some(d("225")));
    assert_eq!(m.warnings.len(), 1);
    assert!(m.warnings[0].contains("fractional quantity 4.5"), "{}", m.warnings[0]);
}

#[test]
fn whole_quantity_written_with_decimals_stays_whole() {
    let v = with_lines(vec![item_dec("1", "Bolt", Some(d("3.000")), Some(d("2")), d("6"))], "6");
    let m = created(decide_invoice(v));
    assert_eq!(m.order.lines[0].quantity, 3);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn negative_quantity_line_is_an_error() {
    let v = with_lines(
        vec![
            item("1", "Widget", Some(2), Some(10), 20),
            item("2", "Widget", Some(-1), Some(10), -10),
        ],
        "10",
    );
    assert_eq!(failed(decide_invoice(v)), "negative_line");
}

#[test]
fn negative_amount_credit_line_is_an_error() {
    let v = with_lines(
        vec![
            item("1", "Widget", Some(2), Some(10), 20),
            item("2", "Store credit", Some(1), Some(-5), -5),
        ],
        "15",
    );
    match decide_invoice(v) {
        Decision::Error { code, message } => {
            assert_eq!(code, Reason::NegativeLine);
            assert!(message.contains("Store credit"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn negative_shipping_or_discount_is_an_error() {
    let v = with_lines(
        vec![item("1", "Widget", Some(2), Some(10), 20), shipping_item_line("-2")],
        "18",
    );
    assert_eq!(failed(decide_invoice(v)), "negative_line");
    let v = with_lines(vec![item("1", "Widget", Some(2), Some(10), 20), flat_discount("-2")], "22");
    assert_eq!(failed(decide_invoice(v)), "negative_line");
}

#[test]
fn negative_tax_or_total_is_an_error() {
    let mut v = sale();
    v["TxnTaxDetail"] = json!({"TotalTax": -1});
    assert_eq!(failed(decide_invoice(v)), "negative_amount");
    let mut v = sale();
    v["TotalAmt"] = json!(-20);
    assert_eq!(failed(decide_invoice(v)), "negative_amount");
}

#[test]
fn huge_amounts_fail_cleanly_instead_of_overflowing() {
    let max = "50000000000000000000000000000";
    let v = with_lines(
        vec![
            item_dec("1", "A", Some(d("1")), Some(d(max)), d(max)),
            item_dec("2", "B", Some(d("1")), Some(d(max)), d(max)),
        ],
        "1",
    );
    assert_eq!(failed(decide_invoice(v)), "amount_overflow");
}

// ---- voids and zero totals --------------------------------------------------------------------

fn voided_sale() -> Value {
    let mut v = with_lines(vec![item("1", "Sod", Some(0), None, 0)], "0");
    v["PrivateNote"] = json!("Voided");
    v["TxnTaxDetail"] = json!({"TotalTax": 0});
    v["Balance"] = json!(0);
    v
}

#[test]
fn voided_invoice_is_skipped_voided() {
    assert_eq!(skipped(decide_invoice(voided_sale())), "voided");
    let mut v = voided_sale();
    v["PrivateNote"] = json!("  voided - customer cancelled");
    assert_eq!(skipped(decide_invoice(v)), "voided");
}

#[test]
fn zero_total_sale_without_the_void_note_is_an_ordinary_sale() {
    let mut v = voided_sale();
    v.as_object_mut().unwrap().remove("PrivateNote");
    v["Line"] = json!([item("1", "Replacement part", Some(1), Some(0), 0)]);
    let m = created(decide_invoice(v));
    assert_eq!(m.order.grand_total, Some(d("0")));
    assert_eq!(m.order.lines[0].quantity, 1);
    assert_eq!(m.order.lines[0].item_price, Some(d("0")));
}

#[test]
fn zero_quantity_lines_are_kept_with_a_warning() {
    let mut v = voided_sale();
    v["PrivateNote"] = json!("Free sample");
    let m = created(decide_invoice(v));
    assert_eq!(m.order.lines[0].quantity, 0);
    assert!(m.warnings.iter().any(|w| w.contains("quantity is 0")), "{:?}", m.warnings);
}

#[test]
fn note_mentioning_void_on_a_sale_with_amounts_is_ordinary() {
    let mut v = sale();
    v["PrivateNote"] = json!("Voided the old invoice 1499; this one replaces it");
    assert_eq!(decide_invoice(v).action(), "create");
}

#[test]
fn any_nonzero_amount_means_not_voided() {
    let mut v = voided_sale();
    v["TxnTaxDetail"] = json!({"TotalTax": 0.5});
    let doc: SalesTransaction = serde_json::from_value(v).unwrap();
    assert!(!is_voided(&doc));
    let mut v = voided_sale();
    v["Line"] = json!([bundle("1", "Kit", 1, 0, vec![item("11", "Part", Some(1), Some(3), 3)])]);
    let doc: SalesTransaction = serde_json::from_value(v).unwrap();
    assert!(!is_voided(&doc));
}

#[test]
fn skip_reasons_have_stable_codes() {
    let skips = [
        Reason::ClassMismatch,
        Reason::NoClass,
        Reason::Voided,
        Reason::NotShippable,
        Reason::Deleted,
        Reason::AlreadySynced,
        Reason::Unchanged,
    ];
    let codes: Vec<_> = skips.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        codes,
        [
            "class_mismatch",
            "no_class",
            "voided",
            "not_shippable",
            "deleted",
            "already_synced",
            "unchanged"
        ]
    );
    for r in skips {
        assert_eq!(r.as_str().parse::<Reason>(), Ok(r));
        assert_eq!(serde_json::to_value(r).unwrap(), json!(r.as_str()));
        assert_eq!(r.to_string(), r.as_str());
    }
    assert!("nope".parse::<Reason>().is_err());
}

/// The codes are a contract: the log of every state file, the preview's output and hosts'
/// matching rely on these strings, so none may change.
#[test]
fn every_reason_code_is_the_string_it_always_was() {
    let codes: Vec<&str> = Reason::all().map(Reason::as_str).collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "already_synced",
            "amount_overflow",
            "auth_failed",
            "class_mismatch",
            "deleted",
            "duplicate_order",
            "empty_input",
            "fractional_quantity",
            "invalid_document",
            "invalid_postal_code",
            "line_too_long",
            "missing_city_line",
            "missing_country",
            "missing_id",
            "missing_postal_code",
            "missing_state",
            "missing_street_line",
            "negative_amount",
            "negative_line",
            "no_class",
            "not_shippable",
            "order_cancelled",
            "order_dropshipped",
            "order_not_found",
            "order_shipped",
            "outcome_unknown",
            "qbo_fault",
            "rate_limited",
            "rejected",
            "service_error",
            "too_many_lines",
            "transport_error",
            "unchanged",
            "unknown_country",
            "unknown_sku",
            "unreadable_line",
            "unreadable_transaction",
            "unsupported_entity",
            "unsupported_layout",
            "voided",
        ]
    );
    for code in codes {
        assert_eq!(code.parse::<Reason>().map(Reason::as_str), Ok(code));
    }
}

// ---- addresses, e-mail, notes ---------------------------------------------------------------

#[test]
fn ship_to_from_ship_addr_and_bill_to_from_bill_addr() {
    let order = created(decide_invoice(sale())).order;
    assert_eq!(order.shipping_address.street1.as_deref(), Some("12 Main St"));
    assert_eq!(order.billing_address.street1.as_deref(), Some("400 Billing Ave"));
    for a in [&order.shipping_address, &order.billing_address] {
        assert_eq!(a.city.as_deref(), Some("Springfield"));
        assert_eq!(a.state.as_deref(), Some("IL"));
        assert_eq!(a.zip.as_deref(), Some("62701"));
        assert_eq!(a.country.as_deref(), Some("US"));
        assert_eq!(a.email.as_deref(), Some("jane@example.com"));
    }
}

#[test]
fn missing_ship_addr_falls_back_to_bill_addr() {
    let mut v = sale();
    v.as_object_mut().unwrap().remove("ShipAddr");
    let m = created(decide_invoice(v));
    assert_eq!(m.order.shipping_address.street1.as_deref(), Some("400 Billing Ave"));
    assert_eq!(m.order.billing_address, m.order.shipping_address);
}

#[test]
fn ship_addr_holding_only_an_id_counts_as_missing() {
    let mut v = sale();
    v["ShipAddr"] = json!({"Id": "3", "Lat": "INVALID", "Long": "INVALID"});
    let order = created(decide_invoice(v)).order;
    assert_eq!(order.shipping_address.street1.as_deref(), Some("400 Billing Ave"));
}

#[test]
fn missing_bill_addr_copies_the_ship_to() {
    let mut v = sale();
    v.as_object_mut().unwrap().remove("BillAddr");
    let m = created(decide_invoice(v));
    assert_eq!(m.order.billing_address.street1.as_deref(), Some("12 Main St"));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn no_address_at_all_is_an_error() {
    let mut v = sale();
    v.as_object_mut().unwrap().remove("ShipAddr");
    v.as_object_mut().unwrap().remove("BillAddr");
    assert_eq!(failed(decide_invoice(v)), "empty_input");
}

#[test]
fn unreadable_ship_to_is_an_error_with_the_parser_code() {
    let mut v = sale();
    v["ShipAddr"] = json!({"Line1": "Jane Buyer"});
    let code = failed(decide_invoice(v));
    assert!(
        ["missing_street_line", "missing_city_line", "unsupported_layout"].contains(&code.as_str()),
        "{code}"
    );
}

#[test]
fn unreadable_bill_to_falls_back_to_the_ship_to_with_a_warning() {
    let mut v = sale();
    v["BillAddr"] = json!({"Line1": "Jane Buyer"});
    let m = created(decide_invoice(v.clone()));
    assert_eq!(m.order.billing_address, m.order.shipping_address);
    assert!(m.warnings.iter().any(|w| w.contains("bill-to")), "{:?}", m.warnings);
    let strict = MappingConfig::default().with_bill_to_fallback(false);
    assert_eq!(decide(&invoice(v), &strict).action(), "error");
}

#[test]
fn first_of_several_bill_emails_is_used_on_both_addresses() {
    let mut v = sale();
    v["BillEmail"] = json!({"Address": " ap@buyer.com , jane@buyer.com"});
    let order = created(decide_invoice(v.clone())).order;
    assert_eq!(order.shipping_address.email.as_deref(), Some("ap@buyer.com"));
    assert_eq!(order.billing_address.email.as_deref(), Some("ap@buyer.com"));
    v.as_object_mut().unwrap().remove("BillEmail");
    let order = created(decide_invoice(v)).order;
    assert_eq!(order.shipping_address.email, None);
}

#[test]
fn customer_memo_and_private_note_reach_the_notes() {
    let mut v = sale();
    v["CustomerMemo"] = json!({"value": "  Leave at the back door  "});
    v["PrivateNote"] = json!("Rush order");
    let order = created(decide_invoice(v)).order;
    assert_eq!(order.notes_from_customer.as_deref(), Some("Leave at the back door"));
    let notes = order.internal_notes.unwrap();
    assert!(notes.starts_with("QuickBooks Invoice 1501"), "{notes}");
    assert!(notes.contains("Rush order"), "{notes}");
}

#[test]
fn doc_number_line_names_the_entity() {
    let order = created(decide(&receipt(sale()), &MappingConfig::default())).order;
    assert!(order.internal_notes.unwrap().starts_with("QuickBooks Sales Receipt 1501"));
    let mut v = sale();
    v.as_object_mut().unwrap().remove("DocNumber");
    let order = created(decide_invoice(v)).order;
    assert!(order.internal_notes.unwrap().contains("(id 501)"));
}

#[test]
fn empty_memo_gives_no_customer_notes() {
    let mut v = sale();
    v["CustomerMemo"] = json!({"value": "   "});
    assert_eq!(created(decide_invoice(v)).order.notes_from_customer, None);
}

#[test]
fn free_form_ship_to_lines_are_kept_in_the_notes() {
    let mut v = sale();
    v["ShipAddr"] = json!({
        "Line1": "Russ Sonnenschein",
        "Line2": "5647 Cypress Hill Ave.",
        "Line3": "Middlefield, CA  94303"
    });
    let m = created(decide_invoice(v));
    assert_eq!(m.order.shipping_address.name.as_deref(), Some("Russ Sonnenschein"));
    assert_eq!(m.order.shipping_address.city.as_deref(), Some("Middlefield"));
    assert_eq!(m.order.shipping_address.zip.as_deref(), Some("94303"));
    let notes = m.order.internal_notes.unwrap();
    assert!(
        notes.contains("Middlefield, CA  94303") || notes.contains("Middlefield, CA 94303"),
        "{notes}"
    );
}

#[test]
fn unknown_line_types_are_reported_not_lost_silently() {
    let odd = json!({"Id": "9", "Amount": 4, "DetailType": "TDSLineDetail", "TDSLineDetail": {}});
    let v = with_lines(vec![item("1", "Widget", Some(2), Some(10), 20), odd], "24");
    let m = created(decide_invoice(v));
    assert!(m.warnings.iter().any(|w| w.contains("TDSLineDetail")), "{:?}", m.warnings);
}

#[test]
fn typed_block_reads_recipient_then_company_whatever_the_display_name() {
    let mut v = sale();
    v.as_object_mut().unwrap().remove("ShipAddr");
    v["CustomerRef"] = json!({"value": "3", "name": "Cool Cars"});
    v["BillAddr"] = json!({
        "Line1": "Grace Pariente",
        "Line2": "Cool Cars",
        "Line3": "65 Ocean Dr.",
        "Line4": "Half Moon Bay, CA  94213"
    });
    let ship = created(decide_invoice(v)).order.shipping_address;
    assert_eq!(ship.name.as_deref(), Some("Grace Pariente"));
    assert_eq!(ship.company.as_deref(), Some("Cool Cars"));
    assert_eq!(ship.street1.as_deref(), Some("65 Ocean Dr."));
    assert_eq!(ship.city.as_deref(), Some("Half Moon Bay"));
    assert_eq!(ship.state.as_deref(), Some("CA"));
    assert_eq!(ship.zip.as_deref(), Some("94213"));
}

#[test]
fn structured_ship_to_takes_the_customer_as_recipient() {
    let order = created(decide_invoice(sale())).order;
    assert_eq!(order.shipping_address.name.as_deref(), Some("Jane Buyer"));
}

#[test]
fn a_date_without_an_rfc3339_form_is_left_out() {
    let mut txn = invoice(sale());
    txn.doc.txn_date = chrono::NaiveDate::from_ymd_opt(12345, 1, 1);
    let order = created(decide(&txn, &MappingConfig::default())).order;
    assert_eq!(order.order_date, None);
}

#[test]
fn a_transaction_with_unreadable_fields_is_an_error_whatever_else_it_says() {
    let stamped = |mut v: Value| {
        v["MetaData"] = json!({"LastUpdatedTime": "2024-05-06T10:00:00-07:00"});
        v
    };
    let read = |v: Value| {
        let doc = SalesTransaction::from_value_lenient(&stamped(v)).expect("an identified row");
        Transaction { kind: EntityKind::Invoice, doc }
    };
    let config = MappingConfig::default();

    let mut wrong_total = sale();
    wrong_total["TotalAmt"] = json!({"amount": 20});
    let txn = read(wrong_total);
    assert!(txn.doc.unreadable.as_deref().is_some_and(|w| w.starts_with("TotalAmt: ")));
    assert_eq!(failed(decide(&txn, &config)), Reason::UnreadableTransaction.as_str());

    // The class could not be read: an error, not a class mismatch that would hide the sale.
    let mut wrong_class = sale();
    wrong_class["ClassRef"] = json!(42);
    assert_eq!(failed(decide(&read(wrong_class), &config)), Reason::UnreadableTransaction.as_str());

    // Amounts that could not be read are not zero: such a sale is never taken for a void.
    let mut looks_voided = sale();
    looks_voided["PrivateNote"] = json!("Voided");
    looks_voided["Line"] = json!("none");
    looks_voided["TotalAmt"] = json!("twenty");
    let txn = read(looks_voided);
    assert!(!is_voided(&txn.doc));
    assert_eq!(failed(decide(&txn, &config)), Reason::UnreadableTransaction.as_str());

    // A row that reads whole is untouched.
    let whole = read(sale());
    assert_eq!(whole.doc.unreadable, None);
    assert!(matches!(decide(&whole, &config), Decision::Create(_)));
}
