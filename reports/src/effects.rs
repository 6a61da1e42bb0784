//! "Effects of pins": the results' `effects` (`pinbench kernel
//! --effects`): the pin table and the fork cost, as report tables.

use crate::runs::Run;
use crate::table::{clean, num, Group, Table};
use crate::tables::{estimate, Titled};

/// The effects tables of every run that has them, then what the model's
/// false positives would cost, where the runs hold both.
pub fn tables(runs: &[Run]) -> Vec<Titled> {
    let mut t = per_run(runs);
    t.extend(prices(runs));
    t
}

/// 4 KiB pages in a GiB.
const PAGES_PER_GIB: f64 = (1u64 << 18) as f64;

/// Per model scheme, the share of unpinned pages `refstorm` read as pinned
/// (over its sweep of ordinary reference counts), at the fewest threads of
/// the first run that has the cell.
fn fp_rates(runs: &[Run]) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = vec![];
    let mut cells: Vec<&pin_results::Cell> = runs
        .iter()
        .flat_map(|r| r.results.cells.iter())
        .filter(|c| c.backend == pin_results::MODEL && c.workload == "refstorm")
        .collect();
    cells.sort_by_key(|c| c.threads);
    for c in cells {
        let Some(buckets) = &c.fp_by_refs else {
            continue;
        };
        let pages: u64 = buckets.iter().map(|b| b.pages).sum();
        let fp: u64 = buckets.iter().map(|b| b.false_positives).sum();
        if pages > 0 && !out.iter().any(|(s, _)| *s == c.subject) {
            out.push((c.subject.clone(), fp as f64 / pages as f64));
        }
    }
    out
}

/// What each scheme's false positives would cost the running kernel: its
/// false-positive share times a GiB of pages, as fork copies (at the
/// measured ns per pinned 4 KiB page) and as pages reclaim would keep.
/// khugepaged and migration refuse a page for any extra reference, pinned
/// or not, so a scheme's answer changes nothing there.
fn prices(runs: &[Run]) -> Option<Titled> {
    let fork_ns = runs
        .iter()
        .filter_map(|r| r.results.effects.as_ref())
        .flat_map(|e| e.fork.iter())
        .find(|f| f.backing == "4k")?
        .ns_per_pinned_page
        .median;
    let rates = fp_rates(runs);
    if rates.is_empty() {
        return None;
    }
    let rows = rates
        .iter()
        .map(|(s, rate)| {
            let pages = rate * PAGES_PER_GIB;
            (
                s.clone(),
                vec![
                    format!("{:.1}%", rate * 100.0),
                    num(pages * fork_ns / 1e6),
                    format!("{pages:.0}"),
                ],
            )
        })
        .collect();
    Some(Titled {
        heading: "What false positives would cost the running kernel".into(),
        about: format!(
            "Where the kernel asks folio_maybe_dma_pinned(), a page a scheme reads \
             as pinned when it is not is treated as pinned: copied at fork \
             (folio_needs_cow_for_dma()) and kept by reclaim (mm/vmscan.c). \
             khugepaged and migration refuse a page for any extra reference \
             (is_refcount_suitable(), the migration's expected count), pinned or \
             not, so a false positive changes nothing there. FP share: unpinned \
             pages refstorm read as pinned over its sweep of 0 to 2047 ordinary \
             references per page (an even spread, not a measured workload's); per \
             GiB of such pages: fork time at the measured {} ns per pinned 4 KiB \
             page, and pages reclaim would keep. Exact schemes cost nothing here; \
             their price is in the timing tables.",
            num(fork_ns)
        ),
        table: Table {
            row_head: "scheme".into(),
            groups: vec![Group {
                label: String::new(),
                columns: vec!["FP share".into(), "fork ms/GiB".into(), "kept/GiB".into()],
                align_left: vec![],
            }],
            rows,
        },
        footnotes: vec![],
        section: "effects".into(),
    })
}

fn per_run(runs: &[Run]) -> Vec<Titled> {
    runs.iter()
        .filter_map(|r| Some((r, r.results.effects.as_ref()?)))
        .flat_map(|(r, e)| {
            let prefix = if runs.len() > 1 {
                format!("[{}] ", r.label)
            } else {
                String::new()
            };
            let balanced = match e.pins_balanced {
                Some(true) => "The kernel's FOLL_PIN counters balanced over them.",
                Some(false) => "The kernel's FOLL_PIN counters did NOT balance over them.",
                None => "This kernel has no FOLL_PIN counters to check them by.",
            };
            let mut t = vec![];
            if !e.pin_table.is_empty() {
                t.push(pin_table(e, &prefix, balanced));
            }
            if !e.fork.is_empty() {
                t.push(fork(e, &prefix));
            }
            t.extend(e.collapse.as_ref().map(|c| collapse(c, &prefix)));
            t
        })
        .collect()
}

fn group(columns: &[&str]) -> Group {
    Group {
        label: String::new(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        align_left: vec![true; columns.len()],
    }
}

fn pin_table(e: &pin_results::Effects, prefix: &str, balanced: &str) -> Titled {
    let rows = e
        .pin_table
        .iter()
        .map(|a| {
            let prot = if a.prot == "read-only" { "ro" } else { "rw" };
            let what = match &a.fs {
                Some(fs) => format!("{} {prot} ({fs})", a.mapping),
                None => format!("{} {prot}", a.mapping),
            };
            let cells = vec![clean(&a.long_term), clean(&a.dio_into), clean(&a.dio_from)];
            (clean(&what), cells)
        })
        .collect();
    Titled {
        heading: format!("{prefix}What the running kernel lets be pinned"),
        about: format!(
            "long-term: IORING_REGISTER_BUFFERS, pin_user_pages(FOLL_WRITE | \
             FOLL_LONGTERM); dio into: an O_DIRECT read into the buffer (a \
             short-term pin with FOLL_WRITE); dio from: an O_DIRECT write from it \
             (read only); rw, ro: the mapping's protection. pinned: the kernel's \
             FOLL_PIN counters moved; no pin: the call succeeded without one (tmpfs \
             copies O_DIRECT through its page cache; gup takes no pin on the shared \
             zero page, mm/gup.c:159 and :551 in v6.12, which a never-written read-only \
             anonymous page is); done: no counters to tell; or the errno the kernel \
             returned, or why the call could not be made. {balanced}"
        ),
        table: Table {
            row_head: "mapping".into(),
            groups: vec![group(&["long-term", "dio into", "dio from"])],
            rows,
        },
        footnotes: vec![],
        section: "effects".into(),
    }
}

fn collapse(c: &pin_results::Collapse, prefix: &str) -> Titled {
    let row = |what: &str, n: usize, answers: &[String]| {
        (
            what.to_string(),
            vec![format!("{n} of {}", c.ranges), answers.join(", ")],
        )
    };
    Titled {
        heading: format!("{prefix}What khugepaged makes of a pinned range"),
        about: "MADV_COLLAPSE of 2 MiB ranges of 4 KiB pages, registered with io_uring                 (pinned long-term) or not, alternately: a range becomes a THP unless a                 page has more references than mappings (is_refcount_suitable(),                 mm/khugepaged.c), which a pin's are; madvise() then answers EAGAIN."
            .into(),
        table: Table {
            row_head: "range".into(),
            groups: vec![group(&["became THP", "madvise answered"])],
            rows: vec![
                row("pinned", c.pinned_collapsed, &c.pinned_answers),
                row("unpinned", c.unpinned_collapsed, &c.unpinned_answers),
            ],
        },
        footnotes: vec![],
        section: "effects".into(),
    }
}

fn fork(e: &pin_results::Effects, prefix: &str) -> Titled {
    let ms = |ns: f64| num(ns / 1e6);
    let rows = e
        .fork
        .iter()
        .map(|f| {
            let copied = |c: Option<u64>| c.map_or("-".into(), |n| n.to_string());
            let mib = |b: u64| num(b as f64 / f64::from(1u32 << 20));
            let pmd = match (f.thp_bytes, f.thp_bytes_after) {
                (Some(b), Some(a)) if b > 0 || a > 0 => format!("{}->{}", mib(b), mib(a)),
                _ => "-".into(),
            };
            (
                clean(&f.backing),
                vec![
                    num(f.pages as f64 * 4096.0 / (1u64 << 20) as f64),
                    pmd,
                    ms(f.fork_ns_pinned),
                    ms(f.fork_ns_unpinned),
                    estimate(&f.ns_per_pinned_page),
                    copied(f.pages_copied_pinned),
                    copied(f.pages_copied_unpinned),
                ],
            )
        })
        .collect();
    Titled {
        heading: format!("{prefix}What a pinned buffer costs fork()"),
        about: "The same buffer forked registered with io_uring (pinned long-term) \
                and unregistered (MMF_HAS_PINNED still set), in alternating rounds; \
                ms: median fork() time in the parent; ns/page: per round, (pinned - \
                unpinned) over the buffer's 4 KiB pages, median +- 95% CI half-width; \
                copied: the child's private pages in the buffer after one fork each \
                way (copy_page_range() copies what folio_needs_cow_for_dma() finds \
                pinned). PMD: MiB of the buffer mapped as THP before and after the rounds (a fork splits a pinned THP's PMD, copy_huge_pmd())."
            .into(),
        table: Table {
            row_head: "backing".into(),
            groups: vec![
                Group {
                    label: "buffer MiB".into(),
                    columns: vec!["all".into(), "PMD".into()],
                    align_left: vec![],
                },
                Group {
                    label: "fork ms".into(),
                    columns: vec!["pinned".into(), "unpinned".into()],
                    align_left: vec![],
                },
                Group {
                    label: "extra".into(),
                    columns: vec!["ns/page".into()],
                    align_left: vec![],
                },
                Group {
                    label: "pages copied".into(),
                    columns: vec!["pinned".into(), "unpinned".into()],
                    align_left: vec![],
                },
            ],
            rows,
        },
        footnotes: vec![],
        section: "effects".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::{sample, Effects, Estimate, ForkCost, PinAnswer};

    #[test]
    fn the_pin_table_and_the_fork_cost_are_rendered_with_their_verdicts() {
        let mut r = sample::results(vec![]);
        r.effects = Some(Effects {
            pin_table: vec![PinAnswer {
                mapping: "file shared".into(),
                fs: Some("ext4".into()),
                prot: "read-write".into(),
                long_term: "EFAULT".into(),
                dio_into: "pinned".into(),
                dio_from: "pinned".into(),
            }],
            fork: vec![ForkCost {
                backing: "4k".into(),
                pages: 16384,
                thp_bytes: Some(0),
                thp_bytes_after: Some(0),
                rounds: 8,
                fork_ns_pinned: 26.4e6,
                fork_ns_unpinned: 1.6e6,
                ns_per_pinned_page: Estimate {
                    median: 1500.0,
                    ci_low: 1400.0,
                    ci_high: 1600.0,
                    n: 8,
                },
                pages_copied_pinned: Some(16384),
                pages_copied_unpinned: Some(0),
                rounds_ns: vec![],
            }],
            collapse: Some(pin_results::Collapse {
                ranges: 4,
                pinned_collapsed: 0,
                pinned_answers: vec!["EAGAIN".into()],
                unpinned_collapsed: 4,
                unpinned_answers: vec!["ok".into()],
            }),
            pins_balanced: Some(false),
        });
        let runs = Run::label_all(vec![("r.json".into(), r)]);
        let t = tables(&runs);
        assert_eq!(t.len(), 3);
        let table = t[0].table.text();
        assert!(
            table.contains("file shared rw (ext4)") && table.contains("EFAULT"),
            "{table}"
        );
        assert!(t[0].about.contains("did NOT balance"), "{}", t[0].about);
        let fork = t[1].table.text();
        assert!(
            fork.contains("26.40") && fork.contains("1500+-100"),
            "{fork}"
        );
        assert!(fork.contains("16384"), "{fork}");
        let collapse = t[2].table.text();
        assert!(
            collapse.contains("0 of 4") && collapse.contains("EAGAIN"),
            "{collapse}"
        );
    }

    #[test]
    fn false_positives_are_priced_at_the_measured_fork_cost() {
        let mut storm = sample::cell("bias", "refstorm", 1, 15.0, 1e8);
        storm.fp_by_refs = Some(vec![
            pin_results::FpByRefs {
                refs_min: 0,
                refs_max: 1023,
                pages: 1024,
                false_positives: 0,
            },
            pin_results::FpByRefs {
                refs_min: 1024,
                refs_max: 2047,
                pages: 1024,
                false_positives: 1024,
            },
        ]);
        let model = sample::results(vec![storm]);
        let mut kernel = sample::results(vec![]);
        kernel.effects = Some(Effects {
            fork: vec![ForkCost {
                backing: "4k".into(),
                pages: 1,
                thp_bytes: None,
                thp_bytes_after: None,
                rounds: 1,
                fork_ns_pinned: 0.0,
                fork_ns_unpinned: 0.0,
                ns_per_pinned_page: Estimate {
                    median: 1000.0,
                    ci_low: 1000.0,
                    ci_high: 1000.0,
                    n: 1,
                },
                pages_copied_pinned: None,
                pages_copied_unpinned: None,
                rounds_ns: vec![],
            }],
            ..Effects::default()
        });
        let runs = Run::label_all(vec![("m.json".into(), model), ("k.json".into(), kernel)]);
        let t = tables(&runs);
        let prices = t.last().expect("prices").table.text();
        // Half of a GiB's 262144 pages, 1 us each: 131.1 ms; 131072 kept.
        assert!(
            prices.contains("50.0%") && prices.contains("131.1"),
            "{prices}"
        );
        assert!(prices.contains("131072"), "{prices}");
    }
}
