/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The whole user/kernel ABI of the pin_shim module.
 *
 * Included by the module, by the test programs in kmod-shims/tests/ and
 * mirrored field by field in src/kernel/shim_abi.rs (whose tests compile
 * this header and compare sizes, offsets and request numbers).
 *
 * Two files, two ABIs:
 *
 * /sys/kernel/debug/gup_test: the kernel's own gup_test ABI (mm/gup_test.h,
 *   CONFIG_GUP_TEST), created only when the running kernel has none, so that
 *   tools/testing/selftests/mm/gup_test and pinbench's gup-test backend run
 *   unchanged. Same request numbers, same struct gup_test layout.
 *
 * /dev/pin_shim: pinbench's batch ioctl. One call pins (or gets) a range in
 *   runs of nr_pages_per_call pages, then unpins (or puts) it, @iterations
 *   times, and reports the time spent inside the kernel's gup calls, so the
 *   syscall cost is amortised and the per-call extremes are visible.
 *
 * Every field is checked: a call that fails returns -EINVAL, -EFAULT,
 * -ENOMEM, -ENOSPC or -EINTR (or the error gup itself gave) and leaves
 * nothing pinned. Unknown requests are -ENOTTY on /dev/pin_shim and
 * -EINVAL on gup_test, as upstream.
 */
#ifndef _PIN_SHIM_ABI_H
#define _PIN_SHIM_ABI_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* ---- /sys/kernel/debug/gup_test: the upstream ABI, unchanged ---------- */

#define GUP_FAST_BENCHMARK	_IOWR('g', 1, struct gup_test)
#define PIN_FAST_BENCHMARK	_IOWR('g', 2, struct gup_test)
#define PIN_LONGTERM_BENCHMARK	_IOWR('g', 3, struct gup_test)
#define GUP_BASIC_TEST		_IOWR('g', 4, struct gup_test)
#define PIN_BASIC_TEST		_IOWR('g', 5, struct gup_test)
#define DUMP_USER_PAGES_TEST	_IOWR('g', 6, struct gup_test)
#define PIN_LONGTERM_TEST_START	_IOW('g', 7, struct pin_longterm_test)
#define PIN_LONGTERM_TEST_STOP	_IO('g', 8)
#define PIN_LONGTERM_TEST_READ	_IOW('g', 9, __u64)

#define GUP_TEST_MAX_PAGES_TO_DUMP	8

/* DUMP_USER_PAGES_TEST: take the pages with FOLL_PIN rather than FOLL_GET */
#define GUP_TEST_FLAG_DUMP_PAGES_USE_PIN	0x1

/*
 * The benchmarks get (or pin) [addr, addr + size) in calls of
 * nr_pages_per_call pages, then put (or unpin) all of it, and return the two
 * durations in microseconds. As upstream, a range that cannot be taken whole
 * is not an error: size comes back as the bytes that were taken.
 *
 * gup_flags are the running kernel's FOLL_* values; the shim accepts
 * FOLL_WRITE, and FOLL_LONGTERM with the PIN_* commands only (the selftest
 * binary sends 0x2 when run with -z, which run_vmtests.sh never does:
 * FOLL_TOUCH in 6.1, FOLL_GET in 6.12, where upstream WARNs; the shim
 * refuses it with -EINVAL). It also wants addr and size page aligned, size
 * within 1..PIN_SHIM_MAX_PAGES pages, and nr_pages_per_call non-zero; a
 * nr_pages_per_call beyond the range is cut to it, as upstream does
 * (`gup_test -n -1`).
 */
struct gup_test {
	__u64 get_delta_usec;	/* out */
	__u64 put_delta_usec;	/* out */
	__u64 addr;		/* in: page aligned */
	__u64 size;		/* in: bytes, page aligned; out: bytes taken */
	__u32 nr_pages_per_call;
	__u32 gup_flags;
	__u32 test_flags;	/* GUP_TEST_FLAG_* */
	/*
	 * DUMP_USER_PAGES_TEST: pages to dump_page(), numbered from 1 at
	 * addr; 0 means none. Out-of-range entries come back as 0.
	 */
	__u32 which_pages[GUP_TEST_MAX_PAGES_TO_DUMP];
};

#define PIN_LONGTERM_TEST_FLAG_USE_WRITE	1
#define PIN_LONGTERM_TEST_FLAG_USE_FAST		2

/*
 * PIN_LONGTERM_TEST_START pins [addr, addr + size) FOLL_LONGTERM until
 * PIN_LONGTERM_TEST_STOP or close; PIN_LONGTERM_TEST_READ copies the pinned
 * pages' contents to the user address it is given. One range per open file.
 */
struct pin_longterm_test {
	__u64 addr;
	__u64 size;
	__u32 flags;		/* PIN_LONGTERM_TEST_FLAG_* */
};

/* ---- /dev/pin_shim: pinbench's batch ABI ------------------------------ */

/*
 * Version 2 added the twins (PIN_SHIM_TWIN_*: the batch's and the hold's
 * former reserved words, batch nr_alloc_failures in the first former
 * reserved2 word, info nr_twins), PIN_SHIM_LOOKUP and PIN_SHIM_TWIN_STATS.
 * Sizes and offsets did not change: a version 1 caller, which zeroes the
 * reserved words, gets version 1 behaviour (the kernel's own gup).
 */
#define PIN_SHIM_ABI_VERSION	2
#define PIN_SHIM_IOC_MAGIC	0xB6

#define PIN_SHIM_INFO		_IOR(PIN_SHIM_IOC_MAGIC, 0, struct pin_shim_info)
#define PIN_SHIM_BATCH		_IOWR(PIN_SHIM_IOC_MAGIC, 1, struct pin_shim_batch)
#define PIN_SHIM_HOLD		_IOWR(PIN_SHIM_IOC_MAGIC, 2, struct pin_shim_hold)
#define PIN_SHIM_UNHOLD		_IO(PIN_SHIM_IOC_MAGIC, 3)
#define PIN_SHIM_LOOKUP		_IOWR(PIN_SHIM_IOC_MAGIC, 4, struct pin_shim_lookup)
#define PIN_SHIM_TWIN_STATS	_IOWR(PIN_SHIM_IOC_MAGIC, 5, struct pin_shim_twin_stats)

/*
 * Twins: the alternative pin-tracking designs built in the kernel, each set
 * against its model in pin-schemes. A twin takes pages with the kernel's own
 * FOLL_GET (get_user_pages{,_fast}(): the reference a pin holds anyway) and
 * records the pin in its own structure; its unpin removes the record, then
 * puts the page. So a twin wants a mode without PIN_SHIM_MODE_PIN (and so
 * without LONGTERM): anything else is -EINVAL.
 *
 * NONE     the kernel's own FOLL_GET or FOLL_PIN, as the mode says (the
 *          twins of the models plain and hybrid)
 * XARRAY   an XArray per NUMA node keyed by pfn, a value entry counting the
 *          pfn's pins; writers under xa_lock_irqsave(), GFP_ATOMIC nodes,
 *          lock-free xa_load() for maybe_dma_pinned (model: xarray)
 * EXACT    a 32-bit counter per pfn in a vzalloc_node() array per node,
 *          atomic_inc() / atomic_dec_return() (model: exact)
 */
#define PIN_SHIM_TWIN_NONE	0
#define PIN_SHIM_TWIN_XARRAY	1
#define PIN_SHIM_TWIN_EXACT	2
#define PIN_SHIM_NR_TWINS	3

/*
 * Mode bits. 0 is FOLL_GET through get_user_pages() under mmap_read_lock
 * and put_page(); PIN selects pin_user_pages*() and unpin_user_pages().
 */
#define PIN_SHIM_MODE_PIN	(1U << 0)	/* FOLL_PIN rather than FOLL_GET */
#define PIN_SHIM_MODE_LONGTERM	(1U << 1)	/* FOLL_LONGTERM; needs PIN */
#define PIN_SHIM_MODE_FAST	(1U << 2)	/* *_user_pages_fast(), no mmap_lock */
#define PIN_SHIM_MODE_WRITE	(1U << 3)	/* FOLL_WRITE */
#define PIN_SHIM_MODE_ALL	0xfU

/* Bounds; a field outside them is -EINVAL. */
#define PIN_SHIM_MAX_PAGES		(1U << 21)	/* per range: 8 GiB of 4 KiB pages */
#define PIN_SHIM_MAX_ITERATIONS		(1U << 20)
#define PIN_SHIM_MAX_HOLDS		64		/* ranges held per open file */
#define PIN_SHIM_MAX_HELD_PAGES		(1U << 21)	/* pages held per open file */

/* PIN_SHIM_INFO: the module's ABI version and limits. */
struct pin_shim_info {
	__u32 abi_version;	/* PIN_SHIM_ABI_VERSION */
	__u32 page_size;
	__u32 max_pages;	/* PIN_SHIM_MAX_PAGES */
	__u32 max_iterations;	/* PIN_SHIM_MAX_ITERATIONS */
	__u32 max_holds;	/* PIN_SHIM_MAX_HOLDS */
	__u32 max_held_pages;	/* PIN_SHIM_MAX_HELD_PAGES */
	__u32 gup_test;		/* 1: this module serves debugfs gup_test */
	__u32 nr_twins;		/* PIN_SHIM_NR_TWINS (0 from version 1) */
	__u64 reserved2[4];	/* 0 */
};

/*
 * PIN_SHIM_BATCH: @iterations times, get (or pin) [addr, addr + size) in
 * calls of nr_pages_per_call pages (the last call takes the rest), then put
 * (or unpin) it in calls of the same size. Each call is timed alone with
 * ktime_get_ns(); the non-fast modes take mmap_read_lock inside the timed
 * region, once per call, as a driver would. A range that cannot be taken
 * whole is an error (-EFAULT, or the kernel's own error) and leaves nothing
 * taken. Output fields need not be zeroed on input; reserved ones must be.
 */
struct pin_shim_batch {
	/* in */
	__u64 addr;		/* page aligned */
	__u64 size;		/* bytes, page aligned, 1..PIN_SHIM_MAX_PAGES pages */
	__u32 nr_pages_per_call; /* 1..PIN_SHIM_MAX_PAGES */
	__u32 mode;		/* PIN_SHIM_MODE_* */
	__u32 iterations;	/* 1..PIN_SHIM_MAX_ITERATIONS */
	__u32 twin;		/* PIN_SHIM_TWIN_* (version 1: reserved, 0) */
	/* out */
	__u64 get_ns;		/* sum over the get/pin calls */
	__u64 put_ns;		/* sum over the put/unpin calls */
	__u64 get_min_ns;	/* fastest single get/pin call */
	__u64 get_max_ns;	/* slowest single get/pin call */
	__u64 put_min_ns;
	__u64 put_max_ns;
	__u64 nr_calls;		/* get/pin calls made (as many put/unpin calls) */
	__u64 nr_pages;		/* pages taken, over all iterations */
	__u64 nr_not_dma_pinned; /* PIN or a twin: pages maybe_dma_pinned denied */
	/*
	 * out: 1 when a twin's record found no memory (the call then fails
	 * with -ENOMEM, nothing taken; TWIN_STATS counts them since load)
	 */
	__u64 nr_alloc_failures;
	__u64 reserved2[2];	/* in: 0; out: 0 */
};

/*
 * PIN_SHIM_HOLD: get (or pin) [addr, addr + size) and keep it until
 * PIN_SHIM_UNHOLD or until the file is released (which is how a process
 * killed while holding long-term pins gives them back). With a twin, the
 * twin records every page and forgets it on release.
 */
struct pin_shim_hold {
	__u64 addr;		/* in: page aligned */
	__u64 size;		/* in: bytes, page aligned */
	__u32 mode;		/* in: PIN_SHIM_MODE_* */
	__u32 twin;		/* in: PIN_SHIM_TWIN_* (version 1: reserved, 0) */
	__u64 held_pages;	/* out: pages this file now holds */
};

/*
 * PIN_SHIM_LOOKUP: @iterations passes asking @twin's maybe_dma_pinned
 * (NONE: the kernel's folio_maybe_dma_pinned()) about every page this file
 * holds, whoever recorded it, timed as a whole: lookups against a populated
 * structure, and a page held without @twin must answer unpinned.
 */
struct pin_shim_lookup {
	__u32 twin;		/* in: PIN_SHIM_TWIN_* */
	__u32 iterations;	/* in: 1..PIN_SHIM_MAX_ITERATIONS */
	__u64 lookup_ns;	/* out: all passes */
	__u64 nr_pages;		/* out: lookups made */
	__u64 nr_pinned;	/* out: of those, answered pinned */
	__u64 reserved[2];	/* in: 0; out: 0 */
};

/*
 * PIN_SHIM_TWIN_STATS: what a twin holds now, module-wide (every file).
 * Memory is the twin's own structure: XARRAY, its xa_nodes (counted by a
 * walk of every tree, times sizeof(struct xa_node)) plus the arrays, not
 * counting empty nodes a store that failed for want of memory left linked
 * (no entry leads to them; the next store there reuses them); EXACT, its
 * vmalloc'd counters. alloc_failures includes the failures injected with
 * the module parameter twin_fail_every.
 */
struct pin_shim_twin_stats {
	__u32 twin;		/* in: XARRAY or EXACT */
	__u32 reserved;		/* in: 0 */
	__u64 tracking_bytes;	/* out */
	__u64 nr_entries;	/* out: folios recorded as pinned (one each) */
	__u64 nr_nodes;		/* out: XARRAY: xa_nodes in the trees; EXACT: 0 */
	__u64 alloc_failures;	/* out: pins failed for want of memory, since load */
	/* out: EXACT: pfns its arrays cover (its bytes do not grow); XARRAY: 0 */
	__u64 pfns_covered;
	__u64 reserved2[1];	/* in: 0; out: 0 */
};

#endif /* _PIN_SHIM_ABI_H */
