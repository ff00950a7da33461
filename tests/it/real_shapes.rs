//! Issue 13: QBO documents as real companies' data has them. Scalars in unexpected shapes, lines
//! that must never vanish, the delete shape, sales in another currency, and the property that no
//! readable line is lost between the QBO document and the order.

use proptest::prelude::*;
use qbo_ordoro::Reason;
use qbo_ordoro::mapping::preview::preview_json;
use qbo_ordoro::mapping::{MappingConfig, decide};
use qbo_ordoro::model::qbo::{EntityKind, LineDetail, QboDocument, SalesTransaction, Transaction};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::support::fixtures::sales::*;

/// A sale in the shapes real documents show: empty dates, integer ids, numbers as text, booleans
/// as text, nulls, one line object instead of a list, unknown enum values.
fn odd_scalar_sale() -> Value {
    let mut v = sale();
    v["ShipDate"] = json!("");
    v["DueDate"] = json!("");
    v["TxnDate"] = json!("2024-05-06");
    v["Deposit"] = json!("");
    v["Balance"] = json!(null);
    v["AllowOnlinePayment"] = json!("false");
    v["ApplyTaxAfterDiscount"] = json!("true");
    v["PrintStatus"] = json!(7);
    v["EmailStatus"] = json!("SOMETHING_NEW");
    v["GlobalTaxCalculation"] = json!(null);
    v["LinkedTxn"] = json!({"TxnId": 123, "TxnType": "Estimate", "TxnLineId": 0});
    v["CustomField"] = json!([{"DefinitionId": 1, "Name": "Crew #", "Type": "StringType"}, "x"]);
    v["SalesTermRef"] = json!("Net 30");
    v["DeliveryInfo"] = json!({"DeliveryType": "Email", "DeliveryTime": ""});
    v["MetaData"] = json!({"CreateTime": "", "LastUpdatedTime": "2024-05-06T10:00:00-07:00"});
    v["TxnTaxDetail"] = json!({"TotalTax": "1.50", "TxnTaxCodeRef": 2, "TaxLine": {"Amount": 1.5}});
    v["TotalAmt"] = json!("21.50");
    v["Line"] = json!({
        "Id": 1, "LineNum": "1", "Description": "Widget", "Amount": "20.00",
        "LinkedTxn": [{"TxnId": 100, "TxnType": "Estimate", "TxnLineId": 0}],
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {
            "ItemRef": {"value": 5, "name": "Widget"}, "Qty": "2", "UnitPrice": "10.00",
            "ServiceDate": "", "TaxCodeRef": "TAX", "ItemAccountRef": null,
            "TaxInclusiveAmt": "n/a", "DiscountRate": {}
        }
    });
    v
}

#[test]
fn odd_scalars_read_as_absent_or_converted_and_the_sale_ships() {
    let txn = invoice(odd_scalar_sale());
    assert_eq!(txn.doc.unreadable, None);
    let doc = &txn.doc;
    assert_eq!((doc.ship_date, doc.due_date, doc.deposit, doc.balance), (None, None, None, None));
    assert_eq!(doc.allow_online_payment, Some(false));
    assert_eq!(doc.linked_txn[0].txn_id, "123");
    assert_eq!(doc.linked_txn[0].txn_line_id.as_deref(), Some("0"));
    assert_eq!(doc.custom_field.len(), 1, "the element that is no custom field is left out");
    assert_eq!(doc.sales_term_ref, None, "a scalar is no reference");
    let LineDetail::SalesItem(detail) = &doc.line[0].detail else { panic!("{:?}", doc.line) };
    assert_eq!(detail.item_ref.as_ref().map(|r| r.value.as_str()), Some("5"));
    assert_eq!((detail.qty, detail.unit_price), (Some(d("2")), Some(d("10"))));
    assert_eq!(detail.service_date, None);

    let order = created(decide(&txn, &MappingConfig::default())).order;
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.lines[0].quantity, 2);
    assert_eq!(order.lines[0].item_price, Some(d("10")));
    assert_eq!((order.tax_amount, order.grand_total), (Some(d("1.5")), Some(d("21.5"))));
}

#[test]
fn each_odd_shape_alone_still_reads_the_whole_page() {
    let odd: [(&str, Value); 6] = [
        ("ShipDate", json!("")),
        ("DueDate", json!("not a date")),
        ("LinkedTxn", json!([{"TxnId": 1, "TxnLineId": 0}])),
        ("Deposit", json!({"amount": 1})),
        ("PrintStatus", json!(["x"])),
        ("ShipFromAddr", json!("warehouse")),
    ];
    for (field, value) in odd {
        let mut v = sale();
        v["MetaData"] = json!({"LastUpdatedTime": "2024-05-06T10:00:00-07:00"});
        v[field] = value;
        let page = json!({"QueryResponse": {"Invoice": [v]}});
        let QboDocument::Query(q) = QboDocument::from_value(page).unwrap() else { panic!() };
        let row = &q.query_response.transactions(EntityKind::Invoice)[0];
        assert_eq!(row.unreadable, None, "{field}");
        assert_eq!(row.line.len(), 2, "{field}");
    }
}

#[test]
fn a_product_line_with_an_odd_unneeded_field_is_never_dropped() {
    // Before issue 13 an empty ServiceDate made the line unreadable, its amount was left out
    // with a warning, and the sale was skipped as not_shippable.
    let mut v = sale();
    v["Line"][0]["SalesItemLineDetail"]["ServiceDate"] = json!("");
    v["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] = json!(5);
    let order = created(decide(&invoice(v), &MappingConfig::default())).order;
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.product_amount, Some(d("20")));
}

#[test]
fn a_line_that_matters_and_cannot_be_read_fails_the_sale_naming_it() {
    let config = MappingConfig::default();
    let bad = |line: Value| {
        let mut v = sale();
        v["Line"] = json!([item("1", "Widget", Some(2), Some(10), 20), line]);
        v["TotalAmt"] = json!(45);
        (failed(decide(&invoice(v.clone()), &config)), decide(&invoice(v), &config))
    };
    let mut product = item("7", "Gadget", Some(1), Some(25), 25);
    product["LineNum"] = json!(2);
    product["Amount"] = json!("twenty-five");
    let (code, decision) = bad(product);
    assert_eq!(code, Reason::UnreadableLine.as_str());
    let qbo_ordoro::mapping::Decision::Error { message, .. } = decision else { panic!() };
    for part in ["line 2 of the sale", "LineNum 2", "Id 7", "Gadget description", "Amount: "] {
        assert!(message.contains(part), "{part} missing: {message}");
    }

    let mut qty = item("8", "Gadget", Some(1), Some(25), 25);
    qty["SalesItemLineDetail"]["Qty"] = json!({"value": 1});
    assert_eq!(bad(qty).0, Reason::UnreadableLine.as_str());
    let mut shipping = shipping_item_line("25");
    shipping["Amount"] = json!([25]);
    assert_eq!(bad(shipping).0, Reason::UnreadableLine.as_str());
    let mut discount = flat_discount("5");
    discount["DiscountLineDetail"] = json!("five");
    assert_eq!(bad(discount).0, Reason::UnreadableLine.as_str());
    let mut inner = item("9", "Inner", Some(1), Some(25), 25);
    inner["SalesItemLineDetail"]["ItemRef"] = json!("9");
    let (code, decision) = bad(bundle("10", "Kit", 1, 0, vec![inner]));
    assert_eq!(code, Reason::UnreadableLine.as_str());
    assert!(format!("{decision:?}").contains("of its bundle"), "{decision:?}");
    assert_eq!(bad(json!("a line")).0, Reason::UnreadableLine.as_str());

    // A subtotal carries neither goods nor money: an odd one is not worth failing the sale.
    let mut v = sale();
    v["Line"][1]["Amount"] = json!("lots");
    assert_eq!(created(decide(&invoice(v), &config)).order.lines.len(), 1);
}

#[test]
fn the_delete_shape_is_a_delete_wherever_it_appears() {
    let stub = json!({"status": "Deleted", "domain": "QBO", "Id": "33"});
    let docs = [
        json!({"Invoice": stub, "time": "2015-05-26T13:14:34.980-07:00"}),
        json!({"SalesReceipt": stub}),
        json!({"QueryResponse": {"Invoice": [stub]}}),
        json!({"BatchItemResponse": [{"bId": "bid1", "Invoice": stub}]}),
        json!({"CDCResponse": [{"QueryResponse": [{"SalesReceipt": [stub]}]}]}),
    ];
    let config = MappingConfig::default();
    for doc in docs {
        let lines = preview_json(&doc.to_string(), &config).unwrap();
        assert_eq!(lines.len(), 1, "{doc}");
        assert_eq!(lines[0].decision, "skip", "{doc}");
        assert_eq!(lines[0].reason, Some(Reason::Deleted), "{doc}");
        assert_eq!(lines[0].qbo.id.as_deref(), Some("33"), "{doc}");
    }
    // Whatever the class filter says: a delete carries no class.
    let doc: SalesTransaction = serde_json::from_value(stub).unwrap();
    assert!(doc.is_deleted());
    let txn = Transaction { kind: EntityKind::Invoice, doc };
    assert_eq!(skipped(decide(&txn, &config.with_classes(["Retail"]))), "deleted");
}

#[test]
fn a_sale_in_another_currency_says_so_and_converts_nothing() {
    let mut v = sale();
    v["CurrencyRef"] = json!({"value": "EUR", "name": "Euro"});
    v["ExchangeRate"] = json!(1.0825);
    v["HomeTotalAmt"] = json!(21.65);
    // No account currency set: the account is in the company's home currency, and QBO gives
    // a sale in another currency an exchange rate other than 1.
    let m = created(decide(&invoice(v.clone()), &MappingConfig::default()));
    assert_eq!(m.order.grand_total, Some(d("20")), "never converted");
    assert_eq!(m.order.lines[0].item_price, Some(d("10")));
    let warning = m.warnings.iter().find(|w| w.contains("EUR")).expect("a currency warning");
    assert!(warning.contains("home currency") && warning.contains("not converted"), "{warning}");
    let notes = m.order.internal_notes.unwrap_or_default();
    assert!(notes.contains("Currency: EUR (QuickBooks exchange rate: 1 EUR = 1.0825"), "{notes}");

    // An account currency set by the host is compared with `CurrencyRef`.
    let usd_account = MappingConfig::default().with_account_currency(" usd ");
    assert_eq!(usd_account.account_currency(), Some("USD"));
    let warning = created(decide(&invoice(v.clone()), &usd_account)).warnings.join("; ");
    assert!(warning.contains("EUR, not in the Ordoro account's USD"), "{warning}");
    let euro_account = MappingConfig::default().with_account_currency("eur");
    assert!(created(decide(&invoice(v.clone()), &euro_account)).warnings.is_empty());

    // A home-currency sale (rate exactly 1, as QBO sends it, e.g. an Australian company's AUD
    // sale) is no foreign sale, and neither is a sale of a single-currency company (no rate).
    v["CurrencyRef"] = json!({"value": "AUD", "name": "Australian Dollar"});
    v["ExchangeRate"] = json!(1);
    assert!(created(decide(&invoice(v.clone()), &MappingConfig::default())).warnings.is_empty());
    v.as_object_mut().unwrap().remove("ExchangeRate");
    assert!(created(decide(&invoice(v.clone()), &MappingConfig::default())).warnings.is_empty());
    assert!(!created(decide(&invoice(v), &usd_account)).warnings.is_empty(), "AUD is not USD");
}

/// An Australian company's invoice as QBO serves it (hand-written after the shapes real ones
/// show): tax-inclusive amounts, a sub-total line, `CurrencyRef` AUD at rate 1, and a structured
/// ship-to without `Country`, which is read in the company's country.
#[test]
fn an_australian_companys_tax_inclusive_invoice_ships_to_australia() {
    let doc = json!({
        "Id": "2753", "SyncToken": "0", "DocNumber": "100040", "TxnDate": "2026-09-11",
        "MetaData": {"CreateTime": "2026-09-21T02:06:33-07:00", "LastUpdatedTime": "2026-09-21T02:06:33-07:00"},
        "ClassRef": {"value": "5", "name": "Ordoro"},
        "CurrencyRef": {"value": "AUD", "name": "Australian Dollar"}, "ExchangeRate": 1,
        "GlobalTaxCalculation": "TaxInclusive",
        "Line": [
            {"Id": "1", "LineNum": 1, "Description": "Lock washer M30, pack of 50", "Amount": 1183,
             "DetailType": "SalesItemLineDetail",
             "SalesItemLineDetail": {"ServiceDate": "", "TaxInclusiveAmt": 1301.3,
                "ItemRef": {"value": "243", "name": "Hardware:Lock washer M30"},
                "UnitPrice": 591.5, "Qty": 2, "TaxCodeRef": {"value": "5"}}},
            {"Amount": 1183, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
        ],
        "TxnTaxDetail": {"TotalTax": 118.3},
        "CustomerRef": {"value": "136", "name": "Outback Minerals Pty Ltd"},
        "ShipAddr": {"Id": "146", "Line1": "Three Mile Hill Processing Plant", "City": "Perth",
                     "CountrySubDivisionCode": "WA", "PostalCode": "6004"},
        "FreeFormAddress": true,
        "TotalAmt": 1301.3
    });
    let au = MappingConfig::default().with_company_country(Some("AU"));
    let m = created(decide(&invoice(doc.clone()), &au));
    let ship = &m.order.shipping_address;
    assert_eq!(ship.country.as_deref(), Some("AU"));
    assert_eq!(ship.state.as_deref(), Some("WA"));
    assert_eq!(ship.zip.as_deref(), Some("6004"));
    assert_eq!(ship.city.as_deref(), Some("Perth"));
    assert_eq!(m.order.lines.len(), 1);
    assert_eq!(m.order.tax_amount, Some(d("118.3")));
    assert_eq!(m.order.grand_total, Some(d("1301.3")));
    assert!(
        m.warnings.is_empty(),
        "lines + tax add up, AUD is the home currency: {:?}",
        m.warnings
    );
}

/// One line of a generated sale, with what it adds to the order.
#[derive(Debug, Clone)]
enum Kind {
    Product { qty: i64, cents: i64 },
    Bundle(Vec<(i64, i64)>),
    Shipping(i64),
    Discount(i64),
    Text,
    SubTotal,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => (1i64..6, 1i64..20_000).prop_map(|(qty, cents)| Kind::Product { qty, cents }),
        2 => prop::collection::vec((1i64..4, 1i64..5_000), 1..4).prop_map(Kind::Bundle),
        1 => (0i64..3_000).prop_map(Kind::Shipping),
        1 => (0i64..500).prop_map(Kind::Discount),
        1 => Just(Kind::Text),
        1 => Just(Kind::SubTotal),
    ]
}

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

/// Fields the mapping does not read, in the odd shapes real documents carry.
fn with_odd_fields(mut line: Value, odd: bool) -> Value {
    if odd {
        line["LinkedTxn"] = json!({"TxnId": 7, "TxnType": "Estimate", "TxnLineId": 0});
        line["LineNum"] = json!("9");
        if let Some(detail) = line.get_mut("SalesItemLineDetail") {
            detail["ServiceDate"] = json!("");
            detail["TaxCodeRef"] = json!(5);
            detail["TaxInclusiveAmt"] = json!("");
        }
    }
    line
}

proptest! {
    #![proptest_config(crate::support::props::config(256))]

    /// For any sale built from readable lines, no line is lost: every product (bundles
    /// flattened) is an order line, and order lines + shipping + tax - discount is the sale's
    /// total, or the order carries the warning that says they differ.
    #[test]
    fn no_readable_line_is_lost_between_the_document_and_the_order(
        kinds in prop::collection::vec(kind(), 1..10),
        tax in 0i64..5_000,
        total_off in prop::sample::select(vec![0i64, 0, 0, 1, 250]),
        odd in prop::collection::vec(any::<bool>(), 10),
    ) {
        let mut lines = vec![with_odd_fields(item("1", "Widget", Some(1), Some(1), 1), odd[0])];
        let (mut products, mut product_sum, mut shipping, mut discount) = (1usize, cents(100), Decimal::ZERO, Decimal::ZERO);
        for (i, k) in kinds.iter().enumerate() {
            let id = format!("{}", i + 2);
            let line = match k {
                Kind::Product { qty, cents: c } => {
                    products += 1;
                    product_sum += cents(c * qty);
                    item_dec(&id, "Thing", Some((*qty).into()), Some(cents(*c)), cents(c * qty))
                }
                Kind::Bundle(children) => {
                    let items: Vec<Value> = children.iter().enumerate().map(|(j, (q, c))| {
                        products += 1;
                        product_sum += cents(c * q);
                        with_odd_fields(item_dec(&format!("{id}.{j}"), "Part", Some((*q).into()), Some(cents(*c)), cents(c * q)), odd[j % 10])
                    }).collect();
                    bundle(&id, "Kit", 1, 0, items)
                }
                Kind::Shipping(c) => {
                    shipping += cents(*c);
                    shipping_item_line(&cents(*c).to_string())
                }
                Kind::Discount(c) => {
                    discount += cents(*c);
                    flat_discount(&cents(*c).to_string())
                }
                Kind::Text => text_line(&id, "Gift wrap, please"),
                Kind::SubTotal => subtotal(0),
            };
            lines.push(with_odd_fields(line, odd[i % 10]));
        }
        // Item "1" is 1 x 1.00 (see above); discounts never exceed the goods.
        prop_assume!(discount <= product_sum);
        let total = product_sum + shipping + cents(tax) - discount + cents(total_off);
        let mut v = sale();
        v["Line"] = Value::Array(lines);
        v["TxnTaxDetail"] = json!({"TotalTax": num(cents(tax))});
        v["TotalAmt"] = num(total);
        let m = created(decide(&invoice(v), &MappingConfig::default()));
        let o = &m.order;
        prop_assert_eq!(o.lines.len(), products, "every product is an order line");
        let line_sum: Decimal = o.lines.iter().filter_map(|l| l.total_price).sum();
        prop_assert_eq!(line_sum, product_sum);
        prop_assert_eq!(o.grand_total, Some(total));
        let parts = line_sum + o.shipping_amount.unwrap() + o.tax_amount.unwrap() - o.discount_amount.unwrap();
        let mismatch_logged = m.warnings.iter().any(|w| w.starts_with("totals do not add up"));
        prop_assert_eq!(parts == total, !mismatch_logged, "{:?}", m.warnings);
    }
}
