//! The HTTP toolkit every API shares: extractors that answer in the native error shape, the
//! administrator token, edge validators and the caller's address. `native` and `dialects` both
//! build on this module and never import each other.

pub mod admin;
pub(crate) mod credentials;
pub mod extract;
pub mod json_object;
pub mod lookup;
pub mod password;
pub mod validate;

pub use admin::Admin;

use axum::extract::ConnectInfo;
use axum::http::Extensions;
use axum::http::request::Parts;
use std::net::{IpAddr, SocketAddr};

/// The caller's IP address as text, when the connection carries it.
pub fn source_ip(parts: &Parts) -> Option<String> {
    peer_ip(&parts.extensions).map(|ip| ip.to_string())
}

/// The caller's IP address, from a request's or its parts' extensions.
pub fn peer_ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}
