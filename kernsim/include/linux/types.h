/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: the kernel's basic types (include/linux/types.h). */
#ifndef _LINUX_TYPES_H
#define _LINUX_TYPES_H

#include <stddef.h>	/* size_t, NULL, offsetof: the compiler's own (-nostdinc) */

/* A type, not <stdbool.h>'s macro: module_param(flag, bool, 0644) pastes the
 * word "bool" into param_ops_bool (include/linux/types.h, linux/stddef.h). */
typedef _Bool			bool;
enum {
	false	= 0,
	true	= 1
};

typedef signed char		s8;
typedef unsigned char		u8;
typedef signed short		s16;
typedef unsigned short		u16;
typedef signed int		s32;
typedef unsigned int		u32;
typedef signed long long	s64;
typedef unsigned long long	u64;
typedef s8 __s8; typedef u8 __u8; typedef s16 __s16; typedef u16 __u16;
typedef s32 __s32; typedef u32 __u32; typedef s64 __s64; typedef u64 __u64;

typedef int		pid_t;
typedef unsigned int	uid_t;
typedef unsigned int	gid_t;
typedef long		ssize_t;
typedef long		loff_t;
typedef unsigned int	gfp_t;
typedef unsigned short	umode_t;
typedef unsigned long	uintptr_t;
typedef long		intptr_t;
typedef s64		ktime_t;

typedef struct {
	int counter;
} atomic_t;

typedef struct {
	s64 counter;
} atomic64_t;

typedef atomic64_t atomic_long_t;

struct list_head {
	struct list_head *next, *prev;
};

struct hlist_head {
	struct hlist_node *first;
};

struct hlist_node {
	struct hlist_node *next, **pprev;
};

#endif /* _LINUX_TYPES_H */
