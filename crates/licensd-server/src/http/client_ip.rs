//! The client address of a request: the one place every API (native, the four dialects, the
//! console) reads it, for credential IP allow-lists, the per-IP rate limits, the console's sign-in
//! limiter and the `source_ip` of events.
//!
//! It is the TCP peer, unless the peer is one of the trusted reverse proxies (`licensd serve
//! --trusted-proxy CIDR`, [`crate::ServerSettings::trusted_proxies`]). Then it is taken from
//! `X-Forwarded-For`, walking from the right (the entry the peer itself appended) to the left and
//! skipping the entries that are trusted proxies too: the first one that is not is the client.
//! Entries to the left of it were written by the client or by proxies we do not know, so they are
//! never read (a client cannot choose its address by sending the header itself).
//!
//! The safe answers, each the peer's own address (so an IP-restricted credential is refused
//! unless the proxy itself is allowed, and the proxy's clients share its rate-limit allowance):
//! - no trusted proxy configured (the default), or a peer that is not one: the header is ignored;
//! - no `X-Forwarded-For` header from a trusted peer;
//! - a malformed entry reached by the walk: anything but a bare IP address (no port, no brackets,
//!   no empty entry), or a header that is not visible ASCII;
//! - more than [`MAX_HOPS`] entries walked, all of them trusted proxies.
//!
//! When every entry walked is a trusted proxy, the left-most one is the client (a caller inside a
//! trusted range, such as a health checker). Several `X-Forwarded-For` headers are one list, in
//! order. The `Forwarded` header (RFC 7239) is not read.
//!
//! IPv4-mapped IPv6 addresses are the IPv4 address they carry, as in `access::IpRule` (which the
//! trust check uses): a trusted range `10.0.0.0/8` trusts the peer `::ffff:10.0.0.1`, and a
//! forwarded `::ffff:203.0.113.7` is the client `203.0.113.7`. The peer's own address is used as
//! the socket reports it (unchanged from before the setting existed).

use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use licensd_domain::access::IpRule;
use std::net::{IpAddr, SocketAddr};

/// The header a reverse proxy appends the address it received a request from to.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// Most `X-Forwarded-For` entries one request's walk reads; a longer chain of trusted proxies is
/// treated as malformed (the peer's address).
pub const MAX_HOPS: usize = 32;

/// The client address of a request (module documentation), `None` when the connection does not
/// carry its peer address (requests built in-process).
pub fn client_ip(parts: &Parts, trusted: &[IpRule]) -> Option<IpAddr> {
    client_ip_of(&parts.extensions, &parts.headers, trusted)
}

/// [`client_ip`] of a whole request (for middleware, which holds the request, not its parts).
pub fn request_client_ip(request: &Request, trusted: &[IpRule]) -> Option<IpAddr> {
    client_ip_of(request.extensions(), request.headers(), trusted)
}

fn client_ip_of(extensions: &Extensions, headers: &HeaderMap, trusted: &[IpRule]) -> Option<IpAddr> {
    let ConnectInfo(peer) = extensions.get::<ConnectInfo<SocketAddr>>()?;
    Some(forwarded_client(peer.ip(), headers, trusted))
}

/// [`client_ip`] as text, for the event log.
pub fn source_ip(parts: &Parts, trusted: &[IpRule]) -> Option<String> {
    client_ip(parts, trusted).map(|ip| ip.to_string())
}

/// The algorithm of [`client_ip`] for a request from `peer` carrying `headers`.
pub fn forwarded_client(peer: IpAddr, headers: &HeaderMap, trusted: &[IpRule]) -> IpAddr {
    if !IpRule::any_matches(trusted, peer) {
        return peer;
    }
    let mut walked = 0;
    let mut leftmost_trusted = None;
    for value in headers.get_all(X_FORWARDED_FOR).iter().rev() {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for entry in text.rsplit(',') {
            walked += 1;
            if walked > MAX_HOPS {
                return peer;
            }
            let Ok(address) = entry.trim().parse::<IpAddr>() else {
                return peer;
            };
            let address = address.to_canonical();
            if !IpRule::any_matches(trusted, address) {
                return address;
            }
            leftmost_trusted = Some(address);
        }
    }
    leftmost_trusted.unwrap_or(peer)
}

/// The client address as an extractor ([`client_ip`] with the server's trusted proxies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, &state.settings.trusted_proxies)))
    }
}

#[cfg(test)]
#[path = "client_ip_tests.rs"]
mod tests;
