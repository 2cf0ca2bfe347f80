//! The HTTP toolkit every API shares: extractors that answer in the native error shape, the
//! administrator token, edge validators and the caller's address (`client_ip`: the TCP peer, or
//! the client a trusted reverse proxy forwarded). `native` and `dialects` both build on this
//! module and never import each other.

pub mod admin;
pub mod client_ip;
pub(crate) mod credentials;
pub mod extract;
pub mod json_object;
pub mod lookup;
pub mod password;
pub mod validate;

pub use admin::Admin;
pub use client_ip::{ClientIp, client_ip, request_client_ip, source_ip};
