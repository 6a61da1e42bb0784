// SPDX-License-Identifier: GPL-2.0
/*
 * selftest_glue.c - what the kernel's tools/testing/selftests/mm/gup_test.c
 * needs of vm_util.c, which itself wants uapi headers newer than the build
 * host's (struct pm_scan_arg, v6.7): the page size cache that vm_util.h's
 * inline psize()/pshift() fill on first use. Linked with gup_test.c by
 * kmod-shims/build-gup-selftest; no kernel source is kept here.
 */
unsigned int __page_size;
unsigned int __page_shift;
