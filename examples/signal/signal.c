// SPDX-License-Identifier: GPL-2.0
/*
 * signal.c - an interruptible wait, ended by a signal.
 *
 * A kthread ignores signals unless it allow_signal()s them.  The listener
 * waits interruptibly for a condition that never comes; the poker thread
 * sends it SIGUSR1, which interrupts the wait (-ERESTARTSYS) until the
 * listener takes the signal off its queue.  An uninterruptible msleep() is
 * not cut short by a signal; msleep_interruptible() is.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/sched/signal.h>
#include <linux/wait.h>
#include <linux/delay.h>

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kernsim");
MODULE_DESCRIPTION("Example of an interruptible wait and a signal");

static DECLARE_WAIT_QUEUE_HEAD(never);
static struct task_struct *listener, *poker;

static int listener_fn(void *data)
{
	int ret;

	allow_signal(SIGUSR1);
	ret = wait_event_interruptible(never, 0);
	pr_info("listener: wait returned %d, signal pending %d\n", ret,
		signal_pending(current));
	pr_info("listener: took signal %d\n", kernel_dequeue_signal());
	pr_info("listener: slept %lu ms short\n", msleep_interruptible(200));
	while (!kthread_should_stop())
		msleep(10);
	return 0;
}

static int poker_fn(void *data)
{
	msleep(100);
	pr_info("poker: sending SIGUSR1\n");
	send_sig(SIGUSR1, listener, 0);
	msleep(50);
	pr_info("poker: sending SIGUSR1 again\n");
	send_sig(SIGUSR1, listener, 0);
	while (!kthread_should_stop())
		msleep(10);
	return 0;
}

static int __init signal_init(void)
{
	listener = kthread_run(listener_fn, NULL, "listener");
	poker = kthread_run(poker_fn, NULL, "poker");
	return 0;
}

static void __exit signal_exit(void)
{
	kthread_stop(poker);
	kthread_stop(listener);
	pr_info("exit: both stopped\n");
}

module_init(signal_init);
module_exit(signal_exit);
