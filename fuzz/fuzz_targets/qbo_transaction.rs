//! Bytes -> `QboDocument::from_json` -> `decide` for every transaction -> encoded order bodies
//! and preview lines. The body is `qbo_ordoro::fuzz::qbo_transaction`, which the test
//! suite also runs. `cargo fuzz run -s none qbo_transaction` works on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = qbo_ordoro::fuzz::qbo_transaction(data);
});
