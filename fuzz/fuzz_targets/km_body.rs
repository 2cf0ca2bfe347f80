//! Key Manager form-encoded and JSON bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = licensd_server::fuzzing::km_body(data);
});
