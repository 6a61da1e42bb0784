/* SPDX-License-Identifier: GPL-2.0 */
/*
 * common.h - what the static test programs run in the vm-test guest share:
 * the two device paths, the kernel's FOLL_PIN counters, and failing loudly.
 */
#ifndef _SHIM_TESTS_COMMON_H
#define _SHIM_TESTS_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../pin_shim/pin_shim_abi.h"

#define GUP_TEST_PATH	"/sys/kernel/debug/gup_test"
#define PIN_SHIM_PATH	"/dev/pin_shim"
#define PAGE		4096UL

/* The selftest's own copy of the one FOLL_* value it passes. */
#define TEST_FOLL_WRITE	0x01

static inline void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("FATAL: ", stdout);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	exit(2);
}

/*
 * nr_foll_pin_acquired - nr_foll_pin_released: FOLL_PIN pins held now.
 * /proc/vmstat lags by what each CPU has not yet folded into the global
 * counters; writing /proc/sys/vm/stat_refresh (root) folds it first.
 */
static inline long long pins_in_flight(void)
{
	long long acquired = -1, released = -1, v;
	char name[64];
	FILE *f = fopen("/proc/sys/vm/stat_refresh", "w");

	if (f) {
		fputs("1\n", f);
		fclose(f);
	}
	f = fopen("/proc/vmstat", "r");

	if (!f)
		die("/proc/vmstat: %s", strerror(errno));
	while (fscanf(f, "%63s %lld", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acquired = v;
		else if (!strcmp(name, "nr_foll_pin_released"))
			released = v;
	}
	fclose(f);
	if (acquired < 0 || released < 0)
		die("/proc/vmstat has no nr_foll_pin_{acquired,released}");
	return acquired - released;
}

#endif /* _SHIM_TESTS_COMMON_H */
