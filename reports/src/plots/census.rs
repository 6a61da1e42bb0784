//! Plot: each scheme's `x floor` against its locked operations per page
//! (from the census), `private` at one thread: how far the count of
//! locked instructions explains the cost, and which schemes cost more
//! than their count (a lock, a pointer chase) or less. Points are told
//! apart by colour (the legend); labels beside them would collide.

use super::{text, tick_format, Ctx, Draw, Entry, Figure, Mark, PlotError};
use crate::error::ReportError;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One scheme's point.
struct Point {
    subject: String,
    locked: f64,
    x_floor: f64,
    color: RGBColor,
}

struct Scatter {
    points: Vec<Point>,
}

impl Draw for Scatter {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let max =
            |f: fn(&Point) -> f64| self.points.iter().map(f).fold(0.0f64, f64::max) * 1.15 + 0.5;
        let (xmax, ymax) = (max(|p| p.locked), max(|p| p.x_floor));
        let mut chart = ChartBuilder::on(area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..xmax, 0.0..ymax)?;
        chart
            .configure_mesh()
            .x_desc("locked read-modify-writes per page (counted)")
            .y_desc("x floor (measured, median)")
            .x_label_formatter(&tick_format(xmax))
            .y_label_formatter(&tick_format(ymax))
            .label_style(text(18.0))
            .axis_desc_style(text(20.0))
            .draw()?;
        for p in &self.points {
            chart.draw_series(std::iter::once(Circle::new(
                (p.locked, p.x_floor),
                9,
                p.color.mix(0.75).filled(),
            )))?;
        }
        Ok(())
    }
}

pub(crate) fn render(ctx: &Ctx) -> Result<Vec<Figure>, ReportError> {
    let points: Vec<Point> = ctx
        .run
        .results
        .cells
        .iter()
        .filter(|c| c.backend == pin_results::MODEL && c.workload == "private")
        .filter(|c| c.threads == 1 && c.folio_order == 0 && c.numa.placement != "remote")
        .filter(|c| c.x_floor.n > 0)
        .filter_map(|c| {
            let k = c.census.as_ref()?;
            Some(Point {
                subject: c.subject.clone(),
                locked: k.per_page(k.locked_rmw_total()),
                x_floor: c.x_floor.median,
                color: ctx.colors.of(&c.subject),
            })
        })
        .collect();
    if points.len() < 2 {
        return Ok(vec![]);
    }
    let legend = points
        .iter()
        .map(|p| Entry {
            label: p.subject.clone(),
            color: p.color,
            mark: Mark::Bar,
        })
        .collect();
    Ok(vec![ctx.figure(
        "census",
        "Cost over the floor against locked operations per page: private, 1 thread".into(),
        crate::census::SECTION.into(),
        legend,
        &Scatter { points },
    )?])
}
