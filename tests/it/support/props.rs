//! The one proptest configuration of every property in `tests/it`: a failure is persisted beside
//! the test's source file (`tests/it/NAME.proptest-regressions`), committed there, and replayed
//! first on every run. proptest's default (`SourceParallel`) would write it to
//! `tests/proptest-regressions/NAME.txt` instead, a file nothing in the suite reads back.
//! `address_props::every_committed_regression_file_is_replayed` holds every property to it.

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::{Map, Value, json};

/// Failures kept beside the source: `tests/it/NAME.rs` → `tests/it/NAME.proptest-regressions`.
pub const PERSISTENCE: FileFailurePersistence =
    FileFailurePersistence::WithSource("proptest-regressions");

/// `cases` cases, failures persisted (and replayed) beside the source.
pub fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: Some(Box::new(PERSISTENCE)), ..Config::default() }
}

/// Any JSON document up to five levels deep whose object keys come from `keys` and whose
/// strings are often from `words` (the names and values a reader looks for, so that the cases
/// reach past the first check), else arbitrary: for the "no document makes it panic" properties.
pub fn json_tree(
    keys: &'static [&'static str],
    words: &'static [&'static str],
) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e30f64..1e30).prop_map(|f| json!(f)),
        prop::sample::select(words).prop_map(|w| json!(w)),
        "\\PC{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(keys), inner), 0..8).prop_map(|kv| {
                let map: Map<String, Value> =
                    kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                Value::Object(map)
            }),
        ]
    })
}
