//! `pinbench kernel`: the running kernel's own pin/unpin paths, measured
//! with the model's runner and recorded in the same results file, with the
//! kernel's FOLL_PIN counters as proof that pins were taken and released.
//! `--probe` prints what this machine offers instead.

use crate::cli::{prepare_output, BadInput, SweepArgs};
use crate::harness::cell::{CellSpec, Subject};
use crate::harness::plan::{self, Machine};
use crate::host;
use crate::kernel::buffer::PAGE;
use crate::kernel::cell::{run_kernel_cell, KernelSpec, MakePath};
use crate::kernel::device::FileDevice;
use crate::kernel::gup_test::{GupTestCmd, GupTestPath};
use crate::kernel::io_uring::{raise_memlock, IoUringPath};
use crate::kernel::process_vm::ProcessVmPath;
use crate::kernel::shim::{ShimMode, ShimPath};
use crate::kernel::shim_abi::{GUP_TEST_PATH, PIN_SHIM_PATH};
use crate::kernel::{probe, Backend, PinPath};
use crate::metrics::counters;
use crate::session::Session;
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
    /// Backends, comma-separated: gup-test, shim, io-uring, process-vm
    /// (default: every one this machine offers).
    #[arg(long, value_delimiter = ',')]
    pub backend: Option<Vec<String>>,
    #[command(flatten)]
    pub sweep: SweepArgs,
    /// Buffer per thread, MiB, like gup_test's -m.
    #[arg(short = 'm', long, default_value_t = 64)]
    pub mib: u64,
    /// Buffer backing, comma-separated: off (4 KiB pages), on (THP).
    #[arg(long, value_delimiter = ',', default_value = "off,on")]
    pub thp: Vec<String>,
    /// Pin for writing (FOLL_WRITE), like gup_test's -w.
    #[arg(short = 'w', long)]
    pub write: bool,
    /// Put the buffers on this NUMA node (mbind), instead of --numa.
    #[arg(long)]
    pub buffer_node: Option<u32>,
}

/// `pinbench kernel …`.
pub fn kernel(args: KernelArgs) -> anyhow::Result<ExitCode> {
    if args.probe {
        print!("{}", probe_table());
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
        probe::io_uring(&roots, || io_uring::IoUring::new(2).map(|_| ())),
        probe::memlock(&roots, raise_memlock()),
        probe::thp(&roots),
        probe::foll_pin_counters(&roots),
        perf,
        probe::numa(&roots),
    ];
    probe::render(&release, &rows)
}

/// The flavours one backend measures: (label, expects FOLL_PIN pins).
fn flavours(b: Backend) -> Vec<(&'static str, bool)> {
    match b {
        Backend::GupTest => GupTestCmd::ALL
            .iter()
            .map(|c| (c.name(), c.pins()))
            .collect(),
        Backend::Shim => ShimMode::ALL.iter().map(|m| (m.name(), m.pins())).collect(),
        Backend::IoUring => vec![("register-buffers", true)],
        Backend::ProcessVm => vec![("readv", true)],
    }
}

/// Why a backend cannot run here, or `None` if it can.
fn missing(b: Backend) -> Option<&'static str> {
    match b {
        Backend::GupTest if !Path::new(GUP_TEST_PATH).exists() => Some(
            "no /sys/kernel/debug/gup_test (see pinbench kernel --probe; load kmod-shims/pin_shim)",
        ),
        Backend::Shim if !Path::new(PIN_SHIM_PATH).exists() => {
            Some("no /dev/pin_shim (load kmod-shims/pin_shim; see pinbench kernel --probe)")
        }
        Backend::IoUring if io_uring::IoUring::new(2).is_err() => {
            Some("io_uring_setup fails here (see pinbench kernel --probe)")
        }
        _ => None,
    }
}

fn measure(args: KernelArgs) -> anyhow::Result<ExitCode> {
    let session = Session::begin();
    let mut notes = Vec::new();
    let backends: Vec<Backend> = match &args.backend {
        Some(list) => {
            let mut out = Vec::new();
            for word in list {
                let b = Backend::parse(word).ok_or_else(|| {
                    BadInput(format!(
                        "--backend '{word}': unknown (known: gup-test, shim, io-uring, process-vm)"
                    ))
                })?;
                if let Some(why) = missing(b) {
                    return Err(BadInput(format!("--backend {word}: {why}")).into());
                }
                out.push(b);
            }
            out
        }
        None => Backend::ALL
            .into_iter()
            .filter(|&b| match missing(b) {
                Some(why) => {
                    notes.push(format!("{} backend skipped: {why}", b.name()));
                    false
                }
                None => true,
            })
            .collect(),
    };
    let thp: Vec<bool> = args
        .thp
        .iter()
        .map(|w| match w.as_str() {
            "off" => Ok(false),
            "on" => Ok(true),
            other => Err(BadInput(format!("--thp '{other}': expected off or on"))),
        })
        .collect::<Result<_, _>>()?;

    let machine = Machine::this_host()?;
    // The model's plan validates threads, nodes, placements and timing the
    // same way for both; its `plain`/`private` cells give the combinations.
    let opts = args.sweep.options(
        Some(vec!["plain".into()]),
        Some(vec!["private".into()]),
        args.mib,
        false,
        args.buffer_node,
    );
    let plan = plan::plan(&opts, &machine)?;
    let buffer_bytes = usize::try_from(args.mib << 20).unwrap_or(usize::MAX);
    let max_threads = plan.config.threads.iter().copied().max().unwrap_or(1) as u64;
    if let Some(avail) = machine.mem_available {
        if max_threads * (args.mib << 20) > avail / 2 {
            return Err(BadInput(format!(
                "-m/--mib {}: {} threads' buffers need {} MiB, more than half of MemAvailable ({} MiB)",
                args.mib,
                max_threads,
                max_threads * args.mib,
                avail >> 20
            ))
            .into());
        }
    }
    let (dest, tmp) = prepare_output(args.sweep.output.clone(), session.start)?;
    raise_memlock();

    struct Job {
        cell: CellSpec,
        backend: Backend,
        flavour: usize,
        thp: bool,
        expects_pins: bool,
        buffer_node: Option<u32>,
    }
    let mut jobs = Vec::new();
    for base in plan
        .cells
        .iter()
        .filter(|c| matches!(c.subject, Subject::Scheme(_)))
    {
        for &b in &backends {
            for (flavour, (label, expects_pins)) in flavours(b).into_iter().enumerate() {
                for &t in &thp {
                    let mut cell = base.clone();
                    cell.subject = Subject::Kernel(label);
                    jobs.push(Job {
                        cell,
                        backend: b,
                        flavour,
                        thp: t,
                        expects_pins,
                        buffer_node: (args.buffer_node.is_some() || args.sweep.numa.is_some())
                            .then_some(base.numa.memmap_node),
                    });
                }
            }
        }
    }

    let avail = counters::probe();
    notes.extend(plan.notes.iter().cloned());
    notes.extend(Session::perf_notes(&avail));
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
    Session::say(&notes);
    let params = plan.params(avail);
    let ppc = args.sweep.pages_per_call;
    let write = args.write;
    let mut leaks = Vec::new();
    let mut late_notes = Vec::new();
    let measured = session.run_cells(
        &jobs,
        |j| {
            format!(
                "{}/{} thp={} {}T {}",
                j.backend.name(),
                j.cell.subject.name(),
                if j.thp { "on" } else { "off" },
                j.cell.threads,
                j.cell.numa.placement
            )
        },
        |j| {
            let (b, flavour, thp) = (j.backend, j.flavour, j.thp);
            let make = move |buf: crate::kernel::buffer::UserBuffer| -> std::io::Result<Box<dyn PinPath>> {
                Ok(match b {
                    Backend::GupTest => Box::new(GupTestPath::new(
                        FileDevice::open(Path::new(GUP_TEST_PATH))?,
                        GupTestCmd::ALL[flavour],
                        buf,
                        ppc,
                        write,
                    )),
                    Backend::Shim => Box::new(ShimPath::new(
                        FileDevice::open(Path::new(PIN_SHIM_PATH))?,
                        ShimMode::ALL[flavour],
                        buf,
                        ppc,
                        write,
                    )),
                    Backend::IoUring => Box::new(IoUringPath::new(buf, ppc)?),
                    Backend::ProcessVm => {
                        let bytes = buf.bytes();
                        drop(buf);
                        Box::new(ProcessVmPath::new(bytes, thp, ppc)?)
                    }
                })
            };
            let spec = KernelSpec {
                cell: j.cell.clone(),
                backend: b.name(),
                buffer_bytes,
                thp,
                expects_pins: j.expects_pins,
                buffer_node: j.buffer_node,
                make: &make as &MakePath<'_>,
            };
            let cell = run_kernel_cell(&spec, &params).map_err(|e| e.to_string())?;
            if let Some(k) = &cell.kernel {
                let label = format!("{}/{} {}T", b.name(), cell.subject, cell.threads);
                if k.pins_balanced == Some(false) {
                    eprintln!(
                        "pinbench: LEAK: {label}: the kernel counted {} pins acquired but {} released",
                        k.pins_acquired.unwrap_or(0),
                        k.pins_released.unwrap_or(0)
                    );
                    leaks.push(label.clone());
                }
                if j.expects_pins && k.pins_acquired == Some(0) {
                    late_notes.push(format!(
                        "{label}: the kernel counted no FOLL_PIN pins: this path is not pinning"
                    ));
                }
                if thp && k.thp_bytes == Some(0) {
                    late_notes.push(format!(
                        "{label}: THP asked for but the kernel backed no buffer with THP"
                    ));
                }
            }
            Ok(cell)
        },
        &mut notes,
    );
    for n in &late_notes {
        eprintln!("pinbench: {n}");
    }
    notes.extend(late_notes);
    for l in &leaks {
        notes.push(format!("LEAK: {l}: FOLL_PIN pins acquired != released"));
    }
    let mut config = plan.config.clone();
    config.schemes = backends.iter().map(|b| b.name().to_string()).collect();
    config.mib = args.mib;
    config.pages_per_thread = buffer_bytes / PAGE;
    let code = session.finish(
        &machine.topology,
        machine.mem_available,
        config,
        notes,
        measured,
        &dest,
        tmp,
    )?;
    if !leaks.is_empty() {
        eprintln!(
            "pinbench: {} cell(s) leaked pins: {}",
            leaks.len(),
            leaks.join(", ")
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(code)
}
