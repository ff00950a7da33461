//! Runs `examples/webhook.rs` as a subprocess, as a user would (`cargo run --example webhook --
//! --verifier-token TOKEN`), and holds it to its contract (design §4.5): one verdict line per
//! delivery, in order; both formats, several companies, offsets in times; the signature traps
//! (a body re-serialised, another body's signature, an empty header, odd header case, a
//! trailing newline); malformed deliveries and input lines that are not deliveries.

use std::process::Output;

use qbo_ordoro::webhook::VerifierToken;
use serde_json::{Value, json};

use crate::support::examples::run_example;

const TOKEN: &str = "held-out-verifier-token-7f3a";

fn run(args: &[&str], input: &str) -> Output {
    run_example("webhook", args, input.as_bytes())
}

fn verdicts(input: &str) -> (Vec<Value>, String) {
    let out = run(&["--verifier-token", TOKEN], input);
    assert!(out.status.success(), "example failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    (lines, text)
}

fn sign(body: &str) -> String {
    VerifierToken::from(TOKEN).sign(body.as_bytes())
}

/// A delivery signed as Intuit signs it, under the given header name.
fn signed(id: &str, header: &str, body: &str) -> String {
    json!({"id": id, "headers": {header: sign(body), "Content-Type": "application/json"}, "body": body})
        .to_string()
}

const LEGACY: &str = r#"{"eventNotifications":[{"realmId":"310687","dataChangeEvent":{"entities":[{"name":"Invoice","id":"1234","operation":"Create","lastUpdated":"2025-09-08T20:52:31.657Z"},{"name":"Customer","id":"61","operation":"Merge","lastUpdated":"2015-10-05T14:42:19-0700","deletedId":"58"}]}},{"realmId":"9130350000000001","dataChangeEvent":{"entities":[{"name":"SalesReceipt","id":"77","operation":"Void"}]}}]}"#;

const CLOUD: &str = r#"[{"specversion":"1.0","id":"88cd52aa-33b6-4351-9aa4-47572edbd068","source":"intuit.dsnBgbseACLLRZNxo2dfc4evmEJdxde58xeeYcZliOU=","type":"qbo.salesreceipt.created.v1","datacontenttype":"application/json","time":"2025-09-10T21:31:25.179851517Z","intuitentityid":"1234","intuitaccountid":"310687","data":{}},
 {"specversion":"1.0","id":"e-2","type":"qbo.customer.merged.v1","time":"2025-09-11T06:31:25+09:00","intuitentityid":61,"intuitaccountid":"4620816365","data":{"deletedid":"58"}},
 {"specversion":"1.0","id":"e-3","type":"qbo.invoice.emailed","intuitentityid":"9","intuitaccountid":"310687"}]"#;

fn legacy_events() -> Value {
    json!([
        {"realm_id": "310687", "entity": "Invoice", "qbo_id": "1234", "operation": "create",
         "event_id": null, "occurred_at": "2025-09-08T20:52:31.657Z", "deleted_id": null},
        {"realm_id": "310687", "entity": "Customer", "qbo_id": "61", "operation": "merge",
         "event_id": null, "occurred_at": "2015-10-05T21:42:19Z", "deleted_id": "58"},
        {"realm_id": "9130350000000001", "entity": "SalesReceipt", "qbo_id": "77",
         "operation": "void", "event_id": null, "occurred_at": null, "deleted_id": null},
    ])
}

#[test]
fn deliveries_of_both_formats_are_judged_in_order() {
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(LEGACY).unwrap()).unwrap();
    let cafe = r#"{"eventNotifications":[{"realmId":"310687","dataChangeEvent":{"entities":[{"name":"Item","id":"5","operation":"Update","note":"café ☕"}]}}]}"#;
    let input = [
        signed("legacy", "intuit-signature", LEGACY),
        json!({"id": "cloud", "headers": {"Content-Type": "application/cloudevents+json",
               "Intuit-Signature": sign(CLOUD)}, "body": CLOUD}).to_string(),
        String::new(),
        // The same events re-serialised with other whitespace: the signature no longer matches.
        json!({"id": "reserialised", "headers": {"intuit-signature": sign(LEGACY)}, "body": pretty}).to_string(),
        json!({"id": "other-body", "headers": {"intuit-signature": sign(CLOUD)}, "body": LEGACY}).to_string(),
        json!({"id": "empty-header", "headers": {"intuit-signature": ""}, "body": LEGACY}).to_string(),
        json!({"id": "no-header", "headers": {"Content-Type": "application/json"}, "body": LEGACY}).to_string(),
        signed("odd-case", "iNTUIT-sIGNATURE", LEGACY),
        json!({"id": "newline", "headers": {"intuit-signature": format!("{}\n", sign(LEGACY))}, "body": LEGACY}).to_string(),
        json!({"id": "other-token", "headers": {"intuit-signature":
               VerifierToken::from("another-token").sign(LEGACY.as_bytes())}, "body": LEGACY}).to_string(),
        signed("utf8", "intuit-signature", cafe),
    ]
    .join("\n");
    let (out, text) = verdicts(&input);
    let ids: Vec<&str> = out.iter().map(|v| v["id"].as_str().unwrap_or("?")).collect();
    assert_eq!(
        ids,
        [
            "legacy",
            "cloud",
            "reserialised",
            "other-body",
            "empty-header",
            "no-header",
            "odd-case",
            "newline",
            "other-token",
            "utf8"
        ]
    );
    assert_eq!(out[0], json!({"id": "legacy", "accepted": true, "events": legacy_events()}));
    assert_eq!(
        out[1],
        json!({"id": "cloud", "accepted": true, "events": [
            {"realm_id": "310687", "entity": "SalesReceipt", "qbo_id": "1234", "operation": "create",
             "event_id": "88cd52aa-33b6-4351-9aa4-47572edbd068",
             "occurred_at": "2025-09-10T21:31:25.179851517Z", "deleted_id": null},
            {"realm_id": "4620816365", "entity": "Customer", "qbo_id": "61", "operation": "merge",
             "event_id": "e-2", "occurred_at": "2025-09-10T21:31:25Z", "deleted_id": "58"},
            {"realm_id": "310687", "entity": "Invoice", "qbo_id": "9", "operation": "emailed",
             "event_id": "e-3", "occurred_at": null, "deleted_id": null}]})
    );
    let code = |i: usize| out[i]["error"]["code"].as_str().unwrap_or("?").to_string();
    for (i, want) in [
        (2, "bad_signature"),
        (3, "bad_signature"),
        (4, "missing_signature"),
        (5, "missing_signature"),
        (8, "bad_signature"),
    ] {
        assert_eq!(out[i]["accepted"], false, "{}", out[i]);
        assert_eq!(code(i), want, "{}", out[i]);
        assert!(out[i]["error"]["message"].as_str().is_some_and(|m| m.len() > 20), "{}", out[i]);
        assert!(out[i].get("events").is_none(), "{}", out[i]);
    }
    assert!(out[2]["error"]["message"].as_str().unwrap().contains("verifier token"));
    assert_eq!(out[6], json!({"id": "odd-case", "accepted": true, "events": legacy_events()}));
    assert_eq!(out[7], json!({"id": "newline", "accepted": true, "events": legacy_events()}));
    assert_eq!(out[9]["accepted"], true, "{}", out[9]);
    assert_eq!(out[9]["events"][0]["entity"], "Item");
    assert!(!text.contains(TOKEN), "the token is shown: {text}");
}

#[test]
fn malformed_deliveries_and_lines_are_refused_and_the_stream_goes_on() {
    let unknown_verb = r#"[{"specversion":"1.0","id":"x","type":"qbo.invoice.frobbed.v1","intuitentityid":"1","intuitaccountid":"2"}]"#;
    let no_realm = r#"{"eventNotifications":[{"realmId":"","dataChangeEvent":{"entities":[{"name":"Invoice","id":"1","operation":"Create"}]}}]}"#;
    let bad_time = r#"{"eventNotifications":[{"realmId":"1","dataChangeEvent":{"entities":[{"name":"Invoice","id":"1","operation":"Create","lastUpdated":"2025-09-08T20:52:31"}]}}]}"#;
    let input = [
        signed("not-json", "intuit-signature", "eventNotifications=1"),
        signed("unknown-verb", "intuit-signature", unknown_verb),
        signed("no-realm", "intuit-signature", no_realm),
        signed("bad-time", "intuit-signature", bad_time),
        signed("neither", "intuit-signature", r#"{"events": []}"#),
        // Unsigned and malformed: the signature is checked first.
        json!({"id": "unsigned-junk", "body": "junk"}).to_string(),
        "{not json at all".to_string(),
        json!({"id": 7, "headers": {"intuit-signature": sign(LEGACY)}}).to_string(),
        json!({"id": "body-object", "headers": {}, "body": {"eventNotifications": []}}).to_string(),
        signed("empty-cloud", "intuit-signature", "[]"),
        signed("empty-legacy", "intuit-signature", r#"{"eventNotifications": []}"#),
        signed(
            "realm-without-entities",
            "intuit-signature",
            r#"{"eventNotifications":[{"realmId":"1","dataChangeEvent":{"entities":[]}}]}"#,
        ),
    ]
    .join("\n");
    let (out, _) = verdicts(&input);
    assert_eq!(out.len(), 12, "{out:?}");
    for (i, id, code) in [
        (0, json!("not-json"), "malformed_payload"),
        (1, json!("unknown-verb"), "malformed_payload"),
        (2, json!("no-realm"), "malformed_payload"),
        (3, json!("bad-time"), "malformed_payload"),
        (4, json!("neither"), "malformed_payload"),
        (5, json!("unsigned-junk"), "missing_signature"),
        (6, Value::Null, "malformed_payload"),
        (7, json!(7), "malformed_payload"),
        (8, json!("body-object"), "malformed_payload"),
    ] {
        assert_eq!(out[i]["id"], id, "{}", out[i]);
        assert_eq!(out[i]["accepted"], false, "{}", out[i]);
        assert_eq!(out[i]["error"]["code"], code, "{}", out[i]);
    }
    assert!(out[1]["error"]["message"].as_str().unwrap().contains("frobbed"));
    assert!(out[2]["error"]["message"].as_str().unwrap().contains("eventNotifications[0]"));
    for (i, id) in [(9, "empty-cloud"), (10, "empty-legacy"), (11, "realm-without-entities")] {
        assert_eq!(out[i], json!({"id": id, "accepted": true, "events": []}));
    }
}

#[test]
fn the_token_is_required() {
    let out = run(&[], "");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--verifier-token"));
}
