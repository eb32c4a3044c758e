"""Spinlocks (``include/linux/spinlock.h``, ``kernel/locking/spinlock.c``,
``kernel/locking/qspinlock.c``).

What the kernel does
--------------------
``spin_lock()`` disables preemption, then spins until the lock is free; the
holder runs on another CPU meanwhile and releases it soon.  Waiters queue
(qspinlock's MCS queue) and get the lock in arrival order.  The ``_bh``,
``_irq`` and ``_irqsave`` forms also keep softirqs or hard interrupts off
while the lock is held.  A holder must not sleep.

What kernsim does
-----------------
kernsim has one CPU, and module code between kernel calls is atomic, so a
task can only find a spinlock taken if its holder was overtaken at a
scheduling point (the random policy may switch tasks at every kernel call).
The spinner then does what the other CPU would let the holder do: it yields
the CPU to the holder (:func:`native_queued_spin_lock_slowpath`) -- a
deterministic hand-off, no policy decision -- until the lock is handed to it.
If the holder cannot run (it sleeps, or spins itself: a deadlock), the
spinner busy-waits: simulated time passes at every turn (faster and faster,
never past the next event), timers fire, the round-robin tick lets other
tasks run, and a spinner that never gets the lock is what the soft-lockup
detector reports, as on a real kernel.  ``spin_unlock()`` hands the lock to
the first spinner, as the queue does.

Every lock and unlock is an exported kernel function, so each is a
scheduling point.  The lock records its ``owner`` and its ``spinners``;
the task records the lock in ``held_locks`` and counts it in
``preempt_count`` (see ``_lockdep``): sleeping while holding one is
``BUG: scheduling while atomic``, taking one twice is lockdep's ``possible
recursive locking detected`` (and then a spin for ever), releasing one that
is not held a ``bad unlock balance``.

Divergence: disabling interrupts does not hold off kernsim's timers (they
stand for other CPUs' work); ``flags`` is ``0x246`` if interrupts were on,
``0x46`` if not, and ``spin_unlock_irqrestore`` ignores it.
"""

from __future__ import annotations

import sys
from typing import Any, Final

from ._current import cur
from ._export import export, export_values, ksym
from ._lockdep import (
    LD_WAIT_CONFIG,
    MODE_BH,
    MODE_IRQ,
    MODE_IRQSAVE,
    MODE_PLAIN,
    PREEMPT_LOCK_OFFSET,
    SOFTIRQ_LOCK_OFFSET,
    acquire_ip,
    check_acquire,
    irqs_disabled,
    lock_release,
    note_acquired,
)
from ._task import Task

#: x86 EFLAGS as local_irq_save() finds them: IF (0x200) set, or not.
_FLAGS_IRQS_ON: Final = 0x246
_FLAGS_IRQS_OFF: Final = 0x046
#: The most simulated time one turn of a busy-waiting spinner takes.
SPIN_STEP_MAX_NS: Final = 1_000_000


class spinlock:
    """``spinlock_t``: who holds it, and who spins for it (in arrival order)."""

    __slots__ = ("owner", "spinners", "name", "__weakref__")

    #: lockdep's wait type of a spinlock_t (``{2:2}``).
    lockdep_wait_type = LD_WAIT_CONFIG

    def __init__(self, name: str = "") -> None:
        self.owner: Task | None = None
        self.spinners: list[Task] = []
        self.name = name

    def __repr__(self) -> str:
        name = f" {self.name}" if self.name else ""
        owner = self.owner.pid if self.owner is not None else None
        return f"<spinlock{name} owner={owner} spinners={[t.pid for t in self.spinners]}>"


spinlock_t = spinlock
export_values(__name__, "linux/spinlock_types.h", {"spinlock_t": spinlock}, kind="type")


# -- taking and releasing ------------------------------------------------------------

def _spinning(task: Task) -> bool:
    """Is *task* itself spinning for a spinlock (it will not release anything)?"""
    return getattr(task.blocked_on, "spinners", None) is not None


def native_queued_spin_lock_slowpath(k: Any, task: Task, lock: Any) -> None:
    """Spin until *lock* is handed to *task* (see the module docstring)."""
    recursive = lock.owner is task  # lockdep has said it: this spins for ever
    spinners = lock.spinners
    spinners.append(task)
    task.blocked_on = lock
    step = k.cost
    try:
        while recursive or lock.owner is not task:
            holder = lock.owner
            if holder is None:  # re-initialised under the spinners: take it
                lock.owner = task
                break
            if holder is not task and holder.on_rq and not _spinning(holder) and holder in k.rq:
                # The holder was overtaken: let it run on, as on its own CPU.
                k.now += k.cost
                if k.now >= k.due:
                    k.point_slow()
                holder = lock.owner
                if holder is not None and holder is not task and holder in k.rq:
                    k._preempt(task, k.rq.index(holder))
                step = k.cost
                continue
            # The holder cannot run (it sleeps, or spins itself): busy-wait one
            # turn, longer each time but never past the next deadline.
            now = k.now
            due = k.due
            if due < 0:
                inc = k.cost
            else:
                inc = step
                if now + inc > due:
                    inc = max(due - now, k.cost)
            k.now = now + inc
            if k.now >= k.due:
                k.point_slow()
            step = min(step * 2, SPIN_STEP_MAX_NS)
    finally:
        if task in spinners:
            spinners.remove(task)
        task.blocked_on = None


ksym(native_queued_spin_lock_slowpath)


def __spin_lock(lock: Any, mode: str, ip: Any, frame: Any) -> None:
    """The body of every ``_raw_spin_lock*()``: disable preemption, tell
    lockdep, take the lock or spin for it, record it."""
    k = cur.k
    task = k.current
    task.preempt_count += SOFTIRQ_LOCK_OFFSET if mode == MODE_BH else PREEMPT_LOCK_OFFSET
    check_acquire(k, task, lock, ip, mode, frame=frame)
    if lock.owner is None and not lock.spinners:
        lock.owner = task
    else:
        native_queued_spin_lock_slowpath(k, task, lock)
    note_acquired(task, lock, ip, mode)


def __spin_unlock(lock: Any, frame: Any) -> None:
    """The body of every ``_raw_spin_unlock*()``: tell lockdep, release (to the
    first spinner, if any), enable preemption."""
    k = cur.k
    task = k.current
    held = lock_release(k, task, lock, frame)
    lock.owner = lock.spinners.pop(0) if lock.spinners else None
    mode = held.mode if held is not None else MODE_PLAIN
    task.preempt_count = max(0, task.preempt_count - (SOFTIRQ_LOCK_OFFSET if mode == MODE_BH
                                                       else PREEMPT_LOCK_OFFSET))


def __spin_trylock(lock: Any, ip: Any, frame: Any) -> int:
    k = cur.k
    task = k.current
    if lock.owner is not None or lock.spinners:
        return 0
    task.preempt_count += PREEMPT_LOCK_OFFSET
    check_acquire(k, task, lock, ip, MODE_PLAIN, trylock=True, frame=frame)
    lock.owner = task
    note_acquired(task, lock, ip, MODE_PLAIN)
    return 1


# The functions C modules call (spin_lock() & co. are inlines over them, as in
# the kernel); the Python macros below call the same bodies.

@export("linux/spinlock.h", c="void _raw_spin_lock(spinlock_t *lock)")
def _raw_spin_lock(lock: spinlock) -> None:
    """Take *lock*, spinning while another task holds it."""
    __spin_lock(lock, MODE_PLAIN, acquire_ip(cur.k), sys._getframe(0))


@export("linux/spinlock.h", c="void _raw_spin_lock_bh(spinlock_t *lock)")
def _raw_spin_lock_bh(lock: spinlock) -> None:
    """Take *lock* with softirqs disabled."""
    __spin_lock(lock, MODE_BH, acquire_ip(cur.k), sys._getframe(0))


@export("linux/spinlock.h", c="void _raw_spin_lock_irq(spinlock_t *lock)")
def _raw_spin_lock_irq(lock: spinlock) -> None:
    """Take *lock* with interrupts disabled."""
    __spin_lock(lock, MODE_IRQ, acquire_ip(cur.k), sys._getframe(0))


@export("linux/spinlock.h", c="unsigned long _raw_spin_lock_irqsave(spinlock_t *lock)")
def _raw_spin_lock_irqsave(lock: spinlock) -> int:
    """Take *lock* with interrupts disabled; return the flags to restore."""
    flags = _FLAGS_IRQS_OFF if irqs_disabled(cur.k.current) else _FLAGS_IRQS_ON
    __spin_lock(lock, MODE_IRQSAVE, acquire_ip(cur.k), sys._getframe(0))
    return flags


@export("linux/spinlock.h", c="int _raw_spin_trylock(spinlock_t *lock)")
def _raw_spin_trylock(lock: spinlock) -> int:
    """Take *lock* if it is free: 1, else 0 (no spinning)."""
    return __spin_trylock(lock, acquire_ip(cur.k), sys._getframe(0))


@export("linux/spinlock.h", c="void _raw_spin_unlock(spinlock_t *lock)")
def _raw_spin_unlock(lock: spinlock) -> None:
    """Release *lock*."""
    __spin_unlock(lock, sys._getframe(0))


@export("linux/spinlock.h", c="void _raw_spin_unlock_bh(spinlock_t *lock)")
def _raw_spin_unlock_bh(lock: spinlock) -> None:
    """Release *lock* and enable softirqs."""
    __spin_unlock(lock, sys._getframe(0))


@export("linux/spinlock.h", c="void _raw_spin_unlock_irq(spinlock_t *lock)")
def _raw_spin_unlock_irq(lock: spinlock) -> None:
    """Release *lock* and enable interrupts."""
    __spin_unlock(lock, sys._getframe(0))


@export("linux/spinlock.h", c="void _raw_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags)")
def _raw_spin_unlock_irqrestore(lock: spinlock, flags: int) -> None:
    """Release *lock* and restore the interrupt state of *flags*."""
    __spin_unlock(lock, sys._getframe(0))


@export("linux/spinlock.h", points=False,
        c="void __raw_spin_lock_init(spinlock_t *lock, const char *name, struct lock_class_key *key, short inner)")
def __raw_spin_lock_init(lock: spinlock, name: str | None, key: Any, inner: int) -> None:
    """What ``spin_lock_init()`` calls: unlocked, named *name* for lockdep."""
    lock.owner = None
    lock.spinners.clear()
    if name:
        lock.name = name


# -- the Python macros ------------------------------------------------------------------

@export("linux/spinlock_types.h", kind="macro", points=False)
def DEFINE_SPINLOCK(name: str = "") -> spinlock:
    """A new, unlocked spinlock: ``lock = DEFINE_SPINLOCK("lock")`` (the name is lockdep's)."""
    return spinlock(name)


@export("linux/spinlock.h", kind="macro", points=False)
def spin_lock_init(lock: spinlock, name: str = "") -> None:
    """Make *lock* an unlocked spinlock."""
    __raw_spin_lock_init(lock, name, None, LD_WAIT_CONFIG)


@export("linux/spinlock.h", kind="macro")
def spin_lock(lock: spinlock) -> None:
    """Take *lock*; while it is held, sleeping is a bug."""
    __spin_lock(lock, MODE_PLAIN, acquire_ip(cur.k), sys._getframe(0))


@export("linux/spinlock.h", kind="macro")
def spin_lock_bh(lock: spinlock) -> None:
    """Take *lock* with softirqs disabled."""
    __spin_lock(lock, MODE_BH, acquire_ip(cur.k), sys._getframe(0))


@export("linux/spinlock.h", kind="macro")
def spin_lock_irq(lock: spinlock) -> None:
    """Take *lock* with interrupts disabled."""
    __spin_lock(lock, MODE_IRQ, acquire_ip(cur.k), sys._getframe(0))


@export("linux/spinlock.h", kind="macro")
def spin_lock_irqsave(lock: spinlock) -> int:
    """Take *lock* with interrupts disabled: ``flags = spin_lock_irqsave(lock)``."""
    flags = _FLAGS_IRQS_OFF if irqs_disabled(cur.k.current) else _FLAGS_IRQS_ON
    __spin_lock(lock, MODE_IRQSAVE, acquire_ip(cur.k), sys._getframe(0))
    return flags


@export("linux/spinlock.h", kind="macro")
def spin_trylock(lock: spinlock) -> int:
    """Take *lock* if it is free: 1, else 0."""
    return __spin_trylock(lock, acquire_ip(cur.k), sys._getframe(0))


@export("linux/spinlock.h", kind="macro")
def spin_unlock(lock: spinlock) -> None:
    """Release *lock*."""
    __spin_unlock(lock, sys._getframe(0))


@export("linux/spinlock.h", kind="macro")
def spin_unlock_bh(lock: spinlock) -> None:
    """Release *lock* and enable softirqs."""
    __spin_unlock(lock, sys._getframe(0))


@export("linux/spinlock.h", kind="macro")
def spin_unlock_irq(lock: spinlock) -> None:
    """Release *lock* and enable interrupts."""
    __spin_unlock(lock, sys._getframe(0))


@export("linux/spinlock.h", kind="macro")
def spin_unlock_irqrestore(lock: spinlock, flags: int) -> None:
    """Release *lock*; ``spin_unlock_irqrestore(lock, flags)``."""
    __spin_unlock(lock, sys._getframe(0))


@export("linux/spinlock.h", kind="macro", points=False)
def spin_is_locked(lock: spinlock) -> int:
    """1 if some task holds *lock* (racy by nature: for assertions)."""
    return int(lock.owner is not None)
