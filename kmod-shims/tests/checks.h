/* SPDX-License-Identifier: GPL-2.0 */
/*
 * checks.h - the check programs' verdict lines ("  ok   ..." or
 * "  FAIL ..."), their device opening and their touched buffers. Included
 * by one translation unit per program.
 */
#ifndef _SHIM_TESTS_CHECKS_H
#define _SHIM_TESTS_CHECKS_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include "common.h"

static int failures;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("  %s ", ok ? "ok  " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!ok)
		failures++;
}

static int open_or_die(const char *path)
{
	int fd = open(path, O_RDWR);

	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	return fd;
}

/* An anonymous private buffer, every page written once. */
static char *buffer(size_t size, int advice)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED)
		die("mmap %zu: %s", size, strerror(errno));
	if (advice >= 0)
		madvise(p, size, advice);
	for (i = 0; i < size; i += PAGE)
		p[i] = (char)(i / PAGE);
	return p;
}

/* A 2 MiB-aligned buffer for THP. */
static char *thp_buffer(size_t size)
{
	char *p = mmap(NULL, size + (2UL << 20), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;
	size_t i;

	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	a = ((uintptr_t)p + (2UL << 20) - 1) & ~((2UL << 20) - 1);
	madvise((void *)a, size, MADV_HUGEPAGE);
	for (i = 0; i < size; i += PAGE)
		((char *)a)[i] = 1;
	return (char *)a;
}

#endif /* _SHIM_TESTS_CHECKS_H */
