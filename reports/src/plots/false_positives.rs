//! Plot 4: the false-positive rate of `maybe_dma_pinned` against the
//! ordinary references a page holds (`refstorm`), one line per scheme.
//! Schemes whose lines would be identical share one line and one legend
//! entry, so no line hides another. Needs `fp_by_refs` in the results
//! (pinbench from the commit that added it on); older files get no plot.

use super::{text, Ctx, Dot, Draw, Entry, Figure, Mark, PlotError};
use crate::error::ReportError;
use crate::runs::{is_calibration, subject, subjects};
use crate::tables::rate_segments;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Fewest references, most references, false-positive rate.
type Segment = (u64, u64, f64);

struct Steps {
    max_refs: f64,
    /// (colour, (references, percent) corners of the step line)
    series: Vec<(RGBColor, Vec<(f64, f64)>)>,
}

pub(crate) fn render(ctx: &Ctx) -> Result<Vec<Figure>, ReportError> {
    let cells: Vec<_> = ctx
        .run
        .results
        .cells
        .iter()
        .filter(|c| c.workload == "refstorm" && c.numa.placement == "local")
        .filter(|c| !is_calibration(c) && c.fp_by_refs.as_ref().is_some_and(|r| !r.is_empty()))
        .collect();
    let Some(t) = cells.iter().map(|c| c.threads).min() else {
        return Ok(vec![]);
    };
    let cells: Vec<_> = cells.into_iter().filter(|c| c.threads == t).collect();
    // Identical curves merge: (subjects, segments).
    let mut curves: Vec<(Vec<String>, Vec<Segment>)> = vec![];
    for s in subjects(cells.iter().copied()) {
        let Some(runs) = cells
            .iter()
            .find(|c| subject(c) == s)
            .and_then(|c| c.fp_by_refs.as_deref())
        else {
            continue;
        };
        let segs = rate_segments(runs);
        match curves.iter_mut().find(|(_, g)| *g == segs) {
            Some((names, _)) => names.push(s),
            None => curves.push((vec![s], segs)),
        }
    }
    let max_refs = curves
        .iter()
        .flat_map(|(_, g)| g.iter().map(|s| s.1))
        .max()
        .unwrap_or(0) as f64;
    let mut series = vec![];
    let mut legend = vec![];
    for (names, segs) in &curves {
        let color = ctx.colors.of(&names[0]);
        let mut pts = vec![];
        for &(lo, hi, rate) in segs {
            pts.push((lo as f64, rate * 100.0));
            pts.push((hi as f64, rate * 100.0));
        }
        series.push((color, pts));
        legend.push(Entry {
            label: lines(names, 24),
            color,
            mark: Mark::Line(Dot::Circle),
        });
    }
    let body = Steps { max_refs, series };
    Ok(vec![ctx.figure(
        "false-positives",
        format!(
            "False positives of maybe_dma_pinned (refstorm, {t} thread{})",
            if t == 1 { "" } else { "s" }
        ),
        "false-positives".into(),
        legend,
        &body,
    )?])
}

/// `names` joined with commas, broken into lines of about `width`.
fn lines(names: &[String], width: usize) -> String {
    let mut out = String::new();
    let mut len = 0;
    for (i, n) in names.iter().enumerate() {
        let piece = if i + 1 < names.len() {
            format!("{n},")
        } else {
            n.clone()
        };
        if len > 0 && len + 1 + piece.len() > width {
            out.push('\n');
            len = 0;
        } else if len > 0 {
            out.push(' ');
            len += 1;
        }
        out.push_str(&piece);
        len += piece.len();
    }
    out
}

impl Draw for Steps {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let mut chart = ChartBuilder::on(area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..self.max_refs.max(1.0) * 1.02, -2.0..105.0)?;
        chart
            .configure_mesh()
            .x_desc("ordinary references held on the unpinned page")
            .y_desc("read as pinned (% of unpinned pages)")
            .axis_desc_style(text(20.0))
            .label_style(text(16.0))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .light_line_style(WHITE)
            .draw()?;
        for (color, pts) in &self.series {
            chart.draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(3)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn merged_names_wrap_at_commas() {
        let names: Vec<String> = ["plain", "flag", "xarray", "side-tree-sharded", "exact"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            super::lines(&names, 24),
            "plain, flag, xarray,\nside-tree-sharded, exact"
        );
    }
}
