// SPDX-License-Identifier: GPL-2.0
/*
 * pin_shim - brings the kernel's gup_test ABI, and pinbench's batch ioctl,
 * to kernels built without CONFIG_GUP_TEST. For test machines only: any
 * root process can pin up to PIN_SHIM_MAX_HELD_PAGES pages per open file.
 *
 * /dev/pin_shim (0600)          batch.c and lookup.c, always, with the
 *                               twins (twin.c, twin_*.c)
 * /sys/kernel/debug/gup_test    gup_test_file.c, when the kernel has none
 */
#include <linux/debugfs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include "pin_shim.h"

static bool gup_test = true;
module_param(gup_test, bool, 0444);
MODULE_PARM_DESC(gup_test,
		 "serve /sys/kernel/debug/gup_test if the kernel has none (default: Y)");

bool shim_serves_gup_test;
static struct dentry *gup_test_dentry;

static struct miscdevice pin_shim_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pin_shim",
	.fops = &shim_batch_fops,
	.mode = 0600,
};

/* Creates debugfs gup_test unless the kernel (CONFIG_GUP_TEST) already did. */
static void pin_shim_gup_test_init(void)
{
	struct dentry *old;

	if (!gup_test)
		return;
	old = debugfs_lookup("gup_test", NULL);
	if (old) {
		dput(old);
		pr_info("pin_shim: the kernel has its own gup_test; leaving it\n");
		return;
	}
	gup_test_dentry = debugfs_create_file("gup_test", 0600, NULL, NULL,
					      &shim_gup_test_fops);
	if (IS_ERR(gup_test_dentry)) {
		pr_info("pin_shim: no debugfs gup_test (%ld)\n",
			PTR_ERR(gup_test_dentry));
		gup_test_dentry = NULL;
		return;
	}
	shim_serves_gup_test = true;
}

static int __init pin_shim_init(void)
{
	int ret = shim_twins_init();

	if (ret)
		return ret;
	ret = misc_register(&pin_shim_dev);
	if (ret) {
		shim_twins_exit();
		return ret;
	}
	pin_shim_gup_test_init();
	pr_info("pin_shim: /dev/pin_shim ABI %u (twins: xarray, exact)%s\n",
		PIN_SHIM_ABI_VERSION,
		shim_serves_gup_test ? ", /sys/kernel/debug/gup_test" : "");
	return 0;
}

static void __exit pin_shim_exit(void)
{
	debugfs_remove(gup_test_dentry);
	misc_deregister(&pin_shim_dev);
	shim_twins_exit();
}

module_init(pin_shim_init);
module_exit(pin_shim_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gup_test ABI and pinbench batch pin/unpin ioctls (test machines only)");
