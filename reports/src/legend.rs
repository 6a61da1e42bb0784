//! Every mark pinbench prints, defined once and with one meaning wherever
//! it appears: the report, `summary` (of one run or several) and
//! `compare`. A mark is never reused for something else.

/// A cell whose 95% interval (of `x floor`, or `x 1T`) is wider than
/// +-[`pin_results::NOISY_HALF_WIDTH`] of its median.
pub const WIDE: char = '^';
/// A cell whose threads had less than [`pin_results::DISTURBED_CPU_SHARE`]
/// of their elapsed time on a CPU.
pub const DISTURBED: char = '!';
/// A cell with too few rounds on a quiet machine.
pub const BUSY: char = '#';
/// Where a figure is missing or a verdict withheld because it would be a
/// busy machine's: `x 1T` withheld, or a side of `compare` with only busy
/// cells.
pub const BUSY_WORD: &str = "busy";
/// Across several runs: the runs' medians spread wider than the widest
/// within-run interval.
pub const SPREAD: char = '%';
/// `compare`: the change is significant, p < 0.01.
pub const P01: &str = "**";
/// `compare`: the change is significant, p < 0.05.
pub const P05: &str = "*";
/// `compare`: the change is within the noise.
pub const WITHIN_NOISE: &str = "~";
/// `compare`: no verdict (too few runs to test).
pub const NO_VERDICT: &str = "?";

/// A cell's marks after its figure, in one order everywhere: [`WIDE`]
/// where `wide` (the figure's interval; the caller says which), then
/// [`DISTURBED`] and [`BUSY`] where they apply.
pub fn cell_marks(c: &pin_results::Cell, wide: bool) -> String {
    [(wide, WIDE), (c.disturbed(), DISTURBED), (c.busy, BUSY)]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, m)| *m)
        .collect()
}

/// What [`WIDE`] means, in a sentence.
pub fn wide() -> String {
    format!(
        "{WIDE} wide: the 95% confidence interval of x floor (or x 1T) is wider than \
         +-{:.0}% of its median; differences smaller than it mean nothing.",
        pin_results::NOISY_HALF_WIDTH * 100.0
    )
}

/// What [`DISTURBED`] means.
pub fn disturbed() -> String {
    format!(
        "{DISTURBED} disturbed: the measured threads were on a CPU for less than \
         {:.0}% of their elapsed time (cpu_share): other load shared the CPUs, so \
         the timing is suspect.",
        pin_results::DISTURBED_CPU_SHARE * 100.0
    )
}

/// What [`BUSY`] means.
pub fn busy() -> String {
    format!(
        "{BUSY} busy: fewer than {} of the cell's rounds ran on a quiet machine (judged \
         two at a time, the floor's slices within {:.0}% of the run's quiet floor for \
         that work; with several threads, the threads run together and in the run's \
         usual placement by the contention and handoff probes), or those of one visit \
         only, so its figures are over all rounds, \
         mostly of a busy machine, and not comparable with a quiet cell's; re-run it.",
        pin_results::MIN_QUIET_ROUNDS,
        pin_results::QUIET_FLOOR * 100.0
    )
}

/// What [`BUSY_WORD`] means in the `x 1T` column.
pub fn withheld() -> String {
    format!(
        "x 1T {BUSY_WORD}: fewer than {} rounds were quiet with thread 0 quiet in its \
         solo slice too; a host that gives an idle vCPU's core away slows the lone \
         thread, so no scaling is given; re-run it.",
        pin_results::MIN_QUIET_ROUNDS
    )
}

/// What [`SPREAD`] means.
pub fn spread() -> String {
    format!(
        "{SPREAD} = spread wider than CI: the runs disagree by more than one run can \
         show"
    )
}

/// The cell marks in a line, for a table's heading.
pub fn cell_marks_short() -> String {
    format!(
        "{WIDE} = CI wider than +-{:.0}%; {BUSY} = busy (too few rounds on a quiet \
         machine); {DISTURBED} = disturbed (other load took CPU time)",
        pin_results::NOISY_HALF_WIDTH * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No mark stands for two things.
    #[test]
    fn every_mark_is_distinct() {
        let marks = [
            WIDE.to_string(),
            DISTURBED.to_string(),
            BUSY.to_string(),
            BUSY_WORD.to_string(),
            SPREAD.to_string(),
            P01.to_string(),
            P05.to_string(),
            WITHIN_NOISE.to_string(),
            NO_VERDICT.to_string(),
        ];
        for (i, a) in marks.iter().enumerate() {
            for b in &marks[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
