/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: tasks, states and the scheduler (include/linux/sched.h). */
#ifndef _LINUX_SCHED_H
#define _LINUX_SCHED_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/jiffies.h>
#include <linux/wait.h>
#include <asm/current.h>

#define TASK_COMM_LEN 16

/*
 * The simulated kernel keeps each task's state; what module code may read
 * directly is here.  The state word is not: read it with READ_ONCE-free
 * accessors (task_is_running()), set it with set_current_state().
 */
struct task_struct {
	pid_t			pid;
	pid_t			tgid;
	char			comm[TASK_COMM_LEN];
	void			*kernsim_task;	/* the simulator's handle */
};

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
#define TASK_RUNNING 0
#define TASK_INTERRUPTIBLE 1
#define TASK_UNINTERRUPTIBLE 2
#define __TASK_STOPPED 4
#define __TASK_TRACED 8
#define EXIT_DEAD 16
#define EXIT_ZOMBIE 32
#define TASK_PARKED 64
#define TASK_DEAD 128
#define TASK_WAKEKILL 0x00000100
#define TASK_WAKING 0x00000200
#define TASK_NOLOAD 0x00000400
#define TASK_NEW 0x00000800
#define TASK_RTLOCK_WAIT 0x00001000
#define TASK_FREEZABLE 0x00002000
#define TASK_FROZEN 0x00008000
#define TASK_KILLABLE 0x00000102
#define TASK_STOPPED 0x00000104
#define TASK_TRACED 8
#define TASK_IDLE 0x00000402
#define TASK_NORMAL 3
#define MAX_SCHEDULE_TIMEOUT 9223372036854775807L
extern struct task_struct * get_current(void);
extern void schedule(void);
extern int wake_up_process(struct task_struct *p);
extern int wake_up_state(struct task_struct *p, unsigned int state);
extern long schedule_timeout(long timeout);
extern long schedule_timeout_interruptible(long timeout);
extern long schedule_timeout_uninterruptible(long timeout);
extern long schedule_timeout_killable(long timeout);
extern long schedule_timeout_idle(long timeout);
/* </kernsim-exports> */

unsigned int kernsim_task_state(struct task_struct *p);
void kernsim_set_current_state(unsigned int state);

#define set_current_state(state_value)	kernsim_set_current_state(state_value)
#define __set_current_state(state_value) kernsim_set_current_state(state_value)
#define task_is_running(task)		(kernsim_task_state(task) == TASK_RUNNING)
#define task_pid_nr(tsk)		((tsk)->pid)

#define cond_resched()	({ 0; })
#define might_sleep()	do { } while (0)

#endif /* _LINUX_SCHED_H */
