/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: BUG() and WARN() (include/asm-generic/bug.h): reported by the
 * simulated kernel in its own words, with this file and line. */
#ifndef _LINUX_BUG_H
#define _LINUX_BUG_H

#include <linux/compiler.h>
#include <linux/printk.h>

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
extern void kernsim_bug(const char *file, int line);
extern void kernsim_warn_cut(void);
extern void kernsim_warn(const char *file, int line, int cut_printed);
/* </kernsim-exports> */

#define BUG() do {						\
	kernsim_bug(__FILE__, __LINE__);			\
	__builtin_unreachable();				\
} while (0)

#define BUG_ON(condition) do { if (unlikely(condition)) BUG(); } while (0)

#define WARN_ON(condition) ({					\
	int __ret_warn_on = !!(condition);			\
	if (unlikely(__ret_warn_on))				\
		kernsim_warn(__FILE__, __LINE__, 0);		\
	unlikely(__ret_warn_on);				\
})

#define WARN(condition, format...) ({				\
	int __ret_warn_on = !!(condition);			\
	if (unlikely(__ret_warn_on)) {				\
		kernsim_warn_cut();				\
		_printk(KERN_WARNING format);			\
		kernsim_warn(__FILE__, __LINE__, 1);		\
	}							\
	unlikely(__ret_warn_on);				\
})

/* The kernel keeps the "once" flag in the module's .data.once: a module
 * loaded again warns again. */
#define WARN_ON_ONCE(condition) ({				\
	static bool __section(".data.once") __warned;		\
	int __ret_warn_once = !!(condition);			\
	if (unlikely(__ret_warn_once && !__warned)) {		\
		__warned = true;				\
		kernsim_warn(__FILE__, __LINE__, 0);		\
	}							\
	unlikely(__ret_warn_once);				\
})

#define WARN_ONCE(condition, format...) ({			\
	static bool __section(".data.once") __warned;		\
	int __ret_warn_once = !!(condition);			\
	if (unlikely(__ret_warn_once && !__warned)) {		\
		__warned = true;				\
		kernsim_warn_cut();				\
		_printk(KERN_WARNING format);			\
		kernsim_warn(__FILE__, __LINE__, 1);		\
	}							\
	unlikely(__ret_warn_once);				\
})

#define BUILD_BUG_ON(condition) ((void)sizeof(char[1 - 2*!!(condition)]))

#endif /* _LINUX_BUG_H */
