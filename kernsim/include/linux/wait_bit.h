/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: wait_var_event() and wake_up_var() (include/linux/wait_bit.h,
 * kernel/sched/wait_bit.c).  A variable's waiters queue on one of 256 heads
 * shared by the whole kernel, chosen by a hash of the variable's address;
 * their entries carry the address, and a wake-up for another variable on the
 * same head passes them by. */
#ifndef _LINUX_WAIT_BIT_H
#define _LINUX_WAIT_BIT_H

#include <linux/bug.h>
#include <linux/list.h>
#include <linux/wait.h>
#include <linux/sched.h>

struct wait_bit_key {
	void			*flags;
	int			bit_nr;
	unsigned long		timeout;
};

struct wait_bit_queue_entry {
	struct wait_bit_key	key;
	struct wait_queue_entry	wq_entry;
};

/* kernsim's C runtime holds the storage of the table (kernel/sched/wait_bit.c's
 * bit_wait_table): 256 heads, each initialised on first use. */
extern char kernsim_bit_wait_table[256 * 64];

#define GOLDEN_RATIO_64 0x61C8864680B583EBull

static inline struct wait_queue_head *__var_waitqueue(void *p)
{
	struct wait_queue_head *h = (struct wait_queue_head *)kernsim_bit_wait_table +
		(((u64)(unsigned long)p * GOLDEN_RATIO_64) >> 56);

	BUILD_BUG_ON(sizeof(struct wait_queue_head) > 64);
	if (!h->head.next)
		INIT_LIST_HEAD(&h->head);
	return h;
}

static inline int var_wake_function(struct wait_queue_entry *wq_entry, unsigned int mode,
				    int sync, void *arg)
{
	struct wait_bit_key *key = arg;
	struct wait_bit_queue_entry *wbq_entry =
		container_of(wq_entry, struct wait_bit_queue_entry, wq_entry);

	if (wbq_entry->key.flags != key->flags || wbq_entry->key.bit_nr != key->bit_nr)
		return 0;
	return autoremove_wake_function(wq_entry, mode, sync, key);
}

static inline void init_wait_var_entry(struct wait_bit_queue_entry *wbq_entry, void *var,
				       int flags)
{
	*wbq_entry = (struct wait_bit_queue_entry){
		.key = {
			.flags	= (var),
			.bit_nr = -1,
		},
		.wq_entry = {
			.flags	 = flags,
			.private = current,
			.func	 = var_wake_function,
			.entry	 = LIST_HEAD_INIT(wbq_entry->wq_entry.entry),
		},
	};
}

static inline void wake_up_var(void *var)
{
	struct wait_bit_key key = { .flags = var, .bit_nr = -1 };
	struct wait_queue_head *wq_head = __var_waitqueue(var);

	if (waitqueue_active(wq_head))
		__wake_up(wq_head, TASK_NORMAL, 1, &key);
}

#define ___wait_var_event(var, condition, state, exclusive, ret, cmd)	\
({									\
	__label__ __out;						\
	struct wait_queue_head *__wq_head = __var_waitqueue(var);	\
	struct wait_bit_queue_entry __wbq_entry;			\
	long __ret = ret; /* explicit shadow */				\
									\
	init_wait_var_entry(&__wbq_entry, var,				\
			    exclusive ? WQ_FLAG_EXCLUSIVE : 0);		\
	for (;;) {							\
		long __int = prepare_to_wait_event(__wq_head,		\
						   &__wbq_entry.wq_entry, \
						   state);		\
		if (condition)						\
			break;						\
									\
		if (___wait_is_interruptible(state) && __int) {		\
			__ret = __int;					\
			goto __out;					\
		}							\
									\
		cmd;							\
	}								\
	finish_wait(__wq_head, &__wbq_entry.wq_entry);			\
__out:	__ret;								\
})

#define __wait_var_event(var, condition)				\
	___wait_var_event(var, condition, TASK_UNINTERRUPTIBLE, 0, 0,	\
			  schedule())

#define wait_var_event(var, condition)					\
do {									\
	if (condition)							\
		break;							\
	__wait_var_event(var, condition);				\
} while (0)

#define wait_var_event_killable(var, condition)				\
({									\
	int __ret = 0;							\
	if (!(condition))						\
		__ret = ___wait_var_event(var, condition, TASK_KILLABLE, 0, 0, \
					  schedule());			\
	__ret;								\
})

#define wait_var_event_interruptible(var, condition)			\
({									\
	int __ret = 0;							\
	if (!(condition))						\
		__ret = ___wait_var_event(var, condition, TASK_INTERRUPTIBLE, 0, 0, \
					  schedule());			\
	__ret;								\
})

#define wait_var_event_timeout(var, condition, timeout)			\
({									\
	long __ret = timeout;						\
	if (!___wait_cond_timeout(condition))				\
		__ret = ___wait_var_event(var, ___wait_cond_timeout(condition), \
					  TASK_UNINTERRUPTIBLE, 0, timeout, \
					  __ret = schedule_timeout(__ret)); \
	__ret;								\
})

#endif /* _LINUX_WAIT_BIT_H */
