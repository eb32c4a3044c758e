/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: module parameters (include/linux/moduleparam.h).
 *
 * As in the kernel, module_param() and its relatives put a struct
 * kernel_param into the object's __param section (the loader finds the
 * parameters there) and a "parmtype=NAME:TYPE" string into .modinfo
 * (modinfo prints it); MODULE_PARM_DESC() adds "parm=NAME:TEXT".  The
 * param_ops_TYPE objects belong to the kernel: kernsim's runtime defines
 * them, and the simulated kernel parses and prints the values (kernel/params.c).
 */
#ifndef _LINUX_MODULEPARAM_H
#define _LINUX_MODULEPARAM_H

#include <linux/init.h>
#include <linux/stringify.h>
#include <linux/kernel.h>

/* A module's parameters have no prefix; built-in code's are "KBUILD_MODNAME.". */
#ifdef MODULE
#define MODULE_PARAM_PREFIX /* empty */
#define __MODULE_INFO_PREFIX /* empty */
#else
#define MODULE_PARAM_PREFIX KBUILD_MODNAME "."
#define __MODULE_INFO_PREFIX KBUILD_MODNAME "."
#endif

/* A "tag=value" string in .modinfo (one per MODULE_*() line). */
#define __MODULE_INFO(tag, name, info)					  \
	static const char __UNIQUE_ID(name)[]				  \
	__used __section(".modinfo") __aligned(1)			  \
	= __MODULE_INFO_PREFIX __stringify(tag) "=" info

#define __MODULE_PARM_TYPE(name, _type)					  \
	__MODULE_INFO(parmtype, name##type, #name ":" _type)

/* One-line description of a parameter, for modinfo. */
#define MODULE_PARM_DESC(_parm, desc)					\
	__MODULE_INFO(parm, _parm, #_parm ":" desc)

struct kernel_param;

/* How a type's text is parsed (set) and printed (get). */
struct kernel_param_ops {
	unsigned int flags;		/* KERNEL_PARAM_OPS_FL_* */
	int (*set)(const char *val, const struct kernel_param *kp);
	int (*get)(char *buffer, const struct kernel_param *kp);
	void (*free)(void *arg);
};

/* Flags of a parameter itself. */
enum {
	KERNEL_PARAM_FL_UNSAFE	= (1 << 0),
	KERNEL_PARAM_FL_HWPARAM	= (1 << 1),
};

struct kernel_param {
	const char *name;
	struct module *mod;
	const struct kernel_param_ops *ops;
	const u16 perm;
	s8 level;
	u8 flags;
	union {
		void *arg;
		const struct kparam_string *str;
		const struct kparam_array *arr;
	};
};

/* module_param_string(): a char buffer of maxlen bytes (its NUL included). */
struct kparam_string {
	unsigned int maxlen;
	char *string;
};

/* module_param_array(): max elements of elemsize bytes; *num gets the count. */
struct kparam_array {
	unsigned int max;
	unsigned int elemsize;
	unsigned int *num;
	const struct kernel_param_ops *ops;
	void *elem;
};

/**
 * module_param - a module parameter
 * @name: the variable, which is also the parameter's name
 * @type: byte, short, ushort, int, uint, long, ulong, ullong, hexint,
 *	charp, bool or invbool (param_ops_TYPE does the work)
 * @perm: mode of /sys/module/MOD/parameters/NAME (0: no file); octal
 *
 * "insmod m.ko name=value" sets it before the module's init runs; "-" and
 * "_" are the same in names.
 */
#define module_param(name, type, perm)				\
	module_param_named(name, name, type, perm)

/* Parameter @name, variable @value. */
#define module_param_named(name, value, type, perm)			   \
	param_check_##type(name, &(value));				   \
	module_param_cb(name, &param_ops_##type, &value, perm);		   \
	__MODULE_PARM_TYPE(name, #type)

/* A parameter with the given kernel_param_ops (kernsim: only the kernel's own). */
#define module_param_cb(name, ops, arg, perm)				      \
	__module_param_call(MODULE_PARAM_PREFIX, name, ops, arg, perm, -1, 0)

/* The __param entry itself. */
#define __module_param_call(prefix, name, ops, arg, perm, level, flags)	\
	static const char __param_str_##name[] = prefix #name;		\
	static struct kernel_param const __param_##name			\
	__used __section("__param")					\
	__aligned(__alignof__(struct kernel_param))			\
	= { __param_str_##name, THIS_MODULE, ops,			\
	    VERIFY_OCTAL_PERMISSIONS(perm), level, flags, { arg } }

/* The variable must have the type's C type: else the build fails. */
#define __param_check(name, p, type) \
	static inline type __always_unused *__check_##name(void) { return(p); }

#define param_check_byte(name, p) __param_check(name, p, unsigned char)
#define param_check_short(name, p) __param_check(name, p, short)
#define param_check_ushort(name, p) __param_check(name, p, unsigned short)
#define param_check_int(name, p) __param_check(name, p, int)
#define param_check_uint(name, p) __param_check(name, p, unsigned int)
#define param_check_long(name, p) __param_check(name, p, long)
#define param_check_ulong(name, p) __param_check(name, p, unsigned long)
#define param_check_ullong(name, p) __param_check(name, p, unsigned long long)
#define param_check_hexint(name, p) param_check_uint(name, p)
#define param_check_charp(name, p) __param_check(name, p, char *)
#define param_check_bool(name, p) __param_check(name, p, bool)
#define param_check_invbool(name, p) __param_check(name, p, bool)

/**
 * module_param_array - an array parameter: comma-separated values
 * @name: the array (ARRAY_SIZE() of it is the most values it takes)
 * @type: the elements' type, as for module_param()
 * @nump: where to store how many values were given (or NULL)
 * @perm: as for module_param()
 */
#define module_param_array(name, type, nump, perm)		\
	module_param_array_named(name, name, type, nump, perm)

#define module_param_array_named(name, array, type, nump, perm)		\
	param_check_##type(name, &(array)[0]);				\
	static const struct kparam_array __param_arr_##name		\
	= { .max = ARRAY_SIZE(array), .num = nump,                      \
	    .ops = &param_ops_##type,					\
	    .elemsize = sizeof(array[0]), .elem = array };		\
	__module_param_call(MODULE_PARAM_PREFIX, name,			\
			    &param_array_ops,				\
			    .arr = &__param_arr_##name,			\
			    perm, -1, 0);				\
	__MODULE_PARM_TYPE(name, "array of " #type)

/**
 * module_param_string - a parameter copied into a char array
 * @name: the parameter's name
 * @string: the array
 * @len: its size (the longest value is @len - 1 characters)
 * @perm: as for module_param()
 */
#define module_param_string(name, string, len, perm)			\
	static const struct kparam_string __param_string_##name		\
		= { len, string };					\
	__module_param_call(MODULE_PARAM_PREFIX, name,			\
			    &param_ops_string,				\
			    .str = &__param_string_##name, perm, -1, 0);\
	__MODULE_PARM_TYPE(name, "string")

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
#define KERNEL_PARAM_OPS_FL_NOARG 1
extern const struct kernel_param_ops param_ops_byte;
extern const struct kernel_param_ops param_ops_short;
extern const struct kernel_param_ops param_ops_ushort;
extern const struct kernel_param_ops param_ops_int;
extern const struct kernel_param_ops param_ops_uint;
extern const struct kernel_param_ops param_ops_long;
extern const struct kernel_param_ops param_ops_ulong;
extern const struct kernel_param_ops param_ops_ullong;
extern const struct kernel_param_ops param_ops_hexint;
extern const struct kernel_param_ops param_ops_charp;
extern const struct kernel_param_ops param_ops_bool;
extern const struct kernel_param_ops param_ops_invbool;
extern const struct kernel_param_ops param_ops_string;
extern const struct kernel_param_ops param_array_ops;
/* </kernsim-exports> */

#endif /* _LINUX_MODULEPARAM_H */
