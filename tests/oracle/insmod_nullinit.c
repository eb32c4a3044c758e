#include <linux/module.h>
#include <linux/init.h>
MODULE_LICENSE("GPL");
static int *volatile ptr;
static int __init nullinit_init(void)
{
	return *ptr;
}
static void __exit nullinit_exit(void)
{
}
module_init(nullinit_init);
module_exit(nullinit_exit);
