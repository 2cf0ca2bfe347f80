//! LicenseSpring HMAC `Authorization` and `Date` headers (first line, second line).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = licensd_server::fuzzing::ls_auth_headers(data);
});
