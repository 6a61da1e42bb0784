//! `pinbench list`: every scheme of the registry with its memory cost,
//! exactness, pin limit and source; then every workload.

use crate::workloads::WORKLOADS;
use pin_schemes::{MemMap, SCHEMES};
use std::sync::Arc;

/// Prints the table.
pub fn list() -> anyhow::Result<()> {
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
    println!("\n{:<18} measures", "workload");
    for w in WORKLOADS {
        println!("{:<18} {}", w.name(), w.description());
    }
    Ok(())
}
