//! The plots, each drawn twice from the same code: as SVG (for slides and
//! the web) and as PNG (for mail and cover letters). Every plot has a
//! header naming what it shows and the machine (host, CPU, kernel), a
//! legend in its own panel to the right of the axes (so it can never cover
//! a line), and axes labelled with units. Colours follow the subject, so a
//! scheme has the same colour in every plot of a report.
//!
//! One file per kind of plot; this module owns the frame, the legend, the
//! colours and the two backends. Everything is rendered in memory; the
//! caller writes the files.

mod bars;
mod census;
mod false_positives;
mod floor_ratio;
pub mod font;
mod fork;
mod latency;
mod memory;
mod numa;
mod throughput;

use crate::error::ReportError;
use crate::runs::Run;
use crate::File;
use font::FAMILY;
use image::{codecs::png::PngEncoder, ColorType, ImageEncoder};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Pixels of every plot (and the SVG's user units).
pub const SIZE: (u32, u32) = (1200, 720);

/// A drawn plot: what it shows and its `.svg` and `.png`.
#[derive(Clone, Debug)]
pub struct Figure {
    /// File name without extension.
    pub stem: String,
    /// What it shows (its header's first line).
    pub title: String,
    /// The table it belongs beside: a workload shape's slug, or
    /// `false-positives`, `memory`, `numa`.
    pub section: String,
    /// The run it draws.
    pub run: String,
    /// The SVG and the PNG.
    pub files: Vec<File>,
}

/// Draws every plot the runs' data supports.
pub fn render_all(runs: &[Run]) -> Result<Vec<Figure>, ReportError> {
    let colors = Colors::new(runs);
    let groups = crate::runs::merge_same_machine(runs);
    let mut out = Vec::new();
    for run in &groups {
        let ctx = Ctx::of(run, &colors, groups.len());
        out.extend(throughput::render(&ctx)?);
        out.extend(floor_ratio::render(&ctx)?);
        out.extend(census::render(&ctx)?);
        out.extend(latency::render(&ctx)?);
        out.extend(false_positives::render(&ctx)?);
        out.extend(memory::render(&ctx)?);
        out.extend(numa::render(&ctx)?);
    }
    // Each run's own effects (a merged run keeps only cells).
    for run in runs {
        out.extend(fork::render(&Ctx::of(run, &colors, runs.len()))?);
    }
    Ok(out)
}

/// What every plot of one run shares.
pub(crate) struct Ctx<'a> {
    pub run: &'a Run,
    pub colors: &'a Colors,
    /// `-A` when the report has several runs.
    pub suffix: String,
}

impl<'a> Ctx<'a> {
    /// The context of `run`, one of `of` runs drawn (a suffix names it
    /// where there are several).
    fn of(run: &'a Run, colors: &'a Colors, of: usize) -> Self {
        Ctx {
            run,
            colors,
            suffix: if of > 1 {
                format!("-{}", run.label.replace('+', ""))
            } else {
                String::new()
            },
        }
    }

    /// Draws `body` under a header titled `title`, with `legend`, as
    /// `<stem><suffix>.svg` and `.png`.
    pub fn figure<D: Draw>(
        &self,
        stem: &str,
        title: String,
        section: String,
        legend: Vec<Entry>,
        body: &D,
    ) -> Result<Figure, ReportError> {
        let stem = format!("{stem}{}", self.suffix);
        let m = &self.run.results.metadata;
        let frame = Frame {
            title: title.clone(),
            machine: self.run.machine(),
            warning: m
                .emulated
                .as_ref()
                .map(|e| format!("EMULATED ({e}): timings are not performance evidence")),
            legend,
        };
        let files = render(&stem, &frame, body)?;
        Ok(Figure {
            stem,
            title,
            section,
            run: self.run.label.clone(),
            files,
        })
    }
}

/// Body of a plot: draws into the area left of the legend, under the
/// header.
pub(crate) trait Draw {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError>;
}

/// Draws one series of a line plot: a solid (or, for the floor, dashed)
/// line through `pts`, with a marker on each point.
pub(crate) fn draw_line<DB, X, Y, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    pts: &[(X, Y)],
    color: &RGBColor,
    dashed: bool,
    dot: Dot,
) -> Result<(), PlotError>
where
    DB: DrawingBackend,
    X: Clone + 'static,
    Y: Clone + 'static,
    CT: plotters::coord::CoordTranslate<From = (X, Y)>,
{
    if dashed {
        chart.draw_series(DashedLineSeries::new(
            pts.iter().cloned(),
            10,
            6,
            color.stroke_width(3),
        ))?;
    } else {
        chart.draw_series(LineSeries::new(pts.iter().cloned(), color.stroke_width(3)))?;
    }
    dot_at(chart, pts, color, dot)
}

/// A failure inside plotters, as text.
#[derive(Debug)]
pub(crate) struct PlotError(pub String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError(e.to_string())
    }
}

/// One line of a legend.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub label: String,
    pub color: RGBColor,
    pub mark: Mark,
}

/// The marker on each point of a line: a circle, or, where colours
/// repeat (more series than the palette has), a triangle, then a square.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dot {
    Circle,
    Triangle,
    Square,
}

impl Dot {
    /// The marker of the `i`th series of a palette of `colors` colours.
    pub fn nth(i: usize, colors: usize) -> Dot {
        [Dot::Circle, Dot::Triangle, Dot::Square][(i / colors.max(1)) % 3]
    }
}

/// Draws `dot` at `p`.
fn dot_at<DB: DrawingBackend, C: Clone + 'static, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    pts: &[C],
    color: &RGBColor,
    dot: Dot,
) -> Result<(), PlotError>
where
    CT: plotters::coord::CoordTranslate<From = C>,
{
    let style = color.filled();
    match dot {
        Dot::Circle => {
            chart.draw_series(pts.iter().map(|p| Circle::new(p.clone(), 5, style)))?;
        }
        Dot::Triangle => {
            chart.draw_series(pts.iter().map(|p| TriangleMarker::new(p.clone(), 7, style)))?;
        }
        Dot::Square => {
            chart.draw_series(pts.iter().map(|p| {
                EmptyElement::at(p.clone()) + Rectangle::new([(-5, -5), (5, 5)], style)
            }))?;
        }
    }
    Ok(())
}

/// How a legend line shows its series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    /// A line with a marker.
    Line(Dot),
    /// A dashed line (the floor).
    Dashed,
    /// A filled box (bars).
    Bar,
}

struct Frame {
    title: String,
    machine: String,
    warning: Option<String>,
    legend: Vec<Entry>,
}

fn render<D: Draw>(stem: &str, frame: &Frame, body: &D) -> Result<Vec<File>, ReportError> {
    let err = |why: String| ReportError::Plot {
        plot: stem.to_string(),
        why,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw_frame(&root, frame, body).map_err(|e| err(e.0))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    let (w, h) = SIZE;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        draw_frame(&root, frame, body).map_err(|e| err(e.0))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&rgb, w, h, ColorType::Rgb8)
        .map_err(|e| err(e.to_string()))?;
    Ok(vec![
        File {
            name: format!("{stem}.svg"),
            bytes: svg.into_bytes(),
        },
        File {
            name: format!("{stem}.png"),
            bytes: png,
        },
    ])
}

/// Text of `size` pixels in the plots' font.
pub(crate) fn text(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into_font().into()
}

/// Tick labels for an axis up to `max`: as many decimals as its steps
/// need, the same for every tick.
pub(crate) fn tick_format(max: f64) -> impl Fn(&f64) -> String {
    let decimals = if max >= 20.0 {
        0
    } else if max >= 2.0 {
        1
    } else if max >= 0.2 {
        2
    } else {
        3
    };
    move |v| format!("{v:.decimals$}")
}

/// Grey of secondary text and grid lines.
pub(crate) const GREY: RGBColor = RGBColor(96, 96, 96);

const LEGEND_LINE: i32 = 26;

fn draw_frame<DB: DrawingBackend, D: Draw>(
    root: &DrawingArea<DB, Shift>,
    frame: &Frame,
    body: &D,
) -> Result<(), PlotError> {
    root.fill(&WHITE)?;
    let header = if frame.warning.is_some() { 100 } else { 74 };
    let (top, rest) = root.split_vertically(header);
    let room = SIZE.0 - 40;
    top.draw(&Text::new(
        fit(&top, &frame.title, &text(26.0), room)?,
        (20, 12),
        text(26.0),
    ))?;
    top.draw(&Text::new(
        fit(&top, &frame.machine, &text(18.0), room)?,
        (20, 46),
        text(18.0).color(&GREY),
    ))?;
    if let Some(w) = &frame.warning {
        top.draw(&Text::new(w.clone(), (20, 72), text(18.0).color(&RED)))?;
    }
    let label_w = frame
        .legend
        .iter()
        .flat_map(|e| e.label.lines())
        .map(|l| rest.estimate_text_size(l, &text(17.0)).map(|(w, _)| w))
        .try_fold(0, |a, w| w.map(|w| a.max(w)))?;
    let legend_w = (label_w as i32 + 90).min(SIZE.0 as i32 / 2);
    let (plot, legend) = rest.split_horizontally(SIZE.0 as i32 - legend_w);
    body.draw(&plot)?;
    let mut y = 30;
    for e in &frame.legend {
        let mid = y + 9;
        match e.mark {
            Mark::Line(dot) => {
                legend.draw(&PathElement::new(
                    vec![(12, mid), (52, mid)],
                    e.color.stroke_width(3),
                ))?;
                let style = e.color.filled();
                match dot {
                    Dot::Circle => legend.draw(&Circle::new((32, mid), 5, style))?,
                    Dot::Triangle => legend.draw(&TriangleMarker::new((32, mid), 7, style))?,
                    Dot::Square => {
                        legend.draw(&Rectangle::new([(27, mid - 5), (37, mid + 5)], style))?
                    }
                }
            }
            Mark::Dashed => {
                for x in [12, 26, 40] {
                    legend.draw(&PathElement::new(
                        vec![(x, mid), (x + 8, mid)],
                        e.color.stroke_width(3),
                    ))?;
                }
            }
            Mark::Bar => {
                legend.draw(&Rectangle::new(
                    [(16, mid - 8), (48, mid + 8)],
                    e.color.filled(),
                ))?;
            }
        }
        for line in e.label.lines() {
            legend.draw(&Text::new(line.to_string(), (64, y), text(17.0)))?;
            y += LEGEND_LINE - 4;
        }
        y += 8;
    }
    Ok(())
}

/// `s` with control characters made spaces, cut with `...` to fit
/// `width` pixels in `style`.
fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    style: &TextStyle,
    width: u32,
) -> Result<String, PlotError> {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut chars: Vec<char> = clean.chars().collect();
    let mut out = clean;
    while !chars.is_empty() && area.estimate_text_size(&out, style)?.0 > width {
        chars.pop();
        out = chars.iter().collect::<String>() + "...";
    }
    Ok(out)
}

/// Colours by subject, fixed across a report's plots (Tableau 10).
pub(crate) struct Colors {
    subjects: Vec<String>,
}

const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

const SERIES: [RGBColor; 8] = [
    RGBColor(27, 158, 119),
    RGBColor(217, 95, 2),
    RGBColor(117, 112, 179),
    RGBColor(231, 41, 138),
    RGBColor(102, 166, 30),
    RGBColor(230, 171, 2),
    RGBColor(166, 118, 29),
    RGBColor(102, 102, 102),
];

impl Colors {
    fn new(runs: &[Run]) -> Self {
        let cells = crate::runs::all_cells(runs)
            .map(|(_, c)| c)
            .filter(|c| !crate::runs::is_calibration(c));
        Colors {
            subjects: crate::runs::subjects(cells),
        }
    }

    /// The colour of `subject`; black for the floor.
    /// The marker of `subject`'s line: another where its colour repeats.
    pub fn dot(&self, subject: &str) -> Dot {
        let i = self.subjects.iter().position(|s| s == subject).unwrap_or(0);
        Dot::nth(i, PALETTE.len())
    }

    pub fn of(&self, subject: &str) -> RGBColor {
        if subject == "floor" {
            return BLACK;
        }
        let i = self.subjects.iter().position(|s| s == subject).unwrap_or(0);
        PALETTE[i % PALETTE.len()]
    }

    /// The `i`th colour for series that are not subjects (thread counts,
    /// workloads, placements): ColorBrewer Dark2, apart from the subjects'.
    pub fn series(i: usize) -> RGBColor {
        SERIES[i % SERIES.len()]
    }
}
