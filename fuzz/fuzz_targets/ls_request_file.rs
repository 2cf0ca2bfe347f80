//! LicenseSpring offline request files: Content-Type line, then the raw or multipart body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = licensd_server::fuzzing::ls_request_file(data);
});
