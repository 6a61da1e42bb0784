//! Plot 3: per-call latency percentiles (p50, p90, p99, p99.9) of every
//! subject on a log scale, one plot per workload shape, at the largest
//! thread count measured with the memmap local. A flat line is a path
//! with no slow calls; a line that climbs at p99 is one that sometimes
//! waits (a lock, a cache line bouncing between CPUs).

use super::{draw_line, text, Ctx, Dot, Draw, Entry, Figure, Mark, PlotError};
use crate::error::ReportError;
use crate::runs::{subject, subjects};
use plotters::coord::Shift;
use plotters::prelude::*;

const PERCENTILES: [&str; 4] = ["p50", "p90", "p99", "p99.9"];

struct Lines {
    /// (colour, ns at each percentile)
    series: Vec<(RGBColor, [f64; 4])>,
}

pub(crate) fn render(ctx: &Ctx) -> Result<Vec<Figure>, ReportError> {
    let cells = &ctx.run.results.cells;
    let mut out = vec![];
    for shape in crate::runs::shapes(std::slice::from_ref(ctx.run)) {
        let local = || {
            cells
                .iter()
                .filter(|c| shape.holds(c) && c.numa.placement == "local" && c.subject != "noop")
        };
        let Some(t) = local().map(|c| c.threads).max() else {
            continue;
        };
        let at_t = || local().filter(|c| c.threads == t);
        let mut series = vec![];
        let mut legend = vec![];
        for s in subjects(at_t()) {
            let Some(c) = at_t().find(|c| subject(c) == s) else {
                continue;
            };
            let l = c.latency_ns;
            let color = ctx.colors.of(&s);
            series.push((
                color,
                [l.p50, l.p90, l.p99, l.p999].map(|v| v.max(1) as f64),
            ));
            legend.push(Entry {
                label: s,
                color,
                mark: Mark::Line(Dot::Circle),
            });
        }
        if series.is_empty() {
            continue;
        }
        let title = format!(
            "Latency per call of {} pages: {}, {t} thread{}, memmap local",
            shape.pages_per_call,
            shape.name(),
            if t == 1 { "" } else { "s" }
        );
        out.push(ctx.figure(
            &format!("latency-{}", shape.slug()),
            title,
            shape.slug(),
            legend,
            &Lines { series },
        )?);
    }
    Ok(out)
}

/// `1.5 us` style: ns below a microsecond, then us, ms; three
/// significant digits at most, no trailing zeros.
fn duration(ns: f64) -> String {
    let (v, unit) = if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "us")
    } else {
        (ns, "ns")
    };
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    format!("{s} {unit}")
}

/// The decades around `lo..hi`.
fn decades(lo: f64, hi: f64) -> (f64, f64) {
    (
        10f64.powf(lo.max(1e-3).log10().floor()),
        10f64.powf(hi.max(1e-3).log10().ceil()),
    )
}

impl Draw for Lines {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let all = || self.series.iter().flat_map(|s| s.1);
        let (lo, hi) = decades(
            all().fold(f64::INFINITY, f64::min) / 1.2,
            all().fold(0.0, f64::max) * 1.2,
        );
        let mut chart = ChartBuilder::on(area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d(
                (0..PERCENTILES.len() as i32 - 1).into_segmented(),
                (lo..hi).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_desc("percentile of calls")
            .y_desc("latency per call (log scale)")
            .axis_desc_style(text(20.0))
            .label_style(text(16.0))
            .x_labels(PERCENTILES.len())
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => PERCENTILES
                    .get(*i as usize)
                    .map_or(String::new(), |p| p.to_string()),
                _ => String::new(),
            })
            .y_labels(20)
            .y_label_formatter(&|y| {
                // Every tick keeps its grid line; only 1, 2 and 5 are named.
                let mantissa = (y / 10f64.powf(y.log10().floor())).round();
                if [1.0, 2.0, 5.0].contains(&mantissa) {
                    duration(*y)
                } else {
                    String::new()
                }
            })
            .light_line_style(WHITE)
            .draw()?;
        for (color, ns) in &self.series {
            let pts: Vec<_> = ns
                .iter()
                .enumerate()
                .map(|(i, &v)| (SegmentValue::CenterOf(i as i32), v))
                .collect();
            draw_line(&mut chart, &pts, color, false, Dot::Circle)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(super::duration(850.0), "850 ns");
        assert_eq!(super::duration(1500.0), "1.5 us");
        assert_eq!(super::duration(20_000.0), "20 us");
        assert_eq!(super::duration(2.5e6), "2.5 ms");
        assert_eq!(super::decades(3300.0, 98_000.0), (1000.0, 100_000.0));
    }
}
