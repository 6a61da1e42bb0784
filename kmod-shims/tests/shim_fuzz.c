// SPDX-License-Identifier: GPL-2.0
/*
 * shim_fuzz - throws bad and random ioctls at both pin_shim interfaces
 * (/sys/kernel/debug/gup_test and /dev/pin_shim) and checks after each
 * one that the FOLL_PIN pins in flight (/proc/vmstat nr_foll_pin_acquired -
 * nr_foll_pin_released) moved only as that call may move them: a failed
 * call, a batch or a benchmark not at all, a hold by at most its pages, a
 * release by exactly what the holds took.
 *
 *   shim_fuzz [-n CALLS] [-s SEED] [-j PROCESSES]
 *
 * With -j, PROCESSES processes share the two open files (forked after
 * opening them), so holds, releases and batches race on one file; the pin
 * count is then checked once, after every process has closed them.
 *
 * Inputs are drawn from pools of interesting values: addresses in a
 * writable, a read-only, a PROT_NONE and a shared memfd mapping, in holes,
 * unaligned, in the kernel, at the top of the address space; sizes zero,
 * one byte, a few pages, huge, wrapping; unknown modes, twins, flags and
 * reserved bits; argument pointers that are NULL, unmapped, read-only or straddle a
 * hole; wrong request numbers. Files are closed and reopened now and then
 * so release runs with holds outstanding.
 *
 * At the end, with every file closed, no twin may still record a pin.
 *
 * Prints the number of calls and their errno histogram; exits 1 if the pin
 * count ever disagrees, a twin is left holding records, or a call fails with an errno the ABI does not
 * promise, 0 otherwise.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

/* Layout of the arena: regions at fixed page offsets, guard gaps between. */
enum { RW, RO, NONE, HOLE, SHM, SHM_RO, OUT, ARGS, NR_REGIONS };
static const struct {
	unsigned long off, pages;
} layout[NR_REGIONS] = {
	[RW] = { 16, 64 },	[RO] = { 96, 16 },	[NONE] = { 128, 16 },
	[HOLE] = { 160, 16 },	[SHM] = { 192, 16 },	[SHM_RO] = { 224, 16 },
	[OUT] = { 256, 256 },	[ARGS] = { 544, 4 },
};
#define ARENA_PAGES	576UL

static char *arena;
static uint64_t rng;
static int gup_fd = -1, shim_fd = -1;
static long long base, held_pins, longterm_pins;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static unsigned int pick(unsigned int n)
{
	return rnd() % n;
}

static char *region(int r)
{
	return arena + layout[r].off * PAGE;
}

static uint64_t region_addr(int r)
{
	return (uintptr_t)region(r) + pick(layout[r].pages) * PAGE;
}

static void setup(void)
{
	int memfd;
	unsigned long i;

	arena = mmap(NULL, ARENA_PAGES * PAGE, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (arena == MAP_FAILED)
		die("mmap arena: %s", strerror(errno));
	/* Everything but HOLE (and the gaps) is mapped over the arena. */
	munmap(region(HOLE), layout[HOLE].pages * PAGE);
#define MAPR(r, prot, flags, fd)						\
	do {								\
		if (mmap(region(r), layout[r].pages * PAGE, prot,	\
			 MAP_FIXED | (flags), fd, 0) == MAP_FAILED)	\
			die("mmap region %d: %s", r, strerror(errno));	\
	} while (0)
	MAPR(RW, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	MAPR(RO, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	MAPR(OUT, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	MAPR(ARGS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	memfd = memfd_create("shim_fuzz", 0);
	if (memfd < 0 || ftruncate(memfd, 16 * PAGE))
		die("memfd: %s", strerror(errno));
	MAPR(SHM, PROT_READ | PROT_WRITE, MAP_SHARED, memfd);
	MAPR(SHM_RO, PROT_READ, MAP_SHARED, memfd);
	close(memfd);
	for (i = 0; i < layout[RW].pages; i += 2)	/* half faulted in */
		region(RW)[i * PAGE] = 1;
	region(SHM)[0] = 1;
}

static uint64_t pick_addr(void)
{
	switch (pick(18)) {
	case 0: case 1: case 2: case 3: return region_addr(RW);
	case 4: return region_addr(RO);
	case 5: return region_addr(NONE);
	case 6: return region_addr(HOLE);
	case 7: return region_addr(SHM);
	case 8: return region_addr(SHM_RO);
	case 9: return 0;
	case 10: return region_addr(RW) + 1 + pick(PAGE - 1);
	case 11: return 0xffff888000000000ULL;		/* the direct map */
	case 12: return 0xffffffffff600000ULL;		/* vsyscall */
	case 13: return ~0ULL & ~(PAGE - 1);
	case 14: return (1ULL << 47) - PAGE;		/* top of user space */
	case 15: return rnd();
	case 16: return rnd() & ((1ULL << 47) - PAGE);
	default: return (uintptr_t)region(RW) + (layout[RW].pages - 1) * PAGE;
	}
}

static uint64_t pick_size(void)
{
	switch (pick(16)) {
	case 0: return 0;
	case 1: return 1 + pick(PAGE - 1);
	case 2: case 3: case 4: return PAGE;
	case 5: case 6: case 7: return (1 + pick(8)) * PAGE;
	case 8: return (1 + pick(64)) * PAGE;
	case 9: return 65 * PAGE;			/* past the RW region */
	case 10: return 1ULL << 30;
	case 11: return (uint64_t)PIN_SHIM_MAX_PAGES * PAGE;
	case 12: return (uint64_t)(PIN_SHIM_MAX_PAGES + 1) * PAGE;
	case 13: return ~0ULL & ~(PAGE - 1);
	case 14: return rnd();
	default: return (rnd() & 0xffffff) & ~(PAGE - 1);
	}
}

static uint32_t pick_u32(uint32_t usual, uint32_t max)
{
	switch (pick(10)) {
	case 0: return 0;
	case 1: return max + 1;
	case 2: return 0xffffffffU;
	case 3: return (uint32_t)rnd() | (max << 1);	/* always > max */
	case 4: return 1 + pick(usual * 4);
	default: return 1 + pick(usual);
	}
}

static uint32_t pick_mode(void)
{
	switch (pick(8)) {
	case 0: return (uint32_t)rnd();
	case 1: return 1U << pick(32);
	case 2: return PIN_SHIM_MODE_LONGTERM | pick(2) * PIN_SHIM_MODE_FAST;
	default: return pick(PIN_SHIM_MODE_ALL + 1);
	}
}

/* A twin: mostly none or a real one, sometimes past the table or noise. */
static uint32_t pick_twin(void)
{
	switch (pick(10)) {
	case 0: return PIN_SHIM_NR_TWINS;
	case 1: return (uint32_t)rnd();
	default: return pick(PIN_SHIM_NR_TWINS);
	}
}

static uint32_t pick_gup_flags(void)
{
	switch (pick(6)) {
	case 0: return 0;
	case 1: case 2: return TEST_FOLL_WRITE;
	case 3: return 0x10000 | pick(2);		/* FOLL_LONGTERM on 6.1 */
	case 4: return 1U << pick(32);
	default: return (uint32_t)rnd();
	}
}

union args {
	struct gup_test gup;
	struct pin_longterm_test lt;
	uint64_t dst;
	struct pin_shim_batch batch;
	struct pin_shim_hold hold;
	struct pin_shim_info info;
	struct pin_shim_lookup lookup;
	struct pin_shim_twin_stats stats;
	unsigned char bytes[256];
};

static void fill(unsigned long cmd, union args *a)
{
	unsigned int i;

	memset(a, 0, sizeof(*a));
	if (!pick(12)) {				/* pure noise */
		for (i = 0; i < sizeof(a->bytes); i++)
			a->bytes[i] = rnd();
		return;
	}
	switch (cmd) {
	case GUP_FAST_BENCHMARK: case PIN_FAST_BENCHMARK:
	case PIN_LONGTERM_BENCHMARK: case GUP_BASIC_TEST:
	case PIN_BASIC_TEST: case DUMP_USER_PAGES_TEST:
		a->gup.addr = pick_addr();
		a->gup.size = pick_size();
		a->gup.nr_pages_per_call = pick_u32(16, PIN_SHIM_MAX_PAGES);
		a->gup.gup_flags = pick_gup_flags();
		a->gup.test_flags = pick(4) ? pick(2) : (uint32_t)rnd();
		for (i = 0; i < GUP_TEST_MAX_PAGES_TO_DUMP; i++)
			a->gup.which_pages[i] = pick(3) ? 0 :
				(pick(2) ? pick(80) : (uint32_t)rnd());
		break;
	case PIN_LONGTERM_TEST_START:
		a->lt.addr = pick_addr();
		a->lt.size = pick_size();
		a->lt.flags = pick(4) ? pick(4) : (uint32_t)rnd();
		break;
	case PIN_LONGTERM_TEST_READ:
		switch (pick(5)) {
		case 0: case 1: a->dst = (uintptr_t)region(OUT); break;
		case 2: a->dst = region_addr(RO); break;
		case 3: a->dst = region_addr(HOLE); break;
		default: a->dst = rnd(); break;
		}
		break;
	case PIN_SHIM_BATCH:
		a->batch.addr = pick_addr();
		a->batch.size = pick_size();
		a->batch.nr_pages_per_call = pick_u32(16, PIN_SHIM_MAX_PAGES);
		a->batch.mode = pick_mode();
		a->batch.iterations = pick_u32(3, PIN_SHIM_MAX_ITERATIONS);
		a->batch.twin = pick_twin();
		if (!pick(10))
			a->batch.reserved2[pick(2)] = rnd() | 1;
		a->batch.get_ns = rnd();			/* ignored on input */
		break;
	case PIN_SHIM_HOLD:
		a->hold.addr = pick_addr();
		a->hold.size = pick_size();
		a->hold.mode = pick_mode();
		a->hold.twin = pick_twin();
		break;
	case PIN_SHIM_LOOKUP:
		a->lookup.twin = pick_twin();
		a->lookup.iterations = pick_u32(3, PIN_SHIM_MAX_ITERATIONS);
		if (a->lookup.iterations > 64)	/* legal, but slow */
			a->lookup.iterations = 1 + pick(64);
		if (!pick(10))
			a->lookup.reserved[pick(2)] = rnd() | 1;
		break;
	case PIN_SHIM_TWIN_STATS:
		a->stats.twin = pick_twin();
		if (!pick(10))
			a->stats.reserved = (uint32_t)rnd() | 1;
		break;
	}
}

static const unsigned long gup_cmds[] = {
	GUP_FAST_BENCHMARK, PIN_FAST_BENCHMARK, PIN_LONGTERM_BENCHMARK,
	GUP_BASIC_TEST, PIN_BASIC_TEST, DUMP_USER_PAGES_TEST,
	PIN_LONGTERM_TEST_START, PIN_LONGTERM_TEST_STOP, PIN_LONGTERM_TEST_READ,
};
static const unsigned long shim_cmds[] = {
	PIN_SHIM_INFO, PIN_SHIM_BATCH, PIN_SHIM_HOLD, PIN_SHIM_UNHOLD,
	PIN_SHIM_LOOKUP, PIN_SHIM_TWIN_STATS,
};
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A request number: mostly right, sometimes with a wrong size or noise. */
static unsigned long pick_cmd(int *fd_is_gup)
{
	unsigned long cmd;

	*fd_is_gup = pick(2);
	cmd = *fd_is_gup ? gup_cmds[pick(ARRAY_SIZE(gup_cmds))] :
			   shim_cmds[pick(ARRAY_SIZE(shim_cmds))];
	switch (pick(20)) {
	case 0: return cmd ^ ((1UL + pick(64)) << _IOC_SIZESHIFT);
	case 1: return (uint32_t)rnd();
	case 2: *fd_is_gup = !*fd_is_gup; return cmd;	/* the other file */
	default: return cmd;
	}
}

/* Where the argument lives: mostly a good page, sometimes not. */
static void *place_args(const union args *a)
{
	char *args = region(ARGS);

	switch (pick(25)) {
	case 0: return NULL;
	case 1: return (void *)(uintptr_t)region_addr(HOLE);
	case 2:	/* read-only: the kernel can read the input, not answer */
		mprotect(args + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE);
		memcpy(args + 2 * PAGE, a, sizeof(*a));
		mprotect(args + 2 * PAGE, PAGE, PROT_READ);
		return args + 2 * PAGE;
	case 3:	/* straddles the end of the mapping */
		memcpy(args + 4 * PAGE - 40, a, 40);
		return args + 4 * PAGE - 40;
	case 4: return (void *)(uintptr_t)rnd();
	default:
		memcpy(args, a, sizeof(*a));
		return args;
	}
}

static int reopen(int fd, const char *path)
{
	if (fd >= 0)
		close(fd);
	fd = open(path, O_RDWR);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	return fd;
}

static int errno_allowed(int e)
{
	return e == EINVAL || e == EFAULT || e == ENOMEM || e == ENOSPC ||
	       e == ENOTTY;
}

static unsigned long bad_pins, bad_twins;

/* With every file closed, no twin records a pin. */
static void expect_twins_idle(void)
{
	int fd = reopen(-1, PIN_SHIM_PATH);
	struct pin_shim_twin_stats st;
	uint32_t twin;

	for (twin = 1; twin < PIN_SHIM_NR_TWINS; twin++) {
		memset(&st, 0, sizeof(st));
		st.twin = twin;
		if (ioctl(fd, PIN_SHIM_TWIN_STATS, &st))
			die("TWIN_STATS %u: %s", twin, strerror(errno));
		if (st.nr_entries || st.nr_nodes) {
			bad_twins++;
			printf("twin %u: %llu entries, %llu nodes left\n", twin,
			       (unsigned long long)st.nr_entries,
			       (unsigned long long)st.nr_nodes);
		}
	}
	close(fd);
}
static long long last;	/* pins in flight after the previous step */

/* The pins in flight must now be @want; @what says after which step. */
static void expect(unsigned long i, const char *what, long long want)
{
	long long now = pins_in_flight();

	if (now != want && bad_pins++ < 10)
		printf("call %lu: %s: %lld pins in flight, want %lld\n", i, what,
		       now, want);
	last = now;
}

/*
 * What a call may change: a successful HOLD or PIN_LONGTERM_TEST_START adds
 * at most a pin per page (the zero page takes none, so the gain is measured
 * and remembered); UNHOLD and STOP give back exactly what was remembered;
 * everything else, failed calls above all, leaves the count alone.
 */
static void account(unsigned long i, int fd_is_gup, unsigned long cmd,
		    const void *argp, int ok, const char *what)
{
	const struct pin_shim_hold *h = argp;
	const struct pin_longterm_test *lt = argp;
	long long before = last, gain;

	if (ok && !fd_is_gup && cmd == PIN_SHIM_HOLD) {
		gain = pins_in_flight() - before;
		if (gain < 0 || gain > (long long)(h->size / PAGE))
			expect(i, what, before + h->size / PAGE);
		held_pins += gain;
		last = before + gain;
	} else if (ok && fd_is_gup && cmd == PIN_LONGTERM_TEST_START) {
		gain = pins_in_flight() - before;
		if (gain < 0 || gain > (long long)(lt->size / PAGE))
			expect(i, what, before + lt->size / PAGE);
		longterm_pins = gain;
		last = before + gain;
	} else if (ok && !fd_is_gup && cmd == PIN_SHIM_UNHOLD) {
		expect(i, what, before - held_pins);
		held_pins = 0;
	} else if (ok && fd_is_gup && cmd == PIN_LONGTERM_TEST_STOP) {
		expect(i, what, before - longterm_pins);
		longterm_pins = 0;
	} else {
		expect(i, what, before);
	}
}

/* What one process saw; in shared memory so that the parent can add up. */
struct tally {
	unsigned long ok, bad_errno, hist[256];
};

/*
 * @calls random calls. @checked: this process is alone with its files, so
 * every call's effect on the pin count is checked; otherwise other
 * processes share the files and only the end state can be.
 */
static void fuzz(unsigned long calls, int checked, struct tally *t)
{
	unsigned long i, cmd;
	char what[96];
	union args a;
	void *argp;
	int fd_is_gup, ret, e;

	for (i = 0; i < calls; i++) {
		if (!pick(400)) {
			shim_fd = reopen(shim_fd, PIN_SHIM_PATH);
			if (checked)
				expect(i, "reopening pin_shim", last - held_pins);
			held_pins = 0;
		}
		if (!pick(400)) {
			gup_fd = reopen(gup_fd, GUP_TEST_PATH);
			if (checked)
				expect(i, "reopening gup_test", last - longterm_pins);
			longterm_pins = 0;
		}
		cmd = pick_cmd(&fd_is_gup);
		fill(cmd, &a);
		argp = place_args(&a);
		ret = ioctl(fd_is_gup ? gup_fd : shim_fd, cmd, argp);
		e = ret ? errno : 0;
		snprintf(what, sizeof(what), "request %#lx on %s returned %d", cmd,
			 fd_is_gup ? "gup_test" : "pin_shim", ret ? -e : 0);
		if (ret) {
			t->hist[e & 0xff]++;
			if (!errno_allowed(e) && t->bad_errno++ < 10)
				printf("call %lu: %s (%s): errno not in the ABI\n",
				       i, what, strerror(e));
		} else {
			t->ok++;
		}
		if (checked)
			account(i, fd_is_gup, cmd, argp, !ret, what);
	}
	close(gup_fd);
	close(shim_fd);
}

int main(int argc, char **argv)
{
	unsigned long calls = 100000, ok = 0, bad_errno = 0, n;
	struct tally *tally;
	uint64_t seed = 1;
	int opt, jobs = 1, j, e, status, failed = 0;
	pid_t pid;

	while ((opt = getopt(argc, argv, "n:s:j:")) != -1) {
		switch (opt) {
		case 'n': calls = strtoul(optarg, NULL, 0); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'j': jobs = atoi(optarg); break;
		default:
			jobs = 0;
		}
	}
	if (jobs < 1 || jobs > 64) {
		fprintf(stderr, "usage: %s [-n CALLS] [-s SEED] [-j PROCESSES]\n"
			"  -j: processes sharing the two open files, CALLS each\n",
			argv[0]);
		return 2;
	}
	tally = mmap(NULL, jobs * sizeof(*tally), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tally == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	setup();
	gup_fd = reopen(-1, GUP_TEST_PATH);
	shim_fd = reopen(-1, PIN_SHIM_PATH);
	base = pins_in_flight();
	last = base;

	fflush(stdout);
	for (j = 1; j < jobs; j++) {
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (!pid) {
			rng = seed + j;
			fuzz(calls, 0, &tally[j]);
			fflush(stdout);
			_exit(0);
		}
	}
	rng = seed ? seed : 1;
	fuzz(calls, jobs == 1, &tally[0]);
	for (j = 1; j < jobs; j++)
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	expect(calls, "all files closed", base);
	expect_twins_idle();

	for (j = 0; j < jobs; j++) {
		ok += tally[j].ok;
		bad_errno += tally[j].bad_errno;
	}
	printf("shim_fuzz: %lu calls (seed %llu, %d process%s%s): %lu succeeded",
	       calls * jobs, (unsigned long long)seed, jobs,
	       jobs > 1 ? "es" : "", jobs > 1 ? " sharing the files" : "", ok);
	for (e = 1; e < 256; e++) {
		for (n = 0, j = 0; j < jobs; j++)
			n += tally[j].hist[e];
		if (n)
			printf(", %lu %s", n, strerrorname_np(e) ?: "?");
	}
	printf("\nshim_fuzz: %lu unexpected errnos, %lu pin-count mismatches, %lu twins left holding, %d processes died\n",
	       bad_errno, bad_pins, bad_twins, failed);
	return bad_errno || bad_pins || bad_twins || failed ? 1 : 0;
}
