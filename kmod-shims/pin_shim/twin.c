// SPDX-License-Identifier: GPL-2.0
/*
 * The twins' table, and what every caller does with a twin over a
 * range of pages taken with FOLL_GET: record each, forget each, ask.
 */
#include <linux/atomic.h>
#include <linux/moduleparam.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include "pin_shim.h"

/*
 * Fault injection for the twins' failure paths, on kernels without
 * failslab (Debian's cloud kernels): every Nth twin pin fails as if its
 * memory could not be had (-ENOMEM, counted by the twin). 0: never.
 */
static unsigned int twin_fail_every;
module_param(twin_fail_every, uint, 0644);
MODULE_PARM_DESC(twin_fail_every,
		 "fail every Nth twin pin with -ENOMEM, for tests (default 0: never)");
static atomic_t twin_pins = ATOMIC_INIT(0);

bool shim_twin_should_fail(void)
{
	unsigned int every = READ_ONCE(twin_fail_every);

	return every && (unsigned int)atomic_inc_return(&twin_pins) % every == 0;
}

/* One line per twin, indexed by PIN_SHIM_TWIN_*; NONE has no ops. */
static const struct shim_twin_ops *const shim_twins[PIN_SHIM_NR_TWINS] = {
	[PIN_SHIM_TWIN_XARRAY] = &shim_twin_xarray,
	[PIN_SHIM_TWIN_EXACT] = &shim_twin_exact,
};

const struct shim_twin_ops *shim_twin(unsigned int twin)
{
	return twin < PIN_SHIM_NR_TWINS ? shim_twins[twin] : NULL;
}

/* A twin takes its pages with FOLL_GET: no PIN (and so no LONGTERM). */
int shim_check_twin(u32 twin, u32 mode)
{
	if (twin >= PIN_SHIM_NR_TWINS)
		return -EINVAL;
	if (twin != PIN_SHIM_TWIN_NONE && (mode & PIN_SHIM_MODE_PIN))
		return -EINVAL;
	return 0;
}

int shim_twins_init(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < PIN_SHIM_NR_TWINS; i++) {
		if (!shim_twins[i])
			continue;
		ret = shim_twins[i]->init();
		if (ret) {
			while (i--)
				if (shim_twins[i])
					shim_twins[i]->exit();
			return ret;
		}
	}
	return 0;
}

void shim_twins_exit(void)
{
	unsigned int i;

	for (i = 0; i < PIN_SHIM_NR_TWINS; i++)
		if (shim_twins[i])
			shim_twins[i]->exit();
}

/*
 * Records a pin of each page of one gup call; all or nothing. The kernel's
 * own pins (NONE) need nothing.
 */
int shim_twin_pin_pages(unsigned int twin, struct page **pages,
			unsigned long nr_pages)
{
	const struct shim_twin_ops *ops = shim_twin(twin);

	return ops && nr_pages ? ops->pin_pages(pages, nr_pages) : 0;
}

void shim_twin_unpin_pages(unsigned int twin, struct page **pages,
			   unsigned long nr_pages)
{
	const struct shim_twin_ops *ops = shim_twin(twin);

	if (ops && nr_pages)
		ops->unpin_pages(pages, nr_pages);
}

/*
 * A range's pages (a hold's, or a failed batch's to give back), a chunk at
 * a time with a pause between: outside any timed region.
 */
#define TWIN_CHUNK 4096UL

void shim_twin_unpin_range(unsigned int twin, struct page **pages,
			   unsigned long nr_pages)
{
	unsigned long done, n;

	for (done = 0; done < nr_pages; done += n) {
		n = min(TWIN_CHUNK, nr_pages - done);
		shim_twin_unpin_pages(twin, pages + done, n);
		cond_resched();
	}
}

int shim_twin_pin_range(unsigned int twin, struct page **pages,
			unsigned long nr_pages)
{
	unsigned long done, n;
	int ret;

	for (done = 0; done < nr_pages; done += n) {
		n = min(TWIN_CHUNK, nr_pages - done);
		ret = shim_twin_pin_pages(twin, pages + done, n);
		if (ret) {
			shim_twin_unpin_range(twin, pages, done);
			return ret;
		}
		cond_resched();
	}
	return 0;
}

/* NONE: the kernel's folio_maybe_dma_pinned(). */
bool shim_twin_maybe_dma_pinned(unsigned int twin, struct page *page)
{
	const struct shim_twin_ops *ops = shim_twin(twin);

	if (!ops)
		return folio_maybe_dma_pinned(page_folio(page));
	return ops->maybe_dma_pinned(page);
}

/* Pages a twin does not answer pinned (each should be). */
unsigned long shim_twin_count_unpinned(unsigned int twin, struct page **pages,
				       unsigned long nr_pages)
{
	unsigned long i, bad = 0;

	for (i = 0; i < nr_pages; i++)
		bad += !shim_twin_maybe_dma_pinned(twin, pages[i]);
	return bad;
}
