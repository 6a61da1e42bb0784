// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/gup_test for kernels built without
 * CONFIG_GUP_TEST: the upstream ABI (request numbers and struct gup_test as
 * in mm/gup_test.h) on top of range.c, so the kernel's own selftest binary
 * and pinbench's gup-test backend run unchanged.
 *
 * Differences from upstream, on input run_vmtests.sh never sends (the
 * selftest binary sends some when asked): addr and size must be page
 * aligned and non-empty, nr_pages_per_call non-zero (larger than the range
 * is cut to it, as upstream), the range bounded by PIN_SHIM_MAX_PAGES,
 * gup_flags limited to FOLL_WRITE (and FOLL_LONGTERM for the pin commands:
 * `gup_test -z` sends 0x2, FOLL_TOUCH in 6.1's headers and FOLL_GET in
 * 6.12's, which upstream WARNs on and the shim refuses with -EINVAL),
 * unknown test_flags refused. The long-term test range belongs to the open
 * file, not to the whole system.
 */
#include <linux/highmem.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/ratelimit.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "pin_shim.h"

struct gup_test_file {
	struct mutex lock;		/* serialises the long-term test range */
	struct shim_range longterm;	/* PIN_LONGTERM_TEST_START .. STOP */
};

/* The request's way of taking pages, as a PIN_SHIM_MODE_* word. */
static int gup_test_mode(unsigned int cmd, const struct gup_test *gup,
			 unsigned int *mode)
{
	unsigned int m;

	switch (cmd) {
	case GUP_FAST_BENCHMARK:
		m = PIN_SHIM_MODE_FAST;
		break;
	case PIN_FAST_BENCHMARK:
		m = PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_FAST;
		break;
	case PIN_LONGTERM_BENCHMARK:
		m = PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_LONGTERM;
		break;
	case GUP_BASIC_TEST:
		m = 0;
		break;
	case PIN_BASIC_TEST:
		m = PIN_SHIM_MODE_PIN;
		break;
	case DUMP_USER_PAGES_TEST:
		m = gup->test_flags & GUP_TEST_FLAG_DUMP_PAGES_USE_PIN ?
			PIN_SHIM_MODE_PIN : 0;
		break;
	default:
		return -EINVAL;
	}
	if (gup->gup_flags & ~(FOLL_WRITE | FOLL_LONGTERM))
		return -EINVAL;
	if (gup->test_flags & ~GUP_TEST_FLAG_DUMP_PAGES_USE_PIN)
		return -EINVAL;
	if (gup->gup_flags & FOLL_WRITE)
		m |= PIN_SHIM_MODE_WRITE;
	if (gup->gup_flags & FOLL_LONGTERM)
		m |= PIN_SHIM_MODE_LONGTERM;
	*mode = m;
	return shim_check_mode(m);
}

static void gup_test_dump(struct gup_test *gup, struct page **pages,
			  unsigned long nr_taken)
{
	static DEFINE_RATELIMIT_STATE(dumps, 5 * HZ, 8);
	unsigned int i, n;

	for (i = 0; i < GUP_TEST_MAX_PAGES_TO_DUMP; i++) {
		n = gup->which_pages[i];
		if (n > nr_taken) {
			gup->which_pages[i] = 0;
			continue;
		}
		if (n && __ratelimit(&dumps)) {
			pr_info("pin_shim: gup_test: page %u of 0x%llx\n",
				n - 1, gup->addr);
			dump_page(pages[n - 1], "pin_shim DUMP_USER_PAGES_TEST");
		}
	}
}

/*
 * The six gup_test benchmarks/tests: take the range in calls of
 * nr_pages_per_call pages, stopping at the first call that comes back
 * short, time it, give it all back, time that.
 */
static int gup_test_run(unsigned int cmd, struct gup_test *gup)
{
	unsigned long nr_pages, per_call, done = 0, n;
	bool locked;
	unsigned int mode;
	struct page **pages;
	ktime_t start;
	long got;
	int ret;

	ret = gup_test_mode(cmd, gup, &mode);
	if (ret)
		return ret;
	ret = shim_check_range(gup->addr, gup->size, &nr_pages);
	if (ret)
		return ret;
	if (!gup->nr_pages_per_call)
		return -EINVAL;
	/*
	 * As upstream's __gup_test_ioctl(): the last call takes what is left
	 * (so `gup_test -n -1` takes the whole range in one call).
	 */
	per_call = min_t(unsigned long, gup->nr_pages_per_call, nr_pages);

	pages = shim_alloc_pages(nr_pages);
	if (!pages)
		return -ENOMEM;
	/* As upstream: the slow commands hold mmap_lock across both phases. */
	locked = !(mode & PIN_SHIM_MODE_FAST);
	if (locked && mmap_read_lock_killable(current->mm)) {
		kvfree(pages);
		return -EINTR;
	}

	start = ktime_get();
	while (done < nr_pages) {
		n = min(per_call, nr_pages - done);
		got = shim_get(gup->addr + done * PAGE_SIZE, n, mode,
			       pages + done);
		if (got <= 0)
			break;
		done += got;
		if (got < n)
			break;
	}
	gup->get_delta_usec = ktime_us_delta(ktime_get(), start);
	gup->size = (u64)done << PAGE_SHIFT;

	/* Untimed: the pins must show, and the dump test dumps. */
	shim_count_not_dma_pinned(pages, done, mode);
	if (cmd == DUMP_USER_PAGES_TEST)
		gup_test_dump(gup, pages, done);

	start = ktime_get();
	shim_put(pages, done, mode);
	gup->put_delta_usec = ktime_us_delta(ktime_get(), start);

	if (locked)
		mmap_read_unlock(current->mm);
	kvfree(pages);
	return 0;
}

static int longterm_start(struct gup_test_file *f, void __user *arg)
{
	struct pin_longterm_test lt;
	unsigned int mode = PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_LONGTERM;
	unsigned long nr_pages;
	int ret;

	if (f->longterm.pages)
		return -EINVAL;
	if (copy_from_user(&lt, arg, sizeof(lt)))
		return -EFAULT;
	if (lt.flags & ~(PIN_LONGTERM_TEST_FLAG_USE_WRITE |
			 PIN_LONGTERM_TEST_FLAG_USE_FAST))
		return -EINVAL;
	ret = shim_check_range(lt.addr, lt.size, &nr_pages);
	if (ret)
		return ret;
	if (lt.flags & PIN_LONGTERM_TEST_FLAG_USE_WRITE)
		mode |= PIN_SHIM_MODE_WRITE;
	if (lt.flags & PIN_LONGTERM_TEST_FLAG_USE_FAST)
		mode |= PIN_SHIM_MODE_FAST;
	return shim_take(&f->longterm, lt.addr, nr_pages, mode, PIN_SHIM_TWIN_NONE);
}

/* Copies the pinned pages' contents, in order, to the user address given. */
static int longterm_read(struct gup_test_file *f, void __user *arg)
{
	unsigned long i, left;
	u64 dst;
	void *src;

	if (!f->longterm.pages)
		return -EINVAL;
	if (copy_from_user(&dst, arg, sizeof(dst)))
		return -EFAULT;
	for (i = 0; i < f->longterm.nr; i++, dst += PAGE_SIZE) {
		if (dst > ULONG_MAX - PAGE_SIZE)
			return -EFAULT;
		src = kmap_local_page(f->longterm.pages[i]);
		left = copy_to_user(u64_to_user_ptr(dst), src, PAGE_SIZE);
		kunmap_local(src);
		if (left)
			return -EFAULT;
	}
	return 0;
}

static long longterm_ioctl(struct gup_test_file *f, unsigned int cmd,
			   void __user *arg)
{
	long ret;

	if (mutex_lock_killable(&f->lock))
		return -EINTR;
	switch (cmd) {
	case PIN_LONGTERM_TEST_START:
		ret = longterm_start(f, arg);
		break;
	case PIN_LONGTERM_TEST_STOP:
		shim_release(&f->longterm);
		ret = 0;
		break;
	default: /* PIN_LONGTERM_TEST_READ */
		ret = longterm_read(f, arg);
		break;
	}
	mutex_unlock(&f->lock);
	return ret;
}

static long gup_test_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct gup_test gup;
	int ret;

	switch (cmd) {
	case GUP_FAST_BENCHMARK:
	case PIN_FAST_BENCHMARK:
	case PIN_LONGTERM_BENCHMARK:
	case GUP_BASIC_TEST:
	case PIN_BASIC_TEST:
	case DUMP_USER_PAGES_TEST:
		break;
	case PIN_LONGTERM_TEST_START:
	case PIN_LONGTERM_TEST_STOP:
	case PIN_LONGTERM_TEST_READ:
		return longterm_ioctl(file->private_data, cmd, uarg);
	default:
		return -EINVAL;	/* as upstream */
	}

	if (copy_from_user(&gup, uarg, sizeof(gup)))
		return -EFAULT;
	ret = gup_test_run(cmd, &gup);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &gup, sizeof(gup)))
		return -EFAULT;
	return 0;
}

static int gup_test_open(struct inode *inode, struct file *file)
{
	struct gup_test_file *f = kzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return -ENOMEM;
	mutex_init(&f->lock);
	file->private_data = f;
	return nonseekable_open(inode, file);
}

static int gup_test_release(struct inode *inode, struct file *file)
{
	struct gup_test_file *f = file->private_data;

	shim_release(&f->longterm);
	mutex_destroy(&f->lock);
	kfree(f);
	return 0;
}

const struct file_operations shim_gup_test_fops = {
	.owner = THIS_MODULE,
	.open = gup_test_open,
	.release = gup_test_release,
	.unlocked_ioctl = gup_test_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};
