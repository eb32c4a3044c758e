/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: kernel threads (include/linux/kthread.h). */
#ifndef _LINUX_KTHREAD_H
#define _LINUX_KTHREAD_H

#include <linux/err.h>
#include <linux/sched.h>

struct completion;

#define NUMA_NO_NODE	(-1)

__printf(4, 5)
struct task_struct *kthread_create_on_node(int (*threadfn)(void *data),
					   void *data,
					   int node,
					   const char namefmt[], ...);

/**
 * kthread_create - create a kthread on the current node
 * The thread is created stopped: wake it with wake_up_process().
 */
#define kthread_create(threadfn, data, namefmt, arg...) \
	kthread_create_on_node(threadfn, data, NUMA_NO_NODE, namefmt, ##arg)

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
extern bool kthread_should_stop(void);
extern int kthread_stop(struct task_struct *k);
extern bool kthread_should_park(void);
extern int kthread_park(struct task_struct *k);
extern void kthread_unpark(struct task_struct *k);
extern void kthread_parkme(void);
extern void kthread_exit(long result);
extern void kthread_complete_and_exit(struct completion *comp, long code);
/* </kernsim-exports> */

/**
 * kthread_run - create and wake a thread.
 */
#define kthread_run(threadfn, data, namefmt, ...)			   \
({									   \
	struct task_struct *__k						   \
		= kthread_create(threadfn, data, namefmt, ## __VA_ARGS__); \
	if (!IS_ERR(__k))						   \
		wake_up_process(__k);					   \
	__k;								   \
})

#endif /* _LINUX_KTHREAD_H */
