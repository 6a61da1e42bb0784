// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/pin_shim: pinbench's own ioctls (pin_shim_abi.h).
 *
 * PIN_SHIM_BATCH times each gup call alone, so one syscall carries many
 * calls and its own cost drops out. PIN_SHIM_HOLD keeps ranges taken until
 * PIN_SHIM_UNHOLD or release, which runs when the last reference to the
 * file goes, including when the process is killed.
 */
#include <linux/ktime.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "pin_shim.h"

struct shim_clock {
	u64 sum, min, max;
};

static void clock_add(struct shim_clock *c, u64 ns)
{
	c->sum += ns;
	c->min = min(c->min, ns);
	c->max = max(c->max, ns);
}

static int shim_info(void __user *arg)
{
	struct pin_shim_info info = {
		.abi_version = PIN_SHIM_ABI_VERSION,
		.page_size = PAGE_SIZE,
		.max_pages = PIN_SHIM_MAX_PAGES,
		.max_iterations = PIN_SHIM_MAX_ITERATIONS,
		.max_holds = PIN_SHIM_MAX_HOLDS,
		.max_held_pages = PIN_SHIM_MAX_HELD_PAGES,
		.gup_test = shim_serves_gup_test,
		.nr_twins = PIN_SHIM_NR_TWINS,
	};

	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

/*
 * One iteration's get phase: calls of @per_call pages, each timed alone,
 * the non-fast modes taking mmap_read_lock inside the timed region; with a
 * twin, the call includes recording each page (the twin's pin), and a
 * record that finds no memory fails the call with -ENOMEM.
 * Returns the pages taken, all of them or an error with *ret set; on error
 * the caller gives back what was taken.
 */
static unsigned long batch_get(const struct pin_shim_batch *b,
			       unsigned long nr_pages, unsigned long per_call,
			       struct page **pages, struct shim_clock *clock,
			       int *ret, bool *twin_failed)
{
	bool locked = !(b->mode & PIN_SHIM_MODE_FAST);
	unsigned long done = 0, n;
	u64 t0;
	long got;

	while (done < nr_pages) {
		n = min(per_call, nr_pages - done);
		t0 = ktime_get_ns();
		if (locked && mmap_read_lock_killable(current->mm)) {
			*ret = -EINTR;
			break;
		}
		got = shim_get(b->addr + done * PAGE_SIZE, n, b->mode,
			       pages + done);
		if (locked)
			mmap_read_unlock(current->mm);
		if (got > 0 && shim_twin_pin_pages(b->twin, pages + done, got)) {
			clock_add(clock, ktime_get_ns() - t0);
			shim_put(pages + done, got, b->mode);
			*twin_failed = true;
			*ret = -ENOMEM;
			break;
		}
		clock_add(clock, ktime_get_ns() - t0);
		if (got > 0)
			done += got;
		if (got != n) {
			*ret = got < 0 ? got : -EFAULT;
			break;
		}
		/* Untimed: gup-fast never sleeps, so let others run. */
		if (fatal_signal_pending(current)) {
			*ret = -EINTR;
			break;
		}
		cond_resched();
	}
	return done;
}

static void batch_put(const struct pin_shim_batch *b, unsigned long nr_pages,
		      unsigned long per_call, struct page **pages,
		      struct shim_clock *clock)
{
	unsigned long done, n;
	u64 t0;

	for (done = 0; done < nr_pages; done += n) {
		n = min(per_call, nr_pages - done);
		t0 = ktime_get_ns();
		shim_twin_unpin_pages(b->twin, pages + done, n);
		shim_put(pages + done, n, b->mode);
		clock_add(clock, ktime_get_ns() - t0);
		cond_resched();
	}
}

static int shim_batch(void __user *arg)
{
	struct shim_clock get = { .min = U64_MAX }, put = { .min = U64_MAX };
	struct pin_shim_batch b;
	unsigned long nr_pages, per_call, taken;
	bool twin_failed = false;
	struct page **pages;
	u32 it;
	int ret;

	if (copy_from_user(&b, arg, sizeof(b)))
		return -EFAULT;
	if (memchr_inv(b.reserved2, 0, sizeof(b.reserved2)))
		return -EINVAL;
	ret = shim_check_mode(b.mode) ?: shim_check_twin(b.twin, b.mode);
	if (ret)
		return ret;
	ret = shim_check_range(b.addr, b.size, &nr_pages);
	if (ret)
		return ret;
	if (!b.nr_pages_per_call || b.nr_pages_per_call > PIN_SHIM_MAX_PAGES ||
	    !b.iterations || b.iterations > PIN_SHIM_MAX_ITERATIONS)
		return -EINVAL;
	per_call = b.nr_pages_per_call;

	pages = shim_alloc_pages(nr_pages);
	if (!pages)
		return -ENOMEM;

	b.nr_calls = 0;
	b.nr_pages = 0;
	b.nr_not_dma_pinned = 0;
	b.nr_alloc_failures = 0;
	for (it = 0; it < b.iterations; it++) {
		taken = batch_get(&b, nr_pages, per_call, pages, &get, &ret,
				  &twin_failed);
		if (ret) {
			shim_twin_unpin_range(b.twin, pages, taken);
			shim_put(pages, taken, b.mode);
			break;
		}
		/* Untimed, between the phases, as gup_test checks its pins. */
		b.nr_not_dma_pinned += b.twin ?
			shim_twin_count_unpinned(b.twin, pages, taken) :
			shim_count_not_dma_pinned(pages, taken, b.mode);
		batch_put(&b, taken, per_call, pages, &put);
		b.nr_calls += DIV_ROUND_UP(taken, per_call);
		b.nr_pages += taken;
		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	kvfree(pages);
	if (twin_failed) {
		/* The twin found no memory: say so, nothing is left taken. */
		b.nr_alloc_failures = 1;
		if (copy_to_user(arg, &b, sizeof(b)))
			return -EFAULT;
	}
	if (ret)
		return ret;

	b.get_ns = get.sum;
	b.put_ns = put.sum;
	b.get_min_ns = get.min;
	b.get_max_ns = get.max;
	b.put_min_ns = put.min;
	b.put_max_ns = put.max;
	return copy_to_user(arg, &b, sizeof(b)) ? -EFAULT : 0;
}

static void shim_unhold_all(struct pin_shim_file *f)
{
	while (f->nr_holds)
		shim_release(&f->holds[--f->nr_holds]);
	f->held_pages = 0;
}

static int shim_hold(struct pin_shim_file *f, void __user *arg)
{
	struct pin_shim_hold h;
	struct shim_range *r;
	unsigned long nr_pages;
	int ret;

	if (copy_from_user(&h, arg, sizeof(h)))
		return -EFAULT;
	ret = shim_check_mode(h.mode) ?: shim_check_twin(h.twin, h.mode);
	if (ret)
		return ret;
	ret = shim_check_range(h.addr, h.size, &nr_pages);
	if (ret)
		return ret;

	if (mutex_lock_killable(&f->lock))
		return -EINTR;
	if (f->nr_holds == PIN_SHIM_MAX_HOLDS ||
	    nr_pages > PIN_SHIM_MAX_HELD_PAGES - f->held_pages) {
		ret = -ENOSPC;
		goto out;
	}
	r = &f->holds[f->nr_holds];
	ret = shim_take(r, h.addr, nr_pages, h.mode, h.twin);
	if (ret)
		goto out;
	f->nr_holds++;
	f->held_pages += nr_pages;
	h.held_pages = f->held_pages;
	if (copy_to_user(arg, &h, sizeof(h))) {
		/* The caller cannot learn of the hold: undo it. */
		f->nr_holds--;
		f->held_pages -= nr_pages;
		shim_release(r);
		ret = -EFAULT;
	}
out:
	mutex_unlock(&f->lock);
	return ret;
}

static long shim_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct pin_shim_file *f = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case PIN_SHIM_INFO:
		return shim_info(uarg);
	case PIN_SHIM_BATCH:
		return shim_batch(uarg);
	case PIN_SHIM_HOLD:
		return shim_hold(f, uarg);
	case PIN_SHIM_LOOKUP:
		return shim_lookup(f, uarg);
	case PIN_SHIM_TWIN_STATS:
		return shim_twin_stats(uarg);
	case PIN_SHIM_UNHOLD:
		if (mutex_lock_killable(&f->lock))
			return -EINTR;
		shim_unhold_all(f);
		mutex_unlock(&f->lock);
		return 0;
	default:
		return -ENOTTY;
	}
}

static int shim_open(struct inode *inode, struct file *file)
{
	struct pin_shim_file *f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);

	if (!f)
		return -ENOMEM;
	mutex_init(&f->lock);
	file->private_data = f;
	return nonseekable_open(inode, file);
}

/* The last reference is gone (close, exit, SIGKILL): give everything back. */
static int shim_file_release(struct inode *inode, struct file *file)
{
	struct pin_shim_file *f = file->private_data;

	shim_unhold_all(f);
	mutex_destroy(&f->lock);
	kfree(f);
	return 0;
}

const struct file_operations shim_batch_fops = {
	.owner = THIS_MODULE,
	.open = shim_open,
	.release = shim_file_release,
	.unlocked_ioctl = shim_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};
