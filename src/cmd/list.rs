//! `pinbench list`: every scheme of the registry with its memory cost,
//! exactness, pin limit and source; then every workload.

use super::input::print;
use crate::workloads::WORKLOADS;
use pin_schemes::{MemMap, SCHEMES};
use std::fmt::Write;
use std::sync::Arc;

/// Prints the table.
pub fn list() -> anyhow::Result<()> {
    // One small memmap to ask each scheme its fixed properties.
    let memmap = Arc::new(MemMap::with_pages(64)?);
    let mut out = format!(
        "{:<18} {:>9} {:<11} {:>13}  mirrors\n",
        "scheme", "B/page", "exactness", "max pins/page"
    );
    for info in SCHEMES {
        let scheme = (info.build)(Arc::clone(&memmap));
        let _ = writeln!(
            out,
            "{:<18} {:>9} {:<11} {:>13}  {}",
            info.name,
            scheme.bytes_per_page(),
            scheme.exactness().as_str(),
            scheme.max_pins_per_page(),
            info.mirrors
        );
    }
    let _ = writeln!(out, "\n{:<18} measures", "workload");
    for w in WORKLOADS {
        let _ = writeln!(out, "{:<18} {}", w.name(), w.description());
    }
    print(&out)
}
