/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _LINUX_SCHED_SIGNAL_H
#define _LINUX_SCHED_SIGNAL_H

#include <linux/sched.h>
#include <linux/signal.h>

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
extern int signal_pending(struct task_struct *p);
extern void allow_signal(int sig);
extern void disallow_signal(int sig);
extern int send_sig(int sig, struct task_struct *p, int priv);
extern void flush_signals(struct task_struct *t);
extern int kernel_dequeue_signal(void);
extern int fatal_signal_pending(struct task_struct *p);
/* </kernsim-exports> */

#endif
