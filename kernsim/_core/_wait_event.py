"""The ``wait_event*`` macros (``include/linux/wait.h``).

In C these are macros that re-evaluate a condition *expression*; in Python
the condition is a callable (``wait_event(wq, lambda: i > 3)``).  The loop is
the kernel's ``___wait_event`` exactly::

    if condition: return                    # fast path, in the outer macro
    init_wait_entry(&e, exclusive ? WQ_FLAG_EXCLUSIVE : 0)
    for (;;) {
        __int = prepare_to_wait_event(wq, &e, state)   # queue + set state
        if (condition) break                  # checked after queueing
        if (interruptible(state) && __int) return __int  # -ERESTARTSYS, no finish_wait
        cmd                                   # schedule() / ret = schedule_timeout(ret)
    }
    finish_wait(wq, &e)

so the condition is evaluated once on entry and once per loop iteration
(after every wake-up, once the entry is queued again): ``2 + k`` times for a
waiter woken k times without the condition becoming true.  (The kernel
source of 6.1-6.7 has no second check right after ``cmd``; kernsim follows
the source.)  The calls inside the loop are real kernel calls, so they are
scheduling points as in C.
"""

from __future__ import annotations

from typing import Any, Callable

from ._current import cur
from ._export import export
from ._states import (
    TASK_IDLE,
    TASK_INTERRUPTIBLE,
    TASK_KILLABLE,
    TASK_NORMAL,
    TASK_UNINTERRUPTIBLE,
    TASK_WAKEKILL,
)
from ._sched import schedule
from ._time import schedule_timeout
from ._waitqueue import (
    WQ_FLAG_EXCLUSIVE,
    autoremove_wake_function,
    finish_wait,
    prepare_to_wait_event,
    wait_queue_entry,
)

Condition = Callable[[], Any]


def _check_condition(condition: Any, macro: str) -> None:
    if not callable(condition):
        raise TypeError(
            f"{macro}(): the condition must be a callable, e.g. lambda: i > 3 "
            f"(in C the macro re-evaluates the expression; in Python pass a function), "
            f"not {type(condition).__name__} {condition!r}"
        )


# The loops below call the kernel functions' implementations with the
# scheduling points of their exported wrappers written out inline (see
# ``_export``): the same points, without a wrapper frame per call -- these
# loops are the hottest path of every wait.
_prepare = prepare_to_wait_event.__wrapped__  # type: ignore[attr-defined]
_finish = finish_wait.__wrapped__  # type: ignore[attr-defined]
_schedule = schedule.__wrapped__  # type: ignore[attr-defined]
_schedule_timeout = schedule_timeout.__wrapped__  # type: ignore[attr-defined]


def _wait_loop(wq_head: Any, wq_entry: Any, condition: Condition, state: int,
               cmd: Callable[[], None]) -> int:
    """The loop of every wait_event*() macro, with its entry and ``cmd`` given:
    0, or -ERESTARTSYS for an interrupted interruptible wait."""
    k = cur.k
    interruptible = state & (TASK_INTERRUPTIBLE | TASK_WAKEKILL)
    while True:
        k.now += k.cost
        if k.now >= k.due:
            k.point_slow()
        __int = _prepare(wq_head, wq_entry, state)
        if k.now >= k.due:
            k.point_slow()
        if condition():
            break
        if interruptible and __int:
            return __int
        cmd()
    k.now += k.cost
    if k.now >= k.due:
        k.point_slow()
    _finish(wq_head, wq_entry)
    if k.now >= k.due:
        k.point_slow()
    return 0


def _schedule_point() -> None:
    """``schedule()`` as a kernel call (with its scheduling points): the ``cmd``
    of the plain macros."""
    k = cur.k
    k.now += k.cost
    if k.now >= k.due:
        k.point_slow()
    _schedule()
    if k.now >= k.due:
        k.point_slow()


def _new_entry(exclusive: bool) -> wait_queue_entry:
    """The macro's own entry: ``init_wait_entry(&e, exclusive ? WQ_FLAG_EXCLUSIVE : 0)``."""
    e = wait_queue_entry(autoremove_wake_function, cur.k.current,
                         WQ_FLAG_EXCLUSIVE if exclusive else 0)
    e.next = e.prev = e
    return e


def ___wait_event(wq_head: Any, condition: Condition, state: int, exclusive: bool) -> int:
    """The loop, with ``cmd`` = ``schedule()``; returns 0 or -ERESTARTSYS."""
    return _wait_loop(wq_head, _new_entry(exclusive), condition, state, _schedule_point)


def _timeout_loop(wq_head: Any, wq_entry: Any, condition: Condition, state: int,
                  timeout: int) -> int:
    """The loop with ``cmd`` = ``ret = schedule_timeout(ret)`` and the condition
    wrapped by ``___wait_cond_timeout``: true when the time is up, and a true
    condition at that moment makes the result 1."""
    ret = timeout

    def cond() -> bool:
        nonlocal ret
        c = condition()
        if c and not ret:
            ret = 1
        return bool(c) or not ret

    def cmd() -> None:
        nonlocal ret
        k = cur.k
        k.now += k.cost
        if k.now >= k.due:
            k.point_slow()
        ret = _schedule_timeout(ret)
        if k.now >= k.due:
            k.point_slow()

    interrupted = _wait_loop(wq_head, wq_entry, cond, state, cmd)
    return interrupted or ret


def ___wait_event_timeout(wq_head: Any, condition: Condition, state: int, exclusive: bool,
                          timeout: int) -> int:
    """The timeout macros' loop (see _timeout_loop)."""
    return _timeout_loop(wq_head, _new_entry(exclusive), condition, state, timeout)


def _timeout_fast_path(condition: Condition, timeout: int) -> int | None:
    """The outer macro's ``___wait_cond_timeout`` test: a result, or None to sleep."""
    c = condition()
    if c:
        return timeout if timeout else 1
    if not timeout:
        return 0
    return None


# -- the macros ----------------------------------------------------------------

@export("linux/wait.h", kind="macro", points=False)
def wait_event(wq_head: Any, condition: Condition) -> None:
    """Sleep in TASK_UNINTERRUPTIBLE (``D``) until ``condition()`` is true; it is
    re-checked every time *wq_head* is woken."""
    if not callable(condition):
        _check_condition(condition, "wait_event")
    if condition():
        return
    ___wait_event(wq_head, condition, TASK_UNINTERRUPTIBLE, False)


@export("linux/wait.h", kind="macro", points=False)
def wait_event_timeout(wq_head: Any, condition: Condition, timeout: int) -> int:
    """As wait_event with a timeout in jiffies.  Returns 0 if the condition was
    still false when the time ran out, 1 if it became true as the time ran
    out, else the jiffies left (at least 1)."""
    if not callable(condition):
        _check_condition(condition, "wait_event_timeout")
    fast = _timeout_fast_path(condition, timeout)
    if fast is not None:
        return fast
    return ___wait_event_timeout(wq_head, condition, TASK_UNINTERRUPTIBLE, False, timeout)


@export("linux/wait.h", kind="macro", points=False)
def wait_event_interruptible(wq_head: Any, condition: Condition) -> int:
    """Sleep in TASK_INTERRUPTIBLE (``S``) until ``condition()``; returns 0, or
    -ERESTARTSYS if a signal (or ``kthread_stop``) interrupted the wait."""
    if not callable(condition):
        _check_condition(condition, "wait_event_interruptible")
    if condition():
        return 0
    return ___wait_event(wq_head, condition, TASK_INTERRUPTIBLE, False)


@export("linux/wait.h", kind="macro", points=False)
def wait_event_interruptible_timeout(wq_head: Any, condition: Condition, timeout: int) -> int:
    """As wait_event_timeout in TASK_INTERRUPTIBLE; -ERESTARTSYS if interrupted."""
    if not callable(condition):
        _check_condition(condition, "wait_event_interruptible_timeout")
    fast = _timeout_fast_path(condition, timeout)
    if fast is not None:
        return fast
    return ___wait_event_timeout(wq_head, condition, TASK_INTERRUPTIBLE, False, timeout)


@export("linux/wait.h", kind="macro", points=False)
def wait_event_interruptible_exclusive(wq_head: Any, condition: Condition) -> int:
    """wait_event_interruptible as an exclusive waiter (woken one at a time)."""
    if not callable(condition):
        _check_condition(condition, "wait_event_interruptible_exclusive")
    if condition():
        return 0
    return ___wait_event(wq_head, condition, TASK_INTERRUPTIBLE, True)


@export("linux/wait.h", kind="macro", points=False)
def wait_event_killable(wq_head: Any, condition: Condition) -> int:
    """Sleep in TASK_KILLABLE (``D``, but a fatal signal ends it); 0 or -ERESTARTSYS."""
    if not callable(condition):
        _check_condition(condition, "wait_event_killable")
    if condition():
        return 0
    return ___wait_event(wq_head, condition, TASK_KILLABLE, False)


@export("linux/wait.h", kind="macro", points=False)
def wait_event_killable_timeout(wq_head: Any, condition: Condition, timeout: int) -> int:
    """As wait_event_timeout in TASK_KILLABLE; -ERESTARTSYS on a fatal signal."""
    if not callable(condition):
        _check_condition(condition, "wait_event_killable_timeout")
    fast = _timeout_fast_path(condition, timeout)
    if fast is not None:
        return fast
    return ___wait_event_timeout(wq_head, condition, TASK_KILLABLE, False, timeout)


@export("linux/wait.h", kind="macro", points=False)
def wait_event_idle(wq_head: Any, condition: Condition) -> None:
    """As wait_event in TASK_IDLE (``I``: not counted in the load, never a hung task)."""
    if not callable(condition):
        _check_condition(condition, "wait_event_idle")
    if condition():
        return
    ___wait_event(wq_head, condition, TASK_IDLE, False)


@export("linux/wait.h", kind="macro", points=False)
def wait_event_idle_timeout(wq_head: Any, condition: Condition, timeout: int) -> int:
    """As wait_event_timeout in TASK_IDLE."""
    if not callable(condition):
        _check_condition(condition, "wait_event_idle_timeout")
    fast = _timeout_fast_path(condition, timeout)
    if fast is not None:
        return fast
    return ___wait_event_timeout(wq_head, condition, TASK_IDLE, False, timeout)



# -- wait_event_cmd and wait_var_event -----------------------------------------------

@export("linux/wait.h", kind="macro", points=False)
def wait_event_cmd(wq_head: Any, condition: Condition, cmd1: Callable[[], Any],
                   cmd2: Callable[[], Any]) -> None:
    """As wait_event, running ``cmd1()`` before each sleep and ``cmd2()`` after it
    (e.g. drop and retake a lock)."""
    if not callable(condition):
        _check_condition(condition, "wait_event_cmd")
    if condition():
        return
    def cmd() -> None:
        cmd1()
        _schedule_point()
        cmd2()

    _wait_loop(wq_head, _new_entry(False), condition, TASK_UNINTERRUPTIBLE, cmd)


class wait_bit_queue_entry(wait_queue_entry):
    """``struct wait_bit_queue_entry``: a wait entry keyed by the variable
    (``key.flags = var, key.bit_nr = -1`` for wait_var_event)."""

    __slots__ = ("key",)


_VAR_WAITQUEUE_BITS = 8  # the kernel's bit_wait_table: 256 heads


def __var_waitqueue(var: Any) -> Any:
    """The shared head a variable's waiters queue on: one of 256, chosen by a
    hash of its address (here: its identity), shared by unrelated variables."""
    k = cur.k
    table = getattr(k, "var_waitqueues", None)
    if table is None:
        from ._waitqueue import wait_queue_head

        table = k.var_waitqueues = [wait_queue_head(f"bit_wait_table[{i}]")
                                    for i in range(1 << _VAR_WAITQUEUE_BITS)]
    h = (id(var) * 0x61C8864680B583EB) & ((1 << 64) - 1)  # hash_64(), GOLDEN_RATIO_64
    return table[h >> (64 - _VAR_WAITQUEUE_BITS)]


@export("linux/wait_bit.h", points=False)
def var_wake_function(wq_entry: Any, mode: int, sync: int, key: Any) -> int:
    """Wake the entry only if the wake-up is for its variable (other waiters of
    the shared head are skipped: 0)."""
    if getattr(wq_entry, "key", None) is not key:
        return 0
    return autoremove_wake_function(wq_entry, mode, sync, key)


def _var_entry(var: Any, flags: int) -> wait_bit_queue_entry:
    """``init_wait_var_entry()``."""
    e = wait_bit_queue_entry(var_wake_function, cur.k.current, flags)
    e.key = var
    e.next = e.prev = e
    return e


def _var_wait(var: Any, condition: Condition, state: int, macro: str) -> int:
    if not callable(condition):
        _check_condition(condition, macro)
    if condition():
        return 0
    return _wait_loop(__var_waitqueue(var), _var_entry(var, 0), condition, state, _schedule_point)


@export("linux/wait_bit.h", kind="macro", points=False)
def wait_var_event(var: Any, condition: Condition) -> None:
    """Sleep (``D``) until ``condition()`` is true, re-checked at each
    ``wake_up_var(var)``.  *var* is any object, known by its identity (as the
    kernel knows a variable by its address): wake with the same object."""
    _var_wait(var, condition, TASK_UNINTERRUPTIBLE, "wait_var_event")


@export("linux/wait_bit.h", kind="macro", points=False)
def wait_var_event_killable(var: Any, condition: Condition) -> int:
    """wait_var_event in TASK_KILLABLE: 0, or -ERESTARTSYS on a fatal signal."""
    return _var_wait(var, condition, TASK_KILLABLE, "wait_var_event_killable")


@export("linux/wait_bit.h", kind="macro", points=False)
def wait_var_event_interruptible(var: Any, condition: Condition) -> int:
    """wait_var_event in TASK_INTERRUPTIBLE: 0, or -ERESTARTSYS on a signal."""
    return _var_wait(var, condition, TASK_INTERRUPTIBLE, "wait_var_event_interruptible")


@export("linux/wait_bit.h", kind="macro", points=False)
def wait_var_event_timeout(var: Any, condition: Condition, timeout: int) -> int:
    """wait_var_event with a timeout in jiffies; returns as wait_event_timeout."""
    if not callable(condition):
        _check_condition(condition, "wait_var_event_timeout")
    fast = _timeout_fast_path(condition, timeout)
    if fast is not None:
        return fast
    return _timeout_loop(__var_waitqueue(var), _var_entry(var, 0), condition,
                         TASK_UNINTERRUPTIBLE, timeout)


@export("linux/wait_bit.h")
def wake_up_var(var: Any) -> None:
    """Wake every task in wait_var_event(var, ...) (after changing what they test)."""
    from ._waitqueue import __wake_up_common

    head = __var_waitqueue(var)
    if head.head.next is not head.head:  # waitqueue_active()
        __wake_up_common(head, TASK_NORMAL, 1, 0, var)


# -- waiting under a spinlock --------------------------------------------------------

def ___wait_event_lock_irq(wq_head: Any, condition: Condition, lock: Any, state: int) -> int:
    """``___wait_event`` with ``cmd`` = ``spin_unlock_irq(&lock); schedule();
    spin_lock_irq(&lock)``: the condition is evaluated with *lock* held, and
    *lock* is dropped only around the sleep."""
    from ._spinlock import spin_lock_irq, spin_unlock_irq

    def cmd() -> None:
        spin_unlock_irq(lock)   # the exported calls, with their points, as C makes them
        schedule()
        spin_lock_irq(lock)

    return _wait_loop(wq_head, _new_entry(False), condition, state, cmd)


@export("linux/wait.h", kind="macro", points=False)
def wait_event_lock_irq(wq_head: Any, condition: Condition, lock: Any) -> None:
    """Sleep in ``D`` until ``condition()`` is true; called with the spinlock
    *lock* held (taken with ``spin_lock_irq``), which is released around each
    sleep and held again whenever the condition is evaluated and on return."""
    if not callable(condition):
        _check_condition(condition, "wait_event_lock_irq")
    if condition():
        return
    ___wait_event_lock_irq(wq_head, condition, lock, TASK_UNINTERRUPTIBLE)


@export("linux/wait.h", kind="macro", points=False)
def wait_event_interruptible_lock_irq(wq_head: Any, condition: Condition, lock: Any) -> int:
    """As wait_event_lock_irq in ``S``: 0, or -ERESTARTSYS if a signal ended
    the wait (the lock is held on return either way)."""
    if not callable(condition):
        _check_condition(condition, "wait_event_interruptible_lock_irq")
    if condition():
        return 0
    return ___wait_event_lock_irq(wq_head, condition, lock, TASK_INTERRUPTIBLE)
