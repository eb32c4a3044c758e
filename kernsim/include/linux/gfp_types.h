/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: allocation flags (include/linux/gfp_types.h, 6.3+: no __GFP_ATOMIC). */
#ifndef __LINUX_GFP_TYPES_H
#define __LINUX_GFP_TYPES_H

#include <linux/types.h>	/* gfp_t */

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
#define __GFP_DMA 1
#define __GFP_HIGHMEM 2
#define __GFP_DMA32 4
#define __GFP_MOVABLE 8
#define __GFP_RECLAIMABLE 16
#define __GFP_HIGH 32
#define __GFP_IO 64
#define __GFP_FS 128
#define __GFP_ZERO 0x00000100
#define __GFP_DIRECT_RECLAIM 0x00000400
#define __GFP_KSWAPD_RECLAIM 0x00000800
#define __GFP_WRITE 0x00001000
#define __GFP_NOWARN 0x00002000
#define __GFP_RETRY_MAYFAIL 0x00004000
#define __GFP_NOFAIL 0x00008000
#define __GFP_NORETRY 0x00010000
#define __GFP_MEMALLOC 0x00020000
#define __GFP_COMP 0x00040000
#define __GFP_NOMEMALLOC 0x00080000
#define __GFP_HARDWALL 0x00100000
#define __GFP_THISNODE 0x00200000
#define __GFP_ACCOUNT 0x00400000
#define __GFP_RECLAIM 0x00000c00
#define GFP_ATOMIC 0x00000820
#define GFP_KERNEL 0x00000cc0
#define GFP_KERNEL_ACCOUNT 0x00400cc0
#define GFP_NOWAIT 0x00000800
#define GFP_NOIO 0x00000c00
#define GFP_NOFS 0x00000c40
#define GFP_USER 0x00100cc0
#define GFP_DMA 1
#define GFP_DMA32 4
/* </kernsim-exports> */

#endif /* __LINUX_GFP_TYPES_H */
