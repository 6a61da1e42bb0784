//! Plot 2: ns per page of every subject as a multiple of the floor (one
//! atomic add per page, the least any scheme can cost) measured in slices
//! paired with it, in the `private` workload (the harness's `noop` shape);
//! one bar per thread count.

use super::bars::Bars;
use super::{Colors, Ctx, Entry, Figure, Mark};
use crate::error::ReportError;
use crate::runs::{distinct, is_calibration, subjects, Shape};
use crate::tables::find;

/// Bars per scheme at most: more thread counts than this are thinned to
/// the fewest, the most and evenly spaced ones between.
const MAX_BARS: usize = 4;

/// At most `n` of `xs`: the first, the last and evenly spaced between.
fn spread(xs: &[usize], n: usize) -> Vec<usize> {
    if xs.len() <= n || n < 2 {
        return xs.to_vec();
    }
    (0..n).map(|i| xs[i * (xs.len() - 1) / (n - 1)]).collect()
}

pub(crate) fn render(ctx: &Ctx) -> Result<Vec<Figure>, ReportError> {
    let run = ctx.run;
    let cells = &run.results.cells;
    let Some(reference) = cells
        .iter()
        .find(|c| is_calibration(c))
        .or_else(|| cells.iter().find(|c| c.workload == "private"))
    else {
        return Ok(vec![]);
    };
    let shape = Shape::of(reference);
    let local = || {
        cells
            .iter()
            .filter(|c| shape.holds(c) && c.numa.placement == "local" && !is_calibration(c))
    };
    let mut threads = distinct(local().map(|c| c.threads));
    threads.sort_unstable();
    let threads = spread(&threads, MAX_BARS);
    let categories = subjects(local());
    if categories.is_empty() {
        return Ok(vec![]);
    }
    let values = categories
        .iter()
        .map(|s| {
            threads
                .iter()
                .map(|&t| {
                    let c = find(run, &shape, s, t, "local")?;
                    (c.x_floor.n > 0).then_some(c.x_floor.median)
                })
                .collect()
        })
        .collect();
    let colors: Vec<_> = (0..threads.len()).map(Colors::series).collect();
    let legend = threads
        .iter()
        .zip(&colors)
        .map(|(t, c)| Entry {
            label: if *t == 1 {
                "1 thread".into()
            } else {
                format!("{t} threads")
            },
            color: *c,
            mark: Mark::Bar,
        })
        .collect();
    let body = Bars {
        categories,
        colors,
        values,
        x_desc: "ns per page / the floor's ns per page (x, lower is better)".into(),
        reference: Some((1.0, "floor".into())),
        value_label: crate::table::num,
    };
    Ok(vec![ctx.figure(
        "floor-ratio",
        format!(
            "Cost over the floor: {} ({} pages per call, memmap local)",
            shape.name(),
            shape.pages_per_call
        ),
        shape.slug(),
        legend,
        &body,
    )?])
}

#[cfg(test)]
mod tests {
    #[test]
    fn many_thread_counts_are_thinned_keeping_both_ends() {
        let t: Vec<usize> = (1..=64).collect();
        assert_eq!(super::spread(&t, 4), vec![1, 22, 43, 64]);
        assert_eq!(super::spread(&[1, 2], 4), vec![1, 2]);
    }
}
