//! Table tests: every realistic block in `tests/fixtures/address/blocks.jsonl` (U.S. with
//! territories and military, Canada, the UK, Ireland, Australia, New Zealand, continental
//! Europe, Latin America, Japan, Singapore, South Africa, structured QBO addresses, and malformed
//! input) must parse to exactly the expected eight fields, or fail with exactly the expected code.
//! The same file drives the example binary's test; `tools/gen_address_table.py` writes it (the
//! rows of issue 13 are in `tools/address_table_issue13.py`, each with a `source` saying where
//! its shape comes from, and a `default_country`, the company's country, where it matters).

use qbo_ordoro::address::{
    AddressContext, AddressErrorCode, ParsedAddress, parse_address, parse_lines,
};
use qbo_ordoro::model::qbo::PhysicalAddress;
use serde_json::Value;

const FIELDS: [&str; 8] =
    ["name", "company", "street1", "street2", "city", "state", "zip", "country"];

fn cases() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/address/blocks.jsonl");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad case {l}: {e}")))
        .collect()
}

fn customer(case: &Value) -> AddressContext {
    let field = |k: &str| {
        case.get("customer").and_then(|c| c.get(k)).and_then(Value::as_str).map(str::to_string)
    };
    AddressContext {
        display_name: field("display_name"),
        company_name: field("company_name"),
        default_country: case.get("default_country").and_then(Value::as_str).map(str::to_string),
    }
}

fn run(case: &Value) -> Result<ParsedAddress, AddressErrorCode> {
    let ctx = customer(case);
    let result = if let Some(lines) = case.get("lines").and_then(Value::as_array) {
        let lines: Vec<&str> = lines.iter().map(|l| l.as_str().unwrap_or("")).collect();
        parse_lines(&lines, &ctx)
    } else {
        let addr: PhysicalAddress = serde_json::from_value(case["shipaddr"].clone())
            .unwrap_or_else(|e| panic!("bad shipaddr in {case}: {e}"));
        parse_address(&addr, &ctx)
    };
    result.map_err(|e| e.code)
}

fn field(p: &ParsedAddress, name: &str) -> Option<String> {
    match name {
        "name" => p.name.clone(),
        "company" => p.company.clone(),
        "street1" => p.street1.clone(),
        "street2" => p.street2.clone(),
        "city" => p.city.clone(),
        "state" => p.state.clone(),
        "zip" => p.zip.clone(),
        "country" => p.country.clone(),
        _ => None,
    }
}

/// Checks every case of one group (cases whose id or expected country matches) and reports all
/// mismatches at once.
fn check(filter: impl Fn(&Value) -> bool) -> usize {
    let mut failures = Vec::new();
    let mut count = 0;
    for case in cases().iter().filter(|c| filter(c)) {
        count += 1;
        let got = run(case);
        match (case.get("expect"), case.get("expect_error").and_then(Value::as_str), got) {
            (Some(want), _, Ok(p)) => {
                for f in FIELDS {
                    let w = want.get(f).and_then(Value::as_str).map(str::to_string);
                    let g = field(&p, f);
                    if w != g {
                        failures.push(format!("{}: {f}: want {w:?}, got {g:?}", case["id"]));
                    }
                }
            }
            (Some(_), _, Err(code)) => {
                failures.push(format!("{}: want fields, got error {}", case["id"], code.as_str()))
            }
            (None, Some(want), Err(code)) if code.as_str() == want => {}
            (None, Some(want), got) => {
                failures.push(format!("{}: want error {want}, got {got:?}", case["id"]))
            }
            (None, None, _) => failures.push(format!("{}: case has no expectation", case["id"])),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    count
}

fn country_is(case: &Value, codes: &[&str]) -> bool {
    case.get("expect")
        .and_then(|e| e.get("country"))
        .and_then(Value::as_str)
        .is_some_and(|c| codes.contains(&c))
        && case.get("lines").is_some()
}

#[test]
fn united_states_territories_and_military() {
    let n = check(|c| country_is(c, &["US"]));
    assert!(n >= 200, "only {n} U.S. cases");
}

#[test]
fn canada() {
    assert!(check(|c| country_is(c, &["CA"])) >= 40);
}

#[test]
fn united_kingdom_and_ireland() {
    assert!(check(|c| country_is(c, &["GB", "IE"])) >= 40);
}

#[test]
fn australia_and_new_zealand() {
    assert!(check(|c| country_is(c, &["AU", "NZ"])) >= 25);
}

#[test]
fn continental_europe() {
    let europe = [
        "DE", "AT", "CH", "FR", "BE", "NL", "IT", "ES", "PT", "SE", "NO", "DK", "FI", "PL", "CZ",
        "GR", "LU", "HR", "HU", "IS",
    ];
    assert!(check(|c| country_is(c, &europe)) >= 80);
}

#[test]
fn latin_america_asia_and_africa() {
    let rest = [
        "MX", "BR", "AR", "CL", "CO", "PE", "CR", "JP", "SG", "ZA", "HK", "IN", "AE", "KR", "CN",
        "IL",
    ];
    assert!(check(|c| country_is(c, &rest)) >= 40);
}

#[test]
fn structured_and_mixed_qbo_addresses() {
    assert!(check(|c| c.get("shipaddr").is_some()) >= 30);
}

#[test]
fn every_error_code_where_an_error_is_due() {
    let n = check(|c| c.get("expect_error").is_some() && c.get("lines").is_some());
    assert!(n >= 60, "only {n} error cases");
    let codes: std::collections::BTreeSet<String> = cases()
        .iter()
        .filter_map(|c| c.get("expect_error").and_then(Value::as_str).map(str::to_string))
        .collect();
    for code in [
        "empty_input",
        "missing_street_line",
        "missing_city_line",
        "missing_state",
        "missing_postal_code",
        "missing_country",
        "unknown_country",
        "invalid_postal_code",
        "too_many_lines",
        "line_too_long",
    ] {
        assert!(codes.contains(code), "no case for {code}");
    }
}

#[test]
fn the_table_is_large() {
    assert!(cases().len() >= 500);
}

#[test]
fn raw_lines_and_warnings_are_kept() {
    let lines = ["Linda Park", "", "200 E Randolph St", "Chicago, IL 60601", "(312) 555-0100"];
    let p = parse_lines(&lines, &AddressContext::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.raw_lines,
        vec!["Linda Park", "200 E Randolph St", "Chicago, IL 60601", "(312) 555-0100"]
    );
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0].contains("phone"), "{:?}", p.warnings);
}

#[test]
fn errors_keep_raw_lines_and_say_what_to_do() {
    let err =
        parse_lines(&["Jane Doe", "123 Main St", "Springfield, IL"], &AddressContext::default())
            .err()
            .unwrap_or_else(|| panic!("expected an error"));
    assert_eq!(err.code, AddressErrorCode::MissingPostalCode);
    assert_eq!(err.raw_lines.len(), 3);
    assert!(err.to_string().starts_with("missing_postal_code: "), "{err}");
}

#[test]
fn a_single_line_with_line_breaks_is_split() {
    let addr = PhysicalAddress {
        line1: Some("Jane Doe\n500 Market St\r\nSan Francisco, CA 94105".into()),
        ..Default::default()
    };
    let p = parse_address(&addr, &AddressContext::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.street1.as_deref(), Some("500 Market St"));
    assert_eq!(p.city.as_deref(), Some("San Francisco"));
}

#[test]
fn the_fuzz_entry_accepts_the_seed_corpus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/address_block");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}")).flatten() {
        // Only the named seeds; a local fuzzing run adds thousands of inputs named by their SHA-1.
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let data = std::fs::read(entry.path()).unwrap_or_default();
        qbo_ordoro::fuzz::address_block(&data);
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} seeds");
}

#[test]
fn every_issue_13_class_has_rows_that_say_where_they_come_from() {
    let all = cases();
    let sourced: Vec<&Value> = all.iter().filter(|c| c.get("source").is_some()).collect();
    for class in [
        "company's structured ship-to without Country",
        "free-form block without a country line",
        "another language or its own",
        "repeats the country's code",
        "invisible characters",
        "emoji or other symbols",
        "spaces its format does not have",
        "without the space its format has",
        "no punctuation where a comma",
        "three lines of their own",
        "c/o and Attn:",
        "Puerto Rico urbanization",
        "begins with digits",
    ] {
        let n = sourced
            .iter()
            .filter(|c| c["source"].as_str().is_some_and(|s| s.contains(class)))
            .count();
        assert!(n >= 3, "only {n} rows for {class}");
    }
    assert!(all.iter().filter(|c| c.get("default_country").is_some()).count() >= 20);
    // Every row of the class runs in the groups above; here the whole of it, exactly.
    let ids: std::collections::BTreeSet<String> =
        sourced.iter().map(|c| c["id"].to_string()).collect();
    check(|c| ids.contains(&c["id"].to_string()));
}

fn error_of(lines: &[&str], default_country: Option<&str>) -> qbo_ordoro::address::AddressError {
    let ctx = AddressContext {
        default_country: default_country.map(str::to_string),
        ..Default::default()
    };
    parse_lines(lines, &ctx).err().unwrap_or_else(|| panic!("{lines:?} parsed"))
}

#[test]
fn an_incomplete_address_says_what_is_missing_and_how_to_fix_it() {
    let cases: [(&[&str], Option<&str>, AddressErrorCode, &str); 8] = [
        (
            &["Jack Wilson", "12 Hay St", "Perth WA"],
            Some("AU"),
            AddressErrorCode::MissingPostalCode,
            "the city line `Perth WA` has no postcode; add the 4-digit postcode after the state \
             in this address in QuickBooks",
        ),
        (
            &["Jane Roe", "12 Oak Ave", "Springfield, IL"],
            None,
            AddressErrorCode::MissingPostalCode,
            "the city line `Springfield, IL` has no ZIP code; add the 5-digit ZIP code (or \
             ZIP+4) after the state in this address in QuickBooks",
        ),
        (
            &["Jane Roe", "12 Oak Ave", "Springfield 62704"],
            None,
            AddressErrorCode::MissingState,
            "the city line `Springfield 62704` has no state; add the 2-letter state code (`IL`, \
             `CA`, `NY`, ...) between the city and the ZIP code, as in `City, ST 12345`, in this \
             address in QuickBooks",
        ),
        (
            &["Hans Müller", "Hauptstraße 5", "Berlin", "Germany"],
            None,
            AddressErrorCode::MissingPostalCode,
            "the city line `Berlin` has no postcode; add the 5-digit postcode before the city in \
             this address in QuickBooks",
        ),
        (
            &["Jane Roe", "12 Oak Ave", "Boston, MA 2110"],
            None,
            AddressErrorCode::InvalidPostalCode,
            "the ZIP code in the city line `Boston, MA 2110` is not a valid U.S. ZIP code; correct \
             it to a 5-digit ZIP code (or ZIP+4) in this address in QuickBooks",
        ),
        (
            &["Jane Roe", "12 Oak Ave", "Springfield, IL 62704", "Narnia"],
            None,
            AddressErrorCode::UnknownCountry,
            "the last line `Narnia` names no country; write the country's name or its ISO code \
             (`DE`, `FR`, ...) as the last line in this address in QuickBooks",
        ),
        (
            &["Hans Müller", "Hauptstraße 5", "10115 Berlin"],
            Some("Germany"),
            AddressErrorCode::UnknownCountry,
            "the company's country setting `Germany` is not an ISO 3166-1 alpha-2 code, so an \
             address without a country line cannot be placed; set the company's country to a \
             two-letter code such as `US` or `AU` (or add the country in this address in \
             QuickBooks)",
        ),
        (
            &["Jane Roe", "Springfield, IL 62704"],
            None,
            AddressErrorCode::MissingStreetLine,
            "no street line was found above the city line `Springfield, IL 62704`; add the \
             street (number and street name, or a PO box) on a line of its own above the city \
             line in this address in QuickBooks",
        ),
    ];
    for (lines, default, code, message) in cases {
        let err = error_of(lines, default);
        assert_eq!((err.code, err.message.as_str()), (code, message), "{lines:?}");
    }
    let structured = PhysicalAddress {
        line1: Some("12 Hay St".into()),
        city: Some("Perth".into()),
        country_sub_division_code: Some("WA".into()),
        ..Default::default()
    };
    let ctx = AddressContext { default_country: Some("AU".into()), ..Default::default() };
    let err = parse_address(&structured, &ctx).err().unwrap_or_else(|| panic!("parsed"));
    assert_eq!(
        err.message,
        "the address (City `Perth`, State `WA`, Postal code empty) has no postcode; fill in the \
         4-digit postcode in the Postal code field in this address in QuickBooks"
    );
}

#[test]
fn the_log_entry_of_an_incomplete_ship_to_reads_as_one_sentence() {
    use qbo_ordoro::mapping::{Decision, MappingConfig, decide};
    use qbo_ordoro::model::qbo::{EntityKind, SalesTransaction, Transaction};
    let doc: SalesTransaction = serde_json::from_value(serde_json::json!({
        "Id": "7", "SyncToken": "0",
        "ClassRef": {"value": "1", "name": "Ordoro"},
        "CustomerRef": {"value": "58", "name": "Jack Wilson"},
        "ShipAddr": {"Line1": "12 Hay St", "City": "Perth", "CountrySubDivisionCode": "WA"},
        "Line": [{"Id": "1", "Amount": 10, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": "1", "name": "Widget"}, "Qty": 1, "UnitPrice": 10}}],
        "TotalAmt": 10
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let txn = Transaction { kind: EntityKind::Invoice, doc };
    let config = MappingConfig::default().with_company_country(Some("AU"));
    match decide(&txn, &config) {
        Decision::Error { code, message } => {
            assert_eq!(code.as_str(), "missing_postal_code");
            assert_eq!(
                message,
                "ship-to: the address (City `Perth`, State `WA`, Postal code empty) has no \
                 postcode; fill in the 4-digit postcode in the Postal code field in this address \
                 in QuickBooks"
            );
        }
        other => panic!("{other:?}"),
    }
}
