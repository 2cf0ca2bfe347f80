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
#[path = "http/lifecycle.rs"]
mod lifecycle;
