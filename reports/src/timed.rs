//! Cells the kernel timed itself (`pinbench import gup-test`): no floor,
//! no paired rounds, so no table or plot of ratios holds them. They are
//! listed apart, a line each: the benchmark, its options, and the median
//! over the runs (logs) of each run's median get and put.

use crate::runs::Run;
use crate::table::clean;
use pin_results::{Cell, Estimate, Half};

/// `runs` without the cells the kernel timed itself (none left out of a
/// run that has only those: it keeps none).
pub fn without(runs: &[Run]) -> Vec<Run> {
    runs.iter()
        .map(|r| {
            let mut r = r.clone();
            r.results.cells.retain(|c| c.kernel_timed.is_none());
            r
        })
        .collect()
}

/// A line per timed cell of `cells`:
/// `PIN_LONGTERM (128 MiB, -n 512, 4k, private, 1T): get 129.5 ms, put
/// 31.6 ms, median of 3 runs`.
pub fn lines<'a>(cells: impl IntoIterator<Item = &'a Cell>) -> Vec<String> {
    cells
        .into_iter()
        .filter_map(|c| {
            let t = c.kernel_timed.as_ref()?;
            let median = |h| Estimate::of(&t.unit_medians(h)).map(|e| e.median / 1000.0);
            let ms = |h| median(h).map_or("-".to_string(), |m| format!("{m:.2} ms"));
            let k = c.kernel.as_ref();
            Some(format!(
                "{} ({} MiB, -n {}, {}, {}, {}T): get {}, put {}, median of {} run(s)",
                c.subject.to_ascii_uppercase().replace('-', "_"),
                k.map_or(0, |k| k.buffer_bytes >> 20),
                c.pages_per_call,
                clean(k.map_or("?", |k| k.backing.as_str())),
                clean(&c.workload),
                c.threads,
                ms(Half::Get),
                ms(Half::Put),
                t.get_us.len()
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::{sample, KernelTimed};

    #[test]
    fn timed_cells_are_listed_and_kept_out_of_the_rest() {
        let mut timed = sample::kernel_cell("gup-test-log", "pin-longterm", 1, 1.0, 1.0);
        timed.kernel_timed = Some(KernelTimed {
            source: "gup_test".into(),
            pages: 32768,
            get_us: vec![vec![129_000.0, 130_000.0], vec![131_000.0]],
            put_us: vec![vec![31_000.0], vec![32_000.0]],
        });
        let plain = sample::cell("plain", "private", 1, 1.0, 1.0);
        let l = lines([&timed, &plain]);
        assert_eq!(
            l,
            vec!["PIN_LONGTERM (2 MiB, -n 512, 4k, private, 1T): get 130.25 ms, put 31.50 ms, median of 2 run(s)"]
        );
        let run = Run {
            label: "A".into(),
            source: "a.json".into(),
            results: sample::results(vec![timed, plain]),
        };
        let kept = without(std::slice::from_ref(&run));
        assert_eq!(kept[0].results.cells.len(), 1);
        assert!(kept[0].results.cells[0].kernel_timed.is_none());
    }
}
