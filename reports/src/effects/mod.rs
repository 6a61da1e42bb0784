//! "Effects of pins": the results' `effects` (`pinbench kernel
//! --effects`) as report tables, then what the model's false positives
//! would cost where the runs hold both.

mod measured;
mod prices;

use crate::runs::Run;
use crate::tables::Titled;

/// The effects tables of every run that has them, then the prices.
pub fn tables(runs: &[Run]) -> Vec<Titled> {
    let mut t = measured::per_run(runs);
    t.extend(prices::prices(runs));
    t
}
