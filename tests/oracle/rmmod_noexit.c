#include <linux/module.h>
#include <linux/init.h>
MODULE_LICENSE("GPL");
static int __init noexit_init(void)
{
	pr_info("noexit loaded\n");
	return 0;
}
module_init(noexit_init);
