/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: virtually contiguous memory (include/linux/vmalloc.h). */
#ifndef _LINUX_VMALLOC_H
#define _LINUX_VMALLOC_H

#include <linux/types.h>
#include <linux/gfp.h>

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
extern void * vmalloc(unsigned long size);
extern void * vzalloc(unsigned long size);
extern void vfree(const void *addr);
/* </kernsim-exports> */

#endif /* _LINUX_VMALLOC_H */
