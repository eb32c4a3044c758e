/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kernsim: mutexes (include/linux/mutex.h).  The owner is kept in the
 * structure (the task_struct pointer, as the kernel's owner word holds it);
 * the waiters are on the simulated kernel's side.
 */
#ifndef __LINUX_MUTEX_H
#define __LINUX_MUTEX_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/spinlock_types.h>
#include <linux/lockdep_types.h>

struct mutex {
	atomic_long_t		owner;
	spinlock_t		wait_lock;
	struct list_head	wait_list;
};

#define __MUTEX_INITIALIZER(lockname)					\
		{ .owner = { 0 }					\
		, .wait_lock = __SPIN_LOCK_UNLOCKED(lockname.wait_lock)	\
		, .wait_list = LIST_HEAD_INIT(lockname.wait_list) }

#define DEFINE_MUTEX(mutexname) \
	struct mutex mutexname = __MUTEX_INITIALIZER(mutexname)

#define mutex_init(mutex)						\
do {									\
	static struct lock_class_key __key;				\
									\
	__mutex_init((mutex), #mutex, &__key);				\
} while (0)

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
extern void __mutex_init(struct mutex *lock, const char *name, struct lock_class_key *key);
extern void mutex_lock(struct mutex *lock);
extern int mutex_lock_interruptible(struct mutex *lock);
extern int mutex_lock_killable(struct mutex *lock);
extern int mutex_trylock(struct mutex *lock);
extern void mutex_unlock(struct mutex *lock);
extern bool mutex_is_locked(struct mutex *lock);
/* </kernsim-exports> */

/* Checks and poisons the mutex with CONFIG_DEBUG_MUTEXES; nothing here. */
static inline void mutex_destroy(struct mutex *lock) { }

#endif /* __LINUX_MUTEX_H */
