//! Builds pin-schemes' sources with `--cfg census` (see its `census`
//! module): the counted atomics instead of `std`'s.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(census)");
    println!("cargo::rustc-cfg=census");
}
