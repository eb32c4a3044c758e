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
/* </kernsim-exports> */

#endif /* _LINUX_DELAY_H */
