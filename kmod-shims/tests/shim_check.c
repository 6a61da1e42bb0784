// SPDX-License-Identifier: GPL-2.0
/*
 * shim_check - exercises both ABIs of pin_shim (pin_shim_abi.h) once each,
 * checking every answer and the kernel's FOLL_PIN counters around it.
 *
 *   shim_check gup-test   /sys/kernel/debug/gup_test: the six gup_test
 *                         commands, truncation, the long-term test range
 *   shim_check batch      /dev/pin_shim: INFO, BATCH in every mode (the
 *                         get/put times must be non-zero), bad calls, HOLD
 *   shim_check hold MIB   holds MIB of FOLL_PIN|FOLL_LONGTERM pins, prints
 *                         "held N pages" and sleeps until killed
 *
 * Prints one line per check; exits 0 when all passed, 1 otherwise.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "checks.h"

static const char *gup_cmd_name(unsigned long cmd)
{
	switch (cmd) {
	case GUP_FAST_BENCHMARK: return "GUP_FAST_BENCHMARK";
	case PIN_FAST_BENCHMARK: return "PIN_FAST_BENCHMARK";
	case PIN_LONGTERM_BENCHMARK: return "PIN_LONGTERM_BENCHMARK";
	case GUP_BASIC_TEST: return "GUP_BASIC_TEST";
	case PIN_BASIC_TEST: return "PIN_BASIC_TEST";
	case DUMP_USER_PAGES_TEST: return "DUMP_USER_PAGES_TEST";
	}
	return "?";
}

static int check_gup_test(void)
{
	static const unsigned long cmds[] = {
		GUP_FAST_BENCHMARK, PIN_FAST_BENCHMARK, PIN_LONGTERM_BENCHMARK,
		GUP_BASIC_TEST, PIN_BASIC_TEST, DUMP_USER_PAGES_TEST,
	};
	const size_t size = 8UL << 20;
	int fd = open_or_die(GUP_TEST_PATH);
	char *p = buffer(size, MADV_NOHUGEPAGE), *out;
	struct pin_longterm_test lt;
	struct gup_test gup;
	long long before = pins_in_flight();
	unsigned int i;
	int ret;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		memset(&gup, 0, sizeof(gup));
		gup.addr = (uintptr_t)p;
		gup.size = size;
		gup.nr_pages_per_call = 32;
		gup.gup_flags = TEST_FOLL_WRITE;
		if (cmds[i] == DUMP_USER_PAGES_TEST) {
			gup.test_flags = GUP_TEST_FLAG_DUMP_PAGES_USE_PIN;
			gup.which_pages[0] = 1;
			gup.which_pages[1] = 100000;	/* out of range: zeroed */
		}
		ret = ioctl(fd, cmds[i], &gup);
		check(ret == 0 && gup.size == size &&
		      pins_in_flight() == before,
		      "%-22s ret %d size %llu get %llu us put %llu us",
		      gup_cmd_name(cmds[i]), ret, (unsigned long long)gup.size,
		      (unsigned long long)gup.get_delta_usec,
		      (unsigned long long)gup.put_delta_usec);
		if (cmds[i] == DUMP_USER_PAGES_TEST)
			check(gup.which_pages[0] == 1 && gup.which_pages[1] == 0,
			      "DUMP_USER_PAGES_TEST zeroes out-of-range which_pages");
	}
	/* `gup_test -a -n -1` and `-L -n -1`: more pages per call than the
	 * range holds is cut to the range, as upstream does. */
	for (i = 0; i < 3; i++) {
		unsigned long cmd = i == 0 ? PIN_FAST_BENCHMARK :
				    i == 1 ? PIN_LONGTERM_BENCHMARK : GUP_FAST_BENCHMARK;

		memset(&gup, 0, sizeof(gup));
		gup.addr = (uintptr_t)p;
		gup.size = size;
		gup.nr_pages_per_call = 0xffffffffu;
		gup.gup_flags = TEST_FOLL_WRITE;
		ret = ioctl(fd, cmd, &gup);
		check(ret == 0 && gup.size == size && pins_in_flight() == before,
		      "%-22s -n -1: ret %d size %llu (the whole range in one call)",
		      gup_cmd_name(cmd), ret, (unsigned long long)gup.size);
	}

	/* As upstream: a range that runs into a hole comes back truncated. */
	munmap(p + size / 2, size / 2);
	memset(&gup, 0, sizeof(gup));
	gup.addr = (uintptr_t)p;
	gup.size = size;
	gup.nr_pages_per_call = 16;
	ret = ioctl(fd, PIN_FAST_BENCHMARK, &gup);
	check(ret == 0 && gup.size == size / 2 && pins_in_flight() == before,
	      "PIN_FAST_BENCHMARK into a hole: ret %d, size %llu (want %zu)",
	      ret, (unsigned long long)gup.size, size / 2);

	ret = ioctl(fd, _IOWR('g', 42, struct gup_test), &gup);
	check(ret == -1 && errno == EINVAL, "unknown request: EINVAL");
	gup.size = 0;
	ret = ioctl(fd, GUP_FAST_BENCHMARK, &gup);
	check(ret == -1 && errno == EINVAL, "size 0: EINVAL");

	/* The long-term test range: pin, read back through the pins, stop. */
	memset(p, 0x5a, 16 * PAGE);
	lt.addr = (uintptr_t)p;
	lt.size = 16 * PAGE;
	lt.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE;
	ret = ioctl(fd, PIN_LONGTERM_TEST_START, &lt);
	check(ret == 0 && pins_in_flight() == before + 16,
	      "PIN_LONGTERM_TEST_START: ret %d, 16 pins held", ret);
	check(ioctl(fd, PIN_LONGTERM_TEST_START, &lt) == -1 && errno == EINVAL,
	      "PIN_LONGTERM_TEST_START twice: EINVAL");
	out = buffer(16 * PAGE, -1);
	{
		uint64_t dst = (uintptr_t)out;

		ret = ioctl(fd, PIN_LONGTERM_TEST_READ, &dst);
	}
	check(ret == 0 && !memcmp(out, p, 16 * PAGE),
	      "PIN_LONGTERM_TEST_READ: contents match");
	ret = ioctl(fd, PIN_LONGTERM_TEST_STOP);
	check(ret == 0 && pins_in_flight() == before,
	      "PIN_LONGTERM_TEST_STOP: pins released");
	ret = ioctl(fd, PIN_LONGTERM_TEST_START, &lt);
	close(fd);
	check(ret == 0 && pins_in_flight() == before,
	      "close with a long-term test range: pins released");
	return failures;
}

struct mode_case {
	const char *name;
	unsigned int mode;
};

static const struct mode_case modes[] = {
	{ "GET fast", PIN_SHIM_MODE_FAST },
	{ "GET", 0 },
	{ "PIN fast", PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_FAST },
	{ "PIN", PIN_SHIM_MODE_PIN },
	{ "PIN_LONGTERM fast",
	  PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_LONGTERM | PIN_SHIM_MODE_FAST },
	{ "PIN_LONGTERM", PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_LONGTERM },
};

static int run_batch(int fd, char *p, size_t size, unsigned int mode,
		     struct pin_shim_batch *b)
{
	memset(b, 0, sizeof(*b));
	b->addr = (uintptr_t)p;
	b->size = size;
	b->nr_pages_per_call = 64;
	b->mode = mode | PIN_SHIM_MODE_WRITE;
	b->iterations = 4;
	if (ioctl(fd, PIN_SHIM_BATCH, b))
		return -errno;
	return 0;
}

static void check_batch_answer(const char *what, int ret,
			       const struct pin_shim_batch *b, size_t size,
			       long long before)
{
	unsigned long long pages = 4 * (size / PAGE);

	check(ret == 0 && b->get_ns && b->put_ns && b->nr_pages == pages &&
	      b->nr_calls == 4 * ((size / PAGE + 63) / 64) &&
	      b->get_min_ns <= b->get_max_ns && b->put_min_ns <= b->put_max_ns &&
	      !b->nr_not_dma_pinned && !b->nr_alloc_failures &&
	      !b->reserved2[0] && !b->reserved2[1] && pins_in_flight() == before,
	      "BATCH %-18s ret %d pages %llu get %.1f ns/page (call %llu..%llu ns) put %.1f ns/page (call %llu..%llu ns)",
	      what, ret, (unsigned long long)b->nr_pages,
	      b->nr_pages ? (double)b->get_ns / b->nr_pages : 0.0,
	      (unsigned long long)b->get_min_ns,
	      (unsigned long long)b->get_max_ns,
	      b->nr_pages ? (double)b->put_ns / b->nr_pages : 0.0,
	      (unsigned long long)b->put_min_ns,
	      (unsigned long long)b->put_max_ns);
}

static int check_batch(void)
{
	const size_t size = 16UL << 20;
	int fd = open_or_die(PIN_SHIM_PATH);
	char *p = buffer(size, MADV_NOHUGEPAGE), *ro;
	long long before = pins_in_flight();
	struct pin_shim_info info;
	struct pin_shim_batch b;
	struct pin_shim_hold h;
	unsigned int i;
	int ret;

	ret = ioctl(fd, PIN_SHIM_INFO, &info);
	check(ret == 0 && info.abi_version == PIN_SHIM_ABI_VERSION &&
	      info.page_size == PAGE && info.max_pages == PIN_SHIM_MAX_PAGES,
	      "INFO: ABI %u, page %u, max pages %u, gup_test served %u",
	      info.abi_version, info.page_size, info.max_pages, info.gup_test);

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		ret = run_batch(fd, p, size, modes[i].mode, &b);
		check_batch_answer(modes[i].name, ret, &b, size, before);
	}
	{
		char *thp = thp_buffer(8UL << 20);

		ret = run_batch(fd, thp, 8UL << 20,
				PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_FAST, &b);
		check_batch_answer("PIN fast THP", ret, &b, 8UL << 20, before);
	}

	/* Refusals: each leaves nothing pinned. */
	memset(&b, 0, sizeof(b));
	b.addr = (uintptr_t)p;
	b.size = size;
	b.nr_pages_per_call = 1;
	b.iterations = 1;
	b.mode = PIN_SHIM_MODE_PIN;
	b.reserved2[1] = 1;
	ret = ioctl(fd, PIN_SHIM_BATCH, &b);
	check(ret == -1 && errno == EINVAL, "BATCH reserved field set: EINVAL");
	b.reserved2[1] = 0;
	b.mode = PIN_SHIM_MODE_LONGTERM;
	ret = ioctl(fd, PIN_SHIM_BATCH, &b);
	check(ret == -1 && errno == EINVAL, "BATCH LONGTERM without PIN: EINVAL");
	b.mode = PIN_SHIM_MODE_PIN;
	b.addr = ~0ULL & ~(PAGE - 1);
	ret = ioctl(fd, PIN_SHIM_BATCH, &b);
	check(ret == -1 && errno == EINVAL, "BATCH address + size wraps: EINVAL");

	ro = mmap(NULL, 64 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b.addr = (uintptr_t)ro;
	b.size = 64 * PAGE;
	b.mode = PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_WRITE | PIN_SHIM_MODE_FAST;
	ret = ioctl(fd, PIN_SHIM_BATCH, &b);
	check(ret == -1 && errno == EFAULT && pins_in_flight() == before,
	      "BATCH write pin of a read-only range: EFAULT, nothing pinned");
	munmap(p + size - 8 * PAGE, 8 * PAGE);
	b.addr = (uintptr_t)p;
	b.size = size;
	b.nr_pages_per_call = 100;
	b.mode = PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_LONGTERM;
	ret = ioctl(fd, PIN_SHIM_BATCH, &b);
	check(ret == -1 && errno == EFAULT && pins_in_flight() == before,
	      "BATCH range running into a hole: EFAULT, nothing pinned");
	ret = ioctl(fd, _IO(PIN_SHIM_IOC_MAGIC, 99));
	check(ret == -1 && errno == ENOTTY, "unknown request: ENOTTY");

	/* HOLD and UNHOLD. */
	memset(&h, 0, sizeof(h));
	h.addr = (uintptr_t)p;
	h.size = 32 * PAGE;
	h.mode = PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_LONGTERM;
	ret = ioctl(fd, PIN_SHIM_HOLD, &h);
	check(ret == 0 && h.held_pages == 32 && pins_in_flight() == before + 32,
	      "HOLD 32 pages: held %llu", (unsigned long long)h.held_pages);
	ret = ioctl(fd, PIN_SHIM_UNHOLD);
	check(ret == 0 && pins_in_flight() == before, "UNHOLD: pins released");
	ret = ioctl(fd, PIN_SHIM_HOLD, &h);
	close(fd);
	check(ret == 0 && pins_in_flight() == before,
	      "close while holding: pins released");
	return failures;
}

static void __attribute__((noreturn)) hold(const char *mib)
{
	size_t size = strtoul(mib, NULL, 0) << 20;
	int fd = open_or_die(PIN_SHIM_PATH);
	struct pin_shim_hold h = { 0 };

	h.addr = (uintptr_t)buffer(size, -1);
	h.size = size;
	h.mode = PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_LONGTERM |
		 PIN_SHIM_MODE_WRITE;
	if (ioctl(fd, PIN_SHIM_HOLD, &h))
		die("HOLD %zu bytes: %s", size, strerror(errno));
	printf("held %llu pages\n", (unsigned long long)h.held_pages);
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "gup-test"))
		return check_gup_test() ? 1 : 0;
	if (argc == 2 && !strcmp(argv[1], "batch"))
		return check_batch() ? 1 : 0;
	if (argc == 3 && !strcmp(argv[1], "hold"))
		hold(argv[2]);
	fprintf(stderr, "usage: %s gup-test | batch | hold MIB\n", argv[0]);
	return 2;
}
