//! What a results file must hold beyond its shape, checked after parsing so
//! that a file edited by hand, truncated or written by another version is
//! refused by name instead of rendered: the schema version this pinbench
//! reads, and every number in the range a measurement can have.

use crate::{Cell, Results, SCHEMA_VERSION};

/// The largest ns/page any cell can hold (a minute per page).
const MAX_NS: f64 = 6e10;
/// The largest pages/s (a page per picosecond).
const MAX_RATE: f64 = 1e12;
/// The most threads a cell can have.
const MAX_THREADS: usize = 1 << 16;

fn in_range(what: &str, x: f64, max: f64) -> Result<(), String> {
    if x.is_finite() && (0.0..=max).contains(&x) {
        Ok(())
    } else {
        Err(format!("{what} {x} is out of range (0 to {max})"))
    }
}

fn cell(c: &Cell) -> Result<(), String> {
    let name = format!("cell {}/{} {}T", c.subject, c.workload, c.threads);
    let check = || -> Result<(), String> {
        if c.threads == 0 || c.threads > MAX_THREADS {
            return Err(format!(
                "threads {} is out of range (1 to {MAX_THREADS})",
                c.threads
            ));
        }
        in_range("ns_per_page", c.ns_per_page, MAX_NS)?;
        in_range("floor_ns_per_page", c.floor_ns_per_page, MAX_NS)?;
        in_range("pages_per_sec", c.pages_per_sec, MAX_RATE)?;
        for (what, e) in [("x_floor", Some(c.x_floor)), ("scaling", c.scaling)] {
            if let Some(e) = e {
                in_range(what, e.median, MAX_NS)?;
                if !(e.ci_low <= e.median && e.median <= e.ci_high) {
                    return Err(format!("{what}: median outside its interval"));
                }
            }
        }
        let p = &c.pairs;
        let n = p.subject_ns_per_page.len();
        if n == 0 {
            return Err("no rounds in pairs".into());
        }
        let same = p.floor_ns_per_page.len() == n
            && p.pages_per_sec.len() == n
            && p.solo_pages_per_sec.as_ref().is_none_or(|s| s.len() == n)
            && p.probe_ns.as_ref().is_none_or(|s| s.len() == n)
            && p.contention_ns.as_ref().is_none_or(|s| s.len() == n)
            && p.solo_probe_ns.as_ref().is_none_or(|s| s.len() == n);
        if !same {
            return Err("pairs: its lists differ in length".into());
        }
        for &x in p.subject_ns_per_page.iter().chain(&p.floor_ns_per_page) {
            in_range("a round's ns/page", x, MAX_NS)?;
        }
        Ok(())
    };
    check().map_err(|e| format!("{name}: {e}"))
}

/// Why `r` cannot be believed, or `Ok`.
pub fn check(r: &Results) -> Result<(), String> {
    if r.schema_version != SCHEMA_VERSION {
        return Err(format!(
            "schema_version {}: this pinbench reads version {SCHEMA_VERSION} only",
            r.schema_version
        ));
    }
    r.cells.iter().try_for_each(cell)?;
    let mut seen = std::collections::HashSet::new();
    match r.cells.iter().find(|c| !seen.insert(c.identity())) {
        Some(c) => Err(format!(
            "cell {} is there twice: which to believe?",
            c.identity()
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;

    #[test]
    fn out_of_range_values_and_other_versions_are_named() {
        let ok = sample::results(vec![sample::cell("plain", "private", 1, 10.0, 1e8)]);
        assert_eq!(check(&ok), Ok(()));
        let mut v = ok.clone();
        v.schema_version = 99;
        assert!(check(&v).is_err_and(|e| e.contains("schema_version 99")));
        for bad in [-1.0, f64::NAN, 1e308] {
            let mut r = ok.clone();
            r.cells[0].ns_per_page = bad;
            assert!(check(&r).is_err_and(|e| e.contains("ns_per_page")), "{bad}");
        }
        let mut r = ok.clone();
        r.cells[0].threads = 0;
        assert!(check(&r).is_err_and(|e| e.contains("threads 0")));
        let mut r = ok.clone();
        r.cells[0].pairs.floor_ns_per_page.clear();
        assert!(check(&r).is_err_and(|e| e.contains("differ in length")));
        let mut r = ok;
        r.cells.push(r.cells[0].clone());
        assert!(check(&r).is_err_and(|e| e.contains("there twice")));
        r.cells[1].threads = 2;
        assert_eq!(check(&r), Ok(()));
    }
}
