//! Bytes -> lines of a QBO address block -> the address parser, free-form, structured and mixed.
//! The body is `qbo_ordoro::fuzz::address_block`, which the test suite also replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    qbo_ordoro::fuzz::address_block(data);
});
