/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: include/linux/gfp.h, the flags modules pass to the allocators. */
#ifndef __LINUX_GFP_H
#define __LINUX_GFP_H

#include <linux/gfp_types.h>
#include <asm/page.h>
#include <linux/mmzone.h>

static inline bool gfpflags_allow_blocking(const gfp_t gfp_flags)
{
	return !!(gfp_flags & __GFP_DIRECT_RECLAIM);
}

#endif /* __LINUX_GFP_H */
