//! The effects of one run as tables: the pin table, the fork cost,
//! khugepaged's collapse and migration of pinned ranges.

use crate::runs::Run;
use crate::table::{clean, num, Group, Table};
use crate::tables::{estimate, Titled};

/// The effects tables of every run that has them.
pub fn per_run(runs: &[Run]) -> Vec<Titled> {
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
            t.extend(e.migration.as_ref().map(|m| migration(m, &prefix)));
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
             anonymous page is; and every O_DIRECT where the block layer takes page \
             references, not pins: before its move to iov_iter_extract_pages(), \
             v6.5); done: no counters to tell; or the errno the kernel \
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

fn migration(m: &pin_results::Migration, prefix: &str) -> Titled {
    let moved = |pick: fn(&(u64, u64)) -> u64| {
        let v: Vec<u64> = m.moved.iter().map(pick).collect();
        let (lo, hi) = (v.iter().min(), v.iter().max());
        match (lo, hi) {
            (Some(lo), Some(hi)) if lo == hi => format!("{lo} of {}", m.pages),
            (Some(lo), Some(hi)) => format!("{lo}-{hi} of {}", m.pages),
            _ => "-".into(),
        }
    };
    let row = |what: &str, n: String, ns: &pin_results::Estimate, answers: &[String]| {
        (
            what.to_string(),
            vec![n, estimate(ns), clean(&answers.join(", "))],
        )
    };
    Titled {
        heading: format!("{prefix}What migration makes of pinned pages"),
        about: format!(
            "move_pages() of {} 4 KiB pages from node {} to node {}, registered \
             with io_uring (pinned long-term) or not, in {} alternating rounds, \
             each starting on node {}: migration unmaps an exclusive anonymous page \
             only if it may share it, which folio_try_share_anon_rmap_pte() refuses \
             for a folio folio_maybe_dma_pinned() reports pinned (-EBUSY, include/linux/\
             rmap.h:582, from try_to_migrate_one(), mm/rmap.c:2263 in v6.12); \
             migrate_pages() retries and gives up. moved: pages the move brought \
             to node {} (found there after less before), over the rounds; \
             ns/page: the call's time over the buffer's pages, median +- 95% CI \
             half-width.{}",
            m.pages,
            m.from_node,
            m.to_node,
            m.rounds,
            m.from_node,
            m.to_node,
            put_back(m)
        ),
        table: Table {
            row_head: "pages".into(),
            groups: vec![group(&["moved", "ns/page", "move_pages answered"])],
            rows: vec![
                row(
                    "pinned",
                    moved(|r| r.0),
                    &m.ns_per_page_pinned,
                    &m.pinned_answers,
                ),
                row(
                    "unpinned",
                    moved(|r| r.1),
                    &m.ns_per_page_unpinned,
                    &m.unpinned_answers,
                ),
            ],
        },
        footnotes: vec![],
        section: "effects".into(),
    }
}

/// The put-backs a migration's rounds repeated, and what pages left
/// behind answered, said where there were any.
fn put_back(m: &pin_results::Migration) -> String {
    let left = match m.put_back_left.as_slice() {
        [] => String::new(),
        l => format!(
            " Pages left off node {} answered {}.",
            m.from_node,
            clean(&l.join(", "))
        ),
    };
    match m.put_back_retries {
        0 => left,
        n => format!(
            " Putting the buffer back on node {} took {n} move_pages() call(s) \
             beyond one per move.{left}",
            m.from_node
        ),
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
                Group::numbers("buffer MiB", &["all", "PMD"]),
                Group::numbers("fork ms", &["pinned", "unpinned"]),
                Group::numbers("extra", &["ns/page"]),
                Group::numbers("pages copied", &["pinned", "unpinned"]),
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
            migration: Some(pin_results::Migration {
                from_node: 0,
                to_node: 1,
                pages: 512,
                rounds: 2,
                moved: vec![(0, 512), (0, 512)],
                put_back_retries: 1,
                put_back_left: vec!["ENOENT".into()],
                pinned_answers: vec!["512 not moved".into()],
                unpinned_answers: vec!["0".into()],
                ns_per_page_pinned: Estimate {
                    median: 9000.0,
                    ci_low: 8000.0,
                    ci_high: 10000.0,
                    n: 2,
                },
                ns_per_page_unpinned: Estimate {
                    median: 3000.0,
                    ci_low: 2900.0,
                    ci_high: 3100.0,
                    n: 2,
                },
            }),
            pins_balanced: Some(false),
        });
        let runs = Run::label_all(vec![("r.json".into(), r)]);
        let t = per_run(&runs);
        assert_eq!(t.len(), 4);
        let migration = t[3].table.text();
        assert!(
            migration.contains("0 of 512")
                && migration.contains("512 not moved")
                && migration.contains("9000+-1000"),
            "{migration}"
        );
        assert!(
            t[3].about.contains("took 1 move_pages() call(s)")
                && t[3].about.contains("left off node 0 answered ENOENT."),
            "{}",
            t[3].about
        );
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
}
