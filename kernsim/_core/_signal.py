"""Signals as kernel threads see them (``kernel/signal.c``,
``include/linux/sched/signal.h``).

A kthread starts with every signal ignored (``ignore_signals()``): ``kill -9``
on its pid, or ``send_sig()`` from a module, does nothing -- unless the thread
called ``allow_signal(sig)`` first.  Then a signal sent to it is queued, sets
``TIF_SIGPENDING`` and wakes it from an interruptible sleep (a ``SIGKILL``
also from a killable one), so ``signal_pending()`` is true and interruptible
waits return ``-ERESTARTSYS`` / ``-EINTR`` until the thread takes the signal
with ``kernel_dequeue_signal()`` or drops them all with ``flush_signals()``.
(``kthread_stop()``'s ``TIF_NOTIFY_SIGNAL`` is not a signal: neither clears it.)

User processes of the simulation (insmod, rmmod) keep the default handlers:
a signal sent to them is queued.
"""

from __future__ import annotations

from typing import Any, Final

from ._current import cur
from ._errno import EINVAL, ESRCH
from ._export import export, export_values
from ._sched import fatal_signal_pending as _fatal_signal_pending
from ._sched import resolve_task
from ._states import TASK_INTERRUPTIBLE, TASK_WAKEKILL
from ._task import TIF_SIGPENDING, Task

SIGHUP: Final = 1
SIGINT: Final = 2
SIGQUIT: Final = 3
SIGKILL: Final = 9
SIGUSR1: Final = 10
SIGUSR2: Final = 12
SIGPIPE: Final = 13
SIGALRM: Final = 14
SIGTERM: Final = 15
SIGCHLD: Final = 17
SIGCONT: Final = 18
SIGSTOP: Final = 19
_NSIG: Final = 64

export_values(__name__, "linux/signal.h", {
    "SIGHUP": SIGHUP, "SIGINT": SIGINT, "SIGQUIT": SIGQUIT, "SIGKILL": SIGKILL,
    "SIGUSR1": SIGUSR1, "SIGUSR2": SIGUSR2, "SIGPIPE": SIGPIPE, "SIGALRM": SIGALRM,
    "SIGTERM": SIGTERM, "SIGCHLD": SIGCHLD, "SIGCONT": SIGCONT, "SIGSTOP": SIGSTOP,
})


def _check_sig(sig: int) -> None:
    if not 1 <= sig <= _NSIG:
        raise ValueError(f"signal number {sig} out of range 1..{_NSIG}")


def ignores(t: Task, sig: int) -> bool:
    """``sig_task_ignored()``: a kthread ignores what it did not allow."""
    return t.kthread is not None and not t.sig_allowed & (1 << sig)


def deliver(t: Task, sig: int) -> None:
    """Queue *sig* for *t* and wake it as ``signal_wake_up()`` does."""
    t.signals |= 1 << sig
    t.tif |= TIF_SIGPENDING
    cur.k.try_to_wake_up(t, TASK_INTERRUPTIBLE | (TASK_WAKEKILL if sig == SIGKILL else 0))


@export("linux/sched/signal.h",
        c="void allow_signal(int sig)")
def allow_signal(sig: int) -> None:
    """Let the running kthread receive *sig* (kthreads ignore every signal by default)."""
    _check_sig(sig)
    cur.k.current.sig_allowed |= 1 << sig


@export("linux/sched/signal.h",
        c="void disallow_signal(int sig)")
def disallow_signal(sig: int) -> None:
    """Ignore *sig* again; a pending one is dropped."""
    _check_sig(sig)
    t = cur.k.current
    t.sig_allowed &= ~(1 << sig)
    if t.kthread is not None:
        t.signals &= ~(1 << sig)
        if not t.signals:
            t.tif &= ~TIF_SIGPENDING


@export("linux/sched/signal.h",
        c="int send_sig(int sig, struct task_struct *p, int priv)")
def send_sig(sig: int, p: Any, priv: int) -> int:
    """Send *sig* to task *p*: 0 (also when *p* ignores it), -ESRCH if it is gone,
    -EINVAL for no signal number; signal 0 only checks that it exists."""
    t = resolve_task(p)
    if not 0 <= sig <= _NSIG:
        return -EINVAL  # valid_signal()
    if t.exit_state:
        return -ESRCH
    if sig == 0:
        return 0
    if not ignores(t, sig):
        deliver(t, sig)
    return 0


@export("linux/sched/signal.h",
        c="void flush_signals(struct task_struct *t)")
def flush_signals(t: Any) -> None:
    """Drop every pending signal of *t* (not kthread_stop's TIF_NOTIFY_SIGNAL)."""
    task = resolve_task(t)
    task.signals = 0
    task.tif &= ~TIF_SIGPENDING


@export("linux/sched/signal.h",
        c="int kernel_dequeue_signal(void)")
def kernel_dequeue_signal() -> int:
    """Take the running task's lowest pending signal and return its number (0: none)."""
    t = cur.k.current
    pending = t.signals
    if not pending:
        t.tif &= ~TIF_SIGPENDING
        return 0
    sig = (pending & -pending).bit_length() - 1
    t.signals = pending & ~(1 << sig)
    if not t.signals:
        t.tif &= ~TIF_SIGPENDING
    return sig


@export("linux/sched/signal.h", points=False,
        c="int fatal_signal_pending(struct task_struct *p)")
def fatal_signal_pending(p: Any) -> int:
    """Is a SIGKILL pending for *p*?"""
    return int(_fatal_signal_pending(resolve_task(p)))
