/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kernsim: atomics (include/linux/atomic.h, asm/cmpxchg.h).  Single
 * instructions, as on x86: none of them calls the kernel, so none is a
 * scheduling point (the Python ones are not either).  The counters wrap
 * around in two's complement.
 */
#ifndef _LINUX_ATOMIC_H
#define _LINUX_ATOMIC_H

#include <linux/types.h>
#include <linux/compiler.h>

#define ATOMIC_INIT(i)		{ (i) }
#define ATOMIC_LONG_INIT(i)	{ (i) }

static __always_inline int atomic_read(const atomic_t *v)
{
	return READ_ONCE(v->counter);
}

static __always_inline void atomic_set(atomic_t *v, int i)
{
	WRITE_ONCE(v->counter, i);
}

static __always_inline void atomic_add(int i, atomic_t *v)
{
	__atomic_fetch_add(&v->counter, i, __ATOMIC_SEQ_CST);
}

static __always_inline void atomic_sub(int i, atomic_t *v)
{
	__atomic_fetch_sub(&v->counter, i, __ATOMIC_SEQ_CST);
}

static __always_inline void atomic_inc(atomic_t *v)
{
	atomic_add(1, v);
}

static __always_inline void atomic_dec(atomic_t *v)
{
	atomic_sub(1, v);
}

static __always_inline int atomic_add_return(int i, atomic_t *v)
{
	return __atomic_add_fetch(&v->counter, i, __ATOMIC_SEQ_CST);
}

static __always_inline int atomic_sub_return(int i, atomic_t *v)
{
	return __atomic_sub_fetch(&v->counter, i, __ATOMIC_SEQ_CST);
}

static __always_inline int atomic_inc_return(atomic_t *v)
{
	return atomic_add_return(1, v);
}

static __always_inline int atomic_dec_return(atomic_t *v)
{
	return atomic_sub_return(1, v);
}

static __always_inline int atomic_fetch_add(int i, atomic_t *v)
{
	return __atomic_fetch_add(&v->counter, i, __ATOMIC_SEQ_CST);
}

static __always_inline int atomic_fetch_sub(int i, atomic_t *v)
{
	return __atomic_fetch_sub(&v->counter, i, __ATOMIC_SEQ_CST);
}

static __always_inline bool atomic_dec_and_test(atomic_t *v)
{
	return atomic_sub_return(1, v) == 0;
}

static __always_inline bool atomic_inc_and_test(atomic_t *v)
{
	return atomic_add_return(1, v) == 0;
}

static __always_inline bool atomic_sub_and_test(int i, atomic_t *v)
{
	return atomic_sub_return(i, v) == 0;
}

static __always_inline int atomic_cmpxchg(atomic_t *v, int old, int new)
{
	__atomic_compare_exchange_n(&v->counter, &old, new, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	return old;
}

static __always_inline int atomic_xchg(atomic_t *v, int new)
{
	return __atomic_exchange_n(&v->counter, new, __ATOMIC_SEQ_CST);
}

/* On plain variables: old = xchg(&x, new); seen = cmpxchg(&x, old, new); */
#define xchg(ptr, x)	__atomic_exchange_n((ptr), (x), __ATOMIC_SEQ_CST)

#define cmpxchg(ptr, old, new)							\
({										\
	__typeof__(*(ptr)) __old = (old);					\
	__atomic_compare_exchange_n((ptr), &__old, (new), false,		\
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);	\
	__old;									\
})

#endif /* _LINUX_ATOMIC_H */
