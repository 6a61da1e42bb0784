//! `pinbench kernel` on this machine's real kernel: the io-uring and
//! process-vm backends take real FOLL_PIN pins, and a process killed with
//! SIGKILL in the middle of an io-uring cell leaves the kernel's pin
//! counters balanced.

use assert_cmd::cargo::CommandCargoExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::foll_pin;

/// The counters are machine-wide: the tests here must not pin at once.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn io_uring_works() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .map(|s| s.trim() == "0")
        .unwrap_or(true)
}

#[test]
fn sigkill_mid_cell_leaves_pins_balanced() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(before) = foll_pin() else {
        eprintln!("no FOLL_PIN counters in /proc/vmstat: nothing to check on this kernel");
        return;
    };
    if !io_uring_works() {
        eprintln!("io_uring disabled here: nothing to check");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("k.json");
    let mut child = Command::cargo_bin("pinbench")
        .expect("binary")
        .args([
            "kernel",
            "--backend",
            "io-uring",
            "--threads",
            "1",
            "--thp",
            "off",
            "--slice-ms",
            "2000",
            "--pairs",
            "5",
            "-m",
            "16",
            "-o",
        ])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait until the cell is pinning (the counters move), then kill.
    let t0 = Instant::now();
    loop {
        let (a, _) = foll_pin().expect("vmstat");
        if a > before.0 + 10_000 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the cell never pinned"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    assert!(!out.exists(), "a killed run must not leave a results file");
    // The ring's teardown runs asynchronously after the process is gone.
    let t0 = Instant::now();
    let (acquired, released) = loop {
        let (a, r) = foll_pin().expect("vmstat");
        let d = (a - before.0, r - before.1);
        if d.0 == d.1 || t0.elapsed() > Duration::from_secs(10) {
            break d;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(acquired > 10_000, "pins acquired {acquired}");
    assert_eq!(acquired, released, "pins leaked by a killed io-uring cell");
}

#[test]
fn quick_cells_prove_their_pins() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !io_uring_works() {
        eprintln!("io_uring disabled here: nothing to check");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("k.json");
    let pool =
        || std::fs::read_to_string("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages").ok();
    let pool_before = pool();
    let status = Command::cargo_bin("pinbench")
        .expect("binary")
        .args([
            "kernel",
            "--backend",
            "io-uring,process-vm",
            "--threads",
            "1",
            "--slice-ms",
            "20",
            "--pairs",
            "2",
            "--warmup",
            "0",
            "-m",
            "8",
            "-o",
        ])
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .expect("run");
    assert!(status.success());
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("results")).expect("json");
    let cells = r["cells"].as_array().expect("cells");
    // 2 backends x 4 KiB, THP and hugetlb (where the 2 MiB pool could be
    // had), and the pool put back as it was.
    let skipped = r["notes"].as_array().expect("notes").iter().any(|n| {
        n.as_str()
            .is_some_and(|n| n.contains("hugetlb-2M cells skipped"))
    });
    assert_eq!(cells.len(), if skipped { 4 } else { 6 }, "{r}");
    assert_eq!(pool(), pool_before);
    for c in cells
        .iter()
        .filter(|c| c["kernel"]["backing"] == "hugetlb-2M")
    {
        assert_eq!(c["folio_order"], 9, "{c}");
    }
    for c in cells {
        let k = &c["kernel"];
        assert_ne!(c["backend"], "model");
        if foll_pin().is_some() {
            assert!(k["pins_acquired"].as_u64().expect("counted") > 0, "{c}");
            assert_eq!(k["pins_balanced"], true, "{c}");
        }
        assert!(c["ns_per_page"].as_f64().expect("ns") > 0.0);
    }
}

#[test]
fn another_process_pinning_is_disturbance_not_a_leak() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if foll_pin().is_none() || !io_uring_works() {
        eprintln!("no FOLL_PIN counters or no io_uring: nothing to check");
        return;
    }
    // The neighbour: a thread registering and unregistering an io_uring
    // buffer (FOLL_PIN | FOLL_LONGTERM) in a loop, all through the run.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let neighbour = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let ring = io_uring::IoUring::new(2).expect("ring");
            let mut buf = vec![1u8; 1 << 20];
            let iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            // Relaxed: a lone stop flag.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // SAFETY: `buf` outlives its registration, dropped below.
                if unsafe { ring.submitter().register_buffers(&[iov]) }.is_ok() {
                    std::thread::sleep(Duration::from_millis(3));
                    let _ = ring.submitter().unregister_buffers();
                }
            }
        })
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("k.json");
    let run = Command::cargo_bin("pinbench")
        .expect("binary")
        .args([
            "kernel",
            "--backend",
            "process-vm",
            "--threads",
            "1",
            "--thp",
            "off",
            "--slice-ms",
            "20",
            "--pairs",
            "4",
            "-m",
            "8",
            "-o",
        ])
        .arg(&out)
        .output()
        .expect("run");
    // Relaxed: see the neighbour.
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    neighbour.join().expect("neighbour");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(!stderr.contains("LEAK"), "{stderr}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("results")).expect("json");
    assert!(
        r["cells"]
            .as_array()
            .expect("cells")
            .iter()
            .all(|c| c["kernel"]["foreign_pins"] == true),
        "{r}"
    );
}
