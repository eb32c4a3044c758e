/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: file permission bits (include/uapi/linux/stat.h, include/linux/stat.h),
 * as module parameters' sysfs modes use them: S_IRUGO | S_IWUSR. */
#ifndef _LINUX_STAT_H
#define _LINUX_STAT_H

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
#define S_ISUID 0x00000800
#define S_ISGID 0x00000400
#define S_ISVTX 0x00000200
#define S_IRWXU 0x000001c0
#define S_IRUSR 0x00000100
#define S_IWUSR 128
#define S_IXUSR 64
#define S_IRWXG 56
#define S_IRGRP 32
#define S_IWGRP 16
#define S_IXGRP 8
#define S_IRWXO 7
#define S_IROTH 4
#define S_IWOTH 2
#define S_IXOTH 1
#define S_IRWXUGO 0x000001ff
#define S_IALLUGO 0x00000fff
#define S_IRUGO 0x00000124
#define S_IWUGO 146
#define S_IXUGO 73
/* </kernsim-exports> */

#endif /* _LINUX_STAT_H */
