// SPDX-License-Identifier: GPL-2.0
/* What kmalloc & co. return at their limits, and what they print (kernsim issue 4, part 6). */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/string.h>

MODULE_LICENSE("GPL");

static int __init m_init(void)
{
	void *p;
	char *s;

	p = kmalloc(0, GFP_KERNEL);
	pr_info("kmalloc(0) = %px zero_or_null=%d\n", p, ZERO_OR_NULL_PTR(p));
	kfree(p);
	kfree(NULL);
	pr_info("KMALLOC_MAX_SIZE=%lu KMALLOC_MAX_CACHE_SIZE=%lu MAX_ORDER=%d\n",
		(unsigned long)KMALLOC_MAX_SIZE, (unsigned long)KMALLOC_MAX_CACHE_SIZE, MAX_ORDER);
	p = kmalloc(KMALLOC_MAX_SIZE, GFP_KERNEL);
	pr_info("kmalloc(KMALLOC_MAX_SIZE) ok=%d\n", p != NULL);
	kfree(p);
	pr_info("before max+1\n");
	p = kmalloc(KMALLOC_MAX_SIZE + 1, GFP_KERNEL);
	pr_info("kmalloc(KMALLOC_MAX_SIZE+1) = %px\n", p);
	p = kmalloc(KMALLOC_MAX_SIZE + 1, GFP_KERNEL);
	pr_info("again = %px\n", p);
	p = kzalloc(1UL << 40, GFP_KERNEL);
	pr_info("kzalloc(1<<40) = %px\n", p);
	p = kmalloc(1UL << 40, GFP_KERNEL | __GFP_NOWARN);
	pr_info("nowarn = %px\n", p);
	p = kcalloc(ULONG_MAX / 2, 4, GFP_KERNEL);
	pr_info("kcalloc overflow = %px\n", p);
	p = kmalloc_array(ULONG_MAX / 2, 4, GFP_KERNEL);
	pr_info("kmalloc_array overflow = %px\n", p);
	p = kzalloc(100, GFP_KERNEL);
	pr_info("ksize(kzalloc(100)) = %zu\n", ksize(p));
	p = krealloc(p, 0, GFP_KERNEL);
	pr_info("krealloc(p, 0) = %px\n", p);
	p = krealloc(NULL, 10, GFP_KERNEL);
	pr_info("krealloc(NULL, 10) ok=%d\n", p != NULL && !ZERO_OR_NULL_PTR(p));
	kfree(p);
	s = kstrdup(NULL, GFP_KERNEL);
	pr_info("kstrdup(NULL) = %px\n", s);
	s = kstrdup("abc", GFP_KERNEL);
	pr_info("kstrdup(abc) = %s ksize=%zu\n", s, ksize(s));
	kfree(s);
	pr_info("before vmalloc(0)\n");
	p = vmalloc(0);
	pr_info("vmalloc(0) = %px\n", p);
	pr_info("before vmalloc(1<<40)\n");
	p = vmalloc(1UL << 40);
	pr_info("vmalloc(1<<40) = %px\n", p);
	vfree(NULL);
	p = vzalloc(10000);
	pr_info("vzalloc(10000) page aligned=%d\n", p && !((unsigned long)p & (PAGE_SIZE - 1)));
	vfree(p);
	pr_info("before double vfree\n");
	vfree(p);
	pr_info("before vfree of kmalloc\n");
	p = kmalloc(64, GFP_KERNEL);
	vfree(p);
	kfree(p);
	pr_info("done\n");
	return 0;
}

static void __exit m_exit(void)
{
	pr_info("exit\n");
}

module_init(m_init);
module_exit(m_exit);
