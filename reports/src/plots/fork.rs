//! Plot: `fork()` time against the MiB of the buffer, pinned (registered
//! with io_uring) and unpinned, per backing (`pinbench kernel --effects`).

use super::{draw_line, text, tick_format, Colors, Ctx, Dot, Draw, Entry, Figure, Mark, PlotError};
use crate::error::ReportError;
use crate::runs::distinct;
use plotters::coord::Shift;
use plotters::prelude::*;

struct Series {
    color: RGBColor,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

struct Lines(Vec<Series>);

impl Draw for Lines {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let max = |f: fn(&(f64, f64)) -> f64| {
            self.0
                .iter()
                .flat_map(|s| s.points.iter().map(f))
                .fold(0.0, f64::max)
                .max(1e-9)
                * 1.1
        };
        let (xmax, ymax) = (max(|p| p.0), max(|p| p.1));
        let mut chart = ChartBuilder::on(area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..xmax, 0.0..ymax)?;
        chart
            .configure_mesh()
            .x_desc("buffer (MiB)")
            .y_desc("fork() in the parent (ms, median)")
            .x_label_formatter(&tick_format(xmax))
            .y_label_formatter(&tick_format(ymax))
            .label_style(text(18.0))
            .axis_desc_style(text(20.0))
            .draw()?;
        for s in &self.0 {
            draw_line(&mut chart, &s.points, &s.color, s.dashed, Dot::Circle)?;
        }
        Ok(())
    }
}

pub(crate) fn render(ctx: &Ctx) -> Result<Vec<Figure>, ReportError> {
    let Some(e) = &ctx.run.results.effects else {
        return Ok(vec![]);
    };
    let mib = |pages: u64| pages as f64 * 4096.0 / f64::from(1u32 << 20);
    let (mut series, mut legend) = (vec![], vec![]);
    for (i, backing) in distinct(e.fork.iter().map(|f| f.backing.clone()))
        .into_iter()
        .enumerate()
    {
        let color = Colors::series(i);
        for pinned in [true, false] {
            let mut points: Vec<(f64, f64)> = e
                .fork
                .iter()
                .filter(|f| f.backing == backing)
                .map(|f| {
                    let ns = if pinned {
                        f.fork_ns_pinned
                    } else {
                        f.fork_ns_unpinned
                    };
                    (mib(f.pages), ns / 1e6)
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let state = if pinned { "pinned" } else { "unpinned" };
            legend.push(Entry {
                label: format!("{backing}, {state}"),
                color,
                mark: if pinned {
                    Mark::Line(Dot::Circle)
                } else {
                    Mark::Dashed
                },
            });
            series.push(Series {
                color,
                dashed: !pinned,
                points,
            });
        }
    }
    if series.is_empty() {
        return Ok(vec![]);
    }
    Ok(vec![ctx.figure(
        "fork",
        "fork() with the buffer pinned (registered with io_uring) and unpinned".into(),
        "effects".into(),
        legend,
        &Lines(series),
    )?])
}
