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
    // Names first: they go into every message and every output.
    let backing = c.kernel.as_ref().map(|k| k.backing.as_str());
    for (what, s) in [
        ("subject", Some(c.subject.as_str())),
        ("workload", Some(c.workload.as_str())),
        ("backend", Some(c.backend.as_str())),
        ("kernel backing", backing),
    ] {
        if let Some(s) = s {
            word(&format!("a cell's {what}"), s)?;
        }
    }
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
        if let Some(t) = &c.kernel_timed {
            t.check()?;
            if n > 0 || c.x_floor.n > 0 {
                return Err("kernel_timed: a cell the kernel timed has no rounds".into());
            }
            return Ok(());
        }
        if n == 0 {
            return Err("no rounds in pairs".into());
        }
        let same = p.floor_ns_per_page.len() == n
            && p.pages_per_sec.len() == n
            && p.solo_pages_per_sec.as_ref().is_none_or(|s| s.len() == n)
            && p.probe_ns.as_ref().is_none_or(|s| s.len() == n)
            && p.throughput_ns.as_ref().is_none_or(|s| s.len() == n)
            && p.contention_ns.as_ref().is_none_or(|s| s.len() == n)
            && p.handoff_ns.as_ref().is_none_or(|s| s.len() == n)
            && p.solo_probe_ns.as_ref().is_none_or(|s| s.len() == n)
            && p.solo_throughput_ns.as_ref().is_none_or(|s| s.len() == n);
        if !same {
            return Err("pairs: its lists differ in length".into());
        }
        if p.visit_rounds.is_some() && p.visits_sum() != Some(n) {
            return Err("pairs: visit_rounds do not add up to its rounds".into());
        }
        for &x in p.subject_ns_per_page.iter().chain(&p.floor_ns_per_page) {
            in_range("a round's ns/page", x, MAX_NS)?;
        }
        // A probe that judges a round took some time: a zero or negative
        // one would pass any yardstick.
        for (what, v) in [
            ("throughput_ns", &p.throughput_ns),
            ("solo_throughput_ns", &p.solo_throughput_ns),
        ] {
            for &x in v.iter().flatten() {
                if !(x > 0.0 && x <= MAX_NS) {
                    return Err(format!(
                        "pairs: {what} {x} is out of range (above 0, to {MAX_NS})"
                    ));
                }
            }
        }
        Ok(())
    };
    check().map_err(|e| format!("{name}: {e}"))
}

/// The run's yardsticks: every one a time a probe or floor can take.
fn yardsticks(r: &Results) -> Result<(), String> {
    let floors = r.quiet_floor_ns.iter().map(|f| ("quiet_floor_ns", f.ns));
    let probes = [
        ("quiet_probe_ns", &r.quiet_probe_ns),
        ("quiet_throughput_ns", &r.quiet_throughput_ns),
        ("contention_probe_ns", &r.contention_probe_ns),
        ("handoff_probe_ns", &r.handoff_probe_ns),
    ]
    .into_iter()
    .flat_map(|(what, v)| v.iter().map(move |p| (what, p.ns)));
    for (what, ns) in floors.chain(probes) {
        if !(ns.is_finite() && ns > 0.0 && ns <= MAX_NS) {
            return Err(format!(
                "{what} {ns} is out of range (above 0, to {MAX_NS})"
            ));
        }
    }
    Ok(())
}

/// The longest word an effects table holds (an errno, a mapping's name,
/// a reason).
const MAX_WORD: usize = 64;

fn word(what: &str, s: &str) -> Result<(), String> {
    if s.chars().count() > MAX_WORD || s.chars().any(char::is_control) {
        return Err(format!(
            "{what} is not a short line of text (at most {MAX_WORD} characters, no control characters)"
        ));
    }
    Ok(())
}

/// The effects' values, each in the range a measurement can have.
fn effects(e: &crate::Effects) -> Result<(), String> {
    for a in &e.pin_table {
        for (what, s) in [
            ("mapping", &a.mapping),
            ("prot", &a.prot),
            ("long_term", &a.long_term),
            ("dio_into", &a.dio_into),
            ("dio_from", &a.dio_from),
        ] {
            word(&format!("pin_table {what}"), s)?;
        }
        if let Some(fs) = &a.fs {
            word("pin_table fs", fs)?;
        }
    }
    for f in &e.fork {
        word("fork backing", &f.backing)?;
        if f.pages == 0 || f.pages > 1 << 40 {
            return Err(format!(
                "fork pages {} is out of range (1 to 2^40)",
                f.pages
            ));
        }
        in_range("fork_ns_pinned", f.fork_ns_pinned, MAX_NS)?;
        in_range("fork_ns_unpinned", f.fork_ns_unpinned, MAX_NS)?;
        let n = &f.ns_per_pinned_page;
        if !(n.median.is_finite() && n.ci_low <= n.median && n.median <= n.ci_high) {
            return Err("fork ns_per_pinned_page: median outside its interval".into());
        }
        if f.rounds_ns.len() != f.rounds {
            return Err("fork rounds_ns: not one per round".into());
        }
        for copied in [f.pages_copied_pinned, f.pages_copied_unpinned]
            .into_iter()
            .flatten()
        {
            if copied > f.pages {
                return Err(format!(
                    "fork pages copied {copied} exceeds the buffer's {}",
                    f.pages
                ));
            }
        }
    }
    if let Some(c) = &e.collapse {
        if c.ranges == 0 || c.pinned_collapsed > c.ranges || c.unpinned_collapsed > c.ranges {
            return Err("collapse: more ranges collapsed than tried, or none tried".into());
        }
        for a in c.pinned_answers.iter().chain(&c.unpinned_answers) {
            word("collapse answer", a)?;
        }
        if c.pinned_answers.len() + c.unpinned_answers.len() > 2 * MAX_WORD {
            return Err("collapse: more answers than ranges could give".into());
        }
    }
    e.migration.as_ref().map_or(Ok(()), migration)
}

/// The migration effect's values: whole rounds, moves within the buffer.
fn migration(m: &crate::Migration) -> Result<(), String> {
    if m.pages == 0 || m.pages > 1 << 40 || m.from_node == m.to_node {
        return Err(format!(
            "migration: {} pages from node {} to node {} is no move",
            m.pages, m.from_node, m.to_node
        ));
    }
    if m.moved.len() != m.rounds || m.moved.iter().any(|&(p, u)| p > m.pages || u > m.pages) {
        return Err("migration moved: not one per round, or more pages than the buffer".into());
    }
    for a in m.pinned_answers.iter().chain(&m.unpinned_answers) {
        word("migration answer", a)?;
    }
    for a in &m.put_back_left {
        word("migration put-back answer", a)?;
    }
    if m.pinned_answers.len() + m.unpinned_answers.len() > 2 * m.rounds
        || m.put_back_left.len() > m.pages as usize
    {
        return Err("migration: more answers than rounds could give".into());
    }
    for (what, e) in [
        ("pinned", &m.ns_per_page_pinned),
        ("unpinned", &m.ns_per_page_unpinned),
    ] {
        in_range(&format!("migration ns_per_page_{what}"), e.median, MAX_NS)?;
        if !(e.ci_low <= e.median && e.median <= e.ci_high) {
            return Err(format!(
                "migration ns_per_page_{what}: median outside its interval"
            ));
        }
    }
    Ok(())
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
    yardsticks(r)?;
    if let Some(e) = &r.effects {
        effects(e).map_err(|why| format!("effects: {why}"))?;
    }
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
        // Visits that do not add up to the rounds, or overflow when added.
        for visits in [vec![2], vec![usize::MAX, 2]] {
            let mut r = ok.clone();
            r.cells[0].pairs.visit_rounds = Some(visits);
            assert!(check(&r).is_err_and(|e| e.contains("visit_rounds")));
        }
        // A run's yardstick no probe could read.
        for bad in [-1e300, 0.0, f64::INFINITY] {
            let mut r = ok.clone();
            r.handoff_probe_ns = vec![crate::ProbeNs {
                threads: 2,
                ns: bad,
            }];
            assert!(
                check(&r).is_err_and(|e| e.contains("handoff_probe_ns")),
                "{bad}"
            );
            let mut r = ok.clone();
            r.quiet_throughput_ns = vec![crate::ProbeNs {
                threads: 1,
                ns: bad,
            }];
            assert!(
                check(&r).is_err_and(|e| e.contains("quiet_throughput_ns")),
                "{bad}"
            );
        }
        // A probe list longer than the rounds, or a probe that took no time.
        let mut r = ok.clone();
        let n = r.cells[0].pairs.subject_ns_per_page.len();
        r.cells[0].pairs.throughput_ns = Some(vec![3000.0; n + 1]);
        assert!(check(&r).is_err_and(|e| e.contains("differ in length")));
        for bad in [0.0, -9000.0, f64::NAN, f64::INFINITY] {
            let mut probes = vec![3000.0; n];
            probes[0] = bad;
            r.cells[0].pairs.throughput_ns = Some(probes);
            assert!(
                check(&r).is_err_and(|e| e.contains("throughput_ns")),
                "{bad}"
            );
        }
        // A name with a terminal escape, or a line break, never reaches an
        // output, nor the message that refuses it.
        for bad in ["evil\u{1b}]0;pwned\u{7}", "two\nlines"] {
            let mut r = ok.clone();
            r.cells[0].subject = bad.into();
            let e = check(&r).expect_err("refused");
            assert!(e.contains("a cell's subject") && !e.contains(bad), "{e}");
        }
        let mut r = ok.clone();
        r.cells[0].pairs.floor_ns_per_page.clear();
        assert!(check(&r).is_err_and(|e| e.contains("differ in length")));
        let mut r = ok;
        r.cells.push(r.cells[0].clone());
        assert!(check(&r).is_err_and(|e| e.contains("there twice")));
        r.cells[1].threads = 2;
        assert_eq!(check(&r), Ok(()));
    }

    #[test]
    fn impossible_effects_are_named() {
        let mut r = sample::results(vec![]);
        r.effects = Some(crate::Effects {
            collapse: Some(crate::Collapse {
                ranges: 4,
                pinned_collapsed: 99,
                ..crate::Collapse::default()
            }),
            ..crate::Effects::default()
        });
        assert!(check(&r).is_err_and(|e| e.contains("effects: collapse")));
        let ns = crate::Estimate {
            median: 900.0,
            ci_low: 800.0,
            ci_high: 1000.0,
            n: 4,
        };
        let m = crate::Migration {
            from_node: 0,
            to_node: 1,
            pages: 1024,
            rounds: 1,
            moved: vec![(0, 1024)],
            put_back_retries: 0,
            put_back_left: vec![],
            pinned_answers: vec!["1024 not moved".into()],
            unpinned_answers: vec!["0".into()],
            ns_per_page_pinned: ns,
            ns_per_page_unpinned: ns,
        };
        r.effects = Some(crate::Effects {
            migration: Some(m.clone()),
            ..crate::Effects::default()
        });
        assert_eq!(check(&r), Ok(()));
        for bad in [
            crate::Migration {
                moved: vec![(0, 1025)],
                ..m.clone()
            },
            crate::Migration { to_node: 0, ..m },
        ] {
            r.effects = Some(crate::Effects {
                migration: Some(bad),
                ..crate::Effects::default()
            });
            assert!(check(&r).is_err_and(|e| e.contains("effects: migration")));
        }
        r.effects = Some(crate::Effects {
            pin_table: vec![crate::PinAnswer {
                mapping: "anon\u{1b}[31m".into(),
                ..crate::PinAnswer::default()
            }],
            ..crate::Effects::default()
        });
        assert!(check(&r).is_err_and(|e| e.contains("pin_table mapping")));
        r.effects = Some(crate::Effects::default());
        assert_eq!(check(&r), Ok(()));
    }
}
