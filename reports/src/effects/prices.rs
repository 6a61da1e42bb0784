//! What each model scheme's false positives would cost the running
//! kernel, priced at the effects measured in it.

use crate::runs::Run;
use crate::table::{num, Group, Table};
use crate::tables::Titled;

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
/// measured ns per pinned 4 KiB page), as pages migration would refuse
/// (at the measured ns per refused page, where a run moved pages between
/// nodes) and as pages reclaim would keep.
pub fn prices(runs: &[Run]) -> Option<Titled> {
    let effects = || runs.iter().filter_map(|r| r.results.effects.as_ref());
    let fork_ns = effects()
        .flat_map(|e| e.fork.iter())
        .find(|f| f.backing == "4k")?
        .ns_per_pinned_page
        .median;
    let refused_ns = effects()
        .find_map(|e| e.migration.as_ref())
        .map(|m| m.ns_per_page_pinned.median);
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
                    refused_ns.map_or("-".into(), |ns| num(pages * ns / 1e6)),
                    format!("{pages:.0}"),
                ],
            )
        })
        .collect();
    let refused = refused_ns.map_or_else(
        || "no run here moved pages between nodes (one node of memory), so no time".into(),
        |ns| format!("at the measured {} ns per refused page", num(ns)),
    );
    Some(Titled {
        heading: "What false positives would cost the running kernel".into(),
        about: format!(
            "A page a scheme reads as pinned when it is not is treated as pinned \
             where the kernel asks folio_maybe_dma_pinned() (v6.12): an exclusive \
             anonymous page is copied at fork (folio_try_dup_anon_rmap_pte(), \
             include/linux/rmap.h) and refused by migration before it is unmapped \
             (folio_try_share_anon_rmap_pte(), rmap.h:582, from try_to_migrate_one(), \
             mm/rmap.c:2263); anonymous pages are kept by reclaim (mm/vmscan.c:1239 \
             and :1328). FP share: unpinned pages refstorm read as pinned over its \
             sweep of 0 to 2047 ordinary references per page (an even spread, not a \
             measured workload's). Per GiB of such pages: fork time at the measured \
             {} ns per pinned 4 KiB page and pages copied; migration's refused pages, \
             {refused}: references that are not mappings fail migration's expected \
             count anyway (folio_migrate_mapping()), so an exact scheme refuses the \
             same pages, after unmapping and retrying rather than before; a page \
             whose references are mappings is not exclusive, and neither fork nor \
             migration asks. kept: pages reclaim would keep. Exact schemes cost \
             nothing here; their price is in the timing tables.",
            num(fork_ns)
        ),
        table: Table {
            row_head: "scheme".into(),
            groups: vec![
                Group::numbers("", &["FP share"]),
                Group::numbers("fork per GiB", &["ms", "copied"]),
                Group::numbers("migration per GiB", &["ms", "refused"]),
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
            migration: Some(pin_results::Migration {
                from_node: 0,
                to_node: 1,
                pages: 1,
                rounds: 1,
                moved: vec![(0, 1)],
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
        // The same pages refused by migration, 2 us each: 262.1 ms.
        assert!(prices.contains("262.1"), "{prices}");
    }
}
