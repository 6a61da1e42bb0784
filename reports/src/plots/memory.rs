//! Plot 5: what pin tracking costs in memory, per scheme: bytes per 4 KiB
//! page, and GiB of RAM per TiB of memory, in the order-0 workload with
//! the largest memmap (where a side structure's fixed part weighs least;
//! `report.txt` has every workload). Model cells only: a real kernel's
//! cost is not measured.

use super::bars::Bars;
use super::{Colors, Ctx, Entry, Figure, Mark};
use crate::error::ReportError;
use crate::runs::subjects;
use crate::table::num;
use crate::tables::{bytes_per_page, gib_per_tib, memory_cells};

pub(crate) fn render(ctx: &Ctx) -> Result<Vec<Figure>, ReportError> {
    let Some((shape, cells)) = memory_cells(ctx.run) else {
        return Ok(vec![]);
    };
    let categories = subjects(cells.iter().copied());
    let values = categories
        .iter()
        .map(|s| {
            let c = cells.iter().find(|c| crate::runs::subject(c) == *s);
            vec![c.and_then(|c| bytes_per_page(c))]
        })
        .collect();
    let color = Colors::series(0);
    let body = Bars {
        categories,
        colors: vec![color],
        values,
        x_desc: "bytes of tracking per 4 KiB page".into(),
        reference: None,
        value_label: |b| format!("{} B = {} GiB per TiB", num(b), num(gib_per_tib(b))),
    };
    let legend = vec![Entry {
        label: format!(
            "{}, {} thread{}",
            shape.short(),
            cells[0].threads,
            if cells[0].threads == 1 { "" } else { "s" }
        ),
        color,
        mark: Mark::Bar,
    }];
    Ok(vec![ctx.figure(
        "memory",
        format!(
            "Memory cost of pin tracking: {} ({} pages of memmap)",
            shape.name(),
            cells[0].memmap_pages
        ),
        "memory".into(),
        legend,
        &body,
    )?])
}
