/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: sleeping delays (include/linux/delay.h). */
#ifndef _LINUX_DELAY_H
#define _LINUX_DELAY_H

#include <linux/types.h>

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
extern void msleep(unsigned int msecs);
extern unsigned long msleep_interruptible(unsigned int msecs);
extern void ssleep(unsigned int seconds);
extern void usleep_range_state(unsigned long min, unsigned long max, unsigned int state);
extern void __udelay(unsigned long usecs);
extern void __ndelay(unsigned long nsecs);
/* </kernsim-exports> */

/* Busy waits (arch/x86/include/asm/delay.h, linux/delay.h): the task stays
 * running.  A constant udelay() over 20 ms is a link error, as in the kernel. */
extern void __bad_udelay(void);
extern void __bad_ndelay(void);

#define udelay(n)							\
	({								\
		if (__builtin_constant_p(n) && (n) > 20000)		\
			__bad_udelay();					\
		__udelay(n);						\
	})

#define ndelay(n)							\
	({								\
		if (__builtin_constant_p(n) && (n) > 20000)		\
			__bad_ndelay();					\
		__ndelay(n);						\
	})

#define mdelay(n)							\
	({								\
		unsigned long __ms = (n);				\
		while (__ms--)						\
			udelay(1000);					\
	})

static inline void usleep_range(unsigned long min, unsigned long max)
{
	usleep_range_state(min, max, 0x0002 /* TASK_UNINTERRUPTIBLE */);
}

static inline void usleep_idle_range(unsigned long min, unsigned long max)
{
	usleep_range_state(min, max, 0x0402 /* TASK_IDLE */);
}

static inline void fsleep(unsigned long usecs)
{
	if (usecs <= 10)
		udelay(usecs);
	else if (usecs < 20000)
		usleep_range(usecs, 2 * usecs);
	else
		msleep((usecs + 999) / 1000);
}

#endif /* _LINUX_DELAY_H */
