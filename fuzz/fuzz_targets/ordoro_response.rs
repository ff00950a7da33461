//! Bytes -> an Ordoro response (status and headers from the first two bytes, the rest as the
//! body) -> the Ordoro client's decoding of orders, lists and errors, and the engine's lookup.
//! The body is `qbo_ordoro::fuzz::ordoro_response`, which the test suite also replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = qbo_ordoro::fuzz::ordoro_response(data);
});
