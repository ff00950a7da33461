//! The class filter: header class, per-line classes (bundles included), sub-class leaves, names
//! and ids, case and spaces, and the skip reason codes it leads to.

use qbo_ordoro::Reason;
use qbo_ordoro::class_filter::{ClassFilter, ClassSource, ClassVerdict};
use qbo_ordoro::mapping::{Decision, MappingConfig, decide};
use qbo_ordoro::model::qbo::{Ref, SalesTransaction};
use serde_json::{Value, json};

use crate::support::fixtures::sales::*;

fn doc(v: Value) -> SalesTransaction {
    serde_json::from_value(v).unwrap()
}

fn with_header_class(name: Option<&str>, id: &str) -> Value {
    let mut s = sale();
    s["ClassRef"] = match name {
        Some(n) => json!({"value": id, "name": n}),
        None => json!({"value": id}),
    };
    s
}

fn without_header_class(lines: Vec<Value>) -> Value {
    let mut s = sale();
    s.as_object_mut().unwrap().remove("ClassRef");
    s["Line"] = Value::Array(lines);
    s
}

#[test]
fn default_filter_accepts_ordoro_in_any_case_and_spacing() {
    let f = ClassFilter::default();
    for name in ["Ordoro", "ordoro", "  ORDORO  ", "\tOrDoRo\n"] {
        let r = Ref { value: "1".into(), name: Some(name.into()) };
        assert!(f.accepts(&r), "{name:?}");
    }
    let other = Ref { value: "1".into(), name: Some("Ordoro Retail".into()) };
    assert!(!f.accepts(&other));
}

#[test]
fn sub_class_leaf_matches() {
    let v = with_header_class(Some("Wholesale:Ordoro"), "77");
    let verdict = ClassFilter::default().check(&doc(v));
    assert_eq!(
        verdict,
        ClassVerdict::Accepted { class: "Wholesale:Ordoro".into(), source: ClassSource::Header }
    );
}

#[test]
fn parent_of_a_sub_class_does_not_match() {
    let v = with_header_class(Some("Ordoro:Returns"), "78");
    assert_eq!(skipped(decide_invoice(v)), "class_mismatch");
}

#[test]
fn header_class_of_another_name_is_class_mismatch_with_detail() {
    let v = with_header_class(Some("Infusionsoft"), "79");
    match decide_invoice(v) {
        Decision::Skip { reason, detail } => {
            assert_eq!(reason, Reason::ClassMismatch);
            assert!(detail.contains("Infusionsoft"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn configured_classes_replace_the_default() {
    let config = MappingConfig::default().with_classes(["Infusionsoft"]);
    let infusion = invoice(with_header_class(Some("infusionsoft "), "79"));
    let ordoro = invoice(sale());
    assert_eq!(decide(&infusion, &config).action(), "create");
    assert!(matches!(
        decide(&ordoro, &config),
        Decision::Skip { reason: Reason::ClassMismatch, .. }
    ));
}

#[test]
fn class_id_matches_even_without_a_name() {
    let v = with_header_class(None, "5000000000000000042");
    assert_eq!(skipped(decide_invoice(v.clone())), "class_mismatch");
    let config = MappingConfig::default().add_class_id("5000000000000000042");
    assert_eq!(decide(&invoice(v), &config).action(), "create");
}

#[test]
fn class_id_matches_when_the_class_was_renamed() {
    let v = with_header_class(Some("Ordoro (old)"), "5000000000000000042");
    let config = MappingConfig::default().with_class_ids(["5000000000000000042"]);
    assert_eq!(decide(&invoice(v), &config).action(), "create");
}

#[test]
fn no_class_anywhere_is_no_class() {
    let v = without_header_class(vec![item("1", "Widget", Some(2), Some(10), 20)]);
    assert_eq!(skipped(decide_invoice(v)), "no_class");
}

#[test]
fn blank_header_class_counts_as_no_class() {
    let mut v = without_header_class(vec![item("1", "Widget", Some(2), Some(10), 20)]);
    v["ClassRef"] = json!({"value": " ", "name": ""});
    assert_eq!(skipped(decide_invoice(v)), "no_class");
}

#[test]
fn per_line_class_makes_the_whole_sale_ship_every_line_kept() {
    let v = without_header_class(vec![
        with_line_class(item("1", "Widget", Some(1), Some(5), 5), "Ordoro", "301"),
        with_line_class(item("2", "Gadget", Some(1), Some(7), 7), "Retail", "302"),
        item("3", "Gizmo", Some(1), Some(8), 8),
    ]);
    let order = created(decide_invoice(v)).order;
    let skus: Vec<_> = order.lines.iter().map(|l| l.product.sku.as_str()).collect();
    assert_eq!(skus, ["Widget", "Gadget", "Gizmo"]);
}

#[test]
fn per_line_classes_none_accepted_is_class_mismatch() {
    let v = without_header_class(vec![
        with_line_class(item("1", "Widget", Some(2), Some(10), 20), "Retail", "302"),
        with_line_class(item("2", "Gadget", Some(1), Some(0), 0), "Retail", "302"),
    ]);
    match ClassFilter::default().check(&doc(v.clone())) {
        ClassVerdict::Mismatch { found } => assert_eq!(found, ["Retail"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(skipped(decide_invoice(v)), "class_mismatch");
}

#[test]
fn per_line_class_inside_a_bundle_counts() {
    let children = vec![
        with_line_class(item("11", "Candy", Some(3), Some(2), 6), "Sales:Ordoro", "303"),
        item("12", "Box", Some(1), Some(14), 14),
    ];
    let v = without_header_class(vec![bundle("1", "Sweets", 1, 0, children)]);
    let verdict = ClassFilter::default().check(&doc(v.clone()));
    assert_eq!(
        verdict,
        ClassVerdict::Accepted { class: "Sales:Ordoro".into(), source: ClassSource::Line }
    );
    assert_eq!(created(decide_invoice(v)).order.lines.len(), 2);
}

#[test]
fn header_class_alone_decides_whatever_the_lines_carry() {
    let mut v = with_header_class(Some("Retail"), "302");
    v["Line"] =
        json!([with_line_class(item("1", "Widget", Some(2), Some(10), 20), "Ordoro", "301")]);
    assert_eq!(skipped(decide_invoice(v)), "class_mismatch");

    let mut v = sale();
    v["Line"] =
        json!([with_line_class(item("1", "Widget", Some(2), Some(10), 20), "Retail", "302")]);
    assert_eq!(decide_invoice(v).action(), "create");
}

#[test]
fn classes_on_discount_lines_are_not_item_classes() {
    let mut discount = flat_discount("1");
    discount["DiscountLineDetail"]["ClassRef"] = json!({"value": "301", "name": "Ordoro"});
    let v = without_header_class(vec![item("1", "Widget", Some(2), Some(10), 20), discount]);
    assert_eq!(skipped(decide_invoice(v)), "no_class");
}

#[test]
fn class_mismatch_comes_before_voided_and_voided_before_not_shippable() {
    let mut voided = sale();
    voided["PrivateNote"] = json!("Voided");
    voided["TotalAmt"] = json!(0);
    voided["Line"] = json!([item("1", "Widget", Some(0), None, 0)]);
    assert_eq!(skipped(decide_invoice(voided.clone())), "voided");

    let mut other_class = voided.clone();
    other_class["ClassRef"] = json!({"value": "9", "name": "Retail"});
    assert_eq!(skipped(decide_invoice(other_class)), "class_mismatch");
}

#[test]
fn blank_names_and_ids_are_not_accepted() {
    let mut f = ClassFilter::with_names(["", "  ", "Ordoro"]);
    f.add_id("  ");
    assert_eq!(f.names(), ["ordoro"]);
    assert!(f.ids().is_empty());
    assert!(!f.accepts(&Ref { value: "".into(), name: Some(" ".into()) }));
}
