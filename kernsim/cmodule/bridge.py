"""The simulated kernel's view of C module memory, and C's calls into the kernel.

The core's wait-queue code works on objects with ``next``/``prev``/``flags``/
``private``/``func`` attributes.  For a C module those objects are C
structures -- a ``struct wait_queue_head`` in the module's data, a
``struct wait_queue_entry`` on a sleeping task's stack -- and the proxies
here read and write that very memory, so the core's one implementation of the
semantics drives C modules too, and what C code then reads
(``list_empty(&wait.entry)``) is what the kernel wrote.  A proxy is made once
per address and kept, so the core's identity tests (``node is head``) hold.

Each C call into the kernel arrives at :func:`_adapter`'s closure: arguments
are turned into the core's objects by their C type, the exported function
runs (with its scheduling points), and the result goes back as C.  An
exception there (an oops raised by the core, the task being killed) cannot
cross the C frames: it is kept, the runtime is asked to unwind, and the guard
that entered module code raises it again on the Python side.
"""

from __future__ import annotations

import sys
import threading
import weakref
from typing import Any, Callable, Final

from .._core._bug import KernelBug, PageFault, Trap
from .._core._diag import StuckInModuleCode
from .._core._task import ThreadContext
from .._core._current import cur
from .._core._errno import MAX_ERRNO, ErrPtr
from .._core._export import C_ENTRIES, EXPORTS, FRAME_EXPANDERS
from .._core._kernel import BOOT_HOOKS
from .._core._lockdep import LD_WAIT_CONFIG, LD_WAIT_SLEEP
from .._core._printk import format_printf
from .._core._task import Task
from .._core._waitqueue import LIST_POISON, autoremove_wake_function, default_wake_function, \
    woken_wake_function
from . import memory
from . import runtime as rt
from .params import CParams

ULONG: Final = 1 << 64
LIST_POISON1: Final = 0xDEAD000000000100
LIST_POISON2: Final = 0xDEAD000000000122

_SIGNALS: Final = {11: "SIGSEGV", 7: "SIGBUS", 8: "SIGFPE", 4: "SIGILL"}


class CListHead:
    """The ``struct list_head`` sentinel inside a C ``wait_queue_head``."""

    __slots__ = ("bridge", "lh")

    def __init__(self, bridge: Bridge, lh: Any) -> None:
        self.bridge = bridge
        self.lh = lh

    @property
    def next(self) -> Any:
        return self.bridge.node(self.lh.next)

    @next.setter
    def next(self, value: Any) -> None:
        self.lh.next = self.bridge.link(value, LIST_POISON1)

    @property
    def prev(self) -> Any:
        return self.bridge.node(self.lh.prev)

    @prev.setter
    def prev(self, value: Any) -> None:
        self.lh.prev = self.bridge.link(value, LIST_POISON2)


class CWaitEntry(CListHead):
    """A C ``struct wait_queue_entry`` (its link is ``entry``)."""

    __slots__ = ("ptr", "name", "__weakref__")

    def __init__(self, bridge: Bridge, ptr: Any) -> None:
        super().__init__(bridge, bridge.ffi.addressof(ptr, "entry"))
        self.ptr = ptr
        self.name = ""

    @property
    def flags(self) -> int:
        return int(self.ptr.flags)

    @flags.setter
    def flags(self, value: int) -> None:
        self.ptr.flags = value & 0xFFFFFFFF

    @property
    def private(self) -> Any:
        return self.bridge.task_from_ptr(self.ptr.private)

    @private.setter
    def private(self, value: Any) -> None:
        self.ptr.private = self.bridge.task_ptr(value)

    @property
    def func(self) -> Any:
        return self.bridge.wake_function(self.ptr.func)

    @func.setter
    def func(self, value: Any) -> None:
        self.ptr.func = self.bridge.wake_function_ptr(value)

    @property
    def queued(self) -> bool:
        n = self.next
        return n is not self and n is not None and n is not LIST_POISON

    def _task(self) -> Any:
        """The task it was queued for, or None if that is no task any more."""
        try:
            return self.private
        except KernelBug:  # its task_struct is gone (the thread exited)
            return None

    @property
    def report_address(self) -> int:
        """Its address as a report prints it: a kernel stack address, the same
        on every run (the host's stack addresses are not)."""
        task = self._task()
        chain = getattr(task, "c_stack", None) if task is not None else None
        base = 0xFFFFC90000000000 + (task.pid if task is not None else 0) * 0x4000
        if chain is None:
            return base
        return base + 0x4000 - ((self.bridge.addr(chain.stack_hi) - self.bridge.addr(self.ptr))
                                & 0x3FFF)

    def is_stale(self) -> bool:
        """Is this entry on its task's stack, below the frames still live?  The
        task is in a kernel call (or asleep in one), or gone: what lies below
        that call's frame is no module function's any more."""
        task = self._task()
        if task is None:
            return True  # queued for a task that no longer exists: garbage
        chain = getattr(task, "c_stack", None)
        if chain is None:
            return False
        a = self.bridge.addr(self.ptr)
        lo, hi = self.bridge.addr(chain.stack_lo), self.bridge.addr(chain.stack_hi)
        if not lo <= a < hi:
            return False  # not on that stack (a static entry, or another task's)
        return bool(task.exit_state) or a < self.bridge.addr(chain.sp)

    def __repr__(self) -> str:
        return f"<C wait_queue_entry at {self.bridge.addr(self.ptr):#x} flags={self.flags:#x}>"


class CWaitQueueHead:
    """A C ``struct wait_queue_head``."""

    __slots__ = ("ptr", "head", "name", "__weakref__")

    def __init__(self, bridge: Bridge, ptr: Any) -> None:
        self.ptr = ptr
        self.head = CListHead(bridge, bridge.ffi.addressof(ptr, "head"))
        self.name = ""

    def entries(self) -> list[Any]:
        out = []
        node = self.head.next
        while node is not self.head:
            out.append(node)
            node = node.next
        return out

    def __repr__(self) -> str:
        return f"<C wait_queue_head {self.name}>"


class CCompletion:
    """A C ``struct completion``: its count in C memory, its waiters (tasks,
    which C code never reads) on the simulator's side."""

    __slots__ = ("ptr", "waiters", "name", "__weakref__")

    def __init__(self, ptr: Any) -> None:
        self.ptr = ptr
        self.waiters: list[Task] = []
        self.name = ""

    @property
    def done(self) -> int:
        return int(self.ptr.done)

    @done.setter
    def done(self, value: int) -> None:
        self.ptr.done = value & 0xFFFFFFFF


class _CLock:
    """A lock in C memory: its word there (nonzero while held), its owner and
    waiters on the simulator's side (C code reads only the word)."""

    __slots__ = ("bridge", "ptr", "_owner", "name", "__weakref__")

    def __init__(self, bridge: Bridge, ptr: Any) -> None:
        self.bridge = bridge
        self.ptr = ptr
        self._owner: Task | None = None
        self.name = ""

    def symbol_name(self) -> str | None:
        """The module variable the lock is (in), for lockdep's lock name."""
        return self.bridge.data_symbol(self.bridge.addr(self.ptr))


class CMutex(_CLock):
    """A C ``struct mutex``: ``owner`` holds the owner's task_struct pointer."""

    __slots__ = ("waiters",)
    lockdep_wait_type = LD_WAIT_SLEEP

    def __init__(self, bridge: Bridge, ptr: Any) -> None:
        super().__init__(bridge, ptr)
        self.waiters: list[Task] = []

    @property
    def owner(self) -> Task | None:
        return self._owner if self.ptr.owner else None

    @owner.setter
    def owner(self, task: Task | None) -> None:
        self._owner = task
        self.ptr.owner = self.bridge.addr(self.bridge.task_ptr(task)) if task is not None else 0

    def __repr__(self) -> str:
        return f"<C mutex at {self.bridge.addr(self.ptr):#x} owner={getattr(self.owner, 'pid', None)}>"


class CSpinlock(_CLock):
    """A C ``spinlock_t``: its word is 1 while it is held."""

    __slots__ = ("spinners",)
    lockdep_wait_type = LD_WAIT_CONFIG

    def __init__(self, bridge: Bridge, ptr: Any) -> None:
        super().__init__(bridge, ptr)
        self.spinners: list[Task] = []

    @property
    def owner(self) -> Task | None:
        return self._owner if self.ptr.locked else None

    @owner.setter
    def owner(self, task: Task | None) -> None:
        self._owner = task
        self.ptr.locked = 1 if task is not None else 0

    def __repr__(self) -> str:
        return f"<C spinlock at {self.bridge.addr(self.ptr):#x} owner={getattr(self.owner, 'pid', None)}>"


class CWakeFunction:
    """A wake function written in C, called by the core's wake-up walk."""

    def __init__(self, bridge: Bridge, fnptr: Any) -> None:
        self.bridge = bridge
        self.fnptr = fnptr
        self.__name__ = bridge.symbol_name(bridge.addr(fnptr)) or "wake_function"

    def __call__(self, entry: Any, mode: int, flags: int, key: Any) -> int:
        b = self.bridge
        fault = b.ffi.new("struct kernsim_fault *")
        ret = b.ffi.new("int *")
        fault_ip = 0  # noqa: F841  (read by the trace expander)
        how = b.lib.kernsim_call_wake(self.fnptr, entry.ptr, mode, flags, b.key_ptr(key), fault, ret)
        fault_ip = fault.ip  # noqa: F841
        return b.outcome(how, fault, ret[0])


class CFunction:
    """A C function of a module that the kernel calls: init, exit, a thread
    function.  ``native``: it needs a task with a real stack (ThreadContext)."""

    native = True

    def __init__(self, bridge: Bridge, fnptr: Any, kind: str, module: Any = None) -> None:
        self.bridge = bridge
        self.fnptr = fnptr
        self.kind = kind
        self.kernsim_module = module
        self.__name__ = bridge.symbol_name(bridge.addr(fnptr)) or kind

    def __call__(self, data: Any = None) -> Any:
        b = self.bridge
        b.lib.kernsim_thread_init()
        fault = b.ffi.new("struct kernsim_fault *")
        ret = b.ffi.new("int *")
        fault_ip = 0
        if self.kind == "exit":
            how = b.lib.kernsim_call_exit(self.fnptr, fault)
        elif self.kind == "init":
            how = b.lib.kernsim_call_init(self.fnptr, fault, ret)
        else:
            how = b.lib.kernsim_call_threadfn(self.fnptr, data if data is not None else b.ffi.NULL,
                                              fault, ret)
        fault_ip = fault.ip  # noqa: F841  (read by the trace expander)
        if how == 0:
            memory.report_memfault(b, None, sys._getframe(0))  # a bad access just before returning
        result = b.outcome(how, fault, ret[0])
        return None if self.kind == "exit" else result


class Bridge:
    """Proxies, address maps and the C-call adapters of one kernel."""

    def __init__(self) -> None:
        r = rt.runtime()
        self.ffi = r.ffi
        self.lib = r.lib
        self._nodes: dict[int, Any] = {}
        self._heads: dict[int, CWaitQueueHead] = {}
        self._completions: dict[int, CCompletion] = {}
        self._mutexes: dict[int, CMutex] = {}
        self._spinlocks: dict[int, CSpinlock] = {}
        self._task_structs: dict[int, Any] = {}   # pid -> cdata (kept alive)
        # Weak: a task's struct goes when the task does (kernels come and go).
        self._tasks_by_addr: weakref.WeakValueDictionary[int, Task] = weakref.WeakValueDictionary()
        self._wake_functions: dict[int, Any] = {}
        self._wake_ptrs: dict[Any, Any] = {}
        self._entry_offset = self.ffi.offsetof("struct wait_queue_entry", "entry")
        #: The signal the watchdog stops runaway module code with (runtime.c).
        self.stop_signal = int(self.lib.kernsim_stop_signal())
        ThreadContext.stop_signal = self.stop_signal
        for fn, c in ((autoremove_wake_function, self.lib.autoremove_wake_function),
                      (default_wake_function, self.lib.default_wake_function),
                      (woken_wake_function, self.lib.woken_wake_function)):
            ptr = self.ffi.cast("void *", c)
            self._wake_functions[self.addr(ptr)] = fn
            self._wake_ptrs[fn] = ptr
        #: The kernel's kernel_param_ops in the runtime, and __param readers.
        self.params = CParams(self.ffi, self.lib)
        #: Loaded C modules' symbol tables: [(start, end, name, module name)].
        self.symbols: list[tuple[int, int, str, str]] = []
        #: Their data objects, the same way (named locks for lockdep).
        self.data_symbols: list[tuple[int, int, str, str]] = []
        self.pending = threading.local()

    def new_kernel(self) -> None:
        """A kernel boots: the runtime's bit_wait_table (wait_var_event's heads)
        starts empty -- entries a torn-down kernel left there point into the
        stacks of threads that are gone."""
        table = self.lib.kernsim_bit_wait_table
        self.ffi.memmove(table, bytes(len(table)), len(table))

    # -- addresses ----------------------------------------------------------

    def addr(self, ptr: Any) -> int:
        return int(self.ffi.cast("uintptr_t", ptr))

    def node(self, lh: Any) -> Any:
        """The proxy of the object whose ``struct list_head`` is at *lh*."""
        a = self.addr(lh)
        n = self._nodes.get(a)
        if n is not None:
            return n
        if a == 0:
            return None
        if a in (LIST_POISON1, LIST_POISON2):
            return LIST_POISON
        return self.entry(self.ffi.cast("struct wait_queue_entry *", a - self._entry_offset))

    def forget_range(self, lo: int, hi: int) -> None:
        """Memory in [lo, hi) is gone (a kernel's module memory): drop the
        proxies made for structures there, so that new ones at the same
        addresses start afresh."""
        for table in (self._nodes, self._heads, self._completions):
            for a in [a for a in table if lo <= a < hi]:
                del table[a]

    def link(self, value: Any, poison: int) -> Any:
        if value is None:
            return self.ffi.NULL
        if value is LIST_POISON:
            return self.ffi.cast("struct list_head *", poison)
        return value.lh

    def head(self, ptr: Any) -> CWaitQueueHead | None:
        a = self.addr(ptr)
        if a == 0:
            return None
        h = self._heads.get(a)
        if h is None:
            h = self._heads[a] = CWaitQueueHead(self, ptr)
            self._nodes[self.addr(h.head.lh)] = h.head
        return h

    def completion(self, ptr: Any) -> CCompletion | None:
        a = self.addr(ptr)
        if a == 0:
            return None
        c = self._completions.get(a)
        if c is None:
            c = self._completions[a] = CCompletion(ptr)
        return c

    def mutex(self, ptr: Any) -> CMutex | None:
        a = self.addr(ptr)
        if a == 0:
            return None
        m = self._mutexes.get(a)
        if m is None:
            m = self._mutexes[a] = CMutex(self, self.ffi.cast("struct mutex *", a))
        return m

    def spinlock(self, ptr: Any) -> CSpinlock | None:
        a = self.addr(ptr)
        if a == 0:
            return None
        lock = self._spinlocks.get(a)
        if lock is None:
            lock = self._spinlocks[a] = CSpinlock(self, self.ffi.cast("spinlock_t *", a))
        return lock

    def entry(self, ptr: Any) -> CWaitEntry | None:
        a = self.addr(ptr)
        if a == 0:
            return None
        key = a + self._entry_offset
        e = self._nodes.get(key)
        if e is None or not isinstance(e, CWaitEntry):
            e = self._nodes[key] = CWaitEntry(self, self.ffi.cast("struct wait_queue_entry *", a))
        return e

    # -- tasks --------------------------------------------------------------

    def task_ptr(self, task: Any) -> Any:
        if task is None:
            return self.ffi.NULL
        if type(task) is ErrPtr:
            return self.ffi.cast("struct task_struct *", task.errno)
        if not isinstance(task, Task):
            raise TypeError(f"not a task: {task!r}")
        ts = self._task_structs.get(task.pid)
        if ts is None or self._tasks_by_addr.get(self.addr(ts)) is not task:
            ts = self.ffi.new("struct task_struct *")
            self._task_structs[task.pid] = ts
            self._tasks_by_addr[self.addr(ts)] = task
        ts.pid = task.pid
        ts.tgid = task.tgid
        ts.comm = task.comm.encode()[:15]
        return ts

    def task_from_ptr(self, ptr: Any) -> Any:
        a = self.addr(ptr)
        if a == 0:
            return None
        if a >= ULONG - MAX_ERRNO:
            return ErrPtr(a - ULONG)
        task = self._tasks_by_addr.get(a)
        if task is None:
            raise PageFault(a, "a struct task_struct pointer that is not a task")
        return task

    # -- functions ----------------------------------------------------------

    def wake_function(self, ptr: Any) -> Any:
        a = self.addr(ptr)
        if a == 0:
            return None
        fn = self._wake_functions.get(a)
        if fn is None:
            fn = self._wake_functions[a] = CWakeFunction(
                self, self.ffi.cast("int (*)(struct wait_queue_entry *, unsigned, int, void *)", a))
        return fn

    def wake_function_ptr(self, fn: Any) -> Any:
        if fn is None:
            return self.ffi.NULL
        if isinstance(fn, CWakeFunction):
            return self.ffi.cast("void *", fn.fnptr)
        ptr = self._wake_ptrs.get(fn)
        if ptr is None:
            raise TypeError(f"a C wait entry cannot call the Python function {fn!r}")
        return ptr

    def key_ptr(self, key: Any) -> Any:
        if key is None:
            return self.ffi.NULL
        if isinstance(key, int):
            return self.ffi.cast("void *", key)
        return key

    # -- symbols ------------------------------------------------------------

    def symbol(self, addr: int) -> str | None:
        """``name+0xoff/0xsize [module]`` of a code address in a loaded module."""
        for start, end, name, module in self.symbols:
            if start <= addr < end:
                return f"{name}+{addr - start:#x}/{end - start:#x} [{module}]"
        return None

    def backtrace_symbol(self, ret: int) -> str | None:
        """A return address as a stack trace prints it (``%pB``): the function
        holding ``ret - 1`` (the call may be its last instruction), and the
        offset of *ret* itself."""
        for start, end, name, module in self.symbols:
            if start <= ret - 1 < end:
                return f"{name}+{ret - start:#x}/{end - start:#x} [{module}]"
        return None

    def data_symbol(self, addr: int) -> str | None:
        """``name`` or ``name+0xoff`` of a data address in a loaded module."""
        for start, end, name, _module in self.data_symbols:
            if start <= addr < end:
                return name if addr == start else f"{name}+{addr - start:#x}"
        return None

    def symbol_name(self, addr: int) -> str | None:
        for start, end, name, _module in self.symbols:
            if start <= addr < end:
                return name
        return None

    # -- leaving module code ---------------------------------------------------

    def outcome(self, how: int, fault: Any, value: int) -> int:
        """What a guard's return means: the value, or the fault raised again."""
        if how == 0:
            return value
        if how == 1:
            raise self._signal_fault(fault)
        exc = getattr(self.pending, "exc", None)
        self.pending.exc = None
        if exc is None:
            raise KernelBug("kernsim: module code was unwound with no reason recorded")
        raise exc

    def _signal_fault(self, fault: Any) -> BaseException:
        sig = int(fault.sig)
        where = self.symbol(int(fault.ip)) or f"{int(fault.ip):#x}"
        if sig == self.stop_signal:
            # the watchdog stopped module code that never called the kernel
            return StuckInModuleCode()
        if sig in (11, 7):
            err = int(fault.err)  # x86 #PF error code: bit 1 a write, bit 4 a fetch
            exc: BaseException = PageFault(int(fault.addr), f"{_SIGNALS[sig]} in module code at {where}",
                                           write=bool(err & 2), fetch=bool(err & 0x10))
        elif sig == 8:
            exc = Trap("divide error", f"in module code at {where}")
        else:
            exc = Trap("invalid opcode", f"in module code at {where}")  # a ud2 not from BUG()
        return exc

    def on_callback_error(self, exc_type: type, exc: BaseException, tb: Any) -> None:
        """An exception in the kernel, called from C: keep it, unwind the C frames."""
        if exc.__traceback__ is None:
            exc = exc.with_traceback(tb)
        self.pending.exc = exc
        self.lib.kernsim_request_unwind()


# -- adapters: C arguments to the core's objects, and back ---------------------------

def _arg_converter(bridge: Bridge, ctype: str) -> Callable[[Any], Any] | None:
    t = ctype.replace("const ", "").strip()
    if t == "struct task_struct *":
        return bridge.task_from_ptr
    if t == "struct wait_queue_head *":
        return bridge.head
    if t == "struct wait_queue_entry *":
        return bridge.entry
    if t == "struct completion *":
        return bridge.completion
    if t == "struct mutex *":
        return bridge.mutex
    if t == "spinlock_t *":
        return bridge.spinlock
    if t == "char *":
        ffi = bridge.ffi
        return lambda p: None if p == ffi.NULL else ffi.string(p).decode("utf-8", "replace")
    if t.startswith("int (*)(void *"):
        return lambda p: CFunction(bridge, p, "threadfn", bridge_module_of(bridge, p))
    return None  # ints, bools and void * pass as they are


def bridge_module_of(bridge: Bridge, fnptr: Any) -> Any:
    k = cur.k
    name = None
    a = bridge.addr(fnptr)
    for start, end, _sym, module in bridge.symbols:
        if start <= a < end:
            name = module
            break
    return k.modules.get(name) if name is not None else None


def _ret_converter(bridge: Bridge, ctype: str) -> Callable[[Any], Any] | None:
    t = ctype.strip()
    if t == "struct task_struct *":
        return bridge.task_ptr
    if t == "void":
        return lambda r: None
    if t.endswith("*"):  # an address (the allocators return ints for C)
        ffi = bridge.ffi
        return lambda r: ffi.NULL if r is None else ffi.cast(t, r)
    return lambda r: 0 if r is None else int(r)


def _adapter(bridge: Bridge, impl: Callable[..., Any], convs: list[Any], ret: Any) -> Callable[..., Any]:
    lib = bridge.lib

    def call_from_c(*args: Any) -> Any:
        caller = lib.kernsim_last_caller()  # (read by the trace expander)
        cur.k.current.c_stack = caller  # where the module's live frames end (CWaitEntry.is_stale)
        return ret(impl(*[c(a) if c is not None else a for c, a in zip(convs, args)]))

    return call_from_c


def _unpack(bridge: Bridge, args: Any, n: int) -> tuple[Any, ...]:
    ffi = bridge.ffi
    out: list[Any] = []
    for i in range(n):
        a = args[i]
        if a.kind == rt.KERNSIM_ARG_STR:
            out.append(None if a.p == ffi.NULL else ffi.string(ffi.cast("char *", a.p)).decode("utf-8", "replace"))
        elif a.kind == rt.KERNSIM_ARG_PTR:
            addr = bridge.addr(a.p)
            out.append(bridge.symbol_name(addr) and _Symbolic(bridge, addr) or (None if addr == 0 else addr))
        elif a.kind == rt.KERNSIM_ARG_UINT:
            out.append(int(a.i) & (ULONG - 1))
        else:
            out.append(int(a.i))
    return tuple(out)


class _Symbolic(int):
    """A code pointer passed to %pS: an int that also knows its symbol."""

    def __new__(cls, bridge: Bridge, addr: int) -> _Symbolic:
        self = super().__new__(cls, addr)
        self.__name__ = bridge.symbol_name(addr) or hex(addr)  # type: ignore[attr-defined]
        return self


def _extra_ops(bridge: Bridge) -> dict[str, Callable[..., Any]]:
    from .._core._kthread import kthread_create
    from .._core._printk import printk
    from .._core._sched import set_current_state
    from .._core._waitqueue import init_waitqueue_head
    from .._core._warn import panic

    ffi = bridge.ffi
    lib = bridge.lib

    def vprintk(fmt: Any, args: Any, n: int) -> int:
        caller = lib.kernsim_last_caller()  # noqa: F841
        text = ffi.string(fmt).decode("utf-8", "replace")
        return int(printk("%s", format_printf(text, _unpack(bridge, args, n))))

    def kthread_create_on_node(threadfn: Any, data: Any, node: int, fmt: Any, args: Any, n: int) -> Any:
        caller = lib.kernsim_last_caller()  # noqa: F841
        fn = CFunction(bridge, threadfn, "threadfn", bridge_module_of(bridge, threadfn))
        name = ffi.string(fmt).decode("utf-8", "replace")
        return bridge.task_ptr(kthread_create(fn, data, name, *_unpack(bridge, args, n)))

    def panic_(fmt: Any, args: Any, n: int) -> None:
        caller = lib.kernsim_last_caller()  # noqa: F841
        text = ffi.string(fmt).decode("utf-8", "replace")
        panic("%s", format_printf(text, _unpack(bridge, args, n)))

    def task_state(p: Any) -> int:
        return int(bridge.task_from_ptr(p).state)

    def set_state(state: int) -> None:
        caller = lib.kernsim_last_caller()  # noqa: F841
        set_current_state(state)

    def init_head(ptr: Any, name: Any, key: Any) -> None:
        head = bridge.head(ptr)
        init_waitqueue_head(head)
        if head is not None and name != ffi.NULL:
            head.name = ffi.string(name).decode("utf-8", "replace")

    for fn in (vprintk, kthread_create_on_node, set_state, panic_):
        FRAME_EXPANDERS[fn.__code__] = _expand_call_from_c
    return {
        "memory_fault": memory.memory_fault_op(bridge),
        "vprintk": vprintk,
        "kthread_create_on_node": kthread_create_on_node,
        "panic": panic_,
        "hz": lambda: cur.k.hz,
        "jiffies": lambda: cur.k.jiffies & (ULONG - 1),
        "task_state": task_state,
        "set_current_state": set_state,
        "init_waitqueue_head": init_head,
        "param_set": bridge.params.c_set,
        "param_get": bridge.params.c_get,
    }


def _expand_call_from_c(frame: Any) -> list[str]:
    """The module C frames that made a call into the kernel, innermost first:
    each return address of the frame-pointer chain the forwarder recorded,
    for as long as they are in module code (a function that tail-called
    another has no frame of its own, as in a real trace)."""
    caller = frame.f_locals.get("caller")
    b = _bridge
    if caller is None or b is None:
        return []
    out = []
    for i in range(min(int(caller.n), len(caller.pc))):
        sym = b.backtrace_symbol(b.addr(caller.pc[i]))
        if sym is None:
            break
        out.append(sym)
    return out


def _expand_guard(frame: Any) -> list[str]:
    """Where the module C function a guard entered faulted, if it did, and the
    function itself (a call into the kernel names its frames instead)."""
    self = frame.f_locals.get("self")
    b = _bridge
    if b is None or self is None:
        return []
    ip = frame.f_locals.get("fault_ip") or 0
    if not ip:
        return []
    out = []
    sym = b.symbol(int(ip))
    if sym:
        out.append(sym)
    sym = b.symbol(b.addr(self.fnptr))
    if sym:
        out.append(sym)
    return out


FRAME_EXPANDERS[CFunction.__call__.__code__] = _expand_guard
FRAME_EXPANDERS[CWakeFunction.__call__.__code__] = _expand_guard

_bridge: Bridge | None = None
#: Kept alive for as long as the runtime may call them.
_callbacks: list[Any] = []


def bridge() -> Bridge:
    """The process's bridge (the runtime is one per process), ops filled in."""
    global _bridge
    if _bridge is not None:
        return _bridge
    b = Bridge()
    ffi, lib = b.ffi, b.lib
    BOOT_HOOKS.append(lambda kernel: b.new_kernel())
    impls: dict[str, Callable[..., Any]] = {}
    for sym, proto in rt.c_functions():
        convs = [_arg_converter(b, p.ctype) for p in proto.params]
        adapter = _adapter(b, EXPORTS[sym.name].obj, convs, _ret_converter(b, proto.ret))
        impls[proto.name] = adapter
    impls.update(_extra_ops(b))
    adapter_code = _adapter(b, lambda: None, [], lambda r: r).__code__
    FRAME_EXPANDERS[adapter_code] = _expand_call_from_c
    C_ENTRIES.add(adapter_code)
    memory.install(b)
    for name, ctype in rt.ops_fields():
        cb = ffi.callback(ctype, impls[name], onerror=b.on_callback_error)
        _callbacks.append(cb)
        setattr(lib.kernsim_ops, name, cb)
    _bridge = b
    return b
