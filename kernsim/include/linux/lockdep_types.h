/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: what lock initialisers name (include/linux/lockdep_types.h). */
#ifndef __LINUX_LOCKDEP_TYPES_H
#define __LINUX_LOCKDEP_TYPES_H

/* One per initialiser call site: the kernel's lock class key.  (kernsim's
 * lockdep keys its classes by lock instance; the key is only passed on.) */
struct lock_class_key { int dummy; };

enum lockdep_wait_type {
	LD_WAIT_INV = 0,
	LD_WAIT_FREE,
	LD_WAIT_SPIN,
	LD_WAIT_CONFIG = LD_WAIT_SPIN,
	LD_WAIT_SLEEP,
	LD_WAIT_MAX,
};

#endif
