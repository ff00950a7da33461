//! The preview of every QBO fixture, as snapshots: once with the default configuration (most
//! fixtures carry no class or another one, so they show the skips), once with every sale marked
//! `Ordoro` (showing the full mapping); and the `preview` example run as a program.

use qbo_ordoro::Reason;
use qbo_ordoro::mapping::MappingConfig;
use qbo_ordoro::mapping::preview::{PreviewLine, preview_json};
use serde_json::Value;

use crate::support::fixtures::sales::*;
use crate::support::fixtures::{qbo_fixtures, qbo_fixtures_dir, real_qbo_documents};

#[test]
fn preview_of_every_fixture_with_default_config() {
    let config = MappingConfig::default();
    for (name, text) in qbo_fixtures() {
        let lines = preview_json(&text, &config).unwrap();
        insta::assert_json_snapshot!(format!("default_{name}"), lines);
    }
}

#[test]
fn preview_of_every_fixture_marked_ordoro() {
    let config = MappingConfig::default();
    for (name, text) in qbo_fixtures() {
        let mut v: Value = serde_json::from_str(&text).unwrap();
        mark_ordoro(&mut v);
        let lines = preview_json(&v.to_string(), &config).unwrap();
        insta::assert_json_snapshot!(format!("ordoro_{name}"), lines);
    }
}

/// The real documents of `tests/fixtures/qbo/real` (see its SOURCES.md, which says what was
/// judged right for each): as they are, and with every sale marked `Ordoro`.
#[test]
fn preview_of_every_real_document() {
    let real = real_qbo_documents();
    assert!(real.len() >= 9, "the real documents are there");
    let config = MappingConfig::default();
    for (name, text) in real {
        let lines = preview_json(&text, &config).unwrap();
        insta::assert_json_snapshot!(format!("real_{name}"), lines);
        let mut v: Value = serde_json::from_str(&text).unwrap();
        mark_ordoro(&mut v);
        let lines = preview_json(&v.to_string(), &config).unwrap();
        for l in &lines {
            assert_ne!(l.error.as_ref().map(|e| e.code), Some(Reason::InvalidDocument), "{name}");
        }
        insta::assert_json_snapshot!(format!("real_ordoro_{name}"), lines);
    }
}

#[test]
fn every_fixture_gives_a_line_per_transaction_with_qbo_ids() {
    let config = MappingConfig::default();
    for (name, text) in qbo_fixtures() {
        let lines = preview_json(&text, &config).unwrap();
        let has_sale = text.contains("\"Line\"") && !name.contains("purchaseorder");
        if has_sale {
            assert!(!lines.is_empty(), "{name}");
        }
        for l in &lines {
            assert!(["create", "skip", "error"].contains(&l.decision.as_str()), "{name}");
            if l.qbo.entity.as_deref().is_some_and(|e| e == "Invoice" || e == "SalesReceipt") {
                assert!(l.qbo.id.is_some(), "{name}");
            }
        }
    }
}

#[test]
fn non_json_is_an_error_but_json_of_another_shape_is_an_error_line() {
    let config = MappingConfig::default();
    assert!(preview_json("{not json", &config).is_err());
    let lines = preview_json("[1, 2]", &config).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].error.as_ref().unwrap().code, Reason::InvalidDocument);
    // A field that does not read is named on its transaction; the document still reads.
    let lines = preview_json(r#"{"Invoice": {"Id": "5", "TotalAmt": "lots"}}"#, &config).unwrap();
    let error = lines[0].error.as_ref().unwrap();
    assert_eq!(error.code, Reason::UnreadableTransaction);
    assert!(error.message.contains("TotalAmt: `lots` is not a number"), "{}", error.message);
    assert_eq!(lines[0].qbo.id.as_deref(), Some("5"));
    let lines = preview_json(r#"{"Invoice": "5"}"#, &config).unwrap();
    assert_eq!(lines[0].error.as_ref().unwrap().code, Reason::InvalidDocument);
    let lines = preview_json(r#"{"QueryResponse": {}}"#, &config).unwrap();
    assert!(lines.is_empty());
}

#[test]
fn purchase_order_is_an_unsupported_entity_line() {
    let text = std::fs::read_to_string(
        qbo_fixtures_dir().join("airbyte_purchaseorder_45_freeform_shipaddr.json"),
    )
    .unwrap();
    let lines = preview_json(&text, &MappingConfig::default()).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].qbo.entity.as_deref(), Some("PurchaseOrder"));
    assert_eq!(lines[0].error.as_ref().unwrap().code, Reason::UnsupportedEntity);
}

#[test]
fn change_feed_delete_stubs_are_skipped_deleted() {
    let text = r#"{"CDCResponse": [{"QueryResponse": [{"Invoice": [
        {"status": "Deleted", "domain": "QBO", "Id": "33",
         "MetaData": {"LastUpdatedTime": "2015-12-23T12:55:50-08:00"}}
    ]}]}]}"#;
    let lines = preview_json(text, &MappingConfig::default()).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].reason, Some(Reason::Deleted));
    assert_eq!(lines[0].qbo.id.as_deref(), Some("33"));
}

/// Runs the example through cargo, as a user would.
fn run_preview(args: &[&str]) -> std::process::Output {
    crate::support::examples::run_example("preview", args, b"")
}

#[test]
fn example_prints_one_json_line_per_transaction_and_honours_class() {
    let dir = qbo_fixtures_dir();
    let send = dir.join("intuitdocs_invoice_send_response_96_shipping_item_class_shipmethod.json");
    let query = dir.join("intuitdocs_invoice_query_response_239.json");
    let missing = dir.join("no_such_file.json");
    let files = [send.to_str().unwrap(), query.to_str().unwrap()];

    let out = run_preview(&files);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<PreviewLine> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].reason, Some(Reason::ClassMismatch));
    assert_eq!(lines[1].reason, Some(Reason::NoClass));

    let out = run_preview(&["--class", "Class 1", files[0]]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let line: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(line["qbo"]["entity"], "Invoice");
    assert_eq!(line["qbo"]["id"], "96");
    assert_eq!(line["qbo"]["doc_number"], "Sample_Inv#2");
    assert_eq!(line["decision"], "create", "{line}");
    assert_eq!(line["order"]["order_id"], "QBO-INV-96");
    assert_eq!(line["order"]["shipping_amount"], 2.0);

    let out = run_preview(&[missing.to_str().unwrap(), files[1]]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_file.json"));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);
}

#[test]
fn example_help_goes_to_stdout_and_usage_errors_exit_two() {
    for flag in ["--help", "-h"] {
        let out = run_preview(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        let help = String::from_utf8(out.stdout).unwrap();
        for part in [
            "Usage: preview",
            "--class <NAME>",
            "--company-country <XX>",
            "<FILE>...",
            "-h, --help",
        ] {
            assert!(help.contains(part), "{part} missing from {flag}:\n{help}");
        }
    }
    let file = qbo_fixtures_dir().join("intuitdocs_invoice_query_response_239.json");
    let file = file.to_str().unwrap();
    for args in [&["--bogus", file][..], &[], &["--class"], &[file, "--class"]] {
        let out = run_preview(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.ends_with("For more information, try '--help'.\n"), "{args:?}: {stderr}");
    }
}

#[test]
fn example_takes_the_company_country_and_refuses_what_is_no_country_code() {
    let file = qbo_fixtures_dir().join("intuitdocs_invoice_query_response_239.json");
    let file = file.to_str().unwrap();
    for good in ["AU", "gb", "US"] {
        let out = run_preview(&["--company-country", good, file]);
        assert_eq!(out.status.code(), Some(0), "{good}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);
    }
    for bad in ["XX", "UK", "AUS", "Australia", ""] {
        let out = run_preview(&["--company-country", bad, file]);
        assert_eq!(out.status.code(), Some(2), "{bad} is a usage error");
        assert!(out.stdout.is_empty(), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--company-country"), "{bad}");
    }
}

#[test]
fn example_items_say_where_each_sku_came_from_and_without_them_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let sale = dir.path().join("sale.json");
    std::fs::write(
        &sale,
        r#"{"Invoice": {"Id": "130", "SyncToken": "0", "TotalAmt": 300,
            "ClassRef": {"value": "1", "name": "Ordoro"},
            "Line": [
              {"Id": "1", "Amount": 275, "DetailType": "SalesItemLineDetail",
               "SalesItemLineDetail": {"ItemRef": {"value": "5", "name": "Rock Fountain"}, "Qty": 1}},
              {"Id": "2", "Amount": 25, "DetailType": "SalesItemLineDetail",
               "SalesItemLineDetail": {"ItemRef": {"value": "6", "name": "Chairs:Oak"}, "Qty": 1}}],
            "ShipAddr": {"Line1": "Jane Doe", "Line2": "12 Main Street",
                         "Line3": "Springfield, IL 62704"}}}"#,
    )
    .unwrap();
    let items = dir.path().join("items.json");
    std::fs::write(
        &items,
        r#"{"QueryResponse": {"Item": [
            {"Id": "5", "Name": "Rock Fountain", "Sku": "FOUNT-1", "SyncToken": "2"},
            {"Id": "6", "Name": "Oak", "FullyQualifiedName": "Chairs:Oak", "SubItem": true,
             "ParentRef": {"value": "4"}, "Sku": ""},
            {"Id": "4", "Name": "Chairs", "Sku": "CHAIRS"}]}}"#,
    )
    .unwrap();
    let plain = run_preview(&[sale.to_str().unwrap()]);
    let plain: Value = serde_json::from_slice(&plain.stdout).unwrap();
    assert!(plain.get("skus").is_none(), "{plain}");
    assert_eq!(plain["order"]["lines"][0]["product"]["sku"], "Rock Fountain");

    let out = run_preview(&["--items", items.to_str().unwrap(), sale.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["order"]["lines"][0]["product"]["sku"], "FOUNT-1");
    // A sub-item with a blank SKU keeps its name, never its parent's SKU.
    assert_eq!(line["order"]["lines"][1]["product"]["sku"], "Chairs:Oak");
    assert_eq!(
        line["skus"],
        serde_json::json!([
            {"line": "1", "item_id": "5", "sku": "FOUNT-1", "source": "item"},
            {"line": "2", "item_id": "6", "sku": "Chairs:Oak", "source": "name"}
        ])
    );
    // Everything but the SKUs is as it was.
    let mut same = line.clone();
    same.as_object_mut().unwrap().remove("skus");
    same["order"]["lines"][0]["product"]["sku"] = "Rock Fountain".into();
    assert_eq!(same, plain);

    let missing = dir.path().join("no-items.json");
    let out = run_preview(&["--items", missing.to_str().unwrap(), sale.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-items.json"));
}
