// SPDX-License-Identifier: GPL-2.0
/*
 * completion.c - wait for another thread with a completion, not a flag.
 *
 * The loader thread "loads" three tables, then complete()s `ready`; the init
 * function waits for it with a timeout.  At removal, the worker's own exit is
 * awaited through a second completion, complete_all()ed so that any number
 * of waiters would be released.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/jiffies.h>

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kernsim");
MODULE_DESCRIPTION("Example of completions");

static DECLARE_COMPLETION(ready);
static DECLARE_COMPLETION(finished);
static struct task_struct *loader;

static int loader_fn(void *data)
{
	int table;

	for (table = 1; table <= 3; table++) {
		msleep(100);
		pr_info("loader: table %d loaded\n", table);
	}
	complete(&ready);
	while (!kthread_should_stop())
		msleep(50);
	complete_all(&finished);
	return 0;
}

static int __init completion_init(void)
{
	unsigned long left;

	loader = kthread_run(loader_fn, NULL, "loader");
	if (IS_ERR(loader))
		return PTR_ERR(loader);
	left = wait_for_completion_timeout(&ready, msecs_to_jiffies(1000));
	pr_info("init: tables ready, %u ms to spare\n", jiffies_to_msecs(left));
	pr_info("init: done=%d\n", completion_done(&ready));
	return 0;
}

static void __exit completion_exit(void)
{
	kthread_stop(loader);
	wait_for_completion(&finished);
	pr_info("exit: loader finished, try_wait=%d\n", try_wait_for_completion(&finished));
}

module_init(completion_init);
module_exit(completion_exit);
