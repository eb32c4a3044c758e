// SPDX-License-Identifier: GPL-2.0
/* Two kthreads handing a turn back and forth through wait_event/wake_up,
 * ROUNDS times each: the C twin of bench/run.py's Python ping-pong (a).
 *
 * The loop makes the same kernel calls as the Python one (the condition
 * reads memory only).  When its rounds are done a player sleeps until
 * kthread_stop(), so the module can be removed at any time:
 *
 *   kernsim make && kernsim run pingpong.ko --for 1
 *
 * bench/run.py builds it with ccflags-y += -DROUNDS=N. */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/wait.h>
#include <linux/err.h>

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kernsim benchmark: ping-pong between two kthreads");

#ifndef ROUNDS
#define ROUNDS 2000
#endif

static DECLARE_WAIT_QUEUE_HEAD(ping_wq);
static DECLARE_WAIT_QUEUE_HEAD(pong_wq);
static struct wait_queue_head *wqs[2] = { &ping_wq, &pong_wq };
static struct task_struct *players[2];
static int turn;
static int wakeups;
static int stopping;

static int player(void *data)
{
	long me = (long)data;
	int n;

	for (n = 0; n < ROUNDS; n++) {
		wait_event(*wqs[me], turn == me || stopping);
		if (stopping)
			break;
		turn = !me;
		wakeups++;
		wake_up(wqs[!me]);
	}
	if (me)
		pr_info("wakeups=%d\n", wakeups);

	/* Done: wait for kthread_stop() (it must find us alive). */
	set_current_state(TASK_INTERRUPTIBLE);
	while (!kthread_should_stop()) {
		schedule();
		set_current_state(TASK_INTERRUPTIBLE);
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

static int __init pingpong_init(void)
{
	players[0] = kthread_run(player, (void *)0L, "ping");
	if (IS_ERR(players[0]))
		return PTR_ERR(players[0]);
	players[1] = kthread_run(player, (void *)1L, "pong");
	if (IS_ERR(players[1])) {
		stopping = 1;
		wake_up(&ping_wq);
		kthread_stop(players[0]);
		return PTR_ERR(players[1]);
	}
	return 0;
}

static void __exit pingpong_exit(void)
{
	/* Ends the rounds early if they are not done yet. */
	stopping = 1;
	wake_up(&ping_wq);
	wake_up(&pong_wq);
	kthread_stop(players[0]);
	kthread_stop(players[1]);
}

module_init(pingpong_init);
module_exit(pingpong_exit);
