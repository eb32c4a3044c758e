/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kernsim: spinlocks (include/linux/spinlock.h).  As in the kernel,
 * spin_lock() & co. are inlines over the _raw_spin_*() functions, which are
 * the simulated kernel's: it keeps the owner, the spinners, lockdep's view
 * and the task's preempt count, and writes the lock word C code reads.
 */
#ifndef __LINUX_SPINLOCK_H
#define __LINUX_SPINLOCK_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/spinlock_types.h>
#include <linux/lockdep_types.h>

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
extern void _raw_spin_lock(spinlock_t *lock);
extern void _raw_spin_lock_bh(spinlock_t *lock);
extern void _raw_spin_lock_irq(spinlock_t *lock);
extern unsigned long _raw_spin_lock_irqsave(spinlock_t *lock);
extern int _raw_spin_trylock(spinlock_t *lock);
extern void _raw_spin_unlock(spinlock_t *lock);
extern void _raw_spin_unlock_bh(spinlock_t *lock);
extern void _raw_spin_unlock_irq(spinlock_t *lock);
extern void _raw_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags);
extern void __raw_spin_lock_init(spinlock_t *lock, const char *name, struct lock_class_key *key, short inner);
/* </kernsim-exports> */

#define spin_lock_init(lock)						\
do {									\
	static struct lock_class_key __key;				\
									\
	__raw_spin_lock_init((lock), #lock, &__key, LD_WAIT_CONFIG);	\
} while (0)

static __always_inline void spin_lock(spinlock_t *lock)
{
	_raw_spin_lock(lock);
}

static __always_inline void spin_lock_bh(spinlock_t *lock)
{
	_raw_spin_lock_bh(lock);
}

static __always_inline void spin_lock_irq(spinlock_t *lock)
{
	_raw_spin_lock_irq(lock);
}

#define spin_lock_irqsave(lock, flags)				\
do {								\
	flags = _raw_spin_lock_irqsave(lock);			\
} while (0)

static __always_inline int spin_trylock(spinlock_t *lock)
{
	return _raw_spin_trylock(lock);
}

static __always_inline void spin_unlock(spinlock_t *lock)
{
	_raw_spin_unlock(lock);
}

static __always_inline void spin_unlock_bh(spinlock_t *lock)
{
	_raw_spin_unlock_bh(lock);
}

static __always_inline void spin_unlock_irq(spinlock_t *lock)
{
	_raw_spin_unlock_irq(lock);
}

static __always_inline void spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags)
{
	_raw_spin_unlock_irqrestore(lock, flags);
}

/* Racy by nature (another CPU may take or drop it at once): for assertions. */
static __always_inline int spin_is_locked(spinlock_t *lock)
{
	return READ_ONCE(lock->locked) != 0;
}

#endif /* __LINUX_SPINLOCK_H */
