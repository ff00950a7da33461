//! Bytes -> a QBO response (status and content type from the first two bytes, the rest as the
//! body) -> the QBO client's fault reading, 401 refresh, retries and page decoding. The body is
//! `qbo_ordoro::fuzz::qbo_fault_body`, which the test suite also replays over the corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = qbo_ordoro::fuzz::qbo_fault_body(data);
});
