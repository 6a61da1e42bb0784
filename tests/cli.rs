//! `pinbench run` as a user runs it: bad input exits 2 naming the value and
//! touches nothing; a tiny run writes a results file of the documented
//! schema; Ctrl-C writes the finished cells marked partial.

use assert_cmd::Command;
use predicates::str::contains;
use std::path::Path;
use std::time::Duration;

fn pinbench() -> Command {
    Command::cargo_bin("pinbench").expect("binary")
}

/// A run so small it takes a fraction of a second.
const TINY: &[&str] = &[
    "run",
    "--threads",
    "1",
    "-m",
    "1",
    "--pages-per-call",
    "64",
    "--slice-ms",
    "1",
    "--pairs",
    "2",
    "--warmup",
    "0",
];

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("results")).expect("json")
}

#[test]
fn bad_input_exits_2_naming_the_value_and_leaves_the_output_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("r.json");
    std::fs::write(&out, "keep me").expect("write");
    let o = out.to_str().expect("utf-8");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let too_many = (cpus + 1).to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", "--schemes", "plain,nope", "-o", o], "'nope'"),
        (
            vec!["run", "--workloads", "sideways", "-o", o],
            "'sideways'",
        ),
        (vec!["run", "--threads", "0", "-o", o], "--threads 0"),
        (vec!["run", "--threads", &too_many, "-o", o], &too_many),
        (
            vec!["run", "-m", "100000000", "-o", o],
            "-m/--mib 100000000",
        ),
        (vec!["run", "--numa", "far", "-o", o], "'far'"),
        (
            vec!["run", "--memmap-node", "99", "-o", o],
            "--memmap-node 99",
        ),
        (vec!["run", "--threads", "x", "-o", o], "'x'"),
        (
            vec!["run", "--revisits", "99999", "-o", o],
            "--revisits 99999: at most 8325",
        ),
        (vec!["run", "--revisits", "-1", "-o", o], "'-1'"),
    ];
    for (args, needle) in cases {
        pinbench()
            .args(&args)
            .assert()
            .code(2)
            .stderr(contains(needle));
        assert_eq!(
            std::fs::read_to_string(&out).expect("read"),
            "keep me",
            "{args:?}"
        );
    }
    // only the untouched file: no temporary left behind
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
}

#[test]
fn an_unwritable_output_path_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no/such/dir/r.json");
    pinbench()
        .args(TINY)
        .arg("-o")
        .arg(&missing)
        .assert()
        .code(2)
        .stderr(contains("no/such/dir"));
    pinbench()
        .args(TINY)
        .arg("-o")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(contains("is a directory"));
}

#[test]
fn a_tiny_run_writes_every_cell_of_the_documented_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("r.json");
    std::fs::write(&out, "an older run").expect("write");
    // Not replaced without --force.
    pinbench()
        .args(TINY)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(contains("--force"));
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "an older run");
    pinbench()
        .args(TINY)
        .arg("--force")
        .args([
            "--schemes",
            "plain,bias",
            "--workloads",
            "private,refstorm,overflow",
        ])
        .arg("-o")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("harness checks"))
        .stdout(contains("noop overhead"));
    let r = json(&out);
    assert_eq!(r["schema_version"], pin_results::SCHEMA_VERSION);
    assert_eq!(r["partial"], false);
    assert!(r["metadata"]["kernel"].is_string());
    assert!(r["metadata"]["command_line"][0].is_string());
    let cells = r["cells"].as_array().expect("cells");
    let names: Vec<String> = cells
        .iter()
        .map(|c| {
            format!(
                "{}/{}",
                c["subject"].as_str().unwrap_or("?"),
                c["workload"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "noop/private",
            "plain/private",
            "plain/refstorm",
            "plain/overflow",
            "bias/private",
            "bias/refstorm",
            "bias/overflow"
        ]
    );
    // 2 rounds asked in 2 visits: each visit measures a whole ABBA block
    // (4 rounds), and 1 revisit adds a block to a cell short of quiet ones.
    assert_eq!(r["config"]["visits"], 2);
    assert_eq!(r["config"]["revisits"], 1);
    for c in cells {
        let rounds = c["pairs"]["subject_ns_per_page"].as_array().map(Vec::len);
        assert!(rounds == Some(4) || rounds == Some(6), "{rounds:?}");
        assert!(
            c["x_floor"]["median"].as_f64().is_some_and(|v| v > 0.0),
            "{c}"
        );
        assert!(c["ns_per_page"].as_f64().is_some_and(|v| v > 0.0), "{c}");
        assert!(c["latency_ns"]["p99"].is_u64(), "{c}");
        assert!(c["counters"].get("cycles").is_some(), "{c}");
    }
    let storm = &cells[5];
    assert_eq!(storm["fp_threshold_refs"], 1023);
    assert_eq!(cells[3]["max_pins"], 2_147_483_646u64);
    // `summary` reads the file back.
    pinbench()
        .arg("summary")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("plain/private/1T x floor"));
}

#[test]
fn ctrl_c_stops_after_the_current_cell_and_writes_a_partial_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("r.json");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pinbench"))
        .args([
            "run",
            "--schemes",
            "plain",
            "--workloads",
            "private,shared,overflow",
            "--threads",
            "1",
            "-m",
            "1",
            "--pages-per-call",
            "64",
            "--slice-ms",
            "50",
            "--pairs",
            "3",
            "--warmup",
            "0",
        ])
        .arg("-o")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // The checkpoint holds results once the first cell visit is done:
    // interrupt then, in the middle of the run.
    let checkpoint = dir.path().join(".r.json.pinbench-tmp");
    let started = std::time::Instant::now();
    while std::fs::metadata(&checkpoint).map_or(true, |m| m.len() == 0) {
        assert!(started.elapsed() < Duration::from_secs(30), "never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill(2) on our own child's pid.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(r, 0);
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130), "{status:?}");
    let r = json(&out);
    assert_eq!(r["partial"], true);
    let n = r["cells"].as_array().map_or(0, Vec::len);
    // on a loaded machine the first cell may not have finished yet
    assert!(n < 5, "{n} cells");
}

#[test]
fn devices_are_refused_and_stdout_takes_the_results() {
    // A device node as -o is refused, and stays what it was.
    pinbench()
        .args(TINY)
        .args(["-o", "/dev/null", "--force"])
        .assert()
        .code(2)
        .stderr(contains("a device"));
    use std::os::unix::fs::FileTypeExt;
    let m = std::fs::metadata("/dev/null").expect("/dev/null");
    assert!(m.file_type().is_char_device());
    // `-o -`: the results on stdout, the summary on stderr, no file "-".
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pinbench()
        .current_dir(dir.path())
        .args(TINY)
        .args(["--schemes", "plain", "--workloads", "private", "-o", "-"])
        .assert()
        .success()
        .stderr(contains("harness checks"))
        .get_output()
        .stdout
        .clone();
    let r: serde_json::Value = serde_json::from_slice(&out).expect("JSON on stdout");
    assert_eq!(r["cells"].as_array().map(Vec::len), Some(2));
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
}

#[test]
fn a_new_file_takes_the_umask_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("r.json");
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pinbench"));
    cmd.args(TINY)
        .args(["--schemes", "plain", "--workloads", "private", "-o"])
        .arg(&out);
    use std::os::unix::process::CommandExt;
    // SAFETY: umask(2) between fork and exec touches nothing shared.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o027);
            Ok(())
        });
    }
    assert!(cmd.output().expect("run").status.success());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out).expect("file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}

#[test]
fn a_run_that_measures_nothing_exits_3_and_replaces_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("r.json");
    std::fs::write(&out, "keep me").expect("write");
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pinbench"));
    // 16 GiB of simulated memory: a 256 MiB memmap, beyond the 192 MiB of
    // address space the process is given, so every cell fails to map it.
    cmd.args([
        "run",
        "--threads",
        "1",
        "-m",
        "16384",
        "--schemes",
        "plain",
        "--workloads",
        "private",
        "--pairs",
        "2",
        "--force",
        "-o",
    ])
    .arg(&out);
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit(2) between fork and exec touches nothing shared.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 192 << 20,
                rlim_max: 192 << 20,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let o = cmd.output().expect("run");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("not measured") && stderr.contains("nothing replaced"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "keep me");
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
}

#[test]
fn sigterm_and_sighup_stop_like_ctrl_c() {
    for sig in [libc::SIGTERM, libc::SIGHUP] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("r.json");
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pinbench"))
            .args([
                "run",
                "--schemes",
                "plain",
                "--workloads",
                "private,shared,overflow",
                "--threads",
                "1",
                "-m",
                "1",
                "--pages-per-call",
                "64",
                "--slice-ms",
                "50",
                "--pairs",
                "6",
                "--warmup",
                "0",
            ])
            .arg("-o")
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        // Once a cell visit is checkpointed.
        let checkpoint = dir.path().join(".r.json.pinbench-tmp");
        let started = std::time::Instant::now();
        while std::fs::metadata(&checkpoint).map_or(true, |m| m.len() == 0) {
            assert!(started.elapsed() < Duration::from_secs(30), "never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
        let status = child.wait().expect("wait");
        assert_eq!(status.code(), Some(130), "signal {sig}: {status:?}");
        let r = json(&out);
        assert_eq!(r["partial"], true, "signal {sig}");
    }
}

#[test]
fn a_closed_pipe_ends_quietly_and_a_full_device_is_named() {
    use std::process::{Command as Std, Stdio};
    // `pinbench list | head -0`: the reader is gone before the first line.
    let mut child = Std::new(assert_cmd::cargo::cargo_bin("pinbench"))
        .arg("list")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
    // `pinbench list > /dev/full`: exit 1 with a message, no panic.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = Std::new(assert_cmd::cargo::cargo_bin("pinbench"))
        .arg("list")
        .stdout(full)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("writing to standard output"), "{stderr}");
}

#[test]
fn results_files_of_another_version_or_impossible_values_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = pin_results::sample::results(vec![pin_results::sample::cell(
        "plain", "private", 1, 10.0, 1e8,
    )]);
    let write = |name: &str, v: &serde_json::Value| {
        let p = dir.path().join(name);
        std::fs::write(&p, v.to_string()).expect("write");
        p
    };
    let mut v = serde_json::to_value(&good).expect("json");
    v["schema_version"] = 99.into();
    let other = write("v99.json", &v);
    let mut v = serde_json::to_value(&good).expect("json");
    v["cells"][0]["ns_per_page"] = (-5.0).into();
    let negative = write("neg.json", &v);
    let array = write("array.json", &serde_json::json!([1, 2]));
    for (file, needle) in [
        (&other, "schema_version 99"),
        (&negative, "ns_per_page -5"),
        (&array, "not a pinbench results file"),
    ] {
        pinbench()
            .arg("summary")
            .arg(file)
            .assert()
            .code(2)
            .stderr(contains(needle));
    }
}

#[test]
fn results_whose_directory_vanished_are_rescued_not_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pinbench"))
        .args([
            "run",
            "--schemes",
            "plain",
            "--workloads",
            "private,shared",
            "--threads",
            "1",
            "-m",
            "1",
            "--pages-per-call",
            "64",
            "--slice-ms",
            "20",
            "--pairs",
            "8",
            "--warmup",
            "0",
            "-o",
        ])
        .arg(sub.join("r.json"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // The run has opened its checkpoint; its directory goes away.
    std::thread::sleep(Duration::from_millis(600));
    // The run may write a checkpoint between rm's listing and its rmdir
    // (ENOTEMPTY): remove again until the directory is gone.
    let gone = (0..100).any(|_| {
        std::fs::remove_dir_all(&sub).is_ok() || {
            std::thread::sleep(Duration::from_millis(5));
            false
        }
    });
    assert!(gone, "{} could not be removed", sub.display());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let rescued = stderr
        .split_whitespace()
        .find(|w| w.contains("pinbench-rescued-"))
        .unwrap_or_else(|| panic!("no rescue path in {stderr}"));
    let r = json(Path::new(rescued));
    assert!(r["cells"].as_array().is_some_and(|c| !c.is_empty()), "{r}");
    let _ = std::fs::remove_file(rescued);
}

#[test]
fn a_cell_that_cannot_have_its_heap_is_not_measured_instead_of_aborting() {
    // 16 GiB simulated: a 256 MiB memmap (mmap) and about 100 MiB of heap.
    // Across these address-space limits the memmap fails first, then only
    // the heap, then nothing: never an abort (exit 134).
    for mib in (380..=480).step_by(20) {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pinbench"));
        cmd.args([
            "run",
            "--schemes",
            "exact",
            "--workloads",
            "private",
            "--threads",
            "1",
            "-m",
            "16384",
            "--pairs",
            "2",
            "--visits",
            "1",
            "-o",
            "-",
        ]);
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit(2) between fork and exec touches nothing shared.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: mib << 20,
                    rlim_max: mib << 20,
                };
                libc::setrlimit(libc::RLIMIT_AS, &lim);
                Ok(())
            });
        }
        let o = cmd.output().expect("run");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            // 1: the cell asked for was not measured (a note says why).
            matches!(o.status.code(), Some(0) | Some(1) | Some(3)),
            "{mib} MiB: {:?} {stderr}",
            o.status
        );
        assert!(
            !stderr.contains("memory allocation of"),
            "{mib} MiB: {stderr}"
        );
    }
}

#[test]
fn a_refused_long_term_pin_is_named_and_a_run_that_lost_its_cells_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("r.json");
    let o = pinbench()
        .args(TINY)
        .args([
            "--schemes",
            "xarray",
            "--workloads",
            "mixed",
            "--visits",
            "1",
        ])
        .args(["--failslab", "1", "--on-alloc-fail", "fail", "-o"])
        .arg(&out)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("none of the"), "{stderr}");
    assert!(stderr.contains("could not be measured"), "{stderr}");
}

#[test]
fn a_dio_file_that_is_a_fifo_or_on_tmpfs_is_refused_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut cases = vec![(fifo, "neither a regular file nor a block device")];
    // tmpfs, where there is one: its O_DIRECT reads pin nothing.
    let shm = tempfile::NamedTempFile::new_in("/dev/shm").ok();
    if let Some(f) = &shm {
        std::fs::write(f.path(), vec![0u8; 1 << 20]).expect("write");
        cases.push((f.path().to_path_buf(), "pin nothing"));
    }
    for (file, needle) in cases {
        pinbench()
            .args([
                "kernel",
                "--backend",
                "direct-io",
                "--thp",
                "off",
                "--dio-file",
            ])
            .arg(&file)
            .arg("-o")
            .arg(dir.path().join("k.json"))
            .timeout(Duration::from_secs(60))
            .assert()
            .code(2)
            .stderr(contains(needle));
    }
}
