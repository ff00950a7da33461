//! The copied fixtures, shared by the test files: the QBO documents by name, and a validator for
//! Ordoro's `post_order_v1` schema with its `v1_address` and `v1_order_line_product` references
//! inlined under `components.schemas` (how the published schema file refers to them).
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::{Value, json};

/// `tests/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The fixtures directory of QBO documents.
pub fn qbo_fixtures_dir() -> PathBuf {
    fixtures_dir().join("qbo")
}

/// Every QBO fixture file, sorted by name, with its text.
pub fn qbo_fixtures() -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(qbo_fixtures_dir())
        .expect("tests/fixtures/qbo exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// A validator for Ordoro's `post_order_v1` body (draft 7, formats checked).
pub fn post_order_validator() -> jsonschema::Validator {
    let dir = fixtures_dir().join("ordoro/json-schema");
    let read = |f: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap()
    };
    let mut root = read("ordoro-post_order_v1-schema.json");
    root["components"] = json!({"schemas": {
        "v1_address": read("ordoro-v1_address-schema.json"),
        "v1_order_line_product": read("ordoro-v1_order_line_product-schema.json"),
    }});
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .build(&root)
        .expect("the post_order_v1 schema compiles")
}
