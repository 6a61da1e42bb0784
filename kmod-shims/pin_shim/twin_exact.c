// SPDX-License-Identifier: GPL-2.0
/*
 * An exact 32-bit pin counter per pfn: what a field in
 * struct page (or page_ext) would cost, measured. One vzalloc_node() array
 * per online node covering its span, allocated at load. Keyed by folio as
 * the model is: a run of one folio's pages adds its length to the head
 * page's counter with one atomic_add(), an unpin takes it off with a
 * cmpxchg loop that never goes below zero, atomic_read() to ask. Nothing
 * is counted per pin: the census counts non-zero counters when asked.
 * Model: pin-schemes' `exact` (schemes/src/schemes/exact.rs, a page_ext
 * client; this twin skips page_ext's section lookup, which a module cannot
 * register into).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/vmalloc.h>
#include "pin_shim.h"

struct exact_node {
	atomic_t *count;
	unsigned long start_pfn, nr;
};

static struct exact_node shim_exact[MAX_NUMNODES];
static atomic64_t shim_exact_failures = ATOMIC64_INIT(0);

/* The counter of @pfn on node @nid, NULL past the span it had at load. */
static atomic_t *exact_count(int nid, unsigned long pfn)
{
	struct exact_node *n = &shim_exact[nid];

	if (!n->count || pfn < n->start_pfn || pfn - n->start_pfn >= n->nr)
		return NULL;
	return &n->count[pfn - n->start_pfn];
}

static atomic_t *folio_count(struct folio *folio)
{
	return exact_count(folio_nid(folio), folio_pfn(folio));
}

static void twin_exact_exit(void)
{
	int nid;

	for (nid = 0; nid < MAX_NUMNODES; nid++) {
		vfree(shim_exact[nid].count);
		shim_exact[nid].count = NULL;
	}
}

/*
 * Never fails the module's load: a node whose array cannot be had (or
 * that has no memory, as a CPU-only node) has none, and pins of its pages
 * fail with -ENOMEM, counted.
 */
static int twin_exact_init(void)
{
	int nid;

	for_each_online_node(nid) {
		struct exact_node *n = &shim_exact[nid];

		n->start_pfn = node_start_pfn(nid);
		n->nr = node_spanned_pages(nid);
		if (!n->nr)
			continue;
		n->count = vzalloc_node(array_size(n->nr, sizeof(atomic_t)), nid);
		if (!n->count)
			pr_warn("exact twin: no %lu-byte array for node %d; its pins will fail\n",
				n->nr * sizeof(atomic_t), nid);
	}
	return 0;
}

/* Takes @refs off @c, never below zero, even for a moment. */
static bool exact_sub(atomic_t *c, int refs)
{
	int old = atomic_read(c);

	do {
		if (old < refs)
			return false;
	} while (!atomic_try_cmpxchg_relaxed(c, &old, old - refs));
	return true;
}

static void twin_exact_unpin_pages(struct page **pages, unsigned long nr)
{
	unsigned long i, refs;

	for (i = 0; i < nr; i += refs) {
		struct folio *folio = page_folio(pages[i]);
		atomic_t *c = folio_count(folio);

		refs = shim_folio_run(pages, i, nr, folio);
		WARN_ONCE(!c || !exact_sub(c, refs),
			  "exact twin: unpin of unpinned pfn %lx\n", folio_pfn(folio));
	}
}

/*
 * A folio run's pins added to the head page's counter (atomic_add(), as
 * the model's relaxed add), then smp_mb__after_atomic() as the model's
 * fast path orders it before the PTE re-check.
 */
static int twin_exact_pin_pages(struct page **pages, unsigned long nr)
{
	unsigned long i, refs;

	for (i = 0; i < nr; i += refs) {
		struct folio *folio = page_folio(pages[i]);
		atomic_t *c = shim_twin_should_fail() ? NULL : folio_count(folio);

		refs = shim_folio_run(pages, i, nr, folio);
		if (!c) {
			atomic64_inc(&shim_exact_failures);
			twin_exact_unpin_pages(pages, i);
			return -ENOMEM;
		}
		atomic_add(refs, c);
		/* The model's fast-path order: the count before the PTE re-check. */
		smp_mb__after_atomic();
	}
	return 0;
}

static bool twin_exact_maybe_dma_pinned(struct page *page)
{
	atomic_t *c = folio_count(page_folio(page));

	return c && atomic_read(c) > 0;
}

/* Counted when asked: the counters that are not zero. */
static void twin_exact_stats(struct pin_shim_twin_stats *st)
{
	u64 bytes = 0, pfns = 0, entries = 0;
	unsigned long i;
	int nid;

	for (nid = 0; nid < MAX_NUMNODES; nid++) {
		const struct exact_node *n = &shim_exact[nid];

		if (!n->count)
			continue;
		bytes += n->nr * sizeof(atomic_t);
		pfns += n->nr;
		for (i = 0; i < n->nr; i++) {
			entries += atomic_read(&n->count[i]) > 0;
			if (!((i + 1) % (1UL << 16)))
				cond_resched();
		}
	}
	st->tracking_bytes = bytes;
	st->pfns_covered = pfns;
	st->nr_entries = entries;
	st->nr_nodes = 0;
	st->alloc_failures = atomic64_read(&shim_exact_failures);
}

const struct shim_twin_ops shim_twin_exact = {
	.name = "exact",
	.init = twin_exact_init,
	.exit = twin_exact_exit,
	.pin_pages = twin_exact_pin_pages,
	.unpin_pages = twin_exact_unpin_pages,
	.maybe_dma_pinned = twin_exact_maybe_dma_pinned,
	.stats = twin_exact_stats,
};
