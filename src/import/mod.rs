//! Results pinbench did not measure but reads: `pinbench import gup-test`
//! turns the kernel's own `gup_test` logs ([`gup_test_log`]) into a
//! results file that `summary`, `compare` and `report` read like any
//! other. One cell per benchmark and options (`-L -m 256 -n 512 ...`),
//! backend `gup-test-log`; each log is one unit of the statistics (a run
//! of gup_test), its repeats the values of that unit. The cell has no
//! rounds and no floor: the kernel timed itself (`kernel_timed`).

pub mod gup_test_log;

use crate::kernel::gup_test::GupTestCmd;
use gup_test_log::{Log, Options};
use pin_results::{Cell, CellName, KernelCell, KernelTimed, NumaPlacement};
use std::collections::BTreeMap;

/// The backend name of imported gup_test cells.
pub const BACKEND: &str = "gup-test-log";

/// Logs that cannot make one results file.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The logs name different kernels.
    #[error(
        "{a} names kernel {ka} and {b} kernel {kb}: import each kernel's logs into its own file"
    )]
    Kernels {
        /// A log.
        a: String,
        /// Its kernel.
        ka: String,
        /// Another.
        b: String,
        /// Its kernel.
        kb: String,
    },
    /// `--kernel` names another kernel than a log does.
    #[error("--kernel {given}: {log} names kernel {named}")]
    Contradicted {
        /// Given.
        given: String,
        /// The log.
        log: String,
        /// Its kernel.
        named: String,
    },
    /// `--kernel` is no release name.
    #[error("--kernel '{0}': a kernel release is one word of printable characters (uname -r)")]
    BadRelease(String),
    /// No log names its kernel and none was given.
    #[error(
        "no log names its kernel (no 'uname -a' or /proc/version line): give --kernel VERSION"
    )]
    NoKernel,
}

/// The kernel the logs were made on: `given`, else the one they all name.
pub fn kernel_of(logs: &[Log], given: Option<&str>) -> Result<String, ImportError> {
    let named: Vec<(&Log, &String)> = logs
        .iter()
        .filter_map(|l| Some((l, l.kernel.as_ref()?)))
        .collect();
    if let Some(k) = given {
        if k.is_empty() || k.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ImportError::BadRelease(k.escape_default().to_string()));
        }
        return match named.iter().find(|(_, n)| n.as_str() != k) {
            Some((log, n)) => Err(ImportError::Contradicted {
                given: k.to_string(),
                log: log.path.display().to_string(),
                named: (*n).clone(),
            }),
            None => Ok(k.to_string()),
        };
    }
    let Some(&(first, k)) = named.first() else {
        return Err(ImportError::NoKernel);
    };
    match named.iter().find(|(_, o)| *o != k) {
        Some((other, ko)) => Err(ImportError::Kernels {
            a: first.path.display().to_string(),
            ka: k.clone(),
            b: other.path.display().to_string(),
            kb: (*ko).clone(),
        }),
        None => Ok(k.clone()),
    }
}

/// Per unit (log), the get and the put µs of its lines.
type Units = Vec<(Vec<f64>, Vec<f64>)>;

/// One cell per benchmark and options over `logs`, each log a unit.
pub fn cells(logs: &[Log], page_size: u64) -> Vec<Cell> {
    let mut by: BTreeMap<(u8, Options), Units> = BTreeMap::new();
    for (unit, log) in logs.iter().enumerate() {
        for t in &log.timings {
            let units = by.entry((order(t.cmd), t.options.clone())).or_default();
            units.resize_with(logs.len(), Default::default);
            units[unit].0.push(t.get_us as f64);
            units[unit].1.push(t.put_us as f64);
        }
    }
    by.into_iter()
        .map(|((cmd, options), units)| {
            let units: Vec<_> = units.into_iter().filter(|u| !u.0.is_empty()).collect();
            cell(GupTestCmd::ALL[cmd as usize], &options, units, page_size)
        })
        .collect()
}

/// The table order of `cmd`.
fn order(cmd: GupTestCmd) -> u8 {
    GupTestCmd::ALL.iter().position(|c| *c == cmd).unwrap_or(0) as u8
}

/// The cell of `cmd` run with `options`: its units' get and put µs.
fn cell(cmd: GupTestCmd, options: &Options, units: Units, page_size: u64) -> Cell {
    let bytes = options.mib << 20;
    let pages = (bytes / page_size).max(1);
    let (get_us, put_us): (Vec<_>, Vec<_>) = units.into_iter().unzip();
    let timed = KernelTimed {
        source: "gup_test".into(),
        pages,
        get_us,
        put_us,
    };
    let medians = timed.unit_medians(pin_results::Half::Get);
    let get_us = pin_results::Estimate::of(&medians).map_or(0.0, |e| e.median);
    let ns_per_page = get_us * 1000.0 / pages as f64;
    // -T refuses THP (MADV_NOHUGEPAGE); neither -t nor -T leaves it to the
    // system's setting, which the log does not say.
    let backing = match (options.hugetlb, options.thp) {
        (true, _) => "hugetlb-2M",
        (false, Some(true)) => "thp",
        (false, Some(false)) => "4k",
        (false, None) => "system-thp",
    };
    // -W: pins without FOLL_WRITE, another path through gup.
    let workload = format!(
        "{}{}",
        if options.shared { "shared" } else { "private" },
        if options.write { "" } else { "-ro" }
    );
    let kernel = KernelCell {
        thp: options.thp == Some(true),
        backing: backing.to_string(),
        thp_bytes: None,
        buffer_bytes: bytes,
        pins_acquired: None,
        pins_released: None,
        pins_balanced: None,
        foreign_pins: false,
        expects_pins: cmd.pins(),
        in_kernel_ns_per_page: Some(ns_per_page),
        twin: None,
        pins_kept_per_page: None,
    };
    let name = CellName {
        subject: cmd.name().to_string(),
        backend: BACKEND.to_string(),
        workload,
        threads: options.threads,
        pages_per_call: options.pages_per_call as usize,
        folio_order: if options.hugetlb { 9 } else { 0 },
    };
    let numa = NumaPlacement {
        placement: "local".into(),
        cpu_node: 0,
        memmap_node: 0,
        memmap_node_verified: None,
        verified_fraction: 0.0,
        method: "unknown (imported)".into(),
    };
    Cell {
        ns_per_page,
        pages_per_sec: if ns_per_page > 0.0 {
            1e9 / ns_per_page
        } else {
            0.0
        },
        kernel_timed: Some(timed),
        ..Cell::unmeasured(name, numa, Some(kernel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn log(name: &str, text: &str) -> Log {
        gup_test_log::parse(Path::new(name), text).expect("log")
    }

    #[test]
    fn each_log_is_a_unit_of_each_cell_it_has() {
        let a = log(
            "a.log",
            "./gup_test -L -r 2\nPIN_LONGTERM_BENCHMARK: Time: get:100 put:10 us\n\
             PIN_LONGTERM_BENCHMARK: Time: get:120 put:12 us\n\
             ./gup_test -a\nPIN_FAST_BENCHMARK: Time: get:50 put:5 us\n",
        );
        let b = log(
            "b.log",
            "./gup_test -L\nPIN_LONGTERM_BENCHMARK: Time: get:90 put:9 us\n",
        );
        let cells = cells(&[a, b], 4096);
        assert_eq!(cells.len(), 2);
        let long = cells
            .iter()
            .find(|c| c.subject == "pin-longterm")
            .expect("cell");
        let t = long.kernel_timed.as_ref().expect("timed");
        assert_eq!(t.get_us, vec![vec![100.0, 120.0], vec![90.0]]);
        assert_eq!(t.put_us, vec![vec![10.0, 12.0], vec![9.0]]);
        assert_eq!(t.pages, 32768);
        // The median of the units' medians (110 and 90), per page.
        assert!((long.ns_per_page - 100.0 * 1000.0 / 32768.0).abs() < 1e-9);
        let fast = cells
            .iter()
            .find(|c| c.subject == "pin-fast")
            .expect("cell");
        assert_eq!(fast.kernel_timed.as_ref().map(|t| t.get_us.len()), Some(1));
        let r = pin_results::sample::results(cells);
        assert_eq!(r.check(), Ok(()));
    }

    #[test]
    fn runs_that_differ_in_any_option_are_cells_of_their_own() {
        let mut text = String::new();
        for args in [
            "-L",
            "-L -T",
            "-L -t",
            "-L -W",
            "-L -S",
            "-L -H",
            "-L -n 512",
            "-L -m 64",
            "-L -j 2",
            "-L -r 2",
        ] {
            text.push_str(&format!("# running ./gup_test {args}\n"));
            // -j 2 and -r 2 print two lines each.
            for _ in 0..1 + usize::from(args.ends_with(" 2")) {
                text.push_str("# PIN_LONGTERM_BENCHMARK: Time: get:9 put:1 us# \n");
            }
        }
        let cells = cells(&[log("m.log", &text)], 4096);
        // -r 2 is more values of the cell of -L alone, not a cell.
        assert_eq!(cells.len(), 9);
        let r = pin_results::sample::results(cells);
        assert_eq!(r.check(), Ok(()), "no two cells are one");
    }

    #[test]
    fn the_kernel_is_given_or_the_one_every_log_names() {
        let named = |k: &str| {
            log(
                "x.log",
                &format!("Linux h {k} #1\nGUP_FAST_BENCHMARK: Time: get:1 put:1 us"),
            )
        };
        let bare = log("y.log", "GUP_FAST_BENCHMARK: Time: get:1 put:1 us");
        assert_eq!(
            kernel_of(std::slice::from_ref(&bare), Some("6.1")).ok(),
            Some("6.1".into())
        );
        for bad in ["", "foo bar", "a\nb"] {
            let e = kernel_of(std::slice::from_ref(&bare), Some(bad)).expect_err(bad);
            assert!(matches!(e, ImportError::BadRelease(_)), "{bad:?}");
        }
        let e = kernel_of(&[named("6.12.1")], Some("6.6")).expect_err("contradicted");
        assert!(e.to_string().contains("x.log names kernel 6.12.1"), "{e}");
        assert!(matches!(
            kernel_of(std::slice::from_ref(&bare), None),
            Err(ImportError::NoKernel)
        ));
        assert_eq!(
            kernel_of(&[named("6.12.1"), bare], None).ok(),
            Some("6.12.1".into())
        );
        let e = kernel_of(&[named("6.12.1"), named("6.1.0")], None).expect_err("two kernels");
        assert!(
            e.to_string().contains("6.12.1") && e.to_string().contains("6.1.0"),
            "{e}"
        );
    }
}
