/*
 * Module parameters: greet NAME, COUNT times, one second apart.
 *
 *   kernsim run hello_params.c count=3 name=kernsim loud values=1,2,3
 *   kernsim modinfo hello_params.ko
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/delay.h>

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kernsim");
MODULE_DESCRIPTION("Module parameters: greet NAME COUNT times");

static int count = 2;
module_param(count, int, 0644);
MODULE_PARM_DESC(count, "How many greetings");

static char *name = "world";
module_param(name, charp, 0444);
MODULE_PARM_DESC(name, "Whom to greet");

static bool loud;
module_param(loud, bool, 0644);
MODULE_PARM_DESC(loud, "Shout the greetings");

static int values[4];
static unsigned int nvalues;
module_param_array(values, int, &nvalues, 0444);
MODULE_PARM_DESC(values, "Up to four numbers to add up");

static struct task_struct *greeter;

static int greeter_fn(void *data)
{
	int i = 0;

	while (!kthread_should_stop()) {
		/* count and loud may change under us: they are writable in sysfs. */
		if (i < count)
			pr_info("%s, %s! (%d of %d)\n", loud ? "HELLO" : "hello", name, i + 1, count);
		i++;
		msleep(1000);
	}
	return 0;
}

static int __init hello_params_init(void)
{
	unsigned int i;
	int sum = 0;

	for (i = 0; i < nvalues; i++)
		sum += values[i];
	pr_info("hello_params: count=%d name=%s loud=%d, %u values adding up to %d\n",
		count, name, loud, nvalues, sum);
	greeter = kthread_run(greeter_fn, NULL, "greeter");
	if (IS_ERR(greeter))
		return PTR_ERR(greeter);
	return 0;
}

static void __exit hello_params_exit(void)
{
	kthread_stop(greeter);
	pr_info("hello_params: goodbye, %s\n", name);
}

module_init(hello_params_init);
module_exit(hello_params_exit);
