//! Reports from synthetic results: what a real run cannot give on a 2-core,
//! one-node machine (remote memmap, other hosts, kernel cells, hostile
//! metadata), checked for the properties a mailing list needs.

use pin_reports::{plots::font, report, File, Run};
use pin_results::{sample, Cell, NumaNode, Results};

fn cell(scheme: &str, threads: usize, placement: &str, ns: f64) -> Cell {
    let mut c = sample::cell(scheme, "private", threads, ns, 1e9 / ns * threads as f64);
    c.numa.placement = placement.into();
    if placement == "remote" {
        c.numa.memmap_node = 1;
    }
    c
}

/// Two nodes, both placements, 1 and 2 threads, three schemes.
fn two_nodes() -> Results {
    let mut cells = vec![];
    for placement in ["local", "remote"] {
        let slow = if placement == "remote" { 1.6 } else { 1.0 };
        for t in [1, 2] {
            cells.push(cell("bias", t, placement, 9.0 * slow));
            cells.push(cell("plain", t, placement, 10.0 * slow));
            cells.push(cell("exact", t, placement, 19.0 * slow));
        }
    }
    let mut r = sample::results(cells);
    r.metadata.numa_nodes.push(NumaNode {
        id: 1,
        cpus: vec![2, 3],
    });
    r
}

fn runs(inputs: Vec<Results>) -> Vec<Run> {
    Run::label_all(
        inputs
            .into_iter()
            .enumerate()
            .map(|(i, r)| (format!("run{i}.json"), r))
            .collect(),
    )
}

fn files(runs: &[Run]) -> Vec<File> {
    font::load(None).expect("a TrueType font (fonts-dejavu-core)");
    report(runs).expect("report")
}

fn text<'a>(files: &'a [File], name: &str) -> &'a str {
    let f = files
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no {name}"));
    std::str::from_utf8(&f.bytes).expect("utf-8")
}

fn assert_mailable(txt: &str) {
    for (i, line) in txt.lines().enumerate() {
        assert!(
            line.len() <= 80,
            "line {} is {} columns: {line}",
            i + 1,
            line.len()
        );
        assert!(
            line.bytes().all(|b| (b' '..=b'~').contains(&b)),
            "line {} is not printable ASCII: {line:?}",
            i + 1
        );
    }
}

#[test]
fn local_and_remote_give_a_numa_table_and_plot() {
    let files = files(&runs(vec![two_nodes()]));
    for ext in ["svg", "png"] {
        let name = format!("numa-private.{ext}");
        assert!(files.iter().any(|f| f.name == name), "no {name}");
    }
    let txt = text(&files, "report.txt");
    assert_mailable(txt);
    let numa = txt
        .split("== NUMA")
        .nth(1)
        .expect("a NUMA section in report.txt");
    // 2 threads (the most with both), remote 1.6x local.
    assert!(numa.contains("private, 2 threads"), "{numa}");
    let exact = numa
        .lines()
        .find(|l| l.starts_with("exact"))
        .expect("exact row");
    assert_eq!(
        exact.split_whitespace().collect::<Vec<_>>(),
        ["exact", "19.00", "30.40", "1.60"]
    );
    let md = text(&files, "report.md");
    assert!(md.contains("![NUMA: private at 2 threads"), "{md}");
    assert!(md.contains("(numa-private.png)"), "{md}");
}

#[test]
fn a_one_node_run_has_no_numa_plot() {
    let one = sample::results(vec![
        cell("bias", 1, "local", 9.0),
        cell("plain", 1, "local", 10.0),
    ]);
    let files = files(&runs(vec![one]));
    assert!(!files.iter().any(|f| f.name.starts_with("numa")));
    assert!(!text(&files, "report.txt").contains("== NUMA"));
}

/// Everything a results file may hold that a mail must not: non-ASCII,
/// tabs, long names, many thread counts, kernel cells, an emulator.
fn hostile() -> Results {
    let mut cells = vec![];
    for t in 1..=12 {
        cells.push(cell("bias", t, "local", 9.0));
        cells.push(cell("side-tree-sharded", t, "local", 123456.789));
        let mut k = sample::kernel_cell("io-uring", "register-buffers", t, 55.5, 1e7);
        k.noisy = t % 2 == 0;
        k.cpu_share = Some(if t % 3 == 0 { 0.5 } else { 1.0 });
        k.busy = t == 1;
        if t == 2 {
            // Measured with a solo slice, too few of them quiet.
            k.scaling = None;
            k.scaling_withheld = true;
            k.pairs.solo_pages_per_sec = Some(vec![1e7; k.pairs.pages_per_sec.len()]);
        }
        cells.push(k);
    }
    let mut r = sample::results(cells);
    r.metadata.host = "h\u{f6}st-with-a-very-long-name.example.org".repeat(3);
    r.metadata.cpu_model = "Intel\u{ae} Xeon\u{ae}\tPlatinum 8480+ @ 2.0GHz".into();
    r.metadata.command_line = vec![
        "pinbench".into(),
        "run".into(),
        "-o".into(),
        format!("/very/long/path/{}/r.json", "x".repeat(120)),
        "--schemes\tplain".into(),
    ];
    r.metadata.emulated = Some("qemu-tcg".into());
    r.notes = vec!["a note with \u{2014} a dash and a\ttab ".repeat(5)];
    r
}

#[test]
fn report_txt_is_ascii_within_80_columns_whatever_the_input() {
    let files = files(&runs(vec![hostile(), two_nodes()]));
    let txt = text(&files, "report.txt");
    assert_mailable(txt);
    assert!(!txt.contains('\t'));
    // Emulated runs are labelled loudly, before anything else.
    let head: String = txt.lines().take(6).collect::<Vec<_>>().join("\n");
    assert!(head.contains("!!! EMULATED RUN [A] (qemu-tcg)"), "{head}");
    assert!(txt.contains("NOT performance evidence"), "{txt}");
    // Kernel cells have their own section, labelled by backend; marks are
    // explained.
    assert!(txt.contains("register-buffers [io-uring]"), "{txt}");
    assert!(txt.contains("^ wide:"), "{txt}");
    assert!(txt.contains("! disturbed:"), "{txt}");
    assert!(txt.contains("# busy:"), "{txt}");
    assert!(txt.contains("x 1T busy: fewer than 8 rounds"), "{txt}");
    let withheld = txt
        .lines()
        .filter(|l| l.contains("register-buffers [io-uring]") && l.trim_end().ends_with("busy"))
        .count();
    assert!(withheld >= 1, "the 2-thread cell's x 1T reads busy: {txt}");
    assert!(txt.contains("12 threads"), "{txt}");
    let svg = text(&files, "throughput-private-A.svg");
    assert!(svg.contains("register-buffers [io-uring]"), "legend");
    assert!(svg.contains("EMULATED (qemu-tcg)"), "plot warning");
}

#[test]
fn several_runs_sit_side_by_side_in_one_report() {
    let mut b = two_nodes();
    b.metadata.host = "other".into();
    b.metadata.kernel = "6.12".into();
    let files = files(&runs(vec![two_nodes(), b]));
    let txt = text(&files, "report.txt");
    assert!(
        txt.contains("[A]\n  file:     run0.json\n  host:     h\n"),
        "{txt}"
    );
    assert!(
        txt.contains("[B]\n  file:     run1.json\n  host:     other\n"),
        "{txt}"
    );
    assert!(txt.contains("kernel:   6.12"), "{txt}");
    // report.txt: each run's model at a glance; report.md: one table per
    // workload with both runs' columns in it.
    assert!(txt.contains("== [A] x floor at a glance"), "{txt}");
    assert!(txt.contains("== [B] x floor at a glance"), "{txt}");
    let md = text(&files, "report.md");
    let private = md.split("## private").nth(1).expect("private table");
    let private = private.split("\n## ").next().unwrap_or(private);
    assert!(private.contains("\\[A\\] 1 thread local"), "{private}");
    assert!(private.contains("\\[B\\] 1 thread local"), "{private}");
    assert_eq!(md.matches("## private").count(), 1, "{md}");
    // Each run's plots, named by its label.
    for name in ["throughput-private-A.png", "throughput-private-B.png"] {
        assert!(files.iter().any(|f| f.name == name), "no {name}");
    }
    assert!(md.contains("| host | h | other |"), "{md}");
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let inputs = || runs(vec![two_nodes(), hostile()]);
    let a = files(&inputs());
    let b = files(&inputs());
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.name, y.name);
        assert!(x.bytes == y.bytes, "{} differs between two renders", x.name);
    }
}

#[test]
fn a_kernel_run_of_the_same_machine_has_its_own_section_beside_the_model() {
    let model = sample::results(vec![cell("plain", 1, "local", 10.0)]);
    let kernel = sample::results(vec![sample::kernel_cell(
        "io-uring",
        "register-buffers",
        1,
        90.0,
        1.1e7,
    )]);
    let files = files(&runs(vec![model, kernel]));
    let txt = text(&files, "report.txt");
    let glance = txt
        .split("== x floor at a glance")
        .nth(1)
        .and_then(|t| t.split("\n== ").next())
        .expect("the model at a glance");
    assert!(glance.contains("plain"), "{glance}");
    assert!(!glance.contains("io-uring"), "kernel rows apart: {glance}");
    let kernel = txt
        .split("== Kernel paths: private")
        .nth(1)
        .expect("the kernel's own section");
    // One set of columns; the kernel path's x floor is its own paired one
    // (sample floor 10 ns).
    assert!(!kernel.contains("[A"), "{kernel}");
    let row = kernel
        .lines()
        .find(|l| l.starts_with("register-buffers [io-uring]"))
        .expect("kernel row");
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        [
            "register-buffers",
            "[io-uring]",
            "90.00",
            "9.00+-0.09",
            "11.00"
        ]
    );
    let svg = text(&files, "throughput-private.svg");
    assert!(svg.contains("plain") && svg.contains("register-buffers [io-uring]"));
}
