/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: task_struct references (include/linux/sched/task.h). */
#ifndef _LINUX_SCHED_TASK_H
#define _LINUX_SCHED_TASK_H

#include <linux/sched.h>

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
extern struct task_struct * get_task_struct(struct task_struct *t);
extern void put_task_struct(struct task_struct *t);
/* </kernsim-exports> */

#endif
