//! Bytes -> a QBO webhook delivery's body -> both formats' reader, and the signature check
//! before it. The body is `qbo_ordoro::fuzz::webhook_delivery`, which the test suite also
//! replays over the corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = qbo_ordoro::fuzz::webhook_delivery(data);
});
