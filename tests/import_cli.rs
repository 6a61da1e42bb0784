//! `pinbench import gup-test` as a user runs it: three gup_test logs per
//! kernel, in upstream's printed format, imported and compared into an
//! email block; garbage and failed runs exit 2 naming the file and line,
//! and nothing is written.

use assert_cmd::Command;
use predicates::str::contains;
use std::path::Path;

fn pinbench() -> Command {
    Command::cargo_bin("pinbench").expect("binary")
}

/// A log of `gup_test -L -r 3` on `kernel`, as v6.12's ksft_print_msg
/// prints it, the get times around `get_ms`.
fn log(dir: &Path, name: &str, kernel: &str, get_ms: f64, put_ms: f64) -> String {
    let mut text = format!(
        "Linux vm {kernel} #1 SMP PREEMPT_DYNAMIC Debian x86_64 GNU/Linux\n\
         # running ./gup_test -L -m 128 -n 512 -r 3\nTAP version 13\n1..1\n"
    );
    for wobble in [-0.003, 0.0, 0.004] {
        text.push_str(&format!(
            "# PIN_LONGTERM_BENCHMARK: Time: get:{:.0} put:{:.0} us# \n",
            get_ms * 1000.0 * (1.0 + wobble),
            put_ms * 1000.0 * (1.0 - wobble)
        ));
    }
    text.push_str("ok 1 ioctl status 0\n# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0\n");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("log");
    path.to_str().expect("utf-8").to_string()
}

/// `pinbench import gup-test LOGS -o OUT`.
fn import(logs: &[String], out: &Path) -> assert_cmd::assert::Assert {
    pinbench()
        .args(["import", "gup-test"])
        .args(logs)
        .arg("-o")
        .arg(out)
        .assert()
}

#[test]
fn three_logs_a_kernel_compare_into_a_short_email_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut sides = vec![];
    for (side, kernel, get) in [
        ("a", "6.1.0-47-cloud-amd64", 130.5),
        ("b", "6.12.19", 117.5),
    ] {
        let logs: Vec<String> = (0..3)
            .map(|i| {
                log(
                    d,
                    &format!("{side}{i}.log"),
                    kernel,
                    get + i as f64 * 0.4,
                    31.7,
                )
            })
            .collect();
        let out = d.join(format!("{side}.json"));
        import(&logs, &out)
            .success()
            .stderr(contains("1 cells written"));
        sides.push(out);
    }
    let o = pinbench()
        .args(["compare", "--format", "email"])
        .arg(&sides[0])
        .arg(&sides[1])
        .output()
        .expect("compare");
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).expect("utf-8");
    assert!(text.lines().count() <= 25, "{text}");
    assert!(text.lines().all(|l| l.len() <= 76), "{text}");
    assert!(
        text.contains("Linux 6.1.0-47-cloud-amd64 -> 6.12.19"),
        "{text}"
    );
    let get = text
        .lines()
        .find(|l| l.starts_with("PIN_LONGTERM get: 130.9 -> 117.9 ms -9.9% (CI -"))
        .unwrap_or_else(|| panic!("no get line in\n{text}"));
    assert!(get.ends_with("3+3 runs)"), "{get}");
    // The text comparison shows the same figures.
    pinbench()
        .arg("compare")
        .arg(&sides[0])
        .arg(&sides[1])
        .assert()
        .success()
        .stdout(contains("timed by the kernel itself"))
        .stdout(contains("PIN_LONGTERM put: "));
}

#[test]
fn garbage_failed_runs_and_mixed_kernels_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let out = d.join("r.json");
    let garbage = d.join("garbage.log");
    std::fs::write(&garbage, "hello\nworld\n").expect("write");
    let broken = d.join("broken.log");
    std::fs::write(&broken, "ok\nPIN_FAST_BENCHMARK: Time: get:12 put:\n").expect("write");
    let failed = d.join("failed.log");
    std::fs::write(
        &failed,
        "# PIN_FAST_BENCHMARK: Time: get:1 put:1 us# \nnot ok 1 ioctl status -1\n",
    )
    .expect("write");
    let a = log(d, "a.log", "6.1.0", 130.0, 31.0);
    let b = log(d, "b.log", "6.12.19", 117.0, 31.0);
    let again = format!("{}/./a.log", d.display());
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![garbage.display().to_string()],
            format!("{}: no '*_BENCHMARK", garbage.display()),
        ),
        (
            vec![broken.display().to_string()],
            format!("{}:2: expected a count", broken.display()),
        ),
        (
            vec![failed.display().to_string()],
            format!("{}:2: a failed run", failed.display()),
        ),
        (
            vec![a.clone(), b],
            "import each kernel's logs into its own file".into(),
        ),
        (vec![a.clone(), again], "give each log once".into()),
        (
            vec![d.join("absent.log").display().to_string()],
            "absent.log".into(),
        ),
    ];
    for (logs, want) in cases {
        import(&logs, &out).code(2).stderr(contains(want));
        assert!(!out.exists(), "nothing is written");
    }
    // Not even --force replaces a log with the results.
    let before = std::fs::read(&a).expect("log");
    pinbench()
        .args(["import", "gup-test", &a, "--force", "-o", &a])
        .assert()
        .code(2)
        .stderr(contains("that is one of the logs"));
    assert_eq!(std::fs::read(&a).expect("log"), before);
}
