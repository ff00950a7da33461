//! Runs `examples/parse_address.rs` as a subprocess, as a user would (`cargo run --example
//! parse_address`), and checks its JSON lines: fields, errors, echoed ids, skipped blank lines,
//! malformed input; then scores it on the whole table in `tests/fixtures/address/blocks.jsonl`.

use serde_json::{Value, json};

use crate::support::examples;

fn run_example(input: &str) -> Vec<Value> {
    run_example_bytes(input.as_bytes())
}

fn run_example_bytes(input: &[u8]) -> Vec<Value> {
    let out = examples::run_example("parse_address", &[], input);
    assert!(out.status.success(), "example failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn example_writes_one_json_line_per_input() {
    let input = [
        json!({"id": 1, "lines": ["Kate Whelan", "45 First St.", "Menlo Park, CA  94304 USA"]}).to_string(),
        String::new(),
        json!({"id": "b-2", "shipaddr": {"Line1": "36 Willow Rd", "City": "Menlo Park", "CountrySubDivisionCode": "CA", "PostalCode": "94304"},
               "customer": {"display_name": "Mark Cho"}}).to_string(),
        json!({"id": [3], "lines": ["Jane Doe", "123 Main St", "Springfield, IL"]}).to_string(),
        "{not json".to_string(),
        json!({"id": 5}).to_string(),
        json!({"id": null, "lines": ["Oliver Smith", "10 Downing Street", "London", "SW1A 2AA", "UK"]}).to_string(),
    ]
    .join("\n");
    let out = run_example(&input);
    assert_eq!(out.len(), 6, "{out:?}");
    assert_eq!(
        out[0],
        json!({"id": 1, "name": "Kate Whelan", "company": null, "street1": "45 First St.", "street2": null,
               "city": "Menlo Park", "state": "CA", "zip": "94304", "country": "US"})
    );
    assert_eq!(
        out[1],
        json!({"id": "b-2", "name": "Mark Cho", "company": null, "street1": "36 Willow Rd", "street2": null,
               "city": "Menlo Park", "state": "CA", "zip": "94304", "country": "US"})
    );
    assert_eq!(out[2]["id"], json!([3]));
    assert_eq!(out[2]["error"]["code"], "missing_postal_code");
    assert!(out[2]["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(out[3]["id"], Value::Null);
    assert_eq!(out[3]["error"]["code"], "malformed_input");
    assert_eq!(out[4]["id"], 5);
    assert_eq!(out[4]["error"]["code"], "empty_input");
    assert_eq!(out[5]["zip"], "SW1A 2AA");
    assert_eq!(out[5]["country"], "GB");
}

#[test]
fn example_scores_the_whole_table_exactly() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/address/blocks.jsonl");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let cases: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let input: Vec<String> = cases
        .iter()
        .map(|c| {
            let mut c = c.clone();
            if let Some(obj) = c.as_object_mut() {
                obj.remove("expect");
                obj.remove("expect_error");
            }
            c.to_string()
        })
        .collect();
    let out = run_example(&input.join("\n"));
    assert_eq!(out.len(), cases.len());
    let mut wrong = Vec::new();
    for (case, got) in cases.iter().zip(&out) {
        assert_eq!(case["id"], got["id"]);
        let right = match (case.get("expect"), case.get("expect_error")) {
            (Some(want), _) => {
                ["name", "company", "street1", "street2", "city", "state", "zip", "country"]
                    .iter()
                    .all(|f| want[*f] == got[*f])
            }
            (None, Some(code)) => got["error"]["code"] == *code,
            _ => false,
        };
        if !right {
            wrong.push(format!("{} -> {got}", case["id"]));
        }
    }
    assert!(wrong.is_empty(), "{} of {} wrong:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
}

#[test]
fn example_reads_blocks_in_the_default_country() {
    let input = [
        json!({"id": 1, "lines": ["Jack Wilson", "12 Hay St", "Perth 6004"], "default_country": "AU"}),
        json!({"id": 2, "lines": ["Jack Wilson", "12 Hay St", "Perth 6004"]}),
        json!({"id": 3, "shipaddr": {"Line1": "12 Hay St", "City": "Perth", "CountrySubDivisionCode": "Western Australia", "PostalCode": "6004"},
               "customer": {"display_name": "Jack Wilson"}, "default_country": "AU"}),
        json!({"id": 4, "lines": ["Hans Müller", "Hauptstraße 5", "10115 Berlin"], "default_country": "DE"}),
        json!({"id": 5, "lines": ["Jane Roe", "12 Oak Ave", "Springfield, IL 62704"], "default_country": "AU"}),
        json!({"id": 6, "lines": ["Hans Müller", "Hauptstraße 5", "10115 Berlin"], "default_country": "Germany"}),
        json!({"id": 7, "lines": ["Jack Wilson", "12 Hay St", "Perth WA"], "default_country": "AU"}),
    ]
    .map(|v| v.to_string())
    .join("\n");
    let out = run_example(&input);
    assert_eq!(out.len(), 7, "{out:?}");
    assert_eq!(
        out[0],
        json!({"id": 1, "name": "Jack Wilson", "company": null, "street1": "12 Hay St", "street2": null,
               "city": "Perth", "state": null, "zip": "6004", "country": "AU"})
    );
    // Without the member the block is read as before: a city line that names no country.
    assert_eq!(out[1]["error"]["code"], "missing_country");
    assert_eq!(
        out[2],
        json!({"id": 3, "name": "Jack Wilson", "company": null, "street1": "12 Hay St", "street2": null,
               "city": "Perth", "state": "WA", "zip": "6004", "country": "AU"})
    );
    assert_eq!(
        (&out[3]["city"], &out[3]["zip"], &out[3]["country"]),
        (&json!("Berlin"), &json!("10115"), &json!("DE"))
    );
    assert_eq!(out[4]["country"], "US");
    assert_eq!(out[5]["error"]["code"], "unknown_country");
    let bad = out[5]["error"]["message"].as_str().unwrap_or("");
    assert!(bad.contains("`Germany`") && bad.contains("ISO"), "{bad}");
    assert_eq!(out[6]["error"]["code"], "missing_postal_code");
    assert_eq!(
        out[6]["error"]["message"],
        "the city line `Perth WA` has no postcode; add the 4-digit postcode after the state in \
         this address in QuickBooks"
    );
}

#[test]
fn example_answers_a_line_that_is_not_utf8_and_goes_on() {
    let mut input = Vec::new();
    input.extend_from_slice(
        json!({"id": 1, "lines": ["Kate Whelan", "45 First St.", "Menlo Park, CA  94304"]})
            .to_string()
            .as_bytes(),
    );
    input.extend_from_slice(b"\n{\"id\": 2, \"lines\": [\"Caf\xe9 \xff\"]}\n");
    input.extend_from_slice(
        json!({"id": 3, "lines": ["Oliver Smith", "10 Downing Street", "London SW1A 2AA"]})
            .to_string()
            .as_bytes(),
    );
    input.push(b'\n');
    let out = run_example_bytes(&input);
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0]["city"], "Menlo Park");
    assert_eq!(out[1]["id"], Value::Null);
    assert_eq!(out[1]["error"]["code"], "malformed_input");
    assert_eq!(out[2]["country"], "GB");
}
