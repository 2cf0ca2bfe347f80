//! Unit tests of `access`: IP rules, the credential access rule, API keys and the block list.

use super::*;

fn rule(text: &str) -> IpRule {
    IpRule::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

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
fn ipv4_rules_match_addresses_and_ranges() {
    assert!(rule("192.0.2.7").matches(ip("192.0.2.7")));
    assert!(!rule("192.0.2.7").matches(ip("192.0.2.8")));
    assert!(rule("192.0.2.0/24").matches(ip("192.0.2.200")));
    assert!(!rule("192.0.2.0/24").matches(ip("192.0.3.1")));
    // Host bits set in a range are ignored, as a network mask does.
    assert!(rule("192.0.2.7/24").matches(ip("192.0.2.1")));
    assert!(rule("0.0.0.0/0").matches(ip("10.1.2.3")));
    assert!(rule("10.0.0.0/8").matches(ip("10.255.255.255")));
    assert!(!rule("10.0.0.0/8").matches(ip("11.0.0.0")));
    // An IPv4 rule never matches a (non-mapped) IPv6 peer.
    assert!(!rule("0.0.0.0/0").matches(ip("2001:db8::1")));
}

#[test]
fn ipv6_rules_match_addresses_and_ranges() {
    assert!(rule("2001:db8::1").matches(ip("2001:db8::1")));
    assert!(!rule("2001:db8::1").matches(ip("2001:db8::2")));
    assert!(rule("2001:db8::/32").matches(ip("2001:db8:1::5")));
    assert!(!rule("2001:db8::/32").matches(ip("2001:db9::5")));
    assert!(!rule("2001:db8::/32").matches(ip("192.0.2.1")));
    assert!(rule("::1").matches(ip("::1")));
    assert!(!rule("::1").matches(ip("127.0.0.1")));
    assert!(rule("::/0").matches(ip("2001:db8::1")));
}

#[test]
fn ipv4_mapped_ipv6_compares_as_ipv4_both_ways() {
    // A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
    assert!(rule("192.0.2.0/24").matches(ip("::ffff:192.0.2.7")));
    assert!(rule("192.0.2.7").matches(ip("::ffff:192.0.2.7")));
    assert!(!rule("192.0.2.0/24").matches(ip("::ffff:192.0.3.7")));
    assert!(rule("127.0.0.1").matches(ip("::ffff:127.0.0.1")));
    // A rule written in the mapped form matches the plain IPv4 peer.
    assert!(rule("::ffff:192.0.2.0/120").matches(ip("192.0.2.7")));
    assert!(rule("::ffff:192.0.2.7").matches(ip("192.0.2.7")));
    assert!(!rule("::ffff:192.0.2.0/120").matches(ip("192.0.3.7")));
    assert!(rule("::ffff:192.0.2.0/120").matches(ip("::ffff:192.0.2.9")));
}

#[test]
fn prefix_bounds_are_per_family() {
    assert!(IpRule::parse("192.0.2.0/0").is_ok());
    assert!(IpRule::parse("192.0.2.0/32").is_ok());
    assert_eq!(
        IpRule::parse("192.0.2.0/33"),
        Err(IpRuleError::BadPrefix("192.0.2.0/33".into()))
    );
    assert!(IpRule::parse("2001:db8::/0").is_ok());
    assert!(IpRule::parse("2001:db8::/128").is_ok());
    assert!(matches!(
        IpRule::parse("2001:db8::/129"),
        Err(IpRuleError::BadPrefix(_))
    ));
    for bad in ["10.0.0.0/-1", "10.0.0.0/x", "10.0.0.0/", "10.0.0.0/256", "10.0.0.0/8/8"] {
        assert!(matches!(IpRule::parse(bad), Err(IpRuleError::BadPrefix(_))), "{bad}");
    }
    assert!(rule("192.0.2.7/32").matches(ip("192.0.2.7")));
    assert!(!rule("192.0.2.7/32").matches(ip("192.0.2.6")));
}

#[test]
fn malformed_rules_are_refused_when_parsed() {
    for bad in [
        "",
        "garbage",
        "example.com",
        "300.1.1.1",
        "192.0.2",
        " 192.0.2.7",
        "192.0.2.7 ",
        "/24",
        "2001:db8:::1",
        "192.0.2.7\0",
    ] {
        assert!(
            matches!(IpRule::parse(bad), Err(IpRuleError::NotAnAddress(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn rules_display_and_serialise_as_written() {
    for text in [
        "192.0.2.7",
        "10.0.0.0/8",
        "2001:db8::/32",
        "::ffff:192.0.2.0/120",
        "192.0.2.7/32",
    ] {
        assert_eq!(rule(text).to_string(), text);
        let json = serde_json::to_string(&rule(text)).unwrap_or_default();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<IpRule>(&json).ok(), Some(rule(text)));
    }
    assert!(serde_json::from_str::<IpRule>("\"10.0.0.0/33\"").is_err());
    assert_eq!("10.0.0.0/8".parse::<IpRule>(), IpRule::parse("10.0.0.0/8"));
}

fn flags(rules: &[IpRule]) -> CredentialFlags<'_> {
    CredentialFlags {
        revoked: false,
        read_only: false,
        product_scope: None,
        ip_rules: rules,
    }
}

fn request(peer: Option<&str>, write: bool, product: Option<i64>) -> AccessRequest {
    AccessRequest {
        peer: peer.map(ip),
        write,
        product: product.map(crate::ProductId::new),
    }
}

#[test]
fn admit_allows_an_unrestricted_credential() {
    assert_eq!(admit(&flags(&[]), &request(None, true, Some(7))), Ok(()));
    assert_eq!(admit(&flags(&[]), &request(Some("203.0.113.9"), false, None)), Ok(()));
}

#[test]
fn admit_refuses_each_flag() {
    let revoked = CredentialFlags {
        revoked: true,
        ..flags(&[])
    };
    assert_eq!(
        admit(&revoked, &request(Some("127.0.0.1"), false, None)),
        Err(AccessRefusal::Revoked)
    );

    let rules = [rule("192.0.2.7")];
    assert_eq!(
        admit(&flags(&rules), &request(Some("127.0.0.1"), false, None)),
        Err(AccessRefusal::IpNotAllowed)
    );
    // An unknown peer is outside every non-empty allow-list.
    assert_eq!(
        admit(&flags(&rules), &request(None, false, None)),
        Err(AccessRefusal::IpNotAllowed)
    );
    assert_eq!(admit(&flags(&rules), &request(Some("192.0.2.7"), true, None)), Ok(()));
    assert_eq!(
        admit(&flags(&rules), &request(Some("::ffff:192.0.2.7"), true, None)),
        Ok(())
    );

    let read_only = CredentialFlags {
        read_only: true,
        ..flags(&[])
    };
    assert_eq!(
        admit(&read_only, &request(None, true, None)),
        Err(AccessRefusal::ReadOnly)
    );
    assert_eq!(admit(&read_only, &request(None, false, Some(1))), Ok(()));

    let scoped = CredentialFlags {
        product_scope: Some(crate::ProductId::new(1)),
        ..flags(&[])
    };
    assert_eq!(
        admit(&scoped, &request(None, true, Some(2))),
        Err(AccessRefusal::WrongProduct)
    );
    assert_eq!(admit(&scoped, &request(None, true, Some(1))), Ok(()));
    // The product is checked once the request names it.
    assert_eq!(admit(&scoped, &request(None, true, None)), Ok(()));
}

#[test]
fn admit_checks_in_order() {
    let rules = [rule("10.0.0.0/8")];
    let everything = CredentialFlags {
        revoked: true,
        read_only: true,
        product_scope: Some(crate::ProductId::new(1)),
        ip_rules: &rules,
    };
    let bad = request(Some("127.0.0.1"), true, Some(2));
    assert_eq!(admit(&everything, &bad), Err(AccessRefusal::Revoked));
    let live = CredentialFlags {
        revoked: false,
        ..everything
    };
    assert_eq!(admit(&live, &bad), Err(AccessRefusal::IpNotAllowed));
    let inside = request(Some("10.1.1.1"), true, Some(2));
    assert_eq!(admit(&live, &inside), Err(AccessRefusal::ReadOnly));
    let read = request(Some("10.1.1.1"), false, Some(2));
    assert_eq!(admit(&live, &read), Err(AccessRefusal::WrongProduct));
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
    // The block list uses the same rule: a mapped peer is its IPv4 address.
    assert!(find_block(&blocks, Some("::ffff:198.51.100.9"), None).is_some());
    assert!(find_block(&blocks, Some("127.0.0.1"), Some("HW-1")).is_some());
    assert!(find_block(&blocks, Some("127.0.0.1"), Some("a.pirate.example")).is_some());
    assert!(find_block(&blocks, Some("127.0.0.1"), Some("HW-2")).is_none());
    assert!(find_block(&blocks, None, None).is_none());
    assert!(find_block(&[block(AccessBlockKind::Ip, "garbage")], Some("127.0.0.1"), None).is_none());
}

#[test]
fn api_key_checks_run_in_order() {
    let caps = vec!["verify".to_string()];
    let allow = [rule("10.0.0.0/8")];
    let state = |revoked, active| ApiKeyState {
        flags: CredentialFlags { revoked, ..flags(&[]) },
        active,
        capabilities: &[],
    };
    assert_eq!(check_api_key(None, None, "verify", false), Err(ApiKeyRefusal::Unknown));
    assert_eq!(
        check_api_key(Some(state(true, true)), None, "verify", false),
        Err(ApiKeyRefusal::Inactive)
    );
    assert_eq!(
        check_api_key(Some(state(false, false)), None, "verify", false),
        Err(ApiKeyRefusal::Inactive)
    );
    let key = ApiKeyState {
        flags: flags(&allow),
        active: true,
        capabilities: &caps,
    };
    assert_eq!(
        check_api_key(Some(key), Some(ip("127.0.0.1")), "verify", false),
        Err(ApiKeyRefusal::IpNotAllowed)
    );
    assert_eq!(
        check_api_key(Some(key), None, "verify", false),
        Err(ApiKeyRefusal::IpNotAllowed)
    );
    assert_eq!(
        check_api_key(Some(key), Some(ip("10.2.3.4")), "activate", true),
        Err(ApiKeyRefusal::MissingCapability)
    );
    assert_eq!(check_api_key(Some(key), Some(ip("10.2.3.4")), "verify", false), Ok(()));
    assert_eq!(
        check_api_key(Some(key), Some(ip("::ffff:10.2.3.4")), "verify", false),
        Ok(())
    );
    let read_only = ApiKeyState {
        flags: CredentialFlags {
            read_only: true,
            ..flags(&allow)
        },
        active: true,
        capabilities: &["verify".to_string(), "activate".to_string()],
    };
    assert_eq!(
        check_api_key(Some(read_only), Some(ip("10.2.3.4")), "activate", true),
        Err(ApiKeyRefusal::MissingCapability)
    );
    assert_eq!(
        check_api_key(Some(read_only), Some(ip("10.2.3.4")), "verify", false),
        Ok(())
    );
}

fn admin(read_only: bool, expires_at: Option<Millis>, ip_rules: &[IpRule]) -> AdminTokenFlags<'_> {
    AdminTokenFlags {
        read_only,
        expires_at,
        ip_rules,
    }
}

#[test]
fn an_admin_token_without_limits_is_admitted_everywhere() {
    let token = admin(false, None, &[]);
    assert_eq!(admit_admin(&token, 1_000, Some(ip("198.51.100.1")), true), Ok(()));
    assert_eq!(admit_admin(&token, i64::MAX, None, false), Ok(()));
}

#[test]
fn an_admin_token_expires_at_its_instant() {
    let token = admin(false, Some(5_000), &[]);
    assert_eq!(admit_admin(&token, 4_999, None, true), Ok(()));
    assert_eq!(admit_admin(&token, 5_000, None, false), Err(AdminRefusal::Expired));
    assert_eq!(admit_admin(&token, 9_000, None, false), Err(AdminRefusal::Expired));
}

#[test]
fn an_admin_token_allow_list_admits_only_its_addresses() {
    let rules = [rule("203.0.113.7"), rule("10.0.0.0/8")];
    let token = admin(false, None, &rules);
    assert_eq!(admit_admin(&token, 0, Some(ip("203.0.113.7")), true), Ok(()));
    assert_eq!(admit_admin(&token, 0, Some(ip("10.2.3.4")), true), Ok(()));
    assert_eq!(admit_admin(&token, 0, Some(ip("::ffff:10.2.3.4")), true), Ok(()));
    assert_eq!(
        admit_admin(&token, 0, Some(ip("127.0.0.1")), false),
        Err(AdminRefusal::IpNotAllowed)
    );
    assert_eq!(
        admit_admin(&token, 0, None, false),
        Err(AdminRefusal::IpNotAllowed),
        "an unknown address is refused by a non-empty list"
    );
}

#[test]
fn a_read_only_admin_token_only_reads() {
    let token = admin(true, None, &[]);
    assert_eq!(admit_admin(&token, 0, None, false), Ok(()));
    assert_eq!(admit_admin(&token, 0, None, true), Err(AdminRefusal::ReadOnly));
}

#[test]
fn admin_refusals_come_expired_then_address_then_read_only() {
    let rules = [rule("203.0.113.7")];
    let everything = admin(true, Some(10), &rules);
    let outside = Some(ip("127.0.0.1"));
    assert_eq!(admit_admin(&everything, 10, outside, true), Err(AdminRefusal::Expired));
    assert_eq!(
        admit_admin(&everything, 9, outside, true),
        Err(AdminRefusal::IpNotAllowed)
    );
    assert_eq!(
        admit_admin(&everything, 9, Some(ip("203.0.113.7")), true),
        Err(AdminRefusal::ReadOnly)
    );
    assert_eq!(admit_admin(&everything, 9, Some(ip("203.0.113.7")), false), Ok(()));
}
