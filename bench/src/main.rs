#![recursion_limit = "256"]
//! Benchmark helpers for `bench/run`:
//!
//! - `baseline`: a minimal server that answers the same request shapes as licensd's client API
//!   from memory and signs with the same algorithm and key size. Its throughput, measured in the
//!   same run on the same machine, is the ceiling licensd's figures are compared with; and the
//!   database ceilings (`ceiling`): the same answers after one point read or one single-row
//!   insert transaction on PostgreSQL or SQLite.
//! - `seed`: builds the benchmark dataset in a running licensd through its native API and writes
//!   the key files the load scripts read.
//! - `console`: seeds up to a million licences and measures the admin console's page latency
//!   (`bench/console`).

mod baseline;
mod ceiling;
mod console;
mod seed;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "licensd-bench")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the baseline endpoints until killed.
    Baseline(baseline::Args),
    /// Create the dataset in a running licensd.
    Seed(seed::Args),
    /// Seed licences in a running licensd and time its console pages.
    Console(console::Args),
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match args.command {
            Command::Baseline(args) => baseline::run(args).await,
            Command::Seed(args) => seed::run(args).await,
            Command::Console(args) => console::run(args).await,
        }
    })
}
