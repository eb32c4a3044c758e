/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: memory zones (include/linux/mmzone.h): only the page orders. */
#ifndef _LINUX_MMZONE_H
#define _LINUX_MMZONE_H

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
#define MAX_ORDER 10
/* </kernsim-exports> */

#define MAX_ORDER_NR_PAGES (1 << MAX_ORDER)

#endif /* _LINUX_MMZONE_H */
