//! The table `cargo bench` ends with: `pin_unpin` of every scheme, per page,
//! against `floor` at the same pages per call, read back from the estimates
//! criterion saved during this run (`<criterion dir>/<bench>/new/estimates.json`).
//!
//! Only estimates written since the run started are read, so a filtered run
//! (`cargo bench -- plain`) or `--test` never mixes in older numbers; with
//! none fresh, nothing is printed. The criterion directory is found as
//! criterion finds it: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
//! else `target/criterion` under the package root cargo runs benches from.

use crate::fixture::PAGES_PER_CALL;
use pin_schemes::SCHEMES;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Prints the table, in `unit` per page (`ns` or `instr`).
pub fn print(run_started: SystemTime, unit: &str) {
    let dir = criterion_dir();
    let per_page = |bench: &Path, pages_per_call: usize| {
        median(
            &dir.join(bench).join(pages_per_call.to_string()),
            run_started,
        )
        .map(|m| m / pages_per_call as f64)
    };
    let floor = PAGES_PER_CALL.map(|n| per_page(Path::new("floor"), n));
    let rows: Vec<(&str, [Option<f64>; 2])> = SCHEMES
        .iter()
        .map(|info| {
            let bench = Path::new("pin_unpin").join(info.name);
            (info.name, PAGES_PER_CALL.map(|n| per_page(&bench, n)))
        })
        .collect();
    if floor
        .iter()
        .chain(rows.iter().flat_map(|r| &r.1))
        .all(Option::is_none)
    {
        return;
    }
    let [few, many] = PAGES_PER_CALL;
    println!("\npin_unpin against floor, median {unit}/page of this run:");
    println!(
        "{:<18} {:>11} {:>7} {:>11} {:>7}",
        "scheme",
        format!("{few}/call"),
        "x floor",
        format!("{many}/call"),
        "x floor"
    );
    for (name, cost) in std::iter::once(("floor", floor)).chain(rows) {
        let mut line = format!("{name:<18}");
        for (cost, floor) in cost.iter().zip(floor) {
            line += &format!(" {:>11} {:>7}", fmt(*cost), fmt(ratio(*cost, floor)));
        }
        println!("{line}");
    }
}

fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        PathBuf::from(home)
    } else if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(target).join("criterion")
    } else {
        PathBuf::from("target/criterion")
    }
}

/// The median point estimate (per iteration) saved in `bench_dir`, if it
/// was written at or after `since`.
fn median(bench_dir: &Path, since: SystemTime) -> Option<f64> {
    let path = bench_dir.join("new").join("estimates.json");
    let written = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if written < since {
        return None;
    }
    let bytes = std::fs::read(&path).ok()?;
    let estimates: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

fn ratio(cost: Option<f64>, floor: Option<f64>) -> Option<f64> {
    Some(cost? / floor.filter(|f| *f > 0.0)?)
}

fn fmt(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}
