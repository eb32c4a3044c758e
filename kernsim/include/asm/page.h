/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: the page size (arch/x86/include/asm/page_types.h). */
#ifndef _ASM_PAGE_H
#define _ASM_PAGE_H

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
#define PAGE_SHIFT 12
#define PAGE_SIZE 0x00001000
/* </kernsim-exports> */

#define PAGE_MASK	(~(PAGE_SIZE - 1))
#define PAGE_ALIGN(addr)	(((addr) + PAGE_SIZE - 1) & PAGE_MASK)

#endif /* _ASM_PAGE_H */
