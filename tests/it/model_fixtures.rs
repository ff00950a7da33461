//! Every QBO fixture reads into the typed model, writes back without losing a modelled field, and
//! snapshots to its typed form; Ordoro bodies built from the model validate against Ordoro's
//! published schema.

use qbo_ordoro::model::ordoro::{
    LineProduct, NewOrder, NewOrderLine, Order, OrderList, OrdoroAddress, OrdoroErrorBody,
};
use qbo_ordoro::model::qbo::{
    DetailType, EntityKind, FaultEnvelope, LineDetail, PrintStatus, QboDocument, SalesTransaction,
    parse_xml_fault,
};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::support::fixtures::{fixtures_dir, post_order_validator, qbo_fixtures};

#[test]
fn all_sixteen_qbo_fixtures_deserialize() {
    let fixtures = qbo_fixtures();
    assert_eq!(fixtures.len(), 16, "the shared fixture set has 16 QBO documents");
    for (name, text) in &fixtures {
        let doc = QboDocument::from_json(text)
            .unwrap_or_else(|e| panic!("{name} did not deserialize: {e}"));
        let expected_transactions = match name.as_str() {
            "airbyte_purchaseorder_45_freeform_shipaddr" | "intuitdocs_cdc_response_sample" => 0,
            _ => 1,
        };
        assert_eq!(doc.transactions().len(), expected_transactions, "{name}");
    }
}

#[test]
fn bare_airbyte_records_are_told_apart_by_their_fields() {
    for (name, text) in qbo_fixtures() {
        let doc = QboDocument::from_json(&text).unwrap();
        let kind = doc.transactions().first().map(|t| t.kind);
        if name.starts_with("airbyte_invoice") || name.starts_with("intuitdocs_invoice") {
            assert_eq!(kind, Some(EntityKind::Invoice), "{name}");
        } else if name.contains("salesreceipt") {
            assert_eq!(kind, Some(EntityKind::SalesReceipt), "{name}");
        }
    }
    let po = std::fs::read_to_string(
        fixtures_dir().join("qbo/airbyte_purchaseorder_45_freeform_shipaddr.json"),
    )
    .unwrap();
    assert!(matches!(
        QboDocument::from_json(&po).unwrap(),
        QboDocument::Other { entity, .. } if entity == "PurchaseOrder"
    ));
}

#[test]
fn writing_and_reading_back_loses_no_modelled_field() {
    for (name, text) in qbo_fixtures() {
        for txn in QboDocument::from_json(&text).unwrap().transactions() {
            let written = serde_json::to_string(&txn.doc).unwrap();
            let reread: SalesTransaction = serde_json::from_str(&written).unwrap();
            assert_eq!(reread, txn.doc, "{name}: typed round trip changed the document");
        }
    }
}

/// Keys QBO sends that the model deliberately does not keep (Airbyte's own cursor copy).
const UNMODELLED: &[&str] = &["airbyte_cursor"];

fn assert_covers(path: &str, raw: &Value, written: &Value) {
    match (raw, written) {
        (Value::Object(r), Value::Object(w)) => {
            for (k, v) in r {
                if UNMODELLED.contains(&k.as_str()) || v.is_null() {
                    continue;
                }
                let empty_array = v.as_array().is_some_and(|a| a.is_empty());
                match w.get(k) {
                    Some(wv) => assert_covers(&format!("{path}.{k}"), v, wv),
                    None if empty_array => {}
                    None => panic!("{path}.{k} was lost on the way through the model"),
                }
            }
        }
        (Value::Array(r), Value::Array(w)) => {
            assert_eq!(r.len(), w.len(), "{path}: array length changed");
            for (i, (rv, wv)) in r.iter().zip(w).enumerate() {
                assert_covers(&format!("{path}[{i}]"), rv, wv);
            }
        }
        (Value::Number(r), Value::Number(w)) => {
            let r: Decimal = r.to_string().parse().unwrap();
            let w: Decimal = w.to_string().parse().unwrap();
            assert_eq!(r, w, "{path}: number changed");
        }
        (Value::String(r), Value::String(w)) if r != w => {
            // Enums are written in their canonical spelling; timestamps may be re-rendered.
            let fold = |s: &str| s.replace('_', "").to_lowercase();
            let same_instant = chrono::DateTime::parse_from_rfc3339(r).ok()
                == chrono::DateTime::parse_from_rfc3339(w).ok()
                && chrono::DateTime::parse_from_rfc3339(r).is_ok();
            assert!(fold(r) == fold(w) || same_instant, "{path}: {r:?} became {w:?}");
        }
        (r, w) => assert_eq!(r, w, "{path}"),
    }
}

#[test]
fn every_field_of_every_invoice_and_sales_receipt_survives_the_model() {
    for (name, text) in qbo_fixtures() {
        let raw: Value = serde_json::from_str(&text).unwrap();
        let raw_txn = raw
            .get("Invoice")
            .or_else(|| raw.get("SalesReceipt"))
            .cloned()
            .unwrap_or_else(|| raw.clone());
        if raw_txn.get("Line").is_none() || raw_txn.get("VendorRef").is_some() {
            continue;
        }
        let doc: SalesTransaction = serde_json::from_value(raw_txn.clone()).unwrap();
        let written = serde_json::to_value(&doc).unwrap();
        assert_covers(&name, &raw_txn, &written);
    }
}

#[test]
fn typed_fixtures_snapshot() {
    for (name, text) in qbo_fixtures() {
        let doc = QboDocument::from_json(&text).unwrap();
        insta::assert_debug_snapshot!(format!("qbo_typed__{name}"), doc);
    }
}

#[test]
fn the_void_response_reads_shouting_enum_spellings() {
    let text = std::fs::read_to_string(
        fixtures_dir().join("qbo/intuitdocs_invoice_void_response_129.json"),
    )
    .unwrap();
    let txn = QboDocument::from_json(&text).unwrap().transactions().remove(0);
    assert_eq!(txn.doc.print_status, Some(PrintStatus::NeedToPrint));
    assert_eq!(txn.doc.line[0].detail_type(), DetailType::SalesItemLineDetail);
    assert!(matches!(txn.doc.line[0].detail, LineDetail::SalesItem(_)));
    assert_eq!(txn.doc.private_note.as_deref(), Some("Voided"));
    assert_eq!(txn.doc.total_amt, Some(Decimal::ZERO));
}

#[test]
fn the_shipping_item_line_and_long_class_ids_stay_exact() {
    let text = std::fs::read_to_string(
        fixtures_dir()
            .join("qbo/intuitdocs_invoice_send_response_96_shipping_item_class_shipmethod.json"),
    )
    .unwrap();
    let txn = QboDocument::from_json(&text).unwrap().transactions().remove(0);
    assert_eq!(txn.doc.class_ref.as_ref().unwrap().value, "200900000000000003901");
    let shipping = txn
        .doc
        .line
        .iter()
        .find(|l| {
            matches!(&l.detail, LineDetail::SalesItem(d)
                if d.item_ref.as_ref().is_some_and(|r| r.value == "SHIPPING_ITEM_ID"))
        })
        .expect("a SHIPPING_ITEM_ID line");
    assert_eq!(shipping.amount, Some(Decimal::new(2, 0)));
    let ship = txn.doc.ship_addr.as_ref().unwrap();
    assert!(ship.line5.is_some(), "Line5 is kept");
}

#[test]
fn unknown_line_types_keep_their_raw_json() {
    let raw = serde_json::json!({
        "Id": "7", "Amount": 3.5, "DetailType": "TaxLineDetail",
        "TaxLineDetail": {"TaxRateRef": {"value": "3"}}
    });
    let line: qbo_ordoro::model::qbo::Line = serde_json::from_value(raw.clone()).unwrap();
    match &line.detail {
        LineDetail::Unknown { detail_type, raw: kept } => {
            assert_eq!(detail_type, "TaxLineDetail");
            assert_eq!(kept, &raw);
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
    assert_eq!(serde_json::to_value(&line).unwrap(), raw);
}

#[test]
fn the_change_feed_keeps_deleted_stubs() {
    let raw = serde_json::json!({"CDCResponse": [{"QueryResponse": [{"Invoice": [
        {"Id": "5", "SyncToken": "2", "Line": [], "MetaData": {"LastUpdatedTime": "2024-03-10T01:59:59-08:00"}},
        {"status": "Deleted", "domain": "QBO", "Id": "979", "MetaData": {"LastUpdatedTime": "2015-12-23T12:55:50-08:00"}}
    ]}]}], "time": "2015-12-23T12:56:06.196-08:00"});
    let QboDocument::Cdc(cdc) = QboDocument::from_value(raw).unwrap() else { panic!("not CDC") };
    let items: Vec<_> = cdc.items(EntityKind::Invoice).collect();
    assert_eq!(items.len(), 2);
    assert!(
        matches!(items[1], qbo_ordoro::model::qbo::ChangedTransaction::Deleted(s) if s.id == "979")
    );
}

#[test]
fn an_empty_query_page_has_no_entity_key() {
    let doc = QboDocument::from_json(r#"{"QueryResponse":{},"time":"2024-01-01T00:00:00-08:00"}"#)
        .unwrap();
    let QboDocument::Query(q) = doc else { panic!("not a query") };
    assert!(q.query_response.transactions(EntityKind::Invoice).is_empty());
}

#[test]
fn faults_read_in_both_casings_with_padded_codes() {
    let camel = r#"{"warnings":null,"fault":{"error":[{"message":"message=AuthenticationFailed; errorCode=003200; statusCode=401","detail":"Token expired: AB0173","code":"003200","element":null}],"type":"AUTHENTICATION"},"time":1730024394085}"#;
    let f: FaultEnvelope = serde_json::from_str(camel).unwrap();
    assert_eq!(f.fault.fault_type.as_deref(), Some("AUTHENTICATION"));
    assert_eq!(f.fault.error[0].code_number(), Some(3200));
    let pascal = r#"{"Fault":{"Error":[{"Message":"Invalid query","Detail":"x","code":"4001","element":""}],"type":"ValidationFault"},"time":"2017-09-29T09:17:31.892-07:00"}"#;
    let f: FaultEnvelope = serde_json::from_str(pascal).unwrap();
    assert_eq!(f.fault.error[0].code_number(), Some(4001));
    assert_eq!(f.fault.error[0].message.as_deref(), Some("Invalid query"));
}

#[test]
fn the_xml_throttle_body_parses() {
    let xml = r#"<?xml version="1.0"?><Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message><Detail>The request limit was reached.  Try again later</Detail></Error></Fault>"#;
    let fault = parse_xml_fault(xml).expect("an XML fault");
    assert_eq!(fault.fault_type.as_deref(), Some("SERVICE"));
    assert_eq!(fault.error[0].code_number(), Some(3001));
    assert!(fault.error[0].detail.as_deref().unwrap().starts_with("The request limit"));
    assert!(parse_xml_fault("{\"not\": \"xml\"}").is_none());
}

fn sample_order() -> NewOrder {
    let address = OrdoroAddress {
        name: Some("Kate Whelan".into()),
        street1: Some("45 First St.".into()),
        city: Some("Menlo Park".into()),
        state: Some("CA".into()),
        zip: Some("94304".into()),
        country: Some("US".into()),
        email: Some("kate@example.com".into()),
        ..Default::default()
    };
    NewOrder {
        order_id: "QBO-SR-17".into(),
        cart: Some(4),
        cart_order_id: Some("QBO-SR-17".into()),
        order_date: Some("2023-02-18T00:00:00Z".into()),
        shipping_type: Some("UPS Ground".into()),
        product_amount: Some("225.00".parse().unwrap()),
        shipping_amount: Some("12.50".parse().unwrap()),
        tax_amount: Some(Decimal::ZERO),
        discount_amount: Some(Decimal::ZERO),
        grand_total: Some("237.50".parse().unwrap()),
        billing_address: address.clone(),
        shipping_address: address,
        lines: vec![NewOrderLine {
            cart_orderitem_id: Some("1".into()),
            product_name: Some("Rock Fountain".into()),
            item_price: Some("0.5306667".parse().unwrap()),
            quantity: 3,
            total_price: Some("225.00".parse().unwrap()),
            product: LineProduct {
                sku: "Rock Fountain".into(),
                name: "Rock Fountain".into(),
                price: None,
            },
        }],
        ..Default::default()
    }
}

#[test]
fn a_new_order_validates_against_post_order_v1() {
    let body = serde_json::to_value(sample_order()).unwrap();
    let validator = post_order_validator();
    let errors: Vec<String> = validator.iter_errors(&body).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "schema errors: {errors:?}");
    assert!(body["grand_total"].is_number(), "money goes out as a JSON number");
    assert_eq!(body["lines"][0]["item_price"].to_string(), "0.5306667");
}

#[test]
fn the_schema_check_rejects_what_ordoro_rejects() {
    let validator = post_order_validator();
    let mut body = serde_json::to_value(sample_order()).unwrap();
    body["grand_total"] = Value::String("237.50".into());
    assert!(!validator.is_valid(&body), "amounts as strings are rejected");
    let mut body = serde_json::to_value(sample_order()).unwrap();
    body["email"] = Value::String("x@example.com".into());
    assert!(!validator.is_valid(&body), "unknown top-level fields are rejected");
}

#[test]
fn ordoro_examples_read_into_the_model() {
    let text = std::fs::read_to_string(
        fixtures_dir().join("ordoro/api-examples-v3-create-order-request.json"),
    )
    .unwrap();
    let order: NewOrder = serde_json::from_str(&text).unwrap();
    assert_eq!(order.cart, Some(100));
    assert!(!order.lines.is_empty());
    let returned = r#"{"id": 5, "order_number": "3-QBO-INV-130", "status": "awaiting_fulfillment",
        "lines": [{"id": 1001, "sku": "sku1", "quantity": 2, "item_price": 2.42, "product_name": "x"}],
        "shipping_address": {"name": "a"}, "billing_address": {"name": "b"}, "weight": 3}"#;
    let order: Order = serde_json::from_str(returned).unwrap();
    assert!(order.awaits_fulfillment());
    assert_eq!(order.lines[0].id, Some(1001));
    let page: OrderList = serde_json::from_str(
        r#"{"count": 1, "limit": 10, "offset": 0, "order": [{"order_number": "M-1"}]}"#,
    )
    .unwrap();
    assert_eq!(page.order[0].order_number, "M-1");
}

#[test]
fn the_ordoro_error_body_reads_param_and_params() {
    let a: OrdoroErrorBody =
        serde_json::from_str(r#"{"error_message": "bad", "param": "order_id"}"#).unwrap();
    let b: OrdoroErrorBody =
        serde_json::from_str(r#"{"error_message": "bad", "params": ["lines"]}"#).unwrap();
    let c: OrdoroErrorBody =
        serde_json::from_str(r#"{"error_message": "bad", "param": null}"#).unwrap();
    assert_eq!(a.param.as_deref(), Some("order_id"));
    assert_eq!(b.param.as_deref(), Some("[\"lines\"]"));
    assert_eq!(c.param, None);
}
