//! `pinbench report` and `pinbench compare` as a user runs them: on a real
//! (tiny) run every plot kind the data supports is written as SVG and PNG
//! with a mailable report.txt, the same input gives the same bytes, and
//! bad input exits 2 with nothing written or overwritten.

use assert_cmd::Command;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use std::path::{Path, PathBuf};

fn pinbench() -> Command {
    Command::cargo_bin("pinbench").expect("binary")
}

/// A real run of every scheme and workload, small enough to take about a
/// second: 1 thread, 1 MiB, 2 rounds of 2 ms slices.
fn tiny_run(dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    pinbench()
        .args(["run", "--threads", "1", "-m", "1", "--pages-per-call", "64"])
        .args(["--slice-ms", "2", "--pairs", "2", "--warmup", "0", "-o"])
        .arg(&out)
        .assert()
        .success();
    out
}

fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_run_gives_every_plot_a_mailable_text_and_the_same_bytes_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = tiny_run(dir.path(), "r.json");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        pinbench()
            .arg("report")
            .arg(&r)
            .arg("-o")
            .arg(out)
            .assert()
            .success();
    }
    let files = listing(&a);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    // One node: every kind but NUMA.
    for stem in [
        "throughput-private",
        "throughput-refstorm",
        "floor-ratio",
        "latency-private",
        "false-positives",
        "memory",
    ] {
        for ext in ["svg", "png"] {
            let name = format!("{stem}.{ext}");
            assert!(names.contains(&name.as_str()), "no {name} in {names:?}");
        }
    }
    for (name, bytes) in &files {
        if name.ends_with(".png") {
            assert!(
                bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
                "{name} is not a PNG"
            );
        }
        if name.ends_with(".svg") {
            assert!(bytes.starts_with(b"<svg"), "{name} is not an SVG");
        }
    }
    let txt = String::from_utf8(
        files
            .iter()
            .find(|f| f.0 == "report.txt")
            .expect("txt")
            .1
            .clone(),
    )
    .expect("utf-8");
    for line in txt.lines() {
        assert!(
            line.len() <= 80 && line.is_ascii() && !line.contains('\t'),
            "{line:?}"
        );
    }
    for want in [
        "host:",
        "CPU:",
        "kernel:",
        "THP:",
        "pinbench:",
        "command:",
        "== Findings",
        "== How to read the tables",
        "== x floor at a glance",
    ] {
        assert!(txt.contains(want), "report.txt lacks {want}\n{txt}");
    }
    let md = String::from_utf8(
        files
            .iter()
            .find(|f| f.0 == "report.md")
            .expect("md")
            .1
            .clone(),
    )
    .expect("utf-8");
    assert!(md.contains("(throughput-private.png)"), "{md}");
    // The per-workload tables are report.md's.
    assert!(md.contains("\n## private"), "{md}");
    assert_eq!(files, listing(&b), "two reports of one file differ");
}

#[test]
fn compare_prints_changes_with_marks_for_two_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = tiny_run(dir.path(), "a.json");
    let b = tiny_run(dir.path(), "b.json");
    let out = pinbench().arg("compare").arg(&a).arg(&b).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).expect("utf-8");
    assert!(
        text.contains("== private, 64 pages per call, memmap local"),
        "{text}"
    );
    assert!(text.contains("plain 1T"), "{text}");
    assert!(text.contains('%'), "{text}");
    assert!(
        text.lines().all(|l| l.len() <= 80 && l.is_ascii()),
        "{text}"
    );
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let good = tiny_run(d, "good.json");
    let malformed = d.join("malformed.json");
    std::fs::write(&malformed, "{\"schema_version\": 2,").expect("write");
    let missing = d.join("missing.json");
    // An older report that bad input must leave alone.
    let old = d.join("old");
    std::fs::create_dir(&old).expect("mkdir");
    std::fs::write(old.join("report.txt"), "old report").expect("write");
    let file = d.join("a-file");
    std::fs::write(&file, "keep").expect("write");
    let under_file = file.join("under");

    let cases: Vec<(Vec<&Path>, &Path, &str)> = vec![
        (vec![&missing], &old, "missing.json"),
        (vec![&good, &malformed], &old, "malformed.json"),
        (vec![&good], &file, "not a directory"),
        (vec![&good], &under_file, "a-file"),
    ];
    for (inputs, out, names) in cases {
        let mut cmd = pinbench();
        cmd.arg("report").args(inputs).arg("-o").arg(out);
        cmd.assert().code(2).stderr(contains(names));
    }
    assert_eq!(
        listing(&old),
        vec![("report.txt".into(), b"old report".to_vec())]
    );
    assert_eq!(std::fs::read(&file).expect("file"), b"keep");

    for (base, new, names) in [
        (&missing, &good, "missing.json"),
        (&good, &malformed, "malformed.json"),
    ] {
        pinbench()
            .arg("compare")
            .arg(base)
            .arg(new)
            .assert()
            .code(2)
            .stdout("")
            .stderr(contains(names));
    }
}

/// `pinbench report INPUT -o OUT`, within a minute.
fn report(input: &Path, out: &Path) -> assert_cmd::assert::Assert {
    pinbench()
        .arg("report")
        .arg(input)
        .arg("-o")
        .arg(out)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
}

/// `good` rewritten by `edit` into `name` beside it.
fn edited(good: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(good).expect("read")).expect("json");
    edit(&mut v);
    let out = good.with_file_name(name);
    std::fs::write(&out, serde_json::to_vec(&v).expect("json")).expect("write");
    out
}

#[test]
fn hostile_files_are_refused_by_name_or_rendered_without_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let good = tiny_run(d, "good.json");
    edited(&good, "empty.json", |v| v["cells"] = serde_json::json!([]));
    edited(&good, "twice.json", |v| {
        let first = v["cells"][0].clone();
        v["cells"].as_array_mut().expect("cells").push(first);
    });
    let long = edited(&good, "long.json", |v| {
        v["cells"][1]["subject"] = serde_json::json!("x".repeat(100_000));
    });
    let timeout = std::time::Duration::from_secs(60);
    for (args, needle) in [
        (vec!["summary", "/dev/zero"], "not a regular file"),
        (vec!["summary", "good.json", "good.json"], "the same run as"),
        (vec!["summary", "empty.json"], "holds no cells"),
        (vec!["compare", "good.json", "empty.json"], "holds no cells"),
        (vec!["report", "empty.json", "-o", "r"], "holds no cells"),
        (vec!["summary", "twice.json"], "there twice"),
    ] {
        pinbench()
            .current_dir(d)
            .args(&args)
            .timeout(timeout)
            .assert()
            .code(2)
            .stderr(contains(needle));
    }
    // A 100,000-character subject is refused by name, not rendered, and not
    // echoed whole.
    report(&long, &d.join("long"))
        .code(2)
        .stderr(contains("a cell's subject is not a short line of text"))
        .stderr(contains("xxxxxxxxxxxxxxxxxxxxxxxx").not());
    // A directory of the user's pictures, and the working directory, are
    // refused and left as they were.
    let pics = d.join("pics");
    std::fs::create_dir(&pics).expect("mkdir");
    std::fs::write(pics.join("holiday-photo.png"), "photo").expect("write");
    report(&good, &pics)
        .code(2)
        .stderr(contains("holiday-photo.png"));
    assert_eq!(listing(&pics).len(), 1);
    let made = d.join("report");
    report(&good, &made).success();
    pinbench()
        .current_dir(&made)
        .args(["report", "../good.json", "-o", "."])
        .assert()
        .code(2)
        .stderr(contains("working directory"));
    // Its own directory is replaced by the next report, whole.
    report(&good, &made).success();
    assert!(made.join("report.txt").exists());
}
