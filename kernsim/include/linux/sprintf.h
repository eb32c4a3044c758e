/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: formatting into buffers (include/linux/sprintf.h, lib/vsprintf.c).
 * Divergence: the host C library's, so the kernel's own conversions (%pS, %pK...)
 * are not known here; printk() knows them. */
#ifndef _LINUX_KERNEL_SPRINTF_H_
#define _LINUX_KERNEL_SPRINTF_H_

#include <stdarg.h>
#include <linux/compiler.h>
#include <linux/types.h>

__printf(2, 3) int sprintf(char *buf, const char *fmt, ...);
__printf(2, 0) int vsprintf(char *buf, const char *fmt, va_list args);
__printf(3, 4) int snprintf(char *buf, size_t size, const char *fmt, ...);
__printf(3, 0) int vsnprintf(char *buf, size_t size, const char *fmt, va_list args);
__scanf(2, 3) int sscanf(const char *buf, const char *fmt, ...);
__scanf(2, 0) int vsscanf(const char *buf, const char *fmt, va_list args);

#endif /* _LINUX_KERNEL_SPRINTF_H_ */
