/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __LINUX_SPINLOCK_TYPES_H
#define __LINUX_SPINLOCK_TYPES_H

/*
 * One simulated CPU runs module code at a time: a spinlock is its state
 * word, which the simulated kernel keeps (1 while held); who holds it and who
 * spins for it are on the kernel's side (see linux/spinlock.h).
 */
typedef struct spinlock {
	unsigned int locked;
} spinlock_t;

#define __SPIN_LOCK_UNLOCKED(lockname) { 0 }
#define DEFINE_SPINLOCK(x) spinlock_t x = __SPIN_LOCK_UNLOCKED(x)

#endif
