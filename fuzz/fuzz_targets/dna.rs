//! DNA request paths (first line) and Basic auth values (second line).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = licensd_server::fuzzing::dna(data);
});
