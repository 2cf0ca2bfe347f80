//! Black-box tests: the real `licensd` binary, started per test on SQLite or PostgreSQL, driven
//! over HTTP (and through its CLI). One test binary keeps link times down.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "an integration-test crate: a failed unwrap is a failed test, with its message"
)]

#[path = "http/harness.rs"]
mod harness;

#[path = "http/admin_token_limits.rs"]
mod admin_token_limits;
#[path = "http/api.rs"]
mod api;
#[path = "http/cli.rs"]
mod cli;
#[path = "http/client_sdk.rs"]
mod client_sdk;
#[path = "http/concurrency.rs"]
mod concurrency;
#[path = "http/console.rs"]
mod console;
#[path = "http/console_browser.rs"]
mod console_browser;
#[path = "http/console_dialects.rs"]
mod console_dialects;
#[path = "http/hardening.rs"]
mod hardening;
#[path = "http/lifecycle.rs"]
mod lifecycle;
#[path = "http/metrics.rs"]
mod metrics;
#[path = "http/operations.rs"]
mod operations;
#[path = "http/outbox.rs"]
mod outbox;
#[path = "http/rules_agree.rs"]
mod rules_agree;
#[path = "http/scaleout.rs"]
mod scaleout;
#[path = "http/transfer.rs"]
mod transfer;
#[path = "http/trusted_proxy.rs"]
mod trusted_proxy;
#[path = "http/webhooks.rs"]
mod webhooks;

// The reliability suite (tests/reliability/README.md).
#[path = "http/reliability_auth.rs"]
mod reliability_auth;
#[path = "http/reliability_badinput.rs"]
mod reliability_badinput;
#[path = "http/reliability_kill9.rs"]
mod reliability_kill9;
#[path = "http/reliability_support.rs"]
mod reliability_support;

// One module per dialect, each with its black-box (and vendor-client) tests.
#[path = "http/dna.rs"]
mod dna;
#[path = "http/keymanager.rs"]
mod keymanager;
#[path = "http/licensespring.rs"]
mod licensespring;
#[path = "http/slascone.rs"]
mod slascone;
