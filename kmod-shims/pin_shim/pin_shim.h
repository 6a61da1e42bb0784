/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pin_shim.h - what the module's files share. The user ABI is in
 * pin_shim_abi.h; nothing here is seen by user space.
 */
#ifndef _PIN_SHIM_H
#define _PIN_SHIM_H

#include <linux/fs.h>
#include <linux/types.h>
#include "pin_shim_abi.h"

struct page;

/* User pages the module holds, taken with @mode (PIN_SHIM_MODE_*). */
struct shim_range {
	struct page **pages;
	unsigned long nr;
	unsigned int mode;
};

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
	      unsigned int mode);
void shim_release(struct shim_range *r);

/* gup_test_file.c: /sys/kernel/debug/gup_test */
extern const struct file_operations shim_gup_test_fops;

/* batch.c: /dev/pin_shim */
extern const struct file_operations shim_batch_fops;

/* main.c: true once this module has created debugfs gup_test */
extern bool shim_serves_gup_test;

#endif /* _PIN_SHIM_H */
