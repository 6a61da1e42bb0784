//! `kmod-shims/tap-verdict`, the verdict vm-test gives a `--extra` program:
//! kselftests exit 0 after a failed test, so the TAP lines decide.

use std::io::Write;
use std::path::Path;
use std::process::Command;

/// The verdict line for a program that exited `status` printing `output`.
fn verdict(status: i32, output: &str) -> String {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(output.as_bytes()).expect("write");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("kmod-shims/tap-verdict");
    let out = Command::new("sh")
        .arg(script)
        .arg(status.to_string())
        .arg(f.path())
        .output()
        .expect("sh runs");
    assert!(out.status.success(), "tap-verdict failed: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn not_ok_after_exit_0_is_a_failure() {
    // What gup_test prints when its ioctl fails, then exits 0.
    let v = verdict(
        0,
        "TAP version 13\n1..1\n# PIN_FAST_BENCHMARK\nnot ok 1 ioctl status -1\n# Totals: pass:0 fail:1\n",
    );
    assert!(v.starts_with("FAIL "), "{v}");
    assert!(v.contains("not ok 1 ioctl status -1"), "{v}");
}

#[test]
fn bail_out_and_a_bad_status_are_failures() {
    assert!(verdict(0, "1..3\nok 1 a\nBail out! no gup_test\n").starts_with("FAIL Bail out!"));
    assert!(verdict(1, "ok 1 a\n").starts_with("FAIL exit 1"));
    assert!(verdict(139, "").starts_with("FAIL exit 139"));
}

#[test]
fn indented_subtest_failures_count() {
    assert!(verdict(0, "ok 1 outer\n    not ok 2 inner\n").starts_with("FAIL "));
    // A TODO is an expected failure, not a failure.
    assert!(verdict(0, "ok 1 a\nnot ok 2 b # TODO later\n").starts_with("PASS "));
}

#[test]
fn skips_and_passes() {
    assert!(verdict(4, "ok 1 a\n").starts_with("SKIP exit 4"));
    assert!(verdict(0, "ok 1 hugetlb # SKIP no pool\n").starts_with("SKIP "));
    assert_eq!(
        verdict(0, "ok 1 a\nok 2 b # SKIP x\n").trim(),
        "PASS TAP 1 ok, 0 not ok, 1 skipped"
    );
    assert_eq!(
        verdict(0, "plain output\n").trim(),
        "PASS exit 0, no TAP lines"
    );
}
