"""Completions (``kernel/sched/completion.c``, ``include/linux/completion.h``).

A counter ``done`` and a FIFO of waiters.  ``complete()`` adds one and wakes
the oldest waiter; ``complete_all()`` sets ``done`` to UINT_MAX ("forever")
and wakes everyone.  A wait consumes one ``done`` (unless it is UINT_MAX).

The kernel uses them itself: ``kthread_create`` waits on one for kthreadd,
``kthread_stop`` waits on the thread's ``exited`` completion -- which is why
``rmmod`` shows ``D`` while a thread refuses to stop.
"""

from __future__ import annotations

from typing import Final

from ._current import cur
from ._export import export, export_values, ksym
from ._sched import MAX_SCHEDULE_TIMEOUT, signal_pending_state
from ._states import TASK_INTERRUPTIBLE, TASK_KILLABLE, TASK_NORMAL, TASK_UNINTERRUPTIBLE
from ._task import Task
from ._time import _schedule_timeout

UINT_MAX: Final = 0xFFFFFFFF
from ._errno import ERESTARTSYS  # noqa: E402


class completion:
    """``struct completion``."""

    __slots__ = ("done", "waiters", "name", "__weakref__")

    def __init__(self, name: str = "") -> None:
        self.done = 0
        #: Waiting tasks, oldest first (the simple wait queue).  A list, not a
        #: deque: every kthread carries completions, and an empty deque costs 10x.
        self.waiters: list[Task] = []
        self.name = name

    def __repr__(self) -> str:
        name = f" {self.name}" if self.name else ""
        return f"<completion{name} done={self.done} waiters={[t.pid for t in self.waiters]}>"


export_values(__name__, "linux/completion.h", {"completion": completion}, kind="type")


def __wait_for_common(x: completion, timeout: int, state: int) -> int:
    """``do_wait_for_common``: sleep in *state* until ``done`` > 0, a signal is
    pending for *state*, or the time is up.  Returns the jiffies left (at least
    1 on success), 0 on timeout, or -ERESTARTSYS."""
    k = cur.k
    task = k.current
    if not x.done:
        waiters = x.waiters
        while True:
            if signal_pending_state(state, task):
                timeout = -ERESTARTSYS
                break
            if task not in waiters:
                waiters.append(task)
            task.state = state
            task.blocked_on = x
            timeout = _schedule_timeout(timeout)
            if x.done or not timeout:
                break
        if task in waiters:
            waiters.remove(task)
        task.blocked_on = None
        if not x.done:
            return timeout
    if x.done != UINT_MAX:
        x.done -= 1
    return timeout or 1


ksym(__wait_for_common, "__wait_for_common")


def complete_impl(x: completion) -> None:
    if x.done != UINT_MAX:
        x.done += 1
    if x.waiters:
        cur.k.try_to_wake_up(x.waiters.pop(0), TASK_NORMAL)


@export("linux/completion.h", kind="macro", points=False)
def DECLARE_COMPLETION(name: str = "") -> completion:
    """A new completion, not done: ``done = DECLARE_COMPLETION()``."""
    return completion(name)


@export("linux/completion.h", kind="macro", points=False)
def DECLARE_COMPLETION_ONSTACK(name: str = "") -> completion:
    """As DECLARE_COMPLETION."""
    return completion(name)


@export("linux/completion.h", points=False,
        c="void init_completion(struct completion *x)")
def init_completion(x: completion) -> None:
    """done := 0, no waiters."""
    x.done = 0
    x.waiters.clear()


@export("linux/completion.h", points=False,
        c="void reinit_completion(struct completion *x)")
def reinit_completion(x: completion) -> None:
    """done := 0 (waiters are left alone)."""
    x.done = 0


@export("linux/completion.h",
        c="void complete(struct completion *x)")
def complete(x: completion) -> None:
    """One more ``done``; wake the oldest waiter."""
    complete_impl(x)


@export("linux/completion.h",
        c="void complete_all(struct completion *x)")
def complete_all(x: completion) -> None:
    """Done forever (until reinit_completion); wake every waiter."""
    x.done = UINT_MAX
    k = cur.k
    while x.waiters:
        k.try_to_wake_up(x.waiters.pop(0), TASK_NORMAL)


@export("linux/completion.h",
        c="void wait_for_completion(struct completion *x)")
def wait_for_completion(x: completion) -> None:
    """Wait uninterruptibly (``D``) for the completion."""
    __wait_for_common(x, MAX_SCHEDULE_TIMEOUT, TASK_UNINTERRUPTIBLE)


@export("linux/completion.h",
        c="unsigned long wait_for_completion_timeout(struct completion *x, unsigned long timeout)")
def wait_for_completion_timeout(x: completion, timeout: int) -> int:
    """0 on timeout, else the jiffies left (at least 1)."""
    return __wait_for_common(x, timeout, TASK_UNINTERRUPTIBLE)


@export("linux/completion.h",
        c="int wait_for_completion_interruptible(struct completion *x)")
def wait_for_completion_interruptible(x: completion) -> int:
    """0, or -ERESTARTSYS if a signal interrupted the wait."""
    t = __wait_for_common(x, MAX_SCHEDULE_TIMEOUT, TASK_INTERRUPTIBLE)
    return t if t == -ERESTARTSYS else 0


@export("linux/completion.h",
        c="long wait_for_completion_interruptible_timeout(struct completion *x, unsigned long timeout)")
def wait_for_completion_interruptible_timeout(x: completion, timeout: int) -> int:
    """-ERESTARTSYS, 0 on timeout, else the jiffies left."""
    return __wait_for_common(x, timeout, TASK_INTERRUPTIBLE)


@export("linux/completion.h",
        c="int wait_for_completion_killable(struct completion *x)")
def wait_for_completion_killable(x: completion) -> int:
    """0, or -ERESTARTSYS on a fatal signal."""
    t = __wait_for_common(x, MAX_SCHEDULE_TIMEOUT, TASK_KILLABLE)
    return t if t == -ERESTARTSYS else 0


@export("linux/completion.h",
        c="long wait_for_completion_killable_timeout(struct completion *x, unsigned long timeout)")
def wait_for_completion_killable_timeout(x: completion, timeout: int) -> int:
    """-ERESTARTSYS, 0 on timeout, else the jiffies left."""
    return __wait_for_common(x, timeout, TASK_KILLABLE)


@export("linux/completion.h",
        c="bool try_wait_for_completion(struct completion *x)")
def try_wait_for_completion(x: completion) -> bool:
    """Consume a ``done`` without sleeping; False if there is none."""
    if not x.done:
        return False
    if x.done != UINT_MAX:
        x.done -= 1
    return True


@export("linux/completion.h",
        c="bool completion_done(struct completion *x)")
def completion_done(x: completion) -> bool:
    """Would a wait return at once?"""
    return bool(x.done)
