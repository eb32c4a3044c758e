/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: completions (include/linux/completion.h).  The simulated kernel
 * keeps the count in this structure and its waiters on its own side. */
#ifndef __LINUX_COMPLETION_H
#define __LINUX_COMPLETION_H

#include <linux/list.h>
#include <linux/spinlock_types.h>
#include <linux/sched.h>

struct swait_queue_head {
	spinlock_t		lock;
	struct list_head	task_list;
};

struct completion {
	unsigned int done;
	struct swait_queue_head wait;
};

#define COMPLETION_INITIALIZER(work) \
	{ 0, { __SPIN_LOCK_UNLOCKED(work.wait.lock), LIST_HEAD_INIT((work).wait.task_list) } }

#define COMPLETION_INITIALIZER_ONSTACK(work) \
	(*({ init_completion(&work); &work; }))

#define DECLARE_COMPLETION(work) \
	struct completion work = COMPLETION_INITIALIZER(work)

#define DECLARE_COMPLETION_ONSTACK(work) \
	struct completion work = COMPLETION_INITIALIZER_ONSTACK(work)

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
extern void init_completion(struct completion *x);
extern void reinit_completion(struct completion *x);
extern void complete(struct completion *x);
extern void complete_all(struct completion *x);
extern void wait_for_completion(struct completion *x);
extern unsigned long wait_for_completion_timeout(struct completion *x, unsigned long timeout);
extern int wait_for_completion_interruptible(struct completion *x);
extern long wait_for_completion_interruptible_timeout(struct completion *x, unsigned long timeout);
extern int wait_for_completion_killable(struct completion *x);
extern long wait_for_completion_killable_timeout(struct completion *x, unsigned long timeout);
extern bool try_wait_for_completion(struct completion *x);
extern bool completion_done(struct completion *x);
/* </kernsim-exports> */

#endif
