//! `cargo bench`: criterion benchmarks of every scheme's hot paths, each
//! read against the hardware floor measured in the same run.
//!
//! | bench | one iteration | throughput |
//! |---|---|---|
//! | `floor/<pages_per_call>` | `fetch_add`, then `fetch_sub`, on `_refcount` of each page of one call | pages |
//! | `pin_unpin/<scheme>/<pages_per_call>` | `pin_pages(GupPath::Fast)`, then `unpin_pages`, of one call | pages |
//! | `maybe_dma_pinned/<scheme>` | one query; every other page is pinned | pages |
//! | `get_put/<scheme>` | `get` then `put` of one page (FOLL_GET) | pages |
//! | `pin_huge/<scheme>` | pin, then unpin, all 512 pages of a 2 MiB folio | pages |
//! | `contended/<scheme>/<threads>` | each thread pins and unpins the same page | pages, all threads |
//!
//! `floor` is the least any scheme can do: one locked read-modify-write per
//! page each way, on the same `struct page` words, in the same calls. A
//! scheme's cost is read as its ratio to `floor` at the same pages per
//! call, which the run prints last (`ratios.rs`); absolute times on a
//! shared machine mean little, ratios measured minutes apart mean more.
//!
//! Schemes come only from `pin_schemes::SCHEMES` and are called through
//! `&dyn Gup`: one indirect call per batch; the per-page walk inside
//! it is statically dispatched, so `pin_unpin/<scheme>/512` is the scheme's
//! own cost per page.
//!
//! Budget: with 2 CPUs, 51 benches at 0.5 s warm-up + 2 s measurement each,
//! plus analysis, take about 3 minutes (the issue allows 10).
//! `cargo bench -- --test` runs each once. Set `PINBENCH_MEASUREMENT` to
//! `instructions` to count instructions instead of time (`measurement.rs`).

mod fixture;
mod measurement;
mod ratios;

use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};
use fixture::{Calls, Fixture, NR_SMALL_PAGES, PAGES_PER_CALL};
use measurement::PinMeasurement;
use pin_schemes::{GupPath, Pfn, SCHEMES};
use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, SystemTime};

type Bench = Criterion<PinMeasurement>;

/// What a failed pin in a bench would mean: the bench, not the scheme, is
/// wrong (every page is live and far below its pin limit).
const PIN: &str = "a live page far below its pin limit accepts a pin";
const UNPIN: &str = "a page this bench pinned unpins";

/// `floor/<pages_per_call>`: the bare `fetch_add`/`fetch_sub` on the same
/// `_refcount` words, with the orderings a pin and an unpin use.
fn floor(c: &mut Bench) {
    let mut group = c.benchmark_group("floor");
    for pages_per_call in PAGES_PER_CALL {
        let fixture = Fixture::new();
        let pages = fixture.memmap.pages();
        let mut calls = Calls::new(pages_per_call);
        group.throughput(Throughput::Elements(pages_per_call as u64));
        group.bench_function(BenchmarkId::from_parameter(pages_per_call), |b| {
            b.iter(|| {
                let pfns = black_box(calls.next_call());
                for pfn in pfns {
                    // AcqRel: what a pin's add uses (pin_schemes::page).
                    pages[pfn.0]._refcount.fetch_add(1, Ordering::AcqRel);
                }
                for pfn in pfns {
                    // Release: what an unpin's drop uses.
                    pages[pfn.0]._refcount.fetch_sub(1, Ordering::Release);
                }
            })
        });
    }
    group.finish();
}

/// `pin_unpin/<scheme>/<pages_per_call>`: `pin_user_pages_fast()` then
/// `unpin_user_pages()` of one call's pages.
fn pin_unpin(c: &mut Bench) {
    let mut group = c.benchmark_group("pin_unpin");
    for info in SCHEMES {
        for pages_per_call in PAGES_PER_CALL {
            let fixture = Fixture::new();
            let scheme = fixture.scheme(info);
            let mut calls = Calls::new(pages_per_call);
            group.throughput(Throughput::Elements(pages_per_call as u64));
            group.bench_function(BenchmarkId::new(info.name, pages_per_call), |b| {
                b.iter(|| {
                    let pfns = black_box(calls.next_call());
                    scheme.pin_pages(pfns, GupPath::Fast).expect(PIN);
                    scheme.unpin_pages(pfns).expect(UNPIN);
                })
            });
        }
    }
    group.finish();
}

/// `maybe_dma_pinned/<scheme>`: the query reclaim and writeback make, page
/// after page, over pages of which every other one is pinned.
fn maybe_dma_pinned(c: &mut Bench) {
    let mut group = c.benchmark_group("maybe_dma_pinned");
    group.throughput(Throughput::Elements(1));
    for info in SCHEMES {
        let fixture = Fixture::new();
        let scheme = fixture.scheme(info);
        let every_other: Vec<Pfn> = (0..NR_SMALL_PAGES).step_by(2).map(Pfn).collect();
        scheme.pin_pages(&every_other, GupPath::Fast).expect(PIN);
        let mut calls = Calls::new(1);
        group.bench_function(info.name, |b| {
            b.iter(|| scheme.maybe_dma_pinned(black_box(calls.next_call()[0])))
        });
    }
    group.finish();
}

/// `get_put/<scheme>`: what an ordinary reference costs next to the scheme.
fn get_put(c: &mut Bench) {
    let mut group = c.benchmark_group("get_put");
    group.throughput(Throughput::Elements(1));
    for info in SCHEMES {
        let fixture = Fixture::new();
        let scheme = fixture.scheme(info);
        let mut calls = Calls::new(1);
        group.bench_function(info.name, |b| {
            b.iter(|| {
                let pfn = black_box(calls.next_call()[0]);
                scheme.get(pfn).expect("a live page takes a reference");
                scheme.put(pfn).expect("a page this bench got puts");
            })
        });
    }
    group.finish();
}

/// `pin_huge/<scheme>`: pin then unpin every page of one 2 MiB folio, as
/// gup hands a THP-backed buffer over (one grab of 512 refs).
fn pin_huge(c: &mut Bench) {
    let mut group = c.benchmark_group("pin_huge");
    for info in SCHEMES {
        let fixture = Fixture::new();
        let scheme = fixture.scheme(info);
        let pfns = fixture.thp_pfns();
        group.throughput(Throughput::Elements(pfns.len() as u64));
        group.bench_function(info.name, |b| {
            b.iter(|| {
                let pfns = black_box(pfns.as_slice());
                scheme.pin_pages(pfns, GupPath::Fast).expect(PIN);
                scheme.unpin_pages(pfns).expect(UNPIN);
            })
        });
    }
    group.finish();
}

/// Threads for `contended`: 1 (the same loop uncontended), then doubling up
/// to the CPUs available (at least 2). More threads than CPUs would measure
/// preempted lock holders, not the cache line.
fn thread_counts() -> Vec<usize> {
    let cpus = thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    std::iter::successors(Some(1), |&n| Some(n * 2))
        .take_while(|&n| n <= cpus)
        .collect()
}

/// `contended/<scheme>/<threads>`: every thread pins and unpins the same hot
/// page (one buffer, many I/O threads). Threads are spawned before the
/// measured part and released together by a barrier; each measures its own
/// loop and `across_threads` combines them.
fn contended(c: &mut Bench, measurement: PinMeasurement) {
    let mut group = c.benchmark_group("contended");
    let hot = Pfn(0);
    for info in SCHEMES {
        for threads in thread_counts() {
            let fixture = Fixture::new();
            let scheme = fixture.scheme(info);
            let scheme = scheme.as_ref();
            group.throughput(Throughput::Elements(threads as u64));
            group.bench_function(BenchmarkId::new(info.name, threads), |b| {
                b.iter_custom(|iters| {
                    let go = Barrier::new(threads);
                    thread::scope(|s| {
                        let workers: Vec<_> = (0..threads)
                            .map(|_| {
                                s.spawn(|| {
                                    go.wait();
                                    let started = measurement.start();
                                    for _ in 0..iters {
                                        scheme.pin(black_box(hot), GupPath::Fast).expect(PIN);
                                        scheme.unpin(hot).expect(UNPIN);
                                    }
                                    measurement.end(started)
                                })
                            })
                            .collect();
                        measurement.across_threads(
                            workers
                                .into_iter()
                                .map(|w| w.join().expect("a pinning thread panicked")),
                        )
                    })
                })
            });
        }
    }
    group.finish();
}

fn main() {
    let measurement = PinMeasurement::from_env();
    let run_started = SystemTime::now();
    // Short runs: 51 benches must finish well inside 10 minutes on 2 CPUs.
    // A 5% noise threshold: the machine is shared, smaller changes are noise.
    let mut c = Criterion::default()
        .with_measurement(measurement)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .nresamples(20_000)
        .noise_threshold(0.05)
        .configure_from_args();
    floor(&mut c);
    pin_unpin(&mut c);
    maybe_dma_pinned(&mut c);
    get_put(&mut c);
    pin_huge(&mut c);
    contended(&mut c, measurement);
    c.final_summary();
    ratios::print(run_started, measurement.unit());
}
