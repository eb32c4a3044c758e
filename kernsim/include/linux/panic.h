/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _LINUX_PANIC_H
#define _LINUX_PANIC_H

#include <linux/compiler.h>

/* Prints "Kernel panic - not syncing: ..." and stops the simulated kernel. */
__printf(1, 2) __cold __noreturn void panic(const char *fmt, ...);

#endif
