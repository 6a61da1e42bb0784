//! Small synthetic results for tests of the harness and the reports.
#![doc(hidden)]

use crate::*;

/// Threads and memmap on node 0, verified there.
pub fn numa() -> NumaPlacement {
    NumaPlacement {
        placement: "local".into(),
        cpu_node: 0,
        memmap_node: 0,
        memmap_node_verified: Some(0),
        verified_fraction: 1.0,
        method: "mbind".into(),
    }
}

/// A cell of `subject`/`workload` at `threads` with the given timing,
/// against a floor of 10 ns/page.
pub fn cell(subject: &str, workload: &str, threads: usize, ns: f64, pps: f64) -> Cell {
    let ratio = ns / FLOOR_NS;
    let estimate = |median: f64| Estimate {
        median,
        ci_low: median * 0.99,
        ci_high: median * 1.01,
        n: 1,
    };
    let name = CellName {
        subject: subject.into(),
        backend: MODEL.into(),
        workload: workload.into(),
        threads,
        pages_per_call: 512,
        folio_order: 0,
    };
    Cell {
        ns_per_page: ns,
        floor_ns_per_page: FLOOR_NS,
        pages_per_sec: pps,
        x_floor: estimate(ratio),
        scaling: (threads > 1).then(|| estimate(threads as f64 * 0.95)),
        cpu_share: Some(1.0),
        latency_ns: LatencyNs {
            p50: 1,
            p90: 2,
            p99: 3,
            p999: 4,
            max: 5,
        },
        counters: Counters {
            task_clock_ns: Some(1),
            context_switches: Some(0),
            ..Counters::default()
        },
        false_positives: Some(0),
        false_negatives: Some(0),
        metadata_bytes: Some(64),
        tracking_peak_bytes: Some(0),
        tracking_steady_bytes: Some(0),
        memmap_pages: 1,
        memmap_bytes: 64,
        memmap_rss_bytes: Some(4096),
        pairs: Pairs {
            subject_ns_per_page: vec![ns],
            floor_ns_per_page: vec![FLOOR_NS],
            pages_per_sec: vec![pps],
            solo_pages_per_sec: (threads > 1).then(|| vec![pps / (threads as f64 * 0.95)]),
            probe_ns: None,
            throughput_ns: None,
            contention_ns: None,
            handoff_ns: None,
            solo_probe_ns: None,
            solo_throughput_ns: None,
            visit_rounds: None,
        },
        ..Cell::unmeasured(name, numa(), None)
    }
}

/// The floor of [`cell`]'s cells, ns/page.
pub const FLOOR_NS: f64 = 10.0;

/// A real-kernel cell of `backend`.
pub fn kernel_cell(backend: &str, subject: &str, threads: usize, ns: f64, pps: f64) -> Cell {
    let mut c = cell(subject, "private", threads, ns, pps);
    c.backend = backend.into();
    c.kernel = Some(KernelCell {
        thp: false,
        backing: "4k".into(),
        thp_bytes: Some(0),
        buffer_bytes: 2 << 20,
        pins_acquired: Some(512),
        pins_released: Some(512),
        pins_balanced: Some(true),
        foreign_pins: false,
        expects_pins: true,
        in_kernel_ns_per_page: None,
        twin: None,
        pins_kept_per_page: None,
    });
    c
}

/// A run holding `cells`.
pub fn results(cells: Vec<Cell>) -> Results {
    Results {
        schema_version: SCHEMA_VERSION,
        partial: false,
        metadata: Metadata {
            host: "h".into(),
            kernel: "6.18".into(),
            cpu_model: "cpu".into(),
            cores: 2,
            numa_nodes: vec![NumaNode {
                id: 0,
                cpus: vec![0, 1],
            }],
            numa_distance: vec![vec![10]],
            llc_bytes: Some(1),
            mem_available_bytes: Some(1),
            thp: Thp {
                enabled: Some("madvise".into()),
                defrag: Some("madvise".into()),
            },
            pinbench_version: "0".into(),
            git_commit: "x".into(),
            command_line: vec!["pinbench".into()],
            start_time: "2025-01-01T00:00:00Z".into(),
            duration_s: 1.0,
            emulated: None,
            debug_build: false,
            kernel_version: Some("#1 SMP PREEMPT_DYNAMIC".into()),
        },
        config: Config {
            quick: true,
            schemes: vec![],
            workloads: vec![],
            threads: vec![1, 2],
            pages_per_call: 512,
            mib: 128,
            pages_per_thread: 32768,
            cold: false,
            pairs: 5,
            warmup: 1,
            slice_ms: 2,
            visits: 4,
            revisits: 2,
            numa: vec!["local".into()],
            has_pinned_write: Some("test-then-set".into()),
            vmstat_threshold: Default::default(),
            failslab: None,
            on_alloc_fail: None,
        },
        notes: vec![],
        fingerprint: Some(Fingerprint {
            start: Estimate {
                median: 1.15,
                ci_low: 1.14,
                ci_high: 1.16,
                n: 20,
            },
            end: None,
            loads_start: None,
            loads_end: None,
        }),
        quiet_floor_ns: crate::Yardsticks::of(&cells).quiet_floor,
        quiet_probe_ns: vec![ProbeNs {
            threads: 1,
            ns: 3100.0,
        }],
        quiet_throughput_ns: vec![],
        contention_probe_ns: vec![],
        handoff_probe_ns: vec![],
        cells,
        effects: None,
    }
}
