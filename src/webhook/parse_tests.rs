//! Reading both formats, checking signatures, and the errors that say why.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::*;

fn read(body: &Value) -> Vec<ChangeEvent> {
    parse(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{body} does not read: {e}"))
}

fn refused(body: &Value) -> WebhookError {
    match parse(body.to_string().as_bytes()) {
        Ok(events) => panic!("{body} reads as {events:?}"),
        Err(e) => e,
    }
}

fn at(text: &str) -> Option<DateTime<Utc>> {
    Some(DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc))
}

fn legacy_entity(entity: Value) -> Value {
    json!({"eventNotifications": [{"realmId": "310687", "dataChangeEvent": {"entities": [entity]}}]})
}

fn cloud(event_type: &str) -> Value {
    json!({"specversion": "1.0", "id": "e-1", "type": event_type,
           "time": "2025-09-10T21:31:25Z", "intuitentityid": "1234", "intuitaccountid": "310687"})
}

#[test]
fn a_legacy_delivery_reads_every_realm_and_entity_in_order() {
    let body = json!({"eventNotifications": [
        {"realmId": "310687", "dataChangeEvent": {"entities": [
            {"name": "Invoice", "id": "1234", "operation": "Create", "lastUpdated": "2025-09-08T20:52:31.657Z"},
            {"name": "Customer", "id": "61", "operation": "Merge", "lastUpdated": "2025-09-08T20:52:32Z", "deletedId": "58"}]}},
        {"realmId": "9130350000000001", "dataChangeEvent": {"entities": [
            {"name": "SalesReceipt", "id": "77", "operation": "Void"}]}}]});
    let events = read(&body);
    assert_eq!(
        events,
        vec![
            ChangeEvent {
                realm_id: "310687".into(),
                entity: "Invoice".into(),
                qbo_id: "1234".into(),
                operation: Operation::Create,
                event_id: None,
                occurred_at: at("2025-09-08T20:52:31.657Z"),
                deleted_id: None,
            },
            ChangeEvent {
                realm_id: "310687".into(),
                entity: "Customer".into(),
                qbo_id: "61".into(),
                operation: Operation::Merge,
                event_id: None,
                occurred_at: at("2025-09-08T20:52:32Z"),
                deleted_id: Some("58".into()),
            },
            ChangeEvent {
                realm_id: "9130350000000001".into(),
                entity: "SalesReceipt".into(),
                qbo_id: "77".into(),
                operation: Operation::Void,
                event_id: None,
                occurred_at: None,
                deleted_id: None,
            },
        ]
    );
}

#[test]
fn a_cloud_events_delivery_reads_each_event() {
    let body = json!([
        {"specversion": "1.0", "id": "88cd52aa-33b6-4351-9aa4-47572edbd068",
         "source": "intuit.dsnBgbseACLLRZNxo2dfc4evmEJdxde58xeeYcZliOU=",
         "type": "qbo.invoice.created.v1", "datacontenttype": "application/json",
         "time": "2025-09-10T21:31:25.179851517Z", "intuitentityid": "1234",
         "intuitaccountid": "310687", "data": {}},
        {"specversion": "1.0", "id": "e-2", "type": "qbo.customer.merged.v1",
         "intuitentityid": "61", "intuitaccountid": "4620816365", "data": {"deletedid": "58"}},
        {"specversion": "1.0", "id": "e-3", "type": "qbo.salesreceipt.updated.v1",
         "time": "2025-09-10T21:31:26Z", "intuitentityid": "9", "intuitaccountid": "310687"}]);
    let events = read(&body);
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].event_id.as_deref(), Some("88cd52aa-33b6-4351-9aa4-47572edbd068"));
    assert_eq!(events[0].entity, "Invoice");
    assert_eq!((events[0].realm_id.as_str(), events[0].qbo_id.as_str()), ("310687", "1234"));
    assert_eq!(events[0].operation, Operation::Create);
    assert_eq!(
        events[0].occurred_at.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        Some("2025-09-10T21:31:25.179851517Z".into())
    );
    assert_eq!(events[0].deleted_id, None);
    assert_eq!(events[1].operation, Operation::Merge);
    assert_eq!(events[1].deleted_id.as_deref(), Some("58"));
    assert_eq!(events[1].realm_id, "4620816365");
    assert_eq!(events[1].occurred_at, None);
    assert_eq!(events[2].entity, "SalesReceipt");
    assert_eq!(events[2].operation, Operation::Update);
}

#[test]
fn every_legacy_operation_reads_in_any_case() {
    for op in Operation::ALL {
        for spelling in
            [op.legacy_name().to_string(), op.as_str().to_uppercase(), op.as_str().into()]
        {
            let body = legacy_entity(json!({"name": "Invoice", "id": "1", "operation": spelling}));
            assert_eq!(read(&body)[0].operation, op, "{spelling}");
        }
    }
}

#[test]
fn every_cloud_events_verb_reads_with_or_without_a_version() {
    for op in Operation::ALL {
        let verb = op.cloud_event_verb();
        for event_type in [
            format!("qbo.invoice.{verb}.v1"),
            format!("qbo.invoice.{verb}.v12"),
            format!("qbo.invoice.{verb}"),
            format!("QBO.Invoice.{}.V1", verb.to_uppercase()),
        ] {
            let events = read(&json!([cloud(&event_type)]));
            assert_eq!(events[0].operation, op, "{event_type}");
            assert_eq!(events[0].entity, "Invoice", "{event_type}");
        }
    }
}

#[test]
fn the_wire_names_are_the_documented_ones() {
    let legacy: Vec<_> = Operation::ALL.iter().map(|o| o.legacy_name()).collect();
    assert_eq!(legacy, ["Create", "Update", "Delete", "Void", "Merge", "Emailed"]);
    let verbs: Vec<_> = Operation::ALL.iter().map(|o| o.cloud_event_verb()).collect();
    assert_eq!(verbs, ["created", "updated", "deleted", "voided", "merged", "emailed"]);
}

#[test]
fn times_with_any_offset_are_read_in_utc() {
    for (given, utc) in [
        ("2015-10-05T14:42:19-0700", "2015-10-05T21:42:19Z"),
        ("2015-10-05T14:42:19-07:00", "2015-10-05T21:42:19Z"),
        ("2025-09-10T21:31:25+00:00", "2025-09-10T21:31:25Z"),
        ("2025-09-11T06:31:25+0900", "2025-09-10T21:31:25Z"),
        ("2025-09-08T20:52:31.657Z", "2025-09-08T20:52:31.657Z"),
        ("2025-09-10T21:31:25.179851517Z", "2025-09-10T21:31:25.179851517Z"),
        ("2025-09-10T23:31:25.5+02:00", "2025-09-10T21:31:25.500Z"),
    ] {
        let body = legacy_entity(
            json!({"name": "Invoice", "id": "1", "operation": "Update", "lastUpdated": given}),
        );
        let got =
            read(&body)[0].occurred_at.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        assert_eq!(got.as_deref(), Some(utc), "{given}");
        let mut event = cloud("qbo.invoice.updated.v1");
        event["time"] = json!(given);
        assert_eq!(read(&json!([event]))[0].occurred_at, at(utc), "{given}");
    }
}

#[test]
fn an_absent_time_is_none_and_an_unreadable_one_refuses_the_delivery() {
    let mut event = cloud("qbo.invoice.updated.v1");
    event.as_object_mut().unwrap().remove("time");
    assert_eq!(read(&json!([event.clone()]))[0].occurred_at, None);
    event["time"] = Value::Null;
    assert_eq!(read(&json!([event.clone()]))[0].occurred_at, None);
    for unreadable in
        [json!("yesterday"), json!("2025-09-10T21:31:25"), json!("2025-13-40T00:00:00Z"), json!(17)]
    {
        event["time"] = unreadable.clone();
        let error = refused(&json!([cloud("qbo.invoice.created.v1"), event.clone()]));
        assert_eq!(error.code, WebhookErrorCode::MalformedPayload);
        assert!(
            error.message.contains("[1]") && error.message.contains("`time`"),
            "{unreadable}: {}",
            error.message
        );
    }
}

#[test]
fn ids_given_as_numbers_read_as_their_decimal_text() {
    let body = json!({"eventNotifications": [{"realmId": 9130350000000001_u64, "dataChangeEvent":
        {"entities": [{"name": "Customer", "id": 61, "operation": "Merge", "deletedId": 58}]}}]});
    let event = &read(&body)[0];
    assert_eq!((event.realm_id.as_str(), event.qbo_id.as_str()), ("9130350000000001", "61"));
    assert_eq!(event.deleted_id.as_deref(), Some("58"));
    let mut cloud_event = cloud("qbo.customer.merged.v1");
    cloud_event["intuitentityid"] = json!(61);
    cloud_event["intuitaccountid"] = json!(310687);
    cloud_event["id"] = json!(5);
    cloud_event["data"] = json!({"deletedId": 58});
    let event = &read(&json!([cloud_event]))[0];
    assert_eq!((event.realm_id.as_str(), event.qbo_id.as_str()), ("310687", "61"));
    assert_eq!((event.event_id.as_deref(), event.deleted_id.as_deref()), (Some("5"), Some("58")));
}

#[test]
fn entities_are_spelled_as_qbo_spells_them() {
    for (given, want) in [
        ("salesreceipt", "SalesReceipt"),
        ("creditmemo", "CreditMemo"),
        ("billpayment", "BillPayment"),
        ("journalentry", "JournalEntry"),
        ("timeactivity", "TimeActivity"),
        ("companyinfo", "CompanyInfo"),
        ("Invoice", "Invoice"),
        ("widget", "Widget"),
    ] {
        let events = read(&json!([cloud(&format!("qbo.{given}.updated.v1"))]));
        assert_eq!(events[0].entity, want, "{given}");
    }
    for (given, want) in [
        ("invoice", "Invoice"),
        ("SALESRECEIPT", "SalesReceipt"),
        ("FancyThing", "FancyThing"),
        ("fancything", "fancything"),
    ] {
        let body = legacy_entity(json!({"name": given, "id": "1", "operation": "Update"}));
        assert_eq!(read(&body)[0].entity, want, "{given}");
    }
}

#[test]
fn empty_deliveries_are_accepted_with_no_events() {
    for body in [
        json!([]),
        json!({"eventNotifications": []}),
        json!({"eventNotifications": [{"realmId": "1", "dataChangeEvent": {"entities": []}}]}),
    ] {
        assert_eq!(read(&body), vec![], "{body}");
    }
}

#[test]
fn a_delivery_with_one_unreadable_event_is_refused_whole_naming_the_event() {
    let good = json!({"name": "Invoice", "id": "1", "operation": "Create"});
    let cases = [
        (json!({"name": "Invoice", "id": "", "operation": "Create"}), "`id`"),
        (json!({"name": "Invoice", "operation": "Create"}), "`id`"),
        (json!({"name": " ", "id": "1", "operation": "Create"}), "`name`"),
        (json!({"name": "Invoice", "id": "1", "operation": "Frobnicate"}), "Frobnicate"),
        (json!({"name": "Invoice", "id": "1"}), "`operation`"),
        (json!({"name": "Invoice", "id": true, "operation": "Create"}), "`id`"),
        (json!("Invoice"), "object"),
    ];
    for (entity, names) in cases {
        let body = json!({"eventNotifications": [{"realmId": "1", "dataChangeEvent": {"entities": [good.clone(), entity.clone()]}}]});
        let error = refused(&body);
        assert_eq!(error.code, WebhookErrorCode::MalformedPayload);
        assert!(
            error.message.contains("eventNotifications[0].dataChangeEvent.entities[1]"),
            "{}",
            error.message
        );
        assert!(error.message.contains(names), "{entity}: {}", error.message);
    }
    for realm in [json!(""), json!(null), json!([1])] {
        let body = json!({"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": [good.clone()]}}]});
        assert!(refused(&body).message.contains("realmId"));
    }
    let no_change = json!({"eventNotifications": [{"realmId": "1"}]});
    assert!(refused(&no_change).message.contains("dataChangeEvent"));
}

#[test]
fn a_cloud_event_that_does_not_read_refuses_the_delivery() {
    let mut cases = Vec::new();
    for event_type in [
        "invoice.created.v1",
        "qbo.invoice",
        "qbo.invoice.frobbed.v1",
        "qbo..created.v1",
        "qbo.invoice.created.x1",
        "qbo.invoice.created.v",
        "qbo.invoice.created.v1.extra",
        "intuit.invoice.created.v1",
    ] {
        cases.push((cloud(event_type), "`type`"));
    }
    for name in ["intuitentityid", "intuitaccountid", "type", "specversion"] {
        let mut event = cloud("qbo.invoice.created.v1");
        event.as_object_mut().unwrap().remove(name);
        cases.push((event, name));
        let mut event = cloud("qbo.invoice.created.v1");
        if name != "specversion" {
            event[name] = json!("");
            cases.push((event, name));
        }
    }
    let mut event = cloud("qbo.invoice.created.v1");
    event["data"] = json!("deleted");
    cases.push((event, "`data`"));
    cases.push((json!(42), "object"));
    for (event, names) in cases {
        let error = refused(&json!([cloud("qbo.invoice.created.v1"), event.clone()]));
        assert_eq!(error.code, WebhookErrorCode::MalformedPayload);
        assert!(error.message.contains("at [1]"), "{}", error.message);
        assert!(error.message.contains(names), "{event}: {}", error.message);
    }
}

#[test]
fn a_body_of_neither_format_is_refused() {
    for body in [
        &b"not json"[..],
        b"",
        b"{}",
        b"{\"eventNotifications\": {}}",
        b"\"text\"",
        b"null",
        b"[1, 2]",
        b"{\"specversion\": \"1.0\"}",
        &[0xff, 0xfe],
    ] {
        let error = parse(body).expect_err(&String::from_utf8_lossy(body));
        assert_eq!(error.code, WebhookErrorCode::MalformedPayload);
        assert!(error.message.contains("refused whole"), "{}", error.message);
    }
}

#[test]
fn the_signature_is_checked_before_the_body_is_read() {
    let token = VerifierToken::from("verifier-token-123");
    let body = b"not json at all";
    assert_eq!(receive(None, body, &token).unwrap_err().code, WebhookErrorCode::MissingSignature);
    assert_eq!(
        receive(Some(""), body, &token).unwrap_err().code,
        WebhookErrorCode::MissingSignature
    );
    assert_eq!(
        receive(Some(" \t\n"), body, &token).unwrap_err().code,
        WebhookErrorCode::MissingSignature
    );
    let other = VerifierToken::from("another").sign(body);
    assert_eq!(
        receive(Some(&other), body, &token).unwrap_err().code,
        WebhookErrorCode::BadSignature
    );
    let signed = token.sign(body);
    assert_eq!(
        receive(Some(&signed), body, &token).unwrap_err().code,
        WebhookErrorCode::MalformedPayload
    );
    let body = br#"{"eventNotifications": []}"#;
    let signed = token.sign(body);
    assert_eq!(receive(Some(&format!("{signed}\n")), body, &token), Ok(vec![]));
    assert_eq!(
        receive(Some(&signed), br#"{"eventNotifications":[]}"#, &token).unwrap_err().code,
        WebhookErrorCode::BadSignature
    );
}

#[test]
fn the_header_is_found_in_any_case() {
    let headers = [
        ("Content-Type", "application/cloudevents+json"),
        ("Intuit-Signature", "abc"),
        ("intuit-signature", "second"),
    ];
    assert_eq!(signature_header(headers), Some("abc"));
    assert_eq!(signature_header([("INTUIT-SIGNATURE", "x")]), Some("x"));
    assert_eq!(signature_header([("intuit-signatures", "x")]), None);
    assert_eq!(signature_header([("intuit-signature", " "), ("Intuit-Signature", "z")]), Some("z"));
    assert_eq!(signature_header([("intuit-signature", "")]), Some(""));
    let owned = [("intuit-SIGNATURE".to_string(), "y".to_string())];
    assert_eq!(signature_header(owned.iter().map(|(n, v)| (n.as_str(), v.as_str()))), Some("y"));
}

#[test]
fn no_message_shows_the_token_or_the_signature() {
    let secret = "s3cr3t-verifier-token";
    let token = VerifierToken::from(secret);
    assert!(!format!("{token:?}").contains(secret));
    let body = b"{}";
    let signature = token.sign(body);
    let wrong = VerifierToken::from("x").sign(body);
    for error in [
        receive(None, body, &token).unwrap_err(),
        receive(Some(&wrong), body, &token).unwrap_err(),
        receive(Some(&signature), body, &token).unwrap_err(),
    ] {
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(
                !shown.contains(secret) && !shown.contains(&signature) && !shown.contains(&wrong),
                "{shown}"
            );
        }
    }
}

#[test]
fn codes_are_the_strings_of_the_contract() {
    let codes: Vec<_> = WebhookErrorCode::ALL.iter().map(|c| c.to_string()).collect();
    assert_eq!(codes, ["missing_signature", "bad_signature", "malformed_payload"]);
    let error = receive(None, b"", &VerifierToken::from("t")).unwrap_err();
    assert!(error.to_string().starts_with("missing_signature: "));
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

/// RFC 4231 test cases 1, 2 and 4 (the ones whose keys are valid UTF-8, as a verifier token is).
#[test]
fn sign_is_hmac_sha256_by_rfc_4231() {
    use base64::Engine as _;
    let cases: [(Vec<u8>, Vec<u8>, &str); 3] = [
        (
            vec![0x0b; 20],
            b"Hi There".to_vec(),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?".to_vec(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            (1..=25).collect(),
            vec![0xcd; 50],
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
    ];
    for (key, data, mac) in cases {
        let token = VerifierToken::from(String::from_utf8(key).unwrap());
        let signature = token.sign(&data);
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(&signature).unwrap(), hex(mac));
        assert!(token.verifies(&data, &signature));
    }
}
