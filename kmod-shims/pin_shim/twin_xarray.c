// SPDX-License-Identifier: GPL-2.0
/*
 * twin_xarray.c - the side-tree design as a kernel developer would write
 * it: one XArray per NUMA node keyed by pfn (pins of node-N pages go to
 * node N's array), a value entry counting the pfn's pins, writers under the
 * array's lock with interrupts saved (an unpin may come from I/O
 * completion), GFP_ATOMIC nodes (gup-fast cannot sleep), lock-free xa_load()
 * under RCU for maybe_dma_pinned, the entry erased on the last unpin so the
 * XArray frees its nodes (after an RCU grace period). Model: pin-schemes'
 * `xarray` (schemes/src/xarray.rs).
 */
#include <linux/atomic.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/xarray.h>
#include "pin_shim.h"

static struct xarray shim_xa[MAX_NUMNODES];
static atomic64_t shim_xa_entries = ATOMIC64_INIT(0);
static atomic64_t shim_xa_alloc_failures = ATOMIC64_INIT(0);

static struct xarray *xa_of(struct page *page)
{
	return &shim_xa[page_to_nid(page)];
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

static int twin_xarray_pin(struct page *page)
{
	struct xarray *xa = xa_of(page);
	unsigned long pfn = page_to_pfn(page), flags, pins;
	void *old;

	if (shim_twin_should_fail()) {
		atomic64_inc(&shim_xa_alloc_failures);
		return -ENOMEM;
	}
	xa_lock_irqsave(xa, flags);
	pins = xa_to_value(xa_load(xa, pfn) ?: xa_mk_value(0));
	old = __xa_store(xa, pfn, xa_mk_value(pins + 1), GFP_ATOMIC);
	xa_unlock_irqrestore(xa, flags);
	if (xa_is_err(old)) {
		atomic64_inc(&shim_xa_alloc_failures);
		return -ENOMEM;
	}
	if (!pins)
		atomic64_inc(&shim_xa_entries);
	return 0;
}

static void twin_xarray_unpin(struct page *page)
{
	struct xarray *xa = xa_of(page);
	unsigned long pfn = page_to_pfn(page), flags, pins;
	void *entry;

	xa_lock_irqsave(xa, flags);
	entry = xa_load(xa, pfn);
	pins = entry ? xa_to_value(entry) : 0;
	if (WARN_ONCE(!pins, "pin_shim: xarray twin: unpin of unpinned pfn %lx\n", pfn)) {
		xa_unlock_irqrestore(xa, flags);
		return;
	}
	if (pins == 1)
		__xa_erase(xa, pfn);
	else	/* replaces an existing entry: allocates nothing */
		__xa_store(xa, pfn, xa_mk_value(pins - 1), GFP_ATOMIC);
	xa_unlock_irqrestore(xa, flags);
	if (pins == 1)
		atomic64_dec(&shim_xa_entries);
}

static bool twin_xarray_maybe_dma_pinned(struct page *page)
{
	return xa_load(xa_of(page), page_to_pfn(page)) != NULL;
}

/*
 * The nodes of one tree, counted under its lock by walking its entries in
 * index order: each node is first met from its lowest entry, so a node is
 * counted when an entry's ancestor at some height differs from the last
 * entry's. After a leaf node is counted the walk skips to the next one,
 * so it costs O(nodes), not O(entries), with interrupts off. Nodes a
 * failed __xa_store() left linked and empty (xas_create() links each level
 * before allocating the next) hold no entry and are not seen.
 */
static unsigned long xa_count_nodes(struct xarray *xa)
{
	const struct xa_node *last[BITS_PER_LONG / XA_CHUNK_SHIFT + 2] = {};
	XA_STATE(xas, xa, 0);
	unsigned long nodes = 0, flags;
	const struct xa_node *node;
	unsigned int h;
	void *entry;

	xa_lock_irqsave(xa, flags);
	xas_for_each(&xas, entry, ULONG_MAX) {
		for (node = xas.xa_node, h = 0; node && h < ARRAY_SIZE(last);
		     node = xa_parent_locked(xa, node), h++) {
			if (node == last[h])
				break;
			last[h] = node;
			nodes++;
		}
		if (xas.xa_node && (xas.xa_index | XA_CHUNK_MASK) != ULONG_MAX)
			xas_set(&xas, (xas.xa_index | XA_CHUNK_MASK) + 1);
	}
	xa_unlock_irqrestore(xa, flags);
	return nodes;
}

static void twin_xarray_stats(struct pin_shim_twin_stats *st)
{
	unsigned long nodes = 0;
	int nid;

	for_each_node(nid)
		nodes += xa_count_nodes(&shim_xa[nid]);
	st->nr_nodes = nodes;
	st->tracking_bytes = nodes * sizeof(struct xa_node) + sizeof(shim_xa);
	st->nr_entries = atomic64_read(&shim_xa_entries);
	st->alloc_failures = atomic64_read(&shim_xa_alloc_failures);
	st->pfns_covered = 0;
}

const struct shim_twin_ops shim_twin_xarray = {
	.name = "xarray",
	.init = twin_xarray_init,
	.exit = twin_xarray_exit,
	.pin = twin_xarray_pin,
	.unpin = twin_xarray_unpin,
	.maybe_dma_pinned = twin_xarray_maybe_dma_pinned,
	.stats = twin_xarray_stats,
};
