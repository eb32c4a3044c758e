"""Kernel threads (``kernel/kthread.c``).

Creation is the kernel's two-step dance: ``kthread_create`` queues a request
and wakes **kthreadd** (PID 2), then waits (``D``, killable) on a completion;
kthreadd forks the thread, which runs :func:`kthread`: it signals the creator
and goes to sleep in ``TASK_UNINTERRUPTIBLE`` *before* calling the thread
function.  So a created thread shows ``D`` in ``ps`` until ``kthread_run``'s
``wake_up_process`` -- and if ``kthread_stop`` comes first, the function
never runs and ``kthread_stop`` returns ``-EINTR``.

``kthread_stop`` (6.0+): set SHOULD_STOP, unpark, set TIF_NOTIFY_SIGNAL (so
every interruptible sleep of the thread returns at once from then on), wake
it, and wait uninterruptibly for it to exit; return its result.  It never
returns early: a thread that does not check ``kthread_should_stop()`` keeps
its stopper -- typically ``rmmod`` -- in ``D`` forever.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Final

from ._bug import KernelBug, NullPointerDereference, PageFault
from ._completion import ERESTARTSYS, __wait_for_common, complete_impl, completion
from ._current import cur
from ._errno import EINTR, ERR_PTR, ErrPtr
from ._export import export, ksym
from ._printk import format_printf
from ._sched import MAX_SCHEDULE_TIMEOUT, resolve_task, schedule, wake_up_process
from ._states import (
    TASK_INTERRUPTIBLE,
    TASK_KILLABLE,
    TASK_NORMAL,
    TASK_PARKED,
    TASK_RUNNING,
    TASK_UNINTERRUPTIBLE,
)
from ._task import TIF_NOTIFY_SIGNAL, Task

if TYPE_CHECKING:
    pass

KTHREAD_IS_PER_CPU: Final = 0
KTHREAD_SHOULD_STOP: Final = 1
KTHREAD_SHOULD_PARK: Final = 2

_schedule = schedule.__wrapped__  # type: ignore[attr-defined]


class KthreadInfo:
    """``struct kthread``: what the kthread API knows about a thread."""

    __slots__ = ("flags", "result", "threadfn", "data", "exited", "parked", "started")

    def __init__(self, threadfn: Callable[[Any], int], data: Any) -> None:
        self.flags = 0
        #: What the thread function returned (kthread_stop returns it).
        self.result = 0
        self.threadfn = threadfn
        self.data = data
        #: Completed when the thread exits (``vfork_done``).
        self.exited = completion("exited")
        #: Created when first needed (kthread_park): most threads never park,
        #: and every byte of a sleeping kthread counts (bench (d)).
        self.parked: completion | None = None
        self.started = False

    @property
    def should_stop(self) -> bool:
        return bool(self.flags & (1 << KTHREAD_SHOULD_STOP))


class _CreateRequest:
    """``struct kthread_create_info``."""

    __slots__ = ("threadfn", "data", "done", "result", "claimed")

    def __init__(self, threadfn: Callable[[Any], int], data: Any) -> None:
        self.threadfn = threadfn
        self.data = data
        #: None once the creator gave up (killed while waiting): ``create->done``.
        self.done: completion | None = completion("kthread_create")
        self.result: Any = None
        #: The new thread took ``done`` (its side of ``xchg(&create->done, NULL)``).
        self.claimed = False


def should_stop_or_park(task: Task) -> bool:
    """``kthread_should_stop_or_park()`` for *task* (False for non-kthreads)."""
    kt = task.kthread
    return kt is not None and bool(kt.flags & ((1 << KTHREAD_SHOULD_STOP) | (1 << KTHREAD_SHOULD_PARK)))


def to_kthread(task: Task) -> KthreadInfo:
    """``to_kthread()``: a user process has none (the kernel dereferences NULL)."""
    kt = task.kthread
    if kt is None:
        raise NullPointerDereference(f"to_kthread() of {task.comm}:{task.pid}, which is not a kthread")
    return kt


class Kthreads:
    """The kthread part of ``Kernel``: kthreadd and its creation queue."""

    def _init_kthreads(self) -> None:
        self.kthread_create_list: deque[_CreateRequest] = deque()
        self.kthreadd_task: Task | None = None

    def start_kthreadd(self) -> Task:
        """Boot: start kthreadd (it gets the next pid: 2 after init)."""
        k: Any = self
        task = k.spawn("kthreadd", lambda: kthreadd(k))
        self.kthreadd_task = task
        return task

    def exit_notify(self, task: Task) -> None:
        """A kthread's exit completes its ``exited`` (``mm_release``)."""
        kt = task.kthread
        if kt is not None:
            complete_impl(kt.exited)

    def create_kthread(self, create: _CreateRequest) -> None:
        k: Any = self
        task = k.spawn(k.kthreadd_task.comm, lambda: kthread(k, create), parent=k.kthreadd_task,
                       native=getattr(create.threadfn, "native", False))
        task.module = k.module_of(create.threadfn)


def kthreadd(k: Any) -> int:
    """PID 2: creates the kthreads others ask for."""
    task = k.current
    while True:
        task.state = TASK_INTERRUPTIBLE
        if not k.kthread_create_list:
            _schedule()
        task.state = TASK_RUNNING
        while k.kthread_create_list:
            k.create_kthread(k.kthread_create_list.popleft())


def kthread(k: Any, create: _CreateRequest) -> int:
    """The start of every kthread: tell the creator, sleep until woken, then run
    the thread function (unless it was stopped first: -EINTR)."""
    task = k.current
    # ``done = xchg(&create->done, NULL); if (!done) kthread_exit(-EINTR);``:
    # the creator was killed while waiting and returned ERR_PTR(-EINTR), so
    # nobody will ever wake this thread -- it must not go to sleep in D.
    done = create.done
    if done is None:
        return 0
    create.claimed = True
    info = KthreadInfo(create.threadfn, create.data)
    task.kthread = info
    task.state = TASK_UNINTERRUPTIBLE
    create.result = task
    complete_impl(done)
    # The creator keeps its own reference to the completion; drop ours, as
    # the request lives on in this frame for the thread's whole life.
    create.done = create.threadfn = create.data = done = None
    _schedule()
    ret = -EINTR
    if not info.should_stop:
        kthread_parkme_impl(task)
        info.started = True
        try:
            ret = info.threadfn(info.data)
        except KthreadExit as exc:  # kthread_exit() / kthread_complete_and_exit()
            ret = exc.result
        if not isinstance(ret, int):
            ret = 0 if ret is None else int(ret)
    info.result = ret  # kthread_exit(ret)
    return 0


class KthreadExit(BaseException):
    """``kthread_exit(result)`` unwinding the thread function: a BaseException,
    so module code's ``except Exception`` does not stop the thread's exit."""

    def __init__(self, result: int) -> None:
        super().__init__(result)
        self.result = result


ksym(kthreadd)
ksym(kthread)


def kthread_parkme_impl(task: Task) -> None:
    """``__kthread_parkme``: sleep in TASK_PARKED while SHOULD_PARK is set."""
    info = task.kthread
    while info is not None and info.flags & (1 << KTHREAD_SHOULD_PARK):
        task.state = TASK_PARKED
        if info.parked is None:
            info.parked = completion("parked")
        complete_impl(info.parked)
        _schedule()
    task.state = TASK_RUNNING


# -- the API ---------------------------------------------------------------

def _create(threadfn: Callable[[Any], int], data: Any, namefmt: str, args: tuple[Any, ...]) -> Any:
    if not callable(threadfn):
        raise TypeError(f"kthread_create(): threadfn must be a function, not {threadfn!r}")
    k = cur.k
    create = _CreateRequest(threadfn, data)
    k.kthread_create_list.append(create)
    k.try_to_wake_up(k.kthreadd_task, TASK_NORMAL)
    done = create.done
    if __wait_for_common(done, MAX_SCHEDULE_TIMEOUT, TASK_KILLABLE) == -ERESTARTSYS:
        # kernel/kthread.c: "If I was killed by a fatal signal before kthreadd
        # (or new kernel thread) calls complete(), leave the cleanup of this
        # structure to that thread" -- xchg(&create->done, NULL).
        if not create.claimed:
            create.done = None
            return ERR_PTR(-EINTR)
        # The thread already took it and completes shortly.
        __wait_for_common(done, MAX_SCHEDULE_TIMEOUT, TASK_UNINTERRUPTIBLE)
    task = create.result
    task.set_name(format_printf(namefmt, args, via=_NAME_FRAMES))
    return task


#: __kthread_create_on_node() formats the name with vsnprintf() (a bad
#: conversion is warned about from there; offsets representative).
_NAME_FRAMES: Final = ("vsnprintf+0x2d1/0x5c0", "__kthread_create_on_node+0x10a/0x1c0",
                       "kthread_create_on_node+0x5e/0x80")


@export("linux/kthread.h", kind="macro")
def kthread_create(threadfn: Callable[[Any], int], data: Any, namefmt: str, *args: Any) -> Any:
    """Create a kthread that will run ``threadfn(data)``, named ``namefmt % args``
    (printf style).  It sleeps (``D``) until ``wake_up_process()``.  Returns the
    task, or an error pointer."""
    return _create(threadfn, data, namefmt, args)


@export("linux/kthread.h", kind="macro", points=False)
def kthread_run(threadfn: Callable[[Any], int], data: Any, namefmt: str, *args: Any) -> Any:
    """``kthread_create`` then ``wake_up_process``: the thread starts running.
    A macro of two kernel calls, as in C (so two scheduling points)."""
    task = kthread_create(threadfn, data, namefmt, *args)
    if type(task) is not ErrPtr:
        wake_up_process(task)
    return task


@export("linux/kthread.h",
        c="bool kthread_should_stop(void)")
def kthread_should_stop() -> bool:
    """True once ``kthread_stop()`` was called on the running kthread."""
    kt = cur.k.current.kthread
    if kt is None:
        kt = to_kthread(cur.k.current)  # raises: not a kthread
    return bool(kt.flags & (1 << KTHREAD_SHOULD_STOP))


@export("linux/kthread.h",
        c="int kthread_stop(struct task_struct *k)")
def kthread_stop(k: Any) -> int:
    """Ask kthread *k* to stop and wait (uninterruptibly) until it exits;
    return its thread function's result, or -EINTR if it never ran."""
    kern = cur.k
    task = resolve_task(k)
    if task is None:
        raise NullPointerDereference("kthread_stop(NULL)")
    if type(task) is ErrPtr:
        raise PageFault(task.errno, "kthread_stop() of an error pointer: check IS_ERR() first")
    if task.usage <= 0:
        raise KernelBug(
            f"BUG: KASAN: slab-use-after-free in kthread_stop: the task_struct of "
            f"{task.comm}:{task.pid} was freed when the thread exited (hold a reference "
            f"with get_task_struct() before it can exit)"
        )
    info = to_kthread(task)
    task.usage += 1  # get_task_struct
    info.flags |= 1 << KTHREAD_SHOULD_STOP
    if info.flags & (1 << KTHREAD_SHOULD_PARK):  # kthread_unpark
        info.flags &= ~(1 << KTHREAD_SHOULD_PARK)
        kern.try_to_wake_up(task, TASK_PARKED)
    task.tif |= TIF_NOTIFY_SIGNAL
    kern.try_to_wake_up(task, TASK_NORMAL)
    __wait_for_common(info.exited, MAX_SCHEDULE_TIMEOUT, TASK_UNINTERRUPTIBLE)
    ret = info.result
    task.usage -= 1  # put_task_struct
    return ret


# -- parking (GPL-only) -----------------------------------------------------------

#: kernsim's own source files (frames a report skips to find the module's).
_KERNSIM_DIR: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _park_warn(condition: bool) -> bool:
    """The WARN_ON()s of kthread_park(), reported at the module's call (the
    first module frame up the stack: a Python module's line; for a C module,
    the bridge's frame stands in, and the trace names the C function)."""
    if condition:
        from ._warn import _caller_site, _warn_report

        depth = 1
        f = sys._getframe(depth)
        while f is not None and f.f_code.co_filename.startswith(("<kernsim", _KERNSIM_DIR)):
            f, depth = f.f_back, depth + 1
        if f is None:
            depth = 2
        _warn_report(_caller_site(depth), None, depth)
    return condition


@export("linux/kthread.h", gpl=True,
        c="bool kthread_should_park(void)")
def kthread_should_park() -> bool:
    """True once ``kthread_park()`` was asked for the running kthread (and not
    undone by ``kthread_unpark()``): time to call ``kthread_parkme()``."""
    return bool(to_kthread(cur.k.current).flags & (1 << KTHREAD_SHOULD_PARK))


@export("linux/kthread.h", gpl=True,
        c="int kthread_park(struct task_struct *k)")
def kthread_park(k: Any) -> int:
    """Ask kthread *k* to park and, unless it is the caller, wait (``D``) until
    it has: it parks only in ``kthread_parkme()`` (or before its function starts).
    -ENOSYS (with a WARN) if it is exiting; -EBUSY (WARN once) if already asked."""
    from ._errno import EBUSY, ENOSYS
    from ._task import PF_EXITING

    kern = cur.k
    task = resolve_task(k)
    info = to_kthread(task)
    if _park_warn(bool(task.flags & PF_EXITING)):
        return -ENOSYS
    if info.flags & (1 << KTHREAD_SHOULD_PARK):
        if ("kthread_park", "EBUSY") not in kern.warned_once:  # WARN_ON_ONCE()
            kern.warned_once.add(("kthread_park", "EBUSY"))
            _park_warn(True)
        return -EBUSY
    info.flags |= 1 << KTHREAD_SHOULD_PARK
    if task is not kern.current:
        kern.try_to_wake_up(task, TASK_NORMAL)
        if info.parked is None:
            info.parked = completion("parked")
        __wait_for_common(info.parked, MAX_SCHEDULE_TIMEOUT, TASK_UNINTERRUPTIBLE)
    return 0


@export("linux/kthread.h", gpl=True,
        c="void kthread_unpark(struct task_struct *k)")
def kthread_unpark(k: Any) -> None:
    """Clear the park request of *k* and wake it if it is parked (only this wakes
    a ``P`` task: ``wake_up_process`` does not)."""
    task = resolve_task(k)
    info = to_kthread(task)
    if not info.flags & (1 << KTHREAD_SHOULD_PARK):
        return
    info.flags &= ~(1 << KTHREAD_SHOULD_PARK)
    cur.k.try_to_wake_up(task, TASK_PARKED)


@export("linux/kthread.h", gpl=True,
        c="void kthread_parkme(void)")
def kthread_parkme() -> None:
    """Park the running kthread (``P`` in ps) while a park is requested; returns
    when it is unparked -- the thread function goes on, it is not restarted."""
    kthread_parkme_impl(cur.k.current)


@export("linux/kthread.h",
        c="void kthread_exit(long result)")
def kthread_exit(result: int) -> None:
    """End the running kthread now with *result* (what ``kthread_stop()`` returns)."""
    to_kthread(cur.k.current)
    raise KthreadExit(int(result))


@export("linux/kthread.h",
        c="void kthread_complete_and_exit(struct completion *comp, long code)")
def kthread_complete_and_exit(comp: Any, code: int) -> None:
    """``complete(comp)`` (if not NULL), then ``kthread_exit(code)``: a thread
    that others wait for signals it is done and leaves in one step."""
    to_kthread(cur.k.current)
    if comp is not None:
        complete_impl(comp)
    raise KthreadExit(int(code))
