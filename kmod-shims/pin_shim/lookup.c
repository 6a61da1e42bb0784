// SPDX-License-Identifier: GPL-2.0
/*
 * PIN_SHIM_LOOKUP, a timed maybe_dma_pinned pass over what a
 * file holds, so lookups are measured against a populated structure; and
 * PIN_SHIM_TWIN_STATS, what a twin holds now.
 */
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include "pin_shim.h"

/*
 * One pass asking @twin about every page the file holds, whoever recorded
 * it (a page held without @twin must answer unpinned); returns the pages
 * answered pinned.
 */
static unsigned long lookup_pass(struct pin_shim_file *f, unsigned int twin,
				 unsigned long *looked)
{
	unsigned long pinned = 0, i;
	unsigned int h;

	for (h = 0; h < f->nr_holds; h++) {
		const struct shim_range *r = &f->holds[h];

		for (i = 0; i < r->nr; i++)
			pinned += shim_twin_maybe_dma_pinned(twin, r->pages[i]);
		*looked += r->nr;
	}
	return pinned;
}

long shim_lookup(struct pin_shim_file *f, void __user *arg)
{
	struct pin_shim_lookup l;
	unsigned long looked = 0, pinned = 0;
	u64 t0, ns = 0;
	u32 it;

	if (copy_from_user(&l, arg, sizeof(l)))
		return -EFAULT;
	if (memchr_inv(l.reserved, 0, sizeof(l.reserved)) ||
	    l.twin >= PIN_SHIM_NR_TWINS || !l.iterations ||
	    l.iterations > PIN_SHIM_MAX_ITERATIONS)
		return -EINVAL;
	if (mutex_lock_killable(&f->lock))
		return -EINTR;
	for (it = 0; it < l.iterations; it++) {
		t0 = ktime_get_ns();
		pinned += lookup_pass(f, l.twin, &looked);
		ns += ktime_get_ns() - t0;
		if (fatal_signal_pending(current))
			break;
		cond_resched();
	}
	mutex_unlock(&f->lock);
	if (it < l.iterations)
		return -EINTR;
	l.lookup_ns = ns;
	l.nr_pages = looked;
	l.nr_pinned = pinned;
	return copy_to_user(arg, &l, sizeof(l)) ? -EFAULT : 0;
}

long shim_twin_stats(void __user *arg)
{
	struct pin_shim_twin_stats st;
	const struct shim_twin_ops *ops;

	if (copy_from_user(&st, arg, sizeof(st)))
		return -EFAULT;
	ops = shim_twin(st.twin);
	if (!ops || st.reserved || memchr_inv(st.reserved2, 0, sizeof(st.reserved2)))
		return -EINVAL;
	ops->stats(&st);
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}
