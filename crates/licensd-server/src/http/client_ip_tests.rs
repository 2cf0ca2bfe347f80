//! Unit tests of `client_ip`: the trusted-proxy walk over `X-Forwarded-For`.

use super::*;
use axum::http::{HeaderValue, Request};

fn rules(texts: &[&str]) -> Vec<IpRule> {
    texts
        .iter()
        .map(|text| IpRule::parse(text).unwrap_or_else(|e| panic!("{text}: {e}")))
        .collect()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn forwarded(values: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(
            X_FORWARDED_FOR,
            HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{value}: {e}")),
        );
    }
    headers
}

/// The client of a request from `peer` with `X-Forwarded-For` headers `values`, behind `trusted`.
fn client(peer: &str, values: &[&str], trusted: &[&str]) -> String {
    forwarded_client(ip(peer), &forwarded(values), &rules(trusted)).to_string()
}

const PROXY: &[&str] = &["10.0.0.0/8"];

#[test]
fn without_trusted_proxies_the_header_is_ignored() {
    assert_eq!(client("10.0.0.1", &["203.0.113.7"], &[]), "10.0.0.1");
    assert_eq!(client("::ffff:10.0.0.1", &["203.0.113.7"], &[]), "::ffff:10.0.0.1");
}

#[test]
fn an_untrusted_peers_header_is_ignored() {
    assert_eq!(client("198.51.100.9", &["203.0.113.7"], PROXY), "198.51.100.9");
    // Even a header naming a trusted proxy.
    assert_eq!(client("198.51.100.9", &["10.0.0.2"], PROXY), "198.51.100.9");
}

#[test]
fn a_trusted_peer_forwards_the_right_most_entry() {
    assert_eq!(client("10.0.0.1", &["203.0.113.7"], PROXY), "203.0.113.7");
    assert_eq!(client("10.0.0.1", &[" 203.0.113.7 "], PROXY), "203.0.113.7");
}

#[test]
fn spoofed_left_most_entries_are_ignored() {
    // The client sent `X-Forwarded-For: 192.0.2.1` itself; the proxy appended what it saw.
    assert_eq!(client("10.0.0.1", &["192.0.2.1, 203.0.113.7"], PROXY), "203.0.113.7");
    // A spoofed trusted address on the left is never reached either.
    assert_eq!(client("10.0.0.1", &["10.9.9.9, 203.0.113.7"], PROXY), "203.0.113.7");
    // Nor is garbage on the left: the walk stops at the client.
    assert_eq!(client("10.0.0.1", &["not-an-ip, , 203.0.113.7"], PROXY), "203.0.113.7");
}

#[test]
fn a_chain_of_trusted_proxies_is_walked_from_the_right() {
    // client → 10.0.0.3 → 10.0.0.2 → peer 10.0.0.1
    assert_eq!(
        client("10.0.0.1", &["192.0.2.1, 203.0.113.7, 10.0.0.3, 10.0.0.2"], PROXY),
        "203.0.113.7"
    );
    // Several headers are one list, in order.
    assert_eq!(
        client("10.0.0.1", &["192.0.2.1, 203.0.113.7", "10.0.0.3", "10.0.0.2"], PROXY),
        "203.0.113.7"
    );
    // Only the configured ranges are trusted: an untrusted hop ends the walk there.
    assert_eq!(
        client("10.0.0.1", &["203.0.113.7, 172.16.0.5, 10.0.0.2"], PROXY),
        "172.16.0.5"
    );
    assert_eq!(
        client(
            "10.0.0.1",
            &["203.0.113.7, 172.16.0.5, 10.0.0.2"],
            &["10.0.0.0/8", "172.16.0.0/12"]
        ),
        "203.0.113.7"
    );
    // Every entry a trusted proxy: the left-most one.
    assert_eq!(client("10.0.0.1", &["10.0.0.9, 10.0.0.2"], PROXY), "10.0.0.9");
}

#[test]
fn a_missing_or_malformed_header_is_the_peer() {
    assert_eq!(client("10.0.0.1", &[], PROXY), "10.0.0.1");
    for malformed in [
        "",
        " ",
        "203.0.113.7,",
        "203.0.113.7, ",
        "unknown",
        "203.0.113.7:4711",
        "[2001:db8::7]",
        "[2001:db8::7]:443",
        "203.0.113.7 198.51.100.9",
        "203.0.113.300",
        // Reached after a trusted hop.
        "203.0.113.7, garbage, 10.0.0.3",
    ] {
        assert_eq!(client("10.0.0.1", &[malformed], PROXY), "10.0.0.1", "{malformed:?}");
    }
    // In a second header too.
    assert_eq!(client("10.0.0.1", &["203.0.113.7", "oops"], PROXY), "10.0.0.1");
    // A header that is not visible ASCII.
    let mut headers = HeaderMap::new();
    headers.insert(
        X_FORWARDED_FOR,
        HeaderValue::from_bytes(b"203.0.113.7\xff").unwrap_or_else(|e| panic!("{e}")),
    );
    assert_eq!(
        forwarded_client(ip("10.0.0.1"), &headers, &rules(PROXY)),
        ip("10.0.0.1")
    );
    // A malformed header from an untrusted peer changes nothing either.
    assert_eq!(client("198.51.100.9", &["garbage"], PROXY), "198.51.100.9");
}

#[test]
fn the_walk_is_bounded() {
    let chain = |n: usize| vec!["10.0.0.2"; n].join(", ");
    let within = format!("203.0.113.7, {}", chain(MAX_HOPS - 1));
    assert_eq!(client("10.0.0.1", &[&within], PROXY), "203.0.113.7");
    let beyond = format!("203.0.113.7, {}", chain(MAX_HOPS));
    assert_eq!(client("10.0.0.1", &[&beyond], PROXY), "10.0.0.1");
}

#[test]
fn ipv6_and_ipv4_mapped_addresses() {
    let v6 = &["2001:db8:1::/48"];
    assert_eq!(client("2001:db8:1::1", &["2001:db8:ff::7"], v6), "2001:db8:ff::7");
    assert_eq!(client("2001:db8:2::1", &["2001:db8:ff::7"], v6), "2001:db8:2::1");
    assert_eq!(
        client("2001:db8:1::1", &["192.0.2.1, 2001:db8:ff::7, 2001:db8:1::2"], v6),
        "2001:db8:ff::7"
    );
    // A dual-stack listener reports an IPv4 proxy as ::ffff:a.b.c.d: trusted by its IPv4 range,
    // as `IpRule` matches it.
    assert_eq!(client("::ffff:10.0.0.1", &["203.0.113.7"], PROXY), "203.0.113.7");
    // and by a range written in the mapped form.
    assert_eq!(
        client("10.0.0.1", &["203.0.113.7"], &["::ffff:10.0.0.0/104"]),
        "203.0.113.7"
    );
    // A forwarded mapped address is the IPv4 client it carries, and a mapped trusted hop is skipped.
    assert_eq!(client("10.0.0.1", &["::ffff:203.0.113.7"], PROXY), "203.0.113.7");
    assert_eq!(
        client("10.0.0.1", &["203.0.113.7, ::ffff:10.0.0.2"], PROXY),
        "203.0.113.7"
    );
    // An IPv6 client through an IPv4 proxy.
    assert_eq!(client("10.0.0.1", &["2001:db8::7"], PROXY), "2001:db8::7");
}

#[test]
fn client_ip_reads_the_connections_peer() {
    let request = |forwarded: Option<&str>, peer: Option<&str>| {
        let mut builder = Request::builder().uri("/");
        if let Some(value) = forwarded {
            builder = builder.header(X_FORWARDED_FOR, value);
        }
        let mut request = builder.body(()).unwrap_or_else(|e| panic!("{e}"));
        if let Some(peer) = peer {
            request
                .extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(ip(peer), 4711)));
        }
        request.into_parts().0
    };
    let trusted = rules(&["127.0.0.1/32"]);
    let parts = request(Some("203.0.113.7"), Some("127.0.0.1"));
    assert_eq!(client_ip(&parts, &trusted), Some(ip("203.0.113.7")));
    assert_eq!(source_ip(&parts, &trusted).as_deref(), Some("203.0.113.7"));
    assert_eq!(source_ip(&parts, &[]).as_deref(), Some("127.0.0.1"));
    // No peer (an in-process request): no address, whatever the header says.
    assert_eq!(client_ip(&request(Some("203.0.113.7"), None), &trusted), None);
}
