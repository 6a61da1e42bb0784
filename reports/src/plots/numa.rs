//! Plot 6: ns per page with the memmap on the threads' node against a
//! remote node, for every workload shape a run measured both ways (at the
//! largest thread count that has both).

use super::bars::Bars;
use super::{Colors, Ctx, Entry, Figure, Mark};
use crate::error::ReportError;
use crate::runs::{is_calibration, subjects};
use crate::tables::{find, numa_pairs};

pub(crate) fn render(ctx: &Ctx) -> Result<Vec<Figure>, ReportError> {
    let run = ctx.run;
    let mut out = vec![];
    for (shape, t) in numa_pairs(run) {
        let cells = run.results.cells.iter().filter(|c| {
            shape.holds(c) && c.threads == t && !(is_calibration(c) && c.subject == "noop")
        });
        let categories = subjects(cells);
        let values = categories
            .iter()
            .map(|s| {
                ["local", "remote"]
                    .iter()
                    .map(|p| find(run, &shape, s, t, p).map(|c| c.ns_per_page))
                    .collect()
            })
            .collect();
        let colors = vec![Colors::series(0), Colors::series(1)];
        let legend = ["memmap local", "memmap remote"]
            .iter()
            .zip(&colors)
            .map(|(l, c)| Entry {
                label: l.to_string(),
                color: *c,
                mark: Mark::Bar,
            })
            .collect();
        let body = Bars {
            categories,
            colors,
            values,
            x_desc: "ns per page (lower is better)".into(),
            reference: None,
            value_label: crate::table::num,
        };
        out.push(ctx.figure(
            &format!("numa-{}", shape.slug()),
            format!(
                "NUMA: {} at {t} thread{}, memmap local vs remote",
                shape.name(),
                if t == 1 { "" } else { "s" }
            ),
            "numa".into(),
            legend,
            &body,
        )?);
    }
    Ok(out)
}
