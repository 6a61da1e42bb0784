//! What each model scheme's false positives would cost the running
//! kernel, priced at the effects measured in it.

use crate::runs::Run;
use crate::table::{num, Group, Table};
use crate::tables::Titled;

/// 4 KiB pages in a GiB.
const PAGES_PER_GIB: f64 = (1u64 << 18) as f64;

/// A scheme's answer over refstorm's sweep: the share of unpinned pages it
/// read as pinned, or `None` where it read pinned pages as unpinned (blind
/// to pins, FOLL_GET's `plain`: it has no false positives to price).
type FpShare = Option<f64>;

/// Per model scheme, its [`FpShare`], at the fewest threads of the first
/// run that has the cell.
fn fp_rates(runs: &[Run]) -> Vec<(String, FpShare)> {
    let mut out: Vec<(String, FpShare)> = vec![];
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
            let blind = c.false_negatives.is_some_and(|n| n > 0);
            out.push((
                c.subject.clone(),
                (!blind).then(|| fp as f64 / pages as f64),
            ));
        }
    }
    out
}

/// What each scheme's false positives would cost the running kernel: its
/// false-positive share times a GiB of pages, as fork copies (at the
/// measured ns per pinned 4 KiB page), as pages migration refuses before
/// unmapping them, and as pages reclaim keeps.
pub fn prices(runs: &[Run]) -> Option<Titled> {
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
            let cells = match rate {
                Some(rate) => {
                    let pages = rate * PAGES_PER_GIB;
                    vec![
                        format!("{:.1}%", rate * 100.0),
                        num(pages * fork_ns / 1e6),
                        format!("{pages:.0}"),
                        format!("{pages:.0}"),
                        format!("{pages:.0}"),
                    ]
                }
                None => vec![
                    "blind".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ],
            };
            (s.clone(), cells)
        })
        .collect();
    Some(Titled {
        heading: "What false positives would cost the running kernel".into(),
        about: format!(
            "A page a scheme reads as pinned when it is not is treated as pinned \
             where the kernel asks folio_maybe_dma_pinned() (v6.12). FP share: \
             unpinned pages refstorm read as pinned over its sweep of 0 to 2047 \
             ordinary references per page (an even spread, not a measured \
             workload's); blind: the scheme cannot tell pinned pages at all. Per GiB \
             of such pages: fork copies an exclusive anonymous page it finds maybe \
             pinned (folio_try_dup_anon_rmap_pte(), include/linux/rmap.h), in a \
             process that has pinned before (MMF_HAS_PINNED, folio_needs_cow_for_dma(), \
             include/linux/mm.h): ms at the measured {} ns per pinned 4 KiB page, and \
             pages copied. Migration refuses an exclusive anonymous page before \
             unmapping it (folio_try_share_anon_rmap_pte(), rmap.h:582, from \
             try_to_migrate_one(), mm/rmap.c:2263): refused; but the references \
             that made the false positive, not being mappings, fail migration's \
             expected count anyway (folio_migrate_mapping()), so an exact scheme \
             refuses the same pages, only later (after unmapping and the retries), \
             and the false positive costs no refusal. Reclaim keeps an anonymous \
             page not yet in the swap cache that it finds maybe pinned, before \
             unmapping it (mm/vmscan.c:1239), exclusive or not: kept; for a page \
             whose references are mappings this is the false positive's real cost \
             (after unmapping, :1328, those references are gone); with other \
             references an exact scheme keeps the page too, as its refcount cannot \
             be frozen (__remove_mapping()). A page whose references are mappings \
             is not exclusive, so neither fork nor migration asks about it. Exact \
             schemes cost nothing here; their price is in the timing tables.",
            num(fork_ns)
        ),
        table: Table {
            row_head: "scheme".into(),
            groups: vec![
                Group::numbers("", &["FP share"]),
                Group::numbers("fork per GiB", &["ms", "copied"]),
                Group::numbers("migration per GiB", &["refused"]),
                Group::numbers("reclaim", &["kept/GiB"]),
            ],
            rows,
        },
        footnotes: vec![],
        section: "effects".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::{sample, Effects, Estimate, ForkCost};

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
        let mut plain = storm.clone();
        plain.subject = "plain".into();
        plain.false_negatives = Some(1024);
        for b in plain.fp_by_refs.iter_mut().flatten() {
            b.false_positives = 0;
        }
        let model = sample::results(vec![storm, plain]);
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
            migration: Some(pin_results::Migration {
                from_node: 0,
                to_node: 1,
                pages: 1,
                rounds: 1,
                moved: vec![(0, 1)],
                put_back_retries: 0,
                put_back_left: vec![],
                pinned_answers: vec!["1 not moved".into()],
                unpinned_answers: vec!["0".into()],
                ns_per_page_pinned: Estimate {
                    median: 2000.0,
                    ci_low: 2000.0,
                    ci_high: 2000.0,
                    n: 1,
                },
                ns_per_page_unpinned: Estimate {
                    median: 500.0,
                    ci_low: 500.0,
                    ci_high: 500.0,
                    n: 1,
                },
            }),
            ..Effects::default()
        });
        let runs = Run::label_all(vec![("m.json".into(), model), ("k.json".into(), kernel)]);
        let t = prices(&runs).into_iter().collect::<Vec<_>>();
        let prices = t.last().expect("prices").table.text();
        // Half of a GiB's 262144 pages, 1 us each: 131.1 ms; 131072 kept.
        assert!(
            prices.contains("50.0%") && prices.contains("131.1"),
            "{prices}"
        );
        assert!(prices.contains("131072"), "{prices}");
        // FOLL_GET's plain has no false positive to price: it cannot see pins.
        let plain = prices
            .lines()
            .find(|l| l.starts_with("plain"))
            .expect("plain");
        assert!(plain.contains("blind"), "{plain}");
        // Refused by migration, as counted pages only: an exact scheme
        // refuses them too.
        assert!(!prices.contains("262.1"), "{prices}");
        assert!(t.last().expect("prices").about.contains("costs no refusal"));
    }
}
