//! Horizontal grouped bars, shared by the floor-ratio, memory and NUMA
//! plots: one row of bars per category (a scheme), one bar per series
//! in it, the value written at the end of each bar (so a zero is still
//! read as zero). Categories run top to bottom in the order given.
//!
//! plotters has no sub-positions inside a category, so the category axis
//! is integer half-slots: each bar takes two, each category `2 (n + 1)`
//! (n bars and a gap), and the category's name sits on the slot at the
//! middle of its bars.

use super::{text, tick_format, Draw, PlotError, GREY};
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordi32;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub(crate) struct Bars {
    /// Row names, top to bottom.
    pub categories: Vec<String>,
    /// Bar colour of each series.
    pub colors: Vec<RGBColor>,
    /// `values[category][series]`.
    pub values: Vec<Vec<Option<f64>>>,
    /// Value-axis description, with its unit.
    pub x_desc: String,
    /// A vertical reference line and its label.
    pub reference: Option<(f64, String)>,
    /// Writes a bar's value at its end.
    pub value_label: fn(f64) -> String,
}

impl Bars {
    fn slots(&self) -> i32 {
        2 * (self.colors.len() as i32 + 1)
    }

    /// Lowest half-slot of category `c`'s bars (its gap is above them).
    fn base(&self, c: usize) -> i32 {
        (self.categories.len() - 1 - c) as i32 * self.slots()
    }
}

impl Draw for Bars {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let top = self.categories.len() as i32 * self.slots();
        let widest = |texts: &mut dyn Iterator<Item = String>, size: f64| {
            texts
                .map(|t| area.estimate_text_size(&t, &text(size)).map(|(w, _)| w))
                .try_fold(0, |a, w| w.map(|w| a.max(w)))
        };
        let name_w = widest(&mut self.categories.iter().map(|c| format!("{c}  ")), 16.0)?;
        let vmax = self
            .values
            .iter()
            .flatten()
            .flatten()
            .copied()
            .chain(self.reference.as_ref().map(|r| r.0))
            .fold(0.0, f64::max)
            .max(1e-9);
        // Room right of the longest bar for its value.
        let value_w = widest(
            &mut self
                .values
                .iter()
                .flatten()
                .flatten()
                .map(|&v| (self.value_label)(v)),
            14.0,
        )?;
        let plot_w = area
            .dim_in_pixel()
            .0
            .saturating_sub(name_w + 24 + 40)
            .max(1);
        let room = (value_w + 16) as f64 / plot_w as f64;
        let xmax = vmax / (1.0 - room.min(0.6)) * 1.02;
        let mut builder = ChartBuilder::on(area);
        builder
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(name_w + 24);
        // Values that span more than two decades (the kernel's paths beside
        // the model's) on a log axis, or the small ones cannot be read.
        let vmin = self
            .values
            .iter()
            .flatten()
            .flatten()
            .copied()
            .filter(|v| *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        if vmin.is_finite() && vmax / vmin > LOG_SPAN {
            let lo = vmin / 2.0;
            // A log axis needs room right of the longest bar in decades.
            let hi = vmax * (vmax / lo).powf(room.min(0.6) / (1.0 - room.min(0.6))) * 1.05;
            let mut chart = builder.build_cartesian_2d((lo..hi).log_scale(), 0..top)?;
            let desc = format!("{} (log scale)", self.x_desc);
            self.mesh(&mut chart, &desc, &|v: &f64| format!("{v}"))?;
            self.bars(&mut chart, lo, top)
        } else {
            let mut chart = builder.build_cartesian_2d(0.0..xmax, 0..top)?;
            self.mesh(&mut chart, &self.x_desc, &tick_format(xmax))?;
            self.bars(&mut chart, 0.0, top)
        }
    }
}

/// Values spanning more than this factor go on a log axis.
const LOG_SPAN: f64 = 100.0;

impl Bars {
    /// The axes: category names on the middle half-slot of each category,
    /// the value axis described.
    fn mesh<DB: DrawingBackend, X>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<X, RangedCoordi32>>,
        desc: &str,
        ticks: &dyn Fn(&f64) -> String,
    ) -> Result<(), PlotError>
    where
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let n = self.colors.len() as i32;
        let top = self.categories.len() as i32 * self.slots();
        let label_at = |y: &i32| {
            self.categories
                .iter()
                .enumerate()
                .find(|(c, _)| self.base(*c) + n == *y)
                .map_or(String::new(), |(_, name)| format!("{name}  "))
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .set_tick_mark_size(LabelAreaPosition::Left, 0)
            .x_desc(desc)
            .axis_desc_style(text(20.0))
            .label_style(text(16.0))
            .y_labels(top as usize + 1)
            .y_label_formatter(&label_at)
            .x_label_formatter(ticks)
            .light_line_style(WHITE)
            .draw()?;
        Ok(())
    }

    /// The reference line, then each bar from `from` with its value.
    fn bars<DB: DrawingBackend, X>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<X, RangedCoordi32>>,
        from: f64,
        top: i32,
    ) -> Result<(), PlotError>
    where
        X: Ranged<ValueType = f64>,
    {
        let n = self.colors.len() as i32;
        // Behind the bars and their values.
        if let Some((x, label)) = &self.reference {
            chart.draw_series(DashedLineSeries::new(
                [(*x, 0), (*x, top)],
                8,
                6,
                BLACK.stroke_width(2),
            ))?;
            chart.draw_series(std::iter::once(
                EmptyElement::at((*x, top))
                    + Text::new(
                        label.clone(),
                        (6, 4),
                        text(15.0).color(&GREY).pos(Pos::new(HPos::Left, VPos::Top)),
                    ),
            ))?;
        }
        let value_style = text(14.0).pos(Pos::new(HPos::Left, VPos::Center));
        for (c, row) in self.values.iter().enumerate() {
            for (s, v) in row.iter().enumerate() {
                let Some(v) = *v else { continue };
                let y0 = self.base(c) + 2 * (n - 1 - s as i32);
                let color = self.colors[s];
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(from, y0), (v.max(from), y0 + 2)],
                    color.filled(),
                )))?;
                let label = (self.value_label)(v);
                chart.draw_series(std::iter::once(
                    EmptyElement::at((v.max(from), y0 + 1))
                        + Text::new(label, (6, 0), value_style.clone()),
                ))?;
            }
        }
        Ok(())
    }
}
