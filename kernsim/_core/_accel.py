"""The optional C accelerator of the hot path (``_fastpath.c``), swapped in.

``_fastpath`` runs the loop of the ``wait_event*`` macros, ``schedule()``'s
common case, the wake-up walk, ``msleep()``, ``kthread_should_stop()`` and the
firing of due timers in C, on the core's own objects,
calling the core's Python code for every step off the common path (the C
file's header says how).  The Python functions stay the reference: where the
accelerator could not be built, or with ``KERNSIM_PURE=1`` in the
environment, they run instead and behave the same -- the test suite runs both.

:func:`install` is the one place that puts the C versions in: the package's
``__init__`` calls it once every core module is imported, so the facade and
every caller see the same objects.
"""

from __future__ import annotations

import heapq
import os
from functools import partial
from types import ModuleType
from typing import Any

#: The installed accelerator, or None (pure Python).
FASTPATH: ModuleType | None = None


def install() -> ModuleType | None:
    """Swap the C versions in (once); returns the accelerator, or None."""
    global FASTPATH
    if FASTPATH is not None:
        return FASTPATH
    if os.environ.get("KERNSIM_PURE", "") not in ("", "0"):
        return None
    try:
        from . import _fastpath  # type: ignore[attr-defined]
    except ImportError:
        return None
    from . import _kthread, _sched, _task, _time, _timer, _wait_event, _waitqueue
    from ._current import cur
    from ._export import accelerate
    from ._states import TASK_IDLE, TASK_INTERRUPTIBLE, TASK_KILLABLE, TASK_NORMAL, TASK_UNINTERRUPTIBLE

    wq = _waitqueue
    schedule = _sched.schedule.__wrapped__  # type: ignore[attr-defined]
    py_timeout = _time.schedule_timeout.__wrapped__  # type: ignore[attr-defined]
    py_msleep = _time.msleep.__wrapped__  # type: ignore[attr-defined]
    # Task.sleep_site values: (anchor, code, ...) -- see Task.sleep_site.
    sched_site = (None, _sched.Scheduler.schedule_core.__code__, schedule.__code__)
    _fastpath.setup(cur, _sched.Scheduler, _task.Task, wq.wait_queue_entry, wq.wait_queue_head,
                    wq.list_head, wq.autoremove_wake_function,
                    wq.prepare_to_wait_event.__wrapped__,  # type: ignore[attr-defined]
                    wq.finish_wait.__wrapped__,  # type: ignore[attr-defined]
                    schedule, wq._wake, _task.GreenletContext, sched_site)
    _fastpath.setup_time(_timer.Timer, heapq.heappush, py_msleep, py_timeout,
                         sched_site + (py_timeout.__code__, py_msleep.__code__),
                         (schedule.__code__, py_timeout.__code__, py_msleep.__code__),
                         (py_timeout.__code__, py_msleep.__code__))

    # The loop of the wait_event*() macros, and the macros without a timeout
    # wholly: partial(wait_event, reference, state, exclusive, returns an int).
    we = _wait_event
    we.___wait_event = _fastpath.___wait_event
    for name, state, exclusive, returns in (
            ("wait_event", TASK_UNINTERRUPTIBLE, False, False),
            ("wait_event_interruptible", TASK_INTERRUPTIBLE, False, True),
            ("wait_event_interruptible_exclusive", TASK_INTERRUPTIBLE, True, True),
            ("wait_event_killable", TASK_KILLABLE, False, True),
            ("wait_event_idle", TASK_IDLE, False, False)):
        ref = getattr(we, name)
        setattr(we, name, accelerate(ref, partial(_fastpath.wait_event, ref, state, exclusive, returns)))

    # The wake-ups: _wake_points for every wake_up*() macro, and the macros
    # with only the queue to pass as partials over it.
    wq._wake_points = _fastpath.wake_up
    for name, mode, nr in (("wake_up", TASK_NORMAL, 1), ("wake_up_all", TASK_NORMAL, 0),
                           ("wake_up_interruptible", TASK_INTERRUPTIBLE, 1),
                           ("wake_up_interruptible_all", TASK_INTERRUPTIBLE, 0)):
        setattr(wq, name, accelerate(getattr(wq, name), partial(_fastpath.wake_up, mode, nr, None)))

    _time.msleep = accelerate(_time.msleep, _fastpath.msleep)
    should_stop = _kthread.kthread_should_stop
    _fastpath.setup_misc(heapq.heappop, _sched.Scheduler.run_due, _time.process_timeout,
                         _kthread.KthreadInfo, should_stop.__wrapped__)  # type: ignore[attr-defined]
    _kthread.kthread_should_stop = accelerate(should_stop, _fastpath.kthread_should_stop)
    c_run_due = _fastpath.run_due

    def run_due(self: Any) -> None:
        c_run_due(self)

    run_due.__doc__ = _sched.Scheduler.run_due.__doc__
    _sched.Scheduler.run_due = run_due  # type: ignore[method-assign]
    FASTPATH = _fastpath
    return FASTPATH

