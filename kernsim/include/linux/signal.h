/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: signal numbers (include/uapi/asm-generic/signal.h, x86 numbering). */
#ifndef _LINUX_SIGNAL_H
#define _LINUX_SIGNAL_H

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGKILL 9
#define SIGUSR1 10
#define SIGUSR2 12
#define SIGPIPE 13
#define SIGALRM 14
#define SIGTERM 15
#define SIGCHLD 17
#define SIGCONT 18
#define SIGSTOP 19
/* </kernsim-exports> */

#endif
