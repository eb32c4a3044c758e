/* SPDX-License-Identifier: GPL-2.0-only */
/* kernsim: module metadata (include/linux/module.h, include/linux/moduleparam.h). */
#ifndef _LINUX_MODULE_H
#define _LINUX_MODULE_H

#include <linux/compiler.h>
#include <linux/stringify.h>
#include <linux/init.h>
#include <linux/stat.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>	/* __MODULE_INFO, module_param() */

/*
 * Each MODULE_*() line is a "tag=value" string in the object's .modinfo
 * section, as in the kernel; modinfo and the loader read them from there.
 */
#define MODULE_INFO(tag, info)		__MODULE_INFO(tag, tag, info)
#define MODULE_LICENSE(_license)	MODULE_INFO(license, _license)
#define MODULE_AUTHOR(_author)		MODULE_INFO(author, _author)
#define MODULE_DESCRIPTION(_description) MODULE_INFO(description, _description)
#define MODULE_VERSION(_version)	MODULE_INFO(version, _version)
#define MODULE_ALIAS(_alias)		MODULE_INFO(alias, _alias)
#define MODULE_SOFTDEP(_softdep)	MODULE_INFO(softdep, _softdep)
#define MODULE_FIRMWARE(_firmware)	MODULE_INFO(firmware, _firmware)
#define MODULE_IMPORT_NS(ns)		MODULE_INFO(import_ns, __stringify(ns))

/* The module being built (modpost's __this_module). */
struct module;
extern struct module __this_module;
#define THIS_MODULE (&__this_module)

#endif /* _LINUX_MODULE_H */
