//! Shipping-line detection: QBO's shipping item, whole shipping words in any case, multi-word
//! phrases, and words the host adds or replaces.

use proptest::prelude::*;
use qbo_ordoro::mapping::{MappingConfig, decide};
use qbo_ordoro::model::qbo::{Line, Ref};
use qbo_ordoro::shipping::{DEFAULT_SHIPPING_WORDS, SHIPPING_ITEM_ID, ShippingWords};
use serde_json::json;

use crate::support::fixtures::sales::*;

fn item_ref(name: Option<&str>, value: &str) -> Ref {
    Ref { value: value.into(), name: name.map(str::to_string) }
}

#[test]
fn default_words_are_ups_fedex_shipping() {
    assert_eq!(ShippingWords::default().words(), DEFAULT_SHIPPING_WORDS);
}

#[test]
fn names_with_a_shipping_word_are_shipping() {
    let w = ShippingWords::default();
    for name in [
        "UPS Ground",
        "FedEx 2Day",
        "Shipping & Handling",
        "shipping",
        "ups",
        "FEDEX",
        "Shipping:Standard",
        "Freight/UPS",
        "  Expedited   Shipping  ",
        "Shipping-Handling",
    ] {
        assert!(w.matches_name(name), "{name:?} should be shipping");
    }
}

#[test]
fn names_holding_the_letters_but_not_the_word_are_products() {
    let w = ShippingWords::default();
    for name in [
        "Coffee Cups",
        "Setup fee",
        "Groups",
        "Reshipping",
        "Shippingcontainer",
        "Cups",
        "FedExpress",
        "Fed Ex",
        "",
        "   ",
    ] {
        assert!(!w.matches_name(name), "{name:?} should not be shipping");
    }
}

#[test]
fn qbo_shipping_item_is_shipping_without_a_name() {
    let w = ShippingWords::default();
    assert!(w.is_shipping_item(&item_ref(None, SHIPPING_ITEM_ID)));
    assert!(w.is_shipping_item(&item_ref(None, " SHIPPING_ITEM_ID ")));
    assert!(!w.is_shipping_item(&item_ref(None, "42")));
    assert!(!w.is_shipping_item(&item_ref(None, "GRATUITY_ITEM_ID")));
}

#[test]
fn the_item_name_decides_not_the_description() {
    let w = ShippingWords::default();
    let line: Line = serde_json::from_value(json!({
        "Description": "Shipping included",
        "Amount": 5,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": "3", "name": "Widget"}}
    }))
    .unwrap();
    assert!(!w.is_shipping_line(&line));
    let no_name: Line = serde_json::from_value(json!({
        "Description": "UPS Ground",
        "Amount": 5,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": "3"}}
    }))
    .unwrap();
    assert!(!w.is_shipping_line(&no_name));
}

#[test]
fn only_item_lines_can_be_shipping() {
    let w = ShippingWords::default();
    let text: Line = serde_json::from_value(text_line("1", "Shipping")).unwrap();
    let discount: Line = serde_json::from_value(flat_discount("2")).unwrap();
    let group: Line = serde_json::from_value(bundle("3", "Shipping kit", 1, 0, vec![])).unwrap();
    assert!(!w.is_shipping_line(&text));
    assert!(!w.is_shipping_line(&discount));
    assert!(!w.is_shipping_line(&group));
    let ship: Line = serde_json::from_value(shipping_item_line("4")).unwrap();
    assert!(w.is_shipping_line(&ship));
}

#[test]
fn host_can_add_words_and_phrases() {
    let mut w = ShippingWords::default();
    w.add("USPS");
    w.add("Freight Out");
    assert!(w.matches_name("USPS Priority Mail"));
    assert!(w.matches_name("freight  out"));
    assert!(!w.matches_name("Freight"));
    assert!(!w.matches_name("Out Freight"));
    assert!(w.matches_name("UPS Ground"), "defaults are kept when adding");
}

#[test]
fn host_can_replace_words() {
    let w = ShippingWords::new(["DHL", "Freight"]);
    assert!(w.matches_name("DHL Express"));
    assert!(w.matches_name("Freight charge"));
    assert!(!w.matches_name("UPS Ground"));
    assert!(w.is_shipping_item(&item_ref(None, SHIPPING_ITEM_ID)), "QBO's item always is");
}

#[test]
fn configured_words_reach_the_mapping() {
    let mut v = sale();
    v["Line"] = json!([
        item("1", "Widget", Some(2), Some(10), 20),
        item("2", "DHL Express", None, None, 9),
    ]);
    v["TotalAmt"] = json!(29);
    let default = created(decide(&invoice(v.clone()), &MappingConfig::default()));
    assert_eq!(default.order.lines.len(), 2);
    let config = MappingConfig::default().add_shipping_word("DHL");
    let with_dhl = created(decide(&invoice(v.clone()), &config));
    assert_eq!(with_dhl.order.lines.len(), 1);
    assert_eq!(with_dhl.order.shipping_amount, Some(d("9")));
    let replaced = MappingConfig::default().with_shipping_words(["Widget"]);
    let widget_is_shipping = created(decide(&invoice(v), &replaced));
    assert_eq!(widget_is_shipping.order.lines[0].product.sku, "DHL Express");
    assert_eq!(replaced.shipping_words().words(), ["Widget"]);
}

proptest! {
    #![proptest_config(crate::support::props::config(256))]
    #[test]
    fn detection_ignores_case_and_surrounding_text(
        word in prop::sample::select(vec!["UPS", "FedEx", "Shipping"]),
        upper in prop::collection::vec(any::<bool>(), 8),
        before in "[A-Za-z0-9]{0,6}",
        after in "[A-Za-z0-9]{0,6}",
        sep in prop::sample::select(vec![" ", "  ", "-", "/", " & ", ":", "\t"]),
    ) {
        let w = ShippingWords::default();
        let cased: String = word
            .chars()
            .zip(upper.iter().cycle())
            .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
            .collect();
        let mut name = String::new();
        if !before.is_empty() { name.push_str(&before); name.push_str(sep); }
        name.push_str(&cased);
        if !after.is_empty() { name.push_str(sep); name.push_str(&after); }
        prop_assert!(w.matches_name(&name), "{:?}", name);
        let glued = format!("{before}{cased}{after}");
        let expect = before.is_empty() && after.is_empty();
        prop_assert_eq!(w.matches_name(&glued), expect, "{:?}", glued);
    }

    #[test]
    fn detection_never_panics(name in "\\PC{0,40}", words in prop::collection::vec("\\PC{0,12}", 0..4)) {
        let w = ShippingWords::new(&words);
        // A name matches only when every letter-and-digit run of one word (or phrase) is among
        // the name's own runs, ignoring case.
        let runs = |s: &str| -> Vec<String> {
            s.split(|c: char| !c.is_alphanumeric()).filter(|r| !r.is_empty()).map(str::to_lowercase).collect()
        };
        let name_runs = runs(&name);
        let some_word_in_name = words.iter().map(|word| runs(word)).any(|word| {
            !word.is_empty() && word.iter().all(|r| name_runs.contains(r))
        });
        prop_assert!(!w.matches_name(&name) || some_word_in_name || words.is_empty(), "{:?} matched {:?}", name, words);
    }
}
