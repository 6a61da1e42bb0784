// SPDX-License-Identifier: GPL-2.0
/*
 * Checks on user ranges and the one place that calls the kernel's
 * gup API: get_user_pages{,_fast}(), pin_user_pages{,_fast}(), put_page(),
 * unpin_user_pages().
 */
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/version.h>
#include "pin_shim.h"

/*
 * A user range: page aligned, not empty, no wrap past the top of the
 * address space, at most PIN_SHIM_MAX_PAGES pages. Addresses above the user
 * range pass here; gup refuses them with -EFAULT.
 */
int shim_check_range(u64 addr, u64 size, unsigned long *nr_pages)
{
	u64 end;

	if (!size || !PAGE_ALIGNED(addr) || !PAGE_ALIGNED(size))
		return -EINVAL;
	if (check_add_overflow(addr, size, &end) || end > ULONG_MAX)
		return -EINVAL;
	if (size >> PAGE_SHIFT > PIN_SHIM_MAX_PAGES)
		return -EINVAL;
	*nr_pages = size >> PAGE_SHIFT;
	return 0;
}

/* Known bits only; FOLL_LONGTERM is for pins (the kernel warns otherwise). */
int shim_check_mode(u32 mode)
{
	if (mode & ~PIN_SHIM_MODE_ALL)
		return -EINVAL;
	if ((mode & PIN_SHIM_MODE_LONGTERM) && !(mode & PIN_SHIM_MODE_PIN))
		return -EINVAL;
	return 0;
}

/*
 * At most PIN_SHIM_MAX_PAGES pointers (16 MiB), not zeroed (gup fills them
 * before anyone reads them); failure is -ENOMEM, quietly.
 */
struct page **shim_alloc_pages(unsigned long nr_pages)
{
	return kvmalloc_array(nr_pages, sizeof(struct page *),
			      GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
}

static unsigned int shim_foll_flags(unsigned int mode)
{
	unsigned int flags = 0;

	if (mode & PIN_SHIM_MODE_WRITE)
		flags |= FOLL_WRITE;
	if (mode & PIN_SHIM_MODE_LONGTERM)
		flags |= FOLL_LONGTERM;
	return flags;
}

/*
 * One call into gup for @nr_pages pages at @addr. The fast modes take no
 * lock (gup-fast falls back to the slow path by itself); the others need
 * the caller to hold mmap_read_lock(current->mm). Returns the number of
 * pages taken (possibly fewer than asked) or a negative errno.
 */
long shim_get(unsigned long addr, unsigned long nr_pages, unsigned int mode,
	      struct page **pages)
{
	unsigned int flags = shim_foll_flags(mode);

	if (mode & PIN_SHIM_MODE_FAST) {
		if (mode & PIN_SHIM_MODE_PIN)
			return pin_user_pages_fast(addr, nr_pages, flags, pages);
		return get_user_pages_fast(addr, nr_pages, flags, pages);
	}

	mmap_assert_locked(current->mm);
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
	if (mode & PIN_SHIM_MODE_PIN)
		return pin_user_pages(addr, nr_pages, flags, pages, NULL);
	return get_user_pages(addr, nr_pages, flags, pages, NULL);
#else
	if (mode & PIN_SHIM_MODE_PIN)
		return pin_user_pages(addr, nr_pages, flags, pages);
	return get_user_pages(addr, nr_pages, flags, pages);
#endif
}

/* Gives back what shim_get() took with the same @mode. */
void shim_put(struct page **pages, unsigned long nr_pages, unsigned int mode)
{
	unsigned long i;

	if (mode & PIN_SHIM_MODE_PIN) {
		unpin_user_pages(pages, nr_pages);
		return;
	}
	for (i = 0; i < nr_pages; i++)
		put_page(pages[i]);
}

/*
 * After a pin, every page must say folio_maybe_dma_pinned(), and after a
 * long-term pin be long-term pinnable; count those that do not (zero for
 * FOLL_GET, which promises nothing). As upstream's verify_dma_pinned()
 * (mm/gup_test.c), the first such page WARNs with its dump, so a missing
 * pin shows in dmesg. The shared zero page is exempt: since "mm: Don't pin
 * ZERO_PAGE in pin_user_pages()" (v6.5, and in 6.1 stable) gup hands it out
 * without a pin.
 */
unsigned long shim_count_not_dma_pinned(struct page **pages,
					unsigned long nr_pages,
					unsigned int mode)
{
	unsigned long i, bad = 0;
	struct folio *folio;

	if (!(mode & PIN_SHIM_MODE_PIN))
		return 0;
	for (i = 0; i < nr_pages; i++) {
		folio = page_folio(pages[i]);
		if (is_zero_pfn(page_to_pfn(pages[i])))
			continue;
		if (!folio_maybe_dma_pinned(folio)) {
			if (!bad++ && WARN(1, "pin_shim: pages[%lu] is NOT dma-pinned\n", i))
				dump_page(&folio->page, "pin_shim failure");
		} else if ((mode & PIN_SHIM_MODE_LONGTERM) &&
			   !folio_is_longterm_pinnable(folio)) {
			if (!bad++ && WARN(1, "pin_shim: pages[%lu] is NOT pinnable but pinned\n", i))
				dump_page(&folio->page, "pin_shim failure");
		}
	}
	return bad;
}

/*
 * Takes all of [addr, addr + nr_pages pages) into @r, or nothing: on error
 * whatever was taken is given back and @r is left empty.
 */
int shim_take(struct shim_range *r, unsigned long addr, unsigned long nr_pages,
	      unsigned int mode, unsigned int twin)
{
	bool locked = !(mode & PIN_SHIM_MODE_FAST);
	unsigned long done = 0;
	struct page **pages;
	long got;
	int ret = 0;

	pages = shim_alloc_pages(nr_pages);
	if (!pages)
		return -ENOMEM;
	if (locked && mmap_read_lock_killable(current->mm)) {
		kvfree(pages);
		return -EINTR;
	}
	while (done < nr_pages) {
		got = shim_get(addr + done * PAGE_SIZE, nr_pages - done, mode,
			       pages + done);
		if (got <= 0) {
			ret = got ? got : -EFAULT;
			break;
		}
		done += got;
	}
	if (locked)
		mmap_read_unlock(current->mm);
	if (!ret)
		ret = shim_twin_pin_range(twin, pages, nr_pages);
	if (ret) {
		shim_put(pages, done, mode);
		kvfree(pages);
		return ret;
	}
	shim_count_not_dma_pinned(pages, nr_pages, mode);
	r->pages = pages;
	r->nr = nr_pages;
	r->mode = mode;
	r->twin = twin;
	return 0;
}

/* Gives back everything @r holds; an empty range is fine. */
void shim_release(struct shim_range *r)
{
	if (r->pages) {
		shim_twin_unpin_range(r->twin, r->pages, r->nr);
		shim_put(r->pages, r->nr, r->mode);
		kvfree(r->pages);
	}
	r->pages = NULL;
	r->nr = 0;
	r->mode = 0;
	r->twin = 0;
}
