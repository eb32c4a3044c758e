/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kernsim: string and memory functions (include/linux/string.h).  The plain
 * ones are the C library's (they behave as lib/string.c's); the k*dup ones
 * allocate with kmalloc.
 */
#ifndef _LINUX_STRING_H_
#define _LINUX_STRING_H_

#include <linux/types.h>

/* <kernsim-exports> */
/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */
extern char * kstrdup(const char *s, gfp_t gfp);
extern char * kstrndup(const char *s, size_t max, gfp_t gfp);
extern void * kmemdup(const void *src, size_t len, gfp_t gfp);
/* </kernsim-exports> */

extern void *memcpy(void *dest, const void *src, size_t n);
extern void *memmove(void *dest, const void *src, size_t n);
extern void *memset(void *s, int c, size_t n);
extern int memcmp(const void *s1, const void *s2, size_t n);
extern void *memchr(const void *s, int c, size_t n);
extern size_t strlen(const char *s);
extern size_t strnlen(const char *s, size_t maxlen);
extern int strcmp(const char *s1, const char *s2);
extern int strncmp(const char *s1, const char *s2, size_t n);
extern char *strcpy(char *dest, const char *src);
extern char *strncpy(char *dest, const char *src, size_t n);
extern char *strcat(char *dest, const char *src);
extern char *strncat(char *dest, const char *src, size_t n);
extern char *strchr(const char *s, int c);
extern char *strrchr(const char *s, int c);
extern char *strstr(const char *haystack, const char *needle);
extern int strcasecmp(const char *s1, const char *s2);
extern int strncasecmp(const char *s1, const char *s2, size_t n);
extern char *strpbrk(const char *s, const char *accept);
extern char *strsep(char **stringp, const char *delim);
extern size_t strspn(const char *s, const char *accept);
extern size_t strcspn(const char *s, const char *reject);
/* Copy with truncation: the length copied, or -E2BIG if it did not fit. */
extern ssize_t strscpy(char *dest, const char *src, size_t count);

#endif /* _LINUX_STRING_H_ */
