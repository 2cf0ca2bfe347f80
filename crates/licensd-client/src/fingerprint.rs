//! A stable, private machine fingerprint: the operating system's machine id, keyed with an
//! application-specific salt through HMAC-SHA256, so the raw id never leaves the machine and two
//! vendors' applications on one machine report unrelated fingerprints.

use crate::ClientError;

/// The fingerprint for `machine_id` under `app_salt`: lowercase hex of
/// HMAC-SHA256(key = app_salt, message = trimmed machine id).
pub fn fingerprint_from_machine_id(machine_id: &str, app_salt: &[u8]) -> String {
    licensd_crypto::hex(&licensd_crypto::hmac_sha256(app_salt, machine_id.trim().as_bytes()))
}

/// This machine's fingerprint for an application (`app_salt` is a constant the vendor picks
/// once per product and never changes).
///
/// Linux and the BSDs: `/etc/machine-id` (or `/var/lib/dbus/machine-id`); macOS: the
/// `IOPlatformUUID`; Windows: `MachineGuid` from the registry.
pub fn machine_fingerprint(app_salt: &[u8]) -> Result<String, ClientError> {
    let id = machine_id()?;
    Ok(fingerprint_from_machine_id(&id, app_salt))
}

/// The raw machine id of this machine.
pub fn machine_id() -> Result<String, ClientError> {
    for path in ["/etc/machine-id", "/var/lib/dbus/machine-id", "/etc/hostid"] {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.trim().is_empty()
        {
            return Ok(text.trim().to_string());
        }
    }
    if cfg!(target_os = "macos")
        && let Some(id) = command_value("ioreg", &["-rd1", "-c", "IOPlatformExpertDevice"], "IOPlatformUUID")
    {
        return Ok(id);
    }
    if cfg!(windows)
        && let Some(id) = command_value(
            "reg",
            &["query", r"HKLM\SOFTWARE\Microsoft\Cryptography", "/v", "MachineGuid"],
            "MachineGuid",
        )
    {
        return Ok(id);
    }
    Err(ClientError::Config(
        "no machine id found on this system; pass a fingerprint of your own".into(),
    ))
}

/// Runs a command and returns the last word of the first output line that mentions `name`,
/// without quotes.
fn command_value(program: &str, args: &[&str], name: &str) -> Option<String> {
    let output = std::process::Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().find(|line| line.contains(name))?;
    let value = line.split_whitespace().last()?.trim_matches('"').to_string();
    (!value.is_empty()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_hmac_of_the_machine_id() {
        // HMAC-SHA256(key = "app-salt", "0123456789abcdef0123456789abcdef"), computed with
        // Python: hmac.new(b"app-salt", b"0123456789abcdef0123456789abcdef", "sha256").hexdigest()
        assert_eq!(
            fingerprint_from_machine_id("0123456789abcdef0123456789abcdef\n", b"app-salt"),
            "4902c9fb072118e11c3ce90f752e4d53a015f6edf83ed97601d4bf936c799c9b"
        );
        assert_ne!(
            fingerprint_from_machine_id("0123456789abcdef0123456789abcdef", b"other-app"),
            fingerprint_from_machine_id("0123456789abcdef0123456789abcdef", b"app-salt")
        );
    }
}
