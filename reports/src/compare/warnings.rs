//! What makes a comparison weaker evidence, said first, where a reader of
//! a pasted comparison sees it: other machines, schema versions, emulated
//! or partial runs, machine states (fingerprints, quiet floors) that differ.

use crate::runs::Run;
use crate::table::{num, wrap, WIDTH};
use pin_results::{Estimate, Fingerprint};

pub(super) fn describe(label: &str, run: &Run) -> String {
    let m = &run.results.metadata;
    wrap(
        &format!("{label:<6}"),
        "      ",
        &format!(
            "{}: host {}, {}, {} cores, kernel {}, pinbench {}, started {}",
            crate::table::clean(&run.source),
            crate::table::clean(&m.host),
            crate::table::clean(&m.cpu_model),
            m.cores,
            crate::table::clean(&m.kernel),
            crate::table::clean(&m.git_commit),
            crate::table::clean(&m.start_time)
        ),
        WIDTH,
    )
}

/// Warnings that make the comparison weaker evidence.
pub fn warnings(base: &[Run], new: &[Run]) -> Vec<String> {
    let all: Vec<(&str, &Run)> = base
        .iter()
        .map(|r| ("base", r))
        .chain(new.iter().map(|r| ("new", r)))
        .collect();
    let mut w = vec![];
    let Some((_, first)) = all.first() else {
        return w;
    };
    let machine = |r: &Run| {
        (
            r.results.metadata.host.clone(),
            r.results.metadata.cpu_model.clone(),
        )
    };
    if all.iter().any(|(_, r)| machine(r) != machine(first)) {
        w.push(
            "different machines among the runs: changes mix the machine with the software".into(),
        );
    }
    if all
        .iter()
        .any(|(_, r)| r.results.schema_version != first.results.schema_version)
    {
        w.push("different results schema versions: fields may not mean the same".into());
    }
    for (label, r) in &all {
        if let Some(e) = &r.results.metadata.emulated {
            w.push(format!(
                "{label} run {} is EMULATED ({e}): its timings are not performance evidence",
                r.source
            ));
        }
        if r.results.partial {
            w.push(format!("{label} run {} is partial (interrupted)", r.source));
        }
    }
    w.extend(fingerprint_warnings(&all));
    w.extend(loads_warnings(base, new));
    w.extend(state_warnings(&all));
    w.into_iter().map(|s| crate::table::clean(&s)).collect()
}

/// Runs made in different machine states, by their fingerprints.
fn fingerprint_warnings(all: &[(&str, &Run)]) -> Vec<String> {
    let mut w = vec![];
    let states: Vec<(&str, &Run, Estimate)> = all
        .iter()
        .filter_map(|(l, r)| Some((*l, *r, r.results.fingerprint?.start)))
        .collect();
    for (label, r) in all {
        if r.results.fingerprint.is_some_and(|f| f.drifted()) {
            w.push(format!(
                "{label} run {}: the machine changed state during the run (fingerprint \
                 at start and end differ)",
                r.source
            ));
        }
    }
    if let Some((_, r0, f0)) = states.first() {
        for (label, r, f) in &states[1..] {
            if Fingerprint::differs(f0, f) {
                w.push(format!(
                    "{label} run {} was made in another machine state than {} \
                     (fingerprint {} against {}): a change may be the machine, not the code",
                    r.source,
                    r0.source,
                    num(f.median),
                    num(f0.median)
                ));
            }
        }
    }
    w
}

/// Sides whose memory-bound fingerprints lie apart: the cells that read
/// beyond `struct page` for every page could have moved with that state,
/// where the atomic fingerprint sees nothing. Its values, start and end
/// of each run, move by a quarter within minutes on the shared 2-vCPU
/// EPYC VM (1.62 to 3.74 over six runs of 3 s), so only sides whose
/// ranges do not overlap are named: both sides then saw different states.
fn loads_warnings(base: &[Run], new: &[Run]) -> Vec<String> {
    let values = |runs: &[Run]| -> Vec<f64> {
        runs.iter()
            .filter_map(|r| r.results.fingerprint)
            .flat_map(|f| [f.loads_start, f.loads_end])
            .flatten()
            .map(|e| e.median)
            .collect()
    };
    let (b, n) = (values(base), values(new));
    let range = |xs: &[f64]| {
        let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    };
    if b.is_empty() || n.is_empty() {
        return vec![];
    }
    let ((bl, bh), (nl, nh)) = (range(&b), range(&n));
    if bh >= nl && nh >= bl {
        return vec![];
    }
    let all: Vec<(&str, &Run)> = base
        .iter()
        .map(|r| ("base", r))
        .chain(new.iter().map(|r| ("new", r)))
        .collect();
    let cells = memory_bound(&all);
    vec![format!(
        "the memory-bound fingerprint (dependent loads over the floor) read {} to {} \
         in base and {} to {} in new: the cells that read beyond struct page for every \
         page could have moved with that state: {}",
        num(bl),
        num(bh),
        num(nl),
        num(nh),
        if cells.is_empty() {
            "none here".to_string()
        } else {
            cells.join(", ")
        }
    )]
}

/// The model cells whose census reads at least one line outside the
/// memmap per page (side trees, page_ext, folios, counters), by scheme
/// and workload.
fn memory_bound(all: &[(&str, &Run)]) -> Vec<String> {
    crate::runs::distinct(all.iter().flat_map(|(_, r)| {
        r.results.cells.iter().filter_map(|c| {
            let census = c.census.as_ref().filter(|n| n.pages > 0)?;
            let per_page = census.lines_read.tracking as f64 / census.pages as f64;
            (per_page >= 1.0).then(|| format!("{} {}", c.subject, c.workload))
        })
    }))
}

/// Runs judged by another run's quiet floor ([`crate::runs::judge_together`]
/// left a note on them): made in another machine state.
fn state_warnings(all: &[(&str, &Run)]) -> Vec<String> {
    all.iter()
        .flat_map(|(label, r)| {
            r.results
                .notes
                .iter()
                .filter(|n| n.starts_with(crate::runs::ANOTHER_STATE))
                .map(move |n| format!("{label} run {}: {n}", r.source))
        })
        .collect()
}
