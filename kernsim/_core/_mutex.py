"""Mutexes (``include/linux/mutex.h``, ``kernel/locking/mutex.c``).

What the kernel does
--------------------
A mutex is a sleeping lock with an owner.  ``mutex_lock()`` takes a free
mutex at once; otherwise the task queues itself (FIFO) and sleeps in
``TASK_UNINTERRUPTIBLE`` (``D``: the hung-task detector watches it), or
``TASK_INTERRUPTIBLE`` for ``mutex_lock_interruptible()``, which returns
``-EINTR`` when a signal -- or, for a kthread, ``kthread_stop()`` -- is
pending.  Each time it wakes it first tries the lock, then checks for
signals, then sleeps again.  ``mutex_unlock()`` clears the owner and wakes
the first waiter; a task that arrives meanwhile may take the lock before the
woken waiter runs (the kernel then hands the lock off to a waiter that lost
too often; kernsim does not), and the waiter goes back to sleep at the head
of the queue, so no wake-up is lost.

What kernsim does
-----------------
Exactly that, with the queue as ``lock.waiters`` (tasks, oldest first), the
holder as ``lock.owner``, and ``Task.blocked_on`` naming the mutex a task
sleeps on.  Lock and unlock are exported kernel functions, so both are
scheduling points.  lockdep's reports (``_lockdep``) cover taking a mutex
the task already holds (the task then sleeps for ever, as it would) and
unlocking one it does not hold (the mutex is released all the same, as
``__mutex_unlock_slowpath`` does).  A sleeping task shows the kernel's
frames: ``__schedule``, ``schedule``, ``schedule_preempt_disabled``,
``__mutex_lock.constprop.0``, ``__mutex_lock_slowpath``, ``mutex_lock``.
"""

from __future__ import annotations

import sys
from typing import Any

from ._current import cur
from ._errno import EINTR
from ._export import export, export_values, ksym
from ._lockdep import LD_WAIT_SLEEP, MODE_PLAIN, acquire_ip, check_acquire, lock_release, note_acquired
from ._sched import schedule, signal_pending_state
from ._states import TASK_INTERRUPTIBLE, TASK_KILLABLE, TASK_NORMAL, TASK_RUNNING, TASK_UNINTERRUPTIBLE
from ._task import Task

_schedule = schedule.__wrapped__  # type: ignore[attr-defined]


class mutex:
    """``struct mutex``: its owner and its waiters (oldest first)."""

    __slots__ = ("owner", "waiters", "name", "__weakref__")

    #: lockdep's wait type of a mutex (``{3:3}``).
    lockdep_wait_type = LD_WAIT_SLEEP

    def __init__(self, name: str = "") -> None:
        self.owner: Task | None = None
        self.waiters: list[Task] = []
        self.name = name

    def __repr__(self) -> str:
        name = f" {self.name}" if self.name else ""
        owner = self.owner.pid if self.owner is not None else None
        return f"<mutex{name} owner={owner} waiters={[t.pid for t in self.waiters]}>"


export_values(__name__, "linux/mutex.h", {"mutex": mutex}, kind="type")


# -- the slow path --------------------------------------------------------------------

def schedule_preempt_disabled() -> None:
    """``schedule()`` between the preemption toggles of the mutex code."""
    _schedule()


ksym(schedule_preempt_disabled)


def __mutex_lock(lock: Any, state: int) -> int:
    """``__mutex_lock_common()``: queue, then try / check signals / sleep until
    the lock is ours.  0, or -EINTR if a signal ended an interruptible wait."""
    k = cur.k
    task = k.current
    waiters = lock.waiters
    waiters.append(task)
    task.blocked_on = lock
    ret = 0
    try:
        while True:
            if lock.owner is None:  # __mutex_trylock() before the error checks
                lock.owner = task
                break
            if signal_pending_state(state, task):
                ret = -EINTR
                break
            task.state = state
            schedule_preempt_disabled()
    finally:
        task.state = TASK_RUNNING
        task.blocked_on = None
        if task in waiters:
            waiters.remove(task)
    return ret


ksym(__mutex_lock, "__mutex_lock.constprop.0")


def __mutex_lock_slowpath(lock: Any) -> None:
    __mutex_lock(lock, TASK_UNINTERRUPTIBLE)


def __mutex_lock_interruptible_slowpath(lock: Any) -> int:
    return __mutex_lock(lock, TASK_INTERRUPTIBLE)


def __mutex_lock_killable_slowpath(lock: Any) -> int:
    return __mutex_lock(lock, TASK_KILLABLE)


for _fn in (__mutex_lock_slowpath, __mutex_lock_interruptible_slowpath, __mutex_lock_killable_slowpath):
    ksym(_fn)


def _lock(lock: Any, slowpath: Any, frame: Any) -> int:
    k = cur.k
    task = k.current
    ip = acquire_ip(k, 2)
    check_acquire(k, task, lock, ip, MODE_PLAIN, frame=frame)
    if lock.owner is None:  # the fast path: a free mutex is taken at once
        lock.owner = task
        ret = 0
    else:
        ret = slowpath(lock) or 0
    if not ret:
        note_acquired(task, lock, ip, MODE_PLAIN)
    return ret


# -- the API ---------------------------------------------------------------------------

@export("linux/mutex.h", kind="macro", points=False)
def DEFINE_MUTEX(name: str = "") -> mutex:
    """A new, unlocked mutex: ``lock = DEFINE_MUTEX("lock")`` (the name is lockdep's)."""
    return mutex(name)


@export("linux/mutex.h", points=False,
        c="void __mutex_init(struct mutex *lock, const char *name, struct lock_class_key *key)")
def __mutex_init(lock: mutex, name: str | None, key: Any) -> None:
    """What ``mutex_init()`` calls: unlocked, no waiters, named *name*."""
    lock.owner = None
    lock.waiters.clear()
    if name:
        lock.name = name


@export("linux/mutex.h", kind="macro", points=False)
def mutex_init(lock: mutex, name: str = "") -> None:
    """Make *lock* an unlocked mutex with no waiters."""
    __mutex_init(lock, name, None)


@export("linux/mutex.h", kind="macro", points=False)
def mutex_destroy(lock: mutex) -> None:
    """Nothing to do (it checks and poisons the mutex with CONFIG_DEBUG_MUTEXES)."""


@export("linux/mutex.h", c="void mutex_lock(struct mutex *lock)")
def mutex_lock(lock: mutex) -> None:
    """Take *lock*, sleeping uninterruptibly (``D``) while another task holds it."""
    _lock(lock, __mutex_lock_slowpath, sys._getframe(0))


@export("linux/mutex.h", c="int mutex_lock_interruptible(struct mutex *lock)")
def mutex_lock_interruptible(lock: mutex) -> int:
    """Take *lock*, sleeping in ``S``; 0, or -EINTR if a signal (or
    ``kthread_stop()``) interrupted the wait -- the lock is not held then."""
    return _lock(lock, __mutex_lock_interruptible_slowpath, sys._getframe(0))


@export("linux/mutex.h", c="int mutex_lock_killable(struct mutex *lock)")
def mutex_lock_killable(lock: mutex) -> int:
    """As mutex_lock_interruptible, but only a fatal signal ends the wait."""
    return _lock(lock, __mutex_lock_killable_slowpath, sys._getframe(0))


@export("linux/mutex.h", c="int mutex_trylock(struct mutex *lock)")
def mutex_trylock(lock: mutex) -> int:
    """Take *lock* if it is free: 1, else 0 (never sleeps)."""
    k = cur.k
    task = k.current
    if lock.owner is not None:
        return 0
    ip = acquire_ip(k)
    check_acquire(k, task, lock, ip, MODE_PLAIN, trylock=True)
    lock.owner = task
    note_acquired(task, lock, ip, MODE_PLAIN)
    return 1


@export("linux/mutex.h", c="void mutex_unlock(struct mutex *lock)")
def mutex_unlock(lock: mutex) -> None:
    """Release *lock* and wake the first waiter."""
    k = cur.k
    lock_release(k, k.current, lock, sys._getframe(0))
    lock.owner = None
    if lock.waiters:
        k.try_to_wake_up(lock.waiters[0], TASK_NORMAL)


@export("linux/mutex.h", c="bool mutex_is_locked(struct mutex *lock)")
def mutex_is_locked(lock: mutex) -> bool:
    """Does some task hold *lock*?"""
    return lock.owner is not None
