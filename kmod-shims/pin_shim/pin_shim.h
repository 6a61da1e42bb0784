/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the module's files share. The user ABI is in
 * pin_shim_abi.h; nothing here is seen by user space.
 */
#ifndef _PIN_SHIM_H
#define _PIN_SHIM_H

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include "pin_shim_abi.h"

/*
 * User pages the module holds, taken with @mode (PIN_SHIM_MODE_*) and
 * recorded by @twin (PIN_SHIM_TWIN_*).
 */
struct shim_range {
	struct page **pages;
	unsigned long nr;
	unsigned int mode;
	unsigned int twin;
};

/* An open /dev/pin_shim. */
struct pin_shim_file {
	struct mutex lock;	/* serialises holds; batches need no lock */
	struct shim_range holds[PIN_SHIM_MAX_HOLDS];
	unsigned int nr_holds;
	unsigned long held_pages;
};

/*
 * A twin: an alternative pin-tracking design, built in the kernel on the
 * pages FOLL_GET took, one file per twin (twin_*.c) and one line in
 * twin.c's table. Keyed by folio as the Rust models are: a run of adjacent
 * entries of one folio is one record of its length (shim_folio_run()), as
 * unpin_user_pages() batches them with gup_folio_next().
 */
struct shim_twin_ops {
	const char *name;
	int (*init)(void);
	void (*exit)(void);
	/*
	 * Records one pin of each of @pages (one gup call's); all or nothing:
	 * -ENOMEM (counted) with nothing left recorded if it cannot. Never
	 * sleeps: it is inside the timed region.
	 */
	int (*pin_pages)(struct page **pages, unsigned long nr);
	/* Forgets one pin of each; an unbalanced one WARNs once, skipped. */
	void (*unpin_pages)(struct page **pages, unsigned long nr);
	bool (*maybe_dma_pinned)(struct page *page);
	/* What the twin holds, counted now (nothing is counted per pin). */
	void (*stats)(struct pin_shim_twin_stats *st);
};

/* Entries from @i on that belong to @folio (at least 1). */
static inline unsigned long shim_folio_run(struct page **pages, unsigned long i,
					   unsigned long nr, struct folio *folio)
{
	unsigned long n = 1;

	while (i + n < nr && page_folio(pages[i + n]) == folio)
		n++;
	return n;
}

extern const struct shim_twin_ops shim_twin_xarray;
extern const struct shim_twin_ops shim_twin_exact;

/* twin.c: the table, and the per-range helpers every caller uses */
const struct shim_twin_ops *shim_twin(unsigned int twin);
bool shim_twin_should_fail(void);
int shim_check_twin(u32 twin, u32 mode);
int shim_twins_init(void);
void shim_twins_exit(void);
int shim_twin_pin_pages(unsigned int twin, struct page **pages,
			unsigned long nr_pages);
void shim_twin_unpin_pages(unsigned int twin, struct page **pages,
			   unsigned long nr_pages);
int shim_twin_pin_range(unsigned int twin, struct page **pages,
			unsigned long nr_pages);
void shim_twin_unpin_range(unsigned int twin, struct page **pages,
			   unsigned long nr_pages);
bool shim_twin_maybe_dma_pinned(unsigned int twin, struct page *page);
unsigned long shim_twin_count_unpinned(unsigned int twin, struct page **pages,
				       unsigned long nr_pages);

/* range.c: checks and the kernel's gup API, one place for every caller */
int shim_check_range(u64 addr, u64 size, unsigned long *nr_pages);
int shim_check_mode(u32 mode);
struct page **shim_alloc_pages(unsigned long nr_pages);
long shim_get(unsigned long addr, unsigned long nr_pages, unsigned int mode,
	      struct page **pages);
void shim_put(struct page **pages, unsigned long nr_pages, unsigned int mode);
unsigned long shim_count_not_dma_pinned(struct page **pages,
					unsigned long nr_pages,
					unsigned int mode);
int shim_take(struct shim_range *r, unsigned long addr, unsigned long nr_pages,
	      unsigned int mode, unsigned int twin);
void shim_release(struct shim_range *r);

/* gup_test_file.c: /sys/kernel/debug/gup_test */
extern const struct file_operations shim_gup_test_fops;

/* batch.c: /dev/pin_shim */
extern const struct file_operations shim_batch_fops;

/* lookup.c: PIN_SHIM_LOOKUP and PIN_SHIM_TWIN_STATS */
long shim_lookup(struct pin_shim_file *f, void __user *arg);
long shim_twin_stats(void __user *arg);

/* main.c: true once this module has created debugfs gup_test */
extern bool shim_serves_gup_test;

#endif /* _PIN_SHIM_H */
