// SPDX-License-Identifier: GPL-2.0
/*
 * The side-tree design as a kernel developer would write
 * it: one XArray per NUMA node keyed by the folio's pfn (pins of node-N
 * folios go to node N's array), a value entry counting the folio's pins.
 *
 * A gup call's records are stored in batches: per PTRS_PER_PTE entries (a
 * page table's worth) and per run of same-node folios, one
 * xas_lock_irqsave() (an unpin may come from I/O completion), one walk per
 * folio run through one xa_state, and one smp_mb() after the unlock, which
 * orders the records before a gup-fast caller's PTE re-checks (the model's
 * charge; here the pages were taken by FOLL_GET before). A node is
 * allocated under the lock with GFP_NOWAIT by xas_store() and, if that
 * fails, once more with GFP_ATOMIC outside it (xas_nomem()), then the
 * store is retried from the run that failed. Unpin drops a call's records
 * the same way, erasing an entry at zero so the XArray frees its nodes
 * after an RCU grace period. maybe_dma_pinned is a lock-free xa_load().
 * Nothing is counted per pin: the census (entries, nodes) is a walk under
 * RCU when PIN_SHIM_TWIN_STATS asks.
 *
 * Model: pin-schemes' `xarray` (schemes/src/schemes/xarray.rs and
 * schemes/src/gup_batch.rs).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/xarray.h>
#include "pin_shim.h"

static struct xarray shim_xa[MAX_NUMNODES];
static atomic64_t shim_xa_alloc_failures = ATOMIC64_INIT(0);

static struct xarray *xa_of(struct folio *folio)
{
	return &shim_xa[folio_nid(folio)];
}

static int twin_xarray_init(void)
{
	int nid;

	for (nid = 0; nid < MAX_NUMNODES; nid++)
		xa_init_flags(&shim_xa[nid], XA_FLAGS_LOCK_IRQ);
	return 0;
}

static void twin_xarray_exit(void)
{
	int nid;

	/* Every file is closed (the module is held while one is open). */
	for (nid = 0; nid < MAX_NUMNODES; nid++)
		xa_destroy(&shim_xa[nid]);
}

/*
 * Under the lock: adds the pins of pages[*i..end) to @xas's array, a folio
 * run per store, until a folio of another node. Stops at a failed store
 * (xas_error()) with *i at its run; returns false if a pin was failed by
 * injection instead.
 */
static bool xa_record_runs(struct xa_state *xas, struct page **pages,
			   unsigned long *i, unsigned long end)
{
	while (*i < end) {
		struct folio *folio = page_folio(pages[*i]);
		unsigned long refs = shim_folio_run(pages, *i, end, folio);
		void *entry;

		if (xa_of(folio) != xas->xa)
			break;
		if (shim_twin_should_fail())
			return false;
		xas_set(xas, folio_pfn(folio));
		entry = xas_load(xas);
		xas_store(xas, xa_mk_value((entry ? xa_to_value(entry) : 0) + refs));
		if (xas_error(xas))
			break;
		*i += refs;
	}
	return true;
}

/* Under the lock: takes the pins of pages[*i..end) off @xas's array. */
static void xa_unrecord_runs(struct xa_state *xas, struct page **pages,
			     unsigned long *i, unsigned long end)
{
	while (*i < end) {
		struct folio *folio = page_folio(pages[*i]);
		unsigned long refs = shim_folio_run(pages, *i, end, folio);
		unsigned long pins;
		void *entry;

		if (xa_of(folio) != xas->xa)
			break;
		xas_set(xas, folio_pfn(folio));
		entry = xas_load(xas);
		pins = entry ? xa_to_value(entry) : 0;
		if (!WARN_ONCE(pins < refs, "xarray twin: unpin of unpinned pfn %lx\n",
			       folio_pfn(folio)))
			/* A value over a value, or NULL: allocates nothing. */
			xas_store(xas, pins == refs ? NULL : xa_mk_value(pins - refs));
		*i += refs;
	}
}

static void twin_xarray_unpin_pages(struct page **pages, unsigned long nr)
{
	unsigned long i = 0, flags;

	while (i < nr) {
		XA_STATE(xas, xa_of(page_folio(pages[i])), 0);

		xas_lock_irqsave(&xas, flags);
		xa_unrecord_runs(&xas, pages, &i, nr);
		xas_unlock_irqrestore(&xas, flags);
	}
}

/* One page table's worth of a call, or less: its same-node runs. */
static int xa_record_table(struct page **pages, unsigned long *i,
			   unsigned long end)
{
	unsigned long flags;
	bool injected;

	do {
		XA_STATE(xas, xa_of(page_folio(pages[*i])), 0);

		/*
		 * xas_nomem() allocates and asks for a retry only after a
		 * failed store; otherwise it frees any node left over.
		 */
		do {
			xas_lock_irqsave(&xas, flags);
			injected = !xa_record_runs(&xas, pages, i, end);
			xas_unlock_irqrestore(&xas, flags);
		} while (xas_nomem(&xas, GFP_ATOMIC | __GFP_NOWARN));
		if (injected || xas_error(&xas))
			return -ENOMEM;
	} while (*i < end);
	/* Orders the records before the caller's PTE re-checks. */
	smp_mb();
	return 0;
}

static int twin_xarray_pin_pages(struct page **pages, unsigned long nr)
{
	unsigned long i = 0;

	while (i < nr) {
		unsigned long end = min(nr, round_down(i, PTRS_PER_PTE) + PTRS_PER_PTE);

		if (xa_record_table(pages, &i, end)) {
			atomic64_inc(&shim_xa_alloc_failures);
			twin_xarray_unpin_pages(pages, i);
			return -ENOMEM;
		}
	}
	return 0;
}

static bool twin_xarray_maybe_dma_pinned(struct page *page)
{
	struct folio *folio = page_folio(page);

	return xa_load(xa_of(folio), folio_pfn(folio)) != NULL;
}

/*
 * The entries and nodes of one tree, under RCU (no lock, interrupts on):
 * exact while nobody changes the tree, as when the census reads it around
 * a hold (a pause every 4096 entries lets others run). Each node is
 * first met from its lowest entry, so a node is
 * counted when an entry's ancestor at some height differs from the last
 * entry's. Nodes a failed store left linked and empty hold no entry and
 * are not seen.
 */
static void xa_census(struct xarray *xa, u64 *entries, u64 *nodes)
{
	const struct xa_node *last[BITS_PER_LONG / XA_CHUNK_SHIFT + 2] = {};
	XA_STATE(xas, xa, 0);
	const struct xa_node *node;
	unsigned int h;
	void *entry;

	rcu_read_lock();
	xas_for_each(&xas, entry, ULONG_MAX) {
		if (xas_retry(&xas, entry))
			continue;
		if (!(++*entries % 4096)) {
			xas_pause(&xas);
			rcu_read_unlock();
			cond_resched();
			rcu_read_lock();
		}
		for (node = xas.xa_node, h = 0; node && h < ARRAY_SIZE(last);
		     node = xa_parent(xa, node), h++) {
			if (node == last[h])
				break;
			last[h] = node;
			(*nodes)++;
		}
	}
	rcu_read_unlock();
}

static void twin_xarray_stats(struct pin_shim_twin_stats *st)
{
	u64 entries = 0, nodes = 0;
	int nid;

	for_each_node(nid)
		xa_census(&shim_xa[nid], &entries, &nodes);
	st->nr_nodes = nodes;
	st->tracking_bytes = nodes * sizeof(struct xa_node) + sizeof(shim_xa);
	st->nr_entries = entries;
	st->alloc_failures = atomic64_read(&shim_xa_alloc_failures);
	st->pfns_covered = 0;
}

const struct shim_twin_ops shim_twin_xarray = {
	.name = "xarray",
	.init = twin_xarray_init,
	.exit = twin_xarray_exit,
	.pin_pages = twin_xarray_pin_pages,
	.unpin_pages = twin_xarray_unpin_pages,
	.maybe_dma_pinned = twin_xarray_maybe_dma_pinned,
	.stats = twin_xarray_stats,
};
