//! The one proptest configuration of every property in `tests/it`: a failure is persisted beside
//! the test's source file (`tests/it/NAME.proptest-regressions`), committed there, and replayed
//! first on every run. proptest's default (`SourceParallel`) would write it to
//! `tests/proptest-regressions/NAME.txt` instead, a file nothing in the suite reads back.
//! `address_props::every_committed_regression_file_is_replayed` holds every property to it.

use proptest::test_runner::{Config, FileFailurePersistence};

/// Failures kept beside the source: `tests/it/NAME.rs` → `tests/it/NAME.proptest-regressions`.
pub const PERSISTENCE: FileFailurePersistence =
    FileFailurePersistence::WithSource("proptest-regressions");

/// `cases` cases, failures persisted (and replayed) beside the source.
pub fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: Some(Box::new(PERSISTENCE)), ..Config::default() }
}
