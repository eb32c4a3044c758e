/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __LINUX_SPINLOCK_TYPES_H
#define __LINUX_SPINLOCK_TYPES_H

/* One simulated CPU runs module code at a time: a spinlock is its state word. */
typedef struct spinlock {
	unsigned int locked;
} spinlock_t;

#define __SPIN_LOCK_UNLOCKED(lockname) { 0 }
#define DEFINE_SPINLOCK(x) spinlock_t x = __SPIN_LOCK_UNLOCKED(x)

#endif
