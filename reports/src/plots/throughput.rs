//! Plot 1: pages per second against threads, one line per subject, one
//! plot per workload shape; memmap on the local node. The floor (one
//! atomic add per page, paired with every cell) is the dashed line: at each
//! thread count, threads x 1e9 / the median of the cells' floor ns/page.

use super::{draw_line, text, tick_format, Ctx, Dot, Draw, Entry, Figure, Mark, PlotError};
use crate::error::ReportError;
use crate::runs::{distinct, subject, subjects};
use plotters::coord::ranged1d::{Ranged, SegmentedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordi32;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One subject's line.
struct Series {
    color: RGBColor,
    /// Its points' marker (another where its colour repeats).
    dot: Dot,
    /// The floor's line is dashed.
    dashed: bool,
    /// (threads, million pages/s), by threads.
    points: Vec<(f64, f64)>,
}

struct Lines {
    /// The value axis' description.
    y_desc: &'static str,
    threads: Vec<usize>,
    series: Vec<Series>,
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
        let mut series = vec![];
        let mut names = vec![];
        for s in subjects(local()) {
            let mut pts: Vec<(f64, f64)> = local()
                .filter(|c| subject(c) == s)
                .map(|c| (c.threads as f64, c.pages_per_sec / 1e6))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            series.push(Series {
                color: ctx.colors.of(&s),
                dot: ctx.colors.dot(&s),
                dashed: false,
                points: pts,
            });
            names.push(s);
        }
        if series.is_empty() {
            continue;
        }
        let mut threads = distinct(local().map(|c| c.threads));
        threads.sort_unstable();
        let floor: Vec<(f64, f64)> = threads
            .iter()
            .filter_map(|&t| {
                let ns: Vec<f64> = local()
                    .filter(|c| c.threads == t && c.floor_ns_per_page > 0.0)
                    .map(|c| c.floor_ns_per_page)
                    .collect();
                let ns = pin_results::Estimate::of(&ns)?.median;
                Some((t as f64, t as f64 * 1e3 / ns))
            })
            .collect();
        if !floor.is_empty() {
            series.push(Series {
                color: ctx.colors.of("floor"),
                dot: Dot::Circle,
                dashed: true,
                points: floor,
            });
            names.push("floor".into());
        }
        let legend = names
            .into_iter()
            .zip(&series)
            .map(|(label, s)| Entry {
                label,
                color: s.color,
                mark: if s.dashed {
                    Mark::Dashed
                } else {
                    Mark::Line(s.dot)
                },
            })
            .collect();
        let title = format!(
            "Throughput: {} ({} pages per call, memmap local)",
            shape.name(),
            shape.pages_per_call
        );
        let body = Lines {
            y_desc: shape.rate_unit(),
            threads,
            series,
        };
        out.push(ctx.figure(
            &format!("throughput-{}", shape.slug()),
            title,
            shape.slug(),
            legend,
            &body,
        )?);
    }
    Ok(out)
}

impl Draw for Lines {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let ys = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
        };
        let ymax = ys().fold(0.0, f64::max).max(1e-9) * 1.1;
        let ymin = ys().filter(|y| *y > 0.0).fold(f64::INFINITY, f64::min);
        let mut builder = ChartBuilder::on(area);
        builder
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90);
        let x = (0..self.threads.len() as i32 - 1).into_segmented();
        // Rates that span more than two decades (the kernel's slow paths
        // beside the model) on a log axis, or the low lines lie on zero.
        if ymin.is_finite() && ymax / ymin > LOG_SPAN {
            let mut chart = builder.build_cartesian_2d(x, (ymin / 2.0..ymax).log_scale())?;
            let desc = format!("{} (log scale)", self.y_desc);
            self.plot(&mut chart, &desc, &|v: &f64| format!("{v}"))
        } else {
            let mut chart = builder.build_cartesian_2d(x, 0.0..ymax)?;
            self.plot(&mut chart, self.y_desc, &tick_format(ymax))
        }
    }
}

/// Rates spanning more than this factor go on a log axis.
const LOG_SPAN: f64 = 100.0;

impl Lines {
    /// The axes, then every series, on `chart`.
    fn plot<DB: DrawingBackend, Y>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<SegmentedCoord<RangedCoordi32>, Y>>,
        y_desc: &str,
        ticks: &dyn Fn(&f64) -> String,
    ) -> Result<(), PlotError>
    where
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        // Thread counts as evenly spaced categories.
        let at = |t: f64| {
            let i = self
                .threads
                .iter()
                .position(|&x| x as f64 == t)
                .unwrap_or(0);
            SegmentValue::CenterOf(i as i32)
        };
        chart
            .configure_mesh()
            .x_desc("threads")
            .y_desc(y_desc)
            .axis_desc_style(text(20.0))
            .label_style(text(16.0))
            .x_labels(self.threads.len())
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => self
                    .threads
                    .get(*i as usize)
                    .map_or(String::new(), |t| t.to_string()),
                _ => String::new(),
            })
            .y_label_formatter(ticks)
            .light_line_style(WHITE)
            .draw()?;
        for s in &self.series {
            let pts: Vec<_> = s.points.iter().map(|&(t, y)| (at(t), y)).collect();
            draw_line(chart, &pts, &s.color, s.dashed, s.dot)?;
        }
        Ok(())
    }
}
