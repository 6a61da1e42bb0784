//! `pinbench kernel` killed at any moment leaves the system as it found it:
//! hugetlb pools back at their size (by the next run, `kernel --probe`, or
//! at once after a second SIGINT), no child process, no scratch file, the
//! kernel's FOLL_PIN counters balanced; two hugetlb runs at once both
//! measure every cell. Needs root (the pools); skipped, saying so, without.

use assert_cmd::cargo::CommandCargoExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::foll_pin;

/// The tests here grow the system's pools and read machine-wide counters.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

const POOL_2M: &str = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
const POOL_1G: &str = "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages";

fn read_u64(p: &str) -> Option<u64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// What a test here holds while it runs: the other tests kept out, the 2
/// MiB pool's size before it, and a directory for its results.
struct Setup {
    _serial: std::sync::MutexGuard<'static, ()>,
    before: u64,
    dir: tempfile::TempDir,
}

/// The setup, where the pools can be grown here (root, hugetlb); `None`,
/// saying why, where not.
fn setup() -> Option<Setup> {
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: geteuid cannot fail.
    let before = read_u64(POOL_2M).filter(|_| unsafe { libc::geteuid() } == 0);
    let Some(before) = before else {
        eprintln!("not root or no 2 MiB hugetlb pool: nothing to check here");
        return None;
    };
    Some(Setup {
        _serial: serial,
        before,
        dir: tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir"),
    })
}

/// Pins held machine-wide.
fn pins_held() -> Option<u64> {
    foll_pin().map(|(a, r)| a.wrapping_sub(r))
}

/// The parent pid and state of `pid`.
fn stat(pid: u32) -> Option<(u32, char)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let mut w = rest.split_whitespace();
    let state = w.next()?.chars().next()?;
    Some((w.next()?.parse().ok()?, state))
}

/// Living processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| stat(p).is_some_and(|(pp, st)| pp == pid && st != 'Z'))
        .collect()
}

fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(_, st)| st != 'Z')
}

fn kernel_run(dir: &Path, name: &str, extra: &[&str]) -> Child {
    Command::cargo_bin("pinbench")
        .expect("binary")
        .args(["kernel", "--pairs", "6", "--visits", "2", "--revisits", "0"])
        .args(extra)
        .arg("-o")
        .arg(dir.join(name))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

/// Waits up to `secs` for `ok`.
fn wait_for(secs: u64, mut ok: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(secs) {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    ok()
}

/// After the run `pid` died: its children die too, no scratch file is in
/// `dir`, the pins it held are released, and `kernel --probe` puts the
/// pools back.
fn check_left_nothing(pid: u32, kids: &[u32], dir: &Path, pools: (u64, Option<u64>), held: u64) {
    assert!(
        wait_for(10, || kids.iter().all(|&k| !alive(k))),
        "children of the killed run still alive: {kids:?}"
    );
    let scratch: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".pinbench-dio"))
        .collect();
    assert!(scratch.is_empty(), "scratch files left: {scratch:?}");
    // io_uring's rings are torn down after the process, asynchronously.
    assert!(
        wait_for(20, || pins_held() == Some(held)),
        "pins held {:?}, {held} before the run {pid}",
        pins_held()
    );
    // A child the run forked after `kids` was read (a process-vm peer)
    // dies of PR_SET_PDEATHSIG, asynchronously; until it is gone its pages
    // are still held, so the probe is asked again until the pools are back.
    let put_back = wait_for(20, || {
        let probe = Command::cargo_bin("pinbench")
            .expect("binary")
            .args(["kernel", "--probe"])
            .output()
            .expect("probe");
        assert!(probe.status.success());
        read_u64(POOL_2M) == Some(pools.0) && read_u64(POOL_1G) == pools.1
    });
    assert!(put_back, "pools after probe");
    assert_eq!(read_u64(POOL_2M), Some(pools.0), "2 MiB pool after probe");
    assert_eq!(read_u64(POOL_1G), pools.1, "1 GiB pool after probe");
}

#[test]
fn sigkill_at_any_moment_leaves_the_system_as_it_was() {
    let Some(Setup {
        _serial,
        before,
        dir,
    }) = setup()
    else {
        return;
    };
    let pools = (before, read_u64(POOL_1G));
    let held = pins_held().unwrap_or(0);
    // Moments: the pool just grown, a process-vm child just forked (it may
    // still be mapping its buffer), and times spread over the run.
    type Moment = Box<dyn Fn(u32, Duration) -> bool>;
    let moments: Vec<(&str, Moment)> = vec![
        (
            "pool grown",
            Box::new(move |_, _| read_u64(POOL_2M) > Some(pools.0)),
        ),
        ("child forked", Box::new(|pid, _| !children(pid).is_empty())),
        (
            "after 1.5 s",
            Box::new(|_, t| t > Duration::from_millis(1500)),
        ),
        ("after 4 s", Box::new(|_, t| t > Duration::from_secs(4))),
    ];
    for (i, (what, moment)) in moments.iter().enumerate() {
        let mut child = kernel_run(
            dir.path(),
            &format!("k{i}.json"),
            &[
                "--thp",
                "hugetlb,hugetlb-1g",
                "--backend",
                "io-uring,process-vm,direct-io",
                "--threads",
                "1",
                "-m",
                "512",
            ],
        );
        let (pid, t0) = (child.id(), Instant::now());
        let reached = wait_for(60, || {
            moment(pid, t0.elapsed()) || child.try_wait().ok().flatten().is_some()
        });
        assert!(reached, "{what}: never reached");
        let kids = children(pid);
        // SIGKILL, unless it already ended and was reaped (its pid may then
        // be another process's).
        let _ = child.kill();
        child.wait().expect("reap");
        check_left_nothing(pid, &kids, dir.path(), pools, held);
    }
}

#[test]
fn a_second_sigint_gives_the_pool_back_at_once() {
    let Some(Setup {
        _serial,
        before,
        dir,
    }) = setup()
    else {
        return;
    };
    let mut child = kernel_run(
        dir.path(),
        "k.json",
        &[
            "--thp",
            "hugetlb",
            "--backend",
            "io-uring",
            "--threads",
            "1",
            "-m",
            "64",
        ],
    );
    let pid = child.id() as i32;
    assert!(
        wait_for(60, || read_u64(POOL_2M) > Some(before)),
        "pool never grown"
    );
    for _ in 0..2 {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, libc::SIGINT) };
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = child.wait().expect("reap");
    assert_eq!(status.code(), Some(130));
    // No later run, no probe: the aborted run put it back itself.
    assert_eq!(read_u64(POOL_2M), Some(before));
}

#[test]
fn two_hugetlb_runs_at_once_both_measure_every_cell() {
    let Some(Setup {
        _serial,
        before,
        dir,
    }) = setup()
    else {
        return;
    };
    // A short run and a longer one: the short one ends while the longer
    // one still maps buffers, which must find their pages.
    let short = [
        "--thp",
        "hugetlb",
        "--backend",
        "io-uring",
        "--threads",
        "1",
        "-m",
        "32",
    ];
    let long = [
        "--thp",
        "hugetlb",
        "--backend",
        "io-uring,process-vm",
        "--threads",
        "1,2",
        "-m",
        "32",
        "--slice-ms",
        "6",
    ];
    let a = kernel_run(dir.path(), "a.json", &short);
    assert!(
        wait_for(60, || read_u64(POOL_2M) > Some(before)),
        "pool never grown"
    );
    let b = kernel_run(dir.path(), "b.json", &long);
    for (n, run, want) in [("a.json", a, 1), ("b.json", b, 4)] {
        let out = run.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{n}: {err}");
        assert!(
            !err.contains("not measured") && !err.contains("skipped"),
            "{n}: {err}"
        );
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(n)).expect("read"))
                .expect("json");
        let cells = v["cells"].as_array().expect("cells");
        let hugetlb = cells
            .iter()
            .filter(|c| c["kernel"]["backing"] == "hugetlb-2M")
            .count();
        assert_eq!(hugetlb, want, "{n}: {err}");
    }
    assert_eq!(read_u64(POOL_2M), Some(before));
}
