//! Client API keys with per-endpoint capabilities and the access block list (IPs, domains and
//! activation identifiers). Key Manager brought both into the domain; the rules here are pure so
//! every dialect that adopts them answers the same way.

use crate::clock::Millis;
use serde::{Deserialize, Serialize};

/// What a block-list entry matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccessBlockKind {
    /// The caller's IP address (exact address or CIDR range).
    Ip,
    /// A web domain sent as an activation identifier (matches the domain and its subdomains).
    Domain,
    /// An activation identifier (hardware id, site, …), compared exactly.
    Identifier,
}

impl AccessBlockKind {
    pub const ALL: [AccessBlockKind; 3] = [
        AccessBlockKind::Ip,
        AccessBlockKind::Domain,
        AccessBlockKind::Identifier,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccessBlockKind::Ip => "ip",
            AccessBlockKind::Domain => "domain",
            AccessBlockKind::Identifier => "identifier",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// One entry of the access block list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessBlock {
    pub id: i64,
    pub kind: AccessBlockKind,
    pub value: String,
    pub reason: Option<String>,
    pub created_at: Millis,
}

/// Whether `ip` falls under `rule`: an address (`192.0.2.7`) or a CIDR range (`192.0.2.0/24`).
/// A malformed rule or address matches nothing.
pub fn ip_matches(rule: &str, ip: &str) -> bool {
    let Ok(ip) = ip.trim().parse::<std::net::IpAddr>() else {
        return false;
    };
    let (address, prefix) = match rule.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (rule, None),
    };
    let Ok(network) = address.trim().parse::<std::net::IpAddr>() else {
        return false;
    };
    match (network, ip) {
        (std::net::IpAddr::V4(net), std::net::IpAddr::V4(ip)) => {
            let bits = match prefix.map(str::parse::<u32>) {
                None => 32,
                Some(Ok(bits)) if bits <= 32 => bits,
                Some(_) => return false,
            };
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (std::net::IpAddr::V6(net), std::net::IpAddr::V6(ip)) => {
            let bits = match prefix.map(str::parse::<u32>) {
                None => 128,
                Some(Ok(bits)) if bits <= 128 => bits,
                Some(_) => return false,
            };
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(net) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

/// Whether an outbound request (a webhook the client names) may go to `ip`: public unicast
/// addresses only; loopback, private (RFC 1918, CGNAT, IPv6 unique-local), link-local,
/// unspecified, multicast, broadcast and documentation ranges are internal. An IPv4-mapped IPv6
/// address is judged as the IPv4 address it carries.
pub fn is_public_address(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// Whether `identifier` is, or is a subdomain of, the blocked `domain` (case-insensitive; a
/// scheme, path or `www.` the client sent along is ignored).
pub fn domain_matches(domain: &str, identifier: &str) -> bool {
    let normalise = |text: &str| {
        let text = text.trim().to_ascii_lowercase();
        let text = text.split_once("://").map(|(_, rest)| rest.to_string()).unwrap_or(text);
        let host = text.split(['/', '?', '#']).next().unwrap_or("").to_string();
        let host = host.rsplit_once(':').map(|(h, _)| h.to_string()).unwrap_or(host);
        host.strip_prefix("www.").map(str::to_string).unwrap_or(host)
    };
    let domain = normalise(domain);
    let host = normalise(identifier);
    !domain.is_empty() && (host == domain || host.ends_with(&format!(".{domain}")))
}

/// The first block-list entry that refuses a request from `ip` carrying `identifier`.
pub fn find_block<'a>(
    blocks: &'a [AccessBlock],
    ip: Option<&str>,
    identifier: Option<&str>,
) -> Option<&'a AccessBlock> {
    blocks.iter().find(|block| match block.kind {
        AccessBlockKind::Ip => ip.is_some_and(|ip| ip_matches(&block.value, ip)),
        AccessBlockKind::Domain => identifier.is_some_and(|id| domain_matches(&block.value, id)),
        AccessBlockKind::Identifier => identifier.is_some_and(|id| id == block.value),
    })
}

/// Why an API key may not call an endpoint, in the order the checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyRefusal {
    #[error("unknown API key")]
    Unknown,
    #[error("inactive API key")]
    Inactive,
    #[error("API key cannot be used from this IP address")]
    IpNotAllowed,
    #[error("API key lacks the capability for this endpoint")]
    MissingCapability,
}

/// What the rule needs to know about a presented API key.
#[derive(Debug, Clone, Copy)]
pub struct ApiKeyState<'a> {
    pub revoked: bool,
    pub active: bool,
    pub ip_allowlist: &'a [String],
    pub capabilities: &'a [String],
}

/// Decides whether a key may call the endpoint needing `capability` from `ip`: inactive first,
/// then the IP allow-list (empty allows any address), then the capability.
pub fn check_api_key(key: Option<ApiKeyState<'_>>, ip: Option<&str>, capability: &str) -> Result<(), ApiKeyRefusal> {
    let key = key.ok_or(ApiKeyRefusal::Unknown)?;
    if key.revoked || !key.active {
        return Err(ApiKeyRefusal::Inactive);
    }
    if !key.ip_allowlist.is_empty() && !ip.is_some_and(|ip| key.ip_allowlist.iter().any(|rule| ip_matches(rule, ip))) {
        return Err(ApiKeyRefusal::IpNotAllowed);
    }
    if !key.capabilities.iter().any(|c| c == capability) {
        return Err(ApiKeyRefusal::MissingCapability);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(kind: AccessBlockKind, value: &str) -> AccessBlock {
        AccessBlock {
            id: 1,
            kind,
            value: value.into(),
            reason: None,
            created_at: 0,
        }
    }

    #[test]
    fn ip_rules_match_addresses_and_ranges() {
        assert!(ip_matches("192.0.2.7", "192.0.2.7"));
        assert!(!ip_matches("192.0.2.7", "192.0.2.8"));
        assert!(ip_matches("192.0.2.0/24", "192.0.2.200"));
        assert!(!ip_matches("192.0.2.0/24", "192.0.3.1"));
        assert!(ip_matches("0.0.0.0/0", "10.1.2.3"));
        assert!(ip_matches("2001:db8::/32", "2001:db8::1"));
        assert!(!ip_matches("2001:db8::/32", "192.0.2.1"));
        assert!(!ip_matches("192.0.2.0/33", "192.0.2.1"));
        assert!(!ip_matches("garbage", "192.0.2.1"));
    }

    #[test]
    fn domains_match_themselves_and_subdomains_only() {
        assert!(domain_matches("example.com", "example.com"));
        assert!(domain_matches("example.com", "https://www.Example.com/shop"));
        assert!(domain_matches("example.com", "shop.example.com"));
        assert!(!domain_matches("example.com", "notexample.com"));
        assert!(!domain_matches("", "example.com"));
    }

    #[test]
    fn find_block_checks_each_kind_against_its_input() {
        let blocks = [
            block(AccessBlockKind::Ip, "198.51.100.0/24"),
            block(AccessBlockKind::Identifier, "HW-1"),
            block(AccessBlockKind::Domain, "pirate.example"),
        ];
        assert!(find_block(&blocks, Some("198.51.100.9"), None).is_some());
        assert!(find_block(&blocks, Some("127.0.0.1"), Some("HW-1")).is_some());
        assert!(find_block(&blocks, Some("127.0.0.1"), Some("a.pirate.example")).is_some());
        assert!(find_block(&blocks, Some("127.0.0.1"), Some("HW-2")).is_none());
        assert!(find_block(&blocks, None, None).is_none());
    }

    #[test]
    fn api_key_checks_run_in_order() {
        let caps = vec!["verify".to_string()];
        let allow = vec!["10.0.0.0/8".to_string()];
        let state = |revoked, active, ips: &'static [String]| ApiKeyState {
            revoked,
            active,
            ip_allowlist: ips,
            capabilities: &[],
        };
        assert_eq!(check_api_key(None, None, "verify"), Err(ApiKeyRefusal::Unknown));
        assert_eq!(
            check_api_key(Some(state(true, true, &[])), None, "verify"),
            Err(ApiKeyRefusal::Inactive)
        );
        assert_eq!(
            check_api_key(Some(state(false, false, &[])), None, "verify"),
            Err(ApiKeyRefusal::Inactive)
        );
        let key = ApiKeyState {
            revoked: false,
            active: true,
            ip_allowlist: &allow,
            capabilities: &caps,
        };
        assert_eq!(
            check_api_key(Some(key), Some("127.0.0.1"), "verify"),
            Err(ApiKeyRefusal::IpNotAllowed)
        );
        assert_eq!(
            check_api_key(Some(key), None, "verify"),
            Err(ApiKeyRefusal::IpNotAllowed)
        );
        assert_eq!(
            check_api_key(Some(key), Some("10.2.3.4"), "activate"),
            Err(ApiKeyRefusal::MissingCapability)
        );
        assert_eq!(check_api_key(Some(key), Some("10.2.3.4"), "verify"), Ok(()));
    }
}

#[cfg(test)]
mod public_address_tests {
    use super::is_public_address;

    #[test]
    fn internal_ranges_are_not_public() {
        for internal in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public_address(internal.parse().unwrap()), "{internal}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public_address(public.parse().unwrap()), "{public}");
        }
    }
}
