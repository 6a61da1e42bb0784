// SPDX-License-Identifier: GPL-2.0
/*
 * shim_twins - checks the pin_shim twins (PIN_SHIM_TWIN_*) in a real kernel:
 *
 *   shim_twins check          every twin through PIN_SHIM_BATCH and
 *                             PIN_SHIM_HOLD, maybe_dma_pinned true while
 *                             held and false after release (PIN_SHIM_LOOKUP),
 *                             memory back to its baseline, one record per
 *                             folio of a THP hold, refusals
 *   shim_twins hold MIB TWIN  holds MIB with TWIN until killed
 *   shim_twins quiet          exit 0 iff no twin records a pin or holds a node
 *   shim_twins failslab       fails the xarray twin's node allocations with
 *                             the kernel's failslab (radix_tree_node only,
 *                             this task only): the pin must fail cleanly;
 *                             exit 4 where the kernel has no failslab
 *
 * `check` also injects failures with the module's twin_fail_every
 * parameter (every twin, both ABIs): a failed record must leave nothing.
 *
 * One verdict line per check; exit 1 on any FAIL.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/ioctl.h>
#include "checks.h"

static const struct {
	const char *name;
	unsigned int twin;
} twins[] = {
	{ "xarray", PIN_SHIM_TWIN_XARRAY },
	{ "exact", PIN_SHIM_TWIN_EXACT },
};

static struct pin_shim_twin_stats stats(int fd, unsigned int twin)
{
	struct pin_shim_twin_stats st = { .twin = twin };

	if (ioctl(fd, PIN_SHIM_TWIN_STATS, &st))
		die("TWIN_STATS %u: %s", twin, strerror(errno));
	return st;
}

/* A twin's entries, read through a file of its own. */
static unsigned long long stats_entries(unsigned int twin)
{
	int fd = open_or_die(PIN_SHIM_PATH);
	unsigned long long n = stats(fd, twin).nr_entries;

	close(fd);
	return n;
}

static struct pin_shim_lookup lookup(int fd, unsigned int twin)
{
	struct pin_shim_lookup l = { .twin = twin, .iterations = 3 };

	if (ioctl(fd, PIN_SHIM_LOOKUP, &l))
		die("LOOKUP %u: %s", twin, strerror(errno));
	return l;
}

static int hold(int fd, char *p, size_t size, unsigned int mode,
		unsigned int twin)
{
	struct pin_shim_hold h = {
		.addr = (uintptr_t)p, .size = size, .mode = mode, .twin = twin,
	};

	return ioctl(fd, PIN_SHIM_HOLD, &h) ? -errno : 0;
}

/* BATCH with a twin, fast and slow: all pages taken, recorded, released. */
static void check_batch(int fd, const char *name, unsigned int twin, char *p,
			size_t size)
{
	static const unsigned int modes[] = { PIN_SHIM_MODE_FAST, 0 };
	long long before = pins_in_flight();
	unsigned int m;

	for (m = 0; m < 2; m++) {
		struct pin_shim_batch b = {
			.addr = (uintptr_t)p, .size = size,
			.nr_pages_per_call = 64, .iterations = 4,
			.mode = modes[m] | PIN_SHIM_MODE_WRITE, .twin = twin,
		};
		int ret = ioctl(fd, PIN_SHIM_BATCH, &b) ? -errno : 0;
		struct pin_shim_twin_stats st = stats(fd, twin);

		check(ret == 0 && b.nr_pages == 4 * (size / PAGE) &&
		      b.get_ns && b.put_ns && !b.nr_not_dma_pinned &&
		      !b.nr_alloc_failures && !st.nr_entries &&
		      pins_in_flight() == before,
		      "BATCH %s %s: ret %d, %llu pages, get %.1f put %.1f ns/page, all pinned while held, %llu entries after",
		      name, m ? "slow" : "fast", ret,
		      (unsigned long long)b.nr_pages,
		      b.nr_pages ? (double)b.get_ns / b.nr_pages : 0.0,
		      b.nr_pages ? (double)b.put_ns / b.nr_pages : 0.0,
		      (unsigned long long)st.nr_entries);
	}
}

/* HOLD, LOOKUP while held and after, memory back to baseline. */
static void check_hold(int fd, const char *name, unsigned int twin, char *p,
		       size_t size)
{
	unsigned long pages = size / PAGE;
	struct pin_shim_twin_stats base = stats(fd, twin), held, after;
	struct pin_shim_lookup l;
	int ret;

	ret = hold(fd, p, size, PIN_SHIM_MODE_FAST | PIN_SHIM_MODE_WRITE, twin);
	held = stats(fd, twin);
	l = lookup(fd, twin);
	check(ret == 0 && held.nr_entries == base.nr_entries + pages &&
	      (twin != PIN_SHIM_TWIN_XARRAY ||
	       (held.nr_nodes >= base.nr_nodes + pages / 64 &&
		held.tracking_bytes > base.tracking_bytes)) &&
	      l.nr_pages == 3 * pages && l.nr_pinned == l.nr_pages,
	      "HOLD %s %lu pages: %llu entries, %llu bytes (%llu nodes), lookup %.1f ns/page, %llu of %llu pinned",
	      name, pages, (unsigned long long)held.nr_entries,
	      (unsigned long long)held.tracking_bytes,
	      (unsigned long long)held.nr_nodes,
	      l.nr_pages ? (double)l.lookup_ns / l.nr_pages : 0.0,
	      (unsigned long long)l.nr_pinned, (unsigned long long)l.nr_pages);
	ioctl(fd, PIN_SHIM_UNHOLD);
	after = stats(fd, twin);
	check(after.nr_entries == base.nr_entries &&
	      after.tracking_bytes == base.tracking_bytes &&
	      after.nr_nodes == base.nr_nodes,
	      "UNHOLD %s: entries %llu, bytes %llu, nodes %llu: back to the baseline",
	      name, (unsigned long long)after.nr_entries,
	      (unsigned long long)after.tracking_bytes,
	      (unsigned long long)after.nr_nodes);

	/* The same pages, held now without the twin: the twin says unpinned. */
	ret = hold(fd, p, size, PIN_SHIM_MODE_FAST, PIN_SHIM_TWIN_NONE);
	l = lookup(fd, twin);
	check(ret == 0 && l.nr_pages == 3 * pages && !l.nr_pinned,
	      "LOOKUP %s after release: %llu of %llu pages read pinned",
	      name, (unsigned long long)l.nr_pinned,
	      (unsigned long long)l.nr_pages);
	ioctl(fd, PIN_SHIM_UNHOLD);
}

/* Two files hold the same pages with the twin: two pins per pfn. Closing
 * one leaves every page pinned once, the entries unchanged. */
static void check_two_pins(const char *name, unsigned int twin, char *p,
			   size_t size)
{
	int a = open_or_die(PIN_SHIM_PATH), b = open_or_die(PIN_SHIM_PATH);
	struct pin_shim_twin_stats base = stats(a, twin), both, one;
	unsigned long pages = size / PAGE;
	struct pin_shim_lookup l;
	int ra, rb;

	ra = hold(a, p, size, PIN_SHIM_MODE_FAST, twin);
	rb = hold(b, p, size, PIN_SHIM_MODE_FAST, twin);
	both = stats(a, twin);
	close(b);
	one = stats(a, twin);
	l = lookup(a, twin);
	check(ra == 0 && rb == 0 && both.nr_entries == base.nr_entries + pages &&
	      one.nr_entries == both.nr_entries && l.nr_pinned == l.nr_pages &&
	      l.nr_pages == 3 * pages,
	      "%s counts two pins per pfn: %llu entries with two files, %llu after closing one, %llu of %llu still pinned",
	      name, (unsigned long long)both.nr_entries,
	      (unsigned long long)one.nr_entries,
	      (unsigned long long)l.nr_pinned, (unsigned long long)l.nr_pages);
	close(a);
	check(stats_entries(twin) == base.nr_entries,
	      "%s: closing the other file forgets the last pins", name);
}

/*
 * Bytes of the mapping that holds p the kernel backs with THP (smaps
 * AnonHugePages), 0 if it cannot tell.
 */
static unsigned long thp_bytes(const char *p)
{
	unsigned long start, end, kb = 0;
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	int in = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = (uintptr_t)p >= start && (uintptr_t)p < end;
		else if (in && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb << 10;
}

/*
 * A THP-backed hold: one entry per folio (a 2 MiB folio's 512 pages are
 * one record of 512 pins), as the models record one per folio run.
 */
static void check_thp(int fd, const char *name, unsigned int twin)
{
	const size_t size = 4UL << 20;
	char *p = thp_buffer(size);
	unsigned long thp = thp_bytes(p) / PAGE, pages = size / PAGE;
	unsigned long folios = pages - thp + thp / 512;
	struct pin_shim_twin_stats base = stats(fd, twin), held, after;
	struct pin_shim_lookup l;
	int ret;

	if (!thp) {
		printf("# SKIP %s THP hold: the kernel gave the buffer no THP\n", name);
		munmap(p, size);
		return;
	}
	ret = hold(fd, p, size, PIN_SHIM_MODE_FAST | PIN_SHIM_MODE_WRITE, twin);
	held = stats(fd, twin);
	l = lookup(fd, twin);
	ioctl(fd, PIN_SHIM_UNHOLD);
	after = stats(fd, twin);
	check(ret == 0 && held.nr_entries == base.nr_entries + folios &&
	      l.nr_pinned == l.nr_pages && l.nr_pages == 3 * pages &&
	      after.nr_entries == base.nr_entries,
	      "HOLD %s THP: %lu pages in %lu folios (%lu in THP): %llu entries, %llu of %llu pinned, %llu after",
	      name, pages, folios, thp,
	      (unsigned long long)(held.nr_entries - base.nr_entries),
	      (unsigned long long)l.nr_pinned, (unsigned long long)l.nr_pages,
	      (unsigned long long)after.nr_entries);
	munmap(p, size);
}

#define FAIL_EVERY "/sys/module/pin_shim/parameters/twin_fail_every"

static int write_file(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -1;
	ok = fputs(value, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* Every 50th twin pin fails: BATCH and HOLD fail cleanly, nothing left. */
static void check_injected(int fd, const char *name, unsigned int twin,
			   char *p, size_t size)
{
	struct pin_shim_twin_stats before = stats(fd, twin), after;
	struct pin_shim_batch b = {
		.addr = (uintptr_t)p, .size = size, .nr_pages_per_call = 64,
		.iterations = 1, .mode = PIN_SHIM_MODE_FAST, .twin = twin,
	};
	long long pins = pins_in_flight();
	int rb, rh;

	if (write_file(FAIL_EVERY, "50")) {
		check(0, "%s: cannot write %s: %s", name, FAIL_EVERY, strerror(errno));
		return;
	}
	rb = ioctl(fd, PIN_SHIM_BATCH, &b) ? -errno : 0;
	rh = hold(fd, p, size, PIN_SHIM_MODE_FAST, twin);
	write_file(FAIL_EVERY, "0");
	after = stats(fd, twin);
	check(rb == -ENOMEM && b.nr_alloc_failures == 1 && rh == -ENOMEM &&
	      after.alloc_failures >= before.alloc_failures + 2 &&
	      after.nr_entries == before.nr_entries && pins_in_flight() == pins,
	      "%s with every 50th pin failing: BATCH %d, HOLD %d, %llu failures counted, %llu entries left",
	      name, rb, rh,
	      (unsigned long long)(after.alloc_failures - before.alloc_failures),
	      (unsigned long long)after.nr_entries);
}

static void check_refusals(int fd, char *p)
{
	struct pin_shim_batch b = {
		.addr = (uintptr_t)p, .size = PAGE, .nr_pages_per_call = 1,
		.iterations = 1, .mode = PIN_SHIM_MODE_PIN,
		.twin = PIN_SHIM_TWIN_XARRAY,
	};
	struct pin_shim_lookup l = { .twin = PIN_SHIM_TWIN_EXACT };
	struct pin_shim_twin_stats st = { .twin = PIN_SHIM_TWIN_NONE };
	int ret;

	ret = ioctl(fd, PIN_SHIM_BATCH, &b);
	check(ret == -1 && errno == EINVAL, "BATCH twin with FOLL_PIN: EINVAL");
	b.mode = 0;
	b.twin = PIN_SHIM_NR_TWINS;
	ret = ioctl(fd, PIN_SHIM_BATCH, &b);
	check(ret == -1 && errno == EINVAL, "BATCH unknown twin: EINVAL");
	ret = hold(fd, p, PAGE, PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_LONGTERM,
		   PIN_SHIM_TWIN_EXACT);
	check(ret == -EINVAL, "HOLD twin with FOLL_LONGTERM: EINVAL");
	ret = ioctl(fd, PIN_SHIM_LOOKUP, &l);
	check(ret == -1 && errno == EINVAL, "LOOKUP 0 iterations: EINVAL");
	l.iterations = 1;
	l.reserved[1] = 1;
	ret = ioctl(fd, PIN_SHIM_LOOKUP, &l);
	check(ret == -1 && errno == EINVAL, "LOOKUP reserved field set: EINVAL");
	ret = ioctl(fd, PIN_SHIM_TWIN_STATS, &st);
	check(ret == -1 && errno == EINVAL, "TWIN_STATS of no twin: EINVAL");
}

static int check_twins(void)
{
	const size_t size = 4UL << 20;
	int fd = open_or_die(PIN_SHIM_PATH);
	char *p = buffer(size, MADV_NOHUGEPAGE);
	struct pin_shim_info info;
	unsigned int i;

	if (ioctl(fd, PIN_SHIM_INFO, &info))
		die("INFO: %s", strerror(errno));
	check(info.abi_version == PIN_SHIM_ABI_VERSION &&
	      info.nr_twins == PIN_SHIM_NR_TWINS,
	      "INFO: ABI %u, %u twins", info.abi_version, info.nr_twins);
	for (i = 0; i < sizeof(twins) / sizeof(twins[0]); i++) {
		check_batch(fd, twins[i].name, twins[i].twin, p, size);
		check_hold(fd, twins[i].name, twins[i].twin, p, size);
		check_two_pins(twins[i].name, twins[i].twin, p, size);
		check_injected(fd, twins[i].name, twins[i].twin, p, size);
		check_thp(fd, twins[i].name, twins[i].twin);
	}
	check_refusals(fd, p);
	close(fd);
	return failures;
}

static void __attribute__((noreturn)) hold_until_killed(const char *mib,
							const char *name)
{
	size_t size = strtoul(mib, NULL, 0) << 20;
	int fd = open_or_die(PIN_SHIM_PATH);
	unsigned int i;

	for (i = 0; i < sizeof(twins) / sizeof(twins[0]); i++)
		if (!strcmp(twins[i].name, name))
			break;
	if (i == sizeof(twins) / sizeof(twins[0]))
		die("no twin %s", name);
	if (hold(fd, buffer(size, -1), size, PIN_SHIM_MODE_FAST, twins[i].twin))
		die("HOLD %zu bytes with %s: %s", size, name, strerror(errno));
	printf("held %zu pages with %s: %llu entries\n", size / PAGE, name,
	       (unsigned long long)stats(fd, twins[i].twin).nr_entries);
	fflush(stdout);
	for (;;)
		pause();
}

/* No twin records a pin or holds a node. */
static int quiet(void)
{
	int fd = open_or_die(PIN_SHIM_PATH);
	unsigned int i;
	int busy = 0;

	for (i = 0; i < sizeof(twins) / sizeof(twins[0]); i++) {
		struct pin_shim_twin_stats st = stats(fd, twins[i].twin);

		printf("%s: %llu entries, %llu nodes, %llu bytes, %llu allocation failures\n",
		       twins[i].name, (unsigned long long)st.nr_entries,
		       (unsigned long long)st.nr_nodes,
		       (unsigned long long)st.tracking_bytes,
		       (unsigned long long)st.alloc_failures);
		busy |= st.nr_entries || st.nr_nodes;
	}
	close(fd);
	return busy;
}

#define FAILSLAB "/sys/kernel/debug/failslab/"

/* Every radix_tree_node allocation that cannot sleep fails, for a moment. */
static int failslab(void)
{
	const size_t size = 1UL << 20;
	int fd = open_or_die(PIN_SHIM_PATH);
	char *p = buffer(size, -1);
	struct pin_shim_batch b = {
		.addr = (uintptr_t)p, .size = size, .nr_pages_per_call = 64,
		.iterations = 1, .mode = PIN_SHIM_MODE_FAST,
		.twin = PIN_SHIM_TWIN_XARRAY,
	};
	struct pin_shim_twin_stats before, after;
	int ret;

	if (access(FAILSLAB "probability", W_OK) ||
	    access("/sys/kernel/slab/radix_tree_node/failslab", W_OK)) {
		printf("no failslab in this kernel (CONFIG_FAILSLAB)\n");
		return 4;
	}
	before = stats(fd, PIN_SHIM_TWIN_XARRAY);
	if (write_file("/sys/kernel/slab/radix_tree_node/failslab", "1") ||
	    write_file(FAILSLAB "task-filter", "Y") ||
	    write_file("/proc/self/make-it-fail", "1") ||
	    write_file(FAILSLAB "cache-filter", "Y") ||
	    write_file(FAILSLAB "ignore-gfp-wait", "Y") ||
	    write_file(FAILSLAB "interval", "1") ||
	    write_file(FAILSLAB "times", "-1") ||
	    write_file(FAILSLAB "probability", "100"))
		die("setting up failslab: %s", strerror(errno));
	ret = ioctl(fd, PIN_SHIM_BATCH, &b) ? -errno : 0;
	write_file(FAILSLAB "probability", "0");
	write_file("/sys/kernel/slab/radix_tree_node/failslab", "0");
	after = stats(fd, PIN_SHIM_TWIN_XARRAY);
	check(ret == -ENOMEM && b.nr_alloc_failures == 1 &&
	      after.alloc_failures > before.alloc_failures &&
	      after.nr_entries == before.nr_entries,
	      "xarray twin under failslab: ret %d, %llu more allocation failures, %llu entries left",
	      ret, (unsigned long long)(after.alloc_failures - before.alloc_failures),
	      (unsigned long long)after.nr_entries);
	close(fd);
	return failures;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "check"))
		return check_twins() ? 1 : 0;
	if (argc == 4 && !strcmp(argv[1], "hold"))
		hold_until_killed(argv[2], argv[3]);
	if (argc == 2 && !strcmp(argv[1], "quiet"))
		return quiet() ? 1 : 0;
	if (argc == 2 && !strcmp(argv[1], "failslab")) {
		int r = failslab();

		return r == 4 ? 4 : r ? 1 : 0;
	}
	fprintf(stderr, "usage: %s check | hold MIB TWIN | quiet | failslab\n",
		argv[0]);
	return 2;
}
