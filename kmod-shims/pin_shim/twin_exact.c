// SPDX-License-Identifier: GPL-2.0
/*
 * twin_exact.c - an exact 32-bit pin counter per pfn: what a field in
 * struct page (or page_ext) would cost, measured. One vzalloc_node() array
 * per online node covering its span, allocated at load; atomic_inc_return()
 * to pin, atomic_dec_if_positive() to unpin (never below zero), atomic_read()
 * to ask. Model: pin-schemes'
 * `exact` (schemes/src/schemes/exact.rs, a page_ext client; this twin skips
 * page_ext's section lookup, which a module cannot register into).
 */
#include <linux/atomic.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>
#include <linux/vmalloc.h>
#include "pin_shim.h"

struct exact_node {
	atomic_t *count;
	unsigned long start_pfn, nr;
};

static struct exact_node shim_exact[MAX_NUMNODES];
static atomic64_t shim_exact_entries = ATOMIC64_INIT(0);
static atomic64_t shim_exact_failures = ATOMIC64_INIT(0);

/* The counter of @page, NULL past the span it had at load (hot-add). */
static atomic_t *exact_count(struct page *page)
{
	struct exact_node *n = &shim_exact[page_to_nid(page)];
	unsigned long pfn = page_to_pfn(page);

	if (!n->count || pfn < n->start_pfn || pfn - n->start_pfn >= n->nr)
		return NULL;
	return &n->count[pfn - n->start_pfn];
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
			pr_warn("pin_shim: exact twin: no %lu-byte array for node %d; its pins will fail\n",
				n->nr * sizeof(atomic_t), nid);
	}
	return 0;
}

static int twin_exact_pin(struct page *page)
{
	atomic_t *c = shim_twin_should_fail() ? NULL : exact_count(page);

	if (!c) {
		atomic64_inc(&shim_exact_failures);
		return -ENOMEM;
	}
	if (atomic_inc_return(c) == 1)
		atomic64_inc(&shim_exact_entries);
	return 0;
}

static void twin_exact_unpin(struct page *page)
{
	atomic_t *c = exact_count(page);
	int left;

	if (WARN_ONCE(!c, "pin_shim: exact twin: unpin of pfn %lx past its span\n",
		      page_to_pfn(page)))
		return;
	/* Never below zero, even for a moment: a racing pin stays counted. */
	left = atomic_dec_if_positive(c);
	if (WARN_ONCE(left < 0, "pin_shim: exact twin: unpin of unpinned pfn %lx\n",
		      page_to_pfn(page)))
		return;
	if (!left)
		atomic64_dec(&shim_exact_entries);
}

static bool twin_exact_maybe_dma_pinned(struct page *page)
{
	atomic_t *c = exact_count(page);

	return c && atomic_read(c) > 0;
}

static void twin_exact_stats(struct pin_shim_twin_stats *st)
{
	u64 bytes = 0, pfns = 0;
	int nid;

	for (nid = 0; nid < MAX_NUMNODES; nid++) {
		if (!shim_exact[nid].count)
			continue;
		bytes += shim_exact[nid].nr * sizeof(atomic_t);
		pfns += shim_exact[nid].nr;
	}
	st->tracking_bytes = bytes;
	st->pfns_covered = pfns;
	st->nr_entries = atomic64_read(&shim_exact_entries);
	st->nr_nodes = 0;
	st->alloc_failures = atomic64_read(&shim_exact_failures);
}

const struct shim_twin_ops shim_twin_exact = {
	.name = "exact",
	.init = twin_exact_init,
	.exit = twin_exact_exit,
	.pin = twin_exact_pin,
	.unpin = twin_exact_unpin,
	.maybe_dma_pinned = twin_exact_maybe_dma_pinned,
	.stats = twin_exact_stats,
};
