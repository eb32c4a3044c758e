/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: __init/__exit and module_init/module_exit for loadable modules
 * (include/linux/init.h, include/linux/module.h with MODULE defined). */
#ifndef _LINUX_INIT_H
#define _LINUX_INIT_H

#include <linux/compiler.h>

#define __init		__section(".init.text") __cold notrace
#define __exit		__section(".exit.text") __cold notrace
#define __initdata	__section(".init.data")
#define __exitdata	__section(".exit.data")
#define __initconst	__section(".init.rodata")
#define __exit_call	__used __section(".exitcall.exit")

typedef int (*initcall_t)(void);
typedef void (*exitcall_t)(void);

/*
 * A loadable module's entry points are the symbols init_module and
 * cleanup_module, aliases of the functions named here -- what the kernel's
 * loader, and kernsim's, look up.
 */
#define module_init(initfn)					\
	static inline initcall_t __maybe_unused __inittest(void)	\
	{ return initfn; }					\
	int init_module(void) __copy(initfn)			\
		__attribute__((alias(#initfn)));

#define module_exit(exitfn)					\
	static inline exitcall_t __maybe_unused __exittest(void)	\
	{ return exitfn; }					\
	void cleanup_module(void) __copy(exitfn)		\
		__attribute__((alias(#exitfn)));

#endif /* _LINUX_INIT_H */
