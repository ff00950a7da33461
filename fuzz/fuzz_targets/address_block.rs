//! Splits the input into lines, parses them as a free-form block, and as a structured and a
//! mixed QBO address; the parser must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    qbo_ordoro::address::fuzz_entry(data);
});
