//! Contact data every API accepts the same way: which email addresses licensd takes.
//!
//! The native API (customers, licence users), SLASCONE (licence users, customers, resellers) and
//! DNA (`NewEmail`) each had their own check and they had drifted: the native one took
//! `a@b@c.com` and addresses of up to 320 bytes, the dialects did not. One definition now.

/// Longest address accepted, in bytes: the 254 of a forward path (RFC 5321, 4.5.3.1.3).
pub const MAX_EMAIL_LEN: usize = 254;

/// A plausible email address: at most [`MAX_EMAIL_LEN`] bytes, no white space, exactly one `@`
/// with text before it and a domain after it that has a dot, not at either end. Not an RFC 5322
/// parser: no quoted local parts, comments or address literals, which no licensing customer sends.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= MAX_EMAIL_LEN
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_addresses_pass() {
        for good in ["a@example.com", "first.last+tag@sub.example.co.uk", "x@b.c"] {
            assert!(is_plausible_email(good), "{good}");
        }
        let longest = format!("{}@example.com", "a".repeat(MAX_EMAIL_LEN - "@example.com".len()));
        assert_eq!(longest.len(), MAX_EMAIL_LEN);
        assert!(is_plausible_email(&longest));
    }

    #[test]
    fn implausible_addresses_fail() {
        let too_long = format!("{}@example.com", "a".repeat(MAX_EMAIL_LEN + 1 - "@example.com".len()));
        for bad in [
            "",
            "a",
            "a@",
            "@example.com",
            "a@example",
            "a@b",
            "a@.com",
            "a@example.com.",
            "a b@example.com",
            "a@example.com\n",
            "a@@example.com",
            "a@b@c.com",
            too_long.as_str(),
        ] {
            assert!(!is_plausible_email(bad), "{bad:?}");
        }
    }
}
