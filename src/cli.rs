//! Argument parsing and subcommand dispatch. Bad input exits with code 2 and
//! a message naming the bad value; nothing is measured here.

use clap::{Parser, Subcommand};
use pin_schemes::{MemMap, SCHEMES};
use std::process::ExitCode;
use std::sync::Arc;

/// Measures how Linux should track pages pinned for DMA.
#[derive(Parser, Debug)]
#[command(name = "pinbench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List every pin-tracking scheme: what it mirrors, its memory cost, its
    /// exactness and how many pins one page accepts.
    List,
}

/// Runs the CLI; clap's own usage errors already exit with code 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List => list(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pinbench: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn list() -> anyhow::Result<()> {
    // One small memmap to ask each scheme its fixed properties.
    let memmap = Arc::new(MemMap::with_pages(64)?);
    println!(
        "{:<18} {:>9} {:<11} {:>13}  mirrors",
        "scheme", "B/page", "exactness", "max pins/page"
    );
    for info in SCHEMES {
        let scheme = (info.build)(Arc::clone(&memmap));
        println!(
            "{:<18} {:>9} {:<11} {:>13}  {}",
            info.name,
            scheme.bytes_per_page(),
            scheme.exactness().as_str(),
            scheme.max_pins_per_page(),
            info.mirrors
        );
    }
    Ok(())
}
