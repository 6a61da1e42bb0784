//! `pinbench kernel`: the running kernel's own pin/unpin paths, measured
//! with the model's runner and recorded in the same results file, with the
//! kernel's FOLL_PIN counters as proof that pins were taken and released.
//! `--probe` prints what this machine offers instead.

use super::sweep_args::SweepArgs;
use crate::harness::session::{Record, Session};
use crate::kernel::cell::{run_kernel_cell, KernelSpec, MakePath};
use crate::kernel::io_uring::raise_memlock;
use crate::kernel::plan::{self, Job, Options};
use crate::kernel::{hugetlb_pool, probe};
use crate::machine::{host, Machine};
use crate::metrics::counters;
use clap::Args;
use std::path::Path;
use std::process::ExitCode;

/// `pinbench kernel`.
#[derive(Args, Debug)]
pub struct KernelArgs {
    /// Print what this machine offers for measuring its kernel (gup_test,
    /// the pin_shim module, io_uring, memlock, THP, perf, NUMA) and exit.
    #[arg(long)]
    pub probe: bool,
    /// Backends, comma-separated: gup-test, shim, io-uring, process-vm,
    /// direct-io (default: every one this machine offers).
    #[arg(long, value_delimiter = ',')]
    pub backend: Option<Vec<String>>,
    #[command(flatten)]
    pub sweep: SweepArgs,
    /// Buffer per thread, MiB, like gup_test's -m.
    #[arg(short = 'm', long, default_value_t = 64)]
    pub mib: u64,
    /// Buffer backing, comma-separated: off (4 KiB pages), on (THP),
    /// hugetlb (2 MiB hugetlb pages, the pool grown for the run and put
    /// back after; skipped with a note where it cannot be had), hugetlb-1g.
    #[arg(long, value_delimiter = ',', default_value = "off,on,hugetlb")]
    pub thp: Vec<String>,
    /// Pin for writing (FOLL_WRITE), like gup_test's -w.
    #[arg(short = 'w', long)]
    pub write: bool,
    /// Put the buffers on this NUMA node (mbind), instead of --numa.
    #[arg(long)]
    pub buffer_node: Option<u32>,
    /// Also measure what pins do to the rest of the kernel: which mappings
    /// it lets be pinned long-term and short-term, what a pinned buffer
    /// (4 KiB pages: -m/4, -m/2 and -m MiB; THP: -m MiB) costs fork(), and
    /// what MADV_COLLAPSE makes of a pinned range; recorded as `effects`.
    #[arg(long, conflicts_with = "probe")]
    pub effects: bool,
    /// A file or block device the direct-io backend reads with O_DIRECT
    /// (read only; default: a scratch file of the buffer's size beside the
    /// results file, removed at once). A memory-backed device (brd,
    /// null_blk) keeps the device's own time small.
    #[arg(long)]
    pub dio_file: Option<std::path::PathBuf>,
}

/// The directory of the results file (`.` for `-o -` or none).
fn scratch_dir(output: Option<&std::path::Path>) -> std::path::PathBuf {
    match output.and_then(std::path::Path::parent) {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

/// `pinbench kernel …`.
pub fn kernel(args: KernelArgs) -> anyhow::Result<ExitCode> {
    if args.probe {
        super::input::print(&probe_table())?;
        return Ok(ExitCode::SUCCESS);
    }
    measure(args)
}

fn probe_table() -> String {
    let roots = probe::Roots::default();
    let release = host::kernel_release();
    let avail = counters::probe();
    let perf = match (&avail.hardware, &avail.software) {
        (Ok(()), _) => probe::Row {
            what: "perf counters",
            found: "hardware and software".into(),
            ok: true,
            fix: String::new(),
        },
        (Err(e), Ok(())) => probe::Row {
            what: "perf counters",
            found: format!("software only (hardware: {e})"),
            ok: false,
            fix: "cycles/instructions need a bare-metal host or a VM with a vPMU".into(),
        },
        (Err(e), Err(_)) => probe::Row {
            what: "perf counters",
            found: format!("none ({e})"),
            ok: false,
            fix: "sysctl kernel.perf_event_paranoid=1".into(),
        },
    };
    let rows = vec![
        probe::gup_test(&roots, &release),
        probe::shim(&roots),
        probe::twins(&roots, shim_info),
        probe::io_uring(&roots, || io_uring::IoUring::new(2).map(|_| ())),
        probe::memlock(&roots, raise_memlock()),
        probe::thp(&roots),
        probe::hugetlb(&roots, {
            let place = hugetlb_pool::Place::system();
            let mut l = hugetlb_pool::repair(&place);
            l.extend(hugetlb_pool::holders(&place));
            l
        }),
        probe::direct_io(&roots),
        probe::foll_pin_counters(&roots),
        perf,
        probe::numa(&roots),
    ];
    probe::render(&release, &rows)
}

/// The loaded module's ABI version and number of twins.
fn shim_info() -> std::io::Result<(u32, u32)> {
    use crate::kernel::device::{Device, FileDevice};
    use crate::kernel::shim_abi::{PinShimInfo, PIN_SHIM_INFO, PIN_SHIM_PATH};
    let mut dev = FileDevice::open(std::path::Path::new(PIN_SHIM_PATH))?;
    let mut info = PinShimInfo::default();
    dev.ioctl(PIN_SHIM_INFO, (&mut info as *mut PinShimInfo).cast())?;
    Ok((info.abi_version, info.nr_twins))
}

fn measure(args: KernelArgs) -> anyhow::Result<ExitCode> {
    let session = Session::begin();
    let machine = Machine::this_host()?;
    let opts = Options {
        sweep: args
            .sweep
            .options(args.buffer_node.map(|n| ("--buffer-node", n))),
        backends: args.backend.clone(),
        thp: args.thp.clone(),
        mib: args.mib,
        pages_per_call: args.sweep.pages_per_call,
        dio: plan::DioSourceOption {
            file: args.dio_file.clone(),
            scratch_dir: scratch_dir(args.sweep.output.as_deref()),
        },
    };
    let dio = opts.dio.source();
    let mut plan = plan::plan(&opts, &machine, plan::missing)?;
    // The destination first: a bad -o changes no pool.
    let mut record = Record::open(
        args.sweep.output.clone(),
        args.sweep.force,
        session.start,
        &machine,
        plan.config.clone(),
    )?;
    let buffer_bytes = plan.buffer_bytes;
    crate::harness::session::at_abort(hugetlb_pool::release_all);
    let _pools = reserve_hugetlb(&mut plan.jobs, buffer_bytes, &mut plan.sweep.notes);
    raise_memlock();
    let avail = counters::probe();
    let mut notes = plan.sweep.notes.clone();
    notes.extend(Session::perf_notes(&avail));
    notes.extend(kernel_notes());
    Session::say(&notes);
    let params = plan.sweep.params(avail);
    let mut checks = Checks::default();
    let measured = session.run_cells(
        &plan.jobs,
        plan.sweep.visits(),
        Job::name,
        |job| {
            let make = |buf| job.path(buf, args.sweep.pages_per_call, args.write, &dio);
            let spec = KernelSpec {
                job,
                buffer_bytes: plan.buffer_bytes,
                pages_per_call: args.sweep.pages_per_call,
                make: &make as &MakePath<'_>,
            };
            let visit = run_kernel_cell(&spec, &params).map_err(|e| e.to_string())?;
            checks.cell(job, &visit.cell);
            Ok(visit)
        },
        &mut notes,
        &mut record,
    );
    notes.extend(checks.notes());
    let mut measured = measured;
    if args.effects && !measured.partial {
        let mib = (args.mib as usize) << 20;
        let fork = crate::kernel::effects::fork::Options {
            // 4 KiB pages at a quarter, half and all of -m, for the cost's
            // slope; THP at -m.
            buffers: vec![
                (mib / 4, false),
                (mib / 2, false),
                (mib, false),
                (mib, true),
            ],
            rounds: if args.sweep.quick { 8 } else { 24 },
        };
        let dir = scratch_dir(args.sweep.output.as_deref());
        let (effects, more) =
            crate::kernel::effects::measure(&dir, &fork, mib / 4, &|| session.stopped());
        Session::say(&more);
        notes.extend(more);
        measured.effects = Some(effects);
        measured.partial |= session.stopped();
    }
    let shares = crate::kernel::direct_io::share_notes(&measured.cells);
    Session::say(&shares);
    notes.extend(shares);
    let code = session.finish(record, notes, measured);
    if !checks.leaks.is_empty() {
        eprintln!(
            "pinbench: {} cell(s) leaked pins: {}",
            checks.leaks.len(),
            checks.leaks.join(", ")
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(code)
}

/// What this kernel lacks for proving pins, and whether it is emulated.
fn kernel_notes() -> Vec<String> {
    let mut notes = Vec::new();
    if crate::kernel::vmstat::read(Path::new(crate::kernel::vmstat::PROC_VMSTAT))
        .ok()
        .flatten()
        .is_none()
    {
        notes.push(
            "no nr_foll_pin_acquired/released in /proc/vmstat (kernel < 5.7?): pins cannot be proven taken or released"
                .into(),
        );
    }
    if host::emulated().is_some() {
        notes.push("emulated machine (PINBENCH_VM): timings are functional evidence only".into());
    }
    notes
}

/// What the finished cells showed: leaks, paths that did not pin, THP not
/// granted.
#[derive(Default)]
struct Checks {
    leaks: Vec<String>,
    late: Vec<String>,
}

impl Checks {
    fn cell(&mut self, job: &Job, cell: &pin_results::Cell) {
        let Some(k) = &cell.kernel else { return };
        let label = format!("{}/{} {}T", job.backend.name(), job.label, job.threads);
        if k.pins_balanced == Some(false) && k.foreign_pins {
            push_once(
                &mut self.late,
                format!(
                    "{label}: another process pinned or unpinned during the cell (FOLL_PIN \
                     counters moved while pinbench was idle): its counts are disturbed, \
                     not proof of a leak"
                ),
            );
        } else if k.pins_balanced == Some(false) {
            eprintln!(
                "pinbench: LEAK: {label}: the kernel counted {} pins acquired but {} released",
                k.pins_acquired.unwrap_or(0),
                k.pins_released.unwrap_or(0)
            );
            push_once(&mut self.leaks, label.clone());
        }
        if job.expects_pins && k.pins_acquired == Some(0) {
            push_once(
                &mut self.late,
                format!("{label}: the kernel counted no FOLL_PIN pins: this path is not pinning"),
            );
        }
        if job.backing == crate::kernel::backing::Backing::Thp && k.thp_bytes == Some(0) {
            push_once(
                &mut self.late,
                format!("{label}: THP asked for but the kernel backed no buffer with THP"),
            );
        }
    }

    /// The notes to record, each said once now.
    fn notes(&self) -> Vec<String> {
        Session::say(&self.late);
        let leaks = self
            .leaks
            .iter()
            .map(|l| format!("LEAK: {l}: FOLL_PIN pins acquired != released"));
        self.late.iter().cloned().chain(leaks).collect()
    }
}

/// Adds `line` unless a visit before already did.
fn push_once(lines: &mut Vec<String>, line: String) {
    if !lines.contains(&line) {
        lines.push(line);
    }
}

/// Makes available, for every hugetlb backing the jobs use, what their
/// largest cell needs; the jobs of a backing whose pages cannot be had are
/// dropped, with a note saying why. The pools go back to their size when
/// the returned values are dropped.
fn reserve_hugetlb(
    jobs: &mut Vec<crate::kernel::plan::Job>,
    buffer_bytes: usize,
    notes: &mut Vec<String>,
) -> Vec<hugetlb_pool::Pool> {
    let mut needs: Vec<(crate::kernel::backing::Backing, u64)> = vec![];
    for j in jobs.iter() {
        let pages = j.hugetlb_pages(buffer_bytes);
        match needs.iter_mut().find(|(b, _)| *b == j.backing) {
            Some((_, most)) => *most = (*most).max(pages),
            None => needs.push((j.backing, pages)),
        }
    }
    let (pools, refused) = hugetlb_pool::reserve_for(&hugetlb_pool::Place::system(), &needs, notes);
    for (backing, why) in refused {
        jobs.retain(|j| j.backing != backing);
        notes.push(format!("{} cells skipped: {why}", backing.name()));
    }
    pools
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Backend;
    use clap::CommandFactory;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        kernel: KernelArgs,
    }

    #[test]
    fn the_backend_help_names_every_backend() {
        let help = Cli::command().render_long_help().to_string();
        for b in Backend::ALL {
            assert!(help.contains(b.name()), "{}: {help}", b.name());
        }
    }
}
