//! Black-box tests: the real `licensd` binary, started per test on SQLite or PostgreSQL, driven
//! over HTTP (and through its CLI). One test binary keeps link times down.

#[path = "http/harness.rs"]
mod harness;

#[path = "http/api.rs"]
mod api;
#[path = "http/cli.rs"]
mod cli;
#[path = "http/concurrency.rs"]
mod concurrency;
#[path = "http/hardening.rs"]
mod hardening;
#[path = "http/lifecycle.rs"]
mod lifecycle;
#[path = "http/scaleout.rs"]
mod scaleout;

// One module per dialect, each with its black-box (and vendor-client) tests.
#[path = "http/dna.rs"]
mod dna;
#[path = "http/keymanager.rs"]
mod keymanager;
#[path = "http/licensespring.rs"]
mod licensespring;
#[path = "http/slascone.rs"]
mod slascone;
