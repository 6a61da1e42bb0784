//! Conclusions a run's own numbers support, stated beside them.
//!
//! `bias` models 3faa52c03f44 (v5.7-rc1): a small-folio pin is one
//! `atomic_add_unless(+1024)`. `hybrid` models v6.12: `try_get_folio(+1)`
//! then `folio_ref_add(+1023)`, the split of c24d37322548 (v5.14-rc1) that
//! closed the race with `split_huge_page()`. On order-0 folios everything
//! else the two do is the same code, so their difference on the `private`
//! workload is the price of that fix, measured.

use crate::runs::distinct;
use pin_results::Cell;

fn private_small<'a>(
    cells: &[&'a Cell],
    scheme: &str,
    threads: usize,
    numa: &str,
) -> Option<&'a Cell> {
    cells.iter().copied().find(|c| {
        c.subject == scheme
            && c.backend == "model"
            && c.workload == "private"
            && c.folio_order == 0
            && c.threads == threads
            && c.numa.placement == numa
            && c.x_floor.n > 0
            && !c.busy
    })
}

/// One line per thread count and placement where both `bias` and `hybrid`
/// ran `private` on order-0 pages: `hybrid - bias` in floor units, and what
/// it is.
pub fn split_fix_price(cells: &[&Cell]) -> Vec<String> {
    let groups = distinct(cells.iter().map(|c| (c.threads, c.numa.placement.clone())));
    groups
        .iter()
        .filter_map(|(t, numa)| {
            let b = private_small(cells, "bias", *t, numa)?;
            let h = private_small(cells, "hybrid", *t, numa)?;
            let d = h.x_floor.median - b.x_floor.median;
            let overlap = h.x_floor.ci_low <= b.x_floor.ci_high && b.x_floor.ci_low <= h.x_floor.ci_high;
            let verdict = if overlap {
                "within the two cells' 95% CIs: not resolved by this run"
            } else if d > 0.0 {
                "the price of that fix"
            } else {
                "yet hybrid is the cheaper here, which one more atomic cannot explain: \
                 the two cells saw different machine states; run it again"
            };
            Some(format!(
                "hybrid - bias, private order-0 pages, {t}T {numa}: {d:+.2} x floor ({:.2} -> {:.2}): \
                 on order-0 folios the two differ only in the second atomic of \
                 try_grab_folio_fast(), added by c24d37322548 (v5.14) to close the race with \
                 split_huge_page(); {verdict}.",
                b.x_floor.median, h.x_floor.median
            ))
        })
        .collect()
}

/// One line per io-uring backing whose registration keeps fewer pins than
/// pages: `io_do_coalesce_buffer()` keeps one pin per large folio and
/// unpins the rest at once, so such a cell times pins that are not kept.
pub fn pins_kept(cells: &[&Cell]) -> Vec<String> {
    let kept = cells.iter().filter_map(|c| {
        let k = c.kernel.as_ref()?;
        let per_page = k.pins_kept_per_page.filter(|&p| p < 1.0)?;
        Some((crate::runs::subject(c), per_page))
    });
    distinct(kept.map(|(s, p)| (s, format!("{p:.4}"))))
        .into_iter()
        .map(|(s, p)| {
            format!(
                "{s}: the kernel keeps {p} pins per page registered (one per folio: \
                 io_do_coalesce_buffer() unpins the others at once), so the pins it \
                 times are not all kept."
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::sample;

    #[test]
    fn the_gap_is_stated_where_both_ran_and_nowhere_else() {
        let estimate = |median: f64| pin_results::Estimate {
            median,
            ci_low: median - 0.1,
            ci_high: median + 0.1,
            n: 40,
        };
        let mut b = sample::cell("bias", "private", 1, 10.0, 1.0);
        b.x_floor = estimate(2.0);
        let mut h = sample::cell("hybrid", "private", 1, 12.0, 1.0);
        h.x_floor = estimate(2.5);
        let lines = split_fix_price(&[&b, &h]);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("+0.50 x floor"), "{}", lines[0]);
        assert!(lines[0].contains("the price of that fix"), "{}", lines[0]);
        h.x_floor.ci_low = 2.0;
        assert!(split_fix_price(&[&b, &h])[0].contains("not resolved"));
        assert!(split_fix_price(&[&b]).is_empty());
        h.x_floor = estimate(1.5);
        let lines = split_fix_price(&[&b, &h]);
        assert!(lines[0].contains("-0.50 x floor"), "{}", lines[0]);
        assert!(!lines[0].contains("the price of that fix"), "{}", lines[0]);
    }

    #[test]
    fn pins_not_kept_are_said_once_per_path_and_full_pins_not_at_all() {
        let kernel = |kept: Option<f64>, thp: bool| {
            let mut c = sample::kernel_cell("io-uring", "register-buffers", 1, 10.0, 1.0);
            let k = c.kernel.as_mut().expect("kernel cell");
            k.pins_kept_per_page = kept;
            k.thp = thp;
            c
        };
        let small = kernel(Some(1.0), false);
        let thp = kernel(Some(1.0 / 512.0), true);
        let thp2 = kernel(Some(1.0 / 512.0), true);
        let lines = pins_kept(&[&small, &thp, &thp2, &kernel(None, false)]);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("register-buffers [io-uring, THP]: the kernel keeps 0.0020 pins")
        );
    }
}
