//! `pinbench list`: every scheme of the registry with its memory cost,
//! exactness, pin limit and source; then every workload.

use super::input::print;
use pin_schemes::SCHEMES;
use pin_workloads::WORKLOADS;
use std::fmt::Write;

/// Prints the table.
pub fn list() -> anyhow::Result<()> {
    let mut out = format!(
        "{:<18} {:>9} {:<11} {:>13}  mirrors\n",
        "scheme", "B/page", "exactness", "max pins/page"
    );
    for info in SCHEMES {
        let _ = writeln!(
            out,
            "{:<18} {:>9} {:<11} {:>13}  {}",
            info.name,
            info.bytes_per_page,
            info.exactness.as_str(),
            info.max_pins_per_page,
            info.mirrors
        );
    }
    let _ = writeln!(out, "\n{:<18} measures", "workload");
    for w in WORKLOADS {
        let _ = writeln!(out, "{:<18} {}", w.name(), w.description());
    }
    print(&out)
}
