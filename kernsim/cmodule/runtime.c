/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kernsim's C runtime: what a C module's calls into "the kernel" land on.
 *
 * Every kernel function a module calls is defined here as a forwarder to the
 * simulated kernel's Python implementation, through the table kernsim_ops that
 * the loader fills with cffi callbacks (the forwarders themselves are
 * generated from the list of exported symbols and appended to this file).
 *
 * Module code runs inside a *guard* (kernsim_call_*): a sigsetjmp frame on
 * the task's own stack.  Two things leave module code through it:
 *   - a fault (SIGSEGV, SIGBUS, SIGFPE, SIGILL) in module code: the signal
 *     handler records where and jumps back, and the kernel prints an oops;
 *   - an unwind the kernel asked for (an oops raised in kernel code called by
 *     the module, the task being killed, the kernel torn down): the Python side
 *     sets kernsim_unwinding and the forwarder jumps back as the call returns.
 * Only module C frames lie between a guard and the forwarder that jumps, so no
 * Python frame is ever skipped.  A bad access to module memory (kmalloc'd or
 * vmalloc'd) does not leave module code: the kernel reports it, as KASAN
 * does, and the code goes on (see "module memory" below).
 *
 * This file is built with the system's headers into one shared library per
 * process (loaded RTLD_GLOBAL); module objects are linked into their own
 * shared objects whose undefined kernel symbols resolve against it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

typedef unsigned long long u64;
typedef unsigned int gfp_t;
struct task_struct;
struct wait_queue_head;
struct wait_queue_entry;
struct lock_class_key;
struct completion;
struct mutex;
typedef struct spinlock spinlock_t;
typedef int (*wait_queue_func_t)(struct wait_queue_entry *, unsigned, int, void *);

/* One argument of a printk-style call, unpacked from a va_list by its conversion. */
struct kernsim_arg {
	int kind;		/* KERNSIM_ARG_* */
	long long i;		/* integers (already of the conversion's C type) */
	const void *p;		/* strings and pointers */
};
#define KERNSIM_ARG_INT		0
#define KERNSIM_ARG_UINT	1
#define KERNSIM_ARG_STR		2
#define KERNSIM_ARG_PTR		3
#define KERNSIM_MAX_ARGS	32

struct kernsim_fault {
	int sig;
	int code;
	unsigned long addr;	/* si_addr: the address accessed */
	unsigned long ip;	/* where module code was */
	unsigned long err;	/* the x86 page-fault error code (bit 1: write, bit 4: fetch) */
};

struct kernsim_frame {
	sigjmp_buf env;
	struct kernsim_frame *prev;
	struct kernsim_fault *fault;
};

static __thread struct kernsim_frame *kernsim_top;
static __thread int kernsim_unwinding;
/*
 * The module's frames at its last call into the kernel (for traces): the
 * return addresses found walking the frame-pointer chain up from the
 * forwarder (module code is built with -fno-omit-frame-pointer), innermost
 * first.  The walk stays inside this thread's stack; the Python side keeps
 * the leading addresses that fall in module code.
 */
#define KERNSIM_MAX_CALLERS 8
struct kernsim_callers {
	int n;
	void *pc[KERNSIM_MAX_CALLERS];
	void *sp;		/* the forwarder's frame: module frames live above it */
	void *stack_lo, *stack_hi;	/* this thread's stack */
};
static __thread struct kernsim_callers kernsim_callers;
static __thread char *kernsim_stack_lo, *kernsim_stack_hi;

static void kernsim_stack_bounds(void)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;

	if (pthread_getattr_np(pthread_self(), &attr) != 0)
		return;
	if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
		kernsim_stack_lo = addr;
		kernsim_stack_hi = (char *)addr + size;
	}
	pthread_attr_destroy(&attr);
}

/* The return addresses of the frame-pointer chain from fp, into *out. */
static void kernsim_walk_into(void **fp, struct kernsim_callers *out)
{
	int n = 0;

	while (n < KERNSIM_MAX_CALLERS && (char *)fp >= kernsim_stack_lo &&
	       (char *)(fp + 2) <= kernsim_stack_hi && !((unsigned long)fp & 7)) {
		void **next = fp[0];

		out->pc[n++] = fp[1];
		if (next <= fp)
			break;
		fp = next;
	}
	out->n = n;
}

static __attribute__((noinline)) void kernsim_walk(void **fp)
{
	if (!kernsim_stack_hi)
		kernsim_stack_bounds();
	kernsim_walk_into(fp, &kernsim_callers);
	kernsim_callers.sp = fp;
	kernsim_callers.stack_lo = kernsim_stack_lo;
	kernsim_callers.stack_hi = kernsim_stack_hi;
}

/*
 * A bad access to module memory (see "module memory" below), noted by the
 * fault handler and reported by the kernel at the module's next call into
 * it -- or as that call returns, if kernel code made the access.
 */
struct kernsim_memfault {
	int active;		/* 1 in a note taken */
	int write;		/* the page fault's error code had the write bit */
	unsigned long addr;	/* the address accessed */
	unsigned long ip;	/* the instruction that accessed it */
	unsigned long sp_word;	/* the word at the stack pointer (a leaf's return address) */
	struct kernsim_callers chain;	/* the frame-pointer chain at the access */
};
#define KERNSIM_MAX_MEMFAULTS 4
static __thread struct kernsim_memfault kernsim_memfaults[KERNSIM_MAX_MEMFAULTS];
static __thread int kernsim_memfault_n;	/* notes not yet reported */
static void kernsim_deliver_memfault(const char *where);

#include "ops.h"	/* struct kernsim_ops: generated */

/*
 * The kernel's bit_wait_table (kernel/sched/wait_bit.c): 256 wait queue heads
 * shared by every wait_var_event() of every module, chosen by hashing the
 * variable's address.  Storage only: linux/wait_bit.h lays its struct
 * wait_queue_heads over it and initialises each on first use (the runtime is
 * built without kernsim's headers, so it does not assume their layout).
 */
__attribute__((aligned(64))) char kernsim_bit_wait_table[256 * 64];

struct kernsim_ops kernsim_ops;

void kernsim_request_unwind(void)
{
	kernsim_unwinding = 1;
}

struct kernsim_callers kernsim_last_caller(void)
{
	return kernsim_callers;
}

static void kernsim_unwind(void)
{
	kernsim_unwinding = 0;
	siglongjmp(kernsim_top->env, 2);
}

/*
 * Is this thread running module code right now (inside a guard, not in a
 * call into the kernel)?  Only then may the watchdog's stop signal jump out
 * of it: Python frames never lie between a guard and module code.
 */
static __thread volatile sig_atomic_t kernsim_in_module;

#define KERNSIM_ENTER() do {							\
	kernsim_in_module = 0;							\
	kernsim_walk(__builtin_frame_address(0));				\
	if (__builtin_expect(kernsim_memfault_n, 0))				\
		kernsim_deliver_memfault(NULL);					\
} while (0)
#define KERNSIM_LEAVE() do {							\
	kernsim_in_module = 1;							\
	if (__builtin_expect(kernsim_memfault_n, 0))				\
		kernsim_deliver_memfault(__func__);				\
	if (__builtin_expect(kernsim_unwinding, 0) && kernsim_top)		\
		kernsim_unwind();						\
} while (0)

/* -- guards: 0 returned normally, 1 faulted (signal), 2 unwound -------------- */

#define KERNSIM_GUARD(call)						\
	struct kernsim_frame frame;					\
	int how;							\
	sig_atomic_t was_in_module = kernsim_in_module;			\
	frame.prev = kernsim_top;					\
	frame.fault = fault;						\
	how = sigsetjmp(frame.env, 1);					\
	if (how == 0) {							\
		kernsim_top = &frame;					\
		kernsim_in_module = 1;					\
		call;							\
	}								\
	kernsim_in_module = was_in_module;				\
	kernsim_top = frame.prev;					\
	return how

int kernsim_call_init(int (*fn)(void), struct kernsim_fault *fault, int *ret)
{
	KERNSIM_GUARD(*ret = fn());
}

int kernsim_call_exit(void (*fn)(void), struct kernsim_fault *fault)
{
	KERNSIM_GUARD(fn());
}

int kernsim_call_threadfn(int (*fn)(void *), void *data, struct kernsim_fault *fault, int *ret)
{
	KERNSIM_GUARD(*ret = fn(data));
}

int kernsim_call_wake(wait_queue_func_t fn, struct wait_queue_entry *entry, unsigned mode,
		      int flags, void *key, struct kernsim_fault *fault, int *ret)
{
	KERNSIM_GUARD(*ret = fn(entry, mode, flags, key));
}

/* -- faults in module code ------------------------------------------------ */

/*
 * The watchdog's stop (kernsim_stop_signal, sent to this thread): module code
 * that has not called the kernel for seconds of wall time is left through its
 * guard, as a fault of "signal" KERNSIM_STOP_SIGNAL; anywhere else the Python
 * side stops the task.
 */
#define KERNSIM_STOP_SIGNAL SIGUSR2

static void kernsim_stop_handler(int sig, siginfo_t *si, void *ucv)
{
	struct kernsim_frame *frame = kernsim_top;
	ucontext_t *uc = ucv;

	if (frame == NULL || !kernsim_in_module)
		return;
	frame->fault->sig = sig;
	frame->fault->code = 0;
	frame->fault->addr = 0;
	frame->fault->ip = (unsigned long)uc->uc_mcontext.gregs[REG_RIP];
	frame->fault->err = 0;
	siglongjmp(frame->env, 1);
}

int kernsim_stop_signal(void)
{
	return KERNSIM_STOP_SIGNAL;
}

static struct sigaction kernsim_old[32];
static const int kernsim_fault_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL };

static int kernsim_memory_fault(unsigned long addr, ucontext_t *uc);

static void kernsim_fault_handler(int sig, siginfo_t *si, void *ucv)
{
	struct kernsim_frame *frame = kernsim_top;
	ucontext_t *uc = ucv;

	if (sig == SIGSEGV && kernsim_memory_fault((unsigned long)si->si_addr, uc))
		return;	/* the access is made again, and succeeds */
	if (frame == NULL) {
		/* Not in module code: whoever handled it before (Python's
		 * faulthandler, or the default action) gets it. */
		struct sigaction *old = &kernsim_old[sig];

		if (old->sa_flags & SA_SIGINFO) {
			old->sa_sigaction(sig, si, ucv);
			return;
		}
		if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
			old->sa_handler(sig);
			return;
		}
		sigaction(sig, old, NULL);
		return;	/* the instruction faults again, with the old action */
	}
	frame->fault->sig = sig;
	frame->fault->code = si->si_code;
	frame->fault->addr = (unsigned long)si->si_addr;
	frame->fault->ip = (unsigned long)uc->uc_mcontext.gregs[REG_RIP];
	frame->fault->err = (unsigned long)uc->uc_mcontext.gregs[REG_ERR];
	siglongjmp(frame->env, 1);
}

/* A stack for the handler, per thread: a fault may be a stack overflow. */
static __thread char kernsim_sigstack[64 * 1024];
static __thread int kernsim_sigstack_set;

void kernsim_thread_init(void)
{
	stack_t ss;

	if (!kernsim_stack_hi)
		kernsim_stack_bounds();	/* not in a signal handler: it may allocate */
	if (kernsim_sigstack_set)
		return;
	ss.ss_sp = kernsim_sigstack;
	ss.ss_size = sizeof(kernsim_sigstack);
	ss.ss_flags = 0;
	sigaltstack(&ss, NULL);
	kernsim_sigstack_set = 1;
}

void kernsim_install_fault_handlers(void)
{
	static int installed;
	struct sigaction sa;
	size_t i;

	if (installed)
		return;
	installed = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = kernsim_fault_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(kernsim_fault_signals) / sizeof(kernsim_fault_signals[0]); i++)
		sigaction(kernsim_fault_signals[i], &sa, &kernsim_old[kernsim_fault_signals[i]]);
	sa.sa_sigaction = kernsim_stop_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(KERNSIM_STOP_SIGNAL, &sa, NULL);
}

/* -- module memory: the arenas of kmalloc and vmalloc ------------------- */

/*
 * What module code gets from kmalloc()/vmalloc() is real memory, carved by
 * the simulated kernel (kernsim/_core/_slab.py) out of an arena: one large
 * reservation per kernel, PROT_NONE, whose pages are made accessible when a
 * block is allocated and inaccessible again when it is freed.  Each block
 * ends at a guard page.  So a use after free, or an access past the end of
 * a block, faults -- and the handler reports it as KASAN would instead of
 * letting the task oops: it notes the access, opens the page, and returns;
 * the access is made again and succeeds (reading what the block held), as
 * after a real KASAN report.  The note is reported at the next call into
 * the kernel (KERNSIM_ENTER) or as the current one returns (KERNSIM_LEAVE).
 */
#define KERNSIM_MAX_ARENAS 16
static struct { unsigned long lo, hi; } kernsim_arenas[KERNSIM_MAX_ARENAS];

unsigned long kernsim_arena_reserve(unsigned long hint, unsigned long size)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	void *p;
	int i;

#ifdef MAP_FIXED_NOREPLACE
	if (hint)
		flags |= MAP_FIXED_NOREPLACE;
#endif
	p = mmap((void *)hint, size, PROT_NONE, flags, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	if (hint && (unsigned long)p != hint) {	/* an old kernel took it as a hint only */
		munmap(p, size);
		return 0;
	}
	for (i = 0; i < KERNSIM_MAX_ARENAS; i++) {
		if (!kernsim_arenas[i].hi) {
			kernsim_arenas[i].lo = (unsigned long)p;
			kernsim_arenas[i].hi = (unsigned long)p + size;
			return (unsigned long)p;
		}
	}
	munmap(p, size);
	return 0;
}

void kernsim_arena_release(unsigned long lo, unsigned long size)
{
	int i;

	for (i = 0; i < KERNSIM_MAX_ARENAS; i++)
		if (kernsim_arenas[i].lo == lo)
			kernsim_arenas[i].lo = kernsim_arenas[i].hi = 0;
	munmap((void *)lo, size);
}

/* Make [addr, addr + len) accessible (rw) or not; 0 on success. */
int kernsim_mem_protect(unsigned long addr, unsigned long len, int rw)
{
	return mprotect((void *)addr, len, rw ? PROT_READ | PROT_WRITE : PROT_NONE);
}

/* Give the pages' memory back (they read as zeroes when next opened). */
int kernsim_mem_discard(unsigned long addr, unsigned long len)
{
	return madvise((void *)addr, len, MADV_DONTNEED);
}

static int kernsim_memory_fault(unsigned long addr, ucontext_t *uc)
{
	int i;

	for (i = 0; i < KERNSIM_MAX_ARENAS; i++)
		if (addr >= kernsim_arenas[i].lo && addr < kernsim_arenas[i].hi)
			break;
	if (i == KERNSIM_MAX_ARENAS)
		return 0;
	if (kernsim_memfault_n < KERNSIM_MAX_MEMFAULTS) {	/* else: one note too many */
		struct kernsim_memfault *m = &kernsim_memfaults[kernsim_memfault_n++];
		unsigned long sp = (unsigned long)uc->uc_mcontext.gregs[REG_RSP];

		m->addr = addr;
		m->ip = (unsigned long)uc->uc_mcontext.gregs[REG_RIP];
		m->write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
		m->sp_word = 0;
		m->chain.n = 0;
		if (kernsim_stack_hi) {
			if ((char *)sp >= kernsim_stack_lo && (char *)sp + 8 <= kernsim_stack_hi)
				m->sp_word = *(unsigned long *)sp;
			kernsim_walk_into((void **)uc->uc_mcontext.gregs[REG_RBP], &m->chain);
		}
		m->active = 1;
	}
	return mprotect((void *)(addr & ~4095UL), 4096, PROT_READ | PROT_WRITE) == 0;
}

/* The oldest note not yet reported, into *out: 1, or 0 if there is none. */
int kernsim_take_memfault(struct kernsim_memfault *out)
{
	int i;

	if (!kernsim_memfault_n)
		return 0;
	*out = kernsim_memfaults[0];
	for (i = 1; i < kernsim_memfault_n; i++)
		kernsim_memfaults[i - 1] = kernsim_memfaults[i];
	kernsim_memfault_n--;
	return 1;
}

static void kernsim_deliver_memfault(const char *where)
{
	kernsim_ops.memory_fault(where);
	if (kernsim_unwinding && kernsim_top)
		kernsim_unwind();
}

/* strscpy (lib/string.c): copy with truncation, -E2BIG when it truncated. */
long strscpy(char *dest, const char *src, size_t count)
{
	size_t i;

	if (count == 0)
		return -7;
	for (i = 0; i < count; i++) {
		dest[i] = src[i];
		if (!src[i])
			return i;
	}
	dest[count - 1] = 0;
	return -7;
}

/* Symbol of a code address: name and start (for "fn+0x25/0x70 [module]"). */
int kernsim_symbolize(unsigned long addr, const char **name, unsigned long *start, const char **file)
{
	Dl_info info;

	if (!dladdr((void *)addr, &info) || !info.dli_sname)
		return 0;
	*name = info.dli_sname;
	*start = (unsigned long)info.dli_saddr;
	*file = info.dli_fname;
	return 1;
}

/* -- printk-style calls: unpack the va_list by the format's conversions -- */

static int kernsim_pack(const char *fmt, va_list ap, struct kernsim_arg *args)
{
	int n = 0;
	const char *p = fmt;

	while ((p = strchr(p, '%')) != NULL) {
		int lng = 0;	/* 0 int, 1 long, 2 long long, -1 short, -2 char */
		bool size_t_len = false;

		p++;
		if (*p == '%') {
			p++;
			continue;
		}
		while (*p && strchr("-+ #0", *p))
			p++;
		if (*p == '*') {
			if (n < KERNSIM_MAX_ARGS) {
				args[n].kind = KERNSIM_ARG_INT;
				args[n++].i = va_arg(ap, int);
			}
			p++;
		}
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == '.') {
			p++;
			if (*p == '*') {
				if (n < KERNSIM_MAX_ARGS) {
					args[n].kind = KERNSIM_ARG_INT;
					args[n++].i = va_arg(ap, int);
				}
				p++;
			}
			while (*p >= '0' && *p <= '9')
				p++;
		}
		for (;;) {
			if (*p == 'h') { lng--; p++; }
			else if (*p == 'l') { lng++; p++; }
			else if (*p == 'L') { lng = 2; p++; }
			else if (*p == 'z' || *p == 't') { size_t_len = true; p++; }
			else break;
		}
		if (!*p || n >= KERNSIM_MAX_ARGS)
			break;
		switch (*p) {
		case 'd': case 'i': case 'c':
			args[n].kind = KERNSIM_ARG_INT;
			if (lng >= 2) args[n].i = va_arg(ap, long long);
			else if (lng == 1 || size_t_len) args[n].i = va_arg(ap, long);
			else args[n].i = va_arg(ap, int);
			n++;
			break;
		case 'u': case 'x': case 'X': case 'o':
			args[n].kind = KERNSIM_ARG_UINT;
			if (lng >= 2) args[n].i = (long long)va_arg(ap, unsigned long long);
			else if (lng == 1 || size_t_len) args[n].i = (long long)va_arg(ap, unsigned long);
			else args[n].i = va_arg(ap, unsigned int);
			n++;
			break;
		case 's':
			args[n].kind = KERNSIM_ARG_STR;
			args[n++].p = va_arg(ap, const char *);
			break;
		case 'p':
			args[n].kind = KERNSIM_ARG_PTR;
			args[n++].p = va_arg(ap, const void *);
			break;
		default:	/* %n or another unknown conversion (or qualifier, as 'j'):
				 * format_decode() calls it invalid and vsnprintf stops there */
			return n;
		}
		p++;
	}
	return n;
}

int _printk(const char *fmt, ...)
{
	struct kernsim_arg args[KERNSIM_MAX_ARGS];
	va_list ap;
	int n, r;

	KERNSIM_ENTER();
	va_start(ap, fmt);
	n = kernsim_pack(fmt, ap, args);
	va_end(ap);
	r = kernsim_ops.vprintk(fmt, args, n);
	KERNSIM_LEAVE();
	return r;
}

struct task_struct *kthread_create_on_node(int (*threadfn)(void *data), void *data, int node,
					   const char namefmt[], ...)
{
	struct kernsim_arg args[KERNSIM_MAX_ARGS];
	struct task_struct *t;
	va_list ap;
	int n;

	KERNSIM_ENTER();
	va_start(ap, namefmt);
	n = kernsim_pack(namefmt, ap, args);
	va_end(ap);
	t = kernsim_ops.kthread_create_on_node(threadfn, data, node, namefmt, args, n);
	KERNSIM_LEAVE();
	return t;
}

void panic(const char *fmt, ...)
{
	struct kernsim_arg args[KERNSIM_MAX_ARGS];
	va_list ap;
	int n;

	KERNSIM_ENTER();
	va_start(ap, fmt);
	n = kernsim_pack(fmt, ap, args);
	va_end(ap);
	kernsim_ops.panic(fmt, args, n);
	/* A panicked kernel never runs this task again; only teardown gets here. */
	siglongjmp(kernsim_top->env, 2);
}

/* -- the rest of what the headers declare outside the generated blocks -- */

unsigned int kernsim_hz(void)
{
	return kernsim_ops.hz();
}

unsigned long kernsim_jiffies(void)
{
	return kernsim_ops.jiffies();
}

unsigned int kernsim_task_state(struct task_struct *p)
{
	unsigned int r;

	KERNSIM_ENTER();
	r = kernsim_ops.task_state(p);
	KERNSIM_LEAVE();
	return r;
}

void kernsim_set_current_state(unsigned int state)
{
	KERNSIM_ENTER();
	kernsim_ops.set_current_state(state);
	KERNSIM_LEAVE();
}

void __init_waitqueue_head(struct wait_queue_head *wq_head, const char *name, struct lock_class_key *key)
{
	KERNSIM_ENTER();
	kernsim_ops.init_waitqueue_head(wq_head, name, key);
	KERNSIM_LEAVE();
}

/* -- module parameters: the kernel's kernel_param_ops (kernel/params.c) -- */

struct kernel_param;
struct kernel_param_ops {
	unsigned int flags;
	int (*set)(const char *val, const struct kernel_param *kp);
	int (*get)(char *buffer, const struct kernel_param *kp);
	void (*free)(void *arg);
};

/*
 * The set and get of every param_ops_TYPE (their definitions are generated
 * after this file): the simulated kernel finds the type from kp->ops.  The
 * loader reads a module's __param section itself; these run only when module
 * code calls an ops function directly.
 */
static int kernsim_param_set(const char *val, const struct kernel_param *kp)
{
	int r;

	KERNSIM_ENTER();
	r = kernsim_ops.param_set(val, kp);
	KERNSIM_LEAVE();
	return r;
}

static int kernsim_param_get(char *buffer, const struct kernel_param *kp)
{
	int r;

	KERNSIM_ENTER();
	r = kernsim_ops.param_get(buffer, kp);
	KERNSIM_LEAVE();
	return r;
}

/* The generated forwarders and data objects follow. */
