//! Who may use licensd: the one access rule for client credentials ([`admit`], with IP allow-list
//! rules parsed once as [`IpRule`]), the one rule for administrator tokens ([`admit_admin`]), Key Manager's API keys with per-endpoint capabilities, and
//! the access block list (IPs, domains and activation identifiers). The rules are pure, and every
//! dialect and the native API call them, so every one answers the same question the same way.

use crate::clock::Millis;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

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

/// One entry of an IP allow-list or block list: an address (`192.0.2.7`, `2001:db8::1`) or a CIDR
/// range (`192.0.2.0/24`, `2001:db8::/32`), parsed once when it enters licensd (a malformed rule
/// is refused then, never silently matching nothing later).
///
/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.7`, what a dual-stack socket reports for an IPv4
/// peer) are the IPv4 address they carry, both ways: a peer `::ffff:192.0.2.7` matches the rule
/// `192.0.2.0/24`, and a peer `192.0.2.7` matches the rule `::ffff:192.0.2.0/120`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpRule {
    net: IpNet,
    /// Written as a bare address (no `/prefix`): displayed the same way.
    bare: bool,
}

/// Why a text is not an [`IpRule`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpRuleError {
    #[error("{0:?} is not an IP address or CIDR range")]
    NotAnAddress(String),
    #[error("{0:?} has an invalid prefix length")]
    BadPrefix(String),
}

impl IpRule {
    /// Parses `address` or `address/prefix` (0–32 for IPv4, 0–128 for IPv6). No whitespace.
    pub fn parse(text: &str) -> Result<Self, IpRuleError> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| IpRuleError::NotAnAddress(text.to_string()))?;
        let net = match prefix {
            None => IpNet::from(address),
            Some(prefix) => {
                let bits: u8 = prefix.parse().map_err(|_| IpRuleError::BadPrefix(text.to_string()))?;
                IpNet::new(address, bits).map_err(|_| IpRuleError::BadPrefix(text.to_string()))?
            }
        };
        Ok(IpRule {
            net,
            bare: prefix.is_none(),
        })
    }

    /// Whether `peer` is the rule's address or inside its range (IPv4-mapped IPv6 addresses
    /// compare as the IPv4 address they carry, whichever side is mapped).
    pub fn matches(&self, peer: IpAddr) -> bool {
        let (v4, v6) = match peer {
            IpAddr::V4(v4) => (Some(v4), v4.to_ipv6_mapped()),
            IpAddr::V6(v6) => (v6.to_ipv4_mapped(), v6),
        };
        match self.net {
            IpNet::V4(net) => v4.is_some_and(|ip| net.contains(&ip)),
            IpNet::V6(net) => net.contains(&v6),
        }
    }

    /// Whether any of `rules` matches `peer`.
    pub fn any_matches(rules: &[IpRule], peer: IpAddr) -> bool {
        rules.iter().any(|rule| rule.matches(peer))
    }
}

impl std::str::FromStr for IpRule {
    type Err = IpRuleError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        IpRule::parse(text)
    }
}

impl std::fmt::Display for IpRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.bare {
            write!(f, "{}", self.net.addr())
        } else {
            write!(f, "{}", self.net)
        }
    }
}

impl Serialize for IpRule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpRule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        IpRule::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The flags of a client credential that decide what it may do.
#[derive(Debug, Clone, Copy, Default)]
pub struct CredentialFlags<'a> {
    pub revoked: bool,
    pub read_only: bool,
    /// The one product the credential may be used for; `None` for any.
    pub product_scope: Option<crate::ProductId>,
    /// Where it may be used from; empty allows any address.
    pub ip_rules: &'a [IpRule],
}

/// What a caller asks to do with a credential.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccessRequest {
    /// The address the request came from (`None` when unknown: then an IP-restricted credential
    /// is refused).
    pub peer: Option<IpAddr>,
    /// Whether the call changes state.
    pub write: bool,
    /// The product the call acts on, once known.
    pub product: Option<crate::ProductId>,
}

/// Why a credential may not be used for a request, in the order [`admit`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessRefusal {
    #[error("the credential has been revoked")]
    Revoked,
    #[error("the credential may not be used from this address")]
    IpNotAllowed,
    #[error("the credential is read-only")]
    ReadOnly,
    #[error("the credential is not valid for this product")]
    WrongProduct,
}

/// The one rule for client-credential access, for every dialect and the native API: revoked
/// first, then the IP allow-list (empty allows any address; an unknown peer is refused by a
/// non-empty list), then read-only on a write, then the product scope once the product is known.
/// Dialects call it as soon as they know each part (the peer at authentication, the product when
/// the request names it) and only map the refusal to their own documented error.
pub fn admit(flags: &CredentialFlags<'_>, request: &AccessRequest) -> Result<(), AccessRefusal> {
    if flags.revoked {
        return Err(AccessRefusal::Revoked);
    }
    if !flags.ip_rules.is_empty()
        && !request
            .peer
            .is_some_and(|peer| IpRule::any_matches(flags.ip_rules, peer))
    {
        return Err(AccessRefusal::IpNotAllowed);
    }
    if flags.read_only && request.write {
        return Err(AccessRefusal::ReadOnly);
    }
    if let (Some(scope), Some(product)) = (flags.product_scope, request.product)
        && scope != product
    {
        return Err(AccessRefusal::WrongProduct);
    }
    Ok(())
}

/// Most entries one IP allow-list (a credential's, an API key's or an admin token's) may hold.
pub const MAX_IP_RULES: usize = 64;

/// The limits of an administrator token (`/v1/admin-tokens`). The bootstrap token has none.
#[derive(Debug, Clone, Copy, Default)]
pub struct AdminTokenFlags<'a> {
    pub read_only: bool,
    /// The instant from which the token no longer works; `None` never expires.
    pub expires_at: Option<Millis>,
    /// Where it may be used from; empty allows any address.
    pub ip_rules: &'a [IpRule],
}

/// Why an administrator token may not be used for a request, in the order [`admit_admin`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdminRefusal {
    #[error("the admin token has expired")]
    Expired,
    #[error("the admin token may not be used from this address")]
    IpNotAllowed,
    #[error("the admin token is read-only")]
    ReadOnly,
}

/// The one rule for administrator tokens (a found, unrevoked token): expired first (at or after
/// `expires_at` the token is no longer a credential at all), then the IP allow-list (empty allows
/// any address; an unknown `peer` is refused by a non-empty list), then read-only on a `write`.
/// The same order as [`admit`]: a caller learns nothing about what a token may do unless the
/// token is still valid and used from an allowed address.
pub fn admit_admin(
    token: &AdminTokenFlags<'_>,
    now: Millis,
    peer: Option<IpAddr>,
    write: bool,
) -> Result<(), AdminRefusal> {
    if token.expires_at.is_some_and(|expires_at| now >= expires_at) {
        return Err(AdminRefusal::Expired);
    }
    if !token.ip_rules.is_empty() && !peer.is_some_and(|peer| IpRule::any_matches(token.ip_rules, peer)) {
        return Err(AdminRefusal::IpNotAllowed);
    }
    if token.read_only && write {
        return Err(AdminRefusal::ReadOnly);
    }
    Ok(())
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

/// The first block-list entry that refuses a request from `ip` carrying `identifier` (an IP
/// entry is an [`IpRule`], checked when it was added; one that does not parse matches nothing).
pub fn find_block<'a>(
    blocks: &'a [AccessBlock],
    ip: Option<&str>,
    identifier: Option<&str>,
) -> Option<&'a AccessBlock> {
    let peer = ip.and_then(|ip| ip.trim().parse::<IpAddr>().ok());
    blocks.iter().find(|block| match block.kind {
        AccessBlockKind::Ip => {
            peer.is_some_and(|peer| IpRule::parse(&block.value).is_ok_and(|rule| rule.matches(peer)))
        }
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
    pub flags: CredentialFlags<'a>,
    pub active: bool,
    pub capabilities: &'a [String],
}

/// Decides whether a key may call the endpoint needing `capability` (a `write` endpoint or not)
/// from `peer`: inactive (revoked or switched off) first, then the IP allow-list, then read-only
/// on a write (all three by [`admit`]), then the capability. A read-only key calling a write
/// endpoint lacks the capability for it. The product scope is decided per licence, not here.
pub fn check_api_key(
    key: Option<ApiKeyState<'_>>,
    peer: Option<IpAddr>,
    capability: &str,
    write: bool,
) -> Result<(), ApiKeyRefusal> {
    let key = key.ok_or(ApiKeyRefusal::Unknown)?;
    let flags = CredentialFlags {
        revoked: key.flags.revoked || !key.active,
        ..key.flags
    };
    let request = AccessRequest {
        peer,
        write,
        product: None,
    };
    match admit(&flags, &request) {
        Ok(()) => {}
        Err(AccessRefusal::Revoked) => return Err(ApiKeyRefusal::Inactive),
        Err(AccessRefusal::IpNotAllowed) => return Err(ApiKeyRefusal::IpNotAllowed),
        // No product is named here, so WrongProduct cannot happen; a refusal all the same.
        Err(AccessRefusal::ReadOnly | AccessRefusal::WrongProduct) => return Err(ApiKeyRefusal::MissingCapability),
    }
    if !key.capabilities.iter().any(|c| c == capability) {
        return Err(ApiKeyRefusal::MissingCapability);
    }
    Ok(())
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;

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
