/* SPDX-License-Identifier: GPL-2.0 */
/* kernsim: errno values (include/uapi/asm-generic/errno*.h, include/linux/errno.h). */
#ifndef _LINUX_ERRNO_H
#define _LINUX_ERRNO_H

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define EINTR 4
#define EIO 5
#define ENXIO 6
#define E2BIG 7
#define ENOEXEC 8
#define EBADF 9
#define ECHILD 10
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define ENOTBLK 15
#define EBUSY 16
#define EEXIST 17
#define EXDEV 18
#define ENODEV 19
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define ENFILE 23
#define EMFILE 24
#define ENOTTY 25
#define ETXTBSY 26
#define EFBIG 27
#define ENOSPC 28
#define ESPIPE 29
#define EROFS 30
#define EMLINK 31
#define EPIPE 32
#define EDOM 33
#define ERANGE 34
#define EDEADLK 35
#define ENAMETOOLONG 36
#define ENOLCK 37
#define ENOSYS 38
#define ENOTEMPTY 39
#define ELOOP 40
#define EWOULDBLOCK 11
#define ENOMSG 42
#define ENODATA 61
#define ETIME 62
#define ENOTSUPP 0x0000020c
#define EOVERFLOW 75
#define EBADMSG 74
#define EOPNOTSUPP 95
#define ECANCELED 125
#define ENOKEY 126
#define EKEYREJECTED 129
#define ETIMEDOUT 110
#define EALREADY 114
#define EINPROGRESS 115
#define ERESTARTSYS 0x00000200
#define ERESTARTNOINTR 0x00000201
#define ERESTARTNOHAND 0x00000202
#define ENOIOCTLCMD 0x00000203
/* </kernsim-exports> */

#endif /* _LINUX_ERRNO_H */
