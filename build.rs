//! Records the git commit pinbench is built from (`PINBENCH_GIT_COMMIT`),
//! for the results file's metadata. "unknown" outside a git checkout.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let suffix = if dirty { "-dirty" } else { "" };
    println!("cargo:rustc-env=PINBENCH_GIT_COMMIT={commit}{suffix}");
    for path in [
        ".git/HEAD",
        ".git/index",
        ".git/refs",
        "src",
        "schemes/src",
        "results/src",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
}
