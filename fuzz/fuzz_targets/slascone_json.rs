//! SLASCONE provisioning JSON bodies and ISV/GUID path ids.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = licensd_server::fuzzing::slascone_json(data);
});
