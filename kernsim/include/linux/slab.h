/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kernsim: kmalloc and friends (include/linux/slab.h).  The memory is real
 * and the simulated kernel keeps the books: a use after free, an access past
 * the end of a block or a double free is reported as KASAN reports it, and
 * what a module leaves allocated when it is removed as kmemleak does.
 */
#ifndef _LINUX_SLAB_H
#define _LINUX_SLAB_H

#include <linux/types.h>
#include <linux/gfp.h>
#include <linux/string.h>	/* kstrdup & co., as the kernel's headers bring it in */

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
#define KMALLOC_MAX_CACHE_SIZE 0x00002000
#define KMALLOC_MAX_SIZE 0x00400000
extern void * kmalloc(size_t size, gfp_t flags);
extern void * kzalloc(size_t size, gfp_t flags);
extern void * kmalloc_array(size_t n, size_t size, gfp_t flags);
extern void * kcalloc(size_t n, size_t size, gfp_t flags);
extern void kfree(const void *objp);
extern size_t ksize(const void *objp);
extern void * krealloc(const void *objp, size_t new_size, gfp_t flags);
extern void * kvmalloc(size_t size, gfp_t flags);
extern void * kvzalloc(size_t size, gfp_t flags);
extern void kvfree(const void *addr);
/* </kernsim-exports> */

/*
 * What kmalloc(0) returns: not NULL, but not memory either -- any access
 * through it faults at address 16; kfree() accepts it.
 */
#define ZERO_SIZE_PTR ((void *)16)
#define ZERO_OR_NULL_PTR(x) ((unsigned long)(x) <= (unsigned long)ZERO_SIZE_PTR)

#define kmalloc_node(size, flags, node)	kmalloc(size, flags)
#define kzalloc_node(size, flags, node)	kzalloc(size, flags)
#define kvmalloc_array(n, size, flags)	kvmalloc((n) * (size), flags)
#define kvcalloc(n, size, flags)	kvzalloc((n) * (size), flags)

#endif /* _LINUX_SLAB_H */
