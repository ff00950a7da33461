//! Snapshots of parsed addresses: every `BillAddr`/`ShipAddr` in the QBO fixtures
//! (`tests/fixtures/qbo/*.json`), and a set of blocks covering each layout, with warnings and
//! raw lines. Review changes with `cargo insta review` (or `INSTA_UPDATE=always`).

use qbo_ordoro::address::{AddressContext, parse_address, parse_lines};
use qbo_ordoro::model::qbo::PhysicalAddress;
use serde_json::{Value, json};

fn outcome(
    result: Result<qbo_ordoro::address::ParsedAddress, qbo_ordoro::address::AddressError>,
) -> Value {
    match result {
        Ok(p) => serde_json::to_value(p).unwrap_or(Value::Null),
        Err(e) => {
            json!({"error": {"code": e.code.as_str(), "message": e.message, "raw_lines": e.raw_lines}})
        }
    }
}

/// Every address object under a `BillAddr` or `ShipAddr` key, in document order.
fn addresses(v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                if k == "BillAddr" || k == "ShipAddr" {
                    out.push((k.clone(), val.clone()));
                } else {
                    addresses(val, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| addresses(i, out)),
        _ => {}
    }
}

#[test]
fn qbo_fixture_addresses() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/qbo");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let doc: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let mut found = Vec::new();
        addresses(&doc, &mut found);
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for (key, addr) in found {
            let parsed: PhysicalAddress = serde_json::from_value(addr.clone()).unwrap_or_default();
            let result = outcome(parse_address(&parsed, &AddressContext::default()));
            all.push(json!({"file": name, "field": key, "input": addr, "result": result}));
        }
    }
    assert!(all.len() >= 15, "only {} addresses found", all.len());
    insta::assert_json_snapshot!("qbo_fixture_addresses", all);
}

const BLOCKS: &[&[&str]] = &[
    &["Kate Whelan", "45 First St.", "Menlo Park, CA  94304 USA"],
    &["ACME Corp", "Attn: Jane Doe", "500 Market St", "Suite 200", "San Francisco, CA 94105-2217"],
    &["Jane Doe", "c/o ACME Corp", "500 Market St", "San Francisco, CA 94105", "jane@example.com"],
    &["SPC Jane Roe", "PSC 1234, Box 5678", "APO AE 09012"],
    &["Luis Rivera", "1050 Ave Ponce de Leon", "San Juan 00907", "Puerto Rico"],
    &["Emma Tremblay", "290 Bremner Blvd", "Toronto, Ontario M5V3L9", "CA"],
    &["Luc Gagnon", "1000 rue De La Gauchetière O", "Montréal (Québec) H3B 4W5", "Canada"],
    &["Oliver Smith", "10 Downing Street", "London", "SW1A 2AA", "UK"],
    &["Amelia Jones", "14 High Street", "Guildford, Surrey GU1 3AJ", "United Kingdom"],
    &["Siobhan Murphy", "1 Grafton Street", "Dublin 2 D02 X285", "Éire"],
    &["Jack Wilson", "Level 5", "1 Macquarie St", "Sydney NSW 2000", "Australia"],
    &["Aroha Ngata", "1 Queen Street", "Auckland 1010", "New Zealand"],
    &["Hans Müller", "Hauptstraße 5", "D-80331 München", "Deutschland"],
    &["Lukas Meier", "Bahnhofstrasse 1", "CH-8001 Zürich", "Schweiz"],
    &["Camille Martin", "8 Rue du Faubourg Saint-Honoré", "75008 Paris", "France"],
    &["Lotte de Vries", "Damrak 1", "1012lg Amsterdam", "Nederland"],
    &["Marco Rossi", "Via Montenapoleone 8", "20121 Milano (MI)", "Italia"],
    &["Erik Andersson", "Drottninggatan 1", "11151 Stockholm", "Sverige"],
    &[
        "Sofía Hernández",
        "Paseo de la Reforma 222",
        "Col. Juárez",
        "06600 Ciudad de México, CDMX",
        "México",
    ],
    &["Pedro Souza", "Av. Paulista, 1578", "01310-200 São Paulo - SP", "Brasil"],
    &["Taro Yamada", "1-1 Chiyoda", "Chiyoda-ku, Tokyo 100-0001", "日本"],
    &["Wei Tan", "10 Bayfront Avenue", "Singapore 018956"],
    &["Thabo Nkosi", "1 Adderley Street", "Cape Town", "8001", "South Africa"],
    &["Jane Doe", "Unter den Linden 77", "10117 Berlin"],
    &["Jane Doe", "123 Main St", "Springfield, IL 6270"],
    &["Jane Doe", "123 Main St", "Springfield, IL 62704", "Narnia"],
    &["A", "B", "C", "D", "E", "F"],
];

#[test]
fn blocks_in_every_layout() {
    let ctx = AddressContext::default();
    let all: Vec<Value> = BLOCKS
        .iter()
        .map(|lines| json!({"lines": lines, "result": outcome(parse_lines(lines, &ctx))}))
        .collect();
    insta::assert_json_snapshot!("blocks_in_every_layout", all);
}

#[test]
fn customer_context_tells_name_from_company() {
    let ctx = AddressContext {
        display_name: Some("Karen Pye".into()),
        company_name: Some("Pye's Cakes".into()),
        ..Default::default()
    };
    let blocks: &[&[&str]] = &[
        &["Pye's Cakes", "Karen Pye", "350 Mountain View Dr.", "South Orange, NJ  07079"],
        &["Pye's Cakes", "350 Mountain View Dr.", "South Orange, NJ  07079"],
        &["350 Mountain View Dr.", "South Orange, NJ  07079"],
    ];
    let all: Vec<Value> = blocks
        .iter()
        .map(|lines| json!({"lines": lines, "result": outcome(parse_lines(lines, &ctx))}))
        .collect();
    insta::assert_json_snapshot!("customer_context", all);
}
